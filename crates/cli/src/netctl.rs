//! `cloister network up|down|status DIR`: a deployment bundle run on one machine.
//!
//! [`up`] starts one background `cloister-node --config nodes/node-K/node.toml` process per node
//! of the bundle, listening for peers on 127.0.0.1 and booting from the other nodes' local
//! addresses, with its output in `nodes/node-K/node.log` and its pid in `nodes/node-K/node.pid`;
//! it returns once every node's RPC server answers HTTP. Then it starts the bundle's validateers
//! ([`validateers`]): validateer-1 first, the others once it logs `validateer ready`, each with
//! `worker.log` and `worker.pid` in `validateers/validateer-K/`. [`status`] asks each node's RPC
//! for its best and finalized block (a restricted chain answers only requests with a token: its
//! heights then show as unknown) and each validateer's metrics for its sidechain height; [`down`]
//! stops the validateers, then the nodes, with SIGTERM, then SIGKILL after a grace period.
//!
//! A pid file is trusted only while `/proc/PID/cmdline` is a `cloister-node` run with that
//! node's config file (a worker run on that validateer's base path), so a recycled pid is never
//! signalled.

pub mod validateers;

pub use validateers::{Validateer, ValidateerStatus};

use crate::output::Output;
use cloister_network::{peer_id, read_node_key, NodeKeyError};
use cloister_node::{
    cli::{CliError, ConfigFile},
    config::{DEFAULT_P2P_PORT, DEFAULT_RPC_PORT},
};
use jsonrpsee::{core::client::ClientT, rpc_params, ws_client::WsClientBuilder};
use nix::{sys::signal::Signal, unistd::Pid};
use serde::Serialize;
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// Environment variable naming the `cloister-node` binary to run.
pub const NODE_BIN_ENV: &str = "CLOISTER_NODE_BIN";

/// Errors running a bundle.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// DIR is not a bundle.
    #[error("{} is not a deployment bundle: {reason}", dir.display())]
    NotABundle {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A node's config file cannot be read.
    #[error(transparent)]
    Config(#[from] CliError),
    /// A node's p2p key cannot be read.
    #[error(transparent)]
    NodeKey(#[from] NodeKeyError),
    /// No `cloister-node` binary was found.
    #[error("cannot find cloister-node: put it next to cloister, on PATH, or name it in {NODE_BIN_ENV}")]
    NoNodeBinary,
    /// A node process cannot be started.
    #[error("cannot start {node}: {source}")]
    Spawn {
        /// The node.
        node: String,
        /// Why.
        source: std::io::Error,
    },
    /// A node stopped while starting.
    #[error("{node} exited while starting ({status}); the end of {}:\n{tail}", log.display())]
    Exited {
        /// The node.
        node: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        tail: String,
    },
    /// A validateer did not log that it is ready in time.
    #[error("{name} did not log 'validateer ready' within {timeout:?}; see {}", log.display())]
    NotReady {
        /// The validateer.
        name: String,
        /// How long we waited.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// A node's RPC did not answer in time.
    #[error("{node}'s RPC at {url} did not answer within {timeout:?}; see {}", log.display())]
    Timeout {
        /// The node.
        node: String,
        /// Its RPC URL.
        url: String,
        /// How long we waited.
        timeout: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// A file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A process cannot be signalled.
    #[error("cannot signal {node} (pid {pid}): {source}")]
    Signal {
        /// The node.
        node: String,
        /// Its pid.
        pid: u32,
        /// Why.
        source: nix::Error,
    },
}

/// One node of a bundle on disk.
#[derive(Clone, Debug)]
pub struct BundleNode {
    /// Its name (`name` in node.toml, else the directory name).
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its `node.toml` (absolute).
    pub config: PathBuf,
    /// Its libp2p port.
    pub p2p_port: u16,
    /// Its RPC port.
    pub rpc_port: u16,
    /// Its peer id.
    pub peer_id: String,
}

impl BundleNode {
    /// `ws://127.0.0.1:RPC_PORT`.
    pub fn rpc_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.rpc_port)
    }

    /// `/ip4/127.0.0.1/tcp/P2P_PORT/p2p/PEER_ID`.
    pub fn local_addr(&self) -> String {
        format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", self.p2p_port, self.peer_id)
    }

    /// Its pid file.
    pub fn pid_file(&self) -> PathBuf {
        Managed::pid_file(self)
    }

    /// Its log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("node.log")
    }

    /// The pid of its running process, if it runs.
    pub fn running_pid(&self) -> Option<u32> {
        Managed::running_pid(self)
    }
}

/// A process of a bundle that `network` starts and stops: a node or a validateer.
pub trait Managed {
    /// Its name.
    fn name(&self) -> &str;
    /// Its pid file.
    fn pid_file(&self) -> PathBuf;
    /// Whether `pid` is its live process.
    fn is_ours(&self, pid: u32) -> bool;

    /// The pid of its running process, if it runs.
    fn running_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.pid_file()).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        self.is_ours(pid).then_some(pid)
    }
}

