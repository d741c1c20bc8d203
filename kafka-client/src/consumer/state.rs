//! What the consumer subscribes to and where it stands in each assigned
//! partition — plain state, no I/O.
//!
//! Per partition: the position (the next offset to hand out) and the leader
//! epoch of the last record handed out, whether the position must still
//! come from the committed offset or from `auto.offset.reset`, whether it
//! is paused, and at most two fetched-but-not-yet-consumed responses: the
//! one being read and the next, fetched from where the first ends while the
//! application works (so a partition with data is always in the next
//! fetch, and a fetch never long-polls on caught-up partitions while
//! others still have data). A response is used only if it was fetched for
//! where the partition stands: after a seek, a rebalance or a reset, stale
//! data is dropped, so a record is never handed out twice or skipped within
//! a generation.

use std::collections::{BTreeMap, BTreeSet};

use super::config::OffsetReset;
use super::fetched::CompletedFetch;
use super::record::ConsumerRecord;
use crate::TopicPartition;
use crate::error::Error;

/// What the consumer asked for.
#[derive(Debug, Clone, Default)]
pub(crate) enum SubscriptionKind {
    /// Nothing yet.
    #[default]
    None,
    /// These topics, through the group.
    Topics(BTreeSet<String>),
    /// Every topic matching the pattern, now or later, through the group.
    Pattern(regex::Regex),
    /// Partitions chosen by the application (`assign`), no group membership.
    Manual,
}

impl SubscriptionKind {
    pub(crate) fn uses_group(&self) -> bool {
        matches!(self, SubscriptionKind::Topics(_) | SubscriptionKind::Pattern(_))
    }
}

/// Where the consumer stands in one partition.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    /// The next offset to hand out, once known.
    pub position: Option<i64>,
    /// Leader epoch of the last record handed out (committed with offsets,
    /// sent as `last_fetched_epoch`).
    pub epoch: Option<i32>,
    /// What a commit of this partition commits: the position after the
    /// records the application has processed, with its epoch. `poll` marks
    /// everything it returned; the stream marks a record once the next one
    /// is asked for.
    pub consumed: Option<(i64, Option<i32>)>,
    /// The position must come from the committed offset (then the reset policy).
    pub needs_committed: bool,
    /// The position must be reset with this policy (seek to beginning/end,
    /// out of range, or no committed offset).
    pub reset: Option<OffsetReset>,
    pub paused: bool,
    /// A fetch for this partition is in flight.
    pub in_flight: bool,
    /// The response being consumed.
    pub buffered: Option<CompletedFetch>,
    /// The next response, fetched from where `buffered` ends.
    pub prefetched: Option<CompletedFetch>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
    /// An error to report from the next `poll` (then cleared).
    pub error: Option<Error>,
}

/// The consumer's subscription and positions.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub subscription: SubscriptionKind,
    /// The topics the group subscription stands for: the named ones, or
    /// those the pattern matched at the last metadata refresh (None until
    /// the first).
    pub subscribed: Option<BTreeSet<String>>,
    pub assignment: BTreeMap<TopicPartition, PartitionState>,
    /// Bumped whenever the assignment changes: responses fetched under an
    /// older assignment are dropped. (A seek needs no bump: a response is
    /// used only if it was fetched at the partition's current position.)
    pub epoch: u64,
    drain_from: usize,
}

impl State {
    /// Replaces the assignment. Partitions kept keep their state; new ones
    /// start from their committed offset.
    pub(crate) fn set_assignment(&mut self, parts: &[TopicPartition]) {
        let keep: BTreeSet<&TopicPartition> = parts.iter().collect();
        self.assignment.retain(|tp, _| keep.contains(tp));
        for tp in parts {
            self.assignment.entry(tp.clone()).or_insert_with(|| PartitionState {
                needs_committed: true,
                high_watermark: -1,
                log_start_offset: -1,
                ..Default::default()
            });
        }
        self.epoch += 1;
    }

