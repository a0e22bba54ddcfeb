//! The HTTP submit API: the same acceptance as SMPP `submit_sm`, for clients that speak
//! JSON over HTTP/1.1 rather than SMPP, on a plain listener and, with the SMPP-over-TLS
//! certificate, an HTTPS one.
//!
//! | endpoint | what it does |
//! | --- | --- |
//! | `POST /v1/messages` | encodes `text`, splits it into SMS segments and accepts one message per segment per destination; `202` once the bus acked every one |
//! | `GET /v1/messages/{id}` | the status of one of the caller's messages, from the bus's status store |
//!
//! Both authenticate with HTTP Basic (`system_id:password`) exactly as a bind does
//! ([`crate::bind::Authenticator`]: the argon2id password through [`VerifiedPasswords`]
//! behind the lockouts and bounded checks, then the account enabled, the peer address
//! allowed, TLS if the account requires it), as a transmitter (module `auth`). Failed
//! attempts are slowed down per address as failed binds are. Connections come through
//! module `listener`, which holds them to the edge's connection limits.
//!
//! Every segment goes through the same path as an SMPP `submit_sm`: `admit` (the field
//! checks, the sender policy, the no-route check), `take_token`, `publish`, and
//! `confirm`. A destination's segments are admitted and given their tokens before any
//! of them is published, so a refusal never leaves half a message on the bus.
//!
//! A request may carry an `Idempotency-Key`, which makes its retries safe: see
//! [`crate::idempotency`].
//!
//! Failures are answered as `{"error": {"status": "<SMPP status name>", "message": "..."}}`;
//! [`http_status`] is the one mapping from SMPP statuses to HTTP. See `docs/edge.md` for
//! the whole contract.
//!
//! [`VerifiedPasswords`]: crate::bind::VerifiedPasswords

use std::borrow::Cow;
use std::hash::BuildHasher as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest as _, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use herald_bus::PendingAck;
use herald_proto::bus::v1::{self as bus, MessageStatus};
use herald_rules::{Account, RulesSnapshot};
use herald_smpp::CommandStatus;
use herald_smpp::concat::{Segment, SplitForm, SplitOptions, split_text};
use herald_smpp::pdu::SubmitSm;
use herald_smpp::text::{self, ConcatReference, Encoding, PlanOptions};
use herald_smpp::time::{AbsoluteTime, SmppTime};
use herald_smpp::types::{
    Address, COctetString, DataCoding, EsmClass, Npi, RegisteredDelivery, Ton,
};
use herald_telemetry::names;
use humantime_serde::re::humantime;
use serde::{Deserialize, Serialize};

use crate::idempotency::{self, Begun, Settlement};
use crate::quota::AccountQuota;
use crate::requests::{admit, confirm, publish, take_token};
use crate::server::Shared;
use crate::submit::Rejection;
use herald_bus::lifecycle::is_final;

mod auth;
mod listener;

use auth::authenticate_request;
pub(crate) use listener::serve;

/// Largest request body, in octets: a text of 255 UCS-2 segments written as JSON escapes
/// and 100 destinations fit with room to spare.
pub const MAX_BODY_OCTETS: usize = 256 * 1024;

/// Most destinations in one request.
pub const MAX_DESTINATIONS: usize = 100;

/// Longest source address, in octets: the SMPP field's 21 less its NUL.
const MAX_SOURCE_OCTETS: usize = 20;

/// Longest message id looked up; longer ones cannot be Herald's.
const MAX_MESSAGE_ID_LEN: usize = 64;

/// What `Retry-After` says on 429 and 503, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

/// The `WWW-Authenticate` challenge of a 401.
const CHALLENGE: &str = r#"Basic realm="herald", charset="UTF-8""#;

/// Why a request, or one destination of it, was refused: the SMPP status that names the
/// fault (what an SMPP client would have heard) and a message for the caller.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// The SMPP status; [`http_status`] gives the HTTP status.
    pub status: CommandStatus,
    /// What was wrong, in words.
    pub message: Cow<'static, str>,
}

