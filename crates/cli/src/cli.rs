//! The `cloister` command line (clap derive) and its dispatch to the library.

use crate::{
    authorities, bench,
    chain::{self, CommandError},
    demo, deploy, dev, enclaves, netctl,
    output::{Output, Report},
    permissions,
    private_community::{self, args::parse_cid, CommunityCommand},
    rpc_client::NodeClient,
    trusted::{self, TrustedClient},
};
use clap::{Parser, Subcommand};
use encointer_primitives::communities::CommunityIdentifier;
use std::{path::PathBuf, time::Duration};

/// Cloister: confidential communities on a consortium chain.
#[derive(Debug, Parser)]
#[command(name = "cloister", version, about)]
pub struct Cli {
    /// The parentchain node's RPC.
    #[arg(long, global = true, env = "CLOISTER_NODE_URL", default_value = "ws://127.0.0.1:9944")]
    pub node_url: String,
    /// The validateer's direct-invocation endpoint (TLS that ends in its enclave).
    #[arg(long, global = true, default_value = "wss://127.0.0.1:2000", env = "CLOISTER_WORKER_URL")]
    pub worker_url: String,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Authenticate RPC requests as this account (secret URI) on a restricted chain; the
    /// account needs the READ permission.
    #[arg(long, global = true, env = "CLOISTER_AUTH")]
    pub auth: Option<String>,
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
    /// The registered enclaves: account, MRENCLAVE, attestation, worker URL, shards.
    ListEnclaves,
    /// Confidential operations on a shard, through its enclave (attested, MRENCLAVE pinned).
    Trusted {
        /// The MRENCLAVE the enclave must attest (as `cloister-worker mrenclave` prints it).
        #[arg(long)]
        mrenclave: String,
        /// The shard (32 bytes of hex); default: the MRENCLAVE.
        #[arg(long)]
        shard: Option<String>,
        /// What to do.
        #[command(subcommand)]
        action: TrustedCommand,
    },
    /// The consortium's permissions: READ, TRANSACT, CREATE, ADMIN per account, the p2p allowlist.
    Permissions {
        /// What to do.
        #[command(subcommand)]
        action: PermissionsCommand,
    },
    /// The authority set: show it, or change it (sudo, or a majority of the authorities).
    Authorities {
        /// What to do.
        #[command(subcommand)]
        action: AuthoritiesCommand,
    },
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
        /// Validateers to start, all of this build's MRENCLAVE serving its shard; validateer i
        /// listens on the validateer ports below plus 10*i (0: the node only).
        #[arg(long, default_value_t = 1, value_name = "N")]
        validateers: usize,
        /// Direct-invocation (TLS) port of validateer 0.
        #[arg(long, default_value_t = dev::WorkerPorts::DEFAULT.trusted)]
        trusted_port: u16,
        /// Peer (block exchange) port of validateer 0.
        #[arg(long, default_value_t = dev::WorkerPorts::DEFAULT.untrusted)]
        untrusted_port: u16,
        /// MU-RA (onboarding) port of validateer 0.
        #[arg(long, default_value_t = dev::WorkerPorts::DEFAULT.mu_ra)]
        mu_ra_port: u16,
        /// Prometheus port of validateer 0 (0 turns the validateers' metrics off).
        #[arg(long, default_value_t = dev::WorkerPorts::DEFAULT.metrics)]
        worker_metrics_port: u16,
        /// Start the parentchain node only, without a validateer (as --validateers 0).
        #[arg(long, conflicts_with = "validateers")]
        no_worker: bool,
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
    /// Demonstrations on a fresh dev network, printed step by step.
    Demo {
        /// Which demonstration.
        #[command(subcommand)]
        which: DemoCommand,
    },
}

impl Command {
    /// The log filter when `RUST_LOG` sets none: the in-process node's progress for `dev`
    /// and the benchmarks, only warnings where the output is the point (the demo).
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Self::Demo { .. } => "warn",
            _ => "warn,node=info,rpc=info",
        }
    }
}

