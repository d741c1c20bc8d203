//! Our client (kafka-client) against third-party clients on broker-testkit:
//! our consumer in one group with a confluent-kafka consumer (librdkafka
//! 2.16, driven by tests/interop/client_peers.py), what our producer writes
//! read back by kcat (librdkafka 2.0.2), and keys placed by our producer
//! where librdkafka's Java-compatible partitioner places them.
//!
//! Neither side vouches for itself: assignments are checked against what
//! the coordinator holds and what Java's assignors compute, consumed records
//! against what the producer was told, commits against the cluster.
//!
//! Run by .ci/run (`--features interop`):
//!
//!     cargo test -p tests --features interop --test client_interop
#![cfg(feature = "interop")]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_testkit::group::GroupView;
use broker_testkit::{Cluster, TopicSpec};
use kafka_client::consumer::{AssignorChoice, Consumer, OffsetReset};
use kafka_client::producer::partitioner::partition_for_key;
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_protocol::records::Header;
use kafka_protocol::{ApiKey, Compression};
use tests::interop::{CODECS, KcatRecord, Steered, TIMEOUT, kcat_consume, kcat_produce, wait_until};
use tokio::sync::{mpsc, oneshot};

/// Values carry this many 'x' so that every codec shrinks them.
const PAD: usize = 100;

/// `got == want`, or a failure naming the first difference.
fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    if got == want {
        return;
    }
    let i = got.iter().zip(want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
    panic!(
        "{what}: {} records where {} were expected; first difference at #{i}:\n got: {:?}\nwant: {:?}",
        got.len(),
        want.len(),
        got.get(i),
        want.get(i)
    );
}

fn text(b: &bytes::Bytes) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8")
}

// -------------------------------------------------------- mixed groups --

const GROUP_TOPIC: &str = "mixed";
const PARTITIONS: i32 = 6;
/// Client ids, which the coordinator makes the prefix of member ids: ours
/// sorts after theirs, so the leader sorts last when ours leads and first
/// when theirs leads.
const OURS: &str = "rust-kafka-client";
const THEIRS: &str = "librdkafka-python";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    Range,
    RoundRobin,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::RoundRobin => "roundrobin",
        }
    }

    fn choice(self) -> AssignorChoice {
        match self {
            Strategy::Range => AssignorChoice::Range,
            Strategy::RoundRobin => AssignorChoice::RoundRobin,
        }
    }

    /// What Java's assignor gives `members` for one topic of `partitions`
    /// partitions. Both sort the members by member id (no static members
    /// here); range gives each a contiguous run, the first
    /// `partitions % n` one more; round-robin deals the partitions out in
    /// order.
    fn java_assignment(self, members: &[&str], partitions: i32) -> BTreeMap<String, BTreeSet<i32>> {
        let mut sorted = members.to_vec();
        sorted.sort_unstable();
        let n = sorted.len() as i32;
        let mut out: BTreeMap<String, BTreeSet<i32>> =
            sorted.iter().map(|m| (m.to_string(), BTreeSet::new())).collect();
        match self {
            Strategy::Range => {
                let (per, extra) = (partitions / n, partitions % n);
                let mut next = 0;
                for (i, m) in sorted.iter().enumerate() {
                    let len = per + i32::from((i as i32) < extra);
                    out.get_mut(*m).unwrap().extend(next..next + len);
                    next += len;
                }
            }
            Strategy::RoundRobin => {
                for p in 0..partitions {
                    out.get_mut(sorted[(p % n) as usize]).unwrap().insert(p);
                }
            }
        }
        out
    }
}

