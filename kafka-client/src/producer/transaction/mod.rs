//! The transactional producer's state machine, after the Java client's
//! `TransactionManager`, free of I/O: the engine feeds it the application's
//! calls and the answers of the requests it asked for, and asks it what to
//! send next.
//!
//! Phases: `Uninitialized` → (`init_transactions`) `Initializing` →
//! `Ready` → (`begin`) `InTransaction` → `Committing` / `Aborting` →
//! `Ready`. A failure the application can recover from by aborting
//! (a record that failed, the group's generation moved on,
//! TRANSACTION_ABORTABLE) moves to `AbortableError`, from which only an
//! abort leads on; fencing or anything unexpected moves to `FatalError`,
//! from which nothing does.
//!
//! The protocol (KIP-890) is chosen when `init_transactions` runs, from
//! what the coordinator reports:
//! - **v2** when the cluster finalizes `transaction.version` ≥ 2 and the
//!   coordinator speaks EndTxn v5: Produce (v12+) and TxnOffsetCommit (v5)
//!   add partitions and the group to the transaction themselves, and the
//!   coordinator bumps the epoch at every EndTxn, whose answer carries it:
//!   the producer takes it, and every partition's sequences restart at 0.
//! - **v1** otherwise: a partition's batches wait until AddPartitionsToTxn
//!   has added it, offsets need AddOffsetsToTxn first, and Produce,
//!   EndTxn and TxnOffsetCommit stay at the versions before v2 (11, 4, 4)
//!   so the broker does not take us for a v2 client. After an error that
//!   leaves sequence gaps the producer asks the coordinator for a bumped
//!   epoch (InitProducerId with its current id and epoch, KIP-360) once the
//!   abort completes.
//!
//! A cluster upgraded to v2 while the producer runs is noticed after an
//! EndTxn, as Java notices it: the newest finalized features any connection
//! brought say `transaction.version` ≥ 2. Before anything of the next
//! transaction is sent the producer bumps its epoch (InitProducerId with its
//! id and epoch) and goes on under v2.
//!
//! One request to the coordinators is in flight at a time, as in Java.
//! EndTxn waits until every record of the transaction has its result, so
//! the markers follow the data.

pub(crate) mod handle;
pub(crate) mod requests;

use std::collections::BTreeSet;

use kafka_protocol::{ApiKey, ErrorCode};
use tokio::sync::oneshot;

use crate::TopicPartition;
use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::{Error, TransactionErrorKind};

/// Where the transactional producer stands; see the module docs.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Uninitialized = 0,
    Initializing = 1,
    Ready = 2,
    InTransaction = 3,
    Committing = 4,
    Aborting = 5,
    AbortableError = 6,
    FatalError = 7,
}

impl Phase {
    pub(crate) fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Uninitialized,
            1 => Phase::Initializing,
            2 => Phase::Ready,
            3 => Phase::InTransaction,
            4 => Phase::Committing,
            5 => Phase::Aborting,
            6 => Phase::AbortableError,
            _ => Phase::FatalError,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Phase::Uninitialized => "init_transactions has not been called",
            Phase::Initializing => "init_transactions is running",
            Phase::Ready => "no transaction is open",
            Phase::InTransaction => "a transaction is open",
            Phase::Committing => "the transaction is committing",
            Phase::Aborting => "the transaction is aborting",
            Phase::AbortableError => "the transaction failed and must be aborted",
            Phase::FatalError => "the producer failed and must be closed",
        }
    }
}

/// Where a call's result goes.
pub(crate) type Reply = oneshot::Sender<Result<(), Error>>;

/// A request the engine is to start.
#[derive(Debug, Clone)]
pub(crate) enum TxnRequest {
    /// InitProducerId with the transactional id: `(-1, -1)` to start,
    /// the current id and epoch to have the epoch bumped.
    InitProducerId {
        producer_id: i64,
        epoch: i16,
    },
    AddPartitions {
        producer_id: i64,
        epoch: i16,
        partitions: Vec<TopicPartition>,
    },
    AddOffsets {
        producer_id: i64,
        epoch: i16,
        group_id: String,
    },
    CommitOffsets {
        producer_id: i64,
        epoch: i16,
        tv2: bool,
        group: ConsumerGroupMetadata,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
    },
    EndTxn {
        producer_id: i64,
        epoch: i16,
        tv2: bool,
        commit: bool,
    },
}

