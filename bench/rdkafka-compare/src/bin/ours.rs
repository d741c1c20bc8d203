//! The workload on this repository's `kafka-client` (tokio).
//!
//! Producer: `send(record).await` for every record as fast as it returns
//! (it waits only when `buffer.memory` is full), keeping every returned
//! `DeliveryFuture`; `flush()` at the end, then every future is checked.
//! How the futures are awaited is `--ack-mode`:
//! - `deque` (default): in send order in a `VecDeque`, the finished ones at
//!   the front popped every 256 sends (one pending poll with a no-op waker).
//! - `unordered`: all pushed into a `FuturesUnordered`, drained with a
//!   non-blocking `poll_next` every 256 sends — the textbook pattern.
//! - `task`: sent over a channel to a spawned task that awaits them in order.
//!
//! Consumer: `assign` all partitions (no group membership), `poll` until
//! every record has been seen.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::TopicPartition;
use kafka_client::consumer::Consumer;
use kafka_client::producer::{DeliveryFuture, Producer, ProducerRecord};
use rdkafka_compare::{Mode, Payloads, Workload, print_result, self_cpu};

fn main() {
    let w = Workload::from_args();
    let rt = match w.runtime.as_str() {
        "ct" => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        _ => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
    }
    .expect("tokio runtime");
    let r = rt.block_on(async {
        match w.mode {
            Mode::Produce => produce(&w).await,
            Mode::Consume => consume(&w).await,
        }
    });
    if let Err(e) = r {
        eprintln!("ours: {e}");
        std::process::exit(1);
    }
}

fn cpu() -> f64 {
    let (u, s) = self_cpu();
    u + s
}

async fn produce(w: &Workload) -> Result<(), kafka_client::Error> {
    let (batch, linger, inflight, buffer, max_req) = (
        w.batch_size.to_string(),
        w.linger_ms.to_string(),
        w.max_in_flight.to_string(),
        w.buffer_bytes.to_string(),
        w.max_request_size.to_string(),
    );
    let base = [
        ("bootstrap.servers", w.bootstrap.as_str()),
        ("acks", w.acks.as_str()),
        ("enable.idempotence", if w.idempotence() { "true" } else { "false" }),
        ("compression.type", w.compression.as_str()),
        ("batch.size", batch.as_str()),
        ("linger.ms", linger.as_str()),
        ("max.in.flight.requests.per.connection", inflight.as_str()),
        ("buffer.memory", buffer.as_str()),
        ("max.request.size", max_req.as_str()),
    ];
    let extra = w.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let producer = Producer::from_properties(base.into_iter().chain(extra)).build()?;
    let p = Payloads::new(w.size);
    let keys: Vec<Bytes> = p.keys.into_iter().map(Bytes::from).collect();
    let values: Vec<Bytes> = p.values.into_iter().map(Bytes::from).collect();
    // Metadata before the clock starts (librdkafka's side does the same).
    producer.partitions_for(&w.topic).await?;

    // Shared, so records do not copy the topic name.
    let topic: std::sync::Arc<str> = w.topic.as_str().into();
    let record = |i: u64| {
        let j = (i % keys.len() as u64) as usize;
        ProducerRecord::new(topic.clone()).key(keys[j].clone()).value(values[j].clone())
    };
    let yield_every = if w.runtime == "ct" { 1024 } else { u64::MAX };
    let cpu0 = cpu();
    let t0 = Instant::now();
    let mut ok = 0u64;
    let mut errors = 0u64;
    let mut tally = |r: Result<_, kafka_client::Error>| match r {
        Ok(_) => ok += 1,
        Err(e) => {
            if errors == 0 {
                eprintln!("ours: delivery failed: {e}");
            }
            errors += 1;
        }
    };
    match w.ack_mode.as_str() {
        "unordered" => {
            let mut pending = FuturesUnordered::new();
            let mut cx = Context::from_waker(Waker::noop());
            for i in 0..w.records {
                pending.push(producer.send(record(i)).await?);
                if i % 256 == 255 {
                    while let Poll::Ready(Some(r)) = pending.poll_next_unpin(&mut cx) {
                        tally(r);
                    }
                }
                if i % yield_every == yield_every - 1 {
                    tokio::task::yield_now().await;
                }
            }
            producer.flush().await;
            while let Some(r) = pending.next().await {
                tally(r);
            }
        }
        "task" => {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DeliveryFuture>();
            let waiter = tokio::spawn(async move {
                let (mut ok, mut errors) = (0u64, 0u64);
                while let Some(f) = rx.recv().await {
                    match f.await {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("ours: delivery failed: {e}");
                            }
                            errors += 1
                        }
                    }
                }
                (ok, errors)
            });
            for i in 0..w.records {
                let _ = tx.send(producer.send(record(i)).await?);
                if i % yield_every == yield_every - 1 {
                    tokio::task::yield_now().await;
                }
            }
            drop(tx);
            producer.flush().await;
            let (o, e) = waiter.await.expect("waiter task");
            ok += o;
            errors += e;
        }
        _ => {
            let mut pending: VecDeque<DeliveryFuture> = VecDeque::new();
            let mut cx = Context::from_waker(Waker::noop());
            for i in 0..w.records {
                pending.push_back(producer.send(record(i)).await?);
                if i % 256 == 255 {
                    while let Some(f) = pending.front_mut() {
                        match Pin::new(f).poll(&mut cx) {
                            Poll::Ready(r) => {
                                tally(r);
                                pending.pop_front();
                            }
                            Poll::Pending => break,
                        }
                    }
                }
                if i % yield_every == yield_every - 1 {
                    tokio::task::yield_now().await;
                }
            }
            producer.flush().await;
            for f in pending {
                tally(f.await);
            }
        }
    }
    let elapsed = t0.elapsed();
    let phase_cpu = cpu() - cpu0;
    producer.close_timeout(Duration::from_secs(30)).await.ok();
    print_result(ok, ok * w.size as u64, elapsed, phase_cpu, errors + (w.records - ok - errors), None);
    Ok(())
}

