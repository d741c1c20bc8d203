//! The classic group protocol and group offsets: FindCoordinator, the join
//! and sync handshake, heartbeats and their errors, commits and fetches,
//! describe/list/leave/delete.

use bytes::Bytes;
use kafka_protocol::messages::join_group::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group::MemberIdentity;
use kafka_protocol::messages::offset_commit::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_delete::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use kafka_protocol::messages::sync_group::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;

use super::common::create;
use crate::harness::Session;

const GROUP: &str = "gr-one";

fn join(member_id: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: GROUP.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"\x00\x00\x00\x00\x00\x01\x00\x04gr-t\x00\x00\x00\x00"),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn heartbeat(generation: i32, member_id: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: GROUP.into(),
        generation_id: generation,
        member_id: member_id.into(),
        ..Default::default()
    }
}

fn commit(group: &str, generation: i32, member_id: &str, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: generation,
        member_id: member_id.into(),
        retention_time_ms: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "gr-t".into(),
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

fn fetch_offsets(group: &str) -> OffsetFetchRequest {
    OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.into(),
            member_epoch: -1,
            topics: Some(vec![OffsetFetchRequestTopics {
                name: "gr-t".into(),
                partition_indexes: vec![0, 1],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub async fn membership_and_offsets(s: &mut Session) {
    create(s, "gr-t", 2, &[]).await;
    super::common::coordinator_ready(s, GROUP).await;
    let find = FindCoordinatorRequest {
        key_type: 0,
        coordinator_keys: vec![GROUP.into(), "gr-other".into()],
        ..Default::default()
    };
    s.call("FindCoordinator v4 two groups", 4, &find).await;
    let find_old = FindCoordinatorRequest { key: GROUP.into(), key_type: 0, ..Default::default() };
    s.call("FindCoordinator v3 one group", 3, &find_old).await;

    s.call("OffsetFetch v9 of a group that does not exist", 9, &fetch_offsets("gr-none")).await;
    s.call("Heartbeat v4 to a group that does not exist", 4, &heartbeat(1, "ghost")).await;

    let first = s.call("JoinGroup v9 without a member id", 9, &join("")).await;
    let member = first.map(|r| r.member_id).unwrap_or_default();
    let joined = s.call("JoinGroup v9 with the member id it was given", 9, &join(&member)).await;
    let generation = joined.as_ref().map_or(-1, |r| r.generation_id);
    let sync = SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: generation,
        member_id: member.clone(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: member.clone(),
            assignment: Bytes::from_static(
                b"\x00\x00\x00\x00\x00\x01\x00\x04gr-t\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
            ..Default::default()
        }],
        ..Default::default()
    };
    s.call("SyncGroup v5 by the leader", 5, &sync).await;
    s.call("Heartbeat v4", 4, &heartbeat(generation, &member)).await;
    s.call("Heartbeat v4 from an old generation", 4, &heartbeat(generation - 1, &member)).await;
    s.call("Heartbeat v4 from an unknown member", 4, &heartbeat(generation, "stranger")).await;
    s.call("OffsetCommit v9 in the generation", 9, &commit(GROUP, generation, &member, 42)).await;
    s.call("OffsetCommit v9 from an old generation", 9, &commit(GROUP, generation - 1, &member, 7)).await;
    s.call("OffsetCommit v9 from an unknown member", 9, &commit(GROUP, generation, "stranger", 7)).await;
    s.call("OffsetFetch v9 (groups)", 9, &fetch_offsets(GROUP)).await;
    let old_fetch = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![kafka_protocol::messages::offset_fetch::OffsetFetchRequestTopic {
            name: "gr-t".into(),
            partition_indexes: vec![0],
            ..Default::default()
        }]),
        ..Default::default()
    };
    s.call("OffsetFetch v7 (one group)", 7, &old_fetch).await;
    s.call(
        "DescribeGroups v5 a stable group",
        5,
        &DescribeGroupsRequest { groups: vec![GROUP.into(), "gr-none".into()], ..Default::default() },
    )
    .await;
    s.call("ListGroups v5", 5, &ListGroupsRequest::default()).await;
    s.call(
        "DeleteGroups v2 a group with members",
        2,
        &DeleteGroupsRequest { groups_names: vec![GROUP.into()], ..Default::default() },
    )
    .await;
    let offset_delete = OffsetDeleteRequest {
        group_id: GROUP.into(),
        topics: vec![OffsetDeleteRequestTopic {
            name: "gr-t".into(),
            partitions: vec![OffsetDeleteRequestPartition { partition_index: 0, ..Default::default() }],
            ..Default::default()
        }],
        ..Default::default()
    };
    s.call("OffsetDelete v0 while subscribed", 0, &offset_delete).await;
    let leave = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![MemberIdentity { member_id: member.clone(), ..Default::default() }],
        ..Default::default()
    };
    s.call("LeaveGroup v5", 5, &leave).await;
    s.call(
        "DescribeGroups v5 an empty group",
        5,
        &DescribeGroupsRequest { groups: vec![GROUP.into()], ..Default::default() },
    )
    .await;
    s.call("OffsetCommit v9 simple (generation -1) to an empty group", 9, &commit(GROUP, -1, "", 50)).await;
    s.call("OffsetDelete v0 of an empty group", 0, &offset_delete).await;
    s.call("OffsetFetch v9 after the delete", 9, &fetch_offsets(GROUP)).await;
    s.call(
        "DeleteGroups v2 an empty group and an unknown one",
        2,
        &DeleteGroupsRequest { groups_names: vec![GROUP.into(), "gr-none".into()], ..Default::default() },
    )
    .await;
}
