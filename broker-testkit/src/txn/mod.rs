//! The transaction coordinator, as a sans-IO state machine.
//!
//! [`TransactionCoordinator`] holds the metadata of every transactional id
//! of the cluster (which broker coordinates which id is decided elsewhere:
//! the leader of its `__transaction_state` partition) and makes the
//! decisions of Apache Kafka 4.x's `TransactionCoordinator`: InitProducerId
//! for a transactional id (with KIP-360's epoch checks), AddPartitionsToTxn
//! and AddOffsetsToTxn, the verification of a transactional produce or
//! offset commit (KIP-890 part 1, and the implicit add of part 2),
//! EndTxn (with the epoch bump of transaction version 2) and the abort of
//! timed-out transactions. It does no I/O and reads no clock.
//!
//! # Completing a transaction
//!
//! Ending a transaction moves it to PrepareCommit or PrepareAbort and lists
//! the partitions that need a marker ([`TxnMetadata::pending_markers`]).
//! The cluster writes the markers ([`crate::txn::markers`]) and reports
//! each with [`TransactionCoordinator::marker_written`]; once none is left
//! the transaction is CompleteCommit or CompleteAbort. Until then requests
//! for the transactional id get CONCURRENT_TRANSACTIONS, as in Kafka. The
//! cluster writes markers synchronously, so this window is only seen when a
//! partition has no leader, or a test holds the markers back or makes their
//! writes fail ([`marker_faults`]).
//!
//! # Where this differs from Kafka
//!
//! - The metadata lives in memory for the whole cluster, so coordinator
//!   moves need no load; every change is also written to
//!   `__transaction_state` ([`log`]) and read back when the cluster
//!   restarts from its data directory. Transactions the logs show open but
//!   the coordinator does not know are aborted
//!   ([`crate::cluster::Core::abort_orphaned_transactions`]).
//! - Markers are written within the request or tick that ends the
//!   transaction, carrying the leader epoch of the id's
//!   `__transaction_state` partition as the coordinator epoch.
//! - Transactional ids never expire (`transactional.id.expiration.ms`).
//! - The timeout check is exact (a transaction is aborted the moment its
//!   timeout passes) where Kafka checks every
//!   `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
#![warn(missing_docs)]

pub mod describe;
pub mod log;
pub mod marker_faults;
pub mod markers;

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::ErrorCode;

/// A topic partition, by name.
pub type TopicPartition = (String, i32);

/// No producer id.
pub const NO_PRODUCER_ID: i64 = -1;
/// No producer epoch.
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Kafka's `TransactionMetadata.isEpochExhausted`: the last epoch is kept
/// for the markers of a producer-id rotation.
pub fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// A transaction's state (Kafka's `TransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// No transaction yet for the current producer id and epoch.
    Empty,
    /// Partitions were added: a transaction is open.
    Ongoing,
    /// A commit was decided; its markers are being written.
    PrepareCommit,
    /// An abort was decided; its markers are being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

impl TxnState {
    /// Kafka's name for the state (as DescribeTransactions reports it).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }

    fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// The metadata of one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    /// The transactional id.
    pub transactional_id: String,
    /// The current producer id.
    pub producer_id: i64,
    /// The producer id before the last rotation (epoch exhaustion), or -1.
    pub previous_producer_id: i64,
    /// The current epoch; -1 until the first InitProducerId completes.
    pub producer_epoch: i16,
    /// The epoch before the last bump, or -1: a retry of the request that
    /// bumped it is recognised by it (KIP-360).
    pub last_producer_epoch: i16,
    /// The transaction timeout the producer asked for.
    pub timeout_ms: i32,
    /// The state.
    pub state: TxnState,
    /// The partitions of the current transaction.
    pub partitions: BTreeSet<TopicPartition>,
    /// When the current or last transaction started (its first partition);
    /// -1 from InitProducerId until the next one starts.
    pub start_ms: i64,
    /// When the metadata last changed.
    pub last_update_ms: i64,
    /// In the Prepare states: the partitions whose marker is still to be
    /// written.
    pub pending_markers: BTreeSet<TopicPartition>,
    /// In the Prepare states: the producer id and epoch the markers carry.
    pub marker_producer: (i64, i16),
    /// In the Prepare states: the producer id to move to once the markers
    /// are written (the epoch was exhausted), with epoch 0.
    pub next_producer_id: Option<i64>,
    /// Whether the producer speaks transaction version 2 (it added a
    /// partition implicitly or ended a transaction with EndTxn v5): a
    /// fenced transaction's abort then bumps the epoch once more, as every
    /// version-2 end does.
    pub client_tv2: bool,
}

