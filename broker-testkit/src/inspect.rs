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
        }
    }
}
