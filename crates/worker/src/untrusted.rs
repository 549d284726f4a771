//! The untrusted port (ARCHITECTURE.md 6.9): how validateers of a shard exchange sidechain
//! blocks and forward trusted calls, and how one catches up from another.
//!
//! ```text
//!   peer ─ sidechain_importBlock([block]) ──────► enclave ImportBlocks ─► MissingParent? fetch
//!   peer ─ sidechain_fetchBlocksFromPeer(shard, from, max) ─► block store (canonical chain)
//!   peer ─ author_forwardOperations(shard, [ciphertext]) ──► enclave ForwardedOperations
//!   anyone ─ sidechain_head(shard) ─► { number, hash, stateRoot, final, provisioned, pool } (public)
//! ```
//!
//! Plain WebSocket JSON-RPC: blocks are signed by their author's enclave and their bodies are
//! encrypted with the shard's state key; forwarded calls are encrypted to the shielding key. The
//! enclave checks all of it; the host only moves bytes. Blocks and calls are `0x` hex of their
//! SCALE encoding.

use crate::{
    block_store::BlockStore,
    metrics::WorkerMetrics,
    peers::{fetch_blocks, untrusted_client, Peer, Peers, MAX_FETCH, MAX_MESSAGE_BYTES},
};
use cloister_enclave::{
    boundary::EnclaveClient,
    engine::{ImportOutcome, ShardInfo},
    software::SoftwareEnclave,
};
use cloister_primitives::{sidechain::SignedSidechainBlock, ShardId};
use codec::Decode;
use jsonrpsee::{
    server::{RpcModule, Server, ServerConfig, ServerHandle},
    types::ErrorObjectOwned,
};
use serde_json::{json, Value};
use std::{net::SocketAddr, sync::Arc};

/// What the untrusted port and the catch-up need.
#[derive(Clone)]
pub struct Sidechain {
    /// The enclave.
    pub enclave: Arc<EnclaveClient<SoftwareEnclave>>,
    /// The host's block store.
    pub blocks: Arc<BlockStore>,
    /// The other validateers.
    pub peers: Arc<Peers>,
    /// The shard.
    pub shard: ShardId,
    /// The metrics.
    pub metrics: WorkerMetrics,
    /// Set while a fetch of missing blocks runs, so that blocks arriving meanwhile do not start
    /// more of them.
    pub fetching: Arc<std::sync::atomic::AtomicBool>,
}

fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, message.into(), None::<()>)
}

fn from_hex(text: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|_| invalid("not 0x-prefixed hex"))
}

fn shard_of(text: &str) -> Result<ShardId, ErrorObjectOwned> {
    let bytes: [u8; 32] = from_hex(text)?.try_into().map_err(|_| invalid("a shard is 32 bytes of hex"))?;
    Ok(ShardId::from(bytes))
}

/// What one import did, summed up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Blocks taken.
    pub imported: u32,
    /// Blocks already known.
    pub known: u32,
    /// Refusals, with their reasons.
    pub refused: Vec<String>,
    /// The first block number to fetch from the sender, if a parent was missing.
    pub missing_from: Option<u64>,
    /// Equivocations found.
    pub equivocations: u32,
}

