//! `kafka-testkit`: a Kafka cluster for any client, from the command line.
//!
//! ```text
//! kafka-testkit [--brokers N] [--port P] [--data-dir DIR] [--partitions N]
//!               [--replication-factor R] [--no-auto-create]
//!               [--transaction-version V]
//! ```
//!
//! Prints the bootstrap servers once every broker listens, then serves
//! until Ctrl-C or SIGTERM, when it shuts down cleanly (data flushed).

use std::path::PathBuf;
use std::process::ExitCode;

use broker_testkit::Cluster;

const USAGE: &str = "\
Usage: kafka-testkit [OPTIONS]

Runs a Kafka cluster (Apache Kafka 4.0 protocol) until Ctrl-C or SIGTERM.

Options:
  --brokers N              number of brokers (default 1)
  --port P                 port of the first broker; the others follow (default 9092; 0 = ephemeral)
  --host H                 address to listen on (default 127.0.0.1)
  --data-dir DIR           keep data in DIR in Kafka's on-disk layout (default: in memory)
  --partitions N           num.partitions of auto-created topics (default 1)
  --replication-factor R   default.replication.factor of auto-created topics (default 1)
  --no-auto-create         disable auto.create.topics.enable
  --transaction-version V  finalized transaction.version feature level, 0-2 (default 2)
  -h, --help               print this help
";

struct Args {
    brokers: usize,
    port: u16,
    host: String,
    data_dir: Option<PathBuf>,
    partitions: i32,
    replication_factor: i16,
    auto_create: bool,
    transaction_version: i16,
}

fn parse() -> Result<Option<Args>, String> {
    use lexopt::prelude::*;
    let mut a = Args {
        brokers: 1,
        port: 9092,
        host: "127.0.0.1".into(),
        data_dir: None,
        partitions: 1,
        replication_factor: 1,
        auto_create: true,
        transaction_version: 2,
    };
    let mut p = lexopt::Parser::from_env();
    let num = |v: Result<std::ffi::OsString, lexopt::Error>, what: &str| -> Result<i64, String> {
        let v = v.map_err(|e| e.to_string())?;
        v.to_string_lossy().parse::<i64>().map_err(|_| format!("{what} needs a number, got {:?}", v.to_string_lossy()))
    };
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("brokers") => a.brokers = num(p.value(), "--brokers")?.clamp(1, 64) as usize,
            Long("port") => {
                a.port = u16::try_from(num(p.value(), "--port")?).map_err(|_| "--port must be 0-65535".to_string())?
            }
            Long("host") => a.host = p.value().map_err(|e| e.to_string())?.to_string_lossy().into_owned(),
            Long("data-dir") => a.data_dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("partitions") => a.partitions = i32::try_from(num(p.value(), "--partitions")?).unwrap_or(1).max(1),
            Long("replication-factor") => {
                a.replication_factor = i16::try_from(num(p.value(), "--replication-factor")?).unwrap_or(1).max(1)
            }
            Long("no-auto-create") => a.auto_create = false,
            Long("transaction-version") => {
                a.transaction_version = match num(p.value(), "--transaction-version")? {
                    v @ 0..=2 => v as i16,
                    v => return Err(format!("--transaction-version must be 0, 1 or 2, got {v}")),
                }
            }
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Some(a))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = match parse() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kafka-testkit: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut b = Cluster::builder()
        .brokers(args.brokers)
        .host(args.host)
        .port(args.port)
        .num_partitions(args.partitions)
        .default_replication_factor(args.replication_factor)
        .auto_create_topics(args.auto_create)
        .transaction_version(args.transaction_version);
    if let Some(d) = &args.data_dir {
        b = b.data_dir(d);
    }
    let cluster = match b.start().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kafka-testkit: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Handle the signals before announcing readiness: a supervisor may send
    // SIGTERM as soon as it reads the bootstrap line, and until a handler is
    // installed SIGTERM kills the process without flushing the data.
    let signalled = shutdown_signal();
    println!("{}", cluster.bootstrap_servers());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    signalled.await;
    eprintln!("kafka-testkit: shutting down");
    cluster.shutdown().await;
    ExitCode::SUCCESS
}

/// Installs the SIGINT and SIGTERM handlers now; the future completes on
/// the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
