//! Classic group membership (eager rebalancing) as a state machine without
//! I/O: it takes the time and the coordinator's answers, and says which
//! request to send next and which step `poll` must take.
//!
//! ```text
//!            ┌──────── rejoin needed (REBALANCE_IN_PROGRESS, subscription or
//!            ▼                        metadata change, …)
//! Unjoined ─► revoke owned partitions (poll: commit, listener) ─► JoinGroup
//!   ▲             MEMBER_ID_REQUIRED: join again with the given id ──┘ │
//!   │                                                                  ▼
//!   │          leader: compute the assignment ─► SyncGroup ◄─ follower
//!   │                                               │
//!   │                           assignment ─► assign (poll: listener) ─► Stable
//!   │                                                                    │
//!   └── UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION: partitions lost (poll) ◄─┘
//! ```
//!
//! Rules carried from the Java client:
//! - partitions are revoked before every rejoin (eager protocol), after
//!   auto-committing, so no other member gets them while we still hold them;
//! - UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION mean the group moved on without
//!   us: the partitions are *lost* — no commit, `on_partitions_lost` — and
//!   we rejoin (with a fresh member id for UNKNOWN_MEMBER_ID);
//! - FENCED_INSTANCE_ID is fatal for this consumer;
//! - heartbeats run while the member is waiting for its assignment or
//!   stable, on their own timer, whatever the application is doing; if
//!   `poll` is not called within `max.poll.interval.ms`, the member leaves
//!   the group (a static member does not send LeaveGroup) and rejoins on
//!   the next `poll`.

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group::{JoinGroupRequestProtocol, JoinGroupResponseMember};
use kafka_protocol::messages::leave_group::MemberIdentity;
use kafka_protocol::messages::sync_group::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, SyncGroupRequest, SyncGroupResponse,
};

use crate::TopicPartition;

/// The member's settings.
#[derive(Debug, Clone)]
pub(crate) struct MembershipConfig {
    pub group_id: String,
    pub instance_id: Option<String>,
    pub session_timeout_ms: i64,
    pub rebalance_timeout_ms: i64,
    pub heartbeat_interval_ms: i64,
    pub retry_backoff_ms: i64,
}

/// Where the member is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not in the group; `poll` triggers a join when subscribed.
    Unjoined,
    /// Owned partitions must be revoked (by `poll`) before joining.
    Revoking,
    /// Ready to send JoinGroup.
    ReadyToJoin,
    /// JoinGroup sent.
    Joining,
    /// This member leads: the assignment must be computed.
    Leading,
    /// SyncGroup ready to be sent (the leader's with assignments).
    ReadyToSync,
    /// SyncGroup sent.
    Syncing,
    /// An assignment arrived; `poll` must apply it.
    AssignmentReceived,
    /// In the group with an assignment.
    Stable,
    /// Partitions were lost; `poll` must report them.
    Losing,
    /// Fenced (FENCED_INSTANCE_ID) or otherwise unable to continue.
    Failed,
}

/// A step `poll` must take before it returns records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Commit (auto-commit) and call `on_partitions_revoked`, then
    /// [`Membership::revoked`].
    Revoke(Vec<TopicPartition>),
    /// Apply the assignment and call `on_partitions_assigned`, then
    /// [`Membership::assigned`].
    Assign(Vec<TopicPartition>),
    /// Call `on_partitions_lost` (no commit), then [`Membership::lost_reported`].
    Lost(Vec<TopicPartition>),
    /// The consumer cannot go on.
    Fatal(String),
}

/// What the background task must send now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Send {
    Join(JoinGroupRequest),
    Sync(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    Leave(LeaveGroupRequest),
}

