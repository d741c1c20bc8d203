//! Exactly-once consume-transform-produce with a transactional producer:
//! numbers are read from one topic in a consumer group, doubled, and
//! written to another; each transaction carries both the results and the
//! group's offsets, so a result is committed exactly when its input is
//! marked read.
//!
//! ```text
//! cargo run -p examples --bin transactions                                  # embedded cluster
//! cargo run -p examples --bin transactions -- --bootstrap-server 127.0.0.1:9092
//! ```
//!
//! So that there is something to read, it first writes the numbers 1–20.
//! The first transaction is aborted on purpose, as an application does when
//! processing fails: its results are never seen by `read_committed`
//! readers, the group's offsets stay where they were, and the worker reads
//! those inputs again. At the end it reads the output both ways and prints
//! the group's committed offsets.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use examples::cli::{self, Failure, Opt, Tool};
use examples::embedded::{BOOTSTRAP_OPT, Target};
use kafka_client::admin::Admin;
use kafka_client::consumer::{Consumer, IsolationLevel, OffsetAndMetadata, OffsetReset};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{TopicPartition, TransactionErrorKind};

const OPTS: &[Opt] = &[
    BOOTSTRAP_OPT,
    Opt::value("input", "topic", "The topic of numbers to read.").default("examples-numbers"),
    Opt::value("output", "topic", "The topic the doubled numbers go to.").default("examples-doubled"),
    Opt::value("group", "group id", "The consumer group of the worker.").default("examples-doubler"),
];

const TOOL: Tool = Tool {
    name: "transactions",
    about: "Exactly-once consume-transform-produce: reads numbers in a group, writes them doubled, and commits \
            results and offsets in one transaction (the first one is aborted on purpose).",
    opts: OPTS,
};

const NUMBERS: i64 = 20;
const PARTITIONS: i32 = 3;
/// How long the demo may take before it gives up.
const DEADLINE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        cli::runtime()?.block_on(async {
            let target = Target::from_args(&args).await?;
            let input = args.value("input").unwrap_or("examples-numbers").to_string();
            let output = args.value("output").unwrap_or("examples-doubled").to_string();
            let group = args.value("group").unwrap_or("examples-doubler").to_string();
            let outcome = run(&target, &input, &output, &group).await;
            target.shutdown().await;
            outcome.map(|()| ExitCode::SUCCESS)
        })
    })
}

async fn run(target: &Target, input: &str, output: &str, group: &str) -> Result<(), Failure> {
    let admin = Admin::builder().bootstrap_servers(&target.bootstrap).build()?;
    target.ensure_topic(&admin, input, PARTITIONS).await?;
    target.ensure_topic(&admin, output, PARTITIONS).await?;

    let seeder = Producer::builder().bootstrap_servers(&target.bootstrap).build()?;
    for n in 1..=NUMBERS {
        let record = ProducerRecord::new(input).key(format!("n{n}")).value(n.to_string());
        seeder.send(record).await.map_err(|e| e.error)?;
    }
    seeder.close().await?;
    println!("wrote the numbers 1-{NUMBERS} to {input}");

    let done = double(target, input, output, group).await;
    let read = done.and(read_back(target, output, group, &admin).await);
    admin.close().await?;
    read
}

