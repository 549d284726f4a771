//! `cloister-worker bench onboarding`: how long a validateer takes to join a shard that already
//! has N sidechain blocks, and how long one that was down catches up over N blocks
//! (ARCHITECTURE.md 6.9, 6.10), with N = 10^4 and 10^5.
//!
//! ```text
//!   origin A (temp base path, as `run` starts it): block 1 records A as the shard's only
//!   validateer and funds the accounts (shieldings); more funding blocks if there are many
//!   ─► one idle validateer C_N per size, provisioned from A at block 1 (then down)
//!   ─► A authors blocks of a few pre-signed transfers, one per slot, up to the smallest N
//!   per N:  join:     fresh B ◄─ A's keys and latest state (what MU-RA hands over)
//!           catch up: C_N ◄─ blocks final+1..=N from A's block store, pages of 256
//!                     (what `sidechain_fetchBlocksFromPeer` serves), through `import_blocks`
//!           restart:  a copy of A's block log opened as a worker start opens its own
//!           then A goes on to the next N
//! ```
//!
//! No parentchain node and no TLS: the provisioning is MU-RA's hand-over without the attested
//! connection and the registry check ([`Engine::provision_for_tools`]), and the blocks go from
//! A's host block store straight into C's enclave, so what is timed is the enclave's work and
//! the hosts' files, not the network. Every node is its own software enclave of this executable
//! (the same MRENCLAVE) with its own sealed files and block store.
//!
//! Calls are signed and verified before they reach A's pool ([`Engine::accept_call`]), on all
//! cores, without the HPKE layer of a client submission: generating the chain is set-up, not
//! what is measured. The peak memory of a step is the process's (A and every idle validateer
//! included), the kernel's high-water mark reset before the step.

use crate::{
    bench::{peak_rss_mib, rss_mib},
    block_store::BlockStore,
    host::software_backend,
    peers::MAX_FETCH,
    service::shard_or_default,
};
use clap::Args;
use cloister_enclave::{
    boundary::EnclaveClient,
    engine::{Engine, ImportOutcome, OpStatus},
    software::SoftwareEnclave,
};
use cloister_primitives::{AccountId, Balance, Hash, Mrenclave, Nonce, ShardId, UNIT};
use cloister_stf::{executor::ParentchainEffect, TrustedCall, VerifiedCall};
use codec::Encode;
use sp_core::{sr25519, Pair};
use std::{path::Path, sync::Arc, time::Instant};

/// Shieldings per funding block (as `bench transfers` funds).
const FUND_PER_BLOCK: usize = 20_000;
/// What each account is funded with: enough for every transfer it will make.
const ACCOUNT_FUNDS: Balance = 1_000_000 * UNIT;
/// What each transfer moves.
const TRANSFER_AMOUNT: Balance = UNIT;
/// Blocks whose calls are signed in one go, on all cores.
const SIGN_BATCH: u64 = 256;

/// `cloister-worker bench onboarding`.
#[derive(Debug, Clone, Args)]
pub struct OnboardingArgs {
    /// Sidechain heights at which a validateer joins and one catches up, in the order reached
    /// (one chain, grown from one to the next).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000])]
    pub blocks: Vec<u64>,
    /// Funded accounts in the shard (they send the transfers).
    #[arg(long, default_value_t = 1_000)]
    pub accounts: u64,
    /// Trusted transfers in each generated block.
    #[arg(long, default_value_t = 4)]
    pub transfers: usize,
    /// Print the figures as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What the bench measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OnboardingReport {
    /// Funded accounts.
    pub accounts: u64,
    /// Transfers per generated block.
    pub transfers_per_block: usize,
    /// Seconds for the funding block(s).
    pub funding_seconds: f64,
    /// One entry per height.
    pub sizes: Vec<SizeReport>,
    /// The highest of the steps' peaks, MiB.
    pub peak_rss_mib: f64,
}

