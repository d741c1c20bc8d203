//! Sequence-number bookkeeping of the idempotent producer, as the Java
//! client's `TransactionManager` keeps it for a producer without a
//! transactional id.
//!
//! Per partition: the next sequence to hand out, the last acknowledged one,
//! the sequences of unresolved batches (sent or waiting for a retry), and
//! the epoch those sequences belong to. Invariants:
//!
//! - a batch gets its sequence when first drained and keeps it across
//!   retries, so the broker can drop duplicates;
//! - a partition sends a retried batch only when it is the first unresolved
//!   one, so batches reach the broker in sequence order;
//! - a partition's requests on the wire all go to one broker: after its
//!   leader moves, nothing goes to the new leader until the old one has
//!   answered (or the requests have failed). Otherwise a batch whose
//!   answer is lost on the old leader's connection may be retried only
//!   after more than five later batches were written through the new one;
//!   the broker, which remembers five, then answers its retry
//!   OUT_OF_ORDER_SEQUENCE_NUMBER although it wrote it, and nothing the
//!   producer can do next is right (renumbering it writes it twice);
//! - OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for a batch that is
//!   not next in line is retried as is (an earlier batch is still missing);
//!   for the batch that is next in line, the broker has lost or never had our
//!   state, so once nothing is on the wire for that partition the producer
//!   bumps its epoch itself (KIP-360) and renumbers the partition's
//!   unresolved batches from 0;
//! - a batch that failed for good, or whose outcome is unknown, leaves a gap
//!   in the sequence: the partition is renumbered under a bumped epoch too;
//! - other partitions keep their sequences under the old epoch until they
//!   have nothing unresolved, then restart at 0 under the new one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::batch::ProducerIdentity;
use crate::TopicPartition;

#[derive(Debug, Clone, Default)]
struct PartitionSeq {
    epoch: i16,
    next_sequence: i32,
    last_acked: i32,
    /// Unresolved batches: base sequence → record count.
    unresolved: BTreeMap<i32, i32>,
    /// Requests for this partition on the wire.
    on_wire: usize,
    /// The broker they went to, while any are.
    on_wire_to: i32,
}

/// What to do with a batch the broker rejected for its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceDecision {
    /// An earlier batch is still missing: retry as is.
    Retry,
    /// Retry after bumping the epoch and renumbering the partition.
    BumpThenRetry,
}

fn add_seq(seq: i32, n: i32) -> i32 {
    // Sequences wrap after i32::MAX back to 0, as on the broker.
    let s = i64::from(seq) + i64::from(n);
    if s > i64::from(i32::MAX) { (s - i64::from(i32::MAX) - 1) as i32 } else { s as i32 }
}

/// The idempotent producer's state; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Idempotence {
    producer_id: i64,
    epoch: i16,
    partitions: HashMap<TopicPartition, PartitionSeq>,
    to_rewrite: BTreeSet<TopicPartition>,
}

impl Idempotence {
    pub(crate) fn new() -> Self {
        Idempotence { producer_id: -1, epoch: -1, partitions: HashMap::new(), to_rewrite: BTreeSet::new() }
    }

    /// Whether `tp` waits for an epoch bump (its sequences have a gap).
    pub(crate) fn is_blocked(&self, tp: &TopicPartition) -> bool {
        self.to_rewrite.contains(tp)
    }

    /// Whether InitProducerId has given us an id.
    pub(crate) fn has_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// The producer id and epoch.
    pub(crate) fn id(&self) -> (i64, i16) {
        (self.producer_id, self.epoch)
    }

    /// Takes a new producer id (from InitProducerId): every sequence restarts.
    pub(crate) fn set_id(&mut self, producer_id: i64, epoch: i16) {
        self.producer_id = producer_id;
        self.epoch = epoch;
        self.partitions.clear();
        self.to_rewrite.clear();
    }

