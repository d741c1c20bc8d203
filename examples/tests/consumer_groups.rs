//! `kafka-consumer-groups` against a 3-broker testkit cluster: describing
//! a group with members and lag, and without members (Kafka's notice);
//! deleting one (refused while it has members); resetting offsets (dry run
//! and execute, refused while active, every scenario), checked against the
//! offsets the cluster holds.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use broker_testkit::Cluster;
use common::{check_expected, cluster, normalize, run, topic};
use kafka_client::TopicPartition;
use kafka_client::admin::Admin;
use kafka_client::consumer::{Consumer, OffsetAndMetadata, OffsetReset};
use kafka_client::producer::{Producer, ProducerRecord};

const G: &str = "kafka-consumer-groups";
const WAIT: Duration = Duration::from_secs(20);

/// Member ids end with a random UUID; the mask keeps the width, so the
/// samples still show the column alignment.
const MEMBER_IDS: (&str, &str) =
    (r"-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");

/// 2024-01-01T00:00:00Z.
const BASE_TS: i64 = 1_704_067_200_000;

async fn groups(boot: &str, args: &[&str]) -> common::Run {
    run(G, &[&["--bootstrap-server", boot], args].concat(), "").await
}

/// Writes `per_partition` records to each partition of `topic`, the i-th
/// of a partition stamped `BASE_TS + i` seconds.
async fn produce(cluster: &Cluster, topic: &str, partitions: i32, per_partition: i64) {
    let p = Producer::builder().bootstrap_servers(cluster.bootstrap_servers()).build().unwrap();
    let mut futs = Vec::new();
    for partition in 0..partitions {
        for i in 0..per_partition {
            let r =
                ProducerRecord::new(topic).partition(partition).value(format!("v{i}")).timestamp(BASE_TS + i * 1000);
            futs.push(p.send(r).await.unwrap());
        }
    }
    for f in futs {
        f.await.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// A group member polling in the background until stopped.
struct Member {
    consumer: Arc<Consumer>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

fn member(cluster: &Cluster, group: &str, client_id: &str, topic: &str) -> Member {
    let consumer = Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .client_id(client_id)
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    consumer.subscribe([topic]).unwrap();
    let consumer = Arc::new(consumer);
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (consumer.clone(), stop.clone());
    let task = tokio::spawn(async move {
        while !s.load(Ordering::SeqCst) {
            let _ = c.poll(Duration::from_millis(50)).await;
        }
    });
    Member { consumer, stop, task }
}

impl Member {
    async fn leave(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        self.consumer.close().await.unwrap();
    }
}

async fn committed(cluster: &Cluster, group: &str) -> BTreeMap<i32, i64> {
    cluster.committed_offsets(group).await.unwrap().into_iter().map(|((_, p), o)| (p, o)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_delete_and_refusals_while_active() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "orders", 3).await;
    produce(&cluster, "orders", 3, 5).await;

    // Two members over three partitions: range gives c1 two, c2 one.
    let c1 = member(&cluster, "g", "c1", "orders");
    let c2 = member(&cluster, "g", "c2", "orders");
    cluster.wait_for_group_stable("g", Some(2), WAIT).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Range over the members sorted by id: c1 gets orders-0 and -1, c2 orders-2.
    while (c1.consumer.assignment().len(), c2.consumer.assignment().len()) != (2, 1) {
        assert!(tokio::time::Instant::now() < deadline, "the members never got their partitions");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // orders-1 stays without a commit: its CURRENT-OFFSET and LAG are "-".
    c1.consumer.commit_offsets([(tp("orders", 0), OffsetAndMetadata::new(2))].into()).await.unwrap();
    c2.consumer.commit_offsets([(tp("orders", 2), OffsetAndMetadata::new(5))].into()).await.unwrap();

    let r = groups(&boot, &["--list"]).await.ok();
    assert_eq!(r.stdout, "g\n");
    let r = groups(&boot, &["--list", "--state"]).await.ok();
    assert_eq!(r.stdout, format!("{:<25} {:<20}\n{:<25} {:<20}\n", "GROUP", "STATE", "g", "Stable"));

    // The member with more partitions first, each member's in order.
    let r = groups(&boot, &["--describe", "--group", "g"]).await.ok();
    assert_eq!(r.stderr, "", "a stable group has no notice");
    check_expected("groups_describe_members.txt", &normalize(&r.stdout, &[MEMBER_IDS]));
    // Members come in the coordinator's order, which varies: compare lines.
    let r = groups(&boot, &["--describe", "--group", "g", "--members"]).await.ok();
    let view = normalize(&r.stdout, &[MEMBER_IDS]);
    let mut lines: Vec<&str> = view.split('\n').collect();
    lines.sort_unstable();
    let id = |c: &str| format!("{c}-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    let mut expected = vec![
        String::new(),
        String::new(),
        format!("{:<15} {:<39} {:<15} {:<15} {:<15} ", "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"),
        format!("{:<15} {:<39} {:<15} {:<15} {:<15} ", "g", id("c1"), "/127.0.0.1", "c1", "2"),
        format!("{:<15} {:<39} {:<15} {:<15} {:<15} ", "g", id("c2"), "/127.0.0.1", "c2", "1"),
    ];
    expected.sort_unstable();
    assert_eq!(lines, expected, "{}", r.stdout);
    let r = groups(&boot, &["--describe", "--group", "g", "--state"]).await.ok();
    let row = r.stdout.lines().nth(2).unwrap_or_default().to_string();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((cells[0], cells[3], cells[4], cells[5]), ("g", "range", "Stable", "2"), "{}", r.stdout);

    // Kafka refuses to touch an active group's offsets or delete it.
    let reset = ["--reset-offsets", "--group", "g", "--topic", "orders", "--to-earliest", "--execute"];
    let r = groups(&boot, &reset).await;
    assert_eq!(
        r.failed_with_one_line(),
        "kafka-consumer-groups: Error: Assignments can only be reset if the group 'g' is inactive, but the current \
         state is Stable."
    );
    assert_eq!(r.stdout, "");
    let r = groups(&boot, &["--delete", "--group", "g"]).await;
    assert_eq!(
        r.failed_with_one_line(),
        "kafka-consumer-groups: Error: Deletion of some consumer groups failed: * Group 'g' could not be deleted due \
         to: org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty."
    );
    assert_eq!(committed(&cluster, "g").await, BTreeMap::from([(0, 2), (2, 5)]));

    // Without members: Kafka's notice on stderr, the committed partitions
    // on stdout with "-" for the member columns.
    c1.leave().await;
    c2.leave().await;
    let r = groups(&boot, &["--describe", "--group", "g"]).await.ok();
    assert_eq!(r.stderr, "\nConsumer group 'g' has no active members.\n");
    check_expected("groups_describe_empty.txt", &r.stdout);
    let r = groups(&boot, &["--describe", "--group", "g", "--members"]).await.ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", "\nConsumer group 'g' has no active members.\n"));

    let r = groups(&boot, &["--delete", "--group", "g"]).await.ok();
    assert_eq!(r.stdout, "Deletion of requested consumer groups ('g') was successful.\n");
    assert!(cluster.committed_offsets("g").await.unwrap().is_empty());
    let r = groups(&boot, &["--describe", "--group", "g"]).await;
    assert_eq!(r.failed_with_one_line(), "kafka-consumer-groups: Error: Consumer group 'g' does not exist.");
    let r = groups(&boot, &["--delete", "--group", "g"]).await;
    assert!(r.failed_with_one_line().ends_with("GroupIdNotFoundException: The group id does not exist."));
    cluster.shutdown().await;
}

/// As in Kafka's `collectGroupOffsets`, a member without partitions has
/// no row in the offsets table; `--members` lists it with 0 partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_partitions() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "single", 1).await;
    let a = member(&cluster, "idle", "a", "single");
    let b = member(&cluster, "idle", "b", "single");
    cluster.wait_for_group_stable("idle", Some(2), WAIT).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while (a.consumer.assignment().len(), b.consumer.assignment().len()) != (1, 0) {
        assert!(tokio::time::Instant::now() < deadline, "range gives the partition to the first member id");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = groups(&boot, &["--describe", "--group", "idle"]).await.ok();
    let rows: Vec<&str> = r.stdout.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "{}", r.stdout);
    assert!(rows[0].starts_with("idle            single          0          -               0               -"));
    assert!(rows[0].ends_with(" a"), "{}", rows[0]);
    let r = groups(&boot, &["--describe", "--group", "idle", "--members"]).await.ok();
    let counts: BTreeMap<&str, &str> = r
        .stdout
        .lines()
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            (cells[3], cells[4])
        })
        .collect();
    assert_eq!(counts, BTreeMap::from([("a", "1"), ("b", "0")]), "{}", r.stdout);
    a.leave().await;
    b.leave().await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_offsets_plans_and_executes() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "events", 3).await;
    produce(&cluster, "events", 3, 10).await;
    let admin = Admin::builder().bootstrap_servers(&boot).build().unwrap();
    let start = (0..3).map(|p| (tp("events", p), OffsetAndMetadata::new(4)));
    admin.alter_consumer_group_offsets("r", start).await.unwrap();
    let at = |o: i64| BTreeMap::from([(0, o), (1, o), (2, o)]);

    // A dry run by default: Kafka's warning, the plan, nothing changed.
    let r = groups(&boot, &["--reset-offsets", "--group", "r", "--topic", "events", "--to-earliest"]).await.ok();
    assert!(r.stderr.starts_with("WARN: No action will be performed as the --execute option is missing."));
    check_expected("groups_reset_earliest.txt", &r.stdout);
    assert_eq!(committed(&cluster, "r").await, at(4));
    let r = groups(&boot, &["--reset-offsets", "--group", "r", "--all-topics", "--to-latest", "--dry-run"]).await.ok();
    assert_eq!((r.stdout.matches(" 10 ").count(), r.stderr.as_str()), (3, ""), "{}", r.stdout);
    assert_eq!(committed(&cluster, "r").await, at(4));

    let exec = |args: &[&'static str]| {
        let boot = boot.clone();
        let args: Vec<&'static str> = args.to_vec();
        async move {
            let base = ["--reset-offsets", "--group", "r", "--execute"];
            groups(&boot, &[&base[..], &args].concat()).await.ok()
        }
    };
    exec(&["--topic", "events", "--to-earliest"]).await;
    assert_eq!(committed(&cluster, "r").await, at(0));
    exec(&["--topic", "events", "--to-offset", "7"]).await;
    assert_eq!(committed(&cluster, "r").await, at(7));
    exec(&["--all-topics", "--shift-by", "-2"]).await;
    assert_eq!(committed(&cluster, "r").await, at(5));
    // Past the end: moved to the end, with Kafka's warning.
    let r = exec(&["--topic", "events:1", "--shift-by", "100"]).await;
    assert_eq!(
        r.stderr,
        "WARN New offset (105) is higher than latest offset for topic partition events-1. Value will be set to 10\n"
    );
    assert_eq!(committed(&cluster, "r").await, BTreeMap::from([(0, 5), (1, 10), (2, 5)]));
    exec(&["--topic", "events:0,2", "--to-current"]).await;
    assert_eq!(committed(&cluster, "r").await, BTreeMap::from([(0, 5), (1, 10), (2, 5)]));

    // By time: record i of each partition is stamped BASE_TS + i s.
    exec(&["--topic", "events", "--to-datetime", "2024-01-01T00:00:03.000"]).await;
    assert_eq!(committed(&cluster, "r").await, at(3));
    exec(&["--topic", "events", "--to-datetime", "2024-01-01T02:00:06.500+02:00"]).await;
    assert_eq!(committed(&cluster, "r").await, at(7));
    // After the last record: Kafka falls back to the end, saying so.
    let r = exec(&["--topic", "events:2", "--to-datetime", "2030-01-01T00:00:00.000Z"]).await;
    assert!(
        r.stdout.starts_with("\nWarn: Partition 2 from topic events is empty. Falling back to latest known offset.\n")
    );
    assert_eq!(committed(&cluster, "r").await, BTreeMap::from([(0, 7), (1, 7), (2, 10)]));
    // Records are years old: an hour back from now is after all of them.
    exec(&["--topic", "events:0", "--by-duration", "PT1H"]).await;
    assert_eq!(committed(&cluster, "r").await[&0], 10);

    // A group that does not exist yet gets the offsets.
    let r =
        groups(&boot, &["--reset-offsets", "--group", "fresh", "--topic", "events:1", "--to-offset", "2", "--execute"])
            .await
            .ok();
    assert!(r.stdout.contains("fresh"));
    assert_eq!(committed(&cluster, "fresh").await, BTreeMap::from([(1, 2)]));

    // What cannot be planned.
    let bad: [(Vec<&str>, &str); 4] = [
        (
            vec!["--topic", "events", "--to-datetime", "2024-01-01"],
            "Error: Executing consumer group command failed due to java.text.ParseException: Error parsing \
             timestamp. It does not contain a 'T' according to ISO8601 format",
        ),
        (
            vec!["--topic", "events", "--to-datetime", "2024-13-01T00:00:00.000"],
            "java.text.ParseException: Unparseable date: \"2024-13-01T00:00:00.000Z\"",
        ),
        (vec!["--topic", "events", "--by-duration", "1 hour"], "Text cannot be parsed to a Duration"),
        (
            vec!["--topic", "missing", "--to-earliest"],
            "Error: Executing consumer group command failed due to This server does not host this topic-partition.",
        ),
    ];
    for (args, expected) in bad {
        let r = groups(&boot, &[&["--reset-offsets", "--group", "r", "--dry-run"][..], &args].concat()).await;
        let line = r.failed_with_one_line();
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    let r = groups(&boot, &["--reset-offsets", "--group", "fresh", "--topic", "events:0", "--shift-by", "1"]).await;
    assert_eq!(
        r.stderr.lines().last(),
        Some(
            "kafka-consumer-groups: Cannot shift offset for partition events-0 since there is no current committed \
             offset (see --help)"
        )
    );
    admin.close().await.ok();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_offsets_and_mistakes() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "t", 2).await;
    let admin = Admin::builder().bootstrap_servers(&boot).build().unwrap();
    admin.alter_consumer_group_offsets("d", [(tp("t", 0), OffsetAndMetadata::new(0))]).await.unwrap();
    let r = groups(&boot, &["--delete-offsets", "--group", "d", "--topic", "t:0"]).await.ok();
    assert_eq!(
        r.stdout,
        format!(
            "Request succeeded for deleting offsets from group d.\n\n{:<15} {:<10} {:<15}\n{:<15} {:<10} {:<15}\n",
            "TOPIC", "PARTITION", "STATUS", "t", "0", "Successful"
        )
    );
    assert!(cluster.committed_offsets("d").await.unwrap().is_empty());
    admin.close().await.ok();

    let cases: [(Vec<&str>, &str); 9] = [
        (vec!["--list", "--describe"], "Command must include exactly one action"),
        (vec!["--describe"], "Option [describe] takes one of these options: [all-groups], [group]"),
        (vec!["--describe", "--group", "g", "--members", "--state"], "takes at most one of these options"),
        (vec!["--reset-offsets", "--group", "g", "--topic", "t"], "requires one of the following scenarios"),
        (vec!["--reset-offsets", "--group", "g", "--to-earliest"], "One of the reset scopes should be defined"),
        (
            vec!["--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--to-latest"],
            "Option \"[to-earliest]\" can't be used with option \"[to-latest]\"",
        ),
        (
            vec!["--reset-offsets", "--group", "g", "--all-topics", "--to-earliest", "--execute", "--dry-run"],
            "Option [reset-offsets] only accepts one of [execute] and [dry-run]",
        ),
        (vec!["--delete", "--group", "g", "--topic", "t"], "does not support topic-specific offset deletion"),
        (vec!["--list", "--state", "sleepy"], "Invalid state list 'sleepy'"),
    ];
    for (args, expected) in cases {
        let r = groups(&boot, &args).await;
        let line = r.failed_with_one_line();
        assert!(line.starts_with("kafka-consumer-groups: ") && line.contains(expected), "{args:?}: {line}");
    }
    let r = run(G, &["--list"], "").await;
    assert_eq!(
        r.failed_with_one_line(),
        "kafka-consumer-groups: Missing required argument \"[bootstrap-server]\" (see --help)"
    );
    let help = run(G, &["--help"], "").await.ok();
    for flag in ["--reset-offsets", "--to-datetime", "--shift-by", "--describe", "--delete", "--execute"] {
        assert!(help.stdout.contains(flag), "--help lacks {flag}");
    }
    cluster.shutdown().await;
}
