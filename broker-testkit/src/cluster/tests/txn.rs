//! Transactions through the core: coordinator placement, InitProducerId
//! and fencing, the classic flow (AddPartitionsToTxn, produce, EndTxn) with
//! its markers and the last stable offset, aborted data hidden from
//! read_committed, transactional offsets, transaction version 2 (implicit
//! adds, epoch bump on EndTxn v5), timeouts, held markers and a leader
//! change in the middle of a transaction.

use kafka_protocol::messages::add_partitions_to_txn::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit::{TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic};
use kafka_protocol::records::{ControlRecord, ControlRecordType};

use super::*;
use crate::cluster::topic::{TRANSACTION_STATE, txn_partition_for};
use crate::txn::TxnState;
use crate::txn::marker_faults::{MarkerFault, RETRY_BACKOFF_MS};

const TID: &str = "txn-app";
const TIMEOUT_MS: i32 = 60_000;

/// Versions of the classic protocol (transaction version 1), and of
/// version 2 where a test uses it.
const INIT_V: i16 = 5;
const ADD_PARTITIONS_V: i16 = 3;
const ADD_OFFSETS_V: i16 = 4;
const END_TXN_V1: i16 = 4;
const END_TXN_V2: i16 = 5;
const PRODUCE_V2: i16 = 12;
const TXN_OFFSET_COMMIT_V: i16 = 3;
const TXN_OFFSET_COMMIT_V2: i16 = 5;

fn settings(transaction_version: i16) -> BrokerSettings {
    BrokerSettings {
        replica_lag_time_max_ms: LAG_MS,
        transaction_state_partitions: 5,
        offsets_topic_partitions: 5,
        transaction_version,
        ..BrokerSettings::default()
    }
}

/// A cluster of `brokers` with topic `t` (2 partitions, led by broker 1,
/// replicated on every broker).
fn cluster(brokers: i32, transaction_version: i16) -> Harness {
    let mut h = Harness::with_settings(brokers, settings(transaction_version));
    let replicas: Vec<i32> = (1..=brokers).collect();
    h.topic("t", &[&replicas, &replicas], &[]);
    h
}

fn find_txn_coordinator(h: &mut Harness, broker: i32, tid: &str) -> Coordinator {
    let id = h.send(
        broker,
        4,
        FindCoordinatorRequest { key_type: 1, coordinator_keys: vec![tid.into()], ..Default::default() },
    );
    expect_body!(h.take(id), FindCoordinator).coordinators.remove(0)
}

fn coordinator_of(h: &mut Harness, tid: &str) -> i32 {
    let c = find_txn_coordinator(h, 1, tid);
    assert_eq!(code(c.error_code), ErrorCode::NONE);
    c.node_id
}

fn init(h: &mut Harness, broker: i32, version: i16, tid: &str, expected: (i64, i16)) -> InitProducerIdResponse {
    let req = InitProducerIdRequest {
        transactional_id: Some(tid.into()),
        transaction_timeout_ms: TIMEOUT_MS,
        producer_id: expected.0,
        producer_epoch: expected.1,
        ..Default::default()
    };
    let id = h.send(broker, version, req);
    expect_body!(h.take(id), InitProducerId)
}

/// InitProducerId that must succeed (retrying once on
/// CONCURRENT_TRANSACTIONS, as clients do): (producer id, epoch).
fn init_ok(h: &mut Harness, tid: &str) -> (i64, i16) {
    let c = coordinator_of(h, tid);
    let mut r = init(h, c, INIT_V, tid, (-1, -1));
    if code(r.error_code) == ErrorCode::CONCURRENT_TRANSACTIONS {
        r = init(h, c, INIT_V, tid, (-1, -1));
    }
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    (r.producer_id, r.producer_epoch)
}

/// AddPartitionsToTxn (v3): the error of each partition asked for.
fn add_partitions(h: &mut Harness, tid: &str, pid: i64, epoch: i16, partitions: &[(&str, i32)]) -> Vec<ErrorCode> {
    let c = coordinator_of(h, tid);
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (t, p) in partitions {
        match topics.iter_mut().find(|x| x.name == *t) {
            Some(x) => x.partitions.push(*p),
            None => {
                topics.push(AddPartitionsToTxnTopic { name: (*t).into(), partitions: vec![*p], ..Default::default() })
            }
        }
    }
    let req = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: tid.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: topics,
        ..Default::default()
    };
    let id = h.send(c, ADD_PARTITIONS_V, req);
    let r = expect_body!(h.take(id), AddPartitionsToTxn);
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| t.results_by_partition.iter().map(|p| code(p.partition_error_code)))
        .collect()
}

