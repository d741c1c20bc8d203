//! The consumer's engine: one task that owns everything the consumer
//! knows — the positions and fetch buffers ([`State`]), the group
//! membership state machine, the coordinator, the queue of commits, the
//! leader's assignment snapshot and the metadata refresh timer — and
//! changes it only here, on a command from the handle or on the answer to
//! a request it started.
//!
//! Each turn it applies what arrived, then starts whatever is due (a
//! Fetch per leader with partitions ready, the group's next request, the
//! next commit, position lookups, a metadata refresh) as futures in its
//! `JoinSet`, answers the poll waiting for records, and sleeps until the
//! next arrival or timer. The request futures read no consumer state; they
//! return what they learned as an [`Event`]. So no lock is shared, and
//! dropping the engine (every handle gone, or `close`) aborts every
//! request and closes the connections.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::FetchResponse;
use kafka_protocol::{ApiKey, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::config::OffsetReset;
use super::fetcher;
use super::group::{self, CoordinatorNews, GroupAnswer};
use super::membership::{Membership, Send, Step};
use super::offsets::{self, CommitAttempt, CommitIdentity, CommitJob, CommitWhat, Listed, OffsetAndMetadata};
use super::record::ConsumerRecord;
use super::state::{State, SubscriptionKind};
use super::subscription::{self, RefreshPlan, Refreshed};
use super::{Io, LeaderSnapshot, not_assigned};
use crate::TopicPartition;
use crate::config::millis;
use crate::error::{Error, Result};

/// What the handle asks of the engine, in the order it asks.
pub(crate) enum Command {
    /// A group subscription (`topics` is None for a pattern); `generation`
    /// numbers it in [`Published`].
    Subscribe {
        kind: SubscriptionKind,
        topics: Option<BTreeSet<String>>,
        generation: u64,
    },
    /// Partitions chosen by the application (empty: none).
    Assign(Vec<TopicPartition>),
    /// Forget the subscription and the assignment (after [`Command::Leave`]).
    Unsubscribe,
    Seek {
        tp: TopicPartition,
        offset: i64,
    },
    Reset {
        parts: Vec<TopicPartition>,
        policy: OffsetReset,
    },
    Pause {
        parts: Vec<TopicPartition>,
        paused: bool,
    },
    /// Records the stream took but never handed out: move back to them.
    Rewind(BTreeMap<TopicPartition, (i64, Option<i32>)>),
    MarkConsumed {
        tp: TopicPartition,
        offset: i64,
        epoch: Option<i32>,
    },
    /// Everything handed out so far is processed (after `poll`).
    MarkAllConsumed,
    /// Records, the rebalance step due, or nothing once `deadline_ms` passes.
    Poll {
        max: usize,
        deadline_ms: i64,
        reply: oneshot::Sender<Result<PollAnswer>>,
    },
    /// A rebalance's new partitions, taken before its listener runs.
    ApplyAssignment(Vec<TopicPartition>),
    StepDone(StepDone),
    Commit {
        what: CommitWhat,
        deadline_ms: i64,
        reply: Option<oneshot::Sender<Result<()>>>,
    },
    Committed {
        parts: Vec<TopicPartition>,
        deadline_ms: i64,
        reply: oneshot::Sender<Result<CommittedOffsets>>,
    },
    /// The position of an assigned partition, once known.
    Position {
        tp: TopicPartition,
        reply: oneshot::Sender<Result<i64>>,
    },
    /// The partitions the member holds in its generation.
    Owned(oneshot::Sender<Vec<TopicPartition>>),
    /// Leave the group (answered once LeaveGroup is answered).
    Leave(oneshot::Sender<()>),
    /// Stop (answered once stopped).
    Close(oneshot::Sender<()>),
}

type CommittedOffsets = BTreeMap<TopicPartition, Option<OffsetAndMetadata>>;

/// The engine's answer to a poll.
#[derive(Debug)]
pub(crate) enum PollAnswer {
    Records(Vec<ConsumerRecord>),
    /// Run this step (listener, commit) and report it with [`Command::StepDone`].
    Step(Step),
}

/// A rebalance step the handle has run.
#[derive(Debug)]
pub(crate) enum StepDone {
    Revoked(Vec<TopicPartition>),
    Assigned(Vec<TopicPartition>),
    Lost(Vec<TopicPartition>),
}

/// What the synchronous getters read, published by the engine (and, for
/// the subscription, by the handle when the application changes it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Published {
    /// Numbers the application's subscriptions, so that the engine fills
    /// in a pattern's matches for the current one only.
    pub subscription_generation: u64,
    pub subscribed: Option<BTreeSet<String>>,
    pub member: Option<(String, i32)>,
    /// The member id and generation the current (or last) assignment came
    /// with: what a transaction's offset commit carries (KIP-447).
    pub assigned_as: Option<(String, i32)>,
    pub buffered_bytes: usize,
}

