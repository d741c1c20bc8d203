//! `kafka-topics`: Kafka's `TopicCommand`. Creates, lists, describes,
//! grows and deletes topics, printing what Kafka 4.0's tool prints.
//!
//! ```text
//! kafka-topics --bootstrap-server 127.0.0.1:9092 --create --topic orders --partitions 6 --replication-factor 3 \
//!     --config retention.ms=86400000
//! kafka-topics --bootstrap-server 127.0.0.1:9092 --describe --topic 'orders.*'
//! ```
//!
//! Failures end the tool with one line on stderr and exit status 1; Kafka
//! words them `Error while executing topic command : <reason>` (it prints
//! that line on stdout).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::jvm;
use examples::props::Props;
use examples::topics::{self, IncludeList};
use kafka_client::admin::{
    Admin, ConfigResource, CreatePartitionsOptions, CreateTopicsOptions, DescribeConfigsOptions, NewPartitions,
    NewTopic, PartitionDescription, ResourceConfig, TopicDescription,
};
use kafka_protocol::ErrorCode;

const OPTS: &[Opt] = &[
    Opt::value("bootstrap-server", "String: server to connect to", "REQUIRED: The Kafka server to connect to."),
    Opt::value(
        "command-config",
        "String: command config property file",
        "Property file containing configs to be passed to Admin Client.",
    ),
    Opt::flag("list", "List all available topics."),
    Opt::flag("create", "Create a new topic."),
    Opt::flag("delete", "Delete a topic."),
    Opt::flag(
        "alter",
        "Alter the number of partitions and replica assignment. (To alter topic configurations, the kafka-configs tool can be used.)",
    ),
    Opt::flag("describe", "List details for the given topics."),
    Opt::value(
        "topic",
        "String: topic",
        "The topic to create, alter, describe or delete. It also accepts a regular expression, except for --create option.",
    ),
    Opt::value(
        "config",
        "String: name=value",
        "A topic configuration override for the topic being created. It is supported only in combination with --create.",
    ),
    Opt::value(
        "partitions",
        "Integer: # of partitions",
        "The number of partitions for the topic being created or altered. If not supplied with --create, the topic uses the cluster default. (WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected).",
    ),
    Opt::value(
        "replication-factor",
        "Integer: replication factor",
        "The replication factor for each partition in the topic being created. If not supplied, the topic uses the cluster default.",
    ),
    Opt::value(
        "replica-assignment",
        "String: broker_id_for_part1_replica1 : broker_id_for_part1_replica2 , broker_id_for_part2_replica1 : broker_id_for_part2_replica2 , ...",
        "A list of manual partition-to-broker assignments for the topic being created or altered.",
    ),
    Opt::flag("under-replicated-partitions", "If set when describing topics, only show under-replicated partitions."),
    Opt::flag(
        "unavailable-partitions",
        "If set when describing topics, only show partitions whose leader is not available.",
    ),
    Opt::flag(
        "under-min-isr-partitions",
        "If set when describing topics, only show partitions whose isr count is less than the configured minimum.",
    ),
    Opt::flag(
        "at-min-isr-partitions",
        "If set when describing topics, only show partitions whose isr count is equal to the configured minimum.",
    ),
    Opt::flag("topics-with-overrides", "If set when describing topics, only show topics that have overridden configs."),
    Opt::flag(
        "if-exists",
        "If set when altering or deleting or describing topics, the action will only execute if the topic exists.",
    ),
    Opt::flag(
        "if-not-exists",
        "If set when creating topics, the create request will not fail if the topic already exists, but the request will still be sent.",
    ),
    Opt::flag(
        "exclude-internal",
        "Exclude internal topics when listing or describing topics. By default, the internal topics are included.",
    ),
];

const TOOL: Tool =
    Tool { name: "kafka-topics", about: "This tool helps to create, delete, describe, or change a topic.", opts: OPTS };

