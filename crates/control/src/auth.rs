//! Who may call the admin API, and as what: [`AdminAuth`], a tonic interceptor that admits
//! a call when its `authorization` metadata is `Bearer <token>` for a known token, or when
//! its TLS client certificate was verified against `control.tls.client_ca` (mTLS), and
//! tags the call with its [`Caller`]: a name for the audit log and an [`AdminRole`].
//!
//! The tokens file (`control.tokens_file`) has one token per line, in one of two forms:
//!
//! ```text
//! # a line with one field is an admin token (the format before roles existed)
//! 3f1c0d…
//! # ROLE NAME TOKEN: a named token of role `viewer` or `admin`
//! viewer grafana 9ab2e4…
//! admin  alice   77c0f1…
//! ```
//!
//! Any other line is refused at start, with its number: a token with spaces in it, which
//! the format before roles accepted, must be replaced rather than silently reread.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use herald_config::AdminRole;
use sha2::{Digest as _, Sha256};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::error::ControlError;

/// Who made an admin API call, as [`AdminAuth`] established it; in the request's
/// extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Who, for the audit log: `token:<name>`, `token:sha256:<prefix>` for an unnamed
    /// token, or `cert:<subject>`. Never the token itself.
    pub name: String,
    /// What the caller may do.
    pub role: AdminRole,
}

impl Caller {
    /// The caller of `request`; `None` when it did not pass [`AdminAuth`] (tests calling
    /// the service directly).
    pub fn of<T>(request: &Request<T>) -> Option<&Caller> {
        request.extensions().get::<Caller>()
    }
}

/// One accepted token.
#[derive(Clone, Debug)]
struct Token {
    secret: String,
    caller: Caller,
}

/// The accepted API tokens, each with its name and role.
#[derive(Clone, Debug)]
pub struct Tokens(Arc<[Token]>);

impl Tokens {
    /// Reads a tokens file (the format is in the module docs). A file with no token is an
    /// error (it would refuse every call), and so is a line that is neither form.
    pub fn load(path: &Path) -> Result<Tokens, ControlError> {
        let refused = |reason: String| ControlError::Tokens {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
        let tokens = Tokens::parse(&text).map_err(refused)?;
        if tokens.0.is_empty() {
            return Err(refused("no token in the file".into()));
        }
        Ok(tokens)
    }

    /// The tokens in `text`, as [`Tokens::load`] reads them; the first bad line's number
    /// and fault (never its token).
    pub(crate) fn parse(text: &str) -> Result<Tokens, String> {
        let mut tokens = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let token = match fields.as_slice() {
                [secret] => Token {
                    secret: (*secret).to_owned(),
                    caller: Caller {
                        name: format!("token:sha256:{}", fingerprint(secret.as_bytes())),
                        role: AdminRole::Admin,
                    },
                },
                [role, name, secret] => Token {
                    secret: (*secret).to_owned(),
                    caller: Caller {
                        name: format!("token:{name}"),
                        role: role
                            .parse()
                            .map_err(|e| format!("line {}: {e}", number + 1))?,
                    },
                },
                _ => {
                    return Err(format!(
                        "line {}: expected `TOKEN` or `ROLE NAME TOKEN`, got {} fields",
                        number + 1,
                        fields.len()
                    ));
                }
            };
            tokens.push(token);
        }
        Ok(Tokens(tokens.into()))
    }

    /// The caller `candidate` authenticates, if it is one of the tokens (compared in time
    /// independent of where the first difference is, and of which token matches).
    pub fn find(&self, candidate: &str) -> Option<&Caller> {
        self.0.iter().fold(None, |found, token| {
            let matches = constant_time_eq(&token.secret, candidate);
            found.or(matches.then_some(&token.caller))
        })
    }
}

