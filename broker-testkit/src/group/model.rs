//! One classic group in memory: its members, state and timers, and the
//! bookkeeping Kafka's `ClassicGroup` does (protocol votes, leader election,
//! static-member replacement, subscribed topics).

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, Bytes};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::Message;
use kafka_protocol::messages::consumer_protocol::ConsumerProtocolSubscription;
use kafka_protocol::messages::join_group::{JoinGroupRequestProtocol, JoinGroupResponse, JoinGroupResponseMember};
use kafka_protocol::messages::sync_group::SyncGroupResponse;

use super::config::GroupConfig;
use super::offsets::CommittedOffset;
use super::persist::{GroupEvent, GroupRecord, MemberRecord};
use super::{Reply, ReplyId};

/// The protocol type of Kafka consumers; the only one whose member metadata
/// the coordinator reads (to learn subscribed topics for OffsetDelete).
pub(crate) const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The state of a classic group, as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold committed offsets.
    Empty,
    /// A rebalance has started: members must rejoin.
    PreparingRebalance,
    /// Every member has rejoined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Members have their assignments.
    Stable,
    /// The group does not exist. Never held by a live group: DescribeGroups
    /// reports it for unknown group ids, as Kafka does.
    Dead,
}

impl GroupState {
    /// Kafka's name for the state, as ListGroups and DescribeGroups report it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Compares with Kafka's name for the state, e.g. `state == "Stable"`.
impl PartialEq<&str> for GroupState {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

/// Compares with Kafka's name for the state.
impl PartialEq<str> for GroupState {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One protocol a member supports: a name (an assignor, for consumers) and
/// the member's metadata for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProtocol {
    /// Protocol name, e.g. `"range"`.
    pub name: String,
    /// The member's metadata for this protocol, e.g. an encoded
    /// `ConsumerProtocolSubscription`.
    pub metadata: Bytes,
}

impl MemberProtocol {
    pub(crate) fn from_request(protocols: &[JoinGroupRequestProtocol]) -> Vec<MemberProtocol> {
        protocols.iter().map(|p| MemberProtocol { name: p.name.clone(), metadata: p.metadata.clone() }).collect()
    }
}

/// A request whose reply is held back: the caller's id for it and the API
/// version the reply must be shaped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parked {
    pub reply: ReplyId,
    pub version: i16,
}

/// Where replies and persistence events go while one call is handled, and
/// the time the call acts at (a timer acts at its own deadline, not at the
/// time the caller got round to ticking).
pub(crate) struct Ctx<'a> {
    pub now: i64,
    pub config: &'a GroupConfig,
    pub replies: &'a mut Vec<(ReplyId, Reply)>,
    pub events: &'a mut Vec<GroupEvent>,
}

impl Ctx<'_> {
    pub fn deadline(&self, timeout_ms: i32) -> i64 {
        self.now.saturating_add(i64::from(timeout_ms))
    }

    pub fn reply_join(&mut self, to: Parked, response: JoinGroupResponse) {
        self.replies.push(join_reply(to, response));
    }

    pub fn reply_sync(&mut self, to: Parked, response: SyncGroupResponse) {
        self.replies.push((to.reply, Reply::SyncGroup(response)));
    }
}

/// A JoinGroup reply, shaped for the request's version as Kafka's
/// `JoinGroupResponse` constructor does: the protocol name is only nullable
/// from v7, and from v7 an empty name is sent as null.
pub(crate) fn join_reply(to: Parked, mut response: JoinGroupResponse) -> (ReplyId, Reply) {
    if to.version < 7 && response.protocol_name.is_none() {
        response.protocol_name = Some(String::new());
    } else if to.version >= 7 && response.protocol_name.as_deref() == Some("") {
        response.protocol_name = None;
    }
    (to.reply, Reply::JoinGroup(response))
}

/// A JoinGroup error response carrying only the error and a member id.
pub(crate) fn join_error(error: ErrorCode, member_id: String) -> JoinGroupResponse {
    JoinGroupResponse { error_code: error.0, member_id, ..Default::default() }
}

/// A SyncGroup error response.
pub(crate) fn sync_error(error: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse { error_code: error.0, ..Default::default() }
}

