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
//!
//! Connections are served in parallel: each has its own lock, and decrypting and verifying a
//! submitted call holds no lock shared with other connections. Status changes are routed in the
//! order the engine made them (one router at a time) through one map from operation hash to
//! its watcher; a watcher is registered before its call enters the pool, so no status of it can
//! be routed before there is someone to tell.

use crate::{
    boundary::{EnclaveError, TlsOutput},
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
    /// This connection's subscriptions: subscription id → operation hash.
    subscriptions: HashMap<u64, Hash>,
    next_subscription: u64,
    /// The `seq` of the next non-empty output.
    next_output: u64,
}

impl Conn {
    fn take_output(&mut self) -> TlsOutput {
        let bytes = self.session.take_outgoing();
        if bytes.is_empty() {
            return TlsOutput::default();
        }
        let seq = self.next_output;
        self.next_output += 1;
        TlsOutput { seq, bytes }
    }
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
    conns: Mutex<HashMap<u64, Arc<Mutex<Conn>>>>,
    /// Who watches an operation: hash → (connection, subscription).
    watchers: Mutex<HashMap<Hash, (u64, u64)>>,
    /// Held while statuses are taken from the engine and delivered, so they arrive in order.
    routing: Mutex<()>,
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
        Ok(Self {
            tls,
            config,
            conns: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            routing: Mutex::new(()),
            next_conn: AtomicU64::new(1),
        })
    }

    /// A new connection; its id names it in later calls.
    pub fn accept(&self) -> Result<u64, EnclaveError> {
        let mut conns = self.conns.lock();
        if conns.len() >= MAX_CONNECTIONS {
            return Err(EnclaveError::Rejected("too many connections".into()));
        }
        let session = ServerSession::new(self.tls.clone()).map_err(|e| EnclaveError::Internal(e.to_string()))?;
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let conn = Conn { session, subscriptions: HashMap::new(), next_subscription: 1, next_output: 0 };
        conns.insert(id, Arc::new(Mutex::new(conn)));
        Ok(id)
    }

    fn conn(&self, conn: u64) -> Option<Arc<Mutex<Conn>>> {
        self.conns.lock().get(&conn).cloned()
    }

    /// Feeds ciphertext read from connection `conn`; returns the ciphertext to write and
    /// whether the connection is closed (the host then drops it).
    pub fn data(&self, engine: &Engine, conn: u64, bytes: &[u8]) -> Result<(TlsOutput, bool), EnclaveError> {
        let entry = self.conn(conn).ok_or_else(|| EnclaveError::Rejected("unknown connection".into()))?;
        {
            let mut entry = entry.lock();
            match entry.session.feed(bytes) {
                Ok(messages) => {
                    for message in messages {
                        for answer in self.handle(engine, conn, &mut entry, &message) {
                            if entry.session.send_text(&answer).is_err() {
                                entry.session.close();
                            }
                        }
                    }
                }
                Err(error) => tracing::debug!(target: "direct", conn, %error, "session closed"),
            }
        }
        // Not under this connection's lock: routing takes each connection's lock in turn.
        self.route(engine);
        let (out, closed) = {
            let mut entry = entry.lock();
            (entry.take_output(), entry.session.is_closed())
        };
        if closed {
            self.close(conn);
        }
        Ok((out, closed))
    }

    /// Routes status changes to their watchers and returns what every connection has to send.
    pub fn flush(&self, engine: &Engine) -> Vec<(u64, TlsOutput)> {
        self.route(engine);
        let conns: Vec<(u64, Arc<Mutex<Conn>>)> = self.conns.lock().iter().map(|(id, c)| (*id, c.clone())).collect();
        conns
            .into_iter()
            .filter_map(|(id, c)| {
                let out = c.lock().take_output();
                (!out.bytes.is_empty()).then_some((id, out))
            })
            .collect()
    }

    /// Forgets a connection the host closed, and what it watched.
    pub fn close(&self, conn: u64) {
        let Some(entry) = self.conns.lock().remove(&conn) else { return };
        let hashes: Vec<Hash> = entry.lock().subscriptions.values().copied().collect();
        let mut watchers = self.watchers.lock();
        for hash in hashes {
            if watchers.get(&hash).is_some_and(|(c, _)| *c == conn) {
                watchers.remove(&hash);
            }
        }
    }

    fn route(&self, engine: &Engine) {
        let _routing = self.routing.lock();
        let statuses = engine.take_statuses();
        if statuses.is_empty() {
            return;
        }
        let mut notes: HashMap<u64, Vec<(u64, Hash, OpStatus)>> = HashMap::new();
        {
            let mut watchers = self.watchers.lock();
            for (hash, status) in statuses {
                let Some(&(conn, subscription)) = watchers.get(&hash) else { continue };
                if is_final(&status) {
                    watchers.remove(&hash);
                }
                notes.entry(conn).or_default().push((subscription, hash, status));
            }
        }
        for (conn, notes) in notes {
            let Some(entry) = self.conn(conn) else { continue };
            let mut entry = entry.lock();
            for (subscription, hash, status) in notes {
                let watching = entry.subscriptions.get(&subscription) == Some(&hash);
                if !watching {
                    // Unwatched meanwhile.
                    continue;
                }
                if is_final(&status) {
                    entry.subscriptions.remove(&subscription);
                }
                let note = json!({
                    "jsonrpc": "2.0",
                    "method": "author_extrinsicUpdate",
                    "params": { "subscription": subscription, "result": status_json(&status) },
                });
                if entry.session.send_text(&note.to_string()).is_err() {
                    entry.session.close();
                }
            }
        }
    }

    fn handle(&self, engine: &Engine, conn_id: u64, conn: &mut Conn, text: &str) -> Vec<String> {
        let Ok(request) = serde_json::from_str::<Value>(text) else {
            return vec![error_object(&Value::Null, -32700, "parse error")];
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let Some(method) = request.get("method").and_then(Value::as_str) else {
            return vec![error_object(&id, -32600, "invalid request")];
        };
        let params = request.get("params").cloned().unwrap_or(Value::Array(Vec::new()));
        let answer = match method {
            "author_submitAndWatchExtrinsic" => return self.submit_and_watch(engine, conn_id, conn, &id, &params),
            "author_unwatchExtrinsic" => {
                let removed = params.get(0).and_then(Value::as_u64).and_then(|sub| conn.subscriptions.remove(&sub));
                if let Some(hash) = removed {
                    let mut watchers = self.watchers.lock();
                    if watchers.get(&hash).is_some_and(|(c, _)| *c == conn_id) {
                        watchers.remove(&hash);
                    }
                }
                Ok(json!(removed.is_some()))
            }
            "author_submitExtrinsic" => Self::operation(&params).and_then(|(shard, ct)| {
                let hash = engine.submit(&shard, &ct).map_err(|e| (code_of(&e), e.to_string()))?;
                engine.forward(&shard, ct);
                Ok(json!(format!("{hash:?}")))
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

    fn submit_and_watch(
        &self,
        engine: &Engine,
        conn_id: u64,
        conn: &mut Conn,
        id: &Value,
        params: &Value,
    ) -> Vec<String> {
        let (shard, ciphertext) = match Self::operation(params) {
            Ok(op) => op,
            Err((code, message)) => return vec![error_object(id, code, &message)],
        };
        let call = match engine.open_call(&shard, &ciphertext) {
            Ok(call) => call,
            Err(error) => return vec![error_object(id, code_of(&error), &error.to_string())],
        };
        let hash = call.hash();
        let subscription = conn.next_subscription;
        // Watch before the call enters the pool, so its first statuses find their watcher.
        {
            let mut watchers = self.watchers.lock();
            if watchers.contains_key(&hash) {
                let error = EnclaveError::Rejected("the same call is already waiting".into());
                return vec![error_object(id, code_of(&error), &error.to_string())];
            }
            watchers.insert(hash, (conn_id, subscription));
        }
        match engine.accept_call(&shard, call) {
            Ok(_) => {
                engine.forward(&shard, ciphertext);
                conn.next_subscription += 1;
                conn.subscriptions.insert(subscription, hash);
                vec![result_object(id, json!(subscription))]
            }
            Err(error) => {
                self.watchers.lock().remove(&hash);
                vec![error_object(id, code_of(&error), &error.to_string())]
            }
        }
    }
}
