//! The admin HTTP port over a real loopback socket: `/metrics`, `/healthz`, `/readyz`.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::net::SocketAddr;

use herald_telemetry::{AdminServer, Readiness, install_metrics, names};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A minimal HTTP/1.1 GET: returns the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

struct Running {
    addr: SocketAddr,
    readiness: Readiness,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start() -> Running {
    let server = AdminServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let readiness = server.readiness().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        readiness,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap();
    }
}

#[tokio::test]
async fn metrics_serves_an_incremented_counter() {
    let server = start().await;
    metrics::counter!(names::EDGE_SUBMIT_TOTAL, "account" => "acme", "status" => "ESME_ROK")
        .increment(3);
    metrics::histogram!(names::EDGE_SUBMIT_SECONDS, "account" => "acme").record(0.002);

    let (status, body) = get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(r#"herald_edge_submit_total{account="acme",status="ESME_ROK"} 3"#),
        "{body}"
    );
    // Described, and `_seconds` histograms get the latency buckets.
    assert!(body.contains("# HELP herald_edge_submit_total"), "{body}");
    assert!(
        body.contains(r#"herald_edge_submit_seconds_bucket{account="acme",le="0.00005"}"#),
        "{body}"
    );
    assert!(
        body.contains(r#"herald_edge_submit_seconds_bucket{account="acme",le="10"}"#),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn healthz_is_ok_while_running() {
    let server = start().await;
    assert_eq!(get(server.addr, "/healthz").await, (200, "ok".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn readyz_follows_checks_and_drain() {
    let server = start().await;
    let bus = server.readiness.register("bus");
    let rules = server.readiness.register("rules");

    let (status, body) = get(server.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("bus") && body.contains("rules"), "{body}");

    bus.set(true);
    let (status, body) = get(server.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(!body.contains("bus") && body.contains("rules"), "{body}");

    rules.set(true);
    assert_eq!(get(server.addr, "/readyz").await.0, 200);

    server.readiness.drain();
    let (status, body) = get(server.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("draining"), "{body}");
    // Draining is final: checks flipping back do not make the node ready again.
    bus.set(true);
    assert_eq!(get(server.addr, "/readyz").await.0, 503);
    server.stop().await;
}

#[test]
fn install_is_idempotent() {
    let first = install_metrics().unwrap();
    let second = install_metrics().unwrap();
    // Other tests of this binary record into the same process-wide recorder at the same
    // time, so two renders are not compared whole: a series only this test writes must
    // show, with the same value, through both handles.
    metrics::counter!(names::RULES_RELOAD_TOTAL, "status" => "install_is_idempotent").increment(7);
    let series = |handle: &herald_telemetry::MetricsHandle| {
        handle
            .render()
            .lines()
            .find(|l| l.contains("status=\"install_is_idempotent\""))
            .map(str::to_owned)
    };
    let line = series(&first).expect("the counter is in the first handle's render");
    assert!(line.ends_with(" 7"), "{line}");
    assert_eq!(
        series(&second),
        Some(line),
        "both handles render one recorder"
    );
}

#[test]
fn readiness_without_checks_is_ready() {
    let readiness = Readiness::new();
    assert!(readiness.is_ready());
    let flag = readiness.register("grpc");
    let again = readiness.register("grpc");
    assert!(!readiness.is_ready());
    again.set(true);
    assert!(flag.get() && readiness.is_ready());
    assert_eq!(readiness.checks(), vec![("grpc".to_owned(), true)]);
}

#[test]
fn every_metric_is_named_by_convention_and_documented() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/metrics.md"
    ))
    .unwrap();
    let allowed = [
        "account", "carrier", "status", "role", "node", "version", "mode", "command", "stream",
        "consumer", "listener", "bucket", "op", "route",
    ];
    let mut seen = std::collections::HashSet::new();
    assert!(
        names::ALL.iter().all(|def| seen.insert(def.name)),
        "duplicate metric name"
    );
    for def in names::ALL {
        assert!(def.name.starts_with("herald_"), "{}", def.name);
        match def.kind {
            names::MetricKind::Counter => assert!(def.name.ends_with("_total"), "{}", def.name),
            _ => assert!(!def.name.ends_with("_total"), "{}", def.name),
        }
        if def.kind == names::MetricKind::Histogram && def.unit != metrics::Unit::Count {
            assert!(def.name.ends_with("_seconds"), "{}", def.name);
        }
        assert!(
            def.labels.iter().all(|l| allowed.contains(l)),
            "{}",
            def.name
        );
        assert!(
            docs.contains(&format!("`{}`", def.name)),
            "{} missing from docs/metrics.md",
            def.name
        );
    }
}

#[test]
fn cached_handles_count_into_the_series_their_labels_name() {
    use herald_telemetry::handles;
    let metrics = install_metrics().unwrap();
    let routed = |account: &str, carrier: &str| {
        handles::counter(
            names::ROUTER_ROUTE_TOTAL,
            &[
                (names::labels::ACCOUNT, account),
                (names::labels::CARRIER, carrier),
                (names::labels::STATUS, "routed"),
            ],
        )
    };
    for _ in 0..3 {
        routed("cache-a", "sim").increment(1);
    }
    routed("cache-b", "sim").increment(1);
    handles::histogram(
        names::ROUTER_ROUTE_SECONDS,
        &[(names::labels::CARRIER, "cache-sim")],
    )
    .record(0.001);
    let text = metrics.render();
    let value = |account: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("herald_router_route_total{")
                    && l.contains(&format!("account=\"{account}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(value("cache-a").as_deref(), Some("3"), "{text}");
    assert_eq!(value("cache-b").as_deref(), Some("1"), "{text}");
    assert!(
        text.contains("herald_router_route_seconds_count{carrier=\"cache-sim\"} 1"),
        "{text}"
    );
}

/// Whether the server closed `stream` (EOF or reset) within `patience`.
async fn closed_within(stream: &mut TcpStream, patience: std::time::Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn the_port_holds_its_cap_of_connections_and_closes_silent_and_slow_ones() {
    use herald_telemetry::ports::PortLimits;
    use std::time::Duration;

    let server = AdminServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_limits(PortLimits {
            max_connections: 3,
            first_byte_timeout: Duration::from_millis(300),
        })
        .with_header_timeout(Duration::from_millis(300));
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    let patience = Duration::from_secs(20);

    // Three silent connections fill the port; a fourth is closed as it is accepted.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut fourth, Duration::from_millis(250)).await,
        "a connection past the cap is closed at once"
    );
    // The silent ones are closed after the first-byte timeout, which frees the port.
    for stream in &mut silent {
        assert!(
            closed_within(stream, patience).await,
            "a silent connection stays"
        );
    }
    // A client that starts its headers and stalls is cut off by the header timeout...
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // ...while others are served.
    assert_eq!(get(addr, "/healthz").await, (200, "ok".to_owned()));
    assert!(
        closed_within(&mut slow, patience).await,
        "a stalled request's connection stays"
    );
    let rendered = install_metrics().unwrap().render();
    for status in ["total", "silent"] {
        let line = rendered
            .lines()
            .find(|l| {
                l.starts_with(names::NODE_CONNECTIONS_REFUSED_TOTAL)
                    && l.contains("listener=\"admin\"")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .unwrap_or_else(|| panic!("no {status} refusals counted:\n{rendered}"));
        let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(count >= 1.0, "{line}");
    }
    stop.send(()).unwrap();
    task.await.unwrap();
}
