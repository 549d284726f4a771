//! `cloister`: parse the command line and run it; errors go to stderr with a non-zero exit.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cloister_cli::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| cli.command.default_log_filter().into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cloister_cli::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
