//! The admin gRPC port against whoever can reach it before authenticating: it holds at
//! most its cap of connections (256) and closes one that stays silent (10 s), so silent
//! connections hold it only that long and an operator's `heraldctl` gets in after.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::time::Duration;

use herald_config::ControlConfig;
use herald_harness::PATIENCE;
use herald_rules::{RulesClient, RulesStore, StoreConfig};
use herald_telemetry::ports::PortLimits;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

use crate::common::Served;

const TOKEN: &str = "operator-token-51c2";

/// Whether the server closes `stream` (EOF or reset) within [`PATIENCE`], and how many
/// bytes it wrote before (a connection the HTTP/2 server took gets its settings at once;
/// one refused at accept gets nothing).
async fn closed(stream: &mut TcpStream) -> (bool, usize) {
    let mut buf = [0u8; 256];
    let mut received = 0;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (true, received),
            Ok(Ok(n)) => received += n,
            Err(_) => return (false, received),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_fill_the_port_only_until_the_first_byte_timeout() {
    let etcd = herald_harness::etcd().run().await.unwrap();
    let store_config = StoreConfig::new([etcd.client_url()]);
    let client = RulesClient::connect(&store_config).await.unwrap();
    let rules = RulesStore::connect(store_config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    let config = ControlConfig {
        tokens_file: Some(tokens),
        ..ControlConfig::default()
    };
    let served = Served::start(&config, common::deps(&client, rules, None)).await;
    let server = format!("http://{}", served.addr);
    let get_accounts = || {
        common::heraldctl()
            .args(["--server", &server, "--token", TOKEN, "get", "accounts"])
            .output()
    };

    // A client fills the port with connections that say nothing.
    let cap = PortLimits::default().max_connections;
    let mut silent = Vec::new();
    for _ in 0..cap {
        silent.push(TcpStream::connect(served.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One more is closed as it is accepted.
    let mut over = TcpStream::connect(served.addr).await.unwrap();
    assert_eq!(
        closed(&mut over).await,
        (true, 0),
        "a connection past the cap is closed before the server says anything"
    );
    // The silent ones are closed after the first-byte timeout...
    for stream in &mut silent {
        let (closed, received) = closed(stream).await;
        assert!(closed, "a silent connection was kept");
        assert!(received > 0, "the server took it, and sent its settings");
    }
    // ...and the operator gets in.
    let out = get_accounts().await.unwrap();
    assert!(out.status.success(), "{out:?}");
    served.stop().await;
}
