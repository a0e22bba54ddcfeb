//! The HTTP submit API against real NATS and etcd, over real TCP with a minimal HTTP/1.1
//! client: accepted messages are on the bus before the 202, long texts are split with a
//! shared UDH reference, credentials are checked like a bind, bad input and an exhausted
//! rate get their statuses and publish nothing, status lookups see only the caller's own
//! messages, and a bus outage is answered 503 promptly.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herald_bus::{Bus, ConsumerSpec, StreamKind};
use herald_config::EdgeConfig;
use herald_edge::{Edge, EdgeDeps};
use herald_harness::{Backing, PATIENCE, eventually, seed};
use herald_proto::bus::v1::{self as bus, MessageStatus, MtMessage};
use herald_rules::{Expected, Kind};
use herald_smpp::text::{self, Encoding};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

struct Cluster {
    backing: Backing,
    bus: Bus,
    port: u16,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), herald_edge::EdgeError>>,
}

impl Cluster {
    /// Stops the HTTP listener; it must return promptly and refuse new connections.
    async fn shut_down(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.served)
            .await
            .expect("serve_http returns promptly on shutdown")
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(("127.0.0.1", self.port)).await.is_err());
    }
}

/// NATS, etcd, the accounts below, a carrier with a route for UK numbers, and an edge
/// serving HTTP on a free port.
async fn cluster() -> Cluster {
    let backing = Backing::start().await;
    let accounts = [
        (
            "acme",
            json!({
                "quota": { "tps": 1000 },
                "sender_ids": { "allowed": ["ACME"], "allow_numeric": true },
            }),
        ),
        // Two messages a second, bursts of two.
        ("slow", json!({ "quota": { "tps": 2 } })),
        (
            "vault",
            json!({ "quota": { "tps": 10 }, "tls_required": true }),
        ),
        (
            "remote",
            json!({ "quota": { "tps": 10 }, "allowed_ips": ["192.0.2.0/24"] }),
        ),
        (
            "brand",
            json!({
                "quota": { "tps": 10 },
                "sender_ids": { "allowed": ["BRAND", "OTHER"] },
                "default_sender": "BRAND",
            }),
        ),
    ];
    for (id, settings) in accounts {
        seed::account(&backing.rules, id, "secret", settings).await;
    }
    seed::carrier(&backing.rules, seed::NO_CARRIER_PORT, json!({})).await;
    seed::route(&backing.rules, "uk", &["44"]).await;
    // UK mobiles on 4479 by a route capped at 2/s whoever sends.
    let capped = json!({
        "id": "capped", "priority": 5, "match": { "destination_prefixes": ["4479"] },
        "action": { "type": "carrier", "carrier": seed::CARRIER }, "quota": { "tps": 2 },
    });
    backing
        .rules
        .put_json(Kind::Route, "capped", &capped.to_string(), Expected::Any)
        .await
        .unwrap();

    let bus = backing
        .bus_with(|config| {
            config.request_timeout = Duration::from_secs(2);
            // A bus down for good: a submit is held this long, then refused.
            config.publish_hold = Duration::from_secs(2);
        })
        .await;
    let edge = Edge::new(
        EdgeConfig {
            failed_bind_delay: Duration::from_millis(10),
            ..EdgeConfig::default()
        },
        EdgeDeps {
            bus: bus.clone(),
            rules: backing.rules_store().await,
            node_id: "edge-http".into(),
            session_slots: None,
            route_time_zone: herald_rules::model::UtcOffset::UTC,
        },
    )
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        edge.serve_http(listener, async {
            let _ = stopped.await;
        })
        .await
    });
    Cluster {
        backing,
        bus,
        port,
        stop,
        served,
    }
}

/// An HTTP answer: status, headers (names in lower case) and the JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn error_status(&self) -> &str {
        self.body["error"]["status"].as_str().unwrap_or_default()
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end.
async fn request(
    port: u16,
    method: &str,
    path: &str,
    credentials: Option<(&str, &str)>,
    body: Option<&str>,
) -> Answer {
    request_with(port, method, path, credentials, &[], body).await
}

