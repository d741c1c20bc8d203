use super::*;

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

fn reply() -> (Reply, oneshot::Receiver<Result<(), Error>>) {
    oneshot::channel()
}

fn answered(rx: &mut oneshot::Receiver<Result<(), Error>>) -> Option<Result<(), Error>> {
    rx.try_recv().ok()
}

fn ok(answer: TxnAnswer) -> TxnOutcome {
    TxnOutcome { coordinator: Some(1), result: Ok(answer) }
}

fn refused(code: ErrorCode, api: ApiKey) -> TxnOutcome {
    TxnOutcome { coordinator: Some(1), result: Err(Error::broker(code, api, 1, "t", None)) }
}

/// A manager past init_transactions, on protocol v1 or v2.
fn ready(tv2: bool) -> TransactionManager {
    let mut m = TransactionManager::new("tx".into(), 100);
    let (r, mut rx) = reply();
    m.init(r);
    let req = m.next_request(0, false, std::iter::empty()).expect("InitProducerId");
    assert!(matches!(req, TxnRequest::InitProducerId { producer_id: -1, epoch: -1 }));
    let effects =
        m.on_outcome(0, &req, ok(TxnAnswer::ProducerId { producer_id: 7, epoch: 3, tv2, supports_bump: true }));
    assert_eq!(effects, vec![Effect::SetProducerId(7, 3)]);
    assert!(matches!(answered(&mut rx), Some(Ok(()))));
    assert_eq!((m.phase(), m.coordinator()), (Phase::Ready, Some(1)));
    m
}

#[test]
fn v1_adds_partitions_before_their_batches_go_and_commits_after_the_last_result() {
    let mut m = ready(false);
    m.begin().unwrap();
    let queued = [tp(0), tp(1)];
    assert!(!m.may_send(&tp(0)), "v1: not before AddPartitionsToTxn");
    let req = m.next_request(1, true, queued.iter()).expect("AddPartitionsToTxn");
    let TxnRequest::AddPartitions { producer_id: 7, epoch: 3, partitions } = &req else { panic!("{req:?}") };
    assert_eq!(partitions, &queued);
    assert!(m.next_request(1, true, queued.iter()).is_none(), "one request at a time");
    m.on_outcome(
        2,
        &req,
        ok(TxnAnswer::PartitionsAdded(vec![(tp(0), ErrorCode::NONE), (tp(1), ErrorCode::CONCURRENT_TRANSACTIONS)])),
    );
    assert!(m.may_send(&tp(0)) && !m.may_send(&tp(1)));
    assert!(m.next_request(50, true, queued.iter()).is_none(), "the retry waits for its backoff");
    let req = m.next_request(102, true, queued.iter()).expect("the retry");
    assert!(matches!(&req, TxnRequest::AddPartitions { partitions, .. } if partitions == &[tp(1)]));
    m.on_outcome(103, &req, ok(TxnAnswer::PartitionsAdded(vec![(tp(1), ErrorCode::NONE)])));
    let (r, mut rx) = reply();
    assert!(m.end(true, Some(r)).is_empty());
    assert_eq!(m.phase(), Phase::Committing);
    assert!(m.next_request(104, true, std::iter::empty()).is_none(), "EndTxn waits for every record's result");
    let req = m.next_request(105, false, std::iter::empty()).expect("EndTxn");
    assert!(matches!(req, TxnRequest::EndTxn { commit: true, tv2: false, producer_id: 7, epoch: 3 }));
    let effects = m.on_outcome(106, &req, ok(TxnAnswer::Ended { producer_id: -1, epoch: -1, tv2_offered: false }));
    assert!(effects.is_empty(), "v1 keeps its epoch");
    assert!(matches!(answered(&mut rx), Some(Ok(()))));
    assert_eq!(m.phase(), Phase::Ready);
    assert!(!m.may_send(&tp(0)), "a new transaction adds its partitions again");
}