/// Demonstrations.
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// The private-community demo: a public community made private, two ceremonies (the first
    /// pays the bootstrappers, so that a newbie may join the second), meetups, attestations,
    /// rewards, demurrage. Prints every command it runs and what it returned.
    PrivateCommunity {
        /// Leave the network running afterwards (until Ctrl-C), to try further commands.
        #[arg(long)]
        keep: bool,
        /// Validateers of the shard to start; the trusted commands take turns among them (each
        /// printed with the --worker-url of its validateer).
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = demo::parse_validateers)]
        validateers: usize,
    },
}

/// `cloister trusted` commands. Native amounts are in plancks, as on the parentchain;
/// community-currency amounts are decimals.
#[derive(Debug, Subcommand)]
pub enum TrustedCommand {
    /// The account's balance on the shard (a getter the account signs: only it can read it);
    /// with --cid, its community-currency balance (demurrage applied).
    Balance {
        /// Secret URI of the account.
        account: String,
        /// The community whose currency to show.
        #[arg(long, value_parser = parse_cid)]
        cid: Option<CommunityIdentifier>,
    },
    /// The account's next nonce on the shard.
    Nonce {
        /// Secret URI of the account.
        account: String,
    },
    /// Transfer inside the shard: native funds, or with --cid community currency.
    Transfer {
        /// Secret URI of the sender.
        from: String,
        /// The receiver (SS58 address or secret URI).
        to: String,
        /// Amount: plancks, or with --cid a decimal amount of community currency.
        amount: String,
        /// Transfer the currency of this community.
        #[arg(long, value_parser = parse_cid)]
        cid: Option<CommunityIdentifier>,
        /// Send it as a shielded call through the parentchain (indirect invocation) instead of
        /// directly to the enclave.
        #[arg(long)]
        indirect: bool,
        /// Wait until the sidechain block is anchored on the parentchain (`Finalized`).
        #[arg(long, conflicts_with = "indirect")]
        wait_final: bool,
    },
    /// Move parentchain funds of the account into its account on the shard.
    ShieldFunds {
        /// Secret URI of the account.
        account: String,
        /// Amount in plancks.
        amount: u128,
    },
    /// Move shard funds of the account back to its parentchain account.
    UnshieldFunds {
        /// Secret URI of the account.
        account: String,
        /// Amount in plancks.
        amount: u128,
    },
    /// Private Encointer communities.
    #[command(flatten)]
    Community(CommunityCommand),
}

/// Runs a `cloister trusted` command on connected clients.
pub async fn run_trusted(
    node: &NodeClient,
    client: &TrustedClient,
    action: TrustedCommand,
) -> Result<Report, CommandError> {
    match action {
        TrustedCommand::Balance { account, cid: None } => trusted::balance(client, &account).await,
        TrustedCommand::Balance { account, cid: Some(cid) } => {
            private_community::getters::cc_balance(client, &account, cid).await
        }
        TrustedCommand::Nonce { account } => trusted::nonce(client, &account).await,
        TrustedCommand::Transfer { from, to, amount, cid, indirect, wait_final } => {
            let how = if indirect {
                trusted::Delivery::Indirect
            } else if wait_final {
                trusted::Delivery::DirectFinal
            } else {
                trusted::Delivery::Direct
            };
            match cid {
                Some(cid) => {
                    let value = private_community::args::parse_amount(&amount).map_err(CommandError::Invalid)?;
                    private_community::calls::cc_transfer(node, client, (&from, &to, value), cid, how).await
                }
                None => {
                    let plancks: u128 = amount.parse().map_err(|_| {
                        CommandError::Invalid(format!(
                            "'{amount}' is not an amount in plancks (a whole number; community currency needs --cid)"
                        ))
                    })?;
                    trusted::transfer(node, client, (&from, &to, plancks), how).await
                }
            }
        }
        TrustedCommand::ShieldFunds { account, amount } => trusted::shield_funds(node, client, &account, amount).await,
        TrustedCommand::UnshieldFunds { account, amount } => {
            trusted::unshield_funds(node, client, &account, amount).await
        }
        TrustedCommand::Community(command) => private_community::run(node, client, command).await,
    }
}

