//! Topics: names, ids, partitions with their replica assignment, and config
//! overrides; plus Kafka's topic-name rules and replica placement.

use kafka_protocol::Uuid;

use super::partition::Partition;
use crate::config::{EffectiveTopicConfig, TopicDefaults, TopicOverrides};
use crate::log::LogConfig;

/// The internal topic that places group coordinators.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";

/// The internal topic that places transaction coordinators.
pub const TRANSACTION_STATE: &str = "__transaction_state";

/// Whether `name` is one of Kafka's internal topics.
pub fn is_internal(name: &str) -> bool {
    name == CONSUMER_OFFSETS || name == TRANSACTION_STATE
}

/// A topic.
#[derive(Debug)]
pub struct Topic {
    /// Its name.
    pub name: String,
    /// Its id; a recreated topic gets a new one.
    pub id: Uuid,
    /// Whether it is internal (`__consumer_offsets`, `__transaction_state`).
    pub internal: bool,
    /// Its partitions, by index.
    pub partitions: Vec<Partition>,
    /// Config overrides.
    pub overrides: TopicOverrides,
}

impl Topic {
    /// The effective config under `defaults`.
    pub fn config(&self, defaults: &TopicDefaults) -> EffectiveTopicConfig {
        EffectiveTopicConfig::resolve(&self.overrides, defaults)
    }

    /// The partition `index`, if it exists.
    pub fn partition(&self, index: i32) -> Option<&Partition> {
        usize::try_from(index).ok().and_then(|i| self.partitions.get(i))
    }

    /// The partition `index`, mutably.
    pub fn partition_mut(&mut self, index: i32) -> Option<&mut Partition> {
        usize::try_from(index).ok().and_then(|i| self.partitions.get_mut(i))
    }

    /// The replication factor (of partition 0).
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }
}

/// The log settings a topic's config implies.
pub fn log_config(cfg: &EffectiveTopicConfig) -> LogConfig {
    LogConfig {
        segment_bytes: cfg.segment_bytes,
        segment_ms: cfg.segment_ms,
        index_interval_bytes: cfg.index_interval_bytes,
        retention_ms: cfg.retention_ms,
        retention_bytes: cfg.retention_bytes,
        ..LogConfig::default()
    }
}

/// Kafka's topic-name rules: 1–249 characters from `[a-zA-Z0-9._-]`, and not
/// `.` or `..`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err("topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return Err(format!("topic name is {} characters long, more than 249", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!(
            "topic name {name:?} contains {c:?}; only ASCII letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

/// Kafka refuses a topic whose name equals an existing one once '.' and '_'
/// are treated alike (they collide in metric names).
pub fn collides(a: &str, b: &str) -> bool {
    a != b && a.replace('.', "_") == b.replace('.', "_")
}

/// Places `partitions` partitions with `rf` replicas over `brokers` (sorted
/// ids), round-robin from `start` with each partition's replicas on
/// consecutive brokers, as Kafka's assignment without racks does.
pub fn assign_replicas(
    brokers: &[i32],
    partitions: i32,
    rf: usize,
    start: usize,
    first_partition: i32,
) -> Vec<Vec<i32>> {
    let n = brokers.len().max(1);
    (0..partitions)
        .map(|p| {
            let first = (start + (first_partition + p) as usize) % n;
            (0..rf.min(brokers.len())).map(|r| brokers[(first + r) % n]).collect()
        })
        .collect()
}

/// Java's `String.hashCode` (over UTF-16 code units), which Kafka uses to
/// place a group on a `__consumer_offsets` partition.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Kafka's `Utils.abs`: `Math.abs`, except that `i32::MIN` maps to 0. (Not
/// `Utils.toPositive`, `n & 0x7fffffff`, which the partitioner uses: the
/// two differ on every negative hash.)
pub fn kafka_abs(n: i32) -> i32 {
    if n == i32::MIN { 0 } else { n.abs() }
}

/// The `__consumer_offsets` partition of `group`: Kafka's
/// `Utils.abs(groupId.hashCode()) % partitions`.
pub fn offsets_partition_for(group: &str, partitions: i32) -> i32 {
    kafka_abs(java_string_hash(group)) % partitions.max(1)
}

/// The `__transaction_state` partition of a transactional id: Kafka's
/// `TransactionStateManager.partitionFor`,
/// `Utils.abs(transactionalId.hashCode()) % partitions`.
pub fn txn_partition_for(transactional_id: &str, partitions: i32) -> i32 {
    kafka_abs(java_string_hash(transactional_id)) % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("orders.v1_x-y").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name(&"x".repeat(250)).is_err());
        assert!(collides("a.b", "a_b"));
        assert!(!collides("a.b", "a.b"));
    }

    #[test]
    fn java_hash_known_answers() {
        // "hello".hashCode() in Java.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
        // Kafka places "my-group" here with 50 partitions.
        let p = offsets_partition_for("my-group", 50);
        assert!((0..50).contains(&p));
        // Utils.abs is Math.abs with i32::MIN mapped to 0
        // ("polygenelubricants" hashes to i32::MIN).
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(txn_partition_for("polygenelubricants", 50), 0);
        assert_eq!(txn_partition_for("txn-1", 50), 10);
        // A negative hash: "my-txn".hashCode() is -1061187895, so 45 (where
        // n & 0x7fffffff would give 3).
        assert_eq!(java_string_hash("my-txn"), -1_061_187_895);
        assert_eq!(txn_partition_for("my-txn", 50), 45);
        assert_eq!(offsets_partition_for("my-txn", 50), 45);
    }

    #[test]
    fn placement_spreads_leaders_and_replicas() {
        let a = assign_replicas(&[1, 2, 3], 6, 2, 0, 0);
        assert_eq!(a, vec![vec![1, 2], vec![2, 3], vec![3, 1], vec![1, 2], vec![2, 3], vec![3, 1]]);
        let extra = assign_replicas(&[1, 2, 3], 2, 3, 0, 6);
        assert_eq!(extra, vec![vec![1, 2, 3], vec![2, 3, 1]]);
    }
}
