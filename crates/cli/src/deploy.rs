//! `cloister deploy`: the deployment bundle of a consortium chain, parity-deploy done safely.
//!
//! [`generate`] turns [`DeployOptions`] into a directory holding everything a consortium needs to
//! start its chain, and returns the [`Bundle`] that describes it:
//!
//! ```text
//! DIR/                                  0700
//!   chain-spec.json                     authorities, endowments, slot, boot nodes [, permissions]
//!   bootnodes.txt                       one multiaddress per node
//!   docker-compose.yml                  one service per node and per validateer
//!   systemd/cloister-NAME-node-K.service
//!   systemd/cloister-NAME-validateer-K.service
//!   README.md                           for the operators
//!   sudo.secret                         0600  seed of a generated sudo key: move it offline
//!   nodes/node-K/                       0700  one per organisation
//!     node.toml                         `cloister-node --config` file, paths relative to it
//!     p2p.key                           0600  libp2p identity (ed25519)
//!     keystore.json                     0600  Aura (sr25519) + GRANDPA (ed25519) keys, encrypted
//!     password                          0600  the keystore's generated password
//!     data/                             0700  the node's database
//!   validateers/                        0700  only with --validateers N (see [`validateers`])
//!     cloister-worker                     0755  the binary whose MRENCLAVE sealed the keys
//!     validateer-K/                       0700  validateer.toml, data/ (sealed enclave keys)
//! ```
//!
//! Every argument is checked before anything is written. The files are written into a hidden
//! staging directory beside DIR that is renamed to DIR at the end, so a failed run leaves nothing
//! behind and an existing non-empty DIR is never touched. Node K (1-based) listens on the base
//! ports plus K-1, so a one-node bundle uses Substrate's default ports. The text files for
//! operators (compose file, systemd units, README) come from [`templates`].
//!
//! With `--validateers N` the bundle also holds N validateers of one shard, whose enclave keys
//! the worker binary generates and seals at deploy time; their accounts are endowed (and
//! permitted on a permissioned chain) in the chain spec. They run the software enclave, whose
//! dev attestations prove nothing to a remote party, so the chain must accept dev attestations:
//! `--validateers` is refused without `--allow-dev-attestation`, which is for test consortia.

mod templates;
pub mod validateers;

pub use validateers::{BundleValidateer, ValidateerConfig};

use crate::{
    dev::WorkerPorts,
    signer::{parse_account, ss58},
};
use cloister_network::{generate_node_key, peer_id, NodeKeyError};
use cloister_node::{
    chain_spec::{ChainSpec, ChainSpecError},
    cli::ConfigFile,
    config::{DEFAULT_P2P_PORT, DEFAULT_PROMETHEUS_PORT, DEFAULT_RPC_PORT},
    keystore::{read_password, AuthorityKeys, KeystoreError},
};
use cloister_primitives::{AccountId, Balance, UNIT};
use cloister_runtime::genesis::{consortium_genesis, GenesisParams, PermissionsGenesis};
use rand::RngCore;
use serde::Serialize;
use sp_core::{sr25519, Pair};
use std::{
    collections::HashSet,
    io::Write,
    net::Ipv4Addr,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};
use tracing::info;
use zeroize::Zeroizing;

/// Default Aura slot of a consortium chain (ARCHITECTURE.md 4.3).
pub const DEFAULT_SLOT_MS: u64 = 6_000;
/// Shortest slot accepted: Timestamp's minimum period is half a slot.
pub const MIN_SLOT_MS: u64 = 100;
/// Most authorities the runtime's Aura and GRANDPA pallets hold.
pub const MAX_NODES: usize = 64;
/// Free balance of the sudo account when `--endow` does not name it.
pub const SUDO_ENDOWMENT: Balance = 1_000_000 * UNIT;
/// Duration of each Encointer ceremony phase at genesis (sudo may change it later).
pub const PHASE_DURATION_MS: u64 = 20 * 60_000;
/// READ | TRANSACT | CREATE | ADMIN (ARCHITECTURE.md 4.6), the sudo account's permissions on a
/// permissioned chain.
pub const ALL_PERMISSIONS: u8 = pallet_cloister_permissions::Permissions::ALL;
/// Where the systemd units expect the bundle unless `--install-dir` says otherwise.
pub const DEFAULT_INSTALL_ROOT: &str = "/var/lib/cloister";
/// Where the systemd units expect the node binary.
pub const NODE_BINARY: &str = "/usr/local/bin/cloister-node";
/// Most validateers of a bundle: the registry's limit of validateers per shard.
pub const MAX_VALIDATEERS: usize = 64;
/// Free balance of each validateer's enclave account at genesis: its registration and
/// anchoring fees.
pub const VALIDATEER_ENDOWMENT: Balance = 1_000 * UNIT;
/// READ | TRANSACT | CREATE: what a validateer's enclave account holds on a permissioned chain
/// (it reads over RPC, sends extrinsics, and registering an enclave is a CREATE call).
pub const VALIDATEER_PERMISSIONS: u8 = pallet_cloister_permissions::Permissions::READ
    | pallet_cloister_permissions::Permissions::TRANSACT
    | pallet_cloister_permissions::Permissions::CREATE;