impl Managed for BundleNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("node.pid")
    }

    fn is_ours(&self, pid: u32) -> bool {
        is_node_process(pid, &self.config)
    }
}

/// The nodes of the bundle in `dir` (`nodes/node-K/node.toml`), node-1 first.
pub fn read_bundle(dir: &Path) -> Result<Vec<BundleNode>, NetError> {
    let not_a_bundle = |reason: String| NetError::NotABundle { dir: dir.into(), reason };
    let dir = std::fs::canonicalize(dir).map_err(|e| not_a_bundle(e.to_string()))?;
    let nodes_dir = dir.join("nodes");
    let entries = std::fs::read_dir(&nodes_dir).map_err(|e| not_a_bundle(format!("nodes/: {e}")))?;
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| NetError::Io { path: nodes_dir.clone(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let index = name.strip_prefix("node-").and_then(|k| k.parse::<u32>().ok());
        if let Some(index) = index.filter(|_| entry.path().join("node.toml").is_file()) {
            found.push((index, entry.path()));
        }
    }
    if found.is_empty() {
        return Err(not_a_bundle("no nodes/node-K/node.toml".into()));
    }
    found.sort();
    found.into_iter().map(|(_, node_dir)| read_node(&node_dir)).collect()
}

fn read_node(dir: &Path) -> Result<BundleNode, NetError> {
    let config_path = dir.join("node.toml");
    let config = ConfigFile::load(&config_path)?;
    let key_file = config
        .node_key_file
        .clone()
        .ok_or_else(|| NetError::NotABundle { dir: dir.into(), reason: "node.toml names no node-key-file".into() })?;
    let key = read_node_key(&key_file)?;
    let fallback = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(BundleNode {
        name: config.name.clone().unwrap_or(fallback),
        dir: dir.to_path_buf(),
        config: config_path,
        p2p_port: config.port.unwrap_or(DEFAULT_P2P_PORT),
        rpc_port: config.rpc_port.unwrap_or(DEFAULT_RPC_PORT),
        peer_id: peer_id(&key).to_string(),
    })
}

/// Whether `pid` is a live `cloister-node --config CONFIG` process.
fn is_node_process(pid: u32, config: &Path) -> bool {
    cmdline_has(pid, b"--config", config.as_os_str().as_encoded_bytes())
}

/// Whether `pid` is a live process whose command line holds `flag` followed by `value`.
fn cmdline_has(pid: u32, flag: &[u8], value: &[u8]) -> bool {
    if pid <= 1 || i32::try_from(pid).is_err() {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.windows(2).any(|w| w[0] == flag && w[1] == value)
        }
        // Without /proc (not Linux): trust the pid file while the process exists.
        Err(_) if !Path::new("/proc/self").exists() => nix::sys::signal::kill(pid_of(pid), None).is_ok(),
        Err(_) => false,
    }
}

fn pid_of(pid: u32) -> Pid {
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// The `cloister-node` binary: `CLOISTER_NODE_BIN`, else next to this executable, else on PATH.
pub fn node_binary() -> Result<PathBuf, NetError> {
    if let Some(bin) = std::env::var_os(NODE_BIN_ENV).filter(|b| !b.is_empty()) {
        return Ok(bin.into());
    }
    let sibling = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("cloister-node")));
    if let Some(sibling) = sibling.filter(|p| p.is_file()) {
        return Ok(sibling);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("cloister-node"))
        .find(|p| p.is_file())
        .ok_or(NetError::NoNodeBinary)
}

