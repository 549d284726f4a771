//! The node's crash journal: what it accepted, written before it is acknowledged.
//!
//! parity-db applies a commit in a background thread, so a process killed right after a commit
//! may lose it. The journal closes that window: every imported block, every finality decision and
//! every transaction accepted into the pool is appended here (one `write` each, which survives the
//! death of the process) before anyone is told of it. After a restart the node re-imports the
//! blocks the database lost, re-applies finality and resubmits the transactions.
//!
//! Record format: `len: u32 LE | checksum: first 8 bytes of blake2-256(payload) | payload
//! (SCALE JournalRecord)`. A torn or corrupt tail, as a crash mid-write leaves, ends the reading.
//! The journal is rewritten (write to a temporary file, fsync, rename) at start-up and whenever it
//! holds twice [`KEEP_BLOCKS`] blocks, keeping the last [`KEEP_BLOCKS`] blocks, the last finality
//! record and the pending transactions.

use crate::client::StoredBlock;
use cloister_primitives::Hash;
use codec::{Decode, Encode};
use std::{
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};
use tracing::warn;

/// Blocks kept in the journal after a rewrite: far more than parity-db's commit queue can hold.
pub const KEEP_BLOCKS: usize = 1024;

/// One journal entry.
#[derive(Clone, Debug, Encode, Decode, PartialEq)]
pub enum JournalRecord {
    /// A block the node imported.
    Block(StoredBlock),
    /// A block the node finalized, with the encoded GRANDPA justification if it had one.
    Finalized {
        /// The block.
        hash: Hash,
        /// Its justification.
        justification: Option<Vec<u8>>,
    },
    /// A transaction accepted into the pool (encoded extrinsic).
    Extrinsic(Vec<u8>),
}

/// The journal file.
pub struct Journal {
    path: Option<PathBuf>,
    file: Option<File>,
    blocks: usize,
    pending_compaction: bool,
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let hash = sp_crypto_hashing::blake2_256(payload);
    let mut out = [0u8; 8];
    out.copy_from_slice(&hash[..8]);
    out
}

fn frame(record: &JournalRecord) -> Vec<u8> {
    let payload = record.encode();
    let mut out = Vec::with_capacity(payload.len() + 12);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(&payload));
    out.extend_from_slice(&payload);
    out
}

/// Decodes the records of a journal's bytes, stopping at the first torn or corrupt one.
pub fn decode_records(mut bytes: &[u8]) -> Vec<JournalRecord> {
    let mut records = Vec::new();
    while bytes.len() >= 12 {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let Some(payload) = bytes.get(12..12 + len) else { break };
        if checksum(payload) != bytes[4..12] {
            break;
        }
        match JournalRecord::decode(&mut &payload[..]) {
            Ok(record) => records.push(record),
            Err(_) => break,
        }
        bytes = &bytes[12 + len..];
    }
    records
}

impl Journal {
    /// A journal that records nothing (for `--tmp` chains, whose database dies with the process).
    pub fn disabled() -> Self {
        Self { path: None, file: None, blocks: 0, pending_compaction: false }
    }

    /// Opens the journal at `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).read(true).open(path)?;
        let mut journal = Self { path: Some(path.into()), file: Some(file), blocks: 0, pending_compaction: false };
        journal.blocks = journal.records().iter().filter(|r| matches!(r, JournalRecord::Block(_))).count();
        Ok(journal)
    }

    /// Every intact record, oldest first.
    pub fn records(&self) -> Vec<JournalRecord> {
        let Some(path) = &self.path else { return Vec::new() };
        let mut bytes = Vec::new();
        if let Err(e) = File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
            warn!(target: "journal", error = %e, "cannot read the journal");
            return Vec::new();
        }
        decode_records(&bytes)
    }

    /// Appends a record. A failed write is logged: the database still has the data, only the
    /// crash window is open again.
    pub fn append(&mut self, record: &JournalRecord) {
        let Some(file) = &mut self.file else { return };
        if let Err(e) = file.write_all(&frame(record)) {
            warn!(target: "journal", error = %e, "cannot append to the journal");
        }
        if matches!(record, JournalRecord::Block(_)) {
            self.blocks += 1;
            if self.blocks >= 2 * KEEP_BLOCKS {
                self.pending_compaction = true;
            }
        }
    }

    /// Whether the journal has grown enough to be rewritten.
    pub fn needs_compaction(&self) -> bool {
        self.pending_compaction
    }

    /// Rewrites the journal with the last [`KEEP_BLOCKS`] blocks, the last finality record and
    /// `pending` transactions.
    pub fn compact(&mut self, pending: Vec<Vec<u8>>) {
        let Some(path) = self.path.clone() else { return };
        let records = self.records();
        let blocks: Vec<_> = records.iter().filter(|r| matches!(r, JournalRecord::Block(_))).collect();
        let skip = blocks.len().saturating_sub(KEEP_BLOCKS);
        let mut kept: Vec<JournalRecord> = blocks.into_iter().skip(skip).cloned().collect();
        if let Some(last_final) = records.iter().rev().find(|r| matches!(r, JournalRecord::Finalized { .. })) {
            kept.push(last_final.clone());
        }
        kept.extend(pending.into_iter().map(JournalRecord::Extrinsic));
        let tmp = path.with_extension("tmp");
        let written = (|| -> std::io::Result<File> {
            let mut f = File::create(&tmp)?;
            for record in &kept {
                f.write_all(&frame(record))?;
            }
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            OpenOptions::new().append(true).read(true).open(&path)
        })();
        match written {
            Ok(file) => {
                self.file = Some(file);
                self.blocks = kept.iter().filter(|r| matches!(r, JournalRecord::Block(_))).count();
                self.pending_compaction = false;
            }
            Err(e) => warn!(target: "journal", error = %e, "cannot rewrite the journal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        {
            let mut j = Journal::open(&path).expect("open");
            j.append(&JournalRecord::Extrinsic(vec![1, 2, 3]));
            j.append(&JournalRecord::Finalized { hash: Hash::repeat_byte(4), justification: None });
        }
        // A crash in the middle of a write leaves half a record.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&frame(&JournalRecord::Extrinsic(vec![9; 40]))[..20]).expect("write");
        let j = Journal::open(&path).expect("reopen");
        assert_eq!(
            j.records(),
            vec![
                JournalRecord::Extrinsic(vec![1, 2, 3]),
                JournalRecord::Finalized { hash: Hash::repeat_byte(4), justification: None }
            ]
        );
    }

    #[test]
    fn a_flipped_byte_ends_the_reading() {
        let mut bytes = frame(&JournalRecord::Extrinsic(vec![1]));
        bytes.extend(frame(&JournalRecord::Extrinsic(vec![2])));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(decode_records(&bytes), vec![JournalRecord::Extrinsic(vec![1])]);
    }

    #[test]
    fn compaction_keeps_pending_transactions_and_last_finality() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path).expect("open");
        j.append(&JournalRecord::Extrinsic(vec![1]));
        j.append(&JournalRecord::Finalized { hash: Hash::repeat_byte(1), justification: None });
        j.append(&JournalRecord::Finalized { hash: Hash::repeat_byte(2), justification: None });
        j.compact(vec![vec![7]]);
        j.append(&JournalRecord::Extrinsic(vec![8]));
        assert_eq!(
            Journal::open(&path).expect("reopen").records(),
            vec![
                JournalRecord::Finalized { hash: Hash::repeat_byte(2), justification: None },
                JournalRecord::Extrinsic(vec![7]),
                JournalRecord::Extrinsic(vec![8]),
            ]
        );
    }
}
