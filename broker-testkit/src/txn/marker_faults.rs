//! Failing transaction-marker writes on purpose: a test control standing
//! in for a WriteTxnMarkers answer with an error.
//!
//! Kafka's `TransactionMarkerRequestCompletionHandler` treats some errors
//! of a marker write as retriable (UNKNOWN_TOPIC_OR_PARTITION,
//! NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT,
//! KAFKA_STORAGE_ERROR): the marker goes back into the queue and is sent
//! again, the transaction stays in PrepareCommit or PrepareAbort, and its
//! partitions' last stable offset stays where the transaction began. Only
//! those errors can be injected here; the others end the transaction's
//! marker sending for good (or crash the coordinator) in Kafka, which no
//! test needs to reproduce.
//!
//! A rule matches a partition, or every partition a broker leads (the
//! broker a WriteTxnMarkers request would go to), and fails the marker
//! writes that match it: a given number of times, or until removed. Kafka
//! resends a failed marker as soon as the answer arrives; the cluster
//! tries again on every request and tick, and schedules a tick
//! [`RETRY_BACKOFF_MS`] after a failure so that a count-limited rule runs
//! out without client traffic (retrying on the spot would spin).

use kafka_protocol::ErrorCode;

use super::TopicPartition;

/// How long after an injected failure the cluster tries the marker again
/// at the latest (Kafka's default `retry.backoff.ms`).
pub const RETRY_BACKOFF_MS: i64 = 100;

/// The errors Kafka's coordinator retries a marker write after.
pub const RETRIABLE_MARKER_ERRORS: [ErrorCode; 6] = [
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::NOT_ENOUGH_REPLICAS,
    ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ErrorCode::REQUEST_TIMED_OUT,
    ErrorCode::KAFKA_STORAGE_ERROR,
];

/// Which marker writes a [`MarkerFault`] fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerTarget {
    /// The markers of one partition.
    Partition(String, i32),
    /// The markers of every partition the broker leads when the marker is
    /// written.
    Broker(i32),
}

/// A rule failing transaction-marker writes; add it with
/// [`crate::Cluster::fail_transaction_markers`].
///
/// ```
/// use broker_testkit::txn::marker_faults::MarkerFault;
/// use kafka_protocol::ErrorCode;
///
/// // The next three markers for orders-0 fail with a storage error.
/// let rule = MarkerFault::partition("orders", 0).error(ErrorCode::KAFKA_STORAGE_ERROR).times(3);
/// // Every marker for a partition led by broker 2 fails until removed.
/// let other = MarkerFault::broker(2);
/// # let _ = (rule, other);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerFault {
    /// The marker writes that fail.
    pub target: MarkerTarget,
    /// The error they fail with (NOT_LEADER_OR_FOLLOWER unless set).
    pub error: ErrorCode,
    /// How many writes fail; None: until the rule is removed.
    pub times: Option<u64>,
}

impl MarkerFault {
    /// Fails the markers of `topic`-`partition`.
    pub fn partition(topic: &str, partition: i32) -> Self {
        MarkerFault {
            target: MarkerTarget::Partition(topic.to_string(), partition),
            error: ErrorCode::NOT_LEADER_OR_FOLLOWER,
            times: None,
        }
    }

    /// Fails the markers of the partitions `broker` leads.
    pub fn broker(broker: i32) -> Self {
        MarkerFault { target: MarkerTarget::Broker(broker), error: ErrorCode::NOT_LEADER_OR_FOLLOWER, times: None }
    }

    /// The error the writes fail with: one of [`RETRIABLE_MARKER_ERRORS`].
    pub fn error(mut self, error: ErrorCode) -> Self {
        self.error = error;
        self
    }

    /// Fails only the next `n` matching writes.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    fn matches(&self, tp: &TopicPartition, leader: i32) -> bool {
        match &self.target {
            MarkerTarget::Partition(topic, partition) => *topic == tp.0 && *partition == tp.1,
            MarkerTarget::Broker(b) => *b == leader,
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    fault: MarkerFault,
    fired: u64,
}

/// The marker-fault rules of a cluster; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct MarkerFaults {
    rules: Vec<Rule>,
    next_id: u64,
    /// When the cluster next retries after an injected failure.
    retry_at: Option<i64>,
}

