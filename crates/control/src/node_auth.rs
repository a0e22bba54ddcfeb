//! Who may call a node's `NodeService`: the holders of the node token
//! (`grpc.token_file`), shared by every node and the control role.
//!
//! [`NodeAuth`] is the nodes' interceptor; [`NodeToken::bearer`] is what the control role
//! presents. [`NodeTls`] (`grpc.tls`) puts NodeService under TLS, so the token and the
//! answers do not cross the network in clear. The file is read on each call (NodeService calls are operator actions, rare),
//! so a token rotated in place (a Kubernetes Secret updated) applies without a restart:
//! the file may hold two tokens during a rotation, every one is accepted and the first is
//! presented.

use std::path::{Path, PathBuf};

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use herald_config::GrpcTlsConfig;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::auth::constant_time_eq;
use crate::error::ControlError;

/// NodeService's TLS (`grpc.tls`), both sides: what a node serves with, and what the
/// control role trusts when it calls one.
#[derive(Clone, Debug)]
pub struct NodeTls {
    server: ServerTlsConfig,
    client: ClientTlsConfig,
}

impl NodeTls {
    /// Reads `config`'s files now, so that a missing or unusable one stops the node at
    /// start, named.
    pub fn load(config: &GrpcTlsConfig) -> Result<NodeTls, ControlError> {
        let cert = crate::read_pem(&config.cert)?;
        let key = crate::read_pem(&config.key)?;
        let ca = crate::read_pem(&config.ca)?;
        if crate::pem_certificates(&ca) == 0 {
            return Err(ControlError::Tls {
                path: config.ca.clone(),
                reason: "no PEM certificate in the file".into(),
            });
        }
        let server = ServerTlsConfig::new()
            .identity(Identity::from_pem(cert, key))
            .timeout(crate::TLS_HANDSHAKE_TIMEOUT);
        // tonic parses the identity only when a server is built with it.
        tonic::transport::Server::builder()
            .tls_config(server.clone())
            .map_err(|e| crate::tls_refused(&config.cert, &e))?;
        let client = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name(config.server_name.clone());
        Ok(NodeTls { server, client })
    }

    /// What this node serves NodeService with.
    pub fn server(&self) -> ServerTlsConfig {
        self.server.clone()
    }

    /// What the control role checks a node's certificate against.
    pub fn client(&self) -> ClientTlsConfig {
        self.client.clone()
    }
}

/// The node token file.
#[derive(Clone, Debug)]
pub struct NodeToken {
    path: PathBuf,
}

impl NodeToken {
    /// The token file at `path`, read now to fail early on an unreadable or empty one.
    pub fn load(path: &Path) -> Result<NodeToken, ControlError> {
        let token = NodeToken {
            path: path.to_owned(),
        };
        token.tokens()?;
        Ok(token)
    }

    /// The tokens in the file now: one per line, blank lines and `#` comments skipped.
    fn tokens(&self) -> Result<Vec<String>, ControlError> {
        let refused = |reason: String| ControlError::NodeToken {
            path: self.path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(&self.path).map_err(|e| refused(e.to_string()))?;
        let tokens: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        if tokens.is_empty() {
            return Err(refused("no token in the file".into()));
        }
        Ok(tokens)
    }

    /// Whether `candidate` is one of the file's tokens.
    fn accepts(&self, candidate: &str) -> Result<bool, ControlError> {
        Ok(self.tokens()?.iter().fold(false, |found, token| {
            found | constant_time_eq(token, candidate)
        }))
    }

    /// Puts the file's first token on `request` as `authorization: Bearer <token>`.
    pub fn bearer<T>(&self, request: &mut Request<T>) -> Result<(), ControlError> {
        let tokens = self.tokens()?;
        let first = tokens.first().map(String::as_str).unwrap_or_default();
        let value = MetadataValue::try_from(format!("Bearer {first}")).map_err(|_| {
            ControlError::NodeToken {
                path: self.path.clone(),
                reason: "the token is not printable ASCII".into(),
            }
        })?;
        request.metadata_mut().insert("authorization", value);
        Ok(())
    }
}

/// The nodes' interceptor: with a [`NodeToken`], admits only calls bearing one of its
/// tokens (`UNAUTHENTICATED` otherwise); without one, admits every call, which the node
/// allows only on a loopback address (see `docs/security.md`).
#[derive(Clone, Debug)]
pub struct NodeAuth {
    token: Option<NodeToken>,
}

impl NodeAuth {
    /// Checks calls against `token`; `None` admits every call.
    pub fn new(token: Option<NodeToken>) -> NodeAuth {
        NodeAuth { token }
    }
}

impl Interceptor for NodeAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.token else {
            return Ok(request);
        };
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(presented) = presented else {
            return Err(Status::unauthenticated(
                "NodeService needs the node token (grpc.token_file) as `authorization: Bearer <token>`",
            ));
        };
        match token.accepts(presented) {
            Ok(true) => Ok(request),
            Ok(false) => Err(Status::unauthenticated("not the node token")),
            Err(error) => {
                tracing::error!(%error, "the node token file cannot be read: NodeService refuses every call");
                Err(Status::unauthenticated(
                    "this node cannot read its node token file",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    fn call(auth: &mut NodeAuth, token: Option<&str>) -> Result<(), tonic::Code> {
        let mut request = Request::new(());
        if let Some(t) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        auth.call(request).map(|_| ()).map_err(|s| s.code())
    }

    #[test]
    fn both_tokens_of_a_rotation_are_accepted_and_the_first_is_presented() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "# rotating\nnew-one\nold-one\n").unwrap();
        let token = NodeToken::load(file.path()).unwrap();
        let mut auth = NodeAuth::new(Some(token.clone()));
        assert_eq!(call(&mut auth, Some("new-one")), Ok(()));
        assert_eq!(call(&mut auth, Some("old-one")), Ok(()));
        let refused = Err(tonic::Code::Unauthenticated);
        assert_eq!(call(&mut auth, None), refused);
        assert_eq!(call(&mut auth, Some("new-on")), refused);
        let mut request = Request::new(());
        token.bearer(&mut request).unwrap();
        assert_eq!(
            request.metadata().get("authorization").unwrap(),
            "Bearer new-one"
        );
        // Rotated in place: the old token stops working without a restart.
        std::fs::write(file.path(), "new-one\n").unwrap();
        assert_eq!(call(&mut auth, Some("old-one")), refused);
        // A file gone missing refuses everything rather than opening up.
        std::fs::write(file.path(), "").unwrap();
        assert_eq!(call(&mut auth, Some("new-one")), refused);
    }

    #[test]
    fn an_empty_token_file_is_refused_at_load() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "\n# none\n").unwrap();
        assert!(matches!(
            NodeToken::load(file.path()),
            Err(ControlError::NodeToken { .. })
        ));
    }

    #[test]
    fn without_a_token_every_call_is_admitted() {
        let mut auth = NodeAuth::new(None);
        assert_eq!(call(&mut auth, None), Ok(()));
    }
}