/// A member of a classic group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<MemberProtocol>,
    pub assignment: Bytes,
    pub awaiting_join: Option<Parked>,
    pub awaiting_sync: Option<Parked>,
    /// Joined but not yet part of a completed generation; such a member may
    /// expire while its JoinGroup is parked.
    pub is_new: bool,
    /// When the member's session (or, for a new member, its parked join)
    /// expires; `None` once a member waiting in a rebalance has outlived its
    /// timer, as Kafka then waits for the rebalance to reschedule it.
    pub heartbeat_deadline: Option<i64>,
}

impl Member {
    /// The member's metadata for `protocol`; empty when it does not support
    /// it, which cannot happen for the group's chosen protocol.
    pub fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|name| self.protocols.iter().find(|p| p.name == name))
            .map(|p| p.metadata.clone())
            .unwrap_or_default()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }

    /// The member's most preferred protocol among `candidates`.
    fn vote<'a>(&'a self, candidates: &BTreeSet<&str>) -> Option<&'a str> {
        self.protocols.iter().map(|p| p.name.as_str()).find(|name| candidates.contains(name))
    }

    /// True when a rejoin carries exactly the protocols the member has.
    pub fn matches(&self, protocols: &[JoinGroupRequestProtocol]) -> bool {
        self.protocols.len() == protocols.len()
            && self
                .protocols
                .iter()
                .zip(protocols)
                .all(|(mine, theirs)| mine.name == theirs.name && mine.metadata == theirs.metadata)
    }

    /// Kafka's `hasSatisfiedHeartbeat`: a member parked in a rebalance needs
    /// no heartbeats, except a new one, whose parked join can time out.
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.awaiting_join.is_some() || self.awaiting_sync.is_some())
    }
}

/// The group-wide join timer: either the delay of a rebalance that starts
/// from Empty, or the rebalance timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinTimer {
    InitialDelay { delay_ms: i32, remaining_ms: i32 },
    Rebalance,
}

/// A timer of one group, for the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimerKey {
    Join,
    Sync,
    Heartbeat(String),
    Pending(String),
}

/// A classic group: Kafka's `ClassicGroup` plus the group's offsets.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub previous_state: GroupState,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    /// In join order, which decides ties in the protocol vote and who leads
    /// when the leader leaves (Kafka uses hash order there).
    pub members: Vec<Member>,
    /// Members told MEMBER_ID_REQUIRED, with the time their id lapses.
    pub pending: BTreeMap<String, i64>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pub pending_sync: BTreeSet<String>,
    /// Set when a member joins during the initial delay, which extends it.
    pub new_member_added: bool,
    pub join_timer: Option<(i64, JoinTimer)>,
    /// Deadline for every member to sync, and the generation it applies to.
    pub sync_timer: Option<(i64, i32)>,
    /// Topics the members of the last generation subscribe to, when known.
    pub subscribed_topics: Option<BTreeSet<String>>,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// The metadata as last written to the event log: what a restart would
    /// recover, like the last GroupMetadata record in `__consumer_offsets`.
    pub persisted: Option<GroupRecord>,
}

impl Group {
    pub fn new(id: String) -> Self {
        Group {
            id,
            state: GroupState::Empty,
            previous_state: GroupState::Dead,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            join_timer: None,
            sync_timer: None,
            subscribed_topics: None,
            offsets: BTreeMap::new(),
            persisted: None,
        }
    }

