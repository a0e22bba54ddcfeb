//! How a message taken from a carrier's queue ends: what is recorded, in which order,
//! before it is acked, handed back or failed.
//!
//! The order is what makes a connector's crash lose nothing (ADR 0012):
//!
//! - **Accepted by the carrier**: the `submitted` status, carrying the carrier's message
//!   id, is written first (unanswered), then the carrier-id mapping (answered, retried
//!   until stored: never given up while the connector lives), then the ack. So a message
//!   acked off the queue always has its mapping stored.
//! - **Redelivered** (a connector died, an ack was lost): the status is read first. If
//!   this carrier took it, it is not sent again, and the mapping is written again from
//!   the status when it is missing (the connector died between the two writes); then the
//!   ack. Otherwise it is sent again, marked `resent`: its mapping says another carrier
//!   id may belong to the message, and its handset is recorded so a receipt for the
//!   attempt nobody recorded is recognised ([`herald_bus::CarrierIdMap::record_resend`]).
//! - **Temporary failure**: redelivery on the carrier's retry schedule, or a failure once
//!   the attempts are spent.
//! - **Failure**: failover to the routers when the route allows it, else a failure
//!   receipt (when the ESME asked for one) and a final status.
//!
//! A failed ack is logged and left to the ack wait in one place, `ack`.

use std::time::{Duration, SystemTime};

use herald_bus::kv::Stage;
use herald_bus::{Delivery, Outgoing};
use herald_proto::bus::v1::{self as bus, CarrierIdMapping, MessageStatus, MtMessage};
use herald_rules::Carrier;
use herald_smpp::receipt::MessageState;
use herald_telemetry::{handles, names};
use tokio::time::Instant;

use crate::connector::Shared;
use crate::inbound::{handset, receipt_id_format, response_key};
use herald_backoff::Backoff;
use herald_bus::lifecycle::{self, unix_ms};

/// How long a message waits before going back to the bus when the bus refused a publish
/// that its settlement needed.
const SETTLE_RETRY: Duration = Duration::from_secs(1);

/// A message being worked on.
pub(crate) struct Job {
    pub(crate) delivery: Delivery,
    pub(crate) mt: MtMessage,
    /// The message's span here, from pull to settle; none unless traces are exported.
    pub(crate) span: tracing::Span,
    pub(crate) throttles: u32,
    pub(crate) last_progress: Instant,
    /// Sent again after a delivery whose outcome nobody recorded: see the module docs.
    pub(crate) resent: bool,
}

impl Job {
    /// A message just pulled.
    pub(crate) fn new(delivery: Delivery, mt: MtMessage, span: tracing::Span) -> Job {
        Job {
            delivery,
            mt,
            span,
            throttles: 0,
            last_progress: Instant::now(),
            resent: false,
        }
    }

    /// Resets the ack wait if a third of it has passed since the last reset, so a message
    /// this connector is still working on is not redelivered elsewhere.
    pub(crate) async fn keep_alive(&mut self, ack_wait: Duration) {
        if self.last_progress.elapsed() >= ack_wait / 3 {
            herald_bus::consume::settle_logged(self.delivery.in_progress().await);
            self.last_progress = Instant::now();
        }
    }

    /// The carrier-id mapping of this message, submitted at `submit_unix_ms`; with the
    /// whole envelope when the carrier's failure receipts may send it on
    /// (`reroute_on_receipt`), since the receipt comes after the queue forgot it.
    fn mapping(&self, submit_unix_ms: i64, keep_envelope: bool) -> CarrierIdMapping {
        let mt = &self.mt;
        CarrierIdMapping {
            message_id: mt.id.clone(),
            account_id: mt.account_id.clone(),
            submit_unix_ms,
            source: mt.source.clone(),
            destination: mt.destination.clone(),
            registered_delivery: mt.registered_delivery,
            traceparent: herald_telemetry::traceparent_of(&self.span),
            resent: self.resent,
            envelope: keep_envelope.then(|| mt.clone()),
            rerouted: false,
            client_ref: mt.client_ref.clone(),
        }
    }
}

/// Acks a settled message; a lost ack leaves it to the ack wait, after which the
/// redelivery finds its status and does not send it again.
async fn ack(delivery: Delivery, message_id: &str) {
    if let Err(error) = delivery.ack().await {
        tracing::warn!(message = %message_id, %error, "ack failed: the message will be redelivered and checked against its status");
    }
}

/// What [`count_redelivered`] counts.
const REDELIVERED_OUTCOMES: [&str; 3] = ["already_submitted", "mapping_repaired", "sent_again"];

/// Shows `carrier`'s redelivery counters at zero from the start, so a rate over them is
/// defined before the first crash.
pub(crate) fn register_redelivered(carrier: &str) {
    for outcome in REDELIVERED_OUTCOMES {
        count_redelivered_by(carrier, outcome, 0);
    }
}