#[test]
fn java_assignments_of_known_cases() {
    // Kafka's RangeAssignorTest / RoundRobinAssignorTest shapes.
    let got = Strategy::Range.java_assignment(&["c2", "c0", "c1"], 7);
    let want = [("c0", vec![0, 1, 2]), ("c1", vec![3, 4]), ("c2", vec![5, 6])];
    assert_eq!(got, want.iter().map(|(m, ps)| (m.to_string(), ps.iter().copied().collect())).collect());
    let got = Strategy::RoundRobin.java_assignment(&["c1", "c0"], 5);
    let want = [("c0", vec![0, 2, 4]), ("c1", vec![1, 3])];
    assert_eq!(got, want.iter().map(|(m, ps)| (m.to_string(), ps.iter().copied().collect())).collect());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    Theirs,
}

impl Side {
    fn client_id(self) -> &'static str {
        match self {
            Side::Ours => OURS,
            Side::Theirs => THEIRS,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Ours => Side::Theirs,
            Side::Theirs => Side::Ours,
        }
    }
}

/// A consumed record of the group tests: keyed, with a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    partition: i32,
    offset: i64,
    key: String,
    value: String,
}

/// Produces `n` keyed records with our producer (placed by the default
/// partitioner), keys `<phase>-k<i>`, values `<phase>-v<i>`; returns them
/// where the producer was told they went, sorted. Every partition gets some.
async fn produce_phase(boot: &str, phase: &str, n: usize) -> Vec<Rec> {
    let producer = Producer::builder().bootstrap_servers(boot).linger(Duration::from_millis(5)).build().unwrap();
    let mut pending = Vec::new();
    for i in 0..n {
        let (key, value) = (format!("{phase}-k{i}"), format!("{phase}-v{i}"));
        let record = ProducerRecord::new(GROUP_TOPIC).key(key.clone()).value(value.clone());
        pending.push((key, value, producer.send(record).await.unwrap()));
    }
    let mut recs = Vec::new();
    for (key, value, delivery) in pending {
        let md = delivery.await.unwrap();
        recs.push(Rec { partition: md.partition, offset: md.offset, key, value });
    }
    producer.close_timeout(Duration::from_secs(10)).await.ok();
    recs.sort();
    let partitions: BTreeSet<i32> = recs.iter().map(|r| r.partition).collect();
    assert_eq!(partitions, (0..PARTITIONS).collect(), "phase {phase} should reach every partition");
    recs
}

