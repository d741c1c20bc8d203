//! The client's errors, and the one place that decides what is retriable.
//!
//! Every error carries its context: the broker, the API, and the topic,
//! partition or group it concerns. [`Error::is_retriable`] is the single
//! classifier the producer, consumer and admin client consult; it defers
//! to [`kafka_protocol::ErrorCode::class`] for errors a broker returned.

use std::time::Duration;

use kafka_protocol::{ApiKey, ErrorClass, ErrorCode};

/// An invalid setting, named by its Java config name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value for {field}: {reason}")]
pub struct ConfigError {
    /// The setting, by its Java name (e.g. `linger.ms`).
    pub field: String,
    /// Why the value is refused.
    pub reason: String,
}

impl ConfigError {
    /// An error about `field`.
    ///
    /// ```
    /// let e = kafka_client::ConfigError::new("acks", "must be all, -1, 0 or 1");
    /// assert_eq!(e.to_string(), "invalid value for acks: must be all, -1, 0 or 1");
    /// ```
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError { field: field.into(), reason: reason.into() }
    }
}

/// A client error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid; raised by `build()`.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A broker could not be reached.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The connection closed with requests outstanding. `sent` says whether
    /// this request may have reached the broker (its outcome is then unknown).
    #[error("connection to broker {broker} ({addr}) lost during {api:?}{}", if *.sent { " after the request was sent" } else { "" })]
    Disconnected {
        /// The broker.
        broker: i32,
        /// Its address.
        addr: String,
        /// The request's API.
        api: ApiKey,
        /// Whether the request was (possibly) written to the socket.
        sent: bool,
    },
    /// No response within `request.timeout.ms`; the connection was closed.
    #[error("{api:?} to broker {broker} got no response within {timeout:?}")]
    RequestTimeout {
        /// The broker.
        broker: i32,
        /// The request's API.
        api: ApiKey,
        /// The timeout.
        timeout: Duration,
    },
    /// The broker does not support any version of an API we can speak.
    #[error("broker {broker} supports {api:?} v{broker_min}-v{broker_max}; this client speaks v{min}-v{max}")]
    UnsupportedVersion {
        /// The broker.
        broker: i32,
        /// The API.
        api: ApiKey,
        /// Our lowest version.
        min: i16,
        /// Our highest version.
        max: i16,
        /// The broker's lowest (-1 when it does not list the API).
        broker_min: i16,
        /// The broker's highest (-1 when it does not list the API).
        broker_max: i16,
    },
    /// A broker answered with an error code.
    #[error("{code} ({api:?} to broker {broker}, {context}){}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The error.
        code: ErrorCode,
        /// The API.
        api: ApiKey,
        /// The broker that answered (-1 when not known).
        broker: i32,
        /// What it concerns: a topic-partition, a group, a topic.
        context: String,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// A request could not be encoded (a bug or an unsupported field).
    #[error("cannot encode {api:?}: {reason}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// Why.
        reason: String,
    },
    /// A broker's response could not be decoded.
    #[error("malformed {api:?} response from broker {broker}: {reason}")]
    Decode {
        /// The broker.
        broker: i32,
        /// The API.
        api: ApiKey,
        /// Why.
        reason: String,
    },
    /// Waiting for metadata, buffer space or a coordinator ran out of time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        after: Duration,
    },
    /// A record's delivery timed out (`delivery.timeout.ms`) after its
    /// request may have reached the broker: it may or may not be written.
    #[error("delivery outcome unknown for {topic}-{partition}: {reason}")]
    OutcomeUnknown {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What happened.
        reason: String,
    },
    /// A record cannot be sent as it is.
    #[error("record rejected: {0}")]
    InvalidRecord(String),
    /// The topic does not exist (and is not auto-created).
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// Fetched records could not be read (corrupt, or a batch larger than
    /// the fetch size).
    #[error(transparent)]
    Fetch(#[from] crate::consumer::fetched::FetchError),
    /// A partition has no committed offset and `auto.offset.reset` is
    /// `none` (Java's `NoOffsetForPartitionException`).
    #[error("no committed offset for {tp} and auto.offset.reset is none; seek to choose where to start")]
    NoOffset {
        /// The partition.
        tp: crate::TopicPartition,
    },
    /// An argument is invalid (a negative offset, an empty topic name, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The call is not allowed in the consumer's current state (Java's
    /// `IllegalStateException`), e.g. seeking a partition not assigned.
    #[error("illegal state: {0}")]
    IllegalState(String),
    /// The consumer's group membership was lost; its partitions are gone.
    #[error("group {group}: {reason}")]
    Group {
        /// The group.
        group: String,
        /// What happened.
        reason: String,
    },
    /// A transactional producer's transaction cannot go on; `kind` says
    /// what the application must do next.
    #[error("transaction of {transactional_id} ({kind}): {reason}")]
    Transaction {
        /// The producer's `transactional.id`.
        transactional_id: String,
        /// Abort and carry on, or close the producer.
        kind: TransactionErrorKind,
        /// What happened.
        reason: String,
        /// The error that caused it, when one did.
        cause: Option<Box<Error>>,
    },
}

