//! Transactions (issue 13): the transaction coordinator's answers and what
//! the partitions make of transactions, protocol v1 (AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn v4, Produce v11) and v2 (Produce v12 adding the
//! partition, EndTxn v5 bumping the epoch). The control batches a fetch
//! returns carry the broker's clock, so they are compared by what they
//! say (control, transactional, commit or abort, epoch), not by their bytes.

use bytes::Bytes;
use kafka_protocol::Compression;
use kafka_protocol::messages::add_partitions_to_txn::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use kafka_protocol::messages::txn_offset_commit::{TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FetchRequest, FetchResponse,
    FindCoordinatorRequest, InitProducerIdRequest, OffsetFetchRequest, TxnOffsetCommitRequest,
};
use kafka_protocol::records::{BatchBuilder, BatchHeader, ControlRecord, ControlRecordType};
use std::time::{Duration, Instant};

use super::common::{T0, coordinator_ready, create, list_offsets, produce};
use crate::harness::Session;

const TOPIC: &str = "txn-cmp";

pub(crate) fn txn_batch(prefix: &str, n: usize, pid: i64, epoch: i16, seq: i32) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(pid, epoch, seq);
    b.set_transactional(true);
    for i in 0..n {
        b.append(T0 + i as i64, Some(format!("k-{i}").as_bytes()), Some(format!("{prefix}-{i}").as_bytes()), &[]);
    }
    b.finish().expect("batch")
}

fn txn_produce(txn: &str, partition: i32, records: Bytes) -> kafka_protocol::messages::ProduceRequest {
    let mut r = produce(-1, TOPIC, partition, records);
    r.transactional_id = Some(txn.into());
    r
}

pub(crate) fn init(txn: &str, timeout_ms: i32, current: Option<(i64, i16)>) -> InitProducerIdRequest {
    let (producer_id, producer_epoch) = current.unwrap_or((-1, -1));
    InitProducerIdRequest {
        transactional_id: Some(txn.into()),
        transaction_timeout_ms: timeout_ms,
        producer_id,
        producer_epoch,
        ..Default::default()
    }
}

pub(crate) fn add_partitions(txn: &str, pid: i64, epoch: i16, parts: &[(&str, i32)]) -> AddPartitionsToTxnRequest {
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (t, p) in parts {
        match topics.iter_mut().find(|x| x.name == *t) {
            Some(x) => x.partitions.push(*p),
            None => {
                topics.push(AddPartitionsToTxnTopic { name: (*t).into(), partitions: vec![*p], ..Default::default() })
            }
        }
    }
    AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: txn.into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: topics,
        ..Default::default()
    }
}

pub(crate) fn end(txn: &str, pid: i64, epoch: i16, committed: bool) -> EndTxnRequest {
    EndTxnRequest {
        transactional_id: txn.into(),
        producer_id: pid,
        producer_epoch: epoch,
        committed,
        ..Default::default()
    }
}

pub(crate) fn read_committed_fetch_of(topic: &str, partition: i32) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 1 << 20,
        isolation_level: 1,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                current_leader_epoch: -1,
                fetch_offset: 0,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Records what a read_committed fetch of `partition` returned: the
/// offsets, the aborted-transaction list and each batch's kind, leaving out
/// the bytes of the markers (their timestamp is the broker's clock).
async fn fetch_committed(s: &mut Session, label: &str, partition: i32) {
    fetch_committed_of(s, TOPIC, label, partition).await
}

/// [`fetch_committed`] of any topic.
pub(crate) async fn fetch_committed_of(s: &mut Session, topic: &str, label: &str, partition: i32) {
    let r: Option<FetchResponse> = s.quiet(12, &read_committed_fetch_of(topic, partition)).await;
    let Some(p) = r.and_then(|r| r.responses.into_iter().next()).and_then(|t| t.partitions.into_iter().next()) else {
        s.note(label, None);
        return;
    };
    s.note(&format!("{label}: error"), Some(p.error_code));
    s.note(&format!("{label}: high watermark"), i16::try_from(p.high_watermark).ok());
    s.note(&format!("{label}: last stable offset"), i16::try_from(p.last_stable_offset).ok());
    let aborted = p.aborted_transactions.as_ref().map(|a| a.iter().map(|t| t.first_offset).collect::<Vec<_>>());
    s.note(&format!("{label}: aborted transactions"), aborted.as_ref().map(|a| a.len() as i16));
    for (i, first) in aborted.unwrap_or_default().into_iter().enumerate() {
        s.note(&format!("{label}: aborted transaction {i} first offset"), i16::try_from(first).ok());
    }
    let mut bytes = p.records.unwrap_or_default();
    let mut n = 0;
    while let Ok(h) = BatchHeader::parse(&bytes) {
        let size = h.size().min(bytes.len());
        let batch = bytes.split_to(size);
        let kind = if !h.is_control() {
            if h.is_transactional() { 10 } else { 0 }
        } else {
            // The control record: 0 abort, 1 commit.
            kafka_protocol::records::RecordBatch::new(batch)
                .ok()
                .and_then(|b| b.records(1 << 16).ok())
                .and_then(|mut r| r.next())
                .and_then(Result::ok)
                .and_then(|r| ControlRecord::parse(r.key.as_deref().unwrap_or_default(), r.value.as_deref()).ok())
                .map_or(-1, |c| match c.kind {
                    ControlRecordType::Abort => 20,
                    ControlRecordType::Commit => 21,
                    ControlRecordType::Other(_) => 29,
                })
        };
        s.note(&format!("{label}: batch {n} at {} kind", h.base_offset), Some(kind));
        s.note(&format!("{label}: batch {n} epoch"), Some(h.producer_epoch));
        n += 1;
        if bytes.is_empty() {
            break;
        }
    }
}

