//! What the bus counts of its own operations, against a real `nats-server`: each KV
//! operation by bucket and kind (`herald_bus_kv_operations_total`) and the NATS client's
//! messages (`herald_bus_client_messages_total`), the inputs of the cluster benchmark's
//! operations per message. A binary of its own: the metrics recorder is per process.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use herald_bus::kv::Stage;
use herald_bus::{Bus, BusConfig};
use herald_proto::bus::v1::{CarrierIdMapping, MessageStatus};

/// The value of the sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn every_kv_operation_and_client_message_is_counted() {
    let metrics = herald_telemetry::install_metrics().unwrap();
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let status = bus.status_store().await.unwrap();
    let record = |stage: Stage| MessageStatus {
        message_id: "m1".into(),
        stage: stage.as_str().into(),
        ..MessageStatus::default()
    };
    // A first status is created; the submitted one written unanswered; a final one put.
    assert!(status.advance(&record(Stage::Accepted)).await.unwrap());
    status
        .put_unconfirmed(&record(Stage::Submitted))
        .await
        .unwrap();
    bus.flush().await.unwrap();
    assert!(status.advance(&record(Stage::Final)).await.unwrap());
    assert!(status.get("m1").await.unwrap().is_some());
    let ids = bus.carrier_id_map().await.unwrap();
    ids.insert(
        "sim",
        "c1",
        &CarrierIdMapping {
            message_id: "m1".into(),
            ..CarrierIdMapping::default()
        },
    )
    .await
    .unwrap();
    bus.record_client_statistics();

    let text = metrics.render();
    let kv = |bucket: &str, op: &str| {
        sample(
            &text,
            "herald_bus_kv_operations_total",
            &[&format!("bucket=\"{bucket}\""), &format!("op=\"{op}\"")],
        )
    };
    assert_eq!(kv("herald_status", "create"), Some(1.0), "{text}");
    assert_eq!(kv("herald_status", "put_unanswered"), Some(1.0), "{text}");
    assert_eq!(kv("herald_status", "put"), Some(1.0), "{text}");
    assert_eq!(kv("herald_status", "get"), Some(1.0), "{text}");
    assert_eq!(kv("herald_carrier_ids", "put"), Some(1.0), "{text}");
    // Five KV writes and reads at least, and declaring the topology before them.
    let sent = sample(&text, "herald_bus_client_messages_total", &["op=\"out\""]).unwrap();
    assert!(sent >= 5.0, "{text}");
    let received = sample(&text, "herald_bus_client_messages_total", &["op=\"in\""]).unwrap();
    assert!(
        received >= 4.0,
        "every answered operation had an answer: {text}"
    );
}
