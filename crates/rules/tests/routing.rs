//! The routing engine through its public API: a table of cases, one per rule semantic
//! (each with its own routes over a shared set of accounts, carriers, networks and
//! prices), explain's agreement with evaluate, and property tests holding evaluation to a
//! plain linear model of the documented semantics.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald_harness::seed::SECRET_HASH;
use herald_rules::RulesSnapshot;
use herald_rules::model::UtcOffset;
use herald_rules::routing::{
    AllHealthy, CarrierHealth, Mismatch, RouteOutcome, RouteRequest, UnhealthyCarriers, Verdict,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Monday 2024-01-01 09:30 UTC.
fn monday_0930() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 9 * 3600 + 30 * 60)
}

fn entry(key: String, value: Value) -> (String, Vec<u8>) {
    (key, serde_json::to_vec(&value).unwrap())
}

/// Accounts, carriers, networks, prices and opt-outs every case shares, plus `routes`.
fn world(routes: &[Value]) -> RulesSnapshot {
    let mut entries = vec![
        entry(
            "accounts/acme".into(),
            json!({"id": "acme", "password_hash": SECRET_HASH, "quota": {"tps": 10},
                   "groups": ["gold"], "numbering": {"country_code": "44"}}),
        ),
        entry(
            "accounts/beta".into(),
            json!({"id": "beta", "password_hash": SECRET_HASH, "quota": {"tps": 10}}),
        ),
        entry(
            "accounts/gamma".into(),
            json!({"id": "gamma", "password_hash": SECRET_HASH, "quota": {"tps": 10},
                   "groups": ["silver"]}),
        ),
        entry(
            "networks/234-15".into(),
            json!({"id": "234-15", "prefixes": ["44770", "44771"]}),
        ),
        entry(
            "networks/234-10".into(),
            json!({"id": "234-10", "prefixes": ["44780"]}),
        ),
        entry(
            "prices/a".into(),
            json!({"id": "a", "carrier": "a", "currency": "EUR",
                   "entries": [{"prefix": "44", "price_micros": 5000}]}),
        ),
        entry(
            "prices/b".into(),
            json!({"id": "b", "carrier": "b", "currency": "EUR",
                   "entries": [{"prefix": "4477", "price_micros": 4000},
                               {"network": "234-15", "price_micros": 3000}]}),
        ),
        entry(
            "prices/c".into(),
            json!({"id": "c", "carrier": "c", "currency": "EUR", "entries": [],
                   "default_price_micros": 9000}),
        ),
        entry(
            "opt-outs/acme".into(),
            json!({"id": "acme", "account": "acme", "numbers": ["447700900666"]}),
        ),
        entry(
            "opt-outs/everyone".into(),
            json!({"id": "everyone", "numbers": ["+447700900999"]}),
        ),
    ];
    for c in ["a", "b", "c", "d"] {
        let mut carrier = json!({"id": c, "host": "smsc", "port": 2775, "system_id": "h",
                   "password": {"env": "PW"}, "throughput": {"tps": 10}});
        if c == "c" {
            // UK mobiles on network 234-15 see a numeric sender from carrier c.
            carrier["senders"] = json!([{"match": {"networks": ["234-15"]},
                "action": {"type": "numeric", "pool": ["+447700900100"]}}]);
        }
        entries.push(entry(format!("carriers/{c}"), carrier));
    }
    for r in routes {
        let id = r["id"].as_str().unwrap();
        entries.push(entry(format!("routes/{id}"), r.clone()));
    }
    let s = RulesSnapshot::build(1, entries);
    assert!(
        s.problems().iter().all(|p| !p.skipped),
        "{:#?}",
        s.problems()
    );
    s
}

fn route(id: &str, priority: i32, criteria: Value, action: Value) -> Value {
    json!({"id": id, "priority": priority, "match": criteria, "action": action})
}

fn to(carrier: &str) -> Value {
    json!({"type": "carrier", "carrier": carrier})
}

/// A message, with defaults for what a case does not set.
#[derive(Clone)]
struct Msg {
    id: &'static str,
    account: &'static str,
    source: &'static str,
    destination: &'static str,
    ton: u8,
    coding: u8,
    at: SystemTime,
    segment: Option<u32>,
    failed: Vec<String>,
    default_tz: UtcOffset,
}

fn msg(destination: &'static str) -> Msg {
    Msg {
        id: "m1",
        account: "acme",
        source: "ACME",
        destination,
        ton: 1,
        coding: 0,
        at: monday_0930(),
        segment: None,
        failed: Vec::new(),
        default_tz: UtcOffset::UTC,
    }
}

