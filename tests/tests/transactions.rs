//! Transactions end to end (issue 13): our transactional producer and our
//! `read_committed` consumer, the same scenario bodies against real Apache
//! Kafka (feature `real-kafka`: 4.4 with transactions v2, 4.4 formatted at
//! `transaction.version=1`, and 4.0) and against broker-testkit.
//!
//! What users rely on, each checked by a body below:
//! - committed records are read once by `read_committed`, aborted ones
//!   never; `read_uncommitted` sees both;
//! - an open transaction holds `read_committed` readers (and the LSO) back
//!   until it ends;
//! - a second producer with the same `transactional.id` fences the first:
//!   its commit fails as fenced, and what it wrote is aborted;
//! - offsets sent to a transaction are committed only if it commits;
//! - a `Transaction` dropped without commit is aborted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_client::admin::{Admin, ListOffsetsOptions, NewTopic, OffsetSpec};
use kafka_client::consumer::{
    Consumer, ConsumerGroupMetadata, ConsumerRecord, IsolationLevel, OffsetAndMetadata, OffsetReset,
};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{TopicPartition, TransactionErrorKind};
use tests::txn::send_all;

/// Bound of every wait in these tests.
const WAIT: Duration = Duration::from_secs(60);

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin = Admin::builder().bootstrap_servers(bootstrap).build().expect("admin");
    admin
        .create_topics(vec![NewTopic::new(name, partitions, 1)], Default::default())
        .await
        .expect("create topics")
        .into_iter()
        .for_each(|(t, r)| {
            r.unwrap_or_else(|e| panic!("create {t}: {e}"));
        });
    // Wait until every partition has a leader that answers ListOffsets.
    let deadline = Instant::now() + WAIT;
    loop {
        let specs: Vec<_> = (0..partitions).map(|p| (TopicPartition::new(name, p), OffsetSpec::Latest)).collect();
        if let Ok(r) = admin.list_offsets(specs, ListOffsetsOptions::new()).await
            && r.values().all(|v| v.is_ok())
        {
            break;
        }
        assert!(Instant::now() < deadline, "topic {name} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    admin.close().await.unwrap();
}

fn producer(bootstrap: &str, txn_id: &str) -> Producer {
    tests::txn::txn_producer(bootstrap, txn_id, WAIT)
}

/// Reads `topic` from the beginning until `expect` records came and the
/// end (the LSO under read_committed) is reached.
async fn read(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    level: IsolationLevel,
    expect: usize,
) -> Vec<ConsumerRecord> {
    let c = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(level)
        .build()
        .expect("consumer");
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
    c.assign(tps.clone()).unwrap();
    c.seek_to_beginning(&tps).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while out.len() < expect {
        assert!(Instant::now() < deadline, "{topic}: {} of {expect} records came ({level:?})", out.len());
        out.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    // Anything beyond what was expected would come now.
    out.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    c.close().await.unwrap();
    out
}

fn values(records: &[ConsumerRecord]) -> BTreeSet<String> {
    records.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()).collect()
}

/// Commits, aborts and commits again: read_committed sees the committed
/// records once each, read_uncommitted sees all of them.
async fn commit_and_abort(bootstrap: &str) {
    let topic = "txn-visibility";
    create_topic(bootstrap, topic, 3).await;
    let p = producer(bootstrap, "txn-visibility-writer");
    p.init_transactions().await.expect("init_transactions");
    p.begin_transaction().await.unwrap();
    send_all(&p, topic, "first", 10).await;
    p.commit_transaction().await.expect("commit");
    p.begin_transaction().await.unwrap();
    send_all(&p, topic, "aborted", 5).await;
    p.abort_transaction().await.expect("abort");
    // The transaction value: dropped open, it aborts.
    {
        let txn = p.transaction().await.unwrap();
        txn.send(ProducerRecord::new(topic).value("dropped-0")).await.map_err(|e| e.error).unwrap();
        p.flush().await;
    }
    let txn = p.transaction().await.expect("the next transaction waits for the dropped one's abort");
    for i in 0..3 {
        txn.send(ProducerRecord::new(topic).key(format!("k{i}")).value(format!("third-{i}")))
            .await
            .map_err(|e| e.error)
            .unwrap();
    }
    txn.commit().await.expect("commit");
    // Outside a transaction nothing can be sent.
    let refused = p.send(ProducerRecord::new(topic).value("outside")).await.expect_err("send outside a transaction");
    assert!(matches!(refused.error, kafka_client::Error::IllegalState(_)), "{}", refused.error);
    p.close().await.unwrap();

    let committed = read(bootstrap, topic, 3, IsolationLevel::ReadCommitted, 13).await;
    let expected: BTreeSet<String> =
        (0..10).map(|i| format!("first-{i}")).chain((0..3).map(|i| format!("third-{i}"))).collect();
    assert_eq!(committed.len(), 13, "read_committed: each committed record once");
    assert_eq!(values(&committed), expected);
    let all = read(bootstrap, topic, 3, IsolationLevel::ReadUncommitted, 19).await;
    assert_eq!(all.len(), 19, "read_uncommitted sees aborted records too");
    assert!(values(&all).contains("aborted-4") && values(&all).contains("dropped-0"));
}

/// An open transaction holds read_committed readers and the LSO back.
async fn open_transaction_holds_the_lso(bootstrap: &str) {
    let topic = "txn-lso";
    create_topic(bootstrap, topic, 1).await;
    let p = producer(bootstrap, "txn-lso-writer");
    p.init_transactions().await.unwrap();
    let txn = p.transaction().await.unwrap();
    send_all(&p, topic, "open", 4).await;
    let admin = Admin::builder().bootstrap_servers(bootstrap).build().unwrap();
    let tp = TopicPartition::new(topic, 0);
    let offsets = |level| {
        let admin = &admin;
        let tp = tp.clone();
        async move {
            let r = admin
                .list_offsets([(tp.clone(), OffsetSpec::Latest)], ListOffsetsOptions::new().isolation_level(level))
                .await
                .unwrap();
            r[&tp].as_ref().unwrap().offset
        }
    };
    assert_eq!(offsets(IsolationLevel::ReadUncommitted).await, 4, "the high watermark");
    assert_eq!(offsets(IsolationLevel::ReadCommitted).await, 0, "the LSO stays at the open transaction");
    let c = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    let mut seen = 0;
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        seen += c.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    assert_eq!(seen, 0, "read_committed reads nothing of an open transaction");
    // A group at offset 0: its lag is 4 to the high watermark (what Kafka's
    // kafka-consumer-groups shows), 0 to the LSO (what a read_committed
    // member can reach).
    let group = "txn-lso-group";
    let at_zero = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(0))]);
    admin.alter_consumer_group_offsets(group, at_zero).await.unwrap()[&tp].clone().unwrap();
    assert_eq!(group_lag(bootstrap, group, None).await, (4, 4), "lag to the high watermark");
    assert_eq!(group_lag(bootstrap, group, Some("read_committed")).await, (0, 0), "lag to the LSO");
    // Our kafka-console-consumer: read_committed prints nothing of it.
    assert_eq!(console_read(bootstrap, topic, "read_committed", None).await, Vec::<String>::new());
    assert_eq!(console_read(bootstrap, topic, "read_uncommitted", Some(4)).await.len(), 4);
    txn.commit().await.unwrap();
    // The commit marker takes an offset: the LSO is past it.
    let deadline = Instant::now() + WAIT;
    while seen < 4 {
        assert!(Instant::now() < deadline, "the committed records never came");
        seen += c.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    assert_eq!(offsets(IsolationLevel::ReadCommitted).await, 5, "the LSO after the commit marker");
    assert_eq!(group_lag(bootstrap, group, Some("read_committed")).await, (5, 5), "lag to the LSO after the commit");
    let lines = console_read(bootstrap, topic, "read_committed", Some(4)).await;
    assert_eq!(lines, (0..4).map(|i| format!("open-{i}")).collect::<Vec<_>>(), "read_committed after the commit");
    c.close().await.unwrap();
    admin.close().await.unwrap();
    p.close().await.unwrap();
}