    /// Bytes of record data held for `poll`: the buffered and prefetched
    /// responses of every assigned partition.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.assignment
            .values()
            .map(|p| p.buffered.as_ref().map_or(0, |f| f.size()) + p.prefetched.as_ref().map_or(0, |f| f.size()))
            .sum()
    }

    /// Drops partitions (revoked or lost) with their buffered data.
    pub(crate) fn remove(&mut self, parts: &[TopicPartition]) {
        for tp in parts {
            self.assignment.remove(tp);
        }
        self.epoch += 1;
    }

    /// Moves a partition to `offset` and drops data fetched for elsewhere.
    pub(crate) fn seek(&mut self, tp: &TopicPartition, offset: i64, epoch: Option<i32>) -> bool {
        let Some(p) = self.assignment.get_mut(tp) else { return false };
        p.position = Some(offset);
        p.epoch = epoch;
        p.consumed = Some((offset, epoch));
        p.needs_committed = false;
        p.reset = None;
        p.buffered = None;
        p.prefetched = None;
        p.error = None;
        true
    }

    /// Asks for a reset of the position with `policy`.
    pub(crate) fn request_reset(&mut self, tp: &TopicPartition, policy: OffsetReset) -> bool {
        let Some(p) = self.assignment.get_mut(tp) else { return false };
        p.reset = Some(policy);
        p.needs_committed = false;
        p.position = None;
        p.buffered = None;
        p.prefetched = None;
        true
    }

    /// Partitions without a position: (needing the committed offset, needing a reset).
    pub(crate) fn missing_positions(&self) -> (Vec<TopicPartition>, Vec<(TopicPartition, OffsetReset)>) {
        let mut committed = Vec::new();
        let mut reset = Vec::new();
        for (tp, p) in &self.assignment {
            if p.position.is_some() {
                continue;
            }
            if let Some(r) = p.reset {
                reset.push((tp.clone(), r));
            } else if p.needs_committed {
                committed.push(tp.clone());
            }
        }
        (committed, reset)
    }

    /// Partitions to fetch, with the offset and last epoch to fetch them
    /// at: positioned, not paused, nothing in flight, and a free buffer —
    /// from the position when nothing is buffered, else from where the
    /// buffered response ends (without an epoch to check: the records in
    /// between are not consumed yet).
    pub(crate) fn fetchable(&self) -> Vec<(TopicPartition, i64, Option<i32>)> {
        self.assignment
            .iter()
            .filter(|(_, p)| !p.paused && !p.in_flight && p.error.is_none())
            .filter_map(|(tp, p)| match (&p.buffered, &p.prefetched) {
                (None, _) => p.position.map(|pos| (tp.clone(), pos, p.epoch)),
                (Some(b), None) => p.position.and(b.end_offset()).map(|end| (tp.clone(), end, None)),
                (Some(_), Some(_)) => None,
            })
            .collect()
    }

    /// Partitions with data waiting that cannot be fetched further until it
    /// is read: a fetch should not long-poll while they wait.
    pub(crate) fn held_back(&self) -> Vec<TopicPartition> {
        self.assignment
            .iter()
            .filter(|(_, p)| !p.paused && !p.in_flight && p.error.is_none() && p.position.is_some())
            .filter(|(_, p)| match (&p.buffered, &p.prefetched) {
                (Some(b), None) => b.end_offset().is_none(),
                (Some(_), Some(_)) => true,
                (None, _) => false,
            })
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Where a fetch answer for `tp` must start to be used now.
    pub(crate) fn expected_fetch_offset(&self, tp: &TopicPartition) -> Option<i64> {
        let p = self.assignment.get(tp)?;
        match &p.buffered {
            None => p.position,
            Some(b) if p.prefetched.is_none() => p.position.and(b.end_offset()),
            Some(_) => None,
        }
    }

    /// Stores a fetch answer: to be read now, or next.
    pub(crate) fn store(&mut self, tp: &TopicPartition, fetch: CompletedFetch) {
        if let Some(p) = self.assignment.get_mut(tp) {
            if p.buffered.is_none() {
                p.buffered = Some(fetch);
            } else {
                p.prefetched = Some(fetch);
            }
        }
    }

    /// Hands out up to `max` buffered records, advancing positions. A
    /// partition's error is returned (once) instead, before any record of it.
    pub(crate) fn take_records(&mut self, max: usize) -> Result<Vec<ConsumerRecord>, Error> {
        let mut out = Vec::new();
        let n = self.assignment.len();
        if n == 0 {
            return Ok(out);
        }
        let keys: Vec<TopicPartition> = self.assignment.keys().cloned().collect();
        let start = self.drain_from % n;
        for k in 0..n {
            if out.len() >= max {
                break;
            }
            let i = (start + k) % n;
            let Some(p) = self.assignment.get_mut(&keys[i]) else { continue };
            if let Some(e) = p.error.take() {
                if out.is_empty() {
                    return Err(e);
                }
                p.error = Some(e);
                break;
            }
            if p.paused {
                continue;
            }
            let (Some(fetch), Some(mut position)) = (p.buffered.as_mut(), p.position) else { continue };
            match fetch.take(max - out.len(), &mut position, &mut p.epoch) {
                Ok(records) => {
                    p.position = Some(position);
                    out.extend(records);
                    if fetch.is_exhausted() {
                        p.buffered = p.prefetched.take();
                    }
                }
                Err(e) => {
                    p.buffered = None;
                    p.prefetched = None;
                    if out.is_empty() {
                        return Err(e.into());
                    }
                    p.error = Some(e.into());
                    break;
                }
            }
            self.drain_from = i + 1;
        }
        Ok(out)
    }

    /// Marks everything handed out so far as processed.
    pub(crate) fn mark_all_consumed(&mut self) {
        for p in self.assignment.values_mut() {
            if let Some(pos) = p.position {
                p.consumed = Some((pos, p.epoch));
            }
        }
    }

    /// Marks one partition processed up to `offset` (exclusive).
    pub(crate) fn mark_consumed(&mut self, tp: &TopicPartition, offset: i64, epoch: Option<i32>) {
        if let Some(p) = self.assignment.get_mut(tp) {
            p.consumed = Some((offset, epoch));
        }
    }

    /// The processed positions of `parts` (every assigned partition when
    /// None): what `commit` and auto-commit commit.
    pub(crate) fn consumed(&self, parts: Option<&[TopicPartition]>) -> BTreeMap<TopicPartition, (i64, Option<i32>)> {
        let wanted = |tp: &TopicPartition| parts.is_none_or(|ps| ps.contains(tp));
        self.assignment
            .iter()
            .filter(|(tp, _)| wanted(tp))
            .filter_map(|(tp, p)| p.consumed.map(|c| (tp.clone(), c)))
            .collect()
    }

    /// Sets the position of a partition that was waiting for its committed
    /// offset; false when it no longer waits (a seek came first, or it was
    /// revoked).
    pub(crate) fn init_from_committed(&mut self, tp: &TopicPartition, offset: i64, epoch: Option<i32>) -> bool {
        match self.assignment.get_mut(tp) {
            Some(p) if p.position.is_none() && p.needs_committed && p.reset.is_none() => {
                p.needs_committed = false;
                p.position = Some(offset);
                p.epoch = epoch;
                p.consumed = Some((offset, epoch));
                true
            }
            _ => false,
        }
    }

    /// A partition without a committed offset falls back to `policy`.
    pub(crate) fn no_committed(&mut self, tp: &TopicPartition, policy: OffsetReset) {
        if let Some(p) = self.assignment.get_mut(tp)
            && p.position.is_none()
            && p.needs_committed
            && p.reset.is_none()
        {
            p.needs_committed = false;
            p.reset = Some(policy);
        }
    }

    /// Sets the position a reset looked up; false when the partition no
    /// longer waits for that reset.
    pub(crate) fn init_from_reset(
        &mut self,
        tp: &TopicPartition,
        policy: OffsetReset,
        offset: i64,
        epoch: Option<i32>,
    ) -> bool {
        match self.assignment.get_mut(tp) {
            Some(p) if p.position.is_none() && p.reset == Some(policy) => {
                p.reset = None;
                p.position = Some(offset);
                p.epoch = epoch;
                p.consumed = Some((offset, epoch));
                true
            }
            _ => false,
        }
    }

    /// Reports an error for a partition from the next `poll`.
    pub(crate) fn fail(&mut self, tp: &TopicPartition, error: Error) {
        if let Some(p) = self.assignment.get_mut(tp) {
            p.error = Some(error);
        }
    }

    /// Moves a partition back to `offset`, for records taken from its
    /// fetch but never handed to the application (paused, or a stream's
    /// buffer dropped). Data fetched beyond it is dropped.
    pub(crate) fn rewind(&mut self, tp: &TopicPartition, offset: i64, epoch: Option<i32>) {
        if let Some(p) = self.assignment.get_mut(tp)
            && p.position.is_some_and(|pos| pos > offset)
        {
            p.position = Some(offset);
            p.epoch = epoch;
            p.buffered = None;
            p.prefetched = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::Compression;
    use kafka_protocol::records::BatchBuilder;

    use super::*;
    use crate::consumer::fetched::FetchOptions;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// A batch of `n` records from `base`, values "v<offset>".
    fn fetch(p: i32, base: i64, n: i64) -> CompletedFetch {
        let mut b = BatchBuilder::with_capacity(Compression::None, None, 1024);
        for i in 0..n {
            b.append(1_000 + i, None, Some(format!("v{}", base + i).as_bytes()), &[]);
        }
        let mut bytes = b.finish().unwrap().to_vec();
        bytes[0..8].copy_from_slice(&base.to_be_bytes());
        CompletedFetch::new(tp(p), base, Bytes::from(bytes), FetchOptions::default())
    }

    fn positioned(parts: &[i32]) -> State {
        let mut st = State::default();
        let tps: Vec<TopicPartition> = parts.iter().map(|&p| tp(p)).collect();
        st.set_assignment(&tps);
        for p in parts {
            assert!(st.init_from_committed(&tp(*p), 0, None));
        }
        st
    }

    #[test]
    fn a_new_assignment_keeps_kept_partitions_and_starts_new_ones_from_their_commit() {
        let mut st = positioned(&[0, 1]);
        st.seek(&tp(0), 40, Some(2));
        let epoch = st.epoch;
        st.set_assignment(&[tp(0), tp(2)]);
        assert!(st.epoch > epoch, "responses fetched for the old assignment are stale");
        assert_eq!(st.assignment[&tp(0)].position, Some(40));
        assert!(!st.assignment.contains_key(&tp(1)));
        let (committed, reset) = st.missing_positions();
        assert_eq!((committed, reset), (vec![tp(2)], vec![]));
        // A seek before the committed offset arrives wins over it.
        st.seek(&tp(2), 7, None);
        assert!(!st.init_from_committed(&tp(2), 3, None));
        assert_eq!(st.assignment[&tp(2)].position, Some(7));
    }

    #[test]
    fn records_are_handed_out_in_order_and_positions_follow() {
        let mut st = positioned(&[0, 1]);
        st.assignment.get_mut(&tp(0)).unwrap().buffered = Some(fetch(0, 0, 5));
        st.assignment.get_mut(&tp(1)).unwrap().buffered = Some(fetch(1, 0, 5));
        let first = st.take_records(4).unwrap();
        assert_eq!(first.len(), 4);
        let second = st.take_records(100).unwrap();
        assert_eq!(second.len(), 6);
        for p in [0, 1] {
            let offsets: Vec<i64> =
                first.iter().chain(&second).filter(|r| r.partition == p).map(|r| r.offset).collect();
            assert_eq!(offsets, [0, 1, 2, 3, 4], "partition {p}");
            assert_eq!(st.assignment[&tp(p)].position, Some(5));
            assert!(st.assignment[&tp(p)].buffered.is_none(), "exhausted data is dropped");
        }
        // Nothing was consumed until the caller says so.
        assert_eq!(st.consumed(None)[&tp(0)], (0, None));
        st.mark_all_consumed();
        assert_eq!(st.consumed(None)[&tp(0)].0, 5);
    }

    #[test]
    fn a_seek_drops_data_fetched_for_elsewhere() {
        let mut st = positioned(&[0]);
        st.assignment.get_mut(&tp(0)).unwrap().buffered = Some(fetch(0, 0, 10));
        assert_eq!(st.take_records(3).unwrap().len(), 3);
        st.seek(&tp(0), 8, None);
        assert!(st.assignment[&tp(0)].buffered.is_none());
        assert_eq!(st.consumed(None)[&tp(0)], (8, None), "a seek position is what a commit commits");
        assert!(st.take_records(10).unwrap().is_empty());
        assert_eq!(st.fetchable(), vec![(tp(0), 8, None)]);
    }

    #[test]
    fn paused_partitions_hand_out_nothing_and_are_not_fetched() {
        let mut st = positioned(&[0, 1]);
        st.assignment.get_mut(&tp(0)).unwrap().buffered = Some(fetch(0, 0, 3));
        st.assignment.get_mut(&tp(0)).unwrap().paused = true;
        assert!(st.take_records(10).unwrap().is_empty());
        assert_eq!(st.fetchable(), vec![(tp(1), 0, None)]);
    }

    #[test]
    fn a_rewind_gives_back_records_never_handed_to_the_application() {
        let mut st = positioned(&[0]);
        st.assignment.get_mut(&tp(0)).unwrap().buffered = Some(fetch(0, 0, 10));
        assert_eq!(st.take_records(10).unwrap().len(), 10);
        st.rewind(&tp(0), 4, None);
        assert_eq!(st.assignment[&tp(0)].position, Some(4));
        // Never forwards.
        st.rewind(&tp(0), 9, None);
        assert_eq!(st.assignment[&tp(0)].position, Some(4));
    }

    #[test]
    fn no_committed_offset_falls_back_to_the_policy_and_errors_come_once() {
        let mut st = State::default();
        st.set_assignment(&[tp(0)]);
        st.no_committed(&tp(0), OffsetReset::Latest);
        assert_eq!(st.missing_positions(), (vec![], vec![(tp(0), OffsetReset::Latest)]));
        assert!(!st.init_from_reset(&tp(0), OffsetReset::Earliest, 3, None), "another policy's answer");
        assert!(st.init_from_reset(&tp(0), OffsetReset::Latest, 42, None));
        assert_eq!(st.assignment[&tp(0)].position, Some(42));
        st.fail(&tp(0), Error::NoOffset { tp: tp(0) });
        assert!(st.take_records(10).is_err());
        assert!(st.take_records(10).unwrap().is_empty(), "reported once");
    }

    #[test]
    fn the_next_response_is_fetched_from_where_the_buffered_one_ends() {
        let mut st = positioned(&[0]);
        st.store(&tp(0), fetch(0, 0, 5));
        // The partition is fetched ahead from offset 5, without an epoch check.
        assert_eq!(st.fetchable(), vec![(tp(0), 5, None)]);
        assert_eq!(st.expected_fetch_offset(&tp(0)), Some(5));
        assert!(st.held_back().is_empty());
        st.store(&tp(0), fetch(0, 5, 5));
        assert!(st.fetchable().is_empty(), "two responses at most");
        assert_eq!(st.held_back(), vec![tp(0)], "its leader should not long-poll");
        let offsets: Vec<i64> = st.take_records(100).unwrap().iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4]);
        // The second answer moved up; it is read next.
        assert_eq!(st.fetchable(), vec![(tp(0), 10, None)]);
        let offsets: Vec<i64> = st.take_records(100).unwrap().iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [5, 6, 7, 8, 9]);
        assert_eq!(st.fetchable(), vec![(tp(0), 10, None)]);
        // A seek drops both.
        st.store(&tp(0), fetch(0, 10, 5));
        st.store(&tp(0), fetch(0, 15, 5));
        st.seek(&tp(0), 3, None);
        assert!(st.assignment[&tp(0)].buffered.is_none() && st.assignment[&tp(0)].prefetched.is_none());
    }
}
