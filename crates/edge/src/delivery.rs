//! Receipts and MO from the bus to an account's bound sessions.
//!
//! Every edge that holds a receiver or transceiver session of an account pulls from that
//! account's durable consumer (`account-<id>`), so the account's events are shared among
//! the edges its sessions are on, whichever edge the message was submitted through. On
//! this edge, deliveries go round-robin over the account's sessions. An event is acked
//! on the bus only after the ESME answered `deliver_sm_resp` OK; an error or a timeout
//! puts it back with backoff. With no session bound anywhere, events wait in the stream
//! (up to its retention) and go out when one binds.
//!
//! | ESME's answer | what happens |
//! | --- | --- |
//! | `ESME_ROK` | acked |
//! | `ESME_RX_P_APPN`, `ESME_RX_R_APPN` (permanent, reject) | dead-lettered |
//! | anything else, timeout, session lost | redelivered after the backoff |
//!
//! A message's final receipt that this edge delivered lately (answered OK, within
//! [`FINALS_WINDOW`]) is not delivered again: a bus outage redelivers what was delivered
//! but not acked, and a carrier may repeat a receipt in another batch after a connector
//! crash. It is acked and counted (`herald_edge_deliver_total{status="repeat"}`).

use herald_backoff::Backoff;
use herald_bus::lifecycle;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use herald_bus::{ConsumerSpec, Delivery, RecentIds};
use herald_proto::bus::v1::{self as bus, Event, MoMessage, Receipt, event};
use herald_rules::DefaultAlphabet;
use herald_smpp::pdu::SubmitSm;
use herald_smpp::receipt::{DeliveryReceipt, MessageState, NetworkErrorCode, ReceiptTlvs};
use herald_smpp::session::Session;
use herald_smpp::text::{self, Encoding};
use herald_smpp::types::{Address, COctetString, DataCoding, EsmClass, Npi, Ton};
use herald_smpp::{CommandStatus, PduBody, Tag, Tlv};
use herald_telemetry::{handles, names};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::server::Shared;

/// Bus messages pulled per request. Under load each is a batch of up to 64 events
/// (ADR 0010), so this bounds what waits here, unseen by the ESME, while its ack wait
/// runs: ~1,000 events, a few seconds of a slow ESME's window.
const BATCH: usize = 16;
/// `deliver_sm`s awaiting their response per account on this edge.
const MAX_IN_FLIGHT: usize = 256;
/// How long this edge remembers a final receipt it delivered.
pub const FINALS_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How many delivered final receipts it remembers (about; two generations).
const FINALS_REMEMBERED: usize = 400_000;

/// How long an event waits when the account's sessions here just went away.
const NO_SESSION_DELAY: Duration = Duration::from_secs(1);

type SessionList = Vec<(u64, Session)>;

/// The receiver sessions of each account on this edge, and their delivery tasks.
#[derive(Debug)]
pub(crate) struct Receivers {
    accounts: Mutex<HashMap<String, AccountReceivers>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Message ids whose final receipt an ESME of this edge answered OK lately.
    delivered_finals: Arc<RecentIds>,
}

impl Default for Receivers {
    fn default() -> Self {
        Receivers {
            accounts: Mutex::default(),
            next_id: std::sync::atomic::AtomicU64::default(),
            delivered_finals: Arc::new(RecentIds::new(FINALS_REMEMBERED, FINALS_WINDOW)),
        }
    }
}

#[derive(Debug)]
struct AccountReceivers {
    sessions: watch::Sender<SessionList>,
    _task: JoinHandle<()>,
}

impl Receivers {
    /// Adds `session` to `account`'s receivers, starting its delivery task if it is the
    /// first; the session leaves when the guard drops.
    pub(crate) fn register(
        &self,
        shared: &Arc<Shared>,
        account: &str,
        session: Session,
    ) -> ReceiverGuard {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut accounts) = self.accounts.lock() {
            match accounts.get_mut(account) {
                Some(entry) => entry.sessions.send_modify(|list| list.push((id, session))),
                None => {
                    // The task starts with the session already listed: it must never see
                    // an empty list before the first session, or it would end at once.
                    let (tx, rx) = watch::channel(vec![(id, session)]);
                    let task =
                        tokio::spawn(deliver(Arc::downgrade(shared), account.to_owned(), rx));
                    accounts.insert(
                        account.to_owned(),
                        AccountReceivers {
                            sessions: tx,
                            _task: task,
                        },
                    );
                }
            }
        }
        ReceiverGuard {
            shared: Arc::downgrade(shared),
            account: account.to_owned(),
            id,
        }
    }

    fn unregister(&self, account: &str, id: u64) {
        let Ok(mut accounts) = self.accounts.lock() else {
            return;
        };
        let Some(entry) = accounts.get_mut(account) else {
            return;
        };
        entry
            .sessions
            .send_modify(|list| list.retain(|(i, _)| *i != id));
        if entry.sessions.borrow().is_empty() {
            // Dropping the sender tells the task: it stops pulling, settles what it has
            // in flight (the last answers of a session that just unbound still count)
            // and ends.
            accounts.remove(account);
        }
    }
}

