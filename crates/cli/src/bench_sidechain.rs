//! `cloister bench sidechain`: trusted transfers per second a shard includes, with one
//! validateer and with several, through the real binaries.
//!
//! ```text
//!   per validateer count n (a fresh dev network each: node in process, n `cloister-worker`s):
//!   wait: the n joins of the shard finalized on the parentchain, every validateer provisioned
//!   fund: //Alice shields funds for each sender (`//bench//{i}`, beneficiary HPKE-encrypted to
//!         the shielding key), one batch of consecutive nonces; getters until each sender's
//!         validateer shows the funds, and the sender's shard nonce
//!   sign: every transfer pre-signed (consecutive nonces per sender, recipients among the
//!         senders) and encrypted to the shard before the clock starts
//!   run:  sender i ─► validateer i mod n, over RA-TLS; each sender's calls in nonce order, one
//!         submission in flight per sender, every `author_submitAndWatchExtrinsic` kept open
//!         until {"inSidechainBlock": hash} or {"invalid": reason}
//!   then: `sidechain_head` on every untrusted port until the heads agree (or a timeout)
//! ```
//!
//! The figure is the transfers seen in a block divided by the seconds from the first submission
//! to the last `inSidechainBlock`. Validateers forward the calls they receive to each other and
//! take turns authoring (300 ms slots, slot s authored by validateer s mod n), so with n > 1 a
//! call usually waits for another validateer's block and comes back to its own validateer as an
//! imported block. Nothing here asserts a figure; a run that lost or refused transfers says so.

use crate::{
    chain::{map_key, value_key},
    dev::{DevNetwork, DevOptions},
    output::Output,
    rpc_client::NodeClient,
    signer::Signer,
};
use anyhow::{anyhow, ensure, Context};
use cloister_client::ShardClient;
use cloister_enclave::engine::{operation_info, shield_info};
use cloister_primitives::{AccountId, Balance, Mrenclave, Nonce, ShardId, UNIT};
use cloister_runtime::RuntimeCall;
use cloister_stf::{TrustedCall, TrustedGetter, TrustedOperation};
use codec::{Decode, Encode};
use jsonrpsee::{
    core::client::{ClientT, Subscription, SubscriptionClientT},
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

/// What //Alice shields for each sender.
const SENDER_FUNDS: Balance = UNIT;
/// What each transfer moves.
const TRANSFER_AMOUNT: Balance = 1_000;
/// RA-TLS connections to each validateer; its senders are spread over them.
const CONNECTIONS_PER_VALIDATEER: usize = 2;
/// How long the joins, the provisioning and the shieldings may take to show.
const SETUP_TIMEOUT: Duration = Duration::from_secs(180);
/// A run stops waiting for the transfers still out after this long without news of any.
const STALL: Duration = Duration::from_secs(60);
/// How long the validateers may take to agree on the head once the transfers are in.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A validateer that does not tell its head within this long counts as not answering.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How often heads and balances are polled.
const POLL: Duration = Duration::from_millis(200);

/// Options of the benchmark.
#[derive(Debug, Clone)]
pub struct SidechainBench {
    /// Validateer counts to measure, one fresh dev network each.
    pub validateers: Vec<usize>,
    /// Transfers per run.
    pub count: usize,
    /// Sending accounts per run.
    pub senders: usize,
}

/// A validateer's head of the shard, as `sidechain_head` tells it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// The head block's number.
    pub number: u64,
    /// The head block's hash.
    pub hash: String,
    /// The state root after it.
    #[serde(rename = "stateRoot")]
    pub state_root: String,
    /// Calls waiting in its pool.
    pub pool: u64,
    /// Whether it holds the shard's keys.
    pub provisioned: bool,
}

impl Head {
    /// The same block with the same state.
    fn agrees_with(&self, other: &Head) -> bool {
        self.hash == other.hash && self.state_root == other.state_root
    }
}

