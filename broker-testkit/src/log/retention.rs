//! Removing data: truncation from the end, DeleteRecords and retention
//! from the start.

use super::ops::StorageOp;
use super::producer_snapshot::ProducerSnapshot;
use super::segment::Segment;
use super::txn_index::OpenTxns;
use super::{Log, LogError};

impl Log {
    /// Drops everything at or after `offset`, as a follower does on finding
    /// where its log diverged from the leader's. Returns whether anything
    /// changed (nothing does when `offset` is at or past the log end).
    ///
    /// Truncation works on whole batches: when `offset` falls inside a
    /// batch, that batch goes too and the log ends at its base offset.
    /// Segments starting after the new end are deleted, the epoch cache
    /// forgets epochs starting at or after it, and the log start offset
    /// drops to it if it was beyond. An offset below the first segment
    /// empties the log to restart there
    /// ([`Self::truncate_fully_and_start_at`]).
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<bool, LogError> {
        if offset < 0 {
            return Err(LogError::NegativeTruncation(offset));
        }
        if offset >= self.log_end_offset {
            return Ok(false);
        }
        if self.first_segment().base_offset() > offset {
            self.truncate_fully_and_start_at(offset, now_ms)?;
            return Ok(true);
        }
        let new_end = self.batches_from(offset).next().map_or(offset, |b| b.base_offset());
        while self.active.base_offset() > new_end {
            let Some(previous) = self.sealed.pop_back() else { break };
            let removed = std::mem::replace(&mut self.active, previous);
            let segment = removed.base_offset();
            self.ops.record(|| StorageOp::SegmentDeleted { segment });
        }
        self.active.truncate_to(new_end, now_ms, &mut self.ops);
        self.log_end_offset = new_end;
        if self.epochs.truncate_from_end(new_end) {
            self.record_epoch_checkpoint();
        }
        if self.log_start_offset > new_end {
            self.log_start_offset = new_end;
            self.ops.record(|| StorageOp::LogStartOffset { offset: new_end });
        }
        // Kafka reloads its producer state to the cut; what is open is
        // what the remaining batches say.
        self.open_txns = OpenTxns::rebuild(self.segments());
        self.reload_producers();
        Ok(true)
    }

