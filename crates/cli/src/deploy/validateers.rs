//! The validateers of a bundle (`--validateers N`): one base path per validateer whose enclave
//! keys are sealed at deploy time by the bundle's own copy of `cloister-worker`.
//!
//! ```text
//! validateers/                          0700
//!   cloister-worker                     0755  the worker binary whose MRENCLAVE sealed the keys
//!   validateer-K/                       0700
//!     validateer.toml                   what `network up` and the operators need to run it
//!     data/                             0700  `cloister-worker --base-path`: sealed keys, state
//! ```
//!
//! The software enclave derives its sealing key from the MRENCLAVE, the hash of the worker
//! binary: another build cannot unseal these keys. The bundle therefore carries the very binary
//! that wrote them, and the compose file, the systemd units and `network up` run that one.
//! Validateer K (1-based) follows node ((K-1) mod nodes)+1 over its local RPC, runs on that node's
//! machine, listens on the validateer base ports plus 10*(K-1) and serves the default shard (the
//! MRENCLAVE). Its enclave account is endowed at genesis and, on a permissioned chain, holds
//! READ, TRANSACT and CREATE (registering an enclave is a CREATE call).

use super::{private_dir, write_new, DeployError, Plan};
use crate::{dev::WorkerPorts, signer::ss58};
use cloister_primitives::AccountId;
use serde::{Deserialize, Serialize};
use std::{
    net::Ipv4Addr,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Name of the worker binary in the bundle's `validateers/` directory.
pub const WORKER_BINARY: &str = "cloister-worker";
/// Name of a validateer's description file in its directory.
pub const CONFIG_FILE: &str = "validateer.toml";
/// Name of a validateer's base path in its directory.
pub const DATA_DIR: &str = "data";

/// `validateer.toml`: what it takes to run one validateer of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ValidateerConfig {
    /// `NAME-validateer-K`.
    pub name: String,
    /// K, from 1.
    pub index: usize,
    /// The node it follows (K of node-K), on the same machine.
    pub node: usize,
    /// That node's RPC, on the machine's loopback.
    pub node_url: String,
    /// Address of its machine: where it listens and how peers and clients reach it.
    pub host: Ipv4Addr,
    /// Direct-invocation port.
    pub trusted_port: u16,
    /// Peers' block exchange port.
    pub untrusted_port: u16,
    /// MU-RA port.
    pub mu_ra_port: u16,
    /// Prometheus port (0: off).
    pub metrics_port: u16,
    /// The enclave's account (SS58), which pays its extrinsics.
    pub account: String,
    /// The MRENCLAVE of `../cloister-worker`, which is also the shard it serves.
    pub mrenclave: String,
}

impl ValidateerConfig {
    /// Reads a `validateer.toml`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Its ports.
    pub fn ports(&self) -> WorkerPorts {
        WorkerPorts {
            trusted: self.trusted_port,
            untrusted: self.untrusted_port,
            mu_ra: self.mu_ra_port,
            metrics: self.metrics_port,
        }
    }

    /// `run` and its flags, after `cloister-worker --base-path DATA`. `local`: everything on
    /// 127.0.0.1 whatever its host (`cloister network up`).
    pub fn run_args(&self, local: bool) -> Vec<String> {
        let mut args = vec!["run".to_string(), "--node-url".to_string(), self.node_url.clone()];
        args.extend(self.ports().run_args());
        if !local && !self.host.is_loopback() {
            let host = self.host.to_string();
            args.extend(["--listen-addr".to_string(), host.clone(), "--public-host".to_string(), host]);
        }
        args
    }
}

/// One validateer of a bundle, as `cloister deploy --json` describes it.
#[derive(Clone, Debug, Serialize)]
pub struct BundleValidateer {
    /// K in validateer-K, from 1.
    pub index: usize,
    /// `NAME-validateer-K`.
    pub name: String,
    /// Its directory, relative to the bundle (`validateers/validateer-K`).
    pub dir: PathBuf,
    /// The node it follows (K of node-K).
    pub node: usize,
    /// Address of its machine (its node's).
    pub host: Ipv4Addr,
    /// Its node's RPC.
    pub node_url: String,
    /// Its enclave's account (SS58).
    pub account: String,
    /// Direct-invocation port.
    pub trusted_port: u16,
    /// Peers' block exchange port.
    pub untrusted_port: u16,
    /// MU-RA port.
    pub mu_ra_port: u16,
    /// Prometheus port (0: off).
    pub metrics_port: u16,
    /// Where clients reach it (`wss://HOST:PORT`).
    pub worker_url: String,
    /// Where peers fetch its blocks (`ws://HOST:PORT`).
    pub untrusted_url: String,
    /// Where joining validateers run MU-RA with it (`HOST:PORT`).
    pub mu_ra_url: String,
    /// Its metrics, if on.
    pub metrics_url: Option<String>,
}

