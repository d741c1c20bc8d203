//! The tools against the standalone `kafka-testkit` binary (3 brokers on
//! ephemeral ports, topics auto-created), as a user would run them: the
//! console producer and consumer round trip, the perf tools, and
//! `kafka-topics`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::run;
use tests::testkit_binary;

/// A running `kafka-testkit`, killed when dropped.
struct Testkit {
    child: Child,
    bootstrap: String,
}

impl Testkit {
    fn start(args: &[&str]) -> Testkit {
        let mut child = Command::new(testkit_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so the binary never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx.recv_timeout(common::TIMEOUT).expect("kafka-testkit printed its bootstrap servers");
        Testkit { child, bootstrap: line.trim().to_string() }
    }
}

impl Drop for Testkit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_against_the_kafka_testkit_binary() {
    let tk = tokio::task::spawn_blocking(|| {
        Testkit::start(&["--brokers", "3", "--port", "0", "--partitions", "3", "--replication-factor", "3"])
    })
    .await
    .unwrap();
    let boot = tk.bootstrap.as_str();
    assert_eq!(boot.split(',').count(), 3, "{boot}");

    // The topic is created by the first produce.
    let input: String = (0..20).map(|i| format!("key{i}:value {i}\n")).collect();
    let p = ["--bootstrap-server", boot, "--topic", "roundtrip", "--property", "parse.key=true", "--property"];
    run("kafka-console-producer", &[&p[..], &["key.separator=:"]].concat(), &input).await.ok();
    let c = [
        "--bootstrap-server",
        boot,
        "--topic",
        "roundtrip",
        "--from-beginning",
        "--max-messages",
        "20",
        "--property",
        "print.key=true",
        "--property",
        "print.partition=true",
    ];
    let out = run("kafka-console-consumer", &c, "").await.ok();
    assert_eq!(out.stderr, "Processed a total of 20 messages\n");
    let mut got: Vec<(String, String)> = out
        .stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "{l}");
            assert!(f[0].starts_with("Partition:"), "{l}");
            (f[1].to_string(), f[2].to_string())
        })
        .collect();
    got.sort();
    let mut expected: Vec<(String, String)> = (0..20).map(|i| (format!("key{i}"), format!("value {i}"))).collect();
    expected.sort();
    assert_eq!(got, expected);
    // Keyed records spread over the three partitions.
    let partitions: std::collections::BTreeSet<&str> =
        out.stdout.lines().filter_map(|l| l.split('\t').next()).collect();
    assert!(partitions.len() > 1, "{partitions:?}");

    // The perf tools, end to end.
    let servers = format!("bootstrap.servers={boot}");
    let pp =
        ["--topic", "perf", "--num-records", "500", "--record-size", "64", "--throughput", "-1", "--producer-props"];
    let r = run("kafka-producer-perf-test", &[&pp[..], &[servers.as_str()]].concat(), "").await.ok();
    assert!(r.stdout.lines().last().unwrap().starts_with("500 records sent, "), "{}", r.stdout);
    let cp = ["--bootstrap-server", boot, "--topic", "perf", "--messages", "500", "--timeout", "5000"];
    let r = run("kafka-consumer-perf-test", &cp, "").await.ok();
    let result: Vec<&str> = r.stdout.lines().nth(1).unwrap().split(", ").collect();
    assert_eq!(result[4], "500", "{}", r.stdout);
    assert!(r.elapsed < Duration::from_secs(30));
}

/// `kafka-topics` as a user would run it against `kafka-testkit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_topics_against_the_kafka_testkit_binary() {
    let tk = tokio::task::spawn_blocking(|| Testkit::start(&["--brokers", "3", "--port", "0", "--no-auto-create"]))
        .await
        .unwrap();
    let boot = tk.bootstrap.as_str();
    let topics = |args: &[&'static str]| {
        let boot = boot.to_string();
        let args = args.to_vec();
        async move { run("kafka-topics", &[&["--bootstrap-server", boot.as_str()][..], &args].concat(), "").await }
    };
    let create = ["--create", "--topic", "events", "--partitions", "3", "--replication-factor", "3"];
    let r = topics(&[&create[..], &["--config", "retention.ms=60000"]].concat()).await.ok();
    assert_eq!(r.stdout, "Created topic events.\n");
    assert_eq!(topics(&["--list"]).await.ok().stdout, "events\n");
    let r = topics(&["--describe", "--topic", "events"]).await.ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    assert!(lines[0].starts_with("Topic: events\tTopicId: "), "{}", lines[0]);
    assert!(
        lines[0].ends_with("\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: retention.ms=60000"),
        "{}",
        lines[0]
    );
    for (p, line) in lines[1..].iter().enumerate() {
        assert!(line.starts_with(&format!("\tTopic: events\tPartition: {p}\tLeader: ")), "{line}");
        assert!(line.ends_with("\tElr: \tLastKnownElr: "), "{line}");
    }
    let r = topics(&create).await;
    assert_eq!(
        r.failed_with_one_line(),
        "kafka-topics: Error while executing topic command : Topic 'events' already exists."
    );
    topics(&["--alter", "--topic", "events", "--partitions", "4"]).await.ok();
    assert_eq!(topics(&["--describe", "--topic", "events"]).await.ok().stdout.lines().count(), 5);
    topics(&["--delete", "--topic", "events"]).await.ok();
    assert_eq!(topics(&["--list"]).await.ok().stdout, "\n", "no topics: Kafka prints one empty line");
}
