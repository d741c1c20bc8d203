//! The quickstart: Kafka's "getting started" in one run, with nothing to
//! install.
//!
//! ```text
//! cargo run -p examples --bin quickstart
//! ```
//!
//! It starts a 3-broker cluster inside this process (broker-testkit),
//! creates a topic of 6 partitions replicated on all three brokers, writes
//! keyed records with the idempotent producer and shows where each key
//! landed, reads them with a group of three consumers, lets one leave and
//! shows the others take over its partitions (a rebalance listener commits
//! what each member processed before it gives partitions up), then writes
//! a few more records and prints the group's lag as
//! `kafka-consumer-groups --describe` would. Logs are off; `RUST_LOG=info`
//! (or `kafka_client=debug`) shows the clients at work.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_testkit::Cluster;
use examples::cli::{self, Failure, Tool};
use futures::future::BoxFuture;
use kafka_client::TopicPartition;
use kafka_client::admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::consumer::{Consumer, OffsetReset, RebalanceListener};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const TOOL: Tool = Tool {
    name: "quickstart",
    about: "Runs a 3-broker Kafka cluster in this process and walks through topics, an idempotent producer, a \
            consumer group with a rebalance, and consumer lag. No options; RUST_LOG=info shows the clients' logs.",
    opts: &[],
};

const TOPIC: &str = "quickstart-events";
const GROUP: &str = "quickstart-group";
const PARTITIONS: i32 = 6;
const USERS: [&str; 8] = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
const EVENTS_PER_USER: usize = 4;
/// How long any one step may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    cli::run(&TOOL, |_| {
        cli::runtime()?.block_on(async {
            run().await?;
            Ok(ExitCode::SUCCESS)
        })
    })
}

fn section(n: u32, title: &str) {
    println!("\n== {n}. {title} ==");
}

fn partition_list(parts: &[TopicPartition]) -> String {
    let mut ps: Vec<i32> = parts.iter().map(|tp| tp.partition).collect();
    ps.sort_unstable();
    let list: Vec<String> = ps.iter().map(i32::to_string).collect();
    if list.is_empty() { "no partitions".to_string() } else { format!("partitions {}", list.join(", ")) }
}

/// Waits until `done` holds, checking every 20 ms.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while !done() {
        if tokio::time::Instant::now() > deadline {
            return Err(Failure::new(format!("gave up waiting for {what} after {STEP_TIMEOUT:?}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Narrates a member's rebalances, and commits its progress before it
/// gives partitions up, so the member that takes them over starts where
/// this one stopped instead of re-reading (or skipping) records.
struct CommitOnRevoke {
    name: String,
}

impl RebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked<'a>(&'a self, consumer: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if parts.is_empty() {
                return;
            }
            match consumer.commit().await {
                Ok(()) => println!(
                    "  [{}] hands back {} after committing what it processed",
                    self.name,
                    partition_list(parts)
                ),
                Err(e) => println!("  [{}] hands back {}; its commit failed: {e}", self.name, partition_list(parts)),
            }
        })
    }

    fn on_partitions_assigned<'a>(&'a self, _: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if !parts.is_empty() {
                println!("  [{}] is assigned {}", self.name, partition_list(parts));
            }
        })
    }
}

/// One consumer of the group, polling in its own task.
struct Member {
    name: String,
    consumer: Arc<Consumer>,
    stop: watch::Sender<bool>,
    task: JoinHandle<kafka_client::Result<()>>,
}

/// Records processed, in total and by member.
#[derive(Default)]
struct Progress {
    total: AtomicUsize,
    by_member: Mutex<BTreeMap<String, usize>>,
}

