//! GRANDPA justifications: proof that a supermajority of the authority set precommitted to a
//! block (or its descendants) in one round.
//!
//! The format is Substrate's [`GrandpaJustification`], so the enclave's light client and external
//! tools read the same bytes the node stores and serves.

use cloister_primitives::{BlockNumber, Hash, Header};
use sp_consensus_grandpa::{AuthorityId, AuthorityList, AuthorityPair, AuthoritySignature, SetId};
use sp_core::Pair;
use sp_runtime::traits::Header as _;
use std::collections::HashMap;

pub use sp_consensus_grandpa::GRANDPA_ENGINE_ID;

/// A GRANDPA justification of a parentchain block.
pub type GrandpaJustification = sp_consensus_grandpa::GrandpaJustification<Header>;
/// A precommit for a block.
pub type Precommit = finality_grandpa::Precommit<Hash, BlockNumber>;
/// A precommit with its signer and signature.
pub type SignedPrecommit = finality_grandpa::SignedPrecommit<Hash, BlockNumber, AuthoritySignature, AuthorityId>;

/// Why a justification does not prove finality.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JustificationError {
    /// The justification finalizes another block than the one it came with.
    #[error("justification targets block {found_number} ({found}) but {expected} was expected")]
    WrongTarget {
        /// The block it came with.
        expected: Hash,
        /// The block its commit targets.
        found: Hash,
        /// Number of the block its commit targets.
        found_number: BlockNumber,
    },
    /// The authority set is empty or has zero weight.
    #[error("invalid authority set")]
    InvalidAuthoritySet,
    /// Fewer than two thirds of the authorities' weight precommitted (or votes were malformed).
    #[error("commit is not backed by a supermajority of the authority set {set_id}")]
    NoSupermajority {
        /// The authority set the justification was checked against.
        set_id: SetId,
    },
    /// A precommit's signature is invalid for this round and set.
    #[error("bad signature on a precommit by {signer}")]
    BadSignature {
        /// The claimed signer.
        signer: AuthorityId,
    },
    /// The vote ancestries do not connect the precommits to the target, or contain extra headers.
    #[error("vote ancestries are invalid: {0}")]
    BadAncestry(&'static str),
}

/// Signs a precommit for `(target_hash, target_number)` in `round` of set `set_id`.
pub fn sign_precommit(
    pair: &AuthorityPair,
    round: u64,
    set_id: SetId,
    target_hash: Hash,
    target_number: BlockNumber,
) -> SignedPrecommit {
    let precommit = Precommit::new(target_hash, target_number);
    let message = finality_grandpa::Message::Precommit(precommit.clone());
    let payload = sp_consensus_grandpa::localized_payload(round, set_id, &message);
    SignedPrecommit { precommit, signature: pair.sign(&payload), id: pair.public() }
}

/// A justification for `header` made of precommits that all target it directly.
pub fn justification_for(header: &Header, round: u64, precommits: Vec<SignedPrecommit>) -> GrandpaJustification {
    GrandpaJustification {
        round,
        commit: finality_grandpa::Commit { target_hash: header.hash(), target_number: *header.number(), precommits },
        votes_ancestries: Vec::new(),
    }
}

/// Ancestry of the blocks named in a justification, known only from its `votes_ancestries`.
struct AncestryChain {
    headers: HashMap<Hash, Header>,
}

impl finality_grandpa::Chain<Hash, BlockNumber> for AncestryChain {
    fn ancestry(&self, base: Hash, block: Hash) -> Result<Vec<Hash>, finality_grandpa::Error> {
        let mut route = Vec::new();
        let mut current = block;
        loop {
            if current == base {
                break;
            }
            match self.headers.get(&current) {
                Some(header) => {
                    current = *header.parent_hash();
                    route.push(current);
                }
                None => return Err(finality_grandpa::Error::NotDescendent),
            }
        }
        route.pop(); // `base` itself is not part of the ancestry.
        Ok(route)
    }
}