/// What `network status` reports of one node.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NodeStatus {
    /// The node's name.
    pub name: String,
    /// Its process id, while it runs.
    pub pid: Option<u32>,
    /// Its RPC URL.
    pub rpc_url: String,
    /// Best block number.
    pub best: Option<u64>,
    /// Finalized block number.
    pub finalized: Option<u64>,
    /// Finalized block hash.
    pub finalized_hash: Option<String>,
    /// Whether its process runs.
    pub running: bool,
}

/// What `network status` reports: the nodes, then the validateers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkStatus {
    /// The nodes, node-1 first.
    pub nodes: Vec<NodeStatus>,
    /// The validateers, validateer-1 first.
    pub validateers: Vec<ValidateerStatus>,
}

impl NetworkStatus {
    /// One JSON array: the nodes, then the validateers (which carry `"role": "validateer"`).
    pub fn to_json(&self) -> serde_json::Value {
        let nodes = self.nodes.iter().map(|s| serde_json::to_value(s).unwrap_or_default());
        let validateers = self.validateers.iter().map(|s| serde_json::to_value(s).unwrap_or_default());
        serde_json::Value::Array(nodes.chain(validateers).collect())
    }
}

/// Options of `network up`.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// How long to wait for each node's RPC.
    pub timeout: Duration,
    /// How long to wait for each validateer to be ready.
    pub validateer_timeout: Duration,
}

/// Starts every node of the bundle in `dir` that is not running and waits for their RPC, then
/// its validateers (validateer-1 first) and waits until they are ready.
///
/// If a node or a validateer does not come up, the processes this call started are stopped again.
pub async fn up(dir: &Path, options: &UpOptions) -> Result<NetworkStatus, NetError> {
    let nodes = read_bundle(dir)?;
    let canonical = std::fs::canonicalize(dir).map_err(|source| NetError::Io { path: dir.into(), source })?;
    let validateers = validateers::read_validateers(&canonical)?;
    let binary = node_binary()?;
    let mut started: Vec<(BundleNode, Child)> = Vec::new();
    for node in &nodes {
        if let Some(pid) = node.running_pid() {
            info!(target: "netctl", node = %node.name, pid, "already running");
            continue;
        }
        let others: Vec<String> = nodes.iter().filter(|n| n.dir != node.dir).map(BundleNode::local_addr).collect();
        match spawn(&binary, node, &others) {
            Ok(child) => started.push((node.clone(), child)),
            Err(e) => {
                stop_started(&mut started);
                return Err(e);
            }
        }
    }
    let deadline = Instant::now() + options.timeout;
    let mut failure = None;
    for (node, child) in started.iter_mut() {
        if let Err(e) = wait_ready(node, child, deadline, options.timeout).await {
            failure = Some(e);
            break;
        }
        info!(target: "netctl", node = %node.name, url = %node.rpc_url(), "node is up");
    }
    if failure.is_none() && !validateers.is_empty() {
        let worker = validateers::worker_binary(&canonical);
        failure = validateers::up(&worker, &validateers, options.validateer_timeout).await.err();
    }
    if let Some(e) = failure {
        stop_started(&mut started);
        return Err(e);
    }
    Ok(NetworkStatus {
        nodes: status_of(&nodes, bundle_reader(dir).as_ref()).await,
        validateers: validateers::status_of(&validateers).await,
    })
}

fn spawn(binary: &Path, node: &BundleNode, others: &[String]) -> Result<Child, NetError> {
    use std::os::unix::process::CommandExt;
    let io = |path: PathBuf| move |source| NetError::Io { path, source };
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(node.log_file()).map_err(io(node.log_file()))?;
    let log_err = log.try_clone().map_err(io(node.log_file()))?;
    let mut cmd = Command::new(binary);
    cmd.arg("--config").arg(&node.config).arg("--listen-addr").arg(format!("/ip4/127.0.0.1/tcp/{}", node.p2p_port));
    if !others.is_empty() {
        cmd.arg("--bootnodes").args(others);
    }
    // Its own process group: Ctrl-C in the terminal that ran `up` does not stop the network.
    // Plain text logs: they go to a file.
    cmd.env("NO_COLOR", "1").current_dir(&node.dir).stdin(Stdio::null()).stdout(log).stderr(log_err).process_group(0);
    let child = cmd.spawn().map_err(|source| NetError::Spawn { node: node.name.clone(), source })?;
    let pid_file = node.pid_file();
    std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(io(pid_file))?;
    info!(target: "netctl", node = %node.name, pid = child.id(), "started");
    Ok(child)
}

