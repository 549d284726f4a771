//! The light client: its sealed state, the trust anchor and run synchronisation.

use crate::{
    digest,
    error::{JustificationFault, LightClientError},
    storage::{self, EXTRINSICS_ROOT_STATE_VERSION},
    BlockData, FinalizedBlock,
};
use cloister_consensus::{
    aura::{self, Slot},
    grandpa::{self, GrandpaJustification},
    AuraError, CheckedHeader, JustificationError,
};
use cloister_primitives::{BlockNumber, Hash, Header};
use codec::{Decode, DecodeAll, Encode};
use sp_consensus_aura::{
    digests::CompatibleDigestItem,
    sr25519::{AuthorityId as AuraId, AuthoritySignature},
};
use sp_consensus_grandpa::{AuthorityList, SetId};
use sp_runtime::{traits::Header as _, DigestItem, RuntimeAppPublic};

/// The light client has no clock: a slot "now" so late that no header is from the future.
/// Headers only reach it once finalized, so holding back future blocks is the node's job.
fn no_clock() -> Slot {
    Slot::from(u64::MAX - 1)
}

/// A GRANDPA authority set and its id.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct GrandpaSet {
    /// The set id, which every precommit signature covers.
    pub set_id: SetId,
    /// The voters and their weights.
    pub authorities: AuthorityList,
}

/// The parentchain light client. Its whole state is SCALE-encodable so the enclave can seal it.
///
/// It holds the last finalized header and the authority sets that rule the blocks after it.
/// It changes only through [`LightClient::sync`], and only when a whole run verifies.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct LightClient {
    genesis_hash: Hash,
    finalized: Header,
    aura: Vec<AuraId>,
    grandpa: GrandpaSet,
    slot_duration_ms: Option<u64>,
}

fn decode_value<T: Decode>(what: &'static str, value: Option<Vec<u8>>) -> Result<Option<T>, LightClientError> {
    value
        .map(|bytes| {
            T::decode_all(&mut &bytes[..])
                .map_err(|e| LightClientError::UndecodableStorage { what, reason: e.to_string() })
        })
        .transpose()
}

impl LightClient {
    /// Starts from the genesis header (the trust anchor: the caller pins its hash) and a read
    /// proof against its state root of [`storage::genesis_keys`]: the Aura and GRANDPA
    /// authority sets, the GRANDPA set id and the slot duration.
    pub fn from_genesis(genesis: Header, proof: Vec<Vec<u8>>) -> Result<Self, LightClientError> {
        let number = *genesis.number();
        if number != 0 {
            return Err(LightClientError::NotGenesis { number });
        }
        let state_root = *genesis.state_root();
        let mut values = storage::read_proof(&state_root, &proof, &storage::genesis_keys())
            .map_err(|reason| LightClientError::BadProof { block: Some(0), state_root, reason })?
            .into_iter()
            .map(|(_, value)| value);
        let mut next = || values.next().flatten();
        let aura: Vec<AuraId> = decode_value("Aura::Authorities", next())?
            .ok_or(LightClientError::MissingStorage { what: "Aura::Authorities" })?;
        let authorities: AuthorityList = decode_value("Grandpa::Authorities", next())?
            .ok_or(LightClientError::MissingStorage { what: "Grandpa::Authorities" })?;
        let set_id: SetId = decode_value("Grandpa::CurrentSetId", next())?.unwrap_or(0);
        let slot_duration_ms: Option<u64> = decode_value("SlotDuration", next())?;
        if aura.is_empty() {
            return Err(LightClientError::EmptyAuthoritySet { what: "Aura", number: 0 });
        }
        if authorities.is_empty() {
            return Err(LightClientError::EmptyAuthoritySet { what: "GRANDPA", number: 0 });
        }
        Ok(Self {
            genesis_hash: genesis.hash(),
            finalized: genesis,
            aura,
            grandpa: GrandpaSet { set_id, authorities },
            slot_duration_ms,
        })
    }

