//! The carrier health view: which carriers the routing engine should pass over, built from
//! the reports connectors keep in the KV bucket [`HEALTH_BUCKET`].
//!
//! Each connector writes, every `connector.health_interval`, one protobuf
//! [`CarrierHealth`](herald_proto::bus::v1::CarrierHealth) per carrier it serves under
//! `<carrier>.<node>`. A report is **down** when it has no submitting bind up
//! (`binds_up == 0`), or when, out of at least [`MIN_SAMPLE`] submits answered in its
//! interval, the share that failed or timed out (`submits_failed + submits_timed_out`,
//! throttling excluded) reaches `router.unhealthy_error_rate`. A report is **live** for
//! three of its intervals (at least 15 s) after the router received it, mirroring the
//! bucket's max age (which expires entries silently, without a watch event).
//!
//! A carrier is unhealthy when it has at least one live report and every live report is
//! down; a carrier nobody reports on is healthy. The view is rebuilt on every report and
//! every second (for expiries) and swapped atomically; routing reads it without a lock.

use herald_backoff::Backoff;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_nats::jetstream::kv;
use futures::StreamExt as _;
use herald_bus::Bus;
use herald_proto::bus::v1::CarrierHealth as Report;
use herald_rules::routing::UnhealthyCarriers;
use prost::Message as _;
use tokio::time::Instant;

/// The KV bucket of carrier health reports, written by connectors
/// ([`herald_bus::topology::CARRIER_HEALTH_BUCKET`]).
pub use herald_bus::topology::CARRIER_HEALTH_BUCKET as HEALTH_BUCKET;

/// Answered submits below which a report's error rate is not trusted.
pub const MIN_SAMPLE: u64 = 20;

/// The shortest time a report stays live.
const MIN_LIVE: Duration = Duration::from_secs(15);

/// The current set of unhealthy carriers, shared by the pipelines.
#[derive(Clone)]
pub(crate) struct HealthView {
    current: Arc<ArcSwap<UnhealthyCarriers>>,
    error_rate: f64,
}

impl HealthView {
    pub(crate) fn new(error_rate: f64) -> Self {
        HealthView {
            current: Arc::new(ArcSwap::from_pointee(UnhealthyCarriers::default())),
            error_rate,
        }
    }

    /// A cheap guard on the current view, for one decision.
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<UnhealthyCarriers>> {
        self.current.load()
    }

    /// The current view, to keep.
    pub(crate) fn current(&self) -> Arc<UnhealthyCarriers> {
        self.current.load_full()
    }
}

/// Whether one report says its carrier is down.
pub fn report_is_down(report: &Report, unhealthy_error_rate: f64) -> bool {
    if report.binds_up == 0 {
        return true;
    }
    let answered = report
        .submits_ok
        .saturating_add(report.submits_throttled)
        .saturating_add(report.submits_failed)
        .saturating_add(report.submits_timed_out);
    if answered < MIN_SAMPLE {
        return false;
    }
    let failing = report
        .submits_failed
        .saturating_add(report.submits_timed_out);
    failing as f64 / answered as f64 >= unhealthy_error_rate
}

/// The latest report of each (carrier, connector), with when it arrived.
#[derive(Default)]
struct Reports {
    by_key: HashMap<String, (String, bool, Instant, Duration)>,
}

impl Reports {
    fn unhealthy(&self, now: Instant) -> UnhealthyCarriers {
        let mut carriers: HashMap<&str, (bool, bool)> = HashMap::new();
        for (carrier, down, seen, live) in self.by_key.values() {
            if now.duration_since(*seen) > *live {
                continue;
            }
            let (any, all_down) = carriers.entry(carrier).or_insert((false, true));
            *any = true;
            *all_down &= *down;
        }
        UnhealthyCarriers::new(
            carriers
                .into_iter()
                .filter(|(_, (any, all_down))| *any && *all_down)
                .map(|(c, _)| c.to_owned()),
        )
    }
}

/// Opens the bucket, creating it as connectors do if none has yet.
async fn open(bus: &Bus) -> Result<kv::Store, String> {
    let js = bus.jetstream();
    if let Ok(store) = js.get_key_value(HEALTH_BUCKET).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: HEALTH_BUCKET.to_owned(),
        description: "Herald carrier health by carrier and connector".to_owned(),
        history: 1,
        max_age: MIN_LIVE,
        storage: async_nats::jetstream::stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())
}

