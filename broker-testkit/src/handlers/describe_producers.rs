//! DescribeProducers (KIP-664): the producer state a replica holds for a
//! partition, as Kafka's `UnifiedLog.activeProducers` reports it.
//!
//! Any replica answers, not only the leader (Kafka's admin client may ask
//! a chosen broker): the leader from its live state, a follower from the
//! state its log rebuilds to, as a Kafka follower keeps it while
//! replicating. A broker without a replica says NOT_LEADER_OR_FOLLOWER, and
//! a partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION (with
//! Kafka's message when the whole topic is unknown).

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_producers::{
    DescribeProducersPartitionResponse, DescribeProducersTopicResponse, ProducerState,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ResponseBody};

use crate::cluster::partition::Partition;
use crate::cluster::partition_txns::PartitionTxns;
use crate::cluster::producer_state::ProducerStates;
use crate::cluster::{Core, RequestCtx};

/// The producers of `p` as replica `broker` knows them, or the error.
fn producers_of(p: &Partition, broker: i32) -> Result<Vec<ProducerState>, ErrorCode> {
    let rebuilt;
    let (producers, txns) = if p.leader == broker {
        (&p.producers, &p.txns)
    } else {
        let Some(replica) = p.logs.get(&broker) else { return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER) };
        let log = &replica.log;
        rebuilt = (
            ProducerStates::rebuild_from_log(log.batches_from(log.log_start_offset())),
            PartitionTxns::rebuild(log.batches_from(log.log_start_offset())),
        );
        (&rebuilt.0, &rebuilt.1)
    };
    Ok(producers
        .describe()
        .into_iter()
        .map(|v| ProducerState {
            producer_id: v.producer_id,
            producer_epoch: i32::from(v.epoch),
            last_sequence: v.last_sequence,
            last_timestamp: v.last_timestamp,
            coordinator_epoch: v.coordinator_epoch,
            current_txn_start_offset: txns.open().get(&v.producer_id).copied().unwrap_or(-1),
            ..Default::default()
        })
        .collect())
}

/// DescribeProducers: each partition asked for.
pub fn handle(core: &Core, ctx: &RequestCtx, req: DescribeProducersRequest) -> ResponseBody {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = core.topics.get(&t.name);
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let mut r = DescribeProducersPartitionResponse { partition_index: index, ..Default::default() };
                    let answer = match topic {
                        // Kafka's request handler refuses an unknown topic
                        // with the error's message; an unknown partition of
                        // a known one reaches the replica manager, which
                        // gives none.
                        None => {
                            r.error_message = Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.message().to_string());
                            Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                        }
                        Some(t) => match t.partition(index) {
                            None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                            Some(p) => producers_of(p, ctx.broker),
                        },
                    };
                    match answer {
                        Ok(active) => r.active_producers = active,
                        Err(code) => r.error_code = code.0,
                    }
                    r
                })
                .collect();
            DescribeProducersTopicResponse { name: t.name, partitions, ..Default::default() }
        })
        .collect();
    ResponseBody::DescribeProducers(DescribeProducersResponse { topics, ..Default::default() })
}
