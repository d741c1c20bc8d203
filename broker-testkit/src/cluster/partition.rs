//! One partition of the cluster: its replicas, each with its own log; the
//! leader, its epoch and the ISR; the high watermark; the leader's
//! idempotent-producer state.
//!
//! Replication is in-process: after every leader append, each online
//! follower that is not stalled copies the new batches from the leader's log
//! byte for byte. A stalled follower (a test control) copies nothing, so it
//! falls behind, leaves the ISR after `replica.lag.time.max.ms`, and rejoins
//! once it has caught up — as in Kafka. The high watermark is the smallest
//! log end offset over the ISR and never moves back while a leader stays.
//!
//! Elections follow Kafka's rules: the first online replica of the
//! assignment that is in the ISR (any online replica with
//! `unclean.leader.election.enable`), the leader epoch bumped, and every
//! follower truncated where its log diverges from the new leader's (Kafka's
//! OffsetForLeaderEpoch exchange; a stopped broker's replica when it starts
//! again), so records a lost leader wrote with acks=1 but never replicated
//! disappear, as they do in Kafka. When the last ISR member goes offline it
//! stays in the ISR with no leader, so it can lead again when it returns.

use std::collections::BTreeMap;

use kafka_protocol::ErrorCode;

use kafka_protocol::Compression;
use kafka_protocol::records::{BatchBuilder, ControlRecord, ControlRecordType};

use super::partition_txns::PartitionTxns;
use super::producer_state::{BatchMeta, ProducerStates, SequenceVerdict};
use super::validate::ValidBatch;
use crate::config::EffectiveTopicConfig;
use crate::log::{Log, LogConfig};

/// No leader.
pub const NO_LEADER: i32 = -1;

/// One replica: a broker's copy of the partition.
#[derive(Debug)]
pub struct Replica {
    /// Its log.
    pub log: Log,
    /// When it was last fully caught up with the leader.
    pub last_caught_up_ms: i64,
    /// A test control: a stalled follower copies nothing.
    pub stalled: bool,
}

/// What a leader append produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// The append time for LogAppendTime topics, else -1.
    pub log_append_time: i64,
    /// True when the batch was a duplicate and was not written again.
    pub duplicate: bool,
}

/// A refused append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The error.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

/// One partition.
#[derive(Debug)]
pub struct Partition {
    /// Partition number.
    pub index: i32,
    /// Assigned brokers; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// Current leader, or [`NO_LEADER`].
    pub leader: i32,
    /// Current leader epoch.
    pub leader_epoch: i32,
    /// In-sync replicas (the leader included).
    pub isr: Vec<i32>,
    /// Each replica's state, by broker.
    pub logs: BTreeMap<i32, Replica>,
    /// The high watermark.
    pub high_watermark: i64,
    /// The leader's log end offset when it became leader (a follower must
    /// reach it to rejoin the ISR, as in Kafka).
    pub leader_epoch_start_offset: i64,
    /// Idempotent-producer state, as the leader holds it.
    pub producers: ProducerStates,
    /// Open and aborted transactions, as the leader holds them.
    pub txns: PartitionTxns,
}

impl Partition {
    /// A new partition with empty logs on `replicas`; the first online one leads.
    pub fn new(
        index: i32,
        replicas: Vec<i32>,
        log_config: LogConfig,
        now_ms: i64,
        online: &dyn Fn(i32) -> bool,
        record_ops: bool,
    ) -> Self {
        let logs = replicas
            .iter()
            .map(|&b| {
                (
                    b,
                    Replica {
                        log: Log::new(log_config, now_ms, record_ops),
                        last_caught_up_ms: now_ms,
                        stalled: false,
                    },
                )
            })
            .collect();
        let mut isr: Vec<i32> = replicas.iter().copied().filter(|&b| online(b)).collect();
        if isr.is_empty() {
            isr = replicas.first().copied().into_iter().collect();
        }
        let leader = replicas.iter().copied().find(|&b| online(b)).unwrap_or(NO_LEADER);
        let mut p = Partition {
            index,
            replicas,
            leader,
            leader_epoch: 0,
            isr,
            logs,
            high_watermark: 0,
            leader_epoch_start_offset: 0,
            producers: ProducerStates::new(),
            txns: PartitionTxns::new(),
        };
        if leader != NO_LEADER
            && let Some(r) = p.logs.get_mut(&leader)
        {
            r.log.assign_epoch(0, 0);
        }
        p
    }

