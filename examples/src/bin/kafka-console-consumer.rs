//! `kafka-console-consumer`: Kafka's `ConsoleConsumer`. Prints records to
//! standard output with Kafka's `DefaultMessageFormatter` (see
//! `--property print.*`), and `Processed a total of N messages` on stderr
//! when it ends: after `--max-messages`, after `--timeout-ms` without a
//! record, or on Ctrl-C.
//!
//! ```text
//! kafka-console-consumer --bootstrap-server 127.0.0.1:9092 --topic orders --from-beginning \
//!     --property print.key=true --property print.offset=true
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::formatter::{DEFAULT_FORMATTER_CLASSES, MessageFormatter};
use examples::props::Props;
use examples::signals::{Stop, shutdown_signal};
use kafka_client::TopicPartition;
use kafka_client::consumer::{Consumer, ConsumerRecord};

const FORMATTER_PROPS_HELP: &str = "The properties to initialize the message formatter. Default properties include: \n print.timestamp=true|false\n print.key=true|false\n print.offset=true|false\n print.partition=true|false\n print.headers=true|false\n print.value=true|false\n key.separator=<key.separator>\n line.separator=<line.separator>\n headers.separator=<headers.separator>\n null.literal=<null.literal>\n key.deserializer=<key.deserializer>\n value.deserializer=<value.deserializer>\n headers.deserializer=<headers.deserializer>";

const OPTS: &[Opt] = &[
    Opt::value("topic", "String: topic", "The topic to consume from."),
    Opt::value("include", "String: Java regex (String)", "Regular expression specifying list of topics to include for consumption."),
    Opt::value("partition", "Integer: partition", "The partition to consume from. Consumption starts from the end of the partition unless '--offset' is specified."),
    Opt::value("offset", "String: consume offset", "The offset to consume from (a non-negative number), or 'earliest' which means from beginning, or 'latest' which means from end").default("latest"),
    Opt::value("consumer-property", "String: consumer_prop", "A mechanism to pass user-defined properties in the form key=value to the consumer."),
    Opt::value("consumer.config", "String: config file", "Consumer config properties file. Note that [consumer-property] takes precedence over this config."),
    Opt::value("formatter", "String: class", "The name of a class to use for formatting kafka messages for display. Only DefaultMessageFormatter is available here.").default("org.apache.kafka.tools.consumer.DefaultMessageFormatter"),
    Opt::value("formatter-config", "String: config file", "Config properties file to initialize the message formatter. Note that [property] takes precedence over this config."),
    Opt::value("property", "String: prop", FORMATTER_PROPS_HELP),
    Opt::value("formatter-property", "String: prop", "The same as --property (its name in later Kafka releases)."),
    Opt::flag("from-beginning", "If the consumer does not already have an established offset to consume from, start with the earliest message present in the log rather than the latest message."),
    Opt::value("max-messages", "Integer: num_messages", "The maximum number of messages to consume before exiting. If not set, consumption is continual."),
    Opt::value("timeout-ms", "Long: timeout_ms", "If specified, exit if no message is available for consumption for the specified interval."),
    Opt::flag("skip-message-on-error", "If there is an error when processing a message, skip it instead of halt."),
    Opt::value("bootstrap-server", "String: server to connect to", "REQUIRED: The server(s) to connect to."),
    Opt::value("key-deserializer", "String: deserializer for keys", "The name of the class to use for deserializing keys."),
    Opt::value("value-deserializer", "String: deserializer for values", "The name of the class to use for deserializing values."),
    Opt::flag("enable-systest-events", "Log lifecycle events of the consumer in addition to logging consumed messages. (This is specific for system tests.)"),
    Opt::value("isolation-level", "String", "Set to read_committed in order to filter out transactional messages which are not committed. Set to read_uncommitted to read all messages.").default("read_uncommitted"),
    Opt::value("group", "String: consumer group id", "The consumer group id of the consumer."),
];

const TOOL: Tool = Tool {
    name: "kafka-console-consumer",
    about: "This tool helps to read data from Kafka topics and outputs it to standard output.",
    opts: OPTS,
};

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        let config = Config::new(&args)?;
        cli::runtime()?.block_on(consume(config))
    })
}

/// Where a `--partition` consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    Earliest,
    Latest,
    Offset(i64),
}

/// What to read.
#[derive(Debug, Clone)]
enum Source {
    /// One partition, without the group's assignment.
    Partition(TopicPartition, StartAt),
    /// A topic through the group.
    Topic(String),
    /// Every topic matching a regular expression, through the group.
    Include(String),
}

struct Config {
    source: Source,
    props: Props,
    formatter: MessageFormatter,
    max_messages: Option<i64>,
    timeout: Option<Duration>,
    skip_errors: bool,
    systest_events: bool,
}

