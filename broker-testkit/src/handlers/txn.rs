//! The transaction APIs: AddPartitionsToTxn, AddOffsetsToTxn and EndTxn,
//! answered by the transactional id's coordinator (the leader of its
//! `__transaction_state` partition), and TxnOffsetCommit, answered by the
//! group's coordinator after the transaction check (KIP-890).
//!
//! Errors follow Kafka's request handlers: a request reaching a broker
//! that does not coordinate the id gets NOT_COORDINATOR
//! (COORDINATOR_NOT_AVAILABLE when nobody leads the partition);
//! PRODUCER_FENCED is reported as INVALID_PRODUCER_EPOCH to versions older
//! than KIP-588's (AddPartitionsToTxn, AddOffsetsToTxn and EndTxn v0–v1).
//! A transactional offset commit is checked as a produce is: fencing is
//! INVALID_PRODUCER_EPOCH, and a group outside the transaction
//! TRANSACTION_ABORTABLE (INVALID_TXN_STATE before v4).

use kafka_protocol::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopic, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit::{TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    EndTxnRequest, EndTxnResponse, ResponseBody, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};
use kafka_protocol::{ErrorCode, Uuid};

use super::groups::{Topics, topic_name};
use crate::cluster::topic::{CONSUMER_OFFSETS, offsets_partition_for};
use crate::cluster::{Core, RequestCtx};
use crate::txn::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TopicPartition};

/// The first versions of AddPartitionsToTxn, AddOffsetsToTxn and EndTxn
/// that report PRODUCER_FENCED (KIP-588).
const FIRST_PRODUCER_FENCED: i16 = 2;

/// The first AddPartitionsToTxn version in the brokers' batched form.
const FIRST_BATCHED: i16 = 4;

/// The first EndTxn and TxnOffsetCommit versions of transaction version 2.
const FIRST_TV2_END_TXN: i16 = 5;
const FIRST_TV2_TXN_OFFSET_COMMIT: i16 = 5;

/// The last TxnOffsetCommit version whose clients do not know
/// TRANSACTION_ABORTABLE: they are told INVALID_TXN_STATE.
const LAST_TXN_OFFSET_COMMIT_WITHOUT_ABORTABLE: i16 = 3;

/// The first TxnOffsetCommit version naming topics by id.
const FIRST_TXN_OFFSET_COMMIT_BY_ID: i16 = 6;

fn fenced_for(version: i16, e: ErrorCode) -> ErrorCode {
    if e == ErrorCode::PRODUCER_FENCED && version < FIRST_PRODUCER_FENCED {
        ErrorCode::INVALID_PRODUCER_EPOCH
    } else {
        e
    }
}

/// Whether this broker coordinates `tid`, as an error when it does not.
fn route(core: &mut Core, ctx: &RequestCtx, tid: &str) -> Result<(), ErrorCode> {
    match core.txn_coordinator_for(tid, ctx.now_ms) {
        None => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        Some(b) if b != ctx.broker => Err(ErrorCode::NOT_COORDINATOR),
        Some(_) => Ok(()),
    }
}

/// A transaction's partitions checked against the cluster: unknown ones
/// get UNKNOWN_TOPIC_OR_PARTITION and the rest OPERATION_NOT_ATTEMPTED, as
/// Kafka answers before it involves the coordinator.
fn unknown_partitions(core: &Core, topics: &[AddPartitionsToTxnTopic]) -> Option<Vec<AddPartitionsToTxnTopicResult>> {
    let exists = |t: &str, p: i32| core.topics.get(t).is_some_and(|x| x.partition(p).is_some());
    if topics.iter().all(|t| t.partitions.iter().all(|&p| exists(&t.name, p))) {
        return None;
    }
    Some(
        topics
            .iter()
            .map(|t| {
                results_for(t, |p| {
                    if exists(&t.name, p) {
                        ErrorCode::OPERATION_NOT_ATTEMPTED
                    } else {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    }
                })
            })
            .collect(),
    )
}

