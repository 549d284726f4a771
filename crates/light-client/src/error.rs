//! Why the light client refused what it was given.
//!
//! Every error names the block it is about (number and hash as received) and the values that
//! did not match, so the host can log what the node sent and fetch again. None of them is the
//! enclave's fault: they all mean the data (or the node that served it) is wrong.

use cloister_consensus::{AuraError, JustificationError};
use cloister_primitives::{BlockNumber, Hash};
use sp_consensus_grandpa::AuthorityId as GrandpaId;

/// Why a read proof does not prove a value.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The proof does not contain the root node: it was made against another state.
    #[error("the proof is not for state root {root:?}")]
    WrongRoot {
        /// The state root the proof was checked against.
        root: Hash,
    },
    /// A trie node on the path to the key is missing (or was altered, so its hash differs).
    #[error("the proof lacks a trie node needed to read key 0x{key}")]
    Incomplete {
        /// The key, hex.
        key: String,
    },
    /// A trie node does not decode.
    #[error("malformed trie node while reading key 0x{key}: {reason}")]
    Malformed {
        /// The key, hex.
        key: String,
        /// The trie's complaint.
        reason: String,
    },
}

/// What is wrong with a GRANDPA justification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JustificationFault {
    /// The bytes are not a SCALE-encoded GRANDPA justification.
    #[error("does not decode: {0}")]
    Undecodable(String),
    /// The commit names the right hash but another block number.
    #[error("commit targets number {found}, the block is {expected}")]
    WrongNumber {
        /// The block's number.
        expected: BlockNumber,
        /// The number in the commit.
        found: BlockNumber,
    },
    /// The justification fails GRANDPA's rules for the current set (wrong target, bad
    /// signature, wrong set id or round, fewer than two thirds of the weight, bad ancestry).
    #[error("{0}")]
    Invalid(#[from] JustificationError),
}

