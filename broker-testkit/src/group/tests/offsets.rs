//! OffsetCommit, OffsetFetch and OffsetDelete.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics, OffsetFetchResponse,
};

use super::*;
use crate::group::{AnyTopic, CommittedOffset, GroupEvent};

fn codes(response: &OffsetCommitResponse) -> Vec<ErrorCode> {
    response.topics.iter().flat_map(|t| t.partitions.iter().map(|p| code(p.error_code))).collect()
}

fn fetch(h: &mut Harness, version: i16, request: OffsetFetchRequest) -> OffsetFetchResponse {
    match h.call(version, |gc, now, id| gc.offset_fetch(now, version, &request, id)) {
        Reply::OffsetFetch(r) => r,
        other => panic!("{other:?}"),
    }
}

fn fetch_v7(h: &mut Harness, partitions: &[i32]) -> Vec<(i32, i64, i32, String)> {
    let request = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: partitions.to_vec(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let response = fetch(h, 7, request);
    assert_eq!(response.error_code, 0);
    response.topics[0]
        .partitions
        .iter()
        .map(|p| {
            assert_eq!(p.error_code, 0);
            (p.partition_index, p.committed_offset, p.committed_leader_epoch, p.metadata.clone().unwrap())
        })
        .collect()
}

fn delete_offsets(h: &mut Harness, topic_names: &[&str]) -> kafka_protocol::messages::OffsetDeleteResponse {
    let request = OffsetDeleteRequest {
        group_id: GROUP.into(),
        topics: topic_names
            .iter()
            .map(|t| OffsetDeleteRequestTopic {
                name: t.to_string(),
                partitions: vec![OffsetDeleteRequestPartition { partition_index: 0, ..Default::default() }],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let lookup = topics();
    match h.call(0, |gc, now, id| gc.offset_delete(now, 0, &request, &lookup, id)) {
        Reply::OffsetDelete(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn simple_commit_creates_an_empty_group() {
    let mut h = Harness::new();
    let response = h.commit(8, &commit_req("", -1, &[0, 1], 42), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::NONE; 2]);
    let view = h.view();
    assert_eq!(view.state, GroupState::Empty);
    assert_eq!(view.protocol_type, None);
    let committed = h.gc.committed(GROUP);
    assert_eq!(
        committed[&("t".to_string(), 1)],
        CommittedOffset {
            offset: 42,
            leader_epoch: None,
            metadata: "m1".into(),
            commit_timestamp_ms: h.now,
            expire_timestamp_ms: None,
        }
    );
    let events = h.gc.take_events();
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[0], GroupEvent::OffsetCommitted { topic, partition: 0, .. } if topic == "t"));
    assert_eq!(
        fetch_v7(&mut h, &[0, 1, 2]),
        vec![(0, 42, -1, "m0".into()), (1, 42, -1, "m1".into()), (2, -1, -1, String::new()),]
    );
}

#[test]
fn commits_from_strangers_and_stale_generations_are_rejected() {
    let mut h = Harness::new();
    // No group and a generation: ILLEGAL_GENERATION up to v8, then
    // GROUP_ID_NOT_FOUND.
    let response = h.commit(8, &commit_req("m", 3, &[0], 1), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::ILLEGAL_GENERATION]);
    let response = h.commit(9, &commit_req("m", 3, &[0], 1), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::GROUP_ID_NOT_FOUND]);
    assert!(h.gc.describe(GROUP).is_none());

    let member = h.single_member_group(&["t"]);
    let response = h.commit(8, &commit_req("stranger", 1, &[0], 1), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::UNKNOWN_MEMBER_ID]);
    let response = h.commit(8, &commit_req(&member, 0, &[0], 1), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::ILLEGAL_GENERATION]);
    // A simple commit is only for groups nobody is a member of.
    let response = h.commit(8, &commit_req("", -1, &[0], 1), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::UNKNOWN_MEMBER_ID]);
    assert!(h.gc.committed(GROUP).is_empty());

    let response = h.commit(8, &commit_req(&member, 1, &[0], 7), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::NONE]);
    assert_eq!(h.gc.committed(GROUP)[&("t".to_string(), 0)].offset, 7);
}

