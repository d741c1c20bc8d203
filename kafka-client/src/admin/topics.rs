//! Topics: create (CreateTopics), delete (DeleteTopics), list and describe
//! (Metadata), and add partitions (CreatePartitions).
//!
//! Creation, deletion and new partitions go to the controller. As in Java,
//! their per-topic errors are final except NOT_CONTROLLER and
//! THROTTLING_QUOTA_EXCEEDED, which are retried; a failed request as a
//! whole is retried when its error is retriable.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions::{CreatePartitionsAssignment, CreatePartitionsTopic};
use kafka_protocol::messages::create_topics::{CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics::DeleteTopicState;
use kafka_protocol::messages::metadata::MetadataResponseTopic;
use kafka_protocol::messages::{CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest};
use kafka_protocol::{ApiKey, ErrorCode, Uuid};

use super::Admin;
use super::configs::{ConfigEntry, ConfigSource, ConfigType};
use super::routing::{Attempt, Round, all_failed, no_answer};
use crate::config::millis;
use crate::error::{Error, Result};

/// A topic to create: partitions and replication factor (or the broker's
/// defaults), or an explicit replica assignment; plus topic configs.
///
/// ```
/// use kafka_client::admin::NewTopic;
///
/// let t = NewTopic::new("orders", 6, 3).config("cleanup.policy", "delete");
/// assert_eq!((t.partitions, t.replication_factor), (Some(6), Some(3)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The topic's name.
    pub name: String,
    /// Partition count; None for the broker's `num.partitions`.
    pub partitions: Option<i32>,
    /// Replicas per partition; None for `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Explicit replica placement: partition → brokers, the first being the
    /// preferred leader. When not empty, `partitions` and
    /// `replication_factor` are ignored.
    pub assignment: BTreeMap<i32, Vec<i32>>,
    /// Topic config overrides (`retention.ms`, …).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic with `partitions` partitions of `replication_factor` replicas.
    ///
    /// ```
    /// let t = kafka_client::admin::NewTopic::new("orders", 3, 1);
    /// assert_eq!(t.name, "orders");
    /// ```
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.into(),
            partitions: Some(partitions),
            replication_factor: Some(replication_factor),
            assignment: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// A topic with the broker's default partition count and replication
    /// factor (KIP-464).
    ///
    /// ```
    /// let t = kafka_client::admin::NewTopic::with_broker_defaults("logs");
    /// assert_eq!(t.partitions, None);
    /// ```
    pub fn with_broker_defaults(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            partitions: None,
            replication_factor: None,
            assignment: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// A topic whose replicas are placed explicitly: for each partition
    /// (numbered from 0 without gaps), its brokers.
    ///
    /// ```
    /// let t = kafka_client::admin::NewTopic::with_assignment("pinned", [(0, vec![1, 2]), (1, vec![2, 3])]);
    /// assert_eq!(t.assignment[&1], vec![2, 3]);
    /// ```
    pub fn with_assignment(name: impl Into<String>, assignment: impl IntoIterator<Item = (i32, Vec<i32>)>) -> Self {
        NewTopic {
            name: name.into(),
            partitions: None,
            replication_factor: None,
            assignment: assignment.into_iter().collect(),
            configs: BTreeMap::new(),
        }
    }

    /// Adds a topic config override.
    ///
    /// ```
    /// let t = kafka_client::admin::NewTopic::new("t", 1, 1).config("retention.ms", "60000");
    /// assert_eq!(t.configs["retention.ms"], "60000");
    /// ```
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }

    fn to_request(&self) -> CreatableTopic {
        let explicit = !self.assignment.is_empty();
        CreatableTopic {
            name: self.name.clone(),
            num_partitions: if explicit { -1 } else { self.partitions.unwrap_or(-1) },
            replication_factor: if explicit { -1 } else { self.replication_factor.unwrap_or(-1) },
            assignments: self
                .assignment
                .iter()
                .map(|(p, brokers)| CreatableReplicaAssignment {
                    partition_index: *p,
                    broker_ids: brokers.clone(),
                    ..Default::default()
                })
                .collect(),
            configs: self
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig { name: k.clone(), value: Some(v.clone()), ..Default::default() })
                .collect(),
            ..Default::default()
        }
    }
}

