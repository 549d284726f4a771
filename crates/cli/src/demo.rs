//! `cloister demo private-community`: the seed's private-community demo (ENCOINTER.md 6.7, A.9)
//! on a fresh dev network, step by step.
//!
//! The demo starts a dev network as `cloister dev` does ([`DevNetwork`]), but with week-long
//! ceremony phases, so that only its own `next-phase` calls move the ceremony (the dev chain's
//! 20-minute grid would otherwise end a phase under it). Each step is a command line exactly as
//! a user would type it against that network (with `CLOISTER_NODE_URL` and
//! `CLOISTER_WORKER_URL` set): the demo parses it with the real command line, runs it through
//! the same library functions `cloister` runs, and prints the line and what it returned. With
//! `--json`, each step is one JSON object (`step`, `section`, `command`, `ok`, `outcome` or
//! `error`), after a first object describing the network and before a last one with the time.
//!
//! With `--validateers N` (N > 1) the network has N validateers of the shard, and the trusted
//! commands take turns among them; each such command line then names its validateer with
//! `--worker-url`, so that it can be typed again as printed. A call one validateer put in a block
//! reaches the others a little later, so after every step that changes the shard the demo waits
//! until all validateers report the same sidechain head and state root (`sidechain_head` on
//! their untrusted ports) before it goes on:
//!
//! ```text
//!   step k ──► validateer k mod N ──► block ──► peers import it
//!   all heads equal (hash, state root) ──► step k+1 ──► validateer (k+1) mod N
//! ```
//!
//! The encointer pallets register only bootstrappers while a community's currency has no
//! issuance (`OnlyBootstrappers`), so the demo runs two ceremonies: the bootstrappers' first
//! pays the first rewards, then a newbie joins the second, which is the seed's demo.

use crate::{
    chain::{self, CommandError},
    cli::{run_trusted, Cli, Command, TrustedCommand},
    dev::{until_stopped, DevNetwork, DevOptions},
    output::{Output, Report},
    private_community::{
        getters::{ceremony_report, fetch_cc_balance, fetch_ceremony, fetch_meetups},
        render::{amount, name_account, name_of},
        CommunityCommand,
    },
    rpc_client::NodeClient,
    signer::{ss58, Signer},
    trusted::TrustedClient,
};
use anyhow::{anyhow, bail, Context};
use clap::Parser;
use cloister_primitives::Mrenclave;
use encointer_primitives::{
    balances::BalanceType,
    communities::CommunityIdentifier,
    scheduler::{CeremonyIndexType, CeremonyPhaseType},
};
use jsonrpsee::{
    core::client::ClientT,
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Options of `cloister demo private-community`.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Leave the network running afterwards, until Ctrl-C.
    pub keep: bool,
    /// Validateers of the shard (at least 1); the trusted commands take turns among them.
    pub validateers: usize,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { keep: false, validateers: 1 }
    }
}

/// `--validateers N`: a whole number of at least 1.
pub fn parse_validateers(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a number of validateers (1 or more)")),
    }
}

/// Each ceremony phase of the demo's chain lasts a week: no wall-clock boundary comes near.
const PHASE_MS: u64 = 7 * cloister_runtime::MOMENTS_PER_DAY;
/// How long the shard may take to mirror a parentchain change.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the validateers may take to agree on the head after a step changed the shard.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the demo asks the validateers for their heads until they agree.
const SETTLE_POLL: Duration = Duration::from_millis(20);
/// Parentchain blocks the demo lets pass to show demurrage.
const DEMURRAGE_BLOCKS: u32 = 5;
/// The demo community: three bootstrappers, two locations in Zurich, nominal income 1 and a
/// demurrage that a few blocks make visible.
const COMMUNITY_SPEC: &str = r#"name = "Cloister Demo"
symbol = "CLD"
assets = "QmW6WLLhUPsosBcKebejveknjrSQjZjq5eYFVBRfugygeC"
bootstrappers = ["//Alice", "//Bob", "//Charlie"]
nominal_income = 1.0
demurrage = 1e-5
[[locations]]
lat = 47.3769
lon = 8.5417
[[locations]]
lat = 47.4
lon = 8.6
"#;
const BOOTSTRAPPERS: [&str; 3] = ["//Alice", "//Bob", "//Charlie"];
const MANAGER: &str = "//Alice";
const NEWBIE: &str = "//Cora";

