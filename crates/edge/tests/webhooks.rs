//! Webhooks against real NATS and etcd and a receiver that verifies every delivery with
//! the Standard Webhooks reference library (`tests/interop/webhook_receiver.py`, PyPI
//! `standardwebhooks`): receipts and MO of an account reach its endpoint signed, a failing
//! endpoint gets the event again until it answers, and a refusal is dead-lettered.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_bus::consume::DLQ_REASON_HEADER;
use herald_bus::{Outgoing, StreamKind};
use herald_config::{EdgeConfig, EdgeWebhooksConfig};
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Backing, eventually_sync, seed};
use herald_proto::bus::v1::{Address, Event, MessageState, MoMessage, Receipt, event};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

/// The secret the account's webhook signs with (24 key bytes), written to a file.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The receiver process and every line it printed.
struct Receiver {
    _child: tokio::process::Child,
    port: u16,
    lines: Arc<Mutex<Vec<Value>>>,
    /// When each verified delivery's line was read.
    arrivals: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl Receiver {
    async fn start(secrets: &[&str]) -> Receiver {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/interop/webhook_receiver.py"
        );
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .args(secrets)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with standardwebhooks (scripts/install-deps.sh)");
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = out.next_line().await.unwrap().expect("the receiver's port");
        let port = first.strip_prefix("listening ").unwrap().parse().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (kept, times) = (lines.clone(), arrivals.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                let value: Value = serde_json::from_str(&line).unwrap();
                if value["verified"] == true {
                    times.lock().unwrap().push(std::time::Instant::now());
                }
                kept.lock().unwrap().push(value);
            }
        });
        Receiver {
            _child: child,
            port,
            lines,
            arrivals,
        }
    }

    fn verified_ids(&self) -> BTreeSet<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["verified"] == true)
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn line_of(&self, id: &str) -> Option<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .find(|l| l["verified"] == true && l["id"] == id)
            .cloned()
    }

    fn answered(&self, id: &str) -> Vec<u64> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l["id"] == id)
            .filter_map(|l| l["answered"].as_u64())
            .collect()
    }

    async fn control(&self, plan: Value) {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let body = plan.to_string();
        let request = format!(
            "POST /control HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        let mut answer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
            .await
            .unwrap();
        assert!(answer.starts_with(b"HTTP/1.0 204") || answer.starts_with(b"HTTP/1.1 204"));
    }
}

fn receipt(id: &str, state: MessageState) -> Event {
    Event {
        kind: Some(event::Kind::Receipt(Receipt {
            message_id: id.into(),
            account_id: "hooked".into(),
            state: state.into(),
            destination: Some(Address {
                addr: "447700900123".into(),
                ton: 1,
                npi: 1,
            }),
            done_unix_ms: 1_764_115_200_000,
            ..Receipt::default()
        })),
    }
}

/// What most tests here start from: NATS and etcd, a bus client, a receiver verifying
/// with [`SECRET`], and the secret in a file (`contents` as written, to show trailing
/// newlines are trimmed).
struct World {
    backing: Backing,
    bus: herald_bus::Bus,
    receiver: Receiver,
    secret_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start(contents: &str) -> World {
        let backing = Backing::start().await;
        let bus = backing.bus().await;
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("whsec");
        std::fs::write(&secret_file, contents).unwrap();
        let receiver = Receiver::start(&[SECRET]).await;
        World {
            backing,
            bus,
            receiver,
            secret_file,
            _dir: dir,
        }
    }
}

/// The account `hooked` with `webhook` (its URL the receiver's) and an edge delivering its
/// webhook, once its consumer is declared; the delivery stops when the handle is dropped.
async fn delivering_edge(
    backing: &Backing,
    bus: &herald_bus::Bus,
    receiver: &Receiver,
    mut webhook: Value,
) -> AbortOnDrop {
    webhook["url"] = json!(format!("http://127.0.0.1:{}/herald", receiver.port));
    let hooked = json!({"quota": {"tps": 100}, "webhook": webhook});
    seed::account(&backing.rules, "hooked", "secret", hooked).await;
    let edge = Edge::new(
        EdgeConfig {
            webhooks: EdgeWebhooksConfig {
                enabled: true,
                allow_http: true,
            },
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus: bus.clone(),
            rules: backing.rules_store().await,
            node_id: "edge-webhooks".into(),
            session_slots: None,
            route_time_zone: herald_rules::model::UtcOffset::UTC,
        },
    )
    .await
    .unwrap();
    let delivering = AbortOnDrop(edge.deliver_webhooks());
    webhook_consumer_ready(bus).await;
    delivering
}

