//! Transactions seen from the outside (KIP-664), as Java's `Admin`
//! exposes them: describe transactional ids (DescribeTransactions, sent to
//! each id's transaction coordinator, found with FindCoordinator key type
//! 1), list them (ListTransactions, sent to every broker: each lists the
//! ids it coordinates), describe the producers a partition knows
//! (DescribeProducers, to the leader or a chosen replica), and abort a
//! hanging transaction (WriteTxnMarkers to the partition's leader, as
//! `Admin.abortTransaction` does).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kafka_protocol::messages::describe_producers::DescribeProducersTopic;
use kafka_protocol::messages::write_txn_markers::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest, WriteTxnMarkersRequest,
};
use kafka_protocol::{ApiKey, ErrorCode};

use super::Admin;
use super::coordinator::CoordinatorKind;
use super::routing::{Attempt, Round, all_failed, fan_out, no_answer};
use crate::TopicPartition;
use crate::error::{Error, Result};

/// A transaction's state, as its coordinator names it (Java's
/// `TransactionState`).
///
/// ```
/// use kafka_client::admin::TransactionState;
/// assert_eq!(TransactionState::parse("CompleteCommit"), TransactionState::CompleteCommit);
/// assert_eq!(TransactionState::Ongoing.to_string(), "Ongoing");
/// assert_eq!(TransactionState::parse("Mystery"), TransactionState::Unknown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionState {
    /// A transaction is open.
    Ongoing,
    /// An abort was decided; markers are being written.
    PrepareAbort,
    /// A commit was decided; markers are being written.
    PrepareCommit,
    /// The last transaction aborted.
    CompleteAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// No transaction since the producer registered.
    Empty,
    /// The producer is being fenced.
    PrepareEpochFence,
    /// A state this client does not know.
    Unknown,
}

impl TransactionState {
    const ALL: [TransactionState; 7] = [
        TransactionState::Ongoing,
        TransactionState::PrepareAbort,
        TransactionState::PrepareCommit,
        TransactionState::CompleteAbort,
        TransactionState::CompleteCommit,
        TransactionState::Empty,
        TransactionState::PrepareEpochFence,
    ];

    /// Kafka's name for the state (`Unknown` for [`Self::Unknown`]).
    pub fn name(self) -> &'static str {
        match self {
            TransactionState::Ongoing => "Ongoing",
            TransactionState::PrepareAbort => "PrepareAbort",
            TransactionState::PrepareCommit => "PrepareCommit",
            TransactionState::CompleteAbort => "CompleteAbort",
            TransactionState::CompleteCommit => "CompleteCommit",
            TransactionState::Empty => "Empty",
            TransactionState::PrepareEpochFence => "PrepareEpochFence",
            TransactionState::Unknown => "Unknown",
        }
    }

    /// The state named `name`; [`Self::Unknown`] for names Kafka does not use.
    pub fn parse(name: &str) -> Self {
        Self::ALL.into_iter().find(|s| s.name() == name).unwrap_or(TransactionState::Unknown)
    }
}

impl fmt::Display for TransactionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A transactional id as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The broker coordinating the id.
    pub coordinator_id: i32,
    /// Its state.
    pub state: TransactionState,
    /// The current producer id.
    pub producer_id: i64,
    /// The current producer epoch.
    pub producer_epoch: i32,
    /// The transaction timeout the producer registered with.
    pub transaction_timeout_ms: i64,
    /// When the current (or last) transaction started; None before the
    /// first one since the producer registered.
    pub transaction_start_time_ms: Option<i64>,
    /// The partitions of the open transaction (while it ends, those still
    /// without a marker).
    pub topic_partitions: BTreeSet<TopicPartition>,
}

/// A transactional id as ListTransactions lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// Its state.
    pub state: TransactionState,
    /// The broker that listed it (its coordinator).
    pub coordinator_id: i32,
}

