//! Trusted operations: what a client asks of a shard.
//!
//! A [`TrustedCallSigned`] changes the shard's state; the account signs (call, nonce, MRENCLAVE,
//! shard), so a call is valid only for one enclave build and one shard, and only once (the nonce
//! is the account's next nonce on the shard). A [`TrustedGetterSigned`] reads the signer's own
//! data; it carries the time it was made so that a captured getter soon expires.

use cloister_primitives::{AccountId, Balance, Hash, Mrenclave, Nonce, ShardId, Signature};
use codec::{Decode, DecodeWithMemTracking, Encode};
use sp_runtime::traits::Verify;

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
}

impl TrustedCall {
    /// The account that must sign the call.
    pub fn signer(&self) -> &AccountId {
        match self {
            Self::Transfer { from, .. } | Self::Unshield { from, .. } => from,
        }
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
        Ok(VerifiedCall { hash: self.hash(), mrenclave: *mrenclave, shard: *shard, call: self })
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
}

impl VerifiedCall {
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

/// A read of the signer's own data.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking)]
pub enum TrustedGetter {
    /// The account's free balance on the shard.
    Balance(AccountId),
    /// The account's next nonce on the shard.
    Nonce(AccountId),
}

impl TrustedGetter {
    /// The account that must sign the getter (and whose data it reads).
    pub fn signer(&self) -> &AccountId {
        match self {
            Self::Balance(who) | Self::Nonce(who) => who,
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
