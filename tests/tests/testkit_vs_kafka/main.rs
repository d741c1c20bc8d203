//! The testkit compared with Apache Kafka, answer by answer (issue 11,
//! part 4; feature `real-kafka`): each scenario (one file per API family)
//! sends the same requests, over a plain connection, to a single-node Kafka
//! (4.0.2 and 4.4.0; the versions added after 4.0 to 4.4.0 only) and to a
//! single-broker testkit with the same settings; the answers
//! are rendered to JSON, values that legitimately differ are masked (ids,
//! hosts, ports, throttling, error message texts; see `harness.rs`), and
//! every remaining difference must be listed in [`KNOWN`] with the reason
//! it stays. A difference not listed fails the test; a listed one that no
//! longer occurs fails it too, so the list stays true. CONFORMANCE_VERBOSE=1
//! prints every answer Kafka gave.
#![cfg(feature = "real-kafka")]

mod admin;
mod bad_input;
mod common;
mod fetch;
mod groups;
mod harness;
mod list_offsets;
mod metadata;
mod newest;
mod produce;
mod transactions;
mod txn_admin;

use std::collections::BTreeSet;
use std::time::Duration;

use harness::{Scenario, Session, differences};
use tests::real_kafka::{KafkaCluster, NEWEST, OLDEST};

/// The scenarios for `release`, in the order they run (each on a fresh
/// connection).
fn scenarios(release: &str) -> Vec<(&'static str, Scenario)> {
    let mut all: Vec<(&'static str, Scenario)> = vec![
        ("metadata", |s| Box::pin(metadata::known_and_unknown_topics(s))),
        ("produce", |s| Box::pin(produce::appends_and_errors(s))),
        ("produce-idempotent", |s| Box::pin(produce::idempotence(s))),
        ("fetch", |s| Box::pin(fetch::reads_and_errors(s))),
        ("list-offsets", |s| Box::pin(list_offsets::every_kind(s))),
        ("groups", |s| Box::pin(groups::membership_and_offsets(s))),
        ("admin", |s| Box::pin(admin::topics_configs_records(s))),
        ("bad-input", |s| Box::pin(bad_input::refused_and_still_serving(s))),
        ("transactions", |s| Box::pin(transactions::coordinator_and_markers(s))),
        ("transaction-admin", |s| Box::pin(txn_admin::describe_list_and_abort(s))),
    ];
    if release == NEWEST {
        all.push(("transaction-admin-4.4", |s| Box::pin(txn_admin::newest_filters(s))));
    }
    if release == NEWEST {
        all.push(("after-4.0", |s| Box::pin(newest::versions_after_4_0(s))));
    }
    all
}

/// Differences that stay, as (request label, JSON path or its beginning,
/// why). Paths are those the test prints.
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "DescribeConfigs v4 chosen keys of a topic",
        "results[0].configs[",
        "a Kafka 4.4 cluster holds min.insync.replicas=1 as a cluster-wide dynamic default (source \
         DYNAMIC_DEFAULT_BROKER_CONFIG; 4.0 reports the static default, as the testkit does), which also \
         moves it in the sorted list",
    ),
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

/// What one release's comparison found.
#[derive(Default)]
struct Findings {
    compared: usize,
    identical: usize,
    unexpected: Vec<String>,
    seen_known: BTreeSet<usize>,
}

async fn compare_with(release: &str, findings: &mut Findings) {
    let kafka = KafkaCluster::launch(release, 1).await.expect("kafka");
    let testkit = broker_testkit::Cluster::builder()
        .num_partitions(1)
        .default_replication_factor(1)
        .offsets_topic_partitions(3)
        .transaction_state_partitions(3)
        .group_initial_rebalance_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let kafka_addr = format!("127.0.0.1:{}", kafka.port(1).unwrap());
    let testkit_addr = testkit.bootstrap_servers();
    let (before, same_before) = (findings.compared, findings.identical);
    for (name, scenario) in scenarios(release) {
        let mut k = Session::new(kafka_addr.clone());
        scenario(&mut k).await;
        let mut t = Session::new(testkit_addr.clone());
        scenario(&mut t).await;
        if k.exchanges.len() != t.exchanges.len() {
            let show =
                |x: &Session| x.exchanges.iter().map(|e| format!("  {} = {}", e.label, e.answer)).collect::<Vec<_>>();
            panic!(
                "{name}: the runs took different paths\nKafka:\n{}\ntestkit:\n{}",
                show(&k).join("\n"),
                show(&t).join("\n")
            );
        }
        for (ke, te) in k.exchanges.iter().zip(&t.exchanges) {
            if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
                eprintln!("{release} / {name} / {}: {}", ke.label, ke.answer);
            }
            findings.compared += 1;
            let diffs = differences(&ke.answer, &te.answer);
            if diffs.is_empty() {
                findings.identical += 1;
            }
            for (path, kv, tv) in diffs {
                match KNOWN.iter().position(|(label, p, _)| *label == ke.label && path.starts_with(p)) {
                    Some(i) => {
                        findings.seen_known.insert(i);
                    }
                    None => findings
                        .unexpected
                        .push(format!("{release} / {name} / {} / {path}: Kafka {kv}, testkit {tv}", ke.label)),
                }
            }
        }
    }
    eprintln!(
        "Kafka {release}: {} answers compared, {} identical after masking",
        findings.compared - before,
        findings.identical - same_before
    );
    testkit.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_testkit_answers_as_kafka_does() {
    let mut findings = Findings::default();
    for release in [OLDEST, NEWEST] {
        compare_with(release, &mut findings).await;
    }
    let stale: Vec<&str> =
        KNOWN.iter().enumerate().filter(|(i, _)| !findings.seen_known.contains(i)).map(|(_, k)| k.0).collect();
    for u in &findings.unexpected {
        eprintln!("DIFFERS {u}");
    }
    assert!(findings.unexpected.is_empty(), "{} unlisted differences from Kafka", findings.unexpected.len());
    assert!(stale.is_empty(), "listed differences that no longer occur: {stale:?}");
}
