//! Producing records with `kafka_client::producer`: keys and headers,
//! three ways to handle deliveries, then flush and close.
//!
//! ```text
//! cargo run -p examples --bin producer                                  # embedded cluster
//! cargo run -p examples --bin producer -- --bootstrap-server 127.0.0.1:9092 --topic orders
//! ```

use std::process::ExitCode;
use std::time::Duration;

use examples::cli::{self, Failure, Opt, Tool};
use examples::embedded::{BOOTSTRAP_OPT, Target};
use kafka_client::admin::Admin;
use kafka_client::producer::{Acks, Producer, ProducerRecord};

const OPTS: &[Opt] =
    &[BOOTSTRAP_OPT, Opt::value("topic", "topic", "The topic to write to.").default("examples-orders")];

const TOOL: Tool = Tool {
    name: "producer",
    about: "Sends keyed records with headers, awaits their deliveries, flushes and closes the producer.",
    opts: OPTS,
};

fn main() -> ExitCode {
    cli::run(&TOOL, |args| {
        cli::runtime()?.block_on(async {
            let target = Target::from_args(&args).await?;
            let topic = args.value("topic").unwrap_or("examples-orders").to_string();
            let outcome = produce(&target, &topic).await;
            target.shutdown().await;
            outcome.map(|()| ExitCode::SUCCESS)
        })
    })
}

async fn produce(target: &Target, topic: &str) -> Result<(), Failure> {
    let admin = Admin::builder().bootstrap_servers(&target.bootstrap).build()?;
    target.ensure_topic(&admin, topic, 3).await?;
    admin.close().await.ok();

    // acks=all with idempotence (the default): a record is acknowledged
    // once every in-sync replica has it, and retries never duplicate it.
    let producer = Producer::builder()
        .bootstrap_servers(&target.bootstrap)
        .client_id("producer-example")
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .build()?;

    // 1. One record at a time: send, then wait for its acknowledgement.
    //    Simple, but each record costs a round trip.
    let record = ProducerRecord::new(topic)
        .key("order-1")
        .value("{\"item\":\"book\",\"qty\":1}")
        .header("source", "producer-example")
        .header("schema", "order-v1");
    let written = producer.send_and_wait(record).await?;
    println!("order-1 written to {topic}-{} at offset {}", written.partition, written.offset);

    // 2. Pipelined: `send` returns as soon as the record is in a batch; the
    //    delivery future resolves when the broker has it. Keep the futures,
    //    await them later: batches fill and many requests are in flight.
    let mut deliveries = Vec::new();
    for i in 2..=6 {
        let key = format!("order-{i}");
        let record = ProducerRecord::new(topic).key(key.clone()).value(format!("{{\"item\":\"pen\",\"qty\":{i}}}"));
        deliveries.push((key, producer.send(record).await?));
    }
    for (key, delivery) in deliveries {
        // Each delivery has its own result: one failure does not hide others.
        match delivery.await {
            Ok(w) => println!("{key} written to {topic}-{} at offset {}", w.partition, w.offset),
            Err(e) => println!("{key} was not written: {e}"),
        }
    }

    // 3. Fire and forget, then flush: dropping a delivery future does not
    //    cancel the record; `flush` waits until every record sent so far
    //    has its outcome.
    for i in 7..=10 {
        producer.send(ProducerRecord::new(topic).key(format!("order-{i}")).value("{\"item\":\"ink\"}")).await?;
    }
    producer.flush().await;
    println!("orders 7-10 sent and flushed");

    // Records with the same key go to the same partition, so one order's
    // events stay in order.
    let a = producer.send_and_wait(ProducerRecord::new(topic).key("order-1").value("{\"status\":\"paid\"}")).await?;
    println!("order-1's next event landed in the same partition: {topic}-{}", a.partition);

    // `close` sends what is still buffered and waits for every result
    // (`close_timeout` bounds the wait).
    producer.close().await?;
    println!("producer closed");
    Ok(())
}
