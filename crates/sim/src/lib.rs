//! A carrier SMSC simulator built on Herald's SMPP session engine.
//!
//! It accepts binds (checking credentials and a bind limit: `ESME_RBINDFAIL` beyond it),
//! answers `submit_sm` and `data_sm` with a hex message id after a configurable latency,
//! and, when the message asks for one, sends a delivery receipt as `deliver_sm` (text form,
//! plus the `receipted_message_id` and `message_state` TLVs unless turned off) after a
//! configurable delay, with a configurable mix of final states, on a receiver or
//! transceiver session. It can send the receipt *before* the `submit_sm_resp` (the race
//! real carriers produce), write receipt ids in decimal (a common dialect), inject faults
//! ([`Faults`]: throttling by percentage or TPS cap, errors, slow and missing answers,
//! dropped connections), generate MO traffic, serve over TLS, and counts what it saw
//! ([`Counters`]).
//!
//! - [`faults`]: the faults and the dice that pick them.
//! - [`tls`]: the TLS server configuration from PEM files, with or without requiring a
//!   client certificate.
//!
//! Tests, the local cluster and the benchmarks use it as "the carrier".
#![forbid(unsafe_code)]

pub mod faults;
pub mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use herald_smpp::pdu::{DeliverSm, MessageIdResp};
use herald_smpp::receipt::{DeliveryReceipt, MessageState, ReceiptTlvs, hex_id_to_decimal};
use herald_smpp::session::{self, BindMode, Inbound, Session, SessionConfig, SessionState};
use herald_smpp::types::Address;
use herald_smpp::{CommandStatus, EsmClass, PduBody, Tlvs};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub use faults::Faults;

use faults::{Dice, TpsCap};

/// How the simulated carrier behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The system_id ESMEs must bind with.
    pub system_id: String,
    /// The password they must give.
    pub password: String,
    /// Most simultaneous binds; further ones get `ESME_RBINDFAIL`.
    pub max_binds: usize,
    /// Time before a `submit_sm` is answered.
    pub submit_latency: Duration,
    /// Time after the answer before the receipt is sent (with
    /// [`SimConfig::receipt_first`]: how long the receipt leads the answer).
    pub receipt_delay: Duration,
    /// The final state receipts report, when [`SimConfig::receipt_mix`] is empty.
    pub receipt_state: MessageState,
    /// Final states drawn by weight for each receipt (`[(Delivered, 90), (Undeliverable,
    /// 10)]`); empty: always [`SimConfig::receipt_state`].
    pub receipt_mix: Vec<(MessageState, u32)>,
    /// Send the receipt before the `submit_sm_resp`: the ESME must match a receipt whose
    /// id it has not been told yet.
    pub receipt_first: bool,
    /// Add the receipt TLVs (`receipted_message_id`, `message_state`) to the text form;
    /// default true. False: text only, as older SMSCs send.
    pub receipt_tlvs: bool,
    /// Write the id in receipts in decimal while `submit_sm_resp` gives it in hex (a
    /// common carrier dialect; the ESME's receipt id format must be `decimal`).
    pub receipt_id_decimal: bool,
    /// How often a receipt that could not be delivered (no receiver bound, an error
    /// answer, no answer) is tried again, as carriers do; default 10.
    pub receipt_retries: u32,
    /// The pause between those tries; default 500 ms.
    pub receipt_retry_delay: Duration,
    /// Faults injected into the answers; changeable at run time with
    /// [`SimSmsc::set_faults`].
    pub faults: Faults,
    /// Send an MO message this often to a bound receiver (from [`SimConfig::mo_source`] to
    /// [`SimConfig::mo_destination`], text `MO <n>`). `None`: only [`SimSmsc::send_mo`].
    pub mo_interval: Option<Duration>,
    /// The sender of generated MO messages.
    pub mo_source: String,
    /// The short code generated MO messages go to.
    pub mo_destination: String,
    /// Keep every accepted submit for [`SimSmsc::submitted`] (tests check what arrived).
    pub record_submits: bool,
    /// Serve SMPP over TLS with this configuration (the carrier's certificate, and the CA
    /// of the client certificates it requires, if any: [`tls::server_config`]); `None`:
    /// plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Seed of the fault dice; 0: a random seed.
    pub seed: u64,
    /// Session timers and windows (the carrier's own window is `inbound_window`).
    pub session: SessionConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            system_id: "carrier".into(),
            password: "secret".into(),
            max_binds: 4,
            submit_latency: Duration::ZERO,
            receipt_delay: Duration::from_millis(10),
            receipt_state: MessageState::Delivered,
            receipt_mix: Vec::new(),
            receipt_first: false,
            receipt_tlvs: true,
            receipt_id_decimal: false,
            receipt_retries: 10,
            receipt_retry_delay: Duration::from_millis(500),
            faults: Faults::default(),
            mo_interval: None,
            mo_source: "447700900000".into(),
            mo_destination: "80080".into(),
            record_submits: false,
            tls: None,
            seed: 0,
            session: SessionConfig {
                inbound_window: 10,
                ..SessionConfig::default()
            },
        }
    }
}

