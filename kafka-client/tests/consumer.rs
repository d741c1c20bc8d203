//! The consumer against broker-testkit: group membership across joins,
//! leaves, crashes, overdue polls, coordinator failures and static members;
//! commits and where a restarted consumer resumes; reset policies, seeks,
//! offsets by time, pause/resume; cancel safety of `poll` and the stream.
//! Records are produced with our producer and checked by value, so a lost
//! or duplicated record shows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_testkit::{Cluster, Fault, FaultAction, TopicSpec};
use futures::StreamExt;
use futures::future::BoxFuture;
use kafka_client::consumer::assignor::{Assignment, Assignor, ClusterTopics, RangeAssignor, Subscription};
use kafka_client::consumer::{
    AssignorChoice, Consumer, ConsumerBuilder, ConsumerRecord, OffsetAndMetadata, OffsetReset, RebalanceListener,
};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, TopicPartition};
use kafka_protocol::ApiKey;

mod common;
use common::{clock, in_memory};

const WAIT: Duration = Duration::from_secs(20);

fn builder(cluster: &Cluster, group: &str) -> ConsumerBuilder {
    // RUST_LOG=kafka_client=debug shows what the consumer does.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_millis(1500))
        .heartbeat_interval(Duration::from_millis(100))
        .max_poll_interval(Duration::from_secs(10))
        .metadata_max_age(Duration::from_millis(500))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .clock(clock())
        .connector(in_memory(cluster))
}

/// Produces `v-0..n` (keyed, so spread over the partitions); returns the
/// values by partition.
async fn produce(cluster: &Cluster, topic: &str, prefix: &str, n: usize) {
    let p = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .linger(Duration::from_millis(1))
        .clock(clock())
        .connector(in_memory(cluster))
        .build()
        .unwrap();
    let mut futs = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic).key(format!("k{i}")).value(format!("{prefix}-{i}"));
        futs.push(p.send(r).await.unwrap());
    }
    for f in futs {
        f.await.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
}

fn value(r: &ConsumerRecord) -> String {
    String::from_utf8(r.value.clone().unwrap_or_default().to_vec()).unwrap()
}

fn tps(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Polls every consumer until `done` holds (checked after each round).
async fn poll_until(
    consumers: &[&Consumer],
    seen: &mut Vec<ConsumerRecord>,
    mut done: impl FnMut(&[&Consumer], &[ConsumerRecord]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for c in consumers {
            let records = c.poll(Duration::from_millis(20)).await.unwrap();
            seen.extend(records);
        }
        if done(consumers, seen) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out; assignments {:?}", assignments(consumers));
    }
}

fn assignments(consumers: &[&Consumer]) -> Vec<BTreeSet<TopicPartition>> {
    consumers.iter().map(|c| c.assignment()).collect()
}

/// True when the consumers' assignments are disjoint and cover `all`.
fn partitioned(consumers: &[&Consumer], all: &BTreeSet<TopicPartition>) -> bool {
    let sets = assignments(consumers);
    let union: BTreeSet<TopicPartition> = sets.iter().flatten().cloned().collect();
    let total: usize = sets.iter().map(BTreeSet::len).sum();
    union == *all && total == all.len() && sets.iter().all(|s| !s.is_empty())
}

fn count_values(seen: &[ConsumerRecord], prefix: &str, n: usize) -> (Vec<usize>, Vec<usize>) {
    let mut counts = vec![0usize; n];
    for r in seen {
        if let Some(i) = value(r).strip_prefix(&format!("{prefix}-")).and_then(|s| s.parse::<usize>().ok()) {
            counts[i] += 1;
        }
    }
    let missing = (0..n).filter(|&i| counts[i] == 0).collect();
    let dupes = (0..n).filter(|&i| counts[i] > 1).collect();
    (missing, dupes)
}

#[tokio::test(start_paused = true)]
async fn three_consumers_split_six_partitions_and_take_over_on_leave_and_crash() {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    cluster.create_topic("orders", 6, 3).await.unwrap();
    produce(&cluster, "orders", "v", 600).await;
    let all = tps("orders", 6);
    let c1 = builder(&cluster, "g").build().unwrap();
    let c2 = builder(&cluster, "g").build().unwrap();
    let c3 = builder(&cluster, "g").build().unwrap();
    for c in [&c1, &c2, &c3] {
        c.subscribe(["orders"]).unwrap();
    }
    let mut seen = Vec::new();
    poll_until(&[&c1, &c2, &c3], &mut seen, |cs, seen| partitioned(cs, &all) && seen.len() >= 600).await;
    // Range over one topic: two partitions each, in member order.
    assert!(assignments(&[&c1, &c2, &c3]).iter().all(|a| a.len() == 2), "{:?}", assignments(&[&c1, &c2, &c3]));
    let view = cluster.wait_for_group_stable("g", Some(3), WAIT).await.unwrap();
    assert_eq!(view.protocol.as_deref(), Some("range"));
    let (missing, dupes) = count_values(&seen, "v", 600);
    assert!(missing.is_empty() && dupes.is_empty(), "missing {missing:?} dupes {dupes:?}");

    // A clean leave: the other two take its partitions at once.
    c3.close().await.unwrap();
    assert_eq!(cluster.request_stats().count(None, ApiKey::LeaveGroup), 1, "close() sends LeaveGroup");
    poll_until(&[&c1, &c2], &mut seen, |cs, _| partitioned(cs, &all)).await;
    cluster.wait_for_group_stable("g", Some(2), WAIT).await.unwrap();

    // A crash: no LeaveGroup; the session times out and c1 takes everything.
    let generation = cluster.group("g").await.unwrap().unwrap().generation;
    std::mem::forget(c2);
    poll_until(&[&c1], &mut seen, |cs, _| cs[0].assignment() == all).await;
    let view = cluster.wait_for_group_stable("g", Some(1), WAIT).await.unwrap();
    assert!(view.generation > generation);
    c1.close().await.unwrap();
}

/// Records listener calls, and commits what was processed on revocation.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
    processed: Mutex<BTreeMap<TopicPartition, i64>>,
    commit_on_revoke: bool,
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

struct Shared(Arc<Recorder>);

impl RebalanceListener for Shared {
    fn on_partitions_revoked<'a>(&'a self, consumer: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0.events.lock().unwrap().push(format!("revoked {}", parts.len()));
            if self.0.commit_on_revoke {
                let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = {
                    let processed = self.0.processed.lock().unwrap();
                    parts
                        .iter()
                        .filter_map(|tp| processed.get(tp).map(|o| (tp.clone(), OffsetAndMetadata::new(*o))))
                        .collect()
                };
                consumer.commit_offsets(offsets).await.unwrap();
            }
        })
    }

    fn on_partitions_assigned<'a>(&'a self, _: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0.events.lock().unwrap().push(format!("assigned {}", parts.len()));
        })
    }

    fn on_partitions_lost<'a>(&'a self, _: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0.events.lock().unwrap().push(format!("lost {}", parts.len()));
        })
    }
}

