//! What the consumer subscribes to and where it stands in each assigned
//! partition — plain state, no I/O.
//!
//! Per partition: the position (the next offset to hand out) and the leader
//! epoch of the last record handed out, whether the position must still
//! come from the committed offset or from `auto.offset.reset`, whether it
//! is paused, and at most one fetched-but-not-yet-consumed response. A
//! response is used only if it was fetched for the current position and
//! assignment: after a seek, a rebalance or a reset, stale data is dropped,
//! so a record is never handed out twice or skipped within a generation.

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
    /// A response waiting to be consumed.
    pub buffered: Option<CompletedFetch>,
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

    /// Partitions to fetch: positioned, not paused, nothing buffered or in flight.
    pub(crate) fn fetchable(&self) -> Vec<(TopicPartition, i64, Option<i32>)> {
        self.assignment
            .iter()
            .filter(|(_, p)| !p.paused && !p.in_flight && p.buffered.is_none() && p.error.is_none())
            .filter_map(|(tp, p)| p.position.map(|pos| (tp.clone(), pos, p.epoch)))
            .collect()
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
                        p.buffered = None;
                    }
                }
                Err(e) => {
                    p.buffered = None;
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
        }
    }
}
