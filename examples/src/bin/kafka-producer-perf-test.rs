//! `kafka-producer-perf-test`: Kafka's `ProducerPerformance`. Sends
//! `--num-records` records of `--record-size` random bytes (or payloads
//! from a file, or increasing numbers), at most `--throughput` per second,
//! and prints Kafka's lines: every 5 seconds
//!
//! ```text
//! 171237 records sent, 34240.6 records/sec (33.44 MB/sec), 10.2 ms avg latency, 312.0 ms max latency.
//! ```
//!
//! and at the end the totals with latency percentiles.
//!
//! ```text
//! kafka-producer-perf-test --topic perf --num-records 100000 --record-size 1024 --throughput -1 \
//!     --producer-props bootstrap.servers=127.0.0.1:9092 acks=1
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::perf::{ProducerStats, Throttler, metrics_table};
use examples::props::Props;
use examples::signals::{Stop, shutdown_signal};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::producer::{DeliveryFuture, Producer, ProducerRecord};
use tokio::sync::mpsc;

const OPTS: &[Opt] = &[
    Opt::value("topic", "TOPIC", "produce messages to this topic"),
    Opt::value("num-records", "NUM-RECORDS", "number of messages to produce"),
    Opt::value("record-size", "RECORD-SIZE", "message size in bytes. Note that you must provide exactly one of --record-size or --payload-file or --payload-monotonic."),
    Opt::value("payload-file", "PAYLOAD-FILE", "file to read the message payloads from. This works only for UTF-8 encoded text files. Payloads will be read from this file and a payload will be randomly selected when sending messages. Note that you must provide exactly one of --record-size or --payload-file or --payload-monotonic."),
    Opt::flag("payload-monotonic", "payload is monotonically increasing integer. Note that you must provide exactly one of --record-size or --payload-file or --payload-monotonic."),
    Opt::value("payload-delimiter", "PAYLOAD-DELIMITER", "provides delimiter to be used when --payload-file is provided. Defaults to new line. Note that this parameter will be ignored if --payload-file is not provided.").default("\\n"),
    Opt::value("throughput", "THROUGHPUT", "throttle maximum message throughput to *approximately* THROUGHPUT messages/sec. Set this to -1 to disable throttling."),
    Opt::values("producer-props", "PROP-NAME=PROP-VALUE", "kafka producer related configuration properties like bootstrap.servers,client.id etc. These configs take precedence over those passed via --producer.config."),
    Opt::value("producer.config", "CONFIG-FILE", "producer config properties file."),
    Opt::optional("print-metrics", "yes|no", "print out metrics at the end of the test (the ones this tool measures: records sent and failed, send rate, latency)."),
    Opt::value("transactional-id", "TRANSACTIONAL-ID", "The transactional id to use. This config takes precedence over the transactional.id specified via --producer.config or --producer-props. Note that if the transactional id is not specified while --transaction-duration-ms is provided, the default value for the transactional id will be performance-producer- followed by a random uuid."),
    Opt::value("transaction-duration-ms", "TRANSACTION-DURATION", "The max age of each transaction. The commitTransaction will be called after this time has elapsed. The value should be greater than 0. If the transactional id is specified via --producer-props, --producer.config, or --transactional-id but --transaction-duration-ms is not specified, the default value will be 3000."),
];

const TOOL: Tool = Tool {
    name: "kafka-producer-perf-test",
    about: "This tool is used to verify the producer performance.",
    opts: OPTS,
};

fn main() -> ExitCode {
    // As Kafka's argparse4j tool does, no arguments at all asks for the help.
    if std::env::args_os().len() <= 1 {
        print!("{}", cli::help(&TOOL));
        return ExitCode::SUCCESS;
    }
    cli::run(&TOOL, |args| {
        let config = Config::new(&args)?;
        cli::runtime()?.block_on(run(config))
    })
}

/// Where payloads come from.
enum Payload {
    /// Random capital letters, `n` of them, regenerated for every record.
    Random(usize),
    /// One of these, picked at random for every record.
    File(Vec<Bytes>),
    /// The record's number.
    Monotonic,
}

struct Config {
    topic: String,
    num_records: u64,
    payload: Payload,
    throughput: f64,
    props: Props,
    print_metrics: bool,
    /// Commit after this long when transactional (`transactional.id` set).
    transaction_duration: Option<Duration>,
}

fn required<'a>(args: &'a Args, name: &str) -> Result<&'a str, Failure> {
    args.value(name).ok_or_else(|| Failure::usage(format!("argument --{name} is required")))
}