impl ApiError {
    pub(crate) fn new(status: CommandStatus, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.status.name(),
            message: self.message.to_string(),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(Rejection { status, reason }: Rejection) -> Self {
        ApiError::new(status, reason)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        respond(
            http_status(self.status),
            &SubmitResponse {
                error: Some(self.body()),
                messages: Vec::new(),
            },
        )
    }
}

/// The one mapping from an SMPP status (of the shared checks, the bus, or the HTTP layer's
/// own faults, which are named by the nearest SMPP status) to the HTTP status answered.
///
/// | SMPP status | HTTP |
/// | --- | --- |
/// | `ESME_ROK` | 202 Accepted |
/// | `ESME_RINVSYSID`, `ESME_RINVPASWD` | 401 Unauthorized |
/// | `ESME_RBINDFAIL` | 403 Forbidden |
/// | `ESME_RINVMSGID` | 404 Not Found |
/// | `ESME_RINVNUMMSGS` (over 255 segments), `ESME_RINVCMDLEN` (body too large) | 413 Content Too Large |
/// | `ESME_RTHROTTLED` | 429 Too Many Requests |
/// | `ESME_RMSGQFUL`, `ESME_RSYSERR` (the bus did not take it), `ESME_RQUERYFAIL` (the status store cannot be read) | 503 Service Unavailable |
/// | the field checks' statuses (`ESME_RINVDSTADR`, `ESME_RINVSRCADR`, `ESME_RINVDCS`, `ESME_RINVMSGLEN`, `ESME_RINVEXPIRY`, ...), `ESME_RINVNUMDESTS`, `ESME_RSUBMITFAIL` (a malformed body) | 400 Bad Request |
/// | anything else | 500 Internal Server Error |
pub fn http_status(status: CommandStatus) -> StatusCode {
    use CommandStatus as S;
    match status {
        S::ESME_ROK => StatusCode::ACCEPTED,
        S::ESME_RINVSYSID | S::ESME_RINVPASWD => StatusCode::UNAUTHORIZED,
        S::ESME_RBINDFAIL => StatusCode::FORBIDDEN,
        S::ESME_RINVMSGID => StatusCode::NOT_FOUND,
        S::ESME_RINVNUMMSGS | S::ESME_RINVCMDLEN => StatusCode::PAYLOAD_TOO_LARGE,
        S::ESME_RTHROTTLED => StatusCode::TOO_MANY_REQUESTS,
        S::ESME_RMSGQFUL | S::ESME_RSYSERR | S::ESME_RQUERYFAIL => StatusCode::SERVICE_UNAVAILABLE,
        S::ESME_RINVSRCADR
        | S::ESME_RINVSRCTON
        | S::ESME_RINVSRCNPI
        | S::ESME_RINVDSTADR
        | S::ESME_RINVDSTTON
        | S::ESME_RINVDSTNPI
        | S::ESME_RINVESMCLASS
        | S::ESME_RINVPRTFLG
        | S::ESME_RINVREGDLVFLG
        | S::ESME_RINVSUBREP
        | S::ESME_RINVREPFLAG
        | S::ESME_RINVDCS
        | S::ESME_RINVDFTMSGID
        | S::ESME_RINVMSGLEN
        | S::ESME_RINVTLVVAL
        | S::ESME_RINVSCHED
        | S::ESME_RINVEXPIRY
        | S::ESME_RINVNUMDESTS
        | S::ESME_RSUBMITFAIL => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/messages", post(submit))
        .route("/v1/messages/{id}", get(message_status))
        .layer(DefaultBodyLimit::max(MAX_BODY_OCTETS))
        .with_state(api)
}

/// What the handlers share.
#[derive(Clone)]
struct Api {
    shared: Arc<Shared>,
    /// The next concatenation reference; starts at random so that restarts and other
    /// edges do not begin at the same one.
    references: Arc<AtomicU16>,
    /// Whether this API is served over TLS (accounts with `tls_required` may use it).
    tls: bool,
}

impl Api {
    fn new(shared: Arc<Shared>, tls: bool) -> Self {
        let start = std::collections::hash_map::RandomState::new().hash_one(SystemTime::now());
        Api {
            shared,
            references: Arc::new(AtomicU16::new((start & 0xFFFF) as u16)),
            tls,
        }
    }

    /// The 8-bit concatenation reference of the next long message.
    fn next_reference(&self) -> u8 {
        (self.references.fetch_add(1, Ordering::Relaxed) & 0xFF) as u8
    }
}

/// The body of `POST /v1/messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// The sender: `+` and digits (international), digits, or a name; absent: the
    /// account's default.
    #[serde(default)]
    from: Option<String>,
    /// One destination or a list.
    to: Destinations,
    /// The text, in any Unicode.
    text: String,
    /// Whether to ask for a delivery receipt; default yes.
    #[serde(default)]
    registered_delivery: Option<bool>,
    /// How long the message may wait for delivery (humantime: `90m`, `1h`, `2d`).
    #[serde(default)]
    validity: Option<String>,
    /// `auto` (default), `gsm7` or `ucs2`.
    #[serde(default)]
    coding: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Destinations {
    One(String),
    Many(Vec<String>),
}

/// A text coding the caller may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    /// The cheapest: GSM 7-bit when every character has a code, else UCS-2.
    Auto,
    Gsm7,
    Ucs2,
}

/// A validated request: what every destination's messages are made of.
#[derive(Debug)]
struct Submission {
    source: Address,
    /// As the caller wrote them, for the answer.
    destinations: Vec<String>,
    registered_delivery: RegisteredDelivery,
    validity_period: COctetString,
    data_coding: DataCoding,
    segments: Vec<Segment>,
}

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

#[derive(Clone, Debug, Serialize)]
struct ErrorBody {
    status: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct SubmitResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    messages: Vec<DestinationOutcome>,
}

/// The answer of `GET /v1/messages/{id}`.
#[derive(Debug, Serialize)]
struct StatusResponse {
    id: String,
    /// The message state, as SMPP names it, in lower case: `enroute`, `delivered`, ...
    state: String,
    /// Whether the state is final.
    #[serde(rename = "final")]
    is_final: bool,
    /// Where the message is in Herald: `accepted`, `routed`, `submitted`, `final`.
    stage: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    /// The carrier's error or Herald's reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /v1/messages`.
async fn submit(
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
        let submission = parse_submission(&body, now, api.next_reference())?;
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
    quota: Arc<AccountQuota>,
    account: Account,
    now: SystemTime,
    /// No publish starts after it ([`idempotency::PUBLISH_DEADLINE`]).
    deadline: tokio::time::Instant,
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
    for _ in messages {
        take_token(shared, quota, now).await.map_err(refused)?;
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
        let ack = publish(shared, account, sm, checked, &message_id, now)
            .await
            .map_err(|rejection| NotAccepted {
                rejection,
                published,
            })?;
        pending.push((message_id, ack));
    }
    Ok(pending)
}

/// The `submit_sm` of one segment to one destination.
fn segment_sm(submission: &Submission, dest: Address, segment: &Segment) -> SubmitSm {
    SubmitSm {
        source: submission.source.clone(),
        dest,
        esm_class: EsmClass::default().with_udhi(segment.udhi),
        registered_delivery: submission.registered_delivery,
        validity_period: submission.validity_period.clone(),
        data_coding: submission.data_coding,
        short_message: segment.user_data.clone(),
        ..SubmitSm::default()
    }
}

/// Reads and checks a request body received at `now`; long texts carry `reference`.
fn parse_submission(body: &[u8], now: SystemTime, reference: u8) -> Result<Submission, ApiError> {
    let body: SubmitBody = serde_json::from_slice(body).map_err(|err| {
        ApiError::new(
            CommandStatus::ESME_RSUBMITFAIL,
            format!("the body is not a message request: {err}"),
        )
    })?;
    let destinations = match body.to {
        Destinations::One(to) => vec![to],
        Destinations::Many(list) => list,
    };
    if destinations.is_empty() || destinations.len() > MAX_DESTINATIONS {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVNUMDESTS,
            format!("`to` must name 1 to {MAX_DESTINATIONS} destinations"),
        ));
    }
    let coding = match body.coding.as_deref() {
        None | Some("auto") => Coding::Auto,
        Some("gsm7") => Coding::Gsm7,
        Some("ucs2") => Coding::Ucs2,
        Some(other) => {
            return Err(ApiError::new(
                CommandStatus::ESME_RINVDCS,
                format!("coding {other:?} is not one of \"auto\", \"gsm7\", \"ucs2\""),
            ));
        }
    };
    let (encoding, segments) = encode_text(&body.text, coding, reference)?;
    Ok(Submission {
        source: source(body.from.as_deref())?,
        destinations,
        registered_delivery: RegisteredDelivery(u8::from(body.registered_delivery.unwrap_or(true))),
        validity_period: validity_period(body.validity.as_deref(), now)?,
        data_coding: DataCoding(encoding.data_coding()),
        segments,
    })
}

