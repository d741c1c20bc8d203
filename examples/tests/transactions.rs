//! `kafka-transactions` against a 3-broker testkit cluster: list (with
//! filters), describe (an open, a committed and an unknown transactional
//! id), describe-producers (of the leader and of a follower), and abort a
//! hanging transaction by its start offset, after which it is no longer
//! open on the partition. Producer ids and times are masked; the rest is
//! checked as printed.

mod common;

use std::time::Duration;

use common::{cluster, normalize, run, topic};
use kafka_client::producer::{Producer, ProducerRecord};

const T: &str = "kafka-transactions";

async fn txn(boot: &str, args: &[&str]) -> common::Run {
    run(T, &[&["--bootstrap-server", boot], args].concat(), "").await
}

fn txn_producer(boot: &str, id: &str) -> Producer {
    Producer::builder().bootstrap_servers(boot).transactional_id(id).max_block(Duration::from_secs(20)).build().unwrap()
}

async fn send(p: &Producer, topic: &str, n: usize) {
    for i in 0..n {
        p.send(ProducerRecord::new(topic).partition(0).value(format!("v{i}")))
            .await
            .map_err(|e| e.error)
            .unwrap()
            .await
            .unwrap();
    }
}

/// Cells holding clock readings (13 digits) become `<time>`, padded as
/// the original, so the layout stays visible.
fn masked(text: &str) -> String {
    normalize(text, &[(r"\b1[0-9]{12}\b", "<time>       ")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_describe_and_abort() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "tx", 1).await;
    let committer = txn_producer(&boot, "tool-committer");
    committer.init_transactions().await.unwrap();
    committer.begin_transaction().await.unwrap();
    send(&committer, "tx", 3).await;
    committer.commit_transaction().await.unwrap();
    let hanging = txn_producer(&boot, "tool-hanging");
    hanging.init_transactions().await.unwrap();
    hanging.begin_transaction().await.unwrap();
    send(&hanging, "tx", 2).await;

    let listed = txn(&boot, &["list"]).await.ok().stdout;
    let mut lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.remove(0), "TransactionalId\tCoordinator\tProducerId\tTransactionState\t");
    lines.sort();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with("tool-committer \t") && lines[0].ends_with("\tCompleteCommit  \t"), "{listed}");
    assert!(lines[1].starts_with("tool-hanging   \t") && lines[1].ends_with("\tOngoing         \t"), "{listed}");
    let long = txn(&boot, &["list", "--duration-filter", "3600000"]).await.ok().stdout;
    assert_eq!(long, "TransactionalId\tCoordinator\tProducerId\tTransactionState\t\n", "nothing runs for an hour");
    let pattern = txn(&boot, &["list", "--transactional-id-pattern", "tool-h.*"]).await.ok().stdout;
    assert_eq!(pattern.lines().count(), 2, "{pattern}");
    assert!(pattern.contains("tool-hanging"), "{pattern}");

    let described = txn(&boot, &["describe", "--transactional-id", "tool-hanging"]).await.ok().stdout;
    let row: Vec<&str> = described.lines().nth(1).expect("a row").split('\t').map(str::trim_end).collect();
    assert_eq!(
        described.lines().next(),
        Some(
            "CoordinatorId\tTransactionalId\tProducerId\tProducerEpoch\tTransactionState\tTransactionTimeoutMs\t\
             CurrentTransactionStartTimeMs\tTransactionDurationMs\tTopicPartitions\t"
        )
    );
    assert_eq!((row[1], row[4], row[5], row[8]), ("tool-hanging", "Ongoing", "60000", "tx-0"), "{described}");
    assert!(row[6].parse::<i64>().is_ok() && row[7].parse::<i64>().is_ok(), "{described}");
    let unknown = txn(&boot, &["describe", "--transactional-id", "nobody"]).await;
    assert_eq!(
        unknown.failed_with_one_line(),
        "Failed to describe transaction state of transactional-id `nobody`: DescribeTransactions request for \
         transactionalId `nobody` failed because the ID could not be found. Enable debug logging for additional detail."
    );

    // The testkit allocates producer ids from 1000: the committer's, then the hanging one's.
    let producers = txn(&boot, &["describe-producers", "--topic", "tx", "--partition", "0"]).await.ok().stdout;
    let expected = "ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\tCurrentTransactionStartOffset\t\n\
                    1000      \t1            \t0                     \t-1          \t<time>       \tNone                         \t\n\
                    1001      \t0            \t-1                    \t1           \t<time>       \t4                            \t\n";
    assert_eq!(masked(&producers), expected, "{producers}");
    let leader = cluster.partition_state("tx", 0).await.unwrap().leader;
    let follower = (1..=3).find(|&b| b != leader).unwrap().to_string();
    let from_follower =
        txn(&boot, &["describe-producers", "--topic", "tx", "--partition", "0", "--broker-id", &follower]).await.ok();
    assert_eq!(masked(&from_follower.stdout), expected, "a follower holds the same state");
    let missing = txn(&boot, &["describe-producers", "--topic", "tx", "--partition", "7"]).await;
    assert!(missing.failed_with_one_line().starts_with("Failed to describe producers for partition tx-7 on leader: "));

    let wrong = txn(&boot, &["abort", "--topic", "tx", "--partition", "0", "--start-offset", "99"]).await;
    assert_eq!(
        wrong.failed_with_one_line(),
        "Could not find any open transactions starting at offset 99 on partition tx-0"
    );
    let aborted = txn(&boot, &["abort", "--topic", "tx", "--partition", "0", "--start-offset", "4"]).await.ok();
    assert_eq!(aborted.stdout, "", "Kafka's tool prints nothing on success");
    let after = txn(&boot, &["describe-producers", "--topic", "tx", "--partition", "0"]).await.ok().stdout;
    assert!(after.lines().nth(2).is_some_and(|l| l.ends_with("\tNone                         \t")), "{after}");
    let again = txn(&boot, &["abort", "--topic", "tx", "--partition", "0", "--start-offset", "4"]).await;
    assert!(again.failed_with_one_line().starts_with("Could not find any open transactions"));

    hanging.abort_transaction().await.unwrap();
    hanging.close().await.unwrap();
    committer.close().await.unwrap();
    cluster.shutdown().await;
}

