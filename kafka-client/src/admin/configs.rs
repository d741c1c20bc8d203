//! Configs of topics, brokers and other resources: describe
//! (DescribeConfigs), replace (the legacy AlterConfigs) and change key by
//! key (IncrementalAlterConfigs, KIP-339).
//!
//! Routing follows Java's AdminClient: a broker (or broker logger) resource
//! naming a broker goes to that broker, since only it knows its own
//! configs; everything else (topics, the cluster-wide broker default) goes
//! to any broker, in one request. Per-resource errors are final, as in
//! Java; failed requests are retried when their error is retriable.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_configs::{DescribeConfigsResource, DescribeConfigsResourceResult};
use kafka_protocol::messages::{
    AlterConfigsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest, alter_configs,
    incremental_alter_configs,
};
use kafka_protocol::{ApiKey, ErrorCode};

use super::Admin;
use super::routing::{Attempt, Round, all_failed, fan_out, no_answer};
use crate::error::{Error, Result};
use crate::net::Connection;

/// The kinds of resources that have configs.
///
/// ```
/// use kafka_client::admin::ConfigResourceType;
/// assert_eq!(ConfigResourceType::Topic.code(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResourceType {
    /// A topic.
    Topic,
    /// A broker, or with an empty name the cluster-wide broker default.
    Broker,
    /// A broker's log4j loggers.
    BrokerLogger,
    /// Client metrics subscriptions (KIP-714).
    ClientMetrics,
    /// A group (KIP-848 group configs).
    Group,
}

impl ConfigResourceType {
    /// Kafka's resource type code.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::ConfigResourceType::Broker.code(), 4);
    /// ```
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
        }
    }
}

/// A resource whose configs are described or changed.
///
/// ```
/// use kafka_client::admin::ConfigResource;
///
/// assert_eq!(ConfigResource::broker(2).name, "2");
/// assert_eq!(ConfigResource::topic("orders").to_string(), "topic orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// Its kind.
    pub resource_type: ConfigResourceType,
    /// Its name: the topic name, the broker id, or empty for the cluster
    /// default of brokers.
    pub name: String,
}

impl ConfigResource {
    /// Any resource.
    ///
    /// ```
    /// use kafka_client::admin::{ConfigResource, ConfigResourceType};
    /// let r = ConfigResource::new(ConfigResourceType::Group, "billing");
    /// assert_eq!(r.name, "billing");
    /// ```
    pub fn new(resource_type: ConfigResourceType, name: impl Into<String>) -> Self {
        ConfigResource { resource_type, name: name.into() }
    }

    /// A topic.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::ConfigResource::topic("t").name, "t");
    /// ```
    pub fn topic(name: impl Into<String>) -> Self {
        Self::new(ConfigResourceType::Topic, name)
    }

    /// One broker, by id.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::ConfigResource::broker(1).name, "1");
    /// ```
    pub fn broker(id: i32) -> Self {
        Self::new(ConfigResourceType::Broker, id.to_string())
    }

    /// The cluster-wide default of every broker (`--entity-default`).
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::ConfigResource::broker_default().name, "");
    /// ```
    pub fn broker_default() -> Self {
        Self::new(ConfigResourceType::Broker, "")
    }

    /// The broker the request must go to, when the resource is one
    /// broker's.
    fn broker_id(&self) -> Option<i32> {
        match self.resource_type {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => self.name.parse().ok(),
            _ => None,
        }
    }

    fn matches(&self, resource_type: i8, name: &str) -> bool {
        self.resource_type.code() == resource_type && self.name == name
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.resource_type {
            ConfigResourceType::Topic => "topic",
            ConfigResourceType::Broker => "broker",
            ConfigResourceType::BrokerLogger => "broker logger",
            ConfigResourceType::ClientMetrics => "client metrics",
            ConfigResourceType::Group => "group",
        };
        if self.name.is_empty() { write!(f, "{kind} default") } else { write!(f, "{kind} {}", self.name) }
    }
}

