//! Consuming records with `kafka_client::consumer`: subscribing with a
//! rebalance listener that commits processed offsets on revocation,
//! committing manually, and reading through the `Stream` API.
//!
//! ```text
//! cargo run -p examples --bin consumer                                  # embedded cluster
//! cargo run -p examples --bin consumer -- --bootstrap-server 127.0.0.1:9092 --topic payments
//! ```
//!
//! So that it has something to read, it first writes a few records to the
//! topic, then reads them in a group and stops.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::cli::{self, Failure, Opt, Tool};
use examples::embedded::{BOOTSTRAP_OPT, Target};
use futures::StreamExt;
use futures::future::BoxFuture;
use kafka_client::TopicPartition;
use kafka_client::admin::Admin;
use kafka_client::consumer::{Consumer, OffsetAndMetadata, OffsetReset, RebalanceListener};
use kafka_client::producer::{Producer, ProducerRecord};

const OPTS: &[Opt] = &[
    BOOTSTRAP_OPT,
    Opt::value("topic", "topic", "The topic to read.").default("examples-payments"),
    Opt::value("group", "group id", "The consumer group.").default("examples-consumer"),
];

const TOOL: Tool = Tool {
    name: "consumer",
    about: "Writes a few records, then reads them in a consumer group: a rebalance listener commits on revoke, \
            offsets are committed manually, records come through the Stream API.",
    opts: OPTS,
};

const RECORDS: usize = 12;
/// Commit after this many records.
const COMMIT_EVERY: usize = 5;

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        cli::runtime()?.block_on(async {
            let target = Target::from_args(&args).await?;
            let topic = args.value("topic").unwrap_or("examples-payments").to_string();
            let group = args.value("group").unwrap_or("examples-consumer").to_string();
            let outcome = consume(&target, &topic, &group).await;
            target.shutdown().await;
            outcome.map(|()| ExitCode::SUCCESS)
        })
    })
}

/// What the application has finished with: per partition, the offset of
/// the next record to read (what a commit stores). Shared between the
/// processing loop and the rebalance listener.
type Processed = Arc<Mutex<BTreeMap<TopicPartition, OffsetAndMetadata>>>;

fn take_processed(processed: &Processed) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    std::mem::take(&mut *processed.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Before partitions move to another member, commit what was processed of
/// them, so the next owner starts right after it: no record is read twice
/// or skipped. The listener runs inside `poll`/`next`, between records,
/// while this consumer is still a member (so the commit is accepted).
struct CommitOnRevoke {
    processed: Processed,
}

impl RebalanceListener for CommitOnRevoke {
    fn on_partitions_revoked<'a>(&'a self, consumer: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let offsets = take_processed(&self.processed);
            if offsets.is_empty() {
                return;
            }
            match consumer.commit_offsets(offsets).await {
                Ok(()) => println!("revoked {parts:?}: committed the processed offsets first"),
                Err(e) => eprintln!("revoked {parts:?}: the commit failed: {e}"),
            }
        })
    }

    fn on_partitions_assigned<'a>(&'a self, _: &'a Consumer, parts: &'a [TopicPartition]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let names: Vec<String> = parts.iter().map(TopicPartition::to_string).collect();
            println!("assigned: {}", names.join(", "));
        })
    }
}

async fn seed(bootstrap: &str, topic: &str) -> Result<(), Failure> {
    let producer = Producer::builder().bootstrap_servers(bootstrap).linger(Duration::from_millis(5)).build()?;
    for i in 0..RECORDS {
        producer
            .send(ProducerRecord::new(topic).key(format!("account-{}", i % 4)).value(format!("payment {i}")))
            .await?;
    }
    producer.flush().await;
    producer.close_timeout(Duration::from_secs(5)).await.ok();
    println!("wrote {RECORDS} records to {topic}");
    Ok(())
}

async fn consume(target: &Target, topic: &str, group: &str) -> Result<(), Failure> {
    let admin = Admin::builder().bootstrap_servers(&target.bootstrap).build()?;
    target.ensure_topic(&admin, topic, 3).await?;
    admin.close().await.ok();
    seed(&target.bootstrap, topic).await?;

    let consumer = Consumer::builder()
        .bootstrap_servers(&target.bootstrap)
        .group_id(group)
        .client_id("consumer-example")
        // Where to start without a committed offset: the oldest record.
        .auto_offset_reset(OffsetReset::Earliest)
        // The application decides when offsets are committed.
        .enable_auto_commit(false)
        .build()?;
    let processed: Processed = Arc::default();
    consumer.subscribe_with([topic], CommitOnRevoke { processed: processed.clone() })?;

    // The stream hands out records one at a time; rebalances happen inside
    // `next()`, between records. It ends only when the consumer closes, so
    // stop after the seeded records or after a quiet second.
    let mut records = consumer.stream();
    let mut seen = 0;
    while seen < RECORDS {
        let next = match tokio::time::timeout(Duration::from_secs(10), records.next()).await {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(_) => {
                println!("no record for 10 s; stopping");
                break;
            }
        };
        let record = next?;
        seen += 1;
        let key = String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()).into_owned();
        let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        println!("{}-{}@{}: {key} = {value}", record.topic, record.partition, record.offset);
        // Done with this record: the next one to read is offset + 1. The
        // record's leader epoch lets a later reader detect a truncated log.
        let mut next_offset = OffsetAndMetadata::new(record.offset + 1).with_metadata("consumer-example");
        if let Some(epoch) = record.leader_epoch {
            next_offset = next_offset.with_leader_epoch(epoch);
        }
        processed.lock().unwrap_or_else(|e| e.into_inner()).insert(record.topic_partition(), next_offset);
        if seen % COMMIT_EVERY == 0 {
            let offsets = take_processed(&processed);
            consumer.commit_offsets(offsets).await?;
            println!("committed after {seen} records");
        }
    }
    drop(records);
    let rest = take_processed(&processed);
    if !rest.is_empty() {
        consumer.commit_offsets(rest).await?;
    }
    for tp in consumer.assignment() {
        if let Some(committed) = consumer.committed(std::slice::from_ref(&tp)).await?.remove(&tp).flatten() {
            println!("{tp}: committed offset {}", committed.offset);
        }
    }
    // Leaving the group lets its partitions move to other members at once.
    consumer.close().await?;
    println!("read {seen} records; consumer closed");
    Ok(())
}
