//! The transactions of one partition, as its leader tracks them: which
//! producers have a transaction open here (and from which offset), and the
//! aborted transactions a read_committed fetch reports (the on-disk
//! `.txnindex` is each replica log's own, [`crate::log::TxnIndexEntry`]).
//!
//! A producer's transaction opens at its first transactional data batch
//! and ends at the commit or abort marker the coordinator writes. The last
//! stable offset (LSO) is the first offset of the oldest open transaction,
//! capped by the high watermark: read_committed consumers never read past
//! it. An aborted transaction is remembered with its offset range, so a
//! read_committed fetch can tell consumers which records to drop.
//!
//! Like the idempotent-producer state this lives on the leader only and is
//! rebuilt from the log whenever a replica becomes leader or a broker
//! restarts ([`PartitionTxns::rebuild`]).

use std::collections::BTreeMap;

use crate::log::{StoredBatch, end_marker_kind};

/// An aborted transaction, as Kafka's transaction index holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// The transaction's first offset on this partition.
    pub first_offset: i64,
    /// The offset of its abort marker.
    pub last_offset: i64,
    /// The last stable offset once the abort completed.
    pub last_stable_offset: i64,
}

/// Transactions of one partition; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct PartitionTxns {
    /// Open transactions: producer id → first offset.
    open: BTreeMap<i64, i64>,
    /// Aborted transactions, in marker order.
    aborted: Vec<AbortedTxn>,
}

impl PartitionTxns {
    /// No transactions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `producer_id` has a transaction open here.
    pub fn is_open(&self, producer_id: i64) -> bool {
        self.open.contains_key(&producer_id)
    }

    /// The open transactions: producer id → first offset.
    pub fn open(&self) -> &BTreeMap<i64, i64> {
        &self.open
    }

    /// Every aborted transaction remembered, oldest first.
    pub fn aborted(&self) -> &[AbortedTxn] {
        &self.aborted
    }

    /// The first offset of the oldest open transaction, if any.
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.open.values().copied().min()
    }

    /// The last stable offset under high watermark `hw`.
    pub fn last_stable_offset(&self, hw: i64) -> i64 {
        self.first_unstable_offset().map_or(hw, |first| first.min(hw))
    }

    /// A transactional data batch of `producer_id` was written at
    /// `base_offset`: its transaction is open from there, unless it already was.
    pub fn data_written(&mut self, producer_id: i64, base_offset: i64) {
        self.open.entry(producer_id).or_insert(base_offset);
    }

    /// A marker of `producer_id` was written at `offset`: its transaction
    /// (if any was open here) ends; an abort is indexed. `hw` is the high
    /// watermark after the write, for the recorded LSO.
    pub fn marker_written(&mut self, producer_id: i64, commit: bool, offset: i64, hw: i64) {
        let Some(first_offset) = self.open.remove(&producer_id) else { return };
        if !commit {
            let last_stable_offset = self.last_stable_offset(hw.max(offset + 1));
            self.aborted.push(AbortedTxn { producer_id, first_offset, last_offset: offset, last_stable_offset });
        }
    }

    /// The aborted transactions whose range overlaps `[from, upper)`, as a
    /// read_committed fetch reports them: (producer id, first offset).
    pub fn aborted_between(&self, from: i64, upper: i64) -> Vec<(i64, i64)> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < upper)
            .map(|a| (a.producer_id, a.first_offset))
            .collect()
    }

    /// Rebuilds the state from a log's batches, oldest first.
    pub fn rebuild<'a>(batches: impl IntoIterator<Item = &'a StoredBatch>) -> Self {
        let mut s = PartitionTxns::new();
        for b in batches {
            let h = b.header();
            if h.producer_id < 0 || !h.is_transactional() {
                continue;
            }
            if !h.is_control() {
                s.data_written(h.producer_id, h.base_offset);
                continue;
            }
            match end_marker_kind(b.record_batch()) {
                // The high watermark at the time is unknown here; the
                // marker's own end is the best bound (it is only recorded).
                Some(commit) => s.marker_written(h.producer_id, commit, h.base_offset, h.base_offset + 1),
                None => continue,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_transactions_hold_the_lso_and_aborts_are_indexed() {
        let mut t = PartitionTxns::new();
        assert_eq!(t.last_stable_offset(10), 10);
        t.data_written(7, 3);
        t.data_written(7, 5);
        t.data_written(8, 4);
        assert_eq!(t.last_stable_offset(10), 3);
        t.marker_written(7, false, 6, 7);
        assert_eq!(t.last_stable_offset(10), 4);
        assert_eq!(t.aborted_between(0, 10), vec![(7, 3)]);
        assert_eq!(t.aborted_between(7, 10), Vec::<(i64, i64)>::new());
        t.marker_written(8, true, 9, 10);
        assert_eq!(t.last_stable_offset(10), 10);
        assert_eq!(t.aborted().len(), 1);
        // A marker without an open transaction changes nothing.
        t.marker_written(9, false, 11, 12);
        assert_eq!(t.aborted().len(), 1);
    }
}
