//! Records as Kafka stores and ships them.
//!
//! - [`batch`]: record batch v2 (magic 2) — header, CRC32C, records, and the
//!   in-place edits a broker makes (offsets, leader epoch, LogAppendTime).
//! - [`builder`]: writing a batch, records encoded straight into its buffer.
//! - [`control`]: control records (transaction commit and abort markers).
//! - [`legacy`]: message sets of magic 0 and 1, decoded for reading old data.
//! - [`set`]: the `records` bytes of a Produce or Fetch: batches back to back,
//!   possibly ending in a partial batch.

pub mod batch;
pub mod builder;
pub mod control;
pub mod legacy;
pub mod set;

use bytes::Bytes;

pub use batch::{BatchHeader, RecordBatch, Records};
pub use builder::BatchBuilder;
pub use control::{ControlRecord, ControlRecordType};
pub use legacy::LegacyRecord;
pub use set::{RecordSet, RecordSetEntry};

/// Sentinel for "no producer id" in a batch header.
pub const NO_PRODUCER_ID: i64 = -1;
/// Sentinel for "no producer epoch".
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// Sentinel for "no sequence number".
pub const NO_SEQUENCE: i32 = -1;
/// Sentinel for "no partition leader epoch".
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// Sentinel for "no timestamp".
pub const NO_TIMESTAMP: i64 = -1;

/// How a record's timestamp was set (batch attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when it appended the batch.
    LogAppendTime,
}

/// A record header: a UTF-8 key and an optional value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// The key. Kafka keys are UTF-8; invalid bytes read as U+FFFD, as in Java.
    pub key: String,
    /// The value, or None for a null value.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with a value.
    pub fn new(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Header { key: key.into(), value: Some(value.into()) }
    }
}

/// A decoded record, with its absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset in the partition (batch base offset + delta).
    pub offset: i64,
    /// Absolute timestamp in milliseconds: base timestamp + delta, or the
    /// batch's max timestamp for LogAppendTime batches.
    pub timestamp: i64,
    /// The key, sharing the batch's buffer.
    pub key: Option<Bytes>,
    /// The value, sharing the batch's buffer.
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

#[cfg(test)]
mod tests;
