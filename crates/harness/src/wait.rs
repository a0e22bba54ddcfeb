//! Waiting for asynchronous outcomes: [`PATIENCE`], the one bound on how long a test waits
//! for anything, and [`eventually`], which polls a condition until it holds or fails the
//! test naming what it waited for.
//!
//! No test asserts how fast something happens: a passing test waits only as long as its
//! outcome takes, so the bound is generous and only a failing test ever reaches it.
//!
//! ```no_run
//! # async fn demo(bus_up: impl Fn() -> bool, queue_depth: impl AsyncFn() -> u64) {
//! use herald_harness::wait::{eventually, eventually_sync};
//! eventually_sync("the bus is up", || bus_up()).await;
//! eventually("the queue drains", || async { queue_depth().await == 0 }).await;
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

/// How long any one awaited outcome may take before the test fails: generous, since a
/// machine busy with other tests (JetStream electing leaders, etcd compacting) can be slow,
/// and a test that passes never waits it out.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// Polls `condition` until it holds; panics with `what` after [`PATIENCE`].
///
/// # Panics
///
/// When `condition` still does not hold after [`PATIENCE`]: "not within 60s: `what`".
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_some(what, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await;
}

/// [`eventually`] for a condition that needs no `.await` (a counter, a lock, a file).
///
/// # Panics
///
/// When `condition` still does not hold after [`PATIENCE`].
pub async fn eventually_sync(what: &str, mut condition: impl FnMut() -> bool) {
    eventually(what, || std::future::ready(condition())).await;
}

/// Polls `found` until it finds something, and returns it; panics with `what` after
/// [`PATIENCE`].
///
/// # Panics
///
/// When `found` still returns `None` after [`PATIENCE`].
pub async fn eventually_some<T, F, Fut>(what: &str, mut found: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = found().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {PATIENCE:?}: {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_condition_is_polled_until_it_holds() {
        let polls = AtomicUsize::new(0);
        eventually("the third poll", || async {
            polls.fetch_add(1, Ordering::Relaxed) == 2
        })
        .await;
        assert_eq!(polls.load(Ordering::Relaxed), 3);
        let mut left = 2;
        let found = eventually_some("a value", || {
            left -= 1;
            std::future::ready((left == 0).then_some("here"))
        })
        .await;
        assert_eq!(found, "here");
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "not within 60s: the impossible")]
    async fn a_condition_that_never_holds_fails_naming_what_was_awaited() {
        eventually_sync("the impossible", || false).await;
    }
}
