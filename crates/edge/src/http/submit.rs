//! `POST /v1/messages`: a request authenticated, its body read within
//! `edge.http_body_timeout` and parsed ([`super::body`]), then each destination's
//! segments through the same path as an SMPP `submit_sm` (`admit`, `take_token`,
//! `publish`, `confirm`), with the request's `Idempotency-Key` claimed before anything is
//! published and settled with the answer ([`crate::idempotency`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest as _, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_bus::PendingAck;
use herald_rules::{Account, RulesSnapshot};
use herald_smpp::CommandStatus;
use herald_smpp::pdu::SubmitSm;
use herald_telemetry::names;
use humantime_serde::re::humantime;
use serde::Serialize;

use super::Api;
use super::answer::{
    ApiError, ErrorBody, ErrorResponse, http_status, respond, respond_json, to_json,
};
use super::auth::authenticate_request;
use super::body::{Submission, body_error, destination, parse_submission, segment_sm};
use crate::idempotency::{self, Begun, Settlement};
use crate::quota::ClusterQuota;
use crate::requests::{admit, confirm, publish, take_route_token, take_token};
use crate::server::Shared;
use crate::submit::Rejection;

/// What became of one destination: the ids of its segments, or why it was refused.
#[derive(Debug)]
struct DestinationResult {
    /// As the caller wrote it.
    to: String,
    outcome: Result<Vec<String>, ApiError>,
    /// Whether any of its segments was handed to the bus: if so and `outcome` is an error,
    /// whether the bus stored them is unknown.
    published: bool,
}

/// One entry of the answer's `messages`, in the order of `to`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum DestinationOutcome {
    Accepted {
        to: String,
        ids: Vec<String>,
        parts: usize,
    },
    Refused {
        to: String,
        error: ErrorBody,
    },
}

#[derive(Debug, Serialize)]
struct SubmitResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<DestinationOutcome>,
}

/// `POST /v1/messages`.
pub(super) async fn submit(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    // The credentials first: a client who has none never gets to send a body.
    let account = match authenticate_request(&api.shared, &headers, peer, api.tls).await {
        Ok(account) => account,
        Err((error, account_label)) => {
            record_submit(&account_label, http_status(error.status), 0);
            return error.into_response();
        }
    };
    let body_timeout = api.shared.config.http_body_timeout;
    let Ok(body) = tokio::time::timeout(body_timeout, Bytes::from_request(request, &api)).await
    else {
        metrics::counter!(names::EDGE_HTTP_TIMEOUTS_TOTAL, names::labels::STATUS => "body")
            .increment(1);
        tracing::debug!(account = %account.id, %peer, "HTTP body too slow: refused");
        record_submit(&account.id, StatusCode::REQUEST_TIMEOUT, 0);
        return body_timed_out(body_timeout);
    };
    let now = SystemTime::now();
    let parsed = idempotency::key(&headers).and_then(|key| {
        let body = body.map_err(body_error)?;
        let submission = parse_submission(&body, now, api.next_reference(), account.transliterate)?
            .with_default_sender(&account);
        Ok((key, body, submission))
    });
    let (idempotency_key, body, submission) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::debug!(account = %account.id, %error, "HTTP submit refused");
            record_submit(&account.id, http_status(error.status), 0);
            return error.into_response();
        }
    };
    let destinations = submission.destinations.len();
    // The rest runs in its own task: a client that hangs up mid-request does not cut a
    // destination's segments off half published, the acks are still counted, and its
    // Idempotency-Key is still settled with the answer, which is what its retry is after.
    let accepting = tokio::spawn(accept_and_settle(
        api.shared.clone(),
        account.clone(),
        submission,
        idempotency_key.map(|key| (key, body)),
        now,
    ));
    let response = match accepting.await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(account = %account.id, error = %err, "HTTP submit task failed");
            ApiError::new(CommandStatus::ESME_RUNKNOWNERR, "internal error").into_response()
        }
    };
    record_submit(&account.id, response.status(), destinations);
    response
}

