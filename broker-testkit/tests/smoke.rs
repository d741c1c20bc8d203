//! End-to-end: a client speaking the wire protocol over real sockets.

use std::time::Duration;

use broker_testkit::Cluster;
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{BatchBuilder, RecordSet, RecordSetEntry};
use kafka_protocol::{Compression, ErrorCode};

mod common;
use common::Client;

#[tokio::test]
async fn produce_then_fetch_on_three_brokers() {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    cluster.create_topic("orders", 3, 3).await.unwrap();
    let boot = cluster.bootstrap_servers();
    let mut c = Client::connect(boot.split(',').next().unwrap()).await;
    let md = c.call(&MetadataRequest { topics: None, ..Default::default() }, 12).await;
    assert_eq!(md.brokers.len(), 3);
    let t = md.topics.iter().find(|t| t.name.as_deref() == Some("orders")).unwrap();
    let p0 = &t.partitions[0];
    assert_eq!(p0.replica_nodes.len(), 3);
    let leader = md.brokers.iter().find(|b| b.node_id == p0.leader_id).unwrap();
    let mut lc = Client::connect(&format!("{}:{}", leader.host, leader.port)).await;

    let mut b = BatchBuilder::new(Compression::Lz4, None);
    for i in 0..10 {
        b.append(1_700_000_000_000 + i, Some(format!("k{i}").as_bytes()), Some(b"v"), &[]);
    }
    let produce = ProduceRequest {
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
    };
    let follower = md.brokers.iter().find(|b| b.node_id != p0.leader_id).unwrap();
    let mut fc = Client::connect(&format!("{}:{}", follower.host, follower.port)).await;
    let resp = fc.call(&produce, 11).await;
    let pr = &resp.responses[0].partition_responses[0];
    assert_eq!(pr.error_code, ErrorCode::NOT_LEADER_OR_FOLLOWER.0);
    // KIP-951: the error names the current leader.
    assert_eq!(pr.current_leader.leader_id, p0.leader_id);
    let resp = lc.call(&produce, 11).await;
    let pr = &resp.responses[0].partition_responses[0];
    assert_eq!((pr.error_code, pr.base_offset), (0, 0));
    let state = cluster.partition_state("orders", 0).await.unwrap();
    assert_eq!(state.high_watermark, 10);
    assert!(state.replica_end_offsets.values().all(|&o| o == 10));

    let fetch = FetchRequest {
        max_wait_ms: 100,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic_id: t.topic_id,
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 3,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let fr = lc.call(&fetch, 17).await;
    let pd = &fr.responses[0].partitions[0];
    assert_eq!((pd.error_code, pd.high_watermark), (0, 10));
    let mut offsets = Vec::new();
    for e in RecordSet::new(pd.records.clone().unwrap()) {
        let RecordSetEntry::Batch(b) = e.unwrap() else { panic!() };
        assert_eq!(b.header().compression().unwrap(), Compression::Lz4);
        for r in b.records(1 << 20).unwrap() {
            offsets.push(r.unwrap().offset);
        }
    }
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());

    // A long poll at the end waits for max_wait_ms, then answers empty.
    let mut at_end = fetch.clone();
    at_end.topics[0].partitions[0].fetch_offset = 10;
    at_end.max_wait_ms = 200;
    let t0 = std::time::Instant::now();
    let fr = lc.call(&at_end, 17).await;
    assert!(t0.elapsed() >= Duration::from_millis(190));
    assert_eq!(fr.responses[0].partitions[0].records.as_ref().map_or(0, |r| r.len()), 0);

    // Stopping the leader moves leadership and bumps the epoch.
    cluster.stop_broker(p0.leader_id).await.unwrap();
    let after = cluster.partition_state("orders", 0).await.unwrap();
    assert_ne!(after.leader, p0.leader_id);
    assert_eq!(after.leader_epoch, state.leader_epoch + 1);
    assert_eq!(after.high_watermark, 10);
    cluster.shutdown().await;
}
