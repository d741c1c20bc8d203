//! One segment of the log: its batches and its two sparse indexes.
//!
//! The indexes follow Kafka's `LogSegment.append` (3.8+) entry for entry, so
//! that the `.index` and `.timeindex` files mirrored to disk are the ones
//! Kafka would write: before a batch is added at position `P`, if more than
//! `index.interval.bytes` were appended since the last entry, the offset
//! index gets `(batch last offset, P)` and the time index gets the largest
//! timestamp so far with the last offset of the batch that first reached it
//! (only when that timestamp beats the previous time entry). The running
//! maximum already includes the batch being added.
//!
//! The log itself does not need the offset index — batches are kept in a
//! vector and found by binary search — but timestamp lookups start where the
//! indexes say, exactly as Kafka's do, since the two can disagree when
//! timestamps go backwards.

use bytes::Bytes;
use kafka_protocol::records::{BatchHeader, RecordBatch};

use super::config::LogConfig;
use super::ops::{OpRecorder, StorageOp};
use super::txn_index::TxnIndexEntry;

/// Kafka's `RecordBatch.NO_TIMESTAMP`.
const NO_TIMESTAMP: i64 = -1;

/// An offset index entry: a batch's last offset relative to the segment's
/// base offset, and the file position where that batch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetIndexEntry {
    /// Last offset of the indexed batch minus the segment's base offset.
    pub relative_offset: i32,
    /// Position of the indexed batch in the segment's `.log`.
    pub position: i32,
}

impl OffsetIndexEntry {
    /// Bytes per entry in a `.index` file.
    pub const SIZE: usize = 8;

    /// The entry as stored in `.index`: both fields big-endian.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        b[4..].copy_from_slice(&self.position.to_be_bytes());
        b
    }

    /// Reads an entry stored by [`Self::to_bytes`].
    pub fn from_bytes(b: [u8; 8]) -> Self {
        OffsetIndexEntry {
            relative_offset: i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            position: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A time index entry: the largest timestamp in the segment up to some batch,
/// and the last offset of the batch that first carried it. A lookup for
/// time `t` starts scanning at the last entry whose timestamp is `<= t`:
/// no batch before the entry's reaches `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeIndexEntry {
    /// The largest timestamp in the segment up to the entry.
    pub timestamp: i64,
    /// Last offset of the batch holding that timestamp, relative to the
    /// segment's base offset.
    pub relative_offset: i32,
}

impl TimeIndexEntry {
    /// Bytes per entry in a `.timeindex` file.
    pub const SIZE: usize = 12;

    /// The entry as stored in `.timeindex`: both fields big-endian.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..8].copy_from_slice(&self.timestamp.to_be_bytes());
        b[8..].copy_from_slice(&self.relative_offset.to_be_bytes());
        b
    }

    /// Reads an entry stored by [`Self::to_bytes`].
    pub fn from_bytes(b: [u8; 12]) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        TimeIndexEntry {
            timestamp: i64::from_be_bytes(ts),
            relative_offset: i32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }
}

/// A timestamp and an absolute offset (Kafka's `TimestampOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimestampOffset {
    /// Milliseconds, or -1 for none.
    pub timestamp: i64,
    /// An absolute offset, or -1 for none.
    pub offset: i64,
}

impl TimestampOffset {
    /// Nothing seen yet.
    pub const UNKNOWN: TimestampOffset = TimestampOffset { timestamp: NO_TIMESTAMP, offset: -1 };
}

/// A record batch as stored: its bytes exactly as appended, its parsed
/// header and where it sits in its segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    batch: RecordBatch,
    position: u64,
}

impl StoredBatch {
    pub(crate) fn new(batch: RecordBatch, position: u64) -> Self {
        StoredBatch { batch, position }
    }

    /// The batch's header fields.
    pub fn header(&self) -> &BatchHeader {
        self.batch.header()
    }

    /// The batch, for reading its records.
    pub fn record_batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// The batch's bytes, exactly as on the wire and on disk.
    pub fn bytes(&self) -> &Bytes {
        self.batch.as_bytes()
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header().base_offset
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.header().last_offset()
    }

    /// The offset after the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The batch's max timestamp (the append time for LogAppendTime).
    pub fn max_timestamp(&self) -> i64 {
        self.header().max_timestamp
    }

