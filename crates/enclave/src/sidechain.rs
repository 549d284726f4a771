//! Sidechain blocks inside the enclave: sealing a block the enclave authored and checking one it
//! imports (ARCHITECTURE.md 6.9).
//!
//! The block's body (the state diff and what became of each call) travels encrypted with the
//! shard's state key (ChaCha20-Poly1305, a fresh nonce per block, the shard, number and parent as
//! associated data), so the host's block store and the network see ciphertext only. A block is
//! imported only if its signature holds, it extends the current head in a later slot, its author
//! is the one sidechain Aura names for that slot, and its diff gives the state root the header
//! claims.

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use cloister_primitives::{
    sidechain::{SidechainHeader, SidechainPayload, SignedSidechainBlock},
    Hash, ShardId,
};
use cloister_stf::{state::PendingChanges, ShardState, StateDiff};
use codec::{Decode, Encode};
use rand::RngCore;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// Why a sidechain block was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Encode, Decode)]
pub enum BlockError {
    /// The signature or payload hash does not hold.
    #[error("bad block signature or payload hash")]
    BadSignature,
    /// The author is not the one whose turn the slot is.
    #[error("block {number} of slot {slot} was authored by 0x{author}, whose turn slot {slot} is not")]
    NotSlotAuthor {
        /// The block number.
        number: u64,
        /// The slot.
        slot: u64,
        /// The author's key, hex.
        author: String,
    },
    /// The slot is not after the parent's.
    #[error("block {number} is in slot {slot}, not after its parent's slot {parent_slot}")]
    SlotNotAfterParent {
        /// The block number.
        number: u64,
        /// Its slot.
        slot: u64,
        /// The parent's slot.
        parent_slot: u64,
    },
    /// The block belongs to another shard.
    #[error("block of another shard")]
    WrongShard,
    /// The block does not extend the current head.
    #[error("block {number} does not extend the head (expected number {expected} with parent {parent:?})")]
    NotExtending {
        /// The block's number.
        number: u64,
        /// The number expected.
        expected: u64,
        /// The parent expected.
        parent: Hash,
    },
    /// The diff does not decrypt with the shard's state key.
    #[error("the state diff does not decrypt")]
    Undecryptable,
    /// The diff does not give the header's state root.
    #[error("the state diff does not give the claimed state root")]
    StateMismatch,
}

/// What a block carries encrypted: the state diff, and what became of each call it includes
/// (so that every validateer can tell its own watchers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct BlockBody {
    /// The changed keys with their new values.
    pub diff: StateDiff,
    /// Per included call: `Ok` or the runtime's error (its nonce is spent either way).
    pub results: Vec<(Hash, Result<(), String>)>,
}

/// Encrypts a block body for a block of `shard` at `number` on `parent`.
pub fn encrypt_body(key: &[u8; 32], shard: &ShardId, number: u64, parent: &Hash, body: &BlockBody) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = (shard, number, parent).encode();
    let plaintext = Zeroizing::new(body.encode());
    // Encryption with a fresh nonce and a 32-byte key cannot fail.
    let ciphertext = ChaCha20Poly1305::new(&Key::from(*key))
        .encrypt(&Nonce::from(nonce), Payload { msg: &plaintext, aad: &aad })
        .unwrap_or_default();
    [&nonce[..], &ciphertext].concat()
}

/// Decrypts the body of a block.
pub fn decrypt_body(key: &[u8; 32], header: &SidechainHeader, encrypted: &[u8]) -> Result<BlockBody, BlockError> {
    if encrypted.len() < NONCE_LEN {
        return Err(BlockError::Undecryptable);
    }
    let (nonce, ciphertext) = encrypted.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| BlockError::Undecryptable)?;
    let aad = (&header.shard, header.number, &header.parent_hash).encode();
    let plaintext = Zeroizing::new(
        ChaCha20Poly1305::new(&Key::from(*key))
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| BlockError::Undecryptable)?,
    );
    BlockBody::decode(&mut &plaintext[..]).map_err(|_| BlockError::Undecryptable)
}

/// Where a new block goes: after `head`, or first.
pub fn next_position(head: Option<&SidechainHeader>) -> (u64, Hash) {
    head.map(|h| (h.number + 1, h.hash())).unwrap_or((1, Hash::zero()))
}

