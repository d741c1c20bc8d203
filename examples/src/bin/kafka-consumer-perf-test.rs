//! `kafka-consumer-perf-test`: Kafka's `ConsumerPerformance`. Consumes
//! `--messages` records through a group and prints Kafka's CSV-like result:
//!
//! ```text
//! start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
//! 2025-01-01 10:00:00:000, 2025-01-01 10:00:02:500, 95.3674, 38.1470, 100000, 40000.0000, 312, 2188, 43.5865, 45703.8391
//! ```
//!
//! MB.sec and nMsg.sec are the throughput over the whole run (MB/s and
//! records/s); the fetch.* columns leave out the time spent joining the
//! group. The same two rates are also printed plainly on stderr.
//!
//! ```text
//! kafka-consumer-perf-test --bootstrap-server 127.0.0.1:9092 --topic perf --messages 100000
//! ```

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::javafmt::{DateFormat, fixed, now_ms};
use examples::perf::{ConsumerTotals, consumer_header, consumer_progress_line, metrics_table};
use examples::props::Props;
use examples::signals::{Stop, shutdown_signal};
use futures::future::BoxFuture;
use kafka_client::TopicPartition;
use kafka_client::consumer::{Consumer, RebalanceListener};

const OPTS: &[Opt] = &[
    Opt::value("bootstrap-server", "String: server to connect to", "REQUIRED: The server(s) to connect to."),
    Opt::value("topic", "String: topic", "The topic to consume from."),
    Opt::value("include", "String: Java regex (String)", "Regular expression specifying list of topics to include for consumption."),
    Opt::value("group", "String: gid", "The group id to consume on. (default: perf-consumer-<random number>)"),
    Opt::value("fetch-size", "Integer: size", "The amount of data to fetch in a single request.").default("1048576"),
    Opt::flag("from-latest", "If the consumer does not already have an established offset to consume from, start with the latest message present in the log rather than the earliest message."),
    Opt::value("socket-buffer-size", "Integer: size", "The size of the tcp RECV size. Accepted and ignored here: the client leaves socket buffers to the OS.").default("2097152"),
    Opt::value("consumer.config", "String: config file", "Consumer config properties file."),
    Opt::flag("print-metrics", "Print out the metrics (the ones this tool measures: records and bytes consumed, rates)."),
    Opt::flag("show-detailed-stats", "If set, stats are reported for each reporting interval as configured by reporting-interval"),
    Opt::optional("timeout", "Long: milliseconds", "The maximum allowed time in milliseconds between returned records.").default("10000"),
    Opt::value("messages", "Long: count", "REQUIRED: The number of messages to consume."),
    Opt::value("num-records", "Long: count", "The same as --messages (its name from Kafka 4.2 on)."),
    Opt::value("reporting-interval", "Long: interval_ms", "Interval in milliseconds at which to print progress info.").default("5000"),
    Opt::value("date-format", "String: date format", "The date format to use for formatting the time field. See java.text.SimpleDateFormat for options (printed in UTC here).").default("yyyy-MM-dd HH:mm:ss:SSS"),
    Opt::flag("hide-header", "If set, skips printing the header for the stats"),
];

const TOOL: Tool = Tool {
    name: "kafka-consumer-perf-test",
    about: "This tool is used to verify the consumer performance.",
    opts: OPTS,
};

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        let config = Config::new(&args)?;
        cli::runtime()?.block_on(run(config))
    })
}

struct Config {
    props: Props,
    topic: Option<String>,
    include: Option<String>,
    messages: u64,
    timeout_ms: i64,
    reporting_interval_ms: i64,
    detailed: bool,
    hide_header: bool,
    print_metrics: bool,
    dates: DateFormat,
}

impl Config {
    fn new(args: &Args) -> Result<Config, Failure> {
        let messages = match args.parse::<i64>("num-records")? {
            Some(n) => n,
            None => args.parse::<i64>("messages")?.ok_or_else(|| cli::missing("messages"))?,
        }
        .max(0) as u64;
        if args.has("topic") == args.has("include") {
            return Err(Failure::usage("Exactly one of the following arguments is required: [topic], [include]"));
        }
        let bootstrap = args.value("bootstrap-server").ok_or_else(|| cli::missing("bootstrap-server"))?;
        let interval = args.value("reporting-interval").unwrap_or("5000");
        if !interval.bytes().all(|b| b.is_ascii_digit()) || interval.is_empty() {
            return Err(Failure::usage(format!(
                "Value [{interval}] of option reporting-interval does not match pattern ^\\d+$"
            )));
        }
        let reporting_interval_ms = args.parse::<i64>("reporting-interval")?.unwrap_or(5000);
        if reporting_interval_ms <= 0 {
            return Err(Failure::usage("Reporting interval must be greater than 0."));
        }
        let mut props = match args.value("consumer.config") {
            Some(f) => Props::load(std::path::Path::new(f))?,
            None => Props::new(),
        };
        props.set("bootstrap.servers", bootstrap);
        let group = match args.value("group") {
            Some(g) => g.to_string(),
            None => format!("perf-consumer-{}", fastrand::u32(0..100_000)),
        };
        props.set("group.id", group);
        props.set("max.partition.fetch.bytes", args.parse::<i64>("fetch-size")?.unwrap_or(1 << 20).to_string());
        props.set("auto.offset.reset", if args.has("from-latest") { "latest" } else { "earliest" });
        props.set("check.crcs", "false");
        props.set_default("client.id", "perf-consumer-client");
        Ok(Config {
            props,
            topic: args.value("topic").map(str::to_string),
            include: args.value("include").map(str::to_string),
            messages,
            timeout_ms: args.parse::<i64>("timeout")?.unwrap_or(10_000),
            reporting_interval_ms,
            detailed: args.has("show-detailed-stats"),
            hide_header: args.has("hide-header"),
            print_metrics: args.has("print-metrics"),
            dates: DateFormat::new(args.value("date-format").unwrap_or("yyyy-MM-dd HH:mm:ss:SSS"))?,
        })
    }
}