    /// The partition leader epoch the batch was written in.
    pub fn leader_epoch(&self) -> i32 {
        self.header().partition_leader_epoch
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// Position of the batch's first byte in its segment's `.log`.
    pub fn position(&self) -> u64 {
        self.position
    }
}

/// A segment: a run of batches from `base_offset` on, with its indexes.
#[derive(Debug, Clone)]
pub struct Segment {
    base_offset: i64,
    batches: Vec<StoredBatch>,
    size: u64,
    offset_index: Vec<OffsetIndexEntry>,
    time_index: Vec<TimeIndexEntry>,
    /// Transactions aborted by a marker in this segment (`.txnindex`).
    txn_index: Vec<TxnIndexEntry>,
    bytes_since_last_index_entry: u64,
    max_timestamp_so_far: TimestampOffset,
    created_ms: i64,
    last_modified_ms: i64,
}

impl Segment {
    pub(crate) fn new(base_offset: i64, now_ms: i64) -> Self {
        Segment {
            base_offset,
            batches: Vec::new(),
            size: 0,
            offset_index: Vec::new(),
            time_index: Vec::new(),
            txn_index: Vec::new(),
            bytes_since_last_index_entry: 0,
            max_timestamp_so_far: TimestampOffset::UNKNOWN,
            created_ms: now_ms,
            last_modified_ms: now_ms,
        }
    }

    /// The segment's base offset, which names its files.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Bytes of batches held (the `.log` file size).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True when no batch is held.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// The batches, in offset order.
    pub fn batches(&self) -> &[StoredBatch] {
        &self.batches
    }

    /// The offset index entries (the `.index` file).
    pub fn offset_index(&self) -> &[OffsetIndexEntry] {
        &self.offset_index
    }

    /// The time index entries (the `.timeindex` file).
    pub fn time_index(&self) -> &[TimeIndexEntry] {
        &self.time_index
    }

    /// The transactions aborted in this segment (its `.txnindex`).
    pub fn txn_index(&self) -> &[TxnIndexEntry] {
        &self.txn_index
    }

    /// Adds an aborted transaction whose marker was just appended here.
    pub(crate) fn append_txn_index(&mut self, entry: TxnIndexEntry, ops: &mut OpRecorder) {
        self.txn_index.push(entry);
        let segment = self.base_offset;
        ops.record(|| StorageOp::TxnIndexAppended { segment, entry });
    }

    /// Replaces the transaction index (recovery rebuilt it).
    pub(crate) fn set_txn_index(&mut self, entries: Vec<TxnIndexEntry>) {
        self.txn_index = entries;
    }

    /// The offset the next batch appended here would start at.
    pub fn next_offset(&self) -> i64 {
        self.batches.last().map_or(self.base_offset, StoredBatch::next_offset)
    }

    /// The largest batch max timestamp in the segment and the last offset of
    /// the first batch carrying it; [`TimestampOffset::UNKNOWN`] when no
    /// batch has a timestamp.
    pub fn max_timestamp_so_far(&self) -> TimestampOffset {
        self.max_timestamp_so_far
    }

    /// What retention compares against `retention.ms`: the largest record
    /// timestamp, or the last time the segment was written when no record
    /// has a timestamp (Kafka uses the file's mtime).
    pub fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp_so_far.timestamp >= 0 {
            self.max_timestamp_so_far.timestamp
        } else {
            self.last_modified_ms
        }
    }