impl TxnRequest {
    /// Whether it goes to the group coordinator (else the transaction
    /// coordinator).
    pub(crate) fn to_group(&self) -> bool {
        matches!(self, TxnRequest::CommitOffsets { .. })
    }
}

/// What a request learned.
#[derive(Debug, Clone)]
pub(crate) enum TxnAnswer {
    /// A producer id and epoch; the protocol the coordinator offers.
    ProducerId {
        producer_id: i64,
        epoch: i16,
        tv2: bool,
        supports_bump: bool,
    },
    /// Each partition's answer.
    PartitionsAdded(Vec<(TopicPartition, ErrorCode)>),
    OffsetsAdded,
    /// Each partition's answer.
    OffsetsCommitted(Vec<(TopicPartition, ErrorCode)>),
    /// EndTxn succeeded; v5 names the producer id and epoch to go on with
    /// (-1 before v5). `tv2_offered`: the cluster now offers transactions
    /// v2 (it may have been upgraded since `init_transactions`).
    Ended {
        producer_id: i64,
        epoch: i16,
        tv2_offered: bool,
    },
}

/// The outcome of one request: the coordinator it used (None when it
/// found none) and its answer.
#[derive(Debug)]
pub(crate) struct TxnOutcome {
    pub coordinator: Option<i32>,
    pub result: Result<TxnAnswer, Error>,
}

/// What the engine must do after a call or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Send under this producer id and epoch from now on; every
    /// partition's sequences restart.
    SetProducerId(i64, i16),
    /// The transaction aborts: batches never sent fail, as Java's
    /// `abortUndrainedBatches`.
    FailUndrained,
}

/// How an error code from a transactional request is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Retry,
    FindCoordinator,
    Abortable,
    /// Abortable if the epoch can be bumped afterwards, else fatal.
    AbortableWithBump,
    Fenced,
    Fatal,
}

fn verdict(e: &Error) -> Verdict {
    let Some(code) = e.code() else {
        return if e.needs_coordinator_lookup() {
            Verdict::FindCoordinator
        } else if e.is_retriable() {
            Verdict::Retry
        } else {
            Verdict::Fatal
        };
    };
    match code {
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => Verdict::FindCoordinator,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        | ErrorCode::CONCURRENT_TRANSACTIONS
        | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::REQUEST_TIMED_OUT => Verdict::Retry,
        ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH => Verdict::Fenced,
        ErrorCode::TRANSACTION_ABORTABLE
        | ErrorCode::GROUP_AUTHORIZATION_FAILED
        | ErrorCode::TOPIC_AUTHORIZATION_FAILED
        | ErrorCode::UNKNOWN_MEMBER_ID
        | ErrorCode::ILLEGAL_GENERATION
        | ErrorCode::FENCED_INSTANCE_ID => Verdict::Abortable,
        ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING => Verdict::AbortableWithBump,
        c if c.is_retriable() => Verdict::Retry,
        _ => Verdict::Fatal,
    }
}

/// The call waiting for requests.
#[derive(Debug)]
enum Op {
    Init {
        replies: Vec<Reply>,
    },
    Offsets {
        group: ConsumerGroupMetadata,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
        added: bool,
        replies: Vec<Reply>,
    },
    End {
        commit: bool,
        replies: Vec<Reply>,
        /// EndTxn is done (or skipped): what is left is the epoch bump.
        ended: bool,
    },
}

impl Op {
    /// Ends the call with `r`.
    fn answer(self, r: &Result<(), Error>) {
        let replies = match self {
            Op::Init { replies } | Op::Offsets { replies, .. } | Op::End { replies, .. } => replies,
        };
        for reply in replies {
            let _ = reply.send(r.clone());
        }
    }
}

