//! The HTTP API's `Idempotency-Key`: a client that did not hear the answer to a
//! `POST /v1/messages` (a timeout, a cut connection, an edge that died) sends the same
//! request again with the same key and gets the first answer, not a second copy of its
//! messages.
//!
//! The key is claimed cluster-wide before anything is published
//! ([`herald_bus::IdempotencyKeys::claim`]), together with the request body's fingerprint
//! and the ids the request will give its messages, but only once the request's
//! destinations passed the checks: a request the checks refuse whole is answered and
//! leaves no key (its retry would be refused the same), and a destination they refuse
//! gets no ids. Then:
//!
//! - the first request's answer is stored over the claim (`finish`); a retry with the
//!   same body gets it again, marked `Idempotency-Replayed: true`;
//! - an answer that accepted nothing and invites a retry (429, a full queue) releases the
//!   key instead, so the retry starts afresh;
//! - a request that cannot know whether some message was stored (a publish ack that never
//!   came: 503 `ESME_RSYSERR`) marks the key so, and a retry is told at once, with the
//!   ids, as for an interrupted one;
//! - a retry while the first is still running gets 409 `IDEMPOTENCY_KEY_IN_USE`;
//! - the same key with another body gets 422 `IDEMPOTENCY_KEY_REUSED`;
//! - a claim never finished (its edge crashed mid-request) gets 409
//!   `IDEMPOTENCY_KEY_INTERRUPTED` with the ids it would have used: whether they were
//!   accepted cannot be known without risking a duplicate, so the client looks them up
//!   (`GET /v1/messages/{id}`) rather than Herald guessing.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_bus::idempotency::interrupted;
use herald_bus::{Claim, IdempotencyKeys};
use herald_proto::bus::v1::{DestinationIds, IdempotentRequest};
use herald_smpp::CommandStatus;
use herald_telemetry::names;

use crate::http::ApiError;
use herald_bus::lifecycle::unix_ms;

/// The request header.
pub(crate) const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The header that marks a replayed answer.
const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotency-replayed");

/// Longest key accepted, in octets.
pub const MAX_KEY_LEN: usize = 255;

/// A claim older than this and not finished belongs to a request that was interrupted.
/// Requests start no publish after [`PUBLISH_DEADLINE`], half of it; the other half covers
/// the publishes' own timeouts and the clocks of two edges disagreeing.
pub const LONGEST_REQUEST: Duration = Duration::from_secs(60);

/// How long after it started a request may still start a publish.
pub const PUBLISH_DEADLINE: Duration = Duration::from_secs(30);

/// The request's key: absent, or 1 to [`MAX_KEY_LEN`] visible ASCII characters.
pub(crate) fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(KEY_HEADER) else {
        return Ok(None);
    };
    let valid = value.as_bytes();
    if valid.is_empty() || valid.len() > MAX_KEY_LEN || !valid.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::new(
            CommandStatus::ESME_RSUBMITFAIL,
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(Some(String::from_utf8_lossy(valid).into_owned()))
}

/// A key this request holds: [`finish`] settles it.
#[derive(Debug)]
pub(crate) struct Claimed {
    key: String,
    revision: u64,
    request: IdempotentRequest,
}

/// What claiming the key decided.
pub(crate) enum Begun {
    /// The key is this request's: go on, then [`finish`].
    Fresh(Claimed),
    /// An earlier request holds the key: answer this.
    Answered(Response),
}