/// Encodes `text` and splits it into segments with a UDH (8-bit reference `reference`)
/// when it needs more than one.
///
/// GSM 7-bit goes as unpacked septets with `data_coding` 0, as SMPP carries it.
fn encode_text(
    text: &str,
    coding: Coding,
    reference: u8,
) -> Result<(Encoding, Vec<Segment>), ApiError> {
    if text.is_empty() {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVMSGLEN,
            "`text` is empty",
        ));
    }
    let concat_reference = ConcatReference::EightBit;
    let plan = match coding {
        Coding::Auto => Ok(text::plan(
            text,
            &PlanOptions {
                concat_reference,
                ..PlanOptions::default()
            },
        )),
        Coding::Gsm7 => text::plan_for(text, Encoding::GSM7, concat_reference),
        Coding::Ucs2 => text::plan_for(text, Encoding::Ucs2, concat_reference),
    }
    .map_err(|err| ApiError::new(CommandStatus::ESME_RINVDCS, err.to_string()))?;
    if plan.segments > text::MAX_SEGMENTS {
        return Err(too_many_segments(plan.segments));
    }
    let options = SplitOptions {
        form: SplitForm::Udh,
        reference_size: concat_reference,
        reference: u16::from(reference),
        ..SplitOptions::default()
    };
    let segments = split_text(text, plan.encoding, &options).map_err(|err| match err {
        herald_smpp::concat::ConcatError::TooManySegments { needed } => too_many_segments(needed),
        other => ApiError::new(CommandStatus::ESME_RINVDCS, other.to_string()),
    })?;
    Ok((plan.encoding, segments))
}

