//! Admin APIs: topic creation errors, deletion, partitions, configs,
//! cluster description, DeleteRecords.

use kafka_protocol::messages::create_partitions::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records::{DeleteRecordsPartition, DeleteRecordsTopic};
use kafka_protocol::messages::delete_topics::DeleteTopicState;
use kafka_protocol::messages::describe_configs::DescribeConfigsResource;
use kafka_protocol::messages::*;

use super::common::{batch, create, produce};
use crate::harness::Session;

fn creatable(name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        configs: configs
            .iter()
            .map(|(k, v)| CreatableTopicConfig { name: (*k).into(), value: Some((*v).into()), ..Default::default() })
            .collect(),
        ..Default::default()
    }
}

fn create_req(topics: Vec<CreatableTopic>, validate_only: bool) -> CreateTopicsRequest {
    CreateTopicsRequest { topics, timeout_ms: 30_000, validate_only, ..Default::default() }
}

pub async fn topics_configs_records(s: &mut Session) {
    s.call("CreateTopics v7 validate only", 7, &create_req(vec![creatable("ad-v", 2, 1, &[])], true)).await;
    s.call("CreateTopics v7", 7, &create_req(vec![creatable("ad-a", 2, 1, &[("retention.ms", "3600000")])], false))
        .await;
    s.call("CreateTopics v7 an existing topic", 7, &create_req(vec![creatable("ad-a", 2, 1, &[])], false)).await;
    s.call(
        "CreateTopics v7 replication factor above the brokers",
        7,
        &create_req(vec![creatable("ad-rf", 1, 3, &[])], false),
    )
    .await;
    s.call(
        "CreateTopics v7 an unknown config",
        7,
        &create_req(vec![creatable("ad-cfg", 1, 1, &[("no.such.config", "1")])], false),
    )
    .await;
    s.call("CreateTopics v7 an invalid name", 7, &create_req(vec![creatable("bad/name", 1, 1, &[])], false)).await;
    s.call("CreateTopics v7 zero partitions", 7, &create_req(vec![creatable("ad-zero", 0, 1, &[])], false)).await;
    s.call("CreateTopics v4 defaults (-1, -1)", 4, &create_req(vec![creatable("ad-def", -1, -1, &[])], false)).await;
    super::common::ready(s, "ad-a", 2).await;

    let partitions = |name: &str, count: i32| CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic { name: name.into(), count, assignments: None, ..Default::default() }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    s.call("CreatePartitions v3 fewer partitions", 3, &partitions("ad-a", 1)).await;
    s.call("CreatePartitions v3 the same count", 3, &partitions("ad-a", 2)).await;
    s.call("CreatePartitions v3 an unknown topic", 3, &partitions("ad-nowhere", 4)).await;
    s.call("CreatePartitions v3 more partitions", 3, &partitions("ad-a", 3)).await;
    super::common::ready(s, "ad-a", 3).await;

    let describe = |name: &str, keys: &[&str]| DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource {
            resource_type: 2,
            resource_name: name.into(),
            configuration_keys: Some(keys.iter().map(|k| (*k).to_string()).collect()),
            ..Default::default()
        }],
        ..Default::default()
    };
    s.call(
        "DescribeConfigs v4 chosen keys of a topic",
        4,
        &describe(
            "ad-a",
            &["retention.ms", "cleanup.policy", "max.message.bytes", "min.insync.replicas", "segment.bytes"],
        ),
    )
    .await;
    s.call("DescribeConfigs v4 an unknown topic", 4, &describe("ad-nowhere", &["retention.ms"])).await;
    let describe_broker = |name: &str, keys: &[&str]| {
        let mut r = describe(name, keys);
        r.resources[0].resource_type = 4;
        r
    };
    s.call(
        "DescribeConfigs v4 chosen keys of broker 1",
        4,
        &describe_broker(
            "1",
            &[
                "log.retention.hours",
                "message.max.bytes",
                "log.segment.bytes",
                "compression.type",
                "log.cleanup.policy",
            ],
        ),
    )
    .await;
    s.call("DescribeConfigs v4 a broker that does not exist", 4, &describe_broker("99", &["message.max.bytes"])).await;

    create(s, "ad-rec", 1, &[]).await;
    s.quiet(11, &produce(1, "ad-rec", 0, batch("r", 10, None))).await;
    let delete_records = |offset: i64| DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: "ad-rec".into(),
            partitions: vec![DeleteRecordsPartition { partition_index: 0, offset, ..Default::default() }],
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    };
    s.call("DeleteRecords v2 before offset 4", 2, &delete_records(4)).await;
    s.call("DeleteRecords v2 past the end", 2, &delete_records(50)).await;
    s.call("DeleteRecords v2 up to the end (-1)", 2, &delete_records(-1)).await;

    let delete = |names: &[&str]| DeleteTopicsRequest {
        topics: names.iter().map(|n| DeleteTopicState { name: Some((*n).into()), ..Default::default() }).collect(),
        timeout_ms: 30_000,
        ..Default::default()
    };
    s.call("DeleteTopics v6 a topic and an unknown one", 6, &delete(&["ad-a", "ad-nowhere"])).await;
    s.call("DescribeCluster v1", 1, &DescribeClusterRequest::default()).await;
}