/// What the simulator has seen.
#[derive(Debug, Default)]
pub struct Counters {
    /// Binds accepted.
    pub binds: AtomicU64,
    /// Binds rejected.
    pub binds_rejected: AtomicU64,
    /// `submit_sm` and `data_sm` accepted (given a message id).
    pub submits: AtomicU64,
    /// Submits answered `ESME_RTHROTTLED` (by percentage or the TPS cap).
    pub throttled: AtomicU64,
    /// Submits answered with an injected error.
    pub errors: AtomicU64,
    /// Submits never answered.
    pub silent: AtomicU64,
    /// Connections dropped by the simulator (injected or [`SimSmsc::disconnect_all`]).
    pub disconnects: AtomicU64,
    /// Receipts sent and answered OK.
    pub receipts_acked: AtomicU64,
    /// Receipts that could not be delivered after every retry (no receiver bound, error or
    /// timeout).
    pub receipts_failed: AtomicU64,
    /// MO messages sent and answered OK.
    pub mo_acked: AtomicU64,
    /// MO messages that could not be delivered.
    pub mo_failed: AtomicU64,
    /// TLS handshakes that failed or timed out (a client without the certificate a
    /// mutual-TLS simulator requires lands here).
    pub tls_failures: AtomicU64,
    /// TLS sessions whose client presented a certificate the simulator verified.
    pub tls_client_certificates: AtomicU64,
}

/// A submit the simulator accepted (kept with [`SimConfig::record_submits`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitRecord {
    /// The id it was given.
    pub message_id: String,
    /// The source address as received.
    pub source: Address,
    /// The destination address as received.
    pub dest: Address,
    /// `registered_delivery` as received.
    pub registered_delivery: u8,
    /// `data_coding` as received.
    pub data_coding: u8,
    /// The user data (`short_message`, or `message_payload`).
    pub user_data: Bytes,
    /// When it arrived (for latency to the carrier, in benchmarks).
    pub received: std::time::Instant,
}

/// A running simulator; stops when dropped.
pub struct SimSmsc {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SimSmsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSmsc")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for SimSmsc {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.disconnect_all();
    }
}

/// One bound connection.
struct Connection {
    session: Session,
    mode: BindMode,
    /// A second handle on the socket, to drop the connection from outside the session.
    socket: Option<std::net::TcpStream>,
}

struct Shared {
    config: SimConfig,
    faults: ArcSwap<Faults>,
    counters: Counters,
    bound: AtomicUsize,
    peak_bound: AtomicUsize,
    next_id: AtomicU64,
    next_connection: AtomicU64,
    submits_seen: AtomicU64,
    mo_sent: AtomicU64,
    connections: Mutex<HashMap<u64, Connection>>,
    next_receiver: AtomicUsize,
    records: Mutex<Vec<SubmitRecord>>,
    dice: Dice,
    tps: TpsCap,
}

