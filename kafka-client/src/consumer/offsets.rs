//! Offsets: commits (OffsetCommit), committed offsets (OffsetFetch), and
//! offsets by time or position (ListOffsets), with the position lookups
//! `poll` makes for newly assigned or reset partitions.
//!
//! Commits go through one task, in the order they were asked for, so an
//! older asynchronous commit never lands after a newer one. A commit
//! carries the member's generation when the consumer is in a group, and
//! generation -1 for `assign`ed partitions.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};
use std::time::Duration;

use kafka_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ListOffsetsRequest, OffsetCommitRequest};
use kafka_protocol::{ApiKey, ErrorCode};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::config::OffsetReset;
use super::{Consumer, Inner, group, lock};
use crate::TopicPartition;
use crate::error::{Error, Result};
use crate::group_offsets::{fetched_offsets, offset_commit_topics, offset_fetch_request};

/// An offset to commit, or one that was committed: the next offset to read
/// (the last processed + 1), the leader epoch of the record before it, and
/// a free-form metadata string.
///
/// ```
/// use kafka_client::consumer::OffsetAndMetadata;
///
/// let o = OffsetAndMetadata::new(43).with_metadata("processed by worker 7");
/// assert_eq!((o.offset, o.leader_epoch), (43, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to read.
    pub offset: i64,
    /// Leader epoch of the last record processed, if known; lets a consumer
    /// that resumes from it detect a truncated log (KIP-320).
    pub leader_epoch: Option<i32>,
    /// Stored with the offset; empty by default.
    pub metadata: String,
}

impl OffsetAndMetadata {
    /// `offset` without epoch or metadata.
    ///
    /// ```
    /// assert_eq!(kafka_client::consumer::OffsetAndMetadata::new(5).offset, 5);
    /// ```
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata { offset, leader_epoch: None, metadata: String::new() }
    }

    /// With a leader epoch.
    ///
    /// ```
    /// let o = kafka_client::consumer::OffsetAndMetadata::new(5).with_leader_epoch(3);
    /// assert_eq!(o.leader_epoch, Some(3));
    /// ```
    pub fn with_leader_epoch(mut self, epoch: i32) -> Self {
        self.leader_epoch = Some(epoch);
        self
    }

    /// With a metadata string.
    ///
    /// ```
    /// let o = kafka_client::consumer::OffsetAndMetadata::new(5).with_metadata("m");
    /// assert_eq!(o.metadata, "m");
    /// ```
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }
}

/// The answer to [`Consumer::offsets_for_times`]: the first offset whose
/// timestamp is at or after the time asked for.
///
/// ```
/// let o = kafka_client::consumer::OffsetAndTimestamp { offset: 10, timestamp: 1_700_000_000_000, leader_epoch: Some(0) };
/// assert_eq!(o.offset, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The offset.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
    /// The leader epoch of that record, if the broker said.
    pub leader_epoch: Option<i32>,
}

/// The outcome of an asynchronous commit. The commit proceeds whether or
/// not this is awaited; dropping it only forgoes the result.
///
/// ```no_run
/// # async fn f(consumer: &kafka_client::consumer::Consumer) {
/// let handle = consumer.commit_async();
/// // ... keep working ...
/// if let Err(e) = handle.await {
///     eprintln!("commit failed: {e}");
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct CommitHandle {
    rx: oneshot::Receiver<Result<()>>,
}

impl Future for CommitHandle {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

/// A commit waiting for the commit task.
pub(crate) struct CommitJob {
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// Who commits: fixed when the commit is made, never re-read at a retry.
    /// The offsets belong to the partitions the member held in that
    /// generation; sent under a later generation they could overwrite what
    /// the partitions' new owner committed, moving the group backwards.
    identity: Result<CommitIdentity>,
    deadline: Instant,
    reply: Option<oneshot::Sender<Result<()>>>,
}

/// The generation, member id and instance id a commit carries (generation
/// -1 and no member for `assign`ed partitions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitIdentity {
    generation: i32,
    member_id: String,
    instance_id: Option<String>,
}

