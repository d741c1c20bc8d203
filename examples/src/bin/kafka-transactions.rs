//! `kafka-transactions`: Kafka's `TransactionsCommand`. Lists the
//! transactional ids of the cluster, describes one, describes the producers
//! a partition knows, finds hanging transactions and aborts one — printing
//! what Kafka 4.4's tool prints.
//!
//! ```text
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 list --duration-filter 600000
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 describe --transactional-id payments-1
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 describe-producers --topic payments --partition 0
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 find-hanging --broker-id 1 --max-transaction-timeout 15
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 abort --topic payments --partition 0 --start-offset 1234
//! ```
//!
//! `find-hanging` describes the producers of the partitions searched (a
//! topic's, one partition, or every partition with a replica on the
//! broker), keeps the transactions open for longer than the largest
//! transaction timeout (`--max-transaction-timeout`, in minutes, 15 by
//! default), and reports those whose coordinator does not know them:
//! ListTransactions finds no transactional id for the producer, the id is
//! unknown to DescribeTransactions, or its transaction does not include
//! the partition.
//!
//! Kafka's `forceTerminateTransaction` is not here.
//! Options are given as Kafka's argparse4j reads them: the global ones
//! (`--bootstrap-server`, `--command-config`) before the command, the
//! command's after it, `--name value` or `--name=value`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use examples::cli::{self, Failure};
use examples::props::Props;
use examples::{jvm, transactions};
use kafka_client::TopicPartition;
use kafka_client::admin::{
    AbortTransactionSpec, Admin, DescribeProducersOptions, ListTransactionsOptions, ProducerState,
    TransactionDescription,
};
use kafka_protocol::ErrorCode;

const USAGE: &str = "usage: kafka-transactions [-h] [--command-config FILE] --bootstrap-server host:port COMMAND ...\n\
commands: list, describe, describe-producers, find-hanging, abort";

/// The options of one command, by name, as given.
struct Parsed {
    global: BTreeMap<String, String>,
    command: String,
    opts: BTreeMap<String, String>,
}

/// The options each command takes (every one takes a value).
fn command_options(command: &str) -> Option<&'static [&'static str]> {
    Some(match command {
        "list" => &["duration-filter", "transactional-id-pattern"],
        "describe" => &["transactional-id"],
        "describe-producers" => &["topic", "partition", "broker-id"],
        "find-hanging" => &["broker-id", "max-transaction-timeout", "topic", "partition"],
        "abort" => &["topic", "partition", "start-offset", "producer-id", "producer-epoch", "coordinator-epoch"],
        _ => return None,
    })
}

fn parse(args: Vec<String>) -> Result<Option<Parsed>, Failure> {
    let mut global = BTreeMap::new();
    let mut command = None;
    let mut opts = BTreeMap::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "-h" || a == "--help" {
            return Ok(None);
        }
        let Some(name) = a.strip_prefix("--") else {
            if command.is_some() {
                return Err(Failure::usage(format!("unrecognized arguments: '{a}'")));
            }
            if command_options(&a).is_none() {
                return Err(Failure::usage(format!(
                    "argument COMMAND: invalid choice: '{a}' (choose from 'list', 'describe', 'describe-producers', 'abort', 'find-hanging')"
                )));
            }
            command = Some(a);
            continue;
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (name.to_string(), None),
        };
        let allowed = match &command {
            None => ["bootstrap-server", "command-config"].contains(&name.as_str()),
            Some(c) => command_options(c).is_some_and(|o| o.contains(&name.as_str())),
        };
        if !allowed {
            return Err(Failure::usage(format!("unrecognized arguments: '--{name}'")));
        }
        let value = match inline.or_else(|| it.next()) {
            Some(v) => v,
            None => return Err(Failure::usage(format!("argument --{name}: expected one argument"))),
        };
        if command.is_none() {
            global.insert(name, value)
        } else {
            opts.insert(name, value)
        };
    }
    let Some(command) = command else { return Err(Failure::usage("too few arguments")) };
    if !global.contains_key("bootstrap-server") {
        return Err(Failure::usage("argument --bootstrap-server is required"));
    }
    Ok(Some(Parsed { global, command, opts }))
}

impl Parsed {
    fn required(&self, name: &str) -> Result<&str, Failure> {
        self.opts.get(name).map(String::as_str).ok_or_else(|| Failure::usage(format!("argument --{name} is required")))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Failure> {
        self.opts
            .get(name)
            .map(|v| v.parse().map_err(|_| Failure::usage(format!("argument --{name}: invalid value: '{v}'"))))
            .transpose()
    }

    fn required_number<T: std::str::FromStr>(&self, name: &str) -> Result<T, Failure> {
        self.required(name)?;
        self.number(name)?.ok_or_else(|| Failure::usage(format!("argument --{name} is required")))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match parse(args) {
        Ok(Some(p)) => p,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(f) => {
            eprintln!("{USAGE}\nkafka-transactions: error: {}", f.message());
            return ExitCode::FAILURE;
        }
    };
    match run(&parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message());
            ExitCode::FAILURE
        }
    }
}

