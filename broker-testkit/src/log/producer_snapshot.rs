//! Producer-state snapshots: what a replica knows of each producer as of
//! an offset, saved as `<offset>.snapshot` (Kafka's
//! `ProducerStateManager` snapshot files).
//!
//! Every replica follows the batches it appends: per producer id the
//! epoch, the last data batch (last sequence, last offset, offset delta,
//! timestamp), the coordinator epoch of its last end marker and the first
//! offset of its open transaction. The log saves the state when it rolls a
//! segment (named by the new segment's base offset) and on clean shutdown
//! (named by the log end offset); recovery loads the newest snapshot at or
//! below the recovered log end and replays only the batches after it, so a
//! producer whose batches retention deleted is still known.
//!
//! File format (Kafka's, big-endian): `version:i16 (1) crc:u32 count:i32`
//! then per producer `producer_id:i64 epoch:i16 last_sequence:i32
//! last_offset:i64 offset_delta:i32 timestamp:i64 coordinator_epoch:i32
//! current_txn_first_offset:i64`; the CRC32C covers everything after the
//! CRC field. A producer with no data batch under its epoch has last
//! sequence and last offset -1 and offset delta 0; no open transaction is
//! -1.

use std::collections::BTreeMap;

use kafka_protocol::records::RecordBatch;

use super::control_batch::ControlBatchRecord;
use super::segment::Segment;

/// The snapshot format version Kafka writes and reads.
pub const SNAPSHOT_VERSION: i16 = 1;
/// Bytes before the entries: version, CRC, entry count.
const HEADER: usize = 2 + 4 + 4;
/// Bytes per entry.
const ENTRY: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

/// What a replica knows of one producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSnapshotEntry {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub epoch: i16,
    /// The last sequence of its last data batch under `epoch`, or -1.
    pub last_sequence: i32,
    /// The last offset of that batch, or -1.
    pub last_offset: i64,
    /// That batch's last offset minus its first (0 without one).
    pub offset_delta: i32,
    /// The timestamp of its last batch or marker.
    pub timestamp: i64,
    /// The coordinator epoch of its last end marker, or -1.
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction, or -1.
    pub current_txn_first_offset: i64,
}

impl ProducerSnapshotEntry {
    fn new(producer_id: i64) -> Self {
        ProducerSnapshotEntry {
            producer_id,
            epoch: -1,
            last_sequence: -1,
            last_offset: -1,
            offset_delta: 0,
            timestamp: -1,
            coordinator_epoch: -1,
            current_txn_first_offset: -1,
        }
    }

    /// The first sequence of the last data batch (Kafka's
    /// `decrementSequence`, which wraps below 0 to `i32::MAX`).
    pub fn first_sequence(&self) -> i32 {
        if self.last_sequence < self.offset_delta {
            i32::MAX - (self.offset_delta - self.last_sequence) + 1
        } else {
            self.last_sequence - self.offset_delta
        }
    }

    /// Kafka's `maybeUpdateProducerEpoch`: a new epoch forgets the batches.
    fn set_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.epoch = epoch;
            self.last_sequence = -1;
            self.last_offset = -1;
            self.offset_delta = 0;
        }
    }
}

/// The producers a replica's log has seen, by id; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerSnapshot(BTreeMap<i64, ProducerSnapshotEntry>);