/// Partition → the offset after its last record in `recs`.
fn ends(recs: &[Rec]) -> BTreeMap<i32, i64> {
    let mut ends = BTreeMap::new();
    for r in recs {
        let e = ends.entry(r.partition).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    ends
}

fn of_partitions(recs: &[Rec], partitions: &BTreeSet<i32>) -> Vec<Rec> {
    recs.iter().filter(|r| partitions.contains(&r.partition)).cloned().collect()
}

/// Per partition, offsets strictly increase: no record handed out twice or
/// out of order.
fn sorted_checked(mut recs: Vec<Rec>, who: &str) -> Vec<Rec> {
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &recs {
        let prev = last.insert(r.partition, r.offset);
        assert!(
            prev.is_none_or(|o| o < r.offset),
            "{who}: partition {} offset {} after {prev:?}",
            r.partition,
            r.offset
        );
    }
    recs.sort();
    recs
}

/// The partitions of the group topic the coordinator holds as `member`'s
/// assignment.
fn assigned(view: &GroupView, member: &str) -> BTreeSet<i32> {
    let m = view.member(member).unwrap_or_else(|| panic!("no member {member}: {view:?}"));
    tests::interop::assigned(view, m, GROUP_TOPIC)
}

fn committed(ends: &BTreeMap<i32, i64>) -> BTreeMap<(String, i32), i64> {
    ends.iter().map(|(&p, &o)| ((GROUP_TOPIC.to_string(), p), o)).collect()
}

enum Cmd {
    Commit,
    Close,
}

/// Our consumer, polling in a task of its own; the test steers it through
/// commands, handled between polls.
struct OurMember {
    consumer: Arc<Consumer>,
    seen: Arc<Mutex<Vec<Rec>>>,
    errors: Arc<Mutex<Vec<String>>>,
    commands: mpsc::UnboundedSender<(Cmd, oneshot::Sender<kafka_client::Result<()>>)>,
    task: tokio::task::JoinHandle<()>,
}

impl OurMember {
    fn start(boot: &str, group: &str, strategy: Strategy) -> OurMember {
        // RUST_LOG=kafka_client=debug shows what the consumer does.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let consumer = Consumer::builder()
            .bootstrap_servers(boot)
            .group_id(group)
            .client_id(OURS)
            .assignors([strategy.choice()])
            .auto_offset_reset(OffsetReset::Earliest)
            .enable_auto_commit(false)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_millis(100))
            // The rebalance timeout: bounds a rebalance whose members do
            // not all rejoin.
            .max_poll_interval(Duration::from_secs(10))
            .build()
            .unwrap();
        consumer.subscribe([GROUP_TOPIC]).unwrap();
        let consumer = Arc::new(consumer);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (commands, mut rx) = mpsc::unbounded_channel::<(Cmd, oneshot::Sender<kafka_client::Result<()>>)>();
        let task = tokio::spawn({
            let (consumer, seen, errors) = (consumer.clone(), seen.clone(), errors.clone());
            async move {
                loop {
                    while let Ok((cmd, reply)) = rx.try_recv() {
                        match cmd {
                            Cmd::Commit => {
                                let _ = reply.send(consumer.commit().await);
                            }
                            Cmd::Close => {
                                let _ = reply.send(consumer.close().await);
                                return;
                            }
                        }
                    }
                    match consumer.poll(Duration::from_millis(20)).await {
                        Ok(records) => seen.lock().unwrap().extend(records.iter().map(|r| Rec {
                            partition: r.partition,
                            offset: r.offset,
                            key: r.key.as_ref().map(text).unwrap_or_default(),
                            value: r.value.as_ref().map(text).unwrap_or_default(),
                        })),
                        Err(e) => {
                            errors.lock().unwrap().push(e.to_string());
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        });
        OurMember { consumer, seen, errors, commands, task }
    }

    /// Our member id once we are in `generation`.
    async fn member_id(&self, generation: i32) -> String {
        wait_until(&format!("our consumer in generation {generation}"), || async {
            self.consumer.group_member().is_some_and(|(_, g)| g == generation)
        })
        .await;
        self.consumer.group_member().unwrap().0
    }

    /// Waits until our consumer acts on `partitions`.
    async fn wait_assignment(&self, partitions: &BTreeSet<i32>) {
        wait_until(&format!("our consumer assigned {partitions:?}"), || async {
            let now: BTreeSet<i32> = self.consumer.assignment().iter().map(|tp| tp.partition).collect();
            now == *partitions
        })
        .await;
    }

    /// What we consumed since the last call, once it is at least as many
    /// records as `expected` holds; sorted.
    async fn consumed(&self, expected: usize) -> Vec<Rec> {
        wait_until(&format!("our consumer to consume {expected} records"), || async {
            self.seen.lock().unwrap().len() >= expected
        })
        .await;
        sorted_checked(std::mem::take(&mut *self.seen.lock().unwrap()), "ours")
    }

    async fn call(&self, cmd: Cmd) {
        let (tx, rx) = oneshot::channel();
        self.commands.send((cmd, tx)).unwrap_or_else(|_| panic!("our consumer task ended"));
        tokio::time::timeout(TIMEOUT, rx).await.expect("our consumer task hangs").unwrap().unwrap();
    }

    async fn commit(&self) {
        self.call(Cmd::Commit).await;
    }

    /// Closes (leaves the group); fails on any error seen while polling.
    async fn close(self) {
        self.call(Cmd::Close).await;
        self.task.await.unwrap();
        let errors = self.errors.lock().unwrap().clone();
        assert!(errors.is_empty(), "our consumer's polls failed: {errors:?}");
        assert!(self.seen.lock().unwrap().is_empty(), "our consumer read more: {:?}", self.seen.lock().unwrap());
    }
}

/// The confluent-kafka consumer of client_peers.py (`member`).
struct TheirMember(Steered);

impl TheirMember {
    fn start(boot: &str, group: &str, strategy: Strategy) -> TheirMember {
        let mut cmd: Command = tests::interop::python();
        cmd.arg(tests::interop::script("client_peers.py")).args(["member", "--bootstrap", boot]).args([
            "--group",
            group,
            "--topic",
            GROUP_TOPIC,
            "--client-id",
            THEIRS,
            "--strategy",
            strategy.name(),
        ]);
        TheirMember(Steered::start(cmd))
    }

    fn open(&mut self) {
        self.0.call("open");
    }

    fn close(&mut self) {
        self.0.call("close");
    }

    /// The member id, once assigned.
    fn member_id(&mut self) -> String {
        let reply = self.0.call("member");
        assert_eq!(reply.len(), 1, "{reply:?}");
        assert_eq!(reply[0][0], "member", "{reply:?}");
        reply[0][1].clone()
    }

    /// The partitions, once assigned.
    fn assignment(&mut self) -> BTreeSet<i32> {
        let reply = self.0.call("assignment");
        assert_eq!(reply.len(), 1, "{reply:?}");
        let f = &reply[0];
        assert_eq!(f[0], "assignment", "{reply:?}");
        if f[1] == "-" { BTreeSet::new() } else { f[1].split(',').map(|p| p.parse().unwrap()).collect() }
    }

    /// What it consumed since the last call, once each of its partitions
    /// reached its end in `ends`; sorted.
    fn consumed(&mut self, ends: &BTreeMap<i32, i64>) -> Vec<Rec> {
        let spec: Vec<String> = ends.iter().map(|(p, e)| format!("{p}:{e}")).collect();
        let recs = self
            .0
            .call(&format!("consume {}", spec.join(",")))
            .into_iter()
            .map(|f| {
                assert_eq!(f[0], "record", "{f:?}");
                Rec {
                    partition: f[1].parse().unwrap(),
                    offset: f[2].parse().unwrap(),
                    key: f[3].clone(),
                    value: f[4].clone(),
                }
            })
            .collect();
        sorted_checked(recs, "theirs")
    }

    /// Commits; returns partition → committed offset.
    fn commit(&mut self) -> BTreeMap<i32, i64> {
        self.0
            .call("commit")
            .into_iter()
            .map(|f| {
                assert_eq!(f[0], "committed", "{f:?}");
                (f[1].parse().unwrap(), f[2].parse().unwrap())
            })
            .collect()
    }
}

/// The two consumers of a mixed group.
struct Members {
    ours: Option<OurMember>,
    theirs: TheirMember,
}

impl Members {
    fn ours(&self) -> &OurMember {
        self.ours.as_ref().expect("our consumer is not running")
    }

    fn join(&mut self, side: Side, boot: &str, group: &str, strategy: Strategy) {
        match side {
            Side::Ours => self.ours = Some(OurMember::start(boot, group, strategy)),
            Side::Theirs => self.theirs.open(),
        }
    }

    async fn member_id(&mut self, side: Side, generation: i32) -> String {
        match side {
            Side::Ours => self.ours().member_id(generation).await,
            Side::Theirs => self.theirs.member_id(),
        }
    }

    /// Checks that `side` acts on `partitions`.
    async fn check_assignment(&mut self, side: Side, partitions: &BTreeSet<i32>) {
        match side {
            Side::Ours => self.ours().wait_assignment(partitions).await,
            Side::Theirs => assert_eq!(self.theirs.assignment(), *partitions, "their consumer's assignment"),
        }
    }

    /// `side`, owning `partitions`, consumes exactly the records of `phase`
    /// in them.
    async fn consume(&mut self, side: Side, phase: &[Rec], partitions: &BTreeSet<i32>) {
        let expected = of_partitions(phase, partitions);
        let got = match side {
            Side::Ours => self.ours().consumed(expected.len()).await,
            Side::Theirs => self.theirs.consumed(&ends(phase)),
        };
        assert_same(&got, &expected, &format!("{side:?} owning {partitions:?} re-read, skipped or strayed"));
    }

    async fn commit(&mut self, side: Side, phase: &[Rec], partitions: &BTreeSet<i32>) {
        match side {
            Side::Ours => self.ours().commit().await,
            Side::Theirs => {
                let want: BTreeMap<i32, i64> =
                    ends(phase).into_iter().filter(|(p, _)| partitions.contains(p)).collect();
                assert_eq!(self.theirs.commit(), want, "what their consumer committed");
            }
        }
    }

    async fn leave(&mut self, side: Side) {
        match side {
            Side::Ours => self.ours.take().expect("our consumer is not running").close().await,
            Side::Theirs => self.theirs.close(),
        }
    }
}

/// One of our consumers and one confluent-kafka consumer share a group over
/// a six-partition topic on three brokers. `first` joins first, alone, and
/// leads; it consumes and commits what is there. The other joins: the
/// leader assigns as Java's assignor would, and each side consumes exactly
/// the new records of its own partitions, starting from the first one's
/// commits. Then `leaver` leaves and the other takes all six partitions
/// from the commits.
async fn mixed_group(strategy: Strategy, first: Side, leaver: Side) {
    let cluster =
        Cluster::builder().brokers(3).topic(TopicSpec::new(GROUP_TOPIC, PARTITIONS, 3)).start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    let group = format!("mixed-{}-{first:?}-first-{leaver:?}-leaves", strategy.name());
    let all: BTreeSet<i32> = (0..PARTITIONS).collect();
    let second = first.other();
    let mut members = Members { ours: None, theirs: TheirMember::start(&boot, &group, strategy) };

    // Phase 1: the first member alone takes every partition, reads what is
    // there and commits.
    let phase1 = produce_phase(&boot, "a", 60).await;
    members.join(first, &boot, &group, strategy);
    let view = cluster.wait_for_group_stable(&group, Some(1), TIMEOUT).await.unwrap();
    let first_id = members.member_id(first, view.generation).await;
    assert_eq!(view.member_ids(), vec![first_id.as_str()], "{view:?}");
    assert_eq!(view.members[0].client_id, first.client_id());
    assert_eq!(view.leader.as_deref(), Some(first_id.as_str()));
    assert_eq!(view.protocol.as_deref(), Some(strategy.name()));
    assert_eq!(assigned(&view, &first_id), all);
    members.check_assignment(first, &all).await;
    members.consume(first, &phase1, &all).await;
    members.commit(first, &phase1, &all).await;
    assert_eq!(cluster.committed_offsets(&group).await.unwrap(), committed(&ends(&phase1)));

    // Phase 2: the second member joins; the first stays leader and splits
    // the partitions as Java's assignor does.
    members.join(second, &boot, &group, strategy);
    let generation = view.generation;
    let view = cluster.wait_for_group_stable(&group, Some(2), TIMEOUT).await.unwrap();
    assert_eq!(view.generation, generation + 1, "one rebalance for one new member: {view:?}");
    let second_id = members.member_id(second, view.generation).await;
    assert_eq!(members.member_id(first, view.generation).await, first_id, "the first member's id changed");
    assert_eq!(view.member(&second_id).map(|m| m.client_id.as_str()), Some(second.client_id()), "{view:?}");
    assert_eq!(view.leader.as_deref(), Some(first_id.as_str()), "the first member should still lead");
    assert_eq!(view.protocol.as_deref(), Some(strategy.name()));
    let java = strategy.java_assignment(&[&first_id, &second_id], PARTITIONS);
    let (p_first, p_second) = (assigned(&view, &first_id), assigned(&view, &second_id));
    assert!(p_first.is_disjoint(&p_second), "{p_first:?} {p_second:?}");
    assert_eq!(p_first.union(&p_second).copied().collect::<BTreeSet<_>>(), all);
    assert_eq!(p_first, java[&first_id], "the leader ({first:?}) assigned unlike Java's {}", strategy.name());
    assert_eq!(p_second, java[&second_id], "the leader ({first:?}) assigned unlike Java's {}", strategy.name());
    members.check_assignment(first, &p_first).await;
    members.check_assignment(second, &p_second).await;
    let phase2 = produce_phase(&boot, "b", 120).await;
    members.consume(first, &phase2, &p_first).await;
    members.consume(second, &phase2, &p_second).await;
    members.commit(first, &phase2, &p_first).await;
    members.commit(second, &phase2, &p_second).await;
    assert_eq!(cluster.committed_offsets(&group).await.unwrap(), committed(&ends(&phase2)));

    // Phase 3: one leaves; the other takes every partition, from the commits.
    let stayer = leaver.other();
    let (stayer_id, leaver_id) = if stayer == first { (first_id, second_id) } else { (second_id, first_id) };
    let leaves = cluster.request_stats().count(None, ApiKey::LeaveGroup);
    members.leave(leaver).await;
    // Leaving is a LeaveGroup, answered once the coordinator dropped the
    // member: the rebalance starts at once, not when the session expires.
    let sent = cluster.request_stats().count(None, ApiKey::LeaveGroup) - leaves;
    let now = cluster.group(&group).await.unwrap().unwrap();
    assert_eq!(sent, 1, "{leaver:?} closed without one LeaveGroup");
    assert!(now.member(&leaver_id).is_none(), "{leaver:?} left but is still a member: {now:?}");
    let generation = view.generation;
    let view = cluster.wait_for_group_stable(&group, Some(1), TIMEOUT).await.unwrap();
    assert_eq!(view.generation, generation + 1, "one rebalance for one leave: {view:?}");
    assert_eq!(view.member_ids(), vec![stayer_id.as_str()], "{view:?}");
    assert_eq!(view.leader.as_deref(), Some(stayer_id.as_str()));
    assert_eq!(assigned(&view, &stayer_id), all);
    members.check_assignment(stayer, &all).await;
    let phase3 = produce_phase(&boot, "c", 60).await;
    members.consume(stayer, &phase3, &all).await;
    members.commit(stayer, &phase3, &all).await;
    assert_eq!(cluster.committed_offsets(&group).await.unwrap(), committed(&ends(&phase3)));

    if let Some(ours) = members.ours.take() {
        ours.close().await;
    }
    members.theirs.0.quit();
    cluster.shutdown().await;
}

/// range: ours leads, then leaves; theirs takes over and leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_range_ours_leads() {
    mixed_group(Strategy::Range, Side::Ours, Side::Ours).await;
}

/// range: theirs leads, then leaves; ours takes over and leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_range_theirs_leads() {
    mixed_group(Strategy::Range, Side::Theirs, Side::Theirs).await;
}

/// roundrobin: ours leads; theirs leaves and ours takes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin_ours_leads() {
    mixed_group(Strategy::RoundRobin, Side::Ours, Side::Theirs).await;
}

/// roundrobin: theirs leads; ours leaves and theirs takes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin_theirs_leads() {
    mixed_group(Strategy::RoundRobin, Side::Theirs, Side::Ours).await;
}

