//! The node's command line: flags as Substrate nodes name them, turned into a [`NodeConfig`].

use crate::{
    chain_spec::ChainSpec,
    config::{NetworkSettings, NodeConfig, Storage, DEFAULT_P2P_PORT, DEFAULT_PROMETHEUS_PORT, DEFAULT_RPC_PORT},
    keystore::{read_password, AuthorityKeys},
};
use clap::{Args, Parser, Subcommand};
use cloister_network::{parse_addr, parse_peer_addr};
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

/// The Cloister parentchain node.
#[derive(Debug, Parser)]
#[command(name = "cloister-node", version, about)]
pub struct NodeCli {
    /// A subcommand; without one the node runs.
    #[command(subcommand)]
    pub command: Option<NodeCommand>,
    /// How to run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Generate authority keys (Aura sr25519 + GRANDPA ed25519) into an encrypted keystore.
    GenerateKeys {
        /// The keystore file to write.
        #[arg(long)]
        keystore: PathBuf,
        /// The file holding the password.
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Generate a p2p node key (ed25519) into a file and print its peer id.
    GenerateNodeKey {
        /// The file to write (hex secret, mode 0600); never overwritten.
        #[arg(long)]
        file: PathBuf,
    },
    /// Print the chain spec of `--chain` as JSON.
    BuildSpec {
        /// `dev`, `local`, or a chain spec file.
        #[arg(long, default_value = "local")]
        chain: String,
    },
}

/// Flags of a running node.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Development chain: Alice authors and finalizes, temporary storage unless --base-path.
    #[arg(long)]
    pub dev: bool,
    /// The chain: `dev`, `local`, or a path to a chain spec JSON file.
    #[arg(long)]
    pub chain: Option<String>,
    /// Directory for the database and journal.
    #[arg(long, short = 'd')]
    pub base_path: Option<PathBuf>,
    /// Use a temporary directory, removed on exit.
    #[arg(long, conflicts_with = "base_path")]
    pub tmp: bool,
    /// Human name of this node [default: cloister-node].
    #[arg(long)]
    pub name: Option<String>,
    /// Read flags from a TOML node config (as `cloister deploy` writes); flags given here win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// JSON-RPC port (HTTP and WebSocket) [default: 9944].
    #[arg(long)]
    pub rpc_port: Option<u16>,
    /// Listen for RPC on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    pub rpc_external: bool,
    /// Most concurrent RPC connections.
    #[arg(long, default_value_t = 100)]
    pub rpc_max_connections: u32,
    /// libp2p port, on all interfaces [default: 30333].
    #[arg(long)]
    pub port: Option<u16>,
    /// libp2p listen multiaddress instead of `/ip4/0.0.0.0/tcp/PORT` (repeatable).
    #[arg(long)]
    pub listen_addr: Vec<String>,
    /// File holding this node's p2p secret key (ed25519, hex); default: generated under the base path.
    #[arg(long)]
    pub node_key_file: Option<PathBuf>,
    /// Peers to connect to at start, as `/ip4/A.B.C.D/tcp/PORT/p2p/PEER_ID`.
    #[arg(long, num_args = 1..)]
    pub bootnodes: Vec<String>,
    /// Peers to stay connected to, as `/ip4/A.B.C.D/tcp/PORT/p2p/PEER_ID`.
    #[arg(long, num_args = 1..)]
    pub reserved_nodes: Vec<String>,
    /// Connect only to reserved nodes, and accept only them.
    #[arg(long)]
    pub reserved_only: bool,
    /// Prometheus port [default: 9615].
    #[arg(long)]
    pub prometheus_port: Option<u16>,
    /// Do not serve Prometheus metrics.
    #[arg(long)]
    pub no_prometheus: bool,
    /// Encrypted authority keystore (written by `generate-keys` or `cloister deploy`).
    #[arg(long)]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Author with a development key given as a secret URI (e.g. //Alice); for test chains only.
    #[arg(long, conflicts_with = "keystore")]
    pub dev_key: Option<String>,
    /// Print the configuration as JSON and exit.
    #[arg(long)]
    pub dump_config: bool,
}

