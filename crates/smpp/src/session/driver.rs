//! The session task: one per connection, owning both halves of it.
//!
//! One `select!` loop reads, writes, takes the application's requests and responses, and
//! fires timers, so reading never waits on writing. Outbound requests wait in the command
//! queue while the window is full; their response deadlines are kept in send order, which
//! is deadline order because the timeout is fixed, so one timer serves them all.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Sleep, sleep_until};

use super::{
    CloseReason, Command, Inbound, InboundOverflow, Responder, SessionConfig, SessionError,
    SessionState, Side, Status, may_send,
};
use crate::{CommandId, CommandStatus, Framer, Pdu, PduBody};

/// Write buffer size above which the driver stops taking new requests until it drains.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// Write buffer size above which the peer is not read until it drains: only a peer that
/// does not read its answers gets there (our own requests stop at [`WRITE_HIGH_WATER`]),
/// so a busy peer that reads is never held up by it.
const READ_STOP: usize = 4 * WRITE_HIGH_WATER;
/// Items taken from a channel per wake-up, to batch writes without starving other work.
const BATCH: usize = 64;
/// The read buffer of a bound session: reads of this much take a burst of PDUs per call.
/// (A connection reads into a few hundred octets until it binds.)
const READ_BUF: usize = 4096;

/// Who waits for a response.
enum Waiter {
    Caller(oneshot::Sender<Result<Pdu, SessionError>>),
    EnquireLink,
    Unbind,
}

/// An unbind in progress.
#[derive(Clone, Copy)]
enum Unbinding {
    /// We asked: waiting for our outstanding requests, then for `unbind_resp`.
    Ours { deadline: Instant, sent: bool },
    /// The peer asked: waiting for the application to answer its requests.
    Peer {
        deadline: Instant,
        sequence_number: u32,
    },
}

pub(super) struct Driver<IO> {
    side: Side,
    config: Arc<SessionConfig>,
    framer: Framer,
    reader: ReadHalf<IO>,
    writer: WriteHalf<IO>,
    rbuf: BytesMut,
    out: BytesMut,
    state: SessionState,
    status: watch::Sender<Status>,
    commands: mpsc::Receiver<Command>,
    responses_rx: mpsc::UnboundedReceiver<Pdu>,
    responses_tx: mpsc::UnboundedSender<Pdu>,
    inbox: mpsc::UnboundedSender<Inbound>,
    next_sequence: u32,
    pending: HashMap<u32, Waiter>,
    deadlines: VecDeque<(Instant, u32)>,
    inbound_outstanding: usize,
    enquire_outstanding: bool,
    last_rx: Instant,
    last_activity: Instant,
    unbinding: Option<Unbinding>,
    unbind_replies: Vec<oneshot::Sender<()>>,
    close: Option<CloseReason>,
    peer_eof: bool,
    timer: Pin<Box<Sleep>>,
    timer_at: Instant,
    /// Since when output has waited with none of it written; `None` while `out` is empty.
    write_stalled_since: Option<Instant>,
}

/// What woke the loop.
enum Event {
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Response(Option<Pdu>),
    Command(Option<Command>),
    Timer,
}

pub(super) struct Parts<IO> {
    pub(super) io: IO,
    pub(super) rbuf: BytesMut,
    pub(super) side: Side,
    pub(super) state: SessionState,
    pub(super) next_sequence: u32,
}

