//! `kafka-consumer-groups`: Kafka's `ConsumerGroupCommand`. Lists consumer
//! groups, describes one (its offsets and lag, its members, or its state),
//! deletes groups or some of their offsets, and resets offsets — printing
//! what Kafka 4.0's tool prints.
//!
//! ```text
//! kafka-consumer-groups --bootstrap-server 127.0.0.1:9092 --describe --group billing
//! kafka-consumer-groups --bootstrap-server 127.0.0.1:9092 --reset-offsets --group billing --topic orders \
//!     --to-datetime 2024-05-01T00:00:00.000 --execute
//! ```
//!
//! Kafka's tool prints its `Error: …` lines on stdout and exits 0; here a
//! failure is that line on stderr and exit status 1, so scripts can tell.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::groups::{self, MISSING, MemberRow, OffsetRow};
use examples::props::Props;
use examples::{javafmt, jvm};
use kafka_client::TopicPartition;
use kafka_client::admin::{
    Admin, ConsumerGroupDescription, GroupState, ListGroupsOptions, ListOffsetsOptions, OffsetSpec,
};
use kafka_client::consumer::{IsolationLevel, OffsetAndMetadata};
use kafka_protocol::ErrorCode;

const RESET_DOC: &str = "Reset offsets of consumer group. Supports one consumer group at the time, and instances should be inactive\nHas 2 execution options: --dry-run (the default) to plan which offsets to reset, and --execute to update the offsets.\nYou must choose one of the following reset specifications: --to-datetime, --by-duration, --to-earliest, --to-latest, --shift-by, --to-current, --to-offset.\nTo define the scope use --all-topics or --topic. One scope must be specified.";

const OPTS: &[Opt] = &[
    Opt::value("bootstrap-server", "String: server to connect to", "REQUIRED: The server(s) to connect to."),
    Opt::value("group", "String: consumer group", "The consumer group we wish to act on."),
    Opt::value("topic", "String: topic", "The topic whose consumer group information should be deleted or topic whose should be included in the reset offset process. In `reset-offsets` case, partitions can be specified using this format: `topic1:0,1,2`, where 0,1,2 are the partition to be included in the process. Reset-offsets also supports multiple topic inputs."),
    Opt::flag("all-topics", "Consider all topics assigned to a group in the `reset-offsets` process."),
    Opt::flag("list", "List all consumer groups."),
    Opt::flag("describe", "Describe consumer group and list offset lag (number of messages not yet processed) related to given group."),
    Opt::flag("all-groups", "Apply to all consumer groups."),
    Opt::flag("delete", "Pass in groups to delete topic partition offsets and ownership information over the entire consumer group. For instance --group g1 --group g2"),
    Opt::value("timeout", "Long: timeout (ms)", "The timeout that can be set for some use cases. For example, it can be used when describing the group to specify the maximum amount of time in milliseconds to wait before the group stabilizes (when the group is just created, or is going through some changes).").default("5000"),
    Opt::value("command-config", "String: command config property file", "Property file containing configs to be passed to Admin Client and Consumer."),
    Opt::flag("reset-offsets", RESET_DOC),
    Opt::flag("delete-offsets", "Delete offsets of consumer group. Supports one consumer group at the time, and multiple topics."),
    Opt::flag("dry-run", "Only show results without executing changes on Consumer Groups. Supported operations: reset-offsets."),
    Opt::flag("execute", "Execute operation. Supported operations: reset-offsets."),
    Opt::value("to-offset", "Long: offset", "Reset offsets to a specific offset."),
    Opt::value("to-datetime", "String: datetime", "Reset offsets to offset from datetime. Format: 'YYYY-MM-DDTHH:mm:SS.sss'"),
    Opt::value("by-duration", "String: duration", "Reset offsets to offset by duration from current timestamp. Format: 'PnDTnHnMnS'"),
    Opt::flag("to-earliest", "Reset offsets to earliest offset."),
    Opt::flag("to-latest", "Reset offsets to latest offset."),
    Opt::flag("to-current", "Reset offsets to current offset."),
    Opt::value("shift-by", "Long: number-of-offsets", "Reset offsets shifting current offset by 'n', where 'n' can be positive or negative."),
    Opt::flag("members", "Describe members of the group. This option may be used with '--describe' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --members"),
    Opt::flag("offsets", "Describe the group and list all topic partitions in the group along with their offset lag. This is the default sub-action of and may be used with '--describe' and '--bootstrap-server' options only.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --offsets"),
    Opt::value("isolation-level", "String", "Not in Kafka's tool. With '--describe --offsets': what LOG-END-OFFSET and LAG are measured to. read_uncommitted (the default, as Kafka's tool): the high watermark. read_committed: the last stable offset, the end a read_committed consumer can reach while transactions are open."),
    Opt::optional("state", "String", "When specified with '--describe', includes the state of the group.\nExample: --bootstrap-server localhost:9092 --describe --group group1 --state\nWhen specified with '--list', it displays the state of all groups. It can also be used to list groups with specific states.\nExample: --bootstrap-server localhost:9092 --list --state stable,empty\nThis option may be used with '--describe', '--list' and '--bootstrap-server' options only."),
];

