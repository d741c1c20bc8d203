//! The producer's engine: the one task that owns the producer's state
//! beyond the accumulator — idempotence, requests in flight, retries,
//! throttling, pending flushes, the topics it keeps fresh, closing — fed by
//! the handles' [`Command`] channel and woken when `send` opens or fills a
//! batch. It turns ready batches into Produce requests and their answers
//! into delivery results. It stops when the last handle is dropped (the
//! channel closes) or on `close`, once every accepted record has its
//! result; its connections close with it, and the tasks it started
//! (connects, metadata refreshes, InitProducerId) are aborted with it.
//!
//! Each round: make sure the idempotent producer has an id (and bump its
//! epoch when a partition needs renumbering); ask the accumulator which
//! leaders have data; drain batches for the leaders whose connection is up
//! and has a free in-flight slot; fail batches whose `delivery.timeout.ms`
//! passed; send one request per leader; then wait for an answer, new data,
//! or the next linger/backoff deadline.
//!
//! Answers, per partition:
//! - NONE / DUPLICATE_SEQUENCE_NUMBER: delivered;
//! - MESSAGE_TOO_LARGE with more than one record: split and resent;
//! - OUT_OF_ORDER_SEQUENCE_NUMBER / UNKNOWN_PRODUCER_ID (idempotent): see
//!   [`super::idempotence`];
//! - retriable (per [`Error::is_retriable`]): back in the accumulator after
//!   the retry backoff, keeping its sequence number; stale-metadata errors
//!   refresh metadata (or use the leader the broker names, KIP-951);
//! - anything else: the batch fails.
//!
//! A batch that may have been written fails with [`Error::OutcomeUnknown`],
//! never as a plain failure, whatever ends it (retries used up, a later
//! definite error, the delivery timeout, a forced close): "may have been
//! written" means an attempt ended in a timeout or a connection lost after
//! the request was sent, or (acks=all) in an error Kafka also gives after
//! appending (NOT_LEADER_OR_FOLLOWER from a produce that waited for the ISR,
//! REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use kafka_protocol::{ApiKey, ErrorCode, Uuid};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::batch::ProducerBatch;
use super::delivery::{BatchResult, RecordMetadata};
use super::idempotence::{Idempotence, SequenceDecision};
use super::transaction::requests::{LAST_PRODUCE_BEFORE_TV2, TxnIo, perform};
use super::transaction::{Effect, Phase, Reply, TransactionManager, TxnOutcome, TxnRequest};
use super::{Acks, Shared, lock};
use crate::TopicPartition;
use crate::config::millis;
use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::Error;
use crate::error::TransactionErrorKind;
use crate::metadata::BrokerAddr;

/// The first Produce version that names topics by id.
const FIRST_PRODUCE_BY_ID: i16 = 13;

/// Commands from the handles, in the order they were given.
pub(crate) enum Command {
    /// Answer once every batch numbered below `mark` has completed.
    Flush { mark: u64, reply: oneshot::Sender<()> },
    /// Keep `topic`'s metadata fresh.
    Topic(String),
    /// Take no more records; deliver the rest, then stop.
    Close,
    /// Close's timeout passed: fail everything pending and stop.
    Abort,
    /// `init_transactions`.
    InitTransactions(Reply),
    /// `begin_transaction`.
    BeginTransaction(Reply),
    /// `send_offsets_to_transaction`.
    SendOffsets { group: ConsumerGroupMetadata, offsets: Vec<(TopicPartition, OffsetAndMetadata)>, reply: Reply },
    /// `commit_transaction` / `abort_transaction`; no reply for the abort
    /// of a dropped `Transaction`.
    EndTransaction { commit: bool, reply: Option<Reply> },
}

/// What the engine's helper tasks report.
enum Event {
    Connected { node: i32, ok: bool },
    MetadataRefreshed,
    ProducerId(Result<(i64, i16), Error>),
    Transaction(TxnOutcome),
}

/// Whether an acks=all answer with `code` may come after the leader
/// appended the batch: Kafka answers a produce that waited for the ISR with
/// NOT_LEADER_OR_FOLLOWER when leadership moved (the new leader may hold
/// the records), REQUEST_TIMED_OUT when the wait timed out, and
/// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below
/// min.insync.replicas; in each case the records may be committed later.
fn appended_before(code: ErrorCode) -> bool {
    code == ErrorCode::NOT_LEADER_OR_FOLLOWER
        || code == ErrorCode::REQUEST_TIMED_OUT
        || code == ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
}

/// A Produce request on its way.
enum Started {
    Answered(crate::net::PendingResponse<ProduceResponse>),
    Unanswered(crate::net::Written),
}

type InFlight =
    Pin<Box<dyn std::future::Future<Output = (u64, i32, Vec<ProducerBatch>, Result<ProduceResponse, Error>)> + Send>>;

/// What an abort needs of a batch in flight: its id, partition, completion
/// and the `buffer.memory` it holds.
type InFlightBatch = (u64, TopicPartition, Arc<super::delivery::BatchCompletion>, usize);

