//! Committed offsets: OffsetCommit, OffsetFetch and OffsetDelete.
//!
//! The partition-existence checks Kafka's request handler makes before it
//! involves the coordinator are made here too, through [`TopicLookup`], so
//! that the shell need not split requests and merge responses.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestTopics, OffsetFetchResponse, OffsetFetchResponseGroup,
    OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::txn_offset_commit::{
    TxnOffsetCommitRequest, TxnOffsetCommitResponse, TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};

use super::model::{Group, GroupState};
use super::persist::GroupEvent;
use super::{GroupCoordinator, Reply, ReplyId};

/// An offset as the coordinator stores it (Kafka's `OffsetAndMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The committed offset: the next record the group will consume.
    pub offset: i64,
    /// The leader epoch of the record before `offset`, if the client sent it
    /// (OffsetCommit v6+).
    pub leader_epoch: Option<i32>,
    /// The client's metadata string; empty when it sent null.
    pub metadata: String,
    /// When the commit was made.
    pub commit_timestamp_ms: i64,
    /// When the offset expires, for commits that set a retention time
    /// (OffsetCommit v2–v4). Stored and reported only: offsets never expire.
    pub expire_timestamp_ms: Option<i64>,
}

/// Which topics and partitions exist. Kafka's broker consults its metadata
/// cache the same way: OffsetCommit answers UNKNOWN_TOPIC_OR_PARTITION for a
/// partition that does not exist, OffsetDelete for a topic that does not.
pub trait TopicLookup {
    /// True when the topic exists.
    fn topic_exists(&self, topic: &str) -> bool;
    /// True when the topic exists and has this partition.
    fn partition_exists(&self, topic: &str, partition: i32) -> bool;
}

/// A [`TopicLookup`] for which every topic exists, with every partition
/// number from 0 up.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyTopic;

impl TopicLookup for AnyTopic {
    fn topic_exists(&self, _topic: &str) -> bool {
        true
    }

    fn partition_exists(&self, _topic: &str, partition: i32) -> bool {
        partition >= 0
    }
}

/// Topic names mapped to their partition counts.
impl TopicLookup for BTreeMap<String, i32> {
    fn topic_exists(&self, topic: &str) -> bool {
        self.contains_key(topic)
    }

    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.get(topic).is_some_and(|count| (0..*count).contains(&partition))
    }
}

/// Topic names mapped to their partition counts.
impl<S: std::hash::BuildHasher> TopicLookup for HashMap<String, i32, S> {
    fn topic_exists(&self, topic: &str) -> bool {
        self.contains_key(topic)
    }

    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.get(topic).is_some_and(|count| (0..*count).contains(&partition))
    }
}

/// Kafka measures metadata with Java's `String.length()`, in UTF-16 units.
fn metadata_too_large(metadata: Option<&str>, max: usize) -> bool {
    metadata.is_some_and(|m| m.len() > max && m.encode_utf16().count() > max)
}

/// One partition of an OffsetCommit or TxnOffsetCommit, as sent.
#[derive(Clone, Copy)]
struct Commit<'a> {
    offset: i64,
    leader_epoch: i32,
    metadata: Option<&'a str>,
}

impl Commit<'_> {
    /// Whether it may be stored: the partition exists, the group accepted
    /// the request (`verdict`), the metadata is not too long.
    fn judge(
        &self,
        topics: &dyn TopicLookup,
        topic: &str,
        partition: i32,
        verdict: Result<(), ErrorCode>,
        max_metadata: usize,
    ) -> Result<(), ErrorCode> {
        if !topics.partition_exists(topic, partition) {
            return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        }
        verdict?;
        if metadata_too_large(self.metadata, max_metadata) {
            return Err(ErrorCode::OFFSET_METADATA_TOO_LARGE);
        }
        Ok(())
    }

    /// What is stored for it.
    fn stored(&self, now_ms: i64, expire_timestamp_ms: Option<i64>) -> CommittedOffset {
        CommittedOffset {
            offset: self.offset,
            leader_epoch: (self.leader_epoch != -1).then_some(self.leader_epoch),
            metadata: self.metadata.unwrap_or_default().to_string(),
            commit_timestamp_ms: now_ms,
            expire_timestamp_ms,
        }
    }
}

