//! Turning the `records` bytes of one partition of a Fetch response into
//! [`ConsumerRecord`]s: Java's `CompletedFetch` and the record rules of its
//! `FetchCollector`, without I/O.
//!
//! A [`CompletedFetch`] holds one partition's data and hands out records a
//! few at a time ([`CompletedFetch::take`]), at or after the consumer's
//! position, moving the position past each record returned. It decodes one
//! batch at a time, and records share the fetched buffer (or their batch's
//! decompressed buffer), so nothing is copied per record.
//!
//! The rules, as in the Java client:
//!
//! - A broker returns whole batches, so the first batch may begin before the
//!   fetch offset; records below the position are skipped.
//! - Control batches (transaction markers) are never returned, and the
//!   position moves past them.
//! - Once a batch is done the position is its last offset + 1, even when
//!   compaction removed its last records or all of them, so the next fetch
//!   does not ask for the same batch again.
//! - A fetch may end part-way through a batch; that partial batch is left
//!   for the next fetch. A fetch that holds nothing but a partial batch means
//!   the batch is larger than the fetch size: [`FetchError::RecordTooLarge`].
//! - With `check.crcs` every batch's CRC is verified before it is read.
//! - Unreadable data is a [`FetchError::Corrupt`] naming the partition and
//!   offset. Records read before it are returned first; the error comes on
//!   the next call, and on every call after, because the position cannot
//!   move past data it cannot read: the application decides whether to seek
//!   past it.
//!
//! Each record carries its batch's partition leader epoch, and the fetch
//! reports the epoch of the last offset it moved past, which the consumer
//! sends as the last fetched epoch (KIP-320).
//!
//! With `isolation.level=read_committed` the broker stops a fetch at the
//! last stable offset and lists the aborted transactions in its range
//! (producer id, first offset). [`CompletedFetch::read_committed`] hands
//! that list over, and, as in Java, a transactional batch of a producer
//! whose aborted transaction has begun at or before the batch's last offset
//! is skipped (the position moves past it) until that producer's abort
//! marker is passed.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::batch::{self, RecordBatch};
use kafka_protocol::records::control::{ControlRecord, ControlRecordType};
use kafka_protocol::records::legacy::{self, LegacyRecord};
use kafka_protocol::records::{RecordSet, RecordSetEntry, Records, TimestampType};

use super::record::ConsumerRecord;
use crate::TopicPartition;

/// The default least that one batch may decompress to.
const MIN_DECOMPRESS_LIMIT: usize = 64 << 20;

/// How many times the partition's fetched bytes one batch may decompress to.
const DECOMPRESS_RATIO: usize = 64;

/// Offsets from here on leave no room for a batch's 32-bit deltas: no real
/// log gets near them, and refusing them keeps offset arithmetic exact.
const MAX_BASE_OFFSET: i64 = i64::MAX - (1 << 32);

/// How fetched data is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// `check.crcs`: verify each batch's CRC before reading it (default
    /// true). Turning it off saves a pass over the data, and leaves damage
    /// on disk or in transit undetected.
    pub check_crcs: bool,
    /// The least one batch may decompress to (default 64 MiB). The limit is
    /// this or 64 times the partition's fetched bytes, whichever is larger,
    /// so a batch crafted to expand without bound is an error rather than
    /// an allocation, and a large fetch still decompresses.
    pub min_decompress_limit: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions { check_crcs: true, min_decompress_limit: MIN_DECOMPRESS_LIMIT }
    }
}

/// Why fetched records cannot be returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The data at `offset` cannot be read: a CRC mismatch, a malformed
    /// batch or record, or a batch that decompresses past the limit. The
    /// position stays before it; seek past it to skip it.
    #[error("records of {tp} at offset {offset} are corrupt: {reason}; if needed, seek past them to continue")]
    Corrupt {
        /// The partition.
        tp: TopicPartition,
        /// Where the unreadable data starts (a batch's base offset), or the
        /// position when that is not known.
        offset: i64,
        /// What is wrong.
        reason: String,
    },
    /// The fetch returned `size` bytes at `offset` but not one whole batch:
    /// the batch there is larger than the fetch size. Brokers since 0.10.1
    /// (KIP-74) always return the first batch whole, so this means an old or
    /// misbehaving broker.
    #[error(
        "the record batch of {tp} at offset {offset} is larger than the {size} bytes fetched; \
         raise max.partition.fetch.bytes (and fetch.max.bytes) above the batch's size"
    )]
    RecordTooLarge {
        /// The partition.
        tp: TopicPartition,
        /// The fetch offset.
        offset: i64,
        /// Bytes the fetch returned.
        size: usize,
    },
}

impl FetchError {
    /// The partition the error concerns.
    pub fn topic_partition(&self) -> &TopicPartition {
        match self {
            FetchError::Corrupt { tp, .. } | FetchError::RecordTooLarge { tp, .. } => tp,
        }
    }

    /// The offset the error concerns.
    pub fn offset(&self) -> i64 {
        match self {
            FetchError::Corrupt { offset, .. } | FetchError::RecordTooLarge { offset, .. } => *offset,
        }
    }
}

/// The entry being read.
enum Cursor {
    Batch {
        records: Records,
        leader_epoch: Option<i32>,
        timestamp_type: TimestampType,
        base_offset: i64,
        /// The batch's last offset + 1.
        end: i64,
    },
    /// Legacy message sets are small and old; they are decoded whole.
    Legacy { records: std::vec::IntoIter<LegacyRecord>, end: i64 },
}

