//! Direct invocation (ARCHITECTURE.md 6.7): the JSON-RPC server over TLS that ends inside the
//! enclave.
//!
//! The host accepts TCP connections on the trusted port and moves ciphertext only: each
//! connection is a [`ServerSession`] here, fed with the bytes the host read and drained of the
//! bytes to write. The certificate is made at start-up inside the enclave and carries its
//! attestation bound to the certificate's key, so a client that pins the MRENCLAVE knows it
//! talks to this enclave. Requests and answers (getter results included) exist in clear only
//! inside the enclave.
//!
//! Methods (Integritee's names): `author_submitAndWatchExtrinsic` (subscription
//! `author_extrinsicUpdate`, unsubscribe `author_unwatchExtrinsic`), `author_submitExtrinsic`,
//! `author_getShieldingKey`, `author_getMuRaUrl`, `author_getUntrustedUrl`,
//! `state_executeGetter`, `state_getMrenclave`, `system_health`, `system_version`,
//! `rpc_methods`. Trusted operations are `[shard, ciphertext]`, both `0x` hex; the ciphertext is
//! the HPKE encryption of a SCALE `TrustedOperation` to the shielding key for that shard.

use crate::{
    boundary::EnclaveError,
    engine::{Engine, OpStatus},
};
use cloister_primitives::{Hash, ShardId};
use cloister_ratls::{ServerIdentity, ServerSession};
use codec::Encode;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

/// The methods served.
pub const METHODS: &[&str] = &[
    "author_submitAndWatchExtrinsic",
    "author_unwatchExtrinsic",
    "author_submitExtrinsic",
    "author_getShieldingKey",
    "author_getMuRaUrl",
    "author_getUntrustedUrl",
    "state_executeGetter",
    "state_getMrenclave",
    "system_health",
    "system_version",
    "rpc_methods",
];
/// Most connections at once; more are refused.
pub const MAX_CONNECTIONS: usize = 1_024;

struct Conn {
    session: ServerSession,
    watches: HashMap<Hash, u64>,
    next_subscription: u64,
}

/// The URLs the host serves besides the trusted port.
#[derive(Clone, Debug, Default, Encode, codec::Decode)]
pub struct DirectConfig {
    /// The peers' block exchange port (`author_getUntrustedUrl`).
    pub untrusted_url: String,
    /// The MU-RA port (`author_getMuRaUrl`).
    pub mu_ra_url: String,
}

/// The direct RPC server inside the enclave.
pub struct DirectRpc {
    tls: Arc<rustls::ServerConfig>,
    config: DirectConfig,
    conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
}

fn error_object(id: &Value, code: i64, message: &str) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } }).to_string()
}

fn result_object(id: &Value, result: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "result": result }).to_string()
}

fn status_json(status: &OpStatus) -> Value {
    match status {
        OpStatus::Submitted => json!("submitted"),
        OpStatus::Ready => json!("ready"),
        OpStatus::InSidechainBlock(hash) => json!({ "inSidechainBlock": format!("{hash:?}") }),
        OpStatus::Finalized => json!("finalized"),
        OpStatus::Invalid(reason) => json!({ "invalid": reason }),
    }
}

fn is_final(status: &OpStatus) -> bool {
    matches!(status, OpStatus::Finalized | OpStatus::Invalid(_))
}

fn hex_param(params: &Value, index: usize, what: &str) -> Result<Vec<u8>, String> {
    let text = params.get(index).and_then(Value::as_str).ok_or_else(|| format!("missing parameter {index}: {what}"))?;
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|_| format!("parameter {index} ({what}) is not hex"))
}

fn shard_param(params: &Value) -> Result<ShardId, String> {
    let bytes = hex_param(params, 0, "shard")?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "the shard is 32 bytes of hex".to_string())?;
    Ok(ShardId::from(bytes))
}

/// JSON-RPC error code of an enclave refusal.
fn code_of(error: &EnclaveError) -> i64 {
    match error {
        EnclaveError::UnknownShard => 1001,
        EnclaveError::Undecryptable => 1002,
        EnclaveError::MalformedOperation => 1003,
        EnclaveError::Rejected(_) => 1004,
        _ => 1000,
    }
}

impl DirectRpc {
    /// A server presenting `identity`.
    pub fn new(identity: &ServerIdentity, config: DirectConfig) -> Result<Self, EnclaveError> {
        let tls = identity.server_config().map_err(|e| EnclaveError::Internal(e.to_string()))?;
        Ok(Self { tls, config, conns: Mutex::new(HashMap::new()), next_conn: AtomicU64::new(1) })
    }

    /// A new connection; its id names it in later calls.
    pub fn accept(&self) -> Result<u64, EnclaveError> {
        let mut conns = self.conns.lock();
        if conns.len() >= MAX_CONNECTIONS {
            return Err(EnclaveError::Rejected("too many connections".into()));
        }
        let session = ServerSession::new(self.tls.clone()).map_err(|e| EnclaveError::Internal(e.to_string()))?;
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        conns.insert(id, Conn { session, watches: HashMap::new(), next_subscription: 1 });
        Ok(id)
    }