fn start_member(cluster: &Cluster, n: usize, progress: Arc<Progress>) -> Result<Member, Failure> {
    let name = format!("member-{n}");
    let consumer = Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(GROUP)
        .client_id(&name)
        .auto_offset_reset(OffsetReset::Earliest)
        // Commits are the application's: after each batch, and on revocation.
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(200))
        .build()?;
    consumer.subscribe_with([TOPIC], CommitOnRevoke { name: name.clone() })?;
    let consumer = Arc::new(consumer);
    let (stop, mut stopped) = watch::channel(false);
    let (c, who) = (consumer.clone(), name.clone());
    let task = tokio::spawn(async move {
        // Rebalances run inside poll: a member that stops polling also
        // stops taking part in them.
        while !*stopped.borrow_and_update() {
            let records = tokio::select! {
                r = c.poll(Duration::from_millis(100)) => r?,
                _ = stopped.changed() => break,
            };
            if records.is_empty() {
                continue;
            }
            progress.total.fetch_add(records.len(), Ordering::SeqCst);
            *progress.by_member.lock().unwrap_or_else(|e| e.into_inner()).entry(who.clone()).or_default() +=
                records.len();
            // Processing would happen here; then the batch is committed.
            c.commit().await?;
        }
        Ok(())
    });
    Ok(Member { name, consumer, stop, task })
}

/// Stops a member's polling loop and reports how it ended.
async fn stop_polling(m: &mut Member) -> Result<(), Failure> {
    let _ = m.stop.send(true);
    match (&mut m.task).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::new(format!("{} failed: {e}", m.name))),
        Err(e) => Err(Failure::new(format!("{} panicked: {e}", m.name))),
    }
}

fn print_assignments(members: &[&Member]) {
    for m in members {
        let assigned: Vec<TopicPartition> = m.consumer.assignment().into_iter().collect();
        println!("  {:<9} owns {}", m.name, partition_list(&assigned));
    }
}