/// Time spent in rebalances, as Kafka's `ConsumerPerfRebListener` counts
/// it: from losing the last partition (or the start) to getting some.
#[derive(Debug, Default)]
struct JoinTime {
    assigned: BTreeSet<TopicPartition>,
    join_start_ms: i64,
    total_ms: i64,
    /// Since the last detailed-stats line.
    interval_ms: i64,
}

struct JoinListener(Arc<Mutex<JoinTime>>);

impl JoinListener {
    fn with<R>(&self, f: impl FnOnce(&mut JoinTime) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl RebalanceListener for JoinListener {
    fn on_partitions_revoked<'a>(&'a self, _: &'a Consumer, partitions: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        self.with(|j| {
            for tp in partitions {
                j.assigned.remove(tp);
            }
            if j.assigned.is_empty() {
                j.join_start_ms = now_ms();
            }
        });
        Box::pin(async {})
    }

    fn on_partitions_assigned<'a>(&'a self, _: &'a Consumer, partitions: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        self.with(|j| {
            if j.assigned.is_empty() {
                let elapsed = now_ms() - j.join_start_ms;
                j.total_ms += elapsed;
                j.interval_ms += elapsed;
            }
            j.assigned.extend(partitions.iter().cloned());
        });
        Box::pin(async {})
    }
}

async fn run(cfg: Config) -> Result<ExitCode, Failure> {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    if !cfg.hide_header {
        println!("{}", consumer_header(cfg.detailed));
    }
    let consumer = Consumer::from_properties(cfg.props.client_pairs()).build()?;
    let start_ms = now_ms();
    let join = Arc::new(Mutex::new(JoinTime { join_start_ms: start_ms, ..JoinTime::default() }));
    let listener = JoinListener(join.clone());
    match (&cfg.topic, &cfg.include) {
        (Some(t), _) => consumer.subscribe_with([t.as_str()], listener)?,
        (None, Some(p)) => consumer.subscribe_pattern_with(p, listener)?,
        (None, None) => {
            return Err(Failure::usage("Exactly one of the following arguments is required: [topic], [include]"));
        }
    }
    let join_ms = |f: fn(&mut JoinTime) -> i64| f(&mut join.lock().unwrap_or_else(std::sync::PoisonError::into_inner));

    let (mut messages, mut bytes) = (0u64, 0u64);
    let (mut last_messages, mut last_bytes) = (0u64, 0u64);
    let mut now = now_ms();
    let (mut last_report, mut last_consumed) = (now, now);
    let mut stopped: Option<Stop> = None;
    while messages < cfg.messages && now - last_consumed <= cfg.timeout_ms {
        let records = tokio::select! {
            s = &mut stop => { stopped = Some(s); break }
            r = consumer.poll(Duration::from_millis(100)) => r?,
        };
        now = now_ms();
        if !records.is_empty() {
            last_consumed = now;
        }
        for r in &records {
            messages += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len() as u64) + r.value.as_ref().map_or(0, |v| v.len() as u64);
            if now - last_report >= cfg.reporting_interval_ms {
                let in_interval = join_ms(|j| std::mem::take(&mut j.interval_ms));
                if cfg.detailed {
                    let t = ConsumerTotals { start_ms: last_report, end_ms: now, bytes, messages, join_ms: 0 };
                    println!("{}", consumer_progress_line(&cfg.dates, &t, last_bytes, last_messages, in_interval));
                } else {
                    // Kafka prints nothing until the end; say how far it got.
                    eprintln!("{messages} of {} messages consumed", cfg.messages);
                }
                last_report = now;
                last_messages = messages;
                last_bytes = bytes;
            }
        }
    }
    if messages < cfg.messages && stopped.is_none() {
        println!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded. You can \
             use the --timeout option to increase the timeout.",
            cfg.timeout_ms
        );
    }
    let end_ms = now_ms();
    if let Err(e) = consumer.close().await {
        eprintln!("error while closing the consumer: {e}");
    }
    let totals = ConsumerTotals { start_ms, end_ms, bytes, messages, join_ms: join_ms(|j| j.total_ms) };
    if !cfg.detailed {
        println!("{}", totals.summary_line(&cfg.dates));
    }
    if cfg.print_metrics {
        let client = cfg.props.get("client.id").unwrap_or("perf-consumer-client");
        let tags = format!("{{client-id={client}}}");
        let secs = totals.elapsed_secs();
        let rate = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
        print!(
            "{}",
            metrics_table(&[
                (format!("consumer-fetch-manager-metrics:records-consumed-total:{tags}"), messages as f64),
                (format!("consumer-fetch-manager-metrics:bytes-consumed-total:{tags}"), bytes as f64),
                (format!("consumer-fetch-manager-metrics:records-consumed-rate:{tags}"), rate(messages as f64)),
                (format!("consumer-fetch-manager-metrics:bytes-consumed-rate:{tags}"), rate(bytes as f64)),
            ])
        );
    }
    eprintln!(
        "Consumed {messages} records ({} MB) in {} s: {} records/sec, {} MB/sec",
        fixed(totals.megabytes(), 4),
        fixed(totals.elapsed_secs(), 3),
        fixed(messages as f64 / totals.elapsed_secs(), 1),
        fixed(totals.megabytes() / totals.elapsed_secs(), 4),
    );
    Ok(stopped.map_or(ExitCode::SUCCESS, Stop::exit_code))
}
