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
//! 4. The MO, with `account_id` set, is published to `herald.ev.<account>.mo` (dedup id:
//!    the MO's id), and only then acknowledged.

use std::sync::Arc;

use bytes::Bytes;
use herald_bus::{Delivery, Outgoing};
use herald_proto::bus::v1::{Event, MoMessage, event};
use herald_rules::routing::normalize;
use herald_smpp::concat::parse_udh;
use herald_smpp::text::{Encoding, decode};
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
    let (account, label) = match snapshot.mo_route_for(&mo.carrier_id, &source, destination, &text)
    {
        Some(route) => (route.account.clone(), "routed"),
        None if !shared.config.mo_default_account.is_empty() => {
            (shared.config.mo_default_account.clone(), "default")
        }
        None => {
            tracing::debug!(mo = %mo.id, carrier = %mo.carrier_id, "no MO route; dropped");
            count("", &mo.carrier_id, "no_route");
            settle(delivery.ack().await);
            return;
        }
    };

    let word = keyword(&text);
    let change = if shared.opt_out_keywords.contains(&word) {
        Some(ListChange::OptOut)
    } else if shared.opt_in_keywords.contains(&word) {
        Some(ListChange::OptIn)
    } else {
        None
    };
    let mut label = label;
    if let Some(change) = change {
        let plan = snapshot
            .account(&account)
            .and_then(|a| a.numbering.as_ref());
        let number = normalize(&source, u8::try_from(source_ton).unwrap_or(0), plan);
        match (&shared.writer, number) {
            (None, _) => {
                tracing::warn!(%account, keyword = %word, "opt-out keyword not recorded: no rules writer");
            }
            (Some(_), None) => {
                tracing::warn!(%account, keyword = %word, "opt-out keyword from a sender that is not a number");
            }
            (Some(writer), Some(number)) => {
                let result = match change {
                    ListChange::OptOut => crate::opt_out::add(writer, &account, number.as_str())
                        .await
                        .map(drop),
                    ListChange::OptIn => crate::opt_out::remove(writer, &account, number.as_str())
                        .await
                        .map(drop),
                };
                if let Err(err) = result {
                    tracing::warn!(%account, error = %err, "cannot record opt-out; MO retried later");
                    count(&account, &mo.carrier_id, "error");
                    settle(delivery.retry(&err.to_string()).await);
                    return;
                }
                label = match change {
                    ListChange::OptOut => "opt_out",
                    ListChange::OptIn => "opt_in",
                };
            }
        }
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