/// What a step must come to.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Success.
    Success,
    /// A refusal by the shard whose reason contains this text.
    Refusal(&'static str),
}

/// A validateer of the demo's shard and the demo's connections to it.
struct Validateer {
    /// Its direct-invocation URL, as the printed commands name it.
    url: String,
    /// The attested connection to its enclave.
    trusted: TrustedClient,
    /// Its untrusted port, where it tells its sidechain head.
    peer: WsClient,
}

/// What a validateer says its shard's head is (`sidechain_head`).
#[derive(Debug, Clone, serde::Deserialize)]
struct Head {
    number: u64,
    hash: String,
    #[serde(rename = "stateRoot")]
    state_root: String,
    pool: u64,
}

impl Head {
    /// The same block with the same state.
    fn agrees_with(&self, other: &Head) -> bool {
        self.hash == other.hash && self.state_root == other.state_root
    }
}

/// The demo's session: its clients and the steps printed so far.
struct Session {
    node: NodeClient,
    /// The shard's validateers; the trusted commands take turns among them.
    validateers: Vec<Validateer>,
    /// How many trusted commands have taken their turn.
    turns: usize,
    out: Output,
    mrenclave: String,
    cid: String,
    section: &'static str,
    steps: usize,
}

impl Session {
    /// Starts a section: a heading and what it shows (text output only).
    fn section(&mut self, name: &'static str, text: &str) {
        self.section = name;
        if !self.out.json {
            println!("\n## {name}\n{text}\n");
        }
    }

    /// A remark between steps (text output only).
    fn note(&self, text: &str) {
        if !self.out.json {
            println!("({text})\n");
        }
    }

    /// The validateer whose turn it is; the turn passes to the next.
    fn take_turn(&mut self) -> usize {
        let via = self.turns % self.validateers.len();
        self.turns += 1;
        via
    }

    /// The connection to the validateer whose turn is next (for the demo's own reads, so that
    /// they see what the next step will).
    fn upcoming(&self) -> &TrustedClient {
        &self.validateers[self.turns % self.validateers.len()].trusted
    }

