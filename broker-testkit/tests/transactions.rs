//! Transactions over the wire: what ApiVersions advertises (the APIs and
//! the `transaction.version` feature), a version-2 transaction encoded at
//! the versions clients send, and the testkit's transaction controls.

use broker_testkit::Cluster;
use kafka_protocol::messages::add_partitions_to_txn::{AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction};
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{BatchBuilder, RecordSet, RecordSetEntry};
use kafka_protocol::{ApiKey, Compression, ErrorCode};

mod common;
use common::Client;

/// InitProducerId for transactional id `tid`.
fn init_request(tid: &str) -> InitProducerIdRequest {
    InitProducerIdRequest {
        transactional_id: Some(tid.into()),
        transaction_timeout_ms: 60_000,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    }
}

/// A transactional Produce of `n` records `value` to `orders`-0, stamped
/// now: a marker stamped now after records stamped in the past would roll
/// a new segment (segment.ms counts record time), and a fetch reads one
/// segment.
fn txn_produce_request(
    tid: &str,
    compression: Compression,
    (pid, epoch): (i64, i16),
    value: &[u8],
    n: i64,
) -> ProduceRequest {
    let mut b = BatchBuilder::new(compression, None);
    b.set_producer(pid, epoch, 0);
    b.set_transactional(true);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for i in 0..n {
        b.append(now_ms + i, None, Some(value), &[]);
    }
    ProduceRequest {
        transactional_id: Some(tid.into()),
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: "orders".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(b.finish().unwrap()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest {
        client_software_name: "txn-wire".into(),
        client_software_version: "1".into(),
        ..Default::default()
    }
}

fn broker_addr(cluster: &Cluster, id: i32) -> String {
    cluster.broker_addr(id).unwrap().to_string()
}

#[tokio::test]
async fn api_versions_advertises_the_transaction_apis_and_the_finalized_transaction_version() {
    for (level, finalized) in [(2, Some(2)), (1, Some(1)), (0, None)] {
        let cluster = Cluster::builder().transaction_version(level).start().await.unwrap();
        let mut c = Client::connect(&broker_addr(&cluster, 1)).await;
        let r = c.call(&api_versions_request(), 3).await;
        assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
        for (api, max) in [
            (ApiKey::AddPartitionsToTxn, 5),
            (ApiKey::AddOffsetsToTxn, 4),
            (ApiKey::EndTxn, 5),
            (ApiKey::TxnOffsetCommit, 6),
        ] {
            let k = r.api_keys.iter().find(|k| k.api_key == api as i16).unwrap();
            assert_eq!(k.max_version, max, "{api:?}");
        }
        let supported = r.supported_features.iter().find(|f| f.name == "transaction.version").unwrap();
        assert_eq!((supported.min_version, supported.max_version), (0, 2));
        let got = r.finalized_features.iter().find(|f| f.name == "transaction.version").map(|f| f.max_version_level);
        assert_eq!(got, finalized, "level {level}");
        cluster.shutdown().await;
    }
}

#[tokio::test]
async fn a_version_2_transaction_over_the_wire() {
    let cluster = Cluster::builder().brokers(2).start().await.unwrap();
    cluster.create_topic("orders", 1, 2).await.unwrap();
    let tid = "wire-txn";
    let mut any = Client::connect(&broker_addr(&cluster, 1)).await;
    let found = any
        .call(&FindCoordinatorRequest { key_type: 1, coordinator_keys: vec![tid.into()], ..Default::default() }, 4)
        .await;
    let coordinator = &found.coordinators[0];
    assert_eq!(ErrorCode::from(coordinator.error_code), ErrorCode::NONE);
    assert_eq!(cluster.transaction_coordinator(tid).await.unwrap(), Some(coordinator.node_id));
    let mut coord = Client::connect(&broker_addr(&cluster, coordinator.node_id)).await;
    let init = init_request(tid);
    let r = coord.call(&init, 5).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
    let (pid, epoch) = (r.producer_id, r.producer_epoch);

    // Produce v12 joins the partition to the transaction implicitly.
    let leader = cluster.partition_state("orders", 0).await.unwrap().leader;
    let mut lc = Client::connect(&broker_addr(&cluster, leader)).await;
    let produce = txn_produce_request(tid, Compression::None, (pid, epoch), b"in-txn", 1);
    let r = lc.call(&produce, 12).await;
    assert_eq!(ErrorCode::from(r.responses[0].partition_responses[0].error_code), ErrorCode::NONE);
    let view = cluster.transaction(tid).await.unwrap().unwrap();
    assert_eq!(view.state, "Ongoing");
    assert_eq!(view.partitions, vec![("orders".to_string(), 0)]);
    assert_eq!((view.producer_id, view.producer_epoch), (pid, epoch));

    // The brokers' verification form (v4+) sees the partition in it.
    let verify = AddPartitionsToTxnRequest {
        transactions: vec![AddPartitionsToTxnTransaction {
            transactional_id: tid.into(),
            producer_id: pid,
            producer_epoch: epoch,
            verify_only: true,
            topics: vec![AddPartitionsToTxnTopic { name: "orders".into(), partitions: vec![0], ..Default::default() }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = coord.call(&verify, 5).await;
    let code = r.results_by_transaction[0].topic_results[0].results_by_partition[0].partition_error_code;
    assert_eq!(ErrorCode::from(code), ErrorCode::NONE);

    // read_committed sees nothing yet.
    let fetch = |isolation_level: i8| FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        isolation_level,
        topics: vec![FetchTopic {
            topic: "orders".into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                current_leader_epoch: -1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = lc.call(&fetch(1), 12).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.high_watermark, p.last_stable_offset), (1, 0));
    assert!(p.records.as_ref().is_none_or(|r| r.is_empty()));

    // EndTxn v5 commits and hands out the bumped epoch.
    let end = EndTxnRequest {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let r = coord.call(&end, 5).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
    assert_eq!((r.producer_id, r.producer_epoch), (pid, epoch + 1));
    let view = cluster.transaction(tid).await.unwrap().unwrap();
    assert_eq!((view.state.as_str(), view.producer_epoch), ("CompleteCommit", epoch + 1));

    let r = lc.call(&fetch(1), 12).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!((p.high_watermark, p.last_stable_offset), (2, 2));
    let batches: Vec<_> = RecordSet::new(p.records.clone().unwrap())
        .map(|e| match e.unwrap() {
            RecordSetEntry::Batch(b) => *b.header(),
            RecordSetEntry::Legacy(_) => panic!("legacy"),
        })
        .collect();
    assert_eq!(batches.len(), 2);
    assert!(batches[1].is_control() && batches[1].is_transactional());
    assert_eq!((batches[1].producer_id, batches[1].producer_epoch), (pid, epoch + 1));
    cluster.shutdown().await;
}

#[tokio::test]
async fn moving_the_transaction_coordinator_redirects_its_clients() {
    let cluster = Cluster::builder().brokers(2).transaction_state_partitions(3).start().await.unwrap();
    let tid = "moving";
    let before = cluster.transaction_coordinator(tid).await.unwrap().unwrap();
    let other = if before == 1 { 2 } else { 1 };
    let init = init_request(tid);
    let mut old = Client::connect(&broker_addr(&cluster, before)).await;
    let r = old.call(&init, 4).await;
    assert_eq!((ErrorCode::from(r.error_code), r.producer_epoch), (ErrorCode::NONE, 0));

    cluster.move_transaction_coordinator(tid, other).await.unwrap();
    assert_eq!(cluster.transaction_coordinator(tid).await.unwrap(), Some(other));
    let r = old.call(&init, 4).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NOT_COORDINATOR);
    // The new coordinator serves the same state: the epoch moves on.
    let mut new = Client::connect(&broker_addr(&cluster, other)).await;
    let r = new.call(&init, 4).await;
    assert_eq!((ErrorCode::from(r.error_code), r.producer_epoch), (ErrorCode::NONE, 1));
    let view = cluster.transaction(tid).await.unwrap().unwrap();
    assert_eq!((view.coordinator, view.state.as_str()), (other, "Empty"));
    cluster.shutdown().await;
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!("broker-testkit-{name}-{}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The coordinator's state is written to `__transaction_state` and read
/// back by a restart from the data directory: a transaction left open stays
/// open (its producer commits it after the restart), and one whose markers
/// were held back at shutdown has them written after the restart.
#[tokio::test]
async fn transactions_survive_a_restart_from_the_data_directory() {
    let dir = TempDir::new("txn-restart");
    let (tid, held) = ("restarted", "held");
    let cluster = Cluster::builder().data_dir(&dir.0).start().await.unwrap();
    cluster.create_topic("orders", 1, 1).await.unwrap();
    let mut ids = Vec::new();
    for id in [tid, held] {
        let coordinator = cluster.transaction_coordinator(id).await.unwrap().unwrap();
        let mut c = Client::connect(&broker_addr(&cluster, coordinator)).await;
        let r = c.call(&init_request(id), 5).await;
        ids.push((coordinator, r.producer_id, r.producer_epoch));
    }
    let mut c = Client::connect(&broker_addr(&cluster, 1)).await;
    let (_, pid, epoch) = ids[0];
    let produce = txn_produce_request(tid, Compression::None, (pid, epoch), b"left-open", 1);
    let r = c.call(&produce, 12).await;
    assert_eq!(ErrorCode::from(r.responses[0].partition_responses[0].error_code), ErrorCode::NONE);
    // The second transaction commits, but its marker is held back.
    let (held_coordinator, held_pid, held_epoch) = ids[1];
    let produce = txn_produce_request(held, Compression::None, (held_pid, held_epoch), b"held", 1);
    let r = c.call(&produce, 12).await;
    assert_eq!(ErrorCode::from(r.responses[0].partition_responses[0].error_code), ErrorCode::NONE);
    cluster.hold_transaction_markers(true).await.unwrap();
    let mut hc = Client::connect(&broker_addr(&cluster, held_coordinator)).await;
    let end = |tid: &str, pid, epoch| EndTxnRequest {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let r = hc.call(&end(held, held_pid, held_epoch), 5).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
    let before = cluster.transaction(tid).await.unwrap().unwrap();
    assert_eq!(before.state, "Ongoing");
    assert_eq!(cluster.transaction(held).await.unwrap().unwrap().state, "PrepareCommit");
    assert_eq!(cluster.last_stable_offset("orders", 0).await.unwrap().0, 0);
    drop((c, hc));
    cluster.shutdown().await;

    let cluster = Cluster::builder().data_dir(&dir.0).start().await.unwrap();
    // The open transaction is still open, under the same producer.
    let after = cluster.transaction(tid).await.unwrap().unwrap();
    assert_eq!(
        (after.state.as_str(), after.producer_id, after.producer_epoch, after.partitions.clone(), after.start_ms),
        ("Ongoing", pid, epoch, vec![("orders".to_string(), 0)], before.start_ms)
    );
    // The held commit's marker was written once the coordinator loaded it.
    let view = cluster.transaction(held).await.unwrap().unwrap();
    assert_eq!(view.state, "CompleteCommit");
    let (lso, open) = cluster.last_stable_offset("orders", 0).await.unwrap();
    assert_eq!((lso, open.len()), (0, 1), "the open transaction still holds the LSO");
    // Its producer commits it now.
    let coordinator = cluster.transaction_coordinator(tid).await.unwrap().unwrap();
    let mut c = Client::connect(&broker_addr(&cluster, coordinator)).await;
    let r = c.call(&end(tid, pid, epoch), 5).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
    let (lso, open) = cluster.last_stable_offset("orders", 0).await.unwrap();
    assert_eq!((lso, open.len()), (4, 0));
    let batches = cluster.batches("orders", 0, None).await.unwrap();
    let markers: Vec<(i64, i16)> =
        batches.iter().filter(|b| b.control).map(|b| (b.producer_id, b.producer_epoch)).collect();
    assert_eq!(markers, vec![(held_pid, held_epoch + 1), (pid, epoch + 1)]);
    drop(c);
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_version_1_transaction_with_offsets_over_the_wire() {
    let cluster = Cluster::builder().transaction_version(1).offsets_topic_partitions(3).start().await.unwrap();
    cluster.create_topic("orders", 1, 1).await.unwrap();
    let (tid, group) = ("classic-txn", "classic-group");
    let mut c = Client::connect(&broker_addr(&cluster, 1)).await;
    let found = c.call(&FindCoordinatorRequest { key: tid.into(), key_type: 1, ..Default::default() }, 3).await;
    assert_eq!((ErrorCode::from(found.error_code), found.node_id), (ErrorCode::NONE, 1));
    let init = init_request(tid);
    let r = c.call(&init, 3).await;
    let (pid, epoch) = (r.producer_id, r.producer_epoch);

    let add = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: tid.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
            name: "orders".into(),
            partitions: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = c.call(&add, 3).await;
    let code = r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
    assert_eq!(ErrorCode::from(code), ErrorCode::NONE);

    let produce = txn_produce_request(tid, Compression::Zstd, (pid, epoch), b"classic", 3);
    let r = c.call(&produce, 9).await;
    assert_eq!(ErrorCode::from(r.responses[0].partition_responses[0].error_code), ErrorCode::NONE);

    let add_offsets = AddOffsetsToTxnRequest {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: group.into(),
        ..Default::default()
    };
    assert_eq!(ErrorCode::from(c.call(&add_offsets, 3).await.error_code), ErrorCode::NONE);
    let commit = TxnOffsetCommitRequest {
        transactional_id: tid.into(),
        group_id: group.into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        topics: vec![kafka_protocol::messages::txn_offset_commit::TxnOffsetCommitRequestTopic {
            name: "orders".into(),
            partitions: vec![kafka_protocol::messages::txn_offset_commit::TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 3,
                committed_leader_epoch: -1,
                committed_metadata: None,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = c.call(&commit, 3).await;
    assert_eq!(ErrorCode::from(r.topics[0].partitions[0].error_code), ErrorCode::NONE);
    let fetch_offsets = OffsetFetchRequest {
        group_id: group.into(),
        topics: Some(vec![kafka_protocol::messages::offset_fetch::OffsetFetchRequestTopic {
            name: "orders".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        require_stable: true,
        ..Default::default()
    };
    let r = c.call(&fetch_offsets, 7).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((ErrorCode::from(p.error_code), p.committed_offset), (ErrorCode::UNSTABLE_OFFSET_COMMIT, -1));

    let end = EndTxnRequest {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: true,
        ..Default::default()
    };
    let r = c.call(&end, 3).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
    let r = c.call(&fetch_offsets, 7).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((ErrorCode::from(p.error_code), p.committed_offset), (ErrorCode::NONE, 3));
    assert_eq!(cluster.committed_offsets(group).await.unwrap().get(&("orders".to_string(), 0)), Some(&3));

    let view = cluster.transaction(tid).await.unwrap().unwrap();
    assert_eq!((view.state.as_str(), view.producer_epoch), ("CompleteCommit", epoch));
    let batches = cluster.batches("orders", 0, None).await.unwrap();
    assert_eq!(batches.len(), 2);
    assert!(batches[0].transactional && !batches[0].control);
    assert!(batches[1].control);
    assert_eq!(cluster.last_stable_offset("orders", 0).await.unwrap(), (4, Default::default()));
    cluster.shutdown().await;
}
