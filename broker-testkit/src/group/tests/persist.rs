//! Events, snapshots, restore, and the encoding of both.

use bytes::Bytes;
use kafka_protocol::ErrorCode;

use super::*;
use crate::group::{CodecError, CommittedOffset, GroupEvent, GroupRecord, GroupSnapshot, MemberRecord};

/// Two members Stable at generation 1, with offsets in two groups.
fn busy_coordinator() -> (Harness, String, String) {
    let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 10, ..Default::default() });
    let (m1, j1) = h.join_new("c1", join_req("", &["range", "roundrobin"], &["t"]));
    let j2 = h.send_join(9, &static_join_req("", "instance-2", &["t"]), "c2");
    h.advance(100);
    h.expect_join(j1);
    let m2 = h.expect_join(j2).member_id;
    h.sync_all(&m1, &[&m1, &m2], 1);
    let mut commit = commit_req(&m1, 1, &[0, 1], 17);
    commit.topics[0].partitions[0].committed_leader_epoch = 2;
    h.commit(8, &commit, &topics());
    let mut simple = commit_req("", -1, &[3], 99);
    simple.group_id = "simple".into();
    h.commit(8, &simple, &topics());
    (h, m1, m2)
}

#[test]
fn snapshot_equals_replayed_events() {
    let (mut h, m1, _) = busy_coordinator();
    // Start a rebalance that is not finished: it is not durable.
    let (_, _) = h.join_new("c3", join_req("", &["range"], &["t"]));
    let events = h.gc.take_events();
    let mut replayed = GroupSnapshot::default();
    for event in &events {
        replayed.apply(event);
    }
    let snapshot = h.gc.snapshot();
    assert_eq!(replayed, snapshot);

    let record = &snapshot.groups[GROUP];
    assert_eq!(record.generation, 1);
    assert_eq!(record.leader.as_deref(), Some(m1.as_str()));
    assert_eq!(record.protocol.as_deref(), Some("range"));
    assert_eq!(record.members.len(), 2);
    assert_eq!(record.members[0].subscription, subscription(&["t"]));
    assert_eq!(record.members[1].assignment, assignment("t", &[1]));
    assert_eq!(record.members[1].group_instance_id.as_deref(), Some("instance-2"));
    assert!(!snapshot.groups.contains_key("simple"), "simple groups have no metadata record");
    assert_eq!(snapshot.offsets["simple"][&("t".to_string(), 3)].offset, 99);
}

#[test]
fn snapshot_round_trips_through_its_encoding() {
    let (h, _, _) = busy_coordinator();
    let snapshot = h.gc.snapshot();
    let bytes = snapshot.encode();
    assert_eq!(&bytes[..8], b"KTGROUPS");
    assert_eq!(GroupSnapshot::decode(&bytes).unwrap(), snapshot);
    assert_eq!(GroupSnapshot::decode(&GroupSnapshot::default().encode()).unwrap(), GroupSnapshot::default());
}

#[test]
fn events_round_trip_through_their_encoding() {
    let (mut h, m1, _) = busy_coordinator();
    h.leave_member(&m1);
    let mut simple = delete_offsets_request();
    simple.group_id = "simple".into();
    let lookup = topics();
    h.call(0, |gc, now, id| gc.offset_delete(now, 0, &simple, &lookup, id));
    let request =
        kafka_protocol::messages::DeleteGroupsRequest { groups_names: vec!["simple".into()], ..Default::default() };
    h.call(2, |gc, now, id| gc.delete_groups(now, 2, &request, id));
    let events = h.gc.take_events();
    for kind in ["GroupMetadataChanged", "OffsetCommitted", "OffsetDeleted", "GroupDeleted"] {
        assert!(events.iter().any(|e| format!("{e:?}").starts_with(kind)), "no {kind} event");
    }
    for event in &events {
        assert_eq!(&GroupEvent::decode(&event.encode()).unwrap(), event);
    }
}

