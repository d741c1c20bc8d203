//! The coordinator's state in `__transaction_state`, as Kafka keeps it:
//! every change of a transactional id's metadata is appended to the id's
//! partition as a record whose key is the id (`TransactionLogKey` v0) and
//! whose value is the metadata (`TransactionLogValue`, v1 on a cluster at
//! `transaction.version` 1 or more, else v0), each prefixed with its i16
//! version. A cluster restarted from its data directory reads the
//! partitions back, newest record per id winning, so open transactions
//! survive: an Ongoing one stays open until it ends or times out, a
//! Prepare one has its markers written again (Kafka's coordinator does the
//! same when it loads a partition).
//!
//! Where this differs from Kafka: the records are written after the
//! request or tick that changed the metadata (Kafka writes them before it
//! answers, and answers only once they are replicated), one per id per
//! request and per marker round; the coordinator's state is one for the
//! cluster, so a leader move of a `__transaction_state` partition needs no
//! load.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use kafka_protocol::Compression;
use kafka_protocol::messages::Message;
use kafka_protocol::messages::transaction_log::{TransactionLogKey, TransactionLogPartitions, TransactionLogValue};
use kafka_protocol::records::BatchBuilder;

use super::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TxnMetadata, TxnState};
use crate::cluster::Core;
use crate::cluster::partition::NO_LEADER;
use crate::cluster::topic::{self, TRANSACTION_STATE};

/// Kafka's `TransactionState` ids, as the log stores them.
fn status_id(state: TxnState) -> i8 {
    match state {
        TxnState::Empty => 0,
        TxnState::Ongoing => 1,
        TxnState::PrepareCommit => 2,
        TxnState::PrepareAbort => 3,
        TxnState::CompleteCommit => 4,
        TxnState::CompleteAbort => 5,
    }
}

fn state_of(id: i8) -> Option<TxnState> {
    Some(match id {
        0 => TxnState::Empty,
        1 => TxnState::Ongoing,
        2 => TxnState::PrepareCommit,
        3 => TxnState::PrepareAbort,
        4 => TxnState::CompleteCommit,
        5 => TxnState::CompleteAbort,
        _ => return None,
    })
}

/// The record's key bytes: version 0, then the key.
pub fn key_bytes(transactional_id: &str) -> Option<Bytes> {
    let key = TransactionLogKey { transactional_id: transactional_id.to_string(), ..Default::default() };
    let mut out = BytesMut::from(&0i16.to_be_bytes()[..]);
    out.extend_from_slice(&key.to_bytes(0).ok()?);
    Some(out.freeze())
}

/// The record's value bytes at `version` (0 or 1).
pub fn value_bytes(meta: &TxnMetadata, version: i16) -> Option<Bytes> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in &meta.partitions {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let value = TransactionLogValue {
        producer_id: meta.producer_id,
        previous_producer_id: meta.previous_producer_id,
        next_producer_id: meta.next_producer_id.unwrap_or(NO_PRODUCER_ID),
        producer_epoch: meta.producer_epoch,
        next_producer_epoch: if meta.next_producer_id.is_some() { 0 } else { NO_PRODUCER_EPOCH },
        transaction_timeout_ms: meta.timeout_ms,
        transaction_status: status_id(meta.state),
        // Kafka writes no partition list (null) for the Empty state.
        transaction_partitions: (meta.state != TxnState::Empty).then(|| {
            by_topic
                .into_iter()
                .map(|(topic, partition_ids)| TransactionLogPartitions {
                    topic: topic.to_string(),
                    partition_ids,
                    ..Default::default()
                })
                .collect()
        }),
        transaction_last_update_timestamp_ms: meta.last_update_ms,
        transaction_start_timestamp_ms: meta.start_ms,
        client_transaction_version: if meta.client_tv2 { 2 } else { 0 },
        ..Default::default()
    };
    let mut out = BytesMut::from(&version.to_be_bytes()[..]);
    out.extend_from_slice(&value.to_bytes(version).ok()?);
    Some(out.freeze())
}

/// A record read back: the id and its metadata, or None for a tombstone.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<(String, Option<TxnMetadata>)> {
    let (kv, mut kb) = split_version(key)?;
    if kv != 0 {
        return None;
    }
    let id = TransactionLogKey::decode(&mut kb, 0).ok()?.transactional_id;
    let Some(value) = value else { return Some((id, None)) };
    let (vv, mut vb) = split_version(value)?;
    let v = TransactionLogValue::decode(&mut vb, vv).ok()?;
    let state = state_of(v.transaction_status)?;
    let partitions: BTreeSet<(String, i32)> = v
        .transaction_partitions
        .unwrap_or_default()
        .into_iter()
        .flat_map(|t| t.partition_ids.into_iter().map(move |p| (t.topic.clone(), p)))
        .collect();
    let prepare = matches!(state, TxnState::PrepareCommit | TxnState::PrepareAbort);
    let meta = TxnMetadata {
        transactional_id: id.clone(),
        producer_id: v.producer_id,
        previous_producer_id: v.previous_producer_id,
        producer_epoch: v.producer_epoch,
        // Kafka does not keep the last epoch either: a retry across a
        // coordinator load is not recognised.
        last_producer_epoch: NO_PRODUCER_EPOCH,
        timeout_ms: v.transaction_timeout_ms,
        state,
        pending_markers: if prepare { partitions.clone() } else { BTreeSet::new() },
        partitions,
        start_ms: v.transaction_start_timestamp_ms,
        last_update_ms: v.transaction_last_update_timestamp_ms,
        marker_producer: if prepare { (v.producer_id, v.producer_epoch) } else { (NO_PRODUCER_ID, NO_PRODUCER_EPOCH) },
        next_producer_id: (v.next_producer_id >= 0).then_some(v.next_producer_id),
        client_tv2: v.client_transaction_version >= 2,
    };
    Some((id, Some(meta)))
}

