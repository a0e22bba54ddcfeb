//! What carriers send us: delivery receipts and MO messages, as `deliver_sm` or `data_sm`.
//!
//! Every request is answered only after its content is durable on the bus:
//!
//! | request | what happens | answer |
//! | --- | --- | --- |
//! | receipt, id mapped | `Receipt` event for the account (if its ESME asked for this kind), status updated | `ESME_ROK` |
//! | receipt, id not mapped yet | the lookup is retried for up to `receipt_match_retry` (the receipt overtook the `submit_sm_resp` bookkeeping) | as above once found |
//! | receipt, still not mapped | raw PDU to `herald.dlq.receipts.<carrier>`, `held` counted; [`crate::held`] matches it later | `ESME_ROK` |
//! | receipt of a message sent twice, the other's final receipt already out | nothing published, `repeated` counted | `ESME_ROK` |
//! | receipt without an id | raw PDU to the same subject, `invalid` counted | `ESME_ROK` |
//! | MO | `MoMessage` to `herald.mo.<carrier>` for MO routing | `ESME_ROK` |
//! | the bus refuses or times out | nothing is acknowledged | `ESME_RX_T_APPN`: the carrier tries again later |
//!
//! A receipt is a `deliver_sm`/`data_sm` whose `esm_class` says so or that carries
//! `receipted_message_id`. Its id and state come from the TLVs when present (SMPP makes
//! them authoritative), else from the text (`id:` … `stat:`), whatever the dialect.
//! The id is looked up in the form the carrier's `receipt_id_format` says the receipts
//! use (see [`response_key`] and [`receipt_key`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use herald_bus::Outgoing;
use herald_bus::kv::Stage;
use herald_proto::bus::v1::{
    self as bus, CarrierIdMapping, Event, MessageStatus, MoMessage, Receipt, event,
};
use herald_rules::Carrier;
use herald_rules::model::ReceiptIdFormat;
use herald_smpp::receipt::{DeliveryReceipt, MessageState, ReceiptTlvs, hex_id_to_decimal};
use herald_smpp::session::Inbound;
use herald_smpp::types::{Address, EsmClass};
use herald_smpp::{CommandStatus, PduBody, Tag, Tlvs};
use herald_telemetry::{handles, names};
use tracing::Instrument as _;

use crate::connector::Shared;
use herald_bus::lifecycle::{self, receipt_wanted, unix_ms};

/// The subject unmatched and unreadable receipts of `carrier` go to.
pub fn receipt_dead_letters(carrier: &str) -> String {
    format!("herald.dlq.receipts.{carrier}")
}

/// The id-map key under which a `submit_sm_resp` id is stored: the form the carrier's
/// receipts will use.
pub fn response_key(format: ReceiptIdFormat, id: &str) -> String {
    match format {
        ReceiptIdFormat::AsSent => id.to_owned(),
        // Response in hex, receipts in decimal: store the decimal form.
        ReceiptIdFormat::Decimal => hex_id_to_decimal(id).unwrap_or_else(|| id.to_owned()),
        // Response in decimal, receipts in hex: store the canonical decimal, look up the
        // receipt's hex as decimal.
        ReceiptIdFormat::Hex => canonical_decimal(id).unwrap_or_else(|| id.to_owned()),
    }
}

/// How `carrier`'s receipts write their ids, as the rules say now (`as_sent` for a
/// carrier gone from the rules).
pub(crate) fn receipt_id_format(shared: &Shared, carrier: &str) -> ReceiptIdFormat {
    shared
        .rules
        .load()
        .carrier(carrier)
        .map(|c| c.receipt_id_format)
        .unwrap_or_default()
}

/// The id-map key a receipt's id is looked up under (see [`response_key`]).
pub fn receipt_key(format: ReceiptIdFormat, id: &str) -> String {
    match format {
        ReceiptIdFormat::AsSent => id.to_owned(),
        ReceiptIdFormat::Decimal => canonical_decimal(id).unwrap_or_else(|| id.to_owned()),
        ReceiptIdFormat::Hex => hex_id_to_decimal(id).unwrap_or_else(|| id.to_owned()),
    }
}

