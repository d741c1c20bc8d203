use bytes::Bytes;
use kafka_protocol::records::RecordSet;

use super::{T0, append_sized, batch, config, log};
use crate::log::{Log, LogConfig, LogError};

/// Batches of 3, 2, 1 and 4 records: offsets 0-2, 3-4, 5, 6-9.
fn four_batches() -> (Log, Vec<Bytes>) {
    let mut log = log(config());
    for n in [3usize, 2, 1, 4] {
        let ts: Vec<i64> = (0..n as i64).map(|i| T0 + i).collect();
        log.append_as_leader(batch(&ts), 0, None, T0).unwrap();
    }
    let stored = log.batches_from(0).map(|b| b.bytes().clone()).collect();
    (log, stored)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn fetch_inside_a_batch_returns_the_whole_batch() {
    let (log, b) = four_batches();
    let r = log.read(1, 1 << 20, 10, false).unwrap();
    assert_eq!(&r.records[..], &cat(&[&b[0], &b[1], &b[2], &b[3]])[..]);
    assert_eq!(r.whole_batches, 4);
    assert_eq!(r.whole_bytes, r.records.len());
    assert_eq!(r.next_offset, 10);
    assert!(!r.first_entry_incomplete);

    let r = log.read(4, 1 << 20, 10, false).unwrap();
    assert_eq!(&r.records[..], &cat(&[&b[1], &b[2], &b[3]])[..]);
}

#[test]
fn out_of_range_offsets() {
    let (mut log, _) = four_batches();
    let oor = |offset| LogError::OffsetOutOfRange { offset, log_start_offset: 0, log_end_offset: 10 };
    assert_eq!(log.read(11, 100, 10, false), Err(oor(11)));
    assert_eq!(log.read(-1, 100, 10, false), Err(oor(-1)));
    // The log end offset itself is in range, with nothing to return.
    let r = log.read(10, 100, 10, true).unwrap();
    assert!(r.records.is_empty());
    assert_eq!(r.next_offset, 10);

    log.delete_records_before(4, 10).unwrap();
    assert!(matches!(log.read(3, 100, 10, false), Err(LogError::OffsetOutOfRange { log_start_offset: 4, .. })));
    // At the log start, the batch holding it is returned from its start.
    let r = log.read(4, 1 << 20, 10, false).unwrap();
    assert_eq!(r.whole_batches, 3);
    assert_eq!(RecordSet::new(r.records).next().unwrap().unwrap(), {
        let first = log.batches_from(4).next().unwrap();
        kafka_protocol::records::RecordSetEntry::Batch(first.record_batch().clone())
    });
}

#[test]
fn max_bytes_stops_at_whole_batches_then_sends_a_partial_one() {
    let (log, b) = four_batches();
    let exact = b[0].len() + b[1].len();
    let r = log.read(0, exact, 10, false).unwrap();
    assert_eq!(&r.records[..], &cat(&[&b[0], &b[1]])[..]);
    assert_eq!((r.whole_batches, r.next_offset), (2, 5));

    let r = log.read(0, exact + 5, 10, false).unwrap();
    assert_eq!(r.records.len(), exact + 5);
    assert_eq!(r.whole_bytes, exact);
    assert_eq!(&r.records[exact..], &b[2][..5]);
    assert_eq!(r.next_offset, 5);
    // A client parses the whole batches and recognises the partial tail.
    let mut set = RecordSet::new(r.records.clone());
    assert_eq!(set.by_ref().count(), 2);
    assert!(set.ended_in_partial());
}

#[test]
fn min_one_returns_an_oversized_first_batch_whole() {
    let (log, b) = four_batches();
    let r = log.read(0, 10, 10, true).unwrap();
    assert_eq!(r.records, b[0]);
    assert_eq!((r.whole_batches, r.whole_bytes, r.next_offset), (1, b[0].len(), 3));
    assert!(!r.first_entry_incomplete);
    // The budget is the first batch's size: nothing of the next one.
    let r = log.read(0, 0, 10, true).unwrap();
    assert_eq!(r.records, b[0]);

    // Without min_one Kafka reads the first bytes of the batch and flags it.
    let r = log.read(0, 10, 10, false).unwrap();
    assert_eq!(&r.records[..], &b[0][..10]);
    assert_eq!((r.whole_batches, r.whole_bytes, r.next_offset), (0, 0, 0));
    assert!(r.first_entry_incomplete);
    let r = log.read(0, 0, 10, false).unwrap();
    assert!(r.records.is_empty());
}

#[test]
fn max_offset_hides_batches_at_or_past_the_high_watermark() {
    let (log, b) = four_batches();
    let r = log.read(0, 1 << 20, 5, false).unwrap();
    assert_eq!(&r.records[..], &cat(&[&b[0], &b[1]])[..]);
    // No partial batch past the high watermark either.
    let r = log.read(0, b[0].len() + b[1].len() + 5, 5, false).unwrap();
    assert_eq!(&r.records[..], &cat(&[&b[0], &b[1]])[..]);
    // A bound inside a batch hides that batch.
    let r = log.read(0, 1 << 20, 4, false).unwrap();
    assert_eq!(r.records, b[0]);
    // Fetching at or past the bound returns nothing, even with min_one.
    for offset in [5, 7] {
        let r = log.read(offset, 1 << 20, 5, true).unwrap();
        assert!(r.records.is_empty());
        assert_eq!(r.next_offset, offset);
    }
    let r = log.read(4, 1 << 20, 4, true).unwrap();
    assert!(r.records.is_empty());
}

#[test]
fn a_fetch_reads_one_segment() {
    let mut log = log(LogConfig { segment_bytes: 2000, ..config() });
    append_sized(&mut log, 6, 1000, T0);
    assert_eq!(super::segment_bases(&log), vec![0, 2, 4]);
    let r = log.read(1, 1 << 20, 6, false).unwrap();
    assert_eq!((r.whole_batches, r.next_offset), (1, 2));
    let r = log.read(2, 1 << 20, 6, false).unwrap();
    assert_eq!((r.whole_batches, r.next_offset), (2, 4));
}

#[test]
fn a_single_batch_is_not_copied() {
    let (log, b) = four_batches();
    let r = log.read(3, b[1].len(), 10, false).unwrap();
    assert_eq!(r.records.as_ptr(), b[1].as_ptr());
    let r = log.read(0, 7, 10, false).unwrap();
    assert_eq!(r.records.as_ptr(), b[0].as_ptr());
}

#[test]
fn batches_from_starts_at_the_batch_holding_the_offset() {
    let mut log = log(LogConfig { segment_bytes: 2000, ..config() });
    append_sized(&mut log, 6, 1000, T0);
    let bases = |from| log.batches_from(from).map(|b| b.base_offset()).collect::<Vec<_>>();
    assert_eq!(bases(0), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(bases(3), vec![3, 4, 5]);
    assert_eq!(bases(6), Vec::<i64>::new());
    assert_eq!(bases(-5), vec![0, 1, 2, 3, 4, 5]);
}
