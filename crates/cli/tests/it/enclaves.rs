//! `cloister list-enclaves` against a dev node, with an enclave registered by a Dev attestation
//! signed from its own ed25519 account, as a validateer does (ARCHITECTURE.md 6.3).

use cloister_attestation::{report_data, Attestation, DevReport};
use cloister_cli::{
    rpc_client::{ClientError, NodeClient},
    signer::ss58,
};
use cloister_primitives::{AccountId, Mrenclave, ShardId};
use cloister_runtime::{extrinsic::SigningContext, RuntimeCall};
use cloister_testkit::{cloister, NodeProcess};
use pallet_cloister_enclave_registry::Call;
use sp_core::{ed25519, Pair};

const CODE: Mrenclave = Mrenclave([0xab; 32]);
const SHIELDING: [u8; 32] = [0x5e; 32];
const URL: &str = "wss://127.0.0.1:2000";

/// An ed25519 enclave key nobody else in the test run uses.
fn enclave_key(label: &str) -> ed25519::Pair {
    ed25519::Pair::from_string(&format!("//Cloister//enclave//{label}//{}", std::process::id()), None)
        .expect("valid suri")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A dev attestation of `CODE` whose report data binds `signing` and the shielding key.
fn attestation(signing: &ed25519::Pair) -> Attestation {
    let platform = ed25519::Pair::from_seed(&[0xfa; 32]);
    Attestation::Dev(DevReport::sign(&platform, CODE, report_data(&signing.public().0, &SHIELDING), now_ms()))
}

/// Signs `call` with the enclave's ed25519 key and waits until it is final.
async fn submit(client: &NodeClient, key: &ed25519::Pair, call: RuntimeCall) -> Result<(), ClientError> {
    let account: AccountId = key.public().into();
    let nonce = client.next_nonce(&account).await?;
    let best = client.best_header().await?;
    let ctx = SigningContext {
        genesis: client.genesis(),
        spec_version: cloister_runtime::VERSION.spec_version,
        transaction_version: cloister_runtime::VERSION.transaction_version,
        checkpoint: (best.number, best.hash()),
    };
    let xt = cloister_runtime::extrinsic::signed_with(call, key, nonce, 0, &ctx);
    client.submit_and_wait(&xt, true).await.map(|_| ())
}

fn fund(url: &str, key: &ed25519::Pair) {
    let account: AccountId = key.public().into();
    let (ok, _, err) = cloister(url, &["transfer", "//Alice", &ss58(&account), "10000000000000"]);
    assert!(ok, "funding the enclave account: {err}");
}

fn list_json(url: &str) -> Vec<serde_json::Value> {
    let (ok, out, err) = cloister(url, &["--json", "list-enclaves"]);
    assert!(ok, "{err}");
    serde_json::from_str::<serde_json::Value>(out.trim()).expect("json").as_array().cloned().expect("an array")
}

#[tokio::test]
async fn list_enclaves_shows_a_dev_attested_enclave_and_refuses_unbound_reports() {
    let node = NodeProcess::dev().await.expect("node starts");
    let url = node.url();

    // A fresh chain has none.
    assert!(list_json(&url).is_empty());
    let (ok, out, err) = cloister(&url, &["list-enclaves"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "no enclaves registered");

    // An enclave registers from its own ed25519 account and joins a shard.
    let client = NodeClient::connect(&url).await.expect("connect");
    let enclave = enclave_key("listed");
    fund(&url, &enclave);
    let register = RuntimeCall::EnclaveRegistry(Call::register_enclave {
        attestation: attestation(&enclave),
        shielding_key: SHIELDING,
        worker_url: URL.as_bytes().to_vec(),
    });
    submit(&client, &enclave, register).await.expect("registration lands");
    let shard = ShardId::from(CODE.0);
    submit(&client, &enclave, RuntimeCall::EnclaveRegistry(Call::join_shard { shard })).await.expect("joining lands");

    let list = list_json(&url);
    assert_eq!(list.len(), 1, "{list:?}");
    let account: AccountId = enclave.public().into();
    assert_eq!(list[0]["account"], ss58(&account));
    assert_eq!(list[0]["mrenclave"], CODE.to_string());
    assert_eq!(list[0]["worker_url"], URL);
    assert_eq!(list[0]["attestation"], "dev");
    assert_eq!(list[0]["shards"], serde_json::json!([format!("{shard:?}")]));
    assert!(list[0]["registered_at_ms"].as_u64().is_some_and(|t| t > 0));
    let (ok, out, err) = cloister(&url, &["list-enclaves"]);
    assert!(ok, "{err}");
    assert!(out.contains(&CODE.to_string()) && out.contains(URL) && out.contains(&ss58(&account)), "{out}");

    // A report that binds another key does not register its sender.
    let impostor = enclave_key("impostor");
    fund(&url, &impostor);
    let stolen = RuntimeCall::EnclaveRegistry(Call::register_enclave {
        attestation: attestation(&enclave),
        shielding_key: SHIELDING,
        worker_url: URL.as_bytes().to_vec(),
    });
    let refused = submit(&client, &impostor, stolen).await;
    assert!(
        matches!(&refused, Err(ClientError::Failed { error, .. }) if error.contains("ReportDataMismatch")),
        "{refused:?}"
    );
    assert_eq!(list_json(&url).len(), 1, "still only the first enclave");
}
