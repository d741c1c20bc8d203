//! Static membership (KIP-345): group.instance.id.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::heartbeat::HeartbeatRequest;
use kafka_protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::offset_commit::OffsetCommitRequest;

use super::*;
use crate::group::GroupEvent;

/// Two static members, instances "i1" (leader) and "i2", Stable at
/// generation 1; member i has partition i of "t".
fn static_pair(h: &mut Harness, version: i16) -> (String, String) {
    let j1 = h.send_join(version, &static_join_req("", "i1", &["t"]), "c1");
    let j2 = h.send_join(version, &static_join_req("", "i2", &["t"]), "c2");
    h.advance(1_000);
    let (r1, r2) = (h.expect_join(j1), h.expect_join(j2));
    assert!(r1.member_id.starts_with("i1-"), "static member ids start with the instance id");
    assert_eq!(r1.leader, r1.member_id);
    h.sync_all(&r1.member_id, &[&r1.member_id, &r2.member_id], 1);
    h.gc.take_events();
    (r1.member_id, r2.member_id)
}

fn delayed() -> GroupConfig {
    GroupConfig { initial_rebalance_delay_ms: 100, ..Default::default() }
}

#[test]
fn static_follower_restarts_without_a_rebalance_and_the_old_instance_is_fenced() {
    let mut h = Harness::with_config(delayed());
    let (leader, old) = static_pair(&mut h, 8);

    let rejoin = h.send_join(8, &static_join_req("", "i2", &["t"]), "c2-restarted");
    let response = h.expect_join(rejoin);
    assert_eq!(code(response.error_code), ErrorCode::NONE);
    let new = response.member_id.clone();
    assert!(new.starts_with("i2-") && new != old);
    assert_eq!(response.generation_id, 1);
    assert_eq!(response.leader, leader);
    assert!(response.members.is_empty());
    assert_eq!(response.protocol_name.as_deref(), Some("range"));

    // No rebalance: same generation, still Stable, the leader unaffected.
    let view = h.view();
    assert_eq!((view.state, view.generation), (GroupState::Stable, 1));
    assert_eq!(view.member_ids(), vec![leader.as_str(), new.as_str()]);
    // The replacement keeps the instance's client id and assignment.
    assert_eq!(view.members[1].client_id, "c2");
    assert_eq!(h.heartbeat(&leader, 1), ErrorCode::NONE);

    // The new id is recorded, as Kafka writes the group down.
    let events = h.gc.take_events();
    assert!(matches!(&events[..], [GroupEvent::GroupMetadataChanged(r)] if r.members[1].member_id == new));

    // The old instance is fenced wherever it shows up.
    let fenced = HeartbeatRequest {
        group_id: GROUP.into(),
        generation_id: 1,
        member_id: old.clone(),
        group_instance_id: Some("i2".into()),
        ..Default::default()
    };
    assert_eq!(h.heartbeat_request(&fenced), ErrorCode::FENCED_INSTANCE_ID);
    let mut sync = sync_req(&old, 1, &[]);
    sync.group_instance_id = Some("i2".into());
    let id = h.send_sync(5, &sync);
    assert_eq!(code(h.expect_sync(id).error_code), ErrorCode::FENCED_INSTANCE_ID);
    let id = h.send_join(8, &static_join_req(&old, "i2", &["t"]), "c2");
    assert_eq!(code(h.expect_join(id).error_code), ErrorCode::FENCED_INSTANCE_ID);
    let commit = OffsetCommitRequest { group_instance_id: Some("i2".into()), ..commit_req(&old, 1, &[1], 5) };
    let response = h.commit(8, &commit, &topics());
    assert_eq!(code(response.topics[0].partitions[0].error_code), ErrorCode::FENCED_INSTANCE_ID);

    // The new instance picks up the old assignment.
    let mut sync = sync_req(&new, 1, &[]);
    sync.group_instance_id = Some("i2".into());
    let id = h.send_sync(5, &sync);
    assert_eq!(h.expect_sync(id).assignment, assignment("t", &[1]));
    assert!(h.gc.is_stable(GROUP));
}

#[test]
fn static_leader_restart_before_v9_is_told_the_old_leader_leads() {
    let mut h = Harness::with_config(delayed());
    let (leader, _) = static_pair(&mut h, 8);
    let rejoin = h.send_join(8, &static_join_req("", "i1", &["t"]), "c1");
    let response = h.expect_join(rejoin);
    // Acting as a follower, the returning leader just syncs.
    assert_eq!(response.leader, leader);
    assert_ne!(response.member_id, leader);
    assert!(response.members.is_empty());
    assert!(!response.skip_assignment);
    // The group's leader is the new id now.
    assert_eq!(h.view().leader.as_deref(), Some(response.member_id.as_str()));
    let mut sync = sync_req(&response.member_id, 1, &[]);
    sync.group_instance_id = Some("i1".into());
    let id = h.send_sync(5, &sync);
    assert_eq!(h.expect_sync(id).assignment, assignment("t", &[0]));
}

