//! The cluster's state and its request handling, free of I/O.
//!
//! [`Core`] holds everything a cluster knows — brokers, topics with their
//! partitions and replica logs, the group coordinator, producer ids — and
//! is driven by three calls: [`Core::handle`] for a request that arrived on
//! some broker, [`Core::tick`] for timers, and the control methods a test
//! uses to break things. Requests that must wait (acks=all until the ISR has
//! the records, a long-polling Fetch, a JoinGroup until the rebalance
//! completes) are parked under the caller's [`ReplyId`] and completed by a
//! later call; every call returns the replies that became ready. Time comes
//! in as milliseconds; nothing here reads a clock or touches a socket.

pub mod partition;
pub mod partition_txns;
pub mod producer_state;
pub mod topic;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use kafka_protocol::header::RequestHeader;
use kafka_protocol::messages::{FetchRequest, ProduceResponse, RequestBody, ResponseBody};
use kafka_protocol::{ApiKey, Uuid};

use crate::config::{BrokerSettings, TopicDefaults, TopicOverrides};
use crate::group::{GroupConfig, GroupCoordinator};
use crate::handlers;
use crate::persist::{self, Persistence};
use crate::txn::marker_faults::MarkerFaults;
use crate::txn::{TransactionCoordinator, TxnConfig, TxnMetadata};
use partition::{NO_LEADER, Partition};
use topic::{CONSUMER_OFFSETS, TRANSACTION_STATE, Topic};

/// The coordinator settings the broker settings imply.
pub fn group_config(settings: &BrokerSettings) -> GroupConfig {
    let ms = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    GroupConfig {
        initial_rebalance_delay_ms: ms(settings.group_initial_rebalance_delay_ms),
        min_session_timeout_ms: ms(settings.group_min_session_timeout_ms),
        max_session_timeout_ms: ms(settings.group_max_session_timeout_ms),
        ..GroupConfig::default()
    }
}

/// Identifies a request that may be answered later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyId(pub u64);

/// What the connection that sent a request should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Send this response.
    Respond(ResponseBody),
    /// Send nothing (a successful acks=0 produce).
    NoResponse,
    /// Close the connection without answering (as Kafka does for a failed
    /// acks=0 produce).
    Close,
}

/// A broker of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Its id.
    pub id: i32,
    /// The host clients should connect to.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Its rack, if any.
    pub rack: Option<String>,
    /// Whether it is running.
    pub online: bool,
}

/// Context of one request.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Current time.
    pub now_ms: i64,
    /// The broker the request arrived at.
    pub broker: i32,
    /// The API version.
    pub version: i16,
    /// The request header.
    pub header: RequestHeader,
    /// Where the answer goes.
    pub reply: ReplyId,
    /// The client's address, for DescribeGroups.
    pub client_host: String,
}

/// A produce request waiting for its records to reach the ISR (acks=all).
#[derive(Debug)]
pub(crate) struct PendingProduce {
    pub reply: ReplyId,
    pub broker: i32,
    pub deadline_ms: i64,
    pub response: ProduceResponse,
    /// The partitions still waiting for replication.
    pub waits: Vec<ProduceWait>,
}

/// One partition of a parked acks=all produce.
#[derive(Debug)]
pub(crate) struct ProduceWait {
    /// Where its answer sits in the response (topic index, partition index).
    pub slot: (usize, usize),
    pub topic: String,
    pub partition: i32,
    /// The offset the high watermark must reach: the batch's last offset + 1.
    pub need: i64,
    /// The leader epoch the batch was appended (or found as a duplicate)
    /// under. Once the epoch changes the records may have been truncated
    /// and replaced, so the answer is NOT_LEADER_OR_FOLLOWER, as Kafka
    /// answers delayed produces when its leadership changes.
    pub leader_epoch: i32,
}

/// A fetch waiting for `min_bytes` or `max_wait_ms`.
#[derive(Debug)]
pub(crate) struct PendingFetch {
    pub reply: ReplyId,
    pub broker: i32,
    pub version: i16,
    pub deadline_ms: i64,
    pub request: FetchRequest,
}

