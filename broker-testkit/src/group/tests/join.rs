//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::heartbeat::HeartbeatRequest;
use kafka_protocol::messages::join_group::JoinGroupRequest;
use kafka_protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};

use super::*;

#[test]
fn single_member_join_sync_dance() {
    let mut h = Harness::new();
    let (member, join) = h.join_new("solo", join_req("", &["range"], &["t"]));

    // Initial delay 0: the join completes in the same call.
    let response = h.expect_join(join);
    assert_eq!(code(response.error_code), ErrorCode::NONE);
    assert_eq!(response.generation_id, 1);
    assert_eq!(response.leader, member);
    assert_eq!(response.member_id, member);
    assert_eq!(response.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(response.protocol_name.as_deref(), Some("range"));
    assert!(!response.skip_assignment);
    assert_eq!(response.members.len(), 1);
    assert_eq!(response.members[0].member_id, member);
    assert_eq!(response.members[0].metadata, subscription(&["t"]));
    assert_eq!(h.state(), GroupState::CompletingRebalance);

    let plan = assignment("t", &[0, 1]);
    let sync = h.send_sync(5, &sync_req(&member, 1, &[(&member, plan.clone())]));
    let synced = h.expect_sync(sync);
    assert_eq!(code(synced.error_code), ErrorCode::NONE);
    assert_eq!(synced.assignment, plan);
    assert_eq!(synced.protocol_name.as_deref(), Some("range"));
    assert_eq!(synced.protocol_type.as_deref(), Some("consumer"));
    assert!(h.gc.is_stable(GROUP));
    assert!(h.view().state == "Stable");
    assert_eq!(h.view().state.to_string(), "Stable");
    assert_eq!(h.heartbeat(&member, 1), ErrorCode::NONE);
    assert!(h.outstanding().is_empty());
}

#[test]
fn three_members_leader_gets_metadata_followers_wait_for_leader() {
    let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 100, ..Default::default() });
    let (m1, j1) = h.join_new("c1", join_req("", &["range", "roundrobin"], &["t"]));
    let (m2, j2) = h.join_new("c2", join_req("", &["roundrobin", "range"], &["t", "u"]));
    let (m3, j3) = h.join_new("c3", join_req("", &["range", "roundrobin"], &["u"]));
    assert_eq!(h.state(), GroupState::PreparingRebalance);

    // The initial delay runs out, but members joined during it: it is
    // extended once more before the group completes the join phase.
    h.advance(100);
    assert!(h.is_outstanding(j1));
    h.advance(100);
    let (r1, r2, r3) = (h.expect_join(j1), h.expect_join(j2), h.expect_join(j3));

    for r in [&r1, &r2, &r3] {
        assert_eq!(code(r.error_code), ErrorCode::NONE);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader, m1);
        // Two votes for range, one for roundrobin.
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    let listed: Vec<_> = r1.members.iter().map(|m| (m.member_id.clone(), m.metadata.clone())).collect();
    assert_eq!(
        listed,
        vec![
            (m1.clone(), subscription(&["t"])),
            (m2.clone(), subscription(&["t", "u"])),
            (m3.clone(), subscription(&["u"])),
        ]
    );
    assert!(r2.members.is_empty() && r3.members.is_empty());

    // Followers park until the leader's SyncGroup arrives.
    let s2 = h.send_sync(5, &sync_req(&m2, 1, &[]));
    let s3 = h.send_sync(5, &sync_req(&m3, 1, &[]));
    assert!(h.is_outstanding(s2) && h.is_outstanding(s3));
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    // The leader leaves m3 out of its plan: m3 gets an empty assignment.
    let s1 = h.send_sync(5, &sync_req(&m1, 1, &[(&m1, assignment("t", &[0])), (&m2, assignment("u", &[0]))]));
    assert_eq!(h.expect_sync(s1).assignment, assignment("t", &[0]));
    assert_eq!(h.expect_sync(s2).assignment, assignment("u", &[0]));
    let r3 = h.expect_sync(s3);
    assert_eq!(code(r3.error_code), ErrorCode::NONE);
    assert!(r3.assignment.is_empty());
    assert!(h.gc.is_stable(GROUP));

    // A follower's SyncGroup in Stable gets its assignment at once.
    let again = h.send_sync(5, &sync_req(&m2, 1, &[]));
    assert_eq!(h.expect_sync(again).assignment, assignment("u", &[0]));
    assert!(h.outstanding().is_empty());
}

