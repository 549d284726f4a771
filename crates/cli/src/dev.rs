//! `cloister dev`: a whole development network in one command, ready for use.
//!
//! Starts a `--dev` parentchain node in this process (Alice authors and finalizes, the
//! well-known accounts are endowed) and a validateer (`cloister-worker run --dev`, a child
//! process: funded from //Alice, registered with a dev attestation, serving its MRENCLAVE's
//! shard), prints how to connect, and runs until Ctrl-C or SIGTERM. With `--json` the first line
//! of output is one JSON object with `node_url`, `worker_url`, `mrenclave` and `shard`.
//!
//! [`DevNetwork`] is that network as a value, which `cloister demo` starts as well.

use crate::output::Output;
use cloister_node::{
    chain_spec::ChainSpec,
    config::{NodeConfig, Storage},
    keystore::AuthorityKeys,
};
use serde_json::json;
use std::{net::SocketAddr, path::PathBuf};

/// Options of `cloister dev`.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Keep the chain here instead of a temporary directory.
    pub base_path: Option<PathBuf>,
    /// RPC port of the node.
    pub rpc_port: u16,
    /// Prometheus port of the node (0 disables metrics).
    pub prometheus_port: u16,
    /// The validateer's ports: trusted (direct invocation), untrusted (peers), metrics (0: off);
    /// `None`: no validateer.
    pub worker_ports: Option<(u16, u16, u16)>,
    /// Durations of the ceremony phases Registering, Assigning, Attesting in milliseconds;
    /// `None`: the dev chain's 20 minutes each.
    pub phase_durations_ms: Option<[u64; 3]>,
}

impl DevOptions {
    /// A network on free ports of 127.0.0.1, without metrics, in a temporary directory.
    pub fn on_free_ports(with_worker: bool) -> std::io::Result<Self> {
        let worker_ports = if with_worker { Some((free_port()?, free_port()?, 0)) } else { None };
        Ok(Self { base_path: None, rpc_port: 0, prometheus_port: 0, worker_ports, phase_durations_ms: None })
    }
}

/// A TCP port of 127.0.0.1 that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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

/// A validateer child process of `cloister dev`; stopped when dropped.
pub struct DevWorker {
    child: Option<std::process::Child>,
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
    /// Stops it with SIGTERM (it seals its state) and waits.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }
}

impl Drop for DevWorker {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The `cloister-worker` executable: beside this one, else on `PATH`.
fn worker_binary() -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("cloister-worker")));
    beside.filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("cloister-worker"))
}

/// Starts the validateer of the dev network and waits until it serves.
pub async fn start_worker(node_url: &str, base: &std::path::Path, ports: (u16, u16, u16)) -> anyhow::Result<DevWorker> {
    let (trusted, untrusted, metrics) = ports;
    let binary = worker_binary();
    let out = std::process::Command::new(&binary)
        .arg("mrenclave")
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e} (build it with `cargo build --bins`)", binary.display()))?;
    let mrenclave = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::create_dir_all(base)?;
    let log = base.join("worker.log");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
    let start = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) as usize;
    let mut child = std::process::Command::new(&binary)
        .arg("--base-path")
        .arg(base.join("worker"))
        .arg("run")
        .args(["--node-url", node_url, "--dev"])
        .args(["--trusted-port", &trusted.to_string(), "--untrusted-port", &untrusted.to_string()])
        .args(["--metrics-port", &metrics.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.get(start..).is_some_and(|t| t.contains("validateer ready")) {
            break;
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!(
                "the validateer exited ({status}); its log is {}:\n{}",
                log.display(),
                text.get(start..).unwrap_or_default()
            );
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            anyhow::bail!("the validateer did not become ready; its log is {}", log.display());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(DevWorker {
        child: Some(child),
        url: format!("wss://127.0.0.1:{trusted}"),
        mrenclave,
        metrics_url: (metrics != 0).then(|| format!("http://127.0.0.1:{metrics}/metrics")),
        log,
    })
}

/// A running dev network: the node in this process, the validateer as a child process.
pub struct DevNetwork {
    /// The node.
    pub node: cloister_node::Node,
    /// Its RPC URL.
    pub node_url: String,
    /// The validateer, if one was asked for.
    pub worker: Option<DevWorker>,
    /// Where the validateer's data and log are.
    pub base: PathBuf,
    temp: Option<tempfile::TempDir>,
}

impl DevNetwork {
    /// Starts the node and, if `options` has ports for it, the validateer; returns once both
    /// serve.
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
        let worker = match options.worker_ports {
            Some(ports) => match start_worker(&node_url, &base, ports).await {
                Ok(worker) => Some(worker),
                Err(e) => {
                    node.stop().await;
                    return Err(e);
                }
            },
            None => None,
        };
        Ok(Self { node, node_url, worker, base, temp })
    }

    /// Keeps a temporary directory after the network stops (to read the worker's log).
    pub fn keep_files(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
    }

    /// Stops the validateer, then the node.
    pub async fn stop(self) {
        if let Some(worker) = self.worker {
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

/// Runs `cloister dev` until Ctrl-C or SIGTERM.
pub async fn run(options: DevOptions, out: Output) -> anyhow::Result<()> {
    let network = DevNetwork::start(&options).await?;
    let url = network.node_url.clone();
    let metrics = network.node.prometheus_addr.map(|a| format!("http://{a}/metrics"));
    let (worker_url, mrenclave, worker_metrics) = match &network.worker {
        Some(w) => (Some(w.url.clone()), Some(w.mrenclave.clone()), w.metrics_url.clone()),
        None => (None, None, None),
    };
    let trusted_hint = match (&worker_url, &mrenclave) {
        (Some(w), Some(m)) => format!(
            "\n  validateer: {w} (MRENCLAVE {m}, shard = MRENCLAVE)\n  worker log: {}\n\
             Confidential (inside the enclave):\n  cloister --node-url {url} --worker-url {w} trusted --mrenclave {m} shield-funds //Alice 1000\n  \
             cloister --node-url {url} --worker-url {w} trusted --mrenclave {m} transfer //Alice //Bob 250\n  \
             cloister --node-url {url} --worker-url {w} trusted --mrenclave {m} balance //Bob",
            network.base.join("worker.log").display()
        ),
        _ => String::new(),
    };
    out.print(
        format!(
            "Cloister dev network is running.\n  node RPC:  {url}\n  metrics:   {}\n  accounts:  //Alice (sudo, authority), //Bob, //Charlie, //Dave, //Eve, //Ferdie: 1000000 units each{trusted_hint}\n\
             Try:\n  cloister --node-url {url} balance //Bob\n  cloister --node-url {url} transfer //Alice //Bob 1000000000000\n  cloister --node-url {url} phase\n\
             polkadot.js apps and subxt connect to {url} as to any Substrate node.\nPress Ctrl-C to stop.",
            metrics.clone().unwrap_or_else(|| "off".into())
        ),
        json!({
            "node_url": url,
            "worker_url": worker_url,
            "mrenclave": mrenclave,
            "shard": mrenclave,
            "metrics_url": metrics,
            "worker_metrics_url": worker_metrics,
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
