//! The pool of trusted calls waiting for a sidechain block, with a sealed journal.
//!
//! A call enters the pool only after it checks against the state (signature, account, next
//! nonce counting the signer's calls already waiting), and only after it is appended to the
//! shard's sealed journal: a call the enclave acknowledged survives a crash of the worker. The
//! journal is rewritten with what is still waiting whenever the shard's snapshot is sealed; on
//! start-up its calls are checked again, so calls a stored block already applied drop out.

use crate::sealing::{SealError, Sealer};
use cloister_primitives::{AccountId, Hash, Nonce};
use cloister_stf::{SealedCall, VerifiedCall};
use codec::{Decode, Encode};
use std::{
    collections::{BTreeSet, HashMap, HashSet, VecDeque},
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::PathBuf,
};

/// Most calls a pool holds; beyond it submissions are refused until blocks drain it.
pub const MAX_POOL: usize = 100_000;

/// Calls waiting, in arrival order.
#[derive(Default)]
pub struct Pool {
    calls: VecDeque<VerifiedCall>,
    hashes: HashSet<Hash>,
    /// The nonces of each signer's waiting calls.
    per_signer: HashMap<AccountId, BTreeSet<Nonce>>,
}

impl Pool {
    /// How many calls wait.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call waits.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Whether a call with this hash waits.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.hashes.contains(hash)
    }

    /// The next nonce of `who` after the calls waiting that follow on from `state_nonce` (its
    /// next nonce in the state) without a gap.
    pub fn next_nonce(&self, who: &AccountId, state_nonce: Nonce) -> Nonce {
        let mut next = state_nonce;
        if let Some(nonces) = self.per_signer.get(who) {
            for nonce in nonces.range(state_nonce..) {
                if *nonce != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// Whether a call of `who` with `nonce` waits.
    pub fn has_nonce(&self, who: &AccountId, nonce: Nonce) -> bool {
        self.per_signer.get(who).is_some_and(|n| n.contains(&nonce))
    }

    /// Adds a checked call.
    pub fn push(&mut self, call: VerifiedCall) {
        self.per_signer.entry(call.signer().clone()).or_default().insert(call.signed().nonce);
        self.hashes.insert(call.hash());
        self.calls.push_back(call);
    }

    /// Up to `max` calls from the front, without removing them.
    pub fn front(&self, max: usize) -> Vec<VerifiedCall> {
        self.calls.iter().take(max).cloned().collect()
    }

    /// Removes the calls named (those a block included or rejected).
    pub fn remove(&mut self, done: &HashSet<Hash>) {
        let per_signer = &mut self.per_signer;
        self.calls.retain(|call| {
            if !done.contains(&call.hash()) {
                return true;
            }
            if let Some(nonces) = per_signer.get_mut(call.signer()) {
                nonces.remove(&call.signed().nonce);
                if nonces.is_empty() {
                    per_signer.remove(call.signer());
                }
            }
            false
        });
        self.hashes.retain(|h| !done.contains(h));
    }

    /// Removes the calls named and returns them.
    pub fn take(&mut self, done: &HashSet<Hash>) -> Vec<VerifiedCall> {
        let taken: Vec<VerifiedCall> = self.calls.iter().filter(|c| done.contains(&c.hash())).cloned().collect();
        if !taken.is_empty() {
            self.remove(done);
        }
        taken
    }

    /// Every waiting call, in order.
    pub fn all(&self) -> impl Iterator<Item = &VerifiedCall> {
        self.calls.iter()
    }
}

/// The sealed journal of a shard's pool: length-prefixed sealed records, appended.
pub struct Journal {
    path: PathBuf,
    name: String,
    purpose: String,
    /// Open for appending, after the first append (and again after each rewrite).
    file: Option<std::fs::File>,
}

impl Journal {
    /// The journal `name` in the sealer's directory, sealed for `purpose`.
    pub fn new(sealer: &Sealer, name: String, purpose: String) -> Self {
        Self { path: sealer.dir().join(&name), name, purpose, file: None }
    }

    /// Appends a call, in one write. Written before the call is acknowledged; a crash of the
    /// process keeps it.
    pub fn append(&mut self, sealer: &Sealer, call: &SealedCall) -> Result<(), SealError> {
        let sealed = sealer.seal_bytes(&self.purpose, &call.encode());
        let mut record = (sealed.len() as u32).to_le_bytes().to_vec();
        record.extend_from_slice(&sealed);
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(&self.path)
                    .map_err(|source| SealError::Io { path: self.path.clone(), source })?,
            ),
        };
        file.write_all(&record).map_err(|source| SealError::Io { path: self.path.clone(), source })
    }

    /// Replaces the journal with `calls` (atomically).
    pub fn rewrite(&mut self, sealer: &Sealer, calls: impl Iterator<Item = SealedCall>) -> Result<(), SealError> {
        let mut bytes = Vec::new();
        for call in calls {
            let sealed = sealer.seal_bytes(&self.purpose, &call.encode());
            bytes.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&sealed);
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, &bytes).map_err(|source| SealError::Io { path: tmp.clone(), source })?;
        // The open handle would append to the file replaced.
        self.file = None;
        std::fs::rename(&tmp, &self.path).map_err(|source| SealError::Io { path: self.path.clone(), source })
    }

    /// Reads the journal. A torn last record (a crash mid-append) is dropped; any record that
    /// fails to open is tampering and refused.
    pub fn read(&self, sealer: &Sealer) -> Result<Vec<SealedCall>, SealError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(SealError::Io { path: self.path.clone(), source }),
        };
        let mut calls = Vec::new();
        let mut rest = &bytes[..];
        while rest.len() >= 4 {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if rest.len() < 4 + len {
                tracing::warn!(target: "enclave", journal = %self.name, "dropping a torn last journal record");
                break;
            }
            let plain = sealer.unseal_bytes(&self.purpose, &rest[4..4 + len], &self.path)?;
            let call = SealedCall::decode(&mut &plain[..])
                .map_err(|_| SealError::Tampered { path: self.path.clone(), purpose: self.purpose.clone() })?;
            calls.push(call);
            rest = &rest[4 + len..];
        }
        Ok(calls)
    }
}
