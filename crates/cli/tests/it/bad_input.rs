//! Bad input gets a clear error, changes nothing, and the node keeps serving.

use crate::fresh_account;
use cloister_cli::{rpc_client::NodeClient, signer::Signer};
use cloister_runtime::{RuntimeCall, UncheckedExtrinsic};
use cloister_testkit::{binary, NodeProcess};
use codec::{Decode, Encode};
use jsonrpsee::{
    core::{client::ClientT, ClientError},
    rpc_params,
};
use sp_core::Bytes;
use sp_runtime::{generic::Preamble, MultiAddress, MultiSignature};

fn code(result: Result<serde_json::Value, ClientError>) -> (i32, String) {
    match result {
        Err(ClientError::Call(e)) => (e.code(), e.message().to_string()),
        other => panic!("expected an error response, got {other:?}"),
    }
}

async fn still_serving(node: &NodeProcess) {
    let rpc = node.rpc().await.expect("rpc");
    let header: serde_json::Value = rpc.request("chain_getHeader", rpc_params![]).await.expect("still serving");
    assert!(header["number"].is_string());
    let pending: Vec<String> = rpc.request("author_pendingExtrinsics", rpc_params![]).await.expect("pending");
    assert!(pending.is_empty(), "nothing was stored: {pending:?}");
}

fn transfer_call(value: u128) -> RuntimeCall {
    let to = fresh_account("bad-input");
    RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive { dest: MultiAddress::Id(to.account()), value })
}

#[tokio::test]
async fn malformed_and_badly_signed_extrinsics_are_refused() {
    let node = NodeProcess::dev().await.expect("node starts");
    let rpc = node.rpc().await.expect("rpc");

    let (c, message) = code(rpc.request("author_submitExtrinsic", rpc_params!["0x12345678"]).await);
    assert_eq!(c, 1001, "{message}");
    assert!(message.contains("invalid format"), "{message}");
    still_serving(&node).await;

    // A valid extrinsic whose signature is tampered with.
    let client = NodeClient::connect(&node.url()).await.expect("connect");
    let alice = Signer::from_suri("//Alice").expect("alice");
    let xt = client.sign_next(&alice, transfer_call(1_000_000_000_000)).await.expect("sign");
    let mut tampered = UncheckedExtrinsic::decode(&mut &xt.encode()[..]).expect("decode");
    if let Preamble::Signed(_, MultiSignature::Sr25519(ref mut sig), _) = tampered.preamble {
        sig.0[0] ^= 0xff;
    } else {
        panic!("signed extrinsic expected");
    }
    let (c, message) = code(rpc.request("author_submitExtrinsic", rpc_params![Bytes(tampered.encode())]).await);
    assert_eq!(c, 1010, "{message}");
    assert!(message.contains("BadProof"), "{message}");
    // Signed by someone else than the sender it names.
    let mallory = fresh_account("mallory");
    let forged = client.sign(&mallory, transfer_call(1), 0, (0, client.genesis()));
    let mut forged = UncheckedExtrinsic::decode(&mut &forged.encode()[..]).expect("decode");
    if let Preamble::Signed(ref mut address, _, _) = forged.preamble {
        *address = MultiAddress::Id(alice.account());
    }
    let (c, _) = code(rpc.request("author_submitExtrinsic", rpc_params![Bytes(forged.encode())]).await);
    assert_eq!(c, 1010);
    still_serving(&node).await;

    // A replayed extrinsic: accepted once, refused as stale once included.
    let inclusion = client.submit_and_wait(&xt, true).await.expect("the genuine one goes in");
    assert!(inclusion.finalized);
    let (c, message) = code(rpc.request("author_submitExtrinsic", rpc_params![Bytes(xt.encode())]).await);
    assert_eq!(c, 1010, "{message}");
    assert!(message.contains("Stale"), "{message}");
    still_serving(&node).await;
}

#[tokio::test]
async fn unknown_methods_and_wrong_parameters_are_refused() {
    let node = NodeProcess::dev().await.expect("node starts");
    let rpc = node.rpc().await.expect("rpc");
    let (c, _) = code(rpc.request("system_doesNotExist", rpc_params![]).await);
    assert_eq!(c, -32601);
    let (c, _) = code(rpc.request("chain_getBlockHash", rpc_params!["not a number"]).await);
    assert_eq!(c, -32602);
    let (c, _) = code(rpc.request("state_getStorage", rpc_params![42]).await);
    assert_eq!(c, -32602);
    let (c, _) = code(rpc.request("state_getStorage", rpc_params!["0xzz"]).await);
    assert_eq!(c, -32602);
    let (c, _) = code(rpc.request("system_accountNextIndex", rpc_params!["not-an-address"]).await);
    assert_eq!(c, -32602);
    let (c, message) = code(
        rpc.request(
            "state_getStorage",
            rpc_params!["0x00", "0x1111111111111111111111111111111111111111111111111111111111111111"],
        )
        .await,
    );
    assert!(message.contains("Unknown block"), "{c}: {message}");
    let (c, _) = code(rpc.request("state_call", rpc_params!["NoSuchApi_method", "0x"]).await);
    assert_eq!(c, 4000);
    still_serving(&node).await;
}

#[test]
fn unknown_and_corrupt_chain_specs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |spec: &std::path::Path| {
        std::process::Command::new(binary("cloister-node"))
            .args(["--chain", spec.to_str().expect("utf8"), "--base-path"])
            .arg(dir.path().join("data"))
            .args(["--rpc-port", "0", "--no-prometheus"])
            .output()
            .expect("runs")
    };
    let missing = run(&dir.path().join("missing.json"));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read chain spec"));
    let corrupt_path = dir.path().join("corrupt.json");
    std::fs::write(&corrupt_path, b"{\"name\": \"x\", \"id\": ").expect("write");
    let corrupt = run(&corrupt_path);
    assert!(!corrupt.status.success());
    assert!(
        String::from_utf8_lossy(&corrupt.stderr).contains("is not valid"),
        "{}",
        String::from_utf8_lossy(&corrupt.stderr)
    );
    assert!(!dir.path().join("data").exists(), "nothing is written for a bad chain spec");
}
