use super::{T0, append_sized, batch, config, log, segment_bases, sized_batch};
use crate::log::{Log, LogConfig, LogError};

/// Five segments of two 1000-byte batches; batch `i` has timestamp
/// `T0 + 1000 * i`.
fn five_segments(config: LogConfig) -> Log {
    let mut log = log(LogConfig { segment_bytes: 2000, ..config });
    for i in 0..10 {
        log.append_as_leader(sized_batch(1000, T0 + 1000 * i), (i / 2) as i32, None, T0).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 2, 4, 6, 8]);
    log
}

#[test]
fn delete_records_raises_the_log_start_and_drops_segments_below_it() {
    let mut log = five_segments(config());
    assert_eq!(log.delete_records_before(5, 10).unwrap(), 5);
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![4, 6, 8]);
    assert_eq!(log.log_start_offset(), 5);
    // Kafka keeps the epoch covering the new start, moved to it.
    let entries: Vec<_> = log.leader_epoch_cache().entries().iter().map(|e| (e.epoch, e.start_offset)).collect();
    assert_eq!(entries, vec![(2, 5), (3, 6), (4, 8)]);
    // Lower offsets change nothing.
    assert_eq!(log.delete_records_before(3, 10).unwrap(), 5);
    assert_eq!(log.log_start_offset(), 5);
}

#[test]
fn delete_records_is_bounded_by_the_high_watermark() {
    let mut log = five_segments(config());
    let err = log.delete_records_before(8, 7).unwrap_err();
    assert_eq!(err, LogError::DeleteBeyondHighWatermark { offset: 8, high_watermark: 7 });
    assert_eq!(err.error_code(), kafka_protocol::ErrorCode::OFFSET_OUT_OF_RANGE);
    assert!(log.delete_records_before(11, 100).is_err());
    assert!(log.delete_records_before(-1, 10).is_err());
    assert_eq!(log.log_start_offset(), 0);
    // Up to the log end: the active segment stays, wholly below the start.
    assert_eq!(log.delete_records_before(10, 10).unwrap(), 10);
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![8]);
    assert_eq!(log.size_bytes(), 2000);
    assert!(log.read(9, 100, 10, true).is_err());
    assert!(log.read(10, 100, 10, true).unwrap().records.is_empty());
}

#[test]
fn time_retention_deletes_expired_segments() {
    let mut log = five_segments(LogConfig { retention_ms: 10_000, ..config() });
    // Segment 0's newest record is T0 + 1000; segment 1's T0 + 3000.
    assert_eq!(log.apply_retention(T0 + 11_000, 10), 0);
    assert_eq!(log.apply_retention(T0 + 11_001, 10), 1);
    assert_eq!(segment_bases(&log), vec![2, 4, 6, 8]);
    assert_eq!(log.log_start_offset(), 2);
    assert_eq!(log.apply_retention(T0 + 15_001, 10), 2);
    assert_eq!(segment_bases(&log), vec![6, 8]);
    log.check_invariants();
}

#[test]
fn retention_stops_at_the_high_watermark() {
    let mut log = five_segments(LogConfig { retention_ms: 10, ..config() });
    // Only segments ending at or below the high watermark may go.
    assert_eq!(log.apply_retention(T0 + 1_000_000, 5), 2);
    assert_eq!(segment_bases(&log), vec![4, 6, 8]);
    assert_eq!(log.log_start_offset(), 4);
}

#[test]
fn an_expired_active_segment_is_rolled_and_deleted() {
    let mut log = five_segments(LogConfig { retention_ms: 10, ..config() });
    assert_eq!(log.apply_retention(T0 + 1_000_000, 10), 5);
    log.check_invariants();
    assert_eq!(segment_bases(&log), vec![10]);
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.size_bytes()), (10, 10, 0));
    assert!(log.active_segment().is_empty());
    // The empty active segment is never deleted.
    assert_eq!(log.apply_retention(T0 + 2_000_000, 10), 0);
    let info = log.append_as_leader(batch(&[T0]), 7, None, T0).unwrap();
    assert_eq!(info.base_offset, 10);
}

#[test]
fn size_retention_deletes_the_oldest_segments() {
    let mut log = five_segments(LogConfig { retention_bytes: 5000, ..config() });
    // 10000 bytes: deleting two segments leaves 6000, a third would leave
    // 4000 < 5000.
    assert_eq!(log.apply_retention(T0, 10), 2);
    assert_eq!(segment_bases(&log), vec![4, 6, 8]);
    assert_eq!(log.apply_retention(T0, 10), 0);
    log.set_config(LogConfig { retention_bytes: 4000, segment_bytes: 2000, ..config() });
    assert_eq!(log.apply_retention(T0, 10), 1);
    assert_eq!(log.size_bytes(), 4000);
    // Down to zero bytes everything goes, the active segment included.
    log.set_config(LogConfig { retention_bytes: 0, segment_bytes: 2000, ..config() });
    assert_eq!(log.apply_retention(T0, 10), 2);
    assert_eq!((segment_bases(&log), log.log_start_offset(), log.log_end_offset()), (vec![10], 10, 10));
    log.check_invariants();
}

#[test]
fn segments_without_timestamps_age_by_their_last_write() {
    let mut log = log(LogConfig { segment_bytes: 2000, retention_ms: 100, ..config() });
    for i in 0..4 {
        log.append_as_leader(batch(&[-1]), 0, None, T0 + i).unwrap();
        log.roll(T0 + i);
    }
    assert_eq!(log.apply_retention(T0 + 101, 4), 1);
    assert_eq!(log.apply_retention(T0 + 103, 4), 2);
    assert_eq!(segment_bases(&log), vec![3, 4]);
}

#[test]
fn start_offset_breach_runs_in_retention_too() {
    // A log restored with a log start offset beyond its first segment (as
    // recovery does) loses those segments on the next retention pass.
    let mut log = five_segments(config());
    log.maybe_increment_log_start_offset(7);
    assert_eq!(log.apply_retention(T0, 10), 3);
    assert_eq!(segment_bases(&log), vec![6, 8]);
    append_sized(&mut log, 1, 1000, T0);
}