impl SimSmsc {
    /// Starts serving on `listener`.
    pub fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<SimSmsc> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            faults: ArcSwap::from_pointee(config.faults.clone()),
            dice: Dice::new(config.seed),
            config,
            counters: Counters::default(),
            bound: AtomicUsize::new(0),
            peak_bound: AtomicUsize::new(0),
            next_id: AtomicU64::new(0x1000),
            next_connection: AtomicU64::new(1),
            submits_seen: AtomicU64::new(0),
            mo_sent: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
            next_receiver: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
            tps: TpsCap::new(),
        });
        let mut tasks = Vec::new();
        let accept = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(accept.clone(), stream));
            }
        }));
        if let Some(interval) = shared.config.mo_interval {
            let generator = shared.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(interval.max(Duration::from_millis(1)));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let n = generator.mo_sent.fetch_add(1, Ordering::Relaxed) + 1;
                    let config = &generator.config;
                    let text = format!("MO {n}");
                    let _ = generator
                        .send_mo(&config.mo_source, &config.mo_destination, &text)
                        .await;
                }
            }));
        }
        Ok(SimSmsc {
            addr,
            shared,
            tasks,
        })
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start_local(config: SimConfig) -> std::io::Result<SimSmsc> {
        Self::start(TcpListener::bind("127.0.0.1:0").await?, config)
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has seen so far.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Binds open now.
    pub fn bound_now(&self) -> usize {
        self.shared.bound.load(Ordering::SeqCst)
    }

    /// The most binds that were ever open at once.
    pub fn peak_binds(&self) -> usize {
        self.shared.peak_bound.load(Ordering::SeqCst)
    }

    /// Replaces the faults; submits from now on draw from the new ones.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.store(Arc::new(faults));
    }

    /// Every submit accepted so far, in order (empty unless
    /// [`SimConfig::record_submits`]).
    pub fn submitted(&self) -> Vec<SubmitRecord> {
        self.shared
            .records
            .lock()
            .map(|records| records.clone())
            .unwrap_or_default()
    }

    /// Drops every connection at once, without unbinding (a carrier crash or a network
    /// cut, as the ESMEs see it).
    pub fn disconnect_all(&self) {
        self.shared.disconnect_all();
    }

    /// Sends a receipt for `message_id` in `state` as if for a message submitted from
    /// `source` to `dest` (a receipt nobody asked for, a duplicate, a late one); returns
    /// its `deliver_sm_resp` status, or `None` when no receiver is bound or none answered.
    pub async fn send_receipt(
        &self,
        message_id: &str,
        state: MessageState,
        source: Address,
        dest: Address,
    ) -> Option<CommandStatus> {
        let deliver = receipt_pdu(&self.shared, message_id, state, source, dest, &Bytes::new());
        let session = self.shared.pick_receiver()?;
        session
            .request(PduBody::DeliverSm(deliver))
            .await
            .ok()
            .map(|resp| resp.command_status)
    }

    /// Sends an MO message as `deliver_sm` (GSM 7-bit text) to a bound receiver or
    /// transceiver; returns its `deliver_sm_resp` status, or `None` when no receiver is
    /// bound or none answered.
    pub async fn send_mo(&self, source: &str, dest: &str, text: &str) -> Option<CommandStatus> {
        self.shared.send_mo(source, dest, text).await
    }
}

