//! One bind to a carrier, for one leased slot: connect, bind, serve the carrier's requests
//! (receipts, MO), and when the session ends, bind again after an exponential back-off
//! with jitter. A carrier that stops answering is found by the session engine
//! (`enquire_link` unanswered, [`CloseReason::PeerDead`]) and the bind is recycled the
//! same way.
//!
//! A submitting bind (transceiver or transmitter) announces itself to its carrier's
//! sending task (`BindEvent::Up`) once bound, and withdraws (`BindEvent::Down`) when
//! the session ends or before it unbinds, so nothing new is sent on a closing bind.
//!
//! [`CloseReason::PeerDead`]: herald_smpp::session::CloseReason::PeerDead

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use herald_rules::Carrier;
use herald_rules::model::SmppVersion;
use herald_smpp::pdu::{Bind, INTERFACE_VERSION_34, INTERFACE_VERSION_50};
use herald_smpp::session::{
    self, BindError, BindMode, InboundOverflow, Inbox, Session, SessionConfig,
};
use herald_smpp::types::COctetString;
use herald_telemetry::names;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::connector::Shared;
use crate::health::{BindState, BindStatus};
use crate::inbound;
use herald_backoff::Backoff;

/// Requests of the carrier handled at once per bind; beyond it the session stops reading
/// (TCP pushes back on the carrier).
const INBOUND_WINDOW: usize = 64;
/// How long a closing bind waits for the receipts it is handling before it unbinds.
const INBOUND_GRACE: Duration = Duration::from_secs(5);

/// What a bind tells its carrier's sending task.
#[derive(Debug)]
pub(crate) enum BindEvent {
    /// Bound and ready for submits.
    Up {
        slot: u32,
        session: Session,
        status: Arc<BindStatus>,
    },
    /// Not usable any more (lost, or about to unbind).
    Down { slot: u32 },
}

/// Everything one bind task needs.
pub(crate) struct BindTask {
    pub(crate) shared: Arc<Shared>,
    pub(crate) carrier: Arc<Carrier>,
    pub(crate) slot: u32,
    pub(crate) mode: BindMode,
    pub(crate) events: mpsc::UnboundedSender<BindEvent>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) status: Arc<BindStatus>,
}

/// Why a bind attempt failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("password: {0}")]
    Secret(String),
    #[error("connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("connect to {0}: timed out")]
    ConnectTimeout(String),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsSetupError),
    #[error("TLS handshake with {0}: {1}")]
    Handshake(String, std::io::Error),
    #[error("TLS handshake with {0}: timed out")]
    HandshakeTimeout(String),
    #[error(transparent)]
    Bind(#[from] BindError),
}

impl AttemptError {
    /// The `status` label of `herald_connector_bind_attempts_total`.
    fn label(&self) -> &'static str {
        match self {
            AttemptError::Bind(BindError::Rejected(status)) => status.name(),
            _ => "error",
        }
    }
}

/// The session settings for binds to `carrier`.
pub(crate) fn session_config(carrier: &Carrier) -> SessionConfig {
    SessionConfig {
        bind_timeout: carrier.response_timeout,
        response_timeout: carrier.response_timeout,
        enquire_link_interval: carrier.enquire_link_interval,
        inactivity_timeout: None,
        window: usize::try_from(carrier.window).unwrap_or(usize::MAX).max(1),
        inbound_window: INBOUND_WINDOW,
        inbound_overflow: InboundOverflow::Backpressure,
        unbind_timeout: carrier.response_timeout.min(Duration::from_secs(5)),
        queue: 64,
        ..SessionConfig::default()
    }
}