#[tokio::test(start_paused = true)]
async fn listeners_run_in_order_and_commit_on_revoke_loses_nothing() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 6, 1).await.unwrap();
    produce(&cluster, "t", "a", 300).await;
    let all = tps("t", 6);
    let rec1 = Arc::new(Recorder { commit_on_revoke: true, ..Default::default() });
    let rec2 = Arc::new(Recorder { commit_on_revoke: true, ..Default::default() });
    let c1 = builder(&cluster, "g").enable_auto_commit(false).max_poll_records(7).build().unwrap();
    c1.subscribe_with(["t"], Shared(rec1.clone())).unwrap();

    // c1 alone, part-way through; then c2 joins and c1 revokes everything
    // (eager), committing what it processed, before the new assignment.
    let mut seen = Vec::new();
    let process = |rec: &Recorder, records: &[ConsumerRecord], seen: &mut Vec<ConsumerRecord>| {
        let mut processed = rec.processed.lock().unwrap();
        for r in records {
            processed.insert(r.topic_partition(), r.offset + 1);
            seen.push(r.clone());
        }
    };
    while seen.len() < 100 {
        let records: Vec<ConsumerRecord> = c1.poll(Duration::from_millis(50)).await.unwrap().into_iter().collect();
        process(&rec1, &records, &mut seen);
    }
    assert_eq!(rec1.events(), ["assigned 6"]);
    let c2 = builder(&cluster, "g").enable_auto_commit(false).max_poll_records(7).build().unwrap();
    c2.subscribe_with(["t"], Shared(rec2.clone())).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(partitioned(&[&c1, &c2], &all) && seen.len() >= 300) {
        for (c, rec) in [(&c1, &rec1), (&c2, &rec2)] {
            let records: Vec<ConsumerRecord> = c.poll(Duration::from_millis(20)).await.unwrap().into_iter().collect();
            for r in &records {
                assert!(c.assignment().contains(&r.topic_partition()), "a record of a partition not owned: {r:?}");
            }
            process(rec, &records, &mut seen);
        }
        assert!(tokio::time::Instant::now() < deadline);
    }
    assert_eq!(rec1.events(), ["assigned 6", "revoked 6", "assigned 3"]);
    assert_eq!(rec2.events(), ["assigned 3"]);
    // Committed at revocation, then processed by the new owner from there:
    // every record once.
    let (missing, dupes) = count_values(&seen, "a", 300);
    assert!(missing.is_empty() && dupes.is_empty(), "missing {missing:?} dupes {dupes:?}");
    c1.close().await.unwrap();
    c2.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_restarted_consumer_resumes_from_its_commits() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 3, 1).await.unwrap();
    produce(&cluster, "t", "r", 90).await;
    let c = builder(&cluster, "g").enable_auto_commit(false).max_poll_records(10).build().unwrap();
    c.subscribe(["t"]).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 40 {
        seen.extend(c.poll(Duration::from_millis(50)).await.unwrap());
    }
    c.commit().await.unwrap();
    let committed = c.committed(&tps("t", 3).into_iter().collect::<Vec<_>>()).await.unwrap();
    let positions: BTreeMap<TopicPartition, i64> = {
        let mut m = BTreeMap::new();
        for tp in tps("t", 3) {
            m.insert(tp.clone(), c.position(&tp).await.unwrap());
        }
        m
    };
    for (tp, o) in &committed {
        assert_eq!(o.as_ref().map(|o| o.offset), Some(positions[tp]), "{tp}: committed = position");
        assert!(o.as_ref().unwrap().leader_epoch.is_some(), "committed with the leader epoch");
    }
    let stored = cluster.committed_offsets("g").await.unwrap();
    assert_eq!(stored.values().sum::<i64>(), seen.len() as i64);
    c.close().await.unwrap();

    let c = builder(&cluster, "g").build().unwrap();
    c.subscribe(["t"]).unwrap();
    while seen.len() < 90 {
        seen.extend(c.poll(Duration::from_millis(50)).await.unwrap());
    }
    assert!(c.poll(Duration::from_millis(200)).await.unwrap().is_empty());
    let (missing, dupes) = count_values(&seen, "r", 90);
    assert!(missing.is_empty() && dupes.is_empty(), "missing {missing:?} dupes {dupes:?}");
    // Auto-commit on close.
    c.close().await.unwrap();
    assert_eq!(cluster.committed_offsets("g").await.unwrap().values().sum::<i64>(), 90);
}

