use bytes::{Bytes, BytesMut};
use kafka_protocol::Compression;
use kafka_protocol::records::batch::{set_base_offset, set_partition_leader_epoch};
use kafka_protocol::records::{BatchBuilder, RecordBatch, TimestampType};

use super::{T0, batch, config, log, segment_bases, sized_batch};
use crate::log::{EpochEntry, Log, LogConfig, LogError, StorageOp};

#[test]
fn leader_append_assigns_offsets_and_stamps_in_place() {
    let mut log = log(config());
    let a = log.append_as_leader(batch(&[T0, T0 + 1, T0 + 2]), 5, None, T0).unwrap();
    let b = log.append_as_leader(batch(&[T0 + 3]), 5, None, T0).unwrap();
    let c = log.append_as_leader(batch(&[T0 + 4, T0 + 9]), 7, None, T0).unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 2));
    assert_eq!((b.base_offset, b.last_offset), (3, 3));
    assert_eq!((c.base_offset, c.last_offset), (4, 5));
    assert_eq!(c.max_timestamp, T0 + 9);
    assert_eq!(a.log_append_time, -1);
    assert_eq!(log.log_end_offset(), 6);

    let stored: Vec<_> = log.batches_from(0).collect();
    assert_eq!(stored.len(), 3);
    for (s, (base, epoch)) in stored.iter().zip([(0, 5), (3, 5), (4, 7)]) {
        let parsed = RecordBatch::new(s.bytes().clone()).unwrap();
        assert_eq!(parsed.header().base_offset, base);
        assert_eq!(parsed.header().partition_leader_epoch, epoch);
        parsed.verify_crc().unwrap();
        assert_eq!(s.leader_epoch(), epoch);
        assert_eq!(s.base_offset(), base);
    }
    let offsets: Vec<i64> = stored[2].record_batch().records(1 << 20).unwrap().map(|r| r.unwrap().offset).collect();
    assert_eq!(offsets, vec![4, 5]);
    assert_eq!(
        log.leader_epoch_cache().entries(),
        [EpochEntry { epoch: 5, start_offset: 0 }, EpochEntry { epoch: 7, start_offset: 4 }]
    );
}

#[test]
fn only_stamped_fields_change() {
    let mut log = log(config());
    log.append_as_leader(batch(&[T0]), 0, None, T0).unwrap();
    let original = batch(&[T0, T0 + 1]);
    log.append_as_leader(original.clone(), 3, None, T0).unwrap();
    let stored = log.batches_from(1).next().unwrap().bytes().clone();
    let mut expected = original;
    set_base_offset(&mut expected, 1);
    set_partition_leader_epoch(&mut expected, 3);
    assert_eq!(stored, expected.freeze());
}

