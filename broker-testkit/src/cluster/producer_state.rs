//! Idempotent-producer state of one partition, as Kafka's
//! `ProducerStateManager` keeps it: per producer id, the current epoch and the
//! last five batches written (sequence range and offsets).
//!
//! Rules (Kafka 4.0, KIP-98 and KIP-360):
//! - a batch whose epoch and sequence range match a cached batch is a
//!   duplicate: it is not written again and answers with the original offset;
//! - an epoch lower than the producer's current one → INVALID_PRODUCER_EPOCH;
//! - a higher epoch must start at sequence 0 (clients bump their own epoch,
//!   KIP-360) → otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - same epoch: the first sequence must follow the last one (wrapping after
//!   `i32::MAX` to 0) → otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
//! - a producer the partition has no state for may start at any sequence
//!   (its state may have been lost to retention or DeleteRecords).
//!
//! The state is rebuilt from the log whenever a replica becomes leader or a
//! broker restarts, by replaying the batches' producer fields; producers
//! whose batches are gone are taken from the log's producer snapshot state
//! ([`crate::log::ProducerSnapshot`]).

use std::collections::{HashMap, VecDeque};

use kafka_protocol::ErrorCode;
use kafka_protocol::records::BatchHeader;

use crate::log::ProducerSnapshotEntry;

/// Batches remembered per producer (Kafka's `NUM_BATCHES_TO_RETAIN`).
pub const BATCHES_TO_RETAIN: usize = 5;

/// A batch of one producer, as remembered for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// First sequence number.
    pub first_seq: i32,
    /// Last sequence number.
    pub last_seq: i32,
    /// First offset it was written at.
    pub first_offset: i64,
    /// Last offset it was written at.
    pub last_offset: i64,
    /// Its max timestamp (returned as the log append time of a duplicate of
    /// a LogAppendTime batch).
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
    /// A transaction marker moved the producer to `epoch` and it has
    /// written nothing since: its next batch must start at sequence 0.
    bumped_by_marker: bool,
    /// Timestamp of its last batch or marker (DescribeProducers).
    last_timestamp: i64,
    /// Coordinator epoch of its last marker, if it has one (DescribeProducers,
    /// and the fencing of WriteTxnMarkers from an older coordinator).
    coordinator_epoch: Option<i32>,
}

/// What DescribeProducers reports of one producer (Kafka's
/// `ProducerStateEntry` as `activeProducers` lists it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerView {
    /// Producer id.
    pub producer_id: i64,
    /// Current epoch.
    pub epoch: i16,
    /// Last sequence written at that epoch, or -1.
    pub last_sequence: i32,
    /// Timestamp of the last batch or marker.
    pub last_timestamp: i64,
    /// Coordinator epoch of the last marker, or -1.
    pub coordinator_epoch: i32,
}

/// The verdict on an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceVerdict {
    /// Write it.
    Append,
    /// Already written: answer success with the original offsets.
    Duplicate(BatchMeta),
    /// Refuse it with this error.
    Reject(ErrorCode),
}

/// Producer state of one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) && next >= 0 || (last == i32::MAX && next == 0)
}

