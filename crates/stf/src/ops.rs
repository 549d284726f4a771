//! Trusted operations: what a client asks of a shard.
//!
//! A [`TrustedCallSigned`] changes the shard's state; the account signs (call, nonce, MRENCLAVE,
//! shard), so a call is valid only for one enclave build and one shard, and only once (the nonce
//! is the account's next nonce on the shard). A [`TrustedGetterSigned`] reads the signer's own
//! data; it carries the time it was made so that a captured getter soon expires.

use crate::encointer::PublicCommunity;
use cloister_primitives::{AccountId, Balance, Hash, Mrenclave, Nonce, ShardId, Signature};
use codec::{Decode, DecodeWithMemTracking, Encode};
use encointer_primitives::{
    balances::BalanceType,
    ceremonies::{CommunityCeremony, MeetupIndexType, ProofOfAttendance},
    communities::{CommunityIdentifier, GeoHash},
    scheduler::CeremonyIndexType,
};
use sp_runtime::traits::Verify;

/// A proof of attendance at an earlier ceremony, as the ceremonies pallet takes it.
pub type AttendanceProof = ProofOfAttendance<Signature, AccountId>;

/// Domain of trusted call signatures.
const CALL_DOMAIN: &[u8] = b"cloister/trusted-call/v1";
/// Domain of trusted getter signatures.
const GETTER_DOMAIN: &[u8] = b"cloister/trusted-getter/v1";
/// How far a getter's timestamp may be from the enclave's clock.
pub const GETTER_VALIDITY_MS: u64 = 60_000;

/// A state change on a shard, on behalf of its first account.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub enum TrustedCall {
    /// Moves `amount` from `from` to `to` inside the shard.
    Transfer {
        /// Who pays (and signs).
        from: AccountId,
        /// Who receives.
        to: AccountId,
        /// How much.
        amount: Balance,
    },
    /// Burns `amount` of `from` on the shard and pays it out of the shard's vault on the
    /// parentchain to `beneficiary`.
    Unshield {
        /// Whose shard balance is burnt (and who signs).
        from: AccountId,
        /// Who receives the funds on the parentchain.
        beneficiary: AccountId,
        /// How much.
        amount: Balance,
    },
    /// Makes the public community `cid` private on this shard, with `who` as its manager. The
    /// public record is read from the parentchain state at finalized block `at` through
    /// `proof` (ENCOINTER.md A.3): metadata, bootstrappers, the locations in `cells`, demurrage,
    /// nominal income and the ceremony parameters. `who` must be the parentchain's sudo key or
    /// one of the community's bootstrappers.
    MakeCommunityPrivate {
        /// The manager-to-be (signs).
        who: AccountId,
        /// The public community.
        cid: CommunityIdentifier,
        /// The finalized parentchain block the proof is of.
        at: Hash,
        /// Geohash cells of the community's locations.
        cells: Vec<GeoHash>,
        /// Read proof of [`crate::encointer::public_community_keys`].
        proof: Vec<Vec<u8>>,
    },
    /// Registers `who` for the next ceremony of `cid` (ENCOINTER.md §3.3): as a bootstrapper,
    /// a reputable (with a proof of earlier attendance), an endorsee or a newbie.
    RegisterParticipant {
        /// The participant (signs).
        who: AccountId,
        /// The community.
        cid: CommunityIdentifier,
        /// Proof of attendance at an earlier ceremony, to register as a reputable.
        proof: Option<AttendanceProof>,
    },
    /// Turns a newbie's registration into a reputable's (§3.4).
    UpgradeRegistration {
        /// The participant (signs).
        who: AccountId,
        /// The community.
        cid: CommunityIdentifier,
        /// Proof of attendance at an earlier ceremony.
        proof: AttendanceProof,
    },
    /// Withdraws a registration (§3.5); a reputable names the ceremony whose reputation it used.
    UnregisterParticipant {
        /// The participant (signs).
        who: AccountId,
        /// The community.
        cid: CommunityIdentifier,
        /// The (community, ceremony) of the reputation used to register.
        reputation: Option<CommunityCeremony>,
    },
    /// Spends one of `who`'s endorsement tickets on `newbie` (§3.6).
    EndorseNewcomer {
        /// The endorser: a bootstrapper or reputable (signs).
        who: AccountId,
        /// The community.
        cid: CommunityIdentifier,
        /// Who is endorsed.
        newbie: AccountId,
    },
    /// Attests the other participants `who` met at its meetup (§3.8).
    AttestAttendees {
        /// The attester (signs).
        who: AccountId,
        /// The community.
        cid: CommunityIdentifier,
        /// How many people were at the meetup, `who` included.
        vote: u32,
        /// The others present.
        attestees: Vec<AccountId>,
    },
    /// Claims the rewards of a meetup for all its legitimate participants (§3.9).
    ClaimRewards {
        /// The claimant (signs).
        who: AccountId,
        /// The community.
        cid: CommunityIdentifier,
        /// The meetup; `None` for the claimant's own.
        meetup: Option<MeetupIndexType>,
    },
    /// Moves community currency (§4.3).
    CcTransfer {
        /// Who pays (and signs).
        from: AccountId,
        /// Who receives.
        to: AccountId,
        /// The community whose currency moves.
        cid: CommunityIdentifier,
        /// How much, before the receiver's demurrage.
        amount: BalanceType,
    },
}

