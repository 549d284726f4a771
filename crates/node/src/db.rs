//! The node's embedded database: blocks, justifications and the state trie in parity-db.
//!
//! Columns:
//! - `META`: the genesis, best and finalized block hashes, and auxiliary service state (the
//!   GRANDPA voter's last completed round and own votes, under `grandpa/` keys);
//! - `HEADER`, `BODY`, `JUSTIFICATIONS`: by block hash, for every imported block (forks too);
//! - `CANON`: block number (big-endian) to the hash of the best chain's block at that height;
//! - `STATE`: trie nodes by their hash (the value is the preimage of the key).
//!
//! Everything a block changes (its header, body, the trie nodes its execution created and the
//! new best/finalized pointers) goes into the database in one [`BlockCommit`], which parity-db
//! applies atomically.

use cloister_primitives::{BlockNumber, Hash, Hashing, Header};
use codec::{Decode, Encode};
use parity_db::{ColId, ColumnOptions, Db, Options};
use sp_runtime::{Justifications, OpaqueExtrinsic};
use sp_state_machine::{DBValue, TrieBackendStorage};
use std::{path::Path, sync::Arc};

const COL_META: ColId = 0;
const COL_HEADER: ColId = 1;
const COL_BODY: ColId = 2;
const COL_JUSTIFICATIONS: ColId = 3;
const COL_CANON: ColId = 4;
const COL_STATE: ColId = 5;
const NUM_COLUMNS: u8 = 6;

const KEY_GENESIS: &[u8] = b"genesis";
const KEY_BEST: &[u8] = b"best";
const KEY_FINALIZED: &[u8] = b"finalized";

/// Errors of the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// parity-db refused an operation (I/O, corruption, incompatible options).
    #[error("database error: {0}")]
    Backend(#[from] parity_db::Error),
    /// A stored value does not decode: the database is corrupt or from another version.
    #[error("corrupt database entry in column {column}: {reason}")]
    Corrupt {
        /// The column of the entry.
        column: &'static str,
        /// What failed to decode.
        reason: String,
    },
}

/// Everything one imported (or finalized) block writes.
#[derive(Debug, Default)]
pub struct BlockCommit {
    /// The block's header, body and justifications, if a block is being imported.
    pub block: Option<(Header, Vec<OpaqueExtrinsic>)>,
    /// Justifications to store for a block.
    pub justifications: Option<(Hash, Justifications)>,
    /// New trie nodes: (hash, encoded node).
    pub state_nodes: Vec<(Hash, Vec<u8>)>,
    /// Canonical chain entries to (over)write, when the best chain changes.
    pub canon: Vec<(BlockNumber, Hash)>,
    /// Canonical entries above the new best to remove after a reorganisation to a shorter chain.
    pub canon_removed: Vec<BlockNumber>,
    /// The new best block.
    pub best: Option<Hash>,
    /// The new finalized block.
    pub finalized: Option<Hash>,
    /// The genesis hash, written once.
    pub genesis: Option<Hash>,
}

/// The node's database.
#[derive(Clone)]
pub struct ChainDb {
    db: Arc<Db>,
}

