//! The MT pipeline: an accepted message (or one a connector handed back after a carrier
//! failure) is routed by the current rules snapshot and published to the chosen carrier's
//! queue, and only then acknowledged. A message Herald refuses gets a synthetic failure
//! receipt (when its `registered_delivery` asks for one) and is acknowledged.
//!
//! | outcome | what happens | `status` label |
//! | --- | --- | --- |
//! | a carrier (first attempt) | `herald.out.<carrier>`, dedup id `<id>:<attempt>`; status `routed` if `router.record_routed` | `routed` |
//! | a carrier (after a hand-back) | the same, on the next candidate | `rerouted` |
//! | reject route | receipt `REJECTD`, the route's status in the error text; status `final` | `rejected` |
//! | destination opted out | receipt `REJECTD`; status `final` | `opted_out` |
//! | no route (or not a number) | receipt `UNDELIV`; status `final` | `no_route` |
//! | route matched, no carrier left (all failed, no price) | receipt `UNDELIV`; status `final` | `unreachable` |
//! | `max_attempts` reached | receipt `UNDELIV`; status `final` | `exhausted` |
//! | validity period over | receipt `EXPIRED`; status `final` | `expired` |
//! | undecodable envelope | dead letters | `invalid` |
//! | the publish fails | redelivered after the consumer's back-off | `error` |
//!
//! The decision ([`decide`]) is a pure function of the snapshot, the message, carrier
//! health and the time; the snapshot is read through the store's lock-free guard and the
//! decision holds only what it must own.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use herald_bus::kv::Stage;
use herald_bus::{BusError, Delivery, FollowedSnapshot, OptOutSet, Outgoing};
use herald_proto::bus::v1::{Address, MessageState, MtMessage, RouteDecision};
use herald_rules::RulesSnapshot;
use herald_rules::model::UtcOffset;
use herald_rules::porting::PortingTable;
use herald_rules::routing::{
    CarrierHealth, RouteOutcome, RouteRequest, SubscriberOptOuts, TON_INTERNATIONAL,
};
use herald_telemetry::{handles, names};
use tracing::Instrument as _;

use crate::router::Shared;
use herald_bus::lifecycle::{self, Failure, unix_ms};

/// SMPP `numbering_plan_indicator` ISDN (E.164).
const NPI_ISDN: u32 = 1;

/// Why Herald refuses or gives up on a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The receipt state: `Rejected`, `Undeliverable` or `Expired`.
    pub state: MessageState,
    /// The receipt's error text.
    pub error: String,
    /// The metric label (see the module table).
    pub label: &'static str,
    /// The route that decided, if one did.
    pub rule_id: Option<String>,
}

/// What to do with one MT.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Publish to `carrier`'s queue with `route` set.
    Route {
        /// The carrier.
        carrier: String,
        /// What to record in the message.
        route: RouteDecision,
        /// The destination in E.164 digits, when that differs from what was submitted
        /// (the message is sent on with it, TON international, NPI ISDN).
        normalized_destination: Option<String>,
        /// Whether this is a failover after a carrier failure.
        rerouted: bool,
    },
    /// Refuse it.
    Refuse(Refusal),
}

fn refuse(state: MessageState, error: String, label: &'static str, rule: Option<&str>) -> Decision {
    Decision::Refuse(Refusal {
        state,
        error,
        label,
        rule_id: rule.map(str::to_owned),
    })
}

/// What the router knows of numbers beyond the rules: the subscriber opt-outs and the
/// ported numbers, each its copy of what the bus holds.
#[derive(Clone, Debug, Default)]
pub struct NumberLookups {
    /// The opt-out bucket's opt-outs.
    pub opt_outs: OptOutSet,
    /// The porting store's table, if one is stored.
    pub porting: Option<FollowedSnapshot<PortingTable>>,
}