/// Permission commands; changes are signed by the sudo key or an ADMIN account.
#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// An account's permissions, whether the chain is restricted, the allowed peers.
    Show {
        /// The account (SS58 or secret URI).
        account: String,
    },
    /// Grant permissions: a comma list of read, transact, create, admin (or all).
    Grant {
        /// The account (SS58 or secret URI).
        account: String,
        /// E.g. `read,transact`.
        permissions: String,
        /// Secret URI of the sudo key or an ADMIN account.
        #[arg(long, default_value = "//Alice")]
        signer: String,
    },
    /// Revoke permissions: a comma list of read, transact, create, admin (or all).
    Revoke {
        /// The account (SS58 or secret URI).
        account: String,
        /// E.g. `transact`.
        permissions: String,
        /// Secret URI of the sudo key or an ADMIN account.
        #[arg(long, default_value = "//Alice")]
        signer: String,
    },
    /// Restrict the chain (true) or open it to everyone (false).
    Restrict {
        /// `true` or `false`.
        #[arg(action = clap::ArgAction::Set)]
        restricted: bool,
        /// Secret URI of the sudo key or an ADMIN account.
        #[arg(long, default_value = "//Alice")]
        signer: String,
    },
    /// Add a node's peer id to the allowlist.
    AllowPeer {
        /// The libp2p peer id (12D3Koo…).
        peer_id: String,
        /// Secret URI of the sudo key or an ADMIN account.
        #[arg(long, default_value = "//Alice")]
        signer: String,
    },
    /// Remove a node's peer id from the allowlist.
    DisallowPeer {
        /// The libp2p peer id (12D3Koo…).
        peer_id: String,
        /// Secret URI of the sudo key or an ADMIN account.
        #[arg(long, default_value = "//Alice")]
        signer: String,
    },
}