    /// Whether `tp` may send its first queued batch (`retry_seq` is its
    /// sequence when it is a retry) to broker `node`.
    pub(crate) fn may_send(&self, tp: &TopicPartition, retry_seq: Option<i32>, node: i32) -> bool {
        if !self.has_id() || self.to_rewrite.contains(tp) {
            return false;
        }
        let Some(p) = self.partitions.get(tp) else { return true };
        if p.on_wire > 0 && p.on_wire_to != node {
            // The leader moved while requests were on the wire to the old
            // one: wait for them (see the module docs).
            return false;
        }
        if p.epoch != self.epoch && !p.unresolved.is_empty() && retry_seq.is_none() {
            // New batches wait until the old epoch's batches are resolved.
            return false;
        }
        if retry_seq.is_none() && p.epoch == self.epoch && p.last_acked < 0 && !p.unresolved.is_empty() {
            // Until the broker has written one batch of this epoch it keeps
            // no state for us and accepts any sequence: a second batch sent
            // now could be written before a failed first one, leaving a gap
            // the first could never fill. So the first batch goes alone.
            return false;
        }
        match (retry_seq, p.unresolved.keys().next()) {
            (Some(seq), Some(&first)) => seq == first,
            _ => true,
        }
    }

    /// Gives a newly drained batch of `count` records its sequence.
    pub(crate) fn assign(&mut self, tp: &TopicPartition, count: i32) -> ProducerIdentity {
        let epoch = self.epoch;
        let p = self.partitions.entry(tp.clone()).or_insert_with(|| PartitionSeq {
            epoch,
            last_acked: -1,
            ..Default::default()
        });
        if p.epoch != epoch && p.unresolved.is_empty() {
            p.epoch = epoch;
            p.next_sequence = 0;
            p.last_acked = -1;
        }
        let id = ProducerIdentity { producer_id: self.producer_id, epoch: p.epoch, base_sequence: p.next_sequence };
        p.unresolved.insert(p.next_sequence, count);
        p.next_sequence = add_seq(p.next_sequence, count);
        id
    }

    /// Gives the parts of a split batch the sequences of the original.
    pub(crate) fn assign_split(
        &mut self,
        tp: &TopicPartition,
        original: ProducerIdentity,
        counts: &[i32],
    ) -> Vec<ProducerIdentity> {
        let Some(p) = self.partitions.get_mut(tp) else { return Vec::new() };
        p.unresolved.remove(&original.base_sequence);
        let mut seq = original.base_sequence;
        let mut out = Vec::with_capacity(counts.len());
        for &c in counts {
            p.unresolved.insert(seq, c);
            out.push(ProducerIdentity { base_sequence: seq, ..original });
            seq = add_seq(seq, c);
        }
        out
    }