const ACTIONS: [&str; 5] = ["create", "list", "alter", "describe", "delete"];
const REPORTS: [&str; 4] =
    ["under-replicated-partitions", "under-min-isr-partitions", "at-min-isr-partitions", "unavailable-partitions"];

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        let action = check_args(&args)?;
        let admin_props = admin_props(&args)?;
        cli::runtime()?.block_on(async {
            let admin = Admin::from_properties(admin_props.client_pairs()).build()?;
            let outcome = match action {
                "create" => create(&admin, &args).await,
                "list" => list(&admin, &args).await,
                "alter" => alter(&admin, &args).await,
                "describe" => describe(&admin, &args).await,
                _ => delete(&admin, &args).await,
            };
            admin.close().await.ok();
            outcome.map(|()| ExitCode::SUCCESS)
        })
    })
}

/// `TopicCommandOptions.checkArgs`: exactly one action, the options it
/// needs, and none that only other actions take. Returns the action.
fn check_args(args: &Args) -> Result<&'static str, Failure> {
    let action = cli::one_action(
        args,
        &ACTIONS,
        "Command must include exactly one action: --list, --describe, --create, --alter or --delete",
    )?;
    if !args.has("bootstrap-server") {
        return Err(Failure::usage("--bootstrap-server must be specified"));
    }
    cli::validate_bootstrap(args.value("bootstrap-server").unwrap_or_default())?;
    if action == "describe" && args.has("if-exists") && !args.has("topic") {
        return Err(Failure::usage("--topic or --topic-id is required to describe a topic"));
    }
    if action != "list" && action != "describe" && !args.has("topic") {
        return Err(cli::missing("topic"));
    }
    if action == "alter" {
        if args.has("config") {
            return Err(Failure::usage(
                "Option \"[config]\" can't be used with option \"[alter]\" (To alter topic configurations, the \
                 kafka-configs tool can be used.)",
            ));
        }
        if !args.has("partitions") {
            return Err(cli::missing("partitions"));
        }
    }
    // Each option and the actions it goes with.
    let allowed: [(&str, &[&str]); 7] = [
        ("config", &["create"]),
        ("partitions", &["alter", "create"]),
        ("replication-factor", &["create"]),
        ("replica-assignment", &["alter", "create"]),
        ("if-exists", &["alter", "delete", "describe"]),
        ("if-not-exists", &["create"]),
        ("exclude-internal", &["list", "describe"]),
    ];
    for (opt, actions) in allowed {
        if args.has(opt) && !actions.contains(&action) {
            return Err(cli::invalid_with(opt, action));
        }
    }
    if action == "create" && args.has("replica-assignment") {
        for other in ["partitions", "replication-factor"] {
            if args.has(other) {
                return Err(cli::invalid_with("replica-assignment", other));
            }
        }
    }
    for opt in REPORTS.iter().chain(&["topics-with-overrides"]) {
        if args.has(opt) && action != "describe" {
            return Err(cli::invalid_with(opt, action));
        }
    }
    if args.has("topics-with-overrides")
        && let Some(report) = REPORTS.iter().find(|r| args.has(r))
    {
        return Err(cli::invalid_with(report, "topics-with-overrides"));
    }
    Ok(action)
}

/// The admin client's settings: `--command-config`, then the bootstrap
/// servers on top.
fn admin_props(args: &Args) -> Result<Props, Failure> {
    let mut props = match args.value("command-config") {
        Some(f) => Props::load(std::path::Path::new(f))?,
        None => Props::new(),
    };
    props.set("bootstrap.servers", args.value("bootstrap-server").unwrap_or_default());
    Ok(props)
}

/// How `TopicCommand` reports an exception: `Error while executing topic
/// command : ` and its message.
fn command_error(e: &kafka_client::Error) -> Failure {
    Failure::new(format!("Error while executing topic command : {}", jvm::message(e)))
}

/// A per-item result the client left out (it should not).
fn no_answer(what: &str) -> Failure {
    Failure::new(format!("Error while executing topic command : no answer for {what}"))
}