/// The first 12 hex digits of the SHA-256 of `bytes`: enough to tell tokens and
/// certificates apart in a log, too few to help guess them.
pub(crate) fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The interceptor: admits a call that carries a known bearer token, or that arrived over
/// a TLS connection whose client certificate the configured client CA verified (mTLS), and
/// puts its [`Caller`] in the request's extensions; refuses the others
/// (`UNAUTHENTICATED`). With neither tokens nor a client CA it refuses every call: an
/// admin API is never open by default. Roles are enforced by the service.
#[derive(Clone, Debug)]
pub struct AdminAuth {
    tokens: Option<Tokens>,
    client_certs: ClientCertificates,
}

/// Whether a verified client certificate admits a call on its own, and as what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Yes: the server verifies them against `control.tls.client_ca`; the role is the one
    /// `roles` gives the subject's common name, else `default_role`.
    Admit {
        /// Roles by subject common name (`control.tls.client_roles`).
        roles: BTreeMap<String, AdminRole>,
        /// The role of a name not in `roles` (`control.tls.client_default_role`).
        default_role: AdminRole,
    },
    /// No client certificates are asked for.
    NotAsked,
}

impl ClientCertificates {
    /// The caller a verified certificate (DER) stands for.
    fn caller(&self, der: &[u8]) -> Option<Caller> {
        let ClientCertificates::Admit {
            roles,
            default_role,
        } = self
        else {
            return None;
        };
        let (subject, common_name) = match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => {
                let common_name = cert
                    .subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(str::to_owned);
                (cert.subject().to_string(), common_name)
            }
            // Verified by rustls, so this is unlikely; name it by its fingerprint.
            Err(_) => (format!("sha256:{}", fingerprint(der)), None),
        };
        let role = common_name
            .and_then(|cn| roles.get(&cn).copied())
            .unwrap_or(*default_role);
        Some(Caller {
            name: format!("cert:{subject}"),
            role,
        })
    }
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
        self.tokens.is_some() || self.client_certs != ClientCertificates::NotAsked
    }
}

impl Interceptor for AdminAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        // tonic reports peer certificates only when the handshake verified them against
        // `client_ca_root`, so their presence is the proof.
        let certs = self.client_certs != ClientCertificates::NotAsked;
        let by_cert = request
            .peer_certs()
            .and_then(|chain| chain.first().map(|leaf| leaf.to_vec()))
            .and_then(|leaf| self.client_certs.caller(&leaf));
        if let Some(caller) = by_cert {
            request.extensions_mut().insert(caller);
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
        match presented.map(|token| tokens.find(token)) {
            Some(Some(caller)) => {
                let caller = caller.clone();
                request.extensions_mut().insert(caller);
                Ok(request)
            }
            Some(None) => Err(Status::unauthenticated("unknown bearer token")),
            None if certs => Err(Status::unauthenticated(
                "missing `authorization: Bearer <token>` metadata, and no client certificate",
            )),
            None => Err(Status::unauthenticated(
                "missing `authorization: Bearer <token>` metadata",
            )),
        }
    }
}

