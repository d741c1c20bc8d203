//! ListOffsets: earliest (-2), latest (-1, the high watermark; the last
//! stable offset for read_committed, isolation level 1), max
//! timestamp (-3, v7+), earliest local (-4, v8+: the log start, nothing is
//! tiered), latest tiered (-5, v9+: none), earliest pending upload (-6,
//! v11+: none), or the first offset whose
//! timestamp is at least the one given.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::list_offsets::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse, ResponseBody};

use crate::cluster::{Core, RequestCtx};

/// ListOffsets for every partition asked about.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: ListOffsetsRequest) -> ResponseBody {
    let mut resp = ListOffsetsResponse::default();
    for rt in req.topics {
        let mut tr = ListOffsetsTopicResponse { name: rt.name.clone(), ..Default::default() };
        for rp in rt.partitions {
            let mut pr = ListOffsetsPartitionResponse {
                partition_index: rp.partition_index,
                timestamp: -1,
                offset: -1,
                leader_epoch: -1,
                ..Default::default()
            };
            let part = core.topics.get(&rt.name).and_then(|t| t.partition(rp.partition_index));
            let code = match part {
                None => Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                Some(p) if p.leader != ctx.broker => Some(ErrorCode::NOT_LEADER_OR_FOLLOWER),
                Some(p) if rp.current_leader_epoch >= 0 && rp.current_leader_epoch < p.leader_epoch => {
                    Some(ErrorCode::FENCED_LEADER_EPOCH)
                }
                Some(p) if rp.current_leader_epoch > p.leader_epoch => Some(ErrorCode::UNKNOWN_LEADER_EPOCH),
                Some(p) => match p.leader_log() {
                    None => Some(ErrorCode::LEADER_NOT_AVAILABLE),
                    Some(log) => {
                        let epoch_at = |offset: i64| log.epoch_for_offset(offset).unwrap_or(-1);
                        // read_committed sees nothing past the last stable offset.
                        let limit = if req.isolation_level == 1 { p.last_stable_offset() } else { p.high_watermark };
                        match rp.timestamp {
                            -2 | -4 => {
                                pr.offset = log.log_start_offset();
                                pr.leader_epoch = epoch_at(pr.offset);
                            }
                            -1 => {
                                pr.offset = limit;
                                pr.leader_epoch = p.leader_epoch;
                            }
                            -3 if ctx.version >= 7 => {
                                if let Some(t) = log.max_timestamp_offset().ok().flatten().filter(|t| t.offset < limit)
                                {
                                    pr.offset = t.offset;
                                    pr.timestamp = t.timestamp;
                                    pr.leader_epoch = t.leader_epoch.unwrap_or(-1);
                                }
                            }
                            -5 if ctx.version >= 9 => {}
                            // Earliest pending upload (KIP-1023): nothing is
                            // tiered, so nothing is pending.
                            -6 if ctx.version >= 11 => {}
                            t if t >= 0 => {
                                if let Some(found) =
                                    log.offset_for_timestamp(t).ok().flatten().filter(|f| f.offset < limit)
                                {
                                    pr.offset = found.offset;
                                    pr.timestamp = found.timestamp;
                                    pr.leader_epoch = found.leader_epoch.unwrap_or(-1);
                                }
                            }
                            _ => {
                                pr.error_code = ErrorCode::UNSUPPORTED_VERSION.0;
                            }
                        }
                        None
                    }
                },
            };
            if let Some(code) = code {
                pr.error_code = code.0;
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    ResponseBody::ListOffsets(resp)
}
