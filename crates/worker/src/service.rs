//! `cloister-worker run`: the validateer's host services around the enclave.
//!
//! ```text
//!   trusted port ── TLS bytes ──► enclave (direct RPC) ──► pool
//!   slot timer (300 ms) ──► AuthorBlock ──► block store ──► status updates to the watchers
//!   parentchain node ──► finalized blocks, justifications, proofs ──► enclave ──► extrinsics
//! ```

use crate::{
    cli::RunArgs,
    direct::{self, Connections},
    host::{start_enclave, Started},
    metrics::{self, WorkerMetrics},
    sync::ParentchainSync,
};
use cloister_enclave::direct::DirectConfig;
use cloister_primitives::{parse_hex32, ShardId};
use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

/// Why the worker stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The enclave could not be started.
    #[error(transparent)]
    Start(#[from] crate::host::StartError),
    /// An enclave call failed.
    #[error("enclave: {0}")]
    Enclave(#[from] cloister_enclave::boundary::CallError),
    /// A port could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A bad argument.
    #[error("{0}")]
    Argument(String),
    /// The parentchain could not be followed.
    #[error(transparent)]
    Parentchain(#[from] crate::sync::SyncError),
}

/// The shard named on the command line, or the MRENCLAVE.
pub fn shard_or_default(shard: Option<&str>, mrenclave: &cloister_primitives::Mrenclave) -> Result<ShardId, String> {
    match shard {
        Some(text) => {
            parse_hex32(text).map(ShardId::from).ok_or_else(|| format!("'{text}' is not a shard (32 bytes of hex)"))
        }
        None => Ok(ShardId::from(mrenclave.0)),
    }
}

/// The host's clock, unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Sidechain slots of `ms` milliseconds, counted by the wall clock from the unix epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slots {
    ms: u64,
}

impl Slots {
    /// Slots of `ms` (at least 10) milliseconds.
    pub(crate) fn new(ms: u64) -> Self {
        Self { ms: ms.max(10) }
    }

    /// How long until just after the start of the next slot. Waking there gives authoring the
    /// whole slot; a timer started at an arbitrary moment would leave every block the same
    /// random part of it, down to nothing.
    pub(crate) fn until_next(&self) -> Duration {
        Duration::from_millis(self.ms - now_ms() % self.ms + 1)
    }

    /// The slot now and the moment (unix ms) its block must be stored by.
    pub(crate) fn current(&self) -> (u64, u64) {
        let slot = now_ms() / self.ms;
        (slot, (slot + 1) * self.ms)
    }
}

/// Runs the validateer until SIGINT or SIGTERM.
pub async fn run(base_path: &Path, args: RunArgs) -> Result<(), RunError> {
    let Started { enclave, blocks: _ } = start_enclave(base_path)?;
    let enclave = Arc::new(enclave);
    let mrenclave = enclave.mrenclave()?;
    let shard = shard_or_default(args.shard.as_deref(), &mrenclave).map_err(RunError::Argument)?;
    let info = enclave.init_shard(shard)?;
    let metrics = WorkerMetrics::new();
    metrics.sidechain_height.set(info.head as i64);

    let mut parentchain = ParentchainSync::start(&args.node_url, enclave.clone(), shard, metrics.clone()).await?;
    if args.dev {
        parentchain.fund_from_alice().await?;
    }
    let worker_url = format!("wss://{}:{}", args.public_host, args.trusted_port);
    parentchain.register(&worker_url).await?;
    parentchain.catch_up().await?;
    tracing::info!(target: "worker", shard_head = ?enclave.shard_info(shard).map(|i| i.head).ok(), "parentchain synced");

    let trusted_addr = SocketAddr::new(args.listen_addr, args.trusted_port);
    let listener = tokio::net::TcpListener::bind(trusted_addr)
        .await
        .map_err(|source| RunError::Listen { addr: trusted_addr, source })?;
    let trusted_addr = listener.local_addr().map_err(|source| RunError::Listen { addr: trusted_addr, source })?;
    enclave.start_direct_rpc(DirectConfig {
        untrusted_url: format!("ws://{}:{}", args.public_host, args.untrusted_port),
        mu_ra_url: format!("{}:{}", args.public_host, args.mu_ra_port),
    })?;
    let conns = Connections::default();
    tokio::spawn(direct::serve(listener, enclave.clone(), conns.clone()));
    if args.metrics_port != 0 {
        let addr = SocketAddr::new(args.listen_addr, args.metrics_port);
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Err(error) = metrics::serve(addr, metrics).await {
                tracing::error!(target: "worker", %addr, %error, "metrics server stopped");
            }
        });
    }
    tracing::info!(
        target: "worker",
        %mrenclave,
        shard = %format!("0x{}", hex::encode(shard)),
        url = %format!("wss://{}:{}", args.public_host, trusted_addr.port()),
        "validateer ready"
    );

    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<String>(1);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            if let Err(error) = parentchain.step().await {
                if error.is_fatal() {
                    let _ = fatal_tx.send(error.to_string()).await;
                    return;
                }
                tracing::warn!(target: "worker", %error, "parentchain sync");
            }
        }
    });

    let slots = Slots::new(args.slot_ms);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| RunError::Argument(e.to_string()))?;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(slots.until_next()) => {
                let (slot, deadline) = slots.current();
                match metrics.time("author_block", || enclave.author_block(shard, slot, deadline)) {
                    Ok(Some(block)) => {
                        metrics.sidechain_height.set(block.number as i64);
                        metrics.applied.inc_by(block.applied as u64);
                        metrics.rejected.inc_by(block.rejected as u64);
                        tracing::info!(target: "sidechain", number = block.number, hash = %block.hash, applied = block.applied, "authored");
                    }
                    Ok(None) => {}
                    Err(error) => tracing::error!(target: "sidechain", %error, "authoring failed"),
                }
                metrics.time("tls_flush", || conns.flush(&enclave));
                if let Ok(info) = enclave.shard_info(shard) {
                    metrics.pool.set(info.pool as i64);
                }
            }
            Some(reason) = fatal_rx.recv() => {
                tracing::error!(target: "worker", %reason, "stopping");
                return Err(RunError::Argument(reason));
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!(target: "worker", "stopping: sealing shard snapshots");
    enclave.persist()?;
    Ok(())
}
