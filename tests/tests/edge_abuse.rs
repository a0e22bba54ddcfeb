//! The edge against hostile clients (issue 16), on real NATS and etcd: one test per
//! attack, each failing on an edge without the limit it checks.
//!
//! - a flood of connections past the caps, per address and in all, SMPP and HTTP;
//! - `edge.max_sessions` holding;
//! - an ESME that never reads: reading it stops, edge memory stays bounded, and the
//!   session is closed after the write timeout, its bind freed;
//! - a large PDU announced before any bind;
//! - unknown `system_id` and wrong password looking the same (SMPP and HTTP);
//! - a password flood: locked out, one check per address at a time, and another
//!   account's bind not starved; a password this edge verified before still binds;
//! - guesses spread over two edges: counted together, and the lockout holds on both.
//!
//! Clients use several loopback addresses (127.0.0.x) to stand for several hosts.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use herald_config::EdgeConfig;
use herald_harness::PATIENCE;
use herald_smpp::pdu::Bind;
use herald_smpp::session::{BindError, BindMode, Session, SessionConfig, bind};
use herald_smpp::{CommandId, CommandStatus, Pdu, PduBody};
use herald_tests::cluster::Cluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn config() -> EdgeConfig {
    EdgeConfig {
        failed_bind_delay: Duration::from_millis(10),
        ..EdgeConfig::default()
    }
}

/// A TCP connection to `port` on 127.0.0.1 from the loopback address `from`.
async fn connect_from(from: [u8; 4], port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::from(from), 0)).unwrap();
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

