//! The tables `kafka-transactions` prints, laid out as Kafka's
//! `TransactionsCommand` lays them out: a header row, then a row per item,
//! every cell padded to its column's widest and followed by a tab.

use std::collections::BTreeMap;

use kafka_client::TopicPartition;
use kafka_client::admin::{ProducerState, TransactionDescription, TransactionListing};

/// Kafka's `prettyPrintTable`: every cell, the last one included, padded
/// with spaces to its column's width, then a tab.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            out.push_str(&" ".repeat(widths[i].saturating_sub(cell.chars().count())));
            out.push('\t');
        }
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `list`: one row per transactional id, in the order listed.
pub fn list_table(listed: &[TransactionListing]) -> String {
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|t| {
            vec![
                t.transactional_id.clone(),
                t.coordinator_id.to_string(),
                t.producer_id.to_string(),
                t.state.to_string(),
            ]
        })
        .collect();
    table(&["TransactionalId", "Coordinator", "ProducerId", "TransactionState"], &rows)
}

/// `describe`: the id's one row; `now_ms` gives the transaction's duration.
pub fn describe_table(id: &str, d: &TransactionDescription, now_ms: i64) -> String {
    let (start, duration) = match d.transaction_start_time_ms {
        Some(t) => (t.to_string(), (now_ms - t).to_string()),
        None => ("None".to_string(), "None".to_string()),
    };
    let partitions: Vec<String> = d.topic_partitions.iter().map(ToString::to_string).collect();
    let row = vec![
        d.coordinator_id.to_string(),
        id.to_string(),
        d.producer_id.to_string(),
        d.producer_epoch.to_string(),
        d.state.to_string(),
        d.transaction_timeout_ms.to_string(),
        start,
        duration,
        partitions.join(","),
    ];
    table(
        &[
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ],
        &[row],
    )
}

/// `describe-producers`: one row per producer.
pub fn producers_table(producers: &[ProducerState]) -> String {
    let rows: Vec<Vec<String>> = producers
        .iter()
        .map(|p| {
            vec![
                p.producer_id.to_string(),
                p.producer_epoch.to_string(),
                p.coordinator_epoch.unwrap_or(-1).to_string(),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                p.current_transaction_start_offset.map_or_else(|| "None".to_string(), |o| o.to_string()),
            ]
        })
        .collect();
    table(
        &[
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ],
        &rows,
    )
}

/// A transaction a partition reports open: `find-hanging`'s unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTransaction {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// Its producer, as the partition's replica describes it.
    pub producer: ProducerState,
}

/// `find-hanging`'s candidates on one partition: the producers with a
/// transaction open whose last write is more than `max_timeout_ms` old (no
/// live transaction can run longer than the largest timeout allowed).
pub fn open_for_longer_than(
    tp: &TopicPartition,
    producers: &[ProducerState],
    now_ms: i64,
    max_timeout_ms: i64,
) -> Vec<OpenTransaction> {
    producers
        .iter()
        .filter(|p| p.current_transaction_start_offset.is_some() && now_ms - p.last_timestamp > max_timeout_ms)
        .map(|p| OpenTransaction { topic_partition: tp.clone(), producer: p.clone() })
        .collect()
}

/// The candidates the coordinators do not vouch for, as Kafka's tool
/// decides: a producer id no coordinator lists (`transactional_ids`:
/// producer id → transactional id), a transactional id no coordinator
/// knows (`descriptions` holds None for it), or a partition missing from
/// the transaction its coordinator describes. Grouped by producer id, in
/// ascending order (Kafka's tool goes by a hash map's order).
pub fn hanging(
    candidates: Vec<OpenTransaction>,
    transactional_ids: &BTreeMap<i64, String>,
    descriptions: &BTreeMap<String, Option<TransactionDescription>>,
) -> Vec<OpenTransaction> {
    let mut by_producer: BTreeMap<i64, Vec<OpenTransaction>> = BTreeMap::new();
    for c in candidates {
        by_producer.entry(c.producer.producer_id).or_default().push(c);
    }
    let mut out = Vec::new();
    for (pid, open) in by_producer {
        let described = transactional_ids.get(&pid).and_then(|id| descriptions.get(id)).and_then(Option::as_ref);
        match described {
            None => out.extend(open),
            Some(d) => out.extend(open.into_iter().filter(|t| !d.topic_partitions.contains(&t.topic_partition))),
        }
    }
    out
}

