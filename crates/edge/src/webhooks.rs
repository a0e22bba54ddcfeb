//! Webhooks: an account's receipts and MO pushed to its HTTP endpoint.
//!
//! Every edge (with `edge.webhooks.enabled`) runs one delivery task per account whose rules
//! have a `webhook`, all pulling the account's durable `webhook-<id>` consumer of its
//! events: any edge delivers, and a crashed edge's events reach the others after the ack
//! wait. The consumer reads the same events as the account's SMPP receivers (`account-<id>`;
//! the event stream keeps messages for every consumer), so an account with both gets each
//! event on both, and its webhook's `events` choose what the webhook gets.
//!
//! Each event is posted signed (Standard Webhooks, `herald_webhook::sign`), with the bus
//! message's dedup id as `webhook-id`, the same on every retry. The event is acked only
//! after a 2xx. Timeouts, connection failures, 408, 429 and 5xx are retried from this edge
//! with a growing pause (1 s doubling to 5 min, or the endpoint's `Retry-After` if
//! longer), the delivery kept alive meanwhile, until the webhook's `retry_for` has passed
//! since the event was published; then it is dead-lettered. Any other answer is
//! dead-lettered at once with the status and the start of the body. Retrying in place
//! rather than through the bus keeps a batch's other members, and the account's SMPP
//! consumer, from seeing the event again. An endpoint that keeps failing holds at most
//! `concurrency` events in retry and nothing more is pulled for it: it is probed, not
//! hammered. Each edge posts through `concurrency` lanes, each one event at a time on its
//! own connection, and every event of one message goes to the same lane: on an edge, no
//! event overtakes an earlier one of its message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use herald_bus::batch::PRIOR_DELIVERIES_HEADER;
use herald_bus::{ConsumerSpec, Delivery, StreamKind, subject};
use herald_proto::bus::v1::Event;
use herald_rules::model::{Webhook, WebhookEvent};
use herald_telemetry::names;
use herald_webhook::event::{self, Kind};
use herald_webhook::{Connection, Endpoint, Outcome, Secret, Signer};
use tokio::task::JoinHandle;

use crate::server::Shared;

/// How long the bus waits for a webhook delivery's ack before giving it to another edge:
/// two attempts' timeouts and a margin, since nothing keeps the delivery alive during an
/// attempt; between attempts it is kept alive every third of it.
fn ack_wait(webhook: &Webhook) -> Duration {
    webhook.timeout * 2 + Duration::from_secs(5)
}
/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(300);