/// Whether the edge closed `stream` (EOF or reset) within a second.
async fn closed_by_edge(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Binds as `system_id` / `password` from the loopback address `from`.
async fn bind_from(
    from: [u8; 4],
    port: u16,
    system_id: &str,
    password: &str,
) -> Result<Session, BindError> {
    let io = connect_from(from, port).await;
    let request = Bind {
        system_id: system_id.into(),
        password: password.into(),
        interface_version: 0x34,
        ..Bind::default()
    };
    bind(io, SessionConfig::default(), BindMode::Transceiver, request)
        .await
        .map(|(session, _inbox, _)| session)
}

fn rejected(result: &Result<Session, BindError>) -> Option<CommandStatus> {
    match result {
        Err(BindError::Rejected(status)) => Some(*status),
        _ => None,
    }
}

/// A raw HTTP/1.1 request; the status code and body.
async fn http(port: u16, from: [u8; 4], request: &str) -> (u16, String) {
    let mut stream = connect_from(from, port).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

fn status_request(user_password_base64: &str) -> String {
    format!(
        "GET /v1/messages/M1 HTTP/1.1\r\nHost: edge\r\nAuthorization: Basic {user_password_base64}\r\nConnection: close\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_caps_are_closed_as_they_are_accepted() {
    let cluster = Cluster::start_with(
        &[("acme", "secret", 10)],
        EdgeConfig {
            max_connections: 6,
            max_connections_per_ip: 4,
            ..config()
        },
    )
    .await
    .unwrap();
    let (smpp, http_port) = (cluster.edge_port, cluster.http_port);
    // Four from one address, SMPP and HTTP together: the fifth is closed at once.
    let mut held = Vec::new();
    for port in [smpp, smpp, http_port, http_port] {
        held.push(connect_from([127, 0, 0, 2], port).await);
    }
    for stream in &mut held {
        assert!(!closed_by_edge(stream).await, "admitted ones stay open");
    }
    let mut fifth = connect_from([127, 0, 0, 2], smpp).await;
    assert!(closed_by_edge(&mut fifth).await, "past the per-address cap");
    let mut over_http = connect_from([127, 0, 0, 2], http_port).await;
    assert!(
        closed_by_edge(&mut over_http).await,
        "the HTTP listener too"
    );
    // Two more from another address fill the edge; the next from a third is refused.
    let mut others = vec![
        connect_from([127, 0, 0, 3], smpp).await,
        connect_from([127, 0, 0, 3], smpp).await,
    ];
    for stream in &mut others {
        assert!(!closed_by_edge(stream).await);
    }
    let mut over_total = connect_from([127, 0, 0, 4], smpp).await;
    assert!(closed_by_edge(&mut over_total).await, "past the total cap");
    // Places come back when connections close, and the ESME binds.
    drop(held);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match bind_from([127, 0, 0, 4], smpp, "acme", "secret").await {
            Ok(_) => break,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "never bound: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_holds_no_more_than_max_sessions() {
    let cluster = Cluster::start_with(
        &[("acme", "secret", 10)],
        EdgeConfig {
            max_sessions: 2,
            ..config()
        },
    )
    .await
    .unwrap();
    let first = bind_from([127, 0, 0, 2], cluster.edge_port, "acme", "secret").await;
    let second = bind_from([127, 0, 0, 2], cluster.edge_port, "acme", "secret").await;
    assert!(first.is_ok() && second.is_ok());
    let third = bind_from([127, 0, 0, 2], cluster.edge_port, "acme", "secret").await;
    assert_eq!(
        rejected(&third),
        Some(CommandStatus::ESME_RBINDFAIL),
        "the account allows 10 binds, the edge 2"
    );
}

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_esme_that_never_reads_costs_bounded_memory_and_is_closed() {
    let cluster = Cluster::start_with(
        &[("acme", "secret", 10), ("lonely", "secret", 1)],
        EdgeConfig {
            write_timeout: Duration::from_secs(3),
            ..config()
        },
    )
    .await
    .unwrap();
    let mut stream = connect_from([127, 0, 0, 2], cluster.edge_port).await;
    let bind_pdu = Pdu::new(
        1,
        PduBody::BindTransceiver(Bind {
            system_id: "lonely".into(),
            password: "secret".into(),
            interface_version: 0x34,
            ..Bind::default()
        }),
    );
    stream
        .write_all(&bind_pdu.to_bytes().unwrap())
        .await
        .unwrap();
    let mut resp = [0u8; 64];
    let n = stream.read(&mut resp).await.unwrap();
    let bound = Pdu::decode(bytes_of(&resp[..n])).unwrap();
    assert_eq!(bound.command_id(), CommandId::BindTransceiverResp);
    assert!(bound.command_status.is_ok());
    // Now only write: 64 MiB of enquire_links if the edge would take them.
    let before = rss_kib();
    let link = Pdu::new(2, PduBody::EnquireLink).to_bytes().unwrap();
    let chunk: Vec<u8> = link.iter().copied().cycle().take(64 * 1024).collect();
    let mut written = 0usize;
    while written < 64 * 1024 * 1024 {
        match tokio::time::timeout(Duration::from_secs(10), stream.write_all(&chunk)).await {
            Ok(Ok(())) => written += chunk.len(),
            // Closed by the edge, or no longer read: either way the flood is over.
            _ => break,
        }
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!(
        "the edge took {} KiB of a non-reading ESME's flood; this process grew {grown} KiB",
        written / 1024
    );
    assert!(
        written < 32 * 1024 * 1024,
        "reading stopped: {written} bytes taken"
    );
    assert!(grown < 64 * 1024, "memory stayed bounded: grew {grown} KiB");
    // The session was closed, so the account's one bind is free again.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match bind_from([127, 0, 0, 3], cluster.edge_port, "lonely", "secret").await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the stalled session kept its bind: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn bytes_of(slice: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(slice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_pdu_announced_before_a_bind_is_refused_without_a_buffer() {
    let cluster = Cluster::start("acme", "secret").await.unwrap();
    let mut stream = connect_from([127, 0, 0, 2], cluster.edge_port).await;
    let mut header = Vec::new();
    for word in [70_000u32, 0x0000_0009, 0, 1] {
        header.extend_from_slice(&word.to_be_bytes());
    }
    stream.write_all(&header).await.unwrap();
    let mut answer = [0u8; 16];
    stream.read_exact(&mut answer).await.unwrap();
    let nack = Pdu::decode(bytes_of(&answer)).unwrap();
    assert_eq!(nack.command_id(), CommandId::GenericNack);
    assert_eq!(nack.command_status, CommandStatus::ESME_RINVCMDLEN);
    assert!(closed_by_edge(&mut stream).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_system_id_and_a_wrong_password_look_the_same() {
    let cluster = Cluster::start("acme", "secret").await.unwrap();
    let unknown = bind_from([127, 0, 0, 2], cluster.edge_port, "nobody", "secret").await;
    let wrong = bind_from([127, 0, 0, 3], cluster.edge_port, "acme", "wrong").await;
    assert_eq!(rejected(&unknown), Some(CommandStatus::ESME_RINVPASWD));
    assert_eq!(rejected(&unknown), rejected(&wrong));
    // Over HTTP: the same status and the same words. "nobody:secret", "acme:wrong".
    let unknown = http(
        cluster.http_port,
        [127, 0, 0, 4],
        &status_request("bm9ib2R5OnNlY3JldA=="),
    )
    .await;
    let wrong = http(
        cluster.http_port,
        [127, 0, 0, 5],
        &status_request("YWNtZTp3cm9uZw=="),
    )
    .await;
    assert_eq!(unknown.0, 401);
    assert_eq!(unknown, wrong);

    // A private deployment may ask for the details.
    let detailed = Cluster::start_with(
        &[("acme", "secret", 10)],
        EdgeConfig {
            detailed_bind_errors: true,
            ..config()
        },
    )
    .await
    .unwrap();
    let unknown = bind_from([127, 0, 0, 2], detailed.edge_port, "nobody", "secret").await;
    assert_eq!(rejected(&unknown), Some(CommandStatus::ESME_RINVSYSID));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_flood_is_locked_out_and_does_not_starve_other_accounts() {
    let cluster = Cluster::start_with(
        &[("acme", "secret", 10), ("other", "hunter2", 4)],
        EdgeConfig {
            lockout_failures: 5,
            lockout: Duration::from_secs(60),
            password_checks: 1,
            password_check_queue: 4,
            // The per-address answer delay would slow this test to minutes; the lockout
            // and the check limits are what it looks at.
            failed_bind_delay: Duration::ZERO,
            ..config()
        },
    )
    .await
    .unwrap();
    let port = cluster.edge_port;
    // acme binds once, so this edge knows its password.
    let _known = bind_from([127, 0, 0, 9], port, "acme", "secret")
        .await
        .unwrap();

    // A guesser floods acme from one address, 40 attempts at once.
    let flood: Vec<_> = (0..40)
        .map(|i| {
            tokio::spawn(async move {
                bind_from([127, 0, 0, 2], port, "acme", &format!("guess{i}")).await
            })
        })
        .collect();
    // Meanwhile another account binds for the first time (its own argon2 check).
    let other = bind_from([127, 0, 0, 3], port, "other", "hunter2").await;
    assert!(
        other.is_ok(),
        "another account was starved: {:?}",
        other.err()
    );
    let mut answers = std::collections::BTreeMap::new();
    for attempt in flood {
        let status = rejected(&attempt.await.unwrap()).expect("no guess binds");
        *answers.entry(status.name()).or_insert(0) += 1;
    }
    eprintln!("the flood's answers: {answers:?}");
    assert!(
        answers.contains_key("ESME_RSYSERR"),
        "one check per address at a time: {answers:?}"
    );

    // The guesser goes on, one at a time, until it is locked out.
    let mut checked = 0;
    loop {
        let guess = bind_from([127, 0, 0, 2], port, "acme", "guess").await;
        match rejected(&guess) {
            Some(CommandStatus::ESME_RTHROTTLED) => break,
            Some(CommandStatus::ESME_RINVPASWD) => checked += 1,
            other => panic!("unexpected answer {other:?}"),
        }
        assert!(
            checked <= 5,
            "more than the lockout's failures were checked"
        );
    }
    // Its address is locked out whatever it tries; acme's wrong passwords too, from
    // anywhere...
    let from_guesser = bind_from([127, 0, 0, 2], port, "someone", "else").await;
    assert_eq!(
        rejected(&from_guesser),
        Some(CommandStatus::ESME_RTHROTTLED)
    );
    let elsewhere = bind_from([127, 0, 0, 5], port, "acme", "wrong").await;
    assert_eq!(rejected(&elsewhere), Some(CommandStatus::ESME_RTHROTTLED));
    // ...but acme's own ESMEs, whose password this edge verified, still bind.
    assert!(
        bind_from([127, 0, 0, 6], port, "acme", "secret")
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_spread_over_edges_add_up_and_a_lockout_holds_on_every_edge() {
    let lockout = EdgeConfig {
        lockout_failures: 4,
        lockout: Duration::from_secs(60),
        failed_bind_delay: Duration::ZERO,
        ..config()
    };
    let mut cluster = Cluster::start_with(&[("acme", "secret", 10)], lockout.clone())
        .await
        .unwrap();
    let (second, second_http) = cluster.another_edge(lockout).await.unwrap();
    let edges = [cluster.edge_port, second];

    // A guesser behind a load balancer: each edge sees two of acme's four failures, from
    // two addresses, so no edge reaches the count on its own.
    for (i, from) in [[127, 0, 0, 21], [127, 0, 0, 22]].into_iter().enumerate() {
        for port in edges {
            let guess = bind_from(from, port, "acme", &format!("guess{i}")).await;
            assert_eq!(rejected(&guess), Some(CommandStatus::ESME_RINVPASWD));
        }
    }
    // The fourth failure locked acme on both edges: its next wrong password is refused
    // unchecked wherever it goes, also over HTTP, from an address never seen.
    for port in edges {
        let after = bind_from([127, 0, 0, 23], port, "acme", "guess").await;
        assert_eq!(rejected(&after), Some(CommandStatus::ESME_RTHROTTLED));
    }
    let (code, _) = http(
        second_http,
        [127, 0, 0, 24],
        &status_request("YWNtZTp3cm9uZw=="), // acme:wrong
    )
    .await;
    assert_eq!(
        code, 429,
        "the HTTP API of another edge knows the lockout too"
    );

    // An address locked on one edge is locked on the other.
    for i in 0..4 {
        let guess = bind_from([127, 0, 0, 25], edges[0], &format!("nobody{i}"), "x").await;
        assert_eq!(rejected(&guess), Some(CommandStatus::ESME_RINVPASWD));
    }
    let elsewhere = bind_from([127, 0, 0, 25], edges[1], "someone", "else").await;
    assert_eq!(rejected(&elsewhere), Some(CommandStatus::ESME_RTHROTTLED));
    let record = cluster
        .bus
        .auth_failures()
        .await
        .unwrap()
        .get(&herald_bus::LockoutKey::new("address", "127.0.0.25"))
        .await
        .unwrap()
        .expect("the address's record is in the bus");
    assert_eq!(record.lockouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_http_client_is_cut_off_while_others_are_served() {
    let cluster = Cluster::start_with(
        &[("acme", "secret", 10)],
        EdgeConfig {
            http_header_timeout: Duration::from_secs(2),
            http_body_timeout: Duration::from_secs(2),
            ..config()
        },
    )
    .await
    .unwrap();
    let port = cluster.http_port;
    // Slowloris: headers one byte at a time, never finished.
    let slow_headers = tokio::spawn(async move {
        let mut stream = connect_from([127, 0, 0, 2], port).await;
        let started = tokio::time::Instant::now();
        stream
            .write_all(b"POST /v1/messages HTTP/1.1\r\nHost: edge\r\n")
            .await
            .unwrap();
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
            .take(60)
        {
            if stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            let mut probe = [0u8; 256];
            let read =
                tokio::time::timeout(Duration::from_millis(500), stream.read(&mut probe)).await;
            if matches!(read, Ok(Ok(0) | Err(_))) {
                return started.elapsed();
            }
        }
        started.elapsed()
    });
    // A body that never comes, after good credentials ("acme:secret").
    let slow_body = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let mut stream = connect_from([127, 0, 0, 3], port).await;
        stream
            .write_all(
                b"POST /v1/messages HTTP/1.1\r\nHost: edge\r\nAuthorization: Basic YWNtZTpzZWNyZXQ=\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"to\"",
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    });
    // Meanwhile an ordinary client is served, and one without credentials is refused
    // before it sends the megabyte it announces.
    let (code, _) = http(port, [127, 0, 0, 4], &status_request("YWNtZTpzZWNyZXQ=")).await;
    assert_eq!(code, 404, "an unknown message of a served client");
    let (code, body) = http(
        port,
        [127, 0, 0, 5],
        "POST /v1/messages HTTP/1.1\r\nHost: edge\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(code, 401, "{body}");

    let cut_after = slow_headers.await.unwrap();
    assert!(
        cut_after < Duration::from_secs(15),
        "the slow headers were cut off after {cut_after:?}"
    );
    let (took, answer) = slow_body.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_of_unknown_ids_write_nothing_and_cost_the_accounts_rate() {
    let cluster = Cluster::start("acme", "secret").await.unwrap();
    let session = bind_from([127, 0, 0, 2], cluster.edge_port, "acme", "secret")
        .await
        .unwrap();
    let cancel = |id: String| {
        PduBody::CancelSm(herald_smpp::pdu::CancelSm {
            message_id: id.as_str().into(),
            ..Default::default()
        })
    };
    // Ids that are not Herald's, and Herald-shaped ids from a year ago with no status.
    let old = herald_edge::message_id::MessageIdGenerator::with_tag(7);
    let a_year_ago = std::time::SystemTime::now() - Duration::from_secs(365 * 24 * 3600);
    let mut refused = 0;
    for i in 0..200 {
        let id = if i % 2 == 0 {
            format!("random-{i:08x}")
        } else {
            old.next_at(a_year_ago).as_str().to_owned()
        };
        let resp = session.request(cancel(id)).await.unwrap();
        if resp.command_status == CommandStatus::ESME_RINVMSGID {
            refused += 1;
        }
    }
    assert_eq!(refused, 200, "each an unknown message");
    let mut marks = cluster
        .bus
        .jetstream()
        .get_stream("KV_herald_cancels")
        .await
        .unwrap();
    assert_eq!(
        marks.info().await.unwrap().state.messages,
        0,
        "no mark written for a message that is not there"
    );
    // A flood of well-formed, recent ids costs the account's rate (1,000/s): beyond it,
    // throttled like submits.
    let fresh = herald_edge::message_id::MessageIdGenerator::with_tag(9);
    let requests: Vec<_> = (0..3000)
        .map(|_| session.request(cancel(fresh.next_id().as_str().to_owned())))
        .collect();
    let answers = futures::future::join_all(requests).await;
    let throttled = answers
        .iter()
        .filter(|r| matches!(r, Ok(resp) if resp.command_status == CommandStatus::ESME_RTHROTTLED))
        .count();
    assert!(throttled > 0, "cancels are metered like submits");
    let written = marks.info().await.unwrap().state.messages;
    assert!(
        written < 3000,
        "only what the rate allowed was written: {written}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_of_refused_requests_store_nothing() {
    let cluster = Cluster::start("acme", "secret").await.unwrap();
    // 100 destinations no route or check would take, each request with its own key.
    let bad: Vec<String> = (0..100).map(|i| format!("\"bob{i}\"")).collect();
    let body = format!(
        "{{\"from\": \"Herald\", \"to\": [{}], \"text\": \"{}\"}}",
        bad.join(","),
        "x".repeat(1000)
    );
    for i in 0..20 {
        let request = format!(
            "POST /v1/messages HTTP/1.1\r\nHost: edge\r\nAuthorization: Basic YWNtZTpzZWNyZXQ=\r\nContent-Type: application/json\r\nIdempotency-Key: flood-{i}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (code, answer) = http(cluster.http_port, [127, 0, 0, 2], &request).await;
        assert_eq!(code, 400, "{answer}");
    }
    let mut keys = cluster
        .bus
        .jetstream()
        .get_stream("KV_herald_idempotency")
        .await
        .unwrap();
    assert_eq!(
        keys.info().await.unwrap().state.messages,
        0,
        "a request refused whole leaves no key behind"
    );
    // One good destination among them: the key is stored, with ids for it alone.
    let body = "{\"from\": \"Herald\", \"to\": [\"bob\", \"+447700900001\"], \"text\": \"hi\"}";
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: edge\r\nAuthorization: Basic YWNtZTpzZWNyZXQ=\r\nContent-Type: application/json\r\nIdempotency-Key: mixed\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (code, answer) = http(cluster.http_port, [127, 0, 0, 2], &request).await;
    assert_eq!(code, 207, "{answer}");
    assert!(keys.info().await.unwrap().state.messages >= 1);
}