/// Counts what became of a redelivered message (one of [`REDELIVERED_OUTCOMES`]).
fn count_redelivered(carrier: &str, outcome: &'static str) {
    count_redelivered_by(carrier, outcome, 1);
}

fn count_redelivered_by(carrier: &str, outcome: &'static str, by: u64) {
    handles::counter(
        names::CONNECTOR_REDELIVERED_TOTAL,
        &[
            (names::labels::CARRIER, carrier),
            (names::labels::STATUS, outcome),
        ],
    )
    .increment(by);
}

/// Back to the bus at once, for another connector or a later try; no attempt is spent
/// that did not reach the carrier.
pub(crate) async fn hand_back(job: Job) {
    herald_bus::consume::settle_logged(job.delivery.retry_after(Duration::ZERO).await);
}

/// A redelivered message: acked without sending when this carrier already took it (its
/// mapping repaired if missing), else returned to be sent again, marked resent.
pub(crate) async fn redelivered(shared: &Shared, carrier: &str, mut job: Job) -> Option<Job> {
    let stored = match shared.status.get(&job.mt.id).await {
        Ok(stored) => stored,
        Err(error) => {
            // Not knowing is not knowing it was sent: sending again risks a duplicate,
            // not sending risks a loss.
            tracing::warn!(message = %job.mt.id, %error, "status of a redelivered message unknown; sending it again");
            None
        }
    };
    let Some(status) = stored.filter(|status| taken_by(status, carrier)) else {
        job.resent = true;
        count_redelivered(carrier, "sent_again");
        record_resend(shared, carrier, &job).await;
        return Some(job);
    };
    tracing::info!(message = %job.mt.id, %carrier, "redelivered message was already submitted; not sending it again");
    if !status.carrier_message_id.is_empty() {
        let key = response_key_of(shared, carrier, &status.carrier_message_id);
        let mapped = matches!(shared.id_map.get(carrier, &key).await, Ok(Some(_)));
        if !mapped {
            // The connector that sent it died between the status and the mapping.
            let mapping = job.mapping(status.submit_unix_ms, reroutes_on_receipt(shared, carrier));
            store_mapping(shared, carrier, &key, &mapping, &mut job).await;
            tracing::info!(message = %job.mt.id, %carrier, carrier_message_id = %status.carrier_message_id, "carrier id mapping repaired from the status");
            count_redelivered(carrier, "mapping_repaired");
        }
    }
    count_redelivered(carrier, "already_submitted");
    ack(job.delivery, &job.mt.id).await;
    None
}

/// Whether `carrier`'s rules send a message on after some failure receipts, so its
/// mappings keep the envelope (a rules lookup: off the send path, on redeliveries only).
fn reroutes_on_receipt(shared: &Shared, carrier: &str) -> bool {
    shared
        .rules
        .snapshot()
        .carrier(carrier)
        .is_some_and(|c| c.reroute_on_receipt.is_some())
}

/// Whether the status a redelivered message left says `carrier` took it already: this
/// carrier's, and submitted or final. Anything else (another carrier's attempt, a failover
/// that went elsewhere, only routed) means it is sent again.
fn taken_by(status: &MessageStatus, carrier: &str) -> bool {
    status.carrier_id == carrier
        && matches!(
            Stage::parse(&status.stage),
            Some(Stage::Submitted | Stage::Final)
        )
}

/// The id-map key of `carrier_message_id` as `carrier`'s receipts will use it.
fn response_key_of(shared: &Shared, carrier: &str, carrier_message_id: &str) -> String {
    response_key(receipt_id_format(shared, carrier), carrier_message_id)
}

/// Notes a resend under its handset, before it goes out: best effort, since what it
/// serves (recognising a receipt whose carrier id Herald never learned) is itself a
/// fallback.
async fn record_resend(shared: &Shared, carrier: &str, job: &Job) {
    let Some(to) = job.mt.destination.as_ref() else {
        return;
    };
    let mapping = job.mapping(
        unix_ms(SystemTime::now()),
        reroutes_on_receipt(shared, carrier),
    );
    if let Err(error) = shared
        .id_map
        .record_resend(carrier, handset(&to.addr), &mapping)
        .await
    {
        tracing::debug!(message = %job.mt.id, %error, "resend not recorded");
    }
}

