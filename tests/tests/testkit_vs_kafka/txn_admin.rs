//! The transaction admin APIs (KIP-664): DescribeTransactions and
//! ListTransactions (with every filter) of ids that are Empty, Ongoing,
//! CompleteCommit and CompleteAbort or unknown; DescribeProducers of a
//! partition with an idempotent and a transactional producer, and of
//! partitions that do not exist; WriteTxnMarkers aborting an open
//! transaction behind its coordinator's back (what `Admin.abortTransaction`
//! does for a hanging transaction), after which read_committed reads past it.

use kafka_protocol::messages::describe_producers::DescribeProducersTopic;
use kafka_protocol::messages::write_txn_markers::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest, WriteTxnMarkersRequest,
};

use super::common::{batch, create, init_producer_id, produce, producer_ids_ready};
use super::transactions::{add_partitions, completed, end, fetch_committed_of, init, txn_batch, txn_coordinator_ready};
use crate::harness::Session;

const TOPIC: &str = "txn-admin-cmp";

fn describe(ids: &[&str]) -> DescribeTransactionsRequest {
    DescribeTransactionsRequest { transactional_ids: ids.iter().map(|s| s.to_string()).collect(), ..Default::default() }
}

fn list(states: &[&str], pids: &[i64], duration: i64) -> ListTransactionsRequest {
    ListTransactionsRequest {
        state_filters: states.iter().map(|s| s.to_string()).collect(),
        producer_id_filters: pids.to_vec(),
        duration_filter: duration,
        ..Default::default()
    }
}

