//! The partition log of one replica, as a state machine without I/O.
//!
//! A [`Log`] holds record batches exactly as they travel on the wire, one
//! [`bytes::Bytes`] each, and never re-encodes them: a leader stamps the base
//! offset and partition leader epoch in place (both outside the CRC) and,
//! for `LogAppendTime` topics, the append time; a follower stores the
//! leader's bytes untouched. Fetches hand out slices of those buffers.
//!
//! The log is split into [`Segment`]s with Kafka's sparse offset and time
//! indexes, rolled and deleted by Kafka's rules, so that offsets, timestamp
//! lookups, retention and the files mirrored to disk behave as Kafka's do.
//! The clock is an argument (`now_ms`) wherever time matters.
//!
//! Every mutation can be reported as a [`StorageOp`]; the
//! [`storage`](crate::storage) module replays them into Kafka's on-disk
//! layout. An in-memory log simply does not record them.
//!
//! Invariants, checked by the tests after every operation:
//! - segments are in base-offset order and there is always an active one;
//! - batches are contiguous: each starts where the previous ended, the
//!   first at its segment's base offset, and the log end offset is where
//!   the last ends (an empty active segment starts at the log end offset);
//! - `first segment base <= log start offset <= log end offset`.
//!
//! Where the log knowingly departs from Kafka:
//! - truncation works on whole batches (an offset inside a batch drops the
//!   batch and ends the log at its base offset, where Kafka would set the
//!   log end offset to the requested offset and leave a gap);
//! - DeleteRecords deletes the segments below the new log start at once,
//!   instead of on the next retention pass;
//! - a follower's batch must start exactly at the log end offset (Kafka
//!   accepts gaps, which only compacted topics produce);
//! - there is no compaction.
//!
//! Each segment keeps its transaction index (`.txnindex`, see
//! [`TxnIndexEntry`]), built from the batches appended, cut with the
//! segment and deleted with it. The log follows what its batches say of
//! each producer ([`ProducerSnapshot`]) and saves it as `<offset>.snapshot`
//! on every roll and on request (clean shutdown).
#![warn(missing_docs)]

mod append;
mod config;
mod control_batch;
mod epoch_cache;
mod error;
mod ops;
mod producer_snapshot;
mod read;
mod retention;
mod segment;
#[cfg(test)]
pub(crate) mod tests;
mod txn_index;

use std::collections::{BTreeMap, VecDeque};

pub use append::AppendInfo;
pub use config::{LogConfig, SEVEN_DAYS_MS};
pub use control_batch::{ControlBatchRecord, end_marker_kind};
pub use epoch_cache::{EpochEntry, LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};
pub use error::LogError;
pub use ops::StorageOp;
pub use producer_snapshot::{ProducerSnapshot, ProducerSnapshotEntry};
pub use read::{ReadResult, TimestampAndOffset};
pub use segment::{OffsetIndexEntry, Segment, StoredBatch, TimeIndexEntry, TimestampOffset};
pub use txn_index::TxnIndexEntry;
pub(crate) use txn_index::rebuild_indexes;

use ops::OpRecorder;
use txn_index::OpenTxns;

/// Decompressed records are bounded by this when a timestamp lookup reads
/// inside a batch; stored batches were validated on the way in, so the
/// bound only guards against a follower being fed a decompression bomb.
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 256 << 20;

/// The log of one partition replica; see the module docs.
#[derive(Debug, Clone)]
pub struct Log {
    config: LogConfig,
    /// Segments before the active one, oldest first.
    sealed: VecDeque<Segment>,
    active: Segment,
    log_start_offset: i64,
    log_end_offset: i64,
    epochs: LeaderEpochCache,
    /// The transactions open in this replica's log, for its transaction
    /// index.
    open_txns: OpenTxns,
    /// What the log's batches say of each producer, as of the log end.
    producers: ProducerSnapshot,
    /// The producer snapshots saved, by offset (their files' names).
    snapshots: BTreeMap<i64, ProducerSnapshot>,
    ops: OpRecorder,
}