impl ProducerStates {
    /// No producers known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Judges a batch of producer `pid` at `epoch` covering sequences
    /// `first_seq..=last_seq`.
    pub fn check(&self, pid: i64, epoch: i16, first_seq: i32, last_seq: i32) -> SequenceVerdict {
        let Some(entry) = self.producers.get(&pid) else {
            return SequenceVerdict::Append;
        };
        if epoch < entry.epoch {
            return SequenceVerdict::Reject(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if epoch == entry.epoch {
            if let Some(dup) = entry.batches.iter().find(|b| b.first_seq == first_seq && b.last_seq == last_seq) {
                return SequenceVerdict::Duplicate(*dup);
            }
            return match entry.batches.back() {
                Some(last) if !in_sequence(last.last_seq, first_seq) => {
                    SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
                }
                None if entry.bumped_by_marker && first_seq != 0 => {
                    SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
                }
                _ => SequenceVerdict::Append,
            };
        }
        // A newer epoch: the producer bumped it and restarted its sequences.
        if first_seq != 0 {
            return SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        }
        SequenceVerdict::Append
    }

    /// Records a batch that was written.
    pub fn record(&mut self, pid: i64, epoch: i16, meta: BatchMeta) {
        let entry = self.producers.entry(pid).or_default();
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.bumped_by_marker = false;
        entry.last_timestamp = meta.timestamp;
        if entry.batches.len() == BATCHES_TO_RETAIN {
            entry.batches.pop_front();
        }
        entry.batches.push_back(meta);
    }

    /// A transaction marker of `pid` at `epoch` was written. Markers carry
    /// no sequence numbers, but one with a newer epoch (a coordinator that
    /// bumped it, KIP-890, or fenced a timed-out transaction) moves the
    /// producer to that epoch, so batches of the old epoch are fenced and
    /// the new epoch's sequences start afresh, as Kafka's
    /// `appendEndTxnMarker` does.
    pub fn marker(&mut self, pid: i64, epoch: i16) {
        let entry = self.producers.entry(pid).or_default();
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
            entry.bumped_by_marker = true;
        }
    }

    /// A marker written by the coordinator at `coordinator_epoch` at time
    /// `timestamp`: [`Self::marker`], and what DescribeProducers shows of it.
    pub fn marker_from(&mut self, pid: i64, epoch: i16, coordinator_epoch: Option<i32>, timestamp: i64) {
        self.marker(pid, epoch);
        let entry = self.producers.entry(pid).or_default();
        entry.last_timestamp = timestamp;
        if coordinator_epoch.is_some() {
            entry.coordinator_epoch = coordinator_epoch;
        }
    }

    /// The coordinator epoch of `pid`'s last marker, if any.
    pub fn coordinator_epoch_of(&self, pid: i64) -> Option<i32> {
        self.producers.get(&pid).and_then(|e| e.coordinator_epoch)
    }

    /// Every producer with state here, by producer id.
    pub fn describe(&self) -> Vec<ProducerView> {
        let mut v: Vec<ProducerView> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| ProducerView {
                producer_id,
                epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch.unwrap_or(-1),
            })
            .collect();
        v.sort_by_key(|p| p.producer_id);
        v
    }

