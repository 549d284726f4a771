//! Real Cloister processes for integration tests.
//!
//! [`binary`] builds the workspace's binaries once per test process (a no-op when they are up
//! to date) and returns their path, so a test never runs a stale binary. [`NodeProcess`] runs
//! `cloister-node` on 127.0.0.1 with free ports and its own data directory, waits until its RPC
//! answers, and can be killed with SIGKILL and restarted on the same data, as a crash would
//! leave it. Everything a process prints goes to a log file that a failing test shows.

use anyhow::{anyhow, bail, Context};
use jsonrpsee::{
    core::client::ClientT,
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
pub mod consortium;
pub mod netns;
pub mod worker;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The workspace's target directory for the current profile (where the test binary lives).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test-binary>
    exe.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default()
}

/// Path of a workspace binary (`cloister-node`, `cloister`), built if needed.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = target_dir().ends_with("release");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "cloister-node", "-p", "cloister-cli", "-p", "cloister-worker", "--bins"]);
        if release {
            cmd.arg("--release");
        }
        match cmd.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("cargo build of the binaries failed: {s}")),
            Err(e) => Err(format!("cannot run cargo to build the binaries: {e}")),
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    target_dir().join(name)
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// `--chain` value, or `None` for `--dev`.
    pub chain: Option<String>,
    /// Extra flags.
    pub extra: Vec<String>,
    /// The libp2p port; a free one if `None`.
    pub p2p_port: Option<u16>,
    /// Run inside this network namespace (`ip netns exec`), reachable at `host`.
    pub netns: Option<netns::Placement>,
    /// Authenticate RPC as this account (secret URI), for restricted chains.
    pub auth: Option<String>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self { chain: None, extra: Vec::new(), p2p_port: None, netns: None, auth: None }
    }
}

/// A running `cloister-node` process.
pub struct NodeProcess {
    child: Option<Child>,
    /// Its data directory (kept across restarts).
    pub base_path: PathBuf,
    /// Its RPC port.
    pub rpc_port: u16,
    /// Its Prometheus port.
    pub prometheus_port: u16,
    /// Its libp2p port.
    pub p2p_port: u16,
    log: PathBuf,
    options: NodeOptions,
    _dir: tempfile::TempDir,
}

impl NodeProcess {
    /// Starts a `--dev` node with its own data directory and waits for its RPC.
    pub async fn dev() -> anyhow::Result<Self> {
        Self::start(NodeOptions::default()).await
    }