async fn run() -> Result<(), Failure> {
    section(1, "Start a cluster");
    // Kafka waits group.initial.rebalance.delay.ms (3 s by default) for more
    // members before a new group's first assignment; a shorter wait here
    // lets the three consumers join as one generation.
    let cluster = Cluster::builder()
        .brokers(3)
        .group_initial_rebalance_delay(Duration::from_millis(300))
        .start()
        .await
        .map_err(|e| Failure::new(format!("cannot start the cluster: {e}")))?;
    println!("Three brokers are running inside this process at {}.", cluster.bootstrap_servers());
    println!("Clients connect to them over TCP exactly as they would to a Kafka cluster.");

    section(2, "Create a topic");
    let admin = Admin::builder().bootstrap_servers(cluster.bootstrap_servers()).build()?;
    let mut created = admin.create_topics([NewTopic::new(TOPIC, PARTITIONS, 3)], CreateTopicsOptions::new()).await?;
    created.remove(TOPIC).unwrap_or_else(|| Err(kafka_client::Error::UnknownTopic(TOPIC.into())))?;
    println!("Created '{TOPIC}': {PARTITIONS} partitions, each replicated on 3 brokers.");
    println!("Each partition has one leader that takes the writes; the other two replicas follow it:");
    let mut described = admin.describe_topics([TOPIC]).await?;
    let topic = described.remove(TOPIC).unwrap_or_else(|| Err(kafka_client::Error::UnknownTopic(TOPIC.into())))?;
    for p in &topic.partitions {
        let leader = p.leader.map_or_else(|| "none".to_string(), |l| l.to_string());
        println!("  partition {}: leader broker {leader}, replicas {:?}, in sync {:?}", p.partition, p.replicas, p.isr);
    }

    section(3, "Produce keyed records");
    // Idempotence (on by default) gives every batch a sequence number, so a
    // retried send cannot write a record twice.
    let producer = Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .client_id("quickstart-producer")
        .idempotence(true)
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .build()?;
    let mut deliveries = Vec::new();
    for i in 0..EVENTS_PER_USER {
        for user in USERS {
            let record = ProducerRecord::new(TOPIC).key(user).value(format!("{user} viewed page {i}"));
            deliveries.push((user, producer.send(record).await?));
        }
    }
    let mut landed: BTreeMap<&str, (i32, Vec<i64>)> = BTreeMap::new();
    for (user, delivery) in deliveries {
        let written = delivery.await?;
        let entry = landed.entry(user).or_insert((written.partition, Vec::new()));
        entry.1.push(written.offset);
    }
    println!("Sent {} records ({EVENTS_PER_USER} per user) and awaited every delivery.", USERS.len() * EVENTS_PER_USER);
    println!("The key picks the partition (murmur2 hash), so one user's records stay together and in order:");
    for (user, (partition, offsets)) in &landed {
        let offsets: Vec<String> = offsets.iter().map(i64::to_string).collect();
        println!("  {user:<6} -> partition {partition}, offsets {}", offsets.join(", "));
    }

    section(4, "Consume with a group of three");
    println!("Three consumers subscribe with group id '{GROUP}'; the group splits the partitions among them:");
    let progress = Arc::new(Progress::default());
    let mut members = Vec::new();
    for n in 1..=3 {
        members.push(start_member(&cluster, n, progress.clone())?);
    }
    let total = USERS.len() * EVENTS_PER_USER;
    let all_assigned =
        |ms: &[&Member]| ms.iter().map(|m| m.consumer.assignment().len()).sum::<usize>() == PARTITIONS as usize;
    let everyone: Vec<&Member> = members.iter().collect();
    wait_until("the group to form", || {
        all_assigned(&everyone) && everyone.iter().all(|m| !m.consumer.assignment().is_empty())
    })
    .await?;
    wait_until("every record to be read", || progress.total.load(Ordering::SeqCst) >= total).await?;
    cluster
        .wait_for_group_stable(GROUP, Some(3), STEP_TIMEOUT)
        .await
        .map_err(|e| Failure::new(format!("the group did not settle: {e}")))?;
    println!("The group is stable. Who owns what:");
    print_assignments(&everyone);
    let by_member = progress.by_member.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let counts: Vec<String> = by_member.iter().map(|(m, n)| format!("{m} {n}")).collect();
    let read = progress.total.load(Ordering::SeqCst);
    if read == total {
        println!("All {total} records were read once, and committed: {}.", counts.join(", "));
    } else {
        // A member that lost partitions before committing hands them over
        // from its last commit: the next owner reads those records again.
        println!(
            "All {total} records were read ({read} deliveries, some again after a rebalance): {}.",
            counts.join(", ")
        );
    }

    section(5, "A member leaves; the others take over");
    let mut leaving = members.pop().ok_or_else(|| Failure::new("no member to stop"))?;
    println!("{} closes: it commits, leaves the group, and the coordinator rebalances at once.", leaving.name);
    stop_polling(&mut leaving).await?;
    leaving.consumer.close().await?;
    let staying: Vec<&Member> = members.iter().collect();
    wait_until("the remaining members to share all partitions", || all_assigned(&staying)).await?;
    cluster
        .wait_for_group_stable(GROUP, Some(2), STEP_TIMEOUT)
        .await
        .map_err(|e| Failure::new(format!("the group did not settle: {e}")))?;
    println!("The new assignment:");
    print_assignments(&staying);

    section(6, "Consumer lag");
    for m in &mut members {
        stop_polling(m).await?;
    }
    let late = 12;
    for i in 0..late {
        let user = USERS[i % USERS.len()];
        producer.send(ProducerRecord::new(TOPIC).key(user).value(format!("{user} viewed page late-{i}"))).await?;
    }
    producer.flush().await;
    println!("The members pause, and {late} more records arrive. Lag is how far the group's committed offsets");
    println!("trail the end of each partition: what `kafka-consumer-groups --describe --group {GROUP}` shows.");
    let lag = admin.consumer_group_lag(GROUP).await?;
    println!();
    print!("{lag}");
    println!("\nTotal lag: {} records, waiting for the group.", lag.total_lag());

    section(7, "Shut down");
    for m in &members {
        m.consumer.close().await?;
    }
    producer.close_timeout(Duration::from_secs(5)).await.ok();
    admin.close().await.ok();
    cluster.shutdown().await;
    println!("Consumers left the group, the producer flushed and closed, and the cluster stopped. Done.");
    Ok(())
}
