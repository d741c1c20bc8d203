//! File and directory names, and replacing small files safely.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StorageError;

/// Suffix of a segment's data file.
pub const LOG_SUFFIX: &str = ".log";
/// Suffix of a segment's offset index.
pub const INDEX_SUFFIX: &str = ".index";
/// Suffix of a segment's time index.
pub const TIME_INDEX_SUFFIX: &str = ".timeindex";
/// Suffix of a producer-state snapshot, named by the offset it was taken at.
pub const SNAPSHOT_SUFFIX: &str = ".snapshot";
/// Suffix of a segment's transaction index.
pub const TXN_INDEX_SUFFIX: &str = ".txnindex";
/// The partition's leader-epoch cache.
pub const LEADER_EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";
/// The partition's topic id.
pub const PARTITION_METADATA: &str = "partition.metadata";
/// Log start offsets of the log directory's partitions.
pub const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
/// High watermarks of the log directory's partitions.
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";

/// A segment file's name: the base offset in 20 zero-padded digits, then
/// `suffix` (Kafka's `LogFileUtils.filenamePrefixFromOffset`).
pub fn segment_file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// The base offset named by a segment file with `suffix`.
pub(crate) fn parse_segment_file_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The directory name of a partition: `<topic>-<partition>`.
pub fn partition_dir_name(topic: &str, partition: i32) -> String {
    format!("{topic}-{partition}")
}

/// Topic and partition from a directory name; the partition follows the
/// last `-`, since topic names may contain dashes.
pub fn parse_partition_dir_name(name: &str) -> Option<(String, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    let partition: i32 = partition.parse().ok()?;
    (!topic.is_empty() && partition >= 0).then(|| (topic.to_string(), partition))
}

pub(crate) fn segment_path(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(segment_file_name(base_offset, suffix))
}

/// Replaces `path` with `contents` through `<path>.tmp` and a rename, as
/// Kafka does for checkpoints, so a crash leaves the old or the new file
/// and never half of one. The data is not fsynced here.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), StorageError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::File::create(&tmp).map_err(StorageError::io("create", &tmp))?;
    file.write_all(contents).map_err(StorageError::io("write", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(StorageError::io("rename into place", path))
}

/// Reads `path`, or None when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>, StorageError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io("read", path)(e)),
    }
}

/// Removes `path`; a file already gone is fine.
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io("delete", path)(e)),
    }
}