impl Msg {
    fn account(mut self, a: &'static str) -> Self {
        self.account = a;
        self
    }
    fn source(mut self, s: &'static str) -> Self {
        self.source = s;
        self
    }
    fn ton(mut self, t: u8) -> Self {
        self.ton = t;
        self
    }
    fn coding(mut self, c: u8) -> Self {
        self.coding = c;
        self
    }
    fn at_hour(mut self, hour: u64) -> Self {
        self.at = UNIX_EPOCH + Duration::from_secs(1_704_067_200 + hour * 3600);
        self
    }
    fn failed(mut self, f: &[&str]) -> Self {
        self.failed = f.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    fn tz(mut self, minutes: i16) -> Self {
        self.default_tz = UtcOffset::from_minutes(minutes).unwrap();
        self
    }
    fn request(&self) -> RouteRequest<'_> {
        RouteRequest::new(
            self.account,
            self.source,
            self.destination,
            self.coding,
            self.at,
        )
        .message_id(self.id)
        .destination_ton(self.ton)
        .segment_reference(self.segment)
        .failed_carriers(&self.failed)
        .default_time_zone(self.default_tz)
    }
}

/// An outcome as a short string: `rule/carrier`, `rule!STATUS`, `rule?reason`,
/// `opted_out`, `no_route`.
fn summary(o: &RouteOutcome<'_>) -> String {
    match o {
        RouteOutcome::Route(p) => format!("{}/{}", p.rule_id, p.carrier),
        RouteOutcome::Reject { rule_id, status } => format!("{rule_id}!{}", status.status().name()),
        RouteOutcome::Unreachable { rule_id, reason } => format!("{rule_id}?{}", reason.as_str()),
        RouteOutcome::OptedOut => "opted_out".into(),
        RouteOutcome::NoRoute => "no_route".into(),
    }
}

fn decide(s: &RulesSnapshot, m: &Msg, health: &dyn CarrierHealth) -> String {
    let request = m.request();
    let outcome = s.evaluate(&request, health);
    let explained = s.explain(&request, health);
    assert_eq!(
        explained.outcome,
        outcome.name(),
        "explain agrees: {explained:#?}"
    );
    assert_eq!(
        explained.matched_rule.as_deref(),
        match outcome {
            RouteOutcome::OptedOut => explained.matched_rule.as_deref(),
            _ => outcome.rule_id(),
        },
        "explain agrees: {explained:#?}"
    );
    if let RouteOutcome::Route(pick) = outcome {
        assert_eq!(explained.carrier.as_deref(), Some(pick.carrier));
    }
    summary(&outcome)
}