fn end_txn(h: &mut Harness, version: i16, tid: &str, pid: i64, epoch: i16, commit: bool) -> EndTxnResponse {
    let c = coordinator_of(h, tid);
    let req = EndTxnRequest {
        transactional_id: tid.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed: commit,
        ..Default::default()
    };
    let id = h.send(c, version, req);
    expect_body!(h.take(id), EndTxn)
}

/// A transactional batch of `n` records.
fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize, tag: &str) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(pid, epoch, seq);
    b.set_transactional(true);
    for i in 0..n {
        b.append(T0 + i as i64, None, Some(format!("{tag}-{i}").as_bytes()), &[]);
    }
    b.finish().unwrap()
}

/// A transactional produce (acks=1) to the leader of `t`-`partition`.
fn produce_txn(
    h: &mut Harness,
    version: i16,
    tid: Option<&str>,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let mut req = produce_request(1, 30_000, "t", partition, records);
    req.transactional_id = tid.map(str::to_string);
    let leader = h.partition("t", partition).leader;
    let id = h.send(leader, version, req);
    h.produce_answer(id)
}

/// A fetch of `t`-`partition` from `offset` at `isolation_level`.
fn fetch_iso(h: &mut Harness, partition: i32, offset: i64, isolation_level: i8) -> PartitionData {
    let mut req = fetch_by_name("t", partition, offset, 0, 1, -1);
    req.isolation_level = isolation_level;
    let leader = h.partition("t", partition).leader;
    let id = h.fetch(leader, FETCH_BY_NAME_V, req);
    h.fetch_answer(id)
}

fn list_latest(h: &mut Harness, partition: i32, isolation_level: i8) -> i64 {
    let req = ListOffsetsRequest {
        replica_id: -1,
        isolation_level,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                current_leader_epoch: -1,
                timestamp: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let leader = h.partition("t", partition).leader;
    let id = h.send(leader, LIST_OFFSETS_V, req);
    let mut r = expect_body!(h.take(id), ListOffsets);
    let p = r.topics.remove(0).partitions.remove(0);
    assert_eq!(code(p.error_code), ErrorCode::NONE);
    p.offset
}

/// The control records of `t`-`partition` on its leader: (offset, kind,
/// producer id, producer epoch).
fn markers(h: &Harness, partition: i32) -> Vec<(i64, ControlRecordType, i64, i16)> {
    let p = h.partition("t", partition);
    let log = p.leader_log().unwrap();
    log.batches_from(0)
        .filter(|b| b.header().is_control())
        .map(|b| {
            let r = b.record_batch().records(1 << 20).unwrap().next().unwrap().unwrap();
            let c = ControlRecord::parse(r.key.as_deref().unwrap(), r.value.as_deref()).unwrap();
            (b.base_offset(), c.kind, b.header().producer_id, b.header().producer_epoch)
        })
        .collect()
}

fn state(h: &Harness, tid: &str) -> (TxnState, i64, i16) {
    let m = h.core.txns.get(tid).unwrap();
    (m.state, m.producer_id, m.producer_epoch)
}

// ---- Placement ----

#[test]
fn transactional_ids_are_coordinated_by_the_leader_of_their_transaction_state_partition() {
    let mut h = Harness::with_settings(2, BrokerSettings { transaction_state_replication_factor: 1, ..settings(2) });
    let c = find_txn_coordinator(&mut h, 1, TID);
    assert_eq!(code(c.error_code), ErrorCode::NONE);
    let t = h.core.topics.get(TRANSACTION_STATE).unwrap();
    assert!(t.internal);
    assert_eq!(t.partitions.len(), 5);
    let leader = t.partition(txn_partition_for(TID, 5)).unwrap().leader;
    assert_eq!(c.node_id, leader);
    // Other brokers are not the coordinator.
    let other = if leader == 1 { 2 } else { 1 };
    let r = init(&mut h, other, INIT_V, TID, (-1, -1));
    assert_eq!(code(r.error_code), ErrorCode::NOT_COORDINATOR);
    assert_eq!((r.producer_id, r.producer_epoch), (-1, -1));
    // Without a leader for the partition there is no coordinator.
    h.stop(leader);
    let c = find_txn_coordinator(&mut h, other, TID);
    assert_eq!(code(c.error_code), ErrorCode::COORDINATOR_NOT_AVAILABLE);
    // An empty id is refused.
    let c = find_txn_coordinator(&mut h, other, "");
    assert_eq!(code(c.error_code), ErrorCode::INVALID_REQUEST);
}

// ---- InitProducerId and fencing ----

#[test]
fn a_second_init_fences_the_first_producer_and_aborts_its_transaction() {
    let mut h = cluster(1, 2);
    let (pid, e0) = init_ok(&mut h, TID);
    assert_eq!(e0, 0);
    assert_eq!(add_partitions(&mut h, TID, pid, e0, &[("t", 0)]), vec![ErrorCode::NONE]);
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, e0, 0, 2, "zombie"));
    assert_eq!(code(r.error_code), ErrorCode::NONE);

    // A new instance: the open transaction is aborted first (the answer
    // asks for a retry), then the epoch is bumped again.
    let c = coordinator_of(&mut h, TID);
    let r = init(&mut h, c, INIT_V, TID, (-1, -1));
    assert_eq!(code(r.error_code), ErrorCode::CONCURRENT_TRANSACTIONS);
    assert_eq!(markers(&h, 0), vec![(2, ControlRecordType::Abort, pid, 1)]);
    let r = init(&mut h, c, INIT_V, TID, (-1, -1));
    assert_eq!((code(r.error_code), r.producer_id, r.producer_epoch), (ErrorCode::NONE, pid, 2));

    // The first instance is fenced everywhere.
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, e0, 2, 1, "zombie"));
    assert_eq!(code(r.error_code), ErrorCode::INVALID_PRODUCER_EPOCH);
    assert_eq!(add_partitions(&mut h, TID, pid, e0, &[("t", 0)]), vec![ErrorCode::PRODUCER_FENCED]);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, e0, true).error_code), ErrorCode::PRODUCER_FENCED);
    // Before KIP-588 the same fencing reads INVALID_PRODUCER_EPOCH.
    assert_eq!(code(end_txn(&mut h, 1, TID, pid, e0, true).error_code), ErrorCode::INVALID_PRODUCER_EPOCH);
    // KIP-360: naming a stale epoch in InitProducerId is fenced too.
    assert_eq!(code(init(&mut h, c, INIT_V, TID, (pid, e0)).error_code), ErrorCode::PRODUCER_FENCED);
    assert_eq!(code(init(&mut h, c, 3, TID, (pid, e0)).error_code), ErrorCode::INVALID_PRODUCER_EPOCH);
    // An id without an epoch is a malformed request.
    assert_eq!(code(init(&mut h, c, INIT_V, TID, (pid, -1)).error_code), ErrorCode::INVALID_REQUEST);
}

