//! What a test can read back from the cluster.

use std::collections::BTreeMap;

use kafka_protocol::Compression;
use kafka_protocol::records::{BatchHeader, TimestampType};

/// A partition as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Leader broker, or -1.
    pub leader: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Assigned replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// High watermark.
    pub high_watermark: i64,
    /// The leader's log start offset.
    pub log_start_offset: i64,
    /// The leader's log end offset.
    pub log_end_offset: i64,
    /// Every replica's log end offset.
    pub replica_end_offsets: BTreeMap<i32, i64>,
}

/// A stored record batch, as written by its producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// First offset.
    pub base_offset: i64,
    /// Last offset.
    pub last_offset: i64,
    /// Number of records.
    pub record_count: i32,
    /// Compression codec the producer used.
    pub compression: Compression,
    /// Producer id (-1 without idempotence).
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// First sequence number.
    pub base_sequence: i32,
    /// Leader epoch stamped by the leader.
    pub partition_leader_epoch: i32,
    /// How timestamps were set.
    pub timestamp_type: TimestampType,
    /// Largest timestamp.
    pub max_timestamp: i64,
    /// Size in bytes.
    pub size_bytes: usize,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
    /// Whether it is a control batch (a transaction marker).
    pub control: bool,
}

impl BatchInfo {
    /// Summarises a batch header.
    pub fn from_header(h: &BatchHeader) -> Self {
        BatchInfo {
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            record_count: h.record_count,
            compression: h.compression().unwrap_or_default(),
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
            base_sequence: h.base_sequence,
            partition_leader_epoch: h.partition_leader_epoch,
            timestamp_type: h.timestamp_type(),
            max_timestamp: h.max_timestamp,
            size_bytes: h.size(),
            transactional: h.is_transactional(),
            control: h.is_control(),
        }
    }
}

/// A transactional id as its coordinator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionView {
    /// The transactional id.
    pub transactional_id: String,
    /// The current producer id.
    pub producer_id: i64,
    /// The current producer epoch.
    pub producer_epoch: i16,
    /// Kafka's state name: `Empty`, `Ongoing`, `PrepareCommit`,
    /// `PrepareAbort`, `CompleteCommit` or `CompleteAbort`.
    pub state: String,
    /// The partitions of the current transaction, sorted (a group's
    /// offsets appear as its `__consumer_offsets` partition).
    pub partitions: Vec<(String, i32)>,
    /// The transaction timeout the producer asked for, in milliseconds.
    pub timeout_ms: i32,
    /// When the current transaction started (cluster clock), or -1.
    pub start_ms: i64,
    /// The broker coordinating the id (the leader of its
    /// `__transaction_state` partition), or -1.
    pub coordinator: i32,
}

impl TransactionView {
    /// Summarises a transactional id's metadata.
    pub fn from_metadata(m: &crate::txn::TxnMetadata, coordinator: i32) -> Self {
        TransactionView {
            transactional_id: m.transactional_id.clone(),
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            state: m.state.name().to_string(),
            partitions: m.partitions.iter().cloned().collect(),
            timeout_ms: m.timeout_ms,
            start_ms: m.start_ms,
            coordinator,
        }
    }
}
