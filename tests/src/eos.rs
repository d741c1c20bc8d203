//! A consume-transform-produce worker for the exactly-once runs (the
//! seeded simulation on the testkit, `tests/tests/eos_schedules.rs`, and
//! the 3-node real Kafka run in `tests/tests/transactions.rs`): it reads
//! `input` in a group with read_committed, writes `out-<value>` for each
//! record to `output` and commits the group's offsets in the same
//! transaction, as an application following Java's guidance does:
//!
//! - an abortable error: the transaction is aborted, the consumer goes
//!   back to the committed offsets and the records are processed again;
//! - fenced, fatal, or a call that timed out: the producer is replaced by
//!   a new one with the same `transactional.id` (which fences the old one
//!   and completes what it left), then the same;
//! - on request (`zombie`), a successor starts while this producer holds
//!   an open transaction, and this one tries to commit: that must fail as
//!   fenced.
//!
//! [`violations`] checks what a read_committed reader found in `output`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_client::consumer::{Consumer, OffsetAndMetadata};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, TopicPartition, TransactionErrorKind};

/// Makes a producer for `(client name, transactional id)`.
pub type MakeProducer = Box<dyn Fn(&str, &str) -> Producer + Send + Sync>;
/// Makes a consumer for a client name (in the group, read_committed,
/// manual commits).
pub type MakeConsumer = Box<dyn Fn(&str) -> Consumer + Send + Sync>;

/// Builds the workers' clients.
pub struct Clients {
    pub producer: MakeProducer,
    pub consumer: MakeConsumer,
}

/// What the workers did.
#[derive(Default)]
pub struct Stats {
    pub committed: AtomicU64,
    pub aborted: AtomicU64,
    pub fenced_zombies: AtomicU64,
    pub restarts: AtomicU64,
    pub crashes: AtomicU64,
    /// A broken promise seen by a worker (a zombie's commit that succeeded).
    pub violations: Mutex<Vec<String>>,
    /// What each transaction held and how it ended, for a failure report.
    pub log: Mutex<Vec<String>>,
}

