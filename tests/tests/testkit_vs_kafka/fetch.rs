//! Fetch: by name (v12) and by topic id (v13+), empty answers at the end,
//! out-of-range offsets, unknown ids, leader epochs.

use kafka_protocol::Uuid;
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, MetadataResponse};

use super::common::{batch, create, metadata, produce};
use crate::harness::Session;

fn fetch(topic: &str, id: Uuid, partition: i32, offset: i64, epoch: i32) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_id: 0,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            topic_id: id,
            partitions: vec![FetchPartition {
                partition,
                current_leader_epoch: epoch,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub async fn reads_and_errors(s: &mut Session) {
    create(s, "fe-a", 1, &[]).await;
    s.quiet(11, &produce(1, "fe-a", 0, batch("a", 4, None))).await;
    s.quiet(11, &produce(1, "fe-a", 0, batch("b", 2, None))).await;
    let md: Option<MetadataResponse> = s.quiet(12, &metadata(&["fe-a"], false)).await;
    let id = md.and_then(|m| m.topics.first().map(|t| t.topic_id)).unwrap_or_default();

    s.call("Fetch v12 by name from 0", 12, &fetch("fe-a", Uuid::default(), 0, 0, -1)).await;
    s.call("Fetch v12 from the middle of a batch", 12, &fetch("fe-a", Uuid::default(), 0, 2, -1)).await;
    s.call("Fetch v12 at the end (nothing new)", 12, &fetch("fe-a", Uuid::default(), 0, 6, -1)).await;
    s.call("Fetch v12 past the end", 12, &fetch("fe-a", Uuid::default(), 0, 1000, -1)).await;
    s.call("Fetch v12 an unknown topic", 12, &fetch("fe-nowhere", Uuid::default(), 0, 0, -1)).await;
    s.call("Fetch v12 a partition that does not exist", 12, &fetch("fe-a", Uuid::default(), 3, 0, -1)).await;
    s.call("Fetch v13 by topic id", 13, &fetch("", id, 0, 0, -1)).await;
    s.call("Fetch v17 by topic id", 17, &fetch("", id, 0, 4, -1)).await;
    s.call("Fetch v13 an unknown topic id", 13, &fetch("", Uuid::from_u128(12345), 0, 0, -1)).await;
    s.call("Fetch v12 with the current leader epoch", 12, &fetch("fe-a", Uuid::default(), 0, 0, 0)).await;
    s.call("Fetch v12 with a leader epoch from the future", 12, &fetch("fe-a", Uuid::default(), 0, 0, 7)).await;
}
