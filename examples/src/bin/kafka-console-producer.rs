//! `kafka-console-producer`: Kafka's `ConsoleProducer`. Each line of
//! standard input becomes a record (parsed by Kafka's `LineMessageReader`
//! rules, see `--property`), sent asynchronously — or with `--sync` one at
//! a time, each acknowledged before the next line is read.
//!
//! ```text
//! kafka-console-producer --bootstrap-server 127.0.0.1:9092 --topic orders \
//!     --property parse.key=true --property key.separator=:
//! ```

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use examples::cli::{self, Args, Failure, Opt, Tool};
use examples::line_reader::{LineReader, LineRecord};
use examples::props::Props;
use examples::signals::{Stop, shutdown_signal};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_protocol::records::Header;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

const OPTS: &[Opt] = &[
    Opt::value("bootstrap-server", "String: server to connect to", "REQUIRED unless --broker-list(deprecated) is specified. The server(s) to connect to. The broker list string in the form HOST1:PORT1,HOST2:PORT2."),
    Opt::value("broker-list", "String: broker-list", "DEPRECATED, use --bootstrap-server instead; ignored if --bootstrap-server is specified.  The broker list string in the form HOST1:PORT1,HOST2:PORT2."),
    Opt::value("topic", "String: topic", "REQUIRED: The topic id to produce messages to."),
    Opt::flag("sync", "If set message send requests to the brokers are synchronously, one at a time as they arrive."),
    Opt::optional("compression-codec", "String: compression-codec", "The compression codec: either 'none', 'gzip', 'snappy', 'lz4', or 'zstd'.If specified without value, then it defaults to 'gzip'"),
    Opt::value("batch-size", "Integer: size", "Number of messages to send in a single batch if they are not being sent synchronously. please note that this option will be replaced if max-partition-memory-bytes is also set").default("16384"),
    Opt::value("message-send-max-retries", "Integer", "Brokers can fail receiving the message for multiple reasons, and being unavailable transiently is just one of them. This property specifies the number of retries before the producer give up and drop this message. This is the option to control `retries` in producer configs.").default("3"),
    Opt::value("retry-backoff-ms", "Long", "Before each retry, the producer refreshes the metadata of relevant topics. Since leader election takes a bit of time, this property specifies the amount of time that the producer waits before refreshing the metadata. This is the option to control `retry.backoff.ms` in producer configs.").default("100"),
    Opt::value("timeout", "Long: timeout_ms", "If set and the producer is running in asynchronous mode, this gives the maximum amount of time a message will queue awaiting sufficient batch size. The value is given in ms. This is the option to control `linger.ms` in producer configs.").default("1000"),
    Opt::value("request-required-acks", "String: request required acks", "The required `acks` of the producer requests").default("-1"),
    Opt::value("request-timeout-ms", "Integer: request timeout ms", "The ack timeout of the producer requests. Value must be non-negative and non-zero.").default("1500"),
    Opt::value("metadata-expiry-ms", "Long: metadata expiration interval", "The period of time in milliseconds after which we force a refresh of metadata even if we haven't seen any leadership changes. This is the option to control `metadata.max.age.ms` in producer configs.").default("300000"),
    Opt::value("max-block-ms", "Long: max block on send", "The max time that the producer will block for during a send request.").default("60000"),
    Opt::value("max-memory-bytes", "Long: total memory in bytes", "The total memory used by the producer to buffer records waiting to be sent to the server. This is the option to control `buffer.memory` in producer configs.").default("33554432"),
    Opt::value("max-partition-memory-bytes", "Integer: memory in bytes per partition", "The buffer size allocated for a partition. When records are received which are smaller than this size the producer will attempt to optimistically group them together until this size is reached. This is the option to control `batch.size` in producer configs.").default("16384"),
    Opt::value("line-reader", "String: reader_class", "The class name of the class to use for reading lines from standard in. By default each line is read as a separate message. Only LineMessageReader is available here.").default("org.apache.kafka.tools.LineMessageReader"),
    Opt::value("socket-buffer-size", "Integer: size", "The size of the tcp RECV size. This is the option to control `send.buffer.bytes` in producer configs. Accepted and ignored here: the client leaves socket buffers to the OS.").default("102400"),
    Opt::value("property", "String: prop", "A mechanism to pass user-defined properties in the form key=value to the message reader. This allows custom configuration for a user-defined message reader.Default properties include:\n parse.key=false\n parse.headers=false\n ignore.error=false\n key.separator=\\t\n headers.delimiter=\\t\n headers.separator=,\n headers.key.separator=:\n null.marker=   When set, any fields (key, value and headers) equal to this will be replaced by null\nDefault parsing pattern when:\n parse.headers=true and parse.key=true:\n  \"h1:v1,h2:v2...\\tkey\\tvalue\"\n parse.key=true:\n  \"key\\tvalue\"\n parse.headers=true:\n  \"h1:v1,h2:v2...\\tvalue\""),
    Opt::value("reader-config", "String: config file", "Config properties file for the message reader. Note that [property] takes precedence over this config."),
    Opt::value("producer-property", "String: producer_prop", "A mechanism to pass user-defined properties in the form key=value to the producer. "),
    Opt::value("producer.config", "String: config file", "Producer config properties file. Note that [producer-property] takes precedence over this config."),
];