#[tokio::test(start_paused = true)]
async fn reset_policies() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    produce(&cluster, "t", "old", 10).await;
    let tp = TopicPartition::new("t", 0);

    let earliest = builder(&cluster, "e").build().unwrap();
    earliest.assign([tp.clone()]).unwrap();
    assert_eq!(earliest.position(&tp).await.unwrap(), 0);

    let latest = builder(&cluster, "l").auto_offset_reset(OffsetReset::Latest).build().unwrap();
    latest.assign([tp.clone()]).unwrap();
    assert_eq!(latest.position(&tp).await.unwrap(), 10);
    produce(&cluster, "t", "new", 5).await;
    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend(latest.poll(Duration::from_millis(50)).await.unwrap().into_iter().map(|r| value(&r)));
    }
    assert_eq!(got, ["new-0", "new-1", "new-2", "new-3", "new-4"]);

    let none = builder(&cluster, "n").auto_offset_reset(OffsetReset::None).build().unwrap();
    none.assign([tp.clone()]).unwrap();
    match none.poll(Duration::from_millis(500)).await {
        Err(Error::NoOffset { tp: t }) => assert_eq!(t, tp),
        other => panic!("expected NoOffset, got {other:?}"),
    }
    none.seek(&tp, 12).unwrap();
    let records = none.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(records.iter().next().map(|r| r.offset), Some(12));

    // Out of range: back to the policy.
    earliest.seek(&tp, 1_000).unwrap();
    let records = earliest.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(records.iter().next().map(|r| r.offset), Some(0));
}

#[tokio::test(start_paused = true)]
async fn seek_offsets_for_times_and_bounds() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    let p = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .clock(clock())
        .connector(in_memory(&cluster))
        .build()
        .unwrap();
    let base = 1_700_000_000_000i64;
    for i in 0..10 {
        let r = ProducerRecord::new("t").value(format!("v{i}")).timestamp(base + i * 1000);
        p.send_and_wait(r).await.unwrap();
    }
    let tp = TopicPartition::new("t", 0);
    let c = builder(&cluster, "g").build().unwrap();
    c.assign([tp.clone()]).unwrap();
    assert_eq!(c.beginning_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp], 0);
    assert_eq!(c.end_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp], 10);
    let found = c.offsets_for_times([(tp.clone(), base + 4500)].into()).await.unwrap();
    let o = found[&tp].unwrap();
    assert_eq!((o.offset, o.timestamp), (5, base + 5000));
    let none = c.offsets_for_times([(tp.clone(), base + 60_000)].into()).await.unwrap();
    assert_eq!(none[&tp], None);

    c.seek(&tp, o.offset).unwrap();
    let records: Vec<ConsumerRecord> = c.poll(Duration::from_secs(5)).await.unwrap().into_iter().collect();
    assert_eq!(records[0].offset, 5);
    assert_eq!(records[0].timestamp, base + 5000);
    c.seek_to_beginning(&[]).unwrap();
    assert_eq!(c.position(&tp).await.unwrap(), 0);
    c.seek_to_end(std::slice::from_ref(&tp)).unwrap();
    assert_eq!(c.position(&tp).await.unwrap(), 10);
    assert!(matches!(c.seek(&TopicPartition::new("t", 7), 0), Err(Error::IllegalState(_))));
}

