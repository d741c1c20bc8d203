//! The RecordAccumulator: a deque of batches per partition, as in Kafka's
//! Java client, as a state machine without I/O or clocks.
//!
//! - [`Accumulator::try_append`] / [`Accumulator::append_new`] put a record
//!   into the partition's last open batch, or a new one (whose memory the
//!   caller reserved from `buffer.memory` first).
//! - [`Accumulator::ready`] says which leaders have a batch to send: the
//!   first batch of a partition is ready when it is full (or not the only
//!   batch), when `linger.ms` has passed since it was created (the retry
//!   backoff since its last attempt, for a retry), when a flush or close is
//!   in progress, or when senders are waiting for memory.
//! - [`Accumulator::drain`] takes ready batches per leader, at most one per
//!   partition, up to `max.request.size` per request (the first batch
//!   always goes), starting each time from where the last drain for that
//!   leader stopped so no partition starves.
//! - [`Accumulator::expired`] removes batches whose `delivery.timeout.ms`
//!   passed while they waited.
//! - [`Accumulator::reenqueue`] puts a batch back at the front for a retry,
//!   ordered by sequence number among other retries, so records keep their
//!   order.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use kafka_protocol::Compression;
use kafka_protocol::records::Header;

use super::batch::ProducerBatch;
use super::delivery::BatchCompletion;
use super::idempotence::Idempotence;
use crate::TopicPartition;
use crate::hash::FastMap;

/// The accumulator's settings.
#[derive(Debug, Clone)]
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger_ms: i64,
    pub compression: Compression,
    pub level: Option<i32>,
    pub delivery_timeout_ms: i64,
    pub retry_backoff_ms: i64,
    pub retry_backoff_max_ms: i64,
    /// Keep each record's timestamp (interceptors report them).
    pub track_timestamps: bool,
    /// Batches are marked transactional (`transactional.id` is set).
    pub transactional: bool,
}

/// Where an appended record went.
#[derive(Debug)]
pub(crate) struct Appended {
    pub completion: Arc<BatchCompletion>,
    pub index: u32,
    /// The batch is now full: the sticky partitioner may switch.
    pub batch_full: bool,
    /// The record started a new batch.
    pub new_batch: bool,
}

/// What [`Accumulator::ready`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// Leaders with something to send.
    pub nodes: BTreeSet<i32>,
    /// When to check again, if something is waiting for linger or backoff.
    pub next_check_ms: Option<i64>,
    /// Topics with batches but no known leader: refresh their metadata.
    pub unknown_leader_topics: BTreeSet<Arc<str>>,
}

/// The accumulator; see the module docs.
#[derive(Debug)]
pub(crate) struct Accumulator {
    cfg: AccumulatorConfig,
    queues: FastMap<TopicPartition, VecDeque<ProducerBatch>>,
    flushing: usize,
    closed: bool,
    drain_start: HashMap<i32, usize>,
    /// The id the next batch gets: batches created later have larger ids.
    next_batch_id: u64,
    /// Batches created and not yet completed, by id, counting the parts of
    /// a split batch (which share its id). A batch counts from the moment
    /// it is created, under the same lock as its first record, so a flush
    /// can never miss it.
    incomplete: BTreeMap<u64, usize>,
}

fn retry_backoff(cfg: &AccumulatorConfig, attempts: u32) -> i64 {
    let exp = cfg.retry_backoff_ms.saturating_mul(1i64 << attempts.saturating_sub(1).min(20));
    exp.min(cfg.retry_backoff_max_ms.max(cfg.retry_backoff_ms))
}

/// A record's parts, borrowed from the `ProducerRecord` for the append.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordRef<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: &'a [Header],
}

impl Accumulator {
    pub(crate) fn new(cfg: AccumulatorConfig) -> Self {
        Accumulator {
            cfg,
            queues: FastMap::default(),
            flushing: 0,
            closed: false,
            drain_start: HashMap::new(),
            next_batch_id: 0,
            incomplete: BTreeMap::new(),
        }
    }

    /// Appends to the partition's open batch if the record fits (never
    /// once closed).
    pub(crate) fn try_append(&mut self, tp: &TopicPartition, record: RecordRef<'_>) -> Option<Appended> {
        if self.closed {
            return None;
        }
        let RecordRef { timestamp: ts, key, value, headers } = record;
        let batch_size = self.cfg.batch_size;
        let last = self.queues.get_mut(tp)?.back_mut()?;
        let add = last.size_of_next(ts, key, value, headers)?;
        if last.record_count > 0 && last.size + add > batch_size {
            return None;
        }
        let index = last.append(ts, key, value, headers)?;
        Some(Appended {
            completion: last.completion.clone(),
            index,
            batch_full: last.size >= batch_size,
            new_batch: false,
        })
    }