/// What was measured at one height.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SizeReport {
    /// The shard's height (blocks).
    pub blocks: u64,
    /// A's state root at that height, hex.
    pub state_root: String,
    /// Blocks A authored to get there from the previous height.
    pub generated_blocks: u64,
    /// Seconds that took.
    pub generate_seconds: f64,
    /// `generated_blocks / generate_seconds`.
    pub generate_blocks_per_s: f64,
    /// Peak resident memory while generating, MiB.
    pub generate_peak_mib: f64,
    /// Calls the runtime refused while generating (should be 0), with the first reason.
    pub failed_calls: u64,
    /// The first refusal, if any.
    pub first_failure: Option<String>,
    /// A's block log, bytes (every block up to this height).
    pub block_log_bytes: u64,
    /// Join: milliseconds to hand A's keys and latest state to a fresh validateer and for it
    /// to check and seal them.
    pub join_ms: f64,
    /// Join: bytes of the state the joiner sealed (its sealed snapshot: head and state pairs).
    pub join_sealed_state_bytes: u64,
    /// Join: the joiner's head afterwards.
    pub join_head: u64,
    /// Join: the joiner's state root afterwards, hex.
    pub join_state_root: String,
    /// Join: peak resident memory, MiB.
    pub join_peak_mib: f64,
    /// Catch-up: blocks fetched and given to the validateer that was down since block 1.
    pub catch_up_blocks: u64,
    /// Catch-up: seconds, fetching and importing.
    pub catch_up_seconds: f64,
    /// `catch_up_blocks / catch_up_seconds`.
    pub catch_up_blocks_per_s: f64,
    /// Catch-up: seconds reading A's block store.
    pub catch_up_fetch_seconds: f64,
    /// Catch-up: seconds in `import_blocks`.
    pub catch_up_import_seconds: f64,
    /// Catch-up: bytes of the blocks transferred.
    pub catch_up_bytes: u64,
    /// Catch-up: blocks not imported (known, refused, missing parent…; should be 0).
    pub catch_up_not_imported: u64,
    /// The first of those outcomes, if any.
    pub catch_up_first_problem: Option<String>,
    /// Catch-up: the validateer's head afterwards.
    pub catch_up_head: u64,
    /// Catch-up: its state root afterwards, hex.
    pub catch_up_state_root: String,
    /// Catch-up: peak resident memory, MiB.
    pub catch_up_peak_mib: f64,
    /// Restart: milliseconds to open a copy of A's block store (what every worker start does
    /// with its own: it scans the whole log to rebuild the index).
    pub store_open_ms: f64,
    /// Restart: peak resident memory while opening it, MiB.
    pub store_open_peak_mib: f64,
    /// Resident memory after this height's steps, MiB.
    pub rss_mib: f64,
}

/// Resets the process's peak resident memory to its current size (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn hex_of(hash: &Hash) -> String {
    format!("0x{}", hex::encode(hash))
}

/// One validateer: a software enclave of this executable on its own temporary base path.
struct Node {
    backend: Arc<SoftwareEnclave>,
    blocks: Arc<BlockStore>,
    dir: tempfile::TempDir,
}

impl Node {
    /// Starts a validateer as `run` does and opens `shard` (the default shard if `None`).
    fn start(shard: Option<ShardId>) -> anyhow::Result<(Self, Mrenclave, ShardId)> {
        let dir = tempfile::Builder::new().prefix("cloister-bench-onboarding-").tempdir()?;
        let (backend, blocks) = software_backend(dir.path())?;
        let backend = Arc::new(backend);
        let enclave = EnclaveClient::new(backend.clone());
        enclave.init()?;
        let mrenclave = enclave.mrenclave()?;
        let shard = match shard {
            Some(shard) => shard,
            None => shard_or_default(None, &mrenclave).map_err(anyhow::Error::msg)?,
        };
        enclave.init_shard(shard)?;
        Ok((Self { backend, blocks, dir }, mrenclave, shard))
    }

    fn engine(&self) -> anyhow::Result<&Engine> {
        self.backend.engine_for_tools().ok_or_else(|| anyhow::anyhow!("the software enclave has no engine"))
    }

    /// Bytes of the sealed shard snapshots under this node's base path.
    fn sealed_state_bytes(&self) -> u64 {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("enclave")) else { return 0 };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("shard-") && n.ends_with(".state")))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The validateer whose chain the others join: its accounts and where it stands.
