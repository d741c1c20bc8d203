//! A consumer group's offsets: read them (OffsetFetch), set them
//! (OffsetCommit as a non-member: generation -1, no member id), reset them
//! to a position, delete them (OffsetDelete), and compare them with the
//! ends of the partitions (the lag `kafka-consumer-groups --describe`
//! prints).
//!
//! Each call concerns one group and goes to its coordinator. A
//! coordinator that moved or is loading is retried for the whole group —
//! the requests are idempotent — while other per-partition errors are
//! reported per partition: Kafka's coordinator refuses a non-member commit
//! with UNKNOWN_MEMBER_ID while the group has members, and an offset delete
//! with GROUP_SUBSCRIBED_TO_TOPIC for topics the group still consumes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use kafka_protocol::messages::offset_delete::{OffsetDeleteRequestPartition, OffsetDeleteRequestTopic};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetDeleteRequest};
use kafka_protocol::{ApiKey, ErrorCode};

use super::Admin;
use super::groups::GroupState;
use super::offsets::{ListOffsetsOptions, OffsetSpec};
use super::routing::{Attempt, no_answer};
use crate::TopicPartition;
use crate::consumer::OffsetAndMetadata;
use crate::error::{Error, Result};
use crate::group_offsets::{by_topic, fetched_offsets, offset_commit_topics, offset_fetch_request};
use crate::net::Connection;

/// Per-partition committed offsets: None where nothing is committed.
type Committed = BTreeMap<TopicPartition, Result<Option<OffsetAndMetadata>>>;

/// Per-partition outcomes of a commit or delete.
type Changed = BTreeMap<TopicPartition, Result<()>>;

/// The member that owns a partition, as the lag report shows it.
///
/// ```
/// let o = kafka_client::admin::PartitionOwner {
///     member_id: "c-1".into(), group_instance_id: None, client_id: "c".into(), host: "/127.0.0.1".into(),
/// };
/// assert_eq!(o.client_id, "c");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOwner {
    /// Member id (CONSUMER-ID).
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// Its `client.id` (CLIENT-ID).
    pub client_id: String,
    /// The host it connects from (HOST).
    pub host: String,
}

/// One row of [`ConsumerGroupLag`]: a partition the group has an offset
/// for or a member is assigned.
///
/// ```
/// use kafka_client::{TopicPartition, admin::PartitionLag};
/// let row = PartitionLag {
///     partition: TopicPartition::new("orders", 0), current_offset: Some(90), log_end_offset: Some(100), lag: Some(10),
///     owner: None, error: None,
/// };
/// assert_eq!(row.lag, Some(10));
/// ```
#[derive(Debug, Clone)]
pub struct PartitionLag {
    /// The partition.
    pub partition: TopicPartition,
    /// The committed offset (CURRENT-OFFSET); None when nothing is committed.
    pub current_offset: Option<i64>,
    /// The end of the partition (LOG-END-OFFSET, the high watermark).
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - current_offset` (LAG), when both are known.
    pub lag: Option<i64>,
    /// The member assigned the partition, if any.
    pub owner: Option<PartitionOwner>,
    /// Why an offset is missing, when it could not be read.
    pub error: Option<Error>,
}

/// A consumer group's position against the end of each partition: what
/// `kafka-consumer-groups --describe` prints (its `Display` prints the same
/// table).
///
/// ```
/// use kafka_client::admin::{ConsumerGroupLag, GroupState};
/// let lag = ConsumerGroupLag { group_id: "billing".into(), state: GroupState::Empty, coordinator: 1, partitions: vec![] };
/// assert_eq!(lag.total_lag(), 0);
/// assert!(lag.to_string().starts_with("GROUP"));
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerGroupLag {
    /// The group.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// Its coordinator.
    pub coordinator: i32,
    /// One row per partition, by topic and partition.
    pub partitions: Vec<PartitionLag>,
}

impl ConsumerGroupLag {
    /// The sum of the known lags.
    ///
    /// ```
    /// use kafka_client::{TopicPartition, admin::{ConsumerGroupLag, GroupState, PartitionLag}};
    /// let row = |p, lag| PartitionLag {
    ///     partition: TopicPartition::new("t", p), current_offset: None, log_end_offset: None, lag, owner: None, error: None,
    /// };
    /// let g = ConsumerGroupLag { group_id: "g".into(), state: GroupState::Stable, coordinator: 1, partitions: vec![row(0, Some(3)), row(1, None)] };
    /// assert_eq!(g.total_lag(), 3);
    /// ```
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }
}