/// Why a genesis trust anchor or a run of blocks was refused. The client is unchanged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LightClientError {
    /// The trust anchor is not a genesis header.
    #[error("the trust anchor must be the genesis header (number 0), got number {number}")]
    NotGenesis {
        /// The number of the header given.
        number: BlockNumber,
    },
    /// A storage value needed at genesis is absent from the proven state.
    #[error("{what} is not in the genesis state")]
    MissingStorage {
        /// The storage item, as `Pallet::Item`.
        what: &'static str,
    },
    /// A proven storage value does not decode as the runtime's type.
    #[error("{what} does not decode: {reason}")]
    UndecodableStorage {
        /// The storage item, as `Pallet::Item`.
        what: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// An authority set (from genesis or a change digest) is empty: no block could be valid.
    #[error("empty {what} authority set (block {number})")]
    EmptyAuthoritySet {
        /// `Aura` or `GRANDPA`.
        what: &'static str,
        /// The block that announced it (0 for genesis).
        number: BlockNumber,
    },
    /// A read proof does not prove the requested values against the state root.
    #[error("bad read proof against state root {state_root:?}{}: {reason}", block.map(|n| format!(" of block {n}")).unwrap_or_default())]
    BadProof {
        /// The block whose state was read, when known.
        block: Option<BlockNumber>,
        /// The state root the proof was checked against.
        state_root: Hash,
        /// What is wrong.
        reason: ProofError,
    },
    /// The run does not continue the last finalized block (or its own previous block).
    #[error(
        "block {number} ({hash:?}) does not extend block {expected_number} ({expected_parent:?}): its parent is {parent_hash:?}"
    )]
    NotExtending {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The parent hash it names.
        parent_hash: Hash,
        /// The number of the block it must extend.
        expected_number: BlockNumber,
        /// The hash of the block it must extend.
        expected_parent: Hash,
    },
    /// The seal verifies against no authority of the current Aura set: the header was changed
    /// after sealing, or sealed by a key outside the set (a seal does not name its signer).
    #[error("forged seal on block {number} ({hash:?}), slot {slot}: signed by no current Aura authority")]
    ForgedSeal {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The slot the header claims.
        slot: u64,
    },
    /// The seal is by an authority of the current set, but not the one that owns the slot.
    #[error("block {number} ({hash:?}) is sealed by Aura authority #{signer}, but slot {slot} belongs to #{expected}")]
    WrongAuthor {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The slot the header claims.
        slot: u64,
        /// Index of the slot's author in the set.
        expected: u32,
        /// Index of the authority that sealed it.
        signer: u32,
    },
    /// Another Aura rule fails: no seal, no slot, several slots, slot not after the parent's.
    #[error("block {number} ({hash:?}) breaks the Aura rules: {source}")]
    Aura {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The rule that fails.
        source: AuraError,
    },
    /// The extrinsics do not hash to the header's extrinsics root.
    #[error("extrinsics of block {number} ({hash:?}) hash to {computed:?}, the header commits to {expected:?}")]
    ExtrinsicsRootMismatch {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The header's extrinsics root.
        expected: Hash,
        /// The root of the extrinsics received.
        computed: Hash,
    },
    /// A consensus digest of the engine does not decode, so an authority change could hide in it.
    #[error("block {number} ({hash:?}) has an undecodable {engine} consensus digest")]
    BadDigest {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// `Aura` or `GRANDPA`.
        engine: &'static str,
    },
    /// A GRANDPA justification does not prove the block final under the current set.
    #[error("bad justification for block {number} ({hash:?}) under GRANDPA set {set_id}: {reason}")]
    BadJustification {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The set it was checked against.
        set_id: u64,
        /// What is wrong.
        reason: JustificationFault,
    },
    /// A precommit in a justification is signed by a key outside the current GRANDPA set.
    #[error("justification for block {number} ({hash:?}) has a precommit by {signer}, not in GRANDPA set {set_id}")]
    UnknownAuthority {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// The set it was checked against.
        set_id: u64,
        /// The outsider.
        signer: GrandpaId,
    },
    /// A block announces a GRANDPA set change but carries no justification of its own.
    #[error("block {number} ({hash:?}) schedules a GRANDPA set change but carries no justification")]
    ChangeWithoutJustification {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
    },
    /// A GRANDPA change the chain never makes: forced, delayed, or several in one block.
    #[error("block {number} ({hash:?}) has an unsupported GRANDPA change: {reason}")]
    UnsupportedChange {
        /// The block's number.
        number: BlockNumber,
        /// The block's hash.
        hash: Hash,
        /// What kind of change.
        reason: &'static str,
    },
    /// The run ends with a block no justification in the run finalizes: send runs that end at
    /// a justified block.
    #[error("block {number} ({hash:?}) ends the run without a justification: it is not final")]
    NotFinal {
        /// The last block's number.
        number: BlockNumber,
        /// The last block's hash.
        hash: Hash,
    },
}

impl LightClientError {
    /// The block (number, hash as received) the error is about, if it is about one.
    pub fn block(&self) -> Option<(BlockNumber, Hash)> {
        match self {
            Self::NotExtending { number, hash, .. }
            | Self::ForgedSeal { number, hash, .. }
            | Self::WrongAuthor { number, hash, .. }
            | Self::Aura { number, hash, .. }
            | Self::ExtrinsicsRootMismatch { number, hash, .. }
            | Self::BadDigest { number, hash, .. }
            | Self::BadJustification { number, hash, .. }
            | Self::UnknownAuthority { number, hash, .. }
            | Self::ChangeWithoutJustification { number, hash }
            | Self::UnsupportedChange { number, hash, .. }
            | Self::NotFinal { number, hash } => Some((*number, *hash)),
            Self::NotGenesis { .. }
            | Self::MissingStorage { .. }
            | Self::UndecodableStorage { .. }
            | Self::EmptyAuthoritySet { .. }
            | Self::BadProof { .. } => None,
        }
    }
}
