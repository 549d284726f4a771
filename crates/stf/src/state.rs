//! A shard's state: key-value storage under a Merkle trie kept in memory.
//!
//! Execution runs the runtime against an overlay over the trie. Committing applies only the
//! trie nodes along changed keys, so the root is updated in time proportional to the change,
//! never to the size of the state. The diff of a block is the list of changed keys with their
//! new values (or `None` for deletions); a peer or a restarted enclave applies it and checks the
//! resulting root. Snapshots carry every pair and are checked against their root on load.

use cloister_primitives::Hash;
use codec::{Decode, Encode};
use sp_runtime::{traits::BlakeTwo256, StateVersion};
use sp_state_machine::{Backend, Ext, InMemoryBackend, OverlayedChanges};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The state version of shard tries (values over 32 bytes are hashed into their node).
pub const STATE_VERSION: StateVersion = StateVersion::V1;
/// Commits between two purges of dead trie nodes.
const PURGE_EVERY: u32 = 64;

/// What a block changed: keys in order with their new value, `None` for a deletion.
pub type StateDiff = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Why the state refused an operation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    /// The runtime panicked; nothing was changed.
    #[error("the runtime panicked: {0}")]
    Panicked(String),
    /// The trie backend failed.
    #[error("state backend: {0}")]
    Backend(String),
    /// Applying a diff or a snapshot did not give the root it claims.
    #[error("state root mismatch: expected {expected:?}, got {got:?}")]
    RootMismatch {
        /// The root claimed.
        expected: Hash,
        /// The root computed.
        got: Hash,
    },
    /// Pending changes were made on another state than the current one.
    #[error("pending changes were made on state {made_on:?}, but the state is now {now:?}")]
    Stale {
        /// Root the changes were computed on.
        made_on: Hash,
        /// The current root.
        now: Hash,
    },
    /// A snapshot does not decode.
    #[error("malformed snapshot")]
    MalformedSnapshot,
}

/// Changes computed by [`ShardState::execute`], not yet applied.
pub struct PendingChanges<R> {
    /// What the executed closure returned.
    pub result: R,
    /// The changed keys.
    pub diff: StateDiff,
    /// The root after the changes.
    pub root: Hash,
    base: Hash,
    transaction: sp_state_machine::BackendTransaction<BlakeTwo256>,
}

/// One shard's state.
pub struct ShardState {
    backend: InMemoryBackend<BlakeTwo256>,
    commits_since_purge: u32,
}

impl Default for ShardState {
    fn default() -> Self {
        Self::empty()
    }
}

impl ShardState {
    /// An empty state.
    pub fn empty() -> Self {
        Self { backend: sp_state_machine::new_in_mem::<BlakeTwo256>(), commits_since_purge: 0 }
    }

    /// The Merkle root of the state.
    pub fn root(&self) -> Hash {
        *self.backend.root()
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.backend.storage(key).map_err(|e| StateError::Backend(e.to_string()))
    }

    /// Runs `f` with the state as its externalities and returns the changes it made, without
    /// applying them. A panic inside `f` is caught and reported; nothing changes then.
    pub fn execute<R>(&self, f: impl FnOnce() -> R) -> Result<PendingChanges<R>, StateError> {
        let mut overlay = OverlayedChanges::<BlakeTwo256>::default();
        let result = {
            let mut ext = Ext::new(&mut overlay, &self.backend, None);
            catch_unwind(AssertUnwindSafe(|| sp_externalities::set_and_run_with_externalities(&mut ext, f)))
                .map_err(|panic| StateError::Panicked(panic_message(&panic)))?
        };
        let changes = overlay
            .drain_storage_changes(&self.backend, STATE_VERSION)
            .map_err(|e| StateError::Backend(e.to_string()))?;
        Ok(PendingChanges {
            result,
            diff: changes.main_storage_changes,
            root: changes.transaction_storage_root,
            base: self.root(),
            transaction: changes.transaction,
        })
    }

    /// Runs `f` read-only: whatever it writes is discarded.
    pub fn read<R>(&self, f: impl FnOnce() -> R) -> Result<R, StateError> {
        let mut overlay = OverlayedChanges::<BlakeTwo256>::default();
        let mut ext = Ext::new(&mut overlay, &self.backend, None);
        catch_unwind(AssertUnwindSafe(|| sp_externalities::set_and_run_with_externalities(&mut ext, f)))
            .map_err(|panic| StateError::Panicked(panic_message(&panic)))
    }

    /// Applies changes computed on the current state.
    pub fn commit<R>(&mut self, pending: PendingChanges<R>) -> Result<R, StateError> {
        if pending.base != self.root() {
            return Err(StateError::Stale { made_on: pending.base, now: self.root() });
        }
        let backend = std::mem::take(&mut self.backend);
        let mut storage = backend.into_storage();
        storage.consolidate(pending.transaction);
        self.commits_since_purge += 1;
        if self.commits_since_purge >= PURGE_EVERY {
            storage.purge();
            self.commits_since_purge = 0;
        }
        self.backend = sp_state_machine::TrieBackendBuilder::new(storage, pending.root).build();
        Ok(pending.result)
    }

