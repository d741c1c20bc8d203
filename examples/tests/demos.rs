//! The runnable demos: the quickstart runs to completion in a few seconds
//! and tells its story in order; the focused examples run on their own
//! embedded cluster, and against a cluster `--bootstrap-server` names
//! (where what they wrote is checked).

mod common;

use std::time::Duration;

use common::{cluster, run};

/// The quickstart is meant to be run by hand: it must stay quick.
const QUICK: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_tells_the_whole_story() {
    let r = run("quickstart", &[], "").await.ok();
    assert!(r.elapsed < QUICK, "the quickstart took {:?}", r.elapsed);
    assert_eq!(r.stderr, "", "logs are off by default");
    let out = &r.stdout;
    let sections = [
        "== 1. Start a cluster ==",
        "== 2. Create a topic ==",
        "== 3. Produce keyed records ==",
        "== 4. Consume with a group of three ==",
        "== 5. A member leaves; the others take over ==",
        "== 6. Consumer lag ==",
        "== 7. Shut down ==",
    ];
    let mut at = 0;
    for s in sections {
        let found = out[at..].find(s).unwrap_or_else(|| panic!("missing or out of order: {s}\n{out}"));
        at += found + s.len();
    }
    // Every user's records landed in one partition.
    for user in ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"] {
        assert!(out.lines().any(|l| l.trim_start().starts_with(user) && l.contains("-> partition ")), "{user}\n{out}");
    }
    // Three members, then two, each owning partitions.
    let stable = out.split("The group is stable.").nth(1).unwrap_or_default();
    for m in ["member-1", "member-2", "member-3"] {
        assert!(
            stable.lines().take(4).any(|l| l.trim_start().starts_with(m) && l.contains("owns partitions")),
            "{out}"
        );
    }
    assert!(out.contains("All 32 records were read"), "{out}");
    assert!(out.contains("[member-3] hands back"), "{out}");
    let after = out.split("The new assignment:").nth(1).unwrap_or_default();
    let owners: Vec<&str> = after.lines().take(3).filter(|l| l.contains("owns partitions")).collect();
    assert_eq!(owners.len(), 2, "{out}");
    assert!(owners.iter().all(|l| l.matches(',').count() == 2), "three partitions each: {owners:?}");
    // The lag table of the admin client, with the two members.
    assert!(out.contains("\nGROUP "), "{out}");
    assert!(out.contains("Total lag: 12 records"), "{out}");
    assert!(out.trim_end().ends_with("Done."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focused_examples_run_on_their_own() {
    let r = run("producer", &[], "").await.ok();
    assert!(r.stdout.starts_with("(no --bootstrap-server: started an embedded 3-broker cluster at "), "{}", r.stdout);
    assert!(r.stdout.contains("order-1 written to examples-orders-"), "{}", r.stdout);
    assert!(r.stdout.contains("orders 7-10 sent and flushed"), "{}", r.stdout);
    assert!(r.stdout.ends_with("producer closed\n"), "{}", r.stdout);

    let r = run("consumer", &[], "").await.ok();
    assert_eq!(r.stdout.lines().filter(|l| l.contains(": account-")).count(), 12, "{}", r.stdout);
    assert!(r.stdout.contains("committed after 10 records"), "{}", r.stdout);
    assert!(r.stdout.ends_with("read 12 records; consumer closed\n"), "{}", r.stdout);

    let r = run("admin", &[], "").await.ok();
    for line in [
        "created examples-audit",
        "  retention.ms = 3600000 (DynamicTopic)",
        "  examples-admin-group (state Empty",
        "deleted topic examples-metrics",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?}:\n{}", r.stdout);
    }
    let r = run("transactions", &[], "").await.ok();
    for line in [
        "wrote the numbers 1-20 to examples-numbers",
        "read_committed reads 20 results, each once",
        "group examples-doubler committed offsets covering 20 of 20 numbers",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?}:\n{}", r.stdout);
    }
    assert!(r.stdout.contains("aborted a transaction of "), "{}", r.stdout);
    let aborted = r.stdout.lines().find_map(|l| l.strip_prefix("read_uncommitted also sees the ")).unwrap_or_default();
    assert!(!aborted.starts_with('0'), "the aborted results are in the log: {}", r.stdout);
    for tool in ["producer", "consumer", "admin", "quickstart", "transactions"] {
        let h = run(tool, &["--help"], "").await.ok();
        assert!(tool == "quickstart" || h.stdout.contains("--bootstrap-server"), "{tool}: {}", h.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_focused_examples_use_a_given_cluster() {
    let cluster = cluster(None).await;
    let boot = cluster.bootstrap_servers();
    let r = run("producer", &["--bootstrap-server", &boot, "--topic", "given"], "").await.ok();
    assert!(!r.stdout.contains("embedded"), "{}", r.stdout);
    let mut stored = Vec::new();
    for p in 0..3 {
        stored.extend(cluster.records("given", p).await.unwrap());
    }
    assert_eq!(stored.len(), 11, "ten orders and order-1's second event");
    let first = stored.iter().find(|r| r.key.as_deref() == Some(b"order-1")).unwrap();
    let headers: Vec<&str> = first.headers.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(headers, ["source", "schema"]);

    // The consumer seeds its topic, reads it in its group, and commits.
    run("consumer", &["--bootstrap-server", &boot, "--topic", "pay", "--group", "payers"], "").await.ok();
    let committed = cluster.committed_offsets("payers").await.unwrap();
    assert_eq!(committed.values().sum::<i64>(), 12, "{committed:?}");

    // The transactional worker commits its group's offsets with its results.
    run("transactions", &["--bootstrap-server", &boot, "--group", "doublers"], "").await.ok();
    let committed = cluster.committed_offsets("doublers").await.unwrap();
    assert_eq!(committed.values().sum::<i64>(), 20, "{committed:?}");

    run("admin", &["--bootstrap-server", &boot], "").await.ok();
    assert!(cluster.partition_state("examples-audit", 0).await.is_err(), "the admin example cleans up");
    cluster.shutdown().await;
}
