//! The enclave's trusted engine: shards, their pools and sidechain blocks.
//!
//! Every backend drives the same engine. It holds the keys and, per shard, the state key, the
//! state, the sidechain as this enclave knows it ([`crate::chain`]) and the pool. Trusted
//! operations arrive HPKE-encrypted to the shielding key with the shard as HPKE info, so a
//! ciphertext made for another shard or another enclave does not open. The engine persists
//! through the sealer (state key, snapshots, pool journal) and through the host's block store
//! (OCALLs), and recovers from both at start-up:
//!
//! ```text
//!   start:  sealed snapshot (height h) ─► blocks h+1.. from the host, each checked and applied
//!           ─► sealed pool journal, each call checked again (applied ones drop out)
//!   slot:   my turn? (sidechain Aura over the shard's validateers) ─► pool + parentchain effects
//!           ─► execute ─► seal block ─► host stores it ─► commit ─► host sends it to the peers
//!   import: a peer's block ─► known? refused? equivocation? parent known? ─► side blocks
//!           ─► fork choice ─► revert / apply (each checked: slot author, parent, state root)
//! ```
//!
//! Several validateers share a shard: each verifies the parentchain on its own, and the effects
//! of parentchain block `n` enter the shard exactly once, in the sidechain block that first moves
//! the shard's parentchain head past `n`. So an enclave keeps the effects it found by parentchain
//! block number until a final sidechain block holds them, and an author takes those after the
//! head's parentchain block; an author whose light client is behind the head's skips its turn.
//!
//! Locks: the expensive part of a submission (HPKE decryption, the signature check) holds no
//! lock, and a block executes under a read lock of the state only, so submissions and getters go
//! on while a block is built; the state is written only at commit. Where several locks are held
//! they are taken in this order: a shard's `authoring`, the parentchain, the shard's `inner`,
//! its `state`.

use crate::{
    boundary::{EnclaveError, OcallId, Ocalls},
    chain::{Applied, Chain, Refusal},
    keys::EnclaveKeys,
    pool::{Journal, Pool, MAX_POOL},
    sealing::Sealer,
    sidechain::{self, Authoring},
};
use cloister_primitives::{
    sidechain::{SidechainHeader, SignedSidechainBlock},
    BlockNumber, Hash, Mrenclave, ShardId,
};
use cloister_stf::{
    executor::{
        self, check_call, execute_block, execute_getter, next_nonce_of, NonceRule, OpOutcome, ParentchainEffect, Payout,
    },
    BlockInput, ShardState, StateDiff, TrustedGetterSigned, TrustedOperation, VerifiedCall,
};
use codec::{Decode, Encode};
use parking_lot::{Mutex, RwLock};
use rand::RngCore;
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};
use zeroize::Zeroizing;

/// A snapshot of a shard is sealed every this many blocks.
pub const SNAPSHOT_EVERY: u64 = 256;
/// Most calls in one sidechain block.
pub const MAX_CALLS_PER_BLOCK: usize = 4_000;
/// An author records its light client in a block at least every this many parentchain blocks,
/// even when they carry nothing for the shard.
pub const PERSIST_LIGHT_CLIENT_EVERY: BlockNumber = 64;
/// Most blocks one import takes.
pub const MAX_IMPORT: usize = 1_024;

/// The HPKE `info` of trusted operations for `shard`: binds a ciphertext to its shard.
pub fn operation_info(shard: &ShardId) -> Vec<u8> {
    [&b"cloister/trusted-op/v1"[..], shard.as_ref()].concat()
}

/// The HPKE `info` of a shielding's encrypted beneficiary for `shard`.
pub fn shield_info(shard: &ShardId) -> Vec<u8> {
    [&b"cloister/shield/v1"[..], shard.as_ref()].concat()
}

/// Where a trusted operation is, as its submitter sees it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum OpStatus {
    /// Received and checked.
    Submitted,
    /// Waiting in the pool for the next block.
    Ready,
    /// Applied in the sidechain block with this hash.
    InSidechainBlock(Hash),
    /// The block that applied it is anchored on the parentchain.
    Finalized,
    /// Refused; nothing applied (or, for a call the runtime failed, only its nonce spent).
    Invalid(String),
}

/// What an authored block did, without protected data.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AuthoredBlock {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: Hash,
    /// How many calls it applied.
    pub applied: u32,
    /// How many calls it rejected.
    pub rejected: u32,
}

/// What became of one block given to [`Engine::import_blocks`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ImportOutcome {
    /// Taken: applied on the best chain, or kept beside it.
    Imported {
        /// Its number.
        number: u64,
        /// Its hash.
        hash: Hash,
    },
    /// Already known.
    Known,
    /// Its parent is unknown: the sender's blocks from number `from` on are needed.
    MissingParent {
        /// The first block number to fetch.
        from: u64,
    },
    /// Refused; nothing of it applied.
    Refused(String),
    /// Its author signed another block for the same slot. Both blocks (encoded) are the evidence
    /// every peer needs to refuse the author's blocks from that slot on.
    Equivocation {
        /// The author's key.
        author: [u8; 32],
        /// The two blocks.
        evidence: Vec<Vec<u8>>,
    },
}

/// What a shard looks like from outside.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ShardInfo {
    /// The shard.
    pub shard: ShardId,
    /// The head block's number (0 before the first block).
    pub head: u64,
    /// The head block's hash (zero before the first block).
    pub head_hash: Hash,
    /// The state root.
    pub state_root: Hash,
    /// Calls waiting.
    pub pool: u32,
    /// Whether this enclave holds the shard's keys: it created the shard, or received them from
    /// a validateer of the shard by mutual attestation. A validateer joining a shard that others
    /// already run neither authors nor imports until then.
    pub provisioned: bool,
    /// The last block that can no longer be reverted here.
    pub final_number: u64,
}

pub(crate) struct Shard {
    pub(crate) id: ShardId,
    /// Replaced once, when a joining validateer is provisioned.
    pub(crate) state_key: RwLock<Zeroizing<[u8; 32]>>,
    /// Read by submissions, getters and the block being built; written only at a block's commit.
    pub(crate) state: RwLock<ShardState>,
    pub(crate) inner: Mutex<ShardInner>,
    /// Held while a block is built or imported, sealed and committed: one writer at a time.
    pub(crate) authoring: Mutex<()>,
}

pub(crate) struct ShardInner {
    pub(crate) chain: Chain,
    pub(crate) pool: Pool,
    pub(crate) journal: Journal,
    /// Effects of verified finalized parentchain blocks, by block number, until a final
    /// sidechain block holds them.
    pub(crate) effects: Vec<(BlockNumber, ParentchainEffect)>,
    /// The last finalized parentchain block this enclave verified, with its light client state
    /// (`None` for tools that queue effects without a light client).
    pub(crate) latest_parentchain: Option<((BlockNumber, Hash), Option<Vec<u8>>)>,
    /// Most calls the next block takes: halved when a block overran its slot, so that a large
    /// pool (e.g. a journal replayed after a crash) cannot keep every block from being built.
    batch: usize,
    pub(crate) provisioned: bool,
    /// The head number of the last sealed snapshot.
    snapshot_at: u64,
    /// Blocks this process authored, and the first slot it authored in: a block signed with
    /// this enclave's key in a later slot that it did not author means a second instance runs
    /// with the same key.
    authored: HashMap<Hash, u64>,
    first_slot: Option<u64>,
    /// Another instance signs with this enclave's key: authoring stops.
    pub(crate) twin: bool,
}

impl ShardInner {
    fn head(&self) -> Option<&SidechainHeader> {
        self.chain.head()
    }

    /// Starts over from `head` (a provisioned state): nothing waits, nothing can be reverted.
    pub(crate) fn reset_to(&mut self, head: Option<SidechainHeader>) {
        self.snapshot_at = head.as_ref().map(|h| h.number).unwrap_or(0);
        self.chain.reset(head);
        self.pool = Pool::default();
        self.effects.clear();
        self.latest_parentchain = None;
    }

    /// The parentchain block the shard's state includes.
    fn head_parentchain(&self) -> BlockNumber {
        self.head().map(|h| h.parentchain_head.0).unwrap_or(0)
    }
}

impl Shard {
    pub(crate) fn info(&self) -> ShardInfo {
        let inner = self.inner.lock();
        let state_root = self.state.read().root();
        ShardInfo {
            shard: self.id,
            head: inner.head().map(|h| h.number).unwrap_or(0),
            head_hash: inner.head().map(|h| h.hash()).unwrap_or_default(),
            state_root,
            pool: inner.pool.len() as u32,
            provisioned: inner.provisioned,
            final_number: inner.chain.final_number(),
        }
    }
}

