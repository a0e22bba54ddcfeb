//! What the connector's test binaries share: NATS and etcd with the simulator's password
//! in a file ([`Cluster`]), and the MT messages they queue for the carrier ([`mt`], named
//! by [`ids`]).
#![allow(dead_code, reason = "each test binary uses its own part")]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use herald_bus::Bus;
use herald_harness::Backing;
use herald_proto::bus::v1::{self as bus, MtMessage};

/// The account every test message belongs to.
pub(crate) const ACCOUNT: &str = "acme";

/// Real NATS and etcd, a bus on them, and the carrier simulator's password in a file.
pub(crate) struct Cluster {
    pub(crate) backing: Backing,
    pub(crate) bus: Bus,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) password_file: PathBuf,
}

pub(crate) async fn cluster() -> Cluster {
    let backing = Backing::start().await;
    let bus = backing.bus().await;
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("sim-password");
    std::fs::write(&password_file, "secret\n").unwrap();
    Cluster {
        backing,
        bus,
        _dir: dir,
        password_file,
    }
}

pub(crate) fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Message `i` of [`ACCOUNT`] to a UK number, its text `msg T<i>`, accepted now.
pub(crate) fn mt(i: usize, registered_delivery: u32) -> MtMessage {
    let id = format!("T{i:05}");
    MtMessage {
        payload: format!("msg {id}").into_bytes(),
        id,
        account_id: ACCOUNT.into(),
        source: Some(bus::Address {
            addr: "ACME".into(),
            ton: 5,
            npi: 0,
        }),
        destination: Some(bus::Address {
            addr: format!("4477009{i:05}"),
            ton: 1,
            npi: 1,
        }),
        registered_delivery,
        accepted_unix_ms: now_ms(),
        ..MtMessage::default()
    }
}

/// The ids [`mt`] gives messages `range`.
pub(crate) fn ids(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(|i| format!("T{i:05}")).collect()
}