/// Options of [`Admin::create_topics`].
///
/// ```
/// let o = kafka_client::admin::CreateTopicsOptions::new().validate_only(true);
/// assert!(o.validate_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateTopicsOptions {
    /// Only check that the topics could be created; create nothing.
    pub validate_only: bool,
}

impl CreateTopicsOptions {
    /// The defaults: really create.
    ///
    /// ```
    /// assert!(!kafka_client::admin::CreateTopicsOptions::new().validate_only);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Only validate.
    ///
    /// ```
    /// assert!(kafka_client::admin::CreateTopicsOptions::new().validate_only(true).validate_only);
    /// ```
    pub fn validate_only(mut self, validate_only: bool) -> Self {
        self.validate_only = validate_only;
        self
    }
}

/// What the controller reports about a created (or validated) topic. The
/// details come with CreateTopics v5+ (v7+ for the id); older brokers
/// leave them unset.
///
/// ```
/// let t = kafka_client::admin::CreatedTopic { topic_id: None, partitions: Some(3), replication_factor: Some(2), configs: vec![] };
/// assert_eq!(t.partitions, Some(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    /// The new topic's id (None when validating only, or before v7).
    pub topic_id: Option<Uuid>,
    /// Its partition count.
    pub partitions: Option<i32>,
    /// Its replication factor.
    pub replication_factor: Option<i16>,
    /// Its effective configs.
    pub configs: Vec<ConfigEntry>,
}

/// A topic as [`Admin::list_topics`] lists it.
///
/// ```
/// let t = kafka_client::admin::TopicListing { name: "orders".into(), topic_id: None, internal: false };
/// assert!(!t.internal);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    /// Name.
    pub name: String,
    /// Id, when the broker sent one.
    pub topic_id: Option<Uuid>,
    /// Whether Kafka marks it internal (`__consumer_offsets`, …).
    pub internal: bool,
}

/// One partition of a [`TopicDescription`].
///
/// ```
/// let p = kafka_client::admin::PartitionDescription {
///     partition: 0, leader: Some(1), leader_epoch: Some(4), replicas: vec![1, 2], isr: vec![1, 2], offline_replicas: vec![],
/// };
/// assert_eq!(p.leader, Some(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// Partition number.
    pub partition: i32,
    /// Leader broker, None while the partition has none.
    pub leader: Option<i32>,
    /// Leader epoch, when the broker sent it.
    pub leader_epoch: Option<i32>,
    /// Replica brokers, the preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<i32>,
}

/// A topic as [`Admin::describe_topics`] describes it.
///
/// ```
/// let t = kafka_client::admin::TopicDescription { name: "t".into(), topic_id: None, internal: false, partitions: vec![] };
/// assert!(t.partitions.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Name.
    pub name: String,
    /// Id, when the broker sent one.
    pub topic_id: Option<Uuid>,
    /// Whether Kafka marks it internal.
    pub internal: bool,
    /// Partitions, by number.
    pub partitions: Vec<PartitionDescription>,
}

/// A new partition count for a topic, optionally with the replicas of the
/// new partitions.
///
/// ```
/// let n = kafka_client::admin::NewPartitions::increase_to(8);
/// assert_eq!(n.total_count, 8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The partition count wanted (it can only grow).
    pub total_count: i32,
    /// For each new partition in order, its brokers; None lets the
    /// controller place them.
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grows the topic to `total_count` partitions.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::NewPartitions::increase_to(4).assignments, None);
    /// ```
    pub fn increase_to(total_count: i32) -> Self {
        NewPartitions { total_count, assignments: None }
    }

    /// Places the new partitions' replicas.
    ///
    /// ```
    /// let n = kafka_client::admin::NewPartitions::increase_to(4).with_assignments(vec![vec![1, 2]]);
    /// assert_eq!(n.assignments, Some(vec![vec![1, 2]]));
    /// ```
    pub fn with_assignments(mut self, assignments: Vec<Vec<i32>>) -> Self {
        self.assignments = Some(assignments);
        self
    }
}

