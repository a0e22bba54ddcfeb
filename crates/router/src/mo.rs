//! The MO pipeline: a mobile-originated message from a carrier goes to the account its MO
//! rules name, as an event on that account's subject; opt-out and opt-in keywords are
//! recorded on the way.
//!
//! 1. The text is decoded (by `data_coding`, after the UDH when `esm_class` has UDHI) for
//!    keyword matching; undecodable text matches no keyword.
//! 2. The first matching MO route (priority, then id; destination short or long code,
//!    keyword = first word case-insensitively, sender prefix, carrier) names the account.
//!    None: `router.mo_default_account`, or, if that is empty, the MO is counted
//!    (`no_route`) and dropped.
//! 3. If the first word (upper-cased, without surrounding punctuation) is one of
//!    `router.opt_out_keywords`, the sender is added to the account's opt-out list in
//!    etcd; one of `router.opt_in_keywords` removes it (see [`crate::opt_out`]). If etcd
//!    cannot be written the MO is retried later (it is not delivered without its
//!    opt-out recorded).
//! 4. If the matched MO route has `replies`, the subscriber is answered: a HELP keyword
//!    (`router.help_keywords`) with `replies.help`, a recorded opt-out or opt-in with its
//!    confirmation. The reply is an MT from the number the subscriber texted, published
//!    straight to the outbound queue of the carrier the MO came from (short codes belong
//!    to a carrier; and routing would refuse it, the number having just opted out), with
//!    no receipt asked for the account; its id is the MO's id and `R`, so a redelivered
//!    MO does not answer twice (the stream's dedup window).
//! 5. The MO, with `account_id` set, is published to `herald.ev.<account>.mo` (dedup id:
//!    the MO's id), and only then acknowledged.

use std::sync::Arc;

use bytes::Bytes;
use herald_bus::{Delivery, OptOutScope, Outgoing};
use std::time::SystemTime;

use herald_bus::lifecycle::unix_ms;
use herald_proto::bus::v1::{Event, MoMessage, MtMessage, OptOut, RouteDecision, event};
use herald_rules::model::OptOutScope as AccountScope;
use herald_rules::routing::normalize;
use herald_smpp::concat::parse_udh;
use herald_smpp::text::{Encoding, PlanOptions, decode, encode, plan};
use herald_telemetry::{handles, names};

use crate::mt::{publish, retry, settle};
use crate::router::Shared;

/// `esm_class` bit: the user data starts with a header.
const UDHI: u32 = 0x40;

/// The text of `mo` for keyword matching; empty when it is not text.
pub fn mo_text(mo: &MoMessage) -> String {
    let user_data = Bytes::copy_from_slice(&mo.payload);
    let body = if mo.esm_class & UDHI != 0 {
        parse_udh(&user_data).map_or(user_data, |udh| udh.body)
    } else {
        user_data
    };
    let coding = u8::try_from(mo.data_coding).unwrap_or(0);
    Encoding::from_data_coding(coding)
        .ok()
        .and_then(|encoding| decode(&body, encoding).ok())
        .unwrap_or_default()
}

/// The first word of `text`, upper-cased, without punctuation around it (`"stop."` →
/// `STOP`).
pub fn keyword(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_uppercase()
}

enum ListChange {
    OptOut,
    OptIn,
}

/// The reply to `mo` with `text`: from the number it was sent to, to its sender, through
/// the carrier it came from, in the urgent lane; GSM 7-bit when the text allows, else
/// UCS-2.
pub fn reply_to(mo: &MoMessage, account: &str, text: &str, now_unix_ms: i64) -> MtMessage {
    let plan = plan(text, &PlanOptions::default());
    let (data_coding, payload) = match encode(text, plan.encoding) {
        Ok(octets) => (plan.data_coding, octets),
        // Every text has a UCS-2 form; the planner's choice always encodes.
        Err(_) => (0x08, encode(text, Encoding::Ucs2).unwrap_or_default()),
    };
    MtMessage {
        id: format!("{}R", mo.id),
        account_id: account.to_owned(),
        source: mo.destination.clone(),
        destination: mo.source.clone(),
        data_coding: u32::from(data_coding),
        payload,
        registered_delivery: 0,
        accepted_unix_ms: now_unix_ms,
        // The subscriber waits for it: it does not queue behind the account's bulk.
        urgent: true,
        route: Some(RouteDecision {
            carrier_id: mo.carrier_id.clone(),
            candidates: vec![mo.carrier_id.clone()],
            reason: "reply to an MO keyword, by the carrier it came from".to_owned(),
            ..RouteDecision::default()
        }),
        ..MtMessage::default()
    }
}

