//! The producer against broker-testkit: every acks level and codec, leader
//! moves and broker failures, injected faults — each verified by reading
//! back what the brokers stored: every record exactly once, and in send
//! order within its partition.

use std::collections::BTreeMap;
use std::time::Duration;

use broker_testkit::{Cluster, Fault, FaultAction, TopicSpec};
use kafka_client::Error;
use kafka_client::producer::partitioner::partition_for_key;
use kafka_client::producer::{Acks, DeliveryFuture, Producer, ProducerBuilder, ProducerRecord};
use kafka_protocol::{ApiKey, Compression, ErrorCode};

mod common;
use common::{clock, in_memory};

fn builder(cluster: &Cluster) -> ProducerBuilder {
    Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers())
        .linger(Duration::from_millis(2))
        .clock(clock())
        .connector(in_memory(cluster))
}

/// Sends `n` records `prefix-i` with keys `key-(i % keys)`; returns the futures.
async fn send_many(p: &Producer, topic: &str, prefix: &str, n: usize, keys: usize) -> Vec<DeliveryFuture> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let r = ProducerRecord::new(topic).key(format!("key-{}", i % keys)).value(format!("{prefix}-{i}"));
        out.push(p.send(r).await.expect("accepted"));
    }
    out
}

/// Every value of the topic, per partition, in offset order.
async fn stored(cluster: &Cluster, topic: &str, partitions: i32) -> BTreeMap<i32, Vec<String>> {
    let mut out = BTreeMap::new();
    for p in 0..partitions {
        let recs = cluster.records(topic, p).await.unwrap();
        out.insert(p, recs.iter().map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap()).collect());
    }
    out
}

/// Asserts each of `prefix-0..n` is stored exactly once, and that within a
/// partition values appear in increasing index order.
fn assert_exactly_once_in_order(stored: &BTreeMap<i32, Vec<String>>, prefix: &str, n: usize) {
    let mut seen = vec![0u32; n];
    for (p, values) in stored {
        let mut last: Option<usize> = None;
        for v in values {
            let Some(i) = v.strip_prefix(&format!("{prefix}-")).and_then(|s| s.parse::<usize>().ok()) else { continue };
            seen[i] += 1;
            if let Some(l) = last {
                assert!(i > l, "partition {p}: {prefix}-{i} stored after {prefix}-{l}");
            }
            last = Some(i);
        }
    }
    let missing: Vec<usize> = (0..n).filter(|&i| seen[i] == 0).collect();
    let dupes: Vec<usize> = (0..n).filter(|&i| seen[i] > 1).collect();
    assert!(missing.is_empty(), "missing {}: {:?}", missing.len(), &missing[..missing.len().min(20)]);
    assert!(dupes.is_empty(), "duplicated {}: {:?}", dupes.len(), &dupes[..dupes.len().min(20)]);
}

