//! OffsetForLeaderEpoch: the end offset of a leader epoch on the leader —
//! the start of the next higher epoch, or the log end for the latest — so a
//! client can tell whether its position survived a leader change (KIP-320).

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_for_leader_epoch::{EpochEndOffset, OffsetForLeaderTopicResult};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, ResponseBody};

use crate::cluster::{Core, RequestCtx};

/// OffsetForLeaderEpoch for every partition asked about.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: OffsetForLeaderEpochRequest) -> ResponseBody {
    let mut resp = OffsetForLeaderEpochResponse::default();
    for rt in req.topics {
        let mut tr = OffsetForLeaderTopicResult { topic: rt.topic.clone(), ..Default::default() };
        for rp in rt.partitions {
            let mut pr =
                EpochEndOffset { partition: rp.partition, leader_epoch: -1, end_offset: -1, ..Default::default() };
            let part = core.topics.get(&rt.topic).and_then(|t| t.partition(rp.partition));
            pr.error_code = match part {
                None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                Some(p) if p.leader != ctx.broker => ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                Some(p) if rp.current_leader_epoch >= 0 && rp.current_leader_epoch < p.leader_epoch => {
                    ErrorCode::FENCED_LEADER_EPOCH.0
                }
                Some(p) if rp.current_leader_epoch > p.leader_epoch => ErrorCode::UNKNOWN_LEADER_EPOCH.0,
                Some(p) => match p.leader_log() {
                    None => ErrorCode::LEADER_NOT_AVAILABLE.0,
                    Some(log) => {
                        let (epoch, end) = log.end_offset_for_epoch(rp.leader_epoch);
                        pr.leader_epoch = epoch;
                        pr.end_offset = end;
                        0
                    }
                },
            };
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    ResponseBody::OffsetForLeaderEpoch(resp)
}
