//! Randomised runs: clients that join, sync, heartbeat, commit, leave,
//! restart and go silent at random, checking the coordinator's invariants
//! after every step.

use std::collections::HashMap;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::heartbeat::HeartbeatRequest;
use kafka_protocol::messages::leave_group::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::offset_commit::OffsetCommitRequest;

use super::*;
use crate::group::GroupSnapshot;

#[derive(Default)]
struct Client {
    instance: Option<String>,
    member_id: String,
    generation: i32,
}

fn check_invariants(h: &Harness) {
    let Some(view) = h.gc.describe(GROUP) else { return };
    let mut ids: Vec<_> = view.member_ids();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), view.members.len(), "duplicate member ids: {view:?}");
    let mut instances: Vec<_> = view.members.iter().filter_map(|m| m.group_instance_id.as_deref()).collect();
    let static_count = instances.len();
    instances.sort_unstable();
    instances.dedup();
    assert_eq!(instances.len(), static_count, "an instance id maps to two members: {view:?}");
    match &view.leader {
        Some(leader) => assert!(view.member(leader).is_some(), "leader is not a member: {view:?}"),
        None => assert!(view.members.is_empty(), "members without a leader: {view:?}"),
    }
    match view.state {
        GroupState::Empty => assert!(view.members.is_empty() && view.protocol.is_none(), "{view:?}"),
        GroupState::CompletingRebalance | GroupState::Stable => {
            assert!(!view.members.is_empty() && view.protocol.is_some(), "{view:?}");
            assert!(view.members.iter().all(|m| !m.awaiting_join), "{view:?}");
        }
        GroupState::PreparingRebalance => assert!(view.members.iter().all(|m| !m.awaiting_sync), "{view:?}"),
        GroupState::Dead => panic!("a live group is Dead"),
    }
    if view.state != GroupState::CompletingRebalance {
        assert!(view.members.iter().all(|m| !m.awaiting_sync), "{view:?}");
    }
    if let Some(deadline) = h.gc.next_deadline() {
        assert!(deadline > h.now, "a timer due at {deadline} was not fired by {}", h.now);
    }
}

fn run(seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let delay = if rng.bool() { 0 } else { rng.i32(1..500) };
    let config = GroupConfig { initial_rebalance_delay_ms: delay, max_size: rng.usize(2..6), ..Default::default() };
    let mut h = Harness::with_config(config);
    h.gc.reseed(seed);
    let mut clients: Vec<Client> = (0..5usize)
        .map(|i| Client { instance: i.is_multiple_of(2).then(|| format!("instance-{i}")), ..Default::default() })
        .collect();
    let mut owner: HashMap<ReplyId, usize> = HashMap::new();

    for _ in 0..300 {
        let c = rng.usize(..clients.len());
        let client = &clients[c];
        let topics_of = |c: usize| if c.is_multiple_of(3) { vec!["t", "u"] } else { vec!["t"] };
        match rng.u8(..10) {
            0..=2 => {
                let mut request = join_req(&client.member_id, &["range", "roundrobin"][..1 + c % 2], &topics_of(c));
                request.group_instance_id = client.instance.clone();
                request.rebalance_timeout_ms = rng.i32(1_000..20_000);
                let id = h.send_join(rng.i16(2..=9), &request, &format!("client-{c}"));
                owner.insert(id, c);
            }
            3 => {
                let mut request = sync_req(&client.member_id, client.generation, &[]);
                request.group_instance_id = client.instance.clone();
                if rng.bool() {
                    request.assignments = clients
                        .iter()
                        .map(|other| (other.member_id.as_str(), assignment("t", &[0])))
                        .map(|(m, a)| kafka_protocol::messages::sync_group::SyncGroupRequestAssignment {
                            member_id: m.to_string(),
                            assignment: a,
                            ..Default::default()
                        })
                        .collect();
                }
                let id = h.send_sync(rng.i16(0..=5), &request);
                owner.insert(id, c);
            }
            4..=5 => {
                h.heartbeat_request(&HeartbeatRequest {
                    group_id: GROUP.into(),
                    generation_id: client.generation,
                    member_id: client.member_id.clone(),
                    group_instance_id: client.instance.clone(),
                    ..Default::default()
                });
            }
            6 => {
                let request = OffsetCommitRequest {
                    group_instance_id: client.instance.clone(),
                    ..commit_req(&client.member_id, client.generation, &[0], rng.i64(0..100))
                };
                h.commit(rng.i16(2..=9), &request, &topics());
            }
            7 => {
                let request = LeaveGroupRequest {
                    group_id: GROUP.into(),
                    members: vec![MemberIdentity {
                        member_id: client.member_id.clone(),
                        group_instance_id: client.instance.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                h.leave(5, &request);
                clients[c].member_id.clear();
            }
            8 => {
                // A restart: the client forgets its member id.
                clients[c].member_id.clear();
            }
            _ => h.advance(rng.i64(0..15_000)),
        }
        // Learn from whatever JoinGroup and SyncGroup replies came back.
        for (id, reply) in h.drain_inbox() {
            let Some(&c) = owner.get(&id) else { continue };
            let client = &mut clients[c];
            match reply {
                Reply::JoinGroup(r) => match ErrorCode(r.error_code) {
                    ErrorCode::NONE => {
                        client.member_id = r.member_id;
                        client.generation = r.generation_id;
                    }
                    ErrorCode::MEMBER_ID_REQUIRED => client.member_id = r.member_id,
                    ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_INSTANCE_ID => client.member_id.clear(),
                    _ => {}
                },
                Reply::SyncGroup(_) => {}
                other => panic!("unexpected reply {other:?}"),
            }
        }
        check_invariants(&h);
    }

    // Left alone, every group winds down: sessions end, nothing stays
    // parked, and no timer is left.
    h.advance(3_600_000);
    check_invariants(&h);
    assert_eq!(h.gc.next_deadline(), None, "seed {seed}");
    assert!(h.outstanding().is_empty(), "seed {seed}: {:?} never answered", h.outstanding());
    if let Some(view) = h.gc.describe(GROUP) {
        assert_eq!(view.state, GroupState::Empty, "seed {seed}");
    }

    // The durable state survives an encode/decode/restore cycle.
    let snapshot = h.gc.snapshot();
    let decoded = GroupSnapshot::decode(&snapshot.encode()).unwrap();
    assert_eq!(decoded, snapshot);
    let restored = GroupCoordinator::restore(h.gc.config().clone(), &decoded, h.now);
    assert_eq!(restored.snapshot(), snapshot);
}

#[test]
fn random_clients_never_break_the_invariants() {
    for seed in 0..300 {
        run(seed);
    }
}

#[test]
fn random_clients_leave_nothing_parked_on_unload() {
    for seed in 1_000..1_050 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = Harness::with_config(GroupConfig { initial_rebalance_delay_ms: 200, ..Default::default() });
        for i in 0..rng.usize(1..6) {
            let (_, _) = h.join_new(&format!("c{i}"), join_req("", &["range"], &["t"]));
            h.advance(rng.i64(0..150));
        }
        let gc = std::mem::replace(&mut h.gc, GroupCoordinator::new(GroupConfig::default()));
        h.absorb(gc.unload());
        assert!(h.outstanding().is_empty());
    }
}
