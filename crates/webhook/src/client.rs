//! Posting one event to an endpoint, and what its answer means.
//!
//! Each delivery task holds one HTTP/1.1 connection to its endpoint and reuses it while
//! the endpoint keeps it open (keep-alive); a failed or closed connection is dialled
//! again on the next attempt. `https` endpoints are verified against the system's roots
//! (and an optional extra CA, for private networks). The answer decides what becomes of
//! the event ([`Outcome`]): 2xx delivered; 408, 429 (honouring `Retry-After`), 5xx, a
//! timeout or a connection failure retried later; any other status refused for good
//! (dead-lettered with the answer), since sending the same request again cannot help.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How much of a refusing answer's body is kept for the dead letter.
const KEPT_BODY: usize = 512;
/// The largest answer body read; a bigger one fails the attempt (and the connection).
const MAX_ANSWER: usize = 64 * 1024;

/// Why an endpoint cannot be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    /// Not an absolute http(s) URL with a host.
    #[error("webhook url {0:?} is not an http(s) URL with a host")]
    Url(String),
    /// `http://` while the operator did not allow it.
    #[error("webhook url {0:?} is not https (http is allowed only with edge.webhooks.allow_http)")]
    NotHttps(String),
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: done.
    Delivered(u16),
    /// Worth trying again: after at least `after` if the endpoint said so (`Retry-After`).
    Retry {
        /// The status, or 0 when none came (timeout, connection failure).
        status: u16,
        /// What went wrong, for logs and the dead letter.
        reason: String,
        /// The endpoint's `Retry-After`, if it sent one.
        after: Option<Duration>,
    },
    /// Refused for good (another 4xx, a redirect): dead-lettered with the answer.
    Refused {
        /// The status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
}

/// An endpoint: where to post, over what, with which extra headers.
#[derive(Clone)]
pub struct Endpoint {
    uri: Uri,
    host: String,
    port: u16,
    authority: String,
    tls: Option<tokio_rustls::TlsConnector>,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the headers: they may hold an API key.
        f.debug_struct("Endpoint")
            .field("uri", &self.uri)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The endpoint at `url`; `http://` only when `allow_http`. `extra_ca` (PEM) is trusted
    /// besides the system's roots.
    pub fn new(
        url: &str,
        allow_http: bool,
        headers: Vec<(String, String)>,
        timeout: Duration,
        extra_ca: Option<&[u8]>,
    ) -> Result<Endpoint, EndpointError> {
        let uri: Uri = url.parse().map_err(|_| EndpointError::Url(redacted(url)))?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| EndpointError::Url(redacted(url)))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let (tls, default_port) = match uri.scheme_str() {
            Some("https") => (Some(tls_connector(extra_ca)), 443),
            Some("http") if allow_http => (None, 80),
            Some("http") => return Err(EndpointError::NotHttps(redacted(url))),
            _ => return Err(EndpointError::Url(redacted(url))),
        };
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(EndpointError::Url(redacted(url)));
        }
        let port = uri.port_u16().unwrap_or(default_port);
        let authority = match uri.port_u16() {
            Some(port) => format!("{}:{port}", uri.host().unwrap_or_default()),
            None => uri.host().unwrap_or_default().to_owned(),
        };
        Ok(Endpoint {
            uri,
            host,
            port,
            authority,
            tls,
            headers,
            timeout,
        })
    }

    /// Posts `body` with `headers` (the signature's) on `connection`, dialling it first
    /// when there is none; a connection that failed is dropped, so the next attempt
    /// dials afresh.
    pub async fn post(
        &self,
        connection: &mut Option<Connection>,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Outcome {
        match tokio::time::timeout(self.timeout, self.try_post(connection, headers, body)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(reason)) => {
                *connection = None;
                Outcome::Retry {
                    status: 0,
                    reason,
                    after: None,
                }
            }
            Err(_) => {
                *connection = None;
                Outcome::Retry {
                    status: 0,
                    reason: format!("no answer within {:?}", self.timeout),
                    after: None,
                }
            }
        }
    }

    async fn try_post(
        &self,
        connection: &mut Option<Connection>,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Outcome, String> {
        if connection.as_ref().is_none_or(|c| c.sender.is_closed()) {
            *connection = Some(self.dial().await?);
        }
        let Some(open) = connection.as_mut() else {
            return Err("no connection".to_owned());
        };
        open.sender
            .ready()
            .await
            .map_err(|e| format!("connection lost: {e}"))?;
        let path = self
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut request = Request::post(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "Herald-Webhooks/1");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = open
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read the body whole (bounded by the timeout and in size) so the connection can
        // be reused; an endpoint sending more is cut off.
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("answer cut short or too big: {e}"))?
            .to_bytes();
        Ok(classify(status, retry_after, &body))
    }

    async fn dial(&self) -> Result<Connection, String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", self.host, self.port))?;
        let _ = tcp.set_nodelay(true);
        let sender = match &self.tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| format!("{}: {e}", self.host))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {} failed: {e}", self.host))?;
                handshake(TokioIo::new(stream)).await?
            }
            None => handshake(TokioIo::new(tcp)).await?,
        };
        Ok(Connection { sender })
    }
}