/// Filters for [`Admin::list_transactions`]; every filter given must match.
///
/// ```
/// use kafka_client::admin::{ListTransactionsOptions, TransactionState};
/// let o = ListTransactionsOptions::new()
///     .filter_states([TransactionState::Ongoing])
///     .filter_on_duration(60_000);
/// assert_eq!(o.duration_filter_ms(), Some(60_000));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTransactionsOptions {
    states: Vec<TransactionState>,
    producer_ids: Vec<i64>,
    duration_ms: Option<i64>,
    transactional_id_pattern: Option<String>,
}

impl ListTransactionsOptions {
    /// No filters: every transactional id.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep ids in one of these states.
    pub fn filter_states(mut self, states: impl IntoIterator<Item = TransactionState>) -> Self {
        self.states = states.into_iter().collect();
        self
    }

    /// Keep ids whose producer id is one of these.
    pub fn filter_producer_ids(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.producer_ids = ids.into_iter().collect();
        self
    }

    /// Keep transactions that started more than `ms` milliseconds ago
    /// (ListTransactions v1+). As Kafka's coordinator compares
    /// with the start time even when no transaction is open, ids with none
    /// since they registered pass it too.
    pub fn filter_on_duration(mut self, ms: i64) -> Self {
        self.duration_ms = Some(ms);
        self
    }

    /// Keep ids that this regular expression matches in full
    /// (ListTransactions v2+: Kafka 4.4.0 has it, 4.0.2 not; the broker
    /// evaluates it, with its own regular-expression syntax).
    pub fn filter_on_transactional_id_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.transactional_id_pattern = Some(pattern.into());
        self
    }

    /// The duration filter, if set.
    pub fn duration_filter_ms(&self) -> Option<i64> {
        self.duration_ms
    }
}

/// A producer a partition replica holds state for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i32,
    /// The last sequence number it wrote, or -1.
    pub last_sequence: i32,
    /// Timestamp of its last batch or marker.
    pub last_timestamp: i64,
    /// The coordinator epoch of its last transaction marker, if any.
    pub coordinator_epoch: Option<i32>,
    /// The first offset of its open transaction on the partition, if any.
    pub current_transaction_start_offset: Option<i64>,
}

/// Where [`Admin::describe_producers`] asks.
///
/// ```
/// let o = kafka_client::admin::DescribeProducersOptions::new().broker_id(2);
/// assert_eq!(o.broker(), Some(2));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DescribeProducersOptions {
    broker_id: Option<i32>,
}

impl DescribeProducersOptions {
    /// Ask each partition's leader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask this broker instead (any replica answers).
    pub fn broker_id(mut self, id: i32) -> Self {
        self.broker_id = Some(id);
        self
    }

    /// The broker asked, if one was chosen.
    pub fn broker(&self) -> Option<i32> {
        self.broker_id
    }
}

/// A hanging transaction to abort (Java's `AbortTransactionSpec`): the
/// values DescribeProducers reports for its producer on the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortTransactionSpec {
    /// The partition the transaction holds open.
    pub topic_partition: TopicPartition,
    /// Its producer id.
    pub producer_id: i64,
    /// Its producer epoch.
    pub producer_epoch: i16,
    /// The coordinator epoch the marker carries (the producer's last, or 0).
    pub coordinator_epoch: i32,
}

fn state_name_filters(states: &[TransactionState]) -> Vec<String> {
    states.iter().map(|s| s.name().to_string()).collect()
}

