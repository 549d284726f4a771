//! `cloister bench transfers`: parentchain throughput, measured against a same-run baseline.
//!
//! Pre-signs `count` `Balances.transfer_keep_alive` extrinsics from the well-known dev accounts
//! (consecutive nonces per sender), floods them into the node over several RPC connections,
//! and follows new blocks until every one is included. It prints transfers per second included in
//! blocks (first submission to the block holding the last transfer), the sr25519 verifications
//! per second of one core of this machine measured in the same run, and their ratio, so figures
//! from different machines compare.
//!
//! It also measures finality latency: for every block that holds bench transfers, the time from
//! its arrival as a new head to the arrival of a finalized head at or above it, in milliseconds
//! and in slots. With `--spawn --authorities N` the node is one of N authorities of a local
//! consortium in this process, networked over 127.0.0.1, so the figure includes GRANDPA voting
//! between nodes.

use crate::{
    output::Output,
    rpc_client::{ClientError, NodeClient},
    signer::Signer,
};
use cloister_primitives::{baseline::sr25519_verify_rate, Hash, Header};
use cloister_runtime::RuntimeCall;
use codec::{Decode, Encode};
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
};
use serde_json::json;
use sp_core::Bytes;
use sp_runtime::MultiAddress;
use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

/// Options of the benchmark.
#[derive(Debug, Clone)]
pub struct TransferBench {
    /// Transfers to submit.
    pub count: usize,
    /// Concurrent RPC connections used to submit.
    pub connections: usize,
    /// Give up waiting for inclusion after this long.
    pub timeout: Duration,
}

/// What the benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferReport {
    /// Transfers submitted.
    pub submitted: usize,
    /// Transfers found in blocks.
    pub included: usize,
    /// Blocks that held them.
    pub blocks: usize,
    /// Seconds to submit them all.
    pub submit_seconds: f64,
    /// Seconds from the first submission to the block with the last transfer.
    pub inclusion_seconds: f64,
    /// Included transfers per second.
    pub transfers_per_second: f64,
    /// sr25519 verifications per second on one core, same run.
    pub sr25519_verify_per_second: f64,
    /// transfers_per_second / sr25519_verify_per_second.
    pub ratio: f64,
    /// Slot duration of the chain, in milliseconds.
    pub slot_ms: u64,
    /// Mean time from a transfer block's arrival to its finality, in milliseconds.
    pub finality_latency_ms_mean: f64,
    /// Longest such time, in milliseconds.
    pub finality_latency_ms_max: f64,
    /// Mean finality latency in slots.
    pub finality_latency_slots_mean: f64,
    /// Blocks whose finality was seen within the timeout.
    pub finalized_blocks: usize,
}

const SENDERS: [&str; 6] = ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"];

async fn presign(client: &NodeClient, count: usize) -> Result<Vec<(Hash, Bytes)>, ClientError> {
    let best = client.best_header().await?;
    let checkpoint = (best.number, best.hash());
    let mut signers = Vec::new();
    for suri in SENDERS {
        let signer = Signer::from_suri(suri).map_err(|e| ClientError::Dropped(e.to_string()))?;
        let nonce = client.next_nonce(&signer.account()).await?;
        signers.push((signer, nonce));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (signer, nonce) = &mut signers[i % SENDERS.len()];
        let dest =
            Signer::from_suri(&format!("//Bench//{}", i % 1000)).map_err(|e| ClientError::Dropped(e.to_string()))?;
        let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
            dest: MultiAddress::Id(dest.account()),
            value: cloister_primitives::UNIT,
        });
        let xt = client.sign(signer, call, *nonce, checkpoint).encode();
        *nonce += 1;
        out.push((sp_crypto_hashing::blake2_256(&xt).into(), Bytes(xt)));
    }
    Ok(out)
}

