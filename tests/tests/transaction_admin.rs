//! The transaction admin calls (KIP-664) of our `Admin`, one body against
//! broker-testkit and against real Apache Kafka (feature `real-kafka`: 4.4
//! and 4.0): describe and list transactional ids (with every filter the
//! broker speaks), describe a partition's producers, and abort a hanging
//! transaction behind its coordinator's back, after which read_committed
//! readers get past it.

use std::time::{Duration, Instant};

use kafka_client::admin::{
    AbortTransactionSpec, Admin, DescribeProducersOptions, ListOffsetsOptions, ListTransactionsOptions, NewTopic,
    OffsetSpec, TransactionState,
};
use kafka_client::consumer::{Consumer, IsolationLevel, OffsetReset};
use kafka_client::producer::Producer;
use kafka_client::{Error, TopicPartition};
use kafka_protocol::ErrorCode;
use tests::txn::send_all;

/// Bound of every wait in these tests.
const WAIT: Duration = Duration::from_secs(60);

fn code<T: std::fmt::Debug>(r: &Result<T, Error>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(Error::code)
}

fn txn_producer(bootstrap: &str, id: &str) -> Producer {
    tests::txn::txn_producer(bootstrap, id, WAIT)
}

async fn end_offset(admin: &Admin, tp: &TopicPartition, level: IsolationLevel) -> i64 {
    let r = admin
        .list_offsets([(tp.clone(), OffsetSpec::Latest)], ListOffsetsOptions::new().isolation_level(level))
        .await
        .expect("list offsets");
    r[tp].as_ref().expect("offset").offset
}