/// [`request`] with extra header lines.
async fn request_with(
    port: u16,
    method: &str,
    path: &str,
    credentials: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some((user, password)) = credentials {
        let token = base64(format!("{user}:{password}").as_bytes());
        head.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("an answer, not a hang")
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a complete HTTP response");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
    };
    Answer {
        status,
        headers,
        body,
    }
}

async fn post(port: u16, credentials: (&str, &str), body: Value) -> Answer {
    request(
        port,
        "POST",
        "/v1/messages",
        Some(credentials),
        Some(&body.to_string()),
    )
    .await
}

/// A `POST /v1/messages` with an `Idempotency-Key`.
async fn post_with_key(port: u16, credentials: (&str, &str), key: &str, body: &Value) -> Answer {
    request_with(
        port,
        "POST",
        "/v1/messages",
        Some(credentials),
        &[("Idempotency-Key", key)],
        Some(&body.to_string()),
    )
    .await
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

const ACME: (&str, &str) = ("acme", "secret");

/// The next `count` envelopes the routers would consume from the bulk lane, acked.
async fn envelopes(bus: &Bus, count: usize) -> Vec<MtMessage> {
    envelopes_in(bus, ConsumerSpec::routers(), count).await
}

/// The next `count` envelopes of the routers' consumer `spec` (one lane's), acked.
async fn envelopes_in(bus: &Bus, spec: ConsumerSpec, count: usize) -> Vec<MtMessage> {
    let consumer = bus.consumer(spec).await.unwrap();
    let mut deliveries = consumer.messages(64).await.unwrap();
    let mut out = Vec::new();
    while out.len() < count {
        let delivery = tokio::time::timeout(PATIENCE, deliveries.next())
            .await
            .expect("an envelope on the bus")
            .unwrap()
            .unwrap();
        out.push(delivery.decode().unwrap());
        delivery.ack().await.unwrap();
    }
    out
}

async fn messages_on_the_bus(bus: &Bus) -> u64 {
    let mut stream = bus
        .jetstream()
        .get_stream(StreamKind::Mt.name())
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}

fn ids(entry: &Value) -> Vec<String> {
    entry["ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no ids in {entry}"))
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_posted_message_is_on_the_bus_before_the_202() {
    let cluster = cluster().await;
    let text = "5€ @ ACME: hello";
    let answer = post(
        cluster.port,
        ACME,
        json!({ "from": "ACME", "to": "+447700900001", "text": text, "validity": "1h" }),
    )
    .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let entry = &answer.body["messages"][0];
    assert_eq!(entry["to"], "+447700900001");
    assert_eq!(entry["parts"], 1);
    let id = ids(entry).pop().unwrap();
    assert_eq!(id.len(), 20);

    // 202 came after the ack: the envelope is already in the stream.
    assert_eq!(messages_on_the_bus(&cluster.bus).await, 1);
    let mt = envelopes(&cluster.bus, 1).await.pop().unwrap();
    assert_eq!(mt.id, id);
    assert_eq!(mt.account_id, "acme");
    assert_eq!(mt.edge_node, "edge-http");
    let dest = mt.destination.unwrap();
    assert_eq!(
        (dest.addr.as_str(), dest.ton, dest.npi),
        ("447700900001", 1, 1)
    );
    let source = mt.source.unwrap();
    assert_eq!((source.addr.as_str(), source.ton), ("ACME", 5));
    assert_eq!(mt.data_coding, 0, "GSM 7-bit");
    assert_eq!(mt.payload, text::encode(text, Encoding::GSM7).unwrap());
    assert_eq!(mt.esm_class & 0x40, 0, "no UDH on a single SMS");
    assert!(mt.segment.is_none());
    assert_eq!(mt.registered_delivery, 1, "receipts by default");
    let validity = mt.validity_unix_ms - mt.accepted_unix_ms;
    assert!((3_599_000..=3_600_000).contains(&validity), "{validity}");
    cluster.shut_down().await;
}

#[tokio::test]
async fn without_a_from_the_accounts_default_sender_is_used() {
    let cluster = cluster().await;
    let brand = ("brand", "secret");
    let to = "+447700900001";
    assert_eq!(
        post(cluster.port, brand, json!({ "to": to, "text": "a" }))
            .await
            .status,
        202
    );
    let own = json!({ "from": "OTHER", "to": to, "text": "b" });
    assert_eq!(post(cluster.port, brand, own).await.status, 202);
    // An account without one sends no sender, for the carrier to fill in.
    assert_eq!(
        post(cluster.port, ACME, json!({ "to": to, "text": "c" }))
            .await
            .status,
        202
    );
    let sources: Vec<(String, u32)> = envelopes(&cluster.bus, 3)
        .await
        .into_iter()
        .map(|mt| mt.source.unwrap_or_default())
        .map(|source| (source.addr, source.ton))
        .collect();
    assert_eq!(
        sources,
        [("BRAND".into(), 5), ("OTHER".into(), 5), (String::new(), 0)]
    );
    cluster.shut_down().await;
}

#[tokio::test]
async fn over_its_routes_quota_a_message_gets_429_and_other_routes_do_not() {
    let cluster = cluster().await;
    let capped = json!({ "to": "+447900900001", "text": "hi" });
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(post(cluster.port, ACME, capped.clone()).await);
    }
    let throttled: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(!throttled.is_empty(), "6 at once against 2/s: {answers:?}");
    for answer in &throttled {
        assert_eq!(answer.error_status(), "ESME_RTHROTTLED", "{answer:?}");
    }
    let other = json!({ "to": "+447700900001", "text": "hi" });
    assert_eq!(post(cluster.port, ACME, other).await.status, 202);
    cluster.shut_down().await;
}