/// What our kafka-console-consumer prints of `topic` from the beginning at
/// `--isolation-level level`: `max` records, or what came before 1.5 s
/// passed without one.
async fn console_read(bootstrap: &str, topic: &str, level: &str, max: Option<usize>) -> Vec<String> {
    let exe = tests::workspace_binary("examples", "kafka-console-consumer");
    let args: Vec<String> = [
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--from-beginning",
        "--isolation-level",
        level,
        "--timeout-ms",
        if max.is_some() { "30000" } else { "1500" },
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(max.into_iter().flat_map(|n| ["--max-messages".to_string(), n.to_string()]))
    .collect();
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(exe).args(&args).output())
        .await
        .expect("tool")
        .expect("kafka-console-consumer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Processed a total of"), "{stderr}");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// LOG-END-OFFSET and LAG of the one partition of `group`, as our
/// kafka-consumer-groups prints them, at `--isolation-level` if given.
async fn group_lag(bootstrap: &str, group: &str, isolation: Option<&str>) -> (i64, i64) {
    let (bootstrap, group, isolation) = (bootstrap.to_string(), group.to_string(), isolation.map(str::to_string));
    // The tool is a process; an in-process testkit must go on serving.
    tokio::task::spawn_blocking(move || run_group_lag(&bootstrap, &group, isolation.as_deref())).await.expect("tool")
}

fn run_group_lag(bootstrap: &str, group: &str, isolation: Option<&str>) -> (i64, i64) {
    let mut cmd = std::process::Command::new(tests::workspace_binary("examples", "kafka-consumer-groups"));
    cmd.args(["--bootstrap-server", bootstrap, "--describe", "--group", group]);
    if let Some(level) = isolation {
        cmd.args(["--isolation-level", level]);
    }
    let out = cmd.output().expect("kafka-consumer-groups");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with(group))
        .unwrap_or_else(|| panic!("no row for {group}: {text}"))
        .split_whitespace()
        .collect();
    (row[4].parse().expect("LOG-END-OFFSET"), row[5].parse().expect("LAG"))
}

/// A second producer with the same transactional.id fences the first.
async fn zombies_are_fenced(bootstrap: &str) {
    let topic = "txn-fencing";
    create_topic(bootstrap, topic, 1).await;
    let old = producer(bootstrap, "txn-fencing-writer");
    old.init_transactions().await.unwrap();
    old.begin_transaction().await.unwrap();
    send_all(&old, topic, "zombie", 3).await;
    let new = producer(bootstrap, "txn-fencing-writer");
    // Registering the id again aborts the zombie's open transaction.
    new.init_transactions().await.expect("the new producer takes over");
    let e = old.commit_transaction().await.expect_err("the zombie cannot commit");
    assert_eq!(e.transaction_error_kind(), Some(TransactionErrorKind::Fenced), "{e}");
    let again = old.begin_transaction().await.expect_err("a fenced producer is done");
    assert_eq!(again.transaction_error_kind(), Some(TransactionErrorKind::Fenced), "{again}");
    new.begin_transaction().await.unwrap();
    send_all(&new, topic, "live", 2).await;
    new.commit_transaction().await.unwrap();
    new.close().await.unwrap();
    old.close_timeout(Duration::from_secs(5)).await.ok();
    let committed = read(bootstrap, topic, 1, IsolationLevel::ReadCommitted, 2).await;
    assert_eq!(values(&committed), ["live-0", "live-1"].map(String::from).into());
}

