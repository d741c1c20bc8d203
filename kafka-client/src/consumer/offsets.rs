//! Offsets: commits (OffsetCommit), committed offsets (OffsetFetch), and
//! offsets by time or position (ListOffsets), with the position lookups
//! `poll` makes for newly assigned or reset partitions.
//!
//! Commits go through the engine, one at a time in the order they were
//! asked for, so an older asynchronous commit never lands after a newer
//! one. A commit carries the member's generation when the consumer is in a
//! group, and generation -1 for `assign`ed partitions. The request
//! functions here read no consumer state: they return what they learned,
//! which the engine applies.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use kafka_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ListOffsetsRequest, OffsetCommitRequest};
use kafka_protocol::{ApiKey, ErrorCode};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::config::OffsetReset;
use super::engine::Command;
use super::group::{self, CoordinatorNews};
use super::{Consumer, Io, lock};
use crate::TopicPartition;
use crate::config::millis;
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

/// What a commit commits.
#[derive(Debug)]
pub(crate) enum CommitWhat {
    /// These offsets.
    Offsets(BTreeMap<TopicPartition, OffsetAndMetadata>),
    /// The processed positions of these partitions (every assigned one when
    /// None), read by the engine when it takes the commit.
    Consumed(Option<Vec<TopicPartition>>),
}

/// A commit waiting its turn in the engine.
pub(crate) struct CommitJob {
    pub offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// Who commits: fixed when the commit is made, never re-read at a retry.
    /// The offsets belong to the partitions the member held in that
    /// generation; sent under a later generation they could overwrite what
    /// the partitions' new owner committed, moving the group backwards.
    pub identity: Result<CommitIdentity>,
    pub deadline_ms: i64,
    /// Not sent again before this (after a retriable failure).
    pub not_before_ms: i64,
    pub reply: Option<oneshot::Sender<Result<()>>>,
}

/// The generation, member id and instance id a commit carries (generation
/// -1 and no member for `assign`ed partitions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommitIdentity {
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
}

/// What one OffsetCommit attempt came to: its result, and the error a
/// partition carried, which may say the member is out of its generation.
pub(crate) struct CommitAttempt {
    pub result: Result<()>,
    pub group_error: Option<ErrorCode>,
    pub news: CoordinatorNews,
}

/// One OffsetCommit attempt.
pub(crate) async fn commit_once(
    io: &Io,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    identity: &CommitIdentity,
    known: Option<i32>,
) -> CommitAttempt {
    let mut news = CoordinatorNews::default();
    let mut group_error = None;
    let result = commit_request(io, offsets, identity, known, &mut news, &mut group_error).await;
    CommitAttempt { result, group_error, news }
}