impl Admin {
    /// Describes transactional ids, each from its transaction coordinator.
    /// An id no coordinator knows is TRANSACTIONAL_ID_NOT_FOUND; a moved
    /// coordinator is looked up again.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// let described = admin.describe_transactions(["payments-1"]).await?;
    /// let d = described["payments-1"].as_ref().map_err(Clone::clone)?;
    /// println!("{} producer {} epoch {} on {:?}", d.state, d.producer_id, d.producer_epoch, d.topic_partitions);
    /// # Ok(()) }
    /// ```
    pub async fn describe_transactions<S: Into<String>>(
        &self,
        transactional_ids: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<TransactionDescription>>> {
        let ids = transactional_ids.into_iter().map(Into::into).collect::<Vec<String>>();
        self.run(ApiKey::DescribeTransactions, ids, move |ids| async move {
            let found = self.coordinators_of(CoordinatorKind::Transaction, &ids).await;
            let mut out = found.failed;
            out.extend(fan_out(found.by_broker, |broker, ids| self.describe_transactions_at(broker, ids)).await);
            out
        })
        .await
    }

    async fn describe_transactions_at(&self, broker: i32, ids: Vec<String>) -> Round<String, TransactionDescription> {
        let forget_all = |ids: &[String]| {
            for id in ids {
                self.forget_coordinator_of(CoordinatorKind::Transaction, id);
            }
        };
        let conn = match self.broker(broker).await {
            Ok(c) => c,
            Err(e) => {
                forget_all(&ids);
                return all_failed(&ids, &e);
            }
        };
        let req = DescribeTransactionsRequest { transactional_ids: ids.clone(), ..Default::default() };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => {
                forget_all(&ids);
                return all_failed(&ids, &e);
            }
        };
        let mut states = resp.transaction_states;
        ids.into_iter()
            .map(|id| {
                let attempt = match states.iter().position(|s| s.transactional_id == id) {
                    None => Attempt::Done(Err(no_answer(ApiKey::DescribeTransactions, broker, format!("id {id}")))),
                    Some(i) => {
                        let s = states.swap_remove(i);
                        if s.error_code != 0 {
                            let e = Error::broker(
                                ErrorCode(s.error_code),
                                ApiKey::DescribeTransactions,
                                broker,
                                format!("transactional id {id}"),
                                None,
                            );
                            if e.needs_coordinator_lookup() {
                                self.forget_coordinator_of(CoordinatorKind::Transaction, &id);
                            }
                            Attempt::failed(e)
                        } else {
                            let topic_partitions = s
                                .topics
                                .iter()
                                .flat_map(|t| t.partitions.iter().map(|&p| TopicPartition::new(&*t.topic, p)))
                                .collect();
                            Attempt::Done(Ok(TransactionDescription {
                                coordinator_id: broker,
                                state: TransactionState::parse(&s.transaction_state),
                                producer_id: s.producer_id,
                                producer_epoch: i32::from(s.producer_epoch),
                                transaction_timeout_ms: i64::from(s.transaction_timeout_ms),
                                transaction_start_time_ms: (s.transaction_start_time_ms >= 0)
                                    .then_some(s.transaction_start_time_ms),
                                topic_partitions,
                            }))
                        }
                    }
                };
                (id, attempt)
            })
            .collect()
    }