/// One partition's data from a Fetch response, read record by record.
pub struct CompletedFetch {
    tp: TopicPartition,
    fetch_offset: i64,
    check_crcs: bool,
    decompress_limit: usize,
    size: usize,
    entries: RecordSet,
    cursor: Option<Cursor>,
    saw_entry: bool,
    next_offset: i64,
    /// Where a fetch after this one starts: past its last whole entry.
    end_offset: Option<i64>,
    last_epoch: Option<i32>,
    error: Option<FetchError>,
    consumed: bool,
    /// read_committed only: which batches belong to aborted transactions.
    aborted: Option<AbortedFilter>,
}

/// Java's bookkeeping of aborted transactions while a fetch is read in
/// offset order: a producer's transaction counts as aborted from its first
/// offset until its abort marker.
#[derive(Debug, Default)]
struct AbortedFilter {
    /// Aborted transactions not reached yet, as (first offset, producer
    /// id), latest first so the next one reached is popped from the end.
    pending: Vec<(i64, i64)>,
    /// Producers inside an aborted transaction at the read position.
    open: HashSet<i64>,
}

impl AbortedFilter {
    /// Enters every aborted transaction that begins at or before `last`.
    fn reach(&mut self, last: i64) {
        while let Some(&(first, producer)) = self.pending.last() {
            if first > last {
                break;
            }
            self.open.insert(producer);
            self.pending.pop();
        }
    }
}

impl fmt::Debug for CompletedFetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletedFetch")
            .field("tp", &self.tp)
            .field("fetch_offset", &self.fetch_offset)
            .field("next_offset", &self.next_offset)
            .field("size", &self.size)
            .field("consumed", &self.consumed)
            .finish_non_exhaustive()
    }
}

impl CompletedFetch {
    /// The `records` of `tp` from a Fetch response to a request for
    /// `fetch_offset`. Nothing is decoded until [`take`](Self::take).
    pub fn new(tp: TopicPartition, fetch_offset: i64, records: Bytes, options: FetchOptions) -> Self {
        let size = records.len();
        let end_offset = end_of(&records).filter(|&end| end > fetch_offset);
        CompletedFetch {
            tp,
            fetch_offset,
            check_crcs: options.check_crcs,
            decompress_limit: options.min_decompress_limit.max(size.saturating_mul(DECOMPRESS_RATIO)),
            size,
            entries: RecordSet::new(records),
            cursor: None,
            saw_entry: false,
            next_offset: fetch_offset,
            end_offset,
            last_epoch: None,
            error: None,
            consumed: false,
            aborted: None,
        }
    }

    /// The bytes of record data the fetch returned for the partition.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Reads the fetch as `isolation.level=read_committed` does: `aborted`
    /// is the response's list of aborted transactions for the partition, as
    /// (producer id, first offset), in any order. Transactional batches of
    /// those transactions are skipped, the position moving past them.
    pub fn read_committed(mut self, aborted: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut pending: Vec<(i64, i64)> = aborted.into_iter().map(|(producer, first)| (first, producer)).collect();
        pending.sort_unstable_by(|a, b| b.cmp(a));
        self.aborted = Some(AbortedFilter { pending, open: HashSet::new() });
        self
    }

