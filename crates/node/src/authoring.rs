//! Aura block authoring: at the start of every slot this node owns, build a block on the best
//! block with the pool's ready extrinsics, seal it and import it.
//!
//! Building may take half a slot; a block that would be late is not built. Authored blocks are
//! announced to the peers by gossip.

use crate::{
    builder,
    client::{now_millis, SharedClient, StoredBlock},
    keystore::AuthorityKeys,
    pool::Pool,
};
use cloister_consensus::aura::{self, Slot};
use cloister_network::NetworkHandle;
use cloister_primitives::OpaqueBlock;
use codec::Encode;
use sp_consensus_aura::sr25519::{AuthorityId, AuthorityPair};
use sp_core::Pair;
use sp_runtime::traits::{Block as _, Header as _};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

/// Most pool extrinsics considered for one block.
const MAX_CANDIDATES: usize = 10_000;

/// Authors blocks until the task is dropped.
/// Every block it authors is announced on `network`, if there is one.
pub async fn run(client: SharedClient, pool: Arc<Pool>, keys: AuthorityKeys, network: Option<NetworkHandle>) {
    let slot_ms = client.slot_duration_ms();
    let pair = AuthorityPair::from(keys.aura.clone());
    let ours: AuthorityId = pair.public();
    info!(target: "aura", authority = %ours, slot_ms, "authoring blocks");
    loop {
        let now = now_millis();
        let next_slot_start = (now / slot_ms + 1) * slot_ms;
        tokio::time::sleep(Duration::from_millis(next_slot_start - now)).await;
        let slot = aura::slot_at(now_millis(), slot_ms);
        let client = client.clone();
        let pool = pool.clone();
        let pair = pair.clone();
        let ours = ours.clone();
        let authored =
            tokio::task::spawn_blocking(move || author_slot(&client, &pool, &pair, &ours, slot, slot_ms)).await;
        match authored {
            Ok(Some(block)) => {
                if let Some(network) = &network {
                    network.announce_block(block.encode());
                }
            }
            Ok(None) => {}
            Err(e) => warn!(target: "aura", error = %e, "authoring task failed"),
        }
    }
}

fn author_slot(
    client: &crate::client::Client,
    pool: &Pool,
    pair: &AuthorityPair,
    ours: &AuthorityId,
    slot: Slot,
    slot_ms: u64,
) -> Option<StoredBlock> {
    let (parent_hash, parent) = client.best_header();
    if *parent.number() > 0 && aura::find_slot(&parent).is_ok_and(|s| s >= slot) {
        return None;
    }
    let authorities = match client.aura_authorities(&parent_hash) {
        Ok(a) => a,
        Err(e) => {
            warn!(target: "aura", error = %e, "cannot read the authorities");
            return None;
        }
    };
    if aura::slot_author(slot, &authorities).map(|(_, a)| a) != Some(ours) {
        return None;
    }
    let started = Instant::now();
    let deadline = started + Duration::from_millis(slot_ms / 2);
    let timestamp = now_millis().max(*slot * slot_ms);
    let candidates = pool.ready(MAX_CANDIDATES);
    let built = match builder::build_block(client, parent_hash, &parent, slot, timestamp, candidates, deadline) {
        Ok(b) => b,
        Err(e) => {
            warn!(target: "aura", %slot, error = %e, "cannot build a block");
            return None;
        }
    };
    if !built.invalid.is_empty() {
        pool.remove_invalid(&built.invalid);
    }
    if aura::slot_at(now_millis(), slot_ms) != slot {
        warn!(target: "aura", %slot, "block built too late for its slot; dropped");
        return None;
    }
    let header = aura::seal(built.header, pair);
    let number = *header.number();
    let hash = header.hash();
    let count = built.included.len();
    let block = StoredBlock { block: OpaqueBlock::new(header.clone(), built.extrinsics.clone()), justifications: None };
    match client.import_own_block(header, built.extrinsics, built.state_nodes, started) {
        Ok(_) => {
            info!(target: "aura", number, %hash, extrinsics = count, took_ms = started.elapsed().as_millis() as u64, "authored block");
            debug!(target: "aura", %slot, "slot done");
            Some(block)
        }
        Err(e) => {
            warn!(target: "aura", number, error = %e, "cannot import own block");
            None
        }
    }
}
