//! The JSON a webhook is sent: one event per request, versioned.
//!
//! ```json
//! {"type": "message.receipt", "version": 1, "id": "<webhook id>",
//!  "data": {"message_id": "…", "client_ref": "order-42", "state": "delivered",
//!           "error": "", "error_code": 0,
//!           "from": "ACME", "to": "447700900123",
//!           "submitted_at_ms": 1764115200000, "done_at_ms": 1764115201000,
//!           "synthetic": false}}
//! {"type": "message.mo", "version": 1, "id": "<webhook id>",
//!  "data": {"id": "…", "from": "447700900123", "to": "80080", "text": "STOP",
//!           "data_coding": 0, "received_at_ms": 1764115200000,
//!           "segment": {"reference": 7, "total": 2, "seq": 1}}}
//! ```
//!
//! The schema is in `docs/openapi.yaml` (`webhooks`). A field is never removed or changed
//! within a version; new fields may appear, so receivers ignore what they do not know.

use herald_proto::bus::v1::{Event, MessageState, MoMessage, Receipt, event};
use herald_smpp::text::{self, Encoding};
use serde_json::{Value, json};

/// The schema version of every body this module makes.
pub const VERSION: u32 = 1;

/// What an event is, for the account's `events` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A delivery receipt.
    Receipt,
    /// A mobile-originated message.
    Mo,
}

/// The body of `event` and its kind; `None` for an event of no kind.
///
/// `id` is the webhook id (the same on every retry): the receipt's or MO's dedup id on the
/// bus.
pub fn body(id: &str, event: &Event) -> Option<(Kind, Vec<u8>)> {
    let (kind, kind_name, data) = match event.kind.as_ref()? {
        event::Kind::Receipt(receipt) => (Kind::Receipt, "message.receipt", receipt_data(receipt)),
        event::Kind::Mo(mo) => (Kind::Mo, "message.mo", mo_data(mo)),
    };
    let body = json!({ "type": kind_name, "version": VERSION, "id": id, "data": data });
    serde_json::to_vec(&body).ok().map(|bytes| (kind, bytes))
}

fn receipt_data(r: &Receipt) -> Value {
    let state = MessageState::try_from(r.state).unwrap_or(MessageState::Unknown);
    json!({
        "message_id": r.message_id,
        "client_ref": r.client_ref,
        "state": state_name(state),
        "error": r.error,
        "error_code": r.network_error_code,
        "from": r.source.as_ref().map_or("", |a| a.addr.as_str()),
        "to": r.destination.as_ref().map_or("", |a| a.addr.as_str()),
        "submitted_at_ms": r.submit_unix_ms,
        "done_at_ms": r.done_unix_ms,
        "synthetic": r.synthetic,
    })
}

fn mo_data(mo: &MoMessage) -> Value {
    let payload = user_data(mo);
    let text = u8::try_from(mo.data_coding)
        .ok()
        .and_then(|dc| Encoding::from_data_coding(dc).ok())
        .and_then(|encoding| text::decode(payload, encoding).ok());
    let mut data = json!({
        "id": mo.id,
        "from": mo.source.as_ref().map_or("", |a| a.addr.as_str()),
        "to": mo.destination.as_ref().map_or("", |a| a.addr.as_str()),
        "text": text,
        "data_coding": mo.data_coding,
        "received_at_ms": mo.received_unix_ms,
    });
    if let Some(segment) = &mo.segment {
        data["segment"] = json!({
            "reference": segment.reference, "total": segment.total, "seq": segment.seq,
        });
    }
    data
}

/// The MO's text octets: past its UDH when `esm_class` says it has one.
fn user_data(mo: &MoMessage) -> &[u8] {
    let has_udh = mo.esm_class & 0x40 != 0;
    match mo.payload.first() {
        Some(&len) if has_udh => mo.payload.get(usize::from(len) + 1..).unwrap_or_default(),
        _ => &mo.payload,
    }
}

/// A state's name in the body.
fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Unspecified | MessageState::Unknown => "unknown",
        MessageState::Scheduled => "scheduled",
        MessageState::Enroute => "enroute",
        MessageState::Delivered => "delivered",
        MessageState::Expired => "expired",
        MessageState::Deleted => "deleted",
        MessageState::Undeliverable => "undeliverable",
        MessageState::Accepted => "accepted",
        MessageState::Rejected => "rejected",
        MessageState::Skipped => "skipped",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use herald_proto::bus::v1::{Address, Segment};

    use super::*;

    fn parsed(id: &str, event: &Event) -> (Kind, Value) {
        let (kind, bytes) = body(id, event).unwrap();
        (kind, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn a_receipt_says_which_message_and_how_it_ended() {
        let receipt = Receipt {
            message_id: "m1".into(),
            state: MessageState::Undeliverable.into(),
            error: "absent subscriber".into(),
            network_error_code: 27,
            destination: Some(Address {
                addr: "447700900123".into(),
                ton: 1,
                npi: 1,
            }),
            submit_unix_ms: 1_000,
            done_unix_ms: 2_000,
            client_ref: "order-42".into(),
            ..Receipt::default()
        };
        let (kind, body) = parsed(
            "m1:final",
            &Event {
                kind: Some(event::Kind::Receipt(receipt)),
            },
        );
        assert_eq!(kind, Kind::Receipt);
        assert_eq!(body["type"], "message.receipt");
        assert_eq!(body["version"], 1);
        assert_eq!(body["id"], "m1:final");
        assert_eq!(body["data"]["message_id"], "m1");
        assert_eq!(body["data"]["client_ref"], "order-42");
        assert_eq!(body["data"]["state"], "undeliverable");
        assert_eq!(body["data"]["error_code"], 27);
        assert_eq!(body["data"]["to"], "447700900123");
        assert_eq!(body["data"]["done_at_ms"], 2_000);
    }

    #[test]
    fn an_mo_carries_its_text_decoded_past_its_udh() {
        let mo = MoMessage {
            id: "mo1".into(),
            source: Some(Address {
                addr: "447700900123".into(),
                ton: 1,
                npi: 1,
            }),
            destination: Some(Address {
                addr: "80080".into(),
                ton: 0,
                npi: 0,
            }),
            esm_class: 0x40,
            data_coding: 8,
            payload: [
                &[5, 0, 3, 7, 2, 1][..],
                &text::encode("Grüße", Encoding::Ucs2).unwrap(),
            ]
            .concat(),
            segment: Some(Segment {
                reference: 7,
                total: 2,
                seq: 1,
            }),
            ..MoMessage::default()
        };
        let (kind, body) = parsed(
            "mo1",
            &Event {
                kind: Some(event::Kind::Mo(mo)),
            },
        );
        assert_eq!(kind, Kind::Mo);
        assert_eq!(body["type"], "message.mo");
        assert_eq!(body["data"]["text"], "Grüße");
        assert_eq!(body["data"]["to"], "80080");
        assert_eq!(body["data"]["segment"]["total"], 2);
        assert!(body_of_nothing());
    }

    fn body_of_nothing() -> bool {
        body("x", &Event::default()).is_none()
    }
}
