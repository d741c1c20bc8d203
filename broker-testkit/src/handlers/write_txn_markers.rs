//! WriteTxnMarkers: a partition leader appends commit or abort markers for
//! the producers named, as Kafka's leader does for its transaction
//! coordinators and for admin clients aborting a hanging transaction
//! (`Admin.abortTransaction`, KIP-664).
//!
//! Per partition, as Kafka's `handleWriteTxnMarkersRequest` and the
//! producer-state checks of `appendEndTxnMarker`: a partition this broker
//! has no replica of (or that does not exist) is UNKNOWN_TOPIC_OR_PARTITION,
//! a follower says NOT_LEADER_OR_FOLLOWER, a marker older than the
//! producer's epoch is INVALID_PRODUCER_EPOCH, and one from a coordinator
//! epoch older than the producer's last marker is
//! TRANSACTION_COORDINATOR_FENCED. A marker on `__consumer_offsets`
//! completes the producer's transactional offsets there.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::write_txn_markers::{
    WritableTxnMarker, WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{ResponseBody, WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::cluster::topic::CONSUMER_OFFSETS;
use crate::cluster::{Core, RequestCtx};

/// Writes one marker to one partition, or says why not.
fn write_one(core: &mut Core, ctx: &RequestCtx, m: &WritableTxnMarker, topic: &str, index: i32) -> ErrorCode {
    let brokers = core.brokers.clone();
    let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
    let Some(p) = core.topics.get_mut(topic).and_then(|t| t.partition_mut(index)) else {
        return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    };
    if !p.logs.contains_key(&ctx.broker) {
        return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    }
    if p.leader != ctx.broker {
        return ErrorCode::NOT_LEADER_OR_FOLLOWER;
    }
    if p.producers.epoch_of(m.producer_id).is_some_and(|e| m.producer_epoch < e) {
        return ErrorCode::INVALID_PRODUCER_EPOCH;
    }
    if p.producers.coordinator_epoch_of(m.producer_id).is_some_and(|e| m.coordinator_epoch < e) {
        return ErrorCode::TRANSACTION_COORDINATOR_FENCED;
    }
    match p.append_marker(
        m.producer_id,
        m.producer_epoch,
        m.transaction_result,
        m.coordinator_epoch,
        ctx.now_ms,
        &online,
    ) {
        Ok(_) => {
            if topic == CONSUMER_OFFSETS {
                core.groups.complete_txn_offsets(m.producer_id, m.transaction_result, ctx.now_ms);
            }
            ErrorCode::NONE
        }
        Err(refused) => refused.code,
    }
}

/// WriteTxnMarkers: every marker to every partition it names.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: WriteTxnMarkersRequest) -> ResponseBody {
    ResponseBody::WriteTxnMarkers(answer(&req, |m, topic, index| write_one(core, ctx, m, topic, index)))
}

/// The response to `req` with `outcome`'s code for each partition of each
/// marker, asked in request order.
pub(crate) fn answer(
    req: &WriteTxnMarkersRequest,
    mut outcome: impl FnMut(&WritableTxnMarker, &str, i32) -> ErrorCode,
) -> WriteTxnMarkersResponse {
    let markers = req
        .markers
        .iter()
        .map(|m| WritableTxnMarkerResult {
            producer_id: m.producer_id,
            topics: m
                .topics
                .iter()
                .map(|t| WritableTxnMarkerTopicResult {
                    name: t.name.clone(),
                    partitions: t
                        .partition_indexes
                        .iter()
                        .map(|&index| WritableTxnMarkerPartitionResult {
                            partition_index: index,
                            error_code: outcome(m, &t.name, index).0,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    WriteTxnMarkersResponse { markers, ..Default::default() }
}
