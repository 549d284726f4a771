//! `cloister-worker bench ceremony`: an Encointer ceremony of a private community with 10^4 and
//! 10^5 registered participants in one shard: how long meetup assignment and reward claiming
//! take, and the memory they need (ENCOINTER.md §3.7, §3.9; the issue's benchmark).
//!
//! ```text
//!   temp base path ─► SoftwareEnclave + Host + BlockStore (as `run` starts them)
//!   parentchain input queued straight into the engine (no node): the scheduler's values, then
//!   each phase change, as the light client would queue them
//!   community: B bootstrappers (at most 10^4, the pallet's limit), ⌈P/15⌉ + 1 locations, about a
//!   hundred per geohash cell, made private from a record built here (the proof is the light
//!   client's business, not measured)
//!   ceremony c (P participants): [c > 1: bootstrappers endorse P − B newcomers] ─► P
//!   registrations ─► Assigning (one block: the phase hook assigns every meetup) ─► Attesting ─►
//!   everybody attests the others of its meetup ─► one claim per meetup ─► Registering (c + 1)
//! ```
//!
//! The peak memory of a step includes the sealed snapshot of the whole shard the engine writes
//! every 256 blocks, when one falls into the step.
//!
//! Every call is signed, verified and taken into the pool as a direct call is
//! ([`Engine::accept_call`]), then applied in blocks authored with the 300 ms slot deadline of
//! `run` (an overrun block is dropped and built again from half the calls, and counted). Each timed
//! step reports wall time and the peak resident memory of the process during that step (the
//! kernel's high-water mark, reset before the step through `/proc/self/clear_refs`).
//!
//! With P ≤ 10^4 everybody is a bootstrapper (the ceremony that founds the community's
//! currency); a larger ceremony follows it in the same shard, the bootstrappers endorsing the
//! newcomers (an endorsee needs the currency to exist, and bootstrappers are the only ones with
//! tickets in a second ceremony).

use crate::{
    bench::{peak_rss_mib, rss_mib},
    host::software_backend,
    service::{now_ms, shard_or_default},
};
use clap::Args;
use cloister_enclave::{
    boundary::EnclaveClient,
    engine::{Engine, OpStatus},
};
use cloister_primitives::{AccountId, Hash, Mrenclave, ShardId};
use cloister_stf::{
    encointer::{parameter_keys, scheduler_keys, MeetupView, PublicCommunity},
    executor::ParentchainEffect,
    TrustedCall, TrustedGetter,
};
use codec::{Decode, Encode};
use encointer_primitives::{
    balances::BalanceType,
    common::PalletString,
    communities::{CommunityIdentifier, CommunityMetadata, CommunityRules, Degree, Location},
    scheduler::CeremonyPhaseType,
};
use sp_core::{sr25519, Pair};
use std::{collections::HashMap, time::Instant};

/// The most bootstrappers a community may have (the communities pallet's `MaxBootstrappers`).
const MAX_BOOTSTRAPPERS: u64 = 10_000;
/// Calls taken into the pool before blocks are authored.
const CHUNK: usize = 20_000;
/// Meetup size target (the runtime's `MeetupSizeTarget`).
const MEETUP_SIZE: u64 = 15;
/// Grid step of the locations, degrees: about ten per side of a 5-character geohash cell.
const GRID_STEP: f64 = 0.0044;
/// Length of each mirrored phase, milliseconds.
const PHASE_MS: u64 = 86_400_000;
/// The sidechain slot, as `run` uses it: a block that overruns it is dropped and built again
/// from fewer calls.
const SLOT_MS: u64 = 300;