const TOOL: Tool = Tool {
    name: "kafka-consumer-groups",
    about: "This tool helps to list all consumer groups, describe a consumer group, delete consumer group info, or reset consumer group offsets.",
    opts: OPTS,
};

const ACTIONS: [&str; 5] = ["list", "describe", "delete", "reset-offsets", "delete-offsets"];
const SCENARIOS: [&str; 7] =
    ["to-offset", "shift-by", "to-datetime", "by-duration", "to-earliest", "to-latest", "to-current"];

/// Where `--reset-offsets` moves each partition.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    ToOffset(i64),
    ShiftBy(i64),
    /// `--to-datetime` and `--by-duration`: the first offset at or after
    /// this time (ms since the epoch).
    ToTime(i64),
    ToEarliest,
    ToLatest,
    ToCurrent,
}

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        let action = check_args(&args)?;
        let props = admin_props(&args)?;
        cli::runtime()?.block_on(async {
            let admin = Admin::from_properties(props.client_pairs()).build()?;
            let outcome = match action {
                "list" => list(&admin, &args).await,
                "describe" => describe(&admin, &args).await,
                "delete" => delete(&admin, &args).await,
                "reset-offsets" => reset_offsets(&admin, &args).await,
                _ => delete_offsets(&admin, &args).await,
            };
            admin.close().await.ok();
            outcome.map(|()| ExitCode::SUCCESS)
        })
    })
}

/// `ConsumerGroupCommandOptions.checkArgs`, plus the reset scenario and
/// scope checks Kafka makes once connected. Returns the action.
fn check_args(args: &Args) -> Result<&'static str, Failure> {
    let action = cli::one_action(
        args,
        &ACTIONS,
        "Command must include exactly one action: --list, --describe, --delete, --reset-offsets, --delete-offsets",
    )?;
    let servers = args.value("bootstrap-server").ok_or_else(|| cli::missing("bootstrap-server"))?;
    cli::validate_bootstrap(servers)?;
    let selects_groups = args.has("group") || args.has("all-groups");
    if args.has("group") && args.has("all-groups") {
        return Err(cli::invalid_with("group", "all-groups"));
    }
    for opt in ["members", "offsets"] {
        if args.has(opt) && action != "describe" {
            return Err(cli::invalid_with(opt, action));
        }
    }
    if args.has("isolation-level") {
        if action != "describe" || args.has("members") || args.has("state") {
            return Err(Failure::usage("Option [isolation-level] may be used with '--describe --offsets' only"));
        }
        isolation_level(args)?;
    }
    if args.has("state") && action != "describe" && action != "list" {
        return Err(cli::invalid_with("state", action));
    }
    if args.has("group") && action == "list" {
        return Err(cli::invalid_with("group", "list"));
    }
    if args.has("topic") && (action == "list" || action == "describe") {
        return Err(cli::invalid_with("topic", action));
    }
    match action {
        "describe" => {
            if !selects_groups {
                return Err(Failure::usage("Option [describe] takes one of these options: [all-groups], [group]"));
            }
            if ["members", "offsets", "state"].iter().filter(|o| args.has(o)).count() > 1 {
                return Err(Failure::usage(
                    "Option [describe] takes at most one of these options: [members], [offsets], [state]",
                ));
            }
            if args.has("state") && args.value("state").is_some() {
                return Err(Failure::usage("Option [describe] does not take a value for [state]"));
            }
        }
        "delete" => {
            if !selects_groups {
                return Err(Failure::usage("Option [delete] takes one of these options: [all-groups], [group]"));
            }
            if args.has("topic") {
                return Err(Failure::usage(
                    "The consumer does not support topic-specific offset deletion from a consumer group.",
                ));
            }
        }
        "delete-offsets" if !args.has("group") || !args.has("topic") => {
            return Err(Failure::usage("Option [delete-offsets] takes the following options: [group], [topic]"));
        }
        "reset-offsets" => {
            if args.has("dry-run") && args.has("execute") {
                return Err(Failure::usage("Option [reset-offsets] only accepts one of [execute] and [dry-run]"));
            }
            if !selects_groups {
                return Err(Failure::usage("Option [reset-offsets] takes one of these options: [all-groups], [group]"));
            }
            let scenarios: Vec<&str> = SCENARIOS.into_iter().filter(|s| args.has(s)).collect();
            match scenarios.as_slice() {
                [] => {
                    return Err(Failure::usage(format!(
                        "Option '[reset-offsets]' requires one of the following scenarios: [{}]",
                        SCENARIOS.join("], [")
                    )));
                }
                [_] => {}
                [first, second, ..] => return Err(cli::invalid_with(first, second)),
            }
            if !args.has("all-topics") && !args.has("topic") {
                return Err(Failure::usage("One of the reset scopes should be defined: --all-topics, --topic."));
            }
        }
        _ => {}
    }
    Ok(action)
}

