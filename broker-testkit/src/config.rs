//! Topic and broker configuration: the settings the testkit honours, with
//! Kafka's names, defaults (Kafka 4.0.0, KIP-1030 included), validation and
//! DescribeConfigs rendering.
//!
//! Every topic config listed in [`TOPIC_CONFIGS`] takes effect. Any other
//! name — including real Kafka configs whose behaviour the testkit does not
//! implement, such as `cleanup.policy=compact` — is rejected with
//! INVALID_CONFIG rather than accepted and silently ignored.

use std::collections::BTreeMap;

/// Kafka's config value types, as DescribeConfigs v3+ reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `BOOLEAN` (1).
    Boolean,
    /// `STRING` (2).
    String,
    /// `INT` (3).
    Int,
    /// `LONG` (5).
    Long,
    /// `LIST` (7).
    List,
}

impl ConfigType {
    /// The DescribeConfigs `config_type` code.
    pub fn code(self) -> i8 {
        match self {
            ConfigType::Boolean => 1,
            ConfigType::String => 2,
            ConfigType::Int => 3,
            ConfigType::Long => 5,
            ConfigType::List => 7,
        }
    }
}

/// One topic config the testkit honours.
#[derive(Debug, Clone, Copy)]
pub struct TopicConfigDef {
    /// Kafka's topic config name.
    pub name: &'static str,
    /// The broker config that supplies its default.
    pub broker_synonym: &'static str,
    /// Kafka's default.
    pub default: &'static str,
    /// The value type.
    pub kind: ConfigType,
    /// Checks a value; the error says why it is refused.
    pub validate: fn(&str) -> Result<(), String>,
    /// What it does in the testkit.
    pub doc: &'static str,
}

fn long_at_least(min: i64) -> impl Fn(&str) -> Result<(), String> {
    move |v| match v.trim().parse::<i64>() {
        Ok(n) if n >= min => Ok(()),
        Ok(n) => Err(format!("{n} is below the minimum {min}")),
        Err(_) => Err(format!("{v:?} is not a number")),
    }
}

fn v_retention_ms(v: &str) -> Result<(), String> {
    long_at_least(-1)(v)
}
fn v_retention_bytes(v: &str) -> Result<(), String> {
    long_at_least(-1)(v)
}
fn v_segment_bytes(v: &str) -> Result<(), String> {
    // KIP-1030 raised the minimum to 1 MiB in Kafka 4.0.
    match v.trim().parse::<i64>() {
        Ok(n) if (1_048_576..=i64::from(i32::MAX)).contains(&n) => Ok(()),
        Ok(n) => Err(format!("{n} is outside [1048576, {}]", i32::MAX)),
        Err(_) => Err(format!("{v:?} is not a number")),
    }
}
fn v_positive_long(v: &str) -> Result<(), String> {
    long_at_least(1)(v)
}
fn v_non_negative_long(v: &str) -> Result<(), String> {
    long_at_least(0)(v)
}
fn v_max_message_bytes(v: &str) -> Result<(), String> {
    match v.trim().parse::<i64>() {
        Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(()),
        _ => Err(format!("{v:?} is not an int of at least 0")),
    }
}
fn v_min_isr(v: &str) -> Result<(), String> {
    match v.trim().parse::<i64>() {
        Ok(n) if (1..=i64::from(i32::MAX)).contains(&n) => Ok(()),
        _ => Err(format!("{v:?} is not an int of at least 1")),
    }
}
fn v_timestamp_type(v: &str) -> Result<(), String> {
    match v {
        "CreateTime" | "LogAppendTime" => Ok(()),
        _ => Err(format!("{v:?} is not CreateTime or LogAppendTime")),
    }
}
fn v_bool(v: &str) -> Result<(), String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "false" => Ok(()),
        _ => Err(format!("{v:?} is not true or false")),
    }
}
fn v_cleanup_policy(v: &str) -> Result<(), String> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    if parts == ["delete"] {
        return Ok(());
    }
    if parts.iter().all(|p| *p == "delete" || *p == "compact") {
        return Err(
            "log compaction is not implemented by broker-testkit; only cleanup.policy=delete is accepted".into()
        );
    }
    Err(format!("{v:?} is not a list of delete and compact"))
}
fn v_compression(v: &str) -> Result<(), String> {
    match v {
        "producer" => Ok(()),
        "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => Err(format!(
            "compression.type={v} would make the broker recompress batches, which broker-testkit does not implement; only producer is accepted"
        )),
        _ => Err(format!("{v:?} is not a valid compression type")),
    }
}