// ---------------------------------------------------- producer → kcat --

/// kcat's rendering of headers.
fn kcat_headers(headers: &[Header]) -> String {
    let h: Vec<String> = headers
        .iter()
        .map(|h| format!("{}={}", h.key, h.value.as_ref().map_or_else(|| "NULL".to_string(), text)))
        .collect();
    h.join(",")
}

/// Record `i` of producer run `run`: null keys and values now and then,
/// multi-byte UTF-8, headers with a repeated key, an empty and a null value,
/// an explicit timestamp.
fn full_record(topic: &str, run: usize, i: usize) -> ProducerRecord {
    let mut r = ProducerRecord::new(topic).timestamp(1_600_000_000_000 + (run * 1_000_000 + i * 7) as i64);
    if i % 10 != 3 {
        r = r.key(format!("r{run}-ключ-{i}"));
    }
    if i % 25 != 11 {
        r = r.value(format!("r{run}-wert-{i}-✓{}", "x".repeat(PAD)));
    }
    if !i.is_multiple_of(4) {
        r = r.header("trace", format!("t{i}")).header("empty", "").header("trace", "again");
    }
    if i.is_multiple_of(3) {
        r.headers.push(Header { key: "nil".into(), value: None });
    }
    r
}

/// Our producer writes with every codec, without and then with
/// idempotence; kcat reads every record back as it was sent, where the
/// producer was told it went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_reads_what_our_producer_writes() {
    const N: usize = 150;
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    for (name, codec) in CODECS {
        let topic = format!("ours-{name}");
        cluster.create_topic(&topic, 3, 2).await.unwrap();
        let mut expected = Vec::new();
        // Records per partition of each run.
        let mut counts: Vec<BTreeMap<i32, i32>> = Vec::new();
        for (run, idempotent) in [(0, false), (1, true)] {
            let producer = Producer::builder()
                .bootstrap_servers(&boot)
                .compression(codec)
                .idempotence(idempotent)
                .acks(Acks::All)
                .linger(Duration::from_millis(5))
                .batch_size(4096)
                .build()
                .unwrap();
            assert_eq!(producer.config().idempotence(), idempotent);
            let mut pending = Vec::new();
            for i in 0..N {
                let record = full_record(&topic, run, i);
                pending.push((record.clone(), producer.send(record).await.unwrap()));
            }
            let mut count = BTreeMap::new();
            for (record, delivery) in pending {
                let md = delivery.await.unwrap_or_else(|e| panic!("{topic}: delivery failed: {e}"));
                assert_eq!(md.timestamp, record.timestamp.unwrap());
                *count.entry(md.partition).or_default() += 1;
                expected.push(KcatRecord {
                    partition: md.partition,
                    offset: md.offset,
                    key: record.key.as_ref().map(text),
                    value: record.value.as_ref().map(text),
                    timestamp: record.timestamp.unwrap(),
                    headers: kcat_headers(&record.headers),
                });
            }
            producer.close_timeout(Duration::from_secs(10)).await.ok();
            counts.push(count);
        }
        expected.sort();

        // The batches as stored: the codec, really compressing; the first
        // run's without a producer id, the second's idempotent.
        let (mut stored_bytes, mut batches_seen) = (0, 0);
        for p in 0..3 {
            let batches = cluster.batches(&topic, p, None).await.unwrap();
            batches_seen += batches.len();
            let plain = counts[0].get(&p).copied().unwrap_or(0);
            let mut records = 0;
            let mut next_seq = 0;
            let mut pid = None;
            for b in &batches {
                assert_eq!(b.compression, codec, "{topic}-{p}: {b:?}");
                stored_bytes += b.size_bytes;
                let max_ts = expected
                    .iter()
                    .filter(|r| r.partition == p && (b.base_offset..=b.last_offset).contains(&r.offset))
                    .map(|r| r.timestamp)
                    .max();
                assert_eq!(Some(b.max_timestamp), max_ts, "{topic}-{p}: {b:?}");
                if records < plain {
                    assert_eq!((b.producer_id, b.base_sequence), (-1, -1), "{topic}-{p}: not idempotent: {b:?}");
                } else {
                    assert!(b.producer_id >= 0, "{topic}-{p}: idempotent run without producer id: {b:?}");
                    assert_eq!(
                        *pid.get_or_insert((b.producer_id, b.producer_epoch)),
                        (b.producer_id, b.producer_epoch)
                    );
                    assert_eq!(b.base_sequence, next_seq, "{topic}-{p}: sequence gap: {b:?}");
                    next_seq += b.record_count;
                }
                records += b.record_count;
            }
            assert_eq!(records, plain + counts[1].get(&p).copied().unwrap_or(0), "{topic}-{p}: {batches:?}");
        }
        let padding = expected.iter().filter(|r| r.value.is_some()).count() * PAD;
        if codec == Compression::None {
            assert!(stored_bytes > padding, "{topic}: {stored_bytes} bytes cannot hold {padding} bytes of padding");
        } else {
            assert!(stored_bytes < padding, "{topic}: {stored_bytes} bytes in {batches_seen} batches: not compressed");
        }

        assert_same(&kcat_consume(&boot, &topic), &expected, &format!("{topic}: read by kcat"));
    }
    cluster.shutdown().await;
}

