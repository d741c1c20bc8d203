//! Fault rules: a test breaks the cluster on purpose.
//!
//! A rule matches requests by API, by the broker they arrive at, and by a
//! topic (and partition) they touch; it fires once, `n` times, or until
//! removed; and it acts before or after the request is applied:
//!
//! | action | applied? | the client sees |
//! |---|---|---|
//! | [`FaultAction::Error`] | no | every item answered with the error code |
//! | [`FaultAction::Delay`] | yes, late | the response after the delay |
//! | [`FaultAction::Drop`] | no | the connection closed |
//! | [`FaultAction::ApplyThenDrop`] | yes | the connection closed: the outcome is unknown to it |
//! | [`FaultAction::ApplyThenCut`] | yes | half of the response, then the connection closed (a reset mid-response) |
//! | [`FaultAction::ApplyThenDelay`] | yes | the response only after the delay (past its timeout) |
//! | [`FaultAction::Throttle`] | yes | the response with `throttle_time_ms` set |
//!
//! Rules are checked in the order they were added; the first that matches
//! fires. Each [`FaultHandle`] reports how often its rule fired.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::RequestBody;
use kafka_protocol::{ApiKey, ErrorCode, Uuid};

/// What a rule does to a matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer with this error on every item, without applying the request.
    Error(ErrorCode),
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Close the connection without applying the request.
    Drop,
    /// Apply the request, then close the connection instead of answering.
    ApplyThenDrop,
    /// Apply the request, write the first half of the answer's bytes, then
    /// close the connection: a connection reset in the middle of a response.
    ApplyThenCut,
    /// Apply the request, and answer only after the delay.
    ApplyThenDelay(Duration),
    /// Apply the request and set `throttle_time_ms` on the answer.
    Throttle(i32),
}

/// A rule under construction; add it with [`crate::Cluster::add_fault`].
///
/// ```
/// use broker_testkit::{Fault, FaultAction};
/// use kafka_protocol::{ApiKey, ErrorCode, Uuid};
///
/// let rule = Fault::on(ApiKey::Produce)
///     .broker(1)
///     .topic_partition("orders", 0)
///     .action(FaultAction::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER))
///     .times(3);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone)]
pub struct Fault {
    api: Option<ApiKey>,
    broker: Option<i32>,
    topic: Option<String>,
    partition: Option<i32>,
    action: FaultAction,
    times: Option<u64>,
}

impl Fault {
    /// A rule for requests of `api` (once, answering NOT_LEADER_OR_FOLLOWER
    /// until an action is chosen).
    pub fn on(api: ApiKey) -> Self {
        Fault { api: Some(api), ..Self::any() }
    }

    /// A rule for requests of any API.
    pub fn any() -> Self {
        Fault {
            api: None,
            broker: None,
            topic: None,
            partition: None,
            action: FaultAction::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER),
            times: Some(1),
        }
    }

    /// Only requests arriving at broker `id`.
    pub fn broker(mut self, id: i32) -> Self {
        self.broker = Some(id);
        self
    }

    /// Only requests that touch `topic`.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Only requests that touch partition `partition` of `topic`.
    pub fn topic_partition(mut self, topic: impl Into<String>, partition: i32) -> Self {
        self.topic = Some(topic.into());
        self.partition = Some(partition);
        self
    }

    /// What the rule does.
    pub fn action(mut self, action: FaultAction) -> Self {
        self.action = action;
        self
    }

    /// Fire `n` times (the default is once).
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire until removed.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }
}

#[derive(Debug)]
struct Rule {
    id: u64,
    fault: Fault,
    remaining: Option<u64>,
    fired: Arc<AtomicU64>,
}

/// The rules of a cluster, shared by its connections.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    next_id: AtomicU64,
}

/// Counts how often a rule fired, and removes it.
#[derive(Debug, Clone)]
pub struct FaultHandle {
    id: u64,
    fired: Arc<AtomicU64>,
    faults: Arc<Faults>,
}

