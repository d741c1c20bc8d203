//! The classic consumer-group coordinator, as a sans-IO state machine.
//!
//! [`GroupCoordinator`] holds every classic group of the cluster (which
//! broker coordinates which group is decided elsewhere) and answers the group
//! APIs as Apache Kafka 4.0's group coordinator does for classic groups:
//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
//! ListGroups, DescribeGroups, DeleteGroups, OffsetDelete and
//! TxnOffsetCommit (the transaction checks are the caller's). It does no I/O,
//! reads no clock and starts no thread.
//!
//! # Replies
//!
//! Some replies wait: a JoinGroup for the rebalance to complete, a follower's
//! SyncGroup for the leader's. So each request comes with a [`ReplyId`] the
//! caller chooses, and each call returns the replies that are ready now,
//! for this request and for requests parked earlier. Every parked request is
//! answered eventually: when the rebalance it waits for completes or fails,
//! when its member is removed, at the latest when
//! [`GroupCoordinator::unload`] is called. Replies are shaped for the API
//! version of their request and encode at that version.
//!
//! # Time
//!
//! Every call takes the current time, `now_ms`. Before and after handling a
//! request, the coordinator fires every timer due by then, in deadline order,
//! each acting at its own deadline; so a caller that calls
//! [`GroupCoordinator::tick`] late, or not at all between requests, sees
//! what Kafka would have done on time. Deadlines are inclusive: a member
//! whose session ends at `t` is gone for a request at `t`.
//! [`GroupCoordinator::next_deadline`] says when the next timer is due. The
//! timers are Kafka's: member sessions, the rebalance timeout, the deadline
//! for syncing after a rebalance, the initial rebalance delay, the lapse of a
//! member id handed out with MEMBER_ID_REQUIRED, and the timeout of a new
//! member's parked JoinGroup.
//!
//! # Persistence
//!
//! The coordinator records a [`GroupEvent`] wherever Kafka writes to
//! `__consumer_offsets`; [`GroupCoordinator::take_events`] hands them over.
//! [`GroupCoordinator::snapshot`] and [`GroupCoordinator::restore`] save and
//! rebuild the durable state; see [`persist`] for what survives a restart and
//! for the encoding.
//!
//! # Where this differs from Kafka
//!
//! - Members are kept in join order where Kafka uses hash order: the order
//!   of the leader's member list, who leads after the leader leaves, and
//!   which protocol wins a tied vote (the one that got its first vote from
//!   the earliest member) are deterministic here.
//! - Kafka drops the earlier request when a member sends a second JoinGroup
//!   or SyncGroup while one is parked, and never answers the parked
//!   SyncGroup of a member that leaves. Here the superseded request is
//!   answered REBALANCE_IN_PROGRESS and the leaver's SyncGroup
//!   UNKNOWN_MEMBER_ID, so that no reply is ever lost.
//! - When the only members left in a rebalance are static ones that did not
//!   rejoin, Kafka re-arms the rebalance timeout as is; here it waits at
//!   least a millisecond, so a zero timeout cannot spin a tick.
//! - Offsets never expire (`offsets.retention.minutes`), and empty groups
//!   without offsets are not cleaned up: they last until deleted.
//! - Transactional offsets (TxnOffsetCommit) are held in memory until
//!   their transaction ends; a restart forgets the pending ones.
//! - The only group type is classic: there are no KIP-848 consumer groups,
//!   so no conversions between the two.
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod admin;
mod config;
mod model;
mod offsets;
pub mod persist;
mod rebalance;
mod view;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::messages::Message;
use kafka_protocol::messages::delete_groups::DeleteGroupsResponse;
use kafka_protocol::messages::describe_groups::DescribeGroupsResponse;
use kafka_protocol::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use kafka_protocol::messages::join_group::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::messages::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberIdentity, MemberResponse};
use kafka_protocol::messages::list_groups::ListGroupsResponse;
use kafka_protocol::messages::offset_commit::OffsetCommitResponse;
use kafka_protocol::messages::offset_delete::OffsetDeleteResponse;
use kafka_protocol::messages::offset_fetch::OffsetFetchResponse;
use kafka_protocol::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::{EncodeError, ErrorCode};

