//! The server's routers in the test process, for route-level tests that need no
//! server process: requests go to them with `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use rulegate::config::Config;
use rulegate::delivery::Delivery;
use rulegate::engine::{Engine, Executor};
use rulegate::metrics::Metrics;
use rulegate::records::{DecisionLog, FileOutbox, Journal};
use rulegate::secret::Secret;
use rulegate::server::admin::{self, AdminState};
use rulegate::server::{self, AppState, Services};
use rulegate::shadow::ShadowRunner;
use rulegate::tenants::{FileStore, Registry};
use tower::ServiceExt;

/// The callback router and the admin router of a configuration, with their state
/// directory.
#[derive(Debug)]
pub struct Routers {
    /// The callback routes.
    pub callbacks: Router,
    /// The admin API, with the bearer token given to [`Routers::new`].
    pub admin: Router,
    /// Holds the state directory for as long as the routers live.
    pub dir: tempfile::TempDir,
}

impl Routers {
    /// The routers of `config` (TOML; it may reference files in `dir`), as `rulegate
    /// serve` builds them, with the admin API's token `token`.
    pub fn new(dir: tempfile::TempDir, config: &str, token: &str) -> Routers {
        let config =
            Config::parse(config, "the test configuration").expect("a valid configuration");
        let engine = Engine::new(config.engine.clone(), None).expect("the engine");
        let store = FileStore::open(&dir.path().join("state")).expect("the module store");
        let registry = Arc::new(
            Registry::load(&config.tenants, &engine, Arc::new(store), "test-host")
                .expect("the tenants load"),
        );
        let metrics = Arc::new(Metrics::default());
        let outbox = FileOutbox::open(&dir.path().join("state")).expect("the outbox");
        let outbox = Arc::new(outbox);
        let delivery = Delivery::new(outbox, registry.clone(), metrics.clone());
        let state = AppState::new(Services {
            registry: registry.clone(),
            executor: Executor::new(4),
            journal: Arc::new(
                Journal::open(&dir.path().join("events.jsonl")).expect("the journal"),
            ),
            max_body_bytes: config.max_body_bytes,
            metrics: metrics.clone(),
            decision_log: DecisionLog::disabled(),
            shadow: ShadowRunner::default(),
            delivery: delivery.clone(),
            convergence: None,
        });
        let admin = admin::router(AdminState {
            registry,
            metrics,
            decision_log: DecisionLog::disabled(),
            delivery,
            token: Arc::new(Secret::new(token)),
            fleet: None,
        });
        Routers {
            callbacks: server::router(state),
            admin,
            dir,
        }
    }
}

/// A response as a test reads it.
#[derive(Debug)]
pub struct Answered {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answered {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Sends `request` to `router` and reads the whole response.
pub async fn send(router: &Router, request: Request<Body>) -> Answered {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("routers never fail");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("reading the body")
        .to_vec();
    Answered {
        status,
        headers,
        body,
    }
}
