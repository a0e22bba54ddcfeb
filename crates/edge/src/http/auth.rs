//! Who is calling: HTTP Basic credentials, authenticated exactly as a transmitter bind
//! from the same address would be ([`crate::bind::Authenticator`]), failures slowed down
//! by the same per-address throttle.

use std::net::SocketAddr;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use herald_rules::Account;
use herald_smpp::CommandStatus;
use herald_smpp::session::BindMode;

use super::ApiError;
use crate::bind::BindAttempt;
use crate::server::Shared;

/// Standard base64 (RFC 4648 §4), padding optional, as clients send Basic credentials.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Authenticates a request's Basic credentials as a transmitter bind from `peer`, over
/// TLS or not as `tls` says. On failure, the error and the account label for metrics (the
/// account's id when the `system_id` is known, else empty, so probers cannot grow the
/// label set); a failure with credentials is answered only after the bind throttle's
/// delay.
pub(super) async fn authenticate_request(
    shared: &Shared,
    headers: &HeaderMap,
    peer: SocketAddr,
    tls: bool,
) -> Result<Account, (ApiError, String)> {
    let Some((system_id, password)) = basic_credentials(headers) else {
        return Err((
            ApiError::new(
                CommandStatus::ESME_RINVSYSID,
                "HTTP Basic credentials (system_id and password) are required",
            ),
            String::new(),
        ));
    };
    let attempt = BindAttempt {
        system_id,
        password,
        mode: BindMode::Transmitter,
        peer: peer.ip(),
        tls,
    };
    let snapshot = shared.rules.snapshot();
    match shared.auth.authenticate(&snapshot, &attempt).await {
        Ok(account) => Ok(account),
        Err((status, reason)) => {
            let account_label = snapshot
                .account_by_system_id(&attempt.system_id)
                .map_or_else(String::new, |a| a.id.clone());
            tracing::info!(%peer, system_id = %attempt.system_id, %status, reason, "HTTP authentication refused");
            tokio::time::sleep(shared.throttle.failed(peer.ip())).await;
            Err((ApiError::new(status, reason), account_label))
        }
    }
}

/// The `system_id` and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASIC.decode(encoded.trim()).ok()?).ok()?;
    let (system_id, password) = decoded.split_once(':')?;
    Some((system_id.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn base64_decodes_the_rfc_4648_vectors_padded_or_not() {
        for (encoded, decoded) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("YWNtZTpzZWNyZXQ", "acme:secret"),
        ] {
            assert_eq!(
                BASIC.decode(encoded).unwrap(),
                decoded.as_bytes(),
                "{encoded}"
            );
        }
        assert!(BASIC.decode("Zm9v!").is_err());
        assert!(BASIC.decode("Z").is_err());
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let mut headers = HeaderMap::new();
        // "acme:se:cret"
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("basic YWNtZTpzZTpjcmV0"),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("acme".to_owned(), "se:cret".to_owned()))
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer YWNtZTpzZWNyZXQ="),
        );
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic bm9jb2xvbg=="),
        );
        assert_eq!(basic_credentials(&headers), None, "no colon");
    }
}