/// The topic configs the testkit honours. Each takes effect as in Kafka.
pub const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        name: "cleanup.policy",
        broker_synonym: "log.cleanup.policy",
        default: "delete",
        kind: ConfigType::List,
        validate: v_cleanup_policy,
        doc: "Old segments are deleted by retention; compaction is not implemented, so only delete is accepted.",
    },
    TopicConfigDef {
        name: "compression.type",
        broker_synonym: "compression.type",
        default: "producer",
        kind: ConfigType::String,
        validate: v_compression,
        doc: "Batches are stored with the producer's compression; recompression is not implemented, so only producer is accepted.",
    },
    TopicConfigDef {
        name: "index.interval.bytes",
        broker_synonym: "log.index.interval.bytes",
        default: "4096",
        kind: ConfigType::Int,
        validate: v_non_negative_long,
        doc: "Bytes appended between two offset-index entries.",
    },
    TopicConfigDef {
        name: "max.message.bytes",
        broker_synonym: "message.max.bytes",
        default: "1048588",
        kind: ConfigType::Int,
        validate: v_max_message_bytes,
        doc: "Largest record batch accepted; larger ones get MESSAGE_TOO_LARGE.",
    },
    TopicConfigDef {
        name: "message.timestamp.after.max.ms",
        broker_synonym: "log.message.timestamp.after.max.ms",
        default: "3600000",
        kind: ConfigType::Long,
        validate: v_non_negative_long,
        doc: "How far in the future a CreateTime timestamp may be (INVALID_TIMESTAMP beyond).",
    },
    TopicConfigDef {
        name: "message.timestamp.before.max.ms",
        broker_synonym: "log.message.timestamp.before.max.ms",
        default: "9223372036854775807",
        kind: ConfigType::Long,
        validate: v_non_negative_long,
        doc: "How far in the past a CreateTime timestamp may be (INVALID_TIMESTAMP beyond).",
    },
    TopicConfigDef {
        name: "message.timestamp.type",
        broker_synonym: "log.message.timestamp.type",
        default: "CreateTime",
        kind: ConfigType::String,
        validate: v_timestamp_type,
        doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps the append time.",
    },
    TopicConfigDef {
        name: "min.insync.replicas",
        broker_synonym: "min.insync.replicas",
        default: "1",
        kind: ConfigType::Int,
        validate: v_min_isr,
        doc: "Fewest in-sync replicas for an acks=all write.",
    },
    TopicConfigDef {
        name: "retention.bytes",
        broker_synonym: "log.retention.bytes",
        default: "-1",
        kind: ConfigType::Long,
        validate: v_retention_bytes,
        doc: "Size above which the oldest segments are deleted (-1: no limit).",
    },
    TopicConfigDef {
        name: "retention.ms",
        broker_synonym: "log.retention.ms",
        default: "604800000",
        kind: ConfigType::Long,
        validate: v_retention_ms,
        doc: "Age after which segments are deleted (-1: forever).",
    },
    TopicConfigDef {
        name: "segment.bytes",
        broker_synonym: "log.segment.bytes",
        default: "1073741824",
        kind: ConfigType::Int,
        validate: v_segment_bytes,
        doc: "Size at which a new segment is rolled (at least 1 MiB, as in Kafka 4.0).",
    },
    TopicConfigDef {
        name: "segment.ms",
        broker_synonym: "log.roll.ms",
        default: "604800000",
        kind: ConfigType::Long,
        validate: v_positive_long,
        doc: "Age at which a new segment is rolled.",
    },
    TopicConfigDef {
        name: "unclean.leader.election.enable",
        broker_synonym: "unclean.leader.election.enable",
        default: "false",
        kind: ConfigType::Boolean,
        validate: v_bool,
        doc: "Whether a replica outside the ISR may become leader when no in-sync replica is online.",
    },
];

