//! Persistence hooks: the events a shell writes to disk, the snapshot a
//! coordinator is rebuilt from, and a binary encoding of both.
//!
//! The coordinator records a [`GroupEvent`] wherever Kafka appends a record
//! to `__consumer_offsets`: an offset commit or deletion, a group's metadata
//! (when a group is created, when a generation ends up Empty, when the
//! leader's assignment is stored, when a static member is replaced without a
//! rebalance) and a group's deletion. A [`GroupSnapshot`] is what those
//! records add up to, so a restart recovers what Kafka would: a group with
//! members comes back Stable in its last stored generation, and a rebalance
//! under way at the time is forgotten.
//!
//! # Encoding
//!
//! Both are encoded in a small self-describing binary format (all integers
//! big-endian):
//!
//! ```text
//! snapshot = "KTGROUPS" version:u16 count:u32 record{count} crc:u32
//! event    = version:u16 record crc:u32
//! record   = tag:u8 length:u32 payload[length]
//! ```
//!
//! The CRC-32 (IEEE) covers every byte before it. A record's length lets a
//! reader skip record kinds it does not know and ignore fields appended to
//! the end of a payload, so later versions can add to the format without
//! breaking older readers. Decoding never panics and never allocates more
//! than its input justifies; garbage is an error.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::model::{Ctx, Group, GroupState, Member, MemberProtocol};
use super::offsets::CommittedOffset;
use super::{GroupConfig, GroupCoordinator};

/// A change to the durable state of the groups, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// A group's metadata as it now stands (a full record, not a delta).
    GroupMetadataChanged(GroupRecord),
    /// An offset was committed.
    OffsetCommitted {
        /// The group.
        group_id: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset and what goes with it.
        offset: CommittedOffset,
    },
    /// An offset was deleted (OffsetDelete).
    OffsetDeleted {
        /// The group.
        group_id: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// A group was deleted, with all its offsets (DeleteGroups).
    GroupDeleted {
        /// The group.
        group_id: String,
    },
}

/// A group's stored metadata (Kafka's `GroupMetadataValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Group id.
    pub group_id: String,
    /// Protocol type, e.g. `"consumer"`; `None` for a group only used to
    /// store offsets.
    pub protocol_type: Option<String>,
    /// Generation.
    pub generation: i32,
    /// The chosen protocol, e.g. `"range"`.
    pub protocol: Option<String>,
    /// The leader's member id.
    pub leader: Option<String>,
    /// Members, in join order.
    pub members: Vec<MemberRecord>,
}

/// A member's stored metadata (Kafka's `GroupMetadataValue.MemberMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// Member id.
    pub member_id: String,
    /// Static membership instance id.
    pub group_instance_id: Option<String>,
    /// Client id of the member's first JoinGroup.
    pub client_id: String,
    /// Client host of the member's first JoinGroup.
    pub client_host: String,
    /// Rebalance timeout, in milliseconds.
    pub rebalance_timeout_ms: i32,
    /// Session timeout, in milliseconds.
    pub session_timeout_ms: i32,
    /// The member's metadata for the chosen protocol. As in Kafka, the
    /// metadata of the other protocols it offered is not stored.
    pub subscription: Bytes,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// Every group's stored metadata and every committed offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSnapshot {
    /// Group metadata by group id. A group with offsets but no entry here is
    /// restored as an Empty group without a protocol type, like a group
    /// created by a commit with generation -1.
    pub groups: BTreeMap<String, GroupRecord>,
    /// Committed offsets by group id, then by (topic, partition).
    pub offsets: BTreeMap<String, BTreeMap<(String, i32), CommittedOffset>>,
}

impl GroupSnapshot {
    /// Applies an event, so that a snapshot plus the events recorded since
    /// gives the current state.
    pub fn apply(&mut self, event: &GroupEvent) {
        match event {
            GroupEvent::GroupMetadataChanged(record) => {
                self.groups.insert(record.group_id.clone(), record.clone());
            }
            GroupEvent::OffsetCommitted { group_id, topic, partition, offset } => {
                self.offsets.entry(group_id.clone()).or_default().insert((topic.clone(), *partition), offset.clone());
            }
            GroupEvent::OffsetDeleted { group_id, topic, partition } => {
                if let Some(offsets) = self.offsets.get_mut(group_id) {
                    offsets.remove(&(topic.clone(), *partition));
                    if offsets.is_empty() {
                        self.offsets.remove(group_id);
                    }
                }
            }
            GroupEvent::GroupDeleted { group_id } => {
                self.groups.remove(group_id);
                self.offsets.remove(group_id);
            }
        }
    }

