//! Latencies, percentiles and the end-of-run report (human-readable or JSON).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::config::LoadConfig;

/// Recorded latencies; percentiles by the nearest-rank method on the sorted values.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    values: Vec<Duration>,
    sorted: bool,
}

impl Latencies {
    /// Room for `n` values.
    pub fn with_capacity(n: usize) -> Self {
        Latencies {
            values: Vec::with_capacity(n),
            sorted: true,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, value: Duration) {
        self.values.push(value);
        self.sorted = false;
    }

    /// Takes in another set.
    pub fn merge(&mut self, other: Latencies) {
        self.values.extend(other.values);
        self.sorted = false;
    }

    /// How many were recorded.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The `q` quantile (0 < q ≤ 1): the smallest value with at least `q` of all values at
    /// or below it. `None` when empty.
    pub fn quantile(&mut self, q: f64) -> Option<Duration> {
        if self.values.is_empty() {
            return None;
        }
        if !self.sorted {
            self.values.sort_unstable();
            self.sorted = true;
        }
        let n = self.values.len();
        // Nearest rank: ceil(q·n), 1-based, clamped to the valid ranks.
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        self.values.get(rank - 1).copied()
    }

    /// p50, p90, p99 and max in milliseconds.
    pub fn summary(&mut self) -> LatencySummary {
        let ms = |d: Option<Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        LatencySummary {
            count: self.values.len() as u64,
            p50_ms: ms(self.quantile(0.50)),
            p90_ms: ms(self.quantile(0.90)),
            p99_ms: ms(self.quantile(0.99)),
            max_ms: ms(self.quantile(1.0)),
        }
    }
}

/// Percentiles of one latency, in milliseconds (all 0 when nothing was recorded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// How many values.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

/// What a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The settings it ran with (the password left out).
    pub config: LoadConfig,
    /// Messages started (a long message counts once).
    pub messages: u64,
    /// `submit_sm` PDUs sent (each segment of a long message counts).
    pub submits: u64,
    /// Submits answered `ESME_ROK`.
    pub submits_ok: u64,
    /// Submits that failed: answered with an error status, timed out or lost with the
    /// session.
    pub submit_errors: u64,
    /// Failures by `command_status` name (`ESME_RTHROTTLED`), or `timeout` / `closed`.
    pub errors: BTreeMap<String, u64>,
    /// Seconds from the first submit to the last response.
    pub submit_seconds: f64,
    /// Submits answered OK per second over `submit_seconds`.
    pub submit_rate: f64,
    /// `submit_sm_resp` latency (every answered submit, whatever its status).
    pub submit_latency: LatencySummary,
    /// Receipts expected (submits answered OK, when receipts were asked for).
    pub receipts_expected: u64,
    /// Receipts matched to a submit of this run.
    pub receipts: u64,
    /// Receipts whose id matched no submit of this run, and repeats of a matched one.
    pub receipts_unmatched: u64,
    /// Seconds from the first submit to the last matched receipt.
    pub receipt_seconds: f64,
    /// Matched receipts per second over `receipt_seconds`: the end-to-end rate.
    pub receipt_rate: f64,
    /// Submit sent → receipt arrived.
    pub receipt_latency: LatencySummary,
    /// Submits answered OK whose receipt did not arrive within the grace period.
    pub lost: u64,
}

impl Report {
    /// `submits / seconds`, or 0 for an empty interval.
    pub fn rate(count: u64, seconds: f64) -> f64 {
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let rate = match c.rate {
            crate::config::Rate::Unlimited => "as fast as possible".to_owned(),
            crate::config::Rate::PerSecond(r) => format!("{r} msg/s offered"),
        };
        writeln!(
            f,
            "herald-load: {}:{}{} as {}, {} session(s) × window {}, {rate}, mix {}",
            c.host,
            c.port,
            c.also.iter().map(|t| format!(", {t}")).collect::<String>(),
            c.system_id,
            c.sessions,
            c.window,
            c.mix
        )?;
        writeln!(
            f,
            "  submits    {} sent ({} messages), {} OK, {} failed in {:.2} s: {:.0} msg/s",
            self.submits,
            self.messages,
            self.submits_ok,
            self.submit_errors,
            self.submit_seconds,
            self.submit_rate
        )?;
        let s = &self.submit_latency;
        writeln!(
            f,
            "  resp       p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
        )?;
        if c.registered_delivery {
            let r = &self.receipt_latency;
            writeln!(
                f,
                "  receipts   {} of {} in {:.2} s: {:.0} msg/s end to end; {} unmatched",
                self.receipts,
                self.receipts_expected,
                self.receipt_seconds,
                self.receipt_rate,
                self.receipts_unmatched
            )?;
            writeln!(
                f,
                "  e2e        p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                r.p50_ms, r.p99_ms, r.max_ms
            )?;
            writeln!(
                f,
                "  loss       {} (no receipt {:.1} s after the last submit)",
                self.lost,
                c.grace.as_secs_f64()
            )?;
        }
        if self.errors.is_empty() {
            write!(f, "  errors     none")
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            write!(f, "  errors     {}", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        assert_eq!(l.quantile(0.5), None);
        for v in (1..=100).rev() {
            l.record(ms(v));
        }
        assert_eq!(l.quantile(0.50), Some(ms(50)));
        assert_eq!(l.quantile(0.90), Some(ms(90)));
        assert_eq!(l.quantile(0.99), Some(ms(99)));
        assert_eq!(l.quantile(1.0), Some(ms(100)));
        assert_eq!(l.quantile(0.0), Some(ms(1)));
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((s.p99_ms - 99.0).abs() < 1e-9);
    }

    #[test]
    fn small_sets_and_merges() {
        let mut l = Latencies::default();
        l.record(ms(7));
        assert_eq!(l.quantile(0.99), Some(ms(7)));
        let mut other = Latencies::with_capacity(2);
        other.record(ms(1));
        other.record(ms(3));
        l.merge(other);
        assert_eq!(l.len(), 3);
        assert_eq!(l.quantile(0.5), Some(ms(3)));
        assert_eq!(l.quantile(0.34), Some(ms(3)));
        assert_eq!(l.quantile(0.33), Some(ms(1)));
        assert_eq!(Latencies::default().summary(), LatencySummary::default());
    }

    #[test]
    fn rates_and_rendering() {
        assert_eq!(Report::rate(30_000, 1.5), 20_000.0);
        assert_eq!(Report::rate(5, 0.0), 0.0);
        let report = Report {
            config: LoadConfig::default(),
            messages: 10,
            submits: 10,
            submits_ok: 9,
            submit_errors: 1,
            errors: [("ESME_RTHROTTLED".to_owned(), 1)].into(),
            submit_seconds: 1.0,
            submit_rate: 9.0,
            submit_latency: LatencySummary::default(),
            receipts_expected: 9,
            receipts: 8,
            receipts_unmatched: 0,
            receipt_seconds: 2.0,
            receipt_rate: 4.0,
            receipt_latency: LatencySummary::default(),
            lost: 1,
        };
        let text = report.to_string();
        assert!(text.contains("ESME_RTHROTTLED 1"), "{text}");
        assert!(text.contains("loss       1"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["lost"], 1);
        assert_eq!(json["errors"]["ESME_RTHROTTLED"], 1);
        assert!(json["config"].get("password").is_none());
    }
}
