//! Produce: validate each partition's batch, append it on the leader, and
//! answer by acks — at once for acks=1, after the ISR has the records for
//! acks=all (parked until the high watermark passes them), never for acks=0
//! (where any failure closes the connection instead, as in Kafka).
//!
//! A transactional batch is written only inside its producer's transaction:
//! either the partition already holds the producer's open transaction, or
//! the transaction coordinator confirms that the partition was added to it
//! (Kafka 3.6+'s verification, KIP-890 part 1) — or, from Produce v12 on a
//! cluster at transaction version 2, adds it (part 2). Otherwise the batch
//! is refused with TRANSACTION_ABORTABLE (INVALID_TXN_STATE up to v10).

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseBody};
use kafka_protocol::records::BatchHeader;

use super::{Handled, leader_hint};
use crate::cluster::{Core, Outcome, PendingProduce, ProduceWait, ReplyId, RequestCtx, validate};

/// The first Produce version that names topics by id.
const FIRST_BY_ID: i16 = 13;

/// The first Produce version of transaction version 2 (KIP-890): its
/// partitions join the transaction implicitly.
const FIRST_TV2: i16 = 12;

/// The header of `records` when it is a transactional data batch.
fn transactional_header(records: Option<&bytes::Bytes>) -> Option<BatchHeader> {
    let h = BatchHeader::parse(records?).ok()?;
    (h.is_transactional() && !h.is_control() && h.producer_id >= 0).then_some(h)
}

/// The last Produce version whose clients do not know
/// TRANSACTION_ABORTABLE (KIP-890): they are told INVALID_TXN_STATE.
const LAST_WITHOUT_ABORTABLE: i16 = 10;

/// Whether a transactional batch of `h` may be written to `topic`-`partition`
/// led by this broker: see the module docs. Errors as Kafka's produce path
/// reports the coordinator's: a fenced epoch as INVALID_PRODUCER_EPOCH, a
/// partition outside the transaction as TRANSACTION_ABORTABLE (before v11
/// INVALID_TXN_STATE), and a coordinator that cannot answer now (a
/// transaction still completing, no coordinator) as the retriable
/// NOT_ENOUGH_REPLICAS, which old clients retry without a metadata refresh.
fn check_transactional(
    core: &mut Core,
    ctx: &RequestCtx,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    h: &BatchHeader,
) -> Result<(), (ErrorCode, String)> {
    let Some(tid) = transactional_id else {
        return Err((
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "a transactional batch needs the request's transactional id".into(),
        ));
    };
    let Some(p) = core.topics.get(topic).and_then(|t| t.partition(partition)) else { return Ok(()) };
    // Not the leader: the append path answers NOT_LEADER_OR_FOLLOWER. An
    // open transaction of the producer here, under the same epoch, needs
    // no check (Kafka's `hasOngoingTransaction`): a newer epoch may belong
    // to a transaction whose markers are still being written.
    let ongoing = p.txns.is_open(h.producer_id) && p.producers.epoch_of(h.producer_id) == Some(h.producer_epoch);
    if p.leader != ctx.broker || ongoing {
        return Ok(());
    }
    let add = ctx.version >= FIRST_TV2 && core.transaction_version() >= 2;
    let tp = (topic.to_string(), partition);
    let verified = match core.txn_coordinator_for(tid, ctx.now_ms) {
        None => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        Some(_) => core.txns.verify_partition(tid, h.producer_id, h.producer_epoch, &tp, add, ctx.now_ms),
    };
    verified.map_err(|e| {
        let code = match e {
            ErrorCode::PRODUCER_FENCED => ErrorCode::INVALID_PRODUCER_EPOCH,
            ErrorCode::TRANSACTION_ABORTABLE if ctx.version <= LAST_WITHOUT_ABORTABLE => ErrorCode::INVALID_TXN_STATE,
            ErrorCode::CONCURRENT_TRANSACTIONS | ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                ErrorCode::NOT_ENOUGH_REPLICAS
            }
            e => e,
        };
        (
            code,
            format!("producer {} epoch {} may not write to {topic}-{partition} now", h.producer_id, h.producer_epoch),
        )
    })
}

