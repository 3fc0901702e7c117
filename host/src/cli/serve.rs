//! `rulegate serve`: load the configuration and every tenant's module, then serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::engine::{ArtifactCache, Engine, Executor};
use crate::journal::Journal;
use crate::registry::Registry;
use crate::server::{self, AppState};

/// Arguments of `rulegate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file; without one, the embedded default serves the example
    /// rules.
    #[arg(long, env = "RULEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Listen here instead of the configured address (e.g. 127.0.0.1:0 for any port).
    #[arg(long, env = "RULEGATE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "RULEGATE_LOG_JSON")]
    log_json: bool,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_tracing(args.log_json);
    let config = Config::load(args.config.as_deref())?;
    if args.config.is_none() {
        tracing::warn!(
            "no --config given: serving the example tenants of the embedded default configuration"
        );
    }
    let cache = ArtifactCache::open(config.state_dir.join("cache"))
        .context("opening the artifact cache")?;
    let engine = Engine::new(config.engine.clone(), Some(cache))?;
    let registry = Registry::load(&config, &engine)?;
    let events = config.state_dir.join("events.jsonl");
    let journal = Journal::open(&events)
        .with_context(|| format!("opening the event journal {}", events.display()))?;
    let state = AppState {
        registry: Arc::new(registry),
        executor: Executor::per_core(),
        journal,
        max_body_bytes: config.max_body_bytes,
    };
    let address = args.listen.unwrap_or(config.listen);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        // A stable line on stdout that scripts and tests wait for.
        println!("rulegate listening on http://{}", listener.local_addr()?);
        server::serve(listener, state, server::shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RULEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