    /// Verifies a run of blocks that extends the last finalized block and ends at a block
    /// with a GRANDPA justification, and returns them all as finalized, oldest first.
    ///
    /// Every block must name its predecessor as parent, be sealed by its slot's author in the
    /// current Aura set, match its extrinsics root and prove its `System::Events` against its
    /// state root. A justification is checked against the current GRANDPA set; a block that
    /// schedules a GRANDPA change must carry one, and the next set rules from its child on.
    /// Everything is verified before anything changes: on an error the client is unchanged.
    /// An empty run changes nothing and returns nothing.
    pub fn sync(&mut self, run: Vec<BlockData>) -> Result<Vec<FinalizedBlock>, LightClientError> {
        let mut next = self.clone();
        let mut finalized = Vec::with_capacity(run.len());
        let mut last_justified = true;
        for block in run {
            let (block, justified) = next.import(block)?;
            last_justified = justified;
            finalized.push(block);
        }
        if !last_justified {
            let (number, hash) = (*next.finalized.number(), next.finalized.hash());
            return Err(LightClientError::NotFinal { number, hash });
        }
        *self = next;
        Ok(finalized)
    }

    /// Verifies one block on top of `self.finalized` and advances the working copy to it;
    /// returns the block and whether it carried a valid justification.
    fn import(&mut self, block: BlockData) -> Result<(FinalizedBlock, bool), LightClientError> {
        let BlockData { header, extrinsics, justification, events_proof } = block;
        let hash = header.hash();
        let number = *header.number();
        let parent_number = *self.finalized.number();
        let parent_hash = self.finalized.hash();
        if *header.parent_hash() != parent_hash || parent_number.checked_add(1) != Some(number) {
            return Err(LightClientError::NotExtending {
                number,
                hash,
                parent_hash: *header.parent_hash(),
                expected_number: parent_number,
                expected_parent: parent_hash,
            });
        }
        let parent_slot = if parent_number == 0 { None } else { aura::find_slot(&self.finalized).ok() };
        let checked = check_seal(&header, hash, &self.aura, parent_slot)?;

        let computed = storage::extrinsics_root(&extrinsics, EXTRINSICS_ROOT_STATE_VERSION);
        if computed != *header.extrinsics_root() {
            return Err(LightClientError::ExtrinsicsRootMismatch {
                number,
                hash,
                expected: *header.extrinsics_root(),
                computed,
            });
        }
        let state_root = *header.state_root();
        let events = storage::read_proof(&state_root, &events_proof, &[storage::system_events_key()])
            .map_err(|reason| LightClientError::BadProof { block: Some(number), state_root, reason })?
            .into_iter()
            .next()
            .and_then(|(_, value)| value)
            .unwrap_or_default();

        let changes = digest::changes(&checked.pre_header, hash)?;
        let justified = match &justification {
            Some(bytes) => {
                check_justification(bytes, number, hash, &self.grandpa)?;
                true
            }
            None => false,
        };
        if changes.grandpa.is_some() && !justified {
            return Err(LightClientError::ChangeWithoutJustification { number, hash });
        }

        if let Some(aura) = changes.aura {
            self.aura = aura;
        }
        if let Some(authorities) = changes.grandpa {
            self.grandpa = GrandpaSet { set_id: self.grandpa.set_id.saturating_add(1), authorities };
        }
        self.finalized = header.clone();
        Ok((FinalizedBlock { number, hash, header, extrinsics, events }, justified))
    }

    /// Reads `keys` through a read proof against the state of `at`, a header the caller got
    /// from this client ([`LightClient::last_finalized`] or a [`FinalizedBlock`]). Each key comes
    /// back with its value, or `None` where the proof shows it absent.
    pub fn verify_read_proof(
        &self,
        at: &Header,
        proof: &[Vec<u8>],
        keys: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Option<Vec<u8>>)>, LightClientError> {
        let state_root = *at.state_root();
        storage::read_proof(&state_root, proof, keys).map_err(|reason| LightClientError::BadProof {
            block: Some(*at.number()),
            state_root,
            reason,
        })
    }