/// Sends the queued commits, one at a time, in order.
pub(crate) async fn commit_worker(weak: Weak<Inner>, mut jobs: mpsc::UnboundedReceiver<CommitJob>) {
    while let Some(job) = jobs.recv().await {
        let result = match (weak.upgrade(), job.identity) {
            (Some(inner), Ok(identity)) => commit_with_retries(&inner, &job.offsets, &identity, job.deadline).await,
            (Some(_), Err(e)) => Err(e),
            (None, _) => Err(Error::Closed),
        };
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
}

async fn commit_with_retries(
    inner: &Inner,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    identity: &CommitIdentity,
    deadline: Instant,
) -> Result<()> {
    loop {
        match commit_once(inner, offsets, identity).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retriable() && Instant::now() + inner.cfg.retry_backoff < deadline && !inner.is_closed() => {
                tracing::debug!(error = %e, "commit failed; retrying");
                tokio::time::sleep(inner.cfg.retry_backoff).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The identity a commit made now carries.
pub(crate) fn commit_identity(inner: &Inner) -> Result<CommitIdentity> {
    let uses_group = lock(&inner.state).subscription.uses_group();
    let guard = lock(&inner.membership);
    match guard.as_ref() {
        Some(m) if uses_group => {
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
fn still_current(inner: &Inner, identity: &CommitIdentity) -> bool {
    if identity.generation < 0 {
        return true;
    }
    lock(&inner.membership)
        .as_ref()
        .is_some_and(|m| m.in_generation() && m.generation == identity.generation && m.member_id == identity.member_id)
}

async fn commit_once(
    inner: &Inner,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    identity: &CommitIdentity,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let group_id = inner.group_id()?.to_string();
    if !still_current(inner, identity) {
        // Java's CommitFailedException: the group rebalanced since the
        // commit was made, and its partitions may be another member's now.
        return Err(Error::broker(
            ErrorCode::ILLEGAL_GENERATION,
            ApiKey::OffsetCommit,
            -1,
            format!("group {group_id}"),
            Some(format!(
                "the group rebalanced after this commit was made in generation {}; not sent",
                identity.generation
            )),
        ));
    }
    let CommitIdentity { generation, member_id, instance_id } = identity.clone();
    let conn = group::coordinator(inner).await?;
    let version = conn.version_for(ApiKey::OffsetCommit)?;
    let req = OffsetCommitRequest {
        group_id: group_id.clone(),
        generation_id_or_member_epoch: generation,
        member_id,
        group_instance_id: if version >= 7 { instance_id } else { None },
        retention_time_ms: -1,
        topics: offset_commit_topics(offsets),
        ..Default::default()
    };
    let resp = match conn.request_at(&req, version).await {
        Ok(r) => r,
        Err(e) => {
            group::coordinator_lost(inner);
            return Err(e);
        }
    };
    for t in resp.topics {
        for p in t.partitions {
            let code = ErrorCode(p.error_code);
            if code == ErrorCode::NONE {
                continue;
            }
            if code.needs_coordinator_lookup() {
                group::coordinator_lost(inner);
            }
            // A stale commit's ILLEGAL_GENERATION says nothing of the
            // member's current generation.
            if let Some(m) = lock(&inner.membership).as_mut()
                && (identity.generation < 0 || m.generation == identity.generation)
            {
                m.on_group_error(code);
            }
            inner.group_event.notify_waiters();
            return Err(Error::broker(
                code,
                ApiKey::OffsetCommit,
                conn.broker(),
                format!("group {group_id}, {}-{}", t.name, p.partition_index),
                None,
            ));
        }
    }
    tracing::debug!(partitions = offsets.len(), generation, "offsets committed");
    Ok(())
}

/// Asks the coordinator for committed offsets.
async fn fetch_committed_once(
    inner: &Inner,
    parts: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let group_id = inner.group_id()?.to_string();
    let conn = group::coordinator(inner).await?;
    let version = conn.version_for(ApiKey::OffsetFetch)?;
    let req = offset_fetch_request(&group_id, version, Some(parts), true);
    let resp = match conn.request_at(&req, version).await {
        Ok(r) => r,
        Err(e) => {
            group::coordinator_lost(inner);
            return Err(e);
        }
    };
    // A v8+ answer without the group says nothing is committed.
    let (group_error, rows) = fetched_offsets(resp, version, &group_id).unwrap_or((ErrorCode::NONE, Vec::new()));
    let check = |code: ErrorCode, context: String| -> Result<()> {
        if code == ErrorCode::NONE {
            return Ok(());
        }
        if code.needs_coordinator_lookup() {
            group::coordinator_lost(inner);
        }
        Err(Error::broker(code, ApiKey::OffsetFetch, conn.broker(), context, None))
    };
    check(group_error, format!("group {group_id}"))?;
    let mut out = BTreeMap::new();
    for row in rows {
        check(row.error, format!("group {group_id}, {}", row.tp))?;
        out.insert(row.tp, row.committed);
    }
    for tp in parts {
        out.entry(tp.clone()).or_insert(None);
    }
    Ok(out)
}

/// What a ListOffsets lookup found for one partition.
#[derive(Debug, Clone, Copy)]
struct Found {
    offset: i64,
    timestamp: i64,
    leader_epoch: Option<i32>,
}

/// ListOffsets for `(partition, timestamp)` pairs, one request per leader.
/// Partitions that failed retriably are left out of the answer (with the
/// first such error), so the caller can retry them.
async fn list_offsets_once(
    inner: &Inner,
    wanted: &[(TopicPartition, i64)],
) -> (BTreeMap<TopicPartition, Option<Found>>, Option<Error>) {
    let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64, i32)>> = BTreeMap::new();
    let mut first_error: Option<Error> = None;
    let mut refresh = false;
    {
        let md = inner.net.metadata();
        for (tp, ts) in wanted {
            match md.leader(&tp.topic, tp.partition) {
                Some((leader, epoch)) => by_leader.entry(leader).or_default().push((tp.clone(), *ts, epoch)),
                None => {
                    refresh = true;
                    first_error.get_or_insert_with(|| {
                        Error::broker(ErrorCode::LEADER_NOT_AVAILABLE, ApiKey::ListOffsets, -1, tp.to_string(), None)
                    });
                }
            }
        }
    }
    let isolation = inner.cfg.isolation_level.as_i8();
    let requests = by_leader.into_iter().map(|(leader, parts)| async move {
        let result = async {
            let conn = inner.net.connection(leader).await?;
            let version = conn.version_for(ApiKey::ListOffsets)?;
            let mut topics: Vec<ListOffsetsTopic> = Vec::new();
            for (tp, ts, epoch) in &parts {
                let p = ListOffsetsPartition {
                    partition_index: tp.partition,
                    current_leader_epoch: *epoch,
                    timestamp: *ts,
                    ..Default::default()
                };
                match topics.last_mut() {
                    Some(t) if *t.name == *tp.topic => t.partitions.push(p),
                    _ => topics.push(ListOffsetsTopic {
                        name: tp.topic.to_string(),
                        partitions: vec![p],
                        ..Default::default()
                    }),
                }
            }
            let req = ListOffsetsRequest { replica_id: -1, isolation_level: isolation, topics, ..Default::default() };
            conn.request_at(&req, version).await.map(|r| (conn.broker(), r))
        }
        .await;
        (parts, result)
    });
    let results = futures::future::join_all(requests).await;
    let mut out = BTreeMap::new();
    for (parts, result) in results {
        let (broker, resp) = match result {
            Ok(r) => r,
            Err(e) => {
                refresh |= e.needs_metadata_refresh();
                first_error.get_or_insert(e);
                continue;
            }
        };
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                if !parts.iter().any(|(w, ..)| *w == tp) {
                    continue;
                }
                let code = ErrorCode(p.error_code);
                if code == ErrorCode::NONE {
                    let found = (p.offset >= 0).then_some(Found {
                        offset: p.offset,
                        timestamp: p.timestamp,
                        leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                    });
                    out.insert(tp, found);
                } else {
                    refresh |= code.needs_metadata_refresh();
                    first_error.get_or_insert(Error::broker(code, ApiKey::ListOffsets, broker, tp.to_string(), None));
                }
            }
        }
    }
    if refresh {
        inner.request_metadata_refresh();
    }
    (out, first_error)
}

impl Consumer {
    /// Commits the processed positions of every assigned partition (what
    /// `poll` returned, or what the stream handed out before the record
    /// last asked for), with their leader epochs, and waits for the answer
    /// (retrying retriable errors up to `default.api.timeout.ms`).
    ///
    /// Fails with REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION or
    /// UNKNOWN_MEMBER_ID when the group has moved on: the partitions may be
    /// someone else's by now.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let records = consumer.poll(std::time::Duration::from_secs(1)).await?;
    /// // ... process ...
    /// consumer.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn commit(&self) -> Result<()> {
        let offsets = self.consumed_offsets(None);
        self.commit_offsets(offsets).await
    }

    /// Commits the given offsets: for each partition, the next offset to
    /// read (the last processed + 1).
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// use kafka_client::{TopicPartition, consumer::OffsetAndMetadata};
    /// consumer.commit_offsets([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(100))].into()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn commit_offsets(&self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
        let deadline = Instant::now() + self.inner.cfg.default_api_timeout;
        self.commit_until(offsets, deadline).await
    }

    /// [`Self::commit`] without waiting: returns a handle to the result.
    /// Commits are sent in the order they are made.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.commit_async().await?;
    /// # Ok(()) }
    /// ```
    pub fn commit_async(&self) -> CommitHandle {
        let offsets = self.consumed_offsets(None);
        self.commit_offsets_async(offsets)
    }

    /// [`Self::commit_offsets`] without waiting.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) {
    /// use kafka_client::{TopicPartition, consumer::OffsetAndMetadata};
    /// let handle = consumer.commit_offsets_async([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(7))].into());
    /// drop(handle); // the commit still goes ahead
    /// # }
    /// ```
    pub fn commit_offsets_async(&self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> CommitHandle {
        let (tx, rx) = oneshot::channel();
        self.queue_commit(offsets, Some(tx));
        CommitHandle { rx }
    }

    pub(crate) fn queue_commit(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        reply: Option<oneshot::Sender<Result<()>>>,
    ) {
        let deadline = Instant::now() + self.inner.cfg.default_api_timeout;
        let identity = commit_identity(&self.inner);
        let job = CommitJob { offsets, identity, deadline, reply };
        if let Err(mpsc::error::SendError(job)) = self.inner.commits.send(job)
            && let Some(reply) = job.reply
        {
            let _ = reply.send(Err(Error::Closed));
        }
    }

    pub(crate) async fn commit_until(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        deadline: Instant,
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        if let Some(bad) = offsets.iter().find(|(_, o)| o.offset < 0) {
            return Err(Error::InvalidArgument(format!(
                "cannot commit negative offset {} for {}",
                bad.1.offset, bad.0
            )));
        }
        let (tx, rx) = oneshot::channel();
        let identity = commit_identity(&self.inner);
        let job = CommitJob { offsets, identity, deadline, reply: Some(tx) };
        self.inner.commits.send(job).map_err(|_| Error::Closed)?;
        match tokio::time::timeout_at(deadline + Duration::from_millis(100), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                Err(Error::Timeout { what: "the offset commit".into(), after: self.inner.cfg.default_api_timeout })
            }
        }
    }

    /// The processed positions, as offsets to commit.
    pub(crate) fn consumed_offsets(
        &self,
        parts: Option<&[TopicPartition]>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        lock(&self.inner.state)
            .consumed(parts)
            .into_iter()
            .map(|(tp, (offset, epoch))| {
                (tp, OffsetAndMetadata { offset, leader_epoch: epoch, metadata: String::new() })
            })
            .collect()
    }

    /// The group's committed offsets for `partitions` (None where nothing
    /// is committed). Needs `group.id`.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let tp = kafka_client::TopicPartition::new("orders", 0);
    /// let committed = consumer.committed(&[tp.clone()]).await?;
    /// println!("{:?}", committed[&tp]);
    /// # Ok(()) }
    /// ```
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        let inner = &self.inner;
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let deadline = Instant::now() + inner.cfg.default_api_timeout;
        loop {
            match fetch_committed_once(inner, partitions).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_retriable() && Instant::now() + inner.cfg.retry_backoff < deadline => {
                    tokio::time::sleep(inner.cfg.retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The offset of the next record `poll` will return for an assigned
    /// partition, looking it up (committed offset or reset policy) if it is
    /// not known yet, for up to `default.api.timeout.ms`.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let next = consumer.position(&kafka_client::TopicPartition::new("orders", 0)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn position(&self, tp: &TopicPartition) -> Result<i64> {
        let inner = &self.inner;
        let deadline = Instant::now() + inner.cfg.default_api_timeout;
        loop {
            {
                let mut st = lock(&inner.state);
                let Some(p) = st.assignment.get_mut(tp) else { return Err(super::not_assigned(tp)) };
                if let Some(pos) = p.position {
                    // Records the stream holds but has not handed out are
                    // not consumed yet.
                    drop(st);
                    let first_buffered = lock(&inner.stream_buffer)
                        .iter()
                        .find(|r| r.partition == tp.partition && *r.topic == *tp.topic)
                        .map(|r| r.offset);
                    return Ok(first_buffered.map_or(pos, |b| b.min(pos)));
                }
                if let Some(e) = p.error.take() {
                    return Err(e);
                }
            }
            if inner.is_closed() {
                return Err(Error::Closed);
            }
            self.update_positions().await?;
            if lock(&inner.state).assignment.get(tp).is_some_and(|p| p.position.is_some()) {
                continue;
            }
            let retry = *lock(&inner.positions_retry_ms);
            let wait = Duration::from_millis(u64::try_from((retry - inner.clock.now_ms()).max(10)).unwrap_or(10));
            if Instant::now() + wait >= deadline {
                return Err(Error::Timeout {
                    what: format!("the position of {tp}"),
                    after: inner.cfg.default_api_timeout,
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// For each partition, the first offset whose timestamp is at or after
    /// the given time (ms since the epoch); None when no record is that
    /// recent.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let tp = kafka_client::TopicPartition::new("orders", 0);
    /// let an_hour_ago = 1_700_000_000_000;
    /// let found = consumer.offsets_for_times([(tp.clone(), an_hour_ago)].into()).await?;
    /// if let Some(o) = found[&tp] {
    ///     consumer.seek(&tp, o.offset)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn offsets_for_times(
        &self,
        times: BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        if let Some((tp, ts)) = times.iter().find(|(_, ts)| **ts < 0) {
            return Err(Error::InvalidArgument(format!("negative timestamp {ts} for {tp}")));
        }
        let found = self.list_offsets(times.into_iter().collect()).await?;
        Ok(found
            .into_iter()
            .map(|(tp, f)| {
                (
                    tp,
                    f.map(|f| OffsetAndTimestamp {
                        offset: f.offset,
                        timestamp: f.timestamp,
                        leader_epoch: f.leader_epoch,
                    }),
                )
            })
            .collect())
    }

    /// The first offset of each partition (the log start offset).
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let tp = kafka_client::TopicPartition::new("orders", 0);
    /// let start = consumer.beginning_offsets(&[tp.clone()]).await?[&tp];
    /// # Ok(()) }
    /// ```
    pub async fn beginning_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        self.special_offsets(partitions, OffsetReset::Earliest).await
    }

    /// The end of each partition: the offset the next record will get (the
    /// high watermark; the last stable offset with `read_committed`).
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let tp = kafka_client::TopicPartition::new("orders", 0);
    /// let end = consumer.end_offsets(&[tp.clone()]).await?[&tp];
    /// # Ok(()) }
    /// ```
    pub async fn end_offsets(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, i64>> {
        self.special_offsets(partitions, OffsetReset::Latest).await
    }

    async fn special_offsets(
        &self,
        partitions: &[TopicPartition],
        which: OffsetReset,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let ts = which.list_offsets_timestamp().unwrap_or(-1);
        let found = self.list_offsets(partitions.iter().map(|tp| (tp.clone(), ts)).collect()).await?;
        found
            .into_iter()
            .map(|(tp, f)| match f {
                Some(f) => Ok((tp, f.offset)),
                None => Err(Error::broker(
                    ErrorCode::UNKNOWN_SERVER_ERROR,
                    ApiKey::ListOffsets,
                    -1,
                    tp.to_string(),
                    Some("no offset returned".into()),
                )),
            })
            .collect()
    }

    /// ListOffsets with retries and metadata refreshes, up to
    /// `default.api.timeout.ms`.
    async fn list_offsets(
        &self,
        wanted: Vec<(TopicPartition, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Option<Found>>> {
        let inner = &self.inner;
        let deadline = Instant::now() + inner.cfg.default_api_timeout;
        let mut remaining = wanted;
        let mut out = BTreeMap::new();
        self.ensure_metadata(&remaining).await;
        loop {
            let (found, error) = list_offsets_once(inner, &remaining).await;
            remaining.retain(|(tp, _)| !found.contains_key(tp));
            out.extend(found);
            let Some(e) = error else { return Ok(out) };
            if remaining.is_empty() {
                return Ok(out);
            }
            if !e.is_retriable() || Instant::now() + inner.cfg.retry_backoff >= deadline || inner.is_closed() {
                return Err(e);
            }
            tokio::time::sleep(inner.cfg.retry_backoff).await;
            let topics: Vec<String> = remaining.iter().map(|(tp, _)| tp.topic.to_string()).collect();
            if let Err(e) = inner.net.refresh_metadata(Some(&topics), false).await {
                tracing::debug!(error = %e, "metadata refresh failed");
            }
        }
    }

    /// Loads metadata for topics the consumer has not seen yet.
    async fn ensure_metadata(&self, wanted: &[(TopicPartition, i64)]) {
        let unknown: Vec<String> = {
            let md = self.inner.net.metadata();
            let mut v: Vec<String> = wanted
                .iter()
                .filter(|(tp, _)| md.topic(&tp.topic).is_none())
                .map(|(tp, _)| tp.topic.to_string())
                .collect();
            v.dedup();
            v
        };
        if !unknown.is_empty()
            && let Err(e) = self.inner.net.refresh_metadata(Some(&unknown), false).await
        {
            tracing::debug!(error = %e, "metadata refresh failed");
        }
    }

    /// Looks up the positions of partitions that have none: their committed
    /// offsets first, then the reset policy. Answers apply only to
    /// partitions still waiting for them. A failed lookup is retried after
    /// `retry.backoff.ms`; an OffsetReset of `none` is an error from `poll`.
    pub(crate) async fn update_positions(&self) -> Result<()> {
        let inner = &self.inner;
        let (committed, reset) = lock(&inner.state).missing_positions();
        if committed.is_empty() && reset.is_empty() {
            return Ok(());
        }
        if inner.clock.now_ms() < *lock(&inner.positions_retry_ms) {
            return Ok(());
        }
        let mut failed = false;
        if !committed.is_empty() {
            if inner.cfg.group_id.is_some() {
                match fetch_committed_once(inner, &committed).await {
                    Ok(found) => {
                        let mut st = lock(&inner.state);
                        for (tp, o) in found {
                            match o {
                                Some(o) => {
                                    if st.init_from_committed(&tp, o.offset, o.leader_epoch) {
                                        tracing::debug!(%tp, offset = o.offset, "starting from the committed offset");
                                    }
                                }
                                None => st.no_committed(&tp, inner.cfg.auto_offset_reset),
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        tracing::debug!(error = %e, "committed offsets unavailable; retrying");
                        failed = true;
                    }
                    Err(e) => return Err(e),
                }
            } else {
                let mut st = lock(&inner.state);
                for tp in &committed {
                    st.no_committed(tp, inner.cfg.auto_offset_reset);
                }
            }
        }
        // Partitions that fell back to the policy just now are looked up too.
        let (_, reset2) = lock(&inner.state).missing_positions();
        let mut reset = reset;
        for r in reset2 {
            if !reset.contains(&r) {
                reset.push(r);
            }
        }
        let mut lookups: Vec<(TopicPartition, i64)> = Vec::new();
        for (tp, policy) in &reset {
            match policy.list_offsets_timestamp() {
                Some(ts) => lookups.push((tp.clone(), ts)),
                None => {
                    let mut st = lock(&inner.state);
                    let waiting = st.assignment.get(tp).is_some_and(|p| p.position.is_none() && p.error.is_none());
                    if waiting {
                        st.fail(tp, Error::NoOffset { tp: tp.clone() });
                    }
                }
            }
        }
        if !lookups.is_empty() {
            self.ensure_metadata(&lookups).await;
            let (found, error) = list_offsets_once(inner, &lookups).await;
            let mut st = lock(&inner.state);
            for (tp, f) in found {
                let Some(policy) = reset.iter().find(|(t, _)| *t == tp).map(|(_, p)| *p) else { continue };
                match f {
                    Some(f) => {
                        if st.init_from_reset(&tp, policy, f.offset, None) {
                            tracing::debug!(%tp, offset = f.offset, policy = policy.name(), "position reset");
                        }
                    }
                    None => failed = true,
                }
            }
            if let Some(e) = error {
                tracing::debug!(error = %e, "offset lookup failed; retrying");
                failed = true;
            }
        }
        if failed {
            *lock(&inner.positions_retry_ms) = inner.clock.now_ms() + crate::config::millis(inner.cfg.retry_backoff);
        } else {
            inner.wake_fetcher.notify_one();
        }
        Ok(())
    }
}
