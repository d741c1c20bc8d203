//! Partition offsets: look them up (ListOffsets) and delete the records
//! below one (DeleteRecords). Both go to each partition's leader, found
//! with a Metadata request per round; partitions whose leader moved
//! (NOT_LEADER_OR_FOLLOWER, …) are looked up again on the next round.

use std::collections::BTreeMap;

use kafka_protocol::messages::delete_records::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{DeleteRecordsRequest, ListOffsetsRequest};
use kafka_protocol::{ApiKey, ErrorCode};

use super::Admin;
use super::routing::{Attempt, Round, all_failed, fan_out, no_answer};
use crate::TopicPartition;
use crate::config::millis;
use crate::consumer::config::IsolationLevel;
use crate::error::{Error, Result};

/// Which offset of a partition [`Admin::list_offsets`] looks up.
///
/// ```
/// use kafka_client::admin::OffsetSpec;
/// assert_eq!(OffsetSpec::Earliest.timestamp(), -2);
/// assert_eq!(OffsetSpec::Timestamp(1_700_000_000_000).timestamp(), 1_700_000_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The first offset still in the log (the log start offset).
    Earliest,
    /// The end of the log: the offset the next record gets (the high
    /// watermark; the last stable offset with `read_committed`).
    Latest,
    /// The record with the largest timestamp (ListOffsets v7+, KIP-734).
    MaxTimestamp,
    /// The first record whose timestamp is at or after this time (ms since
    /// the epoch).
    Timestamp(i64),
    /// The first offset in the broker's local log, with tiered storage
    /// (v8+, KIP-1005).
    EarliestLocal,
    /// The last offset in tiered storage (v9+, KIP-1005).
    LatestTiered,
}

impl OffsetSpec {
    /// The ListOffsets timestamp that asks for it.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::OffsetSpec::MaxTimestamp.timestamp(), -3);
    /// ```
    pub fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Latest => -1,
            OffsetSpec::Earliest => -2,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::EarliestLocal => -4,
            OffsetSpec::LatestTiered => -5,
            OffsetSpec::Timestamp(t) => t,
        }
    }

    /// The first ListOffsets version that knows the spec.
    fn min_version(self) -> i16 {
        match self {
            OffsetSpec::MaxTimestamp => 7,
            OffsetSpec::EarliestLocal => 8,
            OffsetSpec::LatestTiered => 9,
            _ => 0,
        }
    }
}

/// An offset [`Admin::list_offsets`] found. As in Java, a lookup that
/// matches no record (a timestamp after the last record's, the max
/// timestamp of an empty partition) gives offset and timestamp -1.
///
/// ```
/// let o = kafka_client::admin::ListedOffset { offset: 42, timestamp: -1, leader_epoch: Some(0) };
/// assert_eq!(o.offset, 42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset, or -1.
    pub offset: i64,
    /// That record's timestamp for lookups by time; -1 otherwise.
    pub timestamp: i64,
    /// The leader epoch of that record, when the broker said.
    pub leader_epoch: Option<i32>,
}

/// Options of [`Admin::list_offsets`].
///
/// ```
/// use kafka_client::admin::ListOffsetsOptions;
/// use kafka_client::consumer::config::IsolationLevel;
/// let o = ListOffsetsOptions::new().isolation_level(IsolationLevel::ReadCommitted);
/// assert_eq!(o.isolation_level, IsolationLevel::ReadCommitted);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOffsetsOptions {
    /// Whether `Latest` means the high watermark (read_uncommitted, the
    /// default) or the last stable offset (read_committed).
    pub isolation_level: IsolationLevel,
}

impl ListOffsetsOptions {
    /// read_uncommitted.
    ///
    /// ```
    /// use kafka_client::consumer::config::IsolationLevel;
    /// assert_eq!(kafka_client::admin::ListOffsetsOptions::new().isolation_level, IsolationLevel::ReadUncommitted);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the isolation level.
    ///
    /// ```
    /// use kafka_client::consumer::config::IsolationLevel;
    /// let o = kafka_client::admin::ListOffsetsOptions::new().isolation_level(IsolationLevel::ReadCommitted);
    /// assert_eq!(o.isolation_level.as_i8(), 1);
    /// ```
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = level;
        self
    }
}

/// The outcome of a partition error from a leader: a stale leader is looked
/// up again, other retriable errors are retried, the rest is final.
fn partition_error<T>(code: i16, api: ApiKey, broker: i32, tp: &TopicPartition) -> Attempt<T> {
    Attempt::failed(Error::broker(ErrorCode(code), api, broker, tp.to_string(), None))
}

/// Groups partitions by topic, keeping the order they come in.
fn by_topic<'a>(parts: impl IntoIterator<Item = &'a TopicPartition>) -> BTreeMap<&'a str, Vec<i32>> {
    let mut out: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        out.entry(&tp.topic).or_default().push(tp.partition);
    }
    out
}

impl Admin {
    /// Looks up offsets of partitions (ListOffsets, sent to each leader):
    /// the earliest, the latest, the first at or after a time, or the one
    /// with the largest timestamp. Each partition gets its own result;
    /// partitions of missing topics fail with UNKNOWN_TOPIC_OR_PARTITION,
    /// and a spec the leader's version cannot serve with UNSUPPORTED_VERSION.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    /// use kafka_client::admin::{ListOffsetsOptions, OffsetSpec};
    ///
    /// let tp = TopicPartition::new("orders", 0);
    /// let found = admin.list_offsets([(tp.clone(), OffsetSpec::Latest)], ListOffsetsOptions::new()).await?;
    /// println!("end of {tp}: {}", found[&tp].as_ref().map_err(Clone::clone)?.offset);
    /// # Ok(()) }
    /// ```
    pub async fn list_offsets(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        options: ListOffsetsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        let specs: BTreeMap<TopicPartition, OffsetSpec> = specs.into_iter().collect();
        let (specs, options) = (&specs, &options);
        self.run(ApiKey::ListOffsets, specs.keys().cloned(), move |keys| async move {
            let leaders = self.leaders(&keys).await;
            let mut out = leaders.failed;
            out.extend(
                fan_out(leaders.by_broker, |broker, parts| self.list_offsets_at(broker, parts, specs, options)).await,
            );
            out
        })
        .await
    }

