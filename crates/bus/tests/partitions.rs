//! The partitioned status store and carrier-id map (ADR 0021) and streams (ADR 0022)
//! against a real `nats-server`: keys and messages spread over every partition, consumers
//! read the partitions they need, and a partition count changed in the two documented
//! steps loses no record or message at any point (a node of either step reads what a node
//! of the other wrote).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use herald_bus::kv::Stage;
use herald_bus::{Bus, BusConfig, ConsumerSpec, Outgoing, Partitions, StreamKind};
use herald_proto::bus::v1::{CarrierIdMapping, MessageStatus};

async fn connect(url: &str, count: u16, also_read: Option<u16>) -> Bus {
    let mut config = BusConfig::local(url);
    config.partitions = Partitions { count, also_read };
    Bus::connect(config).await.unwrap()
}

fn status(id: &str, stage: Stage) -> MessageStatus {
    MessageStatus {
        message_id: id.into(),
        stage: stage.as_str().into(),
        carrier_message_id: format!("c-{id}"),
        ..MessageStatus::default()
    }
}

fn mapping(id: &str) -> CarrierIdMapping {
    CarrierIdMapping {
        message_id: id.into(),
        account_id: "acme".into(),
        ..CarrierIdMapping::default()
    }
}

/// Messages in each bucket of `base`'s first `count` partitions.
async fn per_bucket(bus: &Bus, base: &str, count: usize) -> Vec<u64> {
    let mut counts = Vec::new();
    for index in 0..count {
        let name = herald_bus::partition::bucket_name(base, index);
        let mut stream = bus
            .jetstream()
            .get_stream(format!("KV_{name}"))
            .await
            .unwrap();
        counts.push(stream.info().await.unwrap().state.messages);
    }
    counts
}

#[tokio::test]
async fn keys_spread_over_every_partition_and_are_found_in_theirs() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = connect(&nats.client_url(), 3, None).await;
    let statuses = bus.status_store().await.unwrap();
    let ids = bus.carrier_id_map().await.unwrap();
    for n in 0..60 {
        let id = format!("m{n}");
        assert!(
            statuses
                .advance(&status(&id, Stage::Accepted))
                .await
                .unwrap()
        );
        statuses
            .put_unconfirmed(&status(&id, Stage::Submitted))
            .await
            .unwrap();
        ids.insert("sim", &format!("c-{id}"), &mapping(&id))
            .await
            .unwrap();
    }
    bus.flush().await.unwrap();
    let status_counts = per_bucket(&bus, "herald_status", 3).await;
    assert_eq!(status_counts.iter().sum::<u64>(), 120, "{status_counts:?}");
    assert!(status_counts.iter().all(|&c| c >= 20), "{status_counts:?}");
    let id_counts = per_bucket(&bus, "herald_carrier_ids", 3).await;
    assert_eq!(id_counts.iter().sum::<u64>(), 60, "{id_counts:?}");
    assert!(id_counts.iter().all(|&c| c >= 10), "{id_counts:?}");

    // Another process, which has none of these in memory, finds each in its partition.
    let reader = connect(&nats.client_url(), 3, None).await;
    let statuses = reader.status_store().await.unwrap();
    let ids = reader.carrier_id_map().await.unwrap();
    for n in 0..60 {
        let id = format!("m{n}");
        let found = statuses.get(&id).await.unwrap().unwrap();
        assert_eq!(found.stage, Stage::Submitted.as_str());
        assert_eq!(statuses.history(&id).await.unwrap().len(), 2);
        let mapped = ids.get("sim", &format!("c-{id}")).await.unwrap().unwrap();
        assert_eq!(mapped.message_id, id);
    }
}