fn run(p: &Parsed) -> Result<(), Failure> {
    let mut props = match p.global.get("command-config") {
        Some(f) => Props::load(std::path::Path::new(f))?,
        None => Props::new(),
    };
    let servers = p.global.get("bootstrap-server").map(String::as_str).unwrap_or_default();
    cli::validate_bootstrap(servers)?;
    props.set("bootstrap.servers", servers);
    cli::runtime()?.block_on(async {
        let admin = Admin::from_properties(props.client_pairs()).build().map_err(|e| Failure::new(e.to_string()))?;
        let outcome = match p.command.as_str() {
            "list" => list(&admin, p).await,
            "describe" => describe(&admin, p).await,
            "describe-producers" => describe_producers(&admin, p).await,
            "find-hanging" => find_hanging(&admin, p).await,
            _ => abort(&admin, p).await,
        };
        admin.close().await.ok();
        outcome.map(|text| print!("{text}"))
    })
}

async fn list(admin: &Admin, p: &Parsed) -> Result<String, Failure> {
    let mut options = ListTransactionsOptions::new();
    if let Some(ms) = p.number::<i64>("duration-filter")? {
        options = options.filter_on_duration(ms);
    }
    if let Some(pattern) = p.opts.get("transactional-id-pattern") {
        options = options.filter_on_transactional_id_pattern(pattern.clone());
    }
    let listed = admin.list_transactions(options).await.map_err(|e| failure("Failed to list transactions", &e))?;
    Ok(transactions::list_table(&listed))
}

async fn describe(admin: &Admin, p: &Parsed) -> Result<String, Failure> {
    let id = p.required("transactional-id")?;
    let fail = |e: &kafka_client::Error| {
        let context = format!("Failed to describe transaction state of transactional-id `{id}`");
        match e.code() {
            // Java's admin client words this one itself.
            Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND) => Failure::new(format!(
                "{context}: DescribeTransactions request for transactionalId `{id}` failed because the ID could not be found. {DEBUG_HINT}"
            )),
            _ => failure(&context, e),
        }
    };
    let mut described = admin.describe_transactions([id]).await.map_err(|e| fail(&e))?;
    let d = described
        .remove(id)
        .unwrap_or_else(|| Err(kafka_client::Error::InvalidArgument(format!("no answer for {id}"))))
        .map_err(|e| fail(&e))?;
    Ok(transactions::describe_table(id, &d, now_ms()))
}

async fn producers_of(
    admin: &Admin,
    tp: &TopicPartition,
    options: DescribeProducersOptions,
) -> Result<Vec<ProducerState>, kafka_client::Error> {
    let mut found = admin.describe_producers([tp.clone()], options).await?;
    found.remove(tp).unwrap_or_else(|| Err(kafka_client::Error::InvalidArgument(format!("no answer for {tp}"))))
}

async fn describe_producers(admin: &Admin, p: &Parsed) -> Result<String, Failure> {
    let tp = TopicPartition::new(p.required("topic")?, p.required_number::<i32>("partition")?);
    let mut options = DescribeProducersOptions::new();
    if let Some(b) = p.number::<i32>("broker-id")? {
        options = options.broker_id(b);
    }
    let on = options.broker().map_or_else(|| "leader".to_string(), |b| format!("broker {b}"));
    let producers = producers_of(admin, &tp, options)
        .await
        .map_err(|e| failure(&format!("Failed to describe producers for partition {tp} on {on}"), &e))?;
    Ok(transactions::producers_table(&producers))
}

/// Kafka's tool asks about partitions and producers this many at a time.
const FIND_HANGING_BATCH: usize = 500;