/// The state machine; see the module docs.
#[derive(Debug)]
pub(crate) struct TransactionManager {
    id: String,
    phase: Phase,
    /// Why the phase is `AbortableError` or `FatalError`.
    error: Option<Error>,
    producer_id: i64,
    epoch: i16,
    coordinator: Option<i32>,
    group_coordinator: Option<(String, i32)>,
    tv2: bool,
    /// The cluster was upgraded to v2: bump the epoch, then switch.
    upgrade_to_tv2: bool,
    supports_bump: bool,
    /// Transactions v1 after a record with a sequence failed: its
    /// partition has a gap, so the abort ends with an epoch bump.
    bump_required: bool,
    /// The abort must skip EndTxn and go straight to the epoch bump: the
    /// coordinator no longer maps our producer id (Java's rule for
    /// INVALID_PRODUCER_ID_MAPPING).
    skip_end_txn: bool,
    added: BTreeSet<TopicPartition>,
    adding: Vec<TopicPartition>,
    /// Something reached the transaction (a partition or the group's
    /// offsets added, data sent under v2), so it needs an EndTxn.
    started: bool,
    op: Option<Op>,
    /// Numbers each op: the answer to a request of an op that has since
    /// ended (an abortable error failed it, say) is stale and ignored.
    op_serial: u64,
    /// A commit or abort asked for while send_offsets_to_transaction's
    /// requests ran: it starts once they end.
    queued_end: Option<(bool, Vec<Reply>)>,
    /// The request in flight and the op it serves (None: it serves the
    /// transaction, as AddPartitionsToTxn does).
    in_flight: Option<Option<u64>>,
    retry_at_ms: i64,
    retry_backoff_ms: i64,
}

