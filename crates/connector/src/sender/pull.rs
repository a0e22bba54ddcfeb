//! Fetching one carrier's queue (its bulk or its urgent lane) for its sender: a task that
//! pulls from the lane's durable consumer only when asked, and only as many as asked.
//!
//! The sender asks for what its windows can take now ([`Puller::request`]), so every
//! message this connector holds is either being submitted or in its `ready` queue; a
//! continuous pull would prefetch into a client buffer, where messages wait unseen while
//! a carrier throttles and are redelivered to another connector: duplicates to the
//! handset. A bus message may be a batch of many; [`Puller::observe`] keeps the estimate
//! of members per bus message that sizes a request.

use std::sync::Arc;
use std::time::Duration;

use herald_backoff::Backoff;
use herald_bus::{ConsumerSpec, Delivery};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connector::Shared;

/// The puller and the channel it fills.
///
/// It pulls only on request, and only as many as asked: the sender asks for what its
/// windows can take now, so every message it holds is either being submitted or in its
/// `ready` queue (where the keepalive keeps its ack wait from running out). A continuous
/// pull would prefetch into a client buffer, where messages wait unseen while a carrier
/// throttles and are redelivered to another connector: duplicates to the handset.
pub(super) struct Puller {
    task: JoinHandle<()>,
    /// How many messages to pull next; one request is outstanding at a time. `None` once
    /// stopping: the task ends after the request under way.
    requests: Option<mpsc::UnboundedSender<usize>>,
    pulled: mpsc::UnboundedReceiver<Pulled>,
    /// A request was sent and its [`Pulled::Done`] has not come back.
    outstanding: bool,
    /// The most one request asks for.
    batch: usize,
    /// Messages and bus messages pulled lately (decayed): a bus message may be a batch of
    /// many, and a request counts bus messages, so it asks for `want / members-per-message`.
    recent_members: f64,
    recent_bus_messages: f64,
}

/// What the puller hands the sender.
#[allow(
    clippy::large_enum_variant,
    reason = "moved once per message through a channel; boxing would allocate per message"
)]
pub(super) enum Pulled {
    /// A message from the carrier's queue.
    Message(Delivery),
    /// The request is over: the next may be sent.
    Done,
}

impl Puller {
    /// Starts the puller of `carrier`'s urgent or bulk queue, asking for at most `batch`
    /// at a time.
    pub(super) fn start(
        shared: Arc<Shared>,
        carrier: String,
        urgent: bool,
        batch: usize,
    ) -> Puller {
        let (requests, requested) = mpsc::unbounded_channel();
        let (tx, pulled) = mpsc::unbounded_channel();
        let spec = ConsumerSpec {
            ack_wait: shared.config.ack_wait,
            max_deliveries: shared.config.max_deliveries,
            ..if urgent {
                ConsumerSpec::urgent_carrier(&carrier)
            } else {
                ConsumerSpec::carrier(&carrier)
            }
        };
        let task = tokio::spawn(pull(shared, carrier, spec, requested, tx));
        Puller {
            task,
            requests: Some(requests),
            pulled,
            outstanding: false,
            batch,
            recent_members: 0.0,
            recent_bus_messages: 0.0,
        }
    }

    /// Asks for at most `batch` at a time from now on (the windows changed).
    pub(super) fn set_batch(&mut self, batch: usize) {
        self.batch = batch;
    }

    /// The request under way is over: the next may be made.
    pub(super) fn done(&mut self) {
        self.outstanding = false;
    }

    /// Asks for up to `want` more messages, unless a request is outstanding or `want` is
    /// too small to be worth a request while `ready` still has work (`queued`).
    pub(super) fn request(&mut self, want: usize, queued: usize) {
        let worth_it = want >= (self.batch / 8).max(1) || queued == 0;
        if self.outstanding || want == 0 || !worth_it {
            return;
        }
        let per_bus_message = if self.recent_bus_messages > 0.0 {
            (self.recent_members / self.recent_bus_messages).max(1.0)
        } else {
            1.0
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a small positive count"
        )]
        let bus_messages = ((want.min(self.batch) as f64) / per_bus_message).ceil() as usize;
        if let Some(requests) = &self.requests
            && requests.send(bus_messages.max(1)).is_ok()
        {
            self.outstanding = true;
        }
    }

    /// Notes a delivery that came in a bus message of `batch_len` messages.
    pub(super) fn observe(&mut self, batch_len: usize) {
        #[allow(clippy::cast_precision_loss, reason = "a small positive count")]
        let share = 1.0 / batch_len.max(1) as f64;
        self.recent_members += 1.0;
        self.recent_bus_messages += share;
        // Forget slowly, so the estimate follows the batches as load changes.
        if self.recent_members > 4096.0 {
            self.recent_members /= 2.0;
            self.recent_bus_messages /= 2.0;
        }
    }

    /// Stops pulling: no new request is made, and what the request under way brings
    /// (until it ends, at most [`PULL_EXPIRES`] and a little) goes back to the bus at once,
    /// like anything pulled and not taken.
    pub(super) async fn stop(mut self) {
        self.requests = None;
        // Ends when the task has finished and dropped its sender.
        while let Some(pulled) = self.pulled.recv().await {
            if let Pulled::Message(delivery) = pulled {
                herald_bus::consume::settle_logged(delivery.retry_after(Duration::ZERO).await);
            }
        }
        if let Err(error) = (&mut self.task).await
            && error.is_panic()
        {
            tracing::error!(%error, "the puller panicked");
        }
    }
}