    /// The leader's replica.
    pub fn leader_replica(&self) -> Option<&Replica> {
        self.logs.get(&self.leader)
    }

    /// The leader's log.
    pub fn leader_log(&self) -> Option<&Log> {
        self.leader_replica().map(|r| &r.log)
    }

    /// The leader's log end offset (0 without a leader).
    pub fn log_end_offset(&self) -> i64 {
        self.leader_log().map_or(0, Log::log_end_offset)
    }

    /// The leader's log start offset (0 without a leader).
    pub fn log_start_offset(&self) -> i64 {
        self.leader_log().map_or(0, Log::log_start_offset)
    }

    /// Brokers hosting a replica that are offline.
    pub fn offline_replicas(&self, online: &dyn Fn(i32) -> bool) -> Vec<i32> {
        self.replicas.iter().copied().filter(|&b| !online(b)).collect()
    }

    /// Appends a validated batch on the leader (the caller checked that this
    /// broker leads), then replicates. `acks` is -1, 0 or 1.
    pub fn append(
        &mut self,
        batch: ValidBatch,
        cfg: &EffectiveTopicConfig,
        acks: i16,
        now_ms: i64,
        online: &dyn Fn(i32) -> bool,
    ) -> Result<Appended, Refused> {
        if acks == -1 && self.isr.len() < cfg.min_insync_replicas {
            return Err(Refused {
                code: ErrorCode::NOT_ENOUGH_REPLICAS,
                message: format!(
                    "{} in-sync replicas, fewer than min.insync.replicas={}",
                    self.isr.len(),
                    cfg.min_insync_replicas
                ),
            });
        }
        let h = batch.header;
        if h.producer_id >= 0 {
            match self.producers.check(h.producer_id, h.producer_epoch, h.base_sequence, h.last_sequence()) {
                SequenceVerdict::Append => {}
                SequenceVerdict::Duplicate(meta) => {
                    return Ok(Appended {
                        base_offset: meta.first_offset,
                        last_offset: meta.last_offset,
                        // Kafka answers a duplicate with the original batch's
                        // timestamp as its append time, whatever the topic's
                        // timestamp type.
                        log_append_time: meta.timestamp,
                        duplicate: true,
                    });
                }
                SequenceVerdict::Reject(code) => {
                    return Err(Refused {
                        code,
                        message: format!(
                            "producer {} epoch {} sequences {}..={} rejected",
                            h.producer_id,
                            h.producer_epoch,
                            h.base_sequence,
                            h.last_sequence()
                        ),
                    });
                }
            }
        }
        let epoch = self.leader_epoch;
        let log_append_time = cfg.log_append_time.then_some(now_ms);
        let Some(leader) = self.logs.get_mut(&self.leader) else {
            return Err(Refused { code: ErrorCode::NOT_LEADER_OR_FOLLOWER, message: "no leader".into() });
        };
        let info = leader
            .log
            .append_as_leader(batch.bytes, epoch, log_append_time, now_ms)
            .map_err(|e| Refused { code: ErrorCode::KAFKA_STORAGE_ERROR, message: e.to_string() })?;
        leader.last_caught_up_ms = now_ms;
        if h.producer_id >= 0 && h.is_transactional() {
            self.txns.data_written(h.producer_id, info.base_offset);
        }
        if h.producer_id >= 0 {
            self.producers.record(
                h.producer_id,
                h.producer_epoch,
                BatchMeta {
                    first_seq: h.base_sequence,
                    last_seq: h.last_sequence(),
                    first_offset: info.base_offset,
                    last_offset: info.last_offset,
                    timestamp: if cfg.log_append_time { now_ms } else { info.max_timestamp },
                },
            );
        }
        self.replicate(now_ms, online);
        Ok(Appended {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
            log_append_time: info.log_append_time,
            duplicate: false,
        })
    }

    /// Rebuilds the leader's producer and transaction state from its log,
    /// as Kafka does when a replica becomes leader or a broker restarts.
    pub fn rebuild_leader_state(&mut self) {
        match self.logs.get(&self.leader) {
            Some(r) => {
                let log = &r.log;
                self.producers = ProducerStates::rebuild_from_log(log.batches_from(log.log_start_offset()));
                self.producers.seed_missing(log.producer_state().entries());
                self.txns = PartitionTxns::rebuild(log.batches_from(log.log_start_offset()));
            }
            None => {
                self.producers = ProducerStates::new();
                self.txns = PartitionTxns::new();
            }
        }
    }