/// `find-hanging`'s header row.
const HANGING_HEADER: &str =
    "Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)\t\n";

/// find-hanging: a transaction open for longer than the timeout given is
/// a candidate, and its coordinator vouches for it (its transaction holds
/// the partition), searched by topic, partition or broker; the scope
/// errors are Kafka's. (The testkit offers no transaction its coordinator
/// does not know — it aborts those on recovery — so the rows of hanging
/// transactions are checked by the unit tests of `examples::transactions`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_hanging_asks_the_coordinator_about_old_open_transactions() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "fh", 2).await;
    let open = txn_producer(&boot, "fh-open");
    open.init_transactions().await.unwrap();
    open.begin_transaction().await.unwrap();
    send(&open, "fh", 2).await;
    // Older than a timeout of 0 minutes as soon as a millisecond passed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let producers = txn(&boot, &["describe-producers", "--topic", "fh", "--partition", "0"]).await.ok().stdout;
    assert!(producers.lines().nth(1).is_some_and(|l| l.ends_with("\t0                            \t")), "{producers}");
    for args in [
        &["find-hanging", "--topic", "fh", "--max-transaction-timeout", "0"][..],
        &["find-hanging", "--topic", "fh", "--partition", "0", "--max-transaction-timeout", "0"],
        &["find-hanging", "--broker-id", "2", "--max-transaction-timeout", "0"],
        &["find-hanging", "--topic", "fh"],
    ] {
        assert_eq!(txn(&boot, args).await.ok().stdout, HANGING_HEADER, "{args:?}: the coordinator knows it");
    }
    let unscoped = txn(&boot, &["find-hanging"]).await;
    assert_eq!(
        unscoped.failed_with_one_line(),
        "The `find-hanging` command requires either --topic or --broker-id to limit the scope of the search"
    );
    let partition_only = txn(&boot, &["find-hanging", "--broker-id", "1", "--partition", "0"]).await;
    assert_eq!(partition_only.failed_with_one_line(), "The --partition argument requires --topic to be provided");
    open.abort_transaction().await.unwrap();
    open.close().await.unwrap();
    cluster.shutdown().await;
}
