//! What a carrier's answer to a `submit_sm` means for the message, in one table, and what
//! Herald does when a message cannot be delivered through this carrier.
//!
//! | answer | [`SubmitOutcome`] | what happens |
//! | --- | --- | --- |
//! | `ESME_ROK` with a message id | `Accepted` | id map (carrier id → Herald id), status `submitted`, ack |
//! | `ESME_RTHROTTLED`, `ESME_RMSGQFUL` | `Throttled` | bind window and send rate halve; the message is sent again by this connector once pacing allows |
//! | `ESME_RSYSERR`, `ESME_RX_T_APPN`, a `generic_nack` without error, no answer within the response timeout, the bind lost before the answer | `Temporary` | redelivery after the carrier's `retry_schedule`; after `max_attempts` deliveries it fails as below |
//! | the session refused the request before writing it (unbinding) | `NotSent` | sent again at once on another bind |
//! | anything else | `Permanent` | [`failover`] when the route has another candidate, else a failure receipt (`REJECTD`, the carrier's status as the error) |

use herald_proto::bus::v1::MtMessage;
use herald_smpp::session::SessionError;
use herald_smpp::{CommandStatus, Pdu, PduBody};

/// What a carrier's answer means for the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The carrier took it and calls it `carrier_message_id` (possibly empty, if the
    /// carrier sends no id).
    Accepted {
        /// The carrier's id, as its `submit_sm_resp` gave it.
        carrier_message_id: String,
    },
    /// The carrier asks us to slow down.
    Throttled(CommandStatus),
    /// It may work later.
    Temporary(String),
    /// It never left this connector: the session refused it before writing it.
    NotSent,
    /// It will never work on this carrier.
    Permanent(CommandStatus),
}

impl SubmitOutcome {
    /// The `status` label of `herald_connector_submit_total`.
    pub fn label(&self, result: &Result<Pdu, SessionError>) -> &'static str {
        match result {
            Ok(pdu) => pdu.command_status.name(),
            Err(SessionError::Timeout(_)) => "timeout",
            Err(SessionError::Closed(_)) => "bind_lost",
            Err(_) => "not_sent",
        }
    }
}

/// Classifies the result of a `submit_sm` request.
pub fn classify(result: &Result<Pdu, SessionError>) -> SubmitOutcome {
    match result {
        Ok(pdu) => match (pdu.command_status, &pdu.body) {
            (CommandStatus::ESME_ROK, PduBody::SubmitSmResp(resp) | PduBody::DataSmResp(resp)) => {
                SubmitOutcome::Accepted {
                    carrier_message_id: resp.message_id.to_string_lossy(),
                }
            }
            (CommandStatus::ESME_ROK, _) => {
                SubmitOutcome::Temporary(format!("unexpected answer {}", pdu.command_id()))
            }
            (status @ (CommandStatus::ESME_RTHROTTLED | CommandStatus::ESME_RMSGQFUL), _) => {
                SubmitOutcome::Throttled(status)
            }
            (status, _) if status.is_transient() => {
                SubmitOutcome::Temporary(format!("carrier answered {status}"))
            }
            (status, _) => SubmitOutcome::Permanent(status),
        },
        Err(SessionError::Timeout(after)) => {
            SubmitOutcome::Temporary(format!("no answer within {after:?}"))
        }
        Err(SessionError::Closed(reason)) => {
            SubmitOutcome::Temporary(format!("bind lost before the answer: {reason}"))
        }
        Err(SessionError::NotAllowed(..)) => SubmitOutcome::NotSent,
        // Our own submit_sm could not be encoded: it never will be.
        Err(SessionError::Encode(_) | SessionError::NotARequest(_)) => {
            SubmitOutcome::Permanent(CommandStatus::ESME_RSYSERR)
        }
    }
}

