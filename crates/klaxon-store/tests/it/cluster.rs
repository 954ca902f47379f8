//! Several nodes on one schema, one leader (`postgres/cluster.rs`): only one store wins the
//! election, another takes over when the winner's lock session is ended, and a deposed
//! leader's writes are refused (fenced) without writing anything. Each test has a fresh schema;
//! without a reachable PostgreSQL it prints why and passes (see `postgres_conformance`).
#![allow(clippy::unwrap_used)] // tests

use std::time::{Duration, Instant};

use klaxon_store::postgres::PostgresStore;
use klaxon_store::{Role, Store, StoreError};

use crate::postgres_conformance::{drop_schema, make, skip, url};

const LEASE: Duration = Duration::from_secs(5);

async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Ends the session holding the leader lock of `schema`; how many it ended.
async fn end_leader_session(schema: &str) -> usize {
    admin()
        .await
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
             AND granted AND objsubid = 2 AND classid = $1::integer::oid \
             AND objid = hashtext($2)::oid",
            &[&0x6b6c_7802_i32, &schema],
        )
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_leads_and_another_takes_over_when_its_session_ends() {
    if skip().await {
        return;
    }
    let a = make().await;
    let schema = a.schema().unwrap().to_owned();
    let b = PostgresStore::connect(&url(), Some(&schema)).await.unwrap();
    assert_eq!(
        a.cluster_view().await.unwrap().leader,
        None,
        "no leader yet"
    );

    let mut lead_a = a
        .try_lead("a", "http://a:7731", LEASE)
        .await
        .unwrap()
        .expect("the first candidate wins");
    assert_eq!(lead_a.epoch(), 1);
    assert!(
        b.try_lead("b", "http://b:7731", LEASE)
            .await
            .unwrap()
            .is_none(),
        "a second candidate loses while the first holds the lock"
    );
    let view = b.cluster_view().await.unwrap();
    let leader = view.leader.expect("a leads");
    assert_eq!((leader.node.as_str(), leader.epoch), ("a", 1));
    assert_eq!(leader.advertise, "http://a:7731");
    a.insert_token("by-a", Role::Admin, "h1", 1).await.unwrap();

    // The winner's lock session dies: the winner notices, the other node wins the next epoch.
    assert_eq!(end_leader_session(&schema).await, 1);
    let noticed = tokio::time::timeout(
        Duration::from_secs(5),
        lead_a.hold(Duration::from_millis(100)),
    )
    .await
    .expect("a leader notices its lost session within seconds");
    assert!(!noticed.is_empty());
    // A candidate campaigning again and again, on one session.
    let mut candidate = b.candidate("b", "http://b:7731", LEASE);
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut lead_b = loop {
        if let Some(l) = candidate.try_lead().await.unwrap() {
            break l;
        }
        assert!(Instant::now() < give_up, "b never took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(lead_b.epoch(), 2);
    let leader = a.cluster_view().await.unwrap().leader.expect("b leads");
    assert_eq!((leader.node.as_str(), leader.epoch), ("b", 2));

    // The deposed leader's pool still works, but its writes are refused and write nothing.
    let refused = a.insert_token("late-a", Role::Admin, "h2", 2).await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    assert!(matches!(a.ping().await, Err(StoreError::Fenced(_))));
    assert!(
        a.write_failure().is_none(),
        "a fenced write is not a failing database"
    );
    b.insert_token("by-b", Role::Admin, "h3", 3).await.unwrap();
    let names: Vec<String> = b
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(names.contains(&"by-a".to_owned()) && names.contains(&"by-b".to_owned()));
    assert!(!names.contains(&"late-a".to_owned()), "{names:?}");
    // Reads stay open to the deposed node.
    a.list_tokens().await.unwrap();

    // b holds on while its session lives.
    let held = tokio::time::timeout(
        Duration::from_millis(600),
        lead_b.hold(Duration::from_millis(100)),
    )
    .await;
    assert!(held.is_err(), "b lost its leadership: {held:?}");
    drop(lead_b);
    drop(b);
    drop_schema(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_whose_epoch_was_raised_learns_it() {
    if skip().await {
        return;
    }
    let a = make().await;
    let schema = a.schema().unwrap().to_owned();
    let mut lead = a.try_lead("a", "http://a", LEASE).await.unwrap().unwrap();
    admin()
        .await
        .batch_execute(&format!(
            "UPDATE {schema}.cluster_leader SET epoch = epoch + 1, node = 'other'"
        ))
        .await
        .unwrap();
    let why = tokio::time::timeout(Duration::from_secs(5), lead.hold(Duration::from_millis(50)))
        .await
        .expect("noticed");
    assert!(why.contains("other"), "{why}");
    assert!(matches!(a.ping().await, Err(StoreError::Fenced(_))));
    drop(lead);
    drop_schema(a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heartbeats_list_the_nodes_with_their_age() {
    if skip().await {
        return;
    }
    let a = make().await;
    a.cluster_heartbeat("n1", "http://n1", "follower", true)
        .await
        .unwrap();
    a.cluster_heartbeat("n2", "http://n2", "follower", true)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.cluster_heartbeat("n2", "http://n2b", "leader", false)
        .await
        .unwrap();
    let view = a.cluster_view().await.unwrap();
    assert_eq!(view.epoch, 0);
    let nodes: Vec<(&str, &str, &str)> = view
        .nodes
        .iter()
        .map(|n| (n.node.as_str(), n.advertise.as_str(), n.role.as_str()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("n1", "http://n1", "follower"),
            ("n2", "http://n2b", "leader")
        ]
    );
    assert!(view.nodes[0].heartbeat_age_ms >= 250, "{view:?}");
    assert!(view.nodes[1].heartbeat_age_ms < 250, "{view:?}");
    assert!(view.nodes[1].started_at <= view.nodes[0].started_at + 50);
    a.cluster_leave("n1").await.unwrap();
    assert_eq!(a.cluster_view().await.unwrap().nodes.len(), 1);
    drop_schema(a).await;
}