    /// Rebuilds the state from a log's batch headers, oldest first.
    pub fn rebuild<'a>(headers: impl IntoIterator<Item = &'a BatchHeader>) -> Self {
        let mut s = ProducerStates::new();
        for h in headers {
            if h.producer_id >= 0 && h.is_control() {
                // The coordinator epoch is in the marker's record, not its
                // header: `rebuild_from_log` reads it from there.
                s.marker_from(h.producer_id, h.producer_epoch, None, h.max_timestamp);
                continue;
            }
            if h.producer_id < 0 || h.base_sequence < 0 {
                continue;
            }
            s.record(
                h.producer_id,
                h.producer_epoch,
                BatchMeta {
                    first_seq: h.base_sequence,
                    last_seq: h.last_sequence(),
                    first_offset: h.base_offset,
                    last_offset: h.last_offset(),
                    timestamp: h.max_timestamp,
                },
            );
        }
        s
    }

    /// Adds what a producer snapshot says of producers the log's batches
    /// no longer show (retention deleted them): their epoch and last batch,
    /// as Kafka's state loaded from a snapshot holds them.
    pub fn seed_missing<'a>(&mut self, entries: impl IntoIterator<Item = &'a ProducerSnapshotEntry>) {
        for e in entries {
            if self.producers.contains_key(&e.producer_id) || e.epoch < 0 {
                continue;
            }
            let mut entry = ProducerEntry {
                epoch: e.epoch,
                last_timestamp: e.timestamp,
                coordinator_epoch: (e.coordinator_epoch >= 0).then_some(e.coordinator_epoch),
                ..ProducerEntry::default()
            };
            if e.last_offset >= 0 && e.last_sequence >= 0 {
                entry.batches.push_back(BatchMeta {
                    first_seq: e.first_sequence(),
                    last_seq: e.last_sequence,
                    first_offset: e.last_offset - i64::from(e.offset_delta),
                    last_offset: e.last_offset,
                    timestamp: e.timestamp,
                });
            }
            self.producers.insert(e.producer_id, entry);
        }
    }

    /// [`Self::rebuild`] from the stored batches, which also recovers each
    /// producer's last coordinator epoch from its markers' records, as
    /// Kafka's replay of a log does.
    pub fn rebuild_from_log<'a>(batches: impl IntoIterator<Item = &'a crate::log::StoredBatch>) -> Self {
        let batches: Vec<&crate::log::StoredBatch> = batches.into_iter().collect();
        let mut s = ProducerStates::rebuild(batches.iter().map(|b| b.header()));
        for b in batches {
            let h = b.header();
            if h.producer_id >= 0
                && h.is_control()
                && let Some(marker) = crate::log::ControlBatchRecord::read(b.record_batch())
                && let Some(entry) = s.producers.get_mut(&h.producer_id)
            {
                entry.coordinator_epoch = Some(marker.control.coordinator_epoch);
            }
        }
        s
    }

    /// The current epoch of `pid`, if known (for inspection).
    pub fn epoch_of(&self, pid: i64) -> Option<i16> {
        self.producers.get(&pid).map(|e| e.epoch)
    }

    /// The batches remembered for `pid`, oldest first (for inspection).
    pub fn batches_of(&self, pid: i64) -> Vec<BatchMeta> {
        self.producers.get(&pid).map(|e| e.batches.iter().copied().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMeta {
        BatchMeta {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + i64::from(last_seq - first_seq),
            timestamp: 0,
        }
    }

    #[test]
    fn sequences_epochs_and_duplicates() {
        let mut s = ProducerStates::new();
        // Unknown producers may start anywhere.
        assert_eq!(s.check(1, 0, 17, 19), SequenceVerdict::Append);
        s.record(1, 0, meta(17, 19, 100));
        // The next batch must follow.
        assert_eq!(s.check(1, 0, 20, 24), SequenceVerdict::Append);
        assert_eq!(s.check(1, 0, 21, 24), SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
        s.record(1, 0, meta(20, 24, 103));
        // A retry of a written batch is a duplicate with its first offsets.
        assert_eq!(s.check(1, 0, 17, 19), SequenceVerdict::Duplicate(meta(17, 19, 100)));
        // A stale epoch is fenced.
        s.record(1, 2, meta(0, 0, 108));
        assert_eq!(s.check(1, 1, 1, 1), SequenceVerdict::Reject(ErrorCode::INVALID_PRODUCER_EPOCH));
        // A bumped epoch must restart at 0.
        assert_eq!(s.check(1, 3, 5, 5), SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
        assert_eq!(s.check(1, 3, 0, 4), SequenceVerdict::Append);
    }

    #[test]
    fn only_five_batches_are_remembered() {
        let mut s = ProducerStates::new();
        for i in 0..7 {
            s.record(9, 0, meta(i, i, i64::from(i)));
        }
        assert_eq!(s.batches_of(9).len(), BATCHES_TO_RETAIN);
        assert_eq!(s.check(9, 0, 2, 2), SequenceVerdict::Duplicate(meta(2, 2, 2)));
        // Older than the window: no longer recognised, and out of sequence.
        assert_eq!(s.check(9, 0, 1, 1), SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    }

    #[test]
    fn a_marker_with_a_newer_epoch_fences_the_old_one_and_restarts_sequences() {
        let mut s = ProducerStates::new();
        s.record(4, 0, meta(0, 9, 0));
        // A marker at the same epoch (transaction version 1) changes nothing.
        s.marker(4, 0);
        assert_eq!(s.check(4, 0, 10, 10), SequenceVerdict::Append);
        // A bumped one (version 2, or a fenced producer) does.
        s.marker(4, 1);
        assert_eq!(s.check(4, 0, 10, 10), SequenceVerdict::Reject(ErrorCode::INVALID_PRODUCER_EPOCH));
        assert_eq!(s.check(4, 1, 3, 3), SequenceVerdict::Reject(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
        assert_eq!(s.check(4, 1, 0, 3), SequenceVerdict::Append);
        s.record(4, 1, meta(0, 3, 11));
        assert_eq!(s.check(4, 1, 4, 4), SequenceVerdict::Append);
    }

    #[test]
    fn sequences_wrap_after_i32_max() {
        let mut s = ProducerStates::new();
        s.record(3, 0, meta(i32::MAX - 1, i32::MAX, 0));
        assert_eq!(s.check(3, 0, 0, 3), SequenceVerdict::Append);
    }
}
