//! `cloister dev`: a whole development network in one command, ready for use.
//!
//! Starts a `--dev` parentchain node in this process (Alice authors and finalizes, the
//! well-known accounts are endowed) and N validateers (default 1; `cloister-worker run --dev`,
//! child processes of the same binary, so of the same MRENCLAVE: each funded from //Alice,
//! registered with a dev attestation, serving the MRENCLAVE's shard), prints how to connect, and
//! runs until Ctrl-C or SIGTERM. With `--json` the first line of output is one JSON object with
//! `node_url`, `worker_url` (validateer 0), `worker_urls` (all), `mrenclave` and `shard`.
//!
//! Validateer 0 starts first; once its log says `validateer ready`, the others start one after
//! the other (each funds itself from //Alice, so one at a time keeps Alice's nonces apart) and
//! join the shard from it. Validateer `i` listens on the base ports plus `10 * i` (a metrics port
//! of 0 stays off) and keeps its files under the base directory:
//!
//! ```text
//! BASE/worker/        BASE/worker.log       validateer 0
//! BASE/worker-1/      BASE/worker-1.log     validateer 1
//! BASE/worker-i/      BASE/worker-i.log     validateer i
//! ```
//!
//! [`DevNetwork`] is that network as a value, which `cloister demo` starts as well; each
//! [`DevWorker`] can be killed and restarted on its base path and ports, as a crash would.

use crate::output::Output;
use anyhow::Context;
use cloister_node::{
    chain_spec::ChainSpec,
    config::{NodeConfig, Storage},
    keystore::AuthorityKeys,
};
use serde_json::json;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// How long validateer 0 may take to say it is ready (register, sync).
pub const FIRST_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long each further validateer may take (register, onboard from validateer 0, sync).
pub const JOIN_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Ports of validateer `i` are those of validateer 0 plus `PORT_STRIDE * i`.
pub const PORT_STRIDE: u16 = 10;
/// What a validateer logs once it serves.
pub const READY_LINE: &str = "validateer ready";

/// The ports of one validateer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WorkerPorts {
    /// Direct invocation (TLS that ends in the enclave).
    pub trusted: u16,
    /// Peers' block exchange.
    pub untrusted: u16,
    /// Mutual remote attestation (onboarding of further validateers).
    pub mu_ra: u16,
    /// Prometheus metrics; 0: off.
    pub metrics: u16,
}

impl WorkerPorts {
    /// `cloister-worker run`'s defaults: 2000, 2001, 3443, 8787.
    pub const DEFAULT: Self = Self { trusted: 2000, untrusted: 2001, mu_ra: 3443, metrics: 8787 };

    /// The ports of validateer `i` (from 0) of a series whose validateer 0 has these: each plus
    /// `10 * i`, a metrics port of 0 staying 0; `None` past 65535.
    pub fn nth(&self, i: usize) -> Option<Self> {
        let offset = u16::try_from(i).ok()?.checked_mul(PORT_STRIDE)?;
        let shift = |port: u16| port.checked_add(offset);
        Some(Self {
            trusted: shift(self.trusted)?,
            untrusted: shift(self.untrusted)?,
            mu_ra: shift(self.mu_ra)?,
            metrics: if self.metrics == 0 { 0 } else { shift(self.metrics)? },
        })
    }

    /// The ports of `count` validateers, the first having these (see [`WorkerPorts::nth`]).
    pub fn series(&self, count: usize) -> anyhow::Result<Vec<Self>> {
        (0..count)
            .map(|i| {
                self.nth(i).ok_or_else(|| {
                    anyhow::anyhow!(
                        "validateer {i}'s ports would be above 65535: choose lower base ports or fewer validateers"
                    )
                })
            })
            .collect()
    }

    /// Free ports of 127.0.0.1 (metrics off), none of them in `taken`, which they join.
    fn free(taken: &mut std::collections::HashSet<u16>) -> std::io::Result<Self> {
        Ok(Self { trusted: free_port(taken)?, untrusted: free_port(taken)?, mu_ra: free_port(taken)?, metrics: 0 })
    }

    /// `--trusted-port … --untrusted-port … --mu-ra-port … --metrics-port …` for `cloister-worker run`.
    pub fn run_args(&self) -> Vec<String> {
        [
            ("--trusted-port", self.trusted),
            ("--untrusted-port", self.untrusted),
            ("--mu-ra-port", self.mu_ra),
            ("--metrics-port", self.metrics),
        ]
        .into_iter()
        .flat_map(|(flag, port)| [flag.to_string(), port.to_string()])
        .collect()
    }
}

