//! Aura: round-robin block authoring by slot.
//!
//! `slot = unix_millis / slot_duration`; the author of a slot is `authorities[slot % n]`. A header
//! carries a pre-runtime digest with its slot and ends with a seal: the author's sr25519 signature
//! of the hash of the header without the seal.

use cloister_primitives::Header;
use codec::Encode;
use sp_application_crypto::{AppCrypto, RuntimeAppPublic};
use sp_consensus_aura::{
    digests::CompatibleDigestItem,
    sr25519::{AuthorityId, AuthorityPair, AuthoritySignature},
};
use sp_core::Pair;
use sp_runtime::{traits::Header as _, DigestItem};

pub use sp_consensus_slots::Slot;

/// Why a header fails the Aura rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuraError {
    /// The header names no slot.
    #[error("header has no Aura pre-runtime digest (slot)")]
    NoSlot,
    /// The header names more than one slot.
    #[error("header has more than one Aura pre-runtime digest")]
    MultipleSlots,
    /// The last digest item is not an Aura seal.
    #[error("header is not sealed: the last digest item must be an Aura seal")]
    NoSeal,
    /// The authority set is empty.
    #[error("no Aura authorities: no block can be valid")]
    NoAuthorities,
    /// The seal does not verify against the slot's author.
    #[error("bad seal: not signed by the author of slot {slot}")]
    BadSeal {
        /// The slot the header claims.
        slot: u64,
    },
    /// The slot lies beyond the next slot of the local clock: held back.
    #[error("slot {slot} is in the future (now {now})")]
    FutureSlot {
        /// The slot the header claims.
        slot: u64,
        /// The current slot of the local clock.
        now: u64,
    },
    /// The slot is not later than the parent's slot.
    #[error("slot {slot} is not later than the parent's slot {parent}")]
    SlotNotIncreasing {
        /// The slot the header claims.
        slot: u64,
        /// The parent's slot.
        parent: u64,
    },
}

/// A header whose seal and slot have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedHeader {
    /// The header without its seal, as the runtime executes it.
    pub pre_header: Header,
    /// The seal that was removed.
    pub seal: DigestItem,
    /// The slot of the header.
    pub slot: Slot,
    /// Index of the author in the authority set.
    pub author_index: u32,
}

/// The slot that contains the given Unix time in milliseconds.
pub fn slot_at(unix_millis: u64, slot_duration_ms: u64) -> Slot {
    Slot::from(unix_millis / slot_duration_ms.max(1))
}

/// The author of a slot, by round robin.
pub fn slot_author(slot: Slot, authorities: &[AuthorityId]) -> Option<(u32, &AuthorityId)> {
    if authorities.is_empty() {
        return None;
    }
    let index = (*slot % authorities.len() as u64) as usize;
    Some((index as u32, &authorities[index]))
}

/// The pre-runtime digest item that names a slot.
pub fn pre_digest(slot: Slot) -> DigestItem {
    <DigestItem as CompatibleDigestItem<AuthoritySignature>>::aura_pre_digest(slot)
}

/// The slot a header names in its pre-runtime digest.
pub fn find_slot(header: &Header) -> Result<Slot, AuraError> {
    let mut found = None;
    for item in header.digest().logs() {
        if let Some(slot) = <DigestItem as CompatibleDigestItem<AuthoritySignature>>::as_aura_pre_digest(item) {
            if found.is_some() {
                return Err(AuraError::MultipleSlots);
            }
            found = Some(slot);
        }
    }
    found.ok_or(AuraError::NoSlot)
}

/// Seals a header built by `pair`: signs its hash and appends the seal.
pub fn seal(mut header: Header, pair: &AuthorityPair) -> Header {
    let hash = header.hash();
    let signature = pair.sign(hash.as_ref());
    header.digest_mut().push(<DigestItem as CompatibleDigestItem<AuthoritySignature>>::aura_seal(signature));
    header
}

/// Checks a sealed header against the Aura rules.
///
/// `parent_slot` is the parent's slot (`None` for a child of genesis) and `now` the current slot
/// of the local clock; a header from beyond the next slot is refused with
/// [`AuraError::FutureSlot`] so the caller can hold it back.
pub fn check_header(
    mut header: Header,
    authorities: &[AuthorityId],
    parent_slot: Option<Slot>,
    now: Slot,
) -> Result<CheckedHeader, AuraError> {
    let seal = header.digest_mut().pop().ok_or(AuraError::NoSeal)?;
    let signature =
        <DigestItem as CompatibleDigestItem<AuthoritySignature>>::as_aura_seal(&seal).ok_or(AuraError::NoSeal)?;
    let slot = find_slot(&header)?;
    if slot > now + 1 {
        return Err(AuraError::FutureSlot { slot: *slot, now: *now });
    }
    if let Some(parent) = parent_slot {
        if slot <= parent {
            return Err(AuraError::SlotNotIncreasing { slot: *slot, parent: *parent });
        }
    }
    let (author_index, author) = slot_author(slot, authorities).ok_or(AuraError::NoAuthorities)?;
    let pre_hash = header.hash();
    if !author.verify(&pre_hash.encode(), &signature) {
        return Err(AuraError::BadSeal { slot: *slot });
    }
    Ok(CheckedHeader { pre_header: header, seal, slot, author_index })
}

/// The Aura authority id of a key pair.
pub fn authority_id(pair: &AuthorityPair) -> AuthorityId {
    pair.public()
}