    /// The memory a new batch for this record needs: `batch.size`, or the
    /// record's own size when it is larger.
    pub(crate) fn new_batch_size(&self, record_size: usize) -> usize {
        self.cfg.batch_size.max(record_size + 61)
    }

    /// Appends to a new batch holding `reserved` bytes of memory. Another
    /// sender may have opened a batch meanwhile; then the record goes there
    /// and the returned bytes must be given back to the pool. Once closed
    /// (the engine may have stopped: no batch opened now would be sent),
    /// refuses, handing back all of `reserved`.
    pub(crate) fn append_new(
        &mut self,
        tp: &TopicPartition,
        record: RecordRef<'_>,
        reserved: usize,
        now_ms: i64,
    ) -> Result<(Appended, usize), usize> {
        if self.closed {
            return Err(reserved);
        }
        if let Some(a) = self.try_append(tp, record) {
            return Ok((a, reserved));
        }
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        self.incomplete.insert(id, 1);
        let RecordRef { timestamp: ts, key, value, headers } = record;
        let mut batch = ProducerBatch::new(
            id,
            tp.clone(),
            (self.cfg.compression, self.cfg.level),
            reserved.saturating_sub(61),
            reserved,
            now_ms,
            self.cfg.track_timestamps,
        );
        batch.transactional = self.cfg.transactional;
        let index = batch.append(ts, key, value, headers).unwrap_or(0);
        let a = Appended {
            completion: batch.completion.clone(),
            index,
            batch_full: batch.size >= self.cfg.batch_size,
            new_batch: true,
        };
        self.queues.entry(tp.clone()).or_default().push_back(batch);
        Ok((a, 0))
    }

    /// Batches waiting per partition of `topic` (for adaptive partitioning).
    pub(crate) fn queue_sizes(&self, topic: &str, partitions: usize) -> Vec<u32> {
        // A scan rather than a lookup per partition: no key to build.
        let mut sizes = vec![0u32; partitions];
        for (tp, q) in &self.queues {
            if *tp.topic == *topic
                && let Some(size) = usize::try_from(tp.partition).ok().and_then(|p| sizes.get_mut(p))
            {
                *size = u32::try_from(q.len()).unwrap_or(u32::MAX);
            }
        }
        sizes
    }

    /// Which leaders have batches to send now.
    pub(crate) fn ready(
        &self,
        now_ms: i64,
        leader_of: &dyn Fn(&TopicPartition) -> Option<i32>,
        memory_exhausted: bool,
    ) -> Ready {
        let mut r = Ready::default();
        let pressing = memory_exhausted || self.closed || self.flushing > 0;
        for (tp, q) in &self.queues {
            let Some(first) = q.front() else { continue };
            let Some(leader) = leader_of(tp) else {
                r.unknown_leader_topics.insert(tp.topic.clone());
                continue;
            };
            if first.attempts > 0 && now_ms < first.retry_at_ms {
                r.next_check_ms = Some(r.next_check_ms.map_or(first.retry_at_ms, |t| t.min(first.retry_at_ms)));
                continue;
            }
            let full = q.len() > 1 || first.size >= self.cfg.batch_size || !first.is_open();
            let due = first.created_ms + self.cfg.linger_ms;
            if full || pressing || now_ms >= due {
                r.nodes.insert(leader);
            } else {
                r.next_check_ms = Some(r.next_check_ms.map_or(due, |t| t.min(due)));
            }
        }
        r
    }

