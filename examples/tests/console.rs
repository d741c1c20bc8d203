//! `kafka-console-producer` and `kafka-console-consumer` against a 3-broker
//! testkit cluster: lines in, records out, in Kafka's layouts. What the
//! producer wrote is also checked against what the cluster stores, so the
//! two tools do not only vouch for each other.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{check_expected, cluster, normalize, run, topic};

const P: &str = "kafka-console-producer";
const C: &str = "kafka-console-consumer";

/// Timestamps vary from run to run.
const TIMESTAMPS: (&str, &str) = (r"CreateTime:\d+", "CreateTime:<ts>");

fn values(records: &[kafka_protocol::records::Record]) -> Vec<String> {
    records.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or(b"<null>")).into_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_become_records_and_come_back() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "lines", 1).await;

    // Default reader: the whole line is the value (tabs included), no key.
    let input = "first line\nsecond\twith a tab\n\nlast, without newline";
    let p = run(P, &["--bootstrap-server", &boot, "--topic", "lines"], input).await.ok();
    assert_eq!(p.stdout, "", "no prompt when stdin is not a terminal");
    let stored = cluster.records("lines", 0).await.unwrap();
    assert_eq!(values(&stored), ["first line", "second\twith a tab", "", "last, without newline"]);
    assert!(stored.iter().all(|r| r.key.is_none() && r.headers.is_empty()));

    let c = run(C, &["--bootstrap-server", &boot, "--topic", "lines", "--from-beginning", "--max-messages", "4"], "")
        .await
        .ok();
    assert_eq!(c.stdout, "first line\nsecond\twith a tab\n\nlast, without newline\n");
    assert_eq!(c.stderr, "Processed a total of 4 messages\n");
    check_expected("console_values.txt", &c.stdout);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_headers_and_every_print_property() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "keyed", 1).await;

    // parse.key with a custom separator, --sync (linger.ms from --timeout).
    let input = "k1:v1\nk2:v:with:colons\n:empty-key\nNULL:null-key\nk5:NULL\n";
    let args = [
        "--bootstrap-server",
        &boot,
        "--topic",
        "keyed",
        "--sync",
        "--timeout",
        "0",
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--property",
        "null.marker=NULL",
    ];
    run(P, &args, input).await.ok();
    // The default key separator is a tab, as in Kafka; headers first.
    let args = [
        "--bootstrap-server",
        &boot,
        "--topic",
        "keyed",
        "--producer-property",
        "linger.ms=0",
        "--property",
        "parse.key=true",
        "--property",
        "parse.headers=true",
    ];
    run(P, &args, "h1:a,h2:b\ttab-key\ttab value\n").await.ok();

    let stored = cluster.records("keyed", 0).await.unwrap();
    let keys: Vec<Option<&[u8]>> = stored.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(keys, [Some(&b"k1"[..]), Some(b"k2"), Some(b""), None, Some(b"k5"), Some(b"tab-key")]);
    assert_eq!(values(&stored), ["v1", "v:with:colons", "empty-key", "null-key", "<null>", "tab value"]);
    assert_eq!(stored[5].headers.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(), ["h1", "h2"]);

    let all = [
        "--bootstrap-server",
        &boot,
        "--topic",
        "keyed",
        "--from-beginning",
        "--max-messages",
        "6",
        "--property",
        "print.timestamp=true",
        "--property",
        "print.partition=true",
        "--property",
        "print.offset=true",
        "--property",
        "print.headers=true",
        "--property",
        "print.key=true",
    ];
    let c = run(C, &all, "").await.ok();
    assert!(c.stdout.starts_with("CreateTime:"), "{}", c.stdout);
    check_expected("console_print_all.txt", &normalize(&c.stdout, &[TIMESTAMPS]));

    // Kafka's order without headers, and a custom separator and null literal.
    let some = [
        "--bootstrap-server",
        &boot,
        "--topic",
        "keyed",
        "--offset",
        "earliest",
        "--partition",
        "0",
        "--max-messages",
        "5",
        "--property",
        "print.key=true",
        "--property",
        "print.offset=true",
        "--property",
        "key.separator= | ",
        "--property",
        "null.literal=<none>",
    ];
    let c = run(C, &some, "").await.ok();
    check_expected("console_key_separator.txt", &c.stdout);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_resumes_where_it_stopped() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "grouped", 3).await;
    let input: String = (0..30).map(|i| format!("k{i}\tv{i}\n")).collect();
    run(P, &["--bootstrap-server", &boot, "--topic", "grouped", "--property", "parse.key=true"], &input).await.ok();
    let mut stored = 0;
    for p in 0..3 {
        stored += cluster.records("grouped", p).await.unwrap().len();
    }
    assert_eq!(stored, 30);

    // Each run leaves the group on exit, so the next starts at once from
    // the offsets the last one committed.
    let group = |max: &'static str| {
        let boot = boot.clone();
        async move {
            let args = [
                "--bootstrap-server",
                &boot,
                "--topic",
                "grouped",
                "--group",
                "g1",
                "--from-beginning",
                "--max-messages",
                max,
            ];
            run(C, &args, "").await.ok()
        }
    };
    // A poll returns more than ten records: the ones not printed must not
    // be committed, or the next run would skip them.
    let first = group("10").await;
    let second = group("20").await;
    assert_eq!(first.stdout.lines().count(), 10);
    assert_eq!(second.stdout.lines().count(), 20);
    let seen: BTreeSet<&str> = first.stdout.lines().chain(second.stdout.lines()).collect();
    let all: BTreeSet<String> = (0..30).map(|i| format!("v{i}")).collect();
    assert_eq!(seen, all.iter().map(String::as_str).collect());
    let committed = cluster.committed_offsets("g1").await.unwrap();
    assert_eq!(committed.values().sum::<i64>(), 30, "{committed:?}");

    // Nothing left for the group: it times out.
    let args = ["--bootstrap-server", &boot, "--topic", "grouped", "--group", "g1", "--timeout-ms", "1500"];
    let third = run(C, &args, "").await.ok();
    assert_eq!(third.stdout, "");
    assert!(third.stderr.ends_with("Processed a total of 0 messages\n"), "{}", third.stderr);
    cluster.shutdown().await;
}