    /// Lists the transactional ids of the cluster: ListTransactions is sent
    /// to every broker (each lists the ids it coordinates) and the answers
    /// are concatenated by broker id, each in the order the broker listed
    /// them. A duration filter needs brokers speaking ListTransactions v1
    /// and a pattern v2 (Kafka 4.4.0 speaks both, 4.0.2 only v1): other
    /// brokers fail the call with UNSUPPORTED_VERSION rather than list
    /// unfiltered.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{ListTransactionsOptions, TransactionState};
    /// let options = ListTransactionsOptions::new().filter_states([TransactionState::Ongoing]).filter_on_duration(600_000);
    /// for t in admin.list_transactions(options).await? {
    ///     println!("{} (producer {}) open for over 10 minutes on broker {}", t.transactional_id, t.producer_id, t.coordinator_id);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_transactions(&self, options: ListTransactionsOptions) -> Result<Vec<TransactionListing>> {
        let options = &options;
        let per_broker =
            self.on_every_broker(ApiKey::ListTransactions, |b| self.list_transactions_at(b, options)).await?;
        // By coordinator, each in the order it listed them (as Java's
        // `allByBrokerId` keeps them).
        let mut out = Vec::new();
        for (_, listed) in per_broker {
            out.extend(listed?);
        }
        Ok(out)
    }

    async fn list_transactions_at(
        &self,
        broker: i32,
        options: &ListTransactionsOptions,
    ) -> Result<Vec<TransactionListing>> {
        let conn = self.broker(broker).await?;
        let version = conn.version_for(ApiKey::ListTransactions)?;
        let needs = |min: i16, what: &str| {
            Error::broker(
                ErrorCode::UNSUPPORTED_VERSION,
                ApiKey::ListTransactions,
                broker,
                format!("broker {broker}"),
                Some(format!("{what} needs ListTransactions v{min}; the broker speaks v{version}")),
            )
        };
        if options.duration_ms.is_some() && version < 1 {
            return Err(needs(1, "a duration filter"));
        }
        if options.transactional_id_pattern.is_some() && version < 2 {
            return Err(needs(2, "a transactional id pattern"));
        }
        let req = ListTransactionsRequest {
            state_filters: state_name_filters(&options.states),
            producer_id_filters: options.producer_ids.clone(),
            duration_filter: options.duration_ms.unwrap_or(-1),
            transactional_id_pattern: options.transactional_id_pattern.clone(),
            ..Default::default()
        };
        let resp = conn.request_at(&req, version).await?;
        if resp.error_code != 0 {
            return Err(Error::broker(
                ErrorCode(resp.error_code),
                ApiKey::ListTransactions,
                broker,
                format!("broker {broker}"),
                None,
            ));
        }
        Ok(resp
            .transaction_states
            .into_iter()
            .map(|t| TransactionListing {
                transactional_id: t.transactional_id,
                producer_id: t.producer_id,
                state: TransactionState::parse(&t.transaction_state),
                coordinator_id: broker,
            })
            .collect::<Vec<_>>())
    }

    /// Describes the producers each partition's replica holds state for:
    /// the leader's unless [`DescribeProducersOptions::broker_id`] names a
    /// broker (a replica that is not the leader answers from its own
    /// copy; a broker without a replica is NOT_LEADER_OR_FOLLOWER, final
    /// then, retried after a metadata refresh when the leader was asked).
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    /// use kafka_client::admin::DescribeProducersOptions;
    /// let tp = TopicPartition::new("payments", 0);
    /// let found = admin.describe_producers([tp.clone()], DescribeProducersOptions::new()).await?;
    /// for p in found[&tp].as_ref().map_err(Clone::clone)? {
    ///     println!("producer {} epoch {} open since {:?}", p.producer_id, p.producer_epoch, p.current_transaction_start_offset);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn describe_producers(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        options: DescribeProducersOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<Vec<ProducerState>>>> {
        let parts: Vec<TopicPartition> = partitions.into_iter().collect();
        self.run(ApiKey::DescribeProducers, parts, move |keys| async move {
            match options.broker_id {
                Some(b) => self.describe_producers_at(b, keys, true).await,
                None => {
                    let leaders = self.leaders(&keys).await;
                    let mut out = leaders.failed;
                    out.extend(
                        fan_out(leaders.by_broker, |broker, parts| self.describe_producers_at(broker, parts, false))
                            .await,
                    );
                    out
                }
            }
        })
        .await
    }

    async fn describe_producers_at(
        &self,
        broker: i32,
        parts: Vec<TopicPartition>,
        chosen: bool,
    ) -> Round<TopicPartition, Vec<ProducerState>> {
        let conn = match self.broker(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&parts, &e),
        };
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in &parts {
            topics.entry(&tp.topic).or_default().push(tp.partition);
        }
        let req = DescribeProducersRequest {
            topics: topics
                .into_iter()
                .map(|(name, partition_indexes)| DescribeProducersTopic {
                    name: name.to_string(),
                    partition_indexes,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&parts, &e),
        };
        parts
            .into_iter()
            .map(|tp| {
                let answer = resp
                    .topics
                    .iter()
                    .filter(|t| *t.name == *tp.topic)
                    .flat_map(|t| t.partitions.iter())
                    .find(|p| p.partition_index == tp.partition);
                let attempt = match answer {
                    None => Attempt::Done(Err(no_answer(ApiKey::DescribeProducers, broker, &tp))),
                    Some(p) if p.error_code != 0 => {
                        let code = ErrorCode(p.error_code);
                        let e = Error::broker(
                            code,
                            ApiKey::DescribeProducers,
                            broker,
                            tp.to_string(),
                            p.error_message.clone(),
                        );
                        if chosen && code == ErrorCode::NOT_LEADER_OR_FOLLOWER {
                            Attempt::Done(Err(e))
                        } else {
                            Attempt::failed(e)
                        }
                    }
                    Some(p) => Attempt::Done(Ok(p
                        .active_producers
                        .iter()
                        .map(|s| ProducerState {
                            producer_id: s.producer_id,
                            producer_epoch: s.producer_epoch,
                            last_sequence: s.last_sequence,
                            last_timestamp: s.last_timestamp,
                            coordinator_epoch: (s.coordinator_epoch >= 0).then_some(s.coordinator_epoch),
                            current_transaction_start_offset: (s.current_txn_start_offset >= 0)
                                .then_some(s.current_txn_start_offset),
                        })
                        .collect())),
                };
                (tp, attempt)
            })
            .collect()
    }

    /// Aborts a hanging transaction on one partition, as Java's
    /// `abortTransaction`: an abort marker for the producer is written by
    /// the partition's leader (WriteTxnMarkers), so read_committed
    /// consumers can read past it. The coordinator is not involved: use it
    /// for a transaction its coordinator no longer tracks (find one with
    /// [`Self::describe_producers`]). A stale epoch is
    /// INVALID_PRODUCER_EPOCH, an older coordinator epoch
    /// TRANSACTION_COORDINATOR_FENCED.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    /// use kafka_client::admin::{AbortTransactionSpec, DescribeProducersOptions};
    /// let tp = TopicPartition::new("payments", 0);
    /// let producers = admin.describe_producers([tp.clone()], DescribeProducersOptions::new()).await?;
    /// for p in producers[&tp].as_ref().map_err(Clone::clone)? {
    ///     if p.current_transaction_start_offset == Some(1234) {
    ///         admin
    ///             .abort_transaction(AbortTransactionSpec {
    ///                 topic_partition: tp.clone(),
    ///                 producer_id: p.producer_id,
    ///                 producer_epoch: p.producer_epoch as i16,
    ///                 coordinator_epoch: p.coordinator_epoch.unwrap_or(0),
    ///             })
    ///             .await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn abort_transaction(&self, spec: AbortTransactionSpec) -> Result<()> {
        let spec = &spec;
        self.run_one(ApiKey::WriteTxnMarkers, spec.topic_partition.clone(), move |keys| async move {
            let leaders = self.leaders(&keys).await;
            let mut out = leaders.failed;
            out.extend(fan_out(leaders.by_broker, |broker, parts| self.write_abort_marker(broker, parts, spec)).await);
            out
        })
        .await
    }

    async fn write_abort_marker(
        &self,
        broker: i32,
        parts: Vec<TopicPartition>,
        spec: &AbortTransactionSpec,
    ) -> Round<TopicPartition, ()> {
        let conn = match self.broker(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&parts, &e),
        };
        let tp = &spec.topic_partition;
        let req = WriteTxnMarkersRequest {
            markers: vec![WritableTxnMarker {
                producer_id: spec.producer_id,
                producer_epoch: spec.producer_epoch,
                transaction_result: false,
                topics: vec![WritableTxnMarkerTopic {
                    name: tp.topic.to_string(),
                    partition_indexes: vec![tp.partition],
                    ..Default::default()
                }],
                coordinator_epoch: spec.coordinator_epoch,
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&parts, &e),
        };
        let code = resp
            .markers
            .iter()
            .filter(|m| m.producer_id == spec.producer_id)
            .flat_map(|m| m.topics.iter().filter(|t| *t.name == *tp.topic))
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition_index == tp.partition)
            .map(|p| ErrorCode(p.error_code));
        let attempt = match code {
            None => Attempt::Done(Err(no_answer(ApiKey::WriteTxnMarkers, broker, tp))),
            Some(ErrorCode::NONE) => Attempt::Done(Ok(())),
            Some(code) => Attempt::failed(Error::broker(code, ApiKey::WriteTxnMarkers, broker, tp.to_string(), None)),
        };
        // A round has the one partition of the spec.
        drop(parts);
        [(tp.clone(), attempt)].into()
    }
}
