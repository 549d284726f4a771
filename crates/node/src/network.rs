//! The node on the network: what it answers its peers and what it does with what they send.
//!
//! - [`ChainSync`] answers peers' sync requests from the client: status, runs of best-chain
//!   blocks (with their justifications), a block by hash, and GRANDPA catch-ups.
//! - [`run`] handles network events: a gossiped block is imported (a block whose parent is
//!   unknown starts a sync from the peer that sent it; a block from the next slot but one or
//!   later waits for its slot); a peer whose status shows a longer or more finalized chain is
//!   synced from; gossiped transactions go to the pool; GRANDPA messages go to the voter.
//!   Peers of another chain (other genesis) are disconnected.
//! - Sync asks one peer at a time for up to [`MAX_BLOCKS_PER_RESPONSE`] blocks after our best
//!   block, falling back to our finalized block when our best chain is a fork of the peer's,
//!   imports them in order and finalizes with the justifications they carry.

use crate::{
    client::{BlockOrigin, Client, ImportError, Imported, SharedClient, StoredBlock},
    finality::Finality,
    pool::Pool,
};
use cloister_consensus::{grandpa::GRANDPA_ENGINE_ID, AuraError, GrandpaJustification};
use cloister_network::{
    NetworkEvent, NetworkHandle, PeerId, PeerStatus, SyncProvider, SyncRequest, SyncResponse, MAX_BLOCKS_PER_RESPONSE,
};
use cloister_primitives::Hash;
use codec::{Decode, Encode};
use sp_runtime::{traits::Header as _, transaction_validity::TransactionSource};
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Largest total size of the blocks in one sync response.
const MAX_RESPONSE_BLOCK_BYTES: usize = 32 * 1024 * 1024;
/// Most blocks fetched backwards to connect a fork named by votes.
const MAX_FORK_BLOCKS: usize = 512;
/// Times a block from a future slot is retried.
const FUTURE_BLOCK_RETRIES: u32 = 3;

/// Answers peers' sync requests from the chain.
pub struct ChainSync {
    client: SharedClient,
    finality: OnceLock<Finality>,
}

impl ChainSync {
    /// Answers from `client`; GRANDPA catch-ups once [`ChainSync::set_finality`] is called.
    pub fn new(client: SharedClient) -> Self {
        Self { client, finality: OnceLock::new() }
    }

    /// Connects the GRANDPA voter, which answers catch-up requests.
    pub fn set_finality(&self, finality: Finality) {
        let _ = self.finality.set(finality);
    }

    /// Our status as peers see it.
    pub fn status(client: &Client) -> PeerStatus {
        let info = client.info();
        PeerStatus {
            genesis: info.genesis_hash,
            best_number: info.best_number,
            best_hash: info.best_hash,
            finalized_number: info.finalized_number,
            finalized_hash: info.finalized_hash,
        }
    }