/// What one run (one validateer count) measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    /// Validateers of the shard.
    pub validateers: usize,
    /// Sending accounts.
    pub senders: usize,
    /// Transfers submitted.
    pub transfers: usize,
    /// Transfers seen in a sidechain block.
    pub included: usize,
    /// Transfers that ended `invalid` (or whose subscription ended without a block).
    pub invalid: usize,
    /// Transfers refused at submission.
    pub refused: usize,
    /// Transfers of which nothing was heard within the stall timeout.
    pub missing: usize,
    /// Why transfers were invalid or refused, with how many each.
    pub failures: BTreeMap<String, usize>,
    /// Seconds from the first submission to the last `inSidechainBlock`.
    pub seconds: f64,
    /// `included / seconds`.
    pub transfers_per_second: f64,
    /// Median submit-to-`inSidechainBlock` latency, milliseconds.
    pub latency_p50_ms: f64,
    /// 99th percentile of that latency, milliseconds.
    pub latency_p99_ms: f64,
    /// The shard's height when the first transfer was submitted.
    pub height_before: u64,
    /// The shard's height at the end (the highest head a validateer told).
    pub sidechain_height: u64,
    /// With several validateers: whether all ended with the same head and state root.
    pub heads_agree: Option<bool>,
    /// Each validateer's head at the end, validateer 0 first (`None`: it did not tell).
    pub heads: Vec<Option<Head>>,
    /// Seconds to start the network, fund the senders and sign the transfers.
    pub setup_seconds: f64,
    /// Where the validateers' logs were kept, if the run was not clean.
    pub logs: Option<String>,
}

impl RunReport {
    /// Every transfer in a block, every validateer answered, and they agree.
    pub fn is_clean(&self) -> bool {
        self.included == self.transfers && self.heads_agree != Some(false) && self.heads.iter().all(Option::is_some)
    }
}

/// What the benchmark measured, one run per validateer count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SidechainReport {
    /// Transfers per run.
    pub count: usize,
    /// Sending accounts per run.
    pub senders: usize,
    /// The runs, in the order of `--validateers`.
    pub runs: Vec<RunReport>,
}

/// Runs the benchmark: one fresh dev network per validateer count, one after the other.
pub async fn run(options: &SidechainBench) -> anyhow::Result<SidechainReport> {
    ensure!(options.senders >= 2, "the senders send to each other: at least 2 senders");
    ensure!(options.count >= 1, "at least 1 transfer");
    ensure!(!options.validateers.is_empty(), "at least one validateer count");
    ensure!(options.validateers.iter().all(|n| *n >= 1), "every validateer count must be at least 1");
    let mut runs = Vec::with_capacity(options.validateers.len());
    for &n in &options.validateers {
        tracing::info!(target: "bench", validateers = n, "starting a dev network");
        runs.push(run_one(n, options).await?);
    }
    Ok(SidechainReport { count: options.count, senders: options.senders, runs })
}

/// One run on a fresh network of `n` validateers; the network stops afterwards, its files kept
/// if the run failed.
async fn run_one(n: usize, options: &SidechainBench) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let dev = DevOptions { phase_durations_ms: None, ..DevOptions::on_free_ports(n)? };
    let mut network =
        DevNetwork::start(&dev).await.with_context(|| format!("starting a dev network of {n} validateer(s)"))?;
    let mut result = measure(&network, options, started).await;
    let clean = result.as_ref().is_ok_and(RunReport::is_clean);
    if !clean {
        network.keep_files();
        // A validateer that stopped answering may never act on SIGTERM, and stopping waits for
        // it: those are killed.
        for (i, worker) in network.workers.iter_mut().enumerate() {
            let answered = matches!(&result, Ok(r) if r.heads.get(i).is_some_and(Option::is_some));
            if !answered {
                tracing::warn!(target: "bench", validateer = i, "no answer at the end: killing it");
                worker.kill();
            }
        }
    }
    let logs: Vec<String> = network.workers.iter().map(|w| w.log.display().to_string()).collect();
    if let (false, Ok(report)) = (clean, &mut result) {
        report.logs = Some(network.base.display().to_string());
    }
    network.stop().await;
    result.with_context(|| format!("{n} validateer(s); their logs are kept: {}", logs.join(", ")))
}