/// `cloister-worker bench ceremony`.
#[derive(Debug, Clone, Args)]
pub struct CeremonyArgs {
    /// Registered participants of each ceremony, in the order run (one shard, one ceremony
    /// after the other).
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000])]
    pub participants: Vec<u64>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What one ceremony measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CeremonyReport {
    /// The ceremony index.
    pub cindex: u32,
    /// Registered participants.
    pub participants: u64,
    /// Of which bootstrappers.
    pub bootstrappers: u64,
    /// Of which endorsees.
    pub endorsees: u64,
    /// Meetup locations of the community.
    pub locations: u64,
    /// Registrations per second (signed, verified, pooled, applied).
    pub register_per_s: f64,
    /// Meetups assigned.
    pub meetups: u64,
    /// Participants seated in a meetup.
    pub seated: u64,
    /// The Assigning block, milliseconds.
    pub assign_ms: f64,
    /// Peak resident memory during assignment, MiB.
    pub assign_peak_mib: f64,
    /// The manager's list of every meetup with its participants, milliseconds.
    pub list_meetups_ms: f64,
    /// Attestations per second.
    pub attest_per_s: f64,
    /// All claims (one per meetup), seconds.
    pub claim_s: f64,
    /// Peak resident memory during the claims, MiB.
    pub claim_peak_mib: f64,
    /// Participants rewarded.
    pub rewarded: u64,
    /// Calls the runtime refused (should be 0), with the first reason.
    pub failed: u64,
    /// The first failure, if any.
    pub first_failure: Option<String>,
    /// Blocks dropped for overrunning their slot (built again from fewer calls).
    pub overruns: u64,
    /// Resident memory after the ceremony, MiB.
    pub rss_mib: f64,
}

/// Resets the process's peak resident memory to its current size (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn pair(role: &str, i: u64) -> sr25519::Pair {
    // Deterministic and cheap: a seed per participant, no derivation.
    let seed = sp_crypto_hashing::blake2_256(&(role, i).encode());
    sr25519::Pair::from_seed(&seed)
}

fn account(pair: &sr25519::Pair) -> AccountId {
    AccountId::from(pair.public())
}

struct Bench {
    _dir: tempfile::TempDir,
    _enclave: EnclaveClient<std::sync::Arc<cloister_enclave::software::SoftwareEnclave>>,
    backend: std::sync::Arc<cloister_enclave::software::SoftwareEnclave>,
    mrenclave: Mrenclave,
    shard: ShardId,
    nonces: HashMap<AccountId, u32>,
    parentchain: u32,
    phase: CeremonyPhaseType,
    cindex: u32,
    failed: u64,
    first_failure: Option<String>,
    overruns: u64,
    /// The last slot a block was asked for: each block needs a later one.
    slot: u64,
}

impl Bench {
    fn engine(&self) -> anyhow::Result<&Engine> {
        self.backend.engine_for_tools().ok_or_else(|| anyhow::anyhow!("the software enclave has no engine"))
    }

    /// Queues parentchain input as the light client would and applies it in a block; returns
    /// the block's wall time in milliseconds.
    fn parentchain(&mut self, mut effects: Vec<ParentchainEffect>) -> anyhow::Result<f64> {
        self.parentchain += 1;
        let next_phase = 1_800_000_000_000u64;
        let values = [
            self.phase.encode(),
            self.cindex.encode(),
            next_phase.encode(),
            PHASE_MS.encode(),
            PHASE_MS.encode(),
            PHASE_MS.encode(),
        ];
        effects.push(ParentchainEffect::Mirror(scheduler_keys().into_iter().zip(values.map(Some)).collect()));
        let head = (self.parentchain, Hash::from(sp_crypto_hashing::blake2_256(&self.parentchain.encode())));
        let now = now_ms();
        let slot = self.next_slot(now);
        let engine = self.engine()?;
        engine.queue_parentchain(&self.shard, effects.into_iter().map(|e| (head.0, e)).collect(), head, None)?;
        let started = Instant::now();
        engine
            .author(&self.shard, slot, now + SLOT_MS)?
            .ok_or_else(|| anyhow::anyhow!("the block of a phase change overran its slot"))?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    }

    /// The slot of the next block: the wall clock's, or the one after the last block's if that
    /// is later (blocks come faster than slots here).
    fn next_slot(&mut self, now: u64) -> u64 {
        self.slot = (now / SLOT_MS).max(self.slot + 1);
        self.slot
    }