/// Where a config value comes from.
///
/// ```
/// use kafka_client::admin::ConfigSource;
/// assert_eq!(ConfigSource::from_code(1), ConfigSource::DynamicTopic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigSource {
    /// Not known (older brokers).
    Unknown,
    /// Set on the topic.
    DynamicTopic,
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// From the broker's properties file.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// Set dynamically on a broker logger.
    DynamicBrokerLogger,
    /// A client metrics config.
    ClientMetrics,
    /// Set on a group.
    Group,
}

impl ConfigSource {
    /// The source for Kafka's code (unknown codes map to `Unknown`).
    ///
    /// ```
    /// use kafka_client::admin::ConfigSource;
    /// assert_eq!(ConfigSource::from_code(5), ConfigSource::Default);
    /// assert_eq!(ConfigSource::from_code(-1), ConfigSource::Unknown);
    /// ```
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            _ => ConfigSource::Unknown,
        }
    }
}

/// A config's value type (DescribeConfigs v3+).
///
/// ```
/// use kafka_client::admin::ConfigType;
/// assert_eq!(ConfigType::from_code(7), ConfigType::List);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigType {
    /// Not reported.
    Unknown,
    /// A boolean.
    Boolean,
    /// A string.
    String,
    /// A 32-bit integer.
    Int,
    /// A 16-bit integer.
    Short,
    /// A 64-bit integer.
    Long,
    /// A floating-point number.
    Double,
    /// A comma-separated list.
    List,
    /// A Java class name.
    Class,
    /// A password (never shown).
    Password,
}

impl ConfigType {
    /// The type for Kafka's code (unknown codes map to `Unknown`).
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::ConfigType::from_code(5), kafka_client::admin::ConfigType::Long);
    /// ```
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => ConfigType::Boolean,
            2 => ConfigType::String,
            3 => ConfigType::Int,
            4 => ConfigType::Short,
            5 => ConfigType::Long,
            6 => ConfigType::Double,
            7 => ConfigType::List,
            8 => ConfigType::Class,
            9 => ConfigType::Password,
            _ => ConfigType::Unknown,
        }
    }
}

/// Another place the same setting is defined, in precedence order.
///
/// ```
/// use kafka_client::admin::{ConfigSource, ConfigSynonym};
/// let s = ConfigSynonym { name: "log.retention.ms".into(), value: Some("1000".into()), source: ConfigSource::Default };
/// assert_eq!(s.source, ConfigSource::Default);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    /// The synonym's name (a broker config for a topic config).
    pub name: String,
    /// Its value.
    pub value: Option<String>,
    /// Where it is set.
    pub source: ConfigSource,
}

/// One config of a resource.
///
/// ```
/// use kafka_client::admin::{ConfigEntry, ConfigSource, ConfigType};
/// let e = ConfigEntry {
///     name: "retention.ms".into(), value: Some("1000".into()), source: ConfigSource::DynamicTopic,
///     read_only: false, sensitive: false, synonyms: vec![], config_type: ConfigType::Long, documentation: None,
/// };
/// assert!(!e.is_default());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Name.
    pub name: String,
    /// Value; None for a sensitive value or one without a value.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it cannot be changed.
    pub read_only: bool,
    /// Whether the value is hidden.
    pub sensitive: bool,
    /// Other definitions of the setting, highest precedence first (when
    /// asked for).
    pub synonyms: Vec<ConfigSynonym>,
    /// The value's type (DescribeConfigs v3+).
    pub config_type: ConfigType,
    /// Its documentation (when asked for, v3+).
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// Whether the value is Kafka's default (nothing overrides it).
    ///
    /// ```
    /// use kafka_client::admin::{ConfigEntry, ConfigSource, ConfigType};
    /// let e = ConfigEntry {
    ///     name: "x".into(), value: None, source: ConfigSource::Default, read_only: false, sensitive: false,
    ///     synonyms: vec![], config_type: ConfigType::Unknown, documentation: None,
    /// };
    /// assert!(e.is_default());
    /// ```
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::Default
    }
}

