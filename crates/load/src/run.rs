//! A load run: bind the sessions, run `window` workers on each, match receipts, wait out
//! the grace period, unbind, report.
//!
//! Each worker takes the next message number from the shared [`Schedule`], builds its
//! submits and sends them one after the other on its session, so a session never has more
//! than `window` submits outstanding and a long message's segments go in order on one
//! session. Each session's inbox task answers `deliver_sm` at once and matches receipts:
//! a receipt may arrive before its `submit_sm_resp` (carriers race), so it waits in a
//! second table until the response names its id.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use herald_smpp::pdu::{Bind, MessageIdResp};
use herald_smpp::receipt::{DeliveryReceipt, ReceiptTlvs};
use herald_smpp::session::{
    BindMode, Inbound, InboundOverflow, Session, SessionConfig, SessionError, bind,
};
use herald_smpp::{COctetString, CommandStatus, PduBody};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{BindKind, LoadConfig, Rate};
use crate::error::LoadError;
use crate::message;
use crate::pacing::Schedule;
use crate::report::{Latencies, Report};

/// Live counts of a run, for a progress display; also stops a run early.
#[derive(Debug, Default)]
pub struct Counters {
    messages: AtomicU64,
    submits: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
    receipts: AtomicU64,
    stop: AtomicBool,
}

impl Counters {
    /// Asks the run to stop sending; it still waits for receipts and reports.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether [`Counters::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The counts now.
    pub fn snapshot(&self) -> Progress {
        Progress {
            messages: self.messages.load(Ordering::Relaxed),
            submits: self.submits.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            receipts: self.receipts.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Messages started.
    pub messages: u64,
    /// Submits sent.
    pub submits: u64,
    /// Submits answered OK.
    pub ok: u64,
    /// Submits failed.
    pub errors: u64,
    /// Receipts matched.
    pub receipts: u64,
}

impl Progress {
    /// One progress line: totals, and rates since `previous` taken `interval` ago.
    pub fn line(&self, previous: &Progress, elapsed: Duration, interval: Duration) -> String {
        let per_s = |now: u64, before: u64| {
            Report::rate(now.saturating_sub(before), interval.as_secs_f64())
        };
        format!(
            "{:>6.1}s  submitted {} ({:.0}/s)  ok {}  errors {}  receipts {} ({:.0}/s)  awaiting {}",
            elapsed.as_secs_f64(),
            self.submits,
            per_s(self.submits, previous.submits),
            self.ok,
            self.errors,
            self.receipts,
            per_s(self.receipts, previous.receipts),
            self.ok.saturating_sub(self.receipts),
        )
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "submitted {} ok {} errors {} receipts {}",
            self.submits, self.ok, self.errors, self.receipts
        )
    }
}

/// Receipt matching, shared by the workers and the inbox tasks.
#[derive(Debug, Default)]
struct Matcher {
    state: Mutex<MatchState>,
}

#[derive(Debug, Default)]
struct MatchState {
    /// Answered OK, receipt not yet seen: id → when the submit was sent.
    waiting: HashMap<String, Instant>,
    /// Receipts whose submit has not been answered yet (or never will): id → arrival.
    early: HashMap<String, Instant>,
    latencies: Latencies,
    matched: u64,
    last_receipt: Option<Instant>,
}

impl Matcher {
    fn lock(&self) -> std::sync::MutexGuard<'_, MatchState> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A submit sent at `sent` was answered OK with `id`; true if its receipt was already in.
    fn answered(&self, id: String, sent: Instant) -> bool {
        let mut state = self.lock();
        match state.early.remove(&id) {
            Some(arrived) => {
                state.matched += 1;
                state
                    .latencies
                    .record(arrived.saturating_duration_since(sent));
                true
            }
            None => {
                state.waiting.insert(id, sent);
                false
            }
        }
    }

    /// A receipt for `id` arrived at `arrived`; true if it matched an answered submit.
    fn receipt(&self, id: String, arrived: Instant) -> bool {
        let mut state = self.lock();
        match state.waiting.remove(&id) {
            Some(sent) => {
                state.matched += 1;
                state
                    .latencies
                    .record(arrived.saturating_duration_since(sent));
                state.last_receipt = Some(state.last_receipt.map_or(arrived, |l| l.max(arrived)));
                true
            }
            None => {
                // A receipt that outran its response, or a repeat, or not ours.
                state.early.insert(id, arrived);
                false
            }
        }
    }

    fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

/// What one worker saw.
#[derive(Debug, Default)]
struct WorkerResult {
    latencies: Latencies,
    errors: BTreeMap<String, u64>,
    last_response: Option<Instant>,
}

/// Runs the load described by `config`, with its own counters.
///
/// # Errors
///
/// As [`run_with`].
pub async fn run(config: LoadConfig) -> Result<Report, LoadError> {
    run_with(config, Arc::new(Counters::default())).await
}

/// Runs the load described by `config`, counting into `counters` (a progress display reads
/// them; [`Counters::stop`] ends the sending early).
///
/// # Errors
///
/// [`LoadError::Invalid`] for bad settings, [`LoadError::Connect`] or [`LoadError::Bind`]
/// when a session cannot be opened (no load is sent then), [`LoadError::Message`] if a
/// message cannot be built.
pub async fn run_with(config: LoadConfig, counters: Arc<Counters>) -> Result<Report, LoadError> {
    config.validate()?;
    let config = Arc::new(config);
    let matcher = Arc::new(Matcher::default());
    let sessions = open_sessions(&config, &matcher, &counters).await?;

    let start = Instant::now();
    let rate = match config.rate {
        Rate::Unlimited => None,
        Rate::PerSecond(r) => Some(r),
    };
    let schedule = Arc::new(Schedule::new(start, rate, config.count, config.duration));
    let mut workers = JoinSet::new();
    for (session, _) in &sessions {
        for _ in 0..config.window {
            workers.spawn(worker(
                session.clone(),
                schedule.clone(),
                config.clone(),
                matcher.clone(),
                counters.clone(),
            ));
        }
    }
    let mut submit_latency = Latencies::default();
    let mut errors = BTreeMap::new();
    let mut last_response = start;
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(result)) => {
                submit_latency.merge(result.latencies);
                for (name, n) in result.errors {
                    *errors.entry(name).or_insert(0) += n;
                }
                if let Some(at) = result.last_response {
                    last_response = last_response.max(at);
                }
            }
            Ok(Err(error)) => failure = Some(error),
            Err(join) => *errors.entry(format!("worker: {join}")).or_insert(0) += 1,
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }

    // Receipts still on their way get the grace period, counted from the last response.
    if config.registered_delivery {
        let deadline = Instant::now().max(last_response) + config.grace;
        while matcher.waiting() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    for (session, inbox) in sessions {
        let _ = tokio::time::timeout(Duration::from_secs(2), session.unbind()).await;
        inbox.abort();
    }

    let progress = counters.snapshot();
    let mut state = matcher.lock();
    let receipts_expected = if config.registered_delivery {
        progress.ok
    } else {
        0
    };
    let submit_seconds = (last_response - start).as_secs_f64();
    let receipt_seconds = state
        .last_receipt
        .map_or(0.0, |at| (at - start).as_secs_f64());
    Ok(Report {
        messages: progress.messages,
        submits: progress.submits,
        submits_ok: progress.ok,
        submit_errors: progress.errors,
        errors,
        submit_seconds,
        submit_rate: Report::rate(progress.ok, submit_seconds),
        submit_latency: submit_latency.summary(),
        receipts_expected,
        receipts: state.matched,
        receipts_unmatched: state.early.len() as u64,
        receipt_seconds,
        receipt_rate: Report::rate(state.matched, receipt_seconds),
        receipt_latency: state.latencies.summary(),
        lost: state.waiting.len() as u64,
        config: Arc::unwrap_or_clone(config),
    })
}

/// Connects and binds every session (in parallel) and starts its inbox task.
async fn open_sessions(
    config: &Arc<LoadConfig>,
    matcher: &Arc<Matcher>,
    counters: &Arc<Counters>,
) -> Result<Vec<(Session, tokio::task::JoinHandle<()>)>, LoadError> {
    let mut binding = JoinSet::new();
    for n in 0..config.sessions {
        let config = config.clone();
        binding.spawn(async move { (n, open_session(&config, n).await) });
    }
    let mut sessions = Vec::with_capacity(config.sessions);
    while let Some(joined) = binding.join_next().await {
        let Ok((_, opened)) = joined else { continue };
        let (session, mut inbox) = opened?;
        let (matcher, counters) = (matcher.clone(), counters.clone());
        let task = tokio::spawn(async move {
            while let Some(inbound) = inbox.recv().await {
                on_inbound(inbound, &matcher, &counters);
            }
        });
        sessions.push((session, task));
    }
    Ok(sessions)
}

async fn open_session(
    config: &LoadConfig,
    n: usize,
) -> Result<(Session, herald_smpp::session::Inbox), LoadError> {
    let addr = config.target(n);
    let io = TcpStream::connect(&addr)
        .await
        .map_err(|source| LoadError::Connect {
            addr: addr.clone(),
            source,
        })?;
    let _ = io.set_nodelay(true);
    let session_config = SessionConfig {
        window: config.window,
        response_timeout: config.response_timeout,
        inbound_window: config.window.max(100),
        // Receipts beyond our inbound window wait in TCP rather than being refused.
        inbound_overflow: InboundOverflow::Backpressure,
        ..SessionConfig::default()
    };
    let mode = match config.bind {
        BindKind::Transceiver => BindMode::Transceiver,
        BindKind::Transmitter => BindMode::Transmitter,
    };
    let request = Bind {
        system_id: COctetString::from(config.system_id.as_str()),
        password: COctetString::from(config.password.as_str()),
        system_type: COctetString::from(config.system_type.as_str()),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, inbox, _) = bind(io, session_config, mode, request)
        .await
        .map_err(|source| LoadError::Bind { session: n, source })?;
    Ok((session, inbox))
}

/// Answers the server's request; a receipt is matched first (its arrival time taken before
/// anything else).
fn on_inbound(inbound: Inbound, matcher: &Matcher, counters: &Counters) {
    let arrived = Instant::now();
    let Inbound { pdu, responder } = inbound;
    match pdu.body {
        PduBody::DeliverSm(sm) => {
            responder.respond(
                PduBody::DeliverSmResp(MessageIdResp::default()),
                CommandStatus::ESME_ROK,
            );
            if !sm.esm_class.is_receipt() {
                return; // MO traffic is not ours to count.
            }
            let id = ReceiptTlvs::from_tlvs(&sm.tlvs)
                .ok()
                .and_then(|t| t.receipted_message_id)
                .or_else(|| DeliveryReceipt::parse(&sm.short_message).ok().map(|r| r.id));
            if let Some(id) = id
                && matcher.receipt(id.to_ascii_lowercase(), arrived)
            {
                counters.receipts.fetch_add(1, Ordering::Relaxed);
            }
        }
        PduBody::DataSm(_) => responder.respond(
            PduBody::DataSmResp(MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        ),
        _ => responder.respond_status(CommandStatus::ESME_RINVCMDID),
    }
}

async fn worker(
    session: Session,
    schedule: Arc<Schedule>,
    config: Arc<LoadConfig>,
    matcher: Arc<Matcher>,
    counters: Arc<Counters>,
) -> Result<WorkerResult, LoadError> {
    let mut result = WorkerResult::default();
    while !counters.stopped() {
        let Some(index) = schedule.next().await else {
            break;
        };
        let submits = message::build(&config, index)?;
        counters.messages.fetch_add(1, Ordering::Relaxed);
        for submit in submits {
            let sent = Instant::now();
            counters.submits.fetch_add(1, Ordering::Relaxed);
            let answer = session.request(PduBody::SubmitSm(submit)).await;
            let now = Instant::now();
            let failed = match answer {
                Ok(resp) => {
                    result.latencies.record(now - sent);
                    result.last_response = Some(now);
                    if resp.command_status.is_ok() {
                        counters.ok.fetch_add(1, Ordering::Relaxed);
                        if config.registered_delivery
                            && let PduBody::SubmitSmResp(r) = resp.body
                            && matcher
                                .answered(r.message_id.to_string_lossy().to_ascii_lowercase(), sent)
                        {
                            counters.receipts.fetch_add(1, Ordering::Relaxed);
                        }
                        None
                    } else {
                        Some(resp.command_status.name().to_owned())
                    }
                }
                Err(SessionError::Timeout(_)) => Some("timeout".to_owned()),
                Err(SessionError::Closed(_)) => Some("closed".to_owned()),
                Err(other) => Some(other.to_string()),
            };
            if let Some(name) = failed {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                let closed = name == "closed";
                *result.errors.entry(name).or_insert(0) += 1;
                if closed {
                    // The session is gone: this worker's remaining tickets are not taken.
                    return Ok(result);
                }
            }
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn receipts_match_before_or_after_their_response() {
        let m = Matcher::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert!(!m.answered("a".into(), t0));
        assert!(m.receipt("a".into(), t0 + ms(5)));
        // The receipt first, the response after.
        assert!(!m.receipt("b".into(), t0 + ms(3)));
        assert!(m.answered("b".into(), t0));
        // Answered, never receipted: lost.
        assert!(!m.answered("c".into(), t0));
        // A repeat and a stranger stay unmatched.
        assert!(!m.receipt("a".into(), t0 + ms(9)));
        assert!(!m.receipt("zz".into(), t0 + ms(9)));
        let mut state = m.lock();
        assert_eq!(state.matched, 2);
        assert_eq!(state.waiting.len(), 1);
        assert_eq!(state.early.len(), 2);
        assert_eq!(state.latencies.quantile(1.0), Some(ms(5)));
    }

    #[test]
    fn the_progress_line_shows_rates() {
        let before = Progress::default();
        let now = Progress {
            messages: 100,
            submits: 100,
            ok: 98,
            errors: 2,
            receipts: 90,
        };
        let line = now.line(&before, Duration::from_secs(3), Duration::from_secs(1));
        assert!(line.contains("submitted 100 (100/s)"), "{line}");
        assert!(line.contains("awaiting 8"), "{line}");
    }
}