/// The membership state machine; see the module docs.
#[derive(Debug)]
pub(crate) struct Membership {
    cfg: MembershipConfig,
    pub phase: Phase,
    pub member_id: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: String,
    /// Partitions owned (assigned and applied).
    pub owned: Vec<TopicPartition>,
    /// The assignment waiting for `poll` to apply it.
    pending_assignment: Vec<TopicPartition>,
    /// The assignment bytes of the pending assignment (for user data).
    pub pending_assignment_bytes: Bytes,
    /// Members and protocol for the leader to assign.
    pub to_assign: Option<(String, Vec<JoinGroupResponseMember>)>,
    /// The leader's SyncGroup assignments, once computed.
    sync_assignments: Vec<(String, Bytes)>,
    /// Supported protocols (name, subscription metadata) for JoinGroup.
    protocols: Vec<(String, Bytes)>,
    /// Why a rejoin is needed, if it is.
    rejoin: Option<String>,
    fatal: Option<String>,
    heartbeat_in_flight: bool,
    next_heartbeat_ms: i64,
    last_poll_ms: i64,
    /// Set while the member left because `poll` was too late.
    left_for_poll_timeout: bool,
    backoff_until_ms: i64,
    /// Generation the owned partitions belong to (for commits).
    pub owned_generation: i32,
    /// The member id they were assigned to. Kept when the membership is
    /// lost: a transactional offset commit for records read under it must
    /// carry it and be refused, not pass as a commit outside any group.
    pub owned_member: String,
}

fn code(c: i16) -> ErrorCode {
    ErrorCode(c)
}

impl Membership {
    pub(crate) fn new(cfg: MembershipConfig) -> Self {
        Membership {
            cfg,
            phase: Phase::Unjoined,
            member_id: String::new(),
            generation: -1,
            protocol: None,
            leader: String::new(),
            owned: Vec::new(),
            pending_assignment: Vec::new(),
            pending_assignment_bytes: Bytes::new(),
            to_assign: None,
            sync_assignments: Vec::new(),
            protocols: Vec::new(),
            rejoin: None,
            fatal: None,
            heartbeat_in_flight: false,
            next_heartbeat_ms: 0,
            last_poll_ms: 0,
            left_for_poll_timeout: false,
            backoff_until_ms: 0,
            owned_generation: -1,
            owned_member: String::new(),
        }
    }

    pub(crate) fn config(&self) -> &MembershipConfig {
        &self.cfg
    }

    /// The protocols offered in the next JoinGroup.
    pub(crate) fn set_protocols(&mut self, protocols: Vec<(String, Bytes)>) {
        self.protocols = protocols;
    }

    /// Asks for a rejoin (subscription or metadata changed, …).
    pub(crate) fn request_rejoin(&mut self, reason: impl Into<String>) {
        if self.rejoin.is_none() {
            self.rejoin = Some(reason.into());
        }
    }

    /// Whether this member leads its generation (and so assigned it).
    pub(crate) fn is_leader(&self) -> bool {
        self.in_generation() && self.leader == self.member_id
    }

    /// Whether the member is in a generation (commits carry it).
    pub(crate) fn in_generation(&self) -> bool {
        self.generation >= 0 && !self.member_id.is_empty()
    }

    /// `poll` was called: advances the phase and says what `poll` must do.
    pub(crate) fn poll(&mut self, now_ms: i64) -> Option<Step> {
        self.last_poll_ms = now_ms;
        if let Some(f) = &self.fatal {
            return Some(Step::Fatal(f.clone()));
        }
        if self.left_for_poll_timeout {
            // We left the group; what we held is lost (Java's behaviour).
            self.left_for_poll_timeout = false;
            self.request_rejoin("poll came back after max.poll.interval.ms");
            if !self.owned.is_empty() {
                self.phase = Phase::Losing;
            }
        }
        match self.phase {
            Phase::Losing => return Some(Step::Lost(self.owned.clone())),
            Phase::AssignmentReceived => return Some(Step::Assign(self.pending_assignment.clone())),
            Phase::Revoking => return Some(Step::Revoke(self.owned.clone())),
            _ => {}
        }
        let idle = matches!(self.phase, Phase::Unjoined | Phase::Stable);
        if idle && (self.rejoin.is_some() || self.phase == Phase::Unjoined) {
            self.rejoin = None;
            if self.owned.is_empty() {
                self.phase = Phase::ReadyToJoin;
            } else {
                self.phase = Phase::Revoking;
                return Some(Step::Revoke(self.owned.clone()));
            }
        }
        None
    }

    /// `poll` committed and called the revocation listener.
    pub(crate) fn revoked(&mut self) {
        self.owned.clear();
        if self.phase == Phase::Revoking {
            self.phase = Phase::ReadyToJoin;
        }
    }