/// Consume-transform-produce: offsets sent to a transaction count only if
/// it commits.
async fn offsets_commit_with_the_transaction(bootstrap: &str) {
    let (input, output, group) = ("txn-ctp-in", "txn-ctp-out", "txn-ctp-group");
    create_topic(bootstrap, input, 2).await;
    create_topic(bootstrap, output, 2).await;
    let seed = Producer::builder().bootstrap_servers(bootstrap).build().unwrap();
    send_all(&seed, input, "in", 20).await;
    seed.close().await.unwrap();

    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()
        .unwrap();
    consumer.subscribe([input]).unwrap();
    let p = producer(bootstrap, "txn-ctp-writer");
    p.init_transactions().await.unwrap();
    let mut processed = 0;
    let mut first = true;
    let deadline = Instant::now() + WAIT;
    while processed < 20 {
        assert!(Instant::now() < deadline, "only {processed} of 20 input records processed");
        let records = consumer.poll(Duration::from_millis(200)).await.unwrap();
        if records.is_empty() {
            continue;
        }
        let txn = p.transaction().await.unwrap();
        let mut next = BTreeMap::new();
        for r in records.iter() {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).to_uppercase();
            txn.send(ProducerRecord::new(output).value(v)).await.map_err(|e| e.error).unwrap();
            next.insert(TopicPartition::new(r.topic.as_ref(), r.partition), OffsetAndMetadata::new(r.offset + 1));
        }
        let meta = consumer.group_metadata().expect("a group member");
        assert!(meta.generation_id > 0 && !meta.member_id.is_empty(), "{meta:?}");
        txn.send_offsets(next, &meta).await.expect("send offsets");
        if first {
            // The first batch is aborted: its offsets must not count, and
            // it is read again.
            first = false;
            txn.abort().await.unwrap();
            let committed = consumer.committed(&consumer.assignment().into_iter().collect::<Vec<_>>()).await.unwrap();
            assert!(committed.values().all(Option::is_none), "an aborted transaction committed offsets: {committed:?}");
            for tp in consumer.assignment() {
                consumer.seek(&tp, 0).unwrap();
            }
            continue;
        }
        txn.commit().await.expect("commit");
        processed += records.len();
    }
    let tps: Vec<TopicPartition> = (0..2).map(|p| TopicPartition::new(input, p)).collect();
    let committed = consumer.committed(&tps).await.unwrap();
    let total: i64 = committed.values().map(|o| o.as_ref().map_or(0, |o| o.offset)).sum();
    assert_eq!(total, 20, "the committed offsets cover the input exactly: {committed:?}");
    consumer.close().await.unwrap();
    p.close().await.unwrap();
    let out = read(bootstrap, output, 2, IsolationLevel::ReadCommitted, 20).await;
    assert_eq!(out.len(), 20, "each input record's result once");
    assert_eq!(values(&out), (0..20).map(|i| format!("IN-{i}")).collect());
    // A stale member's commit is refused and the transaction is abortable.
    let stale = ConsumerGroupMetadata {
        group_id: group.into(),
        generation_id: 999,
        member_id: "gone".into(),
        group_instance_id: None,
    };
    let p = producer(bootstrap, "txn-ctp-writer");
    p.init_transactions().await.unwrap();
    let txn = p.transaction().await.unwrap();
    let e = txn
        .send_offsets([(TopicPartition::new(input, 0), OffsetAndMetadata::new(1))], &stale)
        .await
        .expect_err("a stale generation cannot commit");
    assert_eq!(e.transaction_error_kind(), Some(TransactionErrorKind::Abortable), "{e}");
    txn.abort().await.expect("abort after an abortable error");
    p.close().await.unwrap();
}

async fn all_bodies(bootstrap: &str) {
    commit_and_abort(bootstrap).await;
    open_transaction_holds_the_lso(bootstrap).await;
    zombies_are_fenced(bootstrap).await;
    offsets_commit_with_the_transaction(bootstrap).await;
}

/// Runs the Java peer (tests/real-kafka/JavaPeer.java) on Kafka's newest
/// client; returns its tab-separated output lines.
#[cfg(feature = "real-kafka")]
async fn java(args: &[&str]) -> Vec<Vec<String>> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = tests::real_kafka::java_peer(tests::real_kafka::NEWEST).expect("java peer");
        cmd.args(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn java");
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().expect("java").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the Java peer ran longer than 120 s: {args:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("java output");
        assert!(out.status.success(), "JavaPeer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
    })
    .await
    .expect("java thread")
}

/// Java's transactional producer → our read_committed consumer, and ours →
/// Java's read_committed consumer.
#[cfg(feature = "real-kafka")]
async fn java_peers(bootstrap: &str) {
    let topic = "txn-from-java";
    create_topic(bootstrap, topic, 3).await;
    let lines = java(&["txproduce", bootstrap, topic, "java-writer", "30"]).await;
    let committed: BTreeSet<String> = lines.iter().filter(|l| l[0] == "committed").map(|l| l[1].clone()).collect();
    let aborted: BTreeSet<String> = lines.iter().filter(|l| l[0] == "aborted").map(|l| l[1].clone()).collect();
    assert_eq!((committed.len(), aborted.len()), (20, 10), "{lines:?}");
    let ours = read(bootstrap, topic, 3, IsolationLevel::ReadCommitted, 20).await;
    assert_eq!(ours.len(), 20, "each committed Java record once");
    assert_eq!(values(&ours), committed, "our read_committed reads what Java committed");
    let all = read(bootstrap, topic, 3, IsolationLevel::ReadUncommitted, 30).await;
    assert_eq!(values(&all), committed.union(&aborted).cloned().collect());

    let topic = "txn-to-java";
    let expected = six_transactions_of_ours(bootstrap, topic, "rust-writer").await;
    let lines = java(&["consume", bootstrap, topic, "20", "30000", "read_committed"]).await;
    let read: Vec<String> = lines.iter().filter(|l| l[0] == "record").map(|l| l[4].clone()).collect();
    assert_eq!(read.len(), 20, "Java's read_committed reads each committed record once: {read:?}");
    assert_eq!(read.into_iter().collect::<BTreeSet<_>>(), expected);
}

