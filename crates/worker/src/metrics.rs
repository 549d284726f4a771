//! Prometheus metrics of the worker, served at `http://ADDR:PORT/metrics`.
//!
//! `cloister_worker_sidechain_height` (head block of the shard), `cloister_worker_operations_applied_total`,
//! `cloister_worker_operations_rejected_total`, `cloister_worker_pool_size` (calls waiting),
//! `cloister_worker_parentchain_block_synced` (last finalized parentchain block the enclave verified)
//! and `cloister_worker_enclave_call_seconds{call}` (time spent in ECALLs, by call).

use http_body_util::Full;
use hyper::{body::Incoming, Request, Response};
use hyper_util::rt::TokioIo;
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::{net::SocketAddr, sync::Arc, time::Instant};
use tokio::net::TcpListener;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabel {
    call: &'static str,
}

/// The worker's metrics; clones update the same series.
#[derive(Clone)]
pub struct WorkerMetrics {
    /// Head block number of the shard.
    pub sidechain_height: Gauge,
    /// Trusted calls applied in blocks.
    pub applied: Counter,
    /// Trusted calls rejected when a block was built.
    pub rejected: Counter,
    /// Calls waiting in the pool.
    pub pool: Gauge,
    /// Last parentchain block the enclave synced.
    pub parentchain_synced: Gauge,
    calls: Family<CallLabel, Histogram>,
    registry: Arc<parking_lot::Mutex<Registry>>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl WorkerMetrics {
    /// Registers the metrics in a fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("cloister_worker");
        let metrics = Self {
            sidechain_height: Gauge::default(),
            applied: Counter::default(),
            rejected: Counter::default(),
            pool: Gauge::default(),
            parentchain_synced: Gauge::default(),
            calls: Family::new_with_constructor(|| {
                Histogram::new([0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])
            }),
            registry: Arc::new(parking_lot::Mutex::new(Registry::default())),
        };
        registry.register("sidechain_height", "Head block number of the shard", metrics.sidechain_height.clone());
        registry.register("operations_applied", "Trusted calls applied in sidechain blocks", metrics.applied.clone());
        registry.register(
            "operations_rejected",
            "Trusted calls rejected when a block was built",
            metrics.rejected.clone(),
        );
        registry.register("pool_size", "Trusted calls waiting for a block", metrics.pool.clone());
        registry.register(
            "parentchain_block_synced",
            "Last finalized parentchain block the enclave verified",
            metrics.parentchain_synced.clone(),
        );
        registry.register("enclave_call_seconds", "Time spent in calls into the enclave", metrics.calls.clone());
        Self { registry: Arc::new(parking_lot::Mutex::new(registry)), ..metrics }
    }

    /// Times an enclave call named `call`.
    pub fn time<T>(&self, call: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.calls.get_or_create(&CallLabel { call }).observe(start.elapsed().as_secs_f64());
        out
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry.lock());
        out
    }
}

/// Serves `/metrics` on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, metrics: WorkerMetrics) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(target: "worker", %addr, "prometheus metrics at /metrics");
    loop {
        let (stream, _) = listener.accept().await?;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let response = if request.uri().path() == "/metrics" {
                        Response::builder()
                            .header("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
                            .body(Full::new(hyper::body::Bytes::from(metrics.render())))
                    } else {
                        Response::builder().status(404).body(Full::new(hyper::body::Bytes::from("not found\n")))
                    };
                    response.map_err(|e| e.to_string())
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
