//! What `kafka-topics` (Kafka's `TopicCommand`) prints, and how it reads
//! the arguments that are more than a value: `--topic` as a regular
//! expression, `--config k=v`, `--replica-assignment 1:2,2:3`. The binary
//! talks to the cluster; this module is the part that can be checked
//! without one.

use std::collections::BTreeMap;

use kafka_client::admin::{PartitionDescription, ResourceConfig, TopicDescription};

use crate::cli::Failure;
use crate::jvm;

/// The topics Kafka's `Topic.isInternal` names: `--exclude-internal` hides
/// them, whatever the broker's internal flag says.
pub const INTERNAL_TOPICS: [&str; 3] = ["__consumer_offsets", "__transaction_state", "__share_group_state"];

/// Whether Kafka counts `topic` as internal.
pub fn is_internal(topic: &str) -> bool {
    INTERNAL_TOPICS.contains(&topic)
}

/// Kafka's `TopicFilter.IncludeList`: `--topic` (except with `--create`)
/// is a regular expression the whole topic name must match; commas
/// separate alternatives, and spaces and surrounding quotes are dropped.
#[derive(Debug, Clone)]
pub struct IncludeList {
    pattern: regex::Regex,
}

impl IncludeList {
    /// Compiles a `--topic` argument.
    pub fn new(raw: &str) -> Result<IncludeList, Failure> {
        let cleaned = raw.trim().replace(',', "|").replace(' ', "");
        let cleaned = cleaned.trim_start_matches(['"', '\'']).trim_end_matches(['"', '\'']);
        regex::Regex::new(&format!("^(?:{cleaned})$"))
            .map(|pattern| IncludeList { pattern })
            .map_err(|_| Failure::new(format!("{cleaned} is an invalid regex.")))
    }

    /// `isTopicAllowed`: the name matches, and it is not an internal topic
    /// being excluded.
    pub fn allows(&self, topic: &str, exclude_internal: bool) -> bool {
        self.pattern.is_match(topic) && !(exclude_internal && is_internal(topic))
    }
}

