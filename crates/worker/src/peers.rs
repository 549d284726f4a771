//! The other validateers of the shard, as the host reaches them (ARCHITECTURE.md 6.9, 6.10).
//!
//! ```text
//!   parentchain: ShardValidateers(shard) ─► Enclaves(account).worker_url (trusted, wss://)
//!        ─► RA-TLS to it, pinning our MRENCLAVE ─► author_getUntrustedUrl, author_getMuRaUrl
//!   per peer: one task with a WebSocket client to its untrusted port, fed in order:
//!        sidechain_importBlock(blocks), author_forwardOperations(shard, calls)
//! ```
//!
//! Nothing here is trusted: blocks are signed and their bodies encrypted, forwarded calls are
//! encrypted to the shielding key, and the enclave checks everything it receives. A peer that
//! cannot be reached is tried again at the next refresh; what it missed meanwhile it fetches
//! itself (`sidechain_fetchBlocksFromPeer`) when a later block shows it a gap.

use crate::parentchain::ParentchainRpc;
use cloister_primitives::{AccountId, Mrenclave, ShardId};
use codec::Decode;
use jsonrpsee::{
    core::client::ClientT,
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use parking_lot::RwLock;
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::mpsc;

/// Largest request or answer on the untrusted port (a page of blocks).
pub const MAX_MESSAGE_BYTES: u32 = 256 << 20;
/// Most blocks one `sidechain_fetchBlocksFromPeer` returns.
pub const MAX_FETCH: u32 = 256;

/// Another validateer of the shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Its enclave's signing key (its account).
    pub account: [u8; 32],
    /// Its direct-invocation URL, as registered.
    pub trusted_url: String,
    /// Its block exchange URL.
    pub untrusted_url: String,
    /// Its MU-RA address (`host:port`).
    pub mu_ra_url: String,
}

enum Message {
    Blocks(Vec<Vec<u8>>),
    Operations(ShardId, Vec<Vec<u8>>),
}

struct Link {
    peer: Peer,
    tx: mpsc::UnboundedSender<Message>,
}

/// The peers of one validateer.
pub struct Peers {
    me: [u8; 32],
    mrenclave: Mrenclave,
    shard: ShardId,
    links: RwLock<HashMap<[u8; 32], Link>>,
    refresh_requested: std::sync::atomic::AtomicBool,
}

