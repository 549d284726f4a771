//! GRANDPA finality: every authority votes, every node follows.
//!
//! ```text
//!  gossip (network) ──► Finality::on_gossip ──► checks (set, signer, signature, block known)
//!                                                   │ votes                 │ commits
//!                                                   ▼                       ▼
//!                         Router: one channel per open round       voter's global input
//!                                                   │                       │
//!                                                   ▼                       ▼
//!                 finality_grandpa::Voter over VoterEnvironment (timers, ancestry, best chain)
//!                        │ own votes: signed, gossiped, looped back   │ commits: gossiped
//!                        ▼                                            ▼
//!                 finalize_block ──► justification ──► Client::finalize (checked again)
//! ```
//!
//! One voter runs per authority set: the set in the state of the last finalized block. When a
//! block that changes the set is finalized (the old set can vote up to it and no further), the
//! voter of the old set stops and the new set's voter starts from that block. Nodes without a
//! key of the set run the voter as observers: they follow rounds and finalize with everyone.
//!
//! A node that fell behind in rounds (it was down, or partitioned) asks a peer for the votes of
//! its last completed round and jumps there (GRANDPA catch-up); commits gossiped by the others
//! finalize blocks for it meanwhile. Votes for blocks the node has not imported yet wait until
//! it has them.

mod environment;
pub mod messages;

pub use environment::{schedules_change, VoterError};

use crate::client::{ChainEvent, SharedClient};
use cloister_network::{NetworkHandle, PeerId, SyncRequest, SyncResponse};
use cloister_primitives::{BlockNumber, Hash};
use codec::{Decode, Encode};
use environment::{OutgoingCommits, VoterEnvironment};
use futures::{channel::mpsc::UnboundedSender, StreamExt};
use messages::{CompletedRound, GossipMessage, OwnVotes, SignedMessage};
use parking_lot::Mutex;
use sp_consensus_grandpa::{AuthorityId, AuthorityList, AuthorityPair, AuthoritySignature, SetId};
use sp_core::Pair;
use sp_runtime::traits::Header as _;
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

/// Database key of the last completed round.
const KEY_COMPLETED: &[u8] = b"grandpa/completed";
/// Database key of the last round this node voted in.
const KEY_VOTED: &[u8] = b"grandpa/voted";
/// Rounds ahead of the voter whose votes are kept until it gets there.
const FUTURE_ROUNDS: u64 = 4;
/// Votes and commits kept while their blocks are unknown.
const MAX_WAITING: usize = 8192;
/// How often a node sends its votes of the current round again.
const REBROADCAST_INTERVAL: Duration = Duration::from_secs(2);
/// Least time between two catch-up requests.
const CATCH_UP_INTERVAL: Duration = Duration::from_secs(2);

/// Input of the voter that is not tied to a round.
type CommunicationIn = finality_grandpa::voter::CommunicationIn<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

/// Where incoming votes go: the voter's open rounds, or a buffer for rounds it has yet to open.
#[derive(Default)]
pub(crate) struct Router {
    set_id: SetId,
    authorities: AuthorityList,
    rounds: BTreeMap<u64, UnboundedSender<SignedMessage>>,
    future: BTreeMap<u64, Vec<SignedMessage>>,
    highest_open: u64,
    commits: Option<UnboundedSender<CommunicationIn>>,
    waiting: Vec<GossipMessage>,
    last_completed: Option<CompletedRound>,
}

impl Router {
    fn reset(&mut self, set_id: SetId, authorities: AuthorityList, round: u64) {
        let waiting = std::mem::take(&mut self.waiting);
        *self = Router { set_id, authorities, highest_open: round, ..Default::default() };
        self.waiting = waiting.into_iter().filter(|m| message_set(m) >= set_id).collect();
    }

    /// Opens a round the voter starts, handing it the votes that arrived early.
    fn open(&mut self, round: u64, tx: UnboundedSender<SignedMessage>) {
        for vote in self.future.remove(&round).unwrap_or_default() {
            let _ = tx.unbounded_send(vote);
        }
        self.highest_open = self.highest_open.max(round);
        self.rounds.insert(round, tx);
        let horizon = self.highest_open;
        self.future.retain(|r, _| *r > horizon);
    }

    /// Delivers a checked vote to its round.
    fn deliver(&mut self, round: u64, vote: SignedMessage) {
        if let Some(tx) = self.rounds.get(&round) {
            if tx.unbounded_send(vote).is_err() {
                self.rounds.remove(&round);
            }
            return;
        }
        if round > self.highest_open && round <= self.highest_open + FUTURE_ROUNDS {
            let votes = self.future.entry(round).or_default();
            if votes.len() < 4 * self.authorities.len().max(1) {
                votes.push(vote);
            }
        }
    }
}

