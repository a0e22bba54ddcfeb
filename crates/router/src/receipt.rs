//! Synthetic failure receipts: what the account hears when Herald itself refuses or gives
//! up on a message (a reject route, no route, an opted-out destination, failover
//! exhausted, validity ended), and the status record that goes with it.
//!
//! A failure receipt is an ordinary [`Receipt`] event on the account's event subject with
//! `synthetic = true`, so the edge delivers it like a carrier's: the Herald message id as
//! `receipted_message_id`, the state (`REJECTD`, `UNDELIV`, `EXPIRED`) and Herald's reason
//! as the error text. It is sent only when the message's `registered_delivery` asks for
//! failure receipts (bits 0-1 equal to 1, "success or failure", or 2, "failure only").

use std::time::{SystemTime, UNIX_EPOCH};

use herald_bus::Outgoing;
use herald_bus::kv::Stage;
use herald_proto::bus::v1::{Event, MessageState, MessageStatus, MtMessage, Receipt, event};

/// Whether `registered_delivery` asks for a receipt when the message fails.
pub fn wants_failure_receipt(registered_delivery: u32) -> bool {
    matches!(registered_delivery & 0x03, 1 | 2)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The failure receipt event of `mt`, for its account.
pub fn failure_receipt(
    mt: &MtMessage,
    state: MessageState,
    carrier: &str,
    error: &str,
    now: SystemTime,
) -> Outgoing {
    let receipt = Receipt {
        message_id: mt.id.clone(),
        account_id: mt.account_id.clone(),
        state: state as i32,
        carrier_id: carrier.to_owned(),
        carrier_message_id: String::new(),
        error: error.to_owned(),
        network_error_code: 0,
        source: mt.source.clone(),
        destination: mt.destination.clone(),
        submit_unix_ms: mt.accepted_unix_ms,
        done_unix_ms: unix_ms(now),
        synthetic: true,
    };
    let event = Event {
        kind: Some(event::Kind::Receipt(receipt)),
    };
    // One final receipt per message, whoever makes it: a router that redoes the work after
    // a crash does not send a second one.
    Outgoing::event(
        &mt.account_id,
        herald_bus::publish::final_receipt_id(&mt.id),
        &event,
    )
}

/// The status record of `mt` at `stage`.
pub(crate) fn status(
    mt: &MtMessage,
    stage: Stage,
    state: MessageState,
    carrier: &str,
    error: &str,
    now: SystemTime,
) -> MessageStatus {
    MessageStatus {
        message_id: mt.id.clone(),
        account_id: mt.account_id.clone(),
        state: state as i32,
        stage: stage.as_str().to_owned(),
        carrier_id: carrier.to_owned(),
        carrier_message_id: String::new(),
        error: error.to_owned(),
        updated_unix_ms: unix_ms(now),
        source: mt.source.clone(),
        destination: mt.destination.clone(),
        submit_unix_ms: mt.accepted_unix_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_receipts_follow_registered_delivery() {
        assert!(!wants_failure_receipt(0), "none asked");
        assert!(wants_failure_receipt(1), "success or failure");
        assert!(wants_failure_receipt(2), "failure only");
        assert!(!wants_failure_receipt(3), "success only (SMPP 5.0)");
        assert!(wants_failure_receipt(0x11), "other bits do not matter");
    }
}
