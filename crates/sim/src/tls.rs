//! The simulator's TLS server configuration from PEM files: its certificate and key, and,
//! for a carrier that demands mutual TLS, the CA its clients' certificates must chain to.
//!
//! Carriers that offer SMPP over the internet often require a client certificate as well
//! as the bind password; [`server_config`] with a `client_ca` makes the simulator one of
//! them, so the connector's `tls.client_cert_file` is exercised in a real handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// Why the simulator's TLS configuration cannot be built.
#[derive(Debug)]
pub enum SimTlsError {
    /// A PEM file could not be read or holds nothing usable.
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    Rustls(String),
}

impl std::fmt::Display for SimTlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::Rustls(reason) => write!(f, "TLS configuration: {reason}"),
        }
    }
}

impl std::error::Error for SimTlsError {}

/// A server configuration presenting `cert` (a PEM chain) with `key`; with `client_ca`,
/// every client must present a certificate issued by that CA, or the handshake fails.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<rustls::ServerConfig>, SimTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, &e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(rustls_error)?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(certificates(ca)?);
            if added == 0 {
                return Err(file_error(ca, &"no usable CA certificate"));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(rustls_error)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(chain, key)
        .map(Arc::new)
        .map_err(rustls_error)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, SimTlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(path, &e))?;
    if certs.is_empty() {
        return Err(file_error(path, &"no certificate in the file"));
    }
    Ok(certs)
}

fn file_error(path: &Path, reason: &dyn std::fmt::Display) -> SimTlsError {
    SimTlsError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn rustls_error(error: impl std::fmt::Display) -> SimTlsError {
    SimTlsError::Rustls(error.to_string())
}
