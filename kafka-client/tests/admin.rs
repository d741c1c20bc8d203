//! The admin client against a 3-broker broker-testkit cluster: every call,
//! with per-item errors next to successes, checked against what the
//! testkit holds (partition state, committed offsets, group members) and
//! against where requests went (request counts per broker).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use broker_testkit::{Cluster, TopicSpec};
use kafka_client::admin::{
    Admin, AlterConfigOp, AlterConfigsOptions, ConfigResource, ConfigSource, CreatePartitionsOptions,
    CreateTopicsOptions, DescribeConfigsOptions, GroupState, ListGroupsOptions, ListOffsetsOptions, NewPartitions,
    NewTopic, OffsetSpec,
};
use kafka_client::consumer::{Consumer, OffsetAndMetadata, OffsetReset};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, TopicPartition};
use kafka_protocol::{ApiKey, ErrorCode};

mod common;
use common::{clock, in_memory};

const WAIT: Duration = Duration::from_secs(20);

async fn three_brokers() -> Cluster {
    // RUST_LOG=kafka_client=debug shows what the client does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Cluster::builder().brokers(3).offsets_topic_partitions(3).start().await.unwrap()
}

fn admin(cluster: &Cluster) -> Admin {
    Admin::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .request_timeout(Duration::from_secs(5))
        .default_api_timeout(Duration::from_secs(10))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .clock(clock())
        .connector(in_memory(cluster))
        .build()
        .unwrap()
}

