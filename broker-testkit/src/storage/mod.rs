//! The partition log mirrored on disk, in Kafka's layout.
//!
//! ```text
//! <log dir>/
//!   log-start-offset-checkpoint      0 / count / "topic partition offset" lines
//!   replication-offset-checkpoint    the same format, with high watermarks
//!   <topic>-<partition>/
//!     00000000000000000000.log       batches exactly as on the wire
//!     00000000000000000000.index     8-byte entries: relative offset, position
//!     00000000000000000000.timeindex 12-byte entries: timestamp, relative offset
//!     00000000000000000000.txnindex  34-byte aborted transactions (once the segment has one)
//!     00000000000000000042.snapshot  producer state at offset 42 (on roll and clean shutdown)
//!     leader-epoch-checkpoint        0 / count / "epoch start_offset" lines
//!     partition.metadata             "version: 0\ntopic_id: <base64 id>"
//! ```
//!
//! A [`crate::log::Log`] created with op recording reports every change as a
//! [`StorageOp`]; a [`PartitionDir`] replays them with plain appends and
//! truncations, so the files always equal what Kafka would hold after the
//! same appends. Nothing is fsynced until [`PartitionDir::flush`]; small
//! files are replaced by writing a temporary file and renaming it over.
//! Index files are written entry by entry, never preallocated (Kafka
//! preallocates the active segment's indexes and trims them on roll).
//!
//! [`recover`] rebuilds a log from a partition directory after a clean or
//! unclean stop: it validates every batch, cuts a torn tail, rebuilds both
//! indexes from the data and restores the epoch cache and log start offset.
//! A [`LogDir`] groups one broker's partition directories with the two
//! checkpoints they share, and recovers them all at start-up.
//!
//! Where it departs from Kafka: deleted segments and partitions are removed
//! at once rather than renamed to `.deleted`/`-delete` and removed after
//! `file.delete.delay.ms`;
//! and recovery always rebuilds every segment, where Kafka trusts the
//! segments below its recovery point after a clean shutdown.
#![warn(missing_docs)]

mod checkpoint;
mod files;
mod log_dir;
mod partition_dir;
mod recovery;
#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use crate::log::StorageOp;
pub use checkpoint::{
    TopicPartition, parse_leader_epoch_checkpoint, parse_offset_checkpoint, parse_partition_metadata,
    read_high_watermarks, read_leader_epoch_checkpoint, read_log_start_offsets, read_offset_checkpoint,
    render_leader_epoch_checkpoint, render_offset_checkpoint, render_partition_metadata, write_high_watermarks,
    write_leader_epoch_checkpoint, write_log_start_offsets, write_offset_checkpoint,
};
pub use files::{
    INDEX_SUFFIX, LEADER_EPOCH_CHECKPOINT, LOG_START_OFFSET_CHECKPOINT, LOG_SUFFIX, PARTITION_METADATA,
    REPLICATION_OFFSET_CHECKPOINT, SNAPSHOT_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, parse_partition_dir_name,
    partition_dir_name, segment_file_name,
};
pub use log_dir::{LogDir, RecoveredLog};
pub use partition_dir::PartitionDir;
pub use recovery::{Recovered, recover};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A filesystem call failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("read", "append to", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A checkpoint or metadata file that does not parse.
    #[error("malformed {path}, line {line}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line at fault.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A directory whose name is not `<topic>-<partition>`.
    #[error("{0} is not named <topic>-<partition>")]
    NotAPartitionDir(PathBuf),
    /// Creating a partition directory that already holds segments; it
    /// must be recovered instead.
    #[error("{0} already holds log segments")]
    AlreadyExists(PathBuf),
    /// A file's size disagrees with what the log says it holds: the files
    /// were changed behind the log's back, or an earlier op failed.
    #[error("{path} is {actual} bytes, the log expected {expected}")]
    OutOfStep {
        /// The file.
        path: PathBuf,
        /// The size the op assumed.
        expected: u64,
        /// The size on disk.
        actual: u64,
    },
}

impl StorageError {
    fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.into();
        move |source| StorageError::Io { action, path, source }
    }
}