/// The trusted engine.
pub struct Engine {
    mrenclave: Mrenclave,
    pub(crate) sealer: Sealer,
    keys: EnclaveKeys,
    ocalls: Arc<dyn Ocalls>,
    shards: RwLock<HashMap<ShardId, Arc<Shard>>>,
    statuses: Mutex<Vec<(Hash, OpStatus)>>,
    /// Encrypted calls clients sent to this validateer, for the host to forward to the others.
    outbox: Mutex<Vec<(ShardId, Vec<u8>)>>,
    pub(crate) parentchain: Mutex<crate::parentchain::Parentchain>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sealing(e: impl std::fmt::Display) -> EnclaveError {
    EnclaveError::Sealing(e.to_string())
}

fn internal(e: impl std::fmt::Display) -> EnclaveError {
    EnclaveError::Internal(e.to_string())
}

/// The values `diff`'s keys have in `state`: the diff that undoes it.
fn undo_of(state: &ShardState, diff: &StateDiff) -> StateDiff {
    diff.iter().map(|(key, _)| (key.clone(), state.get(key).ok().flatten())).collect()
}

/// The state root after `header` (the empty root before the first block).
fn root_after(header: Option<&SidechainHeader>) -> Hash {
    header.map(|h| h.state_root).unwrap_or_else(|| ShardState::empty().root())
}

impl Engine {
    /// An engine for `mrenclave` with its sealed files and keys.
    pub fn new(mrenclave: Mrenclave, sealer: Sealer, keys: EnclaveKeys, ocalls: Arc<dyn Ocalls>) -> Self {
        Self {
            mrenclave,
            sealer,
            keys,
            ocalls,
            shards: RwLock::new(HashMap::new()),
            statuses: Mutex::new(Vec::new()),
            outbox: Mutex::new(Vec::new()),
            parentchain: Mutex::new(Default::default()),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &EnclaveKeys {
        &self.keys
    }

    /// The measurement.
    pub fn mrenclave(&self) -> Mrenclave {
        self.mrenclave
    }

    /// RA-TLS evidence for a certificate whose key binding is `key_binding`.
    pub fn tls_evidence(&self, key_binding: &[u8; 32]) -> Vec<u8> {
        crate::attest::tls_evidence(&self.sealer, self.mrenclave, key_binding, self.now_ms())
    }

    /// The attestation this enclave registers with: report data binding its signing and
    /// shielding keys.
    pub fn registration_attestation(&self) -> cloister_attestation::Attestation {
        let data = cloister_attestation::report_data(&self.keys.signing_public(), &self.keys.shielding_public());
        crate::attest::dev_attestation(&self.sealer, self.mrenclave, data, self.now_ms())
    }

    /// The host's clock, unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        u64::decode(&mut &self.ocalls.ocall(OcallId::Time, &[])[..]).unwrap_or(0)
    }

    pub(crate) fn files(shard: &ShardId) -> (String, String, String) {
        let id = hex(shard.as_ref());
        (format!("shard-{id}.key"), format!("shard-{id}.state"), format!("shard-{id}.pool"))
    }

    /// Opens (or creates) `shard`: its state key, its last snapshot, the blocks the host stored
    /// after it, and its pool journal. Idempotent.
    ///
    /// A shard whose key is not sealed here gets a fresh key in memory only: it is sealed when
    /// this enclave creates the shard's first block as its first validateer, or replaced by the
    /// shard's key from another validateer ([`crate::mura`]).
    pub fn init_shard(&self, shard: ShardId) -> Result<ShardInfo, EnclaveError> {
        // Held throughout, so that a shard is opened once.
        let mut shards = self.shards.write();
        if let Some(open) = shards.get(&shard) {
            return Ok(open.info());
        }
        let (key_file, state_file, pool_file) = Self::files(&shard);
        let (state_key, provisioned) = match self.sealer.unseal_file(&key_file, "shard-state-key").map_err(sealing)? {
            Some(bytes) => {
                let key: [u8; 32] =
                    bytes.as_slice().try_into().map_err(|_| EnclaveError::Sealing(format!("{key_file}: bad key")))?;
                (Zeroizing::new(key), true)
            }
            None => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                (key, false)
            }
        };
        let sealed_state =
            if provisioned { self.sealer.unseal_file(&state_file, "shard-state").map_err(sealing)? } else { None };
        let (head, state) = match sealed_state {
            Some(bytes) => {
                let (head, snapshot) = <(Option<SidechainHeader>, Vec<u8>)>::decode(&mut &bytes[..])
                    .map_err(|_| EnclaveError::Sealing(format!("{state_file}: malformed snapshot")))?;
                let state = ShardState::from_snapshot(&snapshot).map_err(sealing)?;
                (head, state)
            }
            None => (None, ShardState::empty()),
        };
        let snapshot_at = head.as_ref().map(|h| h.number).unwrap_or(0);
        let mut chain = Chain::default();
        chain.reset(head);
        let mut state = state;
        if provisioned {
            self.replay_stored_blocks(&shard, &state_key, &mut chain, &mut state)?;
        }
        let journal = Journal::new(&self.sealer, pool_file, format!("pool:{}", hex(shard.as_ref())));
        let mut pool = Pool::default();
        if provisioned {
            for call in journal.read(&self.sealer).map_err(sealing)? {
                let Ok(call) = call.reopen(&self.mrenclave, &shard) else { continue };
                let next = next_nonce_of(&state, call.signer()).unwrap_or_default();
                let next = pool.next_nonce(call.signer(), next);
                let fresh = !pool.contains(&call.hash()) && !pool.has_nonce(call.signer(), call.signed().nonce);
                if fresh && check_call(&state, &call, next, NonceRule::NextOrLater).is_ok() {
                    pool.push(call);
                }
            }
        }
        let open = Shard {
            id: shard,
            state_key: RwLock::new(state_key),
            state: RwLock::new(state),
            inner: Mutex::new(ShardInner {
                chain,
                pool,
                journal,
                effects: Vec::new(),
                latest_parentchain: None,
                batch: MAX_CALLS_PER_BLOCK,
                provisioned,
                snapshot_at,
                authored: HashMap::new(),
                first_slot: None,
                twin: false,
            }),
            authoring: Mutex::new(()),
        };
        let info = open.info();
        tracing::info!(
            target: "enclave",
            shard = %hex(shard.as_ref()),
            head = info.head,
            pool = info.pool,
            provisioned,
            "shard open"
        );
        shards.insert(shard, Arc::new(open));
        Ok(info)
    }