impl BundleValidateer {
    /// Name of its systemd unit, without `.service`.
    pub fn unit(&self) -> String {
        format!("cloister-{}", self.name)
    }

    /// Its base path, relative to the bundle.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join(DATA_DIR)
    }

    /// Its `validateer.toml` contents, given the bundle's MRENCLAVE.
    pub fn config(&self, mrenclave: &str) -> ValidateerConfig {
        ValidateerConfig {
            name: self.name.clone(),
            index: self.index,
            node: self.node,
            node_url: self.node_url.clone(),
            host: self.host,
            trusted_port: self.trusted_port,
            untrusted_port: self.untrusted_port,
            mu_ra_port: self.mu_ra_port,
            metrics_port: self.metrics_port,
            account: self.account.clone(),
            mrenclave: mrenclave.to_string(),
        }
    }
}

/// Where a validateer runs, as planned from the options.
#[derive(Clone, Copy, Debug)]
pub(super) struct ValidateerPlan {
    /// The node it follows, from 1.
    pub node: usize,
    /// Its ports.
    pub ports: WorkerPorts,
}

/// The validateers' nodes and ports: validateer K follows node ((K-1) mod nodes)+1 and listens
/// on `base` plus 10*(K-1).
pub(super) fn plan_validateers(
    count: usize,
    nodes: usize,
    base: WorkerPorts,
) -> Result<Vec<ValidateerPlan>, DeployError> {
    for (kind, port) in [("trusted", base.trusted), ("untrusted", base.untrusted), ("MU-RA", base.mu_ra)] {
        if port == 0 {
            return Err(DeployError::Ports(format!("the validateers' {kind} base port must not be 0")));
        }
    }
    (0..count)
        .map(|i| {
            let ports = base
                .nth(i)
                .ok_or_else(|| DeployError::Ports(format!("validateer-{}'s ports would be above 65535", i + 1)))?;
            Ok(ValidateerPlan { node: i % nodes.max(1) + 1, ports })
        })
        .collect()
}

/// A validateer's enclave account, generated and sealed into `data` by running `binary
/// --base-path DATA signing-key` (which prints `<ss58> 0x<hex>`).
fn enclave_account(binary: &Path, data: &Path) -> Result<AccountId, DeployError> {
    let failed = |reason: String| DeployError::Worker { binary: binary.into(), reason };
    let out = Command::new(binary)
        .arg("--base-path")
        .arg(data)
        .arg("signing-key")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(format!("signing-key: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim())));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hex_key = stdout.split_whitespace().nth(1).and_then(|h| h.strip_prefix("0x"));
    let bytes: [u8; 32] = hex_key
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| failed(format!("signing-key printed '{}', not '<ss58> 0x<32 bytes of hex>'", stdout.trim())))?;
    Ok(AccountId::from(bytes))
}

/// The MRENCLAVE of `binary`.
fn mrenclave(binary: &Path) -> Result<String, DeployError> {
    crate::dev::worker_mrenclave(binary)
        .map_err(|e| DeployError::Worker { binary: binary.into(), reason: e.to_string() })
}

/// Copies `from` to `to` with mode 0755; never overwrites.
fn copy_binary(from: &Path, to: &Path) -> Result<(), DeployError> {
    let io = |source| DeployError::Io { path: to.into(), source };
    let bytes = std::fs::read(from).map_err(|source| DeployError::Worker {
        binary: from.into(),
        reason: format!("{source} (build it with `cargo build --bins`, or put it next to `cloister` or on PATH)"),
    })?;
    write_new(to, &bytes, 0o755)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).map_err(io)
}

/// What [`write_validateers`] wrote.
#[derive(Default)]
pub(super) struct Written {
    /// The validateers, validateer-1 first.
    pub validateers: Vec<BundleValidateer>,
    /// Their enclave accounts, in the same order.
    pub accounts: Vec<AccountId>,
    /// The MRENCLAVE of the bundle's worker binary; `None` without validateers.
    pub mrenclave: Option<String>,
}