#[test]
fn log_append_time_rewrites_max_timestamp_and_crc() {
    let mut log = log(config());
    let append_time = T0 + 60_000;
    let info = log.append_as_leader(batch(&[T0, T0 + 5]), 1, Some(append_time), T0).unwrap();
    assert_eq!(info.log_append_time, append_time);
    assert_eq!(info.max_timestamp, append_time);
    let stored = log.batches_from(0).next().unwrap();
    let rb = RecordBatch::new(stored.bytes().clone()).unwrap();
    rb.verify_crc().unwrap();
    assert_eq!(rb.header().timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(rb.header().max_timestamp, append_time);
    let timestamps: Vec<i64> = rb.records(1 << 20).unwrap().map(|r| r.unwrap().timestamp).collect();
    assert_eq!(timestamps, vec![append_time, append_time]);
}

#[test]
fn follower_copies_leader_bytes_and_learns_epochs() {
    let mut leader = log(config());
    leader.append_as_leader(batch(&[T0, T0]), 2, None, T0).unwrap();
    leader.append_as_leader(batch(&[T0]), 4, Some(T0 + 1), T0).unwrap();
    let mut follower = log(config());
    let shipped: Vec<Bytes> = leader.batches_from(0).map(|b| b.bytes().clone()).collect();
    let first = follower.append_as_follower(shipped[0].clone(), T0).unwrap();
    assert_eq!((first.base_offset, first.last_offset, first.log_append_time), (0, 1, -1));
    let second = follower.append_as_follower(shipped[1].clone(), T0).unwrap();
    assert_eq!(second.log_append_time, T0 + 1);
    assert_eq!(follower.log_end_offset(), 3);
    assert_eq!(follower.leader_epoch_cache(), leader.leader_epoch_cache());
    let copied: Vec<Bytes> = follower.batches_from(0).map(|b| b.bytes().clone()).collect();
    assert_eq!(copied, shipped);
    follower.check_invariants();
}

#[test]
fn follower_rejects_gaps_overlaps_and_corruption() {
    let mut follower = log(config());
    let mut b = BatchBuilder::new(Compression::None, None);
    b.append(T0, None, Some(b"v"), &[]);
    b.set_base_offset(5);
    let ahead = b.finish().unwrap();
    assert_eq!(
        follower.append_as_follower(ahead, T0),
        Err(LogError::UnexpectedAppendOffset { expected: 0, actual: 5 })
    );
    let mut corrupt = batch(&[T0]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    assert_eq!(follower.append_as_follower(corrupt.freeze(), T0), Err(LogError::CorruptBatch { base_offset: 0 }));
    assert_eq!(follower.log_end_offset(), 0);
    assert_eq!(follower.size_bytes(), 0);
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let mut log = log(config());
    for bytes in [&b""[..], &[0u8; 10], &[0u8; 61]] {
        assert!(matches!(log.append_as_leader(BytesMut::from(bytes), 0, None, T0), Err(LogError::InvalidBatch(_))));
        assert!(matches!(log.append_as_follower(Bytes::copy_from_slice(bytes), T0), Err(LogError::InvalidBatch(_))));
    }
    // A length field that disagrees with the buffer.
    let mut b = batch(&[T0]);
    b.extend_from_slice(b"trailing");
    assert!(matches!(log.append_as_leader(b, 0, None, T0), Err(LogError::InvalidBatch(_))));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn batch_larger_than_a_segment_is_refused() {
    let mut log = log(LogConfig { segment_bytes: 500, ..config() });
    let err = log.append_as_leader(sized_batch(501, T0), 0, None, T0).unwrap_err();
    assert_eq!(err, LogError::BatchTooLarge { size: 501, max: 500 });
    assert_eq!(err.error_code(), kafka_protocol::ErrorCode::RECORD_LIST_TOO_LARGE);
    log.append_as_leader(sized_batch(500, T0), 0, None, T0).unwrap();
}

#[test]
fn rolls_when_the_next_batch_would_pass_segment_bytes() {
    let mut log = log(LogConfig { segment_bytes: 3000, ..config() });
    for _ in 0..3 {
        log.append_as_leader(sized_batch(1000, T0), 0, None, T0).unwrap();
    }
    // 3000 bytes exactly fit.
    assert_eq!(segment_bases(&log), vec![0]);
    log.append_as_leader(sized_batch(1000, T0), 0, None, T0).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 3]);
    log.append_as_leader(sized_batch(1000, T0), 0, None, T0).unwrap();
    log.append_as_leader(sized_batch(1001, T0), 0, None, T0).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 3, 5]);
    assert_eq!(log.size_bytes(), 6001);
    log.check_invariants();
}

#[test]
fn rolls_by_segment_ms_on_record_time() {
    // Kafka measures the age by record timestamps when the first batch has
    // one: the clock does not matter.
    let mut log = log(LogConfig { segment_ms: 1000, ..config() });
    log.append_as_leader(batch(&[T0]), 0, None, T0).unwrap();
    log.append_as_leader(batch(&[T0 + 1000]), 0, None, T0 + 50_000).unwrap();
    assert_eq!(segment_bases(&log), vec![0]);
    log.append_as_leader(batch(&[T0 + 1001]), 0, None, T0).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
    // Timestamps going backwards never trigger it.
    log.append_as_leader(batch(&[T0 - 5000]), 0, None, T0 + 10_000_000).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
}