pub(crate) struct Engine {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Set once the engine has stopped.
    done: watch::Sender<bool>,
    idem: Option<Idempotence>,
    /// Flushes waiting for every batch numbered below their mark.
    flushes: Vec<(u64, oneshot::Sender<()>)>,
    /// Topics whose metadata the engine keeps fresh.
    topics: BTreeSet<String>,
    /// No new records; stop once everything accepted has its result.
    closing: bool,
    in_flight: FuturesUnordered<InFlight>,
    /// The completions of the batches of each request in flight, so that an
    /// abort can fail them without waiting for the answers.
    in_flight_batches: BTreeMap<u64, Vec<InFlightBatch>>,
    next_request: u64,
    /// Partitions with a batch in flight (ordering without idempotence and
    /// one request in flight: such a partition waits).
    muted: HashSet<TopicPartition>,
    throttled_until: HashMap<i32, i64>,
    /// Connects, metadata refreshes and InitProducerId, running on their
    /// own so that none holds up the engine; aborted when it stops.
    tasks: JoinSet<Event>,
    connecting: BTreeSet<i32>,
    refresh_pending: bool,
    init_pending: bool,
    last_refresh_ms: i64,
    want_refresh: bool,
    init_backoff_until: i64,
    /// The transactional producer's state (`transactional.id` set).
    txn: Option<TransactionManager>,
    txn_io: Option<Arc<TxnIo>>,
    /// The transactional request running, to hand back with its outcome.
    txn_request: Option<TxnRequest>,
    /// `begin_transaction` calls waiting for a commit or abort to complete.
    begin_waiters: Vec<Reply>,
    /// A commit or abort has made every batch ready at once.
    txn_flushing: bool,
}

impl Engine {
    pub(crate) fn new(
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
        done: watch::Sender<bool>,
    ) -> Self {
        let txn =
            shared.cfg.transactional_id.clone().map(|id| TransactionManager::new(id, millis(shared.cfg.retry_backoff)));
        let txn_io = shared.cfg.transactional_id.clone().map(|id| {
            Arc::new(TxnIo {
                net: shared.net.clone(),
                transactional_id: id,
                transaction_timeout_ms: i32::try_from(millis(shared.cfg.transaction_timeout)).unwrap_or(i32::MAX),
            })
        });
        Engine {
            idem: shared.cfg.idempotence.then(Idempotence::new),
            shared,
            commands,
            done,
            flushes: Vec::new(),
            topics: BTreeSet::new(),
            closing: false,
            in_flight: FuturesUnordered::new(),
            in_flight_batches: BTreeMap::new(),
            next_request: 0,
            muted: HashSet::new(),
            throttled_until: HashMap::new(),
            tasks: JoinSet::new(),
            connecting: BTreeSet::new(),
            refresh_pending: false,
            init_pending: false,
            last_refresh_ms: 0,
            want_refresh: false,
            init_backoff_until: 0,
            txn,
            txn_io,
            txn_request: None,
            begin_waiters: Vec::new(),
            txn_flushing: false,
        }
    }

    fn cfg(&self) -> &super::ProducerConfig {
        &self.shared.cfg
    }

    /// Runs until closed (or every handle dropped) and everything is resolved.
    pub(crate) async fn run(mut self) {
        self.serve().await;
        // Flushes still queued end now (their reply senders drop): nothing
        // is pending any more.
        self.commands.close();
        while self.commands.try_recv().is_ok() {}
        self.tasks.abort_all();
        self.shared.net.close();
        self.done.send_replace(true);
    }

