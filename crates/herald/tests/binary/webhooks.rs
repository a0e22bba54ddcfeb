//! Webhooks through `herald edge` processes: an edge SIGKILLed while its deliveries are
//! in flight loses none of them; another edge started after it delivers them (those in
//! flight after the ack wait), verified by the Standard Webhooks reference library
//! (`tests/interop/webhook_receiver.py`).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_bus::{Bus, BusConfig, Outgoing};
use herald_harness::seed;
use herald_proto::bus::v1::{Event, MessageState, Receipt, event};
use tokio::io::AsyncBufReadExt as _;

use super::{seeded, spawn_role_with};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_killed_mid_delivery_loses_no_webhook_event() {
    let (nats, etcd, client) = seeded().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/webhook_receiver.py"
    );
    let mut receiver = tokio::process::Command::new("python3")
        .args([script, SECRET])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 with standardwebhooks (scripts/install-deps.sh)");
    let mut lines = tokio::io::BufReader::new(receiver.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let port: u16 = first.strip_prefix("listening ").unwrap().parse().unwrap();
    // Webhook id → verified deliveries.
    let verified = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let unverified = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let (seen, bad) = (verified.clone(), unverified.clone());
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let record: serde_json::Value = serde_json::from_str(&line).unwrap();
            if record["verified"] == false {
                bad.lock().unwrap().push(record.clone());
            }
            if record["verified"] == true {
                let id = record["id"].as_str().unwrap().to_owned();
                *seen.lock().unwrap().entry(id).or_default() += 1;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("whsec");
    std::fs::write(&secret_file, SECRET).unwrap();
    let hooked = serde_json::json!({
        "quota": {"tps": 1000},
        "webhook": {"url": format!("http://127.0.0.1:{port}/in"),
                    "secrets": [{"file": secret_file}], "concurrency": 4, "timeout": "2s"},
    });
    seed::account(&client, "hooked", "secret", hooked).await;
    let env = [("HERALD_EDGE__WEBHOOKS__ALLOW_HTTP", "true")];
    // Only the doomed edge at first, so the deliveries in flight when it dies are its own.
    let (mut doomed, _) = spawn_role_with(
        "edge",
        "edge-doomed",
        &nats.client_url(),
        &etcd.client_url(),
        &client,
        &env,
    )
    .await;

    // A slow endpoint: each delivery takes 0.3 s, so both edges hold some in flight.
    let control = r#"{"status": null, "times": 1000, "delay": 0.3}"#;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "POST /control HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{control}",
        control.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();

    let bus = Bus::connect(BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    // A webhook gets the events published once its consumer is declared.
    let events = bus.jetstream().get_stream("HERALD_EVENTS").await.unwrap();
    herald_harness::eventually("the webhook consumer is declared", || {
        let events = events.clone();
        async move { events.consumer_info("webhook-hooked").await.is_ok() }
    })
    .await;
    const EVENTS: usize = 40;
    for i in 0..EVENTS {
        let receipt = Event {
            kind: Some(event::Kind::Receipt(Receipt {
                message_id: format!("m{i}"),
                account_id: "hooked".into(),
                state: MessageState::Delivered.into(),
                ..Receipt::default()
            })),
        };
        bus.publisher()
            .publish_acked(Outgoing::event("hooked", format!("m{i}:final"), &receipt))
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while verified.lock().unwrap().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delivery started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.start_kill().unwrap();
    let _ = doomed.wait().await;
    let at_kill = verified.lock().unwrap().len();
    eprintln!("killed an edge with {at_kill} of {EVENTS} events delivered");
    assert!(
        at_kill < EVENTS,
        "the edge delivered everything before it was killed"
    );
    let (_survivor, _) = spawn_role_with(
        "edge",
        "edge-survivor",
        &nats.client_url(),
        &etcd.client_url(),
        &client,
        &env,
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while verified.lock().unwrap().len() < EVENTS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {EVENTS} events delivered",
            verified.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = verified.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<String> = delivered.keys().cloned().collect();
    let want: std::collections::BTreeSet<String> =
        (0..EVENTS).map(|i| format!("m{i}:final")).collect();
    assert_eq!(ids, want);
    assert!(
        unverified.lock().unwrap().is_empty(),
        "{:?}",
        unverified.lock().unwrap()
    );
    let repeats: u32 = delivered.values().map(|n| n - 1).sum();
    eprintln!(
        "every event delivered; {repeats} delivered twice (the killed edge's in-flight ones, same webhook-id)"
    );
}
