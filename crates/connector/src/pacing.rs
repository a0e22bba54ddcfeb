//! How fast the connector sends to a carrier: a window per bind and a token bucket per
//! carrier, both backing off when the carrier throttles and recovering gradually (AIMD:
//! additive increase, multiplicative decrease).
//!
//! - [`Window`]: outstanding submits allowed on one bind. Starts at the carrier's window;
//!   a throttling answer (`ESME_RTHROTTLED`, `ESME_RMSGQFUL`) halves it (at most once per
//!   [`COOL_DOWN`], since the answers to one burst arrive together); each accepted submit
//!   adds `1 / window`, so the window grows by about one per window's worth of successes.
//! - [`SendRate`]: this connector's share of the carrier's TPS (see `docs/connector.md`:
//!   `tps × slots held here / binds`) times a factor in `[MIN_FACTOR, 1]`. A throttling
//!   answer halves the factor (once per cool-down); after a cool-down without one it grows
//!   back linearly by [`RECOVERY_PER_SECOND`].
//!
//! - A carrier that reports its load (SMPP 5.0 `congestion_state` in its answers) is slowed
//!   before it throttles: from [`NEARING_CONGESTION`] (90, "nearing congestion") an
//!   accepted submit counts as a throttle for both; from [`OPTIMUM_LOAD`] (80, "optimum
//!   load") the window stops growing.
//!
//! Both are plain values owned by the carrier's sending task: no locks, and time is passed
//! in, so tests drive them with any clock.

use std::time::Duration;

use tokio::time::Instant;

/// `congestion_state` from which an accepted submit slows the sender as a throttle does.
pub const NEARING_CONGESTION: u8 = 90;
/// `congestion_state` from which the window stops growing.
pub const OPTIMUM_LOAD: u8 = 80;

/// Throttling answers within this long of a decrease do not decrease again.
pub const COOL_DOWN: Duration = Duration::from_secs(1);
/// The lowest rate factor: the connector never stops sending altogether.
pub const MIN_FACTOR: f64 = 1.0 / 64.0;
/// How much of the full rate comes back per second without throttling.
pub const RECOVERY_PER_SECOND: f64 = 0.1;

/// The window of one bind.
#[derive(Clone, Debug)]
pub struct Window {
    max: u32,
    current: f64,
    last_decrease: Option<Instant>,
}

impl Window {
    /// A window at its maximum.
    pub fn new(max: u32) -> Window {
        let max = max.max(1);
        Window {
            max,
            current: f64::from(max),
            last_decrease: None,
        }
    }

    /// Outstanding submits allowed now (at least 1).
    pub fn limit(&self) -> u32 {
        (self.current.floor() as u32).clamp(1, self.max)
    }

    /// The carrier's window (the ceiling).
    pub fn max(&self) -> u32 {
        self.max
    }

    /// An accepted submit: grow by `1 / window`.
    pub fn on_success(&mut self) {
        self.current = (self.current + 1.0 / self.current.max(1.0)).min(f64::from(self.max));
    }

    /// An accepted submit whose answer said the carrier's `congestion_state`: grow below
    /// [`OPTIMUM_LOAD`], hold up to [`NEARING_CONGESTION`], decrease as a throttle from it.
    pub fn on_accepted(&mut self, congestion: Option<u8>, now: Instant) {
        match congestion {
            Some(state) if state >= NEARING_CONGESTION => self.on_throttle(now),
            Some(state) if state >= OPTIMUM_LOAD => {}
            _ => self.on_success(),
        }
    }

    /// A throttling answer: halve, unless halved within the cool-down.
    pub fn on_throttle(&mut self, now: Instant) {
        if self
            .last_decrease
            .is_some_and(|at| now.saturating_duration_since(at) < COOL_DOWN)
        {
            return;
        }
        self.current = (self.current / 2.0).max(1.0);
        self.last_decrease = Some(now);
    }

    /// The carrier's window changed.
    pub fn set_max(&mut self, max: u32) {
        self.max = max.max(1);
        self.current = self.current.min(f64::from(self.max));
    }
}

/// A token bucket over this connector's share of a carrier's TPS, with the AIMD factor.
#[derive(Clone, Debug)]
pub struct SendRate {
    share_tps: f64,
    share_burst: f64,
    factor: f64,
    tokens: f64,
    at: Instant,
    last_decrease: Option<Instant>,
}

impl SendRate {
    /// A full bucket at `tps` with room for `burst`.
    pub fn new(tps: f64, burst: f64, now: Instant) -> SendRate {
        let burst = burst.max(1.0);
        SendRate {
            share_tps: tps.max(0.001),
            share_burst: burst,
            factor: 1.0,
            tokens: burst,
            at: now,
            last_decrease: None,
        }
    }

    /// Changes the share (slots moved, or the carrier's TPS changed).
    pub fn set_share(&mut self, tps: f64, burst: f64, now: Instant) {
        self.refill(now);
        self.share_tps = tps.max(0.001);
        self.share_burst = burst.max(1.0);
        self.tokens = self.tokens.min(self.capacity());
    }

    /// The rate allowed now, in submits per second.
    pub fn rate(&self) -> f64 {
        self.share_tps * self.factor
    }

