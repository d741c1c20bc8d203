//! Replaying a log's ops into a partition directory.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use kafka_protocol::Uuid;

use super::StorageError;
use super::checkpoint::{parse_partition_metadata, render_leader_epoch_checkpoint, render_partition_metadata};
use super::files::{
    INDEX_SUFFIX, LEADER_EPOCH_CHECKPOINT, LOG_SUFFIX, PARTITION_METADATA, SNAPSHOT_SUFFIX, TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX, parse_partition_dir_name, parse_segment_file_name, partition_dir_name, read_if_exists,
    remove_if_exists, segment_path, write_atomically,
};
use crate::log::{OffsetIndexEntry, StorageOp, TimeIndexEntry, TxnIndexEntry};

/// One of a segment's files, open for appending, with the size the log
/// believes it has.
#[derive(Debug)]
struct AppendFile {
    file: File,
    path: PathBuf,
    len: u64,
}

impl AppendFile {
    /// Opens `path` for appending, creating it empty when `create` (an
    /// existing file is emptied: the log says the segment is new).
    fn open(path: PathBuf, create: bool) -> Result<Self, StorageError> {
        let file = OpenOptions::new()
            .append(true)
            .create(create)
            .open(&path)
            .map_err(StorageError::io(if create { "create" } else { "open" }, &path))?;
        if create {
            file.set_len(0).map_err(StorageError::io("empty", &path))?;
        }
        let len = file.metadata().map_err(StorageError::io("stat", &path))?.len();
        Ok(AppendFile { file, path, len })
    }

    /// Appends `bytes`, which the log placed at `expected_len`.
    fn append_at(&mut self, expected_len: u64, bytes: &[u8]) -> Result<(), StorageError> {
        if self.len != expected_len {
            return Err(StorageError::OutOfStep { path: self.path.clone(), expected: expected_len, actual: self.len });
        }
        self.file.write_all(bytes).map_err(StorageError::io("append to", &self.path))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> Result<(), StorageError> {
        if len > self.len {
            return Err(StorageError::OutOfStep { path: self.path.clone(), expected: len, actual: self.len });
        }
        self.file.set_len(len).map_err(StorageError::io("truncate", &self.path))?;
        self.len = len;
        Ok(())
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.file.sync_data().map_err(StorageError::io("fsync", &self.path))
    }
}

/// A segment's files; the transaction index exists once an abort was
/// indexed in the segment.
#[derive(Debug)]
struct SegmentFiles {
    log: AppendFile,
    index: AppendFile,
    time_index: AppendFile,
    txn_index: Option<AppendFile>,
}

impl SegmentFiles {
    fn open(dir: &Path, base_offset: i64, create: bool) -> Result<Self, StorageError> {
        let txn_path = segment_path(dir, base_offset, TXN_INDEX_SUFFIX);
        let txn_index = if create {
            // A new segment has no aborts yet: a file left by an earlier
            // segment of the same name is stale.
            remove_if_exists(&txn_path)?;
            None
        } else if txn_path.exists() {
            Some(AppendFile::open(txn_path, false)?)
        } else {
            None
        };
        Ok(SegmentFiles {
            log: AppendFile::open(segment_path(dir, base_offset, LOG_SUFFIX), create)?,
            index: AppendFile::open(segment_path(dir, base_offset, INDEX_SUFFIX), create)?,
            time_index: AppendFile::open(segment_path(dir, base_offset, TIME_INDEX_SUFFIX), create)?,
            txn_index,
        })
    }

    fn sync(&self) -> Result<(), StorageError> {
        self.log.sync()?;
        self.index.sync()?;
        self.time_index.sync()?;
        self.txn_index.as_ref().map_or(Ok(()), AppendFile::sync)
    }
}

/// A partition's directory, kept equal to a log by replaying its
/// [`StorageOp`]s. Files are opened on first use and kept open.
#[derive(Debug)]
pub struct PartitionDir {
    path: PathBuf,
    topic: String,
    partition: i32,
    topic_id: Option<Uuid>,
    segments: BTreeMap<i64, SegmentFiles>,
    /// Base offsets of the segments on disk.
    bases: BTreeSet<i64>,
    /// Segments written since the last flush.
    unsynced: BTreeSet<i64>,
    /// Files replaced by rename since the last flush.
    unsynced_files: BTreeSet<&'static str>,
    /// Entries were created, renamed or removed since the last flush.
    dir_unsynced: bool,
    log_start_offset: Option<i64>,
}

impl PartitionDir {
    /// Creates `<log_dir>/<topic>-<partition>/` for a new partition, with
    /// `partition.metadata` when the topic has an id. Apply the new log's
    /// ops next: they create its first segment. A directory that already
    /// holds segments is refused; [`super::recover`] opens those.
    pub fn create(log_dir: &Path, topic: &str, partition: i32, topic_id: Option<Uuid>) -> Result<Self, StorageError> {
        let path = log_dir.join(partition_dir_name(topic, partition));
        fs::create_dir_all(&path).map_err(StorageError::io("create", &path))?;
        if !segment_bases(&path)?.is_empty() {
            return Err(StorageError::AlreadyExists(path));
        }
        let topic_id = topic_id.filter(|id| !id.is_zero());
        if let Some(id) = topic_id {
            write_atomically(&path.join(PARTITION_METADATA), render_partition_metadata(id).as_bytes())?;
        }
        let mut dir = Self::new(path, topic.to_string(), partition, topic_id, BTreeSet::new());
        dir.dir_unsynced = true;
        dir.unsynced_files.insert(PARTITION_METADATA);
        Ok(dir)
    }