/// A request's result, applied by the engine.
enum Event {
    Group {
        membership: u64,
        answer: GroupAnswer,
        news: CoordinatorNews,
    },
    Assignment {
        membership: u64,
        result: Result<(Vec<(String, Bytes)>, LeaderSnapshot)>,
    },
    Fetched {
        leader: i32,
        epoch: u64,
        asked: Vec<(TopicPartition, i64)>,
        result: Result<(i16, FetchResponse)>,
    },
    Refreshed(Refreshed),
    /// `epoch`: the assignment's, when the lookup started.
    CommittedPositions {
        epoch: u64,
        result: Result<CommittedOffsets>,
        news: CoordinatorNews,
    },
    ResetPositions {
        epoch: u64,
        reset: Vec<(TopicPartition, OffsetReset)>,
        listed: Listed,
    },
    Committed {
        job: CommitJob,
        attempt: CommitAttempt,
    },
    CommittedAnswer {
        parts: Vec<TopicPartition>,
        deadline_ms: i64,
        reply: oneshot::Sender<Result<CommittedOffsets>>,
        result: Result<CommittedOffsets>,
        news: CoordinatorNews,
    },
    Left {
        reply: oneshot::Sender<()>,
        news: CoordinatorNews,
    },
}

/// What a running request holds, to be released if it panics instead of
/// answering (its event never comes).
#[derive(Debug, Clone, Copy)]
enum Holds {
    Nothing,
    Group(u64),
    Fetch(i32),
    Refresh,
    CommittedLookup,
    ResetLookup,
    Commit,
}

/// One kind of position lookup: in flight or not, and not again before a
/// time after a failure.
#[derive(Debug, Default)]
struct Lookup {
    busy: bool,
    retry_ms: i64,
}

struct ParkedPoll {
    max: usize,
    deadline_ms: i64,
    reply: oneshot::Sender<Result<PollAnswer>>,
}

pub(crate) struct Engine {
    io: Arc<Io>,
    commands: mpsc::UnboundedReceiver<Command>,
    published: Arc<watch::Sender<Published>>,
    state: State,
    membership: Option<Membership>,
    /// Numbers memberships, so an answer for one left behind is ignored.
    membership_number: u64,
    /// The membership whose group request is in flight (one at a time).
    group_busy: Option<u64>,
    coordinator: Option<i32>,
    /// What the leader's last assignment was based on.
    snapshot: Option<LeaderSnapshot>,
    subscription_generation: u64,
    tasks: JoinSet<Event>,
    /// Leaders with a Fetch in flight.
    fetching: HashSet<i32>,
    fetch_backoff: HashMap<i32, i64>,
    refreshing: bool,
    last_refresh_ms: Option<i64>,
    refresh_wanted: bool,
    /// OffsetFetch for partitions waiting for their committed offsets.
    committed_lookup: Lookup,
    /// ListOffsets for partitions waiting for a reset.
    reset_lookup: Lookup,
    /// Between a rebalance's new partitions and the end of its listener:
    /// their committed offsets are looked up after the listener (which may
    /// commit or seek), unless someone asks for a position.
    assigning: bool,
    /// What each running request holds.
    holds: HashMap<tokio::task::Id, Holds>,
    /// The generation the last Assign step given to `poll` belongs to.
    assign_generation: i32,
    /// The partitions of the last Assign step, applied to the state.
    applied: Vec<TopicPartition>,
    /// Partitions applied for a generation the member lost while their
    /// `on_partitions_assigned` ran: already out of the state, to be
    /// reported lost by the next poll.
    dropped: Vec<TopicPartition>,
    /// An error a withdrawn poll did not take, for the next poll only.
    poll_error: Option<Error>,
    /// A lookup's error, for the next poll or position call.
    positions_error: Option<Error>,
    position_waiters: Vec<(TopicPartition, oneshot::Sender<Result<i64>>)>,
    commits: VecDeque<CommitJob>,
    committing: bool,
    poll: Option<ParkedPoll>,
    next_auto_commit_ms: i64,
}

impl Engine {
    pub(crate) fn new(
        io: Arc<Io>,
        commands: mpsc::UnboundedReceiver<Command>,
        published: Arc<watch::Sender<Published>>,
    ) -> Self {
        let next_auto_commit_ms = io.clock.now_ms() + millis(io.cfg.auto_commit_interval);
        Engine {
            io,
            commands,
            published,
            state: State::default(),
            membership: None,
            membership_number: 0,
            group_busy: None,
            coordinator: None,
            snapshot: None,
            subscription_generation: 0,
            tasks: JoinSet::new(),
            fetching: HashSet::new(),
            fetch_backoff: HashMap::new(),
            refreshing: false,
            last_refresh_ms: None,
            refresh_wanted: false,
            committed_lookup: Lookup::default(),
            reset_lookup: Lookup::default(),
            assigning: false,
            holds: HashMap::new(),
            assign_generation: -1,
            applied: Vec::new(),
            dropped: Vec::new(),
            poll_error: None,
            positions_error: None,
            position_waiters: Vec::new(),
            commits: VecDeque::new(),
            committing: false,
            poll: None,
            next_auto_commit_ms,
        }
    }

    /// Runs until closed or every handle is dropped.
    pub(crate) async fn run(mut self) {
        let closed = self.serve().await;
        self.tasks.abort_all();
        self.io.net.close();
        self.io.group_net.close();
        self.published.send_modify(|p| {
            p.member = None;
            p.assigned_as = None;
        });
        if let Some(reply) = closed {
            let _ = reply.send(());
        }
    }

