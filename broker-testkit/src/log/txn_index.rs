//! The transaction index: each segment's list of the transactions aborted
//! by a marker in it (Kafka's `TransactionIndex`, the `.txnindex` file).
//!
//! Every replica keeps it, leader and follower alike, from the batches it
//! appends: a transactional data batch opens its producer's transaction at
//! its base offset unless one is open; an end marker closes it, and an
//! abort marker of a transaction that had data here adds an entry to the
//! segment the marker lands in. The entry's last stable offset is Kafka's
//! `ProducerStateManager.lastStableOffset`: the first offset of the oldest
//! other transaction still open, else the marker's offset + 1.
//!
//! File format (Kafka's `AbortedTxn`), 34 bytes per entry, big-endian:
//! `version:i16 (0) producer_id:i64 first_offset:i64 last_offset:i64
//! last_stable_offset:i64`. Kafka creates the file with the first entry,
//! so segments without aborts have none.

use std::collections::BTreeMap;

use kafka_protocol::records::RecordBatch;

use super::control_batch::end_marker_kind;
use super::segment::Segment;

/// One aborted transaction, as the transaction index stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnIndexEntry {
    /// The producer.
    pub producer_id: i64,
    /// The transaction's first offset in this partition.
    pub first_offset: i64,
    /// The offset of its abort marker.
    pub last_offset: i64,
    /// The partition's last stable offset once the abort was written.
    pub last_stable_offset: i64,
}

impl TxnIndexEntry {
    /// Bytes per entry on disk.
    pub const SIZE: usize = 34;
    /// The entry version Kafka writes and reads.
    pub const VERSION: i16 = 0;

    /// The entry as stored in `.txnindex`.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        out[0..2].copy_from_slice(&Self::VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    /// Reads a whole `.txnindex` file: None when its size is not a whole
    /// number of entries or an entry has another version (Kafka refuses
    /// such a file as corrupt).
    pub fn parse_file(bytes: &[u8]) -> Option<Vec<TxnIndexEntry>> {
        if !bytes.len().is_multiple_of(Self::SIZE) {
            return None;
        }
        bytes
            .chunks_exact(Self::SIZE)
            .map(|c| {
                let long = |at: usize| c.get(at..at + 8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
                let version = i16::from_be_bytes([c[0], c[1]]);
                (version == Self::VERSION).then_some(())?;
                Some(TxnIndexEntry {
                    producer_id: long(2)?,
                    first_offset: long(10)?,
                    last_offset: long(18)?,
                    last_stable_offset: long(26)?,
                })
            })
            .collect()
    }
}

/// The transactions a replica's log has open: producer id → first offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OpenTxns(BTreeMap<i64, i64>);

impl OpenTxns {
    /// Follows one appended batch; returns the index entry an abort marker
    /// makes.
    pub(crate) fn observe(&mut self, batch: &RecordBatch) -> Option<TxnIndexEntry> {
        let h = batch.header();
        if h.producer_id < 0 || !h.is_transactional() {
            return None;
        }
        if !h.is_control() {
            self.0.entry(h.producer_id).or_insert(h.base_offset);
            return None;
        }
        let commit = end_marker_kind(batch)?;
        let first_offset = self.0.remove(&h.producer_id)?;
        if commit {
            return None;
        }
        let last_stable_offset = self.0.values().copied().min().unwrap_or(h.base_offset + 1);
        Some(TxnIndexEntry { producer_id: h.producer_id, first_offset, last_offset: h.base_offset, last_stable_offset })
    }

    /// The state after `segments`' batches, oldest first.
    pub(crate) fn rebuild<'a>(segments: impl IntoIterator<Item = &'a Segment>) -> Self {
        let mut open = OpenTxns::default();
        for s in segments {
            for b in s.batches() {
                open.observe(b.record_batch());
            }
        }
        open
    }
}

/// Recomputes every segment's transaction index from the batches, oldest
/// segment first, and returns the transactions left open. An abort marker
/// whose transaction began before the first batch (deleted by retention)
/// keeps the entry `known` has for it (the index read from disk): the
/// batches no longer say where it began.
pub(crate) fn rebuild_indexes<'a>(
    segments: impl IntoIterator<Item = &'a mut Segment>,
    known: &dyn Fn(i64, i64) -> Option<TxnIndexEntry>,
) -> OpenTxns {
    let mut open = OpenTxns::default();
    for s in segments {
        let mut entries = Vec::new();
        for b in s.batches() {
            let batch = b.record_batch();
            let h = batch.header();
            let unseen_abort = h.is_transactional()
                && h.producer_id >= 0
                && !open.0.contains_key(&h.producer_id)
                && end_marker_kind(batch) == Some(false);
            match open.observe(batch) {
                Some(entry) => entries.push(entry),
                None if unseen_abort => entries.extend(known(h.producer_id, h.base_offset)),
                None => {}
            }
        }
        s.set_txn_index(entries);
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_in_kafkas_layout() {
        let e = TxnIndexEntry { producer_id: 1000, first_offset: 3, last_offset: 7, last_stable_offset: 8 };
        let b = e.to_bytes();
        assert_eq!(&b[0..2], &[0, 0]);
        assert_eq!(&b[2..10], &1000i64.to_be_bytes());
        assert_eq!(&b[26..34], &8i64.to_be_bytes());
        let two: Vec<u8> = [b, b].concat();
        assert_eq!(TxnIndexEntry::parse_file(&two), Some(vec![e, e]));
        assert_eq!(TxnIndexEntry::parse_file(&two[..33]), None);
        let mut v1 = b;
        v1[1] = 1;
        assert_eq!(TxnIndexEntry::parse_file(&v1), None);
        assert_eq!(TxnIndexEntry::parse_file(&[]), Some(vec![]));
    }
}