#[test]
fn init_producer_id_refuses_a_timeout_above_the_maximum() {
    let mut h = cluster(1, 2);
    let c = coordinator_of(&mut h, TID);
    let req = InitProducerIdRequest {
        transactional_id: Some(TID.into()),
        transaction_timeout_ms: 900_001,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let id = h.send(c, INIT_V, req);
    let r = expect_body!(h.take(id), InitProducerId);
    assert_eq!(code(r.error_code), ErrorCode::INVALID_TRANSACTION_TIMEOUT);
    // The idempotent path is unchanged: a fresh id each time.
    let idempotent = || InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: -1,
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    let id = h.send(1, INIT_V, idempotent());
    let a = expect_body!(h.take(id), InitProducerId);
    let id = h.send(1, INIT_V, idempotent());
    let b = expect_body!(h.take(id), InitProducerId);
    assert_eq!((a.producer_epoch, b.producer_id), (0, a.producer_id + 1));
}

// ---- The classic flow ----

#[test]
fn a_committed_transaction_writes_markers_and_moves_the_last_stable_offset() {
    let mut h = cluster(3, 1);
    h.produce_now(1, -1, "t", 0, batch("plain", 1, T0));
    let (pid, epoch) = init_ok(&mut h, TID);
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 0), ("t", 1)]), vec![ErrorCode::NONE; 2]);
    assert_eq!(state(&h, TID).0, TxnState::Ongoing);
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 3, "a"));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 1));
    // Another producer's plain record after the open transaction.
    h.produce_now(1, -1, "t", 0, batch("plain", 1, T0));

    // The open transaction holds the last stable offset at its first offset.
    assert_eq!(h.hw("t", 0), 5);
    let rc = fetch_iso(&mut h, 0, 0, 1);
    assert_eq!((rc.high_watermark, rc.last_stable_offset), (5, 1));
    assert_eq!(offsets_in(rc.records.as_ref()), vec![0]);
    let ru = fetch_iso(&mut h, 0, 0, 0);
    assert_eq!(ru.last_stable_offset, 1);
    assert_eq!(offsets_in(ru.records.as_ref()), vec![0, 1, 2, 3, 4]);
    assert_eq!(list_latest(&mut h, 0, 1), 1);
    assert_eq!(list_latest(&mut h, 0, 0), 5);

    let r = end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true);
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    assert_eq!(state(&h, TID), (TxnState::CompleteCommit, pid, epoch));
    // Both partitions got a commit marker with the same epoch, replicated.
    assert_eq!(markers(&h, 0), vec![(5, ControlRecordType::Commit, pid, epoch)]);
    assert_eq!(markers(&h, 1), vec![(0, ControlRecordType::Commit, pid, epoch)]);
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 6), (2, 6), (3, 6)]));
    let rc = fetch_iso(&mut h, 0, 0, 1);
    assert_eq!((rc.high_watermark, rc.last_stable_offset), (6, 6));
    assert_eq!(rc.aborted_transactions, Some(Vec::new()));
    assert_eq!(offsets_in(rc.records.as_ref()), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(list_latest(&mut h, 0, 1), 6);
    // A retried commit succeeds; an abort of the finished transaction does not.
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::NONE);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, false).error_code), ErrorCode::INVALID_TXN_STATE);
    // The next transaction continues the producer's sequences.
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]), vec![ErrorCode::NONE]);
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 3, 1, "b"));
    assert_eq!(code(r.error_code), ErrorCode::NONE);
}

