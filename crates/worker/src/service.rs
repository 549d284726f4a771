//! `cloister-worker run`: the validateer's host services around the enclave.
//!
//! ```text
//!   trusted port ── TLS bytes ──► enclave (direct RPC) ──► pool ──► forwarded to the peers
//!   slot timer (300 ms) ──► AuthorBlock (my turn?) ──► block store ──► peers, watchers
//!   untrusted port ◄──► peers: blocks in (ImportBlocks), blocks out, forwarded calls
//!   MU-RA port ◄──► validateers joining the shard
//!   parentchain node ──► finalized blocks, justifications, proofs ──► enclave ──► extrinsics
//! ```
//!
//! Start-up: register; if the shard's keys are sealed here, catch up with the peers (the shard
//! went on while this one was down); sync the parentchain until the enclave has checked the
//! anchored sidechain block; if the keys are not here and other validateers run the shard, get
//! them by MU-RA, register again with the shard's shielding key and catch up; then serve.

use crate::{
    cli::RunArgs,
    direct::{self, Connections},
    host::{start_enclave, Started},
    metrics::{self, WorkerMetrics},
    peers::Peers,
    sync::ParentchainSync,
    untrusted::Sidechain,
};
use cloister_enclave::{boundary::EnclaveClient, direct::DirectConfig, software::SoftwareEnclave};
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

/// How often the peers are looked up again on the parentchain.
const PEER_REFRESH: Duration = Duration::from_secs(2);
/// Syncs in a row that find the parentchain anchoring a block this validateer cannot get from
/// its peers before it stops ("sealed state rolled back").
const BEHIND_ANCHOR_LIMIT: u32 = 20;

/// Becomes a validateer of a shard others already run: MU-RA with one of them for the keys and
/// state, then the registration again (the shielding key is now the shard's).
async fn join_shard(
    enclave: &Arc<EnclaveClient<SoftwareEnclave>>,
    parentchain: &mut ParentchainSync,
    peers: &Peers,
    shard: ShardId,
    worker_url: &str,
) -> Result<(), RunError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut attempt = 0u32;
    loop {
        for peer in peers.list() {
            tracing::info!(target: "worker", peer = %hex::encode(peer.account), address = %peer.mu_ra_url, "joining the shard: mutual attestation with a validateer");
            match crate::mura::provision(enclave, shard, &peer.mu_ra_url).await {
                Ok((info, (number, _))) => {
                    tracing::info!(target: "worker", head = info.head, "joined the shard: keys and state received at sidechain block {}", info.head);
                    parentchain.restart_from(number);
                    parentchain.register(worker_url).await?;
                    return Ok(());
                }
                Err(reason) => {
                    tracing::info!(target: "worker", peer = %hex::encode(peer.account), %reason, "mutual attestation did not provision the shard (yet)");
                }
            }
        }
        if std::time::Instant::now() > deadline {
            return Err(RunError::Argument(
                "no validateer of the shard provisioned this one within 5 minutes (are they running, and is this one registered?)".into(),
            ));
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The providers may not have seen this validateer's registration yet; look again.
        parentchain.step().await.ok();
        if attempt % 10 == 0 {
            peers.refresh(parentchain.rpc()).await.ok();
        }
    }
}