/// The definition of topic config `name`, if the testkit honours it.
pub fn topic_config(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Validates one topic config entry; the error is the INVALID_CONFIG message.
pub fn validate_topic_config(name: &str, value: Option<&str>) -> Result<(), String> {
    let Some(def) = topic_config(name) else {
        return Err(format!("unknown or unsupported topic config {name}"));
    };
    match value {
        None => Err(format!("config {name} needs a value")),
        Some(v) => (def.validate)(v).map_err(|e| format!("invalid value for {name}: {e}")),
    }
}

/// A topic's explicit overrides; unset configs take the cluster default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicOverrides(pub BTreeMap<String, String>);

/// Broker-level defaults of the topic configs (the `log.*` synonyms), which
/// apply to every topic without an override. Keyed by topic config name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDefaults(pub BTreeMap<String, String>);

impl Default for TopicDefaults {
    fn default() -> Self {
        TopicDefaults(TOPIC_CONFIGS.iter().map(|d| (d.name.to_string(), d.default.to_string())).collect())
    }
}

/// Where a topic's effective config value came from (DescribeConfigs
/// `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Set on the topic (`DYNAMIC_TOPIC_CONFIG`, 1).
    Topic,
    /// Changed cluster-wide (`DYNAMIC_DEFAULT_BROKER_CONFIG`, 3).
    ClusterDefault,
    /// Set when the cluster was built (`STATIC_BROKER_CONFIG`, 4).
    Static,
    /// Kafka's default (`DEFAULT_CONFIG`, 5).
    Default,
}

impl ConfigSource {
    /// The DescribeConfigs code.
    pub fn code(self) -> i8 {
        match self {
            ConfigSource::Topic => 1,
            ConfigSource::ClusterDefault => 3,
            ConfigSource::Static => 4,
            ConfigSource::Default => 5,
        }
    }
}

/// A topic's effective configuration, read in the forms the log and the
/// partition need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveTopicConfig {
    /// retention.ms
    pub retention_ms: i64,
    /// retention.bytes
    pub retention_bytes: i64,
    /// segment.bytes
    pub segment_bytes: u64,
    /// segment.ms
    pub segment_ms: i64,
    /// index.interval.bytes
    pub index_interval_bytes: u64,
    /// max.message.bytes
    pub max_message_bytes: usize,
    /// message.timestamp.type is LogAppendTime
    pub log_append_time: bool,
    /// message.timestamp.before.max.ms
    pub timestamp_before_max_ms: i64,
    /// message.timestamp.after.max.ms
    pub timestamp_after_max_ms: i64,
    /// min.insync.replicas
    pub min_insync_replicas: usize,
    /// unclean.leader.election.enable
    pub unclean_leader_election: bool,
}

impl EffectiveTopicConfig {
    /// Resolves overrides over cluster defaults. Values were validated when
    /// set; anything unreadable falls back to Kafka's default.
    pub fn resolve(overrides: &TopicOverrides, defaults: &TopicDefaults) -> Self {
        let get = |name: &str| -> String {
            overrides
                .0
                .get(name)
                .or_else(|| defaults.0.get(name))
                .cloned()
                .or_else(|| topic_config(name).map(|d| d.default.to_string()))
                .unwrap_or_default()
        };
        let long = |name: &str, fallback: i64| get(name).trim().parse::<i64>().unwrap_or(fallback);
        EffectiveTopicConfig {
            retention_ms: long("retention.ms", 604_800_000),
            retention_bytes: long("retention.bytes", -1),
            segment_bytes: long("segment.bytes", 1 << 30).max(1) as u64,
            segment_ms: long("segment.ms", 604_800_000),
            index_interval_bytes: long("index.interval.bytes", 4096).max(0) as u64,
            max_message_bytes: long("max.message.bytes", 1_048_588).max(0) as usize,
            log_append_time: get("message.timestamp.type") == "LogAppendTime",
            timestamp_before_max_ms: long("message.timestamp.before.max.ms", i64::MAX),
            timestamp_after_max_ms: long("message.timestamp.after.max.ms", 3_600_000),
            min_insync_replicas: long("min.insync.replicas", 1).max(1) as usize,
            unclean_leader_election: get("unclean.leader.election.enable").eq_ignore_ascii_case("true"),
        }
    }
}

/// One row of a DescribeConfigs answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Config name.
    pub name: String,
    /// Effective value.
    pub value: Option<String>,
    /// Where it comes from.
    pub source: ConfigSource,
    /// Whether it cannot be altered.
    pub read_only: bool,
    /// Value type.
    pub kind: ConfigType,
    /// The broker-level synonym and its value, for `include_synonyms`.
    pub synonym: Option<(String, String)>,
    /// Documentation.
    pub doc: &'static str,
}