impl fmt::Display for ConsumerGroupLag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<i64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let mut rows = vec![[
            "GROUP".to_string(),
            "TOPIC".into(),
            "PARTITION".into(),
            "CURRENT-OFFSET".into(),
            "LOG-END-OFFSET".into(),
            "LAG".into(),
            "CONSUMER-ID".into(),
            "HOST".into(),
            "CLIENT-ID".into(),
        ]];
        for p in &self.partitions {
            let owner = |field: fn(&PartitionOwner) -> &str| p.owner.as_ref().map_or("-", field).to_string();
            rows.push([
                self.group_id.clone(),
                p.partition.topic.to_string(),
                p.partition.partition.to_string(),
                opt(p.current_offset),
                opt(p.log_end_offset),
                opt(p.lag),
                owner(|o| &o.member_id),
                owner(|o| &o.host),
                owner(|o| &o.client_id),
            ]);
        }
        let mut widths = [0usize; 9];
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for r in &rows {
            let line: Vec<String> = r.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            writeln!(f, "{}", line.join(" ").trim_end())?;
        }
        Ok(())
    }
}

/// Whether a per-partition error means the whole group's request should
/// be sent again (to a new coordinator, or once it has loaded).
fn retry_group(code: ErrorCode) -> bool {
    code.needs_coordinator_lookup() || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
}