    /// Starts a node and waits for its RPC.
    pub async fn start(options: NodeOptions) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("cloister-test").tempdir()?;
        let mut node = Self {
            child: None,
            base_path: dir.path().join("node"),
            rpc_port: free_port(),
            prometheus_port: free_port(),
            p2p_port: options.p2p_port.unwrap_or_else(free_port),
            log: dir.path().join("node.log"),
            options,
            _dir: dir,
        };
        node.spawn().await?;
        Ok(node)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut cmd = match &self.options.netns {
            Some(place) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", &place.netns]).arg(binary("cloister-node")).arg("--rpc-external");
                cmd
            }
            None => Command::new(binary("cloister-node")),
        };
        match &self.options.chain {
            None => cmd.arg("--dev"),
            Some(chain) => cmd.args(["--chain", chain]),
        };
        cmd.arg("--base-path")
            .arg(&self.base_path)
            .args(["--rpc-port", &self.rpc_port.to_string()])
            .args(["--prometheus-port", &self.prometheus_port.to_string()])
            .args(["--port", &self.p2p_port.to_string()])
            .args(&self.options.extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.child = Some(cmd.spawn().context("spawning cloister-node")?);
        let started = wait_for("the node's RPC", Duration::from_secs(60), || async { self.rpc().await.ok() }).await;
        if started.is_err() {
            bail!("node did not start; its log:\n{}", self.log_text());
        }
        Ok(())
    }

    /// The RPC URL.
    pub fn url(&self) -> String {
        let host = self.options.netns.as_ref().map(|p| p.ip.as_str()).unwrap_or("127.0.0.1");
        format!("ws://{host}:{}", self.rpc_port)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the node has printed.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A fresh RPC connection.
    pub async fn rpc(&self) -> anyhow::Result<WsClient> {
        let mut builder = WsClientBuilder::default().request_timeout(Duration::from_secs(60));
        if let Some(suri) = &self.options.auth {
            builder = builder.set_headers(self.auth_headers(suri)?);
        }
        Ok(builder.build(self.url()).await?)
    }

    /// An `Authorization` header with a fresh token of `suri` for this node's chain.
    pub fn auth_headers(&self, suri: &str) -> anyhow::Result<jsonrpsee::ws_client::HeaderMap> {
        use sp_core::Pair;
        let host = self.options.netns.as_ref().map(|p| p.ip.clone()).unwrap_or_else(|| "127.0.0.1".into());
        let body = http_at(&host, self.rpc_port, "GET", cloister_rpc::auth::GENESIS_PATH, None)?;
        let json: serde_json::Value = serde_json::from_str(body.trim())?;
        let genesis: cloister_primitives::Hash = serde_json::from_value(json["genesis"].clone())?;
        let pair = sp_core::sr25519::Pair::from_string(suri, None).map_err(|e| anyhow!("{suri}: {e:?}"))?;
        let expiry = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 3600;
        let token = cloister_rpc::auth::make_token(&pair, &genesis, expiry);
        let mut headers = jsonrpsee::ws_client::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse()?);
        Ok(headers)
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self.child.take().ok_or_else(|| anyhow!("not running"))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)?;
        Ok(child.wait()?)
    }

    /// Starts the process again on the same data directory and ports.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Best and finalized block numbers.
    pub async fn heights(&self) -> anyhow::Result<(u32, u32)> {
        let rpc = self.rpc().await?;
        let best: serde_json::Value = rpc.request("chain_getHeader", rpc_params![]).await?;
        let finalized_hash: String = rpc.request("chain_getFinalizedHead", rpc_params![]).await?;
        let finalized: serde_json::Value = rpc.request("chain_getHeader", rpc_params![finalized_hash]).await?;
        Ok((hex_number(&best["number"])?, hex_number(&finalized["number"])?))
    }

    /// Waits until the finalized height reaches `height`.
    pub async fn wait_finalized(&self, height: u32, timeout: Duration) -> anyhow::Result<u32> {
        wait_for(&format!("finalized height {height}"), timeout, || async {
            self.heights().await.ok().map(|(_, f)| f).filter(|f| *f >= height)
        })
        .await
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `0x`-hex JSON number as `u32`.
pub fn hex_number(value: &serde_json::Value) -> anyhow::Result<u32> {
    if let Some(n) = value.as_u64() {
        return Ok(u32::try_from(n)?);
    }
    let text = value.as_str().ok_or_else(|| anyhow!("not a hex string: {value}"))?;
    Ok(u32::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

/// Runs `cloister` with `args` against `node_url`; returns (success, stdout, stderr).
pub fn cloister(node_url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary("cloister"))
        .arg("--node-url")
        .arg(node_url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cloister: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A plain HTTP/1.1 request to 127.0.0.1:`port`; returns the response body.
pub fn http(port: u16, method: &str, path: &str, json_body: Option<&str>) -> anyhow::Result<String> {
    http_at("127.0.0.1", port, method, path, json_body)
}

/// A plain HTTP/1.1 request to `host`:`port`; returns the response body, or an error naming
/// the status line when it is not 200.
pub fn http_at(host: &str, port: u16, method: &str, path: &str, json_body: Option<&str>) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((host, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = json_body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, rest) = response.split_once("\r\n\r\n").ok_or_else(|| anyhow!("malformed HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("HTTP error: {head}");
    }
    Ok(rest.to_string())
}