impl TrustedCall {
    /// The account that must sign the call.
    pub fn signer(&self) -> &AccountId {
        match self {
            Self::Transfer { from, .. } | Self::Unshield { from, .. } | Self::CcTransfer { from, .. } => from,
            Self::MakeCommunityPrivate { who, .. }
            | Self::RegisterParticipant { who, .. }
            | Self::UpgradeRegistration { who, .. }
            | Self::UnregisterParticipant { who, .. }
            | Self::EndorseNewcomer { who, .. }
            | Self::AttestAttendees { who, .. }
            | Self::ClaimRewards { who, .. } => who,
        }
    }

    /// Whether the signer must already hold an account on the shard (native funds). Taking part
    /// in a community needs none: a newbie's first call is its registration.
    pub fn needs_account(&self) -> bool {
        matches!(self, Self::Transfer { .. } | Self::Unshield { .. })
    }

    /// Signs the call as the account behind `sign` would (the closure signs the payload).
    pub fn sign(
        self,
        nonce: Nonce,
        mrenclave: &Mrenclave,
        shard: &ShardId,
        sign: impl FnOnce(&[u8]) -> Signature,
    ) -> TrustedCallSigned {
        let signature = sign(&call_payload(&self, nonce, mrenclave, shard));
        TrustedCallSigned { call: self, nonce, signature }
    }
}

/// The bytes an account signs for `call`.
pub fn call_payload(call: &TrustedCall, nonce: Nonce, mrenclave: &Mrenclave, shard: &ShardId) -> Vec<u8> {
    (CALL_DOMAIN, call, nonce, mrenclave, shard).encode()
}

/// A trusted call with its nonce and the signer's signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub struct TrustedCallSigned {
    /// The call.
    pub call: TrustedCall,
    /// The signer's nonce on the shard.
    pub nonce: Nonce,
    /// Signature over [`call_payload`].
    pub signature: Signature,
}

impl TrustedCallSigned {
    /// Whether the signature is the signer's, for this enclave and shard.
    pub fn verify_signature(&self, mrenclave: &Mrenclave, shard: &ShardId) -> bool {
        self.signature.verify(&call_payload(&self.call, self.nonce, mrenclave, shard)[..], self.call.signer())
    }

    /// The hash that names this operation in blocks and statuses.
    pub fn hash(&self) -> Hash {
        sp_io::hashing::blake2_256(&self.encode()).into()
    }

    /// Checks the signature for this enclave and shard, once: the call that comes out can go
    /// into blocks of that shard without being verified again.
    pub fn verify(self, mrenclave: &Mrenclave, shard: &ShardId) -> Result<VerifiedCall, crate::StfError> {
        if !self.verify_signature(mrenclave, shard) {
            return Err(crate::StfError::BadSignature);
        }
        Ok(VerifiedCall { hash: self.hash(), mrenclave: *mrenclave, shard: *shard, call: self, public: None })
    }
}

/// A verified call as the enclave seals it in its pool journal: with what the enclave proved
/// for it. Only the enclave reads its journal (the seal is authenticated), so the proven record
/// is taken as it is when the journal is replayed, even if its parentchain block is long past.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SealedCall {
    /// The signed call.
    pub call: TrustedCallSigned,
    /// The public community read for it, for [`TrustedCall::MakeCommunityPrivate`].
    pub public: Option<PublicCommunity>,
}