    /// Applies the blocks the host stored after the snapshot; each must verify.
    fn replay_stored_blocks(
        &self,
        id: &ShardId,
        state_key: &[u8; 32],
        chain: &mut Chain,
        state: &mut ShardState,
    ) -> Result<(), EnclaveError> {
        let me = self.keys.signing_public();
        loop {
            let from = chain.head().map(|h| h.number + 1).unwrap_or(1);
            let answer = self.ocalls.ocall(OcallId::FetchBlocks, &(*id, from, 256u32).encode());
            let blocks = <Vec<Vec<u8>>>::decode(&mut &answer[..])
                .map_err(|_| EnclaveError::Host("undecodable stored blocks".into()))?;
            if blocks.is_empty() {
                return Ok(());
            }
            for bytes in blocks {
                let checked = SignedSidechainBlock::decode(&mut &bytes[..])
                    .map_err(|_| sidechain::BlockError::BadSignature)
                    .and_then(|block| {
                        // Before the shard records its validateers, only this enclave authored.
                        let set = executor::validateers(state).unwrap_or_default();
                        let set = if set.is_empty() { vec![me] } else { set };
                        sidechain::check_block(&block, id, chain.head(), state, state_key, |slot| {
                            sidechain::slot_author(&set, slot)
                        })
                        .map(|checked| (block, checked))
                    });
                match checked {
                    Ok((block, (pending, _))) => {
                        let undo = undo_of(state, &pending.diff);
                        state.commit(pending).map_err(internal)?;
                        chain.note_signed(&block.header);
                        chain.push(Applied { block, undo, calls: Vec::new() });
                    }
                    Err(error) => {
                        // Nothing of it is applied. The shard goes on from the block before;
                        // its next block takes the refused one's place in the store. Whether
                        // the host lost real blocks is the parentchain anchor's to tell: the
                        // first sync stops the worker if the anchor is ahead (or, with peers,
                        // the worker fetches the blocks from them).
                        let number = chain.head().map(|h| h.number + 1).unwrap_or(1);
                        tracing::error!(
                            target: "enclave",
                            number,
                            %error,
                            "stored block {number} refused: {error}; the shard goes on from block {}",
                            number - 1
                        );
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Seals a snapshot of the shard's state, then rewrites its journal with what still waits.
    /// The state is only read: submissions and getters go on meanwhile. The caller keeps blocks
    /// from being committed (it holds `authoring`, or the shard is not yet shared).
    pub(crate) fn seal_snapshot(&self, shard: &Shard) -> Result<(), EnclaveError> {
        let head = shard.inner.lock().head().cloned();
        self.write_snapshot(shard, &head)?;
        // Under `inner`, so that no call is appended between reading the pool and the rewrite.
        let mut inner = shard.inner.lock();
        self.rewrite_journal(&mut inner, &head)
    }

    fn write_snapshot(&self, shard: &Shard, head: &Option<SidechainHeader>) -> Result<(), EnclaveError> {
        let (_, state_file, _) = Self::files(&shard.id);
        let snapshot = shard.state.read().snapshot().map_err(internal)?;
        let bytes = Zeroizing::new((head, snapshot).encode());
        self.sealer.seal_file(&state_file, "shard-state", &bytes).map_err(sealing)
    }

    /// Rewrites the pool journal of `shard` with what waits now.
    pub(crate) fn rewrite_pool_journal(&self, shard: &Shard) -> Result<(), EnclaveError> {
        let mut inner = shard.inner.lock();
        let ShardInner { journal, pool, .. } = &mut *inner;
        journal.rewrite(&self.sealer, pool.all().map(VerifiedCall::sealed)).map_err(sealing)
    }

    fn rewrite_journal(&self, inner: &mut ShardInner, head: &Option<SidechainHeader>) -> Result<(), EnclaveError> {
        inner.snapshot_at = head.as_ref().map(|h| h.number).unwrap_or(0);
        let ShardInner { journal, pool, .. } = inner;
        journal.rewrite(&self.sealer, pool.all().map(VerifiedCall::sealed)).map_err(sealing)
    }

    /// Seals a snapshot of every provisioned shard (at shutdown).
    pub fn persist(&self) -> Result<(), EnclaveError> {
        for shard in self.all_shards() {
            let _authoring = shard.authoring.lock();
            if shard.inner.lock().provisioned {
                self.seal_snapshot(&shard)?;
            }
        }
        Ok(())
    }

    fn all_shards(&self) -> Vec<Arc<Shard>> {
        self.shards.read().values().cloned().collect()
    }

    pub(crate) fn shard(&self, shard: &ShardId) -> Result<Arc<Shard>, EnclaveError> {
        self.shards.read().get(shard).cloned().ok_or(EnclaveError::UnknownShard)
    }

    /// Runs `f` on the state of an open shard.
    pub(crate) fn with_state<T>(&self, shard: &ShardId, f: impl FnOnce(&ShardState) -> T) -> Result<T, EnclaveError> {
        let open = self.shard(shard)?;
        let state = open.state.read();
        Ok(f(&state))
    }

    /// Adds status changes for the direct RPC's watchers.
    pub(crate) fn push_statuses(&self, statuses: Vec<(Hash, OpStatus)>) {
        self.statuses.lock().extend(statuses);
    }

    /// What `shard` looks like.
    pub fn shard_info(&self, shard: &ShardId) -> Result<ShardInfo, EnclaveError> {
        Ok(self.shard(shard)?.info())
    }

    /// The shards open.
    pub fn shards(&self) -> Vec<ShardId> {
        self.shards.read().keys().copied().collect()
    }

    /// Opens an operation encrypted for `shard`.
    fn open_operation(&self, shard: &ShardId, ciphertext: &[u8]) -> Result<TrustedOperation, EnclaveError> {
        let plain = self.keys.unshield(&operation_info(shard), ciphertext).map_err(|_| EnclaveError::Undecryptable)?;
        TrustedOperation::decode(&mut &plain[..]).map_err(|_| EnclaveError::MalformedOperation)
    }

    /// Accepts an encrypted trusted call for `shard` from a client into the pool; its hash
    /// names it. Its nonce must be its signer's next.
    pub fn submit(&self, shard: &ShardId, ciphertext: &[u8]) -> Result<Hash, EnclaveError> {
        let call = self.open_call(shard, ciphertext)?;
        self.accept_call(shard, call)
    }

    /// Accepts an encrypted trusted call that did not come from its client (another validateer
    /// forwarded it, or the parentchain carried it): the calls before it may come later, so its
    /// nonce may be ahead.
    pub fn submit_relayed(&self, shard: &ShardId, ciphertext: &[u8]) -> Result<Hash, EnclaveError> {
        let call = self.open_call(shard, ciphertext)?;
        self.admit(shard, call, NonceRule::NextOrLater)
    }

    /// Accepts calls other validateers of `shard` forward; returns how many were taken.
    pub fn accept_forwarded(&self, shard: &ShardId, ciphertexts: &[Vec<u8>]) -> Result<u32, EnclaveError> {
        self.shard(shard)?;
        let mut accepted = 0;
        for ciphertext in ciphertexts {
            match self.submit_relayed(shard, ciphertext) {
                Ok(_) => accepted += 1,
                Err(error) => tracing::debug!(target: "enclave", %error, "a forwarded call was not taken"),
            }
        }
        Ok(accepted)
    }

    /// Notes a call a client sent to this validateer, for the others of its shard.
    pub(crate) fn forward(&self, shard: &ShardId, ciphertext: Vec<u8>) {
        self.outbox.lock().push((*shard, ciphertext));
    }

    /// The calls to forward to the other validateers since the last call.
    pub fn take_outbox(&self) -> Vec<(ShardId, Vec<u8>)> {
        std::mem::take(&mut *self.outbox.lock())
    }

    /// Decrypts a trusted call encrypted for `shard` and checks its signature. Holds no lock:
    /// this is the expensive part of a submission, and submissions do it in parallel.
    pub fn open_call(&self, shard: &ShardId, ciphertext: &[u8]) -> Result<VerifiedCall, EnclaveError> {
        if !self.shards.read().contains_key(shard) {
            return Err(EnclaveError::UnknownShard);
        }
        let call = match self.open_operation(shard, ciphertext)? {
            TrustedOperation::Call(call) => call,
            TrustedOperation::Get(_) => return Err(EnclaveError::MalformedOperation),
        };
        let call = call.verify(&self.mrenclave, shard).map_err(|e| EnclaveError::Rejected(e.to_string()))?;
        self.prove_public_community(call)
    }

    /// Takes a call [`Self::open_call`] gave into `shard`'s pool once its nonce checks against
    /// the state and the calls of its signer already waiting, after appending it to the sealed
    /// journal.
    pub fn accept_call(&self, shard: &ShardId, call: VerifiedCall) -> Result<Hash, EnclaveError> {
        self.admit(shard, call, NonceRule::Next)
    }

    fn admit(&self, shard: &ShardId, call: VerifiedCall, rule: NonceRule) -> Result<Hash, EnclaveError> {
        let open = self.shard(shard)?;
        if !call.is_for(&self.mrenclave, shard) {
            return Err(EnclaveError::Rejected(cloister_stf::StfError::BadSignature.to_string()));
        }
        let hash = call.hash();
        // Only a shard not yet provisioned asks the parentchain (whose lock a sync holds while it
        // verifies a run of blocks): submissions do not wait for syncs. Before `inner`, in the
        // lock order.
        let provisioned = open.inner.lock().provisioned;
        let may_create = !provisioned && self.parentchain.lock().may_create(&self.keys.signing_public());
        let mut inner = open.inner.lock();
        if !inner.provisioned && !(may_create && inner.head().is_none()) {
            return Err(EnclaveError::Rejected("this validateer is still joining the shard; try another".into()));
        }
        if inner.pool.contains(&hash) {
            return Err(EnclaveError::Rejected("the same call is already waiting".into()));
        }
        if inner.pool.len() >= MAX_POOL {
            return Err(EnclaveError::Rejected("the pool is full; try again shortly".into()));
        }
        if inner.pool.has_nonce(call.signer(), call.signed().nonce) {
            return Err(EnclaveError::Rejected("a call of this signer with this nonce is already waiting".into()));
        }
        {
            let state = open.state.read();
            let next = next_nonce_of(&state, call.signer()).map_err(|e| EnclaveError::Rejected(e.to_string()))?;
            let next = inner.pool.next_nonce(call.signer(), next);
            check_call(&state, &call, next, rule).map_err(|e| EnclaveError::Rejected(e.to_string()))?;
        }
        inner.journal.append(&self.sealer, &call.sealed()).map_err(sealing)?;
        inner.pool.push(call);
        // Still under `inner`: a block can take the call only after its first statuses are out.
        self.statuses.lock().extend([(hash, OpStatus::Submitted), (hash, OpStatus::Ready)]);
        Ok(hash)
    }

    /// Answers an encrypted getter for `shard`.
    pub fn get(&self, shard: &ShardId, ciphertext: &[u8]) -> Result<Vec<u8>, EnclaveError> {
        // An unknown shard is refused before anything is decrypted.
        self.shard(shard)?;
        let getter = match self.open_operation(shard, ciphertext)? {
            TrustedOperation::Get(getter) => getter,
            TrustedOperation::Call(_) => return Err(EnclaveError::MalformedOperation),
        };
        self.answer(shard, &getter)
    }

    /// Answers a getter for `shard` (its signature and freshness are checked), as of the last
    /// finalized parentchain block the enclave verified.
    pub fn answer(&self, shard: &ShardId, getter: &TrustedGetterSigned) -> Result<Vec<u8>, EnclaveError> {
        let open = self.shard(shard)?;
        let now = self.now_ms();
        let parentchain_number = self.parentchain_synced().map(|(n, _)| n).unwrap_or_default();
        let state = open.state.read();
        execute_getter(&state, getter, now, parentchain_number, &self.mrenclave, shard)
            .map_err(|e| EnclaveError::Rejected(e.to_string()))
    }

    /// Queues effects of finalized parentchain blocks up to `head` for the next block of
    /// `shard` that moves the shard's parentchain head past them.
    pub fn queue_parentchain(
        &self,
        shard: &ShardId,
        effects: Vec<(BlockNumber, ParentchainEffect)>,
        head: (BlockNumber, Hash),
        light_client: Option<Vec<u8>>,
    ) -> Result<(), EnclaveError> {
        let open = self.shard(shard)?;
        let mut inner = open.inner.lock();
        inner.effects.extend(effects);
        inner.latest_parentchain = Some((head, light_client));
        Ok(())
    }

    /// Payouts `shard` owes on the parentchain.
    pub fn pending_payouts(&self, shard: &ShardId) -> Result<Vec<Payout>, EnclaveError> {
        self.with_state(shard, executor::pending_payouts)?.map_err(|e| EnclaveError::Internal(e.to_string()))
    }

    /// The validateers taking turns on `shard`: as its state records them, else as the
    /// parentchain lists them, else (no parentchain: tools) this enclave alone.
    fn validateers_of(&self, state: &ShardState, parentchain: &[[u8; 32]]) -> Vec<[u8; 32]> {
        let recorded = executor::validateers(state).unwrap_or_default();
        if !recorded.is_empty() {
            recorded
        } else if !parentchain.is_empty() {
            parentchain.to_vec()
        } else {
            vec![self.keys.signing_public()]
        }
    }

    /// Authors the block of `slot` for `shard` if it is this enclave's turn and there is
    /// anything to put in it. If it is not sealed and stored by `deadline_ms`, it is dropped and
    /// nothing changes.
    ///
    /// The block is built from a copy of what waits, under a read lock of the state: calls
    /// submitted meanwhile join the pool (their nonces counted after the ones being applied) and
    /// parentchain input queued meanwhile waits for the next block.
    pub fn author(&self, shard: &ShardId, slot: u64, deadline_ms: u64) -> Result<Option<AuthoredBlock>, EnclaveError> {
        let open = self.shard(shard)?;
        let _authoring = open.authoring.lock();
        let started_ms = self.now_ms();
        let me = self.keys.signing_public();
        // Before `inner`: a sync holds the parentchain while it queues into `inner`.
        let (parentchain_number, listed, may_create) = {
            let pc = self.parentchain.lock();
            (pc.synced().map(|(n, _)| n).unwrap_or_default(), pc.validateers().to_vec(), pc.may_create(&me))
        };
        let (input, head, taken_calls) = {
            let mut inner = open.inner.lock();
            if inner.twin {
                return Ok(None);
            }
            inner.first_slot.get_or_insert(slot);
            if !inner.provisioned && !(may_create && inner.head().is_none()) {
                return Ok(None);
            }
            let head = inner.head().cloned();
            if head.as_ref().is_some_and(|h| h.slot >= slot) {
                return Ok(None);
            }
            let set = self.validateers_of(&open.state.read(), &listed);
            if sidechain::slot_author(&set, slot) != Some(me) {
                return Ok(None);
            }
            let head_pc = inner.head_parentchain();
            let latest = inner.latest_parentchain.clone();
            let own_pc = latest.as_ref().map(|(h, _)| h.0).unwrap_or(head_pc.max(parentchain_number));
            if own_pc < head_pc {
                // This light client is behind the shard's: its block would take the shard back.
                tracing::debug!(target: "sidechain", slot, own_pc, head_pc, "behind the shard's parentchain block; turn skipped");
                return Ok(None);
            }
            let effects: Vec<ParentchainEffect> =
                inner.effects.iter().filter(|(n, _)| *n > head_pc && *n <= own_pc).map(|(_, e)| e.clone()).collect();
            let parentchain_due = own_pc > head_pc
                && (!effects.is_empty() || own_pc - head_pc >= PERSIST_LIGHT_CLIENT_EVERY || head.is_none());
            let calls = ready_calls(&inner.pool, &open.state.read(), inner.batch);
            if calls.is_empty() && !parentchain_due {
                return Ok(None);
            }
            if !inner.provisioned {
                // The first validateer creates the shard with its first block: its key is
                // sealed from now on.
                let (key_file, _, _) = Self::files(shard);
                self.sealer.seal_file(&key_file, "shard-state-key", open.state_key.read().as_ref()).map_err(sealing)?;
                inner.provisioned = true;
                tracing::info!(target: "enclave", shard = %hex(shard.as_ref()), "created the shard as its first validateer");
            }
            let (number, _) = sidechain::next_position(head.as_ref());
            let (parentchain_head, light_client) = match (&latest, parentchain_due) {
                (Some((at, lc)), true) => (Some(*at), lc.clone()),
                _ => (None, None),
            };
            let taken_calls = calls.len();
            let input = BlockInput {
                number,
                mrenclave: self.mrenclave,
                shard: *shard,
                parentchain_head,
                parentchain_number: parentchain_number.max(head_pc),
                light_client,
                effects: if parentchain_due { effects } else { Vec::new() },
                calls,
            };
            (input, head, taken_calls)
        };
        let number = input.number;
        let parentchain_head =
            input.parentchain_head.or_else(|| head.as_ref().map(|h| h.parentchain_head)).unwrap_or_default();
        let state = open.state.read();
        let pending = execute_block(&state, input).map_err(internal)?;
        let mut included = Vec::new();
        let mut results = Vec::new();
        let mut done = HashSet::new();
        let mut statuses = Vec::new();
        let mut succeeded = Vec::new();
        let (mut applied, mut rejected) = (0u32, 0u32);
        for outcome in &pending.result.outcomes {
            match outcome {
                OpOutcome::Included { hash, result } => {
                    included.push(*hash);
                    done.insert(*hash);
                    results.push((*hash, result.clone()));
                    applied += 1;
                    match result {
                        Ok(()) => succeeded.push(*hash),
                        Err(reason) => statuses.push((*hash, OpStatus::Invalid(reason.clone()))),
                    }
                }
                OpOutcome::Rejected { hash, reason } => {
                    done.insert(*hash);
                    rejected += 1;
                    statuses.push((*hash, OpStatus::Invalid(reason.to_string())));
                }
            }
        }
        let block = sidechain::seal_block(
            head.as_ref(),
            &pending,
            results,
            Authoring {
                shard: *shard,
                slot,
                author: me,
                parentchain_head,
                operations: included.clone(),
                state_key: &open.state_key.read(),
            },
            |msg| self.keys.sign(msg),
        );
        let undo = undo_of(&state, &pending.diff);
        drop(state);
        // A late block is dropped and built again from half its calls; one that cannot be made
        // smaller (parentchain input alone, or a single call) is kept, late, or the shard would
        // stall on it forever.
        let finished_ms = self.now_ms();
        if finished_ms > deadline_ms && taken_calls > 1 {
            let mut inner = open.inner.lock();
            let half = taken_calls.div_ceil(2);
            // Proportional to what fits, unless the slot was over before building began.
            inner.batch = if deadline_ms > started_ms {
                next_batch(taken_calls, started_ms, finished_ms, deadline_ms).min(half)
            } else {
                half
            };
            tracing::warn!(target: "sidechain", slot, number, next_batch = inner.batch, "building overran the slot; block dropped");
            return Ok(None);
        }
        self.store_block(&block)?;
        let hash = block.hash();
        {
            let mut inner = open.inner.lock();
            open.state.write().commit(pending).map_err(internal)?;
            inner.authored.insert(hash, number);
            // Only blocks above the final one can still come back from peers.
            let final_number = inner.chain.final_number();
            if inner.authored.len() > 4 * crate::chain::MAX_REORG {
                inner.authored.retain(|_, n| *n > final_number);
            }
            inner.chain.note_signed(&block.header);
            let calls = inner.pool.take(&done).into_iter().filter(|c| included.contains(&c.hash())).collect();
            inner.chain.push(Applied { block, undo, calls });
            prune_effects(&mut inner);
            if taken_calls >= inner.batch {
                inner.batch = next_batch(taken_calls, started_ms, finished_ms, deadline_ms);
            }
        }
        if number % SNAPSHOT_EVERY == 0 {
            self.seal_snapshot(&open)?;
        }
        let mut all = self.statuses.lock();
        all.extend(statuses);
        all.extend(succeeded.iter().map(|h| (*h, OpStatus::InSidechainBlock(hash))));
        drop(all);
        self.note_block(number, succeeded);
        Ok(Some(AuthoredBlock { number, hash, applied, rejected }))
    }

    fn store_block(&self, block: &SignedSidechainBlock) -> Result<(), EnclaveError> {
        let stored = self.ocalls.ocall(OcallId::StoreBlock, &block.encode());
        Result::<(), String>::decode(&mut &stored[..])
            .map_err(|_| EnclaveError::Host("undecodable store answer".into()))?
            .map_err(EnclaveError::Host)
    }

    /// Takes sidechain blocks of `shard` from other validateers: each is checked, kept, and
    /// the best chain among what is known is then applied (see [`crate::chain`]).
    pub fn import_blocks(&self, shard: &ShardId, blocks: &[Vec<u8>]) -> Result<Vec<ImportOutcome>, EnclaveError> {
        if blocks.len() > MAX_IMPORT {
            return Err(EnclaveError::Rejected(format!("at most {MAX_IMPORT} blocks at once")));
        }
        let open = self.shard(shard)?;
        let _authoring = open.authoring.lock();
        let me = self.keys.signing_public();
        let (listed, anchored) = {
            let pc = self.parentchain.lock();
            (pc.validateers().to_vec(), pc.anchored_block())
        };
        let mut inner = open.inner.lock();
        let mut outcomes = Vec::with_capacity(blocks.len());
        for bytes in blocks {
            let outcome = match SignedSidechainBlock::decode(&mut &bytes[..]) {
                Err(_) => ImportOutcome::Refused("not a sidechain block".into()),
                Ok(block) if !block.verify() => ImportOutcome::Refused("bad block signature or payload hash".into()),
                Ok(block) if block.header.shard != *shard => ImportOutcome::Refused("block of another shard".into()),
                Ok(_) if !inner.provisioned => ImportOutcome::Refused(
                    "this validateer has not received the shard's keys yet (mutual attestation)".into(),
                ),
                Ok(block) => self.take_block(&mut inner, block, &me),
            };
            outcomes.push(outcome);
        }
        let mut applied = Vec::new();
        let reorganised = self.reorganise(&open, &mut inner, &listed, anchored, &mut applied);
        drop(inner);
        // Not under `inner`: the parentchain's lock comes before it.
        for (number, calls) in applied {
            self.note_block(number, calls);
        }
        reorganised?;
        Ok(outcomes)
    }

    /// The first checks of an imported block, and keeping it beside the chain.
    fn take_block(&self, inner: &mut ShardInner, block: SignedSidechainBlock, me: &[u8; 32]) -> ImportOutcome {
        let hash = block.hash();
        if inner.chain.is_bad(&hash) {
            return ImportOutcome::Refused("this block was refused before".into());
        }
        if inner.chain.contains(&hash) {
            return ImportOutcome::Known;
        }
        match inner.chain.refusal(&block.header) {
            Some(Refusal::Banned) => {
                return ImportOutcome::Refused(format!(
                    "block {} is by 0x{}, caught signing two blocks for one slot",
                    block.header.number,
                    hex(&block.header.author)
                ))
            }
            Some(Refusal::Final) => {
                return ImportOutcome::Refused(format!(
                    "block {} is at or below this validateer's final block {}",
                    block.header.number,
                    inner.chain.final_number()
                ))
            }
            Some(Refusal::Bad) => return ImportOutcome::Refused("this block was refused before".into()),
            None => {}
        }
        if block.header.author == *me
            && !inner.authored.contains_key(&hash)
            && inner.first_slot.is_some_and(|first| block.header.slot >= first)
        {
            if !inner.twin {
                tracing::error!(
                    target: "sidechain",
                    number = block.header.number,
                    slot = block.header.slot,
                    "a block signed with this enclave's key that this validateer did not author: another instance runs with the same key; this one stops authoring"
                );
            }
            inner.twin = true;
        }
        if let Some(other) = inner.chain.note_signed(&block.header) {
            let author = block.header.author;
            tracing::error!(
                target: "sidechain",
                author = %hex(&author),
                slot = block.header.slot,
                "equivocation: validateer 0x{} signed two blocks for slot {}; its blocks from that slot on are refused",
                hex(&author),
                block.header.slot
            );
            inner.chain.ban(author, block.header.slot);
            // Both are refused, whichever chain holds them (even one the parentchain anchors).
            inner.chain.mark_refused(other);
            inner.chain.mark_refused(hash);
            let mut evidence = Vec::new();
            if let Some(first) = inner.chain.block(&other) {
                evidence.push(first.encode());
            }
            evidence.push(block.encode());
            return ImportOutcome::Equivocation { author, evidence };
        }
        let number = block.header.number;
        let knows_parent = inner.chain.knows_parent(&block.header);
        inner.chain.add_side(block);
        if !knows_parent {
            return ImportOutcome::MissingParent { from: inner.chain.final_number() + 1 };
        }
        ImportOutcome::Imported { number, hash }
    }

    /// Moves the shard to the best chain it knows: reverts blocks down to where that chain
    /// leaves the current one, then applies its blocks, each checked against the state before
    /// it. A block that fails is refused and the choice is made again.
    fn reorganise(
        &self,
        open: &Shard,
        inner: &mut ShardInner,
        listed: &[[u8; 32]],
        anchored: Option<(u64, Hash)>,
        applied: &mut Vec<(u64, Vec<Hash>)>,
    ) -> Result<(), EnclaveError> {
        for _ in 0..(2 * crate::chain::MAX_SIDE) {
            let Some((tip, junction, path)) = inner.chain.best(anchored) else { return Ok(()) };
            let mut state = open.state.write();
            let mut reverted_below_snapshot = false;
            while inner.head().is_some_and(|h| h.number > junction) {
                let Some(top) = inner.chain.pop() else { break };
                let parent_root = root_after(inner.head());
                let pending = state.prepare_diff(&top.undo, parent_root).map_err(internal)?;
                state.commit(pending).map_err(internal)?;
                tracing::info!(target: "sidechain", number = top.block.header.number, hash = %top.block.hash(), "reverted (fork choice)");
                if top.block.header.number <= inner.snapshot_at {
                    reverted_below_snapshot = true;
                }
                for call in top.calls {
                    if !inner.pool.contains(&call.hash()) {
                        inner.pool.push(call);
                    }
                }
                inner.chain.add_side(top.block);
            }
            let mut applied_numbers = Vec::new();
            for hash in path {
                let Some(block) = inner.chain.take_side(&hash) else { break };
                let set = self.validateers_of(&state, listed);
                let key = open.state_key.read();
                // Its signature was checked when it was taken (`take_block`).
                let checked = sidechain::check_signed_block(&block, &open.id, inner.head(), &state, &key, |slot| {
                    sidechain::slot_author(&set, slot)
                });
                let (pending, results) = match checked {
                    Ok(checked) => checked,
                    Err(error) => {
                        tracing::warn!(target: "sidechain", number = block.header.number, %hash, %error, "block refused");
                        inner.chain.mark_bad(hash);
                        break;
                    }
                };
                if let Err(error) = self.store_block(&block) {
                    inner.chain.add_side(block);
                    return Err(error);
                }
                let undo = undo_of(&state, &pending.diff);
                state.commit(pending).map_err(internal)?;
                let included: HashSet<Hash> = results.iter().map(|(h, _)| *h).collect();
                let calls = inner.pool.take(&included);
                let number = block.header.number;
                let mut statuses = Vec::new();
                let mut succeeded = Vec::new();
                for (call, result) in results {
                    match result {
                        Ok(()) => {
                            succeeded.push(call);
                            statuses.push((call, OpStatus::InSidechainBlock(hash)));
                        }
                        Err(reason) => statuses.push((call, OpStatus::Invalid(reason))),
                    }
                }
                self.push_statuses(statuses);
                applied.push((number, succeeded));
                inner.chain.push(Applied { block, undo, calls });
                applied_numbers.push(number);
                tracing::debug!(target: "sidechain", number, %hash, "imported");
            }
            prune_effects(inner);
            drop(state);
            if reverted_below_snapshot || applied_numbers.iter().any(|n| n % SNAPSHOT_EVERY == 0) {
                // Not `seal_snapshot`: `inner` is held here.
                self.seal_snapshot_locked(open, inner)?;
            }
            if tip == Hash::zero() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// [`Self::seal_snapshot`] for a caller that holds `inner` (and `authoring`).
    fn seal_snapshot_locked(&self, open: &Shard, inner: &mut ShardInner) -> Result<(), EnclaveError> {
        let head = inner.head().cloned();
        self.write_snapshot(open, &head)?;
        self.rewrite_journal(inner, &head)
    }

    /// Takes the status changes since the last call (for the direct RPC's subscriptions).
    pub fn take_statuses(&self) -> Vec<(Hash, OpStatus)> {
        std::mem::take(&mut *self.statuses.lock())
    }

    /// Whether this enclave refuses the block with this hash (its author equivocated, or it
    /// failed its checks).
    pub(crate) fn refuses_block(&self, shard: &ShardId, hash: &Hash) -> Result<bool, EnclaveError> {
        Ok(self.shard(shard)?.inner.lock().chain.refuses(hash))
    }

    /// Whether the head block of `shard` is this enclave's (its author anchors it and makes the
    /// payouts it owes, so that validateers do not all send the same extrinsics).
    pub(crate) fn authored_head(&self, shard: &ShardId) -> Result<bool, EnclaveError> {
        let open = self.shard(shard)?;
        let inner = open.inner.lock();
        Ok(inner.head().is_some_and(|h| h.author == self.keys.signing_public()))
    }
}

/// Up to `max` calls for the next block, in arrival order, each signer's in nonce order: a call
/// whose nonce is ahead of its signer's next waits for the ones before it. A stale one goes in,
/// for the runtime to refuse (so it leaves the pool with its reason).
fn ready_calls(pool: &Pool, state: &ShardState, max: usize) -> Vec<VerifiedCall> {
    let mut next: HashMap<cloister_primitives::AccountId, cloister_primitives::Nonce> = HashMap::new();
    let mut out = Vec::new();
    for call in pool.all().take(max.saturating_mul(4)) {
        let signer = call.signer();
        let expected = match next.get(signer) {
            Some(n) => *n,
            None => next_nonce_of(state, signer).unwrap_or_default(),
        };
        let nonce = call.signed().nonce;
        if nonce > expected {
            next.insert(signer.clone(), expected);
            continue;
        }
        next.insert(signer.clone(), if nonce == expected { expected + 1 } else { expected });
        out.push(call.clone());
        if out.len() == max {
            break;
        }
    }
    out
}

/// Drops the effects a final block already holds.
fn prune_effects(inner: &mut ShardInner) {
    let final_pc = inner.chain.base.as_ref().map(|h| h.parentchain_head.0).unwrap_or(0);
    if final_pc > 0 {
        inner.effects.retain(|(n, _)| *n > final_pc);
    }
}

/// How many calls the next block takes, from how long `calls` took (`started_ms` to
/// `finished_ms`) against the slot's time (`started_ms` to `deadline_ms`): as many as fill three
/// quarters of the slot at the same cost per call, at most twice as many as now. A batch that
/// grows blindly (doubling after every block in time) oscillates around a slot full of costly
/// calls, every other block dropped.
fn next_batch(calls: usize, started_ms: u64, finished_ms: u64, deadline_ms: u64) -> usize {
    let took = finished_ms.saturating_sub(started_ms).max(1) as u128;
    let budget = deadline_ms.saturating_sub(started_ms) as u128 * 3 / 4;
    let fits = (calls as u128).saturating_mul(budget) / took;
    (fits.min(calls as u128 * 2) as usize).clamp(1, MAX_CALLS_PER_BLOCK)
}

#[cfg(test)]
mod tests {
    //! The engine with a host fake that keeps blocks in memory (the real store is the worker's).
    use super::*;
    use crate::keys::shield;
    use cloister_primitives::UNIT;
    use cloister_stf::{TrustedCall, TrustedGetter};
    use sp_keyring::Sr25519Keyring::{self, Alice, Bob};

    #[derive(Default)]
    struct MemoryHost {
        blocks: Mutex<Vec<Vec<u8>>>,
        /// Runs once, when the next block is stored: between its execution and its commit.
        on_store: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    }

    impl Ocalls for MemoryHost {
        fn ocall(&self, id: OcallId, request: &[u8]) -> Vec<u8> {
            match id {
                OcallId::Time => 1_000_000u64.encode(),
                OcallId::StoreBlock => {
                    let hook = self.on_store.lock().take();
                    if let Some(hook) = hook {
                        hook();
                    }
                    self.blocks.lock().push(request.to_vec());
                    Ok::<(), String>(()).encode()
                }
                OcallId::FetchBlocks => {
                    let (_, from, max) = <(ShardId, u64, u32)>::decode(&mut &request[..]).expect("request");
                    let blocks = self.blocks.lock();
                    blocks.iter().skip(from as usize - 1).take(max as usize).cloned().collect::<Vec<_>>().encode()
                }
            }
        }
    }

    const SHARD: ShardId = ShardId::repeat_byte(5);

    fn engine(dir: &std::path::Path, host: Arc<MemoryHost>) -> Engine {
        let mrenclave = Mrenclave([9; 32]);
        let sealer = Sealer::open(dir, &mrenclave).expect("sealer");
        let keys = EnclaveKeys::load_or_generate(&sealer).expect("keys");
        let engine = Engine::new(mrenclave, sealer, keys, host);
        engine.init_shard(SHARD).expect("shard");
        engine
    }

    fn encrypt(engine: &Engine, shard: &ShardId, op: &TrustedOperation) -> Vec<u8> {
        shield(&engine.keys().shielding_public(), &operation_info(shard), &op.encode()).expect("shield")
    }

    fn transfer(engine: &Engine, from: Sr25519Keyring, to: Sr25519Keyring, amount: u128, nonce: u32) -> Vec<u8> {
        let call = TrustedCall::Transfer { from: from.to_account_id(), to: to.to_account_id(), amount }.sign(
            nonce,
            &engine.mrenclave(),
            &SHARD,
            |p| from.sign(p).into(),
        );
        encrypt(engine, &SHARD, &TrustedOperation::Call(call))
    }

    fn balance(engine: &Engine, who: Sr25519Keyring) -> u128 {
        let getter = TrustedGetter::Balance(who.to_account_id())
            .sign(1_000_000, &engine.mrenclave(), &SHARD, |p| who.sign(p).into());
        let answer = engine.get(&SHARD, &encrypt(engine, &SHARD, &TrustedOperation::Get(getter))).expect("getter");
        u128::decode(&mut &answer[..]).expect("balance")
    }

    fn fund(engine: &Engine, who: Sr25519Keyring, amount: u128) {
        engine
            .queue_parentchain(
                &SHARD,
                vec![(1, ParentchainEffect::Shield { beneficiary: who.to_account_id(), amount })],
                (1, Hash::repeat_byte(1)),
                None,
            )
            .expect("queue");
        engine.author(&SHARD, 1, u64::MAX).expect("author").expect("a block");
    }

    #[test]
    fn calls_apply_in_blocks_and_statuses_follow() {
        let dir = tempfile::tempdir().expect("tmp");
        let engine = engine(dir.path(), Arc::default());
        fund(&engine, Alice, 100 * UNIT);
        let hash = engine.submit(&SHARD, &transfer(&engine, Alice, Bob, 30 * UNIT, 0)).expect("accepted");
        let block = engine.author(&SHARD, 2, u64::MAX).expect("author").expect("a block");
        assert_eq!((block.number, block.applied, block.rejected), (2, 1, 0));
        assert_eq!(balance(&engine, Bob), 30 * UNIT);
        let statuses: Vec<_> = engine.take_statuses().into_iter().filter(|(h, _)| *h == hash).map(|(_, s)| s).collect();
        assert_eq!(statuses, vec![OpStatus::Submitted, OpStatus::Ready, OpStatus::InSidechainBlock(block.hash)]);
        assert_eq!(engine.author(&SHARD, 3, u64::MAX).expect("author"), None, "no work, no block");
    }

    #[test]
    fn work_arriving_while_a_block_is_built_waits_for_the_next_block() {
        let dir = tempfile::tempdir().expect("tmp");
        let host = Arc::new(MemoryHost::default());
        let engine = Arc::new(engine(dir.path(), host.clone()));
        fund(&engine, Alice, 100 * UNIT);
        engine.submit(&SHARD, &transfer(&engine, Alice, Bob, UNIT, 0)).expect("accepted");
        let during = engine.clone();
        let late_call = transfer(&engine, Alice, Bob, 2 * UNIT, 1);
        *host.on_store.lock() = Some(Box::new(move || {
            // The block with nonce 0 is executed but not committed: nonce 1 counts it as waiting.
            during.submit(&SHARD, &late_call).expect("accepted while the block is built");
            during
                .queue_parentchain(
                    &SHARD,
                    vec![(2, ParentchainEffect::Shield { beneficiary: Bob.to_account_id(), amount: 7 * UNIT })],
                    (2, Hash::repeat_byte(2)),
                    Some(b"newer light client".to_vec()),
                )
                .expect("queued while the block is built");
        }));
        let block = engine.author(&SHARD, 2, u64::MAX).expect("author").expect("a block");
        assert_eq!(block.applied, 1, "only the call that waited when the block started");
        assert_eq!(balance(&engine, Bob), UNIT);
        assert_eq!(engine.shard_info(&SHARD).expect("info").pool, 1);
        let block = engine.author(&SHARD, 3, u64::MAX).expect("author").expect("a block");
        assert_eq!(block.applied, 1);
        assert_eq!(balance(&engine, Bob), 10 * UNIT, "the late call and the late shielding");
        let light_client = engine.with_state(&SHARD, executor::light_client).expect("shard").expect("state");
        assert_eq!(light_client.as_deref(), Some(&b"newer light client"[..]));
        assert_eq!(engine.author(&SHARD, 4, u64::MAX).expect("author"), None, "nothing left");
    }

    #[test]
    fn an_overrun_block_is_dropped_and_retried_with_half_the_calls() {
        let dir = tempfile::tempdir().expect("tmp");
        let engine = engine(dir.path(), Arc::default());
        fund(&engine, Alice, 100 * UNIT);
        let root = engine.shard_info(&SHARD).expect("info").state_root;
        for nonce in 0..4 {
            engine.submit(&SHARD, &transfer(&engine, Alice, Bob, UNIT, nonce)).expect("accepted");
        }
        // The host's clock (1_000_000) is past the deadline: the block is dropped.
        assert_eq!(engine.author(&SHARD, 2, 0).expect("author"), None);
        assert_eq!(engine.shard_info(&SHARD).expect("info").state_root, root, "nothing applied");
        let block = engine.author(&SHARD, 3, u64::MAX).expect("author").expect("a block");
        assert_eq!(block.applied, 2, "half the calls after an overrun");
        let block = engine.author(&SHARD, 4, u64::MAX).expect("author").expect("a block");
        assert_eq!(block.applied, 2, "the rest");
        assert_eq!(balance(&engine, Bob), 4 * UNIT);
    }

    #[test]
    fn the_batch_follows_the_cost_of_calls() {
        // 1,000 calls took 400 ms of a 300 ms slot: 1,000 * 225 / 400 = 562 fit.
        assert_eq!(next_batch(1_000, 0, 400, 300), 562);
        // Cheap calls: at most twice as many, never above the cap.
        assert_eq!(next_batch(1_000, 0, 10, 300), 2_000);
        assert_eq!(next_batch(3_000, 0, 10, 300), MAX_CALLS_PER_BLOCK);
        // No deadline (tools): grow.
        assert_eq!(next_batch(100, 0, 50, u64::MAX), 200);
        // Never below one.
        assert_eq!(next_batch(1, 0, 10_000, 300), 1);
    }

    #[test]
    fn a_late_block_that_cannot_shrink_is_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let engine = engine(dir.path(), Arc::default());
        fund(&engine, Alice, 100 * UNIT);
        // Parentchain input alone, past its deadline: kept.
        engine
            .queue_parentchain(
                &SHARD,
                vec![(2, ParentchainEffect::Shield { beneficiary: Bob.to_account_id(), amount: UNIT })],
                (2, Hash::repeat_byte(2)),
                None,
            )
            .expect("queued");
        assert!(engine.author(&SHARD, 2, 0).expect("author").is_some(), "an effects-only block is kept late");
        assert_eq!(balance(&engine, Bob), UNIT);
        // A single call, past its deadline: kept.
        engine.submit(&SHARD, &transfer(&engine, Alice, Bob, UNIT, 0)).expect("accepted");
        let block = engine.author(&SHARD, 3, 0).expect("author").expect("a single late call is kept");
        assert_eq!(block.applied, 1);
        assert_eq!(balance(&engine, Bob), 2 * UNIT);
    }

    #[test]
    fn bad_operations_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let engine = engine(dir.path(), Arc::default());
        fund(&engine, Alice, 100 * UNIT);
        let root = engine.shard_info(&SHARD).expect("info").state_root;

        assert_eq!(engine.submit(&SHARD, b"garbage"), Err(EnclaveError::Undecryptable));
        let other = ShardId::repeat_byte(6);
        let call = TrustedCall::Transfer { from: Alice.to_account_id(), to: Bob.to_account_id(), amount: 1 }.sign(
            0,
            &engine.mrenclave(),
            &SHARD,
            |p| Alice.sign(p).into(),
        );
        let for_other_shard = encrypt(&engine, &other, &TrustedOperation::Call(call.clone()));
        assert_eq!(engine.submit(&SHARD, &for_other_shard), Err(EnclaveError::Undecryptable));
        assert_eq!(engine.submit(&other, &for_other_shard), Err(EnclaveError::UnknownShard));
        let other_key =
            shield(&[7u8; 32], &operation_info(&SHARD), &TrustedOperation::Call(call).encode()).expect("shield");
        assert_eq!(engine.submit(&SHARD, &other_key), Err(EnclaveError::Undecryptable));
        let not_an_op =
            shield(&engine.keys().shielding_public(), &operation_info(&SHARD), b"\xff\xff").expect("shield");
        assert_eq!(engine.submit(&SHARD, &not_an_op), Err(EnclaveError::MalformedOperation));

        let mut forged = TrustedCall::Transfer { from: Alice.to_account_id(), to: Bob.to_account_id(), amount: 1 }
            .sign(0, &engine.mrenclave(), &SHARD, |p| Bob.sign(p).into());
        forged.nonce = 0;
        let forged = encrypt(&engine, &SHARD, &TrustedOperation::Call(forged));
        assert!(matches!(engine.submit(&SHARD, &forged), Err(EnclaveError::Rejected(r)) if r.contains("signature")));

        engine.submit(&SHARD, &transfer(&engine, Alice, Bob, UNIT, 0)).expect("first");
        engine.author(&SHARD, 2, u64::MAX).expect("author");
        let root_after = engine.shard_info(&SHARD).expect("info").state_root;
        assert_ne!(root_after, root);
        let replay = transfer(&engine, Alice, Bob, UNIT, 0);
        assert!(matches!(engine.submit(&SHARD, &replay), Err(EnclaveError::Rejected(r)) if r.contains("stale nonce")));
        assert_eq!(engine.shard_info(&SHARD).expect("info").state_root, root_after);

        let bobs = TrustedGetter::Balance(Bob.to_account_id())
            .sign(1_000_000, &engine.mrenclave(), &SHARD, |p| Alice.sign(p).into());
        let bobs = encrypt(&engine, &SHARD, &TrustedOperation::Get(bobs));
        assert!(matches!(engine.get(&SHARD, &bobs), Err(EnclaveError::Rejected(r)) if r.contains("signature")));
    }

    #[test]
    fn a_restart_recovers_state_blocks_and_waiting_calls() {
        let dir = tempfile::tempdir().expect("tmp");
        let host = Arc::new(MemoryHost::default());
        let (root, head) = {
            let engine = engine(dir.path(), host.clone());
            fund(&engine, Alice, 100 * UNIT);
            engine.submit(&SHARD, &transfer(&engine, Alice, Bob, 10 * UNIT, 0)).expect("in a block");
            engine.author(&SHARD, 2, u64::MAX).expect("author");
            engine.submit(&SHARD, &transfer(&engine, Alice, Bob, 5 * UNIT, 1)).expect("waiting");
            let info = engine.shard_info(&SHARD).expect("info");
            (info.state_root, info.head)
            // Dropped without `persist`: as if the process were killed.
        };
        let engine = engine(dir.path(), host);
        let info = engine.shard_info(&SHARD).expect("info");
        assert_eq!((info.state_root, info.head, info.pool), (root, head, 1));
        engine.author(&SHARD, 3, u64::MAX).expect("author");
        assert_eq!(balance(&engine, Bob), 15 * UNIT);
        assert_eq!(balance(&engine, Alice), 85 * UNIT);
    }

    #[test]
    fn a_tampered_snapshot_or_stored_block_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let host = Arc::new(MemoryHost::default());
        {
            let engine = engine(dir.path(), host.clone());
            fund(&engine, Alice, 100 * UNIT);
            engine.persist().expect("persist");
        }
        let mut blocks = host.blocks.lock().clone();
        let last = blocks[0].len() - 70;
        blocks[0][last] ^= 1;
        let tampered_host = Arc::new(MemoryHost { blocks: Mutex::new(blocks), on_store: Mutex::new(None) });
        // The snapshot already holds block 1, so the store is not read again: tamper the snapshot.
        let state_file = dir.path().join(format!("shard-{}.state", hex(SHARD.as_ref())));
        let mut sealed = std::fs::read(&state_file).expect("read");
        let at = sealed.len() - 1;
        sealed[at] ^= 1;
        std::fs::write(&state_file, &sealed).expect("write");
        let mrenclave = Mrenclave([9; 32]);
        let sealer = Sealer::open(dir.path(), &mrenclave).expect("sealer");
        let keys = EnclaveKeys::load_or_generate(&sealer).expect("keys");
        let engine = Engine::new(mrenclave, sealer, keys, tampered_host.clone());
        assert!(matches!(engine.init_shard(SHARD), Err(EnclaveError::Sealing(m)) if m.contains("tampered")));

        // Without a snapshot, the tampered stored block itself is refused: nothing of it is
        // applied and the shard goes on from before it.
        std::fs::remove_file(&state_file).expect("rm");
        let sealer = Sealer::open(dir.path(), &mrenclave).expect("sealer");
        let keys = EnclaveKeys::load_or_generate(&sealer).expect("keys");
        let engine = Engine::new(mrenclave, sealer, keys, tampered_host);
        let info = engine.init_shard(SHARD).expect("the shard opens");
        assert_eq!((info.head, info.state_root), (0, ShardState::empty().root()));
    }

    /// The encoded block with this number the host stored last.
    fn stored(host: &MemoryHost, number: u64) -> Vec<u8> {
        host.blocks
            .lock()
            .iter()
            .rev()
            .find(|b| SignedSidechainBlock::decode(&mut &b[..]).is_ok_and(|b| b.header.number == number))
            .cloned()
            .expect("stored block")
    }

    /// Two validateers of one shard (A even slots, B odd), B provisioned from A.
    fn two_validateers() -> (tempfile::TempDir, Engine, Arc<MemoryHost>, Engine, Arc<MemoryHost>) {
        let dir = tempfile::tempdir().expect("tmp");
        let (host_a, host_b) = (Arc::new(MemoryHost::default()), Arc::new(MemoryHost::default()));
        let a = engine(&dir.path().join("a"), host_a.clone());
        let b = engine(&dir.path().join("b"), host_b.clone());
        let set = vec![a.keys().signing_public(), b.keys().signing_public()];
        a.queue_parentchain(
            &SHARD,
            vec![
                (1, ParentchainEffect::Validateers(set)),
                (1, ParentchainEffect::Shield { beneficiary: Alice.to_account_id(), amount: 100 * UNIT }),
            ],
            (1, Hash::repeat_byte(1)),
            None,
        )
        .expect("queue");
        assert!(a.author(&SHARD, 2, u64::MAX).expect("author").is_some());
        assert_eq!(b.author(&SHARD, 3, u64::MAX).expect("author"), None, "B holds no keys yet");
        let info = a.provision_for_tools(&b, &SHARD).expect("provisioned");
        assert_eq!(info.head, 1);
        (dir, a, host_a, b, host_b)
    }

    #[test]
    fn validateers_take_turns_and_import_each_others_blocks() {
        let (_dir, a, host_a, b, host_b) = two_validateers();
        // Not A's turn in an odd slot.
        a.submit(&SHARD, &transfer(&a, Alice, Bob, UNIT, 0)).expect("accepted");
        assert_eq!(a.author(&SHARD, 3, u64::MAX).expect("author"), None, "slot 3 is B's");
        let block = a.author(&SHARD, 4, u64::MAX).expect("author").expect("A's block");
        let outcome = b.import_blocks(&SHARD, &[stored(&host_a, block.number)]).expect("import");
        assert_eq!(outcome, vec![ImportOutcome::Imported { number: 2, hash: block.hash }]);
        assert_eq!(b.shard_info(&SHARD).expect("info").state_root, a.shard_info(&SHARD).expect("info").state_root);
        assert_eq!(balance(&b, Bob), UNIT);
        // B's turn; A imports.
        b.submit(&SHARD, &transfer(&b, Alice, Bob, UNIT, 1)).expect("accepted");
        let block = b.author(&SHARD, 5, u64::MAX).expect("author").expect("B's block");
        a.import_blocks(&SHARD, &[stored(&host_b, block.number)]).expect("import");
        assert_eq!(a.shard_info(&SHARD).expect("info").head_hash, block.hash);
        assert_eq!(balance(&a, Bob), 2 * UNIT);
        // A block in a slot that is not its author's is refused, and changes nothing.
        let root = a.shard_info(&SHARD).expect("info").state_root;
        b.submit(&SHARD, &transfer(&b, Alice, Bob, UNIT, 2)).expect("accepted");
        let block = b.author(&SHARD, 7, u64::MAX).expect("author").expect("B's block");
        let mut wrong = SignedSidechainBlock::decode(&mut &stored(&host_b, block.number)[..]).expect("block");
        wrong.header.slot = 8;
        wrong.signature = b.keys().sign(&wrong.header.encode());
        a.import_blocks(&SHARD, &[wrong.encode()]).expect("import");
        assert_eq!(a.shard_info(&SHARD).expect("info").state_root, root, "refused at application");
        // A block whose parent is unknown asks for the sender's blocks.
        let mut orphan = wrong.clone();
        orphan.header.number = 9;
        orphan.header.slot = 9;
        orphan.header.parent_hash = Hash::repeat_byte(7);
        orphan.signature = b.keys().sign(&orphan.header.encode());
        let outcome = a.import_blocks(&SHARD, &[orphan.encode()]).expect("import");
        assert!(matches!(outcome[0], ImportOutcome::MissingParent { .. }), "{outcome:?}");
    }

    #[test]
    fn a_fork_resolves_to_one_chain_and_the_losing_call_is_refused_once() {
        let (_dir, a, host_a, b, host_b) = two_validateers();
        // Both build block 2 on block 1 without seeing the other's: B in slot 3, A in slot 4,
        // each with its own call of Alice's nonce 0.
        b.submit(&SHARD, &transfer(&b, Alice, Bob, UNIT, 0)).expect("accepted");
        let from_b = b.author(&SHARD, 3, u64::MAX).expect("author").expect("B's block");
        a.submit(&SHARD, &transfer(&a, Alice, Bob, 2 * UNIT, 0)).expect("accepted");
        let from_a = a.author(&SHARD, 4, u64::MAX).expect("author").expect("A's block");
        assert_eq!((from_a.number, from_b.number), (2, 2));
        a.import_blocks(&SHARD, &[stored(&host_b, 2)]).expect("import");
        b.import_blocks(&SHARD, &[stored(&host_a, 2)]).expect("import");
        // Equal length: the lower hash wins at both.
        let winner = from_a.hash.min(from_b.hash);
        for engine in [&a, &b] {
            assert_eq!(engine.shard_info(&SHARD).expect("info").head_hash, winner);
        }
        let paid = if winner == from_a.hash { 2 * UNIT } else { UNIT };
        assert_eq!((balance(&a, Bob), balance(&b, Bob)), (paid, paid));
        // The loser's call went back to its author's pool: the next block refuses it (stale
        // nonce) and applies nothing of it.
        let (loser, loser_host, slot) = if winner == from_a.hash { (&b, &host_b, 5) } else { (&a, &host_a, 6) };
        let other = if winner == from_a.hash { &a } else { &b };
        assert_eq!(loser.shard_info(&SHARD).expect("info").pool, 1);
        let block = loser.author(&SHARD, slot, u64::MAX).expect("author").expect("a block");
        assert_eq!((block.applied, block.rejected), (0, 1));
        other.import_blocks(&SHARD, &[stored(loser_host, block.number)]).expect("import");
        assert_eq!(a.shard_info(&SHARD).expect("info").state_root, b.shard_info(&SHARD).expect("info").state_root);
        assert_eq!((balance(&a, Bob), balance(&b, Bob)), (paid, paid));
    }

    #[test]
    fn an_author_signing_two_blocks_for_one_slot_is_refused_from_then_on() {
        let (_dir, a, host_a, b, _host_b) = two_validateers();
        a.submit(&SHARD, &transfer(&a, Alice, Bob, UNIT, 0)).expect("accepted");
        let block = a.author(&SHARD, 4, u64::MAX).expect("author").expect("A's block");
        let first = stored(&host_a, block.number);
        b.import_blocks(&SHARD, &[first.clone()]).expect("import");
        assert_eq!(b.shard_info(&SHARD).expect("info").head, 2);
        // A second, different block by A's key for slot 4.
        let mut twin = SignedSidechainBlock::decode(&mut &first[..]).expect("block");
        twin.payload.operations.clear();
        twin.header.payload_hash = twin.payload.hash();
        twin.signature = a.keys().sign(&twin.header.encode());
        let outcome = b.import_blocks(&SHARD, &[twin.encode()]).expect("import");
        match &outcome[0] {
            ImportOutcome::Equivocation { author, evidence } => {
                assert_eq!(*author, a.keys().signing_public());
                assert_eq!(evidence.len(), 2, "both blocks are the evidence");
            }
            other => panic!("expected an equivocation, got {other:?}"),
        }
        // B reverted A's block: back to block 1, Bob unpaid.
        let info = b.shard_info(&SHARD).expect("info");
        assert_eq!(info.head, 1);
        assert_eq!(balance(&b, Bob), 0);
        // A's later blocks are refused too.
        a.submit(&SHARD, &transfer(&a, Alice, Bob, UNIT, 1)).expect("accepted");
        let later = a.author(&SHARD, 6, u64::MAX).expect("author").expect("A's block");
        let outcome = b.import_blocks(&SHARD, &[stored(&host_a, later.number)]).expect("import");
        assert!(matches!(&outcome[0], ImportOutcome::Refused(r) if r.contains("two blocks")), "{outcome:?}");
        assert_eq!(b.shard_info(&SHARD).expect("info").head, 1);
    }
}