#[tokio::test(start_paused = true)]
async fn pause_and_resume() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 2, 1).await.unwrap();
    produce(&cluster, "t", "p", 100).await;
    let (t0, t1) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    let c = builder(&cluster, "g").build().unwrap();
    c.assign([t0.clone(), t1.clone()]).unwrap();
    c.pause(std::slice::from_ref(&t0)).unwrap();
    assert_eq!(c.paused(), [t0.clone()].into());
    let mut from: BTreeMap<i32, usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < deadline {
        for r in c.poll(Duration::from_millis(50)).await.unwrap() {
            *from.entry(r.partition).or_default() += 1;
        }
    }
    assert_eq!(from.get(&0), None, "nothing from the paused partition");
    assert!(from.get(&1).is_some_and(|&n| n > 0));
    c.resume(std::slice::from_ref(&t0)).unwrap();
    let end = c.end_offsets(std::slice::from_ref(&t0)).await.unwrap()[&t0] as usize;
    while from.get(&0).copied().unwrap_or(0) < end {
        for r in c.poll(Duration::from_millis(50)).await.unwrap() {
            *from.entry(r.partition).or_default() += 1;
        }
    }
    assert_eq!(from.values().sum::<usize>(), 100);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_that_stops_polling_is_removed_and_rejoins() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 4, 1).await.unwrap();
    let all = tps("t", 4);
    let rec = Arc::new(Recorder::default());
    let slow = builder(&cluster, "g").max_poll_interval(Duration::from_millis(800)).build().unwrap();
    slow.subscribe_with(["t"], Shared(rec.clone())).unwrap();
    let fast = builder(&cluster, "g").build().unwrap();
    fast.subscribe(["t"]).unwrap();
    let mut seen = Vec::new();
    poll_until(&[&slow, &fast], &mut seen, |cs, _| partitioned(cs, &all)).await;

    // `slow` does not poll for longer than max.poll.interval.ms: it leaves,
    // and `fast` gets everything.
    let deadline = tokio::time::Instant::now() + WAIT;
    while fast.assignment() != all {
        fast.poll(Duration::from_millis(50)).await.unwrap();
        assert!(tokio::time::Instant::now() < deadline);
    }
    // Its next poll reports the partitions lost and rejoins.
    poll_until(&[&slow, &fast], &mut seen, |cs, _| partitioned(cs, &all)).await;
    // Lost, not revoked: no revocation between its last assignment and the loss.
    let events = rec.events();
    let lost = events.iter().position(|e| e == "lost 2").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(events[lost - 1], "assigned 2", "{events:?}");
}

/// A member that is not polling keeps heartbeating on its own timer, also
/// after the coordinator was once unavailable (which leaves a retry backoff
/// behind in the group state machine). Found on real Kafka, whose first
/// FindCoordinator answers COORDINATOR_NOT_AVAILABLE while `__consumer_offsets`
/// is created: the expired backoff stood in for the next heartbeat, so the
/// engine slept until something else woke it.
#[tokio::test(start_paused = true)]
async fn a_member_between_polls_heartbeats_after_a_coordinator_backoff() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    let unavailable = cluster.add_fault(
        Fault::on(ApiKey::FindCoordinator)
            .action(FaultAction::Error(kafka_protocol::ErrorCode::COORDINATOR_NOT_AVAILABLE))
            .times(1),
    );
    let c = builder(&cluster, "g").build().unwrap();
    c.subscribe(["t"]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.assignment().is_empty() {
        c.poll(Duration::from_millis(50)).await.unwrap();
        assert!(tokio::time::Instant::now() < deadline, "never assigned");
    }
    assert_eq!(unavailable.fired(), 1);
    let member = c.group_member();
    let before = cluster.request_stats().count(None, ApiKey::Heartbeat);
    // Five session timeouts (1.5 s) without a poll, within max.poll.interval.ms (10 s).
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    let sent = cluster.request_stats().count(None, ApiKey::Heartbeat) - before;
    assert!(sent >= 60, "{sent} heartbeats in 7.5 s at a 100 ms interval");
    c.poll(Duration::from_millis(50)).await.unwrap();
    assert_eq!(c.group_member(), member, "still the same member in the same generation");
    assert_eq!(c.assignment(), tps("t", 1));
}

/// Panics on its first assignment, then assigns as `range` does.
#[derive(Debug, Default)]
struct PanicsOnce(std::sync::atomic::AtomicBool);

impl Assignor for PanicsOnce {
    fn name(&self) -> &str {
        "panics-once"
    }

    fn assign(
        &self,
        metadata: &ClusterTopics,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        if !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
            panic!("a bug in a custom assignor (expected by this test)");
        }
        RangeAssignor.assign(metadata, subscriptions)
    }
}

/// A request that panics in the consumer (here the leader's assignor run)
/// does not wedge it: the assignment is tried again and the group forms.
#[tokio::test(start_paused = true)]
async fn an_assignor_that_panics_once_does_not_wedge_the_group() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 2, 1).await.unwrap();
    let c =
        builder(&cluster, "g").assignors([AssignorChoice::Custom(Arc::new(PanicsOnce::default()))]).build().unwrap();
    c.subscribe(["t"]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.assignment() != tps("t", 2) {
        c.poll(Duration::from_millis(50)).await.unwrap();
        assert!(tokio::time::Instant::now() < deadline, "never assigned after the assignor's panic");
    }
}

/// Java's `Utils.abs(groupId.hashCode()) % partitions` (`Utils.abs` maps
/// `i32::MIN` to 0).
fn offsets_partition(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for u in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    if h == i32::MIN { 0 } else { h.abs() % partitions }
}