impl SealedCall {
    /// Checks the signature again and restores the proven record.
    pub fn reopen(self, mrenclave: &Mrenclave, shard: &ShardId) -> Result<VerifiedCall, crate::StfError> {
        let mut verified = self.call.verify(mrenclave, shard)?;
        verified.public = self.public;
        Ok(verified)
    }
}

/// A trusted call whose signature was checked for one enclave and shard. It can be made only by
/// [`TrustedCallSigned::verify`] (it has no `Decode`), so a block applies it without paying for a
/// second signature check; a block of another enclave or shard still refuses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCall {
    call: TrustedCallSigned,
    hash: Hash,
    mrenclave: Mrenclave,
    shard: ShardId,
    public: Option<PublicCommunity>,
}

impl VerifiedCall {
    /// Attaches the public community the enclave read, through a verified parentchain proof,
    /// for a [`TrustedCall::MakeCommunityPrivate`].
    pub fn with_public_community(mut self, public: PublicCommunity) -> Self {
        self.public = Some(public);
        self
    }

    /// The public community proven for this call, if any.
    pub fn public_community(&self) -> Option<&PublicCommunity> {
        self.public.as_ref()
    }

    /// The form the enclave seals in its pool journal.
    pub fn sealed(&self) -> SealedCall {
        SealedCall { call: self.call.clone(), public: self.public.clone() }
    }

    /// The signed call.
    pub fn signed(&self) -> &TrustedCallSigned {
        &self.call
    }

    /// Its hash ([`TrustedCallSigned::hash`]).
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// Who signed it.
    pub fn signer(&self) -> &AccountId {
        self.call.call.signer()
    }

    /// Whether it was verified for `mrenclave` and `shard`.
    pub fn is_for(&self, mrenclave: &Mrenclave, shard: &ShardId) -> bool {
        self.mrenclave == *mrenclave && self.shard == *shard
    }
}

/// A read, signed by the account that asks. An account reads its own data; the manager of a
/// private community also reads its registers; anybody reads the ceremony's phase and
/// aggregate counts.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub enum TrustedGetter {
    /// The account's free balance on the shard.
    Balance(AccountId),
    /// The account's next nonce on the shard.
    Nonce(AccountId),
    /// The account's community-currency balance in a community, demurrage applied:
    /// [`BalanceType`].
    CcBalance(AccountId, CommunityIdentifier),
    /// The account's registration for the ceremony registrations go to now:
    /// [`crate::encointer::RegistrationView`].
    Registration(AccountId, CommunityIdentifier),
    /// The account's meetup in the current ceremony (place, time, how many):
    /// `Option<`[`crate::encointer::OwnMeetup`]`>`.
    Meetup(AccountId, CommunityIdentifier),
    /// The account's reputation in every ceremony of a community:
    /// `Vec<(CeremonyIndexType, Reputation)>`.
    Reputation(AccountId, CommunityIdentifier),
    /// The phase, the ceremony index and aggregate counts: [`crate::encointer::CeremonyView`].
    Ceremony(AccountId, CommunityIdentifier),
    /// Manager only: who registered for a ceremony (default: the current one):
    /// `Vec<`[`crate::encointer::Participant`]`>`.
    ListParticipants(AccountId, CommunityIdentifier, Option<CeremonyIndexType>),
    /// Manager only: the meetups of a ceremony (default: the current one):
    /// `Vec<`[`crate::encointer::MeetupView`]`>`.
    ListMeetups(AccountId, CommunityIdentifier, Option<CeremonyIndexType>),
    /// Manager only: who attested whom in a ceremony (default: the current one):
    /// `Vec<`[`crate::encointer::Attestations`]`>`.
    ListAttestees(AccountId, CommunityIdentifier, Option<CeremonyIndexType>),
    /// Manager only: the community as the shard holds it: [`crate::encointer::CommunityInfo`].
    CommunityInfo(AccountId, CommunityIdentifier),
}