    /// A request for `tp` was written to broker `node` / answered.
    pub(crate) fn sent(&mut self, tp: &TopicPartition, node: i32) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.on_wire += 1;
            p.on_wire_to = node;
        }
    }

    /// See [`Self::sent`].
    pub(crate) fn answered(&mut self, tp: &TopicPartition) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.on_wire = p.on_wire.saturating_sub(1);
        }
    }

    /// The batch at `seq` was written.
    pub(crate) fn acked(&mut self, tp: &TopicPartition, id: ProducerIdentity, count: i32) {
        if let Some(p) = self.partitions.get_mut(tp)
            && p.epoch == id.epoch
        {
            p.unresolved.remove(&id.base_sequence);
            p.last_acked = add_seq(id.base_sequence, count - 1);
        }
    }

    /// Whether `seq` directly follows the last acknowledged sequence.
    pub(crate) fn is_next_in_line(&self, tp: &TopicPartition, id: ProducerIdentity) -> bool {
        match self.partitions.get(tp) {
            Some(p) if p.epoch == id.epoch => {
                add_seq(p.last_acked, 1) == id.base_sequence || (p.last_acked == -1 && id.base_sequence == 0)
            }
            _ => false,
        }
    }

    /// Whether `id` lies at or before the last acknowledged sequence: no
    /// earlier batch can fill the gap in front of it any more.
    fn is_behind(&self, tp: &TopicPartition, id: ProducerIdentity) -> bool {
        match self.partitions.get(tp) {
            Some(p) if p.epoch == id.epoch && p.last_acked >= 0 => id.base_sequence <= p.last_acked,
            _ => false,
        }
    }

    /// Decides on OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID: retry a
    /// batch an earlier one may still precede; renumber under a new epoch
    /// the one that is next in line (the broker lost or never had our
    /// state) or that fell behind what the broker acknowledged.
    pub(crate) fn on_sequence_error(&mut self, tp: &TopicPartition, id: ProducerIdentity) -> SequenceDecision {
        if id.producer_id != self.producer_id || id.epoch != self.epoch_of(tp) {
            return SequenceDecision::Retry;
        }
        if !self.is_next_in_line(tp, id) && !self.is_behind(tp, id) {
            return SequenceDecision::Retry;
        }
        self.to_rewrite.insert(tp.clone());
        SequenceDecision::BumpThenRetry
    }

    fn epoch_of(&self, tp: &TopicPartition) -> i16 {
        self.partitions.get(tp).map_or(self.epoch, |p| p.epoch)
    }

    /// A batch failed for good, or its outcome is unknown: its sequences
    /// leave a gap, so the partition is renumbered under a new epoch.
    pub(crate) fn on_unresolvable(&mut self, tp: &TopicPartition, id: ProducerIdentity) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.unresolved.remove(&id.base_sequence);
        }
        if id.producer_id == self.producer_id {
            self.to_rewrite.insert(tp.clone());
        }
    }

    /// Whether an epoch bump waits and nothing of the affected partitions is
    /// on the wire, so it can happen now.
    pub(crate) fn bump_ready(&self) -> bool {
        !self.to_rewrite.is_empty()
            && self.to_rewrite.iter().all(|tp| self.partitions.get(tp).is_none_or(|p| p.on_wire == 0))
    }

    /// Whether the epoch is exhausted, so a new producer id is needed.
    pub(crate) fn needs_new_id(&self) -> bool {
        self.epoch == i16::MAX
    }

    /// Bumps the epoch and resets the affected partitions' sequences to 0;
    /// returns them so the caller renumbers their unresolved batches (in
    /// order, with [`Self::assign`]).
    pub(crate) fn bump_epoch(&mut self) -> Vec<TopicPartition> {
        self.epoch += 1;
        let tps: Vec<TopicPartition> = std::mem::take(&mut self.to_rewrite).into_iter().collect();
        for tp in &tps {
            let (on_wire, on_wire_to) = self.partitions.get(tp).map_or((0, 0), |p| (p.on_wire, p.on_wire_to));
            self.partitions.insert(
                tp.clone(),
                PartitionSeq {
                    epoch: self.epoch,
                    next_sequence: 0,
                    last_acked: -1,
                    unresolved: BTreeMap::new(),
                    on_wire,
                    on_wire_to,
                },
            );
        }
        tps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn sequences_are_assigned_once_and_in_order() {
        let mut s = Idempotence::new();
        assert!(!s.may_send(&tp(0), None, 1));
        s.set_id(7, 0);
        let a = s.assign(&tp(0), 3);
        // The first batch of an epoch goes alone.
        assert!(!s.may_send(&tp(0), None, 1));
        let b = s.assign(&tp(0), 2);
        assert_eq!((a.base_sequence, b.base_sequence), (0, 3));
        assert_eq!(s.assign(&tp(1), 1).base_sequence, 0);
        // A retry of `b` must wait for `a`.
        assert!(!s.may_send(&tp(0), Some(3), 1));
        assert!(s.may_send(&tp(0), Some(0), 1));
        s.acked(&tp(0), a, 3);
        assert!(s.may_send(&tp(0), Some(3), 1));
        assert!(s.is_next_in_line(&tp(0), b));
    }

    #[test]
    fn out_of_order_for_a_later_batch_is_retried() {
        let mut s = Idempotence::new();
        s.set_id(7, 0);
        let _a = s.assign(&tp(0), 1);
        let b = s.assign(&tp(0), 1);
        assert_eq!(s.on_sequence_error(&tp(0), b), SequenceDecision::Retry);
        assert!(!s.bump_ready());
    }

    #[test]
    fn next_in_line_rejected_bumps_the_epoch_and_renumbers() {
        let mut s = Idempotence::new();
        s.set_id(7, 0);
        let a = s.assign(&tp(0), 2);
        let other = s.assign(&tp(1), 1);
        s.sent(&tp(0), 1);
        assert_eq!(s.on_sequence_error(&tp(0), a), SequenceDecision::BumpThenRetry);
        assert!(!s.may_send(&tp(0), Some(0), 1));
        assert!(!s.bump_ready(), "a request is still on the wire");
        s.answered(&tp(0));
        assert!(s.bump_ready());
        assert_eq!(s.bump_epoch(), vec![tp(0)]);
        assert_eq!(s.id(), (7, 1));
        let renumbered = s.assign(&tp(0), 2);
        assert_eq!((renumbered.epoch, renumbered.base_sequence), (1, 0));
        // Partition 1 keeps epoch 0 until its batch resolves.
        assert!(!s.may_send(&tp(1), None, 1));
        s.acked(&tp(1), other, 1);
        let next = s.assign(&tp(1), 1);
        assert_eq!((next.epoch, next.base_sequence), (1, 0));
    }

    #[test]
    fn a_batch_behind_the_acknowledged_ones_is_renumbered() {
        let mut s = Idempotence::new();
        s.set_id(7, 0);
        let first = s.assign(&tp(0), 5);
        let second = s.assign(&tp(0), 5);
        // The broker wrote `second` (it had no state, so any sequence went).
        s.acked(&tp(0), second, 5);
        assert_eq!(s.on_sequence_error(&tp(0), first), SequenceDecision::BumpThenRetry);
    }

    #[test]
    fn after_a_leader_move_nothing_goes_to_the_new_leader_while_the_old_one_owes_answers() {
        let mut s = Idempotence::new();
        s.set_id(7, 0);
        let first = s.assign(&tp(0), 1);
        s.sent(&tp(0), 3);
        s.acked(&tp(0), first, 1);
        s.answered(&tp(0));
        let in_doubt = s.assign(&tp(0), 1);
        s.sent(&tp(0), 3);
        s.assign(&tp(0), 1);
        // The leader moved from 3 to 2 while `in_doubt` waits for broker 3.
        assert!(!s.may_send(&tp(0), None, 2));
        assert!(s.may_send(&tp(0), None, 3));
        // Its connection failed: it is retried first, now to broker 2.
        s.answered(&tp(0));
        assert!(s.may_send(&tp(0), Some(in_doubt.base_sequence), 2));
    }

    #[test]
    fn splits_keep_the_original_sequences() {
        let mut s = Idempotence::new();
        s.set_id(1, 0);
        let big = s.assign(&tp(0), 10);
        let after = s.assign(&tp(0), 1);
        let parts = s.assign_split(&tp(0), big, &[4, 6]);
        assert_eq!(parts.iter().map(|p| p.base_sequence).collect::<Vec<_>>(), vec![0, 4]);
        assert_eq!(after.base_sequence, 10);
        assert!(s.may_send(&tp(0), Some(0), 1));
        assert!(!s.may_send(&tp(0), Some(4), 1));
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(add_seq(i32::MAX, 1), 0);
        assert_eq!(add_seq(i32::MAX - 1, 3), 1);
    }
}
