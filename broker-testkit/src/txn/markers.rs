//! Writing the markers of ending transactions: the cluster's side of the
//! coordinator's Prepare states (Kafka's `TransactionMarkerChannelManager`
//! and WriteTxnMarkers).
//!
//! Every call of [`Core::handle`] and [`Core::tick`] writes what it can: a
//! marker goes to a partition's leader through the normal append path and
//! is replicated like any batch; a partition without a leader keeps its
//! marker pending until one is elected, and a write a test makes fail
//! ([`super::marker_faults`]) is retried; a partition that no longer exists
//! needs none. A marker written to a `__consumer_offsets` partition also
//! completes the producer's pending transactional offsets there: they
//! become visible on commit and are dropped on abort, as Kafka's group
//! coordinator does when it sees the marker.

use crate::cluster::Core;
use crate::cluster::partition::NO_LEADER;
use crate::cluster::topic::CONSUMER_OFFSETS;

use super::{TopicPartition, TxnState};

impl Core {
    /// Writes the pending markers of every ending transaction that can be
    /// written now, and completes the transactions left with none.
    pub fn drive_txn_markers(&mut self, now_ms: i64) {
        self.txn_marker_faults.retrying(now_ms);
        if self.txn_markers_held {
            return;
        }
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        for tid in self.txns.ending() {
            let Some(txn) = self.txns.get(&tid) else { continue };
            let (pid, epoch) = txn.marker_producer;
            let commit = txn.state == TxnState::PrepareCommit;
            let pending: Vec<TopicPartition> = txn.pending_markers.iter().cloned().collect();
            let coordinator_epoch = self.txn_coordinator_epoch(&tid);
            for tp in pending {
                let written = match self.topics.get_mut(&tp.0).and_then(|t| t.partition_mut(tp.1)) {
                    // Deleted since it was added: there is nothing to mark.
                    None => true,
                    Some(p) if p.leader == NO_LEADER || !online(p.leader) => false,
                    Some(p) => {
                        if let Some(error) = self.txn_marker_faults.fire(&tp, p.leader, now_ms) {
                            tracing::info!(topic = %tp.0, partition = tp.1, ?error, "transaction marker write failed (injected); retrying");
                            false
                        } else {
                            match p.append_marker(pid, epoch, commit, coordinator_epoch, now_ms, &online) {
                                Ok(_) => true,
                                Err(e) => {
                                    tracing::warn!(topic = %tp.0, partition = tp.1, error = %e.message, "transaction marker not written");
                                    false
                                }
                            }
                        }
                    }
                };
                if written {
                    if tp.0 == CONSUMER_OFFSETS {
                        self.groups.complete_txn_offsets(pid, commit, now_ms);
                    }
                    self.txns.marker_written(&tid, &tp, now_ms);
                }
            }
            self.txns.maybe_complete(&tid, now_ms);
        }
    }

    /// Aborts the transactions left open in the logs of a cluster rebuilt
    /// from its data directory that the coordinator's state (loaded from
    /// `__transaction_state`) does not account for, e.g. a data directory
    /// written before the coordinator's records were kept: nothing would
    /// ever end them and their partitions' last stable offset would never
    /// move. The abort markers carry the producer's epoch bumped, fencing
    /// the producer as a timeout would. Returns how many were aborted.
    pub fn abort_orphaned_transactions(&mut self, now_ms: i64) -> usize {
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        let coordinator_epoch = 0;
        // Producers whose transaction the coordinator knows is still open
        // or ending: it will end them.
        let known: std::collections::BTreeSet<i64> = self
            .txns
            .all()
            .filter(|m| matches!(m.state, TxnState::Ongoing | TxnState::PrepareCommit | TxnState::PrepareAbort))
            .flat_map(|m| [m.producer_id, m.marker_producer.0])
            .collect();
        let mut aborted = 0;
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                if p.leader == NO_LEADER {
                    continue;
                }
                let open: Vec<i64> = p.txns.open().keys().copied().filter(|pid| !known.contains(pid)).collect();
                for pid in open {
                    let epoch = p.producers.epoch_of(pid).unwrap_or(0).saturating_add(1);
                    match p.append_marker(pid, epoch, false, coordinator_epoch, now_ms, &online) {
                        Ok(_) => aborted += 1,
                        Err(e) => {
                            tracing::warn!(topic = %t.name, partition = p.index, error = %e.message, "orphaned transaction not aborted");
                        }
                    }
                }
            }
        }
        aborted
    }
}
