//! Bus throughput: publishing and consuming through `herald-bus` against raw `async-nats`
//! in the same run, on a real `nats-server` (JetStream, file store, R1) started on
//! loopback.
//!
//! `cargo bench -p herald-benches --bench bus` prints, for each side, the median of five
//! runs of 100,000 envelopes:
//! - publish: 1,024 publishes awaiting acks, each with a dedup id;
//! - consume: pull in batches of 256, ack each.
//!
//! The Herald side publishes as a role does, encoding the protobuf envelope and setting
//! its headers; the raw side sends pre-encoded bytes. Consuming is measured like for like
//! (pull and ack), then once more with the envelope decoded, to show what a role pays
//! for protobuf on top.
//! Run without `--bench` (as the test runner does) it only lists nothing and exits.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]

use std::time::Instant;

use async_nats::jetstream::{self, consumer::pull};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use herald_bus::{Bus, BusConfig, ConsumerSpec, Outgoing, StreamKind};
use herald_proto::bus::v1::{Address, MtMessage};

const MESSAGES: usize = 100_000;
const IN_FLIGHT: usize = 1024;
const BATCH: usize = 256;
const RUNS: usize = 5;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn envelope(i: usize) -> MtMessage {
    MtMessage {
        id: format!("0196f3a2c4e07a1b{i:08x}"),
        account_id: "acme".into(),
        source: Some(Address {
            addr: "Herald".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(Address {
            addr: "447700900001".into(),
            ton: 1,
            npi: 1,
        }),
        data_coding: 0,
        registered_delivery: 1,
        payload: vec![b'x'; 160],
        accepted_unix_ms: 1_764_115_200_000,
        edge_node: "edge-0".into(),
        ..Default::default()
    }
}

async fn run() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let envelopes: Vec<MtMessage> = (0..MESSAGES).map(envelope).collect();
    let encoded: Vec<(String, Bytes)> = envelopes
        .iter()
        .map(|m| (m.id.clone(), herald_bus::publish::encode(m)))
        .collect();
    println!(
        "bus: {MESSAGES} envelopes of {} bytes, {IN_FLIGHT} in flight, pull batch {BATCH}, \
         median of {RUNS} runs",
        encoded[0].1.len()
    );

    let mut raw_pub = Vec::new();
    let mut herald_pub = Vec::new();
    let mut raw_sub = Vec::new();
    let mut herald_sub = Vec::new();
    let mut herald_decode = Vec::new();
    for run in 0..RUNS {
        // Alternate who goes first so neither side always meets a warmer server.
        let raw_first = run % 2 == 0;
        for side in [raw_first, !raw_first] {
            let prefix = format!("r{run}{}", if side { "raw" } else { "herald" });
            if side {
                raw_pub.push(publish_raw(bus.jetstream(), &encoded, &prefix).await);
                raw_sub.push(consume_raw(bus.jetstream()).await);
            } else {
                herald_pub.push(publish_herald(&bus, &envelopes, &prefix).await);
                herald_sub.push(consume_herald(&bus, false).await);
                publish_herald(&bus, &envelopes, &format!("{prefix}d")).await;
                herald_decode.push(consume_herald(&bus, true).await);
            }
        }
    }
    report("publish", &mut raw_pub, &mut herald_pub);
    report("consume+ack", &mut raw_sub, &mut herald_sub);
    report("+decode", &mut raw_sub, &mut herald_decode);
}

fn report(what: &str, raw: &mut [f64], herald: &mut [f64]) {
    let (raw, herald) = (median(raw), median(herald));
    println!(
        "{what:>12}: raw async-nats {raw:>9.0} msg/s   herald-bus {herald:>9.0} msg/s   \
         ratio {:.0}%",
        herald / raw * 100.0
    );
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn rate(started: Instant) -> f64 {
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

async fn publish_raw(js: &jetstream::Context, encoded: &[(String, Bytes)], prefix: &str) -> f64 {
    let ids: Vec<String> = encoded
        .iter()
        .map(|(id, _)| format!("{prefix}{id}"))
        .collect();
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    for ((_, payload), id) in encoded.iter().zip(ids) {
        if pending.len() >= IN_FLIGHT {
            let ack: Result<_, _> = pending.next().await.unwrap();
            ack.unwrap();
        }
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.clone())
            .message_id(id);
        pending.push(
            js.send_publish("herald.mt.acme", publish)
                .await
                .unwrap()
                .into_future(),
        );
    }
    while let Some(ack) = pending.next().await {
        ack.unwrap();
    }
    rate(started)
}

async fn publish_herald(bus: &Bus, envelopes: &[MtMessage], prefix: &str) -> f64 {
    let envelopes: Vec<MtMessage> = envelopes
        .iter()
        .map(|mt| MtMessage {
            id: format!("{prefix}{}", mt.id),
            ..mt.clone()
        })
        .collect();
    let publisher = bus.publisher();
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    for mt in &envelopes {
        if pending.len() >= IN_FLIGHT {
            let ack: Result<_, _> = pending.next().await.unwrap();
            ack.unwrap();
        }
        pending.push(
            publisher
                .publish(Outgoing::accepted(mt))
                .await
                .unwrap()
                .into_future(),
        );
    }
    while let Some(ack) = pending.next().await {
        ack.unwrap();
    }
    rate(started)
}

async fn consume_raw(js: &jetstream::Context) -> f64 {
    let stream = js.get_stream(StreamKind::Mt.name()).await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-raw".into()),
            filter_subject: "herald.mt.>".into(),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .messages()
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..MESSAGES {
        let message = messages.next().await.unwrap().unwrap();
        message.ack().await.unwrap();
    }
    let rate = rate(started);
    drop(messages);
    stream.delete_consumer("bench-raw").await.unwrap();
    rate
}

async fn consume_herald(bus: &Bus, decode: bool) -> f64 {
    let consumer = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let mut deliveries = consumer.messages(BATCH).await.unwrap();
    let started = Instant::now();
    for _ in 0..MESSAGES {
        let delivery = deliveries.next().await.unwrap().unwrap();
        if decode {
            let mt: MtMessage = delivery.decode().unwrap();
            std::hint::black_box(&mt);
        } else {
            std::hint::black_box(delivery.payload());
        }
        delivery.ack().await.unwrap();
    }
    let rate = rate(started);
    // A work queue allows one consumer per subject: make room for the raw side's.
    drop(deliveries);
    let stream = bus
        .jetstream()
        .get_stream(StreamKind::Mt.name())
        .await
        .unwrap();
    stream
        .delete_consumer(&consumer.spec().durable)
        .await
        .unwrap();
    rate
}