/// The admin client's settings: `--command-config`, the bootstrap servers,
/// and `--timeout` as the time each call may take.
fn admin_props(args: &Args) -> Result<Props, Failure> {
    let mut props = match args.value("command-config") {
        Some(f) => Props::load(std::path::Path::new(f))?,
        None => Props::new(),
    };
    props.set("bootstrap.servers", args.value("bootstrap-server").unwrap_or_default());
    let timeout: i64 = args.parse("timeout")?.unwrap_or(5000);
    if timeout <= 0 {
        return Err(Failure::usage(format!("--timeout must be positive, got {timeout}")));
    }
    // Kafka gives each admin call --timeout; here the API timeout does,
    // and a single request may not outlast it.
    props.set_default("default.api.timeout.ms", &timeout.to_string());
    props.set_default("request.timeout.ms", &timeout.min(30_000).to_string());
    Ok(props)
}

/// How `run` reports what it did not expect.
fn failed_due_to(e: &kafka_client::Error) -> Failure {
    Failure::new(format!("Error: Executing consumer group command failed due to {}", jvm::message(e)))
}

/// The groups `--group` names, or every consumer group with `--all-groups`.
async fn selected_groups(admin: &Admin, args: &Args) -> Result<Vec<String>, Failure> {
    if args.has("all-groups") {
        let listed = admin.list_consumer_groups(ListGroupsOptions::new()).await.map_err(|e| failed_due_to(&e))?;
        Ok(listed.into_iter().map(|g| g.group_id).collect())
    } else {
        Ok(args.values("group").into_iter().map(str::to_string).collect())
    }
}

async fn list(admin: &Admin, args: &Args) -> Result<(), Failure> {
    if !args.has("state") {
        let listed = admin.list_consumer_groups(ListGroupsOptions::new()).await.map_err(|e| failed_due_to(&e))?;
        for g in listed {
            println!("{}", g.group_id);
        }
        return Ok(());
    }
    let mut states = Vec::new();
    if let Some(input) = args.value("state").filter(|v| !v.is_empty()) {
        for s in input.split(',') {
            match GroupState::parse(s) {
                GroupState::Unknown => {
                    return Err(Failure::usage(format!(
                        "Invalid state list '{input}'. Valid states are: PreparingRebalance, CompletingRebalance, \
                         Stable, Dead, Empty, Assigning, Reconciling"
                    )));
                }
                state => states.push(state),
            }
        }
    }
    let listed =
        admin.list_consumer_groups(ListGroupsOptions::new().states(states)).await.map_err(|e| failed_due_to(&e))?;
    let rows: Vec<(String, String)> =
        listed.into_iter().map(|g| (g.group_id, g.state.unwrap_or(GroupState::Unknown).name().to_string())).collect();
    print!("{}", groups::list_with_state(&rows));
    Ok(())
}

