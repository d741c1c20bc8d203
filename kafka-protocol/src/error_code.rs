//! Kafka's error codes (as of 4.4.0) and what a client should do about each.
//!
//! The classification follows the Java client's exception hierarchy: codes
//! whose exceptions derive from `InvalidMetadataException` mean "your view of
//! the cluster is stale: refresh metadata, then retry"; other
//! `RetriableException`s mean "retry as is"; coordinator errors mean "find
//! the coordinator again". Everything else is not retriable by itself —
//! though some (sequence errors, rebalances) have dedicated handling in the
//! producer or the group member, which is noted on the code.

use std::fmt;

/// What a client does when it receives an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Not an error.
    None,
    /// Transient: retry the same request (after a backoff).
    Retriable,
    /// Stale metadata (leader moved, topic unknown): refresh metadata, then retry.
    RefreshMetadata,
    /// The group or transaction coordinator moved or is loading: look it up
    /// again, then retry.
    RefreshCoordinator,
    /// Retrying the same request cannot succeed.
    Fatal,
}

/// A Kafka error code. Unknown codes are kept, so nothing a broker says is lost.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub i16);

macro_rules! error_codes {
    ($(($code:literal, $const:ident, $class:ident, $msg:literal),)*) => {
        impl ErrorCode {
            $(
                #[doc = $msg]
                pub const $const: ErrorCode = ErrorCode($code);
            )*

            /// Every code Kafka 4.4.0 defines, including 0 (no error).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode($code),)*];

            /// Kafka's name for the code, e.g. `"NOT_LEADER_OR_FOLLOWER"`.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($code => stringify!($const),)*
                    _ => "UNKNOWN_ERROR_CODE",
                }
            }

            /// What the code means, in a sentence.
            pub fn message(self) -> &'static str {
                match self.0 {
                    $($code => $msg,)*
                    _ => "An error code this client does not know.",
                }
            }

            /// What a client should do about it.
            pub fn class(self) -> ErrorClass {
                match self.0 {
                    $($code => ErrorClass::$class,)*
                    _ => ErrorClass::Fatal,
                }
            }
        }
    };
}

