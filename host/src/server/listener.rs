//! The HTTP/1.1 connection loop under every listener, with the limits a server on the
//! internet needs: a deadline for a request's headers (slow-loris clients), a cap on
//! header count and size (431), a JSON body on the refusals hyper makes itself (see
//! `unparsed`), a deadline for the whole request, and a bounded
//! graceful shutdown: stop accepting, let in-flight requests finish within the grace
//! period, then close what is left.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::unparsed::Unparsed;

/// The `[http]` table: limits of every listener.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Time a client has to send a request's headers.
    #[serde(default = "ten_seconds")]
    pub header_timeout_ms: u64,
    /// Time a whole request may take, body and answer included (408 after it).
    #[serde(default = "thirty_seconds")]
    pub request_timeout_ms: u64,
    /// Time in-flight requests get to finish after SIGTERM or SIGINT.
    #[serde(default = "ten_seconds")]
    pub shutdown_grace_ms: u64,
    /// Most headers in a request.
    #[serde(default = "sixty_four")]
    pub max_headers: usize,
    /// Most bytes of request line and headers (431 beyond).
    #[serde(default = "sixteen_kib")]
    pub max_header_bytes: usize,
}

fn ten_seconds() -> u64 {
    10_000
}
fn thirty_seconds() -> u64 {
    30_000
}
fn sixty_four() -> usize {
    64
}
fn sixteen_kib() -> usize {
    16 << 10
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            header_timeout_ms: ten_seconds(),
            request_timeout_ms: thirty_seconds(),
            shutdown_grace_ms: ten_seconds(),
            max_headers: sixty_four(),
            max_header_bytes: sixteen_kib(),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` becomes true, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: HttpSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let (closing, _) = watch::channel(false);
    let mut connections = JoinSet::new();
    let stop = async move {
        // The guard `wait_for` returns is dropped here, not held across the loop.
        let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(router.clone());
                let mut closed = closing.subscribe();
                connections.spawn(async move {
                    let mut builder = http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_millis(settings.header_timeout_ms))
                        // The configured limits are enforced in `refusals::limits`,
                        // which answers with a JSON body; hyper's own, several times
                        // larger, only cut off what that layer would never see.
                        .max_headers(settings.max_headers.saturating_mul(4))
                        .max_buf_size(settings.max_header_bytes.saturating_mul(4).max(8192));
                    let connection =
                        builder.serve_connection(TokioIo::new(Unparsed::new(stream)), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = closed.changed() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut stop => break,
        }
    }
    drop(listener);
    let _ = closing.send(true);
    let open = connections.len();
    let grace = Duration::from_millis(settings.shutdown_grace_ms);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!(connections = open, "in-flight requests finished"),
        Err(_) => {
            tracing::warn!(
                still_open = connections.len(),
                grace_ms = settings.shutdown_grace_ms,
                "closing connections still open after the grace period"
            );
            connections.abort_all();
        }
    }
}
