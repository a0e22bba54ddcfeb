//! The NATS permissions the Helm chart gives each role (`helm/herald/files/nats-permissions.yaml`,
//! rendered into the bundled NATS's `authorization` block) on a real cluster: a
//! `nats-server` with one user per role and those permissions only, the `herald` edge,
//! router, connector and control processes each connecting as its own user, and a
//! simulated carrier.
//!
//! Sufficient: messages submitted over SMPP reach the carrier and their receipts come
//! back, a cancelled message is not sent and a replaced one is sent replaced, MO reaches
//! the ESME, an unmatched receipt is held in the dead letters, `query_sm` and the admin
//! API read the status, a failed bind is counted in the shared lockouts.
//!
//! Narrow: each role's user is refused what only another role does (the edge publishing
//! to a carrier's queue or reading the carrier-id map, the router forging lockouts, the
//! connector writing cancel marks, control publishing MT, anyone deleting or purging a
//! stream), and nothing it tried reached a stream; anonymous clients and wrong
//! passwords are refused.
//!
//! `HERALD_TEST_NATS_LOG=<file>` keeps the server's log (permission violations included);
//! `HERALD_TEST_LOGS=1` shows the roles' logs.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use herald_bus::StreamKind;
use herald_harness::{PATIENCE, eventually, seed};
use herald_proto::admin::v1::GetMessageRequest;
use herald_proto::admin::v1::admin_service_client::AdminServiceClient;
use herald_rules::{Expected, Kind, RulesClient, StoreConfig};
use herald_smpp::pdu::{Bind, CancelSm, QuerySm, ReplaceSm, SubmitSm};
use herald_smpp::session::{BindMode, Inbox, Session, SessionConfig, bind};
use herald_smpp::types::{Address, COctetString};
use herald_smpp::{CommandStatus, PduBody, RegisteredDelivery};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::process::Child;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");
const ROLES: [&str; 4] = ["edge", "router", "connector", "control"];
const ADMIN_TOKEN: &str = "chart-permissions-admin-token";
/// The test's own user, for looking at streams and buckets: not one of the chart's.
const INSPECTOR: &str = "inspector";

/// `helm/herald/files/nats-permissions.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Permissions {
    /// What `nats.partitions` splits (ADR 0021, 0022): the chart adds each partition's
    /// names to every subject that names one.
    partitioned: Partitioned,
    common: Lists,
    roles: BTreeMap<String, Lists>,
}

/// The partitions the test's roles run with (`nats.partitions`), so the partitioned
/// buckets' permissions are exercised past the first.
const PARTITIONS: u16 = 2;

/// The partitioned buckets, and the partitioned streams with their subjects' kind token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Partitioned {
    buckets: Vec<String>,
    streams: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Lists {
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
}

fn permissions_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../helm/herald/files/nats-permissions.yaml")
}