/// Options of `cloister dev`.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Keep the chain here instead of a temporary directory.
    pub base_path: Option<PathBuf>,
    /// RPC port of the node.
    pub rpc_port: u16,
    /// Prometheus port of the node (0 disables metrics).
    pub prometheus_port: u16,
    /// The ports of each validateer, validateer 0 first; as many validateers as entries (none:
    /// the node alone).
    pub workers: Vec<WorkerPorts>,
    /// Durations of the ceremony phases Registering, Assigning, Attesting in milliseconds;
    /// `None`: the dev chain's 20 minutes each.
    pub phase_durations_ms: Option<[u64; 3]>,
}

impl DevOptions {
    /// A network with `validateers` validateers on free ports of 127.0.0.1, without metrics, in
    /// a temporary directory.
    pub fn on_free_ports(validateers: usize) -> std::io::Result<Self> {
        let mut taken = std::collections::HashSet::new();
        let workers = (0..validateers).map(|_| WorkerPorts::free(&mut taken)).collect::<std::io::Result<_>>()?;
        Ok(Self { base_path: None, rpc_port: 0, prometheus_port: 0, workers, phase_durations_ms: None })
    }
}

/// A TCP port of 127.0.0.1 that was free a moment ago and is not in `taken`, which it joins.
fn free_port(taken: &mut std::collections::HashSet<u16>) -> std::io::Result<u16> {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if taken.insert(port) {
            return Ok(port);
        }
    }
}

/// Starts the dev network's node; returns it running.
pub async fn start(options: &DevOptions) -> anyhow::Result<cloister_node::Node> {
    let spec = match options.phase_durations_ms {
        Some(durations) => ChainSpec::dev_with_phase_durations(durations),
        None => ChainSpec::dev(),
    };
    let mut config = NodeConfig::new(spec).with_authority(AuthorityKeys::from_suri("//Alice")?);
    config.name = "cloister-dev".into();
    // One authority finalizes alone; the dev network needs no peers.
    config.network = None;
    config.storage = options.base_path.clone().map(Storage::Path).unwrap_or(Storage::Temporary);
    config.rpc_addr = SocketAddr::from(([127, 0, 0, 1], options.rpc_port));
    config.prometheus_addr =
        (options.prometheus_port != 0).then(|| SocketAddr::from(([127, 0, 0, 1], options.prometheus_port)));
    Ok(cloister_node::start(config).await?)
}

/// The `cloister-worker` executable: beside this one, else the first on `PATH`, else the bare
/// name (running it then says it is missing).
pub fn worker_binary() -> PathBuf {
    const NAME: &str = "cloister-worker";
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join(NAME)));
    let on_path = || {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join(NAME))
            .find(|p| p.is_file())
    };
    beside.filter(|p| p.is_file()).or_else(on_path).unwrap_or_else(|| PathBuf::from(NAME))
}