    /// Takes sendable batches for each of `nodes`, at most one per
    /// partition, up to `max_request_size` bytes per node. With
    /// idempotence, a partition is skipped while a retry is not next in
    /// line or an epoch bump is pending, and new batches get their sequence
    /// numbers here.
    pub(crate) fn drain(
        &mut self,
        nodes: &BTreeSet<i32>,
        leader_of: &dyn Fn(&TopicPartition) -> Option<i32>,
        max_request_size: usize,
        now_ms: i64,
        mut idem: Option<&mut Idempotence>,
    ) -> BTreeMap<i32, Vec<ProducerBatch>> {
        // Ordered maps: the sender sends in this order, and a run must not
        // depend on hash order (seeded fault schedules replay it).
        let mut by_node: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for (tp, q) in &self.queues {
            if q.is_empty() {
                continue;
            }
            if let Some(l) = leader_of(tp).filter(|l| nodes.contains(l)) {
                by_node.entry(l).or_default().push(tp.clone());
            }
        }
        let mut out: BTreeMap<i32, Vec<ProducerBatch>> = BTreeMap::new();
        for (node, mut tps) in by_node {
            tps.sort();
            let start = self.drain_start.get(&node).copied().unwrap_or(0) % tps.len().max(1);
            let mut size = 0usize;
            let mut taken = Vec::new();
            let mut last_index = start;
            for k in 0..tps.len() {
                let i = (start + k) % tps.len();
                let tp = &tps[i];
                let Some(q) = self.queues.get_mut(tp) else { continue };
                let Some(first) = q.front() else { continue };
                if first.attempts > 0 && now_ms < first.retry_at_ms {
                    continue;
                }
                if let Some(idem) = idem.as_deref()
                    && !idem.may_send(tp, first.identity.map(|i| i.base_sequence), node)
                {
                    continue;
                }
                let est = first.wire_size();
                if !taken.is_empty() && size + est > max_request_size {
                    break;
                }
                let Some(mut batch) = q.pop_front() else { continue };
                if let Some(idem) = idem.as_deref_mut()
                    && batch.identity.is_none()
                {
                    batch.identity = Some(idem.assign(tp, batch.record_count));
                }
                size += est;
                taken.push(batch);
                last_index = i;
            }
            self.drain_start.insert(node, last_index + 1);
            if !taken.is_empty() {
                out.insert(node, taken);
            }
        }
        self.queues.retain(|_, q| !q.is_empty());
        out
    }