impl Config {
    fn new(args: &Args) -> Result<Config, Failure> {
        if args.has("topic") == args.has("include") {
            return Err(Failure::usage("Exactly one of the following arguments is required: [topic], [include]"));
        }
        let partition: Option<i32> = if args.has("partition") { args.parse("partition")? } else { None };
        if partition.is_some() {
            if !args.has("topic") {
                return Err(Failure::usage("The topic is required when partition is specified."));
            }
            if args.has("from-beginning") && args.has("offset") {
                return Err(Failure::usage("Options from-beginning and offset cannot be specified together."));
            }
        } else if args.has("offset") {
            return Err(Failure::usage("The partition is required when offset is specified."));
        }
        let bootstrap = args.value("bootstrap-server").ok_or_else(|| cli::missing("bootstrap-server"))?;

        let file = match args.value("consumer.config") {
            Some(f) => Props::load(std::path::Path::new(f))?,
            None => Props::new(),
        };
        let extra = Props::from_key_values(args.values("consumer-property"))?;
        // The group id may come from three places; they must agree.
        let mut groups: Vec<&str> = Vec::new();
        for g in [args.value("group"), file.get("group.id"), extra.get("group.id")].into_iter().flatten() {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        if groups.len() > 1 {
            let list: Vec<String> = groups.iter().map(|g| format!("'{g}'")).collect();
            return Err(Failure::usage(format!(
                "The group ids provided in different places (directly using '--group', via '--consumer-property', \
                 or via '--consumer.config') do not match. Detected group ids: {}",
                list.join(", ")
            )));
        }
        if !groups.is_empty() && partition.is_some() {
            return Err(Failure::usage("Options group and partition cannot be specified together."));
        }
        let group = groups.first().map(|g| g.to_string());

        let mut props = file.clone();
        props.extend(extra);
        let from_beginning = args.has("from-beginning");
        match props.get("auto.offset.reset") {
            Some(reset) if from_beginning && reset != "earliest" => {
                return Err(Failure::usage(format!(
                    "Can't simultaneously specify --from-beginning and 'auto.offset.reset={reset}', please remove one \
                     option"
                )));
            }
            Some(_) => {}
            None => props.set("auto.offset.reset", if from_beginning { "earliest" } else { "latest" }),
        }
        props.set("bootstrap.servers", bootstrap);
        props.set_default("client.id", "console-consumer");
        let isolation = if args.has("isolation-level") { args.value("isolation-level") } else { None };
        props.merge_option("isolation.level", isolation, "read_uncommitted");
        match group {
            Some(g) => props.set("group.id", g),
            None => {
                // Kafka's throwaway group; committing its offsets would only
                // grow the coordinator's cache.
                props.set("group.id", format!("console-consumer-{}", fastrand::u32(0..100_000)));
                props.set_default("enable.auto.commit", "false");
            }
        }

        let source = match (partition, args.value("topic"), args.value("include")) {
            (Some(p), Some(t), _) => {
                let start = if args.has("offset") {
                    parse_offset(args.value("offset").unwrap_or("latest"))?
                } else if from_beginning {
                    StartAt::Earliest
                } else {
                    StartAt::Latest
                };
                Source::Partition(TopicPartition::new(t, p), start)
            }
            (None, Some(t), _) => Source::Topic(t.to_string()),
            (_, _, Some(pattern)) => Source::Include(pattern.to_string()),
            _ => return Err(Failure::usage("Exactly one of the following arguments is required: [topic], [include]")),
        };

        let class = args.value("formatter").unwrap_or(DEFAULT_FORMATTER_CLASSES[0]);
        if !DEFAULT_FORMATTER_CLASSES.contains(&class) {
            return Err(Failure::usage(format!(
                "formatter {class} is not available; only {} formats records here",
                DEFAULT_FORMATTER_CLASSES[0]
            )));
        }
        let mut formatter_props = match args.value("formatter-config") {
            Some(f) => Props::load(std::path::Path::new(f))?,
            None => Props::new(),
        };
        for (opt, key) in [("key-deserializer", "key.deserializer"), ("value-deserializer", "value.deserializer")] {
            if let Some(v) = args.value(opt).filter(|v| !v.is_empty()) {
                formatter_props.set(key, v);
            }
        }
        formatter_props.extend(Props::from_key_values(args.values("property"))?);
        formatter_props.extend(Props::from_key_values(args.values("formatter-property"))?);

        let timeout = match args.parse::<i64>("timeout-ms")? {
            Some(ms) if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            _ => None,
        };
        Ok(Config {
            source,
            props,
            formatter: MessageFormatter::configure(&formatter_props)?,
            max_messages: args.parse::<i64>("max-messages")?,
            timeout,
            skip_errors: args.has("skip-message-on-error"),
            systest_events: args.has("enable-systest-events"),
        })
    }
}

fn parse_offset(v: &str) -> Result<StartAt, Failure> {
    match v.to_ascii_lowercase().as_str() {
        "earliest" => Ok(StartAt::Earliest),
        "latest" => Ok(StartAt::Latest),
        _ => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(StartAt::Offset(n)),
            _ => Err(Failure::usage(format!(
                "The provided offset value '{v}' is incorrect. Valid values are 'earliest', 'latest', or a \
                 non-negative long."
            ))),
        },
    }
}