/// Claims the request's idempotency key when it has one (`key` and the raw body), accepts
/// the submission ([`accept_all`]) under the ids planned for it, and settles the key with
/// the answer; or answers for the earlier request that holds the key.
async fn accept_and_settle(
    shared: Arc<Shared>,
    account: Account,
    submission: Submission,
    key: Option<(String, Bytes)>,
    now: SystemTime,
) -> Response {
    let deadline = tokio::time::Instant::now() + idempotency::PUBLISH_DEADLINE;
    let acceptance = Acceptance {
        snapshot: shared.rules.snapshot(),
        quota: shared.quota(&account),
        shared: shared.clone(),
        account: account.clone(),
        now,
        deadline,
        client_ref: submission.client_ref.clone(),
    };
    // The checks first: a destination they refuse gets no ids, and a request they refuse
    // whole is answered without a key stored (a retry would be refused the same way).
    let checked = check_all(&acceptance, &submission);
    let ids = plan_ids(&shared, &submission, &checked);
    let key = key.filter(|_| checked.iter().any(Result::is_ok));
    let claimed = match key {
        None => None,
        Some((key, body)) => {
            let planned: Vec<(String, Vec<String>)> = submission
                .destinations
                .iter()
                .cloned()
                .zip(ids.iter().cloned())
                .collect();
            let begun =
                idempotency::begin(&shared.idempotency, &account.id, key, &body, &planned, now)
                    .await;
            match begun {
                Ok(Begun::Fresh(claimed)) => Some(claimed),
                Ok(Begun::Answered(answer)) => return answer,
                Err(error) => return error.into_response(),
            }
        }
    };
    let outcomes = accept_all(&acceptance, submission, checked, ids).await;
    let settlement = settlement(&outcomes);
    let (code, response) = summarize(outcomes);
    let json = to_json(&response);
    if let Some(claimed) = claimed {
        idempotency::finish(
            &shared.idempotency,
            &account.id,
            claimed,
            settlement,
            code,
            &json,
        )
        .await;
    }
    respond_json(code, json)
}

/// How an idempotent request's key is settled after `outcomes`: unknown when a destination
/// failed after some of its segments went to the bus (stored or not, nobody knows);
/// released when nothing went to the bus and every destination was refused for a reason
/// a retry may not meet (the rate, a full queue, the bus); else the answer stands.
fn settlement(outcomes: &[DestinationResult]) -> Settlement {
    use CommandStatus as S;
    let fate_unknown = outcomes.iter().any(|r| r.published && r.outcome.is_err());
    let published_any = outcomes.iter().any(|r| r.published);
    let all_retryable = outcomes.iter().all(|r| {
        matches!(&r.outcome, Err(e) if matches!(e.status, S::ESME_RTHROTTLED | S::ESME_RMSGQFUL | S::ESME_RSYSERR))
    });
    if fate_unknown {
        Settlement::OutcomeUnknown
    } else if !published_any && all_retryable {
        Settlement::Release
    } else {
        Settlement::Answer
    }
}

/// Each destination's segments through the field checks, the sender policy and the
/// no-route check, with the rules as the request began: the first refusal of each.
fn check_all(acceptance: &Acceptance, submission: &Submission) -> Vec<Result<(), Rejection>> {
    submission
        .destinations
        .iter()
        .map(|to| {
            submission.segments.iter().try_for_each(|segment| {
                let sm = segment_sm(submission, destination(to), segment);
                admit(
                    acceptance.shared.route_time_zone,
                    &acceptance.snapshot,
                    &acceptance.account,
                    &sm,
                    acceptance.now,
                )
                .map(drop)
            })
        })
        .collect()
}

/// The ids each checked destination's segments will get, in order (none for one the
/// checks refused): known before anything is published, so an idempotent request can
/// record them first.
fn plan_ids(
    shared: &Shared,
    submission: &Submission,
    checked: &[Result<(), Rejection>],
) -> Vec<Vec<String>> {
    checked
        .iter()
        .map(|check| match check {
            Ok(()) => submission
                .segments
                .iter()
                .map(|_| shared.ids.next_id().to_string())
                .collect(),
            Err(_) => Vec::new(),
        })
        .collect()
}

/// The HTTP status and body of a submit whose destinations were each accepted or not:
/// all accepted, 202; none accepted and all for the same reason, that reason's status
/// with it as `error`; any other mix, 207 Multi-Status. `messages` always has every
/// destination's outcome.
fn summarize(results: Vec<DestinationResult>) -> (StatusCode, SubmitResponse) {
    let first_error = results
        .iter()
        .find_map(|result| result.outcome.as_ref().err().cloned());
    let accepted = results
        .iter()
        .filter(|result| result.outcome.is_ok())
        .count();
    let one_reason = first_error.as_ref().filter(|first| {
        results
            .iter()
            .all(|result| matches!(&result.outcome, Err(error) if error.status == first.status))
    });
    let (code, error) = match one_reason {
        _ if accepted == results.len() => (StatusCode::ACCEPTED, None),
        Some(error) if accepted == 0 => (http_status(error.status), Some(error.body())),
        _ => (StatusCode::MULTI_STATUS, None),
    };
    let messages = results
        .into_iter()
        .map(|DestinationResult { to, outcome, .. }| match outcome {
            Ok(ids) => DestinationOutcome::Accepted {
                to,
                parts: ids.len(),
                ids,
            },
            Err(error) => DestinationOutcome::Refused {
                to,
                error: error.body(),
            },
        })
        .collect();
    (code, SubmitResponse { error, messages })
}

