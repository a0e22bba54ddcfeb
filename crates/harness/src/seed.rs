//! The rules tests start from, written to etcd through herald-rules' own client: accounts,
//! the carrier [`CARRIER`] and routes to it.
//!
//! ```no_run
//! # async fn demo(backing: herald_harness::Backing) {
//! use herald_harness::seed;
//! let rules = &backing.rules;
//! seed::account(rules, "acme", "secret", serde_json::json!({ "quota": { "tps": 1000 } })).await;
//! // An edge refuses a destination no route takes; this carrier need not answer.
//! seed::carrier(rules, seed::NO_CARRIER_PORT, serde_json::json!({})).await;
//! seed::route(rules, "uk", &["44"]).await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use herald_rules::{Expected, Kind, PasswordHash, RulesClient};
use serde_json::{Value, json};

/// The carrier every seeded route sends to.
pub const CARRIER: &str = "sim";

/// The port on 127.0.0.1 the carrier is given when no test needs it to answer (an edge only
/// checks that a route takes the destination); nothing listens there.
pub const NO_CARRIER_PORT: u16 = 2776;

/// The argon2id hash of `"secret"`, for rules built in memory without hashing again.
pub const SECRET_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$h36T/2CbytHucVk5Xx4g0w$4AjfNxW0BDrHf6jqsAkMT9+RewRiH/T5exmLoRw/T1E";

/// Writes a new account `id` whose password is `password` (hashed), with `settings`
/// (quota, window, binds…) added; its revision.
///
/// # Panics
///
/// If the account exists already or etcd refuses the write.
pub async fn account(client: &RulesClient, id: &str, password: &str, settings: Value) -> u64 {
    let hash = hashed(password);
    let account = merged(json!({ "id": id, "password_hash": hash }), settings);
    client
        .put_json(Kind::Account, id, &account.to_string(), Expected::Absent)
        .await
        .unwrap_or_else(|e| panic!("account {id} written: {e}"))
}

/// Writes the carrier [`CARRIER`] at 127.0.0.1:`port` with Herald's credentials there
/// (`system_id` `herald`, the password from `HERALD_SIM_PASSWORD`) and 1,000 messages a
/// second, `settings` added or replacing these; its revision.
///
/// # Panics
///
/// If etcd refuses the write.
pub async fn carrier(client: &RulesClient, port: u16, settings: Value) -> u64 {
    let carrier = merged(
        json!({
            "id": CARRIER, "host": "127.0.0.1", "port": port, "system_id": "herald",
            "password": { "env": "HERALD_SIM_PASSWORD" }, "throughput": { "tps": 1000 },
        }),
        settings,
    );
    client
        .put_json(Kind::Carrier, CARRIER, &carrier.to_string(), Expected::Any)
        .await
        .unwrap_or_else(|e| panic!("carrier {CARRIER} written: {e}"))
}

/// Writes the route `id` (priority 10) of the destinations that start with one of
/// `prefixes` to [`CARRIER`]; every destination when `prefixes` is empty. Its revision.
///
/// # Panics
///
/// If etcd refuses the write.
pub async fn route(client: &RulesClient, id: &str, prefixes: &[&str]) -> u64 {
    let matches = if prefixes.is_empty() {
        json!({})
    } else {
        json!({ "destination_prefixes": prefixes })
    };
    let route = json!({
        "id": id, "priority": 10, "match": matches,
        "action": { "type": "carrier", "carrier": CARRIER },
    });
    client
        .put_json(Kind::Route, id, &route.to_string(), Expected::Any)
        .await
        .unwrap_or_else(|e| panic!("route {id} written: {e}"))
}

/// The hash of `password`, made once per process: argon2 takes about a second in a debug
/// build, and a test seeds several accounts.
fn hashed(password: &str) -> PasswordHash {
    static HASHES: Mutex<BTreeMap<String, PasswordHash>> = Mutex::new(BTreeMap::new());
    let mut hashes = HASHES.lock().unwrap_or_else(PoisonError::into_inner);
    hashes
        .entry(password.to_owned())
        .or_insert_with(|| PasswordHash::hash(password).expect("a password hashes"))
        .clone()
}

/// `base` with the fields of `settings` (a JSON object) added, replacing those it names.
fn merged(mut base: Value, settings: Value) -> Value {
    if let (Some(base), Value::Object(settings)) = (base.as_object_mut(), settings) {
        base.extend(settings);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_added_and_replace_what_they_name() {
        let merged = merged(
            json!({ "id": "a", "port": 1 }),
            json!({ "port": 2, "binds": 3 }),
        );
        assert_eq!(merged, json!({ "id": "a", "port": 2, "binds": 3 }));
    }

    #[test]
    fn the_secret_hash_is_of_secret() {
        assert!(PasswordHash::from_phc(SECRET_HASH).verify("secret"));
        assert!(hashed("secret").verify("secret"));
        assert_eq!(hashed("secret"), hashed("secret"), "hashed once");
    }
}