    /// Opens an existing partition directory, reading its topic id.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let (topic, partition) =
            parse_partition_dir_name(name).ok_or_else(|| StorageError::NotAPartitionDir(path.to_path_buf()))?;
        let metadata = path.join(PARTITION_METADATA);
        let topic_id = read_if_exists(&metadata)?.map(|text| parse_partition_metadata(&text, &metadata)).transpose()?;
        let bases = segment_bases(path)?;
        Ok(Self::new(path.to_path_buf(), topic, partition, topic_id, bases))
    }

    fn new(path: PathBuf, topic: String, partition: i32, topic_id: Option<Uuid>, bases: BTreeSet<i64>) -> Self {
        PartitionDir {
            path,
            topic,
            partition,
            topic_id,
            segments: BTreeMap::new(),
            bases,
            unsynced: BTreeSet::new(),
            unsynced_files: BTreeSet::new(),
            dir_unsynced: false,
            log_start_offset: None,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition index.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The topic id from `partition.metadata`, if any.
    pub fn topic_id(&self) -> Option<Uuid> {
        self.topic_id
    }

    /// The log start offset last reported by a
    /// [`StorageOp::LogStartOffset`], for the log directory's
    /// `log-start-offset-checkpoint`.
    pub fn log_start_offset(&self) -> Option<i64> {
        self.log_start_offset
    }

    /// What the partition contributes to `log-start-offset-checkpoint`:
    /// like Kafka, only a log start offset above the first segment's base
    /// offset is recorded (recovery starts at the first segment otherwise).
    pub fn log_start_offset_to_checkpoint(&self) -> Option<i64> {
        let first = self.bases.first().copied();
        self.log_start_offset.filter(|start| first.is_some_and(|first| *start > first))
    }

    /// Applies `ops` in order; stops at the first failure.
    pub fn apply_all<'a>(&mut self, ops: impl IntoIterator<Item = &'a StorageOp>) -> Result<(), StorageError> {
        ops.into_iter().try_for_each(|op| self.apply(op))
    }

    /// Applies one op.
    pub fn apply(&mut self, op: &StorageOp) -> Result<(), StorageError> {
        match op {
            StorageOp::SegmentCreated { base_offset } => {
                let files = SegmentFiles::open(&self.path, *base_offset, true)?;
                self.segments.insert(*base_offset, files);
                self.bases.insert(*base_offset);
                self.unsynced.insert(*base_offset);
                self.dir_unsynced = true;
            }
            StorageOp::BatchAppended { segment, position, bytes } => {
                self.segment(*segment)?.log.append_at(*position, bytes)?;
            }
            StorageOp::OffsetIndexAppended { segment, entry } => {
                let index = &mut self.segment(*segment)?.index;
                let at = index.len;
                index.append_at(at, &entry.to_bytes())?;
            }
            StorageOp::TimeIndexAppended { segment, entry } => {
                let index = &mut self.segment(*segment)?.time_index;
                let at = index.len;
                index.append_at(at, &entry.to_bytes())?;
            }
            StorageOp::SegmentTruncated {
                segment,
                log_bytes,
                offset_index_entries,
                time_index_entries,
                txn_index_entries,
            } => {
                let files = self.segment(*segment)?;
                files.log.truncate(*log_bytes)?;
                files.index.truncate((*offset_index_entries * OffsetIndexEntry::SIZE) as u64)?;
                files.time_index.truncate((*time_index_entries * TimeIndexEntry::SIZE) as u64)?;
                if let Some(txn_index) = &mut files.txn_index {
                    txn_index.truncate((*txn_index_entries * TxnIndexEntry::SIZE) as u64)?;
                }
            }
            StorageOp::TxnIndexAppended { segment, entry } => {
                let path = segment_path(&self.path, *segment, TXN_INDEX_SUFFIX);
                let files = self.segment(*segment)?;
                let created = files.txn_index.is_none();
                if created {
                    files.txn_index = Some(AppendFile::open(path, true)?);
                }
                if let Some(txn_index) = &mut files.txn_index {
                    let at = txn_index.len;
                    txn_index.append_at(at, &entry.to_bytes())?;
                }
                if created {
                    self.dir_unsynced = true;
                }
            }
            StorageOp::SegmentDeleted { segment } => {
                self.segments.remove(segment);
                self.bases.remove(segment);
                self.unsynced.remove(segment);
                for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, SNAPSHOT_SUFFIX] {
                    remove_if_exists(&segment_path(&self.path, *segment, suffix))?;
                }
                self.dir_unsynced = true;
            }
            StorageOp::EpochCheckpoint { entries } => {
                let text = render_leader_epoch_checkpoint(entries);
                write_atomically(&self.path.join(LEADER_EPOCH_CHECKPOINT), text.as_bytes())?;
                self.unsynced_files.insert(LEADER_EPOCH_CHECKPOINT);
                self.dir_unsynced = true;
            }
            StorageOp::ProducerSnapshotWritten { offset, bytes } => {
                // Kafka writes a snapshot once and fsyncs it; a crash
                // leaves the old file or the new one.
                let path = segment_path(&self.path, *offset, SNAPSHOT_SUFFIX);
                write_atomically(&path, bytes)?;
                File::open(&path).and_then(|f| f.sync_all()).map_err(StorageError::io("fsync", &path))?;
                self.dir_unsynced = true;
            }
            StorageOp::ProducerSnapshotDeleted { offset } => {
                remove_if_exists(&segment_path(&self.path, *offset, SNAPSHOT_SUFFIX))?;
                self.dir_unsynced = true;
            }
            StorageOp::LogStartOffset { offset } => self.log_start_offset = Some(*offset),
        }
        Ok(())
    }

