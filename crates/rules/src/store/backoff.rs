//! Exponential back-off with jitter for reconnecting to etcd, so that a cluster of nodes
//! that lost etcd together does not come back in lockstep.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Delays that double from `min` to `max`; each is drawn from the upper half of the current
/// step (`[d/2, d]`).
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            current: min,
        }
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.current;
        self.current = (self.current * 2).min(self.max);
        jittered(step, clock_fraction())
    }

    /// Back to the shortest delay (after a success).
    pub(crate) fn reset(&mut self) {
        self.current = self.min;
    }
}

/// `step/2 + step/2 × fraction`, fraction in [0, 1].
fn jittered(step: Duration, fraction: f64) -> Duration {
    let half = step / 2;
    half + half.mul_f64(fraction.clamp(0.0, 1.0))
}

/// A fraction in [0, 1) from the clock's nanoseconds: enough to spread nodes apart,
/// without a random number generator.
fn clock_fraction() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_003) / 1_000_003.0
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
    fn jitter_bounds() {
        let s = Duration::from_secs(2);
        assert_eq!(jittered(s, 0.0), Duration::from_secs(1));
        assert_eq!(jittered(s, 1.0), s);
        assert_eq!(jittered(s, 7.0), s);
    }
}
