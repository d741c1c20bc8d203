//! `kafka-producer-perf-test` and `kafka-consumer-perf-test` on small
//! counts against a 3-broker testkit cluster: the records arrive, the
//! outputs have Kafka's layouts, and their numbers add up.

mod common;

use std::time::Duration;

use common::{check_expected, cluster, normalize, run, topic};

const PP: &str = "kafka-producer-perf-test";
const CP: &str = "kafka-consumer-perf-test";

/// Every number (Java's NaN and Infinity too) becomes N: what is left is
/// the layout. Numbers stand alone; "99.9th" is a label.
const NUMBERS: (&str, &str) = (r"(?m)(^|[ (])(-?\d+(?:\.\d+)?|NaN|-?Infinity)([ ,)]|$)", "${1}N${3}");
/// Kafka's default date format.
const DATES: (&str, &str) = (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}", "<date>");

/// The numbers of the producer perf summary: records, records/sec, MB/sec,
/// avg and max latency, and the 50th, 95th, 99th and 99.9th percentiles.
fn summary(line: &str) -> Vec<f64> {
    let re = regex::Regex::new(
        r"^(\d+) records sent, (\d+\.\d{6}) records/sec \((\d+\.\d\d) MB/sec\), (\d+\.\d\d) ms avg latency, (\d+\.\d\d) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$",
    )
    .unwrap();
    let c = re.captures(line).unwrap_or_else(|| panic!("not Kafka's summary layout: {line}"));
    (1..=9).map(|i| c[i].parse().unwrap()).collect()
}

