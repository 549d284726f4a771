//! Types of the node API and their JSON shapes, as Substrate serves them.

use cloister_primitives::{BlockNumber, Hash, Header};
use serde::{Deserialize, Serialize};
use sp_core::Bytes;

/// The status of a watched extrinsic (`author_extrinsicUpdate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransactionStatus {
    /// Waiting for another extrinsic (an earlier nonce).
    Future,
    /// Ready to be included.
    Ready,
    /// Gossiped to these peers.
    Broadcast(Vec<String>),
    /// Included in this block.
    InBlock(Hash),
    /// The block that included it left the best chain.
    Retracted(Hash),
    /// Finality of its block was not reached in time.
    FinalityTimeout(Hash),
    /// Its block is final.
    Finalized(Hash),
    /// Replaced by this extrinsic (same nonce, higher priority).
    Usurped(Hash),
    /// Dropped from the pool (full).
    Dropped,
    /// No longer valid.
    Invalid,
}

/// Why the pool refused an extrinsic. Codes are Substrate's `author` error codes.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    /// The bytes are not an extrinsic of this chain.
    #[error("Extrinsic has invalid format: {0}")]
    Decode(String),
    /// The runtime says the extrinsic is invalid (bad signature, stale nonce, no funds...).
    #[error("Invalid Transaction: {0}")]
    Invalid(String),
    /// The runtime cannot tell whether it is valid.
    #[error("Unknown Transaction Validity: {0}")]
    Unknown(String),
    /// It is already in the pool.
    #[error("Transaction Already Imported")]
    AlreadyImported,
    /// Another extrinsic with the same tags and a higher or equal priority is in the pool.
    #[error("Priority is too low")]
    TooLowPriority,
    /// The pool is full.
    #[error("Immediately Dropped: the pool is full")]
    PoolFull,
    /// The node failed to validate it.
    #[error("Internal error: {0}")]
    Internal(String),
}

impl SubmitError {
    /// Substrate's JSON-RPC error code for this error.
    pub fn code(&self) -> i32 {
        match self {
            Self::Decode(_) => 1001,
            Self::Invalid(_) => 1010,
            Self::Unknown(_) => 1011,
            Self::AlreadyImported => 1013,
            Self::TooLowPriority => 1014,
            Self::PoolFull => 1016,
            Self::Internal(_) => 1000,
        }
    }
}

/// What happened to the chain, as the node tells its RPC subscribers.
#[derive(Clone, Debug)]
pub enum ChainEvent {
    /// A block was imported.
    Imported {
        /// Its hash.
        hash: Hash,
        /// Its header.
        header: Header,
        /// Whether it is the new best block.
        is_new_best: bool,
        /// Hashes of its extrinsics.
        extrinsics: Vec<Hash>,
    },
    /// Blocks were finalized, oldest first; the last one is the new finalized head.
    Finalized {
        /// The newly finalized blocks' hashes and headers.
        blocks: Vec<(Hash, Header)>,
    },
}

/// The heads of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHeads {
    /// Hash of the genesis block.
    pub genesis_hash: Hash,
    /// The best block.
    pub best_hash: Hash,
    /// Number of the best block.
    pub best_number: BlockNumber,
    /// The last finalized block.
    pub finalized_hash: Hash,
    /// Number of the last finalized block.
    pub finalized_number: BlockNumber,
}

/// A connected peer (`system_peers`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its roles.
    pub roles: String,
    /// Its best block.
    pub best_hash: Hash,
    /// Number of its best block.
    pub best_number: BlockNumber,
}

/// Static and network facts of the node.
#[derive(Clone, Debug)]
pub struct SystemInfo {
    /// Implementation name.
    pub name: String,
    /// Implementation version.
    pub version: String,
    /// Chain name.
    pub chain: String,
    /// Chain type as JSON (`"Development"`, `"Local"`, `"Live"`, `{"Custom": ..}`).
    pub chain_type: serde_json::Value,
    /// Token properties.
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// This node's peer id.
    pub local_peer_id: String,
    /// Whether the node expects peers (false for a single `--dev` node).
    pub should_have_peers: bool,
}