impl TransactionManager {
    pub(crate) fn new(id: String, retry_backoff_ms: i64) -> Self {
        TransactionManager {
            id,
            phase: Phase::Uninitialized,
            error: None,
            producer_id: -1,
            epoch: -1,
            coordinator: None,
            group_coordinator: None,
            tv2: false,
            upgrade_to_tv2: false,
            supports_bump: false,
            bump_required: false,
            skip_end_txn: false,
            added: BTreeSet::new(),
            adding: Vec::new(),
            started: false,
            op: None,
            op_serial: 0,
            queued_end: None,
            in_flight: None,
            retry_at_ms: 0,
            retry_backoff_ms: retry_backoff_ms.max(1),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The error behind an error phase.
    pub(crate) fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether the cluster runs transactions v2 for us.
    pub(crate) fn tv2(&self) -> bool {
        self.tv2
    }

    /// Whether a call's requests are still to run or running (close waits
    /// for them).
    pub(crate) fn busy(&self) -> bool {
        self.op.is_some() || self.in_flight.is_some() || self.queued_end.is_some()
    }

    /// Whether a commit or abort is asked for or running: a new
    /// transaction waits for it.
    pub(crate) fn ending(&self) -> bool {
        matches!(self.phase, Phase::Committing | Phase::Aborting) || self.queued_end.is_some()
    }

    /// Whether queued batches that were never sent must fail now: the
    /// transaction cannot commit (Java aborts them on every sender loop).
    pub(crate) fn failing_unsent(&self) -> bool {
        matches!(self.phase, Phase::AbortableError | Phase::Aborting | Phase::FatalError)
    }

    /// A Produce carrying the transaction's batches is going out: under
    /// v2 it adds partitions on the broker, so the transaction needs an
    /// EndTxn from now on.
    pub(crate) fn data_sent(&mut self) {
        self.started = true;
    }

    /// When a request that waits for its retry backoff is due, if one does.
    pub(crate) fn retry_at(&self, now_ms: i64) -> Option<i64> {
        let wants = self.op.is_some() || matches!(self.phase, Phase::InTransaction | Phase::Committing);
        (wants && self.in_flight.is_none() && self.retry_at_ms > now_ms).then_some(self.retry_at_ms)
    }

    /// The transaction coordinator in use, if known.
    pub(crate) fn coordinator(&self) -> Option<i32> {
        self.coordinator
    }

    /// The group coordinator in use for `group`, if known.
    pub(crate) fn group_coordinator(&self, group: &str) -> Option<i32> {
        self.group_coordinator.as_ref().filter(|(g, _)| g == group).map(|&(_, c)| c)
    }

    fn set_op(&mut self, op: Op) {
        self.op_serial += 1;
        self.op = Some(op);
    }

    fn error_of(&self, kind: TransactionErrorKind, reason: impl Into<String>, cause: Option<Error>) -> Error {
        Error::Transaction {
            transactional_id: self.id.clone(),
            kind,
            reason: reason.into(),
            cause: cause.map(Box::new),
        }
    }

    fn illegal(&self, call: &str) -> Error {
        Error::IllegalState(format!("{call} on transactional producer {}: {}", self.id, self.phase.describe()))
    }

    /// The error a call meets in an error phase.
    fn current_error(&self) -> Option<Error> {
        match self.phase {
            Phase::AbortableError | Phase::FatalError => Some(
                self.error
                    .clone()
                    .unwrap_or_else(|| self.error_of(TransactionErrorKind::Fatal, self.phase.describe(), None)),
            ),
            _ => None,
        }
    }

    /// `init_transactions`.
    pub(crate) fn init(&mut self, reply: Reply) {
        match (&mut self.op, self.phase) {
            (_, Phase::Uninitialized) => {
                self.phase = Phase::Initializing;
                self.set_op(Op::Init { replies: vec![reply] });
            }
            // A second call (the first timed out) waits for the same answer.
            (Some(Op::Init { replies }), Phase::Initializing) => replies.push(reply),
            _ => {
                let e = self.current_error().unwrap_or_else(|| self.illegal("init_transactions"));
                let _ = reply.send(Err(e));
            }
        }
    }

    /// `begin_transaction`.
    pub(crate) fn begin(&mut self) -> Result<(), Error> {
        if self.phase != Phase::Ready {
            return Err(self.current_error().unwrap_or_else(|| self.illegal("begin_transaction")));
        }
        self.phase = Phase::InTransaction;
        self.added.clear();
        self.started = false;
        Ok(())
    }

    /// `send_offsets_to_transaction`.
    pub(crate) fn send_offsets(
        &mut self,
        group: ConsumerGroupMetadata,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
        reply: Reply,
    ) {
        if let Some(e) = self.current_error() {
            let _ = reply.send(Err(e));
            return;
        }
        if let Some(Op::Offsets { group: g, offsets: o, replies, .. }) = &mut self.op
            && *g == group
            && *o == offsets
        {
            // The same call again (the first timed out): the same answer.
            replies.push(reply);
            return;
        }
        if self.phase != Phase::InTransaction || self.op.is_some() || self.queued_end.is_some() {
            let _ = reply.send(Err(self.illegal("send_offsets_to_transaction")));
            return;
        }
        if offsets.is_empty() {
            let _ = reply.send(Ok(()));
            return;
        }
        self.set_op(Op::Offsets { group, offsets, added: false, replies: vec![reply] });
    }

    /// `commit_transaction` (`commit`) or `abort_transaction`; `reply` is
    /// None for the abort of a dropped [`handle::Transaction`] (or of an
    /// open transaction at close).
    pub(crate) fn end(&mut self, commit: bool, reply: Option<Reply>) -> Vec<Effect> {
        let send = |reply: Option<Reply>, r: Result<(), Error>| {
            if let Some(reply) = reply {
                let _ = reply.send(r);
            }
        };
        // A repeated call (the first timed out) waits for the same answer.
        if let Some(Op::End { commit: c, replies, .. }) = &mut self.op
            && *c == commit
        {
            replies.extend(reply);
            return Vec::new();
        }
        if let Some((c, replies)) = &mut self.queued_end
            && *c == commit
        {
            replies.extend(reply);
            return Vec::new();
        }
        let allowed = if commit {
            self.phase == Phase::InTransaction
        } else {
            matches!(self.phase, Phase::InTransaction | Phase::AbortableError)
        };
        if !allowed || self.queued_end.is_some() || matches!(self.op, Some(Op::End { .. } | Op::Init { .. })) {
            let e = match self.current_error() {
                Some(e) if commit || self.phase == Phase::FatalError => e,
                _ => self.illegal(if commit { "commit_transaction" } else { "abort_transaction" }),
            };
            send(reply, Err(e));
            return Vec::new();
        }
        if self.op.is_some() {
            // send_offsets_to_transaction's requests are running (its
            // caller may have given up waiting): end once they do.
            self.queued_end = Some((commit, reply.into_iter().collect()));
            return Vec::new();
        }
        self.start_end(commit, reply.into_iter().collect())
    }

    fn start_end(&mut self, commit: bool, replies: Vec<Reply>) -> Vec<Effect> {
        if commit {
            self.phase = Phase::Committing;
            self.set_op(Op::End { commit, replies, ended: false });
            return Vec::new();
        }
        self.phase = Phase::Aborting;
        self.adding.clear();
        let ended = std::mem::take(&mut self.skip_end_txn);
        if ended {
            self.bump_required = true;
        }
        self.set_op(Op::End { commit, replies, ended });
        vec![Effect::FailUndrained]
    }

    /// Starts the commit or abort that waited for another call's requests.
    fn take_queued_end(&mut self) -> Vec<Effect> {
        if self.op.is_some() {
            return Vec::new();
        }
        let Some((commit, replies)) = self.queued_end.take() else { return Vec::new() };
        let allowed = if commit {
            self.phase == Phase::InTransaction
        } else {
            matches!(self.phase, Phase::InTransaction | Phase::AbortableError)
        };
        if !allowed {
            let e = self
                .current_error()
                .unwrap_or_else(|| self.illegal(if commit { "commit_transaction" } else { "abort_transaction" }));
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
            return Vec::new();
        }
        self.start_end(commit, replies)
    }

    /// Whether batches of `tp` may be sent now.
    pub(crate) fn may_send(&self, tp: &TopicPartition) -> bool {
        match self.phase {
            _ if self.upgrade_to_tv2 => false,
            Phase::InTransaction | Phase::Committing | Phase::Aborting | Phase::AbortableError => {
                self.tv2 || self.added.contains(tp)
            }
            _ => false,
        }
    }

    /// A batch of the transaction failed for good; `sequenced`: it had a
    /// sequence number, so under v1 its partition now has a gap.
    pub(crate) fn on_batch_failed(&mut self, e: &Error, sequenced: bool) -> Vec<Effect> {
        if self.phase == Phase::FatalError {
            return Vec::new();
        }
        let fatal = matches!(
            e.code(),
            Some(ErrorCode::PRODUCER_FENCED)
                | Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
                | Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED)
        ) || matches!(e, Error::UnsupportedVersion { .. });
        if fatal {
            let kind = if e.code() == Some(ErrorCode::PRODUCER_FENCED) {
                TransactionErrorKind::Fenced
            } else {
                TransactionErrorKind::Fatal
            };
            let err = self.error_of(kind, "a record of the transaction failed", Some(e.clone()));
            self.enter_fatal(err);
            return Vec::new();
        }
        // A gap in a partition's sequences: under v1 the epoch must be
        // bumped before the partition is used again (v2 bumps it at EndTxn
        // anyway). Also while the transaction is already aborting.
        if sequenced && !self.tv2 {
            if !self.supports_bump {
                let err = self.error_of(
                    TransactionErrorKind::Fatal,
                    "a record of the transaction failed and the coordinator cannot bump the epoch (InitProducerId < v3)",
                    Some(e.clone()),
                );
                self.enter_fatal(err);
                return Vec::new();
            }
            self.bump_required = true;
        }
        if !matches!(self.phase, Phase::InTransaction | Phase::Committing) {
            return Vec::new();
        }
        let err = self.error_of(
            TransactionErrorKind::Abortable,
            "a record of the transaction failed; abort the transaction",
            Some(e.clone()),
        );
        self.enter_abortable(err)
    }

    fn enter_abortable(&mut self, err: Error) -> Vec<Effect> {
        if matches!(self.phase, Phase::Aborting | Phase::AbortableError | Phase::FatalError) {
            return Vec::new();
        }
        self.phase = Phase::AbortableError;
        self.error = Some(err.clone());
        if let Some(op) = self.op.take() {
            op.answer(&Err(err));
        }
        self.adding.clear();
        self.take_queued_end()
    }

    fn enter_fatal(&mut self, err: Error) {
        tracing::warn!(transactional_id = %self.id, error = %err, "transactional producer failed");
        self.phase = Phase::FatalError;
        self.error = Some(err.clone());
        if let Some(op) = self.op.take() {
            op.answer(&Err(err.clone()));
        }
        if let Some((_, replies)) = self.queued_end.take() {
            for r in replies {
                let _ = r.send(Err(err.clone()));
            }
        }
    }

    /// The next request to start, if any and none is in flight.
    /// `batches_pending`: some record of the transaction has no result yet;
    /// `queued`: partitions with batches waiting to be sent.
    pub(crate) fn next_request<'a>(
        &mut self,
        now_ms: i64,
        batches_pending: bool,
        queued: impl Iterator<Item = &'a TopicPartition>,
    ) -> Option<TxnRequest> {
        if self.in_flight.is_some() || now_ms < self.retry_at_ms {
            return None;
        }
        let (producer_id, epoch) = (self.producer_id, self.epoch);
        if self.upgrade_to_tv2 && self.phase != Phase::FatalError {
            // Nothing of the next transaction goes before the bump.
            self.in_flight = Some(None);
            return Some(TxnRequest::InitProducerId { producer_id, epoch });
        }
        if !self.tv2 && matches!(self.phase, Phase::InTransaction | Phase::Committing) {
            let new: Vec<TopicPartition> = queued.filter(|tp| !self.added.contains(*tp)).cloned().collect();
            if !new.is_empty() {
                self.in_flight = Some(None);
                self.adding = new.clone();
                return Some(TxnRequest::AddPartitions { producer_id, epoch, partitions: new });
            }
        }
        let tv2 = self.tv2;
        let serial = self.op_serial;
        let request = match self.op.as_mut()? {
            Op::Init { .. } => TxnRequest::InitProducerId { producer_id: -1, epoch: -1 },
            Op::Offsets { group, added: false, .. } if !tv2 => {
                TxnRequest::AddOffsets { producer_id, epoch, group_id: group.group_id.clone() }
            }
            Op::Offsets { group, offsets, .. } => {
                // Under v2 the commit adds the group to the transaction.
                self.started |= tv2;
                TxnRequest::CommitOffsets { producer_id, epoch, tv2, group: group.clone(), offsets: offsets.clone() }
            }
            Op::End { .. } if batches_pending => return None,
            Op::End { ended: true, .. } => TxnRequest::InitProducerId { producer_id, epoch },
            Op::End { commit, ended: false, .. } => {
                let commit = *commit;
                if !self.started {
                    // Nothing reached the coordinator: nothing to end
                    // (Java sends no EndTxn either).
                    self.finish_end(Ok(()));
                    return None;
                }
                TxnRequest::EndTxn { producer_id, epoch, tv2, commit }
            }
        };
        self.in_flight = Some(Some(serial));
        Some(request)
    }

