//! Third-party ESMEs against Herald's edge, with real NATS and etcd.
//!
//! PyPI `smpplib` and npm `smpp` bind to the edge, submit five short messages and one
//! long message (split into UDH-concatenated parts by the client library itself), and
//! receive a receipt for every part. Between the edge's publish and the receipt stands a
//! stand-in for the router and connector that answers each accepted message with a
//! DELIVRD receipt event, so what is checked is the edge's wire behaviour toward real
//! clients: ids, envelopes on the bus, segment info, receipt text and TLVs.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use herald_bus::{ConsumerSpec, Outgoing};
use herald_proto::bus::v1::{Event, MessageState, MtMessage, Receipt, event};
use herald_smpp::receipt::DeliveryReceipt;
use herald_tests::Esme;
use herald_tests::cluster::Cluster;

/// A stand-in for the router and connector: every message the edge accepts is answered
/// with a DELIVRD receipt event at once. Returns the accepted envelopes, as they come.
async fn receipt_everything(cluster: &Cluster) -> Arc<Mutex<Vec<MtMessage>>> {
    let accepted: Arc<Mutex<Vec<MtMessage>>> = Arc::default();
    let consumer = cluster.bus.consumer(ConsumerSpec::routers()).await.unwrap();
    let publisher = cluster.bus.publisher();
    let seen = accepted.clone();
    tokio::spawn(async move {
        let mut deliveries = consumer.messages(64).await.unwrap();
        while let Some(Ok(delivery)) = deliveries.next().await {
            let mt: MtMessage = delivery.decode().unwrap();
            let receipt = Receipt {
                message_id: mt.id.clone(),
                account_id: mt.account_id.clone(),
                state: MessageState::Delivered.into(),
                source: mt.source.clone(),
                destination: mt.destination.clone(),
                submit_unix_ms: mt.accepted_unix_ms,
                done_unix_ms: mt.accepted_unix_ms + 1000,
                ..Default::default()
            };
            let event = Event {
                kind: Some(event::Kind::Receipt(receipt)),
            };
            publisher
                .publish_acked(Outgoing::event(
                    &mt.account_id,
                    format!("dlr:{}", mt.id),
                    &event,
                ))
                .await
                .unwrap();
            seen.lock().unwrap().push(mt);
            delivery.ack().await.unwrap();
        }
    });

    accepted
}