async fn wait_ready(
    node: &BundleNode,
    child: &mut Child,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), NetError> {
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(node.pid_file());
            return Err(NetError::Exited {
                node: node.name.clone(),
                status,
                log: node.log_file(),
                tail: log_tail(&node.log_file(), 20),
            });
        }
        if http_answers(node.rpc_port).await {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(NetError::Timeout {
                node: node.name.clone(),
                url: node.rpc_url(),
                timeout,
                log: node.log_file(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn stop_started(started: &mut Vec<(BundleNode, Child)>) {
    for (node, child) in started.iter_mut() {
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_file(node.pid_file());
        warn!(target: "netctl", node = %node.name, "stopped again because the network did not come up");
    }
    started.clear();
}

/// The last `lines` lines of a log file.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether an HTTP server answers on 127.0.0.1:`port`, whatever its status: a restricted chain
/// answers JSON-RPC only with a token, but its RPC server is up all the same.
async fn http_answers(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = "GET /genesis HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 8];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1."))
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), exchange).await, Ok(Some(true)))
}

/// Best number, finalized number and hash from a node's RPC; `None` if it does not answer.
async fn query(node: &BundleNode, reader: Option<&crate::signer::Signer>) -> Option<(u64, u64, String)> {
    let mut builder =
        WsClientBuilder::default().connection_timeout(Duration::from_secs(2)).request_timeout(Duration::from_secs(5));
    if let Some(reader) = reader {
        let url = node.rpc_url();
        let headers = tokio::time::timeout(Duration::from_secs(5), crate::rpc_client::auth_headers(&url, reader));
        builder = builder.set_headers(headers.await.ok()?.ok()?);
    }
    let client = builder.build(node.rpc_url()).await.ok()?;
    let best: serde_json::Value = client.request("chain_getHeader", rpc_params![]).await.ok()?;
    let hash: String = client.request("chain_getFinalizedHead", rpc_params![]).await.ok()?;
    let finalized: serde_json::Value = client.request("chain_getHeader", rpc_params![hash.clone()]).await.ok()?;
    Some((block_number(&best["number"])?, block_number(&finalized["number"])?, hash))
}

/// A header's number: `0x`-hex as Substrate sends it, or a plain JSON number.
fn block_number(value: &serde_json::Value) -> Option<u64> {
    value.as_u64().or_else(|| u64::from_str_radix(value.as_str()?.trim_start_matches("0x"), 16).ok())
}

/// The status of every node of the bundle in `dir`.
///
/// On a restricted chain the RPC wants a token of an account with READ: the bundle's sudo key
/// (`sudo.secret`, which holds every permission) signs one when it is still in the bundle.
pub async fn status(dir: &Path) -> Result<NetworkStatus, NetError> {
    let nodes = read_bundle(dir)?;
    let canonical = std::fs::canonicalize(dir).map_err(|source| NetError::Io { path: dir.into(), source })?;
    let validateers = validateers::read_validateers(&canonical)?;
    Ok(NetworkStatus {
        nodes: status_of(&nodes, bundle_reader(dir).as_ref()).await,
        validateers: validateers::status_of(&validateers).await,
    })
}

/// The bundle's sudo key, if its secret is still there.
fn bundle_reader(dir: &Path) -> Option<crate::signer::Signer> {
    let secret = std::fs::read_to_string(dir.join("sudo.secret")).ok()?;
    crate::signer::Signer::from_suri(secret.trim()).ok()
}

