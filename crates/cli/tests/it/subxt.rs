//! Unmodified `subxt` (dynamic API) reads, follows and transacts on a Cloister node.

use crate::{free_balance, fresh_account};
use cloister_testkit::NodeProcess;
use subxt::{dynamic, OnlineClient, PolkadotConfig};

#[derive(Debug, scale_decode::DecodeAsType)]
struct AccountInfo {
    nonce: u32,
    data: AccountData,
}

#[derive(Debug, scale_decode::DecodeAsType)]
struct AccountData {
    free: u128,
}

#[tokio::test]
async fn subxt_reads_follows_and_transfers() {
    let node = NodeProcess::dev().await.expect("node starts");
    let api = OnlineClient::<PolkadotConfig>::from_url(node.url()).await.expect("subxt connects");
    let alice = subxt_signer::sr25519::dev::alice();
    let receiver = fresh_account("subxt");
    let receiver_id: [u8; 32] = receiver.account().into();

    // Read System.Account of Alice.
    let at = api.at_current_block().await.expect("current block");
    let account = dynamic::storage::<([u8; 32],), AccountInfo>("System", "Account");
    let info =
        at.storage().fetch(account.clone(), (alice.public_key().0,)).await.expect("fetch").decode().expect("decode");
    assert_eq!(info.data.free, 1_000_000 * cloister_primitives::UNIT);
    assert_eq!(info.nonce, 0);

    // Follow finalized blocks.
    let mut finalized = api.stream_blocks().await.expect("subscribe");
    let first = finalized.next().await.expect("a block").expect("ok").number();
    let second = finalized.next().await.expect("a block").expect("ok").number();
    assert!(second > first, "{first} then {second}");

    // Sign and submit Balances.transfer_keep_alive, wait for it to be final.
    let amount = 7_000_000_000_000u128;
    let tx = dynamic::transaction(
        "Balances",
        "transfer_keep_alive",
        (subxt::utils::MultiAddress::<subxt::utils::AccountId32, ()>::Id(receiver_id.into()), amount),
    );
    let events = api
        .tx()
        .await
        .expect("tx client")
        .sign_and_submit_then_watch_default(&tx, &alice)
        .await
        .expect("submitted")
        .wait_for_finalized_success()
        .await
        .expect("finalized successfully");
    assert!(events.iter().any(|e| e.is_ok_and(|e| e.pallet_name() == "Balances" && e.event_name() == "Transfer")));
    assert_eq!(free_balance(&node, &receiver.account()).await, amount);
}