    /// Up to `max` records at or after `position`, in offset order.
    ///
    /// `position` must be where this fetch left it (at first, the fetch
    /// offset); if it has moved since (a seek, a reset), the data is stale:
    /// the fetch is dropped and nothing returned. Otherwise `position` moves
    /// past every record returned and every batch finished, and
    /// `last_epoch` becomes the leader epoch of the last offset passed
    /// (both are left alone when nothing moved).
    ///
    /// Fewer than `max` records means the fetch is used up
    /// ([`is_exhausted`](Self::is_exhausted)) or failed. A failure after some
    /// records returns those records, and the error on the next call.
    pub fn take(
        &mut self,
        max: usize,
        position: &mut i64,
        last_epoch: &mut Option<i32>,
    ) -> Result<Vec<ConsumerRecord>, FetchError> {
        if *position != self.next_offset {
            self.drain();
            return Ok(Vec::new());
        }
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut out = Vec::new();
        if self.consumed || max == 0 {
            return Ok(out);
        }
        let result = self.fill(&mut out, max);
        if self.next_offset > *position {
            *position = self.next_offset;
            *last_epoch = self.last_epoch;
        }
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                self.error = Some(e.clone());
                if out.is_empty() { Err(e) } else { Ok(out) }
            }
        }
    }

    /// Where the next record would be: the position this fetch expects.
    #[cfg(test)]
    pub fn next_fetch_offset(&self) -> i64 {
        self.next_offset
    }

    /// Where the next fetch starts once this one is read to its end: the
    /// offset after its last whole batch, read from the batch headers
    /// (None when it holds no whole batch). The consumer fetches ahead from
    /// there while the application works through this one.
    pub fn end_offset(&self) -> Option<i64> {
        self.end_offset
    }

    /// True once every record has been returned, or the fetch was dropped
    /// as stale: the consumer can drop it and fetch the partition again.
    /// When the data ends with the last record this is known as that record
    /// is returned; a trailing marker or partial batch takes one more
    /// [`take`](Self::take). A failed fetch is not exhausted: it keeps
    /// failing.
    pub fn is_exhausted(&self) -> bool {
        self.consumed
    }

    fn drain(&mut self) {
        self.consumed = true;
        self.cursor = None;
        self.error = None;
        self.entries = RecordSet::new(Bytes::new());
    }

    fn fill(&mut self, out: &mut Vec<ConsumerRecord>, max: usize) -> Result<(), FetchError> {
        while out.len() < max {
            let Some(cursor) = self.cursor.as_mut() else {
                if !self.open_next(out, max)? {
                    self.consumed = true;
                    return Ok(());
                }
                continue;
            };
            let record = match cursor {
                Cursor::Batch { records, leader_epoch, timestamp_type, base_offset, end } => match records.next() {
                    Some(Ok(r)) => {
                        if r.offset < self.next_offset {
                            continue;
                        }
                        ConsumerRecord {
                            topic: Arc::clone(&self.tp.topic),
                            partition: self.tp.partition,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            timestamp_type: *timestamp_type,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                            leader_epoch: *leader_epoch,
                        }
                    }
                    Some(Err(e)) => {
                        let reason = format!("record batch at offset {base_offset}: {e}");
                        return Err(self.corrupt(self.next_offset, reason));
                    }
                    None => {
                        let (end, epoch) = (*end, *leader_epoch);
                        self.cursor = None;
                        self.advance(end, epoch);
                        continue;
                    }
                },
                Cursor::Legacy { records, end } => match records.next() {
                    Some(r) => {
                        if r.offset < self.next_offset {
                            continue;
                        }
                        ConsumerRecord {
                            topic: Arc::clone(&self.tp.topic),
                            partition: self.tp.partition,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            timestamp_type: r.timestamp_type,
                            key: r.key,
                            value: r.value,
                            headers: Vec::new(),
                            leader_epoch: None,
                        }
                    }
                    None => {
                        let end = *end;
                        self.cursor = None;
                        self.advance(end, None);
                        continue;
                    }
                },
            };
            // Offsets were bounded when the entry was opened, so this cannot overflow.
            self.next_offset = record.offset + 1;
            self.last_epoch = record.leader_epoch;
            out.push(record);
            self.finish_entry_if_read()?;
        }
        // Read to its last byte, the fetch says so now rather than on the
        // next call, so the consumer can drop it and fetch again.
        if self.cursor.is_none() && self.entries.remaining_bytes() == 0 {
            self.consumed = true;
        }
        Ok(())
    }

    /// Closes the current entry once its last record has been read, moving
    /// the position to its end.
    fn finish_entry_if_read(&mut self) -> Result<(), FetchError> {
        match &mut self.cursor {
            Some(Cursor::Batch { records, leader_epoch, base_offset, end, .. }) if records.remaining() == 0 => {
                // With no record left this only checks for bytes after the
                // last record, which mean the batch is malformed.
                if let Some(Err(e)) = records.next() {
                    let reason = format!("record batch at offset {base_offset}: {e}");
                    return Err(self.corrupt(self.next_offset, reason));
                }
                let (end, epoch) = (*end, *leader_epoch);
                self.cursor = None;
                self.advance(end, epoch);
            }
            Some(Cursor::Legacy { records, end }) if records.len() == 0 => {
                let end = *end;
                self.cursor = None;
                self.advance(end, None);
            }
            _ => {}
        }
        Ok(())
    }

    /// Moves to the next entry of the record set; false once there is none.
    fn open_next(&mut self, out: &mut Vec<ConsumerRecord>, max: usize) -> Result<bool, FetchError> {
        let entry = match self.entries.next() {
            Some(Ok(entry)) => entry,
            Some(Err(e)) => return Err(self.corrupt(self.next_offset, e.to_string())),
            None => {
                if !self.saw_entry && self.entries.ended_in_partial() {
                    return Err(FetchError::RecordTooLarge {
                        tp: self.tp.clone(),
                        offset: self.next_offset,
                        size: self.size,
                    });
                }
                return Ok(false);
            }
        };
        self.saw_entry = true;
        match entry {
            RecordSetEntry::Batch(batch) => self.open_batch(&batch, out, max)?,
            RecordSetEntry::Legacy(bytes) => self.open_legacy(bytes)?,
        }
        Ok(true)
    }

    fn open_batch(&mut self, batch: &RecordBatch, out: &mut Vec<ConsumerRecord>, max: usize) -> Result<(), FetchError> {
        let h = *batch.header();
        if !(0..=MAX_BASE_OFFSET).contains(&h.base_offset) || h.last_offset_delta < 0 {
            let reason = format!(
                "record batch with base offset {} and last offset delta {}",
                h.base_offset, h.last_offset_delta
            );
            return Err(self.corrupt(self.next_offset, reason));
        }
        let end = h.base_offset + i64::from(h.last_offset_delta) + 1;
        if self.check_crcs {
            let computed = batch::compute_crc(batch.as_bytes());
            if computed != h.crc {
                let reason = format!(
                    "record batch of offsets {}..={} fails its CRC32C: {:#010x} stored, {computed:#010x} computed",
                    h.base_offset,
                    end - 1,
                    h.crc
                );
                return Err(self.corrupt(h.base_offset, reason));
            }
        }
        // Java keeps any epoch but -1; other negatives are no epoch either,
        // and must not reach the broker as a last fetched epoch.
        let leader_epoch = (h.partition_leader_epoch >= 0).then_some(h.partition_leader_epoch);
        // Before the position check, as in Java: a batch below the position
        // still moves the aborted-transaction bookkeeping along.
        if h.producer_id >= 0 && self.aborted.is_some() {
            let aborts = h.is_control() && self.is_abort_marker(batch)?;
            if let Some(filter) = self.aborted.as_mut() {
                filter.reach(end - 1);
                if aborts {
                    filter.open.remove(&h.producer_id);
                } else if h.is_transactional() && filter.open.contains(&h.producer_id) {
                    self.advance(end, leader_epoch);
                    return Ok(());
                }
            }
        }
        // Nothing to return: transaction markers, batches emptied by
        // compaction, and a first batch wholly below the position. Skipping
        // them undecoded still moves the position past them.
        if h.is_control() || h.record_count <= 0 || end <= self.next_offset {
            self.advance(end, leader_epoch);
            return Ok(());
        }
        let records = batch.records(self.decompress_limit).map_err(|e| self.corrupt(h.base_offset, e.to_string()))?;
        self.cursor = Some(Cursor::Batch {
            records,
            leader_epoch,
            timestamp_type: h.timestamp_type(),
            base_offset: h.base_offset,
            end,
        });
        // One allocation per batch instead of doubling per record; the count
        // is checked against the data by `records`, so it is not inflated.
        out.reserve((h.record_count as usize).min(max - out.len()));
        Ok(())
    }

    /// Whether a control batch holds an abort marker (its first record, as
    /// Java reads it).
    fn is_abort_marker(&self, batch: &RecordBatch) -> Result<bool, FetchError> {
        let base = batch.header().base_offset;
        let mut records = batch.records(self.decompress_limit).map_err(|e| self.corrupt(base, e.to_string()))?;
        let Some(first) = records.next_raw() else { return Ok(false) };
        let first = first.map_err(|e| self.corrupt(base, e.to_string()))?;
        let marker = ControlRecord::parse(first.key.as_deref().unwrap_or_default(), first.value.as_deref())
            .map_err(|e| self.corrupt(base, format!("control record: {e}")))?;
        Ok(marker.kind == ControlRecordType::Abort)
    }

    fn open_legacy(&mut self, entry: Bytes) -> Result<(), FetchError> {
        // A legacy entry's offset is its last offset: the message's own, or
        // for a compressed wrapper that of its last inner message.
        let last = match entry.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(b) => i64::from_be_bytes(b),
            None => return Err(self.corrupt(self.next_offset, "truncated legacy message".to_string())),
        };
        if !(0..=MAX_BASE_OFFSET).contains(&last) {
            return Err(self.corrupt(self.next_offset, format!("legacy message with offset {last}")));
        }
        let end = last + 1;
        if end <= self.next_offset {
            self.advance(end, None);
            return Ok(());
        }
        let records = legacy::decode_message_set(entry, self.decompress_limit, self.check_crcs)
            .map_err(|e| self.corrupt(self.next_offset, e.to_string()))?;
        if let Some(bad) = records.iter().find(|r| !(0..=last).contains(&r.offset)) {
            let reason = format!("legacy message offset {} outside the wrapper's range ..={last}", bad.offset);
            return Err(self.corrupt(self.next_offset, reason));
        }
        self.cursor = Some(Cursor::Legacy { records: records.into_iter(), end });
        Ok(())
    }

    /// Moves the position to `end` (never back), past offsets in a batch of
    /// `epoch`.
    fn advance(&mut self, end: i64, epoch: Option<i32>) {
        if end > self.next_offset {
            self.next_offset = end;
            self.last_epoch = epoch;
        }
    }

    fn corrupt(&self, offset: i64, reason: String) -> FetchError {
        FetchError::Corrupt { tp: self.tp.clone(), offset, reason }
    }
}

