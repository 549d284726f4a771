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
//! The encointer pallets register only bootstrappers while a community's currency has no
//! issuance (`OnlyBootstrappers`), so the demo runs two ceremonies: the bootstrappers' first
//! pays the first rewards, then a newbie joins the second, which is the seed's demo.

use crate::{
    chain::{self, CommandError},
    cli::{run_trusted, Cli, Command},
    dev::{until_stopped, DevNetwork, DevOptions},
    output::{Output, Report},
    private_community::{
        getters::{ceremony_report, fetch_cc_balance, fetch_ceremony, fetch_meetups},
        render::{amount, name_account, name_of},
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
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Options of `cloister demo private-community`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoOptions {
    /// Leave the network running afterwards, until Ctrl-C.
    pub keep: bool,
}

/// Each ceremony phase of the demo's chain lasts a week: no wall-clock boundary comes near.
const PHASE_MS: u64 = 7 * cloister_runtime::MOMENTS_PER_DAY;
/// How long the shard may take to mirror a parentchain change.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(60);
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

/// The demo's session: its clients and the steps printed so far.
struct Session {
    node: NodeClient,
    trusted: TrustedClient,
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

    /// `trusted --mrenclave M` followed by `args`.
    fn trusted_args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["trusted".to_string(), "--mrenclave".into(), self.mrenclave.clone()];
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

    /// Runs `cloister ARGS` as the command line would, prints it, and checks the outcome.
    async fn run(&mut self, args: Vec<String>, expect: Expect) -> anyhow::Result<Report> {
        let cli = Cli::try_parse_from(std::iter::once("cloister".to_string()).chain(args.iter().cloned()))
            .map_err(|e| anyhow!("the demo's command `{}` does not parse: {e}", command_line(&args)))?;
        let result = match cli.command {
            Command::Trusted { action, .. } => run_trusted(&self.node, &self.trusted, action).await,
            Command::NextPhase { sudo } => {
                chain::advance_phase(&self.node, &sudo).await.map(|s| chain::schedule_report(&s))
            }
            Command::NewCommunity { spec, signer } => chain::create_community(&self.node, &spec, &signer).await,
            other => bail!("the demo does not run {other:?}"),
        };
        self.record(&args, &result);
        match (expect, result) {
            (Expect::Success, Ok(report)) => Ok(report),
            (Expect::Success, Err(e)) => Err(anyhow!("`{}` failed: {e}", command_line(&args))),
            (Expect::Refusal(why), Err(e)) if e.is_refusal() && e.to_string().contains(why) => {
                Ok(Report::new(e.to_string(), json!({ "error": e.to_string() })))
            }
            (Expect::Refusal(why), other) => Err(anyhow!(
                "`{}` should have been refused with {why}, but came to {:?}",
                command_line(&args),
                other.map(|r| r.human)
            )),
        }
    }

    /// `cloister trusted --mrenclave M ARGS`.
    async fn trusted(&mut self, args: &[&str], expect: Expect) -> anyhow::Result<Report> {
        let args = self.trusted_args(args);
        self.run(args, expect).await
    }

    /// `cloister next-phase`, then waits until the shard shows the new phase (polling the
    /// public `ceremony` getter) and prints what it shows.
    async fn next_phase(&mut self) -> anyhow::Result<()> {
        let report = self.run(vec!["next-phase".into()], Expect::Success).await?;
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

    /// Polls `trusted ceremony //Alice CID` until the shard shows `phase` of ceremony `cindex`.
    async fn await_phase(&mut self, phase: CeremonyPhaseType, cindex: CeremonyIndexType) -> anyhow::Result<()> {
        let cid = self.community()?;
        let asker = Signer::from_suri(MANAGER)?;
        let deadline = Instant::now() + MIRROR_TIMEOUT;
        let view = loop {
            let view = fetch_ceremony(&self.trusted, &asker, cid).await?;
            if view.phase == phase && view.cindex == cindex {
                break view;
            }
            if Instant::now() > deadline {
                bail!("the shard did not mirror {phase:?} of ceremony {cindex} within {MIRROR_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let args = self.trusted_args(&["ceremony", MANAGER, &self.cid.clone()]);
        self.record(&args, &Ok(ceremony_report(cid, &view)));
        Ok(())
    }

    fn community(&self) -> anyhow::Result<CommunityIdentifier> {
        crate::private_community::args::parse_cid(&self.cid).map_err(anyhow::Error::msg)
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
pub async fn private_community(options: DemoOptions, out: Output) -> anyhow::Result<()> {
    let started = Instant::now();
    let dev = DevOptions { phase_durations_ms: Some([PHASE_MS; 3]), ..DevOptions::on_free_ports(1)? };
    let mut network = DevNetwork::start(&dev).await.context("starting the dev network")?;
    let startup = started.elapsed();
    let result = script(&network, out, started, startup).await;
    let log = crate::dev::worker_log(&network.base, 0);
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
            Err(e.context(format!("the validateer's log is {}", log.display())))
        }
    }
}

/// The demo's steps.
async fn script(network: &DevNetwork, out: Output, started: Instant, startup: Duration) -> anyhow::Result<()> {
    let worker = network.worker().ok_or_else(|| anyhow!("the demo needs a validateer"))?;
    let node = NodeClient::connect(&network.node_url).await?;
    let mrenclave: Mrenclave = worker.mrenclave.parse().map_err(anyhow::Error::msg)?;
    let trusted = TrustedClient::connect(&node, &worker.url, mrenclave, None).await?;
    let accounts: Vec<(&str, String)> = BOOTSTRAPPERS
        .iter()
        .chain([&NEWBIE])
        .map(|suri| Ok((*suri, ss58(&Signer::from_suri(suri)?.account()))))
        .collect::<Result<_, crate::signer::AccountError>>()?;
    name_account(Signer::from_suri(NEWBIE)?.account(), "Cora");
    print_header(network, out, &worker.mrenclave, &accounts, startup);
    let mut s = Session {
        node,
        trusted,
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
    let created = s.run(vec!["new-community".into(), spec], Expect::Success).await?;
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
    let before = fetch_cc_balance(&s.trusted, &bob, community).await?;
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
             The shard is the MRENCLAVE {mrenclave}.\nAccounts:\n{}",
            startup.as_secs_f64(),
            network.node_url,
            lines.join("\n")
        ),
        json!({
            "network": {
                "node_url": network.node_url,
                "worker_url": worker_url,
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
    let meetups = fetch_meetups(&s.trusted, &manager, s.community()?, None).await?;
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
        if now >= start + blocks && fetch_cc_balance(&s.trusted, who, cid).await? < before {
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
        ] {
            let parsed = Cli::try_parse_from(std::iter::once("cloister").chain(args.iter().copied()));
            assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err().map(|e| e.to_string()));
        }
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
