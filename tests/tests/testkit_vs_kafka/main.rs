//! The testkit compared with Apache Kafka, answer by answer (issue 11,
//! part 4; feature `real-kafka`): each scenario (one file per API family)
//! sends the same requests, over a plain connection, to a single-node Kafka
//! 4.0.2 and to a single-broker testkit with the same settings; the answers
//! are rendered to JSON, values that legitimately differ are masked (ids,
//! hosts, ports, throttling, error message texts; see `harness.rs`), and
//! every remaining difference must be listed in [`KNOWN`] with the reason
//! it stays. A difference not listed fails the test; a listed one that no
//! longer occurs fails it too, so the list stays true.
#![cfg(feature = "real-kafka")]

mod admin;
mod common;
mod fetch;
mod groups;
mod harness;
mod list_offsets;
mod metadata;
mod produce;

use std::collections::BTreeSet;
use std::time::Duration;

use harness::{Scenario, Session, differences};
use tests::real_kafka::{KafkaCluster, PINNED};

/// The scenarios, in the order they run (each on a fresh connection).
fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        ("metadata", |s| Box::pin(metadata::known_and_unknown_topics(s))),
        ("produce", |s| Box::pin(produce::appends_and_errors(s))),
        ("produce-idempotent", |s| Box::pin(produce::idempotence(s))),
        ("fetch", |s| Box::pin(fetch::reads_and_errors(s))),
        ("list-offsets", |s| Box::pin(list_offsets::every_kind(s))),
        ("groups", |s| Box::pin(groups::membership_and_offsets(s))),
        ("admin", |s| Box::pin(admin::topics_configs_records(s))),
    ]
}

/// Differences that stay, as (request label, JSON path, why). Paths are
/// those the test prints.
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "CreateTopics v7 validate only",
        "topics[0].configs",
        "Kafka lists every topic config (about 40); the testkit lists the 13 it implements (DESIGN.md)",
    ),
    (
        "CreateTopics v7",
        "topics[0].configs",
        "Kafka lists every topic config (about 40); the testkit lists the 13 it implements (DESIGN.md)",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_testkit_answers_as_kafka_does() {
    let kafka = KafkaCluster::launch(PINNED, 1).await.expect("kafka");
    let testkit = broker_testkit::Cluster::builder()
        .num_partitions(1)
        .default_replication_factor(1)
        .offsets_topic_partitions(3)
        .group_initial_rebalance_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let kafka_addr = format!("127.0.0.1:{}", kafka.port(1).unwrap());
    let testkit_addr = testkit.bootstrap_servers();

    let mut unexpected = Vec::new();
    let mut seen_known = BTreeSet::new();
    let mut compared = 0usize;
    let mut identical = 0usize;
    for (name, scenario) in scenarios() {
        let mut k = Session::new(kafka_addr.clone());
        scenario(&mut k).await;
        let mut t = Session::new(testkit_addr.clone());
        scenario(&mut t).await;
        assert_eq!(k.exchanges.len(), t.exchanges.len(), "{name}: the runs took different paths");
        for (ke, te) in k.exchanges.iter().zip(&t.exchanges) {
            compared += 1;
            let diffs = differences(&ke.answer, &te.answer);
            if diffs.is_empty() {
                identical += 1;
            }
            for (path, kv, tv) in diffs {
                match KNOWN.iter().position(|(label, p, _)| *label == ke.label && *p == path) {
                    Some(i) => {
                        seen_known.insert(i);
                    }
                    None => unexpected.push(format!("{name} / {} / {path}: Kafka {kv}, testkit {tv}", ke.label)),
                }
            }
        }
    }
    eprintln!("{compared} answers compared, {identical} identical after masking");
    let stale: Vec<&str> =
        KNOWN.iter().enumerate().filter(|(i, _)| !seen_known.contains(i)).map(|(_, k)| k.0).collect();
    for u in &unexpected {
        eprintln!("DIFFERS {u}");
    }
    assert!(unexpected.is_empty(), "{} unlisted differences from Kafka {PINNED}", unexpected.len());
    assert!(stale.is_empty(), "listed differences that no longer occur: {stale:?}");
    testkit.shutdown().await;
}