/// `find-hanging`: one row per hanging transaction; the duration is in
/// whole minutes since the producer's last write.
pub fn hanging_table(found: &[OpenTransaction], now_ms: i64) -> String {
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|t| {
            let p = &t.producer;
            vec![
                t.topic_partition.topic.to_string(),
                t.topic_partition.partition.to_string(),
                p.producer_id.to_string(),
                p.producer_epoch.to_string(),
                p.coordinator_epoch.unwrap_or(-1).to_string(),
                p.current_transaction_start_offset.unwrap_or(-1).to_string(),
                p.last_timestamp.to_string(),
                ((now_ms - p.last_timestamp) / 60_000).to_string(),
            ]
        })
        .collect();
    table(
        &[
            "Topic",
            "Partition",
            "ProducerId",
            "ProducerEpoch",
            "CoordinatorEpoch",
            "StartOffset",
            "LastTimestamp",
            "Duration(min)",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let t = table(&["A", "Bee"], &[vec!["long-cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        assert_eq!(t, "A        \tBee\t\nlong-cell\tx  \t\ny        \tz  \t\n");
    }

    fn producer(pid: i64, start: Option<i64>, last_timestamp: i64) -> ProducerState {
        ProducerState {
            producer_id: pid,
            producer_epoch: 2,
            last_sequence: 4,
            last_timestamp,
            coordinator_epoch: None,
            current_transaction_start_offset: start,
        }
    }

    #[test]
    fn candidates_are_open_transactions_older_than_the_timeout() {
        let tp = TopicPartition::new("t", 0);
        let producers = [producer(1, Some(5), 1_000), producer(2, None, 0), producer(3, Some(9), 60_000)];
        let found = open_for_longer_than(&tp, &producers, 61_000, 1_000);
        assert_eq!(found.iter().map(|t| t.producer.producer_id).collect::<Vec<_>>(), vec![1]);
        assert!(open_for_longer_than(&tp, &producers, 61_000, 60_000).is_empty(), "older, not as old");
    }

    #[test]
    fn the_coordinator_vouches_for_the_partitions_of_the_transaction_it_describes() {
        let open = |pid: i64, p: i32| OpenTransaction {
            topic_partition: TopicPartition::new("t", p),
            producer: producer(pid, Some(0), 0),
        };
        let description = |tps: &[i32]| TransactionDescription {
            coordinator_id: 1,
            state: kafka_client::admin::TransactionState::Ongoing,
            producer_id: 2,
            producer_epoch: 0,
            transaction_timeout_ms: 60_000,
            transaction_start_time_ms: Some(0),
            topic_partitions: tps.iter().map(|&p| TopicPartition::new("t", p)).collect(),
        };
        let ids = BTreeMap::from([(2, "known".to_string()), (3, "gone".to_string())]);
        let descriptions = BTreeMap::from([("known".to_string(), Some(description(&[0]))), ("gone".to_string(), None)]);
        let found = hanging(vec![open(3, 0), open(2, 0), open(2, 1), open(1, 0)], &ids, &descriptions);
        let keys: Vec<(i64, i32)> =
            found.iter().map(|t| (t.producer.producer_id, t.topic_partition.partition)).collect();
        assert_eq!(keys, vec![(1, 0), (2, 1), (3, 0)], "unlisted, not in the transaction, unknown id");
        let table = hanging_table(&found[..1], 3 * 60_000 + 59_999);
        assert_eq!(
            table,
            "Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)\t\n\
             t    \t0        \t1         \t2            \t-1              \t0          \t0            \t3            \t\n"
        );
    }
}