    /// The current factor in `[MIN_FACTOR, 1]`.
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// Takes a token, or says when the next one will be there.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Instant> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.rate();
        Err(now + Duration::from_secs_f64(wait.clamp(0.0001, 60.0)))
    }

    /// An accepted submit whose answer said the carrier's `congestion_state`: from
    /// [`NEARING_CONGESTION`] it slows the rate as a throttle does.
    pub fn on_accepted(&mut self, congestion: Option<u8>, now: Instant) {
        if congestion.is_some_and(|state| state >= NEARING_CONGESTION) {
            self.on_throttle(now);
        }
    }

    /// A throttling answer: halve the factor (once per cool-down) and empty the bucket.
    pub fn on_throttle(&mut self, now: Instant) {
        self.refill(now);
        if self
            .last_decrease
            .is_some_and(|at| now.saturating_duration_since(at) < COOL_DOWN)
        {
            return;
        }
        self.factor = (self.factor / 2.0).max(MIN_FACTOR);
        self.tokens = self.tokens.min(1.0);
        self.last_decrease = Some(now);
    }

    fn capacity(&self) -> f64 {
        (self.share_burst * self.factor).max(1.0)
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        // Recovery starts a cool-down after the last decrease, at a steady pace.
        if self.factor < 1.0 {
            let recovering_since = self.last_decrease.map_or(0.0, |at| {
                let since = now.saturating_duration_since(at).saturating_sub(COOL_DOWN);
                since.as_secs_f64()
            });
            let step = elapsed.min(recovering_since) * RECOVERY_PER_SECOND;
            self.factor = (self.factor + step).min(1.0);
        }
        self.tokens = (self.tokens + elapsed * self.rate()).min(self.capacity());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carrier_nearing_congestion_slows_the_rate_as_a_throttle_does() {
        let t0 = Instant::now();
        let mut r = SendRate::new(100.0, 100.0, t0);
        r.on_accepted(Some(85), t0);
        r.on_accepted(None, t0);
        assert!(
            (r.rate() - 100.0).abs() < 1e-9,
            "optimum load or none: unchanged"
        );
        r.on_accepted(Some(95), t0);
        assert!((r.rate() - 50.0).abs() < 1e-9, "nearing congestion: halved");
        r.on_accepted(Some(100), t0 + COOL_DOWN / 2);
        assert!((r.rate() - 50.0).abs() < 1e-9, "once per cool-down");
    }

    #[test]
    fn a_carriers_congestion_state_grows_holds_or_shrinks_the_window() {
        let now = Instant::now();
        let mut window = Window::new(10);
        window.on_throttle(now);
        assert_eq!(window.limit(), 5);
        let later = now + COOL_DOWN * 2;
        for _ in 0..5 {
            window.on_accepted(Some(85), later);
        }
        assert_eq!(window.limit(), 5, "optimum load: held");
        for _ in 0..6 {
            window.on_accepted(Some(10), later);
        }
        assert_eq!(window.limit(), 6, "light load: grows as on success");
        window.on_accepted(Some(95), later);
        assert_eq!(
            window.limit(),
            3,
            "nearing congestion: halved as a throttle"
        );
        window.on_accepted(Some(100), later);
        assert_eq!(window.limit(), 3, "once per cool-down, as throttles");
        window.on_accepted(None, later + COOL_DOWN * 2);
        assert_eq!(window.limit(), 3, "no state: grows by 1/window");
    }

    #[tokio::test(start_paused = true)]
    async fn window_halves_once_per_cool_down_and_grows_back() {
        let t0 = Instant::now();
        let mut w = Window::new(10);
        assert_eq!(w.limit(), 10);
        w.on_throttle(t0);
        w.on_throttle(t0 + Duration::from_millis(10));
        assert_eq!(w.limit(), 5);
        w.on_throttle(t0 + COOL_DOWN * 2);
        assert_eq!(w.limit(), 2);
        for _ in 0..3 {
            w.on_throttle(t0 + COOL_DOWN * 3 + Duration::from_secs(1));
        }
        assert_eq!(w.limit(), 1);
        // Additive increase: about one per window's worth of successes.
        let mut oks = 0;
        while w.limit() < 10 {
            w.on_success();
            oks += 1;
        }
        assert!((40..=60).contains(&oks), "{oks}");
        w.on_success();
        assert_eq!(w.limit(), 10);
        w.set_max(4);
        assert_eq!(w.limit(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_spends_its_burst_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut r = SendRate::new(10.0, 5.0, t0);
        for _ in 0..5 {
            assert!(r.try_take(t0).is_ok());
        }
        let next = r.try_take(t0).unwrap_err();
        assert_eq!(next - t0, Duration::from_millis(100));
        assert!(r.try_take(next).is_ok());
        assert!(r.try_take(next).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_it_recovers_after_the_cool_down() {
        let t0 = Instant::now();
        let mut r = SendRate::new(100.0, 100.0, t0);
        r.on_throttle(t0);
        r.on_throttle(t0 + Duration::from_millis(500));
        assert_eq!(r.factor(), 0.5);
        assert_eq!(r.rate(), 50.0);
        // Nothing comes back during the cool-down.
        let _ = r.try_take(t0 + COOL_DOWN);
        assert_eq!(r.factor(), 0.5);
        // Then RECOVERY_PER_SECOND per second.
        let _ = r.try_take(t0 + COOL_DOWN + Duration::from_secs(2));
        assert!((r.factor() - 0.7).abs() < 1e-9, "{}", r.factor());
        let _ = r.try_take(t0 + COOL_DOWN + Duration::from_secs(60));
        assert_eq!(r.factor(), 1.0);
        for i in 0..20 {
            r.on_throttle(t0 + COOL_DOWN * (100 + i));
        }
        assert_eq!(r.factor(), MIN_FACTOR);
    }

    #[tokio::test(start_paused = true)]
    async fn a_smaller_share_caps_the_bucket() {
        let t0 = Instant::now();
        let mut r = SendRate::new(100.0, 100.0, t0);
        r.set_share(25.0, 25.0, t0);
        let taken = (0..100).take_while(|_| r.try_take(t0).is_ok()).count();
        assert_eq!(taken, 25);
    }
}