impl ChainDb {
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let mut options = Options::with_columns(path, NUM_COLUMNS);
        options.columns[COL_HEADER as usize] = ColumnOptions { uniform: true, ..Default::default() };
        options.columns[COL_BODY as usize] = ColumnOptions { uniform: true, ..Default::default() };
        options.columns[COL_JUSTIFICATIONS as usize] = ColumnOptions { uniform: true, ..Default::default() };
        options.columns[COL_STATE as usize] = ColumnOptions { uniform: true, preimage: true, ..Default::default() };
        let db = Db::open_or_create(&options)?;
        Ok(Self { db: Arc::new(db) })
    }

    fn get_decoded<T: Decode>(&self, col: ColId, name: &'static str, key: &[u8]) -> Result<Option<T>, DbError> {
        match self.db.get(col, key)? {
            None => Ok(None),
            Some(bytes) => T::decode(&mut &bytes[..])
                .map(Some)
                .map_err(|e| DbError::Corrupt { column: name, reason: e.to_string() }),
        }
    }

    /// Hash of the genesis block, once the database has one.
    pub fn genesis_hash(&self) -> Result<Option<Hash>, DbError> {
        self.get_decoded(COL_META, "meta", KEY_GENESIS)
    }

    /// Hash of the best block.
    pub fn best_hash(&self) -> Result<Option<Hash>, DbError> {
        self.get_decoded(COL_META, "meta", KEY_BEST)
    }

    /// Hash of the last finalized block.
    pub fn finalized_hash(&self) -> Result<Option<Hash>, DbError> {
        self.get_decoded(COL_META, "meta", KEY_FINALIZED)
    }

    /// The header of a block.
    pub fn header(&self, hash: &Hash) -> Result<Option<Header>, DbError> {
        self.get_decoded(COL_HEADER, "header", hash.as_bytes())
    }

    /// The extrinsics of a block.
    pub fn body(&self, hash: &Hash) -> Result<Option<Vec<OpaqueExtrinsic>>, DbError> {
        self.get_decoded(COL_BODY, "body", hash.as_bytes())
    }

    /// The justifications of a block, if it has any.
    pub fn justifications(&self, hash: &Hash) -> Result<Option<Justifications>, DbError> {
        self.get_decoded(COL_JUSTIFICATIONS, "justifications", hash.as_bytes())
    }

    /// Hash of the best chain's block at `number`.
    pub fn canonical_hash(&self, number: BlockNumber) -> Result<Option<Hash>, DbError> {
        self.get_decoded(COL_CANON, "canon", &number.to_be_bytes())
    }

    /// Writes a [`BlockCommit`] atomically.
    pub fn commit(&self, commit: BlockCommit) -> Result<(), DbError> {
        let mut tx: Vec<(ColId, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        if let Some((header, body)) = commit.block {
            let hash = header.hash_with();
            tx.push((COL_HEADER, hash.as_bytes().to_vec(), Some(header.encode())));
            tx.push((COL_BODY, hash.as_bytes().to_vec(), Some(body.encode())));
        }
        if let Some((hash, justifications)) = commit.justifications {
            tx.push((COL_JUSTIFICATIONS, hash.as_bytes().to_vec(), Some(justifications.encode())));
        }
        for (hash, node) in commit.state_nodes {
            tx.push((COL_STATE, hash.as_bytes().to_vec(), Some(node)));
        }
        for (number, hash) in commit.canon {
            tx.push((COL_CANON, number.to_be_bytes().to_vec(), Some(hash.encode())));
        }
        for number in commit.canon_removed {
            tx.push((COL_CANON, number.to_be_bytes().to_vec(), None));
        }
        for (key, value) in [(KEY_BEST, commit.best), (KEY_FINALIZED, commit.finalized), (KEY_GENESIS, commit.genesis)]
        {
            if let Some(hash) = value {
                tx.push((COL_META, key.to_vec(), Some(hash.encode())));
            }
        }
        self.db.commit(tx)?;
        Ok(())
    }

    /// A value other services keep in the `META` column (e.g. GRANDPA voter state), by key.
    /// Keys must not collide with the chain pointers; use a `service/` prefix.
    pub fn aux(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self.db.get(COL_META, key)?)
    }

    /// Writes (or with `None` deletes) values in the `META` column atomically.
    pub fn put_aux(&self, entries: Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), DbError> {
        self.db.commit(entries.into_iter().map(|(k, v)| (COL_META, k, v)))?;
        Ok(())
    }

    /// The trie node store, for state backends.
    pub fn state(&self) -> StateStore {
        StateStore { db: self.db.clone() }
    }
}

/// Hash of a header, named so that call sites read as what they do.
trait HashWith {
    fn hash_with(&self) -> Hash;
}

impl HashWith for Header {
    fn hash_with(&self) -> Hash {
        <Hashing as sp_runtime::traits::Hash>::hash_of(self)
    }
}

/// Trie nodes in the `STATE` column, as `sp_state_machine` reads them.
#[derive(Clone)]
pub struct StateStore {
    db: Arc<Db>,
}

impl TrieBackendStorage<Hashing> for StateStore {
    fn get(&self, key: &Hash, _prefix: hash_db::Prefix) -> Result<Option<DBValue>, sp_state_machine::DefaultError> {
        self.db.get(COL_STATE, key.as_bytes()).map_err(|e| format!("state column: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_runtime::traits::Header as _;

    #[test]
    fn block_commit_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let header = Header::new(1, Default::default(), Default::default(), Hash::repeat_byte(1), Default::default());
        let hash = header.hash();
        let node = (Hash::repeat_byte(9), vec![1, 2, 3]);
        {
            let db = ChainDb::open(dir.path()).expect("open");
            db.commit(BlockCommit {
                block: Some((header.clone(), vec![])),
                state_nodes: vec![node.clone()],
                canon: vec![(1, hash)],
                best: Some(hash),
                ..Default::default()
            })
            .expect("commit");
            assert_eq!(db.header(&hash).expect("read"), Some(header.clone()));
        }
        let db = ChainDb::open(dir.path()).expect("reopen");
        assert_eq!(db.best_hash().expect("read"), Some(hash));
        assert_eq!(db.canonical_hash(1).expect("read"), Some(hash));
        assert_eq!(db.body(&hash).expect("read"), Some(vec![]));
        assert_eq!(db.finalized_hash().expect("read"), None);
        let store = db.state();
        assert_eq!(TrieBackendStorage::get(&store, &node.0, (&[], None)).expect("read"), Some(node.1));
    }
}
