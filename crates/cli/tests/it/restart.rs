//! State survives SIGKILL: included transfers keep their effect, the chain resumes from its
//! stored height, and a transfer accepted into the pool just before the kill is not lost.

use crate::{free_balance, fresh_account};
use cloister_cli::{
    rpc_client::NodeClient,
    signer::{ss58, Signer},
};
use cloister_runtime::RuntimeCall;
use cloister_testkit::{cloister, wait_for, NodeProcess};
use codec::Encode;
use jsonrpsee::{core::client::ClientT, rpc_params};
use sp_core::Bytes;
use sp_runtime::MultiAddress;
use std::time::Duration;

fn transfer(to: &Signer, value: u128) -> RuntimeCall {
    RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive { dest: MultiAddress::Id(to.account()), value })
}

#[tokio::test]
async fn state_survives_sigkill_and_restart() {
    let mut node = NodeProcess::dev().await.expect("node starts");
    let receiver = fresh_account("restart");
    let (ok, _, err) = cloister(&node.url(), &["transfer", "//Alice", &ss58(&receiver.account()), "2000000000000"]);
    assert!(ok, "{err}");
    assert_eq!(free_balance(&node, &receiver.account()).await, 2_000_000_000_000);

    // Accept one more transfer into the pool and kill the node at once, before any block.
    let client = NodeClient::connect(&node.url()).await.expect("connect");
    let alice = Signer::from_suri("//Alice").expect("alice");
    let xt = client.sign_next(&alice, transfer(&receiver, 500_000_000_000)).await.expect("sign");
    let _: String =
        client.rpc().request("author_submitExtrinsic", rpc_params![Bytes(xt.encode())]).await.expect("accepted");
    let (height_before, finalized_before) = node.heights().await.expect("heights");
    node.kill();
    drop(client);

    node.restart().await.expect("restarts on the same base path");
    let (height_after, finalized_after) = node.heights().await.expect("heights");
    assert!(height_after >= height_before.saturating_sub(1), "resumed at {height_after}, was at {height_before}");
    assert!(finalized_after >= finalized_before, "finality went back from {finalized_before} to {finalized_after}");
    // The chain goes on from the stored blocks.
    node.wait_finalized(height_before + 2, Duration::from_secs(30)).await.expect("chain goes on");
    // The transfer accepted before the kill is included after the restart.
    let balance = wait_for("the pending transfer", Duration::from_secs(30), || async {
        let b = free_balance(&node, &receiver.account()).await;
        (b == 2_500_000_000_000).then_some(b)
    })
    .await;
    assert!(balance.is_ok(), "balance {}\n{}", free_balance(&node, &receiver.account()).await, node.log_text());

    // A clean stop keeps everything too.
    let status = node.terminate().expect("terminate");
    assert!(status.success(), "node exits cleanly on SIGTERM: {status}");
    node.restart().await.expect("restart");
    assert_eq!(free_balance(&node, &receiver.account()).await, 2_500_000_000_000);
}
