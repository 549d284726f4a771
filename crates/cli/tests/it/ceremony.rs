//! What the tests of private communities share: a dev node whose ceremony phases last a week, a
//! public community founded with `cloister new-community`, the real `cloister` commands with
//! their JSON answers, and waiting until the shard mirrors a parentchain phase.
//!
//! The dev chain changes phase on a 20-minute wall-clock grid; a test that moves the ceremony
//! with `next-phase` would lose a phase under it whenever it runs across a boundary. With
//! week-long phases ([`long_phase_node`]) only the test moves the ceremony.

use anyhow::{anyhow, ensure, Context, Result};
use cloister_cli::{
    private_community::{args::parse_cid, getters::fetch_ceremony},
    rpc_client::NodeClient,
    signer::Signer,
    trusted::TrustedClient,
};
use cloister_node::chain_spec::ChainSpec;
use cloister_testkit::{wait_for, NodeOptions, NodeProcess};
use encointer_primitives::{communities::CommunityIdentifier, scheduler::CeremonyPhaseType};
use serde_json::Value;
use std::{path::Path, time::Duration};

/// A ceremony phase of the long-phase chain: a week.
pub const WEEK_MS: u64 = 7 * cloister_runtime::MOMENTS_PER_DAY;
/// How long the shard may take to mirror a parentchain phase change.
const MIRROR_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts a `--dev` node (Alice authors and finalizes alone) on a chain spec file of the dev
/// chain with week-long phases. The returned directory holds the spec: it must outlive the node,
/// which reads it again when restarted.
pub async fn long_phase_node() -> Result<(NodeProcess, tempfile::TempDir)> {
    let dir = tempfile::Builder::new().prefix("cloister-long-phases").tempdir()?;
    let path = dir.path().join("dev-week-phases.json");
    std::fs::write(&path, ChainSpec::dev_with_phase_durations([WEEK_MS; 3]).to_json())?;
    let chain = path.to_str().context("a temporary path that is not UTF-8")?.to_string();
    let options = NodeOptions { chain: Some(chain), extra: vec!["--dev".into()], ..NodeOptions::default() };
    Ok((NodeProcess::start(options).await?, dir))
}

/// The real `cloister` binary against one network (node, validateer, MRENCLAVE), and a
/// library client of its enclave for polling.
pub struct Commands {
    node_url: String,
    worker_url: String,
    mrenclave: String,
    /// A client of the node.
    pub node: NodeClient,
    /// A client of the enclave.
    pub trusted: TrustedClient,
}

/// Parses the one JSON object a `--json` command printed.
fn json_of(command: &str, ok: bool, out: &str, err: &str) -> Result<Value> {
    ensure!(ok, "`cloister {command}` failed: {out}{err}");
    serde_json::from_str(out.trim()).with_context(|| format!("`cloister {command}` printed no JSON: {out}"))
}

impl Commands {
    /// Connects to the node and the enclave.
    pub async fn connect(node_url: &str, worker_url: &str, mrenclave: &str) -> Result<Self> {
        let node = NodeClient::connect(node_url).await?;
        let parsed = mrenclave.parse().map_err(anyhow::Error::msg)?;
        let trusted = TrustedClient::connect(&node, worker_url, parsed, None).await?;
        Ok(Self {
            node_url: node_url.to_string(),
            worker_url: worker_url.to_string(),
            mrenclave: mrenclave.to_string(),
            node,
            trusted,
        })
    }

    /// `cloister --json ARGS`: a parentchain command's JSON answer.
    pub fn chain(&self, args: &[&str]) -> Result<Value> {
        let all: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        let (ok, out, err) = cloister_testkit::cloister(&self.node_url, &all);
        json_of(&args.join(" "), ok, &out, &err)
    }

    /// `cloister trusted --mrenclave M ARGS`: success and what it printed on stdout and stderr.
    pub fn trusted_output(&self, args: &[&str]) -> (bool, String, String) {
        cloister_testkit::worker::trusted(&self.node_url, &self.worker_url, &self.mrenclave, args)
    }

    /// `cloister trusted --mrenclave M --json ARGS`: a shard command's JSON answer.
    pub fn trusted(&self, args: &[&str]) -> Result<Value> {
        let all: Vec<&str> = std::iter::once("--json").chain(args.iter().copied()).collect();
        let (ok, out, err) = self.trusted_output(&all);
        json_of(&format!("trusted {}", args.join(" ")), ok, &out, &err)
    }

    /// `cloister trusted --mrenclave M ARGS` as a user reads it (text).
    pub fn trusted_text(&self, args: &[&str]) -> Result<String> {
        let (ok, out, err) = self.trusted_output(args);
        ensure!(ok, "`cloister trusted {}` failed: {out}{err}", args.join(" "));
        Ok(out)
    }

    /// Founds a public community from `spec` (TOML, written to `path`) with `cloister
    /// new-community`; returns its identifier as printed and parsed.
    pub fn new_community(&self, path: &Path, spec: &str) -> Result<(String, CommunityIdentifier)> {
        std::fs::write(path, spec)?;
        let path = path.to_str().context("a temporary path that is not UTF-8")?;
        let created = self.chain(&["new-community", path])?;
        let cid = created["cid"].as_str().ok_or_else(|| anyhow!("new-community printed no cid: {created}"))?;
        Ok((cid.to_string(), parse_cid(cid).map_err(anyhow::Error::msg)?))
    }

    /// `cloister next-phase`, then waits until the shard mirrors it. Returns the parentchain's
    /// answer (phase, ceremony index, next phase timestamp).
    pub async fn next_phase(&self, cid: CommunityIdentifier) -> Result<Value> {
        let schedule = self.chain(&["next-phase"])?;
        let phase = match schedule["phase"].as_str() {
            Some("Registering") => CeremonyPhaseType::Registering,
            Some("Assigning") => CeremonyPhaseType::Assigning,
            Some("Attesting") => CeremonyPhaseType::Attesting,
            _ => return Err(anyhow!("next-phase reported no phase: {schedule}")),
        };
        let cindex = schedule["ceremony_index"]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or_else(|| anyhow!("next-phase reported no ceremony index: {schedule}"))?;
        self.await_phase(cid, phase, cindex).await?;
        Ok(schedule)
    }

    /// Polls the public `ceremony` getter until the shard shows `phase` of ceremony `cindex`.
    pub async fn await_phase(&self, cid: CommunityIdentifier, phase: CeremonyPhaseType, cindex: u32) -> Result<()> {
        let asker = Signer::from_suri("//Alice")?;
        wait_for(&format!("the shard to mirror {phase:?} of ceremony {cindex}"), MIRROR_TIMEOUT, || async {
            let view = fetch_ceremony(&self.trusted, &asker, cid).await.ok()?;
            (view.phase == phase && view.cindex == cindex).then_some(())
        })
        .await
    }
}