/// Decides where `mt` goes, by `snapshot`, `health` and the `numbers` known (opt-outs,
/// ported numbers) at `now`.
pub fn decide<H: CarrierHealth + ?Sized>(
    snapshot: &RulesSnapshot,
    mt: &MtMessage,
    health: &H,
    numbers: &NumberLookups,
    max_attempts: u32,
    default_time_zone: UtcOffset,
    now: SystemTime,
) -> Decision {
    if mt.validity_unix_ms > 0 && unix_ms(now) >= mt.validity_unix_ms {
        let error = "validity period ended before the message could be sent".to_owned();
        return refuse(MessageState::Expired, error, "expired", None);
    }
    if mt.attempt >= max_attempts.max(1) {
        let error = format!(
            "gave up after {} attempts (failed on {})",
            mt.attempt,
            mt.failed_carriers.join(", ")
        );
        return refuse(MessageState::Undeliverable, error, "exhausted", None);
    }
    let destination = mt.destination.as_ref();
    let (dest_addr, dest_ton) = destination.map_or(("", 0), |d| (d.addr.as_str(), d.ton));
    let sender = mt.source.as_ref().map_or("", |s| s.addr.as_str());
    let scope = sender.strip_prefix('+').unwrap_or(sender);
    let opted_out = |number: &str| numbers.opt_outs.contains(&mt.account_id, scope, number);
    let porting = numbers.porting.as_ref().map(FollowedSnapshot::guard);
    let request = RouteRequest {
        message_id: &mt.id,
        account: &mt.account_id,
        source: mt.source.as_ref().map_or("", |s| s.addr.as_str()),
        destination: dest_addr,
        destination_ton: u8::try_from(dest_ton).unwrap_or(0),
        data_coding: u8::try_from(mt.data_coding).unwrap_or(0),
        at: now,
        segment_reference: mt
            .segment
            .as_ref()
            .filter(|s| s.total > 1)
            .map(|s| s.reference),
        failed_carriers: &mt.failed_carriers,
        default_time_zone,
        subscriber_opt_outs: Some(SubscriberOptOuts(&opted_out)),
        porting: porting.as_ref().and_then(|p| p.as_deref()),
    };
    match snapshot.evaluate(&request, health) {
        RouteOutcome::Route(pick) => {
            let normalized = snapshot
                .normalize_destination(&mt.account_id, dest_addr, request.destination_ton)
                .filter(|n| n.as_str() != dest_addr || dest_ton != u32::from(TON_INTERNATIONAL))
                .map(|n| n.as_str().to_owned());
            Decision::Route {
                carrier: pick.carrier.to_owned(),
                route: RouteDecision {
                    rule_id: pick.rule_id.to_owned(),
                    carrier_id: pick.carrier.to_owned(),
                    candidates: pick.candidates.iter().map(str::to_owned).collect(),
                    rules_revision: snapshot.revision(),
                    reason: pick.why.to_string(),
                    network: pick.network.map(str::to_owned).unwrap_or_default(),
                },
                normalized_destination: normalized,
                rerouted: !mt.failed_carriers.is_empty(),
            }
        }
        RouteOutcome::Reject { rule_id, status } => refuse(
            MessageState::Rejected,
            format!("rejected by route {rule_id}: {status}"),
            "rejected",
            Some(rule_id),
        ),
        RouteOutcome::OptedOut => refuse(
            MessageState::Rejected,
            "the destination opted out of this account's messages".to_owned(),
            "opted_out",
            None,
        ),
        RouteOutcome::NoRoute => refuse(
            MessageState::Undeliverable,
            "no route to the destination".to_owned(),
            "no_route",
            None,
        ),
        RouteOutcome::Unreachable { rule_id, reason } => {
            let failed = if mt.failed_carriers.is_empty() {
                String::new()
            } else {
                format!(" (failed on {})", mt.failed_carriers.join(", "))
            };
            refuse(
                MessageState::Undeliverable,
                format!("route {rule_id}: {reason}{failed}"),
                "unreachable",
                Some(rule_id),
            )
        }
    }
}