#[tokio::test]
async fn a_partition_count_changed_in_two_steps_loses_no_record() {
    let nats = herald_harness::nats().run().await.unwrap();
    let url = nats.client_url();
    // Before: one partition, as every cluster had.
    let before = connect(&url, 1, None).await;
    // Step 1: readers learn the three-partition layout, writes stay in the old one.
    let learning = connect(&url, 1, Some(3)).await;
    // Step 2: writes go to three partitions, the old layout still read.
    let writing = connect(&url, 3, Some(1)).await;
    // After the status and id TTLs: three partitions alone.
    let after = connect(&url, 3, None).await;

    let old_statuses = before.status_store().await.unwrap();
    let old_ids = before.carrier_id_map().await.unwrap();
    for n in 0..30 {
        let id = format!("old{n}");
        assert!(
            old_statuses
                .advance(&status(&id, Stage::Submitted))
                .await
                .unwrap()
        );
        old_ids
            .insert("sim", &format!("c-{id}"), &mapping(&id))
            .await
            .unwrap();
    }
    let new_statuses = writing.status_store().await.unwrap();
    let new_ids = writing.carrier_id_map().await.unwrap();
    for n in 0..30 {
        let id = format!("new{n}");
        assert!(
            new_statuses
                .advance(&status(&id, Stage::Submitted))
                .await
                .unwrap()
        );
        new_ids
            .insert("sim", &format!("c-{id}"), &mapping(&id))
            .await
            .unwrap();
    }

    // A step-1 node and a step-2 node each find both generations, from processes with
    // nothing in memory (a receipt on another connector).
    for reader in [&learning, &writing] {
        let statuses = reader.status_store().await.unwrap();
        let partitions = reader.config().partitions;
        let ids = connect(&url, partitions.count, partitions.also_read)
            .await
            .carrier_id_map()
            .await
            .unwrap();
        for id in (0..30).flat_map(|n| [format!("old{n}"), format!("new{n}")]) {
            let found = statuses.get(&id).await.unwrap();
            assert_eq!(found.map(|s| s.stage), Some("submitted".into()), "{id}");
            let mapped = ids.get("sim", &format!("c-{id}")).await.unwrap();
            assert_eq!(mapped.map(|m| m.message_id), Some(id.clone()));
        }
    }

    // A final status written by a step-2 node over an old-layout record wins the lookup
    // from either step, though the old record stays in the old partition.
    let moved: Vec<String> = (0..30)
        .map(|n| format!("old{n}"))
        .filter(|id| writing.config().partitions.other_read_index(id).is_some())
        .collect();
    assert!(!moved.is_empty());
    for id in &moved {
        assert!(
            new_statuses
                .advance(&status(id, Stage::Final))
                .await
                .unwrap()
        );
    }
    let learning_statuses = learning.status_store().await.unwrap();
    for id in &moved {
        for statuses in [&new_statuses, &learning_statuses] {
            let found = statuses.get(id).await.unwrap().unwrap();
            assert_eq!(found.stage, Stage::Final.as_str(), "{id}");
        }
        let history = new_statuses.history(id).await.unwrap();
        let stages: Vec<&str> = history.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(stages, ["submitted", "final"], "{id}");
    }

    // Once the old records have expired, the second layout is dropped: what was written
    // in three partitions is all found.
    let statuses = after.status_store().await.unwrap();
    for n in 0..30 {
        let id = format!("new{n}");
        assert!(statuses.get(&id).await.unwrap().is_some(), "{id}");
    }
}

fn accepted(id: &str, account: &str) -> herald_proto::bus::v1::MtMessage {
    herald_proto::bus::v1::MtMessage {
        id: id.into(),
        account_id: account.into(),
        payload: b"hello".to_vec(),
        ..Default::default()
    }
}

/// Messages stored in each partition of `kind`.
async fn per_stream(bus: &Bus, kind: StreamKind, count: usize) -> Vec<u64> {
    let mut counts = Vec::new();
    for index in 0..count {
        let mut stream = bus
            .jetstream()
            .get_stream(kind.partition_name(index).as_ref())
            .await
            .unwrap();
        counts.push(stream.info().await.unwrap().state.messages);
    }
    counts
}

