//! TLS towards carriers (rustls with the ring provider, TLS 1.2 and 1.3).
//!
//! The carrier is verified against its `tls.ca_file` (PEM), or the system's CA bundle
//! when none is given (`SSL_CERT_FILE`, else the usual Debian, Red Hat and Alpine paths);
//! the name checked is `tls.server_name`, else the host. With `client_cert_file` and
//! `client_key_file` the connector presents a client certificate (mutual TLS). The files
//! are read at every bind, so renewed certificates take effect on the next bind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herald_rules::Carrier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// Where the system's CA bundle may be, in order.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Why TLS towards a carrier cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A certificate or key file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No CA file was given and no system bundle was found.
    #[error("no tls.ca_file and no system CA bundle found")]
    NoRoots,
    /// The name to verify is not a DNS name or IP address.
    #[error("{0:?} is not a server name")]
    ServerName(String),
    /// rustls refused the configuration.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// The client configuration for `carrier`.
pub fn client_config(carrier: &Carrier) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let tls = &carrier.tls;
    let mut roots = RootCertStore::empty();
    let bundle = match &tls.ca_file {
        Some(path) => path.clone(),
        None => system_bundle().ok_or(TlsSetupError::NoRoots)?,
    };
    let (added, _ignored) = roots.add_parsable_certificates(certificates(&bundle)?);
    if added == 0 {
        return Err(file_error(&bundle, "no usable certificate"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => {
            let key_der =
                PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, &e.to_string()))?;
            builder.with_client_auth_cert(certificates(cert)?, key_der)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name the carrier's certificate must carry.
pub fn server_name(carrier: &Carrier) -> Result<ServerName<'static>, TlsSetupError> {
    let name = carrier
        .tls
        .server_name
        .clone()
        .unwrap_or_else(|| carrier.host.clone());
    ServerName::try_from(name.clone()).map_err(|_| TlsSetupError::ServerName(name))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, &e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn system_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|path| path.is_file())
}

fn file_error(path: &Path, reason: &str) -> TlsSetupError {
    TlsSetupError::File {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}