    /// Removes batches whose delivery timeout passed while they waited here.
    pub(crate) fn expired(&mut self, now_ms: i64) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        let timeout = self.cfg.delivery_timeout_ms;
        for q in self.queues.values_mut() {
            let mut keep = VecDeque::with_capacity(q.len());
            for b in q.drain(..) {
                if now_ms - b.created_ms >= timeout {
                    out.push(b);
                } else {
                    keep.push_back(b);
                }
            }
            *q = keep;
        }
        self.queues.retain(|_, q| !q.is_empty());
        out
    }

    /// When the next waiting batch expires.
    pub(crate) fn next_expiry_ms(&self) -> Option<i64> {
        self.queues.values().flat_map(|q| q.iter()).map(|b| b.created_ms + self.cfg.delivery_timeout_ms).min()
    }

    /// Puts a batch back for another attempt after the retry backoff. A
    /// batch with a sequence number goes before queued batches with higher
    /// (or no) sequence numbers, so the partition's order holds.
    pub(crate) fn reenqueue(&mut self, mut batch: ProducerBatch, now_ms: i64) {
        batch.retry_at_ms = now_ms + retry_backoff(&self.cfg, batch.attempts);
        let q = self.queues.entry(batch.tp.clone()).or_default();
        let pos = match batch.identity {
            Some(id) => {
                q.iter().position(|b| b.identity.is_none_or(|o| o.base_sequence > id.base_sequence)).unwrap_or(q.len())
            }
            None => 0,
        };
        q.insert(pos, batch);
    }

    /// Puts split batches at the front of their partition, in order.
    pub(crate) fn reenqueue_split(&mut self, batches: Vec<ProducerBatch>) {
        let Some(first) = batches.first() else { return };
        let q = self.queues.entry(first.tp.clone()).or_default();
        for (i, b) in batches.into_iter().enumerate() {
            q.insert(i, b);
        }
    }

    /// Batches of `tp` still waiting here (for renumbering after an epoch bump).
    pub(crate) fn queued_mut(&mut self, tp: &TopicPartition) -> impl Iterator<Item = &mut ProducerBatch> {
        self.queues.get_mut(tp).into_iter().flat_map(|q| q.iter_mut())
    }

    /// Removes every waiting batch (close without delivering).
    pub(crate) fn abort_all(&mut self) -> Vec<ProducerBatch> {
        self.queues.drain().flat_map(|(_, q)| q.into_iter()).collect()
    }

    /// Partitions with batches waiting (a transaction must add them).
    pub(crate) fn queued_partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.queues.iter().filter(|(_, q)| !q.is_empty()).map(|(tp, _)| tp)
    }

    /// Takes the batches that were never sent (no sequence yet), and every
    /// batch of the partitions `blocked` names: a transaction that cannot
    /// commit fails them. Other retries keep their place, so their
    /// partitions' sequences stay whole.
    pub(crate) fn take_unsendable(&mut self, blocked: &dyn Fn(&TopicPartition) -> bool) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for (tp, q) in self.queues.iter_mut() {
            if blocked(tp) {
                out.extend(q.drain(..));
                continue;
            }
            let (keep, gone): (VecDeque<_>, VecDeque<_>) = q.drain(..).partition(|b| b.identity.is_some());
            *q = keep;
            out.extend(gone);
        }
        self.queues.retain(|_, q| !q.is_empty());
        out
    }

    /// Whether any batch is waiting.
    pub(crate) fn has_batches(&self) -> bool {
        self.queues.values().any(|q| !q.is_empty())
    }

    /// A flush started: every batch is ready at once. Returns the flush's
    /// mark: it ends when every batch numbered below it has completed.
    pub(crate) fn begin_flush(&mut self) -> u64 {
        self.flushing += 1;
        self.next_batch_id
    }

    /// Whether every batch numbered below `mark` has completed.
    pub(crate) fn completed_below(&self, mark: u64) -> bool {
        self.incomplete.range(..mark).next().is_none()
    }

    /// Whether any batch is incomplete (waiting here or in flight).
    pub(crate) fn has_incomplete(&self) -> bool {
        !self.incomplete.is_empty()
    }

    /// A batch with `id` completed (one part of it, if it was split).
    pub(crate) fn batch_done(&mut self, id: u64) {
        if let Some(n) = self.incomplete.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                self.incomplete.remove(&id);
            }
        }
    }

    /// A batch with `id` was split into `parts` batches.
    pub(crate) fn batch_split(&mut self, id: u64, parts: usize) {
        if let Some(n) = self.incomplete.get_mut(&id) {
            *n += parts.saturating_sub(1);
        }
    }

    /// A flush ended.
    pub(crate) fn end_flush(&mut self) {
        self.flushing = self.flushing.saturating_sub(1);
    }

    /// Closing: every batch is ready at once, and no record is taken any
    /// more.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Puts batches drained but not sent (their connection had no free
    /// slot after all) back at the front of their partitions, as they were.
    pub(crate) fn put_back(&mut self, batches: Vec<ProducerBatch>) {
        // At most one batch per partition is drained at a time.
        for b in batches.into_iter().rev() {
            self.queues.entry(b.tp.clone()).or_default().push_front(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AccumulatorConfig {
        AccumulatorConfig {
            batch_size: 1000,
            linger_ms: 5,
            compression: Compression::None,
            level: None,
            delivery_timeout_ms: 120_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1000,
            track_timestamps: false,
            transactional: false,
        }
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn append(acc: &mut Accumulator, p: i32, value: &[u8], now: i64) -> Appended {
        let record = RecordRef { timestamp: now, key: None, value: Some(value), headers: &[] };
        match acc.try_append(&tp(p), record) {
            Some(a) => a,
            None => acc.append_new(&tp(p), record, acc.new_batch_size(value.len() + 10), now).unwrap().0,
        }
    }

    fn leader(_: &TopicPartition) -> Option<i32> {
        Some(1)
    }

    #[test]
    fn linger_then_ready() {
        let mut acc = Accumulator::new(cfg());
        let a = append(&mut acc, 0, b"x", 1000);
        assert!(a.new_batch && a.index == 0);
        let r = acc.ready(1002, &leader, false);
        assert!(r.nodes.is_empty());
        assert_eq!(r.next_check_ms, Some(1005));
        assert_eq!(acc.ready(1005, &leader, false).nodes, BTreeSet::from([1]));
        // Memory pressure, flush and close make it ready at once.
        assert_eq!(acc.ready(1001, &leader, true).nodes, BTreeSet::from([1]));
        acc.begin_flush();
        assert_eq!(acc.ready(1001, &leader, false).nodes, BTreeSet::from([1]));
    }

    #[test]
    fn full_batches_are_ready_and_new_ones_open() {
        let mut acc = Accumulator::new(cfg());
        let v = [7u8; 300];
        let mut news = 0;
        for i in 0..7 {
            let a = append(&mut acc, 0, &v, 0);
            news += usize::from(a.new_batch);
            assert_eq!(a.index, if a.new_batch { 0 } else { a.index }, "{i}");
        }
        assert_eq!(news, 3, "three 300-byte records fit a 1000-byte batch");
        assert_eq!(acc.ready(0, &leader, false).nodes, BTreeSet::from([1]));
    }

    #[test]
    fn drain_respects_request_size_and_rotates() {
        let mut acc = Accumulator::new(cfg());
        for p in 0..4 {
            append(&mut acc, p, &[1u8; 400], 0);
        }
        let nodes = BTreeSet::from([1]);
        // Each batch is 466 bytes (61 of header): two fit in 1000, not three.
        let first = acc.drain(&nodes, &leader, 1000, 10, None);
        let got: Vec<i32> = first[&1].iter().map(|b| b.tp.partition).collect();
        assert_eq!(got, vec![0, 1]);
        let second = acc.drain(&nodes, &leader, 1000, 10, None);
        let got: Vec<i32> = second[&1].iter().map(|b| b.tp.partition).collect();
        assert_eq!(got, vec![2, 3]);
        assert!(!acc.has_batches());
    }

    #[test]
    fn retries_wait_for_backoff_and_keep_order() {
        let mut acc = Accumulator::new(cfg());
        append(&mut acc, 0, b"a", 0);
        let mut drained = acc.drain(&BTreeSet::from([1]), &leader, 1 << 20, 10, None);
        let mut b = drained.remove(&1).unwrap().remove(0);
        append(&mut acc, 0, b"b", 20);
        b.attempts = 1;
        acc.reenqueue(b, 30);
        // Not ready before its backoff (100 ms), even though a later batch waits behind it.
        let r = acc.ready(50, &leader, false);
        assert!(r.nodes.is_empty());
        assert_eq!(r.next_check_ms, Some(130));
        let again = acc.drain(&BTreeSet::from([1]), &leader, 1 << 20, 130, None);
        assert_eq!(again[&1][0].record_count, 1);
        assert_eq!(again[&1][0].attempts, 1, "the retried batch goes first");
    }

    #[test]
    fn batches_expire_after_delivery_timeout() {
        let mut acc = Accumulator::new(cfg());
        append(&mut acc, 0, b"a", 0);
        append(&mut acc, 1, b"b", 60_000);
        assert!(acc.expired(119_999).is_empty());
        let gone = acc.expired(120_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].tp.partition, 0);
        assert_eq!(acc.next_expiry_ms(), Some(180_000));
    }

    #[test]
    fn a_flush_waits_for_the_batches_created_before_it() {
        let mut acc = Accumulator::new(cfg());
        append(&mut acc, 0, b"a", 0);
        append(&mut acc, 1, b"b", 0);
        let mark = acc.begin_flush();
        append(&mut acc, 2, b"after", 0);
        assert!(!acc.completed_below(mark));
        let drained = acc.drain(&BTreeSet::from([1]), &leader, 1 << 20, 10, None).remove(&1).unwrap();
        let ids: Vec<u64> = drained.iter().map(|b| b.id).collect();
        assert_eq!(ids, [0, 1, 2]);
        // A split batch counts until each part completes.
        acc.batch_split(0, 2);
        acc.batch_done(0);
        acc.batch_done(1);
        assert!(!acc.completed_below(mark), "one part of batch 0 is still out");
        acc.batch_done(0);
        assert!(acc.completed_below(mark), "the batch opened after the flush does not hold it up");
        assert!(acc.has_incomplete());
        acc.batch_done(2);
        assert!(!acc.has_incomplete());
    }

    #[test]
    fn a_closed_accumulator_takes_no_record() {
        let mut acc = Accumulator::new(cfg());
        append(&mut acc, 0, b"a", 0);
        acc.close();
        let record = RecordRef { timestamp: 0, key: None, value: Some(b"b"), headers: &[] };
        assert!(acc.try_append(&tp(0), record).is_none());
        assert_eq!(acc.append_new(&tp(0), record, 1000, 0).err(), Some(1000), "the reserved bytes come back");
        assert!(acc.has_batches(), "what was taken before still goes");
    }

    #[test]
    fn unknown_leaders_are_reported() {
        let mut acc = Accumulator::new(cfg());
        append(&mut acc, 0, b"a", 0);
        let r = acc.ready(100, &|_| None, false);
        assert!(r.nodes.is_empty());
        assert!(r.unknown_leader_topics.contains("t"));
    }
}
