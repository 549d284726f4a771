//! `cloister-node`: parse the command line, start the node, run until Ctrl-C or SIGTERM.

use anyhow::Context;
use clap::Parser;
use cloister_node::{
    chain_spec::ChainSpec,
    cli::{NodeCli, NodeCommand},
    keystore::{read_password, AuthorityKeys},
};
use sp_core::Pair;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = NodeCli::parse();
    match cli.command {
        Some(NodeCommand::GenerateKeys { keystore, password_file }) => {
            let keys = AuthorityKeys::generate();
            keys.save(&keystore, &read_password(&password_file)?)?;
            println!(
                "{}",
                serde_json::json!({
                    "aura": keys.aura.public().to_string(),
                    "grandpa": keys.grandpa.public().to_string(),
                })
            );
            return Ok(());
        }
        Some(NodeCommand::GenerateNodeKey { file }) => {
            let key = cloister_network::generate_node_key(&file)?;
            println!("{}", cloister_network::peer_id(&key));
            return Ok(());
        }
        Some(NodeCommand::BuildSpec { chain }) => {
            println!("{}", ChainSpec::load(&chain)?.to_json());
            return Ok(());
        }
        None => {}
    }
    let config = cli.run.config()?;
    if cli.run.dump_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let node = cloister_node::start(config).await.context("starting the node")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!(target: "node", "shutting down");
    node.stop().await;
    Ok(())
}