error_codes! {
    (-1, UNKNOWN_SERVER_ERROR, Fatal, "The broker failed unexpectedly while handling the request."),
    (0, NONE, None, "No error."),
    (1, OFFSET_OUT_OF_RANGE, Fatal, "The offset asked for is outside the range the partition holds (the consumer applies its reset policy)."),
    (2, CORRUPT_MESSAGE, Retriable, "A record failed its CRC check, is too large, or is otherwise malformed."),
    (3, UNKNOWN_TOPIC_OR_PARTITION, RefreshMetadata, "This broker does not host the topic-partition."),
    (4, INVALID_FETCH_SIZE, Fatal, "The fetch size asked for is not valid."),
    (5, LEADER_NOT_AVAILABLE, RefreshMetadata, "The partition has no leader right now; an election is under way."),
    (6, NOT_LEADER_OR_FOLLOWER, RefreshMetadata, "This broker is not the partition's leader (or not a replica of it)."),
    (7, REQUEST_TIMED_OUT, Retriable, "The request timed out on the broker."),
    (8, BROKER_NOT_AVAILABLE, Fatal, "The broker is not available."),
    (9, REPLICA_NOT_AVAILABLE, RefreshMetadata, "The replica is not available for the partition."),
    (10, MESSAGE_TOO_LARGE, Fatal, "A record batch is larger than the broker or topic accepts (the producer splits the batch)."),
    (11, STALE_CONTROLLER_EPOCH, Fatal, "The controller has moved to another broker."),
    (12, OFFSET_METADATA_TOO_LARGE, Fatal, "The metadata attached to a committed offset is too large."),
    (13, NETWORK_EXCEPTION, RefreshMetadata, "The connection closed before a response arrived."),
    (14, COORDINATOR_LOAD_IN_PROGRESS, Retriable, "The coordinator is still loading its state."),
    (15, COORDINATOR_NOT_AVAILABLE, RefreshCoordinator, "The coordinator is not available."),
    (16, NOT_COORDINATOR, RefreshCoordinator, "This broker is not the coordinator for the group or transaction."),
    (17, INVALID_TOPIC_EXCEPTION, Fatal, "The topic name is not valid, or the topic cannot be written to."),
    (18, RECORD_LIST_TOO_LARGE, Fatal, "The records of the request exceed the largest batch the topic accepts."),
    (19, NOT_ENOUGH_REPLICAS, Retriable, "Fewer replicas are in sync than min.insync.replicas requires; nothing was written."),
    (20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, Retriable, "The records were written to the leader, but the in-sync replicas fell below min.insync.replicas."),
    (21, INVALID_REQUIRED_ACKS, Fatal, "The acks value is not one of -1, 0 or 1."),
    (22, ILLEGAL_GENERATION, Fatal, "The member's generation is not the group's current one (the member rejoins)."),
    (23, INCONSISTENT_GROUP_PROTOCOL, Fatal, "The member's protocol type or protocols do not match the group's."),
    (24, INVALID_GROUP_ID, Fatal, "The group id is empty or not valid."),
    (25, UNKNOWN_MEMBER_ID, Fatal, "The coordinator does not know this member id (the member rejoins)."),
    (26, INVALID_SESSION_TIMEOUT, Fatal, "The session timeout is outside the range the broker allows."),
    (27, REBALANCE_IN_PROGRESS, Fatal, "The group is rebalancing (the member rejoins)."),
    (28, INVALID_COMMIT_OFFSET_SIZE, Fatal, "The committed offset data is too large."),
    (29, TOPIC_AUTHORIZATION_FAILED, Fatal, "Not authorized to access the topic."),
    (30, GROUP_AUTHORIZATION_FAILED, Fatal, "Not authorized to access the group."),
    (31, CLUSTER_AUTHORIZATION_FAILED, Fatal, "Not authorized for this cluster operation."),
    (32, INVALID_TIMESTAMP, Fatal, "A record's timestamp is outside the range the topic accepts."),
    (33, UNSUPPORTED_SASL_MECHANISM, Fatal, "The broker does not support the SASL mechanism."),
    (34, ILLEGAL_SASL_STATE, Fatal, "The request is not valid in the current SASL state."),
    (35, UNSUPPORTED_VERSION, Fatal, "The broker does not support this version of the API."),
    (36, TOPIC_ALREADY_EXISTS, Fatal, "A topic with this name already exists."),
    (37, INVALID_PARTITIONS, Fatal, "The number of partitions is not valid."),
    (38, INVALID_REPLICATION_FACTOR, Fatal, "The replication factor is not valid (for example larger than the number of brokers)."),
    (39, INVALID_REPLICA_ASSIGNMENT, Fatal, "The replica assignment is not valid."),
    (40, INVALID_CONFIG, Fatal, "A configuration name or value is not valid."),
    (41, NOT_CONTROLLER, Retriable, "This broker is not the active controller."),
    (42, INVALID_REQUEST, Fatal, "The request is malformed or breaks a rule of the protocol."),
    (43, UNSUPPORTED_FOR_MESSAGE_FORMAT, Fatal, "The topic's message format does not support this request."),
    (44, POLICY_VIOLATION, Fatal, "The request breaks a policy configured on the broker."),
    (45, OUT_OF_ORDER_SEQUENCE_NUMBER, Fatal, "The broker saw a gap in the producer's sequence numbers (the idempotent producer recovers)."),
    (46, DUPLICATE_SEQUENCE_NUMBER, Fatal, "The batch was already written; an idempotent producer treats this as success."),
    (47, INVALID_PRODUCER_EPOCH, Fatal, "The producer's epoch is older than the broker's, or a transactional operation came too late."),
    (48, INVALID_TXN_STATE, Fatal, "The operation is not valid in the transaction's current state."),
    (49, INVALID_PRODUCER_ID_MAPPING, Fatal, "The producer id does not match the transactional id."),
    (50, INVALID_TRANSACTION_TIMEOUT, Fatal, "The transaction timeout exceeds the broker's maximum."),
    (51, CONCURRENT_TRANSACTIONS, Retriable, "Another transaction of this producer is still being completed."),
    (52, TRANSACTION_COORDINATOR_FENCED, Fatal, "The transaction coordinator was replaced by one with a newer epoch."),
    (53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Fatal, "Not authorized to use the transactional id."),
    (54, SECURITY_DISABLED, Fatal, "Security features are disabled on the broker."),
    (55, OPERATION_NOT_ATTEMPTED, Fatal, "The broker skipped this item because another item of the request failed."),
    (56, KAFKA_STORAGE_ERROR, RefreshMetadata, "The broker's log directory for the partition is offline."),
    (57, LOG_DIR_NOT_FOUND, Fatal, "The log directory does not exist."),
    (58, SASL_AUTHENTICATION_FAILED, Fatal, "SASL authentication failed."),
    (59, UNKNOWN_PRODUCER_ID, Fatal, "The broker has no state for this producer id (the idempotent producer recovers)."),
    (60, REASSIGNMENT_IN_PROGRESS, Fatal, "A partition reassignment is under way."),
    (61, DELEGATION_TOKEN_AUTH_DISABLED, Fatal, "Delegation tokens are disabled."),
    (62, DELEGATION_TOKEN_NOT_FOUND, Fatal, "The delegation token does not exist."),
    (63, DELEGATION_TOKEN_OWNER_MISMATCH, Fatal, "The caller does not own the delegation token."),
    (64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, Fatal, "Delegation-token requests are not allowed on this connection."),
    (65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, Fatal, "Not authorized for the delegation-token operation."),
    (66, DELEGATION_TOKEN_EXPIRED, Fatal, "The delegation token has expired."),
    (67, INVALID_PRINCIPAL_TYPE, Fatal, "The principal type is not supported."),
    (68, NON_EMPTY_GROUP, Fatal, "The group still has members."),
    (69, GROUP_ID_NOT_FOUND, Fatal, "The group does not exist."),
    (70, FETCH_SESSION_ID_NOT_FOUND, Retriable, "The fetch session id is not known to the broker."),
    (71, INVALID_FETCH_SESSION_EPOCH, Retriable, "The fetch session epoch is not the expected one."),
    (72, LISTENER_NOT_FOUND, RefreshMetadata, "The leader has no endpoint on the listener the request came in on."),
    (73, TOPIC_DELETION_DISABLED, Fatal, "Topic deletion is disabled on the broker."),
    (74, FENCED_LEADER_EPOCH, RefreshMetadata, "The request's leader epoch is older than the broker's."),
    (75, UNKNOWN_LEADER_EPOCH, RefreshMetadata, "The request's leader epoch is newer than the broker knows."),
    (76, UNSUPPORTED_COMPRESSION_TYPE, Fatal, "The broker cannot accept records with this compression for the request version."),
    (77, STALE_BROKER_EPOCH, Fatal, "The broker epoch is not the current one."),
    (78, OFFSET_NOT_AVAILABLE, Retriable, "The leader's high watermark is not yet known after an election."),
    (79, MEMBER_ID_REQUIRED, Fatal, "The member must rejoin with the member id the response gives (KIP-394)."),
    (80, PREFERRED_LEADER_NOT_AVAILABLE, RefreshMetadata, "The preferred leader is not available."),
    (81, GROUP_MAX_SIZE_REACHED, Fatal, "The group has reached its maximum size."),
    (82, FENCED_INSTANCE_ID, Fatal, "Another member with the same group.instance.id replaced this one."),
    (83, ELIGIBLE_LEADERS_NOT_AVAILABLE, RefreshMetadata, "No eligible replica can become leader."),
    (84, ELECTION_NOT_NEEDED, RefreshMetadata, "The leader election was not needed."),
    (85, NO_REASSIGNMENT_IN_PROGRESS, Fatal, "No partition reassignment is under way."),
    (86, GROUP_SUBSCRIBED_TO_TOPIC, Fatal, "The group still consumes the topic, so its offsets cannot be deleted."),
    (87, INVALID_RECORD, Fatal, "A record failed the broker's validation."),
    (88, UNSTABLE_OFFSET_COMMIT, Retriable, "Transactional offsets are pending for the partition."),
    (89, THROTTLING_QUOTA_EXCEEDED, Retriable, "The request exceeded a throttling quota."),
    (90, PRODUCER_FENCED, Fatal, "A newer producer with the same transactional id has started."),
    (91, RESOURCE_NOT_FOUND, Fatal, "The resource does not exist."),
    (92, DUPLICATE_RESOURCE, Fatal, "The request names the same resource twice."),
    (93, UNACCEPTABLE_CREDENTIAL, Fatal, "The credential does not meet the broker's requirements."),
    (94, INCONSISTENT_VOTER_SET, Fatal, "The voter sets of the quorum disagree."),
    (95, INVALID_UPDATE_VERSION, Fatal, "The update version is not valid."),
    (96, FEATURE_UPDATE_FAILED, Fatal, "The feature update could not be applied."),
    (97, PRINCIPAL_DESERIALIZATION_FAILURE, Fatal, "The forwarded principal could not be read."),
    (98, SNAPSHOT_NOT_FOUND, Fatal, "The snapshot does not exist."),
    (99, POSITION_OUT_OF_RANGE, Fatal, "The position is outside the snapshot."),
    (100, UNKNOWN_TOPIC_ID, RefreshMetadata, "The broker does not know the topic id."),
    (101, DUPLICATE_BROKER_REGISTRATION, Fatal, "A broker with this id is already registered."),
    (102, BROKER_ID_NOT_REGISTERED, Fatal, "No broker is registered with this id."),
    (103, INCONSISTENT_TOPIC_ID, RefreshMetadata, "The topic id does not match the one the broker holds."),
    (104, INCONSISTENT_CLUSTER_ID, Fatal, "The cluster id does not match."),
    (105, TRANSACTIONAL_ID_NOT_FOUND, Fatal, "The transactional id does not exist."),
    (106, FETCH_SESSION_TOPIC_ID_ERROR, Retriable, "A topic id in the fetch session changed or disappeared."),
    (107, INELIGIBLE_REPLICA, Fatal, "The new ISR contains an ineligible replica."),
    (108, NEW_LEADER_ELECTED, Fatal, "A new leader was elected, so the ISR change was rejected."),
    (109, OFFSET_MOVED_TO_TIERED_STORAGE, Fatal, "The offset now lives in tiered storage."),
    (110, FENCED_MEMBER_EPOCH, Fatal, "The member epoch is older than the group's."),
    (111, UNRELEASED_INSTANCE_ID, Fatal, "The instance id is still held by another member."),
    (112, UNSUPPORTED_ASSIGNOR, Fatal, "The broker does not support the assignor."),
    (113, STALE_MEMBER_EPOCH, Fatal, "The member epoch is not the current one."),
    (114, MISMATCHED_ENDPOINT_TYPE, Fatal, "The request went to the wrong kind of endpoint."),
    (115, UNSUPPORTED_ENDPOINT_TYPE, Fatal, "This endpoint type does not support the request."),
    (116, UNKNOWN_CONTROLLER_ID, Fatal, "The controller id is not known."),
    (117, UNKNOWN_SUBSCRIPTION_ID, Fatal, "The client telemetry subscription id is not known."),
    (118, TELEMETRY_TOO_LARGE, Fatal, "The client telemetry is too large."),
    (119, INVALID_REGISTRATION, Fatal, "The controller registration is not valid."),
    (120, TRANSACTION_ABORTABLE, Fatal, "The transaction must be aborted."),
    (121, INVALID_RECORD_STATE, Fatal, "The record is not in a state that allows the operation."),
    (122, SHARE_SESSION_NOT_FOUND, Retriable, "The share session does not exist."),
    (123, INVALID_SHARE_SESSION_EPOCH, Retriable, "The share session epoch is not the expected one."),
    (124, FENCED_STATE_EPOCH, Fatal, "The share state epoch is stale."),
    (125, INVALID_VOTER_KEY, Fatal, "The voter key does not match."),
    (126, DUPLICATE_VOTER, Fatal, "The voter is already in the quorum."),
    (127, VOTER_NOT_FOUND, Fatal, "The voter is not in the quorum."),
    (128, INVALID_REGULAR_EXPRESSION, Fatal, "The regular expression is not valid."),
    (129, REBOOTSTRAP_REQUIRED, Fatal, "The client must rebootstrap its metadata from the bootstrap servers."),
    (130, STREAMS_INVALID_TOPOLOGY, Fatal, "The streams topology is not valid."),
    (131, STREAMS_INVALID_TOPOLOGY_EPOCH, Fatal, "The streams topology epoch is not valid."),
    (132, STREAMS_TOPOLOGY_FENCED, Fatal, "The streams topology epoch is stale."),
    (133, SHARE_SESSION_LIMIT_REACHED, Retriable, "The broker holds as many share sessions as it may."),
    (134, GROUP_DELETION_FAILED, Fatal, "The group could not be deleted; the per-group error message says why."),
    (135, STREAMS_TOPOLOGY_DESCRIPTION_UPDATE_FAILED, Fatal, "The broker could not update the streams topology description."),
    (136, CONTROLLER_ID_NOT_REGISTERED, Fatal, "The controller id is not registered."),
}