/// An open connection to an endpoint.
#[derive(Debug)]
pub struct Connection {
    sender: http1::SendRequest<Full<Bytes>>,
}

async fn handshake<IO>(io: IO) -> Result<http1::SendRequest<Full<Bytes>>, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "webhook connection closed");
        }
    });
    Ok(sender)
}

/// What an answer means (see the module docs).
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Outcome {
    let code = status.as_u16();
    if status.is_success() {
        Outcome::Delivered(code)
    } else if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Outcome::Retry {
            status: code,
            reason: format!("answered {code}"),
            after: retry_after,
        }
    } else {
        let kept = body.get(..KEPT_BODY).unwrap_or(body);
        Outcome::Refused {
            status: code,
            body: String::from_utf8_lossy(kept).into_owned(),
        }
    }
}

/// `url` for logs: without its query (which may hold a token).
fn redacted(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// Where the system's CA bundle may be, in order (as for carriers' TLS).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// A TLS connector trusting the system's roots (`SSL_CERT_FILE`, else the usual bundle
/// paths) and `extra_ca`.
fn tls_connector(extra_ca: Option<&[u8]>) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let mut roots = rustls::RootCertStore::empty();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from))
        .find_map(|path| std::fs::read(path).ok());
    for pem in system.as_deref().into_iter().chain(extra_ca) {
        roots.add_parsable_certificates(CertificateDer::pem_slice_iter(pem).flatten());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The ring provider supports the default versions: not reached.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn answers_decide_delivered_retry_or_refused() {
        let outcome = |code: u16, after: Option<u64>| {
            classify(
                StatusCode::from_u16(code).unwrap(),
                after.map(Duration::from_secs),
                b"nope",
            )
        };
        assert_eq!(outcome(200, None), Outcome::Delivered(200));
        assert_eq!(outcome(204, None), Outcome::Delivered(204));
        assert!(matches!(
            outcome(429, Some(7)),
            Outcome::Retry { status: 429, after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            outcome(503, None),
            Outcome::Retry { status: 503, .. }
        ));
        assert!(matches!(
            outcome(408, None),
            Outcome::Retry { status: 408, .. }
        ));
        assert_eq!(
            outcome(400, None),
            Outcome::Refused {
                status: 400,
                body: "nope".into()
            }
        );
        assert!(matches!(
            outcome(404, None),
            Outcome::Refused { status: 404, .. }
        ));
        assert!(matches!(
            outcome(301, None),
            Outcome::Refused { status: 301, .. }
        ));
    }

    #[test]
    fn urls_must_be_https_unless_allowed() {
        let endpoint = |url: &str, allow_http: bool| {
            Endpoint::new(url, allow_http, Vec::new(), Duration::from_secs(1), None)
                .map(|e| (e.host, e.port))
        };
        assert_eq!(
            endpoint("https://hooks.example.com/x", false),
            Ok(("hooks.example.com".into(), 443))
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080/in", true),
            Ok(("127.0.0.1".into(), 8080))
        );
        assert!(matches!(
            endpoint("http://127.0.0.1:8080/in", false),
            Err(EndpointError::NotHttps(_))
        ));
        assert!(matches!(
            endpoint("ftp://x/", true),
            Err(EndpointError::Url(_))
        ));
        assert!(matches!(
            endpoint("/relative", true),
            Err(EndpointError::Url(_))
        ));
        assert_eq!(
            endpoint("https://user:pw@hooks.example.com/x?token=s3cret", false),
            Err(EndpointError::Url(
                "https://user:pw@hooks.example.com/x".into()
            ))
        );
    }
}
