//! The load generator against the carrier simulator in this process: counts add up,
//! receipts are matched (also when they outrun their response), missing receipts are
//! loss, and error answers are counted by status name.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use herald_load::{LoadConfig, MessageMix, Rate, run};
use herald_sim::{Faults, SimConfig, SimSmsc};
use herald_smpp::CommandStatus;
use herald_smpp::session::SessionConfig;

async fn sim(config: SimConfig) -> SimSmsc {
    SimSmsc::start_local(SimConfig {
        max_binds: 8,
        // Room for the load's window of 20: the default 10 answers the excess throttled.
        session: SessionConfig {
            inbound_window: 100,
            ..SessionConfig::default()
        },
        ..config
    })
    .await
    .unwrap()
}

fn load(sim: &SimSmsc, count: u64) -> LoadConfig {
    LoadConfig {
        host: "127.0.0.1".into(),
        port: sim.local_addr().port(),
        system_id: "carrier".into(),
        password: "secret".into(),
        sessions: 2,
        window: 20,
        count: Some(count),
        grace: Duration::from_secs(5),
        ..LoadConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_submit_is_answered_and_every_receipt_matched() {
    let sim = sim(SimConfig {
        receipt_delay: Duration::from_millis(5),
        ..SimConfig::default()
    })
    .await;
    let config = LoadConfig {
        mix: "gsm=60,ucs2=20,long=20".parse::<MessageMix>().unwrap(),
        ..load(&sim, 1000)
    };
    let report = run(config).await.unwrap();
    // 800 one-segment messages and 200 of three segments.
    assert_eq!(report.messages, 1000);
    assert_eq!(report.submits, 1400);
    assert_eq!(report.submits_ok, 1400);
    assert_eq!(
        sim.counters()
            .submits
            .load(std::sync::atomic::Ordering::Relaxed),
        1400
    );
    assert_eq!(report.receipts_expected, 1400);
    assert_eq!(report.receipts, 1400, "{report}");
    assert_eq!(report.receipts_unmatched, 0);
    assert_eq!(report.lost, 0);
    assert!(report.errors.is_empty());
    assert_eq!(report.submit_latency.count, 1400);
    assert_eq!(report.receipt_latency.count, 1400);
    assert!(report.receipt_latency.p50_ms >= 5.0, "{report}");
    assert!(report.submit_rate > 0.0 && report.receipt_rate > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_that_outrun_their_response_are_matched() {
    let sim = sim(SimConfig {
        receipt_first: true,
        receipt_delay: Duration::from_millis(2),
        ..SimConfig::default()
    })
    .await;
    let report = run(load(&sim, 300)).await.unwrap();
    assert_eq!(report.receipts, 300, "{report}");
    assert_eq!(report.lost, 0);
    assert_eq!(report.receipts_unmatched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_that_never_come_are_loss() {
    // Receipts would come a minute later: all of them miss the grace period.
    let sim = sim(SimConfig {
        receipt_delay: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await;
    let config = LoadConfig {
        grace: Duration::from_millis(300),
        ..load(&sim, 200)
    };
    let report = run(config).await.unwrap();
    assert_eq!(report.submits_ok, 200);
    assert_eq!(report.receipts, 0);
    assert_eq!(report.lost, 200, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_gone_after_answering_loses_the_rest() {
    // Receipts are due a second after each answer; the carrier is stopped before that.
    let slow = sim(SimConfig {
        receipt_delay: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    let config = LoadConfig {
        grace: Duration::from_secs(3),
        rate: Rate::PerSecond(1000.0),
        ..load(&slow, 100)
    };
    let running = tokio::spawn(run(config));
    // The submits are answered within ~0.1 s; stop the carrier before any receipt is due.
    tokio::time::sleep(Duration::from_millis(400)).await;
    drop(slow);
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.submits_ok, 100);
    assert_eq!(report.lost, 100, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_are_counted_by_status_and_expect_no_receipt() {
    let sim = sim(SimConfig {
        faults: Faults {
            error_percent: 100,
            error_status: CommandStatus::ESME_RSUBMITFAIL,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let report = run(load(&sim, 50)).await.unwrap();
    assert_eq!(report.submits, 50);
    assert_eq!(report.submits_ok, 0);
    assert_eq!(report.errors.get("ESME_RSUBMITFAIL"), Some(&50));
    assert_eq!(report.receipts_expected, 0);
    assert_eq!(report.lost, 0);
}

#[tokio::test]
async fn a_wrong_password_is_a_bind_error() {
    let sim = sim(SimConfig::default()).await;
    let config = LoadConfig {
        password: "wrong".into(),
        ..load(&sim, 1)
    };
    let error = run(config).await.unwrap_err();
    assert!(error.to_string().contains("could not bind"), "{error}");
}
