//! One attempt of each request the transaction manager asks for, run as a
//! future of the producer's engine. It reads no producer state: what it
//! needs comes in the [`TxnRequest`], and what it learned goes back in the
//! [`TxnOutcome`] for the manager to judge (retry, look the coordinator up
//! again, abort, fail).

use std::sync::Arc;

use kafka_protocol::messages::add_partitions_to_txn::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit::{TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest, TxnOffsetCommitRequest,
};
use kafka_protocol::{ApiKey, ErrorCode};

use super::{TxnAnswer, TxnOutcome, TxnRequest};
use crate::TopicPartition;
use crate::error::{Error, Result};
use crate::net::coordinator::{CoordinatorKind, find_coordinator};
use crate::net::{Connection, NetworkClient};

/// The last versions before transactions v2 (KIP-890): a v1 client must
/// not send above them, or the broker takes it for a v2 client.
pub(crate) const LAST_PRODUCE_BEFORE_TV2: i16 = 11;
const LAST_END_TXN_BEFORE_TV2: i16 = 4;
const LAST_TXN_OFFSET_COMMIT_BEFORE_TV2: i16 = 4;
/// The first InitProducerId that takes the current id and epoch (KIP-360).
const FIRST_INIT_PRODUCER_ID_BUMP: i16 = 3;

/// What every transactional request needs.
#[derive(Debug)]
pub(crate) struct TxnIo {
    pub net: Arc<NetworkClient>,
    pub transactional_id: String,
    pub transaction_timeout_ms: i32,
}

/// Runs one attempt of `req` against `coordinator` (looked up first when
/// None).
pub(crate) async fn perform(io: Arc<TxnIo>, req: TxnRequest, coordinator: Option<i32>) -> TxnOutcome {
    let mut used = coordinator;
    let result = async {
        let conn = connect(&io, &req, &mut used).await?;
        send(&io, &req, &conn).await
    }
    .await;
    TxnOutcome { coordinator: used, result }
}

/// A connection to the coordinator `req` goes to.
async fn connect(io: &TxnIo, req: &TxnRequest, used: &mut Option<i32>) -> Result<Connection> {
    if let Some(id) = *used {
        return io.net.connection(id).await;
    }
    let (kind, key) = match req {
        TxnRequest::CommitOffsets { group, .. } => (CoordinatorKind::Group, group.group_id.as_str()),
        _ => (CoordinatorKind::Transaction, io.transactional_id.as_str()),
    };
    let any = io.net.any_connection().await?;
    let found = find_coordinator(&any, kind, key).await?;
    let id = found.id;
    io.net.metadata().add_broker(found);
    *used = Some(id);
    io.net.connection(id).await
}

/// Whether transactions v2 are on offer: the coordinator speaks EndTxn v5
/// and the newest view of the cluster's features has `transaction.version`
/// 2 or more (Java's rule).
fn tv2_offered(io: &TxnIo, conn: &Connection) -> bool {
    let end_txn_v5 = conn.version_for(ApiKey::EndTxn).is_ok_and(|v| v > LAST_END_TXN_BEFORE_TV2);
    end_txn_v5 && io.net.finalized_feature("transaction.version").is_some_and(|l| l >= 2)
}

fn refused(code: i16, api: ApiKey, conn: &Connection, io: &TxnIo) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Error::broker(ErrorCode(code), api, conn.broker(), format!("transactional id {}", io.transactional_id), None))
}

