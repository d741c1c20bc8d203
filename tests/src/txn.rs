//! Helpers the transaction suites share (`tests/tests/transactions.rs`,
//! `tests/tests/transaction_admin.rs`).

use std::time::Duration;

use kafka_client::producer::{Producer, ProducerRecord};

/// A transactional producer for `transactional_id` that blocks at most
/// `max_block` in `send` and the transaction calls.
pub fn txn_producer(bootstrap: &str, transactional_id: &str, max_block: Duration) -> Producer {
    Producer::builder()
        .bootstrap_servers(bootstrap)
        .transactional_id(transactional_id)
        .max_block(max_block)
        .build()
        .expect("producer")
}

/// Sends `n` records `k<i>` → `<prefix>-<i>` to `topic` and waits until
/// all are delivered.
pub async fn send_all(p: &Producer, topic: &str, prefix: &str, n: usize) {
    let mut deliveries = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic).key(format!("k{i}")).value(format!("{prefix}-{i}"));
        deliveries.push(p.send(r).await.map_err(|e| e.error).expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
}