/// A decimal id without leading zeros.
fn canonical_decimal(id: &str) -> Option<String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse::<u128>().ok().map(|v| v.to_string())
}

/// The fields of a `deliver_sm` or `data_sm` the connector reads.
pub(crate) struct Delivered<'a> {
    source: &'a Address,
    dest: &'a Address,
    esm_class: EsmClass,
    data_coding: u8,
    user_data: Bytes,
    tlvs: &'a Tlvs,
    data_sm: bool,
}

impl<'a> Delivered<'a> {
    /// The fields of `pdu`, if it is a `deliver_sm` or `data_sm`.
    pub(crate) fn of(pdu: &'a herald_smpp::Pdu) -> Option<Delivered<'a>> {
        match &pdu.body {
            PduBody::DeliverSm(sm) => Some(Delivered {
                source: &sm.source,
                dest: &sm.dest,
                esm_class: sm.esm_class,
                data_coding: sm.data_coding.0,
                user_data: sm.user_data().clone(),
                tlvs: &sm.tlvs,
                data_sm: false,
            }),
            PduBody::DataSm(dm) => Some(Delivered {
                source: &dm.source,
                dest: &dm.dest,
                esm_class: dm.esm_class,
                data_coding: dm.data_coding.0,
                user_data: dm.tlvs.message_payload().cloned().unwrap_or_default(),
                tlvs: &dm.tlvs,
                data_sm: true,
            }),
            _ => None,
        }
    }

    fn is_receipt(&self) -> bool {
        self.esm_class.is_receipt() || self.tlvs.get(Tag::RECEIPTED_MESSAGE_ID).is_some()
    }
}

/// Answers one request of a carrier's bind.
pub(crate) async fn handle(shared: &Shared, carrier: &Carrier, inbound: Inbound) {
    let Inbound { pdu, responder } = inbound;
    // alert_notification and the like: nothing to answer or do.
    let Some(delivered) = Delivered::of(&pdu) else {
        responder.respond_status(CommandStatus::ESME_RINVCMDID);
        return;
    };
    let status = if delivered.is_receipt() {
        on_receipt(shared, carrier, &delivered, &pdu).await
    } else {
        on_mo(shared, carrier, &delivered).await
    };
    let body = if delivered.data_sm {
        PduBody::DataSmResp(Default::default())
    } else {
        PduBody::DeliverSmResp(Default::default())
    };
    responder.respond(body, status);
}

/// Counts a receipt by what became of it (`herald_connector_receipts_total`).
pub(crate) fn count_receipt(carrier: &str, outcome: &'static str) {
    handles::counter(
        names::CONNECTOR_RECEIPTS_TOTAL,
        &[
            (names::labels::CARRIER, carrier),
            (names::labels::STATUS, outcome),
        ],
    )
    .increment(1);
}

/// What a carrier's receipt says, whatever its dialect: the id and state from the TLVs
/// when present (SMPP makes them authoritative), else from the text.
#[derive(Clone, Debug)]
pub(crate) struct ReceiptReport {
    /// The carrier's id of the message, as the receipt gives it.
    pub(crate) carrier_message_id: String,
    pub(crate) state: MessageState,
    error: String,
    network_error_code: u32,
    done_unix_ms: i64,
    /// The handset it is about (the receipt's source address).
    pub(crate) handset: String,
}

impl ReceiptReport {
    /// Reads a receipt; `None` when it names no message.
    pub(crate) fn read(delivered: &Delivered<'_>) -> Option<ReceiptReport> {
        // A malformed receipt TLV must not hide the text form.
        let tlvs = ReceiptTlvs::from_tlvs(delivered.tlvs).unwrap_or_default();
        let text = DeliveryReceipt::parse(&delivered.user_data).ok();
        let carrier_message_id = tlvs
            .receipted_message_id
            .clone()
            .or_else(|| text.as_ref().map(|t| t.id.clone()))?;
        let state = tlvs
            .message_state
            .or_else(|| text.as_ref().and_then(|t| t.state))
            .unwrap_or(MessageState::Unknown);
        let network_error_code = tlvs
            .network_error_code
            .map(|code| u32::from(code.code))
            .or_else(|| {
                text.as_ref()
                    .and_then(|t| t.error.as_deref())
                    .and_then(|e| e.parse::<u32>().ok())
            })
            .unwrap_or(0);
        Some(ReceiptReport {
            carrier_message_id,
            state,
            error: text
                .as_ref()
                .and_then(|t| t.error.clone())
                .unwrap_or_default(),
            network_error_code,
            done_unix_ms: text
                .as_ref()
                .and_then(|t| t.done_date)
                .map_or_else(|| unix_ms(SystemTime::now()), unix_ms),
            handset: bus_address(delivered.source).addr,
        })
    }
}

/// A handset number in the one form resends are recorded and receipts looked up under.
pub(crate) fn handset(addr: &str) -> &str {
    addr.trim_start_matches('+')
}

async fn on_receipt(
    shared: &Shared,
    carrier: &Carrier,
    delivered: &Delivered<'_>,
    pdu: &herald_smpp::Pdu,
) -> CommandStatus {
    let Some(report) = ReceiptReport::read(delivered) else {
        count_receipt(&carrier.id, "invalid");
        return dead_letter(shared, carrier, pdu, "", "receipt without a message id").await;
    };
    let key = receipt_key(carrier.receipt_id_format, &report.carrier_message_id);
    let Some(mapping) = lookup(shared, &carrier.id, &key).await else {
        // Held in the dead letters, where `crate::held` matches it once its mapping comes.
        count_receipt(&carrier.id, "held");
        return dead_letter(
            shared,
            carrier,
            pdu,
            &report.carrier_message_id,
            crate::held::HELD_REASON,
        )
        .await;
    };
    match settle_receipt(shared, &carrier.id, &report, &mapping).await {
        Ok(outcome) => {
            count_receipt(&carrier.id, outcome);
            CommandStatus::ESME_ROK
        }
        Err(error) => {
            tracing::warn!(carrier = %carrier.id, %error, "receipt not published; the carrier will resend it");
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

/// Turns a receipt matched to its message into the account's event (if its ESME asked
/// for this kind) and the message's status; returns `matched`, or `repeated` for one the
/// account has had already. An error means nothing was published: the receipt must be
/// offered again.
///
/// A message that was sent again after a crash (`mapping.resent`) may have two carrier
/// ids and so two receipts: a final one is published only while the message has no
/// final status (the bus's dedup cannot drop a repeat that lands in another batch).
pub(crate) async fn settle_receipt(
    shared: &Shared,
    carrier: &str,
    report: &ReceiptReport,
    mapping: &CarrierIdMapping,
) -> Result<&'static str, herald_bus::BusError> {
    let state = report.state;
    if mapping.rerouted {
        // A repeat of the failure receipt that already sent the message on.
        return Ok("repeated");
    }
    if mapping.resent && state.is_final() && has_final_status(shared, &mapping.message_id).await {
        return Ok("repeated");
    }
    if state.is_final()
        && let Some(outcome) = reroute(shared, carrier, report, mapping).await?
    {
        return Ok(outcome);
    }
    let receipt = Receipt {
        message_id: mapping.message_id.clone(),
        account_id: mapping.account_id.clone(),
        state: lifecycle::bus_state(state).into(),
        carrier_id: carrier.to_owned(),
        carrier_message_id: report.carrier_message_id.clone(),
        error: report.error.clone(),
        network_error_code: report.network_error_code,
        source: mapping.source.clone(),
        destination: mapping.destination.clone(),
        submit_unix_ms: mapping.submit_unix_ms,
        done_unix_ms: report.done_unix_ms,
        synthetic: false,
        client_ref: mapping.client_ref.clone(),
    };
    let wanted = receipt_wanted(mapping.registered_delivery, state);
    if wanted {
        let event = Event {
            kind: Some(event::Kind::Receipt(receipt.clone())),
        };
        let dedup = if state.is_final() {
            herald_bus::publish::final_receipt_id(&mapping.message_id)
        } else {
            format!("dlr:{}:{}", mapping.message_id, state.stat())
        };
        if shared.published_receipts.contains(&dedup) {
            // The carrier resent what this connector already published and answered late.
            return Ok("repeated");
        }
        let span = receipt_span(mapping, carrier);
        let outgoing =
            span.in_scope(|| Outgoing::event(&mapping.account_id, dedup.clone(), &event));
        shared
            .events
            .publish_acked(outgoing)
            .instrument(span)
            .await?;
        shared.published_receipts.insert(dedup);
    }
    record_status(shared, &receipt, mapping, state).await;
    Ok("matched")
}

/// Sends the message on to its route's next untried carrier when `carrier`'s
/// `reroute_on_receipt` covers this final receipt (its state, its `err`, the reroutes the
/// message had): the account gets no receipt now, and its one final receipt from the
/// carrier that ends it. `Some("rerouted")` when sent on; `None` when the rule does not
/// apply or the route has no carrier left, and the receipt is settled as usual.
///
/// The handed-back copy has dedup id `<id>:<attempt>`, so a repeat of this receipt within
/// the duplicate window is dropped by the bus; the mapping is then marked `rerouted`, so
/// a later repeat is answered and ignored.
async fn reroute(
    shared: &Shared,
    carrier: &str,
    report: &ReceiptReport,
    mapping: &CarrierIdMapping,
) -> Result<Option<&'static str>, herald_bus::BusError> {
    let Some(mt) = &mapping.envelope else {
        return Ok(None);
    };
    let (rule, id_format) = {
        let snapshot = shared.rules.snapshot();
        let Some(found) = snapshot.carrier(carrier) else {
            return Ok(None);
        };
        match &found.reroute_on_receipt {
            Some(rule) => (rule.clone(), found.receipt_id_format),
            None => return Ok(None),
        }
    };
    if !rule.applies(report.state.stat(), &report.error, mt.receipt_reroutes) {
        return Ok(None);
    }
    let mut next = mt.clone();
    next.receipt_reroutes = next.receipt_reroutes.saturating_add(1);
    let span = receipt_span(mapping, carrier);
    let Some(handed) = span.in_scope(|| Outgoing::handed_back(&next, carrier)) else {
        return Ok(None);
    };
    shared
        .publisher
        .publish_acked(handed)
        .instrument(span)
        .await?;
    tracing::info!(message = %mt.id, %carrier, state = report.state.stat(), error = %report.error, "failure receipt: sent on to the route's next carrier");
    let marked = CarrierIdMapping {
        rerouted: true,
        envelope: None,
        ..mapping.clone()
    };
    let key = receipt_key(id_format, &report.carrier_message_id);
    if let Err(error) = shared.id_map.insert(carrier, &key, &marked).await {
        tracing::warn!(message = %mt.id, %carrier, %error, "rerouted mapping not marked; a repeat of this receipt after the duplicate window would reroute again");
    }
    Ok(Some("rerouted"))
}

/// Whether `message_id` has a final status (a lookup error counts as no: a repeat is
/// better than a loss).
async fn has_final_status(shared: &Shared, message_id: &str) -> bool {
    match shared.status.get(message_id).await {
        Ok(Some(status)) => Stage::parse(&status.stage) == Some(Stage::Final),
        Ok(None) => false,
        Err(error) => {
            tracing::debug!(message = %message_id, %error, "status unknown; publishing the receipt");
            false
        }
    }
}

/// The receipt's span, a child of the message's submit span when traces are exported and
/// the submit recorded its context.
fn receipt_span(mapping: &CarrierIdMapping, carrier: &str) -> tracing::Span {
    if !herald_telemetry::message_spans() || mapping.traceparent.is_empty() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!("connector.receipt", message_id = %mapping.message_id, %carrier);
    let parent = herald_telemetry::extract_parent(|name| {
        (name == herald_telemetry::TRACEPARENT).then(|| mapping.traceparent.clone())
    });
    let _ = herald_telemetry::set_parent(&span, parent);
    span
}

async fn record_status(
    shared: &Shared,
    receipt: &Receipt,
    mapping: &CarrierIdMapping,
    state: MessageState,
) {
    let stage = if state.is_final() {
        Stage::Final
    } else {
        Stage::Submitted
    };
    let status = MessageStatus {
        message_id: receipt.message_id.clone(),
        account_id: receipt.account_id.clone(),
        state: receipt.state,
        stage: stage.as_str().to_owned(),
        carrier_id: receipt.carrier_id.clone(),
        carrier_message_id: receipt.carrier_message_id.clone(),
        error: receipt.error.clone(),
        updated_unix_ms: unix_ms(SystemTime::now()),
        source: mapping.source.clone(),
        destination: mapping.destination.clone(),
        submit_unix_ms: mapping.submit_unix_ms,
    };
    // A final status is written blind (nothing stands above it) and unanswered: the
    // receipt it records is already durable on the bus, and the carrier's
    // deliver_sm_resp need not wait for a record `query_sm` reads. A resent message's
    // final status is answered: the check against its other receipt reads it.
    let recorded = if stage == Stage::Final && !mapping.resent {
        shared.status.put_unconfirmed(&status).await
    } else {
        shared.status.advance(&status).await.map(drop)
    };
    if let Err(error) = recorded {
        tracing::debug!(message = %receipt.message_id, %error, "status not recorded");
    }
}

/// How long a receipt whose mapping is not in memory waits for it there before the bucket
/// is asked: the `submit_sm_resp` and a receipt sent at once after it arrive together,
/// and the receipt's task may run before the sender has recorded the mapping.
const OVERTAKEN_RESPONSE_WAIT: [Duration; 3] = [
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(4),
];

/// The mapping of `key`, retried with a growing pause for up to `receipt_match_retry`.
///
/// Memory first, and for a few milliseconds memory only: a carrier that receipts at once
/// (intermediate and failure receipts often do) would otherwise cost a bucket read, and
/// most likely a miss, for nearly every message. A receipt for a message this connector
/// did not send (another connector's, or from before a restart) waits those 7 ms longer.
async fn lookup(shared: &Shared, carrier: &str, key: &str) -> Option<CarrierIdMapping> {
    for pause in OVERTAKEN_RESPONSE_WAIT {
        if let Some(mapping) = shared.id_map.recent(carrier, key) {
            return Some(mapping);
        }
        tokio::time::sleep(pause).await;
    }
    let deadline = tokio::time::Instant::now() + shared.config.receipt_match_retry;
    let mut pause = Duration::from_millis(5);
    loop {
        match shared.id_map.get(carrier, key).await {
            Ok(Some(mapping)) => return Some(mapping),
            Ok(None) => {}
            Err(error) => tracing::debug!(%carrier, %error, "id map lookup failed"),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// Publishes the raw PDU to the receipts' dead letters; `ESME_ROK` once stored (the
/// carrier must not resend what nobody can match), `ESME_RX_T_APPN` if the bus refused.
async fn dead_letter(
    shared: &Shared,
    carrier: &Carrier,
    pdu: &herald_smpp::Pdu,
    carrier_id: &str,
    reason: &str,
) -> CommandStatus {
    let raw = pdu.to_bytes().unwrap_or_default();
    let dedup = if carrier_id.is_empty() {
        format!("dlq-receipt:{}:{}", carrier.id, shared.mo_ids.next())
    } else {
        format!("dlq-receipt:{}:{carrier_id}", carrier.id)
    };
    let letter = Outgoing::new(receipt_dead_letters(&carrier.id), dedup, raw)
        .header(herald_bus::consume::DLQ_REASON_HEADER, reason)
        .header(crate::held::CARRIER_HEADER, &carrier.id)
        .header(crate::held::CARRIER_MSG_ID_HEADER, carrier_id);
    match shared.publisher.publish_acked(letter).await {
        Ok(_) => {
            tracing::warn!(carrier = %carrier.id, carrier_message_id = carrier_id, reason, "receipt dead-lettered");
            CommandStatus::ESME_ROK
        }
        Err(error) => {
            tracing::warn!(carrier = %carrier.id, %error, "receipt dead letter not stored");
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

async fn on_mo(shared: &Shared, carrier: &Carrier, delivered: &Delivered<'_>) -> CommandStatus {
    let segment = segment_of(delivered);
    let mo = MoMessage {
        id: shared.mo_ids.next(),
        carrier_id: carrier.id.clone(),
        account_id: String::new(),
        source: Some(bus_address(delivered.source)),
        destination: Some(bus_address(delivered.dest)),
        esm_class: u32::from(delivered.esm_class.0),
        data_coding: u32::from(delivered.data_coding),
        payload: delivered.user_data.to_vec(),
        tlvs: delivered
            .tlvs
            .iter()
            .filter(|tlv| tlv.tag != Tag::MESSAGE_PAYLOAD)
            .map(|tlv| bus::Tlv {
                tag: u32::from(tlv.tag.0),
                value: tlv.value.to_vec(),
            })
            .collect(),
        segment,
        received_unix_ms: unix_ms(SystemTime::now()),
    };
    match shared.events.publish_acked(Outgoing::mo(&mo)).await {
        Ok(_) => {
            handles::counter(
                names::CONNECTOR_MO_TOTAL,
                &[(names::labels::CARRIER, &carrier.id)],
            )
            .increment(1);
            CommandStatus::ESME_ROK
        }
        Err(error) => {
            tracing::warn!(carrier = %carrier.id, %error, "MO not published; the carrier will resend it");
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

fn segment_of(delivered: &Delivered<'_>) -> Option<bus::Segment> {
    let from_udh = delivered
        .esm_class
        .udhi()
        .then(|| herald_smpp::concat::parse_udh(&delivered.user_data).ok())
        .flatten()
        .and_then(|udh| udh.concat())
        .map(|c| (c.reference, c.total, c.seq));
    let (reference, total, seq) = from_udh.or_else(|| delivered.tlvs.sar())?;
    Some(bus::Segment {
        reference: u32::from(reference),
        total: u32::from(total),
        seq: u32::from(seq),
    })
}

/// An SMPP address as the bus carries it (non-UTF-8 octets as Latin-1 characters).
pub(crate) fn bus_address(address: &Address) -> bus::Address {
    let addr = match address.addr.as_str() {
        Some(text) => text.to_owned(),
        None => address
            .addr
            .as_bytes()
            .iter()
            .map(|&b| char::from(b))
            .collect(),
    };
    bus::Address {
        addr,
        ton: u32::from(address.ton.0),
        npi: u32::from(address.npi.0),
    }
}

/// Ids for MO messages: unique across the cluster without coordination and sortable by
/// arrival, `M` + 12 hex digits of Unix milliseconds + 8 of a random tag + 6 of a counter.
#[derive(Debug)]
pub(crate) struct MoIds {
    tag: u32,
    counter: AtomicU64,
}

impl MoIds {
    pub(crate) fn new() -> Self {
        MoIds {
            tag: u32::try_from(herald_backoff::random_u64() & 0xFFFF_FFFF).unwrap_or(0),
            counter: AtomicU64::new(0),
        }
    }

    pub(crate) fn next(&self) -> String {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let n = self.counter.fetch_add(1, Ordering::Relaxed) & 0xFF_FFFF;
        format!("M{:012X}{:08X}{n:06X}", ms & 0xFFFF_FFFF_FFFF, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_meet_whatever_the_radix() {
        // Response hex, receipt decimal.
        let f = ReceiptIdFormat::Decimal;
        assert_eq!(response_key(f, "33E95179"), receipt_key(f, "0870928761"));
        // Response decimal, receipt hex.
        let f = ReceiptIdFormat::Hex;
        assert_eq!(response_key(f, "0870928761"), receipt_key(f, "33e95179"));
        // As sent: exact.
        let f = ReceiptIdFormat::AsSent;
        assert_eq!(response_key(f, "abc-1"), receipt_key(f, "abc-1"));
        assert_ne!(response_key(f, "abc-1"), receipt_key(f, "ABC-1"));
        // Ids that are not numbers are kept as they are.
        assert_eq!(response_key(ReceiptIdFormat::Decimal, "x-1"), "x-1");
    }

    #[test]
    fn mo_ids_are_unique_and_ordered() {
        let ids = MoIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_eq!(a.len(), 27);
        assert_ne!(a, b);
        assert!(a[..13] <= b[..13]);
    }
}