/// Options of [`Admin::create_partitions`].
///
/// ```
/// let o = kafka_client::admin::CreatePartitionsOptions::new().validate_only(true);
/// assert!(o.validate_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreatePartitionsOptions {
    /// Only check the change; make none.
    pub validate_only: bool,
}

impl CreatePartitionsOptions {
    /// The defaults: really add the partitions.
    ///
    /// ```
    /// assert!(!kafka_client::admin::CreatePartitionsOptions::new().validate_only);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Only validate.
    ///
    /// ```
    /// assert!(kafka_client::admin::CreatePartitionsOptions::new().validate_only(true).validate_only);
    /// ```
    pub fn validate_only(mut self, validate_only: bool) -> Self {
        self.validate_only = validate_only;
        self
    }
}

/// The outcome of a per-topic error of a controller request: the
/// controller moving and quota throttling are retried, the rest is final.
fn controller_item<T>(code: i16, api: ApiKey, broker: i32, topic: &str, message: Option<String>) -> Attempt<T> {
    let code = ErrorCode(code);
    let e = Error::broker(code, api, broker, format!("topic {topic}"), message);
    if code == ErrorCode::NOT_CONTROLLER || code == ErrorCode::THROTTLING_QUOTA_EXCEEDED {
        Attempt::Retry(e)
    } else {
        Attempt::Done(Err(e))
    }
}

fn topic_id(id: Uuid) -> Option<Uuid> {
    (!id.is_zero()).then_some(id)
}