#[test]
fn static_leader_restart_at_v9_skips_the_assignment() {
    let mut h = Harness::with_config(delayed());
    let (_, follower) = static_pair(&mut h, 9);
    let rejoin = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    let response = h.expect_join(rejoin);
    assert_eq!(response.leader, response.member_id);
    assert!(response.skip_assignment);
    let listed: Vec<_> = response.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(listed, vec![response.member_id.as_str(), follower.as_str()]);
    assert_eq!(response.members[0].group_instance_id.as_deref(), Some("i1"));
    assert!(h.gc.is_stable(GROUP));
}

#[test]
fn static_member_changing_the_selected_protocol_rebalances() {
    let mut h = Harness::with_config(delayed());
    let join = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    h.advance(1_000);
    let member = h.expect_join(join).member_id;
    h.sync_all(&member, &[&member], 1);

    // Different topics under the same protocol: Kafka keeps the group as is.
    let same_protocol = h.send_join(9, &static_join_req("", "i1", &["t", "u"]), "c1");
    let member = h.expect_join(same_protocol).member_id;
    assert!(h.gc.is_stable(GROUP));

    // A new favourite protocol changes the vote: rebalance.
    let mut request = join_req("", &["roundrobin", "range"], &["t"]);
    request.group_instance_id = Some("i1".into());
    let changed = h.send_join(9, &request, "c1");
    let response = h.expect_join(changed);
    assert_eq!(response.generation_id, 2);
    assert_eq!(response.protocol_name.as_deref(), Some("roundrobin"));
    assert_ne!(response.member_id, member);
}

#[test]
fn a_restarting_instance_fences_the_parked_join_of_the_old_one() {
    let mut h = Harness::with_config(delayed());
    let old_join = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    assert!(h.is_outstanding(old_join));
    let new_join = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    let fenced = h.expect_join(old_join);
    assert_eq!(code(fenced.error_code), ErrorCode::FENCED_INSTANCE_ID);
    h.advance(1_000);
    let response = h.expect_join(new_join);
    assert_eq!(code(response.error_code), ErrorCode::NONE);
    assert_eq!(fenced.member_id.len(), response.member_id.len());
    assert_ne!(fenced.member_id, response.member_id);
    assert_eq!(h.view().members.len(), 1);
}

#[test]
fn restart_during_completing_rebalance_rebalances_and_fences_the_parked_sync() {
    let mut h = Harness::with_config(delayed());
    let j1 = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    let j2 = h.send_join(9, &static_join_req("", "i2", &["t"]), "c2");
    h.advance(1_000);
    let (leader, follower) = (h.expect_join(j1).member_id, h.expect_join(j2).member_id);
    let mut sync = sync_req(&follower, 1, &[]);
    sync.group_instance_id = Some("i2".into());
    let parked = h.send_sync(5, &sync);
    assert!(h.is_outstanding(parked));

    let restarted = h.send_join(9, &static_join_req("", "i2", &["t"]), "c2");
    assert_eq!(code(h.expect_sync(parked).error_code), ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let j1 = h.send_join(9, &static_join_req(&leader, "i1", &["t"]), "c1");
    assert_eq!(h.expect_join(j1).generation_id, 2);
    assert_eq!(h.expect_join(restarted).generation_id, 2);
}

#[test]
fn static_members_leave_by_instance_id() {
    let mut h = Harness::with_config(delayed());
    let (leader, follower) = static_pair(&mut h, 9);
    let request = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![
            // An admin removes a member by instance id alone.
            MemberIdentity { group_instance_id: Some("i2".into()), ..Default::default() },
            // A member id that does not match the instance is fenced.
            MemberIdentity {
                member_id: "someone-else".into(),
                group_instance_id: Some("i1".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let response = h.leave(4, &request);
    assert_eq!(code(response.members[0].error_code), ErrorCode::NONE);
    assert_eq!(code(response.members[1].error_code), ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!(h.view().member_ids(), vec![leader.as_str()]);
    assert_eq!(h.heartbeat(&follower, 1), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
}

#[test]
fn static_members_get_no_member_id_required() {
    let mut h = Harness::new();
    let join = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    let response = h.expect_join(join);
    assert_eq!(code(response.error_code), ErrorCode::NONE);
    assert!(response.member_id.starts_with("i1-"));
    assert_eq!(h.view().members[0].group_instance_id.as_deref(), Some("i1"));
}