impl Group {
    /// Kafka's `validateOffsetCommit` for classic groups.
    fn validate_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ErrorCode> {
        // A member's commit is checked as a transactional one is (which
        // also lets an admin client or an assign() consumer commit with
        // generation -1 while nobody uses the group) ...
        self.validate_txn_offset_commit(member_id, instance_id, generation_id)?;
        // ... but one from outside the group needs it empty, ...
        let anonymous = generation_id < 0 && member_id.is_empty() && instance_id.is_none();
        if anonymous && self.state != GroupState::Empty {
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        // ... and a rebalance refuses it.
        if self.state == GroupState::CompletingRebalance {
            // The member has its new generation but not yet its assignment;
            // it retries once it has synced.
            return Err(ErrorCode::REBALANCE_IN_PROGRESS);
        }
        Ok(())
    }

    /// Kafka's `validateOffsetCommit` for a transactional commit: a commit
    /// without member and generation (TxnOffsetCommit before v3) is taken
    /// whatever the group's state, and a rebalance does not refuse it.
    fn validate_txn_offset_commit(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ErrorCode> {
        if generation_id < 0 && self.state == GroupState::Empty {
            return Ok(());
        }
        if generation_id >= 0 || !member_id.is_empty() || instance_id.is_some() {
            self.validate_member(member_id, instance_id)?;
            if generation_id != self.generation {
                return Err(ErrorCode::ILLEGAL_GENERATION);
            }
        }
        Ok(())
    }
}

impl GroupCoordinator {
    /// Handles an OffsetCommit (v2–v9).
    ///
    /// A commit with generation -1 and no member id creates an Empty group if
    /// the group does not exist. Members may commit in Stable and in
    /// PreparingRebalance (how consumers commit while revoking partitions),
    /// and a member's commit restarts its session, as in Kafka.
    pub fn offset_commit(
        &mut self,
        now_ms: i64,
        version: i16,
        request: &OffsetCommitRequest,
        topics: &dyn TopicLookup,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let known = request
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
            .any(|(t, p)| topics.partition_exists(&t.name, p.partition_index));
        // Kafka's request handler answers a request with no known partition
        // itself, without validating the group or touching its sessions.
        let verdict = if known { self.validate_commit(now_ms, version, request) } else { Ok(()) };

        let max_metadata = self.config.offset_metadata_max_bytes;
        let mut events = Vec::new();
        let mut response_topics = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in &topic.partitions {
                let expire =
                    (request.retention_time_ms != -1).then(|| now_ms.saturating_add(request.retention_time_ms));
                let commit = Commit {
                    offset: partition.committed_offset,
                    leader_epoch: partition.committed_leader_epoch,
                    metadata: partition.committed_metadata.as_deref(),
                };
                let error = match commit.judge(topics, &topic.name, partition.partition_index, verdict, max_metadata) {
                    Err(e) => e,
                    Ok(()) => {
                        events.push(GroupEvent::OffsetCommitted {
                            group_id: request.group_id.clone(),
                            topic: topic.name.clone(),
                            partition: partition.partition_index,
                            offset: commit.stored(now_ms, expire),
                        });
                        ErrorCode::NONE
                    }
                };
                partitions.push(OffsetCommitResponsePartition {
                    partition_index: partition.partition_index,
                    error_code: error.0,
                    ..Default::default()
                });
            }
            response_topics.push(OffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions,
                ..Default::default()
            });
        }

        if let Some(group) = self.groups.get_mut(&request.group_id) {
            for event in &events {
                if let GroupEvent::OffsetCommitted { topic, partition, offset, .. } = event {
                    group.offsets.insert((topic.clone(), *partition), offset.clone());
                }
            }
        }
        self.events.extend(events);
        let response = OffsetCommitResponse { topics: response_topics, ..Default::default() };
        self.replies.push((reply, Reply::OffsetCommit(response)));
        self.fire_due_timers(now_ms);
        self.take_replies()
    }

