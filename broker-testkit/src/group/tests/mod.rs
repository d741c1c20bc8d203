//! Tests of the group coordinator, driven by `now_ms` without sockets.
//!
//! The harness checks two invariants on every call: each reply answers a
//! request that is still outstanding (never twice, never one not sent), and
//! each reply encodes at the version of its request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod admin;
mod chaos;
mod join;
mod offsets;
mod persist;
mod static_members;
mod timers;

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::Message;
use kafka_protocol::messages::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartition as ConsumerTopicPartition,
};
use kafka_protocol::messages::heartbeat::HeartbeatRequest;
use kafka_protocol::messages::join_group::{JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse};
use kafka_protocol::messages::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberIdentity};
use kafka_protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic, OffsetCommitResponse,
};
use kafka_protocol::messages::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment, SyncGroupResponse};

use super::{ClientInfo, GroupConfig, GroupCoordinator, GroupState, GroupView, Reply, ReplyId, TopicLookup};

pub(super) const GROUP: &str = "group-a";
pub(super) const SESSION_MS: i32 = 10_000;
pub(super) const REBALANCE_MS: i32 = 30_000;

/// A coordinator and the client side of the conversation.
pub(super) struct Harness {
    pub gc: GroupCoordinator,
    pub now: i64,
    next_reply: u64,
    /// Requests sent and not answered yet, with their versions.
    outstanding: BTreeMap<ReplyId, i16>,
    /// Replies received and not looked at yet.
    inbox: BTreeMap<ReplyId, Reply>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(GroupConfig::default())
    }

    pub fn with_config(config: GroupConfig) -> Self {
        let mut gc = GroupCoordinator::new(config);
        gc.reseed(7);
        Self::around(gc)
    }

    pub fn around(gc: GroupCoordinator) -> Self {
        Harness { gc, now: 1_000, next_reply: 0, outstanding: BTreeMap::new(), inbox: BTreeMap::new() }
    }

    fn reply_id(&mut self, version: i16) -> ReplyId {
        self.next_reply += 1;
        let id = ReplyId(self.next_reply);
        self.outstanding.insert(id, version);
        id
    }

    pub fn absorb(&mut self, replies: Vec<(ReplyId, Reply)>) {
        for (id, reply) in replies {
            let version = self.outstanding.remove(&id).unwrap_or_else(|| panic!("{id:?} answered twice or never sent"));
            if let Err(e) = reply.to_bytes(version) {
                panic!("reply to {id:?} does not encode at v{version}: {e}\n{reply:?}");
            }
            self.inbox.insert(id, reply);
        }
    }

    /// Moves the clock forward and fires what is due.
    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        let replies = self.gc.tick(self.now);
        self.absorb(replies);
    }

    /// Every reply received and not looked at yet.
    pub fn drain_inbox(&mut self) -> BTreeMap<ReplyId, Reply> {
        std::mem::take(&mut self.inbox)
    }

    pub fn is_outstanding(&self, id: ReplyId) -> bool {
        self.outstanding.contains_key(&id)
    }

    pub fn outstanding(&self) -> Vec<ReplyId> {
        self.outstanding.keys().copied().collect()
    }

    pub fn view(&self) -> GroupView {
        self.gc.describe(GROUP).expect("the group exists")
    }

    pub fn state(&self) -> GroupState {
        self.view().state
    }

    // ---- requests ---------------------------------------------------------

    pub fn send_join(&mut self, version: i16, request: &JoinGroupRequest, client_id: &str) -> ReplyId {
        let id = self.reply_id(version);
        let client = ClientInfo::new(client_id, "/10.0.0.1");
        let replies = self.gc.join_group(self.now, version, request, &client, id);
        self.absorb(replies);
        id
    }

    /// A new dynamic member joins at v9: MEMBER_ID_REQUIRED, then the join
    /// that counts. Returns the member id and that second JoinGroup.
    pub fn join_new(&mut self, client_id: &str, request: JoinGroupRequest) -> (String, ReplyId) {
        assert!(request.member_id.is_empty());
        let first = self.send_join(9, &request, client_id);
        let response = self.join_reply(first).expect("MEMBER_ID_REQUIRED comes at once");
        assert_eq!(ErrorCode(response.error_code), ErrorCode::MEMBER_ID_REQUIRED);
        assert!(response.member_id.starts_with(&format!("{client_id}-")), "{}", response.member_id);
        let member_id = response.member_id;
        let second = self.send_join(9, &JoinGroupRequest { member_id: member_id.clone(), ..request }, client_id);
        (member_id, second)
    }

    pub fn send_sync(&mut self, version: i16, request: &SyncGroupRequest) -> ReplyId {
        let id = self.reply_id(version);
        let replies = self.gc.sync_group(self.now, version, request, id);
        self.absorb(replies);
        id
    }

    pub fn heartbeat(&mut self, member_id: &str, generation: i32) -> ErrorCode {
        self.heartbeat_request(&HeartbeatRequest {
            group_id: GROUP.into(),
            generation_id: generation,
            member_id: member_id.into(),
            ..Default::default()
        })
    }

    pub fn heartbeat_request(&mut self, request: &HeartbeatRequest) -> ErrorCode {
        let id = self.reply_id(4);
        let replies = self.gc.heartbeat(self.now, 4, request, id);
        self.absorb(replies);
        match self.take(id) {
            Some(Reply::Heartbeat(r)) => ErrorCode(r.error_code),
            other => panic!("heartbeat answered with {other:?}"),
        }
    }

    pub fn leave(&mut self, version: i16, request: &LeaveGroupRequest) -> LeaveGroupResponse {
        let id = self.reply_id(version);
        let replies = self.gc.leave_group(self.now, version, request, id);
        self.absorb(replies);
        match self.take(id) {
            Some(Reply::LeaveGroup(r)) => r,
            other => panic!("leave answered with {other:?}"),
        }
    }

    /// A dynamic member leaves at v5.
    pub fn leave_member(&mut self, member_id: &str) -> ErrorCode {
        let request = LeaveGroupRequest {
            group_id: GROUP.into(),
            members: vec![MemberIdentity { member_id: member_id.into(), ..Default::default() }],
            ..Default::default()
        };
        let response = self.leave(5, &request);
        assert_eq!(response.error_code, 0);
        ErrorCode(response.members[0].error_code)
    }

    pub fn commit(
        &mut self,
        version: i16,
        request: &OffsetCommitRequest,
        topics: &dyn TopicLookup,
    ) -> OffsetCommitResponse {
        let id = self.reply_id(version);
        let replies = self.gc.offset_commit(self.now, version, request, topics, id);
        self.absorb(replies);
        match self.take(id) {
            Some(Reply::OffsetCommit(r)) => r,
            other => panic!("commit answered with {other:?}"),
        }
    }

    /// Calls one of the coordinator's request methods that answer at once.
    pub fn call(
        &mut self,
        version: i16,
        f: impl FnOnce(&mut GroupCoordinator, i64, ReplyId) -> Vec<(ReplyId, Reply)>,
    ) -> Reply {
        let id = self.reply_id(version);
        let replies = f(&mut self.gc, self.now, id);
        self.absorb(replies);
        self.take(id).expect("answered at once")
    }

    // ---- replies ----------------------------------------------------------

    pub fn take(&mut self, id: ReplyId) -> Option<Reply> {
        self.inbox.remove(&id)
    }

    pub fn join_reply(&mut self, id: ReplyId) -> Option<JoinGroupResponse> {
        match self.take(id)? {
            Reply::JoinGroup(r) => Some(r),
            other => panic!("expected a JoinGroup reply, got {other:?}"),
        }
    }

    pub fn sync_reply(&mut self, id: ReplyId) -> Option<SyncGroupResponse> {
        match self.take(id)? {
            Reply::SyncGroup(r) => Some(r),
            other => panic!("expected a SyncGroup reply, got {other:?}"),
        }
    }

    pub fn expect_join(&mut self, id: ReplyId) -> JoinGroupResponse {
        self.join_reply(id).unwrap_or_else(|| panic!("JoinGroup {id:?} not answered"))
    }

    pub fn expect_sync(&mut self, id: ReplyId) -> SyncGroupResponse {
        self.sync_reply(id).unwrap_or_else(|| panic!("SyncGroup {id:?} not answered"))
    }

    // ---- whole flows ------------------------------------------------------

    /// One dynamic member forms the group: joins, leads, syncs. Returns its
    /// member id; the group is Stable at generation 1.
    pub fn single_member_group(&mut self, topics: &[&str]) -> String {
        let (member_id, join) = self.join_new("solo", join_req("", &["range"], topics));
        let response = self.expect_join(join);
        assert_eq!(response.generation_id, 1);
        let sync = self.send_sync(5, &sync_req(&member_id, 1, &[(&member_id, assignment(topics[0], &[0]))]));
        assert_eq!(self.expect_sync(sync).error_code, 0);
        member_id
    }

    /// Every member in `members` rejoins; returns the JoinGroup ids.
    pub fn rejoin_all(&mut self, members: &[&str], topics: &[&str]) -> Vec<ReplyId> {
        members.iter().map(|m| self.send_join(9, &join_req(m, &["range"], topics), "rejoiner")).collect()
    }

    /// The given members sync for `generation`, the leader first with an
    /// assignment of partition i to member i. Returns their assignments.
    pub fn sync_all(&mut self, leader: &str, members: &[&str], generation: i32) -> Vec<Bytes> {
        let plan: Vec<(&str, Bytes)> =
            members.iter().enumerate().map(|(i, m)| (*m, assignment("t", &[i as i32]))).collect();
        let leader_sync = self.send_sync(5, &sync_req(leader, generation, &plan));
        let others: Vec<(String, ReplyId)> = members
            .iter()
            .filter(|m| **m != leader)
            .map(|m| (m.to_string(), self.send_sync(5, &sync_req(m, generation, &[]))))
            .collect();
        let mut got = BTreeMap::new();
        got.insert(leader.to_string(), self.expect_sync(leader_sync));
        for (m, id) in others {
            got.insert(m, self.expect_sync(id));
        }
        members
            .iter()
            .map(|m| {
                let r = &got[*m];
                assert_eq!(r.error_code, 0, "sync of {m}");
                r.assignment.clone()
            })
            .collect()
    }
}