#[test]
fn commit_straddling_a_generation_change() {
    let mut h = Harness::new();
    let m1 = h.single_member_group(&["t"]);

    // A second member joins: PreparingRebalance. m1 commits what it
    // consumed before revoking, with the generation it has: allowed.
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let response = h.commit(8, &commit_req(&m1, 1, &[0], 10), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::NONE]);

    // m1 rejoins; generation 2 is CompletingRebalance until the leader syncs.
    let j1 = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "solo");
    h.expect_join(j1);
    h.expect_join(j2);
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    let response = h.commit(8, &commit_req(&m1, 2, &[0], 11), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::REBALANCE_IN_PROGRESS]);
    // The old generation is now stale.
    let response = h.commit(8, &commit_req(&m1, 1, &[0], 11), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::ILLEGAL_GENERATION]);

    h.sync_all(&m1, &[&m1, &m2], 2);
    let response = h.commit(8, &commit_req(&m2, 2, &[1], 5), &topics());
    assert_eq!(codes(&response), vec![ErrorCode::NONE]);
    let committed = h.gc.committed(GROUP);
    assert_eq!(committed[&("t".to_string(), 0)].offset, 10);
    assert_eq!(committed[&("t".to_string(), 1)].offset, 5);
}

#[test]
fn a_members_commit_keeps_its_session_alive() {
    let mut h = Harness::new();
    let member = h.single_member_group(&["t"]);
    for _ in 0..5 {
        h.advance(i64::from(SESSION_MS) - 1);
        let response = h.commit(8, &commit_req(&member, 1, &[0], 1), &topics());
        assert_eq!(codes(&response), vec![ErrorCode::NONE]);
    }
    assert!(h.gc.is_stable(GROUP));
    h.advance(i64::from(SESSION_MS));
    assert!(h.view().members.is_empty());
}

#[test]
fn per_partition_commit_errors() {
    let mut h = Harness::with_config(GroupConfig { offset_metadata_max_bytes: 8, ..Default::default() });
    let request = OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id_or_member_epoch: -1,
        topics: vec![
            OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![
                    OffsetCommitRequestPartition { partition_index: 0, committed_offset: 1, ..Default::default() },
                    // No such partition.
                    OffsetCommitRequestPartition { partition_index: 9, committed_offset: 1, ..Default::default() },
                    // Eight characters fit; nine do not (counted as Java
                    // does, in UTF-16 units: "é" is one).
                    OffsetCommitRequestPartition {
                        partition_index: 1,
                        committed_offset: 1,
                        committed_metadata: Some("ééééééé!".into()),
                        committed_leader_epoch: 4,
                        ..Default::default()
                    },
                    OffsetCommitRequestPartition {
                        partition_index: 2,
                        committed_offset: 1,
                        committed_metadata: Some("123456789".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            OffsetCommitRequestTopic {
                name: "missing".into(),
                partitions: vec![OffsetCommitRequestPartition { partition_index: 0, ..Default::default() }],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let response = h.commit(8, &request, &topics());
    assert_eq!(
        codes(&response),
        vec![
            ErrorCode::NONE,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ErrorCode::NONE,
            ErrorCode::OFFSET_METADATA_TOO_LARGE,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ]
    );
    let committed = h.gc.committed(GROUP);
    assert_eq!(committed.len(), 2);
    assert_eq!(committed[&("t".to_string(), 1)].leader_epoch, Some(4));
    assert_eq!(committed[&("t".to_string(), 0)].metadata, "");
}

#[test]
fn a_commit_with_only_unknown_partitions_never_reaches_the_group() {
    let mut h = Harness::new();
    let request = OffsetCommitRequest {
        topics: vec![OffsetCommitRequestTopic {
            name: "missing".into(),
            ..commit_req("", -1, &[0], 1).topics[0].clone()
        }],
        ..commit_req("", -1, &[0], 1)
    };
    let response = h.commit(8, &request, &topics());
    assert_eq!(codes(&response), vec![ErrorCode::UNKNOWN_TOPIC_OR_PARTITION]);
    assert!(h.gc.describe(GROUP).is_none());
}

#[test]
fn retention_time_sets_an_expiry_timestamp() {
    let mut h = Harness::new();
    let request = OffsetCommitRequest { retention_time_ms: 60_000, ..commit_req("", -1, &[0], 1) };
    h.commit(2, &request, &AnyTopic);
    assert_eq!(h.gc.committed(GROUP)[&("t".to_string(), 0)].expire_timestamp_ms, Some(h.now + 60_000));
}

#[test]
fn offset_fetch_defaults_and_all_partitions() {
    let mut h = Harness::new();
    // Unknown group: -1 offsets, no error.
    assert_eq!(fetch_v7(&mut h, &[0]), vec![(0, -1, -1, String::new())]);
    let all = OffsetFetchRequest { group_id: GROUP.into(), topics: None, ..Default::default() };
    let response = fetch(&mut h, 7, all.clone());
    assert!(response.topics.is_empty());
    assert_eq!(response.error_code, 0);

    let mut request = commit_req("", -1, &[2, 0], 5);
    request.topics[0].partitions[0].committed_leader_epoch = 3;
    request.topics.push(OffsetCommitRequestTopic { name: "u".into(), ..request.topics[0].clone() });
    h.commit(8, &request, &topics());

    // v1: the oldest version still has per-partition errors only.
    let v1 = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0, 2],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let response = fetch(&mut h, 1, v1);
    let got: Vec<_> = response.topics[0].partitions.iter().map(|p| (p.partition_index, p.committed_offset)).collect();
    assert_eq!(got, vec![(0, 5), (2, 5)]);

    let response = fetch(&mut h, 7, all);
    let got: Vec<_> = response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.clone(), p.partition_index, p.committed_leader_epoch)))
        .collect();
    assert_eq!(got, vec![("t".into(), 0, -1), ("t".into(), 2, 3), ("u".into(), 0, -1), ("u".into(), 2, 3)]);

    // v8: several groups at once, one of them unknown, one for all topics.
    let v8 = OffsetFetchRequest {
        groups: vec![
            OffsetFetchRequestGroup {
                group_id: GROUP.into(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: "u".into(),
                    partition_indexes: vec![2, 3],
                    ..Default::default()
                }]),
                ..Default::default()
            },
            OffsetFetchRequestGroup { group_id: "other".into(), topics: None, ..Default::default() },
        ],
        ..Default::default()
    };
    let response = fetch(&mut h, 8, v8);
    assert_eq!(response.groups.len(), 2);
    let first = &response.groups[0];
    assert_eq!(first.error_code, 0);
    let got: Vec<_> = first.topics[0].partitions.iter().map(|p| (p.partition_index, p.committed_offset)).collect();
    assert_eq!(got, vec![(2, 5), (3, -1)]);
    assert_eq!(response.groups[1].group_id, "other");
    assert!(response.groups[1].topics.is_empty());
}