impl FaultHandle {
    /// How many requests the rule acted on so far.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    /// Removes the rule (a no-op once it has fired its count).
    pub fn remove(&self) {
        self.faults.lock().retain(|r| r.id != self.id);
    }
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Vec<Rule>> {
        // A poisoned lock only means a test panicked while holding it; the
        // rules themselves are still consistent.
        self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a rule.
    pub fn add(self: &Arc<Self>, fault: Fault) -> FaultHandle {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let fired = Arc::new(AtomicU64::new(0));
        self.lock().push(Rule { id, remaining: fault.times, fault, fired: fired.clone() });
        FaultHandle { id, fired, faults: self.clone() }
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Whether some rule is scoped to a topic (then a request that names
    /// topics by id needs their names to be matched).
    pub fn has_topic_rules(&self) -> bool {
        self.lock().iter().any(|r| r.fault.topic.is_some())
    }

    /// The action of the first rule matching a request, consuming one of its
    /// firings. `topic_names` names the topics a request gives by id (Fetch
    /// v13+).
    pub fn check(
        &self,
        api: ApiKey,
        broker: i32,
        body: &RequestBody,
        topic_names: &HashMap<Uuid, String>,
    ) -> Option<FaultAction> {
        let mut rules = self.lock();
        let pos = rules.iter().position(|r| {
            r.remaining != Some(0)
                && r.fault.api.is_none_or(|a| a == api)
                && r.fault.broker.is_none_or(|b| b == broker)
                && r.fault.topic.as_deref().is_none_or(|t| touches(body, t, r.fault.partition, topic_names))
        })?;
        let rule = &mut rules[pos];
        rule.fired.fetch_add(1, Ordering::SeqCst);
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
        }
        let action = rule.fault.action.clone();
        if rule.remaining == Some(0) {
            rules.remove(pos);
        }
        Some(action)
    }
}

/// The topic ids a request names topics by (Fetch v13+, Produce v13+,
/// OffsetCommit v10+ and TxnOffsetCommit v6+ do), if any.
pub fn topic_ids(body: &RequestBody) -> Vec<Uuid> {
    match body {
        RequestBody::Fetch(r) => r.topics.iter().map(|t| t.topic_id).filter(|id| !id.is_zero()).collect(),
        RequestBody::Produce(r) => r.topic_data.iter().map(|t| t.topic_id).filter(|id| !id.is_zero()).collect(),
        RequestBody::OffsetCommit(r) => r.topics.iter().map(|t| t.topic_id).filter(|id| !id.is_zero()).collect(),
        RequestBody::TxnOffsetCommit(r) => r.topics.iter().map(|t| t.topic_id).filter(|id| !id.is_zero()).collect(),
        _ => Vec::new(),
    }
}

/// Whether a request names `topic` (and `partition`, when given), by name
/// or by an id `topic_names` resolves to it.
pub fn touches(body: &RequestBody, topic: &str, partition: Option<i32>, topic_names: &HashMap<Uuid, String>) -> bool {
    let named = |name: &str, id: Uuid| name == topic || topic_names.get(&id).is_some_and(|n| n == topic);
    let p_ok = |ps: &mut dyn Iterator<Item = i32>| match partition {
        None => true,
        Some(want) => {
            for p in ps {
                if p == want {
                    return true;
                }
            }
            false
        }
    };
    match body {
        RequestBody::Produce(r) => r
            .topic_data
            .iter()
            .any(|t| named(&t.name, t.topic_id) && p_ok(&mut t.partition_data.iter().map(|p| p.index))),
        RequestBody::Fetch(r) => {
            r.topics.iter().any(|t| named(&t.topic, t.topic_id) && p_ok(&mut t.partitions.iter().map(|p| p.partition)))
        }
        RequestBody::ListOffsets(r) => {
            r.topics.iter().any(|t| t.name == topic && p_ok(&mut t.partitions.iter().map(|p| p.partition_index)))
        }
        RequestBody::OffsetForLeaderEpoch(r) => {
            r.topics.iter().any(|t| t.topic == topic && p_ok(&mut t.partitions.iter().map(|p| p.partition)))
        }
        RequestBody::DeleteRecords(r) => {
            r.topics.iter().any(|t| t.name == topic && p_ok(&mut t.partitions.iter().map(|p| p.partition_index)))
        }
        RequestBody::OffsetCommit(r) => r
            .topics
            .iter()
            .any(|t| named(&t.name, t.topic_id) && p_ok(&mut t.partitions.iter().map(|p| p.partition_index))),
        RequestBody::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .any(|t| named(&t.name, t.topic_id) && p_ok(&mut t.partitions.iter().map(|p| p.partition_index))),
        // A transaction's partitions: the client form (v0-v3) and the
        // brokers' batched one.
        RequestBody::AddPartitionsToTxn(r) => r
            .v3_and_below_topics
            .iter()
            .chain(r.transactions.iter().flat_map(|x| x.topics.iter()))
            .any(|t| t.name == topic && p_ok(&mut t.partitions.iter().copied())),
        RequestBody::Metadata(r) => r.topics.iter().flatten().any(|t| t.name.as_deref() == Some(topic)),
        RequestBody::CreateTopics(r) => r.topics.iter().any(|t| t.name == topic),
        RequestBody::DeleteTopics(r) => {
            r.topic_names.iter().any(|t| t == topic) || r.topics.iter().any(|t| t.name.as_deref() == Some(topic))
        }
        RequestBody::CreatePartitions(r) => r.topics.iter().any(|t| t.name == topic),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ProduceRequest;
    use kafka_protocol::messages::produce::{PartitionProduceData, TopicProduceData};

    fn produce(topic: &str, partition: i32) -> RequestBody {
        RequestBody::Produce(ProduceRequest {
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData { index: partition, ..Default::default() }],
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    #[test]
    fn rules_match_count_and_expire() {
        let f = Arc::new(Faults::default());
        let none = HashMap::new();
        let h = f.add(Fault::on(ApiKey::Produce).topic_partition("t", 1).action(FaultAction::Drop).times(2));
        assert_eq!(f.check(ApiKey::Produce, 1, &produce("t", 0), &none), None);
        assert_eq!(f.check(ApiKey::Fetch, 1, &produce("t", 1), &none), None);
        assert_eq!(f.check(ApiKey::Produce, 1, &produce("t", 1), &none), Some(FaultAction::Drop));
        assert_eq!(f.check(ApiKey::Produce, 3, &produce("t", 1), &none), Some(FaultAction::Drop));
        assert_eq!(f.check(ApiKey::Produce, 1, &produce("t", 1), &none), None);
        assert_eq!(h.fired(), 2);
        let always = f.add(Fault::any().broker(2).action(FaultAction::Throttle(50)).always());
        for _ in 0..5 {
            assert_eq!(f.check(ApiKey::Produce, 2, &produce("x", 0), &none), Some(FaultAction::Throttle(50)));
        }
        always.remove();
        assert_eq!(f.check(ApiKey::Produce, 2, &produce("x", 0), &none), None);
        assert_eq!(always.fired(), 5);
    }

    #[test]
    fn topic_rules_match_fetches_that_name_topics_by_id() {
        use kafka_protocol::messages::FetchRequest;
        use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
        let id = Uuid::from_u128(42);
        let fetch = RequestBody::Fetch(FetchRequest {
            topics: vec![FetchTopic {
                topic_id: id,
                partitions: vec![FetchPartition { partition: 3, ..Default::default() }],
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(topic_ids(&fetch), vec![id]);
        let f = Arc::new(Faults::default());
        let rule = f.add(Fault::on(ApiKey::Fetch).topic_partition("orders", 3).action(FaultAction::Drop).always());
        assert!(f.has_topic_rules());
        assert_eq!(f.check(ApiKey::Fetch, 1, &fetch, &HashMap::new()), None, "an unknown id matches nothing");
        let names = HashMap::from([(id, "orders".to_string())]);
        assert_eq!(f.check(ApiKey::Fetch, 1, &fetch, &names), Some(FaultAction::Drop));
        assert_eq!(rule.fired(), 1);
    }
}
