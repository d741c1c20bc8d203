//! `kafka-transactions`: Kafka's `TransactionsCommand`. Lists the
//! transactional ids of the cluster, describes one, describes the producers
//! a partition knows, and aborts a hanging transaction — printing what
//! Kafka 4.4's tool prints.
//!
//! ```text
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 list --duration-filter 600000
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 describe --transactional-id payments-1
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 describe-producers --topic payments --partition 0
//! kafka-transactions --bootstrap-server 127.0.0.1:9092 abort --topic payments --partition 0 --start-offset 1234
//! ```
//!
//! Kafka's `find-hanging` and `forceTerminateTransaction` are not here.
//! Options are given as Kafka's argparse4j reads them: the global ones
//! (`--bootstrap-server`, `--command-config`) before the command, the
//! command's after it, `--name value` or `--name=value`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use examples::cli::{self, Failure};
use examples::props::Props;
use examples::{jvm, transactions};
use kafka_client::TopicPartition;
use kafka_client::admin::{
    AbortTransactionSpec, Admin, DescribeProducersOptions, ListTransactionsOptions, ProducerState,
};
use kafka_protocol::ErrorCode;

const USAGE: &str = "usage: kafka-transactions [-h] [--command-config FILE] --bootstrap-server host:port COMMAND ...\n\
commands: list, describe, describe-producers, abort";

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
                    "argument COMMAND: invalid choice: '{a}' (choose from 'list', 'describe', 'describe-producers', 'abort')"
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
