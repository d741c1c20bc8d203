//! What the client knows about the cluster: brokers, and each topic's id and
//! partitions (leader, leader epoch, replicas, ISR). Pure state, updated
//! from Metadata responses and leader hints.
//!
//! Rule (KIP-320): per partition, information with an older leader epoch
//! never replaces newer information — a Metadata response from a broker
//! that has not yet heard of an election must not send the client back to
//! the old leader. A topic whose id changed was deleted and recreated: its
//! old partitions (and their epochs) are dropped.

use crate::hash::FastMap;
use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::MetadataResponse;
use kafka_protocol::{ErrorCode, Uuid};

/// A broker's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    /// Broker id.
    pub id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack, if any.
    pub rack: Option<String>,
}

impl BrokerAddr {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What is known of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: i32,
    /// Leader broker, or -1.
    pub leader: i32,
    /// Leader epoch, or -1 when the broker did not say.
    pub leader_epoch: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Offline replicas.
    pub offline: Vec<i32>,
    /// The partition error of the last response, if any.
    pub error: Option<ErrorCode>,
}

/// What is known of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic id (zero when the broker did not send one).
    pub id: Uuid,
    /// Whether Kafka marks it internal.
    pub internal: bool,
    /// Partitions by index.
    pub partitions: Vec<PartitionInfo>,
}

/// The client's view of the cluster.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// The cluster id, once known.
    pub cluster_id: Option<String>,
    /// The controller broker, or -1.
    pub controller: i32,
    brokers: BTreeMap<i32, BrokerAddr>,
    topics: FastMap<String, TopicInfo>,
    /// Topics a response said do not exist, with the error.
    missing: HashMap<String, ErrorCode>,
    /// Bumped on every applied response.
    version: u64,
}

impl Metadata {
    /// Nothing known yet.
    pub fn new() -> Self {
        Metadata { controller: -1, ..Default::default() }
    }

