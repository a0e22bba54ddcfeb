//! How the HTTP API answers: the one mapping from SMPP statuses to HTTP ([`http_status`]),
//! the error body every refusal carries, and the JSON responses with the headers their
//! status calls for (the Basic challenge on 401, `Retry-After` on 429 and 503).

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_smpp::CommandStatus;
use serde::Serialize;

use crate::submit::Rejection;

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

    pub(super) fn body(&self) -> ErrorBody {
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
        respond(http_status(self.status), &ErrorResponse::from(&self))
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

/// An [`ApiError`] as JSON: the SMPP status's name and the message.
#[derive(Clone, Debug, Serialize)]
pub(super) struct ErrorBody {
    pub(super) status: &'static str,
    pub(super) message: String,
}

/// The answer of a request refused whole: `{"error": {...}}`.
#[derive(Debug, Serialize)]
pub(super) struct ErrorResponse {
    error: ErrorBody,
}

impl From<&ApiError> for ErrorResponse {
    fn from(error: &ApiError) -> Self {
        ErrorResponse {
            error: error.body(),
        }
    }
}

/// A JSON response; 401 carries the Basic challenge, 429 and 503 a `Retry-After`.
pub(super) fn respond(code: StatusCode, body: &impl Serialize) -> Response {
    respond_json(code, to_json(body))
}

pub(super) fn to_json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec())
}

/// [`respond`] with the body already serialised.
pub(super) fn respond_json(code: StatusCode, json: Vec<u8>) -> Response {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

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
}
