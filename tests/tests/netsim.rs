//! Clients on the simulated network (`tests::netsim`), on the paused clock:
//! what they do when a link to a broker goes silent.

use std::time::Duration;

use broker_testkit::Cluster;
use kafka_client::consumer::{Consumer, OffsetReset};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Clock, TopicPartition};
use tests::netsim::{Direction, Network};
use tokio::time::Instant;

const T0: i64 = 1_700_000_000_000;

/// A one-broker cluster with topic `t` (one partition) and a network to it.
async fn one_partition() -> (Cluster, Network) {
    let cluster = Cluster::builder().in_memory_only().start().await.unwrap();
    cluster.create_topic("t", 1, 1).await.unwrap();
    let net = Network::new(&cluster);
    (cluster, net)
}

/// A producer named "producer" on `net`.
fn producer_on(cluster: &Cluster, net: &Network) -> kafka_client::producer::ProducerBuilder {
    Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .clock(Clock::starting_at(T0))
        .connector(net.connector("producer"))
}

/// The values stored in partition 0 of `t`, in offset order.
async fn stored(cluster: &Cluster) -> Vec<String> {
    let records = cluster.records("t", 0).await.unwrap();
    records.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()).collect()
}

/// A member whose link to the coordinator goes silent gives that link up
/// within its session timeout (3 s), not its request timeout (30 s), as
/// Java's heartbeat thread does; once the partition heals it is back in the
/// group and commits.
#[tokio::test(start_paused = true)]
async fn a_silent_coordinator_link_is_given_up_within_a_session() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let (cluster, net) = one_partition().await;
    let p = producer_on(&cluster, &net).build().unwrap();
    for i in 0..10 {
        p.send_and_wait(ProducerRecord::new("t").value(format!("v{i}"))).await.unwrap();
    }
    p.close().await.unwrap();

    let c = Consumer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .group_id("g")
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(3))
        .heartbeat_interval(Duration::from_millis(300))
        .request_timeout(Duration::from_secs(30))
        .clock(Clock::starting_at(T0))
        .connector(net.connector("member"))
        .build()
        .unwrap();
    c.subscribe(["t"]).unwrap();
    let mut n = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while n < 10 {
        assert!(Instant::now() < deadline, "read {n} of 10");
        n += c.poll(Duration::from_millis(100)).await.unwrap().len();
    }
    c.commit().await.unwrap();

    let addr = cluster.broker_addr(1).unwrap().to_string();
    let before = cluster.open_connections();
    net.partition("member", &addr, true);
    // Heartbeats go on meanwhile (the group task runs without poll); the
    // one that goes unanswered for a session ends the coordinator's link
    // (the others are idle or wait out their own timeouts).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = cluster.open_connections();
    assert!(after < before, "the silent coordinator link was kept past the session timeout ({before} -> {after})");
    net.partition("member", &addr, false);
    let healed = Instant::now();
    let tp = TopicPartition::new("t", 0);
    loop {
        c.poll(Duration::from_millis(100)).await.unwrap();
        if c.assignment().contains(&tp) && c.commit().await.is_ok() {
            break;
        }
        assert!(Instant::now() < healed + Duration::from_secs(120), "never back in the group");
    }
    c.close().await.unwrap();
    cluster.shutdown().await;
}

/// Answers held on the way back while requests still arrive: the broker
/// applies every produce, the producer hears nothing until its request
/// timeout, reconnects and retries, and the broker recognises the retries
/// as duplicates. Each record is stored once, where its acknowledgement
/// says, in order.
#[tokio::test(start_paused = true)]
async fn answers_held_on_the_way_back_are_retried_without_duplicates() {
    let (cluster, net) = one_partition().await;
    let p = producer_on(&cluster, &net).request_timeout(Duration::from_secs(1)).build().unwrap();
    p.send_and_wait(ProducerRecord::new("t").value("v0")).await.unwrap();
    let addr = cluster.broker_addr(1).unwrap().to_string();
    net.stall("producer", &addr, Direction::ToClient, true);
    let mut pending = Vec::new();
    for i in 1..=20 {
        pending.push(p.send(ProducerRecord::new("t").value(format!("v{i}"))).await.unwrap());
    }
    // The requests reached the broker and were applied while their answers
    // wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cluster.records("t", 0).await.unwrap().len(), 21, "held answers, applied requests");
    tokio::time::sleep(Duration::from_secs(2)).await;
    net.stall("producer", &addr, Direction::ToClient, false);
    let mut offsets = Vec::new();
    for f in pending {
        offsets.push(f.await.unwrap().offset);
    }
    assert_eq!(offsets, (1..=20).collect::<Vec<i64>>());
    assert_eq!(
        stored(&cluster).await,
        (0..=20).map(|i| format!("v{i}")).collect::<Vec<_>>(),
        "each record stored once, in order"
    );
    p.close().await.unwrap();
    cluster.shutdown().await;
}

/// A link's delay shows in every round trip, on the paused clock.
#[tokio::test(start_paused = true)]
async fn a_delayed_link_slows_each_round_trip() {
    let (cluster, net) = one_partition().await;
    net.delay("producer", Duration::from_millis(50));
    let p = producer_on(&cluster, &net).linger(Duration::ZERO).build().unwrap();
    p.send_and_wait(ProducerRecord::new("t").value("warm-up")).await.unwrap();
    let t0 = Instant::now();
    p.send_and_wait(ProducerRecord::new("t").value("timed")).await.unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(100), "a round trip over a 50 ms link took {took:?}");
    assert!(took < Duration::from_millis(150), "a round trip over a 50 ms link took {took:?}");
    net.delay("producer", Duration::ZERO);
    let t0 = Instant::now();
    p.send_and_wait(ProducerRecord::new("t").value("fast")).await.unwrap();
    assert!(t0.elapsed() < Duration::from_millis(10), "took {:?} with no delay", t0.elapsed());
    p.close().await.unwrap();
    cluster.shutdown().await;
}

/// A reset link fails what was on it; the client reconnects, and what it
/// sent is still delivered exactly once.
#[tokio::test(start_paused = true)]
async fn a_reset_link_is_reconnected_and_nothing_is_lost_or_doubled() {
    let (cluster, net) = one_partition().await;
    net.delay("producer", Duration::from_millis(5));
    let p = producer_on(&cluster, &net).linger(Duration::ZERO).build().unwrap();
    p.send_and_wait(ProducerRecord::new("t").value("v0")).await.unwrap();
    let addr = cluster.broker_addr(1).unwrap().to_string();
    let before = cluster.open_connections();
    let mut pending = Vec::new();
    for i in 1..=20 {
        pending.push(p.send(ProducerRecord::new("t").value(format!("v{i}"))).await.unwrap());
        if i == 10 {
            // Requests and answers are on the wire (5 ms each way).
            tokio::time::sleep(Duration::from_millis(3)).await;
            net.reset("producer", &addr);
        }
    }
    let mut offsets = Vec::new();
    for f in pending {
        offsets.push(f.await.unwrap().offset);
    }
    assert_eq!(offsets, (1..=20).collect::<Vec<i64>>());
    assert!(cluster.open_connections() <= before, "the reset connections were closed");
    assert_eq!(
        stored(&cluster).await,
        (0..=20).map(|i| format!("v{i}")).collect::<Vec<_>>(),
        "each record stored once, in order"
    );
    p.close().await.unwrap();
    cluster.shutdown().await;
}
