//! Receipts that found no message when they came, matched later.
//!
//! A receipt whose carrier id is not mapped within `connector.receipt_match_retry` is not
//! given up: it is stored in the dead letters (`herald.dlq.receipts.<carrier>`, with
//! [`HELD_REASON`]), the carrier is answered, and every connector's matcher takes the
//! held receipts from the durable consumer [`MATCHER`] and looks again, with a growing
//! pause, for up to `connector.receipt_hold`:
//!
//! | found | what happens |
//! | --- | --- |
//! | its carrier id's mapping | published like any receipt (`matched_late`) |
//! | no mapping, but its handset's message was sent again after an unrecorded attempt ([`herald_bus::CarrierIdMap::resent_to`]) and already has a final status | the receipt of a duplicate send: nothing published (`repeated`) |
//! | the same, no final status by the end of the hold | published as that message's final receipt (`matched_late`) |
//! | nothing by the end of the hold | left in the dead letters for operators (`unmatched`, alert `HeraldReceiptsUnmatched`) |
//!
//! The dead letter itself stays in `HERALD_DLQ` whatever happens (the stream keeps what
//! its consumers ack). Receipts dead-lettered by older versions (another reason) are
//! matched once, and left alone if that fails: they were counted when they came.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use herald_bus::{ConsumerSpec, Delivery, StreamKind};
use herald_proto::bus::v1::CarrierIdMapping;
use tokio::sync::watch;

use crate::connector::Shared;
use crate::inbound::{
    Delivered, ReceiptReport, count_receipt, handset, receipt_id_format, receipt_key,
    settle_receipt,
};
use herald_backoff::Backoff;
use herald_bus::lifecycle::unix_ms;

/// The dead-letter reason of a receipt held for matching.
pub const HELD_REASON: &str = "no Herald message for this carrier id yet: held for matching";

/// The durable consumer of held receipts, shared by every connector.
pub const MATCHER: &str = "receipt-matcher";

/// Header on a receipt's dead letter: the carrier it came from.
pub const CARRIER_HEADER: &str = "Herald-Carrier";
/// Header on a receipt's dead letter: the carrier's message id it names.
pub const CARRIER_MSG_ID_HEADER: &str = "Herald-Carrier-Msg-Id";

/// Held receipts pulled at a time.
const BATCH: usize = 64;

/// The longest pause between two looks at one held receipt.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// The consumer of held receipts: never dead-letters on its own (the hold decides).
fn spec() -> ConsumerSpec {
    ConsumerSpec {
        max_deliveries: u32::MAX,
        ..ConsumerSpec::new(
            StreamKind::DeadLetters,
            MATCHER,
            crate::inbound::receipt_dead_letters(">"),
        )
    }
}

/// Matches held receipts until `stop` turns true.
pub(crate) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    while !*stop.borrow() {
        let pulled = async {
            let consumer = shared.bus.consumer(spec()).await?;
            consumer.messages(BATCH).await
        };
        let mut deliveries = match pulled.await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::debug!(%error, "held receipts not reachable yet");
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        backoff.reset();
        loop {
            let next = tokio::select! {
                next = deliveries.next() => next,
                _ = stop.changed() => return,
            };
            match next {
                Some(Ok(delivery)) => look_again(&shared, delivery).await,
                Some(Err(error)) => {
                    tracing::debug!(%error, "pulling held receipts failed; starting again");
                    break;
                }
                None => break,
            }
        }
    }
}

