//! The schedule of a run: which message comes next, when it is due, and when to stop.
//!
//! Workers take tickets from one [`Schedule`]; ticket `i` of a paced run is due at
//! `start + i / rate`, so the offered rate holds across all sessions whatever the server
//! does, and a worker that fell behind sends at once (latency is measured from the actual
//! send). An unpaced run hands out tickets as fast as workers ask.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Hands out message numbers and their due times.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    interval: Option<Duration>,
    count: Option<u64>,
    end: Option<Instant>,
    next: AtomicU64,
}

impl Schedule {
    /// A schedule from `start`: `rate` messages per second (`None`: no pacing), at most
    /// `count` messages, none after `duration`.
    pub fn new(
        start: Instant,
        rate: Option<f64>,
        count: Option<u64>,
        duration: Option<Duration>,
    ) -> Self {
        Schedule {
            start,
            interval: rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            count,
            end: duration.map(|d| start + d),
            next: AtomicU64::new(0),
        }
    }

    /// When ticket `index` is due (the start for an unpaced run).
    pub fn due(&self, index: u64) -> Instant {
        match self.interval {
            Some(interval) => {
                let nanos = interval.as_nanos().saturating_mul(u128::from(index));
                self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
            None => self.start,
        }
    }

    /// The next ticket and its due time, or `None` once the count is reached or the ticket
    /// would be due after the end.
    pub fn take(&self, now: Instant) -> Option<(u64, Instant)> {
        if self.end.is_some_and(|end| now >= end) {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        if self.count.is_some_and(|count| index >= count) {
            return None;
        }
        let due = self.due(index);
        if self.end.is_some_and(|end| due >= end) {
            return None;
        }
        Some((index, due))
    }

    /// Waits for the next ticket's due time and returns its number, or `None` when the run
    /// is over.
    pub async fn next(&self) -> Option<u64> {
        let (index, due) = self.take(Instant::now())?;
        tokio::time::sleep_until(due).await;
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paced_schedule_spaces_tickets_evenly() {
        let start = Instant::now();
        let schedule = Schedule::new(start, Some(1000.0), Some(5), None);
        let dues: Vec<_> = (0..5).map(|_| schedule.take(start).unwrap()).collect();
        for (i, (index, due)) in dues.iter().enumerate() {
            assert_eq!(*index, i as u64);
            assert_eq!(*due - start, Duration::from_millis(i as u64));
        }
        assert!(schedule.take(start).is_none(), "the count is reached");
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_run_of_a_duration_sends_rate_times_duration() {
        let start = Instant::now();
        let schedule = Schedule::new(start, Some(500.0), None, Some(Duration::from_secs(2)));
        let mut sent = 0;
        while schedule.next().await.is_some() {
            sent += 1;
        }
        assert_eq!(sent, 1000);
        assert!(Instant::now() - start < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unpaced_schedule_is_due_at_once_and_stops_at_the_end() {
        let start = Instant::now();
        let schedule = Schedule::new(start, None, None, Some(Duration::from_secs(1)));
        assert_eq!(schedule.take(start).unwrap(), (0, start));
        assert_eq!(schedule.take(start).unwrap(), (1, start));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(schedule.take(Instant::now()).is_none());
    }
}
