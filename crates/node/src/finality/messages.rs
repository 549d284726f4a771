//! GRANDPA messages as they travel on the gossip topic, and their checks.
//!
//! Every message names the authority set it belongs to. A vote is accepted only from a member
//! of that set with a valid signature over Substrate's localized payload (round, set id,
//! message), the same bytes a justification's precommits are signed over; a commit only if every
//! precommit in it verifies the same way. The voter itself then checks supermajorities.

use cloister_primitives::{BlockNumber, Hash};
use codec::{Decode, Encode};
use sp_consensus_grandpa::{AuthorityId, AuthorityList, AuthoritySignature, SetId};

/// A vote with its signer and signature.
pub type SignedMessage = finality_grandpa::SignedMessage<Hash, BlockNumber, AuthoritySignature, AuthorityId>;
/// A vote before signing.
pub type Message = finality_grandpa::Message<Hash, BlockNumber>;
/// A commit: the precommits that finalized a block in a round.
pub type Commit = finality_grandpa::Commit<Hash, BlockNumber, AuthoritySignature, AuthorityId>;
/// The votes of a completed round, for a voter that fell behind.
pub type CatchUp = finality_grandpa::CatchUp<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

/// What a node gossips on the GRANDPA topic.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub enum GossipMessage {
    /// A prevote, precommit or primary proposal.
    Vote {
        /// The authority set.
        set_id: SetId,
        /// The round.
        round: u64,
        /// The signed vote.
        message: SignedMessage,
    },
    /// A commit that finalizes a block.
    Commit {
        /// The authority set.
        set_id: SetId,
        /// The round.
        round: u64,
        /// The commit.
        commit: Commit,
    },
}

/// Encodes a message for the gossip topic, stamped with the sending time so that a message
/// sent again (to peers that joined since) is not taken for a duplicate by the gossip layer.
pub fn encode_gossip(message: &GossipMessage) -> Vec<u8> {
    (message, crate::client::now_millis()).encode()
}

/// Decodes a message from the gossip topic.
pub fn decode_gossip(mut bytes: &[u8]) -> Result<GossipMessage, codec::Error> {
    let (message, _sent_at) = <(GossipMessage, u64)>::decode(&mut bytes)?;
    Ok(message)
}

/// This node's own votes in the last round it voted in; stored before they are sent, so that a
/// restarted node re-sends them instead of voting again (which would be an equivocation).
#[derive(Clone, Debug, Default, Encode, Decode, PartialEq, Eq)]
pub struct OwnVotes {
    /// The authority set.
    pub set_id: SetId,
    /// The round.
    pub round: u64,
    /// The signed votes.
    pub votes: Vec<SignedMessage>,
}

/// The votes of a node's last completed round, served to peers for catch-up.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq)]
pub struct CompletedRound {
    /// The authority set.
    pub set_id: SetId,
    /// The round.
    pub round: u64,
    /// The round's base block.
    pub base: (Hash, BlockNumber),
    /// Every vote seen in the round.
    pub votes: Vec<SignedMessage>,
}

impl CompletedRound {
    /// The round as a catch-up message.
    pub fn to_catch_up(&self) -> CatchUp {
        let mut prevotes = Vec::new();
        let mut precommits = Vec::new();
        for vote in &self.votes {
            match &vote.message {
                finality_grandpa::Message::Prevote(prevote) => prevotes.push(finality_grandpa::SignedPrevote {
                    prevote: prevote.clone(),
                    signature: vote.signature.clone(),
                    id: vote.id.clone(),
                }),
                finality_grandpa::Message::Precommit(precommit) => precommits.push(finality_grandpa::SignedPrecommit {
                    precommit: precommit.clone(),
                    signature: vote.signature.clone(),
                    id: vote.id.clone(),
                }),
                finality_grandpa::Message::PrimaryPropose(_) => {}
            }
        }
        CatchUp { round_number: self.round, prevotes, precommits, base_hash: self.base.0, base_number: self.base.1 }
    }
}

/// Why a message was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    /// The message is for another authority set.
    #[error("message of authority set {found}, voting in set {expected}")]
    WrongSet {
        /// The set this node votes in.
        expected: SetId,
        /// The set the message names.
        found: SetId,
    },
    /// The signer is not in the authority set.
    #[error("{0} is not a GRANDPA authority of this set")]
    NotAVoter(AuthorityId),
    /// The signature does not verify.
    #[error("bad signature by {0}")]
    BadSignature(AuthorityId),
    /// A commit without precommits.
    #[error("empty commit")]
    EmptyCommit,
}

fn is_voter(id: &AuthorityId, authorities: &AuthorityList) -> bool {
    authorities.iter().any(|(a, _)| a == id)
}