impl TxnMetadata {
    fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id,
            previous_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
            pending_markers: BTreeSet::new(),
            marker_producer: (NO_PRODUCER_ID, NO_PRODUCER_EPOCH),
            next_producer_id: None,
            client_tv2: false,
        }
    }

    /// KIP-360: whether a producer that names itself `(pid, epoch)` may
    /// re-initialise this transactional id (Kafka's `isValidProducerId`;
    /// the epoch is judged when it is bumped).
    fn accepts_init_from(&self, pid: i64, epoch: i16) -> bool {
        self.producer_epoch == NO_PRODUCER_EPOCH
            || pid == self.producer_id
            || (pid == self.previous_producer_id && epoch_exhausted(epoch))
    }

    /// Kafka's `prepareIncrementProducerEpoch`: the new (epoch, last epoch)
    /// after an InitProducerId naming `expected` (None: no epoch given).
    fn init_epochs(&self, expected: Option<i16>) -> Result<(i16, i16), ErrorCode> {
        let bumped = self.producer_epoch.saturating_add(1);
        match expected {
            None => Ok((bumped, NO_PRODUCER_EPOCH)),
            Some(e) if self.producer_epoch == NO_PRODUCER_EPOCH || e == self.producer_epoch => {
                Ok((bumped, self.producer_epoch))
            }
            // A retry of an InitProducerId that already bumped the epoch:
            // the same answer again.
            Some(e) if e == self.last_producer_epoch => Ok((self.producer_epoch, self.last_producer_epoch)),
            Some(_) => Err(ErrorCode::PRODUCER_FENCED),
        }
    }

    /// Starts a transaction's end: Prepare state, markers for every
    /// partition, carrying `marker_producer`.
    fn prepare_end(&mut self, commit: bool, marker_producer: (i64, i16), now_ms: i64) {
        self.state = if commit { TxnState::PrepareCommit } else { TxnState::PrepareAbort };
        self.pending_markers = self.partitions.clone();
        self.marker_producer = marker_producer;
        self.last_update_ms = now_ms;
    }

    /// Ends the transaction under version 2 (Kafka's `prepareAbortOrCommit`
    /// with an epoch bump): the markers carry the bumped epoch; an
    /// exhausted epoch moves the producer to a fresh id at epoch 0 once
    /// they are written. Returns the id and epoch the client uses next.
    fn end_with_bump(&mut self, commit: bool, alloc: &mut dyn FnMut() -> i64, now_ms: i64) -> (i64, i16) {
        if epoch_exhausted(self.producer_epoch) {
            self.next_producer_id = Some(alloc());
        }
        self.last_producer_epoch = self.producer_epoch;
        self.producer_epoch = self.producer_epoch.saturating_add(1);
        self.client_tv2 = true;
        self.prepare_end(commit, (self.producer_id, self.producer_epoch), now_ms);
        self.client_producer()
    }

    /// The producer id and epoch the client is to use from now on.
    fn client_producer(&self) -> (i64, i16) {
        match self.next_producer_id {
            Some(pid) => (pid, 0),
            None => (self.producer_id, self.producer_epoch),
        }
    }

    /// Starts a transaction if none is open.
    fn begin_if_needed(&mut self, now_ms: i64) {
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.partitions.clear();
            self.start_ms = now_ms;
        }
        self.last_update_ms = now_ms;
    }

    /// The id/epoch checks every transactional request makes.
    fn check_producer(&self, pid: i64, epoch: i16) -> Result<(), ErrorCode> {
        if pid != self.producer_id {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != self.producer_epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(())
    }
}

/// The coordinator's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms` (Kafka: 900000).
    pub max_timeout_ms: i32,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig { max_timeout_ms: 900_000 }
    }
}