    async fn serve(&mut self) {
        let mut md_updates = self.shared.net.metadata_updates();
        let mut commands = Vec::with_capacity(16);
        let mut handles_alive = true;
        loop {
            if self.closing
                && self.in_flight.is_empty()
                && !lock(&self.shared.acc).has_incomplete()
                && !self.txn.as_ref().is_some_and(TransactionManager::busy)
            {
                return;
            }
            let now = self.shared.clock.now_ms();
            let (next, sent) = self.round(now);
            let wait = next.map(|t| Duration::from_millis(u64::try_from((t - now).max(1)).unwrap_or(1)));
            tokio::select! {
                biased;
                Some((request, node, batches, result)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.in_flight_batches.remove(&request);
                    self.handle_response(node, batches, result);
                }
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(event) = done {
                        self.on_event(event);
                    }
                }
                n = self.commands.recv_many(&mut commands, 16), if handles_alive => {
                    if n == 0 {
                        // Every handle is gone: nothing more can be sent.
                        handles_alive = false;
                        self.begin_close();
                    }
                    let mut given = commands.drain(..);
                    while let Some(c) = given.next() {
                        if self.on_command(c) {
                            given.for_each(drop);
                            self.abort_everything();
                            return;
                        }
                    }
                }
                () = self.shared.wake.notified() => {}
                _ = md_updates.changed() => {}
                // Something was sent, so more may be ready (a partition
                // gives one batch per request; acks=0 frees slots at
                // once): go round again once nothing else is pending.
                () = std::future::ready(()), if sent => {}
                () = async {
                    match wait {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// Applies a command; true when it asks to abort.
    fn on_command(&mut self, c: Command) -> bool {
        match c {
            Command::Flush { mark, reply } => {
                self.flushes.push((mark, reply));
                self.settle_flushes();
            }
            Command::Topic(t) => {
                self.topics.insert(t);
            }
            Command::Close => self.begin_close(),
            Command::Abort => return true,
            Command::InitTransactions(reply) => match &mut self.txn {
                Some(t) => t.init(reply),
                None => drop(reply),
            },
            Command::BeginTransaction(reply) => {
                self.begin_waiters.push(reply);
                self.settle_begins();
            }
            Command::SendOffsets { group, offsets, reply } => {
                if let Some(t) = &mut self.txn {
                    t.send_offsets(group, offsets, reply);
                }
            }
            Command::EndTransaction { commit, reply } => {
                let effects = match &mut self.txn {
                    Some(t) => t.end(commit, reply),
                    None => Vec::new(),
                };
                self.apply_txn(effects);
            }
        }
        self.publish_txn();
        false
    }

    fn begin_close(&mut self) {
        self.closing = true;
        lock(&self.shared.acc).close();
        // As Java's sender on shutdown: an open transaction is aborted.
        let effects = match &mut self.txn {
            Some(t) if matches!(t.phase(), Phase::InTransaction | Phase::AbortableError) => t.end(false, None),
            _ => Vec::new(),
        };
        self.apply_txn(effects);
        self.publish_txn();
    }

    /// Begins the transactions asked for once no commit or abort is
    /// completing: the first waiter's; any other fails, one being open.
    fn settle_begins(&mut self) {
        let Some(t) = &mut self.txn else {
            self.begin_waiters.clear();
            return;
        };
        // A caller that gave up waiting (max.block.ms) owns no transaction:
        // none is begun for it.
        self.begin_waiters.retain(|r| !r.is_closed());
        if self.begin_waiters.is_empty() || t.ending() {
            return;
        }
        let answers: Vec<_> = std::mem::take(&mut self.begin_waiters).into_iter().map(|r| (r, t.begin())).collect();
        // Published before the callers hear of it: their sends check it.
        self.publish_txn();
        for (reply, r) in answers {
            let _ = reply.send(r);
        }
    }

    /// Publishes the transactional phase for `send`.
    fn publish_txn(&self) {
        if let (Some(t), Some(p)) = (&self.txn, &self.shared.txn) {
            p.set(t.phase(), t.error());
        }
    }

    /// Does what the transaction manager asked.
    fn apply_txn(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::SetProducerId(pid, epoch) => {
                    if let Some(i) = &mut self.idem {
                        i.set_id(pid, epoch);
                    }
                }
                Effect::FailUndrained => self.fail_unsendable(),
            }
        }
    }

    /// Fails what a transaction that cannot commit will never send: the
    /// batches never sent, and under v1 the retries of partitions whose
    /// sequences have a gap (they wait for an epoch bump that comes only
    /// once the abort, which waits for them, is done).
    fn fail_unsendable(&mut self) {
        let idem = self.idem.as_ref();
        let taken = lock(&self.shared.acc).take_unsendable(&|tp| idem.is_some_and(|i| i.is_blocked(tp)));
        if taken.is_empty() {
            return;
        }
        let id = self.txn.as_ref().map(|t| t.id().to_string()).unwrap_or_default();
        for b in taken {
            let e = Error::Transaction {
                transactional_id: id.clone(),
                kind: TransactionErrorKind::Aborted,
                reason: "the transaction was aborted before the record was written".into(),
                cause: None,
            };
            if b.identity.is_some() {
                // A sequence is given up: the partition needs the bump.
                if let Some(t) = &mut self.txn {
                    t.on_batch_failed(&e, true);
                }
                self.fail_batch(b, e);
            } else {
                self.fail_now(b, e);
            }
        }
    }

    /// Starts the transactional request that is due, if any; returns when
    /// to look again.
    fn step_transaction(&mut self, now: i64) -> Option<i64> {
        let t = self.txn.as_mut()?;
        // Closing with a transaction open (or one that became abortable
        // while a commit ran): abort it, as Java's sender does on shutdown.
        if self.closing && matches!(t.phase(), Phase::InTransaction | Phase::AbortableError) && !t.ending() && !t.busy()
        {
            let effects = t.end(false, None);
            self.apply_txn(effects);
        }
        let t = self.txn.as_mut()?;
        if t.failing_unsent() {
            self.fail_unsendable();
        }
        let t = self.txn.as_mut()?;
        let flushing = matches!(t.phase(), Phase::Committing | Phase::Aborting);
        if flushing != self.txn_flushing {
            // A commit sends what it holds without waiting for linger.ms.
            let mut acc = lock(&self.shared.acc);
            if flushing {
                acc.begin_flush();
            } else {
                acc.end_flush();
            }
            self.txn_flushing = flushing;
        }
        let request = {
            let acc = lock(&self.shared.acc);
            let pending = acc.has_incomplete();
            let mut queued: Vec<&TopicPartition> = acc.queued_partitions().collect();
            queued.sort();
            t.next_request(now, pending, queued.into_iter())
        };
        self.publish_txn();
        self.settle_begins();
        let t = self.txn.as_ref()?;
        let Some(request) = request else {
            return t.retry_at(now);
        };
        let io = self.txn_io.clone()?;
        let coordinator = match &request {
            TxnRequest::CommitOffsets { group, .. } => t.group_coordinator(&group.group_id),
            _ => t.coordinator(),
        };
        tracing::debug!(?request, ?coordinator, "transactional request");
        self.txn_request = Some(request.clone());
        self.tasks.spawn(async move { Event::Transaction(perform(io, request, coordinator).await) });
        None
    }

    fn on_event(&mut self, e: Event) {
        let now = self.shared.clock.now_ms();
        match e {
            Event::Connected { node, ok } => {
                self.connecting.remove(&node);
                if !ok {
                    // The broker may be gone and its partitions led by
                    // another, which only fresh metadata tells (Java's
                    // NetworkClient asks for an update on every disconnect).
                    self.want_refresh = true;
                }
            }
            Event::MetadataRefreshed => self.refresh_pending = false,
            Event::ProducerId(r) => {
                self.init_pending = false;
                self.on_producer_id(r, now);
            }
            Event::Transaction(outcome) => {
                let effects = match (&mut self.txn, self.txn_request.take()) {
                    (Some(t), Some(req)) => t.on_outcome(now, &req, outcome),
                    _ => Vec::new(),
                };
                self.apply_txn(effects);
                self.publish_txn();
                self.settle_begins();
            }
        }
    }

    /// Records that a batch with `id` completed, giving its memory back.
    fn batch_done(&mut self, id: u64, reserved: usize) {
        if reserved > 0 {
            self.shared.memory.add_permits(reserved);
        }
        lock(&self.shared.acc).batch_done(id);
        self.settle_flushes();
    }

    /// Answers the flushes whose batches have all completed.
    fn settle_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let mut acc = lock(&self.shared.acc);
        let (done, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.flushes).into_iter().partition(|(mark, _)| acc.completed_below(*mark));
        for _ in &done {
            acc.end_flush();
        }
        drop(acc);
        self.flushes = waiting;
        for (_, reply) in done {
            let _ = reply.send(());
        }
    }

    /// One round of draining and sending; returns when to look again and
    /// whether anything was sent.
    fn round(&mut self, now: i64) -> (Option<i64>, bool) {
        let mut next: Option<i64> = None;
        let mut soon = |t: i64| next = Some(next.map_or(t, |n: i64| n.min(t)));
        if self.txn.is_some() {
            if let Some(t) = self.step_transaction(now) {
                soon(t);
            }
        } else {
            if let Some(t) = self.ensure_producer_id(now) {
                soon(t);
            }
            self.maybe_bump_epoch();
        }
        let net = self.shared.net.clone();
        let leader_of = |tp: &TopicPartition| net.metadata().leader(&tp.topic, tp.partition).map(|(l, _)| l);
        let memory_short = self.shared.memory_waiters.load(Ordering::SeqCst) > 0;
        let ready = lock(&self.shared.acc).ready(now, &leader_of, memory_short);
        if let Some(t) = ready.next_check_ms {
            soon(t);
        }
        if !ready.unknown_leader_topics.is_empty() || self.want_refresh || net.metadata_is_stale() {
            self.refresh_metadata(now);
            soon(now + millis(self.cfg().retry_backoff).max(10));
        }
        let mut sendable = BTreeSet::new();
        for &node in &ready.nodes {
            if let Some(&until) = self.throttled_until.get(&node)
                && until > now
            {
                soon(until);
                continue;
            }
            match self.shared.net.open_connection(node) {
                Some(c) if c.has_capacity() => {
                    sendable.insert(node);
                }
                // Full. Our own requests' answers wake the engine, but a
                // slot taken by another request (a metadata refresh) frees
                // up unnoticed: look again soon.
                Some(_) => soon(now + millis(self.cfg().retry_backoff).max(1)),
                None => self.connect_in_background(node),
            }
        }
        let drained = if sendable.is_empty() {
            Default::default()
        } else {
            let max = self.cfg().max_request_size;
            let muted = &self.muted;
            let txn = self.txn.as_ref();
            lock(&self.shared.acc).drain(
                &sendable,
                &|tp| {
                    if muted.contains(tp) || txn.is_some_and(|t| !t.may_send(tp)) { None } else { leader_of(tp) }
                },
                max,
                now,
                self.idem.as_mut(),
            )
        };
        let expired = lock(&self.shared.acc).expired(now);
        for b in expired {
            let e = Error::Timeout {
                what: format!("{} record(s) of {} to be sent (delivery.timeout.ms)", b.record_count, b.tp),
                after: self.cfg().delivery_timeout,
            };
            self.fail_batch(b, e);
        }
        if let Some(t) = lock(&self.shared.acc).next_expiry_ms() {
            soon(t);
        }
        let sent = !drained.is_empty();
        for (node, batches) in drained {
            self.send_batches(node, batches, now);
        }
        (next, sent)
    }

    /// Starts obtaining a producer id for the idempotent producer when one
    /// is needed; returns when to retry if the last attempt failed.
    fn ensure_producer_id(&mut self, now: i64) -> Option<i64> {
        let need = self.idem.as_ref().is_some_and(|i| !i.has_id() || i.needs_new_id());
        if !need || self.init_pending || !lock(&self.shared.acc).has_batches() {
            return None;
        }
        if now < self.init_backoff_until {
            return Some(self.init_backoff_until);
        }
        self.init_pending = true;
        let net = self.shared.net.clone();
        let timeout = self.cfg().request_timeout;
        self.tasks.spawn(async move {
            let result = async {
                let conn = net.any_connection().await?;
                let req = InitProducerIdRequest {
                    transactional_id: None,
                    transaction_timeout_ms: i32::MAX,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                };
                let resp = conn.request(&req).await?;
                if resp.error_code != 0 {
                    return Err(Error::broker(
                        ErrorCode(resp.error_code),
                        ApiKey::InitProducerId,
                        conn.broker(),
                        "idempotent producer",
                        None,
                    ));
                }
                Ok((resp.producer_id, resp.producer_epoch))
            };
            let r = match tokio::time::timeout(timeout, result).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout { what: "InitProducerId".into(), after: timeout }),
            };
            Event::ProducerId(r)
        });
        None
    }

    fn on_producer_id(&mut self, r: Result<(i64, i16), Error>, now: i64) {
        match r {
            Ok((pid, epoch)) => {
                tracing::debug!(producer_id = pid, epoch, "idempotent producer initialised");
                if let Some(i) = &mut self.idem {
                    i.set_id(pid, epoch);
                }
            }
            Err(e) if !e.is_retriable() && !matches!(e, Error::Timeout { .. }) => {
                // Nothing can be sent idempotently: fail what waits, keep
                // trying for later records.
                tracing::warn!(error = %e, "InitProducerId failed");
                let waiting = lock(&self.shared.acc).abort_all();
                for b in waiting {
                    self.fail_now(b, e.clone());
                }
                self.init_backoff_until = now + millis(self.cfg().retry_backoff_max);
            }
            Err(e) => {
                tracing::debug!(error = %e, "InitProducerId will be retried");
                self.init_backoff_until = now + millis(self.cfg().retry_backoff);
            }
        }
    }

    /// Bumps the epoch once nothing of the affected partitions is on the
    /// wire, renumbering their waiting batches from 0 (KIP-360).
    fn maybe_bump_epoch(&mut self) {
        let Some(idem) = &mut self.idem else { return };
        if !idem.bump_ready() {
            return;
        }
        let tps = idem.bump_epoch();
        let mut acc = lock(&self.shared.acc);
        for tp in tps {
            for b in acc.queued_mut(&tp) {
                if b.identity.is_some() {
                    let id = idem.assign(&tp, b.record_count);
                    if let Err(e) = b.close(Some(id)) {
                        tracing::error!(error = %e, "cannot renumber a batch");
                    }
                }
            }
        }
        let (pid, epoch) = idem.id();
        tracing::info!(producer_id = pid, epoch, "bumped the producer epoch after a sequence error");
    }

    fn refresh_metadata(&mut self, now: i64) {
        if self.refresh_pending || now - self.last_refresh_ms < millis(self.cfg().retry_backoff) {
            return;
        }
        self.last_refresh_ms = now;
        self.want_refresh = false;
        self.refresh_pending = true;
        let topics: Vec<String> = self.topics.iter().cloned().collect();
        let net = self.shared.net.clone();
        self.tasks.spawn(async move {
            if let Err(e) = net.refresh_metadata(Some(&topics), true).await {
                tracing::debug!(error = %e, "metadata refresh failed");
            }
            Event::MetadataRefreshed
        });
    }

    fn connect_in_background(&mut self, node: i32) {
        if !self.connecting.insert(node) {
            return;
        }
        let net = self.shared.net.clone();
        self.tasks.spawn(async move {
            let ok = match net.connection(node).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::debug!(broker = node, error = %e, "cannot connect");
                    false
                }
            };
            Event::Connected { node, ok }
        });
    }

    fn send_batches(&mut self, node: i32, mut batches: Vec<ProducerBatch>, now: i64) {
        let Some(conn) = self.shared.net.open_connection(node) else {
            for b in batches {
                self.retry_or_fail(
                    b,
                    Error::Connect { addr: format!("broker {node}"), reason: "not connected".into() },
                    now,
                );
            }
            return;
        };
        let mut version = match conn.version_for(ApiKey::Produce) {
            Ok(v) => v,
            Err(e) => {
                for b in batches {
                    self.fail_batch(b, e.clone());
                }
                return;
            }
        };
        // A transactions-v1 producer stays below v12, which tells the
        // broker to add partitions itself (KIP-890).
        if self.txn.as_ref().is_some_and(|t| !t.tv2()) {
            version = version.min(LAST_PRODUCE_BEFORE_TV2);
        }
        // Produce v13 names topics by id only (KIP-516). While metadata
        // lacks an id (an old broker, or no answer yet) the request names
        // topics at v12 instead: Java's producer would send the zero id
        // and retry on UNKNOWN_TOPIC_ID, costing a round trip.
        if version >= FIRST_PRODUCE_BY_ID {
            let md = self.shared.net.metadata();
            let mut by_id = true;
            for b in &mut batches {
                b.sent_topic_id = md.topic(&b.tp.topic).map_or(Uuid::ZERO, |t| t.id);
                by_id &= !b.sent_topic_id.is_zero();
            }
            if !by_id {
                version = FIRST_PRODUCE_BY_ID - 1;
            }
        }
        if version < FIRST_PRODUCE_BY_ID {
            for b in &mut batches {
                b.sent_topic_id = Uuid::ZERO;
            }
        }
        let mut topic_data: Vec<TopicProduceData> = Vec::new();
        let mut ok = Vec::with_capacity(batches.len());
        for mut b in batches.drain(..) {
            if let Err(e) = b.close(b.identity) {
                self.fail_batch(b, e);
                continue;
            }
            let records = b.payload().cloned();
            match topic_data.iter_mut().find(|t| *t.name == *b.tp.topic) {
                Some(t) => {
                    t.partition_data.push(PartitionProduceData { index: b.tp.partition, records, ..Default::default() })
                }
                None => topic_data.push(TopicProduceData {
                    name: b.tp.topic.to_string(),
                    topic_id: b.sent_topic_id,
                    partition_data: vec![PartitionProduceData { index: b.tp.partition, records, ..Default::default() }],
                    ..Default::default()
                }),
            }
            ok.push(b);
        }
        if ok.is_empty() {
            return;
        }
        if let Some(t) = &mut self.txn {
            t.data_sent();
        }
        let acks = self.cfg().acks;
        let req = ProduceRequest {
            transactional_id: self.txn.as_ref().map(|t| t.id().to_string()),
            acks: acks.as_i16(),
            timeout_ms: i32::try_from(self.cfg().request_timeout.as_millis()).unwrap_or(i32::MAX),
            topic_data,
            ..Default::default()
        };
        // Never waits for a slot (has_capacity said there was one, but a
        // metadata refresh or InitProducerId may have taken it since):
        // waiting here would stop the engine from reading answers, flushes
        // and close's abort until that slot frees up.
        let started = if acks == Acks::None {
            conn.try_send_no_response(&req, version).map(|w| w.map(Started::Unanswered))
        } else {
            conn.try_start_request(&req, version).map(|p| p.map(Started::Answered))
        };
        let started = match started {
            Ok(None) => {
                tracing::trace!(broker = node, "no free slot after all; the batches wait");
                lock(&self.shared.acc).put_back(ok);
                return;
            }
            Ok(Some(s)) => Ok(s),
            Err(e) => Err(e),
        };
        for b in &mut ok {
            b.ever_sent = true;
            if let Some(i) = &mut self.idem {
                i.sent(&b.tp, node);
            }
            if self.cfg().max_in_flight == 1 && self.idem.is_none() {
                self.muted.insert(b.tp.clone());
            }
        }
        tracing::trace!(broker = node, batches = ok.len(), "produce request");
        for b in &ok {
            tracing::trace!(
                broker = node,
                tp = %b.tp,
                id = b.id,
                sequence = b.identity.map_or(-1, |i| i.base_sequence),
                epoch = b.identity.map_or(-1, |i| i.epoch),
                records = b.record_count,
                attempt = b.attempts,
                "batch sent"
            );
        }
        let started = match started {
            Ok(s) => s,
            Err(e) => return self.handle_response(node, ok, Err(e)),
        };
        self.next_request += 1;
        let request = self.next_request;
        self.in_flight_batches
            .insert(request, ok.iter().map(|b| (b.id, b.tp.clone(), b.completion.clone(), b.reserved)).collect());
        let deadline = ok.iter().map(|b| b.created_ms).min().unwrap_or(now) + millis(self.cfg().delivery_timeout);
        let wait = Duration::from_millis(u64::try_from((deadline - now).max(0)).unwrap_or(0));
        self.in_flight.push(Box::pin(async move {
            let result = match started {
                // acks=0: done once written; the broker says nothing.
                Started::Unanswered(written) => written.written().await.map(|()| ProduceResponse::default()),
                Started::Answered(pending) => match tokio::time::timeout(wait, pending.response()).await {
                    Ok(r) => r,
                    Err(_) => Err(Error::RequestTimeout { broker: node, api: ApiKey::Produce, timeout: wait }),
                },
            };
            (request, node, ok, result)
        }));
    }

    fn handle_response(&mut self, node: i32, batches: Vec<ProducerBatch>, result: Result<ProduceResponse, Error>) {
        let now = self.shared.clock.now_ms();
        for b in &batches {
            self.muted.remove(&b.tp);
            if let Some(i) = &mut self.idem {
                i.answered(&b.tp);
            }
        }
        let resp = match result {
            Err(e) => {
                if e.needs_metadata_refresh() {
                    self.want_refresh = true;
                }
                let maybe_written = e.maybe_applied();
                for mut b in batches {
                    b.maybe_written |= maybe_written;
                    self.retry_or_fail(b, e.clone(), now);
                }
                return;
            }
            Ok(r) => r,
        };
        if resp.throttle_time_ms > 0 {
            self.throttled_until.insert(node, now + i64::from(resp.throttle_time_ms));
        }
        if !resp.node_endpoints.is_empty() {
            let mut md = self.shared.net.metadata();
            for n in &resp.node_endpoints {
                md.add_broker(BrokerAddr { id: n.node_id, host: n.host.clone(), port: n.port, rack: n.rack.clone() });
            }
        }
        let acks_none = self.cfg().acks == Acks::None;
        for mut b in batches {
            if acks_none {
                self.succeed(b, BatchResult { base_offset: -1, log_append_time: -1 });
                continue;
            }
            let pr = resp
                .responses
                .iter()
                .filter(
                    |t| if b.sent_topic_id.is_zero() { *t.name == *b.tp.topic } else { t.topic_id == b.sent_topic_id },
                )
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == b.tp.partition);
            let Some(pr) = pr else {
                let e = Error::broker(
                    ErrorCode::UNKNOWN_SERVER_ERROR,
                    ApiKey::Produce,
                    node,
                    b.tp.to_string(),
                    Some("no answer for the partition".into()),
                );
                self.retry_or_fail(b, e, now);
                continue;
            };
            let code = ErrorCode(pr.error_code);
            tracing::trace!(
                broker = node,
                tp = %b.tp,
                id = b.id,
                sequence = b.identity.map_or(-1, |i| i.base_sequence),
                ?code,
                base_offset = pr.base_offset,
                "batch answered"
            );
            if code == ErrorCode::NONE || code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER {
                self.succeed(b, BatchResult { base_offset: pr.base_offset, log_append_time: pr.log_append_time_ms });
                continue;
            }
            if pr.current_leader.leader_id >= 0 {
                let changed = self.shared.net.metadata().update_leader(
                    &b.tp.topic,
                    b.tp.partition,
                    pr.current_leader.leader_id,
                    pr.current_leader.leader_epoch,
                );
                if !changed && code.needs_metadata_refresh() {
                    self.want_refresh = true;
                }
            } else if code.needs_metadata_refresh() {
                self.want_refresh = true;
            }
            let err = Error::broker(code, ApiKey::Produce, node, b.tp.to_string(), pr.error_message.clone());
            if self.cfg().acks == Acks::All && appended_before(code) {
                b.maybe_written = true;
            }
            if code == ErrorCode::MESSAGE_TOO_LARGE && b.record_count > 1 {
                self.split(b, err, now);
                continue;
            }
            if (code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER || code == ErrorCode::UNKNOWN_PRODUCER_ID)
                && self.txn.is_some()
            {
                // Only the coordinator may bump a transactional producer's
                // epoch: the transaction must abort (Java's rule).
                self.fail_batch(b, err);
                continue;
            }
            if (code == ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER || code == ErrorCode::UNKNOWN_PRODUCER_ID)
                && self.idem.is_some()
            {
                let delivery_timeout = millis(self.cfg().delivery_timeout);
                if let (Some(idem), Some(id)) = (&mut self.idem, b.identity) {
                    let decision = idem.on_sequence_error(&b.tp, id);
                    tracing::debug!(tp = %b.tp, ?code, ?decision, sequence = id.base_sequence, "sequence error");
                    if now - b.created_ms < delivery_timeout {
                        let mut b = b;
                        b.attempts += 1;
                        lock(&self.shared.acc).reenqueue(b, now);
                        continue;
                    }
                    if decision == SequenceDecision::Retry {
                        idem.on_unresolvable(&b.tp, id);
                    }
                }
                self.fail_batch(b, err);
                continue;
            }
            self.retry_or_fail(b, err, now);
        }
    }

    fn split(&mut self, b: ProducerBatch, err: Error, now: i64) {
        let identity = b.identity;
        let tp = b.tp.clone();
        let id = b.id;
        let max = self.cfg().batch_size.min(b.wire_size() / 2).max(1);
        match b.split(max, now) {
            Ok(mut parts) => {
                tracing::debug!(tp = %tp, parts = parts.len(), "split a batch the broker found too large");
                if let (Some(idem), Some(orig)) = (&mut self.idem, identity) {
                    let counts: Vec<i32> = parts.iter().map(|p| p.record_count).collect();
                    for (p, new_id) in parts.iter_mut().zip(idem.assign_split(&tp, orig, &counts)) {
                        if let Err(e) = p.close(Some(new_id)) {
                            tracing::error!(error = %e, "cannot close a split batch");
                        }
                    }
                }
                // The parent's completion now points to the parts; one more
                // incomplete batch per extra part.
                let mut acc = lock(&self.shared.acc);
                acc.batch_split(id, parts.len());
                acc.reenqueue_split(parts);
            }
            Err(failed) => {
                let (b, why) = *failed;
                tracing::debug!(tp = %tp, reason = %why, "cannot split the batch");
                self.fail_batch(b, err);
            }
        }
    }

    fn retry_or_fail(&mut self, mut b: ProducerBatch, err: Error, now: i64) {
        let expired = now - b.created_ms >= millis(self.cfg().delivery_timeout);
        if err.is_retriable() && !expired && b.attempts < self.cfg().retries {
            b.attempts += 1;
            tracing::debug!(tp = %b.tp, attempt = b.attempts, error = %err, "retrying a batch");
            lock(&self.shared.acc).reenqueue(b, now);
            return;
        }
        let err = if expired && b.maybe_written {
            Error::OutcomeUnknown {
                topic: b.tp.topic.to_string(),
                partition: b.tp.partition,
                reason: format!("delivery.timeout.ms passed after a request that may have written it: {err}"),
            }
        } else {
            err
        };
        self.fail_batch(b, err);
    }

    fn succeed(&mut self, b: ProducerBatch, r: BatchResult) {
        if let (Some(idem), Some(id)) = (&mut self.idem, b.identity) {
            idem.acked(&b.tp, id, b.record_count);
        }
        self.notify_interceptors(&b, Ok(r));
        let id = b.id;
        let reserved = b.complete(Ok(r));
        self.batch_done(id, reserved);
    }

    /// Fails a batch for good; with idempotence its sequences leave a gap.
    fn fail_batch(&mut self, b: ProducerBatch, e: Error) {
        if let (Some(idem), Some(id)) = (&mut self.idem, b.identity) {
            idem.on_unresolvable(&b.tp, id);
        }
        self.fail_now(b, e);
    }

    /// Fails a batch, as "outcome unknown" where it may be in the log (see
    /// [`ProducerBatch::failure`]).
    fn fail_now(&mut self, b: ProducerBatch, e: Error) {
        tracing::debug!(tp = %b.tp, error = %e, "batch failed");
        let e = b.failure(e);
        if e.transaction_error_kind() != Some(TransactionErrorKind::Aborted)
            && let Some(t) = &mut self.txn
        {
            let effects = t.on_batch_failed(&e, b.identity.is_some());
            self.apply_txn(effects);
            self.publish_txn();
        }
        self.notify_interceptors(&b, Err(e.clone()));
        let id = b.id;
        let reserved = b.complete(Err(e));
        self.batch_done(id, reserved);
    }

    fn notify_interceptors(&self, b: &ProducerBatch, r: Result<BatchResult, Error>) {
        if self.shared.interceptors.is_empty() {
            return;
        }
        let stamps = b.timestamps.clone().unwrap_or_default();
        for i in 0..b.record_count.max(0) as usize {
            let ts = stamps.get(i).copied().unwrap_or(-1);
            let result = r.as_ref().map(|r| RecordMetadata {
                partition: b.tp.partition,
                offset: if r.base_offset < 0 { -1 } else { r.base_offset + i as i64 },
                timestamp: if r.log_append_time >= 0 { r.log_append_time } else { ts },
            });
            for ic in &self.shared.interceptors {
                ic.on_acknowledgement(&b.tp.topic, result.as_ref().map_err(|e| *e));
            }
        }
    }

    /// Close's timeout passed: everything still pending fails.
    fn abort_everything(&mut self) {
        let waiting = lock(&self.shared.acc).abort_all();
        for b in waiting {
            self.fail_now(b, Error::Closed);
        }
        // Requests in flight are abandoned: the broker may or may not apply
        // them, so their records' outcome is unknown, not failed.
        drop(std::mem::take(&mut self.in_flight));
        for (_, batches) in std::mem::take(&mut self.in_flight_batches) {
            for (id, tp, completion, reserved) in batches {
                completion.complete(Err(Error::OutcomeUnknown {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    reason: "the producer was closed while a request carrying it was in flight".into(),
                }));
                self.batch_done(id, reserved);
            }
        }
    }
}
