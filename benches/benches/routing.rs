//! The routing decision: `RulesSnapshot::evaluate` over a large rule set, in decisions per
//! second.
//!
//! The rule set (built once, printed at start): 1,000 routes over 50,000 destination
//! prefixes (50 each, 6 to 9 digits under 20 country codes), 200 networks of 10 prefixes,
//! 100 accounts in 5 groups, 20 carriers with price tables; priorities 0 to 9, a quarter
//! of the routes narrowed by account or group, some by network, `data_coding`, source or
//! time window; actions a mix of one carrier, weighted, failover and least cost, and a
//! catch-all route. Destinations are drawn from the prefixes (plus random suffixes) and
//! from numbers no prefix covers.
//!
//! - `evaluate/matching`: destinations under some route prefix;
//! - `evaluate/catch_all`: destinations only the catch-all route takes;
//! - `explain/matching`: the linear, allocating explanation, for scale.
//!
//! `cargo bench -p herald-benches --bench routing -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_rules::RulesSnapshot;
use herald_rules::routing::{AllHealthy, RouteOutcome, RouteRequest, UnhealthyCarriers};
use serde_json::{Value, json};

const ROUTES: usize = 1_000;
const PREFIXES_PER_ROUTE: usize = 50;
const NETWORKS: usize = 200;
const ACCOUNTS: usize = 100;
const CARRIERS: usize = 20;
const COUNTRIES: [&str; 20] = [
    "44", "33", "49", "34", "39", "31", "32", "41", "43", "45", "46", "47", "48", "351", "353",
    "358", "1", "61", "81", "91",
];
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

/// A small deterministic generator, so every run measures the same rule set.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
}

fn entry(key: String, value: Value) -> (String, Vec<u8>) {
    (key, serde_json::to_vec(&value).expect("json"))
}