/// Routes the deliveries of one bus message (one message, or the members of a batch) and
/// settles each (ack, retry or dead letter).
///
/// What the group routes to one carrier is published as one batch, in the group's order,
/// so a redelivery of the group forms the same batch with the same dedup id and the
/// carrier queue drops the copy: a message is never queued for its carrier twice.
pub(crate) async fn route(shared: Arc<Shared>, group: Vec<Delivery>) {
    let started = Instant::now();
    let now = SystemTime::now();
    // With batching off, every routed message is a carrier batch of its own.
    let batching = shared.bus.batching();
    let mut carriers: Vec<CarrierBatch> = Vec::new();
    let mut refusals = Vec::new();
    for delivery in group {
        let mt: MtMessage = match delivery.decode() {
            Ok(mt) => mt,
            Err(err) => {
                count("", "", "invalid");
                settle(
                    delivery
                        .dead_letter(&format!("undecodable MT envelope: {err}"))
                        .await,
                );
                continue;
            }
        };
        let span = delivery.traced(
            || tracing::info_span!("router.route", message_id = %mt.id, account = %mt.account_id),
        );
        let decision = {
            let snapshot = shared.rules.load();
            let health = shared.health.load();
            decide(
                &snapshot,
                &mt,
                &**health,
                &shared.numbers,
                shared.config.max_attempts,
                shared.default_time_zone,
                now,
            )
        };
        match decision {
            Decision::Route {
                carrier,
                route,
                normalized_destination,
                rerouted,
            } => {
                let mut mt = mt;
                if let Some(digits) = normalized_destination {
                    mt.destination = Some(Address {
                        addr: digits,
                        ton: u32::from(TON_INTERNATIONAL),
                        npi: NPI_ISDN,
                    });
                }
                span.in_scope(|| {
                    tracing::debug!(%carrier, rule = %route.rule_id, reason = %route.reason, "routed");
                });
                mt.route = Some(route);
                let mut outgoing = span.in_scope(|| Outgoing::routed(&carrier, &mt));
                if delivery.deliveries() > 1 {
                    outgoing = outgoing.header(herald_bus::publish::REDELIVERED_HEADER, "1");
                }
                let routed = Routed {
                    delivery,
                    mt,
                    rerouted,
                    span,
                };
                match carriers
                    .iter_mut()
                    .find(|b| batching && b.carrier == carrier)
                {
                    Some(batch) => {
                        batch.outgoing.push(outgoing);
                        batch.routed.push(routed);
                    }
                    None => carriers.push(CarrierBatch {
                        carrier,
                        outgoing: vec![outgoing],
                        routed: vec![routed],
                    }),
                }
            }
            Decision::Refuse(refusal) => {
                refusals.push(refused(&shared, delivery, mt, refusal, now).instrument(span));
            }
        }
    }
    let sends = carriers
        .into_iter()
        .map(|batch| send(&shared, batch, started, now));
    futures::future::join(
        futures::future::join_all(sends),
        futures::future::join_all(refusals),
    )
    .await;
}

/// What one group routes to one carrier: published together, in order.
struct CarrierBatch {
    carrier: String,
    outgoing: Vec<Outgoing>,
    routed: Vec<Routed>,
}

/// A message routed to a carrier, waiting for its batch's publish.
struct Routed {
    delivery: Delivery,
    mt: MtMessage,
    rerouted: bool,
    span: tracing::Span,
}

/// Publishes one carrier's batch; acks its members once stored, or hands them back for a
/// retry.
async fn send(shared: &Shared, batch: CarrierBatch, started: Instant, now: SystemTime) {
    let CarrierBatch {
        carrier,
        outgoing,
        routed,
    } = batch;
    let published = match shared.publisher.publish_batch(outgoing).await {
        Ok(pending) => pending.await.map(drop),
        Err(err) => Err(err),
    };
    if let Err(err) = published {
        if routed.len() > 1 && !matches!(err, BusError::Full) {
            // The batch may be stored all the same (an ack timeout, a cut connection).
            // Retried one by one, its members would be queued again under other dedup
            // ids; left unsettled, the group comes back whole after the ack wait, forms
            // this batch again, and the duplicate window drops it if it was stored.
            tracing::warn!(error = %err, %carrier, members = routed.len(),
                "carrier batch not acknowledged; its group will be redelivered whole");
            for r in &routed {
                count(&r.mt.account_id, &carrier, "error");
            }
            return;
        }
        let retries = routed.into_iter().map(|r| {
            count(&r.mt.account_id, &carrier, "error");
            retry(r.delivery, &err).instrument(r.span)
        });
        futures::future::join_all(retries).await;
        return;
    }
    let histogram = handles::histogram(
        names::ROUTER_ROUTE_SECONDS,
        &[(names::labels::CARRIER, &carrier)],
    );
    let mut records = Vec::new();
    for r in routed {
        settle(r.delivery.ack().await);
        let label = if r.rerouted { "rerouted" } else { "routed" };
        count(&r.mt.account_id, &carrier, label);
        histogram.record(started.elapsed().as_secs_f64());
        if shared.config.record_routed {
            let status = lifecycle::status(
                &r.mt,
                Stage::Routed,
                MessageState::Enroute,
                &carrier,
                "",
                now,
            );
            records.push(async move { record(shared, &status).await }.instrument(r.span));
        }
    }
    futures::future::join_all(records).await;
}