/// Keeps a session among its account's receivers.
#[derive(Debug)]
pub(crate) struct ReceiverGuard {
    shared: Weak<Shared>,
    account: String,
    id: u64,
}

impl Drop for ReceiverGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.receivers.unregister(&self.account, self.id);
        }
    }
}

/// The delivery loop of one account on this edge; restarts its consumer after errors,
/// and ends once the account has no session left here.
async fn deliver(
    shared: Weak<Shared>,
    account: String,
    mut sessions: watch::Receiver<SessionList>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        if sessions.borrow().is_empty() {
            return;
        }
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let consumer = strong.bus.consumer(ConsumerSpec::account(&account)).await;
        let rules = strong.rules.clone();
        let finals = strong.receivers.delivered_finals.clone();
        drop(strong);
        let result = match consumer {
            Ok(consumer) => match consumer.messages(BATCH).await {
                Ok(deliveries) => {
                    backoff.reset();
                    if pump(deliveries, &account, &mut sessions, &rules, &finals).await
                        == Pumped::NoSessions
                    {
                        return;
                    }
                    continue;
                }
                Err(err) => err,
            },
            Err(err) => err,
        };
        let delay = backoff.next_delay();
        tracing::warn!(%account, error = %result, retry_in = ?delay, "event consumer unavailable");
        tokio::time::sleep(delay).await;
    }
}

/// Why [`pump`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    /// The account's last session here ended; everything in flight was settled.
    NoSessions,
    /// The consumer ended; pull again.
    ConsumerEnded,
}

async fn pump(
    mut deliveries: herald_bus::Deliveries,
    account: &str,
    sessions: &mut watch::Receiver<SessionList>,
    rules: &herald_rules::RulesStore,
    finals: &Arc<RecentIds>,
) -> Pumped {
    let mut in_flight: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
    // Final receipts being delivered by this pump now, so a repeat waits for the first's
    // answer instead of going out beside it. Only this task's futures touch it.
    let sending = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let finals = Finals {
        delivered: finals.clone(),
        sending,
    };
    let mut turn = 0usize;
    loop {
        if sessions.borrow().is_empty() {
            // Stop pulling; let the deliveries in flight finish (each is bounded by the
            // session's response timeout) so their answers are acked or retried.
            deliveries.release().await;
            while in_flight.next().await.is_some() {}
            return Pumped::NoSessions;
        }
        tokio::select! {
            changed = sessions.changed() => {
                if changed.is_err() {
                    deliveries.release().await;
                    while in_flight.next().await.is_some() {}
                    return Pumped::NoSessions;
                }
            }
            next = deliveries.next(), if in_flight.len() < MAX_IN_FLIGHT => match next {
                Some(Ok(delivery)) => {
                    let session = {
                        let list = sessions.borrow();
                        turn = turn.wrapping_add(1);
                        (!list.is_empty()).then(|| list[turn % list.len()].1.clone())
                    };
                    in_flight.push({
                        let reading = rules.load().account(account).map(|a| (a.receipt_retention, a.default_alphabet));
                        Box::pin(deliver_one(delivery, session, account.to_owned(), reading, finals.clone()))
                    });
                }
                Some(Err(err)) => tracing::debug!(%account, error = %err, "pull interrupted"),
                None => {
                    while in_flight.next().await.is_some() {}
                    return Pumped::ConsumerEnded;
                }
            },
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
        }
    }
}

/// Counts one `deliver_sm` outcome for `account`.
fn count_delivery(account: &str, status: &str) {
    handles::counter(
        names::EDGE_DELIVER_TOTAL,
        &[
            (names::labels::ACCOUNT, account),
            (names::labels::STATUS, status),
        ],
    )
    .increment(1);
}

