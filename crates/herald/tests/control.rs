//! `herald control` against real NATS and etcd: the admin API refuses calls without a
//! token, writes rules with compare-and-swap, lists nodes and explains routes; lists and
//! deletes rules objects, looks up a message, lists an edge's sessions and drains it;
//! lists a connector's binds.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use herald_harness::{Backing, PATIENCE, seed};
use herald_proto::admin::v1::admin_service_client::AdminServiceClient;
use herald_proto::admin::v1::{
    DeleteRequest, DrainNodeRequest, ExplainRouteRequest, GetMessageRequest, GetRequest, Kind,
    ListBindsRequest, ListNodesRequest, ListRequest, ListSessionsRequest, Object, PutRequest,
};
use herald_rules::{Expected, PasswordHash, RulesClient};
use tonic::Code;
use tonic::transport::Channel;

const HERALD: &str = env!("CARGO_BIN_EXE_herald");
const TOKEN: &str = "s3cret-operator-token";

/// Starts `herald <role>` as node `id` with `env` on top of the loopback settings, and
/// waits for its registration in etcd.
async fn spawn_role(
    role: &str,
    id: &str,
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
    env: &[(&str, &std::ffi::OsStr)],
) -> (tokio::process::Child, herald_rules::NodeInfo) {
    herald_harness::node(HERALD, role, id)
        .nats(nats.client_url())
        .etcd(etcd.client_url())
        .envs(env.iter().copied())
        .spawn(client)
        .await
}

/// Starts `herald control` with a tokens file; the process and its API address.
async fn spawn_control(
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
    tokens: &std::path::Path,
) -> (tokio::process::Child, String) {
    let env = [
        ("HERALD_CONTROL__LISTEN", "127.0.0.1:0".as_ref()),
        ("HERALD_CONTROL__TOKENS_FILE", tokens.as_os_str()),
        ("HERALD_NODE__REGION", "eu-west-1a".as_ref()),
        ("HERALD_ROUTER__DEFAULT_TIMEZONE", "+05:00".as_ref()),
    ];
    let (child, node) = spawn_role("control", "control-test", nats, etcd, client, &env).await;
    (child, node.addresses["control"].clone())
}

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    request
}

