//! The node's configuration: one struct, built from the command line, with its defaults here.

use crate::{chain_spec::ChainSpec, keystore::AuthorityKeys, pool::PoolConfig};
use cloister_network::Multiaddr;
use serde::Serialize;
use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
};

/// Default JSON-RPC port (HTTP and WebSocket).
pub const DEFAULT_RPC_PORT: u16 = 9944;
/// Default libp2p port.
pub const DEFAULT_P2P_PORT: u16 = 30333;
/// Default Prometheus port.
pub const DEFAULT_PROMETHEUS_PORT: u16 = 9615;

/// Where the node's data lives.
#[derive(Clone, Debug, Serialize)]
pub enum Storage {
    /// Under this directory, kept across restarts.
    Path(PathBuf),
    /// In a temporary directory removed when the node stops.
    Temporary,
}

/// Everything a node needs to start.
#[derive(Clone, Serialize)]
pub struct NodeConfig {
    /// Human name of this node.
    pub name: String,
    /// The chain to run.
    #[serde(skip)]
    pub chain: ChainSpec,
    /// Id of the chain (for `--dump-config`).
    pub chain_id: String,
    /// Where the database and journal live.
    pub storage: Storage,
    /// JSON-RPC listen address.
    pub rpc_addr: SocketAddr,
    /// Most concurrent RPC connections.
    pub rpc_max_connections: u32,
    /// Peer-to-peer networking; `None` runs the node alone.
    pub network: Option<NetworkSettings>,
    /// Prometheus listen address; `None` disables metrics.
    pub prometheus_addr: Option<SocketAddr>,
    /// Authority keys, if this node authors and votes.
    #[serde(skip)]
    pub authority: Option<AuthorityKeys>,
    /// Public keys of the authority, for `--dump-config`.
    pub authority_public: Option<String>,
    /// Pool limits.
    #[serde(skip)]
    pub pool: PoolConfig,
}

impl NodeConfig {
    /// A configuration for `chain` with every default: temporary storage, no authority,
    /// RPC on 127.0.0.1:9944, Prometheus on 127.0.0.1:9615.
    pub fn new(chain: ChainSpec) -> Self {
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Self {
            name: "cloister-node".into(),
            chain_id: chain.id.clone(),
            chain,
            storage: Storage::Temporary,
            rpc_addr: SocketAddr::new(localhost, DEFAULT_RPC_PORT),
            rpc_max_connections: 100,
            network: Some(NetworkSettings::on_port(DEFAULT_P2P_PORT)),
            prometheus_addr: Some(SocketAddr::new(localhost, DEFAULT_PROMETHEUS_PORT)),
            authority: None,
            authority_public: None,
            pool: PoolConfig::default(),
        }
    }

    /// Sets the authority keys.
    pub fn with_authority(mut self, keys: AuthorityKeys) -> Self {
        use sp_core::Pair;
        self.authority_public = Some(format!("aura={} grandpa={}", keys.aura.public(), keys.grandpa.public()));
        self.authority = Some(keys);
        self
    }
}

/// How the node takes part in the peer-to-peer network.
#[derive(Clone, Debug, Serialize)]
pub struct NetworkSettings {
    /// Addresses to listen on.
    #[serde(serialize_with = "display_all")]
    pub listen_addrs: Vec<Multiaddr>,
    /// The p2p key file; `None`: `<base path>/chains/<id>/network/secret_ed25519`, generated if
    /// missing (a fresh key per run with temporary storage).
    pub node_key_file: Option<PathBuf>,
    /// Peers dialled at start (the chain spec's boot nodes and `--bootnodes`).
    #[serde(serialize_with = "display_all")]
    pub bootnodes: Vec<Multiaddr>,
    /// Peers kept connected.
    #[serde(serialize_with = "display_all")]
    pub reserved_nodes: Vec<Multiaddr>,
    /// Accept and dial only reserved nodes.
    pub reserved_only: bool,
}

impl NetworkSettings {
    /// Listening on all interfaces at `port`, no peers given.
    pub fn on_port(port: u16) -> Self {
        Self {
            listen_addrs: vec![cloister_network::tcp_addr([0, 0, 0, 0], port)],
            node_key_file: None,
            bootnodes: Vec::new(),
            reserved_nodes: Vec::new(),
            reserved_only: false,
        }
    }
}

fn display_all<S: serde::Serializer>(addrs: &[Multiaddr], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(addrs.iter().map(|a| a.to_string()))
}