async fn deliver_one(
    delivery: Delivery,
    session: Option<Session>,
    account: String,
    reading: Option<(Duration, DefaultAlphabet)>,
    finals: Finals,
) {
    // An event replayed to the account's webhook alone (`heraldctl dead-letters replay`):
    // its SMPP receivers had it already, or chose not to.
    if herald_bus::subject::is_webhook_only(delivery.subject()) {
        herald_bus::consume::settle_logged(delivery.ack().await);
        return;
    }
    let (retention, alphabet) = reading.unzip();
    // Past the account's receipt retention an event is dropped, not delivered late.
    if let (Some(retention), Some(published)) = (retention, delivery.published())
        && published.elapsed().is_ok_and(|age| age > retention)
    {
        count_delivery(&account, "expired");
        tracing::info!(%account, subject = delivery.subject(), "event past the account's retention; dropped");
        herald_bus::consume::settle_logged(delivery.ack().await);
        return;
    }
    let Some(session) = session else {
        herald_bus::consume::settle_logged(delivery.retry_after(NO_SESSION_DELAY).await);
        return;
    };
    let event: Event = match delivery.decode() {
        Ok(event) => event,
        Err(err) => {
            let _ = delivery
                .dead_letter(&format!("undecodable event: {err}"))
                .await;
            return;
        }
    };
    let final_of = final_receipt_of(&event);
    let _sending = match final_of.map(|id| finals.begin(id)) {
        None => None,
        Some(Begun::Sending(guard)) => Some(guard),
        Some(Begun::Delivered) => {
            count_delivery(&account, "repeat");
            tracing::debug!(%account, "final receipt delivered already; not again");
            herald_bus::consume::settle_logged(delivery.ack().await);
            return;
        }
        Some(Begun::InFlight) => {
            // Its twin is out: come back once it is answered, then it is a repeat (or,
            // if the twin failed, the one to deliver).
            herald_bus::consume::settle_logged(delivery.retry_after(NO_SESSION_DELAY).await);
            return;
        }
    };
    let Some(sm) = deliver_sm(&event, alphabet.unwrap_or_default()) else {
        let _ = delivery
            .dead_letter("event with neither receipt nor MO")
            .await;
        return;
    };
    let span = delivery.traced(|| tracing::info_span!("edge.deliver", account = %account));
    let started = std::time::Instant::now();
    let outcome = session
        .request(PduBody::DeliverSm(sm))
        .instrument(span)
        .await;
    handles::histogram(
        names::EDGE_DELIVER_SECONDS,
        &[(names::labels::ACCOUNT, &account)],
    )
    .record(started.elapsed().as_secs_f64());
    let status = match &outcome {
        Ok(resp) => resp.command_status,
        Err(_) => CommandStatus::ESME_RSYSERR,
    };
    let status = if outcome.is_err() {
        "timeout"
    } else {
        status.name()
    };
    count_delivery(&account, status);
    let result = match outcome {
        Ok(resp) if resp.command_status == CommandStatus::ESME_ROK => {
            if let Some(message_id) = final_of {
                finals.delivered.insert(message_id.to_owned());
            }
            delivery.ack().await
        }
        Ok(resp)
            if matches!(
                resp.command_status,
                CommandStatus::ESME_RX_P_APPN | CommandStatus::ESME_RX_R_APPN
            ) =>
        {
            delivery
                .dead_letter(&format!("ESME refused: {}", resp.command_status))
                .await
        }
        Ok(resp) => {
            delivery
                .retry(&format!("ESME answered {}", resp.command_status))
                .await
        }
        Err(err) => delivery.retry(&err.to_string()).await,
    };
    if let Err(err) = result {
        tracing::warn!(%account, error = %err, "could not settle a delivery");
    }
}

/// The final receipts an account's pump delivered lately, and those it is sending.
#[derive(Clone)]
struct Finals {
    delivered: Arc<RecentIds>,
    sending: Arc<Mutex<std::collections::HashSet<String>>>,
}

/// Whether a final receipt may go out.
enum Begun {
    /// Yes; the guard marks it sending until dropped.
    Sending(SendingFinal),
    /// Its message's final receipt was answered OK lately.
    Delivered,
    /// Another copy is out now.
    InFlight,
}

/// Marks a final receipt as being sent; unmarks it when dropped.
struct SendingFinal {
    sending: Arc<Mutex<std::collections::HashSet<String>>>,
    message_id: String,
}

impl Drop for SendingFinal {
    fn drop(&mut self) {
        if let Ok(mut sending) = self.sending.lock() {
            sending.remove(&self.message_id);
        }
    }
}

impl Finals {
    fn begin(&self, message_id: &str) -> Begun {
        if self.delivered.contains(message_id) {
            return Begun::Delivered;
        }
        let Ok(mut sending) = self.sending.lock() else {
            return Begun::InFlight;
        };
        if !sending.insert(message_id.to_owned()) {
            return Begun::InFlight;
        }
        Begun::Sending(SendingFinal {
            sending: self.sending.clone(),
            message_id: message_id.to_owned(),
        })
    }
}