/// The configs of one resource.
///
/// ```
/// let c = kafka_client::admin::ResourceConfig { entries: vec![] };
/// assert!(c.get("retention.ms").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceConfig {
    /// Every config returned, in the broker's order.
    pub entries: Vec<ConfigEntry>,
}

impl ResourceConfig {
    /// The config named `name`.
    ///
    /// ```
    /// use kafka_client::admin::{ConfigEntry, ConfigSource, ConfigType, ResourceConfig};
    /// let e = ConfigEntry {
    ///     name: "retention.ms".into(), value: Some("1".into()), source: ConfigSource::DynamicTopic, read_only: false,
    ///     sensitive: false, synonyms: vec![], config_type: ConfigType::Long, documentation: None,
    /// };
    /// let c = ResourceConfig { entries: vec![e] };
    /// assert_eq!(c.get("retention.ms").and_then(|e| e.value.as_deref()), Some("1"));
    /// ```
    pub fn get(&self, name: &str) -> Option<&ConfigEntry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

/// Options of [`Admin::describe_configs`].
///
/// ```
/// let o = kafka_client::admin::DescribeConfigsOptions::new().include_synonyms(true);
/// assert!(o.include_synonyms);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DescribeConfigsOptions {
    /// Also return each config's synonyms.
    pub include_synonyms: bool,
    /// Also return each config's documentation (DescribeConfigs v3+).
    pub include_documentation: bool,
}

impl DescribeConfigsOptions {
    /// Neither synonyms nor documentation.
    ///
    /// ```
    /// assert!(!kafka_client::admin::DescribeConfigsOptions::new().include_documentation);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to return synonyms.
    ///
    /// ```
    /// assert!(kafka_client::admin::DescribeConfigsOptions::new().include_synonyms(true).include_synonyms);
    /// ```
    pub fn include_synonyms(mut self, include: bool) -> Self {
        self.include_synonyms = include;
        self
    }

    /// Whether to return documentation.
    ///
    /// ```
    /// assert!(kafka_client::admin::DescribeConfigsOptions::new().include_documentation(true).include_documentation);
    /// ```
    pub fn include_documentation(mut self, include: bool) -> Self {
        self.include_documentation = include;
        self
    }
}

/// Options of [`Admin::alter_configs`] and [`Admin::incremental_alter_configs`].
///
/// ```
/// let o = kafka_client::admin::AlterConfigsOptions::new().validate_only(true);
/// assert!(o.validate_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlterConfigsOptions {
    /// Only check the change; make none.
    pub validate_only: bool,
}

impl AlterConfigsOptions {
    /// The defaults: really change.
    ///
    /// ```
    /// assert!(!kafka_client::admin::AlterConfigsOptions::new().validate_only);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Only validate.
    ///
    /// ```
    /// assert!(kafka_client::admin::AlterConfigsOptions::new().validate_only(true).validate_only);
    /// ```
    pub fn validate_only(mut self, validate_only: bool) -> Self {
        self.validate_only = validate_only;
        self
    }
}

/// One change of [`Admin::incremental_alter_configs`].
///
/// ```
/// use kafka_client::admin::AlterConfigOp;
/// let ops = [AlterConfigOp::set("retention.ms", "3600000"), AlterConfigOp::delete("segment.ms")];
/// assert_eq!(ops[1].name(), "segment.ms");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Sets the value.
    Set {
        /// Config name.
        name: String,
        /// New value.
        value: String,
    },
    /// Removes the override, restoring the default.
    Delete {
        /// Config name.
        name: String,
    },
    /// Adds elements to a list config.
    Append {
        /// Config name.
        name: String,
        /// Elements to add, comma-separated.
        value: String,
    },
    /// Removes elements from a list config.
    Subtract {
        /// Config name.
        name: String,
        /// Elements to remove, comma-separated.
        value: String,
    },
}