    /// `trusted --mrenclave M` followed by `args`, sent to validateer `via`: with several
    /// validateers, `--worker-url` first names it.
    fn trusted_args(&self, via: usize, args: &[&str]) -> Vec<String> {
        let mut all = Vec::new();
        if self.validateers.len() > 1 {
            all.extend(["--worker-url".to_string(), self.validateers[via].url.clone()]);
        }
        all.extend(["trusted".to_string(), "--mrenclave".into(), self.mrenclave.clone()]);
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    /// Prints a step: the command line and its outcome.
    fn record(&mut self, args: &[String], result: &Result<Report, CommandError>) {
        self.steps += 1;
        let command = command_line(args);
        if self.out.json {
            let (outcome, error) = match result {
                Ok(report) => (report.json.clone(), Value::Null),
                Err(e) => (Value::Null, json!(e.to_string())),
            };
            println!(
                "{}",
                json!({
                    "step": self.steps,
                    "section": self.section,
                    "command": command,
                    "ok": result.is_ok(),
                    "outcome": outcome,
                    "error": error,
                })
            );
        } else {
            let outcome = match result {
                Ok(report) => report.human.clone(),
                Err(e) => format!("error: {e}"),
            };
            println!("$ {command}\n{outcome}\n");
        }
    }

    /// Runs `cloister ARGS` as the command line would (a trusted command through validateer
    /// `via`), prints it, and checks the outcome. After a trusted call, waits until the
    /// validateers agree on the shard's head.
    async fn run(&mut self, via: usize, args: Vec<String>, expect: Expect) -> anyhow::Result<Report> {
        let cli = Cli::try_parse_from(std::iter::once("cloister".to_string()).chain(args.iter().cloned()))
            .map_err(|e| anyhow!("the demo's command `{}` does not parse: {e}", command_line(&args)))?;
        let call = matches!(&cli.command, Command::Trusted { action, .. } if changes_state(action));
        let result = match cli.command {
            Command::Trusted { action, .. } => run_trusted(&self.node, &self.validateers[via].trusted, action).await,
            Command::NextPhase { sudo } => {
                chain::advance_phase(&self.node, &sudo).await.map(|s| chain::schedule_report(&s))
            }
            Command::NewCommunity { spec, signer } => chain::create_community(&self.node, &spec, &signer).await,
            other => bail!("the demo does not run {other:?}"),
        };
        self.record(&args, &result);
        let report = Self::check(&args, expect, result)?;
        if call {
            self.settle().await.with_context(|| format!("after `{}`", command_line(&args)))?;
        }
        Ok(report)
    }

    /// Whether a step came to what it must.
    fn check(args: &[String], expect: Expect, result: Result<Report, CommandError>) -> anyhow::Result<Report> {
        match (expect, result) {
            (Expect::Success, Ok(report)) => Ok(report),
            (Expect::Success, Err(e)) => Err(anyhow!("`{}` failed: {e}", command_line(args))),
            (Expect::Refusal(why), Err(e)) if e.is_refusal() && e.to_string().contains(why) => {
                Ok(Report::new(e.to_string(), json!({ "error": e.to_string() })))
            }
            (Expect::Refusal(why), other) => Err(anyhow!(
                "`{}` should have been refused with {why}, but came to {:?}",
                command_line(args),
                other.map(|r| r.human)
            )),
        }
    }

    /// `cloister trusted --mrenclave M ARGS`, through the validateer whose turn it is.
    async fn trusted(&mut self, args: &[&str], expect: Expect) -> anyhow::Result<Report> {
        let via = self.take_turn();
        let args = self.trusted_args(via, args);
        self.run(via, args, expect).await
    }

    /// With several validateers, waits until all report the same sidechain head and state root,
    /// so that the next step sees this one's effects whichever validateer it goes to.
    async fn settle(&self) -> anyhow::Result<()> {
        if self.validateers.len() < 2 {
            return Ok(());
        }
        let started = Instant::now();
        let deadline = started + SETTLE_TIMEOUT;
        let mut polls = 0u32;
        loop {
            polls += 1;
            let heads = self.heads().await;
            let agreed = match heads.split_first() {
                Some((Ok(first), rest)) => rest.iter().all(|h| h.as_ref().is_ok_and(|h| h.agrees_with(first))),
                _ => false,
            };
            if agreed {
                let ms = started.elapsed().as_millis() as u64;
                tracing::debug!(target: "demo", polls, ms, "the validateers agree on the head");
                return Ok(());
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = heads
                    .iter()
                    .zip(&self.validateers)
                    .map(|(head, v)| match head {
                        Ok(h) => format!(
                            "{}: #{} {} (state root {}, {} in its pool)",
                            v.url, h.number, h.hash, h.state_root, h.pool
                        ),
                        Err(e) => format!("{}: {e}", v.url),
                    })
                    .collect();
                bail!(
                    "the validateers did not agree on the shard's head within {SETTLE_TIMEOUT:?}:\n  {}",
                    seen.join("\n  ")
                );
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// Each validateer's head of the shard, or why it did not tell.
    async fn heads(&self) -> Vec<Result<Head, String>> {
        let shard = format!("0x{}", hex::encode(self.validateers[0].trusted.shard));
        let mut heads = Vec::with_capacity(self.validateers.len());
        for v in &self.validateers {
            let head: Result<Head, _> = v.peer.request("sidechain_head", rpc_params![shard.clone()]).await;
            heads.push(head.map_err(|e| e.to_string()));
        }
        heads
    }

    /// `cloister next-phase`, then waits until the shard shows the new phase (polling the
    /// public `ceremony` getter) and prints what it shows.
    async fn next_phase(&mut self) -> anyhow::Result<()> {
        let report = self.run(0, vec!["next-phase".into()], Expect::Success).await?;
        let phase = match report.json["phase"].as_str() {
            Some("Registering") => CeremonyPhaseType::Registering,
            Some("Assigning") => CeremonyPhaseType::Assigning,
            Some("Attesting") => CeremonyPhaseType::Attesting,
            other => bail!("next-phase reported no phase: {other:?}"),
        };
        let cindex = report.json["ceremony_index"]
            .as_u64()
            .and_then(|c| CeremonyIndexType::try_from(c).ok())
            .ok_or_else(|| anyhow!("next-phase reported no ceremony index"))?;
        self.await_phase(phase, cindex).await
    }

    /// Polls `trusted ceremony //Alice CID` (on the validateer whose turn it is) until the shard
    /// shows `phase` of ceremony `cindex`, then waits until the validateers agree.
    async fn await_phase(&mut self, phase: CeremonyPhaseType, cindex: CeremonyIndexType) -> anyhow::Result<()> {
        let cid = self.community()?;
        let asker = Signer::from_suri(MANAGER)?;
        let via = self.take_turn();
        let deadline = Instant::now() + MIRROR_TIMEOUT;
        let view = loop {
            let view = fetch_ceremony(&self.validateers[via].trusted, &asker, cid).await?;
            if view.phase == phase && view.cindex == cindex {
                break view;
            }
            if Instant::now() > deadline {
                bail!("the shard did not mirror {phase:?} of ceremony {cindex} within {MIRROR_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let args = self.trusted_args(via, &["ceremony", MANAGER, &self.cid.clone()]);
        self.record(&args, &Ok(ceremony_report(cid, &view)));
        self.settle().await.with_context(|| format!("after the shard mirrored {phase:?} of ceremony {cindex}"))
    }

    fn community(&self) -> anyhow::Result<CommunityIdentifier> {
        crate::private_community::args::parse_cid(&self.cid).map_err(anyhow::Error::msg)
    }
}

/// Whether a trusted command is a call, which changes the shard, rather than a getter.
fn changes_state(action: &TrustedCommand) -> bool {
    use CommunityCommand as C;
    match action {
        TrustedCommand::Balance { .. } | TrustedCommand::Nonce { .. } => false,
        TrustedCommand::Transfer { .. } | TrustedCommand::ShieldFunds { .. } | TrustedCommand::UnshieldFunds { .. } => {
            true
        }
        TrustedCommand::Community(command) => match command {
            C::MakeCommunityPrivate { .. }
            | C::RegisterParticipant { .. }
            | C::UpgradeRegistration { .. }
            | C::UnregisterParticipant { .. }
            | C::EndorseNewcomer { .. }
            | C::AttestAttendees { .. }
            | C::ClaimRewards { .. } => true,
            C::Registration { .. }
            | C::Meetup { .. }
            | C::Reputation { .. }
            | C::Ceremony { .. }
            | C::ListParticipants { .. }
            | C::ListMeetups { .. }
            | C::ListAttestees { .. }
            | C::CommunityInfo { .. } => false,
        },
    }
}

/// Quotes an argument for a POSIX shell where it needs it.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "/_.:=,@+-%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// `cloister ARGS` as a user types it.
fn command_line(args: &[String]) -> String {
    std::iter::once("cloister".to_string()).chain(args.iter().map(|a| quote(a))).collect::<Vec<_>>().join(" ")
}

/// Runs the demo on a fresh dev network; with `keep`, leaves the network running afterwards.
/// Ctrl-C or SIGTERM stops the network (its validateers too) at any time.
pub async fn private_community(options: DemoOptions, out: Output) -> anyhow::Result<()> {
    anyhow::ensure!(options.validateers >= 1, "the demo needs at least one validateer");
    let started = Instant::now();
    let dev = DevOptions { phase_durations_ms: Some([PHASE_MS; 3]), ..DevOptions::on_free_ports(options.validateers)? };
    // Interrupted while starting, the network is dropped: its validateers stop with it.
    let Some(network) = unless_stopped(DevNetwork::start(&dev)).await? else {
        bail!("{INTERRUPTED}");
    };
    let mut network = network.context("starting the dev network")?;
    let startup = started.elapsed();
    let result = match unless_stopped(script(&network, out, started, startup)).await {
        Ok(Some(result)) => result,
        Ok(None) => {
            network.stop().await;
            bail!("{INTERRUPTED}");
        }
        Err(e) => {
            network.stop().await;
            return Err(e);
        }
    };
    let logs: Vec<String> = network.workers.iter().map(|w| w.log.display().to_string()).collect();
    match result {
        Ok(()) if options.keep => {
            if !out.json {
                println!("The network keeps running (Ctrl-C stops it); the commands above work as they are.");
            }
            until_stopped().await?;
            network.stop().await;
            Ok(())
        }
        Ok(()) => {
            network.stop().await;
            Ok(())
        }
        Err(e) => {
            network.keep_files();
            network.stop().await;
            let logs_at = match logs.as_slice() {
                [one] => format!("the validateer's log is {one}"),
                all => format!("the validateers' logs are {}", all.join(", ")),
            };
            Err(e.context(logs_at))
        }
    }
}

/// Why the demo ended early.
const INTERRUPTED: &str = "interrupted (Ctrl-C or SIGTERM); the network is stopped";

/// Runs `work` unless Ctrl-C or SIGTERM comes first (then `None`, `work` dropped).
async fn unless_stopped<T>(work: impl std::future::Future<Output = T>) -> anyhow::Result<Option<T>> {
    tokio::select! {
        done = work => Ok(Some(done)),
        stopped = until_stopped() => stopped.map(|()| None),
    }
}

/// The demo's steps.
async fn script(network: &DevNetwork, out: Output, started: Instant, startup: Duration) -> anyhow::Result<()> {
    let worker = network.worker().ok_or_else(|| anyhow!("the demo needs a validateer"))?;
    let node = NodeClient::connect(&network.node_url).await?;
    let mrenclave: Mrenclave = worker.mrenclave.parse().map_err(anyhow::Error::msg)?;
    let mut validateers = Vec::with_capacity(network.workers.len());
    for w in &network.workers {
        let trusted = TrustedClient::connect(&node, &w.url, mrenclave, None)
            .await
            .with_context(|| format!("connecting to validateer {} at {}", w.index, w.url))?;
        let peer = WsClientBuilder::default()
            .build(w.untrusted_url())
            .await
            .with_context(|| format!("connecting to validateer {}'s untrusted port {}", w.index, w.untrusted_url()))?;
        validateers.push(Validateer { url: w.url.clone(), trusted, peer });
    }
    let accounts: Vec<(&str, String)> = BOOTSTRAPPERS
        .iter()
        .chain([&NEWBIE])
        .map(|suri| Ok((*suri, ss58(&Signer::from_suri(suri)?.account()))))
        .collect::<Result<_, crate::signer::AccountError>>()?;
    name_account(Signer::from_suri(NEWBIE)?.account(), "Cora");
    print_header(network, out, &worker.mrenclave, &accounts, startup);
    let mut s = Session {
        node,
        validateers,
        turns: 0,
        out,
        mrenclave: worker.mrenclave.clone(),
        cid: String::new(),
        section: "setup",
        steps: 0,
    };

    s.section("setup", "A public community on the parentchain, made private on the validateer's shard.");
    let spec = network.base.join("demo-community.toml");
    std::fs::write(&spec, COMMUNITY_SPEC).with_context(|| format!("writing {}", spec.display()))?;
    let spec = spec.to_str().ok_or_else(|| anyhow!("the temporary directory's path is not UTF-8"))?.to_string();
    let created = s.run(0, vec!["new-community".into(), spec], Expect::Success).await?;
    s.cid = created.json["cid"].as_str().ok_or_else(|| anyhow!("new-community printed no cid"))?.to_string();
    let cid_text = s.cid.clone();
    let cid = cid_text.as_str();
    s.note("the shard mirrors the parentchain's ceremony schedule from its finalized blocks");
    s.await_phase(CeremonyPhaseType::Registering, 1).await?;
    s.trusted(&["make-community-private", MANAGER, cid], Expect::Success).await?;

    s.section(
        "ceremony 1",
        "Bootstrapping. While the community's currency has no issuance, the pallets register \
         bootstrappers only, so a newbie must wait for the first rewards.",
    );
    s.trusted(&["register-participant", NEWBIE, cid], Expect::Refusal("OnlyBootstrappers")).await?;
    for who in BOOTSTRAPPERS {
        s.trusted(&["register-participant", who, cid], Expect::Success).await?;
    }
    s.next_phase().await?;
    s.next_phase().await?;
    for who in BOOTSTRAPPERS {
        let others: Vec<&str> = BOOTSTRAPPERS.iter().copied().filter(|o| *o != who).collect();
        s.trusted(&[&["attest-attendees", who, cid][..], &others].concat(), Expect::Success).await?;
    }
    s.trusted(&["claim-rewards", "//Bob", cid], Expect::Success).await?;
    s.next_phase().await?;

    s.section(
        "ceremony 2",
        "The seed's demo: three bootstrappers and a newbie; only the manager sees who, where and whom.",
    );
    for who in BOOTSTRAPPERS.iter().chain([&NEWBIE]) {
        s.trusted(&["register-participant", who, cid], Expect::Success).await?;
    }
    s.trusted(&["list-participants", MANAGER, cid], Expect::Success).await?;
    s.note("anybody else asking for the participants is refused");
    s.trusted(&["list-participants", "//Bob", cid], Expect::Refusal("not authorized")).await?;
    s.next_phase().await?;
    s.trusted(&["list-meetups", MANAGER, cid], Expect::Success).await?;
    s.note("a participant sees its own meetup: where, when and how many, not who");
    s.trusted(&["meetup", NEWBIE, cid], Expect::Success).await?;
    s.next_phase().await?;
    let everyone: Vec<&str> = BOOTSTRAPPERS.iter().copied().chain([NEWBIE]).collect();
    for who in &everyone {
        let others: Vec<&str> = everyone.iter().copied().filter(|o| o != who).collect();
        s.trusted(&[&["attest-attendees", who, cid][..], &others].concat(), Expect::Success).await?;
    }
    s.trusted(&["list-attestees", MANAGER, cid], Expect::Success).await?;
    let meetup = meetup_of(&s, "//Bob").await?;
    s.trusted(&["claim-rewards", "//Bob", cid, "--meetup", &meetup.to_string()], Expect::Success).await?;
    s.trusted(&["community-info", MANAGER, cid], Expect::Success).await?;
    s.trusted(&["reputation", NEWBIE, cid], Expect::Success).await?;

    s.section(
        "balances",
        "Community currency lives only in the shard: the newbie holds one nominal income, each \
         bootstrapper two (less demurrage); Bob has no native funds on the shard.",
    );
    for who in &everyone {
        s.trusted(&["balance", who, "--cid", cid], Expect::Success).await?;
    }
    s.trusted(&["balance", "//Bob"], Expect::Success).await?;

    s.section("demurrage", "Balances decay with every parentchain block.");
    let bob = Signer::from_suri("//Bob")?;
    let community = s.community()?;
    let before = fetch_cc_balance(s.upcoming(), &bob, community).await?;
    wait_for_blocks(&s, DEMURRAGE_BLOCKS, &bob, community, before).await?;
    s.note(&format!("{DEMURRAGE_BLOCKS} parentchain blocks later, without any transaction"));
    s.trusted(&["balance", "//Bob", "--cid", cid], Expect::Success).await?;
    s.note("and the currency moves privately");
    s.trusted(&["transfer", NEWBIE, "//Bob", "0.5", "--cid", cid], Expect::Success).await?;
    s.trusted(&["balance", NEWBIE, "--cid", cid], Expect::Success).await?;

    let seconds = started.elapsed().as_secs_f64();
    out.print(
        format!(
            "\nThe demo ran {} commands in {seconds:.1} s (the network started in {:.1} s).",
            s.steps,
            startup.as_secs_f64()
        ),
        json!({ "done": true, "steps": s.steps, "seconds": seconds, "startup_seconds": startup.as_secs_f64(), "cid": cid }),
    );
    Ok(())
}

/// What the demo runs on, and who takes part.
fn print_header(network: &DevNetwork, out: Output, mrenclave: &str, accounts: &[(&str, String)], startup: Duration) {
    let worker_url = network.worker().map(|w| w.url.clone()).unwrap_or_default();
    let worker_urls: Vec<&str> = network.workers.iter().map(|w| w.url.as_str()).collect();
    let worker_logs: Vec<String> = network.workers.iter().map(|w| w.log.display().to_string()).collect();
    let turns = if network.workers.len() > 1 {
        let list: Vec<String> = network
            .workers
            .iter()
            .map(|w| format!("\n  validateer {}: {} (log {})", w.index, w.url, w.log.display()))
            .collect();
        format!(
            "\nIts {} validateers take turns with the trusted commands, each naming its validateer with \
             --worker-url:{}",
            network.workers.len(),
            list.concat()
        )
    } else {
        String::new()
    };
    let roles = |suri: &str| match suri {
        "//Alice" => "sudo of the parentchain, bootstrapper, the community's manager",
        s if s == NEWBIE => "a newbie, with no funds anywhere",
        _ => "bootstrapper",
    };
    let lines: Vec<String> = accounts.iter().map(|(suri, a)| format!("  {suri:<9} {a}  {}", roles(suri))).collect();
    out.print(
        format!(
            "Private community demo on a fresh dev network, started in {:.1} s.\n\
             The commands below run against it with:\n  export CLOISTER_NODE_URL={} CLOISTER_WORKER_URL={worker_url}\n\
             The shard is the MRENCLAVE {mrenclave}.{turns}\nAccounts:\n{}",
            startup.as_secs_f64(),
            network.node_url,
            lines.join("\n")
        ),
        json!({
            "network": {
                "node_url": network.node_url,
                "worker_url": worker_url,
                "worker_urls": worker_urls,
                "worker_logs": worker_logs,
                "mrenclave": mrenclave,
                "shard": mrenclave,
            },
            "accounts": accounts
                .iter()
                .map(|(suri, a)| json!({ "suri": suri, "account": a, "name": crate::signer::parse_account(a).ok().and_then(|a| name_of(&a)) }))
                .collect::<Vec<_>>(),
        }),
    );
}

/// The meetup `who` is in, from the manager's list (to claim it by index).
async fn meetup_of(s: &Session, who: &str) -> anyhow::Result<u64> {
    let manager = Signer::from_suri(MANAGER)?;
    let account = Signer::from_suri(who)?.account();
    let meetups = fetch_meetups(s.upcoming(), &manager, s.community()?, None).await?;
    meetups
        .iter()
        .find(|m| m.participants.contains(&account))
        .map(|m| m.index)
        .ok_or_else(|| anyhow!("{who} is in no meetup"))
}

/// Waits until `blocks` more parentchain blocks are final and the shard has seen them (its
/// answer for `who`'s balance fell below `before`).
async fn wait_for_blocks(
    s: &Session,
    blocks: u32,
    who: &Signer,
    cid: CommunityIdentifier,
    before: BalanceType,
) -> anyhow::Result<()> {
    let start = finalized_number(&s.node).await?;
    let deadline = Instant::now() + MIRROR_TIMEOUT;
    loop {
        let now = finalized_number(&s.node).await?;
        if now >= start + blocks && fetch_cc_balance(s.upcoming(), who, cid).await? < before {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "no demurrage after {} blocks: the balance stayed at {} (parentchain #{start} → #{now})",
                now.saturating_sub(start),
                amount(before)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The number of the node's finalized block.
async fn finalized_number(node: &NodeClient) -> anyhow::Result<u32> {
    let hash = node.finalized_hash().await?;
    let header: Option<cloister_primitives::Header> =
        jsonrpsee::core::client::ClientT::request(node.rpc(), "chain_getHeader", jsonrpsee::rpc_params![hash]).await?;
    Ok(header.ok_or_else(|| anyhow!("the node has no header for its finalized block"))?.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_read_as_typed() {
        let args: Vec<String> = ["trusted", "--mrenclave", "0xab", "register-participant", "//Bob", "sqm1v79dF6b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(command_line(&args), "cloister trusted --mrenclave 0xab register-participant //Bob sqm1v79dF6b");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn every_demo_command_parses() {
        let spec = "/tmp/spec.toml";
        for args in [
            vec!["new-community", spec],
            vec!["next-phase"],
            vec!["trusted", "--mrenclave", "0x00", "make-community-private", MANAGER, "sqm1v79dF6b"],
            vec!["trusted", "--mrenclave", "0x00", "attest-attendees", "//Bob", "sqm1v79dF6b", "//Alice", "//Cora"],
            vec!["trusted", "--mrenclave", "0x00", "claim-rewards", "//Bob", "sqm1v79dF6b", "--meetup", "1"],
            vec!["trusted", "--mrenclave", "0x00", "balance", "//Bob", "--cid", "sqm1v79dF6b"],
            vec!["trusted", "--mrenclave", "0x00", "transfer", "//Cora", "//Bob", "0.5", "--cid", "sqm1v79dF6b"],
            vec![
                "--worker-url",
                "wss://127.0.0.1:2010",
                "trusted",
                "--mrenclave",
                "0x00",
                "meetup",
                "//Cora",
                "sqm1v79dF6b",
            ],
        ] {
            let parsed = Cli::try_parse_from(std::iter::once("cloister").chain(args.iter().copied()));
            assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err().map(|e| e.to_string()));
        }
    }

    #[test]
    fn the_demo_needs_at_least_one_validateer() {
        assert_eq!(parse_validateers("3"), Ok(3));
        assert!(parse_validateers("0").is_err());
        assert!(parse_validateers("-1").is_err());
        assert!(parse_validateers("many").is_err());
    }

    #[test]
    fn only_calls_wait_for_the_validateers_to_agree() {
        let action = |args: &[&str]| {
            let cli =
                Cli::try_parse_from(["cloister", "trusted", "--mrenclave", "0x00"].iter().chain(args)).expect("parses");
            match cli.command {
                Command::Trusted { action, .. } => action,
                other => panic!("{other:?}"),
            }
        };
        assert!(changes_state(&action(&["register-participant", "//Bob", "sqm1v79dF6b"])));
        assert!(changes_state(&action(&["transfer", "//Cora", "//Bob", "0.5", "--cid", "sqm1v79dF6b"])));
        assert!(!changes_state(&action(&["list-participants", "//Alice", "sqm1v79dF6b"])));
        assert!(!changes_state(&action(&["balance", "//Bob", "--cid", "sqm1v79dF6b"])));
    }

    #[test]
    fn the_demo_community_spec_is_valid() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("demo.toml");
        std::fs::write(&path, COMMUNITY_SPEC).expect("write");
        let spec = crate::community::CommunitySpec::from_file(&path).expect("parses");
        assert_eq!(spec.calls().expect("valid").len(), 2);
    }
}