/// Settles a message Herald refuses: its failure receipt (when asked for) first, then
/// the ack, then the final status.
async fn refused(
    shared: &Shared,
    delivery: Delivery,
    mt: MtMessage,
    refusal: Refusal,
    now: SystemTime,
) {
    tracing::debug!(reason = %refusal.error, label = refusal.label, "refused");
    let state = lifecycle::smpp_state(refusal.state);
    if lifecycle::receipt_wanted(mt.registered_delivery, state) {
        let carrier = mt.route.as_ref().map_or("", |r| r.carrier_id.as_str());
        let failure = Failure {
            state: refusal.state,
            carrier,
            error: &refusal.error,
            network_error_code: 0,
        };
        let event = lifecycle::final_receipt_event(lifecycle::failure_receipt(&mt, failure, now));
        if let Err(err) = publish(shared, event).await {
            count(&mt.account_id, "", "error");
            retry(delivery, &err).await;
            return;
        }
    }
    settle(delivery.ack().await);
    count(&mt.account_id, "", refusal.label);
    let status = lifecycle::status(&mt, Stage::Final, refusal.state, "", &refusal.error, now);
    record(shared, &status).await;
}

/// Publishes and waits for the ack.
pub(crate) async fn publish(shared: &Shared, message: Outgoing) -> Result<(), BusError> {
    shared.publisher.publish(message).await?.await.map(drop)
}

/// Hands a delivery back for another try: soon when only the publish window was full,
/// else after the consumer's back-off.
pub(crate) async fn retry(delivery: Delivery, err: &BusError) {
    tracing::warn!(error = %err, "publish failed; the message will be retried");
    let result = match err {
        BusError::Full => {
            delivery
                .retry_after(std::time::Duration::from_millis(100))
                .await
        }
        _ => delivery.retry(&err.to_string()).await,
    };
    settle(result);
}

/// Logs a failed ack, nak or dead-lettering (the ack wait redelivers the message).
pub(crate) use herald_bus::consume::settle_logged as settle;

async fn record(shared: &Shared, status: &herald_proto::bus::v1::MessageStatus) {
    if let Err(err) = shared.status.advance(status).await {
        tracing::debug!(error = %err, "status not recorded");
    }
}