/// Writes `validateers/` under `staging`: the worker binary, then per validateer its directory,
/// sealed keys and `validateer.toml`.
pub(super) fn write_validateers(
    plan: &Plan,
    staging: &Path,
    hosts: &[Ipv4Addr],
    rpc_ports: &[u16],
) -> Result<Written, DeployError> {
    if plan.validateers.is_empty() {
        return Ok(Written::default());
    }
    let root = staging.join("validateers");
    private_dir(&root)?;
    let binary = root.join(WORKER_BINARY);
    copy_binary(&crate::dev::worker_binary(), &binary)?;
    let mrenclave = mrenclave(&binary)?;
    let mut written = Written { mrenclave: Some(mrenclave.clone()), ..Written::default() };
    for (i, v) in plan.validateers.iter().enumerate() {
        let index = i + 1;
        let rel = PathBuf::from("validateers").join(format!("validateer-{index}"));
        private_dir(&staging.join(&rel))?;
        private_dir(&staging.join(&rel).join(DATA_DIR))?;
        let account = enclave_account(&binary, &staging.join(&rel).join(DATA_DIR))?;
        let host = hosts[v.node - 1];
        let p = v.ports;
        let validateer = BundleValidateer {
            index,
            name: format!("{}-validateer-{index}", plan.name),
            dir: rel,
            node: v.node,
            host,
            node_url: format!("ws://127.0.0.1:{}", rpc_ports[v.node - 1]),
            account: ss58(&account),
            trusted_port: p.trusted,
            untrusted_port: p.untrusted,
            mu_ra_port: p.mu_ra,
            metrics_port: p.metrics,
            worker_url: format!("wss://{host}:{}", p.trusted),
            untrusted_url: format!("ws://{host}:{}", p.untrusted),
            mu_ra_url: format!("{host}:{}", p.mu_ra),
            metrics_url: (p.metrics != 0).then(|| format!("http://{host}:{}/metrics", p.metrics)),
        };
        let config = toml::to_string(&validateer.config(&mrenclave))
            .map_err(|e| DeployError::Render { file: CONFIG_FILE, reason: e.to_string() })?;
        let text = format!("{}{config}", super::templates::validateer_toml_header(&plan.name, &validateer, &mrenclave));
        write_new(&staging.join(&validateer.dir).join(CONFIG_FILE), text.as_bytes(), 0o644)?;
        written.validateers.push(validateer);
        written.accounts.push(account);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validateers_follow_the_nodes_in_turn_on_ports_ten_apart() {
        let plan = plan_validateers(5, 2, WorkerPorts::DEFAULT).expect("fits");
        let nodes: Vec<usize> = plan.iter().map(|v| v.node).collect();
        assert_eq!(nodes, [1, 2, 1, 2, 1]);
        assert_eq!(plan[0].ports, WorkerPorts::DEFAULT);
        assert_eq!(plan[2].ports, WorkerPorts { trusted: 2020, untrusted: 2021, mu_ra: 3463, metrics: 8807 });
        let off = WorkerPorts { metrics: 0, ..WorkerPorts::DEFAULT };
        assert_eq!(plan_validateers(2, 1, off).expect("fits")[1].ports.metrics, 0, "metrics stay off");
        let high = WorkerPorts { trusted: 65530, ..WorkerPorts::DEFAULT };
        assert!(matches!(plan_validateers(2, 1, high), Err(DeployError::Ports(_))));
        let zero = WorkerPorts { mu_ra: 0, ..WorkerPorts::DEFAULT };
        assert!(matches!(plan_validateers(1, 1, zero), Err(DeployError::Ports(_))));
    }

    #[test]
    fn run_arguments_bind_the_host_only_off_loopback() {
        let mut config = ValidateerConfig {
            name: "c-validateer-1".into(),
            index: 1,
            node: 1,
            node_url: "ws://127.0.0.1:9944".into(),
            host: Ipv4Addr::LOCALHOST,
            trusted_port: 2000,
            untrusted_port: 2001,
            mu_ra_port: 3443,
            metrics_port: 8787,
            account: String::new(),
            mrenclave: String::new(),
        };
        let local = config.run_args(false).join(" ");
        assert_eq!(
            local,
            "run --node-url ws://127.0.0.1:9944 --trusted-port 2000 --untrusted-port 2001 --mu-ra-port 3443 --metrics-port 8787"
        );
        assert!(!local.contains("--dev"), "a bundle's validateer is never funded from //Alice");
        config.host = Ipv4Addr::new(10, 0, 0, 2);
        assert!(config.run_args(false).join(" ").ends_with("--listen-addr 10.0.0.2 --public-host 10.0.0.2"));
        assert_eq!(config.run_args(true).join(" "), local, "network up runs everything on 127.0.0.1");
        let text = toml::to_string(&config).expect("toml");
        assert_eq!(toml::from_str::<ValidateerConfig>(&text).expect("parses"), config);
    }
}
