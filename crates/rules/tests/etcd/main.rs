//! Integration tests of the rules store, the client and node registration against a real
//! etcd started by `herald-harness` (killed, restarted, compacted, cut off by a proxy,
//! locked with TLS client certificates or users).
//!
//! No test asserts how fast something happens: each waits for its outcome with a generous
//! deadline (`herald_harness::eventually`).
#![allow(clippy::unwrap_used, reason = "tests")]

mod client;
mod nodes;
mod proxy;
mod security;
mod store;

use std::time::Duration;

use herald_harness::{eventually, seed::SECRET_HASH};
use herald_rules::{Account, Carrier, StoreConfig};

/// A configuration for `url` with short back-off, so tests do not sit in long sleeps.
fn config(url: &str) -> StoreConfig {
    let mut c = StoreConfig::new([url]);
    c.connect_timeout = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(2);
    c.keep_alive_interval = Duration::from_secs(1);
    c.reconnect_backoff_min = Duration::from_millis(50);
    c.reconnect_backoff_max = Duration::from_millis(500);
    c
}

fn account(id: &str) -> Account {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "password_hash": SECRET_HASH,
        "quota": {"tps": 100},
    }))
    .unwrap()
}

fn carrier(id: &str) -> Carrier {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "host": "127.0.0.1",
        "port": 2775,
        "system_id": "herald",
        "password": {"env": "CARRIER_PASSWORD"},
        "throughput": {"tps": 50},
    }))
    .unwrap()
}