/// `TopicService.getTopics`: the cluster's topics, sorted, that the
/// `--topic` filter (every topic without one) and `--exclude-internal`
/// let through.
pub fn select_topics<'a>(
    all: impl IntoIterator<Item = &'a str>,
    include: Option<&IncludeList>,
    exclude_internal: bool,
) -> Vec<String> {
    let mut names: Vec<String> = all
        .into_iter()
        .filter(|t| match include {
            Some(f) => f.allows(t, exclude_internal),
            None => !(exclude_internal && is_internal(t)),
        })
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// `--config` values as Kafka reads them: each splits at `=` (spaces
/// around it ignored) into exactly a key and a non-empty value.
pub fn parse_configs(values: &[&str]) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for v in values {
        // Java's split drops trailing empty parts, so "k=" is one part too.
        let parts: Vec<&str> = v.split('=').map(str::trim).collect();
        let parts: Vec<&str> = match parts.iter().rposition(|p| !p.is_empty()) {
            Some(last) => parts[..=last].to_vec(),
            None => Vec::new(),
        };
        let [key, value] = parts.as_slice() else {
            return Err(Failure::new(
                "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".",
            ));
        };
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// `--replica-assignment`: partitions separated by commas, each a list of
/// broker ids separated by colons, the first being the preferred leader.
/// Every partition needs as many replicas as the first, and no broker
/// twice.
pub fn parse_replica_assignment(text: &str) -> Result<BTreeMap<i32, Vec<i32>>, String> {
    let mut out: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (i, part) in text.split(',').enumerate() {
        let brokers = part
            .split(':')
            .map(|b| b.trim().parse::<i32>().map_err(|_| format!("For input string: \"{}\"", b.trim())))
            .collect::<Result<Vec<i32>, String>>()?;
        let mut duplicates: Vec<String> = Vec::new();
        for (j, b) in brokers.iter().enumerate() {
            if brokers[..j].contains(b) && !duplicates.contains(&b.to_string()) {
                duplicates.push(b.to_string());
            }
        }
        if !duplicates.is_empty() {
            return Err(format!("Partition replica lists may not contain duplicate entries: {}", duplicates.join(",")));
        }
        let first_len = out.get(&0).map_or(brokers.len(), Vec::len);
        if brokers.len() != first_len {
            let list: Vec<String> = brokers.iter().map(i32::to_string).collect();
            return Err(format!("Partition {i} has different replication factor: [{}]", list.join(", ")));
        }
        let index = i32::try_from(i).map_err(|_| "too many partitions".to_string())?;
        out.insert(index, brokers);
    }
    Ok(out)
}

/// Kafka's `Topic.hasCollisionChars`: metric names turn `.` into `_`.
pub fn has_collision_chars(topic: &str) -> bool {
    topic.contains(['.', '_'])
}

/// What `--create` prints for a name with `.` or `_`.
pub const COLLISION_WARNING: &str = "WARNING: Due to limitations in metric names, topics with a period ('.') or \
                                     underscore ('_') could collide. To avoid issues it is best to use either, but \
                                     not both.";

/// The `Configs:` of a topic line: every config whose value is not
/// Kafka's default (set on the topic, or a cluster-wide override),
/// `name=value` joined by commas, in the order Java's `Config` (a
/// `HashMap` filled in the broker's order) iterates.
pub fn configs_string(config: &ResourceConfig) -> String {
    let keyed = config.entries.iter().map(|e| (jvm::string_hash(&e.name), e)).collect();
    jvm::hash_map_order(keyed, None)
        .into_iter()
        .filter(|e| !e.is_default())
        .map(|e| format!("{}={}", e.name, e.value.as_deref().unwrap_or("null")))
        .collect::<Vec<_>>()
        .join(",")
}

/// The order `--describe` prints topics in: Java's admin client hands
/// the descriptions back in a `HashMap` sized for them.
pub fn describe_order(names: Vec<String>) -> Vec<String> {
    let n = names.len();
    let keyed = names.into_iter().map(|t| (jvm::string_hash(&t), t)).collect();
    jvm::hash_map_order(keyed, Some(n))
}

/// The replication factor `--describe` shows: the first partition's
/// replica count.
pub fn replication_factor(topic: &TopicDescription) -> usize {
    topic.partitions.first().map_or(0, |p| p.replicas.len())
}

/// The topic line of `--describe`, without its newline.
pub fn topic_line(topic: &TopicDescription, config: &ResourceConfig) -> String {
    let mut line = format!("Topic: {}", topic.name);
    if let Some(id) = topic.topic_id {
        line.push_str(&format!("\tTopicId: {id}"));
    }
    line.push_str(&format!(
        "\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
        topic.partitions.len(),
        replication_factor(topic),
        configs_string(config)
    ));
    line
}

/// A partition line of `--describe`, without its newline. The eligible
/// leader replicas (KIP-966) come from DescribeTopicPartitions, which this
/// client does not send; they are printed empty, as a Kafka 4.0 cluster
/// (where ELR is off by default) reports them.
pub fn partition_line(topic: &str, p: &PartitionDescription) -> String {
    let ids = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let leader = p.leader.map_or_else(|| "none".to_string(), |l| l.to_string());
    format!(
        "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tElr: \tLastKnownElr: ",
        p.partition,
        ids(&p.replicas),
        ids(&p.isr)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_client::admin::{ConfigEntry, ConfigSource, ConfigType};

    fn entry(name: &str, value: &str, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            source,
            read_only: false,
            sensitive: false,
            synonyms: vec![],
            config_type: ConfigType::Unknown,
            documentation: None,
        }
    }

    #[test]
    fn topic_filters_are_whole_name_regexes() {
        let f = IncludeList::new("orders.*").unwrap();
        assert!(f.allows("orders-eu", false) && !f.allows("my-orders", false));
        let f = IncludeList::new(" 'a, b' ").unwrap();
        assert!(f.allows("a", false) && f.allows("b", false) && !f.allows("ab", false));
        let all = ["b", "__consumer_offsets", "a"];
        assert_eq!(select_topics(all, None, false), ["__consumer_offsets", "a", "b"]);
        assert_eq!(select_topics(all, None, true), ["a", "b"]);
        let any = IncludeList::new(".*").unwrap();
        assert_eq!(select_topics(all, Some(&any), true), ["a", "b"]);
        assert!(IncludeList::new("(").unwrap_err().message().contains("is an invalid regex"));
    }

    #[test]
    fn configs_and_assignments() {
        let c = parse_configs(&["retention.ms = 1000", "cleanup.policy=compact"]).unwrap();
        assert_eq!(c["retention.ms"], "1000");
        for bad in ["novalue", "k=", "a=b=c"] {
            assert!(parse_configs(&[bad]).unwrap_err().message().contains("key=val"), "{bad}");
        }
        let a = parse_replica_assignment("1:2, 2:3,3:1").unwrap();
        assert_eq!(a[&1], [2, 3]);
        assert!(parse_replica_assignment("1:1").unwrap_err().contains("duplicate entries: 1"));
        assert_eq!(parse_replica_assignment("1:2,3").unwrap_err(), "Partition 1 has different replication factor: [3]");
        assert!(has_collision_chars("a.b") && !has_collision_chars("a-b"));
    }

    #[test]
    fn describe_lines() {
        let t = TopicDescription {
            name: "t".into(),
            topic_id: None,
            internal: false,
            partitions: vec![PartitionDescription {
                partition: 0,
                leader: None,
                leader_epoch: None,
                replicas: vec![2, 3],
                isr: vec![3],
                offline_replicas: vec![],
            }],
        };
        let cfg = ResourceConfig {
            entries: vec![
                entry("segment.bytes", "1073741824", ConfigSource::Default),
                entry("retention.ms", "1000", ConfigSource::DynamicTopic),
                entry("cleanup.policy", "compact", ConfigSource::DynamicTopic),
            ],
        };
        // Java's HashMap puts cleanup.policy before retention.ms.
        assert_eq!(
            topic_line(&t, &cfg),
            "Topic: t\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: cleanup.policy=compact,retention.ms=1000"
        );
        assert_eq!(
            partition_line("t", &t.partitions[0]),
            "\tTopic: t\tPartition: 0\tLeader: none\tReplicas: 2,3\tIsr: 3\tElr: \tLastKnownElr: "
        );
    }
}