/// Produce: validates, appends, and answers by acks.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: ProduceRequest) -> Handled {
    if ctx.version < 3 {
        // Kafka 4 lists Produce v0-v2 (KAFKA-18659) but refuses them.
        return Handled::Close;
    }
    let acks = req.acks;
    let mut resp = ProduceResponse::default();
    let mut waits = Vec::new();
    let mut failed = false;
    let mut not_leader = false;
    let brokers = core.brokers.clone();
    let online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
    let defaults = core.topic_defaults.clone();
    for td in req.topic_data {
        let mut tr = TopicProduceResponse { name: td.name.clone(), topic_id: td.topic_id, ..Default::default() };
        // From v13 topics are named by id only (KIP-516).
        let name = if ctx.version >= FIRST_BY_ID {
            core.topic_by_id(td.topic_id).map(|t| t.name.clone())
        } else {
            Some(td.name.clone())
        };
        let Some(name) = name else {
            failed = true;
            tr.partition_responses = td
                .partition_data
                .iter()
                .map(|pd| PartitionProduceResponse {
                    index: pd.index,
                    error_code: ErrorCode::UNKNOWN_TOPIC_ID.0,
                    base_offset: -1,
                    ..Default::default()
                })
                .collect();
            resp.responses.push(tr);
            continue;
        };
        for pd in td.partition_data {
            let mut pr = PartitionProduceResponse { index: pd.index, base_offset: -1, ..Default::default() };
            // Refused by the transaction check, before the log: Kafka then
            // reports no log start offset, whatever the error.
            let mut before_log = false;
            let code = if !matches!(acks, -1..=1) {
                Some((ErrorCode::INVALID_REQUIRED_ACKS, format!("acks={acks} is not -1, 0 or 1")))
            } else if let Some(h) = transactional_header(pd.records.as_ref()) {
                let refused =
                    check_transactional(core, ctx, req.transactional_id.as_deref(), &name, pd.index, &h).err();
                before_log = refused.is_some();
                refused
            } else {
                None
            };
            let result = match code {
                Some(e) => Err(e),
                None => match core.topics.get_mut(&name) {
                    None => Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, format!("unknown topic {}", name))),
                    Some(topic) => {
                        let cfg = topic.config(&defaults);
                        match topic.partition_mut(pd.index) {
                            None => Err((
                                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                                format!("unknown partition {}-{}", name, pd.index),
                            )),
                            Some(p) if p.leader != ctx.broker => {
                                not_leader = true;
                                Err((
                                    ErrorCode::NOT_LEADER_OR_FOLLOWER,
                                    format!("broker {} does not lead {}-{}", ctx.broker, name, pd.index),
                                ))
                            }
                            Some(p) => match validate::validate(pd.records.as_ref(), ctx.version, &cfg, ctx.now_ms) {
                                Err(inv) => {
                                    pr.record_errors = inv
                                        .record_errors
                                        .iter()
                                        .map(|(i, m)| BatchIndexAndErrorMessage {
                                            batch_index: *i,
                                            batch_index_error_message: Some(m.clone()),
                                            ..Default::default()
                                        })
                                        .collect();
                                    Err((inv.code, inv.message))
                                }
                                Ok(batch) => match p.append(batch, &cfg, acks, ctx.now_ms, &online) {
                                    Err(r) => Err((r.code, r.message)),
                                    Ok(a) => {
                                        pr.base_offset = a.base_offset;
                                        pr.log_append_time_ms = a.log_append_time;
                                        pr.log_start_offset = p.log_start_offset();
                                        // A duplicate is answered under the same rule as
                                        // a fresh append: only once the ISR has it. (The
                                        // original may have been acknowledged to nobody
                                        // and still sit above the high watermark; a new
                                        // leader without it would truncate it.)
                                        if acks == -1 && p.high_watermark <= a.last_offset {
                                            waits.push(ProduceWait {
                                                slot: (resp.responses.len(), tr.partition_responses.len()),
                                                topic: name.clone(),
                                                partition: pd.index,
                                                need: a.last_offset + 1,
                                                leader_epoch: p.leader_epoch,
                                            });
                                        }
                                        Ok(())
                                    }
                                },
                            },
                        }
                    }
                },
            };
            if let Err((code, msg)) = result {
                failed = true;
                pr.error_code = code.0;
                // Kafka explains only record-level rejections (INVALID_RECORD
                // with the bad records listed); other errors carry no message.
                pr.error_message = (!pr.record_errors.is_empty()).then_some(msg);
                // Errors from the producer-state check come from the log, and
                // Kafka then reports the log start offset; all others -1.
                pr.log_start_offset = match code {
                    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::INVALID_PRODUCER_EPOCH if !before_log => {
                        core.topics.get(&name).and_then(|t| t.partition(pd.index)).map_or(-1, |p| p.log_start_offset())
                    }
                    _ => -1,
                };
                if code == ErrorCode::NOT_LEADER_OR_FOLLOWER && ctx.version >= 10 {
                    let (leader_id, leader_epoch) = leader_hint(core, &name, pd.index);
                    pr.current_leader = LeaderIdAndEpoch { leader_id, leader_epoch, ..Default::default() };
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    if not_leader && ctx.version >= 10 {
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
    if acks == 0 {
        return if failed { Handled::Close } else { Handled::NoResponse };
    }
    if waits.is_empty() {
        return Handled::Now(ResponseBody::Produce(resp));
    }
    core.pending_produce.push(PendingProduce {
        reply: ctx.reply,
        broker: ctx.broker,
        deadline_ms: ctx.now_ms + i64::from(req.timeout_ms.max(0)),
        response: resp,
        waits,
    });
    Handled::Later
}

/// Completes a parked acks=all produce whose partitions all had their
/// records committed (with NOT_ENOUGH_REPLICAS_AFTER_APPEND where the ISR fell
/// below min.insync.replicas) or lost their leader; returns it otherwise.
// `Err` hands the still-waiting request back to its queue: it is not an
// error, and boxing it would allocate on every wake-up.
#[allow(clippy::result_large_err)]
pub(crate) fn try_complete(core: &Core, mut p: PendingProduce) -> Result<(ReplyId, Outcome), PendingProduce> {
    let defaults = &core.topic_defaults;
    p.waits.retain(|w| {
        let (ti, pi) = w.slot;
        let Some(t) = core.topics.get(&w.topic) else {
            set_error(&mut p.response, ti, pi, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            return false;
        };
        let Some(part) = t.partition(w.partition) else {
            set_error(&mut p.response, ti, pi, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            return false;
        };
        // Leadership moved, even if it came back: what sits at these
        // offsets now may be another producer's records.
        if part.leader != p.broker || part.leader_epoch != w.leader_epoch {
            set_error(&mut p.response, ti, pi, ErrorCode::NOT_LEADER_OR_FOLLOWER);
            return false;
        }
        // Kafka's `Partition.checkEnoughReplicasReachOffset`: wait until the
        // high watermark passes the records; then answer NONE, or
        // NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR that committed them is
        // below min.insync.replicas.
        if part.high_watermark < w.need {
            return true;
        }
        if part.isr.len() < t.config(defaults).min_insync_replicas {
            set_error(&mut p.response, ti, pi, ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        }
        false
    });
    if p.waits.is_empty() { Ok((p.reply, Outcome::Respond(ResponseBody::Produce(p.response)))) } else { Err(p) }
}

/// Answers a parked produce whose timeout passed: REQUEST_TIMED_OUT for the
/// partitions still waiting (their records stay written, as in Kafka).
pub(crate) fn time_out(mut p: PendingProduce) -> (ReplyId, Outcome) {
    for w in std::mem::take(&mut p.waits) {
        set_error(&mut p.response, w.slot.0, w.slot.1, ErrorCode::REQUEST_TIMED_OUT);
    }
    (p.reply, Outcome::Respond(ResponseBody::Produce(p.response)))
}

fn set_error(resp: &mut ProduceResponse, ti: usize, pi: usize, code: ErrorCode) {
    if let Some(pr) = resp.responses.get_mut(ti).and_then(|t| t.partition_responses.get_mut(pi)) {
        pr.error_code = code.0;
        pr.error_message = None;
    }
}
