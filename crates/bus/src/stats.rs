//! The bus's own metrics: what this process published and consumed, and how deep the
//! streams and consumers are.
//!
//! Publish and consume outcomes are counted where they happen ([`crate::publish`],
//! [`crate::consume`]) through handles resolved once per process, so the hot path pays an
//! atomic add, not a registry lookup. Depths are not per message: [`DepthPoller`] asks the
//! server for every stream's and consumer's counts on an interval. One role polls (the
//! router; see `herald router`), so a cluster exports each depth once per router node.

use std::sync::OnceLock;
use std::time::Duration;

use async_nats::jetstream;
use futures::TryStreamExt;
use herald_telemetry::names;
use metrics::{Counter, Gauge, Histogram};

use crate::error::BusError;
use crate::topology::StreamKind;

/// Handles for the per-publish metrics.
pub(crate) struct PublishMetrics {
    pub(crate) ok: Counter,
    pub(crate) duplicate: Counter,
    pub(crate) full: Counter,
    pub(crate) error: Counter,
    pub(crate) seconds: Histogram,
    pub(crate) inflight: Gauge,
    pub(crate) batch_members: Histogram,
    /// Publishes sent again through a failover.
    pub(crate) retries: Counter,
}

/// Handles for the per-delivery outcome counters.
pub(crate) struct ConsumeMetrics {
    pub(crate) ack: Counter,
    pub(crate) nak: Counter,
    pub(crate) dead_letter: Counter,
}

/// The process's publish metric handles, resolved on first use (after the recorder is
/// installed at start-up).
pub(crate) fn publish_metrics() -> &'static PublishMetrics {
    static HANDLES: OnceLock<PublishMetrics> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let outcome =
            |status: &'static str| metrics::counter!(names::BUS_PUBLISH_TOTAL, names::labels::STATUS => status);
        PublishMetrics {
            ok: outcome("ok"),
            duplicate: outcome("duplicate"),
            full: outcome("full"),
            error: outcome("error"),
            seconds: metrics::histogram!(names::BUS_PUBLISH_SECONDS),
            inflight: metrics::gauge!(names::BUS_INFLIGHT_PUBLISHES),
            batch_members: metrics::histogram!(names::BUS_BATCH_MEMBERS),
            retries: metrics::counter!(names::BUS_PUBLISH_RETRIES_TOTAL),
        }
    })
}

/// The process's consume metric handles.
pub(crate) fn consume_metrics() -> &'static ConsumeMetrics {
    static HANDLES: OnceLock<ConsumeMetrics> = OnceLock::new();
    HANDLES.get_or_init(|| {
        let outcome =
            |status: &'static str| metrics::counter!(names::BUS_CONSUME_TOTAL, names::labels::STATUS => status);
        ConsumeMetrics {
            ack: outcome("ack"),
            nak: outcome("nak"),
            dead_letter: outcome("dead_letter"),
        }
    })
}

/// One stream's or consumer's counts, as last polled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerDepth {
    /// The stream's name (a partition's: `HERALD_MT_P1`).
    pub stream: String,
    /// The durable consumer's name.
    pub consumer: String,
    /// Messages in the stream the consumer has not been given yet.
    pub pending: u64,
    /// Messages given to it and not yet acknowledged.
    pub ack_pending: u64,
}

/// The counts of every Herald stream and its consumers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Depths {
    /// `(stream, messages stored)` for every stream, each partition on its own.
    pub streams: Vec<(String, u64)>,
    /// Every durable consumer of those streams.
    pub consumers: Vec<ConsumerDepth>,
}

impl Depths {
    /// Asks the server for the counts of every Herald stream (every partition `partitions`
    /// declares) and consumer.
    pub async fn fetch(
        jetstream: &jetstream::Context,
        partitions: crate::Partitions,
    ) -> Result<Depths, BusError> {
        let mut depths = Depths::default();
        let topology_partitions = |kind: StreamKind| {
            if kind.partitioned() {
                usize::from(partitions.declared())
            } else {
                1
            }
        };
        let names = StreamKind::ALL
            .into_iter()
            .flat_map(|kind| (0..topology_partitions(kind)).map(move |i| kind.partition_name(i)));
        for name in names {
            let stream = jetstream
                .get_stream(name.as_ref())
                .await
                .map_err(|e| BusError::Nats(Box::new(e)))?;
            // Looking the stream up fetched its info already.
            depths
                .streams
                .push((name.to_string(), stream.cached_info().state.messages));
            let consumers: Vec<_> = stream
                .consumers()
                .try_collect()
                .await
                .map_err(|e| BusError::Nats(Box::new(e)))?;
            for consumer in consumers {
                depths.consumers.push(ConsumerDepth {
                    stream: name.to_string(),
                    consumer: consumer.name,
                    pending: consumer.num_pending,
                    ack_pending: u64::try_from(consumer.num_ack_pending).unwrap_or(0),
                });
            }
        }
        Ok(depths)
    }

    /// Sets the depth gauges to these counts, and to 0 those of consumers in `previous`
    /// that are gone (deleted, or expired with their account), so no stale backlog lingers
    /// in dashboards and alerts.
    pub fn record_after(&self, previous: &Depths) {
        for gone in previous.consumers.iter().filter(|p| {
            !self
                .consumers
                .iter()
                .any(|c| c.stream == p.stream && c.consumer == p.consumer)
        }) {
            let labels = [
                (names::labels::STREAM, gone.stream.clone()),
                (names::labels::CONSUMER, gone.consumer.clone()),
            ];
            metrics::gauge!(names::BUS_CONSUMER_PENDING, &labels).set(0.0);
            metrics::gauge!(names::BUS_CONSUMER_ACK_PENDING, &labels).set(0.0);
        }
        self.record();
    }

    /// Sets the depth gauges to these counts.
    pub fn record(&self) {
        for (stream, messages) in &self.streams {
            metrics::gauge!(names::BUS_STREAM_MESSAGES, names::labels::STREAM => stream.clone())
                .set(*messages as f64);
        }
        for c in &self.consumers {
            let labels = [
                (names::labels::STREAM, c.stream.clone()),
                (names::labels::CONSUMER, c.consumer.clone()),
            ];
            metrics::gauge!(names::BUS_CONSUMER_PENDING, &labels).set(c.pending as f64);
            metrics::gauge!(names::BUS_CONSUMER_ACK_PENDING, &labels).set(c.ack_pending as f64);
        }
    }
}

/// Polls [`Depths`] every `interval` and records them, until dropped with its task.
#[derive(Debug)]
pub struct DepthPoller {
    task: tokio::task::JoinHandle<()>,
}

impl DepthPoller {
    /// Starts polling on `jetstream`, every stream `partitions` declares; a failed poll is
    /// logged and tried again next time.
    pub fn start(
        jetstream: jetstream::Context,
        partitions: crate::Partitions,
        interval: Duration,
    ) -> DepthPoller {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut previous = Depths::default();
            loop {
                tick.tick().await;
                match Depths::fetch(&jetstream, partitions).await {
                    Ok(depths) => {
                        depths.record_after(&previous);
                        previous = depths;
                    }
                    Err(error) => tracing::debug!(%error, "bus depth poll failed"),
                }
            }
        });
        DepthPoller { task }
    }
}

impl Drop for DepthPoller {
    fn drop(&mut self) {
        self.task.abort();
    }
}