fn split_version(bytes: &[u8]) -> Option<(i16, Bytes)> {
    let v = i16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
    Some((v, Bytes::copy_from_slice(bytes.get(2..)?)))
}

impl Core {
    /// Appends a record for every transactional id whose metadata changed
    /// since it was last written, to the leader of its `__transaction_state`
    /// partition. An id whose partition has no leader is written later.
    pub(crate) fn write_txn_log(&mut self, now_ms: i64) {
        let changed: Vec<TxnMetadata> =
            self.txns.all().filter(|m| self.txn_log_written.get(&m.transactional_id) != Some(*m)).cloned().collect();
        if changed.is_empty() {
            return;
        }
        let version = if self.transaction_version() >= 1 { 1 } else { 0 };
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        for meta in changed {
            let Some(t) = self.topics.get_mut(TRANSACTION_STATE) else { return };
            let index = topic::txn_partition_for(&meta.transactional_id, t.partitions.len() as i32);
            let Some(p) = t.partition_mut(index) else { continue };
            if p.leader == NO_LEADER || !online(p.leader) {
                continue;
            }
            let (Some(key), Some(value)) = (key_bytes(&meta.transactional_id), value_bytes(&meta, version)) else {
                tracing::warn!(transactional_id = %meta.transactional_id, "transaction metadata not encodable");
                continue;
            };
            let mut b = BatchBuilder::new(Compression::None, None);
            b.append(now_ms, Some(&key), Some(&value), &[]);
            let Ok(batch) = b.finish() else { continue };
            match p.append_records(batch, now_ms, &online) {
                Ok(_) => {
                    self.txn_log_written.insert(meta.transactional_id.clone(), meta);
                }
                Err(e) => {
                    tracing::warn!(transactional_id = %meta.transactional_id, error = %e.message, "transaction log record not written");
                }
            }
        }
    }

    /// Loads the coordinator's state from the `__transaction_state`
    /// partitions' logs (a restart from the data directory). Returns how
    /// many transactional ids were loaded.
    pub(crate) fn load_txn_log(&mut self) -> usize {
        let Some(t) = self.topics.get(TRANSACTION_STATE) else { return 0 };
        let mut loaded: BTreeMap<String, Option<TxnMetadata>> = BTreeMap::new();
        for p in &t.partitions {
            let Some(log) = p.leader_log() else { continue };
            for b in log.batches_from(log.log_start_offset()) {
                if b.header().is_control() {
                    continue;
                }
                let Ok(records) = b.record_batch().records(crate::log::MAX_DECOMPRESSED_BATCH_BYTES) else { continue };
                for r in records.flatten() {
                    let Some(key) = r.key.as_deref() else { continue };
                    if let Some((id, meta)) = decode(key, r.value.as_deref()) {
                        loaded.insert(id, meta);
                    }
                }
            }
        }
        let metas: Vec<TxnMetadata> = loaded.into_values().flatten().collect();
        let n = metas.len();
        for m in metas {
            self.next_producer_id = self.next_producer_id.max(m.producer_id + 1);
            if let Some(next) = m.next_producer_id {
                self.next_producer_id = self.next_producer_id.max(next + 1);
            }
            self.txn_log_written.insert(m.transactional_id.clone(), m.clone());
            self.txns.load(m);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_both_value_versions() {
        let mut m = TxnMetadata::new("t", 1000, 60_000, 5);
        m.producer_epoch = 3;
        m.state = TxnState::PrepareCommit;
        m.partitions = [("a".to_string(), 0), ("a".to_string(), 2), ("b".to_string(), 1)].into_iter().collect();
        m.pending_markers = m.partitions.clone();
        m.marker_producer = (1000, 3);
        m.start_ms = 4;
        m.client_tv2 = true;
        let key = key_bytes("t").unwrap();
        assert_eq!(&key[..], &[0, 0, 0, 1, b't']);
        let v1 = value_bytes(&m, 1).unwrap();
        assert_eq!(&v1[..2], &[0, 1]);
        assert_eq!(decode(&key, Some(&v1)), Some(("t".to_string(), Some(m.clone()))));
        // Version 0 has no client transaction version.
        let v0 = value_bytes(&m, 0).unwrap();
        let (_, back) = decode(&key, Some(&v0)).unwrap();
        assert!(!back.unwrap().client_tv2);
        assert_eq!(decode(&key, None), Some(("t".to_string(), None)));
        assert_eq!(decode(&[0], Some(&v1)), None);
    }
}