    /// Ends the commit or abort call with `r`.
    fn finish_end(&mut self, r: Result<(), Error>) -> Vec<Effect> {
        if let Some(op) = self.op.take() {
            op.answer(&r);
        }
        if r.is_ok() {
            self.phase = Phase::Ready;
            self.error = None;
            self.added.clear();
            self.started = false;
            self.bump_required = false;
        }
        self.take_queued_end()
    }

    /// Applies the outcome of the request `req` that [`Self::next_request`] gave.
    pub(crate) fn on_outcome(&mut self, now_ms: i64, req: &TxnRequest, outcome: TxnOutcome) -> Vec<Effect> {
        let served = self.in_flight.take().flatten();
        if let Some(c) = outcome.coordinator {
            if let TxnRequest::CommitOffsets { group, .. } = req {
                self.group_coordinator = Some((group.group_id.clone(), c));
            } else {
                self.coordinator = Some(c);
            }
        }
        // The op this request served has ended meanwhile: its answer
        // changes nothing (but a coordinator move is still news).
        if served.is_some_and(|s| s != self.op_serial || self.op.is_none()) {
            tracing::debug!(transactional_id = %self.id, ?req, "a stale transactional answer is ignored");
            if let Err(e) = &outcome.result
                && verdict(e) == Verdict::FindCoordinator
            {
                self.forget_coordinator(req);
            }
            return Vec::new();
        }
        let answer = match outcome.result {
            Ok(a) => a,
            Err(e) => return self.on_error(now_ms, req, e),
        };
        match answer {
            TxnAnswer::ProducerId { producer_id, epoch, tv2, supports_bump } => {
                self.producer_id = producer_id;
                self.epoch = epoch;
                let mut effects = vec![Effect::SetProducerId(producer_id, epoch)];
                if self.upgrade_to_tv2 && !matches!(self.op, Some(Op::Init { .. })) {
                    self.upgrade_to_tv2 = false;
                    self.tv2 = true;
                    tracing::info!(
                        transactional_id = %self.id,
                        producer_id,
                        epoch,
                        "the cluster now runs transactions v2: the producer switched to it"
                    );
                    // An abort waiting for its KIP-360 bump got it here.
                    if matches!(self.op, Some(Op::End { ended: true, .. })) {
                        effects.extend(self.finish_end(Ok(())));
                    }
                    return effects;
                }
                match self.op.take() {
                    Some(Op::Init { replies }) => {
                        self.tv2 = tv2;
                        self.supports_bump = supports_bump;
                        self.phase = Phase::Ready;
                        tracing::info!(
                            transactional_id = %self.id,
                            producer_id,
                            epoch,
                            protocol = if tv2 { 2 } else { 1 },
                            "transactional producer initialised"
                        );
                        for r in replies {
                            let _ = r.send(Ok(()));
                        }
                    }
                    op @ Some(Op::End { .. }) => {
                        self.op = op;
                        effects.extend(self.finish_end(Ok(())));
                    }
                    op => self.op = op,
                }
                effects
            }
            TxnAnswer::PartitionsAdded(results) => {
                let mut retry = false;
                let mut failure: Option<(Error, Verdict)> = None;
                for (tp, code) in results {
                    if code == ErrorCode::NONE {
                        self.added.insert(tp);
                        self.started = true;
                        continue;
                    }
                    let e = Error::broker(code, ApiKey::AddPartitionsToTxn, -1, tp.to_string(), None);
                    match verdict(&e) {
                        Verdict::Retry => retry = true,
                        Verdict::FindCoordinator => {
                            self.coordinator = None;
                            retry = true;
                        }
                        _ if code == ErrorCode::OPERATION_NOT_ATTEMPTED => retry = true,
                        v => {
                            let v = match code {
                                // Java's AddPartitionsToTxn handler: these
                                // are fatal, ...
                                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                | ErrorCode::INVALID_TXN_STATE
                                | ErrorCode::INVALID_PRODUCER_ID_MAPPING => Verdict::Fatal,
                                // ... and an error it does not expect leaves
                                // the transaction abortable.
                                _ if v == Verdict::Fatal => Verdict::Abortable,
                                _ => v,
                            };
                            failure = failure.or(Some((e, v)));
                        }
                    }
                }
                self.adding.clear();
                if let Some((e, v)) = failure {
                    return self.on_error_as(now_ms, req, e, v);
                }
                if retry {
                    self.retry_at_ms = now_ms + self.retry_backoff_ms;
                }
                Vec::new()
            }
            TxnAnswer::OffsetsAdded => {
                self.started = true;
                if let Some(Op::Offsets { added, .. }) = &mut self.op {
                    *added = true;
                }
                Vec::new()
            }
            TxnAnswer::OffsetsCommitted(results) => {
                let mut failure: Option<Error> = None;
                let mut again: BTreeSet<TopicPartition> = BTreeSet::new();
                for (tp, code) in results {
                    if code == ErrorCode::NONE {
                        continue;
                    }
                    let e = Error::broker(code, ApiKey::TxnOffsetCommit, -1, tp.to_string(), None);
                    match verdict(&e) {
                        // Java looks the group coordinator up again after a
                        // timeout too.
                        Verdict::FindCoordinator | Verdict::Retry if code == ErrorCode::REQUEST_TIMED_OUT => {
                            self.group_coordinator = None;
                            again.insert(tp);
                        }
                        Verdict::Retry => {
                            again.insert(tp);
                        }
                        Verdict::FindCoordinator => {
                            self.group_coordinator = None;
                            again.insert(tp);
                        }
                        _ => failure = failure.or(Some(e)),
                    }
                }
                if let Some(e) = failure {
                    return self.on_error(now_ms, req, e);
                }
                if again.is_empty() {
                    if let Some(op) = self.op.take() {
                        op.answer(&Ok(()));
                    }
                    return self.take_queued_end();
                }
                if let Some(Op::Offsets { offsets, .. }) = &mut self.op {
                    offsets.retain(|(tp, _)| again.contains(tp));
                }
                self.retry_at_ms = now_ms + self.retry_backoff_ms;
                Vec::new()
            }
            TxnAnswer::Ended { producer_id, epoch, tv2_offered } => {
                let mut effects = Vec::new();
                // Java checks before every EndTxn; the switch waits for the
                // next transaction.
                self.upgrade_to_tv2 = !self.tv2 && tv2_offered;
                if producer_id >= 0 && self.tv2 {
                    self.producer_id = producer_id;
                    self.epoch = epoch;
                    effects.push(Effect::SetProducerId(producer_id, epoch));
                }
                let aborted = matches!(self.op, Some(Op::End { commit: false, .. }));
                if aborted && self.bump_required && !self.tv2 {
                    if let Some(Op::End { ended, .. }) = &mut self.op {
                        *ended = true;
                    }
                    return effects;
                }
                effects.extend(self.finish_end(Ok(())));
                effects
            }
        }
    }

