//! One module per API: each turns a request into a response against the
//! [`Core`], or parks it. [`dispatch`] routes by API; [`errors`] builds the
//! "every item failed with this code" response that fault rules inject.

pub mod admin;
pub mod api_versions;
pub mod configs;
pub mod describe_producers;
pub mod errors;
pub mod fetch;
pub mod find_coordinator;
pub mod groups;
pub mod init_producer_id;
pub mod list_offsets;
pub mod metadata;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod txn;
pub mod txn_admin;
pub mod write_txn_markers;

use kafka_protocol::messages::{RequestBody, ResponseBody};

use crate::cluster::{Core, Outcome, ReplyId, RequestCtx};

/// What a handler decided.
#[derive(Debug)]
pub enum Handled {
    /// Answer now.
    Now(ResponseBody),
    /// Parked: the answer comes from a later call.
    Later,
    /// Answer nothing (acks=0).
    NoResponse,
    /// Close the connection.
    Close,
    /// Answers for this and possibly other parked requests (group APIs).
    Replies(Vec<(ReplyId, Outcome)>),
}

/// Routes a request to its handler. APIs the testkit does not serve never
/// get here: the connection closes on them, as Kafka does for unknown APIs.
pub fn dispatch(core: &mut Core, ctx: &RequestCtx, body: RequestBody) -> Handled {
    use RequestBody as R;
    match body {
        R::ApiVersions(r) => Handled::Now(api_versions::handle(ctx, &core.cluster_id, core.transaction_version(), &r)),
        R::Metadata(r) => Handled::Now(metadata::handle(core, ctx, r)),
        R::Produce(r) => produce::handle(core, ctx, r),
        R::Fetch(r) => fetch::handle(core, ctx, r),
        R::ListOffsets(r) => Handled::Now(list_offsets::handle(core, ctx, r)),
        R::OffsetForLeaderEpoch(r) => Handled::Now(offset_for_leader_epoch::handle(core, ctx, r)),
        R::FindCoordinator(r) => Handled::Now(find_coordinator::handle(core, ctx, r)),
        R::InitProducerId(r) => Handled::Now(init_producer_id::handle(core, ctx, r)),
        R::JoinGroup(_)
        | R::SyncGroup(_)
        | R::Heartbeat(_)
        | R::LeaveGroup(_)
        | R::OffsetCommit(_)
        | R::OffsetFetch(_)
        | R::ListGroups(_)
        | R::DescribeGroups(_)
        | R::DeleteGroups(_)
        | R::OffsetDelete(_) => groups::handle(core, ctx, body),
        R::CreateTopics(r) => Handled::Now(admin::create_topics(core, ctx, r)),
        R::DeleteTopics(r) => Handled::Now(admin::delete_topics(core, ctx, r)),
        R::CreatePartitions(r) => Handled::Now(admin::create_partitions(core, ctx, r)),
        R::DeleteRecords(r) => Handled::Now(admin::delete_records(core, ctx, r)),
        R::DescribeCluster(r) => Handled::Now(admin::describe_cluster(core, ctx, r)),
        R::DescribeConfigs(r) => Handled::Now(configs::describe(core, ctx, r)),
        R::AlterConfigs(r) => Handled::Now(configs::alter(core, ctx, r)),
        R::IncrementalAlterConfigs(r) => Handled::Now(configs::incremental_alter(core, ctx, r)),
        R::AddPartitionsToTxn(r) => Handled::Now(txn::add_partitions(core, ctx, r)),
        R::AddOffsetsToTxn(r) => Handled::Now(txn::add_offsets(core, ctx, r)),
        R::EndTxn(r) => Handled::Now(txn::end(core, ctx, r)),
        R::TxnOffsetCommit(r) => Handled::Now(txn::txn_offset_commit(core, ctx, r)),
        R::WriteTxnMarkers(r) => Handled::Now(write_txn_markers::handle(core, ctx, r)),
        R::DescribeProducers(r) => Handled::Now(describe_producers::handle(core, ctx, r)),
        R::DescribeTransactions(r) => Handled::Now(txn_admin::describe(core, ctx, r)),
        R::ListTransactions(r) => Handled::Now(txn_admin::list(core, ctx, r)),
        R::SaslHandshake(_) | R::SaslAuthenticate(_) => Handled::Close,
    }
}

/// The partition leader's id and epoch, and the endpoint of every broker, as
/// KIP-951 attaches them to NOT_LEADER_OR_FOLLOWER errors so clients can
/// skip a metadata refresh.
pub(crate) fn leader_hint(core: &Core, topic: &str, partition: i32) -> (i32, i32) {
    core.topics.get(topic).and_then(|t| t.partition(partition)).map_or((-1, -1), |p| (p.leader, p.leader_epoch))
}
