//! Administering a cluster with `kafka_client::admin`: create topics,
//! describe them and their configs, and list consumer groups.
//!
//! ```text
//! cargo run -p examples --bin admin                                     # embedded cluster
//! cargo run -p examples --bin admin -- --bootstrap-server 127.0.0.1:9092
//! ```
//!
//! It creates two topics and a consumer group (by committing offsets for
//! it), and deletes them at the end, so it leaves a real cluster as it
//! found it.

use std::process::ExitCode;

use examples::cli::{self, Failure, Tool};
use examples::embedded::{BOOTSTRAP_OPT, Target};
use kafka_client::TopicPartition;
use kafka_client::admin::{
    Admin, ConfigResource, CreateTopicsOptions, DescribeConfigsOptions, ListGroupsOptions, NewTopic,
};
use kafka_client::consumer::OffsetAndMetadata;

const TOOL: Tool = Tool {
    name: "admin",
    about: "Creates topics, describes them and their configs, lists consumer groups, then cleans up.",
    opts: &[BOOTSTRAP_OPT],
};

const AUDIT: &str = "examples-audit";
const METRICS: &str = "examples-metrics";
const GROUP: &str = "examples-admin-group";

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        cli::runtime()?.block_on(async {
            let target = Target::from_args(&args).await?;
            let admin = Admin::builder().bootstrap_servers(&target.bootstrap).client_id("admin-example").build()?;
            let outcome = administer(&admin).await;
            admin.close().await.ok();
            target.shutdown().await;
            outcome.map(|()| ExitCode::SUCCESS)
        })
    })
}

async fn administer(admin: &Admin) -> Result<(), Failure> {
    let cluster = admin.describe_cluster().await?;
    let brokers: Vec<String> = cluster.brokers.iter().map(|b| format!("{} at {}", b.id, b.addr())).collect();
    println!("cluster {}: brokers {}", cluster.cluster_id.as_deref().unwrap_or("?"), brokers.join(", "));
    let rf = i16::try_from(cluster.brokers.len().clamp(1, 3)).unwrap_or(1);

    // Creating topics: one result per topic, so one refusal (here, perhaps
    // "already exists" on a real cluster) does not hide the other outcome.
    let topics = [
        NewTopic::new(AUDIT, 3, rf).config("retention.ms", "3600000").config("max.message.bytes", "65536"),
        NewTopic::new(METRICS, 1, rf),
    ];
    for (name, result) in admin.create_topics(topics, CreateTopicsOptions::new()).await? {
        match result {
            Ok(created) => println!("created {name} (id {})", created.topic_id.map_or("?".into(), |id| id.to_string())),
            Err(e) => println!("could not create {name}: {e}"),
        }
    }

    // Describing topics: partitions with their leader, replicas and ISR.
    for (name, described) in admin.describe_topics([AUDIT, METRICS]).await? {
        let topic = described?;
        println!("{name}: {} partitions", topic.partitions.len());
        for p in &topic.partitions {
            let leader = p.leader.map_or_else(|| "none".to_string(), |l| format!("broker {l}"));
            println!("  partition {}: leader {leader}, replicas {:?}, isr {:?}", p.partition, p.replicas, p.isr);
        }
    }

    // Describing configs: every config comes back with where its value is
    // set; the ones not at Kafka's default are the interesting ones.
    let resource = ConfigResource::topic(AUDIT);
    let configs = admin.describe_configs([resource.clone()], DescribeConfigsOptions::new()).await?;
    let config = configs.get(&resource).cloned().ok_or_else(|| Failure::new("no configs returned"))??;
    println!("{AUDIT} configs set away from the defaults:");
    for e in config.entries.iter().filter(|e| !e.is_default()) {
        println!("  {} = {} ({:?})", e.name, e.value.as_deref().unwrap_or("(hidden)"), e.source);
    }

    // A group exists once it has committed offsets; committing as an admin
    // (no member) works while the group has no members.
    let tp = TopicPartition::new(AUDIT, 0);
    admin.alter_consumer_group_offsets(GROUP, [(tp.clone(), OffsetAndMetadata::new(0))]).await?[&tp].clone()?;
    println!("consumer groups:");
    for g in admin.list_consumer_groups(ListGroupsOptions::new()).await? {
        let state = g.state.map_or_else(|| "?".to_string(), |s| s.to_string());
        println!("  {} (state {state}, coordinator broker {})", g.group_id, g.coordinator);
    }

    // Clean up: the group first (it refers to the topic), then the topics.
    for (group, r) in admin.delete_consumer_groups([GROUP]).await? {
        r?;
        println!("deleted group {group}");
    }
    for (name, r) in admin.delete_topics([AUDIT, METRICS]).await? {
        r?;
        println!("deleted topic {name}");
    }
    Ok(())
}