    fn forget_coordinator(&mut self, req: &TxnRequest) {
        if req.to_group() {
            self.group_coordinator = None;
        } else {
            self.coordinator = None;
        }
    }

    fn on_error(&mut self, now_ms: i64, req: &TxnRequest, e: Error) -> Vec<Effect> {
        let v = verdict(&e);
        self.on_error_as(now_ms, req, e, v)
    }

    fn on_error_as(&mut self, now_ms: i64, req: &TxnRequest, e: Error, v: Verdict) -> Vec<Effect> {
        tracing::debug!(transactional_id = %self.id, error = %e, ?v, "transactional request failed");
        if matches!(req, TxnRequest::AddPartitions { .. }) {
            self.adding.clear();
        }
        // The abort's own requests (EndTxn, the epoch bump) failing is
        // fatal; anything else failing while the transaction is already
        // abortable or aborting changes nothing (Java's rule).
        let own_abort = self.phase == Phase::Aborting
            && matches!(req, TxnRequest::EndTxn { .. } | TxnRequest::InitProducerId { .. });
        match v {
            Verdict::Retry => {
                self.retry_at_ms = now_ms + self.retry_backoff_ms;
                Vec::new()
            }
            Verdict::FindCoordinator => {
                self.forget_coordinator(req);
                self.retry_at_ms = now_ms + self.retry_backoff_ms;
                Vec::new()
            }
            Verdict::Fenced => {
                let err = self.error_of(
                    TransactionErrorKind::Fenced,
                    "a newer producer with the same transactional.id fenced this one",
                    Some(e),
                );
                self.enter_fatal(err);
                Vec::new()
            }
            Verdict::Abortable | Verdict::AbortableWithBump
                if !own_abort && matches!(self.phase, Phase::Aborting | Phase::AbortableError) =>
            {
                self.retry_at_ms = now_ms + self.retry_backoff_ms;
                Vec::new()
            }
            Verdict::AbortableWithBump
                if !own_abort && self.phase != Phase::Initializing && (self.supports_bump || self.tv2) =>
            {
                if e.code() == Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING) {
                    self.skip_end_txn = true;
                }
                if !self.tv2 {
                    self.bump_required = true;
                }
                let err =
                    self.error_of(TransactionErrorKind::Abortable, "the transaction cannot commit; abort it", Some(e));
                self.enter_abortable(err)
            }
            Verdict::Abortable if !own_abort && self.phase != Phase::Initializing => {
                let err =
                    self.error_of(TransactionErrorKind::Abortable, "the transaction cannot commit; abort it", Some(e));
                self.enter_abortable(err)
            }
            _ => {
                let reason = if own_abort { "the abort failed" } else { "the coordinator refused the request" };
                let err = self.error_of(TransactionErrorKind::Fatal, reason, Some(e));
                self.enter_fatal(err);
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests;