    pub fn member_index(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == member_id)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == member_id)
    }

    pub fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members.iter().find(|m| m.instance_id.as_deref() == Some(instance_id)).map(|m| m.id.as_str())
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    pub fn transition(&mut self, to: GroupState) {
        self.previous_state = self.state;
        self.state = to;
    }

    /// Kafka's `canRebalance`: PreparingRebalance is entered from these.
    pub fn can_rebalance(&self) -> bool {
        matches!(self.state, GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty)
    }

    /// The longest rebalance timeout any member asked for.
    pub fn rebalance_timeout_ms(&self) -> i32 {
        self.members.iter().map(|m| m.rebalance_timeout_ms).max().unwrap_or(0).max(0)
    }

    pub fn has_all_members_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.awaiting_join.is_some())
    }

    pub fn uses_consumer_protocol(&self) -> bool {
        self.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE)
    }

    /// Kafka's `isSubscribedToTopic`: when the subscriptions are unknown, a
    /// consumer group is assumed to use every topic.
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        match &self.subscribed_topics {
            Some(topics) => topics.contains(topic),
            None => self.uses_consumer_protocol(),
        }
    }

    /// Whether a member of `protocol_type` offering `protocols` may join:
    /// anything goes in an empty group; otherwise the type must match and one
    /// protocol must be supported by every member.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[JoinGroupRequestProtocol]) -> bool {
        if self.state == GroupState::Empty {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|p| self.members.iter().all(|m| m.supports(&p.name)))
    }

    /// Kafka's `validateMember`: a static member's instance id must map to
    /// the member id it presents, and the member must exist.
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), ErrorCode> {
        if let Some(instance_id) = instance_id {
            match self.static_member_id(instance_id) {
                None => return Err(ErrorCode::UNKNOWN_MEMBER_ID),
                Some(existing) if existing != member_id => return Err(ErrorCode::FENCED_INSTANCE_ID),
                Some(_) => {}
            }
        }
        if self.member(member_id).is_none() {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        Ok(())
    }

    /// Kafka's protocol vote: among the protocols every member supports, each
    /// member votes for its most preferred; most votes wins, and a tie goes
    /// to the protocol whose first vote came from the earliest member.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: BTreeSet<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| self.members.iter().all(|m| m.supports(name)))
            .collect();
        let mut tally: Vec<(&str, usize)> = Vec::new();
        for vote in self.members.iter().filter_map(|m| m.vote(&candidates)) {
            match tally.iter_mut().find(|(name, _)| *name == vote) {
                Some((_, count)) => *count += 1,
                None => tally.push((vote, 1)),
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in tally {
            if best.is_none_or(|(_, top)| count > top) {
                best = Some((name, count));
            }
        }
        best.map(|(name, _)| name.to_owned())
    }

    /// Kafka's `computeSubscribedTopics`. Consumer metadata is read at
    /// version 0 after its version prefix, as Kafka does: v0 prefixes every
    /// later version, so this needs no knowledge of newer ones. Any member
    /// whose metadata does not parse makes the answer unknown.
    pub fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if !self.uses_consumer_protocol() {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = BTreeSet::new();
        for member in &self.members {
            topics.extend(subscribed_topics(member.metadata(Some(protocol)))?);
        }
        Some(topics)
    }

    /// Adds a member; the first member fixes the protocol type, and a group
    /// without a leader gets this member as leader.
    pub fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending.remove(&member.id);
        self.members.push(member);
    }

    /// Removes a member or a pending member. Kafka leaves the replies of a
    /// removed member to its callers; anything still parked is answered here
    /// with UNKNOWN_MEMBER_ID (what the member would hear if it asked again)
    /// so that no reply is ever lost.
    pub fn remove_member(&mut self, member_id: &str, cx: &mut Ctx<'_>) {
        self.pending.remove(member_id);
        self.pending_sync.remove(member_id);
        let Some(index) = self.member_index(member_id) else { return };
        let member = self.members.remove(index);
        if let Some(to) = member.awaiting_join {
            cx.reply_join(to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, String::new()));
        }
        if let Some(to) = member.awaiting_sync {
            cx.reply_sync(to, sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
        }
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
    }

    /// Kafka's `replaceStaticMember`: the member restarted under a new id.
    /// The old instance's parked requests are fenced; the replacement takes
    /// its place, assignment and leadership.
    pub fn replace_static_member(&mut self, old_id: &str, new_id: String, cx: &mut Ctx<'_>) -> Option<usize> {
        let index = self.member_index(old_id)?;
        let old = self.members.get_mut(index)?;
        if let Some(to) = old.awaiting_join.take() {
            cx.reply_join(to, join_error(ErrorCode::FENCED_INSTANCE_ID, old_id.to_owned()));
        }
        if let Some(to) = old.awaiting_sync.take() {
            cx.reply_sync(to, sync_error(ErrorCode::FENCED_INSTANCE_ID));
        }
        old.id = new_id.clone();
        old.is_new = false;
        if self.is_leader(old_id) {
            self.leader = Some(new_id);
        }
        Some(index)
    }

    /// Kafka's `maybeElectNewJoinedLeader`: a leader that did not rejoin
    /// hands over to the first member that did. False when nobody can lead.
    pub fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader.as_deref() else { return false };
        if self.member(leader).is_some_and(|m| m.awaiting_join.is_some()) {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join.is_some()) {
            Some(joined) => {
                self.leader = Some(joined.id.clone());
                true
            }
            None => false,
        }
    }

    /// Every member as the leader's JoinGroup response lists them.
    pub fn members_for_leader(&self) -> Vec<JoinGroupResponseMember> {
        self.members
            .iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(self.protocol.as_deref()),
                ..Default::default()
            })
            .collect()
    }

    /// A successful JoinGroup response for `member_id` in the current
    /// generation.
    pub fn join_response(&self, member_id: String, members: Vec<JoinGroupResponseMember>) -> JoinGroupResponse {
        JoinGroupResponse {
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id,
            members,
            ..Default::default()
        }
    }

    /// The metadata record Kafka would write now.
    pub fn record(&self) -> GroupRecord {
        let members = self
            .members
            .iter()
            .map(|m| MemberRecord {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                session_timeout_ms: m.session_timeout_ms,
                subscription: m.metadata(self.protocol.as_deref()),
                assignment: m.assignment.clone(),
            })
            .collect();
        GroupRecord {
            group_id: self.id.clone(),
            protocol_type: self.protocol_type.clone(),
            generation: self.generation,
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            members,
        }
    }

    /// The record Kafka writes when a JoinGroup creates the group: the
    /// protocol type of its first member, if it got that far, and nothing
    /// else, so that a restart forgets the members of the unfinished first
    /// rebalance.
    pub fn new_group_record(&self) -> GroupRecord {
        GroupRecord {
            group_id: self.id.clone(),
            protocol_type: self.protocol_type.clone(),
            generation: 0,
            protocol: None,
            leader: None,
            members: Vec::new(),
        }
    }

    /// Records the group's metadata, at the points Kafka writes a
    /// GroupMetadata record.
    pub fn persist(&mut self, cx: &mut Ctx<'_>) {
        self.persist_record(self.record(), cx);
    }

    pub fn persist_record(&mut self, record: GroupRecord, cx: &mut Ctx<'_>) {
        self.persisted = Some(record.clone());
        cx.events.push(GroupEvent::GroupMetadataChanged(record));
    }

    /// The group's earliest timer. Timers due at the same time fire in a
    /// fixed order: join, sync, sessions in join order, pending member ids.
    pub fn next_timer(&self) -> Option<(i64, TimerKey)> {
        let at = self.next_deadline()?;
        if self.join_timer.is_some_and(|(t, _)| t == at) {
            return Some((at, TimerKey::Join));
        }
        if self.sync_timer.is_some_and(|(t, _)| t == at) {
            return Some((at, TimerKey::Sync));
        }
        if let Some(member) = self.members.iter().find(|m| m.heartbeat_deadline == Some(at)) {
            return Some((at, TimerKey::Heartbeat(member.id.clone())));
        }
        self.pending.iter().find(|(_, t)| **t == at).map(|(id, _)| (at, TimerKey::Pending(id.clone())))
    }

    /// The earliest deadline of the group's timers, without naming it.
    pub fn next_deadline(&self) -> Option<i64> {
        let join = self.join_timer.map(|(at, _)| at);
        let sync = self.sync_timer.map(|(at, _)| at);
        let heartbeats = self.members.iter().filter_map(|m| m.heartbeat_deadline);
        join.into_iter().chain(sync).chain(heartbeats).chain(self.pending.values().copied()).min()
    }
}

/// The topics a consumer subscribes to, read from its JoinGroup metadata: a
/// version prefix (any value), then the version-0 layout, trailing bytes
/// ignored. `None` when it does not parse.
pub(crate) fn subscribed_topics(mut metadata: Bytes) -> Option<Vec<String>> {
    if metadata.remaining() < 2 {
        return None;
    }
    metadata.advance(2);
    ConsumerProtocolSubscription::decode(&mut metadata, 0).ok().map(|s| s.topics)
}
