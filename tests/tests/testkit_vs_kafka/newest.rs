//! The versions Kafka added after 4.0 (run against the newest release
//! only): Produce v13 and OffsetCommit/OffsetFetch v10 naming topics by
//! id, Fetch v18, ListOffsets v11's earliest-pending-upload timestamp,
//! ApiVersions v5's cluster and node checks, DeleteGroups v3's messages.

use kafka_protocol::Uuid;
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use kafka_protocol::messages::*;

use super::common::{T0, batch, coordinator_ready, create, list_offsets, metadata, produce};
use crate::harness::Session;

const GROUP: &str = "nw-group";

/// An id no topic has.
fn stranger() -> Uuid {
    Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0)
}

fn by_id(mut req: ProduceRequest, id: Uuid) -> ProduceRequest {
    for t in &mut req.topic_data {
        t.topic_id = id;
    }
    req
}

fn commit(topic_id: Uuid, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id_or_member_epoch: -1,
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            topic_id,
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                committed_metadata: Some("m".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetch_offsets(topics: Option<Vec<Uuid>>) -> OffsetFetchRequest {
    OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: GROUP.into(),
            member_epoch: -1,
            topics: topics.map(|ids| {
                ids.into_iter()
                    .map(|topic_id| OffsetFetchRequestTopics {
                        topic_id,
                        partition_indexes: vec![0],
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub async fn versions_after_4_0(s: &mut Session) {
    create(s, "nw-a", 1, &[]).await;
    let md = s.quiet(12, &metadata(&["nw-a"], false)).await.expect("metadata");
    let id = md.topics[0].topic_id;
    let cluster = md.cluster_id.clone().expect("a cluster id");
    let broker = md.brokers[0].node_id;

    s.call("Produce v13 by topic id", 13, &by_id(produce(1, "", 0, batch("a", 3, None)), id)).await;
    s.call("Produce v13 acks=-1 by topic id", 13, &by_id(produce(-1, "", 0, batch("b", 2, None)), id)).await;
    s.call("Produce v13 an unknown topic id", 13, &by_id(produce(1, "", 0, batch("c", 1, None)), stranger())).await;
    s.call("Produce v13 the zero topic id", 13, &by_id(produce(1, "", 0, batch("d", 1, None)), Uuid::ZERO)).await;

    let fetch = |topic_id: Uuid, offset: i64| FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic_id,
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    s.call("Fetch v18 by topic id", 18, &fetch(id, 0)).await;
    s.call("Fetch v18 mid-log", 18, &fetch(id, 3)).await;
    s.call("Fetch v18 an unknown topic id", 18, &fetch(stranger(), 0)).await;

    s.call("ListOffsets v11 earliest pending upload", 11, &list_offsets("nw-a", 0, -6)).await;
    s.call("ListOffsets v10 earliest pending upload (not yet known)", 10, &list_offsets("nw-a", 0, -6)).await;
    s.call("ListOffsets v11 by time", 11, &list_offsets("nw-a", 0, T0 + 1)).await;

    coordinator_ready(s, GROUP).await;
    s.call("OffsetCommit v10 by topic id", 10, &commit(id, 4)).await;
    s.call("OffsetCommit v10 an unknown topic id", 10, &commit(stranger(), 1)).await;
    s.call("OffsetFetch v10 by topic id", 10, &fetch_offsets(Some(vec![id]))).await;
    s.call("OffsetFetch v10 an unknown topic id", 10, &fetch_offsets(Some(vec![stranger()]))).await;
    s.call("OffsetFetch v10 every topic", 10, &fetch_offsets(None)).await;
    s.call("OffsetFetch v9 the same offsets by name", 9, &{
        let mut r = fetch_offsets(None);
        r.groups[0].topics = Some(vec![OffsetFetchRequestTopics {
            name: "nw-a".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]);
        r
    })
    .await;

    let versions = |cluster_id: Option<&str>, node_id: i32| ApiVersionsRequest {
        client_software_name: "conformance".into(),
        client_software_version: "1".into(),
        cluster_id: cluster_id.map(str::to_string),
        node_id,
        ..Default::default()
    };
    // A successful answer lists every API the broker serves (Kafka serves
    // more than the testkit): only its error code is recorded.
    for (label, req) in [
        ("ApiVersions v5 without ids", versions(None, -1)),
        ("ApiVersions v5 with the cluster's and the node's ids", versions(Some(&cluster), broker)),
    ] {
        let answer = s.quiet(5, &req).await.map(|r| r.error_code);
        s.note(label, answer);
    }
    s.call("ApiVersions v5 with the cluster's id only", 5, &versions(Some(&cluster), -1)).await;
    s.call("ApiVersions v5 naming another cluster", 5, &versions(Some("another-cluster-id"), broker)).await;
    s.call("ApiVersions v5 naming another node", 5, &versions(Some(&cluster), broker + 100)).await;
    s.call("ApiVersions v5 naming a node without a cluster", 5, &versions(None, broker)).await;

    let delete = |groups: &[&str]| DeleteGroupsRequest {
        groups_names: groups.iter().map(|g| (*g).to_string()).collect(),
        ..Default::default()
    };
    s.call("DeleteGroups v3 an unknown group", 3, &delete(&["nw-nobody"])).await;
    s.call("DeleteGroups v3 a group with offsets and no members", 3, &delete(&[GROUP])).await;
}
