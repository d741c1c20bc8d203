//! Kafka's text checkpoint files and `partition.metadata`.
//!
//! Checkpoints (Kafka's `CheckpointFile`) are a version line (`0`), a count
//! line, then one entry per line with fields separated by a space, every
//! line ending in `\n`. Readers accept any run of whitespace between fields
//! and, like Kafka, treat an empty file, or one that stops after the
//! version line, as having no entries.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use kafka_protocol::Uuid;

use super::StorageError;
use super::files::{
    LEADER_EPOCH_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT, REPLICATION_OFFSET_CHECKPOINT, read_if_exists,
    write_atomically,
};
use crate::log::EpochEntry;

/// The version every checkpoint file carries.
const CHECKPOINT_VERSION: i32 = 0;

/// A topic partition, the key of the log directory's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

fn render_checkpoint(lines: impl ExactSizeIterator<Item = String>) -> String {
    let mut out = format!("{CHECKPOINT_VERSION}\n{}\n", lines.len());
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Parses a checkpoint, handing each entry's fields to `entry`.
fn parse_checkpoint<T>(
    text: &str,
    path: &Path,
    mut entry: impl FnMut(&[&str]) -> Option<T>,
) -> Result<Vec<T>, StorageError> {
    let malformed = |line: usize, reason: String| StorageError::Malformed { path: path.to_path_buf(), line, reason };
    let mut lines = text.lines();
    let Some(version) = lines.next() else {
        return Ok(Vec::new());
    };
    if version.trim().parse::<i32>().ok() != Some(CHECKPOINT_VERSION) {
        return Err(malformed(1, format!("unsupported version {version:?}, expected {CHECKPOINT_VERSION}")));
    }
    let Some(count) = lines.next() else {
        return Ok(Vec::new());
    };
    let count: usize = count.trim().parse().map_err(|_| malformed(2, format!("bad entry count {count:?}")))?;
    let mut entries = Vec::new();
    for (i, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let parsed = entry(&fields).ok_or_else(|| malformed(i + 3, format!("malformed entry {line:?}")))?;
        entries.push(parsed);
    }
    if entries.len() != count {
        return Err(malformed(2, format!("expected {count} entries, found {}", entries.len())));
    }
    Ok(entries)
}

/// `leader-epoch-checkpoint`'s text for `entries`.
pub fn render_leader_epoch_checkpoint(entries: &[EpochEntry]) -> String {
    render_checkpoint(entries.iter().map(|e| format!("{} {}", e.epoch, e.start_offset)))
}

/// Parses `leader-epoch-checkpoint` text (`path` is for messages).
pub fn parse_leader_epoch_checkpoint(text: &str, path: &Path) -> Result<Vec<EpochEntry>, StorageError> {
    parse_checkpoint(text, path, |fields| match fields {
        [epoch, start_offset] => {
            Some(EpochEntry { epoch: epoch.parse().ok()?, start_offset: start_offset.parse().ok()? })
        }
        _ => None,
    })
}

/// Reads a partition directory's `leader-epoch-checkpoint`; None when
/// there is none.
pub fn read_leader_epoch_checkpoint(partition_dir: &Path) -> Result<Option<Vec<EpochEntry>>, StorageError> {
    let path = partition_dir.join(LEADER_EPOCH_CHECKPOINT);
    read_if_exists(&path)?.map(|text| parse_leader_epoch_checkpoint(&text, &path)).transpose()
}

/// Replaces a partition directory's `leader-epoch-checkpoint`.
pub fn write_leader_epoch_checkpoint(partition_dir: &Path, entries: &[EpochEntry]) -> Result<(), StorageError> {
    write_atomically(&partition_dir.join(LEADER_EPOCH_CHECKPOINT), render_leader_epoch_checkpoint(entries).as_bytes())
}

/// The text of an offset checkpoint (`log-start-offset-checkpoint`,
/// `replication-offset-checkpoint`), in topic-partition order.
pub fn render_offset_checkpoint(offsets: &BTreeMap<TopicPartition, i64>) -> String {
    render_checkpoint(offsets.iter().map(|(tp, offset)| format!("{} {} {offset}", tp.topic, tp.partition)))
}

/// Parses an offset checkpoint's text (`path` is for messages).
pub fn parse_offset_checkpoint(text: &str, path: &Path) -> Result<BTreeMap<TopicPartition, i64>, StorageError> {
    let entries = parse_checkpoint(text, path, |fields| match fields {
        [topic, partition, offset] => {
            Some((TopicPartition::new(*topic, partition.parse().ok()?), offset.parse::<i64>().ok()?))
        }
        _ => None,
    })?;
    Ok(entries.into_iter().collect())
}

/// Reads an offset checkpoint file; a missing file has no entries.
pub fn read_offset_checkpoint(path: &Path) -> Result<BTreeMap<TopicPartition, i64>, StorageError> {
    match read_if_exists(path)? {
        Some(text) => parse_offset_checkpoint(&text, path),
        None => Ok(BTreeMap::new()),
    }
}

/// Replaces an offset checkpoint file.
pub fn write_offset_checkpoint(path: &Path, offsets: &BTreeMap<TopicPartition, i64>) -> Result<(), StorageError> {
    write_atomically(path, render_offset_checkpoint(offsets).as_bytes())
}

/// Writes `<log_dir>/log-start-offset-checkpoint`. Kafka lists only the
/// partitions whose log start offset is above their first segment's base
/// offset; recovery treats a missing entry as "the first segment's base".
pub fn write_log_start_offsets(log_dir: &Path, offsets: &BTreeMap<TopicPartition, i64>) -> Result<(), StorageError> {
    write_offset_checkpoint(&log_dir.join(LOG_START_OFFSET_CHECKPOINT), offsets)
}

/// Reads `<log_dir>/log-start-offset-checkpoint`.
pub fn read_log_start_offsets(log_dir: &Path) -> Result<BTreeMap<TopicPartition, i64>, StorageError> {
    read_offset_checkpoint(&log_dir.join(LOG_START_OFFSET_CHECKPOINT))
}

/// Writes `<log_dir>/replication-offset-checkpoint`: the high watermarks.
pub fn write_high_watermarks(log_dir: &Path, offsets: &BTreeMap<TopicPartition, i64>) -> Result<(), StorageError> {
    write_offset_checkpoint(&log_dir.join(REPLICATION_OFFSET_CHECKPOINT), offsets)
}

/// Reads `<log_dir>/replication-offset-checkpoint`.
pub fn read_high_watermarks(log_dir: &Path) -> Result<BTreeMap<TopicPartition, i64>, StorageError> {
    read_offset_checkpoint(&log_dir.join(REPLICATION_OFFSET_CHECKPOINT))
}

/// `partition.metadata`'s text, byte for byte as Kafka's
/// `PartitionMetadata.encode` (no newline after the id).
pub fn render_partition_metadata(topic_id: Uuid) -> String {
    format!("version: 0\ntopic_id: {topic_id}")
}

/// The topic id in `partition.metadata` text (`path` is for messages).
pub fn parse_partition_metadata(text: &str, path: &Path) -> Result<Uuid, StorageError> {
    let malformed = |line: usize, reason: String| StorageError::Malformed { path: path.to_path_buf(), line, reason };
    let mut lines = text.lines();
    let version = lines.next().unwrap_or_default();
    match version.split_once(':') {
        Some(("version", v)) if v.trim() == "0" => {}
        _ => return Err(malformed(1, format!("expected \"version: 0\", found {version:?}"))),
    }
    let id_line = lines.next().unwrap_or_default();
    match id_line.split_once(':') {
        Some(("topic_id", id)) => {
            id.trim().parse().map_err(|e: kafka_protocol::uuid::ParseUuidError| malformed(2, e.to_string()))
        }
        _ => Err(malformed(2, format!("expected \"topic_id: <id>\", found {id_line:?}"))),
    }
}