/// Every transactional id of the cluster; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct TransactionCoordinator {
    config: TxnConfig,
    txns: BTreeMap<String, TxnMetadata>,
}

impl TransactionCoordinator {
    /// A coordinator without transactional ids.
    pub fn new(config: TxnConfig) -> Self {
        TransactionCoordinator { config, txns: BTreeMap::new() }
    }

    /// The metadata of `transactional_id`, if it is known.
    pub fn get(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id's metadata, by id.
    pub fn all(&self) -> impl Iterator<Item = &TxnMetadata> + '_ {
        self.txns.values()
    }

    /// Installs metadata read back from `__transaction_state` (a restart).
    pub fn load(&mut self, meta: TxnMetadata) {
        self.txns.insert(meta.transactional_id.clone(), meta);
    }

    /// InitProducerId for a transactional id: the producer id and epoch to
    /// use. `expected` is the caller's current id and epoch (v3+, KIP-360),
    /// when it sent one. `alloc` hands out fresh producer ids.
    ///
    /// An Ongoing transaction is fenced (its epoch bumped) and its abort
    /// begun, and the answer is CONCURRENT_TRANSACTIONS, as Kafka does: the
    /// client retries, and the retry bumps the epoch again.
    pub fn init_producer_id(
        &mut self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        alloc: &mut dyn FnMut() -> i64,
    ) -> Result<(i64, i16), ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
        }
        let txn = self
            .txns
            .entry(transactional_id.to_string())
            .or_insert_with(|| TxnMetadata::new(transactional_id, alloc(), timeout_ms, now_ms));
        if let Some((pid, epoch)) = expected
            && !txn.accepts_init_from(pid, epoch)
        {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        match txn.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
            TxnState::Ongoing => {
                fence_and_abort(txn, now_ms);
                Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let expected_epoch = expected.map(|(_, e)| e);
                if epoch_exhausted(txn.producer_epoch) && expected_epoch.is_none_or(|e| e == txn.producer_epoch) {
                    // Kafka's `prepareProducerIdRotation`: the last epoch
                    // is kept when the caller named it, so its retry is
                    // recognised.
                    txn.last_producer_epoch = if expected.is_some() { txn.producer_epoch } else { NO_PRODUCER_EPOCH };
                    txn.previous_producer_id = txn.producer_id;
                    txn.producer_id = alloc();
                    txn.producer_epoch = 0;
                } else {
                    let (epoch, last) = txn.init_epochs(expected_epoch)?;
                    txn.producer_epoch = epoch;
                    txn.last_producer_epoch = last;
                }
                txn.timeout_ms = timeout_ms;
                txn.last_update_ms = now_ms;
                txn.state = TxnState::Empty;
                txn.partitions.clear();
                txn.start_ms = -1;
                Ok((txn.producer_id, txn.producer_epoch))
            }
        }
    }

    /// AddPartitionsToTxn (v0–v3) and AddOffsetsToTxn: adds `partitions`
    /// to the transaction, starting one if none is open.
    pub fn add_partitions(
        &mut self,
        transactional_id: &str,
        pid: i64,
        epoch: i16,
        partitions: &[TopicPartition],
        now_ms: i64,
    ) -> Result<(), ErrorCode> {
        let txn = self.txns.get_mut(transactional_id).ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        txn.check_producer(pid, epoch)?;
        if txn.state.is_prepare() {
            return Err(ErrorCode::CONCURRENT_TRANSACTIONS);
        }
        txn.begin_if_needed(now_ms);
        txn.partitions.extend(partitions.iter().cloned());
        txn.client_tv2 = false;
        Ok(())
    }

    /// The check a leader makes before a transactional produce or a group
    /// coordinator before a transactional offset commit (KIP-890): the
    /// partition must be in the producer's ongoing transaction. With `add`
    /// (transaction version 2) it is added instead, starting a transaction
    /// if none is open. Errors are the coordinator's: a partition outside
    /// the transaction is TRANSACTION_ABORTABLE, and the caller maps errors
    /// for its client as Kafka's `AddPartitionsToTxnManager` does
    /// (PRODUCER_FENCED to INVALID_PRODUCER_EPOCH, TRANSACTION_ABORTABLE to
    /// INVALID_TXN_STATE for clients that predate it).
    pub fn verify_partition(
        &mut self,
        transactional_id: &str,
        pid: i64,
        epoch: i16,
        partition: &TopicPartition,
        add: bool,
        now_ms: i64,
    ) -> Result<(), ErrorCode> {
        let txn = self.txns.get_mut(transactional_id).ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        txn.check_producer(pid, epoch)?;
        if txn.state.is_prepare() {
            return Err(ErrorCode::CONCURRENT_TRANSACTIONS);
        }
        if txn.state == TxnState::Ongoing && txn.partitions.contains(partition) {
            return Ok(());
        }
        if !add {
            return Err(ErrorCode::TRANSACTION_ABORTABLE);
        }
        txn.begin_if_needed(now_ms);
        txn.partitions.insert(partition.clone());
        txn.client_tv2 = true;
        Ok(())
    }

    /// EndTxn: the producer named by its id and epoch commits (`commit`) or
    /// aborts the transaction. `tv2` is transaction version 2 (EndTxn v5
    /// on a cluster at level 2): the epoch is bumped on every end, the
    /// previous epoch is a retry, and an abort with nothing open is allowed
    /// (it bumps the epoch too). Returns the producer id and epoch the
    /// answer carries: under version 2 those to use next, else -1 and -1.
    pub fn end_txn(
        &mut self,
        transactional_id: &str,
        (pid, epoch): (i64, i16),
        commit: bool,
        tv2: bool,
        now_ms: i64,
        alloc: &mut dyn FnMut() -> i64,
    ) -> Result<(i64, i16), ErrorCode> {
        let txn = self.txns.get_mut(transactional_id).ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        if tv2 { end_v2(txn, (pid, epoch), commit, now_ms, alloc) } else { end_v1(txn, (pid, epoch), commit, now_ms) }
    }

    /// A marker was written to `partition` for the ending transaction of
    /// `transactional_id` (or the partition is gone). Once every marker is
    /// written the transaction completes.
    pub fn marker_written(&mut self, transactional_id: &str, partition: &TopicPartition, now_ms: i64) {
        let Some(txn) = self.txns.get_mut(transactional_id) else { return };
        txn.pending_markers.remove(partition);
        self.maybe_complete(transactional_id, now_ms);
    }

    /// Completes a Prepare state whose markers are all written.
    pub fn maybe_complete(&mut self, transactional_id: &str, now_ms: i64) {
        let Some(txn) = self.txns.get_mut(transactional_id) else { return };
        if !txn.state.is_prepare() || !txn.pending_markers.is_empty() {
            return;
        }
        txn.state =
            if txn.state == TxnState::PrepareCommit { TxnState::CompleteCommit } else { TxnState::CompleteAbort };
        txn.partitions.clear();
        // The start time stays: DescribeTransactions shows it for a
        // completed transaction, as Kafka does.
        txn.last_update_ms = now_ms;
        if let Some(next) = txn.next_producer_id.take() {
            txn.previous_producer_id = txn.producer_id;
            txn.producer_id = next;
            txn.producer_epoch = 0;
            txn.last_producer_epoch = NO_PRODUCER_EPOCH;
        }
    }

    /// The transactional ids whose markers are being written.
    pub fn ending(&self) -> Vec<String> {
        self.txns.values().filter(|t| t.state.is_prepare()).map(|t| t.transactional_id.clone()).collect()
    }

    /// Aborts every Ongoing transaction whose timeout has passed (Kafka's
    /// `abortTimedOutTransactions`): the epoch is bumped first, so the
    /// producer that let it time out is fenced. Returns the ids aborted.
    pub fn abort_timed_out(&mut self, now_ms: i64) -> Vec<String> {
        let mut aborted = Vec::new();
        for txn in self.txns.values_mut() {
            if txn.state == TxnState::Ongoing && now_ms > txn.start_ms.saturating_add(i64::from(txn.timeout_ms)) {
                fence_and_abort(txn, now_ms);
                aborted.push(txn.transactional_id.clone());
            }
        }
        aborted
    }

    /// When the next transaction times out, if any is open.
    pub fn next_deadline(&self) -> Option<i64> {
        self.txns
            .values()
            .filter(|t| t.state == TxnState::Ongoing)
            .map(|t| t.start_ms.saturating_add(i64::from(t.timeout_ms)).saturating_add(1))
            .min()
    }
}