/// The router's failover contract, in one place: when a message cannot be delivered
/// through `carrier`, this returns the message to hand back to the routers, or `None`
/// when it has nowhere else to go and fails.
///
/// Until `docs/router.md` says otherwise: the route (the router's [`RouteDecision`]) must
/// list more candidates than the carriers already failed plus this one; the message goes
/// back with `attempt + 1` and `carrier` appended to `failed_carriers`, published to the
/// accepted subject of its account with dedup id `<id>:<attempt>` (the new attempt).
///
/// [`RouteDecision`]: herald_proto::bus::v1::RouteDecision
pub fn failover(mt: &MtMessage, carrier: &str) -> Option<MtMessage> {
    let route = mt.route.as_ref()?;
    let mut failed = mt.failed_carriers.clone();
    if !failed.iter().any(|c| c == carrier) {
        failed.push(carrier.to_owned());
    }
    let untried = route
        .candidates
        .iter()
        .filter(|c| !failed.contains(c))
        .count();
    if untried == 0 {
        return None;
    }
    let mut next = mt.clone();
    next.attempt = mt.attempt.saturating_add(1);
    next.failed_carriers = failed;
    Some(next)
}

/// The dedup id of a failover hand-back: `<id>:<attempt>`.
pub fn failover_dedup_id(next: &MtMessage) -> String {
    format!("{}:{}", next.id, next.attempt)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use herald_proto::bus::v1::RouteDecision;
    use herald_smpp::pdu::MessageIdResp;
    use herald_smpp::session::CloseReason;
    use std::time::Duration;

    fn resp(status: CommandStatus) -> Result<Pdu, SessionError> {
        Ok(Pdu::new(2, PduBody::SubmitSmResp(MessageIdResp::new("ab12"))).with_status(status))
    }

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(
            classify(&resp(CommandStatus::ESME_ROK)),
            SubmitOutcome::Accepted {
                carrier_message_id: "ab12".into()
            }
        );
        assert_eq!(
            classify(&resp(CommandStatus::ESME_RTHROTTLED)),
            SubmitOutcome::Throttled(CommandStatus::ESME_RTHROTTLED)
        );
        assert_eq!(
            classify(&resp(CommandStatus::ESME_RMSGQFUL)),
            SubmitOutcome::Throttled(CommandStatus::ESME_RMSGQFUL)
        );
        assert!(matches!(
            classify(&resp(CommandStatus::ESME_RSYSERR)),
            SubmitOutcome::Temporary(_)
        ));
        assert_eq!(
            classify(&resp(CommandStatus::ESME_RINVDSTADR)),
            SubmitOutcome::Permanent(CommandStatus::ESME_RINVDSTADR)
        );
        assert!(matches!(
            classify(&Err(SessionError::Timeout(Duration::from_secs(1)))),
            SubmitOutcome::Temporary(_)
        ));
        assert!(matches!(
            classify(&Err(SessionError::Closed(CloseReason::PeerClosed))),
            SubmitOutcome::Temporary(_)
        ));
        let nack = Ok(Pdu::new(2, PduBody::GenericNack));
        assert!(matches!(classify(&nack), SubmitOutcome::Temporary(_)));
        let label = classify(&resp(CommandStatus::ESME_ROK)).label(&resp(CommandStatus::ESME_ROK));
        assert_eq!(label, "ESME_ROK");
    }

    #[test]
    fn failover_needs_an_untried_candidate() {
        let mut mt = MtMessage {
            id: "M1".into(),
            attempt: 0,
            route: Some(RouteDecision {
                candidates: vec!["a".into(), "b".into()],
                ..RouteDecision::default()
            }),
            ..MtMessage::default()
        };
        let next = failover(&mt, "a").unwrap();
        assert_eq!(next.attempt, 1);
        assert_eq!(next.failed_carriers, vec!["a".to_owned()]);
        assert_eq!(failover_dedup_id(&next), "M1:1");
        assert!(failover(&next, "b").is_none());
        mt.route = None;
        assert!(failover(&mt, "a").is_none());
    }
}