    fn blocks(&self, from: u32, max: u32) -> SyncResponse {
        let mut blocks = Vec::new();
        let mut bytes = 0;
        for number in from..from.saturating_add(max.min(MAX_BLOCKS_PER_RESPONSE)) {
            let block = match self.client.hash(number) {
                Ok(Some(hash)) => self.client.block(&hash),
                Ok(None) => break,
                Err(e) => return SyncResponse::Refused(e.to_string()),
            };
            match block {
                Ok(Some(block)) => {
                    let encoded = block.encode();
                    bytes += encoded.len();
                    blocks.push(encoded);
                    if bytes > MAX_RESPONSE_BLOCK_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return SyncResponse::Refused(e.to_string()),
            }
        }
        SyncResponse::Blocks(blocks)
    }
}

impl SyncProvider for ChainSync {
    fn answer(&self, request: SyncRequest) -> SyncResponse {
        match request {
            SyncRequest::Status => SyncResponse::Status(Self::status(&self.client)),
            SyncRequest::Blocks { from, max } => self.blocks(from, max),
            SyncRequest::Block { hash } => match self.client.block(&hash) {
                Ok(block) => SyncResponse::Blocks(block.into_iter().map(|b| b.encode()).collect()),
                Err(e) => SyncResponse::Refused(e.to_string()),
            },
            SyncRequest::GrandpaCatchUp { set_id } => match self.finality.get() {
                Some(finality) => finality.answer_catch_up(set_id),
                None => SyncResponse::Refused("this node runs no GRANDPA voter".into()),
            },
            SyncRequest::Peers => SyncResponse::Refused("answered by the network layer".into()),
        }
    }
}

/// The node's parts the network feeds.
#[derive(Clone)]
pub struct NetworkContext {
    /// The chain.
    pub client: SharedClient,
    /// The pool.
    pub pool: Arc<Pool>,
    /// The network.
    pub network: NetworkHandle,
    /// The GRANDPA voter.
    pub finality: Finality,
    /// Whether a sync is running (for `system_health`).
    pub syncing: Arc<AtomicBool>,
}

/// Handles network events until the network stops.
pub async fn run(ctx: NetworkContext, mut events: mpsc::Receiver<NetworkEvent>) {
    let genesis = ctx.client.info().genesis_hash;
    let (missing_tx, mut missing) = mpsc::unbounded_channel();
    ctx.finality.set_missing_blocks(missing_tx);
    let fetching = Arc::new(parking_lot::Mutex::new(std::collections::HashSet::new()));
    loop {
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => return,
            },
            Some((peer, hash)) = missing.recv() => {
                if fetching.lock().insert(hash) {
                    let (ctx, fetching) = (ctx.clone(), fetching.clone());
                    tokio::spawn(async move {
                        fetch_fork(&ctx, peer, hash).await;
                        fetching.lock().remove(&hash);
                    });
                }
                continue;
            }
        };
        match event {
            NetworkEvent::PeerConnected(peer) => {
                debug!(target: "sync", %peer, "peer connected");
                ctx.client.metrics().set_peers(ctx.network.peers().len());
            }
            NetworkEvent::PeerDisconnected(peer) => {
                debug!(target: "sync", %peer, "peer disconnected");
                ctx.client.metrics().set_peers(ctx.network.peers().len());
            }
            NetworkEvent::PeerStatus { peer, status } => {
                if status.genesis != genesis {
                    warn!(target: "sync", %peer, their = %status.genesis, ours = %genesis, "peer is on another chain; disconnecting");
                    ctx.network.disconnect(peer);
                    continue;
                }
                let info = ctx.client.info();
                if status.best_number > info.best_number || status.finalized_number > info.finalized_number {
                    start_sync(&ctx, peer);
                }
            }
            NetworkEvent::Block { from, data } => match StoredBlock::decode(&mut &data[..]) {
                Ok(block) => {
                    let ctx = ctx.clone();
                    tokio::spawn(async move { import_gossiped(ctx, from, block, 0).await });
                }
                Err(e) => debug!(target: "sync", %from, error = %e, "undecodable block dropped"),
            },
            NetworkEvent::Transaction { from, data } => {
                let pool = ctx.pool.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = pool.submit(data, TransactionSource::External) {
                        debug!(target: "pool", %from, error = %e, "gossiped transaction not accepted");
                    }
                });
            }
            NetworkEvent::Grandpa { from, data } => ctx.finality.on_gossip(from, &data),
        }
    }
}

/// Imports a block a peer gossiped; holds back one from a future slot and retries it then.
async fn import_gossiped(ctx: NetworkContext, from: PeerId, block: StoredBlock, attempt: u32) {
    let client = ctx.client.clone();
    let number = *block.block.header.number();
    let retry = block.clone();
    let result = tokio::task::spawn_blocking(move || import_and_finalize(&client, block)).await;
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(ImportError::UnknownParent { .. })) => start_sync(&ctx, from),
        Ok(Err(ImportError::Aura { source: AuraError::FutureSlot { slot, now }, .. })) => {
            if attempt >= FUTURE_BLOCK_RETRIES {
                warn!(target: "sync", %from, number, slot, now, "block from the future dropped");
                return;
            }
            let slot_ms = ctx.client.slot_duration_ms();
            let wait = (slot.saturating_sub(now + 1) * slot_ms).max(slot_ms / 2);
            debug!(target: "sync", %from, number, slot, now, wait_ms = wait, "holding back a block from a future slot");
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Box::pin(import_gossiped(ctx, from, retry, attempt + 1)).await;
        }
        Ok(Err(ImportError::ConflictsWithFinalized { .. })) => {
            debug!(target: "sync", %from, number, "block conflicts with the finalized chain; dropped")
        }
        Ok(Err(e)) => warn!(target: "sync", %from, number, error = %e, "block from peer rejected"),
        Err(e) => warn!(target: "sync", error = %e, "import task failed"),
    }
}

/// Imports a block and, if it carries a GRANDPA justification, finalizes it.
fn import_and_finalize(client: &Client, block: StoredBlock) -> Result<Imported, ImportError> {
    let hash = block.block.header.hash();
    let number = *block.block.header.number();
    let justification = block.justifications.as_ref().and_then(|j| j.get(GRANDPA_ENGINE_ID)).cloned();
    let imported = client.import_block(block, BlockOrigin::Network)?;
    if let Some(bytes) = justification {
        if number > client.info().finalized_number {
            match GrandpaJustification::decode(&mut &bytes[..]) {
                Ok(j) => {
                    if let Err(e) = client.finalize(hash, Some(j)) {
                        warn!(target: "sync", number, %hash, error = %e, "justification from peer not accepted");
                    }
                }
                Err(e) => warn!(target: "sync", number, error = %e, "undecodable justification from peer"),
            }
        }
    }
    Ok(imported)
}