/// Stores `mapping` under `key`, retrying until it is stored: a message acked without
/// its mapping would have its receipt unmatched. The message is kept from redelivery
/// meanwhile; if the connector dies first, the redelivery repairs the mapping from the
/// `submitted` status.
async fn store_mapping(
    shared: &Shared,
    carrier: &str,
    key: &str,
    mapping: &CarrierIdMapping,
    job: &mut Job,
) {
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
    let mut failures: u32 = 0;
    loop {
        match shared.id_map.insert(carrier, key, mapping).await {
            Ok(()) => return,
            Err(error) => {
                failures += 1;
                // Loud once, then quietly: NATS being away is logged elsewhere too.
                if failures == 1 {
                    tracing::warn!(message = %mapping.message_id, %carrier, %error, "carrier id not recorded yet; retrying until it is");
                } else {
                    tracing::debug!(message = %mapping.message_id, %carrier, %error, failures, "carrier id still not recorded");
                }
                job.keep_alive(shared.config.ack_wait).await;
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}

/// The carrier took the message: the status (unanswered, so first), then the id map
/// (until stored), then the ack.
pub(crate) async fn accepted(
    shared: &Shared,
    carrier: &Carrier,
    mut job: Job,
    carrier_message_id: String,
) {
    let at = SystemTime::now();
    let now = unix_ms(at);
    let status = MessageStatus {
        carrier_message_id: carrier_message_id.clone(),
        // When the carrier took it: what its receipt's submit date will say.
        submit_unix_ms: now,
        ..lifecycle::status(
            &job.mt,
            Stage::Submitted,
            bus::MessageState::Enroute,
            &carrier.id,
            "",
            at,
        )
    };
    // First, before the mapping: the receipt's final status must find it stored, and a
    // redelivery after a crash before the mapping is stored finds the carrier id here.
    if let Err(error) = shared.status.put_unconfirmed(&status).await {
        tracing::debug!(message = %job.mt.id, %error, "status not recorded");
    }
    if carrier_message_id.is_empty() {
        tracing::warn!(message = %job.mt.id, carrier = %carrier.id, "carrier gave no message id: its receipt cannot be matched");
    } else {
        let key = response_key(carrier.receipt_id_format, &carrier_message_id);
        let mapping = job.mapping(now, carrier.reroute_on_receipt.is_some());
        store_mapping(shared, &carrier.id, &key, &mapping, &mut job).await;
    }
    ack(job.delivery, &job.mt.id).await;
}

/// A temporary failure: redelivery on the carrier's schedule, or a failure once its
/// attempts are spent.
pub(crate) async fn temporary(shared: &Shared, carrier: &Carrier, job: Job, reason: String) {
    match after_temporary(carrier, job.delivery.deliveries(), &reason) {
        AfterTemporary::RetryAfter(delay) => {
            tracing::debug!(message = %job.mt.id, carrier = %carrier.id, %reason, ?delay, "will retry");
            if let Err(error) = job.delivery.retry_after(delay).await {
                tracing::warn!(%error, "nak failed; the ack wait will redeliver");
            }
        }
        AfterTemporary::Fail(failure) => fail(shared, carrier, job, failure).await,
    }
}

/// What becomes of a message that failed for a reason that may pass.
#[derive(Debug)]
enum AfterTemporary {
    /// Redelivered after this long (the carrier's `retry_schedule`).
    RetryAfter(Duration),
    /// Its `max_attempts` are spent: it fails, undeliverable, and may fail over.
    Fail(Failure),
}

/// The carrier's retry rule for a temporary failure (`reason`) on the message's
/// `deliveries`-th delivery.
fn after_temporary(carrier: &Carrier, deliveries: u32, reason: &str) -> AfterTemporary {
    if deliveries >= carrier.max_attempts {
        AfterTemporary::Fail(Failure {
            state: MessageState::Undeliverable,
            error: format!("gave up after {deliveries} attempts: {reason}"),
            network_error_code: 0,
            may_fail_over: true,
        })
    } else {
        AfterTemporary::RetryAfter(carrier.retry_delay(deliveries.saturating_add(1)))
    }
}

/// Why a message ends here.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) state: MessageState,
    pub(crate) error: String,
    pub(crate) network_error_code: u32,
    pub(crate) may_fail_over: bool,
}

/// The message cannot go through this carrier: failover when the route allows it, else a
/// failure receipt (when the ESME asked for one) and a final status; then the ack.
pub(crate) async fn fail(shared: &Shared, carrier: &Carrier, job: Job, failure: Failure) {
    let mt = &job.mt;
    if failure.may_fail_over
        && let Some(handed) = job.span.in_scope(|| Outgoing::handed_back(mt, &carrier.id))
    {
        match shared.publisher.publish_acked(handed).await {
            Ok(_) => {
                tracing::info!(message = %mt.id, carrier = %carrier.id, error = %failure.error, "handed back to the routers for failover");
                ack(job.delivery, &job.mt.id).await;
            }
            Err(error) => {
                tracing::warn!(message = %mt.id, %error, "failover not published; retrying later");
                herald_bus::consume::settle_logged(job.delivery.retry_after(SETTLE_RETRY).await);
            }
        }
        return;
    }
    let now = SystemTime::now();
    let state = lifecycle::bus_state(failure.state);
    if lifecycle::receipt_wanted(mt.registered_delivery, failure.state) {
        let receipt = lifecycle::failure_receipt(
            mt,
            lifecycle::Failure {
                state,
                carrier: &carrier.id,
                error: &failure.error,
                network_error_code: failure.network_error_code,
            },
            now,
        );
        if let Err(error) = shared
            .publisher
            .publish_acked(
                job.span
                    .in_scope(|| lifecycle::final_receipt_event(receipt)),
            )
            .await
        {
            tracing::warn!(message = %mt.id, %error, "failure receipt not published; retrying later");
            herald_bus::consume::settle_logged(job.delivery.retry_after(SETTLE_RETRY).await);
            return;
        }
    }
    let status = MessageStatus {
        // The time the carrier took it stays as `accepted` recorded it.
        submit_unix_ms: 0,
        ..lifecycle::status(mt, Stage::Final, state, &carrier.id, &failure.error, now)
    };
    if let Err(error) = shared.status.advance(&status).await {
        tracing::debug!(message = %mt.id, %error, "status not recorded");
    }
    tracing::info!(message = %mt.id, carrier = %carrier.id, state = %failure.state, error = %failure.error, "message failed");
    ack(job.delivery, &job.mt.id).await;
}

/// The status of a message its ESME cancelled before it reached the carrier: recorded,
/// and the message acked without sending it.
pub(crate) async fn cancelled(shared: &Shared, delivery: Delivery, mt: MtMessage) {
    let record = MessageStatus {
        submit_unix_ms: 0,
        ..lifecycle::status(
            &mt,
            Stage::Final,
            bus::MessageState::Deleted,
            "",
            "cancelled by the ESME",
            SystemTime::now(),
        )
    };
    if let Err(error) = shared.status.advance(&record).await {
        tracing::warn!(%error, "status not recorded");
    }
    tracing::info!(message = %mt.id, "cancelled before submission; not sent");
    ack(delivery, &mt.id).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn carrier(max_attempts: u32, retry_schedule: &[&str]) -> Carrier {
        serde_json::from_value(serde_json::json!({
            "id": "sim", "host": "127.0.0.1", "port": 2775, "system_id": "herald",
            "password": {"env": "X"}, "throughput": {"tps": 10}, "max_attempts": max_attempts,
            "retry_schedule": retry_schedule,
        }))
        .unwrap()
    }

    #[test]
    fn a_temporary_failure_waits_on_the_carriers_schedule_until_its_attempts_are_spent() {
        let carrier = carrier(3, &["10s", "1m"]);
        let retry = |deliveries| match after_temporary(&carrier, deliveries, "busy") {
            AfterTemporary::RetryAfter(delay) => delay,
            other => panic!("delivery {deliveries}: {other:?}"),
        };
        // The first delivery failed: the second attempt waits the schedule's first entry.
        assert_eq!(retry(1), Duration::from_secs(10));
        assert_eq!(retry(2), Duration::from_secs(60));
        let AfterTemporary::Fail(failure) = after_temporary(&carrier, 3, "busy") else {
            panic!("the third delivery was the last attempt");
        };
        assert_eq!(failure.state, MessageState::Undeliverable);
        assert!(failure.may_fail_over, "another carrier may still take it");
        assert_eq!(failure.error, "gave up after 3 attempts: busy");
    }

    #[test]
    fn the_schedules_last_entry_repeats() {
        let carrier = carrier(10, &["5s", "30s"]);
        for deliveries in 2..9 {
            assert!(matches!(
                after_temporary(&carrier, deliveries, "busy"),
                AfterTemporary::RetryAfter(delay) if delay == Duration::from_secs(30)
            ));
        }
    }

    #[test]
    fn only_this_carriers_submitted_or_final_status_stops_a_resend() {
        let status = |carrier: &str, stage: Stage| MessageStatus {
            carrier_id: carrier.to_owned(),
            stage: stage.as_str().to_owned(),
            ..MessageStatus::default()
        };
        assert!(taken_by(&status("sim", Stage::Submitted), "sim"));
        assert!(taken_by(&status("sim", Stage::Final), "sim"));
        // Routed to it but never taken: the connector died before the carrier answered.
        assert!(!taken_by(&status("sim", Stage::Routed), "sim"));
        assert!(!taken_by(&status("sim", Stage::Accepted), "sim"));
        // Another carrier took it, and failover brought it here: this one must send it.
        assert!(!taken_by(&status("other", Stage::Submitted), "sim"));
        assert!(!taken_by(&MessageStatus::default(), "sim"));
    }
}