impl Config {
    fn new(args: &Args) -> Result<Config, Failure> {
        let topic = required(args, "topic")?.to_string();
        required(args, "num-records")?;
        required(args, "throughput")?;
        let payload_opts: Vec<&str> =
            ["record-size", "payload-file", "payload-monotonic"].into_iter().filter(|o| args.has(o)).collect();
        match payload_opts.as_slice() {
            [] => {
                return Err(Failure::usage(
                    "one of the arguments --record-size --payload-file --payload-monotonic is required",
                ));
            }
            [_] => {}
            [a, b, ..] => return Err(Failure::usage(format!("argument --{b}: not allowed with argument --{a}"))),
        }
        let num_records = match args.parse::<i64>("num-records")? {
            Some(n) if n > 0 => n as u64,
            _ => return Err(Failure::usage("--num-records should be greater than zero")),
        };
        let throughput = args.parse::<f64>("throughput")?.unwrap_or(-1.0);
        if throughput == 0.0 || throughput.is_nan() {
            return Err(Failure::usage("--throughput must be positive, or -1 to disable throttling"));
        }
        if !args.has("producer-props") && !args.has("producer.config") {
            return Err(Failure::usage("Either --producer-props or --producer.config must be specified."));
        }
        let payload = if args.has("record-size") {
            match args.parse::<i64>("record-size")? {
                Some(n) if n > 0 => Payload::Random(n as usize),
                _ => return Err(Failure::usage("--record-size should be greater than zero")),
            }
        } else if let Some(path) = args.value("payload-file") {
            let delimiter = match args.value("payload-delimiter") {
                None | Some("\\n") => "\n",
                Some(d) => d,
            };
            Payload::File(read_payloads(std::path::Path::new(path), delimiter)?)
        } else {
            Payload::Monotonic
        };
        let print_metrics = match args.has("print-metrics").then(|| args.value("print-metrics")) {
            None => false,
            Some(None) => true,
            Some(Some(v)) => match v.to_ascii_lowercase().as_str() {
                "yes" | "true" => true,
                "no" | "false" => false,
                _ => return Err(Failure::usage(format!("--print-metrics takes yes or no, got '{v}'"))),
            },
        };
        let mut props = producer_props(args)?;
        let duration = match args.parse::<i64>("transaction-duration-ms")? {
            Some(ms) if ms <= 0 => return Err(Failure::usage("--transaction-duration-ms should be greater than zero")),
            d => d,
        };
        if let Some(id) = args.value("transactional-id") {
            props.set("transactional.id", id);
        } else if duration.is_some() && props.get("transactional.id").is_none() {
            props.set("transactional.id", format!("performance-producer-{}", random_uuid()));
        }
        // Kafka's default: a transactional run commits every 3 seconds.
        let transaction_duration =
            props.get("transactional.id").map(|_| Duration::from_millis(duration.unwrap_or(3000) as u64));
        Ok(Config { topic, num_records, payload, throughput, props, print_metrics, transaction_duration })
    }
}

/// Kafka's `ProducerPerformance.readProps`: the file, then
/// `--producer-props`, each of which must be exactly `name=value`.
fn producer_props(args: &Args) -> Result<Props, Failure> {
    let mut props = match args.value("producer.config") {
        Some(f) => Props::load(std::path::Path::new(f))?,
        None => Props::new(),
    };
    for p in args.values("producer-props") {
        match p.split('=').collect::<Vec<_>>().as_slice() {
            [k, v] => props.set(*k, *v),
            _ => return Err(Failure::usage(format!("Invalid property: {p}"))),
        }
    }
    props.set_default("client.id", "perf-producer-client");
    Ok(props)
}

/// A random version-4 UUID in its usual text form.
fn random_uuid() -> String {
    let mut b: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn read_payloads(path: &std::path::Path, delimiter: &str) -> Result<Vec<Bytes>, Failure> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    println!("Reading payloads from: {}", abs.display());
    let text = match std::fs::read(path) {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => return Err(Failure::new("File does not exist or empty file provided.")),
    };
    let payloads: Vec<Bytes> =
        text.split(delimiter).filter(|p| !p.is_empty()).map(|p| Bytes::copy_from_slice(p.as_bytes())).collect();
    println!("Number of messages read: {}", payloads.len());
    if payloads.is_empty() {
        return Err(Failure::new(format!("{}: no payloads between the delimiters", path.display())));
    }
    Ok(payloads)
}

/// A record in flight: its acknowledgement, when it was sent, its size.
type InFlight = (DeliveryFuture, Instant, usize);

/// What the acknowledgements added up to.
struct Collected {
    stats: ProducerStats,
    failed: u64,
}

