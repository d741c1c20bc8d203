//! DescribeTransactions and ListTransactions (KIP-664): what the
//! transaction coordinator knows of the ids it coordinates.
//!
//! As in Kafka, a broker answers only for the `__transaction_state`
//! partitions it leads: an id it does not coordinate is NOT_COORDINATOR
//! (also when the topic does not exist yet: neither API creates it), an id
//! it coordinates but does not know is TRANSACTIONAL_ID_NOT_FOUND, and
//! ListTransactions lists only its own ids. Kafka's COORDINATOR_NOT_AVAILABLE
//! (a coordinator not started yet) has no counterpart: a testkit broker
//! serves as soon as it accepts connections.

use std::collections::BTreeMap;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_transactions::{DescribedTransaction, DescribedTransactionTopic};
use kafka_protocol::messages::list_transactions::ListedTransaction;
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse,
    ResponseBody,
};

use crate::cluster::topic::{TRANSACTION_STATE, txn_partition_for};
use crate::cluster::{Core, RequestCtx};
use crate::txn::TxnState;
use crate::txn::describe::ListFilter;

/// Whether `broker` leads the `__transaction_state` partition of `tid`.
fn coordinates(core: &Core, broker: i32, tid: &str) -> bool {
    core.topics.get(TRANSACTION_STATE).is_some_and(|t| {
        t.partition(txn_partition_for(tid, t.partitions.len() as i32)).is_some_and(|p| p.leader == broker)
    })
}

/// DescribeTransactions: each id as its coordinator holds it.
pub fn describe(core: &Core, ctx: &RequestCtx, req: DescribeTransactionsRequest) -> ResponseBody {
    let transaction_states = req
        .transactional_ids
        .into_iter()
        .map(|tid| {
            let failed = |code: ErrorCode, tid: String| DescribedTransaction {
                error_code: code.0,
                transactional_id: tid,
                ..Default::default()
            };
            if tid.is_empty() {
                return failed(ErrorCode::INVALID_REQUEST, tid);
            }
            if !coordinates(core, ctx.broker, &tid) {
                return failed(ErrorCode::NOT_COORDINATOR, tid);
            }
            let Some(txn) = core.txns.get(&tid) else {
                return failed(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND, tid);
            };
            // Preparing to end, only the partitions still without a marker.
            let parts = match txn.state {
                TxnState::PrepareCommit | TxnState::PrepareAbort => &txn.pending_markers,
                _ => &txn.partitions,
            };
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (t, p) in parts {
                by_topic.entry(t.as_str()).or_default().push(*p);
            }
            DescribedTransaction {
                error_code: 0,
                transaction_state: txn.state.name().to_string(),
                transaction_timeout_ms: txn.timeout_ms,
                transaction_start_time_ms: txn.start_ms,
                producer_id: txn.producer_id,
                producer_epoch: txn.producer_epoch,
                topics: by_topic
                    .into_iter()
                    .map(|(topic, partitions)| DescribedTransactionTopic {
                        topic: topic.to_string(),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                transactional_id: tid,
                ..Default::default()
            }
        })
        .collect();
    ResponseBody::DescribeTransactions(DescribeTransactionsResponse { transaction_states, ..Default::default() })
}

/// ListTransactions: the ids this broker coordinates, filtered.
pub fn list(core: &Core, ctx: &RequestCtx, req: ListTransactionsRequest) -> ResponseBody {
    let filter = ListFilter {
        states: req.state_filters,
        producer_ids: req.producer_id_filters,
        min_duration_ms: req.duration_filter,
        transactional_id_pattern: req.transactional_id_pattern,
    };
    let owned = |tid: &str| coordinates(core, ctx.broker, tid);
    let resp = match core.txns.list(&filter, ctx.now_ms, &owned) {
        Ok(listed) => ListTransactionsResponse {
            unknown_state_filters: listed.unknown_state_filters,
            transaction_states: listed
                .transactions
                .into_iter()
                .map(|(transactional_id, producer_id, state)| ListedTransaction {
                    transactional_id,
                    producer_id,
                    transaction_state: state.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        Err(code) => ListTransactionsResponse { error_code: code.0, ..Default::default() },
    };
    ResponseBody::ListTransactions(resp)
}
