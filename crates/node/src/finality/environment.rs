//! The node's side of `finality-grandpa`: the [`Environment`] a [`Voter`] runs in.
//!
//! - Chain queries ([`Chain::ancestry`], `best_chain_containing`) read headers from the client.
//!   The vote target never passes a block that schedules an authority set change: the current
//!   set may finalize that block but nothing after it, so a change takes effect exactly once the
//!   block announcing it is final.
//! - `round_data` opens the round in the [`Router`](super::Router) (incoming votes) and hands
//!   the voter a sink that signs its votes, gossips them and loops them back to itself.
//! - The voter's own votes and its last completed round are written to the database before they
//!   leave the node, so a restarted node neither votes twice in a round nor forgets where it was.
//! - `finalize_block` turns the round's commit into a justification and finalizes through the
//!   client, which checks it again against the authority set in the chain's state.
//!
//! [`Voter`]: finality_grandpa::voter::Voter

use super::{
    messages::{self, CompletedRound, GossipMessage, Message, OwnVotes, SignedMessage},
    Shared, KEY_COMPLETED, KEY_VOTED,
};
use crate::client::FinalityError;
use cloister_consensus::GrandpaJustification;
use cloister_primitives::{BlockNumber, Hash, Header};
use codec::Encode;
use finality_grandpa::{
    voter::{Environment, RoundData},
    Chain, Equivocation, HistoricalVotes, Precommit, Prevote, PrimaryPropose,
};
use futures::{Sink, Stream};
use sp_consensus_grandpa::{AuthorityId, AuthorityPair, AuthoritySignature, ConsensusLog, SetId};
use sp_runtime::traits::Header as _;
use std::{
    collections::BTreeMap,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tracing::{debug, info, warn};

/// Errors that stop a voter.
#[derive(Debug, thiserror::Error)]
pub enum VoterError {
    /// The protocol reported an error.
    #[error("GRANDPA: {0:?}")]
    Grandpa(finality_grandpa::Error),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl From<finality_grandpa::Error> for VoterError {
    fn from(e: finality_grandpa::Error) -> Self {
        Self::Grandpa(e)
    }
}

/// A timer of the voter.
pub type Timer = Pin<Box<dyn std::future::Future<Output = Result<(), VoterError>> + Send>>;
/// Votes of a round, as the voter reads them.
pub type Incoming = Pin<Box<dyn Stream<Item = Result<SignedMessage, VoterError>> + Send>>;

/// The environment of one authority set's voter.
pub struct VoterEnvironment {
    pub(super) shared: Arc<Shared>,
    pub(super) set_id: SetId,
    /// Our key, if it is in this set.
    pub(super) local: Option<AuthorityPair>,
    /// Rounds up to this one were voted in before a restart: the voter only observes them.
    pub(super) voted_before: Option<u64>,
    pub(super) gossip_duration: Duration,
}

impl VoterEnvironment {
    fn header(&self, hash: &Hash) -> Option<Header> {
        self.shared.client.header(hash).ok().flatten()
    }

    /// The highest block this set may vote for on the chain ending at `best`: the first block
    /// after `base` that schedules an authority set change, else `best`.
    fn vote_limit(&self, base: (Hash, BlockNumber), best: Header) -> (Hash, BlockNumber) {
        let mut limit = (best.hash(), *best.number());
        let mut cursor = best;
        while *cursor.number() > base.1 {
            if schedules_change(&cursor) {
                limit = (cursor.hash(), *cursor.number());
            }
            match self.header(cursor.parent_hash()) {
                Some(parent) => cursor = parent,
                None => break,
            }
        }
        limit
    }

    fn justification(
        &self,
        hash: Hash,
        number: BlockNumber,
        round: u64,
        commit: finality_grandpa::Commit<Hash, BlockNumber, AuthoritySignature, AuthorityId>,
    ) -> GrandpaJustification {
        let mut ancestry: BTreeMap<Hash, Header> = BTreeMap::new();
        for signed in &commit.precommits {
            let mut cursor = signed.precommit.target_hash;
            while cursor != hash && !ancestry.contains_key(&cursor) {
                let Some(header) = self.header(&cursor) else { break };
                if *header.number() <= number {
                    break;
                }
                let parent = *header.parent_hash();
                ancestry.insert(cursor, header);
                cursor = parent;
            }
        }
        GrandpaJustification { round, commit, votes_ancestries: ancestry.into_values().collect() }
    }
}

/// Whether a header carries a GRANDPA authority set change.
pub fn schedules_change(header: &Header) -> bool {
    header.digest().logs().iter().any(|item| {
        item.consensus_try_to::<ConsensusLog<BlockNumber>>(&sp_consensus_grandpa::GRANDPA_ENGINE_ID)
            .is_some_and(|log| matches!(log, ConsensusLog::ScheduledChange(_) | ConsensusLog::ForcedChange(_, _)))
    })
}

impl Chain<Hash, BlockNumber> for VoterEnvironment {
    fn ancestry(&self, base: Hash, block: Hash) -> Result<Vec<Hash>, finality_grandpa::Error> {
        if base == block {
            return Ok(Vec::new());
        }
        let base_number = match self.header(&base) {
            Some(h) => *h.number(),
            None => return Err(finality_grandpa::Error::NotDescendent),
        };
        let mut route = Vec::new();
        let mut cursor = self.header(&block).ok_or(finality_grandpa::Error::NotDescendent)?;
        loop {
            let parent = *cursor.parent_hash();
            if parent == base {
                return Ok(route);
            }
            let header = self.header(&parent).ok_or(finality_grandpa::Error::NotDescendent)?;
            if *header.number() <= base_number {
                return Err(finality_grandpa::Error::NotDescendent);
            }
            route.push(parent);
            cursor = header;
        }
    }
}

/// Signs the voter's votes, gossips them and delivers them to the voter's own round.
pub struct OutgoingVotes {
    shared: Arc<Shared>,
    round: u64,
    set_id: SetId,
    local: Option<AuthorityPair>,
}

impl Sink<Message> for OutgoingVotes {
    type Error = VoterError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        let Some(pair) = &self.local else { return Ok(()) };
        let signed = messages::sign(pair, message, self.round, self.set_id);
        {
            // Written before the vote leaves: after a crash we re-send it instead of voting again.
            let mut own = self.shared.own_votes.lock();
            if own.set_id != self.set_id || own.round != self.round {
                *own = OwnVotes { set_id: self.set_id, round: self.round, votes: Vec::new() };
            }
            own.votes.push(signed.clone());
            self.shared.client.put_aux(vec![(KEY_VOTED.to_vec(), Some(own.encode()))])?;
        }
        let gossip = GossipMessage::Vote { set_id: self.set_id, round: self.round, message: signed.clone() };
        if let Some(net) = &self.shared.network {
            net.gossip_grandpa(messages::encode_gossip(&gossip));
        }
        self.shared.router.lock().deliver(self.round, signed);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// Gossips the voter's commits.
pub struct OutgoingCommits {
    pub(super) shared: Arc<Shared>,
    pub(super) set_id: SetId,
}

/// What the voter sends to everyone.
pub type CommunicationOut =
    finality_grandpa::voter::CommunicationOut<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

impl Sink<CommunicationOut> for OutgoingCommits {
    type Error = VoterError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: CommunicationOut) -> Result<(), Self::Error> {
        let finality_grandpa::voter::CommunicationOut::Commit(round, commit) = item;
        if let Some(net) = &self.shared.network {
            net.gossip_grandpa(messages::encode_gossip(&GossipMessage::Commit { set_id: self.set_id, round, commit }));
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

fn timer(after: Duration) -> Timer {
    Box::pin(async move {
        tokio::time::sleep(after).await;
        Ok(())
    })
}

impl Environment<Hash, BlockNumber> for VoterEnvironment {
    type Timer = Timer;
    type BestChain = futures::future::Ready<Result<Option<(Hash, BlockNumber)>, VoterError>>;
    type Id = AuthorityId;
    type Signature = AuthoritySignature;
    type In = Incoming;
    type Out = Pin<Box<dyn Sink<Message, Error = VoterError> + Send>>;
    type Error = VoterError;

    fn best_chain_containing(&self, base: Hash) -> Self::BestChain {
        let Some(base_header) = self.header(&base) else { return futures::future::ready(Ok(None)) };
        let base_number = *base_header.number();
        let (_, best) = self.shared.client.best_header();
        let on_best = self.shared.client.descends_from(&best, &base).unwrap_or(false);
        let target = if on_best { self.vote_limit((base, base_number), best) } else { (base, base_number) };
        futures::future::ready(Ok(Some(target)))
    }

    fn round_data(&self, round: u64) -> RoundData<Self::Id, Self::Timer, Self::In, Self::Out> {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        {
            let mut router = self.shared.router.lock();
            router.open(round, tx);
            // Our votes of this round from before a restart count again.
            let own = self.shared.own_votes.lock();
            if own.set_id == self.set_id && own.round == round {
                for vote in &own.votes {
                    router.deliver(round, vote.clone());
                }
            }
        }
        self.shared.client.metrics().set_grandpa_round(round);
        let may_vote = self.voted_before.is_none_or(|voted| round > voted);
        let local = self.local.clone().filter(|_| may_vote);
        if self.local.is_some() && !may_vote {
            info!(target: "grandpa", round, "already voted in this round before a restart; observing it only");
        }
        let voter_id = local.as_ref().map(|pair| sp_core::Pair::public(pair));
        let outgoing = OutgoingVotes { shared: self.shared.clone(), round, set_id: self.set_id, local };
        use futures::StreamExt;
        RoundData {
            voter_id,
            prevote_timer: timer(self.gossip_duration * 2),
            precommit_timer: timer(self.gossip_duration * 4),
            incoming: Box::pin(rx.map(Ok)),
            outgoing: Box::pin(outgoing),
        }
    }

    fn round_commit_timer(&self) -> Self::Timer {
        let max = self.gossip_duration.as_millis().max(1) as u64;
        timer(Duration::from_millis(rand::random::<u64>() % max))
    }

    // Own votes are stored by the outgoing sink, which sees them signed.
    fn proposed(&self, _round: u64, _: PrimaryPropose<Hash, BlockNumber>) -> Result<(), Self::Error> {
        Ok(())
    }

    fn prevoted(&self, _round: u64, _: Prevote<Hash, BlockNumber>) -> Result<(), Self::Error> {
        Ok(())
    }

    fn precommitted(&self, _round: u64, _: Precommit<Hash, BlockNumber>) -> Result<(), Self::Error> {
        Ok(())
    }

    fn completed(
        &self,
        round: u64,
        _state: finality_grandpa::round::State<Hash, BlockNumber>,
        base: (Hash, BlockNumber),
        votes: &HistoricalVotes<Hash, BlockNumber, Self::Signature, Self::Id>,
    ) -> Result<(), Self::Error> {
        let completed = CompletedRound { set_id: self.set_id, round, base, votes: votes.seen().to_vec() };
        self.shared.client.put_aux(vec![(KEY_COMPLETED.to_vec(), Some(completed.encode()))])?;
        debug!(target: "grandpa", set_id = self.set_id, round, "round completed");
        self.shared.router.lock().last_completed = Some(completed);
        Ok(())
    }

    fn concluded(
        &self,
        _round: u64,
        _state: finality_grandpa::round::State<Hash, BlockNumber>,
        _base: (Hash, BlockNumber),
        _votes: &HistoricalVotes<Hash, BlockNumber, Self::Signature, Self::Id>,
    ) -> Result<(), Self::Error> {
        Ok(())
    }

    fn finalize_block(
        &self,
        hash: Hash,
        number: BlockNumber,
        round: u64,
        commit: finality_grandpa::Commit<Hash, BlockNumber, Self::Signature, Self::Id>,
    ) -> Result<(), Self::Error> {
        if number <= self.shared.client.info().finalized_number {
            return Ok(());
        }
        let justification = self.justification(hash, number, round, commit);
        match self.shared.client.finalize(hash, Some(justification)) {
            Ok(()) => debug!(target: "grandpa", number, %hash, round, "finalized"),
            Err(FinalityError::Db(e)) => return Err(e.into()),
            Err(e) => warn!(target: "grandpa", number, %hash, round, error = %e, "cannot finalize"),
        }
        Ok(())
    }

    fn prevote_equivocation(
        &self,
        round: u64,
        equivocation: Equivocation<Self::Id, Prevote<Hash, BlockNumber>, Self::Signature>,
    ) {
        self.shared.client.metrics().grandpa_equivocation();
        warn!(target: "grandpa", round, authority = %equivocation.identity, "equivocation: two prevotes in one round");
    }

    fn precommit_equivocation(
        &self,
        round: u64,
        equivocation: Equivocation<Self::Id, Precommit<Hash, BlockNumber>, Self::Signature>,
    ) {
        self.shared.client.metrics().grandpa_equivocation();
        warn!(target: "grandpa", round, authority = %equivocation.identity, "equivocation: two precommits in one round");
    }
}