/// Checks a vote's set, signer and signature.
pub fn check_vote(
    message: &SignedMessage,
    round: u64,
    set_id: SetId,
    expected_set: SetId,
    authorities: &AuthorityList,
) -> Result<(), MessageError> {
    if set_id != expected_set {
        return Err(MessageError::WrongSet { expected: expected_set, found: set_id });
    }
    if !is_voter(&message.id, authorities) {
        return Err(MessageError::NotAVoter(message.id.clone()));
    }
    if !sp_consensus_grandpa::check_message_signature(&message.message, &message.id, &message.signature, round, set_id)
        .is_valid()
    {
        return Err(MessageError::BadSignature(message.id.clone()));
    }
    Ok(())
}

/// Checks a commit's set and every precommit's signer and signature.
pub fn check_commit(
    commit: &Commit,
    round: u64,
    set_id: SetId,
    expected_set: SetId,
    authorities: &AuthorityList,
) -> Result<(), MessageError> {
    if set_id != expected_set {
        return Err(MessageError::WrongSet { expected: expected_set, found: set_id });
    }
    if commit.precommits.is_empty() {
        return Err(MessageError::EmptyCommit);
    }
    for signed in &commit.precommits {
        let message = finality_grandpa::Message::Precommit(signed.precommit.clone());
        let vote = SignedMessage { message, signature: signed.signature.clone(), id: signed.id.clone() };
        check_vote(&vote, round, set_id, expected_set, authorities)?;
    }
    Ok(())
}

/// Checks every vote of a catch-up.
pub fn check_catch_up(catch_up: &CatchUp, set_id: SetId, authorities: &AuthorityList) -> Result<(), MessageError> {
    let round = catch_up.round_number;
    for p in &catch_up.prevotes {
        let vote = SignedMessage {
            message: finality_grandpa::Message::Prevote(p.prevote.clone()),
            signature: p.signature.clone(),
            id: p.id.clone(),
        };
        check_vote(&vote, round, set_id, set_id, authorities)?;
    }
    for p in &catch_up.precommits {
        let vote = SignedMessage {
            message: finality_grandpa::Message::Precommit(p.precommit.clone()),
            signature: p.signature.clone(),
            id: p.id.clone(),
        };
        check_vote(&vote, round, set_id, set_id, authorities)?;
    }
    Ok(())
}

/// Signs a vote in `round` of set `set_id`.
pub fn sign(pair: &sp_consensus_grandpa::AuthorityPair, message: Message, round: u64, set_id: SetId) -> SignedMessage {
    use sp_core::Pair;
    let payload = sp_consensus_grandpa::localized_payload(round, set_id, &message);
    SignedMessage { message, signature: pair.sign(&payload), id: pair.public() }
}

/// The block a vote targets.
pub fn target(message: &Message) -> (Hash, BlockNumber) {
    match message {
        finality_grandpa::Message::Prevote(v) => (v.target_hash, v.target_number),
        finality_grandpa::Message::Precommit(v) => (v.target_hash, v.target_number),
        finality_grandpa::Message::PrimaryPropose(v) => (v.target_hash, v.target_number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_core::Pair;

    fn pair(suri: &str) -> sp_consensus_grandpa::AuthorityPair {
        sp_consensus_grandpa::AuthorityPair::from_string(suri, None).expect("dev key")
    }

    fn prevote() -> Message {
        finality_grandpa::Message::Prevote(finality_grandpa::Prevote::new(Hash::repeat_byte(1), 3))
    }

    #[test]
    fn votes_are_checked_for_set_signer_and_signature() {
        let (alice, bob) = (pair("//Alice"), pair("//Bob"));
        let set: AuthorityList = vec![(alice.public(), 1)];
        let vote = sign(&alice, prevote(), 5, 2);
        assert_eq!(check_vote(&vote, 5, 2, 2, &set), Ok(()));
        assert_eq!(check_vote(&vote, 6, 2, 2, &set), Err(MessageError::BadSignature(alice.public())));
        assert_eq!(check_vote(&vote, 5, 2, 3, &set), Err(MessageError::WrongSet { expected: 3, found: 2 }));
        let stranger = sign(&bob, prevote(), 5, 2);
        assert_eq!(check_vote(&stranger, 5, 2, 2, &set), Err(MessageError::NotAVoter(bob.public())));
    }

    #[test]
    fn gossip_messages_round_trip() {
        let message = GossipMessage::Vote { set_id: 1, round: 9, message: sign(&pair("//Alice"), prevote(), 9, 1) };
        let first = encode_gossip(&message);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = encode_gossip(&message);
        assert_ne!(first, again, "a message sent again is not a gossip duplicate");
        assert_eq!(decode_gossip(&first), Ok(message.clone()));
        assert_eq!(decode_gossip(&again), Ok(message));
        assert!(decode_gossip(&first[..first.len() - 9]).is_err());
    }
}