/// Refuses `request` with `PERMISSION_DENIED` unless its caller is an admin; `what` names
/// the operation in the answer. A request without a [`Caller`] did not pass
/// [`AdminAuth`] (a test calling the service directly) and is let through.
pub(crate) fn require_admin<T>(request: &Request<T>, what: &str) -> Result<(), Status> {
    match Caller::of(request) {
        Some(caller) if caller.role < AdminRole::Admin => Err(Status::permission_denied(format!(
            "{} has role {}: {what} needs role admin",
            caller.name, caller.role
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    fn call(auth: &mut AdminAuth, header: Option<&str>) -> Result<Caller, tonic::Code> {
        let mut request = Request::new(());
        if let Some(h) = header {
            request
                .metadata_mut()
                .insert("authorization", h.parse().unwrap());
        }
        auth.call(request)
            .map(|r| Caller::of(&r).cloned().expect("a caller"))
            .map_err(|s| s.code())
    }

    fn role(auth: &mut AdminAuth, header: &str) -> Result<AdminRole, tonic::Code> {
        call(auth, Some(header)).map(|c| c.role)
    }

    #[test]
    fn only_a_listed_bearer_token_is_admitted() {
        let mut auth = AdminAuth::new(
            Some(Tokens::parse("# ops\nalpha\n\n  beta  \n").unwrap()),
            ClientCertificates::NotAsked,
        );
        assert_eq!(role(&mut auth, "Bearer alpha"), Ok(AdminRole::Admin));
        assert_eq!(role(&mut auth, "Bearer beta"), Ok(AdminRole::Admin));
        let unauthenticated = Err(tonic::Code::Unauthenticated);
        assert_eq!(call(&mut auth, None).map(|c| c.role), unauthenticated);
        assert_eq!(role(&mut auth, "Bearer gamma"), unauthenticated);
        assert_eq!(role(&mut auth, "Bearer # ops"), unauthenticated);
        assert_eq!(role(&mut auth, "alpha"), unauthenticated);
        assert_eq!(role(&mut auth, "Bearer alph"), unauthenticated);
    }

    #[test]
    fn a_tagged_line_gives_its_token_a_name_and_a_role_an_untagged_one_is_an_admin() {
        let tokens = Tokens::parse("viewer grafana v-secret\nadmin alice a-secret\nold\n").unwrap();
        let mut auth = AdminAuth::new(Some(tokens), ClientCertificates::NotAsked);
        let viewer = call(&mut auth, Some("Bearer v-secret")).unwrap();
        assert_eq!(viewer.role, AdminRole::Viewer);
        assert_eq!(viewer.name, "token:grafana");
        let admin = call(&mut auth, Some("Bearer a-secret")).unwrap();
        assert_eq!(
            (admin.role, admin.name.as_str()),
            (AdminRole::Admin, "token:alice")
        );
        let old = call(&mut auth, Some("Bearer old")).unwrap();
        assert_eq!(old.role, AdminRole::Admin);
        assert!(old.name.starts_with("token:sha256:"), "{}", old.name);
        assert!(!old.name.contains("old"));
        // The name is never the token.
        assert_eq!(
            role(&mut auth, "Bearer grafana"),
            Err(tonic::Code::Unauthenticated)
        );
    }

    #[test]
    fn a_line_of_neither_form_is_refused_by_number_without_its_token() {
        let error = Tokens::parse("ok\nsome spaced token\n").unwrap_err();
        assert!(error.contains("line 2"), "{error}");
        assert!(!error.contains("spaced"), "{error}");
        let error = Tokens::parse("root alice secret\n").unwrap_err();
        assert!(
            error.contains("line 1") && error.contains("root"),
            "{error}"
        );
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn a_viewer_is_denied_what_needs_an_admin() {
        let mut request = Request::new(());
        assert!(require_admin(&request, "apply").is_ok());
        request.extensions_mut().insert(Caller {
            name: "token:grafana".into(),
            role: AdminRole::Viewer,
        });
        let status = require_admin(&request, "apply").unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(status.message().contains("token:grafana"));
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
        let mut auth = AdminAuth::new(
            None,
            ClientCertificates::Admit {
                roles: BTreeMap::new(),
                default_role: AdminRole::Admin,
            },
        );
        assert!(auth.has_credentials());
        assert_eq!(
            call(&mut auth, Some("Bearer anything")),
            Err(tonic::Code::Unauthenticated)
        );
    }

    #[test]
    fn a_certificate_s_role_comes_from_its_common_name() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "grafana");
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let certs = ClientCertificates::Admit {
            roles: [("grafana".to_owned(), AdminRole::Viewer)].into(),
            default_role: AdminRole::Admin,
        };
        let caller = certs.caller(&der).unwrap();
        assert_eq!(caller.role, AdminRole::Viewer);
        assert_eq!(caller.name, "cert:CN=grafana");
        let others = ClientCertificates::Admit {
            roles: BTreeMap::new(),
            default_role: AdminRole::Viewer,
        };
        assert_eq!(others.caller(&der).unwrap().role, AdminRole::Viewer);
        assert_eq!(ClientCertificates::NotAsked.caller(&der), None);
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