async fn find_hanging(admin: &Admin, p: &Parsed) -> Result<String, Failure> {
    let broker = p.number::<i32>("broker-id")?;
    let topic = p.opts.get("topic");
    let max_minutes = p.number::<i32>("max-transaction-timeout")?.unwrap_or(15);
    if broker.is_none() && topic.is_none() {
        return Err(Failure::new(
            "The `find-hanging` command requires either --topic or --broker-id to limit the scope of the search",
        ));
    }
    let partition = p.number::<i32>("partition")?;
    if partition.is_some() && topic.is_none() {
        return Err(Failure::new("The --partition argument requires --topic to be provided"));
    }
    let max_timeout_ms = i64::from(max_minutes) * 60_000;
    let partitions = match (topic, partition) {
        (Some(t), Some(n)) => vec![TopicPartition::new(t.as_str(), n)],
        (Some(t), None) => partitions_on(admin, broker, vec![t.clone()]).await?,
        (None, _) => {
            let topics = admin.list_topics(true).await.map_err(|e| failure("Failed to list topics", &e))?;
            partitions_on(admin, broker, topics.into_keys().collect()).await?
        }
    };
    let mut candidates = Vec::new();
    for chunk in partitions.chunks(FIND_HANGING_BATCH) {
        let mut options = DescribeProducersOptions::new();
        if let Some(b) = broker {
            options = options.broker_id(b);
        }
        // Java prints the broker as an `Optional`.
        let on = broker.map_or_else(|| "Optional.empty".to_string(), |b| format!("Optional[{b}]"));
        let fail = |e: &kafka_client::Error| {
            failure(&format!("Failed to describe producers for {} partitions on broker {on}", chunk.len()), e)
        };
        let described = admin.describe_producers(chunk.iter().cloned(), options).await.map_err(|e| fail(&e))?;
        let now = now_ms();
        for (tp, producers) in described {
            let producers = producers.map_err(|e| fail(&e))?;
            candidates.extend(transactions::open_for_longer_than(&tp, &producers, now, max_timeout_ms));
        }
    }
    if candidates.is_empty() {
        return Ok(transactions::hanging_table(&[], now_ms()));
    }
    let producer_ids: BTreeSet<i64> = candidates.iter().map(|c| c.producer.producer_id).collect();
    let listed = admin
        .list_transactions(ListTransactionsOptions::new().filter_producer_ids(producer_ids.iter().copied()))
        .await
        .map_err(|e| failure(&format!("Failed to list transactions for {} producers", producer_ids.len()), &e))?;
    let transactional_ids: BTreeMap<i64, String> = listed
        .into_iter()
        .filter(|t| producer_ids.contains(&t.producer_id))
        .map(|t| (t.producer_id, t.transactional_id))
        .collect();
    let ids: BTreeSet<&String> = transactional_ids.values().collect();
    let mut descriptions: BTreeMap<String, Option<TransactionDescription>> = BTreeMap::new();
    if !ids.is_empty() {
        let fail = |e: &kafka_client::Error| failure(&format!("Failed to describe {} transactions", ids.len()), e);
        let described = admin.describe_transactions(ids.iter().map(|s| s.to_string())).await.map_err(|e| fail(&e))?;
        for (id, d) in described {
            let d = match d {
                Ok(d) => Some(d),
                Err(e) if e.code() == Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND) => None,
                Err(e) => return Err(fail(&e)),
            };
            descriptions.insert(id, d);
        }
    }
    let found = transactions::hanging(candidates, &transactional_ids, &descriptions);
    Ok(transactions::hanging_table(&found, now_ms()))
}

/// The partitions of `topics`, those with a replica on `broker` when given.
async fn partitions_on(
    admin: &Admin,
    broker: Option<i32>,
    topics: Vec<String>,
) -> Result<Vec<TopicPartition>, Failure> {
    let mut out = Vec::new();
    for chunk in topics.chunks(FIND_HANGING_BATCH) {
        let fail = |e: &kafka_client::Error| failure(&format!("Failed to describe {} topics", chunk.len()), e);
        let described = admin.describe_topics(chunk.iter().cloned()).await.map_err(|e| fail(&e))?;
        for (name, d) in described {
            let d = d.map_err(|e| fail(&e))?;
            out.extend(
                d.partitions
                    .iter()
                    .filter(|p| broker.is_none_or(|b| p.replicas.contains(&b)))
                    .map(|p| TopicPartition::new(name.as_str(), p.partition)),
            );
        }
    }
    Ok(out)
}

async fn abort(admin: &Admin, p: &Parsed) -> Result<String, Failure> {
    let tp = TopicPartition::new(p.required("topic")?, p.required_number::<i32>("partition")?);
    let spec = match p.number::<i64>("start-offset")? {
        Some(start) => {
            let producers = producers_of(admin, &tp, DescribeProducersOptions::new())
                .await
                .map_err(|e| failure(&format!("Failed to validate producer state for partition {tp}"), &e))?;
            let Some(found) = producers.iter().find(|s| s.current_transaction_start_offset == Some(start)) else {
                return Err(Failure::new(format!(
                    "Could not find any open transactions starting at offset {start} on partition {tp}"
                )));
            };
            AbortTransactionSpec {
                topic_partition: tp.clone(),
                producer_id: found.producer_id,
                producer_epoch: i16::try_from(found.producer_epoch)
                    .map_err(|_| Failure::new(format!("producer epoch {} out of range", found.producer_epoch)))?,
                coordinator_epoch: found.coordinator_epoch.unwrap_or(-1).max(0),
            }
        }
        None => AbortTransactionSpec {
            topic_partition: tp.clone(),
            producer_id: p.required_number("producer-id")?,
            producer_epoch: p.required_number("producer-epoch")?,
            coordinator_epoch: p.required_number("coordinator-epoch")?,
        },
    };
    let shown = format!(
        "AbortTransactionSpec(topicPartition={}, producerId={}, producerEpoch={}, coordinatorEpoch={})",
        spec.topic_partition, spec.producer_id, spec.producer_epoch, spec.coordinator_epoch
    );
    admin.abort_transaction(spec).await.map_err(|e| failure(&format!("Failed to abort transaction {shown}"), &e))?;
    // Kafka's tool prints nothing when the abort succeeds.
    Ok(String::new())
}

/// What Kafka's tool appends to every failure it reports.
const DEBUG_HINT: &str = "Enable debug logging for additional detail.";

/// Kafka's `printErrorAndExit`: the context, the cause's message, the hint.
fn failure(context: &str, e: &kafka_client::Error) -> Failure {
    Failure::new(format!("{context}: {}. {DEBUG_HINT}", jvm::message(e).trim_end_matches('.')))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
