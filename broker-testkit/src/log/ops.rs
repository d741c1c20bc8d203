//! The mutations a log reports so that an outer shell can mirror them.

use bytes::Bytes;

use super::epoch_cache::EpochEntry;
use super::segment::{OffsetIndexEntry, TimeIndexEntry};
use super::txn_index::TxnIndexEntry;

/// One change to the log's persistent state, in the order it happened.
///
/// Replaying a log's ops against Kafka's on-disk layout (see
/// [`crate::storage::PartitionDir`]) yields the files Kafka would hold for
/// the same appends. Segments are named by their base offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageOp {
    /// A new, empty segment: create its `.log`, `.index` and `.timeindex`.
    SegmentCreated {
        /// The segment's base offset.
        base_offset: i64,
    },
    /// Bytes appended to a segment's `.log`, which was `position` bytes long.
    BatchAppended {
        /// The segment's base offset.
        segment: i64,
        /// The `.log` size before the append.
        position: u64,
        /// One record batch, exactly as stored.
        bytes: Bytes,
    },
    /// An entry appended to a segment's `.index`.
    OffsetIndexAppended {
        /// The segment's base offset.
        segment: i64,
        /// The entry.
        entry: OffsetIndexEntry,
    },
    /// An entry appended to a segment's `.timeindex`.
    TimeIndexAppended {
        /// The segment's base offset.
        segment: i64,
        /// The entry.
        entry: TimeIndexEntry,
    },
    /// A segment cut back: its `.log` to `log_bytes`, its indexes to the
    /// given numbers of entries.
    SegmentTruncated {
        /// The segment's base offset.
        segment: i64,
        /// The new `.log` size.
        log_bytes: u64,
        /// Entries left in `.index`.
        offset_index_entries: usize,
        /// Entries left in `.timeindex`.
        time_index_entries: usize,
        /// Entries left in `.txnindex`.
        txn_index_entries: usize,
    },
    /// An aborted transaction appended to a segment's `.txnindex` (the
    /// file is created with its first entry, as Kafka does).
    TxnIndexAppended {
        /// The segment's base offset.
        segment: i64,
        /// The entry.
        entry: TxnIndexEntry,
    },
    /// A segment removed with its indexes (the transaction index too) and
    /// the producer snapshot named like it.
    SegmentDeleted {
        /// The segment's base offset.
        segment: i64,
    },
    /// A producer snapshot saved as `<offset>.snapshot`.
    ProducerSnapshotWritten {
        /// The offset it was taken at (the file's name).
        offset: i64,
        /// The file's bytes.
        bytes: Bytes,
    },
    /// A producer snapshot removed (a truncation below its offset).
    ProducerSnapshotDeleted {
        /// The offset it was taken at.
        offset: i64,
    },
    /// The leader-epoch cache changed: rewrite `leader-epoch-checkpoint`.
    EpochCheckpoint {
        /// Every entry, oldest first.
        entries: Vec<EpochEntry>,
    },
    /// The log start offset changed. Kafka keeps it in the log directory's
    /// shared `log-start-offset-checkpoint`, written for all partitions at
    /// once, so the partition's own files do not change.
    LogStartOffset {
        /// The new log start offset.
        offset: i64,
    },
}

/// Collects ops when the log is mirrored, and drops them otherwise.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpRecorder {
    ops: Option<Vec<StorageOp>>,
}

impl OpRecorder {
    pub(crate) fn new(enabled: bool) -> Self {
        OpRecorder { ops: enabled.then(Vec::new) }
    }

    /// Records the op built by `op`; building is skipped when not recording.
    pub(crate) fn record(&mut self, op: impl FnOnce() -> StorageOp) {
        if let Some(ops) = &mut self.ops {
            ops.push(op());
        }
    }

    pub(crate) fn take(&mut self) -> Vec<StorageOp> {
        self.ops.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.ops.is_some()
    }
}
