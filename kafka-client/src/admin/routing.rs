//! Where requests go, and the retry loop every call runs in.
//!
//! A call is a set of items (topics, partitions, groups, config resources).
//! Each round routes the items still open, sends one request per
//! destination concurrently, and says per item whether it is done (with a
//! result or a final error) or should be tried again. The loop waits
//! `retry.backoff.ms` (doubling up to `retry.backoff.max.ms`) between
//! rounds and gives up at `default.api.timeout.ms`, each open item failing
//! with the last error it saw. Rounds look their routes up afresh — partition
//! leaders from a Metadata request, coordinators from the cache or a
//! FindCoordinator — so a moved leader or coordinator is found on the next
//! round.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;

use kafka_protocol::messages::MetadataResponse;
use kafka_protocol::{ApiKey, ErrorCode};
use tokio::time::Instant;

use super::Admin;
use crate::TopicPartition;
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::net::client::backoff;

/// What became of one item in one round.
#[derive(Debug)]
pub(super) enum Attempt<T> {
    /// Finished, successfully or with an error that retrying cannot fix.
    Done(Result<T>),
    /// Failed in a way the next round may fix.
    Retry(Error),
}

impl<T> Attempt<T> {
    /// Retried when the error is retriable, final otherwise.
    pub(super) fn failed(e: Error) -> Self {
        if e.is_retriable() { Attempt::Retry(e) } else { Attempt::Done(Err(e)) }
    }
}

/// The per-item outcome of one round.
pub(super) type Round<K, T> = BTreeMap<K, Attempt<T>>;

/// Every item of `keys` failed with `e` (a request that failed as a whole).
pub(super) fn all_failed<K: Ord + Clone, T>(keys: &[K], e: &Error) -> Round<K, T> {
    keys.iter().map(|k| (k.clone(), Attempt::failed(e.clone()))).collect()
}

/// The error for an item a broker's response left out.
pub(super) fn no_answer(api: ApiKey, broker: i32, what: impl std::fmt::Display) -> Error {
    Error::Decode { broker, api, reason: format!("the response has no result for {what}") }
}

