//! Sidechain blocks (ARCHITECTURE.md 6.9), as the enclave signs them and the host stores them.
//!
//! The header is public: who authored which block of which shard in which slot, the parentchain
//! block it had seen, the state root and the payload hash. The payload names the trusted
//! operations applied (by hash only) and carries the state diff encrypted with the shard's state
//! key, so the host stores and forwards ciphertext only.

use crate::{BlockNumber, Hash, ShardId};
use codec::{Decode, Encode};

/// The public part of a sidechain block; its hash names the block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SidechainHeader {
    /// Height; the first block of a shard is 1.
    pub number: u64,
    /// Hash of the parent header (zero for block 1).
    pub parent_hash: Hash,
    /// The shard.
    pub shard: ShardId,
    /// The slot (unix time / slot duration) the block was authored in.
    pub slot: u64,
    /// The author's ed25519 public key (the enclave's signing key).
    pub author: [u8; 32],
    /// The last parentchain block whose effects the state includes.
    pub parentchain_head: (BlockNumber, Hash),
    /// Merkle root of the shard state after the block.
    pub state_root: Hash,
    /// Blake2-256 of the encoded payload.
    pub payload_hash: Hash,
}

impl SidechainHeader {
    /// The block's hash: blake2-256 of the encoded header.
    pub fn hash(&self) -> Hash {
        sp_crypto_hashing::blake2_256(&self.encode()).into()
    }
}

/// What the block carries.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SidechainPayload {
    /// Hashes of the trusted operations the block applied.
    pub operations: Vec<Hash>,
    /// The state diff, encrypted with the shard's state key (nonce ‖ ciphertext).
    pub encrypted_diff: Vec<u8>,
}

impl SidechainPayload {
    /// Blake2-256 of the encoded payload.
    pub fn hash(&self) -> Hash {
        sp_crypto_hashing::blake2_256(&self.encode()).into()
    }
}

/// A block with the author's signature over its header.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignedSidechainBlock {
    /// The header.
    pub header: SidechainHeader,
    /// The payload.
    pub payload: SidechainPayload,
    /// Ed25519 signature of the author over the encoded header.
    pub signature: [u8; 64],
}

impl SignedSidechainBlock {
    /// The block's hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Whether the author's signature holds and the payload is the one the header names.
    pub fn verify(&self) -> bool {
        let public = sp_core::ed25519::Public::from_raw(self.header.author);
        let signature = sp_core::ed25519::Signature::from_raw(self.signature);
        self.payload.hash() == self.header.payload_hash
            && <sp_core::ed25519::Pair as sp_core::Pair>::verify(&signature, self.header.encode(), &public)
    }
}