#[test]
fn every_rule_semantic() {
    let uk = || json!({"destination_prefixes": ["44"]});
    let none = UnhealthyCarriers::default();
    let b_down = UnhealthyCarriers::new(["b"]);
    let a_b_down = UnhealthyCarriers::new(["a", "b"]);
    // (what, routes, message, health, expected)
    let cases: Vec<(&str, Vec<Value>, Msg, &UnhealthyCarriers, &str)> = vec![
        (
            "no routes at all",
            vec![],
            msg("447700900123"),
            &none,
            "no_route",
        ),
        (
            "a route with no criteria takes everything",
            vec![route("all", 0, json!({}), to("a"))],
            msg("33612345678"),
            &none,
            "all/a",
        ),
        (
            "a destination that is not a number has no route",
            vec![route("all", 0, json!({}), to("a"))],
            msg("44-77"),
            &none,
            "no_route",
        ),
        // Normalisation.
        (
            "+ is stripped",
            vec![route("uk", 0, uk(), to("a"))],
            msg("+447700900123"),
            &none,
            "uk/a",
        ),
        (
            "00 is stripped",
            vec![route("uk", 0, uk(), to("a"))],
            msg("00447700900123").ton(0),
            &none,
            "uk/a",
        ),
        (
            "the account's trunk prefix becomes its country code",
            vec![route("uk", 0, uk(), to("a"))],
            msg("07700900123").ton(0),
            &none,
            "uk/a",
        ),
        (
            "a national number (TON 2) gets the country code",
            vec![route("uk", 0, uk(), to("a"))],
            msg("7700900123").ton(2),
            &none,
            "uk/a",
        ),
        (
            "an account without a numbering plan does not get one",
            vec![route("uk", 0, uk(), to("a"))],
            msg("07700900123").ton(0).account("beta"),
            &none,
            "no_route",
        ),
        // Priority and prefixes.
        (
            "the longest prefix wins among equal priorities",
            vec![
                route("uk", 5, uk(), to("a")),
                route(
                    "uk-mobile",
                    5,
                    json!({"destination_prefixes": ["4477"]}),
                    to("b"),
                ),
                route("catch-all", 5, json!({}), to("c")),
            ],
            msg("447700900123"),
            &none,
            "uk-mobile/b",
        ),
        (
            "a prefix beats no prefix at equal priority",
            vec![
                route("catch-all", 5, json!({}), to("c")),
                route("uk", 5, uk(), to("a")),
            ],
            msg("447700900123"),
            &none,
            "uk/a",
        ),
        (
            "priority beats prefix length",
            vec![
                route("uk", 1, uk(), to("a")),
                route(
                    "uk-mobile",
                    2,
                    json!({"destination_prefixes": ["4477"]}),
                    to("b"),
                ),
            ],
            msg("447700900123"),
            &none,
            "uk/a",
        ),
        (
            "a lower priority with no prefix beats a specific route",
            vec![
                route(
                    "block-all",
                    -1,
                    json!({}),
                    json!({"type": "reject", "status": 88}),
                ),
                route("uk", 0, uk(), to("a")),
            ],
            msg("447700900123"),
            &none,
            "block-all!ESME_RTHROTTLED",
        ),
        (
            "equal priority and prefix length: the lower id wins",
            vec![
                route("zz", 0, uk(), to("b")),
                route(
                    "aa",
                    0,
                    json!({"destination_prefixes": ["33", "44"]}),
                    to("a"),
                ),
            ],
            msg("447700900123"),
            &none,
            "aa/a",
        ),
        (
            "a route's longest listed prefix counts",
            vec![
                route(
                    "short",
                    0,
                    json!({"destination_prefixes": ["447"]}),
                    to("a"),
                ),
                route(
                    "multi",
                    0,
                    json!({"destination_prefixes": ["4", "44770"]}),
                    to("b"),
                ),
            ],
            msg("447700900123"),
            &none,
            "multi/b",
        ),
        (
            "a route whose prefix does not match is passed over",
            vec![
                route("fr", 0, json!({"destination_prefixes": ["33"]}), to("a")),
                route("later", 9, json!({}), to("c")),
            ],
            msg("447700900123"),
            &none,
            "later/c",
        ),
        (
            "a disabled route is skipped",
            vec![
                json!({"id": "off", "enabled": false, "match": {}, "action": to("a")}),
                route("on", 1, json!({}), to("b")),
            ],
            msg("447700900123"),
            &none,
            "on/b",
        ),
        // Account and group.
        (
            "a listed account matches",
            vec![
                route("acme-only", 0, json!({"accounts": ["acme"]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123"),
            &none,
            "acme-only/a",
        ),
        (
            "an unlisted account does not",
            vec![
                route("acme-only", 0, json!({"accounts": ["acme"]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").account("beta"),
            &none,
            "rest/c",
        ),
        (
            "a member of a listed group matches",
            vec![
                route("gold", 0, json!({"account_groups": ["gold"]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123"),
            &none,
            "gold/a",
        ),
        (
            "accounts or groups: either lets an account in",
            vec![
                route(
                    "mixed",
                    0,
                    json!({"accounts": ["beta"], "account_groups": ["silver"]}),
                    to("a"),
                ),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").account("gamma"),
            &none,
            "mixed/a",
        ),
        (
            "outside the group does not",
            vec![
                route("gold", 0, json!({"account_groups": ["gold"]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").account("gamma"),
            &none,
            "rest/c",
        ),
        // Network.
        (
            "the destination's network matches",
            vec![
                route("voda", 0, json!({"networks": ["234-15"]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447710000001"),
            &none,
            "voda/a",
        ),
        (
            "another network does not",
            vec![
                route("voda", 0, json!({"networks": ["234-15"]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447800000001"),
            &none,
            "rest/c",
        ),
        (
            "a number with no network does not match a network route",
            vec![route(
                "voda",
                0,
                json!({"networks": ["234-15", "234-10"]}),
                to("a"),
            )],
            msg("33612345678"),
            &none,
            "no_route",
        ),
        // Source.
        (
            "the source glob matches",
            vec![
                route("acme-sender", 0, json!({"source": "AC*"}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123"),
            &none,
            "acme-sender/a",
        ),
        (
            "the source glob is case-sensitive",
            vec![
                route("acme-sender", 0, json!({"source": "AC*"}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").source("acme"),
            &none,
            "rest/c",
        ),
        // Data coding.
        (
            "a listed data_coding matches",
            vec![
                route("ucs2", 0, json!({"data_codings": [8]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").coding(8),
            &none,
            "ucs2/a",
        ),
        (
            "an unlisted data_coding does not",
            vec![
                route("ucs2", 0, json!({"data_codings": [8, 255]}), to("a")),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").coding(0),
            &none,
            "rest/c",
        ),
        // Time window.
        (
            "inside the window",
            vec![
                route(
                    "office",
                    0,
                    json!({"time_window": {"days": ["mon"], "from": "08:00", "to": "18:00"}}),
                    to("a"),
                ),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123"),
            &none,
            "office/a",
        ),
        (
            "outside the window",
            vec![
                route(
                    "office",
                    0,
                    json!({"time_window": {"days": ["mon"], "from": "08:00", "to": "18:00"}}),
                    to("a"),
                ),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").at_hour(20),
            &none,
            "rest/c",
        ),
        (
            "the window's own offset",
            vec![
                route(
                    "office",
                    0,
                    json!({"time_window": {"time_zone": "+12:00", "from": "08:00", "to": "09:00"}}),
                    to("a"),
                ),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").at_hour(20),
            &none,
            "office/a",
        ),
        (
            "a window with no offset reads the default one",
            vec![
                route(
                    "office",
                    0,
                    json!({"time_window": {"from": "11:00", "to": "12:00"}}),
                    to("a"),
                ),
                route("rest", 1, json!({}), to("c")),
            ],
            msg("447700900123").tz(120),
            &none,
            "office/a",
        ),
        // Actions.
        (
            "one carrier, even when down",
            vec![route("r", 0, json!({}), to("b"))],
            msg("447700900123"),
            &b_down,
            "r/b",
        ),
        (
            "one carrier that already failed",
            vec![route("r", 0, json!({}), to("b"))],
            msg("447700900123").failed(&["b"]),
            &none,
            "r?all_failed",
        ),
        (
            "failover: the first",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "failover", "carriers": ["b", "a", "c"]}),
            )],
            msg("447700900123"),
            &none,
            "r/b",
        ),
        (
            "failover: skips an unhealthy carrier",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "failover", "carriers": ["b", "a", "c"]}),
            )],
            msg("447700900123"),
            &b_down,
            "r/a",
        ),
        (
            "failover: skips a failed carrier",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "failover", "carriers": ["b", "a", "c"]}),
            )],
            msg("447700900123").failed(&["b", "a"]),
            &none,
            "r/c",
        ),
        (
            "failover: all unhealthy, the first left",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "failover", "carriers": ["b", "a"]}),
            )],
            msg("447700900123"),
            &a_b_down,
            "r/b",
        ),
        (
            "failover: all failed",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "failover", "carriers": ["b", "a"]}),
            )],
            msg("447700900123").failed(&["a", "b"]),
            &none,
            "r?all_failed",
        ),
        (
            "least cost: cheapest by network price",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "least_cost", "carriers": ["a", "b", "c"]}),
            )],
            msg("447700900123"),
            &none,
            "r/b",
        ),
        (
            "least cost: cheapest healthy",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "least_cost", "carriers": ["a", "b", "c"]}),
            )],
            msg("447700900123"),
            &b_down,
            "r/a",
        ),
        (
            "least cost: a failed carrier is skipped",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "least_cost", "carriers": ["a", "b", "c"]}),
            )],
            msg("447700900123").failed(&["b", "a"]),
            &none,
            "r/c",
        ),
        (
            "least cost: default price where no entry covers",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "least_cost", "carriers": ["a", "b", "c"]}),
            )],
            msg("33612345678"),
            &none,
            "r/c",
        ),
        (
            "least cost: no price anywhere",
            vec![route(
                "r",
                0,
                json!({}),
                json!({"type": "least_cost", "carriers": ["a", "d"]}),
            )],
            msg("33612345678"),
            &none,
            "r?no_price",
        ),
        (
            "reject with a status",
            vec![route(
                "r",
                0,
                uk(),
                json!({"type": "reject", "status": "ESME_RINVDSTADR"}),
            )],
            msg("447700900123"),
            &none,
            "r!ESME_RINVDSTADR",
        ),
        // Opt-outs.
        (
            "the account's own opt-out list",
            vec![route("all", 0, json!({}), to("a"))],
            msg("+447700900666"),
            &none,
            "opted_out",
        ),
        (
            "another account's list does not apply",
            vec![route("all", 0, json!({}), to("a"))],
            msg("447700900666").account("beta"),
            &none,
            "all/a",
        ),
        (
            "a global list applies to everyone, after normalisation",
            vec![route("all", 0, json!({}), to("a"))],
            msg("07700900999").ton(0),
            &none,
            "opted_out",
        ),
    ];
    let mut failures = Vec::new();
    for (what, routes, m, health, expected) in cases {
        let s = world(&routes);
        let got = decide(&s, &m, health);
        if got != expected {
            failures.push(format!("{what}: expected {expected}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn weighted_splits_are_deterministic_fair_and_keep_segments_together() {
    let s = world(&[route(
        "split",
        0,
        json!({}),
        json!({"type": "weighted", "split": [
            {"carrier": "a", "weight": 70}, {"carrier": "b", "weight": 20}, {"carrier": "c", "weight": 10}]}),
    )]);
    let ids: Vec<String> = (0..10_000)
        .map(|i| format!("0196f3a2c4e07a1b{i:08x}"))
        .collect();
    let carrier_of = |id: &str, failed: &[String], health: &dyn CarrierHealth| {
        let r = RouteRequest::new("acme", "ACME", "447700900123", 0, monday_0930())
            .message_id(id)
            .failed_carriers(failed);
        match s.evaluate(&r, health) {
            RouteOutcome::Route(p) => {
                assert_eq!(p.candidates.iter().next(), Some(p.carrier), "chosen first");
                p.carrier.to_owned()
            }
            other => panic!("{other:?}"),
        }
    };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for id in &ids {
        let c = carrier_of(id, &[], &AllHealthy);
        assert_eq!(c, carrier_of(id, &[], &AllHealthy), "deterministic");
        *counts.entry(c).or_default() += 1;
    }
    // A fixed hash over fixed ids: these bounds are about fairness, not luck.
    assert!((6_700..7_300).contains(&counts["a"]), "{counts:?}");
    assert!((1_700..2_300).contains(&counts["b"]), "{counts:?}");
    assert!((800..1_200).contains(&counts["c"]), "{counts:?}");

    // Unhealthy and failed carriers are left out; the rest keep their proportions.
    let a_down = UnhealthyCarriers::new(["a"]);
    let failed_a = vec!["a".to_owned()];
    for id in ids.iter().take(500) {
        assert_ne!(carrier_of(id, &[], &a_down), "a");
        assert_ne!(carrier_of(id, &failed_a, &AllHealthy), "a");
    }
    // With every carrier down the draw is among all of them, not none.
    let all_down = UnhealthyCarriers::new(["a", "b", "c"]);
    assert_eq!(
        carrier_of(&ids[0], &[], &all_down),
        carrier_of(&ids[0], &[], &AllHealthy)
    );
    let everything = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let r = RouteRequest::new("acme", "ACME", "447700900123", 0, monday_0930())
        .failed_carriers(&everything);
    assert_eq!(summary(&s.evaluate(&r, &AllHealthy)), "split?all_failed");

    // Segments of one message share a carrier whatever their message ids; different
    // references spread like messages do.
    let mut per_reference = std::collections::BTreeSet::new();
    for reference in 0..200u32 {
        let mut carriers = std::collections::BTreeSet::new();
        for id in ids.iter().take(5) {
            let r = RouteRequest::new("acme", "ACME", "+447700900123", 0, monday_0930())
                .message_id(id)
                .segment_reference(Some(reference));
            if let RouteOutcome::Route(p) = s.evaluate(&r, &AllHealthy) {
                carriers.insert(p.carrier);
            }
        }
        assert_eq!(carriers.len(), 1, "reference {reference}: {carriers:?}");
        per_reference.extend(carriers);
    }
    assert_eq!(per_reference.len(), 3, "{per_reference:?}");
}

#[test]
fn explain_shows_the_route_quota_and_the_carriers_sender_rewrite() {
    let mut capped = route("to-c", 1, json!({"destination_prefixes": ["44"]}), to("c"));
    capped["quota"] = json!({"tps": 20, "burst": 40});
    let s = world(&[capped]);
    let explain = |source: &'static str, to: &'static str| {
        let r = RouteRequest::new("beta", source, to, 0, monday_0930());
        s.explain(&r, &UnhealthyCarriers::new(Vec::<&str>::new()))
    };
    let e = explain("ACME", "447700900123");
    assert_eq!(e.carrier.as_deref(), Some("c"));
    assert_eq!(e.quota.map(|q| (q.tps, q.burst())), Some((20, 40)));
    let sender = e.sender.expect("carrier c's rule rewrites ACME");
    assert_eq!((sender.rule, sender.sender.as_str()), (0, "+447700900100"));
    // A numeric sender, or a number on another network: no rewrite.
    assert_eq!(explain("447700900555", "447700900123").sender, None);
    assert_eq!(explain("ACME", "447800900123").sender, None);
}

#[test]
fn explain_says_why() {
    let s = world(&[
        route(
            "acme-office",
            0,
            json!({"accounts": ["acme"], "time_window": {"from": "20:00", "to": "21:00"}}),
            to("a"),
        ),
        route("uk", 5, json!({"destination_prefixes": ["44"]}), to("a")),
        route(
            "uk-mobile",
            5,
            json!({"destination_prefixes": ["4477"], "networks": ["234-15"]}),
            json!({"type": "least_cost", "carriers": ["a", "b", "d"]}),
        ),
        route(
            "ucs2",
            5,
            json!({"data_codings": [8], "source": "X*"}),
            to("c"),
        ),
        json!({"id": "off", "enabled": false, "priority": -5, "action": to("c")}),
    ]);
    let failed = vec!["d".to_owned()];
    let r = RouteRequest::new("beta", "ACME", "447700900123", 0, monday_0930())
        .failed_carriers(&failed);
    let e = s.explain(&r, &UnhealthyCarriers::new(["b"]));
    assert_eq!(e.destination.as_deref(), Some("447700900123"));
    assert_eq!(e.network.as_deref(), Some("234-15"));
    assert_eq!(e.matched_rule.as_deref(), Some("uk-mobile"));
    assert_eq!(e.carrier.as_deref(), Some("a"));
    assert_eq!(e.outcome, "routed");
    assert!(e.reason.contains("least cost 5000"), "{}", e.reason);
    let verdict = |id: &str| e.rules.iter().find(|v| v.rule_id == id).unwrap();
    assert_eq!(verdict("off").mismatches, vec![Mismatch::Disabled]);
    assert_eq!(
        verdict("acme-office").mismatches,
        vec![Mismatch::Account, Mismatch::TimeWindow]
    );
    assert_eq!(
        verdict("uk").verdict,
        Verdict::Outranked {
            by: "uk-mobile".into()
        }
    );
    assert_eq!(verdict("uk").matched_prefix.as_deref(), Some("44"));
    assert_eq!(verdict("uk-mobile").verdict, Verdict::Chosen);
    assert_eq!(verdict("uk-mobile").matched_prefix.as_deref(), Some("4477"));
    assert_eq!(
        verdict("ucs2").mismatches,
        vec![Mismatch::Source, Mismatch::DataCoding]
    );
    let order: Vec<&str> = e.rules.iter().map(|v| v.rule_id.as_str()).collect();
    assert_eq!(order, ["off", "acme-office", "ucs2", "uk", "uk-mobile"]);
    let cand = |c: &str| e.candidates.iter().find(|v| v.carrier == c).unwrap();
    assert_eq!(cand("a").rank, Some(0));
    assert_eq!(cand("a").price_micros, Some(5000));
    assert_eq!(cand("b").rank, Some(1), "down, so after the healthy one");
    assert_eq!(cand("b").price_micros, Some(3000));
    assert!(!cand("b").healthy);
    assert_eq!(cand("d").rank, None);
    assert!(cand("d").failed);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["rules"][0]["verdict"], "not_matched");
    assert_eq!(json["rules"][0]["mismatches"][0]["criterion"], "disabled");

    let none = s.explain(
        &RouteRequest::new("beta", "ACME", "33612345678", 0, monday_0930()),
        &AllHealthy,
    );
    assert_eq!(none.outcome, "no_route");
    assert!(none.matched_rule.is_none());
    let network = none
        .rules
        .iter()
        .find(|v| v.rule_id == "uk-mobile")
        .unwrap();
    assert!(
        network
            .mismatches
            .contains(&Mismatch::Network { found: None })
    );
}

// ---- The reference model ---------------------------------------------------------

const ACCOUNTS: [(&str, &[&str]); 3] = [("a0", &["g0"]), ("a1", &["g1"]), ("a2", &["g0", "g1"])];
const CARRIERS: [&str; 4] = ["c0", "c1", "c2", "c3"];
const SOURCES: [&str; 3] = ["S*", "SX", "*1"];

#[derive(Clone, Debug)]
struct ModelRoute {
    id: String,
    enabled: bool,
    priority: i32,
    accounts: Vec<&'static str>,
    groups: Vec<&'static str>,
    prefixes: Vec<String>,
    networks: Vec<&'static str>,
    source: Option<&'static str>,
    codings: Vec<u8>,
    hours: Option<(u8, u8)>,
    /// `None`: reject; else a failover list.
    carriers: Option<Vec<&'static str>>,
}

impl ModelRoute {
    fn json(&self) -> Value {
        let mut m = json!({
            "accounts": self.accounts, "account_groups": self.groups,
            "destination_prefixes": self.prefixes, "networks": self.networks,
            "data_codings": self.codings,
        });
        if let Some(s) = self.source {
            m["source"] = json!(s);
        }
        if let Some((from, to)) = self.hours {
            m["time_window"] =
                json!({"from": format!("{from:02}:00"), "to": format!("{to:02}:00")});
        }
        let action = match &self.carriers {
            None => json!({"type": "reject", "status": 11}),
            Some(c) => json!({"type": "failover", "carriers": c}),
        };
        json!({"id": self.id, "enabled": self.enabled, "priority": self.priority,
               "match": m, "action": action})
    }
}

/// Digits from a small alphabet (so prefixes collide often) without 0, so no generated
/// number has an international prefix for normalisation to strip.
fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(1u8..4, min..=max)
        .prop_map(|d| d.into_iter().map(|d| char::from(b'0' + d)).collect())
}

fn subset<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = Vec<T>> {
    let n = items.len();
    proptest::collection::vec(any::<bool>(), n).prop_map(move |keep| {
        items
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(i, _)| i.clone())
            .collect()
    })
}

fn model_route(i: usize) -> impl Strategy<Value = ModelRoute> {
    (
        proptest::bool::weighted(0.9),
        0i32..3,
        subset(vec!["a0", "a1"]),
        subset(vec!["g0", "g1"]).prop_map(|g| if g.len() == 2 { vec![] } else { g }),
        proptest::collection::vec(digits(1, 4), 0..4),
        subset(vec!["001-01", "001-02"]),
        proptest::option::weighted(0.2, proptest::sample::select(SOURCES.to_vec())),
        subset(vec![0u8, 8]),
        proptest::option::weighted(0.2, (0u8..24, 1u8..24)),
        proptest::option::weighted(0.85, subset(CARRIERS.to_vec())),
    )
        .prop_map(
            move |(
                enabled,
                priority,
                accounts,
                groups,
                prefixes,
                networks,
                source,
                codings,
                hours,
                carriers,
            )| {
                let mut prefixes = prefixes;
                prefixes.sort();
                prefixes.dedup();
                ModelRoute {
                    id: format!("r{i:02}"),
                    enabled,
                    priority,
                    accounts,
                    groups,
                    prefixes,
                    networks,
                    source,
                    codings,
                    hours: hours.filter(|(f, t)| f != t),
                    carriers: carriers.map(|c| if c.is_empty() { vec!["c0"] } else { c }),
                }
            },
        )
}

fn model_routes() -> impl Strategy<Value = Vec<ModelRoute>> {
    (0usize..14).prop_flat_map(|n| (0..n).map(model_route).collect::<Vec<_>>())
}

/// Two networks over the same digit alphabet, some prefixes claimed by both.
fn networks() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    (
        proptest::collection::vec(digits(1, 3), 1..4),
        proptest::collection::vec(digits(1, 3), 1..4),
    )
        .prop_map(|(mut a, mut b)| {
            a.sort();
            a.dedup();
            b.sort();
            b.dedup();
            (a, b)
        })
}

fn model_snapshot(routes: &[ModelRoute], nets: &(Vec<String>, Vec<String>)) -> RulesSnapshot {
    let mut entries = Vec::new();
    for (id, groups) in ACCOUNTS {
        entries.push(entry(
            format!("accounts/{id}"),
            json!({"id": id, "password_hash": SECRET_HASH, "quota": {"tps": 1}, "groups": groups}),
        ));
    }
    for c in CARRIERS {
        entries.push(entry(
            format!("carriers/{c}"),
            json!({"id": c, "host": "h", "port": 1, "system_id": "h",
                   "password": {"env": "PW"}, "throughput": {"tps": 1}}),
        ));
    }
    entries.push(entry(
        "networks/001-01".into(),
        json!({"id": "001-01", "prefixes": nets.0}),
    ));
    entries.push(entry(
        "networks/001-02".into(),
        json!({"id": "001-02", "prefixes": nets.1}),
    ));
    for r in routes {
        entries.push(entry(format!("routes/{}", r.id), r.json()));
    }
    RulesSnapshot::build(1, entries)
}

/// The network of `number` by the documented rule, the plain way: the longest prefix; a
/// prefix both claim belongs to the first network in id order.
fn model_network(number: &str, nets: &(Vec<String>, Vec<String>)) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for (id, prefixes) in [("001-01", &nets.0), ("001-02", &nets.1)] {
        for p in prefixes {
            if number.starts_with(p.as_str()) && best.is_none_or(|(l, _)| p.len() > l) {
                best = Some((p.len(), id));
            }
        }
    }
    best.map(|(_, id)| id)
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern {
        "S*" => text.starts_with('S'),
        "SX" => text == "SX",
        "*1" => text.ends_with('1'),
        _ => unreachable!(),
    }
}

/// The documented semantics, written as plainly as possible: every enabled route whose
/// criteria all match, ordered by (priority, longest prefix descending, id); the first.
fn model_decide<'r>(
    routes: &'r [ModelRoute],
    nets: &(Vec<String>, Vec<String>),
    account: &str,
    source: &str,
    number: &str,
    coding: u8,
    hour: u8,
) -> Option<&'r ModelRoute> {
    let groups = ACCOUNTS
        .iter()
        .find(|(a, _)| *a == account)
        .map_or(&[][..], |(_, g)| *g);
    let network = model_network(number, nets);
    let mut matching: Vec<(i32, std::cmp::Reverse<usize>, &str, &ModelRoute)> = Vec::new();
    for r in routes {
        let account_ok = (r.accounts.is_empty() && r.groups.is_empty())
            || r.accounts.contains(&account)
            || groups.iter().any(|g| r.groups.contains(g));
        let prefix_len = if r.prefixes.is_empty() {
            Some(0)
        } else {
            r.prefixes
                .iter()
                .filter(|p| number.starts_with(p.as_str()))
                .map(String::len)
                .max()
        };
        let network_ok = r.networks.is_empty() || network.is_some_and(|n| r.networks.contains(&n));
        let source_ok = r.source.is_none_or(|p| glob(p, source));
        let coding_ok = r.codings.is_empty() || r.codings.contains(&coding);
        let window_ok = r.hours.is_none_or(|(from, to)| {
            if from < to {
                (from..to).contains(&hour)
            } else {
                hour >= from || hour < to
            }
        });
        if let Some(len) = prefix_len
            && r.enabled
            && account_ok
            && network_ok
            && source_ok
            && coding_ok
            && window_ok
        {
            matching.push((r.priority, std::cmp::Reverse(len), &r.id, r));
        }
    }
    matching.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    matching.first().map(|m| m.3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Evaluation (trie, compiled criteria, pruning) and explain (linear) pick the route
    /// the plain model picks; a failover route ranks its carriers as the model does.
    #[test]
    fn evaluation_agrees_with_a_linear_model(
        routes in model_routes(),
        nets in networks(),
        queries in proptest::collection::vec(
            (0usize..3, proptest::sample::select(vec!["SX", "S1", "T1", "T"]), digits(1, 7),
             proptest::sample::select(vec![0u8, 8, 3]), 0u8..24,
             subset(CARRIERS.to_vec()), subset(CARRIERS.to_vec())),
            1..12,
        ),
    ) {
        let snapshot = model_snapshot(&routes, &nets);
        prop_assert!(snapshot.problems().iter().all(|p| !p.skipped), "{:?}", snapshot.problems());
        for (account, source, number, coding, hour, failed, down) in queries {
            let account = ACCOUNTS[account].0;
            let failed: Vec<String> = failed.into_iter().map(str::to_owned).collect();
            let health = UnhealthyCarriers::new(down.clone());
            let at = UNIX_EPOCH + Duration::from_secs(1_704_067_200 + u64::from(hour) * 3600 + 60);
            let request = RouteRequest::new(account, source, &number, coding, at)
                .failed_carriers(&failed);
            let outcome = snapshot.evaluate(&request, &health);
            let expected = model_decide(&routes, &nets, account, source, &number, coding, hour);
            prop_assert_eq!(outcome.rule_id(), expected.map(|r| r.id.as_str()));
            let explained = snapshot.explain(&request, &health);
            prop_assert_eq!(explained.matched_rule.as_deref(), expected.map(|r| r.id.as_str()));
            prop_assert_eq!(&explained.outcome, outcome.name());
            let Some(route) = expected else { continue };
            match &route.carriers {
                None => prop_assert_eq!(outcome.name(), "rejected"),
                Some(list) => {
                    let mut ranked: Vec<&str> = list
                        .iter()
                        .copied()
                        .filter(|c| !failed.iter().any(|f| f == c))
                        .collect();
                    ranked.sort_by_key(|c| down.contains(c));
                    match outcome {
                        RouteOutcome::Route(pick) => {
                            prop_assert_eq!(pick.candidates.iter().collect::<Vec<_>>(), ranked.clone());
                            prop_assert_eq!(Some(pick.carrier), ranked.first().copied());
                        }
                        RouteOutcome::Unreachable { .. } => prop_assert!(ranked.is_empty()),
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
            }
        }
    }
}