fn message_set(message: &GossipMessage) -> SetId {
    match message {
        GossipMessage::Vote { set_id, .. } | GossipMessage::Commit { set_id, .. } => *set_id,
    }
}

/// State shared by the voter, its environment and the network side.
pub struct Shared {
    client: SharedClient,
    network: Option<NetworkHandle>,
    router: Mutex<Router>,
    last_catch_up: Mutex<Option<Instant>>,
    own_votes: Mutex<OwnVotes>,
    voter_state: Mutex<Option<Box<dyn finality_grandpa::voter::VoterState<AuthorityId> + Send + Sync>>>,
    missing_blocks: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<(PeerId, Hash)>>,
}

/// GRANDPA finality of one node.
#[derive(Clone)]
pub struct Finality {
    shared: Arc<Shared>,
    keys: Option<AuthorityPair>,
    gossip_duration: Duration,
}

impl Finality {
    /// Finality for `client`, voting with `keys` when they are in the authority set, talking
    /// through `network` (none: a lone node, which can only finalize as the only voter).
    pub fn new(client: SharedClient, keys: Option<AuthorityPair>, network: Option<NetworkHandle>) -> Self {
        // GRANDPA's gossip estimate T: a third of a slot, at least 100 ms, at most 1 s.
        let gossip_duration = Duration::from_millis((client.slot_duration_ms() / 3).clamp(100, 1000));
        let shared = Arc::new(Shared {
            client,
            network,
            router: Mutex::new(Router::default()),
            last_catch_up: Mutex::new(None),
            own_votes: Mutex::new(OwnVotes::default()),
            voter_state: Mutex::new(None),
            missing_blocks: std::sync::OnceLock::new(),
        });
        Self { shared, keys, gossip_duration }
    }

