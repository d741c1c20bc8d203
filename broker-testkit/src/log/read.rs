//! Reading: fetches, and the timestamp lookups behind ListOffsets.

use bytes::{Bytes, BytesMut};

use super::segment::{Segment, StoredBatch};
use super::{Log, LogError, MAX_DECOMPRESSED_BATCH_BYTES};

/// The outcome of [`Log::read`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadResult {
    /// The `records` of the Fetch response: whole batches, possibly followed
    /// by the first bytes of the next one.
    pub records: Bytes,
    /// How many whole batches `records` starts with.
    pub whole_batches: usize,
    /// Bytes of those whole batches; anything after is a partial batch.
    pub whole_bytes: usize,
    /// Kafka's `firstEntryIncomplete`: without `min_one`, the first batch
    /// was larger than `max_bytes` and `records` holds only its start.
    /// Kafka's Fetch v3+ answers with empty records instead.
    pub first_entry_incomplete: bool,
    /// The offset after the last whole batch returned, or the fetch offset
    /// when there was none: where the fetcher continues.
    pub next_offset: i64,
}

/// A record found by a timestamp lookup, as ListOffsets reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampAndOffset {
    /// The record's timestamp.
    pub timestamp: i64,
    /// The record's offset.
    pub offset: i64,
    /// The partition leader epoch of its batch, when it has one.
    pub leader_epoch: Option<i32>,
}