/// Accepts every destination's messages: each destination's segments are admitted and
/// given their tokens, then published; every publish of the request is in flight at once
/// and each destination's outcome waits for its acks.
async fn accept_all(
    acceptance: &Acceptance,
    submission: Submission,
    checked: Vec<Result<(), Rejection>>,
    ids: Vec<Vec<String>>,
) -> Vec<DestinationResult> {
    let mut published = Vec::with_capacity(submission.destinations.len());
    for ((to, check), ids) in submission.destinations.iter().zip(checked).zip(ids) {
        if let Err(rejection) = check {
            // Refused by the checks before it had ids: refused the same now.
            let refused = NotAccepted {
                rejection,
                published: false,
            };
            published.push((to.clone(), Err(refused)));
            continue;
        }
        let messages: Vec<SubmitSm> = submission
            .segments
            .iter()
            .map(|segment| segment_sm(&submission, destination(to), segment))
            .collect();
        let pending = accept_destination(acceptance, &messages, ids).await;
        published.push((to.clone(), pending));
    }
    let confirmations = published.into_iter().map(|(to, pending)| async move {
        match pending {
            Ok(pending) => {
                let (ids, acks): (Vec<String>, Vec<PendingAck>) = pending.into_iter().unzip();
                let confirmed = futures::future::join_all(acks.into_iter().map(confirm)).await;
                let outcome = match confirmed.into_iter().find_map(Result::err) {
                    None => Ok(ids),
                    Some(rejection) => Err(ApiError::from(rejection)),
                };
                DestinationResult {
                    to,
                    outcome,
                    published: true,
                }
            }
            Err(NotAccepted {
                rejection,
                published,
            }) => DestinationResult {
                to,
                outcome: Err(ApiError::from(rejection)),
                published,
            },
        }
    });
    futures::future::join_all(confirmations).await
}

/// What every destination of one request is accepted under.
struct Acceptance {
    shared: Arc<Shared>,
    /// The rules, as when the request began.
    snapshot: Arc<RulesSnapshot>,
    quota: Arc<ClusterQuota>,
    account: Account,
    now: SystemTime,
    /// No publish starts after it ([`idempotency::PUBLISH_DEADLINE`]).
    deadline: tokio::time::Instant,
    /// The request's `client_ref`, put on every message of it.
    client_ref: Option<String>,
}

/// Why a destination was not accepted, and whether some of its segments had already been
/// handed to the bus when it was refused (they may be stored, their acks unheard).
struct NotAccepted {
    rejection: Rejection,
    published: bool,
}