/// A validateer as the benchmark talks to it.
struct Validateer {
    /// Attested connections to its enclave.
    clients: Vec<Arc<ShardClient>>,
    /// Its untrusted port, where it tells its head.
    peer: WsClient,
}

async fn measure(network: &DevNetwork, options: &SidechainBench, started: Instant) -> anyhow::Result<RunReport> {
    let n = network.workers.len();
    let first = network.worker().ok_or_else(|| anyhow!("the dev network has no validateer"))?;
    let mrenclave: Mrenclave = first.mrenclave.parse().map_err(anyhow::Error::msg)?;
    let shard = ShardId::from(mrenclave.0);
    let shard_hex = format!("0x{}", hex::encode(shard));
    let node = NodeClient::connect(&network.node_url).await?;

    wait_joined(&node, shard, n).await?;
    let mut peers = Vec::with_capacity(n);
    for w in &network.workers {
        let peer = WsClientBuilder::default()
            .build(w.untrusted_url())
            .await
            .with_context(|| format!("connecting to validateer {}'s untrusted port {}", w.index, w.untrusted_url()))?;
        peers.push(peer);
    }
    wait_for("every validateer to hold the shard's keys", SETUP_TIMEOUT, || async {
        let heads = heads(&peers, &shard_hex).await;
        heads.iter().all(|h| h.as_ref().is_some_and(|h| h.provisioned)).then_some(())
    })
    .await?;

    let allow_dev: bool = node
        .storage_or_default(
            "EnclaveRegistry.AllowDevAttestation",
            &value_key("EnclaveRegistry", "AllowDevAttestation"),
            None,
        )
        .await?;
    let mut validateers = Vec::with_capacity(n);
    for (w, peer) in network.workers.iter().zip(peers) {
        let mut clients = Vec::with_capacity(CONNECTIONS_PER_VALIDATEER);
        for _ in 0..CONNECTIONS_PER_VALIDATEER {
            let client = ShardClient::connect(&w.url, mrenclave, Some(shard), allow_dev)
                .await
                .with_context(|| format!("connecting to validateer {} at {}", w.index, w.url))?;
            clients.push(Arc::new(client));
        }
        validateers.push(Validateer { clients, peer });
    }

    let senders =
        (0..options.senders).map(|i| Signer::from_suri(&format!("//bench//{i}"))).collect::<Result<Vec<_>, _>>()?;
    fund(&node, &validateers[0].clients[0], shard, &senders).await?;
    let nonces = credited(&validateers, &senders).await?;
    let ops = presign(&validateers, &senders, &nonces, options.count).await?;
    let peers: Vec<&WsClient> = validateers.iter().map(|v| &v.peer).collect();
    let (_, before) = settle(&peers, &shard_hex).await;
    let height_before = before.first().cloned().flatten().map(|h| h.number).unwrap_or(0);
    let setup_seconds = started.elapsed().as_secs_f64();
    tracing::info!(target: "bench", validateers = n, transfers = options.count, setup_seconds, "submitting");

    let driven = drive(&validateers, &shard_hex, ops).await;
    let (agree, heads) = settle(&peers, &shard_hex).await;
    let included = driven.latencies.len();
    let seconds = driven.seconds;
    Ok(RunReport {
        validateers: n,
        senders: options.senders,
        transfers: options.count,
        included,
        invalid: driven.invalid,
        refused: driven.refused,
        missing: options.count.saturating_sub(included + driven.invalid + driven.refused),
        failures: driven.failures,
        seconds,
        transfers_per_second: if seconds > 0.0 { included as f64 / seconds } else { 0.0 },
        latency_p50_ms: percentile(&driven.latencies, 0.50),
        latency_p99_ms: percentile(&driven.latencies, 0.99),
        height_before,
        sidechain_height: heads.iter().flatten().map(|h| h.number).max().unwrap_or(0),
        heads_agree: (n > 1).then_some(agree),
        heads,
        setup_seconds,
        logs: None,
    })
}

