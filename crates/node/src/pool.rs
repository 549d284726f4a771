//! The transaction pool: extrinsics waiting for a block.
//!
//! Every extrinsic is validated by the runtime (`TaggedTransactionQueue_validate_transaction`) at
//! the best block before it is accepted. Validity carries tags: an extrinsic *provides* tags (for
//! a signed one, its `(account, nonce)`) and *requires* tags other extrinsics provide. An extrinsic
//! is ready once everything it requires is provided by the chain or by ready extrinsics; the
//! block author takes ready extrinsics in dependency order, higher priority first
//! ([`Pool::ready`]). Two extrinsics providing the same tag conflict: the one with the higher
//! priority stays.
//!
//! When a block is imported, its extrinsics leave the pool and their watchers hear `inBlock`;
//! when it is finalized they hear `finalized`. Accepted extrinsics are journaled so that a crash
//! does not lose them.

use crate::client::{ChainEvent, SharedClient};
use cloister_primitives::{BlockNumber, Hash};
use cloister_rpc::node::{SubmitError, TransactionStatus};
use codec::{Decode, Encode};
use parking_lot::Mutex;
use sp_runtime::{
    traits::Header as _,
    transaction_validity::{
        TransactionLongevity, TransactionPriority, TransactionSource, TransactionTag, TransactionValidity,
        TransactionValidityError,
    },
};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use tokio::sync::mpsc;
use tracing::debug;

/// Limits of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most extrinsics held at once.
    pub max_count: usize,
    /// Most bytes of extrinsics held at once.
    pub max_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_count: 16_384, max_bytes: 64 * 1024 * 1024 }
    }
}

struct PoolTx {
    bytes: Vec<u8>,
    priority: TransactionPriority,
    requires: Vec<TransactionTag>,
    provides: Vec<TransactionTag>,
    valid_till: BlockNumber,
    insertion: u64,
}

/// Tags the chain provides since the last revalidation (provided by included extrinsics).
#[derive(Default)]
struct Satisfied {
    tags: HashSet<TransactionTag>,
    order: VecDeque<TransactionTag>,
}

impl Satisfied {
    const MAX: usize = 65_536;

    fn insert(&mut self, tag: TransactionTag) {
        if self.tags.insert(tag.clone()) {
            self.order.push_back(tag);
            while self.order.len() > Self::MAX {
                if let Some(old) = self.order.pop_front() {
                    self.tags.remove(&old);
                }
            }
        }
    }

    fn clear(&mut self) {
        self.tags.clear();
        self.order.clear();
    }
}

#[derive(Default)]
struct Inner {
    txs: HashMap<Hash, PoolTx>,
    bytes: usize,
    next_insertion: u64,
    by_provides: HashMap<TransactionTag, Hash>,
    satisfied: Satisfied,
    watchers: HashMap<Hash, Vec<mpsc::UnboundedSender<TransactionStatus>>>,
    /// Watchers of extrinsics in blocks that are not final yet, by block.
    awaiting_finality: HashMap<Hash, Vec<(Hash, Vec<mpsc::UnboundedSender<TransactionStatus>>)>>,
    needs_revalidation: bool,
}

impl Inner {
    fn notify(&mut self, hash: &Hash, status: TransactionStatus) {
        if let Some(list) = self.watchers.get_mut(hash) {
            list.retain(|w| w.send(status.clone()).is_ok());
        }
    }

    fn remove(&mut self, hash: &Hash) -> Option<PoolTx> {
        let tx = self.txs.remove(hash)?;
        self.bytes -= tx.bytes.len();
        for tag in &tx.provides {
            if self.by_provides.get(tag) == Some(hash) {
                self.by_provides.remove(tag);
            }
        }
        Some(tx)
    }

    /// Removes an extrinsic for good, telling its watchers why.
    fn drop_with(&mut self, hash: &Hash, status: TransactionStatus) {
        if self.remove(hash).is_some() {
            self.notify(hash, status);
            self.watchers.remove(hash);
        }
    }

