//! Sessions, rebalance and sync deadlines, the initial delay, and the rule
//! that every parked request gets an answer.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group::JoinGroupRequest;
use kafka_protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};

use super::*;

/// Two dynamic members Stable at generation 1 (the first leads).
fn pair(h: &mut Harness) -> (String, String) {
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    h.advance(1_000);
    let (r1, r2) = (h.expect_join(j1), h.expect_join(j2));
    assert_eq!((r1.generation_id, r2.generation_id), (1, 1));
    h.sync_all(&m1, &[&m1, &m2], 1);
    (m1, m2)
}

fn delayed() -> GroupConfig {
    GroupConfig { initial_rebalance_delay_ms: 100, ..Default::default() }
}

#[test]
fn session_expiry_removes_a_silent_member() {
    let mut h = Harness::with_config(delayed());
    let (m1, m2) = pair(&mut h);
    for _ in 0..3 {
        h.advance(3_000);
        assert_eq!(h.heartbeat(&m1, 1), ErrorCode::NONE);
    }
    // m2 has not been heard from for its whole session.
    h.advance(1_000);
    assert_eq!(h.view().member_ids(), vec![m1.as_str()]);
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(h.heartbeat(&m2, 1), ErrorCode::UNKNOWN_MEMBER_ID);
    let rejoin = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    let response = h.expect_join(rejoin);
    assert_eq!(response.generation_id, 2);
    assert_eq!(response.members.len(), 1);
}

#[test]
fn deadlines_are_inclusive_and_a_late_request_sees_the_expiry() {
    let mut h = Harness::with_config(delayed());
    let (m1, m2) = pair(&mut h);
    let deadline = h.view().member(&m2).unwrap().session_deadline_ms.unwrap();
    assert_eq!(h.gc.next_deadline(), Some(deadline));
    // Nobody ticks; the next request comes exactly at the deadline.
    h.now = deadline;
    assert_eq!(h.heartbeat(&m2, 1), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::REBALANCE_IN_PROGRESS);
}