/// A group as `--describe` found it, or why it could not be described.
async fn describe_groups(
    admin: &Admin,
    ids: &[String],
) -> Result<BTreeMap<String, Result<ConsumerGroupDescription, Failure>>, Failure> {
    let described = admin.describe_consumer_groups(ids.to_vec()).await.map_err(|e| failed_due_to(&e))?;
    Ok(described
        .into_iter()
        .map(|(id, r)| {
            let r = match r {
                Ok(d) if d.state == GroupState::Dead => Err(does_not_exist(&id)),
                Ok(d) => Ok(d),
                Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => Err(does_not_exist(&id)),
                Err(e) => Err(failed_due_to(&e)),
            };
            (id, r)
        })
        .collect())
}

fn does_not_exist(group: &str) -> Failure {
    Failure::new(format!("Error: Consumer group '{group}' does not exist."))
}

/// `shouldPrintMemberState`: Kafka's notices about the group's state on
/// stderr; whether there is a table to print.
fn notice_state(group: &str, state: GroupState, rows: usize) -> Result<bool, Failure> {
    match state {
        GroupState::Empty => eprintln!("\nConsumer group '{group}' has no active members."),
        GroupState::PreparingRebalance
        | GroupState::CompletingRebalance
        | GroupState::Assigning
        | GroupState::Reconciling => eprintln!("\nWarning: Consumer group '{group}' is rebalancing."),
        GroupState::Stable => {}
        GroupState::Dead => return Err(does_not_exist(group)),
        GroupState::Unknown => {
            return Err(Failure::new(format!(
                "Error: Executing consumer group command failed due to Expected a valid consumer group state, but \
                 found '{state}'."
            )));
        }
    }
    Ok(rows > 0)
}