const TOOL: Tool = Tool {
    name: "kafka-console-producer",
    about: "This tool helps to read data from standard input and publish it to Kafka.",
    opts: OPTS,
};

const LINE_READERS: [&str; 2] = ["org.apache.kafka.tools.LineMessageReader", "kafka.tools.LineMessageReader"];

/// How long a producer stopped by a signal may take to send what it holds.
const CLOSE_ON_SIGNAL: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        let config = Config::new(&args)?;
        cli::runtime()?.block_on(produce(config))
    })
}

struct Config {
    topic: String,
    sync: bool,
    producer: Props,
    reader: LineReader,
}

impl Config {
    fn new(args: &Args) -> Result<Config, Failure> {
        let topic = args.required("topic")?.to_string();
        let bootstrap = match args.value("bootstrap-server").or(args.value("broker-list")) {
            Some(b) => b.to_string(),
            None => return Err(cli::missing("bootstrap-server")),
        };
        cli::validate_bootstrap(&bootstrap)?;
        let reader_class = args.value("line-reader").unwrap_or(LINE_READERS[0]);
        if !LINE_READERS.contains(&reader_class) {
            return Err(Failure::usage(format!(
                "line reader {reader_class} is not available; only {} reads lines here",
                LINE_READERS[0]
            )));
        }
        Ok(Config {
            topic: topic.clone(),
            sync: args.has("sync"),
            producer: producer_props(args, &bootstrap)?,
            reader: LineReader::configure(&reader_props(args, &topic)?)?,
        })
    }
}

/// Kafka's `ConsoleProducerConfig.producerProps`: the file, then
/// `--producer-property`, then the tool's options — each option overriding
/// the properties only when given, its default filling in only what the
/// properties leave unset.
fn producer_props(args: &Args, bootstrap: &str) -> Result<Props, Failure> {
    let mut props = match args.value("producer.config") {
        Some(f) => Props::load(std::path::Path::new(f))?,
        None => Props::new(),
    };
    props.extend(Props::from_key_values(args.values("producer-property"))?);
    props.set("bootstrap.servers", bootstrap);
    let codec = match (args.has("compression-codec"), args.value("compression-codec")) {
        (false, _) => "none",
        (true, None | Some("")) => "gzip",
        (true, Some(c)) => c,
    };
    props.set("compression.type", codec);
    props.set_default("client.id", "console-producer");
    let given = |name: &str| if args.has(name) { args.value(name) } else { None };
    let default = |name: &str| args.value(name).unwrap_or_default().to_string();
    for (key, opt) in [
        ("linger.ms", "timeout"),
        ("acks", "request-required-acks"),
        ("request.timeout.ms", "request-timeout-ms"),
        ("retries", "message-send-max-retries"),
        ("retry.backoff.ms", "retry-backoff-ms"),
        ("buffer.memory", "max-memory-bytes"),
        ("batch.size", "batch-size"),
        ("batch.size", "max-partition-memory-bytes"),
        ("metadata.max.age.ms", "metadata-expiry-ms"),
        ("max.block.ms", "max-block-ms"),
    ] {
        props.merge_option(key, given(opt), &default(opt));
    }
    Ok(props)
}

/// The reader's settings: the file, the topic, then `--property`.
fn reader_props(args: &Args, topic: &str) -> Result<Props, Failure> {
    let mut props = match args.value("reader-config") {
        Some(f) => Props::load(std::path::Path::new(f))?,
        None => Props::new(),
    };
    props.set("topic", topic);
    props.extend(Props::from_key_values(args.values("property"))?);
    Ok(props)
}