    /// Makes everything applied so far durable: the written segment files,
    /// replaced checkpoint files and the directory entries.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        for base in std::mem::take(&mut self.unsynced) {
            if let Some(files) = self.segments.get(&base) {
                files.sync()?;
            }
        }
        for name in std::mem::take(&mut self.unsynced_files) {
            let path = self.path.join(name);
            match File::open(&path) {
                Ok(file) => file.sync_all().map_err(StorageError::io("fsync", &path))?,
                // Replaced and then removed: nothing to make durable.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io("open", &path)(e)),
            }
        }
        if std::mem::take(&mut self.dir_unsynced) {
            sync_dir(&self.path)?;
        }
        Ok(())
    }

    /// Deletes the partition's directory and everything in it (the topic
    /// was deleted, or the replica moved away). Kafka renames it to
    /// `*-delete` first and removes it later; here it goes at once.
    pub fn delete(self) -> Result<(), StorageError> {
        drop(self.segments);
        fs::remove_dir_all(&self.path).map_err(StorageError::io("delete", &self.path))
    }

    /// Recovery rewrote segment `base` behind our back: open it afresh and
    /// include it in the next flush.
    pub(crate) fn note_rewritten(&mut self, base: i64) -> Result<(), StorageError> {
        self.segments.remove(&base);
        self.segment(base)?;
        self.bases.insert(base);
        self.dir_unsynced = true;
        Ok(())
    }

    /// Recovery deleted segment `base`.
    pub(crate) fn note_deleted(&mut self, base: i64) {
        self.segments.remove(&base);
        self.unsynced.remove(&base);
        self.bases.remove(&base);
        self.dir_unsynced = true;
    }

    /// Recovery replaced the leader-epoch checkpoint.
    pub(crate) fn note_replaced_checkpoint(&mut self) {
        self.unsynced_files.insert(LEADER_EPOCH_CHECKPOINT);
        self.dir_unsynced = true;
    }

    /// Recovery settled the log start offset.
    pub(crate) fn note_log_start_offset(&mut self, offset: i64) {
        self.log_start_offset = Some(offset);
    }

    /// The open files of segment `base`, opening existing ones on first use.
    fn segment(&mut self, base: i64) -> Result<&mut SegmentFiles, StorageError> {
        self.unsynced.insert(base);
        match self.segments.entry(base) {
            Entry::Occupied(files) => Ok(files.into_mut()),
            Entry::Vacant(slot) => Ok(slot.insert(SegmentFiles::open(&self.path, base, false)?)),
        }
    }
}

/// fsyncs a directory, making the creation, renaming and removal of its
/// entries durable.
pub(crate) fn sync_dir(path: &Path) -> Result<(), StorageError> {
    let dir = File::open(path).map_err(StorageError::io("open", path))?;
    dir.sync_all().map_err(StorageError::io("fsync", path))
}

/// The base offsets of the segments in `dir` (those with a `.log` file).
pub(crate) fn segment_bases(dir: &Path) -> Result<BTreeSet<i64>, StorageError> {
    Ok(list_dir(dir)?.iter().filter_map(|name| parse_segment_file_name(name, LOG_SUFFIX)).collect())
}

/// The file names in `dir` that are valid UTF-8 (Kafka's names all are).
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<String>, StorageError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(StorageError::io("list", dir))? {
        let entry = entry.map_err(StorageError::io("list", dir))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}
