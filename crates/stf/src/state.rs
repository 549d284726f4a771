//! A shard's state: key-value storage under a Merkle trie kept in memory, with a flat map of
//! every pair beside it for reads.
//!
//! Execution runs the runtime against an overlay over the state. Reads are served from the flat
//! map, so a read costs one hash-map lookup however large the state grows, instead of a walk down
//! the trie that gets longer with every order of magnitude of accounts. The trie is used only for
//! what needs it: the root, ordered key iteration and proofs. The new root is computed along the
//! changed keys only, into a delta of trie nodes (added, dropped) over the state's nodes, and
//! committing applies that delta: the cost is the change times the trie's depth, never the size
//! of the state. Nodes the change makes unreachable are dropped on the spot, so no periodic sweep
//! over every node is needed either. Trie nodes are keyed by their hash alone (one
//! copy of a node however often it occurs, counted by reference), since a shard keeps only its
//! latest state. The diff of a block is the list of changed keys with their new values (or `None`
//! for deletions); a peer or a restarted enclave applies it and checks the resulting root.
//! Snapshots carry every pair and are checked against their root on load.

use cloister_primitives::Hash;
use codec::{Decode, Encode};
use sp_core::H256;
use sp_runtime::{traits::BlakeTwo256, StateVersion};
use sp_state_machine::{
    backend::{Backend, IterArgs, StorageIterator},
    BackendTransaction, Ext, OverlayedChanges, TrieBackend, TrieBackendBuilder, UsageInfo,
};
use sp_trie::{HashDBT, MemoryDB};
use std::{
    cell::RefCell,
    collections::HashMap,
    panic::{catch_unwind, AssertUnwindSafe},
};

/// The state version of shard tries (values over 32 bytes are hashed into their node).
pub const STATE_VERSION: StateVersion = StateVersion::V1;

/// What a block changed: keys in order with their new value, `None` for a deletion.
pub type StateDiff = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Trie nodes by hash, with reference counts.
type Nodes = MemoryDB<BlakeTwo256>;
/// The trie over [`Nodes`] at one root.
type Trie<'a> = TrieBackend<&'a Nodes, BlakeTwo256>;
/// Every pair of the state.
type Values = HashMap<Box<[u8]>, Box<[u8]>>;

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
    nodes: NodeDelta,
    transaction: sp_state_machine::BackendTransaction<BlakeTwo256>,
}

/// One shard's state.
pub struct ShardState {
    nodes: Nodes,
    root: Hash,
    values: Values,
}

impl Default for ShardState {
    fn default() -> Self {
        Self::empty()
    }
}

impl ShardState {
    /// An empty state.
    pub fn empty() -> Self {
        Self {
            nodes: Nodes::default(),
            root: sp_trie::empty_trie_root::<sp_trie::LayoutV1<BlakeTwo256>>(),
            values: Values::default(),
        }
    }