impl BindTask {
    /// Binds, serves and rebinds until told to stop.
    pub(crate) async fn run(mut self) {
        let config = &self.shared.config;
        let mut backoff = Backoff::new(config.reconnect_backoff_min, config.reconnect_backoff_max);
        let binds_gauge = metrics::gauge!(
            names::CONNECTOR_BINDS,
            names::labels::CARRIER => self.carrier.id.clone()
        );
        loop {
            if *self.stop.borrow() {
                break;
            }
            self.status.set(BindState::Connecting, None);
            let attempt = tokio::select! {
                attempt = open(&self.carrier, self.mode) => attempt,
                _ = self.stop.changed() => break,
            };
            let label = match &attempt {
                Ok(_) => "ESME_ROK",
                Err(e) => e.label(),
            };
            metrics::counter!(
                names::CONNECTOR_BIND_ATTEMPTS_TOTAL,
                names::labels::CARRIER => self.carrier.id.clone(),
                names::labels::STATUS => label
            )
            .increment(1);
            match attempt {
                Err(error) => {
                    tracing::warn!(carrier = %self.carrier.id, slot = self.slot, %error, "bind failed");
                    self.status.set(BindState::Backoff, Some(error.to_string()));
                }
                Ok((session, inbox)) => {
                    backoff.reset();
                    self.status.set(BindState::Bound, None);
                    binds_gauge.increment(1.0);
                    tracing::info!(carrier = %self.carrier.id, slot = self.slot, mode = self.mode.as_str(), "bound");
                    if self.mode.esme_sends() {
                        let _ = self.events.send(BindEvent::Up {
                            slot: self.slot,
                            session: session.clone(),
                            status: self.status.clone(),
                        });
                    }
                    let stopped = self.serve(&session, inbox).await;
                    binds_gauge.decrement(1.0);
                    if stopped {
                        break;
                    }
                    let reason = session
                        .close_reason()
                        .map_or_else(|| "closed".to_owned(), |r| r.to_string());
                    tracing::warn!(carrier = %self.carrier.id, slot = self.slot, %reason, "bind lost");
                    self.status.set(BindState::Backoff, Some(reason));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.next_delay()) => {}
                _ = self.stop.changed() => break,
            }
        }
        self.status.set(BindState::Closing, None);
    }
}

/// Connects and binds.
async fn open(carrier: &Carrier, mode: BindMode) -> Result<(Session, Inbox), AttemptError> {
    {
        let password = carrier
            .password
            .resolve()
            .map_err(|e| AttemptError::Secret(e.to_string()))?;
        let target = format!("{}:{}", carrier.host, carrier.port);
        let stream = tokio::time::timeout(
            carrier.response_timeout,
            TcpStream::connect((carrier.host.as_str(), carrier.port)),
        )
        .await
        .map_err(|_| AttemptError::ConnectTimeout(target.clone()))?
        .map_err(|e| AttemptError::Connect(target.clone(), e))?;
        let _ = stream.set_nodelay(true);
        let request = Bind {
            system_id: COctetString::from(carrier.system_id.as_str()),
            password: COctetString::from(password.as_str()),
            system_type: COctetString::from(carrier.system_type.as_str()),
            interface_version: match carrier.smpp_version {
                SmppVersion::V34 => INTERFACE_VERSION_34,
                SmppVersion::V50 => INTERFACE_VERSION_50,
            },
            ..Bind::default()
        };
        let config = session_config(carrier);
        let (session, inbox, _resp) = if carrier.tls.enabled {
            let connector = tokio_rustls::TlsConnector::from(crate::tls::client_config(carrier)?);
            let name = crate::tls::server_name(carrier)?;
            let tls =
                tokio::time::timeout(carrier.response_timeout, connector.connect(name, stream))
                    .await
                    .map_err(|_| AttemptError::HandshakeTimeout(target.clone()))?
                    .map_err(|e| AttemptError::Handshake(target.clone(), e))?;
            session::bind(tls, config, mode, request).await?
        } else {
            session::bind(stream, config, mode, request).await?
        };
        Ok((session, inbox))
    }
}

impl BindTask {
    /// Serves the carrier's requests until the session ends (false) or the bind is told to
    /// stop (true; it then withdraws, finishes what it handles, and unbinds).
    async fn serve(&mut self, session: &Session, mut inbox: Inbox) -> bool {
        let mut handling: FuturesUnordered<BoxFuture<'static, ()>> = FuturesUnordered::new();
        let stopped = loop {
            tokio::select! {
                inbound = inbox.recv() => match inbound {
                    Some(inbound) => {
                        let shared = self.shared.clone();
                        let carrier = self.carrier.clone();
                        handling.push(Box::pin(async move {
                            inbound::handle(&shared, &carrier, inbound).await;
                        }));
                    }
                    None => break false,
                },
                Some(()) = handling.next(), if !handling.is_empty() => {}
                _ = self.stop.changed() => break true,
            }
        };
        if self.mode.esme_sends() {
            let _ = self.events.send(BindEvent::Down { slot: self.slot });
        }
        if stopped {
            self.status.set(BindState::Closing, None);
        }
        // Receipts being matched get their answer (or the grace runs out).
        let _ = tokio::time::timeout(INBOUND_GRACE, async {
            while handling.next().await.is_some() {}
        })
        .await;
        if stopped {
            session.unbind().await;
        }
        stopped
    }
}