async fn describe(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let ids = selected_groups(admin, args).await?;
    let described = describe_groups(admin, &ids).await?;
    let mut first_failure = None;
    // Kafka keeps the groups in a TreeMap: by id.
    for group in described.into_values() {
        let shown = match group {
            Ok(g) if args.has("members") => describe_members(&g),
            Ok(g) if args.has("state") => describe_state(admin, &g).await,
            Ok(g) => describe_offsets(admin, &g, isolation_level(args)?).await,
            Err(e) => Err(e),
        };
        if let Err(e) = shown {
            first_failure.get_or_insert(e);
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// `collectGroupOffsets`: one row per partition of each member with
/// partitions (members with the most partitions first, each member's
/// partitions in order), then the partitions with a committed offset that
/// no member owns.
async fn describe_offsets(
    admin: &Admin,
    g: &ConsumerGroupDescription,
    isolation: IsolationLevel,
) -> Result<(), Failure> {
    let committed = committed_offsets(admin, &g.group_id).await?;
    let mut members: Vec<_> = g.members.iter().filter(|m| !m.assignment.is_empty()).collect();
    // A stable sort: equal counts keep the coordinator's member order.
    members.sort_by_key(|m| Reverse(m.assignment.len()));
    let assigned: BTreeSet<&TopicPartition> = members.iter().flat_map(|m| &m.assignment).collect();
    let everything: BTreeSet<TopicPartition> =
        assigned.iter().map(|tp| (*tp).clone()).chain(committed.keys().cloned()).collect();
    let ends = log_end_offsets(admin, &everything, isolation).await?;
    let row = |tp: &TopicPartition, owner: Option<(&str, &str, &str)>| {
        let current = committed.get(tp).copied();
        let log_end = ends.get(tp).copied();
        let (consumer_id, host, client_id) = owner.unwrap_or((MISSING, MISSING, MISSING));
        OffsetRow {
            topic: Some(tp.topic.to_string()),
            partition: Some(tp.partition),
            current_offset: current,
            log_end_offset: log_end,
            lag: current.filter(|o| *o != -1).zip(log_end).map(|(c, e)| e - c),
            consumer_id: consumer_id.to_string(),
            host: host.to_string(),
            client_id: client_id.to_string(),
        }
    };
    let mut rows = Vec::new();
    for m in members {
        let mut parts: Vec<&TopicPartition> = m.assignment.iter().collect();
        parts.sort();
        for tp in parts {
            rows.push(row(tp, Some((&m.member_id, &m.host, &m.client_id))));
        }
    }
    for tp in committed.keys().filter(|tp| !assigned.contains(tp)) {
        rows.push(row(tp, None));
    }
    if notice_state(&g.group_id, g.state, rows.len())? {
        print!("{}", groups::offsets_table(&g.group_id, &rows));
    }
    Ok(())
}

fn describe_members(g: &ConsumerGroupDescription) -> Result<(), Failure> {
    let rows: Vec<MemberRow> = g
        .members
        .iter()
        .map(|m| MemberRow {
            consumer_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            host: m.host.clone(),
            client_id: m.client_id.clone(),
            partitions: m.assignment.len(),
        })
        .collect();
    if notice_state(&g.group_id, g.state, rows.len())? {
        print!("{}", groups::members_table(&g.group_id, &rows));
    }
    Ok(())
}

async fn describe_state(admin: &Admin, g: &ConsumerGroupDescription) -> Result<(), Failure> {
    let cluster = admin.describe_cluster().await.map_err(|e| failed_due_to(&e))?;
    let coordinator = match cluster.brokers.iter().find(|b| b.id == g.coordinator) {
        Some(b) => format!("{}:{}  ({})", b.host, b.port, b.id),
        None => format!("{MISSING}  ({})", g.coordinator),
    };
    if notice_state(&g.group_id, g.state, 1)? {
        print!("{}", groups::state_table(&g.group_id, &coordinator, &g.assignor, g.state.name(), g.members.len()));
    }
    Ok(())
}

/// The group's committed offsets, by partition.
async fn committed_offsets(admin: &Admin, group: &str) -> Result<BTreeMap<TopicPartition, i64>, Failure> {
    let listed = admin.list_consumer_group_offsets(group, None).await.map_err(|e| failed_due_to(&e))?;
    let mut out = BTreeMap::new();
    for (tp, r) in listed {
        if let Some(o) = r.map_err(|e| failed_due_to(&e))? {
            out.insert(tp, o.offset);
        }
    }
    Ok(out)
}

/// The partitions of `topics` that have a leader, as Kafka's
/// `filterNoneLeaderPartitions` does before asking leaders for offsets
/// (a partition without one would only time out). Missing topics have
/// none.
async fn led_partitions(admin: &Admin, topics: BTreeSet<&str>) -> Result<BTreeSet<TopicPartition>, Failure> {
    if topics.is_empty() {
        return Ok(BTreeSet::new());
    }
    let described = admin.describe_topics(topics).await.map_err(|e| failed_due_to(&e))?;
    Ok(described
        .into_iter()
        .filter_map(|(name, d)| d.ok().map(|d| (name, d)))
        .flat_map(|(name, d)| {
            d.partitions
                .into_iter()
                .filter(|p| p.leader.is_some())
                .map(move |p| TopicPartition::new(name.as_str(), p.partition))
        })
        .collect())
}

/// `--isolation-level`: read_uncommitted unless asked.
fn isolation_level(args: &Args) -> Result<IsolationLevel, Failure> {
    match args.value("isolation-level") {
        None | Some("read_uncommitted") => Ok(IsolationLevel::ReadUncommitted),
        Some("read_committed") => Ok(IsolationLevel::ReadCommitted),
        Some(other) => Err(Failure::usage(format!(
            "Invalid value '{other}' for --isolation-level: read_uncommitted or read_committed"
        ))),
    }
}

/// The end of each partition that has a leader; the others are left out
/// (Kafka prints `-`). The high watermark, or under read_committed the last
/// stable offset.
async fn log_end_offsets(
    admin: &Admin,
    partitions: &BTreeSet<TopicPartition>,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>, Failure> {
    let led = led_partitions(admin, partitions.iter().map(|tp| &*tp.topic).collect()).await?;
    let asked: Vec<(TopicPartition, OffsetSpec)> =
        partitions.iter().filter(|tp| led.contains(tp)).map(|tp| (tp.clone(), OffsetSpec::Latest)).collect();
    if asked.is_empty() {
        return Ok(BTreeMap::new());
    }
    let found = admin
        .list_offsets(asked, ListOffsetsOptions::new().isolation_level(isolation))
        .await
        .map_err(|e| failed_due_to(&e))?;
    Ok(found.into_iter().filter_map(|(tp, r)| r.ok().map(|o| (tp, o.offset))).collect())
}

async fn delete(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let ids = selected_groups(admin, args).await?;
    let results = admin.delete_consumer_groups(ids).await.map_err(|e| failed_due_to(&e))?;
    // Kafka collects the outcomes in HashMaps, and prints them in their order.
    let java_order = |ids: Vec<String>| {
        let keyed = ids.into_iter().map(|g| (jvm::string_hash(&g), g)).collect();
        jvm::hash_map_order(keyed, None)
    };
    let quoted = |ids: Vec<String>| java_order(ids).iter().map(|g| format!("'{g}'")).collect::<Vec<_>>().join(", ");
    let mut deleted = Vec::new();
    let mut failed = BTreeMap::new();
    for (id, r) in results {
        match r {
            Ok(()) => deleted.push(id),
            Err(e) => {
                failed.insert(id, e);
            }
        }
    }
    if failed.is_empty() {
        println!("Deletion of requested consumer groups ({}) was successful.", quoted(deleted));
        return Ok(());
    }
    if !deleted.is_empty() {
        println!("\nThese consumer groups were deleted successfully: {}", quoted(deleted));
    }
    let reasons: Vec<String> = java_order(failed.keys().cloned().collect())
        .into_iter()
        .filter_map(|g| {
            let e = failed.get(&g)?;
            Some(format!("* Group '{g}' could not be deleted due to: {}", jvm::to_string(e)))
        })
        .collect();
    Err(Failure::new(format!("Error: Deletion of some consumer groups failed: {}", reasons.join(" "))))
}

/// `--topic` arguments of a reset or offset deletion: `topic` (every
/// partition) or `topic:0,1,2`.
async fn partitions_of(admin: &Admin, topic_args: &[&str]) -> Result<Vec<TopicPartition>, Failure> {
    let mut explicit = Vec::new();
    let mut whole = Vec::new();
    for arg in topic_args {
        match arg.split_once(':') {
            None => whole.push(*arg),
            Some((topic, parts)) => {
                if parts.contains(':') {
                    return Err(Failure::usage(format!(
                        "Invalid topic arg '{arg}', expected topic name and partitions"
                    )));
                }
                for p in parts.split(',') {
                    let p: i32 = p.trim().parse().map_err(|_| {
                        Failure::usage(format!("Invalid partition '{p}' specified in topic arg '{arg}''"))
                    })?;
                    explicit.push(TopicPartition::new(topic, p));
                }
            }
        }
    }
    if !whole.is_empty() {
        let described = admin.describe_topics(whole.clone()).await.map_err(|e| failed_due_to(&e))?;
        for topic in whole {
            let d =
                described.get(topic).cloned().unwrap_or_else(|| Err(kafka_client::Error::UnknownTopic(topic.into())));
            let d = d.map_err(|e| failed_due_to(&e))?;
            explicit.extend(d.partitions.iter().map(|p| TopicPartition::new(topic, p.partition)));
        }
    }
    Ok(explicit)
}

fn scenario(args: &Args) -> Result<Scenario, Failure> {
    if args.has("to-offset") {
        return Ok(Scenario::ToOffset(args.parse("to-offset")?.unwrap_or_default()));
    }
    if args.has("shift-by") {
        return Ok(Scenario::ShiftBy(args.parse("shift-by")?.unwrap_or_default()));
    }
    if let Some(text) = args.value("to-datetime") {
        let ts = javafmt::parse_datetime(text).map_err(|e| {
            Failure::new(format!("Error: Executing consumer group command failed due to java.text.ParseException: {e}"))
        })?;
        return Ok(Scenario::ToTime(ts));
    }
    if let Some(text) = args.value("by-duration") {
        let ms = groups::parse_duration(text).ok_or_else(|| {
            Failure::new("Error: Executing consumer group command failed due to Text cannot be parsed to a Duration")
        })?;
        return Ok(Scenario::ToTime(javafmt::now_ms().saturating_sub(ms)));
    }
    if args.has("to-earliest") {
        return Ok(Scenario::ToEarliest);
    }
    if args.has("to-latest") {
        return Ok(Scenario::ToLatest);
    }
    Ok(Scenario::ToCurrent)
}

async fn reset_offsets(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let scenario = scenario(args)?;
    let execute = args.has("execute");
    if !execute && !args.has("dry-run") {
        // Kafka's words, its missing space included.
        eprintln!(
            "WARN: No action will be performed as the --execute option is missing.In a future major release, the \
             default behavior of this command will be to prompt the user before executing the reset rather than \
             doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and \
             want to keep the current default behavior without prompting."
        );
    }
    let ids = selected_groups(admin, args).await?;
    let described = admin.describe_consumer_groups(ids.clone()).await.map_err(|e| failed_due_to(&e))?;
    let mut plans = Vec::new();
    let mut first_failure = None;
    // Kafka keeps the plans in a HashMap by group id.
    let keyed = ids.iter().map(|g| (jvm::string_hash(g), g.clone())).collect();
    for id in jvm::hash_map_order(keyed, None) {
        let inactive = match described.get(&id) {
            Some(Ok(d)) => match d.state {
                GroupState::Empty | GroupState::Dead => Ok(()),
                state => Err(Failure::new(format!(
                    "Error: Assignments can only be reset if the group '{id}' is inactive, but the current state is \
                     {state}."
                ))),
            },
            // A group that does not exist yet gets the offsets: that creates it.
            Some(Err(e)) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => Ok(()),
            Some(Err(e)) => Err(failed_due_to(e)),
            None => Err(does_not_exist(&id)),
        };
        let planned = match inactive {
            Ok(()) => reset_group(admin, args, &id, scenario, execute).await,
            Err(e) => Err(e),
        };
        match planned {
            Ok(plan) => plans.push((id, plan)),
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    if !plans.is_empty() {
        print!("{}", groups::reset_plan_table(&plans));
    }
    first_failure.map_or(Ok(()), Err)
}

/// The new offsets of one inactive group's partitions; committed with
/// `--execute`.
async fn reset_group(
    admin: &Admin,
    args: &Args,
    group: &str,
    scenario: Scenario,
    execute: bool,
) -> Result<Vec<(TopicPartition, i64)>, Failure> {
    let committed = committed_offsets(admin, group).await?;
    let partitions: Vec<TopicPartition> = if args.has("all-topics") {
        committed.keys().cloned().collect()
    } else {
        partitions_of(admin, &args.values("topic")).await?
    };
    let plan: Vec<(TopicPartition, i64)> = match scenario {
        Scenario::ToOffset(n) => clamp(admin, partitions.iter().map(|tp| (tp.clone(), n)).collect()).await?,
        Scenario::ShiftBy(n) => {
            let mut wanted = Vec::new();
            for tp in &partitions {
                let current = committed.get(tp).ok_or_else(|| {
                    Failure::usage(format!(
                        "Cannot shift offset for partition {tp} since there is no current committed offset"
                    ))
                })?;
                wanted.push((tp.clone(), current.saturating_add(n)));
            }
            clamp(admin, wanted).await?
        }
        Scenario::ToEarliest => offsets(admin, &partitions, OffsetSpec::Earliest, "starting offset").await?,
        Scenario::ToLatest => offsets(admin, &partitions, OffsetSpec::Latest, "ending offset").await?,
        Scenario::ToTime(ts) => {
            let found = offsets(admin, &partitions, OffsetSpec::Timestamp(ts), "offset by timestamp").await?;
            let mut plan = Vec::new();
            let mut empty = Vec::new();
            for (tp, o) in found {
                if o >= 0 {
                    plan.push((tp, o));
                } else {
                    // No record at or after the time.
                    println!(
                        "\nWarn: Partition {} from topic {} is empty. Falling back to latest known offset.",
                        tp.partition, tp.topic
                    );
                    empty.push(tp);
                }
            }
            plan.extend(offsets(admin, &empty, OffsetSpec::Latest, "ending offset").await?);
            plan
        }
        Scenario::ToCurrent => {
            let (with, without): (Vec<TopicPartition>, Vec<TopicPartition>) =
                partitions.iter().cloned().partition(|tp| committed.contains_key(tp));
            let mut plan: Vec<(TopicPartition, i64)> =
                with.into_iter().filter_map(|tp| committed.get(&tp).map(|o| (tp.clone(), *o))).collect();
            plan.extend(offsets(admin, &without, OffsetSpec::Latest, "ending offset").await?);
            plan
        }
    };
    if execute && !plan.is_empty() {
        let offsets = plan.iter().map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o)));
        let results = admin.alter_consumer_group_offsets(group, offsets).await.map_err(|e| failed_due_to(&e))?;
        if let Some(e) = results.into_values().find_map(Result::err) {
            return Err(failed_due_to(&e));
        }
    }
    Ok(plan)
}

/// One offset of each partition; a partition whose leader cannot say is
/// Kafka's "Error getting `<what>` offset of topic partition: t-p".
async fn offsets(
    admin: &Admin,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    what: &str,
) -> Result<Vec<(TopicPartition, i64)>, Failure> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let asked = partitions.iter().map(|tp| (tp.clone(), spec));
    let mut found = admin.list_offsets(asked, ListOffsetsOptions::new()).await.map_err(|e| failed_due_to(&e))?;
    let mut out = Vec::new();
    for tp in partitions {
        match found.remove(tp) {
            Some(Ok(o)) => out.push((tp.clone(), o.offset)),
            _ => return Err(Failure::usage(format!("Error getting {what} of topic partition: {tp}"))),
        }
    }
    Ok(out)
}

/// `checkOffsetsRange`: an offset past either end of its partition moves
/// to that end, with Kafka's warning.
async fn clamp(admin: &Admin, wanted: Vec<(TopicPartition, i64)>) -> Result<Vec<(TopicPartition, i64)>, Failure> {
    let parts: Vec<TopicPartition> = wanted.iter().map(|(tp, _)| tp.clone()).collect();
    let starts: BTreeMap<TopicPartition, i64> =
        offsets(admin, &parts, OffsetSpec::Earliest, "starting offset").await?.into_iter().collect();
    let ends: BTreeMap<TopicPartition, i64> =
        offsets(admin, &parts, OffsetSpec::Latest, "ending offset").await?.into_iter().collect();
    Ok(wanted
        .into_iter()
        .map(|(tp, offset)| {
            let (start, end) = (starts.get(&tp).copied().unwrap_or(0), ends.get(&tp).copied().unwrap_or(offset));
            let fixed = if offset > end {
                eprintln!(
                    "WARN New offset ({offset}) is higher than latest offset for topic partition {tp}. Value will be \
                     set to {end}"
                );
                end
            } else if offset < start {
                eprintln!(
                    "WARN New offset ({offset}) is lower than earliest offset for topic partition {tp}. Value will be \
                     set to {start}"
                );
                start
            } else {
                offset
            };
            (tp, fixed)
        })
        .collect())
}

async fn delete_offsets(admin: &Admin, args: &Args) -> Result<(), Failure> {
    let group = args.required("group")?;
    let partitions = partitions_of(admin, &args.values("topic")).await?;
    let results = match admin.delete_consumer_group_offsets(group, partitions).await {
        Ok(r) => r,
        Err(e) if e.code().is_some() => return Err(Failure::new(format!("Error: {}", jvm::message(&e)))),
        Err(e) => return Err(failed_due_to(&e)),
    };
    let failed = results.values().any(Result::is_err);
    if !failed {
        println!("Request succeeded for deleting offsets from group {group}.");
    }
    let width = results.keys().map(|tp| tp.topic.chars().count()).fold(15, usize::max);
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut out = format!("\n{:<width$} {:<10} {:<15}", "TOPIC", "PARTITION", "STATUS");
    for (tp, r) in &results {
        let status = match r {
            Ok(()) => "Successful".to_string(),
            Err(e) => format!("Error: {}", jvm::message(e)),
        };
        rows.push((
            format!("{}{}", tp.topic, tp.partition),
            format!("\n{:<width$} {:<10} {status:<15}", tp.topic, tp.partition),
        ));
    }
    // Kafka sorts the rows by topic and partition joined as one string.
    rows.sort();
    for (_, line) in rows {
        out.push_str(&line);
    }
    println!("{out}");
    if failed {
        return Err(Failure::new("Error: Encountered some partition-level error, see the follow-up details."));
    }
    Ok(())
}