struct Origin {
    node: Node,
    mrenclave: Mrenclave,
    shard: ShardId,
    pairs: Vec<sr25519::Pair>,
    ids: Vec<AccountId>,
    nonces: Vec<Nonce>,
    transfers: usize,
    slot: u64,
    parentchain: u32,
    failed: u64,
    first_failure: Option<String>,
}

impl Origin {
    fn start(accounts: u64, transfers: usize) -> anyhow::Result<Self> {
        let (node, mrenclave, shard) = Node::start(None)?;
        // Deterministic and cheap: a seed per account, no derivation.
        let pairs: Vec<sr25519::Pair> = (0..accounts)
            .map(|i| sr25519::Pair::from_seed(&sp_crypto_hashing::blake2_256(&("onboarding", i).encode())))
            .collect();
        let ids = pairs.iter().map(|p| AccountId::from(p.public())).collect();
        let nonces = vec![0; pairs.len()];
        Ok(Self {
            node,
            mrenclave,
            shard,
            pairs,
            ids,
            nonces,
            transfers,
            slot: 0,
            parentchain: 0,
            failed: 0,
            first_failure: None,
        })
    }

    fn engine(&self) -> anyhow::Result<&Engine> {
        self.node.engine()
    }

    fn head(&self) -> anyhow::Result<u64> {
        Ok(self.engine()?.shard_info(&self.shard)?.head)
    }

    /// Authors the next block (every slot is A's); it must be built.
    fn author(&mut self) -> anyhow::Result<()> {
        self.slot += 1;
        let (engine, shard) = (self.node.engine()?, self.shard);
        engine.author(&shard, self.slot, u64::MAX)?.ok_or_else(|| anyhow::anyhow!("slot {}: no block", self.slot))?;
        for (_, status) in engine.take_statuses() {
            if let OpStatus::Invalid(reason) = status {
                self.failed += 1;
                self.first_failure.get_or_insert(reason);
            }
        }
        Ok(())
    }

    /// One funding block per [`FUND_PER_BLOCK`] accounts, as the parentchain's shieldings would
    /// come; the first also records A as the shard's only validateer, so that the others
    /// import A's blocks. Authors the funding blocks `blocks` (counted from 0).
    fn fund(&mut self, blocks: std::ops::Range<usize>) -> anyhow::Result<()> {
        let me = self.engine()?.keys().signing_public();
        let chunks: Vec<Vec<AccountId>> = self.ids.chunks(FUND_PER_BLOCK).map(<[_]>::to_vec).collect();
        for (block, chunk) in chunks.into_iter().enumerate().skip(blocks.start).take(blocks.len()) {
            self.parentchain += 1;
            let number = self.parentchain;
            let head = (number, Hash::from(sp_crypto_hashing::blake2_256(&number.encode())));
            let mut effects: Vec<_> = chunk
                .into_iter()
                .map(|who| (number, ParentchainEffect::Shield { beneficiary: who, amount: ACCOUNT_FUNDS }))
                .collect();
            if block == 0 {
                effects.insert(0, (number, ParentchainEffect::Validateers(vec![me])));
            }
            self.engine()?.queue_parentchain(&self.shard, effects, head, None)?;
            self.author()?;
        }
        Ok(())
    }

    fn funding_blocks(&self) -> usize {
        self.ids.len().div_ceil(FUND_PER_BLOCK).max(1)
    }

