//! Assembles a running node: database, chain, pool, authoring, finality, RPC and metrics.

use crate::{
    authoring,
    client::{Client, ClientError, SharedClient},
    config::{NodeConfig, Storage},
    db::ChainDb,
    finality::Finality,
    journal::Journal,
    metrics::{self, ChainMetrics},
    network::{self, ChainSync, NetworkContext},
    pool::Pool,
    rpc_backend::RpcBackend,
};
use cloister_network::{NetworkConfig, NetworkHandle, NetworkService};
use cloister_rpc::node::SystemInfo;
use sp_runtime::transaction_validity::TransactionSource;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use tokio::{sync::broadcast::error::RecvError, task::JoinHandle};
use tracing::{info, warn};

/// Errors starting the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database cannot be opened.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The chain cannot be opened.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The RPC server cannot start.
    #[error(transparent)]
    Rpc(#[from] cloister_rpc::ServeError),
    /// The p2p key cannot be read or written.
    #[error(transparent)]
    NodeKey(#[from] cloister_network::NodeKeyError),
    /// The network cannot start.
    #[error(transparent)]
    Network(#[from] cloister_network::NetworkError),
    /// The metrics server cannot start.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running node. Dropping it stops its tasks; [`Node::stop`] stops it in order.
pub struct Node {
    /// The chain.
    pub client: SharedClient,
    /// The pool.
    pub pool: Arc<Pool>,
    /// Where the RPC listens.
    pub rpc_addr: SocketAddr,
    /// Where the metrics are served.
    pub prometheus_addr: Option<SocketAddr>,
    /// The network, if the node takes part in one.
    pub network: Option<NetworkHandle>,
    rpc: jsonrpsee::server::ServerHandle,
    tasks: Vec<JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl Node {
    /// Stops the RPC server and every task, then closes the database (and removes a temporary
    /// data directory).
    pub async fn stop(mut self) {
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
        let tmp = self._tmp.take();
        let client = Arc::downgrade(&self.client);
        drop(self);
        // Blocking tasks may still hold the client for a moment.
        for _ in 0..100 {
            if client.strong_count() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        drop(tmp);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts a node.
pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
    let (root, tmp) = match &config.storage {
        Storage::Path(p) => (p.clone(), None),
        Storage::Temporary => {
            let dir = tempfile::Builder::new()
                .prefix("cloister-node")
                .tempdir()
                .map_err(|source| NodeError::DataDir { path: std::env::temp_dir(), source })?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let chain_dir = root.join("chains").join(&config.chain.id);
    std::fs::create_dir_all(&chain_dir).map_err(|source| NodeError::DataDir { path: chain_dir.clone(), source })?;
    let db = ChainDb::open(&chain_dir.join("db"))?;
    let journal = if tmp.is_some() {
        Journal::disabled()
    } else {
        let path = chain_dir.join("journal");
        Journal::open(&path).map_err(|source| NodeError::DataDir { path, source })?
    };
    let metrics = ChainMetrics::new();
    let client = Arc::new(Client::open(db, config.chain.clone(), journal, metrics.clone())?);
    let pool = Arc::new(Pool::new(client.clone(), config.pool.clone(), metrics.clone()));
    let info = client.info();
    info!(
        target: "node",
        chain = %config.chain.name,
        genesis = %info.genesis_hash,
        best = info.best_number,
        finalized = info.finalized_number,
        path = %chain_dir.display(),
        "opened chain"
    );

    let mut tasks = Vec::new();
    // The pool follows the chain from before anything can change it.
    let mut events = client.subscribe();
    let pending = client.replay_journal();
    let resubmitted =
        pending.into_iter().filter(|tx| pool.submit(tx.clone(), TransactionSource::Local).is_ok()).count();
    if resubmitted > 0 {
        info!(target: "node", count = resubmitted, "resubmitted pending extrinsics from the journal");
    }
    client.compact_journal(pool.pending());
    {
        let (client, pool) = (client.clone(), pool.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => pool.on_chain_event(&event),
                    Err(RecvError::Lagged(n)) => warn!(target: "pool", missed = n, "pool fell behind the chain"),
                    Err(RecvError::Closed) => return,
                }
                let (client, pool) = (client.clone(), pool.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    pool.revalidate_if_needed();
                    client.compact_journal_if_needed(|| pool.pending());
                })
                .await;
            }
        }));
    }

    // Networking, then GRANDPA (which gossips through it), then authoring (which announces).
    let syncing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut net = None;
    let mut net_events = None;
    let sync = Arc::new(ChainSync::new(client.clone()));
    if let Some(settings) = &config.network {
        let keypair = match &settings.node_key_file {
            Some(path) => cloister_network::read_node_key(path)?,
            None if tmp.is_some() => cloister_network::Keypair::generate_ed25519(),
            None => cloister_network::load_or_generate_node_key(&chain_dir.join("network").join("secret_ed25519"))?,
        };
        let mut net_config = NetworkConfig::new(config.chain.id.clone(), 0);
        net_config.keypair = keypair;
        net_config.listen_addrs = settings.listen_addrs.clone();
        net_config.bootnodes = settings.bootnodes.clone();
        net_config.reserved_nodes = settings.reserved_nodes.clone();
        net_config.reserved_only = settings.reserved_only;
        net_config.status_interval = std::time::Duration::from_millis(client.slot_duration_ms().clamp(500, 2000));
        let allowlist = crate::permissions::initial_allowlist(&client);
        let (handle, events) = NetworkService::start(net_config, allowlist.clone(), sync.clone())?;
        info!(target: "network", peer_id = %handle.local_peer_id(), restricted = allowlist.is_some(), "local node identity");
        tasks.push(tokio::spawn(crate::permissions::follow_allowlist(client.clone(), handle.clone(), allowlist)));
        net = Some(handle);
        net_events = Some(events);
    }
    let grandpa_keys = config.authority.as_ref().map(|k| sp_consensus_grandpa::AuthorityPair::from(k.grandpa.clone()));
    let finality = Finality::new(client.clone(), grandpa_keys, net.clone());
    sync.set_finality(finality.clone());
    tasks.push(tokio::spawn(finality.clone().run()));
    if let (Some(network), Some(events)) = (net.clone(), net_events) {
        let ctx = NetworkContext {
            client: client.clone(),
            pool: pool.clone(),
            network,
            finality: finality.clone(),
            syncing: syncing.clone(),
        };
        tasks.push(tokio::spawn(network::run(ctx, events)));
    }
    if let Some(keys) = config.authority.clone() {
        tasks.push(tokio::spawn(authoring::run(client.clone(), pool.clone(), keys, net.clone())));
    }

    let system = SystemInfo {
        name: config.name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        chain: config.chain.name.clone(),
        chain_type: serde_json::to_value(&config.chain.chain_type).unwrap_or_default(),
        properties: config.chain.properties.clone(),
        local_peer_id: net.as_ref().map(|n| n.local_peer_id().to_string()).unwrap_or_default(),
        should_have_peers: !matches!(config.chain.chain_type, crate::chain_spec::ChainType::Development),
    };
    let backend = Arc::new(RpcBackend {
        client: client.clone(),
        pool: pool.clone(),
        system,
        network: net.clone(),
        syncing,
        is_authority: config.authority.is_some(),
        finality: Some(finality.clone()),
    });
    let (rpc_addr, rpc) = cloister_rpc::serve(
        config.rpc_addr,
        cloister_rpc::node::module(backend),
        config.rpc_max_connections,
        Some(Arc::new(crate::permissions::RpcGate::new(client.clone()))),
    )
    .await?;
    info!(target: "rpc", addr = %rpc_addr, "JSON-RPC (HTTP and WebSocket) on ws://{rpc_addr}");

    let prometheus_addr = match config.prometheus_addr {
        Some(addr) => {
            let (bound, task) =
                metrics::serve(addr, metrics).await.map_err(|source| NodeError::Metrics { addr, source })?;
            tasks.push(task);
            Some(bound)
        }
        None => None,
    };
    Ok(Node { client, pool, rpc_addr, prometheus_addr, network: net, rpc, tasks, _tmp: tmp })
}
