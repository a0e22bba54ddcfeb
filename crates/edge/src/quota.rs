//! Rate limits enforced across every edge: an account's (`quota`, over all its sessions)
//! and a route's (`quota`, over every account's messages it takes).
//!
//! Two halves, both lock-free on the common path:
//!
//! - [`RateLimiter`], local to this edge: a token bucket with the account's rate and
//!   burst, as the generic cell rate algorithm (GCRA) on one atomic. It shapes bursts.
//!   Unlike a minimum gap between messages (the complaint against Jasmin, #648), a
//!   windowed client gets its full average rate.
//! - [`ClusterQuota`], shared by the cluster: each second (Unix time) has a counter per
//!   account in the bus's `herald_quota` bucket. An edge takes tokens from it in chunks
//!   of 2% of the limit and spends them from one atomic; only when its chunk is spent
//!   does it go back to the bucket (one compare-and-swap). Across all edges the
//!   accepted count of a second is at most the limit, and at least the limit minus
//!   one unspent chunk per edge.
//!
//! If the bus cannot be asked, or does not answer within [`COUNTER_WAIT`] (a NATS
//! server's loss leaves the bucket without a leader for seconds), the local bucket alone
//! decides, for the rest of that second and the next: one slow answer per account and
//! failure, not one per message, and no submit waits the whole election out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herald_bus::RateCounters;

/// How long a refill waits for the cluster's counter before the local limit decides.
pub const COUNTER_WAIT: Duration = Duration::from_millis(250);

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

/// One limit on this edge (an account's or a route's): the local bucket, then the
/// cluster's per-second count.
#[derive(Debug)]
pub struct ClusterQuota {
    /// Its counter's key: the account id, or `route/<id>` (no account id has a `/`).
    key: String,
    tps: u32,
    local: RateLimiter,
    /// `second << 32 | tokens left` of the chunk this edge holds.
    chunk: AtomicU64,
    /// The last second (Unix) decided by the local limit alone after the counter failed.
    local_until: AtomicU64,
    refill: tokio::sync::Mutex<()>,
}

impl ClusterQuota {
    /// The quota of `account`: `tps` a second cluster-wide, bursts of `burst`.
    pub fn new(account: impl Into<String>, tps: u32, burst: u32) -> Self {
        ClusterQuota {
            key: account.into(),
            tps,
            local: RateLimiter::new(tps, burst),
            chunk: AtomicU64::new(0),
            local_until: AtomicU64::new(0),
            refill: tokio::sync::Mutex::new(()),
        }
    }

    /// The quota of route `id`: `tps` a second cluster-wide, bursts of `burst`.
    pub fn route(id: &str, tps: u32, burst: u32) -> Self {
        Self::new(format!("route/{id}"), tps, burst)
    }

    /// The rate of `account`'s webhook: `per_second` posts a second cluster-wide.
    pub fn webhook(account: &str, per_second: u32) -> Self {
        Self::new(format!("webhook/{account}"), per_second, per_second.max(1))
    }

    /// Admits one message accepted at `now` (its second is the one it counts against),
    /// or says it is over the rate.
    pub async fn try_acquire(&self, counters: Option<&RateCounters>, now: SystemTime) -> bool {
        if !self.local.try_acquire() {
            return false;
        }
        let Some(counters) = counters else {
            return true;
        };
        let second = unix_second(now);
        if self.spend(second) || second <= self.local_until.load(Ordering::Relaxed) {
            return true;
        }
        // One refill at a time per account; the others wait for it, then spend.
        let _refilling = self.refill.lock().await;
        if self.spend(second) {
            return true;
        }
        let want = (self.tps / 50).max(1);
        let taken = tokio::time::timeout(
            COUNTER_WAIT,
            counters.take(&self.key, second, want, self.tps),
        )
        .await
        .unwrap_or_else(|_| Err(herald_bus::BusError::Nats("no answer in time".into())));
        match taken {
            Ok(0) => false,
            Ok(granted) => {
                // One of the granted tokens is this message's.
                self.chunk
                    .store(second << 32 | u64::from(granted - 1), Ordering::Release);
                true
            }
            Err(err) => {
                self.local_until.store(second + 1, Ordering::Relaxed);
                tracing::warn!(quota = %self.key, error = %err, "rate counters unavailable; local limit only until the next second");
                true
            }
        }
    }

    fn spend(&self, second: u64) -> bool {
        let mut current = self.chunk.load(Ordering::Acquire);
        loop {
            if current >> 32 != second || current & 0xFFFF_FFFF == 0 {
                return false;
            }
            match self.chunk.compare_exchange_weak(
                current,
                current - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }
}

fn unix_second(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) & 0xFFFF_FFFF
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
