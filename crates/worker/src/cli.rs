//! The worker's command line, as operators of such workers know it.

use clap::{Args, Parser, Subcommand};
use std::{net::IpAddr, path::PathBuf};

/// A Cloister validateer.
#[derive(Debug, Parser)]
#[command(name = "cloister-worker", version, about)]
pub struct WorkerCli {
    /// Where the sealed keys and state live.
    #[arg(long, short = 'd', global = true, default_value = "cloister-worker-data")]
    pub base_path: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: WorkerCommand,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum WorkerCommand {
    /// Print the enclave's measurement (blake2-256 of this executable), as clients pin it.
    Mrenclave,
    /// Print the enclave's shielding public key (X25519, for HPKE), generating it on first use.
    ShieldingKey,
    /// Print the enclave's signing public key and account (ed25519), generating it on first use.
    SigningKey,
    /// Create a shard's state key and empty state (default shard: the MRENCLAVE), and print it.
    InitShard {
        /// The shard, 32 bytes of hex; default: this enclave's MRENCLAVE.
        shard: Option<String>,
    },
    /// Run the validateer: sync the parentchain, serve trusted calls, author sidechain blocks.
    Run(RunArgs),
    /// Benchmarks, run in-process on a temporary base path (no parentchain node needed).
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

/// `cloister-worker run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The parentchain node's RPC endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    pub node_url: String,
    /// Port of the direct-invocation server (TLS that ends in the enclave).
    #[arg(long, default_value_t = 2000)]
    pub trusted_port: u16,
    /// Port of the peers' block exchange.
    #[arg(long, default_value_t = 2001)]
    pub untrusted_port: u16,
    /// Port of the MU-RA server.
    #[arg(long, default_value_t = 3443)]
    pub mu_ra_port: u16,
    /// Port of the Prometheus metrics (0: off).
    #[arg(long, default_value_t = 8787)]
    pub metrics_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_addr: IpAddr,
    /// The host name clients and peers use to reach this worker (in its registered URL).
    #[arg(long, default_value = "127.0.0.1")]
    pub public_host: String,
    /// The shard, 32 bytes of hex; default: this enclave's MRENCLAVE.
    #[arg(long)]
    pub shard: Option<String>,
    /// Sidechain slot duration in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub slot_ms: u64,
    /// Development mode: fund the enclave's account from //Alice and accept a dev chain.
    #[arg(long)]
    pub dev: bool,
}