/// Why consuming ended.
enum End {
    /// `--max-messages` reached, or stdout closed.
    Done,
    /// `--timeout-ms` passed without a record.
    Timeout,
    /// A signal.
    Signal(Stop),
}

/// Polls until records arrive; None once `timeout` passes without any.
async fn receive(consumer: &Consumer, timeout: Option<Duration>) -> Result<Option<Vec<ConsumerRecord>>, Failure> {
    let start = Instant::now();
    loop {
        let wait = match timeout {
            Some(t) => t.saturating_sub(start.elapsed()),
            None => Duration::from_secs(3600),
        };
        let records = consumer.poll(wait).await?;
        if !records.is_empty() {
            return Ok(Some(records.into_iter().collect()));
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(None);
        }
    }
}

async fn consume(cfg: Config) -> Result<ExitCode, Failure> {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let consumer = Consumer::from_properties(cfg.props.client_pairs()).build()?;
    match &cfg.source {
        Source::Partition(tp, start) => {
            consumer.assign([tp.clone()])?;
            match start {
                StartAt::Earliest => consumer.seek_to_beginning(std::slice::from_ref(tp))?,
                StartAt::Latest => consumer.seek_to_end(std::slice::from_ref(tp))?,
                StartAt::Offset(o) => consumer.seek(tp, *o)?,
            }
        }
        Source::Topic(t) => consumer.subscribe([t.as_str()])?,
        Source::Include(pattern) => consumer.subscribe_pattern(pattern)?,
    }

    let mut count: i64 = 0;
    let mut pending: VecDeque<ConsumerRecord> = VecDeque::new();
    let mut out: Vec<u8> = Vec::new();
    let mut stdout = std::io::stdout();
    let outcome: Result<End, Failure> = loop {
        // Kafka's loop: until --max-messages (-1, or none, is unlimited).
        if cfg.max_messages.is_some_and(|m| m != -1 && count >= m) {
            break Ok(End::Done);
        }
        if pending.is_empty() {
            if stdout.write_all(&out).and_then(|()| stdout.flush()).is_err() {
                eprintln!("Unable to write to standard out, closing consumer.");
                out.clear();
                break Ok(End::Done);
            }
            out.clear();
            let polled = tokio::select! {
                s = &mut stop => break Ok(End::Signal(s)),
                r = receive(&consumer, cfg.timeout) => r,
            };
            match polled {
                Ok(Some(records)) => pending.extend(records),
                Ok(None) => break Ok(End::Timeout),
                Err(e) => break Err(e),
            }
        }
        let Some(record) = pending.pop_front() else { continue };
        count += 1;
        if let Err(e) = cfg.formatter.write(&record, &mut out) {
            if cfg.skip_errors {
                eprintln!("Error processing message, skipping this message: {e}");
            } else {
                break Err(Failure::new(format!(
                    "Error processing message at {}-{} offset {}: {e}",
                    record.topic, record.partition, record.offset
                )));
            }
        }
    };
    let _ = stdout.write_all(&out).and_then(|()| stdout.flush());
    if let Ok(End::Timeout) = &outcome {
        let ms = cfg.timeout.map_or(0, |t| t.as_millis());
        eprintln!(
            "ERROR Error processing message, terminating consumer process: \
             org.apache.kafka.common.errors.TimeoutException: no message within {ms} ms"
        );
    }
    cleanup(&consumer, pending).await;
    eprintln!("Processed a total of {count} messages");
    if cfg.systest_events {
        println!("shutdown_complete");
    }
    match outcome? {
        End::Done | End::Timeout => Ok(ExitCode::SUCCESS),
        End::Signal(s) => Ok(s.exit_code()),
    }
}

/// Kafka's `ConsumerWrapper.cleanup`: rewinds each partition to its first
/// record fetched but not printed, so the commit on close covers exactly
/// what was printed, then closes.
async fn cleanup(consumer: &Consumer, unprinted: VecDeque<ConsumerRecord>) {
    let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in unprinted {
        first.entry(r.topic_partition()).or_insert(r.offset);
    }
    for (tp, offset) in first {
        let _ = consumer.seek(&tp, offset);
    }
    if let Err(e) = consumer.close().await {
        eprintln!("error while closing the consumer: {e}");
    }
}