pub use self::config::GroupConfig;
pub use self::model::{GroupState, MemberProtocol};
pub use self::offsets::{AnyTopic, CommittedOffset, TopicLookup};
pub use self::persist::{CodecError, GroupEvent, GroupRecord, GroupSnapshot, MemberRecord};
pub use self::view::{GroupView, MemberView};

use self::model::{Ctx, Group, Parked, join_error, join_reply, sync_error};
use self::rebalance::JoinArgs;

/// The caller's id for a request, handed back with its reply. Opaque to the
/// coordinator; it is never compared or reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub u64);

/// A response to one of the group APIs.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// To a JoinGroup.
    JoinGroup(JoinGroupResponse),
    /// To a SyncGroup.
    SyncGroup(SyncGroupResponse),
    /// To a Heartbeat.
    Heartbeat(HeartbeatResponse),
    /// To a LeaveGroup.
    LeaveGroup(LeaveGroupResponse),
    /// To an OffsetCommit.
    OffsetCommit(OffsetCommitResponse),
    /// To an OffsetFetch.
    OffsetFetch(OffsetFetchResponse),
    /// To a ListGroups.
    ListGroups(ListGroupsResponse),
    /// To a DescribeGroups.
    DescribeGroups(DescribeGroupsResponse),
    /// To a DeleteGroups.
    DeleteGroups(DeleteGroupsResponse),
    /// To an OffsetDelete.
    OffsetDelete(OffsetDeleteResponse),
}

impl Reply {
    /// Encodes the response body at `version`, the version of its request.
    pub fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        match self {
            Reply::JoinGroup(r) => r.to_bytes(version),
            Reply::SyncGroup(r) => r.to_bytes(version),
            Reply::Heartbeat(r) => r.to_bytes(version),
            Reply::LeaveGroup(r) => r.to_bytes(version),
            Reply::OffsetCommit(r) => r.to_bytes(version),
            Reply::OffsetFetch(r) => r.to_bytes(version),
            Reply::ListGroups(r) => r.to_bytes(version),
            Reply::DescribeGroups(r) => r.to_bytes(version),
            Reply::DeleteGroups(r) => r.to_bytes(version),
            Reply::OffsetDelete(r) => r.to_bytes(version),
        }
    }
}

/// Who sent a JoinGroup, as the member's description reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client id from the request header; also the prefix of the member
    /// ids the coordinator hands out.
    pub client_id: String,
    /// The client's address. Kafka reports Java's `InetAddress.toString()`
    /// of it, e.g. `"/127.0.0.1"`.
    pub client_host: String,
}

impl ClientInfo {
    /// A client id and host.
    pub fn new(client_id: impl Into<String>, client_host: impl Into<String>) -> Self {
        ClientInfo { client_id: client_id.into(), client_host: client_host.into() }
    }
}

/// Every classic group of the cluster and their committed offsets.
#[derive(Debug)]
pub struct GroupCoordinator {
    config: GroupConfig,
    groups: BTreeMap<String, Group>,
    replies: Vec<(ReplyId, Reply)>,
    events: Vec<GroupEvent>,
    rng: fastrand::Rng,
    /// Offsets transactions committed and have not ended yet, by (group,
    /// producer id): visible once the transaction commits.
    pending_txn_offsets: BTreeMap<(String, i64), BTreeMap<(String, i32), CommittedOffset>>,
}

impl GroupCoordinator {
    /// A coordinator without groups.
    pub fn new(config: GroupConfig) -> Self {
        GroupCoordinator {
            config,
            groups: BTreeMap::new(),
            replies: Vec::new(),
            events: Vec::new(),
            rng: fastrand::Rng::new(),
            pending_txn_offsets: BTreeMap::new(),
        }
    }

