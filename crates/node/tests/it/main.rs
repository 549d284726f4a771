//! In-process tests of the node's chain logic: block import and the transaction pool, over real
//! parity-db databases in temporary directories and the real native runtime.

mod import;
mod pool;

use cloister_consensus::aura;
use cloister_node::{
    builder,
    chain_spec::ChainSpec,
    client::{now_millis, Client, StoredBlock},
    db::ChainDb,
    journal::Journal,
    metrics::ChainMetrics,
};
use cloister_primitives::{OpaqueBlock, UNIT};
use cloister_runtime::{extrinsic::SigningContext, RuntimeCall, UncheckedExtrinsic};
use sp_core::{sr25519, Pair};
use sp_runtime::{
    generic::SignedBlock,
    traits::{Block as _, Header as _},
    MultiAddress,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// A client on a fresh database.
pub fn client(spec: ChainSpec) -> (Arc<Client>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let db = ChainDb::open(&dir.path().join("db")).expect("db");
    let client = Client::open(db, spec, Journal::disabled(), ChainMetrics::new()).expect("client");
    (Arc::new(client), dir)
}

/// Pair of a dev account.
pub fn pair(suri: &str) -> sr25519::Pair {
    sr25519::Pair::from_string(suri, None).expect("dev key")
}

/// Signing context at the client's best block.
pub fn context(client: &Client) -> SigningContext {
    let version: sp_version::RuntimeVersion =
        client.call_decode(&client.info().genesis_hash, "Core_version", &[]).expect("version");
    let (hash, header) = client.best_header();
    SigningContext {
        genesis: client.info().genesis_hash,
        spec_version: version.spec_version,
        transaction_version: version.transaction_version,
        checkpoint: (*header.number(), hash),
    }
}

/// A signed transfer of `units` to `to`.
pub fn transfer(client: &Client, from: &str, to: &str, nonce: u32, tip: u128, units: u128) -> UncheckedExtrinsic {
    let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
        dest: MultiAddress::Id(pair(to).public().into()),
        value: units * UNIT,
    });
    cloister_runtime::extrinsic::signed(call, &pair(from), nonce, tip, &context(client))
}

/// Builds and seals a block on `client`'s best block for the current slot, as `author`.
pub fn author(client: &Client, author: &str, xts: Vec<Vec<u8>>) -> StoredBlock {
    let (parent_hash, parent) = client.best_header();
    let slot = aura::slot_at(now_millis(), client.slot_duration_ms());
    let candidates = xts.into_iter().map(|x| (sp_crypto_hashing::blake2_256(&x).into(), x)).collect();
    let built = builder::build_block(
        client,
        parent_hash,
        &parent,
        slot,
        now_millis(),
        candidates,
        Instant::now() + Duration::from_secs(5),
    )
    .expect("block builds");
    let header = aura::seal(built.header, &pair(author).into());
    SignedBlock { block: OpaqueBlock::new(header, built.extrinsics), justifications: None }
}