#[cfg(feature = "real-kafka")]
/// Our transactional producer writes six transactions of five records to
/// a new 3-partition `topic`, aborting every third: returns the 20
/// committed values.
async fn six_transactions_of_ours(bootstrap: &str, topic: &str, transactional_id: &str) -> BTreeSet<String> {
    create_topic(bootstrap, topic, 3).await;
    let p = producer(bootstrap, transactional_id);
    p.init_transactions().await.unwrap();
    let mut expected = BTreeSet::new();
    for t in 0..6 {
        let txn = p.transaction().await.unwrap();
        let batch: Vec<String> = (0..5).map(|i| format!("r-{}", t * 5 + i)).collect();
        for v in &batch {
            txn.send(ProducerRecord::new(topic).key(v.clone()).value(v.clone())).await.map_err(|e| e.error).unwrap();
        }
        if t % 3 == 2 {
            p.flush().await;
            txn.abort().await.unwrap();
        } else {
            txn.commit().await.unwrap();
            expected.extend(batch);
        }
    }
    p.close().await.unwrap();
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_the_testkit() {
    let cluster = broker_testkit::Cluster::builder().start().await.unwrap();
    all_bodies(&cluster.bootstrap_servers()).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_the_testkit_at_transaction_version_1() {
    let cluster = broker_testkit::Cluster::builder().transaction_version(1).start().await.unwrap();
    all_bodies(&cluster.bootstrap_servers()).await;
    cluster.shutdown().await;
}

/// Marker writes that fail (a test control of the testkit, standing in
/// for a WriteTxnMarkers answer with KAFKA_STORAGE_ERROR): the committed
/// transaction stays invisible to read_committed and holds the LSO, the
/// producer's next transaction waits, and everything completes once the
/// fault clears, as Kafka's coordinator retrying the marker would make it.
async fn failing_markers_hold_the_transaction(cluster: &broker_testkit::Cluster) {
    use broker_testkit::txn::marker_faults::MarkerFault;
    use kafka_protocol::ErrorCode;

    let bootstrap = cluster.bootstrap_servers();
    let topic = "txn-marker-fault";
    create_topic(&bootstrap, topic, 1).await;
    let p = producer(&bootstrap, "txn-marker-fault-writer");
    p.init_transactions().await.unwrap();
    cluster
        .fail_transaction_markers(MarkerFault::partition(topic, 0).error(ErrorCode::KAFKA_STORAGE_ERROR))
        .await
        .unwrap();
    let txn = p.transaction().await.unwrap();
    send_all(&p, topic, "first", 3).await;
    // EndTxn is answered once the commit is decided; the marker follows.
    txn.commit().await.unwrap();
    let (lso, open) = cluster.last_stable_offset(topic, 0).await.unwrap();
    assert_eq!((lso, open.len()), (0, 1), "the failing marker holds the LSO");
    // The next transaction's records wait while the marker is retried.
    let next = p.transaction().await.unwrap();
    let r = ProducerRecord::new(topic).key("k").value("second-0");
    let delivery = p.send(r).await.map_err(|e| e.error).expect("send");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cluster.last_stable_offset(topic, 0).await.unwrap().0, 0, "still held");
    let fired = cluster.clear_transaction_marker_faults().await.unwrap();
    assert!(fired >= 1, "the marker write was tried and failed");
    delivery.await.expect("delivered once the marker is written");
    next.commit().await.unwrap();
    let got = read(&bootstrap, topic, 1, IsolationLevel::ReadCommitted, 4).await;
    assert_eq!(
        values(&got),
        ["first-0", "first-1", "first-2", "second-0"].into_iter().map(String::from).collect(),
        "read_committed sees both transactions once the markers are written"
    );
    p.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_markers_on_the_testkit() {
    for version in [2, 1] {
        let cluster = broker_testkit::Cluster::builder().transaction_version(version).start().await.unwrap();
        failing_markers_hold_the_transaction(&cluster).await;
        cluster.shutdown().await;
    }
}

#[cfg(feature = "real-kafka")]
mod real {
    use std::collections::BTreeSet;

    use tests::real_kafka::{KafkaCluster, NEWEST, OLDEST};

    /// The cluster's finalized `transaction.version`, as Kafka's own
    /// `kafka-features describe` reports it: proof of which protocol the
    /// bodies ran against.
    fn transaction_version(kafka: &KafkaCluster) -> String {
        let out = kafka
            .java()
            .args([
                "org.apache.kafka.tools.FeatureCommand",
                "--bootstrap-server",
                &kafka.bootstrap_servers(),
                "describe",
            ])
            .output()
            .expect("kafka-features");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text.lines().find(|l| l.contains("Feature: transaction.version")).unwrap_or_default();
        line.split_whitespace()
            .skip_while(|w| *w != "FinalizedVersionLevel:")
            .nth(1)
            .unwrap_or_else(|| panic!("no transaction.version in {text}"))
            .to_string()
    }

    /// What Kafka wrote for `commit_and_abort`'s topic, read back with its
    /// own kafka-dump-log: the producer epochs of the data batches and the
    /// control markers. Under transactions v2 the coordinator bumps the
    /// epoch at every EndTxn, so the four transactions' batches carry
    /// distinct epochs; under v1 they share one. Either way every batch is
    /// transactional and the markers are there: proof of which protocol our
    /// producer spoke, from the broker's side.
    fn written_by_commit_and_abort(kafka: &KafkaCluster) -> (BTreeSet<i64>, usize, usize) {
        let class = if kafka.version() == OLDEST {
            "kafka.tools.DumpLogSegments"
        } else {
            "org.apache.kafka.tools.DumpLogSegments"
        };
        let (mut epochs, mut commits, mut aborts) = (BTreeSet::new(), 0, 0);
        for p in 0..3 {
            let file = kafka.data_dir(1).expect("node 1").join(format!("txn-visibility-{p}/00000000000000000000.log"));
            let out = kafka.java().args([class, "--deep-iteration", "--files"]).arg(&file).output().expect("dump-log");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            for line in text.lines().filter(|l| l.starts_with("baseOffset:")) {
                let field = |name: &str| {
                    line.split_whitespace().skip_while(|w| *w != name).nth(1).unwrap_or_default().to_string()
                };
                assert_eq!(field("isTransactional:"), "true", "{line}");
                if field("isControl:") == "false" {
                    epochs.insert(field("producerEpoch:").parse::<i64>().expect("epoch"));
                }
            }
            commits += text.matches("endTxnMarker: COMMIT").count();
            aborts += text.matches("endTxnMarker: ABORT").count();
        }
        (epochs, commits, aborts)
    }

    /// Java's transactional producer and read_committed consumer against
    /// the testkit (Kafka's newest client).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn java_transactions_on_the_testkit() {
        let cluster = broker_testkit::Cluster::builder().start().await.unwrap();
        super::java_peers(&cluster.bootstrap_servers()).await;
        cluster.shutdown().await;
    }

    /// Our kafka-dump-log prints what Kafka's DumpLogSegments prints for
    /// the partitions `commit_and_abort` wrote (data and commit/abort
    /// markers), and for their transaction indexes where Kafka wrote one.
    fn dump_log_matches_kafkas(kafka: &KafkaCluster) {
        let class = if kafka.version() == OLDEST {
            "kafka.tools.DumpLogSegments"
        } else {
            "org.apache.kafka.tools.DumpLogSegments"
        };
        let run = |mut cmd: std::process::Command| {
            let out = cmd.output().expect("dump-log");
            (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.success())
        };
        let mut compared = 0;
        for p in 0..3 {
            for file in ["00000000000000000000.log", "00000000000000000000.txnindex"] {
                let path = kafka.data_dir(1).expect("node 1").join(format!("txn-visibility-{p}/{file}"));
                if !path.exists() {
                    continue;
                }
                let path = path.to_str().expect("a UTF-8 path").to_string();
                let args = ["--files", path.as_str(), "--print-data-log"];
                let mut ours = std::process::Command::new(tests::workspace_binary("examples", "kafka-dump-log"));
                ours.args(args);
                let mut theirs = kafka.java();
                theirs.arg(class).args(args);
                let (mine, ok) = run(ours);
                let (kafkas, _) = run(theirs);
                assert!(ok && kafkas.contains("Dumping"), "{path}: {mine}\n{kafkas}");
                assert_eq!(mine, kafkas, "kafka-dump-log {path} differs from Kafka's");
                compared += 1;
            }
        }
        assert!(compared >= 3, "only {compared} files compared");
    }

    /// librdkafka (confluent-kafka, from the virtualenv .ci/run makes):
    /// its transactional producer read by our read_committed consumer, and
    /// ours read by its read_committed consumer.
    async fn librdkafka_peers(bootstrap: &str) {
        use kafka_client::consumer::IsolationLevel;
        use tests::interop::{python, run_ok, script};

        let py = |args: &[&str]| {
            let mut c = python();
            c.arg(script("testkit_clients.py")).arg(args[0]).args(["--bootstrap", bootstrap]).args(&args[1..]);
            c
        };
        let topic = "txn-from-librdkafka";
        super::create_topic(bootstrap, topic, 3).await;
        let r =
            run_ok(py(&["txproduce", "--topic", topic, "--transactional-id", "rdkafka-writer", "--count", "30"]), "");
        let field = |kind: &str| -> BTreeSet<String> { r.lines(kind).into_iter().map(|f| f[0].clone()).collect() };
        let (committed, aborted) = (field("committed"), field("aborted"));
        assert_eq!((committed.len(), aborted.len()), (20, 10), "{}", r.stdout);
        let ours = super::read(bootstrap, topic, 3, IsolationLevel::ReadCommitted, 20).await;
        assert_eq!(ours.len(), 20, "each committed librdkafka record once");
        assert_eq!(super::values(&ours), committed, "our read_committed reads what librdkafka committed");

        let topic = "txn-to-librdkafka";
        let expected = super::six_transactions_of_ours(bootstrap, topic, "rust-writer-for-rdkafka").await;
        let theirs = run_ok(py(&["txconsume", "--topic", topic, "--expect", "20"]), "");
        let seen: Vec<String> = theirs.lines("record").into_iter().map(|f| f[3].clone()).collect();
        assert_eq!(seen.len(), 20, "librdkafka's read_committed reads each committed record once: {seen:?}");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
    }

    /// Kafka's DumpLogSegments reads what the testkit wrote to disk for
    /// partitions holding committed and aborted transactions (`.log`, the
    /// `.txnindex` of segments with aborts, and the producer `.snapshot`
    /// of the clean shutdown), and our kafka-dump-log prints the same for
    /// those files; Kafka's `--transaction-log-decoder` reads the
    /// coordinator's records in the testkit's `__transaction_state`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kafkas_dump_log_reads_the_testkits_transaction_files() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let dir = std::env::temp_dir().join(format!("txn-files-{}-{nanos}", std::process::id()));
        let cluster = broker_testkit::Cluster::builder().data_dir(&dir).start().await.unwrap();
        super::commit_and_abort(&cluster.bootstrap_servers()).await;
        cluster.shutdown().await;
        let (mut logs, mut txn_indexes, mut snapshots) = (0, 0, 0);
        for p in 0..3 {
            let partition = dir.join(format!("broker-1/txn-visibility-{p}"));
            for entry in std::fs::read_dir(&partition).expect("the partition directory") {
                let path = entry.expect("entry").path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                if ![".log", ".txnindex", ".snapshot"].iter().any(|s| name.ends_with(s)) {
                    continue;
                }
                let path = path.to_str().expect("a UTF-8 path").to_string();
                let args = ["--files", path.as_str(), "--print-data-log"];
                let ours = std::process::Command::new(tests::workspace_binary("examples", "kafka-dump-log"))
                    .args(args)
                    .output()
                    .expect("kafka-dump-log");
                let theirs = tests::real_kafka::kafka_java(NEWEST)
                    .expect("Kafka's tools")
                    .arg("org.apache.kafka.tools.DumpLogSegments")
                    .args(args)
                    .output()
                    .expect("DumpLogSegments");
                let (mine, kafkas) = (String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout));
                assert!(
                    theirs.status.success() && theirs.stderr.is_empty(),
                    "Kafka's tool failed on {path}: {}",
                    String::from_utf8_lossy(&theirs.stderr)
                );
                assert!(!kafkas.contains("Exception"), "{path}: {kafkas}");
                assert!(ours.status.success(), "{path}: {mine}");
                assert_eq!(mine, kafkas, "kafka-dump-log {path} differs from Kafka's");
                if name.ends_with(".txnindex") {
                    assert!(kafkas.contains("producerId:"), "no aborted transaction in {path}: {kafkas}");
                    txn_indexes += 1;
                } else if name.ends_with(".snapshot") {
                    assert!(kafkas.contains("producerEpoch:"), "no producer in {path}: {kafkas}");
                    snapshots += 1;
                } else {
                    logs += 1;
                }
            }
        }
        // The coordinator's records, decoded by Kafka's own decoder.
        let mut decoded = String::new();
        for entry in std::fs::read_dir(dir.join("broker-1")).expect("the log directory") {
            let path = entry.expect("entry").path().join("00000000000000000000.log");
            let name = path.to_string_lossy().into_owned();
            if !name.contains("__transaction_state-") || std::fs::metadata(&path).map_or(0, |m| m.len()) == 0 {
                continue;
            }
            let out = tests::real_kafka::kafka_java(NEWEST)
                .expect("Kafka's tools")
                .arg("org.apache.kafka.tools.DumpLogSegments")
                .args(["--transaction-log-decoder", "--files", name.as_str()])
                .output()
                .expect("DumpLogSegments");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success() && out.stderr.is_empty() && !text.contains("Exception"),
                "{name}: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            decoded.push_str(&text);
        }
        let _ = std::fs::remove_dir_all(&dir);
        let key = r#"key: {"type":"0","data":{"transactionalId":"txn-visibility-writer"}} payload: {"version":"1""#;
        assert!(decoded.contains(key), "the writer's records, at value version 1: {decoded}");
        for status in ["Empty", "Ongoing", "PrepareCommit", "CompleteCommit", "PrepareAbort", "CompleteAbort"] {
            let expected = format!(r#""transactionStatus":"{status}""#);
            assert!(decoded.contains(&expected), "no {expected} in the decoded __transaction_state: {decoded}");
        }
        assert!(
            logs >= 3 && txn_indexes >= 1 && snapshots >= 3,
            "{logs} logs, {txn_indexes} transaction indexes, {snapshots} snapshots compared"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transactions_on_kafka_newest() {
        let kafka = KafkaCluster::launch(NEWEST, 1).await.expect("kafka");
        assert_eq!(transaction_version(&kafka), "2", "4.4 formats new clusters at transactions v2");
        super::all_bodies(&kafka.bootstrap_servers()).await;
        let (epochs, commits, aborts) = written_by_commit_and_abort(&kafka);
        assert!(epochs.len() >= 3, "v2: an epoch per transaction, got {epochs:?}");
        assert!(commits >= 2 && aborts >= 2, "markers: {commits} commits, {aborts} aborts");
        dump_log_matches_kafkas(&kafka);
        super::java_peers(&kafka.bootstrap_servers()).await;
        librdkafka_peers(&kafka.bootstrap_servers()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transactions_on_kafka_newest_at_transaction_version_1() {
        let kafka = KafkaCluster::launch_formatted(NEWEST, 1, &[("transaction.version", "1")]).await.expect("kafka");
        assert_eq!(transaction_version(&kafka), "1");
        super::all_bodies(&kafka.bootstrap_servers()).await;
        super::java_peers(&kafka.bootstrap_servers()).await;
        librdkafka_peers(&kafka.bootstrap_servers()).await;
        let (epochs, commits, aborts) = written_by_commit_and_abort(&kafka);
        assert_eq!(epochs.len(), 1, "v1: one epoch for every transaction, got {epochs:?}");
        assert!(commits >= 2 && aborts >= 2, "markers: {commits} commits, {aborts} aborts");
        dump_log_matches_kafkas(&kafka);
    }

    /// A cluster upgraded from transactions v1 to v2 (`kafka-features
    /// upgrade`, then a restart) under a running transactional producer:
    /// the producer notices at its next EndTxn, bumps its epoch, and from
    /// then on runs v2, whose EndTxn bumps the epoch again at every
    /// transaction. Kafka's DumpLogSegments shows the epochs of the data
    /// batches: the two v1 transactions share one, the next two have one
    /// each; read_committed reads every record once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_producer_takes_up_an_upgrade_to_transactions_v2() {
        use kafka_client::consumer::IsolationLevel;

        let mut kafka =
            KafkaCluster::launch_formatted(NEWEST, 1, &[("transaction.version", "1")]).await.expect("kafka");
        let b = kafka.bootstrap_servers();
        let topic = "txn-upgrade";
        super::create_topic(&b, topic, 1).await;
        let p = super::producer(&b, "upgrading-writer");
        p.init_transactions().await.unwrap();
        let one_transaction = |name: &'static str| {
            let p = p.clone();
            async move {
                let txn = p.transaction().await.unwrap();
                super::send_all(&p, topic, name, 3).await;
                txn.commit().await.unwrap();
            }
        };
        one_transaction("a").await;
        let out = kafka
            .java()
            .args(["org.apache.kafka.tools.FeatureCommand", "--bootstrap-server", &b, "upgrade", "--feature"])
            .arg("transaction.version=2")
            .output()
            .expect("kafka-features upgrade");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(transaction_version(&kafka), "2");
        // Connections opened after the upgrade bring the new features.
        tokio::task::block_in_place(|| {
            kafka.signal(1, tests::real_kafka::Signal::Term)?;
            kafka.restart(1)
        })
        .expect("restart");
        one_transaction("b").await; // begun under v1; its EndTxn notices
        one_transaction("c").await; // after the bump: v2
        one_transaction("d").await;
        p.close().await.unwrap();

        let read = super::read(&b, topic, 1, IsolationLevel::ReadCommitted, 12).await;
        assert_eq!(read.len(), 12, "read_committed reads every committed record once");
        let dump = kafka
            .java()
            .args(["org.apache.kafka.tools.DumpLogSegments", "--files"])
            .arg(kafka.data_dir(1).expect("node 1").join(format!("{topic}-0/00000000000000000000.log")))
            .output()
            .expect("dump-log");
        let text = String::from_utf8_lossy(&dump.stdout).into_owned();
        let field = |line: &str, name: &str| {
            line.split_whitespace().skip_while(|w| *w != name).nth(1).unwrap_or_default().to_string()
        };
        let epochs: Vec<i64> = text
            .lines()
            .filter(|l| l.starts_with("baseOffset:") && field(l, "isControl:") == "false")
            .map(|l| field(l, "producerEpoch:").parse().expect("epoch"))
            .collect();
        // Transactions a and b (v1) share the first epoch, c has the bumped
        // one, d the one c's EndTxn v5 gave.
        let e = *epochs.first().unwrap_or_else(|| panic!("no data batches: {text}"));
        let distinct: BTreeSet<i64> = epochs.iter().copied().collect();
        assert_eq!(distinct, BTreeSet::from([e, e + 1, e + 2]), "{text}");
        assert!(epochs.windows(2).all(|w| w[0] <= w[1]), "epochs only rise: {epochs:?}");
        assert!(epochs.iter().filter(|&&x| x == e).count() >= 2, "a and b under one epoch: {epochs:?}");
    }

    /// Exactly-once on a real 3-node Kafka 4.4.0 cluster: three
    /// consume-transform-produce workers (tests::eos) while one broker is
    /// frozen and thawed, another killed and restarted, a worker crashes
    /// (its successor starts with the same transactional.id) and a
    /// worker's producer is made a zombie. Every input's result is read
    /// exactly once by read_committed, the group's offsets end at the
    /// input's end, and no zombie commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exactly_once_on_three_kafka_nodes_under_failures() {
        use std::collections::BTreeMap;
        use std::sync::Arc;
        use std::sync::atomic::Ordering;
        use std::time::{Duration, Instant};

        use kafka_client::admin::{Admin, NewTopic};
        use kafka_client::consumer::{Consumer, IsolationLevel, OffsetReset};
        use kafka_client::producer::{Producer, ProducerRecord};
        use tests::eos::{Clients, Stats, start_worker, violations};
        use tests::real_kafka::Signal;

        const RECORDS: usize = 1500;
        let mut kafka = KafkaCluster::launch(NEWEST, 3).await.expect("kafka");
        let bootstrap = kafka.bootstrap_servers();
        let admin = Admin::builder().bootstrap_servers(&bootstrap).build().unwrap();
        for topic in ["eos-in", "eos-out"] {
            let t = NewTopic::new(topic, 4, 3).config("min.insync.replicas", "2");
            for (name, r) in admin.create_topics(vec![t], Default::default()).await.unwrap() {
                r.unwrap_or_else(|e| panic!("create {name}: {e}"));
            }
        }
        let seeder = Producer::builder().bootstrap_servers(&bootstrap).build().unwrap();
        let mut sent = Vec::new();
        for i in 0..RECORDS {
            let r = ProducerRecord::new("eos-in").key(format!("k{i}")).value(format!("in-{i}"));
            sent.push(seeder.send(r).await.map_err(|e| e.error).unwrap());
        }
        for d in sent {
            d.await.unwrap();
        }
        seeder.close().await.unwrap();

        let (b1, b2) = (bootstrap.clone(), bootstrap.clone());
        let clients = Arc::new(Clients {
            producer: Box::new(move |name, txn_id| {
                Producer::builder()
                    .bootstrap_servers(&b1)
                    .client_id(name)
                    .transactional_id(txn_id)
                    .transaction_timeout(Duration::from_secs(10))
                    .request_timeout(Duration::from_secs(5))
                    .delivery_timeout(Duration::from_secs(20))
                    .max_block(Duration::from_secs(20))
                    .build()
                    .expect("producer")
            }),
            consumer: Box::new(move |name| {
                Consumer::builder()
                    .bootstrap_servers(&b2)
                    .client_id(name)
                    .group_id("eos-group")
                    .auto_offset_reset(OffsetReset::Earliest)
                    .enable_auto_commit(false)
                    .isolation_level(IsolationLevel::ReadCommitted)
                    .session_timeout(Duration::from_secs(6))
                    .heartbeat_interval(Duration::from_millis(500))
                    .max_poll_records(5)
                    .build()
                    .expect("consumer")
            }),
        });
        let stats = Arc::new(Stats::default());
        let start = |k: usize, incarnation: u64| {
            start_worker(clients.clone(), ("eos-in", "eos-out"), k, incarnation, 7 + k as u64, stats.clone())
        };
        let started = Instant::now();
        let mut workers: Vec<_> = (0..3).map(|k| start(k, 0)).collect();
        let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
        pause(1500).await;
        kafka.signal(2, Signal::Stop).unwrap();
        pause(3000).await;
        kafka.signal(2, Signal::Cont).unwrap();
        pause(1000).await;
        workers[1].task.abort();
        stats.crashes.fetch_add(1, Ordering::Relaxed);
        workers[1] = start(1, 1);
        workers[2].zombie.store(true, Ordering::SeqCst);
        pause(1000).await;
        // The faults must meet the pipeline at work, or they prove little.
        let progress = |admin: &Admin| {
            let admin = admin.clone();
            async move {
                let committed = admin.list_consumer_group_offsets("eos-group", None).await.unwrap_or_default();
                committed.values().filter_map(|o| o.as_ref().ok()?.as_ref().map(|o| o.offset)).sum::<i64>()
            }
        };
        let before_kill = progress(&admin).await;
        assert!(before_kill < RECORDS as i64, "the pipeline was done before the broker was killed");
        tokio::task::block_in_place(|| kafka.signal(3, Signal::Kill)).unwrap();
        pause(3000).await;
        tokio::task::block_in_place(|| kafka.restart(3)).unwrap();
        let faults_done = started.elapsed();

        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let committed = admin.list_consumer_group_offsets("eos-group", None).await.unwrap_or_default();
            let done: i64 = committed.values().filter_map(|o| o.as_ref().ok()?.as_ref().map(|o| o.offset)).sum();
            if done == RECORDS as i64 {
                break;
            }
            assert!(Instant::now() < deadline, "the pipeline stalled at {done} of {RECORDS}");
            pause(250).await;
        }
        let finished = started.elapsed();
        for w in &workers {
            w.stop.store(true, Ordering::SeqCst);
        }
        for w in workers {
            tokio::time::timeout(Duration::from_secs(60), w.task).await.expect("a worker stops").ok();
        }
        let reader = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .auto_offset_reset(OffsetReset::Earliest)
            .isolation_level(IsolationLevel::ReadCommitted)
            .build()
            .unwrap();
        reader.assign((0..4).map(|p| kafka_client::TopicPartition::new("eos-out", p))).unwrap();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut count = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut quiet = Instant::now();
        while Instant::now() < deadline && (count < RECORDS || quiet.elapsed() < Duration::from_secs(2)) {
            let records = reader.poll(Duration::from_millis(200)).await.unwrap();
            if !records.is_empty() {
                quiet = Instant::now();
            }
            for r in records.iter() {
                count += 1;
                *seen
                    .entry(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
                    .or_default() += 1;
            }
        }
        reader.close().await.unwrap();
        let mut broken = stats.violations.lock().unwrap().clone();
        broken.extend(violations(&seen, RECORDS));
        eprintln!(
            "3-node Kafka {NEWEST}: {before_kill} of {RECORDS} inputs committed when a broker was killed, faults over after {faults_done:?}, input done after {finished:?}; {} transactions committed, {} not, {} zombies fenced, {} producer restarts, {} worker crashes, {count} results read, violations {}",
            stats.committed.load(Ordering::Relaxed),
            stats.aborted.load(Ordering::Relaxed),
            stats.fenced_zombies.load(Ordering::Relaxed),
            stats.restarts.load(Ordering::Relaxed),
            stats.crashes.load(Ordering::Relaxed),
            broken.len()
        );
        assert!(broken.is_empty(), "{}\ntransactions:\n{}", broken.join("\n"), stats.log.lock().unwrap().join("\n"));
        admin.close().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transactions_on_kafka_oldest() {
        let kafka = KafkaCluster::launch(OLDEST, 1).await.expect("kafka");
        assert_eq!(transaction_version(&kafka), "2", "4.0 formats new clusters at transactions v2");
        super::all_bodies(&kafka.bootstrap_servers()).await;
        let (epochs, commits, aborts) = written_by_commit_and_abort(&kafka);
        assert!(epochs.len() >= 3, "v2: an epoch per transaction, got {epochs:?}");
        assert!(commits >= 2 && aborts >= 2, "markers: {commits} commits, {aborts} aborts");
        dump_log_matches_kafkas(&kafka);
        super::java_peers(&kafka.bootstrap_servers()).await;
        librdkafka_peers(&kafka.bootstrap_servers()).await;
    }
}
