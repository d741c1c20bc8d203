use kafka_protocol::Compression;

use super::{T0, batch, batch_with, config, log, segment_bases, sized_batch};
use crate::log::{LogConfig, TimestampAndOffset};

fn found(timestamp: i64, offset: i64, leader_epoch: i32) -> Option<TimestampAndOffset> {
    Some(TimestampAndOffset { timestamp, offset, leader_epoch: Some(leader_epoch) })
}

const CODECS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

#[test]
fn lookup_by_time_across_segments() {
    let mut log = log(LogConfig { segment_bytes: 2000, index_interval_bytes: 0, ..config() });
    for i in 0..7 {
        log.append_as_leader(sized_batch(1000, T0 + 10 * i), 4, None, T0).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 2, 4, 6]);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), found(T0, 0, 4));
    assert_eq!(log.offset_for_timestamp(T0).unwrap(), found(T0, 0, 4));
    assert_eq!(log.offset_for_timestamp(T0 + 25).unwrap(), found(T0 + 30, 3, 4));
    assert_eq!(log.offset_for_timestamp(T0 + 41).unwrap(), found(T0 + 50, 5, 4));
    assert_eq!(log.offset_for_timestamp(T0 + 60).unwrap(), found(T0 + 60, 6, 4));
    assert_eq!(log.offset_for_timestamp(T0 + 61).unwrap(), None);
}

#[test]
fn lookup_by_time_inside_compressed_batches() {
    for codec in CODECS {
        let mut log = log(config());
        log.append_as_leader(batch_with(codec, &[T0, T0], 20), 1, None, T0).unwrap();
        // Record timestamps out of order inside the batch: offsets 2..=5.
        log.append_as_leader(batch_with(codec, &[T0 + 1, T0 + 5, T0 + 3, T0 + 9], 20), 2, None, T0).unwrap();
        assert_eq!(log.offset_for_timestamp(T0 + 1).unwrap(), found(T0 + 1, 2, 2), "{codec:?}");
        // The first record in offset order that is recent enough, not the
        // closest timestamp.
        assert_eq!(log.offset_for_timestamp(T0 + 2).unwrap(), found(T0 + 5, 3, 2), "{codec:?}");
        assert_eq!(log.offset_for_timestamp(T0 + 6).unwrap(), found(T0 + 9, 5, 2), "{codec:?}");
        assert_eq!(log.offset_for_timestamp(T0 + 10).unwrap(), None, "{codec:?}");
    }
}

#[test]
fn lookup_by_time_in_log_append_time_batches() {
    let mut log = log(config());
    log.append_as_leader(batch(&[T0, T0 + 1]), 0, Some(T0 + 100), T0).unwrap();
    log.append_as_leader(batch(&[T0 + 2, T0 + 3, T0 + 4]), 0, Some(T0 + 200), T0).unwrap();
    // Every record of a LogAppendTime batch carries the append time.
    assert_eq!(log.offset_for_timestamp(T0 + 50).unwrap(), found(T0 + 100, 0, 0));
    assert_eq!(log.offset_for_timestamp(T0 + 101).unwrap(), found(T0 + 200, 2, 0));
    assert_eq!(log.offset_for_timestamp(T0 + 201).unwrap(), None);
}

#[test]
fn lookup_by_time_skips_records_below_the_log_start() {
    let mut log = log(config());
    log.append_as_leader(batch(&[T0, T0 + 1, T0 + 2, T0 + 3]), 0, None, T0).unwrap();
    log.delete_records_before(2, 4).unwrap();
    assert_eq!(log.offset_for_timestamp(T0).unwrap(), found(T0 + 2, 2, 0));
}

#[test]
fn lookup_without_a_leader_epoch() {
    let mut follower = log(config());
    let mut b = kafka_protocol::records::BatchBuilder::new(Compression::None, None);
    b.append(T0, None, Some(b"v"), &[]);
    follower.append_as_follower(b.finish().unwrap(), T0).unwrap();
    assert_eq!(
        follower.offset_for_timestamp(T0).unwrap(),
        Some(TimestampAndOffset { timestamp: T0, offset: 0, leader_epoch: None })
    );
}

#[test]
fn max_timestamp_is_the_first_record_carrying_it() {
    for codec in CODECS {
        let mut log = log(config());
        log.append_as_leader(batch_with(codec, &[T0 + 1, T0 + 2], 20), 3, None, T0).unwrap();
        log.append_as_leader(batch_with(codec, &[T0 + 1, T0 + 7, T0 + 7, T0 + 2], 20), 3, None, T0).unwrap();
        log.append_as_leader(batch_with(codec, &[T0 + 6], 20), 3, None, T0).unwrap();
        // Offset 3, not the batch's last offset 5 (Kafka < 3.8 answered that).
        assert_eq!(log.max_timestamp_offset().unwrap(), found(T0 + 7, 3, 3), "{codec:?}");
    }
}

#[test]
fn max_timestamp_across_segments() {
    let mut log = log(LogConfig { segment_bytes: 2000, index_interval_bytes: 0, ..config() });
    for ts in [5, 9, 2, 30, 30, 1, 30] {
        log.append_as_leader(sized_batch(1000, T0 + ts), 1, None, T0).unwrap();
    }
    assert_eq!(segment_bases(&log), vec![0, 2, 4, 6]);
    // The first segment holding the maximum wins, and in it the first batch.
    assert_eq!(log.max_timestamp_offset().unwrap(), found(T0 + 30, 3, 1));
}

#[test]
fn max_timestamp_of_log_append_time_batches_and_empty_logs() {
    let mut log = log(config());
    assert_eq!(log.max_timestamp_offset().unwrap(), None);
    log.append_as_leader(batch(&[T0 + 50]), 0, None, T0).unwrap();
    log.append_as_leader(batch(&[T0, T0, T0]), 0, Some(T0 + 100), T0).unwrap();
    assert_eq!(log.max_timestamp_offset().unwrap(), found(T0 + 100, 1, 0));
}

#[test]
fn indexed_lookups_agree_with_a_scan() {
    // With increasing timestamps the index-driven search must find what a
    // plain scan finds, wherever the index entries fall.
    for interval in [0, 1500, 4096] {
        let mut log = log(LogConfig { segment_bytes: 9000, index_interval_bytes: interval, ..config() });
        for i in 0..40i64 {
            let ts: Vec<i64> = (0..3).map(|j| T0 + 10 * i + 3 * j).collect();
            log.append_as_leader(batch_with(Compression::None, &ts, 300), 0, None, T0).unwrap();
        }
        assert!(log.segment_count() > 3);
        for target in (T0 - 5)..(T0 + 410) {
            let expected = log
                .batches_from(0)
                .flat_map(|b| b.record_batch().records(1 << 20).unwrap().map(|r| r.unwrap()))
                .find(|r| r.timestamp >= target)
                .map(|r| TimestampAndOffset { timestamp: r.timestamp, offset: r.offset, leader_epoch: Some(0) });
            assert_eq!(log.offset_for_timestamp(target).unwrap(), expected, "target {target} interval {interval}");
        }
    }
}