    /// Runs voters, one authority set after the other, until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.run_set().await {
                Ok(()) => {}
                Err(e) => {
                    warn!(target: "grandpa", error = %e, "voter stopped; restarting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Runs the voter of the set in force after the last finalized block, until a block that
    /// changes the set is finalized.
    async fn run_set(&self) -> Result<(), VoterError> {
        let client = &self.shared.client;
        let (fin_hash, fin_header) = client.finalized_header();
        let (set_id, authorities) = match client.grandpa_authorities(&fin_hash) {
            Ok(set) => set,
            Err(e) => {
                warn!(target: "grandpa", error = %e, "cannot read the authority set");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return Ok(());
            }
        };
        let Some(voters) = finality_grandpa::voter_set::VoterSet::new(authorities.iter().cloned()) else {
            warn!(target: "grandpa", set_id, "empty GRANDPA authority set: nothing can be finalized");
            tokio::time::sleep(Duration::from_secs(5)).await;
            return Ok(());
        };
        let completed = client
            .aux(KEY_COMPLETED)?
            .and_then(|bytes| CompletedRound::decode(&mut &bytes[..]).ok())
            .filter(|c| c.set_id == set_id);
        let own = client
            .aux(KEY_VOTED)?
            .and_then(|bytes| OwnVotes::decode(&mut &bytes[..]).ok())
            .filter(|own| own.set_id == set_id && !own.votes.is_empty());
        let voted_before = own.as_ref().map(|own| own.round);
        *self.shared.own_votes.lock() = own.unwrap_or_default();
        let fin = (fin_hash, *fin_header.number());
        let (last_round, last_votes, last_base) = match &completed {
            Some(c) => (c.round, c.votes.clone(), c.base),
            None => (0, Vec::new(), fin),
        };
        let local = self.keys.clone().filter(|k| authorities.iter().any(|(id, _)| *id == k.public()));
        info!(
            target: "grandpa",
            set_id,
            voters = authorities.len(),
            voting = local.is_some(),
            round = last_round + 1,
            finalized = fin.1,
            "starting GRANDPA voter"
        );

        let (commit_tx, commit_rx) = futures::channel::mpsc::unbounded();
        {
            let mut router = self.shared.router.lock();
            router.reset(set_id, authorities.clone(), last_round);
            router.commits = Some(commit_tx);
            router.last_completed = completed;
        }
        let env = Arc::new(VoterEnvironment {
            shared: self.shared.clone(),
            set_id,
            local,
            voted_before,
            gossip_duration: self.gossip_duration,
        });
        let voter = finality_grandpa::voter::Voter::new(
            env,
            voters,
            (commit_rx.map(Ok), OutgoingCommits { shared: self.shared.clone(), set_id }),
            last_round,
            last_votes,
            last_base,
            fin,
        );
        *self.shared.voter_state.lock() = Some(voter.voter_state());
        // Messages that waited for this set (or for blocks) get another chance.
        self.retry_waiting();
        let mut events = client.subscribe();
        let mut voter = Box::pin(voter);
        let mut rebroadcast = tokio::time::interval(REBROADCAST_INTERVAL);
        loop {
            tokio::select! {
                result = &mut voter => return result,
                _ = rebroadcast.tick() => self.rebroadcast(set_id),
                event = events.recv() => match event {
                    Ok(ChainEvent::Imported { .. }) => self.retry_waiting(),
                    Ok(ChainEvent::Finalized { .. }) | Err(RecvError::Lagged(_)) => {
                        let (hash, _) = client.finalized_header();
                        if client.grandpa_authorities(&hash).is_ok_and(|(id, _)| id != set_id) {
                            info!(target: "grandpa", old_set = set_id, "authority set changed with the finalized block");
                            return Ok(());
                        }
                        self.retry_waiting();
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
            }
        }
    }

    /// Sends our votes of the round we last voted in again, for peers that joined (or came
    /// back) since: gossip reaches only the peers connected when a message is first sent.
    fn rebroadcast(&self, set_id: SetId) {
        let Some(network) = &self.shared.network else { return };
        let own = self.shared.own_votes.lock().clone();
        if own.set_id != set_id || own.round + 1 < self.shared.router.lock().highest_open {
            return;
        }
        for vote in own.votes {
            network.gossip_grandpa(messages::encode_gossip(&GossipMessage::Vote {
                set_id,
                round: own.round,
                message: vote,
            }));
        }
    }

    /// Where to ask for blocks that votes name but this node has not imported (a fork it has
    /// not seen, e.g. the other side's chain after a partition); the network fetches them.
    pub fn set_missing_blocks(&self, requests: tokio::sync::mpsc::UnboundedSender<(PeerId, Hash)>) {
        let _ = self.shared.missing_blocks.set(requests);
    }

    /// Handles a GRANDPA message from the network.
    pub fn on_gossip(&self, from: PeerId, data: &[u8]) {
        let message = match messages::decode_gossip(data) {
            Ok(m) => m,
            Err(e) => {
                debug!(target: "grandpa", %from, error = %e, "undecodable GRANDPA message dropped");
                return;
            }
        };
        if let Some(round) = self.process(message, Some(from)) {
            self.maybe_catch_up(from, round);
        }
    }

    /// Checks and routes a message; returns its round when the voter is well behind it.
    fn process(&self, message: GossipMessage, from: Option<PeerId>) -> Option<u64> {
        let mut router = self.shared.router.lock();
        let (set_id, authorities) = (router.set_id, &router.authorities);
        let message_set = message_set(&message);
        if message_set > set_id {
            // A later set: we have not finalized its start yet; keep it for when we have.
            if router.waiting.len() < MAX_WAITING {
                router.waiting.push(message);
            }
            return None;
        }
        let (round, target) = match &message {
            GossipMessage::Vote { round, message: vote, .. } => {
                if let Err(e) = messages::check_vote(vote, *round, message_set, set_id, authorities) {
                    debug!(target: "grandpa", error = %e, "vote dropped");
                    return None;
                }
                (*round, messages::target(&vote.message))
            }
            GossipMessage::Commit { round, commit, .. } => {
                if let Err(e) = messages::check_commit(commit, *round, message_set, set_id, authorities) {
                    debug!(target: "grandpa", error = %e, "commit dropped");
                    return None;
                }
                (*round, (commit.target_hash, commit.target_number))
            }
        };
        if !self.shared.client.header(&target.0).is_ok_and(|h| h.is_some()) {
            if router.waiting.len() < MAX_WAITING {
                router.waiting.push(message);
            }
            if let (Some(peer), Some(requests)) = (from, self.shared.missing_blocks.get()) {
                let _ = requests.send((peer, target.0));
            }
            return (round > router.highest_open + 1).then_some(round);
        }
        match message {
            GossipMessage::Vote { round, message: vote, .. } => router.deliver(round, vote),
            GossipMessage::Commit { round, commit, .. } => {
                if let Some(tx) = &router.commits {
                    let _ = tx.unbounded_send(finality_grandpa::voter::CommunicationIn::Commit(
                        round,
                        commit.into(),
                        finality_grandpa::voter::Callback::Blank,
                    ));
                }
            }
        }
        (round > router.highest_open + 1).then_some(round)
    }

    fn retry_waiting(&self) {
        let waiting = std::mem::take(&mut self.shared.router.lock().waiting);
        if waiting.is_empty() {
            return;
        }
        let set_id = self.shared.router.lock().set_id;
        for message in waiting {
            if message_set(&message) >= set_id {
                self.process(message, None);
            }
        }
    }

    /// Asks `peer` for its last completed round when the network is rounds ahead of us.
    fn maybe_catch_up(&self, peer: PeerId, round: u64) {
        let Some(network) = self.shared.network.clone() else { return };
        {
            let mut last = self.shared.last_catch_up.lock();
            if last.is_some_and(|t| t.elapsed() < CATCH_UP_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        let set_id = self.shared.router.lock().set_id;
        let this = self.clone();
        debug!(target: "grandpa", %peer, round, "behind the network's rounds; asking for a catch-up");
        tokio::spawn(async move {
            match network.request(peer, SyncRequest::GrandpaCatchUp { set_id }).await {
                Ok(SyncResponse::GrandpaCatchUp(bytes)) => this.on_catch_up(peer, &bytes),
                Ok(other) => debug!(target: "grandpa", %peer, ?other, "no catch-up from peer"),
                Err(e) => debug!(target: "grandpa", %peer, error = %e, "catch-up request failed"),
            }
        });
    }

    fn on_catch_up(&self, peer: PeerId, bytes: &[u8]) {
        let Ok(completed) = CompletedRound::decode(&mut &bytes[..]) else {
            debug!(target: "grandpa", %peer, "undecodable catch-up dropped");
            return;
        };
        let router = self.shared.router.lock();
        if completed.set_id != router.set_id || completed.round <= router.highest_open {
            return;
        }
        let catch_up = completed.to_catch_up();
        if let Err(e) = messages::check_catch_up(&catch_up, router.set_id, &router.authorities) {
            warn!(target: "grandpa", %peer, error = %e, "invalid catch-up dropped");
            return;
        }
        let known = |hash: &Hash| self.shared.client.header(hash).is_ok_and(|h| h.is_some());
        let all_known = known(&catch_up.base_hash)
            && catch_up.prevotes.iter().all(|p| known(&p.prevote.target_hash))
            && catch_up.precommits.iter().all(|p| known(&p.precommit.target_hash));
        if !all_known {
            debug!(target: "grandpa", %peer, "catch-up names blocks not imported yet; later");
            return;
        }
        info!(target: "grandpa", round = completed.round, %peer, "catching up to the network's round");
        if let Some(tx) = &router.commits {
            let _ = tx.unbounded_send(finality_grandpa::voter::CommunicationIn::CatchUp(
                catch_up,
                finality_grandpa::voter::Callback::Blank,
            ));
        }
    }

    /// Answers a peer's catch-up request with our last completed round of `set_id`.
    pub fn answer_catch_up(&self, set_id: SetId) -> SyncResponse {
        match &self.shared.router.lock().last_completed {
            Some(c) if c.set_id == set_id => SyncResponse::GrandpaCatchUp(c.encode()),
            _ => SyncResponse::Refused("no completed round of that authority set".into()),
        }
    }

    /// The voter's rounds in the shape of Substrate's `grandpa_roundState`: weights so far
    /// and the authorities whose votes are missing, for the best round and background rounds.
    pub fn round_state(&self) -> Option<serde_json::Value> {
        let state = self.shared.voter_state.lock().as_ref()?.get();
        let (set_id, authorities) = {
            let router = self.shared.router.lock();
            (router.set_id, router.authorities.clone())
        };
        let missing = |voted: &std::collections::HashSet<AuthorityId>| -> Vec<String> {
            authorities.iter().filter(|(id, _)| !voted.contains(id)).map(|(id, _)| id.to_string()).collect()
        };
        let round = |number: u64, r: &finality_grandpa::voter::report::RoundState<AuthorityId>| {
            serde_json::json!({
                "round": number,
                "totalWeight": r.total_weight.get(),
                "thresholdWeight": r.threshold_weight.get(),
                "prevotes": { "currentWeight": r.prevote_current_weight.0, "missing": missing(&r.prevote_ids) },
                "precommits": { "currentWeight": r.precommit_current_weight.0, "missing": missing(&r.precommit_ids) },
            })
        };
        let mut background: Vec<_> = state.background_rounds.iter().collect();
        background.sort_by_key(|(n, _)| **n);
        Some(serde_json::json!({
            "setId": set_id,
            "best": round(state.best_round.0, &state.best_round.1),
            "background": background.into_iter().map(|(n, r)| round(*n, r)).collect::<Vec<_>>(),
        }))
    }
}