/// Waits until the transaction coordinator of `txn` answers InitProducerId
/// (Kafka creates `__transaction_state` on the first lookup and loads it).
pub(crate) async fn txn_coordinator_ready(s: &mut Session, txn: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let f = FindCoordinatorRequest { key_type: 1, coordinator_keys: vec![txn.into()], ..Default::default() };
        let found = s.quiet(4, &f).await.is_some_and(|r| r.coordinators.iter().all(|c| c.error_code == 0));
        if found && s.quiet(5, &init(txn, 60_000, None)).await.is_some_and(|r| r.error_code == 0) {
            return;
        }
        assert!(Instant::now() < deadline, "the transaction coordinator of {txn} never became available");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kafka writes the markers of a commit or abort in the background and
/// answers CONCURRENT_TRANSACTIONS meanwhile; the testkit writes them at
/// once. Waits (unrecorded) until repeating `req`, a retry of the same
/// outcome, is answered with anything else, so both sides go on from a
/// completed transaction.
pub(crate) async fn completed(s: &mut Session, version: i16, req: &EndTxnRequest) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.quiet(version, req).await.is_some_and(|r| r.error_code == 51) {
        assert!(Instant::now() < deadline, "the transaction never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// InitProducerId until it is answered without CONCURRENT_TRANSACTIONS
/// (Kafka completes the markers of an aborted transaction in the
/// background); records the first answer and the final epoch.
async fn init_settled(s: &mut Session, label: &str, txn: &str) -> (i64, i16) {
    let first = s.call(label, 5, &init(txn, 60_000, None)).await.expect("InitProducerId answered");
    let mut last = first;
    let deadline = Instant::now() + Duration::from_secs(30);
    while last.error_code != 0 {
        assert!(Instant::now() < deadline, "InitProducerId never settled: {}", last.error_code);
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = s.quiet(5, &init(txn, 60_000, None)).await.expect("InitProducerId answered");
    }
    s.note(&format!("{label}: settled epoch"), Some(last.producer_epoch));
    (last.producer_id, last.producer_epoch)
}

pub async fn coordinator_and_markers(s: &mut Session) {
    create(s, TOPIC, 2, &[]).await;
    let t = "cmp-v1";
    txn_coordinator_ready(s, t).await;
    coordinator_ready(s, "cmp-group").await;
    let find = FindCoordinatorRequest { key_type: 1, coordinator_keys: vec![t.into()], ..Default::default() };
    s.call("FindCoordinator v4 of a transactional id", 4, &find).await;
    s.call("InitProducerId v5 with a zero timeout", 5, &init(t, 0, None)).await;
    s.call("InitProducerId v5 over transaction.max.timeout.ms", 5, &init(t, 900_001, None)).await;
    let r = s.call("InitProducerId v5", 5, &init(t, 60_000, None)).await.expect("answered");
    let (pid, epoch) = (r.producer_id, r.producer_epoch);

    // Protocol v1.
    s.call(
        "Produce v11 transactional before AddPartitionsToTxn",
        11,
        &txn_produce(t, 0, txn_batch("a", 2, pid, epoch, 0)),
    )
    .await;
    s.call(
        "AddPartitionsToTxn v3 with an unknown topic",
        3,
        &add_partitions(t, pid, epoch, &[(TOPIC, 0), (TOPIC, 1), ("txn-cmp-nowhere", 0)]),
    )
    .await;
    s.call("AddPartitionsToTxn v3", 3, &add_partitions(t, pid, epoch, &[(TOPIC, 0), (TOPIC, 1)])).await;
    s.call("AddPartitionsToTxn v3 with another epoch", 3, &add_partitions(t, pid, epoch + 1, &[(TOPIC, 0)])).await;
    s.call("AddPartitionsToTxn v3 with another producer id", 3, &add_partitions(t, pid + 1000, epoch, &[(TOPIC, 0)]))
        .await;
    s.call("Produce v11 transactional", 11, &txn_produce(t, 0, txn_batch("a", 2, pid, epoch, 0))).await;
    s.call("ListOffsets v7 read_committed with a transaction open", 7, &{
        let mut r = list_offsets(TOPIC, 0, -1);
        r.isolation_level = 1;
        r
    })
    .await;
    fetch_committed(s, "Fetch v12 read_committed with a transaction open", 0).await;
    s.call("EndTxn v4 commit", 4, &end(t, pid, epoch, true)).await;
    completed(s, 4, &end(t, pid, epoch, true)).await;
    s.call("EndTxn v4 commit again (a retry)", 4, &end(t, pid, epoch, true)).await;
    s.call("EndTxn v4 abort after the commit", 4, &end(t, pid, epoch, false)).await;
    s.call("EndTxn v4 commit with nothing open", 4, &end(t, pid, epoch, true)).await;
    fetch_committed(s, "Fetch v12 read_committed after the commit", 0).await;

    // Offsets in a v1 transaction, then an abort.
    s.call("AddPartitionsToTxn v3 partition 1", 3, &add_partitions(t, pid, epoch, &[(TOPIC, 1)])).await;
    s.call("Produce v11 transactional to partition 1", 11, &txn_produce(t, 1, txn_batch("b", 3, pid, epoch, 0))).await;
    let add_offsets = AddOffsetsToTxnRequest {
        transactional_id: t.into(),
        producer_id: pid,
        producer_epoch: epoch,
        group_id: "cmp-group".into(),
        ..Default::default()
    };
    s.call("AddOffsetsToTxn v3", 3, &add_offsets).await;
    let commit = TxnOffsetCommitRequest {
        transactional_id: t.into(),
        group_id: "cmp-group".into(),
        producer_id: pid,
        producer_epoch: epoch,
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        topics: vec![TxnOffsetCommitRequestTopic {
            name: TOPIC.into(),
            partitions: vec![TxnOffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 2,
                committed_leader_epoch: -1,
                committed_metadata: Some(String::new()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    s.call("TxnOffsetCommit v3", 3, &commit).await;
    let mut stale = commit.clone();
    stale.producer_epoch = epoch + 1;
    s.call("TxnOffsetCommit v3 with another epoch", 3, &stale).await;
    let fetch_offsets = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: "cmp-group".into(),
            member_epoch: -1,
            topics: Some(vec![OffsetFetchRequestTopics {
                name: TOPIC.into(),
                partition_indexes: vec![0],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        require_stable: true,
        ..Default::default()
    };
    s.call("OffsetFetch v9 require_stable with a pending transactional offset", 9, &fetch_offsets).await;
    s.call("EndTxn v4 abort", 4, &end(t, pid, epoch, false)).await;
    completed(s, 4, &end(t, pid, epoch, false)).await;
    s.call("OffsetFetch v9 after the abort", 9, &fetch_offsets).await;
    fetch_committed(s, "Fetch v12 read_committed after the abort", 1).await;

    // Fencing: the id registered again.
    let (pid2, epoch2) = init_settled(s, "InitProducerId v5 again", t).await;
    s.note("the same producer id", Some(i16::from(pid2 == pid)));
    s.quiet(3, &add_partitions(t, pid2, epoch2, &[(TOPIC, 0)])).await;
    s.call("Produce v11 transactional with the fenced epoch", 11, &txn_produce(t, 0, txn_batch("c", 1, pid, epoch, 2)))
        .await;
    s.call("EndTxn v4 with the fenced epoch", 4, &end(t, pid, epoch, true)).await;
    // The open transaction of the new epoch is aborted by a third init.
    let _ = init_settled(s, "InitProducerId v5 with a transaction open", t).await;

    // Protocol v2: Produce v12 adds the partition, EndTxn v5 bumps.
    let t2 = "cmp-v2";
    txn_coordinator_ready(s, t2).await;
    let r = s.call("InitProducerId v5 (v2 producer)", 5, &init(t2, 60_000, None)).await.expect("answered");
    let (pid, epoch) = (r.producer_id, r.producer_epoch);
    s.call("Produce v12 transactional adds the partition", 12, &txn_produce(t2, 1, txn_batch("d", 2, pid, epoch, 0)))
        .await;
    let e = s.call("EndTxn v5 commit", 5, &end(t2, pid, epoch, true)).await.expect("answered");
    completed(s, 5, &end(t2, pid, epoch, true)).await;
    s.call("EndTxn v5 commit again with the old epoch (a retry)", 5, &end(t2, pid, epoch, true)).await;
    let a = s.call("EndTxn v5 abort with nothing open", 5, &end(t2, pid, e.producer_epoch, false)).await;
    if a.is_some_and(|a| a.error_code == 0) {
        completed(s, 5, &end(t2, pid, e.producer_epoch, false)).await;
    }
    s.call("EndTxn v5 with an epoch two behind", 5, &end(t2, pid, epoch, false)).await;
    fetch_committed(s, "Fetch v12 read_committed after a v2 commit", 1).await;
}