fn too_many_segments(segments: usize) -> ApiError {
    ApiError::new(
        CommandStatus::ESME_RINVNUMMSGS,
        format!(
            "the text needs {segments} SMS segments; at most {} can be concatenated",
            text::MAX_SEGMENTS
        ),
    )
}

/// The SMPP source of `from`: `+` and digits international (TON 1, NPI 1), digits as
/// written (TON 0, NPI 1), anything else a name (TON 5); none asks for the account's
/// default sender.
fn source(from: Option<&str>) -> Result<Address, ApiError> {
    let Some(from) = from.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(Address::default());
    };
    if from.len() > MAX_SOURCE_OCTETS {
        return Err(ApiError::new(
            CommandStatus::ESME_RINVSRCADR,
            format!("`from` is longer than the {MAX_SOURCE_OCTETS} octets SMPP carries"),
        ));
    }
    Ok(match from.strip_prefix('+') {
        Some("") => {
            return Err(ApiError::new(
                CommandStatus::ESME_RINVSRCADR,
                "`from` is `+` without digits",
            ));
        }
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
            Address::international(digits)
        }
        _ if from.bytes().all(|b| b.is_ascii_digit()) => {
            Address::new(Ton::UNKNOWN, Npi::ISDN, from)
        }
        _ => Address::alphanumeric(from),
    })
}

/// The SMPP destination of `to`: `+` and digits international (TON 1, NPI 1); anything
/// else as written with TON 0, NPI 1, so that the account's numbering plan reads it as
/// it does for SMPP, and the checks refuse what is not a number.
fn destination(to: &str) -> Address {
    let to = to.trim();
    match to.strip_prefix('+') {
        Some(digits) => Address::international(digits),
        None => Address::new(Ton::UNKNOWN, Npi::ISDN, to),
    }
}

/// The absolute SMPP `validity_period` of a humantime duration from `now`; empty for
/// none (the carrier's default). Whether it is in the future is the shared checks' call.
fn validity_period(validity: Option<&str>, now: SystemTime) -> Result<COctetString, ApiError> {
    let Some(validity) = validity else {
        return Ok(COctetString::empty());
    };
    let invalid = |why: String| ApiError::new(CommandStatus::ESME_RINVEXPIRY, why);
    let duration = humantime::parse_duration(validity)
        .map_err(|err| invalid(format!("validity {validity:?}: {err}")))?;
    let until = now
        .checked_add(duration)
        .and_then(|until| AbsoluteTime::from_system_time(until, 0).ok())
        .ok_or_else(|| invalid(format!("validity {validity:?} ends past 2099")))?;
    let octets = SmppTime::Absolute(until).to_bytes();
    Ok(COctetString::from(
        std::str::from_utf8(&octets).unwrap_or_default(),
    ))
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
    let mut response = respond(
        StatusCode::REQUEST_TIMEOUT,
        &SubmitResponse {
            error: Some(error.body()),
            messages: Vec::new(),
        },
    );
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            CommandStatus::ESME_RINVCMDLEN,
            format!("the body is larger than {MAX_BODY_OCTETS} octets"),
        )
    } else {
        ApiError::new(CommandStatus::ESME_RSUBMITFAIL, rejection.body_text())
    }
}