    fn is_ready(&self, tx: &PoolTx) -> bool {
        tx.requires.iter().all(|t| self.satisfied.tags.contains(t) || self.by_provides.contains_key(t))
    }
}

/// The transaction pool.
pub struct Pool {
    client: SharedClient,
    config: PoolConfig,
    inner: Mutex<Inner>,
    metrics: crate::metrics::ChainMetrics,
}

/// Hash of an extrinsic as the RPC reports it.
pub fn extrinsic_hash(bytes: &[u8]) -> Hash {
    sp_crypto_hashing::blake2_256(bytes).into()
}

impl Pool {
    /// An empty pool over `client`'s chain.
    pub fn new(client: SharedClient, config: PoolConfig, metrics: crate::metrics::ChainMetrics) -> Self {
        Self { client, config, inner: Mutex::new(Inner::default()), metrics }
    }

    fn validate(&self, bytes: &[u8], source: TransactionSource) -> Result<TransactionValidity, SubmitError> {
        let xt = cloister_runtime::UncheckedExtrinsic::decode(&mut &bytes[..])
            .map_err(|e| SubmitError::Decode(e.to_string()))?;
        if xt.encoded_size() != bytes.len() {
            return Err(SubmitError::Decode("trailing bytes after the extrinsic".into()));
        }
        let (best, _) = self.client.best_header();
        let input = (source, xt, best).encode();
        self.client
            .call_decode::<TransactionValidity>(&best, "TaggedTransactionQueue_validate_transaction", &input)
            .map_err(|e| SubmitError::Internal(e.to_string()))
    }

    /// Validates and adds an extrinsic; returns its hash.
    pub fn submit(&self, bytes: Vec<u8>, source: TransactionSource) -> Result<Hash, SubmitError> {
        self.submit_inner(bytes, source, None)
    }