#[tokio::test(start_paused = true)]
async fn the_coordinator_stops_mid_group() {
    let cluster = Cluster::builder().brokers(3).offsets_topic_partitions(3).start().await.unwrap();
    cluster.create_topic("t", 4, 3).await.unwrap();
    produce(&cluster, "t", "c", 200).await;
    let c1 = builder(&cluster, "g").enable_auto_commit(false).max_poll_records(5).build().unwrap();
    let c2 = builder(&cluster, "g").enable_auto_commit(false).max_poll_records(5).build().unwrap();
    c1.subscribe(["t"]).unwrap();
    c2.subscribe(["t"]).unwrap();
    let all = tps("t", 4);
    let mut seen = Vec::new();
    poll_until(&[&c1, &c2], &mut seen, |cs, seen| partitioned(cs, &all) && seen.len() >= 40).await;
    c1.commit().await.unwrap();
    c2.commit().await.unwrap();
    let p = offsets_partition("g", 3);
    let coordinator = cluster.partition_state("__consumer_offsets", p).await.unwrap().leader;
    cluster.stop_broker(coordinator).await.unwrap();

    // Both keep consuming, and commit through the new coordinator.
    poll_until(&[&c1, &c2], &mut seen, |_, seen| count_values(seen, "c", 200).0.is_empty()).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r1 = c1.commit().await;
        let r2 = c2.commit().await;
        if r1.is_ok() && r2.is_ok() {
            break;
        }
        // A rebalance may follow the move; poll lets it finish.
        for c in [&c1, &c2] {
            seen.extend(c.poll(Duration::from_millis(20)).await.unwrap());
        }
        assert!(tokio::time::Instant::now() < deadline, "{r1:?} {r2:?}");
    }
    let (missing, _) = count_values(&seen, "c", 200);
    assert!(missing.is_empty(), "missing {missing:?}");
    assert_ne!(cluster.partition_state("__consumer_offsets", p).await.unwrap().leader, coordinator);
    let committed = cluster.committed_offsets("g").await.unwrap();
    assert_eq!(committed.values().sum::<i64>(), 200, "{committed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_static_member_restarts_without_a_rebalance() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 4, 1).await.unwrap();
    let all = tps("t", 4);
    let static_builder =
        |id: &str| builder(&cluster, "g").group_instance_id(id).session_timeout(Duration::from_secs(6));
    let a = static_builder("a").build().unwrap();
    let b = static_builder("b").build().unwrap();
    a.subscribe(["t"]).unwrap();
    b.subscribe(["t"]).unwrap();
    let mut seen = Vec::new();
    poll_until(&[&a, &b], &mut seen, |cs, _| partitioned(cs, &all)).await;
    let before = cluster.wait_for_group_stable("g", Some(2), WAIT).await.unwrap();
    let b_parts = b.assignment();

    // b closes (a static member sends no LeaveGroup) and comes back.
    b.close().await.unwrap();
    assert_eq!(cluster.request_stats().count(None, ApiKey::LeaveGroup), 0);
    let b = static_builder("b").build().unwrap();
    b.subscribe(["t"]).unwrap();
    poll_until(&[&a, &b], &mut seen, |cs, _| partitioned(cs, &all)).await;
    let after = cluster.wait_for_group_stable("g", Some(2), WAIT).await.unwrap();
    assert_eq!(after.generation, before.generation, "no rebalance");
    assert_eq!(b.assignment(), b_parts, "the same partitions");
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn poll_and_next_are_cancel_safe() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 3, 1).await.unwrap();
    // Records arrive while polls wait, in bursts, so polls are cancelled
    // both while waiting and while work is under way.
    let producer = {
        let bootstrap = cluster.bootstrap_servers();
        let connector = in_memory(&cluster);
        tokio::spawn(async move {
            let p = Producer::builder()
                .bootstrap_servers(bootstrap)
                .linger(Duration::from_millis(1))
                .clock(clock())
                .connector(connector)
                .build()
                .unwrap();
            for i in 0..500 {
                let r = ProducerRecord::new("t").key(format!("k{i}")).value(format!("x-{i}"));
                drop(p.send(r).await.unwrap());
                if i % 50 == 49 {
                    p.flush().await;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
            p.close_timeout(Duration::from_secs(5)).await.ok();
        })
    };
    let c = builder(&cluster, "g").max_poll_records(3).build().unwrap();
    c.subscribe(["t"]).unwrap();
    let mut seen = Vec::new();
    let mut cancelled = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 250 {
        tokio::select! {
            r = c.poll(Duration::from_millis(100)) => seen.extend(r.unwrap()),
            () = tokio::time::sleep(Duration::from_micros(300)) => cancelled += 1,
        }
        assert!(tokio::time::Instant::now() < deadline);
    }
    let mut stream = c.stream();
    while seen.len() < 500 {
        tokio::select! {
            r = stream.next() => seen.push(r.unwrap().unwrap()),
            () = tokio::time::sleep(Duration::from_micros(300)) => cancelled += 1,
        }
        assert!(tokio::time::Instant::now() < deadline);
    }
    assert!(cancelled > 0);
    producer.await.unwrap();
    let (missing, dupes) = count_values(&seen, "x", 500);
    assert!(missing.is_empty() && dupes.is_empty(), "missing {missing:?} dupes {dupes:?}");
}

/// Commits on assignment, at offset 10 of every partition it gets.
struct CommitTenOnAssign;

impl RebalanceListener for CommitTenOnAssign {
    fn on_partitions_assigned<'a>(&'a self, consumer: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let offsets = parts.iter().map(|tp| (tp.clone(), OffsetAndMetadata::new(10))).collect();
            consumer.commit_offsets(offsets).await.unwrap();
        })
    }
}

