//! An account's cluster-wide quota when its counter bucket cannot answer (a NATS server's
//! loss leaves the bucket without a leader for seconds): the local limit decides, and the
//! bucket is asked once, not once per message. A binary of its own: the metrics recorder
//! is per process.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::SystemTime;

use herald_bus::{Bus, BusConfig};
use herald_edge::quota::ClusterQuota;

/// How often the quota bucket has been read (`entry`), from the process's metrics.
fn quota_reads(metrics: &herald_telemetry::MetricsHandle) -> f64 {
    metrics
        .render()
        .lines()
        .filter(|line| line.starts_with("herald_bus_kv_operations_total{"))
        .filter(|line| line.contains("bucket=\"herald_quota\"") && line.contains("op=\"entry\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn with_the_counter_unreachable_the_local_limit_decides_and_the_bucket_is_asked_once() {
    let metrics = herald_telemetry::install_metrics().unwrap();
    let mut nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let counters = bus.rate_counters().await.unwrap();
    // 100/s: chunks of 2 from the bucket; a local burst of 100.
    let quota = ClusterQuota::new("acme", 100, 100);
    let now = SystemTime::now();
    assert!(quota.try_acquire(Some(&counters), now).await);
    assert!(
        quota.try_acquire(Some(&counters), now).await,
        "the chunk's second token"
    );
    assert_eq!(quota_reads(&metrics), 1.0, "one chunk taken");

    nats.kill().await;
    for _ in 0..20 {
        assert!(
            quota.try_acquire(Some(&counters), now).await,
            "the local limit admits what it has tokens for"
        );
    }
    assert_eq!(
        quota_reads(&metrics),
        2.0,
        "one refill tried and given up on; the rest of the second decided locally"
    );
    // The local limit still limits: its burst of 100 is spent within the same instant.
    let admitted = offer(&quota, &counters, now, 200).await;
    assert!(admitted < 100, "{admitted} admitted past the local burst");
}

async fn offer(
    quota: &ClusterQuota,
    counters: &herald_bus::RateCounters,
    now: SystemTime,
    offered: usize,
) -> usize {
    let mut admitted = 0;
    for _ in 0..offered {
        if quota.try_acquire(Some(counters), now).await {
            admitted += 1;
        }
    }
    admitted
}