pub(super) fn spawn<IO>(parts: Parts<IO>, config: SessionConfig) -> (super::Session, super::Inbox)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let config = Arc::new(config);
    let (commands_tx, commands) = mpsc::channel(config.queue.max(1));
    let (responses_tx, responses_rx) = mpsc::unbounded_channel();
    let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
    let (status, status_rx) = watch::channel(Status {
        state: parts.state,
        closed: None,
    });
    let (reader, writer) = tokio::io::split(parts.io);
    let mut rbuf = parts.rbuf;
    if rbuf.capacity() < READ_BUF {
        rbuf.reserve(READ_BUF - rbuf.len());
    }
    let now = Instant::now();
    let first_timer = now + config.enquire_link_interval;
    let driver = Driver {
        side: parts.side,
        framer: Framer::new(config.max_pdu_len),
        config: config.clone(),
        reader,
        writer,
        rbuf,
        // Grows with a burst and keeps its size; an idle session stays small.
        out: BytesMut::with_capacity(1024),
        state: parts.state,
        status,
        commands,
        responses_rx,
        responses_tx,
        inbox: inbox_tx,
        next_sequence: parts.next_sequence,
        pending: HashMap::new(),
        deadlines: VecDeque::new(),
        inbound_outstanding: 0,
        enquire_outstanding: false,
        last_rx: now,
        last_activity: now,
        unbinding: None,
        unbind_replies: Vec::new(),
        close: None,
        peer_eof: false,
        timer: Box::pin(sleep_until(first_timer)),
        timer_at: first_timer,
        write_stalled_since: None,
    };
    tokio::spawn(driver.run());
    (
        super::Session {
            commands: commands_tx,
            status: status_rx,
            config,
        },
        super::Inbox { rx: inbox_rx },
    )
}