/// What a [`Error::Transaction`] asks of the application, after Java's
/// split of transactional errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// The transaction cannot commit; abort it, after which the producer
    /// can run new transactions (a record failed, the group's generation
    /// moved on, the coordinator answered TRANSACTION_ABORTABLE, ...).
    Abortable,
    /// Another producer with the same `transactional.id` took over (Java's
    /// `ProducerFencedException`): this one can do nothing more; close it.
    Fenced,
    /// The producer cannot go on (authorization, an unexpected answer, a
    /// protocol the broker lacks): close it.
    Fatal,
    /// The record belonged to a transaction that was aborted before it was
    /// sent (Java's `TransactionAbortedException`).
    Aborted,
}

impl std::fmt::Display for TransactionErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransactionErrorKind::Abortable => "abortable",
            TransactionErrorKind::Fenced => "fenced",
            TransactionErrorKind::Fatal => "fatal",
            TransactionErrorKind::Aborted => "aborted",
        })
    }
}

impl Error {
    /// A broker error about `context`.
    pub fn broker(
        code: ErrorCode,
        api: ApiKey,
        broker: i32,
        context: impl Into<String>,
        message: Option<String>,
    ) -> Self {
        Error::Broker { code, api, broker, context: context.into(), message }
    }

    /// The broker error code, if a broker returned one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// For a transactional producer's error, what it asks of the
    /// application; None for other errors.
    ///
    /// ```
    /// use kafka_client::{Error, TransactionErrorKind};
    /// let e = Error::Transaction {
    ///     transactional_id: "t".into(),
    ///     kind: TransactionErrorKind::Abortable,
    ///     reason: "a record failed".into(),
    ///     cause: None,
    /// };
    /// assert_eq!(e.transaction_error_kind(), Some(TransactionErrorKind::Abortable));
    /// assert_eq!(Error::Closed.transaction_error_kind(), None);
    /// ```
    pub fn transaction_error_kind(&self) -> Option<TransactionErrorKind> {
        match self {
            Error::Transaction { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether trying again can succeed: transient broker errors (after a
    /// metadata refresh or coordinator lookup where the code says so),
    /// lost connections and request timeouts. Configuration errors, fatal
    /// broker errors and closed clients are final.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.is_retriable(),
            Error::Connect { .. }
            | Error::Disconnected { .. }
            | Error::RequestTimeout { .. }
            | Error::Timeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the client's metadata should be refreshed before a retry:
    /// stale-metadata broker errors and anything that lost a connection.
    pub fn needs_metadata_refresh(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.class() == ErrorClass::RefreshMetadata,
            Error::Connect { .. } | Error::Disconnected { .. } | Error::RequestTimeout { .. } => true,
            _ => false,
        }
    }

    /// Whether the group coordinator must be looked up again.
    pub fn needs_coordinator_lookup(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.class() == ErrorClass::RefreshCoordinator,
            Error::Connect { .. } | Error::Disconnected { .. } | Error::RequestTimeout { .. } => true,
            _ => false,
        }
    }

    /// Whether a request failed after it may have reached the broker, so its
    /// effect is unknown (a timeout, or a connection lost after sending).
    pub fn maybe_applied(&self) -> bool {
        matches!(self, Error::Disconnected { sent: true, .. } | Error::RequestTimeout { .. })
    }
}

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_classifier() {
        let nl = Error::broker(ErrorCode::NOT_LEADER_OR_FOLLOWER, ApiKey::Produce, 1, "t-0", None);
        assert!(nl.is_retriable() && nl.needs_metadata_refresh());
        let big = Error::broker(ErrorCode::MESSAGE_TOO_LARGE, ApiKey::Produce, 1, "t-0", None);
        assert!(!big.is_retriable());
        let nc = Error::broker(ErrorCode::NOT_COORDINATOR, ApiKey::Heartbeat, 2, "group g", None);
        assert!(nc.is_retriable() && nc.needs_coordinator_lookup() && !nc.needs_metadata_refresh());
        let lost = Error::Disconnected { broker: 1, addr: "a".into(), api: ApiKey::Produce, sent: true };
        assert!(lost.is_retriable() && lost.maybe_applied());
        assert!(!Error::Closed.is_retriable());
        assert_eq!(
            nl.to_string(),
            "NOT_LEADER_OR_FOLLOWER (6): This broker is not the partition's leader (or not a replica of it). (Produce to broker 1, t-0)"
        );
    }
}
