//! Appending: a leader stamping new batches, a follower copying them.

use bytes::{Bytes, BytesMut};
use kafka_protocol::DecodeError;
use kafka_protocol::records::batch::{
    HEADER_LEN, LOG_OVERHEAD, set_base_offset, set_log_append_time, set_partition_leader_epoch,
};
use kafka_protocol::records::{BatchHeader, RecordBatch, TimestampType};

use super::ops::StorageOp;
use super::segment::Segment;
use super::{Log, LogError};

/// What an append did, for the Produce response and the caller's
/// bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the batch's first record.
    pub base_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// The broker's append time for a LogAppendTime batch, else -1 (the
    /// Produce response's `log_append_time_ms`).
    pub log_append_time: i64,
    /// The batch's max timestamp as stored.
    pub max_timestamp: i64,
}

impl Log {
    /// Appends a batch from a producer as the partition leader.
    ///
    /// `batch` must be one complete v2 batch the caller has validated. Its
    /// base offset becomes the log end offset and its partition leader epoch
    /// `leader_epoch`, both written in place (they lie outside the CRC);
    /// with `log_append_time` the batch becomes a LogAppendTime batch with
    /// that max timestamp and a recomputed CRC. The bytes are then stored
    /// as they are. A new `leader_epoch` is recorded in the epoch cache.
    pub fn append_as_leader(
        &mut self,
        mut batch: BytesMut,
        leader_epoch: i32,
        log_append_time: Option<i64>,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let header = parse_header(&batch)?;
        self.check_appendable(&header, batch.len())?;
        let base_offset = self.log_end_offset;
        set_base_offset(&mut batch, base_offset);
        set_partition_leader_epoch(&mut batch, leader_epoch);
        if let Some(time) = log_append_time {
            set_log_append_time(&mut batch, time);
        }
        let batch = RecordBatch::new(batch.freeze()).map_err(LogError::InvalidBatch)?;
        let info = AppendInfo {
            base_offset,
            last_offset: batch.header().last_offset(),
            log_append_time: log_append_time.unwrap_or(-1),
            max_timestamp: batch.header().max_timestamp,
        };
        self.append_batch(batch, now_ms);
        Ok(info)
    }

    /// Appends a batch replicated from the leader, byte for byte.
    ///
    /// The batch must start at the log end offset (Kafka's
    /// UnexpectedAppendOffsetException otherwise) and pass its CRC check.
    /// Its partition leader epoch feeds the epoch cache.
    pub fn append_as_follower(&mut self, batch: Bytes, now_ms: i64) -> Result<AppendInfo, LogError> {
        let batch = RecordBatch::new(batch).map_err(LogError::InvalidBatch)?;
        let header = *batch.header();
        self.check_appendable(&header, batch.as_bytes().len())?;
        if header.base_offset != self.log_end_offset {
            return Err(LogError::UnexpectedAppendOffset { expected: self.log_end_offset, actual: header.base_offset });
        }
        if !batch.crc_is_valid() {
            return Err(LogError::CorruptBatch { base_offset: header.base_offset });
        }
        let info = AppendInfo {
            base_offset: header.base_offset,
            last_offset: header.last_offset(),
            log_append_time: match header.timestamp_type() {
                TimestampType::LogAppendTime => header.max_timestamp,
                TimestampType::CreateTime => -1,
            },
            max_timestamp: header.max_timestamp,
        };
        self.append_batch(batch, now_ms);
        Ok(info)
    }

    /// Closes the active segment and opens a new one at the log end offset,
    /// as Kafka does when a segment fills up or ages. A no-op while the
    /// active segment is empty.
    pub fn roll(&mut self, now_ms: i64) {
        if self.active.is_empty() {
            return;
        }
        self.active.on_become_inactive(&mut self.ops);
        // Kafka snapshots the producer state at the new segment's base.
        self.take_producer_snapshot();
        let base_offset = self.log_end_offset;
        self.ops.record(|| StorageOp::SegmentCreated { base_offset });
        let old = std::mem::replace(&mut self.active, Segment::new(base_offset, now_ms));
        self.sealed.push_back(old);
    }

    /// Refuses what the log cannot hold, before anything changes.
    fn check_appendable(&self, header: &BatchHeader, size: usize) -> Result<(), LogError> {
        if header.last_offset_delta < 0 {
            return Err(LogError::InvalidBatch(DecodeError::invalid(format!(
                "negative last offset delta {}",
                header.last_offset_delta
            ))));
        }
        let max = self.config.max_segment_bytes();
        if size as u64 > max {
            return Err(LogError::BatchTooLarge { size, max });
        }
        // The offset after the batch must exist too: it becomes the log end.
        let records = i64::from(header.last_offset_delta) + 1;
        if self.log_end_offset.checked_add(records).is_none() {
            return Err(LogError::OffsetOverflow { log_end_offset: self.log_end_offset, records });
        }
        Ok(())
    }

    /// Kafka's `UnifiedLog.append` after validation: roll if due, note a new
    /// leader epoch, append to the active segment.
    fn append_batch(&mut self, batch: RecordBatch, now_ms: i64) {
        let header = *batch.header();
        let size = batch.as_bytes().len() as u64;
        if self.active.should_roll(&self.config, &header, size, now_ms) {
            self.roll(now_ms);
        }
        if self.epochs.assign(header.partition_leader_epoch, header.base_offset) {
            self.record_epoch_checkpoint();
        }
        let aborted = self.open_txns.observe(&batch);
        self.producers.observe(&batch);
        self.active.append(batch, &self.config, now_ms, &mut self.ops);
        if let Some(entry) = aborted {
            self.active.append_txn_index(entry, &mut self.ops);
        }
        self.log_end_offset = header.last_offset() + 1;
    }
}

/// The header of `batch`, which must be exactly one v2 batch.
fn parse_header(batch: &[u8]) -> Result<BatchHeader, LogError> {
    let header = BatchHeader::parse(batch).map_err(LogError::InvalidBatch)?;
    if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 || header.size() != batch.len() {
        return Err(LogError::InvalidBatch(DecodeError::invalid(format!(
            "record batch length field says {} bytes, buffer has {}",
            header.size(),
            batch.len()
        ))));
    }
    Ok(header)
}