/// The cluster; see the module docs.
#[derive(Debug)]
pub struct Core {
    /// The cluster id.
    pub cluster_id: String,
    /// Broker settings.
    pub settings: BrokerSettings,
    /// Cluster-wide topic config defaults.
    pub topic_defaults: TopicDefaults,
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, Topic>,
    /// The group coordinator (for every group; routing decides which broker answers).
    pub groups: GroupCoordinator,
    /// The transaction coordinator (for every transactional id; routing
    /// decides which broker answers).
    pub txns: TransactionCoordinator,
    /// A test control: while set, transaction markers are not written, so
    /// ending transactions stay in PrepareCommit / PrepareAbort.
    pub txn_markers_held: bool,
    /// A test control: marker writes that fail, as a WriteTxnMarkers
    /// answer with an error would; the markers stay pending and are retried.
    pub txn_marker_faults: MarkerFaults,
    /// The transaction metadata last written to `__transaction_state`, by id.
    pub(crate) txn_log_written: BTreeMap<String, TxnMetadata>,
    /// The next producer id InitProducerId hands out.
    pub next_producer_id: i64,
    pub(crate) pending_produce: Vec<PendingProduce>,
    pub(crate) pending_fetch: Vec<PendingFetch>,
    /// Disk persistence, when the cluster has a data directory.
    pub storage: Option<Persistence>,
    /// The metadata last written to the data directory.
    pub(crate) written_meta: String,
    /// Replies made ready by control calls, delivered on the next call.
    pub(crate) ready: Vec<(ReplyId, Outcome)>,
}

impl Core {
    /// A cluster of `brokers` (all online), without topics.
    pub fn new(
        cluster_id: String,
        brokers: Vec<BrokerInfo>,
        settings: BrokerSettings,
        storage: Option<Persistence>,
    ) -> Self {
        let groups = GroupCoordinator::new(group_config(&settings));
        let txns = TransactionCoordinator::new(TxnConfig { max_timeout_ms: settings.transaction_max_timeout_ms });
        Core {
            cluster_id,
            settings,
            topic_defaults: TopicDefaults::default(),
            brokers: brokers.into_iter().map(|b| (b.id, b)).collect(),
            topics: BTreeMap::new(),
            groups,
            txns,
            txn_markers_held: false,
            txn_marker_faults: MarkerFaults::default(),
            txn_log_written: BTreeMap::new(),
            next_producer_id: 1000,
            pending_produce: Vec::new(),
            pending_fetch: Vec::new(),
            storage,
            written_meta: String::new(),
            ready: Vec::new(),
        }
    }

    /// Whether broker `id` is running.
    pub fn is_online(&self, id: i32) -> bool {
        self.brokers.get(&id).is_some_and(|b| b.online)
    }

    /// The ids of running brokers, sorted.
    pub fn online_brokers(&self) -> Vec<i32> {
        self.brokers.values().filter(|b| b.online).map(|b| b.id).collect()
    }

    /// The controller: the lowest running broker (what clients are told).
    pub fn controller(&self) -> i32 {
        self.online_brokers().first().copied().unwrap_or(-1)
    }

