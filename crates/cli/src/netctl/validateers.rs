//! The validateers of a bundle run on one machine: `validateers/validateer-K/validateer.toml`
//! says how, the bundle's own `validateers/cloister-worker` (whose MRENCLAVE sealed their keys)
//! runs them, each with its output in `worker.log` and its pid in `worker.pid` beside that file.
//!
//! Validateer 1 starts first and must log `validateer ready` (registered, synced, serving)
//! before the others start, since they join the shard from it. A pid file is trusted only while
//! `/proc/PID/cmdline` is a worker run on that validateer's base path.

use super::{log_tail, Managed, NetError};
use crate::{
    deploy::validateers::{ValidateerConfig, CONFIG_FILE, DATA_DIR, WORKER_BINARY},
    dev::READY_LINE,
};
use serde::Serialize;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// One validateer of a bundle on disk.
#[derive(Clone, Debug)]
pub struct Validateer {
    /// Its directory (absolute).
    pub dir: PathBuf,
    /// Its `validateer.toml`.
    pub config: ValidateerConfig,
}

impl Validateer {
    /// Its base path (absolute).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join(DATA_DIR)
    }

    /// Its log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("worker.log")
    }

    /// Its direct-invocation URL on this machine.
    pub fn worker_url(&self) -> String {
        format!("wss://127.0.0.1:{}", self.config.trusted_port)
    }

    /// Its metrics URL on this machine, if on.
    pub fn metrics_url(&self) -> Option<String> {
        (self.config.metrics_port != 0).then(|| format!("http://127.0.0.1:{}/metrics", self.config.metrics_port))
    }
}

impl Managed for Validateer {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("worker.pid")
    }

    fn is_ours(&self, pid: u32) -> bool {
        super::cmdline_has(pid, b"--base-path", self.data_dir().as_os_str().as_encoded_bytes())
    }
}