/// With Kafka's default session timeout (45 s), a consumer that follows
/// another in the same group starts at once only if the first one left the
/// group on close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_consumer_leaves_its_group() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "leaving", 1).await;
    run(P, &["--bootstrap-server", &boot, "--topic", "leaving"], "a\nb\n").await.ok();
    let args =
        ["--bootstrap-server", &boot, "--topic", "leaving", "--group", "g", "--from-beginning", "--max-messages"];
    let first = run(C, &[&args[..], &["1"]].concat(), "").await.ok();
    assert_eq!(first.stdout, "a\n");
    let second = run(C, &[&args[..], &["1"]].concat(), "").await.ok();
    assert_eq!(second.stdout, "b\n");
    assert!(second.elapsed < Duration::from_secs(10), "the second member waited {:?} to join", second.elapsed);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_and_offset() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "single", 2).await;
    // One key for every line: all records land in one partition.
    let input: String = (0..5).map(|i| format!("same\tv{i}\n")).collect();
    run(P, &["--bootstrap-server", &boot, "--topic", "single", "--property", "parse.key=true"], &input).await.ok();
    let mut used = None;
    for p in 0..2 {
        if !cluster.records("single", p).await.unwrap().is_empty() {
            used = Some(p);
        }
    }
    let p = used.expect("the records are somewhere").to_string();

    let base = ["--bootstrap-server", boot.as_str(), "--topic", "single", "--partition", p.as_str()];
    let with = |extra: &[&'static str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        a
    };
    let c = run(C, &with(&["--offset", "2", "--max-messages", "3", "--property", "print.offset=true"]), "").await.ok();
    assert_eq!(c.stdout, "Offset:2\tv2\nOffset:3\tv3\nOffset:4\tv4\n");
    let c = run(C, &with(&["--from-beginning", "--max-messages", "5"]), "").await.ok();
    assert_eq!(c.stdout, "v0\nv1\nv2\nv3\nv4\n");
    let c = run(C, &with(&["--offset", "earliest", "--max-messages", "1"]), "").await.ok();
    assert_eq!(c.stdout, "v0\n");
    // The default (and --offset latest) starts at the end: nothing arrives.
    let c = run(C, &with(&["--offset", "latest", "--timeout-ms", "400"]), "").await.ok();
    assert_eq!((c.stdout.as_str(), c.stderr.lines().last()), ("", Some("Processed a total of 0 messages")));
    let c = run(C, &with(&["--timeout-ms", "400"]), "").await.ok();
    assert_eq!(c.stdout, "");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_mistakes() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    topic(&cluster, "quiet", 1).await;

    // --timeout-ms without records: exits cleanly and soon.
    let c = run(C, &["--bootstrap-server", &boot, "--topic", "quiet", "--from-beginning", "--timeout-ms", "300"], "")
        .await
        .ok();
    assert!(c.elapsed < Duration::from_secs(10), "{:?}", c.elapsed);
    assert!(c.stderr.contains("TimeoutException"), "{}", c.stderr);
    assert!(c.stderr.ends_with("Processed a total of 0 messages\n"), "{}", c.stderr);

    // A line without the key separator stops the producer with one line
    // on stderr; what came before it was sent.
    let p =
        run(P, &["--bootstrap-server", &boot, "--topic", "quiet", "--property", "parse.key=true"], "a\t1\nbad\n").await;
    assert_eq!(p.failed_with_one_line(), "kafka-console-producer: No key separator found on line number 2: 'bad'");
    assert_eq!(values(&cluster.records("quiet", 0).await.unwrap()), ["1"]);

    // Command-line mistakes: one line, exit status 1.
    let cases: [(&str, Vec<&str>, &str); 6] = [
        (P, vec!["--topic", "t"], "Missing required argument \"[bootstrap-server]\""),
        (P, vec!["--bootstrap-server", "nohostport", "--topic", "t"], "Please provide valid host:port"),
        (C, vec!["--bootstrap-server", &boot, "--topic", "t", "--offset", "3"], "The partition is required"),
        (
            C,
            vec!["--bootstrap-server", &boot, "--topic", "t", "--partition", "0", "--group", "g"],
            "cannot be specified",
        ),
        (C, vec!["--bootstrap-server", &boot, "--topic", "t", "--partition", "0", "--offset", "-4"], "is incorrect"),
        (
            C,
            vec!["--bootstrap-server", &boot, "--topic", "t", "--frm-beginning"],
            "frm-beginning is not a recognized option",
        ),
    ];
    for (tool, args, expected) in cases {
        let r = run(tool, &args, "").await;
        let line = r.failed_with_one_line();
        assert!(line.starts_with(&format!("{tool}: ")) && line.contains(expected), "{tool} {args:?}: {line}");
    }

    // --help works for both and lists Kafka's flags.
    for (tool, flags) in
        [(P, &["--bootstrap-server", "--sync", "--property"][..]), (C, &["--from-beginning", "--max-messages"])]
    {
        let h = run(tool, &["--help"], "").await.ok();
        for f in flags {
            assert!(h.stdout.contains(f), "{tool} --help lacks {f}");
        }
    }
    cluster.shutdown().await;
}