    /// Finds or creates the group a commit is for and checks the committer.
    fn validate_commit(&mut self, now_ms: i64, version: i16, request: &OffsetCommitRequest) -> Result<(), ErrorCode> {
        let generation_id = request.generation_id_or_member_epoch;
        if !self.groups.contains_key(&request.group_id) {
            if generation_id >= 0 {
                // From v9 a missing group is reported as such; older versions
                // keep the error they always had.
                return Err(if version >= 9 { ErrorCode::GROUP_ID_NOT_FOUND } else { ErrorCode::ILLEGAL_GENERATION });
            }
            self.groups.insert(request.group_id.clone(), Group::new(request.group_id.clone()));
        }
        self.with_group(now_ms, &request.group_id, |group, cx| {
            group.validate_offset_commit(&request.member_id, request.group_instance_id.as_deref(), generation_id)?;
            if matches!(group.state, GroupState::Stable | GroupState::PreparingRebalance)
                && let Some(index) = group.member_index(&request.member_id)
            {
                group.reschedule_heartbeat(index, cx);
            }
            Ok(())
        })
        .unwrap_or(Err(ErrorCode::UNKNOWN_MEMBER_ID))
    }

    /// Handles a TxnOffsetCommit (v0–v5) whose transaction the caller has
    /// verified: the offsets are held pending for the group and producer
    /// until the transaction's marker reaches the group's offsets partition
    /// ([`Self::complete_txn_offsets`]). From v3 the member and generation
    /// are checked as for OffsetCommit (KIP-447); a missing group is
    /// created for a commit without generation, else ILLEGAL_GENERATION.
    pub fn txn_offset_commit(
        &mut self,
        now_ms: i64,
        request: &TxnOffsetCommitRequest,
        topics: &dyn TopicLookup,
    ) -> TxnOffsetCommitResponse {
        self.fire_due_timers(now_ms);
        let verdict = self.validate_txn_commit(request);
        let max_metadata = self.config.offset_metadata_max_bytes;
        let mut response_topics = Vec::with_capacity(request.topics.len());
        let mut held = Vec::new();
        for topic in &request.topics {
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in &topic.partitions {
                let commit = Commit {
                    offset: partition.committed_offset,
                    leader_epoch: partition.committed_leader_epoch,
                    metadata: partition.committed_metadata.as_deref(),
                };
                let error = match commit.judge(topics, &topic.name, partition.partition_index, verdict, max_metadata) {
                    Err(e) => e,
                    Ok(()) => {
                        held.push(((topic.name.clone(), partition.partition_index), commit.stored(now_ms, None)));
                        ErrorCode::NONE
                    }
                };
                partitions.push(TxnOffsetCommitResponsePartition {
                    partition_index: partition.partition_index,
                    error_code: error.0,
                    ..Default::default()
                });
            }
            response_topics.push(TxnOffsetCommitResponseTopic {
                name: topic.name.clone(),
                partitions,
                ..Default::default()
            });
        }
        if !held.is_empty() {
            let pending = self.pending_txn_offsets.entry((request.group_id.clone(), request.producer_id)).or_default();
            pending.extend(held);
        }
        TxnOffsetCommitResponse { topics: response_topics, ..Default::default() }
    }

    fn validate_txn_commit(&mut self, request: &TxnOffsetCommitRequest) -> Result<(), ErrorCode> {
        if !self.groups.contains_key(&request.group_id) {
            if request.generation_id >= 0 {
                return Err(ErrorCode::ILLEGAL_GENERATION);
            }
            self.groups.insert(request.group_id.clone(), Group::new(request.group_id.clone()));
        }
        let group = self.groups.get(&request.group_id).ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        group.validate_txn_offset_commit(
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        )
    }

    /// The transaction of producer `producer_id` ended: its pending offsets
    /// become the groups' committed offsets (`commit`) or are dropped.
    pub fn complete_txn_offsets(&mut self, producer_id: i64, commit: bool, now_ms: i64) {
        let keys: Vec<(String, i64)> =
            self.pending_txn_offsets.keys().filter(|(_, pid)| *pid == producer_id).cloned().collect();
        for key in keys {
            let Some(offsets) = self.pending_txn_offsets.remove(&key) else { continue };
            if !commit {
                continue;
            }
            let group_id = key.0;
            let group = self.groups.entry(group_id.clone()).or_insert_with(|| Group::new(group_id.clone()));
            for ((topic, partition), mut offset) in offsets {
                offset.commit_timestamp_ms = now_ms;
                group.offsets.insert((topic.clone(), partition), offset.clone());
                self.events.push(GroupEvent::OffsetCommitted { group_id: group_id.clone(), topic, partition, offset });
            }
        }
    }