/// Verifies that `justification` finalizes `expected` under the authority set `set_id`.
pub fn verify(
    justification: &GrandpaJustification,
    expected: Hash,
    set_id: SetId,
    authorities: &AuthorityList,
) -> Result<(), JustificationError> {
    let commit = &justification.commit;
    if commit.target_hash != expected {
        return Err(JustificationError::WrongTarget {
            expected,
            found: commit.target_hash,
            found_number: commit.target_number,
        });
    }
    let voters = finality_grandpa::voter_set::VoterSet::new(authorities.iter().cloned())
        .ok_or(JustificationError::InvalidAuthoritySet)?;
    let chain =
        AncestryChain { headers: justification.votes_ancestries.iter().map(|h| (h.hash(), h.clone())).collect() };
    match finality_grandpa::validate_commit(commit, &voters, &chain) {
        Ok(result) if result.is_valid() => {}
        _ => return Err(JustificationError::NoSupermajority { set_id }),
    }

    let mut used = std::collections::HashSet::new();
    for signed in &commit.precommits {
        let message = finality_grandpa::Message::Precommit(signed.precommit.clone());
        if !sp_consensus_grandpa::check_message_signature(
            &message,
            &signed.id,
            &signed.signature,
            justification.round,
            set_id,
        )
        .is_valid()
        {
            return Err(JustificationError::BadSignature { signer: signed.id.clone() });
        }
        if signed.precommit.target_hash == commit.target_hash {
            continue;
        }
        let route = finality_grandpa::Chain::ancestry(&chain, commit.target_hash, signed.precommit.target_hash)
            .map_err(|_| JustificationError::BadAncestry("a precommit does not descend from the target"))?;
        used.insert(signed.precommit.target_hash);
        used.extend(route);
    }
    if used.len() != chain.headers.len() {
        return Err(JustificationError::BadAncestry("unused headers in the vote ancestries"));
    }
    Ok(())
}

/// The GRANDPA authority id of a key pair.
pub fn authority_id(pair: &AuthorityPair) -> AuthorityId {
    pair.public()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(number: BlockNumber, parent: Hash) -> Header {
        Header::new(number, Default::default(), Default::default(), parent, Default::default())
    }

    fn pair(suri: &str) -> AuthorityPair {
        AuthorityPair::from_string(suri, None).expect("dev key")
    }

    fn set(names: &[&str]) -> AuthorityList {
        names.iter().map(|n| (pair(n).public(), 1)).collect()
    }

    #[test]
    fn single_voter_justification_verifies() {
        let h = header(1, Hash::repeat_byte(1));
        let alice = pair("//Alice");
        let j = justification_for(&h, 1, vec![sign_precommit(&alice, 1, 0, h.hash(), 1)]);
        assert_eq!(verify(&j, h.hash(), 0, &set(&["//Alice"])), Ok(()));
    }

    #[test]
    fn wrong_set_id_or_signer_fails() {
        let h = header(1, Hash::repeat_byte(1));
        let alice = pair("//Alice");
        let j = justification_for(&h, 1, vec![sign_precommit(&alice, 1, 0, h.hash(), 1)]);
        assert!(matches!(verify(&j, h.hash(), 1, &set(&["//Alice"])), Err(JustificationError::BadSignature { .. })));
        assert_eq!(verify(&j, h.hash(), 0, &set(&["//Bob"])), Err(JustificationError::NoSupermajority { set_id: 0 }));
    }

    #[test]
    fn needs_two_thirds_of_four() {
        let h = header(5, Hash::repeat_byte(3));
        let names = ["//Alice", "//Bob", "//Charlie", "//Dave"];
        let votes = |n: usize| names[..n].iter().map(|s| sign_precommit(&pair(s), 7, 2, h.hash(), 5)).collect();
        let authorities = set(&names);
        assert!(verify(&justification_for(&h, 7, votes(2)), h.hash(), 2, &authorities).is_err());
        assert_eq!(verify(&justification_for(&h, 7, votes(3)), h.hash(), 2, &authorities), Ok(()));
    }

    #[test]
    fn precommits_on_descendants_need_their_ancestry() {
        let target = header(5, Hash::repeat_byte(3));
        let child = header(6, target.hash());
        let names = ["//Alice", "//Bob", "//Charlie"];
        let precommits: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (hash, number) = if i == 0 { (child.hash(), 6) } else { (target.hash(), 5) };
                sign_precommit(&pair(s), 1, 0, hash, number)
            })
            .collect();
        let mut j = justification_for(&target, 1, precommits);
        assert!(verify(&j, target.hash(), 0, &set(&names)).is_err());
        j.votes_ancestries.push(child);
        assert_eq!(verify(&j, target.hash(), 0, &set(&names)), Ok(()));
        j.votes_ancestries.push(header(9, Hash::repeat_byte(9)));
        assert!(verify(&j, target.hash(), 0, &set(&names)).is_err());
    }

    #[test]
    fn justification_for_other_block_fails() {
        let h = header(1, Hash::repeat_byte(1));
        let alice = pair("//Alice");
        let j = justification_for(&h, 1, vec![sign_precommit(&alice, 1, 0, h.hash(), 1)]);
        assert!(matches!(
            verify(&j, Hash::repeat_byte(7), 0, &set(&["//Alice"])),
            Err(JustificationError::WrongTarget { .. })
        ));
    }
}