/// Polls `check` every [`POLL`] until it gives a value or `timeout` passes.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        ensure!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the finalized parentchain has `n` validateers of `shard`: "validateer ready"
/// comes before its join is final, and a shielding into a shard nobody joined yet fails.
async fn wait_joined(node: &NodeClient, shard: ShardId, n: usize) -> anyhow::Result<()> {
    let key = map_key("EnclaveRegistry", "ShardValidateers", &shard);
    wait_for(&format!("the joins of {n} validateer(s), finalized"), SETUP_TIMEOUT, || async {
        let at = node.finalized_hash().await.ok()?;
        let joined: Vec<AccountId> = node.storage_or_default("ShardValidateers", &key, Some(at)).await.ok()?;
        (joined.len() >= n).then_some(())
    })
    .await
}

/// //Alice shields [`SENDER_FUNDS`] for every sender in one batch of consecutive nonces;
/// returns once the extrinsics are in parentchain blocks.
async fn fund(node: &NodeClient, client: &ShardClient, shard: ShardId, senders: &[Signer]) -> anyhow::Result<()> {
    let alice = Signer::from_suri("//Alice")?;
    let mut nonce = node.next_nonce(&alice.account()).await?;
    let best = node.best_header().await?;
    let mut xts = Vec::with_capacity(senders.len());
    for who in senders {
        let encrypted_beneficiary =
            cloister_enclave::keys::shield(client.shielding_key(), &shield_info(&shard), &who.account().encode())
                .map_err(|e| anyhow!("encrypting a beneficiary: {e}"))?;
        let call = RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::shield_funds {
            shard,
            encrypted_beneficiary,
            amount: SENDER_FUNDS,
        });
        xts.push(node.sign(&alice, call, nonce, (best.number, best.hash())));
        nonce += 1;
    }
    futures::future::try_join_all(xts.iter().map(|xt| node.submit_and_wait(xt, false)))
        .await
        .context("shielding funds for the senders")?;
    Ok(())
}

/// Sender `i` submits to validateer `i mod n`, over one of its connections.
fn client_of(validateers: &[Validateer], i: usize) -> &Arc<ShardClient> {
    let v = &validateers[i % validateers.len()];
    &v.clients[(i / validateers.len()) % v.clients.len()]
}

/// Waits until each sender's validateer shows its funds; returns each sender's shard nonce there.
async fn credited(validateers: &[Validateer], senders: &[Signer]) -> anyhow::Result<Vec<Nonce>> {
    let mut nonces = Vec::with_capacity(senders.len());
    for (i, who) in senders.iter().enumerate() {
        let client = client_of(validateers, i);
        wait_for(
            &format!("validateer {} to credit sender {i}'s shielding", i % validateers.len()),
            SETUP_TIMEOUT,
            || async {
                let bytes = client.get(TrustedGetter::Balance(who.account()), |p| who.sign(p)).await.ok()?;
                Balance::decode(&mut &bytes[..]).ok().filter(|b| *b >= SENDER_FUNDS)
            },
        )
        .await?;
        nonces.push(client.nonce(who.account(), |p| who.sign(p)).await?);
    }
    Ok(nonces)
}