// ---- request builders -----------------------------------------------------

/// A consumer's JoinGroup metadata: version 3 of the subscription.
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    let body =
        ConsumerProtocolSubscription { topics: topics.iter().map(|t| t.to_string()).collect(), ..Default::default() }
            .to_bytes(3)
            .unwrap();
    let mut out = BytesMut::new();
    out.put_i16(3);
    out.put(body);
    out.freeze()
}

/// A consumer's assignment: version 3.
pub(super) fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    let body = ConsumerProtocolAssignment {
        assigned_partitions: vec![ConsumerTopicPartition {
            topic: topic.into(),
            partitions: partitions.to_vec(),
            ..Default::default()
        }],
        ..Default::default()
    }
    .to_bytes(3)
    .unwrap();
    let mut out = BytesMut::new();
    out.put_i16(3);
    out.put(body);
    out.freeze()
}

/// A consumer JoinGroup offering `protocols`, most preferred first, each
/// with a subscription to `topics`.
pub(super) fn join_req(member_id: &str, protocols: &[&str], topics: &[&str]) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: GROUP.into(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|name| JoinGroupRequestProtocol {
                name: name.to_string(),
                metadata: subscription(topics),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A static member's JoinGroup.
pub(super) fn static_join_req(member_id: &str, instance_id: &str, topics: &[&str]) -> JoinGroupRequest {
    JoinGroupRequest { group_instance_id: Some(instance_id.into()), ..join_req(member_id, &["range"], topics) }
}

pub(super) fn sync_req(member_id: &str, generation: i32, assignments: &[(&str, Bytes)]) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: GROUP.into(),
        generation_id: generation,
        member_id: member_id.into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: assignments
            .iter()
            .map(|(m, a)| SyncGroupRequestAssignment {
                member_id: m.to_string(),
                assignment: a.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// An OffsetCommit of `offset` for partitions of topic `t`.
pub(super) fn commit_req(member_id: &str, generation: i32, partitions: &[i32], offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id_or_member_epoch: generation,
        member_id: member_id.into(),
        topics: vec![OffsetCommitRequestTopic {
            name: "t".into(),
            partitions: partitions
                .iter()
                .map(|&p| OffsetCommitRequestPartition {
                    partition_index: p,
                    committed_offset: offset,
                    committed_metadata: Some(format!("m{p}")),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Topics `t` and `u` with 4 partitions each.
pub(super) fn topics() -> BTreeMap<String, i32> {
    BTreeMap::from([("t".to_string(), 4), ("u".to_string(), 4)])
}

pub(super) fn code(error_code: i16) -> ErrorCode {
    ErrorCode(error_code)
}
