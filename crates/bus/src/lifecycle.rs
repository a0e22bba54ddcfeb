//! What every role must agree on about a message's life, in one place: the states and
//! stages it passes through and how they map to SMPP's, when a receipt is owed to the
//! account, what a failure receipt Herald makes looks like, and the status record each
//! step leaves.
//!
//! The router (reject routes, no route, validity ended), the connector (a carrier's
//! refusal, a receipt) and the edge (`query_sm`, `deliver_sm`) each build or read these;
//! when they built them from copies, the copies could drift. The dedup id of a final
//! receipt is [`crate::publish::final_receipt_id`]; a message handed back for failover
//! is [`crate::Outgoing::handed_back`].

use std::time::{SystemTime, UNIX_EPOCH};

use herald_proto::bus::v1::{self as bus, Event, MessageStatus, MtMessage, Receipt, event};
use herald_smpp::receipt::MessageState;
use herald_smpp::types::RegisteredDelivery;

use crate::Outgoing;
use crate::kv::Stage;

/// Milliseconds since the Unix epoch: 0 before it, `i64::MAX` past what fits.
pub fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The bus state of an SMPP `message_state` (the bus enum counts from 1, SMPP from 0).
pub fn bus_state(state: MessageState) -> bus::MessageState {
    match state {
        MessageState::Scheduled => bus::MessageState::Scheduled,
        MessageState::Enroute => bus::MessageState::Enroute,
        MessageState::Delivered => bus::MessageState::Delivered,
        MessageState::Expired => bus::MessageState::Expired,
        MessageState::Deleted => bus::MessageState::Deleted,
        MessageState::Undeliverable => bus::MessageState::Undeliverable,
        MessageState::Accepted => bus::MessageState::Accepted,
        MessageState::Rejected => bus::MessageState::Rejected,
        MessageState::Skipped => bus::MessageState::Skipped,
        MessageState::Unknown | MessageState::Other(_) => bus::MessageState::Unknown,
    }
}

/// The SMPP `message_state` of a bus state.
pub fn smpp_state(state: bus::MessageState) -> MessageState {
    match state {
        bus::MessageState::Unspecified | bus::MessageState::Unknown => MessageState::Unknown,
        bus::MessageState::Scheduled => MessageState::Scheduled,
        bus::MessageState::Enroute => MessageState::Enroute,
        bus::MessageState::Delivered => MessageState::Delivered,
        bus::MessageState::Expired => MessageState::Expired,
        bus::MessageState::Deleted => MessageState::Deleted,
        bus::MessageState::Undeliverable => MessageState::Undeliverable,
        bus::MessageState::Accepted => MessageState::Accepted,
        bus::MessageState::Rejected => MessageState::Rejected,
        bus::MessageState::Skipped => MessageState::Skipped,
    }
}

/// Whether a message in `state` stays there: no later receipt changes it.
pub fn is_final(state: bus::MessageState) -> bool {
    smpp_state(state).is_final()
}

/// Whether the account asked (`registered_delivery`) for a receipt in `state`: a final
/// state by its outcome, any other only when intermediate notifications were asked for.
/// A state nobody can read (`UNKNOWN`, a carrier's private `stat`) goes to accounts that
/// asked for failure receipts: it is not a success, and it may be the only receipt the
/// carrier sends.
pub fn receipt_wanted(registered_delivery: u32, state: MessageState) -> bool {
    let registered = RegisteredDelivery(u8::try_from(registered_delivery).unwrap_or(0));
    match state {
        MessageState::Unknown | MessageState::Other(_) => registered.wants_final_receipt(false),
        state if state.is_final() => {
            registered.wants_final_receipt(state == MessageState::Delivered)
        }
        _ => registered.intermediate(),
    }
}

/// Why Herald itself ended a message: what its failure receipt and status say.
#[derive(Clone, Copy, Debug)]
pub struct Failure<'a> {
    /// The final state (`Rejected`, `Undeliverable`, `Expired`, ...).
    pub state: bus::MessageState,
    /// The carrier it was meant for, or `""` (no route).
    pub carrier: &'a str,
    /// Herald's reason, the receipt's error text.
    pub error: &'a str,
    /// The carrier's network error code, when a carrier gave one.
    pub network_error_code: u32,
}