/// Runs `per_destination` for each destination concurrently and merges
/// their outcomes.
pub(super) async fn fan_out<D, K, T, F, Fut>(groups: BTreeMap<D, Vec<K>>, per_destination: F) -> Round<K, T>
where
    K: Ord,
    F: Fn(D, Vec<K>) -> Fut,
    Fut: Future<Output = Round<K, T>>,
{
    futures::future::join_all(groups.into_iter().map(|(d, keys)| per_destination(d, keys)))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Partition leaders found for a round, and the partitions whose leader
/// could not be found.
pub(super) struct Leaders<T> {
    /// Partitions by leader broker.
    pub by_broker: BTreeMap<i32, Vec<TopicPartition>>,
    /// Partitions of unknown topics (final) or without a leader (retried).
    pub failed: Round<TopicPartition, T>,
}

impl Admin {
    /// Runs `round` until every item is done or `default.api.timeout.ms`
    /// has passed; see the module docs.
    pub(super) async fn run<K, T, F, Fut>(
        &self,
        api: ApiKey,
        keys: impl IntoIterator<Item = K>,
        mut round: F,
    ) -> Result<BTreeMap<K, Result<T>>>
    where
        K: Ord + Clone + Debug,
        F: FnMut(Vec<K>) -> Fut,
        Fut: Future<Output = Round<K, T>>,
    {
        self.check_open()?;
        let cfg = &self.inner.cfg;
        let deadline = Instant::now() + cfg.default_api_timeout;
        let mut pending: Vec<K> = keys.into_iter().collect::<BTreeSet<K>>().into_iter().collect();
        let mut out = BTreeMap::new();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let mut answered = match tokio::time::timeout_at(deadline, round(pending.clone())).await {
                Ok(a) => a,
                Err(_) => {
                    let e = Error::Timeout { what: format!("{api:?}"), after: cfg.default_api_timeout };
                    out.extend(pending.into_iter().map(|k| (k, Err(e.clone()))));
                    break;
                }
            };
            let mut retry = Vec::new();
            let mut refresh = false;
            for k in pending {
                match answered.remove(&k) {
                    Some(Attempt::Done(r)) => {
                        out.insert(k, r);
                    }
                    Some(Attempt::Retry(e)) => {
                        refresh |= e.needs_metadata_refresh() || e.code() == Some(ErrorCode::NOT_CONTROLLER);
                        retry.push((k, e));
                    }
                    None => {
                        let e = no_answer(api, -1, format!("{k:?}"));
                        out.insert(k, Err(e));
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            attempt += 1;
            let wait = backoff(cfg.retry_backoff, cfg.retry_backoff_max, attempt);
            if self.is_closed() || Instant::now() + wait >= deadline {
                out.extend(retry.into_iter().map(|(k, e)| (k, Err(e))));
                break;
            }
            if let Some((_, e)) = retry.first() {
                tracing::debug!(?api, items = retry.len(), error = %e, attempt, "retrying");
            }
            tokio::time::sleep(wait).await;
            if refresh && let Err(e) = self.refresh_brokers().await {
                tracing::debug!(error = %e, "metadata refresh failed");
            }
            pending = retry.into_iter().map(|(k, _)| k).collect();
        }
        Ok(out)
    }

    /// [`Self::run`] for a call about one item, whose error is the call's.
    pub(super) async fn run_one<K, T, F, Fut>(&self, api: ApiKey, key: K, round: F) -> Result<T>
    where
        K: Ord + Clone + Debug,
        F: FnMut(Vec<K>) -> Fut,
        Fut: Future<Output = Round<K, T>>,
    {
        let mut results = self.run(api, [key.clone()], round).await?;
        results.remove(&key).unwrap_or_else(|| Err(no_answer(api, -1, format!("{key:?}"))))
    }

    /// Fetches the broker list and controller (no topics).
    pub(super) async fn refresh_brokers(&self) -> Result<MetadataResponse> {
        self.inner.net.refresh_metadata(Some(&[]), false).await
    }

    /// Makes sure the broker list is known and not older than
    /// `metadata.max.age.ms`.
    async fn ensure_brokers(&self) -> Result<()> {
        if self.inner.net.metadata_is_stale() {
            self.refresh_brokers().await?;
        }
        Ok(())
    }

    /// A connection to any broker.
    pub(super) async fn any_broker(&self) -> Result<Connection> {
        self.check_open()?;
        self.inner.net.any_connection().await
    }

    /// A connection to the controller when metadata names one, else to any
    /// broker (which forwards controller requests in KRaft clusters).
    pub(super) async fn controller(&self) -> Result<Connection> {
        self.check_open()?;
        self.ensure_brokers().await?;
        let id = self.inner.net.metadata().controller;
        if id >= 0 {
            match self.inner.net.connection(id).await {
                Ok(c) => return Ok(c),
                Err(e) => tracing::debug!(controller = id, error = %e, "controller unreachable; using another broker"),
            }
        }
        self.inner.net.any_connection().await
    }

    /// A connection to broker `id`; an id the cluster does not have is an
    /// [`Error::InvalidArgument`].
    pub(super) async fn broker(&self, id: i32) -> Result<Connection> {
        self.check_open()?;
        if self.inner.net.metadata().broker(id).is_none() || self.inner.net.metadata_is_stale() {
            self.refresh_brokers().await?;
        }
        if self.inner.net.metadata().broker(id).is_none() {
            return Err(Error::InvalidArgument(format!("broker {id} is not in the cluster")));
        }
        self.inner.net.connection(id).await
    }

    /// The ids of every broker, from a fresh Metadata request.
    pub(super) async fn all_brokers(&self) -> Result<Vec<i32>> {
        self.check_open()?;
        let resp = self.refresh_brokers().await?;
        Ok(resp.brokers.iter().map(|b| b.node_id).collect())
    }

    /// Asks every broker of the cluster with `at`, concurrently, each
    /// retried by [`Self::run`]'s rules: the brokers' answers by broker id.
    /// Fails when the brokers cannot be listed.
    pub(super) async fn on_every_broker<T, F, Fut>(&self, api: ApiKey, at: F) -> Result<BTreeMap<i32, Result<T>>>
    where
        F: Fn(i32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let brokers = self
            .run_one(ApiKey::Metadata, (), move |_| async move {
                let attempt = match self.all_brokers().await {
                    Ok(ids) => Attempt::Done(Ok(ids)),
                    Err(e) => Attempt::failed(e),
                };
                [((), attempt)].into()
            })
            .await?;
        let at = &at;
        self.run(api, brokers, move |brokers| async move {
            let groups = brokers.into_iter().map(|b| (b, vec![b])).collect();
            fan_out(groups, |b, _| async move {
                let attempt = match at(b).await {
                    Ok(answer) => Attempt::Done(Ok(answer)),
                    Err(e) => Attempt::failed(e),
                };
                [(b, attempt)].into()
            })
            .await
        })
        .await
    }

    /// Looks up the leaders of `partitions` with one Metadata request.
    /// Partitions of topics that do not exist fail for good (as in Java's
    /// `PartitionLeaderStrategy`); partitions without a leader are retried.
    pub(super) async fn leaders<T>(&self, partitions: &[TopicPartition]) -> Leaders<T> {
        let mut leaders = Leaders { by_broker: BTreeMap::new(), failed: BTreeMap::new() };
        let topics: Vec<String> =
            partitions.iter().map(|tp| tp.topic.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
        let resp = match self.check_open() {
            Ok(()) => self.inner.net.refresh_metadata(Some(&topics), false).await,
            Err(e) => Err(e),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                leaders.failed = all_failed(partitions, &e);
                return leaders;
            }
        };
        for tp in partitions {
            let topic = resp.topics.iter().find(|t| t.name.as_deref() == Some(&*tp.topic));
            let attempt = match topic {
                None => Attempt::Retry(no_answer(ApiKey::Metadata, -1, format!("topic {}", tp.topic))),
                Some(t) if t.error_code != 0 => {
                    let code = ErrorCode(t.error_code);
                    let e = Error::broker(code, ApiKey::Metadata, -1, tp.to_string(), None);
                    if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                        Attempt::Done(Err(e))
                    } else {
                        Attempt::failed(e)
                    }
                }
                Some(t) => match t.partitions.iter().find(|p| p.partition_index == tp.partition) {
                    None => Attempt::Done(Err(Error::broker(
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        ApiKey::Metadata,
                        -1,
                        tp.to_string(),
                        Some(format!("topic {} has {} partitions", tp.topic, t.partitions.len())),
                    ))),
                    Some(p) if p.leader_id < 0 => Attempt::Retry(Error::broker(
                        ErrorCode::LEADER_NOT_AVAILABLE,
                        ApiKey::Metadata,
                        -1,
                        tp.to_string(),
                        None,
                    )),
                    Some(p) => {
                        leaders.by_broker.entry(p.leader_id).or_default().push(tp.clone());
                        continue;
                    }
                },
            };
            leaders.failed.insert(tp.clone(), attempt);
        }
        leaders
    }
}
