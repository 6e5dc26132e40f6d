use std::process::ExitCode;

use clap::Parser;
use server::Config;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Config::parse();
    let listener = match TcpListener::bind(&config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("cannot listen on {}: {error}", config.bind);
            eprintln!("error: cannot listen on {}: {error}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!("chat room at http://{addr}"),
        Err(error) => tracing::warn!(%error, "listening, address unknown"),
    }
    server::run(listener, config, server::shutdown::signal()).await;
    ExitCode::SUCCESS
}