/// A running worker.
pub struct Worker {
    pub stop: Arc<AtomicBool>,
    pub zombie: Arc<AtomicBool>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Moves the consumer back to the group's committed offsets (or the start)
/// after a transaction did not commit, so its records are processed again.
pub async fn rewind(c: &Consumer) {
    let assigned: Vec<TopicPartition> = c.assignment().into_iter().collect();
    match c.committed(&assigned).await {
        Ok(committed) => {
            for (tp, o) in committed {
                let _ = c.seek(&tp, o.map_or(0, |o| o.offset));
            }
        }
        Err(_) => {
            for tp in &assigned {
                let _ = c.seek(tp, 0);
            }
        }
    }
}

/// Starts worker `k`: client name `worker-<k>-<incarnation>` for its
/// consumer and its producers alike (so a network fault on the name hits
/// the whole worker), transactional id
/// `eos-worker-<k>`. Each transaction takes 10–120 ms of processing, drawn
/// from `seed`.
pub fn start_worker(
    clients: Arc<Clients>,
    (input, output): (&'static str, &'static str),
    k: usize,
    incarnation: u64,
    seed: u64,
    stats: Arc<Stats>,
) -> Worker {
    let name = format!("worker-{k}-{incarnation}");
    let txn_id = format!("eos-worker-{k}");
    let consumer = (clients.consumer)(&name);
    let stop = Arc::new(AtomicBool::new(false));
    let zombie = Arc::new(AtomicBool::new(false));
    let (flag, make_zombie) = (stop.clone(), zombie.clone());
    let task = tokio::spawn(async move {
        let mut rng = seed | 1;
        let mut processing = move || {
            // xorshift: a worker's processing times repeat with the seed.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            Duration::from_millis(10 + rng % 110)
        };
        let fresh = || (clients.producer)(&name, &txn_id);
        let mut p = fresh();
        while p.init_transactions().await.is_err() {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            p = fresh();
        }
        if consumer.subscribe([input]).is_err() {
            return;
        }
        while !flag.load(Ordering::SeqCst) {
            let records = match consumer.poll(Duration::from_millis(50)).await {
                Ok(r) if !r.is_empty() => r,
                _ => continue,
            };
            let Some(meta) = consumer.group_metadata() else { return };
            let held: Vec<String> = records.iter().map(|r| format!("{}@{}", r.partition, r.offset)).collect();
            let outcome: Result<(), Error> = async {
                let txn = p.transaction().await?;
                let mut next: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
                for r in records.iter() {
                    let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
                    let out =
                        ProducerRecord::new(output).key(r.key.clone().unwrap_or_default()).value(format!("out-{v}"));
                    txn.send(out).await.map_err(|e| e.error)?;
                    next.insert(
                        TopicPartition::new(r.topic.as_ref(), r.partition),
                        OffsetAndMetadata::new(r.offset + 1),
                    );
                }
                tokio::time::sleep(processing()).await;
                txn.send_offsets(next, &meta).await?;
                if make_zombie.swap(false, Ordering::SeqCst) {
                    // A successor with this id takes over while this
                    // producer holds the open transaction: this one is now
                    // a zombie, whose commit must fail.
                    let successor = fresh();
                    if successor.init_transactions().await.is_ok() {
                        match txn.commit().await {
                            Ok(()) => stats.violations.lock().unwrap().push(format!("a zombie of {txn_id} committed")),
                            Err(e) if e.transaction_error_kind() == Some(TransactionErrorKind::Fenced) => {
                                stats.fenced_zombies.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {}
                        }
                        let old = std::mem::replace(&mut p, successor);
                        old.close_timeout(Duration::from_secs(1)).await.ok();
                        return Err(Error::IllegalState("replaced by a successor".into()));
                    }
                    successor.close_timeout(Duration::from_secs(1)).await.ok();
                }
                txn.commit().await
            }
            .await;
            stats.log.lock().unwrap().push(format!(
                "{name} generation {} [{}] -> {outcome:?}",
                meta.generation_id,
                held.join(" ")
            ));
            match outcome {
                Ok(()) => {
                    stats.committed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.aborted.fetch_add(1, Ordering::Relaxed);
                    let kind = e.transaction_error_kind();
                    if matches!(kind, Some(TransactionErrorKind::Fenced) | Some(TransactionErrorKind::Fatal))
                        || matches!(e, Error::Timeout { .. })
                    {
                        // This producer can do no more: a new one with the
                        // same id fences it and completes what it left.
                        stats.restarts.fetch_add(1, Ordering::Relaxed);
                        let old = std::mem::replace(&mut p, fresh());
                        old.close_timeout(Duration::from_secs(1)).await.ok();
                        while p.init_transactions().await.is_err() && !flag.load(Ordering::SeqCst) {
                            p = fresh();
                        }
                    } else if kind == Some(TransactionErrorKind::Abortable) {
                        // Transaction::commit began the abort; wait for it.
                        let _ = p.abort_transaction().await;
                    }
                    rewind(&consumer).await;
                }
            }
        }
        p.close_timeout(Duration::from_secs(5)).await.ok();
        consumer.close_timeout(Duration::from_secs(5)).await.ok();
    });
    Worker { stop, zombie, task }
}

/// What breaks exactly-once in `seen` (each output value and how often a
/// read_committed reader found it) for inputs `in-0..in-(records-1)`.
pub fn violations(seen: &BTreeMap<String, usize>, records: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..records {
        match seen.get(&format!("out-in-{i}")) {
            None => out.push(format!("in-{i} has no result")),
            Some(1) => {}
            Some(n) => out.push(format!("in-{i} has {n} results")),
        }
    }
    if seen.len() != records {
        out.push(format!("{} distinct results for {records} inputs", seen.len()));
    }
    out
}