/// The offset after the last whole entry of `records`, from headers only.
fn end_of(records: &Bytes) -> Option<i64> {
    let mut end = None;
    for entry in RecordSet::new(records.clone()) {
        match entry {
            Ok(RecordSetEntry::Batch(b)) => end = Some(b.header().last_offset().saturating_add(1)),
            // A legacy entry starts with its (last) offset.
            Ok(RecordSetEntry::Legacy(bytes)) => {
                let offset = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(i64::from_be_bytes)?;
                end = Some(offset.saturating_add(1));
            }
            Err(_) => break,
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use kafka_protocol::Compression;
    use kafka_protocol::records::{BatchBuilder, ControlRecord, ControlRecordType, Header};

    use super::*;

    const CODECS: [Compression; 5] =
        [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    fn tp() -> TopicPartition {
        TopicPartition::new("orders", 2)
    }

    /// A batch of `count` records at `base..`, values "v<offset>", as a
    /// broker stores it (base offset and leader epoch stamped).
    fn batch(codec: Compression, base: i64, count: i64, epoch: i32) -> Vec<u8> {
        let mut b = BatchBuilder::new(codec, None);
        b.set_base_offset(base);
        b.set_partition_leader_epoch(epoch);
        for o in base..base + count {
            let headers = [Header::new("h", format!("{o}"))];
            b.append(1_000 + o, Some(format!("k{o}").as_bytes()), Some(format!("v{o}").as_bytes()), &headers);
        }
        b.finish().unwrap().to_vec()
    }

    fn control(base: i64, epoch: i32) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None, None);
        b.set_base_offset(base);
        b.set_partition_leader_epoch(epoch);
        b.set_producer(7, 0, 0);
        b.append_control(5_000, &ControlRecord { kind: ControlRecordType::Commit, coordinator_epoch: 1 });
        b.finish().unwrap().to_vec()
    }

    fn fetch_with(data: Vec<u8>, offset: i64, options: FetchOptions) -> CompletedFetch {
        CompletedFetch::new(tp(), offset, Bytes::from(data), options)
    }

    fn fetch(data: Vec<u8>, offset: i64) -> CompletedFetch {
        fetch_with(data, offset, FetchOptions::default())
    }

    /// Takes everything, `max` at a time, checking the position moves with
    /// the records; returns the offsets and the final position and epoch.
    fn drain_all(f: &mut CompletedFetch, max: usize) -> (Vec<i64>, i64, Option<i32>) {
        let (mut position, mut epoch) = (f.next_fetch_offset(), None);
        let mut offsets = Vec::new();
        loop {
            let got = f.take(max, &mut position, &mut epoch).unwrap();
            assert!(got.len() <= max);
            if let Some(last) = got.last() {
                assert!(position > last.offset);
            }
            offsets.extend(got.iter().map(|r| r.offset));
            if got.len() < max {
                assert!(f.is_exhausted());
                return (offsets, position, epoch);
            }
        }
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn records_carry_their_fields_and_share_the_buffer() {
        for codec in CODECS {
            let data = Bytes::from(batch(codec, 100, 3, 9));
            let mut f = CompletedFetch::new(tp(), 100, data.clone(), FetchOptions::default());
            let (mut position, mut epoch) = (100, None);
            let got = f.take(10, &mut position, &mut epoch).unwrap();
            assert_eq!(got.len(), 3, "{codec}");
            let r = &got[1];
            assert_eq!((&*r.topic, r.partition, r.offset, r.timestamp), ("orders", 2, 101, 1_101));
            assert_eq!(r.timestamp_type, TimestampType::CreateTime);
            assert_eq!((r.key.as_deref(), r.value.as_deref()), (Some(&b"k101"[..]), Some(&b"v101"[..])));
            assert_eq!(r.headers, [Header::new("h", "101")]);
            assert_eq!(r.leader_epoch, Some(9));
            assert_eq!((position, epoch), (103, Some(9)));
            if codec == Compression::None {
                let value = r.value.as_ref().unwrap();
                let inside = data.as_ptr_range().contains(&value.as_ptr());
                assert!(inside, "uncompressed values are slices of the fetched bytes");
            }
        }
    }

    #[test]
    fn records_below_the_position_are_skipped() {
        for codec in CODECS {
            // The broker returns the batch holding offset 13 whole.
            let mut f = fetch(cat(&[batch(codec, 10, 5, 0), batch(codec, 15, 2, 0)]), 13);
            let (offsets, position, _) = drain_all(&mut f, 100);
            assert_eq!(offsets, [13, 14, 15, 16], "{codec}");
            assert_eq!(position, 17);
        }
    }

    #[test]
    fn max_is_respected_across_calls() {
        for codec in CODECS {
            let mut f = fetch(cat(&[batch(codec, 0, 5, 1), batch(codec, 5, 5, 2)]), 0);
            let (mut position, mut epoch) = (0, None);
            let mut seen = Vec::new();
            for (want, pos, ep) in [(3, 3, 1), (3, 6, 2), (3, 9, 2), (1, 10, 2), (0, 10, 2)] {
                let got = f.take(3, &mut position, &mut epoch).unwrap();
                assert_eq!((got.len(), position, epoch), (want, pos, Some(ep)), "{codec}");
                seen.extend(got.iter().map(|r| r.offset));
            }
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
            assert!(f.is_exhausted());
            assert_eq!(f.take(0, &mut position, &mut epoch).unwrap(), []);
        }
    }

    #[test]
    fn exhaustion_is_reported_with_the_last_record() {
        for codec in CODECS {
            let mut f = fetch(cat(&[batch(codec, 0, 2, 0), batch(codec, 2, 2, 0)]), 0);
            let (mut position, mut epoch) = (0, None);
            assert_eq!(f.take(2, &mut position, &mut epoch).unwrap().len(), 2);
            assert!(!f.is_exhausted(), "{codec}");
            assert_eq!(f.take(2, &mut position, &mut epoch).unwrap().len(), 2);
            assert!(f.is_exhausted(), "{codec}: no call needed to learn that nothing is left");
            assert_eq!(position, 4);
        }
        // Something after the last record (a marker) takes one more call.
        let mut f = fetch(cat(&[batch(Compression::None, 0, 2, 0), control(2, 0)]), 0);
        let (mut position, mut epoch) = (0, None);
        assert_eq!(f.take(2, &mut position, &mut epoch).unwrap().len(), 2);
        assert!(!f.is_exhausted());
        assert!(f.take(2, &mut position, &mut epoch).unwrap().is_empty());
        assert!(f.is_exhausted());
        assert_eq!(position, 3);
    }

    #[test]
    fn control_batches_are_skipped_and_passed() {
        for codec in CODECS {
            let data = cat(&[batch(codec, 0, 3, 1), control(3, 2), batch(codec, 4, 2, 2), control(6, 3)]);
            let (offsets, position, epoch) = drain_all(&mut fetch(data, 0), 100);
            assert_eq!(offsets, [0, 1, 2, 4, 5], "{codec}");
            // Past the trailing marker, in its epoch.
            assert_eq!((position, epoch), (7, Some(3)));
        }
        // A fetch of nothing but a marker still moves the position.
        let mut f = fetch(control(8, 4), 8);
        let (mut position, mut epoch) = (8, None);
        assert!(f.take(10, &mut position, &mut epoch).unwrap().is_empty());
        assert_eq!((position, epoch), (9, Some(4)));
    }

    /// Rewrites a batch's last offset delta, as compaction leaves it when
    /// it removes the batch's last records.
    fn with_last_offset_delta(mut b: Vec<u8>, delta: i32) -> Vec<u8> {
        b[23..27].copy_from_slice(&delta.to_be_bytes());
        batch::update_crc(&mut b);
        b
    }

    #[test]
    fn a_batch_with_nothing_to_return_still_moves_the_position() {
        for codec in CODECS {
            // Offsets 0..=2 remain of 0..=4; the consumer is at 3.
            let compacted = with_last_offset_delta(batch(codec, 0, 3, 5), 4);
            let mut f = fetch(compacted.clone(), 3);
            let (offsets, position, epoch) = drain_all(&mut f, 10);
            assert!(offsets.is_empty(), "{codec}");
            assert_eq!((position, epoch), (5, Some(5)));
            // From 0 the records come back, and the position still ends at 5.
            let (offsets, position, _) = drain_all(&mut fetch(compacted, 0), 10);
            assert_eq!((offsets, position), (vec![0, 1, 2], 5));
        }
        // A batch emptied by compaction: a header with a record count of 0.
        let mut empty = batch(Compression::None, 20, 1, 6)[..batch::HEADER_LEN].to_vec();
        let length = (batch::HEADER_LEN - batch::LOG_OVERHEAD) as i32;
        empty[8..12].copy_from_slice(&length.to_be_bytes());
        empty[57..61].copy_from_slice(&0i32.to_be_bytes());
        let empty = with_last_offset_delta(empty, 9);
        let (offsets, position, epoch) =
            drain_all(&mut fetch(cat(&[empty, batch(Compression::None, 30, 1, 6)]), 20), 10);
        assert_eq!((offsets, position, epoch), (vec![30], 31, Some(6)));
    }

    #[test]
    fn a_partial_trailing_batch_is_dropped() {
        for codec in CODECS {
            let mut data = cat(&[batch(codec, 0, 3, 0), batch(codec, 3, 3, 0)]);
            data.truncate(data.len() - 5);
            let (offsets, position, _) = drain_all(&mut fetch(data, 0), 100);
            assert_eq!((offsets, position), (vec![0, 1, 2], 3), "{codec}");
        }
        // Even a cut inside the next batch's length prefix.
        let mut data = cat(&[batch(Compression::None, 0, 1, 0), batch(Compression::None, 1, 1, 0)]);
        data.truncate(data.len() - 60);
        let (offsets, position, _) = drain_all(&mut fetch(data, 0), 100);
        assert_eq!((offsets, position), (vec![0], 1));
    }

    #[test]
    fn only_a_partial_batch_is_record_too_large() {
        let mut data = batch(Compression::None, 40, 10, 0);
        data.truncate(100);
        let mut f = fetch(data, 42);
        let (mut position, mut epoch) = (42, None);
        let err = f.take(10, &mut position, &mut epoch).unwrap_err();
        assert_eq!(err, FetchError::RecordTooLarge { tp: tp(), offset: 42, size: 100 });
        assert!(err.to_string().contains("max.partition.fetch.bytes"), "{err}");
        assert_eq!((position, epoch), (42, None));
        // It keeps failing rather than reading as an empty fetch.
        assert_eq!(f.take(10, &mut position, &mut epoch).unwrap_err(), err);
        assert!(!f.is_exhausted());
        // An empty fetch is no error.
        let (offsets, position, _) = drain_all(&mut fetch(Vec::new(), 7), 10);
        assert_eq!((offsets, position), (vec![], 7));
    }

    #[test]
    fn log_append_time_batches_use_the_append_time() {
        for codec in CODECS {
            let mut b = batch(codec, 0, 3, 0);
            batch::set_log_append_time(&mut b, 1_234_567);
            let mut f = fetch(b, 0);
            let (mut position, mut epoch) = (0, None);
            let got = f.take(10, &mut position, &mut epoch).unwrap();
            assert_eq!(got.len(), 3);
            for r in &got {
                assert_eq!((r.timestamp, r.timestamp_type), (1_234_567, TimestampType::LogAppendTime), "{codec}");
            }
        }
    }

    #[test]
    fn crc_mismatches_are_corruption_unless_unchecked() {
        let good = batch(Compression::None, 0, 2, 0);
        let mut bad = batch(Compression::None, 2, 2, 0);
        // The last byte of the last record's value ("v3") changes: still
        // decodable, but no longer what was written.
        let at = bad.len() - 3;
        bad[at] ^= 0x01;
        let data = cat(&[good, bad]);

        let mut f = fetch(data.clone(), 0);
        let (mut position, mut epoch) = (0, None);
        // Records before the bad batch come first, the error after.
        assert_eq!(f.take(10, &mut position, &mut epoch).unwrap().len(), 2);
        assert_eq!(position, 2);
        let err = f.take(10, &mut position, &mut epoch).unwrap_err();
        assert!(matches!(&err, FetchError::Corrupt { tp: t, offset: 2, .. } if *t == tp()), "{err:?}");
        assert!(err.to_string().contains("orders-2 at offset 2") && err.to_string().contains("CRC"), "{err}");
        assert_eq!(f.take(10, &mut position, &mut epoch).unwrap_err(), err, "the error sticks");
        assert_eq!(position, 2);

        let unchecked = FetchOptions { check_crcs: false, ..FetchOptions::default() };
        let (offsets, position, _) = drain_all(&mut fetch_with(data, 0, unchecked), 10);
        assert_eq!((offsets, position), (vec![0, 1, 2, 3], 4));
    }

    #[test]
    fn malformed_records_name_the_partition_and_offset() {
        let mut bad = batch(Compression::None, 5, 3, 0);
        // The second record's length prefix (records start at 61; the first
        // record is 1 + its length long) now runs past the batch.
        let first_len = usize::from(bad[batch::HEADER_LEN] >> 1);
        bad[batch::HEADER_LEN + 1 + first_len] = 0x7e;
        batch::update_crc(&mut bad);
        let mut f = fetch(bad, 5);
        let (mut position, mut epoch) = (5, None);
        let got = f.take(10, &mut position, &mut epoch).unwrap();
        assert_eq!(got.iter().map(|r| r.offset).collect::<Vec<_>>(), [5]);
        let err = f.take(10, &mut position, &mut epoch).unwrap_err();
        assert!(matches!(err, FetchError::Corrupt { offset: 6, .. }), "{err:?}");
        assert_eq!(position, 6);

        // A batch whose base offset leaves no room for its deltas.
        let mut huge = batch(Compression::None, 0, 1, 0);
        batch::set_base_offset(&mut huge, i64::MAX);
        let err = fetch(huge, 0).take(10, &mut 0, &mut None).unwrap_err();
        assert!(matches!(err, FetchError::Corrupt { offset: 0, .. }), "{err:?}");
    }

    /// A transactional batch of `producer` at `base..base + count`.
    fn txn(codec: Compression, producer: i64, base: i64, count: i64) -> Vec<u8> {
        let mut b = BatchBuilder::new(codec, None);
        b.set_base_offset(base);
        b.set_producer(producer, 0, 0);
        b.set_transactional(true);
        for o in base..base + count {
            b.append(1_000 + o, None, Some(format!("v{o}").as_bytes()), &[]);
        }
        b.finish().unwrap().to_vec()
    }

    /// `producer`'s commit or abort marker at `offset`.
    fn marker(producer: i64, offset: i64, kind: ControlRecordType) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None, None);
        b.set_base_offset(offset);
        b.set_producer(producer, 0, -1);
        b.set_transactional(true);
        b.append_control(5_000, &ControlRecord { kind, coordinator_epoch: 3 });
        b.finish().unwrap().to_vec()
    }

    /// Committed, aborted and interleaved transactions, a plain batch, and
    /// a producer with a committed then an aborted transaction; the
    /// aborted ones as the broker lists them, in no particular order.
    fn transactions(codec: Compression) -> (Vec<u8>, [(i64, i64); 3]) {
        use ControlRecordType::{Abort, Commit};
        let data = cat(&[
            txn(codec, 1, 0, 2),
            marker(1, 2, Commit),
            txn(codec, 2, 3, 2),
            marker(2, 5, Abort),
            batch(codec, 6, 2, 0),
            txn(codec, 1, 8, 1),
            marker(1, 9, Abort),
            txn(codec, 3, 10, 1),
            txn(codec, 4, 11, 1),
            marker(3, 12, Abort),
            marker(4, 13, Commit),
        ]);
        (data, [(3, 10), (1, 8), (2, 3)])
    }

    #[test]
    fn read_committed_skips_aborted_transactions() {
        for codec in CODECS {
            let (data, aborted) = transactions(codec);
            for max in [1, 2, 500] {
                let mut f = fetch(data.clone(), 0).read_committed(aborted);
                let (offsets, position, _) = drain_all(&mut f, max);
                assert_eq!(offsets, [0, 1, 6, 7, 11], "{codec}, max {max}");
                assert_eq!(position, 14);
            }
            // Uncommitted reads return every data record.
            let (offsets, position, _) = drain_all(&mut fetch(data.clone(), 0), 500);
            assert_eq!(offsets, [0, 1, 3, 4, 6, 7, 8, 10, 11], "{codec}");
            assert_eq!(position, 14);
            // Starting inside the range: batches below the position still
            // open their producers' aborted transactions.
            let mut f = fetch(data.clone(), 4).read_committed(aborted);
            assert_eq!(drain_all(&mut f, 500).0, [6, 7, 11], "{codec}");
            // Without the list nothing counts as aborted.
            let mut f = fetch(data, 0).read_committed([]);
            assert_eq!(drain_all(&mut f, 500).0, [0, 1, 3, 4, 6, 7, 8, 10, 11], "{codec}");
        }
    }

    #[test]
    fn an_unreadable_marker_under_read_committed_is_corruption() {
        let mut bad = marker(1, 2, ControlRecordType::Abort);
        // The marker's key length, after the record's length, attributes,
        // timestamp delta and offset delta (one byte each here), now says
        // 2 bytes instead of 4.
        let key_len_at = batch::HEADER_LEN + 4;
        assert_eq!(bad[key_len_at], 8, "zigzag varint of the 4-byte key");
        bad[key_len_at] = 4;
        batch::update_crc(&mut bad);
        let data = cat(&[txn(Compression::None, 1, 0, 2), bad]);
        let mut f = fetch(data, 0).read_committed([(1, 0)]);
        let (mut position, mut epoch) = (0, None);
        let err = f.take(10, &mut position, &mut epoch).unwrap_err();
        assert!(matches!(err, FetchError::Corrupt { offset: 2, .. }), "{err:?}");
        assert_eq!(position, 2);
    }

    #[test]
    fn a_compression_bomb_is_an_error_not_an_allocation() {
        let options = FetchOptions { check_crcs: true, min_decompress_limit: 1 << 20 };
        let zeros = vec![0u8; 4 << 20];
        for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
            let mut b = BatchBuilder::new(codec, None);
            b.append(0, None, Some(&zeros), &[]);
            let data = b.finish().unwrap().to_vec();
            assert!(data.len() * DECOMPRESS_RATIO < zeros.len(), "{codec} must beat the ratio for this test");
            let err = fetch_with(data.clone(), 0, options).take(10, &mut 0, &mut None).unwrap_err();
            assert!(matches!(err, FetchError::Corrupt { offset: 0, .. }), "{codec}: {err:?}");
            assert!(err.to_string().contains("limit"), "{err}");
            // The same batch within the default limit reads fine.
            let got = fetch(data, 0).take(10, &mut 0, &mut None).unwrap();
            assert_eq!(got[0].value.as_ref().map(Bytes::len), Some(zeros.len()));
        }
    }

    #[test]
    fn legacy_message_sets_are_read() {
        use kafka_protocol::records::legacy::encode_message;

        let mut data = encode_message(3, 0, 0, -1, Some(b"k3"), Some(b"v3"));
        data.extend(encode_message(4, 1, 0, 1_444, None, Some(b"v4")));
        // A gzip wrapper of magic 1: relative inner offsets, the wrapper
        // carrying the last one's absolute offset.
        let mut inner = Vec::new();
        for i in 0..3 {
            inner.extend(encode_message(i, 1, 0, 2_000 + i, None, Some(format!("w{i}").as_bytes())));
        }
        let mut packed = Vec::new();
        kafka_protocol::compression::compress(Compression::Gzip, None, &inner, &mut packed).unwrap();
        data.extend(encode_message(7, 1, 1, 2_002, None, Some(&packed)));

        let mut f = fetch(data.clone(), 4);
        let (mut position, mut epoch) = (4, Some(1));
        let got = f.take(10, &mut position, &mut epoch).unwrap();
        let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [4, 5, 6, 7]);
        assert_eq!((got[0].timestamp, got[0].value.as_deref()), (1_444, Some(&b"v4"[..])));
        assert_eq!((got[3].timestamp, got[3].value.as_deref()), (2_002, Some(&b"w2"[..])));
        assert!(got.iter().all(|r| r.leader_epoch.is_none() && r.headers.is_empty()));
        assert_eq!((position, epoch), (8, None));

        let mut corrupt = data;
        corrupt[20] ^= 0xff;
        let err = fetch(corrupt, 3).take(10, &mut 3, &mut None).unwrap_err();
        assert!(matches!(err, FetchError::Corrupt { offset: 3, .. }), "{err:?}");
    }

    #[test]
    fn a_moved_position_makes_the_fetch_stale() {
        let mut f = fetch(batch(Compression::None, 0, 5, 0), 0);
        let (mut position, mut epoch) = (0, None);
        assert_eq!(f.take(2, &mut position, &mut epoch).unwrap().len(), 2);
        // The application seeks back to 0: these records are no longer next.
        let mut sought = 0;
        assert!(f.take(2, &mut sought, &mut epoch).unwrap().is_empty());
        assert_eq!(sought, 0);
        assert!(f.is_exhausted());
        assert!(f.take(2, &mut position, &mut epoch).unwrap().is_empty());
    }

    #[test]
    fn the_epoch_is_that_of_the_last_offset_passed() {
        let data = cat(&[batch(Compression::None, 0, 2, 3), batch(Compression::None, 2, 2, -1)]);
        let mut f = fetch(data, 0);
        let (mut position, mut epoch) = (0, Some(1));
        f.take(2, &mut position, &mut epoch).unwrap();
        assert_eq!((position, epoch), (2, Some(3)));
        let got = f.take(2, &mut position, &mut epoch).unwrap();
        assert_eq!((position, epoch, got[0].leader_epoch), (4, None, None));
    }

    #[test]
    fn hostile_data_never_panics() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut clean: Vec<Vec<u8>> =
            CODECS.iter().map(|&c| cat(&[batch(c, 0, 4, 1), control(4, 1), batch(c, 5, 3, 2)])).collect();
        let mut legacy = kafka_protocol::records::legacy::encode_message(0, 1, 0, 5, Some(b"k"), Some(b"v"));
        legacy.extend(kafka_protocol::records::legacy::encode_message(1, 0, 0, -1, None, Some(b"w")));
        clean.push(legacy);
        clean.extend(CODECS.iter().map(|&c| transactions(c).0));
        for round in 0..4_000 {
            let mut data = clean[round % clean.len()].clone();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..data.len());
                data[at] = rng.u8(..);
            }
            if rng.bool() {
                data.truncate(rng.usize(..=data.len()));
            }
            let options = FetchOptions { check_crcs: rng.bool(), min_decompress_limit: 1 << 16 };
            let mut f = fetch_with(data, 0, options);
            if rng.bool() {
                let aborted: Vec<(i64, i64)> = (0..rng.usize(..4)).map(|_| (rng.i64(-1..5), rng.i64(-2..16))).collect();
                f = f.read_committed(aborted);
            }
            let (mut position, mut epoch) = (0, None);
            for _ in 0..20 {
                let before = position;
                match f.take(3, &mut position, &mut epoch) {
                    Ok(got) if got.is_empty() && f.is_exhausted() => break,
                    Ok(got) => assert!(got.iter().all(|r| r.offset >= before && r.offset < position)),
                    Err(_) => break,
                }
                assert!(position >= before);
            }
        }
    }
}
