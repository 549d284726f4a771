//! Native execution of the runtime over a state of the chain.
//!
//! A state is a [`TrieBackend`] over the trie nodes in parity-db, rooted at a block's state root.
//! The runtime runs inside `sp_state_machine` externalities over that backend: reads go to the
//! trie, writes collect in an overlay, and [`Execution::changes`] hands the new trie nodes and the
//! new root to the caller, who commits them with the block. A panic in the runtime (how FRAME
//! rejects a bad block) becomes an [`ExecutionError`], never a crash of the node.

use crate::db::StateStore;
use cloister_primitives::{Hash, Hashing};
use sp_runtime::{StateVersion, Storage};
use sp_state_machine::{Backend, Ext, OverlayedChanges, StorageChanges, TrieBackend, TrieBackendBuilder};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The state of the chain at one block.
pub type StateBackend = TrieBackend<StateStore, Hashing>;

/// The trie version of the chain's state.
pub const STATE_VERSION: StateVersion = StateVersion::V1;

/// Why running the runtime failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ExecutionError {
    /// The runtime panicked: for a block, this means the block is invalid.
    #[error("runtime panicked: {0}")]
    Panic(String),
    /// The runtime has no such API method.
    #[error("method {0} not found in the runtime")]
    UnknownMethod(String),
    /// The state could not be read or the changes not collected.
    #[error("state error: {0}")]
    State(String),
}

/// The result of running the runtime with its storage changes.
pub struct Execution<R> {
    /// What the runtime returned.
    pub result: R,
    /// The changes to commit with the block, including the new trie nodes.
    pub changes: StorageChanges<Hashing>,
}

impl<R> Execution<R> {
    /// The state root after the changes.
    pub fn state_root(&self) -> Hash {
        self.changes.transaction_storage_root
    }
}

/// The state at `root`.
pub fn state_at(store: StateStore, root: Hash) -> StateBackend {
    TrieBackendBuilder::new(store, root).build()
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

fn run_in<R>(
    overlay: &mut OverlayedChanges<Hashing>,
    backend: &StateBackend,
    f: impl FnOnce() -> R,
) -> Result<R, ExecutionError> {
    let mut ext = Ext::new(overlay, backend, None);
    catch_unwind(AssertUnwindSafe(|| sp_externalities::set_and_run_with_externalities(&mut ext, f)))
        .map_err(|p| ExecutionError::Panic(panic_message(p)))
}

/// Runs `f` with the runtime over `backend` and returns its result and storage changes.
pub fn execute<R>(backend: &StateBackend, f: impl FnOnce() -> R) -> Result<Execution<R>, ExecutionError> {
    let mut overlay = OverlayedChanges::default();
    let result = run_in(&mut overlay, backend, f)?;
    let changes =
        overlay.drain_storage_changes(backend, STATE_VERSION).map_err(|e| ExecutionError::State(e.to_string()))?;
    Ok(Execution { result, changes })
}

/// Runs `f` over `backend` and discards whatever it writes.
pub fn read<R>(backend: &StateBackend, f: impl FnOnce() -> R) -> Result<R, ExecutionError> {
    let mut overlay = OverlayedChanges::default();
    run_in(&mut overlay, backend, f)
}

/// Calls a runtime API method by name with SCALE-encoded input, as `state_call` does.
/// Nothing it writes is kept.
pub fn call(backend: &StateBackend, method: &str, input: &[u8]) -> Result<Vec<u8>, ExecutionError> {
    read(backend, || cloister_runtime::api::dispatch(method, input))?
        .ok_or_else(|| ExecutionError::UnknownMethod(method.to_string()))
}

/// The trie nodes a set of changes adds: (hash, encoded node).
pub fn new_trie_nodes(changes: &mut StorageChanges<Hashing>) -> Vec<(Hash, Vec<u8>)> {
    drain_nodes(&mut changes.transaction)
}

fn drain_nodes(transaction: &mut sp_state_machine::BackendTransaction<Hashing>) -> Vec<(Hash, Vec<u8>)> {
    transaction
        .drain()
        .into_iter()
        .filter(|(_, (_, rc))| *rc > 0)
        .filter_map(|(key, (value, _))| {
            // Keys of the memory db are the node's trie prefix followed by its hash.
            let hash = key.get(key.len().checked_sub(32)?..)?;
            Some((Hash::from_slice(hash), value))
        })
        .collect()
}

/// Root and trie nodes of a genesis state.
pub fn genesis_state(store: StateStore, storage: &Storage) -> (Hash, Vec<(Hash, Vec<u8>)>) {
    let empty = sp_trie::empty_trie_root::<sp_trie::LayoutV1<Hashing>>();
    let backend = state_at(store, empty);
    let delta = storage.top.iter().map(|(k, v)| (&k[..], Some(&v[..])));
    let (root, mut transaction) = backend.storage_root(delta, STATE_VERSION);
    (root, drain_nodes(&mut transaction))
}
