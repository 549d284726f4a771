//! `cloister-worker bench transfers`: direct trusted transfers per second through the real RPC
//! server and their submit-to-InSidechainBlock latency, with a shard of 10^3 and of 10^6 funded
//! accounts (ARCHITECTURE.md 6.8 and 9: the rate must not fall as the state grows).
//!
//! ```text
//!   per run (one account count):
//!   temp base path ─► SoftwareEnclave + Host + BlockStore (as `run` starts them)
//!   fund: Shield effects, 20k per block (Engine::queue_parentchain + Engine::author, in-process)
//!   serve: direct::serve on 127.0.0.1:0, slot loop (author_block, Connections::flush) as `run`
//!   clients (own runtime): RA-TLS connect pinning MRENCLAVE ─► shielding key, nonces (getters)
//!          ─► pre-signed, HPKE-encrypted transfers ─► author_submitAndWatchExtrinsic, pipelined
//!          ─► statuses until {"inSidechainBlock": hash}
//!   then: sr25519 and ed25519 verifications per second on one core, peak RSS (VmHWM)
//! ```
//!
//! No parentchain node is needed: funds enter the shard the only way they can, as shieldings,
//! but queued straight into the software backend's engine
//! ([`SoftwareEnclave::engine_for_tools`]) instead of arriving through the light client. The
//! RA-TLS evidence is the software backend's dev attestation, which the clients accept here as
//! a dev chain would.
//!
//! Each sender's transfers go over one connection in nonce order, one submission in flight per
//! sender (so the pool sees nonces in order and counts the sender's calls already waiting),
//! while all senders of a connection submit concurrently; a transfer is followed until its
//! block, then unwatched, as `cloister trusted transfer` does.

use crate::{
    direct::{self, Connections},
    host::software_backend,
    service::{now_ms, shard_or_default, Slots},
};
use clap::{Args, Subcommand};
use cloister_client::ShardClient;
use cloister_enclave::{boundary::EnclaveClient, direct::DirectConfig, software::SoftwareEnclave};
use cloister_primitives::{
    baseline::{ed25519_verify_rate, sr25519_verify_rate},
    AccountId, Balance, Hash, Mrenclave, Nonce, ShardId, UNIT,
};
use cloister_stf::{executor::ParentchainEffect, TrustedCall, TrustedOperation};
use codec::Encode;
use jsonrpsee::{core::client::SubscriptionClientT, rpc_params};
use serde_json::Value;
use sp_core::{sr25519, Pair};
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

/// Shieldings per funding block.
const FUND_PER_BLOCK: usize = 20_000;
/// What each sender is funded with.
const SENDER_FUNDS: Balance = 1_000_000 * UNIT;
/// What every other account is funded with.
const ACCOUNT_FUNDS: Balance = UNIT;
/// What each transfer moves.
const TRANSFER_AMOUNT: Balance = 1_000;
/// How long each verification baseline runs.
const BASELINE: Duration = Duration::from_secs(1);
/// A run gives up on the transfers still out after this long without any news.
const STALL: Duration = Duration::from_secs(60);

/// `cloister-worker bench …`.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchCommand {
    /// Direct trusted transfers per second through the RPC server, and submit-to-InSidechainBlock
    /// latency, for each shard size; no parentchain node needed.
    Transfers(TransfersArgs),
    /// Meetup assignment and reward claiming of a private community's ceremony with 10^4 and
    /// 10^5 registered participants in one shard; no parentchain node needed.
    Ceremony(crate::ceremony_bench::CeremonyArgs),
    /// How long a validateer takes to join a shard of 10^4 and 10^5 sidechain blocks, and one
    /// that was down to catch up over them; no parentchain node needed.
    Onboarding(crate::onboarding_bench::OnboardingArgs),
}