#[test]
fn protocol_vote_only_counts_protocols_every_member_supports() {
    let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 100, ..Default::default() });
    // "sticky" is everyone's favourite but m3 lacks it; "range" is supported
    // by all and wins; "roundrobin" is not supported by m2.
    let (_, j1) = h.join_new("c1", join_req("", &["sticky", "roundrobin", "range"], &["t"]));
    let (_, j2) = h.join_new("c2", join_req("", &["sticky", "range"], &["t"]));
    let (_, j3) = h.join_new("c3", join_req("", &["roundrobin", "range"], &["t"]));
    h.advance(1_000);
    for j in [j1, j2, j3] {
        assert_eq!(h.expect_join(j).protocol_name.as_deref(), Some("range"));
    }
}

#[test]
fn protocol_vote_tie_goes_to_the_earliest_members_choice() {
    let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 100, ..Default::default() });
    let (_, j1) = h.join_new("c1", join_req("", &["roundrobin", "range"], &["t"]));
    let (_, j2) = h.join_new("c2", join_req("", &["range", "roundrobin"], &["t"]));
    h.advance(1_000);
    assert_eq!(h.expect_join(j1).protocol_name.as_deref(), Some("roundrobin"));
    assert_eq!(h.expect_join(j2).protocol_name.as_deref(), Some("roundrobin"));
}

#[test]
fn member_id_required_from_v4_and_pending_id_lapses() {
    let mut h = Harness::new();
    let first = h.send_join(4, &join_req("", &["range"], &["t"]), "client-x");
    let response = h.expect_join(first);
    assert_eq!(code(response.error_code), ErrorCode::MEMBER_ID_REQUIRED);
    assert!(response.member_id.starts_with("client-x-"));
    // The suffix is a dashed v4 UUID, as Java prints one.
    let suffix = &response.member_id["client-x-".len()..];
    assert_eq!(suffix.len(), 36);
    assert_eq!(suffix.as_bytes()[14], b'4');
    // Before v7 the protocol name is not nullable: an empty string is sent.
    assert_eq!(response.protocol_name.as_deref(), Some(""));
    // A pending member does not start a rebalance.
    assert_eq!(h.view().pending_member_ids, vec![response.member_id.clone()]);
    assert_eq!(h.state(), GroupState::Empty);

    // The id lapses after the session timeout of the first JoinGroup.
    h.advance(i64::from(SESSION_MS));
    assert!(h.view().pending_member_ids.is_empty());
    let late = h.send_join(4, &join_req(&response.member_id, &["range"], &["t"]), "client-x");
    assert_eq!(code(h.expect_join(late).error_code), ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn before_v4_a_new_member_joins_directly() {
    let mut h = Harness::new();
    let join = h.send_join(3, &join_req("", &["range"], &["t"]), "old-client");
    let response = h.expect_join(join);
    assert_eq!(code(response.error_code), ErrorCode::NONE);
    assert!(response.member_id.starts_with("old-client-"));
    assert_eq!(response.leader, response.member_id);
    assert_eq!(response.generation_id, 1);
}

#[test]
fn join_validation_errors() {
    let mut h = Harness::new();
    let mut request = join_req("", &["range"], &["t"]);

    request.group_id = String::new();
    let id = h.send_join(9, &request, "c");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::INVALID_GROUP_ID);

    request.group_id = GROUP.into();
    request.session_timeout_ms = 99;
    let id = h.send_join(9, &request, "c");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::INVALID_SESSION_TIMEOUT);
    request.session_timeout_ms = 1_800_001;
    let id = h.send_join(9, &request, "c");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::INVALID_SESSION_TIMEOUT);

    // A member id for a group that does not exist.
    let id = h.send_join(9, &join_req("ghost", &["range"], &["t"]), "c");
    let response = h.expect_join(id);
    assert_eq!(code(response.error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(response.member_id, "ghost");
    assert!(h.gc.describe(GROUP).is_none());

    // An empty group needs a protocol type and at least one protocol.
    let id = h.send_join(9, &JoinGroupRequest { protocols: vec![], ..join_req("", &[], &["t"]) }, "c");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
}

#[test]
fn inconsistent_protocols_are_rejected() {
    let mut h = Harness::new();
    let member = h.single_member_group(&["t"]);

    let other_type = JoinGroupRequest { protocol_type: "connect".into(), ..join_req("", &["range"], &["t"]) };
    let id = h.send_join(9, &other_type, "c2");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);

    let no_common = h.send_join(9, &join_req("", &["roundrobin"], &["t"]), "c2");
    assert_eq!(code(h.expect_join(no_common).error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);

    // A member cannot switch to a protocol the group does not support.
    let switch = h.send_join(9, &join_req(&member, &["roundrobin"], &["t"]), "solo");
    let response = h.expect_join(switch);
    assert_eq!(code(response.error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
    assert_eq!(response.member_id, member);

    // SyncGroup v5 checks the protocol type and name it is given.
    let mut sync = sync_req(&member, 1, &[]);
    sync.protocol_name = Some("roundrobin".into());
    let id = h.send_sync(5, &sync);
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
    sync.protocol_name = None;
    sync.protocol_type = None;
    let id = h.send_sync(5, &sync);
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::NONE);
}

#[test]
fn sync_errors() {
    let mut h = Harness::new();
    let id = h.send_sync(5, &sync_req("nobody", 1, &[]));
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    let mut empty_id = sync_req("nobody", 1, &[]);
    empty_id.group_id = String::new();
    let id = h.send_sync(5, &empty_id);
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::INVALID_GROUP_ID);

    let member = h.single_member_group(&["t"]);
    let id = h.send_sync(5, &sync_req("nobody", 1, &[]));
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    let id = h.send_sync(5, &sync_req(&member, 7, &[]));
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::ILLEGAL_GENERATION);

    // The leader rejoins: PreparingRebalance answers SyncGroup with
    // REBALANCE_IN_PROGRESS. (A single member completes the join at once, so
    // add a second member that has not rejoined yet.)
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let id = h.send_sync(5, &sync_req(&member, 1, &[]));
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::REBALANCE_IN_PROGRESS);
    let j1 = h.send_join(9, &join_req(&member, &["range"], &["t"]), "solo");
    assert_eq!(h.expect_join(j1).generation_id, 2);
    assert_eq!(h.expect_join(j2).member_id, m2);
}