    /// `poll` applied the assignment and called the assignment listener.
    /// False when the assignment no longer stands: the member lost its
    /// generation while the listener ran.
    pub(crate) fn assigned(&mut self) -> bool {
        if self.phase != Phase::AssignmentReceived {
            return false;
        }
        self.owned = std::mem::take(&mut self.pending_assignment);
        self.owned_generation = self.generation;
        self.owned_member.clone_from(&self.member_id);
        self.phase = Phase::Stable;
        true
    }

    /// `poll` reported the lost partitions.
    pub(crate) fn lost_reported(&mut self) {
        self.owned.clear();
        if self.phase == Phase::Losing {
            self.phase = Phase::ReadyToJoin;
        }
    }

    /// The request the background task should send now, if any.
    pub(crate) fn next_send(&mut self, now_ms: i64) -> Option<Send> {
        if now_ms < self.backoff_until_ms {
            return None;
        }
        match self.phase {
            // A pattern subscription has no protocols until it is resolved.
            Phase::ReadyToJoin if !self.protocols.is_empty() => {
                self.phase = Phase::Joining;
                Some(Send::Join(JoinGroupRequest {
                    group_id: self.cfg.group_id.clone(),
                    session_timeout_ms: self.cfg.session_timeout_ms as i32,
                    rebalance_timeout_ms: self.cfg.rebalance_timeout_ms as i32,
                    member_id: self.member_id.clone(),
                    group_instance_id: self.cfg.instance_id.clone(),
                    protocol_type: super::protocol::PROTOCOL_TYPE.to_string(),
                    protocols: self
                        .protocols
                        .iter()
                        .map(|(name, meta)| JoinGroupRequestProtocol {
                            name: name.clone(),
                            metadata: meta.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    reason: None,
                    ..Default::default()
                }))
            }
            Phase::ReadyToSync => {
                self.phase = Phase::Syncing;
                Some(Send::Sync(SyncGroupRequest {
                    group_id: self.cfg.group_id.clone(),
                    generation_id: self.generation,
                    member_id: self.member_id.clone(),
                    group_instance_id: self.cfg.instance_id.clone(),
                    protocol_type: Some(super::protocol::PROTOCOL_TYPE.to_string()),
                    protocol_name: self.protocol.clone(),
                    assignments: std::mem::take(&mut self.sync_assignments)
                        .into_iter()
                        .map(|(m, a)| SyncGroupRequestAssignment { member_id: m, assignment: a, ..Default::default() })
                        .collect(),
                    ..Default::default()
                }))
            }
            Phase::Syncing | Phase::AssignmentReceived | Phase::Stable if self.heartbeat_due(now_ms) => {
                self.heartbeat_in_flight = true;
                Some(Send::Heartbeat(HeartbeatRequest {
                    group_id: self.cfg.group_id.clone(),
                    generation_id: self.generation,
                    member_id: self.member_id.clone(),
                    group_instance_id: self.cfg.instance_id.clone(),
                    ..Default::default()
                }))
            }
            _ => None,
        }
    }

    fn heartbeat_due(&self, now_ms: i64) -> bool {
        self.in_generation() && !self.heartbeat_in_flight && now_ms >= self.next_heartbeat_ms
    }

    /// When the engine should look again: the earliest timer after
    /// `now_ms` (one already past is due now, not a time to wait for).
    pub(crate) fn next_wakeup_ms(&self, now_ms: i64) -> Option<i64> {
        let mut t = None;
        if self.in_generation()
            && matches!(self.phase, Phase::Syncing | Phase::AssignmentReceived | Phase::Stable)
            && !self.heartbeat_in_flight
        {
            t = Some(self.next_heartbeat_ms);
        }
        if self.in_generation() && self.phase == Phase::Stable {
            // `check_poll_interval` acts once the interval is exceeded.
            let poll_deadline = self.last_poll_ms + self.cfg.rebalance_timeout_ms + 1;
            t = Some(t.map_or(poll_deadline, |x: i64| x.min(poll_deadline)));
        }
        if self.backoff_until_ms > now_ms {
            t = Some(t.map_or(self.backoff_until_ms, |x: i64| x.min(self.backoff_until_ms)));
        }
        t
    }

    /// Checks `max.poll.interval.ms`: returns the LeaveGroup to send when
    /// `poll` is overdue (none for a static member, which only stops
    /// heartbeating… Kafka lets its session expire).
    pub(crate) fn check_poll_interval(&mut self, now_ms: i64) -> Option<Send> {
        if !self.in_generation()
            || self.phase != Phase::Stable
            || now_ms - self.last_poll_ms <= self.cfg.rebalance_timeout_ms
        {
            return None;
        }
        self.left_for_poll_timeout = true;
        let leave = self.leave_request();
        self.reset_generation(true);
        self.phase = Phase::Unjoined;
        leave
    }

    /// The LeaveGroup for a clean exit (None for static members, which do
    /// not leave: their session expires or they come back).
    pub(crate) fn leave_request(&self) -> Option<Send> {
        if self.cfg.instance_id.is_some() || self.member_id.is_empty() {
            return None;
        }
        Some(Send::Leave(LeaveGroupRequest {
            group_id: self.cfg.group_id.clone(),
            member_id: self.member_id.clone(),
            members: vec![MemberIdentity {
                member_id: self.member_id.clone(),
                group_instance_id: None,
                reason: None,
                ..Default::default()
            }],
            ..Default::default()
        }))
    }

    /// Fits a LeaveGroup to the version it goes out at: a single
    /// `member_id` up to v2, the `members` list from v3 (KIP-345); the
    /// encoder refuses a field the version lacks.
    pub(crate) fn leave_for_version(mut req: LeaveGroupRequest, version: i16) -> LeaveGroupRequest {
        if version >= 3 {
            req.member_id.clear();
        } else {
            req.members.clear();
        }
        req
    }

    /// Leaving on close or unsubscribe.
    pub(crate) fn leave(&mut self) -> Option<Send> {
        let req = self.leave_request();
        self.reset_generation(true);
        self.owned.clear();
        self.phase = Phase::Unjoined;
        req
    }

    fn reset_generation(&mut self, forget_member_id: bool) {
        self.generation = -1;
        self.protocol = None;
        self.heartbeat_in_flight = false;
        if forget_member_id {
            self.member_id.clear();
        }
    }

    fn back_off(&mut self, now_ms: i64) {
        self.backoff_until_ms = now_ms + self.cfg.retry_backoff_ms;
    }

    /// Partitions are lost: `poll` reports them, then the member rejoins.
    fn lose(&mut self, forget_member_id: bool) {
        self.reset_generation(forget_member_id);
        self.pending_assignment.clear();
        self.phase = if self.owned.is_empty() { Phase::ReadyToJoin } else { Phase::Losing };
    }

    fn fail(&mut self, why: String) {
        self.fatal = Some(why);
        self.phase = Phase::Failed;
    }

    /// The JoinGroup answer (or a transport error: `None`, retried).
    pub(crate) fn on_join(&mut self, resp: Option<JoinGroupResponse>, now_ms: i64) {
        if self.phase != Phase::Joining {
            return;
        }
        let Some(r) = resp else {
            self.phase = Phase::ReadyToJoin;
            self.back_off(now_ms);
            return;
        };
        match code(r.error_code) {
            ErrorCode::NONE => {
                self.member_id = r.member_id;
                self.generation = r.generation_id;
                self.protocol = r.protocol_name;
                self.leader = r.leader.clone();
                self.next_heartbeat_ms = now_ms + self.cfg.heartbeat_interval_ms;
                if r.leader == self.member_id && !r.skip_assignment {
                    self.to_assign = Some((self.protocol.clone().unwrap_or_default(), r.members));
                    self.phase = Phase::Leading;
                } else {
                    self.sync_assignments.clear();
                    self.phase = Phase::ReadyToSync;
                }
            }
            ErrorCode::MEMBER_ID_REQUIRED => {
                self.member_id = r.member_id;
                self.phase = Phase::ReadyToJoin;
            }
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                self.phase = Phase::ReadyToJoin;
            }
            ErrorCode::FENCED_INSTANCE_ID => {
                self.fail("another consumer with the same group.instance.id joined (FENCED_INSTANCE_ID)".into())
            }
            c if c == ErrorCode::INCONSISTENT_GROUP_PROTOCOL
                || c == ErrorCode::INVALID_SESSION_TIMEOUT
                || c == ErrorCode::INVALID_GROUP_ID
                || c == ErrorCode::GROUP_AUTHORIZATION_FAILED
                || c == ErrorCode::GROUP_MAX_SIZE_REACHED =>
            {
                self.fail(format!("JoinGroup failed: {c}"));
            }
            _ => {
                // COORDINATOR_LOAD_IN_PROGRESS, REBALANCE_IN_PROGRESS, …: again.
                self.phase = Phase::ReadyToJoin;
                self.back_off(now_ms);
            }
        }
    }

    /// The leader computed the assignment.
    pub(crate) fn on_assignment_computed(&mut self, assignments: Vec<(String, Bytes)>) {
        if self.phase == Phase::Leading {
            self.to_assign = None;
            self.sync_assignments = assignments;
            self.phase = Phase::ReadyToSync;
        }
    }

    /// The leader could not compute an assignment (metadata unavailable):
    /// it rejoins after a backoff.
    pub(crate) fn on_assignment_failed(&mut self, now_ms: i64) {
        if self.phase == Phase::Leading {
            self.to_assign = None;
            self.phase = Phase::ReadyToJoin;
            self.back_off(now_ms);
        }
    }

    /// The SyncGroup answer; `assignment` is the decoded partition list.
    pub(crate) fn on_sync(&mut self, resp: Option<(SyncGroupResponse, Vec<TopicPartition>)>, now_ms: i64) {
        if self.phase != Phase::Syncing {
            return;
        }
        let Some((r, assignment)) = resp else {
            self.phase = Phase::ReadyToJoin;
            self.back_off(now_ms);
            return;
        };
        match code(r.error_code) {
            ErrorCode::NONE => {
                self.pending_assignment = assignment;
                self.pending_assignment_bytes = r.assignment;
                self.phase = Phase::AssignmentReceived;
            }
            ErrorCode::UNKNOWN_MEMBER_ID => self.lose(true),
            ErrorCode::ILLEGAL_GENERATION => self.lose(false),
            ErrorCode::FENCED_INSTANCE_ID => {
                self.fail("another consumer with the same group.instance.id joined (FENCED_INSTANCE_ID)".into())
            }
            _ => {
                // REBALANCE_IN_PROGRESS, coordinator errors: join again.
                self.phase = Phase::ReadyToJoin;
                self.back_off(now_ms);
            }
        }
    }

    /// A heartbeat answer (or a transport error: `None`).
    pub(crate) fn on_heartbeat(&mut self, resp: Option<i16>, now_ms: i64) {
        self.heartbeat_in_flight = false;
        self.next_heartbeat_ms = now_ms + self.cfg.heartbeat_interval_ms;
        let Some(c) = resp else {
            self.next_heartbeat_ms = now_ms + self.cfg.retry_backoff_ms;
            return;
        };
        self.on_group_error(code(c));
    }

    /// Applies an error a heartbeat or a commit returned.
    pub(crate) fn on_group_error(&mut self, c: ErrorCode) {
        match c {
            ErrorCode::NONE => {}
            ErrorCode::REBALANCE_IN_PROGRESS => self.request_rejoin("the group is rebalancing"),
            ErrorCode::UNKNOWN_MEMBER_ID if self.in_generation() => self.lose(true),
            ErrorCode::ILLEGAL_GENERATION if self.in_generation() => self.lose(false),
            ErrorCode::FENCED_INSTANCE_ID => {
                self.fail("another consumer with the same group.instance.id joined (FENCED_INSTANCE_ID)".into())
            }
            _ => {}
        }
    }

    /// The coordinator moved or is unreachable: requests in flight are void.
    pub(crate) fn on_coordinator_lost(&mut self, now_ms: i64) {
        self.heartbeat_in_flight = false;
        match self.phase {
            Phase::Joining | Phase::Syncing => {
                self.phase = Phase::ReadyToJoin;
                self.back_off(now_ms);
            }
            _ => {}
        }
    }

    /// Whether `poll` has a step waiting.
    pub(crate) fn has_step(&self) -> bool {
        self.fatal.is_some() || matches!(self.phase, Phase::Losing | Phase::AssignmentReceived | Phase::Revoking)
    }

    /// The members the leader must assign, once.
    pub(crate) fn take_to_assign(&mut self) -> Option<(String, Vec<JoinGroupResponseMember>)> {
        if self.phase == Phase::Leading { self.to_assign.take() } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::HeartbeatResponse;

    fn cfg(instance: Option<&str>) -> MembershipConfig {
        MembershipConfig {
            group_id: "g".into(),
            instance_id: instance.map(str::to_string),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            heartbeat_interval_ms: 1_000,
            retry_backoff_ms: 100,
        }
    }

    fn member(instance: Option<&str>) -> Membership {
        let mut m = Membership::new(cfg(instance));
        m.set_protocols(vec![("range".into(), Bytes::new())]);
        m
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn join_ok(generation: i32, leader: bool) -> JoinGroupResponse {
        JoinGroupResponse {
            generation_id: generation,
            protocol_name: Some("range".into()),
            leader: if leader { "me".into() } else { "other".into() },
            member_id: "me".into(),
            members: if leader {
                vec![JoinGroupResponseMember { member_id: "me".into(), ..Default::default() }]
            } else {
                vec![]
            },
            ..Default::default()
        }
    }

    /// Drives a member from Unjoined to Stable with `parts` assigned.
    fn join(m: &mut Membership, now: i64, generation: i32, leader: bool, parts: Vec<TopicPartition>) {
        assert!(matches!(m.next_send(now), Some(Send::Join(_))));
        m.on_join(Some(join_ok(generation, leader)), now);
        if leader {
            assert!(m.take_to_assign().is_some());
            m.on_assignment_computed(vec![("me".into(), Bytes::new())]);
        }
        match m.next_send(now) {
            Some(Send::Sync(s)) => assert_eq!(s.assignments.len(), usize::from(leader)),
            other => panic!("{other:?}"),
        }
        m.on_sync(Some((SyncGroupResponse::default(), parts.clone())), now);
        assert_eq!(m.poll(now), Some(Step::Assign(parts)));
        m.assigned();
        assert_eq!(m.phase, Phase::Stable);
    }

    #[test]
    fn join_sync_and_member_id_required() {
        let mut m = member(None);
        assert_eq!(m.poll(0), None);
        let Some(Send::Join(j)) = m.next_send(0) else { panic!() };
        assert_eq!(j.member_id, "");
        m.on_join(
            Some(JoinGroupResponse {
                error_code: ErrorCode::MEMBER_ID_REQUIRED.0,
                member_id: "me".into(),
                ..Default::default()
            }),
            0,
        );
        m.on_join(None, 0);
        assert_eq!(m.phase, Phase::ReadyToJoin);
        join(&mut m, 1, 1, true, vec![tp(0), tp(1)]);
        assert_eq!(m.owned, vec![tp(0), tp(1)]);
        assert_eq!(m.owned_generation, 1);
    }

    #[test]
    fn rebalance_revokes_before_rejoining() {
        let mut m = member(None);
        m.poll(0);
        join(&mut m, 0, 1, false, vec![tp(0)]);
        m.on_heartbeat(Some(ErrorCode::REBALANCE_IN_PROGRESS.0), 10);
        assert_eq!(m.next_send(10), None, "no JoinGroup before the revocation");
        assert_eq!(m.poll(11), Some(Step::Revoke(vec![tp(0)])));
        // A cancelled poll asks again: the step is still pending.
        assert_eq!(m.poll(12), Some(Step::Revoke(vec![tp(0)])));
        m.revoked();
        assert!(matches!(m.next_send(12), Some(Send::Join(j)) if j.member_id == "me"));
        m.on_join(Some(join_ok(2, false)), 13);
        m.next_send(13);
        m.on_sync(Some((SyncGroupResponse::default(), vec![tp(1)])), 14);
        assert_eq!(m.poll(15), Some(Step::Assign(vec![tp(1)])));
        m.assigned();
        assert_eq!((m.generation, m.owned.clone()), (2, vec![tp(1)]));
    }

    #[test]
    fn unknown_member_and_illegal_generation_lose_partitions() {
        let mut m = member(None);
        m.poll(0);
        join(&mut m, 0, 3, false, vec![tp(0)]);
        m.on_heartbeat(Some(ErrorCode::ILLEGAL_GENERATION.0), 5);
        assert_eq!(m.poll(6), Some(Step::Lost(vec![tp(0)])));
        m.lost_reported();
        assert_eq!(m.member_id, "me", "ILLEGAL_GENERATION keeps the member id");
        assert!(matches!(m.next_send(6), Some(Send::Join(_))));
        m.on_join(Some(join_ok(4, false)), 7);
        m.next_send(7);
        m.on_sync(Some((SyncGroupResponse::default(), vec![tp(0)])), 8);
        m.poll(8);
        m.assigned();
        m.on_group_error(ErrorCode::UNKNOWN_MEMBER_ID);
        assert_eq!(m.poll(9), Some(Step::Lost(vec![tp(0)])));
        m.lost_reported();
        assert_eq!(m.member_id, "", "UNKNOWN_MEMBER_ID forgets the member id");
    }

    #[test]
    fn fenced_instance_is_fatal() {
        let mut m = member(Some("i-1"));
        m.poll(0);
        join(&mut m, 0, 1, false, vec![tp(0)]);
        m.on_heartbeat(Some(ErrorCode::FENCED_INSTANCE_ID.0), 1);
        assert!(matches!(m.poll(2), Some(Step::Fatal(_))));
        assert_eq!(m.next_send(3), None);
    }

    #[test]
    fn heartbeats_keep_their_own_time() {
        let mut m = member(None);
        m.poll(0);
        join(&mut m, 0, 1, false, vec![tp(0)]);
        assert_eq!(m.next_send(500), None);
        assert!(matches!(m.next_send(1000), Some(Send::Heartbeat(h)) if h.generation_id == 1));
        assert_eq!(m.next_send(1100), None, "one heartbeat in flight");
        m.on_heartbeat(Some(HeartbeatResponse::default().error_code), 1100);
        assert_eq!(m.next_wakeup_ms(0), Some(2100));
    }

    /// A backoff long past must not stand in for the next heartbeat: an
    /// engine waiting for the earliest timer would then never wake for it.
    #[test]
    fn a_past_backoff_does_not_hide_the_next_heartbeat() {
        let mut m = member(None);
        m.poll(0);
        assert!(matches!(m.next_send(0), Some(Send::Join(_))));
        m.on_coordinator_lost(0);
        assert_eq!(m.next_wakeup_ms(0), Some(100), "the join waits out the backoff");
        join(&mut m, 200, 1, false, vec![tp(0)]);
        assert_eq!(m.next_wakeup_ms(200), Some(1200), "the first heartbeat");
    }

    #[test]
    fn an_overdue_poll_leaves_the_group_and_loses_partitions() {
        let mut m = member(None);
        m.poll(0);
        join(&mut m, 0, 1, false, vec![tp(0)]);
        assert_eq!(m.check_poll_interval(30_000), None);
        assert!(matches!(m.check_poll_interval(30_001), Some(Send::Leave(_))));
        assert_eq!(m.poll(40_000), Some(Step::Lost(vec![tp(0)])));
        m.lost_reported();
        assert!(matches!(m.next_send(40_000), Some(Send::Join(j)) if j.member_id.is_empty()));
    }

    #[test]
    fn static_members_do_not_send_leave_group() {
        let mut m = member(Some("i-1"));
        m.poll(0);
        join(&mut m, 0, 1, false, vec![tp(0)]);
        assert_eq!(m.leave(), None);
        let mut d = member(None);
        d.poll(0);
        join(&mut d, 0, 1, false, vec![tp(0)]);
        assert!(matches!(d.leave(), Some(Send::Leave(_))));
    }

    #[test]
    fn leave_group_fits_its_version() {
        let mut m = member(None);
        m.poll(0);
        join(&mut m, 0, 1, false, vec![tp(0)]);
        let Some(Send::Leave(req)) = m.leave() else { panic!() };
        let v2 = Membership::leave_for_version(req.clone(), 2);
        assert_eq!((v2.member_id.as_str(), v2.members.len()), ("me", 0));
        let v5 = Membership::leave_for_version(req, 5);
        assert_eq!((v5.member_id.as_str(), v5.members[0].member_id.as_str()), ("", "me"));
    }

    #[test]
    fn no_join_before_the_subscription_is_known() {
        let mut m = Membership::new(cfg(None));
        m.poll(0);
        assert_eq!(m.next_send(0), None, "a pattern not resolved yet has no protocols");
        m.set_protocols(vec![("range".into(), Bytes::new())]);
        assert!(matches!(m.next_send(0), Some(Send::Join(_))));
    }
}