#[test]
fn offset_delete_refuses_topics_the_group_subscribes_to() {
    let mut h = Harness::new();
    assert_eq!(code(delete_offsets(&mut h, &["t"]).error_code), ErrorCode::GROUP_ID_NOT_FOUND);

    // The member subscribes to "t" only; offsets exist for "t" and "u".
    let member = h.single_member_group(&["t"]);
    let mut request = commit_req(&member, 1, &[0], 9);
    request.topics.push(OffsetCommitRequestTopic { name: "u".into(), ..request.topics[0].clone() });
    h.commit(8, &request, &topics());
    h.gc.take_events();

    let response = delete_offsets(&mut h, &["t", "u", "missing"]);
    assert_eq!(response.error_code, 0);
    let got: Vec<_> = response.topics.iter().map(|t| (t.name.as_str(), code(t.partitions[0].error_code))).collect();
    assert_eq!(
        got,
        vec![
            ("t", ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC),
            ("u", ErrorCode::NONE),
            ("missing", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        ]
    );
    let committed = h.gc.committed(GROUP);
    assert!(committed.contains_key(&("t".to_string(), 0)));
    assert!(!committed.contains_key(&("u".to_string(), 0)));
    assert_eq!(
        h.gc.take_events(),
        vec![GroupEvent::OffsetDeleted { group_id: GROUP.into(), topic: "u".into(), partition: 0 }]
    );

    // Once the group is empty, anything goes.
    h.leave_member(&member);
    let response = delete_offsets(&mut h, &["t"]);
    assert_eq!(code(response.topics[0].partitions[0].error_code), ErrorCode::NONE);
    assert!(h.gc.committed(GROUP).is_empty());
}

#[test]
fn offset_delete_on_a_non_consumer_group_with_members_is_refused() {
    let mut h = Harness::new();
    let mut request = join_req("", &["assign"], &["t"]);
    request.protocol_type = "connect".into();
    let (_, join) = h.join_new("worker", request);
    h.expect_join(join);
    let response = delete_offsets(&mut h, &["t"]);
    assert_eq!(code(response.error_code), ErrorCode::NON_EMPTY_GROUP);
    assert!(response.topics.is_empty());
}

#[test]
fn unparsable_consumer_metadata_counts_as_subscribed_to_everything() {
    let mut h = Harness::new();
    let mut request = join_req("", &["range"], &["t"]);
    request.protocols[0].metadata = Bytes::from_static(b"\x00\x00\xff");
    let (_, join) = h.join_new("odd", request);
    h.expect_join(join);
    let response = delete_offsets(&mut h, &["u"]);
    assert_eq!(code(response.topics[0].partitions[0].error_code), ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC);
}