    /// The Merkle root of the state.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// How many pairs the state holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the state holds nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.values.get(key).map(|v| v.to_vec()))
    }

    fn trie(&self) -> Trie<'_> {
        TrieBackendBuilder::new(&self.nodes, self.root).build()
    }

    fn backend<'a>(&'a self, trie: &'a Trie<'a>) -> FlatBackend<'a> {
        FlatBackend { trie, values: &self.values, root_delta: RefCell::new(None) }
    }

    /// Runs `f` with the state as its externalities and returns the changes it made, without
    /// applying them. A panic inside `f` is caught and reported; nothing changes then.
    pub fn execute<R>(&self, f: impl FnOnce() -> R) -> Result<PendingChanges<R>, StateError> {
        silenced(|| self.execute_silenced(f))
    }

    fn execute_silenced<R>(&self, f: impl FnOnce() -> R) -> Result<PendingChanges<R>, StateError> {
        let trie = self.trie();
        let backend = self.backend(&trie);
        let mut overlay = OverlayedChanges::<BlakeTwo256>::default();
        let result = {
            let mut ext = Ext::new(&mut overlay, &backend, None);
            catch_unwind(AssertUnwindSafe(|| sp_externalities::set_and_run_with_externalities(&mut ext, f)))
                .map_err(|panic| StateError::Panicked(panic_message(&panic)))?
        };
        let changes =
            overlay.drain_storage_changes(&backend, STATE_VERSION).map_err(|e| StateError::Backend(e.to_string()))?;
        let nodes = match backend.root_delta.take() {
            Some(Ok(nodes)) => nodes,
            Some(Err(error)) => return Err(StateError::Backend(error)),
            None => return Err(StateError::Backend("the state root was not computed".into())),
        };
        Ok(PendingChanges {
            result,
            diff: changes.main_storage_changes,
            root: changes.transaction_storage_root,
            base: self.root,
            nodes,
            transaction: changes.transaction,
        })
    }

    /// Runs `f` read-only: whatever it writes is discarded.
    pub fn read<R>(&self, f: impl FnOnce() -> R) -> Result<R, StateError> {
        let trie = self.trie();
        let backend = self.backend(&trie);
        let mut overlay = OverlayedChanges::<BlakeTwo256>::default();
        let mut ext = Ext::new(&mut overlay, &backend, None);
        silenced(|| catch_unwind(AssertUnwindSafe(|| sp_externalities::set_and_run_with_externalities(&mut ext, f))))
            .map_err(|panic| StateError::Panicked(panic_message(&panic)))
    }

    /// Applies changes computed on the current state.
    pub fn commit<R>(&mut self, pending: PendingChanges<R>) -> Result<R, StateError> {
        if pending.base != self.root {
            return Err(StateError::Stale { made_on: pending.base, now: self.root });
        }
        pending.nodes.apply(&mut self.nodes);
        // Child tries, which the runtime does not use, would come this way.
        apply_transaction(&mut self.nodes, pending.transaction);
        for (key, value) in pending.diff {
            match value {
                Some(value) => self.values.insert(key.into(), value.into()),
                None => self.values.remove(&key[..]),
            };
        }
        self.root = pending.root;
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

    /// Every pair of the state in key order with its root, for a sealed snapshot.
    pub fn snapshot(&self) -> Result<Vec<u8>, StateError> {
        let mut pairs: Vec<(&[u8], &[u8])> = self.values.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        pairs.sort_unstable_by_key(|(k, _)| *k);
        Ok((self.root, pairs).encode())
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

/// The state as the runtime's externalities see it: [`Backend::storage`] from the flat map,
/// everything that needs the trie (roots, hashes, key order) from the trie.
struct FlatBackend<'a> {
    trie: &'a Trie<'a>,
    values: &'a Values,
    /// The node changes of the last root computed, for [`ShardState::commit`].
    root_delta: RefCell<Option<Result<NodeDelta, String>>>,
}

impl std::fmt::Debug for FlatBackend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlatBackend").field("root", self.trie.root()).field("pairs", &self.values.len()).finish()
    }
}

/// Key iteration over a [`FlatBackend`]: the trie's, which keeps key order.
struct FlatIter<'a> {
    inner: <Trie<'a> as Backend<BlakeTwo256>>::RawIter,
}

impl<'a> StorageIterator<BlakeTwo256> for FlatIter<'a> {
    type Backend = FlatBackend<'a>;
    type Error = sp_state_machine::DefaultError;

    fn next_key(&mut self, backend: &Self::Backend) -> Option<Result<Vec<u8>, Self::Error>> {
        self.inner.next_key(backend.trie)
    }

    fn next_pair(&mut self, backend: &Self::Backend) -> Option<Result<(Vec<u8>, Vec<u8>), Self::Error>> {
        self.inner.next_pair(backend.trie)
    }

    fn was_complete(&self) -> bool {
        self.inner.was_complete()
    }
}

