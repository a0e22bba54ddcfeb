//! Opening a session: [`bind`] for the ESME side, [`accept`] and [`BindRequest`] for the
//! SMSC side. Until a bind succeeds only `enquire_link` is served; anything else is
//! answered `ESME_RINVBNDSTS`, as the operation matrix says.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use super::driver::{Parts, spawn};
use super::{BindMode, Inbox, Session, SessionConfig, SessionState, Side};
use crate::pdu::{Bind, BindResp};
use crate::{CommandId, CommandStatus, DecodeError, EncodeError, FrameError, Framer, Pdu, PduBody};

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The peer answered the bind with an error status (or `generic_nack`).
    #[error("bind rejected: {0}")]
    Rejected(CommandStatus),
    /// No bind (SMSC side) or no `bind_resp` (ESME side) within the bind timeout.
    #[error("no bind within the bind timeout")]
    Timeout,
    /// The peer closed the connection.
    #[error("peer closed the connection before binding")]
    Closed,
    /// The byte stream lost its framing.
    #[error(transparent)]
    Framing(#[from] FrameError),
    /// A read or write failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The bind could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The largest PDU read before a bind: a bind is at most 98 octets, and anything larger
/// an unbound peer sends is refused anyway. A header announcing more closes the
/// connection (`generic_nack`, `ESME_RINVCMDLEN`) instead of reserving a buffer for it.
pub const MAX_UNBOUND_PDU_LEN: u32 = 1024;

/// A connection before its session exists: reads whole PDUs, writes PDUs.
struct Opening<IO> {
    io: IO,
    rbuf: BytesMut,
    framer: Framer,
    deadline: Instant,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Opening<IO> {
    fn new(io: IO, config: &SessionConfig) -> Self {
        Self {
            io,
            // Small until bound: a connection that never binds costs little memory.
            rbuf: BytesMut::with_capacity(256),
            framer: Framer::new(config.max_pdu_len.min(MAX_UNBOUND_PDU_LEN)),
            deadline: Instant::now() + config.bind_timeout,
        }
    }

    async fn read(&mut self) -> Result<Result<Pdu, DecodeError>, BindError> {
        loop {
            match self.framer.next_frame(&mut self.rbuf) {
                Ok(Some(frame)) => return Ok(Pdu::decode(frame)),
                Ok(None) => {}
                Err(error) => {
                    // Say why before closing, as the bound session does.
                    let nack = Pdu::new(0, PduBody::GenericNack)
                        .with_status(CommandStatus::ESME_RINVCMDLEN);
                    // The framing error is what we return; a failed nack changes nothing.
                    let _ = self.write(&nack).await;
                    return Err(error.into());
                }
            }
            let read = timeout_at(self.deadline, self.io.read_buf(&mut self.rbuf))
                .await
                .map_err(|_| BindError::Timeout)??;
            if read == 0 {
                return Err(BindError::Closed);
            }
        }
    }

    async fn write(&mut self, pdu: &Pdu) -> Result<(), BindError> {
        let bytes = pdu.to_bytes()?;
        timeout_at(self.deadline, self.io.write_all(&bytes))
            .await
            .map_err(|_| BindError::Timeout)??;
        Ok(())
    }

    /// Serves a PDU that is not the one awaited: `enquire_link` is answered, a decode error
    /// gets its response, other requests get `ESME_RINVBNDSTS`, stray responses are ignored.
    async fn serve_unbound(&mut self, read: Result<Pdu, DecodeError>) -> Result<(), BindError> {
        let answer = match read {
            Err(e) => e.response(),
            Ok(pdu) => match pdu.command_id() {
                CommandId::EnquireLink => {
                    Some(Pdu::new(pdu.sequence_number, PduBody::EnquireLinkResp))
                }
                id => id.response().map(|resp| {
                    let body = PduBody::error_response(resp).unwrap_or(PduBody::GenericNack);
                    Pdu::new(pdu.sequence_number, body).with_status(CommandStatus::ESME_RINVBNDSTS)
                }),
            },
        };
        match answer {
            Some(pdu) => self.write(&pdu).await,
            None => Ok(()),
        }
    }
}

/// Binds to an SMSC over `io` (ESME side) and starts the session. Returns the session,
/// the inbox of the SMSC's requests, and the SMSC's `bind_resp`.
pub async fn bind<IO>(
    io: IO,
    config: SessionConfig,
    mode: BindMode,
    request: Bind,
) -> Result<(Session, Inbox, BindResp), BindError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Opening::new(io, &config);
    let body = match mode {
        BindMode::Transmitter => PduBody::BindTransmitter(request),
        BindMode::Receiver => PduBody::BindReceiver(request),
        BindMode::Transceiver => PduBody::BindTransceiver(request),
    };
    conn.write(&Pdu::new(1, body)).await?;
    loop {
        let read = conn.read().await?;
        if let Ok(pdu) = &read
            && pdu.sequence_number == 1
            && pdu.command_id().is_response()
        {
            let resp = match (&pdu.body, pdu.command_status) {
                (_, status) if !status.is_ok() => return Err(BindError::Rejected(status)),
                (
                    PduBody::BindTransmitterResp(r)
                    | PduBody::BindReceiverResp(r)
                    | PduBody::BindTransceiverResp(r),
                    _,
                ) => r.clone(),
                _ => return Err(BindError::Rejected(CommandStatus::ESME_RBINDFAIL)),
            };
            let parts = Parts {
                io: conn.io,
                rbuf: conn.rbuf,
                side: Side::Esme,
                state: SessionState::Bound(mode),
                next_sequence: 2,
            };
            let (session, inbox) = spawn(parts, config);
            return Ok((session, inbox, resp));
        }
        conn.serve_unbound(read).await?;
    }
}

/// Waits for an ESME's bind on a fresh connection (SMSC side). The caller authenticates
/// the [`BindRequest`] and accepts or rejects it.
pub async fn accept<IO>(io: IO, config: SessionConfig) -> Result<BindRequest<IO>, BindError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Opening::new(io, &config);
    loop {
        let read = conn.read().await?;
        if let Ok(pdu) = &read
            && let PduBody::BindTransmitter(bind)
            | PduBody::BindReceiver(bind)
            | PduBody::BindTransceiver(bind) = &pdu.body
            && let Some(mode) = BindMode::from_command(pdu.command_id())
        {
            return Ok(BindRequest {
                mode,
                bind: bind.clone(),
                sequence_number: pdu.sequence_number,
                conn,
                config,
            });
        }
        conn.serve_unbound(read).await?;
    }
}