#[test]
fn an_aborted_transaction_is_listed_for_read_committed_consumers() {
    let mut h = cluster(1, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]);
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 2, "a"));
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 2, 2, "b"));
    // Commit with nothing open elsewhere, abort here.
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, false).error_code), ErrorCode::NONE);
    assert_eq!(markers(&h, 0), vec![(4, ControlRecordType::Abort, pid, epoch)]);
    let rc = fetch_iso(&mut h, 0, 0, 1);
    assert_eq!(rc.last_stable_offset, 5);
    let aborted = rc.aborted_transactions.unwrap();
    assert_eq!(aborted.len(), 1);
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (pid, 0));
    // The batches come (the consumer drops them), the marker included.
    assert_eq!(batches_in(rc.records.as_ref()).len(), 3);
    // Past the aborted range nothing is listed; read_uncommitted lists nothing.
    let after = fetch_iso(&mut h, 0, 5, 1);
    assert_eq!(after.aborted_transactions, Some(Vec::new()));
    assert_eq!(fetch_iso(&mut h, 0, 0, 0).aborted_transactions, None);
    // A retried abort succeeds; a commit of it does not.
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, false).error_code), ErrorCode::NONE);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::INVALID_TXN_STATE);
}

#[test]
fn transactional_batches_outside_the_transaction_are_refused() {
    let mut h = cluster(1, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    // Not added: TRANSACTION_ABORTABLE, or INVALID_TXN_STATE for clients
    // older than KIP-890 (Produce v10 and below).
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 1, "a"));
    assert_eq!(code(r.error_code), ErrorCode::TRANSACTION_ABORTABLE);
    let r = produce_txn(&mut h, 10, Some(TID), 0, txn_batch(pid, epoch, 0, 1, "a"));
    assert_eq!(code(r.error_code), ErrorCode::INVALID_TXN_STATE);
    add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]);
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 1, txn_batch(pid, epoch, 0, 1, "a"));
    assert_eq!(code(r.error_code), ErrorCode::TRANSACTION_ABORTABLE);
    // Without the request's transactional id.
    let r = produce_txn(&mut h, PRODUCE_V, None, 0, txn_batch(pid, epoch, 0, 1, "a"));
    assert_eq!(code(r.error_code), ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    // Another producer id than the transactional id's.
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid + 7, 0, 0, 1, "a"));
    assert_eq!(code(r.error_code), ErrorCode::INVALID_PRODUCER_ID_MAPPING);
    // Unknown partitions fail alone; the others are not attempted.
    let errors = add_partitions(&mut h, TID, pid, epoch, &[("t", 1), ("t", 9), ("nope", 0)]);
    assert_eq!(
        errors,
        vec![
            ErrorCode::OPERATION_NOT_ATTEMPTED,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        ]
    );
    assert!(!h.core.txns.get(TID).unwrap().partitions.contains(&("t".to_string(), 1)));
    // EndTxn: a commit with nothing open (version 1) is INVALID_TXN_STATE.
    let (pid2, e2) = init_ok(&mut h, "other");
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, "other", pid2, e2, true).error_code), ErrorCode::INVALID_TXN_STATE);
    assert_eq!(
        code(end_txn(&mut h, END_TXN_V1, "other", pid, e2, true).error_code),
        ErrorCode::INVALID_PRODUCER_ID_MAPPING
    );
}