impl Log {
    /// The batches from the one holding `offset` on, oldest first; the
    /// first may start below `offset`. For replication and for rebuilding
    /// producer state.
    pub fn batches_from(&self, offset: i64) -> impl Iterator<Item = &StoredBatch> + '_ {
        let first = self.floor_segment_index(offset);
        self.segments().skip(first).enumerate().flat_map(move |(i, segment)| {
            let start = if i == 0 { segment.batch_index_for_offset(offset) } else { 0 };
            segment.batches().get(start..).unwrap_or_default().iter()
        })
    }

    /// Reads for a fetch at `fetch_offset`, with Kafka's semantics.
    ///
    /// - `fetch_offset` outside `[log start, log end]` is
    ///   [`LogError::OffsetOutOfRange`].
    /// - The result starts with the whole batch holding `fetch_offset` (the
    ///   client skips the records before it) and comes from that batch's
    ///   segment only, as in Kafka, so a read near a segment's end returns
    ///   less than `max_bytes` even when more data follows.
    /// - Batches not wholly below `max_offset` (exclusive: the high
    ///   watermark, or the last stable offset) are left out.
    /// - Whole batches are added while they fit in `max_bytes`; with
    ///   `min_one` the first batch comes whole whatever its size (KIP-74).
    ///   Budget left after the last whole batch is filled with the start
    ///   of the next one, as Kafka sends raw file bytes up to the limit.
    pub fn read(
        &self,
        fetch_offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one: bool,
    ) -> Result<ReadResult, LogError> {
        if fetch_offset < self.log_start_offset || fetch_offset > self.log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset: fetch_offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let empty = ReadResult { next_offset: fetch_offset, ..ReadResult::default() };
        if fetch_offset >= max_offset {
            return Ok(empty);
        }
        let first = self.floor_segment_index(fetch_offset);
        for segment in self.segments().skip(first) {
            let start = segment.batch_index_for_offset(fetch_offset);
            if start < segment.batches().len() {
                return Ok(read_segment(segment, start, fetch_offset, max_bytes, max_offset, min_one).unwrap_or(empty));
            }
        }
        Ok(empty)
    }

    /// The first record with a timestamp at or after `timestamp` and an
    /// offset at or after the log start offset (ListOffsets by time).
    ///
    /// As Kafka: the first segment whose largest timestamp reaches
    /// `timestamp` is searched, from the position its time and offset
    /// indexes give, batch by batch on max timestamps and then record by
    /// record inside the first batch that qualifies (decompressing it; in a
    /// LogAppendTime batch every record carries the batch's timestamp).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<TimestampAndOffset>, LogError> {
        let Some(segment) = self.segments().find(|s| s.largest_timestamp() >= timestamp) else {
            return Ok(None);
        };
        let start_offset = self.log_start_offset;
        let indexed = segment.time_index_lookup(timestamp);
        let position = segment.offset_index_position(indexed.offset.max(start_offset));
        let from = segment.batch_index_at_position(position);
        for batch in segment.batches().get(from..).unwrap_or_default() {
            if batch.max_timestamp() < timestamp {
                continue;
            }
            for record in records_of(batch)? {
                let record = record.map_err(|source| unreadable(batch, source))?;
                if record.timestamp >= timestamp && record.offset >= start_offset {
                    return Ok(Some(TimestampAndOffset {
                        timestamp: record.timestamp,
                        offset: record.offset,
                        leader_epoch: leader_epoch_of(batch),
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The first record carrying the largest timestamp in the log
    /// (ListOffsets with `MAX_TIMESTAMP`), by Kafka 3.8+'s rule: the
    /// record's own offset, not its batch's last offset.
    pub fn max_timestamp_offset(&self) -> Result<Option<TimestampAndOffset>, LogError> {
        // Kafka picks the first segment with the largest max timestamp.
        let mut segments = self.segments();
        let Some(mut best) = segments.next() else {
            return Ok(None);
        };
        for segment in segments {
            if segment.max_timestamp_so_far().timestamp > best.max_timestamp_so_far().timestamp {
                best = segment;
            }
        }
        let max = best.max_timestamp_so_far();
        let from = best.batch_index_at_position(best.offset_index_position(max.offset));
        let Some(batch) =
            best.batches().get(from..).unwrap_or_default().iter().find(|b| b.max_timestamp() == max.timestamp)
        else {
            return Ok(None);
        };
        for record in records_of(batch)? {
            let record = record.map_err(|source| unreadable(batch, source))?;
            if record.timestamp == max.timestamp {
                return Ok(Some(TimestampAndOffset {
                    timestamp: max.timestamp,
                    offset: record.offset,
                    leader_epoch: leader_epoch_of(batch),
                }));
            }
        }
        Ok(None)
    }
}

/// Kafka's `LogSegment.read` from the batch at `start`: None when the byte
/// budget is zero.
fn read_segment(
    segment: &Segment,
    start: usize,
    fetch_offset: i64,
    max_bytes: usize,
    max_offset: i64,
    min_one: bool,
) -> Option<ReadResult> {
    let batches = segment.batches().get(start..).unwrap_or_default();
    let first = batches.first()?;
    let first_size = usize::try_from(first.size()).unwrap_or(usize::MAX);
    let budget = if min_one { max_bytes.max(first_size) } else { max_bytes };
    if budget == 0 {
        return None;
    }
    // Kafka bounds the read by the file position of the batch holding
    // `max_offset`, so only batches wholly below it are exposed.
    let readable = batches.partition_point(|b| b.last_offset() < max_offset);
    let mut whole_batches = 0;
    let mut whole_bytes = 0usize;
    let mut partial = None;
    for batch in &batches[..readable] {
        let size = batch.bytes().len();
        let left = budget - whole_bytes;
        if size > left {
            partial = (left > 0).then(|| batch.bytes().slice(..left));
            break;
        }
        whole_batches += 1;
        whole_bytes += size;
    }
    let pieces = batches[..whole_batches].iter().map(|b| b.bytes().clone()).chain(partial);
    let next_offset = match whole_batches.checked_sub(1).and_then(|i| batches.get(i)) {
        Some(last) => last.next_offset(),
        None => fetch_offset,
    };
    Some(ReadResult {
        records: concat(pieces),
        whole_batches,
        whole_bytes,
        first_entry_incomplete: budget < first_size,
        next_offset,
    })
}

/// One buffer from several; a single piece is passed through without a
/// copy.
fn concat(pieces: impl Iterator<Item = Bytes>) -> Bytes {
    let pieces: Vec<Bytes> = pieces.collect();
    match pieces.as_slice() {
        [] => Bytes::new(),
        [one] => one.clone(),
        many => {
            let mut out = BytesMut::with_capacity(many.iter().map(Bytes::len).sum());
            for p in many {
                out.extend_from_slice(p);
            }
            out.freeze()
        }
    }
}

fn records_of(batch: &StoredBatch) -> Result<kafka_protocol::records::Records, LogError> {
    batch.record_batch().records(MAX_DECOMPRESSED_BATCH_BYTES).map_err(|source| unreadable(batch, source))
}

fn unreadable(batch: &StoredBatch, source: kafka_protocol::DecodeError) -> LogError {
    LogError::UnreadableRecords { base_offset: batch.base_offset(), source }
}

fn leader_epoch_of(batch: &StoredBatch) -> Option<i32> {
    // -1 (NO_PARTITION_LEADER_EPOCH) and any other negative value mean none.
    let epoch = batch.leader_epoch();
    (epoch >= 0).then_some(epoch)
}
