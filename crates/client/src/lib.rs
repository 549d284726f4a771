//! A client of a shard's enclave, as `cloister trusted` and the benchmarks talk to it.
//!
//! [`ShardClient::connect`] opens a TLS WebSocket to the validateer's direct-invocation port and
//! accepts it only if the certificate carries an attestation of the pinned MRENCLAVE bound to the
//! TLS key (RA-TLS; dev attestation only when the caller allows it, as the parentchain does).
//! Trusted operations are SCALE-encoded, signed by the account they are for and HPKE-encrypted to
//! the enclave's shielding key for the shard: calls over (call, nonce, MRENCLAVE, shard), getters
//! over (getter, time, MRENCLAVE, shard). Signing is the caller's: it passes a closure, so a
//! client holds no keys.

use cloister_enclave::engine::operation_info;
use cloister_primitives::{AccountId, Hash, Mrenclave, Nonce, ShardId, Signature};
use cloister_stf::{TrustedCall, TrustedCallSigned, TrustedGetter, TrustedOperation};
use codec::{Decode, Encode};
use jsonrpsee::{
    core::client::{ClientT, Subscription, SubscriptionClientT},
    rpc_params,
    ws_client::WsClient,
};
use serde_json::Value;
use std::time::Duration;

/// How long [`ShardClient::call`] follows a call before giving up.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Why talking to the enclave failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No attested connection could be made.
    #[error("{url}: {reason}")]
    Connect {
        /// The worker URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The enclave refused the operation; its reason.
    #[error("{0}")]
    Refused(String),
    /// The enclave's answer does not decode.
    #[error("the enclave sent a malformed {0}")]
    Malformed(&'static str),
    /// The call was not in a sidechain block in time.
    #[error("timed out waiting for the sidechain")]
    Timeout,
    /// The enclave closed the call's subscription.
    #[error("the enclave closed the subscription")]
    Closed,
    /// The call's subscription failed.
    #[error("{0}")]
    Subscription(String),
    /// The operation could not be encrypted.
    #[error("encryption: {0}")]
    Encrypt(String),
}

/// The message of an RPC error: the server's own for a refused call.
pub fn rpc_message(error: &jsonrpsee::core::client::Error) -> String {
    match error {
        jsonrpsee::core::client::Error::Call(object) => object.message().to_string(),
        other => other.to_string(),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// An attested connection to a shard's enclave.
pub struct ShardClient {
    rpc: WsClient,
    mrenclave: Mrenclave,
    shard: ShardId,
    shielding_key: [u8; 32],
}

impl ShardClient {
    /// Connects to `worker_url`, accepting only an enclave with `mrenclave` (with a dev
    /// attestation only if `allow_dev`), and reads its shielding key. The shard defaults to the
    /// MRENCLAVE.
    pub async fn connect(
        worker_url: &str,
        mrenclave: Mrenclave,
        shard: Option<ShardId>,
        allow_dev: bool,
    ) -> Result<Self, ClientError> {
        let verify = cloister_enclave::attest::evidence_verifier(allow_dev);
        let rpc = cloister_ratls::connect(worker_url, mrenclave.0, verify)
            .await
            .map_err(|e| ClientError::Connect { url: worker_url.to_string(), reason: e.to_string() })?;
        let key: String = rpc
            .request("author_getShieldingKey", rpc_params![])
            .await
            .map_err(|e| ClientError::Refused(format!("author_getShieldingKey: {}", rpc_message(&e))))?;
        let shielding_key = cloister_primitives::parse_hex32(&key).ok_or(ClientError::Malformed("shielding key"))?;
        Ok(Self { rpc, mrenclave, shard: shard.unwrap_or(ShardId::from(mrenclave.0)), shielding_key })
    }

    /// The pinned measurement.
    pub fn mrenclave(&self) -> Mrenclave {
        self.mrenclave
    }

    /// The shard.
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The enclave's shielding key.
    pub fn shielding_key(&self) -> &[u8; 32] {
        &self.shielding_key
    }

    /// The JSON-RPC connection, for requests this client does not wrap.
    pub fn rpc(&self) -> &WsClient {
        &self.rpc
    }

    /// The shard as the RPC names it.
    pub fn shard_hex(&self) -> String {
        format!("0x{}", hex::encode(self.shard))
    }

    /// `op` encrypted for the shard, as raw bytes (what a shielded parentchain call carries).
    pub fn encrypt_raw(&self, op: &TrustedOperation) -> Result<Vec<u8>, ClientError> {
        cloister_enclave::keys::shield(&self.shielding_key, &operation_info(&self.shard), &op.encode())
            .map_err(|e| ClientError::Encrypt(e.to_string()))
    }

    /// `op` encrypted for the shard, hex, as the RPC takes it.
    pub fn encrypt(&self, op: &TrustedOperation) -> Result<String, ClientError> {
        Ok(format!("0x{}", hex::encode(self.encrypt_raw(op)?)))
    }

    /// Runs `getter`, signed now with `sign`; returns the SCALE answer.
    pub async fn get(&self, getter: TrustedGetter, sign: impl Fn(&[u8]) -> Signature) -> Result<Vec<u8>, ClientError> {
        let signed = getter.sign(now_ms(), &self.mrenclave, &self.shard, sign);
        let answer: String = self
            .rpc
            .request(
                "state_executeGetter",
                rpc_params![self.shard_hex(), self.encrypt(&TrustedOperation::Get(signed))?],
            )
            .await
            .map_err(|e| ClientError::Refused(rpc_message(&e)))?;
        hex::decode(answer.trim_start_matches("0x")).map_err(|_| ClientError::Malformed("answer"))
    }

    /// `who`'s next nonce on the shard (the getter signed by `sign`, `who`'s key).
    pub async fn nonce(&self, who: AccountId, sign: impl Fn(&[u8]) -> Signature) -> Result<Nonce, ClientError> {
        let bytes = self.get(TrustedGetter::Nonce(who), sign).await?;
        Nonce::decode(&mut &bytes[..]).map_err(|_| ClientError::Malformed("nonce"))
    }

    /// Signs `call` with `nonce`.
    pub fn sign(&self, call: TrustedCall, nonce: Nonce, sign: impl FnOnce(&[u8]) -> Signature) -> TrustedCallSigned {
        call.sign(nonce, &self.mrenclave, &self.shard, sign)
    }

    /// Submits a signed call and subscribes to its statuses (`submitted`, `ready`,
    /// `{"inSidechainBlock": hash}`, `finalized` or `{"invalid": reason}`).
    pub async fn submit_and_watch(&self, call: TrustedCallSigned) -> Result<Subscription<Value>, ClientError> {
        let ciphertext = self.encrypt(&TrustedOperation::Call(call))?;
        self.rpc
            .subscribe::<Value, _>(
                "author_submitAndWatchExtrinsic",
                rpc_params![self.shard_hex(), ciphertext],
                "author_unwatchExtrinsic",
            )
            .await
            .map_err(|e| ClientError::Refused(rpc_message(&e)))
    }

    /// Signs `call` with the signer's next nonce (read first), submits it and follows it until it
    /// is in a sidechain block, or until its block is anchored on the parentchain with
    /// `wait_final`. Returns the sidechain block's hash. A call the runtime refused comes back
    /// as [`ClientError::Refused`] with its reason.
    pub async fn call(
        &self,
        call: TrustedCall,
        sign: impl Fn(&[u8]) -> Signature,
        wait_final: bool,
    ) -> Result<Hash, ClientError> {
        let nonce = self.nonce(call.signer().clone(), &sign).await?;
        let mut sub = self.submit_and_watch(self.sign(call, nonce, &sign)).await?;
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        let mut block = None;
        loop {
            let status = tokio::time::timeout_at(deadline, sub.next())
                .await
                .map_err(|_| ClientError::Timeout)?
                .ok_or(ClientError::Closed)?
                .map_err(|e| ClientError::Subscription(e.to_string()))?;
            if let Some(hash) = status.get("inSidechainBlock").and_then(Value::as_str) {
                let hash = cloister_primitives::parse_hex32(hash).ok_or(ClientError::Malformed("block hash"))?;
                block = Some(Hash::from(hash));
                if !wait_final {
                    break;
                }
            } else if status.as_str() == Some("finalized") {
                break;
            } else if let Some(reason) = status.get("invalid") {
                return Err(ClientError::Refused(reason.as_str().unwrap_or("no reason given").to_string()));
            }
        }
        block.ok_or(ClientError::Malformed("finalized status without a block"))
    }
}