impl ProducerSnapshot {
    /// Every producer, by id.
    pub fn entries(&self) -> impl Iterator<Item = &ProducerSnapshotEntry> + '_ {
        self.0.values()
    }

    /// The producer `producer_id`, if known.
    pub fn get(&self, producer_id: i64) -> Option<&ProducerSnapshotEntry> {
        self.0.get(&producer_id)
    }

    /// Follows one appended batch.
    pub(crate) fn observe(&mut self, batch: &RecordBatch) {
        let h = batch.header();
        if h.producer_id < 0 {
            return;
        }
        if h.is_control() {
            let Some(marker) = ControlBatchRecord::read(batch).filter(|r| r.end_marker().is_some()) else { return };
            let e = self.0.entry(h.producer_id).or_insert_with(|| ProducerSnapshotEntry::new(h.producer_id));
            e.set_epoch(h.producer_epoch);
            e.coordinator_epoch = marker.control.coordinator_epoch;
            e.timestamp = marker.timestamp;
            e.current_txn_first_offset = -1;
            return;
        }
        let e = self.0.entry(h.producer_id).or_insert_with(|| ProducerSnapshotEntry::new(h.producer_id));
        e.set_epoch(h.producer_epoch);
        e.last_sequence = last_sequence(h.base_sequence, h.last_offset_delta);
        e.last_offset = h.last_offset();
        e.offset_delta = h.last_offset_delta;
        e.timestamp = h.max_timestamp;
        if h.is_transactional() && e.current_txn_first_offset < 0 {
            e.current_txn_first_offset = h.base_offset;
        }
    }

    /// Follows the batches of `segments` from offset `from` on.
    pub(crate) fn replay<'a>(&mut self, segments: impl IntoIterator<Item = &'a Segment>, from: i64) {
        for s in segments {
            for b in s.batches().iter().filter(|b| b.base_offset() >= from) {
                self.observe(b.record_batch());
            }
        }
    }

    /// The snapshot file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + ENTRY * self.0.len());
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(self.0.len() as i32).to_be_bytes());
        for e in self.0.values() {
            out.extend_from_slice(&e.producer_id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&e.last_sequence.to_be_bytes());
            out.extend_from_slice(&e.last_offset.to_be_bytes());
            out.extend_from_slice(&e.offset_delta.to_be_bytes());
            out.extend_from_slice(&e.timestamp.to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.extend_from_slice(&e.current_txn_first_offset.to_be_bytes());
        }
        let crc = crc32c::crc32c(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Reads a snapshot file; the error says why it is unusable (Kafka's
    /// `CorruptSnapshotException`: another version, a bad CRC, a bad size).
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let (Some(version), Some(crc), Some(count)) = (bytes.get(0..2), bytes.get(2..6), bytes.get(6..10)) else {
            return Err(format!("{} bytes is too short for a snapshot", bytes.len()));
        };
        let version = i16::from_be_bytes([version[0], version[1]]);
        if version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {version}"));
        }
        let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let computed = crc32c::crc32c(&bytes[6..]);
        if stored != computed {
            return Err(format!("bad CRC: stored {stored}, computed {computed}"));
        }
        let count = i32::from_be_bytes([count[0], count[1], count[2], count[3]]);
        let entries = &bytes[HEADER..];
        if count < 0 || entries.len() != count as usize * ENTRY {
            return Err(format!("{count} entries do not fill {} bytes", entries.len()));
        }
        let mut map = BTreeMap::new();
        for c in entries.chunks_exact(ENTRY) {
            let mut r = Reader(c);
            let e = ProducerSnapshotEntry {
                producer_id: i64::from_be_bytes(r.take()),
                epoch: i16::from_be_bytes(r.take()),
                last_sequence: i32::from_be_bytes(r.take()),
                last_offset: i64::from_be_bytes(r.take()),
                offset_delta: i32::from_be_bytes(r.take()),
                timestamp: i64::from_be_bytes(r.take()),
                coordinator_epoch: i32::from_be_bytes(r.take()),
                current_txn_first_offset: i64::from_be_bytes(r.take()),
            };
            map.insert(e.producer_id, e);
        }
        Ok(ProducerSnapshot(map))
    }
}

/// Reads fixed-size fields from an entry whose length was checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
}

/// Kafka's `incrementSequence`: sequences wrap from `i32::MAX` to 0.
fn last_sequence(base: i32, delta: i32) -> i32 {
    if base < 0 {
        return -1;
    }
    if base > i32::MAX - delta { delta - (i32::MAX - base) - 1 } else { base + delta }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::Compression;
    use kafka_protocol::records::{BatchBuilder, ControlRecord, ControlRecordType};

    use super::*;

    fn batch(pid: i64, epoch: i16, seq: i32, n: usize, offset: i64, transactional: bool) -> RecordBatch {
        let mut b = BatchBuilder::new(Compression::None, None);
        b.set_producer(pid, epoch, seq);
        b.set_transactional(transactional);
        b.set_base_offset(offset);
        for i in 0..n {
            b.append(100 + i as i64, None, Some(b"v"), &[]);
        }
        RecordBatch::new(b.finish().unwrap()).unwrap()
    }

    fn marker(pid: i64, epoch: i16, offset: i64) -> RecordBatch {
        let mut b = BatchBuilder::new(Compression::None, None);
        b.set_producer(pid, epoch, -1);
        b.set_base_offset(offset);
        b.append_control(500, &ControlRecord { kind: ControlRecordType::Abort, coordinator_epoch: 4 });
        RecordBatch::new(b.finish().unwrap()).unwrap()
    }

    #[test]
    fn follows_batches_and_markers_and_round_trips() {
        let mut s = ProducerSnapshot::default();
        s.observe(&batch(7, 0, 0, 3, 0, false));
        s.observe(&batch(8, 2, 10, 2, 3, true));
        s.observe(&batch(8, 2, 12, 1, 5, true));
        let e = *s.get(8).unwrap();
        assert_eq!((e.last_sequence, e.last_offset, e.offset_delta, e.current_txn_first_offset), (12, 5, 0, 3));
        let e = *s.get(7).unwrap();
        assert_eq!((e.epoch, e.last_sequence, e.first_sequence(), e.last_offset, e.offset_delta), (0, 2, 0, 2, 2));
        // A marker with a new epoch forgets the batch and ends the transaction.
        s.observe(&marker(8, 3, 6));
        let e = *s.get(8).unwrap();
        assert_eq!(
            (e.epoch, e.last_sequence, e.last_offset, e.coordinator_epoch, e.timestamp, e.current_txn_first_offset),
            (3, -1, -1, 4, 500, -1)
        );
        let bytes = s.encode();
        assert_eq!(bytes.len(), HEADER + 2 * ENTRY);
        assert_eq!(&bytes[0..2], &[0, 1]);
        assert_eq!(ProducerSnapshot::decode(&bytes), Ok(s.clone()));
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(ProducerSnapshot::decode(&bad).unwrap_err().contains("CRC"));
        assert!(ProducerSnapshot::decode(&bytes[..9]).is_err());
        assert!(ProducerSnapshot::decode(&bytes[..HEADER + 3]).is_err());
        assert_eq!(last_sequence(i32::MAX - 1, 3), 1);
    }
}