fn permissions() -> Permissions {
    let path = permissions_file();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Permissions {
    /// What `role`'s user may publish and subscribe to: `common` and its own, with the
    /// partitioned buckets' [`PARTITIONS`], as the chart renders them.
    fn of(&self, role: &str) -> Lists {
        let own = self
            .roles
            .get(role)
            .unwrap_or_else(|| panic!("no role {role}"));
        let join = |a: &[String], b: &[String]| {
            let mut all: Vec<String> = Vec::new();
            for s in a.iter().chain(b) {
                for s in self.with_partitions(s) {
                    if !all.contains(&s) {
                        all.push(s);
                    }
                }
            }
            all
        };
        Lists {
            publish: join(&self.common.publish, &own.publish),
            subscribe: join(&self.common.subscribe, &own.subscribe),
        }
    }

    /// `subject`, then (when it names a partitioned bucket or stream) the same subject for
    /// each partition past the first, as `herald.partitionedSubjects` in the chart makes
    /// them.
    fn with_partitions(&self, subject: &str) -> Vec<String> {
        let mut all = vec![subject.to_owned()];
        for index in 1..usize::from(PARTITIONS) {
            let mut marked = subject.to_owned();
            for bucket in &self.partitioned.buckets {
                let name = herald_bus::partition::bucket_name(bucket, index);
                marked = marked.replace(bucket.as_str(), &name);
            }
            for (stream, token) in &self.partitioned.streams {
                marked = marked.replace(stream.as_str(), &format!("{stream}_P{index}"));
                let logical = format!("herald.{token}.");
                let placed = herald_bus::subject::in_partition(&logical, index);
                marked = marked.replace(&logical, &placed);
            }
            if marked != subject {
                all.push(marked);
            }
        }
        all
    }
}

/// A string as the `nats-server` configuration language quotes it.
fn quoted(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| quoted(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `authorization` block: every role's user with its permissions and password, and
/// the test's inspector with all permissions.
fn authorization(permissions: &Permissions, passwords: &BTreeMap<&str, String>) -> String {
    let mut users = Vec::new();
    for role in ROLES {
        let lists = permissions.of(role);
        users.push(format!(
            "    {{ user: {}, password: {}, permissions: {{ publish: {{ allow: [{}] }}, subscribe: {{ allow: [{}] }} }} }}",
            quoted(role),
            quoted(&passwords[role]),
            quoted_list(&lists.publish),
            quoted_list(&lists.subscribe),
        ));
    }
    users.push(format!(
        "    {{ user: {}, password: {} }}",
        quoted(INSPECTOR),
        quoted(&passwords[INSPECTOR])
    ));
    format!(
        "authorization {{\n  users = [\n{}\n  ]\n}}\n",
        users.join("\n")
    )
}

#[test]
fn the_permissions_file_covers_every_chart_role_and_the_whole_topology_and_nothing_destructive() {
    let permissions = permissions();
    let roles: Vec<&str> = permissions.roles.keys().map(String::as_str).collect();
    let mut want = ROLES.to_vec();
    want.sort_unstable();
    assert_eq!(roles, want, "the roles the chart deploys");

    // Every role declares the topology when it connects (Topology::ensure), every
    // partition of the partitioned buckets too.
    assert_eq!(
        permissions.partitioned.buckets,
        [
            herald_bus::topology::STATUS_BUCKET,
            herald_bus::topology::CARRIER_ID_BUCKET
        ]
    );
    let partitioned_streams: Vec<(String, String)> = StreamKind::ALL
        .into_iter()
        .filter(|kind| kind.partitioned())
        .map(|kind| {
            let token = kind.subjects().split('.').nth(1).unwrap_or_default();
            (kind.name().to_owned(), token.to_owned())
        })
        .collect();
    let listed: Vec<(String, String)> = permissions
        .partitioned
        .streams
        .iter()
        .map(|(stream, token)| (stream.clone(), token.clone()))
        .collect();
    let mut sorted = partitioned_streams.clone();
    sorted.sort();
    assert_eq!(
        listed, sorted,
        "the partitioned streams and their kind tokens"
    );
    let common = &permissions.of("edge").publish;
    let mut declared: Vec<String> = StreamKind::ALL
        .iter()
        .map(|k| k.name().to_owned())
        .collect();
    for bucket in [
        herald_bus::topology::STATUS_BUCKET,
        herald_bus::topology::CARRIER_ID_BUCKET,
        herald_bus::topology::QUOTA_BUCKET,
        herald_bus::topology::LOCKOUT_BUCKET,
        herald_bus::topology::CANCEL_BUCKET,
        herald_bus::topology::IDEMPOTENCY_BUCKET,
        herald_bus::topology::OPT_OUT_BUCKET,
    ] {
        declared.push(format!("KV_{bucket}"));
    }
    for index in 1..usize::from(PARTITIONS) {
        for bucket in &permissions.partitioned.buckets {
            let name = herald_bus::partition::bucket_name(bucket, index);
            declared.push(format!("KV_{name}"));
        }
        for (stream, _) in &partitioned_streams {
            declared.push(format!("{stream}_P{index}"));
        }
    }
    declared.push(format!("OBJ_{}", herald_bus::topology::PORTING_BUCKET));
    for stream in &declared {
        for action in ["CREATE", "UPDATE"] {
            let subject = format!("$JS.API.STREAM.{action}.{stream}");
            assert!(common.contains(&subject), "common lacks {subject}");
        }
    }
    assert!(common.contains(&"$JS.API.INFO".to_owned()));
    assert!(permissions.common.subscribe.is_empty());

    // Nothing that deletes, purges or reaches everything; no core subscription to
    // Herald's subjects (everything is read through consumers, answered on the role's inbox).
    for role in ROLES {
        let lists = permissions.of(role);
        for subject in &lists.publish {
            // Storing a new ported-numbers snapshot purges the old one's chunks.
            if role == "control" && subject == "$JS.API.STREAM.PURGE.OBJ_herald_porting" {
                continue;
            }
            for bad in [
                ".DELETE.",
                ".PURGE.",
                ".MSG.DELETE",
                "STREAM.LIST",
                "STREAM.NAMES",
            ] {
                assert!(!subject.contains(bad), "{role} may publish {subject}");
            }
            assert!(
                subject
                    .split('.')
                    .next()
                    .is_some_and(|t| t != ">" && t != "*"),
                "{role} may publish {subject}"
            );
            assert!(
                !["$JS.>", "$JS.API.>", "herald.>", "$KV.>"].contains(&subject.as_str()),
                "{role} may publish {subject}"
            );
        }
        assert_eq!(
            lists.subscribe,
            [format!("_INBOX_{role}.>")],
            "{role} reads its own replies only"
        );
    }
}

/// Starts `herald <role>` as node `id`, connecting to NATS as the user `role` with the
/// password in `password`, and waits for its registration (made only once NATS let it
/// in and it declared the topology).
async fn spawn_role(
    role: &str,
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
    password: &Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> (Child, herald_rules::NodeInfo) {
    herald_harness::node(HERALD, role, &format!("{role}-chart-permissions"))
        .nats(nats.client_url())
        .etcd(etcd.client_url())
        .env("HERALD_NATS__USER", role)
        .env("HERALD_NATS__PASSWORD__FILE", password)
        .env("HERALD_EDGE__HTTP_LISTEN", "127.0.0.1:0")
        .env("HERALD_SIM_PASSWORD", "simsecret")
        .env("HERALD_CONNECTOR__SLOT_LEASE_TTL", "3s")
        .env("HERALD_NATS__PARTITIONS", PARTITIONS.to_string())
        .envs(env.iter().copied())
        .hint(
            "with its chart permissions (HERALD_TEST_NATS_LOG=<file> keeps the server's \
             permission violations)",
        )
        .spawn(client)
        .await
}

/// The account `acme`, the carrier `sim` at the simulator, a route for every number and
/// an MO route from the short code 80080 to `acme`.
async fn seed(client: &RulesClient, sim_port: u16) {
    let acme = serde_json::json!({ "quota": { "tps": 10000 }, "window": 100 });
    seed::account(client, "acme", "secret", acme).await;
    seed::carrier(client, sim_port, serde_json::json!({})).await;
    seed::route(client, "all", &[]).await;
    let mo_route =
        serde_json::json!({ "id": "acme-mo", "destination": "80080", "account": "acme" });
    client
        .put_json(
            Kind::MoRoute,
            "acme-mo",
            &mo_route.to_string(),
            Expected::Any,
        )
        .await
        .unwrap();
}

async fn bind_as(smpp: &str, password: &str) -> Result<(Session, Inbox), CommandStatus> {
    let io = TcpStream::connect(smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from(password),
        interface_version: 0x34,
        ..Bind::default()
    };
    match bind(io, SessionConfig::default(), BindMode::Transceiver, request).await {
        Ok((session, inbox, _)) => Ok((session, inbox)),
        Err(herald_smpp::session::BindError::Rejected(status)) => Err(status),
        Err(other) => panic!("bind: {other}"),
    }
}

fn submit(i: usize, text: &'static [u8], receipt: bool) -> PduBody {
    PduBody::SubmitSm(SubmitSm {
        source: Address::international("447700900000"),
        dest: Address::international(&format!("4477009{i:05}")),
        short_message: Bytes::from_static(text),
        registered_delivery: RegisteredDelivery(u8::from(receipt)),
        ..SubmitSm::default()
    })
}

async fn submitted_id(session: &Session, body: PduBody) -> String {
    let resp = session.request(body).await.unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK, "{resp:?}");
    let PduBody::SubmitSmResp(resp) = resp.body else {
        panic!("{resp:?}")
    };
    resp.message_id.to_string_lossy()
}

/// `query_sm`'s `message_state` for `id`, when answered OK.
async fn query_state(session: &Session, id: &str) -> Option<u8> {
    let body = PduBody::QuerySm(QuerySm {
        message_id: COctetString::from(id),
        ..QuerySm::default()
    });
    let resp = session.request(body).await.unwrap();
    match resp.body {
        PduBody::QuerySmResp(r) if resp.command_status == CommandStatus::ESME_ROK => {
            Some(r.message_state)
        }
        _ => None,
    }
}

/// An HTTP/1.1 request as the account `acme` to the edge's HTTP API at `addr`, with a JSON
/// body under an Idempotency-Key when given; the status and the body.
async fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Basic YWNtZTpzZWNyZXQ=\r\n"
    );
    if let Some((key, json)) = body {
        request.push_str(&format!(
            "Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A client of one role's user, keeping what the server refused it.
struct Probe {
    role: &'static str,
    client: async_nats::Client,
    jetstream: async_nats::jetstream::Context,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Probe {
    async fn connect(url: &str, role: &'static str, password: &str) -> Probe {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = errors.clone();
        let client = async_nats::ConnectOptions::with_user_and_password(
            role.to_owned(),
            password.to_owned(),
        )
        // As a node of the role connects: its replies under its own prefix.
        .custom_inbox_prefix(format!("_INBOX_{role}"))
        .event_callback(move |event| {
            let seen = seen.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    seen.lock().unwrap().push(error.to_string());
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{role} with its password: {e}"));
        let jetstream = async_nats::jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(1))
            .build(client.clone());
        Probe {
            role,
            client,
            jetstream,
            errors,
        }
    }

    /// Waits for the server to say it refused `role` publishing (or subscribing) to
    /// `subject`.
    async fn refused(&self, action: &str, subject: &str) {
        let want = format!("Permissions Violation for {action} to \"{subject}\"");
        let role = self.role;
        eventually(&format!("NATS refuses {role}: {want}"), || async {
            self.errors
                .lock()
                .unwrap()
                .iter()
                .any(|e| e.contains(&want))
        })
        .await;
    }

    /// Publishes to `subject` (no ack wanted) and waits for the refusal.
    async fn publish_refused(&self, subject: &str) {
        self.client
            .publish(subject.to_owned(), Bytes::from_static(b"forged"))
            .await
            .unwrap();
        self.client.flush().await.unwrap();
        self.refused("Publish", subject).await;
    }
}

/// The last sequence of each stream the probes publish to (all but HERALD_EVENTS, where a
/// late receipt may still land): unchanged when nothing was stored.
async fn stream_sequences(inspector: &async_nats::jetstream::Context) -> Vec<(String, u64)> {
    let mut sequences = Vec::new();
    for name in [
        "HERALD_MT",
        "HERALD_MT_P1",
        "HERALD_OUT",
        "HERALD_OUT_P1",
        "HERALD_EVENTS_P1",
        "HERALD_MO",
        "HERALD_DLQ",
        "KV_herald_cancels",
        "KV_herald_idempotency",
    ] {
        let mut stream = inspector.get_stream(name).await.unwrap();
        let info = stream.info().await.unwrap();
        sequences.push((name.to_owned(), info.state.last_sequence));
    }
    sequences
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_works_with_its_chart_permissions_and_is_refused_the_others_subjects() {
    let permissions = permissions();
    let mut passwords: BTreeMap<&str, String> = BTreeMap::new();
    for (i, user) in ROLES.iter().chain(&[INSPECTOR]).enumerate() {
        passwords.insert(user, format!("{user}-password-{i}-Zq7"));
    }
    // The server's log, where it names every permission violation.
    let logs = tempfile::tempdir().unwrap();
    let log = std::env::var_os("HERALD_TEST_NATS_LOG")
        .map_or_else(|| logs.path().join("nats.log"), PathBuf::from);
    let nats = herald_harness::nats()
        .config(authorization(&permissions, &passwords))
        .config(format!("log_file: {}", quoted(&log.to_string_lossy())))
        .run()
        .await
        .unwrap();
    let etcd = herald_harness::etcd().run().await.unwrap();
    let client = RulesClient::connect(&StoreConfig::new([etcd.client_url()]))
        .await
        .unwrap();
    let sim = herald_sim::SimSmsc::start_local(herald_sim::SimConfig {
        system_id: "herald".into(),
        password: "simsecret".into(),
        receipt_delay: Duration::from_millis(20),
        record_submits: true,
        ..herald_sim::SimConfig::default()
    })
    .await
    .unwrap();
    seed(&client, sim.local_addr().port()).await;

    let dir = tempfile::tempdir().unwrap();
    let password_file = |role: &str| {
        let path = dir.path().join(format!("{role}-nats-password"));
        // As a mounted Secret may hold it: a trailing newline, trimmed by Herald.
        std::fs::write(&path, format!("{}\n", passwords[role])).unwrap();
        path
    };
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{ADMIN_TOKEN}\n")).unwrap();

    // Edge, router and control first: what the ESME submits waits in the carrier's queue
    // until the connector comes, so a cancel and a replace act before it is sent.
    let (_edge, edge) =
        spawn_role("edge", &nats, &etcd, &client, &password_file("edge"), &[]).await;
    let (_router, _) = spawn_role(
        "router",
        &nats,
        &etcd,
        &client,
        &password_file("router"),
        &[],
    )
    .await;
    let (_control, control) = spawn_role(
        "control",
        &nats,
        &etcd,
        &client,
        &password_file("control"),
        &[("HERALD_CONTROL__TOKENS_FILE", tokens.as_os_str())],
    )
    .await;
    let smpp = edge.addresses["smpp"].clone();

    // A wrong password: the edge counts it in the shared lockouts bucket.
    assert_eq!(
        bind_as(&smpp, "not-the-password").await.err(),
        Some(CommandStatus::ESME_RINVPASWD)
    );
    let (session, mut inbox) = bind_as(&smpp, "secret").await.unwrap();
    let doomed = submitted_id(&session, submit(0, b"cancel me", false)).await;
    let cancel = PduBody::CancelSm(CancelSm {
        message_id: COctetString::from(doomed.as_str()),
        ..CancelSm::default()
    });
    assert_eq!(
        session.request(cancel).await.unwrap().command_status,
        CommandStatus::ESME_ROK
    );
    let amended = submitted_id(&session, submit(1, b"replace me", true)).await;
    let replace = PduBody::ReplaceSm(ReplaceSm {
        message_id: COctetString::from(amended.as_str()),
        short_message: Bytes::from_static(b"replaced text"),
        ..ReplaceSm::default()
    });
    assert_eq!(
        session.request(replace).await.unwrap().command_status,
        CommandStatus::ESME_ROK
    );
    // (replace_sm sets registered_delivery anew: the replaced message asks for no receipt.)
    let mut expected = HashSet::new();
    for i in 2..12 {
        expected.insert(submitted_id(&session, submit(i, b"must arrive", true)).await);
    }

    let (_connector, _) = spawn_role(
        "connector",
        &nats,
        &etcd,
        &client,
        &password_file("connector"),
        &[],
    )
    .await;

    // Every kept message reaches the carrier and its DELIVRD receipt comes back.
    let mut receipted = HashSet::new();
    while receipted.len() < expected.len() {
        let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "a receipt; the carrier took {} messages, receipts came for {receipted:?}",
                    sim.submitted().len()
                )
            })
            .unwrap();
        let PduBody::DeliverSm(sm) = &inbound.pdu.body else {
            panic!("{:?}", inbound.pdu.body)
        };
        let tlvs = herald_smpp::receipt::ReceiptTlvs::from_tlvs(&sm.tlvs).unwrap();
        let id = tlvs.receipted_message_id.expect("a receipt");
        assert!(expected.contains(&id), "a receipt for {id}");
        assert_eq!(
            tlvs.message_state,
            Some(herald_smpp::receipt::MessageState::Delivered)
        );
        receipted.insert(id);
        inbound.responder.respond(
            PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
            CommandStatus::ESME_ROK,
        );
    }
    let sent = sim.submitted();
    let texts: Vec<&[u8]> = sent.iter().map(|s| s.user_data.as_ref()).collect();
    assert_eq!(sent.len(), expected.len() + 1, "{texts:?}");
    assert!(texts.contains(&&b"replaced text"[..]), "{texts:?}");
    assert!(!texts.contains(&&b"cancel me"[..]), "{texts:?}");
    assert!(!texts.contains(&&b"replace me"[..]), "{texts:?}");

    // query_sm reads the status: the cancelled one DELETED, a kept one DELIVERED.
    let kept = expected.iter().next().unwrap().clone();
    eventually("query_sm: the cancelled message is DELETED", || async {
        query_state(&session, &doomed).await == Some(4)
    })
    .await;
    eventually("query_sm: a kept message is DELIVERED", || async {
        query_state(&session, &kept).await == Some(2)
    })
    .await;

    // MO: carrier → connector → router (MO routing) → edge → the ESME.
    eventually("the carrier hands an MO to a bound connector", || async {
        sim.send_mo("447700900123", "80080", "HELLO there").await == Some(CommandStatus::ESME_ROK)
    })
    .await;
    let inbound = tokio::time::timeout(PATIENCE, inbox.recv())
        .await
        .expect("the MO")
        .unwrap();
    let PduBody::DeliverSm(mo) = &inbound.pdu.body else {
        panic!("{:?}", inbound.pdu.body)
    };
    assert_eq!(mo.short_message.as_ref(), b"HELLO there");
    inbound.responder.respond(
        PduBody::DeliverSmResp(herald_smpp::pdu::MessageIdResp::default()),
        CommandStatus::ESME_ROK,
    );

    // A receipt for an id nobody sent: the connector holds it in the dead letters.
    assert_eq!(
        sim.send_receipt(
            "deadbeef",
            herald_smpp::receipt::MessageState::Delivered,
            Address::alphanumeric("ACME"),
            Address::international("447700900001"),
        )
        .await,
        Some(CommandStatus::ESME_ROK)
    );

    // The HTTP API: a request with an Idempotency-Key, retried, is answered the same and
    // sent once; its status is read back. Its priority puts it in the urgent lane, whose
    // subjects and consumers are the roles' too.
    let http = edge.addresses["http"].clone();
    let body = r#"{"from": "Herald", "to": "+447700900099", "text": "over http", "priority": 1}"#;
    let (status, first) =
        http_request(&http, "POST", "/v1/messages", Some(("chart-key", body))).await;
    assert_eq!(status, 202, "{first}");
    let (status, again) =
        http_request(&http, "POST", "/v1/messages", Some(("chart-key", body))).await;
    assert_eq!(status, 202, "{again}");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        first["messages"], again["messages"],
        "the retry got the first answer"
    );
    let id = first["messages"][0]["ids"][0]
        .as_str()
        .expect("a message id")
        .to_owned();
    eventually("the HTTP message is sent, once", || async {
        sim.submitted().len() == sent.len() + 1
    })
    .await;
    let (status, record) = http_request(&http, "GET", &format!("/v1/messages/{id}"), None).await;
    assert_eq!(status, 200, "{record}");
    let sent = sim.submitted();

    // The admin API reads a message's status and its history.
    let mut api = AdminServiceClient::connect(format!("http://{}", control.addresses["control"]))
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetMessageRequest {
        message_id: kept.clone(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    let message = api.get_message(request).await.unwrap().into_inner();
    // It stores ported numbers, twice: the second replaces the first (a purge of its
    // chunks), and the routers follow the store.
    for csv in ["447700900123,23430\n", "447700900124,23430\n"] {
        let chunk = herald_proto::admin::v1::PortedNumbersChunk {
            csv: csv.as_bytes().to_vec(),
            replace: true,
        };
        let mut request = tonic::Request::new(futures::stream::iter(vec![chunk]));
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
        );
        let imported = api
            .import_ported_numbers(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(imported.numbers, 1, "{imported:?}");
    }
    // It lists an account's dead letters (an ordered consumer on HERALD_DLQ).
    let mut request = tonic::Request::new(herald_proto::admin::v1::DeadLettersRequest {
        account_id: "acme".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    let listed = api.list_dead_letters(request).await.unwrap().into_inner();
    assert!(listed.letters.is_empty(), "{listed:?}");
    assert_eq!(message.state, "delivered", "{message:?}");
    assert_eq!(
        message.history.last().map(|h| h.state.as_str()),
        Some("final"),
        "{message:?}"
    );

    // What the roles wrote, seen by the test's own user.
    let inspector = async_nats::ConnectOptions::with_user_and_password(
        INSPECTOR.to_owned(),
        passwords[INSPECTOR].clone(),
    )
    .connect(nats.client_url())
    .await
    .unwrap();
    let inspector = async_nats::jetstream::new(inspector);
    let lockouts = inspector.get_key_value("herald_lockouts").await.unwrap();
    eventually("the failed bind is in the shared lockouts", || async {
        lockouts.get("account.acme").await.unwrap().is_some()
    })
    .await;
    eventually(
        "the unmatched receipt is held in the dead letters",
        || async {
            let mut dlq = inspector.get_stream("HERALD_DLQ").await.unwrap();
            let info = dlq.info().await.unwrap();
            info.state.messages > 0
                && dlq
                    .get_last_raw_message_by_subject("herald.dlq.receipts.sim")
                    .await
                    .is_ok()
        },
    )
    .await;

    // None of the roles' own connections was refused anything.
    let refused: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("Violation"))
        .map(str::to_owned)
        .collect();
    assert!(
        refused.is_empty(),
        "the chart's permissions refused a role: {refused:#?}"
    );

    // Narrow: each role is refused what belongs to another, and nothing it tried landed.
    let url = nats.client_url();
    let before = stream_sequences(&inspector).await;
    let edge = Probe::connect(&url, "edge", &passwords["edge"]).await;
    let router = Probe::connect(&url, "router", &passwords["router"]).await;
    let connector = Probe::connect(&url, "connector", &passwords["connector"]).await;
    let control = Probe::connect(&url, "control", &passwords["control"]).await;

    // The edge: no MT straight to a carrier, no forged receipt holds, no reading the
    // carrier-id map, no taking the routers' MT, no listening to MT.
    edge.publish_refused("herald.out.sim").await;
    edge.publish_refused("$KV.herald_status.x").await;
    edge.publish_refused("$KV.herald_status_p1.x").await;
    edge.publish_refused("$KV.herald_carrier_ids_p1.sim.deadbeef")
        .await;
    edge.publish_refused("herald.dlq.receipts.sim").await;
    edge.publish_refused("$KV.herald_carrier_ids.sim.deadbeef")
        .await;
    let read = edge.jetstream.get_key_value("herald_carrier_ids").await;
    assert!(read.is_err(), "the edge opened the carrier-id map");
    edge.refused("Publish", "$JS.API.STREAM.INFO.KV_herald_carrier_ids")
        .await;
    edge.publish_refused(
        "$JS.API.DIRECT.GET.KV_herald_carrier_ids.$KV.herald_carrier_ids.sim.deadbeef",
    )
    .await;
    edge.publish_refused("$JS.API.CONSUMER.CREATE.HERALD_MT.routers.herald.mt.>")
        .await;
    edge.publish_refused("$JS.API.CONSUMER.MSG.NEXT.HERALD_OUT.carrier-sim")
        .await;
    edge.publish_refused("$JS.API.CONSUMER.MSG.NEXT.HERALD_MT.routers-urgent")
        .await;
    edge.publish_refused("herald.out.sim.urgent").await;
    let _sub = edge.client.subscribe("herald.mt.>").await.unwrap();
    edge.client.flush().await.unwrap();
    edge.refused("Subscription", "herald.mt.>").await;
    // Nor another role's replies (each reads its own, under `_INBOX_<role>`).
    let _replies = edge.client.subscribe("_INBOX_router.>").await.unwrap();
    edge.client.flush().await.unwrap();
    edge.refused("Subscription", "_INBOX_router.>").await;

    // The router: no lockouts, cancel marks or idempotency keys, no held receipts, no
    // carrier-id map.
    router
        .publish_refused("$KV.herald_lockouts.account.forged")
        .await;
    router.publish_refused("$KV.herald_cancels.acme.x").await;
    router
        .publish_refused("$KV.herald_idempotency.acme.x")
        .await;
    router.publish_refused("herald.dlq.receipts.sim").await;
    router
        .publish_refused("$JS.API.STREAM.INFO.KV_herald_carrier_ids")
        .await;
    router
        .publish_refused("$JS.API.CONSUMER.CREATE.HERALD_EVENTS.account-acme.herald.ev.acme.>")
        .await;

    // The connector: no cancel marks written, no account's events taken, no lockouts.
    connector.publish_refused("$KV.herald_cancels.acme.x").await;
    connector
        .publish_refused("$JS.API.CONSUMER.MSG.NEXT.HERALD_EVENTS.account-acme")
        .await;
    connector
        .publish_refused("$JS.API.DIRECT.GET.KV_herald_lockouts.$KV.herald_lockouts.account.acme")
        .await;
    connector
        .publish_refused("$JS.API.CONSUMER.CREATE.HERALD_MT.routers.herald.mt.>")
        .await;

    // Control: reads status only.
    control.publish_refused("herald.mt.acme").await;
    router.publish_refused("$O.herald_porting.M.forged").await;
    edge.publish_refused("$JS.API.STREAM.PURGE.OBJ_herald_porting")
        .await;
    control.publish_refused("herald.out.sim").await;
    control.publish_refused("$KV.herald_status.x").await;
    control
        .publish_refused("$JS.API.DIRECT.GET.KV_herald_carrier_ids.$KV.herald_carrier_ids.sim.x")
        .await;

    // Nobody deletes or purges.
    for probe in [&edge, &router, &connector, &control] {
        let deleted = probe.jetstream.delete_stream("HERALD_MT").await;
        assert!(deleted.is_err(), "{} deleted HERALD_MT", probe.role);
        probe
            .refused("Publish", "$JS.API.STREAM.DELETE.HERALD_MT")
            .await;
        probe
            .publish_refused("$JS.API.STREAM.PURGE.HERALD_OUT")
            .await;
    }
    let after = stream_sequences(&inspector).await;
    assert_eq!(before, after, "a refused publish reached a stream");
    // `acme` is in partition 1 of 2: its MT and events went through the partitions'
    // streams, under the chart's permissions for them.
    for partitioned in ["HERALD_MT_P1", "HERALD_EVENTS_P1"] {
        let sequence = after
            .iter()
            .find(|(name, _)| name == partitioned)
            .map(|(_, s)| *s);
        assert!(sequence > Some(0), "nothing went through {partitioned}");
    }
    for bucket in ["herald_status", "herald_status_p1"] {
        let status = inspector.get_key_value(bucket).await.unwrap();
        for key in ["x", "forged"] {
            assert!(
                status.get(key).await.unwrap().is_none(),
                "a forged status {key} in {bucket}"
            );
        }
    }
    assert!(
        lockouts.get("account.forged").await.unwrap().is_none(),
        "a forged lockout"
    );
    for bucket in ["herald_carrier_ids", "herald_carrier_ids_p1"] {
        let carrier_ids = inspector.get_key_value(bucket).await.unwrap();
        assert!(
            carrier_ids.get("sim.deadbeef").await.unwrap().is_none(),
            "a forged carrier id in {bucket}"
        );
    }
    assert_eq!(sim.submitted().len(), sent.len(), "nothing more was sent");

    // No one without a password, nor with another's.
    let anonymous = async_nats::connect(nats.client_url()).await;
    assert!(anonymous.is_err(), "an anonymous client got in");
    let wrong = async_nats::ConnectOptions::with_user_and_password(
        "edge".into(),
        passwords["router"].clone(),
    )
    .connect(nats.client_url())
    .await;
    assert!(wrong.is_err(), "the edge got in with the router's password");
}