impl Shared {
    fn disconnect_all(&self) {
        let Ok(connections) = self.connections.lock() else {
            return;
        };
        for connection in connections.values() {
            if let Some(socket) = &connection.socket {
                let _ = socket.shutdown(std::net::Shutdown::Both);
                self.counters.disconnects.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn disconnect(&self, connection: u64) {
        if let Ok(connections) = self.connections.lock()
            && let Some(socket) = connections.get(&connection).and_then(|c| c.socket.as_ref())
        {
            let _ = socket.shutdown(std::net::Shutdown::Both);
            self.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Round-robin over bound receiver and transceiver sessions.
    fn pick_receiver(&self) -> Option<Session> {
        let connections = self.connections.lock().ok()?;
        let mut live: Vec<(&u64, &Connection)> = connections
            .iter()
            .filter(|(_, c)| {
                c.mode.smsc_sends() && matches!(c.session.state(), SessionState::Bound(_))
            })
            .collect();
        if live.is_empty() {
            return None;
        }
        live.sort_by_key(|(id, _)| **id);
        let i = self.next_receiver.fetch_add(1, Ordering::Relaxed) % live.len();
        live.get(i).map(|(_, c)| c.session.clone())
    }

    async fn send_mo(&self, source: &str, dest: &str, text: &str) -> Option<CommandStatus> {
        let deliver = DeliverSm {
            source: Address::international(source),
            dest: Address::new(
                herald_smpp::types::Ton::UNKNOWN,
                herald_smpp::types::Npi::UNKNOWN,
                dest,
            ),
            short_message: Bytes::from(
                herald_smpp::text::encode(text, herald_smpp::text::Encoding::GSM7)
                    .unwrap_or_else(|_| text.as_bytes().to_vec()),
            ),
            ..DeliverSm::default()
        };
        let status = match self.pick_receiver() {
            Some(session) => session
                .request(PduBody::DeliverSm(deliver))
                .await
                .ok()
                .map(|resp| resp.command_status),
            None => None,
        };
        let counter = if status.is_some_and(CommandStatus::is_ok) {
            &self.counters.mo_acked
        } else {
            &self.counters.mo_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        status
    }
}

async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    // A second handle on the socket lets the simulator cut the connection abruptly.
    let (stream, socket) = match stream.into_std() {
        Ok(std_stream) => {
            let socket = std_stream.try_clone().ok();
            match TcpStream::from_std(std_stream) {
                Ok(stream) => (stream, socket),
                Err(_) => return,
            }
        }
        Err(_) => return,
    };
    match shared.config.tls.clone() {
        Some(tls) => {
            let accepted = tokio::time::timeout(
                shared.config.session.bind_timeout,
                tokio_rustls::TlsAcceptor::from(tls).accept(stream),
            )
            .await;
            match accepted {
                Ok(Ok(stream)) => {
                    if stream.get_ref().1.peer_certificates().is_some() {
                        shared
                            .counters
                            .tls_client_certificates
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    serve_session(shared, stream, socket).await;
                }
                _ => {
                    shared.counters.tls_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        None => serve_session(shared, stream, socket).await,
    }
}

async fn serve_session<IO>(shared: Arc<Shared>, stream: IO, socket: Option<std::net::TcpStream>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(request) = session::accept(stream, shared.config.session.clone()).await else {
        return;
    };
    let status = if request.bind.system_id != shared.config.system_id.as_str() {
        CommandStatus::ESME_RINVSYSID
    } else if request.bind.password != shared.config.password.as_str() {
        CommandStatus::ESME_RINVPASWD
    } else if shared.bound.fetch_add(1, Ordering::SeqCst) >= shared.config.max_binds {
        shared.bound.fetch_sub(1, Ordering::SeqCst);
        CommandStatus::ESME_RBINDFAIL
    } else {
        CommandStatus::ESME_ROK
    };
    if !status.is_ok() {
        shared
            .counters
            .binds_rejected
            .fetch_add(1, Ordering::Relaxed);
        let _ = request.reject(status).await;
        return;
    }
    let mode = request.mode;
    let Ok((session, mut inbox)) = request.accept("herald-sim").await else {
        shared.bound.fetch_sub(1, Ordering::SeqCst);
        return;
    };
    let now_bound = shared.bound.load(Ordering::SeqCst);
    shared.peak_bound.fetch_max(now_bound, Ordering::SeqCst);
    shared.counters.binds.fetch_add(1, Ordering::Relaxed);
    let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut connections) = shared.connections.lock() {
        connections.insert(
            id,
            Connection {
                session: session.clone(),
                mode,
                socket,
            },
        );
    }
    while let Some(inbound) = inbox.recv().await {
        on_request(&shared, id, &session, inbound);
    }
    if let Ok(mut connections) = shared.connections.lock() {
        connections.remove(&id);
    }
    shared.bound.fetch_sub(1, Ordering::SeqCst);
}

/// What the dice decided for one submit.
enum Answer {
    Accept(Duration),
    Status(CommandStatus, Duration),
    Silent,
    Disconnect,
}

fn decide(shared: &Shared) -> Answer {
    let faults = shared.faults.load();
    let dice = &shared.dice;
    let seen = shared.submits_seen.fetch_add(1, Ordering::Relaxed) + 1;
    if faults
        .disconnect_every
        .is_some_and(|every| every > 0 && seen.is_multiple_of(every))
    {
        return Answer::Disconnect;
    }
    if dice.percent(faults.silent_percent) {
        return Answer::Silent;
    }
    let latency = if dice.percent(faults.slow_percent) {
        faults.slow_latency
    } else {
        shared.config.submit_latency
    };
    if dice.percent(faults.throttle_percent)
        || faults.max_tps.is_some_and(|tps| !shared.tps.take(tps))
    {
        return Answer::Status(CommandStatus::ESME_RTHROTTLED, latency);
    }
    if dice.percent(faults.error_percent) {
        return Answer::Status(faults.error_status, latency);
    }
    Answer::Accept(latency)
}

fn on_request(shared: &Arc<Shared>, connection: u64, session: &Session, inbound: Inbound) {
    let Inbound { pdu, responder } = inbound;
    let (source, dest, registered, data_coding, user_data, is_data_sm) = match &pdu.body {
        PduBody::SubmitSm(sm) => (
            sm.source.clone(),
            sm.dest.clone(),
            sm.registered_delivery,
            sm.data_coding.0,
            sm.user_data().clone(),
            false,
        ),
        PduBody::DataSm(dm) => (
            dm.source.clone(),
            dm.dest.clone(),
            dm.registered_delivery,
            dm.data_coding.0,
            dm.tlvs.message_payload().cloned().unwrap_or_default(),
            true,
        ),
        _ => {
            responder.respond_status(CommandStatus::ESME_RPROHIBITED);
            return;
        }
    };
    let latency = match decide(shared) {
        Answer::Status(status, latency) => {
            let counter = if status == CommandStatus::ESME_RTHROTTLED {
                &shared.counters.throttled
            } else {
                &shared.counters.errors
            };
            counter.fetch_add(1, Ordering::Relaxed);
            answer_later(latency, move || responder.respond_status(status));
            return;
        }
        Answer::Silent => {
            shared.counters.silent.fetch_add(1, Ordering::Relaxed);
            // Never answered: keep the responder alive until the session ends.
            let session = session.clone();
            tokio::spawn(async move {
                session.closed().await;
                drop(responder);
            });
            return;
        }
        Answer::Disconnect => None,
        Answer::Accept(latency) => Some(latency),
    };
    let id = format!("{:x}", shared.next_id.fetch_add(1, Ordering::Relaxed));
    shared.counters.submits.fetch_add(1, Ordering::Relaxed);
    if shared.config.record_submits
        && let Ok(mut records) = shared.records.lock()
    {
        records.push(SubmitRecord {
            message_id: id.clone(),
            source: source.clone(),
            dest: dest.clone(),
            registered_delivery: registered.0,
            data_coding,
            user_data: user_data.clone(),
            received: std::time::Instant::now(),
        });
    }
    let state = pick_state(shared);
    let receipt = registered
        .wants_final_receipt(state == MessageState::Delivered)
        .then(|| receipt_pdu(shared, &id, state, source, dest, &user_data));
    let Some(latency) = latency else {
        // Accepted, but the answer is lost with the connection.
        shared.disconnect(connection);
        drop(responder);
        if let Some(receipt) = receipt {
            send_receipt(shared.clone(), receipt, shared.config.receipt_delay);
        }
        return;
    };
    let mut resp = MessageIdResp::new(id.as_str());
    if let Some(congestion) = shared.faults.load().congestion_state {
        resp.tlvs.push(herald_smpp::Tlv::u8(
            herald_smpp::Tag::CONGESTION_STATE,
            congestion,
        ));
    }
    let body = if is_data_sm {
        PduBody::DataSmResp(resp)
    } else {
        PduBody::SubmitSmResp(resp)
    };
    let respond = move || responder.respond(body, CommandStatus::ESME_ROK);
    match receipt {
        Some(receipt) if shared.config.receipt_first => {
            // The receipt goes out first; the answer follows `receipt_delay` later.
            send_receipt(shared.clone(), receipt, Duration::ZERO);
            answer_later(latency + shared.config.receipt_delay, respond);
        }
        Some(receipt) => {
            answer_later(latency, respond);
            send_receipt(
                shared.clone(),
                receipt,
                latency + shared.config.receipt_delay,
            );
        }
        None => answer_later(latency, respond),
    }
}

fn answer_later(latency: Duration, answer: impl FnOnce() + Send + 'static) {
    if latency.is_zero() {
        answer();
    } else {
        tokio::spawn(async move {
            tokio::time::sleep(latency).await;
            answer();
        });
    }
}

fn pick_state(shared: &Shared) -> MessageState {
    let mix = &shared.config.receipt_mix;
    shared
        .dice
        .weighted(mix.iter().map(|(_, w)| *w))
        .and_then(|i| mix.get(i))
        .map_or(shared.config.receipt_state, |(state, _)| *state)
}

fn receipt_pdu(
    shared: &Shared,
    id: &str,
    state: MessageState,
    source: Address,
    dest: Address,
    text: &Bytes,
) -> DeliverSm {
    let receipt_id = if shared.config.receipt_id_decimal {
        hex_id_to_decimal(id).unwrap_or_else(|| id.to_owned())
    } else {
        id.to_owned()
    };
    let now = SystemTime::now();
    let mut receipt = DeliveryReceipt::new(receipt_id.clone());
    receipt.submitted = Some(1);
    receipt.delivered = Some(u32::from(state == MessageState::Delivered));
    receipt.submit_date = Some(now);
    receipt.done_date = Some(now);
    receipt.state = Some(state);
    receipt.set_error_code(if state == MessageState::Delivered {
        0
    } else {
        1
    });
    receipt.text = Some(
        text.iter()
            .take(20)
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect(),
    );
    let short_message = receipt.to_text().map(Bytes::from).unwrap_or_default();
    let mut tlvs = Tlvs::new();
    if shared.config.receipt_tlvs {
        let receipt_tlvs = ReceiptTlvs {
            receipted_message_id: Some(receipt_id),
            message_state: Some(state),
            network_error_code: None,
        };
        // An id of our own making is short and NUL-free: writing cannot fail.
        let _ = receipt_tlvs.write_into(&mut tlvs);
    }
    DeliverSm {
        source: dest,
        dest: source,
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        short_message,
        tlvs,
        ..DeliverSm::default()
    }
}

fn send_receipt(shared: Arc<Shared>, deliver: DeliverSm, delay: Duration) {
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut ok = false;
        for attempt in 0..=shared.config.receipt_retries {
            if attempt > 0 {
                tokio::time::sleep(shared.config.receipt_retry_delay).await;
            }
            ok = match shared.pick_receiver() {
                Some(session) => session
                    .request(PduBody::DeliverSm(deliver.clone()))
                    .await
                    .is_ok_and(|resp| resp.command_status.is_ok()),
                None => false,
            };
            if ok {
                break;
            }
        }
        let counter = if ok {
            &shared.counters.receipts_acked
        } else {
            &shared.counters.receipts_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    });
}