fn count(account: &str, carrier: &str, status: &'static str) {
    handles::counter(
        names::ROUTER_ROUTE_TOTAL,
        &[
            (names::labels::ACCOUNT, account),
            (names::labels::CARRIER, carrier),
            (names::labels::STATUS, status),
        ],
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::{Duration, UNIX_EPOCH};

    use herald_proto::bus::v1::Segment;
    use herald_rules::routing::{AllHealthy, UnhealthyCarriers};
    use serde_json::json;

    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

    fn snapshot() -> RulesSnapshot {
        let entry = |k: &str, v: serde_json::Value| (k.to_owned(), serde_json::to_vec(&v).unwrap());
        let carrier = |id: &str| {
            entry(
                &format!("carriers/{id}"),
                json!({"id": id, "host": "h", "port": 1, "system_id": "h",
                       "password": {"env": "PW"}, "throughput": {"tps": 1}}),
            )
        };
        RulesSnapshot::build(
            42,
            vec![
                entry(
                    "accounts/acme",
                    json!({"id": "acme", "password_hash": HASH, "quota": {"tps": 1},
                           "numbering": {"country_code": "44"}}),
                ),
                carrier("a"),
                carrier("b"),
                entry(
                    "routes/uk",
                    json!({"id": "uk", "match": {"destination_prefixes": ["44"]},
                           "action": {"type": "failover", "carriers": ["a", "b"]}}),
                ),
                entry(
                    "routes/fr",
                    json!({"id": "fr", "match": {"destination_prefixes": ["33"]},
                           "action": {"type": "reject", "status": "ESME_RINVDSTADR"}}),
                ),
                entry(
                    "routes/split",
                    json!({"id": "split", "match": {"destination_prefixes": ["49"]},
                           "action": {"type": "weighted", "split": [
                               {"carrier": "a", "weight": 1}, {"carrier": "b", "weight": 1}]}}),
                ),
            ],
        )
    }

    fn mt(destination: &str, ton: u32) -> MtMessage {
        MtMessage {
            id: "M1".into(),
            account_id: "acme".into(),
            source: Some(Address {
                addr: "ACME".into(),
                ton: 5,
                npi: 0,
            }),
            destination: Some(Address {
                addr: destination.into(),
                ton,
                npi: 1,
            }),
            registered_delivery: 1,
            ..Default::default()
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_764_115_200)
    }

    fn decide_now(mt: &MtMessage, health: &dyn CarrierHealth) -> Decision {
        decide(
            &snapshot(),
            mt,
            health,
            &NumberLookups::default(),
            3,
            UtcOffset::UTC,
            now(),
        )
    }

    #[test]
    fn routes_record_the_decision_and_normalise_the_destination() {
        let Decision::Route {
            carrier,
            route,
            normalized_destination,
            rerouted,
        } = decide_now(&mt("07700900123", 0), &AllHealthy)
        else {
            panic!()
        };
        assert_eq!(carrier, "a");
        assert_eq!(route.rule_id, "uk");
        assert_eq!(route.candidates, ["a", "b"]);
        assert_eq!(route.rules_revision, 42);
        assert_eq!(route.reason, "failover position 1");
        assert_eq!(normalized_destination.as_deref(), Some("447700900123"));
        assert!(!rerouted);
        let Decision::Route {
            normalized_destination,
            ..
        } = decide_now(&mt("447700900123", 1), &AllHealthy)
        else {
            panic!()
        };
        assert_eq!(normalized_destination, None, "already E.164");
    }

    #[test]
    fn failover_after_a_hand_back_and_its_limits() {
        let mut handed_back = mt("447700900123", 1);
        handed_back.attempt = 1;
        handed_back.failed_carriers = vec!["a".into()];
        let Decision::Route {
            carrier, rerouted, ..
        } = decide_now(&handed_back, &AllHealthy)
        else {
            panic!()
        };
        assert_eq!((carrier.as_str(), rerouted), ("b", true));
        handed_back.attempt = 2;
        handed_back.failed_carriers.push("b".into());
        let Decision::Refuse(r) = decide_now(&handed_back, &AllHealthy) else {
            panic!()
        };
        assert_eq!(r.label, "unreachable");
        assert_eq!(r.state, MessageState::Undeliverable);
        assert!(r.error.contains("failed on a, b"), "{}", r.error);
        handed_back.attempt = 3;
        let Decision::Refuse(r) = decide_now(&handed_back, &AllHealthy) else {
            panic!()
        };
        assert_eq!(r.label, "exhausted");
        let mut expired = mt("447700900123", 1);
        expired.validity_unix_ms = unix_ms(now()) - 1;
        let Decision::Refuse(r) = decide_now(&expired, &AllHealthy) else {
            panic!()
        };
        assert_eq!((r.label, r.state), ("expired", MessageState::Expired));
    }

    #[test]
    fn refusals() {
        let Decision::Refuse(r) = decide_now(&mt("33612345678", 1), &AllHealthy) else {
            panic!()
        };
        assert_eq!((r.label, r.state), ("rejected", MessageState::Rejected));
        assert!(r.error.contains("ESME_RINVDSTADR"), "{}", r.error);
        assert_eq!(r.rule_id.as_deref(), Some("fr"));
        let Decision::Refuse(r) = decide_now(&mt("15551234", 1), &AllHealthy) else {
            panic!()
        };
        assert_eq!(
            (r.label, r.state),
            ("no_route", MessageState::Undeliverable)
        );
    }

    #[test]
    fn unhealthy_carriers_are_passed_over_and_segments_stay_together() {
        let Decision::Route { carrier, .. } =
            decide_now(&mt("447700900123", 1), &UnhealthyCarriers::new(["a"]))
        else {
            panic!()
        };
        assert_eq!(carrier, "b");
        let mut carriers = std::collections::BTreeSet::new();
        for id in ["S1", "S2", "S3"] {
            let mut segment = mt("4915112345678", 1);
            segment.id = id.into();
            segment.segment = Some(Segment {
                reference: 9,
                total: 3,
                seq: 1,
            });
            if let Decision::Route { carrier, .. } = decide_now(&segment, &AllHealthy) {
                carriers.insert(carrier);
            }
        }
        assert_eq!(carriers.len(), 1);
    }
}