fn code<T: std::fmt::Debug>(r: &Result<T, Error>) -> Option<ErrorCode> {
    match r {
        Ok(_) => None,
        Err(e) => Some(e.code().unwrap_or_else(|| panic!("not a broker error: {e}"))),
    }
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// Kafka's `Utils.abs(groupId.hashCode()) % partitions`: the
/// `__consumer_offsets` partition whose leader coordinates the group.
fn offsets_partition(group: &str, partitions: i32) -> i32 {
    let h = group.encode_utf16().fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    (if h == i32::MIN { 0 } else { h.abs() }) % partitions
}

async fn produce(cluster: &Cluster, records: impl IntoIterator<Item = ProducerRecord>) {
    let p = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .linger(Duration::from_millis(1))
        .clock(clock())
        .connector(in_memory(cluster))
        .build()
        .unwrap();
    let mut futs = Vec::new();
    for r in records {
        futs.push(p.send(r).await.unwrap());
    }
    for f in futs {
        f.await.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
}

fn consumer(cluster: &Cluster, group: &str, client_id: &str) -> Consumer {
    Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .client_id(client_id)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .session_timeout(Duration::from_millis(1500))
        .heartbeat_interval(Duration::from_millis(100))
        .max_poll_interval(Duration::from_secs(20))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .clock(clock())
        .connector(in_memory(cluster))
        .build()
        .unwrap()
}

#[test]
fn properties_are_checked() {
    let refused = |k: &str, v: &str| {
        Admin::from_properties([("bootstrap.servers", "h:9092"), (k, v)]).config().map(|_| ()).unwrap_err().field
    };
    assert_eq!(refused("acks", "all"), "acks");
    assert_eq!(refused("security.protocol", "SASL_SSL"), "security.protocol");
    assert_eq!(refused("sasl.jaas.config", "x"), "sasl.jaas.config");
    assert_eq!(refused("ssl.truststore.location", "/t"), "ssl.truststore.location");
    assert_eq!(refused("retry.backoff.ms", "soon"), "retry.backoff.ms");
    let cfg = Admin::from_properties([
        ("bootstrap.servers", "a:1,b:2"),
        ("client.id", "ops"),
        ("request.timeout.ms", "2000"),
        ("default.api.timeout.ms", "3000"),
        ("retry.backoff.ms", "10"),
        ("retry.backoff.max.ms", "20"),
        ("reconnect.backoff.ms", "5"),
        ("reconnect.backoff.max.ms", "50"),
        ("socket.connection.setup.timeout.ms", "700"),
        ("metadata.max.age.ms", "1000"),
        ("security.protocol", "PLAINTEXT"),
    ])
    .config()
    .unwrap();
    assert_eq!(cfg.bootstrap_servers(), ["a:1", "b:2"]);
    assert_eq!(cfg.default_api_timeout(), Duration::from_secs(3));
    assert_eq!(cfg.connect_timeout(), Duration::from_millis(700));
}

#[tokio::test(start_paused = true)]
async fn topics_are_created_described_grown_and_deleted_per_topic() {
    let cluster = three_brokers().await;
    let admin = admin(&cluster);
    cluster.create_topic("existing", 1, 1).await.unwrap();

    let created = admin
        .create_topics(
            [
                NewTopic::new("fresh", 3, 2).config("retention.ms", "60000"),
                NewTopic::new("existing", 1, 1),
                NewTopic::new("too-replicated", 1, 5),
                NewTopic::new("bad-config", 1, 1).config("retention.ms", "soon"),
                NewTopic::with_assignment("placed", [(0, vec![3, 1]), (1, vec![2, 3])]),
            ],
            CreateTopicsOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 5);
    let fresh = created["fresh"].as_ref().unwrap();
    assert_eq!((fresh.partitions, fresh.replication_factor), (Some(3), Some(2)));
    assert!(fresh.topic_id.is_some());
    let retention = fresh.configs.iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!((retention.value.as_deref(), retention.source), (Some("60000"), ConfigSource::DynamicTopic));
    assert_eq!(code(&created["existing"]), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
    assert_eq!(code(&created["too-replicated"]), Some(ErrorCode::INVALID_REPLICATION_FACTOR));
    assert_eq!(code(&created["bad-config"]), Some(ErrorCode::INVALID_CONFIG));
    assert!(created["placed"].is_ok());
    // Creation goes to the controller (the testkit names broker 1).
    let controller = admin.describe_cluster().await.unwrap().controller.unwrap().id;
    let stats = cluster.request_stats();
    assert_eq!(stats.count(Some(controller), ApiKey::CreateTopics), stats.count(None, ApiKey::CreateTopics));

    // Validating creates nothing.
    let dry = admin.create_topics([NewTopic::new("dry", 2, 3)], CreateTopicsOptions::new().validate_only(true)).await;
    let dry = dry.unwrap().remove("dry").unwrap().unwrap();
    // Kafka 4.0 names a topic id even for a validate-only creation (seen
    // against a real broker); nothing exists under it.
    assert_eq!(dry.partitions, Some(2));
    assert!(dry.topic_id.is_some());
    assert!(cluster.partition_state("dry", 0).await.is_err());

    // Asking about a group creates __consumer_offsets, an internal topic.
    let probe = admin.describe_consumer_groups(["probe"]).await.unwrap();
    assert_eq!(code(&probe["probe"]), Some(ErrorCode::GROUP_ID_NOT_FOUND));
    let listed = admin.list_topics(false).await.unwrap();
    assert_eq!(listed.keys().cloned().collect::<Vec<_>>(), ["existing", "fresh", "placed"]);
    assert_eq!(listed["fresh"].topic_id, fresh.topic_id);
    let with_internal = admin.list_topics(true).await.unwrap();
    assert!(with_internal["__consumer_offsets"].internal);

    let described = admin.describe_topics(["fresh", "placed", "missing"]).await.unwrap();
    let fresh_d = described["fresh"].as_ref().unwrap();
    assert_eq!((fresh_d.topic_id, fresh_d.internal, fresh_d.partitions.len()), (fresh.topic_id, false, 3));
    for p in &fresh_d.partitions {
        let state = cluster.partition_state("fresh", p.partition).await.unwrap();
        assert_eq!(p.leader, Some(state.leader));
        assert_eq!(p.leader_epoch, Some(state.leader_epoch));
        assert_eq!(p.replicas, state.replicas);
        assert_eq!(p.isr, state.isr);
    }
    let placed = described["placed"].as_ref().unwrap();
    let replicas: Vec<Vec<i32>> = placed.partitions.iter().map(|p| p.replicas.clone()).collect();
    assert_eq!(replicas, [vec![3, 1], vec![2, 3]]);
    assert_eq!(placed.partitions[0].leader, Some(3));
    assert_eq!(code(&described["missing"]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));

    let grown = admin
        .create_partitions(
            [
                ("fresh", NewPartitions::increase_to(5)),
                ("placed", NewPartitions::increase_to(1)),
                ("existing", NewPartitions::increase_to(2).with_assignments(vec![vec![2]])),
                ("missing", NewPartitions::increase_to(2)),
            ],
            CreatePartitionsOptions::new(),
        )
        .await
        .unwrap();
    assert!(grown["fresh"].is_ok() && grown["existing"].is_ok(), "{grown:?}");
    assert_eq!(code(&grown["placed"]), Some(ErrorCode::INVALID_PARTITIONS));
    assert_eq!(code(&grown["missing"]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(cluster.partition_state("existing", 1).await.unwrap().replicas, [2]);
    let checked = admin
        .create_partitions(
            [("fresh", NewPartitions::increase_to(9))],
            CreatePartitionsOptions::new().validate_only(true),
        )
        .await
        .unwrap();
    assert!(checked["fresh"].is_ok());
    let fresh_d = admin.describe_topics(["fresh"]).await.unwrap().remove("fresh").unwrap().unwrap();
    assert_eq!(fresh_d.partitions.len(), 5, "grown to 5, not to the validated 9");

    let deleted = admin.delete_topics(["fresh", "missing"]).await.unwrap();
    assert!(deleted["fresh"].is_ok());
    assert_eq!(code(&deleted["missing"]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert!(!admin.list_topics(false).await.unwrap().contains_key("fresh"));
    assert!(cluster.partition_state("fresh", 0).await.is_err());
    assert_eq!(stats.count(Some(controller), ApiKey::DeleteTopics), stats.count(None, ApiKey::DeleteTopics));

    assert!(matches!(
        admin
            .create_topics([NewTopic::new("twice", 1, 1), NewTopic::new("twice", 2, 1)], CreateTopicsOptions::new())
            .await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn configs_of_topics_and_brokers() {
    let cluster = three_brokers().await;
    let admin = admin(&cluster);
    cluster.create_topic_with(TopicSpec::new("cfg", 1, 1).config("retention.ms", "3600000")).await.unwrap();
    cluster.create_topic("plain", 1, 1).await.unwrap();
    let cfg = ConfigResource::topic("cfg");
    let plain = ConfigResource::topic("plain");
    let missing = ConfigResource::topic("missing");
    let describe = |resources: Vec<ConfigResource>| {
        let admin = admin.clone();
        async move { admin.describe_configs(resources, DescribeConfigsOptions::new().include_synonyms(true)).await.unwrap() }
    };

    // Overrides versus defaults.
    let d = describe(vec![cfg.clone(), missing.clone()]).await;
    let c = d[&cfg].as_ref().unwrap();
    let retention = c.get("retention.ms").unwrap();
    assert_eq!((retention.value.as_deref(), retention.source), (Some("3600000"), ConfigSource::DynamicTopic));
    assert!(!retention.is_default());
    assert!(retention.synonyms.iter().any(|s| s.name == "log.retention.ms"), "{:?}", retention.synonyms);
    let segment = c.get("segment.ms").unwrap();
    assert!(segment.is_default());
    assert_eq!(segment.value.as_deref(), Some("604800000"));
    assert_eq!(code(&d[&missing]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));

    // Incremental: set one, delete another, append to a list; one bad
    // resource does not stop the good one.
    let changed = admin
        .incremental_alter_configs(
            [
                (
                    cfg.clone(),
                    vec![
                        AlterConfigOp::set("segment.ms", "7200000"),
                        AlterConfigOp::delete("retention.ms"),
                        AlterConfigOp::append("cleanup.policy", "delete"),
                    ],
                ),
                (missing.clone(), vec![AlterConfigOp::set("retention.ms", "1")]),
                (plain.clone(), vec![AlterConfigOp::set("retention.ms", "soon")]),
            ],
            AlterConfigsOptions::new(),
        )
        .await
        .unwrap();
    assert!(changed[&cfg].is_ok(), "{changed:?}");
    assert_eq!(code(&changed[&missing]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(code(&changed[&plain]), Some(ErrorCode::INVALID_CONFIG));
    let d = describe(vec![cfg.clone(), plain.clone()]).await;
    let c = d[&cfg].as_ref().unwrap();
    assert_eq!(c.get("segment.ms").unwrap().source, ConfigSource::DynamicTopic);
    assert_eq!(c.get("segment.ms").unwrap().value.as_deref(), Some("7200000"));
    assert!(c.get("retention.ms").unwrap().is_default());
    assert_eq!(c.get("cleanup.policy").unwrap().value.as_deref(), Some("delete"));
    assert!(d[&plain].as_ref().unwrap().get("retention.ms").unwrap().is_default(), "a refused change changes nothing");

    // Legacy AlterConfigs replaces the whole set: segment.ms loses its override.
    let validated = admin
        .alter_configs([(cfg.clone(), vec![("retention.ms", "5")])], AlterConfigsOptions::new().validate_only(true))
        .await
        .unwrap();
    assert!(validated[&cfg].is_ok());
    let replaced =
        admin.alter_configs([(cfg.clone(), vec![("retention.ms", "1000")])], AlterConfigsOptions::new()).await.unwrap();
    assert!(replaced[&cfg].is_ok());
    let d = describe(vec![cfg.clone()]).await;
    let c = d[&cfg].as_ref().unwrap();
    assert_eq!(c.get("retention.ms").unwrap().value.as_deref(), Some("1000"));
    assert!(c.get("segment.ms").unwrap().is_default());

    // A broker resource goes to that broker, and only there.
    let stats = cluster.request_stats();
    let (on_3, total) = (stats.count(Some(3), ApiKey::DescribeConfigs), stats.count(None, ApiKey::DescribeConfigs));
    let b3 = ConfigResource::broker(3);
    let d = describe(vec![b3.clone()]).await;
    assert_eq!(d[&b3].as_ref().unwrap().get("broker.id").unwrap().value.as_deref(), Some("3"));
    assert_eq!(stats.count(Some(3), ApiKey::DescribeConfigs), on_3 + 1);
    assert_eq!(stats.count(None, ApiKey::DescribeConfigs), total + 1);

    // A cluster-wide default set on a broker shows on topics without an
    // override; read-only broker configs are refused.
    let (on_2, total) =
        (stats.count(Some(2), ApiKey::IncrementalAlterConfigs), stats.count(None, ApiKey::IncrementalAlterConfigs));
    let b2 = ConfigResource::broker(2);
    let changed = admin
        .incremental_alter_configs(
            [(b2.clone(), vec![AlterConfigOp::set("log.retention.ms", "123456")])],
            AlterConfigsOptions::new(),
        )
        .await
        .unwrap();
    assert!(changed[&b2].is_ok(), "{changed:?}");
    assert_eq!(stats.count(Some(2), ApiKey::IncrementalAlterConfigs), on_2 + 1);
    assert_eq!(stats.count(None, ApiKey::IncrementalAlterConfigs), total + 1);
    let d = describe(vec![plain.clone()]).await;
    let r = d[&plain].as_ref().unwrap().get("retention.ms").unwrap().clone();
    assert_eq!((r.value.as_deref(), r.source), (Some("123456"), ConfigSource::DynamicDefaultBroker));
    let refused = admin
        .incremental_alter_configs(
            [(ConfigResource::broker(1), vec![AlterConfigOp::set("num.partitions", "7")])],
            AlterConfigsOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(code(&refused[&ConfigResource::broker(1)]), Some(ErrorCode::INVALID_CONFIG));
    let unknown = ConfigResource::broker(42);
    let d = describe(vec![unknown.clone()]).await;
    assert!(matches!(d[&unknown], Err(Error::InvalidArgument(_))), "{d:?}");
}

#[tokio::test(start_paused = true)]
async fn cluster_description_and_close() {
    let cluster = three_brokers().await;
    let admin = admin(&cluster);
    let described = admin.describe_cluster().await.unwrap();
    assert!(described.cluster_id.as_deref().is_some_and(|id| !id.is_empty()));
    let ids: Vec<i32> = described.brokers.iter().map(|b| b.id).collect();
    assert_eq!(ids, cluster.broker_ids());
    for b in &described.brokers {
        assert_eq!(b.addr(), cluster.broker_addr(b.id).unwrap().to_string());
    }
    assert!(described.controller.is_some_and(|c| ids.contains(&c.id)));

    // Calls are Send futures: they can run on a spawned task.
    let spawned = tokio::spawn({
        let admin = admin.clone();
        async move { admin.list_topics(true).await }
    });
    assert!(spawned.await.unwrap().is_ok());

    let clone = admin.clone();
    admin.close().await.ok();
    assert!(clone.is_closed());
    assert!(matches!(clone.describe_cluster().await, Err(Error::Closed)));
    assert!(matches!(admin.delete_topics(["x"]).await, Err(Error::Closed)));
}

#[tokio::test(start_paused = true)]
async fn offsets_of_every_kind_and_deleted_records() {
    let cluster = three_brokers().await;
    let admin = admin(&cluster);
    cluster.create_topic("ts", 2, 3).await.unwrap();
    let t = 1_700_000_000_000i64;
    // Timestamps out of order: the largest is at offset 3.
    let stamps = [t + 10, t + 30, t + 20, t + 50, t + 40];
    produce(
        &cluster,
        stamps
            .iter()
            .enumerate()
            .map(|(i, ts)| ProducerRecord::new("ts").partition(0).timestamp(*ts).value(format!("v{i}"))),
    )
    .await;
    let p0 = tp("ts", 0);
    let p1 = tp("ts", 1);
    let list = |specs: Vec<(TopicPartition, OffsetSpec)>| {
        let admin = admin.clone();
        async move { admin.list_offsets(specs, ListOffsetsOptions::new()).await.unwrap() }
    };
    let offset = |r: &Result<kafka_client::admin::ListedOffset, Error>| r.as_ref().unwrap().offset;

    let found = list(vec![(p0.clone(), OffsetSpec::Earliest), (p1.clone(), OffsetSpec::Latest)]).await;
    assert_eq!((offset(&found[&p0]), offset(&found[&p1])), (0, 0));
    let found = list(vec![(p0.clone(), OffsetSpec::Latest)]).await;
    assert_eq!(offset(&found[&p0]), 5);
    let found = list(vec![(p0.clone(), OffsetSpec::Timestamp(t + 25)), (p1.clone(), OffsetSpec::MaxTimestamp)]).await;
    let by_time = found[&p0].as_ref().unwrap();
    assert_eq!((by_time.offset, by_time.timestamp), (1, t + 30));
    assert_eq!(offset(&found[&p1]), -1, "an empty partition has no max timestamp");
    let found = list(vec![(p0.clone(), OffsetSpec::MaxTimestamp)]).await;
    let max = found[&p0].as_ref().unwrap();
    assert_eq!((max.offset, max.timestamp), (3, t + 50));
    let found = list(vec![
        (p0.clone(), OffsetSpec::Timestamp(t + 1000)),
        (tp("ts", 7), OffsetSpec::Latest),
        (tp("nope", 0), OffsetSpec::Latest),
    ])
    .await;
    assert_eq!(offset(&found[&p0]), -1, "no record that late");
    assert_eq!(code(&found[&tp("ts", 7)]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(code(&found[&tp("nope", 0)]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    // Partition requests go to the leaders.
    let mut leaders = BTreeSet::new();
    for p in 0..2 {
        leaders.insert(cluster.partition_state("ts", p).await.unwrap().leader);
    }
    let stats = cluster.request_stats();
    let to_leaders: u64 = leaders.iter().map(|l| stats.count(Some(*l), ApiKey::ListOffsets)).sum();
    assert_eq!(to_leaders, stats.count(None, ApiKey::ListOffsets));

    let deleted = admin.delete_records([(p0.clone(), 2), (p1.clone(), 1), (tp("nope", 0), 1)]).await.unwrap();
    assert_eq!(*deleted[&p0].as_ref().unwrap(), 2);
    assert_eq!(code(&deleted[&p1]), Some(ErrorCode::OFFSET_OUT_OF_RANGE), "beyond the high watermark");
    assert_eq!(code(&deleted[&tp("nope", 0)]), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    assert_eq!(cluster.partition_state("ts", 0).await.unwrap().log_start_offset, 2);
    let found = list(vec![(p0.clone(), OffsetSpec::Earliest)]).await;
    assert_eq!(offset(&found[&p0]), 2);
    let deleted = admin.delete_records([(p0.clone(), -1)]).await.unwrap();
    assert_eq!(*deleted[&p0].as_ref().unwrap(), 5, "-1 deletes up to the high watermark");
    assert_eq!(cluster.records("ts", 0).await.unwrap().len(), 0);
}

/// Group ids whose coordinators are different brokers, with those brokers.
async fn groups_on_two_coordinators(cluster: &Cluster) -> [(String, i32); 2] {
    let mut leaders = Vec::new();
    for p in 0..3 {
        leaders.push(cluster.partition_state("__consumer_offsets", p).await.unwrap().leader);
    }
    let mut first: Option<(String, i32)> = None;
    for i in 0..100 {
        let g = format!("group-{i}");
        let leader = leaders[offsets_partition(&g, 3) as usize];
        match &first {
            None => first = Some((g, leader)),
            Some((_, l)) if *l != leader => return [first.unwrap(), (g, leader)],
            Some(_) => {}
        }
    }
    panic!("every __consumer_offsets partition is led by one broker: {leaders:?}");
}

/// Whether every consumer has read its partitions to the end.
async fn caught_up(cluster: &Cluster, consumers: &[&Consumer]) -> bool {
    for c in consumers {
        for tp in c.assignment() {
            let hw = cluster.partition_state(&tp.topic, tp.partition).await.unwrap().high_watermark;
            if c.position(&tp).await.ok() != Some(hw) {
                return false;
            }
        }
    }
    true
}

#[tokio::test(start_paused = true)]
async fn consumer_groups_on_two_coordinators() {
    let cluster = three_brokers().await;
    let admin = admin(&cluster);
    cluster.create_topic("events", 4, 2).await.unwrap();
    cluster.create_topic("other", 1, 1).await.unwrap();
    let keyed = |prefix: &'static str, n: usize| {
        (0..n).map(move |i| ProducerRecord::new("events").key(format!("k{i}")).value(format!("{prefix}{i}")))
    };
    produce(&cluster, keyed("a", 40)).await;
    // The first group lookup creates __consumer_offsets.
    assert!(admin.describe_consumer_groups(["probe"]).await.unwrap()["probe"].is_err());
    let [(g1, coord1), (g2, coord2)] = groups_on_two_coordinators(&cluster).await;
    assert_ne!(coord1, coord2);

    // g1: two members; g2: one. Everything read, then committed.
    let c1a = consumer(&cluster, &g1, "c1a");
    let c1b = consumer(&cluster, &g1, "c1b");
    let c2 = consumer(&cluster, &g2, "c2");
    for c in [&c1a, &c1b, &c2] {
        c.subscribe(["events"]).unwrap();
    }
    let all: BTreeSet<TopicPartition> = (0..4).map(|p| tp("events", p)).collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for c in [&c1a, &c1b, &c2] {
            c.poll(Duration::from_millis(20)).await.unwrap();
        }
        let split = c1a.assignment().len() == 2 && c1b.assignment().len() == 2 && c2.assignment() == all;
        if split && caught_up(&cluster, &[&c1a, &c1b, &c2]).await {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "groups did not settle");
    }
    for c in [&c1a, &c1b, &c2] {
        c.commit().await.unwrap();
    }
    cluster.wait_for_group_stable(&g1, Some(2), WAIT).await.unwrap();
    cluster.wait_for_group_stable(&g2, Some(1), WAIT).await.unwrap();
    // Lag to report: 20 more records nobody reads.
    produce(&cluster, keyed("b", 20)).await;

    let listed = admin.list_consumer_groups(ListGroupsOptions::new()).await.unwrap();
    let mine: Vec<_> = listed.iter().filter(|g| g.group_id == g1 || g.group_id == g2).collect();
    assert_eq!(mine.len(), 2, "{listed:?}");
    for g in &mine {
        assert_eq!((g.protocol_type.as_str(), g.state), ("consumer", Some(GroupState::Stable)));
        assert_eq!(g.coordinator, if g.group_id == g1 { coord1 } else { coord2 });
    }
    let stats = cluster.request_stats();
    assert!(cluster.broker_ids().iter().all(|b| stats.count(Some(*b), ApiKey::ListGroups) >= 1));
    let empty_only = admin.list_groups(ListGroupsOptions::new().states([GroupState::Empty])).await.unwrap();
    assert!(empty_only.iter().all(|g| g.group_id != g1 && g.group_id != g2), "{empty_only:?}");

    // One batched FindCoordinator for three groups unknown to a new client.
    let fresh = self::admin(&cluster);
    let lookups = stats.count(None, ApiKey::FindCoordinator);
    let nope_partition = offsets_partition("nope", 3);
    let coord_nope = cluster.partition_state("__consumer_offsets", nope_partition).await.unwrap().leader;
    let coordinators = BTreeSet::from([coord1, coord2, coord_nope]);
    let described_before: Vec<(i32, u64)> =
        cluster.broker_ids().into_iter().map(|b| (b, stats.count(Some(b), ApiKey::DescribeGroups))).collect();
    let described = fresh.describe_consumer_groups([g1.as_str(), g2.as_str(), "nope"]).await.unwrap();
    assert_eq!(stats.count(None, ApiKey::FindCoordinator), lookups + 1);
    let d1 = described[&g1].as_ref().unwrap();
    assert_eq!((d1.state, d1.assignor.as_str(), d1.coordinator), (GroupState::Stable, "range", coord1));
    let view = cluster.group(&g1).await.unwrap().unwrap();
    let ids: BTreeSet<&str> = d1.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(ids, view.member_ids().into_iter().collect());
    let clients: BTreeSet<&str> = d1.members.iter().map(|m| m.client_id.as_str()).collect();
    assert_eq!(clients, BTreeSet::from(["c1a", "c1b"]));
    assert!(d1.members.iter().all(|m| !m.host.is_empty() && m.group_instance_id.is_none()));
    let assigned: BTreeSet<TopicPartition> = d1.members.iter().flat_map(|m| m.assignment.clone()).collect();
    assert_eq!(assigned, all);
    let member_a = d1.members.iter().find(|m| m.client_id == "c1a").unwrap();
    assert_eq!(member_a.assignment.iter().cloned().collect::<BTreeSet<_>>(), c1a.assignment());
    let d2 = described[&g2].as_ref().unwrap();
    assert_eq!((d2.members.len(), d2.coordinator), (1, coord2));
    assert_eq!(code(&described["nope"]), Some(ErrorCode::GROUP_ID_NOT_FOUND));
    // One DescribeGroups per coordinator, each to that coordinator.
    for (b, before) in &described_before {
        let expected = usize::from(coordinators.contains(b)) as u64;
        assert_eq!(stats.count(Some(*b), ApiKey::DescribeGroups), before + expected, "broker {b}");
    }

    // Committed offsets, all or some (None where nothing is committed).
    let committed = admin.list_consumer_group_offsets(&g1, None).await.unwrap();
    let expected = cluster.committed_offsets(&g1).await.unwrap();
    let got: BTreeMap<(String, i32), i64> = committed
        .iter()
        .map(|(tp, o)| ((tp.topic.to_string(), tp.partition), o.as_ref().unwrap().as_ref().unwrap().offset))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(got.values().sum::<i64>(), 40);
    let some = admin.list_consumer_group_offsets(&g1, Some(&[tp("events", 1), tp("other", 0)])).await.unwrap();
    assert_eq!(
        some[&tp("events", 1)].as_ref().unwrap().as_ref().map(|o| o.offset),
        expected.get(&("events".into(), 1)).copied()
    );
    assert_eq!(*some[&tp("other", 0)].as_ref().unwrap(), None);

    // Lag: committed against the high watermark, with the owner.
    let lag = admin.consumer_group_lag(&g1).await.unwrap();
    assert_eq!((lag.state, lag.partitions.len()), (GroupState::Stable, 4));
    for row in &lag.partitions {
        let hw = cluster.partition_state("events", row.partition.partition).await.unwrap().high_watermark;
        let committed = expected[&("events".to_string(), row.partition.partition)];
        assert_eq!(
            (row.current_offset, row.log_end_offset, row.lag),
            (Some(committed), Some(hw), Some(hw - committed))
        );
        let owner = row.owner.as_ref().unwrap();
        let member = d1.members.iter().find(|m| m.member_id == owner.member_id).unwrap();
        assert!(member.assignment.contains(&row.partition));
        assert_eq!(owner.client_id, member.client_id);
        assert!(row.error.is_none());
    }
    assert_eq!(lag.total_lag(), 20);
    let table = lag.to_string();
    assert!(table.starts_with("GROUP"), "{table}");
    assert!(table.contains("CURRENT-OFFSET") && table.contains("c1a") && table.lines().count() == 5, "{table}");

    // While the group has members: resets are refused per partition...
    let reset = admin.reset_consumer_group_offsets(&g1, all.iter().map(|p| (p.clone(), OffsetSpec::Earliest))).await;
    let reset = reset.unwrap();
    assert!(reset.values().all(|r| code(r) == Some(ErrorCode::UNKNOWN_MEMBER_ID)), "{reset:?}");
    let altered =
        admin.alter_consumer_group_offsets(&g1, [(tp("events", 0), OffsetAndMetadata::new(0))]).await.unwrap();
    assert_eq!(code(&altered[&tp("events", 0)]), Some(ErrorCode::UNKNOWN_MEMBER_ID));
    // ...so is deleting the group, or the offsets of a topic it consumes.
    let deleted = admin.delete_consumer_groups([g1.as_str(), "nope"]).await.unwrap();
    assert_eq!(code(&deleted[&g1]), Some(ErrorCode::NON_EMPTY_GROUP));
    assert_eq!(code(&deleted["nope"]), Some(ErrorCode::GROUP_ID_NOT_FOUND));
    let dropped = admin.delete_consumer_group_offsets(&g1, [tp("events", 0)]).await.unwrap();
    assert_eq!(code(&dropped[&tp("events", 0)]), Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
    assert_eq!(cluster.committed_offsets(&g1).await.unwrap(), expected, "nothing changed");

    // Once empty, all of it is accepted.
    c1a.close().await.unwrap();
    c1b.close().await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while cluster.group(&g1).await.unwrap().is_none_or(|v| v.state != "Empty") {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut specs: Vec<(TopicPartition, OffsetSpec)> =
        (0..3).map(|p| (tp("events", p), OffsetSpec::Earliest)).collect();
    specs.push((tp("events", 3), OffsetSpec::Latest));
    let reset = admin.reset_consumer_group_offsets(&g1, specs).await.unwrap();
    let hw3 = cluster.partition_state("events", 3).await.unwrap().high_watermark;
    let new: BTreeMap<TopicPartition, i64> = reset.into_iter().map(|(tp, r)| (tp, r.unwrap())).collect();
    assert_eq!(new.values().copied().collect::<Vec<_>>(), [0, 0, 0, hw3]);
    let now = cluster.committed_offsets(&g1).await.unwrap();
    assert_eq!(now.values().copied().collect::<Vec<_>>(), [0, 0, 0, hw3]);
    let lag = admin.consumer_group_lag(&g1).await.unwrap();
    assert_eq!(lag.state, GroupState::Empty);
    assert!(lag.partitions.iter().all(|r| r.owner.is_none()));
    assert_eq!(lag.partitions[3].lag, Some(0));
    let dropped = admin.delete_consumer_group_offsets(&g1, [tp("events", 0)]).await.unwrap();
    assert!(dropped[&tp("events", 0)].is_ok());
    assert!(!cluster.committed_offsets(&g1).await.unwrap().contains_key(&("events".to_string(), 0)));

    let deleted = admin.delete_consumer_groups([g1.as_str(), g2.as_str()]).await.unwrap();
    assert!(deleted[&g1].is_ok());
    assert_eq!(code(&deleted[&g2]), Some(ErrorCode::NON_EMPTY_GROUP));
    assert!(cluster.group(&g1).await.unwrap().is_none());
    let again = admin.describe_consumer_groups([g1.as_str()]).await.unwrap();
    assert_eq!(code(&again[&g1]), Some(ErrorCode::GROUP_ID_NOT_FOUND));
    assert!(matches!(admin.consumer_group_lag(&g1).await, Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND)));
    c2.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn moved_coordinators_and_leaders_are_found_again() {
    let cluster = three_brokers().await;
    let admin = admin(&cluster);
    cluster.create_topic("f", 2, 3).await.unwrap();
    produce(&cluster, (0..6).map(|i| ProducerRecord::new("f").partition(i % 2).value(format!("{i}")))).await;
    // A group with offsets and no members (the simple-consumer case).
    let committed = admin
        .alter_consumer_group_offsets(
            "fg",
            [(tp("f", 0), OffsetAndMetadata::new(2).with_metadata("m")), (tp("f", 1), OffsetAndMetadata::new(1))],
        )
        .await
        .unwrap();
    assert!(committed.values().all(Result::is_ok), "{committed:?}");
    let described = admin.describe_consumer_groups(["fg"]).await.unwrap().remove("fg").unwrap().unwrap();
    assert!(described.is_simple_consumer_group() && described.members.is_empty());
    assert_eq!(described.state, GroupState::Empty);
    let p = offsets_partition("fg", 3);
    let coordinator = cluster.partition_state("__consumer_offsets", p).await.unwrap().leader;
    assert_eq!(described.coordinator, coordinator);

    // The coordinator (a leader of f too, maybe) stops; the cached
    // coordinator and connections are stale.
    cluster.stop_broker(coordinator).await.unwrap();
    let offsets = admin.list_consumer_group_offsets("fg", None).await.unwrap();
    let f0 = offsets[&tp("f", 0)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!((f0.offset, f0.metadata.as_str()), (2, "m"));
    let moved = cluster.partition_state("__consumer_offsets", p).await.unwrap().leader;
    assert_ne!(moved, coordinator);
    let described = admin.describe_consumer_groups(["fg"]).await.unwrap().remove("fg").unwrap().unwrap();
    assert_eq!(described.coordinator, moved);
    let lag = admin.consumer_group_lag("fg").await.unwrap();
    let lags: Vec<Option<i64>> = lag.partitions.iter().map(|r| r.lag).collect();
    assert_eq!(lags, [Some(1), Some(2)]);

    // A leader moves between two calls: the next call follows it.
    let before = cluster.partition_state("f", 0).await.unwrap();
    let target = *before.isr.iter().find(|b| **b != before.leader).unwrap();
    cluster.move_leader("f", 0, target).await.unwrap();
    let found = admin.list_offsets([(tp("f", 0), OffsetSpec::Latest)], ListOffsetsOptions::new()).await.unwrap();
    assert_eq!(found[&tp("f", 0)].as_ref().unwrap().offset, 3);
    assert!(cluster.request_stats().count(Some(target), ApiKey::ListOffsets) >= 1);
}