async fn stored(
    cluster: &broker_testkit::Cluster,
    topic: &str,
    partitions: i32,
) -> Vec<kafka_protocol::records::Record> {
    let mut all = Vec::new();
    for p in 0..partitions {
        all.extend(cluster.records(topic, p).await.unwrap());
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_perf_sends_and_reports() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "perf", 3).await;
    let servers = format!("bootstrap.servers={boot}");
    let args = [
        "--topic",
        "perf",
        "--num-records",
        "2000",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        &servers,
        "acks=all",
        "linger.ms=2",
    ];
    let r = run(PP, &args, "").await.ok();
    let last = r.stdout.lines().last().unwrap();
    check_expected("producer_perf_summary.txt", &format!("{}\n", normalize(last, &[NUMBERS])));
    let n = summary(last);
    assert_eq!(n[0], 2000.0, "{last}");
    assert!(n[1] > 0.0, "records/sec in {last}");
    // avg ≤ max, and the percentiles are ordered and within max.
    assert!(n[3] <= n[4] && n[5] <= n[6] && n[6] <= n[7] && n[7] <= n[8] && n[8] <= n[4], "{last}");
    // Every other line is a 5-second window line (none in so short a run, usually).
    for l in r.stdout.lines().rev().skip(1) {
        assert_eq!(
            normalize(l, &[NUMBERS]),
            "N records sent, N records/sec (N MB/sec), N ms avg latency, N ms max latency."
        );
    }
    let records = stored(&cluster, "perf", 3).await;
    assert_eq!(records.len(), 2000);
    assert!(
        records.iter().all(|r| r.key.is_none()
            && r.value.as_ref().is_some_and(|v| v.len() == 100 && v.iter().all(u8::is_ascii_uppercase)))
    );

    // Throttled: 60 records at 100/s take about 0.6 s; metrics on request.
    let args = [
        "--topic",
        "perf",
        "--num-records",
        "60",
        "--payload-monotonic",
        "--throughput",
        "100",
        "--producer-props",
        &servers,
        "--print-metrics",
    ];
    let r = run(PP, &args, "").await.ok();
    assert!(r.elapsed >= Duration::from_millis(550), "throttling to 100/s took only {:?}", r.elapsed);
    let n = summary(r.stdout.lines().next().unwrap());
    assert_eq!(n[0], 60.0, "{}", r.stdout);
    assert!(n[1] <= 110.0, "throttled to 100/s: {}", r.stdout);
    assert!(r.stdout.contains("Metric Name"), "{}", r.stdout);
    let sent =
        regex::Regex::new(r"(?m)^producer-metrics:record-send-total:\{client-id=perf-producer-client\} +: 60\.000$");
    assert!(sent.unwrap().is_match(&r.stdout), "{}", r.stdout);
    let monotonic: Vec<String> = stored(&cluster, "perf", 3)
        .await
        .iter()
        .filter_map(|r| r.value.as_ref().filter(|v| v.len() < 100).map(|v| String::from_utf8_lossy(v).into_owned()))
        .collect();
    let mut numbers_sent: Vec<u32> = monotonic.iter().map(|v| v.parse().unwrap()).collect();
    numbers_sent.sort();
    assert_eq!(numbers_sent, (0..60).collect::<Vec<_>>());

    // Mistakes are one line and exit 1.
    let r = run(PP, &["--topic", "perf", "--num-records", "5", "--throughput", "-1", "--record-size", "10"], "").await;
    assert!(r.failed_with_one_line().contains("Either --producer-props or --producer.config must be specified"));
    let bad =
        ["--topic", "perf", "--num-records", "5", "--throughput", "-1", "--record-size", "10", "--producer-props"];
    let r = run(PP, &[&bad[..], &["acks"]].concat(), "").await;
    assert!(r.failed_with_one_line().ends_with("Invalid property: acks (see --help)"), "{}", r.stderr);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_perf_reads_and_reports() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "cperf", 3).await;
    let servers = format!("bootstrap.servers={boot}");
    let produce =
        ["--topic", "cperf", "--num-records", "1500", "--record-size", "200", "--throughput", "-1", "--producer-props"];
    run(PP, &[&produce[..], &[servers.as_str()]].concat(), "").await.ok();

    let r = run(CP, &["--bootstrap-server", &boot, "--topic", "cperf", "--messages", "1500", "--timeout", "5000"], "")
        .await
        .ok();
    check_expected("consumer_perf.txt", &normalize(&r.stdout, &[DATES, NUMBERS]));
    let result = r.stdout.lines().nth(1).unwrap();
    let cols: Vec<&str> = result.split(", ").collect();
    assert_eq!(cols.len(), 10, "{result}");
    let num = |i: usize| cols[i].parse::<f64>().unwrap();
    let mb = 1500.0 * 200.0 / (1024.0 * 1024.0);
    assert_eq!(cols[2], format!("{mb:.4}"), "data.consumed.in.MB");
    assert_eq!(num(4), 1500.0, "data.consumed.in.nMsg");
    assert!(num(3) > 0.0 && num(5) > 0.0, "MB.sec and nMsg.sec: {result}");
    // nMsg.sec / MB.sec = messages / MB, whatever the elapsed time.
    assert!((num(5) / num(3) - 1500.0 / mb).abs() / (1500.0 / mb) < 0.01, "{result}");
    assert!(num(6) >= 0.0 && num(7) >= 0.0, "rebalance and fetch time: {result}");
    assert!(r.stderr.contains("records/sec") && r.stderr.contains("MB/sec"), "{}", r.stderr);

    // Fewer records than asked for: Kafka's warning after the timeout.
    let args = ["--bootstrap-server", &boot, "--topic", "cperf", "--messages", "2000", "--timeout", "500"];
    let r =
        run(CP, &[&args[..], &["--hide-header", "--show-detailed-stats", "--reporting-interval", "1"]].concat(), "")
            .await
            .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("WARNING: Exiting before consuming the expected number of messages")));
    let detailed: Vec<&&str> = lines.iter().filter(|l| !l.starts_with("WARNING")).collect();
    assert!(!detailed.is_empty(), "no detailed stats in {}", r.stdout);
    for l in detailed {
        assert_eq!(normalize(l, &[DATES, NUMBERS]), "<date>, N, N, N, N, N, N, N, N, N", "{l}");
    }
    let r = run(CP, &["--bootstrap-server", &boot, "--topic", "cperf"], "").await;
    assert!(r.failed_with_one_line().contains("Missing required argument \"[messages]\""));
    cluster.shutdown().await;
}

/// `--transactional-id` and `--transaction-duration-ms`, as Kafka's tool:
/// every record is sent in a transaction that commits once it is older
/// than the duration; the partitions end with commit markers and every
/// data batch is transactional.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_perf_runs_transactions() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "perf-txn", 2).await;
    let servers = format!("bootstrap.servers={boot}");
    let args = [
        "--topic",
        "perf-txn",
        "--num-records",
        "3000",
        "--payload-monotonic",
        "--throughput",
        "20000",
        "--transactional-id",
        "perf-txn-writer",
        "--transaction-duration-ms",
        "30",
        "--producer-props",
        &servers,
    ];
    let r = run(PP, &args, "").await.ok();
    let n = summary(r.stdout.lines().last().unwrap());
    assert_eq!(n[0], 3000.0, "{}", r.stdout);
    let records = stored(&cluster, "perf-txn", 2).await;
    assert_eq!(records.len(), 3000, "data records (markers are control batches)");
    let mut commits = 0;
    for p in 0..2 {
        let batches = cluster.batches("perf-txn", p, None).await.unwrap();
        assert!(batches.iter().all(|b| b.transactional), "partition {p}: {batches:?}");
        commits += batches.iter().filter(|b| b.control).count();
        assert!(batches.last().is_some_and(|b| b.control), "partition {p} ends with a marker");
    }
    // 3000 records at 20000/s take about 150 ms: several transactions.
    assert!(commits >= 4, "{commits} markers");
}
