//! `cloister dev`: a whole development network in one command, ready for use.
//!
//! Starts a `--dev` parentchain node in this process (Alice authors and finalizes, the
//! well-known accounts are endowed), prints how to connect, and runs until Ctrl-C.

use crate::output::Output;
use cloister_node::{
    chain_spec::ChainSpec,
    config::{NodeConfig, Storage},
    keystore::AuthorityKeys,
};
use serde_json::json;
use std::{net::SocketAddr, path::PathBuf};

/// Options of `cloister dev`.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// Keep the chain here instead of a temporary directory.
    pub base_path: Option<PathBuf>,
    /// RPC port of the node.
    pub rpc_port: u16,
    /// Prometheus port of the node (0 disables metrics).
    pub prometheus_port: u16,
}

/// Starts the dev network; returns the running node.
pub async fn start(options: &DevOptions) -> anyhow::Result<cloister_node::Node> {
    let mut config = NodeConfig::new(ChainSpec::dev()).with_authority(AuthorityKeys::from_suri("//Alice")?);
    config.name = "cloister-dev".into();
    // One authority finalizes alone; the dev network needs no peers.
    config.network = None;
    config.storage = options.base_path.clone().map(Storage::Path).unwrap_or(Storage::Temporary);
    config.rpc_addr = SocketAddr::from(([127, 0, 0, 1], options.rpc_port));
    config.prometheus_addr =
        (options.prometheus_port != 0).then(|| SocketAddr::from(([127, 0, 0, 1], options.prometheus_port)));
    Ok(cloister_node::start(config).await?)
}

/// Runs `cloister dev` until Ctrl-C.
pub async fn run(options: DevOptions, out: Output) -> anyhow::Result<()> {
    let node = start(&options).await?;
    let url = format!("ws://{}", node.rpc_addr);
    let metrics = node.prometheus_addr.map(|a| format!("http://{a}/metrics"));
    out.print(
        format!(
            "Cloister dev network is running.\n  node RPC:  {url}\n  metrics:   {}\n  accounts:  //Alice (sudo, authority), //Bob, //Charlie, //Dave, //Eve, //Ferdie: 1000000 units each\n\
             Try:\n  cloister --node-url {url} balance //Bob\n  cloister --node-url {url} transfer //Alice //Bob 1000000000000\n  cloister --node-url {url} phase\n\
             polkadot.js apps and subxt connect to {url} as to any Substrate node.\nPress Ctrl-C to stop.",
            metrics.clone().unwrap_or_else(|| "off".into())
        ),
        json!({ "node_url": url, "metrics_url": metrics, "chain": "dev", "sudo": "//Alice" }),
    );
    tokio::signal::ctrl_c().await?;
    node.stop().await;
    Ok(())
}