/// Creates an Aura key pair from a secret URI such as `//Alice`.
pub fn pair_from_suri(suri: &str) -> Option<AuthorityPair> {
    <AuthorityPair as Pair>::from_string(suri, None).ok()
}

/// The crypto the authority ids use, for keystores that store raw keys.
pub type AuraCrypto = <AuthorityId as AppCrypto>::Pair;

/// Two different headers sealed by one author for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivocation {
    /// The slot.
    pub slot: Slot,
    /// The author that sealed both.
    pub author: AuthorityId,
    /// The header seen first.
    pub first: cloister_primitives::Hash,
    /// The header seen now.
    pub second: cloister_primitives::Hash,
}

/// Remembers which header each author sealed in recent slots, to notice equivocations.
///
/// Substrate's Aura does the same on import: the second block is still imported (the longest
/// chain rule and GRANDPA decide between them); the equivocation is logged and counted.
#[derive(Debug)]
pub struct EquivocationDetector {
    window: u64,
    seen: std::collections::BTreeMap<Slot, Vec<(AuthorityId, cloister_primitives::Hash)>>,
}

impl EquivocationDetector {
    /// Remembers the last `window` slots.
    pub fn new(window: u64) -> Self {
        Self { window: window.max(1), seen: Default::default() }
    }

    /// Notes that `author` sealed `hash` for `slot`; returns the equivocation if it sealed
    /// another header for that slot before.
    pub fn note(&mut self, slot: Slot, author: &AuthorityId, hash: cloister_primitives::Hash) -> Option<Equivocation> {
        let newest = self.seen.keys().next_back().copied().unwrap_or(slot).max(slot);
        let horizon = Slot::from(newest.saturating_sub(self.window));
        if slot < horizon {
            return None;
        }
        self.seen = self.seen.split_off(&horizon);
        let entries = self.seen.entry(slot).or_default();
        if let Some((_, first)) = entries.iter().find(|(a, _)| a == author) {
            if *first != hash {
                return Some(Equivocation { slot, author: author.clone(), first: *first, second: hash });
            }
            return None;
        }
        entries.push((author.clone(), hash));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(slot: u64) -> Header {
        let mut h = Header::new(1, Default::default(), Default::default(), Default::default(), Default::default());
        h.digest_mut().push(pre_digest(Slot::from(slot)));
        h
    }

    fn keys() -> (Vec<AuthorityPair>, Vec<AuthorityId>) {
        let pairs: Vec<_> = ["//Alice", "//Bob"].iter().filter_map(|s| pair_from_suri(s)).collect();
        let ids = pairs.iter().map(authority_id).collect();
        (pairs, ids)
    }

    #[test]
    fn slot_owner_signs_and_checks() {
        let (pairs, ids) = keys();
        // Slot 10 belongs to authority 10 % 2 = 0 (Alice).
        let sealed = seal(header(10), &pairs[0]);
        let checked = check_header(sealed.clone(), &ids, Some(Slot::from(9)), Slot::from(10)).expect("valid");
        assert_eq!(checked.author_index, 0);
        assert_eq!(*checked.slot, 10);
        assert_eq!(checked.pre_header, header(10));
    }

    #[test]
    fn wrong_author_is_rejected() {
        let (pairs, ids) = keys();
        let sealed = seal(header(10), &pairs[1]);
        assert_eq!(check_header(sealed, &ids, None, Slot::from(10)), Err(AuraError::BadSeal { slot: 10 }));
    }

    #[test]
    fn future_and_non_increasing_slots_are_rejected() {
        let (pairs, ids) = keys();
        let sealed = seal(header(12), &pairs[0]);
        assert_eq!(
            check_header(sealed.clone(), &ids, None, Slot::from(10)),
            Err(AuraError::FutureSlot { slot: 12, now: 10 })
        );
        assert!(check_header(sealed.clone(), &ids, None, Slot::from(11)).is_ok());
        assert_eq!(
            check_header(sealed, &ids, Some(Slot::from(12)), Slot::from(12)),
            Err(AuraError::SlotNotIncreasing { slot: 12, parent: 12 })
        );
    }

    #[test]
    fn two_headers_by_one_author_in_one_slot_are_an_equivocation() {
        let (_, ids) = keys();
        let mut detector = EquivocationDetector::new(8);
        let (a, b) = (cloister_primitives::Hash::repeat_byte(1), cloister_primitives::Hash::repeat_byte(2));
        assert_eq!(detector.note(Slot::from(10), &ids[0], a), None);
        assert_eq!(detector.note(Slot::from(10), &ids[0], a), None, "the same header again is no equivocation");
        assert_eq!(detector.note(Slot::from(10), &ids[1], b), None, "another author in the slot is no equivocation");
        let found = detector.note(Slot::from(10), &ids[0], b).expect("equivocation");
        assert_eq!((found.first, found.second, *found.slot), (a, b, 10));
        // Slots older than the window are forgotten.
        assert_eq!(detector.note(Slot::from(30), &ids[0], a), None);
        assert_eq!(detector.note(Slot::from(10), &ids[0], b), None);
    }

    #[test]
    fn unsealed_and_tampered_headers_are_rejected() {
        let (pairs, ids) = keys();
        assert_eq!(check_header(header(10), &ids, None, Slot::from(10)), Err(AuraError::NoSeal));
        let mut sealed = seal(header(10), &pairs[0]);
        sealed.number = 2;
        assert_eq!(check_header(sealed, &ids, None, Slot::from(10)), Err(AuraError::BadSeal { slot: 10 }));
    }
}