async fn create(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let name = args.required("topic")?;
    let configs = topics::parse_configs(&args.values("config"))?;
    let partitions: Option<i32> = args.parse("partitions")?;
    let replication: Option<i32> = args.parse("replication-factor")?;
    if topics::has_collision_chars(name) {
        println!("{}", topics::COLLISION_WARNING);
    }
    let replication = match replication {
        Some(rf) => Some(
            i16::try_from(rf)
                .ok()
                .filter(|rf| *rf >= 1)
                .ok_or_else(|| Failure::new("The replication factor must be between 1 and 32767 inclusive"))?,
        ),
        None => None,
    };
    if partitions.is_some_and(|p| p < 1) {
        return Err(Failure::new("The partitions must be greater than 0"));
    }
    let assignment = match args.value("replica-assignment").filter(|v| !v.is_empty()) {
        Some(text) => topics::parse_replica_assignment(text)
            .map_err(|e| Failure::new(format!("Error while executing topic command : {e}")))?,
        None => BTreeMap::new(),
    };
    let topic = NewTopic { name: name.to_string(), partitions, replication_factor: replication, assignment, configs };
    let mut results = admin.create_topics([topic], CreateTopicsOptions::new()).await.map_err(|e| command_error(&e))?;
    match results.remove(name) {
        Some(Ok(_)) => {
            println!("Created topic {name}.");
            Ok(())
        }
        // --if-not-exists: the request was sent; its refusal is fine.
        Some(Err(e)) if args.has("if-not-exists") && e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => Ok(()),
        Some(Err(e)) => Err(command_error(&e)),
        None => Err(no_answer(name)),
    }
}

/// `getTopics`: the topics `--topic` selects (all without it), sorted.
async fn selected_topics(admin: &Admin, args: &Args) -> Result<Vec<String>, Failure> {
    let exclude_internal = args.has("exclude-internal");
    let include = args.value("topic").map(IncludeList::new).transpose()?;
    let listed = admin.list_topics(!exclude_internal).await.map_err(|e| command_error(&e))?;
    Ok(topics::select_topics(listed.keys().map(String::as_str), include.as_ref(), exclude_internal))
}

/// `ensureTopicExists`: a `--topic` that matches nothing is an error,
/// unless `--if-exists`.
fn ensure_found(found: &[String], args: &Args) -> Result<(), Failure> {
    match args.value("topic") {
        Some(t) if !t.is_empty() && found.is_empty() && !args.has("if-exists") => {
            Err(Failure::new(format!("Topic '{t}' does not exist as expected")))
        }
        _ => Ok(()),
    }
}

async fn list(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let names = selected_topics(admin, args).await?;
    // One println of the joined names: no topics still prints a newline.
    println!("{}", names.join("\n"));
    Ok(())
}

async fn delete(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let names = selected_topics(admin, args).await?;
    ensure_found(&names, args)?;
    if names.is_empty() {
        return Ok(());
    }
    let results = admin.delete_topics(names).await.map_err(|e| command_error(&e))?;
    // Kafka's tool prints nothing once the deletion is accepted.
    match results.into_values().find_map(Result::err) {
        Some(e) => Err(command_error(&e)),
        None => Ok(()),
    }
}

async fn alter(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let names = selected_topics(admin, args).await?;
    ensure_found(&names, args)?;
    if names.is_empty() {
        return Ok(());
    }
    let count: i32 = args.parse("partitions")?.ok_or_else(|| cli::missing("partitions"))?;
    let assignment = match args.value("replica-assignment").filter(|v| !v.is_empty()) {
        Some(text) => Some(
            topics::parse_replica_assignment(text)
                .map_err(|e| Failure::new(format!("Error while executing topic command : {e}")))?,
        ),
        None => None,
    };
    let mut increases = Vec::new();
    for name in &names {
        let mut grow = NewPartitions::increase_to(count);
        if let Some(assignment) = &assignment {
            // As Kafka does, the assignment lists every partition; the
            // ones the topic has already are skipped.
            let current = describe_one(admin, name).await?.partitions.len();
            grow = grow.with_assignments(assignment.values().skip(current).cloned().collect());
        }
        increases.push((name.clone(), grow));
    }
    let results =
        admin.create_partitions(increases, CreatePartitionsOptions::new()).await.map_err(|e| command_error(&e))?;
    match results.into_values().find_map(Result::err) {
        Some(e) => Err(command_error(&e)),
        None => Ok(()),
    }
}