/// Records a subscriber's opt-out or opt-in of `account` in the opt-out bucket, on behalf
/// of `mo:<carrier>`: an opt-out for the whole account, or (`by_sender`) only for the
/// number `texted`; an opt-in lifts both, and takes the number off the account's opt-out
/// lists in etcd too (where opt-outs were kept before the bucket, and operators' lists).
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument named"
)]
async fn record(
    shared: &Shared,
    mo: &MoMessage,
    account: &str,
    keyword: &str,
    change: &ListChange,
    by_sender: bool,
    texted: &str,
    number: &str,
) -> Result<(), String> {
    let record = |opted_out: bool| OptOut {
        opted_out,
        at_unix_ms: unix_ms(SystemTime::now()),
        by: format!("mo:{}", mo.carrier_id),
        note: keyword.to_owned(),
    };
    let store = &shared.opt_out_store;
    match change {
        ListChange::OptOut => {
            let scope = if by_sender && !texted.is_empty() {
                OptOutScope::Sender(texted)
            } else {
                OptOutScope::Account
            };
            store
                .record(account, scope, number, &record(true))
                .await
                .map_err(|e| e.to_string())
        }
        ListChange::OptIn => {
            store
                .record(account, OptOutScope::Account, number, &record(false))
                .await
                .map_err(|e| e.to_string())?;
            if !texted.is_empty() {
                store
                    .record(account, OptOutScope::Sender(texted), number, &record(false))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if let Some(writer) = &shared.writer {
                crate::opt_out::remove(writer, account, number)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }
}

/// Routes one delivery of the MO consumer; always settles it.
pub(crate) async fn route(shared: Arc<Shared>, delivery: Delivery) {
    let mut mo: MoMessage = match delivery.decode() {
        Ok(mo) => mo,
        Err(err) => {
            count("", "", "invalid");
            settle(
                delivery
                    .dead_letter(&format!("undecodable MO: {err}"))
                    .await,
            );
            return;
        }
    };
    let text = mo_text(&mo);
    let (source, source_ton) = mo
        .source
        .as_ref()
        .map_or((String::new(), 0), |a| (a.addr.clone(), a.ton));
    let destination = mo.destination.as_ref().map_or("", |a| a.addr.as_str());
    let snapshot = shared.rules.snapshot();
    let (account, label, route_replies) =
        match snapshot.mo_route_for(&mo.carrier_id, &source, destination, &text) {
            Some(route) => (route.account.clone(), "routed", route.replies.clone()),
            None if !shared.config.mo_default_account.is_empty() => {
                (shared.config.mo_default_account.clone(), "default", None)
            }
            None => {
                tracing::debug!(mo = %mo.id, carrier = %mo.carrier_id, "no MO route; dropped");
                count("", &mo.carrier_id, "no_route");
                settle(delivery.ack().await);
                return;
            }
        };

    let replies = route_replies.as_ref();
    let word = keyword(&text);
    let mut reply = if shared.help_keywords.contains(&word) {
        replies.and_then(|r| r.help.as_deref())
    } else {
        None
    };
    let change = if shared.opt_out_keywords.contains(&word) {
        Some(ListChange::OptOut)
    } else if shared.opt_in_keywords.contains(&word) {
        Some(ListChange::OptIn)
    } else {
        None
    };
    let mut label = label;
    if let Some(change) = change {
        let account_rules = snapshot.account(&account);
        let plan = account_rules.and_then(|a| a.numbering.as_ref());
        let by_sender = account_rules.is_some_and(|a| a.opt_out_scope == AccountScope::Sender);
        match normalize(&source, u8::try_from(source_ton).unwrap_or(0), plan) {
            None => {
                tracing::warn!(%account, keyword = %word, "opt-out keyword from a sender that is not a number");
            }
            Some(number) => {
                let texted = destination.strip_prefix('+').unwrap_or(destination);
                let result = record(
                    &shared,
                    &mo,
                    &account,
                    &word,
                    &change,
                    by_sender,
                    texted,
                    number.as_str(),
                )
                .await;
                if let Err(err) = result {
                    tracing::warn!(%account, error = %err, "cannot record opt-out; MO retried later");
                    count(&account, &mo.carrier_id, "error");
                    settle(delivery.retry(&err).await);
                    return;
                }
                (label, reply) = match change {
                    ListChange::OptOut => ("opt_out", replies.and_then(|r| r.opt_out.as_deref())),
                    ListChange::OptIn => ("opt_in", replies.and_then(|r| r.opt_in.as_deref())),
                };
            }
        }
    }

    if let Some(text) = reply {
        let answer = reply_to(&mo, &account, text, unix_ms(SystemTime::now()));
        let carrier = mo.carrier_id.clone();
        if let Err(err) = publish(&shared, Outgoing::routed(&carrier, &answer)).await {
            count(&account, &carrier, "error");
            retry(delivery, &err).await;
            return;
        }
        let kind = match label {
            "opt_out" | "opt_in" => label,
            _ => "help",
        };
        handles::counter(
            names::ROUTER_MO_REPLIES_TOTAL,
            &[
                (names::labels::ACCOUNT, &account),
                (names::labels::STATUS, kind),
            ],
        )
        .increment(1);
    }

    let carrier = mo.carrier_id.clone();
    let id = mo.id.clone();
    mo.account_id.clone_from(&account);
    let event = Event {
        kind: Some(event::Kind::Mo(mo)),
    };
    if let Err(err) = publish(&shared, Outgoing::event(&account, id, &event)).await {
        count(&account, &carrier, "error");
        retry(delivery, &err).await;
        return;
    }
    settle(delivery.ack().await);
    count(&account, &carrier, label);
}

fn count(account: &str, carrier: &str, status: &'static str) {
    handles::counter(
        names::ROUTER_MO_TOTAL,
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
    use super::*;

    #[test]
    fn text_and_keywords() {
        let mo = |payload: &[u8], coding: u32, esm: u32| MoMessage {
            payload: payload.to_vec(),
            data_coding: coding,
            esm_class: esm,
            ..Default::default()
        };
        assert_eq!(mo_text(&mo(b"Stop please", 0, 0)), "Stop please");
        assert_eq!(mo_text(&mo(&[0, 0x53, 0, 0x54], 8, 0)), "ST");
        let udh = [5u8, 0, 3, 7, 2, 1];
        let with_udh: Vec<u8> = udh.iter().chain(b"STOP").copied().collect();
        assert_eq!(mo_text(&mo(&with_udh, 0, 0x40)), "STOP");
        assert_eq!(mo_text(&mo(&[1, 2, 3], 4, 0)), "", "binary");
        assert_eq!(keyword("  stop. now"), "STOP");
        assert_eq!(keyword("Unstop!"), "UNSTOP");
        assert_eq!(keyword(""), "");
    }
}