impl Drop for Puller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The next thing the puller hands over; never, when there is no puller.
pub(super) async fn recv(puller: &mut Option<Puller>) -> Option<Pulled> {
    match puller {
        Some(p) => p.pulled.recv().await,
        None => std::future::pending().await,
    }
}

/// How long one pull request waits for messages when the queue is empty.
const PULL_EXPIRES: Duration = Duration::from_secs(1);

/// How long past [`PULL_EXPIRES`] a request may take before it is given up on: the
/// server's end-of-request answer can be lost with the connection.
const PULL_GRACE: Duration = Duration::from_millis(500);

/// Serves the sender's pull requests from the carrier's durable consumer, each answered
/// with the messages pulled and then [`Pulled::Done`], until the sender stops asking.
/// A failed request (NATS away, the consumer gone, a leader change) is logged, the
/// consumer looked up afresh, and the next one waits out a growing backoff.
async fn pull(
    shared: Arc<Shared>,
    carrier: String,
    spec: ConsumerSpec,
    mut requests: mpsc::UnboundedReceiver<usize>,
    tx: mpsc::UnboundedSender<Pulled>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut consumer = None;
    while let Some(want) = requests.recv().await {
        match pull_once(&shared, &spec, &mut consumer, want, &tx).await {
            Ok(()) => backoff.reset(),
            Err(error) => {
                tracing::warn!(%carrier, %error, "pulling the carrier queue failed; retrying");
                consumer = None;
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
        if tx.send(Pulled::Done).is_err() {
            return;
        }
    }
}

/// One pull request of up to `want` messages into `tx`, through `consumer` (looked up
/// first when `None`). Everything pulled goes to `tx`, even when the sender is stopping:
/// it hands back what it will not send.
async fn pull_once(
    shared: &Shared,
    spec: &ConsumerSpec,
    consumer: &mut Option<herald_bus::WorkConsumer>,
    want: usize,
    tx: &mpsc::UnboundedSender<Pulled>,
) -> Result<(), herald_bus::BusError> {
    let failed = |reason: &str| herald_bus::BusError::Consume {
        consumer: spec.durable.clone(),
        action: "pull",
        source: reason.into(),
    };
    // A request made while disconnected would wait in the client and be replayed later.
    if !shared.bus.is_connected() {
        return Err(failed("not connected to NATS"));
    }
    let consumer = match consumer {
        Some(consumer) => consumer,
        None => consumer.insert(shared.bus.consumer(spec.clone()).await?),
    };
    let mut deliveries = consumer.pull(want, PULL_EXPIRES).await?;
    let deadline = Instant::now() + PULL_EXPIRES + PULL_GRACE;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, deliveries.next()).await else {
            return Err(failed("the pull request was not answered"));
        };
        match next {
            Some(Ok(delivery)) => {
                if let Err(mpsc::error::SendError(Pulled::Message(delivery))) =
                    tx.send(Pulled::Message(delivery))
                {
                    // The sender is gone altogether (not stopping): back to the bus.
                    herald_bus::consume::settle_logged(delivery.retry_after(Duration::ZERO).await);
                }
            }
            // A one-shot pull ends at its first error (the server refused or cut it).
            Some(Err(error)) => return Err(error),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[tokio::test]
    async fn the_puller_asks_for_what_the_windows_take_once_at_a_time() {
        let (requests, mut requested) = mpsc::unbounded_channel();
        let (_tx, pulled) = mpsc::unbounded_channel();
        let mut puller = Puller {
            task: tokio::spawn(async {}),
            requests: Some(requests),
            pulled,
            outstanding: false,
            batch: 100,
            recent_members: 0.0,
            recent_bus_messages: 0.0,
        };
        // Too small to be worth a request while work is queued.
        puller.request(5, 10);
        assert!(requested.try_recv().is_err());
        puller.request(40, 10);
        assert_eq!(requested.try_recv().unwrap(), 40);
        // One request at a time.
        puller.request(40, 0);
        assert!(requested.try_recv().is_err());
        // Batches of 16 members seen: the batch of 100 members is 7 bus messages.
        puller.outstanding = false;
        for _ in 0..32 {
            puller.observe(16);
        }
        puller.request(500, 0);
        assert_eq!(requested.try_recv().unwrap(), 7);
    }
}