    /// The transfers of the next `count` blocks, signed and verified on all cores.
    fn sign_blocks(&mut self, count: u64) -> anyhow::Result<Vec<Vec<VerifiedCall>>> {
        let accounts = self.pairs.len();
        let first = self.head()? + 1;
        let mut jobs = Vec::with_capacity(count as usize * self.transfers);
        for block in first..first + count {
            for k in 0..self.transfers {
                let from = (block as usize * self.transfers + k) % accounts;
                let to = (from + 1 + block as usize % accounts.max(2).saturating_sub(1)) % accounts;
                jobs.push((from, to, self.nonces[from]));
                self.nonces[from] += 1;
            }
        }
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let per_worker = jobs.len().div_ceil(workers).max(1);
        let (pairs, ids, mrenclave, shard) = (&self.pairs, &self.ids, &self.mrenclave, &self.shard);
        let signed: Vec<VerifiedCall> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .chunks(per_worker)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&(from, to, nonce)| {
                                let call = TrustedCall::Transfer {
                                    from: ids[from].clone(),
                                    to: ids[to].clone(),
                                    amount: TRANSFER_AMOUNT,
                                };
                                call.sign(nonce, mrenclave, shard, |p| pairs[from].sign(p).into())
                                    .verify(mrenclave, shard)
                                    .map_err(|e| anyhow::anyhow!("a transfer does not verify: {e}"))
                            })
                            .collect::<anyhow::Result<Vec<_>>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow::anyhow!("a signing thread panicked"))?)
                .collect::<anyhow::Result<Vec<Vec<_>>>>()
        })?
        .into_iter()
        .flatten()
        .collect();
        Ok(signed.chunks(self.transfers.max(1)).map(<[_]>::to_vec).collect())
    }

    /// Authors blocks of transfers until the shard is `height` blocks high.
    fn grow_to(&mut self, height: u64) -> anyhow::Result<()> {
        while self.head()? < height {
            let count = (height - self.head()?).min(SIGN_BATCH);
            for calls in self.sign_blocks(count)? {
                for call in calls {
                    self.engine()?.accept_call(&self.shard, call)?;
                }
                self.author()?;
            }
        }
        Ok(())
    }
}

/// What a catch-up did.
#[derive(Default)]
struct CatchUp {
    blocks: u64,
    bytes: u64,
    fetch_seconds: f64,
    import_seconds: f64,
    seconds: f64,
    not_imported: u64,
    first_problem: Option<String>,
}

/// Fetches `to`'s missing blocks up to `height` from `from_store` page by page and imports
/// them, as a worker catches up from a peer.
fn catch_up(from_store: &BlockStore, to: &Engine, shard: &ShardId, height: u64) -> anyhow::Result<CatchUp> {
    let mut done = CatchUp::default();
    let started = Instant::now();
    let mut next = to.shard_info(shard)?.final_number + 1;
    while next <= height {
        let fetching = Instant::now();
        let page = from_store.fetch(shard, next, MAX_FETCH.min((height - next + 1) as u32))?;
        done.fetch_seconds += fetching.elapsed().as_secs_f64();
        if page.is_empty() {
            anyhow::bail!("the origin's block store has no block {next}");
        }
        done.bytes += page.iter().map(|b| b.len() as u64).sum::<u64>();
        let importing = Instant::now();
        let outcomes = to.import_blocks(shard, &page)?;
        done.import_seconds += importing.elapsed().as_secs_f64();
        for outcome in outcomes {
            match outcome {
                ImportOutcome::Imported { .. } => done.blocks += 1,
                other => {
                    done.not_imported += 1;
                    done.first_problem.get_or_insert_with(|| format!("{other:?}"));
                }
            }
        }
        // Nobody watches these statuses; they would pile up.
        to.take_statuses();
        next += page.len() as u64;
    }
    done.seconds = started.elapsed().as_secs_f64();
    Ok(done)
}

/// Opens a copy of `node`'s block store, as a restart would open it; milliseconds and peak MiB.
fn reopen_store(node: &Node) -> anyhow::Result<(f64, f64)> {
    let copy = tempfile::Builder::new().prefix("cloister-bench-onboarding-store-").tempdir()?;
    std::fs::copy(node.dir.path().join("sidechain/blocks.log"), copy.path().join("blocks.log"))?;
    reset_peak();
    let opening = Instant::now();
    let store = BlockStore::open(copy.path())?;
    let ms = opening.elapsed().as_secs_f64() * 1e3;
    let peak = peak_rss_mib();
    drop(store);
    Ok((ms, peak))
}

/// Runs the bench and prints the figures (text, or one JSON object).
pub fn onboarding(args: &OnboardingArgs) -> anyhow::Result<OnboardingReport> {
    let report = measure(args)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(report)
}

