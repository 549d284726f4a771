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

/// A local consortium in this process: one node per development authority (`Alice`, `Bob`, …),
/// networked over 127.0.0.1 with free ports and temporary storage. For benchmarks.
pub struct LocalConsortium {
    /// The nodes; node 0 is Alice's.
    pub nodes: Vec<cloister_node::Node>,
    _keys: tempfile::TempDir,
}

impl LocalConsortium {
    /// Starts `count` authorities with `slot_ms` slots.
    pub async fn start(count: usize, slot_ms: u64) -> anyhow::Result<Self> {
        use cloister_runtime::genesis::{consortium_genesis, dev_authority, dev_endowed, GenesisParams};
        const NAMES: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];
        anyhow::ensure!((1..=NAMES.len()).contains(&count), "1 to {} authorities", NAMES.len());
        let names = &NAMES[..count];
        let params = GenesisParams {
            authorities: names.iter().filter_map(|n| dev_authority(n)).collect(),
            sudo: Some(sp_keyring::Sr25519Keyring::Alice.to_account_id()),
            endowed: dev_endowed(),
            phase_durations_ms: [20 * 60_000; 3],
            permissions: None,
            // A local development network: software enclaves attest with dev reports.
            allow_dev_attestation: true,
        };
        let spec = ChainSpec::consortium("Local Consortium", "local_consortium", slot_ms, consortium_genesis(&params));
        let keys = tempfile::tempdir()?;
        let mut peers = Vec::new();
        for i in 0..count {
            let file = keys.path().join(format!("node-{i}.key"));
            let keypair = cloister_network::generate_node_key(&file)?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let addr: cloister_network::Multiaddr =
                format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", cloister_network::peer_id(&keypair)).parse()?;
            peers.push((file, port, addr));
        }
        let mut nodes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let mut config =
                NodeConfig::new(spec.clone()).with_authority(AuthorityKeys::from_suri(&format!("//{name}"))?);
            config.name = format!("{}-node", name.to_lowercase());
            config.rpc_addr = SocketAddr::from(([127, 0, 0, 1], 0));
            config.prometheus_addr = None;
            let mut network = cloister_node::config::NetworkSettings::on_port(peers[i].1);
            network.listen_addrs = vec![cloister_network::tcp_addr([127, 0, 0, 1], peers[i].1)];
            network.node_key_file = Some(peers[i].0.clone());
            network.bootnodes = peers.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| p.2.clone()).collect();
            config.network = Some(network);
            nodes.push(cloister_node::start(config).await?);
        }
        Ok(Self { nodes, _keys: keys })
    }

    /// Stops every node.
    pub async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
    }
}