impl MarkerFaults {
    /// Adds a rule; returns its id. Errors Kafka would not retry after
    /// are refused.
    pub fn add(&mut self, fault: MarkerFault) -> Result<u64, String> {
        if !RETRIABLE_MARKER_ERRORS.contains(&fault.error) {
            return Err(format!(
                "{:?} is not an error Kafka's coordinator retries a marker after (one of {:?})",
                fault.error, RETRIABLE_MARKER_ERRORS
            ));
        }
        self.next_id += 1;
        self.rules.push(Rule { id: self.next_id, fault, fired: 0 });
        Ok(self.next_id)
    }

    /// Removes every rule; returns how often they fired in all. Rules that
    /// ran out are forgotten when they do, so their failures are not counted.
    pub fn clear(&mut self) -> u64 {
        self.retry_at = None;
        self.rules.drain(..).map(|r| r.fired).sum()
    }

    /// How often rule `id` fired, while it is in force.
    pub fn fired(&self, id: u64) -> Option<u64> {
        self.rules.iter().find(|r| r.id == id).map(|r| r.fired)
    }

    /// Whether a marker write to `tp`, led by `leader`, fails now: the
    /// first matching rule fires (and is dropped once it ran out), and a
    /// retry is scheduled `RETRY_BACKOFF_MS` after `now_ms`.
    pub fn fire(&mut self, tp: &TopicPartition, leader: i32, now_ms: i64) -> Option<ErrorCode> {
        let i = self.rules.iter().position(|r| r.fault.matches(tp, leader))?;
        let rule = &mut self.rules[i];
        rule.fired += 1;
        let error = rule.fault.error;
        if let Some(left) = rule.fault.times.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.rules.remove(i);
            }
        }
        let retry = now_ms.saturating_add(RETRY_BACKOFF_MS);
        self.retry_at = Some(self.retry_at.map_or(retry, |r| r.min(retry)));
        Some(error)
    }

    /// When the cluster should next try the markers an injected failure
    /// left pending.
    pub fn retry_deadline(&self) -> Option<i64> {
        self.retry_at
    }

    /// A round of marker writes starts at `now_ms`: a retry due by then
    /// is being made.
    pub fn retrying(&mut self, now_ms: i64) {
        if self.retry_at.is_some_and(|r| r <= now_ms) {
            self.retry_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_by_partition_or_leader_and_run_out() {
        let mut f = MarkerFaults::default();
        let a = ("a".to_string(), 0);
        let b = ("b".to_string(), 1);
        let id = f.add(MarkerFault::partition("a", 0).error(ErrorCode::KAFKA_STORAGE_ERROR).times(2)).unwrap();
        assert_eq!(f.fire(&b, 1, 0), None);
        assert_eq!(f.retry_deadline(), None);
        assert_eq!(f.fire(&a, 1, 0), Some(ErrorCode::KAFKA_STORAGE_ERROR));
        assert_eq!(f.fired(id), Some(1));
        assert_eq!(f.retry_deadline(), Some(RETRY_BACKOFF_MS));
        assert_eq!(f.fire(&a, 1, 10), Some(ErrorCode::KAFKA_STORAGE_ERROR));
        assert_eq!(f.fired(id), None);
        assert_eq!(f.fire(&a, 1, 20), None);
        f.retrying(RETRY_BACKOFF_MS);
        assert_eq!(f.retry_deadline(), None);
        f.add(MarkerFault::broker(2)).unwrap();
        assert_eq!(f.fire(&b, 1, 0), None);
        assert_eq!(f.fire(&b, 2, 0), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert_eq!(f.fire(&a, 2, 0), Some(ErrorCode::NOT_LEADER_OR_FOLLOWER));
        assert_eq!(f.clear(), 2);
        assert_eq!(f.fire(&a, 2, 0), None);
    }

    #[test]
    fn errors_kafka_does_not_retry_are_refused() {
        let mut f = MarkerFaults::default();
        assert!(f.add(MarkerFault::partition("a", 0).error(ErrorCode::CORRUPT_MESSAGE)).is_err());
        assert!(f.add(MarkerFault::partition("a", 0).error(ErrorCode::INVALID_PRODUCER_EPOCH)).is_err());
    }
}