/// Runs the benchmark against the node at `url`.
pub async fn run(url: &str, options: &TransferBench) -> anyhow::Result<TransferReport> {
    let client = NodeClient::connect(url).await?;
    let transfers = presign(&client, options.count).await?;
    let wanted: HashSet<Hash> = transfers.iter().map(|(h, _)| *h).collect();

    let mut heads = client
        .rpc()
        .subscribe::<Header, _>("chain_subscribeNewHeads", rpc_params![], "chain_unsubscribeNewHeads")
        .await?;
    let mut finalized_heads = client
        .rpc()
        .subscribe::<Header, _>("chain_subscribeFinalizedHeads", rpc_params![], "chain_unsubscribeFinalizedHeads")
        .await?;
    let finalized_seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::<(u32, Instant)>::new()));
    let follower = {
        let seen = finalized_seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(header)) = finalized_heads.next().await {
                seen.lock().push((header.number, Instant::now()));
            }
        })
    };
    let slot_bytes: Bytes = client.rpc().request("state_call", rpc_params!["AuraApi_slot_duration", "0x"]).await?;
    let slot_ms = u64::decode(&mut &slot_bytes[..]).unwrap_or(0);
    let started = Instant::now();
    let mut submitters = Vec::new();
    let per_connection = transfers.len().div_ceil(options.connections.max(1));
    for chunk in transfers.chunks(per_connection.max(1)) {
        let chunk: Vec<Bytes> = chunk.iter().map(|(_, b)| b.clone()).collect();
        let url = url.to_string();
        submitters.push(tokio::spawn(async move {
            let conn = NodeClient::connect(&url).await?;
            let mut refused = 0usize;
            for xt in chunk {
                let submitted: Result<Hash, _> = conn.rpc().request("author_submitExtrinsic", rpc_params![xt]).await;
                if submitted.is_err() {
                    refused += 1;
                }
            }
            Ok::<usize, ClientError>(refused)
        }));
    }
    let mut refused = 0;
    for s in submitters {
        refused += s.await??;
    }
    let submit_seconds = started.elapsed().as_secs_f64();
    if refused > 0 {
        tracing::warn!(target: "bench", refused, "the node refused some transfers");
    }

    let mut included = 0usize;
    let mut blocks = 0usize;
    let mut last_inclusion = started.elapsed();
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut seen_blocks = HashSet::new();
    let mut transfer_blocks = Vec::new();
    while included < wanted.len() - refused {
        let Ok(Some(Ok(header))) = tokio::time::timeout_at(deadline, heads.next()).await else { break };
        let hash = header.hash();
        if !seen_blocks.insert(hash) {
            continue;
        }
        let block: serde_json::Value = client.rpc().request("chain_getBlock", rpc_params![hash]).await?;
        let in_block = block["block"]["extrinsics"]
            .as_array()
            .map(|xts| {
                xts.iter()
                    .filter_map(|x| x.as_str().and_then(|s| hex::decode(s.trim_start_matches("0x")).ok()))
                    .filter(|b| wanted.contains(&Hash::from(sp_crypto_hashing::blake2_256(b))))
                    .count()
            })
            .unwrap_or(0);
        if in_block > 0 {
            included += in_block;
            blocks += 1;
            last_inclusion = started.elapsed();
            transfer_blocks.push((header.number, Instant::now()));
        }
    }
    // Finality latency of the blocks that held transfers.
    let highest = transfer_blocks.iter().map(|(n, _)| *n).max().unwrap_or(0);
    while tokio::time::Instant::now() < deadline && !finalized_seen.lock().iter().any(|(n, _)| *n >= highest) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    follower.abort();
    let finalized = finalized_seen.lock().clone();
    let latencies: Vec<f64> = transfer_blocks
        .iter()
        .filter_map(|(number, seen)| {
            let at = finalized.iter().filter(|(n, _)| n >= number).map(|(_, t)| *t).min()?;
            Some(at.saturating_duration_since(*seen).as_secs_f64() * 1000.0)
        })
        .collect();
    let latency_mean = if latencies.is_empty() { 0.0 } else { latencies.iter().sum::<f64>() / latencies.len() as f64 };
    let latency_max = latencies.iter().copied().fold(0.0, f64::max);
    let inclusion_seconds = last_inclusion.as_secs_f64();
    let transfers_per_second = if inclusion_seconds > 0.0 { included as f64 / inclusion_seconds } else { 0.0 };
    let verify = tokio::task::spawn_blocking(|| sr25519_verify_rate(Duration::from_secs(2))).await?;
    Ok(TransferReport {
        submitted: transfers.len(),
        included,
        blocks,
        submit_seconds,
        inclusion_seconds,
        transfers_per_second,
        sr25519_verify_per_second: verify,
        ratio: transfers_per_second / verify,
        slot_ms,
        finality_latency_ms_mean: latency_mean,
        finality_latency_ms_max: latency_max,
        finality_latency_slots_mean: if slot_ms > 0 { latency_mean / slot_ms as f64 } else { 0.0 },
        finalized_blocks: latencies.len(),
    })
}

/// Prints a report.
pub fn print(out: &Output, r: &TransferReport) {
    out.print(
        format!(
            "transfers: {} submitted in {:.2} s, {} included in {} blocks in {:.2} s\n\
             transfers/s included:      {:.1}\n\
             sr25519 verify/s (1 core): {:.0}\n\
             ratio:                     {:.5}\n\
             finality latency:          {:.0} ms mean, {:.0} ms max = {:.2} slots of {} ms ({} blocks)",
            r.submitted,
            r.submit_seconds,
            r.included,
            r.blocks,
            r.inclusion_seconds,
            r.transfers_per_second,
            r.sr25519_verify_per_second,
            r.ratio,
            r.finality_latency_ms_mean,
            r.finality_latency_ms_max,
            r.finality_latency_slots_mean,
            r.slot_ms,
            r.finalized_blocks
        ),
        json!(r),
    );
}
