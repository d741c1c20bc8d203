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
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, TopicPartition};
use kafka_protocol::ErrorCode;

/// Bound of every wait in these tests.
const WAIT: Duration = Duration::from_secs(60);

fn code<T: std::fmt::Debug>(r: &Result<T, Error>) -> Option<ErrorCode> {
    r.as_ref().err().and_then(Error::code)
}

async fn send_all(p: &Producer, topic: &str, prefix: &str, n: usize) {
    let mut deliveries = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic).key(format!("k{i}")).value(format!("{prefix}-{i}"));
        deliveries.push(p.send(r).await.map_err(|e| e.error).expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
}

fn txn_producer(bootstrap: &str, id: &str) -> Producer {
    Producer::builder().bootstrap_servers(bootstrap).transactional_id(id).max_block(WAIT).build().expect("producer")
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
    let hanging = txn_producer(bootstrap, "adm-hanging");
    hanging.init_transactions().await.unwrap();
    hanging.begin_transaction().await.unwrap();
    send_all(&hanging, topic, "hanging", 2).await;

    // Describe.
    let c = settled(&admin, "adm-committer", TransactionState::CompleteCommit).await;
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
    use tests::real_kafka::{KafkaCluster, NEWEST, OLDEST};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn transaction_admin_on_kafka() {
        for version in [NEWEST, OLDEST] {
            let kafka = KafkaCluster::launch(version, 1).await.expect("kafka");
            super::admin_calls(&kafka.bootstrap_servers(), version == NEWEST).await;
        }
    }
}