/// Awaits acknowledgements as they come, feeding the stats (which print
/// Kafka's 5-second lines); ends when the sender is done and every record
/// has its result.
async fn collect(mut rx: mpsc::UnboundedReceiver<InFlight>, mut stats: ProducerStats) -> Collected {
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    let mut failed = 0u64;
    loop {
        tokio::select! {
            item = rx.recv(), if open => match item {
                Some((delivery, sent, bytes)) => in_flight.push(async move { (delivery.await, sent, bytes) }),
                None => open = false,
            },
            Some((result, sent, bytes)) = in_flight.next(), if !in_flight.is_empty() => match result {
                Ok(_) => {
                    let now = Instant::now();
                    let latency = i64::try_from(now.duration_since(sent).as_millis()).unwrap_or(i64::MAX);
                    if let Some(line) = stats.record(latency, bytes, now) {
                        println!("{line}");
                    }
                }
                Err(e) => {
                    // Kafka prints every failure's stack trace; one line each here.
                    failed += 1;
                    eprintln!("Error sending a record: {e}");
                }
            },
            else => break,
        }
    }
    Collected { stats, failed }
}

async fn run(cfg: Config) -> Result<ExitCode, Failure> {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let producer = Producer::from_properties(cfg.props.client_pairs()).build()?;
    if cfg.transaction_duration.is_some() {
        producer.init_transactions().await?;
    }
    // When the open transaction began (Kafka's transactionStartTime).
    let mut transaction_start: Option<Instant> = None;
    let client_id = cfg.props.get("client.id").unwrap_or("perf-producer-client").to_string();
    let start = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(collect(rx, ProducerStats::new(cfg.num_records, start)));
    let throttler = Throttler::new(cfg.throughput, start);
    let mut rng = fastrand::Rng::with_seed(0);
    let mut random = match cfg.payload {
        Payload::Random(n) => vec![0u8; n],
        _ => Vec::new(),
    };

    let mut stopped: Option<Stop> = None;
    let mut send_error: Option<Failure> = None;
    // Shared by every record: no copy of the name per send.
    let topic: std::sync::Arc<str> = cfg.topic.as_str().into();
    for i in 0..cfg.num_records {
        let payload = match &cfg.payload {
            Payload::Random(_) => {
                random.iter_mut().for_each(|b| *b = rng.u8(b'A'..=b'Z'));
                Bytes::copy_from_slice(&random)
            }
            Payload::File(list) => list[rng.usize(0..list.len())].clone(),
            Payload::Monotonic => Bytes::from(i.to_string()),
        };
        let bytes = payload.len();
        if cfg.transaction_duration.is_some() && transaction_start.is_none() {
            producer.begin_transaction().await?;
            transaction_start = Some(Instant::now());
        }
        let record = ProducerRecord::new(topic.clone()).value(payload);
        let sent = Instant::now();
        let accepted = tokio::select! {
            s = &mut stop => { stopped = Some(s); break }
            r = producer.send(record) => r,
        };
        match accepted {
            Ok(delivery) => {
                let _ = tx.send((delivery, sent, bytes));
            }
            Err(e) => {
                send_error = Some(Failure::new(format!("cannot send record {i}: {e}")));
                break;
            }
        }
        if let (Some(d), Some(t)) = (cfg.transaction_duration, transaction_start)
            && t.elapsed() >= d
        {
            producer.commit_transaction().await?;
            transaction_start = None;
        }
        if let Some(wait) = throttler.delay(i + 1, Instant::now()) {
            tokio::select! {
                s = &mut stop => { stopped = Some(s); break }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    if transaction_start.is_some() && stopped.is_none() && send_error.is_none() {
        producer.commit_transaction().await?;
    }
    // Kafka closes the producer before the summary, unless metrics are
    // printed (then it flushes, prints, and closes).
    let close_timeout = if stopped.is_some() { Duration::from_secs(5) } else { Duration::from_secs(3600) };
    if cfg.print_metrics {
        tokio::select! {
            () = producer.flush() => {}
            s = &mut stop => { stopped.get_or_insert(s); }
        }
    } else {
        producer.close_timeout(close_timeout).await.ok();
    }
    drop(tx);
    let mut collected = collector.await.map_err(|e| Failure::new(format!("the result collector failed: {e}")))?;
    println!("{}", collected.stats.total_line(Instant::now()));
    if cfg.print_metrics {
        let secs = start.elapsed().as_secs_f64();
        let tags = format!("{{client-id={client_id}}}");
        let sent = collected.stats.count() as f64;
        let metrics = vec![
            (format!("producer-metrics:record-send-total:{tags}"), sent),
            (format!("producer-metrics:record-error-total:{tags}"), collected.failed as f64),
            (format!("producer-metrics:record-send-rate:{tags}"), if secs > 0.0 { sent / secs } else { 0.0 }),
        ];
        print!("{}", metrics_table(&metrics));
        producer.close_timeout(close_timeout).await.ok();
    }
    if let Some(e) = send_error {
        return Err(e);
    }
    if let Some(s) = stopped {
        return Ok(s.exit_code());
    }
    match collected.failed {
        0 => Ok(ExitCode::SUCCESS),
        n => Err(Failure::new(format!("{n} of {} records failed", cfg.num_records))),
    }
}