    /// When the segment was created (or emptied by a truncation), by the
    /// clock passed in.
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }

    /// When the segment was last written, by the clock passed in.
    pub fn last_modified_ms(&self) -> i64 {
        self.last_modified_ms
    }

    /// Kafka's `shouldRoll`, for a batch about to be appended at `now_ms`.
    pub(crate) fn should_roll(&self, config: &LogConfig, batch: &BatchHeader, batch_size: u64, now_ms: i64) -> bool {
        if self.is_empty() {
            // The empty active segment always starts at the log end offset,
            // so rolling would only replace it by an identical one.
            return false;
        }
        let reached_roll_ms = self.time_waited_for_roll(now_ms, batch.max_timestamp) > config.segment_ms;
        self.size.saturating_add(batch_size) > config.max_segment_bytes()
            || reached_roll_ms
            || self.offset_index_full(config)
            || self.time_index_full(config)
            || self.relative_offset(batch.last_offset()).is_none()
    }

    /// Kafka measures a segment's age by record time when its first batch
    /// has a timestamp (the incoming batch's max timestamp minus the first
    /// batch's), and by the clock since creation otherwise.
    fn time_waited_for_roll(&self, now_ms: i64, batch_max_timestamp: i64) -> i64 {
        match self.batches.first().map(StoredBatch::max_timestamp) {
            Some(first) if first >= 0 => batch_max_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(self.created_ms),
        }
    }

    fn offset_index_full(&self, config: &LogConfig) -> bool {
        self.offset_index.len() >= config.max_offset_index_entries()
    }

    /// Kafka keeps the time index's last slot free for the entry written
    /// when the segment stops being active.
    fn time_index_full(&self, config: &LogConfig) -> bool {
        self.time_index.len().saturating_add(1) >= config.max_time_index_entries()
    }

    /// `offset` relative to the base offset, if an index can hold it.
    pub(crate) fn relative_offset(&self, offset: i64) -> Option<i32> {
        offset.checked_sub(self.base_offset).and_then(|r| i32::try_from(r).ok()).filter(|r| *r >= 0)
    }

    /// Appends `batch`, which must start at [`Self::next_offset`] and fit
    /// (the log rolls first when it would not).
    pub(crate) fn append(&mut self, batch: RecordBatch, config: &LogConfig, now_ms: i64, ops: &mut OpRecorder) {
        let header = *batch.header();
        let size = batch.as_bytes().len() as u64;
        let position = self.size;
        let segment = self.base_offset;
        ops.record(|| StorageOp::BatchAppended { segment, position, bytes: batch.as_bytes().clone() });

        if header.max_timestamp > self.max_timestamp_so_far.timestamp {
            self.max_timestamp_so_far =
                TimestampOffset { timestamp: header.max_timestamp, offset: header.last_offset() };
        }
        if self.bytes_since_last_index_entry > config.index_interval_bytes {
            self.append_offset_index(header.last_offset(), position, config, ops);
            let max = self.max_timestamp_so_far;
            self.maybe_append_time_index(max, Some(config), ops);
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += size;
        self.size += size;
        self.last_modified_ms = now_ms;
        self.batches.push(StoredBatch::new(batch, position));
    }

    fn append_offset_index(&mut self, offset: i64, position: u64, config: &LogConfig, ops: &mut OpRecorder) {
        // Rolling keeps both the relative offset and the position within
        // i32; an entry that would not fit, or a full index, is skipped
        // rather than corrupting the file (Kafka would throw).
        let (Some(relative_offset), Ok(position)) = (self.relative_offset(offset), i32::try_from(position)) else {
            return;
        };
        if self.offset_index_full(config) {
            return;
        }
        let entry = OffsetIndexEntry { relative_offset, position };
        self.offset_index.push(entry);
        let segment = self.base_offset;
        ops.record(|| StorageOp::OffsetIndexAppended { segment, entry });
    }

    /// Kafka's `TimeIndex.maybeAppend`: only a timestamp newer than the last
    /// entry's is added. `config` is None for the closing entry, which may
    /// use the slot reserved for it.
    fn maybe_append_time_index(&mut self, at: TimestampOffset, config: Option<&LogConfig>, ops: &mut OpRecorder) {
        let last_timestamp = self.time_index.last().map_or(NO_TIMESTAMP, |e| e.timestamp);
        if at.timestamp <= last_timestamp {
            return;
        }
        if config.is_some_and(|c| self.time_index_full(c)) {
            return;
        }
        let Some(relative_offset) = self.relative_offset(at.offset) else {
            return;
        };
        let entry = TimeIndexEntry { timestamp: at.timestamp, relative_offset };
        self.time_index.push(entry);
        let segment = self.base_offset;
        ops.record(|| StorageOp::TimeIndexAppended { segment, entry });
    }

    /// Kafka's `onBecomeInactiveSegment` (also run when a segment is closed
    /// or recovered): the time index ends with the segment's largest
    /// timestamp, which retention and timestamp lookups rely on.
    pub(crate) fn on_become_inactive(&mut self, ops: &mut OpRecorder) {
        let max = self.max_timestamp_so_far;
        self.maybe_append_time_index(max, None, ops);
    }

    /// Appends a batch read back from disk during recovery: the same index
    /// rules as a live append, with nothing to report.
    pub(crate) fn append_recovered(&mut self, batch: RecordBatch, config: &LogConfig, now_ms: i64) {
        self.append(batch, config, now_ms, &mut OpRecorder::new(false));
    }

    /// Ends a recovery rebuild as Kafka's `LogSegment.recover` does: the
    /// time index gets its closing entry (for the active segment too), and
    /// the byte counter starts from zero, as in a freshly loaded segment.
    pub(crate) fn finish_recovery(&mut self) {
        self.on_become_inactive(&mut OpRecorder::new(false));
        self.bytes_since_last_index_entry = 0;
    }

    /// Index of the first batch whose last offset is `>= offset`, i.e. the
    /// batch holding `offset` or the first one after it; `batches().len()`
    /// when there is none.
    pub(crate) fn batch_index_for_offset(&self, offset: i64) -> usize {
        self.batches.partition_point(|b| b.last_offset() < offset)
    }

    /// Index of the first batch starting at or after `position`.
    pub(crate) fn batch_index_at_position(&self, position: u64) -> usize {
        self.batches.partition_point(|b| b.position() < position)
    }

    /// Kafka's `OffsetIndex.lookup`: the position of the last indexed batch
    /// ending at or before `offset`, or 0.
    pub(crate) fn offset_index_position(&self, offset: i64) -> u64 {
        let n = self.offset_index.partition_point(|e| self.base_offset + i64::from(e.relative_offset) <= offset);
        match n.checked_sub(1).and_then(|i| self.offset_index.get(i)) {
            Some(e) => u64::try_from(e.position).unwrap_or(0),
            None => 0,
        }
    }

    /// Kafka's `TimeIndex.lookup`: the last entry with a timestamp at or
    /// below `timestamp`, or `(-1, base offset)`.
    pub(crate) fn time_index_lookup(&self, timestamp: i64) -> TimestampOffset {
        let n = self.time_index.partition_point(|e| e.timestamp <= timestamp);
        match n.checked_sub(1).and_then(|i| self.time_index.get(i)) {
            Some(e) => {
                TimestampOffset { timestamp: e.timestamp, offset: self.base_offset + i64::from(e.relative_offset) }
            }
            None => TimestampOffset { timestamp: NO_TIMESTAMP, offset: self.base_offset },
        }
    }

    /// Drops the batches from the one holding `offset` on, and the index
    /// entries pointing at them (Kafka's `LogSegment.truncateTo`). Returns
    /// the bytes dropped.
    pub(crate) fn truncate_to(&mut self, offset: i64, now_ms: i64, ops: &mut OpRecorder) -> u64 {
        let keep = self.batch_index_for_offset(offset);
        let new_size = self.batches.get(keep).map_or(self.size, StoredBatch::position);
        let truncated = self.size - new_size;
        self.batches.truncate(keep);
        self.size = new_size;

        let base = self.base_offset;
        let keep_offsets = self.offset_index.partition_point(|e| base + i64::from(e.relative_offset) < offset);
        self.offset_index.truncate(keep_offsets);
        let keep_times = self.time_index.partition_point(|e| base + i64::from(e.relative_offset) < offset);
        self.time_index.truncate(keep_times);
        // Kafka's `TransactionIndex.truncateTo`: aborts marked at or after
        // the cut go.
        self.txn_index.retain(|e| e.last_offset < offset);

        // Kafka restarts the index interval from the cut, so entries written
        // after a truncation can differ from what a rebuild would produce.
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp_so_far = self.batches.iter().fold(TimestampOffset::UNKNOWN, |max, b| {
            if b.max_timestamp() > max.timestamp {
                TimestampOffset { timestamp: b.max_timestamp(), offset: b.last_offset() }
            } else {
                max
            }
        });
        if self.batches.is_empty() {
            self.created_ms = now_ms;
        }
        if truncated > 0 {
            self.last_modified_ms = now_ms;
        }
        let (log_bytes, offset_index_entries, time_index_entries, txn_index_entries) =
            (self.size, self.offset_index.len(), self.time_index.len(), self.txn_index.len());
        ops.record(|| StorageOp::SegmentTruncated {
            segment: base,
            log_bytes,
            offset_index_entries,
            time_index_entries,
            txn_index_entries,
        });
        truncated
    }
}