/// Waits until the coordinator has written `id`'s markers (Kafka does so
/// after it answers EndTxn) and returns its description.
async fn settled(admin: &Admin, id: &str, state: TransactionState) -> kafka_client::admin::TransactionDescription {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut d = admin.describe_transactions([id]).await.expect("describe transactions");
        let d = d.remove(id).expect("an answer").expect("described");
        if d.state == state {
            return d;
        }
        assert!(Instant::now() < deadline, "{id} stayed {}", d.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The body: `pattern_supported` says whether the brokers speak
/// ListTransactions v2 (Kafka 4.1+).
pub async fn admin_calls(bootstrap: &str, pattern_supported: bool) {
    let admin = Admin::builder().bootstrap_servers(bootstrap).build().expect("admin");
    let topic = "adm-txn";
    let tp = TopicPartition::new(topic, 0);
    admin.create_topics([NewTopic::new(topic, 1, 1)], Default::default()).await.expect("create")[topic]
        .as_ref()
        .expect("created");
    let deadline = Instant::now() + WAIT;
    while admin
        .list_offsets([(tp.clone(), OffsetSpec::Latest)], ListOffsetsOptions::new())
        .await
        .map_or(true, |r| r[&tp].is_err())
    {
        assert!(Instant::now() < deadline, "{topic} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let committer = txn_producer(bootstrap, "adm-committer");
    committer.init_transactions().await.unwrap();
    committer.begin_transaction().await.unwrap();
    send_all(&committer, topic, "committed", 3).await;
    committer.commit_transaction().await.unwrap();
    // Kafka writes the commit marker after it answers EndTxn: wait for it,
    // so the next transaction starts after it (at offset 4).
    let c = settled(&admin, "adm-committer", TransactionState::CompleteCommit).await;
    let hanging = txn_producer(bootstrap, "adm-hanging");
    hanging.init_transactions().await.unwrap();
    hanging.begin_transaction().await.unwrap();
    send_all(&hanging, topic, "hanging", 2).await;

    // Describe.
    assert!(c.topic_partitions.is_empty(), "{c:?}");
    assert_eq!(c.transaction_timeout_ms, 60_000, "the producer's transaction.timeout.ms");
    let h = settled(&admin, "adm-hanging", TransactionState::Ongoing).await;
    assert_eq!(h.topic_partitions.iter().collect::<Vec<_>>(), [&tp]);
    assert!(h.transaction_start_time_ms.is_some_and(|t| t > 0), "{h:?}");
    let unknown = admin.describe_transactions(["adm-nobody"]).await.unwrap();
    assert_eq!(code(&unknown["adm-nobody"]), Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND));

    // List, with each filter.
    let ids = |listed: Vec<kafka_client::admin::TransactionListing>| -> Vec<String> {
        let mut ids: Vec<String> =
            listed.into_iter().map(|t| t.transactional_id).filter(|id| id.starts_with("adm-")).collect();
        ids.sort();
        ids
    };
    let all = admin.list_transactions(ListTransactionsOptions::new()).await.unwrap();
    let hanging_listed = all.iter().find(|t| t.transactional_id == "adm-hanging").expect("listed");
    assert_eq!((hanging_listed.producer_id, hanging_listed.state), (h.producer_id, TransactionState::Ongoing));
    assert_eq!(ids(all), ["adm-committer", "adm-hanging"]);
    let ongoing = admin
        .list_transactions(ListTransactionsOptions::new().filter_states([TransactionState::Ongoing]))
        .await
        .unwrap();
    assert_eq!(ids(ongoing), ["adm-hanging"]);
    let by_pid =
        admin.list_transactions(ListTransactionsOptions::new().filter_producer_ids([c.producer_id])).await.unwrap();
    assert_eq!(ids(by_pid), ["adm-committer"]);
    let long = admin.list_transactions(ListTransactionsOptions::new().filter_on_duration(3_600_000)).await.unwrap();
    assert!(ids(long).is_empty(), "nothing has run for an hour");
    let pattern =
        admin.list_transactions(ListTransactionsOptions::new().filter_on_transactional_id_pattern("adm-h.*")).await;
    if pattern_supported {
        assert_eq!(ids(pattern.unwrap()), ["adm-hanging"]);
    } else {
        assert_eq!(pattern.unwrap_err().code(), Some(ErrorCode::UNSUPPORTED_VERSION));
    }

    // The partition's producers: the hanging one holds the LSO at its
    // transaction's first offset (3 records, then the commit marker).
    let producers = admin.describe_producers([tp.clone()], DescribeProducersOptions::new()).await.unwrap();
    let producers = producers[&tp].as_ref().expect("producers");
    let p = producers.iter().find(|p| p.producer_id == h.producer_id).expect("the hanging producer");
    assert_eq!(p.current_transaction_start_offset, Some(4), "{producers:?}");
    assert_eq!(p.last_sequence, 1);
    let done = producers.iter().find(|p| p.producer_id == c.producer_id).expect("the committer");
    assert_eq!(done.current_transaction_start_offset, None, "{producers:?}");
    assert!(done.coordinator_epoch.is_some(), "a marker was written: {done:?}");
    let nowhere = TopicPartition::new(topic, 9);
    let missing = admin.describe_producers([nowhere.clone()], DescribeProducersOptions::new()).await.unwrap();
    assert_eq!(code(&missing[&nowhere]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(end_offset(&admin, &tp, IsolationLevel::ReadCommitted).await, 4, "the LSO waits for the transaction");

    // Abort it behind the coordinator's back.
    let spec = AbortTransactionSpec {
        topic_partition: tp.clone(),
        producer_id: p.producer_id,
        producer_epoch: i16::try_from(p.producer_epoch).expect("an i16 epoch"),
        coordinator_epoch: p.coordinator_epoch.unwrap_or(0),
    };
    admin.abort_transaction(spec.clone()).await.expect("abort");
    let hw = end_offset(&admin, &tp, IsolationLevel::ReadUncommitted).await;
    assert_eq!(hw, 7, "3 records, a marker, 2 records, the abort marker");
    assert_eq!(end_offset(&admin, &tp, IsolationLevel::ReadCommitted).await, hw, "nothing holds the LSO now");
    let reader = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()
        .unwrap();
    reader.assign([tp.clone()]).unwrap();
    let mut read = Vec::new();
    let deadline = Instant::now() + WAIT;
    while reader.position(&tp).await.unwrap_or(0) < hw {
        assert!(Instant::now() < deadline, "read_committed never reached {hw}");
        read.extend(reader.poll(Duration::from_millis(200)).await.unwrap());
    }
    let values: Vec<String> =
        read.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()).collect();
    assert_eq!(values, ["committed-0", "committed-1", "committed-2"], "the aborted records are skipped");
    let after = admin.describe_producers([tp.clone()], DescribeProducersOptions::new()).await.unwrap();
    let p = after[&tp].as_ref().unwrap().iter().find(|p| p.producer_id == h.producer_id).cloned().unwrap();
    assert_eq!(p.current_transaction_start_offset, None);
    let elsewhere = AbortTransactionSpec { topic_partition: TopicPartition::new("adm-nowhere", 0), ..spec };
    assert!(admin.abort_transaction(elsewhere).await.is_err(), "an unknown topic");

    // The coordinator still counts it open until the producer ends it.
    assert_eq!(settled(&admin, "adm-hanging", TransactionState::Ongoing).await.producer_id, h.producer_id);
    hanging.abort_transaction().await.unwrap();
    settled(&admin, "adm-hanging", TransactionState::CompleteAbort).await;
    reader.close().await.unwrap();
    hanging.close().await.unwrap();
    committer.close().await.unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_admin_on_the_testkit() {
    let cluster = broker_testkit::Cluster::builder().start().await.unwrap();
    admin_calls(&cluster.bootstrap_servers(), true).await;
    cluster.shutdown().await;
}

#[cfg(feature = "real-kafka")]
mod real {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use kafka_client::producer::Producer;
    use tests::real_kafka::{KafkaCluster, NEWEST, OLDEST, Signal};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transaction_admin_on_kafka() {
        for version in [NEWEST, OLDEST] {
            let kafka = KafkaCluster::launch(version, 1).await.expect("kafka");
            super::admin_calls(&kafka.bootstrap_servers(), version == NEWEST).await;
        }
    }

    /// Exit status, stdout, and the last line of stderr (the JVM and
    /// Kafka's logging may print more before it).
    async fn run(mut cmd: Command) -> (bool, String, String) {
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the tool")).await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_string();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), err)
    }

    /// What differs by nature between two runs of `describe`: the
    /// transaction's duration (the time of the run) becomes `<d>`; `list`
    /// rows come in the broker's order, which is compared as a set.
    fn comparable(args: &[&str], out: &str) -> String {
        let mut lines: Vec<String> = out
            .lines()
            .map(|l| {
                let mut cells: Vec<&str> = l.split('\t').collect();
                if args[0] == "describe" && cells.len() > 7 && !l.starts_with("CoordinatorId") {
                    cells[7] = "<d>";
                }
                cells.join("\t")
            })
            .collect();
        if args[0] == "list" && lines.len() > 1 {
            lines[1..].sort();
        }
        lines.join("\n")
    }

    /// Our kafka-transactions prints what Kafka 4.4.0's TransactionsCommand
    /// prints on the same cluster: list (with a duration filter and a
    /// pattern), describe (committed, open, unknown), describe-producers,
    /// abort of an offset no transaction starts at, find-hanging (by topic,
    /// partition and broker, the open transaction a candidate its
    /// coordinator vouches for; the scope errors); then ours aborts the
    /// hanging transaction and both describe its partition the same again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn our_kafka_transactions_prints_what_kafkas_prints() {
        let kafka = KafkaCluster::launch(NEWEST, 1).await.expect("kafka");
        let b = kafka.bootstrap_servers();
        let admin = kafka_client::admin::Admin::builder().bootstrap_servers(&b).build().unwrap();
        admin.create_topics([kafka_client::admin::NewTopic::new("tools-tx", 1, 1)], Default::default()).await.unwrap()
            ["tools-tx"]
            .as_ref()
            .expect("created");
        let producer = |id: &str| {
            Producer::builder().bootstrap_servers(&b).transactional_id(id).max_block(super::WAIT).build().unwrap()
        };
        let committer = producer("tools-committer");
        committer.init_transactions().await.unwrap();
        committer.begin_transaction().await.unwrap();
        super::send_all(&committer, "tools-tx", "c", 3).await;
        committer.commit_transaction().await.unwrap();
        super::settled(&admin, "tools-committer", kafka_client::admin::TransactionState::CompleteCommit).await;
        let hanging = producer("tools-hanging");
        hanging.init_transactions().await.unwrap();
        hanging.begin_transaction().await.unwrap();
        super::send_all(&hanging, "tools-tx", "h", 2).await;

        let ours = |args: &[&str]| {
            let mut c = Command::new(tests::workspace_binary("examples", "kafka-transactions"));
            c.arg("--bootstrap-server").arg(&b).args(args);
            c
        };
        let theirs = |args: &[&str]| {
            let mut c = kafka.java();
            c.arg("org.apache.kafka.tools.TransactionsCommand").arg("--bootstrap-server").arg(&b).args(args);
            c
        };
        let cases: Vec<Vec<&str>> = vec![
            vec!["list"],
            vec!["list", "--duration-filter", "3600000"],
            vec!["list", "--transactional-id-pattern", "tools-h.*"],
            vec!["describe", "--transactional-id", "tools-committer"],
            vec!["describe", "--transactional-id", "tools-hanging"],
            vec!["describe", "--transactional-id", "nobody"],
            vec!["describe-producers", "--topic", "tools-tx", "--partition", "0"],
            vec!["describe-producers", "--topic", "tools-tx", "--partition", "0", "--broker-id", "1"],
            vec!["abort", "--topic", "tools-tx", "--partition", "0", "--start-offset", "99"],
            // The open transaction is a candidate past a 0-minute timeout;
            // its coordinator vouches for it, so neither tool reports it.
            vec!["find-hanging", "--topic", "tools-tx", "--max-transaction-timeout", "0"],
            vec!["find-hanging", "--topic", "tools-tx", "--partition", "0", "--max-transaction-timeout", "0"],
            vec!["find-hanging", "--broker-id", "1", "--max-transaction-timeout", "0"],
            vec!["find-hanging", "--broker-id", "1"],
            vec!["find-hanging"],
            vec!["find-hanging", "--broker-id", "1", "--partition", "0"],
        ];
        let mut compared = 0;
        for args in &cases {
            let (k_ok, k_out, k_err) = run(theirs(args)).await;
            let (o_ok, o_out, o_err) = run(ours(args)).await;
            assert_eq!(o_ok, k_ok, "{args:?}: exit status; Kafka: {k_out}{k_err}; ours: {o_out}{o_err}");
            assert_eq!(comparable(args, &o_out), comparable(args, &k_out), "{args:?}: stdout");
            if !k_ok {
                assert_eq!(o_err, k_err, "{args:?}: the error line");
            }
            compared += 1;
        }
        // Ours aborts the hanging transaction (it starts after 3 records and a marker).
        let (ok, out, err) =
            run(ours(&["abort", "--topic", "tools-tx", "--partition", "0", "--start-offset", "4"])).await;
        assert!(ok && out.is_empty(), "{out}{err}");
        let args = ["describe-producers", "--topic", "tools-tx", "--partition", "0"];
        let (k, o) = (run(theirs(&args)).await.1, run(ours(&args)).await.1);
        assert_eq!(o, k, "after the abort");
        assert!(o.lines().all(|l| !l.contains("\t4 ")), "no transaction open at 4 any more: {o}");
        eprintln!("kafka-transactions: {} outputs compared with Kafka {NEWEST}'s, identical", compared + 1);
        hanging.abort_transaction().await.unwrap();
        hanging.close().await.unwrap();
        committer.close().await.unwrap();
        admin.close().await.unwrap();
    }

    /// A transaction hanging on real Kafka: its partition keeps it open
    /// while its coordinator lost every record of it (the node stopped,
    /// its `__transaction_state` folders removed, the node started again).
    /// Both tools report it, by topic and by broker, the same; after our
    /// abort neither does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn find_hanging_reports_what_kafkas_reports() {
        let mut kafka = KafkaCluster::launch(NEWEST, 1).await.expect("kafka");
        let b = kafka.bootstrap_servers();
        let admin = kafka_client::admin::Admin::builder().bootstrap_servers(&b).build().unwrap();
        admin.create_topics([kafka_client::admin::NewTopic::new("fh-tx", 1, 1)], Default::default()).await.unwrap()
            ["fh-tx"]
            .as_ref()
            .expect("created");
        admin.close().await.unwrap();
        let open = super::txn_producer(&b, "fh-open");
        open.init_transactions().await.unwrap();
        open.begin_transaction().await.unwrap();
        super::send_all(&open, "fh-tx", "h", 2).await;
        // Not closed first: closing would abort the transaction.
        let node = kafka.node_ids()[0];
        tokio::task::block_in_place(|| kafka.signal(node, Signal::Term)).expect("stop");
        let data = kafka.data_dir(node).expect("data dir");
        let mut removed = 0;
        for e in std::fs::read_dir(&data).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("__transaction_state-") {
                std::fs::remove_dir_all(e.path()).unwrap();
                removed += 1;
            }
        }
        assert!(removed > 0, "no __transaction_state in {}", data.display());
        tokio::task::block_in_place(|| kafka.restart(node)).expect("restart");
        open.close_timeout(Duration::from_secs(1)).await.ok();

        let ours = |args: &[&str]| {
            let mut c = Command::new(tests::workspace_binary("examples", "kafka-transactions"));
            c.arg("--bootstrap-server").arg(&b).args(args);
            c
        };
        let theirs = |args: &[&str]| {
            let mut c = kafka.java();
            c.arg("org.apache.kafka.tools.TransactionsCommand").arg("--bootstrap-server").arg(&b).args(args);
            c
        };
        // The duration column (whole minutes since the last write) may
        // tick between the two runs.
        let masked = |out: &str| -> String {
            out.lines()
                .map(|l| {
                    let mut cells: Vec<&str> = l.split('\t').collect();
                    if cells.len() > 7 && !l.starts_with("Topic") {
                        cells[7] = "<d>";
                    }
                    cells.join("\t")
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let by_topic = ["find-hanging", "--topic", "fh-tx", "--max-transaction-timeout", "0"];
        // The coordinator loads its (empty) partition after the restart.
        let deadline = Instant::now() + super::WAIT;
        let kafkas = loop {
            let (ok, out, err) = run(theirs(&by_topic)).await;
            if ok {
                break out;
            }
            assert!(Instant::now() < deadline, "Kafka's find-hanging kept failing: {err}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(kafkas.lines().count(), 2, "Kafka reports the transaction: {kafkas}");
        eprintln!("find-hanging on Kafka {NEWEST}:\n{kafkas}");
        let cases: [&[&str]; 3] = [
            &by_topic,
            &["find-hanging", "--topic", "fh-tx", "--partition", "0", "--max-transaction-timeout", "0"],
            &["find-hanging", "--broker-id", "1", "--max-transaction-timeout", "0"],
        ];
        for args in cases {
            let (k_ok, k_out, k_err) = run(theirs(args)).await;
            let (o_ok, o_out, o_err) = run(ours(args)).await;
            assert!(k_ok && o_ok, "{args:?}: Kafka: {k_err}; ours: {o_err}");
            assert_eq!(masked(&o_out), masked(&k_out), "{args:?}");
        }
        let (ok, out, err) = run(ours(&["abort", "--topic", "fh-tx", "--partition", "0", "--start-offset", "0"])).await;
        assert!(ok && out.is_empty(), "{out}{err}");
        let (k, o) = (run(theirs(&by_topic)).await.1, run(ours(&by_topic)).await.1);
        assert_eq!((o.lines().count(), &o), (1, &k), "nothing hangs after the abort");
    }
}
