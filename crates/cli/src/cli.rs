//! The `cloister` command line (clap derive) and its dispatch to the library.

use crate::{bench, chain, deploy, dev, netctl, output::Output, rpc_client::NodeClient};
use clap::{Parser, Subcommand};
use std::{path::PathBuf, time::Duration};

/// Cloister: confidential communities on a consortium chain.
#[derive(Debug, Parser)]
#[command(name = "cloister", version, about)]
pub struct Cli {
    /// The parentchain node's RPC.
    #[arg(long, global = true, env = "CLOISTER_NODE_URL", default_value = "ws://127.0.0.1:9944")]
    pub node_url: String,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Native balance and nonce of an account (SS58 address or secret URI).
    Balance {
        /// The account.
        account: String,
    },
    /// Transfer native tokens (in plancks, 10^-12 of a unit), keeping the sender alive.
    Transfer {
        /// Secret URI of the sender, e.g. //Alice.
        from: String,
        /// The receiver (SS58 address or secret URI).
        to: String,
        /// Amount in plancks.
        amount: u128,
    },
    /// The current ceremony phase and index.
    Phase,
    /// Move the ceremony to its next phase (sudo).
    NextPhase {
        /// Secret URI of the sudo key.
        #[arg(long, default_value = "//Alice")]
        sudo: String,
    },
    /// Register a public community from a JSON or TOML spec.
    NewCommunity {
        /// The spec file (`.toml` or JSON).
        spec: PathBuf,
        /// Secret URI of the founder.
        #[arg(long, default_value = "//Alice")]
        signer: String,
    },
    /// List the public communities.
    ListCommunities,
    /// The current ceremony index.
    CeremonyIndex,
    /// Start a development network and print how to connect.
    Dev {
        /// Keep the chain in this directory instead of a temporary one.
        #[arg(long)]
        base_path: Option<PathBuf>,
        /// RPC port of the node.
        #[arg(long, default_value_t = 9944)]
        rpc_port: u16,
        /// Prometheus port of the node (0 turns metrics off).
        #[arg(long, default_value_t = 9615)]
        prometheus_port: u16,
    },
    /// Write a consortium's deployment bundle: keys, chain spec, node configs, compose, systemd.
    Deploy(deploy::DeployArgs),
    /// Run a deployment bundle's nodes on this machine.
    Network {
        /// What to do.
        #[command(subcommand)]
        command: netctl::NetworkCommand,
    },
    /// Benchmarks that print figures.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        which: BenchCommand,
    },
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Flood a dev node with pre-signed transfers; print transfers/s, sr25519 verify/s, ratio.
    Transfers {
        /// Transfers to submit.
        #[arg(long, default_value_t = 5000)]
        count: usize,
        /// Concurrent RPC connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Seconds to wait for inclusion.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Start a fresh in-process dev node instead of using --node-url.
        #[arg(long)]
        spawn: bool,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output { json: cli.json };
    match cli.command {
        Command::Deploy(args) => return Ok(deploy::run(args, &out)?),
        Command::Network { command } => return netctl::run(command, &out).await,
        Command::Dev { base_path, rpc_port, prometheus_port } => {
            return dev::run(dev::DevOptions { base_path, rpc_port, prometheus_port }, out).await;
        }
        Command::Bench { which: BenchCommand::Transfers { count, connections, timeout, spawn } } => {
            let options = bench::TransferBench { count, connections, timeout: Duration::from_secs(timeout) };
            let node = if spawn {
                Some(dev::start(&dev::DevOptions { base_path: None, rpc_port: 0, prometheus_port: 0 }).await?)
            } else {
                None
            };
            let url = node.as_ref().map(|n| format!("ws://{}", n.rpc_addr)).unwrap_or(cli.node_url);
            let report = bench::run(&url, &options).await?;
            bench::print(&out, &report);
            if let Some(node) = node {
                node.stop().await;
            }
            return Ok(());
        }
        _ => {}
    }
    let client = NodeClient::connect(&cli.node_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the node at {}: {e}", cli.node_url))?;
    match cli.command {
        Command::Balance { account } => chain::balance(&client, &out, &account).await?,
        Command::Transfer { from, to, amount } => chain::transfer(&client, &out, &from, &to, amount).await?,
        Command::Phase => chain::phase(&client, &out).await?,
        Command::NextPhase { sudo } => chain::next_phase(&client, &out, &sudo).await?,
        Command::NewCommunity { spec, signer } => chain::new_community(&client, &out, &spec, &signer).await?,
        Command::ListCommunities => chain::list_communities(&client, &out).await?,
        Command::CeremonyIndex => chain::ceremony_index(&client, &out).await?,
        Command::Dev { .. } | Command::Bench { .. } | Command::Deploy(_) | Command::Network { .. } => {}
    }
    Ok(())
}