fn start_sync(ctx: &NetworkContext, peer: PeerId) {
    if ctx.syncing.swap(true, Ordering::SeqCst) {
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let imported = sync_from(&ctx, peer).await;
        ctx.syncing.store(false, Ordering::SeqCst);
        if imported > 0 {
            let info = ctx.client.info();
            info!(target: "sync", %peer, imported, best = info.best_number, finalized = info.finalized_number, "synced");
        }
    });
}

/// Downloads and imports the peer's best chain beyond ours; returns how many blocks it imported.
async fn sync_from(ctx: &NetworkContext, peer: PeerId) -> usize {
    let mut from = ctx.client.info().best_number + 1;
    let mut fell_back = false;
    let mut imported = 0;
    loop {
        let blocks = match ctx.network.request(peer, SyncRequest::Blocks { from, max: MAX_BLOCKS_PER_RESPONSE }).await {
            Ok(SyncResponse::Blocks(blocks)) => blocks,
            Ok(other) => {
                debug!(target: "sync", %peer, ?other, "peer did not send blocks");
                return imported;
            }
            Err(e) => {
                debug!(target: "sync", %peer, error = %e, "block request failed");
                return imported;
            }
        };
        if blocks.is_empty() {
            return imported;
        }
        let count = blocks.len() as u32;
        let client = ctx.client.clone();
        let outcome = tokio::task::spawn_blocking(move || import_run(&client, blocks)).await;
        match outcome {
            Ok((n, None)) => imported += n,
            Ok((n, Some(ImportError::UnknownParent { .. }))) if !fell_back && n == 0 => {
                // Our best chain is a fork of the peer's: start again from our finalized block.
                fell_back = true;
                from = ctx.client.info().finalized_number + 1;
                continue;
            }
            Ok((n, Some(e))) => {
                warn!(target: "sync", %peer, error = %e, "sync stopped at a block we could not import");
                return imported + n;
            }
            Err(e) => {
                warn!(target: "sync", error = %e, "import task failed");
                return imported;
            }
        }
        if count < MAX_BLOCKS_PER_RESPONSE {
            return imported;
        }
        from += count;
    }
}

/// Fetches block `hash` and its ancestors that this node lacks from `peer` (blocks of a fork
/// named by GRANDPA votes), and imports them oldest first.
async fn fetch_fork(ctx: &NetworkContext, peer: PeerId, hash: Hash) {
    let mut wanted = hash;
    let mut blocks = Vec::new();
    for _ in 0..MAX_FORK_BLOCKS {
        if ctx.client.header(&wanted).is_ok_and(|h| h.is_some()) {
            break;
        }
        let block = match ctx.network.request(peer, SyncRequest::Block { hash: wanted }).await {
            Ok(SyncResponse::Blocks(mut list)) if list.len() == 1 => list.pop().unwrap_or_default(),
            Ok(_) | Err(_) => {
                debug!(target: "sync", %peer, %wanted, "peer does not have a block its votes name");
                return;
            }
        };
        let Ok(decoded) = StoredBlock::decode(&mut &block[..]) else { return };
        if decoded.block.header.hash() != wanted {
            warn!(target: "sync", %peer, %wanted, "peer answered with another block");
            return;
        }
        wanted = *decoded.block.header.parent_hash();
        blocks.push(block);
    }
    blocks.reverse();
    let client = ctx.client.clone();
    if let Ok((imported, error)) = tokio::task::spawn_blocking(move || import_run(&client, blocks)).await {
        debug!(target: "sync", %peer, %hash, imported, ?error, "fetched a fork named by votes");
    }
}

/// Imports a run of encoded blocks in order; stops at the first failure and returns it.
fn import_run(client: &Client, blocks: Vec<Vec<u8>>) -> (usize, Option<ImportError>) {
    let mut imported = 0;
    for bytes in blocks {
        let block = match StoredBlock::decode(&mut &bytes[..]) {
            Ok(b) => b,
            Err(e) => return (imported, Some(ImportError::Malformed(e.to_string()))),
        };
        match import_and_finalize(client, block) {
            Ok(Imported::New { .. }) => imported += 1,
            Ok(Imported::AlreadyKnown) => {}
            Err(e) => return (imported, Some(e)),
        }
    }
    (imported, None)
}