/// A new partition's position is looked up after `on_partitions_assigned`
/// (as Java's consumer does), so what the listener commits is where reading
/// starts.
#[tokio::test(start_paused = true)]
async fn offsets_committed_in_on_partitions_assigned_are_where_reading_starts() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    produce(&cluster, "t", "v", 30).await;
    let c = builder(&cluster, "g").build().unwrap();
    c.subscribe_with(["t"], CommitTenOnAssign).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let first = loop {
        let records = c.poll(Duration::from_millis(50)).await.unwrap();
        if let Some(r) = records.iter().next() {
            break r.offset;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing read");
    };
    assert_eq!(first, 10);
}

/// On its first assignment, makes the coordinator forget the member (one
/// heartbeat answers UNKNOWN_MEMBER_ID) and takes 2 s, so the group moves
/// on while it runs; records what it is told.
struct ForgottenWhileAssigning {
    cluster: Arc<Cluster>,
    events: Mutex<Vec<String>>,
}

impl RebalanceListener for ForgottenWhileAssigning {
    fn on_partitions_assigned<'a>(&'a self, _: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let first = {
                let mut events = self.events.lock().unwrap();
                events.push(format!("assigned {}", parts.len()));
                events.len() == 1
            };
            if first {
                self.cluster.add_fault(
                    Fault::on(ApiKey::Heartbeat)
                        .action(FaultAction::Error(kafka_protocol::ErrorCode::UNKNOWN_MEMBER_ID))
                        .times(1),
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    }

    fn on_partitions_lost<'a>(&'a self, _: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.events.lock().unwrap().push(format!("lost {}", parts.len()));
        })
    }
}

/// Partitions applied for a generation the member loses while their
/// `on_partitions_assigned` runs are reported lost (as Java does with what
/// it had assigned), not kept as if owned; the member then gets its
/// partitions in the next generation and reads everything.
#[tokio::test(start_paused = true)]
async fn partitions_assigned_to_a_generation_lost_during_the_listener_are_lost() {
    let cluster = Arc::new(Cluster::builder().start().await.unwrap());
    cluster.create_topic("t", 2, 1).await.unwrap();
    produce(&cluster, "t", "v", 40).await;
    let listener = Arc::new(ForgottenWhileAssigning { cluster: cluster.clone(), events: Mutex::new(Vec::new()) });
    struct Forward(Arc<ForgottenWhileAssigning>);
    impl RebalanceListener for Forward {
        fn on_partitions_assigned<'a>(&'a self, c: &'a Consumer, p: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
            self.0.on_partitions_assigned(c, p)
        }
        fn on_partitions_lost<'a>(&'a self, c: &'a Consumer, p: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
            self.0.on_partitions_lost(c, p)
        }
    }
    let c = builder(&cluster, "g").build().unwrap();
    c.subscribe_with(["t"], Forward(listener.clone())).unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 40 {
        seen.extend(c.poll(Duration::from_millis(50)).await.unwrap());
        assert!(tokio::time::Instant::now() < deadline, "read {} of 40", seen.len());
    }
    let events = listener.events.lock().unwrap().clone();
    assert_eq!(events, ["assigned 2", "lost 2", "assigned 2"], "{events:?}");
    let (missing, _) = count_values(&seen, "v", 40);
    assert!(missing.is_empty(), "missing {missing:?}");
}

/// A record a stream handed out before the application moved on to `poll`
/// does not pull the commit on close back to it.
#[tokio::test(start_paused = true)]
async fn closing_after_a_stream_then_polls_commits_what_poll_returned() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    produce(&cluster, "t", "v", 30).await;
    let c = builder(&cluster, "g").enable_auto_commit(true).build().unwrap();
    c.subscribe(["t"]).unwrap();
    {
        let mut stream = c.stream();
        for i in 0..6 {
            assert_eq!(stream.next().await.unwrap().unwrap().offset, i);
        }
    }
    let mut seen = 6;
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen < 30 {
        seen += c.poll(Duration::from_millis(50)).await.unwrap().len();
        assert!(tokio::time::Instant::now() < deadline, "read {seen} of 30");
    }
    c.close().await.unwrap();
    let committed = cluster.committed_offsets("g").await.unwrap();
    assert_eq!(committed.get(&("t".to_string(), 0)), Some(&30), "{committed:?}");
}