/// Builds the chain and measures a join and a catch-up at each height.
pub fn measure(args: &OnboardingArgs) -> anyhow::Result<OnboardingReport> {
    anyhow::ensure!(args.accounts > 0, "--accounts: at least one account sends the transfers");
    anyhow::ensure!(args.transfers > 0, "--transfers: blocks without calls are not authored");
    let mut heights = args.blocks.clone();
    heights.sort_unstable();
    heights.dedup();
    anyhow::ensure!(!heights.is_empty(), "--blocks: no height given");

    let mut origin = Origin::start(args.accounts, args.transfers)?;
    let funding_blocks = origin.funding_blocks();
    anyhow::ensure!(
        heights[0] >= funding_blocks as u64,
        "--blocks: funding {} accounts takes {funding_blocks} blocks already",
        args.accounts
    );
    let funding = Instant::now();
    origin.fund(0..1)?;
    // The validateers that go down at block 1, one per height (each catches up once).
    let mut down = Vec::new();
    for _ in &heights {
        let (node, _, _) = Node::start(Some(origin.shard))?;
        origin.engine()?.provision_for_tools(node.engine()?, &origin.shard)?;
        down.push(node);
    }
    origin.fund(1..funding_blocks)?;
    let funding_seconds = funding.elapsed().as_secs_f64();
    tracing::info!(target: "bench", accounts = args.accounts, funding_seconds, "shard funded");

    let mut sizes = Vec::new();
    for (height, down) in heights.into_iter().zip(down) {
        let before = origin.head()?;
        let failed_before = origin.failed;
        reset_peak();
        let generating = Instant::now();
        origin.grow_to(height)?;
        let generate_seconds = generating.elapsed().as_secs_f64();
        let generate_peak_mib = peak_rss_mib();
        let generated_blocks = height - before;
        let generate_blocks_per_s = generated_blocks as f64 / generate_seconds.max(f64::EPSILON);
        tracing::info!(target: "bench", height, generate_blocks_per_s, "chain grown");
        let a = origin.engine()?.shard_info(&origin.shard)?;

        let (joiner, _, _) = Node::start(Some(origin.shard))?;
        reset_peak();
        let joining = Instant::now();
        origin.engine()?.provision_for_tools(joiner.engine()?, &origin.shard)?;
        let join_ms = joining.elapsed().as_secs_f64() * 1e3;
        let join_peak_mib = peak_rss_mib();
        let b = joiner.engine()?.shard_info(&origin.shard)?;
        let join_sealed_state_bytes = joiner.sealed_state_bytes();
        drop(joiner);
        tracing::info!(target: "bench", height, join_ms, "joined");

        reset_peak();
        let caught = catch_up(&origin.node.blocks, down.engine()?, &origin.shard, height)?;
        let catch_up_peak_mib = peak_rss_mib();
        let c = down.engine()?.shard_info(&origin.shard)?;
        drop(down);
        tracing::info!(target: "bench", height, seconds = caught.seconds, "caught up");
        let (store_open_ms, store_open_peak_mib) = reopen_store(&origin.node)?;

        sizes.push(SizeReport {
            blocks: height,
            state_root: hex_of(&a.state_root),
            generated_blocks,
            generate_seconds,
            generate_blocks_per_s,
            generate_peak_mib,
            failed_calls: origin.failed - failed_before,
            first_failure: origin.first_failure.clone(),
            block_log_bytes: file_len(&origin.node.dir.path().join("sidechain/blocks.log")),
            join_ms,
            join_sealed_state_bytes,
            join_head: b.head,
            join_state_root: hex_of(&b.state_root),
            join_peak_mib,
            catch_up_blocks: caught.blocks,
            catch_up_seconds: caught.seconds,
            catch_up_blocks_per_s: caught.blocks as f64 / caught.seconds.max(f64::EPSILON),
            catch_up_fetch_seconds: caught.fetch_seconds,
            catch_up_import_seconds: caught.import_seconds,
            catch_up_bytes: caught.bytes,
            catch_up_not_imported: caught.not_imported,
            catch_up_first_problem: caught.first_problem,
            catch_up_head: c.head,
            catch_up_state_root: hex_of(&c.state_root),
            catch_up_peak_mib,
            store_open_ms,
            store_open_peak_mib,
            rss_mib: rss_mib(),
        });
    }
    let peak_rss_mib = sizes
        .iter()
        .flat_map(|s| [s.generate_peak_mib, s.join_peak_mib, s.catch_up_peak_mib, s.store_open_peak_mib])
        .fold(0.0, f64::max);
    Ok(OnboardingReport {
        accounts: args.accounts,
        transfers_per_block: args.transfers,
        funding_seconds,
        sizes,
        peak_rss_mib,
    })
}

