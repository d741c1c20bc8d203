//! Starts a real Apache Kafka cluster on loopback for a person to use, and
//! stops it on Ctrl-C (or stdin closing):
//!
//! ```sh
//! cargo run -p tests --features real-kafka --bin real-kafka -- --nodes 3 --version 4.4.0
//! ```
//!
//! Prints `bootstrap.servers` once every node serves. Data and logs live in
//! a temporary folder removed on exit.

use std::io::Read;

use tests::real_kafka::{KafkaCluster, NEWEST};

fn main() {
    let mut nodes = 1usize;
    let mut version = NEWEST.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => nodes = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| usage()),
            "--version" => version = args.next().unwrap_or_else(|| usage()),
            "--help" | "-h" => {
                println!("real-kafka [--nodes N (1)] [--version V ({NEWEST})]");
                return;
            }
            _ => usage(),
        }
    }
    let cluster = match KafkaCluster::start(&version, nodes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("real-kafka: {e}");
            std::process::exit(1);
        }
    };
    println!("{}", cluster.bootstrap_servers());
    eprintln!("Apache Kafka {version}, {nodes} node(s); Ctrl-C, SIGTERM or closing stdin stops it");
    wait_for_stop();
    // Kills the nodes and removes their folder.
    drop(cluster);
}

/// Returns on Ctrl-C, SIGTERM or end of stdin.
fn wait_for_stop() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        return;
    };
    rt.block_on(async {
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        });
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stdin_closed => {}
            _ = tokio::signal::ctrl_c() => {}
            () = term => {}
        }
    });
    // The blocking stdin reader may still run; the process exits anyway.
    rt.shutdown_background();
}

fn usage() -> ! {
    eprintln!("real-kafka: usage: real-kafka [--nodes N] [--version V]");
    std::process::exit(1)
}
