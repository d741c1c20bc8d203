//! Producer interceptors: see every record before it is sent, and every
//! result. Interceptors run in the order they were added.

use super::delivery::RecordMetadata;
use super::record::ProducerRecord;
use crate::error::Error;

/// Observes (and may rewrite) records the producer sends.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use kafka_client::producer::{ProducerInterceptor, ProducerRecord, RecordMetadata};
///
/// #[derive(Default)]
/// struct Counter(AtomicU64);
///
/// impl ProducerInterceptor for Counter {
///     fn on_send(&self, record: ProducerRecord) -> ProducerRecord {
///         record.header("traced", "1")
///     }
///     fn on_acknowledgement(&self, _topic: &str, result: Result<&RecordMetadata, &kafka_client::Error>) {
///         if result.is_ok() { self.0.fetch_add(1, Ordering::Relaxed); }
///     }
/// }
/// ```
pub trait ProducerInterceptor: Send + Sync {
    /// Called in `send` before the record is partitioned; returns the
    /// record to send (possibly a different one).
    fn on_send(&self, record: ProducerRecord) -> ProducerRecord {
        record
    }

    /// Called once per record when its delivery succeeded or failed.
    fn on_acknowledgement(&self, topic: &str, result: Result<&RecordMetadata, &Error>) {
        let _ = (topic, result);
    }
}