fn rule_set(rng: &mut Lcg) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    let mut entries = Vec::new();
    let carrier = |i: usize| format!("carrier-{i:02}");
    for i in 0..CARRIERS {
        entries.push(entry(
            format!("carriers/{}", carrier(i)),
            json!({"id": carrier(i), "host": "smsc", "port": 2775, "system_id": "h",
                   "password": {"env": "PW"}, "throughput": {"tps": 100}}),
        ));
    }
    for i in 0..ACCOUNTS {
        entries.push(entry(
            format!("accounts/acct-{i:03}"),
            json!({"id": format!("acct-{i:03}"), "password_hash": HASH, "quota": {"tps": 100},
                   "groups": [format!("group-{}", i % 5)]}),
        ));
    }
    let mut network_ids = Vec::new();
    for i in 0..NETWORKS {
        let id = format!("{:03}-{:02}", 200 + i / 50, i % 50);
        let cc = COUNTRIES[i % COUNTRIES.len()];
        let prefixes: Vec<String> = (0..10)
            .map(|j| format!("{cc}{}{j}", rng.digits(2)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        entries.push(entry(
            format!("networks/{id}"),
            json!({"id": id, "prefixes": prefixes}),
        ));
        network_ids.push(id);
    }
    for i in 0..CARRIERS {
        let prices: Vec<Value> = (0..200)
            .map(|j| {
                json!({"prefix": format!("{}{j}", COUNTRIES[j % COUNTRIES.len()]),
                       "price_micros": 1000 + rng.below(9000)})
            })
            .collect::<Vec<_>>();
        let mut seen = std::collections::BTreeSet::new();
        let prices: Vec<Value> = prices
            .into_iter()
            .filter(|p| seen.insert(p["prefix"].as_str().unwrap_or_default().to_owned()))
            .collect();
        entries.push(entry(
            format!("prices/{}", carrier(i)),
            json!({"id": carrier(i), "carrier": carrier(i), "currency": "EUR",
                   "entries": prices, "default_price_micros": 9000 + i}),
        ));
    }
    let mut all_prefixes = Vec::new();
    for r in 0..ROUTES {
        let cc = COUNTRIES[r % COUNTRIES.len()];
        let prefixes: Vec<String> = (0..PREFIXES_PER_ROUTE)
            .map(|_| {
                let len = 4 + rng.below(4);
                format!("{cc}{}", rng.digits(len))
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        all_prefixes.extend(prefixes.iter().cloned());
        let mut criteria = json!({"destination_prefixes": prefixes});
        match r % 8 {
            0 => criteria["accounts"] = json!([format!("acct-{:03}", rng.below(ACCOUNTS))]),
            1 => criteria["account_groups"] = json!([format!("group-{}", rng.below(5))]),
            2 => criteria["networks"] = json!([network_ids[rng.below(NETWORKS)]]),
            3 => criteria["data_codings"] = json!([0, 8]),
            4 => criteria["source"] = json!("ACME*"),
            5 => {
                criteria["time_window"] = json!({"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "20:00"})
            }
            _ => {}
        }
        let picks: Vec<String> = (0..3).map(|_| carrier(rng.below(CARRIERS))).collect();
        let mut distinct = picks.clone();
        distinct.sort();
        distinct.dedup();
        let action = match r % 4 {
            0 => json!({"type": "carrier", "carrier": picks[0]}),
            1 => json!({"type": "weighted", "split": distinct.iter().enumerate()
                .map(|(i, c)| json!({"carrier": c, "weight": 10 * (i + 1)})).collect::<Vec<_>>()}),
            2 => json!({"type": "failover", "carriers": distinct}),
            _ => json!({"type": "least_cost", "carriers": distinct}),
        };
        entries.push(entry(
            format!("routes/route-{r:04}"),
            json!({"id": format!("route-{r:04}"), "priority": rng.below(10),
                   "match": criteria, "action": action}),
        ));
    }
    entries.push(entry(
        "routes/catch-all".into(),
        json!({"id": "catch-all", "priority": 100,
               "action": {"type": "failover", "carriers": [carrier(0), carrier(1)]}}),
    ));
    (entries, all_prefixes)
}

fn routing(c: &mut Criterion) {
    let mut rng = Lcg(7);
    let (entries, prefixes) = rule_set(&mut rng);
    let started = Instant::now();
    let snapshot = RulesSnapshot::build(1, entries.clone());
    let built = started.elapsed();
    assert!(
        snapshot.problems().iter().all(|p| !p.skipped),
        "{:?}",
        &snapshot.problems()[..snapshot.problems().len().min(3)]
    );
    eprintln!(
        "routing: {} routes, {} distinct destination prefixes, {} networks, {} carriers; \
         snapshot build (decode, validate, index) {:.1} ms",
        snapshot.routes().len(),
        snapshot.route_prefix_count(),
        NETWORKS,
        CARRIERS,
        built.as_secs_f64() * 1e3
    );
    let matching: Vec<String> = (0..1024)
        .map(|_| {
            let p = &prefixes[rng.below(prefixes.len())];
            let rest = 12usize.saturating_sub(p.len()).max(1);
            format!("{p}{}", rng.digits(rest))
        })
        .collect();
    let unmatched: Vec<String> = (0..1024).map(|_| format!("999{}", rng.digits(9))).collect();
    // Monday 2024-01-01 10:00 UTC: office-hours windows are open.
    let at: SystemTime = UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 10 * 3600);
    let ids: Vec<String> = (0..1024)
        .map(|i| format!("0196f3a2c4e07a1b{i:08x}"))
        .collect();
    let health = UnhealthyCarriers::new(["carrier-03", "carrier-07"]);

    let routed = matching
        .iter()
        .zip(&ids)
        .filter(|(d, id)| {
            let r = RouteRequest::new("acct-001", "ACME1", d, 0, at).message_id(id);
            matches!(snapshot.evaluate(&r, &health), RouteOutcome::Route(p) if p.rule_id != "catch-all")
        })
        .count();
    eprintln!("routing: {routed} of 1024 sample destinations match a specific route");

    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(1));
    for (name, destinations) in [("matching", &matching), ("catch_all", &unmatched)] {
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                let r = RouteRequest::new("acct-001", "ACME1", &destinations[i], 0, at)
                    .message_id(&ids[i]);
                black_box(snapshot.evaluate(black_box(&r), &health).name())
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("explain");
    group.sample_size(20);
    let mut i = 0usize;
    group.bench_function("matching", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let r = RouteRequest::new("acct-001", "ACME1", &matching[i], 0, at);
            black_box(snapshot.explain(black_box(&r), &AllHealthy).rules.len())
        })
    });
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