impl Log {
    /// An empty log starting at offset 0. With `record_ops` the log keeps
    /// a [`StorageOp`] for every change until [`Self::take_storage_ops`];
    /// without, it is purely in memory.
    pub fn new(config: LogConfig, now_ms: i64, record_ops: bool) -> Self {
        let mut ops = OpRecorder::new(record_ops);
        ops.record(|| StorageOp::SegmentCreated { base_offset: 0 });
        Log {
            config,
            sealed: VecDeque::new(),
            active: Segment::new(0, now_ms),
            log_start_offset: 0,
            log_end_offset: 0,
            epochs: LeaderEpochCache::new(),
            open_txns: OpenTxns::default(),
            producers: ProducerSnapshot::default(),
            snapshots: BTreeMap::new(),
            ops,
        }
    }

    /// A log rebuilt from storage. `segments` must be non-empty, ordered and
    /// contiguous; the caller (recovery) guarantees it. `snapshots` are the
    /// producer snapshots on disk at or below the log end: the newest is
    /// the starting point of the producer state, the batches after it are
    /// replayed.
    pub(crate) fn from_parts(
        config: LogConfig,
        mut segments: VecDeque<Segment>,
        log_start_offset: i64,
        epochs: LeaderEpochCache,
        snapshots: BTreeMap<i64, ProducerSnapshot>,
        record_ops: bool,
        now_ms: i64,
    ) -> Self {
        let active = segments.pop_back().unwrap_or_else(|| Segment::new(log_start_offset, now_ms));
        let log_end_offset = active.next_offset();
        let open_txns = OpenTxns::rebuild(segments.iter().chain(std::iter::once(&active)));
        let mut log = Log {
            config,
            sealed: segments,
            active,
            log_start_offset,
            log_end_offset,
            epochs,
            open_txns,
            producers: ProducerSnapshot::default(),
            snapshots,
            ops: OpRecorder::new(record_ops),
        };
        log.reload_producers();
        log
    }

