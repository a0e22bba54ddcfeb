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
//! Number portability ([`PortingTable`]), built on first use of its benches: a generated
//! CSV of `HERALD_BENCH_PORTED` numbers (default 10,000,000; 10,000 when not run with
//! `--bench`) under 4 country codes (11- to 13-digit numbers), 20 networks (5- and
//! 6-digit), in scattered order, plus 10,000 ranges of 1,000 numbers. Printed once: the
//! import (parse, build), the table's `heap_bytes()` and RSS growth, the snapshot's size
//! and encode/decode times, and an incremental update of 100,000 rows (changes, new
//! numbers, deletes: parse, apply).
//!
//! - `porting/lookup_hit`: numbers with an entry of their own;
//! - `porting/lookup_miss`: numbers of the same countries with no entry and in no range.
//!
//! `cargo bench -p herald-benches --bench routing -- --warm-up-time 1 --measurement-time 3`
//! (`-- porting` for the porting benches alone)

use std::cell::OnceCell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use herald_rules::RulesSnapshot;
use herald_rules::porting::{PortingTable, parse_csv};
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

/// Country prefixes of the ported numbers, the digits after them, and their networks.
const PORTED_COUNTRIES: [(u64, u32, [&str; 5]); 4] = [
    (447, 9, ["23410", "23415", "23420", "23430", "23433"]),
    (336, 8, ["20801", "20810", "20815", "20820", "20888"]),
    (4917, 9, ["26201", "26202", "26203", "26207", "26208"]),
    (1, 10, ["310260", "310410", "311480", "310120", "312530"]),
];
const PORTED_RANGES: u64 = 10_000;
const PORTED_UPDATE: usize = 100_000;