/// Lines of standard input, read on a thread of their own (reading stdin
/// blocks); `None` at the end. Prints Kafka's `>` prompt on a terminal.
fn spawn_stdin_reader() -> mpsc::Receiver<std::io::Result<String>> {
    let (tx, rx) = mpsc::channel(1024);
    std::thread::spawn(move || {
        let prompt = std::io::stdin().is_terminal();
        let mut input = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            if prompt {
                print!(">");
                let _ = std::io::stdout().flush();
            }
            buf.clear();
            let line = match input.read_until(b'\n', &mut buf) {
                Ok(0) => return,
                // Java's readLine ends lines at \n, \r\n (and \r).
                Ok(_) => {
                    let mut end = buf.len();
                    while end > 0 && (buf[end - 1] == b'\n' || buf[end - 1] == b'\r') {
                        end -= 1;
                    }
                    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
                }
                Err(e) => Err(e),
            };
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    rx
}

fn record(topic: &str, parsed: LineRecord) -> ProducerRecord {
    let mut r = ProducerRecord::new(topic);
    r.key = parsed.key.map(Into::into);
    r.value = parsed.value.map(Into::into);
    r.headers = parsed.headers.into_iter().map(|(key, value)| Header { key, value: value.map(Into::into) }).collect();
    r
}

/// Kafka's `ErrorLoggingCallback` message.
fn send_error(topic: &str, key: Option<usize>, value: Option<usize>, e: &kafka_client::Error) -> String {
    let size = |n: Option<usize>| n.map_or_else(|| "null".to_string(), |n| format!("{n} bytes"));
    format!(
        "Error when sending message to topic {topic} with key: {}, value: {} with error: {e}",
        size(key),
        size(value)
    )
}

async fn produce(mut cfg: Config) -> Result<ExitCode, Failure> {
    let stop = shutdown_signal();
    let producer = Producer::from_properties(cfg.producer.client_pairs()).build()?;
    let failed = Arc::new(AtomicU64::new(0));
    let mut deliveries = JoinSet::new();
    let mut lines = spawn_stdin_reader();
    let sending = send_lines(&producer, &mut cfg, &mut lines, &mut deliveries, &failed);
    let outcome = tokio::select! {
        r = sending => r.map(|()| None),
        s = stop => Ok(Some(s)),
    };
    // Whatever happened, send what was accepted (Kafka closes the producer
    // in its shutdown hook too).
    let close_timeout = if matches!(outcome, Ok(Some(_))) { CLOSE_ON_SIGNAL } else { Duration::from_secs(3600) };
    producer.close_timeout(close_timeout).await.ok();
    while deliveries.join_next().await.is_some() {}
    let stopped: Option<Stop> = outcome?;
    if let Some(s) = stopped {
        return Ok(s.exit_code());
    }
    match failed.load(Ordering::SeqCst) {
        0 => Ok(ExitCode::SUCCESS),
        n => Err(Failure::new(format!("{n} record(s) could not be sent"))),
    }
}

async fn send_lines(
    producer: &Producer,
    cfg: &mut Config,
    lines: &mut mpsc::Receiver<std::io::Result<String>>,
    deliveries: &mut JoinSet<()>,
    failed: &Arc<AtomicU64>,
) -> Result<(), Failure> {
    while let Some(line) = lines.recv().await {
        let line = line.map_err(|e| Failure::new(format!("cannot read standard input: {e}")))?;
        let r = record(&cfg.topic, cfg.reader.read(&line)?);
        let (key_len, value_len) = (r.key.as_ref().map(|k| k.len()), r.value.as_ref().map(|v| v.len()));
        if cfg.sync {
            if let Err(e) = producer.send_and_wait(r).await {
                return Err(Failure::new(send_error(&cfg.topic, key_len, value_len, &e)));
            }
            continue;
        }
        let delivery =
            producer.send(r).await.map_err(|e| Failure::new(send_error(&cfg.topic, key_len, value_len, &e.error)))?;
        let (topic, failed) = (cfg.topic.clone(), failed.clone());
        deliveries.spawn(async move {
            if let Err(e) = delivery.await {
                failed.fetch_add(1, Ordering::SeqCst);
                eprintln!("{}", send_error(&topic, key_len, value_len, &e));
            }
        });
        // Reap finished deliveries so a long stream does not pile them up.
        while deliveries.try_join_next().is_some() {}
    }
    Ok(())
}
