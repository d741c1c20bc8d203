//! One broker's log directory: its partitions and the checkpoints they
//! share.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use kafka_protocol::Uuid;

use super::checkpoint::{TopicPartition, write_high_watermarks, write_log_start_offsets};
use super::files::{LOG_START_OFFSET_CHECKPOINT, REPLICATION_OFFSET_CHECKPOINT, parse_partition_dir_name};
use super::partition_dir::{PartitionDir, sync_dir};
use super::recovery::recover;
use super::{StorageError, StorageOp};
use crate::log::{Log, LogConfig};

/// A partition's log as [`LogDir::recover`] found it.
#[derive(Debug)]
pub struct RecoveredLog {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// Its topic id from `partition.metadata`.
    pub topic_id: Option<Uuid>,
    /// The log, recording ops for the log directory.
    pub log: Log,
    /// Bytes cut from a torn or corrupt tail.
    pub truncated_bytes: u64,
    /// Segments deleted by recovery.
    pub deleted_segments: Vec<i64>,
}

/// A log directory (Kafka's `log.dirs` entry) holding partition
/// directories, each kept in step with its log by replaying ops, and the
/// two checkpoint files shared by all of them.
#[derive(Debug)]
pub struct LogDir {
    path: PathBuf,
    partitions: BTreeMap<TopicPartition, PartitionDir>,
}

impl LogDir {
    /// Opens the log directory at `path`, creating it if needed, with no
    /// partitions: existing ones are brought in by [`Self::recover`].
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        fs::create_dir_all(path).map_err(StorageError::io("create", path))?;
        Ok(LogDir { path: path.to_path_buf(), partitions: BTreeMap::new() })
    }

    /// Opens the log directory at `path` and recovers every partition
    /// directory in it (see [`recover`]); entries that are not named
    /// `<topic>-<partition>` are left alone. `config_for` gives each
    /// partition's configs. The high watermarks are in
    /// [`super::read_high_watermarks`].
    pub fn recover(
        path: &Path,
        mut config_for: impl FnMut(&TopicPartition) -> LogConfig,
        now_ms: i64,
    ) -> Result<(Self, Vec<RecoveredLog>), StorageError> {
        let mut log_dir = Self::open(path)?;
        let mut logs = Vec::new();
        for entry in fs::read_dir(path).map_err(StorageError::io("list", path))? {
            let entry = entry.map_err(StorageError::io("list", path))?;
            let is_dir = entry.file_type().map_err(StorageError::io("stat", entry.path()))?.is_dir();
            let name = entry.file_name().into_string().unwrap_or_default();
            let Some((topic, partition)) = parse_partition_dir_name(&name).filter(|_| is_dir) else {
                continue;
            };
            let topic_partition = TopicPartition::new(topic, partition);
            let recovered = recover(&entry.path(), config_for(&topic_partition), now_ms)?;
            logs.push(RecoveredLog {
                topic_partition: topic_partition.clone(),
                topic_id: recovered.dir.topic_id(),
                log: recovered.log,
                truncated_bytes: recovered.truncated_bytes,
                deleted_segments: recovered.deleted_segments,
            });
            log_dir.partitions.insert(topic_partition, recovered.dir);
        }
        logs.sort_by(|a, b| a.topic_partition.cmp(&b.topic_partition));
        Ok((log_dir, logs))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The partition directories, in topic-partition order.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionDir> + '_ {
        self.partitions.values()
    }

    /// One partition's directory.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionDir> {
        self.partitions.get(&TopicPartition::new(topic, partition))
    }

    /// Replays a partition's ops, creating its directory (with
    /// `partition.metadata` for `topic_id`) the first time.
    pub fn apply(
        &mut self,
        topic: &str,
        partition: i32,
        topic_id: Option<Uuid>,
        ops: &[StorageOp],
    ) -> Result<(), StorageError> {
        let key = TopicPartition::new(topic, partition);
        let dir = match self.partitions.entry(key) {
            std::collections::btree_map::Entry::Occupied(dir) => dir.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(PartitionDir::create(&self.path, topic, partition, topic_id)?)
            }
        };
        dir.apply_all(ops)
    }

    /// Deletes a partition's directory; false when there was none.
    pub fn delete_partition(&mut self, topic: &str, partition: i32) -> Result<bool, StorageError> {
        match self.partitions.remove(&TopicPartition::new(topic, partition)) {
            Some(dir) => dir.delete().map(|()| true),
            None => Ok(false),
        }
    }

    /// Rewrites `log-start-offset-checkpoint` from the partitions' log start
    /// offsets (those above their first segment, as Kafka lists them) and
    /// `replication-offset-checkpoint` from `high_watermarks`.
    pub fn write_checkpoints(&self, high_watermarks: &BTreeMap<TopicPartition, i64>) -> Result<(), StorageError> {
        let log_starts: BTreeMap<TopicPartition, i64> = self
            .partitions
            .iter()
            .filter_map(|(tp, dir)| dir.log_start_offset_to_checkpoint().map(|start| (tp.clone(), start)))
            .collect();
        write_log_start_offsets(&self.path, &log_starts)?;
        write_high_watermarks(&self.path, high_watermarks)
    }

    /// Makes everything written so far durable.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        for dir in self.partitions.values_mut() {
            dir.flush()?;
        }
        for name in [LOG_START_OFFSET_CHECKPOINT, REPLICATION_OFFSET_CHECKPOINT] {
            let path = self.path.join(name);
            if let Ok(file) = fs::File::open(&path) {
                file.sync_all().map_err(StorageError::io("fsync", &path))?;
            }
        }
        sync_dir(&self.path)
    }
}