    /// The configs in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the configs (an AlterConfigs on the topic); they apply from
    /// the next append or retention pass.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// The first offset a consumer may fetch.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.log_end_offset
    }

    /// Bytes held in all segments (what DescribeLogDirs reports).
    pub fn size_bytes(&self) -> u64 {
        self.segments().map(Segment::size).sum()
    }

    /// The segments, oldest first; the last one is active.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &Segment> + '_ {
        self.sealed.iter().chain(std::iter::once(&self.active))
    }

    /// How many segments the log has (at least one).
    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1
    }

    /// The segment appends go to.
    pub fn active_segment(&self) -> &Segment {
        &self.active
    }

    /// The leader-epoch cache.
    pub fn leader_epoch_cache(&self) -> &LeaderEpochCache {
        &self.epochs
    }

    /// The newest leader epoch written to the log.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// The answer to OffsetForLeaderEpoch for `epoch`: see
    /// [`LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.log_end_offset)
    }

    /// Records that leader epoch `epoch` starts at `start_offset`, as a
    /// replica does on becoming leader (Kafka's `maybeAssignEpochStartOffset`
    /// with the log end offset), so that OffsetForLeaderEpoch knows the new
    /// epoch before anything is written in it. Follows
    /// [`LeaderEpochCache::assign`]; an offset past the log end is ignored.
    /// Returns whether the cache changed.
    pub fn assign_epoch(&mut self, epoch: i32, start_offset: i64) -> bool {
        if start_offset > self.log_end_offset || !self.epochs.assign(epoch, start_offset) {
            return false;
        }
        self.record_epoch_checkpoint();
        true
    }

    /// The leader epoch `offset` was written in, if known.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.epochs.epoch_for_offset(offset)
    }

    /// True when the log records [`StorageOp`]s.
    pub fn records_storage_ops(&self) -> bool {
        self.ops.is_enabled()
    }

    /// The ops recorded since the last call, oldest first.
    pub fn take_storage_ops(&mut self) -> Vec<StorageOp> {
        self.ops.take()
    }

    fn segment_at(&self, index: usize) -> Option<&Segment> {
        match index.cmp(&self.sealed.len()) {
            std::cmp::Ordering::Less => self.sealed.get(index),
            std::cmp::Ordering::Equal => Some(&self.active),
            std::cmp::Ordering::Greater => None,
        }
    }

    /// Index (oldest = 0) of the last segment whose base offset is at or
    /// below `offset`; 0 when `offset` precedes them all.
    fn floor_segment_index(&self, offset: i64) -> usize {
        if self.active.base_offset() <= offset {
            return self.sealed.len();
        }
        self.sealed.partition_point(|s| s.base_offset() <= offset).saturating_sub(1)
    }

    /// What the log knows of each producer, as of its end (what a
    /// snapshot taken now would hold).
    pub fn producer_state(&self) -> &ProducerSnapshot {
        &self.producers
    }

    /// The offsets of the producer snapshots saved, oldest first.
    pub fn snapshot_offsets(&self) -> impl Iterator<Item = i64> + '_ {
        self.snapshots.keys().copied()
    }

    /// Saves the producer state as of the log end (Kafka's `takeSnapshot`:
    /// on a roll, and on clean shutdown). A snapshot at that offset already
    /// saved is kept.
    pub fn take_producer_snapshot(&mut self) {
        let offset = self.log_end_offset;
        if self.snapshots.contains_key(&offset) {
            return;
        }
        self.snapshots.insert(offset, self.producers.clone());
        let bytes = bytes::Bytes::from(self.producers.encode());
        self.ops.record(|| StorageOp::ProducerSnapshotWritten { offset, bytes });
    }

    /// Drops the snapshots past the log end (a truncation) and rebuilds the
    /// producer state from the newest one left plus the batches after it
    /// (Kafka's `truncateAndReload`).
    fn reload_producers(&mut self) {
        let end = self.log_end_offset;
        let stale: Vec<i64> = self.snapshots.range(end + 1..).map(|(o, _)| *o).collect();
        for offset in stale {
            self.snapshots.remove(&offset);
            self.ops.record(|| StorageOp::ProducerSnapshotDeleted { offset });
        }
        let (from, mut state) = match self.snapshots.iter().next_back() {
            Some((offset, snapshot)) => (*offset, snapshot.clone()),
            None => (i64::MIN, ProducerSnapshot::default()),
        };
        state.replay(self.sealed.iter().chain(std::iter::once(&self.active)), from);
        self.producers = state;
    }

    /// A segment was deleted: so is the snapshot named like it (Kafka
    /// removes a deleted segment's snapshot with it).
    fn forget_snapshot(&mut self, base_offset: i64) {
        self.snapshots.remove(&base_offset);
    }

    fn record_epoch_checkpoint(&mut self) {
        let entries = self.epochs.entries().to_vec();
        self.ops.record(|| StorageOp::EpochCheckpoint { entries });
    }

    /// Kafka's `maybeIncrementLogStartOffset`: the log start offset only
    /// rises, and the epoch cache forgets what lies before it.
    fn maybe_increment_log_start_offset(&mut self, offset: i64) {
        if offset <= self.log_start_offset {
            return;
        }
        self.log_start_offset = offset;
        self.ops.record(|| StorageOp::LogStartOffset { offset });
        if self.epochs.truncate_from_start(offset) {
            self.record_epoch_checkpoint();
        }
    }

    /// Asserts the invariants in the module docs (tests only).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let segments: Vec<&Segment> = self.segments().collect();
        let mut next = segments[0].base_offset();
        for (i, s) in segments.iter().enumerate() {
            assert_eq!(s.base_offset(), next, "segment {i} does not start where the log left off");
            let mut pos = 0;
            for b in s.batches() {
                assert_eq!(b.base_offset(), next, "batch not contiguous in segment {}", s.base_offset());
                assert_eq!(b.position(), pos);
                pos += b.size();
                next = b.next_offset();
            }
            assert_eq!(s.size(), pos);
            if i + 1 < segments.len() {
                assert!(!s.is_empty(), "empty sealed segment {}", s.base_offset());
            }
        }
        assert_eq!(self.log_end_offset, next);
        assert!(segments[0].base_offset() <= self.log_start_offset, "log start below the first segment");
        assert!(self.log_start_offset <= self.log_end_offset, "log start past the log end");
        let entries = self.epochs.entries();
        for w in entries.windows(2) {
            assert!(w[0].epoch < w[1].epoch && w[0].start_offset < w[1].start_offset, "epoch cache out of order");
        }
        if let Some(last) = entries.last() {
            assert!(last.start_offset <= self.log_end_offset, "epoch cache past the log end");
        }
    }
}