/// Takes `n` deliveries from `consumer` (acking each) and returns their message ids.
async fn take(consumer: &herald_bus::WorkConsumer, n: usize) -> Vec<String> {
    let mut deliveries = consumer.messages(16).await.unwrap();
    let mut ids = Vec::new();
    while ids.len() < n {
        let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.next())
            .await
            .expect("a delivery within 10 s")
            .unwrap()
            .unwrap();
        ids.push(
            delivery
                .header(herald_bus::publish::MESSAGE_ID_HEADER)
                .unwrap()
                .to_owned(),
        );
        delivery.ack().await.unwrap();
    }
    ids.sort();
    ids
}

#[tokio::test]
async fn streams_split_by_account_and_carrier_and_consumers_read_their_partitions() {
    let nats = herald_harness::nats().run().await.unwrap();
    let bus = connect(&nats.client_url(), 3, None).await;
    let publisher = bus.publisher();
    let accounts: Vec<String> = (0..12).map(|n| format!("acct{n}")).collect();
    for (n, account) in accounts.iter().enumerate() {
        let mt = accepted(&format!("m{n}"), account);
        publisher
            .publish_acked(Outgoing::accepted(&mt))
            .await
            .unwrap();
        publisher
            .publish_acked(Outgoing::routed(&format!("carrier{n}"), &mt))
            .await
            .unwrap();
    }
    // Each partition holds what its accounts' and carriers' keys hash to, with its mark.
    let mt_counts = per_stream(&bus, StreamKind::Mt, 3).await;
    let expected: Vec<u64> = (0..3)
        .map(|p| {
            accounts
                .iter()
                .filter(|a| herald_bus::partition::index(a, 3) == p)
                .count() as u64
        })
        .collect();
    assert_eq!(mt_counts, expected);
    assert!(
        expected.iter().filter(|&&c| c > 0).count() >= 2,
        "{expected:?}"
    );
    assert_eq!(
        per_stream(&bus, StreamKind::Out, 3)
            .await
            .iter()
            .sum::<u64>(),
        12
    );

    // The routers' consumer reads every partition; a carrier's reads its own.
    let routers = bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let all: Vec<String> = {
        let mut ids: Vec<String> = (0..12).map(|n| format!("m{n}")).collect();
        ids.sort();
        ids
    };
    assert_eq!(take(&routers, 12).await, all);
    let carrier = bus
        .consumer(ConsumerSpec::carrier("carrier7"))
        .await
        .unwrap();
    assert_eq!(take(&carrier, 1).await, ["m7"]);
    assert_eq!(per_stream(&bus, StreamKind::Mt, 3).await, [0, 0, 0]);
}

#[tokio::test]
async fn events_queued_before_a_count_change_still_reach_their_account() {
    let nats = herald_harness::nats().run().await.unwrap();
    let url = nats.client_url();
    // Find an account that moves out of partition 0 when the count goes from 1 to 3.
    let account = (0..)
        .map(|n| format!("acct{n}"))
        .find(|a| herald_bus::partition::index(a, 3) != 0)
        .unwrap();
    // The event's id is its dedup id and message-id header, which `take` reads.
    let event = herald_proto::bus::v1::Event::default();
    let before = connect(&url, 1, None).await;
    before
        .publisher()
        .publish_acked(Outgoing::event(&account, "old", &event))
        .await
        .unwrap();
    // Step 1 declares the new partitions; step 2 writes them and reads both layouts.
    let _learning = connect(&url, 1, Some(3)).await;
    let writing = connect(&url, 3, Some(1)).await;
    writing
        .publisher()
        .publish_acked(Outgoing::event(&account, "new", &event))
        .await
        .unwrap();
    let counts = per_stream(&writing, StreamKind::Events, 3).await;
    assert_eq!(counts[0], 1, "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), 2, "{counts:?}");
    let consumer = writing
        .consumer(ConsumerSpec::account(&account))
        .await
        .unwrap();
    assert_eq!(take(&consumer, 2).await, ["new", "old"]);
}