    /// Reads `keys` through a read proof against the state of the last finalized block.
    pub fn read_finalized(
        &self,
        proof: &[Vec<u8>],
        keys: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Option<Vec<u8>>)>, LightClientError> {
        self.verify_read_proof(&self.finalized, proof, keys)
    }

    /// The hash of the genesis header the client was started from.
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }

    /// The header of the last finalized block.
    pub fn last_finalized(&self) -> &Header {
        &self.finalized
    }

    /// The hash of the last finalized block.
    pub fn last_finalized_hash(&self) -> Hash {
        self.finalized.hash()
    }

    /// The number of the last finalized block.
    pub fn last_finalized_number(&self) -> BlockNumber {
        *self.finalized.number()
    }

    /// The Aura set that authors the blocks after the last finalized one.
    pub fn aura_authorities(&self) -> &[AuraId] {
        &self.aura
    }

    /// The GRANDPA set that finalizes the blocks after the last finalized one.
    pub fn grandpa_set(&self) -> &GrandpaSet {
        &self.grandpa
    }

    /// The id of the current GRANDPA set.
    pub fn grandpa_set_id(&self) -> SetId {
        self.grandpa.set_id
    }

    /// The slot duration in milliseconds written at genesis, if the chain stores it.
    pub fn slot_duration_ms(&self) -> Option<u64> {
        self.slot_duration_ms
    }
}

/// Checks the Aura seal; on a bad seal, tells a set member sealing outside its slot from a
/// seal no member made.
fn check_seal(
    header: &Header,
    hash: Hash,
    authorities: &[AuraId],
    parent_slot: Option<Slot>,
) -> Result<CheckedHeader, LightClientError> {
    let number = *header.number();
    match aura::check_header(header.clone(), authorities, parent_slot, no_clock()) {
        Ok(checked) => Ok(checked),
        Err(AuraError::BadSeal { slot }) => {
            let expected = aura::slot_author(Slot::from(slot), authorities).map(|(i, _)| i).unwrap_or_default();
            match seal_signer(header, authorities) {
                Some(signer) => Err(LightClientError::WrongAuthor { number, hash, slot, expected, signer }),
                None => Err(LightClientError::ForgedSeal { number, hash, slot }),
            }
        }
        Err(source) => Err(LightClientError::Aura { number, hash, source }),
    }
}

/// The index of the authority whose signature the seal is, if any.
fn seal_signer(header: &Header, authorities: &[AuraId]) -> Option<u32> {
    let mut pre_header = header.clone();
    let seal = pre_header.digest_mut().pop()?;
    let signature = <DigestItem as CompatibleDigestItem<AuthoritySignature>>::as_aura_seal(&seal)?;
    let message = pre_header.hash().encode();
    authorities.iter().position(|id| id.verify(&message, &signature)).map(|i| i as u32)
}

/// Checks that `bytes` is a GRANDPA justification of block (`number`, `hash`) by `set`.
fn check_justification(
    bytes: &[u8],
    number: BlockNumber,
    hash: Hash,
    set: &GrandpaSet,
) -> Result<(), LightClientError> {
    let set_id = set.set_id;
    let bad = |reason: JustificationFault| LightClientError::BadJustification { number, hash, set_id, reason };
    let justification = GrandpaJustification::decode_all(&mut &bytes[..])
        .map_err(|e| bad(JustificationFault::Undecodable(e.to_string())))?;
    let commit = &justification.commit;
    if commit.target_hash != hash {
        return Err(bad(JustificationFault::Invalid(JustificationError::WrongTarget {
            expected: hash,
            found: commit.target_hash,
            found_number: commit.target_number,
        })));
    }
    if commit.target_number != number {
        return Err(bad(JustificationFault::WrongNumber { expected: number, found: commit.target_number }));
    }
    if let Some(outsider) =
        commit.precommits.iter().find(|signed| !set.authorities.iter().any(|(id, _)| *id == signed.id))
    {
        return Err(LightClientError::UnknownAuthority { number, hash, set_id, signer: outsider.id.clone() });
    }
    grandpa::verify(&justification, hash, set_id, &set.authorities).map_err(|e| bad(JustificationFault::Invalid(e)))
}
