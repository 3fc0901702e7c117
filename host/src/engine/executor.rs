//! Bounds how many rule calls run at once. Calls are awaited where they are made, on
//! the server's own threads (a module yields on every deadline-clock tick), so there is
//! no hand-off to another thread; the bound keeps the instance pool from being
//! oversubscribed and leaves the runtime room for I/O.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;

/// Bounded execution of rule calls.
#[derive(Debug, Clone)]
pub struct Executor {
    permits: Arc<Semaphore>,
}

impl Executor {
    /// An executor running at most `concurrency` calls at once.
    pub fn new(concurrency: usize) -> Self {
        Executor {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// One call per available core: rule calls are CPU-bound.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Awaits `work` once a slot is free and returns its result. A panic in `work` is
    /// returned as an error rather than propagated.
    pub async fn run<F: Future>(&self, work: F) -> anyhow::Result<F::Output> {
        let _permit = self.permits.clone().acquire_owned().await?;
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