/// The MRENCLAVE of the worker executable `binary`, as `cloister-worker mrenclave` prints it.
pub fn worker_mrenclave(binary: &Path) -> anyhow::Result<String> {
    let out =
        Command::new(binary).arg("mrenclave").stdin(Stdio::null()).output().map_err(|e| {
            anyhow::anyhow!("cannot run {}: {e} (build it with `cargo build --bins`)", binary.display())
        })?;
    anyhow::ensure!(
        out.status.success(),
        "{} mrenclave failed ({}): {}",
        binary.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The base path of validateer `i` under the dev network's directory `base`.
pub fn worker_dir(base: &Path, i: usize) -> PathBuf {
    base.join(if i == 0 { "worker".to_string() } else { format!("worker-{i}") })
}

/// The log of validateer `i` under the dev network's directory `base`.
pub fn worker_log(base: &Path, i: usize) -> PathBuf {
    base.join(if i == 0 { "worker.log".to_string() } else { format!("worker-{i}.log") })
}

/// A validateer child process of `cloister dev`; stopped (SIGTERM) when dropped.
pub struct DevWorker {
    child: Option<Child>,
    binary: PathBuf,
    node_url: String,
    ready_timeout: Duration,
    /// Its number in the dev network, from 0.
    pub index: usize,
    /// Its base path (sealed keys and state, block store).
    pub base_path: PathBuf,
    /// Its ports.
    pub ports: WorkerPorts,
    /// Its direct-invocation URL.
    pub url: String,
    /// Its MRENCLAVE (also the shard it serves).
    pub mrenclave: String,
    /// Its metrics URL, if on.
    pub metrics_url: Option<String>,
    /// Where its log goes.
    pub log: PathBuf,
}

impl DevWorker {
    /// Starts validateer `index` of the dev network in `base`, following `node_url`, and waits
    /// until it serves.
    pub async fn start(
        node_url: &str,
        base: &Path,
        index: usize,
        ports: WorkerPorts,
        mrenclave: &str,
    ) -> anyhow::Result<Self> {
        let mut worker = Self {
            child: None,
            binary: worker_binary(),
            node_url: node_url.to_string(),
            ready_timeout: if index == 0 { FIRST_READY_TIMEOUT } else { JOIN_READY_TIMEOUT },
            index,
            base_path: worker_dir(base, index),
            ports,
            url: format!("wss://127.0.0.1:{}", ports.trusted),
            mrenclave: mrenclave.to_string(),
            metrics_url: (ports.metrics != 0).then(|| format!("http://127.0.0.1:{}/metrics", ports.metrics)),
            log: worker_log(base, index),
        };
        worker.spawn().await?;
        Ok(worker)
    }

    /// Its log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything it has logged (across restarts).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where peers fetch its sidechain blocks, as it registers it: `ws://127.0.0.1:PORT`.
    pub fn untrusted_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ports.untrusted)
    }

    /// Where joining validateers run MU-RA with it, as it registers it: `127.0.0.1:PORT`.
    pub fn mu_ra_url(&self) -> String {
        format!("127.0.0.1:{}", self.ports.mu_ra)
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether its process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills it with SIGKILL, as a crash would, and waits for it to be gone.
    pub fn kill(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGKILL);
    }

    /// Stops it with SIGTERM (it seals its state) and waits; returns how it exited, `None` if it
    /// was not running.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.signal(nix::sys::signal::Signal::SIGTERM)
    }

    /// Starts it again on the same base path and ports (after [`DevWorker::kill`] or
    /// [`DevWorker::terminate`]; a running one is stopped with SIGTERM first) and waits until it
    /// serves.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.terminate();
        self.spawn().await
    }

    /// Stops it with SIGTERM (it seals its state) and waits.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn signal(&mut self, signal: nix::sys::signal::Signal) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, signal);
        child.wait().ok()
    }

    /// `cloister-worker --base-path B run --node-url N --dev PORTS`, logging to its log, and
    /// waits for [`READY_LINE`] in what it logs from now on.
    async fn spawn(&mut self) -> anyhow::Result<()> {
        let name = format!("validateer {}", self.index);
        if let Some(parent) = self.log.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let start = file.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let mut child = Command::new(&self.binary)
            .arg("--base-path")
            .arg(&self.base_path)
            .arg("run")
            .args(["--node-url", &self.node_url, "--dev"])
            .args(self.ports.run_args())
            // Whatever filter the user set, the worker's own progress ("validateer ready") is
            // what this waits for.
            .env(
                "RUST_LOG",
                match std::env::var("RUST_LOG") {
                    Ok(filter) if !filter.is_empty() => format!("{filter},worker=info"),
                    _ => "info".into(),
                },
            )
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot run {}: {e} (build it with `cargo build --bins`)", self.binary.display())
            })?;
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            let text = self.log_text();
            let new = text.get(start..).unwrap_or_default();
            if new.contains(READY_LINE) {
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("{name} exited ({status}); its log is {}:\n{new}", self.log.display());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!(
                    "{name} did not become ready within {:?}; its log is {}",
                    self.ready_timeout,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for DevWorker {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Starts validateer `index` of the dev network in `base` (see [`DevWorker::start`]).
pub async fn start_worker(
    node_url: &str,
    base: &Path,
    index: usize,
    ports: WorkerPorts,
    mrenclave: &str,
) -> anyhow::Result<DevWorker> {
    DevWorker::start(node_url, base, index, ports, mrenclave).await
}

/// A running dev network: the node in this process, the validateers as child processes.
pub struct DevNetwork {
    /// The node.
    pub node: cloister_node::Node,
    /// Its RPC URL.
    pub node_url: String,
    /// The validateers, validateer 0 first; empty without validateers.
    pub workers: Vec<DevWorker>,
    /// Where the validateers' data and logs are.
    pub base: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl DevNetwork {
    /// Starts the node and one validateer per entry of `options.workers`, validateer 0 first,
    /// the others once it is ready, one after the other; returns once all serve. If one does not
    /// come up, everything started is stopped again.
    pub async fn start(options: &DevOptions) -> anyhow::Result<Self> {
        let node = start(options).await?;
        let node_url = format!("ws://{}", node.rpc_addr);
        let (base, temp) = match &options.base_path {
            Some(path) => (path.clone(), None),
            None => {
                let temp = tempfile::Builder::new().prefix("cloister-dev").tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let mut network = Self { node, node_url, workers: Vec::new(), base, temp };
        if let Err(e) = network.start_workers(&options.workers).await {
            network.stop().await;
            return Err(e);
        }
        Ok(network)
    }

    async fn start_workers(&mut self, ports: &[WorkerPorts]) -> anyhow::Result<()> {
        if ports.is_empty() {
            return Ok(());
        }
        let mrenclave = worker_mrenclave(&worker_binary())?;
        for (i, ports) in ports.iter().enumerate() {
            let worker = DevWorker::start(&self.node_url, &self.base, i, *ports, &mrenclave).await?;
            tracing::info!(target: "dev", validateer = i, url = %worker.url, "validateer ready");
            self.workers.push(worker);
        }
        Ok(())
    }

    /// Validateer 0, if there is one.
    pub fn worker(&self) -> Option<&DevWorker> {
        self.workers.first()
    }

    /// Keeps a temporary directory after the network stops (to read the workers' logs).
    pub fn keep_files(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
    }

    /// Stops the validateers (the joiners first, validateer 0 last), then the node.
    pub async fn stop(mut self) {
        while let Some(worker) = self.workers.pop() {
            worker.stop();
        }
        self.node.stop().await;
        drop(self.temp);
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn until_stopped() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// The lines of `cloister dev`'s text about its validateers and how to use them.
fn describe_workers(url: &str, workers: &[DevWorker]) -> String {
    let Some(first) = workers.first() else {
        return String::new();
    };
    let (w, m) = (&first.url, &first.mrenclave);
    let mut text = format!("\n  MRENCLAVE: {m} (the shard every validateer serves)");
    for worker in workers {
        text.push_str(&format!("\n  validateer {}: {} (log {})", worker.index, worker.url, worker.log.display()));
    }
    text.push_str(&format!(
        "\nConfidential (inside the enclave):\n  cloister --node-url {url} --worker-url {w} trusted --mrenclave {m} shield-funds //Alice 1000\n  \
         cloister --node-url {url} --worker-url {w} trusted --mrenclave {m} transfer //Alice //Bob 250\n  \
         cloister --node-url {url} --worker-url {w} trusted --mrenclave {m} balance //Bob"
    ));
    text
}

/// Runs `cloister dev` until Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions, out: Output) -> anyhow::Result<()> {
    let network = DevNetwork::start(&options).await?;
    let url = network.node_url.clone();
    let metrics = network.node.prometheus_addr.map(|a| format!("http://{a}/metrics"));
    let first = network.worker();
    let mrenclave = first.map(|w| w.mrenclave.clone());
    let worker_urls: Vec<&str> = network.workers.iter().map(|w| w.url.as_str()).collect();
    let trusted_hint = describe_workers(&url, &network.workers);
    out.print(
        format!(
            "Cloister dev network is running.\n  node RPC:  {url}\n  metrics:   {}\n  accounts:  //Alice (sudo, authority), //Bob, //Charlie, //Dave, //Eve, //Ferdie: 1000000 units each{trusted_hint}\n\
             Try:\n  cloister --node-url {url} balance //Bob\n  cloister --node-url {url} transfer //Alice //Bob 1000000000000\n  cloister --node-url {url} phase\n\
             polkadot.js apps and subxt connect to {url} as to any Substrate node.\nPress Ctrl-C to stop.",
            metrics.clone().unwrap_or_else(|| "off".into())
        ),
        json!({
            "node_url": url,
            "worker_url": first.map(|w| w.url.clone()),
            "worker_urls": worker_urls,
            "mrenclave": mrenclave,
            "shard": mrenclave,
            "metrics_url": metrics,
            "worker_metrics_url": first.and_then(|w| w.metrics_url.clone()),
            "chain": "dev",
            "sudo": "//Alice",
        }),
    );
    until_stopped().await?;
    network.stop().await;
    Ok(())
}

/// A local consortium in this process: one node per development authority (`Alice`, `Bob`, …),
/// networked over 127.0.0.1 with free ports and temporary storage. For benchmarks.
pub struct LocalConsortium {
    /// The nodes; node 0 is Alice's.
    pub nodes: Vec<cloister_node::Node>,
    _keys: tempfile::TempDir,
}

impl LocalConsortium {
    /// Starts `count` authorities with `slot_ms` slots.
    pub async fn start(count: usize, slot_ms: u64) -> anyhow::Result<Self> {
        use cloister_runtime::genesis::{consortium_genesis, dev_authority, dev_endowed, GenesisParams};
        const NAMES: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];
        anyhow::ensure!((1..=NAMES.len()).contains(&count), "1 to {} authorities", NAMES.len());
        let names = &NAMES[..count];
        let params = GenesisParams {
            authorities: names.iter().filter_map(|n| dev_authority(n)).collect(),
            sudo: Some(sp_keyring::Sr25519Keyring::Alice.to_account_id()),
            endowed: dev_endowed(),
            phase_durations_ms: [20 * 60_000; 3],
            permissions: None,
            // A local development network: software enclaves attest with dev reports.
            allow_dev_attestation: true,
        };
        let spec = ChainSpec::consortium("Local Consortium", "local_consortium", slot_ms, consortium_genesis(&params));
        let keys = tempfile::tempdir()?;
        let mut peers = Vec::new();
        for i in 0..count {
            let file = keys.path().join(format!("node-{i}.key"));
            let keypair = cloister_network::generate_node_key(&file)?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let addr: cloister_network::Multiaddr =
                format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", cloister_network::peer_id(&keypair)).parse()?;
            peers.push((file, port, addr));
        }
        let mut nodes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mut config =
                NodeConfig::new(spec.clone()).with_authority(AuthorityKeys::from_suri(&format!("//{name}"))?);
            config.name = format!("{}-node", name.to_lowercase());
            config.rpc_addr = SocketAddr::from(([127, 0, 0, 1], 0));
            config.prometheus_addr = None;
            let mut network = cloister_node::config::NetworkSettings::on_port(peers[i].1);
            network.listen_addrs = vec![cloister_network::tcp_addr([127, 0, 0, 1], peers[i].1)];
            network.node_key_file = Some(peers[i].0.clone());
            network.bootnodes = peers.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| p.2.clone()).collect();
            config.network = Some(network);
            nodes.push(cloister_node::start(config).await?);
        }
        Ok(Self { nodes, _keys: keys })
    }

    /// Stops every node.
    pub async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validateer_ports_step_by_ten_and_metrics_stay_off() {
        let ports = WorkerPorts::DEFAULT.series(3).expect("fits");
        assert_eq!(ports[0], WorkerPorts::DEFAULT);
        assert_eq!(ports[2], WorkerPorts { trusted: 2020, untrusted: 2021, mu_ra: 3463, metrics: 8807 });
        let off = WorkerPorts { metrics: 0, ..WorkerPorts::DEFAULT };
        assert!(off.series(3).expect("fits").iter().all(|p| p.metrics == 0));
        let high = WorkerPorts { mu_ra: 65530, ..WorkerPorts::DEFAULT };
        assert!(high.series(1).is_ok());
        assert!(high.series(2).is_err(), "65540 does not exist");
        assert!(WorkerPorts::DEFAULT.series(0).expect("none").is_empty());
    }

    #[test]
    fn free_ports_differ_for_every_validateer() {
        let options = DevOptions::on_free_ports(3).expect("free ports");
        let mut all: Vec<u16> = options.workers.iter().flat_map(|p| [p.trusted, p.untrusted, p.mu_ra]).collect();
        assert!(options.workers.iter().all(|p| p.metrics == 0));
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 9);
    }

    #[test]
    fn validateer_zero_keeps_the_old_layout() {
        let base = Path::new("/b");
        assert_eq!((worker_dir(base, 0), worker_log(base, 0)), (base.join("worker"), base.join("worker.log")));
        assert_eq!((worker_dir(base, 2), worker_log(base, 2)), (base.join("worker-2"), base.join("worker-2.log")));
    }
}