/// Claims `account`'s `key` for a request with `body` that will use `planned` ids (per
/// destination), or finds the earlier request that holds it and answers for it.
pub(crate) async fn begin(
    keys: &IdempotencyKeys,
    account: &str,
    key: String,
    body: &[u8],
    planned: &[(String, Vec<String>)],
    now: SystemTime,
) -> Result<Begun, ApiError> {
    let request = IdempotentRequest {
        fingerprint: IdempotencyKeys::fingerprint(body),
        started_unix_ms: unix_ms(now),
        destinations: planned
            .iter()
            .map(|(to, ids)| DestinationIds {
                to: to.clone(),
                ids: ids.clone(),
            })
            .collect(),
        ..Default::default()
    };
    let claim = keys.claim(account, &key, &request).await.map_err(|err| {
        record(account, "error");
        tracing::warn!(account, error = %err, "idempotency key store failed");
        ApiError::new(
            CommandStatus::ESME_RSYSERR,
            "the idempotency key store cannot be reached; retry with the same key",
        )
    })?;
    let held = match claim {
        Claim::Claimed { revision } => {
            record(account, "claimed");
            return Ok(Begun::Fresh(Claimed {
                key,
                revision,
                request,
            }));
        }
        Claim::Taken(held) => held,
    };
    let answer = if held.fingerprint != request.fingerprint {
        record(account, "reused");
        conflict(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with another request body",
            None,
        )
    } else if held.done {
        record(account, "replayed");
        replay(&held)
    } else if held.outcome_unknown
        || interrupted(
            held.started_unix_ms,
            request.started_unix_ms,
            LONGEST_REQUEST,
        )
    {
        record(account, "interrupted");
        conflict(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_INTERRUPTED",
            "an earlier request with this Idempotency-Key was interrupted: its messages may \
             or may not have been accepted; look them up by id before sending them again \
             under a new key",
            Some(&held.destinations),
        )
    } else {
        record(account, "in_use");
        let mut answer = conflict(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_IN_USE",
            "a request with this Idempotency-Key is in progress; retry once it is answered",
            None,
        );
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        answer
    };
    Ok(Begun::Answered(answer))
}

/// How a claimed request ended, for its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// It has an answer to give again: stored.
    Answer,
    /// Nothing went to the bus and a retry may fare better (the rate, a full queue): the
    /// key is released so that the retry runs afresh.
    Release,
    /// Some message went to the bus and its fate is unknown (its ack never came, or a
    /// later segment was refused): a retry is told the request was interrupted, with its
    /// ids, rather than given an answer that may be wrong.
    OutcomeUnknown,
}

/// Settles a claimed key as `settlement` says, with the request's answer (`code`,
/// `response`).
pub(crate) async fn finish(
    keys: &IdempotencyKeys,
    account: &str,
    claimed: Claimed,
    settlement: Settlement,
    code: StatusCode,
    response: &[u8],
) {
    let Claimed {
        key,
        revision,
        mut request,
    } = claimed;
    let settled = match settlement {
        Settlement::Release => keys.release(account, &key, revision).await,
        Settlement::Answer => {
            request.done = true;
            request.http_status = u32::from(code.as_u16());
            request.response = response.to_vec();
            keys.complete(account, &key, revision, &request).await
        }
        Settlement::OutcomeUnknown => {
            request.outcome_unknown = true;
            keys.complete(account, &key, revision, &request).await
        }
    };
    if let Err(err) = settled {
        // The claim stays unfinished: a retry is told the request was interrupted and
        // given its ids, never a second copy.
        tracing::warn!(account, error = %err, "idempotency key not settled");
    }
}

fn replay(held: &IdempotentRequest) -> Response {
    let code = u16::try_from(held.http_status)
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (REPLAYED_HEADER, HeaderValue::from_static("true")),
        ],
        held.response.clone(),
    )
        .into_response()
}

fn conflict(
    code: StatusCode,
    status: &'static str,
    message: &'static str,
    destinations: Option<&[DestinationIds]>,
) -> Response {
    let mut body = serde_json::json!({ "error": { "status": status, "message": message } });
    if let Some(destinations) = destinations {
        body["messages"] = destinations
            .iter()
            .map(|d| serde_json::json!({ "to": d.to, "ids": d.ids }))
            .collect();
    }
    (
        code,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// Counts what a key decided in `herald_edge_http_idempotency_total`.
fn record(account: &str, outcome: &'static str) {
    metrics::counter!(
        names::EDGE_HTTP_IDEMPOTENCY_TOTAL,
        names::labels::ACCOUNT => account.to_owned(),
        names::labels::STATUS => outcome
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn headers(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(KEY_HEADER, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters() {
        assert_eq!(key(&HeaderMap::new()), Ok(None));
        assert_eq!(
            key(&headers(b"order-42/2026-11-26")),
            Ok(Some("order-42/2026-11-26".to_owned()))
        );
        let longest = "k".repeat(MAX_KEY_LEN);
        assert_eq!(key(&headers(longest.as_bytes())), Ok(Some(longest.clone())));
        for bad in [
            &b""[..],
            b"with space",
            b"tab\there",
            "ü".as_bytes(),
            format!("{longest}k").as_bytes(),
        ] {
            let refused = key(&headers(bad)).unwrap_err();
            assert_eq!(refused.status, CommandStatus::ESME_RSUBMITFAIL, "{bad:?}");
        }
    }
}
