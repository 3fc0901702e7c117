//! Rule calls are awaited on the runtime's threads, a bounded number at a time, and a
//! long-running module yields to the runtime on every deadline-clock tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use rulegate::engine::{EngineError, Executor, Limits, LongCalls};
use rulegate_tests::{cart, engine, limits, load, module};

/// On a single-threaded runtime, a task keeps running while a module spins until its
/// deadline: the module yields on every tick instead of holding the thread.
#[tokio::test(flavor = "current_thread")]
async fn a_stuck_module_does_not_block_the_runtime() {
    let engine = engine();
    let looping = load(&engine, module("infinite-loop"));
    let ticks = Arc::new(AtomicU32::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let executor = Executor::new(1);
    let limits = Limits {
        fuel: None,
        deadline_ms: 300,
        ..limits()
    };
    let cart = cart("EUR", "DE", 1);
    let outcome = executor
        .run(async {
            let mut session = looping.session_async(&limits, &LongCalls::default());
            session.tax(&cart).await.map(|_| ())
        })
        .await
        .unwrap();
    assert!(matches!(outcome, Err(EngineError::Deadline { .. })));
    assert!(
        ticks.load(Ordering::Relaxed) >= 1,
        "the runtime made no progress during the call"
    );
    ticker.abort();
}

#[tokio::test]
async fn at_most_the_configured_number_of_calls_run_at_once() {
    let executor = Executor::new(2);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let calls = (0..8).map(|_| {
        let (executor, running, most) = (executor.clone(), running.clone(), most.clone());
        tokio::spawn(async move {
            executor
                .run(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
                .unwrap()
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "{} calls ran at once",
        most.load(Ordering::SeqCst)
    );
    assert_eq!(most.load(Ordering::SeqCst), 2, "the calls did not overlap");
}

#[tokio::test]
async fn a_panicking_call_is_an_error_not_a_crash() {
    let executor = Executor::new(1);
    let error = executor
        .run(async { panic!("boom") as u32 })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("rule call failed"), "{error}");
    assert_eq!(
        executor.run(async { 7 }).await.unwrap(),
        7,
        "the executor keeps working"
    );
}

/// A module still running after its first tick continues only once it holds a lane; a
/// call that finishes within a tick never needs one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_calls_wait_for_a_lane_and_short_ones_never_do() {
    let engine = engine();
    let looping = load(&engine, module("infinite-loop"));
    let lane = Arc::new(tokio::sync::Semaphore::new(0));
    let limits = Limits {
        fuel: None,
        deadline_ms: 300,
        ..limits()
    };
    let burn = {
        let (looping, lane) = (looping.clone(), lane.clone());
        tokio::spawn(async move {
            let mut session = looping.session_async(&limits, &LongCalls(vec![lane]));
            session.tax(&cart("EUR", "DE", 1)).await.map(|_| ())
        })
    };
    // A well-behaved module answers at once, though no lane is free.
    let good = load(&engine, module("flat-rate"));
    let mut session = good.session_async(&limits, &LongCalls(vec![lane.clone()]));
    assert!(session.tax(&cart("EUR", "DE", 1)).await.unwrap().is_ok());
    // Ungated, the loop would have stopped at its 300 ms deadline by now; it is waiting
    // for a lane instead, using no CPU.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!burn.is_finished(), "the loop ran without a lane");
    lane.add_permits(1);
    let outcome = burn.await.unwrap();
    assert!(
        matches!(outcome, Err(EngineError::Deadline { .. })),
        "{outcome:?}"
    );
}
