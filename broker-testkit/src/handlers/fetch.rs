//! Fetch: serve stored bytes from the leader, up to the high watermark.
//!
//! A fetch is answered once `min_bytes` of data are there, at once when a
//! partition has an error, and otherwise when `max_wait_ms` passes (parked
//! meanwhile and re-checked whenever the cluster changes). `max_bytes`
//! bounds the response and `partition_max_bytes` each partition, except
//! that the first partition with data returns at least one whole batch
//! (KIP-74). Partitions without data, errors included, carry empty (never
//! null) records, as in Kafka. There are no fetch sessions: answers carry
//! session id 0, which tells clients to send full fetches (legal per KIP-227).
//!
//! A read_committed fetch (isolation level 1) reads only up to the last
//! stable offset and lists the aborted transactions its range overlaps, so
//! the consumer can drop their records; every answer carries the LSO.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::fetch::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ResponseBody};

use super::Handled;
use crate::cluster::{Core, Outcome, PendingFetch, ReplyId, RequestCtx};

/// Fetch: answers now, or parks the request until data or the deadline.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: FetchRequest) -> Handled {
    let (resp, bytes, early) = build(core, &req, ctx.version, ctx.broker);
    if early || bytes >= req.min_bytes.max(0) as usize || req.max_wait_ms <= 0 {
        return Handled::Now(ResponseBody::Fetch(resp));
    }
    core.pending_fetch.push(PendingFetch {
        reply: ctx.reply,
        broker: ctx.broker,
        version: ctx.version,
        deadline_ms: ctx.now_ms + i64::from(req.max_wait_ms),
        request: req,
    });
    Handled::Later
}

/// Answers a parked fetch when it has enough data, an error, or `expired`.
// `Err` hands the still-waiting fetch back to its queue: it is not an
// error, and boxing it would allocate on every wake-up.
#[allow(clippy::result_large_err)]
pub(crate) fn try_complete(
    core: &Core,
    f: PendingFetch,
    _now_ms: i64,
    expired: bool,
) -> Result<(ReplyId, Outcome), PendingFetch> {
    let (resp, bytes, early) = build(core, &f.request, f.version, f.broker);
    if expired || early || bytes >= f.request.min_bytes.max(0) as usize {
        Ok((f.reply, Outcome::Respond(ResponseBody::Fetch(resp))))
    } else {
        Err(f)
    }
}

/// Builds the response: (response, record bytes in it, whether a partition
/// error means it should be sent without waiting).
fn build(core: &Core, req: &FetchRequest, version: i16, broker: i32) -> (FetchResponse, usize, bool) {
    let mut resp = FetchResponse::default();
    let mut total = 0usize;
    let mut has_error = false;
    let mut not_leader = false;
    let response_max = req.max_bytes.max(0) as usize;
    let read_committed = req.isolation_level == 1;
    for ft in &req.topics {
        let topic = if version >= 13 { core.topic_by_id(ft.topic_id) } else { core.topics.get(&ft.topic) };
        let mut tr = FetchableTopicResponse { topic: ft.topic.clone(), topic_id: ft.topic_id, ..Default::default() };
        for fp in &ft.partitions {
            let mut pd = PartitionData {
                partition_index: fp.partition,
                high_watermark: -1,
                last_stable_offset: -1,
                log_start_offset: -1,
                aborted_transactions: if read_committed { Some(Vec::new()) } else { None },
                // Never null, even with an error: Kafka's FetchResponse sends
                // null records as empty ones, and librdkafka rejects a null
                // (size -1) record set as a parse failure.
                records: Some(bytes::Bytes::new()),
                ..Default::default()
            };
            let code = match topic {
                None if version >= 13 => Some(ErrorCode::UNKNOWN_TOPIC_ID),
                None => Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                Some(t) => match t.partition(fp.partition) {
                    None => Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                    Some(p) if p.leader != broker => {
                        not_leader = true;
                        if version >= 12 {
                            pd.current_leader = LeaderIdAndEpoch {
                                leader_id: p.leader,
                                leader_epoch: p.leader_epoch,
                                ..Default::default()
                            };
                        }
                        Some(ErrorCode::NOT_LEADER_OR_FOLLOWER)
                    }
                    Some(p) if fp.current_leader_epoch >= 0 && fp.current_leader_epoch < p.leader_epoch => {
                        Some(ErrorCode::FENCED_LEADER_EPOCH)
                    }
                    Some(p) if fp.current_leader_epoch > p.leader_epoch => Some(ErrorCode::UNKNOWN_LEADER_EPOCH),
                    Some(p) => {
                        let Some(log) = p.leader_log() else { return (resp, total, true) };
                        let lso = p.last_stable_offset();
                        pd.high_watermark = p.high_watermark;
                        pd.last_stable_offset = lso;
                        pd.log_start_offset = log.log_start_offset();
                        // KIP-320: a fetcher whose last fetched epoch ended
                        // earlier on this leader has diverged; tell it where.
                        let diverged = (fp.last_fetched_epoch >= 0 && version >= 12)
                            .then(|| log.end_offset_for_epoch(fp.last_fetched_epoch))
                            .filter(|&(epoch, end)| epoch < fp.last_fetched_epoch || end < fp.fetch_offset);
                        if let Some((epoch, end_offset)) = diverged {
                            pd.diverging_epoch = EpochEndOffset { epoch, end_offset, ..Default::default() };
                            None
                        } else {
                            let budget =
                                (fp.partition_max_bytes.max(0) as usize).min(response_max.saturating_sub(total));
                            let max_offset = if read_committed { lso } else { p.high_watermark };
                            match log.read(fp.fetch_offset, budget, max_offset, total == 0) {
                                Err(_) => Some(ErrorCode::OFFSET_OUT_OF_RANGE),
                                Ok(r) => {
                                    if read_committed && !r.records.is_empty() {
                                        // Kafka bounds the lookup by the
                                        // fetched range; the LSO bounds
                                        // it here (a few more entries,
                                        // which consumers ignore).
                                        pd.aborted_transactions = Some(
                                            p.txns
                                                .aborted_between(fp.fetch_offset, lso)
                                                .into_iter()
                                                .map(|(producer_id, first_offset)| AbortedTransaction {
                                                    producer_id,
                                                    first_offset,
                                                    ..Default::default()
                                                })
                                                .collect(),
                                        );
                                    }
                                    total += r.records.len();
                                    pd.records = Some(r.records);
                                    None
                                }
                            }
                        }
                    }
                },
            };
            if let Some(code) = code {
                has_error = true;
                pd.error_code = code.0;
                // As Kafka's error answer for a partition: no offsets; the
                // aborted-transaction list is empty (not null) when the
                // topic or partition is unknown, and null (read_uncommitted)
                // for errors found at the log, as Kafka 4.0 answers.
                pd.high_watermark = -1;
                pd.last_stable_offset = -1;
                pd.log_start_offset = -1;
                if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION || code == ErrorCode::UNKNOWN_TOPIC_ID {
                    pd.aborted_transactions = Some(Vec::new());
                }
            }
            tr.partitions.push(pd);
        }
        resp.responses.push(tr);
    }
    if not_leader && version >= 16 {
        resp.node_endpoints = core
            .brokers
            .values()
            .filter(|b| b.online)
            .map(|b| NodeEndpoint {
                node_id: b.id,
                host: b.host.clone(),
                port: i32::from(b.port),
                rack: b.rack.clone(),
                ..Default::default()
            })
            .collect();
    }
    (resp, total, has_error)
}