/// A poll cancelled after the consumer had taken records for it hands
/// none of them out after a later seek or pause: each seek back to 0 is
/// followed by offset 0, and a paused partition yields nothing.
#[tokio::test(start_paused = true)]
async fn a_cancelled_poll_leaves_nothing_stale_behind() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    produce(&cluster, "t", "v", 200).await;
    let tp = TopicPartition::new("t", 0);
    let c = builder(&cluster, "g").max_poll_records(5).build().unwrap();
    c.assign([tp.clone()]).unwrap();
    let mut cancelled = 0;
    for round in 0..60u64 {
        // Cancelled at a different point of the poll each round: after
        // `round % 12` turns of the runtime (the seek below drops what was
        // fetched, so each poll waits for a fetch).
        let mut poll = Box::pin(c.poll(Duration::from_secs(60)));
        let mut answered = false;
        for _ in 0..round % 12 {
            if let std::task::Poll::Ready(r) = futures::poll!(poll.as_mut()) {
                r.unwrap();
                answered = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(poll);
        cancelled += u32::from(!answered);
        if round % 3 == 2 {
            c.pause(std::slice::from_ref(&tp)).unwrap();
            assert!(c.poll(Duration::from_millis(50)).await.unwrap().is_empty(), "a paused partition's records");
            c.resume(std::slice::from_ref(&tp)).unwrap();
        }
        c.seek(&tp, 0).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 0);
        let first = loop {
            let records = c.poll(Duration::from_secs(1)).await.unwrap();
            if let Some(r) = records.iter().next() {
                break r.offset;
            }
        };
        assert_eq!(first, 0, "round {round}: after a seek to 0");
    }
    assert!(cancelled >= 8, "{cancelled} polls cancelled");
}

#[tokio::test(start_paused = true)]
async fn the_stream_commits_only_what_was_processed() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    produce(&cluster, "t", "s", 50).await;
    let c = builder(&cluster, "g").build().unwrap();
    c.subscribe(["t"]).unwrap();
    let mut stream = c.stream();
    for i in 0..10 {
        let r = stream.next().await.unwrap().unwrap();
        assert_eq!(r.offset, i);
    }
    // Ten handed out, the tenth still in progress: nine are processed,
    // though poll fetched (and the stream buffered) more.
    drop(stream);
    c.commit().await.unwrap();
    assert_eq!(cluster.committed_offsets("g").await.unwrap()[&("t".to_string(), 0)], 9);
    assert_eq!(c.position(&TopicPartition::new("t", 0)).await.unwrap(), 10);
    // The application closes after processing the tenth: the auto-commit
    // on close counts it, as Java's close counts the last poll's records.
    let mut stream = c.stream();
    assert_eq!(stream.next().await.unwrap().unwrap().offset, 10);
    drop(stream);
    c.close().await.unwrap();
    assert_eq!(cluster.committed_offsets("g").await.unwrap()[&("t".to_string(), 0)], 11);
}

#[tokio::test(start_paused = true)]
async fn a_pattern_subscription_follows_new_topics() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("metrics-a", 1, 1).await.unwrap();
    cluster.create_topic("other", 1, 1).await.unwrap();
    let c = builder(&cluster, "g").build().unwrap();
    c.subscribe_pattern("metrics-.*").unwrap();
    let mut seen = Vec::new();
    poll_until(&[&c], &mut seen, |cs, _| cs[0].assignment() == tps("metrics-a", 1)).await;
    cluster.create_topic_with(TopicSpec::new("metrics-b", 2, 1)).await.unwrap();
    poll_until(&[&c], &mut seen, |cs, _| cs[0].assignment().len() == 3).await;
    assert_eq!(c.subscription(), ["metrics-a".to_string(), "metrics-b".to_string()].into());
}

#[tokio::test(start_paused = true)]
async fn added_partitions_are_assigned_after_the_leader_rejoins() {
    use kafka_client::admin::{Admin, CreatePartitionsOptions, NewPartitions};
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 2, 1).await.unwrap();
    let a = builder(&cluster, "g").build().unwrap();
    let b = builder(&cluster, "g").build().unwrap();
    a.subscribe(["t"]).unwrap();
    b.subscribe(["t"]).unwrap();
    let mut seen = Vec::new();
    poll_until(&[&a, &b], &mut seen, |cs, _| partitioned(cs, &tps("t", 2))).await;
    let generation = cluster.group("g").await.unwrap().unwrap().generation;

    let admin =
        Admin::builder().bootstrap_servers(cluster.bootstrap_servers()).connector(in_memory(&cluster)).build().unwrap();
    let grown = admin.create_partitions([("t", NewPartitions::increase_to(4))], CreatePartitionsOptions::default());
    grown.await.unwrap()["t"].as_ref().unwrap();
    // The leader sees the new count on its next metadata refresh
    // (metadata.max.age.ms, 500 ms here) and rejoins; the group reassigns.
    poll_until(&[&a, &b], &mut seen, |cs, _| partitioned(cs, &tps("t", 4))).await;
    assert!(cluster.group("g").await.unwrap().unwrap().generation > generation);
    produce(&cluster, "t", "n", 40).await;
    poll_until(&[&a, &b], &mut seen, |_, seen| count_values(seen, "n", 40).0.is_empty()).await;
}