impl<IO> Driver<IO>
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    async fn run(mut self) {
        // Frames that arrived with the bind are processed before anything is read.
        self.process_frames();
        self.schedule();
        while !self.finished() {
            let can_read = self.can_read();
            let can_write = !self.out.is_empty();
            let can_command = self.can_take_command();
            let event = tokio::select! {
                r = self.reader.read_buf(&mut self.rbuf), if can_read => Event::Read(r),
                w = self.writer.write(&self.out), if can_write => Event::Wrote(w),
                p = self.responses_rx.recv() => Event::Response(p),
                c = self.commands.recv(), if can_command => Event::Command(c),
                () = &mut self.timer => Event::Timer,
            };
            match event {
                Event::Read(Ok(0)) => {
                    self.peer_eof = true;
                    self.close_with(CloseReason::PeerClosed);
                }
                Event::Read(Ok(_)) => self.process_frames(),
                Event::Read(Err(e)) => self.close_with(CloseReason::Io(e.kind())),
                Event::Wrote(Err(e)) => {
                    // Nothing more can be written: drop what is queued, or the loop would
                    // retry the failed write for ever (reads stop once closing).
                    self.out.clear();
                    self.close_with(CloseReason::Io(e.kind()))
                }
                Event::Wrote(Ok(n)) => {
                    self.out.advance(n);
                    if n > 0 {
                        // Progress: the stall clock starts again from now.
                        self.write_stalled_since = None;
                    }
                }
                Event::Response(Some(pdu)) => {
                    self.on_app_response(pdu);
                    for _ in 0..BATCH {
                        match self.responses_rx.try_recv() {
                            Ok(pdu) => self.on_app_response(pdu),
                            Err(_) => break,
                        }
                    }
                    // Answers free inbound window: frames held back may now be processed.
                    self.process_frames();
                }
                // The driver holds a sender itself, so the channel never closes.
                Event::Response(None) => {}
                Event::Command(Some(cmd)) => {
                    self.on_command(cmd);
                    for _ in 0..BATCH {
                        if !self.can_take_command() {
                            break;
                        }
                        match self.commands.try_recv() {
                            Ok(cmd) => self.on_command(cmd),
                            Err(_) => break,
                        }
                    }
                }
                Event::Command(None) => self.start_unbind(),
                Event::Timer => self.on_timer(),
            }
            self.progress_unbind();
            self.track_write_stall();
            self.schedule();
        }
        self.shutdown().await;
    }

    /// Done when a close reason is set and everything queued was written (or cannot be).
    fn finished(&self) -> bool {
        self.close.is_some() && (self.out.is_empty() || self.peer_eof)
    }

    fn can_read(&self) -> bool {
        if self.close.is_some() || matches!(self.unbinding, Some(Unbinding::Peer { .. })) {
            return false;
        }
        // A peer that does not read our answers is not read either: what it sends would
        // only queue more answers (`enquire_link_resp`, throttling errors) without bound.
        if self.out.len() >= READ_STOP {
            return false;
        }
        match self.config.inbound_overflow {
            InboundOverflow::Throttle => true,
            InboundOverflow::Backpressure => self.inbound_outstanding < self.config.inbound_window,
        }
    }

    fn can_take_command(&self) -> bool {
        self.close.is_none()
            && self.unbinding.is_none()
            && self.pending.len() < self.config.window
            && self.out.len() < WRITE_HIGH_WATER
    }

    fn set_state(&mut self, state: SessionState) {
        self.state = state;
        self.status.send_modify(|s| s.state = state);
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.close.is_none() {
            tracing::debug!(%reason, "smpp session closing");
            self.close = Some(reason);
            self.set_state(SessionState::Closed);
        }
    }

    fn queue(&mut self, pdu: &Pdu) {
        if let Err(e) = pdu.encode(&mut self.out) {
            // Only application-built bodies can fail to encode; answer rather than go silent.
            tracing::warn!(error = %e, command = %pdu.command_id(), "cannot encode response");
            if let Some(body) = PduBody::error_response(pdu.command_id()) {
                let fallback =
                    Pdu::new(pdu.sequence_number, body).with_status(CommandStatus::ESME_RSYSERR);
                let _ = fallback.encode(&mut self.out);
            }
        }
    }

    fn sequence(&mut self) -> u32 {
        let seq = self.next_sequence;
        // Sequence numbers run 1..=0x7FFFFFFF and wrap.
        self.next_sequence = if seq >= 0x7FFF_FFFF { 1 } else { seq + 1 };
        seq
    }

    /// Encodes a request and records its waiter; gives the waiter back when it cannot.
    fn send_request(
        &mut self,
        body: PduBody,
        waiter: Waiter,
    ) -> Result<(), (SessionError, Waiter)> {
        let id = body.command_id();
        if !may_send(self.side, self.state, id) && !matches!(waiter, Waiter::Unbind) {
            return Err((SessionError::NotAllowed(id, self.state), waiter));
        }
        let seq = self.sequence();
        let pdu = Pdu::new(seq, body);
        if let Err(e) = pdu.encode(&mut self.out) {
            return Err((e.into(), waiter));
        }
        if id.response().is_some() {
            self.pending.insert(seq, waiter);
            self.deadlines
                .push_back((Instant::now() + self.config.response_timeout, seq));
        }
        if !matches!(id, CommandId::EnquireLink) {
            self.last_activity = Instant::now();
        }
        Ok(())
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request { body, reply } => {
                if reply.is_closed() {
                    return; // the caller gave up while queued
                }
                if let Err((e, Waiter::Caller(reply))) =
                    self.send_request(body, Waiter::Caller(reply))
                {
                    let _ = reply.send(Err(e));
                }
            }
            Command::Unbind { reply } => {
                self.unbind_replies.push(reply);
                self.start_unbind();
            }
        }
    }

    fn on_app_response(&mut self, pdu: Pdu) {
        self.inbound_outstanding = self.inbound_outstanding.saturating_sub(1);
        if self.close.is_none() {
            self.last_activity = Instant::now();
            self.queue(&pdu);
        }
    }

    fn process_frames(&mut self) {
        while self.close.is_none() && self.can_read() {
            match self.framer.next_frame(&mut self.rbuf) {
                Ok(Some(frame)) => match Pdu::decode(frame) {
                    Ok(pdu) => self.on_pdu(pdu),
                    Err(e) => {
                        self.last_rx = Instant::now();
                        tracing::debug!(error = %e, "undecodable pdu");
                        if let Some(answer) = e.response() {
                            self.queue(&answer);
                        }
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "smpp framing lost");
                    let nack = Pdu::new(0, PduBody::GenericNack)
                        .with_status(CommandStatus::ESME_RINVCMDLEN);
                    self.queue(&nack);
                    self.close_with(CloseReason::Framing(e));
                }
            }
        }
    }

    fn on_pdu(&mut self, pdu: Pdu) {
        let now = Instant::now();
        self.last_rx = now;
        let id = pdu.command_id();
        if id.is_response() {
            return self.on_response(pdu);
        }
        if id != CommandId::EnquireLink {
            self.last_activity = now;
        }
        let seq = pdu.sequence_number;
        match id {
            CommandId::EnquireLink => {
                self.queue(&Pdu::new(seq, PduBody::EnquireLinkResp));
                return;
            }
            CommandId::Unbind if matches!(self.state, SessionState::Bound(_)) => {
                self.set_state(SessionState::Unbinding);
                let deadline = now + self.config.unbind_timeout;
                self.unbinding = Some(Unbinding::Peer {
                    deadline,
                    sequence_number: seq,
                });
                return;
            }
            _ => {}
        }
        if !may_send(self.side.peer(), self.state, id) {
            let status = match self.state {
                SessionState::Bound(_) if pdu.body.is_bind() => CommandStatus::ESME_RALYBND,
                _ => CommandStatus::ESME_RINVBNDSTS,
            };
            self.answer_error(seq, id, status);
            return;
        }
        let response_id = id.response();
        if response_id.is_some() {
            if self.inbound_outstanding >= self.config.inbound_window {
                // Only reachable in Throttle mode: Backpressure stops reading first.
                self.answer_error(seq, id, CommandStatus::ESME_RTHROTTLED);
                return;
            }
            self.inbound_outstanding += 1;
        }
        let responder = Responder {
            sequence_number: seq,
            response_id,
            responses: self.responses_tx.clone(),
        };
        // If the application dropped its inbox, the responder answers ESME_RSYSERR on drop.
        let _ = self.inbox.send(Inbound { pdu, responder });
    }

    fn answer_error(&mut self, seq: u32, id: CommandId, status: CommandStatus) {
        if let Some(resp) = id.response() {
            let body = PduBody::error_response(resp).unwrap_or(PduBody::GenericNack);
            self.queue(&Pdu::new(seq, body).with_status(status));
        }
    }

    fn on_response(&mut self, pdu: Pdu) {
        let Some(waiter) = self.pending.remove(&pdu.sequence_number) else {
            tracing::debug!(seq = pdu.sequence_number, command = %pdu.command_id(), "response to no request");
            return;
        };
        match waiter {
            Waiter::Caller(tx) => {
                self.last_activity = Instant::now();
                let _ = tx.send(Ok(pdu));
            }
            Waiter::EnquireLink => self.enquire_outstanding = false,
            Waiter::Unbind => self.close_with(CloseReason::Unbound),
        }
    }

    /// Starts the stall clock when output is waiting, stops it when there is none.
    fn track_write_stall(&mut self) {
        if self.out.is_empty() {
            self.write_stalled_since = None;
        } else if self.write_stalled_since.is_none() {
            self.write_stalled_since = Some(Instant::now());
        }
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if let Some(since) = self.write_stalled_since
            && now >= since + self.config.write_timeout
        {
            // Nothing can be written: drop what is queued (the loop would wait on it for
            // ever) and close. Requests in flight fail with `Closed`; their callers settle
            // them as for any lost session.
            tracing::debug!(
                queued = self.out.len(),
                "smpp peer stopped reading; closing"
            );
            self.out.clear();
            self.write_stalled_since = None;
            self.close_with(CloseReason::WriteStalled);
            return;
        }
        while let Some(&(deadline, seq)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            match self.pending.remove(&seq) {
                Some(Waiter::Caller(tx)) => {
                    let _ = tx.send(Err(SessionError::Timeout(self.config.response_timeout)));
                }
                Some(Waiter::EnquireLink) => self.close_with(CloseReason::PeerDead),
                Some(Waiter::Unbind) => self.close_with(CloseReason::Unbound),
                None => {}
            }
        }
        if self.close.is_some() || self.unbinding.is_some() {
            return;
        }
        if let Some(limit) = self.config.inactivity_timeout
            && now >= self.last_activity + limit
        {
            tracing::debug!("smpp session inactive, unbinding");
            self.start_unbind();
            return;
        }
        if !self.enquire_outstanding && now >= self.last_rx + self.config.enquire_link_interval {
            if self
                .send_request(PduBody::EnquireLink, Waiter::EnquireLink)
                .is_ok()
            {
                self.enquire_outstanding = true;
            }
            // Probe again one interval after this one, whatever the peer sends meanwhile.
            self.last_rx = now;
        }
    }

    fn start_unbind(&mut self) {
        if self.unbinding.is_some() || self.close.is_some() {
            return;
        }
        if !matches!(self.state, SessionState::Bound(_)) {
            self.close_with(CloseReason::Unbound);
            return;
        }
        self.set_state(SessionState::Unbinding);
        let deadline = Instant::now() + self.config.unbind_timeout;
        self.unbinding = Some(Unbinding::Ours {
            deadline,
            sent: false,
        });
    }

    /// Moves an unbind on once outstanding work is done or its deadline has passed.
    fn progress_unbind(&mut self) {
        let now = Instant::now();
        match self.unbinding {
            Some(Unbinding::Ours {
                deadline,
                sent: false,
            }) => {
                let callers = self
                    .pending
                    .values()
                    .filter(|w| matches!(w, Waiter::Caller(_)))
                    .count();
                // The peer's requests are answered first too: an answer the application
                // gave just before unbinding must reach the peer before our unbind, or the
                // peer (which stops reading once unbound) never sees it.
                if (callers == 0 && self.inbound_outstanding == 0) || now >= deadline {
                    let _ = self.send_request(PduBody::Unbind, Waiter::Unbind);
                    self.unbinding = Some(Unbinding::Ours {
                        deadline,
                        sent: true,
                    });
                }
            }
            Some(Unbinding::Peer {
                deadline,
                sequence_number,
            }) if self.inbound_outstanding == 0 || now >= deadline => {
                self.queue(&Pdu::new(sequence_number, PduBody::UnbindResp));
                self.unbinding = None;
                self.close_with(CloseReason::PeerUnbound);
            }
            _ => {}
        }
    }

    /// Points the timer at the earliest thing that may need doing.
    fn schedule(&mut self) {
        let mut next = self.last_rx + self.config.enquire_link_interval;
        if let Some(&(deadline, _)) = self.deadlines.front() {
            next = next.min(deadline);
        }
        if let Some(limit) = self.config.inactivity_timeout {
            next = next.min(self.last_activity + limit);
        }
        if let Some(since) = self.write_stalled_since {
            next = next.min(since + self.config.write_timeout);
        }
        match self.unbinding {
            Some(Unbinding::Ours {
                deadline,
                sent: false,
            })
            | Some(Unbinding::Peer { deadline, .. }) => {
                next = next.min(deadline);
            }
            _ => {}
        }
        // Resetting costs a timer-wheel update; only move the timer when it must fire
        // earlier, or when it has fired. A late wake-up just re-checks and reschedules.
        if next < self.timer_at || self.timer.is_elapsed() {
            self.timer.as_mut().reset(next);
            self.timer_at = next;
        }
    }

    async fn shutdown(mut self) {
        let reason = self.close.unwrap_or(CloseReason::Unbound);
        if !self.peer_eof && !self.out.is_empty() {
            // Bounded: a peer that does not read gets no more than the unbind timeout.
            let _ =
                tokio::time::timeout(self.config.unbind_timeout, self.writer.write_all(&self.out))
                    .await;
        }
        // Bounded too: closing TLS writes a close_notify a stalled peer may never take.
        let _ = tokio::time::timeout(self.config.unbind_timeout, self.writer.shutdown()).await;
        for (_, waiter) in self.pending.drain() {
            if let Waiter::Caller(tx) = waiter {
                let _ = tx.send(Err(SessionError::Closed(reason)));
            }
        }
        for reply in self.unbind_replies.drain(..) {
            let _ = reply.send(());
        }
        self.status.send_modify(|s| {
            s.state = SessionState::Closed;
            s.closed = Some(reason);
        });
    }
}