    /// Feeds ciphertext read from connection `conn`; returns the ciphertext to write and
    /// whether the connection is closed (the host then drops it).
    pub fn data(&self, engine: &Engine, conn: u64, bytes: &[u8]) -> Result<(Vec<u8>, bool), EnclaveError> {
        let mut conns = self.conns.lock();
        let entry = conns.get_mut(&conn).ok_or_else(|| EnclaveError::Rejected("unknown connection".into()))?;
        match entry.session.feed(bytes) {
            Ok(messages) => {
                for message in messages {
                    for answer in self.handle(engine, entry, &message) {
                        if entry.session.send_text(&answer).is_err() {
                            entry.session.close();
                        }
                    }
                }
            }
            Err(error) => tracing::debug!(target: "direct", conn, %error, "session closed"),
        }
        Self::route(engine, &mut conns);
        let Some(entry) = conns.get_mut(&conn) else { return Ok((Vec::new(), true)) };
        let out = entry.session.take_outgoing();
        let closed = entry.session.is_closed();
        if closed {
            conns.remove(&conn);
        }
        Ok((out, closed))
    }

    /// Routes status changes to their watchers and returns what every connection has to send.
    pub fn flush(&self, engine: &Engine) -> Vec<(u64, Vec<u8>)> {
        let mut conns = self.conns.lock();
        Self::route(engine, &mut conns);
        conns
            .iter_mut()
            .filter_map(|(id, c)| {
                let out = c.session.take_outgoing();
                (!out.is_empty()).then_some((*id, out))
            })
            .collect()
    }

    /// Forgets a connection the host closed.
    pub fn close(&self, conn: u64) {
        self.conns.lock().remove(&conn);
    }

    fn route(engine: &Engine, conns: &mut HashMap<u64, Conn>) {
        let statuses = engine.take_statuses();
        if statuses.is_empty() {
            return;
        }
        let mut watchers: HashMap<Hash, u64> = HashMap::new();
        for (id, conn) in conns.iter() {
            for hash in conn.watches.keys() {
                watchers.insert(*hash, *id);
            }
        }
        for (hash, status) in statuses {
            let Some(conn) = watchers.get(&hash).and_then(|id| conns.get_mut(id)) else { continue };
            let Some(subscription) = conn.watches.get(&hash).copied() else { continue };
            let note = json!({
                "jsonrpc": "2.0",
                "method": "author_extrinsicUpdate",
                "params": { "subscription": subscription, "result": status_json(&status) },
            });
            if conn.session.send_text(&note.to_string()).is_err() {
                conn.session.close();
            }
            if is_final(&status) {
                conn.watches.remove(&hash);
            }
        }
    }

    fn handle(&self, engine: &Engine, conn: &mut Conn, text: &str) -> Vec<String> {
        let Ok(request) = serde_json::from_str::<Value>(text) else {
            return vec![error_object(&Value::Null, -32700, "parse error")];
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let Some(method) = request.get("method").and_then(Value::as_str) else {
            return vec![error_object(&id, -32600, "invalid request")];
        };
        let params = request.get("params").cloned().unwrap_or(Value::Array(Vec::new()));
        let answer = match method {
            "author_submitAndWatchExtrinsic" => return self.submit_and_watch(engine, conn, &id, &params),
            "author_unwatchExtrinsic" => {
                let sub = params.get(0).and_then(Value::as_u64);
                let before = conn.watches.len();
                conn.watches.retain(|_, s| Some(*s) != sub);
                Ok(json!(conn.watches.len() < before))
            }
            "author_submitExtrinsic" => Self::operation(&params).and_then(|(shard, ct)| {
                engine.submit(&shard, &ct).map(|h| json!(format!("{h:?}"))).map_err(|e| (code_of(&e), e.to_string()))
            }),
            "state_executeGetter" => Self::operation(&params).and_then(|(shard, ct)| {
                engine
                    .get(&shard, &ct)
                    .map(|bytes| json!(format!("0x{}", hex::encode(bytes))))
                    .map_err(|e| (code_of(&e), e.to_string()))
            }),
            "author_getShieldingKey" => Ok(json!(format!("0x{}", hex::encode(engine.keys().shielding_public())))),
            "author_getMuRaUrl" => Ok(json!(self.config.mu_ra_url)),
            "author_getUntrustedUrl" => Ok(json!(self.config.untrusted_url)),
            "state_getMrenclave" => Ok(json!(engine.mrenclave().to_string())),
            "system_health" => Ok(json!({ "shards": engine.shards().len(), "isSyncing": false })),
            "system_version" => Ok(json!(env!("CARGO_PKG_VERSION"))),
            "rpc_methods" => Ok(json!({ "version": 1, "methods": METHODS })),
            _ => Err((-32601, format!("method not found: {method}"))),
        };
        vec![match answer {
            Ok(result) => result_object(&id, result),
            Err((code, message)) => error_object(&id, code, &message),
        }]
    }

    fn operation(params: &Value) -> Result<(ShardId, Vec<u8>), (i64, String)> {
        let shard = shard_param(params).map_err(|m| (-32602, m))?;
        let ciphertext = hex_param(params, 1, "ciphertext").map_err(|m| (-32602, m))?;
        Ok((shard, ciphertext))
    }

    fn submit_and_watch(&self, engine: &Engine, conn: &mut Conn, id: &Value, params: &Value) -> Vec<String> {
        let (shard, ciphertext) = match Self::operation(params) {
            Ok(op) => op,
            Err((code, message)) => return vec![error_object(id, code, &message)],
        };
        let subscription = conn.next_subscription;
        // Watch before submitting, so the first statuses find their watcher.
        match engine.submit(&shard, &ciphertext) {
            Ok(hash) => {
                conn.next_subscription += 1;
                conn.watches.insert(hash, subscription);
                vec![result_object(id, json!(subscription))]
            }
            Err(error) => vec![error_object(id, code_of(&error), &error.to_string())],
        }
    }
}
