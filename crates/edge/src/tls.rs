//! SMPP over TLS: the certificate and key come from PEM files and are reloaded when the
//! files change, so a renewed certificate (a Kubernetes Secret update, cert-manager)
//! takes effect for new connections without a restart. Open sessions keep the
//! certificate they were made with.
//!
//! `ReloadingAcceptor::handshake` is the one TLS accept of the SMPP and HTTPS listeners.
//!
//! The files are polled for a change of modification time or size rather than watched
//! with inotify: a mounted Secret changes by swapping a symlink, which polling sees
//! whatever the file system does. A file that fails to load keeps the previous
//! certificate in service and is logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The certificate and key do not make a server configuration.
    #[error("certificate {cert} with key {key}: {source}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
}

/// A TLS acceptor whose certificate follows its files.
#[derive(Clone)]
pub struct ReloadingAcceptor {
    current: Arc<ArcSwap<TlsAcceptor>>,
    cert: PathBuf,
    key: PathBuf,
}

impl std::fmt::Debug for ReloadingAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingAcceptor")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl ReloadingAcceptor {
    /// Loads `cert` (a PEM chain) and `key` (a PEM private key); fails if they do not.
    pub fn load(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Self, TlsError> {
        let (cert, key) = (cert.into(), key.into());
        let acceptor = build(&cert, &key)?;
        Ok(ReloadingAcceptor {
            current: Arc::new(ArcSwap::from_pointee(acceptor)),
            cert,
            key,
        })
    }

    /// The TLS handshake of a connection `peer` made, with the certificate in service now,
    /// within `timeout` (run it in the connection's own task: a slow client then holds up
    /// nobody else). A handshake that fails or times out is logged and gives `None`.
    pub(crate) fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        timeout: Duration,
    ) -> impl Future<Output = Option<TlsStream<TcpStream>>> + Send + 'static {
        let acceptor = self.acceptor();
        async move {
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => Some(stream),
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            }
        }
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> Arc<TlsAcceptor> {
        self.current.load_full()
    }

    /// Checks the files every `interval` and swaps in a new certificate when they
    /// changed and load; runs until dropped with its task.
    pub fn watch(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut seen = (stamp(&this.cert), stamp(&this.key));
            loop {
                tokio::time::sleep(interval).await;
                let now = (stamp(&this.cert), stamp(&this.key));
                if now == seen {
                    continue;
                }
                match build(&this.cert, &this.key) {
                    Ok(acceptor) => {
                        this.current.store(Arc::new(acceptor));
                        seen = now;
                        tracing::info!(cert = %this.cert.display(), "TLS certificate reloaded");
                    }
                    // A half-written pair: try again next time, keep serving the old one.
                    Err(err) => tracing::warn!(error = %err, "TLS certificate not reloaded"),
                }
            }
        })
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn build(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let file_error = |path: &Path, reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_error(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e.to_string()))?;
    // One crypto backend (ring) for the whole process, chosen explicitly.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
        .map_err(|source| TlsError::Config {
            cert: cert.to_owned(),
            key: key.to_owned(),
            source,
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