fn results_for(t: &AddPartitionsToTxnTopic, code: impl Fn(i32) -> ErrorCode) -> AddPartitionsToTxnTopicResult {
    AddPartitionsToTxnTopicResult {
        name: t.name.clone(),
        results_by_partition: t
            .partitions
            .iter()
            .map(|&p| AddPartitionsToTxnPartitionResult {
                partition_index: p,
                partition_error_code: code(p).0,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn partitions_of(topics: &[AddPartitionsToTxnTopic]) -> Vec<TopicPartition> {
    topics.iter().flat_map(|t| t.partitions.iter().map(move |&p| (t.name.clone(), p))).collect()
}

/// One transaction of an AddPartitionsToTxn: results per topic.
fn add_one(
    core: &mut Core,
    ctx: &RequestCtx,
    tid: &str,
    pid: i64,
    epoch: i16,
    topics: &[AddPartitionsToTxnTopic],
    verify_only: bool,
) -> Vec<AddPartitionsToTxnTopicResult> {
    if let Some(results) = unknown_partitions(core, topics) {
        return results;
    }
    if let Err(e) = route(core, ctx, tid) {
        return topics.iter().map(|t| results_for(t, |_| e)).collect();
    }
    let now = ctx.now_ms;
    if ctx.version >= FIRST_BATCHED {
        // A broker asking for a client (KIP-890): verification, or from a
        // version-2 produce or offset commit, the implicit add. Each
        // partition is answered on its own.
        let add = !verify_only;
        return topics
            .iter()
            .map(|t| {
                let codes: Vec<ErrorCode> = t
                    .partitions
                    .iter()
                    .map(|&p| {
                        core.txns
                            .verify_partition(tid, pid, epoch, &(t.name.clone(), p), add, now)
                            .err()
                            .unwrap_or(ErrorCode::NONE)
                    })
                    .collect();
                let mut r = results_for(t, |_| ErrorCode::NONE);
                for (pr, c) in r.results_by_partition.iter_mut().zip(codes) {
                    pr.partition_error_code = c.0;
                }
                r
            })
            .collect();
    }
    let code = match core.txns.add_partitions(tid, pid, epoch, &partitions_of(topics), now) {
        Ok(()) => ErrorCode::NONE,
        Err(e) => fenced_for(ctx.version, e),
    };
    topics.iter().map(|t| results_for(t, |_| code)).collect()
}

/// AddPartitionsToTxn: v0–v3 from clients (one transaction), v4+ in the
/// brokers' batched form (several, each possibly `verify_only`).
pub fn add_partitions(core: &mut Core, ctx: &RequestCtx, req: AddPartitionsToTxnRequest) -> ResponseBody {
    let mut resp = AddPartitionsToTxnResponse::default();
    if ctx.version < FIRST_BATCHED {
        resp.results_by_topic_v3_and_below = add_one(
            core,
            ctx,
            &req.v3_and_below_transactional_id,
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            &req.v3_and_below_topics,
            false,
        );
    } else {
        for t in &req.transactions {
            let topic_results =
                add_one(core, ctx, &t.transactional_id, t.producer_id, t.producer_epoch, &t.topics, t.verify_only);
            resp.results_by_transaction.push(AddPartitionsToTxnResult {
                transactional_id: t.transactional_id.clone(),
                topic_results,
                ..Default::default()
            });
        }
    }
    ResponseBody::AddPartitionsToTxn(resp)
}

/// AddOffsetsToTxn: adds the group's `__consumer_offsets` partition to the
/// transaction, so its TxnOffsetCommit is part of it.
pub fn add_offsets(core: &mut Core, ctx: &RequestCtx, req: AddOffsetsToTxnRequest) -> ResponseBody {
    let result = route(core, ctx, &req.transactional_id).and_then(|()| {
        // The group's coordinator placement creates the offsets topic.
        core.coordinator_for(&req.group_id, ctx.now_ms);
        let partitions = core.topics.get(CONSUMER_OFFSETS).map_or(1, |t| t.partitions.len() as i32);
        let tp = (CONSUMER_OFFSETS.to_string(), offsets_partition_for(&req.group_id, partitions));
        core.txns.add_partitions(&req.transactional_id, req.producer_id, req.producer_epoch, &[tp], ctx.now_ms)
    });
    let error = result.err().map_or(ErrorCode::NONE, |e| fenced_for(ctx.version, e));
    ResponseBody::AddOffsetsToTxn(AddOffsetsToTxnResponse { error_code: error.0, ..Default::default() })
}

/// EndTxn: commits or aborts; from v5 on a cluster at transaction version
/// 2 the epoch is bumped and the answer names the id and epoch to use next.
pub fn end(core: &mut Core, ctx: &RequestCtx, req: EndTxnRequest) -> ResponseBody {
    let tv2 = ctx.version >= FIRST_TV2_END_TXN && core.transaction_version() >= 2;
    let result = route(core, ctx, &req.transactional_id).and_then(|()| {
        let (txns, mut alloc) = core.txns_with_ids();
        let producer = (req.producer_id, req.producer_epoch);
        txns.end_txn(&req.transactional_id, producer, req.committed, tv2, ctx.now_ms, &mut alloc)
    });
    let resp = match result {
        Ok((producer_id, producer_epoch)) => EndTxnResponse { producer_id, producer_epoch, ..Default::default() },
        Err(e) => EndTxnResponse {
            error_code: fenced_for(ctx.version, e).0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            ..Default::default()
        },
    };
    ResponseBody::EndTxn(resp)
}

/// TxnOffsetCommit: routed to the group's coordinator; the transaction must
/// hold the group's offsets partition (added by AddOffsetsToTxn, or
/// implicitly from v5 at transaction version 2); the offsets are then held
/// pending until the transaction ends.
pub fn txn_offset_commit(core: &mut Core, ctx: &RequestCtx, mut req: TxnOffsetCommitRequest) -> ResponseBody {
    let by_id = ctx.version >= FIRST_TXN_OFFSET_COMMIT_BY_ID;
    let ids: Vec<Uuid> = req.topics.iter().map(|t| t.topic_id).collect();
    if by_id {
        for t in &mut req.topics {
            t.name = topic_name(&core.topics, t.topic_id).unwrap_or_default();
        }
    }
    let whole = |code: ErrorCode, req: &TxnOffsetCommitRequest| TxnOffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                topic_id: t.topic_id,
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| TxnOffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code.0,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut resp = if core.coordinator_for(&req.group_id, ctx.now_ms) != Some(ctx.broker) {
        whole(ErrorCode::NOT_COORDINATOR, &req)
    } else {
        let partitions = core.topics.get(CONSUMER_OFFSETS).map_or(1, |t| t.partitions.len() as i32);
        let tp = (CONSUMER_OFFSETS.to_string(), offsets_partition_for(&req.group_id, partitions));
        let add = ctx.version >= FIRST_TV2_TXN_OFFSET_COMMIT && core.transaction_version() >= 2;
        let verified = core.txns.verify_partition(
            &req.transactional_id,
            req.producer_id,
            req.producer_epoch,
            &tp,
            add,
            ctx.now_ms,
        );
        match verified {
            Err(ErrorCode::PRODUCER_FENCED) => whole(ErrorCode::INVALID_PRODUCER_EPOCH, &req),
            Err(ErrorCode::TRANSACTION_ABORTABLE) if ctx.version <= LAST_TXN_OFFSET_COMMIT_WITHOUT_ABORTABLE => {
                whole(ErrorCode::INVALID_TXN_STATE, &req)
            }
            Err(e) => whole(e, &req),
            Ok(()) => {
                let Core { groups, topics, .. } = core;
                groups.txn_offset_commit(ctx.now_ms, &req, &Topics(topics))
            }
        }
    };
    if by_id {
        for (t, &id) in resp.topics.iter_mut().zip(&ids) {
            t.topic_id = id;
            if topic_name(&core.topics, id).is_none() {
                for p in &mut t.partitions {
                    p.error_code = ErrorCode::UNKNOWN_TOPIC_ID.0;
                }
            }
        }
    }
    ResponseBody::TxnOffsetCommit(resp)
}
