//! `cloister list-enclaves`: the enclaves registered on the parentchain (ARCHITECTURE.md 6.3),
//! with their MRENCLAVE, attestation kind, worker URL, registration time and the shards they
//! validate, read from the `EnclaveRegistry` pallet's storage.

use crate::{
    chain::{map_key, value_key, CommandError},
    output::Output,
    rpc_client::{ClientError, NodeClient},
    signer::ss58,
};
use cloister_primitives::{AccountId, ShardId};
use cloister_runtime::Runtime;
use codec::Decode;
use pallet_cloister_enclave_registry::EnclaveInfoOf;
use serde_json::json;

const PALLET: &str = "EnclaveRegistry";

/// A registered enclave as the parentchain records it.
#[derive(Debug, Clone)]
pub struct RegisteredEnclave {
    /// Its account (its ed25519 signing key).
    pub account: AccountId,
    /// Its record.
    pub info: EnclaveInfoOf<Runtime>,
    /// The shards it validates.
    pub shards: Vec<ShardId>,
}

/// The account at the end of an `Enclaves` key (`Blake2_128Concat`: 16 hash bytes, then the
/// SCALE-encoded account).
fn account_of(key: &[u8], prefix_len: usize) -> Result<AccountId, ClientError> {
    let encoded = key.get(prefix_len + 16..).unwrap_or_default();
    AccountId::decode(&mut &encoded[..])
        .map_err(|e| ClientError::Decode { what: "EnclaveRegistry.Enclaves key", reason: e.to_string() })
}

/// Reads every registered enclave and its shards, oldest registration first.
pub async fn enclaves(client: &NodeClient) -> Result<Vec<RegisteredEnclave>, ClientError> {
    let prefix = value_key(PALLET, "Enclaves");
    let mut out = Vec::new();
    for key in client.storage_keys(&prefix, None).await? {
        let account = account_of(&key, prefix.len())?;
        // Gone between listing and reading: skip it.
        let Some(info) = client.storage::<EnclaveInfoOf<Runtime>>("EnclaveRegistry.Enclaves", &key, None).await? else {
            continue;
        };
        let shards: Vec<ShardId> = client
            .storage_or_default("EnclaveRegistry.EnclaveShards", &map_key(PALLET, "EnclaveShards", &account), None)
            .await?;
        out.push(RegisteredEnclave { account, info, shards });
    }
    out.sort_by(|a, b| (a.info.registered_at_ms, &a.account).cmp(&(b.info.registered_at_ms, &b.account)));
    Ok(out)
}

fn url(enclave: &RegisteredEnclave) -> String {
    String::from_utf8_lossy(&enclave.info.worker_url).into_owned()
}

fn shard_list(enclave: &RegisteredEnclave) -> Vec<String> {
    enclave.shards.iter().map(|s| format!("{s:?}")).collect()
}

/// `cloister list-enclaves`.
pub async fn list(client: &NodeClient, out: &Output) -> Result<(), CommandError> {
    let list = enclaves(client).await?;
    let human = if list.is_empty() {
        "no enclaves registered".to_string()
    } else {
        list.iter()
            .map(|e| {
                let shards = shard_list(e);
                format!(
                    "{} mrenclave {} attestation {} url {} registered at {} ms, validates {}",
                    ss58(&e.account),
                    e.info.mrenclave,
                    e.info.kind,
                    url(e),
                    e.info.registered_at_ms,
                    if shards.is_empty() { "no shards".to_string() } else { shards.join(",") }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let json = serde_json::Value::Array(
        list.iter()
            .map(|e| {
                json!({
                    "account": ss58(&e.account),
                    "mrenclave": e.info.mrenclave.to_string(),
                    "attestation": e.info.kind.to_string(),
                    "shielding_key": format!("0x{}", hex::encode(e.info.shielding_key)),
                    "worker_url": url(e),
                    "registered_at_ms": e.info.registered_at_ms,
                    "shards": shard_list(e),
                })
            })
            .collect(),
    );
    out.print(human, json);
    Ok(())
}