/// The receipt Herald makes for `mt` when it ends the message itself (a reject route, no
/// route, an opted-out destination, failover exhausted, validity ended, a carrier's
/// refusal), at `now`. It is an ordinary receipt with `synthetic = true`, so the edge
/// delivers it like a carrier's: the Herald message id as `receipted_message_id`, the
/// state (`REJECTD`, `UNDELIV`, `EXPIRED`) and Herald's reason as the error text. Whether
/// the account wants it is [`receipt_wanted`]'s to say.
pub fn failure_receipt(mt: &MtMessage, failure: Failure<'_>, now: SystemTime) -> Receipt {
    Receipt {
        message_id: mt.id.clone(),
        account_id: mt.account_id.clone(),
        state: failure.state.into(),
        carrier_id: failure.carrier.to_owned(),
        carrier_message_id: String::new(),
        error: failure.error.to_owned(),
        network_error_code: failure.network_error_code,
        source: mt.source.clone(),
        destination: mt.destination.clone(),
        submit_unix_ms: mt.accepted_unix_ms,
        done_unix_ms: unix_ms(now),
        synthetic: true,
        client_ref: mt.client_ref.clone(),
    }
}

/// `receipt`, a final one, as the event for its account: under the message's final
/// receipt id, so whoever makes it (a router redoing its work after a crash, a connector,
/// the carrier) the account hears one.
pub fn final_receipt_event(receipt: Receipt) -> Outgoing {
    let account = receipt.account_id.clone();
    let dedup = crate::publish::final_receipt_id(&receipt.message_id);
    let event = Event {
        kind: Some(event::Kind::Receipt(receipt)),
    };
    Outgoing::event(&account, dedup, &event)
}

/// The status record of `mt` at `stage` in `state`, at `now`.
pub fn status(
    mt: &MtMessage,
    stage: Stage,
    state: bus::MessageState,
    carrier: &str,
    error: &str,
    now: SystemTime,
) -> MessageStatus {
    MessageStatus {
        message_id: mt.id.clone(),
        account_id: mt.account_id.clone(),
        state: state.into(),
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
    fn states_map_both_ways() {
        for state in [
            MessageState::Scheduled,
            MessageState::Enroute,
            MessageState::Delivered,
            MessageState::Expired,
            MessageState::Deleted,
            MessageState::Undeliverable,
            MessageState::Accepted,
            MessageState::Rejected,
            MessageState::Skipped,
            MessageState::Unknown,
        ] {
            assert_eq!(smpp_state(bus_state(state)), state);
            assert_eq!(is_final(bus_state(state)), state.is_final());
        }
        assert_eq!(
            bus_state(MessageState::Other(42)),
            bus::MessageState::Unknown
        );
        assert_eq!(
            smpp_state(bus::MessageState::Unspecified),
            MessageState::Unknown
        );
    }

    #[test]
    fn receipts_follow_registered_delivery() {
        let failed = MessageState::Undeliverable;
        assert!(!receipt_wanted(0, failed), "none asked");
        assert!(receipt_wanted(1, failed), "success or failure");
        assert!(receipt_wanted(2, failed), "failure only");
        assert!(!receipt_wanted(3, failed), "success only (SMPP 5.0)");
        assert!(receipt_wanted(3, MessageState::Delivered));
        assert!(!receipt_wanted(2, MessageState::Delivered));
        assert!(
            !receipt_wanted(1, MessageState::Enroute),
            "no intermediate asked"
        );
        assert!(receipt_wanted(0x11, MessageState::Enroute));
        assert!(
            receipt_wanted(2, MessageState::Unknown),
            "unknown counts as failed"
        );
        assert!(!receipt_wanted(3, MessageState::Unknown));
        assert!(receipt_wanted(2, MessageState::Expired));
        assert!(receipt_wanted(1, MessageState::Other(9)));
    }

    #[test]
    fn unix_ms_saturates() {
        assert_eq!(unix_ms(UNIX_EPOCH - std::time::Duration::from_secs(1)), 0);
        assert_eq!(
            unix_ms(UNIX_EPOCH + std::time::Duration::from_millis(1500)),
            1500
        );
    }
}
