//! What a carrier's answer to a `submit_sm` means for the message, in one table, and what
//! Herald does when a message cannot be delivered through this carrier.
//!
//! | answer | [`SubmitOutcome`] | what happens |
//! | --- | --- | --- |
//! | `ESME_ROK` with a message id | `Accepted` | id map (carrier id → Herald id), status `submitted`, ack |
//! | `ESME_RTHROTTLED`, `ESME_RMSGQFUL` | `Throttled` | bind window and send rate halve; the message is sent again by this connector once pacing allows |
//! | `ESME_RSYSERR`, `ESME_RX_T_APPN`, a `generic_nack` without error, no answer within the response timeout, the bind lost before the answer | `Temporary` | redelivery after the carrier's `retry_schedule`; after `max_attempts` deliveries it fails as below |
//! | the session refused the request before writing it (unbinding) | `NotSent` | sent again at once on another bind |
//! | anything else | `Permanent` | a hand-back (`Outgoing::handed_back`) when the route has another candidate, else a failure receipt (`REJECTD`, the carrier's status as the error) |

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

/// The SMPP 5.0 `congestion_state` a carrier put in its answer (0 idle … 100 congested),
/// if any.
pub fn congestion_state(result: &Result<Pdu, SessionError>) -> Option<u8> {
    match result {
        Ok(Pdu {
            body: PduBody::SubmitSmResp(resp) | PduBody::DataSmResp(resp),
            ..
        }) => resp
            .tlvs
            .iter()
            .find(|tlv| tlv.tag == herald_smpp::Tag::CONGESTION_STATE)
            .and_then(|tlv| tlv.value.first().copied())
            .map(|state| state.min(100)),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use herald_smpp::pdu::MessageIdResp;
    use herald_smpp::session::CloseReason;
    use std::time::Duration;

    fn resp(status: CommandStatus) -> Result<Pdu, SessionError> {
        Ok(Pdu::new(2, PduBody::SubmitSmResp(MessageIdResp::new("ab12"))).with_status(status))
    }

    #[test]
    fn a_congestion_state_is_read_from_the_answer_and_capped_at_100() {
        let with = |value: u8| {
            let mut body = MessageIdResp::new("ab12");
            body.tlvs.push(herald_smpp::Tlv::u8(
                herald_smpp::Tag::CONGESTION_STATE,
                value,
            ));
            Ok(Pdu::new(2, PduBody::SubmitSmResp(body)))
        };
        assert_eq!(congestion_state(&with(92)), Some(92));
        assert_eq!(congestion_state(&with(250)), Some(100));
        assert_eq!(congestion_state(&resp(CommandStatus::ESME_ROK)), None);
        assert_eq!(
            congestion_state(&Err(SessionError::Timeout(Duration::from_secs(1)))),
            None
        );
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
}
