//! Faults of a real validateer: crashes in the middle of a stream of trusted calls, tampered
//! sealed files and block store, a rolled-back base path, and the privacy invariant
//! (ARCHITECTURE.md section 2) checked against everything outside the enclave.
//!
//! Each test runs one `cloister-node --dev` and one `cloister-worker run --dev` (restarted on
//! the same base path as often as the test needs) and talks to the enclave as clients do: over
//! RA-TLS with HPKE-encrypted trusted operations. The privacy test's node runs the dev chain
//! with week-long ceremony phases, so that its private community's ceremonies move only with
//! its own `next-phase` calls.

use crate::ceremony::{Commands, WEEK_MS};
use anyhow::{anyhow, ensure, Context, Result};
use cloister_cli::{
    chain::{map_key, value_key},
    rpc_client::NodeClient,
    signer::Signer,
    trusted::TrustedClient,
};
use cloister_enclave::engine::{operation_info, shield_info};
use cloister_primitives::{
    sidechain::SignedSidechainBlock, AccountId, Balance, BlockNumber, Mrenclave, Nonce, ShardId, UNIT,
};
use cloister_runtime::RuntimeCall;
use cloister_stf::{TrustedCall, TrustedOperation};
use cloister_testkit::{wait_for, worker::WorkerProcess, NodeProcess};
use codec::{Decode, Encode};
use encointer_primitives::{
    communities::{Degree, Location},
    scheduler::CeremonyPhaseType,
};
use jsonrpsee::{
    core::client::{ClientT, SubscriptionClientT},
    rpc_params,
    ws_client::WsClient,
};
use pallet_cloister_sidechain::SidechainBlockConfirmation;
use serde_json::Value;
use sp_core::crypto::Ss58Codec;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

pub(crate) const MINUTE: Duration = Duration::from_secs(60);

/// The end of a long log, for assertion messages.
pub(crate) fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(20_000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A log without its ANSI colour sequences (`ESC [ … m`).
pub(crate) fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = rest.find('m').map(|end| &rest[end + 1..]).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// A dev node, its validateer, and a client of the node.
struct Net {
    node: NodeProcess,
    worker: WorkerProcess,
    mrenclave: Mrenclave,
    chain: NodeClient,
}

impl Net {
    async fn start() -> Result<Self> {
        Self::start_with(Vec::new()).await
    }

    /// With extra flags for the worker.
    async fn start_with(worker_flags: Vec<String>) -> Result<Self> {
        Self::start_on(NodeProcess::dev().await?, worker_flags).await
    }

    /// A validateer, with extra flags, of a node the caller started as it needs it.
    async fn start_on(node: NodeProcess, worker_flags: Vec<String>) -> Result<Self> {
        let worker = WorkerProcess::start_with(&node.url(), worker_flags).await?;
        let mrenclave = WorkerProcess::mrenclave()?.parse().map_err(anyhow::Error::msg)?;
        let chain = NodeClient::connect(&node.url()).await?;
        let net = Self { node, worker, mrenclave, chain };
        // "validateer ready" comes before the registration and the join of the shard are on the
        // parentchain; until they are final, a shielding fails with `Sidechain(UnknownShard)`.
        let key = map_key("EnclaveRegistry", "ShardValidateers", &net.shard());
        wait_for("the validateer's join of its shard, finalized", 2 * MINUTE, || async {
            let at = net.chain.finalized_hash().await.ok()?;
            let joined: Vec<AccountId> = net.chain.storage_or_default("ShardValidateers", &key, Some(at)).await.ok()?;
            (!joined.is_empty()).then_some(())
        })
        .await
        .with_context(|| format!("worker log:\n{}", net.log()))?;
        Ok(net)
    }

    fn shard(&self) -> ShardId {
        ShardId::from(self.mrenclave.0)
    }

    fn log(&self) -> String {
        tail(&without_colours(&self.worker.log_text())).to_string()
    }

    async fn trusted(&self) -> Result<TrustedClient> {
        TrustedClient::connect(&self.chain, &self.worker.url(), self.mrenclave, None)
            .await
            .map_err(|e| anyhow!("connecting to the enclave: {e}\nworker log:\n{}", self.log()))
    }

    /// A metric of the worker.
    fn metric(&self, name: &str) -> Option<f64> {
        let text = self.worker.metrics().ok()?;
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// The sidechain block the parentchain anchors for the shard.
    /// The anchor in the last finalized parentchain block: the one a restarted enclave checks
    /// its state against before it serves (a best block's may not be final yet).
    async fn anchored(&self) -> Result<Option<SidechainBlockConfirmation<BlockNumber>>> {
        let key = map_key("Sidechain", "LatestSidechainBlock", &self.shard());
        let finalized = self.chain.finalized_hash().await?;
        Ok(self.chain.storage("Sidechain.LatestSidechainBlock", &key, Some(finalized)).await?)
    }

    /// Waits until the finalized parentchain anchors sidechain block `number` or a later one.
    async fn wait_anchored(&self, number: u64) -> Result<u64> {
        wait_for(&format!("the anchor of sidechain block {number}"), 2 * MINUTE, || async {
            self.anchored().await.ok().flatten().map(|a| a.block_number).filter(|n| *n >= number)
        })
        .await
        .with_context(|| format!("worker log:\n{}", self.log()))
    }

    /// //Alice shields `amount` for fresh accounts and waits until the shard credits them.
    async fn shield(&self, grants: &[(&Signer, Balance)]) -> Result<()> {
        self.submit_shieldings(grants).await?;
        let trusted = self.trusted().await?;
        for (who, amount) in grants {
            wait_for("the shard to credit a shielding", 2 * MINUTE, || async {
                trusted.balance(who).await.ok().filter(|b| b >= amount)
            })
            .await
            .with_context(|| format!("worker log:\n{}", self.log()))?;
        }
        Ok(())
    }

    /// //Alice shields `amount` for each beneficiary (encrypted, as the CLI does); returns when
    /// the extrinsics are in a parentchain block.
    async fn submit_shieldings(&self, grants: &[(&Signer, Balance)]) -> Result<()> {
        let direct = Direct::connect(&self.worker.url(), self.mrenclave).await?;
        let alice = Signer::from_suri("//Alice")?;
        let mut nonce = self.chain.next_nonce(&alice.account()).await?;
        let best = self.chain.best_header().await?;
        let mut xts = Vec::new();
        for (who, amount) in grants {
            let encrypted =
                cloister_enclave::keys::shield(&direct.key, &shield_info(&self.shard()), &who.account().encode())?;
            let call = RuntimeCall::Sidechain(pallet_cloister_sidechain::Call::shield_funds {
                shard: self.shard(),
                encrypted_beneficiary: encrypted,
                amount: *amount,
            });
            xts.push(self.chain.sign(&alice, call, nonce, (best.number, best.hash())));
            nonce += 1;
        }
        futures::future::try_join_all(xts.iter().map(|xt| self.chain.submit_and_wait(xt, false))).await?;
        Ok(())
    }

    /// Balance and nonce of each account in the shard.
    async fn state_of(&self, accounts: &[&Signer]) -> Result<Vec<(Balance, Nonce)>> {
        let trusted = self.trusted().await?;
        let mut out = Vec::new();
        for who in accounts {
            out.push((trusted.balance(who).await?, trusted.nonce(who).await?));
        }
        Ok(out)
    }

    /// A direct transfer, followed until it is in a sidechain block.
    async fn transfer(&self, from: &Signer, to: &Signer, amount: Balance) -> Result<()> {
        let call = TrustedCall::Transfer { from: from.account(), to: to.account(), amount };
        self.trusted()
            .await?
            .call(from, call, false)
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("transfer of {amount} refused: {e}\nworker log:\n{}", self.log()))
    }
}

/// A direct-invocation connection that signs with the nonces the caller chooses, so a stream of
/// calls needs no getter per call.
pub(crate) struct Direct {
    rpc: WsClient,
    mrenclave: Mrenclave,
    shard: ShardId,
    pub(crate) key: [u8; 32],
}

/// What became of a call as its client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The enclave acknowledged it (`ready` or `inSidechainBlock`): it must be applied once.
    Acked,
    /// The enclave refused it: it must not be applied.
    Refused(String),
    /// No answer (the worker died): it may be applied, at most once.
    Unknown(String),
    /// Unknown, and the shard's nonce shows it was not applied.
    Dropped,
}