// ------------------------------------------------------- key placement --

/// Our producer (no explicit partition) puts each key in the partition
/// librdkafka's Java-compatible `murmur2_random` partitioner picks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_producer_places_keys_like_librdkafka_murmur2() {
    const PARTITIONS: i32 = 12;
    let cluster = Cluster::builder().start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    cluster.create_topic("placed-ours", PARTITIONS, 1).await.unwrap();
    cluster.create_topic("placed-kcat", PARTITIONS, 1).await.unwrap();
    // The empty key, every length modulo 4 (murmur2's tail), multi-byte UTF-8.
    let mut keys: Vec<String> = vec![String::new()];
    keys.extend((0..300).map(|i| format!("key-{i}")));
    keys.extend((1..=13).map(|n| "k".repeat(n)));
    keys.extend((1..=7).map(|n| "é".repeat(n)));
    keys.extend((0..20).map(|i| format!("ключ-{i}")));
    keys.extend(
        ["キー", "🔑", "🔑🔑🔑", "clé", "Ünïcødé", "21", "foobar", "a-little-bit-long-string"].map(String::from),
    );
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), keys.len(), "keys repeat");

    let producer = Producer::builder().bootstrap_servers(&boot).linger(Duration::from_millis(5)).build().unwrap();
    let mut pending = Vec::new();
    for k in &keys {
        let record = ProducerRecord::new("placed-ours").key(k.clone()).value(format!("value of {k}"));
        pending.push((k, producer.send(record).await.unwrap()));
    }
    for (k, delivery) in pending {
        let md = delivery.await.unwrap();
        assert_eq!(Some(md.partition), partition_for_key(k.as_bytes(), PARTITIONS), "key {k:?}");
    }
    producer.close_timeout(Duration::from_secs(10)).await.ok();

    let lines: Vec<String> = keys.iter().map(|k| format!("{k}:value of {k}")).collect();
    kcat_produce(&boot, "placed-kcat", &["-K", ":", "-X", "topic.partitioner=murmur2_random"], &lines);

    // Where each key is stored, in each topic.
    let mut placed: BTreeMap<&str, BTreeMap<String, i32>> = BTreeMap::new();
    for topic in ["placed-ours", "placed-kcat"] {
        let by_key = placed.entry(topic).or_default();
        for p in 0..PARTITIONS {
            for rec in cluster.records(topic, p).await.unwrap() {
                let key = text(rec.key.as_ref().unwrap_or_else(|| panic!("{topic}-{p}: a null key: {rec:?}")));
                assert_eq!(rec.value.as_ref().map(text), Some(format!("value of {key}")));
                assert!(by_key.insert(key.clone(), p).is_none(), "{topic}: key {key:?} stored twice");
            }
        }
        assert_eq!(by_key.len(), keys.len(), "{topic}: keys stored");
    }
    let (ours, theirs) = (&placed["placed-ours"], &placed["placed-kcat"]);
    let differ: Vec<_> = keys.iter().filter(|k| ours[*k] != theirs[*k]).map(|k| (k, ours[k], theirs[k])).collect();
    assert!(differ.is_empty(), "(key, our partition, librdkafka's partition): {differ:?}");
    assert_eq!(ours.values().collect::<BTreeSet<_>>().len(), PARTITIONS as usize, "keys should reach every partition");
    cluster.shutdown().await;
}
