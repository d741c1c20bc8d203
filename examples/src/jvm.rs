//! What Kafka's admin tools print that comes from Java rather than from
//! Kafka: how a broker error reads once Java's client has turned it into an
//! exception (`e.getMessage()`, `e.toString()`), and the order in which a
//! `java.util.HashMap` iterates — the tools print several results straight
//! from such maps (topic configs, described topics, reset plans), so
//! matching their output means matching that order.

use kafka_client::Error;
use kafka_protocol::ErrorCode;

/// The exception class (in `org.apache.kafka.common.errors`) and default
/// message of Java's `Errors` entry for a code, for the codes the admin
/// tools meet. Our protocol crate words the codes in its own sentences;
/// scripts written against Kafka's tools match on Java's.
pub fn exception(code: ErrorCode) -> Option<(&'static str, &'static str)> {
    let pair = match code {
        ErrorCode::UNKNOWN_SERVER_ERROR => {
            ("UnknownServerException", "The server experienced an unexpected error when processing the request.")
        }
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION => {
            ("UnknownTopicOrPartitionException", "This server does not host this topic-partition.")
        }
        ErrorCode::LEADER_NOT_AVAILABLE => (
            "LeaderNotAvailableException",
            "There is no leader for this topic-partition as we are in the middle of a leadership election.",
        ),
        ErrorCode::REQUEST_TIMED_OUT => ("TimeoutException", "The request timed out."),
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
            ("CoordinatorLoadInProgressException", "The coordinator is loading and hence can't process requests.")
        }
        ErrorCode::COORDINATOR_NOT_AVAILABLE => {
            ("CoordinatorNotAvailableException", "The coordinator is not available.")
        }
        ErrorCode::NOT_COORDINATOR => ("NotCoordinatorException", "This is not the correct coordinator."),
        ErrorCode::INVALID_TOPIC_EXCEPTION => {
            ("InvalidTopicException", "The request attempted to perform an operation on an invalid topic.")
        }
        ErrorCode::INVALID_GROUP_ID => ("InvalidGroupIdException", "The configured groupId is invalid."),
        ErrorCode::UNKNOWN_MEMBER_ID => ("UnknownMemberIdException", "The coordinator is not aware of this member."),
        ErrorCode::TOPIC_AUTHORIZATION_FAILED => ("TopicAuthorizationException", "Topic authorization failed."),
        ErrorCode::GROUP_AUTHORIZATION_FAILED => ("GroupAuthorizationException", "Group authorization failed."),
        ErrorCode::TOPIC_ALREADY_EXISTS => ("TopicExistsException", "Topic with this name already exists."),
        ErrorCode::INVALID_PARTITIONS => ("InvalidPartitionsException", "Number of partitions is below 1."),
        ErrorCode::INVALID_REPLICATION_FACTOR => (
            "InvalidReplicationFactorException",
            "Replication factor is below 1 or larger than the number of available brokers.",
        ),
        ErrorCode::INVALID_REPLICA_ASSIGNMENT => {
            ("InvalidReplicaAssignmentException", "Replica assignment is invalid.")
        }
        ErrorCode::INVALID_CONFIG => ("InvalidConfigurationException", "Configuration is invalid."),
        ErrorCode::NOT_CONTROLLER => ("NotControllerException", "This is not the correct controller for this cluster."),
        ErrorCode::POLICY_VIOLATION => {
            ("PolicyViolationException", "Request parameters do not satisfy the configured policy.")
        }
        ErrorCode::NON_EMPTY_GROUP => ("GroupNotEmptyException", "The group is not empty."),
        ErrorCode::GROUP_ID_NOT_FOUND => ("GroupIdNotFoundException", "The group id does not exist."),
        ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC => {
            ("GroupSubscribedToTopicException", "The consumer group is actively subscribed to the topic")
        }
        ErrorCode::UNSUPPORTED_VERSION => ("UnsupportedVersionException", "The version of API is not supported."),
        _ => return None,
    };
    Some(pair)
}

/// `e.getMessage()` of the exception Java's admin client raises: the
/// broker's own message when it sent one (CreateTopics does: "Topic 'x'
/// already exists."), else the exception's default message. Errors that
/// are not a broker's answer read as this client words them.
pub fn message(e: &Error) -> String {
    match e {
        Error::Broker { message: Some(m), .. } if !m.is_empty() => m.clone(),
        Error::Broker { code, .. } => {
            exception(*code).map_or_else(|| code.message().to_string(), |(_, m)| m.to_string())
        }
        other => other.to_string(),
    }
}

