//! The host's sidechain block store: an append-only log of encoded blocks (ciphertext payloads).
//!
//! Blocks are appended as `len (u32 LE) ‖ SCALE SignedSidechainBlock` to `blocks.log`; the index
//! of (shard, number) to offset is rebuilt by scanning the log at start-up. A write returns after
//! the bytes reached the file, so a killed process keeps every stored block; a torn last record
//! (a crash mid-write) is cut off when the log is opened. The host reads only the public header.

use cloister_primitives::{sidechain::SignedSidechainBlock, Hash, ShardId};
use codec::Decode;
use parking_lot::Mutex;
use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::{Read, Seek, SeekFrom, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
};

/// Why the block store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The log could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The log.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes given are not a sidechain block.
    #[error("not a sidechain block")]
    NotABlock,
    /// Sidechain blocks are numbered from 1.
    #[error("block number {number}: sidechain blocks are numbered from 1")]
    NumberZero {
        /// The number.
        number: u64,
    },
}

struct Inner {
    file: File,
    end: u64,
    /// Per shard: block number → (offset, length). A validateer provisioned from another's
    /// state starts after a gap.
    index: HashMap<ShardId, BTreeMap<u64, (u64, u32)>>,
    by_hash: HashMap<Hash, (ShardId, u64)>,
}

/// The block store of one worker.
pub struct BlockStore {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl BlockStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("blocks.log");
        let io = |source| StoreError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = std::fs::OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io)?;
        let total = file.metadata().map_err(io)?.len();
        let mut inner = Inner { file, end: 0, index: HashMap::new(), by_hash: HashMap::new() };
        // Record by record: the log of a long chain is not held in memory at once.
        let mut reader = std::io::BufReader::with_capacity(1 << 20, inner.file.try_clone().map_err(io)?);
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut offset = 0u64;
        let mut record = Vec::new();
        loop {
            let mut len = [0u8; 4];
            if offset + 4 > total || reader.read_exact(&mut len).is_err() {
                break;
            }
            let len = u32::from_le_bytes(len);
            let start = offset + 4;
            if start + u64::from(len) > total {
                break;
            }
            record.resize(len as usize, 0);
            if reader.read_exact(&mut record).is_err() {
                break;
            }
            let Ok(block) = SignedSidechainBlock::decode(&mut &record[..]) else { break };
            Self::note(&mut inner, &block, start, len);
            offset = start + u64::from(len);
        }
        if offset < total {
            tracing::warn!(target: "worker", path = %path.display(), cut = total - offset, "cutting a torn record off the block log");
            inner.file.set_len(offset).map_err(io)?;
        }
        inner.end = offset;
        Ok(Self { path, inner: Mutex::new(inner) })
    }

    fn note(inner: &mut Inner, block: &SignedSidechainBlock, offset: u64, len: u32) {
        let entries = inner.index.entry(block.header.shard).or_default();
        let number = block.header.number;
        // A re-stored number replaces the tail (the enclave moved to another fork).
        entries.split_off(&number);
        entries.insert(number, (offset, len));
        inner.by_hash.insert(block.hash(), (block.header.shard, number));
    }

    /// Stores an encoded block; the next block of its shard, or a replacement of a stored one.
    pub fn store(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let block = SignedSidechainBlock::decode(&mut &bytes[..]).map_err(|_| StoreError::NotABlock)?;
        let mut inner = self.inner.lock();
        if block.header.number == 0 {
            return Err(StoreError::NumberZero { number: block.header.number });
        }
        let mut record = (bytes.len() as u32).to_le_bytes().to_vec();
        record.extend_from_slice(bytes);
        let io = |source| StoreError::Io { path: self.path.clone(), source };
        inner.file.write_all(&record).map_err(io)?;
        let offset = inner.end + 4;
        inner.end += record.len() as u64;
        Self::note(&mut inner, &block, offset, bytes.len() as u32);
        Ok(())
    }

    /// Up to `max` encoded blocks of `shard` from `from` on.
    pub fn fetch(&self, shard: &ShardId, from: u64, max: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let inner = self.inner.lock();
        let Some(entries) = inner.index.get(shard) else { return Ok(Vec::new()) };
        // Consecutive numbers only: a gap ends the answer.
        entries
            .range(from..)
            .take(max as usize)
            .enumerate()
            .take_while(|(i, (number, _))| **number == from + *i as u64)
            .map(|(_, (_, (offset, len)))| {
                let mut buf = vec![0u8; *len as usize];
                inner
                    .file
                    .read_exact_at(&mut buf, *offset)
                    .map(|()| buf)
                    .map_err(|source| StoreError::Io { path: self.path.clone(), source })
            })
            .collect()
    }

    /// The highest block number stored for `shard`.
    pub fn height(&self, shard: &ShardId) -> u64 {
        self.inner.lock().index.get(shard).and_then(|e| e.keys().next_back().copied()).unwrap_or(0)
    }

    /// The encoded block with this hash.
    pub fn by_hash(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let at = self.inner.lock().by_hash.get(hash).copied();
        match at {
            Some((shard, number)) => Ok(self.fetch(&shard, number, 1)?.into_iter().next()),
            None => Ok(None),
        }
    }
}