    /// Encodes the snapshot (see the module documentation for the format).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.raw(SNAPSHOT_MAGIC);
        w.u16(FORMAT_VERSION);
        let count = self.groups.len() + self.offsets.values().map(BTreeMap::len).sum::<usize>();
        w.len(count);
        for record in self.groups.values() {
            w.record(TAG_GROUP_METADATA, |w| write_group_record(w, record));
        }
        for (group_id, offsets) in &self.offsets {
            for ((topic, partition), offset) in offsets {
                w.record(TAG_OFFSET_COMMITTED, |w| write_offset(w, group_id, topic, *partition, offset));
            }
        }
        w.finish()
    }

    /// Decodes a snapshot made by [`GroupSnapshot::encode`].
    pub fn decode(bytes: &[u8]) -> Result<GroupSnapshot, CodecError> {
        let magic = bytes.get(..SNAPSHOT_MAGIC.len()).ok_or(CodecError::Truncated)?;
        if magic != SNAPSHOT_MAGIC {
            return Err(CodecError::BadMagic);
        }
        let body = checked_body(bytes)?;
        let mut r = Reader::new(body.get(SNAPSHOT_MAGIC.len()..).unwrap_or_default());
        check_version(r.u16()?)?;
        let count = r.u32()?;
        let mut snapshot = GroupSnapshot::default();
        for _ in 0..count {
            // Record kinds a later version added are skipped.
            if let Some(event) = read_record(&mut r)? {
                snapshot.apply(&event);
            }
        }
        match r.remaining() {
            0 => Ok(snapshot),
            n => Err(CodecError::TrailingBytes(n)),
        }
    }
}

impl GroupEvent {
    /// Encodes the event as a self-contained frame (see the module
    /// documentation for the format).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.u16(FORMAT_VERSION);
        match self {
            GroupEvent::GroupMetadataChanged(record) => w.record(TAG_GROUP_METADATA, |w| write_group_record(w, record)),
            GroupEvent::OffsetCommitted { group_id, topic, partition, offset } => {
                w.record(TAG_OFFSET_COMMITTED, |w| write_offset(w, group_id, topic, *partition, offset));
            }
            GroupEvent::OffsetDeleted { group_id, topic, partition } => w.record(TAG_OFFSET_DELETED, |w| {
                w.str(group_id);
                w.str(topic);
                w.i32(*partition);
            }),
            GroupEvent::GroupDeleted { group_id } => w.record(TAG_GROUP_DELETED, |w| w.str(group_id)),
        }
        w.finish()
    }

    /// Decodes a frame made by [`GroupEvent::encode`].
    pub fn decode(bytes: &[u8]) -> Result<GroupEvent, CodecError> {
        let mut r = Reader::new(checked_body(bytes)?);
        check_version(r.u16()?)?;
        let tag = r.peek_u8()?;
        let event = read_record(&mut r)?.ok_or(CodecError::UnknownRecord(tag))?;
        match r.remaining() {
            0 => Ok(event),
            n => Err(CodecError::TrailingBytes(n)),
        }
    }
}

/// Why encoded groups state could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input ends in the middle of a value.
    #[error("truncated input")]
    Truncated,
    /// The input does not start like a group snapshot.
    #[error("not a group snapshot")]
    BadMagic,
    /// The input was written in a format version this code does not read.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u16),
    /// The checksum does not match: the input is damaged.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// The checksum the input carries.
        stored: u32,
        /// The checksum of the input as read.
        computed: u32,
    },
    /// An event frame holds a record kind this code does not know.
    #[error("unknown record kind {0}")]
    UnknownRecord(u8),
    /// A string is not UTF-8.
    #[error("a string is not valid UTF-8")]
    InvalidUtf8,
    /// A field holds a value it cannot have.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes follow the last record.
    #[error("{0} unexpected bytes after the last record")]
    TrailingBytes(usize),
}

impl GroupCoordinator {
    /// The durable state of every group: the metadata last recorded for it
    /// and its committed offsets. Equal to applying every event recorded so
    /// far to an empty snapshot.
    pub fn snapshot(&self) -> GroupSnapshot {
        let mut snapshot = GroupSnapshot::default();
        for group in self.groups.values() {
            if let Some(record) = &group.persisted {
                snapshot.groups.insert(group.id.clone(), record.clone());
            }
            if !group.offsets.is_empty() {
                snapshot.offsets.insert(group.id.clone(), group.offsets.clone());
            }
        }
        snapshot
    }

