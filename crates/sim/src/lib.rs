//! A carrier SMSC simulator built on Herald's SMPP session engine.
//!
//! It accepts binds (checking credentials and a bind limit), answers `submit_sm` and
//! `data_sm` with a message id after a configurable latency, and, when the message asks
//! for one, sends a delivery receipt as `deliver_sm` (text form plus the
//! `receipted_message_id` and `message_state` TLVs) after a configurable delay, on a
//! receiver or transceiver session of the same system_id. Counters tell tests what it saw.
//!
//! Tests, the local cluster and the benchmarks use it as "the carrier".
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use herald_smpp::pdu::{DeliverSm, MessageIdResp};
use herald_smpp::receipt::{DeliveryReceipt, MessageState, ReceiptTlvs};
use herald_smpp::session::{self, Inbound, Session, SessionConfig, SessionState};
use herald_smpp::{CommandStatus, EsmClass, PduBody, Tlvs};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

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
    /// Time after the answer before the receipt is sent.
    pub receipt_delay: Duration,
    /// The final state receipts report.
    pub receipt_state: MessageState,
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
    /// `submit_sm` and `data_sm` accepted.
    pub submits: AtomicU64,
    /// Receipts sent and answered OK.
    pub receipts_acked: AtomicU64,
    /// Receipts that could not be delivered (no receiver bound, error or timeout).
    pub receipts_failed: AtomicU64,
}

/// A running simulator; stops when dropped.
pub struct SimSmsc {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl Drop for SimSmsc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    config: SimConfig,
    counters: Arc<Counters>,
    bound: AtomicUsize,
    next_id: AtomicU64,
    receivers: Mutex<Vec<Session>>,
    next_receiver: AtomicUsize,
}

impl SimSmsc {
    /// Starts serving on `listener`.
    pub fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<SimSmsc> {
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            config,
            counters: counters.clone(),
            bound: AtomicUsize::new(0),
            next_id: AtomicU64::new(0x1000),
            receivers: Mutex::new(Vec::new()),
            next_receiver: AtomicUsize::new(0),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(shared.clone(), stream));
            }
        });
        Ok(SimSmsc {
            addr,
            counters,
            task,
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
        &self.counters
    }
}

async fn serve(shared: Arc<Shared>, stream: TcpStream) {
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
    shared.counters.binds.fetch_add(1, Ordering::Relaxed);
    if mode.smsc_sends() {
        shared.receivers.lock().await.push(session.clone());
    }
    while let Some(inbound) = inbox.recv().await {
        let shared = shared.clone();
        if shared.config.submit_latency.is_zero() {
            on_request(&shared, inbound);
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(shared.config.submit_latency).await;
                on_request(&shared, inbound);
            });
        }
    }
    shared.bound.fetch_sub(1, Ordering::SeqCst);
    shared
        .receivers
        .lock()
        .await
        .retain(|s| s.state() != SessionState::Closed);
}

fn on_request(shared: &Arc<Shared>, inbound: Inbound) {
    let Inbound { pdu, responder } = inbound;
    let (source, dest, registered, text) = match &pdu.body {
        PduBody::SubmitSm(sm) => (
            sm.source.clone(),
            sm.dest.clone(),
            sm.registered_delivery,
            sm.user_data().clone(),
        ),
        PduBody::DataSm(dm) => (
            dm.source.clone(),
            dm.dest.clone(),
            dm.registered_delivery,
            dm.tlvs.message_payload().cloned().unwrap_or_default(),
        ),
        _ => {
            responder.respond_status(CommandStatus::ESME_RPROHIBITED);
            return;
        }
    };
    let id = format!("{:x}", shared.next_id.fetch_add(1, Ordering::Relaxed));
    shared.counters.submits.fetch_add(1, Ordering::Relaxed);
    let resp = MessageIdResp::new(id.as_str());
    let body = match pdu.body {
        PduBody::DataSm(_) => PduBody::DataSmResp(resp),
        _ => PduBody::SubmitSmResp(resp),
    };
    responder.respond(body, CommandStatus::ESME_ROK);
    if !registered.wants_final_receipt(shared.config.receipt_state == MessageState::Delivered) {
        return;
    }
    let now = SystemTime::now();
    let mut receipt = DeliveryReceipt::new(id.clone());
    receipt.submitted = Some(1);
    receipt.delivered = Some(u32::from(
        shared.config.receipt_state == MessageState::Delivered,
    ));
    receipt.submit_date = Some(now);
    receipt.done_date = Some(now);
    receipt.state = Some(shared.config.receipt_state);
    receipt.set_error_code(0);
    receipt.text = Some(String::from_utf8_lossy(&text[..text.len().min(20)]).into_owned());
    let Ok(text) = receipt.to_text() else {
        return;
    };
    let receipt_tlvs = ReceiptTlvs {
        receipted_message_id: Some(id),
        message_state: Some(shared.config.receipt_state),
        network_error_code: None,
    };
    let mut tlvs = Tlvs::new();
    if receipt_tlvs.write_into(&mut tlvs).is_err() {
        return;
    }
    let deliver = DeliverSm {
        source: dest,
        dest: source,
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        short_message: Bytes::from(text),
        tlvs,
        ..DeliverSm::default()
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.receipt_delay).await;
        let ok = match pick_receiver(&shared).await {
            Some(session) => session
                .request(PduBody::DeliverSm(deliver))
                .await
                .is_ok_and(|resp| resp.command_status.is_ok()),
            None => false,
        };
        let counter = if ok {
            &shared.counters.receipts_acked
        } else {
            &shared.counters.receipts_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    });
}

/// Round-robin over bound receiver sessions.
async fn pick_receiver(shared: &Shared) -> Option<Session> {
    let receivers = shared.receivers.lock().await;
    let live: Vec<&Session> = receivers
        .iter()
        .filter(|s| matches!(s.state(), SessionState::Bound(_)))
        .collect();
    if live.is_empty() {
        return None;
    }
    let i = shared.next_receiver.fetch_add(1, Ordering::Relaxed) % live.len();
    Some(live[i].clone())
}