async fn status_of(nodes: &[BundleNode], reader: Option<&crate::signer::Signer>) -> Vec<NodeStatus> {
    let mut statuses = Vec::with_capacity(nodes.len());
    for node in nodes {
        let pid = node.running_pid();
        let heights = if pid.is_some() { query(node, reader).await } else { None };
        statuses.push(NodeStatus {
            name: node.name.clone(),
            pid,
            rpc_url: node.rpc_url(),
            best: heights.as_ref().map(|h| h.0),
            finalized: heights.as_ref().map(|h| h.1),
            finalized_hash: heights.map(|h| h.2),
            running: pid.is_some(),
        });
    }
    statuses
}

/// What `network down` did to one node.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Stopped {
    /// The node's name.
    pub name: String,
    /// The pid it ran as, if it was running.
    pub pid: Option<u32>,
    /// Whether it needed SIGKILL after the grace period.
    pub killed: bool,
}

/// Stops every running validateer, then every running node of the bundle in `dir`: SIGTERM,
/// then SIGKILL after `grace`. Processes that are not running are fine; every pid file is
/// removed. The report lists the validateers first.
pub async fn down(dir: &Path, grace: Duration) -> Result<Vec<Stopped>, NetError> {
    let nodes = read_bundle(dir)?;
    let canonical = std::fs::canonicalize(dir).map_err(|source| NetError::Io { path: dir.into(), source })?;
    let validateers = validateers::read_validateers(&canonical)?;
    let mut report = stop_all(&validateers, grace).await?;
    report.extend(stop_all(&nodes, grace).await?);
    Ok(report)
}