/// EndTxn under transaction version 1: the epoch must be the current one,
/// and a retry of a completed end succeeds.
fn end_v1(txn: &mut TxnMetadata, (pid, epoch): (i64, i16), commit: bool, now_ms: i64) -> Result<(i64, i16), ErrorCode> {
    txn.check_producer(pid, epoch)?;
    let none = (NO_PRODUCER_ID, NO_PRODUCER_EPOCH);
    match (txn.state, commit) {
        (TxnState::Ongoing, _) => {
            txn.client_tv2 = false;
            txn.prepare_end(commit, (pid, epoch), now_ms);
            Ok(none)
        }
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(none),
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
}

/// EndTxn under transaction version 2, by Kafka's table: "retry" is the
/// epoch just before the current one (or the last epoch of the previous
/// producer id after a rotation), "current" the current epoch.
///
/// | state          | abort, retry | abort, current | commit, retry | commit, current |
/// |----------------|--------------|----------------|---------------|-----------------|
/// | Empty          | fenced       | bump           | fenced        | invalid state   |
/// | CompleteAbort  | ok           | bump           | invalid state | invalid state   |
/// | CompleteCommit | invalid state| bump           | ok            | invalid state   |
///
/// Ongoing takes only the current epoch; the Prepare states only a retry
/// (CONCURRENT_TRANSACTIONS for the same outcome).
fn end_v2(
    txn: &mut TxnMetadata,
    (pid, epoch): (i64, i16),
    commit: bool,
    now_ms: i64,
    alloc: &mut dyn FnMut() -> i64,
) -> Result<(i64, i16), ErrorCode> {
    let retry_on_overflow = txn.previous_producer_id == pid && epoch == i16::MAX - 1 && txn.producer_epoch == 0;
    let retry_on_bump = i32::from(txn.producer_epoch) == i32::from(epoch) + 1;
    let retry = retry_on_bump || retry_on_overflow;
    let valid_epoch = match txn.state {
        TxnState::Ongoing | TxnState::Empty => epoch == txn.producer_epoch,
        TxnState::PrepareCommit | TxnState::PrepareAbort => retry_on_bump,
        TxnState::CompleteCommit | TxnState::CompleteAbort => retry || epoch == txn.producer_epoch,
    };
    if txn.producer_id != pid && !retry_on_overflow {
        return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
    }
    if !valid_epoch {
        return Err(ErrorCode::PRODUCER_FENCED);
    }
    let current = (txn.producer_id, txn.producer_epoch);
    match (txn.state, commit) {
        (TxnState::Ongoing, _) => Ok(txn.end_with_bump(commit, alloc, now_ms)),
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) if retry => Ok(current),
        (TxnState::CompleteCommit | TxnState::CompleteAbort | TxnState::Empty, false) if !retry => {
            // Nothing is open: there is nothing to mark.
            txn.partitions.clear();
            Ok(txn.end_with_bump(false, alloc, now_ms))
        }
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
}

/// Kafka's `prepareFenceProducerEpoch` followed by an abort: the epoch is
/// bumped, so the fenced producer's later batches are refused by every
/// partition; a version-2 producer's abort bumps it once more, as every
/// version-2 end does. The markers carry the final epoch.
fn fence_and_abort(txn: &mut TxnMetadata, now_ms: i64) {
    txn.producer_epoch = txn.producer_epoch.saturating_add(1);
    txn.last_producer_epoch = NO_PRODUCER_EPOCH;
    if txn.client_tv2 {
        txn.last_producer_epoch = txn.producer_epoch;
        txn.producer_epoch = txn.producer_epoch.saturating_add(1);
    }
    let marker_producer = (txn.producer_id, txn.producer_epoch);
    txn.prepare_end(false, marker_producer, now_ms);
}

#[cfg(test)]
mod tests;