#[test]
fn v2_sends_at_once_and_takes_the_epoch_end_txn_gives() {
    let mut m = ready(true);
    m.begin().unwrap();
    assert!(m.may_send(&tp(4)), "v2: Produce adds the partition");
    assert!(m.next_request(1, true, [tp(4)].iter()).is_none(), "no AddPartitionsToTxn");
    m.data_sent();
    let (r, mut rx) = reply();
    m.end(true, Some(r));
    let req = m.next_request(2, false, std::iter::empty()).expect("EndTxn");
    assert!(matches!(req, TxnRequest::EndTxn { tv2: true, .. }));
    let effects = m.on_outcome(3, &req, ok(TxnAnswer::Ended { producer_id: 7, epoch: 4, tv2_offered: false }));
    assert_eq!(effects, vec![Effect::SetProducerId(7, 4)]);
    assert!(matches!(answered(&mut rx), Some(Ok(()))));
    m.begin().unwrap();
    let (r, _rx) = reply();
    m.end(false, Some(r));
    let req = m.next_request(4, false, std::iter::empty());
    assert!(req.is_none(), "nothing sent: nothing to end");
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn a_failed_record_makes_v1_abort_then_bump_the_epoch() {
    let mut m = ready(false);
    m.begin().unwrap();
    let req = m.next_request(1, true, [tp(0)].iter()).unwrap();
    m.on_outcome(2, &req, ok(TxnAnswer::PartitionsAdded(vec![(tp(0), ErrorCode::NONE)])));
    let lost = Error::Timeout { what: "records".into(), after: std::time::Duration::from_secs(1) };
    m.on_batch_failed(&lost, true);
    assert_eq!(m.phase(), Phase::AbortableError);
    let (r, mut rx) = reply();
    m.end(true, Some(r));
    let e = answered(&mut rx).unwrap().unwrap_err();
    assert_eq!(e.transaction_error_kind(), Some(TransactionErrorKind::Abortable), "{e}");
    let (r, mut rx) = reply();
    assert_eq!(m.end(false, Some(r)), vec![Effect::FailUndrained]);
    let req = m.next_request(3, false, std::iter::empty()).unwrap();
    assert!(matches!(req, TxnRequest::EndTxn { commit: false, .. }));
    assert!(m.on_outcome(4, &req, ok(TxnAnswer::Ended { producer_id: -1, epoch: -1, tv2_offered: false })).is_empty());
    assert!(answered(&mut rx).is_none(), "the abort ends with the epoch bump");
    let req = m.next_request(5, false, std::iter::empty()).unwrap();
    assert!(matches!(req, TxnRequest::InitProducerId { producer_id: 7, epoch: 3 }), "{req:?}");
    let effects =
        m.on_outcome(6, &req, ok(TxnAnswer::ProducerId { producer_id: 7, epoch: 4, tv2: false, supports_bump: true }));
    assert_eq!(effects, vec![Effect::SetProducerId(7, 4)]);
    assert!(matches!(answered(&mut rx), Some(Ok(()))));
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn fencing_is_final_and_coordinator_moves_are_retried() {
    let mut m = ready(true);
    m.begin().unwrap();
    m.data_sent();
    let (r, mut rx) = reply();
    m.end(true, Some(r));
    let req = m.next_request(1, false, std::iter::empty()).unwrap();
    m.on_outcome(2, &req, refused(ErrorCode::NOT_COORDINATOR, ApiKey::EndTxn));
    assert_eq!(m.coordinator(), None, "looked up again");
    assert!(answered(&mut rx).is_none());
    let req = m.next_request(200, false, std::iter::empty()).expect("EndTxn again");
    m.on_outcome(201, &req, refused(ErrorCode::PRODUCER_FENCED, ApiKey::EndTxn));
    let e = answered(&mut rx).unwrap().unwrap_err();
    assert_eq!(e.transaction_error_kind(), Some(TransactionErrorKind::Fenced), "{e}");
    assert_eq!(m.phase(), Phase::FatalError);
    assert_eq!(m.begin().unwrap_err().transaction_error_kind(), Some(TransactionErrorKind::Fenced));
}

#[test]
fn a_stale_generation_makes_the_offsets_abortable() {
    let mut m = ready(false);
    m.begin().unwrap();
    let (r, mut rx) = reply();
    let group = ConsumerGroupMetadata::new("g");
    m.send_offsets(group, vec![(tp(0), OffsetAndMetadata::new(5))], r);
    let req = m.next_request(1, false, std::iter::empty()).unwrap();
    assert!(matches!(&req, TxnRequest::AddOffsets { group_id, .. } if group_id == "g"));
    m.on_outcome(2, &req, ok(TxnAnswer::OffsetsAdded));
    let req = m.next_request(3, false, std::iter::empty()).unwrap();
    assert!(req.to_group());
    m.on_outcome(4, &req, ok(TxnAnswer::OffsetsCommitted(vec![(tp(0), ErrorCode::ILLEGAL_GENERATION)])));
    let e = answered(&mut rx).unwrap().unwrap_err();
    assert_eq!(e.transaction_error_kind(), Some(TransactionErrorKind::Abortable), "{e}");
    assert_eq!(m.phase(), Phase::AbortableError);
}

#[test]
fn calls_out_of_order_are_refused() {
    let mut m = TransactionManager::new("tx".into(), 100);
    assert!(matches!(m.begin(), Err(Error::IllegalState(_))));
    let mut m = ready(true);
    let (r, mut rx) = reply();
    m.end(true, Some(r));
    assert!(matches!(answered(&mut rx), Some(Err(Error::IllegalState(_)))), "commit without a transaction");
    m.begin().unwrap();
    assert!(matches!(m.begin(), Err(Error::IllegalState(_))), "one transaction at a time");
}

#[test]
fn a_late_answer_for_failed_offsets_leaves_the_abort_alone() {
    let mut m = ready(true);
    m.begin().unwrap();
    m.data_sent();
    let (r, mut offsets_rx) = reply();
    m.send_offsets(ConsumerGroupMetadata::new("g"), vec![(tp(0), OffsetAndMetadata::new(5))], r);
    let req = m.next_request(1, false, std::iter::empty()).unwrap();
    assert!(req.to_group());
    // A record fails while TxnOffsetCommit is on its way: the offsets call
    // fails at once, and the application aborts.
    m.on_batch_failed(&Error::Closed, true);
    assert!(matches!(answered(&mut offsets_rx), Some(Err(_))));
    let (r, mut abort_rx) = reply();
    assert_eq!(m.end(false, Some(r)), vec![Effect::FailUndrained]);
    // The late answer changes nothing, ...
    assert!(m.on_outcome(2, &req, ok(TxnAnswer::OffsetsCommitted(vec![(tp(0), ErrorCode::NONE)]))).is_empty());
    assert_eq!(m.phase(), Phase::Aborting);
    // ... nor would a late abortable error make it fatal.
    let req2 = TxnRequest::AddOffsets { producer_id: 7, epoch: 3, group_id: "g".into() };
    m.on_outcome(3, &req2, refused(ErrorCode::TRANSACTION_ABORTABLE, ApiKey::AddOffsetsToTxn));
    assert_eq!(m.phase(), Phase::Aborting);
    let req = m.next_request(200, false, std::iter::empty()).expect("EndTxn");
    assert!(matches!(req, TxnRequest::EndTxn { commit: false, .. }));
    m.on_outcome(201, &req, ok(TxnAnswer::Ended { producer_id: 7, epoch: 4, tv2_offered: false }));
    assert!(matches!(answered(&mut abort_rx), Some(Ok(()))));
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn an_unmapped_producer_id_aborts_by_bumping_the_epoch_without_end_txn() {
    let mut m = ready(false);
    m.begin().unwrap();
    let req = m.next_request(1, true, [tp(0)].iter()).unwrap();
    m.on_outcome(2, &req, refused(ErrorCode::INVALID_PRODUCER_ID_MAPPING, ApiKey::AddPartitionsToTxn));
    assert_eq!(m.phase(), Phase::AbortableError);
    let (r, mut rx) = reply();
    m.end(false, Some(r));
    let req = m.next_request(3, false, std::iter::empty()).unwrap();
    assert!(matches!(req, TxnRequest::InitProducerId { producer_id: 7, epoch: 3 }), "no EndTxn: {req:?}");
    m.on_outcome(4, &req, ok(TxnAnswer::ProducerId { producer_id: 7, epoch: 4, tv2: false, supports_bump: true }));
    assert!(matches!(answered(&mut rx), Some(Ok(()))));
    assert_eq!(m.phase(), Phase::Ready);
}

#[test]
fn a_commit_asked_for_while_offsets_are_sent_follows_them() {
    let mut m = ready(false);
    m.begin().unwrap();
    let (r, mut offsets_rx) = reply();
    m.send_offsets(ConsumerGroupMetadata::new("g"), vec![(tp(0), OffsetAndMetadata::new(5))], r);
    let req = m.next_request(1, false, std::iter::empty()).unwrap();
    let (r, mut commit_rx) = reply();
    assert!(m.end(true, Some(r)).is_empty());
    assert_eq!(m.phase(), Phase::InTransaction, "queued behind the offsets");
    m.on_outcome(2, &req, ok(TxnAnswer::OffsetsAdded));
    let req = m.next_request(3, false, std::iter::empty()).unwrap();
    m.on_outcome(4, &req, ok(TxnAnswer::OffsetsCommitted(vec![(tp(0), ErrorCode::NONE)])));
    assert!(matches!(answered(&mut offsets_rx), Some(Ok(()))));
    assert_eq!(m.phase(), Phase::Committing);
    let req = m.next_request(5, false, std::iter::empty()).unwrap();
    assert!(matches!(req, TxnRequest::EndTxn { commit: true, .. }));
    m.on_outcome(6, &req, ok(TxnAnswer::Ended { producer_id: -1, epoch: -1, tv2_offered: false }));
    assert!(matches!(answered(&mut commit_rx), Some(Ok(()))));
}

#[test]
fn a_cluster_upgraded_to_v2_is_noticed_at_end_txn_and_switched_to_after_an_epoch_bump() {
    let mut m = ready(false);
    m.begin().unwrap();
    let req = m.next_request(1, true, [tp(0)].iter()).expect("AddPartitionsToTxn");
    m.on_outcome(2, &req, ok(TxnAnswer::PartitionsAdded(vec![(tp(0), ErrorCode::NONE)])));
    let (r, mut rx) = reply();
    m.end(true, Some(r));
    let req = m.next_request(3, false, std::iter::empty()).expect("EndTxn");
    assert!(matches!(req, TxnRequest::EndTxn { tv2: false, .. }), "built under v1");
    let effects = m.on_outcome(4, &req, ok(TxnAnswer::Ended { producer_id: -1, epoch: -1, tv2_offered: true }));
    assert!(effects.is_empty());
    assert!(matches!(answered(&mut rx), Some(Ok(()))), "the commit succeeded");
    assert!(!m.tv2(), "not before the bump");
    m.begin().unwrap();
    assert!(!m.may_send(&tp(0)), "nothing of the next transaction before the bump");
    let req = m.next_request(5, true, [tp(0)].iter()).expect("the bump");
    assert!(matches!(req, TxnRequest::InitProducerId { producer_id: 7, epoch: 3 }), "{req:?}");
    // Retried like any InitProducerId.
    m.on_outcome(6, &req, refused(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ApiKey::InitProducerId));
    let req = m.next_request(200, true, [tp(0)].iter()).expect("the bump again");
    assert!(matches!(req, TxnRequest::InitProducerId { producer_id: 7, epoch: 3 }));
    let effects =
        m.on_outcome(201, &req, ok(TxnAnswer::ProducerId { producer_id: 7, epoch: 4, tv2: true, supports_bump: true }));
    assert_eq!(effects, vec![Effect::SetProducerId(7, 4)], "sequences restart under the new epoch");
    assert!(m.tv2() && m.may_send(&tp(0)), "v2: Produce adds the partition");
    assert!(m.next_request(202, true, [tp(0)].iter()).is_none(), "no AddPartitionsToTxn under v2");
    m.data_sent();
    let (r, _rx) = reply();
    m.end(true, Some(r));
    let req = m.next_request(203, false, std::iter::empty()).expect("EndTxn");
    assert!(matches!(req, TxnRequest::EndTxn { tv2: true, epoch: 4, .. }), "{req:?}");
}

#[test]
fn add_partitions_errors_follow_javas_split_between_abortable_and_fatal() {
    // An error Java's handler does not expect: the transaction is abortable.
    let mut m = ready(false);
    m.begin().unwrap();
    let req = m.next_request(1, true, [tp(0)].iter()).expect("AddPartitionsToTxn");
    m.on_outcome(2, &req, ok(TxnAnswer::PartitionsAdded(vec![(tp(0), ErrorCode::UNKNOWN_SERVER_ERROR)])));
    assert_eq!(m.phase(), Phase::AbortableError);
    let (r, mut rx) = reply();
    m.end(false, Some(r));
    assert!(m.next_request(3, false, std::iter::empty()).is_none(), "nothing was added: nothing to end");
    assert!(matches!(answered(&mut rx), Some(Ok(()))));
    assert_eq!(m.phase(), Phase::Ready);

    // INVALID_TXN_STATE is fatal, as in Java.
    m.begin().unwrap();
    let req = m.next_request(4, true, [tp(0)].iter()).expect("AddPartitionsToTxn");
    m.on_outcome(5, &req, ok(TxnAnswer::PartitionsAdded(vec![(tp(0), ErrorCode::INVALID_TXN_STATE)])));
    assert_eq!(m.phase(), Phase::FatalError);
}
