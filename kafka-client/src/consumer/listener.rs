//! The rebalance listener: your code at the moments partitions change hands.
//!
//! Its methods are async: they may await — for example to commit the
//! offsets processed so far before a partition is revoked — and they run
//! inside `poll` (or `next` on the stream), so no record of a revoked
//! partition is handed out after its revocation. Their time counts against
//! the group's rebalance timeout (`max.poll.interval.ms`). If the `poll`
//! that runs a listener call is cancelled, the call is made again on the
//! next `poll`.

use futures::future::BoxFuture;

use super::Consumer;
use crate::TopicPartition;

/// Called when the group's assignment changes.
///
/// ```
/// use futures::future::BoxFuture;
/// use kafka_client::consumer::{Consumer, RebalanceListener};
/// use kafka_client::TopicPartition;
///
/// struct CommitOnRevoke;
///
/// impl RebalanceListener for CommitOnRevoke {
///     fn on_partitions_revoked<'a>(&'a self, consumer: &'a Consumer, _partitions: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
///         Box::pin(async move {
///             // Commit what was processed before another member takes over.
///             let _ = consumer.commit().await;
///         })
///     }
/// }
/// ```
pub trait RebalanceListener: Send + Sync {
    /// Partitions are about to go to other members (the consumer is still
    /// in the group: commits are accepted).
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// Partitions were assigned to this consumer.
    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer,
        partitions: &'a [TopicPartition],
    ) -> BoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// Partitions were lost: the group moved on without this consumer
    /// (session expired, generation fenced), so they may already belong to
    /// another member. Commits would be refused; the default calls
    /// nothing. (Java's default calls `on_partitions_revoked`; here the two
    /// are kept apart so a revocation handler can always commit.)
    fn on_partitions_lost<'a>(&'a self, consumer: &'a Consumer, partitions: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }
}

/// A listener that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopListener;

impl RebalanceListener for NoopListener {}