impl AlterConfigOp {
    /// Sets `name` to `value`.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::AlterConfigOp::set("a", "1").name(), "a");
    /// ```
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Set { name: name.into(), value: value.into() }
    }

    /// Removes the override of `name`.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::AlterConfigOp::delete("a").name(), "a");
    /// ```
    pub fn delete(name: impl Into<String>) -> Self {
        AlterConfigOp::Delete { name: name.into() }
    }

    /// Appends to list config `name`.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::AlterConfigOp::append("cleanup.policy", "compact").name(), "cleanup.policy");
    /// ```
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Append { name: name.into(), value: value.into() }
    }

    /// Removes elements from list config `name`.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::AlterConfigOp::subtract("cleanup.policy", "compact").name(), "cleanup.policy");
    /// ```
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp::Subtract { name: name.into(), value: value.into() }
    }

    /// The config it changes.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::AlterConfigOp::delete("x").name(), "x");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            AlterConfigOp::Set { name, .. }
            | AlterConfigOp::Delete { name }
            | AlterConfigOp::Append { name, .. }
            | AlterConfigOp::Subtract { name, .. } => name,
        }
    }

    /// IncrementalAlterConfigs' operation code and operand.
    fn wire(&self) -> (i8, Option<String>) {
        match self {
            AlterConfigOp::Set { value, .. } => (0, Some(value.clone())),
            AlterConfigOp::Delete { .. } => (1, None),
            AlterConfigOp::Append { value, .. } => (2, Some(value.clone())),
            AlterConfigOp::Subtract { value, .. } => (3, Some(value.clone())),
        }
    }
}

/// The resources grouped by the broker their request must go to (None:
/// any broker).
fn by_destination(resources: Vec<ConfigResource>) -> BTreeMap<Option<i32>, Vec<ConfigResource>> {
    let mut out: BTreeMap<Option<i32>, Vec<ConfigResource>> = BTreeMap::new();
    for r in resources {
        out.entry(r.broker_id()).or_default().push(r);
    }
    out
}

/// The outcome of one resource's answer.
fn resource_outcome(
    api: ApiKey,
    broker: i32,
    resource: &ConfigResource,
    error_code: i16,
    message: Option<String>,
) -> Attempt<()> {
    if error_code == 0 {
        Attempt::Done(Ok(()))
    } else {
        Attempt::Done(Err(Error::broker(ErrorCode(error_code), api, broker, resource.to_string(), message)))
    }
}

fn entry(c: DescribeConfigsResourceResult) -> ConfigEntry {
    ConfigEntry {
        name: c.name,
        value: c.value,
        source: ConfigSource::from_code(c.config_source),
        read_only: c.read_only,
        sensitive: c.is_sensitive,
        synonyms: c
            .synonyms
            .into_iter()
            .map(|s| ConfigSynonym { name: s.name, value: s.value, source: ConfigSource::from_code(s.source) })
            .collect(),
        config_type: ConfigType::from_code(c.config_type),
        documentation: c.documentation,
    }
}

impl Admin {
    async fn destination(&self, broker: Option<i32>) -> Result<Connection> {
        match broker {
            Some(id) => self.broker(id).await,
            None => self.any_broker().await,
        }
    }

    /// Describes the configs of resources (DescribeConfigs), each with its
    /// own result. Every config is returned, with where its value comes
    /// from, so overrides show as e.g. [`ConfigSource::DynamicTopic`] and
    /// defaults as [`ConfigSource::Default`].
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{ConfigResource, DescribeConfigsOptions};
    ///
    /// let topic = ConfigResource::topic("orders");
    /// let configs = admin.describe_configs([topic.clone()], DescribeConfigsOptions::new()).await?;
    /// for e in configs[&topic].as_ref().map_err(Clone::clone)?.entries.iter().filter(|e| !e.is_default()) {
    ///     println!("{} = {:?} ({:?})", e.name, e.value, e.source);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
        options: DescribeConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<ResourceConfig>>> {
        let options = &options;
        self.run(ApiKey::DescribeConfigs, resources, move |keys| async move {
            fan_out(by_destination(keys), |broker, keys| self.describe_configs_at(broker, keys, options)).await
        })
        .await
    }