fn producers(topic: &str, partitions: &[i32]) -> DescribeProducersRequest {
    DescribeProducersRequest {
        topics: vec![DescribeProducersTopic {
            name: topic.into(),
            partition_indexes: partitions.to_vec(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn marker(
    pid: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    topic: &str,
    partition: i32,
) -> WriteTxnMarkersRequest {
    WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: pid,
            producer_epoch: epoch,
            transaction_result: commit,
            topics: vec![WritableTxnMarkerTopic {
                name: topic.into(),
                partition_indexes: vec![partition],
                ..Default::default()
            }],
            coordinator_epoch,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn txn_produce(txn: &str, partition: i32, pid: i64, epoch: i16, seq: i32) -> kafka_protocol::messages::ProduceRequest {
    let mut r = produce(-1, TOPIC, partition, txn_batch(txn, 2, pid, epoch, seq));
    r.transactional_id = Some(txn.into());
    r
}

/// Registers `txn` and runs one transaction on `partition` of [`TOPIC`],
/// ending it (`Some(commit)`) or leaving it open; returns its id and epoch.
async fn run_txn(s: &mut Session, txn: &str, partition: i32, outcome: Option<bool>) -> (i64, i16) {
    txn_coordinator_ready(s, txn).await;
    let r = s.quiet(5, &init(txn, 60_000, None)).await.expect("InitProducerId answered");
    let (pid, epoch) = (r.producer_id, r.producer_epoch);
    s.quiet(3, &add_partitions(txn, pid, epoch, &[(TOPIC, partition)])).await;
    s.quiet(11, &txn_produce(txn, partition, pid, epoch, 0)).await;
    if let Some(commit) = outcome {
        s.quiet(4, &end(txn, pid, epoch, commit)).await;
        completed(s, 4, &end(txn, pid, epoch, commit)).await;
    }
    (pid, epoch)
}

pub async fn describe_list_and_abort(s: &mut Session) {
    create(s, TOPIC, 2, &[]).await;
    producer_ids_ready(s).await;
    // An idempotent producer on partition 0, before any transaction there.
    let idem = s.quiet(4, &init_producer_id()).await.expect("InitProducerId answered");
    s.quiet(9, &produce(-1, TOPIC, 0, batch("idem", 3, Some((idem.producer_id, idem.producer_epoch, 0))))).await;
    // It bumps its own epoch (KIP-360), so epoch 0 is now an older one.
    s.quiet(9, &produce(-1, TOPIC, 0, batch("idem", 2, Some((idem.producer_id, idem.producer_epoch + 1, 0))))).await;

    txn_coordinator_ready(s, "adm-empty").await;
    s.call("DescribeTransactions v0 of an Empty id", 0, &describe(&["adm-empty"])).await;
    s.call("DescribeTransactions v0 of an unknown id", 0, &describe(&["adm-nobody"])).await;
    s.call("DescribeTransactions v0 of the empty id", 0, &describe(&[""])).await;
    s.call("DescribeTransactions v0 of no id", 0, &describe(&[])).await;
    let (open_pid, open_epoch) = run_txn(s, "adm-open", 0, None).await;
    let (commit_pid, commit_epoch) = run_txn(s, "adm-commit", 1, Some(true)).await;
    let (abort_pid, _) = run_txn(s, "adm-abort", 1, Some(false)).await;
    let empty_pid = s.quiet(0, &describe(&["adm-empty"])).await.map_or(-1, |r| r.transaction_states[0].producer_id);
    let ours = [empty_pid, open_pid, commit_pid, abort_pid];
    s.call("DescribeTransactions v0 of an Ongoing id", 0, &describe(&["adm-open"])).await;
    s.call("DescribeTransactions v0 of a CompleteCommit id", 0, &describe(&["adm-commit"])).await;
    s.call("DescribeTransactions v0 of a CompleteAbort id", 0, &describe(&["adm-abort"])).await;
    s.call("DescribeTransactions v0 of several ids", 0, &describe(&["adm-abort", "adm-nobody", "adm-open"])).await;

    s.call("ListTransactions v0", 0, &list(&[], &[], -1)).await;
    s.call("ListTransactions v0 Ongoing", 0, &list(&["Ongoing"], &[], -1)).await;
    s.call("ListTransactions v0 CompleteCommit and an unknown state", 0, &list(&["CompleteCommit", "Bogus"], &[], -1))
        .await;
    s.call("ListTransactions v0 Dead", 0, &list(&["Dead"], &[], -1)).await;
    s.call("ListTransactions v0 by producer id", 0, &list(&[], &[open_pid, commit_pid], -1)).await;
    s.call("ListTransactions v0 by an unknown producer id", 0, &list(&[], &[i64::MAX], -1)).await;
    // Only this scenario's ids: the durations of the other scenarios' depend on their timing.
    s.call("ListTransactions v1 running longer than an hour", 1, &list(&[], &ours, 3_600_000)).await;
    s.call("ListTransactions v1 running longer than 0 ms", 1, &list(&[], &ours, 0)).await;

    s.call("DescribeProducers v0 with an idempotent and a transactional producer", 0, &producers(TOPIC, &[0])).await;
    s.call("DescribeProducers v0 after a commit and an abort", 0, &producers(TOPIC, &[1])).await;
    s.call("DescribeProducers v0 of a partition that does not exist", 0, &producers(TOPIC, &[7])).await;
    s.call("DescribeProducers v0 of a topic that does not exist", 0, &producers("txn-admin-nowhere", &[0])).await;

    fetch_committed_of(s, TOPIC, "Fetch v12 read_committed with the transaction hanging", 0).await;
    s.call(
        "WriteTxnMarkers v1 to a partition that does not exist",
        1,
        &marker(open_pid, open_epoch, false, 0, TOPIC, 7),
    )
    .await;
    s.call(
        "WriteTxnMarkers v1 with an older epoch",
        1,
        &marker(idem.producer_id, idem.producer_epoch, false, 0, TOPIC, 0),
    )
    .await;
    s.call("WriteTxnMarkers v1 abort of the open transaction", 1, &marker(open_pid, open_epoch, false, 0, TOPIC, 0))
        .await;
    fetch_committed_of(s, TOPIC, "Fetch v12 read_committed after the admin abort", 0).await;
    s.call("DescribeProducers v0 after the admin abort", 0, &producers(TOPIC, &[0])).await;
    s.call(
        "WriteTxnMarkers v1 from an older coordinator epoch",
        1,
        &marker(commit_pid, commit_epoch, true, -5, TOPIC, 1),
    )
    .await;
    // The coordinator did not see the abort: the id is still Ongoing there.
    s.call("DescribeTransactions v0 after the admin abort", 0, &describe(&["adm-open"])).await;
    s.quiet(4, &end("adm-open", open_pid, open_epoch, false)).await;
    completed(s, 4, &end("adm-open", open_pid, open_epoch, false)).await;
    s.call("DescribeTransactions v0 once the coordinator aborted", 0, &describe(&["adm-open"])).await;
}

/// What 4.4 added: ListTransactions v2's transactional-id pattern and
/// WriteTxnMarkers v2's transaction version.
pub async fn newest_filters(s: &mut Session) {
    // Producer ids are aliased in order of first appearance: this fixes it.
    s.call(
        "DescribeTransactions v0 of this scenario's ids",
        0,
        &describe(&["adm-abort", "adm-commit", "adm-empty", "adm-open"]),
    )
    .await;
    let with = |pattern: Option<&str>| ListTransactionsRequest {
        duration_filter: -1,
        transactional_id_pattern: pattern.map(str::to_string),
        ..Default::default()
    };
    s.call("ListTransactions v2 pattern adm-.*", 2, &with(Some("adm-.*"))).await;
    s.call("ListTransactions v2 pattern adm-o (a prefix)", 2, &with(Some("adm-o"))).await;
    s.call("ListTransactions v2 pattern .*commit", 2, &with(Some(".*commit"))).await;
    s.call("ListTransactions v2 empty pattern", 2, &with(Some(""))).await;
    s.call("ListTransactions v2 invalid pattern", 2, &with(Some("adm-("))).await;
    let mut m = marker(i64::MAX - 1, 0, false, 0, TOPIC, 1);
    m.markers[0].transaction_version = 2;
    s.call("WriteTxnMarkers v2 for a producer the partition does not know", 2, &m).await;
}