fn describe(t: &MetadataResponseTopic, name: &str) -> TopicDescription {
    let mut partitions: Vec<PartitionDescription> = t
        .partitions
        .iter()
        .map(|p| PartitionDescription {
            partition: p.partition_index,
            leader: (p.leader_id >= 0).then_some(p.leader_id),
            leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
            replicas: p.replica_nodes.clone(),
            isr: p.isr_nodes.clone(),
            offline_replicas: p.offline_replicas.clone(),
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicDescription { name: name.to_string(), topic_id: topic_id(t.topic_id), internal: t.is_internal, partitions }
}

impl Admin {
    /// Creates topics (CreateTopics, sent to the controller). Each topic
    /// gets its own result: TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR,
    /// INVALID_CONFIG, … for one topic do not affect the others. With
    /// `validate_only`, nothing is created and the results say what would
    /// have been.
    ///
    /// A name given twice is an [`Error::InvalidArgument`] for the call.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{CreateTopicsOptions, NewTopic};
    ///
    /// let results = admin
    ///     .create_topics([NewTopic::new("orders", 6, 3), NewTopic::new("audit", 1, 3)], CreateTopicsOptions::new())
    ///     .await?;
    /// if let Err(e) = &results["orders"] {
    ///     eprintln!("orders: {e}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        options: CreateTopicsOptions,
    ) -> Result<BTreeMap<String, Result<CreatedTopic>>> {
        let mut by_name = BTreeMap::new();
        for t in topics {
            if by_name.contains_key(&t.name) {
                return Err(Error::InvalidArgument(format!("topic {} is given twice", t.name)));
            }
            by_name.insert(t.name.clone(), t);
        }
        let by_name = &by_name;
        let options = &options;
        self.run(ApiKey::CreateTopics, by_name.keys().cloned(), |names| self.create_round(by_name, options, names))
            .await
    }

    async fn create_round(
        &self,
        topics: &BTreeMap<String, NewTopic>,
        options: &CreateTopicsOptions,
        names: Vec<String>,
    ) -> Round<String, CreatedTopic> {
        let conn = match self.controller().await {
            Ok(c) => c,
            Err(e) => return all_failed(&names, &e),
        };
        let req = CreateTopicsRequest {
            topics: names.iter().filter_map(|n| topics.get(n)).map(NewTopic::to_request).collect(),
            timeout_ms: i32::try_from(millis(self.inner.cfg.request_timeout)).unwrap_or(i32::MAX),
            validate_only: options.validate_only,
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&names, &e),
        };
        let broker = conn.broker();
        let mut out: Round<String, CreatedTopic> = BTreeMap::new();
        for r in resp.topics {
            let attempt = if r.error_code != 0 {
                controller_item(r.error_code, ApiKey::CreateTopics, broker, &r.name, r.error_message)
            } else {
                let configs = r
                    .configs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| ConfigEntry {
                        name: c.name,
                        value: c.value,
                        source: ConfigSource::from_code(c.config_source),
                        read_only: c.read_only,
                        sensitive: c.is_sensitive,
                        synonyms: Vec::new(),
                        config_type: ConfigType::Unknown,
                        documentation: None,
                    })
                    .collect();
                Attempt::Done(Ok(CreatedTopic {
                    topic_id: topic_id(r.topic_id),
                    partitions: (r.num_partitions >= 0).then_some(r.num_partitions),
                    replication_factor: (r.replication_factor >= 0).then_some(r.replication_factor),
                    configs,
                }))
            };
            out.insert(r.name, attempt);
        }
        out
    }

    /// Deletes topics (DeleteTopics, sent to the controller), each with its
    /// own result: UNKNOWN_TOPIC_OR_PARTITION for one that does not exist.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// for (topic, result) in admin.delete_topics(["old-orders", "scratch"]).await? {
    ///     println!("{topic}: {}", if result.is_ok() { "deleted" } else { "not deleted" });
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_topics<S: Into<String>>(
        &self,
        topics: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let names: Vec<String> = topics.into_iter().map(Into::into).collect();
        self.run(ApiKey::DeleteTopics, names, |names| self.delete_round(names)).await
    }

    async fn delete_round(&self, names: Vec<String>) -> Round<String, ()> {
        let conn = match self.controller().await {
            Ok(c) => c,
            Err(e) => return all_failed(&names, &e),
        };
        let version = match conn.version_for(ApiKey::DeleteTopics) {
            Ok(v) => v,
            Err(e) => return all_failed(&names, &e),
        };
        let timeout_ms = i32::try_from(millis(self.inner.cfg.request_timeout)).unwrap_or(i32::MAX);
        let req = if version >= 6 {
            DeleteTopicsRequest {
                topics: names
                    .iter()
                    .map(|n| DeleteTopicState { name: Some(n.clone()), topic_id: Uuid::ZERO, ..Default::default() })
                    .collect(),
                timeout_ms,
                ..Default::default()
            }
        } else {
            DeleteTopicsRequest { topic_names: names.clone(), timeout_ms, ..Default::default() }
        };
        let resp = match conn.request_at(&req, version).await {
            Ok(r) => r,
            Err(e) => return all_failed(&names, &e),
        };
        let broker = conn.broker();
        let mut out = BTreeMap::new();
        for r in resp.responses {
            let Some(name) = r.name else { continue };
            let attempt = if r.error_code != 0 {
                controller_item(r.error_code, ApiKey::DeleteTopics, broker, &name, r.error_message)
            } else {
                Attempt::Done(Ok(()))
            };
            out.insert(name, attempt);
        }
        out
    }

    /// The topics of the cluster (Metadata for every topic), by name;
    /// internal topics only when `include_internal`.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// let names: Vec<String> = admin.list_topics(false).await?.into_keys().collect();
    /// println!("{}", names.join(", "));
    /// # Ok(()) }
    /// ```
    pub async fn list_topics(&self, include_internal: bool) -> Result<BTreeMap<String, TopicListing>> {
        self.run_one(ApiKey::Metadata, (), |_| async {
            let resp = match self.check_open() {
                Ok(()) => self.inner.net.refresh_metadata(None, false).await,
                Err(e) => Err(e),
            };
            let attempt = match resp {
                Ok(resp) => Attempt::Done(Ok(resp
                    .topics
                    .into_iter()
                    .filter(|t| t.error_code == 0 && (include_internal || !t.is_internal))
                    .filter_map(|t| {
                        let name = t.name?;
                        Some((
                            name.clone(),
                            TopicListing { name, topic_id: topic_id(t.topic_id), internal: t.is_internal },
                        ))
                    })
                    .collect())),
                Err(e) => Attempt::failed(e),
            };
            BTreeMap::from([((), attempt)])
        })
        .await
    }

    /// Describes topics (Metadata): id, internal flag, and per partition the
    /// leader, leader epoch, replicas and ISR. A topic that does not exist
    /// gets UNKNOWN_TOPIC_OR_PARTITION; one still being created (no leaders
    /// yet) is asked about again.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// let described = admin.describe_topics(["orders"]).await?;
    /// for p in &described["orders"].as_ref().map_err(Clone::clone)?.partitions {
    ///     println!("partition {} leader {:?} isr {:?}", p.partition, p.leader, p.isr);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn describe_topics<S: Into<String>>(
        &self,
        topics: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let names: Vec<String> = topics.into_iter().map(Into::into).collect();
        self.run(ApiKey::Metadata, names, |names| self.describe_round(names)).await
    }

    async fn describe_round(&self, names: Vec<String>) -> Round<String, TopicDescription> {
        let resp = match self.check_open() {
            Ok(()) => self.inner.net.refresh_metadata(Some(&names), false).await,
            Err(e) => Err(e),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return all_failed(&names, &e),
        };
        let mut out = BTreeMap::new();
        for name in names {
            let attempt = match resp.topics.iter().find(|t| t.name.as_deref() == Some(&name)) {
                None => Attempt::Retry(no_answer(ApiKey::Metadata, -1, format!("topic {name}"))),
                Some(t) if t.error_code != 0 => {
                    let code = ErrorCode(t.error_code);
                    let e = Error::broker(code, ApiKey::Metadata, -1, format!("topic {name}"), None);
                    if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                        Attempt::Done(Err(e))
                    } else {
                        Attempt::failed(e)
                    }
                }
                Some(t) => Attempt::Done(Ok(describe(t, &name))),
            };
            out.insert(name, attempt);
        }
        out
    }

    /// Adds partitions to topics (CreatePartitions, sent to the controller),
    /// each topic with its own result: INVALID_PARTITIONS when the count
    /// would not grow, UNKNOWN_TOPIC_OR_PARTITION for a missing topic.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{CreatePartitionsOptions, NewPartitions};
    ///
    /// let r = admin.create_partitions([("orders", NewPartitions::increase_to(12))], CreatePartitionsOptions::new()).await?;
    /// r["orders"].clone()?;
    /// # Ok(()) }
    /// ```
    pub async fn create_partitions<S: Into<String>>(
        &self,
        increases: impl IntoIterator<Item = (S, NewPartitions)>,
        options: CreatePartitionsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let mut by_name = BTreeMap::new();
        for (name, n) in increases {
            let name = name.into();
            if by_name.contains_key(&name) {
                return Err(Error::InvalidArgument(format!("topic {name} is given twice")));
            }
            by_name.insert(name, n);
        }
        let by_name = &by_name;
        let options = &options;
        self.run(ApiKey::CreatePartitions, by_name.keys().cloned(), |names| {
            self.create_partitions_round(by_name, options, names)
        })
        .await
    }

    async fn create_partitions_round(
        &self,
        increases: &BTreeMap<String, NewPartitions>,
        options: &CreatePartitionsOptions,
        names: Vec<String>,
    ) -> Round<String, ()> {
        let conn = match self.controller().await {
            Ok(c) => c,
            Err(e) => return all_failed(&names, &e),
        };
        let req = CreatePartitionsRequest {
            topics: names
                .iter()
                .filter_map(|n| increases.get(n).map(|inc| (n, inc)))
                .map(|(n, inc)| CreatePartitionsTopic {
                    name: n.clone(),
                    count: inc.total_count,
                    assignments: inc.assignments.as_ref().map(|a| {
                        a.iter()
                            .map(|brokers| CreatePartitionsAssignment {
                                broker_ids: brokers.clone(),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: i32::try_from(millis(self.inner.cfg.request_timeout)).unwrap_or(i32::MAX),
            validate_only: options.validate_only,
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&names, &e),
        };
        let broker = conn.broker();
        resp.results
            .into_iter()
            .map(|r| {
                let attempt = if r.error_code != 0 {
                    controller_item(r.error_code, ApiKey::CreatePartitions, broker, &r.name, r.error_message)
                } else {
                    Attempt::Done(Ok(()))
                };
                (r.name, attempt)
            })
            .collect()
    }
}