    async fn describe_configs_at(
        &self,
        broker: Option<i32>,
        keys: Vec<ConfigResource>,
        options: &DescribeConfigsOptions,
    ) -> Round<ConfigResource, ResourceConfig> {
        let conn = match self.destination(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&keys, &e),
        };
        let version = match conn.version_for(ApiKey::DescribeConfigs) {
            Ok(v) => v,
            Err(e) => return all_failed(&keys, &e),
        };
        let req = DescribeConfigsRequest {
            resources: keys
                .iter()
                .map(|r| DescribeConfigsResource {
                    resource_type: r.resource_type.code(),
                    resource_name: r.name.clone(),
                    configuration_keys: None,
                    ..Default::default()
                })
                .collect(),
            include_synonyms: options.include_synonyms && version >= 1,
            include_documentation: options.include_documentation && version >= 3,
            ..Default::default()
        };
        let resp = match conn.request_at(&req, version).await {
            Ok(r) => r,
            Err(e) => return all_failed(&keys, &e),
        };
        let mut results = resp.results;
        keys.into_iter()
            .map(|key| {
                let attempt = match results.iter().position(|r| key.matches(r.resource_type, &r.resource_name)) {
                    None => Attempt::Done(Err(no_answer(ApiKey::DescribeConfigs, conn.broker(), &key))),
                    Some(i) => {
                        let r = results.swap_remove(i);
                        if r.error_code != 0 {
                            Attempt::Done(Err(Error::broker(
                                ErrorCode(r.error_code),
                                ApiKey::DescribeConfigs,
                                conn.broker(),
                                key.to_string(),
                                r.error_message,
                            )))
                        } else {
                            Attempt::Done(Ok(ResourceConfig { entries: r.configs.into_iter().map(entry).collect() }))
                        }
                    }
                };
                (key, attempt)
            })
            .collect()
    }

    /// Replaces the whole dynamic config set of resources (the legacy
    /// AlterConfigs, deprecated in Kafka in favour of
    /// [`Self::incremental_alter_configs`]): configs left out lose their
    /// override. Each resource gets its own result.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{AlterConfigsOptions, ConfigResource};
    ///
    /// let topic = ConfigResource::topic("orders");
    /// let r = admin
    ///     .alter_configs([(topic.clone(), vec![("retention.ms", "86400000")])], AlterConfigsOptions::new())
    ///     .await?;
    /// r[&topic].clone()?;
    /// # Ok(()) }
    /// ```
    pub async fn alter_configs<N: Into<String>, V: Into<String>>(
        &self,
        configs: impl IntoIterator<Item = (ConfigResource, Vec<(N, V)>)>,
        options: AlterConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let configs: BTreeMap<ConfigResource, Vec<(String, String)>> = configs
            .into_iter()
            .map(|(r, kv)| (r, kv.into_iter().map(|(k, v)| (k.into(), v.into())).collect()))
            .collect();
        let (configs, options) = (&configs, &options);
        self.run(ApiKey::AlterConfigs, configs.keys().cloned(), move |keys| async move {
            fan_out(by_destination(keys), |broker, keys| self.alter_configs_at(broker, keys, configs, options)).await
        })
        .await
    }

    async fn alter_configs_at(
        &self,
        broker: Option<i32>,
        keys: Vec<ConfigResource>,
        configs: &BTreeMap<ConfigResource, Vec<(String, String)>>,
        options: &AlterConfigsOptions,
    ) -> Round<ConfigResource, ()> {
        let conn = match self.destination(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&keys, &e),
        };
        let req = AlterConfigsRequest {
            resources: keys
                .iter()
                .map(|r| alter_configs::AlterConfigsResource {
                    resource_type: r.resource_type.code(),
                    resource_name: r.name.clone(),
                    configs: configs
                        .get(r)
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| alter_configs::AlterableConfig {
                            name: k.clone(),
                            value: Some(v.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            validate_only: options.validate_only,
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&keys, &e),
        };
        let answers: Vec<Answer> = resp
            .responses
            .into_iter()
            .map(|r| Answer {
                resource_type: r.resource_type,
                name: r.resource_name,
                error_code: r.error_code,
                message: r.error_message,
            })
            .collect();
        match_answers(ApiKey::AlterConfigs, conn.broker(), keys, answers)
    }

    /// Changes configs key by key (IncrementalAlterConfigs): set, delete
    /// (back to the default), append to or subtract from a list. Configs
    /// not named keep their values. Each resource gets its own result.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{AlterConfigOp, AlterConfigsOptions, ConfigResource};
    ///
    /// let topic = ConfigResource::topic("orders");
    /// let ops = vec![AlterConfigOp::set("retention.ms", "3600000"), AlterConfigOp::delete("segment.ms")];
    /// let r = admin.incremental_alter_configs([(topic.clone(), ops)], AlterConfigsOptions::new()).await?;
    /// r[&topic].clone()?;
    /// # Ok(()) }
    /// ```
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        options: AlterConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let changes: BTreeMap<ConfigResource, Vec<AlterConfigOp>> = changes.into_iter().collect();
        let (changes, options) = (&changes, &options);
        self.run(ApiKey::IncrementalAlterConfigs, changes.keys().cloned(), move |keys| async move {
            fan_out(by_destination(keys), |broker, keys| self.incremental_alter_at(broker, keys, changes, options))
                .await
        })
        .await
    }

    async fn incremental_alter_at(
        &self,
        broker: Option<i32>,
        keys: Vec<ConfigResource>,
        changes: &BTreeMap<ConfigResource, Vec<AlterConfigOp>>,
        options: &AlterConfigsOptions,
    ) -> Round<ConfigResource, ()> {
        let conn = match self.destination(broker).await {
            Ok(c) => c,
            Err(e) => return all_failed(&keys, &e),
        };
        let req = IncrementalAlterConfigsRequest {
            resources: keys
                .iter()
                .map(|r| incremental_alter_configs::AlterConfigsResource {
                    resource_type: r.resource_type.code(),
                    resource_name: r.name.clone(),
                    configs: changes
                        .get(r)
                        .into_iter()
                        .flatten()
                        .map(|op| {
                            let (config_operation, value) = op.wire();
                            incremental_alter_configs::AlterableConfig {
                                name: op.name().to_string(),
                                config_operation,
                                value,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            validate_only: options.validate_only,
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => return all_failed(&keys, &e),
        };
        let answers: Vec<Answer> = resp
            .responses
            .into_iter()
            .map(|r| Answer {
                resource_type: r.resource_type,
                name: r.resource_name,
                error_code: r.error_code,
                message: r.error_message,
            })
            .collect();
        match_answers(ApiKey::IncrementalAlterConfigs, conn.broker(), keys, answers)
    }
}

/// One resource's answer to AlterConfigs or IncrementalAlterConfigs.
struct Answer {
    resource_type: i8,
    name: String,
    error_code: i16,
    message: Option<String>,
}

/// Matches the answers to the resources asked about.
fn match_answers(
    api: ApiKey,
    broker: i32,
    keys: Vec<ConfigResource>,
    answers: Vec<Answer>,
) -> Round<ConfigResource, ()> {
    keys.into_iter()
        .map(|key| {
            let attempt = match answers.iter().find(|a| key.matches(a.resource_type, &a.name)) {
                None => Attempt::Done(Err(no_answer(api, broker, &key))),
                Some(a) => resource_outcome(api, broker, &key, a.error_code, a.message.clone()),
            };
            (key, attempt)
        })
        .collect()
}