impl<'a> Backend<BlakeTwo256> for FlatBackend<'a> {
    type Error = sp_state_machine::DefaultError;
    type TrieBackendStorage = &'a Nodes;
    type RawIter = FlatIter<'a>;

    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.values.get(key).map(|v| v.to_vec()))
    }

    fn exists_storage(&self, key: &[u8]) -> Result<bool, Self::Error> {
        Ok(self.values.contains_key(key))
    }

    fn storage_hash(&self, key: &[u8]) -> Result<Option<H256>, Self::Error> {
        self.trie.storage_hash(key)
    }

    fn closest_merkle_value(&self, key: &[u8]) -> Result<Option<sp_trie::MerkleValue<H256>>, Self::Error> {
        self.trie.closest_merkle_value(key)
    }

    fn child_closest_merkle_value(
        &self,
        child_info: &sp_core::storage::ChildInfo,
        key: &[u8],
    ) -> Result<Option<sp_trie::MerkleValue<H256>>, Self::Error> {
        self.trie.child_closest_merkle_value(child_info, key)
    }

    fn child_storage(
        &self,
        child_info: &sp_core::storage::ChildInfo,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, Self::Error> {
        self.trie.child_storage(child_info, key)
    }

    fn child_storage_hash(
        &self,
        child_info: &sp_core::storage::ChildInfo,
        key: &[u8],
    ) -> Result<Option<H256>, Self::Error> {
        self.trie.child_storage_hash(child_info, key)
    }

    fn next_storage_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        self.trie.next_storage_key(key)
    }

    fn next_child_storage_key(
        &self,
        child_info: &sp_core::storage::ChildInfo,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, Self::Error> {
        self.trie.next_child_storage_key(child_info, key)
    }

    /// The new root, computed into a [`NodeDelta`] kept for the commit; the transaction
    /// returned is empty. (The trie backend would build the same changes in a prefixed
    /// overlay and copy them again: at 10^6 accounts that copying was most of a block's cost.)
    fn storage_root<'b>(
        &self,
        delta: impl Iterator<Item = (&'b [u8], Option<&'b [u8]>)>,
        state_version: StateVersion,
    ) -> (H256, BackendTransaction<BlakeTwo256>) {
        let (base, old_root) = (*self.trie.backend_storage(), *self.trie.root());
        let mut changes = NodeDelta::default();
        let mut db = DeltaDb { base, delta: &mut changes };
        let root = match state_version {
            StateVersion::V0 => sp_trie::delta_trie_root::<sp_trie::LayoutV0<BlakeTwo256>, _, _, _, _, _>(
                &mut db, old_root, delta, None, None,
            ),
            StateVersion::V1 => sp_trie::delta_trie_root::<sp_trie::LayoutV1<BlakeTwo256>, _, _, _, _, _>(
                &mut db, old_root, delta, None, None,
            ),
        };
        match root {
            Ok(root) => {
                *self.root_delta.borrow_mut() = Some(Ok(changes));
                (root, Default::default())
            }
            Err(error) => {
                *self.root_delta.borrow_mut() = Some(Err(format!("the trie is missing a node: {error}")));
                (old_root, Default::default())
            }
        }
    }

    fn child_storage_root<'b>(
        &self,
        child_info: &sp_core::storage::ChildInfo,
        delta: impl Iterator<Item = (&'b [u8], Option<&'b [u8]>)>,
        state_version: StateVersion,
    ) -> (H256, bool, BackendTransaction<BlakeTwo256>) {
        self.trie.child_storage_root(child_info, delta, state_version)
    }

    fn raw_iter(&self, args: IterArgs) -> Result<Self::RawIter, Self::Error> {
        Ok(FlatIter { inner: self.trie.raw_iter(args)? })
    }

    fn register_overlay_stats(&self, stats: &sp_state_machine::StateMachineStats) {
        self.trie.register_overlay_stats(stats)
    }

    fn usage_info(&self) -> UsageInfo {
        self.trie.usage_info()
    }
}

/// The trie nodes a block adds and drops, by hash: the node's bytes (when added) and the change
/// of its reference count. The root is computed into it without touching the state.
#[derive(Default)]
struct NodeDelta(HashMap<H256, (Vec<u8>, i32)>);