/// The message id of `event` when it is a final receipt.
fn final_receipt_of(event: &Event) -> Option<&str> {
    match &event.kind {
        Some(event::Kind::Receipt(receipt)) if lifecycle::is_final(receipt.state()) => {
            Some(&receipt.message_id)
        }
        _ => None,
    }
}

/// The `deliver_sm` that carries `event` to an ESME whose `data_coding` 0 means
/// `alphabet`.
pub fn deliver_sm(event: &Event, alphabet: DefaultAlphabet) -> Option<SubmitSm> {
    match event.kind.as_ref()? {
        event::Kind::Receipt(receipt) => Some(receipt_sm(receipt)),
        event::Kind::Mo(mo) => Some(mo_sm(mo, alphabet)),
    }
}

/// A receipt as `deliver_sm`: the Appendix B text in `short_message` and the same facts in
/// `receipted_message_id`, `message_state` and `network_error_code`, so ESMEs that read
/// either form find the Herald id they were given.
pub fn receipt_sm(receipt: &Receipt) -> SubmitSm {
    let state = lifecycle::smpp_state(receipt.state());
    let mut text = DeliveryReceipt::new(receipt.message_id.clone());
    text.submitted = Some(1);
    text.delivered = Some(u32::from(state == MessageState::Delivered));
    text.submit_date = time(receipt.submit_unix_ms);
    text.done_date = time(receipt.done_unix_ms);
    text.state = Some(state);
    text.error = Some(format!("{:03}", receipt.network_error_code.min(999)));
    text.text = Some(String::new());
    let short_message = text.to_text().map(Bytes::from).unwrap_or_default();
    let mut sm = SubmitSm {
        // The receipt comes from the phone the message went to, back to its sender.
        source: address(receipt.destination.as_ref()),
        dest: address(receipt.source.as_ref()),
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        short_message,
        ..SubmitSm::default()
    };
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some(receipt.message_id.clone()),
        message_state: Some(state),
        network_error_code: (receipt.network_error_code != 0).then(|| NetworkErrorCode {
            // 3: GSM, the network type the codes most carriers send belong to.
            network_type: 3,
            code: u16::try_from(receipt.network_error_code).unwrap_or(u16::MAX),
        }),
    };
    // Writing three well-formed TLVs cannot fail; if it ever did, the text still carries
    // the receipt.
    let _ = tlvs.write_into(&mut sm.tlvs);
    sm
}

/// An MO as `deliver_sm`, text in `short_message` (or `message_payload` past 254 octets),
/// for an ESME whose `data_coding` 0 means `alphabet` ([`in_default_alphabet`]).
pub fn mo_sm(mo: &MoMessage, alphabet: DefaultAlphabet) -> SubmitSm {
    let esm_class = u8::try_from(mo.esm_class & 0xC3).unwrap_or(0);
    let data_coding = u8::try_from(mo.data_coding).unwrap_or(0);
    let (data_coding, payload) =
        in_default_alphabet(data_coding, &mo.payload, esm_class & 0x40 != 0, alphabet);
    let mut sm = SubmitSm {
        source: address(mo.source.as_ref()),
        dest: address(mo.destination.as_ref()),
        esm_class: EsmClass(esm_class),
        data_coding: DataCoding(data_coding),
        ..SubmitSm::default()
    };
    if payload.len() <= 254 {
        sm.short_message = Bytes::from(payload);
    } else {
        sm.tlvs.push(Tlv::new(Tag::MESSAGE_PAYLOAD, payload));
    }
    for tlv in &mo.tlvs {
        if let Ok(tag) = u16::try_from(tlv.tag) {
            sm.tlvs.push(Tlv::new(Tag(tag), tlv.value.clone()));
        }
    }
    if let Some(segment) = &mo.segment
        && !sm.esm_class.udhi()
        && sm.tlvs.get(Tag::SAR_MSG_REF_NUM).is_none()
    {
        sm.tlvs.push(Tlv::u16(
            Tag::SAR_MSG_REF_NUM,
            u16::try_from(segment.reference).unwrap_or(0),
        ));
        sm.tlvs.push(Tlv::u8(
            Tag::SAR_TOTAL_SEGMENTS,
            u8::try_from(segment.total).unwrap_or(1),
        ));
        sm.tlvs.push(Tlv::u8(
            Tag::SAR_SEGMENT_SEQNUM,
            u8::try_from(segment.seq).unwrap_or(1),
        ));
    }
    sm
}

