//! The transaction admin APIs on a cluster of three, where a single-node
//! comparison with Kafka cannot go: DescribeProducers answered by a
//! follower from its own copy and refused by a broker without a replica;
//! WriteTxnMarkers refused by a follower and by a broker without a
//! replica; DescribeTransactions and ListTransactions answered only by the
//! id's coordinator.

use kafka_protocol::messages::InitProducerIdResponse;
use kafka_protocol::messages::add_partitions_to_txn;
use kafka_protocol::messages::describe_producers::DescribeProducersTopic;
use kafka_protocol::messages::write_txn_markers::{WritableTxnMarker, WritableTxnMarkerTopic};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest,
    WriteTxnMarkersRequest,
};

use super::*;

fn describe_producers(h: &mut Harness, broker: i32) -> (ErrorCode, Vec<(i64, i32, i32, i64)>) {
    let req = DescribeProducersRequest {
        topics: vec![DescribeProducersTopic { name: "t".into(), partition_indexes: vec![0], ..Default::default() }],
        ..Default::default()
    };
    let id = h.send(broker, 0, req);
    let mut r = expect_body!(h.take(id), DescribeProducers);
    let p = r.topics.remove(0).partitions.remove(0);
    let producers = p
        .active_producers
        .iter()
        .map(|s| (s.producer_id, s.producer_epoch, s.last_sequence, s.current_txn_start_offset))
        .collect();
    (code(p.error_code), producers)
}

fn abort_marker(h: &mut Harness, broker: i32, pid: i64, epoch: i16) -> ErrorCode {
    let req = WriteTxnMarkersRequest {
        markers: vec![WritableTxnMarker {
            producer_id: pid,
            producer_epoch: epoch,
            transaction_result: false,
            topics: vec![WritableTxnMarkerTopic { name: "t".into(), partition_indexes: vec![0], ..Default::default() }],
            coordinator_epoch: 0,
            ..Default::default()
        }],
        ..Default::default()
    };
    let id = h.send(broker, 1, req);
    let r = expect_body!(h.take(id), WriteTxnMarkers);
    code(r.markers[0].topics[0].partitions[0].error_code)
}

/// InitProducerId for `transactional_id` (timeout 60 s) at its coordinator.
fn init_producer_id(h: &mut Harness, coordinator: i32, transactional_id: &str) -> InitProducerIdResponse {
    let req = InitProducerIdRequest {
        transactional_id: Some(transactional_id.into()),
        transaction_timeout_ms: 60_000,
        ..Default::default()
    };
    let id = h.send(coordinator, 5, req);
    expect_body!(h.take(id), InitProducerId)
}

fn transactional(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(pid, epoch, seq);
    b.set_transactional(true);
    for i in 0..n {
        b.append(T0 + i as i64, None, Some(b"txn"), &[]);
    }
    b.finish().unwrap()
}