async fn describe_one(admin: &Admin, name: &str) -> Result<TopicDescription, Failure> {
    let mut d = admin.describe_topics([name]).await.map_err(|e| command_error(&e))?;
    d.remove(name)
        .unwrap_or_else(|| Err(kafka_client::Error::UnknownTopic(name.to_string())))
        .map_err(|e| command_error(&e))
}

/// Which lines `--describe` prints: `DescribeOptions` of Kafka's tool.
struct Filters {
    /// Topic lines (no partition report asked for).
    configs: bool,
    /// Partition lines (not `--topics-with-overrides`).
    partitions: bool,
    overrides_only: bool,
    under_replicated: bool,
    unavailable: bool,
    under_min_isr: bool,
    at_min_isr: bool,
    live_brokers: BTreeSet<i32>,
}

impl Filters {
    fn partition_shown(&self, p: &PartitionDescription, config: &ResourceConfig) -> bool {
        let min_isr = config
            .get("min.insync.replicas")
            .and_then(|e| e.value.as_deref())
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1);
        let has_leader = p.leader.is_some();
        self.configs
            || (self.under_replicated && p.replicas.len() > p.isr.len())
            || (self.unavailable && !p.leader.is_some_and(|l| self.live_brokers.contains(&l)))
            || (self.under_min_isr && (!has_leader || p.isr.len() < min_isr))
            || (self.at_min_isr && p.isr.len() == min_isr)
    }
}

async fn describe(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let names = selected_topics(admin, args).await?;
    ensure_found(&names, args)?;
    if names.is_empty() {
        return Ok(());
    }
    let mut described = admin.describe_topics(names.clone()).await.map_err(|e| command_error(&e))?;
    let resources = names.iter().map(ConfigResource::topic);
    let mut configs =
        admin.describe_configs(resources, DescribeConfigsOptions::new()).await.map_err(|e| command_error(&e))?;
    let mut filters = Filters {
        configs: !REPORTS.iter().any(|r| args.has(r)),
        partitions: !args.has("topics-with-overrides"),
        overrides_only: args.has("topics-with-overrides"),
        under_replicated: args.has("under-replicated-partitions"),
        unavailable: args.has("unavailable-partitions"),
        under_min_isr: args.has("under-min-isr-partitions"),
        at_min_isr: args.has("at-min-isr-partitions"),
        live_brokers: BTreeSet::new(),
    };
    if filters.unavailable {
        let cluster = admin.describe_cluster().await.map_err(|e| command_error(&e))?;
        filters.live_brokers = cluster.brokers.iter().map(|b| b.id).collect();
    }
    let mut out = String::new();
    for name in topics::describe_order(names) {
        let topic = described.remove(&name).unwrap_or_else(|| Err(kafka_client::Error::UnknownTopic(name.clone())));
        let topic = topic.map_err(|e| command_error(&e))?;
        let config = configs.remove(&ConfigResource::topic(&name)).ok_or_else(|| no_answer(&name))?;
        let config = config.map_err(|e| command_error(&e))?;
        let overridden = config.entries.iter().any(|e| !e.is_default());
        if filters.configs && (!filters.overrides_only || overridden) && !topic.partitions.is_empty() {
            out.push_str(&topics::topic_line(&topic, &config));
            out.push('\n');
        }
        if filters.partitions {
            for p in topic.partitions.iter().filter(|p| filters.partition_shown(p, &config)) {
                out.push_str(&topics::partition_line(&name, p));
                out.push('\n');
            }
        }
    }
    print!("{out}");
    Ok(())
}
