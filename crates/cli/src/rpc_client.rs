//! A typed client of the node's JSON-RPC: storage reads decoded with the runtime's types, signed
//! extrinsics built with the runtime's own extension types, and their fate followed to a block.

use crate::signer::Signer;
use cloister_primitives::{BlockNumber, Hash, Header};
use cloister_runtime::{RuntimeCall, RuntimeEvent, UncheckedExtrinsic};
use codec::{Decode, Encode};
use frame_system::EventRecord;
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use sp_core::Bytes;
use std::time::Duration;

/// Errors talking to the node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node cannot be reached or refused the request.
    #[error("node RPC: {0}")]
    Rpc(#[from] jsonrpsee::core::ClientError),
    /// The node answered with something that does not decode.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The extrinsic was included but its call failed.
    #[error("extrinsic failed in block {block}: {error}")]
    Failed {
        /// The block.
        block: Hash,
        /// The dispatch error, named by the runtime.
        error: String,
    },
    /// The extrinsic left the pool without being included.
    #[error("extrinsic was not included: {0}")]
    Dropped(String),
    /// Waiting took too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// Where an extrinsic ended up.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inclusion {
    /// Hash of the extrinsic.
    pub extrinsic: Hash,
    /// The block that includes it.
    pub block: Hash,
    /// Whether that block is final.
    pub finalized: bool,
    /// The extrinsic's events, as `Pallet::Event` names.
    pub events: Vec<String>,
}

/// Keys asked for per `state_getKeysPaged` request (the most a node answers).
const KEYS_PER_PAGE: u32 = 1000;

/// A connection to a node.
pub struct NodeClient {
    rpc: WsClient,
    genesis: Hash,
    spec_version: u32,
    transaction_version: u32,
}

fn decode<T: Decode>(what: &'static str, bytes: &[u8]) -> Result<T, ClientError> {
    T::decode(&mut &bytes[..]).map_err(|e| ClientError::Decode { what, reason: e.to_string() })
}

