//! Subscriber opt-outs at scale: writing N opt-outs to the `herald_opt_outs` bucket on a
//! real `nats-server`, loading them into a router's in-memory set (time and resident
//! memory), and the per-message check against that set.
//!
//! `HERALD_BENCH_OPT_OUTS` numbers (default 1,000,000) over 10 accounts, a tenth of them
//! scoped to a short code. Prints: writes/s, load time, RSS growth per million opt-outs,
//! and the check's ns for an opted-out number, a number of an account with opt-outs that
//! is not one, and an account without any.
//!
//! `cargo bench -p herald-benches --bench opt_outs`

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use herald_bus::{Bus, BusConfig, OptOutScope};
use herald_proto::bus::v1::OptOut;

const ACCOUNTS: usize = 10;
const IN_FLIGHT: usize = 512;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn number(i: usize) -> String {
    format!("44770{i:07}")
}

fn account(i: usize) -> String {
    format!("account-{}", i % ACCOUNTS)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn run() {
    let count: usize = std::env::var("HERALD_BENCH_OPT_OUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let store = bus.opt_outs().await.unwrap();
    let record = OptOut {
        opted_out: true,
        at_unix_ms: 1_764_115_200_000,
        by: "operator:bench".into(),
        note: "import".into(),
    };

    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let (store, record) = (&store, &record);
            async move {
                let scope = if i % 10 == 0 {
                    OptOutScope::Sender("80080")
                } else {
                    OptOutScope::Account
                };
                store
                    .record(&account(i), scope, &number(i), record)
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<()>()
        .await;
    let written = started.elapsed();
    println!(
        "opt_outs/write: {count} opt-outs in {:.1} s ({:.0}/s, {IN_FLIGHT} in flight)",
        written.as_secs_f64(),
        count as f64 / written.as_secs_f64()
    );

    let before = rss_kib();
    let started = Instant::now();
    let set = store.follow().await.unwrap();
    let loaded = started.elapsed();
    let after = rss_kib();
    assert_eq!(set.len(), count);
    println!(
        "opt_outs/load: {count} opt-outs in memory in {:.2} s; RSS +{} MiB ({:.0} MiB per million)",
        loaded.as_secs_f64(),
        after.saturating_sub(before) / 1024,
        after.saturating_sub(before) as f64 / 1024.0 / (count as f64 / 1e6)
    );

    let check = |name: &str, account: &str, sender: &str, numbers: &[String], hit: bool| {
        let rounds = 2_000_000 / numbers.len().max(1);
        let started = Instant::now();
        let mut found = 0usize;
        for _ in 0..rounds {
            for n in numbers {
                found += usize::from(set.contains(black_box(account), sender, black_box(n)));
            }
        }
        let each = started.elapsed() / u32::try_from(rounds * numbers.len()).unwrap();
        assert_eq!(found > 0, hit, "{name}");
        println!("opt_outs/check/{name}: {} ns", each.as_nanos());
        each
    };
    // Numbers of account-1 that opted out (i ≡ 1 mod 10: account-wide), ones that did
    // not, and an account with no opt-outs at all.
    let out: Vec<String> = (0..1000).map(|k| number(k * ACCOUNTS + 1)).collect();
    let not_out: Vec<String> = (0..1000).map(|k| format!("44771{k:07}")).collect();
    let _: Duration = check("opted_out", "account-1", "ACME", &out, true);
    check("not_opted_out", "account-1", "ACME", &not_out, false);
    check("account_without_opt_outs", "nobody", "ACME", &out, false);
    drop(nats);
}
