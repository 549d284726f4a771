//! The worker's command line, as operators of such workers know it.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
}
