//! Authority set changes announced in a header's consensus digests.
//!
//! - Aura: `pallet_aura::change_authorities` deposits `ConsensusLog::AuthoritiesChange(set)`;
//!   the new set authors from the next block on.
//! - GRANDPA: `pallet_grandpa::schedule_change` (called by the Authorities pallet with delay 0)
//!   deposits `ConsensusLog::ScheduledChange`; the old set finalizes up to and including the
//!   announcing block, the new set (id + 1) everything after it.
//!
//! A consensus digest of either engine that does not decode is refused rather than skipped, so
//! a change cannot hide in it.

use crate::error::LightClientError;
use cloister_primitives::{BlockNumber, Hash, Header};
use sp_consensus_aura::{sr25519::AuthorityId as AuraId, AURA_ENGINE_ID};
use sp_consensus_grandpa::{AuthorityList, ConsensusLog as GrandpaLog, GRANDPA_ENGINE_ID};
use sp_runtime::{traits::Header as _, DigestItem};

type AuraLog = sp_consensus_aura::ConsensusLog<AuraId>;

/// The authority changes a header announces.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The new Aura set, for the blocks after this one.
    pub aura: Option<Vec<AuraId>>,
    /// The new GRANDPA set, for the blocks after this one (this block is the old set's last).
    pub grandpa: Option<AuthorityList>,
}

/// The changes `header` announces (a header without its seal, or with it: seals are skipped).
pub fn changes(header: &Header, hash: Hash) -> Result<Changes, LightClientError> {
    let number: BlockNumber = *header.number();
    let unsupported = |reason| LightClientError::UnsupportedChange { number, hash, reason };
    let mut found = Changes::default();
    for item in header.digest().logs() {
        let DigestItem::Consensus(engine, _) = item else { continue };
        if *engine == AURA_ENGINE_ID {
            let log = item.consensus_try_to::<AuraLog>(&AURA_ENGINE_ID).ok_or(LightClientError::BadDigest {
                number,
                hash,
                engine: "Aura",
            })?;
            if let AuraLog::AuthoritiesChange(set) = log {
                if set.is_empty() {
                    return Err(LightClientError::EmptyAuthoritySet { what: "Aura", number });
                }
                found.aura = Some(set);
            }
        } else if *engine == GRANDPA_ENGINE_ID {
            let log = item
                .consensus_try_to::<GrandpaLog<BlockNumber>>(&GRANDPA_ENGINE_ID)
                .ok_or(LightClientError::BadDigest { number, hash, engine: "GRANDPA" })?;
            match log {
                GrandpaLog::ScheduledChange(change) => {
                    if change.delay != 0 {
                        return Err(unsupported("a scheduled change with a delay"));
                    }
                    if found.grandpa.is_some() {
                        return Err(unsupported("more than one scheduled change in one block"));
                    }
                    if change.next_authorities.is_empty() {
                        return Err(LightClientError::EmptyAuthoritySet { what: "GRANDPA", number });
                    }
                    found.grandpa = Some(change.next_authorities);
                }
                GrandpaLog::ForcedChange(..) => return Err(unsupported("a forced change")),
                // Disabling a voter or pausing changes neither the set nor what a valid
                // justification is.
                GrandpaLog::OnDisabled(_) | GrandpaLog::Pause(_) | GrandpaLog::Resume(_) => {}
            }
        }
    }
    Ok(found)
}