/// `cloister-worker bench transfers`.
#[derive(Debug, Clone, Args)]
pub struct TransfersArgs {
    /// Funded accounts in the shard, one run per value.
    #[arg(long, value_delimiter = ',', default_values_t = [1_000u64, 1_000_000])]
    pub accounts: Vec<u64>,
    /// Signing accounts (sr25519, `//bench/{i}`); at most the number of accounts.
    #[arg(long, default_value_t = 200)]
    pub senders: usize,
    /// Transfers per run.
    #[arg(long, default_value_t = 50_000)]
    pub count: usize,
    /// Client connections (RA-TLS WebSockets); senders are spread over them.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Sidechain slot duration in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub slot_ms: u64,
    /// Rounds: each measures every shard size once, in turn.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// Which round (every shard size is measured once per round, in turn).
    pub round: usize,
    /// Funded accounts in the shard.
    pub accounts: u64,
    /// Signing accounts.
    pub senders: usize,
    /// Seconds to fund them (shielding blocks).
    pub setup_seconds: f64,
    /// Transfers submitted.
    pub submitted: usize,
    /// Transfers refused at submission.
    pub refused: usize,
    /// Transfers that ended `invalid` (or whose subscription failed).
    pub invalid: usize,
    /// Transfers seen in a sidechain block.
    pub in_block: usize,
    /// Seconds from the first submission to the last `inSidechainBlock`.
    pub seconds: f64,
    /// `in_block / seconds`.
    pub transfers_per_second: f64,
    /// Median submit-to-InSidechainBlock latency, milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile of that latency, milliseconds.
    pub latency_p99_ms: f64,
    /// Sidechain blocks authored during the run.
    pub blocks: u64,
    /// Mean `author_block` time of the blocks kept, milliseconds.
    pub block_ms_mean: f64,
    /// Slowest `author_block` of the run, milliseconds.
    pub block_ms_max: f64,
    /// Slots where calls waited but no block was kept (building overran the slot).
    pub overran_slots: u64,
    /// sr25519 verifications per second on one core, this run (mean of before and after it).
    pub sr25519_verify_per_second: f64,
    /// ed25519 verifications per second on one core, this run (mean of before and after it).
    pub ed25519_verify_per_second: f64,
    /// `transfers_per_second / sr25519_verify_per_second`.
    pub ratio_sr25519: f64,
    /// `transfers_per_second / ed25519_verify_per_second`.
    pub ratio_ed25519: f64,
    /// Resident memory the shard's funding added to the process (VmRSS after minus before), MiB.
    pub shard_mib: f64,
    /// Peak resident memory of this process after the run (VmHWM, all shards), MiB.
    pub peak_rss_mib: f64,
}

/// Peak resident set of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:")
}

/// Resident set of this process now (VmRSS), MiB.
pub fn rss_mib() -> f64 {
    proc_status_mib("VmRSS:")
}

