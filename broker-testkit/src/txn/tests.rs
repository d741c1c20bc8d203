//! The coordinator's transitions, without a cluster: InitProducerId and
//! its fencing, adding partitions, verification, EndTxn under both
//! transaction versions, marker completion and timeouts.

use kafka_protocol::ErrorCode;

use super::*;

const T0: i64 = 1_000_000;

struct Ids(i64);

impl Ids {
    fn alloc(&mut self) -> i64 {
        self.0 += 1;
        self.0
    }
}

fn coordinator() -> (TransactionCoordinator, Ids) {
    (TransactionCoordinator::new(TxnConfig::default()), Ids(100))
}

fn tp(t: &str, p: i32) -> TopicPartition {
    (t.to_string(), p)
}

/// Writes every pending marker of `tid` (as the cluster would).
fn write_markers(c: &mut TransactionCoordinator, tid: &str) {
    let pending: Vec<TopicPartition> = c.get(tid).unwrap().pending_markers.iter().cloned().collect();
    for p in pending {
        c.marker_written(tid, &p, T0);
    }
    c.maybe_complete(tid, T0);
}

fn init(c: &mut TransactionCoordinator, ids: &mut Ids, tid: &str) -> Result<(i64, i16), ErrorCode> {
    c.init_producer_id(tid, 60_000, None, T0, &mut || ids.alloc())
}

#[test]
fn a_new_id_starts_at_epoch_0_and_each_init_bumps_it() {
    let (mut c, mut ids) = coordinator();
    assert_eq!(init(&mut c, &mut ids, "t"), Ok((101, 0)));
    assert_eq!(c.get("t").unwrap().state, TxnState::Empty);
    assert_eq!(init(&mut c, &mut ids, "t"), Ok((101, 1)));
    assert_eq!(init(&mut c, &mut ids, "t"), Ok((101, 2)));
    // Bad inputs.
    assert_eq!(c.init_producer_id("", 1000, None, T0, &mut || ids.alloc()), Err(ErrorCode::INVALID_REQUEST));
    assert_eq!(
        c.init_producer_id("t", 900_001, None, T0, &mut || ids.alloc()),
        Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
    );
    assert_eq!(c.init_producer_id("t", 0, None, T0, &mut || ids.alloc()), Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT));
}