#[test]
fn rolls_by_segment_ms_on_the_clock_without_timestamps() {
    let mut log = Log::new(LogConfig { segment_ms: 1000, ..config() }, T0, false);
    log.append_as_leader(batch(&[-1]), 0, None, T0 + 10).unwrap();
    log.append_as_leader(batch(&[-1]), 0, None, T0 + 1000).unwrap();
    assert_eq!(segment_bases(&log), vec![0]);
    log.append_as_leader(batch(&[-1]), 0, None, T0 + 1001).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
    // The new segment's clock starts at its creation.
    log.append_as_leader(batch(&[-1]), 0, None, T0 + 2001).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2]);
    log.append_as_leader(batch(&[-1]), 0, None, T0 + 2002).unwrap();
    assert_eq!(segment_bases(&log), vec![0, 2, 4]);
}

#[test]
fn rolls_when_the_index_is_full() {
    // 24 bytes: three offset entries, two time entries with one kept free.
    let config = LogConfig { segment_index_bytes: 24, index_interval_bytes: 0, ..config() };
    let mut log = log(config);
    for i in 0..6 {
        log.append_as_leader(batch(&[T0 + i]), 0, None, T0).unwrap();
    }
    // The second batch of each segment adds the first index entries, which
    // leaves the time index full (its last slot is reserved for the entry
    // written on roll, which here repeats the last one and is skipped).
    assert_eq!(segment_bases(&log), vec![0, 2, 4]);
    let first = log.segments().next().unwrap();
    assert_eq!(first.offset_index().len(), 1);
    assert_eq!(first.time_index().len(), 1);
    log.check_invariants();
}

#[test]
fn records_storage_ops_in_order() {
    let mut log = Log::new(LogConfig { segment_bytes: 1500, ..config() }, T0, true);
    log.append_as_leader(sized_batch(1000, T0), 3, None, T0).unwrap();
    log.append_as_leader(sized_batch(1000, T0 + 1), 3, None, T0).unwrap();
    let ops = log.take_storage_ops();
    let kinds: Vec<String> = ops
        .iter()
        .map(|op| match op {
            StorageOp::SegmentCreated { base_offset } => format!("create {base_offset}"),
            StorageOp::BatchAppended { segment, position, bytes } => {
                format!("append {segment}@{position}+{}", bytes.len())
            }
            StorageOp::EpochCheckpoint { entries } => format!("epochs {}", entries.len()),
            StorageOp::TimeIndexAppended { segment, entry } => {
                format!("time {segment} {} {}", entry.timestamp - T0, entry.relative_offset)
            }
            StorageOp::ProducerSnapshotWritten { offset, bytes } => format!("snapshot {offset} {}", bytes.len()),
            other => format!("{other:?}"),
        })
        .collect();
    // The roll snapshots the (empty) producer state at the new base, as
    // Kafka does.
    assert_eq!(
        kinds,
        vec!["create 0", "epochs 1", "append 0@0+1000", "time 0 0 0", "snapshot 1 10", "create 1", "append 1@0+1000",]
    );
    assert!(log.take_storage_ops().is_empty());
    let mut quiet = Log::new(config(), T0, false);
    quiet.append_as_leader(batch(&[T0]), 0, None, T0).unwrap();
    assert!(quiet.take_storage_ops().is_empty());
}

#[test]
fn a_new_leader_assigns_its_epoch_at_the_log_end() {
    let mut log = Log::new(config(), T0, true);
    log.append_as_leader(batch(&[T0, T0]), 1, None, T0).unwrap();
    log.take_storage_ops();
    assert!(log.assign_epoch(4, 2));
    assert_eq!(log.end_offset_for_epoch(4), (4, 2));
    assert_eq!(log.end_offset_for_epoch(1), (1, 2));
    assert_eq!(
        log.take_storage_ops(),
        vec![StorageOp::EpochCheckpoint {
            entries: vec![EpochEntry { epoch: 1, start_offset: 0 }, EpochEntry { epoch: 4, start_offset: 2 }]
        }]
    );
    // Appends in that epoch add nothing; an offset past the end is refused.
    log.append_as_leader(batch(&[T0]), 4, None, T0).unwrap();
    assert_eq!(log.leader_epoch_cache().entries().len(), 2);
    assert!(!log.assign_epoch(5, 10));
    assert!(!log.assign_epoch(4, 3));
}