    /// Whether a transaction holds an offset of `group_id` for a partition
    /// pending (what OffsetFetch's `require_stable` waits for).
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        self.pending_txn_offsets
            .iter()
            .any(|((g, _), offsets)| g == group_id && offsets.contains_key(&(topic.to_string(), partition)))
    }

    /// The offsets transactions hold pending for `group_id`:
    /// (topic, partition) → (producer id, offset).
    pub fn pending_txn_offsets(&self, group_id: &str) -> BTreeMap<(String, i32), (i64, i64)> {
        let mut out = BTreeMap::new();
        for ((g, pid), offsets) in &self.pending_txn_offsets {
            if g == group_id {
                for (tp, o) in offsets {
                    out.insert(tp.clone(), (*pid, o.offset));
                }
            }
        }
        out
    }

    /// Handles an OffsetFetch (v1–v7 for one group, v8–v9 for several).
    ///
    /// A partition without an offset, or a group that does not exist, reads
    /// as offset -1, leader epoch -1 and empty metadata, without an error.
    /// With `require_stable` (v7+) a partition whose offset a transaction
    /// holds pending answers UNSTABLE_OFFSET_COMMIT, and the client retries.
    pub fn offset_fetch(
        &mut self,
        now_ms: i64,
        version: i16,
        request: &OffsetFetchRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let response = if version >= 8 {
            let groups = request
                .groups
                .iter()
                .map(|g| OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    topics: self.fetch_offsets(&g.group_id, g.topics.as_deref(), request.require_stable),
                    ..Default::default()
                })
                .collect();
            OffsetFetchResponse { groups, ..Default::default() }
        } else {
            let wanted: Option<Vec<OffsetFetchRequestTopics>> = request.topics.as_ref().map(|topics| {
                topics
                    .iter()
                    .map(|t| OffsetFetchRequestTopics {
                        name: t.name.clone(),
                        partition_indexes: t.partition_indexes.clone(),
                        ..Default::default()
                    })
                    .collect()
            });
            let topics = self
                .fetch_offsets(&request.group_id, wanted.as_deref(), request.require_stable)
                .into_iter()
                .map(|t| OffsetFetchResponseTopic {
                    name: t.name,
                    partitions: t
                        .partitions
                        .into_iter()
                        .map(|p| OffsetFetchResponsePartition {
                            partition_index: p.partition_index,
                            committed_offset: p.committed_offset,
                            committed_leader_epoch: p.committed_leader_epoch,
                            metadata: p.metadata,
                            error_code: p.error_code,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect();
            OffsetFetchResponse { topics, ..Default::default() }
        };
        self.replies.push((reply, Reply::OffsetFetch(response)));
        self.take_replies()
    }

    /// One group's offsets, for the partitions asked for or, when `wanted`
    /// is `None`, every partition it has an offset for.
    fn fetch_offsets(
        &self,
        group_id: &str,
        wanted: Option<&[OffsetFetchRequestTopics]>,
        require_stable: bool,
    ) -> Vec<OffsetFetchResponseTopics> {
        let offsets = self.groups.get(group_id).map(|g| &g.offsets);
        let entry = |topic: &str, partition: i32, offset: Option<&CommittedOffset>| {
            if require_stable && self.has_pending_txn_offset(group_id, topic, partition) {
                return OffsetFetchResponsePartitions {
                    partition_index: partition,
                    committed_offset: -1,
                    committed_leader_epoch: -1,
                    metadata: Some(String::new()),
                    error_code: ErrorCode::UNSTABLE_OFFSET_COMMIT.0,
                    ..Default::default()
                };
            }
            OffsetFetchResponsePartitions {
                partition_index: partition,
                committed_offset: offset.map_or(-1, |o| o.offset),
                committed_leader_epoch: offset.and_then(|o| o.leader_epoch).unwrap_or(-1),
                metadata: Some(offset.map(|o| o.metadata.clone()).unwrap_or_default()),
                ..Default::default()
            }
        };
        match wanted {
            Some(topics) => topics
                .iter()
                .map(|t| OffsetFetchResponseTopics {
                    name: t.name.clone(),
                    partitions: t
                        .partition_indexes
                        .iter()
                        .map(|&p| entry(&t.name, p, offsets.and_then(|o| o.get(&(t.name.clone(), p)))))
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            None => {
                let mut topics: Vec<OffsetFetchResponseTopics> = Vec::new();
                for ((name, partition), offset) in offsets.into_iter().flatten() {
                    if topics.last().is_none_or(|t| t.name != *name) {
                        topics.push(OffsetFetchResponseTopics { name: name.clone(), ..Default::default() });
                    }
                    if let Some(topic) = topics.last_mut() {
                        topic.partitions.push(entry(name, *partition, Some(offset)));
                    }
                }
                topics
            }
        }
    }

    /// Handles an OffsetDelete (v0).
    ///
    /// Allowed for Empty groups, and for consumer groups as long as their
    /// members do not subscribe to the topic (GROUP_SUBSCRIBED_TO_TOPIC for
    /// every partition of such a topic); any other group with members is
    /// NON_EMPTY_GROUP.
    pub fn offset_delete(
        &mut self,
        now_ms: i64,
        _version: i16,
        request: &OffsetDeleteRequest,
        topics: &dyn TopicLookup,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let response = match self.delete_offsets(request, topics) {
            Ok(topics) => OffsetDeleteResponse { topics, ..Default::default() },
            Err(error) => OffsetDeleteResponse { error_code: error.0, ..Default::default() },
        };
        self.replies.push((reply, Reply::OffsetDelete(response)));
        self.take_replies()
    }

    /// Forgets every group's offsets for a deleted topic, as Kafka's
    /// `onPartitionsDeleted` does, so a topic recreated under the same name
    /// starts with no committed positions. An Empty group left with no
    /// offsets is removed too: nothing about it remains to describe.
    pub fn topic_deleted(&mut self, topic: &str) {
        let mut emptied = Vec::new();
        for group in self.groups.values_mut() {
            let keys: Vec<(String, i32)> = group.offsets.keys().filter(|(t, _)| t == topic).cloned().collect();
            if keys.is_empty() {
                continue;
            }
            for key in keys {
                group.offsets.remove(&key);
                let (topic, partition) = key;
                self.events.push(GroupEvent::OffsetDeleted { group_id: group.id.clone(), topic, partition });
            }
            if group.state == GroupState::Empty && group.offsets.is_empty() {
                emptied.push(group.id.clone());
            }
        }
        for group_id in emptied {
            self.groups.remove(&group_id);
            self.events.push(GroupEvent::GroupDeleted { group_id });
        }
    }

    fn delete_offsets(
        &mut self,
        request: &OffsetDeleteRequest,
        lookup: &dyn TopicLookup,
    ) -> Result<Vec<OffsetDeleteResponseTopic>, ErrorCode> {
        if request.group_id.is_empty() {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        let group = self.groups.get_mut(&request.group_id).ok_or(ErrorCode::GROUP_ID_NOT_FOUND)?;
        if group.state != GroupState::Empty && !group.uses_consumer_protocol() {
            return Err(ErrorCode::NON_EMPTY_GROUP);
        }
        let mut response = Vec::with_capacity(request.topics.len());
        for topic in &request.topics {
            let error = if !lookup.topic_exists(&topic.name) {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            } else if group.is_subscribed_to(&topic.name) {
                ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
            } else {
                ErrorCode::NONE
            };
            let mut partitions = Vec::with_capacity(topic.partitions.len());
            for partition in &topic.partitions {
                if error == ErrorCode::NONE {
                    let key = (topic.name.clone(), partition.partition_index);
                    if group.offsets.remove(&key).is_some() {
                        let (topic, partition) = key;
                        self.events.push(GroupEvent::OffsetDeleted { group_id: group.id.clone(), topic, partition });
                    }
                }
                partitions.push(OffsetDeleteResponsePartition {
                    partition_index: partition.partition_index,
                    error_code: error.0,
                    ..Default::default()
                });
            }
            response.push(OffsetDeleteResponseTopic { name: topic.name.clone(), partitions, ..Default::default() });
        }
        Ok(response)
    }
}
