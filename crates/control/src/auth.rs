//! Who may call the admin API: [`AdminAuth`], a tonic interceptor that admits a call when
//! its `authorization` metadata is `Bearer <token>` for a known token, or when its TLS
//! client certificate was verified against `control.tls.client_ca` (mTLS).

use std::path::Path;
use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::error::ControlError;

/// The accepted API tokens.
#[derive(Clone, Debug)]
pub struct Tokens(Arc<[String]>);

impl Tokens {
    /// Reads a tokens file: one token per line; blank lines and lines starting with `#`
    /// are skipped. A file with no token is an error (it would refuse every call).
    pub fn load(path: &Path) -> Result<Tokens, ControlError> {
        let text = std::fs::read_to_string(path).map_err(|e| ControlError::Tokens {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let tokens = Tokens::parse(&text);
        if tokens.0.is_empty() {
            return Err(ControlError::Tokens {
                path: path.to_owned(),
                reason: "no token in the file".into(),
            });
        }
        Ok(tokens)
    }

    /// The tokens in `text`, as [`Tokens::load`] reads them.
    pub fn parse(text: &str) -> Tokens {
        Tokens(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether `candidate` is one of the tokens (compared in time independent of where
    /// the first difference is).
    pub fn contains(&self, candidate: &str) -> bool {
        self.0.iter().fold(false, |found, token| {
            found | constant_time_eq(token, candidate)
        })
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The interceptor: admits a call that carries a known bearer token, or that arrived over
/// a TLS connection whose client certificate the configured client CA verified (mTLS);
/// refuses the others (`UNAUTHENTICATED`). With neither tokens nor a client CA it refuses
/// every call: an admin API is never open by default.
#[derive(Clone, Debug)]
pub struct AdminAuth {
    tokens: Option<Tokens>,
    client_certs: ClientCertificates,
}

/// Whether a verified client certificate admits a call on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Yes: the server verifies them against `control.tls.client_ca`.
    Admit,
    /// No client certificates are asked for.
    NotAsked,
}

impl AdminAuth {
    /// Checks against `tokens` (`None`: no token is valid) and, as `client_certs` says,
    /// verified client certificates.
    pub fn new(tokens: Option<Tokens>, client_certs: ClientCertificates) -> AdminAuth {
        AdminAuth {
            tokens,
            client_certs,
        }
    }

    /// Whether some credential can pass: a token, or a client certificate.
    pub fn has_credentials(&self) -> bool {
        self.tokens.is_some() || self.client_certs == ClientCertificates::Admit
    }
}

impl Interceptor for AdminAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        // tonic reports peer certificates only when the handshake verified them against
        // `client_ca_root`, so their presence is the proof.
        let certs = self.client_certs == ClientCertificates::Admit;
        if certs && request.peer_certs().is_some_and(|certs| !certs.is_empty()) {
            return Ok(request);
        }
        let Some(tokens) = &self.tokens else {
            return Err(Status::unauthenticated(if certs {
                "no client certificate: the admin API takes client certificates only (no control.tokens_file)"
            } else {
                "no tokens are configured (control.tokens_file) nor client certificates (control.tls.client_ca): the admin API refuses every call"
            }));
        };
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match presented {
            Some(token) if tokens.contains(token) => Ok(request),
            Some(_) => Err(Status::unauthenticated("unknown bearer token")),
            None if certs => Err(Status::unauthenticated(
                "missing `authorization: Bearer <token>` metadata, and no client certificate",
            )),
            None => Err(Status::unauthenticated(
                "missing `authorization: Bearer <token>` metadata",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    fn call(auth: &mut AdminAuth, header: Option<&str>) -> Result<(), tonic::Code> {
        let mut request = Request::new(());
        if let Some(h) = header {
            request
                .metadata_mut()
                .insert("authorization", h.parse().unwrap());
        }
        auth.call(request).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn only_a_listed_bearer_token_is_admitted() {
        let mut auth = AdminAuth::new(
            Some(Tokens::parse("# ops\nalpha\n\n  beta  \n")),
            ClientCertificates::NotAsked,
        );
        assert_eq!(call(&mut auth, Some("Bearer alpha")), Ok(()));
        assert_eq!(call(&mut auth, Some("Bearer beta")), Ok(()));
        let unauthenticated = Err(tonic::Code::Unauthenticated);
        assert_eq!(call(&mut auth, None), unauthenticated);
        assert_eq!(call(&mut auth, Some("Bearer gamma")), unauthenticated);
        assert_eq!(call(&mut auth, Some("Bearer # ops")), unauthenticated);
        assert_eq!(call(&mut auth, Some("alpha")), unauthenticated);
        assert_eq!(call(&mut auth, Some("Bearer alph")), unauthenticated);
    }

    #[test]
    fn without_tokens_every_call_is_refused() {
        let mut auth = AdminAuth::new(None, ClientCertificates::NotAsked);
        assert!(!auth.has_credentials());
        assert!(call(&mut auth, None).is_err());
        assert!(call(&mut auth, Some("Bearer anything")).is_err());
    }

    #[test]
    fn with_client_certificates_only_a_token_without_a_certificate_is_refused() {
        // A call that did not come over TLS has no peer certificates (the TLS path is
        // tested end to end in tests/mtls.rs).
        let mut auth = AdminAuth::new(None, ClientCertificates::Admit);
        assert!(auth.has_credentials());
        assert_eq!(
            call(&mut auth, Some("Bearer anything")),
            Err(tonic::Code::Unauthenticated)
        );
    }

    #[test]
    fn an_empty_tokens_file_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "# nobody\n").unwrap();
        assert!(matches!(
            Tokens::load(file.path()),
            Err(ControlError::Tokens { .. })
        ));
    }
}
