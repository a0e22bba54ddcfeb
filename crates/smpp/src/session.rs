//! The SMPP session engine on tokio, one engine for both ends: the edge uses it as an SMSC
//! toward ESMEs ([`accept`]), the connector as an ESME toward carriers ([`bind`]).
//!
//! A session is one task (the driver) that owns the connection. It reads and writes at the
//! same time (a peer that stops reading can never stall our reads), answers
//! `enquire_link` and unknown or malformed PDUs itself, enforces the operation matrix
//! ([`may_send`]), keeps a window of outstanding requests in each direction with a
//! response timeout on each, probes an idle peer with `enquire_link` and drops a dead one,
//! and runs the unbind handshake.
//!
//! The application holds a [`Session`] (cheap to clone) to send requests and await their
//! responses, and an [`Inbox`] of the peer's requests, each answered through its
//! [`Responder`]. Memory stays bounded whatever the peer does: outbound requests wait in
//! a bounded queue, inbound ones are limited by the inbound window.
//!
//! - `state`: session states and the operation matrix.
//! - `handshake`: [`bind`] (ESME side) and [`accept`] (SMSC side).
//! - `driver`: the task.

mod driver;
mod handshake;
mod state;

use std::fmt;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use self::handshake::{BindError, BindRequest, MAX_UNBOUND_PDU_LEN, accept, bind};
pub use self::state::{BindMode, SessionState, Side, may_send};

use crate::{CommandId, CommandStatus, EncodeError, FrameError, Pdu, PduBody};

/// What a session does when the peer sends more requests than the inbound window allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundOverflow {
    /// Answer the excess request at once with `ESME_RTHROTTLED` (what an SMSC does).
    Throttle,
    /// Stop reading until the application answers some: TCP pushes back on the peer.
    /// The peer's `enquire_link`s wait too, so its keep-alive timeout should exceed the
    /// application's slowest answer.
    Backpressure,
}

/// Timers and limits of a session. The defaults suit both ends.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Largest PDU accepted, in octets.
    pub max_pdu_len: u32,
    /// How long an SMSC waits for a bind after connect, and an ESME for its `bind_resp`.
    pub bind_timeout: Duration,
    /// How long a request waits for its response before it fails with [`SessionError::Timeout`].
    pub response_timeout: Duration,
    /// Silence from the peer after which we send `enquire_link`; an unanswered one ends the
    /// session as dead.
    pub enquire_link_interval: Duration,
    /// With no request or response other than `enquire_link` for this long, unbind.
    pub inactivity_timeout: Option<Duration>,
    /// Most of our requests awaiting a response at once.
    pub window: usize,
    /// Most of the peer's requests awaiting our response at once.
    pub inbound_window: usize,
    /// What to do with the peer's requests beyond `inbound_window`.
    pub inbound_overflow: InboundOverflow,
    /// How long an unbind may wait for outstanding requests to finish.
    pub unbind_timeout: Duration,
    /// Requests queued behind a full window before [`Session::request`] itself waits.
    pub queue: usize,
    /// How long output may wait with none of it written (a peer that does not read)
    /// before the session is closed ([`CloseReason::WriteStalled`]). Reading stops
    /// meanwhile once the output is large, so such a peer costs bounded memory.
    pub write_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_pdu_len: crate::frame::DEFAULT_MAX_PDU_LEN,
            bind_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
            enquire_link_interval: Duration::from_secs(30),
            inactivity_timeout: None,
            window: 100,
            inbound_window: 100,
            inbound_overflow: InboundOverflow::Throttle,
            unbind_timeout: Duration::from_secs(5),
            queue: 64,
            write_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// We unbound (on request, or after inactivity, or all handles dropped).
    Unbound,
    /// The peer unbound.
    PeerUnbound,
    /// The peer closed the connection without unbinding.
    PeerClosed,
    /// The peer did not answer `enquire_link` in time.
    PeerDead,
    /// No application traffic for the inactivity timeout.
    Inactive,
    /// The byte stream lost its framing.
    Framing(FrameError),
    /// A read or write failed.
    Io(std::io::ErrorKind),
    /// The peer read nothing we wrote for the write timeout.
    WriteStalled,
}