fn delete_offsets_request() -> kafka_protocol::messages::OffsetDeleteRequest {
    use kafka_protocol::messages::offset_delete::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
    kafka_protocol::messages::OffsetDeleteRequest {
        group_id: GROUP.into(),
        topics: vec![OffsetDeleteRequestTopic {
            name: "t".into(),
            partitions: vec![OffsetDeleteRequestPartition { partition_index: 3, ..Default::default() }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn restore_brings_members_back_stable_with_fresh_sessions() {
    let (mut h, m1, m2) = busy_coordinator();
    // Half-way through a rebalance when the broker stops.
    let (m3, _) = h.join_new("c3", join_req("", &["range"], &["t"]));
    let bytes = h.gc.snapshot().encode();

    let snapshot = GroupSnapshot::decode(&bytes).unwrap();
    let restart_at = h.now + 1_000_000;
    let config = GroupConfig { initial_rebalance_delay_ms: 10, ..Default::default() };
    let mut h = Harness::around(GroupCoordinator::restore(config, &snapshot, restart_at));
    h.now = restart_at;
    assert_eq!(h.gc.snapshot(), snapshot);

    let view = h.view();
    assert_eq!(view.state, GroupState::Stable);
    assert_eq!(view.generation, 1);
    assert_eq!(view.leader.as_deref(), Some(m1.as_str()));
    assert_eq!(view.member_ids(), vec![m1.as_str(), m2.as_str()]);
    assert_eq!(view.members[0].session_deadline_ms, Some(restart_at + i64::from(SESSION_MS)));
    // Only the chosen protocol's metadata was stored.
    assert_eq!(view.members[0].protocols.len(), 1);
    assert_eq!(h.gc.committed(GROUP)[&("t".to_string(), 0)].leader_epoch, Some(2));
    assert_eq!(h.gc.describe("simple").unwrap().state, GroupState::Empty);

    // The members carry on where they were; the half-joined one is gone.
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::NONE);
    assert_eq!(h.heartbeat(&m2, 1), ErrorCode::NONE);
    assert_eq!(h.heartbeat(&m3, 1), ErrorCode::UNKNOWN_MEMBER_ID);
    let sync = h.send_sync(5, &sync_req(&m2, 1, &[]));
    assert_eq!(h.expect_sync(sync).assignment, assignment("t", &[1]));
    // A rejoin is an ordinary rebalance from generation 1.
    let joins = h.rejoin_all(&[&m1], &["t"]);
    let mut static_rejoin = static_join_req(&m2, "instance-2", &["t"]);
    static_rejoin.member_id = m2.clone();
    let j2 = h.send_join(9, &static_rejoin, "c2");
    assert_eq!(h.expect_join(joins[0]).generation_id, 2);
    assert_eq!(h.expect_join(j2).generation_id, 2);

    // Sessions run from the restart: silence ends them.
    h.advance(i64::from(REBALANCE_MS));
    assert!(h.view().members.is_empty());
}

#[test]
fn restore_rebalances_a_group_over_capacity() {
    let (h, _, _) = busy_coordinator();
    let snapshot = h.gc.snapshot();
    let restored = GroupCoordinator::restore(GroupConfig { max_size: 1, ..Default::default() }, &snapshot, 0);
    assert_eq!(restored.describe(GROUP).unwrap().state, GroupState::PreparingRebalance);
}

#[test]
fn decoding_garbage_is_an_error() {
    let (h, _, _) = busy_coordinator();
    let bytes = h.gc.snapshot().encode();

    assert_eq!(GroupSnapshot::decode(b""), Err(CodecError::Truncated));
    assert_eq!(GroupSnapshot::decode(b"not a snapshot at all"), Err(CodecError::BadMagic));
    for cut in 0..bytes.len() {
        assert!(GroupSnapshot::decode(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        assert!(GroupSnapshot::decode(&damaged).is_err(), "bit flipped at {at}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(GroupSnapshot::decode(&longer).is_err());

    // A future format version is refused, not misread.
    let mut future = bytes[..bytes.len() - 4].to_vec();
    future[8..10].copy_from_slice(&2u16.to_be_bytes());
    let crc = crate::group::persist::tests_support::crc(&future);
    future.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(GroupSnapshot::decode(&future), Err(CodecError::UnsupportedVersion(2)));

    let event = GroupEvent::GroupDeleted { group_id: "g".into() }.encode();
    for cut in 0..event.len() {
        assert!(GroupEvent::decode(&event[..cut]).is_err());
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = fastrand::Rng::with_seed(42);
    let (h, _, _) = busy_coordinator();
    let valid = h.gc.snapshot().encode();
    for round in 0..5_000 {
        let input: Vec<u8> = if round % 2 == 0 {
            (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect()
        } else {
            // Valid framing with random damage, checksum recomputed, so the
            // parser itself sees the damage.
            let mut body = valid[..valid.len() - 4].to_vec();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(10..body.len());
                body[at] = rng.u8(..);
            }
            let crc = crate::group::persist::tests_support::crc(&body);
            body.extend_from_slice(&crc.to_be_bytes());
            body
        };
        let _ = GroupSnapshot::decode(&input);
        let _ = GroupEvent::decode(&input);
    }
}

#[test]
fn unknown_record_kinds_are_skipped_and_appended_fields_ignored() {
    let record = GroupRecord {
        group_id: "g".into(),
        protocol_type: Some("consumer".into()),
        generation: 4,
        protocol: Some("range".into()),
        leader: Some("m".into()),
        members: vec![MemberRecord {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/h".into(),
            rebalance_timeout_ms: 1,
            session_timeout_ms: 2,
            subscription: Bytes::from_static(b"s"),
            assignment: Bytes::from_static(b"a"),
        }],
    };
    let mut expected = GroupSnapshot::default();
    expected.apply(&GroupEvent::GroupMetadataChanged(record));
    expected.apply(&GroupEvent::OffsetCommitted {
        group_id: "g".into(),
        topic: "t".into(),
        partition: 0,
        offset: CommittedOffset {
            offset: 1,
            leader_epoch: None,
            metadata: String::new(),
            commit_timestamp_ms: 5,
            expire_timestamp_ms: Some(6),
        },
    });
    let bytes = expected.encode();

    // Rebuild the snapshot with an extra record of an unknown kind and an
    // extra field at the end of the first record.
    let mut body = bytes[..bytes.len() - 4].to_vec();
    let count = u32::from_be_bytes(body[10..14].try_into().unwrap());
    body[10..14].copy_from_slice(&(count + 1).to_be_bytes());
    let first_len = u32::from_be_bytes(body[15..19].try_into().unwrap());
    body[15..19].copy_from_slice(&(first_len + 2).to_be_bytes());
    let end_of_first = 19 + first_len as usize;
    body.splice(end_of_first..end_of_first, [0xAB, 0xCD]);
    body.extend_from_slice(&[99, 0, 0, 0, 3, 1, 2, 3]);
    let crc = crate::group::persist::tests_support::crc(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(GroupSnapshot::decode(&body).unwrap(), expected);
}
