//! The node's command line: flags as Substrate nodes name them, turned into a [`NodeConfig`].

use crate::{
    chain_spec::ChainSpec,
    config::{NodeConfig, Storage, DEFAULT_P2P_PORT, DEFAULT_PROMETHEUS_PORT, DEFAULT_RPC_PORT},
    keystore::{read_password, AuthorityKeys},
};
use clap::{Args, Parser, Subcommand};
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
    /// Human name of this node.
    #[arg(long, default_value = "cloister-node")]
    pub name: String,
    /// JSON-RPC port (HTTP and WebSocket).
    #[arg(long, default_value_t = DEFAULT_RPC_PORT)]
    pub rpc_port: u16,
    /// Listen for RPC on all interfaces instead of 127.0.0.1.
    #[arg(long)]
    pub rpc_external: bool,
    /// Most concurrent RPC connections.
    #[arg(long, default_value_t = 100)]
    pub rpc_max_connections: u32,
    /// libp2p port.
    #[arg(long, default_value_t = DEFAULT_P2P_PORT)]
    pub port: u16,
    /// Prometheus port.
    #[arg(long, default_value_t = DEFAULT_PROMETHEUS_PORT)]
    pub prometheus_port: u16,
    /// Do not serve Prometheus metrics.
    #[arg(long)]
    pub no_prometheus: bool,
    /// Encrypted authority keystore (written by `generate-keys` or `cloister deploy`).
    #[arg(long, requires = "password_file")]
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
}

impl RunArgs {
    /// The configuration these flags describe.
    pub fn config(&self) -> Result<NodeConfig, CliError> {
        let chain = match (&self.chain, self.dev) {
            (Some(chain), _) => ChainSpec::load(chain)?,
            (None, true) => ChainSpec::dev(),
            (None, false) => ChainSpec::local(),
        };
        let mut config = NodeConfig::new(chain);
        config.name = self.name.clone();
        config.storage = match (&self.base_path, self.tmp) {
            (Some(path), _) => Storage::Path(path.clone()),
            (None, true) => Storage::Temporary,
            (None, false) if self.dev => Storage::Temporary,
            (None, false) => Storage::Path(default_base_path()),
        };
        let rpc_ip =
            if self.rpc_external { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
        config.rpc_addr = SocketAddr::new(rpc_ip, self.rpc_port);
        config.rpc_max_connections = self.rpc_max_connections;
        config.p2p_port = self.port;
        config.prometheus_addr =
            (!self.no_prometheus).then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.prometheus_port));
        let keys = match (&self.keystore, &self.password_file, &self.dev_key) {
            (Some(keystore), Some(password_file), _) => {
                Some(AuthorityKeys::load(keystore, &read_password(password_file)?)?)
            }
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
        assert_eq!(c.p2p_port, 30333);
        assert_eq!(c.prometheus_addr.map(|a| a.port()), Some(9615));
        assert!(c.authority.is_some());
    }

    #[test]
    fn flags_override_defaults() {
        let c = parse(&["--dev", "--base-path", "/tmp/x", "--rpc-port", "1234", "--no-prometheus", "--port", "4000"]);
        assert!(matches!(c.storage, Storage::Path(ref p) if p == std::path::Path::new("/tmp/x")));
        assert_eq!(c.rpc_addr.port(), 1234);
        assert_eq!(c.prometheus_addr, None);
        assert_eq!(c.p2p_port, 4000);
    }

    #[test]
    fn unknown_chain_file_is_an_error() {
        let cli = NodeCli::try_parse_from(["cloister-node", "--chain", "/nonexistent/spec.json"]).expect("parses");
        assert!(matches!(cli.run.config(), Err(CliError::ChainSpec(_))));
    }
}