impl Sidechain {
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EnclaveClient<SoftwareEnclave>) -> T + Send + 'static,
    ) -> Result<T, String> {
        let enclave = self.enclave.clone();
        tokio::task::spawn_blocking(move || f(&enclave)).await.map_err(|e| e.to_string())
    }

    /// The shard as it stands.
    pub fn info(&self) -> Option<ShardInfo> {
        self.enclave.shard_info(self.shard).ok()
    }

    /// Hands blocks to the enclave; forwards evidence of equivocation to every peer.
    pub async fn import(&self, blocks: Vec<Vec<u8>>) -> Result<Imported, String> {
        let shard = self.shard;
        let given = blocks.clone();
        let outcomes = self.blocking(move |e| e.import_blocks(shard, blocks)).await?.map_err(|e| e.to_string())?;
        let mut summary = Imported::default();
        for (outcome, bytes) in outcomes.into_iter().zip(given) {
            match outcome {
                ImportOutcome::Imported { .. } => summary.imported += 1,
                ImportOutcome::Known => summary.known += 1,
                ImportOutcome::MissingParent { from } => {
                    summary.missing_from = Some(summary.missing_from.map_or(from, |f| f.min(from)));
                }
                ImportOutcome::Refused(reason) => {
                    let number = SignedSidechainBlock::decode(&mut &bytes[..]).map(|b| b.header.number).unwrap_or(0);
                    tracing::warn!(target: "sidechain", number, %reason, "block from a peer refused");
                    summary.refused.push(reason);
                }
                ImportOutcome::Equivocation { author, evidence } => {
                    summary.equivocations += 1;
                    tracing::error!(
                        target: "sidechain",
                        author = %hex::encode(author),
                        "equivocation evidence forwarded to the peers"
                    );
                    self.peers.broadcast_blocks(evidence);
                }
            }
        }
        if let Some(info) = self.info() {
            self.metrics.sidechain_height.set(info.head as i64);
        }
        Ok(summary)
    }

    /// Fetches and imports blocks from `peer` from number `from` on, page by page, until the
    /// peer has no more; returns how many blocks were imported.
    pub async fn catch_up_from(&self, peer: &Peer, from: u64) -> Result<u64, String> {
        let client = untrusted_client(&peer.untrusted_url).await.map_err(|e| e.to_string())?;
        let mut from = from.max(1);
        let mut went_back = false;
        let mut total = 0u64;
        loop {
            let blocks = fetch_blocks(&client, &peer.untrusted_url, &self.shard, from, MAX_FETCH)
                .await
                .map_err(|e| e.to_string())?;
            let count = blocks.len() as u64;
            if count == 0 {
                return Ok(total);
            }
            let summary = self.import(blocks).await?;
            total += summary.imported as u64;
            if let Some(missing) = summary.missing_from {
                if missing < from && !went_back {
                    // Our chain and the peer's part below `from`: go back to where they meet.
                    went_back = true;
                    from = missing;
                    continue;
                }
            }
            let head = self.info().map(|i| i.head).unwrap_or(0);
            if summary.imported == 0 && summary.known == 0 {
                return Ok(total);
            }
            tracing::info!(
                target: "sidechain",
                peer = %hex::encode(peer.account),
                from,
                to = from + count - 1,
                head,
                "catching up: imported blocks {from}..={} from a peer; head now {head}",
                from + count - 1
            );
            if count < MAX_FETCH as u64 {
                return Ok(total);
            }
            from += count;
        }
    }

    /// Catches up from every peer in turn, from the block after the final one (so that a fork
    /// the peer is on, or the block the parentchain anchors, comes along).
    pub async fn catch_up(&self) -> u64 {
        let mut total = 0;
        for peer in self.peers.list() {
            let from = self.info().map(|i| i.final_number + 1).unwrap_or(1);
            match self.catch_up_from(&peer, from).await {
                Ok(n) => total += n,
                Err(error) => {
                    tracing::info!(target: "sidechain", peer = %hex::encode(peer.account), %error, "cannot catch up from this peer")
                }
            }
        }
        total
    }

    async fn import_request(&self, params: Value) -> Result<Value, ErrorObjectOwned> {
        let list = params
            .get(0)
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("expected [blocks]: a list of 0x-hex SCALE blocks"))?;
        let mut blocks = Vec::with_capacity(list.len());
        for item in list {
            blocks.push(from_hex(item.as_str().ok_or_else(|| invalid("a block is a hex string"))?)?);
        }
        let author =
            blocks.first().and_then(|b| SignedSidechainBlock::decode(&mut &b[..]).ok()).map(|b| b.header.author);
        let summary = self.import(blocks).await.map_err(|e| ErrorObjectOwned::owned(1000, e, None::<()>))?;
        if author.is_some_and(|a| self.peers.get(&a).is_none()) {
            // A validateer this host does not know yet (it joined since the last look).
            self.peers.request_refresh();
        }
        if let (Some(from), Some(author)) = (summary.missing_from, author) {
            // The sender is the author; fetch the gap from it, then the block itself comes with it.
            let idle = !self.fetching.swap(true, std::sync::atomic::Ordering::AcqRel);
            match self.peers.get(&author) {
                Some(peer) if idle => {
                    let this = self.clone();
                    tokio::spawn(async move {
                        if let Err(error) = this.catch_up_from(&peer, from).await {
                            tracing::info!(target: "sidechain", %error, "fetching missing blocks failed");
                        }
                        this.fetching.store(false, std::sync::atomic::Ordering::Release);
                    });
                }
                _ if idle => self.fetching.store(false, std::sync::atomic::Ordering::Release),
                _ => {}
            }
        }
        Ok(json!({
            "imported": summary.imported,
            "known": summary.known,
            "refused": summary.refused,
            "missingFrom": summary.missing_from,
            "equivocations": summary.equivocations,
        }))
    }

    fn fetch_request(&self, params: Value) -> Result<Value, ErrorObjectOwned> {
        let shard = shard_of(params.get(0).and_then(Value::as_str).ok_or_else(|| invalid("missing shard"))?)?;
        if shard != self.shard {
            return Err(ErrorObjectOwned::owned(1001, "unknown shard", None::<()>));
        }
        let from = params.get(1).and_then(Value::as_u64).ok_or_else(|| invalid("missing from (a block number)"))?;
        let max = params.get(2).and_then(Value::as_u64).unwrap_or(MAX_FETCH as u64).min(MAX_FETCH as u64) as u32;
        let blocks = self
            .blocks
            .fetch(&shard, from.max(1), max)
            .map_err(|e| ErrorObjectOwned::owned(1000, e.to_string(), None::<()>))?;
        Ok(json!(blocks.iter().map(|b| format!("0x{}", hex::encode(b))).collect::<Vec<_>>()))
    }

    fn head_request(&self, params: Value) -> Result<Value, ErrorObjectOwned> {
        let shard = shard_of(params.get(0).and_then(Value::as_str).ok_or_else(|| invalid("missing shard"))?)?;
        if shard != self.shard {
            return Err(ErrorObjectOwned::owned(1001, "unknown shard", None::<()>));
        }
        let info = self.info().ok_or_else(|| ErrorObjectOwned::owned(1000, "the shard is not open", None::<()>))?;
        Ok(json!({
            "number": info.head,
            "hash": format!("{:?}", info.head_hash),
            "stateRoot": format!("{:?}", info.state_root),
            "final": info.final_number,
            "provisioned": info.provisioned,
            "pool": info.pool,
        }))
    }

    async fn forward_request(&self, params: Value) -> Result<Value, ErrorObjectOwned> {
        let shard = shard_of(params.get(0).and_then(Value::as_str).ok_or_else(|| invalid("missing shard"))?)?;
        let list = params.get(1).and_then(Value::as_array).ok_or_else(|| invalid("expected [shard, [calls]]"))?;
        let mut calls = Vec::with_capacity(list.len());
        for item in list {
            calls.push(from_hex(item.as_str().ok_or_else(|| invalid("a call is a hex string"))?)?);
        }
        let accepted = self
            .blocking(move |e| e.forwarded_operations(shard, calls))
            .await
            .map_err(|e| ErrorObjectOwned::owned(1000, e, None::<()>))?
            .map_err(|e| ErrorObjectOwned::owned(1001, e.to_string(), None::<()>))?;
        Ok(json!(accepted))
    }
}