/// `system_health`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Number of connected peers.
    pub peers: usize,
    /// Whether the node is catching up.
    pub is_syncing: bool,
    /// Whether the node expects peers.
    pub should_have_peers: bool,
}

/// `state_queryStorageAt` and `state_storage` notifications.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StorageChangeSet {
    /// The block.
    pub block: Hash,
    /// Keys and their values (`null` where absent).
    pub changes: Vec<(Bytes, Option<Bytes>)>,
}

/// `state_getReadProof`.
#[derive(Clone, Debug, Serialize)]
pub struct ReadProof {
    /// The block whose state root the proof is against.
    pub at: Hash,
    /// Trie nodes.
    pub proof: Vec<Bytes>,
}

/// A number given as a JSON number or a hex string.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum NumberOrHex {
    /// A JSON number.
    Number(u64),
    /// A `0x` hex string.
    Hex(String),
}

impl NumberOrHex {
    /// The value as a block number, if it fits.
    pub fn to_block_number(&self) -> Option<BlockNumber> {
        let value = match self {
            Self::Number(n) => *n,
            Self::Hex(s) => u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()?,
        };
        BlockNumber::try_from(value).ok()
    }
}

/// `chain_getBlockHash` takes a number, a list of numbers, or nothing.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ListOrValue<T> {
    /// Several.
    List(Vec<T>),
    /// One.
    Value(T),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_status_has_substrates_json_shape() {
        let hash = Hash::repeat_byte(0xab);
        assert_eq!(serde_json::to_value(TransactionStatus::Ready).expect("json"), serde_json::json!("ready"));
        assert_eq!(serde_json::to_value(TransactionStatus::Future).expect("json"), serde_json::json!("future"));
        assert_eq!(
            serde_json::to_value(TransactionStatus::InBlock(hash)).expect("json"),
            serde_json::json!({ "inBlock": format!("{hash:?}") })
        );
        assert_eq!(
            serde_json::to_value(TransactionStatus::Finalized(hash)).expect("json"),
            serde_json::json!({ "finalized": format!("{hash:?}") })
        );
        assert_eq!(serde_json::to_value(TransactionStatus::Invalid).expect("json"), serde_json::json!("invalid"));
    }

    #[test]
    fn block_numbers_parse_as_numbers_or_hex() {
        let parse = |v: serde_json::Value| serde_json::from_value::<NumberOrHex>(v).expect("parses").to_block_number();
        assert_eq!(parse(serde_json::json!(42)), Some(42));
        assert_eq!(parse(serde_json::json!("0x2a")), Some(42));
        assert_eq!(parse(serde_json::json!("2a")), None);
        assert_eq!(parse(serde_json::json!(u64::MAX)), None);
        assert!(serde_json::from_value::<NumberOrHex>(serde_json::json!({"n": 1})).is_err());
    }

    #[test]
    fn submit_errors_carry_substrates_codes() {
        assert_eq!(SubmitError::Decode("x".into()).code(), 1001);
        assert_eq!(SubmitError::Invalid("BadProof".into()).code(), 1010);
        assert_eq!(SubmitError::AlreadyImported.code(), 1013);
        assert_eq!(SubmitError::TooLowPriority.code(), 1014);
    }

    #[test]
    fn storage_change_sets_serialize_keys_and_values_as_hex() {
        let set = StorageChangeSet {
            block: Hash::zero(),
            changes: vec![(Bytes(vec![1, 2]), None), (Bytes(vec![3]), Some(Bytes(vec![4])))],
        };
        let json = serde_json::to_value(set).expect("json");
        assert_eq!(json["changes"], serde_json::json!([["0x0102", null], ["0x03", "0x04"]]));
    }
}