/// The `i`th ported number of a country: a bijection of `i` over its `10^digits`
/// numbers (the multiplier is prime to 10), so numbers are distinct and scattered.
fn ported_number(country: usize, i: u64) -> u64 {
    let (prefix, digits, _) = PORTED_COUNTRIES[country % PORTED_COUNTRIES.len()];
    let space = 10u64.pow(digits);
    prefix * space + (i.wrapping_mul(2_654_435_761) + 12_345) % space
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: impl Into<u64>) -> f64 {
    bytes.into() as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Porting {
    table: PortingTable,
    hits: Vec<String>,
    misses: Vec<String>,
}

/// Generates the CSV, imports it and prints the figures; the lookups' inputs.
fn porting_fixture() -> Porting {
    let quick = !std::env::args().any(|a| a == "--bench");
    let count: u64 = std::env::var("HERALD_BENCH_PORTED")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(if quick { 10_000 } else { 10_000_000 });
    let countries = PORTED_COUNTRIES.len() as u64;
    let per_country = count / countries;
    let mut rng = Lcg(11);

    let mut csv = String::with_capacity(count as usize * 20 + 1024);
    csv.push_str("# herald bench: ported numbers\nnumber,network,action\n");
    for i in 0..per_country * countries {
        let country = (i % countries) as usize;
        let network = PORTED_COUNTRIES[country].2[rng.below(5)];
        let number = ported_number(country, i / countries);
        let _ = writeln!(csv, "{number},{network}");
    }
    for k in 0..PORTED_RANGES {
        let start = 447_000_000_000 + k * 100_000;
        let network = PORTED_COUNTRIES[0].2[rng.below(5)];
        let _ = writeln!(csv, "{start}-{},{network}", start + 999);
    }
    let rss_before = rss_bytes();

    let started = Instant::now();
    let parsed = parse_csv(csv.as_bytes());
    let parse_time = started.elapsed();
    let rows = parsed.rows.len();
    assert!(
        parsed.errors.is_empty(),
        "{:?}",
        parsed.errors.kept().first()
    );
    let started = Instant::now();
    let (table, errors) = PortingTable::from_rows(&parsed.rows);
    let build_time = started.elapsed();
    assert!(errors.is_empty(), "{:?}", errors.kept().first());
    drop(parsed);
    let rss_growth = rss_bytes().saturating_sub(rss_before);
    eprintln!(
        "porting: import of {rows} rows ({:.0} MiB of CSV): parse {:.0} ms + build {:.0} ms \
         = {:.0} ms ({:.1} M rows/s); {} numbers, {} ranges, {} networks",
        mib(csv.len() as u64),
        ms(parse_time),
        ms(build_time),
        ms(parse_time + build_time),
        rows as f64 / (parse_time + build_time).as_secs_f64() / 1e6,
        table.len(),
        table.ranges_len(),
        table.networks().len(),
    );
    eprintln!(
        "porting: memory: heap_bytes {:.1} MiB ({:.2} bytes/number), RSS growth after the \
         import {:.1} MiB",
        mib(table.heap_bytes() as u64),
        table.heap_bytes() as f64 / table.len().max(1) as f64,
        mib(rss_growth),
    );
    drop(csv);

    let started = Instant::now();
    let snapshot = table.encode();
    let encode_time = started.elapsed();
    let started = Instant::now();
    let decoded = PortingTable::decode(&snapshot).expect("the snapshot decodes");
    let decode_time = started.elapsed();
    assert!(decoded == table, "decode(encode(table)) differs");
    drop(decoded);
    eprintln!(
        "porting: snapshot {:.1} MiB; encode {:.0} ms, decode (checksum, validation) {:.0} ms",
        mib(snapshot.len() as u64),
        ms(encode_time),
        ms(decode_time),
    );
    drop(snapshot);

    // An update: 60% new networks for ported numbers, 20% numbers ported for the first
    // time, 20% ported back home.
    let mut update = String::from("number,network,action\n");
    let per = per_country.max(1);
    for j in 0..PORTED_UPDATE {
        let country = rng.below(PORTED_COUNTRIES.len());
        let network = PORTED_COUNTRIES[country].2[rng.below(5)];
        let _ = match j % 5 {
            0..=2 => writeln!(
                update,
                "{},{network}",
                ported_number(country, rng.next() % per)
            ),
            3 => writeln!(
                update,
                "{},{network}",
                ported_number(country, per + j as u64)
            ),
            _ => writeln!(
                update,
                "{},,delete",
                ported_number(country, rng.next() % per)
            ),
        };
    }
    let started = Instant::now();
    let parsed = parse_csv(update.as_bytes());
    let parse_time = started.elapsed();
    let started = Instant::now();
    let (updated, errors) = table.apply(&parsed.rows);
    let apply_time = started.elapsed();
    assert!(errors.is_empty(), "{:?}", errors.kept().first());
    eprintln!(
        "porting: incremental update of {} rows: parse {:.1} ms + apply {:.0} ms; {} numbers \
         after it",
        parsed.rows.len(),
        ms(parse_time),
        ms(apply_time),
        updated.len(),
    );
    drop(updated);

    let hits: Vec<String> = (0..1024)
        .map(|_| {
            let country = rng.below(PORTED_COUNTRIES.len());
            ported_number(country, rng.next() % per).to_string()
        })
        .collect();
    assert!(hits.iter().all(|n| table.lookup(n).is_some()));
    let misses: Vec<String> = (0u64..)
        .map(|j| ported_number((j % countries) as usize, per + j).to_string())
        .filter(|n| table.lookup(n).is_none())
        .take(1024)
        .collect();
    Porting {
        table,
        hits,
        misses,
    }
}

fn porting(c: &mut Criterion) {
    // Built on the first bench that runs, so other filters do not pay for it.
    let fixture = OnceCell::new();
    let mut group = c.benchmark_group("porting");
    group.throughput(Throughput::Elements(1));
    for (name, hit) in [("lookup_hit", true), ("lookup_miss", false)] {
        let mut i = 0usize;
        group.bench_function(name, |b| {
            let f: &Porting = fixture.get_or_init(porting_fixture);
            let numbers = if hit { &f.hits } else { &f.misses };
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(f.table.lookup(black_box(&numbers[i])).is_some())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, routing, porting);
criterion_main!(benches);