    /// Seeds the generator of member ids, for reproducible runs.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = fastrand::Rng::with_seed(seed);
    }

    /// The broker settings in force.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Handles a JoinGroup (v2–v9).
    ///
    /// The reply usually waits for the rebalance: it comes back from a later
    /// call (another member's JoinGroup, a LeaveGroup, or a timer).
    pub fn join_group(
        &mut self,
        now_ms: i64,
        version: i16,
        request: &JoinGroupRequest,
        client: &ClientInfo,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let to = Parked { reply, version };
        let session = request.session_timeout_ms;
        let early_error = if request.group_id.is_empty() {
            Some(ErrorCode::INVALID_GROUP_ID)
        } else if session < self.config.min_session_timeout_ms || session > self.config.max_session_timeout_ms {
            Some(ErrorCode::INVALID_SESSION_TIMEOUT)
        } else {
            None
        };
        let fresh_suffix = random_uuid(&mut self.rng);
        let GroupCoordinator { config, groups, replies, events, .. } = self;
        let mut cx = Ctx { now: now_ms, config, replies, events };
        let is_new_group = !groups.contains_key(&request.group_id);
        if let Some(error) = early_error {
            cx.reply_join(to, join_error(error, request.member_id.clone()));
        } else if is_new_group && !request.member_id.is_empty() {
            cx.reply_join(to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, request.member_id.clone()));
        } else {
            let group = groups.entry(request.group_id.clone()).or_insert_with(|| Group::new(request.group_id.clone()));
            group.join(JoinArgs { to, request, client, fresh_suffix: &fresh_suffix }, &mut cx);
            if is_new_group {
                group.persist_record(group.new_group_record(), &mut cx);
            }
        }
        self.fire_due_timers(now_ms);
        self.take_replies()
    }

    /// Handles a SyncGroup (v0–v5). A follower's reply waits for the
    /// leader's SyncGroup while the group is CompletingRebalance.
    pub fn sync_group(
        &mut self,
        now_ms: i64,
        version: i16,
        request: &SyncGroupRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let to = Parked { reply, version };
        if request.group_id.is_empty() {
            self.replies.push((reply, Reply::SyncGroup(sync_error(ErrorCode::INVALID_GROUP_ID))));
        } else {
            let handled = self.with_group(now_ms, &request.group_id, |group, cx| {
                if group.state == GroupState::Empty {
                    cx.reply_sync(to, sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
                } else {
                    group.sync(to, request, cx);
                }
            });
            if handled.is_none() {
                self.replies.push((reply, Reply::SyncGroup(sync_error(ErrorCode::UNKNOWN_MEMBER_ID))));
            }
        }
        self.fire_due_timers(now_ms);
        self.take_replies()
    }

    /// Handles a Heartbeat (v0–v4).
    pub fn heartbeat(
        &mut self,
        now_ms: i64,
        _version: i16,
        request: &HeartbeatRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let error = if request.group_id.is_empty() {
            ErrorCode::INVALID_GROUP_ID
        } else {
            self.with_group(now_ms, &request.group_id, |group, cx| {
                group.heartbeat(&request.member_id, request.group_instance_id.as_deref(), request.generation_id, cx)
            })
            .unwrap_or(ErrorCode::UNKNOWN_MEMBER_ID)
        };
        let response = HeartbeatResponse { error_code: error.0, ..Default::default() };
        self.replies.push((reply, Reply::Heartbeat(response)));
        self.take_replies()
    }

    /// Handles a LeaveGroup: one member up to v2, a batch with a result per
    /// member from v3. Up to v2 the member's error is the top-level error.
    pub fn leave_group(
        &mut self,
        now_ms: i64,
        version: i16,
        request: &LeaveGroupRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let leaving = if version >= 3 {
            request.members.clone()
        } else {
            vec![MemberIdentity { member_id: request.member_id.clone(), ..Default::default() }]
        };
        let response = if request.group_id.is_empty() {
            LeaveGroupResponse { error_code: ErrorCode::INVALID_GROUP_ID.0, ..Default::default() }
        } else {
            let members = self
                .with_group(now_ms, &request.group_id, |group, cx| group.leave(&leaving, cx))
                .unwrap_or_else(|| {
                    leaving
                        .iter()
                        .map(|m| MemberResponse {
                            member_id: m.member_id.clone(),
                            group_instance_id: m.group_instance_id.clone(),
                            error_code: ErrorCode::UNKNOWN_MEMBER_ID.0,
                            ..Default::default()
                        })
                        .collect()
                });
            if version >= 3 {
                LeaveGroupResponse { members, ..Default::default() }
            } else {
                let error_code = members.iter().map(|m| m.error_code).find(|&code| code != 0).unwrap_or(0);
                LeaveGroupResponse { error_code, ..Default::default() }
            }
        };
        self.replies.push((reply, Reply::LeaveGroup(response)));
        self.fire_due_timers(now_ms);
        self.take_replies()
    }

    /// Fires every timer due by `now_ms` and returns the replies that
    /// releases.
    pub fn tick(&mut self, now_ms: i64) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        self.take_replies()
    }

    /// When the next timer is due, if any: call [`GroupCoordinator::tick`]
    /// then (any other call at or after it does the same).
    pub fn next_deadline(&self) -> Option<i64> {
        self.groups.values().filter_map(Group::next_deadline).min()
    }

    /// The events recorded since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<GroupEvent> {
        std::mem::take(&mut self.events)
    }

    /// Gives up every group, answering each parked request NOT_COORDINATOR
    /// as Kafka does when a coordinator resigns: the clients look the
    /// coordinator up again. For a shell that stops coordinating the groups.
    pub fn unload(mut self) -> Vec<(ReplyId, Reply)> {
        for member in self.groups.values_mut().flat_map(|g| g.members.iter_mut()) {
            if let Some(to) = member.awaiting_join.take() {
                self.replies.push(join_reply(to, join_error(ErrorCode::NOT_COORDINATOR, member.id.clone())));
            }
            if let Some(to) = member.awaiting_sync.take() {
                self.replies.push((to.reply, Reply::SyncGroup(sync_error(ErrorCode::NOT_COORDINATOR))));
            }
        }
        self.replies
    }

    /// The group as it stands, or `None` if it does not exist.
    pub fn describe(&self, group_id: &str) -> Option<GroupView> {
        self.groups.get(group_id).map(GroupView::from)
    }

    /// The group's committed offsets by (topic, partition); empty if it has
    /// none or does not exist.
    pub fn committed(&self, group_id: &str) -> BTreeMap<(String, i32), CommittedOffset> {
        self.groups.get(group_id).map(|g| g.offsets.clone()).unwrap_or_default()
    }

    /// True when the group exists and is Stable.
    pub fn is_stable(&self, group_id: &str) -> bool {
        self.groups.get(group_id).is_some_and(|g| g.state == GroupState::Stable)
    }

    /// The ids of every group, in order.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Runs `f` on the group with a context acting at `now_ms`.
    fn with_group<R>(
        &mut self,
        now_ms: i64,
        group_id: &str,
        f: impl FnOnce(&mut Group, &mut Ctx<'_>) -> R,
    ) -> Option<R> {
        let GroupCoordinator { config, groups, replies, events, .. } = self;
        let group = groups.get_mut(group_id)?;
        let mut cx = Ctx { now: now_ms, config, replies, events };
        Some(f(group, &mut cx))
    }

    /// Fires due timers one at a time, earliest first, each at its own
    /// deadline, since one timer's outcome can change or add later ones.
    fn fire_due_timers(&mut self, now_ms: i64) {
        loop {
            let due = self
                .groups
                .values()
                .filter_map(|g| g.next_deadline().map(|at| (at, g)))
                .filter(|(at, _)| *at <= now_ms)
                .min_by_key(|(at, _)| *at)
                .and_then(|(_, g)| g.next_timer().map(|(at, key)| (at, g.id.clone(), key)));
            let Some((at, group_id, key)) = due else { break };
            self.with_group(at, &group_id, |group, cx| group.fire(key, cx));
        }
    }

    fn take_replies(&mut self) -> Vec<(ReplyId, Reply)> {
        std::mem::take(&mut self.replies)
    }
}

/// A random version-4 UUID in its dashed form, as Java's
/// `UUID.randomUUID().toString()` makes the suffix of member ids.
fn random_uuid(rng: &mut fastrand::Rng) -> String {
    let v = rng.u128(..);
    let v = (v & !(0xF << 76)) | (0x4 << 76);
    let v = (v & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        v >> 96,
        (v >> 80) & 0xFFFF,
        (v >> 64) & 0xFFFF,
        (v >> 48) & 0xFFFF,
        v & 0xFFFF_FFFF_FFFF
    )
}
