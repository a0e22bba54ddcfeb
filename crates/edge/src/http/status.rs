//! `GET /v1/messages/{id}`: one of the caller's messages, read from the bus's status
//! store and answered in the API's own words (RFC 3339 times, lower-case state names).

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_bus::lifecycle::is_final;
use herald_proto::bus::v1::{self as bus, MessageStatus};
use herald_smpp::CommandStatus;
use humantime_serde::re::humantime;
use serde::Serialize;

use super::Api;
use super::answer::{ApiError, respond};
use super::auth::authenticate_request;

/// Longest message id looked up; longer ones cannot be Herald's.
const MAX_MESSAGE_ID_LEN: usize = 64;

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

/// `GET /v1/messages/{id}`: another account's message is as unknown as a message that
/// never was, so ids cannot be probed across accounts.
pub(super) async fn message_status(
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
