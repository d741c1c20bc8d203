//! Request builders the scenario files share.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::Compression;
use kafka_protocol::messages::create_topics::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata::MetadataRequestTopic;
use kafka_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    CreateTopicsRequest, ListOffsetsRequest, MetadataRequest, MetadataResponse, ProduceRequest,
};
use kafka_protocol::records::BatchBuilder;

use crate::harness::Session;

/// Record timestamps: fixed, so both clusters store the same bytes.
pub const T0: i64 = 1_750_000_000_000;

/// A batch of `n` records `prefix-i` (keys `k-i`), optionally idempotent.
pub fn batch(prefix: &str, n: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, None);
    if let Some((pid, epoch, seq)) = producer {
        b.set_producer(pid, epoch, seq);
    }
    for i in 0..n {
        b.append(T0 + i as i64, Some(format!("k-{i}").as_bytes()), Some(format!("{prefix}-{i}").as_bytes()), &[]);
    }
    b.finish().expect("batch")
}

pub fn produce(acks: i16, topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn metadata(topics: &[&str], auto_create: bool) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            topics.iter().map(|t| MetadataRequestTopic { name: Some((*t).into()), ..Default::default() }).collect(),
        ),
        allow_auto_topic_creation: auto_create,
        ..Default::default()
    }
}

pub fn list_offsets(topic: &str, partition: i32, timestamp: i64) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: -1,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Creates a topic (not recorded) and waits until every partition's leader
/// serves it.
pub async fn create(s: &mut Session, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.into(),
            num_partitions: partitions,
            replication_factor: 1,
            configs: configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: (*k).into(),
                    value: Some((*v).into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    let r = s.quiet(7, &req).await.expect("CreateTopics answered");
    assert_eq!(r.topics[0].error_code, 0, "creating {topic}: {:?}", r.topics[0]);
    ready(s, topic, partitions).await;
}

/// Waits until metadata names a leader for every partition and each answers
/// ListOffsets.
pub async fn ready(s: &mut Session, topic: &str, partitions: i32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let md: Option<MetadataResponse> = s.quiet(12, &metadata(&[topic], false)).await;
        let led = md.is_some_and(|m| {
            m.topics.first().is_some_and(|t| {
                t.error_code == 0
                    && t.partitions.len() == partitions as usize
                    && t.partitions.iter().all(|p| p.leader_id >= 0)
            })
        });
        let mut serving = led;
        for p in 0..partitions {
            if !serving {
                break;
            }
            serving = s
                .quiet(9, &list_offsets(topic, p, -1))
                .await
                .is_some_and(|r| r.topics.iter().all(|t| t.partitions.iter().all(|p| p.error_code == 0)));
        }
        if serving {
            return;
        }
        assert!(Instant::now() < deadline, "{topic} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the coordinator of `group` is known (Kafka creates
/// `__consumer_offsets` on the first lookup and answers
/// COORDINATOR_NOT_AVAILABLE until it is loaded).
pub async fn coordinator_ready(s: &mut Session, group: &str) {
    use kafka_protocol::messages::FindCoordinatorRequest;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let req = FindCoordinatorRequest { key_type: 0, coordinator_keys: vec![group.into()], ..Default::default() };
        let ok = s.quiet(4, &req).await.is_some_and(|r| r.coordinators.iter().all(|c| c.error_code == 0));
        // A commit answered without COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR
        // says the offsets partition is loaded too.
        if ok {
            let f = kafka_protocol::messages::OffsetFetchRequest {
                groups: vec![kafka_protocol::messages::offset_fetch::OffsetFetchRequestGroup {
                    group_id: group.into(),
                    member_epoch: -1,
                    topics: None,
                    ..Default::default()
                }],
                ..Default::default()
            };
            if s.quiet(9, &f).await.is_some_and(|r| r.groups.iter().all(|g| g.error_code == 0)) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the coordinator of {group} never became available");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until InitProducerId succeeds (Kafka needs its producer-id block
/// from the controller first); returns nothing, the scenario then asks again.
pub async fn producer_ids_ready(s: &mut Session) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let init = init_producer_id();
    loop {
        if s.quiet(4, &init).await.is_some_and(|r| r.error_code == 0) {
            break;
        }
        assert!(Instant::now() < deadline, "InitProducerId never succeeded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// InitProducerId for an idempotent producer (no transactional id: the
/// message's default is an empty one, which Kafka refuses).
pub fn init_producer_id() -> kafka_protocol::messages::InitProducerIdRequest {
    kafka_protocol::messages::InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: i32::MAX,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    }
}