fn account_json(window: u32) -> String {
    serde_json::json!({
        "id": "acme",
        "password_hash": PasswordHash::hash("secret").unwrap(),
        "quota": { "tps": 100 },
        "window": window,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_authenticates_writes_with_cas_lists_nodes_and_explains_routes() {
    let Backing {
        nats,
        etcd,
        rules: client,
    } = Backing::start().await;
    // A carrier and a route to explain, seeded before the control node starts.
    seed::carrier(&client, seed::NO_CARRIER_PORT, serde_json::json!({})).await;
    seed::route(&client, "uk", &["44"]).await;

    // A route open for the next two hours of +05:00 (the control node's
    // router.default_timezone), and so closed now in UTC: route explain must answer as a
    // router with that default would.
    let utc_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        % 24;
    let local_hour = (utc_hour + 5) % 24;
    let evening = serde_json::json!({
        "id": "plus-five", "priority": 5, "match": { "destination_prefixes": ["4479"],
            "time_window": { "from": format!("{local_hour:02}:00"),
                             "to": format!("{:02}:00", (local_hour + 2) % 24) } },
        "action": { "type": "carrier", "carrier": "sim" },
    });
    client
        .put_json(
            herald_rules::Kind::Route,
            "plus-five",
            &evening.to_string(),
            Expected::Any,
        )
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("# operators\n{TOKEN}\n")).unwrap();
    let (_child, address) = spawn_control(&nats, &etcd, &client, &tokens).await;
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut api = AdminServiceClient::new(channel);

    // No token, or a wrong one: refused.
    let refused = api
        .list_nodes(ListNodesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let mut wrong = tonic::Request::new(ListNodesRequest::default());
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(
        api.list_nodes(wrong).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Create, read back, update with a stale revision (refused), then the right one.
    let put = |json: String, expected_revision: i64| PutRequest {
        object: Some(Object {
            kind: Kind::Account.into(),
            id: "acme".into(),
            json,
            mod_revision: 0,
        }),
        expected_revision,
    };
    let created = api
        .put(authed(put(account_json(10), 0)))
        .await
        .unwrap()
        .into_inner()
        .revision;
    let again = api.put(authed(put(account_json(10), 0))).await.unwrap_err();
    assert_eq!(again.code(), Code::Aborted, "{again:?}");
    let got = api
        .get(authed(GetRequest {
            kind: Kind::Account.into(),
            id: "acme".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .object
        .unwrap();
    assert_eq!(got.mod_revision, created);
    let doc: serde_json::Value = serde_json::from_str(&got.json).unwrap();
    assert_eq!(doc["window"], 10);

    let stale = api
        .put(authed(put(account_json(20), created - 1)))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert_eq!(
        stale.metadata().get("x-herald-current-revision").unwrap(),
        created.to_string().as_str()
    );
    assert!(stale.message().contains(&created.to_string()), "{stale:?}");
    let updated = api
        .put(authed(put(account_json(20), created)))
        .await
        .unwrap()
        .into_inner()
        .revision;
    assert!(updated > created);

    // A document that does not validate: INVALID_ARGUMENT with the reason.
    let bad = api
        .put(authed(put(
            serde_json::json!({"id": "acme", "password_hash": "hunter2", "quota": {"tps": 1}})
                .to_string(),
            -1,
        )))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
    assert!(bad.message().contains("password_hash"), "{bad:?}");

    // The control node lists itself.
    let nodes = api
        .list_nodes(authed(ListNodesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .nodes;
    let me = nodes.iter().find(|n| n.node_id == "control-test").unwrap();
    assert_eq!(me.role, "control");
    assert_eq!(
        me.region, "eu-west-1a",
        "node.region is shown in the cluster view"
    );
    assert!(
        me.addresses
            .iter()
            .any(|a| a == &format!("control={address}"))
    );

    // Route explain answers for the seeded route.
    let explained = api
        .explain_route(authed(ExplainRouteRequest {
            account_id: "acme".into(),
            source: "Herald".into(),
            destination: "+447700900001".into(),
            data_coding: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(explained.rule_id, "uk", "{explained:?}");
    assert_eq!(explained.carrier_id, "sim", "{explained:?}");
    let in_window = api
        .explain_route(authed(ExplainRouteRequest {
            account_id: "acme".into(),
            source: "Herald".into(),
            destination: "+447900900001".into(),
            data_coding: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        in_window.rule_id, "plus-five",
        "the window is read in router.default_timezone: {in_window:?}"
    );
    assert_eq!(explained.candidates[0].carrier_id, "sim");
    let nowhere = api
        .explain_route(authed(ExplainRouteRequest {
            account_id: "acme".into(),
            source: "Herald".into(),
            destination: "+15550100".into(),
            data_coding: 0,
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(nowhere.rule_id.is_empty(), "{nowhere:?}");
    assert!(nowhere.reason.starts_with("no_route"), "{nowhere:?}");

    // Ported numbers: imported in two chunks, a bad row reported by its line and the rest
    // imported; route explain then shows the destination's new network.
    let chunks = vec![
        herald_proto::admin::v1::PortedNumbersChunk {
            csv: b"number,network\n447700900001,234-30\n".to_vec(),
            replace: true,
        },
        herald_proto::admin::v1::PortedNumbersChunk {
            csv: b"44770090x002,23430\n447700901000-447700901999,23433\n".to_vec(),
            replace: true,
        },
    ];
    let imported = api
        .import_ported_numbers(authed(futures::stream::iter(chunks)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            imported.rows,
            imported.numbers,
            imported.ranges,
            imported.error_count
        ),
        (2, 1, 1, 1),
        "{imported:?}"
    );
    assert_eq!(imported.errors[0].line, 3, "{imported:?}");
    let ported = herald_harness::eventually_some("route explain sees the ported number", || {
        let mut api = api.clone();
        async move {
            let explained = api
                .explain_route(authed(ExplainRouteRequest {
                    account_id: "acme".into(),
                    source: "Herald".into(),
                    destination: "+447700900001".into(),
                    data_coding: 0,
                }))
                .await
                .unwrap()
                .into_inner();
            (!explained.ported.is_empty()).then_some(explained.ported)
        }
    })
    .await;
    assert_eq!(ported, "23430");

    // Dead letters: an account's given-up receipt listed, then replayed to its webhook
    // alone, under its original id.
    let bus = herald_bus::Bus::connect(herald_bus::BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let receipt = herald_proto::bus::v1::Event {
        kind: Some(herald_proto::bus::v1::event::Kind::Receipt(
            herald_proto::bus::v1::Receipt {
                message_id: "m-dead".into(),
                account_id: "acme".into(),
                ..Default::default()
            },
        )),
    };
    let letter = herald_bus::Outgoing::new(
        "herald.dlq.ev.acme.dlr",
        "m-dead:final:dlq",
        herald_bus::publish::encode(&receipt),
    )
    .header(herald_bus::publish::MESSAGE_ID_HEADER, "m-dead:final")
    .header(
        herald_bus::consume::DLQ_SUBJECT_HEADER,
        "herald.ev.acme.dlr",
    )
    .header(
        herald_bus::consume::DLQ_REASON_HEADER,
        "webhook answered 400: no",
    );
    bus.publisher().publish_acked(letter).await.unwrap();
    let range = herald_proto::admin::v1::DeadLettersRequest {
        account_id: "acme".into(),
        ..Default::default()
    };
    let listed = api
        .list_dead_letters(authed(range.clone()))
        .await
        .unwrap()
        .into_inner()
        .letters;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].message_id, "m-dead:final");
    assert_eq!(listed[0].subject, "herald.ev.acme.dlr");
    assert_eq!(listed[0].reason, "webhook answered 400: no");
    let replayed = api
        .replay_dead_letters(authed(range))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.replayed, 1);
    let consumer = bus
        .consumer(herald_bus::ConsumerSpec::new(
            herald_bus::StreamKind::Events,
            "replay-check",
            "herald.ev.acme.hook.>",
        ))
        .await
        .unwrap();
    let mut deliveries = consumer.messages(1).await.unwrap();
    let again = tokio::time::timeout(PATIENCE, deliveries.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(again.subject(), "herald.ev.acme.hook.dlr");
    assert_eq!(
        again.header(herald_bus::publish::MESSAGE_ID_HEADER),
        Some("m-dead:final")
    );
    let event: herald_proto::bus::v1::Event = again.decode().unwrap();
    assert_eq!(event, receipt);
}

/// Starts `herald edge` as node `id` and waits for its registration; its SMPP address.
async fn spawn_edge(
    id: &str,
    nats: &herald_harness::NatsServer,
    etcd: &herald_harness::Etcd,
    client: &RulesClient,
) -> (tokio::process::Child, String) {
    let env = [
        ("HERALD_EDGE__SMPP_LISTEN", "127.0.0.1:0".as_ref()),
        // The session count reaches the node registration within a second.
        ("HERALD_EDGE__REBALANCE_INTERVAL", "1s".as_ref()),
    ];
    let (child, node) = spawn_role("edge", id, nats, etcd, client, &env).await;
    (child, node.addresses["smpp"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_lists_deletes_looks_up_messages_lists_sessions_and_drains_an_edge() {
    use bytes::Bytes;
    use herald_proto::bus::v1::{MessageState, MessageStatus};
    use herald_smpp::pdu::{Bind, SubmitSm};
    use herald_smpp::session::{BindMode, CloseReason, SessionConfig, bind};
    use herald_smpp::types::{Address, COctetString};
    use herald_smpp::{CommandStatus, PduBody};

    let Backing {
        nats,
        etcd,
        rules: client,
    } = Backing::start().await;
    let acme = serde_json::json!({ "quota": { "tps": 100 }, "window": 100 });
    seed::account(&client, "acme", "secret", acme).await;
    seed::carrier(&client, seed::NO_CARRIER_PORT, serde_json::json!({})).await;
    seed::route(&client, "all", &[]).await;

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    let (_control, address) = spawn_control(&nats, &etcd, &client, &tokens).await;
    let (mut edge, smpp) = spawn_edge("edge-admin-test", &nats, &etcd, &client).await;
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut api = AdminServiceClient::new(channel);

    // List: every object of the kind, with its revision.
    let accounts = api
        .list(authed(ListRequest {
            kind: Kind::Account.into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accounts.objects.len(), 1, "{accounts:?}");
    let acme = &accounts.objects[0];
    assert_eq!(acme.id, "acme");
    assert_eq!(acme.kind, i32::from(Kind::Account));
    assert!(acme.mod_revision > 0 && accounts.revision >= acme.mod_revision);
    let routes = api
        .list(authed(ListRequest {
            kind: Kind::Route.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .objects;
    let ids: Vec<_> = routes.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["all"]);
    let unspecified = api
        .list(authed(ListRequest {
            kind: Kind::Unspecified.into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(unspecified.code(), Code::InvalidArgument, "{unspecified:?}");

    // A message submitted through the edge; its final status recorded as a connector would.
    let io = tokio::net::TcpStream::connect(&smpp).await.unwrap();
    let request = Bind {
        system_id: COctetString::from("acme"),
        password: COctetString::from("secret"),
        interface_version: 0x34,
        ..Bind::default()
    };
    let (session, _inbox, _) = bind(io, SessionConfig::default(), BindMode::Transceiver, request)
        .await
        .unwrap();
    let resp = session
        .request(PduBody::SubmitSm(SubmitSm {
            source: Address::international("447700900000"),
            dest: Address::international("447700900001"),
            short_message: Bytes::from_static(b"look me up"),
            ..SubmitSm::default()
        }))
        .await
        .unwrap();
    assert_eq!(resp.command_status, CommandStatus::ESME_ROK);
    let PduBody::SubmitSmResp(resp) = resp.body else {
        panic!("{resp:?}")
    };
    let id = resp.message_id.to_string_lossy();
    let bus = herald_bus::Bus::connect(herald_bus::BusConfig::local(nats.client_url()))
        .await
        .unwrap();
    let status = bus.status_store().await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let recorded = status
        .advance(&MessageStatus {
            message_id: id.clone(),
            account_id: "acme".into(),
            state: MessageState::Delivered.into(),
            stage: "final".into(),
            carrier_id: "sim".into(),
            updated_unix_ms: i64::try_from(now.as_millis()).unwrap(),
            ..MessageStatus::default()
        })
        .await
        .unwrap();
    assert!(recorded);
    let message = api
        .get_message(authed(GetMessageRequest {
            message_id: id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(message.message_id, id);
    assert_eq!(message.account_id, "acme");
    assert_eq!(message.carrier_id, "sim");
    assert_eq!(message.state, "delivered", "{message:?}");
    let last = message.history.last().unwrap();
    assert_eq!(last.state, "final", "{message:?}");
    assert!(last.at_unix_ms > 0);
    let unknown = api
        .get_message(authed(GetMessageRequest {
            message_id: "NOSUCHMESSAGE0000".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");

    // ListSessions: the ESME's session on the edge, across all edges and on the named one.
    for node_id in ["", "edge-admin-test"] {
        let sessions = api
            .list_sessions(authed(ListSessionsRequest {
                node_id: node_id.into(),
                account_id: String::new(),
            }))
            .await
            .unwrap()
            .into_inner()
            .sessions;
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert_eq!(sessions[0].node_id, "edge-admin-test");
        assert_eq!(sessions[0].account_id, "acme");
        assert_eq!(sessions[0].bind_mode, "transceiver");
    }
    // The edge registers how many sessions it holds (what edges rebalance by).
    herald_harness::eventually("the edge's session count in the cluster view", || {
        let mut api = api.clone();
        async move {
            let nodes = api
                .list_nodes(authed(ListNodesRequest {
                    role: "edge".into(),
                }))
                .await
                .unwrap()
                .into_inner()
                .nodes;
            nodes
                .iter()
                .any(|n| n.node_id == "edge-admin-test" && n.sessions == Some(1))
        }
    })
    .await;
    let nobody = api
        .list_sessions(authed(ListSessionsRequest {
            node_id: "no-such-edge".into(),
            account_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::NotFound, "{nobody:?}");

    // DrainNode: the edge unbinds the ESME and exits 0.
    let drained = api
        .drain_node(authed(DrainNodeRequest {
            node_id: "edge-admin-test".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(drained.draining);
    let closed = tokio::time::timeout(PATIENCE, session.closed())
        .await
        .unwrap();
    assert_eq!(closed, CloseReason::PeerUnbound);
    let exit = tokio::time::timeout(PATIENCE, edge.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0));

    // Delete: a wrong revision is refused with the current one, the right one deletes.
    let delete = |expected_revision: i64| DeleteRequest {
        kind: Kind::Account.into(),
        id: "acme".into(),
        expected_revision,
    };
    let stale = api
        .delete(authed(delete(acme.mod_revision - 1)))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert_eq!(
        stale.metadata().get("x-herald-current-revision").unwrap(),
        acme.mod_revision.to_string().as_str()
    );
    assert!(
        client
            .get_json(herald_rules::Kind::Account, "acme")
            .await
            .unwrap()
            .is_some()
    );
    let deleted = api
        .delete(authed(delete(acme.mod_revision)))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.revision > acme.mod_revision);
    let gone = api
        .get(authed(GetRequest {
            kind: Kind::Account.into(),
            id: "acme".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    // Unconditionally deleting what is absent succeeds.
    api.delete(authed(delete(0))).await.unwrap();
    let left = api
        .list(authed(ListRequest {
            kind: Kind::Account.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .objects;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_lists_a_connector_s_binds_to_a_carrier() {
    use herald_sim::{SimConfig, SimSmsc};

    let Backing {
        nats,
        etcd,
        rules: client,
    } = Backing::start().await;
    let sim = SimSmsc::start_local(SimConfig {
        system_id: "herald".into(),
        password: "simsecret".into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let carrier = serde_json::json!({ "binds": 2, "throughput": { "tps": 100 } });
    seed::carrier(&client, sim.local_addr().port(), carrier).await;
    let env = [("HERALD_SIM_PASSWORD", "simsecret".as_ref())];
    let (_connector, _) = spawn_role(
        "connector",
        "connector-admin-test",
        &nats,
        &etcd,
        &client,
        &env,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{TOKEN}\n")).unwrap();
    let (_control, address) = spawn_control(&nats, &etcd, &client, &tokens).await;
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut api = AdminServiceClient::new(channel);

    // Both slots of the carrier end up bound on the one connector, whichever way it is asked.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let binds = api
            .list_binds(authed(ListBindsRequest {
                node_id: String::new(),
                carrier_id: String::new(),
            }))
            .await
            .map(|answer| answer.into_inner().binds)
            .unwrap_or_default();
        let bound = binds.iter().filter(|b| b.state == "bound").count();
        if bound == 2 {
            assert!(
                binds
                    .iter()
                    .all(|b| b.node_id == "connector-admin-test" && b.carrier_id == "sim")
            );
            let mut slots: Vec<u32> = binds.iter().map(|b| b.slot).collect();
            slots.sort_unstable();
            assert_eq!(slots, [0, 1]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never two bound binds: {binds:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let named = api
        .list_binds(authed(ListBindsRequest {
            node_id: "connector-admin-test".into(),
            carrier_id: "sim".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .binds;
    assert_eq!(named.len(), 2, "{named:?}");
    let other_carrier = api
        .list_binds(authed(ListBindsRequest {
            node_id: String::new(),
            carrier_id: "other".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .binds;
    assert!(other_carrier.is_empty(), "{other_carrier:?}");
    let nobody = api
        .list_binds(authed(ListBindsRequest {
            node_id: "no-such-connector".into(),
            carrier_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::NotFound, "{nobody:?}");
    // Without a token: refused like every other call.
    let refused = api
        .list_binds(tonic::Request::new(ListBindsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(sim.peak_binds() <= 2);
}
