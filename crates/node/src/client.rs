//! The chain as the node knows it: blocks, states, the best and the finalized block.
//!
//! [`Client`] owns the database and is the only writer. Import checks a block against the Aura
//! rules with the authorities of its parent's state, executes it natively on the parent's state
//! (which verifies the extrinsics root and the state root), checks its inherents, and commits the
//! header, body, new trie nodes and chain pointers in one database transaction. The longest chain
//! that contains the finalized block is the best chain; finalized blocks are never reverted.
//!
//! Subscribers (RPC, pool, authoring) follow the chain through [`ChainEvent`]s.

use crate::{
    chain_spec::{genesis_header, ChainSpec},
    db::{BlockCommit, ChainDb, DbError},
    executor::{self, ExecutionError, StateBackend},
    journal::{Journal, JournalRecord},
};
use cloister_consensus::{aura, grandpa, AuraError, GrandpaJustification, JustificationError};
use cloister_primitives::{BlockNumber, Hash, Header, OpaqueBlock};
use cloister_runtime::Runtime;
use codec::{Decode, Encode};
use parking_lot::{Mutex, RwLock};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::{AuthorityList, SetId, GRANDPA_ENGINE_ID};
use sp_runtime::{
    generic::SignedBlock,
    traits::{Block as _, Header as _},
    Justifications, OpaqueExtrinsic,
};
use sp_state_machine::Backend as _;
use std::{
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

/// A block with its justifications, as stored and served.
pub type StoredBlock = SignedBlock<OpaqueBlock>;

pub use cloister_rpc::node::ChainEvent;

/// Where a block comes from; decides which checks apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOrigin {
    /// Authored by this node, already executed.
    Own,
    /// Received from a peer or the RPC.
    Network,
    /// Replayed from the node's own journal after a restart.
    Journal,
}

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The parent is unknown.
    #[error("unknown parent {parent} of block #{number}")]
    UnknownParent {
        /// The parent's hash.
        parent: Hash,
        /// The block's number.
        number: BlockNumber,
    },
    /// The block breaks the Aura rules.
    #[error("block #{number} breaks the Aura rules: {source}")]
    Aura {
        /// The block's number.
        number: BlockNumber,
        /// The rule.
        source: AuraError,
    },
    /// Execution failed: wrong state root, bad extrinsic, runtime panic.
    #[error("block #{number} is invalid: {source}")]
    Execution {
        /// The block's number.
        number: BlockNumber,
        /// Why.
        source: ExecutionError,
    },
    /// The block's inherents (its timestamp) are not acceptable.
    #[error("block #{number} has bad inherents: {reason}")]
    Inherents {
        /// The block's number.
        number: BlockNumber,
        /// Why.
        reason: String,
    },
    /// The block would build on a chain that conflicts with the finalized one.
    #[error("block #{number} does not extend the finalized chain at #{finalized}")]
    ConflictsWithFinalized {
        /// The block's number.
        number: BlockNumber,
        /// Number of the finalized block.
        finalized: BlockNumber,
    },
    /// The block does not decode.
    #[error("malformed block: {0}")]
    Malformed(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why a block could not be finalized.
#[derive(Debug, thiserror::Error)]
pub enum FinalityError {
    /// The block is not known.
    #[error("cannot finalize unknown block {0}")]
    UnknownBlock(Hash),
    /// The block is not on the best chain.
    #[error("block {0} is not on the best chain")]
    NotCanonical(Hash),
    /// The justification does not prove the block final.
    #[error("bad justification: {0}")]
    Justification(#[from] JustificationError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The authority set could not be read.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
}

/// Errors of state queries.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The block is not known.
    #[error("unknown block {0}")]
    UnknownBlock(Hash),
    /// Reading the state or running the runtime failed.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The state of the block was pruned or is corrupt.
    #[error("state of block {block} unavailable: {reason}")]
    Unavailable {
        /// The block.
        block: Hash,
        /// Why.
        reason: String,
    },
}

/// The heads of the chain.
#[derive(Clone, Debug)]
pub struct ChainInfo {
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

struct Heads {
    best: (Hash, Header),
    finalized: (Hash, Header),
}

/// Outcome of a successful import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Imported {
    /// The block is now in the database.
    New {
        /// Whether it became the best block.
        is_new_best: bool,
    },
    /// The block was already in the database.
    AlreadyKnown,
}

/// Milliseconds since the Unix epoch by the local clock.
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Timestamp inherent data for `millis`.
pub fn inherent_data(millis: u64) -> sp_inherents::InherentData {
    let mut data = sp_inherents::InherentData::new();
    // Putting a u64 under a fresh identifier cannot fail.
    let _ = data.put_data(sp_timestamp::INHERENT_IDENTIFIER, &millis);
    data
}

/// Slots for which the authors' blocks are remembered to notice equivocations.
const EQUIVOCATION_WINDOW_SLOTS: u64 = 1024;

/// The chain.
pub struct Client {
    db: ChainDb,
    spec: ChainSpec,
    genesis_hash: Hash,
    heads: RwLock<Heads>,
    import_lock: Mutex<()>,
    events: broadcast::Sender<ChainEvent>,
    journal: Mutex<Journal>,
    metrics: crate::metrics::ChainMetrics,
    equivocations: Mutex<aura::EquivocationDetector>,
}

impl Client {
    /// Opens the chain in `db`, writing the genesis block of `spec` if the database is new.
    ///
    /// Fails if the database holds another chain.
    pub fn open(
        db: ChainDb,
        spec: ChainSpec,
        journal: Journal,
        metrics: crate::metrics::ChainMetrics,
    ) -> Result<Self, ClientError> {
        let storage = spec.genesis_storage()?;
        let (root, nodes) = executor::genesis_state(db.state(), &storage);
        let genesis = genesis_header(root);
        let genesis_hash = genesis.hash();
        match db.genesis_hash()? {
            Some(stored) if stored != genesis_hash => {
                return Err(ClientError::GenesisMismatch { stored, spec: genesis_hash });
            }
            Some(_) => {}
            None => {
                info!(target: "client", hash = %genesis_hash, chain = %spec.id, "writing genesis block");
                db.commit(BlockCommit {
                    block: Some((genesis.clone(), Vec::new())),
                    state_nodes: nodes,
                    canon: vec![(0, genesis_hash)],
                    best: Some(genesis_hash),
                    finalized: Some(genesis_hash),
                    genesis: Some(genesis_hash),
                    ..Default::default()
                })?;
            }
        }
        let load = |hash: Option<Hash>| -> Result<(Hash, Header), ClientError> {
            let hash = hash.unwrap_or(genesis_hash);
            let header = db.header(&hash)?.ok_or(ClientError::MissingHeader(hash))?;
            Ok((hash, header))
        };
        let best = load(db.best_hash()?)?;
        let finalized = load(db.finalized_hash()?)?;
        let (events, _) = broadcast::channel(1024);
        let client = Self {
            db,
            spec,
            genesis_hash,
            heads: RwLock::new(Heads { best, finalized }),
            import_lock: Mutex::new(()),
            events,
            journal: Mutex::new(journal),
            metrics,
            equivocations: Mutex::new(aura::EquivocationDetector::new(EQUIVOCATION_WINDOW_SLOTS)),
        };
        client.update_height_metrics();
        Ok(client)
    }

    /// The chain spec this client runs.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The heads of the chain.
    pub fn info(&self) -> ChainInfo {
        let heads = self.heads.read();
        ChainInfo {
            genesis_hash: self.genesis_hash,
            best_hash: heads.best.0,
            best_number: *heads.best.1.number(),
            finalized_hash: heads.finalized.0,
            finalized_number: *heads.finalized.1.number(),
        }
    }

    /// The best block's header.
    pub fn best_header(&self) -> (Hash, Header) {
        self.heads.read().best.clone()
    }

    /// The finalized block's header.
    pub fn finalized_header(&self) -> (Hash, Header) {
        self.heads.read().finalized.clone()
    }

    /// Follows the chain.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// A block's header.
    pub fn header(&self, hash: &Hash) -> Result<Option<Header>, DbError> {
        self.db.header(hash)
    }

    /// A whole block with its justifications.
    pub fn block(&self, hash: &Hash) -> Result<Option<StoredBlock>, DbError> {
        let Some(header) = self.db.header(hash)? else { return Ok(None) };
        let extrinsics = self.db.body(hash)?.unwrap_or_default();
        let justifications = self.db.justifications(hash)?;
        Ok(Some(SignedBlock { block: OpaqueBlock::new(header, extrinsics), justifications }))
    }

    /// Hash of the best chain's block at `number`.
    pub fn hash(&self, number: BlockNumber) -> Result<Option<Hash>, DbError> {
        self.db.canonical_hash(number)
    }

    /// The state after block `hash`.
    pub fn state_at(&self, hash: &Hash) -> Result<StateBackend, StateError> {
        let header = self.db.header(hash)?.ok_or(StateError::UnknownBlock(*hash))?;
        Ok(executor::state_at(self.db.state(), *header.state_root()))
    }

    /// Calls a runtime API at block `hash`.
    pub fn call(&self, hash: &Hash, method: &str, input: &[u8]) -> Result<Vec<u8>, StateError> {
        let state = self.state_at(hash)?;
        Ok(executor::call(&state, method, input)?)
    }

    /// Calls a runtime API at `hash` and decodes its result.
    pub fn call_decode<T: Decode>(&self, hash: &Hash, method: &str, input: &[u8]) -> Result<T, StateError> {
        let bytes = self.call(hash, method, input)?;
        T::decode(&mut &bytes[..]).map_err(|e| StateError::Unavailable {
            block: *hash,
            reason: format!("{method} returned undecodable data: {e}"),
        })
    }

    /// A storage value at block `hash`.
    pub fn storage(&self, hash: &Hash, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let state = self.state_at(hash)?;
        state.storage(key).map_err(|reason| StateError::Unavailable { block: *hash, reason })
    }

    /// Up to `count` storage keys with `prefix` at block `hash`, after `start_key` (exclusive).
    pub fn storage_keys(
        &self,
        hash: &Hash,
        prefix: &[u8],
        count: usize,
        start_key: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, StateError> {
        let state = self.state_at(hash)?;
        let unavailable = |reason: String| StateError::Unavailable { block: *hash, reason };
        let mut args = sp_state_machine::IterArgs::default();
        args.prefix = Some(prefix);
        args.start_at = start_key.filter(|k| k.starts_with(prefix) || *k > prefix);
        args.start_at_exclusive = true;
        let mut keys = Vec::new();
        for key in state.keys(args).map_err(unavailable)? {
            if keys.len() >= count {
                break;
            }
            keys.push(key.map_err(unavailable)?);
        }
        Ok(keys)
    }

    /// A proof of the values of `keys` at block `hash`, checkable against its state root.
    pub fn read_proof(&self, hash: &Hash, keys: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, StateError> {
        let state = self.state_at(hash)?;
        let proof = sp_state_machine::prove_read_on_trie_backend(&state, keys.iter())
            .map_err(|e| StateError::Unavailable { block: *hash, reason: e.to_string() })?;
        Ok(proof.into_iter_nodes().collect())
    }

    /// Aura authorities after block `hash`.
    pub fn aura_authorities(&self, hash: &Hash) -> Result<Vec<AuraId>, StateError> {
        self.call_decode(hash, "AuraApi_authorities", &[])
    }

    /// GRANDPA authorities and set id after block `hash`.
    pub fn grandpa_authorities(&self, hash: &Hash) -> Result<(SetId, AuthorityList), StateError> {
        let set_id = self.call_decode(hash, "GrandpaApi_current_set_id", &[])?;
        let list = self.call_decode(hash, "GrandpaApi_grandpa_authorities", &[])?;
        Ok((set_id, list))
    }

    /// The slot duration of the chain, in milliseconds.
    pub fn slot_duration_ms(&self) -> u64 {
        self.spec.consensus.slot_duration_ms
    }

    fn parent_slot(&self, parent: &Header) -> Option<aura::Slot> {
        if *parent.number() == 0 {
            None
        } else {
            aura::find_slot(parent).ok()
        }
    }

    /// Checks a sealed header against Aura with its parent's authorities.
    pub fn check_seal(&self, header: &Header, parent: &Header) -> Result<aura::CheckedHeader, ImportError> {
        let number = *header.number();
        let authorities = self
            .aura_authorities(&parent.hash())
            .map_err(|e| ImportError::Execution { number, source: ExecutionError::State(e.to_string()) })?;
        let now = aura::slot_at(now_millis(), self.slot_duration_ms());
        aura::check_header(header.clone(), &authorities, self.parent_slot(parent), now)
            .map_err(|source| ImportError::Aura { number, source })
    }

    /// Imports a sealed block: checks, executes and stores it.
    pub fn import_block(&self, block: StoredBlock, origin: BlockOrigin) -> Result<Imported, ImportError> {
        let _guard = self.import_lock.lock();
        let started = Instant::now();
        let (header, extrinsics) = block.block.deconstruct();
        let hash = header.hash();
        let number = *header.number();
        if self.db.header(&hash)?.is_some() {
            return Ok(Imported::AlreadyKnown);
        }
        let parent = self
            .db
            .header(header.parent_hash())?
            .ok_or(ImportError::UnknownParent { parent: *header.parent_hash(), number })?;
        self.check_extends_finalized(&header)?;

        let authorities = self
            .aura_authorities(&parent.hash())
            .map_err(|e| ImportError::Execution { number, source: ExecutionError::State(e.to_string()) })?;
        let now = if origin == BlockOrigin::Journal {
            // Blocks in our own journal were checked when first imported; the slot clock has
            // moved on since, so only the seal itself is verified again.
            aura::find_slot(&header).map_err(|source| ImportError::Aura { number, source })?
        } else {
            aura::slot_at(now_millis(), self.slot_duration_ms())
        };
        let checked = aura::check_header(header.clone(), &authorities, self.parent_slot(&parent), now)
            .map_err(|source| ImportError::Aura { number, source })?;
        if let Some(author) = authorities.get(checked.author_index as usize) {
            if let Some(e) = self.equivocations.lock().note(checked.slot, author, hash) {
                self.metrics.aura_equivocation();
                warn!(
                    target: "aura",
                    slot = *e.slot,
                    author = %e.author,
                    first = %e.first,
                    second = %e.second,
                    "equivocation: the slot's author sealed two different blocks"
                );
            }
        }

        let pre_block = OpaqueBlock::new(checked.pre_header.clone(), extrinsics.clone());
        let lazy =
            <cloister_runtime::Block as sp_runtime::traits::Block>::LazyBlock::decode(&mut &pre_block.encode()[..])
                .map_err(|e| ImportError::Execution { number, source: ExecutionError::State(e.to_string()) })?;
        let parent_state = executor::state_at(self.db.state(), *parent.state_root());
        if origin == BlockOrigin::Network {
            self.check_inherents(&parent_state, number, &pre_block)?;
        }
        let mut execution = executor::execute(&parent_state, || {
            cloister_runtime::Executive::execute_block(lazy);
        })
        .map_err(|source| ImportError::Execution { number, source })?;
        let nodes = executor::new_trie_nodes(&mut execution.changes);
        let is_new_best = self.commit_block(header, extrinsics, block.justifications, nodes)?;
        self.metrics.observe_import(started.elapsed());
        debug!(target: "client", number, %hash, ?origin, is_new_best, "imported");
        Ok(Imported::New { is_new_best })
    }

    fn check_inherents(
        &self,
        state: &StateBackend,
        number: BlockNumber,
        block: &OpaqueBlock,
    ) -> Result<(), ImportError> {
        let lazy = <cloister_runtime::Block as sp_runtime::traits::Block>::LazyBlock::decode(&mut &block.encode()[..])
            .map_err(|e| ImportError::Inherents { number, reason: e.to_string() })?;
        let data = inherent_data(now_millis());
        let result = executor::read(state, || {
            <Runtime as sp_block_builder::runtime_decl_for_block_builder::BlockBuilderV6<cloister_runtime::Block>>::check_inherents(lazy, data)
        })
        .map_err(|source| ImportError::Execution { number, source })?;
        if result.ok() {
            return Ok(());
        }
        let reason = result
            .into_errors()
            .map(|(id, bytes)| format!("{}: {}", String::from_utf8_lossy(&id), hex::encode(bytes)))
            .collect::<Vec<_>>()
            .join(", ");
        Err(ImportError::Inherents { number, reason })
    }

    fn check_extends_finalized(&self, header: &Header) -> Result<(), ImportError> {
        let (fin_hash, fin_header) = self.finalized_header();
        let number = *header.number();
        let finalized = *fin_header.number();
        if number <= finalized {
            return Err(ImportError::ConflictsWithFinalized { number, finalized });
        }
        // Walk back to the finalized height and compare.
        let mut cursor = *header.parent_hash();
        let mut cursor_number = number - 1;
        while cursor_number > finalized {
            let parent = self.db.header(&cursor)?.ok_or(ImportError::UnknownParent { parent: cursor, number })?;
            cursor = *parent.parent_hash();
            cursor_number -= 1;
        }
        if cursor != fin_hash {
            return Err(ImportError::ConflictsWithFinalized { number, finalized });
        }
        Ok(())
    }

    /// Stores an executed block; returns whether it became the best block.
    fn commit_block(
        &self,
        header: Header,
        extrinsics: Vec<OpaqueExtrinsic>,
        justifications: Option<Justifications>,
        state_nodes: Vec<(Hash, Vec<u8>)>,
    ) -> Result<bool, ImportError> {
        let hash = header.hash();
        let number = *header.number();
        let (best_hash, best_header) = self.best_header();
        let is_new_best = number > *best_header.number();
        let mut commit = BlockCommit {
            block: Some((header.clone(), extrinsics.clone())),
            justifications: justifications.clone().map(|j| (hash, j)),
            state_nodes,
            ..Default::default()
        };
        if is_new_best {
            commit.canon = self.route_to_canonical(&header)?;
            commit.best = Some(hash);
            if *header.parent_hash() != best_hash {
                info!(target: "client", number, %hash, "reorganising to a longer chain");
            }
        }
        self.journal.lock().append(&JournalRecord::Block(StoredBlock {
            block: OpaqueBlock::new(header.clone(), extrinsics.clone()),
            justifications,
        }));
        self.db.commit(commit)?;
        if is_new_best {
            self.heads.write().best = (hash, header.clone());
        }
        self.update_height_metrics();
        let extrinsic_hashes = extrinsics.iter().map(|x| sp_crypto_hashing::blake2_256(&x.encode()).into()).collect();
        let _ = self.events.send(ChainEvent::Imported { hash, header, is_new_best, extrinsics: extrinsic_hashes });
        Ok(is_new_best)
    }

    /// Canonical entries to write so that `header`'s chain becomes the best chain.
    fn route_to_canonical(&self, header: &Header) -> Result<Vec<(BlockNumber, Hash)>, DbError> {
        let mut route = vec![(*header.number(), header.hash())];
        let mut parent_hash = *header.parent_hash();
        let mut number = *header.number();
        while number > 0 {
            number -= 1;
            if self.db.canonical_hash(number)? == Some(parent_hash) {
                break;
            }
            route.push((number, parent_hash));
            match self.db.header(&parent_hash)? {
                Some(parent) => parent_hash = *parent.parent_hash(),
                None => break,
            }
        }
        Ok(route)
    }

    /// Stores a block this node authored and executed itself.
    pub fn import_own_block(
        &self,
        header: Header,
        extrinsics: Vec<OpaqueExtrinsic>,
        state_nodes: Vec<(Hash, Vec<u8>)>,
        built: Instant,
    ) -> Result<bool, ImportError> {
        let _guard = self.import_lock.lock();
        if let Some(parent) = self.db.header(header.parent_hash())? {
            if parent.hash() != self.best_header().0 {
                warn!(target: "client", number = header.number(), "authored block no longer builds on the best block");
            }
        }
        let is_new_best = self.commit_block(header, extrinsics, None, state_nodes)?;
        self.metrics.observe_import(built.elapsed());
        Ok(is_new_best)
    }

    /// Finalizes block `hash` with a GRANDPA justification, checked against the authority set
    /// of its parent (the set that voted on it).
    pub fn finalize(&self, hash: Hash, justification: Option<GrandpaJustification>) -> Result<(), FinalityError> {
        let _guard = self.import_lock.lock();
        let header = self.db.header(&hash)?.ok_or(FinalityError::UnknownBlock(hash))?;
        let number = *header.number();
        let (fin_hash, fin_header) = self.finalized_header();
        if number <= *fin_header.number() {
            return Ok(());
        }
        let mut commit = BlockCommit { finalized: Some(hash), ..Default::default() };
        let mut reorg_to = None;
        if self.db.canonical_hash(number)? != Some(hash) {
            // GRANDPA finalized a block off our best chain: that chain can never be final, so
            // the finalized block becomes the best block (its own descendants win from there).
            if !self.descends_from(&header, &fin_hash)? {
                return Err(FinalityError::NotCanonical(hash));
            }
            let best_number = *self.best_header().1.number();
            commit.canon = self.route_to_canonical(&header)?;
            commit.canon_removed = ((number + 1)..=best_number).collect();
            commit.best = Some(hash);
            reorg_to = Some(header.clone());
            info!(target: "client", number, %hash, "finalized block is off the best chain; reorganising to it");
        }
        if let Some(justification) = &justification {
            let (set_id, authorities) = self.grandpa_authorities(header.parent_hash()).map_err(|e| match e {
                StateError::Execution(e) => FinalityError::Execution(e),
                other => FinalityError::Execution(ExecutionError::State(other.to_string())),
            })?;
            grandpa::verify(justification, hash, set_id, &authorities)?;
            commit.justifications = Some((hash, Justifications::from((GRANDPA_ENGINE_ID, justification.encode()))));
        }
        let mut blocks = Vec::new();
        let mut cursor = header.clone();
        while *cursor.number() > *fin_header.number() {
            let parent = *cursor.parent_hash();
            blocks.push((cursor.hash(), cursor));
            cursor = self.db.header(&parent)?.ok_or(FinalityError::UnknownBlock(parent))?;
        }
        blocks.reverse();
        self.journal
            .lock()
            .append(&JournalRecord::Finalized { hash, justification: justification.map(|j| j.encode()) });
        self.db.commit(commit)?;
        {
            let mut heads = self.heads.write();
            if let Some(best) = reorg_to {
                heads.best = (hash, best);
            }
            heads.finalized = (hash, header);
        }
        self.update_height_metrics();
        debug!(target: "client", number, %hash, previous = %fin_hash, "finalized");
        let _ = self.events.send(ChainEvent::Finalized { blocks });
        Ok(())
    }

    /// Whether `header` descends from block `ancestor` (or is it).
    pub fn descends_from(&self, header: &Header, ancestor: &Hash) -> Result<bool, DbError> {
        let Some(target) = self.db.header(ancestor)? else { return Ok(false) };
        let mut cursor = header.clone();
        while *cursor.number() > *target.number() {
            match self.db.header(cursor.parent_hash())? {
                Some(parent) => cursor = parent,
                None => return Ok(false),
            }
        }
        Ok(cursor.hash() == *ancestor)
    }

    /// Auxiliary service state stored beside the chain (e.g. the GRANDPA voter's rounds).
    pub fn aux(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        self.db.aux(key)
    }

    /// Writes auxiliary service state atomically.
    pub fn put_aux(&self, entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), DbError> {
        self.db.put_aux(entries)
    }

    /// The chain's metrics.
    pub fn metrics(&self) -> &crate::metrics::ChainMetrics {
        &self.metrics
    }

    /// The GRANDPA justification stored for a block, if any.
    pub fn justification(&self, hash: &Hash) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self.db.justifications(hash)?.and_then(|j| j.into_justification(GRANDPA_ENGINE_ID)))
    }

    /// Records an accepted transaction in the journal so that it survives a crash.
    pub fn journal_extrinsic(&self, bytes: &[u8]) {
        self.journal.lock().append(&JournalRecord::Extrinsic(bytes.to_vec()));
    }

    /// Replays the journal after a restart: re-imports blocks the database lost and returns the
    /// transactions to resubmit to the pool.
    pub fn replay_journal(&self) -> Vec<Vec<u8>> {
        let records = self.journal.lock().records();
        let mut extrinsics = Vec::new();
        let mut replayed = 0;
        for record in records {
            match record {
                JournalRecord::Block(block) => {
                    let number = *block.block.header.number();
                    match self.import_block(block, BlockOrigin::Journal) {
                        Ok(Imported::New { .. }) => replayed += 1,
                        Ok(Imported::AlreadyKnown) => {}
                        Err(ImportError::ConflictsWithFinalized { .. }) => {}
                        Err(e) => warn!(target: "client", number, error = %e, "journal block not replayed"),
                    }
                }
                JournalRecord::Finalized { hash, justification } => {
                    let justification = justification.and_then(|j| GrandpaJustification::decode(&mut &j[..]).ok());
                    if let Err(e) = self.finalize(hash, justification) {
                        debug!(target: "client", %hash, error = %e, "journal finality not replayed");
                    }
                }
                JournalRecord::Extrinsic(bytes) => extrinsics.push(bytes),
            }
        }
        if replayed > 0 {
            info!(target: "client", blocks = replayed, "replayed blocks from the journal");
        }
        extrinsics
    }

    /// Rewrites the journal keeping recent blocks and the given pending transactions.
    pub fn compact_journal(&self, pending: Vec<Vec<u8>>) {
        self.journal.lock().compact(pending);
    }

    /// Rewrites the journal if it has grown enough.
    pub fn compact_journal_if_needed(&self, pending: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.journal.lock().needs_compaction() {
            let pending = pending();
            self.journal.lock().compact(pending);
        }
    }

    fn update_height_metrics(&self) {
        let info = self.info();
        self.metrics.set_heights(info.best_number, info.finalized_number);
    }
}

/// Errors opening the chain.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The chain spec's genesis cannot be built.
    #[error(transparent)]
    ChainSpec(#[from] crate::chain_spec::ChainSpecError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The database holds another chain.
    #[error("the database holds another chain (genesis {stored}) than the chain spec (genesis {spec}); use another --base-path")]
    GenesisMismatch {
        /// Genesis of the stored chain.
        stored: Hash,
        /// Genesis of the chain spec.
        spec: Hash,
    },
    /// A head the database points at is missing.
    #[error("database is missing the header of {0}")]
    MissingHeader(Hash),
}

/// A shared client.
pub type SharedClient = Arc<Client>;
