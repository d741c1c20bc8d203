//! The tables `kafka-transactions` prints, laid out as Kafka's
//! `TransactionsCommand` lays them out: a header row, then a row per item,
//! every cell padded to its column's widest and followed by a tab.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let t = table(&["A", "Bee"], &[vec!["long-cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        assert_eq!(t, "A        \tBee\t\nlong-cell\tx  \t\ny        \tz  \t\n");
    }
}
