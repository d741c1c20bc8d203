//! Responses in which every item carries one error code, for fault rules
//! that answer a request with an error without applying it; and setting
//! `throttle_time_ms` on any response.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::*;

/// The response to `req` with `code` on every item (topic, partition,
/// group, resource) and at the top level where the API has one.
pub fn error_response(req: &RequestBody, code: ErrorCode) -> ResponseBody {
    let e = code.0;
    let msg = || Some(code.message().to_string());
    match req {
        RequestBody::ApiVersions(_) => {
            ResponseBody::ApiVersions(ApiVersionsResponse { error_code: e, ..Default::default() })
        }
        RequestBody::Metadata(r) => ResponseBody::Metadata(MetadataResponse {
            topics: r
                .topics
                .iter()
                .flatten()
                .map(|t| metadata::MetadataResponseTopic {
                    error_code: e,
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    ..Default::default()
                })
                .collect(),
            error_code: e,
            ..Default::default()
        }),
        RequestBody::Produce(r) => ResponseBody::Produce(ProduceResponse {
            responses: r
                .topic_data
                .iter()
                .map(|t| produce::TopicProduceResponse {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partition_responses: t
                        .partition_data
                        .iter()
                        .map(|p| produce::PartitionProduceResponse {
                            index: p.index,
                            error_code: e,
                            base_offset: -1,
                            error_message: msg(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::Fetch(r) => ResponseBody::Fetch(FetchResponse {
            responses: r
                .topics
                .iter()
                .map(|t| fetch::FetchableTopicResponse {
                    topic: t.topic.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| fetch::PartitionData {
                            partition_index: p.partition,
                            error_code: e,
                            high_watermark: -1,
                            // Empty, not null: as Kafka sends them.
                            records: Some(bytes::Bytes::new()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::ListOffsets(r) => ResponseBody::ListOffsets(ListOffsetsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| list_offsets::ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| list_offsets::ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::OffsetForLeaderEpoch(r) => ResponseBody::OffsetForLeaderEpoch(OffsetForLeaderEpochResponse {
            topics: r
                .topics
                .iter()
                .map(|t| offset_for_leader_epoch::OffsetForLeaderTopicResult {
                    topic: t.topic.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| offset_for_leader_epoch::EpochEndOffset {
                            partition: p.partition,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::FindCoordinator(r) => ResponseBody::FindCoordinator(FindCoordinatorResponse {
            error_code: e,
            error_message: msg(),
            node_id: -1,
            port: -1,
            coordinators: r
                .coordinator_keys
                .iter()
                .map(|k| find_coordinator::Coordinator {
                    key: k.clone(),
                    node_id: -1,
                    port: -1,
                    error_code: e,
                    error_message: msg(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::JoinGroup(r) => ResponseBody::JoinGroup(JoinGroupResponse {
            error_code: e,
            generation_id: -1,
            member_id: r.member_id.clone(),
            ..Default::default()
        }),
        RequestBody::SyncGroup(_) => ResponseBody::SyncGroup(SyncGroupResponse { error_code: e, ..Default::default() }),
        RequestBody::Heartbeat(_) => ResponseBody::Heartbeat(HeartbeatResponse { error_code: e, ..Default::default() }),
        RequestBody::LeaveGroup(r) => ResponseBody::LeaveGroup(LeaveGroupResponse {
            error_code: e,
            members: r
                .members
                .iter()
                .map(|m| leave_group::MemberResponse {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    error_code: e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::OffsetCommit(r) => ResponseBody::OffsetCommit(OffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| offset_commit::OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| offset_commit::OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::OffsetFetch(r) => ResponseBody::OffsetFetch(OffsetFetchResponse {
            error_code: e,
            groups: r
                .groups
                .iter()
                .map(|g| offset_fetch::OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    error_code: e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::ListGroups(_) => {
            ResponseBody::ListGroups(ListGroupsResponse { error_code: e, ..Default::default() })
        }
        RequestBody::DescribeGroups(r) => ResponseBody::DescribeGroups(DescribeGroupsResponse {
            groups: r
                .groups
                .iter()
                .map(|g| describe_groups::DescribedGroup { group_id: g.clone(), error_code: e, ..Default::default() })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DeleteGroups(r) => ResponseBody::DeleteGroups(DeleteGroupsResponse {
            results: r
                .groups_names
                .iter()
                .map(|g| delete_groups::DeletableGroupResult {
                    group_id: g.clone(),
                    error_code: e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::OffsetDelete(_) => {
            ResponseBody::OffsetDelete(OffsetDeleteResponse { error_code: e, ..Default::default() })
        }
        RequestBody::CreateTopics(r) => ResponseBody::CreateTopics(CreateTopicsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| create_topics::CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: e,
                    error_message: msg(),
                    num_partitions: -1,
                    replication_factor: -1,
                    configs: None,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DeleteTopics(r) => ResponseBody::DeleteTopics(DeleteTopicsResponse {
            responses: r
                .topic_names
                .iter()
                .map(|n| delete_topics::DeletableTopicResult {
                    name: Some(n.clone()),
                    error_code: e,
                    ..Default::default()
                })
                .chain(r.topics.iter().map(|t| delete_topics::DeletableTopicResult {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    error_code: e,
                    ..Default::default()
                }))
                .collect(),
            ..Default::default()
        }),
        RequestBody::CreatePartitions(r) => ResponseBody::CreatePartitions(CreatePartitionsResponse {
            results: r
                .topics
                .iter()
                .map(|t| create_partitions::CreatePartitionsTopicResult {
                    name: t.name.clone(),
                    error_code: e,
                    error_message: msg(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DeleteRecords(r) => ResponseBody::DeleteRecords(DeleteRecordsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| delete_records::DeleteRecordsTopicResult {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| delete_records::DeleteRecordsPartitionResult {
                            partition_index: p.partition_index,
                            low_watermark: -1,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DescribeConfigs(r) => ResponseBody::DescribeConfigs(DescribeConfigsResponse {
            results: r
                .resources
                .iter()
                .map(|x| describe_configs::DescribeConfigsResult {
                    error_code: e,
                    error_message: msg(),
                    resource_type: x.resource_type,
                    resource_name: x.resource_name.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::AlterConfigs(r) => ResponseBody::AlterConfigs(AlterConfigsResponse {
            responses: r
                .resources
                .iter()
                .map(|x| alter_configs::AlterConfigsResourceResponse {
                    error_code: e,
                    error_message: msg(),
                    resource_type: x.resource_type,
                    resource_name: x.resource_name.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::IncrementalAlterConfigs(r) => {
            ResponseBody::IncrementalAlterConfigs(IncrementalAlterConfigsResponse {
                responses: r
                    .resources
                    .iter()
                    .map(|x| incremental_alter_configs::AlterConfigsResourceResponse {
                        error_code: e,
                        error_message: msg(),
                        resource_type: x.resource_type,
                        resource_name: x.resource_name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::DescribeCluster(_) => ResponseBody::DescribeCluster(DescribeClusterResponse {
            error_code: e,
            error_message: msg(),
            ..Default::default()
        }),
        RequestBody::InitProducerId(_) => ResponseBody::InitProducerId(InitProducerIdResponse {
            error_code: e,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        RequestBody::SaslHandshake(_) => {
            ResponseBody::SaslHandshake(SaslHandshakeResponse { error_code: e, ..Default::default() })
        }
        RequestBody::SaslAuthenticate(_) => ResponseBody::SaslAuthenticate(SaslAuthenticateResponse {
            error_code: e,
            error_message: msg(),
            ..Default::default()
        }),
        RequestBody::AddPartitionsToTxn(r) => {
            let topics = |ts: &[add_partitions_to_txn::AddPartitionsToTxnTopic]| {
                ts.iter()
                    .map(|t| add_partitions_to_txn::AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|&p| add_partitions_to_txn::AddPartitionsToTxnPartitionResult {
                                partition_index: p,
                                partition_error_code: e,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect()
            };
            ResponseBody::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                error_code: e,
                results_by_topic_v3_and_below: topics(&r.v3_and_below_topics),
                results_by_transaction: r
                    .transactions
                    .iter()
                    .map(|t| add_partitions_to_txn::AddPartitionsToTxnResult {
                        transactional_id: t.transactional_id.clone(),
                        topic_results: topics(&t.topics),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::AddOffsetsToTxn(_) => {
            ResponseBody::AddOffsetsToTxn(AddOffsetsToTxnResponse { error_code: e, ..Default::default() })
        }
        RequestBody::EndTxn(_) => ResponseBody::EndTxn(EndTxnResponse { error_code: e, ..Default::default() }),
        RequestBody::TxnOffsetCommit(r) => ResponseBody::TxnOffsetCommit(TxnOffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| txn_offset_commit::TxnOffsetCommitResponseTopic {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| txn_offset_commit::TxnOffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::WriteTxnMarkers(r) => {
            ResponseBody::WriteTxnMarkers(super::write_txn_markers::answer(r, |_, _, _| code))
        }
        RequestBody::DescribeProducers(r) => ResponseBody::DescribeProducers(DescribeProducersResponse {
            topics: r
                .topics
                .iter()
                .map(|t| describe_producers::DescribeProducersTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partition_indexes
                        .iter()
                        .map(|&p| describe_producers::DescribeProducersPartitionResponse {
                            partition_index: p,
                            error_code: e,
                            error_message: msg(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DescribeTransactions(r) => ResponseBody::DescribeTransactions(DescribeTransactionsResponse {
            transaction_states: r
                .transactional_ids
                .iter()
                .map(|id| describe_transactions::DescribedTransaction {
                    error_code: e,
                    transactional_id: id.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::ListTransactions(_) => {
            ResponseBody::ListTransactions(ListTransactionsResponse { error_code: e, ..Default::default() })
        }
    }
}

/// Sets `throttle_time_ms` on a response, where the API has the field.
pub fn set_throttle(resp: &mut ResponseBody, ms: i32) {
    use ResponseBody as R;
    match resp {
        R::ApiVersions(r) => r.throttle_time_ms = ms,
        R::Metadata(r) => r.throttle_time_ms = ms,
        R::Produce(r) => r.throttle_time_ms = ms,
        R::Fetch(r) => r.throttle_time_ms = ms,
        R::ListOffsets(r) => r.throttle_time_ms = ms,
        R::OffsetForLeaderEpoch(r) => r.throttle_time_ms = ms,
        R::FindCoordinator(r) => r.throttle_time_ms = ms,
        R::JoinGroup(r) => r.throttle_time_ms = ms,
        R::SyncGroup(r) => r.throttle_time_ms = ms,
        R::Heartbeat(r) => r.throttle_time_ms = ms,
        R::LeaveGroup(r) => r.throttle_time_ms = ms,
        R::OffsetCommit(r) => r.throttle_time_ms = ms,
        R::OffsetFetch(r) => r.throttle_time_ms = ms,
        R::ListGroups(r) => r.throttle_time_ms = ms,
        R::DescribeGroups(r) => r.throttle_time_ms = ms,
        R::DeleteGroups(r) => r.throttle_time_ms = ms,
        R::OffsetDelete(r) => r.throttle_time_ms = ms,
        R::CreateTopics(r) => r.throttle_time_ms = ms,
        R::DeleteTopics(r) => r.throttle_time_ms = ms,
        R::CreatePartitions(r) => r.throttle_time_ms = ms,
        R::DeleteRecords(r) => r.throttle_time_ms = ms,
        R::DescribeConfigs(r) => r.throttle_time_ms = ms,
        R::AlterConfigs(r) => r.throttle_time_ms = ms,
        R::IncrementalAlterConfigs(r) => r.throttle_time_ms = ms,
        R::DescribeCluster(r) => r.throttle_time_ms = ms,
        R::InitProducerId(r) => r.throttle_time_ms = ms,
        R::AddPartitionsToTxn(r) => r.throttle_time_ms = ms,
        R::AddOffsetsToTxn(r) => r.throttle_time_ms = ms,
        R::EndTxn(r) => r.throttle_time_ms = ms,
        R::TxnOffsetCommit(r) => r.throttle_time_ms = ms,
        R::DescribeProducers(r) => r.throttle_time_ms = ms,
        R::DescribeTransactions(r) => r.throttle_time_ms = ms,
        R::ListTransactions(r) => r.throttle_time_ms = ms,
        R::SaslHandshake(_) | R::SaslAuthenticate(_) | R::WriteTxnMarkers(_) => {}
    }
}