#[test]
fn producers_are_described_by_any_replica_and_markers_written_by_the_leader_only() {
    let mut h = Harness::new(3);
    // Replicas on brokers 1 (leader) and 2; broker 3 has none.
    h.topic("t", &[&[1, 2]], &[]);
    // An idempotent producer that bumped its own epoch to 1 (KIP-360).
    for epoch in [0, 1] {
        let r = h.produce_now(1, -1, "t", 0, idempotent(7, epoch, 0, 3));
        assert_eq!(code(r.error_code), ErrorCode::NONE);
    }
    // A transaction left open (classic protocol: registered, partition added, written).
    let coordinator = h.core.txn_coordinator_for("app", h.now).expect("a coordinator");
    let init = init_producer_id(&mut h, coordinator, "app");
    let (pid, epoch) = (init.producer_id, init.producer_epoch);
    let add = AddPartitionsToTxnRequest {
        v3_and_below_transactional_id: "app".into(),
        v3_and_below_producer_id: pid,
        v3_and_below_producer_epoch: epoch,
        v3_and_below_topics: vec![add_partitions_to_txn::AddPartitionsToTxnTopic {
            name: "t".into(),
            partitions: vec![0],
            ..Default::default()
        }],
        ..Default::default()
    };
    let id = h.send(coordinator, 3, add);
    expect_body!(h.take(id), AddPartitionsToTxn);
    let mut req = produce_request(1, 30_000, "t", 0, transactional(pid, epoch, 0, 2));
    req.transactional_id = Some("app".into());
    let id = h.send(1, 11, req);
    assert_eq!(code(h.produce_answer(id).error_code), ErrorCode::NONE);
    let mut expected = vec![(7, 1, 2, -1), (pid, i32::from(epoch), 1, 6)];
    expected.sort();
    assert_eq!(describe_producers(&mut h, 1), (ErrorCode::NONE, expected.clone()));
    assert_eq!(describe_producers(&mut h, 2), (ErrorCode::NONE, expected), "the follower's own copy");
    assert_eq!(describe_producers(&mut h, 3).0, ErrorCode::NOT_LEADER_OR_FOLLOWER);

    assert_eq!(abort_marker(&mut h, 2, pid, epoch), ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(abort_marker(&mut h, 3, pid, epoch), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(abort_marker(&mut h, 1, 7, 0), ErrorCode::INVALID_PRODUCER_EPOCH);
    assert_eq!(h.core.topics["t"].partition(0).unwrap().last_stable_offset(), 6, "the hanging transaction holds it");
    assert_eq!(abort_marker(&mut h, 1, pid, epoch), ErrorCode::NONE);
    let p = h.core.topics["t"].partition(0).unwrap();
    assert_eq!((p.last_stable_offset(), p.high_watermark), (9, 9), "the abort marker released it");
    assert_eq!(p.txns.aborted().len(), 1);
    let (_, after) = describe_producers(&mut h, 2);
    assert!(after.contains(&(pid, i32::from(epoch), 1, -1)), "the follower replicated the marker: {after:?}");
}

#[test]
fn transactions_are_described_and_listed_by_their_coordinator_only() {
    let mut h = Harness::with_settings(
        3,
        BrokerSettings {
            replica_lag_time_max_ms: LAG_MS,
            transaction_state_partitions: 3,
            ..BrokerSettings::default()
        },
    );
    // No __transaction_state yet: nobody coordinates, and neither API creates it.
    let id = h.send(1, 0, DescribeTransactionsRequest { transactional_ids: vec!["app".into()], ..Default::default() });
    let r = expect_body!(h.take(id), DescribeTransactions);
    assert_eq!(code(r.transaction_states[0].error_code), ErrorCode::NOT_COORDINATOR);
    assert!(!h.core.topics.contains_key(crate::cluster::topic::TRANSACTION_STATE));

    let coordinator = h.core.txn_coordinator_for("app", h.now).expect("a coordinator");
    assert_eq!(code(init_producer_id(&mut h, coordinator, "app").error_code), ErrorCode::NONE);
    for broker in 1..=3 {
        let id = h.send(
            broker,
            0,
            DescribeTransactionsRequest { transactional_ids: vec!["app".into()], ..Default::default() },
        );
        let s = expect_body!(h.take(id), DescribeTransactions).transaction_states.remove(0);
        let id = h.send(broker, 1, ListTransactionsRequest { duration_filter: -1, ..Default::default() });
        let listed = expect_body!(h.take(id), ListTransactions).transaction_states;
        if broker == coordinator {
            assert_eq!((code(s.error_code), s.transaction_state.as_str()), (ErrorCode::NONE, "Empty"));
            assert_eq!(listed.len(), 1);
        } else {
            assert_eq!(code(s.error_code), ErrorCode::NOT_COORDINATOR, "broker {broker}");
            assert!(listed.is_empty(), "broker {broker} lists only its own ids");
        }
    }
    let id = h.send(
        coordinator,
        0,
        DescribeTransactionsRequest { transactional_ids: vec!["other".into()], ..Default::default() },
    );
    let s = expect_body!(h.take(id), DescribeTransactions).transaction_states.remove(0);
    let expected = if h.core.txn_coordinator_for("other", h.now) == Some(coordinator) {
        ErrorCode::TRANSACTIONAL_ID_NOT_FOUND
    } else {
        ErrorCode::NOT_COORDINATOR
    };
    assert_eq!(code(s.error_code), expected);
}
