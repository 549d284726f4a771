//! Prometheus metrics of the node, served at `http://127.0.0.1:PORT/metrics`.
//!
//! `cloister_block_height{status="best"|"finalized"}`, `cloister_ready_transactions_number`
//! (extrinsics in the pool) and `cloister_block_import_seconds` (time to check, execute and store
//! a block, or to store an authored one), `cloister_aura_equivocations_total` (two blocks by one
//! author in one slot), `cloister_grandpa_round` (the voter's current round),
//! `cloister_grandpa_equivocations_total` (conflicting votes by one authority in one round) and
//! `cloister_sub_libp2p_peers_count` (connected peers).

use hyper::{body::Incoming, Request, Response};
use hyper_util::rt::TokioIo;
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tracing::{debug, info};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

/// The chain's metrics; cheap to clone, all clones update the same series.
#[derive(Clone)]
pub struct ChainMetrics {
    height: Family<StatusLabel, Gauge>,
    pool: Gauge,
    import: Histogram,
    aura_equivocations: Counter,
    grandpa_equivocations: Counter,
    grandpa_round: Gauge,
    peers: Gauge,
    registry: Arc<parking_lot::Mutex<Registry>>,
}

impl Default for ChainMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainMetrics {
    /// Registers the metrics in a fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cloister");
        let height = Family::<StatusLabel, Gauge>::default();
        let pool = Gauge::default();
        let import = Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        registry.register("block_height", "Block height of the best and the finalized block", height.clone());
        registry.register("ready_transactions_number", "Extrinsics in the transaction pool", pool.clone());
        registry.register("block_import_seconds", "Time to check, execute and store a block", import.clone());
        let aura_equivocations = Counter::default();
        let grandpa_equivocations = Counter::default();
        let grandpa_round = Gauge::default();
        let peers = Gauge::default();
        registry.register(
            "aura_equivocations",
            "Blocks sealed by an author for a slot it had sealed before",
            aura_equivocations.clone(),
        );
        registry.register(
            "grandpa_equivocations",
            "Conflicting GRANDPA votes by one authority in one round",
            grandpa_equivocations.clone(),
        );
        registry.register("grandpa_round", "The GRANDPA voter's current round", grandpa_round.clone());
        registry.register("sub_libp2p_peers_count", "Connected peers", peers.clone());
        Self {
            height,
            pool,
            import,
            aura_equivocations,
            grandpa_equivocations,
            grandpa_round,
            peers,
            registry: Arc::new(parking_lot::Mutex::new(registry)),
        }
    }

    /// Sets the best and finalized heights.
    pub fn set_heights(&self, best: u32, finalized: u32) {
        self.height.get_or_create(&StatusLabel { status: "best" }).set(best as i64);
        self.height.get_or_create(&StatusLabel { status: "finalized" }).set(finalized as i64);
    }

    /// Sets the pool size.
    pub fn set_pool_size(&self, size: usize) {
        self.pool.set(size as i64);
    }

    /// Records a block import.
    pub fn observe_import(&self, took: Duration) {
        self.import.observe(took.as_secs_f64());
    }

    /// Counts an Aura equivocation.
    pub fn aura_equivocation(&self) {
        self.aura_equivocations.inc();
    }

    /// Counts a GRANDPA equivocation.
    pub fn grandpa_equivocation(&self) {
        self.grandpa_equivocations.inc();
    }

    /// Sets the GRANDPA voter's round.
    pub fn set_grandpa_round(&self, round: u64) {
        self.grandpa_round.set(round as i64);
    }

    /// Sets the number of connected peers.
    pub fn set_peers(&self, count: usize) {
        self.peers.set(count as i64);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry.lock());
        out
    }
}

/// Serves the metrics on `addr` until the task is dropped; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: ChainMetrics,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    info!(target: "metrics", addr = %bound, "Prometheus metrics at http://{bound}/metrics");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let response = if req.uri().path() == "/metrics" {
                            Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(http_body_util::Full::new(hyper::body::Bytes::from(metrics.render())))
                        } else {
                            Response::builder()
                                .status(404)
                                .body(http_body_util::Full::new(hyper::body::Bytes::from("not found\n")))
                        };
                        response
                    }
                });
                if let Err(e) =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
                {
                    debug!(target: "metrics", %peer, error = %e, "metrics connection ended");
                }
            });
        }
    });
    Ok((bound, task))
}