/// The validateers of the bundle in `dir` (canonical), validateer-1 first; none without a
/// `validateers/` directory.
pub fn read_validateers(dir: &Path) -> Result<Vec<Validateer>, NetError> {
    let root = dir.join("validateers");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| NetError::Io { path: root.clone(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let index = name.strip_prefix("validateer-").and_then(|k| k.parse::<u32>().ok());
        if let Some(index) = index.filter(|_| entry.path().join(CONFIG_FILE).is_file()) {
            found.push((index, entry.path()));
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(_, dir)| {
            let config = ValidateerConfig::load(&dir.join(CONFIG_FILE))
                .map_err(|reason| NetError::NotABundle { dir: dir.clone(), reason })?;
            Ok(Validateer { dir, config })
        })
        .collect()
}

/// The worker binary of the bundle in `dir`: its `validateers/cloister-worker`, else the one
/// `cloister dev` runs (which can open the sealed keys only if it is the same build).
pub fn worker_binary(dir: &Path) -> PathBuf {
    let own = dir.join("validateers").join(WORKER_BINARY);
    if own.is_file() {
        own
    } else {
        crate::dev::worker_binary()
    }
}

/// A validateer process this call started, and where its log stood before it started.
pub struct Started {
    validateer: Validateer,
    child: Child,
    log_start: usize,
}

fn spawn(binary: &Path, v: &Validateer) -> Result<Started, NetError> {
    use std::os::unix::process::CommandExt;
    let io = |path: PathBuf| move |source| NetError::Io { path, source };
    let log = std::fs::OpenOptions::new().create(true).append(true).open(v.log_file()).map_err(io(v.log_file()))?;
    let log_start = log.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let log_err = log.try_clone().map_err(io(v.log_file()))?;
    let mut cmd = Command::new(binary);
    cmd.arg("--base-path").arg(v.data_dir()).args(v.config.run_args(true));
    // Its own process group, as the nodes: Ctrl-C where `up` ran does not stop it.
    cmd.env("NO_COLOR", "1").current_dir(&v.dir).stdin(Stdio::null()).stdout(log).stderr(log_err).process_group(0);
    let child = cmd.spawn().map_err(|source| NetError::Spawn { node: v.config.name.clone(), source })?;
    let pid_file = v.pid_file();
    std::fs::write(&pid_file, format!("{}\n", child.id())).map_err(io(pid_file))?;
    info!(target: "netctl", validateer = %v.config.name, pid = child.id(), "started");
    Ok(Started { validateer: v.clone(), child, log_start })
}

async fn wait_ready(started: &mut Started, timeout: Duration) -> Result<(), NetError> {
    let v = &started.validateer;
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = started.child.try_wait() {
            let _ = std::fs::remove_file(v.pid_file());
            return Err(NetError::Exited {
                node: v.config.name.clone(),
                status,
                log: v.log_file(),
                tail: log_tail(&v.log_file(), 20),
            });
        }
        let log = std::fs::read(v.log_file()).unwrap_or_default();
        if log.get(started.log_start..).is_some_and(|new| String::from_utf8_lossy(new).contains(READY_LINE)) {
            info!(target: "netctl", validateer = %v.config.name, url = %v.worker_url(), "validateer is up");
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(NetError::NotReady { name: v.config.name.clone(), timeout, log: v.log_file() });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kills what this call started, after a failure.
pub fn stop_started(started: &mut Vec<Started>) {
    for s in started.iter_mut() {
        let _ = s.child.kill();
        let _ = s.child.wait();
        let _ = std::fs::remove_file(s.validateer.pid_file());
        warn!(target: "netctl", validateer = %s.validateer.config.name, "stopped again because the network did not come up");
    }
    started.clear();
}

/// Starts every validateer that is not running: validateer 1 first, waiting until it is ready,
/// then the others together, waiting until each is ready (each within `timeout`). On failure the
/// validateers this call started are stopped again.
pub async fn up(binary: &Path, validateers: &[Validateer], timeout: Duration) -> Result<(), NetError> {
    let mut started = Vec::new();
    let result = start_in_order(binary, validateers, timeout, &mut started).await;
    if result.is_err() {
        stop_started(&mut started);
    }
    result
}

async fn start_in_order(
    binary: &Path,
    validateers: &[Validateer],
    timeout: Duration,
    started: &mut Vec<Started>,
) -> Result<(), NetError> {
    let pending: Vec<&Validateer> = validateers
        .iter()
        .filter(|v| match v.running_pid() {
            Some(pid) => {
                info!(target: "netctl", validateer = %v.config.name, pid, "already running");
                false
            }
            None => true,
        })
        .collect();
    let mut rest = pending.as_slice();
    // The shard's first validateer must serve before the others can join it.
    let first_index = validateers.first().map(|v| v.config.index);
    if let Some((first, others)) = pending.split_first().filter(|(v, _)| Some(v.config.index) == first_index) {
        started.push(spawn(binary, first)?);
        let last = started.len() - 1;
        wait_ready(&mut started[last], timeout).await?;
        rest = others;
    }
    let from = started.len();
    for v in rest {
        started.push(spawn(binary, v)?);
    }
    for s in started[from..].iter_mut() {
        wait_ready(s, timeout).await?;
    }
    Ok(())
}

/// What `network status` reports of one validateer.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ValidateerStatus {
    /// Always `validateer` (node entries have no `role`).
    pub role: &'static str,
    /// Its name.
    pub name: String,
    /// Its process id, while it runs.
    pub pid: Option<u32>,
    /// Its direct-invocation URL.
    pub worker_url: String,
    /// The node it follows.
    pub node_url: String,
    /// Its metrics, if on.
    pub metrics_url: Option<String>,
    /// Its shard's head block number, from its metrics.
    pub sidechain_height: Option<u64>,
    /// Whether its process runs.
    pub running: bool,
}

/// The status of each validateer.
pub async fn status_of(validateers: &[Validateer]) -> Vec<ValidateerStatus> {
    let mut statuses = Vec::with_capacity(validateers.len());
    for v in validateers {
        let pid = v.running_pid();
        let height = match (pid, v.config.metrics_port) {
            (Some(_), port) if port != 0 => sidechain_height(port).await,
            _ => None,
        };
        statuses.push(ValidateerStatus {
            role: "validateer",
            name: v.config.name.clone(),
            pid,
            worker_url: v.worker_url(),
            node_url: v.config.node_url.clone(),
            metrics_url: v.metrics_url(),
            sidechain_height: height,
            running: pid.is_some(),
        });
    }
    statuses
}

/// `cloister_worker_sidechain_height` from the metrics on 127.0.0.1:`port`.
async fn sidechain_height(port: u16) -> Option<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        Some(text)
    };
    let text = tokio::time::timeout(Duration::from_secs(2), exchange).await.ok()??;
    parse_height(&text)
}

fn parse_height(metrics: &str) -> Option<u64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix("cloister_worker_sidechain_height ")?;
        value.trim().parse::<f64>().ok().map(|v| v as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_height_comes_from_the_gauge_line() {
        let text = "# HELP cloister_worker_sidechain_height Head block number of the shard.\n\
                    # TYPE cloister_worker_sidechain_height gauge\n\
                    cloister_worker_sidechain_height 42\n\
                    cloister_worker_pool_size 0\n";
        assert_eq!(parse_height(text), Some(42));
        assert_eq!(parse_height("nothing here"), None);
    }

    #[test]
    fn a_bundle_without_validateers_has_none() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(read_validateers(dir.path()).expect("reads").is_empty());
    }
}