/// Five short messages plus the parts of the long one (each library splits its own text:
/// smpplib into three parts, npm smpp's client script into two).
async fn third_party_esme_against_the_edge(esme: Esme, long_parts: usize) {
    let submits = 5 + long_parts;
    let cluster = Cluster::start("interop", "secret").await.unwrap();
    let accepted = receipt_everything(&cluster).await;
    let run = esme
        .run(
            cluster.edge_port,
            &[
                "--system-id",
                "interop",
                "--password",
                "secret",
                "--count",
                "5",
                "--long",
                "--expect-deliver",
                &submits.to_string(),
                "--timeout",
                "30",
            ],
        )
        .await
        .unwrap();
    let summary = &run.summary;
    assert_eq!(run.code, 0, "{summary}");
    assert_eq!(summary["bound"], true, "{summary}");
    assert_eq!(summary["unbound"], true, "{summary}");
    assert_eq!(summary["enquire_link_ok"], true, "{summary}");

    let submitted = summary["submitted"].as_array().unwrap();
    assert_eq!(submitted.len(), submits, "{summary}");
    let mut ids = HashSet::new();
    for s in submitted {
        assert_eq!(s["status"], 0, "{s}");
        let id = s["message_id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 20, "Herald ids are 20 characters: {id}");
        assert!(ids.insert(id), "ids are unique: {summary}");
    }

    // What reached the bus is what the client sent, part for part.
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), submits);
    for s in submitted {
        let mt = accepted
            .iter()
            .find(|m| m.id == s["message_id"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            hex::encode(&mt.payload),
            s["short_message_hex"].as_str().unwrap(),
            "{s}"
        );
        assert_eq!(mt.esm_class, s["esm_class"].as_u64().unwrap() as u32);
        assert_eq!(mt.data_coding, s["data_coding"].as_u64().unwrap() as u32);
    }
    let parts: Vec<_> = accepted.iter().filter_map(|m| m.segment).collect();
    assert_eq!(
        parts.len(),
        long_parts,
        "the long message's parts carry their segment info"
    );
    let total = u32::try_from(long_parts).unwrap();
    assert!(
        parts
            .iter()
            .all(|p| p.total == total && p.reference == parts[0].reference)
    );

    // One receipt per part, naming an id we gave, in both forms.
    let delivered = summary["delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), submits, "{summary}");
    let mut receipted = HashSet::new();
    for d in delivered {
        assert_eq!(d["esm_class"], 4, "a receipt: {d}");
        let text = hex::decode(d["short_message_hex"].as_str().unwrap()).unwrap();
        let receipt = DeliveryReceipt::parse(&text).unwrap();
        assert!(ids.contains(&receipt.id), "receipt for an id we gave: {d}");
        assert_eq!(
            d["receipted_message_id"].as_str(),
            Some(receipt.id.as_str())
        );
        assert_eq!(d["message_state"], 2, "DELIVERED: {d}");
        receipted.insert(receipt.id);
    }
    assert_eq!(receipted, ids, "every message got its receipt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smpplib_binds_submits_and_gets_receipts_from_the_edge() {
    third_party_esme_against_the_edge(Esme::Smpplib, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_smpp_binds_submits_and_gets_receipts_from_the_edge() {
    third_party_esme_against_the_edge(Esme::NodeSmpp, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_smpp_submit_multi_and_data_sm_are_accepted_and_receipted() {
    // npm `smpp` sends one submit_multi to three numbers and a distribution list, and two
    // data_sm with their text in message_payload (issue 20: neither had been sent to the
    // edge by a third-party ESME).
    let cluster = Cluster::start("interop", "secret").await.unwrap();
    let accepted = receipt_everything(&cluster).await;
    let run = Esme::NodeSmpp
        .run(
            cluster.edge_port,
            &[
                "--system-id",
                "interop",
                "--password",
                "secret",
                "--count",
                "0",
                "--multi",
                "3",
                "--multi-dl",
                "--data-sm",
                "2",
                "--expect-deliver",
                "5",
                "--timeout",
                "30",
            ],
        )
        .await
        .unwrap();
    let summary = &run.summary;
    assert_eq!(run.code, 0, "{summary}");

    // submit_multi: one id for the request, the list refused in unsuccess_sme with an
    // empty address (Herald keeps no lists), the three numbers accepted as <id>-1..3.
    let multi = &summary["multi"];
    assert_eq!(multi["status"], 0, "{summary}");
    let base = multi["message_id"].as_str().unwrap().to_owned();
    assert_eq!(base.len(), 20, "{multi}");
    assert_eq!(
        multi["unsuccess"],
        serde_json::json!([{ "destination_addr": "", "error_status_code": 0x34 }]),
        "ESME_RINVDLNAME for the list: {multi}"
    );
    let mut ids: HashSet<String> = (1..=3).map(|n| format!("{base}-{n}")).collect();
    // data_sm: answered with ids of their own.
    let data_sm: Vec<_> = summary["submitted"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["command"] == "data_sm")
        .collect();
    assert_eq!(data_sm.len(), 2, "{summary}");
    for s in &data_sm {
        assert_eq!(s["status"], 0, "{s}");
        ids.insert(s["message_id"].as_str().unwrap().to_owned());
    }

    // On the bus: each destination of the submit_multi, and each data_sm's payload.
    let accepted = accepted.lock().unwrap().clone();
    let on_bus: HashSet<String> = accepted.iter().map(|m| m.id.clone()).collect();
    assert_eq!(on_bus, ids);
    for n in 1..=3u64 {
        let mt = accepted
            .iter()
            .find(|m| m.id == format!("{base}-{n}"))
            .unwrap();
        let to = mt.destination.as_ref().unwrap();
        assert_eq!(
            to.addr,
            (491_700_000_000u64 + n).to_string(),
            "in the order given"
        );
        assert_eq!(
            mt.payload,
            herald_smpp::text::encode(
                "Herald interop submit_multi",
                herald_smpp::text::Encoding::GSM7
            )
            .unwrap()
        );
    }
    let texts: HashSet<String> = accepted
        .iter()
        .filter(|m| !m.id.starts_with(&base))
        .map(|m| herald_smpp::text::decode(&m.payload, herald_smpp::text::Encoding::GSM7).unwrap())
        .collect();
    assert_eq!(
        texts,
        HashSet::from([
            "Herald interop data_sm 1".to_owned(),
            "Herald interop data_sm 2".to_owned()
        ])
    );

    // One receipt for each, naming the id it was accepted under.
    let receipted: HashSet<String> = summary["delivered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["receipted_message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(receipted, ids, "{summary}");
}