impl Direct {
    pub(crate) async fn connect(url: &str, mrenclave: Mrenclave) -> Result<Self> {
        let verify = cloister_enclave::attest::evidence_verifier(true);
        let rpc = cloister_ratls::connect(url, mrenclave.0, verify).await?;
        let key: String = rpc.request("author_getShieldingKey", rpc_params![]).await?;
        let key = cloister_primitives::parse_hex32(&key).context("a malformed shielding key")?;
        Ok(Self { rpc, mrenclave, shard: ShardId::from(mrenclave.0), key })
    }

    /// Submits `call` signed with `nonce` and waits for its acknowledgement.
    pub(crate) async fn submit(&self, signer: &Signer, call: TrustedCall, nonce: Nonce) -> Fate {
        let signed = call.sign(nonce, &self.mrenclave, &self.shard, |p| signer.sign(p));
        let op = TrustedOperation::Call(signed).encode();
        let ciphertext = match cloister_enclave::keys::shield(&self.key, &operation_info(&self.shard), &op) {
            Ok(c) => c,
            Err(e) => return Fate::Refused(format!("cannot encrypt: {e}")),
        };
        let params = rpc_params![format!("{:?}", self.shard), format!("0x{}", hex::encode(ciphertext))];
        let subscribed =
            self.rpc.subscribe::<Value, _>("author_submitAndWatchExtrinsic", params, "author_unwatchExtrinsic").await;
        let mut sub = match subscribed {
            Ok(sub) => sub,
            Err(jsonrpsee::core::client::Error::Call(e)) => return Fate::Refused(e.message().to_string()),
            Err(e) => return Fate::Unknown(e.to_string()),
        };
        loop {
            match tokio::time::timeout(Duration::from_secs(30), sub.next()).await {
                Ok(Some(Ok(status))) if status == "ready" || status.get("inSidechainBlock").is_some() => {
                    return Fate::Acked
                }
                Ok(Some(Ok(status))) if status.get("invalid").is_some() => return Fate::Refused(status.to_string()),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => return Fate::Unknown(e.to_string()),
                Ok(None) => return Fate::Unknown("the subscription ended".into()),
                Err(_) => return Fate::Unknown("no status within 30 s".into()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Crash safety
// ---------------------------------------------------------------------------------------------

/// Accounts that stream transfers among themselves; one more account probes after restarts.
const STREAMERS: usize = 4;
const PROBE: usize = STREAMERS;
const FUNDS: Balance = 10 * UNIT;

#[derive(Clone, Debug)]
struct Sent {
    from: usize,
    to: usize,
    amount: Balance,
    nonce: Nonce,
    fate: Fate,
}

/// Every call the test sent, and what the shard must therefore hold.
struct Ledger {
    accounts: Vec<Signer>,
    sent: Vec<Sent>,
    /// Each account's shard nonce at the last check.
    nonces: Vec<Nonce>,
    /// What was shielded for each account.
    shielded: Vec<Balance>,
}

impl Ledger {
    /// Streams transfers among the streamers (each sender one call at a time, so its nonces
    /// are acknowledged in order) until `stop` is set or the worker goes away; counts the
    /// acknowledged calls in `acked`.
    async fn start_stream(
        &self,
        net: &Net,
        stop: Arc<AtomicBool>,
        acked: Arc<AtomicUsize>,
    ) -> Result<Vec<tokio::task::JoinHandle<Vec<Sent>>>> {
        let ids: Arc<Vec<AccountId>> = Arc::new(self.accounts.iter().map(Signer::account).collect());
        let mut handles = Vec::new();
        for from in 0..STREAMERS {
            let direct = Direct::connect(&net.worker.url(), net.mrenclave).await?;
            let (signer, ids, stop, count) = (self.accounts[from].clone(), ids.clone(), stop.clone(), acked.clone());
            let mut nonce = self.nonces[from];
            handles.push(tokio::spawn(async move {
                let mut sent = Vec::new();
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    let to = (from + 1 + k % (STREAMERS - 1)) % STREAMERS;
                    let amount = 1_000 + 10 * Balance::from(nonce) + from as Balance;
                    let call = TrustedCall::Transfer { from: signer.account(), to: ids[to].clone(), amount };
                    let fate = direct.submit(&signer, call, nonce).await;
                    let acked = fate == Fate::Acked;
                    sent.push(Sent { from, to, amount, nonce, fate });
                    if !acked {
                        break;
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    nonce += 1;
                    k += 1;
                }
                sent
            }));
        }
        Ok(handles)
    }

    /// After a restart: the probe's transfer lands behind everything the pool held, then every
    /// call is accounted for against the shard's nonces and balances.
    async fn check(&mut self, net: &Net, when: &str) -> Result<()> {
        let trusted = net.trusted().await?;
        let probe = &self.accounts[PROBE];
        let nonce = trusted.nonce(probe).await?;
        let call = TrustedCall::Transfer { from: probe.account(), to: self.accounts[0].account(), amount: 7 };
        trusted
            .call(probe, call, false)
            .await
            .map_err(|e| anyhow!("{when}: the restarted worker does not serve: {e}\nworker log:\n{}", net.log()))?;
        self.sent.push(Sent { from: PROBE, to: 0, amount: 7, nonce, fate: Fate::Acked });
        // A shielding sent just before the stop may still be on its way through finality.
        let sent_by_probe: Balance = self.sent.iter().filter(|e| e.from == PROBE).map(|e| e.amount).sum();
        let probe_funds = self.shielded[PROBE] - sent_by_probe;
        wait_for("the shard to credit every shielding", 2 * MINUTE, || async {
            trusted.balance(probe).await.ok().filter(|b| *b >= probe_funds)
        })
        .await
        .with_context(|| format!("{when}: worker log:\n{}", net.log()))?;
        wait_for("an empty pool", MINUTE, || async { net.metric("cloister_worker_pool_size").filter(|p| *p == 0.0) })
            .await
            .with_context(|| format!("{when}: worker log:\n{}", net.log()))?;

        let mut nonces = Vec::new();
        let mut balances = Vec::new();
        for who in &self.accounts {
            nonces.push(trusted.nonce(who).await?);
            balances.push(trusted.balance(who).await?);
        }
        let mut problems = Vec::new();
        for (s, state_nonce) in nonces.iter().enumerate() {
            let mut applied = Vec::new();
            for e in self.sent.iter_mut().filter(|e| e.from == s) {
                let in_state = e.nonce < *state_nonce;
                match (&e.fate, in_state) {
                    (Fate::Acked, false) => problems.push(format!("acknowledged call lost: {e:?}")),
                    (Fate::Refused(_), true) => problems.push(format!("refused call applied: {e:?}")),
                    (Fate::Unknown(_), false) | (Fate::Refused(_), false) => e.fate = Fate::Dropped,
                    (Fate::Dropped, _) => {}
                    (Fate::Acked | Fate::Unknown(_), true) => applied.push(e.nonce),
                }
            }
            applied.sort_unstable();
            if applied != (0..*state_nonce).collect::<Vec<_>>() {
                problems.push(format!(
                    "account {s}: shard nonce {state_nonce}, but the calls sent that it covers have nonces {applied:?}"
                ));
            }
        }
        let mut expected: Vec<i128> = self.shielded.iter().map(|b| *b as i128).collect();
        for e in self.sent.iter().filter(|e| matches!(e.fate, Fate::Acked | Fate::Unknown(_))) {
            expected[e.from] -= e.amount as i128;
            expected[e.to] += e.amount as i128;
        }
        for (i, (want, got)) in expected.iter().zip(&balances).enumerate() {
            if *want != *got as i128 {
                problems.push(format!("account {i}: balance {got}, the applied calls give {want}"));
            }
        }
        let (total, shielded) = (balances.iter().sum::<Balance>(), self.shielded.iter().sum::<Balance>());
        if total != shielded {
            problems.push(format!("shard supply {total}, shielded {shielded}"));
        }
        let unknown_applied = self.sent.iter().filter(|e| matches!(e.fate, Fate::Unknown(_))).count();
        eprintln!(
            "{when}: {} calls sent, {} applied ({unknown_applied} of them unacknowledged), nonces {nonces:?}",
            self.sent.len(),
            nonces.iter().sum::<Nonce>()
        );
        ensure!(problems.is_empty(), "{when}:\n{}\nworker log:\n{}", problems.join("\n"), net.log());
        self.nonces = nonces;
        Ok(())
    }
}

enum Stop {
    Kill,
    /// SIGKILL right after a shielding of the probe is in a parentchain block, so that the
    /// restarted worker finds it finalized while it catches up or syncs.
    KillAfterShielding,
    Terminate,
}

/// Streams until `after_acks` calls are acknowledged, stops the worker as `how` says while
/// calls are in flight, restarts it and checks every call.
async fn crash_round(net: &mut Net, ledger: &mut Ledger, after_acks: usize, how: Stop, when: &str) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let handles = ledger.start_stream(net, stop.clone(), count.clone()).await?;
    wait_for(&format!("{after_acks} acknowledged calls"), 2 * MINUTE, || async {
        (count.load(Ordering::Relaxed) >= after_acks).then_some(())
    })
    .await
    .with_context(|| format!("{when}: worker log:\n{}", net.log()))?;
    match how {
        Stop::Kill => net.worker.kill(),
        Stop::KillAfterShielding => {
            net.submit_shieldings(&[(&ledger.accounts[PROBE], UNIT)]).await?;
            ledger.shielded[PROBE] += UNIT;
            net.worker.kill();
        }
        Stop::Terminate => {
            let status = net.worker.terminate()?;
            ensure!(status.success(), "{when}: SIGTERM ended the worker with {status}\n{}", net.log());
            ensure!(net.log().contains("sealing shard snapshots"), "{when}: no snapshot at SIGTERM\n{}", net.log());
        }
    }
    let head = last_stored(&net.worker.base_path)?;
    stop.store(true, Ordering::Relaxed);
    let mut acked = 0;
    for handle in handles {
        let sent = handle.await?;
        acked += sent.iter().filter(|e| e.fate == Fate::Acked).count();
        ledger.sent.extend(sent);
    }
    ensure!(acked > 0, "{when}: no call was acknowledged before the worker stopped\n{}", net.log());
    let refused: Vec<_> = ledger.sent.iter().filter(|e| matches!(e.fate, Fate::Refused(_))).collect();
    eprintln!("{when}: {acked} calls acknowledged before the stop at sidechain block {head}; refused: {refused:?}");
    net.worker.spawn().await.with_context(|| format!("{when}: restart"))?;
    // The enclave is back at the last block it stored (from its snapshot and the block store).
    let log = without_colours(&net.worker.log_text());
    let opened = log.lines().rfind(|l| l.contains("shard open")).unwrap_or_default();
    ensure!(opened.contains(&format!("head={head} ")), "{when}: the shard reopened elsewhere than {head}: {opened}");
    ledger.check(net, when).await
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_calls_survive_kills_and_restarts_exactly_once() -> Result<()> {
    // Short slots: blocks overrun them and are dropped while calls stream, as on a loaded
    // machine, and a restart meets a pool larger than one slot can build.
    let mut net = Net::start_with(vec!["--slot-ms".into(), "100".into()]).await?;
    let accounts: Vec<Signer> = (0..=STREAMERS).map(|i| crate::fresh_account(&format!("crash-{i}"))).collect();
    let grants: Vec<(&Signer, Balance)> = accounts.iter().map(|a| (a, FUNDS)).collect();
    net.shield(&grants).await?;
    let n = accounts.len();
    let mut ledger = Ledger { nonces: vec![0; n], shielded: vec![FUNDS; n], accounts, sent: Vec::new() };

    // Stops at different depths of the stream; each lands wherever the blocks happen to be.
    crash_round(&mut net, &mut ledger, 300, Stop::Kill, "SIGKILL 1").await?;
    crash_round(&mut net, &mut ledger, 40, Stop::Kill, "SIGKILL 2").await?;
    crash_round(&mut net, &mut ledger, 200, Stop::KillAfterShielding, "SIGKILL 3 (after a shielding)").await?;
    crash_round(&mut net, &mut ledger, 1_000, Stop::Kill, "SIGKILL 4").await?;
    crash_round(&mut net, &mut ledger, 400, Stop::Terminate, "SIGTERM").await?;
    let log = net.worker.log_text();
    eprintln!("blocks dropped for overrunning their slot: {}", log.matches("building overran the slot").count());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Tampering
// ---------------------------------------------------------------------------------------------

/// Every file under `dir`, by relative path.
fn read_tree(dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(at) = todo.pop() {
        for entry in std::fs::read_dir(&at).with_context(|| format!("{}", at.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
                out.insert(path.strip_prefix(dir)?.to_path_buf(), bytes);
            }
        }
    }
    Ok(out)
}

/// The paths whose contents differ between two trees.
fn changed(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = before.keys().chain(after.keys()).cloned().collect();
    paths.sort();
    paths.dedup();
    paths.into_iter().filter(|p| before.get(p) != after.get(p)).collect()
}

/// The blocks in a worker's block store, in order.
fn stored_blocks(base: &Path) -> Result<Vec<SignedSidechainBlock>> {
    let bytes = std::fs::read(base.join("sidechain/blocks.log"))?;
    let mut blocks = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 4 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        // A torn last record (a kill mid-write) is cut off by the store when it opens.
        let Some(record) = rest.get(4..4 + len) else { break };
        let Ok(block) = SignedSidechainBlock::decode(&mut &record[..]) else { break };
        blocks.push(block);
        rest = &rest[4 + len..];
    }
    Ok(blocks)
}

/// The number of the last block in a worker's block store (0 if none).
fn last_stored(base: &Path) -> Result<u64> {
    Ok(stored_blocks(base)?.last().map(|b| b.header.number).unwrap_or(0))
}

/// Starts the worker on its base path as it is, expecting it to refuse: non-zero exit, every
/// `expected` text in its output, and not one file of the base path changed.
fn expect_refusal(net: &mut Net, expected: &[&str], what: &str) -> Result<()> {
    let before = read_tree(&net.worker.base_path)?;
    let (status, log) = net.worker.run_to_exit(2 * MINUTE)?;
    let log = without_colours(&log);
    ensure!(!status.success(), "{what}: the worker started ({status}); its output:\n{}", tail(&log));
    for text in expected {
        ensure!(log.contains(text), "{what}: the worker's error does not say '{text}'; its output:\n{}", tail(&log));
    }
    let after = read_tree(&net.worker.base_path)?;
    let touched = changed(&before, &after);
    ensure!(touched.is_empty(), "{what}: the refused start changed {touched:?}; its output:\n{}", tail(&log));
    eprintln!("{what}: refused: {}", log.lines().last().unwrap_or_default());
    Ok(())
}

/// Flips one bit of `path` at `at` (from the end if negative).
fn flip(path: &Path, at: isize) -> Result<Vec<u8>> {
    let original = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = original.clone();
    let i = if at < 0 { bytes.len() as isize + at } else { at } as usize;
    ensure!(i < bytes.len(), "{} has only {} bytes", path.display(), bytes.len());
    bytes[i] ^= 0x20;
    std::fs::write(path, &bytes)?;
    Ok(original)
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_sealed_files_stop_the_worker_and_forged_blocks_are_refused_while_it_serves_on() -> Result<()> {
    let mut net = Net::start().await?;
    let (a, b) = (crate::fresh_account("tamper-a"), crate::fresh_account("tamper-b"));
    net.shield(&[(&a, FUNDS)]).await?;
    net.transfer(&a, &b, 1_234_567).await?;
    let state = net.state_of(&[&a, &b]).await?;
    let status = net.worker.terminate()?;
    ensure!(status.success(), "SIGTERM: {status}\n{}", net.log());

    let shard = hex::encode(net.shard());
    let enclave = net.worker.base_path.join("enclave");
    let sealed =
        ["signing-key.sealed", "shielding-key.sealed", &format!("shard-{shard}.key"), &format!("shard-{shard}.state")];
    for file in sealed {
        let path = enclave.join(file);
        let len = std::fs::metadata(&path).with_context(|| format!("{file} after SIGTERM"))?.len() as isize;
        let original = flip(&path, len / 2 + 10)?;
        expect_refusal(&mut net, &[file, "tampered"], &format!("flipped bit in {file}"))?;
        std::fs::write(&path, original)?;
    }
    net.worker.spawn().await.context("restart with the sealed files restored")?;
    ensure!(net.state_of(&[&a, &b]).await? == state, "the state changed across the refused starts\n{}", net.log());

    // A call acknowledged after the snapshot sits in the pool journal (and its block in the
    // store) when the worker is killed.
    net.transfer(&a, &b, 7_654_321).await?;
    let state = net.state_of(&[&a, &b]).await?;
    net.worker.kill();
    let journal = enclave.join(format!("shard-{shard}.pool"));
    let len = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
    ensure!(len > 4 + 8 + 12, "the pool journal holds no call after an acknowledged one ({len} bytes)");
    let original = flip(&journal, 4 + 8 + 12 + 3)?;
    expect_refusal(&mut net, &[&format!("shard-{shard}.pool"), "tampered"], "flipped bit in the pool journal")?;
    std::fs::write(&journal, original)?;

    // Blocks appended to the store: the last block changed without its author's signature, and
    // the same block signed by another ed25519 key, as a non-author would make it.
    let store = net.worker.base_path.join("sidechain/blocks.log");
    let original = std::fs::read(&store)?;
    let last = stored_blocks(&net.worker.base_path)?.pop().context("no stored block")?;
    let next = last.header.number + 1;
    let mut changed_header = last.clone();
    changed_header.header.number = next;
    changed_header.header.parent_hash = last.hash();
    let forger = <sp_core::ed25519::Pair as sp_core::Pair>::from_seed(&[7; 32]);
    let mut by_other_key = changed_header.clone();
    by_other_key.header.author = sp_core::Pair::public(&forger).0;
    by_other_key.signature = sp_core::Pair::sign(&forger, &by_other_key.header.encode()).0;
    ensure!(by_other_key.verify(), "the forged block carries a valid signature of its (non-)author");
    let cases = [
        (changed_header, "bad block signature", "a changed header"),
        (by_other_key, "whose turn slot", "a block of another key"),
    ];
    // Each is refused with a clear error, nothing of it is applied, and the worker serves on from
    // the block before it (the parentchain anchor still guards against lost blocks).
    for (forged, reason, what) in cases {
        let encoded = forged.encode();
        let mut bytes = original.clone();
        bytes.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&encoded);
        std::fs::write(&store, &bytes)?;
        let start = net.worker.log_text().len();
        net.worker.spawn().await.with_context(|| format!("{what} in blocks.log: the worker must serve on"))?;
        let log = without_colours(net.worker.log_text().get(start..).unwrap_or_default());
        ensure!(
            log.contains(&format!("stored block {next} refused")) && log.contains(reason),
            "{what} in blocks.log: no clear refusal saying '{reason}' in the log:\n{}",
            tail(&log)
        );
        ensure!(net.state_of(&[&a, &b]).await? == state, "{what}: something of it was applied\n{}", net.log());
        net.worker.kill();
    }
    net.worker.spawn().await.context("restart after the forged blocks")?;
    ensure!(net.state_of(&[&a, &b]).await? == state, "the state changed across the refused blocks\n{}", net.log());
    // The next block takes the forged one's place.
    net.transfer(&b, &a, 1).await?;
    net.worker.kill();
    net.worker.spawn().await.context("restart after a block replaced the forged one")?;
    ensure!(net.state_of(&[&a, &b]).await? != state, "the transfer after the forged blocks was kept\n{}", net.log());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3. Rollback
// ---------------------------------------------------------------------------------------------

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    for (rel, _) in read_tree(from)? {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().context("a parent")?)?;
        std::fs::copy(from.join(&rel), &target)?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_path_older_than_the_anchor_is_refused_as_rolled_back() -> Result<()> {
    let mut net = Net::start().await?;
    let (a, b) = (crate::fresh_account("rollback-a"), crate::fresh_account("rollback-b"));
    net.shield(&[(&a, FUNDS)]).await?;
    net.transfer(&a, &b, 1_111).await?;
    let head = last_stored(&net.worker.base_path)?;
    net.wait_anchored(head).await?;
    net.worker.kill();
    let backups = tempfile::tempdir()?;
    let (old, new) = (backups.path().join("old"), backups.path().join("new"));
    copy_tree(&net.worker.base_path, &old)?;
    let old_head = last_stored(&old)?;

    net.worker.spawn().await?;
    net.transfer(&a, &b, 2_222).await?;
    net.transfer(&a, &b, 3_333).await?;
    let state = net.state_of(&[&a, &b]).await?;
    let head = last_stored(&net.worker.base_path)?;
    ensure!(head > old_head, "no new sidechain block after the copy ({head} <= {old_head})");
    let anchored = net.wait_anchored(head).await?;
    net.worker.kill();
    copy_tree(&net.worker.base_path, &new)?;

    // The whole base path put back to the copy.
    copy_tree(&old, &net.worker.base_path)?;
    let holds = format!("the state holds block {old_head}");
    expect_refusal(&mut net, &["sealed state rolled back", &holds], "the old base path")?;

    // Only the block store cut below the anchor.
    copy_tree(&new, &net.worker.base_path)?;
    let store = net.worker.base_path.join("sidechain/blocks.log");
    let mut kept = Vec::new();
    for block in stored_blocks(&new)?.into_iter().filter(|b| b.header.number < anchored) {
        let encoded = block.encode();
        kept.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
        kept.extend_from_slice(&encoded);
    }
    std::fs::write(&store, kept)?;
    let holds = format!("the state holds block {}", anchored - 1);
    expect_refusal(&mut net, &["sealed state rolled back", &holds], "the block store cut below the anchor")?;

    copy_tree(&new, &net.worker.base_path)?;
    net.worker.spawn().await.context("restart on the newest base path")?;
    ensure!(net.state_of(&[&a, &b]).await? == state, "the newest state did not come back\n{}", net.log());
    net.transfer(&b, &a, 1).await
}

// ---------------------------------------------------------------------------------------------
// 4. Privacy
// ---------------------------------------------------------------------------------------------

/// A protected value in the forms it could leak in.
struct Needle {
    label: String,
    finders: Vec<(String, memchr::memmem::Finder<'static>)>,
}

impl Needle {
    fn new(label: &str, forms: Vec<(&str, Vec<u8>)>) -> Self {
        let finders = forms
            .into_iter()
            .map(|(form, bytes)| (form.to_string(), memchr::memmem::Finder::new(&bytes).into_owned()))
            .collect();
        Self { label: label.to_string(), finders }
    }

    fn account(label: &str, who: &AccountId) -> Self {
        let raw = who.encode();
        Self::new(
            label,
            vec![
                ("raw", raw.clone()),
                ("hex", hex::encode(&raw).into_bytes()),
                ("HEX", hex::encode_upper(&raw).into_bytes()),
                ("ss58", who.to_ss58check().into_bytes()),
            ],
        )
    }

    fn amount(label: &str, amount: Balance) -> Self {
        Self::new(label, vec![("decimal", amount.to_string().into_bytes()), ("u128 le", amount.to_le_bytes().to_vec())])
    }

    /// A meetup time (unix ms): its encoding, the decimal milliseconds and seconds, and the date
    /// and time as the CLI prints it (`… UTC`) and as a log would (ISO 8601).
    fn time(label: &str, unix_ms: u64) -> Self {
        let utc = cloister_cli::private_community::render::utc(unix_ms);
        let iso = utc.trim_end_matches(" UTC").replace(' ', "T");
        Self::new(
            label,
            vec![
                ("u64 le", unix_ms.to_le_bytes().to_vec()),
                ("decimal ms", unix_ms.to_string().into_bytes()),
                ("decimal s", (unix_ms / 1000).to_string().into_bytes()),
                ("utc", utc.into_bytes()),
                ("iso 8601", iso.into_bytes()),
            ],
        )
    }

    /// A location: its SCALE encoding (two `I64F64`) and each coordinate's, the CLI's text
    /// (`lat, lon` with 6 decimals) and JSON numbers, and the fixed-point decimals a `Debug` of the
    /// pallets' `Location` prints.
    fn location(label: &str, location: &Location) -> Self {
        let (lat, lon) = (location.lat.to_num::<f64>(), location.lon.to_num::<f64>());
        Self::new(
            label,
            vec![
                ("scale", location.encode()),
                ("lat scale", location.lat.encode()),
                ("lon scale", location.lon.encode()),
                ("cli text", cloister_cli::private_community::render::location(location).into_bytes()),
                ("lat 6 decimals", format!("{lat:.6}").into_bytes()),
                ("lon 6 decimals", format!("{lon:.6}").into_bytes()),
                ("lat json", lat.to_string().into_bytes()),
                ("lon json", lon.to_string().into_bytes()),
                ("lat fixed", location.lat.to_string().into_bytes()),
                ("lon fixed", location.lon.to_string().into_bytes()),
            ],
        )
    }

    /// The forms of this value found in `haystack`.
    fn found_in(&self, haystack: &[u8]) -> Vec<String> {
        self.finders
            .iter()
            .filter(|(_, f)| f.find(haystack).is_some())
            .map(|(form, _)| format!("{} ({form})", self.label))
            .collect()
    }
}

/// Every needle found in `haystack`, as "where: what (form)".
fn scan(needles: &[Needle], place: &str, haystack: &[u8], found: &mut Vec<String>) {
    for needle in needles {
        found.extend(needle.found_in(haystack).into_iter().map(|what| format!("{place}: {what}")));
    }
}

/// Every needle found in a log, as "where: what (form), first in: the line".
fn scan_log(needles: &[Needle], place: &str, log: &str, found: &mut Vec<String>) {
    for needle in needles {
        for (form, finder) in &needle.finders {
            let Some(line) = log.lines().find(|line| finder.find(line.as_bytes()).is_some()) else { continue };
            let line: String = line.chars().take(400).collect();
            found.push(format!("{place}: {} ({form}), first in: {line}", needle.label));
        }
    }
}

/// The pallets' own line as a location of the public record is added, on the parentchain and
/// again when the enclave founds the community on the shard. It names a location every host
/// may know (the parentchain holds them all), not which one a meetup is at; the meetup's
/// location may appear nowhere else on the host.
const FOUNDING_LINE: &str = "encointer: added location Location {";

/// A log without the [`FOUNDING_LINE`]s (coloured or not).
fn without_founding(log: &str) -> String {
    log.lines().filter(|line| !without_colours(line).contains(FOUNDING_LINE)).collect::<Vec<_>>().join("\n")
}

/// The parentchain as anyone sees it: each block's JSON (extrinsics, digests, justifications)
/// and its `System::Events`.
async fn parentchain_bytes(node: &NodeProcess) -> Result<Vec<(String, Vec<u8>)>> {
    let rpc = node.rpc().await?;
    let best: Value = rpc.request("chain_getHeader", rpc_params![]).await?;
    let best = cloister_testkit::hex_number(&best["number"])?;
    let events_key = format!("0x{}", hex::encode(value_key("System", "Events")));
    let mut out = Vec::new();
    for number in 0..=best {
        let hash: String = rpc.request("chain_getBlockHash", rpc_params![number]).await?;
        let block: Value = rpc.request("chain_getBlock", rpc_params![&hash]).await?;
        let mut bytes = block.to_string().into_bytes();
        for xt in block["block"]["extrinsics"].as_array().context("extrinsics")? {
            bytes.extend(hex::decode(xt.as_str().context("hex")?.trim_start_matches("0x"))?);
        }
        let events: Option<String> = rpc.request("state_getStorage", rpc_params![&events_key, &hash]).await?;
        if let Some(events) = events {
            bytes.extend(hex::decode(events.trim_start_matches("0x"))?);
        }
        out.push((format!("parentchain block {number}"), bytes));
    }
    Ok(out)
}

/// The privacy test's community: public bootstrappers, and two locations in Zurich whose
/// decimals appear nowhere else.
const PRIVACY_COMMUNITY: &str = r#"name = "Privacy Test"
symbol = "PRV"
assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"
bootstrappers = ["//Alice", "//Bob", "//Charlie"]
nominal_income = 1.0
[[locations]]
lat = 47.371234
lon = 8.531987
[[locations]]
lat = 47.402468
lon = 8.597531
"#;
const PRIVACY_LOCATIONS: [(f64, f64); 2] = [(47.371234, 8.531987), (47.402468, 8.597531)];
const BOOTSTRAPPERS: [&str; 3] = ["//Alice", "//Bob", "//Charlie"];
/// Participants nobody outside the enclave may learn of: a newbie, and a newcomer a
/// bootstrapper endorses.
const NEWBIE: &str = "//PrivacyCora";
const ENDORSEE: &str = "//PrivacyDan";

/// What a private ceremony left that the shard protects, as its participants learnt it.
struct PrivateCeremony {
    /// The community's bootstrappers, as its public record holds them.
    bootstrappers: Vec<AccountId>,
    /// The times the `meetup` getter gave (Assigning and Attesting), unix ms.
    times: std::collections::BTreeSet<u64>,
    /// The meetup's location.
    location: Location,
    /// What `cloister trusted meetup` printed (text and JSON).
    printed: String,
}

/// `register-participant WHO CID`, which must register `who` as `kind` for ceremony `cindex`.
fn register(cmd: &Commands, who: &str, cid: &str, kind: &str, cindex: u64) -> Result<()> {
    let registered = cmd.trusted(&["register-participant", who, cid])?;
    ensure!(
        registered["participant_type"] == kind && registered["cindex"] == cindex,
        "{who} should be registered as {kind} for ceremony {cindex}: {registered}"
    );
    Ok(())
}

/// Each of `group` attests the others.
fn attest_each_other(cmd: &Commands, cid: &str, group: &[&str]) -> Result<()> {
    for who in group {
        let others: Vec<&str> = group.iter().copied().filter(|o| o != who).collect();
        cmd.trusted(&[&["attest-attendees", who, cid][..], &others].concat())?;
    }
    Ok(())
}

/// `who`'s own meetup through `cloister trusted meetup`, as text and JSON: its location (one of
/// the community's) and time; what the command printed goes to `printed`.
fn own_meetup(cmd: &Commands, who: &str, cid: &str, printed: &mut String) -> Result<(Location, u64)> {
    printed.push_str(&cmd.trusted_text(&["meetup", who, cid])?);
    let own = cmd.trusted(&["meetup", who, cid])?;
    printed.push_str(&own.to_string());
    ensure!(own["assigned"] == true && own["participants"] == 5, "{who}'s meetup is one of five: {own}");
    let time = own["time"]["unix_ms"].as_u64().ok_or_else(|| anyhow!("{who}'s meetup has no time: {own}"))?;
    let (lat, lon) = (own["location"]["lat"].as_f64(), own["location"]["lon"].as_f64());
    let location = PRIVACY_LOCATIONS
        .iter()
        .find(|(la, lo)| (Some(*la), Some(*lo)) == (lat, lon))
        .map(|(la, lo)| Location::new(Degree::from_num(*la), Degree::from_num(*lo)))
        .ok_or_else(|| anyhow!("{who}'s meetup is at none of the community's locations: {own}"))?;
    Ok((location, time))
}

/// A private community's two ceremonies through the real `cloister` commands: the
/// bootstrappers' (the pallets register nobody else while the currency has no issuance), then
/// one where the newbie and the endorsee meet them, attest and claim.
async fn private_ceremony(net: &Net, dir: &Path) -> Result<PrivateCeremony> {
    let cmd = Commands::connect(&net.node.url(), &net.worker.url(), &net.mrenclave.to_string()).await?;
    let (cid_text, cid) = cmd.new_community(&dir.join("privacy-community.toml"), PRIVACY_COMMUNITY)?;
    let c = cid_text.as_str();
    cmd.await_phase(cid, CeremonyPhaseType::Registering, 1).await?;
    cmd.trusted(&["make-community-private", "//Alice", c])?;

    for who in BOOTSTRAPPERS {
        register(&cmd, who, c, "Bootstrapper", 1)?;
    }
    let assigning = cmd.next_phase(cid).await?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    let next = assigning["next_phase_timestamp"].as_u64().ok_or_else(|| anyhow!("no next phase: {assigning}"))?;
    ensure!(next > now_ms + WEEK_MS / 2, "the chain's phases are not a week long: next phase at {next}, now {now_ms}");
    cmd.next_phase(cid).await?;
    attest_each_other(&cmd, c, &BOOTSTRAPPERS)?;
    cmd.trusted(&["claim-rewards", "//Bob", c])?;
    cmd.next_phase(cid).await?;

    for who in BOOTSTRAPPERS {
        register(&cmd, who, c, "Bootstrapper", 2)?;
    }
    register(&cmd, NEWBIE, c, "Newbie", 2)?;
    cmd.trusted(&["endorse-newcomer", "//Bob", c, ENDORSEE])?;
    register(&cmd, ENDORSEE, c, "Endorsee", 2)?;
    cmd.next_phase(cid).await?;
    let mut printed = String::new();
    let mut times = std::collections::BTreeSet::new();
    let (location, time) = own_meetup(&cmd, NEWBIE, c, &mut printed)?;
    times.insert(time);
    ensure!(own_meetup(&cmd, ENDORSEE, c, &mut printed)? == (location, time), "one meetup, one place and time");
    cmd.next_phase(cid).await?;
    for who in [NEWBIE, ENDORSEE] {
        let (place, time) = own_meetup(&cmd, who, c, &mut printed)?;
        ensure!(place == location, "the meetup moved between Assigning and Attesting");
        times.insert(time);
    }
    let everyone: Vec<&str> = BOOTSTRAPPERS.iter().copied().chain([NEWBIE, ENDORSEE]).collect();
    attest_each_other(&cmd, c, &everyone)?;
    // Any participant may claim a meetup's rewards; the newbie's claim must stay as hidden as
    // its registration and attestations.
    cmd.trusted(&["claim-rewards", NEWBIE, c])?;
    for who in [NEWBIE, ENDORSEE] {
        let balance = cmd.trusted(&["balance", who, "--cid", c])?;
        let value = balance["balance"]["value"].as_f64().unwrap_or_default();
        ensure!(value > 0.9 && value <= 1.0, "{who} holds one reward of the ceremony: {balance}");
    }
    let bootstrappers = BOOTSTRAPPERS.iter().map(|s| Ok(Signer::from_suri(s)?.account())).collect::<Result<_>>()?;
    Ok(PrivateCeremony { bootstrappers, times, location, printed })
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_the_shard_protects_reaches_the_host_the_parentchain_or_the_logs() -> Result<()> {
    const SHIELDED: Balance = 5 * UNIT + 31_337;
    const TO_DAVE: Balance = 987_654_321;
    const TO_EVE: Balance = 123_456_789;
    const UNSHIELDED: Balance = 100_000_007;
    let started = std::time::Instant::now();
    // Week-long ceremony phases: only the ceremony's own `next-phase` calls move it.
    let (node, chain_dir) = crate::ceremony::long_phase_node().await?;
    let mut net = Net::start_on(node, Vec::new()).await?;
    let (node_url, worker_url, mrenclave) = (net.node.url(), net.worker.url(), net.mrenclave.to_string());
    let alice = Signer::from_suri("//Alice")?;
    let dave = Signer::from_suri("//PrivacyDave")?;
    let eve = Signer::from_suri("//PrivacyEve")?;

    let cli = |args: &[&str]| -> Result<()> {
        let (ok, out, err) = cloister_testkit::worker::trusted(&node_url, &worker_url, &mrenclave, args);
        ensure!(ok, "cloister trusted {args:?}: {out}{err}");
        Ok(())
    };
    cli(&["shield-funds", "//Alice", &SHIELDED.to_string()])?;
    cli(&["transfer", "//Alice", "//PrivacyDave", &TO_DAVE.to_string()])?;
    cli(&["transfer", "//PrivacyDave", "//PrivacyEve", &TO_EVE.to_string()])?;
    let before = crate::free_balance(&net.node, &alice.account()).await;
    let unshield = TrustedCall::Unshield { from: eve.account(), beneficiary: alice.account(), amount: UNSHIELDED };
    net.trusted().await?.call(&eve, unshield, false).await.map_err(|e| anyhow!("unshield: {e}\n{}", net.log()))?;
    wait_for("the payout to //Alice", 2 * MINUTE, || async {
        (crate::free_balance(&net.node, &alice.account()).await >= before + UNSHIELDED).then_some(())
    })
    .await
    .with_context(|| net.log())?;
    let in_shard = net.state_of(&[&alice, &dave, &eve]).await?;
    let balances: Vec<Balance> = in_shard.iter().map(|(b, _)| *b).collect();
    ensure!(balances == [SHIELDED - TO_DAVE, TO_DAVE - TO_EVE, TO_EVE - UNSHIELDED], "shard balances {balances:?}");
    let transfers_done = started.elapsed();

    let ceremony = private_ceremony(&net, chain_dir.path()).await.with_context(|| net.log())?;
    let ceremony_done = started.elapsed();
    let head = last_stored(&net.worker.base_path)?;
    net.wait_anchored(head).await?;

    let cora = Signer::from_suri(NEWBIE)?.account();
    let dan = Signer::from_suri(ENDORSEE)?.account();
    let mut protected = vec![
        Needle::account("//PrivacyDave", &dave.account()),
        Needle::account("//PrivacyEve", &eve.account()),
        Needle::amount("the transfer to Dave", TO_DAVE),
        Needle::amount("the transfer to Eve", TO_EVE),
        Needle::amount("Alice's shard balance", SHIELDED - TO_DAVE),
        Needle::amount("Dave's shard balance", TO_DAVE - TO_EVE),
        Needle::amount("Eve's shard balance", TO_EVE - UNSHIELDED),
        Needle::account("the newbie //PrivacyCora", &cora),
        Needle::account("the endorsee //PrivacyDan", &dan),
    ];
    let times: Vec<Needle> =
        ceremony.times.iter().map(|ms| Needle::time(&format!("the meetup time {ms}"), *ms)).collect();
    // The community's locations are public on the parentchain; which one the meetup is at is
    // not: nothing on the host may show it.
    let host_only = [Needle::location("the meetup location", &ceremony.location)];
    // The needles take the forms the CLI shows these values in.
    let mut printed = Vec::new();
    scan(&times, "cli", ceremony.printed.as_bytes(), &mut printed);
    scan(&host_only, "cli", ceremony.printed.as_bytes(), &mut printed);
    protected.extend(times);
    for form in ["decimal ms", "utc", "cli text", "lat 6 decimals", "lon 6 decimals", "lat json", "lon json"] {
        ensure!(
            printed.iter().any(|p| p.ends_with(&format!("({form})"))),
            "no needle of the form `{form}` in what `cloister trusted meetup` printed: {printed:?}\n{}",
            ceremony.printed
        );
    }

    // What the protocol does put on the parentchain: the scan must see it there.
    let record = ceremony.bootstrappers.encode();
    let public = [
        Needle::new("//Alice", vec![("raw", alice.account().encode())]),
        Needle::new("the shielded amount", vec![("u128 le", SHIELDED.to_le_bytes().to_vec())]),
        Needle::new("the unshielded amount", vec![("u128 le", UNSHIELDED.to_le_bytes().to_vec())]),
        Needle::new("the community's bootstrappers", vec![("scale", record.clone())]),
        Needle::new("the community's location of the meetup", vec![("scale", ceremony.location.encode())]),
    ];
    let mut found = Vec::new();
    let mut seen_public = Vec::new();
    let blocks = parentchain_bytes(&net.node).await?;
    for (place, bytes) in &blocks {
        scan(&protected, place, bytes, &mut found);
        scan(&public, "parentchain", bytes, &mut seen_public);
    }
    seen_public.sort();
    seen_public.dedup();
    ensure!(
        seen_public.len() == public.len(),
        "the scan of the parentchain misses public data: found only {seen_public:?}"
    );

    scan(&protected, "worker metrics", net.worker.metrics()?.as_bytes(), &mut found);
    scan(&host_only, "worker metrics", net.worker.metrics()?.as_bytes(), &mut found);

    // Stopped, so that both have written everything they hold to their directories.
    let status = net.worker.terminate()?;
    ensure!(status.success(), "SIGTERM: {status}");
    net.node.terminate()?;
    let (mut files, mut bytes) = (0, 0);
    let mut record_in_node_state = false;
    for (path, contents) in read_tree(&net.node.base_path)? {
        (files, bytes) = (files + 1, bytes + contents.len());
        scan(&protected, &format!("node data: {}", path.display()), &contents, &mut found);
        record_in_node_state |= memchr::memmem::find(&contents, &record).is_some();
    }
    ensure!(record_in_node_state, "the scan of the node's data misses the community's record (its bootstrappers)");
    for (path, contents) in read_tree(&net.worker.base_path)? {
        (files, bytes) = (files + 1, bytes + contents.len());
        let place = format!("worker base path: {}", path.display());
        scan(&protected, &place, &contents, &mut found);
        scan(&host_only, &place, &contents, &mut found);
    }
    ensure!(files > 5 && bytes > 10_000, "only {files} files ({bytes} bytes) to scan");
    for (log, name) in [(net.node.log_text(), "node log"), (net.worker.log_text(), "worker log")] {
        for (text, how) in [(log.clone(), ""), (without_colours(&log), " without colours")] {
            scan_log(&protected, &format!("{name}{how}"), &text, &mut found);
            scan_log(&host_only, &format!("{name}{how}"), &without_founding(&text), &mut found);
        }
    }
    eprintln!(
        "privacy: scanned {} parentchain blocks with their events, {files} files ({bytes} bytes), both logs; \
         transfers {:.0} s, ceremonies {:.0} s, total {:.0} s",
        blocks.len(),
        transfers_done.as_secs_f64(),
        (ceremony_done - transfers_done).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    found.sort();
    found.dedup();
    ensure!(found.is_empty(), "protected data outside the enclave:\n{}", found.join("\n"));
    Ok(())
}