fn proc_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs `bench transfers`: funds one shard per account count (each in its own enclave, served
/// as `run` serves it), then measures them in turn, round after round, so that a drift of the
/// machine's speed falls on every shard size alike; then the table (or JSON) on stdout.
pub async fn transfers(args: &TransfersArgs) -> anyhow::Result<Vec<RunReport>> {
    anyhow::ensure!(
        args.count > 0 && args.connections > 0 && args.senders > 0 && args.rounds > 0,
        "nothing to measure"
    );
    let mut funded = Vec::new();
    for &accounts in &args.accounts {
        anyhow::ensure!(accounts > 0, "--accounts: a shard needs at least one funded account");
        funded.push(fund(args, accounts).await?);
    }
    let mut reports = Vec::new();
    for round in 1..=args.rounds {
        for shard in &funded {
            let report = measure(args, shard, round).await?;
            tracing::info!(target: "bench", round, accounts = shard.accounts, tps = report.transfers_per_second, "run done");
            reports.push(report);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print_table(args, &reports);
    }
    Ok(reports)
}

/// Counters of the slot loop.
#[derive(Default)]
struct SlotStats {
    blocks: AtomicU64,
    overran: AtomicU64,
    build_us_max: AtomicU64,
    build_us_sum: AtomicU64,
}

impl SlotStats {
    fn reset(&self) {
        for counter in [&self.blocks, &self.overran, &self.build_us_max, &self.build_us_sum] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// The enclave, funded, serving the direct RPC with its slot loop.
struct Server {
    url: String,
    mrenclave: Mrenclave,
    shard: ShardId,
    stats: Arc<SlotStats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The senders' keys: `//bench/{i}`.
fn senders(count: usize) -> anyhow::Result<Vec<sr25519::Pair>> {
    (0..count)
        .map(|i| {
            sr25519::Pair::from_string(&format!("//bench/{i}"), None)
                .map_err(|e| anyhow::anyhow!("sender key {i}: {e:?}"))
        })
        .collect()
}

fn account_of(pair: &sr25519::Pair) -> AccountId {
    AccountId::from(pair.public().0)
}

/// A started, funded enclave: its client, its base path, the shard and the funded accounts.
type Started = (EnclaveClient<Arc<SoftwareEnclave>>, tempfile::TempDir, ShardId, Vec<AccountId>);

/// Starts the enclave as `run` does, over a temporary base path, and funds `accounts` accounts
/// (the senders first) with shieldings. Returns the recipients (every funded account).
fn start_and_fund(accounts: u64, senders: &[sr25519::Pair], slot_ms: u64) -> anyhow::Result<Started> {
    let dir = tempfile::Builder::new().prefix("cloister-bench-").tempdir()?;
    // The bench keeps its own handle on the backend to reach the engine; the client it serves
    // with talks ECALLs only, as `run` does.
    let (backend, _blocks) = software_backend(dir.path())?;
    let backend = Arc::new(backend);
    let enclave = EnclaveClient::new(backend.clone());
    enclave.init()?;
    let mrenclave = enclave.mrenclave()?;
    let shard = shard_or_default(None, &mrenclave).map_err(anyhow::Error::msg)?;
    enclave.init_shard(shard)?;
    let engine =
        backend.engine_for_tools().ok_or_else(|| anyhow::anyhow!("the software enclave has no engine after Init"))?;

    let mut recipients: Vec<AccountId> = senders.iter().map(account_of).collect();
    while (recipients.len() as u64) < accounts {
        recipients.push(AccountId::from(rand::random::<[u8; 32]>()));
    }
    // Each block needs a later slot than its parent, and the serving loop's slots (the wall
    // clock's) must come after these: funding takes slots just before now.
    let blocks = recipients.len().div_ceil(FUND_PER_BLOCK) as u64;
    let first_slot = (now_ms() / slot_ms.max(1)).saturating_sub(blocks + 1);
    for (block, chunk) in recipients.chunks(FUND_PER_BLOCK).enumerate() {
        let head = (block as u32 + 1, Hash::from(sp_crypto_hashing::blake2_256(&(block as u64).encode())));
        let effects = chunk
            .iter()
            .enumerate()
            .map(|(i, who)| {
                let amount = if block == 0 && i < senders.len() { SENDER_FUNDS } else { ACCOUNT_FUNDS };
                (head.0, ParentchainEffect::Shield { beneficiary: who.clone(), amount })
            })
            .collect();
        engine.queue_parentchain(&shard, effects, head, None)?;
        engine
            .author(&shard, first_slot + block as u64, u64::MAX)?
            .ok_or_else(|| anyhow::anyhow!("a funding block was not authored"))?;
    }
    Ok((enclave, dir, shard, recipients))
}

/// Serves the direct RPC on 127.0.0.1 with the slot loop of `run`.
async fn serve(
    enclave: EnclaveClient<Arc<SoftwareEnclave>>,
    dir: tempfile::TempDir,
    shard: ShardId,
    slot_ms: u64,
) -> anyhow::Result<Server> {
    let enclave = Arc::new(enclave);
    let mrenclave = enclave.mrenclave()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    enclave.start_direct_rpc(DirectConfig::default())?;
    let conns = Connections::default();
    let mut tasks = vec![tokio::spawn(direct::serve(listener, enclave.clone(), conns.clone()))];
    let stats = Arc::new(SlotStats::default());
    let slots = Slots::new(slot_ms);
    {
        let (enclave, stats) = (enclave.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                // The slots of `run`.
                tokio::time::sleep(slots.until_next()).await;
                let (slot, deadline) = slots.current();
                let started = Instant::now();
                // Off the runtime's workers, which carry the connections (as `run` does it on
                // its main thread).
                let author = enclave.clone();
                let authored = tokio::task::spawn_blocking(move || author.author_block(shard, slot, deadline)).await;
                let Ok(authored) = authored else { break };
                match authored {
                    Ok(Some(block)) => {
                        stats.blocks.fetch_add(1, Ordering::Relaxed);
                        let took = started.elapsed().as_micros() as u64;
                        stats.build_us_max.fetch_max(took, Ordering::Relaxed);
                        stats.build_us_sum.fetch_add(took, Ordering::Relaxed);
                        tracing::debug!(target: "bench", number = block.number, applied = block.applied, "authored");
                    }
                    Ok(None) => {
                        if enclave.shard_info(shard).is_ok_and(|info| info.pool > 0) {
                            stats.overran.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(error) => tracing::error!(target: "bench", %error, "authoring failed"),
                }
                conns.flush(&enclave);
            }
        }));
    }
    Ok(Server { url: format!("wss://127.0.0.1:{port}"), mrenclave, shard, stats, tasks, _dir: dir })
}

/// What became of one transfer.
enum Fate {
    InBlock(Duration),
    Invalid(String),
    Refused(String),
}

/// Follows a subscription until the transfer is in a block or invalid; dropping it unwatches.
async fn follow(mut sub: jsonrpsee::core::client::Subscription<Value>, submitted: Instant) -> (Fate, Instant) {
    while let Some(Ok(status)) = sub.next().await {
        if status.get("inSidechainBlock").is_some() {
            let at = Instant::now();
            return (Fate::InBlock(at - submitted), at);
        }
        if let Some(reason) = status.get("invalid") {
            return (Fate::Invalid(format!("invalid: {reason}")), Instant::now());
        }
    }
    (Fate::Invalid("the subscription ended before the transfer reached a block".into()), Instant::now())
}

/// Submits a sender's transfers in order over its connection; each is followed on its own task.
async fn submit_all(
    client: Arc<ShardClient>,
    ops: Vec<String>,
    fates: tokio::sync::mpsc::UnboundedSender<(Fate, Instant)>,
) {
    for op in ops {
        let submitted = Instant::now();
        let sub = client
            .rpc()
            .subscribe::<Value, _>(
                "author_submitAndWatchExtrinsic",
                rpc_params![client.shard_hex(), op],
                "author_unwatchExtrinsic",
            )
            .await;
        match sub {
            Ok(sub) => {
                let fates = fates.clone();
                tokio::spawn(async move {
                    let _ = fates.send(follow(sub, submitted).await);
                });
            }
            Err(error) => {
                let _ = fates.send((Fate::Refused(error.to_string()), Instant::now()));
            }
        }
    }
}

/// What the clients saw.
struct Driven {
    refused: usize,
    invalid: usize,
    latencies: Vec<f64>,
    seconds: f64,
}

/// The client side of a run, on its own runtime (as a separate client process would be).
async fn drive(
    url: String,
    mrenclave: Mrenclave,
    shard: ShardId,
    pairs: Vec<sr25519::Pair>,
    recipients: Arc<Vec<AccountId>>,
    args: TransfersArgs,
) -> anyhow::Result<Driven> {
    let mut clients = Vec::new();
    for _ in 0..args.connections {
        // The software backend's dev attestation, accepted as on a dev chain.
        clients.push(Arc::new(ShardClient::connect(&url, mrenclave, Some(shard), true).await?));
    }
    let mut nonces = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        nonces.push(clients[i % clients.len()].nonce(account_of(pair), |p| pair.sign(p).into()).await?);
    }

    // Pre-sign and encrypt every transfer before the clock starts, on both cores.
    let pairs = Arc::new(pairs);
    let per_sender: Vec<usize> =
        (0..pairs.len()).map(|i| args.count / pairs.len() + usize::from(i < args.count % pairs.len())).collect();
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mut jobs = Vec::new();
    for w in 0..workers {
        let (pairs, recipients, per_sender, nonces) =
            (pairs.clone(), recipients.clone(), per_sender.clone(), nonces.clone());
        let client = clients[0].clone();
        jobs.push(tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for s in (w..pairs.len()).step_by(workers) {
                let pair = &pairs[s];
                let mut ops = Vec::with_capacity(per_sender[s]);
                for k in 0..per_sender[s] {
                    let to = recipients[rand::random::<usize>() % recipients.len()].clone();
                    let call = client.sign(
                        TrustedCall::Transfer { from: account_of(pair), to, amount: TRANSFER_AMOUNT },
                        nonces[s] + k as Nonce,
                        |p| pair.sign(p).into(),
                    );
                    ops.push(client.encrypt(&TrustedOperation::Call(call))?);
                }
                out.push((s, ops));
            }
            anyhow::Ok(out)
        }));
    }
    let mut ops: Vec<(usize, Vec<String>)> = Vec::new();
    for job in jobs {
        ops.extend(job.await??);
    }

    let (fates_tx, mut fates_rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for (s, sender_ops) in ops {
        tokio::spawn(submit_all(clients[s % clients.len()].clone(), sender_ops, fates_tx.clone()));
    }
    drop(fates_tx);
    let (mut refused, mut invalid, mut latencies, mut last) = (0, 0, Vec::new(), started);
    let mut failures = std::collections::BTreeMap::<String, usize>::new();
    while let Ok(Some((fate, at))) = tokio::time::timeout(STALL, fates_rx.recv()).await {
        match fate {
            Fate::InBlock(latency) => {
                latencies.push(latency.as_secs_f64() * 1000.0);
                last = last.max(at);
            }
            Fate::Invalid(why) => {
                invalid += 1;
                *failures.entry(why).or_insert(0usize) += 1;
            }
            Fate::Refused(why) => {
                refused += 1;
                *failures.entry(format!("refused: {why}")).or_insert(0usize) += 1;
            }
        }
    }
    // A run that lost transfers says why, so that its figures are not taken at face value.
    for (why, count) in &failures {
        tracing::warn!(target: "bench", count, "{why}");
    }
    Ok(Driven { refused, invalid, latencies, seconds: (last - started).as_secs_f64() })
}

/// A funded shard, served.
struct Funded {
    accounts: u64,
    pairs: Vec<sr25519::Pair>,
    recipients: Arc<Vec<AccountId>>,
    setup_seconds: f64,
    shard_mib: f64,
    server: Server,
}

async fn fund(args: &TransfersArgs, accounts: u64) -> anyhow::Result<Funded> {
    let pairs = senders(args.senders.min(accounts as usize))?;
    let (setup, rss_before) = (Instant::now(), rss_mib());
    let (enclave, dir, shard, recipients) = {
        let pairs = pairs.clone();
        let slot_ms = args.slot_ms;
        tokio::task::spawn_blocking(move || start_and_fund(accounts, &pairs, slot_ms)).await??
    };
    let setup_seconds = setup.elapsed().as_secs_f64();
    let shard_mib = (rss_mib() - rss_before).max(0.0);
    tracing::info!(target: "bench", accounts, setup_seconds, shard_mib, "shard funded");
    let server = serve(enclave, dir, shard, args.slot_ms).await?;
    Ok(Funded { accounts, pairs, recipients: Arc::new(recipients), setup_seconds, shard_mib, server })
}

/// One run of `args.count` transfers against a funded shard.
async fn measure(args: &TransfersArgs, funded: &Funded, round: usize) -> anyhow::Result<RunReport> {
    // The baselines run before and after the transfers, and their mean is taken, so that a
    // drift of the machine's speed during the run weighs on both sides of the ratio alike.
    let (sr_before, ed_before) =
        tokio::task::spawn_blocking(|| (sr25519_verify_rate(BASELINE), ed25519_verify_rate(BASELINE))).await?;
    let server = &funded.server;
    server.stats.reset();
    let client_runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("bench-client").build()?;
    let (url, mrenclave, shard, options) = (server.url.clone(), server.mrenclave, server.shard, args.clone());
    let (pairs, recipients) = (funded.pairs.clone(), funded.recipients.clone());
    let driven = tokio::task::spawn_blocking(move || {
        let driven = client_runtime.block_on(drive(url, mrenclave, shard, pairs, recipients, options));
        client_runtime.shutdown_timeout(Duration::from_secs(5));
        driven
    })
    .await??;
    let blocks = server.stats.blocks.load(Ordering::Relaxed);
    let block_ms_mean = server.stats.build_us_sum.load(Ordering::Relaxed) as f64 / 1000.0 / blocks.max(1) as f64;
    let block_ms_max = server.stats.build_us_max.load(Ordering::Relaxed) as f64 / 1000.0;
    let overran_slots = server.stats.overran.load(Ordering::Relaxed);

    let (sr_after, ed_after) =
        tokio::task::spawn_blocking(|| (sr25519_verify_rate(BASELINE), ed25519_verify_rate(BASELINE))).await?;
    let (sr, ed) = ((sr_before + sr_after) / 2.0, (ed_before + ed_after) / 2.0);
    let mut latencies = driven.latencies;
    latencies.sort_by(f64::total_cmp);
    let in_block = latencies.len();
    let tps = if driven.seconds > 0.0 { in_block as f64 / driven.seconds } else { 0.0 };
    Ok(RunReport {
        round,
        accounts: funded.accounts,
        senders: funded.pairs.len(),
        setup_seconds: funded.setup_seconds,
        submitted: args.count,
        refused: driven.refused,
        invalid: driven.invalid,
        in_block,
        seconds: driven.seconds,
        transfers_per_second: tps,
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
        blocks,
        block_ms_mean,
        block_ms_max,
        overran_slots,
        sr25519_verify_per_second: sr,
        ed25519_verify_per_second: ed,
        ratio_sr25519: tps / sr,
        ratio_ed25519: tps / ed,
        shard_mib: funded.shard_mib,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Prints the figures as a table, one row per run, then each shard size's median rate over the
/// rounds and how the largest compares with the smallest.
pub fn print_table(args: &TransfersArgs, reports: &[RunReport]) {
    println!(
        "direct trusted transfers: {} per run, {} senders, {} connections, {} ms slots, {} rounds",
        args.count,
        reports.iter().map(|r| r.senders).min().unwrap_or(args.senders),
        args.connections,
        args.slot_ms,
        args.rounds
    );
    println!(
        "{:>5} {:>9} {:>8} {:>9} {:>7} {:>7} {:>11} {:>8} {:>8} {:>10} {:>10} {:>8} {:>8} {:>6} {:>8} {:>9} {:>7} {:>9} {:>8}",
        "round",
        "accounts",
        "setup_s",
        "in_block",
        "invalid",
        "refused",
        "transfers/s",
        "p50_ms",
        "p99_ms",
        "sr25519/s",
        "ed25519/s",
        "ratio_sr",
        "ratio_ed",
        "blocks",
        "block_ms",
        "block_max",
        "overran",
        "shard_MiB",
        "peak_MiB"
    );
    for r in reports {
        println!(
            "{:>5} {:>9} {:>8.1} {:>9} {:>7} {:>7} {:>11.1} {:>8.0} {:>8.0} {:>10.0} {:>10.0} {:>8.5} {:>8.5} {:>6} {:>8.0} {:>9.0} {:>7} {:>9.0} {:>8.0}",
            r.round,
            r.accounts,
            r.setup_seconds,
            r.in_block,
            r.invalid,
            r.refused,
            r.transfers_per_second,
            r.latency_p50_ms,
            r.latency_p99_ms,
            r.sr25519_verify_per_second,
            r.ed25519_verify_per_second,
            r.ratio_sr25519,
            r.ratio_ed25519,
            r.blocks,
            r.block_ms_mean,
            r.block_ms_max,
            r.overran_slots,
            r.shard_mib,
            r.peak_rss_mib
        );
    }
    let medians = |accounts: u64| {
        let of = |f: fn(&RunReport) -> f64| {
            let mut values: Vec<f64> = reports.iter().filter(|r| r.accounts == accounts).map(f).collect();
            values.sort_by(f64::total_cmp);
            values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
        };
        (of(|r| r.transfers_per_second), of(|r| r.ratio_sr25519), of(|r| r.latency_p50_ms), of(|r| r.latency_p99_ms))
    };
    for &accounts in &args.accounts {
        let (tps, ratio, p50, p99) = medians(accounts);
        println!(
            "median over the rounds at {accounts} accounts: {tps:.1} transfers/s (ratio to sr25519 {ratio:.5}), p50 {p50:.0} ms, p99 {p99:.0} ms"
        );
    }
    if let (Some(&first), Some(&last)) = (args.accounts.first(), args.accounts.last()) {
        let ((first_tps, first_ratio, ..), (last_tps, last_ratio, ..)) = (medians(first), medians(last));
        if args.accounts.len() > 1 && first_tps > 0.0 && first_ratio > 0.0 {
            println!(
                "rate at {last} vs {first} accounts (medians): {:.2} as measured, {:.2} normalised by the sr25519 baseline",
                last_tps / first_tps,
                last_ratio / first_ratio
            );
        }
    }
}