// ---- Transaction version 2 ----

#[test]
fn version_2_adds_partitions_implicitly_and_bumps_the_epoch_on_every_end() {
    let mut h = cluster(1, 2);
    let (pid, e0) = init_ok(&mut h, TID);
    let r = produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, e0, 0, 2, "a"));
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    let m = h.core.txns.get(TID).unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert!(m.partitions.contains(&("t".to_string(), 0)));

    let r = end_txn(&mut h, END_TXN_V2, TID, pid, e0, true);
    assert_eq!((code(r.error_code), r.producer_id, r.producer_epoch), (ErrorCode::NONE, pid, e0 + 1));
    // The marker carries the new epoch, which fences the old one.
    assert_eq!(markers(&h, 0), vec![(2, ControlRecordType::Commit, pid, e0 + 1)]);
    let r = produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, e0, 2, 1, "zombie"));
    assert_eq!(code(r.error_code), ErrorCode::INVALID_PRODUCER_EPOCH);
    // The new epoch starts its sequences at 0.
    let r = produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, e0 + 1, 0, 1, "b"));
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    // The previous epoch is a retry only while no new transaction is open.
    let r = end_txn(&mut h, END_TXN_V2, TID, pid, e0, true);
    assert_eq!(code(r.error_code), ErrorCode::PRODUCER_FENCED);
    let r = end_txn(&mut h, END_TXN_V2, TID, pid, e0 + 1, false);
    assert_eq!((code(r.error_code), r.producer_epoch), (ErrorCode::NONE, e0 + 2));
    // Aborting with nothing open is allowed under version 2 and bumps again.
    let r = end_txn(&mut h, END_TXN_V2, TID, pid, e0 + 2, false);
    assert_eq!((code(r.error_code), r.producer_epoch), (ErrorCode::NONE, e0 + 3));
    let rc = fetch_iso(&mut h, 0, 0, 1);
    assert_eq!(rc.aborted_transactions.unwrap().len(), 1);
}

#[test]
fn at_version_1_produce_v12_and_end_txn_v5_keep_the_classic_rules() {
    let mut h = cluster(1, 1);
    let (pid, e0) = init_ok(&mut h, TID);
    let r = produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, e0, 0, 2, "a"));
    assert_eq!(code(r.error_code), ErrorCode::TRANSACTION_ABORTABLE);
    add_partitions(&mut h, TID, pid, e0, &[("t", 0)]);
    produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, e0, 0, 2, "a"));
    // Version 1's EndTxn answer carries no producer id or epoch.
    let r = end_txn(&mut h, END_TXN_V2, TID, pid, e0, true);
    assert_eq!((code(r.error_code), r.producer_id, r.producer_epoch), (ErrorCode::NONE, -1, -1));
    assert_eq!(markers(&h, 0), vec![(2, ControlRecordType::Commit, pid, e0)]);
}

// ---- Transactional offsets ----