impl CloseReason {
    /// A short name, for metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unbound => "unbound",
            Self::PeerUnbound => "peer_unbound",
            Self::PeerClosed => "peer_closed",
            Self::PeerDead => "peer_dead",
            Self::Inactive => "inactive",
            Self::Framing(_) => "framing",
            Self::Io(_) => "io",
            Self::WriteStalled => "write_stalled",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unbound => f.write_str("unbound"),
            Self::PeerUnbound => f.write_str("peer unbound"),
            Self::PeerClosed => f.write_str("peer closed the connection"),
            Self::PeerDead => f.write_str("peer did not answer enquire_link"),
            Self::Inactive => f.write_str("inactivity timeout"),
            Self::Framing(e) => write!(f, "framing error: {e}"),
            Self::Io(kind) => write!(f, "i/o error: {kind}"),
            Self::WriteStalled => f.write_str("peer stopped reading"),
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The session ended before the response came.
    #[error("session closed: {0}")]
    Closed(CloseReason),
    /// No response within the response timeout; the window slot is released.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The operation matrix forbids this request in the current state.
    #[error("{0} may not be sent in state {1:?}")]
    NotAllowed(CommandId, SessionState),
    /// The body is a response, which the session sends itself through a [`Responder`].
    #[error("{0} is not a request")]
    NotARequest(CommandId),
    /// The PDU cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// A request to the driver.
#[allow(
    clippy::large_enum_variant,
    reason = "requests are the common case; unbind is rare"
)]
enum Command {
    Request {
        body: PduBody,
        reply: oneshot::Sender<Result<Pdu, SessionError>>,
    },
    Unbind {
        reply: oneshot::Sender<()>,
    },
}

/// What the driver publishes about itself.
#[derive(Clone, Copy, Debug)]
struct Status {
    state: SessionState,
    closed: Option<CloseReason>,
}

/// The application's handle on a session: send requests, unbind, watch its state.
/// Dropping every clone unbinds the session.
#[derive(Clone)]
pub struct Session {
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<Status>,
    config: std::sync::Arc<SessionConfig>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state())
            .finish()
    }
}

impl Session {
    /// Sends a request and waits for its response. Waits for a window slot first when the
    /// window is full. The response may carry an error status, or be a `generic_nack`.
    pub async fn request(&self, body: PduBody) -> Result<Pdu, SessionError> {
        let id = body.command_id();
        if id.is_response() {
            return Err(SessionError::NotARequest(id));
        }
        let (reply, response) = oneshot::channel();
        if self
            .commands
            .send(Command::Request { body, reply })
            .await
            .is_err()
        {
            return Err(self.closed_error());
        }
        response.await.unwrap_or_else(|_| Err(self.closed_error()))
    }

    /// Unbinds: no new requests are taken, outstanding ones finish (within the unbind
    /// timeout), `unbind` is sent and answered, the connection closes. Returns when closed.
    pub async fn unbind(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Unbind { reply }).await.is_ok() {
            // Dropped unanswered when the driver ends first: closed() below waits either way.
            let _ = done.await;
        }
        self.closed().await;
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.status.borrow().state
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.status.borrow().closed
    }

    /// Waits until the session has ended and returns why.
    pub async fn closed(&self) -> CloseReason {
        let mut status = self.status.clone();
        loop {
            if let Some(reason) = status.borrow_and_update().closed {
                return reason;
            }
            if status.changed().await.is_err() {
                return status.borrow().closed.unwrap_or(CloseReason::PeerClosed);
            }
        }
    }

    /// The configuration the session runs with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    fn closed_error(&self) -> SessionError {
        SessionError::Closed(self.close_reason().unwrap_or(CloseReason::Unbound))
    }
}

/// The peer's requests, in arrival order. Ends (`None`) when the session closes.
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Inbound>,
}

impl Inbox {
    /// The next request from the peer, or `None` once the session has closed.
    pub async fn recv(&mut self) -> Option<Inbound> {
        self.rx.recv().await
    }
}

/// A request from the peer and the means to answer it.
#[derive(Debug)]
pub struct Inbound {
    /// The request.
    pub pdu: Pdu,
    /// Answers it; answers `ESME_RSYSERR` if dropped unanswered.
    pub responder: Responder,
}

/// Answers one request of the peer, exactly once.
#[derive(Debug)]
pub struct Responder {
    sequence_number: u32,
    response_id: Option<CommandId>,
    responses: mpsc::UnboundedSender<Pdu>,
}

impl Responder {
    /// The response this request expects, or `None` (`alert_notification`, `outbind`).
    pub fn response_id(&self) -> Option<CommandId> {
        self.response_id
    }

    /// Answers with a body (which must be the request's response type) and status.
    pub fn respond(mut self, body: PduBody, status: CommandStatus) {
        self.send(body, status);
    }

    /// Answers with the response type's empty body and a status: the usual error answer.
    pub fn respond_status(mut self, status: CommandStatus) {
        if let Some(body) = self.response_id.and_then(PduBody::error_response) {
            self.send(body, status);
        }
    }

    fn send(&mut self, body: PduBody, status: CommandStatus) {
        if self.response_id.take().is_some() {
            let pdu = Pdu::new(self.sequence_number, body).with_status(status);
            // A closed session has nobody left to answer.
            let _ = self.responses.send(pdu);
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(body) = self.response_id.and_then(PduBody::error_response) {
            self.send(body, CommandStatus::ESME_RSYSERR);
        }
    }
}