    /// Like [`Pool::submit`], and returns a stream of the extrinsic's statuses.
    pub fn submit_and_watch(
        &self,
        bytes: Vec<u8>,
    ) -> Result<(Hash, mpsc::UnboundedReceiver<TransactionStatus>), SubmitError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let hash = self.submit_inner(bytes, TransactionSource::External, Some(tx))?;
        Ok((hash, rx))
    }

    fn submit_inner(
        &self,
        bytes: Vec<u8>,
        source: TransactionSource,
        watcher: Option<mpsc::UnboundedSender<TransactionStatus>>,
    ) -> Result<Hash, SubmitError> {
        let hash = extrinsic_hash(&bytes);
        if self.inner.lock().txs.contains_key(&hash) {
            return Err(SubmitError::AlreadyImported);
        }
        let valid = match self.validate(&bytes, source)? {
            Ok(valid) => valid,
            Err(TransactionValidityError::Invalid(e)) => return Err(SubmitError::Invalid(describe_invalid(e))),
            Err(TransactionValidityError::Unknown(e)) => return Err(SubmitError::Unknown(format!("{e:?}"))),
        };
        let best_number = *self.client.best_header().1.number();
        let mut inner = self.inner.lock();
        if inner.txs.contains_key(&hash) {
            return Err(SubmitError::AlreadyImported);
        }
        if inner.txs.len() >= self.config.max_count || inner.bytes + bytes.len() > self.config.max_bytes {
            return Err(SubmitError::PoolFull);
        }
        // Conflicts: another extrinsic provides one of our tags.
        let conflicts: BTreeSet<Hash> =
            valid.provides.iter().filter_map(|t| inner.by_provides.get(t).copied()).collect();
        for other in &conflicts {
            if inner.txs.get(other).is_some_and(|o| o.priority >= valid.priority) {
                return Err(SubmitError::TooLowPriority);
            }
        }
        for other in conflicts {
            inner.drop_with(&other, TransactionStatus::Usurped(hash));
        }
        let insertion = inner.next_insertion;
        inner.next_insertion += 1;
        let tx = PoolTx {
            bytes,
            priority: valid.priority,
            requires: valid.requires,
            provides: valid.provides,
            valid_till: best_number.saturating_add(valid.longevity.min(TransactionLongevity::from(u32::MAX)) as u32),
            insertion,
        };
        for tag in &tx.provides {
            inner.by_provides.insert(tag.clone(), hash);
        }
        let ready = inner.is_ready(&tx);
        inner.bytes += tx.bytes.len();
        self.client.journal_extrinsic(&tx.bytes);
        inner.txs.insert(hash, tx);
        if let Some(w) = watcher {
            inner.watchers.entry(hash).or_default().push(w);
        }
        inner.notify(&hash, if ready { TransactionStatus::Ready } else { TransactionStatus::Future });
        self.metrics.set_pool_size(inner.txs.len());
        debug!(target: "pool", %hash, ready, "accepted extrinsic");
        Ok(hash)
    }

    /// Extrinsics ready for the next block, in the order to apply them: dependencies first,
    /// otherwise higher priority first, then first come first served.
    pub fn ready(&self, limit: usize) -> Vec<(Hash, Vec<u8>)> {
        let inner = self.inner.lock();
        // Kahn's algorithm over the requires/provides graph with a priority queue.
        let mut missing: HashMap<Hash, usize> = HashMap::new();
        let mut dependents: HashMap<&TransactionTag, Vec<Hash>> = HashMap::new();
        let mut queue = std::collections::BinaryHeap::new();
        for (hash, tx) in &inner.txs {
            let mut count = 0;
            for tag in &tx.requires {
                if inner.satisfied.tags.contains(tag) {
                    continue;
                }
                if inner.by_provides.contains_key(tag) {
                    dependents.entry(tag).or_default().push(*hash);
                    count += 1;
                } else {
                    count = usize::MAX; // Needs something nobody has: future.
                    break;
                }
            }
            if count == 0 {
                queue.push((tx.priority, std::cmp::Reverse(tx.insertion), *hash));
            } else {
                missing.insert(*hash, count);
            }
        }
        let mut out = Vec::new();
        while let Some((_, _, hash)) = queue.pop() {
            if out.len() >= limit {
                break;
            }
            let Some(tx) = inner.txs.get(&hash) else { continue };
            out.push((hash, tx.bytes.clone()));
            for tag in &tx.provides {
                for dep in dependents.get(tag).into_iter().flatten() {
                    if let Some(m) = missing.get_mut(dep) {
                        if *m != usize::MAX {
                            *m -= 1;
                            if *m == 0 {
                                if let Some(d) = inner.txs.get(dep) {
                                    queue.push((d.priority, std::cmp::Reverse(d.insertion), *dep));
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Removes extrinsics a block author found invalid.
    pub fn remove_invalid(&self, hashes: &[Hash]) {
        let mut inner = self.inner.lock();
        for hash in hashes {
            inner.drop_with(hash, TransactionStatus::Invalid);
        }
        self.metrics.set_pool_size(inner.txs.len());
    }

    /// The encoded extrinsics in the pool.
    pub fn pending(&self) -> Vec<Vec<u8>> {
        let inner = self.inner.lock();
        let mut txs: Vec<_> = inner.txs.values().collect();
        txs.sort_by_key(|t| t.insertion);
        txs.into_iter().map(|t| t.bytes.clone()).collect()
    }

    /// Number of extrinsics in the pool.
    pub fn len(&self) -> usize {
        self.inner.lock().txs.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next nonce of `account`: its nonce at the best block, plus its extrinsics in the pool.
    pub fn next_nonce(&self, account: &cloister_primitives::AccountId) -> Result<u32, SubmitError> {
        let (best, _) = self.client.best_header();
        let mut nonce: u32 = self
            .client
            .call_decode(&best, "AccountNonceApi_account_nonce", &account.encode())
            .map_err(|e| SubmitError::Internal(e.to_string()))?;
        let inner = self.inner.lock();
        while inner.by_provides.contains_key(&(account, nonce).encode()) {
            nonce += 1;
        }
        Ok(nonce)
    }

    /// Updates the pool for a chain event.
    pub fn on_chain_event(&self, event: &ChainEvent) {
        match event {
            ChainEvent::Imported { hash: block, header, extrinsics, .. } => {
                let mut inner = self.inner.lock();
                let mut unknown = 0usize;
                let mut waiting = Vec::new();
                for xt in extrinsics {
                    match inner.remove(xt) {
                        Some(tx) => {
                            for tag in tx.provides {
                                inner.satisfied.insert(tag);
                            }
                            inner.notify(xt, TransactionStatus::InBlock(*block));
                            if let Some(w) = inner.watchers.remove(xt) {
                                waiting.push((*xt, w));
                            }
                        }
                        // Inherents are not from the pool; anything else came from elsewhere.
                        None => unknown += 1,
                    }
                }
                if !waiting.is_empty() {
                    inner.awaiting_finality.insert(*block, waiting);
                }
                // Extrinsics whose tags the chain now provides are stale.
                let stale: Vec<Hash> = inner
                    .txs
                    .iter()
                    .filter(|(_, tx)| tx.provides.iter().any(|t| inner.satisfied.tags.contains(t)))
                    .map(|(h, _)| *h)
                    .collect();
                for hash in stale {
                    inner.drop_with(&hash, TransactionStatus::Invalid);
                }
                let number = *header.number();
                let expired: Vec<Hash> =
                    inner.txs.iter().filter(|(_, tx)| tx.valid_till < number).map(|(h, _)| *h).collect();
                for hash in expired {
                    inner.drop_with(&hash, TransactionStatus::Invalid);
                }
                // A block with extrinsics we did not know (beyond the timestamp inherent)
                // may have changed any account: revalidate. Gossip makes this rare.
                if unknown > 1 {
                    inner.needs_revalidation = true;
                }
                self.metrics.set_pool_size(inner.txs.len());
            }
            ChainEvent::Finalized { blocks } => {
                let mut inner = self.inner.lock();
                for (hash, _) in blocks {
                    for (_xt, watchers) in inner.awaiting_finality.remove(hash).unwrap_or_default() {
                        for w in watchers {
                            let _ = w.send(TransactionStatus::Finalized(*hash));
                        }
                    }
                }
            }
        }
    }

    /// Revalidates every extrinsic at the best block if a foreign block asked for it.
    pub fn revalidate_if_needed(&self) {
        let txs: Vec<(Hash, Vec<u8>)> = {
            let mut inner = self.inner.lock();
            if !inner.needs_revalidation {
                return;
            }
            inner.needs_revalidation = false;
            inner.txs.iter().map(|(h, t)| (*h, t.bytes.clone())).collect()
        };
        let results: Vec<_> =
            txs.into_iter().map(|(h, b)| (h, self.validate(&b, TransactionSource::External))).collect();
        let mut inner = self.inner.lock();
        inner.satisfied.clear();
        for (hash, result) in results {
            match result {
                Ok(Ok(valid)) => {
                    if let Some(tx) = inner.txs.get_mut(&hash) {
                        tx.requires = valid.requires;
                        tx.priority = valid.priority;
                    }
                }
                _ => inner.drop_with(&hash, TransactionStatus::Invalid),
            }
        }
        self.metrics.set_pool_size(inner.txs.len());
    }
}

/// A user-facing description of why the runtime refused a transaction.
fn describe_invalid(e: sp_runtime::transaction_validity::InvalidTransaction) -> String {
    use sp_runtime::transaction_validity::InvalidTransaction::Custom;
    match e {
        Custom(pallet_cloister_permissions::LACKS_TRANSACT) => {
            "the signer lacks the TRANSACT permission on this restricted chain".into()
        }
        Custom(pallet_cloister_permissions::LACKS_CREATE) => {
            "the signer lacks the CREATE permission this call needs".into()
        }
        other => format!("{other:?}"),
    }
}