fn txn_offset_commit(h: &mut Harness, version: i16, group: &str, pid: i64, epoch: i16, offset: i64) -> ErrorCode {
    let c = find_coordinator(h, 1, group).node_id;
    let req = TxnOffsetCommitRequest {
        transactional_id: TID.into(),
        group_id: group.into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        topics: vec![TxnOffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                committed_metadata: Some("m".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let id = h.send(c, version, req);
    let r = expect_body!(h.take(id), TxnOffsetCommit);
    code(r.topics[0].partitions[0].error_code)
}

fn fetch_offset(h: &mut Harness, group: &str, require_stable: bool) -> (i64, ErrorCode) {
    let c = find_coordinator(h, 1, group).node_id;
    let mut req = offset_fetch_v7(group, "t", 0);
    req.require_stable = require_stable;
    let id = h.send(c, 7, req);
    let r = expect_body!(h.take(id), OffsetFetch);
    let p = &r.topics[0].partitions[0];
    (p.committed_offset, code(p.error_code))
}

fn add_offsets(h: &mut Harness, group: &str, pid: i64, epoch: i16) -> ErrorCode {
    let c = coordinator_of(h, TID);
    let req = AddOffsetsToTxnRequest {
        transactional_id: TID.into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: group.into(),
        ..Default::default()
    };
    let id = h.send(c, ADD_OFFSETS_V, req);
    code(expect_body!(h.take(id), AddOffsetsToTxn).error_code)
}

#[test]
fn transactional_offsets_are_visible_only_once_the_transaction_commits() {
    let mut h = cluster(1, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    // Without AddOffsetsToTxn the commit is outside the transaction:
    // INVALID_TXN_STATE before v4, TRANSACTION_ABORTABLE from v4.
    assert_eq!(txn_offset_commit(&mut h, TXN_OFFSET_COMMIT_V, "g", pid, epoch, 7), ErrorCode::INVALID_TXN_STATE);
    assert_eq!(txn_offset_commit(&mut h, 4, "g", pid, epoch, 7), ErrorCode::TRANSACTION_ABORTABLE);
    assert_eq!(add_offsets(&mut h, "g", pid, epoch), ErrorCode::NONE);
    let offsets_tp = (CONSUMER_OFFSETS.to_string(), offsets_partition_for("g", 5));
    assert!(h.core.txns.get(TID).unwrap().partitions.contains(&offsets_tp));
    assert_eq!(txn_offset_commit(&mut h, TXN_OFFSET_COMMIT_V, "g", pid, epoch, 7), ErrorCode::NONE);
    assert_eq!(fetch_offset(&mut h, "g", false), (-1, ErrorCode::NONE));
    assert_eq!(fetch_offset(&mut h, "g", true), (-1, ErrorCode::UNSTABLE_OFFSET_COMMIT));
    // A stale epoch is fenced as a produce is.
    assert_eq!(
        txn_offset_commit(&mut h, TXN_OFFSET_COMMIT_V, "g", pid, epoch - 1, 8),
        ErrorCode::INVALID_PRODUCER_EPOCH
    );
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::NONE);
    assert_eq!(fetch_offset(&mut h, "g", true), (7, ErrorCode::NONE));

    // An aborted transaction's offsets are dropped.
    assert_eq!(add_offsets(&mut h, "g", pid, epoch), ErrorCode::NONE);
    assert_eq!(txn_offset_commit(&mut h, TXN_OFFSET_COMMIT_V, "g", pid, epoch, 9), ErrorCode::NONE);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, false).error_code), ErrorCode::NONE);
    assert_eq!(fetch_offset(&mut h, "g", true), (7, ErrorCode::NONE));
    // A commit naming a generation of a group that does not exist is
    // refused, as OffsetCommit's (KIP-447).
    assert_eq!(add_offsets(&mut h, "absent", pid, epoch), ErrorCode::NONE);
    let c = find_coordinator(&mut h, 1, "absent").node_id;
    let req = TxnOffsetCommitRequest {
        transactional_id: TID.into(),
        group_id: "absent".into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: 3,
        member_id: "m".into(),
        topics: vec![TxnOffsetCommitRequestTopic {
            name: "t".into(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let id = h.send(c, TXN_OFFSET_COMMIT_V, req);
    let r = expect_body!(h.take(id), TxnOffsetCommit);
    assert_eq!(code(r.topics[0].partitions[0].error_code), ErrorCode::ILLEGAL_GENERATION);
}

#[test]
fn version_2_offset_commits_join_the_transaction_implicitly() {
    let mut h = cluster(1, 2);
    let (pid, epoch) = init_ok(&mut h, TID);
    assert_eq!(txn_offset_commit(&mut h, TXN_OFFSET_COMMIT_V2, "g", pid, epoch, 4), ErrorCode::NONE);
    assert_eq!(state(&h, TID).0, TxnState::Ongoing);
    let r = end_txn(&mut h, END_TXN_V2, TID, pid, epoch, true);
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    assert_eq!(fetch_offset(&mut h, "g", true), (4, ErrorCode::NONE));
}

// ---- Timeouts, held markers, leader changes ----

#[test]
fn a_transaction_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let mut h = cluster(1, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]);
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 2, "a"));
    let deadline = T0 + i64::from(TIMEOUT_MS) + 1;
    assert_eq!(h.core.next_deadline(), Some(deadline));
    h.tick_at(deadline - 1);
    assert_eq!(state(&h, TID).0, TxnState::Ongoing);
    h.tick_at(deadline);
    assert_eq!(state(&h, TID), (TxnState::CompleteAbort, pid, epoch + 1));
    assert_eq!(markers(&h, 0), vec![(2, ControlRecordType::Abort, pid, epoch + 1)]);
    assert_eq!(h.core.next_deadline(), None);
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 2, 1, "late"));
    assert_eq!(code(r.error_code), ErrorCode::INVALID_PRODUCER_EPOCH);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::PRODUCER_FENCED);
    assert_eq!(fetch_iso(&mut h, 0, 0, 1).aborted_transactions.unwrap().len(), 1);
}