/// What an author fills in; the rest comes from the state and the pending changes.
pub struct Authoring<'a> {
    /// The shard.
    pub shard: ShardId,
    /// The slot.
    pub slot: u64,
    /// The author's public key.
    pub author: [u8; 32],
    /// The parentchain block the state includes.
    pub parentchain_head: (cloister_primitives::BlockNumber, Hash),
    /// Hashes of the operations applied.
    pub operations: Vec<Hash>,
    /// The shard's state key.
    pub state_key: &'a [u8; 32],
}

/// Builds and signs the block for changes computed on top of `head`, with the calls' `results`.
pub fn seal_block<R>(
    head: Option<&SidechainHeader>,
    pending: &PendingChanges<R>,
    results: Vec<(Hash, Result<(), String>)>,
    authoring: Authoring<'_>,
    sign: impl FnOnce(&[u8]) -> [u8; 64],
) -> SignedSidechainBlock {
    let (number, parent_hash) = next_position(head);
    let body = BlockBody { diff: pending.diff.clone(), results };
    let payload = SidechainPayload {
        operations: authoring.operations,
        encrypted_diff: encrypt_body(authoring.state_key, &authoring.shard, number, &parent_hash, &body),
    };
    let header = SidechainHeader {
        number,
        parent_hash,
        shard: authoring.shard,
        slot: authoring.slot,
        author: authoring.author,
        parentchain_head: authoring.parentchain_head,
        state_root: pending.root,
        payload_hash: payload.hash(),
    };
    let signature = sign(&header.encode());
    SignedSidechainBlock { header, payload, signature }
}

/// Checks `block` against the current `head` and state and returns the changes it makes with
/// the calls' results. `slot_author` names whose turn a slot is, as the state before the block
/// (the parent's) says. Verifies everything first; the caller commits.
pub fn check_block(
    block: &SignedSidechainBlock,
    shard: &ShardId,
    head: Option<&SidechainHeader>,
    state: &ShardState,
    state_key: &[u8; 32],
    slot_author: impl Fn(u64) -> Option<[u8; 32]>,
) -> Result<(PendingChanges<()>, Vec<(Hash, Result<(), String>)>), BlockError> {
    if !block.verify() {
        return Err(BlockError::BadSignature);
    }
    check_signed_block(block, shard, head, state, state_key, slot_author)
}

/// [`check_block`] for a block whose signature the caller already checked.
pub fn check_signed_block(
    block: &SignedSidechainBlock,
    shard: &ShardId,
    head: Option<&SidechainHeader>,
    state: &ShardState,
    state_key: &[u8; 32],
    slot_author: impl Fn(u64) -> Option<[u8; 32]>,
) -> Result<(PendingChanges<()>, Vec<(Hash, Result<(), String>)>), BlockError> {
    let header = &block.header;
    if &header.shard != shard {
        return Err(BlockError::WrongShard);
    }
    let (expected, parent) = next_position(head);
    if header.number != expected || header.parent_hash != parent {
        return Err(BlockError::NotExtending { number: header.number, expected, parent });
    }
    if slot_author(header.slot) != Some(header.author) {
        return Err(BlockError::NotSlotAuthor {
            number: header.number,
            slot: header.slot,
            author: hex(&header.author),
        });
    }
    if let Some(parent) = head {
        if header.slot <= parent.slot {
            return Err(BlockError::SlotNotAfterParent {
                number: header.number,
                slot: header.slot,
                parent_slot: parent.slot,
            });
        }
    }
    let body = decrypt_body(state_key, header, &block.payload.encrypted_diff)?;
    let pending = state.prepare_diff(&body.diff, header.state_root).map_err(|_| BlockError::StateMismatch)?;
    Ok((pending, body.results))
}

/// The author of `slot` among `validateers` (sidechain Aura: each in turn, in the registry's
/// order).
pub fn slot_author(validateers: &[[u8; 32]], slot: u64) -> Option<[u8; 32]> {
    if validateers.is_empty() {
        return None;
    }
    validateers.get((slot % validateers.len() as u64) as usize).copied()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