fn print_report(r: &OnboardingReport) {
    println!(
        "onboarding: {} accounts, {} transfers per block, funded in {:.1} s",
        r.accounts, r.transfers_per_block, r.funding_seconds
    );
    for s in &r.sizes {
        let same = |root: &str| if root == s.state_root { "= A's" } else { "DIFFERS from A's" };
        println!(
            "{} blocks: generated {} blocks in {:.1} s ({:.0} blocks/s, peak {:.0} MiB, failed calls {}{}), block log {:.1} MiB\n  \
             join: {:.1} ms, sealed state {} bytes, head {}, state root {} (peak {:.0} MiB)\n  \
             catch up from block 1: {} blocks in {:.2} s ({:.0} blocks/s; fetch {:.2} s, import {:.2} s), {:.1} MiB, \
             not imported {}{}, head {}, state root {} (peak {:.0} MiB)\n  \
             restart: opening a block store of {} blocks {:.0} ms (peak {:.0} MiB); rss {:.0} MiB",
            s.blocks,
            s.generated_blocks,
            s.generate_seconds,
            s.generate_blocks_per_s,
            s.generate_peak_mib,
            s.failed_calls,
            s.first_failure.as_ref().map(|f| format!(" (first: {f})")).unwrap_or_default(),
            s.block_log_bytes as f64 / 1_048_576.0,
            s.join_ms,
            s.join_sealed_state_bytes,
            s.join_head,
            same(&s.join_state_root),
            s.join_peak_mib,
            s.catch_up_blocks,
            s.catch_up_seconds,
            s.catch_up_blocks_per_s,
            s.catch_up_fetch_seconds,
            s.catch_up_import_seconds,
            s.catch_up_bytes as f64 / 1_048_576.0,
            s.catch_up_not_imported,
            s.catch_up_first_problem.as_ref().map(|p| format!(" (first: {p})")).unwrap_or_default(),
            s.catch_up_head,
            same(&s.catch_up_state_root),
            s.catch_up_peak_mib,
            s.blocks,
            s.store_open_ms,
            s.store_open_peak_mib,
            s.rss_mib,
        );
    }
    println!("peak rss {:.0} MiB", r.peak_rss_mib);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joiner_and_returning_validateer_end_on_the_origin_head_and_state() {
        let args = OnboardingArgs { blocks: vec![300, 40], accounts: 10, transfers: 2, json: false };
        let report = measure(&args).expect("the bench runs");
        assert_eq!(report.sizes.len(), 2);
        for (size, height) in report.sizes.iter().zip([40u64, 300]) {
            assert_eq!(size.blocks, height);
            assert_eq!(size.failed_calls, 0, "{:?}", size.first_failure);
            assert_eq!((size.join_head, &size.join_state_root), (height, &size.state_root), "the joiner has A's state");
            assert_eq!(size.catch_up_not_imported, 0, "{:?}", size.catch_up_first_problem);
            assert_eq!(size.catch_up_blocks, height - 1, "every block after the first was imported");
            assert_eq!(
                (size.catch_up_head, &size.catch_up_state_root),
                (height, &size.state_root),
                "the returning validateer has A's head and state"
            );
            assert!(size.join_sealed_state_bytes > 0 && size.catch_up_bytes > 0 && size.store_open_ms > 0.0);
        }
        assert_ne!(report.sizes[0].state_root, report.sizes[1].state_root, "the transfers changed the state");
    }
}