/// An MO's text in `data_coding` 0 (GSM 7-bit, as carriers send it) re-encoded for an
/// ESME whose `data_coding` 0 means another alphabet: in that alphabet, still as 0; or,
/// when it lacks a character of the text, as UCS-2 (8), which every ESME reads. Anything
/// else (other codings, GSM accounts, text that is not valid GSM 7-bit) goes unchanged.
/// A UDH (`udhi`) is kept in front.
pub fn in_default_alphabet(
    data_coding: u8,
    payload: &[u8],
    udhi: bool,
    alphabet: DefaultAlphabet,
) -> (u8, Vec<u8>) {
    let unchanged = || (data_coding, payload.to_vec());
    let target = match alphabet {
        DefaultAlphabet::Gsm7 => return unchanged(),
        DefaultAlphabet::Latin1 => Encoding::Latin1,
        DefaultAlphabet::Ascii => Encoding::Ia5,
    };
    if data_coding != 0 {
        return unchanged();
    }
    let udh_len = if udhi {
        match payload.first() {
            Some(&n) if usize::from(n) < payload.len() => usize::from(n) + 1,
            _ => return unchanged(),
        }
    } else {
        0
    };
    let (udh, body) = payload.split_at(udh_len);
    let Ok(text) = text::decode(body, Encoding::GSM7) else {
        return unchanged();
    };
    let (coding, encoded) = match text::encode(&text, target) {
        Ok(encoded) => (0, encoded),
        Err(_) => match text::encode(&text, Encoding::Ucs2) {
            Ok(encoded) => (Encoding::Ucs2.data_coding(), encoded),
            Err(_) => return unchanged(),
        },
    };
    let mut out = Vec::with_capacity(udh.len() + encoded.len());
    out.extend_from_slice(udh);
    out.extend_from_slice(&encoded);
    (coding, out)
}

fn time(unix_ms: i64) -> Option<std::time::SystemTime> {
    let ms = u64::try_from(unix_ms).ok().filter(|&ms| ms > 0)?;
    Some(UNIX_EPOCH + Duration::from_millis(ms))
}

/// A bus address as SMPP's; characters above U+00FF cannot come from SMPP and are
/// replaced.
fn address(address: Option<&bus::Address>) -> Address {
    let Some(address) = address else {
        return Address::default();
    };
    let octets: Vec<u8> = address
        .addr
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    Address::new(
        Ton(u8::try_from(address.ton).unwrap_or(0)),
        Npi(u8::try_from(address.npi).unwrap_or(0)),
        COctetString::from_bytes(Bytes::from(octets)).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsm(text: &str) -> Vec<u8> {
        text::encode(text, Encoding::GSM7).expect("GSM 7-bit text")
    }

    #[test]
    fn an_mo_in_gsm_is_re_encoded_for_an_esme_whose_default_alphabet_differs() {
        let latin1 = DefaultAlphabet::Latin1;
        // '@' is 0x00 in GSM 7-bit, 0x40 in Latin-1; 'é' 0x05 and 0xE9.
        assert_eq!(
            in_default_alphabet(0, &gsm("@é"), false, latin1),
            (0, vec![0x40, 0xE9])
        );
        assert_eq!(
            in_default_alphabet(0, &gsm("a@b"), false, DefaultAlphabet::Ascii),
            (0, b"a@b".to_vec())
        );
        // A character the ESME's alphabet lacks: UCS-2, which it reads whatever its 0 is.
        assert_eq!(
            in_default_alphabet(0, &gsm("Ω"), false, latin1),
            (8, vec![0x03, 0xA9])
        );
        // The UDH of a concatenated MO stays in front, untouched.
        let udh = [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01];
        let payload = [&udh[..], &gsm("@")].concat();
        assert_eq!(
            in_default_alphabet(0, &payload, true, latin1),
            (0, [&udh[..], &[0x40]].concat())
        );
    }

    #[test]
    fn other_codings_gsm_accounts_and_bad_text_go_unchanged() {
        let latin1 = DefaultAlphabet::Latin1;
        let ucs2 = vec![0x00, 0x41];
        assert_eq!(in_default_alphabet(8, &ucs2, false, latin1), (8, ucs2));
        let at = gsm("@");
        assert_eq!(
            in_default_alphabet(0, &at, false, DefaultAlphabet::Gsm7),
            (0, at)
        );
        // 0x80 is no GSM 7-bit code; a UDH longer than the payload is malformed.
        assert_eq!(
            in_default_alphabet(0, &[0x80], false, latin1),
            (0, vec![0x80])
        );
        assert_eq!(
            in_default_alphabet(0, &[0x09, 0x00], true, latin1),
            (0, vec![0x09, 0x00])
        );
    }
}