async fn send(io: &TxnIo, req: &TxnRequest, conn: &Connection) -> Result<TxnAnswer> {
    let txn_id = io.transactional_id.clone();
    match req {
        TxnRequest::InitProducerId { producer_id, epoch } => {
            let version = conn.version_for(ApiKey::InitProducerId)?;
            let r = InitProducerIdRequest {
                transactional_id: Some(txn_id),
                transaction_timeout_ms: io.transaction_timeout_ms,
                producer_id: *producer_id,
                producer_epoch: *epoch,
                ..Default::default()
            };
            let resp = conn.request_at(&r, version).await?;
            refused(resp.error_code, ApiKey::InitProducerId, conn, io)?;
            Ok(TxnAnswer::ProducerId {
                producer_id: resp.producer_id,
                epoch: resp.producer_epoch,
                tv2: tv2_offered(io, conn),
                supports_bump: version >= FIRST_INIT_PRODUCER_ID_BUMP,
            })
        }
        TxnRequest::AddPartitions { producer_id, epoch, partitions } => {
            let version = conn.version_for(ApiKey::AddPartitionsToTxn)?;
            let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
            for tp in partitions {
                match topics.iter_mut().find(|t| *t.name == *tp.topic) {
                    Some(t) => t.partitions.push(tp.partition),
                    None => topics.push(AddPartitionsToTxnTopic {
                        name: tp.topic.to_string(),
                        partitions: vec![tp.partition],
                        ..Default::default()
                    }),
                }
            }
            let r = AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: txn_id,
                v3_and_below_producer_id: *producer_id,
                v3_and_below_producer_epoch: *epoch,
                v3_and_below_topics: topics,
                ..Default::default()
            };
            let resp = conn.request_at(&r, version).await?;
            let mut out = Vec::with_capacity(partitions.len());
            for tp in partitions {
                let code = resp
                    .results_by_topic_v3_and_below
                    .iter()
                    .filter(|t| *t.name == *tp.topic)
                    .flat_map(|t| t.results_by_partition.iter())
                    .find(|p| p.partition_index == tp.partition)
                    .map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |p| ErrorCode(p.partition_error_code));
                out.push((tp.clone(), code));
            }
            Ok(TxnAnswer::PartitionsAdded(out))
        }
        TxnRequest::AddOffsets { producer_id, epoch, group_id } => {
            let r = AddOffsetsToTxnRequest {
                transactional_id: txn_id,
                producer_id: *producer_id,
                producer_epoch: *epoch,
                group_id: group_id.clone(),
                ..Default::default()
            };
            let resp = conn.request(&r).await?;
            refused(resp.error_code, ApiKey::AddOffsetsToTxn, conn, io)?;
            Ok(TxnAnswer::OffsetsAdded)
        }
        TxnRequest::CommitOffsets { producer_id, epoch, tv2, group, offsets } => {
            let mut version = conn.version_for(ApiKey::TxnOffsetCommit)?;
            if !tv2 {
                version = version.min(LAST_TXN_OFFSET_COMMIT_BEFORE_TV2);
            }
            let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
            for (tp, o) in offsets {
                let p = TxnOffsetCommitRequestPartition {
                    partition_index: tp.partition,
                    committed_offset: o.offset,
                    committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
                    committed_metadata: Some(o.metadata.clone()),
                    ..Default::default()
                };
                match topics.iter_mut().find(|t| *t.name == *tp.topic) {
                    Some(t) => t.partitions.push(p),
                    None => topics.push(TxnOffsetCommitRequestTopic {
                        name: tp.topic.to_string(),
                        partitions: vec![p],
                        ..Default::default()
                    }),
                }
            }
            let r = TxnOffsetCommitRequest {
                transactional_id: txn_id,
                group_id: group.group_id.clone(),
                producer_id: *producer_id,
                producer_epoch: *epoch,
                generation_id: group.generation_id,
                member_id: group.member_id.clone(),
                group_instance_id: group.group_instance_id.clone(),
                topics,
                ..Default::default()
            };
            let resp = conn.request_at(&r, version).await?;
            let answered = |tp: &TopicPartition| {
                resp.topics
                    .iter()
                    .filter(|t| *t.name == *tp.topic)
                    .flat_map(|t| t.partitions.iter())
                    .find(|p| p.partition_index == tp.partition)
                    .map_or(ErrorCode::UNKNOWN_SERVER_ERROR, |p| ErrorCode(p.error_code))
            };
            Ok(TxnAnswer::OffsetsCommitted(offsets.iter().map(|(tp, _)| (tp.clone(), answered(tp))).collect()))
        }
        TxnRequest::EndTxn { producer_id, epoch, tv2, commit } => {
            let mut version = conn.version_for(ApiKey::EndTxn)?;
            if !tv2 {
                version = version.min(LAST_END_TXN_BEFORE_TV2);
            }
            let r = EndTxnRequest {
                transactional_id: txn_id,
                producer_id: *producer_id,
                producer_epoch: *epoch,
                committed: *commit,
                ..Default::default()
            };
            let resp = conn.request_at(&r, version).await?;
            refused(resp.error_code, ApiKey::EndTxn, conn, io)?;
            let (producer_id, epoch) =
                if version > LAST_END_TXN_BEFORE_TV2 { (resp.producer_id, resp.producer_epoch) } else { (-1, -1) };
            Ok(TxnAnswer::Ended { producer_id, epoch, tv2_offered: tv2_offered(io, conn) })
        }
    }
}