async fn consume(w: &Workload) -> Result<(), kafka_client::Error> {
    let (fmin, fmax, pmax, fwait, mpr) = (
        w.fetch_min_bytes.to_string(),
        w.fetch_max_bytes.to_string(),
        w.max_partition_fetch_bytes.to_string(),
        w.fetch_max_wait_ms.to_string(),
        w.max_poll_records.to_string(),
    );
    let group = format!("{}-ours-{}", w.topic, std::process::id());
    let base = [
        ("bootstrap.servers", w.bootstrap.as_str()),
        ("group.id", group.as_str()),
        ("enable.auto.commit", "false"),
        ("auto.offset.reset", "earliest"),
        ("fetch.min.bytes", fmin.as_str()),
        ("fetch.max.bytes", fmax.as_str()),
        ("max.partition.fetch.bytes", pmax.as_str()),
        ("fetch.max.wait.ms", fwait.as_str()),
        ("check.crcs", if w.check_crcs { "true" } else { "false" }),
        ("max.poll.records", mpr.as_str()),
    ];
    let extra = w.extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let consumer = Consumer::from_properties(base.into_iter().chain(extra)).build()?;
    let partitions = w.partitions;

    let cpu0 = cpu();
    let t0 = Instant::now();
    consumer.assign((0..partitions).map(|p| TopicPartition::new(w.topic.as_str(), p)))?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut first: Option<Duration> = None;
    // BENCH_TRACE=1: report every gap of over 100 ms between records.
    let trace = std::env::var_os("BENCH_TRACE").is_some();
    let mut last = Instant::now();
    while n < w.records {
        let records = consumer.poll(Duration::from_secs(5)).await?;
        if trace && !records.is_empty() {
            let gap = last.elapsed();
            if gap > Duration::from_millis(100) {
                let parts: Vec<String> = records
                    .partitions()
                    .iter()
                    .map(|tp| format!("{}:{}", tp.partition, records.records(tp).len()))
                    .collect();
                eprintln!(
                    "ours: {:.3}s: {} ms without records after {n}; then {}",
                    t0.elapsed().as_secs_f64(),
                    gap.as_millis(),
                    parts.join(" ")
                );
            }
            last = Instant::now();
        }
        if records.is_empty() {
            eprintln!("ours: no record for 5 s after {n}");
        }
        if first.is_none() && !records.is_empty() {
            first = Some(t0.elapsed());
        }
        for r in records.iter() {
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
    }
    let elapsed = t0.elapsed();
    let phase_cpu = cpu() - cpu0;
    let _ = consumer.close_timeout(Duration::from_secs(5)).await;
    print_result(n, bytes, elapsed, phase_cpu, 0, first);
    Ok(())
}