/// Issue 10: a commit queued in one generation and retried while the group
/// rebalanced was sent under the next generation, so its old offsets could
/// overwrite what the partitions' new owner committed. A commit keeps the
/// generation it was made in; once the member is in another one it is not
/// sent.
#[tokio::test(start_paused = true)]
async fn a_commit_made_before_a_rebalance_is_never_sent_under_the_next_generation() {
    use broker_testkit::{Fault, FaultAction};
    use kafka_protocol::ErrorCode;
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("gen", 2, 1).await.unwrap();
    produce(&cluster, "gen", "g", 40).await;
    let a = builder(&cluster, "stale").enable_auto_commit(false).build().unwrap();
    a.subscribe(["gen"]).unwrap();
    let mut seen = Vec::new();
    poll_until(&[&a], &mut seen, |_, s| s.len() >= 40).await;
    let (_, first_generation) = a.group_member().unwrap();

    // The coordinator refuses commits for now (retriable): the commit waits.
    let refusing = cluster.add_fault(
        Fault::on(ApiKey::OffsetCommit).action(FaultAction::Error(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)).always(),
    );
    let stale = a.commit_async();
    // A second member joins; both rejoin under a new generation.
    let b = builder(&cluster, "stale").enable_auto_commit(false).build().unwrap();
    b.subscribe(["gen"]).unwrap();
    poll_until(&[&a, &b], &mut seen, |cs, _| {
        partitioned(cs, &tps("gen", 2)) && a.group_member().is_some_and(|(_, g)| g > first_generation)
    })
    .await;
    assert!(refusing.fired() > 0);
    refusing.remove();
    let err = tokio::time::timeout(WAIT, stale).await.expect("the commit ends").unwrap_err();
    assert!(err.to_string().contains("ILLEGAL_GENERATION"), "{err}");
    // Nothing of it reached the group.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(cluster.committed_offsets("stale").await.unwrap().is_empty());
    // The member's current generation is unaffected: it still commits.
    let (_, now_generation) = a.group_member().unwrap();
    a.commit().await.unwrap();
    assert_eq!(a.group_member().map(|(_, g)| g), Some(now_generation));
    a.close().await.unwrap();
    b.close().await.unwrap();
    cluster.shutdown().await;
}

/// Issue 10: fault rules scoped to a topic fire on Fetch v13+, which names
/// topics by id.
#[tokio::test(start_paused = true)]
async fn topic_scoped_fetch_faults_fire_on_fetches_by_topic_id() {
    use broker_testkit::{Fault, FaultAction};
    use kafka_protocol::ErrorCode;
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("byid", 1, 1).await.unwrap();
    produce(&cluster, "byid", "b", 20).await;
    let fault = cluster.add_fault(
        Fault::on(ApiKey::Fetch)
            .topic_partition("byid", 0)
            .action(FaultAction::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER))
            .times(3),
    );
    let c = builder(&cluster, "byid").build().unwrap();
    c.subscribe(["byid"]).unwrap();
    let mut seen = Vec::new();
    poll_until(&[&c], &mut seen, |_, s| s.len() >= 20).await;
    assert_eq!(fault.fired(), 3, "the topic's fetches were matched by id");
    let (missing, dupes) = count_values(&seen, "b", 20);
    assert!(missing.is_empty() && dupes.is_empty(), "missing {missing:?} dupes {dupes:?}");
    c.close().await.unwrap();
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_fetch_response_cut_in_half_is_fetched_again() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("cut", 1, 1).await.unwrap();
    let p = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .clock(clock())
        .connector(in_memory(&cluster))
        .build()
        .unwrap();
    for i in 0..50 {
        drop(p.send(ProducerRecord::new("cut").value(format!("c-{i}"))).await.unwrap());
    }
    p.flush().await;
    let handle = cluster.add_fault(Fault::on(ApiKey::Fetch).action(FaultAction::ApplyThenCut).times(2));
    let c = Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .auto_offset_reset(OffsetReset::Earliest)
        .clock(clock())
        .connector(in_memory(&cluster))
        .build()
        .unwrap();
    c.assign([TopicPartition::new("cut", 0)]).unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while values.len() < 50 {
        assert!(tokio::time::Instant::now() < deadline, "{} of 50 records read", values.len());
        for r in c.poll(Duration::from_millis(100)).await.unwrap() {
            values.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    assert_eq!(values, (0..50).map(|i| format!("c-{i}")).collect::<Vec<_>>(), "each record once, in order");
    assert_eq!(handle.fired(), 2);
    c.close().await.unwrap();
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

/// `group_metadata` names the member and generation the assignment came
/// with, also after the membership is lost: a transaction holding records
/// read under it must be refused by the coordinator (KIP-447), not pass as
/// a commit from outside any generation (-1, no member id), which the
/// exactly-once simulation once caught committing a batch twice.
#[tokio::test(start_paused = true)]
async fn group_metadata_keeps_the_assignment_generation_after_the_membership_is_lost() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    produce(&cluster, "t", "v", 5).await;
    let c = builder(&cluster, "g").build().unwrap();
    assert_eq!(c.group_metadata().map(|m| m.generation_id), Some(-1), "not joined yet");
    c.subscribe(["t"]).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.poll(Duration::from_millis(50)).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no records");
    }
    let joined = c.group_metadata().unwrap();
    assert!(joined.generation_id >= 1 && !joined.member_id.is_empty(), "{joined:?}");
    // The coordinator forgets the member: its next heartbeat says so.
    cluster.add_fault(
        Fault::on(ApiKey::Heartbeat).action(FaultAction::Error(kafka_protocol::ErrorCode::UNKNOWN_MEMBER_ID)).times(1),
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.group_member().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the heartbeat error never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.group_metadata().unwrap(), joined, "the lost assignment's generation, not -1");
}