/// An ESME's bind, waiting for the SMSC to accept or reject it.
pub struct BindRequest<IO> {
    /// The mode asked for.
    pub mode: BindMode,
    /// The bind's fields: system_id, password, interface_version, …
    pub bind: Bind,
    sequence_number: u32,
    conn: Opening<IO>,
    config: SessionConfig,
}

impl<IO> BindRequest<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn response(&self, resp: BindResp) -> PduBody {
        match self.mode {
            BindMode::Transmitter => PduBody::BindTransmitterResp(resp),
            BindMode::Receiver => PduBody::BindReceiverResp(resp),
            BindMode::Transceiver => PduBody::BindTransceiverResp(resp),
        }
    }

    /// Accepts the bind, answering with our `system_id`, and starts the session.
    pub async fn accept(mut self, system_id: &str) -> Result<(Session, Inbox), BindError> {
        // sc_interface_version goes only to ESMEs that speak 3.4 or later (SMPP 5.0 §4.1.1.2).
        let resp = if self.bind.interface_version >= crate::pdu::INTERFACE_VERSION_34 {
            BindResp::new(system_id, crate::pdu::INTERFACE_VERSION_50)
        } else {
            BindResp {
                system_id: system_id.into(),
                ..BindResp::default()
            }
        };
        let pdu = Pdu::new(self.sequence_number, self.response(resp));
        self.conn.write(&pdu).await?;
        let parts = Parts {
            io: self.conn.io,
            rbuf: self.conn.rbuf,
            side: Side::Smsc,
            state: SessionState::Bound(self.mode),
            next_sequence: 1,
        };
        Ok(spawn(parts, self.config))
    }

    /// Rejects the bind with `status` and closes the connection.
    pub async fn reject(mut self, status: CommandStatus) -> Result<(), BindError> {
        let pdu =
            Pdu::new(self.sequence_number, self.response(BindResp::default())).with_status(status);
        self.conn.write(&pdu).await?;
        self.conn.io.shutdown().await?;
        Ok(())
    }
}