impl NodeDelta {
    /// Applies the changes to `nodes`, dropping each node whose count falls to zero.
    fn apply(self, nodes: &mut Nodes) {
        for (hash, (value, rc)) in self.0 {
            if rc < 0 {
                for _ in rc..0 {
                    nodes.remove_and_purge(&hash, hash_db::EMPTY_PREFIX);
                }
            } else if rc > 0 {
                for _ in 1..rc {
                    nodes.emplace(hash, hash_db::EMPTY_PREFIX, value.clone());
                }
                nodes.emplace(hash, hash_db::EMPTY_PREFIX, value);
            }
        }
    }
}

/// The state's nodes with a [`NodeDelta`] over them, as the trie sees them while it computes a
/// root. Nodes are keyed by hash alone, as in [`Nodes`]; the empty node is implied, as there.
struct DeltaDb<'a> {
    base: &'a Nodes,
    delta: &'a mut NodeDelta,
}

/// The empty trie node, `[0]`, which [`Nodes`] never stores.
const EMPTY_NODE: &[u8] = &[0];

impl DeltaDb<'_> {
    fn is_empty_node(hash: &H256) -> bool {
        *hash == <BlakeTwo256 as hash_db::Hasher>::hash(EMPTY_NODE)
    }
}

impl hash_db::HashDB<BlakeTwo256, Vec<u8>> for DeltaDb<'_> {
    fn get(&self, key: &H256, prefix: hash_db::Prefix) -> Option<Vec<u8>> {
        match self.delta.0.get(key) {
            Some((value, rc)) if *rc > 0 && !value.is_empty() => Some(value.clone()),
            _ => HashDBT::get(self.base, key, prefix),
        }
    }

    fn contains(&self, key: &H256, prefix: hash_db::Prefix) -> bool {
        hash_db::HashDB::get(self, key, prefix).is_some()
    }

    fn insert(&mut self, prefix: hash_db::Prefix, value: &[u8]) -> H256 {
        let hash = <BlakeTwo256 as hash_db::Hasher>::hash(value);
        hash_db::HashDB::emplace(self, hash, prefix, value.to_vec());
        hash
    }

    fn emplace(&mut self, key: H256, _prefix: hash_db::Prefix, value: Vec<u8>) {
        if value == EMPTY_NODE {
            return;
        }
        let entry = self.delta.0.entry(key).or_insert_with(|| (Vec::new(), 0));
        if entry.0.is_empty() {
            entry.0 = value;
        }
        entry.1 += 1;
    }

    fn remove(&mut self, key: &H256, _prefix: hash_db::Prefix) {
        if Self::is_empty_node(key) {
            return;
        }
        self.delta.0.entry(*key).or_insert_with(|| (Vec::new(), 0)).1 -= 1;
    }
}

impl hash_db::AsHashDB<BlakeTwo256, Vec<u8>> for DeltaDb<'_> {
    fn as_hash_db(&self) -> &dyn hash_db::HashDB<BlakeTwo256, Vec<u8>> {
        self
    }

    fn as_hash_db_mut<'b>(&'b mut self) -> &'b mut (dyn hash_db::HashDB<BlakeTwo256, Vec<u8>> + 'b) {
        self
    }
}

/// Applies the trie nodes a commit adds and removes to `storage`, dropping each node whose
/// reference count falls to zero as it goes. `consolidate` would leave such nodes in place for a
/// `purge`, which scans every node of the state: at 10^6 accounts that scan made one block in 64
/// take over half a second (longer than a slot) and let the pool back up behind it.
///
/// A key of the transaction is `prefix ‖ hash` ([`sp_trie::prefixed_key`]): the hash is its last
/// 32 bytes, and taking the rest as the prefix gives the same key back.
fn apply_transaction(storage: &mut Nodes, mut transaction: BackendTransaction<BlakeTwo256>) {
    for (key, (value, rc)) in transaction.drain() {
        let Some((prefix, hash)) = key.split_at_checked(key.len().saturating_sub(32)) else { continue };
        let (hash, prefix) = (H256::from_slice(hash), (prefix, None));
        if rc < 0 {
            for _ in rc..0 {
                storage.remove_and_purge(&hash, prefix);
            }
            continue;
        }
        for _ in 1..rc {
            storage.emplace(hash, prefix, value.clone());
        }
        if rc > 0 {
            storage.emplace(hash, prefix, value);
        }
    }
}

