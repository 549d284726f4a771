//! Prometheus metrics of the node, served at `http://127.0.0.1:PORT/metrics`.
//!
//! `cloister_block_height{status="best"|"finalized"}`, `cloister_ready_transactions_number`
//! (extrinsics in the pool) and `cloister_block_import_seconds` (time to check, execute and store
//! a block, or to store an authored one).

use hyper::{body::Incoming, Request, Response};
use hyper_util::rt::TokioIo;
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{family::Family, gauge::Gauge, histogram::Histogram},
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
        Self { height, pool, import, registry: Arc::new(parking_lot::Mutex::new(registry)) }
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