/// SIGTERM to every running process of `all`, SIGKILL to those still running after `grace`.
async fn stop_all<M: Managed>(all: &[M], grace: Duration) -> Result<Vec<Stopped>, NetError> {
    let mut running = Vec::new();
    for (i, process) in all.iter().enumerate() {
        if let Some(pid) = process.running_pid() {
            signal(process, pid, Signal::SIGTERM)?;
            running.push((i, pid));
        }
    }
    let deadline = Instant::now() + grace;
    let mut report = Vec::with_capacity(all.len());
    for (i, process) in all.iter().enumerate() {
        let name = process.name().to_string();
        let Some(pid) = running.iter().find(|(j, _)| *j == i).map(|(_, pid)| *pid) else {
            let _ = std::fs::remove_file(process.pid_file());
            report.push(Stopped { name, pid: None, killed: false });
            continue;
        };
        while process.is_ours(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let killed = process.is_ours(pid);
        if killed {
            warn!(target: "netctl", process = %name, pid, "did not stop within the grace period; SIGKILL");
            signal(process, pid, Signal::SIGKILL)?;
            let until = Instant::now() + Duration::from_secs(5);
            while process.is_ours(pid) && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let _ = std::fs::remove_file(process.pid_file());
        info!(target: "netctl", process = %name, pid, "stopped");
        report.push(Stopped { name, pid: Some(pid), killed });
    }
    Ok(report)
}

fn signal(process: &impl Managed, pid: u32, signal: Signal) -> Result<(), NetError> {
    match nix::sys::signal::kill(pid_of(pid), signal) {
        Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
        Err(source) => Err(NetError::Signal { node: process.name().to_string(), pid, source }),
    }
}

/// Prints statuses as tables, or as one JSON array with `--json` (see [`NetworkStatus::to_json`]).
pub fn print_status(out: &Output, status: &NetworkStatus) {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut table =
        format!("{:<28} {:>8}  {:<24} {:>8} {:>10}  {}", "NODE", "PID", "RPC", "BEST", "FINALIZED", "RUNNING");
    for s in &status.nodes {
        let _ = write!(
            table,
            "\n{:<28} {:>8}  {:<24} {:>8} {:>10}  {}",
            s.name,
            dash(s.pid.map(|p| p.to_string())),
            s.rpc_url,
            dash(s.best.map(|b| b.to_string())),
            dash(s.finalized.map(|f| f.to_string())),
            if s.running { "yes" } else { "no" }
        );
    }
    if !status.validateers.is_empty() {
        let _ = write!(
            table,
            "\n\n{:<28} {:>8}  {:<24} {:<24} {:>9}  RUNNING",
            "VALIDATEER", "PID", "URL", "NODE", "SIDECHAIN"
        );
    }
    for s in &status.validateers {
        let _ = write!(
            table,
            "\n{:<28} {:>8}  {:<24} {:<24} {:>9}  {}",
            s.name,
            dash(s.pid.map(|p| p.to_string())),
            s.worker_url,
            s.node_url,
            dash(s.sidechain_height.map(|h| h.to_string())),
            if s.running { "yes" } else { "no" }
        );
    }
    out.print(table, status.to_json());
}

/// Prints what `down` did.
pub fn print_stopped(out: &Output, stopped: &[Stopped]) {
    let lines: Vec<String> = stopped
        .iter()
        .map(|s| match (s.pid, s.killed) {
            (None, _) => format!("{}: not running", s.name),
            (Some(pid), false) => format!("{}: stopped (pid {pid})", s.name),
            (Some(pid), true) => format!("{}: killed after the grace period (pid {pid})", s.name),
        })
        .collect();
    out.print(lines.join("\n"), serde_json::to_value(stopped).unwrap_or_default());
}

/// `cloister network …`: run a deployment bundle on this machine.
#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Start every node of a bundle as a background process on 127.0.0.1 and wait for their RPC;
    /// then its validateers, validateer-1 first, and wait until each is ready.
    Up {
        /// The bundle directory written by `cloister deploy`.
        dir: PathBuf,
        /// Seconds to wait for the nodes' RPC.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Seconds to wait for each validateer to be ready.
        #[arg(long, default_value_t = 180)]
        validateer_timeout: u64,
    },
    /// Stop the bundle's validateers, then its nodes (SIGTERM, then SIGKILL after the grace period).
    Down {
        /// The bundle directory.
        dir: PathBuf,
        /// Seconds a node or validateer may take to stop before it is killed.
        #[arg(long, default_value_t = 10)]
        grace: u64,
    },
    /// Each node's process, RPC URL, best and finalized block; each validateer's process, URL and
    /// sidechain height.
    Status {
        /// The bundle directory.
        dir: PathBuf,
    },
    /// Re-encrypt a node's keystore under a fresh random password (e.g. `DIR/nodes/node-1`).
    RotatePassword {
        /// The node directory holding keystore.json and password.
        node_dir: PathBuf,
    },
}

/// Runs a `cloister network` command.
pub async fn run(command: NetworkCommand, out: &Output) -> anyhow::Result<()> {
    match command {
        NetworkCommand::Up { dir, timeout, validateer_timeout } => {
            let options = UpOptions {
                timeout: Duration::from_secs(timeout),
                validateer_timeout: Duration::from_secs(validateer_timeout),
            };
            print_status(out, &up(&dir, &options).await?)
        }
        NetworkCommand::Down { dir, grace } => print_stopped(out, &down(&dir, Duration::from_secs(grace)).await?),
        NetworkCommand::Status { dir } => print_status(out, &status(&dir).await?),
        NetworkCommand::RotatePassword { node_dir } => {
            let aura = crate::deploy::rotate_password(&node_dir)?;
            out.print(
                format!("New password in {}; restart the node to use it.", node_dir.join("password").display()),
                serde_json::json!({ "node_dir": node_dir, "aura": aura }),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_numbers_parse_from_hex_and_numbers() {
        assert_eq!(block_number(&serde_json::json!("0x1f")), Some(31));
        assert_eq!(block_number(&serde_json::json!(7)), Some(7));
        assert_eq!(block_number(&serde_json::json!(null)), None);
    }

    #[test]
    fn foreign_and_bogus_pids_are_not_ours() {
        let config = Path::new("/nonexistent/node.toml");
        assert!(!is_node_process(0, config));
        assert!(!is_node_process(1, config));
        assert!(!is_node_process(u32::MAX, config));
        assert!(!is_node_process(std::process::id(), config), "the test itself is not a node");
    }

    #[test]
    fn a_directory_without_nodes_is_not_a_bundle() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(matches!(read_bundle(dir.path()), Err(NetError::NotABundle { .. })));
        assert!(matches!(read_bundle(&dir.path().join("missing")), Err(NetError::NotABundle { .. })));
    }
}