    /// A coordinator rebuilt from a snapshot, as Kafka loads a coordinator
    /// partition: groups with members are Stable in their stored generation,
    /// each member's session starting at `now_ms`; groups without are Empty.
    /// A group over `group.max.size` starts rebalancing at once.
    pub fn restore(config: GroupConfig, snapshot: &GroupSnapshot, now_ms: i64) -> GroupCoordinator {
        let mut coordinator = GroupCoordinator::new(config);
        for record in snapshot.groups.values() {
            let group = restore_group(record, now_ms);
            coordinator.groups.insert(group.id.clone(), group);
        }
        for (group_id, offsets) in &snapshot.offsets {
            let group = coordinator.groups.entry(group_id.clone()).or_insert_with(|| Group::new(group_id.clone()));
            group.offsets = offsets.clone();
        }
        let GroupCoordinator { config, groups, replies, events, .. } = &mut coordinator;
        let mut cx = Ctx { now: now_ms, config, replies, events };
        for group in groups.values_mut() {
            if group.members.len() > cx.config.max_size {
                // As Kafka does, to give the members a chance to commit
                // before the last to rejoin are turned away.
                group.prepare_rebalance(&mut cx);
            }
        }
        coordinator
    }
}

fn restore_group(record: &GroupRecord, now_ms: i64) -> Group {
    let mut group = Group::new(record.group_id.clone());
    group.protocol_type = record.protocol_type.clone().filter(|t| !t.is_empty());
    group.protocol = record.protocol.clone().filter(|p| !p.is_empty());
    group.generation = record.generation;
    group.members = record
        .members
        .iter()
        .map(|m| Member {
            id: m.member_id.clone(),
            instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            rebalance_timeout_ms: m.rebalance_timeout_ms,
            session_timeout_ms: m.session_timeout_ms,
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocols: group
                .protocol
                .iter()
                .map(|name| MemberProtocol { name: name.clone(), metadata: m.subscription.clone() })
                .collect(),
            assignment: m.assignment.clone(),
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            heartbeat_deadline: Some(now_ms.saturating_add(i64::from(m.session_timeout_ms))),
        })
        .collect();
    group.leader = match &record.leader {
        Some(leader) if group.member(leader).is_some() => Some(leader.clone()),
        _ => group.members.first().map(|m| m.id.clone()),
    };
    group.state = if group.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
    group.subscribed_topics = group.compute_subscribed_topics();
    group.persisted = Some(record.clone());
    group
}

// ---- Encoding -------------------------------------------------------------

const SNAPSHOT_MAGIC: &[u8; 8] = b"KTGROUPS";
const FORMAT_VERSION: u16 = 1;
const TAG_GROUP_METADATA: u8 = 1;
const TAG_OFFSET_COMMITTED: u8 = 2;
const TAG_OFFSET_DELETED: u8 = 3;
const TAG_GROUP_DELETED: u8 = 4;

fn write_group_record(w: &mut Writer, record: &GroupRecord) {
    w.str(&record.group_id);
    w.opt_str(record.protocol_type.as_deref());
    w.i32(record.generation);
    w.opt_str(record.protocol.as_deref());
    w.opt_str(record.leader.as_deref());
    w.len(record.members.len());
    for m in &record.members {
        w.str(&m.member_id);
        w.opt_str(m.group_instance_id.as_deref());
        w.str(&m.client_id);
        w.str(&m.client_host);
        w.i32(m.rebalance_timeout_ms);
        w.i32(m.session_timeout_ms);
        w.bytes(&m.subscription);
        w.bytes(&m.assignment);
    }
}

fn read_group_record(r: &mut Reader<'_>) -> Result<GroupRecord, CodecError> {
    let group_id = r.str()?;
    let protocol_type = r.opt_str()?;
    let generation = r.i32()?;
    let protocol = r.opt_str()?;
    let leader = r.opt_str()?;
    let count = r.u32()?;
    let mut members = Vec::new();
    for _ in 0..count {
        members.push(MemberRecord {
            member_id: r.str()?,
            group_instance_id: r.opt_str()?,
            client_id: r.str()?,
            client_host: r.str()?,
            rebalance_timeout_ms: r.i32()?,
            session_timeout_ms: r.i32()?,
            subscription: r.bytes()?,
            assignment: r.bytes()?,
        });
    }
    Ok(GroupRecord { group_id, protocol_type, generation, protocol, leader, members })
}

fn write_offset(w: &mut Writer, group_id: &str, topic: &str, partition: i32, offset: &CommittedOffset) {
    w.str(group_id);
    w.str(topic);
    w.i32(partition);
    w.i64(offset.offset);
    w.opt_i32(offset.leader_epoch);
    w.str(&offset.metadata);
    w.i64(offset.commit_timestamp_ms);
    w.opt_i64(offset.expire_timestamp_ms);
}

