//! The edge's synchronous decisions on a bound session's requests, for the `requests` fuzz
//! target (`crates/edge/fuzz`) and tests. Only with the `fuzzing` feature; not an API.
//!
//! [`decide`] runs on one decoded request exactly the checks
//! [`requests`](crate::requests) runs before anything reaches the bus (the same functions,
//! not copies): the bound account still enabled; for `submit_sm` and `data_sm`, `admit`
//! and the envelope `publish` would send; for `submit_multi`, the split into one message
//! per destination, each admitted and enveloped under its `<base>-<n>` id, and the
//! answer they add up to; for `replace_sm`, its field checks and the amendment; for
//! `cancel_sm` its message id; for `query_sm` (looked up as sent, with no check) the id.
//! What needs the bus or per-session state (the window, the account's rate, the status
//! store, the publish and its ack) is left out: where [`decide`] accepts, the real edge
//! may still answer `ESME_RTHROTTLED`, `ESME_RINVMSGID`, a `*FAIL` or a bus error.

use std::time::SystemTime;

use herald_config::EdgeConfig;
use herald_proto::bus::v1::{Amendment, MtMessage};
use herald_rules::RulesSnapshot;
use herald_rules::model::UtcOffset;
use herald_smpp::pdu::{SubmitMultiResp, UnsuccessSme};
use herald_smpp::{CommandStatus, Framer, Pdu, PduBody};

use crate::message_id::{MessageId, MessageIdGenerator};
use crate::requests::{
    Replacement, accepted_envelope, admit, bound_account, cancel_target, check_replace,
    from_data_sm, herald_id, multi_answer, multi_destinations, multi_message_id,
};

/// The node id recorded in the envelopes [`decide`] builds.
pub const EDGE_NODE: &str = "edge-fuzz";

/// The offset [`decide`] evaluates route time windows in (the edge's `route_time_zone`).
pub const ROUTE_TIME_ZONE: UtcOffset = UtcOffset::UTC;

/// The framer of a bound edge session: `edge.max_pdu_len` as configured by default.
pub fn framer() -> Framer {
    Framer::new(EdgeConfig::default().max_pdu_len)
}

/// What the edge decides for one request before the bus.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Answered at once with this status (never `ESME_ROK`), in the request's own `_resp`.
    Refused(CommandStatus),
    /// A command the edge does not take from an ESME: `generic_nack` `ESME_RINVCMDID`.
    NotOffered,
    /// `submit_sm` or `data_sm` passed: the envelope published (answered OK once acked).
    Submit(Box<MtMessage>),
    /// `submit_multi`: each destination's outcome, and the answer they add up to.
    Multi(Multi),
    /// `cancel_sm` or `replace_sm` passed its checks: the Herald message id it names, and
    /// for `replace_sm` the amendment recorded if that message is still amendable.
    Amend {
        /// The message id as sent.
        id: String,
        /// The id parsed.
        parsed: MessageId,
        /// The replacement; `None` for a cancel.
        amendment: Option<Amendment>,
    },
    /// `query_sm`: the id looked up in the status store (any text; only Herald ids are
    /// ever found there).
    Query {
        /// The message id as it is looked up.
        id: String,
    },
}

impl Decision {
    /// The `command_status` decided: `ESME_ROK` where the request goes on to the bus.
    pub fn status(&self) -> CommandStatus {
        match self {
            Decision::Refused(status) => *status,
            Decision::NotOffered => CommandStatus::ESME_RINVCMDID,
            Decision::Multi(Multi {
                answer: Err(status),
                ..
            }) => *status,
            _ => CommandStatus::ESME_ROK,
        }
    }
}

/// What a `submit_multi` comes to.
#[derive(Clone, Debug, PartialEq)]
pub struct Multi {
    /// One per destination, in the order given: the envelope published, or the failure
    /// reported in the response.
    pub outcomes: Vec<Result<MtMessage, UnsuccessSme>>,
    /// The response (`ESME_ROK`) if every published message is acked, or the status of a
    /// request none of whose destinations was admitted (`ESME_RSUBMITFAIL`).
    pub answer: Result<SubmitMultiResp, CommandStatus>,
}