impl NodeClient {
    /// Connects to `url` (ws://...).
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        Self::connect_as(url, None).await
    }

    /// Connects to `url`, authenticating as `reader` when given (a restricted chain answers only
    /// requests with a token of an account holding READ, see `cloister_rpc::auth`).
    pub async fn connect_as(url: &str, reader: Option<&Signer>) -> Result<Self, ClientError> {
        let mut builder =
            WsClientBuilder::default().request_timeout(Duration::from_secs(60)).max_response_size(64 * 1024 * 1024);
        if let Some(reader) = reader {
            builder = builder.set_headers(auth_headers(url, reader).await?);
        }
        let rpc = builder.build(url).await?;
        let genesis: Hash = rpc.request("chain_getBlockHash", rpc_params![0]).await?;
        let version: serde_json::Value = rpc.request("state_getRuntimeVersion", rpc_params![]).await?;
        let field = |name: &str| version.get(name).and_then(|v| v.as_u64()).unwrap_or_default() as u32;
        Ok(Self { genesis, spec_version: field("specVersion"), transaction_version: field("transactionVersion"), rpc })
    }

    /// The raw RPC client.
    pub fn rpc(&self) -> &WsClient {
        &self.rpc
    }

    /// The chain's genesis hash.
    pub fn genesis(&self) -> Hash {
        self.genesis
    }

    /// The best block's header.
    pub async fn best_header(&self) -> Result<Header, ClientError> {
        Ok(self.rpc.request("chain_getHeader", rpc_params![]).await?)
    }

    /// The finalized block's hash.
    pub async fn finalized_hash(&self) -> Result<Hash, ClientError> {
        Ok(self.rpc.request("chain_getFinalizedHead", rpc_params![]).await?)
    }

    /// A raw storage value at `at` (best block if `None`).
    pub async fn storage_raw(&self, key: &[u8], at: Option<Hash>) -> Result<Option<Vec<u8>>, ClientError> {
        let value: Option<Bytes> = self.rpc.request("state_getStorage", rpc_params![Bytes(key.to_vec()), at]).await?;
        Ok(value.map(|b| b.0))
    }

    /// A storage value decoded as `T`, or `T::default()` where absent (FRAME's `ValueQuery`).
    pub async fn storage_or_default<T: Decode + Default>(
        &self,
        what: &'static str,
        key: &[u8],
        at: Option<Hash>,
    ) -> Result<T, ClientError> {
        match self.storage_raw(key, at).await? {
            Some(bytes) => decode(what, &bytes),
            None => Ok(T::default()),
        }
    }

    /// A storage value decoded as `T`, if present.
    pub async fn storage<T: Decode>(
        &self,
        what: &'static str,
        key: &[u8],
        at: Option<Hash>,
    ) -> Result<Option<T>, ClientError> {
        match self.storage_raw(key, at).await? {
            Some(bytes) => Ok(Some(decode(what, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every storage key under `prefix` at `at` (best block if `None`), page by page.
    pub async fn storage_keys(&self, prefix: &[u8], at: Option<Hash>) -> Result<Vec<Vec<u8>>, ClientError> {
        let mut all = Vec::new();
        let mut start: Option<Bytes> = None;
        loop {
            let keys: Vec<Bytes> = self
                .rpc
                .request("state_getKeysPaged", rpc_params![Bytes(prefix.to_vec()), KEYS_PER_PAGE, start.clone(), at])
                .await?;
            let full = keys.len() == KEYS_PER_PAGE as usize;
            start = keys.last().cloned();
            all.extend(keys.into_iter().map(|k| k.0));
            if !full {
                return Ok(all);
            }
        }
    }

    /// A read proof of `keys` at block `at`: the trie nodes (`state_getReadProof`'s `proof`).
    pub async fn read_proof(&self, keys: &[Vec<u8>], at: Hash) -> Result<Vec<Vec<u8>>, ClientError> {
        #[derive(serde::Deserialize)]
        struct ReadProof {
            proof: Vec<Bytes>,
        }
        let keys: Vec<Bytes> = keys.iter().cloned().map(Bytes).collect();
        let answer: ReadProof = self.rpc.request("state_getReadProof", rpc_params![keys, at]).await?;
        Ok(answer.proof.into_iter().map(|node| node.0).collect())
    }

    /// The next nonce of an account, counting its extrinsics in the pool.
    pub async fn next_nonce(&self, who: &cloister_primitives::AccountId) -> Result<u32, ClientError> {
        use sp_core::crypto::Ss58Codec;
        Ok(self.rpc.request("system_accountNextIndex", rpc_params![who.to_ss58check()]).await?)
    }

    /// Signs `call` as `signer` with `nonce`, mortal for 256 blocks from `checkpoint`.
    pub fn sign(
        &self,
        signer: &Signer,
        call: RuntimeCall,
        nonce: u32,
        checkpoint: (BlockNumber, Hash),
    ) -> UncheckedExtrinsic {
        let ctx = cloister_runtime::extrinsic::SigningContext {
            genesis: self.genesis,
            spec_version: self.spec_version,
            transaction_version: self.transaction_version,
            checkpoint,
        };
        cloister_runtime::extrinsic::signed(call, signer.pair(), nonce, 0, &ctx)
    }

    /// Signs `call` with the signer's next nonce against the best block.
    pub async fn sign_next(&self, signer: &Signer, call: RuntimeCall) -> Result<UncheckedExtrinsic, ClientError> {
        let nonce = self.next_nonce(&signer.account()).await?;
        let best = self.best_header().await?;
        Ok(self.sign(signer, call, nonce, (best.number, best.hash())))
    }

    /// Submits an extrinsic and waits until it is in a block (and, with `wait_final`, until that
    /// block is final). Fails if its call failed.
    pub async fn submit_and_wait(&self, xt: &UncheckedExtrinsic, wait_final: bool) -> Result<Inclusion, ClientError> {
        let bytes = Bytes(xt.encode());
        let hash: Hash = sp_crypto_hashing::blake2_256(&bytes).into();
        let mut sub = self
            .rpc
            .subscribe::<serde_json::Value, _>(
                "author_submitAndWatchExtrinsic",
                rpc_params![bytes],
                "author_unwatchExtrinsic",
            )
            .await?;
        let mut in_block;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let next =
                tokio::time::timeout_at(deadline, sub.next()).await.map_err(|_| ClientError::Timeout("inclusion"))?;
            let Some(status) = next else { return Err(ClientError::Dropped("subscription closed".into())) };
            let status = status.map_err(|e| ClientError::Decode { what: "status", reason: e.to_string() })?;
            let (block, finalized) = if let Some(b) = status.get("inBlock") {
                (b.clone(), false)
            } else if let Some(b) = status.get("finalized") {
                (b.clone(), true)
            } else if status.as_str().is_some_and(|s| s == "ready" || s == "future")
                || status.get("broadcast").is_some()
            {
                continue;
            } else {
                return Err(ClientError::Dropped(status.to_string()));
            };
            let block: Hash = serde_json::from_value(block)
                .map_err(|e| ClientError::Decode { what: "block hash", reason: e.to_string() })?;
            in_block = Some(block);
            if finalized || !wait_final {
                break;
            }
        }
        let block = in_block.ok_or(ClientError::Timeout("inclusion"))?;
        let events = self.extrinsic_events(block, hash).await?;
        let names = events.iter().map(event_name).collect();
        for event in &events {
            if let Some(error) = failure(event) {
                return Err(ClientError::Failed { block, error });
            }
        }
        Ok(Inclusion { extrinsic: hash, block, finalized: wait_final, events: names })
    }

    /// The events of extrinsic `xt` in `block`.
    pub async fn extrinsic_events(&self, block: Hash, xt: Hash) -> Result<Vec<RuntimeEvent>, ClientError> {
        let signed: serde_json::Value = self.rpc.request("chain_getBlock", rpc_params![block]).await?;
        let extrinsics = signed["block"]["extrinsics"].as_array().cloned().unwrap_or_default();
        let index = extrinsics.iter().position(|x| {
            x.as_str()
                .and_then(|s| hex::decode(s.trim_start_matches("0x")).ok())
                .is_some_and(|b| sp_crypto_hashing::blake2_256(&b) == xt.0)
        });
        let Some(index) = index else { return Ok(Vec::new()) };
        let key = crate::chain::value_key("System", "Events");
        let records: Vec<EventRecord<RuntimeEvent, Hash>> =
            self.storage_or_default("System.Events", &key, Some(block)).await?;
        Ok(records
            .into_iter()
            .filter(|r| r.phase == frame_system::Phase::ApplyExtrinsic(index as u32))
            .map(|r| r.event)
            .collect())
    }
}

/// `Pallet::Variant` of an event.
pub fn event_name(event: &RuntimeEvent) -> String {
    let debug = format!("{event:?}");
    let pallet = debug.split('(').next().unwrap_or_default();
    let inner = debug.split('(').nth(1).unwrap_or_default();
    let inner = inner.strip_prefix("Event::").unwrap_or(inner);
    let variant = inner.split([' ', '{', ')']).next().unwrap_or_default();
    format!("{pallet}::{variant}")
}

fn named(error: sp_runtime::DispatchError) -> String {
    match cloister_runtime::RuntimeError::from_dispatch_error(error) {
        Some(e) => format!("{e:?}"),
        None => format!("{error:?}"),
    }
}

/// The dispatch error an event reports, if it reports one (a failed extrinsic or sudo call).
fn failure(event: &RuntimeEvent) -> Option<String> {
    match event {
        RuntimeEvent::System(frame_system::Event::ExtrinsicFailed { dispatch_error, .. }) => {
            Some(named(*dispatch_error))
        }
        RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { sudo_result: Err(e) }) => Some(named(*e)),
        _ => None,
    }
}

/// An `Authorization` header with a fresh one-hour token of `reader` for the chain at `url`.
pub async fn auth_headers(url: &str, reader: &Signer) -> Result<jsonrpsee::ws_client::HeaderMap, ClientError> {
    let genesis = fetch_genesis(url).await?;
    let expiry =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) + 3600;
    let token = cloister_rpc::auth::make_token(reader.pair(), &genesis, expiry);
    let mut headers = jsonrpsee::ws_client::HeaderMap::new();
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ClientError::Decode { what: "token", reason: "not a header value".into() })?;
    headers.insert("authorization", value);
    Ok(headers)
}

/// Reads the chain's genesis hash from the node's public `GET /genesis` (plain HTTP on the RPC
/// port), which a client needs before it can make a token.
async fn fetch_genesis(url: &str) -> Result<Hash, ClientError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bad = |reason: String| ClientError::Decode { what: "genesis", reason };
    let authority = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad(format!("--auth needs a ws:// or http:// node URL, not {url}")))?
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.map_err(|e| bad(format!("{authority}: {e}")))?;
    let request =
        format!("GET {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n", cloister_rpc::auth::GENESIS_PATH);
    stream.write_all(request.as_bytes()).await.map_err(|e| bad(e.to_string()))?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .map_err(|_| ClientError::Timeout("the genesis hash"))?
        .map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8_lossy(&response);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    // The JSON object, whether or not the body came in chunks.
    let object = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if start < end => &body[start..=end],
        _ => "",
    };
    let json: serde_json::Value = serde_json::from_str(object)
        .map_err(|_| bad("the node did not tell its genesis hash (is it a restricted Cloister chain?)".into()))?;
    serde_json::from_value(json["genesis"].clone()).map_err(|e| bad(e.to_string()))
}