/// Runs the validateer until SIGINT or SIGTERM.
pub async fn run(base_path: &Path, args: RunArgs) -> Result<(), RunError> {
    let Started { enclave, blocks } = start_enclave(base_path)?;
    let enclave = Arc::new(enclave);
    let mrenclave = enclave.mrenclave()?;
    let shard = shard_or_default(args.shard.as_deref(), &mrenclave).map_err(RunError::Argument)?;
    let info = enclave.init_shard(shard)?;
    let me = enclave.signing_public_key()?;
    let metrics = WorkerMetrics::new();
    metrics.sidechain_height.set(info.head as i64);

    let mut parentchain = ParentchainSync::start(&args.node_url, enclave.clone(), shard, metrics.clone()).await?;
    if args.dev {
        parentchain.fund_from_alice().await?;
    }
    let worker_url = format!("wss://{}:{}", args.public_host, args.trusted_port);
    parentchain.register(&worker_url).await?;

    // The MU-RA port serves from the start: validateers joining later are provisioned here.
    let mu_ra_addr = SocketAddr::new(args.listen_addr, args.mu_ra_port);
    let mu_ra = tokio::net::TcpListener::bind(mu_ra_addr)
        .await
        .map_err(|source| RunError::Listen { addr: mu_ra_addr, source })?;
    tokio::spawn(crate::mura::serve(mu_ra, enclave.clone()));

    let peers = Peers::new(me, mrenclave, shard);
    let sidechain = Sidechain {
        enclave: enclave.clone(),
        blocks,
        peers: peers.clone(),
        shard,
        metrics: metrics.clone(),
        fetching: Default::default(),
    };
    let untrusted_addr = SocketAddr::new(args.listen_addr, args.untrusted_port);
    let (_untrusted, _) = crate::untrusted::serve(untrusted_addr, sidechain.clone())
        .await
        .map_err(|source| RunError::Listen { addr: untrusted_addr, source })?;

    let peer_count = peers.refresh(parentchain.rpc()).await.unwrap_or(0);
    if info.provisioned && peer_count > 0 {
        // Back after being down: the others went on.
        let imported = sidechain.catch_up().await;
        tracing::info!(target: "worker", imported, head = ?sidechain.info().map(|i| i.head), "caught up with the shard's validateers");
    }
    let mut behind = 0u32;
    loop {
        match parentchain.catch_up().await {
            Ok(()) => break,
            Err(error) if error.is_behind_anchor() && !peers.list().is_empty() && behind < BEHIND_ANCHOR_LIMIT => {
                behind += 1;
                tracing::info!(target: "worker", %error, "behind the anchored sidechain block: catching up from the peers");
                peers.refresh(parentchain.rpc()).await.ok();
                sidechain.catch_up().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
    if !enclave.shard_info(shard)?.provisioned {
        peers.refresh(parentchain.rpc()).await.ok();
        if peers.list().is_empty() {
            tracing::info!(target: "worker", "no other validateer serves the shard: this one creates it");
        } else {
            join_shard(&enclave, &mut parentchain, &peers, shard, &worker_url).await?;
            parentchain.catch_up().await?;
            let imported = sidechain.catch_up().await;
            tracing::info!(target: "worker", imported, head = ?sidechain.info().map(|i| i.head), "onboarded: caught up with the shard's validateers");
        }
    }
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
        peers = peers.list().len(),
        "validateer ready"
    );

    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<String>(1);
    {
        let sidechain = sidechain.clone();
        let peers = peers.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut last_refresh = std::time::Instant::now();
            let mut behind = 0u32;
            loop {
                tick.tick().await;
                if peers.take_refresh_request() || last_refresh.elapsed() > PEER_REFRESH {
                    last_refresh = std::time::Instant::now();
                    if let Err(error) = peers.refresh(parentchain.rpc()).await {
                        tracing::debug!(target: "worker", %error, "looking up the peers");
                    }
                }
                match parentchain.step().await {
                    Ok(_) => behind = 0,
                    Err(error) if error.is_behind_anchor() => {
                        behind += 1;
                        if peers.list().is_empty() || behind > BEHIND_ANCHOR_LIMIT {
                            let _ = fatal_tx.send(error.to_string()).await;
                            return;
                        }
                        sidechain.catch_up().await;
                    }
                    Err(error) => tracing::warn!(target: "worker", %error, "parentchain sync"),
                }
            }
        });
    }
    {
        // Calls clients sent here go to the other validateers, so whoever authors next has them.
        let enclave = enclave.clone();
        let peers = peers.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tick.tick().await;
                match enclave.take_outbox() {
                    Ok(calls) if !calls.is_empty() => {
                        let mut by_shard: std::collections::HashMap<ShardId, Vec<Vec<u8>>> = Default::default();
                        for (shard, call) in calls {
                            by_shard.entry(shard).or_default().push(call);
                        }
                        for (shard, calls) in by_shard {
                            peers.forward_operations(shard, calls);
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(target: "worker", %error, "taking calls to forward"),
                }
            }
        });
    }

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
                        match sidechain.blocks.by_hash(&block.hash) {
                            Ok(Some(bytes)) => peers.broadcast_blocks(vec![bytes]),
                            Ok(None) => tracing::warn!(target: "sidechain", number = block.number, "an authored block is not in the store"),
                            Err(error) => tracing::error!(target: "sidechain", %error, "reading the block store"),
                        }
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