/// Why a peer could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The parentchain node failed.
    #[error(transparent)]
    Node(#[from] crate::parentchain::ParentchainError),
    /// The peer failed.
    #[error("peer {url}: {reason}")]
    Peer {
        /// Which.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A WebSocket client of an untrusted port.
pub async fn untrusted_client(url: &str) -> Result<WsClient, PeerError> {
    WsClientBuilder::default()
        .max_request_size(MAX_MESSAGE_BYTES)
        .max_response_size(MAX_MESSAGE_BYTES)
        .request_timeout(Duration::from_secs(120))
        .connection_timeout(Duration::from_secs(5))
        .build(url)
        .await
        .map_err(|e| PeerError::Peer { url: url.into(), reason: e.to_string() })
}

/// Up to `max` encoded blocks of `shard` from number `from` on, from the peer at `url`.
pub async fn fetch_blocks(
    client: &WsClient,
    url: &str,
    shard: &ShardId,
    from: u64,
    max: u32,
) -> Result<Vec<Vec<u8>>, PeerError> {
    let fail = |reason: String| PeerError::Peer { url: url.into(), reason };
    let hex_blocks: Vec<String> = client
        .request("sidechain_fetchBlocksFromPeer", rpc_params![format!("0x{}", hex::encode(shard)), from, max])
        .await
        .map_err(|e| fail(e.to_string()))?;
    hex_blocks
        .iter()
        .map(|text| hex::decode(text.trim_start_matches("0x")).map_err(|_| fail("a block is not hex".into())))
        .collect()
}

impl Peers {
    /// No peers yet, for validateer `me` of `shard`.
    pub fn new(me: [u8; 32], mrenclave: Mrenclave, shard: ShardId) -> Arc<Self> {
        Arc::new(Self {
            me,
            mrenclave,
            shard,
            links: RwLock::new(HashMap::new()),
            refresh_requested: Default::default(),
        })
    }

    /// Asks for a look at the parentchain's validateers soon (a block came from one not known).
    pub fn request_refresh(&self) {
        self.refresh_requested.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a look was asked for since the last call.
    pub fn take_refresh_request(&self) -> bool {
        self.refresh_requested.swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// The peers known.
    pub fn list(&self) -> Vec<Peer> {
        self.links.read().values().map(|l| l.peer.clone()).collect()
    }

    /// The peer with this signing key.
    pub fn get(&self, account: &[u8; 32]) -> Option<Peer> {
        self.links.read().get(account).map(|l| l.peer.clone())
    }

    /// Reads the shard's validateers from the node's finalized state and asks each new one for
    /// its URLs; drops the ones that left. Returns how many peers there are.
    pub async fn refresh(&self, rpc: &ParentchainRpc) -> Result<usize, PeerError> {
        let (_, at) = rpc.finalized_head().await?;
        let set_key =
            cloister_light_client::storage::blake2_128_concat_key("EnclaveRegistry", "ShardValidateers", &self.shard);
        let set = rpc.storage(&set_key, at).await?.unwrap_or_default();
        let set: Vec<AccountId> = Decode::decode(&mut &set[..]).unwrap_or_default();
        let allow_dev = rpc
            .storage(&cloister_light_client::storage::value_key("EnclaveRegistry", "AllowDevAttestation"), at)
            .await?
            .and_then(|bytes| bool::decode(&mut &bytes[..]).ok())
            .unwrap_or(false);
        let accounts: Vec<[u8; 32]> = set.iter().map(|a| *a.as_ref()).filter(|a| *a != self.me).collect();
        self.links.write().retain(|account, _| accounts.contains(account));
        for account in accounts {
            let key = cloister_light_client::storage::blake2_128_concat_key(
                "EnclaveRegistry",
                "Enclaves",
                &AccountId::from(account),
            );
            let Some(bytes) = rpc.storage(&key, at).await? else { continue };
            let Ok(info) = pallet_cloister_enclave_registry::EnclaveInfo::<Vec<u8>>::decode(&mut &bytes[..]) else {
                continue;
            };
            let trusted_url = String::from_utf8_lossy(&info.worker_url).into_owned();
            if self.links.read().get(&account).is_some_and(|l| l.peer.trusted_url == trusted_url) {
                continue;
            }
            match self.ask_urls(&trusted_url, allow_dev).await {
                Ok((untrusted_url, mu_ra_url)) => {
                    let peer = Peer { account, trusted_url, untrusted_url, mu_ra_url };
                    tracing::info!(target: "peers", account = %hex::encode(account), url = %peer.untrusted_url, "peer validateer");
                    let tx = spawn_link(peer.clone());
                    self.links.write().insert(account, Link { peer, tx });
                }
                Err(error) => {
                    tracing::info!(target: "peers", account = %hex::encode(account), %error, "peer validateer not reachable yet");
                }
            }
        }
        Ok(self.links.read().len())
    }

    async fn ask_urls(&self, trusted_url: &str, allow_dev: bool) -> Result<(String, String), PeerError> {
        let fail = |reason: String| PeerError::Peer { url: trusted_url.into(), reason };
        let verifier = cloister_enclave::attest::evidence_verifier(allow_dev);
        let client = tokio::time::timeout(
            Duration::from_secs(5),
            cloister_ratls::connect(trusted_url, self.mrenclave.0, verifier),
        )
        .await
        .map_err(|_| fail("timed out".into()))?
        .map_err(|e| fail(e.to_string()))?;
        let untrusted: String =
            client.request("author_getUntrustedUrl", rpc_params![]).await.map_err(|e| fail(e.to_string()))?;
        let mu_ra: String =
            client.request("author_getMuRaUrl", rpc_params![]).await.map_err(|e| fail(e.to_string()))?;
        Ok((untrusted, mu_ra))
    }

    /// Sends encoded blocks to every peer, in order.
    pub fn broadcast_blocks(&self, blocks: Vec<Vec<u8>>) {
        for link in self.links.read().values() {
            let _ = link.tx.send(Message::Blocks(blocks.clone()));
        }
    }

    /// Sends blocks to every peer but `except`.
    pub fn broadcast_blocks_except(&self, blocks: Vec<Vec<u8>>, except: &[u8; 32]) {
        for (account, link) in self.links.read().iter() {
            if account != except {
                let _ = link.tx.send(Message::Blocks(blocks.clone()));
            }
        }
    }

    /// Forwards encrypted calls to every peer.
    pub fn forward_operations(&self, shard: ShardId, calls: Vec<Vec<u8>>) {
        for link in self.links.read().values() {
            let _ = link.tx.send(Message::Operations(shard, calls.clone()));
        }
    }
}

/// The task that sends to one peer, in order, reconnecting when the connection broke.
fn spawn_link(peer: Peer) -> mpsc::UnboundedSender<Message> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        let mut client: Option<WsClient> = None;
        while let Some(message) = rx.recv().await {
            if client.as_ref().is_none_or(|c| !c.is_connected()) {
                client = untrusted_client(&peer.untrusted_url).await.ok();
            }
            let Some(ws) = client.as_ref() else {
                tracing::debug!(target: "peers", url = %peer.untrusted_url, "peer unreachable; message dropped");
                continue;
            };
            let sent = match message {
                Message::Blocks(blocks) => {
                    let blocks: Vec<String> = blocks.iter().map(|b| format!("0x{}", hex::encode(b))).collect();
                    ws.request::<serde_json::Value, _>("sidechain_importBlock", rpc_params![blocks]).await.map(|_| ())
                }
                Message::Operations(shard, calls) => {
                    let calls: Vec<String> = calls.iter().map(|c| format!("0x{}", hex::encode(c))).collect();
                    ws.request::<u32, _>(
                        "author_forwardOperations",
                        rpc_params![format!("0x{}", hex::encode(shard)), calls],
                    )
                    .await
                    .map(|_| ())
                }
            };
            if let Err(error) = sent {
                tracing::debug!(target: "peers", url = %peer.untrusted_url, %error, "sending to a peer failed");
                if !ws.is_connected() {
                    client = None;
                }
            }
        }
    });
    tx
}