#[test]
fn heartbeat_errors_in_each_state() {
    let mut h = Harness::new();
    // No group.
    assert_eq!(h.heartbeat("m", 0), ErrorCode::UNKNOWN_MEMBER_ID);
    let empty_id = HeartbeatRequest { member_id: "m".into(), ..Default::default() };
    assert_eq!(h.heartbeat_request(&empty_id), ErrorCode::INVALID_GROUP_ID);

    // Empty: a pending member exists but nobody is a member.
    let id = h.send_join(9, &join_req("", &["range"], &["t"]), "c1");
    let pending = h.expect_join(id).member_id;
    assert_eq!(h.state(), GroupState::Empty);
    assert_eq!(h.heartbeat(&pending, 0), ErrorCode::UNKNOWN_MEMBER_ID);

    // CompletingRebalance.
    let j1 = h.send_join(9, &join_req(&pending, &["range"], &["t"]), "c1");
    let m1 = h.expect_join(j1).member_id;
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::NONE);
    assert_eq!(h.heartbeat(&m1, 0), ErrorCode::ILLEGAL_GENERATION);
    assert_eq!(h.heartbeat("stranger", 1), ErrorCode::UNKNOWN_MEMBER_ID);

    // Stable.
    h.sync_all(&m1, &[&m1], 1);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::NONE);
    assert_eq!(h.heartbeat(&m1, 2), ErrorCode::ILLEGAL_GENERATION);

    // PreparingRebalance: a second member joins.
    let (_, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::REBALANCE_IN_PROGRESS);
    // The generation is checked before the state.
    assert_eq!(h.heartbeat(&m1, 0), ErrorCode::ILLEGAL_GENERATION);

    // A static member's instance id must match its member id.
    let wrong_instance = HeartbeatRequest {
        group_id: GROUP.into(),
        generation_id: 1,
        member_id: m1.clone(),
        group_instance_id: Some("instance-that-does-not-exist".into()),
        ..Default::default()
    };
    assert_eq!(h.heartbeat_request(&wrong_instance), ErrorCode::UNKNOWN_MEMBER_ID);

    let j1 = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.expect_join(j1).generation_id, 2);
    assert_eq!(h.expect_join(j2).generation_id, 2);
}