impl Admin {
    /// Runs `attempt` on `group`'s coordinator: one group, one request,
    /// sent again (to the coordinator looked up anew) while `attempt` or
    /// the lookup says to retry.
    async fn on_coordinator<T, F, Fut>(&self, api: ApiKey, group: &str, attempt: F) -> Result<T>
    where
        F: Fn(i32, Connection) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let attempt = &attempt;
        self.run_one(api, group.to_string(), move |_| async move {
            let outcome = match self.group_coordinator(group).await {
                Ok((broker, conn)) => attempt(broker, conn).await,
                Err(failed) => failed,
            };
            [(group.to_string(), outcome)].into()
        })
        .await
    }

    /// The offsets `group` has committed (OffsetFetch, sent to its
    /// coordinator): for `partitions`, or for every partition it has an
    /// offset for when None. A partition asked about without a committed
    /// offset maps to None; partition errors are per partition, group
    /// errors (e.g. GROUP_AUTHORIZATION_FAILED) fail the call.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// for (tp, committed) in admin.list_consumer_group_offsets("billing", None).await? {
    ///     if let Ok(Some(o)) = committed {
    ///         println!("{tp}: {}", o.offset);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_consumer_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<BTreeMap<TopicPartition, Result<Option<OffsetAndMetadata>>>> {
        self.on_coordinator(ApiKey::OffsetFetch, group, |broker, conn| {
            self.offset_fetch_at(broker, conn, group, partitions)
        })
        .await
    }

    async fn offset_fetch_at(
        &self,
        broker: i32,
        conn: Connection,
        group: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Attempt<Committed> {
        let version = match conn.version_for(ApiKey::OffsetFetch) {
            Ok(v) => v,
            Err(e) => return Attempt::failed(e),
        };
        if partitions.is_none() && version < 2 {
            return Attempt::Done(Err(Error::broker(
                ErrorCode::UNSUPPORTED_VERSION,
                ApiKey::OffsetFetch,
                broker,
                format!("group {group}"),
                Some("listing every partition's offset needs OffsetFetch v2+".into()),
            )));
        }
        let req = offset_fetch_request(group, version, partitions, false);
        let resp = match conn.request_at(&req, version).await {
            Ok(r) => r,
            Err(e) => {
                self.forget_coordinator(group);
                return Attempt::failed(e);
            }
        };
        let Some((group_error, rows)) = fetched_offsets(resp, version, group) else {
            return Attempt::Done(Err(no_answer(ApiKey::OffsetFetch, broker, format!("group {group}"))));
        };
        if group_error != ErrorCode::NONE {
            let e = Error::broker(group_error, ApiKey::OffsetFetch, broker, format!("group {group}"), None);
            return self.group_error(group, e);
        }
        let mut out: Committed = BTreeMap::new();
        for row in rows {
            let code = row.error;
            let context = format!("group {group}, {}", row.tp);
            if retry_group(code) || code == ErrorCode::UNSTABLE_OFFSET_COMMIT {
                return self.group_error(group, Error::broker(code, ApiKey::OffsetFetch, broker, context, None));
            }
            let value = if code != ErrorCode::NONE {
                Err(Error::broker(code, ApiKey::OffsetFetch, broker, context, None))
            } else {
                Ok(row.committed)
            };
            out.insert(row.tp, value);
        }
        for tp in partitions.into_iter().flatten() {
            out.entry(tp.clone()).or_insert(Ok(None));
        }
        Attempt::Done(Ok(out))
    }

    /// Sets `group`'s committed offsets (OffsetCommit to its coordinator,
    /// as a non-member: generation -1, no member id). Kafka accepts this
    /// only while the group has no members: with members, each partition
    /// fails with UNKNOWN_MEMBER_ID. Each partition gets its own result; a
    /// negative offset is an [`Error::InvalidArgument`] for the call.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::{TopicPartition, consumer::OffsetAndMetadata};
    ///
    /// let tp = TopicPartition::new("orders", 0);
    /// let r = admin.alter_consumer_group_offsets("billing", [(tp.clone(), OffsetAndMetadata::new(500))]).await?;
    /// r[&tp].clone()?;
    /// # Ok(()) }
    /// ```
    pub async fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        if let Some((tp, o)) = offsets.iter().find(|(_, o)| o.offset < 0) {
            return Err(Error::InvalidArgument(format!("cannot commit negative offset {} for {tp}", o.offset)));
        }
        if offsets.is_empty() {
            return Ok(BTreeMap::new());
        }
        let offsets = &offsets;
        self.on_coordinator(ApiKey::OffsetCommit, group, |broker, conn| {
            self.offset_commit_at(broker, conn, group, offsets)
        })
        .await
    }

    async fn offset_commit_at(
        &self,
        broker: i32,
        conn: Connection,
        group: &str,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Attempt<Changed> {
        let req = OffsetCommitRequest {
            group_id: group.to_string(),
            generation_id_or_member_epoch: -1,
            member_id: String::new(),
            group_instance_id: None,
            topics: offset_commit_topics(offsets),
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => {
                self.forget_coordinator(group);
                return Attempt::failed(e);
            }
        };
        let rows = resp.topics.into_iter().flat_map(|t| {
            let topic: Arc<str> = t.name.into();
            t.partitions
                .into_iter()
                .map(move |p| (TopicPartition { topic: topic.clone(), partition: p.partition_index }, p.error_code))
        });
        self.changed(ApiKey::OffsetCommit, broker, group, rows, offsets.keys())
    }

    /// The outcome of a commit or delete for each partition of `asked`,
    /// from the (partition, error code) rows of the answer. An error that
    /// needs another coordinator, or its loading to finish, retries the
    /// whole group (the requests are idempotent); a partition the answer
    /// left out failed.
    fn changed<'a>(
        &self,
        api: ApiKey,
        broker: i32,
        group: &str,
        rows: impl IntoIterator<Item = (TopicPartition, i16)>,
        asked: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> Attempt<Changed> {
        let mut out: Changed = BTreeMap::new();
        for (tp, code) in rows {
            let code = ErrorCode(code);
            let e = || Error::broker(code, api, broker, format!("group {group}, {tp}"), None);
            if retry_group(code) {
                return self.group_error(group, e());
            }
            out.insert(tp.clone(), if code == ErrorCode::NONE { Ok(()) } else { Err(e()) });
        }
        for tp in asked {
            out.entry(tp.clone()).or_insert_with(|| Err(no_answer(api, broker, tp)));
        }
        Attempt::Done(Ok(out))
    }

    /// Moves `group`'s committed offsets to positions looked up with
    /// [`Self::list_offsets`] (earliest, latest, by time, …), as
    /// `kafka-consumer-groups --reset-offsets --execute` does: a time after
    /// the last record resets to the end. Returns each partition's new
    /// offset. Like [`Self::alter_consumer_group_offsets`], refused
    /// (UNKNOWN_MEMBER_ID per partition) while the group has members.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::{TopicPartition, admin::OffsetSpec};
    ///
    /// let parts = (0..6).map(|p| (TopicPartition::new("orders", p), OffsetSpec::Earliest));
    /// for (tp, r) in admin.reset_consumer_group_offsets("billing", parts).await? {
    ///     println!("{tp} -> {r:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn reset_consumer_group_offsets(
        &self,
        group: &str,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        let specs: BTreeMap<TopicPartition, OffsetSpec> = specs.into_iter().collect();
        let mut out = BTreeMap::new();
        let mut targets = BTreeMap::new();
        let mut past_the_end = Vec::new();
        for (tp, found) in self.list_offsets(specs, ListOffsetsOptions::new()).await? {
            match found {
                Ok(o) if o.offset >= 0 => {
                    targets.insert(tp, o.offset);
                }
                Ok(_) => past_the_end.push((tp, OffsetSpec::Latest)),
                Err(e) => {
                    out.insert(tp, Err(e));
                }
            }
        }
        if !past_the_end.is_empty() {
            for (tp, found) in self.list_offsets(past_the_end, ListOffsetsOptions::new()).await? {
                match found {
                    Ok(o) => {
                        targets.insert(tp, o.offset);
                    }
                    Err(e) => {
                        out.insert(tp, Err(e));
                    }
                }
            }
        }
        let offsets = targets.iter().map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o)));
        let mut committed = self.alter_consumer_group_offsets(group, offsets).await?;
        for (tp, offset) in targets {
            let r = committed.remove(&tp).unwrap_or_else(|| Err(no_answer(ApiKey::OffsetCommit, -1, &tp)));
            out.insert(tp, r.map(|()| offset));
        }
        Ok(out)
    }

    /// Deletes `group`'s committed offsets of some partitions (OffsetDelete
    /// to its coordinator). Each partition gets its own result —
    /// GROUP_SUBSCRIBED_TO_TOPIC while a member consumes its topic — and a
    /// group-level error (GROUP_ID_NOT_FOUND, …) fails the call.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    ///
    /// let tp = TopicPartition::new("old-orders", 0);
    /// let r = admin.delete_consumer_group_offsets("billing", [tp.clone()]).await?;
    /// if let Err(e) = &r[&tp] {
    ///     eprintln!("{tp}: {e}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let partitions: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let partitions = &partitions;
        self.on_coordinator(ApiKey::OffsetDelete, group, |broker, conn| {
            self.offset_delete_at(broker, conn, group, partitions)
        })
        .await
    }

    async fn offset_delete_at(
        &self,
        broker: i32,
        conn: Connection,
        group: &str,
        partitions: &BTreeSet<TopicPartition>,
    ) -> Attempt<Changed> {
        let req = OffsetDeleteRequest {
            group_id: group.to_string(),
            topics: by_topic(partitions)
                .into_iter()
                .map(|(t, ps)| OffsetDeleteRequestTopic {
                    name: t.to_string(),
                    partitions: ps
                        .into_iter()
                        .map(|p| OffsetDeleteRequestPartition { partition_index: p, ..Default::default() })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => {
                self.forget_coordinator(group);
                return Attempt::failed(e);
            }
        };
        if resp.error_code != 0 {
            let e =
                Error::broker(ErrorCode(resp.error_code), ApiKey::OffsetDelete, broker, format!("group {group}"), None);
            return self.group_error(group, e);
        }
        let rows = resp.topics.into_iter().flat_map(|t| {
            let topic: Arc<str> = t.name.into();
            t.partitions
                .into_iter()
                .map(move |p| (TopicPartition { topic: topic.clone(), partition: p.partition_index }, p.error_code))
        });
        self.changed(ApiKey::OffsetDelete, broker, group, rows, partitions)
    }

    /// The lag of consumer group `group`: for every partition it has a
    /// committed offset for or a member is assigned, the committed offset,
    /// the end of the partition, their difference and the owning member —
    /// the table of `kafka-consumer-groups --describe`, which this result's
    /// `Display` prints. A group that does not exist fails the call.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// let lag = admin.consumer_group_lag("billing").await?;
    /// print!("{lag}");
    /// println!("total lag: {}", lag.total_lag());
    /// # Ok(()) }
    /// ```
    pub async fn consumer_group_lag(&self, group: &str) -> Result<ConsumerGroupLag> {
        let mut described = self.describe_consumer_groups([group]).await?;
        let description = described
            .remove(group)
            .unwrap_or_else(|| Err(no_answer(ApiKey::DescribeGroups, -1, format!("group {group}"))))?;
        let mut committed = self.list_consumer_group_offsets(group, None).await?;
        let mut owners: BTreeMap<TopicPartition, PartitionOwner> = BTreeMap::new();
        for m in &description.members {
            for tp in &m.assignment {
                owners.insert(
                    tp.clone(),
                    PartitionOwner {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        client_id: m.client_id.clone(),
                        host: m.host.clone(),
                    },
                );
            }
        }
        let all: BTreeSet<TopicPartition> = committed.keys().chain(owners.keys()).cloned().collect();
        let mut ends = if all.is_empty() {
            BTreeMap::new()
        } else {
            self.list_offsets(all.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)), ListOffsetsOptions::new()).await?
        };
        let partitions = all
            .into_iter()
            .map(|tp| {
                let mut error = None;
                let current_offset = match committed.remove(&tp) {
                    Some(Ok(o)) => o.map(|o| o.offset),
                    Some(Err(e)) => {
                        error = Some(e);
                        None
                    }
                    None => None,
                };
                let log_end_offset = match ends.remove(&tp) {
                    Some(Ok(o)) => Some(o.offset),
                    Some(Err(e)) => {
                        error.get_or_insert(e);
                        None
                    }
                    None => None,
                };
                let lag = current_offset.zip(log_end_offset).map(|(c, e)| e - c);
                let owner = owners.remove(&tp);
                PartitionLag { partition: tp, current_offset, log_end_offset, lag, owner, error }
            })
            .collect();
        Ok(ConsumerGroupLag {
            group_id: description.group_id,
            state: description.state,
            coordinator: description.coordinator,
            partitions,
        })
    }
}