/// Serves the untrusted port on `addr` until the handle is stopped.
pub async fn serve(addr: SocketAddr, sidechain: Sidechain) -> std::io::Result<(ServerHandle, SocketAddr)> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_MESSAGE_BYTES)
        .max_response_body_size(MAX_MESSAGE_BYTES)
        .build();
    let server = Server::builder().set_config(config).build(addr).await?;
    let local = server.local_addr()?;
    let mut module = RpcModule::new(sidechain);
    module
        .register_async_method("sidechain_importBlock", |params, ctx, _| async move {
            let params: Value = params.parse().unwrap_or(Value::Null);
            ctx.import_request(params).await
        })
        .map_err(std::io::Error::other)?;
    module
        .register_method("sidechain_fetchBlocksFromPeer", |params, ctx, _| {
            let params: Value = params.parse().unwrap_or(Value::Null);
            ctx.fetch_request(params)
        })
        .map_err(std::io::Error::other)?;
    module
        .register_method("sidechain_head", |params, ctx, _| {
            let params: Value = params.parse().unwrap_or(Value::Null);
            ctx.head_request(params)
        })
        .map_err(std::io::Error::other)?;
    module
        .register_async_method("author_forwardOperations", |params, ctx, _| async move {
            let params: Value = params.parse().unwrap_or(Value::Null);
            ctx.forward_request(params).await
        })
        .map_err(std::io::Error::other)?;
    Ok((server.start(module), local))
}