#[test]
fn member_leaving_rebalances_the_rest() {
    let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 50, ..Default::default() });
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    let (m3, j3) = h.join_new("c3", join_req("", &["range"], &["t"]));
    h.advance(1_000);
    for j in [j1, j2, j3] {
        h.expect_join(j);
    }
    h.sync_all(&m1, &[&m1, &m2, &m3], 1);

    // The leader leaves: the group rebalances and the next member leads.
    assert_eq!(h.leave_member(&m1), ErrorCode::NONE);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(h.view().member_ids(), vec![m2.as_str(), m3.as_str()]);
    assert_eq!(h.heartbeat(&m2, 1), ErrorCode::REBALANCE_IN_PROGRESS);

    let joins = h.rejoin_all(&[&m2, &m3], &["t"]);
    let responses: Vec<_> = joins.into_iter().map(|j| h.expect_join(j)).collect();
    assert_eq!(responses[0].generation_id, 2);
    assert_eq!(responses[0].leader, m2);
    assert_eq!(responses[0].members.len(), 2);
    assert!(responses[1].members.is_empty());
    h.sync_all(&m2, &[&m2, &m3], 2);
    assert!(h.gc.is_stable(GROUP));
    assert_eq!(h.heartbeat(&m1, 2), ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn last_member_leaving_empties_the_group_and_bumps_the_generation() {
    let mut h = Harness::new();
    let member = h.single_member_group(&["t"]);
    assert_eq!(h.leave_member(&member), ErrorCode::NONE);
    let view = h.view();
    assert_eq!(view.state, GroupState::Empty);
    assert_eq!(view.generation, 2);
    assert_eq!(view.protocol, None);
    assert_eq!(view.leader, None);
    assert_eq!(view.protocol_type.as_deref(), Some("consumer"));
}

#[test]
fn leave_group_versions_and_errors() {
    let mut h = Harness::new();
    // Unknown group: per member UNKNOWN_MEMBER_ID from v3, top-level before.
    let batch = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![MemberIdentity { member_id: "a".into(), ..Default::default() }],
        ..Default::default()
    };
    let response = h.leave(3, &batch);
    assert_eq!(response.error_code, 0);
    assert_eq!(code(response.members[0].error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    let single = LeaveGroupRequest { group_id: GROUP.into(), member_id: "a".into(), ..Default::default() };
    assert_eq!(code(h.leave(2, &single).error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    let no_group = LeaveGroupRequest { member_id: "a".into(), ..Default::default() };
    assert_eq!(code(h.leave(1, &no_group).error_code), ErrorCode::INVALID_GROUP_ID);

    // v0-v2 name one member.
    let member = h.single_member_group(&["t"]);
    let single = LeaveGroupRequest { group_id: GROUP.into(), member_id: member.clone(), ..Default::default() };
    let response = h.leave(1, &single);
    assert_eq!(code(response.error_code), ErrorCode::NONE);
    assert!(response.members.is_empty());
    assert_eq!(h.state(), GroupState::Empty);

    // v3+ batch: one known member, one unknown, one pending.
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    h.expect_join(j1);
    let first = h.send_join(9, &join_req("", &["range"], &["t"]), "c2");
    let pending = h.expect_join(first).member_id;
    let batch = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![
            MemberIdentity { member_id: m1.clone(), reason: Some("bye".into()), ..Default::default() },
            MemberIdentity { member_id: "unknown".into(), ..Default::default() },
            MemberIdentity { member_id: pending.clone(), ..Default::default() },
            MemberIdentity { member_id: String::new(), group_instance_id: Some("nope".into()), ..Default::default() },
        ],
        ..Default::default()
    };
    let response = h.leave(5, &batch);
    let codes: Vec<_> = response.members.iter().map(|m| code(m.error_code)).collect();
    assert_eq!(
        codes,
        vec![ErrorCode::NONE, ErrorCode::UNKNOWN_MEMBER_ID, ErrorCode::NONE, ErrorCode::UNKNOWN_MEMBER_ID]
    );
    assert_eq!(response.members[3].group_instance_id.as_deref(), Some("nope"));
    let view = h.view();
    assert!(view.members.is_empty() && view.pending_member_ids.is_empty());
}

#[test]
fn rejoin_with_same_metadata_in_completing_rebalance_gets_the_generation_again() {
    let mut h = Harness::new();
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let first = h.expect_join(j1);
    assert_eq!(h.state(), GroupState::CompletingRebalance);
    // The member lost the response and asks again.
    let again = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.expect_join(again), first);
    assert_eq!(h.state(), GroupState::CompletingRebalance);

    // In Stable a follower with unchanged metadata is not rebalanced either.
    h.sync_all(&m1, &[&m1], 1);
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    let j1 = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.expect_join(j2).generation_id, 2);
    h.expect_join(j1);
    h.sync_all(&m1, &[&m1, &m2], 2);
    let follower = h.send_join(9, &join_req(&m2, &["range"], &["t"]), "c2");
    let response = h.expect_join(follower);
    assert_eq!(response.generation_id, 2);
    assert_eq!(response.leader, m1);
    assert!(h.gc.is_stable(GROUP));

    // Changed metadata does rebalance.
    let changed = h.send_join(9, &join_req(&m2, &["range"], &["t", "u"]), "c2");
    assert!(h.is_outstanding(changed));
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let j1 = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.expect_join(j1).generation_id, 3);
    assert_eq!(h.expect_join(changed).generation_id, 3);
}