/// `GET /v1/messages/{id}`: another account's message is as unknown as a message that
/// never was, so ids cannot be probed across accounts.
async fn message_status(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let account = match authenticate_request(&api.shared, &headers, peer, api.tls).await {
        Ok(account) => account,
        Err((error, _)) => return error.into_response(),
    };
    let unknown = || {
        ApiError::new(
            CommandStatus::ESME_RINVMSGID,
            "no message of this account has this id (or its status has expired)",
        )
        .into_response()
    };
    // An id that is not even UTF-8 cannot be Herald's: as unknown as any other, in JSON
    // (axum's own rejection would be plain text).
    let Ok(Path(id)) = id else {
        return unknown();
    };
    if id.is_empty() || id.len() > MAX_MESSAGE_ID_LEN {
        return unknown();
    }
    match api.shared.status.get(&id).await {
        Ok(Some(record)) if record.account_id == account.id => {
            respond(StatusCode::OK, &status_response(id, &record))
        }
        Ok(_) => unknown(),
        Err(err) => {
            tracing::warn!(error = %err, "status lookup failed");
            ApiError::new(
                CommandStatus::ESME_RQUERYFAIL,
                "the status store cannot be read now",
            )
            .into_response()
        }
    }
}

fn status_response(id: String, record: &MessageStatus) -> StatusResponse {
    let state = record.state();
    let state_name = match state {
        bus::MessageState::Unspecified => "unknown".to_owned(),
        other => other
            .as_str_name()
            .trim_start_matches("MESSAGE_STATE_")
            .to_ascii_lowercase(),
    };
    let address = |address: Option<&bus::Address>| {
        address
            .map(|a| a.addr.clone())
            .filter(|addr| !addr.is_empty())
    };
    StatusResponse {
        id,
        state: state_name,
        is_final: is_final(state),
        stage: record.stage.clone(),
        from: address(record.source.as_ref()),
        to: address(record.destination.as_ref()),
        submitted_at: rfc3339(record.submit_unix_ms),
        updated_at: rfc3339(record.updated_unix_ms),
        error: Some(record.error.clone()).filter(|e| !e.is_empty()),
    }
}

fn rfc3339(unix_ms: i64) -> Option<String> {
    let ms = u64::try_from(unix_ms).ok().filter(|&ms| ms > 0)?;
    let at = UNIX_EPOCH + Duration::from_millis(ms);
    Some(humantime::format_rfc3339_millis(at).to_string())
}

/// A JSON response; 401 carries the Basic challenge, 429 and 503 a `Retry-After`.
fn respond(code: StatusCode, body: &impl Serialize) -> Response {
    respond_json(code, to_json(body))
}

fn to_json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