/// Keeps one delivery task per account with a webhook, following the rules: a task is
/// started for a new webhook, restarted when its webhook changes, stopped when it goes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut changes = shared.rules.changes();
    // Aborted when dropped, so the account tasks stop with this one.
    let mut tasks: HashMap<String, (Webhook, AbortOnDrop)> = HashMap::new();
    loop {
        let wanted: HashMap<String, Webhook> = {
            let snapshot = shared.rules.load();
            snapshot
                .accounts()
                .filter(|a| a.enabled)
                .filter_map(|a| Some((a.id.clone(), a.webhook.clone()?)))
                .collect()
        };
        tasks.retain(|account, (webhook, _)| wanted.get(account) == Some(webhook));
        for (account, webhook) in wanted {
            if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(account) {
                let task =
                    tokio::spawn(deliver(shared.clone(), slot.key().clone(), webhook.clone()));
                slot.insert((webhook, AbortOnDrop(task)));
            }
        }
        if changes.changed().await.is_err() {
            break;
        }
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What every delivery of one account's webhook uses.
struct Target {
    account: String,
    endpoint: Endpoint,
    signer: Signer,
    events: Vec<WebhookEvent>,
    retry_for: Duration,
    ack_wait: Duration,
    /// The webhook's `rate`, cluster-wide, and the counters it is shared through.
    rate: Option<(crate::quota::ClusterQuota, Option<herald_bus::RateCounters>)>,
}

/// Delivers `account`'s events to `webhook` until aborted.
async fn deliver(shared: Arc<Shared>, account: String, webhook: Webhook) {
    let target = match target(&shared, &account, &webhook) {
        Ok(target) => Arc::new(target),
        Err(error) => {
            // Nothing is pulled: the events wait on the bus until the rules or the
            // secrets are fixed (the task restarts when the rules change).
            tracing::error!(%account, %error, "webhook not delivered");
            count(&account, "misconfigured");
            return;
        }
    };
    let spec = ConsumerSpec {
        ack_wait: ack_wait(&webhook),
        max_ack_pending: i64::from(webhook.concurrency),
        max_deliveries: 100,
        // A webhook gets the events from when it was added, not the account's history.
        only_new: true,
        ..ConsumerSpec::new(
            StreamKind::Events,
            format!("webhook-{account}"),
            subject::events_of(&account),
        )
    };
    // One lane per event in flight, each with its connection, posting in order: every
    // event of one message goes to the same lane, so none overtakes an earlier one.
    let concurrency = usize::try_from(webhook.concurrency.max(1)).unwrap_or(1);
    let mut lane_tasks = tokio::task::JoinSet::new();
    let lanes: Arc<Lanes> = Arc::new(Lanes {
        lanes: (0..concurrency).map(|_| Lane::default()).collect(),
        owners: std::sync::Mutex::new(HashMap::new()),
    });
    for index in 0..concurrency {
        lane_tasks.spawn(run_lane(target.clone(), lanes.clone(), index));
    }
    // Everything pulled and not yet posted is kept alive, queued or not.
    lane_tasks.spawn(keep_queued_alive(lanes.clone(), target.ack_wait));
    let mut backoff =
        herald_backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        let pulled = match shared.bus.consumer(spec.clone()).await {
            Ok(consumer) => consumer.messages(concurrency).await,
            Err(error) => Err(error),
        };
        let mut deliveries = match pulled {
            Ok(deliveries) => deliveries,
            Err(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(%account, %error, retry_in = ?delay, "cannot pull webhook events");
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        backoff.reset();
        while let Some(next) = deliveries.next().await {
            let delivery = match next {
                Ok(delivery) => delivery,
                Err(error) => {
                    tracing::debug!(%account, %error, "webhook pull interrupted");
                    continue;
                }
            };
            // A copy the account's SMPP delivery republished to retry it there (a batch
            // member it could not deliver yet): this consumer had the event already.
            if delivery.header(PRIOR_DELIVERIES_HEADER).is_some() {
                herald_bus::consume::settle_logged(delivery.ack().await);
                continue;
            }
            let event = delivery.decode::<Event>();
            let key = event
                .as_ref()
                .ok()
                .and_then(ordering_key)
                .map(str::to_owned);
            lanes.enqueue(key, (delivery, event)).await;
        }
    }
}

/// The message an event is about: its receipt's message id, or the MO's id.
fn ordering_key(event: &Event) -> Option<&str> {
    match event.kind.as_ref()? {
        herald_proto::bus::v1::event::Kind::Receipt(receipt) => Some(&receipt.message_id),
        herald_proto::bus::v1::event::Kind::Mo(mo) => Some(&mo.id),
    }
}

/// An event pulled and not yet posted, with what decoding it gave.
type Queued = (Delivery, Result<Event, herald_bus::BusError>);

/// One lane's events, in the order they were pulled, and how many it holds (queued, and
/// the one being posted).
#[derive(Default)]
struct Lane {
    queue: tokio::sync::Mutex<std::collections::VecDeque<(Option<String>, Queued)>>,
    ready: tokio::sync::Notify,
    load: std::sync::atomic::AtomicUsize,
}

/// The lanes of one webhook, and which lane holds events of which message.
struct Lanes {
    lanes: Vec<Lane>,
    /// Message → (its lane, its events there): while a message has events in a lane, its
    /// next ones go there too, behind them; otherwise to the least loaded lane, so one
    /// event stuck in retry holds up only the events of its own message.
    owners: std::sync::Mutex<HashMap<String, (usize, usize)>>,
}

impl Lanes {
    async fn enqueue(&self, key: Option<String>, queued: Queued) {
        let least_loaded = || {
            self.lanes
                .iter()
                .enumerate()
                .min_by_key(|(_, l)| l.load.load(std::sync::atomic::Ordering::Relaxed))
                .map_or(0, |(i, _)| i)
        };
        let index = match &key {
            Some(key) => {
                let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
                let (index, count) = owners.entry(key.clone()).or_insert((least_loaded(), 0));
                *count += 1;
                *index
            }
            None => least_loaded(),
        };
        let Some(lane) = self.lanes.get(index) else {
            return;
        };
        lane.load.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lane.queue.lock().await.push_back((key, queued));
        lane.ready.notify_one();
    }

    /// One event of `key` is done in lane `index`.
    fn done(&self, index: usize, key: Option<&str>) {
        if let Some(lane) = self.lanes.get(index) {
            lane.load.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(key) = key {
            let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, count)) = owners.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    owners.remove(key);
                }
            }
        }
    }
}

/// Posts lane `index`'s events one after the other, on one connection.
async fn run_lane(target: Arc<Target>, lanes: Arc<Lanes>, index: usize) {
    let Some(lane) = lanes.lanes.get(index) else {
        return;
    };
    let mut connection = None;
    loop {
        let next = lane.queue.lock().await.pop_front();
        match next {
            Some((key, (delivery, event))) => {
                deliver_one(&target, delivery, event, &mut connection).await;
                lanes.done(index, key.as_deref());
            }
            None => lane.ready.notified().await,
        }
    }
}

/// Marks every queued event in progress every third of the ack wait, so none is
/// redelivered elsewhere while it waits its turn (the one being posted keeps itself alive
/// between attempts).
async fn keep_queued_alive(lanes: Arc<Lanes>, ack_wait: Duration) {
    let mut tick = tokio::time::interval((ack_wait / 3).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for lane in &lanes.lanes {
            // A batch's members share its ack wait: one in-progress each.
            let mut kept = std::collections::HashSet::new();
            for (_, (delivery, _)) in lane.queue.lock().await.iter() {
                if !delivery.is_batch_member() || kept.insert(delivery.stream_sequence()) {
                    herald_bus::consume::settle_logged(delivery.in_progress().await);
                }
            }
        }
    }
}

