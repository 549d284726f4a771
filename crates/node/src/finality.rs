//! Finality of a chain with a single GRANDPA authority.
//!
//! With one voter, a GRANDPA round ends as soon as that voter precommits: this node, when it
//! holds the only GRANDPA key of the set that votes on a new best block, signs a precommit for it
//! in round = block number and finalizes it with the resulting justification, the same
//! [`GrandpaJustification`](cloister_consensus::GrandpaJustification) a full GRANDPA voter would
//! produce and any light client verifies. Multi-authority finality (votes gossiped between nodes
//! with `finality-grandpa`'s voter) replaces this on networked chains.

use crate::{
    client::{ChainEvent, SharedClient},
    keystore::AuthorityKeys,
};
use cloister_consensus::grandpa;
use sp_consensus_grandpa::AuthorityPair;
use sp_core::Pair;
use sp_runtime::traits::Header as _;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

/// Finalizes new best blocks while this node is the only GRANDPA voter.
pub async fn run_single_voter(client: SharedClient, keys: AuthorityKeys) {
    let pair = AuthorityPair::from(keys.grandpa.clone());
    let mut events = client.subscribe();
    // Blocks imported before we subscribed (e.g. replayed from the journal).
    finalize_best(&client, &pair);
    loop {
        match events.recv().await {
            Ok(ChainEvent::Imported { is_new_best: true, .. }) => {
                let client = client.clone();
                let pair = pair.clone();
                let _ = tokio::task::spawn_blocking(move || finalize_best(&client, &pair)).await;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => finalize_best(&client, &pair),
            Err(RecvError::Closed) => return,
        }
    }
}

fn finalize_best(client: &crate::client::Client, pair: &AuthorityPair) {
    let (hash, header) = client.best_header();
    if *header.number() <= client.info().finalized_number {
        return;
    }
    let (set_id, authorities) = match client.grandpa_authorities(header.parent_hash()) {
        Ok(set) => set,
        Err(e) => {
            warn!(target: "grandpa", error = %e, "cannot read the authority set");
            return;
        }
    };
    let ours = pair.public();
    if authorities.len() != 1 || authorities[0].0 != ours {
        debug!(target: "grandpa", voters = authorities.len(), "not the single voter; waiting for network finality");
        return;
    }
    let round = u64::from(*header.number());
    let precommit = grandpa::sign_precommit(pair, round, set_id, hash, *header.number());
    let justification = grandpa::justification_for(&header, round, vec![precommit]);
    match client.finalize(hash, Some(justification)) {
        Ok(()) => debug!(target: "grandpa", number = header.number(), %hash, "finalized"),
        Err(e) => info!(target: "grandpa", number = header.number(), error = %e, "cannot finalize"),
    }
}