/// A task aborted when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits until the edge has declared the account's webhook consumer: a webhook gets the
/// events published from then on.
async fn webhook_consumer_ready(bus: &herald_bus::Bus) {
    let stream = bus
        .jetstream()
        .get_stream(StreamKind::Events.name())
        .await
        .unwrap();
    herald_harness::eventually("the webhook consumer is declared", || {
        let stream = stream.clone();
        async move { stream.consumer_info("webhook-hooked").await.is_ok() }
    })
    .await;
}

async fn publish(backing_bus: &herald_bus::Bus, id: &str, event: &Event) {
    backing_bus
        .publisher()
        .publish_acked(Outgoing::event("hooked", id, event))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_mo_reach_the_endpoint_signed_retried_until_taken_and_refusals_dead_lettered()
{
    let World {
        backing,
        bus,
        receiver,
        secret_file,
        _dir,
    } = World::start(&format!("{SECRET}\n")).await;
    let _delivering = delivering_edge(
        &backing,
        &bus,
        &receiver,
        json!({
            "secrets": [{"file": secret_file}],
            "concurrency": 4,
            "timeout": "2s"
        }),
    )
    .await;

    // Receipts, some as one batch (as a connector publishes them under load), and an MO.
    let ids: Vec<String> = (0..20).map(|i| format!("m{i}:final")).collect();
    for id in &ids[..10] {
        publish(
            &bus,
            id,
            &receipt(id.trim_end_matches(":final"), MessageState::Delivered),
        )
        .await;
    }
    let batch = ids[10..]
        .iter()
        .map(|id| {
            Outgoing::event(
                "hooked",
                id,
                &receipt(id.trim_end_matches(":final"), MessageState::Undeliverable),
            )
        })
        .collect();
    bus.publisher()
        .publish_batch(batch)
        .await
        .unwrap()
        .await
        .unwrap();
    let mo = Event {
        kind: Some(event::Kind::Mo(MoMessage {
            id: "mo-1".into(),
            account_id: "hooked".into(),
            source: Some(Address {
                addr: "447700900123".into(),
                ton: 1,
                npi: 1,
            }),
            destination: Some(Address {
                addr: "80080".into(),
                ton: 0,
                npi: 0,
            }),
            payload: b"STOP".to_vec(),
            ..MoMessage::default()
        })),
    };
    publish(&bus, "mo-1", &mo).await;
    eventually_sync("every event at the endpoint, verified", || {
        receiver.verified_ids().len() == 21
    })
    .await;
    let mut want: BTreeSet<String> = ids.iter().cloned().collect();
    want.insert("mo-1".into());
    assert_eq!(receiver.verified_ids(), want);
    let first = receiver.line_of("m0:final").unwrap();
    assert_eq!(first["body"]["type"], "message.receipt");
    assert_eq!(first["body"]["data"]["message_id"], "m0");
    assert_eq!(first["body"]["data"]["state"], "delivered");
    let batched = receiver.line_of("m15:final").unwrap();
    assert_eq!(batched["body"]["data"]["state"], "undeliverable");
    let text = receiver.line_of("mo-1").unwrap();
    assert_eq!(text["body"]["type"], "message.mo");
    assert_eq!(text["body"]["data"]["text"], "STOP");
    assert!(
        receiver
            .lines
            .lock()
            .unwrap()
            .iter()
            .all(|l| l["verified"] != false),
        "a delivery did not verify"
    );

    // A copy the account's SMPP delivery republished to retry a batch member there (it
    // carries Herald-Prior-Deliveries) is not posted a second time.
    let copy = Outgoing::new(
        herald_bus::subject::receipt("hooked"),
        "m15:final:r1",
        herald_bus::publish::encode(&receipt("m15", MessageState::Undeliverable)),
    )
    .header(herald_bus::publish::MESSAGE_ID_HEADER, "m15:final")
    .header(herald_bus::batch::PRIOR_DELIVERIES_HEADER, "1");
    bus.publisher().publish_acked(copy).await.unwrap();

    // An endpoint failing for a while (503, then 429 with Retry-After) gets the event again,
    // with the same webhook-id, until it takes it.
    receiver
        .control(json!({"status": 503, "times": 2, "retry_after": 1, "delay": 0}))
        .await;
    publish(
        &bus,
        "late:final",
        &receipt("late", MessageState::Delivered),
    )
    .await;
    eventually_sync("the failed event is delivered in the end", || {
        receiver.line_of("late:final").is_some()
    })
    .await;
    assert_eq!(receiver.answered("late:final"), [503, 503]);
    let m15 = receiver
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l["verified"] == true && l["id"] == "m15:final")
        .count();
    assert_eq!(m15, 1, "the SMPP side's retry copy was posted again");
    assert_eq!(receiver.line_of("late:final").unwrap()["attempt"], 3);

    // A refusal (400) is not retried: the event is dead-lettered with the answer.
    receiver
        .control(json!({"status": 400, "times": 1, "delay": 0}))
        .await;
    publish(&bus, "bad:final", &receipt("bad", MessageState::Delivered)).await;
    let dlq = bus
        .jetstream()
        .get_stream(StreamKind::DeadLetters.name())
        .await
        .unwrap();
    let letter = herald_harness::eventually_some("the refused event in the dead letters", || {
        let dlq = dlq.clone();
        async move {
            dlq.get_last_raw_message_by_subject("herald.dlq.ev.hooked.dlr")
                .await
                .ok()
        }
    })
    .await;
    let reason = letter
        .headers
        .get(DLQ_REASON_HEADER)
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    assert!(reason.contains("400"), "{reason}");
    assert_eq!(receiver.answered("bad:final"), [400]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        receiver.line_of("bad:final").is_none(),
        "a refused event was sent again"
    );

    // Replayed from the dead letters (as `heraldctl dead-letters replay` does), it is
    // posted again under its webhook-id.
    let dead_letters = bus.dead_letters().await.unwrap();
    let letters = dead_letters
        .account_events(
            "hooked",
            std::time::SystemTime::UNIX_EPOCH,
            std::time::SystemTime::now(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].message_id, "bad:final");
    dead_letters
        .replay_to_webhook(&bus.publisher(), "hooked", &letters[0])
        .await
        .unwrap();
    eventually_sync("the replayed event is delivered", || {
        receiver.line_of("bad:final").is_some()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_secret_is_rotated_receivers_with_either_secret_verify() {
    const NEW: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let backing = Backing::start().await;
    let bus = backing.bus().await;
    let dir = tempfile::tempdir().unwrap();
    let (old_file, new_file) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::write(&old_file, SECRET).unwrap();
    std::fs::write(&new_file, NEW).unwrap();
    // The customer has moved to the new secret; Herald still signs with both.
    let receiver = Receiver::start(&[NEW]).await;
    let _delivering = delivering_edge(
        &backing,
        &bus,
        &receiver,
        json!({
            "secrets": [{"file": old_file}, {"file": new_file}]
        }),
    )
    .await;
    publish(&bus, "r1:final", &receipt("r1", MessageState::Delivered)).await;
    eventually_sync("the receipt verified with the new secret alone", || {
        receiver.line_of("r1:final").is_some()
    })
    .await;
    assert!(
        receiver
            .lines
            .lock()
            .unwrap()
            .iter()
            .all(|l| l["verified"] == true),
        "{:?}",
        receiver.lines.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhooks_rate_bounds_its_posts_and_an_endpoint_down_for_a_while_gets_everything() {
    let World {
        backing,
        bus,
        receiver,
        secret_file,
        _dir,
    } = World::start(SECRET).await;
    // Down at first: its first six requests are cut off unanswered.
    receiver
        .control(json!({"status": 0, "times": 6, "delay": 0}))
        .await;
    let _delivering = delivering_edge(
        &backing,
        &bus,
        &receiver,
        json!({
            "secrets": [{"file": secret_file}],
            "rate": 4, "concurrency": 8, "timeout": "1s"
        }),
    )
    .await;
    let ids: Vec<String> = (0..16).map(|i| format!("r{i}:final")).collect();
    for id in &ids {
        publish(
            &bus,
            id,
            &receipt(id.trim_end_matches(":final"), MessageState::Delivered),
        )
        .await;
    }
    eventually_sync("every event delivered once the endpoint is back", || {
        receiver.verified_ids().len() == ids.len()
    })
    .await;
    assert_eq!(receiver.verified_ids(), ids.iter().cloned().collect());
    // However fast the machine, no second saw more than the rate and its burst.
    let arrivals = receiver.arrivals.lock().unwrap().clone();
    let busiest = arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|t| **t >= *start && t.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(busiest <= 8, "{busiest} posts within one second at rate 4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_never_overtakes_an_earlier_event_of_its_message() {
    let World {
        backing,
        bus,
        receiver,
        secret_file,
        _dir,
    } = World::start(SECRET).await;
    let _delivering = delivering_edge(
        &backing,
        &bus,
        &receiver,
        json!({
            "secrets": [{"file": secret_file}],
            "concurrency": 8
        }),
    )
    .await;
    // The first post (the message's ENROUTE) is refused for now: its DELIVRD, published
    // right after, waits for it rather than arriving first.
    receiver
        .control(json!({"status": 503, "times": 1, "delay": 0}))
        .await;
    publish(&bus, "m:enroute", &receipt("m", MessageState::Enroute)).await;
    publish(&bus, "m:final", &receipt("m", MessageState::Delivered)).await;
    eventually_sync("both events delivered", || {
        receiver.verified_ids().len() == 2
    })
    .await;
    let order: Vec<String> = receiver
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l["verified"] == true)
        .map(|l| l["body"]["data"]["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ["enroute", "delivered"]);
    assert_eq!(receiver.answered("m:enroute"), [503]);
}
