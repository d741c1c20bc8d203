//! `kafka-topics` against a 3-broker testkit cluster: create, list,
//! describe (compared with a committed sample, topic ids masked), alter,
//! delete, Kafka's error messages, and what the cluster holds afterwards.

mod common;

use std::collections::BTreeMap;

use common::{check_expected, cluster, normalize, run};
use kafka_client::admin::Admin;

const T: &str = "kafka-topics";

/// Topic ids are random: 22 characters of URL-safe base64.
const TOPIC_IDS: (&str, &str) = (r"TopicId: [A-Za-z0-9_-]{22}", "TopicId: <id>");
/// Replica placement starts at a random broker, as in Kafka: the brokers
/// are checked against the cluster (`check_partition_lines`), then masked.
const BROKERS: (&str, &str) =
    (r"\tLeader: [^\t]*\tReplicas: [^\t]*\tIsr: [^\t]*\t", "\tLeader: <l>\tReplicas: <r>\tIsr: <isr>\t");

/// Every partition line of `--describe` shows what the cluster holds.
async fn check_partition_lines(cluster: &broker_testkit::Cluster, out: &str) {
    let ids = |s: &str| -> Vec<i32> { s.split(',').filter(|v| !v.is_empty()).map(|v| v.parse().unwrap()).collect() };
    for line in out.lines().filter(|l| l.starts_with("\tTopic: ")) {
        let fields: BTreeMap<&str, &str> = line[1..].split('\t').filter_map(|f| f.split_once(": ")).collect();
        let state = cluster.partition_state(fields["Topic"], fields["Partition"].parse().unwrap()).await.unwrap();
        assert_eq!(fields["Leader"], state.leader.to_string(), "{line}");
        assert_eq!(ids(fields["Replicas"]), state.replicas, "{line}");
        assert_eq!(ids(fields["Isr"]), state.isr, "{line}");
    }
}

