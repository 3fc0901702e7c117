//! Bounds rule calls. Calls are awaited where they are made, on the server's own
//! threads, so there is no hand-off to another thread. Two bounds: sessions in flight
//! (each holds a pooled instance, so the pool is never oversubscribed), and long calls:
//! a module still running after its first deadline-clock tick continues only while it
//! holds a lane, so modules that run long share a bounded part of the CPU and calls that
//! finish within a tick (nearly all of them) never wait for one.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;

/// Bounded execution of rule calls.
#[derive(Debug, Clone)]
pub struct Executor {
    /// One permit per session in flight.
    sessions: Arc<Semaphore>,
    /// The process's long-call lane.
    long_call_lane: Arc<Semaphore>,
}

/// The lanes a call must hold to keep running past its first deadline-clock tick: all
/// of them, acquired in order (for example the tenant's, then the process's).
#[derive(Debug, Clone, Default)]
pub struct LongCalls(pub Vec<Arc<Semaphore>>);

impl Executor {
    /// An executor with at most `sessions` sessions in flight and as many long calls.
    pub fn new(sessions: usize) -> Self {
        Self::with_lanes(sessions, sessions)
    }

    /// At most `sessions` sessions in flight, of which `long_calls` may run past a tick.
    pub fn with_lanes(sessions: usize, long_calls: usize) -> Self {
        Executor {
            sessions: Arc::new(Semaphore::new(sessions.max(1))),
            long_call_lane: Arc::new(Semaphore::new(long_calls.max(1))),
        }
    }

    /// The server's executor: up to `max_instances` sessions in flight (the instance
    /// pool's size), and long calls on every core but one, so modules that run long
    /// always leave a core to the rest.
    pub fn for_server(max_instances: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_lanes(max_instances, cores.saturating_sub(1))
    }

    /// The process-wide long-call lane.
    pub fn long_call_lane(&self) -> Arc<Semaphore> {
        self.long_call_lane.clone()
    }

    /// Awaits `work` once a slot is free and returns its result. A panic in `work` is
    /// returned as an error rather than propagated.
    pub async fn run<F: Future>(&self, work: F) -> anyhow::Result<F::Output> {
        let _permit = self.sessions.clone().acquire_owned().await?;
        CatchPanic(Box::pin(work)).await
    }
}

/// Turns a panic while polling the inner future into an error.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = anyhow::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(context))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                Poll::Ready(Err(anyhow::anyhow!("rule call failed: {message}")))
            }
        }
    }
}
