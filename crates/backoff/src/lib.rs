//! Exponential back-off with jitter for Herald's reconnect loops: nodes that lost etcd
//! together, binds lost in one carrier restart, pulls that failed in one NATS outage. The
//! jitter keeps them from all coming back in the same instant.
//!
//! ```
//! use std::time::Duration;
//! let mut backoff = herald_backoff::Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
//! let first = backoff.next_delay();
//! assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
//! backoff.reset();
//! ```
#![forbid(unsafe_code)]

use std::time::Duration;

/// Delays that double from `min` to `max`; each is drawn from the upper half of the current
/// step (`[d/2, d]`).
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `min`; `max` below `min` is taken as `min`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            current: min,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.current;
        self.current = (self.current * 2).min(self.max);
        jittered(step, random_fraction())
    }

    /// Back to the shortest delay (after a success).
    pub fn reset(&mut self) {
        self.current = self.min;
    }
}

/// `step/2 + step/2 × fraction`, fraction in [0, 1].
fn jittered(step: Duration, fraction: f64) -> Duration {
    let half = step / 2;
    half + half.mul_f64(fraction.clamp(0.0, 1.0))
}

/// A fraction in [0, 1) from a freshly seeded hasher: enough to spread retries apart
/// without a random number generator.
fn random_fraction() -> f64 {
    (random_u64() % 1_000_003) as f64 / 1_000_003.0
}

/// 64 bits from the process's hash seed, the clock and a counter: not for secrets, enough
/// to tell processes and retries apart.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_within_jitter_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        let mut b = Backoff::new(min, max);
        let mut step = min;
        for _ in 0..10 {
            let d = b.next_delay();
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} not in [{:?}, {step:?}]",
                step / 2
            );
            step = (step * 2).min(max);
        }
        assert_eq!(b.current, max);
        b.reset();
        assert!(b.next_delay() <= min);
    }

    #[test]
    fn jitter_spans_the_upper_half() {
        let step = Duration::from_secs(2);
        assert_eq!(jittered(step, 0.0), Duration::from_secs(1));
        assert_eq!(jittered(step, 1.0), step);
        assert_eq!(jittered(step, 7.0), step);
        let f = random_fraction();
        assert!((0.0..1.0).contains(&f));
    }
}
