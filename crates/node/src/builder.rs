//! Building a block on top of a parent: inherents, then pool extrinsics until the block is full
//! or the time is up.
//!
//! Each pool extrinsic is applied inside a storage transaction: one the runtime refuses leaves
//! no trace and is reported as invalid (or skipped, if it only waits for an earlier nonce).

use crate::{
    client::{inherent_data, Client, StateError},
    executor::{self, ExecutionError},
};
use cloister_consensus::aura::{self, Slot};
use cloister_primitives::{Hash, Header};
use cloister_runtime::{Block, Executive, Runtime, UncheckedExtrinsic};
use codec::{Decode, Encode};
use sp_block_builder::runtime_decl_for_block_builder::BlockBuilderV6;
use sp_runtime::{
    traits::Header as _,
    transaction_validity::{InvalidTransaction, TransactionValidityError},
    Digest, OpaqueExtrinsic,
};
use std::time::Instant;

/// A block built but not sealed.
pub struct BuiltBlock {
    /// The header, without seal.
    pub header: Header,
    /// Its extrinsics, inherents first.
    pub extrinsics: Vec<OpaqueExtrinsic>,
    /// The trie nodes its execution created.
    pub state_nodes: Vec<(Hash, Vec<u8>)>,
    /// Pool extrinsics it includes.
    pub included: Vec<Hash>,
    /// Pool extrinsics the runtime refused for good.
    pub invalid: Vec<Hash>,
}

/// Why a block could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The parent's state is unavailable.
    #[error(transparent)]
    State(#[from] StateError),
    /// The runtime failed (an inherent was refused or it panicked).
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// An inherent extrinsic was refused.
    #[error("inherent refused: {0}")]
    Inherent(String),
}

/// Builds a block on `parent` for `slot` with timestamp `timestamp`, taking `candidates` in order
/// until `deadline`.
pub fn build_block(
    client: &Client,
    parent_hash: Hash,
    parent: &Header,
    slot: Slot,
    timestamp: u64,
    candidates: Vec<(Hash, Vec<u8>)>,
    deadline: Instant,
) -> Result<BuiltBlock, BuildError> {
    let state = client.state_at(&parent_hash)?;
    let header = Header::new(
        parent.number() + 1,
        Default::default(),
        Default::default(),
        parent_hash,
        Digest { logs: vec![aura::pre_digest(slot)] },
    );
    let execution = executor::execute(&state, move || -> Result<_, BuildError> {
        Executive::initialize_block(&header);
        let mut applied: Vec<UncheckedExtrinsic> = Vec::new();
        for inherent in <Runtime as BlockBuilderV6<Block>>::inherent_extrinsics(inherent_data(timestamp)) {
            match Executive::apply_extrinsic(inherent.clone()) {
                Ok(Ok(())) => applied.push(inherent),
                other => return Err(BuildError::Inherent(format!("{other:?}"))),
            }
        }
        let (mut included, mut invalid) = (Vec::new(), Vec::new());
        for (hash, bytes) in candidates {
            if Instant::now() >= deadline {
                break;
            }
            let Ok(xt) = UncheckedExtrinsic::decode(&mut &bytes[..]) else {
                invalid.push(hash);
                continue;
            };
            sp_io::storage::start_transaction();
            match Executive::apply_extrinsic(xt.clone()) {
                // A dispatch error still pays its fee and bumps the nonce: the extrinsic is in.
                Ok(_) => {
                    sp_io::storage::commit_transaction();
                    applied.push(xt);
                    included.push(hash);
                }
                Err(e) => {
                    sp_io::storage::rollback_transaction();
                    if e.exhausted_resources() {
                        break;
                    }
                    if !matches!(e, TransactionValidityError::Invalid(InvalidTransaction::Future)) {
                        invalid.push(hash);
                    }
                }
            }
        }
        let header = Executive::finalize_block();
        Ok((header, applied, included, invalid))
    })?;
    let executor::Execution { result, mut changes } = execution;
    let (header, applied, included, invalid) = result?;
    let state_nodes = executor::new_trie_nodes(&mut changes);
    let extrinsics =
        applied.iter().filter_map(|xt| OpaqueExtrinsic::try_from_encoded_extrinsic(&xt.encode()).ok()).collect();
    Ok(BuiltBlock { header, extrinsics, state_nodes, included, invalid })
}