/// Reads one record; `None` for a record kind this version does not know.
fn read_record(r: &mut Reader<'_>) -> Result<Option<GroupEvent>, CodecError> {
    let tag = r.u8()?;
    let length = r.u32()?;
    let payload = r.take(usize::try_from(length).map_err(|_| CodecError::Truncated)?)?;
    // Fields a later version appends to a payload are ignored.
    let mut r = Reader::new(payload);
    let event = match tag {
        TAG_GROUP_METADATA => GroupEvent::GroupMetadataChanged(read_group_record(&mut r)?),
        TAG_OFFSET_COMMITTED => GroupEvent::OffsetCommitted {
            group_id: r.str()?,
            topic: r.str()?,
            partition: r.i32()?,
            offset: CommittedOffset {
                offset: r.i64()?,
                leader_epoch: r.opt_i32()?,
                metadata: r.str()?,
                commit_timestamp_ms: r.i64()?,
                expire_timestamp_ms: r.opt_i64()?,
            },
        },
        TAG_OFFSET_DELETED => GroupEvent::OffsetDeleted { group_id: r.str()?, topic: r.str()?, partition: r.i32()? },
        TAG_GROUP_DELETED => GroupEvent::GroupDeleted { group_id: r.str()? },
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn check_version(version: u16) -> Result<(), CodecError> {
    if version == FORMAT_VERSION { Ok(()) } else { Err(CodecError::UnsupportedVersion(version)) }
}

/// Verifies the trailing checksum and returns what it covers.
fn checked_body(bytes: &[u8]) -> Result<&[u8], CodecError> {
    let split = bytes.len().checked_sub(4).ok_or(CodecError::Truncated)?;
    let (body, stored) = bytes.split_at(split);
    let stored = u32::from_be_bytes(stored.try_into().map_err(|_| CodecError::Truncated)?);
    let computed = crc32(body);
    if stored == computed { Ok(body) } else { Err(CodecError::Checksum { stored, computed }) }
}

/// CRC-32 (IEEE 802.3, as zlib computes it).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.raw(&v.to_be_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.raw(&v.to_be_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.raw(&v.to_be_bytes());
    }

    /// A length or count. Nothing the coordinator holds comes near 4 GiB;
    /// saturating keeps the encoder total, and the decoder would reject it.
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.raw(v);
    }

    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }

    fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
            None => self.u8(0),
        }
    }

    fn opt_i32(&mut self, v: Option<i32>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.i32(v);
            }
            None => self.u8(0),
        }
    }

    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
            None => self.u8(0),
        }
    }

    /// A record: its tag, then its payload with the payload's length.
    fn record(&mut self, tag: u8, payload: impl FnOnce(&mut Writer)) {
        self.u8(tag);
        let at = self.buf.len();
        self.u32(0);
        payload(self);
        let length = u32::try_from(self.buf.len() - at - 4).unwrap_or(u32::MAX);
        if let Some(slot) = self.buf.get_mut(at..at + 4) {
            slot.copy_from_slice(&length.to_be_bytes());
        }
    }

    /// Appends the checksum.
    fn finish(mut self) -> Vec<u8> {
        let crc = crc32(&self.buf);
        self.u32(crc);
        self.buf
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.buf.len() {
            return Err(CodecError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        self.take(N)?.try_into().map_err(|_| CodecError::Truncated)
    }

    fn peek_u8(&self) -> Result<u8, CodecError> {
        self.buf.first().copied().ok_or(CodecError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<Bytes, CodecError> {
        let n = usize::try_from(self.u32()?).map_err(|_| CodecError::Truncated)?;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }

    fn str(&mut self) -> Result<String, CodecError> {
        let n = usize::try_from(self.u32()?).map_err(|_| CodecError::Truncated)?;
        std::str::from_utf8(self.take(n)?).map(str::to_owned).map_err(|_| CodecError::InvalidUtf8)
    }

    fn flag(&mut self) -> Result<bool, CodecError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::Invalid("presence flag")),
        }
    }

    fn opt_str(&mut self) -> Result<Option<String>, CodecError> {
        if self.flag()? { self.str().map(Some) } else { Ok(None) }
    }

    fn opt_i32(&mut self) -> Result<Option<i32>, CodecError> {
        if self.flag()? { self.i32().map(Some) } else { Ok(None) }
    }

    fn opt_i64(&mut self) -> Result<Option<i64>, CodecError> {
        if self.flag()? { self.i64().map(Some) } else { Ok(None) }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// The checksum the encoding uses, for tests that forge input.
    pub fn crc(data: &[u8]) -> u32 {
        super::crc32(data)
    }

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        assert_eq!(crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc(b""), 0);
    }
}