/// One look at a held receipt: matched, recognised as a repeat, held on, or given up.
async fn look_again(shared: &Shared, delivery: Delivery) {
    let Some(held) = Held::read(&delivery) else {
        // Nothing to match it by (no id, not a receipt): it stays where it is.
        herald_bus::consume::settle_logged(delivery.ack().await);
        return;
    };
    let carrier = held.carrier.as_str();
    let report = &held.report;
    let key = receipt_key(
        receipt_id_format(shared, carrier),
        &report.carrier_message_id,
    );
    let hold = shared.config.receipt_hold;
    let age = delivery
        .published()
        .and_then(|at| at.elapsed().ok())
        .unwrap_or(Duration::MAX);
    let expired = age >= hold || !held.ours;
    let found = match shared.id_map.get(carrier, &key).await {
        Ok(found) => found,
        Err(error) => {
            tracing::debug!(%carrier, %error, "id map lookup failed; looking again later");
            retry(delivery, Duration::from_secs(5)).await;
            return;
        }
    };
    let mapping = match found {
        Some(mapping) => Some(mapping),
        None => match resend_of(shared, &held, &delivery, hold).await {
            Some(resent) if has_final(shared, &resent.message_id).await => {
                // The receipt of the attempt nobody recorded; the resend's is out.
                tracing::info!(%carrier, carrier_message_id = %report.carrier_message_id, message = %resent.message_id, "held receipt belongs to a message sent twice; its final receipt is out already");
                count_receipt(carrier, "repeated");
                herald_bus::consume::settle_logged(delivery.ack().await);
                return;
            }
            // The resend's own receipt may still come: it goes first, unless the hold
            // is over.
            Some(resent) if expired => Some(resent),
            _ => None,
        },
    };
    if let Some(mapping) = mapping {
        match settle_receipt(shared, carrier, report, &mapping).await {
            Ok(outcome) => {
                let outcome = if outcome == "matched" {
                    "matched_late"
                } else {
                    outcome
                };
                tracing::info!(%carrier, carrier_message_id = %report.carrier_message_id, message = %mapping.message_id, "held receipt matched");
                count_receipt(carrier, outcome);
                herald_bus::consume::settle_logged(delivery.ack().await);
            }
            Err(error) => {
                tracing::debug!(%carrier, %error, "held receipt not published; looking again later");
                retry(delivery, Duration::from_secs(5)).await;
            }
        }
        return;
    }
    if !expired {
        let pause = pause_after(delivery.deliveries()).min(hold.saturating_sub(age));
        retry(delivery, pause.max(Duration::from_millis(100))).await;
        return;
    }
    if held.ours {
        tracing::warn!(%carrier, carrier_message_id = %report.carrier_message_id, ?hold, "receipt matched no message within the hold; left in the dead letters");
        count_receipt(carrier, "unmatched");
    }
    herald_bus::consume::settle_logged(delivery.ack().await);
}

/// A held receipt as read from its dead letter.
struct Held {
    carrier: String,
    report: ReceiptReport,
    /// Held by this version (else dead-lettered by an older one and counted then).
    ours: bool,
}

impl Held {
    fn read(delivery: &Delivery) -> Option<Held> {
        let carrier = delivery.header(CARRIER_HEADER)?.to_owned();
        let pdu = herald_smpp::Pdu::decode(delivery.payload().clone()).ok()?;
        let report = ReceiptReport::read(&Delivered::of(&pdu)?)?;
        let ours = delivery.header(herald_bus::consume::DLQ_REASON_HEADER) == Some(HELD_REASON);
        Some(Held {
            carrier,
            report,
            ours,
        })
    }
}

/// The message last sent again to the held receipt's handset, if that resend is close
/// enough in time to the receipt (within the hold either side) to be what it answers.
async fn resend_of(
    shared: &Shared,
    held: &Held,
    delivery: &Delivery,
    hold: Duration,
) -> Option<CarrierIdMapping> {
    let to = handset(&held.report.handset);
    if to.is_empty() {
        return None;
    }
    let resent = match shared.id_map.resent_to(&held.carrier, to).await {
        Ok(resent) => resent?,
        Err(error) => {
            tracing::debug!(%error, "resend lookup failed");
            return None;
        }
    };
    let held_at = unix_ms(delivery.published().unwrap_or_else(SystemTime::now));
    let hold_ms = i64::try_from(hold.as_millis()).unwrap_or(i64::MAX);
    let close = resent.submit_unix_ms.abs_diff(held_at) <= hold_ms.unsigned_abs();
    close.then_some(CarrierIdMapping {
        resent: true,
        ..resent
    })
}

/// Whether `message_id` has a final status.
async fn has_final(shared: &Shared, message_id: &str) -> bool {
    matches!(
        shared.status.get(message_id).await,
        Ok(Some(status)) if herald_bus::kv::Stage::parse(&status.stage) == Some(herald_bus::kv::Stage::Final)
    )
}

/// The pause before the next look at a receipt looked at `deliveries` times: 1 s, 2 s,
/// 4 s, … up to [`MAX_PAUSE`].
fn pause_after(deliveries: u32) -> Duration {
    let exponent = deliveries.saturating_sub(1).min(6);
    (Duration::from_secs(1) * 2u32.pow(exponent)).min(MAX_PAUSE)
}

async fn retry(delivery: Delivery, pause: Duration) {
    if let Err(error) = delivery.retry_after(pause).await {
        tracing::debug!(%error, "held receipt not put back; the ack wait will");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_grows_and_is_capped() {
        assert_eq!(pause_after(1), Duration::from_secs(1));
        assert_eq!(pause_after(2), Duration::from_secs(2));
        assert_eq!(pause_after(4), Duration::from_secs(8));
        assert_eq!(pause_after(7), MAX_PAUSE);
        assert_eq!(pause_after(u32::MAX), MAX_PAUSE);
    }

    #[test]
    fn the_matcher_reads_the_receipts_dead_letters() {
        let spec = spec();
        assert_eq!(spec.filter, "herald.dlq.receipts.>");
        assert_eq!(spec.max_deliveries, u32::MAX);
    }
}
