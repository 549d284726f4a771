//! `cloister-worker`: parse the command line and run the command.

use clap::Parser;
use cloister_worker::{
    bench::{self, BenchCommand},
    cli::{WorkerCli, WorkerCommand},
    host::start_enclave,
    service,
};
use sp_core::crypto::Ss58Codec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = WorkerCli::parse();
    match cli.command {
        WorkerCommand::Mrenclave => println!("{}", cloister_enclave::software::measure_self()?),
        WorkerCommand::ShieldingKey => {
            println!("0x{}", hex::encode(start_enclave(&cli.base_path)?.enclave.shielding_public_key()?));
        }
        WorkerCommand::SigningKey => {
            let public = start_enclave(&cli.base_path)?.enclave.signing_public_key()?;
            let account = sp_core::ed25519::Public::from_raw(public);
            println!("{} 0x{}", account.to_ss58check(), hex::encode(public));
        }
        WorkerCommand::InitShard { shard } => {
            let started = start_enclave(&cli.base_path)?;
            let mrenclave = started.enclave.mrenclave()?;
            let shard = service::shard_or_default(shard.as_deref(), &mrenclave).map_err(anyhow::Error::msg)?;
            let info = started.enclave.init_shard(shard)?;
            println!("0x{} head {}", hex::encode(info.shard), info.head);
        }
        WorkerCommand::Run(args) => service::run(&cli.base_path, args).await?,
        WorkerCommand::Bench(BenchCommand::Transfers(args)) => {
            bench::transfers(&args).await?;
        }
        WorkerCommand::Bench(BenchCommand::Ceremony(args)) => {
            tokio::task::spawn_blocking(move || cloister_worker::ceremony_bench::ceremony(&args)).await??;
        }
        WorkerCommand::Bench(BenchCommand::Onboarding(args)) => {
            tokio::task::spawn_blocking(move || cloister_worker::onboarding_bench::onboarding(&args)).await??;
        }
    }
    Ok(())
}