/// Every sender's transfers, signed with consecutive nonces from its shard nonce and encrypted
/// for its validateer, in nonce order: `(sender, ciphertexts)`. Signed on every core.
async fn presign(
    validateers: &[Validateer],
    senders: &[Signer],
    nonces: &[Nonce],
    count: usize,
) -> anyhow::Result<Vec<(usize, Vec<String>)>> {
    let n = senders.len();
    let accounts: Arc<Vec<AccountId>> = Arc::new(senders.iter().map(Signer::account).collect());
    let keys: Vec<[u8; 32]> = (0..n).map(|i| *client_of(validateers, i).shielding_key()).collect();
    let client = &validateers[0].clients[0];
    let (mrenclave, shard) = (client.mrenclave(), client.shard());
    let cores = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
    let mut jobs = Vec::with_capacity(cores);
    for core in 0..cores {
        let mine: Vec<(usize, Signer, Nonce, [u8; 32])> =
            (core..n).step_by(cores).map(|i| (i, senders[i].clone(), nonces[i], keys[i])).collect();
        let accounts = accounts.clone();
        jobs.push(tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(mine.len());
            for (i, signer, first, key) in mine {
                let calls = count / n + usize::from(i < count % n);
                let mut ops = Vec::with_capacity(calls);
                for k in 0..calls {
                    // Never to itself: the other senders in turn.
                    let to = accounts[(i + 1 + k % (n - 1)) % n].clone();
                    let call = TrustedCall::Transfer { from: signer.account(), to, amount: TRANSFER_AMOUNT };
                    let signed = call.sign(first + k as Nonce, &mrenclave, &shard, |p| signer.sign(p));
                    let op = TrustedOperation::Call(signed).encode();
                    let ciphertext = cloister_enclave::keys::shield(&key, &operation_info(&shard), &op)
                        .map_err(|e| anyhow!("encrypting a transfer: {e}"))?;
                    ops.push(format!("0x{}", hex::encode(ciphertext)));
                }
                out.push((i, ops));
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for job in jobs {
        all.extend(job.await??);
    }
    Ok(all)
}

/// What became of one transfer.
enum Fate {
    InBlock(Duration),
    Invalid(String),
    Refused(String),
}

/// Follows a subscription until the transfer is in a block or invalid; dropping it unwatches.
async fn follow(mut sub: Subscription<Value>, submitted: Instant) -> (Fate, Instant) {
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

/// Submits a sender's transfers in nonce order over its connection, each once the previous one
/// was accepted (so its validateer sees them in order); each is followed on its own task.
async fn submit_all(
    client: Arc<ShardClient>,
    shard_hex: String,
    ops: Vec<String>,
    fates: tokio::sync::mpsc::UnboundedSender<(Fate, Instant)>,
) {
    for op in ops {
        let submitted = Instant::now();
        let sub = client
            .rpc()
            .subscribe::<Value, _>(
                "author_submitAndWatchExtrinsic",
                rpc_params![shard_hex.clone(), op],
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
                let _ = fates.send((Fate::Refused(cloister_client::rpc_message(&error)), Instant::now()));
            }
        }
    }
}

/// What the clients saw.
struct Driven {
    refused: usize,
    invalid: usize,
    failures: BTreeMap<String, usize>,
    latencies: Vec<f64>,
    seconds: f64,
}

/// Submits every sender's transfers at once and collects their fates, until all are known or
/// nothing was heard for [`STALL`].
async fn drive(validateers: &[Validateer], shard_hex: &str, ops: Vec<(usize, Vec<String>)>) -> Driven {
    let expected: usize = ops.iter().map(|(_, o)| o.len()).sum();
    let (fates_tx, mut fates_rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for (i, sender_ops) in ops {
        tokio::spawn(submit_all(
            client_of(validateers, i).clone(),
            shard_hex.to_string(),
            sender_ops,
            fates_tx.clone(),
        ));
    }
    drop(fates_tx);
    let mut driven = Driven { refused: 0, invalid: 0, failures: BTreeMap::new(), latencies: Vec::new(), seconds: 0.0 };
    let mut last = started;
    let mut heard = 0;
    while heard < expected {
        let Ok(Some((fate, at))) = tokio::time::timeout(STALL, fates_rx.recv()).await else { break };
        heard += 1;
        match fate {
            Fate::InBlock(latency) => {
                driven.latencies.push(latency.as_secs_f64() * 1000.0);
                last = last.max(at);
            }
            Fate::Invalid(why) => {
                driven.invalid += 1;
                *driven.failures.entry(why).or_default() += 1;
            }
            Fate::Refused(why) => {
                driven.refused += 1;
                *driven.failures.entry(format!("refused: {why}")).or_default() += 1;
            }
        }
    }
    for (why, count) in &driven.failures {
        tracing::warn!(target: "bench", count, "{why}");
    }
    driven.seconds = (last - started).as_secs_f64();
    driven
}

/// Each validateer's head of the shard, `None` where it did not tell.
async fn heads(peers: &[impl std::borrow::Borrow<WsClient>], shard_hex: &str) -> Vec<Option<Head>> {
    let mut heads = Vec::with_capacity(peers.len());
    for peer in peers {
        let head = tokio::time::timeout(
            HEAD_TIMEOUT,
            peer.borrow().request::<Head, _>("sidechain_head", rpc_params![shard_hex]),
        )
        .await;
        heads.push(head.ok().and_then(Result::ok));
    }
    heads
}

/// Waits until all validateers tell the same head and state root with empty pools (at most
/// [`SETTLE_TIMEOUT`]); whether they did, and the heads last seen.
async fn settle(peers: &[&WsClient], shard_hex: &str) -> (bool, Vec<Option<Head>>) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let heads = heads(peers, shard_hex).await;
        let agree = match heads.split_first() {
            Some((Some(first), rest)) => {
                first.pool == 0 && rest.iter().all(|h| h.as_ref().is_some_and(|h| h.pool == 0 && h.agrees_with(first)))
            }
            _ => false,
        };
        if agree || Instant::now() > deadline {
            return (agree, heads);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The `q` quantile of `values` (nearest rank); 0 without values.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One run in a line or two of text.
fn describe(r: &RunReport) -> String {
    let who = if r.validateers == 1 { "1 validateer: ".to_string() } else { format!("{} validateers:", r.validateers) };
    let mut text = format!(
        "  {who} {} of {} transfers included in {:.2} s = {:.1} transfers/s \
         (latency p50 {:.0} ms, p99 {:.0} ms), {} invalid, {} refused, sidechain #{} -> #{}",
        r.included,
        r.transfers,
        r.seconds,
        r.transfers_per_second,
        r.latency_p50_ms,
        r.latency_p99_ms,
        r.invalid,
        r.refused,
        r.height_before,
        r.sidechain_height,
    );
    if r.missing > 0 {
        text.push_str(&format!(", {} never heard of", r.missing));
    }
    match r.heads_agree {
        Some(true) => text.push_str(", heads agree"),
        Some(false) => {
            text.push_str(", heads do NOT agree:");
            for (i, head) in r.heads.iter().enumerate() {
                match head {
                    Some(h) => text.push_str(&format!(
                        "\n    validateer {i}: #{} {} (state root {}, {} in its pool)",
                        h.number, h.hash, h.state_root, h.pool
                    )),
                    None => text.push_str(&format!("\n    validateer {i}: no answer")),
                }
            }
        }
        None => {}
    }
    for (why, count) in &r.failures {
        text.push_str(&format!("\n    {count} x {why}"));
    }
    if let Some(logs) = &r.logs {
        text.push_str(&format!("\n    the validateers' logs are kept in {logs}"));
    }
    text
}

/// Prints a report: text, or one JSON object with `--json`.
pub fn print(out: &Output, report: &SidechainReport) {
    let mut text = format!(
        "sidechain transfers, {} per run from {} senders (setup excluded; 300 ms slots):",
        report.count, report.senders
    );
    for run in &report.runs {
        text.push('\n');
        text.push_str(&describe(run));
    }
    out.print(text, json!(report));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