    /// Computes what applying `diff` gives, refusing it unless the root is `expected_root`.
    pub fn prepare_diff(&self, diff: &StateDiff, expected_root: Hash) -> Result<PendingChanges<()>, StateError> {
        let pending = self.execute(|| {
            for (key, value) in diff {
                match value {
                    Some(value) => sp_io::storage::set(key, value),
                    None => sp_io::storage::clear(key),
                }
            }
        })?;
        if pending.root != expected_root {
            return Err(StateError::RootMismatch { expected: expected_root, got: pending.root });
        }
        Ok(pending)
    }

    /// Every pair of the state with its root, for a sealed snapshot.
    pub fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        let pairs = self
            .backend
            .pairs(Default::default())
            .map_err(|e| StateError::Backend(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StateError::Backend(e.to_string()))?;
        Ok((self.root(), pairs).encode())
    }

    /// The state of a snapshot, checked against the root it carries.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self, StateError> {
        let (root, pairs) =
            <(Hash, Vec<(Vec<u8>, Vec<u8>)>)>::decode(&mut &bytes[..]).map_err(|_| StateError::MalformedSnapshot)?;
        let mut state = Self::empty();
        let pending = state.prepare_diff(&pairs.into_iter().map(|(k, v)| (k, Some(v))).collect(), root)?;
        state.commit(pending)?;
        Ok(state)
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(state: &mut ShardState, pairs: &[(&[u8], Option<&[u8]>)]) -> StateDiff {
        let pending = state
            .execute(|| {
                for (k, v) in pairs {
                    match v {
                        Some(v) => sp_io::storage::set(k, v),
                        None => sp_io::storage::clear(k),
                    }
                }
            })
            .expect("execute");
        let diff = pending.diff.clone();
        state.commit(pending).expect("commit");
        diff
    }

    #[test]
    fn a_diff_replayed_on_a_copy_gives_the_same_root() {
        let mut author = ShardState::empty();
        let mut follower = ShardState::empty();
        for round in 0u8..5 {
            let diff = write(&mut author, &[(&[round], Some(&[round, 1])), (&[0], Some(&[round]))]);
            let pending = follower.prepare_diff(&diff, author.root()).expect("same root");
            follower.commit(pending).expect("commit");
        }
        let diff = write(&mut author, &[(&[1], None)]);
        assert_eq!(diff, vec![(vec![1], None)]);
        let pending = follower.prepare_diff(&diff, author.root()).expect("deletion replays");
        follower.commit(pending).expect("commit");
        assert_eq!(follower.root(), author.root());
        assert_eq!(follower.get(&[1]).expect("read"), None);
        assert_eq!(follower.get(&[4]).expect("read"), Some(vec![4, 1]));
    }

    #[test]
    fn a_diff_with_a_wrong_root_changes_nothing() {
        let mut state = ShardState::empty();
        write(&mut state, &[(b"a", Some(b"1"))]);
        let before = state.root();
        let err = state.prepare_diff(&vec![(b"a".to_vec(), Some(b"2".to_vec()))], Hash::repeat_byte(9));
        assert!(matches!(err, Err(StateError::RootMismatch { .. })));
        assert_eq!(state.root(), before);
        assert_eq!(state.get(b"a").expect("read"), Some(b"1".to_vec()));
    }

    #[test]
    fn stale_pending_changes_are_refused() {
        let mut state = ShardState::empty();
        let stale = state.execute(|| sp_io::storage::set(b"x", b"1")).expect("execute");
        write(&mut state, &[(b"y", Some(b"2"))]);
        assert!(matches!(state.commit(stale), Err(StateError::Stale { .. })));
        assert_eq!(state.get(b"x").expect("read"), None);
    }

    #[test]
    fn snapshots_round_trip_and_tampering_is_detected() {
        let mut state = ShardState::empty();
        for i in 0u32..300 {
            write(&mut state, &[(&i.to_le_bytes(), Some(&i.to_be_bytes()))]);
        }
        let snapshot = state.snapshot().expect("snapshot");
        let restored = ShardState::from_snapshot(&snapshot).expect("restore");
        assert_eq!(restored.root(), state.root());
        let mut tampered = snapshot.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(ShardState::from_snapshot(&tampered), Err(StateError::RootMismatch { .. })));
        assert_eq!(ShardState::from_snapshot(&snapshot[..10]).err(), Some(StateError::MalformedSnapshot));
    }

    #[test]
    fn a_panic_changes_nothing() {
        let state = ShardState::empty();
        let result = state.execute(|| {
            sp_io::storage::set(b"k", b"v");
            panic!("boom")
        });
        assert_eq!(result.err(), Some(StateError::Panicked("boom".into())));
        assert_eq!(state.get(b"k").expect("read"), None);
    }
}
