//! The pool validates through the runtime, orders by nonce, replaces by priority, and the
//! block builder includes what it hands over.

use super::*;
use cloister_node::pool::{Pool, PoolConfig};
use cloister_rpc::node::{SubmitError, TransactionStatus};
use codec::Encode;
use sp_runtime::transaction_validity::TransactionSource;

#[test]
fn pool_orders_dependencies_and_replaces_by_priority() {
    let (client, _dir) = client(ChainSpec::dev());
    let pool = Pool::new(client.clone(), PoolConfig::default(), ChainMetrics::new());
    let xts: Vec<Vec<u8>> = (0..3).map(|n| transfer(&client, "//Alice", "//Bob", n, 0, 1).encode()).collect();

    // Nonce 2 first: it waits for 0 and 1.
    let (_, mut status2) = pool.submit_and_watch(xts[2].clone()).expect("future is accepted");
    assert_eq!(status2.try_recv().expect("status"), TransactionStatus::Future);
    pool.submit(xts[0].clone(), TransactionSource::External).expect("nonce 0");
    pool.submit(xts[1].clone(), TransactionSource::External).expect("nonce 1");
    let order: Vec<Vec<u8>> = pool.ready(10).into_iter().map(|(_, x)| x).collect();
    assert_eq!(order, xts, "dependencies first");
    assert_eq!(pool.submit(xts[1].clone(), TransactionSource::External), Err(SubmitError::AlreadyImported));

    // Same nonce 0, no tip: too low. With a tip: replaces the first one.
    let same = transfer(&client, "//Alice", "//Charlie", 0, 0, 1).encode();
    assert_eq!(pool.submit(same, TransactionSource::External), Err(SubmitError::TooLowPriority));
    let tipped = transfer(&client, "//Alice", "//Charlie", 0, 1_000_000, 1).encode();
    pool.submit(tipped.clone(), TransactionSource::External).expect("higher priority replaces");
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.ready(10).first().map(|(_, x)| x.clone()), Some(tipped.clone()));

    // Garbage and bad signatures are refused and not stored.
    assert!(matches!(pool.submit(vec![1, 2, 3], TransactionSource::External), Err(SubmitError::Decode(_))));
    let mut bad = transfer(&client, "//Bob", "//Alice", 0, 0, 1).encode();
    let n = bad.len();
    bad[n - 40] ^= 1;
    assert!(pool.submit(bad, TransactionSource::External).is_err());
    assert_eq!(pool.len(), 3);

    // The builder applies them in order; the pool forgets them once the block is imported.
    let mut events = client.subscribe();
    let ready: Vec<Vec<u8>> = pool.ready(10).into_iter().map(|(_, x)| x).collect();
    let block = author(&client, "//Alice", ready);
    assert_eq!(block.block.extrinsics.len(), 4, "timestamp + 3 transfers");
    client.import_block(block, cloister_node::client::BlockOrigin::Own).expect("own block imports");
    let event = events.try_recv().expect("chain event");
    pool.on_chain_event(&event);
    assert!(pool.is_empty(), "included extrinsics leave the pool");
    assert!(matches!(status2.try_recv(), Ok(TransactionStatus::Ready) | Ok(TransactionStatus::InBlock(_))));
}