#[test]
fn kip_360_init_accepts_the_current_or_retried_epoch_and_fences_others() {
    let (mut c, mut ids) = coordinator();
    init(&mut c, &mut ids, "t").unwrap();
    init(&mut c, &mut ids, "t").unwrap(); // epoch 1
    let mut bump = |c: &mut TransactionCoordinator, pid, epoch| {
        c.init_producer_id("t", 60_000, Some((pid, epoch)), T0, &mut || ids.alloc())
    };
    assert_eq!(bump(&mut c, 101, 1), Ok((101, 2)));
    // A retry of that bump (the caller still names epoch 1) gets the same answer.
    assert_eq!(bump(&mut c, 101, 1), Ok((101, 2)));
    assert_eq!(bump(&mut c, 101, 0), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(bump(&mut c, 999, 2), Err(ErrorCode::PRODUCER_FENCED));
}

#[test]
fn an_exhausted_epoch_moves_to_a_new_producer_id() {
    let (mut c, mut ids) = coordinator();
    init(&mut c, &mut ids, "t").unwrap();
    c.txns.get_mut("t").unwrap().producer_epoch = i16::MAX - 1;
    assert_eq!(init(&mut c, &mut ids, "t"), Ok((102, 0)));
    assert_eq!(c.get("t").unwrap().previous_producer_id, 101);
}

#[test]
fn init_during_a_transaction_aborts_it_and_asks_for_a_retry() {
    let (mut c, mut ids) = coordinator();
    let (pid, epoch) = init(&mut c, &mut ids, "t").unwrap();
    c.add_partitions("t", pid, epoch, &[tp("a", 0), tp("b", 1)], T0).unwrap();
    assert_eq!(init(&mut c, &mut ids, "t"), Err(ErrorCode::CONCURRENT_TRANSACTIONS));
    let m = c.get("t").unwrap();
    assert_eq!(m.state, TxnState::PrepareAbort);
    // The markers carry the fencing epoch.
    assert_eq!(m.marker_producer, (pid, 1));
    assert_eq!(m.pending_markers.len(), 2);
    // Still completing: the retry waits too.
    assert_eq!(init(&mut c, &mut ids, "t"), Err(ErrorCode::CONCURRENT_TRANSACTIONS));
    write_markers(&mut c, "t");
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(init(&mut c, &mut ids, "t"), Ok((pid, 2)));
    // The fenced producer is refused everywhere.
    assert_eq!(c.add_partitions("t", pid, 0, &[tp("a", 0)], T0), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(c.end_txn("t", (pid, 0), true, false, T0, &mut || 0), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(c.add_partitions("t", 5, 2, &[tp("a", 0)], T0), Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING));
    assert_eq!(c.add_partitions("u", pid, 2, &[tp("a", 0)], T0), Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING));
}

#[test]
fn tv1_commit_writes_markers_with_the_same_epoch_and_a_retry_succeeds() {
    let (mut c, mut ids) = coordinator();
    let (pid, epoch) = init(&mut c, &mut ids, "t").unwrap();
    // Commit with nothing open is refused; so is the abort under version 1.
    assert_eq!(c.end_txn("t", (pid, epoch), true, false, T0, &mut || 0), Err(ErrorCode::INVALID_TXN_STATE));
    assert_eq!(c.end_txn("t", (pid, epoch), false, false, T0, &mut || 0), Err(ErrorCode::INVALID_TXN_STATE));
    c.add_partitions("t", pid, epoch, &[tp("a", 0)], T0 + 5).unwrap();
    let m = c.get("t").unwrap();
    assert_eq!((m.state, m.start_ms), (TxnState::Ongoing, T0 + 5));
    assert_eq!(c.end_txn("t", (pid, epoch), true, false, T0, &mut || 0), Ok((NO_PRODUCER_ID, NO_PRODUCER_EPOCH)));
    assert_eq!(c.get("t").unwrap().marker_producer, (pid, epoch));
    // Adding or ending while the markers are written waits.
    assert_eq!(c.add_partitions("t", pid, epoch, &[tp("a", 1)], T0), Err(ErrorCode::CONCURRENT_TRANSACTIONS));
    assert_eq!(c.end_txn("t", (pid, epoch), true, false, T0, &mut || 0), Err(ErrorCode::CONCURRENT_TRANSACTIONS));
    assert_eq!(c.end_txn("t", (pid, epoch), false, false, T0, &mut || 0), Err(ErrorCode::INVALID_TXN_STATE));
    write_markers(&mut c, "t");
    let m = c.get("t").unwrap();
    assert_eq!((m.state, m.partitions.len()), (TxnState::CompleteCommit, 0));
    // A retry of the commit succeeds; the opposite outcome does not.
    assert_eq!(c.end_txn("t", (pid, epoch), true, false, T0, &mut || 0), Ok((NO_PRODUCER_ID, NO_PRODUCER_EPOCH)));
    assert_eq!(c.end_txn("t", (pid, epoch), false, false, T0, &mut || 0), Err(ErrorCode::INVALID_TXN_STATE));
}

#[test]
fn verification_accepts_added_partitions_and_version_2_adds_them() {
    let (mut c, mut ids) = coordinator();
    let (pid, epoch) = init(&mut c, &mut ids, "t").unwrap();
    let a = tp("a", 0);
    assert_eq!(c.verify_partition("t", pid, epoch, &a, false, T0), Err(ErrorCode::TRANSACTION_ABORTABLE));
    c.add_partitions("t", pid, epoch, std::slice::from_ref(&a), T0).unwrap();
    assert_eq!(c.verify_partition("t", pid, epoch, &a, false, T0), Ok(()));
    assert_eq!(c.verify_partition("t", pid, epoch, &tp("b", 0), false, T0), Err(ErrorCode::TRANSACTION_ABORTABLE));
    assert_eq!(c.verify_partition("t", pid, epoch + 1, &a, false, T0), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(c.verify_partition("t", pid, epoch, &tp("b", 0), true, T0), Ok(()));
    assert!(c.get("t").unwrap().partitions.contains(&tp("b", 0)));
}

#[test]
fn tv2_end_bumps_the_epoch_and_recognises_retries() {
    let (mut c, mut ids) = coordinator();
    let (pid, e0) = init(&mut c, &mut ids, "t").unwrap();
    c.verify_partition("t", pid, e0, &tp("a", 0), true, T0).unwrap();
    assert_eq!(c.get("t").unwrap().state, TxnState::Ongoing);
    assert_eq!(c.end_txn("t", (pid, e0), true, true, T0, &mut || ids.alloc()), Ok((pid, e0 + 1)));
    // Markers carry the new epoch.
    assert_eq!(c.get("t").unwrap().marker_producer, (pid, e0 + 1));
    write_markers(&mut c, "t");
    // A retry with the old epoch gets the same answer.
    assert_eq!(c.end_txn("t", (pid, e0), true, true, T0, &mut || ids.alloc()), Ok((pid, e0 + 1)));
    assert_eq!(c.end_txn("t", (pid, e0), false, true, T0, &mut || ids.alloc()), Err(ErrorCode::INVALID_TXN_STATE));
    // A commit with nothing open is refused; an abort is allowed and bumps.
    assert_eq!(c.end_txn("t", (pid, e0 + 1), true, true, T0, &mut || ids.alloc()), Err(ErrorCode::INVALID_TXN_STATE));
    assert_eq!(c.end_txn("t", (pid, e0 + 1), false, true, T0, &mut || ids.alloc()), Ok((pid, e0 + 2)));
    c.maybe_complete("t", T0);
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteAbort);
    // Older epochs are fenced.
    assert_eq!(c.end_txn("t", (pid, e0), false, true, T0, &mut || ids.alloc()), Err(ErrorCode::PRODUCER_FENCED));
}

#[test]
fn tv2_end_with_an_exhausted_epoch_rotates_the_producer_id() {
    let (mut c, mut ids) = coordinator();
    let (pid, _) = init(&mut c, &mut ids, "t").unwrap();
    let last = i16::MAX - 1;
    c.txns.get_mut("t").unwrap().producer_epoch = last;
    c.verify_partition("t", pid, last, &tp("a", 0), true, T0).unwrap();
    let (new_pid, new_epoch) = c.end_txn("t", (pid, last), false, true, T0, &mut || ids.alloc()).unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(new_epoch, 0);
    // The markers go out under the old id with the last epoch.
    assert_eq!(c.get("t").unwrap().marker_producer, (pid, i16::MAX));
    write_markers(&mut c, "t");
    let m = c.get("t").unwrap();
    assert_eq!((m.producer_id, m.producer_epoch, m.previous_producer_id), (new_pid, 0, pid));
}

#[test]
fn a_transaction_past_its_timeout_is_fenced_and_aborted() {
    let (mut c, mut ids) = coordinator();
    let (pid, epoch) = c.init_producer_id("t", 1000, None, T0, &mut || ids.alloc()).unwrap();
    assert_eq!(c.next_deadline(), None);
    c.add_partitions("t", pid, epoch, &[tp("a", 0)], T0).unwrap();
    assert_eq!(c.next_deadline(), Some(T0 + 1001));
    assert!(c.abort_timed_out(T0 + 1000).is_empty());
    assert_eq!(c.abort_timed_out(T0 + 1001), vec!["t".to_string()]);
    let m = c.get("t").unwrap();
    assert_eq!((m.state, m.producer_epoch, m.marker_producer), (TxnState::PrepareAbort, epoch + 1, (pid, epoch + 1)));
    write_markers(&mut c, "t");
    assert_eq!(c.add_partitions("t", pid, epoch, &[tp("a", 0)], T0), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(c.next_deadline(), None);
}

#[test]
fn tv2_end_follows_kafkas_table() {
    let (mut c, mut ids) = coordinator();
    let (pid, e0) = init(&mut c, &mut ids, "t").unwrap();
    let mut end = |c: &mut TransactionCoordinator, epoch: i16, commit: bool| {
        let r = c.end_txn("t", (pid, epoch), commit, true, T0, &mut || ids.alloc());
        if c.get("t").unwrap().state.name().starts_with("Prepare") {
            write_markers(c, "t");
        }
        r
    };
    // Empty: a retry is fenced, a current commit invalid, a current abort bumps.
    assert_eq!(end(&mut c, e0 - 1, false), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(end(&mut c, e0, true), Err(ErrorCode::INVALID_TXN_STATE));
    assert_eq!(end(&mut c, e0, false), Ok((pid, e0 + 1)));
    // CompleteAbort: the abort's retry is fine, a commit never is.
    assert_eq!(end(&mut c, e0, false), Ok((pid, e0 + 1)));
    assert_eq!(end(&mut c, e0, true), Err(ErrorCode::INVALID_TXN_STATE));
    assert_eq!(end(&mut c, e0 + 1, true), Err(ErrorCode::INVALID_TXN_STATE));
    // Ongoing takes only the current epoch.
    c.verify_partition("t", pid, e0 + 1, &tp("a", 0), true, T0).unwrap();
    assert_eq!(end(&mut c, e0, true), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(end(&mut c, e0 + 1, true), Ok((pid, e0 + 2)));
    // CompleteCommit: the commit's retry is fine, the abort's retry is
    // not, a current abort bumps.
    assert_eq!(end(&mut c, e0 + 1, true), Ok((pid, e0 + 2)));
    assert_eq!(end(&mut c, e0 + 1, false), Err(ErrorCode::INVALID_TXN_STATE));
    assert_eq!(end(&mut c, e0 + 2, false), Ok((pid, e0 + 3)));
    // Another producer id is not this transactional id's.
    assert_eq!(
        c.end_txn("t", (pid + 1, e0 + 3), false, true, T0, &mut || 0),
        Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
}

#[test]
fn a_fenced_version_2_transaction_is_aborted_with_a_second_bump() {
    let (mut c, mut ids) = coordinator();
    let (pid, e0) = init(&mut c, &mut ids, "t").unwrap();
    c.verify_partition("t", pid, e0, &tp("a", 0), true, T0).unwrap();
    assert_eq!(init(&mut c, &mut ids, "t"), Err(ErrorCode::CONCURRENT_TRANSACTIONS));
    // The fence bumps once and the version-2 abort once more.
    assert_eq!(c.get("t").unwrap().marker_producer, (pid, e0 + 2));
    write_markers(&mut c, "t");
    // The fenced producer's abort is not mistaken for a retry.
    assert_eq!(c.end_txn("t", (pid, e0), false, true, T0, &mut || ids.alloc()), Err(ErrorCode::PRODUCER_FENCED));
    assert_eq!(init(&mut c, &mut ids, "t"), Ok((pid, e0 + 3)));
}

#[test]
fn init_without_an_expected_epoch_forgets_the_last_one() {
    let (mut c, mut ids) = coordinator();
    let (pid, _) = init(&mut c, &mut ids, "t").unwrap();
    init(&mut c, &mut ids, "t").unwrap(); // epoch 1; no epoch named, so no retry of it
    let r = c.init_producer_id("t", 60_000, Some((pid, 0)), T0, &mut || ids.alloc());
    assert_eq!(r, Err(ErrorCode::PRODUCER_FENCED));
}