/// The DescribeConfigs rows of a topic.
pub fn describe_topic(overrides: &TopicOverrides, defaults: &TopicDefaults) -> Vec<ConfigEntry> {
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let cluster = defaults.0.get(d.name).cloned().unwrap_or_else(|| d.default.to_string());
            let (value, source) = match overrides.0.get(d.name) {
                Some(v) => (v.clone(), ConfigSource::Topic),
                None if cluster != d.default => (cluster.clone(), ConfigSource::ClusterDefault),
                None => (cluster.clone(), ConfigSource::Default),
            };
            ConfigEntry {
                name: d.name.to_string(),
                value: Some(value),
                source,
                read_only: false,
                kind: d.kind,
                synonym: Some((d.broker_synonym.to_string(), cluster)),
                doc: d.doc,
            }
        })
        .collect()
}

/// The broker settings the testkit exposes, with their values. The `log.*`
/// topic defaults can be altered cluster-wide; the rest are read-only.
pub fn describe_broker(broker_id: i32, settings: &BrokerSettings, defaults: &TopicDefaults) -> Vec<ConfigEntry> {
    let mut out = Vec::new();
    let mut fixed = |name: &str, value: String, kind: ConfigType, doc: &'static str| {
        out.push(ConfigEntry {
            name: name.to_string(),
            value: Some(value),
            source: ConfigSource::Static,
            read_only: true,
            kind,
            synonym: None,
            doc,
        });
    };
    fixed("broker.id", broker_id.to_string(), ConfigType::Int, "This broker's id.");
    fixed("node.id", broker_id.to_string(), ConfigType::Int, "This broker's id (KRaft name).");
    fixed(
        "auto.create.topics.enable",
        settings.auto_create_topics.to_string(),
        ConfigType::Boolean,
        "Whether Metadata may create missing topics.",
    );
    fixed("num.partitions", settings.num_partitions.to_string(), ConfigType::Int, "Partitions of auto-created topics.");
    fixed(
        "default.replication.factor",
        settings.default_replication_factor.to_string(),
        ConfigType::Int,
        "Replication factor of auto-created topics.",
    );
    fixed(
        "replica.lag.time.max.ms",
        settings.replica_lag_time_max_ms.to_string(),
        ConfigType::Long,
        "How long a follower may lag before it leaves the ISR.",
    );
    fixed(
        "offsets.topic.num.partitions",
        settings.offsets_topic_partitions.to_string(),
        ConfigType::Int,
        "Partitions of __consumer_offsets, which place group coordinators.",
    );
    fixed(
        "transaction.state.log.num.partitions",
        settings.transaction_state_partitions.to_string(),
        ConfigType::Int,
        "Partitions of __transaction_state, which place transaction coordinators.",
    );
    fixed(
        "transaction.max.timeout.ms",
        settings.transaction_max_timeout_ms.to_string(),
        ConfigType::Int,
        "Longest transaction timeout a producer may ask for.",
    );
    fixed(
        "group.initial.rebalance.delay.ms",
        settings.group_initial_rebalance_delay_ms.to_string(),
        ConfigType::Int,
        "Delay before the first rebalance of an empty group.",
    );
    fixed(
        "group.min.session.timeout.ms",
        settings.group_min_session_timeout_ms.to_string(),
        ConfigType::Int,
        "Smallest session timeout a member may ask for.",
    );
    fixed(
        "group.max.session.timeout.ms",
        settings.group_max_session_timeout_ms.to_string(),
        ConfigType::Int,
        "Largest session timeout a member may ask for.",
    );
    fixed(
        "socket.request.max.bytes",
        settings.max_request_bytes.to_string(),
        ConfigType::Int,
        "Largest request frame accepted.",
    );
    // Kafka lists the hours form of the retention default beside
    // log.retention.ms; read-only, and 168 whatever the milliseconds say.
    out.push(ConfigEntry {
        name: "log.retention.hours".into(),
        value: Some("168".into()),
        source: ConfigSource::Default,
        read_only: true,
        kind: ConfigType::Int,
        synonym: None,
        doc: "Hours to keep a log segment; log.retention.ms takes precedence.",
    });
    for d in TOPIC_CONFIGS {
        let value = defaults.0.get(d.name).cloned().unwrap_or_else(|| d.default.to_string());
        let source = if value == d.default { ConfigSource::Default } else { ConfigSource::ClusterDefault };
        out.push(ConfigEntry {
            name: d.broker_synonym.to_string(),
            value: Some(value),
            source,
            read_only: false,
            kind: d.kind,
            synonym: None,
            doc: d.doc,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// The topic config whose broker-level synonym is `broker_name`.
pub fn topic_config_for_broker_synonym(broker_name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.broker_synonym == broker_name)
}

/// Cluster-wide broker settings, fixed when the cluster is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSettings {
    /// `auto.create.topics.enable` (default true).
    pub auto_create_topics: bool,
    /// `num.partitions` (default 1).
    pub num_partitions: i32,
    /// `default.replication.factor` (default 1).
    pub default_replication_factor: i16,
    /// `replica.lag.time.max.ms` (default 30000).
    pub replica_lag_time_max_ms: i64,
    /// `offsets.topic.num.partitions` (Kafka: 50; testkit default 50).
    pub offsets_topic_partitions: i32,
    /// `offsets.topic.replication.factor` (Kafka: 3; capped at the number of brokers).
    pub offsets_topic_replication_factor: i16,
    /// `group.initial.rebalance.delay.ms` (testkit default 0; Kafka 3000).
    pub group_initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms` (testkit default 100; Kafka 6000).
    pub group_min_session_timeout_ms: i64,
    /// `group.max.session.timeout.ms` (default 1800000).
    pub group_max_session_timeout_ms: i64,
    /// `socket.request.max.bytes` (default 104857600).
    pub max_request_bytes: usize,
    /// `transaction.state.log.num.partitions` (Kafka: 50; testkit default 50).
    pub transaction_state_partitions: i32,
    /// `transaction.state.log.replication.factor` (Kafka: 3; capped at the
    /// number of brokers).
    pub transaction_state_replication_factor: i16,
    /// `transaction.max.timeout.ms` (default 900000): the longest
    /// transaction timeout a producer may ask for.
    pub transaction_max_timeout_ms: i32,
    /// The finalized level of the `transaction.version` feature (0–2;
    /// default 2, as a new Kafka 4.x cluster). At 2, Produce v12+ adds
    /// partitions to a transaction implicitly, TxnOffsetCommit v5+ adds the
    /// group, and EndTxn v5 bumps the producer epoch (KIP-890).
    pub transaction_version: i16,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            auto_create_topics: true,
            num_partitions: 1,
            default_replication_factor: 1,
            replica_lag_time_max_ms: 30_000,
            offsets_topic_partitions: 50,
            offsets_topic_replication_factor: 3,
            group_initial_rebalance_delay_ms: 0,
            group_min_session_timeout_ms: 100,
            group_max_session_timeout_ms: 1_800_000,
            max_request_bytes: 104_857_600,
            transaction_state_partitions: 50,
            transaction_state_replication_factor: 3,
            transaction_max_timeout_ms: 900_000,
            transaction_version: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_unimplemented_configs_are_rejected() {
        assert!(validate_topic_config("retention.ms", Some("1000")).is_ok());
        assert!(validate_topic_config("retention.ms", Some("-2")).is_err());
        assert!(validate_topic_config("flush.messages", Some("1")).unwrap_err().contains("unsupported"));
        assert!(validate_topic_config("cleanup.policy", Some("compact")).unwrap_err().contains("not implemented"));
        assert!(validate_topic_config("compression.type", Some("lz4")).is_err());
        assert!(validate_topic_config("segment.bytes", Some("1000")).is_err());
        assert!(validate_topic_config("message.timestamp.type", Some("LogAppendTime")).is_ok());
    }

    #[test]
    fn overrides_win_over_cluster_defaults() {
        let mut defaults = TopicDefaults::default();
        defaults.0.insert("retention.ms".into(), "5000".into());
        let mut o = TopicOverrides::default();
        o.0.insert("min.insync.replicas".into(), "2".into());
        let e = EffectiveTopicConfig::resolve(&o, &defaults);
        assert_eq!(e.retention_ms, 5000);
        assert_eq!(e.min_insync_replicas, 2);
        assert_eq!(e.timestamp_after_max_ms, 3_600_000);
        let rows = describe_topic(&o, &defaults);
        let r = rows.iter().find(|r| r.name == "retention.ms").unwrap();
        assert_eq!((r.value.as_deref(), r.source), (Some("5000"), ConfigSource::ClusterDefault));
        let m = rows.iter().find(|r| r.name == "min.insync.replicas").unwrap();
        assert_eq!(m.source, ConfigSource::Topic);
    }
}