    async fn list_offsets_at(
        &self,
        broker: i32,
        parts: Vec<TopicPartition>,
        specs: &BTreeMap<TopicPartition, OffsetSpec>,
        options: &ListOffsetsOptions,
    ) -> Round<TopicPartition, ListedOffset> {
        let conn = match self.broker(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&parts, &e),
        };
        let version = match conn.version_for(ApiKey::ListOffsets) {
            Ok(v) => v,
            Err(e) => return all_failed(&parts, &e),
        };
        let mut out: Round<TopicPartition, ListedOffset> = BTreeMap::new();
        let mut asked = Vec::new();
        for tp in parts {
            let spec = specs.get(&tp).copied().unwrap_or(OffsetSpec::Latest);
            if spec.min_version() > version {
                let e = Error::broker(
                    ErrorCode::UNSUPPORTED_VERSION,
                    ApiKey::ListOffsets,
                    broker,
                    tp.to_string(),
                    Some(format!(
                        "{spec:?} needs ListOffsets v{}; broker {broker} speaks v{version}",
                        spec.min_version()
                    )),
                );
                out.insert(tp, Attempt::Done(Err(e)));
            } else {
                asked.push(tp);
            }
        }
        if asked.is_empty() {
            return out;
        }
        let topics = by_topic(&asked)
            .into_iter()
            .map(|(topic, partitions)| ListOffsetsTopic {
                name: topic.to_string(),
                partitions: partitions
                    .into_iter()
                    .map(|p| ListOffsetsPartition {
                        partition_index: p,
                        timestamp: specs
                            .get(&TopicPartition::new(topic, p))
                            .copied()
                            .unwrap_or(OffsetSpec::Latest)
                            .timestamp(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let req = ListOffsetsRequest {
            replica_id: -1,
            isolation_level: if version >= 2 { options.isolation_level.as_i8() } else { 0 },
            topics,
            timeout_ms: i32::try_from(millis(self.inner.cfg.request_timeout)).unwrap_or(i32::MAX),
            ..Default::default()
        };
        let resp = match conn.request_at(&req, version).await {
            Ok(r) => r,
            Err(e) => {
                out.extend(all_failed(&asked, &e));
                return out;
            }
        };
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                if !asked.contains(&tp) {
                    continue;
                }
                let attempt = if p.error_code != 0 {
                    partition_error(p.error_code, ApiKey::ListOffsets, broker, &tp)
                } else {
                    Attempt::Done(Ok(ListedOffset {
                        offset: p.offset,
                        timestamp: p.timestamp,
                        leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                    }))
                };
                out.insert(tp, attempt);
            }
        }
        for tp in asked {
            out.entry(tp.clone()).or_insert_with(|| Attempt::Done(Err(no_answer(ApiKey::ListOffsets, broker, &tp))));
        }
        out
    }

    /// Deletes the records of partitions below the given offsets
    /// (DeleteRecords, sent to each leader) by moving their log start
    /// offset; -1 deletes up to the high watermark. Each partition gets its
    /// own result: its new low watermark, or e.g. OFFSET_OUT_OF_RANGE for
    /// an offset beyond the high watermark.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    ///
    /// let tp = TopicPartition::new("orders", 0);
    /// let r = admin.delete_records([(tp.clone(), 1000)]).await?;
    /// println!("{tp} now starts at {}", r[&tp].clone()?);
    /// # Ok(()) }
    /// ```
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Result<i64>>> {
        let before: BTreeMap<TopicPartition, i64> = before.into_iter().collect();
        let before = &before;
        self.run(ApiKey::DeleteRecords, before.keys().cloned(), move |keys| async move {
            let leaders = self.leaders(&keys).await;
            let mut out = leaders.failed;
            out.extend(fan_out(leaders.by_broker, |broker, parts| self.delete_records_at(broker, parts, before)).await);
            out
        })
        .await
    }

    async fn delete_records_at(
        &self,
        broker: i32,
        parts: Vec<TopicPartition>,
        before: &BTreeMap<TopicPartition, i64>,
    ) -> Round<TopicPartition, i64> {
        let conn = match self.broker(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&parts, &e),
        };
        let topics = by_topic(&parts)
            .into_iter()
            .map(|(topic, partitions)| DeleteRecordsTopic {
                name: topic.to_string(),
                partitions: partitions
                    .into_iter()
                    .map(|p| DeleteRecordsPartition {
                        partition_index: p,
                        offset: before.get(&TopicPartition::new(topic, p)).copied().unwrap_or(-1),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        let req = DeleteRecordsRequest {
            topics,
            timeout_ms: i32::try_from(millis(self.inner.cfg.request_timeout)).unwrap_or(i32::MAX),
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&parts, &e),
        };
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                if !parts.contains(&tp) {
                    continue;
                }
                let attempt = if p.error_code != 0 {
                    partition_error(p.error_code, ApiKey::DeleteRecords, broker, &tp)
                } else {
                    Attempt::Done(Ok(p.low_watermark))
                };
                out.insert(tp, attempt);
            }
        }
        for tp in parts {
            out.entry(tp.clone()).or_insert_with(|| Attempt::Done(Err(no_answer(ApiKey::DeleteRecords, broker, &tp))));
        }
        out
    }
}