    /// The last stable offset: the first offset of the oldest open
    /// transaction, capped by the high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.txns.last_stable_offset(self.high_watermark)
    }

    /// Writes a commit or abort marker of producer `pid` at `epoch` on the
    /// leader and replicates it, as the transaction coordinator's
    /// WriteTxnMarkers does. Returns the marker's offset.
    pub fn append_marker(
        &mut self,
        pid: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
        online: &dyn Fn(i32) -> bool,
    ) -> Result<i64, Refused> {
        let kind = if commit { ControlRecordType::Commit } else { ControlRecordType::Abort };
        let mut b = BatchBuilder::new(Compression::None, None);
        // A marker carries the producer's id and epoch and no sequence.
        b.set_producer(pid, epoch, -1);
        b.append_control(now_ms, &ControlRecord { kind, coordinator_epoch });
        let bytes =
            b.finish().map_err(|e| Refused { code: ErrorCode::UNKNOWN_SERVER_ERROR, message: e.to_string() })?;
        let leader_epoch = self.leader_epoch;
        let Some(leader) = self.logs.get_mut(&self.leader) else {
            return Err(Refused { code: ErrorCode::NOT_LEADER_OR_FOLLOWER, message: "no leader".into() });
        };
        let info = leader
            .log
            .append_as_leader(bytes::BytesMut::from(&bytes[..]), leader_epoch, None, now_ms)
            .map_err(|e| Refused { code: ErrorCode::KAFKA_STORAGE_ERROR, message: e.to_string() })?;
        leader.last_caught_up_ms = now_ms;
        self.producers.marker_from(pid, epoch, Some(coordinator_epoch), now_ms);
        self.replicate(now_ms, online);
        self.txns.marker_written(pid, commit, info.base_offset, self.high_watermark);
        Ok(info.base_offset)
    }

    /// Appends a batch the cluster itself writes (a coordinator's record)
    /// as the leader, and replicates it. Returns its offset.
    pub fn append_records(
        &mut self,
        batch: bytes::Bytes,
        now_ms: i64,
        online: &dyn Fn(i32) -> bool,
    ) -> Result<i64, Refused> {
        let leader_epoch = self.leader_epoch;
        let Some(leader) = self.logs.get_mut(&self.leader) else {
            return Err(Refused { code: ErrorCode::NOT_LEADER_OR_FOLLOWER, message: "no leader".into() });
        };
        let info = leader
            .log
            .append_as_leader(bytes::BytesMut::from(&batch[..]), leader_epoch, None, now_ms)
            .map_err(|e| Refused { code: ErrorCode::KAFKA_STORAGE_ERROR, message: e.to_string() })?;
        leader.last_caught_up_ms = now_ms;
        self.replicate(now_ms, online);
        Ok(info.base_offset)
    }

    /// Copies new leader batches to every online, non-stalled follower, lets
    /// caught-up followers rejoin the ISR, and advances the high watermark.
    /// Returns true when the high watermark moved.
    pub fn replicate(&mut self, now_ms: i64, online: &dyn Fn(i32) -> bool) -> bool {
        if self.leader == NO_LEADER {
            return false;
        }
        let leader_id = self.leader;
        let Some(mut leader) = self.logs.remove(&leader_id) else { return false };
        let leader_leo = leader.log.log_end_offset();
        for (&b, f) in self.logs.iter_mut() {
            if !online(b) || f.stalled {
                continue;
            }
            let from = f.log.log_end_offset();
            if from < leader.log.log_start_offset() {
                // The follower fell below the leader's retention: it restarts
                // from the leader's log start, as Kafka's fetcher does.
                if let Err(e) = f.log.truncate_fully_and_start_at(leader.log.log_start_offset(), now_ms) {
                    tracing::error!(broker = b, error = %e, "follower cannot restart its log");
                    continue;
                }
            }
            let from = f.log.log_end_offset();
            for stored in leader.log.batches_from(from) {
                if stored.base_offset() < from {
                    continue;
                }
                if f.log.append_as_follower(stored.bytes().clone(), now_ms).is_err() {
                    break;
                }
            }
            if f.log.log_end_offset() >= leader_leo {
                f.last_caught_up_ms = now_ms;
            }
        }
        leader.last_caught_up_ms = now_ms;
        self.logs.insert(leader_id, leader);
        // Rejoin: a follower that reached the leader's end offset (and at
        // least the start of this leader's epoch) is in sync again.
        for &b in &self.replicas.clone() {
            if self.isr.contains(&b) || !online(b) {
                continue;
            }
            if let Some(f) = self.logs.get(&b) {
                let leo = f.log.log_end_offset();
                if leo >= leader_leo && leo >= self.leader_epoch_start_offset && leo >= self.high_watermark {
                    self.isr.push(b);
                }
            }
        }
        self.update_high_watermark()
    }

    /// Recomputes the high watermark from the ISR; true when it advanced.
    pub fn update_high_watermark(&mut self) -> bool {
        if self.leader == NO_LEADER {
            return false;
        }
        let min = self.isr.iter().filter_map(|b| self.logs.get(b)).map(|r| r.log.log_end_offset()).min();
        match min {
            Some(hw) if hw > self.high_watermark => {
                self.high_watermark = hw;
                true
            }
            _ => false,
        }
    }

    /// Removes followers that have not caught up for `lag_ms` from the ISR.
    /// Returns true when the ISR changed (the high watermark may then rise).
    pub fn shrink_isr(&mut self, now_ms: i64, lag_ms: i64) -> bool {
        if self.leader == NO_LEADER {
            return false;
        }
        let leader_leo = self.log_end_offset();
        let before = self.isr.len();
        let leader = self.leader;
        let logs = &self.logs;
        self.isr.retain(|&b| {
            b == leader
                || logs
                    .get(&b)
                    .is_some_and(|r| r.log.log_end_offset() >= leader_leo || now_ms - r.last_caught_up_ms <= lag_ms)
        });
        let changed = self.isr.len() != before;
        if changed {
            self.update_high_watermark();
        }
        changed
    }

    /// When the next lagging follower would leave the ISR, if any.
    pub fn next_isr_deadline(&self, lag_ms: i64) -> Option<i64> {
        let leader_leo = self.log_end_offset();
        self.isr
            .iter()
            .filter(|&&b| b != self.leader)
            .filter_map(|b| self.logs.get(b))
            .filter(|r| r.log.log_end_offset() < leader_leo)
            .map(|r| r.last_caught_up_ms + lag_ms + 1)
            .min()
    }

    /// A broker stopped: it leaves the ISR (unless it is the last member) and
    /// a new leader is elected if it led. Returns true when leadership changed.
    pub fn broker_stopped(&mut self, broker: i32, now_ms: i64, online: &dyn Fn(i32) -> bool, unclean: bool) -> bool {
        if !self.replicas.contains(&broker) {
            return false;
        }
        if self.isr.len() > 1 {
            self.isr.retain(|&b| b != broker);
        }
        if self.leader == broker {
            self.elect(now_ms, online, unclean, None);
            return true;
        }
        self.update_high_watermark();
        false
    }

    /// A broker started: its replica truncates to the leader and catches up;
    /// a partition without a leader elects one. True when leadership changed.
    pub fn broker_started(&mut self, broker: i32, now_ms: i64, online: &dyn Fn(i32) -> bool, unclean: bool) -> bool {
        if !self.replicas.contains(&broker) {
            return false;
        }
        if self.leader == NO_LEADER {
            self.elect(now_ms, online, unclean, None);
            return true;
        }
        self.truncate_follower(broker, now_ms);
        self.replicate(now_ms, online);
        false
    }

    /// Elects a leader: `preferred` if it is eligible, else the first eligible
    /// replica in assignment order. Eligible means online and in the ISR, or
    /// any online replica when unclean election is enabled and no ISR member
    /// is online. Bumps the epoch even when the leader stays (Kafka does on
    /// every election).
    pub fn elect(&mut self, now_ms: i64, online: &dyn Fn(i32) -> bool, unclean: bool, preferred: Option<i32>) {
        let in_isr = |b: i32| self.isr.contains(&b) && online(b);
        let candidates: Vec<i32> = preferred.into_iter().chain(self.replicas.iter().copied()).collect();
        let mut new_leader = candidates.iter().copied().find(|&b| in_isr(b));
        let mut was_unclean = false;
        if new_leader.is_none() && unclean {
            new_leader = candidates.iter().copied().find(|&b| online(b));
            was_unclean = new_leader.is_some();
        }
        self.leader_epoch += 1;
        let Some(leader) = new_leader else {
            // Offline partition: keep the ISR (it names who may lead later).
            self.leader = NO_LEADER;
            return;
        };
        self.leader = leader;
        if was_unclean {
            self.isr = vec![leader];
        } else if !self.isr.contains(&leader) {
            self.isr.push(leader);
        }
        let epoch = self.leader_epoch;
        if let Some(r) = self.logs.get_mut(&leader) {
            let leo = r.log.log_end_offset();
            r.log.assign_epoch(epoch, leo);
            r.last_caught_up_ms = now_ms;
            self.leader_epoch_start_offset = leo;
            // Records above the new leader's end are gone; the watermark can
            // only exceed it after an unclean election.
            self.high_watermark = self.high_watermark.min(leo);
        }
        self.rebuild_leader_state();
        // Kafka's `makeLeader` resets the followers' state: one in the ISR
        // counts as caught up now, so it gets a full replica.lag.time.max.ms
        // under the new leader.
        for &b in &self.isr {
            if b != leader
                && let Some(r) = self.logs.get_mut(&b)
            {
                r.last_caught_up_ms = now_ms;
            }
        }
        // A stopped broker's log stays as it is until it starts again and
        // truncates then (`broker_started`), as a Kafka broker's disk does.
        for b in self.replicas.clone() {
            if b != leader && online(b) {
                self.truncate_follower(b, now_ms);
            }
        }
        self.replicate(now_ms, online);
    }

    /// Truncates follower `broker` where its log diverges from the leader's:
    /// Kafka's OffsetForLeaderEpoch exchange. The follower asks for the end
    /// of its latest epoch; the leader answers with the largest epoch it
    /// knows at or below it and that epoch's end offset; the follower keeps
    /// what lies below both that offset and its own end of that epoch.
    pub fn truncate_follower(&mut self, broker: i32, now_ms: i64) {
        if broker == self.leader {
            return;
        }
        let Some(leader) = self.logs.get(&self.leader) else { return };
        let Some(follower) = self.logs.get(&broker) else { return };
        let f_leo = follower.log.log_end_offset();
        let target = match follower.log.latest_epoch() {
            None => follower.log.log_start_offset().min(f_leo),
            Some(f_epoch) => {
                let (l_epoch, l_end) = leader.log.end_offset_for_epoch(f_epoch);
                if l_epoch < 0 {
                    // The leader knows no epoch this old: start over from its start.
                    leader.log.log_start_offset()
                } else if l_epoch == f_epoch {
                    l_end.min(f_leo)
                } else {
                    let (_, f_end) = follower.log.end_offset_for_epoch(l_epoch);
                    l_end.min(f_end).min(f_leo)
                }
            }
        };
        let leader_start = leader.log.log_start_offset();
        if let Some(f) = self.logs.get_mut(&broker) {
            let result = if target < f.log.log_start_offset() || target < leader_start {
                f.log.truncate_fully_and_start_at(leader_start, now_ms)
            } else if target < f_leo {
                f.log.truncate_to(target, now_ms).map(|_| ())
            } else {
                Ok(())
            };
            if let Err(e) = result {
                tracing::error!(broker, error = %e, "follower truncation failed");
            }
        }
    }

    /// Stalls or resumes follower `broker` (a test control).
    pub fn set_stalled(&mut self, broker: i32, stalled: bool, now_ms: i64, online: &dyn Fn(i32) -> bool) {
        let leader_leo = self.log_end_offset();
        let is_leader = broker == self.leader;
        if let Some(r) = self.logs.get_mut(&broker) {
            // Until now the follower was fetching, and Kafka's leader marks a
            // follower caught up on every fetch that reaches its log end: it
            // leaves the ISR replica.lag.time.max.ms after it stalls, however
            // long the partition was idle before.
            if stalled && !r.stalled && !is_leader && online(broker) && r.log.log_end_offset() >= leader_leo {
                r.last_caught_up_ms = now_ms;
            }
            r.stalled = stalled;
        }
        if !stalled {
            self.replicate(now_ms, online);
        }
    }
}