/// Decides `pdu`, received at `now` on a session bound by `account_id`, with the rules of
/// `snapshot`: see the module's documentation. Message ids are made as if the clock read
/// `now`.
pub fn decide(pdu: Pdu, snapshot: &RulesSnapshot, account_id: &str, now: SystemTime) -> Decision {
    let Some(account) = bound_account(snapshot, account_id) else {
        return Decision::Refused(CommandStatus::ESME_RSUBMITFAIL);
    };
    let ids = MessageIdGenerator::with_tag(0);
    let submit = |sm| match admit(ROUTE_TIME_ZONE, snapshot, account, &sm, now) {
        Ok(checked) => {
            let id = ids.next_at(now).to_string();
            Ok(accepted_envelope(
                EDGE_NODE, account, &sm, &checked, &id, now,
            ))
        }
        Err(rejection) => Err(rejection.status),
    };
    match pdu.body {
        PduBody::SubmitSm(sm) => {
            submit(sm).map_or_else(Decision::Refused, |mt| Decision::Submit(Box::new(mt)))
        }
        PduBody::DataSm(data) => submit(from_data_sm(data))
            .map_or_else(Decision::Refused, |mt| Decision::Submit(Box::new(mt))),
        PduBody::SubmitMulti(multi) => {
            let base = ids.next_at(now).to_string();
            let outcomes: Vec<_> = multi_destinations(multi)
                .into_iter()
                .enumerate()
                .map(|(n, sm)| -> Result<MtMessage, UnsuccessSme> {
                    let sm = sm?;
                    match admit(ROUTE_TIME_ZONE, snapshot, account, &sm, now) {
                        Ok(checked) => {
                            let id = multi_message_id(&base, n);
                            Ok(accepted_envelope(
                                EDGE_NODE, account, &sm, &checked, &id, now,
                            ))
                        }
                        Err(rejection) => Err(UnsuccessSme {
                            dest: sm.dest,
                            error_status_code: rejection.status,
                        }),
                    }
                })
                .collect();
            let unsuccess = outcomes
                .iter()
                .filter_map(|o| o.as_ref().err().cloned())
                .collect();
            let answer = multi_answer(&base, unsuccess, outcomes.len());
            Decision::Multi(Multi { outcomes, answer })
        }
        PduBody::QuerySm(query) => Decision::Query {
            id: query.message_id.to_string_lossy(),
        },
        PduBody::CancelSm(cancel) => amend(cancel_target(&cancel), None),
        PduBody::ReplaceSm(replace) => match check_replace(&replace, now) {
            Ok(Replacement { id, amendment }) => amend(Ok(id), Some(amendment)),
            Err(status) => Decision::Refused(status),
        },
        _ => Decision::NotOffered,
    }
}

