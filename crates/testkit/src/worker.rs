//! A real `cloister-worker` process for integration tests: the validateer of a dev node.
//!
//! [`WorkerProcess::start`] runs `cloister-worker run --dev` against a node with free ports and
//! its own base path, and waits until it says it is ready (registered, synced, serving). It can
//! be killed with SIGKILL and restarted on the same base path, as a crash would leave it.

use crate::{binary, free_port};
use anyhow::{bail, Context};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A running `cloister-worker`.
pub struct WorkerProcess {
    child: Option<Child>,
    /// Its base path (sealed files, block store).
    pub base_path: PathBuf,
    /// The node it follows.
    pub node_url: String,
    /// Direct-invocation port.
    pub trusted_port: u16,
    /// Peer port.
    pub untrusted_port: u16,
    /// MU-RA port.
    pub mu_ra_port: u16,
    /// Metrics port.
    pub metrics_port: u16,
    log: PathBuf,
    extra: Vec<String>,
    _dir: tempfile::TempDir,
}

impl WorkerProcess {
    /// Starts a `--dev` worker following `node_url` and waits until it serves.
    pub async fn start(node_url: &str) -> anyhow::Result<Self> {
        Self::start_with(node_url, Vec::new()).await
    }

    /// Starts a `--dev` worker with extra flags.
    pub async fn start_with(node_url: &str, extra: Vec<String>) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("cloister-worker-test").tempdir()?;
        let mut worker = Self {
            child: None,
            base_path: dir.path().join("worker"),
            node_url: node_url.to_string(),
            trusted_port: free_port(),
            untrusted_port: free_port(),
            mu_ra_port: free_port(),
            metrics_port: free_port(),
            log: dir.path().join("worker.log"),
            extra,
            _dir: dir,
        };
        worker.spawn().await?;
        Ok(worker)
    }

    /// A second worker on a copy of this (stopped) one's base path, with its own ports: the
    /// same enclave keys running twice, as an operator who starts a backup with the same keys
    /// would. Not started.
    pub fn twin(&self) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("cloister-worker-twin").tempdir()?;
        let base_path = dir.path().join("worker");
        let status = Command::new("cp").arg("-a").arg(&self.base_path).arg(&base_path).status()?;
        anyhow::ensure!(status.success(), "copying the base path failed");
        Ok(Self {
            child: None,
            base_path,
            node_url: self.node_url.clone(),
            trusted_port: free_port(),
            untrusted_port: free_port(),
            mu_ra_port: free_port(),
            metrics_port: free_port(),
            log: dir.path().join("worker.log"),
            extra: self.extra.clone(),
            _dir: dir,
        })
    }

    /// The enclave's signing key, as `cloister-worker signing-key` prints it (the sealed key is
    /// only read, so the worker may be running).
    pub fn signing_key(&self) -> anyhow::Result<[u8; 32]> {
        let out = Command::new(binary("cloister-worker"))
            .arg("--base-path")
            .arg(&self.base_path)
            .arg("signing-key")
            .output()?;
        let text = String::from_utf8(out.stdout)?;
        let hex = text.split_whitespace().nth(1).context("no key printed")?;
        let bytes = hex::decode(hex.trim_start_matches("0x"))?;
        bytes.try_into().map_err(|_| anyhow::anyhow!("not a 32-byte key"))
    }

    /// The `ws://` URL of the untrusted port (block exchange, `sidechain_head`).
    pub fn untrusted_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.untrusted_port)
    }

    /// `cloister-worker run --dev` on this worker's base path and ports, logging to its log.
    fn command(&self) -> anyhow::Result<Command> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut cmd = Command::new(binary("cloister-worker"));
        cmd.arg("--base-path")
            .arg(&self.base_path)
            .arg("run")
            .args(["--node-url", &self.node_url])
            .args(["--trusted-port", &self.trusted_port.to_string()])
            .args(["--untrusted-port", &self.untrusted_port.to_string()])
            .args(["--mu-ra-port", &self.mu_ra_port.to_string()])
            .args(["--metrics-port", &self.metrics_port.to_string()])
            .arg("--dev")
            .args(&self.extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(cmd)
    }

    /// Starts the process (after a kill) and waits until it serves; fails if it exits.
    pub async fn spawn(&mut self) -> anyhow::Result<()> {
        let start = self.log_text().len();
        self.child = Some(self.command()?.spawn().context("spawning cloister-worker")?);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            if self.log_text().get(start..).is_some_and(|new| new.contains("validateer ready")) {
                return Ok(());
            }
            if !self.is_running() || std::time::Instant::now() > deadline {
                bail!("worker did not start; its log:\n{}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts the process and returns how it ended, for a worker expected to refuse to start.
    pub fn run_to_exit(&mut self, timeout: Duration) -> anyhow::Result<(std::process::ExitStatus, String)> {
        let start = self.log_text().len();
        let mut child = self.command()?.spawn().context("spawning cloister-worker")?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((status, self.log_text().get(start..).unwrap_or_default().to_string()));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                bail!("the worker did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `wss://` URL of the direct-invocation server.
    pub fn url(&self) -> String {
        format!("wss://127.0.0.1:{}", self.trusted_port)
    }

    /// The MRENCLAVE of the worker binary, as `cloister-worker mrenclave` prints it.
    pub fn mrenclave() -> anyhow::Result<String> {
        let out = Command::new(binary("cloister-worker")).arg("mrenclave").output()?;
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    }

    /// Everything the worker has printed.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The Prometheus text of the worker.
    pub fn metrics(&self) -> anyhow::Result<String> {
        crate::http(self.metrics_port, "GET", "/metrics", None)
    }

    /// Kills the process with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("not running")?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)?;
        Ok(child.wait()?)
    }

    /// Whether the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cloister --node-url N --worker-url W trusted --mrenclave M ARGS…`; returns (success,
/// stdout, stderr).
pub fn trusted(node_url: &str, worker_url: &str, mrenclave: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--worker-url", worker_url, "trusted", "--mrenclave", mrenclave];
    all.extend_from_slice(args);
    crate::cloister(node_url, &all)
}