/// Runs `f` with every log record it makes dropped, whatever its level or target. The pallets
/// log what the shard protects (the ceremonies pallet names the claimant of a meetup at INFO,
/// registrations and attestations at DEBUG, the balances pallet amounts); inside an SGX enclave
/// nothing would carry those records out, and in the software backend the enclave shares the
/// host's logger, so the runtime runs under a subscriber that keeps nothing. `log` records reach
/// it too: the `log` bridge dispatches to the thread's current subscriber.
fn silenced<R>(f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
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
    fn commits_leave_no_dead_nodes_behind() {
        let mut state = ShardState::empty();
        let mut twin = ShardState::empty();
        for round in 0u32..200 {
            let pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0u32..20)
                .map(|i| {
                    let key = ((round * 7 + i * 13) % 97).to_le_bytes().to_vec();
                    // Shared values (one node referenced from many leaves) and deletions.
                    let value = (i % 5 != 0).then(|| [(round % 3) as u8; 40].to_vec());
                    (key, value)
                })
                .collect();
            let refs: Vec<(&[u8], Option<&[u8]>)> = pairs.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
            let diff = write(&mut state, &refs);
            let pending = twin.prepare_diff(&diff, state.root()).expect("same root");
            twin.commit(pending).expect("commit");
        }
        let storage = &state.nodes;
        let mut purged = storage.clone();
        purged.purge();
        assert!(*storage == purged, "a node with no reference is left in the state");
        // The flat map the reads come from holds exactly the trie's pairs.
        let trie_pairs: Vec<(Vec<u8>, Vec<u8>)> =
            state.trie().pairs(Default::default()).expect("pairs").collect::<Result<_, _>>().expect("pairs");
        let mut flat: Vec<(Vec<u8>, Vec<u8>)> = state.values.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        flat.sort();
        assert_eq!(flat, trie_pairs);
        assert!(!trie_pairs.is_empty());
        let restored = ShardState::from_snapshot(&state.snapshot().expect("snapshot")).expect("restore");
        assert_eq!((restored.root(), twin.root()), (state.root(), state.root()));
        for key in 0u32..97 {
            assert_eq!(twin.get(&key.to_le_bytes()).expect("read"), state.get(&key.to_le_bytes()).expect("read"));
        }
    }

    #[test]
    fn the_root_is_the_one_the_trie_library_computes_for_the_same_pairs() {
        use sp_trie::TrieConfiguration;
        let mut state = ShardState::empty();
        for round in 0u32..30 {
            let pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0u32..50)
                .map(|i| {
                    let key = sp_io::hashing::blake2_128(&((round * 31 + i * 17) % 400).to_le_bytes()).to_vec();
                    // Short values stay in their leaf, long ones get a node of their own; some go.
                    let value = match i % 7 {
                        0 => None,
                        1 => Some(vec![round as u8; 80]),
                        _ => Some(vec![i as u8; 4]),
                    };
                    (key, value)
                })
                .collect();
            let refs: Vec<(&[u8], Option<&[u8]>)> = pairs.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
            write(&mut state, &refs);
            let expected = sp_trie::LayoutV1::<BlakeTwo256>::trie_root(
                state
                    .values
                    .iter()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            );
            assert_eq!(state.root(), expected, "round {round}");
        }
    }

    #[test]
    fn transaction_keys_end_with_the_node_hash() {
        let hash = H256::repeat_byte(7);
        let key = sp_trie::prefixed_key::<BlakeTwo256>(&hash, (&[1, 2, 3], Some(0x40)));
        let (prefix, tail) = key.split_at(key.len() - 32);
        assert_eq!(tail, hash.as_bytes());
        assert_eq!(sp_trie::prefixed_key::<BlakeTwo256>(&hash, (prefix, None)), key);
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