#[test]
fn rebalance_timeout_removes_a_member_that_does_not_rejoin() {
    let mut h = Harness::with_config(delayed());
    let (m1, m2) = pair(&mut h);
    let rebalance_started = h.now;
    let rejoin = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    // m2 stays alive but ignores the rebalance.
    while h.now + 5_000 < rebalance_started + i64::from(REBALANCE_MS) {
        h.advance(5_000);
        assert_eq!(h.heartbeat(&m2, 1), ErrorCode::REBALANCE_IN_PROGRESS);
        assert!(h.is_outstanding(rejoin));
    }
    h.now = rebalance_started + i64::from(REBALANCE_MS) - 1;
    h.advance(1);
    let response = h.expect_join(rejoin);
    assert_eq!(response.generation_id, 2);
    assert_eq!(response.members.len(), 1);
    assert_eq!(h.view().member_ids(), vec![m1.as_str()]);
    assert_eq!(h.heartbeat(&m2, 1), ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn a_member_that_never_syncs_is_removed_even_once_stable() {
    let mut h = Harness::with_config(delayed());
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    h.advance(1_000);
    h.expect_join(j1);
    h.expect_join(j2);
    let completed_at = h.now - 800;
    // The leader syncs; m2 heartbeats but never syncs.
    let s1 = h.send_sync(5, &sync_req(&m1, 1, &[(&m1, assignment("t", &[0])), (&m2, assignment("t", &[1]))]));
    h.expect_sync(s1);
    assert!(h.gc.is_stable(GROUP));
    while h.now + 5_000 < completed_at + i64::from(REBALANCE_MS) {
        h.advance(5_000);
        assert_eq!(h.heartbeat(&m1, 1), ErrorCode::NONE);
        assert_eq!(h.heartbeat(&m2, 1), ErrorCode::NONE);
    }
    h.now = completed_at + i64::from(REBALANCE_MS);
    assert_eq!(h.heartbeat(&m2, 1), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(h.view().member_ids(), vec![m1.as_str()]);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::REBALANCE_IN_PROGRESS);
}

#[test]
fn a_static_member_keeps_its_place_through_the_rebalance_timeout() {
    let mut h = Harness::with_config(delayed());
    let js = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    let (d2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    h.advance(1_000);
    let s1 = h.expect_join(js).member_id;
    h.expect_join(j2);
    h.sync_all(&s1, &[&s1, &d2], 1);

    // The dynamic member rejoins with a new subscription; the static one
    // does not rejoin, but stays alive.
    let rejoin = h.send_join(9, &join_req(&d2, &["range"], &["t", "u"]), "c2");
    for _ in 0..6 {
        h.advance(5_000);
        h.heartbeat(&s1, 1);
    }
    // Past the rebalance timeout the generation moves on without removing
    // it, and d2 leads since the old leader did not rejoin.
    let response = h.expect_join(rejoin);
    assert_eq!(response.generation_id, 2);
    assert_eq!(response.leader, d2);
    assert_eq!(response.members.len(), 2);
    assert_eq!(h.view().member_ids(), vec![s1.as_str(), d2.as_str()]);
    assert_eq!(h.heartbeat(&s1, 1), ErrorCode::ILLEGAL_GENERATION);
}

#[test]
fn a_rebalance_nobody_rejoins_waits_for_static_members() {
    let mut h = Harness::with_config(delayed());
    let js = h.send_join(9, &static_join_req("", "i1", &["t"]), "c1");
    let (d2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    h.advance(1_000);
    let s1 = h.expect_join(js).member_id;
    h.expect_join(j2);
    h.sync_all(&s1, &[&s1, &d2], 1);

    assert_eq!(h.leave_member(&d2), ErrorCode::NONE);
    for _ in 0..10 {
        h.advance(5_000);
        assert_eq!(h.heartbeat(&s1, 1), ErrorCode::REBALANCE_IN_PROGRESS);
    }
    // Long past the rebalance timeout, the group still waits for s1.
    assert_eq!(h.state(), GroupState::PreparingRebalance);
    let rejoin = h.send_join(9, &static_join_req(&s1, "i1", &["t"]), "c1");
    assert_eq!(h.expect_join(rejoin).generation_id, 2);
}

#[test]
fn initial_delay_extends_while_members_keep_joining_up_to_the_rebalance_timeout() {
    // A JoinGroup with a 250 ms rebalance timeout.
    let short = || JoinGroupRequest { rebalance_timeout_ms: 250, ..join_req("", &["range"], &["t"]) };
    let mut h = Harness::with_config(delayed());
    let start = h.now;
    let (_, first) = h.join_new("c0", short());
    assert_eq!(h.gc.next_deadline(), Some(start + 100));
    let mut n = 0;
    while h.is_outstanding(first) {
        n += 1;
        h.advance(50);
        h.join_new(&format!("c{n}"), short());
    }
    // Delays of 100, 100 and 50 ms: the rebalance timeout (250 ms) caps it.
    assert_eq!(h.now - start, 250);
    assert_eq!(h.view().generation, 1);
}

#[test]
fn parked_join_of_a_new_member_times_out() {
    let config = GroupConfig { new_member_join_timeout_ms: 5_000, ..Default::default() };
    let mut h = Harness::with_config(config);
    let m1 = h.single_member_group(&["t"]);
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    assert!(h.is_outstanding(j2));
    h.advance(3_000);
    assert_eq!(h.heartbeat(&m1, 1), ErrorCode::REBALANCE_IN_PROGRESS);
    h.advance(2_000);
    let response = h.expect_join(j2);
    assert_eq!(code(response.error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(response.member_id, "");
    assert!(h.view().member(&m2).is_none());
    assert!(h.outstanding().is_empty());
}

#[test]
fn parked_requests_are_answered_when_their_member_leaves() {
    let mut h = Harness::with_config(delayed());
    let (m1, j1) = h.join_new("c1", join_req("", &["range"], &["t"]));
    let (m2, j2) = h.join_new("c2", join_req("", &["range"], &["t"]));
    let (m3, j3) = h.join_new("c3", join_req("", &["range"], &["t"]));
    h.advance(1_000);
    for j in [j1, j2, j3] {
        h.expect_join(j);
    }
    // Both followers wait for the leader's assignment; one of them leaves.
    let s2 = h.send_sync(5, &sync_req(&m2, 1, &[]));
    let s3 = h.send_sync(5, &sync_req(&m3, 1, &[]));
    assert_eq!(h.leave_member(&m3), ErrorCode::NONE);
    assert_eq!(code(h.expect_sync(s3).error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_eq!(code(h.expect_sync(s2).error_code), ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(h.state(), GroupState::PreparingRebalance);

    // A member parked in the join phase leaves.
    let j2 = h.send_join(9, &join_req(&m2, &["range"], &["t"]), "c2");
    assert!(h.is_outstanding(j2));
    let request = LeaveGroupRequest {
        group_id: GROUP.into(),
        members: vec![MemberIdentity { member_id: m2.clone(), ..Default::default() }],
        ..Default::default()
    };
    h.leave(3, &request);
    let response = h.expect_join(j2);
    assert_eq!(code(response.error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    let j1 = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.expect_join(j1).generation_id, 2);
    assert!(h.outstanding().is_empty());
}

#[test]
fn unload_answers_everything_still_parked() {
    let mut h = Harness::with_config(delayed());
    let (m1, _) = pair(&mut h);
    let (_, j3) = h.join_new("c3", join_req("", &["range"], &["t"]));
    let j1 = h.send_join(6, &join_req(&m1, &["range"], &["t"]), "c1");
    assert_eq!(h.outstanding(), vec![j3, j1]);
    let gc = std::mem::replace(&mut h.gc, GroupCoordinator::new(GroupConfig::default()));
    let replies = gc.unload();
    h.absorb(replies);
    for j in [j1, j3] {
        assert_eq!(code(h.expect_join(j).error_code), ErrorCode::NOT_COORDINATOR);
    }
    assert!(h.outstanding().is_empty());
}

#[test]
fn late_ticks_give_the_same_outcome_as_punctual_ones() {
    fn run(tick_every: Option<i64>) -> (GroupView, Vec<(ReplyId, Reply)>) {
        let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 300, ..Default::default() });
        let (m1, m2) = pair(&mut h);
        // m1 rejoins, m2 goes silent, a newcomer joins; then the clock runs
        // for a minute with nobody calling in.
        let _ = h.send_join(9, &join_req(&m1, &["range"], &["t"]), "c1");
        let _ = h.join_new("c3", join_req("", &["range"], &["t"]));
        let _ = m2;
        let end = h.now + 60_000;
        match tick_every {
            Some(step) => {
                while h.now < end {
                    h.advance(step);
                }
            }
            None => h.advance(60_000),
        }
        (h.view(), h.drain_inbox().into_iter().collect())
    }
    let punctual = run(Some(1));
    let late = run(None);
    assert_eq!(punctual.0, late.0);
    assert_eq!(punctual.1, late.1);
    assert!(punctual.0.members.is_empty(), "nobody synced or heartbeated: everyone is gone");
}