#[tokio::test]
async fn a_long_ucs2_text_goes_as_segments_sharing_one_reference() {
    let cluster = cluster().await;
    let text = "Привет из Herald! ".repeat(9); // 162 characters outside GSM 7-bit
    let answer = post(
        cluster.port,
        ACME,
        json!({ "from": "ACME", "to": ["+447700900001"], "text": text, "registered_delivery": false }),
    )
    .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    let entry = &answer.body["messages"][0];
    assert_eq!(entry["parts"], 3, "67 UTF-16 units a segment");
    let sent = ids(entry);

    let mut parts = envelopes(&cluster.bus, 3).await;
    parts.sort_by_key(|mt| mt.segment.as_ref().unwrap().seq);
    let reference = parts[0].segment.as_ref().unwrap().reference;
    let mut units = Vec::new();
    for (n, mt) in parts.iter().enumerate() {
        assert_eq!(mt.id, sent[n]);
        assert_eq!(mt.data_coding, 8, "UCS-2");
        assert_eq!(mt.esm_class & 0x40, 0x40, "UDHI");
        assert_eq!(mt.registered_delivery, 0);
        let segment = mt.segment.as_ref().unwrap();
        assert_eq!(
            (segment.reference, segment.total, segment.seq),
            (reference, 3, n as u32 + 1)
        );
        // The UDH: a concatenation IE with an 8-bit reference.
        assert_eq!(
            &mt.payload[..6],
            &[5, 0, 3, reference as u8, 3, n as u8 + 1]
        );
        units.extend(
            mt.payload[6..]
                .chunks(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
        );
    }
    assert_eq!(String::from_utf16(&units).unwrap(), text);
}

#[tokio::test]
async fn credentials_are_checked_like_a_bind() {
    let cluster = cluster().await;
    let body = json!({ "from": "ACME", "to": "+447700900001", "text": "hi" }).to_string();
    let none = request(cluster.port, "POST", "/v1/messages", None, Some(&body)).await;
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(none.error_status(), "ESME_RINVSYSID");

    // An unknown system_id and a wrong password get the same answer, word for word.
    let unknown = post(cluster.port, ("nobody", "secret"), json!({})).await;
    assert_eq!(
        (unknown.status, unknown.error_status()),
        (401, "ESME_RINVPASWD")
    );
    let wrong = post(cluster.port, ("acme", "nope"), json!({})).await;
    assert_eq!(
        (wrong.status, wrong.error_status()),
        (401, "ESME_RINVPASWD")
    );
    assert_eq!(unknown.body, wrong.body);
    assert!(wrong.header("www-authenticate").is_some());

    let right = post(cluster.port, ACME, serde_json::from_str(&body).unwrap()).await;
    assert_eq!(right.status, 202, "{right:?}");
    // A verified password is remembered; a wrong one after it is still wrong.
    let wrong_again = post(cluster.port, ("acme", "Secret"), json!({})).await;
    assert_eq!(
        (wrong_again.status, wrong_again.error_status()),
        (401, "ESME_RINVPASWD")
    );

    // Refused before the password is looked at, as binds are.
    for account in ["vault", "remote"] {
        let refused = post(cluster.port, (account, "secret"), json!({})).await;
        assert_eq!(
            (refused.status, refused.error_status()),
            (403, "ESME_RBINDFAIL"),
            "{account}"
        );
    }
    assert_eq!(messages_on_the_bus(&cluster.bus).await, 1);
}

#[tokio::test]
async fn a_priority_puts_the_message_in_the_urgent_lane_and_reaches_the_carrier_as_the_flag() {
    let cluster = cluster().await;
    let urgent = json!({ "to": "+447700900001", "text": "code 1234", "priority": 2,
                         "client_ref": "otp-7" });
    assert_eq!(post(cluster.port, ACME, urgent).await.status, 202);
    let bulk = json!({ "to": "+447700900002", "text": "sale", "priority": 0 });
    assert_eq!(post(cluster.port, ACME, bulk).await.status, 202);
    let lane = |mts: Vec<MtMessage>| -> Vec<(String, bool, u32)> {
        mts.into_iter()
            .map(|mt| {
                (
                    mt.destination.unwrap_or_default().addr,
                    mt.urgent,
                    mt.priority,
                )
            })
            .collect()
    };
    let urgent = envelopes_in(&cluster.bus, ConsumerSpec::urgent_routers(), 1).await;
    assert_eq!(
        urgent[0].client_ref, "otp-7",
        "the client's reference travels with it"
    );
    assert_eq!(lane(urgent), [("447700900001".to_owned(), true, 2)]);
    assert_eq!(
        lane(envelopes(&cluster.bus, 1).await),
        [("447700900002".to_owned(), false, 0)]
    );
    cluster.shut_down().await;
}

#[tokio::test]
async fn bad_input_gets_the_status_that_names_it_and_publishes_nothing() {
    let cluster = cluster().await;
    let cases = [
        (
            json!({ "from": "ACME", "to": "bob", "text": "hi" }),
            400,
            "ESME_RINVDSTADR",
        ),
        // No route takes French numbers in this cluster.
        (
            json!({ "from": "ACME", "to": "+33612345678", "text": "hi" }),
            400,
            "ESME_RINVDSTADR",
        ),
        (
            json!({ "from": "EVIL", "to": "+447700900001", "text": "hi" }),
            400,
            "ESME_RINVSRCADR",
        ),
        (
            json!({ "to": "+447700900001", "text": "" }),
            400,
            "ESME_RINVMSGLEN",
        ),
        (
            json!({ "to": "+447700900001", "text": "hi", "validity": "0s" }),
            400,
            "ESME_RINVEXPIRY",
        ),
        (
            json!({ "to": "+447700900001", "text": "x".repeat(153 * 255 + 1) }),
            413,
            "ESME_RINVNUMMSGS",
        ),
        (json!({ "to": "+447700900001" }), 400, "ESME_RSUBMITFAIL"),
        (
            json!({ "to": "+447700900001", "text": "hi", "priority": 4 }),
            400,
            "ESME_RINVPRTFLG",
        ),
        (
            json!({ "to": "+447700900001", "text": "hi", "client_ref": "x".repeat(65) }),
            400,
            "ESME_RSUBMITFAIL",
        ),
    ];
    for (body, status, smpp) in cases {
        let answer = post(cluster.port, ACME, body.clone()).await;
        assert_eq!(
            (answer.status, answer.error_status()),
            (status, smpp),
            "{body}"
        );
        assert!(!answer.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let not_json = request(
        cluster.port,
        "POST",
        "/v1/messages",
        Some(ACME),
        Some("{nope"),
    )
    .await;
    assert_eq!(
        (not_json.status, not_json.error_status()),
        (400, "ESME_RSUBMITFAIL")
    );
    assert_eq!(messages_on_the_bus(&cluster.bus).await, 0);

    // Several destinations: each reports its own outcome, in order.
    let answer = post(
        cluster.port,
        ACME,
        json!({ "from": "ACME", "to": ["+447700900002", "bob", "+33612345678"], "text": "hi" }),
    )
    .await;
    assert_eq!(answer.status, 207, "{answer:?}");
    let entries = answer.body["messages"].as_array().unwrap();
    assert_eq!(ids(&entries[0]).len(), 1);
    assert_eq!(entries[1]["to"], "bob");
    assert_eq!(entries[1]["error"]["status"], "ESME_RINVDSTADR");
    assert_eq!(entries[2]["error"]["status"], "ESME_RINVDSTADR");
    assert_eq!(messages_on_the_bus(&cluster.bus).await, 1);
}

#[tokio::test]
async fn over_the_accounts_rate_the_answer_is_429_and_no_part_is_published() {
    let cluster = cluster().await;
    let slow = ("slow", "secret");
    let first = post(
        cluster.port,
        slow,
        json!({ "to": "+447700900001", "text": "one" }),
    )
    .await;
    assert_eq!(first.status, 202, "{first:?}");
    // Three segments need three tokens; the account has at most one left this second.
    let long = post(
        cluster.port,
        slow,
        json!({ "to": "+447700900001", "text": "a".repeat(400) }),
    )
    .await;
    assert_eq!(
        (long.status, long.error_status()),
        (429, "ESME_RTHROTTLED"),
        "{long:?}"
    );
    assert_eq!(long.header("retry-after"), Some("1"));
    assert_eq!(
        messages_on_the_bus(&cluster.bus).await,
        1,
        "none of the three parts"
    );
}

#[tokio::test]
async fn a_status_lookup_answers_only_for_the_callers_own_messages() {
    let cluster = cluster().await;
    let answer = post(
        cluster.port,
        ACME,
        json!({ "to": "+447700900001", "text": "hi" }),
    )
    .await;
    let own = ids(&answer.body["messages"][0]).pop().unwrap();
    // What the router and connector would record.
    let store = cluster.bus.status_store().await.unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let record = |id: &str, account: &str| MessageStatus {
        message_id: id.into(),
        account_id: account.into(),
        state: bus::MessageState::Enroute.into(),
        stage: "submitted".into(),
        updated_unix_ms: now_ms,
        submit_unix_ms: now_ms,
        destination: Some(bus::Address {
            addr: "447700900001".into(),
            ton: 1,
            npi: 1,
        }),
        ..Default::default()
    };
    store.advance(&record(&own, "acme")).await.unwrap();
    let theirs = "01JD0000000000000SLW";
    store.advance(&record(theirs, "slow")).await.unwrap();

    let status = request(
        cluster.port,
        "GET",
        &format!("/v1/messages/{own}"),
        Some(ACME),
        None,
    )
    .await;
    assert_eq!(status.status, 200, "{status:?}");
    assert_eq!(status.body["id"], own.as_str());
    assert_eq!(status.body["state"], "enroute");
    assert_eq!(status.body["final"], false);
    assert_eq!(status.body["stage"], "submitted");
    assert_eq!(status.body["to"], "447700900001");

    let path = format!("/v1/messages/{theirs}");
    let other = request(cluster.port, "GET", &path, Some(ACME), None).await;
    assert_eq!(
        (other.status, other.error_status()),
        (404, "ESME_RINVMSGID")
    );
    let owner = request(cluster.port, "GET", &path, Some(("slow", "secret")), None).await;
    assert_eq!(owner.status, 200, "the record exists, for its own account");
    let unknown = request(
        cluster.port,
        "GET",
        "/v1/messages/NOSUCHID",
        Some(ACME),
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
    // An id that is not UTF-8: as unknown, and answered in JSON like the rest.
    let garbled = request(cluster.port, "GET", "/v1/messages/%FF", Some(ACME), None).await;
    assert_eq!(
        (garbled.status, garbled.error_status()),
        (404, "ESME_RINVMSGID"),
        "{garbled:?}"
    );
    let anonymous = request(cluster.port, "GET", &path, None, None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn with_the_bus_down_the_answer_is_503_promptly() {
    let mut cluster = cluster().await;
    let body = json!({ "from": "ACME", "to": "+447700900001", "text": "hi" });
    assert_eq!(post(cluster.port, ACME, body.clone()).await.status, 202);
    cluster.backing.nats.kill().await;
    // Each answer after the publish hold (2 s here) and one more ack wait; none is a 202.
    for _ in 0..2 {
        let answer = tokio::time::timeout(
            Duration::from_secs(15),
            post(cluster.port, ACME, body.clone()),
        )
        .await
        .expect("an answer, not a hang");
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(
            matches!(answer.error_status(), "ESME_RSYSERR" | "ESME_RMSGQFUL"),
            "{answer:?}"
        );
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
    let lookup = tokio::time::timeout(
        Duration::from_secs(15),
        request(
            cluster.port,
            "GET",
            "/v1/messages/01JD00000000000000AB",
            Some(ACME),
            None,
        ),
    )
    .await
    .expect("an answer, not a hang");
    assert_eq!(
        (lookup.status, lookup.error_status()),
        (503, "ESME_RQUERYFAIL")
    );
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_sends_nothing_more() {
    let cluster = cluster().await;
    let body = json!({ "to": ["+447700900001", "+447700900002"], "text": "once" });
    let first = post_with_key(cluster.port, ACME, "order-42", &body).await;
    assert_eq!(first.status, 202, "{first:?}");
    assert_eq!(first.header("idempotency-replayed"), None);
    // Bus messages, which may each carry several (ADR 0010): none may be added below
    // until the other account's request.
    let published = messages_on_the_bus(&cluster.bus).await;
    assert!(published >= 1);

    // The retry: the same answer, the same ids, nothing new on the bus.
    let retry = post_with_key(cluster.port, ACME, "order-42", &body).await;
    assert_eq!(retry.status, 202, "{retry:?}");
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("idempotency-replayed"), Some("true"));
    assert_eq!(messages_on_the_bus(&cluster.bus).await, published);

    // The same key with another body is a client bug, refused.
    let other = json!({ "to": "+447700900003", "text": "not the same" });
    let reused = post_with_key(cluster.port, ACME, "order-42", &other).await;
    assert_eq!(
        (reused.status, reused.error_status()),
        (422, "IDEMPOTENCY_KEY_REUSED"),
        "{reused:?}"
    );
    // A key that is not 1 to 255 visible ASCII characters is refused before anything.
    let bad = post_with_key(cluster.port, ACME, "two words", &body).await;
    assert_eq!(
        (bad.status, bad.error_status()),
        (400, "ESME_RSUBMITFAIL"),
        "{bad:?}"
    );
    assert_eq!(messages_on_the_bus(&cluster.bus).await, published);

    // Keys belong to an account: another account's "order-42" is its own request.
    let theirs = post_with_key(cluster.port, ("slow", "secret"), "order-42", &body).await;
    assert_eq!(theirs.status, 202, "{theirs:?}");
    assert_eq!(theirs.header("idempotency-replayed"), None);

    // On the bus: exactly the four messages the two first answers named, once each.
    let answered: Vec<String> = [&first, &theirs]
        .iter()
        .flat_map(|answer| answer.body["messages"].as_array().unwrap().iter())
        .flat_map(ids)
        .collect();
    assert_eq!(answered.len(), 4, "{answered:?}");
    let mut on_the_bus: Vec<String> = envelopes(&cluster.bus, 4)
        .await
        .into_iter()
        .map(|mt| mt.id)
        .collect();
    on_the_bus.sort();
    let mut expected = answered;
    expected.sort();
    assert_eq!(on_the_bus, expected);
    // Every bus message was taken by those four: nothing else was published. (A batch
    // leaves the queue once its last member's ack reaches the server.)
    eventually("no bus message beyond the four answered", || async {
        messages_on_the_bus(&cluster.bus).await == 0
    })
    .await;
}

#[tokio::test]
async fn a_key_whose_request_is_running_or_was_interrupted_gets_409_and_sends_nothing() {
    use herald_bus::idempotency::IdempotencyKeys;
    use herald_proto::bus::v1::{DestinationIds, IdempotentRequest};

    let cluster = cluster().await;
    let keys = cluster.bus.idempotency_keys().await.unwrap();
    let body = json!({ "to": "+447700900001", "text": "in flight" });
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // What an edge records when it starts a request: here one that is still running, and
    // one whose edge died two minutes ago, before it could record the answer.
    let started = |started_unix_ms| IdempotentRequest {
        fingerprint: IdempotencyKeys::fingerprint(body.to_string().as_bytes()),
        started_unix_ms,
        destinations: vec![DestinationIds {
            to: "+447700900001".into(),
            ids: vec!["0ABCDEFGHJKMNPQRSTVW".into()],
        }],
        ..Default::default()
    };
    // And one that ended not knowing whether its message was stored (an ack that never
    // came).
    let unknown = IdempotentRequest {
        outcome_unknown: true,
        ..started(now_ms)
    };
    let claims = [
        ("running", started(now_ms)),
        ("crashed", started(now_ms - 120_000)),
        ("unknown", unknown),
    ];
    for (key, request) in &claims {
        let claimed = keys.claim("acme", key, request).await.unwrap();
        assert!(
            matches!(claimed, herald_bus::Claim::Claimed { .. }),
            "{claimed:?}"
        );
    }

    let running = post_with_key(cluster.port, ACME, "running", &body).await;
    assert_eq!(
        (running.status, running.error_status()),
        (409, "IDEMPOTENCY_KEY_IN_USE"),
        "{running:?}"
    );
    assert_eq!(running.header("retry-after"), Some("1"));

    let crashed = post_with_key(cluster.port, ACME, "crashed", &body).await;
    assert_eq!(
        (crashed.status, crashed.error_status()),
        (409, "IDEMPOTENCY_KEY_INTERRUPTED"),
        "{crashed:?}"
    );
    // The ids it may have used, to look up.
    assert_eq!(ids(&crashed.body["messages"][0]), ["0ABCDEFGHJKMNPQRSTVW"]);
    let unknown = post_with_key(cluster.port, ACME, "unknown", &body).await;
    assert_eq!(
        (unknown.status, unknown.error_status()),
        (409, "IDEMPOTENCY_KEY_INTERRUPTED"),
        "{unknown:?}"
    );
    assert_eq!(ids(&unknown.body["messages"][0]), ["0ABCDEFGHJKMNPQRSTVW"]);
    assert_eq!(messages_on_the_bus(&cluster.bus).await, 0);
}

#[tokio::test]
async fn a_request_that_accepted_nothing_and_may_be_retried_frees_its_key() {
    let cluster = cluster().await;
    let slow = ("slow", "secret");
    // Three segments need three tokens; the account's bucket holds two: 429, nothing
    // published, whenever it is sent.
    let long = json!({ "to": "+447700900001", "text": "a".repeat(400) });
    let throttled = post_with_key(cluster.port, slow, "long-1", &long).await;
    assert_eq!(throttled.status, 429, "{throttled:?}");
    // The retry is tried afresh (429 again this second), not answered from the key.
    let retry = post_with_key(cluster.port, slow, "long-1", &long).await;
    assert_eq!(retry.status, 429, "{retry:?}");
    assert_eq!(retry.header("idempotency-replayed"), None);
    assert_eq!(messages_on_the_bus(&cluster.bus).await, 0);
}

#[tokio::test]
async fn two_requests_racing_with_one_key_send_its_messages_once() {
    let cluster = cluster().await;
    let body = json!({ "to": ["+447700900001", "+447700900002"], "text": "race" });
    let (a, b) = tokio::join!(
        post_with_key(cluster.port, ACME, "raced", &body),
        post_with_key(cluster.port, ACME, "raced", &body),
    );
    // One ran; the other was told it runs (409) or, if it came second, given its answer.
    let (ran, other) = if a.header("idempotency-replayed").is_none() && a.status == 202 {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(ran.status, 202, "{ran:?}");
    assert_eq!(ran.header("idempotency-replayed"), None, "{ran:?}");
    match other.status {
        409 => assert_eq!(other.error_status(), "IDEMPOTENCY_KEY_IN_USE", "{other:?}"),
        202 => {
            assert_eq!(other.header("idempotency-replayed"), Some("true"));
            assert_eq!(other.body, ran.body);
        }
        _ => panic!("{other:?}"),
    }
    // The two messages the answer names went once each.
    let mut named: Vec<String> = ran.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(ids)
        .collect();
    named.sort();
    let mut on_the_bus: Vec<String> = envelopes(&cluster.bus, 2)
        .await
        .into_iter()
        .map(|mt| mt.id)
        .collect();
    on_the_bus.sort();
    assert_eq!(on_the_bus, named);
    eventually("no second copy", || async {
        messages_on_the_bus(&cluster.bus).await == 0
    })
    .await;
}

#[tokio::test]
async fn a_client_that_hangs_up_gets_the_answer_when_it_retries_with_its_key() {
    let cluster = cluster().await;
    let body = json!({ "to": "+447700900001", "text": "did it go?" }).to_string();
    // Send the request and hang up without reading the answer, as a client that timed out.
    // (The claim, the publishes and the settling all run in a task of their own, which a
    // dropped connection does not cancel.)
    let mut stream = TcpStream::connect(("127.0.0.1", cluster.port))
        .await
        .unwrap();
    let token = base64(b"acme:secret");
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n\
         Idempotency-Key: hung-up\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    // Hang up once the request is under way (its message on the bus): the rest of it,
    // settling its key included, must not depend on the connection.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while messages_on_the_bus(&cluster.bus).await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never published");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(stream);

    // The retry gets the first request's answer once it is settled (409 while it runs).
    let body: Value = serde_json::from_str(&body).unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let retry = loop {
        let retry = post_with_key(cluster.port, ACME, "hung-up", &body).await;
        if retry.status != 409 {
            break retry;
        }
        assert_eq!(retry.error_status(), "IDEMPOTENCY_KEY_IN_USE", "{retry:?}");
        assert!(tokio::time::Instant::now() < deadline, "never settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(retry.status, 202, "{retry:?}");
    assert_eq!(retry.header("idempotency-replayed"), Some("true"));
    let id = ids(&retry.body["messages"][0]).pop().unwrap();
    // The message went once: the one the answer names.
    let on_the_bus = envelopes(&cluster.bus, 1).await;
    assert_eq!(on_the_bus[0].id, id);
    eventually("no second copy", || async {
        messages_on_the_bus(&cluster.bus).await == 0
    })
    .await;
}