async fn topics(boot: &str, args: &[&str]) -> common::Run {
    run(T, &[&["--bootstrap-server", boot], args].concat(), "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_describe_alter_delete() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();

    let create = [
        "--create",
        "--topic",
        "orders",
        "--partitions",
        "3",
        "--replication-factor",
        "3",
        "--config",
        "retention.ms=86400000",
        "--config",
        "max.message.bytes = 65536",
    ];
    let r = topics(&boot, &create).await.ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("Created topic orders.\n", ""));
    let state = cluster.partition_state("orders", 2).await.unwrap();
    assert_eq!(state.replicas.len(), 3);
    // A name with a period: Kafka's warning about metric names first.
    let r = topics(&boot, &["--create", "--topic", "audit.log", "--partitions", "1", "--replication-factor", "2"])
        .await
        .ok();
    assert!(r.stdout.starts_with("WARNING: Due to limitations in metric names"), "{}", r.stdout);
    assert!(r.stdout.ends_with("\nCreated topic audit.log.\n"), "{}", r.stdout);
    // The broker's defaults for what is left out.
    let r = topics(&boot, &["--create", "--topic", "defaults"]).await.ok();
    assert_eq!(r.stdout, "Created topic defaults.\n");

    let r = topics(&boot, &["--list"]).await.ok();
    assert_eq!(r.stdout, "audit.log\ndefaults\norders\n");
    let r = topics(&boot, &["--list", "--topic", "a.*,def.*"]).await.ok();
    assert_eq!(r.stdout, "audit.log\ndefaults\n");

    // Describe every topic: Kafka's layout, in the order Kafka prints
    // them (Java's HashMap of descriptions), configs set away from the
    // defaults only.
    let r = topics(&boot, &["--describe"]).await.ok();
    check_partition_lines(&cluster, &r.stdout).await;
    check_expected("topics_describe.txt", &normalize(&r.stdout, &[TOPIC_IDS, BROKERS]));
    // The topic id printed is the cluster's.
    let admin = Admin::builder().bootstrap_servers(&boot).build().unwrap();
    let listed = admin.list_topics(false).await.unwrap();
    let id = listed["orders"].topic_id.unwrap().to_string();
    let r = topics(&boot, &["--describe", "--topic", "orders"]).await.ok();
    assert!(r.stdout.starts_with(&format!("Topic: orders\tTopicId: {id}\tPartitionCount: 3\t")), "{}", r.stdout);
    // Only topics with overrides, and then no partition lines.
    let r = topics(&boot, &["--describe", "--topics-with-overrides"]).await.ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    assert!(lines[0].starts_with("Topic: orders\t"));
    // Every replica is in sync: no under-replicated partition to report.
    let r = topics(&boot, &["--describe", "--under-replicated-partitions"]).await.ok();
    assert_eq!(r.stdout, "");

    // Grow a topic; Kafka's tool prints nothing when it worked.
    let r = topics(&boot, &["--alter", "--topic", "orders", "--partitions", "5"]).await.ok();
    assert_eq!(r.stdout, "");
    assert!(cluster.partition_state("orders", 4).await.is_ok());
    let r = topics(&boot, &["--describe", "--topic", "orders"]).await.ok();
    assert!(r.stdout.contains("\tPartitionCount: 5\t"));
    assert_eq!(r.stdout.lines().count(), 6);
    // Shrinking is refused by the controller, in Kafka's words.
    let r = topics(&boot, &["--alter", "--topic", "orders", "--partitions", "2"]).await;
    assert_eq!(
        r.failed_with_one_line(),
        "kafka-topics: Error while executing topic command : Topic currently has 5 partitions, which is higher than \
         the requested 2."
    );

    // Creating an existing topic: refused, unless --if-not-exists.
    let again = ["--create", "--topic", "orders", "--partitions", "1", "--replication-factor", "1"];
    let r = topics(&boot, &again).await;
    assert_eq!(
        r.failed_with_one_line(),
        "kafka-topics: Error while executing topic command : Topic 'orders' already exists."
    );
    let r = topics(&boot, &[&again[..], &["--if-not-exists"]].concat()).await.ok();
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));

    // Delete by regular expression; nothing printed.
    let r = topics(&boot, &["--delete", "--topic", "orders|defaults"]).await.ok();
    assert_eq!(r.stdout, "");
    assert_eq!(topics(&boot, &["--list"]).await.ok().stdout, "audit.log\n");
    let r = topics(&boot, &["--delete", "--topic", "orders"]).await;
    assert_eq!(r.failed_with_one_line(), "kafka-topics: Topic 'orders' does not exist as expected");
    topics(&boot, &["--delete", "--topic", "orders", "--if-exists"]).await.ok();
    let r = topics(&boot, &["--describe", "--topic", "orders"]).await;
    assert_eq!(r.failed_with_one_line(), "kafka-topics: Topic 'orders' does not exist as expected");

    // Internal topics are listed unless --exclude-internal. Asking about a
    // group makes the cluster create __consumer_offsets.
    admin.list_consumer_group_offsets("probe", None).await.unwrap();
    assert_eq!(topics(&boot, &["--list"]).await.ok().stdout, "__consumer_offsets\naudit.log\n");
    assert_eq!(topics(&boot, &["--list", "--exclude-internal"]).await.ok().stdout, "audit.log\n");
    let r = topics(&boot, &["--describe", "--exclude-internal"]).await.ok();
    assert!(r.stdout.starts_with("Topic: audit.log\t") && !r.stdout.contains("__consumer_offsets"));
    admin.close().await.ok();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_assignments_and_refusals() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();

    let r = topics(&boot, &["--create", "--topic", "placed", "--replica-assignment", "3:1,2:3"]).await.ok();
    assert_eq!(r.stdout, "Created topic placed.\n");
    assert_eq!(cluster.partition_state("placed", 0).await.unwrap().replicas, [3, 1]);
    assert_eq!(cluster.partition_state("placed", 1).await.unwrap().replicas, [2, 3]);
    // --alter with an assignment places only the new partitions.
    topics(&boot, &["--alter", "--topic", "placed", "--partitions", "3", "--replica-assignment", "3:1,2:3,1:2"])
        .await
        .ok();
    assert_eq!(cluster.partition_state("placed", 2).await.unwrap().replicas, [1, 2]);

    // What the brokers refuse, in Kafka's words.
    let r = topics(&boot, &["--create", "--topic", "big", "--partitions", "1", "--replication-factor", "4"]).await;
    let line = r.failed_with_one_line();
    assert!(line.starts_with("kafka-topics: Error while executing topic command : "), "{line}");
    let r = topics(&boot, &["--create", "--topic", "bad", "--config", "retention.ms=soon"]).await;
    assert!(r.failed_with_one_line().starts_with("kafka-topics: Error while executing topic command : "));

    // Mistakes found before connecting: one line, exit status 1.
    let cases: [(Vec<&str>, &str); 10] = [
        (vec!["--list", "--describe"], "Command must include exactly one action"),
        (
            vec!["--create", "--topic", "t", "--replication-factor", "0"],
            "The replication factor must be between 1 and 32767 inclusive",
        ),
        (vec!["--create", "--topic", "t", "--partitions", "0"], "The partitions must be greater than 0"),
        (
            vec!["--create", "--topic", "t", "--config", "retention.ms"],
            "all configs to be added must be in the format \"key=val\"",
        ),
        (vec!["--create", "--partitions", "1"], "Missing required argument \"[topic]\""),
        (vec!["--alter", "--topic", "t"], "Missing required argument \"[partitions]\""),
        (
            vec!["--alter", "--topic", "t", "--partitions", "2", "--config", "a=b"],
            "Option \"[config]\" can't be used with option \"[alter]\"",
        ),
        (
            vec!["--alter", "--topic", "t", "--partitions", "2", "--replication-factor", "2"],
            "Option \"[replication-factor]\" can't be used with option \"[alter]\"",
        ),
        (vec!["--list", "--if-not-exists"], "Option \"[if-not-exists]\" can't be used with option \"[list]\""),
        (
            vec!["--create", "--topic", "t", "--partitions", "1", "--replica-assignment", "1"],
            "Option \"[replica-assignment]\" can't be used with option \"[partitions]\"",
        ),
    ];
    for (args, expected) in cases {
        let r = topics(&boot, &args).await;
        let line = r.failed_with_one_line();
        assert!(line.starts_with("kafka-topics: ") && line.contains(expected), "{args:?}: {line}");
    }
    let r = run(T, &["--list"], "").await;
    assert_eq!(r.failed_with_one_line(), "kafka-topics: --bootstrap-server must be specified (see --help)");
    let r = topics(&boot, &["--create", "--topic", "t", "--replica-assignment", "1:1"]).await;
    assert!(r.failed_with_one_line().ends_with("Partition replica lists may not contain duplicate entries: 1"));

    let help = run(T, &["--help"], "").await.ok();
    for flag in ["--bootstrap-server", "--create", "--describe", "--if-not-exists", "--replica-assignment"] {
        assert!(help.stdout.contains(flag), "--help lacks {flag}");
    }
    cluster.shutdown().await;
}