#[test]
fn group_max_size_turns_new_members_away() {
    let mut h = Harness::with_config(GroupConfig { max_size: 1, ..Default::default() });
    let member = h.single_member_group(&["t"]);
    let id = h.send_join(9, &join_req("", &["range"], &["t"]), "c2");
    let response = h.expect_join(id);
    assert_eq!(code(response.error_code), ErrorCode::GROUP_MAX_SIZE_REACHED);
    assert_eq!(response.member_id, "");
    assert!(h.view().pending_member_ids.is_empty());
    assert!(h.gc.is_stable(GROUP));
    assert_eq!(h.heartbeat(&member, 1), ErrorCode::NONE);
}

#[test]
fn group_max_size_counts_rejoined_members_while_rebalancing() {
    let config = GroupConfig { max_size: 1, initial_rebalance_delay_ms: 100, ..Default::default() };
    let mut h = Harness::with_config(config);
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let id = h.send_join(3, &join_req("", &["range"], &["t"]), "c2");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::GROUP_MAX_SIZE_REACHED);
    // A member already waiting in the rebalance may rejoin.
    let again = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(code(h.expect_join(j1).error_code), ErrorCode::REBALANCE_IN_PROGRESS);
    h.advance(100);
    assert_eq!(h.expect_join(again).members.len(), 1);
}

#[test]
fn a_second_join_while_one_is_parked_answers_the_first() {
    let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 100, ..Default::default() });
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let retry = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    let superseded = h.expect_join(j1);
    assert_eq!(code(superseded.error_code), ErrorCode::REBALANCE_IN_PROGRESS);
    h.advance(100);
    assert_eq!(h.expect_join(retry).generation_id, 1);
}

#[test]
fn join_replies_encode_at_every_version() {
    // The harness encodes every reply at its request's version; walk the
    // versions where the response shape changes.
    for version in 2..=9 {
        let mut h = Harness::new();
        let first = h.send_join(version, &join_req("", &["range"], &["t"]), "c");
        let response = h.expect_join(first);
        let member = if version >= 4 {
            assert_eq!(code(response.error_code), ErrorCode::MEMBER_ID_REQUIRED);
            let second = h.send_join(version, &join_req(&response.member_id, &["range"], &["t"]), "c");
            h.expect_join(second)
        } else {
            response
        };
        assert_eq!(code(member.error_code), ErrorCode::NONE, "v{version}");
        assert_eq!(member.protocol_name.as_deref(), Some("range"));
    }
}