    /// The topic with id `id`.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&Topic> {
        self.topics.values().find(|t| t.id == id)
    }

    /// A fresh random topic id (never zero).
    pub fn new_topic_id(&self) -> Uuid {
        loop {
            let id = Uuid::from_u128((u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..)));
            if !id.is_zero() && self.topic_by_id(id).is_none() {
                return id;
            }
        }
    }

    /// Handles one request. `ctx.reply` receives the answer now or later;
    /// the result holds every reply that became ready.
    pub fn handle(&mut self, ctx: RequestCtx, body: RequestBody) -> Vec<(ReplyId, Outcome)> {
        let mut out = std::mem::take(&mut self.ready);
        let reply = ctx.reply;
        let now = ctx.now_ms;
        match handlers::dispatch(self, &ctx, body) {
            handlers::Handled::Now(resp) => out.push((reply, Outcome::Respond(resp))),
            handlers::Handled::NoResponse => out.push((reply, Outcome::NoResponse)),
            handlers::Handled::Close => out.push((reply, Outcome::Close)),
            handlers::Handled::Later => {}
            handlers::Handled::Replies(replies) => out.extend(replies),
        }
        self.write_txn_log(now);
        self.drive_txn_markers(now);
        self.write_txn_log(now);
        out.extend(self.wake(now));
        self.flush_storage();
        out
    }

    /// Fires timers (ISR shrink, retention, fetch and produce timeouts, group
    /// sessions and rebalances) and returns replies that became ready.
    pub fn tick(&mut self, now_ms: i64) -> Vec<(ReplyId, Outcome)> {
        let mut out = std::mem::take(&mut self.ready);
        let lag = self.settings.replica_lag_time_max_ms;
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                p.shrink_isr(now_ms, lag);
            }
        }
        out.extend(handlers::groups::tick(self, now_ms));
        self.txns.abort_timed_out(now_ms);
        self.write_txn_log(now_ms);
        self.drive_txn_markers(now_ms);
        self.write_txn_log(now_ms);
        out.extend(self.wake(now_ms));
        out.extend(self.expire(now_ms));
        self.flush_storage();
        out
    }

    /// When [`Self::tick`] should next run.
    pub fn next_deadline(&self) -> Option<i64> {
        let lag = self.settings.replica_lag_time_max_ms;
        let isr = self.topics.values().flat_map(|t| t.partitions.iter()).filter_map(|p| p.next_isr_deadline(lag)).min();
        let fetch = self.pending_fetch.iter().map(|f| f.deadline_ms).min();
        let produce = self.pending_produce.iter().map(|p| p.deadline_ms).min();
        let groups = self.groups.next_deadline();
        let txns = self.txns.next_deadline();
        let marker_retry = self.txn_marker_faults.retry_deadline();
        [isr, fetch, produce, groups, txns, marker_retry].into_iter().flatten().min()
    }

    /// Completes parked produces and fetches whose conditions now hold
    /// (for control calls that change what they wait for).
    pub(crate) fn wake_parked(&mut self, now_ms: i64) -> Vec<(ReplyId, Outcome)> {
        self.wake(now_ms)
    }

    /// Completes parked produces and fetches whose conditions now hold.
    fn wake(&mut self, now_ms: i64) -> Vec<(ReplyId, Outcome)> {
        let mut out = Vec::new();
        let pending = std::mem::take(&mut self.pending_produce);
        for p in pending {
            match handlers::produce::try_complete(self, p) {
                Ok(resp) => out.push(resp),
                Err(still) => self.pending_produce.push(still),
            }
        }
        let pending = std::mem::take(&mut self.pending_fetch);
        for f in pending {
            match handlers::fetch::try_complete(self, f, now_ms, false) {
                Ok(resp) => out.push(resp),
                Err(still) => self.pending_fetch.push(still),
            }
        }
        out
    }

    /// Answers parked requests whose deadline passed.
    fn expire(&mut self, now_ms: i64) -> Vec<(ReplyId, Outcome)> {
        let mut out = Vec::new();
        let pending = std::mem::take(&mut self.pending_produce);
        for p in pending {
            if now_ms >= p.deadline_ms {
                out.push(handlers::produce::time_out(p));
            } else {
                self.pending_produce.push(p);
            }
        }
        let pending = std::mem::take(&mut self.pending_fetch);
        for f in pending {
            if now_ms >= f.deadline_ms {
                match handlers::fetch::try_complete(self, f, now_ms, true) {
                    Ok(resp) => out.push(resp),
                    Err(still) => self.pending_fetch.push(still),
                }
            } else {
                self.pending_fetch.push(f);
            }
        }
        out
    }

    /// Creates a topic. `assignment` overrides placement (one replica list
    /// per partition). Validation is the caller's (CreateTopics checks it).
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: usize,
        assignment: Option<Vec<Vec<i32>>>,
        overrides: TopicOverrides,
        now_ms: i64,
    ) -> Uuid {
        let online = self.online_brokers();
        let assignment = assignment.unwrap_or_else(|| {
            let start = fastrand::usize(..online.len().max(1));
            topic::assign_replicas(&online, partitions, replication_factor, start, 0)
        });
        let id = self.new_topic_id();
        let cfg = crate::config::EffectiveTopicConfig::resolve(&overrides, &self.topic_defaults);
        let log_cfg = topic::log_config(&cfg);
        let record = self.storage.is_some();
        let brokers = self.brokers.clone();
        let is_online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        let parts = assignment
            .into_iter()
            .enumerate()
            .map(|(i, r)| Partition::new(i as i32, r, log_cfg, now_ms, &is_online, record))
            .collect();
        let t = Topic { name: name.to_string(), id, internal: topic::is_internal(name), partitions: parts, overrides };
        if let Some(s) = &mut self.storage {
            s.topic_created(&t);
        }
        self.topics.insert(name.to_string(), t);
        id
    }

    /// Deletes a topic and its data; parked requests about it are answered
    /// by their next wake-up.
    pub fn delete_topic(&mut self, name: &str) -> bool {
        match self.topics.remove(name) {
            Some(t) => {
                self.groups.topic_deleted(name);
                if let Some(s) = &mut self.storage {
                    s.topic_deleted(&t);
                }
                true
            }
            None => false,
        }
    }

    /// The coordinator broker of group `group`: the leader of its
    /// `__consumer_offsets` partition, which is created on first use.
    pub fn coordinator_for(&mut self, group: &str, now_ms: i64) -> Option<i32> {
        if !self.topics.contains_key(CONSUMER_OFFSETS) {
            let rf = (self.settings.offsets_topic_replication_factor.max(1) as usize).min(self.online_brokers().len());
            if rf == 0 {
                return None;
            }
            let parts = self.settings.offsets_topic_partitions.max(1);
            self.create_topic(CONSUMER_OFFSETS, parts, rf, None, TopicOverrides::default(), now_ms);
        }
        let t = self.topics.get(CONSUMER_OFFSETS)?;
        let p = topic::offsets_partition_for(group, t.partitions.len() as i32);
        t.partition(p).map(|p| p.leader).filter(|&l| l != NO_LEADER)
    }

    /// The coordinator broker of transactional id `transactional_id`: the
    /// leader of its `__transaction_state` partition, which is created on
    /// first use, as Kafka does.
    pub fn txn_coordinator_for(&mut self, transactional_id: &str, now_ms: i64) -> Option<i32> {
        if !self.topics.contains_key(TRANSACTION_STATE) {
            let rf =
                (self.settings.transaction_state_replication_factor.max(1) as usize).min(self.online_brokers().len());
            if rf == 0 {
                return None;
            }
            let parts = self.settings.transaction_state_partitions.max(1);
            self.create_topic(TRANSACTION_STATE, parts, rf, None, TopicOverrides::default(), now_ms);
        }
        let t = self.topics.get(TRANSACTION_STATE)?;
        let p = topic::txn_partition_for(transactional_id, t.partitions.len() as i32);
        t.partition(p).map(|p| p.leader).filter(|&l| l != NO_LEADER)
    }

    /// The leader epoch of a transactional id's `__transaction_state`
    /// partition: the coordinator epoch its markers carry.
    pub fn txn_coordinator_epoch(&self, transactional_id: &str) -> i32 {
        self.topics
            .get(TRANSACTION_STATE)
            .and_then(|t| t.partition(topic::txn_partition_for(transactional_id, t.partitions.len() as i32)))
            .map_or(0, |p| p.leader_epoch)
    }

    /// The finalized `transaction.version` level.
    pub fn transaction_version(&self) -> i16 {
        self.settings.transaction_version
    }

    /// Hands out a fresh producer id (recorded on disk when there is one).
    pub fn allocate_producer_id(&mut self) -> i64 {
        let (_, mut alloc) = self.txns_with_ids();
        alloc()
    }

    /// The transaction coordinator, with the producer-id allocator its
    /// decisions may need.
    pub fn txns_with_ids(&mut self) -> (&mut TransactionCoordinator, impl FnMut() -> i64 + '_) {
        let Core { txns, next_producer_id, storage, .. } = self;
        let alloc = move || {
            let id = *next_producer_id;
            *next_producer_id += 1;
            if let Some(s) = storage.as_mut() {
                s.producer_id_allocated(*next_producer_id);
            }
            id
        };
        (txns, alloc)
    }

    /// Stops broker `id`: its replicas leave the ISR and leadership moves.
    pub fn stop_broker(&mut self, id: i32, now_ms: i64) {
        if let Some(b) = self.brokers.get_mut(&id) {
            b.online = false;
        }
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        let defaults = self.topic_defaults.clone();
        for t in self.topics.values_mut() {
            let unclean = t.config(&defaults).unclean_leader_election;
            for p in &mut t.partitions {
                p.broker_stopped(id, now_ms, &online, unclean);
            }
        }
        // Markers waiting for a leader may have one now.
        self.drive_txn_markers(now_ms);
        let mut ready = self.wake(now_ms);
        self.ready.append(&mut ready);
        self.flush_storage();
    }

    /// Starts broker `id` again: its replicas catch up and rejoin the ISR;
    /// partitions without a leader elect one.
    pub fn start_broker(&mut self, id: i32, now_ms: i64) {
        if let Some(b) = self.brokers.get_mut(&id) {
            b.online = true;
        }
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        let defaults = self.topic_defaults.clone();
        for t in self.topics.values_mut() {
            let unclean = t.config(&defaults).unclean_leader_election;
            for p in &mut t.partitions {
                p.broker_started(id, now_ms, &online, unclean);
            }
        }
        // Markers waiting for a leader may have one now.
        self.drive_txn_markers(now_ms);
        let mut ready = self.wake(now_ms);
        self.ready.append(&mut ready);
        self.flush_storage();
    }

    /// Makes `broker` the leader of a partition, if it is an online ISR member.
    pub fn move_leader(&mut self, topic: &str, partition: i32, broker: i32, now_ms: i64) -> Result<(), String> {
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        let p = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.partition_mut(partition))
            .ok_or_else(|| format!("no partition {topic}-{partition}"))?;
        if !online(broker) || !p.isr.contains(&broker) {
            return Err(format!("broker {broker} is not an online in-sync replica of {topic}-{partition}"));
        }
        p.elect(now_ms, &online, false, Some(broker));
        // Markers waiting for a leader may have one now.
        self.drive_txn_markers(now_ms);
        let mut ready = self.wake(now_ms);
        self.ready.append(&mut ready);
        self.flush_storage();
        Ok(())
    }

    /// Stalls (or resumes) the follower on `broker` of a partition.
    pub fn stall_follower(
        &mut self,
        topic: &str,
        partition: i32,
        broker: i32,
        stalled: bool,
        now_ms: i64,
    ) -> Result<(), String> {
        let brokers = self.brokers.clone();
        let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
        let p = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.partition_mut(partition))
            .ok_or_else(|| format!("no partition {topic}-{partition}"))?;
        if !p.replicas.contains(&broker) {
            return Err(format!("broker {broker} has no replica of {topic}-{partition}"));
        }
        p.set_stalled(broker, stalled, now_ms, &online);
        // Markers waiting for a leader may have one now.
        self.drive_txn_markers(now_ms);
        let mut ready = self.wake(now_ms);
        self.ready.append(&mut ready);
        self.flush_storage();
        Ok(())
    }

    /// Applies retention to every log now.
    pub fn apply_retention(&mut self, now_ms: i64) {
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                let hw = p.high_watermark;
                for r in p.logs.values_mut() {
                    r.log.apply_retention(now_ms, hw);
                }
            }
        }
        self.flush_storage();
    }

    /// What a clean shutdown writes before the files are closed: the
    /// transaction metadata not yet in `__transaction_state`, and every
    /// replica log's producer snapshot at its end (Kafka's
    /// `UnifiedLog.close`).
    pub fn prepare_clean_shutdown(&mut self, now_ms: i64) {
        if self.storage.is_none() {
            return;
        }
        self.write_txn_log(now_ms);
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                for r in p.logs.values_mut() {
                    r.log.take_producer_snapshot();
                }
            }
        }
        self.flush_storage();
    }

    /// Hands pending log and metadata changes to disk storage, if any.
    pub fn flush_storage(&mut self) {
        if self.storage.is_none() {
            // Without a data directory the coordinator's journal events have
            // nowhere to go; dropping them keeps a long-lived cluster's memory flat.
            drop(self.groups.take_events());
            return;
        }
        let meta = persist::render_meta(self);
        let Some(storage) = &mut self.storage else { return };
        if meta != self.written_meta {
            storage.flush_metadata(&meta);
            self.written_meta = meta;
        }
        for t in self.topics.values_mut() {
            for p in &mut t.partitions {
                for (&broker, r) in p.logs.iter_mut() {
                    let ops = r.log.take_storage_ops();
                    if !ops.is_empty() {
                        storage.apply(broker, &t.name, t.id, p.index, ops);
                    }
                }
            }
        }
        storage.groups_changed(&mut self.groups);
    }

    /// Whether a partition exists (for offset commits).
    pub fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.topics.get(topic).is_some_and(|t| t.partition(partition).is_some())
    }

    /// The API versions this cluster serves: the pinned release's, without
    /// SASL (out of the testkit's scope).
    pub fn serves(api: ApiKey) -> bool {
        !matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
    }
}
