//! Runs rule calls off the async executor: a blocking thread per call, at most a fixed
//! number at once, so a slow module cannot stall the server's I/O and the instance pool
//! is never oversubscribed.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Bounded execution of blocking rule calls.
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

    /// Runs `work` on a blocking thread once a slot is free and returns its result.
    /// A panic in `work` is returned as an error rather than propagated.
    pub async fn run<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self.permits.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|error| anyhow::anyhow!("rule call failed: {error}"))
    }
}