/// Authority set commands.
#[derive(Debug, Subcommand)]
pub enum AuthoritiesCommand {
    /// The Aura authors and the GRANDPA voters at the best block.
    Show,
    /// Enact a new set through sudo.
    Set {
        /// Secret URI of the sudo key.
        #[arg(long, default_value = "//Alice")]
        sudo: String,
        /// The new authorities: `AURA:GRANDPA` public keys (SS58 or 0x hex), or a dev secret URI.
        #[arg(required = true)]
        authorities: Vec<String>,
    },
    /// Propose a new set as a current authority (a majority of them enacts it).
    Propose {
        /// Secret URI of the proposing authority's Aura key.
        #[arg(long)]
        signer: String,
        /// The new authorities: `AURA:GRANDPA` public keys (SS58 or 0x hex), or a dev secret URI.
        #[arg(required = true)]
        authorities: Vec<String>,
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
        /// Start a fresh in-process network instead of using --node-url.
        #[arg(long)]
        spawn: bool,
        /// With --spawn: authorities of the local network (1: the dev chain; more: a consortium
        /// of Alice, Bob, … networked over 127.0.0.1, finalizing with GRANDPA).
        #[arg(long, default_value_t = 1)]
        authorities: usize,
        /// With --spawn --authorities > 1: slot duration in milliseconds.
        #[arg(long, default_value_t = 1000)]
        slot_ms: u64,
    },
    /// Trusted transfers per second a shard includes, per validateer count: a fresh dev network
    /// each (the real binaries), senders funded by shielding, transfers pipelined per sender.
    Sidechain {
        /// Validateer counts to measure, one fresh dev network each (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,3")]
        validateers: Vec<usize>,
        /// Transfers per run.
        #[arg(long, default_value_t = 3000)]
        count: usize,
        /// Sending accounts (`//bench//{i}`); sender i submits to validateer i mod N.
        #[arg(long, default_value_t = 60)]
        senders: usize,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output { json: cli.json };
    match cli.command {
        Command::Deploy(args) => return Ok(deploy::run(args, &out)?),
        Command::Demo { which: DemoCommand::PrivateCommunity { keep, validateers } } => {
            return demo::private_community(demo::DemoOptions { keep, validateers }, out).await;
        }
        Command::Network { command } => return netctl::run(command, &out).await,
        Command::Dev {
            base_path,
            rpc_port,
            prometheus_port,
            validateers,
            trusted_port,
            untrusted_port,
            mu_ra_port,
            worker_metrics_port,
            no_worker,
        } => {
            let first = dev::WorkerPorts {
                trusted: trusted_port,
                untrusted: untrusted_port,
                mu_ra: mu_ra_port,
                metrics: worker_metrics_port,
            };
            let workers = first.series(if no_worker { 0 } else { validateers })?;
            let options = dev::DevOptions { base_path, rpc_port, prometheus_port, workers, phase_durations_ms: None };
            return dev::run(options, out).await;
        }
        Command::Bench {
            which: BenchCommand::Transfers { count, connections, timeout, spawn, authorities, slot_ms },
        } => {
            let options = bench::TransferBench { count, connections, timeout: Duration::from_secs(timeout) };
            let (dev_node, consortium) = match (spawn, authorities) {
                (false, _) => (None, None),
                (true, 1) => {
                    let options = dev::DevOptions::on_free_ports(0)?;
                    (Some(dev::start(&options).await?), None)
                }
                (true, n) => (None, Some(dev::LocalConsortium::start(n, slot_ms).await?)),
            };
            let url = match (&dev_node, &consortium) {
                (Some(node), _) => format!("ws://{}", node.rpc_addr),
                (_, Some(c)) => format!("ws://{}", c.nodes[0].rpc_addr),
                _ => cli.node_url,
            };
            let report = bench::run(&url, &options).await?;
            bench::print(&out, &report);
            if let Some(node) = dev_node {
                node.stop().await;
            }
            if let Some(consortium) = consortium {
                consortium.stop().await;
            }
            return Ok(());
        }
        Command::Bench { which: BenchCommand::Sidechain { validateers, count, senders } } => {
            let options = crate::bench_sidechain::SidechainBench { validateers, count, senders };
            let report = crate::bench_sidechain::run(&options).await?;
            crate::bench_sidechain::print(&out, &report);
            return Ok(());
        }
        _ => {}
    }
    let reader = cli.auth.as_deref().map(crate::signer::Signer::from_suri).transpose()?;
    let client = NodeClient::connect_as(&cli.node_url, reader.as_ref())
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
        Command::ListEnclaves => enclaves::list(&client, &out).await?,
        Command::Trusted { mrenclave, shard, action } => {
            let mrenclave: cloister_primitives::Mrenclave = mrenclave.parse().map_err(anyhow::Error::msg)?;
            let shard = match shard {
                Some(text) => Some(
                    cloister_primitives::parse_hex32(&text)
                        .map(cloister_primitives::ShardId::from)
                        .ok_or_else(|| anyhow::anyhow!("'{text}' is not a shard (32 bytes of hex)"))?,
                ),
                None => None,
            };
            let trusted = TrustedClient::connect(&client, &cli.worker_url, mrenclave, shard).await?;
            out.report(run_trusted(&client, &trusted, action).await?);
        }
        Command::Permissions { action } => match action {
            PermissionsCommand::Show { account } => permissions::show(&client, &out, &account).await?,
            PermissionsCommand::Grant { account, permissions: bits, signer } => {
                permissions::change(&client, &out, &signer, &account, &bits, true).await?
            }
            PermissionsCommand::Revoke { account, permissions: bits, signer } => {
                permissions::change(&client, &out, &signer, &account, &bits, false).await?
            }
            PermissionsCommand::Restrict { restricted, signer } => {
                permissions::restrict(&client, &out, &signer, restricted).await?
            }
            PermissionsCommand::AllowPeer { peer_id, signer } => {
                permissions::allow_peer(&client, &out, &signer, &peer_id, true).await?
            }
            PermissionsCommand::DisallowPeer { peer_id, signer } => {
                permissions::allow_peer(&client, &out, &signer, &peer_id, false).await?
            }
        },
        Command::Authorities { action } => match action {
            AuthoritiesCommand::Show => authorities::show(&client, &out).await?,
            AuthoritiesCommand::Set { sudo, authorities } => {
                authorities::set(&client, &out, &sudo, &authorities).await?
            }
            AuthoritiesCommand::Propose { signer, authorities } => {
                authorities::propose(&client, &out, &signer, &authorities).await?
            }
        },
        Command::Dev { .. }
        | Command::Bench { .. }
        | Command::Deploy(_)
        | Command::Network { .. }
        | Command::Demo { .. } => {}
    }
    Ok(())
}