/// `e.toString()`: `org.apache.kafka.common.errors.<Class>: <message>`
/// for broker errors Java knows by name; otherwise just the message.
pub fn to_string(e: &Error) -> String {
    match e.code().and_then(exception) {
        Some((class, _)) => format!("org.apache.kafka.common.errors.{class}: {}", message(e)),
        None => message(e),
    }
}

/// `String.hashCode()`: `31 * h + c` over the UTF-16 code units.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// `TopicPartition.hashCode()` of Kafka's Java client.
pub fn topic_partition_hash(topic: &str, partition: i32) -> i32 {
    31i32.wrapping_add(partition).wrapping_mul(31).wrapping_add(string_hash(topic))
}

/// The order in which a `java.util.HashMap` holding `items` iterates, given
/// each item's `hashCode()`, in insertion order. `initial_capacity` is the
/// constructor's argument (None for `new HashMap<>()`).
///
/// A HashMap iterates bucket by bucket; an entry's bucket is its spread
/// hash (`h ^ (h >>> 16)`) masked by the table size, and entries sharing a
/// bucket keep their insertion order (resizing splits buckets without
/// reordering). The table starts at the capacity rounded up to a power of
/// two (16 by default) and doubles whenever the size passes three quarters
/// of it, so the final size depends only on the number of entries.
pub fn hash_map_order<T>(items: Vec<(i32, T)>, initial_capacity: Option<usize>) -> Vec<T> {
    let mut capacity = initial_capacity.map_or(16, |c| c.max(1).next_power_of_two());
    while items.len() > capacity * 3 / 4 {
        capacity *= 2;
    }
    let mask = (capacity - 1) as u32;
    let mut keyed: Vec<(u32, T)> = items
        .into_iter()
        .map(|(h, item)| {
            let h = h as u32;
            ((h ^ (h >> 16)) & mask, item)
        })
        .collect();
    // A stable sort keeps the insertion order within a bucket.
    keyed.sort_by_key(|(bucket, _)| *bucket);
    keyed.into_iter().map(|(_, item)| item).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::ApiKey;

    #[test]
    fn hashes_match_java() {
        // "hello".hashCode() == 99162322; "".hashCode() == 0.
        assert_eq!(string_hash("hello"), 99_162_322);
        assert_eq!(string_hash(""), 0);
        // Overflow wraps as Java's int arithmetic does.
        assert_eq!(string_hash("retention.ms"), -1_339_220_362);
        // new TopicPartition("t", 0).hashCode() == 31 * 31 + "t".hashCode() == 961 + 116.
        assert_eq!(topic_partition_hash("t", 0), 1077);
    }

    #[test]
    fn hash_map_order_buckets_then_insertion() {
        // Keys 1..=3 land in buckets 1..=3 whatever order they come in.
        let order = hash_map_order(vec![(3, "c"), (1, "a"), (2, "b")], None);
        assert_eq!(order, ["a", "b", "c"]);
        // 17 and 1 share bucket 1 of a 16-slot table: insertion order wins.
        assert_eq!(hash_map_order(vec![(17, "x"), (1, "y")], None), ["x", "y"]);
        // Thirteen entries grow the table to 32: 17 and 1 separate.
        let many: Vec<(i32, i32)> = (100..111).map(|h| (h, h)).chain([(17, 17), (1, 1)]).collect();
        let order = hash_map_order(many, None);
        assert!(order.iter().position(|&v| v == 1) < order.iter().position(|&v| v == 17));
        // The high half of the hash folds into the bucket.
        assert_eq!(hash_map_order(vec![(0x1_0000, "hi"), (0, "zero")], None), ["zero", "hi"]);
    }

    #[test]
    fn broker_errors_read_as_java_exceptions() {
        let with_message = Error::broker(
            ErrorCode::TOPIC_ALREADY_EXISTS,
            ApiKey::CreateTopics,
            1,
            "topic t",
            Some("Topic 't' already exists.".into()),
        );
        assert_eq!(message(&with_message), "Topic 't' already exists.");
        let bare = Error::broker(ErrorCode::NON_EMPTY_GROUP, ApiKey::DeleteGroups, 1, "group g", None);
        assert_eq!(to_string(&bare), "org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty.");
        assert_eq!(message(&Error::Closed), "the client is closed");
    }
}