fn target(shared: &Shared, account: &str, webhook: &Webhook) -> Result<Target, String> {
    let headers = webhook
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let endpoint = Endpoint::new(
        &webhook.url,
        shared.config.webhooks.allow_http,
        headers,
        webhook.timeout,
        None,
    )
    .map_err(|e| e.to_string())?;
    let mut secrets = Vec::new();
    for reference in &webhook.secrets {
        let text = reference.resolve().map_err(|e| e.to_string())?;
        secrets.push(Secret::parse(&text).map_err(|e| format!("{reference:?}: {e}"))?);
    }
    let signer = Signer::new(secrets).ok_or("no secret")?;
    Ok(Target {
        account: account.to_owned(),
        endpoint,
        signer,
        events: webhook.events.clone(),
        retry_for: webhook.retry_for,
        ack_wait: ack_wait(webhook),
        rate: webhook.rate.map(|per_second| {
            (
                crate::quota::ClusterQuota::webhook(account, per_second),
                shared.live_rate_counters().cloned(),
            )
        }),
    })
}

async fn deliver_one(
    target: &Target,
    delivery: Delivery,
    event: Result<Event, herald_bus::BusError>,
    connection: &mut Option<Connection>,
) {
    let event = match event {
        Ok(event) => event,
        Err(error) => {
            settle(
                delivery
                    .dead_letter(&format!("undecodable event: {error}"))
                    .await,
            );
            return;
        }
    };
    let id = delivery
        .header(herald_bus::publish::MESSAGE_ID_HEADER)
        .map_or_else(
            || format!("seq-{}", delivery.stream_sequence()),
            str::to_owned,
        );
    let Some((kind, body)) = event::body(&id, &event) else {
        settle(delivery.ack().await);
        return;
    };
    let wanted = match kind {
        Kind::Receipt => WebhookEvent::Receipt,
        Kind::Mo => WebhookEvent::Mo,
    };
    if !target.events.contains(&wanted) {
        settle(delivery.ack().await);
        return;
    }
    let body = Bytes::from(body);
    let published = delivery.published().unwrap_or_else(SystemTime::now);
    let mut pauses = herald_backoff::Backoff::new(FIRST_PAUSE, MAX_PAUSE);
    loop {
        if let Some((rate, counters)) = &target.rate {
            // Over the webhook's rate: wait for the next second's tokens.
            while !rate.try_acquire(counters.as_ref(), SystemTime::now()).await {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let now = SystemTime::now();
        let timestamp = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let headers = target.signer.headers(&id, timestamp, &body);
        let started = std::time::Instant::now();
        let outcome = target
            .endpoint
            .post(connection, &headers, body.clone())
            .await;
        metrics::histogram!(names::EDGE_WEBHOOK_SECONDS, names::labels::ACCOUNT => target.account.clone())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Outcome::Delivered(_) => {
                count(&target.account, "delivered");
                settle(delivery.ack().await);
                return;
            }
            Outcome::Refused { status, body } => {
                count(&target.account, "refused");
                tracing::warn!(account = %target.account, %id, status, "webhook refused; dead-lettered");
                settle(
                    delivery
                        .dead_letter(&format!("webhook answered {status}: {body}"))
                        .await,
                );
                return;
            }
            Outcome::Retry {
                status,
                reason,
                after,
            } => {
                let waited = now.duration_since(published).unwrap_or_default();
                if waited >= target.retry_for {
                    count(&target.account, "expired");
                    settle(
                        delivery
                            .dead_letter(&format!(
                                "webhook still failing after {:?} ({reason})",
                                target.retry_for
                            ))
                            .await,
                    );
                    return;
                }
                count(&target.account, "retried");
                tracing::debug!(account = %target.account, %id, status, %reason, "webhook attempt failed");
                // Doubling, with jitter, so endpoints that failed together are not all
                // tried again in the same instant.
                let pause = pauses.next_delay();
                let wait = after.map_or(pause, |a| a.max(pause)).min(MAX_PAUSE);
                keep_alive_for(&delivery, wait, target.ack_wait).await;
            }
        }
    }
}

/// Waits `wait`, telling the bus the delivery (its ack wait `ack_wait`) is still being
/// worked on.
async fn keep_alive_for(delivery: &Delivery, wait: Duration, ack_wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(ack_wait / 3)).await;
        if let Err(error) = delivery.in_progress().await {
            tracing::debug!(%error, "could not keep a webhook event alive");
        }
    }
}

fn count(account: &str, outcome: &'static str) {
    metrics::counter!(
        names::EDGE_WEBHOOK_DELIVERIES_TOTAL,
        names::labels::ACCOUNT => account.to_owned(),
        names::labels::STATUS => outcome
    )
    .increment(1);
}

fn settle(result: Result<(), herald_bus::BusError>) {
    herald_bus::consume::settle_logged(result);
}