async fn await_all(futs: Vec<DeliveryFuture>) -> Vec<Result<kafka_client::producer::RecordMetadata, Error>> {
    let mut out = Vec::new();
    for f in futs {
        out.push(f.await);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn every_acks_level_and_codec() {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    for (a, acks) in [Acks::None, Acks::Leader, Acks::All].into_iter().enumerate() {
        for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let topic = format!("t-{a}-{codec}");
            cluster.create_topic(&topic, 2, 3).await.unwrap();
            let p = builder(&cluster).acks(acks).compression(codec).build().unwrap();
            let results = await_all(send_many(&p, &topic, "v", 200, 10).await).await;
            for r in &results {
                let m = r.as_ref().unwrap();
                assert_eq!(m.offset >= 0, acks != Acks::None, "{acks:?}: acks=0 reports no offsets");
            }
            p.close_timeout(Duration::from_secs(5)).await.ok();
            if acks == Acks::None {
                // Written is not yet stored: nothing tells an acks=0
                // producer when the broker has appended.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while stored(&cluster, &topic, 2).await.values().map(Vec::len).sum::<usize>() < 200
                    && tokio::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            assert_exactly_once_in_order(&stored(&cluster, &topic, 2).await, "v", 200);
            for part in 0..2 {
                for b in cluster.batches(&topic, part, None).await.unwrap() {
                    assert_eq!(b.compression, codec, "{topic}: stored batches use the producer's codec");
                    assert_eq!(
                        b.producer_id >= 0,
                        acks == Acks::All,
                        "idempotence is on by default only with acks=all"
                    );
                }
            }
        }
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn keys_land_where_java_puts_them() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("keyed", 7, 1).await.unwrap();
    let p = builder(&cluster).build().unwrap();
    for i in 0..100 {
        let key = format!("user-{i}");
        let m = p.send_and_wait(ProducerRecord::new("keyed").key(key.clone()).value("x")).await.unwrap();
        assert_eq!(Some(m.partition), partition_for_key(key.as_bytes(), 7), "{key}");
    }
    // An empty key is a key: it hashes to a fixed partition.
    let a = p.send_and_wait(ProducerRecord::new("keyed").key("").value("1")).await.unwrap();
    let b = p.send_and_wait(ProducerRecord::new("keyed").key("").value("2")).await.unwrap();
    assert_eq!(a.partition, b.partition);
    assert_eq!(Some(a.partition), partition_for_key(b"", 7));
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn leader_moves_and_broker_stops_mid_stream_lose_and_duplicate_nothing() {
    let cluster = Cluster::builder().brokers(3).in_memory_only().start().await.unwrap();
    cluster.create_topic("moving", 2, 3).await.unwrap();
    let p = builder(&cluster).build().unwrap();
    let n = 6000;
    let producing = {
        let p = p.clone();
        tokio::spawn(async move {
            let mut futs = Vec::new();
            for i in 0..n {
                let r = ProducerRecord::new("moving").key(format!("key-{}", i % 50)).value(format!("m-{i}"));
                futs.push(p.send(r).await.expect("accepted"));
                if i % 500 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            futs
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let s0 = cluster.partition_state("moving", 0).await.unwrap();
    let other = *s0.isr.iter().find(|&&b| b != s0.leader).unwrap();
    cluster.move_leader("moving", 0, other).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let s1 = cluster.partition_state("moving", 1).await.unwrap();
    cluster.stop_broker(s1.leader).await.unwrap();
    let futs = producing.await.unwrap();
    for r in await_all(futs).await {
        r.unwrap();
    }
    cluster.start_broker(s1.leader).await.unwrap();
    p.close_timeout(Duration::from_secs(5)).await.ok();
    assert_exactly_once_in_order(&stored(&cluster, "moving", 2).await, "m", n);
    cluster.shutdown().await;
}

/// Runs `n` records through one injected fault and checks exactly once.
async fn under_fault(
    fault: Fault,
    configure: impl FnOnce(ProducerBuilder) -> ProducerBuilder,
    n: usize,
) -> (Cluster, u64) {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    cluster.create_topic("f", 3, 3).await.unwrap();
    let handle = cluster.add_fault(fault);
    let p = configure(builder(&cluster)).build().unwrap();
    let futs = send_many(&p, "f", "x", n, 30).await;
    for r in await_all(futs).await {
        r.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
    assert_exactly_once_in_order(&stored(&cluster, "f", 3).await, "x", n);
    let fired = handle.fired();
    (cluster, fired)
}

#[tokio::test(start_paused = true)]
async fn injected_not_leader_is_retried() {
    let f = Fault::on(ApiKey::Produce).action(FaultAction::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).times(5);
    let (c, fired) = under_fault(f, |b| b, 2000).await;
    assert_eq!(fired, 5);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn dropped_connections_are_retried() {
    let f = Fault::on(ApiKey::Produce).action(FaultAction::Drop).times(3);
    let (c, fired) = under_fault(f, |b| b, 2000).await;
    assert_eq!(fired, 3);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn applied_then_dropped_is_deduplicated() {
    let f = Fault::on(ApiKey::Produce).action(FaultAction::ApplyThenDrop).times(3);
    let (c, fired) = under_fault(f, |b| b, 2000).await;
    assert_eq!(fired, 3);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_response_cut_in_half_is_retried_and_deduplicated() {
    let f = Fault::on(ApiKey::Produce).action(FaultAction::ApplyThenCut).times(3);
    let (c, fired) = under_fault(f, |b| b, 2000).await;
    assert_eq!(fired, 3);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn applied_then_delayed_past_the_timeout_is_deduplicated() {
    let f = Fault::on(ApiKey::Produce).action(FaultAction::ApplyThenDelay(Duration::from_millis(800))).times(2);
    let (c, fired) = under_fault(
        f,
        |b| b.request_timeout(Duration::from_millis(300)).delivery_timeout(Duration::from_secs(30)),
        1500,
    )
    .await;
    assert_eq!(fired, 2);
    c.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn out_of_order_sequence_bumps_the_epoch() {
    let cluster = Cluster::builder().brokers(1).start().await.unwrap();
    cluster.create_topic("seq", 1, 1).await.unwrap();
    let p = builder(&cluster).build().unwrap();
    // A first batch establishes the producer on the partition.
    for r in await_all(send_many(&p, "seq", "s", 10, 1).await).await {
        r.unwrap();
    }
    // The next batch is answered OUT_OF_ORDER_SEQUENCE_NUMBER without being
    // written: it is next in line, so the producer bumps its epoch.
    let fault = cluster.add_fault(
        Fault::on(ApiKey::Produce).action(FaultAction::Error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)).times(1),
    );
    let mut futs = Vec::new();
    for i in 10..40 {
        futs.push(p.send(ProducerRecord::new("seq").key("key-0").value(format!("s-{i}"))).await.unwrap());
    }
    for r in await_all(futs).await {
        r.unwrap();
    }
    assert_eq!(fault.fired(), 1);
    p.close_timeout(Duration::from_secs(5)).await.ok();
    assert_exactly_once_in_order(&stored(&cluster, "seq", 1).await, "s", 40);
    let batches = cluster.batches("seq", 0, None).await.unwrap();
    let epochs: Vec<i16> = batches.iter().map(|b| b.producer_epoch).collect();
    assert_eq!(epochs.first(), Some(&0));
    assert_eq!(epochs.last(), Some(&1), "the batches after the error carry the bumped epoch: {epochs:?}");
    let after: Vec<_> = batches.iter().filter(|b| b.producer_epoch == 1).collect();
    assert_eq!(after.first().map(|b| b.base_sequence), Some(0), "renumbered from 0");
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn too_large_batches_are_split() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic_with(TopicSpec::new("small", 1, 1).config("max.message.bytes", "20000")).await.unwrap();
    let p = builder(&cluster).batch_size(200_000).linger(Duration::from_millis(100)).build().unwrap();
    let mut futs = Vec::new();
    for i in 0..100 {
        futs.push(p.send(ProducerRecord::new("small").value(format!("big-{i}-{}", "z".repeat(1000)))).await.unwrap());
    }
    for r in await_all(futs).await {
        r.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
    let values: Vec<String> = stored(&cluster, "small", 1).await.remove(&0).unwrap();
    assert_eq!(values.len(), 100);
    for (i, v) in values.iter().enumerate() {
        assert!(v.starts_with(&format!("big-{i}-")));
    }
    assert!(cluster.batches("small", 0, None).await.unwrap().len() > 1, "the big batch was split");
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn backpressure_blocks_then_resumes() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("bp", 1, 1).await.unwrap();
    let p = builder(&cluster)
        .buffer_memory(64 * 1024)
        .batch_size(16 * 1024)
        .max_block(Duration::from_secs(30))
        .build()
        .unwrap();
    p.send_and_wait(ProducerRecord::new("bp").value("warm-up")).await.unwrap();
    cluster.isolate_broker(1, true).unwrap();
    // 64 KiB of memory holds four 16 KiB batches; the fifth batch waits.
    let value = "y".repeat(1000);
    let mut futs = Vec::new();
    let mut blocked = false;
    for i in 0..200 {
        let send = p.send(ProducerRecord::new("bp").value(format!("{i}-{value}")));
        match tokio::time::timeout(Duration::from_millis(300), send).await {
            Ok(f) => futs.push(f.unwrap()),
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    assert!(blocked, "send should wait for buffer.memory");
    cluster.isolate_broker(1, false).unwrap();
    futs.push(p.send(ProducerRecord::new("bp").value("after")).await.unwrap());
    for r in await_all(futs).await {
        r.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn max_block_bounds_the_wait_for_metadata_and_memory() {
    let cluster = Cluster::builder().auto_create_topics(false).start().await.unwrap();
    cluster.create_topic("full", 1, 1).await.unwrap();
    let p = builder(&cluster)
        .buffer_memory(64 * 1024)
        .batch_size(16 * 1024)
        .max_block(Duration::from_millis(400))
        .build()
        .unwrap();

    // A topic that never appears.
    let t0 = tokio::time::Instant::now();
    let refused = p.send(ProducerRecord::new("missing").value("x")).await.unwrap_err();
    assert!(matches!(&refused.error, Error::Timeout { what, .. } if what.contains("missing")), "{refused:?}");
    // The refused record comes back whole.
    assert_eq!(refused.record, ProducerRecord::new("missing").value("x"));
    assert!(t0.elapsed() >= Duration::from_millis(400), "gave up after {:?}", t0.elapsed());

    // Memory that never frees up: the broker is unreachable.
    p.send_and_wait(ProducerRecord::new("full").value("warm-up")).await.unwrap();
    cluster.isolate_broker(1, true).unwrap();
    let value = "z".repeat(1000);
    let mut accepted = Vec::new();
    let err = loop {
        let t0 = tokio::time::Instant::now();
        match p.send(ProducerRecord::new("full").value(value.clone())).await {
            Ok(f) => accepted.push(f),
            Err(e) => break (e.error, t0.elapsed()),
        }
        assert!(accepted.len() < 200, "buffer.memory never ran out");
    };
    assert!(matches!(&err.0, Error::Timeout { .. }), "{err:?}");
    assert!(err.1 >= Duration::from_millis(400), "gave up after {:?}", err.1);
    cluster.isolate_broker(1, false).unwrap();
    // What was accepted before is still delivered.
    for r in await_all(accepted).await {
        r.unwrap();
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn delivery_timeout_after_a_possible_write_is_outcome_unknown() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("slow", 1, 1).await.unwrap();
    let p = builder(&cluster)
        .request_timeout(Duration::from_millis(300))
        .delivery_timeout(Duration::from_millis(1200))
        .build()
        .unwrap();
    p.send_and_wait(ProducerRecord::new("slow").value("warm-up")).await.unwrap();
    cluster.add_fault(Fault::on(ApiKey::Produce).action(FaultAction::ApplyThenDelay(Duration::from_secs(3))).always());
    let err = p.send_and_wait(ProducerRecord::new("slow").value("lost?")).await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    cluster.clear_faults();
    p.close_timeout(Duration::from_secs(2)).await.ok();
    cluster.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn close_never_hangs_with_a_dead_cluster() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("dead", 1, 1).await.unwrap();
    let p = builder(&cluster).build().unwrap();
    p.send_and_wait(ProducerRecord::new("dead").value("alive")).await.unwrap();
    cluster.stop_broker(1).await.unwrap();
    let pending = p.send(ProducerRecord::new("dead").value("never")).await.unwrap();
    let t0 = tokio::time::Instant::now();
    p.close_timeout(Duration::from_millis(500)).await.ok();
    assert!(t0.elapsed() < Duration::from_secs(6), "close took {:?}", t0.elapsed());
    assert!(pending.await.is_err());
    assert!(
        matches!(p.send(ProducerRecord::new("dead").value("late")).await, Err(e) if matches!(e.error, Error::Closed))
    );
    cluster.shutdown().await;
}

/// Issue 10: `flush` hung when the sender completed a brand-new batch
/// before `send` had registered it as pending. Every record here opens its
/// own batch (a batch holds one record) and acks=0 completes it the moment
/// it is written, so the sender races each `send`; every flush must return.
/// (On two threads and real time: the race needs the sender running in
/// parallel with `send`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_returns_when_the_sender_completes_a_batch_before_send_returns() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("race", 4, 1).await.unwrap();
    let p = builder(&cluster).acks(Acks::None).idempotence(false).linger(Duration::ZERO).batch_size(1).build().unwrap();
    for round in 0..30 {
        let senders: Vec<_> = (0..2)
            .map(|t| {
                let p = p.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        let r = ProducerRecord::new("race").key(format!("k{i}")).value(format!("r{round}-t{t}-{i}"));
                        drop(p.send(r).await.expect("accepted"));
                    }
                })
            })
            .collect();
        for s in senders {
            s.await.unwrap();
        }
        tokio::time::timeout(Duration::from_secs(20), p.flush())
            .await
            .unwrap_or_else(|_| panic!("round {round}: flush did not return although every record was sent"));
    }
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

/// Issue 10: with retries used up after an attempt that may have been
/// applied (its answer lost), the record is in the log, so its failure
/// must say "outcome unknown", not the last attempt's error.
#[tokio::test(start_paused = true)]
async fn retries_used_up_after_a_possible_write_is_outcome_unknown() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("once", 1, 1).await.unwrap();
    let p = builder(&cluster).retries(1).build().unwrap();
    p.send_and_wait(ProducerRecord::new("once").value("warm-up")).await.unwrap();
    let applied = cluster.add_fault(Fault::on(ApiKey::Produce).action(FaultAction::ApplyThenDrop).times(1));
    let refused = cluster
        .add_fault(Fault::on(ApiKey::Produce).action(FaultAction::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).times(1));
    let err = p.send_and_wait(ProducerRecord::new("once").value("written")).await.unwrap_err();
    assert_eq!((applied.fired(), refused.fired()), (1, 1));
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "a record that is in the log was reported as {err:?}");
    let values: Vec<String> = stored(&cluster, "once", 1).await.remove(&0).unwrap();
    assert_eq!(values, ["warm-up", "written"], "the first attempt did write it");
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

/// Closing with a request in flight: the broker may still apply it, so its
/// records' outcome is unknown.
#[tokio::test(start_paused = true)]
async fn close_with_a_request_in_flight_reports_outcome_unknown() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("inflight", 1, 1).await.unwrap();
    let p = builder(&cluster).build().unwrap();
    p.send_and_wait(ProducerRecord::new("inflight").value("warm-up")).await.unwrap();
    cluster.add_fault(Fault::on(ApiKey::Produce).action(FaultAction::ApplyThenDelay(Duration::from_secs(5))).always());
    let pending = p.send(ProducerRecord::new("inflight").value("maybe")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    p.close_timeout(Duration::from_millis(300)).await.ok();
    let err = pending.await.unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    cluster.clear_faults();
    cluster.shutdown().await;
}

/// Found while fixing issue 10: when the leader's broker stopped while no
/// request was in flight to it, the producer kept trying to connect to it
/// and never refreshed metadata (until metadata.max.age.ms, 5 minutes), so
/// the partition's records were stuck. A failed connection attempt now
/// refreshes metadata, as Java's NetworkClient does on a disconnect.
#[tokio::test(start_paused = true)]
async fn a_stopped_leader_with_nothing_in_flight_is_replaced_from_fresh_metadata() {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    cluster.create_topic("idle", 1, 3).await.unwrap();
    let p = builder(&cluster).build().unwrap();
    p.send_and_wait(ProducerRecord::new("idle").value("before")).await.unwrap();
    let leader = cluster.partition_state("idle", 0).await.unwrap().leader;
    cluster.stop_broker(leader).await.unwrap();
    let sent =
        tokio::time::timeout(Duration::from_secs(15), p.send_and_wait(ProducerRecord::new("idle").value("after")))
            .await
            .expect("the record reaches the new leader well before metadata.max.age.ms");
    sent.unwrap();
    assert_eq!(stored(&cluster, "idle", 1).await[&0], ["before", "after"]);
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

/// An acks=all produce that waited for the ISR and was answered
/// NOT_LEADER_OR_FOLLOWER because leadership moved may already be on the
/// new leader. If retries run out after that, the record's outcome is
/// unknown, not failed: here it is in the log.
#[tokio::test(start_paused = true)]
async fn not_leader_after_the_append_then_retries_used_up_is_outcome_unknown() {
    let cluster = Cluster::builder().brokers(3).replica_lag_time_max(Duration::from_secs(60)).start().await.unwrap();
    cluster.create_topic("moved", 1, 3).await.unwrap();
    let p = builder(&cluster).retries(1).build().unwrap();
    p.send_and_wait(ProducerRecord::new("moved").value("warm-up")).await.unwrap();
    let s = cluster.partition_state("moved", 0).await.unwrap();
    let followers: Vec<i32> = s.replicas.iter().copied().filter(|&b| b != s.leader).collect();
    let (next, stalled) = (followers[0], followers[1]);
    // The stalled follower stays in the ISR: the append is parked.
    cluster.stall_follower("moved", 0, stalled, true).await.unwrap();
    let pending = p.send(ProducerRecord::new("moved").value("appended")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The retry will be refused too, so retries=1 is used up.
    cluster.add_fault(
        Fault::on(ApiKey::Produce).broker(next).action(FaultAction::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).times(1),
    );
    cluster.move_leader("moved", 0, next).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(20), pending).await.expect("delivery ends").unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    cluster.stall_follower("moved", 0, stalled, false).await.unwrap();
    assert_eq!(stored(&cluster, "moved", 1).await[&0], ["warm-up", "appended"], "the new leader has it");
    p.close_timeout(Duration::from_secs(5)).await.ok();
    cluster.shutdown().await;
}

/// A `send` waiting for buffer memory while the producer closes never
/// leaves a record behind that nobody will send: it is refused with
/// `Closed` (and its record handed back), and everything accepted before
/// is delivered.
#[tokio::test(start_paused = true)]
async fn a_send_waiting_for_memory_during_close_is_refused_not_stranded() {
    let cluster = Cluster::builder().start().await.unwrap();
    cluster.create_topic("closing", 1, 1).await.unwrap();
    let p = builder(&cluster)
        .buffer_memory(64 * 1024)
        .batch_size(16 * 1024)
        .max_block(Duration::from_secs(60))
        .build()
        .unwrap();
    p.send_and_wait(ProducerRecord::new("closing").value("warm-up")).await.unwrap();
    cluster.isolate_broker(1, true).unwrap();
    let value = "c".repeat(1000);
    let mut accepted = Vec::new();
    let waiting = loop {
        let sender = p.clone();
        let record = ProducerRecord::new("closing").value(value.clone());
        let mut send = tokio::spawn(async move { sender.send(record).await });
        match tokio::time::timeout(Duration::from_millis(100), &mut send).await {
            Ok(f) => accepted.push(f.unwrap().unwrap()),
            // Out of memory: this send waits. Let it go on waiting.
            Err(_) => break send,
        }
        assert!(accepted.len() < 200, "buffer.memory never ran out");
    };
    cluster.isolate_broker(1, false).unwrap();
    p.close().await.unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(60), waiting)
        .await
        .expect("the waiting send returned")
        .unwrap()
        .expect_err("no record is taken once closing");
    assert!(matches!(refused.error, Error::Closed), "{:?}", refused.error);
    assert_eq!(refused.record.value.as_deref(), Some(value.as_bytes()));
    let n = accepted.len();
    for r in await_all(accepted).await {
        r.unwrap();
    }
    assert_eq!(p.buffer_available_bytes(), 64 * 1024, "every byte of buffer.memory came back");
    assert_eq!(cluster.records("closing", 0).await.unwrap().len(), n + 1);
    cluster.shutdown().await;
}