async fn commit_request(
    io: &Io,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    identity: &CommitIdentity,
    known: Option<i32>,
    news: &mut CoordinatorNews,
    group_error: &mut Option<ErrorCode>,
) -> Result<()> {
    let group_id = io.group_id()?.to_string();
    let CommitIdentity { generation, member_id, instance_id } = identity.clone();
    let conn = group::coordinator(io, known, news).await?;
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
    let resp = conn.request_at(&req, version).await.inspect_err(|_| news.lost = true)?;
    for t in resp.topics {
        for p in t.partitions {
            let code = ErrorCode(p.error_code);
            if code == ErrorCode::NONE {
                continue;
            }
            news.lost |= code.needs_coordinator_lookup();
            *group_error = Some(code);
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
pub(crate) async fn fetch_committed_once(
    io: &Io,
    parts: &[TopicPartition],
    known: Option<i32>,
) -> (Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>>, CoordinatorNews) {
    let mut news = CoordinatorNews::default();
    let result = fetch_committed_request(io, parts, known, &mut news).await;
    (result, news)
}

async fn fetch_committed_request(
    io: &Io,
    parts: &[TopicPartition],
    known: Option<i32>,
    news: &mut CoordinatorNews,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let group_id = io.group_id()?.to_string();
    let conn = group::coordinator(io, known, news).await?;
    let version = conn.version_for(ApiKey::OffsetFetch)?;
    let req = offset_fetch_request(&group_id, version, Some(parts), true);
    let resp = conn.request_at(&req, version).await.inspect_err(|_| news.lost = true)?;
    // A v8+ answer without the group says nothing is committed.
    let (group_error, rows) = fetched_offsets(resp, version, &group_id).unwrap_or((ErrorCode::NONE, Vec::new()));
    let mut check = |code: ErrorCode, context: String| -> Result<()> {
        if code == ErrorCode::NONE {
            return Ok(());
        }
        news.lost |= code.needs_coordinator_lookup();
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
pub(crate) struct Found {
    pub offset: i64,
    pub timestamp: i64,
    pub leader_epoch: Option<i32>,
}

/// What [`list_offsets_once`] found: partitions that failed retriably are
/// left out (with the first error), so the caller can retry them.
pub(crate) struct Listed {
    pub found: BTreeMap<TopicPartition, Option<Found>>,
    pub error: Option<Error>,
    /// A leader is unknown or moved.
    pub refresh: bool,
}

/// ListOffsets for `(partition, timestamp)` pairs, one request per leader,
/// after loading metadata for topics not seen yet.
pub(crate) async fn list_offsets_once(io: &Io, wanted: &[(TopicPartition, i64)]) -> Listed {
    ensure_metadata(io, wanted).await;
    let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64, i32)>> = BTreeMap::new();
    let mut first_error: Option<Error> = None;
    let mut refresh = false;
    {
        let md = io.net.metadata();
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
    let isolation = io.cfg.isolation_level.as_i8();
    let requests = by_leader.into_iter().map(|(leader, parts)| async move {
        let result = async {
            let conn = io.net.connection(leader).await?;
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
    Listed { found: out, error: first_error, refresh }
}

/// Loads metadata for topics the consumer has not seen yet.
async fn ensure_metadata(io: &Io, wanted: &[(TopicPartition, i64)]) {
    let unknown: Vec<String> = {
        let md = io.net.metadata();
        let mut v: Vec<String> =
            wanted.iter().filter(|(tp, _)| md.topic(&tp.topic).is_none()).map(|(tp, _)| tp.topic.to_string()).collect();
        v.dedup();
        v
    };
    if !unknown.is_empty()
        && let Err(e) = io.net.refresh_metadata(Some(&unknown), false).await
    {
        tracing::debug!(error = %e, "metadata refresh failed");
    }
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
        let deadline = Instant::now() + self.io.cfg.default_api_timeout;
        self.commit_until(CommitWhat::Consumed(None), deadline).await
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
        check_offsets(&offsets)?;
        let deadline = Instant::now() + self.io.cfg.default_api_timeout;
        self.commit_until(CommitWhat::Offsets(offsets), deadline).await
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
        self.queue_commit(CommitWhat::Consumed(None))
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
        if let Err(e) = check_offsets(&offsets) {
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(Err(e));
            return CommitHandle { rx };
        }
        self.queue_commit(CommitWhat::Offsets(offsets))
    }

    fn queue_commit(&self, what: CommitWhat) -> CommitHandle {
        let (tx, rx) = oneshot::channel();
        let deadline_ms = self.io.clock.now_ms() + millis(self.io.cfg.default_api_timeout);
        // A closed engine drops the reply, which the handle reads as Closed.
        self.send(Command::Commit { what, deadline_ms, reply: Some(tx) });
        CommitHandle { rx }
    }

    /// Commits and waits for the answer, up to `deadline`.
    pub(crate) async fn commit_until(&self, what: CommitWhat, deadline: Instant) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let left = deadline.saturating_duration_since(Instant::now());
        let deadline_ms = self.io.clock.now_ms() + millis(left);
        if !self.send(Command::Commit { what, deadline_ms, reply: Some(tx) }) {
            return Err(Error::Closed);
        }
        match tokio::time::timeout_at(deadline + std::time::Duration::from_millis(100), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout { what: "the offset commit".into(), after: self.io.cfg.default_api_timeout }),
        }
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
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        self.io.group_id()?;
        let deadline_ms = self.io.clock.now_ms() + millis(self.io.cfg.default_api_timeout);
        let parts = partitions.to_vec();
        self.ask(|reply| Command::Committed { parts, deadline_ms, reply }).await?
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
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.check_assigned(std::slice::from_ref(tp))?;
        let timeout = self.io.cfg.default_api_timeout;
        let tp2 = tp.clone();
        let pos = match tokio::time::timeout(timeout, self.ask(|reply| Command::Position { tp: tp2, reply })).await {
            Ok(r) => r??,
            Err(_) => return Err(Error::Timeout { what: format!("the position of {tp}"), after: timeout }),
        };
        // Records the stream holds but has not handed out are not consumed yet.
        let first_buffered = lock(&self.view)
            .stream_buffer
            .iter()
            .find(|r| r.partition == tp.partition && *r.topic == *tp.topic)
            .map(|r| r.offset);
        Ok(first_buffered.map_or(pos, |b| b.min(pos)))
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
    /// `default.api.timeout.ms`. Runs on the caller's task: it reads no
    /// consumer state.
    async fn list_offsets(
        &self,
        wanted: Vec<(TopicPartition, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Option<Found>>> {
        let io = &self.io;
        let deadline = Instant::now() + io.cfg.default_api_timeout;
        let mut remaining = wanted;
        let mut out = BTreeMap::new();
        loop {
            let listed = list_offsets_once(io, &remaining).await;
            remaining.retain(|(tp, _)| !listed.found.contains_key(tp));
            out.extend(listed.found);
            let Some(e) = listed.error else { return Ok(out) };
            if remaining.is_empty() {
                return Ok(out);
            }
            if !e.is_retriable() || Instant::now() + io.cfg.retry_backoff >= deadline || self.is_closed() {
                return Err(e);
            }
            tokio::time::sleep(io.cfg.retry_backoff).await;
            let topics: Vec<String> = remaining.iter().map(|(tp, _)| tp.topic.to_string()).collect();
            if let Err(e) = io.net.refresh_metadata(Some(&topics), false).await {
                tracing::debug!(error = %e, "metadata refresh failed");
            }
        }
    }
}

/// Refuses negative offsets before they reach the engine.
fn check_offsets(offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
    match offsets.iter().find(|(_, o)| o.offset < 0) {
        Some((tp, o)) => Err(Error::InvalidArgument(format!("cannot commit negative offset {} for {tp}", o.offset))),
        None => Ok(()),
    }
}