    async fn serve(&mut self) -> Option<oneshot::Sender<()>> {
        let mut md_updates = self.io.net.metadata_updates();
        loop {
            let now = self.io.clock.now_ms();
            let next = self.round(now);
            let wait = next.map(|t| Duration::from_millis(u64::try_from((t - now).max(1)).unwrap_or(1)));
            tokio::select! {
                biased;
                c = self.commands.recv() => match c {
                    Some(Command::Close(reply)) => return Some(reply),
                    Some(c) => self.on_command(c),
                    // Every handle is gone.
                    None => return None,
                },
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => match done {
                    Ok((id, event)) => {
                        self.holds.remove(&id);
                        self.on_event(event);
                    }
                    Err(e) => self.release(e),
                },
                // A partition whose leader was unknown may be fetchable now.
                r = md_updates.changed() => {
                    if r.is_err() {
                        return None;
                    }
                }
                () = async {
                    match wait {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// Starts what is due and answers what can be answered; returns when
    /// the engine must look again without being woken.
    fn round(&mut self, now: i64) -> Option<i64> {
        self.answer_poll(now);
        self.drive_metadata(now);
        self.drive_group(now);
        self.drive_positions(now);
        self.drive_commits(now);
        self.drive_fetches(now);
        self.answer_position_waiters();
        self.publish();
        self.next_wakeup(now)
    }

    fn next_wakeup(&self, now: i64) -> Option<i64> {
        let mut at: Option<i64> = None;
        // What is due now was started this round, or waits for an answer
        // that wakes the engine anyway; a time already past would only spin.
        let mut consider = |t: i64| {
            if t > now {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        if let Some(m) = &self.membership
            && self.group_busy != Some(self.membership_number)
            && let Some(t) = m.next_wakeup_ms(now)
        {
            consider(t);
        }
        for &t in self.fetch_backoff.values() {
            consider(t);
        }
        if let Some(last) = self.last_refresh_ms {
            consider(last + millis(self.io.cfg.metadata_max_age));
            if self.refresh_wanted {
                consider(last + millis(self.io.cfg.retry_backoff));
            }
        }
        consider(self.committed_lookup.retry_ms);
        consider(self.reset_lookup.retry_ms);
        if let Some(job) = self.commits.front()
            && !self.committing
        {
            consider(job.not_before_ms);
        }
        if let Some(p) = &self.poll {
            // At the deadline itself `answer_poll` answers.
            consider(p.deadline_ms.max(now + 1));
            if self.io.cfg.enable_auto_commit {
                consider(self.next_auto_commit_ms);
            }
            // Waiting inside poll still counts as polling for
            // max.poll.interval.ms: say so well within it.
            consider(now + (millis(self.io.cfg.max_poll_interval) / 2).max(1));
        }
        at
    }

    /// Starts a request; `holds` is released if it panics.
    fn spawn(&mut self, holds: Holds, fut: impl std::future::Future<Output = Event> + std::marker::Send + 'static) {
        let id = self.tasks.spawn(fut).id();
        self.holds.insert(id, holds);
    }

    /// A request panicked (a bug, or a custom assignor's): free what it
    /// held so the consumer goes on.
    fn release(&mut self, e: tokio::task::JoinError) {
        let holds = self.holds.remove(&e.id()).unwrap_or(Holds::Nothing);
        tracing::error!(error = %e, ?holds, "a consumer request failed without an answer");
        let now = self.io.clock.now_ms();
        match holds {
            Holds::Nothing => {}
            Holds::Group(number) => {
                if self.group_busy == Some(number) {
                    self.group_busy = None;
                }
                // Whatever the request was (a join, a sync, a heartbeat, the
                // assignor), the state machine goes back to a state it
                // leaves by itself.
                if let Some(m) = self.membership.as_mut().filter(|_| number == self.membership_number) {
                    m.on_assignment_failed(now);
                    m.on_coordinator_lost(now);
                }
            }
            Holds::Fetch(leader) => {
                self.fetching.remove(&leader);
                for p in self.state.assignment.values_mut() {
                    p.in_flight = false;
                }
            }
            Holds::Refresh => self.refreshing = false,
            Holds::CommittedLookup => self.committed_lookup = Lookup { busy: false, retry_ms: now + 1_000 },
            Holds::ResetLookup => self.reset_lookup = Lookup { busy: false, retry_ms: now + 1_000 },
            Holds::Commit => self.committing = false,
        }
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::Subscribe { kind, topics, generation } => self.subscribe(kind, topics, generation),
            Command::Assign(parts) => {
                self.state.subscription =
                    if parts.is_empty() { SubscriptionKind::None } else { SubscriptionKind::Manual };
                self.state.set_assignment(&parts);
                self.assigning = false;
                self.refresh_wanted = true;
            }
            Command::Unsubscribe => {
                self.assigning = false;
                self.state.subscription = SubscriptionKind::None;
                self.state.subscribed = None;
                self.state.set_assignment(&[]);
            }
            Command::Seek { tp, offset } => {
                self.state.seek(&tp, offset, None);
            }
            Command::Reset { parts, policy } => {
                for tp in &parts {
                    self.state.request_reset(tp, policy);
                }
            }
            Command::Pause { parts, paused } => {
                for tp in &parts {
                    if let Some(p) = self.state.assignment.get_mut(tp) {
                        p.paused = paused;
                    }
                }
            }
            Command::Rewind(first) => {
                for (tp, (offset, epoch)) in first {
                    self.state.rewind(&tp, offset, epoch);
                }
            }
            Command::MarkConsumed { tp, offset, epoch } => self.state.mark_consumed(&tp, offset, epoch),
            Command::MarkAllConsumed => self.state.mark_all_consumed(),
            Command::Poll { max, deadline_ms, reply } => {
                self.poll = Some(ParkedPoll { max, deadline_ms, reply });
            }
            Command::ApplyAssignment(parts) => {
                self.state.set_assignment(&parts);
                self.applied = parts;
                self.assigning = true;
                self.refresh_wanted = true;
            }
            Command::StepDone(done) => match done {
                StepDone::Revoked(parts) => {
                    self.state.remove(&parts);
                    if let Some(m) = self.membership.as_mut() {
                        m.revoked();
                    }
                }
                StepDone::Assigned(parts) => {
                    self.assigning = false;
                    let generation = self.assign_generation;
                    let stands = self.membership.as_mut().is_some_and(|m| m.generation == generation && m.assigned());
                    if !stands && self.state.subscription.uses_group() {
                        // Java reports what was assigned as lost: the
                        // group moved on while the listener ran.
                        tracing::warn!(
                            partitions = parts.len(),
                            "the member lost its generation while on_partitions_assigned ran"
                        );
                        self.state.remove(&parts);
                        self.dropped = parts;
                    }
                }
                StepDone::Lost(parts) => {
                    self.state.remove(&parts);
                    if !self.dropped.is_empty() && self.dropped == parts {
                        // The loss the engine found, not the state machine's.
                        self.dropped.clear();
                    } else if let Some(m) = self.membership.as_mut() {
                        m.lost_reported();
                    }
                }
            },
            Command::Commit { what, deadline_ms, reply } => self.queue_commit(what, deadline_ms, reply),
            Command::Committed { parts, deadline_ms, reply } => self.fetch_committed(parts, deadline_ms, reply, 0),
            Command::Position { tp, reply } => self.position_waiters.push((tp, reply)),
            Command::Owned(reply) => {
                let owned = self.membership.as_ref().filter(|m| m.in_generation()).map(|m| m.owned.clone());
                let _ = reply.send(owned.unwrap_or_default());
            }
            Command::Leave(reply) => self.leave(reply),
            Command::Close(_) => {}
        }
    }

    fn on_event(&mut self, e: Event) {
        let now = self.io.clock.now_ms();
        match e {
            Event::Group { membership, answer, news } => {
                let current = self.group_busy == Some(membership);
                if current {
                    self.group_busy = None;
                }
                self.apply_news(news, now, current);
                let Some(m) = self.membership.as_mut().filter(|_| membership == self.membership_number) else {
                    return;
                };
                match answer {
                    GroupAnswer::Join(resp) => m.on_join(resp, now),
                    GroupAnswer::Sync(resp) => m.on_sync(resp, now),
                    GroupAnswer::Heartbeat(code) => m.on_heartbeat(code, now),
                    GroupAnswer::Left => {}
                }
            }
            Event::Assignment { membership, result } => {
                if self.group_busy == Some(membership) {
                    self.group_busy = None;
                }
                let Some(m) = self.membership.as_mut().filter(|_| membership == self.membership_number) else {
                    return;
                };
                match result {
                    Ok((assignments, snapshot)) => {
                        self.snapshot = Some(snapshot);
                        m.on_assignment_computed(assignments);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot compute the group assignment");
                        m.on_assignment_failed(now);
                    }
                }
            }
            Event::Fetched { leader, epoch, asked, result } => {
                self.fetching.remove(&leader);
                let backoff = now + millis(self.io.cfg.retry_backoff);
                if let Err(e) = &result {
                    tracing::debug!(broker = leader, error = %e, "fetch failed");
                    self.fetch_backoff.insert(leader, backoff);
                    self.refresh_wanted |= e.needs_metadata_refresh();
                }
                if fetcher::process(&self.io, &mut self.state, epoch, asked, result) {
                    self.refresh_wanted = true;
                    self.fetch_backoff.insert(leader, backoff);
                }
            }
            Event::Refreshed(r) => {
                self.refreshing = false;
                if r.ok {
                    self.last_refresh_ms = Some(now);
                    // A pattern's matches count only for the subscription
                    // they were looked up for.
                    if let Some(matched) = r.matched.filter(|_| r.generation == self.subscription_generation) {
                        self.update_pattern_topics(matched);
                    }
                    self.check_leader_snapshot();
                } else {
                    // Again after the backoff, not after the max age.
                    self.last_refresh_ms =
                        Some(now - millis(self.io.cfg.metadata_max_age) + millis(self.io.cfg.retry_backoff));
                }
            }
            Event::CommittedPositions { epoch, result, news } => {
                self.committed_lookup.busy = false;
                self.apply_news(news, now, false);
                match result {
                    // Looked up for an earlier assignment: a partition
                    // revoked and assigned again since may have moved on.
                    Ok(_) if epoch != self.state.epoch => {}
                    Ok(found) => {
                        for (tp, o) in found {
                            match o {
                                Some(o) => {
                                    if self.state.init_from_committed(&tp, o.offset, o.leader_epoch) {
                                        tracing::debug!(%tp, offset = o.offset, "starting from the committed offset");
                                    }
                                }
                                None => self.state.no_committed(&tp, self.io.cfg.auto_offset_reset),
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "committed offsets unavailable; retrying");
                        self.committed_lookup.retry_ms = now + millis(self.io.cfg.retry_backoff);
                        if !e.is_retriable() {
                            self.positions_error = Some(e);
                        }
                    }
                }
            }
            Event::ResetPositions { epoch, reset, listed } => {
                self.reset_lookup.busy = false;
                self.refresh_wanted |= listed.refresh;
                let mut failed = false;
                // Looked up for an earlier assignment: looked up again.
                let found = if epoch == self.state.epoch { listed.found } else { BTreeMap::new() };
                for (tp, f) in found {
                    let Some(policy) = reset.iter().find(|(t, _)| *t == tp).map(|(_, p)| *p) else { continue };
                    match f {
                        Some(f) => {
                            if self.state.init_from_reset(&tp, policy, f.offset, None) {
                                tracing::debug!(%tp, offset = f.offset, policy = policy.name(), "position reset");
                            }
                        }
                        None => failed = true,
                    }
                }
                if let Some(e) = listed.error {
                    tracing::debug!(error = %e, "offset lookup failed; retrying");
                    failed = true;
                }
                if failed {
                    self.reset_lookup.retry_ms = now + millis(self.io.cfg.retry_backoff);
                }
            }
            Event::Committed { mut job, attempt } => {
                self.committing = false;
                self.apply_news(attempt.news, now, false);
                let generation = job.identity.as_ref().map_or(-1, |i| i.generation);
                if let Some(code) = attempt.group_error
                    && let Some(m) = self.membership.as_mut()
                    // A stale commit's ILLEGAL_GENERATION says nothing of
                    // the member's current generation.
                    && (generation < 0 || m.generation == generation)
                {
                    m.on_group_error(code);
                }
                match attempt.result {
                    Err(e) if e.is_retriable() && now + millis(self.io.cfg.retry_backoff) < job.deadline_ms => {
                        tracing::debug!(error = %e, "commit failed; retrying");
                        job.not_before_ms = now + millis(self.io.cfg.retry_backoff);
                        self.commits.push_front(job);
                    }
                    result => finish_commit(job, result),
                }
            }
            Event::CommittedAnswer { parts, deadline_ms, reply, result, news } => {
                self.apply_news(news, now, false);
                match result {
                    Err(e) if e.is_retriable() && now + millis(self.io.cfg.retry_backoff) < deadline_ms => {
                        let backoff = self.io.cfg.retry_backoff;
                        self.fetch_committed(parts, deadline_ms, reply, backoff.as_millis() as u64);
                    }
                    result => {
                        let _ = reply.send(result);
                    }
                }
            }
            Event::Left { reply, news } => {
                self.apply_news(news, now, false);
                let _ = reply.send(());
            }
        }
    }

    /// Applies what a request learned about the coordinator. A loss counts
    /// only for the coordinator in use: a request to an older one (or one
    /// that found none while another found it) changes nothing but its own
    /// link, so an answer from the current coordinator in flight is kept.
    ///
    /// Only the group's own request resets a join or sync in flight: a
    /// commit's or lookup's failure while one is under way would throw its
    /// answer away (and cost the whole group a rebalance), and the group
    /// request learns of a real loss itself.
    fn apply_news(&mut self, news: CoordinatorNews, now: i64, from_group: bool) {
        if news.lost {
            if let Some(id) = news.used {
                self.io.group_net.disconnect(id);
            }
            let current = match (news.used, self.coordinator) {
                (_, None) => true,
                (Some(used), Some(known)) => used == known,
                (None, Some(_)) => false,
            };
            if current {
                self.coordinator = None;
                let group_request_under_way = self.group_busy == Some(self.membership_number);
                if let Some(m) = self.membership.as_mut()
                    && (from_group || !group_request_under_way)
                {
                    m.on_coordinator_lost(now);
                }
            }
        } else if news.found {
            self.coordinator = news.used;
        }
    }

    fn subscribe(&mut self, kind: SubscriptionKind, topics: Option<BTreeSet<String>>, generation: u64) {
        let Ok(group_id) = self.io.group_id().map(str::to_string) else { return };
        self.state.subscription = kind;
        self.state.subscribed = topics.clone();
        self.subscription_generation = generation;
        if self.membership.is_none() {
            self.membership_number += 1;
        }
        let io = &self.io;
        let m = self.membership.get_or_insert_with(|| Membership::new(io.membership_config(&group_id)));
        let fresh = m.generation < 0 && m.member_id.is_empty() && m.owned.is_empty();
        if let Some(topics) = topics {
            let list: Vec<String> = topics.into_iter().collect();
            m.set_protocols(group::protocols(io, &list));
        }
        if !fresh {
            m.request_rejoin("the subscription changed");
        }
        self.refresh_wanted = true;
    }

    fn leave(&mut self, reply: oneshot::Sender<()>) {
        let leave = self.membership.as_mut().and_then(Membership::leave);
        self.membership = None;
        self.snapshot = None;
        match leave {
            Some(Send::Leave(req)) => {
                let io = self.io.clone();
                let known = self.coordinator;
                self.spawn(Holds::Nothing, async move {
                    let (_, news) = group::perform(&io, Send::Leave(req), known).await;
                    Event::Left { reply, news }
                });
            }
            _ => {
                let _ = reply.send(());
            }
        }
    }

    /// A pattern's matches changed: new protocols, and a rejoin if the
    /// member had joined with the old ones.
    fn update_pattern_topics(&mut self, matched: BTreeSet<String>) {
        if !matches!(self.state.subscription, SubscriptionKind::Pattern(_))
            || self.state.subscribed.as_ref() == Some(&matched)
        {
            return;
        }
        tracing::info!(topics = ?matched, "the subscription pattern matches a new set of topics");
        self.state.subscribed = Some(matched.clone());
        let generation = self.subscription_generation;
        self.published.send_if_modified(|p| {
            let current = p.subscription_generation == generation;
            if current {
                p.subscribed = Some(matched.clone());
            }
            current
        });
        let list: Vec<String> = matched.into_iter().collect();
        let protocols = group::protocols(&self.io, &list);
        if let Some(m) = self.membership.as_mut() {
            m.set_protocols(protocols);
            m.request_rejoin("the subscribed topics changed");
        }
    }

    /// The leader rejoins when the cluster no longer matches its assignment.
    fn check_leader_snapshot(&mut self) {
        if !self.membership.as_ref().is_some_and(Membership::is_leader) {
            return;
        }
        let Some(snapshot) = &self.snapshot else { return };
        let now = subscription::snapshot_of(&self.io, &snapshot.topics);
        if now != *snapshot {
            tracing::info!(before = ?snapshot.partitions, now = ?now.partitions, "partitions changed; rejoining to reassign");
            self.snapshot = Some(now);
            if let Some(m) = self.membership.as_mut() {
                m.request_rejoin("the subscribed topics' partitions changed");
            }
        }
    }

    /// Answers the waiting poll: the rebalance step due, else records, else
    /// nothing once its time is up.
    fn answer_poll(&mut self, now: i64) {
        let Some(parked) = self.poll.take() else { return };
        // Withdrawn (the poll was cancelled): nobody is polling now.
        if parked.reply.is_closed() {
            return;
        }
        if !self.dropped.is_empty() {
            let _ = parked.reply.send(Ok(PollAnswer::Step(Step::Lost(self.dropped.clone()))));
            return;
        }
        if let Some(m) = self.membership.as_mut() {
            let step = m.poll(now);
            if self.assigning && !matches!(step, Some(Step::Assign(_))) {
                // The listener of the last Assign was interrupted (a
                // cancelled poll) and the assignment no longer stands.
                self.assigning = false;
                let applied = std::mem::take(&mut self.applied);
                self.state.remove(&applied);
                if !applied.is_empty() {
                    self.dropped = applied;
                    let _ = parked.reply.send(Ok(PollAnswer::Step(Step::Lost(self.dropped.clone()))));
                    return;
                }
            }
            if let Some(step) = step {
                if matches!(step, Step::Assign(_)) {
                    self.assign_generation = m.generation;
                }
                // Not handed over: the state machine gives the step again.
                let _ = parked.reply.send(Ok(PollAnswer::Step(step)));
                return;
            }
        }
        self.maybe_auto_commit(now);
        let taken = match self.poll_error.take().or_else(|| self.positions_error.take()) {
            Some(e) => Err(e),
            None => self.state.take_records(parked.max),
        };
        match taken {
            Err(e) => {
                // Withdrawn just now: kept for the next poll.
                if let Err(Err(e)) = parked.reply.send(Err(e)) {
                    self.poll_error = Some(e);
                }
            }
            Ok(records) if !records.is_empty() => {
                if let Err(Ok(PollAnswer::Records(records))) = parked.reply.send(Ok(PollAnswer::Records(records))) {
                    // Nobody took them (the poll was withdrawn just now):
                    // move back so that nothing counts as handed out.
                    let mut first: BTreeMap<TopicPartition, (i64, Option<i32>)> = BTreeMap::new();
                    for r in &records {
                        first.entry(r.topic_partition()).or_insert((r.offset, None));
                    }
                    for (tp, (offset, epoch)) in first {
                        self.state.rewind(&tp, offset, epoch);
                    }
                }
            }
            Ok(_) if now >= parked.deadline_ms => {
                let _ = parked.reply.send(Ok(PollAnswer::Records(Vec::new())));
            }
            Ok(_) => self.poll = Some(parked),
        }
    }

    /// Queues an auto-commit of the processed positions when one is due.
    fn maybe_auto_commit(&mut self, now: i64) {
        if !self.io.cfg.enable_auto_commit || now < self.next_auto_commit_ms {
            return;
        }
        self.next_auto_commit_ms = now + millis(self.io.cfg.auto_commit_interval);
        // Only while the member holds its partitions in a generation: a
        // member that is rejoining has nothing it may commit.
        let stable = self.membership.as_ref().is_none_or(|m| m.in_generation() && !m.has_step());
        if stable {
            let deadline = now + millis(self.io.cfg.default_api_timeout);
            self.queue_commit(CommitWhat::Consumed(None), deadline, None);
        }
    }

    fn queue_commit(&mut self, what: CommitWhat, deadline_ms: i64, reply: Option<oneshot::Sender<Result<()>>>) {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = match what {
            CommitWhat::Offsets(o) => o,
            CommitWhat::Consumed(parts) => self
                .state
                .consumed(parts.as_deref())
                .into_iter()
                .map(|(tp, (offset, epoch))| {
                    (tp, OffsetAndMetadata { offset, leader_epoch: epoch, metadata: String::new() })
                })
                .collect(),
        };
        if offsets.is_empty() {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
            return;
        }
        let identity = self.commit_identity();
        self.commits.push_back(CommitJob { offsets, identity, deadline_ms, not_before_ms: 0, reply });
    }

    /// The identity a commit made now carries.
    fn commit_identity(&self) -> Result<CommitIdentity> {
        match &self.membership {
            Some(m) if self.state.subscription.uses_group() => {
                if m.in_generation() {
                    Ok(CommitIdentity {
                        generation: m.generation,
                        member_id: m.member_id.clone(),
                        instance_id: m.config().instance_id.clone(),
                    })
                } else {
                    // Java's RebalanceInProgressException: the next poll rejoins.
                    Err(Error::broker(
                        ErrorCode::REBALANCE_IN_PROGRESS,
                        ApiKey::OffsetCommit,
                        -1,
                        format!("group {}", m.config().group_id),
                        Some("the member is not in a generation; poll to rejoin, then commit".into()),
                    ))
                }
            }
            _ => Ok(CommitIdentity { generation: -1, member_id: String::new(), instance_id: None }),
        }
    }

    /// Whether the member still is who made the commit: same member, same
    /// generation (always true for `assign`ed partitions).
    fn still_current(&self, identity: &CommitIdentity) -> bool {
        identity.generation < 0
            || self.membership.as_ref().is_some_and(|m| {
                m.in_generation() && m.generation == identity.generation && m.member_id == identity.member_id
            })
    }

    /// Sends the next commit, one at a time and in order.
    fn drive_commits(&mut self, now: i64) {
        while !self.committing {
            let Some(job) = self.commits.front() else { return };
            if job.not_before_ms > now {
                return;
            }
            let Some(job) = self.commits.pop_front() else { return };
            let identity = match &job.identity {
                Ok(i) => i.clone(),
                Err(e) => {
                    let e = e.clone();
                    finish_commit(job, Err(e));
                    continue;
                }
            };
            if !self.still_current(&identity) {
                // Java's CommitFailedException: the group rebalanced since
                // the commit was made, and its partitions may be another
                // member's now.
                let group = self.io.cfg.group_id.clone().unwrap_or_default();
                let e = Error::broker(
                    ErrorCode::ILLEGAL_GENERATION,
                    ApiKey::OffsetCommit,
                    -1,
                    format!("group {group}"),
                    Some(format!(
                        "the group rebalanced after this commit was made in generation {}; not sent",
                        identity.generation
                    )),
                );
                finish_commit(job, Err(e));
                continue;
            }
            self.committing = true;
            let io = self.io.clone();
            let known = self.coordinator;
            self.spawn(Holds::Commit, async move {
                let attempt = offsets::commit_once(&io, &job.offsets, &identity, known).await;
                Event::Committed { job, attempt }
            });
        }
    }

    fn fetch_committed(
        &mut self,
        parts: Vec<TopicPartition>,
        deadline_ms: i64,
        reply: oneshot::Sender<Result<CommittedOffsets>>,
        delay_ms: u64,
    ) {
        let io = self.io.clone();
        let known = self.coordinator;
        self.spawn(Holds::Nothing, async move {
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            let (result, news) = offsets::fetch_committed_once(&io, &parts, known).await;
            Event::CommittedAnswer { parts, deadline_ms, reply, result, news }
        });
    }

    /// Refreshes metadata every `metadata.max.age.ms`, and when asked, at
    /// most once per `retry.backoff.ms`.
    fn drive_metadata(&mut self, now: i64) {
        if self.refreshing {
            return;
        }
        let due = match self.last_refresh_ms {
            None => true,
            Some(last) => {
                now - last >= millis(self.io.cfg.metadata_max_age)
                    || (self.refresh_wanted && now - last >= millis(self.io.cfg.retry_backoff))
            }
        };
        if !due {
            return;
        }
        let generation = self.subscription_generation;
        let Some(plan) = RefreshPlan::for_state(&self.state, self.snapshot.as_ref(), generation) else { return };
        self.refreshing = true;
        self.refresh_wanted = false;
        let io = self.io.clone();
        self.spawn(Holds::Refresh, async move { Event::Refreshed(subscription::refresh(&io, plan).await) });
    }

    /// Sends the group's next request, or runs the assignor as leader.
    fn drive_group(&mut self, now: i64) {
        let number = self.membership_number;
        if self.group_busy == Some(number) {
            return;
        }
        let Some(m) = self.membership.as_mut() else { return };
        let io = self.io.clone();
        if let Some((protocol, members)) = m.take_to_assign() {
            self.group_busy = Some(number);
            self.spawn(Holds::Group(number), async move {
                let result = group::assign(&io, &protocol, &members).await;
                Event::Assignment { membership: number, result }
            });
            return;
        }
        let Some(send) = m.check_poll_interval(now).or_else(|| m.next_send(now)) else { return };
        self.group_busy = Some(number);
        let known = self.coordinator;
        self.spawn(Holds::Group(number), async move {
            let (answer, news) = group::perform(&io, send, known).await;
            Event::Group { membership: number, answer, news }
        });
    }

    /// Looks up the positions of partitions that have none: their committed
    /// offsets first, then the reset policy. Answers apply only to
    /// partitions still waiting for them. A failed lookup is retried after
    /// `retry.backoff.ms`; an OffsetReset of `none` is an error from `poll`.
    fn drive_positions(&mut self, now: i64) {
        let (committed, _) = self.state.missing_positions();
        let held = self.assigning && self.position_waiters.is_empty();
        if !committed.is_empty() && !held {
            if self.io.cfg.group_id.is_none() {
                for tp in &committed {
                    self.state.no_committed(tp, self.io.cfg.auto_offset_reset);
                }
            } else if !self.committed_lookup.busy && now >= self.committed_lookup.retry_ms {
                self.committed_lookup.busy = true;
                let io = self.io.clone();
                let known = self.coordinator;
                let epoch = self.state.epoch;
                self.spawn(Holds::CommittedLookup, async move {
                    let (result, news) = offsets::fetch_committed_once(&io, &committed, known).await;
                    Event::CommittedPositions { epoch, result, news }
                });
            }
        }
        let (_, reset) = self.state.missing_positions();
        let mut lookups: Vec<(TopicPartition, i64)> = Vec::new();
        for (tp, policy) in &reset {
            match policy.list_offsets_timestamp() {
                Some(ts) => lookups.push((tp.clone(), ts)),
                None => {
                    let waiting =
                        self.state.assignment.get(tp).is_some_and(|p| p.position.is_none() && p.error.is_none());
                    if waiting {
                        self.state.fail(tp, Error::NoOffset { tp: tp.clone() });
                    }
                }
            }
        }
        if lookups.is_empty() || self.reset_lookup.busy || now < self.reset_lookup.retry_ms {
            return;
        }
        self.reset_lookup.busy = true;
        let io = self.io.clone();
        let epoch = self.state.epoch;
        self.spawn(Holds::ResetLookup, async move {
            let listed = offsets::list_offsets_once(&io, &lookups).await;
            Event::ResetPositions { epoch, reset, listed }
        });
    }

    /// One Fetch in flight per leader, for the partitions ready to fetch.
    fn drive_fetches(&mut self, now: i64) {
        let plan = fetcher::plan(&self.state, &self.io.net.metadata());
        self.refresh_wanted |= plan.missing_leader;
        let epoch = self.state.epoch;
        for (leader, parts) in plan.by_leader {
            if self.fetching.contains(&leader) {
                continue;
            }
            if self.fetch_backoff.get(&leader).is_some_and(|&until| until > now) {
                continue;
            }
            self.fetch_backoff.remove(&leader);
            self.fetching.insert(leader);
            let asked: Vec<(TopicPartition, i64)> = parts.iter().map(fetcher::ToFetch::asked).collect();
            for (tp, _) in &asked {
                if let Some(p) = self.state.assignment.get_mut(tp) {
                    p.in_flight = true;
                }
            }
            let io = self.io.clone();
            let hurry = plan.hurried.contains(&leader);
            self.spawn(Holds::Fetch(leader), async move {
                let result = fetcher::fetch(&io, leader, parts, hurry).await;
                Event::Fetched { leader, epoch, asked, result }
            });
        }
    }

    fn answer_position_waiters(&mut self) {
        if self.position_waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut self.position_waiters);
        for (tp, reply) in waiters {
            if reply.is_closed() {
                continue;
            }
            let answer = match self.state.assignment.get_mut(&tp) {
                None => Some(Err(not_assigned(&tp))),
                Some(p) => match (p.position, p.error.take()) {
                    (Some(pos), error) => {
                        p.error = error;
                        Some(Ok(pos))
                    }
                    (None, Some(e)) => Some(Err(e)),
                    (None, None) => self.positions_error.take().map(Err),
                },
            };
            match answer {
                Some(a) => {
                    let _ = reply.send(a);
                }
                None => self.position_waiters.push((tp, reply)),
            }
        }
    }

    fn publish(&self) {
        let member = self.membership.as_ref().filter(|m| m.in_generation()).map(|m| (&m.member_id, m.generation));
        let assigned_as =
            self.membership.as_ref().filter(|m| m.owned_generation >= 0).map(|m| (&m.owned_member, m.owned_generation));
        let bytes = self.state.buffered_bytes();
        let same = |a: &Option<(String, i32)>, b: Option<(&String, i32)>| match (a, b) {
            (Some((id, generation)), Some((b_id, b_generation))) => id == b_id && *generation == b_generation,
            (None, None) => true,
            _ => false,
        };
        self.published.send_if_modified(|p| {
            if same(&p.member, member) && same(&p.assigned_as, assigned_as) && p.buffered_bytes == bytes {
                return false;
            }
            p.member = member.map(|(id, generation)| (id.clone(), generation));
            p.assigned_as = assigned_as.map(|(id, generation)| (id.clone(), generation));
            p.buffered_bytes = bytes;
            true
        });
    }
}

/// Ends a commit: its caller learns the result; an auto-commit's failure
/// is logged.
fn finish_commit(job: CommitJob, result: Result<()>) {
    match job.reply {
        Some(reply) => {
            let _ = reply.send(result);
        }
        None => {
            if let Err(e) = result {
                tracing::warn!(error = %e, "auto-commit failed");
            }
        }
    }
}