/// One destination's segments through the shared path: every segment admitted, then a
/// token for every segment, then every segment published under its id of `ids` (ids and
/// pending acks). No publish starts after `deadline`, so that a request never runs
/// longer than its idempotency key's claim says it can.
///
/// Nothing is published unless all segments passed the checks and the rate: a refusal
/// never leaves part of a message on the bus. Tokens taken before a later segment's was
/// refused are spent.
async fn accept_destination(
    acceptance: &Acceptance,
    messages: &[SubmitSm],
    ids: Vec<String>,
) -> Result<Vec<(String, PendingAck)>, NotAccepted> {
    let Acceptance {
        shared,
        snapshot,
        quota,
        account,
        now,
        deadline,
        client_ref,
    } = acceptance;
    let (now, deadline) = (*now, *deadline);
    let refused = |rejection| NotAccepted {
        rejection,
        published: false,
    };
    let checked = messages
        .iter()
        .map(|sm| admit(shared.route_time_zone, snapshot, account, sm, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(refused)?;
    for checked in &checked {
        take_route_token(shared, checked, now)
            .await
            .map_err(refused)?;
        take_token(shared.live_rate_counters(), quota, now)
            .await
            .map_err(refused)?;
    }
    let mut pending = Vec::with_capacity(messages.len());
    for ((sm, checked), message_id) in messages.iter().zip(&checked).zip(ids) {
        let published = !pending.is_empty();
        if tokio::time::Instant::now() > deadline {
            return Err(NotAccepted {
                rejection: Rejection {
                    status: CommandStatus::ESME_RSYSERR,
                    reason: "the request ran out of time before all its messages were sent",
                },
                published,
            });
        }
        let ack = publish(
            shared,
            account,
            sm,
            checked,
            &message_id,
            now,
            client_ref.as_deref(),
        )
        .await
        .map_err(|rejection| NotAccepted {
            rejection,
            published,
        })?;
        pending.push((message_id, ack));
    }
    Ok(pending)
}

/// 408 for a body that did not arrive within `edge.http_body_timeout`; the connection is
/// closed after it (what is left of the body is never read).
fn body_timed_out(timeout: Duration) -> Response {
    let error = ApiError::new(
        CommandStatus::ESME_RSUBMITFAIL,
        format!(
            "the body did not arrive within {}",
            humantime::format_duration(timeout)
        ),
    );
    let mut response = respond(StatusCode::REQUEST_TIMEOUT, &ErrorResponse::from(&error));
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Counts one submit request in `herald_edge_http_submit_total` and logs it.
fn record_submit(account: &str, code: StatusCode, destinations: usize) {
    tracing::debug!(
        account,
        status = code.as_u16(),
        destinations,
        "HTTP submit answered"
    );
    metrics::counter!(
        names::EDGE_HTTP_SUBMIT_TOTAL,
        names::labels::ACCOUNT => account.to_owned(),
        names::labels::STATUS => code.as_u16().to_string()
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn ok(to: &str) -> DestinationResult {
        DestinationResult {
            to: to.to_owned(),
            outcome: Ok(vec!["id".to_owned()]),
            published: true,
        }
    }

    fn refused(to: &str, status: CommandStatus) -> DestinationResult {
        DestinationResult {
            to: to.to_owned(),
            outcome: Err(ApiError::new(status, "no")),
            published: false,
        }
    }

    /// Refused after some of its segments went to the bus.
    fn cut_short(to: &str, status: CommandStatus) -> DestinationResult {
        DestinationResult {
            published: true,
            ..refused(to, status)
        }
    }

    #[test]
    fn only_a_request_that_sent_nothing_and_may_fare_better_frees_its_key() {
        use CommandStatus as S;
        use Settlement::*;
        assert_eq!(settlement(&[ok("a"), ok("b")]), Answer);
        assert_eq!(settlement(&[refused("a", S::ESME_RINVDSTADR)]), Answer);
        assert_eq!(
            settlement(&[ok("a"), refused("b", S::ESME_RTHROTTLED)]),
            Answer
        );
        // Nothing sent, and a retry may pass: the rate, a full queue, a bus refusal.
        assert_eq!(settlement(&[refused("a", S::ESME_RTHROTTLED)]), Release);
        assert_eq!(
            settlement(&[
                refused("a", S::ESME_RTHROTTLED),
                refused("b", S::ESME_RMSGQFUL),
                refused("c", S::ESME_RSYSERR),
            ]),
            Release
        );
        // One of them a final refusal: the answer stands.
        assert_eq!(
            settlement(&[
                refused("a", S::ESME_RTHROTTLED),
                refused("b", S::ESME_RINVDSTADR)
            ]),
            Answer
        );
        // Something went to the bus and was not confirmed: whatever the status, unknown.
        assert_eq!(
            settlement(&[cut_short("a", S::ESME_RMSGQFUL)]),
            OutcomeUnknown
        );
        assert_eq!(
            settlement(&[ok("a"), cut_short("b", S::ESME_RSYSERR)]),
            OutcomeUnknown
        );
    }

    #[test]
    fn outcomes_summarize_to_one_status() {
        let (code, body) = summarize(vec![ok("a"), ok("b")]);
        assert_eq!(code, StatusCode::ACCEPTED);
        assert!(body.error.is_none());
        let (code, body) = summarize(vec![refused("a", CommandStatus::ESME_RTHROTTLED)]);
        assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body.error.unwrap().status, "ESME_RTHROTTLED");
        assert_eq!(body.messages.len(), 1);
        let (code, _) = summarize(vec![ok("a"), refused("b", CommandStatus::ESME_RINVDSTADR)]);
        assert_eq!(code, StatusCode::MULTI_STATUS);
        let (code, _) = summarize(vec![
            refused("a", CommandStatus::ESME_RINVDSTADR),
            refused("b", CommandStatus::ESME_RTHROTTLED),
        ]);
        assert_eq!(code, StatusCode::MULTI_STATUS);
    }
}
