//! `rulegate serve`: load the configuration and every tenant's module, then serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::delivery::Delivery;
use crate::engine::{ArtifactCache, Engine, Executor};
use crate::fleet::{Convergence, Fleet, Follower, Postgres, StoreKind};
use crate::metrics::Metrics;
use crate::records::{DecisionLog, EventStore, FileOutbox, Journal, Recorder};
use crate::server::admin::{self, AdminState};
use crate::server::{self, AppState, Services};
use crate::shadow::ShadowRunner;
use crate::tenants::{FileStore, Registry, Store};
use crate::watch;

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
    /// Run the admin API here instead of the configured address.
    #[arg(long, env = "RULEGATE_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
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
    let host = config.store.host_id();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let Stores {
        store,
        outbox,
        journal,
        fleet,
    } = open_stores(&config, &runtime, &host)?;
    let registry = Arc::new(Registry::load(&config.tenants, &engine, store, &host)?);
    let decision_log = DecisionLog::open(&config.decision_log, &config.state_dir, &host)
        .context("opening the decision log")?;
    let metrics = Arc::new(Metrics::default());
    metrics.slot_reset(engine.slot_reset());
    let delivery = Delivery::new(outbox, registry.clone(), metrics.clone());
    let state = AppState::new(Services {
        registry: registry.clone(),
        // A quarter of the instance pool stays for shadow evaluations and the
        // activation gate.
        executor: Executor::for_server(config.engine.max_instances as usize * 3 / 4),
        journal,
        max_body_bytes: config.max_body_bytes,
        metrics: metrics.clone(),
        decision_log: decision_log.clone(),
        shadow: ShadowRunner::default(),
        delivery: delivery.clone(),
        convergence: fleet.as_ref().map(|fleet| fleet.convergence.clone()),
    });
    let address = args.listen.unwrap_or(config.listen);
    let admin = config
        .admin
        .as_ref()
        .map(|admin| -> anyhow::Result<_> {
            let token = admin.token.resolve("admin.token")?;
            if !admin.listen.ip().is_loopback() {
                tracing::warn!(address = %admin.listen, "the admin API listens beyond loopback");
            }
            let state = AdminState {
                registry: registry.clone(),
                metrics: metrics.clone(),
                decision_log: decision_log.clone(),
                delivery: delivery.clone(),
                token: Arc::new(token),
                fleet: fleet.clone(),
            };
            Ok((args.admin_listen.unwrap_or(admin.listen), state))
        })
        .transpose()?;

    let http = config.http;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut admin_server = None;
        if let Some((address, admin_state)) = admin {
            let admin_listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("admin API: listening on {address}"))?;
            // A stable line on stdout that scripts and tests wait for.
            println!("rulegate admin on http://{}", admin_listener.local_addr()?);
            let router = server::with_limits(admin::router(admin_state), &http);
            admin_server = Some(tokio::spawn(server::serve_router(
                admin_listener,
                router,
                http,
                stopping.clone(),
            )));
        }
        // Events stored before a restart, or a crash, are delivered now.
        delivery.start();
        if let Some(fleet) = fleet {
            Follower {
                store: fleet.store,
                registry: registry.clone(),
                convergence: fleet.convergence,
                poll: config.store.poll_interval(),
                notifications: config.store.notifications,
            }
            .start();
        }
        if let Some(settings) = config.watch.clone() {
            tokio::spawn(watch::watch(settings, registry, metrics));
        }
        tokio::spawn(async move {
            server::shutdown_signal().await;
            let _ = stop.send(true);
        });
        // A stable line on stdout that scripts and tests wait for.
        println!("rulegate listening on http://{}", listener.local_addr()?);
        server::serve(listener, state, http, stopping).await?;
        if let Some(admin_server) = admin_server {
            let _ = admin_server.await;
        }
        anyhow::Ok(())
    })?;
    // Every answered callback's decision record reaches the disk before exit.
    decision_log.flush(std::time::Duration::from_secs(5));
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Where the registry, the merchants' events and the journal live.
struct Stores {
    store: Arc<dyn Store>,
    outbox: Arc<dyn EventStore>,
    journal: Arc<dyn Recorder>,
    fleet: Option<Fleet>,
}

/// The state directory's stores, or all three in the fleet's shared store.
fn open_stores(
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    host: &str,
) -> anyhow::Result<Stores> {
    Ok(match config.store.kind {
        StoreKind::Files => {
            let events = config.state_dir.join("events.jsonl");
            Stores {
                store: Arc::new(
                    FileStore::open(&config.state_dir).context("opening the module store")?,
                ),
                outbox: Arc::new(
                    FileOutbox::open(&config.state_dir).context("opening the outbox")?,
                ),
                journal: Arc::new(
                    Journal::open(&events).with_context(|| {
                        format!("opening the event journal {}", events.display())
                    })?,
                ),
                fleet: None,
            }
        }
        StoreKind::Postgres => {
            let url = config
                .store
                .url
                .as_ref()
                .context("`store.url` is needed")?
                .resolve("store.url")?;
            let events = config.state_dir.join("events.jsonl");
            let spill = Journal::open(&events)
                .with_context(|| format!("opening the event journal {}", events.display()))?;
            let postgres = runtime
                .block_on(Postgres::connect(
                    url.expose(),
                    config.store.pool_size,
                    host.to_string(),
                    config.store.poll_interval(),
                ))?
                .spill_to(spill);
            tracing::info!(store = %postgres.describe(), %host, "sharing the fleet's store");
            let fleet = Fleet {
                store: postgres.clone(),
                convergence: Arc::new(Convergence::new(
                    config
                        .store
                        .max_staleness_ms
                        .map(std::time::Duration::from_millis),
                )),
                poll: config.store.poll_interval(),
            };
            Stores {
                store: Arc::new(postgres.clone()),
                outbox: Arc::new(postgres.clone()),
                journal: Arc::new(postgres),
                fleet: Some(fleet),
            }
        }
    })
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RULEGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: redirected logs stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