/// [`respond`] with the body already serialised.
fn respond_json(code: StatusCode, json: Vec<u8>) -> Response {
    let mut response = (
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response();
    let headers = response.headers_mut();
    match code {
        StatusCode::UNAUTHORIZED => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
        }
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        _ => {}
    }
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

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_764_115_200)
    }

    fn parse(json: &str) -> Result<Submission, ApiError> {
        parse_submission(json.as_bytes(), now(), 7)
    }

    fn status_of(json: &str) -> CommandStatus {
        match parse(json) {
            Ok(_) => CommandStatus::ESME_ROK,
            Err(error) => error.status,
        }
    }

    #[test]
    fn each_http_status_comes_from_the_one_mapping() {
        use CommandStatus as S;
        for (status, code) in [
            (S::ESME_ROK, 202),
            (S::ESME_RINVSYSID, 401),
            (S::ESME_RINVPASWD, 401),
            (S::ESME_RBINDFAIL, 403),
            (S::ESME_RINVMSGID, 404),
            (S::ESME_RINVNUMMSGS, 413),
            (S::ESME_RTHROTTLED, 429),
            (S::ESME_RMSGQFUL, 503),
            (S::ESME_RSYSERR, 503),
            (S::ESME_RINVDSTADR, 400),
            (S::ESME_RINVSRCADR, 400),
            (S::ESME_RINVEXPIRY, 400),
            (S::ESME_RSUBMITFAIL, 400),
            (S::ESME_RUNKNOWNERR, 500),
        ] {
            assert_eq!(http_status(status).as_u16(), code, "{status}");
        }
    }

    #[test]
    fn addresses_are_read_as_smpp_would_carry_them() {
        assert_eq!(
            source(Some("+447700900001")).unwrap(),
            Address::international("447700900001")
        );
        assert_eq!(
            source(Some("12345")).unwrap(),
            Address::new(Ton::UNKNOWN, Npi::ISDN, "12345")
        );
        assert_eq!(source(Some("ACME")).unwrap(), Address::alphanumeric("ACME"));
        assert_eq!(source(None).unwrap(), Address::default());
        for refused in ["ABCDEFGHIJKLMNOPQRSTU", "+", " + "] {
            assert_eq!(
                source(Some(refused)).unwrap_err().status,
                CommandStatus::ESME_RINVSRCADR,
                "{refused:?}"
            );
        }
        assert_eq!(
            destination("+447700900001"),
            Address::international("447700900001")
        );
        assert_eq!(
            destination("07700900001"),
            Address::new(Ton::UNKNOWN, Npi::ISDN, "07700900001")
        );
    }

    #[test]
    fn a_body_is_checked_field_by_field() {
        use CommandStatus as S;
        let ok = r#"{"from": "ACME", "to": "+447700900001", "text": "hi"}"#;
        assert_eq!(status_of(ok), S::ESME_ROK);
        let sub = parse(ok).unwrap();
        assert_eq!(
            sub.registered_delivery,
            RegisteredDelivery(1),
            "receipts by default"
        );
        assert!(sub.validity_period.is_empty());
        assert_eq!(sub.data_coding, DataCoding(0));
        assert_eq!(sub.segments.len(), 1);
        assert!(!sub.segments[0].udhi);

        for (json, status) in [
            ("not json", S::ESME_RSUBMITFAIL),
            (
                r#"{"to": "+44", "text": "hi", "colour": "red"}"#,
                S::ESME_RSUBMITFAIL,
            ),
            (r#"{"to": "+44"}"#, S::ESME_RSUBMITFAIL),
            (r#"{"to": [], "text": "hi"}"#, S::ESME_RINVNUMDESTS),
            (r#"{"to": "+44", "text": ""}"#, S::ESME_RINVMSGLEN),
            (
                r#"{"to": "+44", "text": "hi", "coding": "latin9"}"#,
                S::ESME_RINVDCS,
            ),
            (
                r#"{"to": "+44", "text": "привет", "coding": "gsm7"}"#,
                S::ESME_RINVDCS,
            ),
            (
                r#"{"to": "+44", "text": "hi", "validity": "soon"}"#,
                S::ESME_RINVEXPIRY,
            ),
            (
                r#"{"to": "+44", "text": "hi", "validity": "200years"}"#,
                S::ESME_RINVEXPIRY,
            ),
        ] {
            assert_eq!(status_of(json), status, "{json}");
        }
        let many: Vec<String> = (0..=MAX_DESTINATIONS)
            .map(|i| format!("\"+4477009{i:05}\""))
            .collect();
        let json = format!(r#"{{"to": [{}], "text": "hi"}}"#, many.join(","));
        assert_eq!(status_of(&json), S::ESME_RINVNUMDESTS);
        let long = "a".repeat(153 * 255 + 1);
        let json = format!(r#"{{"to": "+44", "text": "{long}"}}"#);
        let error = parse(&json).unwrap_err();
        assert_eq!(error.status, S::ESME_RINVNUMMSGS);
        assert_eq!(http_status(error.status), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn validity_becomes_an_absolute_smpp_time() {
        let sub =
            parse(r#"{"to": "+44", "text": "hi", "validity": "1h", "registered_delivery": false}"#)
                .unwrap();
        let time = SmppTime::parse(sub.validity_period.as_bytes()).unwrap();
        assert_eq!(
            time.resolve(now()).unwrap(),
            now() + Duration::from_secs(3600)
        );
        assert_eq!(sub.registered_delivery, RegisteredDelivery(0));
    }

    #[test]
    fn a_long_text_is_split_with_one_reference() {
        let text = "ж".repeat(150);
        let sub = parse(&format!(r#"{{"to": "+44", "text": "{text}"}}"#)).unwrap();
        assert_eq!(sub.data_coding, DataCoding(8));
        assert_eq!(sub.segments.len(), 3);
        for (n, segment) in sub.segments.iter().enumerate() {
            assert!(segment.udhi);
            assert_eq!(&segment.user_data[..6], &[5, 0, 3, 7, 3, n as u8 + 1]);
        }
    }

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