#[test]
fn held_markers_keep_the_transaction_completing_and_the_lso_in_place() {
    let mut h = cluster(1, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]);
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 2, "a"));
    h.core.txn_markers_held = true;
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::NONE);
    assert_eq!(state(&h, TID).0, TxnState::PrepareCommit);
    assert_eq!(h.partition("t", 0).last_stable_offset(), 0);
    let c = coordinator_of(&mut h, TID);
    assert_eq!(code(init(&mut h, c, INIT_V, TID, (-1, -1)).error_code), ErrorCode::CONCURRENT_TRANSACTIONS);
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 1)]), vec![ErrorCode::CONCURRENT_TRANSACTIONS]);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::CONCURRENT_TRANSACTIONS);
    // A produce to a partition outside the transaction waits retriably.
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 1, txn_batch(pid, epoch, 0, 1, "b"));
    assert_eq!(code(r.error_code), ErrorCode::NOT_ENOUGH_REPLICAS);
    h.core.txn_markers_held = false;
    h.flush();
    assert_eq!(state(&h, TID).0, TxnState::CompleteCommit);
    assert_eq!(h.partition("t", 0).last_stable_offset(), 3);
}

#[test]
fn failed_marker_writes_are_retried_until_the_fault_clears() {
    let mut h = cluster(1, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 0), ("t", 1)]), vec![ErrorCode::NONE; 2]);
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 2, "a"));
    produce_txn(&mut h, PRODUCE_V, Some(TID), 1, txn_batch(pid, epoch, 0, 1, "b"));
    let rule = MarkerFault::partition("t", 0).error(ErrorCode::KAFKA_STORAGE_ERROR);
    let id = h.core.txn_marker_faults.add(rule).unwrap();
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::NONE);
    // t-1's marker is written; t-0's failed and is pending.
    let m = h.core.txns.get(TID).unwrap();
    assert_eq!(m.state, TxnState::PrepareCommit);
    assert_eq!(m.pending_markers.iter().cloned().collect::<Vec<_>>(), vec![("t".to_string(), 0)]);
    assert_eq!(markers(&h, 0), vec![]);
    assert_eq!(markers(&h, 1), vec![(1, ControlRecordType::Commit, pid, epoch)]);
    assert_eq!(h.partition("t", 1).last_stable_offset(), 2);
    // The LSO stays at the transaction's first offset: read_committed
    // reads nothing of it.
    let rc = fetch_iso(&mut h, 0, 0, 1);
    assert_eq!((rc.high_watermark, rc.last_stable_offset), (2, 0));
    assert_eq!(offsets_in(rc.records.as_ref()), Vec::<i64>::new());
    assert_eq!(list_latest(&mut h, 0, 1), 0);
    // The producer's next transaction and a retried commit wait, as in Kafka.
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]), vec![ErrorCode::CONCURRENT_TRANSACTIONS]);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::CONCURRENT_TRANSACTIONS);
    let c = coordinator_of(&mut h, TID);
    assert_eq!(code(init(&mut h, c, INIT_V, TID, (-1, -1)).error_code), ErrorCode::CONCURRENT_TRANSACTIONS);
    // The coordinator keeps retrying on its own: a tick is scheduled.
    let retry = h.core.next_deadline().unwrap();
    assert!(retry <= h.now + RETRY_BACKOFF_MS, "{retry}");
    h.tick_at(retry);
    assert!(h.core.txn_marker_faults.fired(id).unwrap() >= 5);
    assert_eq!(state(&h, TID).0, TxnState::PrepareCommit);
    // Once the fault clears, the next retry writes the marker.
    h.core.txn_marker_faults.clear();
    h.tick_at(retry + RETRY_BACKOFF_MS);
    assert_eq!(state(&h, TID), (TxnState::CompleteCommit, pid, epoch));
    assert_eq!(markers(&h, 0), vec![(2, ControlRecordType::Commit, pid, epoch)]);
    let rc = fetch_iso(&mut h, 0, 0, 1);
    assert_eq!((rc.high_watermark, rc.last_stable_offset), (3, 3));
    assert_eq!(offsets_in(rc.records.as_ref()), vec![0, 1, 2]);
    // The producer goes on.
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]), vec![ErrorCode::NONE]);
}

