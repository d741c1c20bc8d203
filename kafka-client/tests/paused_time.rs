//! Client and testkit in one single-threaded runtime on tokio's paused
//! clock, connected in memory: timers of tens of seconds (session
//! timeouts, linger, delivery timeouts) pass as soon as nothing else is
//! left to do, and nothing waits on real time.

use std::time::Duration;

use broker_testkit::Cluster;
use kafka_client::consumer::{Consumer, OffsetReset};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, TopicPartition};
use tokio::time::Instant;

mod common;
use common::{T0, clock, in_memory};

fn producer(cluster: &Cluster) -> kafka_client::producer::ProducerBuilder {
    Producer::builder().bootstrap_servers(cluster.bootstrap_servers()).clock(clock()).connector(in_memory(cluster))
}

fn consumer(cluster: &Cluster, group: &str) -> kafka_client::consumer::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .clock(clock())
        .connector(in_memory(cluster))
}

#[tokio::test(start_paused = true)]
async fn a_crashed_members_45_second_session_expires_on_the_paused_clock() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 4, 1).await.unwrap();
    let p = producer(&cluster).build().unwrap();
    for i in 0..40 {
        drop(p.send(ProducerRecord::new("t").key(format!("k{i}")).value(format!("v{i}"))).await.unwrap());
    }
    p.flush().await;

    let session = Duration::from_secs(45);
    let a = consumer(&cluster, "g").session_timeout(session).build().unwrap();
    let b = consumer(&cluster, "g").session_timeout(session).build().unwrap();
    a.subscribe(["t"]).unwrap();
    b.subscribe(["t"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while a.assignment().len() + b.assignment().len() < 4 || a.assignment().is_empty() || b.assignment().is_empty() {
        assert!(Instant::now() < deadline, "the group of two never formed");
        a.poll(Duration::from_millis(100)).await.unwrap();
        b.poll(Duration::from_millis(100)).await.unwrap();
    }
    assert_eq!(a.assignment().len(), 2);

    // b crashes: no LeaveGroup, no more heartbeats. a takes over once the
    // coordinator expires b's session, 45 s later on the paused clock.
    drop(b);
    let crashed = Instant::now();
    while a.assignment().len() < 4 {
        assert!(Instant::now() < crashed + Duration::from_secs(120), "a never took over b's partitions");
        a.poll(Duration::from_millis(500)).await.unwrap();
    }
    let waited = Instant::now() - crashed;
    assert!(waited >= session, "b's partitions moved after {waited:?}, before its session expired");
    assert!(waited < session + Duration::from_secs(10), "the takeover took {waited:?}");
    let all: Vec<TopicPartition> = (0..4).map(|p| TopicPartition::new("t", p)).collect();
    assert_eq!(a.assignment(), all.into_iter().collect());
    a.close().await.unwrap();
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn linger_and_delivery_timeout_run_on_the_paused_clock() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    let p = producer(&cluster).linger(Duration::from_secs(20)).build().unwrap();
    // The record waits out linger.ms (20 s of paused time) before it goes.
    let t0 = Instant::now();
    let m = p.send_and_wait(ProducerRecord::new("t").value("late")).await.unwrap();
    let lingered = Instant::now() - t0;
    assert!(lingered >= Duration::from_secs(20), "sent after {lingered:?}");
    assert_eq!(m.offset, 0);
    // The default timestamp is the clock's: T0 plus the paused time so far.
    assert!(m.timestamp >= T0 && m.timestamp <= T0 + 60_000, "{}", m.timestamp);
    p.close_timeout(Duration::from_secs(5)).await.ok();

    // With the broker unreachable, a record fails when delivery.timeout.ms
    // (2 min) runs out, not before.
    let p = producer(&cluster).linger(Duration::ZERO).delivery_timeout(Duration::from_secs(120)).build().unwrap();
    p.send_and_wait(ProducerRecord::new("t").value("warm-up")).await.unwrap();
    cluster.isolate_broker(1, true).unwrap();
    let t0 = Instant::now();
    let err = p.send_and_wait(ProducerRecord::new("t").value("never")).await.unwrap_err();
    let waited = Instant::now() - t0;
    assert!(matches!(err, Error::Timeout { .. } | Error::OutcomeUnknown { .. }), "{err:?}");
    assert!(waited >= Duration::from_secs(119), "failed after {waited:?}");
    cluster.isolate_broker(1, false).unwrap();
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

/// Waits (on the paused clock) until `cluster` has no client connection
/// open and no more tasks are alive than `tasks` (the count before the
/// client existed); fails after 10 minutes of paused time.
async fn all_connections_closed(cluster: &Cluster, tasks: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    let alive = || tokio::runtime::Handle::current().metrics().num_alive_tasks();
    while cluster.open_connections() > 0 || alive() > tasks {
        assert!(
            Instant::now() < deadline,
            "{what}: {} connections stayed open, {} tasks alive of {tasks} before",
            cluster.open_connections(),
            alive()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_client_leaves_no_connection_behind() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("t", 2, 1).await.unwrap();
    // Every task a client starts (engine, connections, helpers) ends with it.
    let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();

    // A producer dropped with a record still lingering delivers it, then
    // its sender ends and closes its connections.
    let p = producer(&cluster).linger(Duration::from_secs(5)).build().unwrap();
    let clone = p.clone();
    p.send_and_wait(ProducerRecord::new("t").value("first")).await.unwrap();
    let pending = p.send(ProducerRecord::new("t").value("lingering")).await.unwrap();
    drop(p);
    assert!(cluster.open_connections() > 0, "a clone still holds the producer");
    drop(clone);
    pending.await.expect("accepted before the drop, delivered after it");
    all_connections_closed(&cluster, tasks, "dropped producer").await;

    let c = consumer(&cluster, "g").build().unwrap();
    c.subscribe(["t"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 2 {
        assert!(Instant::now() < deadline, "the consumer read {seen} of 2");
        seen += c.poll(Duration::from_millis(100)).await.unwrap().len();
    }
    drop(c);
    all_connections_closed(&cluster, tasks, "dropped consumer").await;

    let a = kafka_client::admin::Admin::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .connector(in_memory(&cluster))
        .build()
        .unwrap();
    assert!(a.list_topics(false).await.unwrap().contains_key("t"));
    drop(a);
    all_connections_closed(&cluster, tasks, "dropped admin").await;
    cluster.shutdown().await;
}