impl ErrorCode {
    /// True for anything but [`ErrorCode::NONE`].
    pub fn is_error(self) -> bool {
        self.0 != 0
    }

    /// `Ok(())` for no error, `Err(self)` otherwise.
    pub fn ok(self) -> Result<(), ErrorCode> {
        if self.is_error() { Err(self) } else { Ok(()) }
    }

    /// True when retrying can succeed, possibly after refreshing metadata or
    /// finding the coordinator again.
    pub fn is_retriable(self) -> bool {
        matches!(self.class(), ErrorClass::Retriable | ErrorClass::RefreshMetadata | ErrorClass::RefreshCoordinator)
    }

    /// True when the client's metadata is stale and must be refreshed.
    pub fn needs_metadata_refresh(self) -> bool {
        self.class() == ErrorClass::RefreshMetadata
    }

    /// True when the group or transaction coordinator must be looked up again.
    pub fn needs_coordinator_lookup(self) -> bool {
        self.class() == ErrorClass::RefreshCoordinator
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.0
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.message())
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_ordered() {
        let codes: Vec<i16> = ErrorCode::ALL.iter().map(|c| c.0).collect();
        assert_eq!(codes, (-1..=136).collect::<Vec<i16>>());
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn classification_follows_the_java_client() {
        for c in [
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ErrorCode::LEADER_NOT_AVAILABLE,
            ErrorCode::FENCED_LEADER_EPOCH,
            ErrorCode::UNKNOWN_LEADER_EPOCH,
            ErrorCode::KAFKA_STORAGE_ERROR,
            ErrorCode::UNKNOWN_TOPIC_ID,
            ErrorCode::NETWORK_EXCEPTION,
        ] {
            assert!(c.needs_metadata_refresh() && c.is_retriable(), "{c:?}");
        }
        for c in [ErrorCode::NOT_ENOUGH_REPLICAS, ErrorCode::REQUEST_TIMED_OUT, ErrorCode::CORRUPT_MESSAGE] {
            assert_eq!(c.class(), ErrorClass::Retriable, "{c:?}");
        }
        assert!(ErrorCode::NOT_COORDINATOR.needs_coordinator_lookup());
        for c in [ErrorCode::MESSAGE_TOO_LARGE, ErrorCode::TOPIC_AUTHORIZATION_FAILED, ErrorCode::INVALID_RECORD] {
            assert!(!c.is_retriable(), "{c:?}");
        }
        assert_eq!(ErrorCode::NONE.class(), ErrorClass::None);
        assert_eq!(ErrorCode(-42).name(), "UNKNOWN_ERROR_CODE");
        assert_eq!(ErrorCode(6).to_string().split(':').next(), Some("NOT_LEADER_OR_FOLLOWER (6)"));
    }
}