    /// Deletes every segment and restarts the log, empty, at `offset`
    /// (which also becomes the log start offset); the epoch cache is
    /// cleared. What a follower does when the leader's log starts past its
    /// own end.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64, now_ms: i64) -> Result<(), LogError> {
        if offset < 0 {
            return Err(LogError::NegativeTruncation(offset));
        }
        for segment in self
            .sealed
            .drain(..)
            .chain(std::iter::once(std::mem::replace(&mut self.active, Segment::new(offset, now_ms))))
        {
            let segment = segment.base_offset();
            self.ops.record(|| StorageOp::SegmentDeleted { segment });
        }
        self.ops.record(|| StorageOp::SegmentCreated { base_offset: offset });
        self.log_end_offset = offset;
        self.log_start_offset = offset;
        self.open_txns = OpenTxns::default();
        self.producers = ProducerSnapshot::default();
        for offset in std::mem::take(&mut self.snapshots).into_keys() {
            self.ops.record(|| StorageOp::ProducerSnapshotDeleted { offset });
        }
        self.ops.record(|| StorageOp::LogStartOffset { offset });
        if self.epochs.clear() {
            self.record_epoch_checkpoint();
        }
        Ok(())
    }

    /// DeleteRecords: raises the log start offset to `offset` and deletes
    /// the segments wholly below it; returns the new log start offset.
    ///
    /// `offset` may not pass `high_watermark` (nor the log end offset):
    /// like Kafka, the log start never overtakes the high watermark. An
    /// offset at or below the current log start changes nothing. Kafka
    /// leaves the segment deletion to its next retention pass; doing it
    /// at once changes nothing a client can observe but the log's size.
    pub fn delete_records_before(&mut self, offset: i64, high_watermark: i64) -> Result<i64, LogError> {
        let limit = high_watermark.min(self.log_end_offset);
        if offset < 0 || offset > limit {
            return Err(LogError::DeleteBeyondHighWatermark { offset, high_watermark: limit });
        }
        self.maybe_increment_log_start_offset(offset);
        // The log-start rule never takes the active segment, so nothing is
        // rolled and the clock goes unused.
        self.delete_log_start_breached_segments(high_watermark, 0);
        Ok(self.log_start_offset)
    }

    /// One pass of Kafka's retention (`UnifiedLog.deleteOldSegments`);
    /// returns the number of segments deleted.
    ///
    /// In Kafka's order: segments wholly below the log start offset; then,
    /// with `retention.bytes`, the oldest segments while what is left stays
    /// at or above the limit; then, with `retention.ms`, the oldest
    /// segments whose largest timestamp is older than `now_ms -
    /// retention.ms`. Only a prefix of the log goes, and only segments
    /// wholly below `high_watermark`. When every segment qualifies the
    /// active one is rolled first, so the log ends up as one empty segment
    /// at the unchanged log end offset. The log start offset rises to the
    /// first remaining segment.
    pub fn apply_retention(&mut self, now_ms: i64, high_watermark: i64) -> usize {
        let mut deleted = self.delete_log_start_breached_segments(high_watermark, now_ms);
        let retention_bytes = self.config.retention_bytes;
        if retention_bytes >= 0 {
            let size = i64::try_from(self.size_bytes()).unwrap_or(i64::MAX);
            if size >= retention_bytes {
                let mut excess = size - retention_bytes;
                deleted += self.delete_old_segments(high_watermark, now_ms, |segment, _| {
                    let size = i64::try_from(segment.size()).unwrap_or(i64::MAX);
                    let delete = excess - size >= 0;
                    if delete {
                        excess -= size;
                    }
                    delete
                });
            }
        }
        let retention_ms = self.config.retention_ms;
        if retention_ms >= 0 {
            deleted += self.delete_old_segments(high_watermark, now_ms, |segment, _| {
                now_ms.saturating_sub(segment.largest_timestamp()) > retention_ms
            });
        }
        deleted
    }

    fn first_segment(&self) -> &Segment {
        self.sealed.front().unwrap_or(&self.active)
    }

    fn delete_log_start_breached_segments(&mut self, high_watermark: i64, now_ms: i64) -> usize {
        let log_start = self.log_start_offset;
        self.delete_old_segments(high_watermark, now_ms, |_, next| next.is_some_and(|n| n.base_offset() <= log_start))
    }

    /// Kafka's `deleteOldSegments(predicate)`: deletes the longest prefix of
    /// segments that lie below the high watermark and satisfy `predicate`
    /// (called in order, with the next segment, and only while the prefix
    /// lasts, since the size rule keeps a running total).
    fn delete_old_segments(
        &mut self,
        high_watermark: i64,
        now_ms: i64,
        mut predicate: impl FnMut(&Segment, Option<&Segment>) -> bool,
    ) -> usize {
        let total = self.segment_count();
        let mut count = 0;
        while let Some(segment) = self.segment_at(count) {
            let next = self.segment_at(count + 1);
            let upper_bound = next.map_or(self.log_end_offset, Segment::base_offset);
            let last_and_empty = next.is_none() && segment.is_empty();
            if !(high_watermark >= upper_bound && predicate(segment, next) && !last_and_empty) {
                break;
            }
            count += 1;
        }
        if count == 0 {
            return 0;
        }
        if count == total {
            self.roll(now_ms);
        }
        for _ in 0..count {
            if let Some(removed) = self.sealed.pop_front() {
                let segment = removed.base_offset();
                self.forget_snapshot(segment);
                self.ops.record(|| StorageOp::SegmentDeleted { segment });
            }
        }
        let first = self.first_segment().base_offset();
        self.maybe_increment_log_start_offset(first);
        count
    }
}