#[test]
fn a_count_limited_marker_fault_runs_out_on_the_coordinators_retries() {
    let mut h = cluster(2, 2);
    let (pid, epoch) = init_ok(&mut h, TID);
    // Version 2: the partition joins the transaction with the produce.
    let r = produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, epoch, 0, 1, "a"));
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    // Every marker for a partition broker 1 leads fails twice.
    let leader = h.partition("t", 0).leader;
    h.core
        .txn_marker_faults
        .add(MarkerFault::broker(leader).error(ErrorCode::NOT_LEADER_OR_FOLLOWER).times(2))
        .unwrap();
    let r = end_txn(&mut h, END_TXN_V2, TID, pid, epoch, false);
    assert_eq!((code(r.error_code), r.producer_epoch), (ErrorCode::NONE, epoch + 1));
    assert_eq!(state(&h, TID).0, TxnState::PrepareAbort);
    // Version 2's next transaction begins with a produce: it waits, with
    // the retriable error Kafka's leader maps CONCURRENT_TRANSACTIONS to.
    let r = produce_txn(&mut h, PRODUCE_V2, Some(TID), 0, txn_batch(pid, epoch + 1, 0, 1, "b"));
    assert_eq!(code(r.error_code), ErrorCode::NOT_ENOUGH_REPLICAS);
    assert_eq!(h.partition("t", 0).last_stable_offset(), 0);
    // The two failures are used up by the coordinator's own retries; no
    // client request is needed.
    let mut ticks = 0;
    while state(&h, TID).0 == TxnState::PrepareAbort {
        let next = h.core.next_deadline().expect("a retry is scheduled");
        h.tick_at(next);
        ticks += 1;
        assert!(ticks < 5, "the fault did not run out");
    }
    assert_eq!(state(&h, TID).0, TxnState::CompleteAbort);
    assert_eq!(markers(&h, 0), vec![(1, ControlRecordType::Abort, pid, epoch + 1)]);
    assert_eq!(h.partition("t", 0).last_stable_offset(), 2);
    assert_eq!(fetch_iso(&mut h, 0, 0, 1).aborted_transactions.unwrap().len(), 1);
    assert_eq!(h.core.txn_marker_faults.retry_deadline(), None);
}

#[test]
fn a_new_leader_rebuilds_open_and_aborted_transactions_from_its_log() {
    let mut h = cluster(2, 1);
    let (pid, epoch) = init_ok(&mut h, TID);
    add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]);
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 0, 2, "a"));
    end_txn(&mut h, END_TXN_V1, TID, pid, epoch, false);
    add_partitions(&mut h, TID, pid, epoch, &[("t", 0)]);
    produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 2, 2, "b"));
    assert_eq!(h.partition("t", 0).last_stable_offset(), 3);

    h.core.move_leader("t", 0, 2, h.now).unwrap();
    h.flush();
    let p = h.partition("t", 0);
    assert_eq!(p.leader, 2);
    assert_eq!(p.last_stable_offset(), 3);
    assert_eq!(p.txns.aborted_between(0, 10), vec![(pid, 0)]);
    // The open transaction continues on the new leader and commits.
    let r = produce_txn(&mut h, PRODUCE_V, Some(TID), 0, txn_batch(pid, epoch, 4, 1, "c"));
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::NONE);
    assert_eq!(h.partition("t", 0).last_stable_offset(), 7);
}

#[test]
fn a_marker_for_a_partition_without_leader_waits_for_one() {
    let mut h = cluster(2, 1);
    h.topic("u", &[&[2]], &[]);
    let (pid, epoch) = init_ok(&mut h, TID);
    assert_eq!(add_partitions(&mut h, TID, pid, epoch, &[("t", 0), ("u", 0)]), vec![ErrorCode::NONE; 2]);
    let mut req = produce_request(1, 30_000, "u", 0, txn_batch(pid, epoch, 0, 1, "u"));
    req.transactional_id = Some(TID.into());
    let id = h.send(2, PRODUCE_V, req);
    assert_eq!(code(h.produce_answer(id).error_code), ErrorCode::NONE);
    h.stop(2);
    // EndTxn is answered once the decision is taken; the markers follow.
    assert_eq!(code(end_txn(&mut h, END_TXN_V1, TID, pid, epoch, true).error_code), ErrorCode::NONE);
    assert_eq!(state(&h, TID).0, TxnState::PrepareCommit);
    assert_eq!(markers(&h, 0), vec![(0, ControlRecordType::Commit, pid, epoch)]);
    let c = coordinator_of(&mut h, TID);
    assert_eq!(code(init(&mut h, c, INIT_V, TID, (-1, -1)).error_code), ErrorCode::CONCURRENT_TRANSACTIONS);
    h.start(2);
    assert_eq!(state(&h, TID).0, TxnState::CompleteCommit);
    let p = h.partition("u", 0);
    assert_eq!((p.leader, p.last_stable_offset(), p.log_end_offset()), (2, 2, 2));
}
