//! The per-account rate limit: a token bucket with a sustained rate and a burst.
//!
//! The bucket is the generic cell rate algorithm (GCRA) on one atomic: the "theoretical
//! arrival time" of the next message. A check is one load and one compare-and-swap, no
//! lock, so every session of an account on this edge shares one limiter without
//! contending. Unlike a minimum gap between messages (the complaint against Jasmin,
//! #648), a windowed client gets its full average rate: up to `burst` may go at once.
//!
//! This limiter is per edge: the account's whole limit applies on each edge its sessions
//! are bound to. Enforcing the limit across edges is the next step (see docs/edge.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A lock-free token bucket.
#[derive(Debug)]
pub struct RateLimiter {
    /// Nanoseconds per message at the sustained rate.
    interval_ns: u64,
    /// How far ahead of now the theoretical arrival time may run: `(burst - 1) * interval`.
    tolerance_ns: u64,
    /// Theoretical arrival time, in nanoseconds since `origin`.
    tat_ns: AtomicU64,
    origin: Instant,
}

impl RateLimiter {
    /// A limiter of `per_second` messages a second with bursts of up to `burst`.
    /// A rate of 0 admits nothing.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval_ns = if per_second == 0 {
            u64::MAX
        } else {
            1_000_000_000 / u64::from(per_second)
        };
        RateLimiter {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(u64::from(burst.max(1) - 1)),
            tat_ns: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    /// Takes one token as if the clock read `now` (tests).
    pub fn try_acquire_at(&self, now: Instant) -> bool {
        if self.interval_ns == u64::MAX {
            return false;
        }
        let now_ns = u64::try_from(now.saturating_duration_since(self.origin).as_nanos())
            .unwrap_or(u64::MAX);
        let mut tat = self.tat_ns.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now_ns);
            if start - now_ns > self.tolerance_ns {
                return false;
            }
            match self.tat_ns.compare_exchange_weak(
                tat,
                start + self.interval_ns,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }

    /// The sustained rate's interval between messages.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_goes_at_once_then_the_sustained_rate_applies() {
        let limiter = RateLimiter::new(100, 10);
        let t0 = limiter.origin;
        let admitted = (0..50).filter(|_| limiter.try_acquire_at(t0)).count();
        assert_eq!(admitted, 10, "the burst");
        // 100 ms later, 10 more tokens have come back.
        let t1 = t0 + Duration::from_millis(100);
        let admitted = (0..50).filter(|_| limiter.try_acquire_at(t1)).count();
        assert_eq!(admitted, 10);
    }

    #[test]
    fn over_a_long_run_the_rate_is_the_limit() {
        let limiter = RateLimiter::new(250, 25);
        let t0 = limiter.origin;
        // A client offering 1,000 a second for 10 s, in windows of 10 every 10 ms.
        let mut admitted = 0;
        for tick in 0..1000u64 {
            let now = t0 + Duration::from_millis(tick * 10);
            admitted += (0..10).filter(|_| limiter.try_acquire_at(now)).count();
        }
        // 10 s at 250/s, plus the initial burst.
        assert!((2500..=2525).contains(&admitted), "{admitted}");
    }

    #[test]
    fn zero_admits_nothing() {
        assert!(!RateLimiter::new(0, 10).try_acquire());
    }
}