impl TrustedGetter {
    /// The account that must sign the getter (and whose data it reads).
    pub fn signer(&self) -> &AccountId {
        match self {
            Self::Balance(who)
            | Self::Nonce(who)
            | Self::CcBalance(who, _)
            | Self::Registration(who, _)
            | Self::Meetup(who, _)
            | Self::Reputation(who, _)
            | Self::Ceremony(who, _)
            | Self::ListParticipants(who, ..)
            | Self::ListMeetups(who, ..)
            | Self::ListAttestees(who, ..)
            | Self::CommunityInfo(who, _) => who,
        }
    }

    /// Signs the getter at `timestamp_ms`.
    pub fn sign(
        self,
        timestamp_ms: u64,
        mrenclave: &Mrenclave,
        shard: &ShardId,
        sign: impl FnOnce(&[u8]) -> Signature,
    ) -> TrustedGetterSigned {
        let signature = sign(&getter_payload(&self, timestamp_ms, mrenclave, shard));
        TrustedGetterSigned { getter: self, timestamp_ms, signature }
    }
}

/// The bytes an account signs for `getter`.
pub fn getter_payload(getter: &TrustedGetter, timestamp_ms: u64, mrenclave: &Mrenclave, shard: &ShardId) -> Vec<u8> {
    (GETTER_DOMAIN, getter, timestamp_ms, mrenclave, shard).encode()
}

/// A getter with its time and the signer's signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub struct TrustedGetterSigned {
    /// The read.
    pub getter: TrustedGetter,
    /// When it was signed, unix milliseconds.
    pub timestamp_ms: u64,
    /// Signature over [`getter_payload`].
    pub signature: Signature,
}

impl TrustedGetterSigned {
    /// Whether the signature is the signer's, for this enclave and shard.
    pub fn verify_signature(&self, mrenclave: &Mrenclave, shard: &ShardId) -> bool {
        self.signature
            .verify(&getter_payload(&self.getter, self.timestamp_ms, mrenclave, shard)[..], self.getter.signer())
    }

    /// Whether the getter was made within [`GETTER_VALIDITY_MS`] of `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        self.timestamp_ms.abs_diff(now_ms) <= GETTER_VALIDITY_MS
    }
}

/// What a client sends to a shard, HPKE-encrypted to the enclave's shielding key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub enum TrustedOperation {
    /// A state change.
    Call(TrustedCallSigned),
    /// A read.
    Get(TrustedGetterSigned),
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_keyring::Sr25519Keyring;

    fn signed(nonce: Nonce) -> TrustedCallSigned {
        let alice = Sr25519Keyring::Alice;
        TrustedCall::Transfer { from: alice.to_account_id(), to: Sr25519Keyring::Bob.to_account_id(), amount: 5 }.sign(
            nonce,
            &Mrenclave([1; 32]),
            &ShardId::repeat_byte(1),
            |p| alice.sign(p).into(),
        )
    }

    #[test]
    fn signature_binds_enclave_shard_and_nonce() {
        let call = signed(0);
        assert!(call.verify_signature(&Mrenclave([1; 32]), &ShardId::repeat_byte(1)));
        assert!(!call.verify_signature(&Mrenclave([2; 32]), &ShardId::repeat_byte(1)));
        assert!(!call.verify_signature(&Mrenclave([1; 32]), &ShardId::repeat_byte(2)));
        let mut bumped = call.clone();
        bumped.nonce = 1;
        assert!(!bumped.verify_signature(&Mrenclave([1; 32]), &ShardId::repeat_byte(1)));
    }

    #[test]
    fn signature_of_another_account_is_refused() {
        let mut call = signed(0);
        call.call = TrustedCall::Transfer {
            from: Sr25519Keyring::Bob.to_account_id(),
            to: Sr25519Keyring::Alice.to_account_id(),
            amount: 5,
        };
        assert!(!call.verify_signature(&Mrenclave([1; 32]), &ShardId::repeat_byte(1)));
    }

    #[test]
    fn getters_expire() {
        let alice = Sr25519Keyring::Alice;
        let getter =
            TrustedGetter::Balance(alice.to_account_id())
                .sign(1_000_000, &Mrenclave([1; 32]), &ShardId::zero(), |p| alice.sign(p).into());
        assert!(getter.verify_signature(&Mrenclave([1; 32]), &ShardId::zero()));
        assert!(getter.is_fresh(1_000_000 + GETTER_VALIDITY_MS));
        assert!(!getter.is_fresh(1_000_000 + GETTER_VALIDITY_MS + 1));
    }
}