/// The worker: each poll's records become one transaction.
async fn double(target: &Target, input: &str, output: &str, group: &str) -> Result<(), Failure> {
    let consumer = Consumer::builder()
        .bootstrap_servers(&target.bootstrap)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false) // the transactions commit the offsets
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()?;
    consumer.subscribe([input])?;
    let producer =
        Producer::builder().bootstrap_servers(&target.bootstrap).transactional_id("examples-doubler-1").build()?;
    // Fences any older producer with this transactional.id and completes
    // what it left open.
    producer.init_transactions().await?;

    let started = Instant::now();
    let mut processed = 0i64;
    let mut aborted_once = false;
    while processed < NUMBERS {
        if started.elapsed() > DEADLINE {
            return Err(Failure::new(format!("only {processed} of {NUMBERS} numbers were processed in {DEADLINE:?}")));
        }
        let records = consumer.poll(Duration::from_millis(200)).await?;
        if records.is_empty() {
            continue;
        }
        let Some(metadata) = consumer.group_metadata() else { continue };
        let txn = producer.transaction().await?;
        let mut next: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
        for r in records.iter() {
            let text = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
            let n: i64 = text.parse().map_err(|_| Failure::new(format!("not a number: {text:?}")))?;
            let doubled = ProducerRecord::new(output).key(r.key.clone().unwrap_or_default()).value((2 * n).to_string());
            txn.send(doubled).await.map_err(|e| e.error)?;
            next.insert(TopicPartition::new(r.topic.as_ref(), r.partition), OffsetAndMetadata::new(r.offset + 1));
        }
        txn.send_offsets(next, &metadata).await?;
        if !aborted_once {
            aborted_once = true;
            // Flushed first so its records reach the log and the abort
            // marker follows them (unsent ones would just be dropped).
            producer.flush().await;
            txn.abort().await?;
            println!(
                "aborted a transaction of {} results (as after a failed step); reading those inputs again",
                records.len()
            );
            rewind_to_committed(&consumer).await?;
            continue;
        }
        match txn.commit().await {
            Ok(()) => {
                processed += records.len() as i64;
                println!("committed {} results and their offsets ({processed} of {NUMBERS})", records.len());
            }
            // The transaction was aborted instead (the group rebalanced, a
            // record failed): read its inputs again.
            Err(e) if e.transaction_error_kind() == Some(TransactionErrorKind::Abortable) => {
                println!("a transaction was aborted ({e}); reading its inputs again");
                rewind_to_committed(&consumer).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    producer.close().await?;
    consumer.close().await?;
    Ok(())
}

/// Moves every assigned partition back to the group's committed offset.
async fn rewind_to_committed(consumer: &Consumer) -> Result<(), Failure> {
    let assigned: Vec<TopicPartition> = consumer.assignment().into_iter().collect();
    for (tp, committed) in consumer.committed(&assigned).await? {
        match committed {
            Some(o) => consumer.seek(&tp, o.offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(&tp))?,
        }
    }
    Ok(())
}

/// Reads `output` as a read_committed and a read_uncommitted consumer
/// would, and prints the group's offsets.
async fn read_back(target: &Target, output: &str, group: &str, admin: &Admin) -> Result<(), Failure> {
    let committed = read_all(target, output, IsolationLevel::ReadCommitted).await?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &committed {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    let once = counts.values().all(|&c| c == 1);
    println!(
        "read_committed reads {} results{}",
        committed.len(),
        if once { ", each once" } else { ", some more than once" }
    );
    let everything = read_all(target, output, IsolationLevel::ReadUncommitted).await?;
    println!("read_uncommitted also sees the {} aborted ones", everything.len() - committed.len());
    let offsets = admin.list_consumer_group_offsets(group, None).await?;
    let sum: i64 = offsets.values().filter_map(|o| o.as_ref().ok().cloned().flatten()).map(|o| o.offset).sum();
    println!("group {group} committed offsets covering {sum} of {NUMBERS} numbers");
    Ok(())
}

/// Every record of `topic`, read from the beginning until nothing new comes.
async fn read_all(target: &Target, topic: &str, isolation: IsolationLevel) -> Result<Vec<String>, Failure> {
    let reader = Consumer::builder()
        .bootstrap_servers(&target.bootstrap)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(isolation)
        .build()?;
    reader.assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))?;
    let ends = reader.end_offsets(&(0..PARTITIONS).map(|p| TopicPartition::new(topic, p)).collect::<Vec<_>>()).await?;
    let started = Instant::now();
    let mut values = Vec::new();
    loop {
        let records = reader.poll(Duration::from_millis(200)).await?;
        values.extend(
            records.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()),
        );
        let mut at_end = true;
        for (tp, end) in &ends {
            at_end &= reader.position(tp).await? >= *end;
        }
        if at_end {
            break;
        }
        if started.elapsed() > DEADLINE {
            return Err(Failure::new(format!("{topic} was not read to its end in {DEADLINE:?}")));
        }
    }
    reader.close().await?;
    Ok(values)
}