/// Follows the health bucket forever, keeping `view` current; reconnects after errors.
pub(crate) async fn watch(bus: Bus, view: HealthView) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    let mut reports = Reports::default();
    loop {
        let watch = match open(&bus).await {
            Ok(store) => store
                .watch_with_history(">")
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match watch {
            Ok(mut entries) => {
                backoff.reset();
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tokio::select! {
                        entry = entries.next() => match entry {
                            Some(Ok(entry)) => reports.apply(&entry, view.error_rate),
                            Some(Err(err)) => {
                                tracing::debug!(error = %err, "health watch interrupted");
                                break;
                            }
                            None => break,
                        },
                        _ = tick.tick() => {}
                    }
                    let next = reports.unhealthy(Instant::now());
                    if *view.current.load().as_ref() != next {
                        tracing::info!(down = ?next.down().collect::<Vec<_>>(), "carrier health changed");
                        view.current.store(Arc::new(next));
                    }
                }
            }
            Err(err) => tracing::debug!(error = %err, "health bucket unavailable"),
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

impl Reports {
    fn apply(&mut self, entry: &kv::Entry, error_rate: f64) {
        match entry.operation {
            kv::Operation::Put => match Report::decode(entry.value.as_ref()) {
                Ok(report) => {
                    let carrier = if report.carrier_id.is_empty() {
                        entry.key.split('.').next().unwrap_or_default().to_owned()
                    } else {
                        report.carrier_id.clone()
                    };
                    let live =
                        Duration::from_millis(report.interval_ms.saturating_mul(3)).max(MIN_LIVE);
                    let down = report_is_down(&report, error_rate);
                    self.by_key
                        .insert(entry.key.clone(), (carrier, down, Instant::now(), live));
                }
                Err(err) => tracing::debug!(key = %entry.key, error = %err, "bad health report"),
            },
            kv::Operation::Delete | kv::Operation::Purge => {
                self.by_key.remove(&entry.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(binds_up: u32, ok: u64, failed: u64, timed_out: u64, throttled: u64) -> Report {
        Report {
            carrier_id: "a".into(),
            binds_up,
            submits_ok: ok,
            submits_failed: failed,
            submits_timed_out: timed_out,
            submits_throttled: throttled,
            ..Default::default()
        }
    }

    #[test]
    fn a_report_is_down_without_binds_or_with_many_failures() {
        assert!(report_is_down(&report(0, 100, 0, 0, 0), 0.5));
        assert!(!report_is_down(&report(2, 100, 0, 0, 0), 0.5));
        assert!(report_is_down(&report(2, 10, 5, 5, 0), 0.5));
        assert!(!report_is_down(&report(2, 10, 5, 4, 0), 0.5));
        assert!(
            !report_is_down(&report(2, 0, 5, 5, 0), 0.5),
            "too few to judge"
        );
        assert!(
            !report_is_down(&report(2, 10, 0, 0, 90), 0.5),
            "throttling is not failing"
        );
        assert!(
            !report_is_down(&report(2, 0, 90, 0, 0), 1.5),
            "a threshold above 1 ignores rates"
        );
    }

    #[test]
    fn a_carrier_is_down_only_when_every_live_report_says_so() {
        let now = Instant::now();
        let long = Duration::from_secs(60);
        let mut r = Reports::default();
        r.by_key
            .insert("a.n1".into(), ("a".into(), true, now, long));
        r.by_key
            .insert("a.n2".into(), ("a".into(), false, now, long));
        r.by_key
            .insert("b.n1".into(), ("b".into(), true, now, long));
        let down = r.unhealthy(now);
        assert!(down.down().eq(["b"]), "{down:?}");
        r.by_key
            .insert("a.n2".into(), ("a".into(), false, now, Duration::ZERO));
        let later = now + Duration::from_millis(1);
        let mut down: Vec<&str> = Vec::new();
        let view = r.unhealthy(later);
        down.extend(view.down());
        down.sort_unstable();
        assert_eq!(down, ["a", "b"], "n2's report expired");
    }
}