    /// Applies a Metadata response. `all_topics` says the request asked for
    /// every topic, so topics absent from the answer no longer exist.
    pub fn apply(&mut self, resp: &MetadataResponse, all_topics: bool) {
        self.version += 1;
        if !resp.brokers.is_empty() {
            self.brokers = resp
                .brokers
                .iter()
                .map(|b| {
                    (b.node_id, BrokerAddr { id: b.node_id, host: b.host.clone(), port: b.port, rack: b.rack.clone() })
                })
                .collect();
        }
        if let Some(id) = &resp.cluster_id {
            self.cluster_id = Some(id.clone());
        }
        self.controller = resp.controller_id;
        if all_topics {
            let present: Vec<&str> = resp.topics.iter().filter_map(|t| t.name.as_deref()).collect();
            self.topics.retain(|name, _| present.contains(&name.as_str()));
        }
        for t in &resp.topics {
            let Some(name) = t.name.clone() else { continue };
            let code = ErrorCode(t.error_code);
            if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                || code == ErrorCode::INVALID_TOPIC_EXCEPTION
                || code == ErrorCode::TOPIC_AUTHORIZATION_FAILED
            {
                self.topics.remove(&name);
                self.missing.insert(name, code);
                continue;
            }
            if code.is_error() {
                // Transient (LEADER_NOT_AVAILABLE while being created, …):
                // keep what we knew.
                continue;
            }
            self.missing.remove(&name);
            let fresh: Vec<PartitionInfo> = {
                let mut ps: Vec<PartitionInfo> = t
                    .partitions
                    .iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: p.leader_id,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.clone(),
                        isr: p.isr_nodes.clone(),
                        offline: p.offline_replicas.clone(),
                        error: ErrorCode(p.error_code).ok().err(),
                    })
                    .collect();
                ps.sort_by_key(|p| p.partition);
                ps
            };
            match self.topics.get_mut(&name) {
                Some(old) if old.id == t.topic_id || old.id.is_zero() || t.topic_id.is_zero() => {
                    old.id = if t.topic_id.is_zero() { old.id } else { t.topic_id };
                    old.internal = t.is_internal;
                    let mut merged = Vec::with_capacity(fresh.len());
                    for p in fresh {
                        match old.partitions.iter().find(|o| o.partition == p.partition) {
                            Some(o) if o.leader_epoch > p.leader_epoch && p.leader_epoch >= 0 => merged.push(o.clone()),
                            _ => merged.push(p),
                        }
                    }
                    // A response never shrinks a topic (partitions cannot be deleted).
                    for o in &old.partitions {
                        if !merged.iter().any(|p| p.partition == o.partition) {
                            merged.push(o.clone());
                        }
                    }
                    merged.sort_by_key(|p| p.partition);
                    old.partitions = merged;
                }
                _ => {
                    self.topics.insert(name, TopicInfo { id: t.topic_id, internal: t.is_internal, partitions: fresh });
                }
            }
        }
    }

    /// Records a newer leader learned from an error response (KIP-951);
    /// ignored unless its epoch is newer. True when it changed something.
    pub fn update_leader(&mut self, topic: &str, partition: i32, leader: i32, leader_epoch: i32) -> bool {
        let Some(p) =
            self.topics.get_mut(topic).and_then(|t| t.partitions.iter_mut().find(|p| p.partition == partition))
        else {
            return false;
        };
        if leader < 0 || leader_epoch <= p.leader_epoch || !self.brokers.contains_key(&leader) {
            return false;
        }
        p.leader = leader;
        p.leader_epoch = leader_epoch;
        true
    }

    /// Adds brokers learned from KIP-951 node endpoints.
    pub fn add_broker(&mut self, b: BrokerAddr) {
        self.brokers.insert(b.id, b);
    }

    /// A topic, if known.
    pub fn topic(&self, name: &str) -> Option<&TopicInfo> {
        self.topics.get(name)
    }

    /// Whether the last response said the topic does not exist, and why.
    #[cfg(test)]
    pub fn missing(&self, name: &str) -> Option<ErrorCode> {
        self.missing.get(name).copied()
    }

    /// Every known topic name.
    pub fn topic_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.topics.keys().cloned().collect();
        v.sort();
        v
    }

    /// The number of partitions of a topic.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).map(|t| t.partitions.len())
    }

    /// A partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionInfo> {
        self.topics.get(topic)?.partitions.iter().find(|p| p.partition == partition)
    }

    /// The leader of a partition and its epoch, when one is known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        self.partition(topic, partition).filter(|p| p.leader >= 0).map(|p| (p.leader, p.leader_epoch))
    }

    /// A broker's address.
    pub fn broker(&self, id: i32) -> Option<&BrokerAddr> {
        self.brokers.get(&id)
    }

    /// Every known broker.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerAddr> {
        self.brokers.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    fn resp(topic_id: u128, leader: i32, epoch: i32) -> MetadataResponse {
        MetadataResponse {
            brokers: (1..=3)
                .map(|i| MetadataResponseBroker { node_id: i, host: "h".into(), port: 9000 + i, ..Default::default() })
                .collect(),
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                topic_id: Uuid::from_u128(topic_id),
                partitions: vec![MetadataResponsePartition {
                    partition_index: 0,
                    leader_id: leader,
                    leader_epoch: epoch,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn older_epochs_never_win() {
        let mut m = Metadata::new();
        m.apply(&resp(7, 1, 5), false);
        assert_eq!(m.leader("t", 0), Some((1, 5)));
        m.apply(&resp(7, 2, 4), false);
        assert_eq!(m.leader("t", 0), Some((1, 5)), "a stale broker's answer must not move the leader back");
        m.apply(&resp(7, 3, 6), false);
        assert_eq!(m.leader("t", 0), Some((3, 6)));
        assert!(!m.update_leader("t", 0, 2, 6));
        assert!(m.update_leader("t", 0, 2, 7));
        assert_eq!(m.leader("t", 0), Some((2, 7)));
    }

    #[test]
    fn a_recreated_topic_starts_over() {
        let mut m = Metadata::new();
        m.apply(&resp(7, 1, 9), false);
        m.apply(&resp(8, 2, 0), false);
        assert_eq!(m.leader("t", 0), Some((2, 0)));
        assert_eq!(m.topic("t").map(|t| t.id), Some(Uuid::from_u128(8)));
    }

    #[test]
    fn unknown_topics_are_remembered() {
        let mut m = Metadata::new();
        m.apply(&resp(7, 1, 0), false);
        let mut r = resp(7, 1, 0);
        r.topics[0].error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
        m.apply(&r, false);
        assert!(m.topic("t").is_none());
        assert_eq!(m.missing("t"), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    }
}
