use super::{T0, append_sized, batch, config, log, segment_bases};
use crate::log::{EpochEntry, Log, LogConfig, LogError, StorageOp};

/// Six 1000-byte batches, two per segment, epochs 1, 1, 2, 2, 3, 3.
fn three_segments(record_ops: bool) -> Log {
    let mut log = Log::new(LogConfig { segment_bytes: 2000, ..config() }, T0, record_ops);
    for (i, epoch) in [1, 1, 2, 2, 3, 3].into_iter().enumerate() {
        log.append_as_leader(super::sized_batch(1000, T0 + i as i64), epoch, None, T0).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 2, 4]);
    log
}

fn epochs(log: &Log) -> Vec<(i32, i64)> {
    log.leader_epoch_cache().entries().iter().map(|e| (e.epoch, e.start_offset)).collect()
}

#[test]
fn truncate_within_the_active_segment() {
    let mut log = three_segments(false);
    assert!(log.truncate_to(5, T0).unwrap());
    log.check_invariants();
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(segment_bases(&log), vec![0, 2, 4]);
    assert_eq!(log.size_bytes(), 5000);
    assert_eq!(epochs(&log), vec![(1, 0), (2, 2), (3, 4)]);
    // Appends continue at the new end.
    let info = log.append_as_leader(batch(&[T0]), 4, None, T0).unwrap();
    assert_eq!(info.base_offset, 5);
}

#[test]
fn truncate_inside_a_batch_drops_the_whole_batch() {
    let mut log = log(config());
    log.append_as_leader(batch(&[T0, T0, T0]), 0, None, T0).unwrap();
    log.append_as_leader(batch(&[T0, T0, T0]), 1, None, T0).unwrap();
    assert!(log.truncate_to(4, T0).unwrap());
    log.check_invariants();
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(epochs(&log), vec![(0, 0)]);
}

#[test]
fn truncate_into_an_earlier_segment() {
    let mut log = three_segments(true);
    log.take_storage_ops();
    assert!(log.truncate_to(3, T0 + 5).unwrap());
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![0, 2]);
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(epochs(&log), vec![(1, 0), (2, 2)]);
    let ops = log.take_storage_ops();
    assert_eq!(ops[0], StorageOp::SegmentDeleted { segment: 4 });
    // The time entry written when segment 2 was rolled named offset 3: gone.
    assert_eq!(
        ops[1],
        StorageOp::SegmentTruncated {
            segment: 2,
            log_bytes: 1000,
            offset_index_entries: 0,
            time_index_entries: 0,
            txn_index_entries: 0,
        }
    );
    assert_eq!(
        ops[2],
        StorageOp::EpochCheckpoint {
            entries: vec![EpochEntry { epoch: 1, start_offset: 0 }, EpochEntry { epoch: 2, start_offset: 2 }]
        }
    );
    // The truncated segment is active again and takes the next append.
    log.append_as_leader(batch(&[T0]), 2, None, T0).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
}

#[test]
fn truncate_to_a_segment_base_keeps_that_segment_empty() {
    let mut log = three_segments(false);
    log.truncate_to(4, T0).unwrap();
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![0, 2, 4]);
    assert!(log.active_segment().is_empty());

    let mut log = three_segments(false);
    log.truncate_to(2, T0).unwrap();
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![0, 2]);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(epochs(&log), vec![(1, 0)]);
}

#[test]
fn truncate_below_the_first_segment_starts_over() {
    let mut log = three_segments(false);
    log.delete_records_before(4, 6).unwrap();
    assert_eq!(segment_bases(&log), vec![4]);
    log.truncate_to(1, T0).unwrap();
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![1]);
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.size_bytes()), (1, 1, 0));
    assert!(log.leader_epoch_cache().is_empty());
}

#[test]
fn truncate_lowers_the_log_start_offset() {
    let mut log = three_segments(false);
    log.delete_records_before(5, 6).unwrap();
    log.truncate_to(4, T0).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (4, 4));
    log.check_invariants();
}

#[test]
fn truncate_past_the_end_or_below_zero() {
    let mut log = three_segments(false);
    assert!(!log.truncate_to(6, T0).unwrap());
    assert!(!log.truncate_to(100, T0).unwrap());
    assert_eq!(log.truncate_to(-1, T0), Err(LogError::NegativeTruncation(-1)));
    assert_eq!(log.log_end_offset(), 6);
}

#[test]
fn truncate_fully_and_start_at() {
    let mut log = log(config());
    append_sized(&mut log, 3, 1000, T0);
    log.truncate_fully_and_start_at(100, T0).unwrap();
    log.check_invariants();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (100, 100));
    let info = log.append_as_leader(batch(&[T0]), 9, None, T0).unwrap();
    assert_eq!(info.base_offset, 100);
    assert_eq!(epochs(&log), vec![(9, 100)]);
}