fn amend(id: Result<String, CommandStatus>, amendment: Option<Amendment>) -> Decision {
    match id.and_then(|id| herald_id(&id).map(|parsed| (id, parsed))) {
        Ok((id, parsed)) => Decision::Amend {
            id,
            parsed,
            amendment,
        },
        Err(status) => Decision::Refused(status),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::{Duration, UNIX_EPOCH};

    use bytes::Bytes;
    use herald_smpp::pdu::{CancelSm, DestAddress, ReplaceSm, SubmitMulti, SubmitSm};
    use herald_smpp::types::{Address, COctetString};
    use serde_json::json;

    use super::*;

    /// The argon2id hash of `"secret"`.
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_796_644_800)
    }

    fn snapshot() -> RulesSnapshot {
        let entry = |k: &str, v: serde_json::Value| (k.to_owned(), serde_json::to_vec(&v).unwrap());
        RulesSnapshot::build(
            1,
            vec![
                entry(
                    "accounts/acme",
                    json!({"id": "acme", "password_hash": HASH, "quota": {"tps": 10},
                           "sender_ids": {"allowed": ["ACME"], "allow_numeric": true}}),
                ),
                entry(
                    "accounts/off",
                    json!({"id": "off", "password_hash": HASH, "quota": {"tps": 10},
                           "enabled": false}),
                ),
                entry(
                    "carriers/a",
                    json!({"id": "a", "host": "h", "port": 1, "system_id": "h",
                           "password": {"env": "PW"}, "throughput": {"tps": 1}}),
                ),
                entry(
                    "routes/uk",
                    json!({"id": "uk", "match": {"destination_prefixes": ["44"]},
                           "action": {"type": "carrier", "carrier": "a"}}),
                ),
            ],
        )
    }

    fn submit(dest: &str) -> SubmitSm {
        SubmitSm {
            source: Address::alphanumeric("ACME"),
            dest: Address::international(dest),
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        }
    }

    #[test]
    fn a_submit_is_admitted_and_enveloped_as_the_edge_publishes_it() {
        let s = snapshot();
        let decision = decide(
            Pdu::new(1, PduBody::SubmitSm(submit("447700900001"))),
            &s,
            "acme",
            now(),
        );
        let Decision::Submit(mt) = decision else {
            panic!("{decision:?}");
        };
        assert_eq!(mt.payload, b"hello");
        assert_eq!(mt.account_id, "acme");
        assert_eq!(mt.edge_node, EDGE_NODE);
        assert!(MessageId::parse(&mt.id).is_some());

        let refused = |sm, account| decide(Pdu::new(1, PduBody::SubmitSm(sm)), &s, account, now());
        assert_eq!(
            refused(submit("33612345678"), "acme"),
            Decision::Refused(CommandStatus::ESME_RINVDSTADR),
            "no route"
        );
        let mut other = submit("447700900001");
        other.source = Address::alphanumeric("OTHER");
        assert_eq!(
            refused(other, "acme"),
            Decision::Refused(CommandStatus::ESME_RINVSRCADR)
        );
        assert_eq!(
            refused(submit("447700900001"), "off"),
            Decision::Refused(CommandStatus::ESME_RSUBMITFAIL),
            "disabled account"
        );
        assert_eq!(
            decide(Pdu::new(1, PduBody::EnquireLinkResp), &s, "acme", now()),
            Decision::NotOffered
        );
    }

    #[test]
    fn submit_multi_has_one_outcome_per_destination() {
        let s = snapshot();
        let multi = |dests: Vec<DestAddress>| SubmitMulti {
            source: Address::alphanumeric("ACME"),
            dests,
            short_message: Bytes::from_static(b"hi"),
            ..Default::default()
        };
        let dests = vec![
            DestAddress::Sme(Address::international("447700900001")),
            DestAddress::DistributionList(COctetString::from_static("friends")),
            DestAddress::Sme(Address::international("33612345678")),
            DestAddress::Sme(Address::international("447700900002")),
        ];
        let Decision::Multi(m) = decide(
            Pdu::new(1, PduBody::SubmitMulti(multi(dests))),
            &s,
            "acme",
            now(),
        ) else {
            panic!("some destinations pass");
        };
        let response = m.answer.unwrap();
        let base = response.message_id.to_string_lossy();
        let ids: Vec<_> = m
            .outcomes
            .iter()
            .map(|o| {
                o.as_ref()
                    .map(|mt| mt.id.clone())
                    .map_err(|u| u.error_status_code)
            })
            .collect();
        assert_eq!(
            ids,
            [
                Ok(format!("{base}-1")),
                Err(CommandStatus::ESME_RINVDLNAME),
                Err(CommandStatus::ESME_RINVDSTADR),
                Ok(format!("{base}-4")),
            ]
        );
        assert_eq!(response.unsuccess.len(), 2);

        let none = vec![DestAddress::Sme(Address::international("33612345678"))];
        let decision = decide(
            Pdu::new(1, PduBody::SubmitMulti(multi(none))),
            &s,
            "acme",
            now(),
        );
        assert_eq!(decision.status(), CommandStatus::ESME_RSUBMITFAIL);
        let Decision::Multi(m) = decision else {
            panic!("{decision:?}");
        };
        assert_eq!(m.outcomes.len(), 1);
    }

    #[test]
    fn cancel_and_replace_need_a_herald_id_and_valid_fields() {
        let s = snapshot();
        let id = MessageIdGenerator::with_tag(7).next_at(now()).to_string();
        let cancel = |id: &str| {
            let cancel = CancelSm {
                message_id: COctetString::from(id),
                ..Default::default()
            };
            decide(Pdu::new(1, PduBody::CancelSm(cancel)), &s, "acme", now())
        };
        assert!(matches!(
            cancel(&id),
            Decision::Amend {
                amendment: None,
                ..
            }
        ));
        assert_eq!(
            cancel(""),
            Decision::Refused(CommandStatus::ESME_RCANCELFAIL)
        );
        assert_eq!(
            cancel("nope"),
            Decision::Refused(CommandStatus::ESME_RINVMSGID)
        );

        let replace = |text: &'static [u8], validity: &'static str| {
            let replace = ReplaceSm {
                message_id: COctetString::from(id.as_str()),
                short_message: Bytes::from_static(text),
                validity_period: COctetString::from_static(validity),
                ..Default::default()
            };
            decide(Pdu::new(1, PduBody::ReplaceSm(replace)), &s, "acme", now())
        };
        let Decision::Amend {
            amendment: Some(amendment),
            ..
        } = replace(b"new text", "000000010000000R")
        else {
            panic!("a valid replacement");
        };
        assert_eq!(amendment.payload, b"new text");
        assert_eq!(amendment.validity_unix_ms, 1_796_644_800_000 + 3_600_000);
        assert_eq!(
            replace(b"", ""),
            Decision::Refused(CommandStatus::ESME_RINVMSGLEN)
        );
        assert_eq!(
            replace(b"x", "garbage"),
            Decision::Refused(CommandStatus::ESME_RINVEXPIRY)
        );
    }
}