/// Errors of the deploy generator; nothing is left on disk when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The chain name is not usable in ids, file and unit names.
    #[error(
        "invalid chain name '{0}': use lowercase letters, digits and single dashes, starting with a letter, \
         at most 48 characters (like home-chain)"
    )]
    InvalidName(String),
    /// Too few or too many nodes.
    #[error("--nodes must be between 1 and {MAX_NODES}, not {0}")]
    NodeCount(usize),
    /// Too many validateers.
    #[error("--validateers must be at most {MAX_VALIDATEERS} (validateers per shard), not {0}")]
    ValidateerCount(usize),
    /// Validateers without `--allow-dev-attestation`.
    #[error(
        "--validateers needs --allow-dev-attestation: the validateers run the software enclave backend, \
         which has no hardware attestation (its dev reports prove nothing to a remote party), so the chain \
         must accept dev attestations. Do this for test consortia only (nothing was written)"
    )]
    DevAttestationRequired,
    /// The worker binary cannot be copied or run.
    #[error("cloister-worker ({}): {reason}", binary.display())]
    Worker {
        /// The binary.
        binary: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The slot is too short.
    #[error("--slot-ms must be at least {MIN_SLOT_MS}, not {0}")]
    SlotDuration(u64),
    /// An `--endow` argument is wrong.
    #[error("invalid --endow: {0} (expected ACCOUNT=PLANCKS, ACCOUNT an SS58 address or a secret URI)")]
    Endowment(String),
    /// An account is endowed twice.
    #[error("account {0} is endowed twice; give one --endow per account")]
    DuplicateEndowment(String),
    /// The `--sudo` account does not parse.
    #[error("invalid --sudo: {0}")]
    Sudo(crate::signer::AccountError),
    /// The port ranges do not fit or overlap.
    #[error("ports: {0}; choose other --base-port, --rpc-base-port or --prometheus-base-port")]
    Ports(String),
    /// `--host` is not given once per node.
    #[error("--host was given {given} times for {nodes} nodes: give it once per node, in node order, or not at all")]
    Hosts {
        /// How often it was given.
        given: usize,
        /// How many nodes there are.
        nodes: usize,
    },
    /// The output directory already holds something.
    #[error("{} is not empty; choose a new or empty directory (nothing was written)", .0.display())]
    NotEmpty(PathBuf),
    /// The output path is a file.
    #[error("{} exists and is not a directory (nothing was written)", .0.display())]
    NotADirectory(PathBuf),
    /// The output path names no directory (`..`, `/`).
    #[error("--out '{}' does not name a directory", .0.display())]
    BadOutPath(PathBuf),
    /// A file cannot be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A keystore cannot be written.
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    /// A node key cannot be written.
    #[error(transparent)]
    NodeKey(#[from] NodeKeyError),
    /// The runtime refuses the genesis these options describe.
    #[error(transparent)]
    Genesis(#[from] ChainSpecError),
    /// A generated file cannot be rendered.
    #[error("cannot render {file}: {reason}")]
    Render {
        /// The file.
        file: &'static str,
        /// Why.
        reason: String,
    },
}

impl DeployError {
    /// Whether the user's arguments are at fault (as opposed to the file system).
    pub fn is_bad_argument(&self) -> bool {
        !matches!(
            self,
            Self::Io { .. } | Self::Keystore(_) | Self::NodeKey(_) | Self::Render { .. } | Self::Worker { .. }
        )
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct DeployOptions {
    /// Name of the chain (lowercase letters, digits, dashes).
    pub name: String,
    /// Number of authority nodes.
    pub nodes: usize,
    /// The bundle directory; must not exist or be empty.
    pub out: PathBuf,
    /// Milliseconds per Aura slot.
    pub slot_ms: u64,
    /// `ACCOUNT=PLANCKS` endowments at genesis.
    pub endow: Vec<String>,
    /// Restrict the chain: only the sudo account holds permissions, only the bundle's nodes connect.
    pub permissioned: bool,
    /// libp2p port of node 1.
    pub base_port: u16,
    /// RPC port of node 1.
    pub rpc_base_port: u16,
    /// Prometheus port of node 1.
    pub prometheus_base_port: u16,
    /// The sudo account (SS58 or secret URI); `None` generates a key.
    pub sudo: Option<String>,
    /// IPv4 address of each node's machine, in node order; empty: all on 127.0.0.1.
    pub hosts: Vec<Ipv4Addr>,
    /// Where the bundle lives on the servers; default `/var/lib/cloister/NAME`.
    pub install_dir: Option<PathBuf>,
    /// Validateers of the default shard to include (0: none).
    pub validateers: usize,
    /// Whether the chain accepts dev attestations (software enclaves); needed by validateers.
    pub allow_dev_attestation: bool,
    /// Ports of validateer-1; validateer-K gets each plus 10*(K-1) (metrics 0: off).
    pub validateer_ports: WorkerPorts,
}

impl DeployOptions {
    /// Options with every default for `nodes` nodes of chain `name` written to `out`.
    pub fn new(name: impl Into<String>, nodes: usize, out: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            nodes,
            out: out.into(),
            slot_ms: DEFAULT_SLOT_MS,
            endow: Vec::new(),
            permissioned: false,
            base_port: DEFAULT_P2P_PORT,
            rpc_base_port: DEFAULT_RPC_PORT,
            prometheus_base_port: DEFAULT_PROMETHEUS_PORT,
            sudo: None,
            hosts: Vec::new(),
            install_dir: None,
            validateers: 0,
            allow_dev_attestation: false,
            validateer_ports: WorkerPorts::DEFAULT,
        }
    }
}

/// A written bundle.
#[derive(Clone, Debug, Serialize)]
pub struct Bundle {
    /// The bundle directory (absolute).
    pub dir: PathBuf,
    /// Name of the chain.
    pub name: String,
    /// Id of the chain (the name with underscores).
    pub chain_id: String,
    /// Milliseconds per slot.
    pub slot_ms: u64,
    /// Whether the chain starts restricted.
    pub permissioned: bool,
    /// The sudo account (SS58).
    pub sudo: String,
    /// The generated sudo key's secret seed, if the key was generated.
    pub sudo_secret: Option<PathBuf>,
    /// Where the systemd units expect the bundle on the servers.
    pub install_dir: PathBuf,
    /// The nodes, node-1 first.
    pub nodes: Vec<BundleNode>,
    /// Whether the chain accepts dev attestations (software enclaves).
    pub allow_dev_attestation: bool,
    /// The MRENCLAVE of the bundle's worker binary, also the shard its validateers serve;
    /// `None` without validateers.
    pub mrenclave: Option<String>,
    /// The validateers, validateer-1 first.
    pub validateers: Vec<BundleValidateer>,
}

/// One node of a bundle.
#[derive(Clone, Debug, Serialize)]
pub struct BundleNode {
    /// K in node-K, from 1.
    pub index: usize,
    /// `NAME-node-K`.
    pub name: String,
    /// Its directory, relative to the bundle (`nodes/node-K`).
    pub dir: PathBuf,
    /// Address of its machine.
    pub host: Ipv4Addr,
    /// libp2p port.
    pub p2p_port: u16,
    /// JSON-RPC port.
    pub rpc_port: u16,
    /// Prometheus port.
    pub prometheus_port: u16,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// `/ip4/HOST/tcp/PORT/p2p/PEER_ID`.
    pub multiaddr: String,
    /// Aura authority key (SS58).
    pub aura: String,
    /// GRANDPA authority key (SS58).
    pub grandpa: String,
}

impl Bundle {
    /// The chain spec file.
    pub fn chain_spec(&self) -> PathBuf {
        self.dir.join("chain-spec.json")
    }

    /// The `node.toml` of a node.
    pub fn node_config(&self, node: &BundleNode) -> PathBuf {
        self.dir.join(&node.dir).join("node.toml")
    }
}

impl BundleNode {
    /// Name of its systemd unit, without `.service`.
    pub fn unit(&self) -> String {
        format!("cloister-{}", self.name)
    }
}

/// Checks a chain name: lowercase letters, digits and single dashes, starting with a letter.
pub fn validate_name(name: &str) -> Result<(), DeployError> {
    let ok = (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(DeployError::InvalidName(name.into()))
    }
}

/// Parses `ACCOUNT=PLANCKS`; the amount must reach the existential deposit.
pub fn parse_endowment(text: &str) -> Result<(AccountId, Balance), DeployError> {
    let (account, amount) =
        text.rsplit_once('=').ok_or_else(|| DeployError::Endowment("no '=' between account and amount".into()))?;
    // Never echo the account part: it may be a secret URI.
    let account = parse_account(account.trim())
        .map_err(|_| DeployError::Endowment("the account is neither an SS58 address nor a secret URI".into()))?;
    let digits: String = amount.trim().chars().filter(|c| *c != '_').collect();
    let amount: Balance = digits
        .parse()
        .map_err(|_| DeployError::Endowment(format!("amount '{amount}' is not a whole number of plancks")))?;
    let minimum = cloister_runtime::EXISTENTIAL_DEPOSIT;
    if amount < minimum {
        return Err(DeployError::Endowment(format!(
            "amount {amount} is below the existential deposit of {minimum} plancks"
        )));
    }
    Ok((account, amount))
}

/// Ports of one node.
#[derive(Clone, Copy, Debug)]
struct Ports {
    p2p: u16,
    rpc: u16,
    prometheus: u16,
}

fn plan_ports(options: &DeployOptions) -> Result<Vec<Ports>, DeployError> {
    let bases =
        [("libp2p", options.base_port), ("RPC", options.rpc_base_port), ("Prometheus", options.prometheus_base_port)];
    let mut seen = HashSet::new();
    let mut plan = Vec::with_capacity(options.nodes);
    for k in 0..options.nodes {
        let mut ports = [0u16; 3];
        for (slot, (kind, base)) in ports.iter_mut().zip(bases) {
            if base == 0 {
                return Err(DeployError::Ports(format!("the {kind} base port must not be 0")));
            }
            let port = u16::try_from(k)
                .ok()
                .and_then(|k| base.checked_add(k))
                .ok_or_else(|| DeployError::Ports(format!("node-{}'s {kind} port would be above 65535", k + 1)))?;
            if !seen.insert(port) {
                return Err(DeployError::Ports(format!("port {port} would be used twice")));
            }
            *slot = port;
        }
        plan.push(Ports { p2p: ports[0], rpc: ports[1], prometheus: ports[2] });
    }
    Ok(plan)
}

/// The checked options.
struct Plan {
    name: String,
    chain_id: String,
    slot_ms: u64,
    ports: Vec<Ports>,
    hosts: Vec<Ipv4Addr>,
    sudo: Option<AccountId>,
    endowed: Vec<(AccountId, Balance)>,
    permissioned: bool,
    install_dir: PathBuf,
    validateers: Vec<validateers::ValidateerPlan>,
    allow_dev_attestation: bool,
}

/// Fails if a validateer would listen on a port a node or another validateer uses.
fn check_validateer_ports(nodes: &[Ports], plan: &[validateers::ValidateerPlan]) -> Result<(), DeployError> {
    let mut seen: HashSet<u16> = nodes.iter().flat_map(|p| [p.p2p, p.rpc, p.prometheus]).collect();
    for v in plan {
        let p = v.ports;
        for port in [p.trusted, p.untrusted, p.mu_ra, p.metrics].into_iter().filter(|p| *p != 0) {
            if !seen.insert(port) {
                return Err(DeployError::Ports(format!(
                    "port {port} would be used twice (validateer-K listens on the validateer base ports plus 10*(K-1))"
                )));
            }
        }
    }
    Ok(())
}

fn plan(options: &DeployOptions) -> Result<Plan, DeployError> {
    validate_name(&options.name)?;
    if !(1..=MAX_NODES).contains(&options.nodes) {
        return Err(DeployError::NodeCount(options.nodes));
    }
    if options.validateers > MAX_VALIDATEERS {
        return Err(DeployError::ValidateerCount(options.validateers));
    }
    if options.validateers > 0 && !options.allow_dev_attestation {
        return Err(DeployError::DevAttestationRequired);
    }
    if options.slot_ms < MIN_SLOT_MS {
        return Err(DeployError::SlotDuration(options.slot_ms));
    }
    let hosts = match options.hosts.len() {
        0 => vec![Ipv4Addr::LOCALHOST; options.nodes],
        n if n == options.nodes => options.hosts.clone(),
        given => return Err(DeployError::Hosts { given, nodes: options.nodes }),
    };
    let ports = plan_ports(options)?;
    let validateers = validateers::plan_validateers(options.validateers, options.nodes, options.validateer_ports)?;
    check_validateer_ports(&ports, &validateers)?;
    let mut endowed: Vec<(AccountId, Balance)> = Vec::new();
    for text in &options.endow {
        let (account, amount) = parse_endowment(text)?;
        if endowed.iter().any(|(a, _)| *a == account) {
            return Err(DeployError::DuplicateEndowment(ss58(&account)));
        }
        endowed.push((account, amount));
    }
    let sudo = options.sudo.as_deref().map(parse_account).transpose().map_err(DeployError::Sudo)?;
    let install_dir =
        options.install_dir.clone().unwrap_or_else(|| Path::new(DEFAULT_INSTALL_ROOT).join(&options.name));
    Ok(Plan {
        name: options.name.clone(),
        chain_id: options.name.replace('-', "_"),
        slot_ms: options.slot_ms,
        ports,
        hosts,
        sudo,
        endowed,
        permissioned: options.permissioned,
        install_dir,
        validateers,
        allow_dev_attestation: options.allow_dev_attestation,
    })
}

/// Writes the bundle that `options` describe; see the module documentation for its layout.
pub fn generate(options: &DeployOptions) -> Result<Bundle, DeployError> {
    let plan = plan(options)?;
    let (dir, staging) = prepare_out(&options.out)?;
    let written = write_bundle(&plan, &dir, &staging).and_then(|bundle| {
        std::fs::rename(&staging, &dir).map_err(|source| match source.kind() {
            // Something appeared in DIR since we looked.
            std::io::ErrorKind::DirectoryNotEmpty => DeployError::NotEmpty(options.out.clone()),
            _ => DeployError::Io { path: dir.clone(), source },
        })?;
        Ok(bundle)
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let bundle = written?;
    info!(target: "deploy", chain = %bundle.name, nodes = bundle.nodes.len(), dir = %bundle.dir.display(), "bundle written");
    Ok(bundle)
}

/// Checks DIR and makes the staging directory beside it; returns (DIR absolute, staging).
fn prepare_out(out: &Path) -> Result<(PathBuf, PathBuf), DeployError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DeployError::Io { path, source }
    };
    match std::fs::metadata(out) {
        Ok(meta) if !meta.is_dir() => return Err(DeployError::NotADirectory(out.into())),
        Ok(_) => {
            if std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
                return Err(DeployError::NotEmpty(out.into()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(out)(e)),
    }
    let absolute =
        if out.is_absolute() { out.to_path_buf() } else { std::env::current_dir().map_err(io(out))?.join(out) };
    let (Some(parent), Some(file_name)) = (absolute.parent(), absolute.file_name()) else {
        return Err(DeployError::BadOutPath(out.into()));
    };
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let dir = parent.join(file_name);
    let staging = parent.join(format!(".{}.partial-{}", file_name.to_string_lossy(), std::process::id()));
    private_dir(&staging)?;
    Ok((dir, staging))
}

/// Creates a directory readable by its owner only.
fn private_dir(path: &Path) -> Result<(), DeployError> {
    std::fs::DirBuilder::new().mode(0o700).create(path).map_err(|source| DeployError::Io { path: path.into(), source })
}

/// Writes a new file with `mode`; never overwrites.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DeployError> {
    let io = |source| DeployError::Io { path: path.into(), source };
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

/// A fresh password: 32 random bytes as 64 hex characters.
fn fresh_password() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::thread_rng().fill_bytes(&mut bytes[..]);
    Zeroizing::new(hex::encode(&bytes[..]))
}

/// Generates the keys, writes every file under `staging` and describes them as they will be
/// once `staging` is renamed to `dir`.
fn write_bundle(plan: &Plan, dir: &Path, staging: &Path) -> Result<Bundle, DeployError> {
    private_dir(&staging.join("nodes"))?;
    let mut nodes = Vec::with_capacity(plan.ports.len());
    let mut authorities = Vec::with_capacity(plan.ports.len());
    let mut peers = Vec::with_capacity(plan.ports.len());
    for (i, (ports, host)) in plan.ports.iter().zip(&plan.hosts).enumerate() {
        let index = i + 1;
        let rel = PathBuf::from("nodes").join(format!("node-{index}"));
        let node_dir = staging.join(&rel);
        private_dir(&node_dir)?;
        private_dir(&node_dir.join("data"))?;
        let p2p = generate_node_key(&node_dir.join("p2p.key"))?;
        let password = fresh_password();
        write_new(&node_dir.join("password"), format!("{}\n", password.as_str()).as_bytes(), 0o600)?;
        let keys = AuthorityKeys::generate();
        keys.save(&node_dir.join("keystore.json"), password.as_bytes())?;
        let peer = peer_id(&p2p);
        nodes.push(BundleNode {
            index,
            name: format!("{}-node-{index}", plan.name),
            dir: rel,
            host: *host,
            p2p_port: ports.p2p,
            rpc_port: ports.rpc,
            prometheus_port: ports.prometheus,
            peer_id: peer.to_string(),
            multiaddr: format!("/ip4/{host}/tcp/{}/p2p/{peer}", ports.p2p),
            aura: keys.aura.public().to_string(),
            grandpa: keys.grandpa.public().to_string(),
        });
        authorities.push((keys.aura.public().into(), keys.grandpa.public().into()));
        peers.push(peer);
    }

    let hosts: Vec<Ipv4Addr> = nodes.iter().map(|n| n.host).collect();
    let rpc_ports: Vec<u16> = nodes.iter().map(|n| n.rpc_port).collect();
    let written = validateers::write_validateers(plan, staging, &hosts, &rpc_ports)?;

    let (sudo, sudo_secret) = match &plan.sudo {
        Some(account) => (account.clone(), None),
        None => {
            let (pair, seed) = sr25519::Pair::generate();
            let secret = Zeroizing::new(format!("0x{}\n", hex::encode(seed)));
            write_new(&staging.join("sudo.secret"), secret.as_bytes(), 0o600)?;
            (AccountId::from(pair.public()), Some(dir.join("sudo.secret")))
        }
    };
    let bundle = Bundle {
        dir: dir.to_path_buf(),
        name: plan.name.clone(),
        chain_id: plan.chain_id.clone(),
        slot_ms: plan.slot_ms,
        permissioned: plan.permissioned,
        sudo: ss58(&sudo),
        sudo_secret,
        install_dir: plan.install_dir.clone(),
        nodes,
        allow_dev_attestation: plan.allow_dev_attestation,
        mrenclave: written.mrenclave,
        validateers: written.validateers,
    };

    let mut endowed = plan.endowed.clone();
    if !endowed.iter().any(|(a, _)| *a == sudo) {
        endowed.push((sudo.clone(), SUDO_ENDOWMENT));
    }
    let enclave_accounts = written.accounts;
    for account in &enclave_accounts {
        if !endowed.iter().any(|(a, _)| a == account) {
            endowed.push((account.clone(), VALIDATEER_ENDOWMENT));
        }
    }
    // A permissioned chain starts restricted: the sudo account holds every permission, each
    // validateer's enclave account what it needs to register and anchor, and only the bundle's
    // nodes are on the allowlist.
    let permissions = plan.permissioned.then(|| PermissionsGenesis {
        restricted: true,
        accounts: std::iter::once((sudo.clone(), ALL_PERMISSIONS))
            .chain(enclave_accounts.iter().map(|a| (a.clone(), VALIDATEER_PERMISSIONS)))
            .collect(),
        allowed_peers: peers.iter().map(|p| p.to_bytes()).collect(),
    });
    let params = GenesisParams {
        authorities,
        sudo: Some(sudo),
        endowed,
        phase_durations_ms: [PHASE_DURATION_MS; 3],
        permissions,
        // A real consortium: enclaves attest with DCAP quotes only, unless a test consortium
        // asked for software enclaves.
        allow_dev_attestation: plan.allow_dev_attestation,
    };
    let mut spec = ChainSpec::consortium(&plan.name, &plan.chain_id, plan.slot_ms, consortium_genesis(&params));
    spec.boot_nodes = bundle.nodes.iter().map(|n| n.multiaddr.clone()).collect();
    // The runtime must build this genesis before anything is written.
    spec.genesis_storage()?;
    write_new(&staging.join("chain-spec.json"), spec.to_json().as_bytes(), 0o644)?;

    let bootnodes: String = bundle.nodes.iter().map(|n| format!("{}\n", n.multiaddr)).collect();
    write_new(&staging.join("bootnodes.txt"), bootnodes.as_bytes(), 0o644)?;
    for node in &bundle.nodes {
        write_new(&staging.join(&node.dir).join("node.toml"), node_toml(&bundle, node)?.as_bytes(), 0o644)?;
    }
    write_new(&staging.join("docker-compose.yml"), templates::compose(&bundle).as_bytes(), 0o644)?;
    private_dir(&staging.join("systemd"))?;
    for node in &bundle.nodes {
        let unit = staging.join("systemd").join(format!("{}.service", node.unit()));
        write_new(&unit, templates::systemd_unit(&bundle, node).as_bytes(), 0o644)?;
    }
    for validateer in &bundle.validateers {
        let unit = staging.join("systemd").join(format!("{}.service", validateer.unit()));
        write_new(&unit, templates::validateer_unit(&bundle, validateer).as_bytes(), 0o644)?;
    }
    write_new(&staging.join("README.md"), templates::readme(&bundle).as_bytes(), 0o644)?;
    Ok(bundle)
}

/// The `node.toml` of `node`: every path relative to its directory.
fn node_toml(bundle: &Bundle, node: &BundleNode) -> Result<String, DeployError> {
    let config = ConfigFile {
        name: Some(node.name.clone()),
        chain: Some("../../chain-spec.json".into()),
        base_path: Some("data".into()),
        port: Some(node.p2p_port),
        node_key_file: Some("p2p.key".into()),
        bootnodes: bundle.nodes.iter().filter(|n| n.index != node.index).map(|n| n.multiaddr.clone()).collect(),
        rpc_port: Some(node.rpc_port),
        prometheus_port: Some(node.prometheus_port),
        keystore: Some("keystore.json".into()),
        password_file: Some("password".into()),
        ..Default::default()
    };
    let body =
        toml::to_string(&config).map_err(|e| DeployError::Render { file: "node.toml", reason: e.to_string() })?;
    Ok(format!("{}{body}", templates::node_toml_header(bundle, node)))
}

/// Re-encrypts the keystore of a bundle's node directory under a fresh random password and
/// replaces its `password` file. Returns the authority's Aura key (SS58).
///
/// The new keystore replaces the old one first, then the new password the old one; if that is
/// interrupted in between, `password.new` holds the password and the next run finishes the job.
pub fn rotate_password(node_dir: &Path) -> Result<String, DeployError> {
    let keystore = node_dir.join("keystore.json");
    let password = node_dir.join("password");
    let pending = node_dir.join("password.new");
    let new_keystore = node_dir.join("keystore.json.new");
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| DeployError::Io { path: to.into(), source })
    };
    if pending.exists() {
        if let Ok(keys) = AuthorityKeys::load(&keystore, &read_password(&pending)?) {
            // An interrupted rotation: the keystore is already under the new password.
            rename(&pending, &password)?;
            info!(target: "deploy", dir = %node_dir.display(), "finished an interrupted password rotation");
            return Ok(keys.aura.public().to_string());
        }
        std::fs::remove_file(&pending).map_err(|source| DeployError::Io { path: pending.clone(), source })?;
    }
    let _ = std::fs::remove_file(&new_keystore);
    let keys = AuthorityKeys::load(&keystore, &read_password(&password)?)?;
    let fresh = fresh_password();
    write_new(&pending, format!("{}\n", fresh.as_str()).as_bytes(), 0o600)?;
    keys.save(&new_keystore, fresh.as_bytes())?;
    let reopened = AuthorityKeys::load(&new_keystore, &read_password(&pending)?)?;
    if reopened.aura.public() != keys.aura.public() || reopened.grandpa.public() != keys.grandpa.public() {
        return Err(DeployError::Render { file: "keystore.json", reason: "re-encrypted keys differ".into() });
    }
    rename(&new_keystore, &keystore)?;
    rename(&pending, &password)?;
    info!(target: "deploy", dir = %node_dir.display(), "keystore password rotated");
    Ok(keys.aura.public().to_string())
}

/// `cloister deploy`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Name of the chain: lowercase letters, digits and dashes (like home-chain).
    #[arg(long)]
    pub name: String,
    /// Number of authority nodes.
    #[arg(long)]
    pub nodes: usize,
    /// Directory to write the bundle to; must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Milliseconds per block slot.
    #[arg(long, default_value_t = DEFAULT_SLOT_MS)]
    pub slot_ms: u64,
    /// Endow an account at genesis, ACCOUNT=PLANCKS (SS58 address or secret URI); repeatable.
    #[arg(long, value_name = "ACCOUNT=PLANCKS")]
    pub endow: Vec<String>,
    /// Start restricted: only the sudo account holds permissions, only these nodes may connect.
    #[arg(long)]
    pub permissioned: bool,
    /// libp2p port of node-1; node-K gets BASE+K-1.
    #[arg(long, default_value_t = DEFAULT_P2P_PORT)]
    pub base_port: u16,
    /// JSON-RPC port of node-1; node-K gets BASE+K-1.
    #[arg(long, default_value_t = DEFAULT_RPC_PORT)]
    pub rpc_base_port: u16,
    /// Prometheus port of node-1; node-K gets BASE+K-1.
    #[arg(long, default_value_t = DEFAULT_PROMETHEUS_PORT)]
    pub prometheus_base_port: u16,
    /// The sudo account (SS58 address or secret URI) [default: a fresh key in DIR/sudo.secret].
    #[arg(long)]
    pub sudo: Option<String>,
    /// IPv4 address of node-K's machine; once per node, in order [default: 127.0.0.1 for all].
    #[arg(long = "host", value_name = "IPV4")]
    pub hosts: Vec<Ipv4Addr>,
    /// Where the bundle will live on the servers (used by the systemd units)
    /// [default: /var/lib/cloister/NAME].
    #[arg(long, value_name = "DIR")]
    pub install_dir: Option<PathBuf>,
    /// Validateers of the default shard (the MRENCLAVE of this build's cloister-worker), whose
    /// enclave keys are generated now; validateer-K follows node ((K-1) mod nodes)+1. Needs
    /// --allow-dev-attestation.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub validateers: usize,
    /// Accept dev attestations of software enclaves, which have no hardware behind them: for
    /// test consortia only.
    #[arg(long)]
    pub allow_dev_attestation: bool,
    /// Direct-invocation port of validateer-1; validateer-K gets BASE+10*(K-1).
    #[arg(long, default_value_t = WorkerPorts::DEFAULT.trusted)]
    pub trusted_base_port: u16,
    /// Peer (block exchange) port of validateer-1; validateer-K gets BASE+10*(K-1).
    #[arg(long, default_value_t = WorkerPorts::DEFAULT.untrusted)]
    pub untrusted_base_port: u16,
    /// MU-RA port of validateer-1; validateer-K gets BASE+10*(K-1).
    #[arg(long, default_value_t = WorkerPorts::DEFAULT.mu_ra)]
    pub mu_ra_base_port: u16,
    /// Prometheus port of validateer-1; validateer-K gets BASE+10*(K-1) (0: metrics off).
    #[arg(long, default_value_t = WorkerPorts::DEFAULT.metrics)]
    pub worker_metrics_base_port: u16,
}

impl From<DeployArgs> for DeployOptions {
    fn from(a: DeployArgs) -> Self {
        Self {
            name: a.name,
            nodes: a.nodes,
            out: a.out,
            slot_ms: a.slot_ms,
            endow: a.endow,
            permissioned: a.permissioned,
            base_port: a.base_port,
            rpc_base_port: a.rpc_base_port,
            prometheus_base_port: a.prometheus_base_port,
            sudo: a.sudo,
            hosts: a.hosts,
            install_dir: a.install_dir,
            validateers: a.validateers,
            allow_dev_attestation: a.allow_dev_attestation,
            validateer_ports: WorkerPorts {
                trusted: a.trusted_base_port,
                untrusted: a.untrusted_base_port,
                mu_ra: a.mu_ra_base_port,
                metrics: a.worker_metrics_base_port,
            },
        }
    }
}

/// Runs `cloister deploy`: writes the bundle and says what to do with it.
pub fn run(args: DeployArgs, out: &crate::output::Output) -> Result<(), DeployError> {
    let bundle = generate(&args.into())?;
    let dir = bundle.dir.display();
    let mut text = format!(
        "Wrote the {} consortium chain (id {}, {} authority nodes, {} ms slots) to {dir}\n",
        bundle.name,
        bundle.chain_id,
        bundle.nodes.len(),
        bundle.slot_ms
    );
    for n in &bundle.nodes {
        text.push_str(&format!(
            "  {:<24} p2p {:<5} rpc {:<5} metrics {:<5} peer {}\n",
            n.name, n.p2p_port, n.rpc_port, n.prometheus_port, n.peer_id
        ));
    }
    for v in &bundle.validateers {
        text.push_str(&format!(
            "  {:<24} {} (node-{}, MU-RA {}, peers {}) account {}\n",
            v.name, v.worker_url, v.node, v.mu_ra_port, v.untrusted_port, v.account
        ));
    }
    if let Some(mrenclave) = &bundle.mrenclave {
        text.push_str(&format!(
            "  MRENCLAVE    {mrenclave} (the shard; software enclaves, dev attestations: a test consortium)\n"
        ));
    }
    text.push_str(&format!("  sudo account {}\n", bundle.sudo));
    if let Some(secret) = &bundle.sudo_secret {
        text.push_str(&format!("  sudo secret  {} (move it offline)\n", secret.display()));
    }
    text.push_str(&format!(
        "Secret files (mode 0600): nodes/node-K/{{p2p.key,keystore.json,password}}{}{}.\n\
         Give each organisation its nodes/node-K directory and chain-spec.json; see {dir}/README.md.\n\
         Try it on this machine: cloister network up {dir}",
        if bundle.sudo_secret.is_some() { ", sudo.secret" } else { "" },
        if bundle.validateers.is_empty() { "" } else { ", validateers/validateer-K/data/ (sealed enclave keys)" }
    ));
    out.print(text, serde_json::to_value(&bundle).unwrap_or_default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words_with_dashes() {
        for good in ["home-chain", "a", "zurich2", "x-1-y"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Home", "-a", "a-", "a--b", "1abc", "a_b", "a b", &"a".repeat(49)] {
            assert!(matches!(validate_name(bad), Err(DeployError::InvalidName(_))), "{bad}");
        }
    }

    #[test]
    fn endowments_parse_and_refuse_dust_and_garbage() {
        let (alice, amount) = parse_endowment("//Alice=1_000_000_000_000").expect("parses");
        assert_eq!(ss58(&alice), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        assert_eq!(amount, UNIT);
        assert!(parse_endowment("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY=2000000000").is_ok());
        for bad in ["//Alice", "//Alice=", "//Alice=1.5", "//Alice=-3", "not an account=1000000000000", "//Alice=1"] {
            assert!(matches!(parse_endowment(bad), Err(DeployError::Endowment(_))), "{bad}");
        }
        let err = parse_endowment("//Secret=x").expect_err("bad amount").to_string();
        assert!(!err.contains("Secret"), "a secret URI is never echoed: {err}");
    }

    #[test]
    fn ports_count_up_from_the_bases_and_never_collide() {
        let mut options = DeployOptions::new("c", 3, "/nonexistent");
        let ports = plan_ports(&options).expect("defaults fit");
        assert_eq!((ports[0].p2p, ports[0].rpc, ports[0].prometheus), (30333, 9944, 9615));
        assert_eq!((ports[2].p2p, ports[2].rpc, ports[2].prometheus), (30335, 9946, 9617));
        options.base_port = 65534;
        assert!(matches!(plan_ports(&options), Err(DeployError::Ports(_))));
        options.base_port = 9943;
        assert!(matches!(plan_ports(&options), Err(DeployError::Ports(_))), "overlaps the RPC range");
        options.base_port = 0;
        assert!(matches!(plan_ports(&options), Err(DeployError::Ports(_))));
    }

    #[test]
    fn password_rotation_keeps_the_keys_and_changes_the_password() {
        let dir = tempfile::tempdir().expect("tmp");
        let keys = AuthorityKeys::generate();
        let old = fresh_password();
        write_new(&dir.path().join("password"), old.as_bytes(), 0o600).expect("password");
        keys.save(&dir.path().join("keystore.json"), old.as_bytes()).expect("save");
        let aura = rotate_password(dir.path()).expect("rotates");
        assert_eq!(aura, keys.aura.public().to_string());
        let new = read_password(&dir.path().join("password")).expect("password");
        assert_ne!(new.as_slice(), old.as_bytes());
        let reopened = AuthorityKeys::load(&dir.path().join("keystore.json"), &new).expect("opens");
        assert_eq!(reopened.grandpa.public(), keys.grandpa.public());
        assert!(AuthorityKeys::load(&dir.path().join("keystore.json"), old.as_bytes()).is_err());
        assert!(!dir.path().join("password.new").exists() && !dir.path().join("keystore.json.new").exists());
    }
}