/// Errors turning flags into a configuration.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The chain spec cannot be loaded.
    #[error(transparent)]
    ChainSpec(#[from] crate::chain_spec::ChainSpecError),
    /// The keystore cannot be opened.
    #[error(transparent)]
    Keystore(#[from] crate::keystore::KeystoreError),
    /// The node config file cannot be read.
    #[error("node config {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A peer or listen address is malformed.
    #[error(transparent)]
    Address(#[from] cloister_network::AddrError),
    /// A keystore was named without its password file.
    #[error("--keystore needs --password-file")]
    MissingPasswordFile,
    /// Both a keystore and a development key were given.
    #[error("give either --keystore or --dev-key, not both")]
    KeyConflict,
}

/// A node config file: the run flags in TOML, kebab-case keys as on the command line.
///
/// Relative paths are relative to the file's directory, so a deployment bundle can move.
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// `--name`.
    pub name: Option<String>,
    /// `--chain`.
    pub chain: Option<String>,
    /// `--base-path`.
    pub base_path: Option<PathBuf>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--listen-addr`.
    #[serde(default)]
    pub listen_addr: Vec<String>,
    /// `--node-key-file`.
    pub node_key_file: Option<PathBuf>,
    /// `--bootnodes`.
    #[serde(default)]
    pub bootnodes: Vec<String>,
    /// `--reserved-nodes`.
    #[serde(default)]
    pub reserved_nodes: Vec<String>,
    /// `--reserved-only`.
    #[serde(default)]
    pub reserved_only: bool,
    /// `--rpc-port`.
    pub rpc_port: Option<u16>,
    /// `--rpc-external`.
    #[serde(default)]
    pub rpc_external: bool,
    /// `--prometheus-port`.
    pub prometheus_port: Option<u16>,
    /// `--no-prometheus`.
    #[serde(default)]
    pub no_prometheus: bool,
    /// `--keystore`.
    pub keystore: Option<PathBuf>,
    /// `--password-file`.
    pub password_file: Option<PathBuf>,
}

impl ConfigFile {
    /// Reads a config file, resolving its relative paths against its directory.
    pub fn load(path: &std::path::Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::ConfigFile { path: path.into(), reason: e.to_string() })?;
        let mut file: ConfigFile =
            toml::from_str(&text).map_err(|e| CliError::ConfigFile { path: path.into(), reason: e.to_string() })?;
        let dir = path.parent().map(|d| d.to_path_buf()).unwrap_or_default();
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(path) = p.as_mut() {
                if path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        };
        resolve(&mut file.base_path);
        resolve(&mut file.node_key_file);
        resolve(&mut file.keystore);
        resolve(&mut file.password_file);
        if let Some(chain) = file.chain.as_mut() {
            let as_path = std::path::Path::new(chain.as_str());
            if !matches!(chain.as_str(), "dev" | "local") && as_path.is_relative() {
                *chain = dir.join(as_path).to_string_lossy().into_owned();
            }
        }
        Ok(file)
    }
}

impl RunArgs {
    /// The configuration these flags describe (with `--config` merged in under them).
    pub fn config(&self) -> Result<NodeConfig, CliError> {
        let file = match &self.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let chain_name = self.chain.clone().or(file.chain.clone());
        let chain = match (&chain_name, self.dev) {
            (Some(chain), _) => ChainSpec::load(chain)?,
            (None, true) => ChainSpec::dev(),
            (None, false) => ChainSpec::local(),
        };
        let mut config = NodeConfig::new(chain);
        config.name = self.name.clone().or(file.name).unwrap_or_else(|| "cloister-node".into());
        let base_path = self.base_path.clone().or(file.base_path);
        config.storage = match (base_path, self.tmp) {
            (Some(path), _) => Storage::Path(path),
            (None, true) => Storage::Temporary,
            (None, false) if self.dev => Storage::Temporary,
            (None, false) => Storage::Path(default_base_path()),
        };
        let rpc_external = self.rpc_external || file.rpc_external;
        let rpc_ip = if rpc_external { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
        config.rpc_addr = SocketAddr::new(rpc_ip, self.rpc_port.or(file.rpc_port).unwrap_or(DEFAULT_RPC_PORT));
        config.rpc_max_connections = self.rpc_max_connections;
        let prometheus_port = self.prometheus_port.or(file.prometheus_port).unwrap_or(DEFAULT_PROMETHEUS_PORT);
        config.prometheus_addr = (!(self.no_prometheus || file.no_prometheus))
            .then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), prometheus_port));

        let port = self.port.or(file.port).unwrap_or(DEFAULT_P2P_PORT);
        let listen = if self.listen_addr.is_empty() { file.listen_addr } else { self.listen_addr.clone() };
        let bootnodes = if self.bootnodes.is_empty() { file.bootnodes } else { self.bootnodes.clone() };
        let reserved = if self.reserved_nodes.is_empty() { file.reserved_nodes } else { self.reserved_nodes.clone() };
        let mut network = NetworkSettings::on_port(port);
        if !listen.is_empty() {
            network.listen_addrs = listen.iter().map(|a| parse_addr(a)).collect::<Result<_, _>>()?;
        }
        let mut chain_bootnodes = config.chain.boot_nodes.clone();
        chain_bootnodes.extend(bootnodes);
        network.bootnodes =
            chain_bootnodes.iter().map(|a| parse_peer_addr(a).map(|(_, a)| a)).collect::<Result<_, _>>()?;
        network.reserved_nodes =
            reserved.iter().map(|a| parse_peer_addr(a).map(|(_, a)| a)).collect::<Result<_, _>>()?;
        network.reserved_only = self.reserved_only || file.reserved_only;
        network.node_key_file = self.node_key_file.clone().or(file.node_key_file);
        config.network = Some(network);

        let keystore = self.keystore.clone().or(file.keystore);
        let password_file = self.password_file.clone().or(file.password_file);
        let keys = match (&keystore, &password_file, &self.dev_key) {
            (Some(_), Some(_), Some(_)) => return Err(CliError::KeyConflict),
            (Some(keystore), Some(password_file), None) => {
                Some(AuthorityKeys::load(keystore, &read_password(password_file)?)?)
            }
            (Some(_), None, None) => return Err(CliError::MissingPasswordFile),
            (_, _, Some(suri)) => Some(AuthorityKeys::from_suri(suri)?),
            _ if self.dev => Some(AuthorityKeys::from_suri("//Alice")?),
            _ => None,
        };
        if let Some(keys) = keys {
            config = config.with_authority(keys);
        }
        Ok(config)
    }
}

/// `$HOME/.local/share/cloister-node`, or `./cloister-node-data` without a home.
pub fn default_base_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/cloister-node"))
        .unwrap_or_else(|| PathBuf::from("cloister-node-data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> NodeConfig {
        let cli =
            NodeCli::try_parse_from(std::iter::once("cloister-node").chain(args.iter().copied())).expect("parses");
        cli.run.config().expect("config")
    }

    #[test]
    fn dev_defaults() {
        let c = parse(&["--dev"]);
        assert_eq!(c.chain.id, "dev");
        assert!(matches!(c.storage, Storage::Temporary));
        assert_eq!(c.rpc_addr.port(), 9944);
        let network = c.network.expect("networking on");
        assert_eq!(network.listen_addrs[0].to_string(), "/ip4/0.0.0.0/tcp/30333");
        assert_eq!(c.prometheus_addr.map(|a| a.port()), Some(9615));
        assert!(c.authority.is_some());
    }

    #[test]
    fn flags_override_defaults() {
        let c = parse(&["--dev", "--base-path", "/tmp/x", "--rpc-port", "1234", "--no-prometheus", "--port", "4000"]);
        assert!(matches!(c.storage, Storage::Path(ref p) if p == std::path::Path::new("/tmp/x")));
        assert_eq!(c.rpc_addr.port(), 1234);
        assert_eq!(c.prometheus_addr, None);
        assert_eq!(c.network.expect("networking on").listen_addrs[0].to_string(), "/ip4/0.0.0.0/tcp/4000");
    }

    #[test]
    fn unknown_chain_file_is_an_error() {
        let cli = NodeCli::try_parse_from(["cloister-node", "--chain", "/nonexistent/spec.json"]).expect("parses");
        assert!(matches!(cli.run.config(), Err(CliError::ChainSpec(_))));
    }
}
