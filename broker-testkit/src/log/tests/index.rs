use super::{T0, append_sized, config, log, sized_batch};
use crate::log::{LogConfig, OffsetIndexEntry, TimeIndexEntry};

fn offset_entries(pairs: &[(i32, i32)]) -> Vec<OffsetIndexEntry> {
    pairs.iter().map(|&(relative_offset, position)| OffsetIndexEntry { relative_offset, position }).collect()
}

fn time_entries(pairs: &[(i64, i32)]) -> Vec<TimeIndexEntry> {
    pairs.iter().map(|&(timestamp, relative_offset)| TimeIndexEntry { timestamp, relative_offset }).collect()
}

#[test]
fn entries_follow_kafkas_rule_exactly() {
    // index.interval.bytes = 4096 and 1000-byte batches: the counter is
    // checked *before* a batch is counted and must *exceed* 4096, so the
    // first entry is for the sixth batch (5000 bytes counted before it),
    // and after the reset (which counts the indexed batch) every fifth.
    let mut log = log(LogConfig { index_interval_bytes: 4096, ..config() });
    append_sized(&mut log, 12, 1000, T0);
    let segment = log.active_segment();
    assert_eq!(segment.offset_index(), offset_entries(&[(5, 5000), (10, 10000)]));
    assert_eq!(segment.time_index(), time_entries(&[(T0 + 5, 5), (T0 + 10, 10)]));
}

#[test]
fn entries_name_the_last_offset_of_multi_record_batches() {
    let mut log = log(LogConfig { index_interval_bytes: 100, ..config() });
    let mut positions = vec![];
    for i in 0..4 {
        positions.push(log.size_bytes() as i32);
        log.append_as_leader(super::batch_with(kafka_protocol::Compression::None, &[T0 + i; 3], 40), 0, None, T0)
            .unwrap();
    }
    // Every batch is over 100 bytes, so each one after the first is indexed
    // by its last offset (3 records per batch).
    let segment = log.active_segment();
    assert_eq!(segment.offset_index(), offset_entries(&[(5, positions[1]), (8, positions[2]), (11, positions[3])]));
    assert_eq!(segment.time_index(), time_entries(&[(T0 + 1, 5), (T0 + 2, 8), (T0 + 3, 11)]));
}

#[test]
fn time_index_tracks_the_running_maximum() {
    let mut log = log(LogConfig { index_interval_bytes: 1500, ..config() });
    for ts in [100, 500, 300, 200, 900, 800, 700, 950] {
        log.append_as_leader(sized_batch(1000, T0 + ts), 0, None, T0).unwrap();
    }
    let segment = log.active_segment();
    assert_eq!(segment.offset_index(), offset_entries(&[(2, 2000), (4, 4000), (6, 6000)]));
    // At batch 6 the maximum (900) has not moved, so no time entry.
    assert_eq!(segment.time_index(), time_entries(&[(T0 + 500, 1), (T0 + 900, 4)]));
    assert_eq!(segment.max_timestamp_so_far().timestamp, T0 + 950);
    assert_eq!(segment.max_timestamp_so_far().offset, 7);

    // Rolling closes the time index with the segment's maximum.
    log.roll(T0);
    let sealed = log.segments().next().unwrap();
    assert_eq!(sealed.time_index(), time_entries(&[(T0 + 500, 1), (T0 + 900, 4), (T0 + 950, 7)]));
    assert_eq!(log.active_segment().base_offset(), 8);
}

#[test]
fn entries_are_relative_to_the_segment() {
    let mut log = log(LogConfig { index_interval_bytes: 1000, segment_bytes: 5000, ..config() });
    append_sized(&mut log, 8, 1000, T0);
    let segments: Vec<_> = log.segments().collect();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0].offset_index(), offset_entries(&[(2, 2000), (4, 4000)]));
    assert_eq!(segments[1].base_offset(), 5);
    assert_eq!(segments[1].offset_index(), offset_entries(&[(2, 2000)]));
    assert_eq!(segments[1].time_index(), time_entries(&[(T0 + 7, 2)]));
}

#[test]
fn truncation_cuts_entries_and_restarts_the_interval() {
    let mut log = log(LogConfig { index_interval_bytes: 1500, ..config() });
    append_sized(&mut log, 4, 1000, T0);
    assert_eq!(log.active_segment().offset_index(), offset_entries(&[(2, 2000)]));
    log.truncate_to(2, T0).unwrap();
    assert!(log.active_segment().offset_index().is_empty());
    assert!(log.active_segment().time_index().is_empty());

    let mut log = super::log(LogConfig { index_interval_bytes: 1500, ..config() });
    append_sized(&mut log, 4, 1000, T0);
    log.truncate_to(3, T0).unwrap();
    assert_eq!(log.active_segment().offset_index(), offset_entries(&[(2, 2000)]));
    // Kafka zeroes the byte counter on truncation, so the next entry comes
    // at batch 5, where a rebuild from the data would put it at batch 4.
    append_sized(&mut log, 3, 1000, T0 + 3);
    assert_eq!(log.active_segment().offset_index(), offset_entries(&[(2, 2000), (5, 5000)]));
}

#[test]
fn entry_bytes_are_big_endian() {
    let e = OffsetIndexEntry { relative_offset: 0x0102_0304, position: 0x0a0b_0c0d };
    assert_eq!(e.to_bytes(), [1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]);
    assert_eq!(OffsetIndexEntry::from_bytes(e.to_bytes()), e);
    let t = TimeIndexEntry { timestamp: 0x0102_0304_0506_0708, relative_offset: 9 };
    assert_eq!(t.to_bytes(), [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9]);
    assert_eq!(TimeIndexEntry::from_bytes(t.to_bytes()), t);
}