    fn next_phase(&mut self) -> anyhow::Result<f64> {
        self.phase = match self.phase {
            CeremonyPhaseType::Registering => CeremonyPhaseType::Assigning,
            CeremonyPhaseType::Assigning => CeremonyPhaseType::Attesting,
            CeremonyPhaseType::Attesting => {
                self.cindex += 1;
                CeremonyPhaseType::Registering
            }
        };
        self.parentchain(vec![ParentchainEffect::PhaseChanged(self.phase)])
    }

    fn signed(&mut self, who: &sr25519::Pair, call: TrustedCall) -> anyhow::Result<cloister_stf::VerifiedCall> {
        let nonce = self.nonces.entry(account(who)).or_default();
        let signed = call.sign(*nonce, &self.mrenclave, &self.shard, |p| who.sign(p).into());
        *nonce += 1;
        signed.verify(&self.mrenclave, &self.shard).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Applies calls (already verified), in chunks through the pool, in blocks.
    fn apply(&mut self, calls: Vec<cloister_stf::VerifiedCall>) -> anyhow::Result<()> {
        let mut calls = calls.into_iter().peekable();
        let backend = self.backend.clone();
        let engine = backend.engine_for_tools().ok_or_else(|| anyhow::anyhow!("the software enclave has no engine"))?;
        while calls.peek().is_some() {
            for call in calls.by_ref().take(CHUNK) {
                engine.accept_call(&self.shard, call)?;
            }
            while engine.shard_info(&self.shard)?.pool > 0 {
                let now = now_ms();
                let slot = self.next_slot(now);
                if engine.author(&self.shard, slot, now + SLOT_MS)?.is_none() {
                    self.overruns += 1;
                }
            }
            for (_, status) in engine.take_statuses() {
                if let OpStatus::Invalid(reason) = status {
                    self.failed += 1;
                    self.first_failure.get_or_insert(reason);
                }
            }
        }
        Ok(())
    }

    fn calls(&mut self, calls: Vec<(&sr25519::Pair, TrustedCall)>) -> anyhow::Result<()> {
        let verified =
            calls.into_iter().map(|(who, call)| self.signed(who, call)).collect::<anyhow::Result<Vec<_>>>()?;
        self.apply(verified)
    }

    fn get<T: Decode>(&self, who: &sr25519::Pair, getter: TrustedGetter) -> anyhow::Result<T> {
        let signed = getter.sign(now_ms(), &self.mrenclave, &self.shard, |p| who.sign(p).into());
        let bytes = self.engine()?.answer(&self.shard, &signed)?;
        T::decode(&mut &bytes[..]).map_err(|_| anyhow::anyhow!("undecodable getter answer"))
    }
}

/// Meetup locations on a grid, about a hundred per geohash cell, the first one founding the
/// community.
fn locations(count: u64) -> Vec<Location> {
    let side = (count as f64).sqrt().ceil() as u64;
    (0..count)
        .map(|i| {
            let (row, col) = (i / side, i % side);
            Location::new(
                Degree::from_num(46.0 + row as f64 * GRID_STEP),
                Degree::from_num(7.0 + col as f64 * GRID_STEP),
            )
        })
        .collect()
}

fn public_record(
    bootstrappers: &[AccountId],
    locations: Vec<Location>,
    sudo: &AccountId,
) -> anyhow::Result<PublicCommunity> {
    let cid = CommunityIdentifier::new(locations[0], bootstrappers.to_vec())
        .map_err(|e| anyhow::anyhow!("no community identifier: {e:?}"))?;
    let text = |s: &str| PalletString::try_from(s.as_bytes().to_vec()).map_err(|_| anyhow::anyhow!("too long"));
    let metadata = CommunityMetadata {
        name: text("Bench")?,
        symbol: text("BEN")?,
        assets: text("QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC")?,
        theme: None,
        url: None,
        announcement_signer: None,
        rules: CommunityRules::LoCo,
    };
    // The dev chain's ceremony parameters, with enough bootstrapper tickets for the endorsements.
    let parameters = [
        BalanceType::from_num(1).encode(),
        1_000u32.encode(),
        600_000u64.encode(),
        168_500u32.encode(),
        255u8.encode(),
        5u8.encode(),
        337u32.encode(),
        0i32.encode(),
        1u32.encode(),
        83u32.encode(),
    ];
    Ok(PublicCommunity {
        cid,
        metadata,
        bootstrappers: bootstrappers.to_vec(),
        locations,
        nominal_income: Some(BalanceType::from_num(1)),
        demurrage: None,
        sudo: Some(sudo.clone()),
        parameters: parameter_keys().into_iter().zip(parameters.map(Some)).collect(),
    })
}

/// Runs the ceremonies and prints a table (or JSON).
pub fn ceremony(args: &CeremonyArgs) -> anyhow::Result<Vec<CeremonyReport>> {
    let mut sizes = args.participants.clone();
    sizes.sort_unstable();
    let largest = *sizes.last().ok_or_else(|| anyhow::anyhow!("no ceremony size given"))?;
    let bootstrappers = sizes[0].min(MAX_BOOTSTRAPPERS);
    if bootstrappers < 3 {
        anyhow::bail!("a community needs at least 3 participants");
    }
    for &size in &sizes[1..] {
        if size.saturating_sub(bootstrappers) > bootstrappers * 250 {
            anyhow::bail!("{size} participants need more endorsement tickets than {bootstrappers} bootstrappers have");
        }
    }
    let location_count = largest.div_ceil(MEETUP_SIZE) + 1;

    let dir = tempfile::Builder::new().prefix("cloister-bench-ceremony-").tempdir()?;
    let (backend, _blocks) = software_backend(dir.path())?;
    let backend = std::sync::Arc::new(backend);
    let enclave = EnclaveClient::new(backend.clone());
    enclave.init()?;
    let mrenclave = enclave.mrenclave()?;
    let shard = shard_or_default(None, &mrenclave).map_err(anyhow::Error::msg)?;
    enclave.init_shard(shard)?;
    let mut bench = Bench {
        _dir: dir,
        _enclave: enclave,
        backend,
        mrenclave,
        shard,
        nonces: HashMap::new(),
        parentchain: 0,
        phase: CeremonyPhaseType::Registering,
        cindex: 1,
        failed: 0,
        first_failure: None,
        overruns: 0,
        slot: 0,
    };
    bench.parentchain(vec![])?;

    let setup = Instant::now();
    let boot: Vec<sr25519::Pair> = (0..bootstrappers).map(|i| pair("bootstrapper", i)).collect();
    let manager = boot[0].clone();
    let boot_ids: Vec<AccountId> = boot.iter().map(account).collect();
    let record = public_record(&boot_ids, locations(location_count), &account(&manager))?;
    let cid = record.cid;
    let private = bench.signed(
        &manager,
        TrustedCall::MakeCommunityPrivate {
            who: account(&manager),
            cid,
            at: Hash::zero(),
            cells: vec![],
            proof: vec![],
        },
    )?;
    bench.apply(vec![private.with_public_community(record)])?;
    if let Some(failure) = &bench.first_failure {
        anyhow::bail!("the community could not be made private: {failure}");
    }
    eprintln!(
        "community {cid}: {bootstrappers} bootstrappers, {location_count} locations, made private in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let mut reports = Vec::new();
    let mut newcomers_made = 0u64;
    for &size in &sizes {
        bench.failed = 0;
        bench.first_failure = None;
        bench.overruns = 0;
        let endorsees = size.saturating_sub(bootstrappers);
        let newcomers: Vec<sr25519::Pair> =
            (newcomers_made..newcomers_made + endorsees).map(|i| pair("newcomer", i)).collect();
        newcomers_made += endorsees;
        if !newcomers.is_empty() {
            let endorse = newcomers
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let by = &boot[i % boot.len()];
                    (by, TrustedCall::EndorseNewcomer { who: account(by), cid, newbie: account(n) })
                })
                .collect();
            bench.calls(endorse)?;
        }

        let started = Instant::now();
        let register = boot
            .iter()
            .chain(&newcomers)
            .map(|p| (p, TrustedCall::RegisterParticipant { who: account(p), cid, proof: None }))
            .collect();
        bench.calls(register)?;
        let register_per_s = size as f64 / started.elapsed().as_secs_f64();

        reset_peak();
        let assign_ms = bench.next_phase()?;
        let assign_peak_mib = peak_rss_mib();
        let started = Instant::now();
        let meetups: Vec<MeetupView> = bench.get(&manager, TrustedGetter::ListMeetups(account(&manager), cid, None))?;
        let list_meetups_ms = started.elapsed().as_secs_f64() * 1e3;
        let seated: u64 = meetups.iter().map(|m| m.participants.len() as u64).sum();

        bench.next_phase()?;
        let pairs: HashMap<AccountId, &sr25519::Pair> =
            boot.iter().chain(&newcomers).map(|p| (account(p), p)).collect();
        let mut attest = Vec::with_capacity(seated as usize);
        for meetup in &meetups {
            let vote = meetup.participants.len() as u32;
            for who in &meetup.participants {
                let Some(p) = pairs.get(who) else { continue };
                let others = meetup.participants.iter().filter(|o| *o != who).cloned().collect();
                attest.push((*p, TrustedCall::AttestAttendees { who: who.clone(), cid, vote, attestees: others }));
            }
        }
        let started = Instant::now();
        bench.calls(attest)?;
        let attest_per_s = seated as f64 / started.elapsed().as_secs_f64();

        let claims = meetups
            .iter()
            .filter_map(|m| {
                let first = m.participants.first()?;
                let p = pairs.get(first)?;
                Some((*p, TrustedCall::ClaimRewards { who: first.clone(), cid, meetup: Some(m.index) }))
            })
            .collect::<Vec<_>>();
        let verified =
            claims.into_iter().map(|(who, call)| bench.signed(who, call)).collect::<anyhow::Result<Vec<_>>>()?;
        let issued = |bench: &Bench| -> anyhow::Result<f64> {
            let info: cloister_stf::encointer::CommunityInfo =
                bench.get(&manager, TrustedGetter::CommunityInfo(account(&manager), cid))?;
            Ok(info.total_issuance.to_num::<f64>())
        };
        let before = issued(&bench)?;
        reset_peak();
        let started = Instant::now();
        bench.apply(verified)?;
        let claim_s = started.elapsed().as_secs_f64();
        let claim_peak_mib = peak_rss_mib();

        // The nominal income is 1 and the demurrage clock stands still here (no parentchain
        // blocks pass), so the issuance grows by one per rewarded participant.
        let rewarded = (issued(&bench)? - before).round() as u64;
        reports.push(CeremonyReport {
            cindex: bench.cindex,
            participants: size,
            bootstrappers,
            endorsees,
            locations: location_count,
            register_per_s,
            meetups: meetups.len() as u64,
            seated,
            assign_ms,
            assign_peak_mib,
            list_meetups_ms,
            attest_per_s,
            claim_s,
            claim_peak_mib,
            rewarded,
            failed: bench.failed,
            first_failure: bench.first_failure.clone(),
            overruns: bench.overruns,
            rss_mib: rss_mib(),
        });
        print_report(reports.last(), args.json);
        bench.next_phase()?;
    }
    Ok(reports)
}

fn print_report(report: Option<&CeremonyReport>, json: bool) {
    let Some(r) = report else { return };
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    println!(
        "ceremony {}: {} registered ({} bootstrappers, {} endorsees), {} locations\n  \
         register {:.0}/s | assign {} meetups, {} seated: {:.1} ms, peak {:.0} MiB | list them {:.0} ms | attest {:.0}/s | \
         claim {} meetups: {:.2} s, peak {:.0} MiB | rewarded {} | failed {}{} | overrun blocks {} | rss {:.0} MiB",
        r.cindex,
        r.participants,
        r.bootstrappers,
        r.endorsees,
        r.locations,
        r.register_per_s,
        r.meetups,
        r.seated,
        r.assign_ms,
        r.assign_peak_mib,
        r.list_meetups_ms,
        r.attest_per_s,
        r.meetups,
        r.claim_s,
        r.claim_peak_mib,
        r.rewarded,
        r.failed,
        r.first_failure.as_ref().map(|f| format!(" (first: {f})")).unwrap_or_default(),
        r.overruns,
        r.rss_mib,
    );
}
