use std::io::Write;
use std::path::Path;

use kafka_protocol::records::BatchBuilder;

use super::{Mirrored, TempDir, assert_disk_matches, assert_recovered_equals, closed_time_index, read};
use crate::log::tests::{T0, batch, config, sized_batch};
use crate::log::{Log, LogConfig};
use crate::storage::{
    INDEX_SUFFIX, LEADER_EPOCH_CHECKPOINT, LOG_SUFFIX, TIME_INDEX_SUFFIX, recover, segment_file_name,
};

fn recovery_config() -> LogConfig {
    LogConfig { segment_bytes: 5000, index_interval_bytes: 1500, ..config() }
}

/// Twelve 1000-byte batches, epochs 0, 0, 0, 1, 1, 1, ..., mirrored to disk:
/// segments at 0, 5 and 10.
fn mirrored(tmp: &TempDir) -> Mirrored {
    let mut m = Mirrored::new(tmp.path(), "t", recovery_config());
    for i in 0..12 {
        m.log.append_as_leader(sized_batch(1000, T0 + 100 * i), (i / 3) as i32, None, T0).unwrap();
    }
    m.sync();
    assert_eq!(m.log.segments().map(|s| s.base_offset()).collect::<Vec<_>>(), vec![0, 5, 10]);
    m
}

fn append_to(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// The log as it would be after dropping the batches from `offset` on.
fn expected_after_cut(original: &Log, offset: i64) -> Log {
    let mut expected = original.clone();
    expected.truncate_to(offset, T0).unwrap();
    expected
}

#[test]
fn a_torn_tail_is_cut_and_the_indexes_rebuilt() {
    let tmp = TempDir::new("torn");
    let m = mirrored(&tmp);
    let dir = m.dir.path().to_path_buf();
    let active_log = dir.join(segment_file_name(10, LOG_SUFFIX));
    // Half of the next batch, as a crash in the middle of a write leaves it.
    let mut next = sized_batch(1000, T0 + 5000);
    kafka_protocol::records::batch::set_base_offset(&mut next, 12);
    append_to(&active_log, &next[..500]);

    let recovered = recover(&dir, recovery_config(), T0 + 1).unwrap();
    assert_eq!(recovered.truncated_bytes, 500);
    assert!(recovered.deleted_segments.is_empty());
    assert_eq!(std::fs::metadata(&active_log).unwrap().len(), 2000);
    assert_recovered_equals(&m.log, &recovered.log);
    // Nothing was truncated before the crash, so the rebuilt indexes are
    // the live ones, with the active segment's time index closed.
    for (live, rebuilt) in m.log.segments().zip(recovered.log.segments()) {
        assert_eq!(rebuilt.offset_index(), live.offset_index());
        assert_eq!(rebuilt.time_index(), closed_time_index(live));
    }
    assert_disk_matches(&recovered.log, &dir);
    assert_eq!(recovered.dir.topic_id(), Some(super::TOPIC_ID));
}

#[test]
fn any_invalid_tail_is_cut() {
    let mut bad_crc = batch(&[T0]).to_vec();
    kafka_protocol::records::batch::set_base_offset(&mut bad_crc, 12);
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    let mut wrong_offset = batch(&[T0]).to_vec();
    kafka_protocol::records::batch::set_base_offset(&mut wrong_offset, 20);
    let mut negative_length = vec![0u8; 70];
    negative_length[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    let tails: [(&str, Vec<u8>); 6] = [
        ("a few bytes", vec![0; 5]),
        ("zeros", vec![0; 100]),
        ("ones", vec![0xff; 100]),
        ("bad crc", bad_crc),
        ("wrong base offset", wrong_offset),
        ("negative length", negative_length),
    ];
    for (what, tail) in tails {
        let tmp = TempDir::new("tails");
        let m = mirrored(&tmp);
        let dir = m.dir.path().to_path_buf();
        append_to(&dir.join(segment_file_name(10, LOG_SUFFIX)), &tail);
        let recovered = recover(&dir, recovery_config(), T0).unwrap();
        assert_eq!(recovered.truncated_bytes, tail.len() as u64, "{what}");
        assert_recovered_equals(&m.log, &recovered.log);
        assert_disk_matches(&recovered.log, &dir);
    }
}

#[test]
fn corruption_in_a_sealed_segment_drops_everything_after_it() {
    let tmp = TempDir::new("corrupt");
    let m = mirrored(&tmp);
    let dir = m.dir.path().to_path_buf();
    // Flip a byte inside the records of offset 1 (second batch of segment 0).
    let path = dir.join(segment_file_name(0, LOG_SUFFIX));
    let mut data = std::fs::read(&path).unwrap();
    data[1500] ^= 0x40;
    std::fs::write(&path, &data).unwrap();

    let recovered = recover(&dir, recovery_config(), T0).unwrap();
    assert_eq!(recovered.truncated_bytes, 4000);
    assert_eq!(recovered.deleted_segments, vec![5, 10]);
    assert_recovered_equals(&expected_after_cut(&m.log, 1), &recovered.log);
    assert_eq!(recovered.log.log_end_offset(), 1);
    assert_disk_matches(&recovered.log, &dir);
    assert_eq!(std::fs::read_to_string(dir.join(LEADER_EPOCH_CHECKPOINT)).unwrap(), "0\n1\n0 0\n");
}

#[test]
fn index_files_are_never_trusted() {
    let tmp = TempDir::new("junk-index");
    let m = mirrored(&tmp);
    let dir = m.dir.path().to_path_buf();
    std::fs::write(dir.join(segment_file_name(0, INDEX_SUFFIX)), [0xab; 24]).unwrap();
    std::fs::write(dir.join(segment_file_name(5, TIME_INDEX_SUFFIX)), [0x01; 7]).unwrap();
    std::fs::remove_file(dir.join(segment_file_name(10, INDEX_SUFFIX))).unwrap();
    // An index without its segment is removed.
    std::fs::write(dir.join(segment_file_name(99, INDEX_SUFFIX)), [0; 8]).unwrap();
    let recovered = recover(&dir, recovery_config(), T0).unwrap();
    assert_eq!(recovered.truncated_bytes, 0);
    assert_recovered_equals(&m.log, &recovered.log);
    assert_disk_matches(&recovered.log, &dir);
}

#[test]
fn recovery_after_truncation_deletion_and_retention() {
    let tmp = TempDir::new("after");
    let config = LogConfig { retention_ms: 1000, ..recovery_config() };
    let mut m = Mirrored::new(tmp.path(), "t", config);
    for i in 0..14 {
        m.log.append_as_leader(sized_batch(1000, T0 + 100 * i), (i / 3) as i32, None, T0).unwrap();
    }
    m.log.truncate_to(12, T0).unwrap();
    m.log.append_as_leader(batch(&[T0 + 5000]), 9, None, T0).unwrap();
    m.log.delete_records_before(7, 13).unwrap();
    // Segment 5's newest record is T0 + 900: not expired yet.
    assert_eq!(m.log.apply_retention(T0 + 1900, 13), 0);
    m.sync();
    m.checkpoint_log_start();
    let dir = m.dir.path().to_path_buf();

    let recovered = recover(&dir, config, T0).unwrap();
    assert_eq!(recovered.log.log_start_offset(), 7);
    assert_recovered_equals(&m.log, &recovered.log);
    assert_disk_matches(&recovered.log, &dir);
    assert_eq!(recovered.dir.log_start_offset(), Some(7));

    // Without the log directory's checkpoint the log starts at its first
    // segment.
    std::fs::remove_file(tmp.path().join("log-start-offset-checkpoint")).unwrap();
    let recovered = recover(&dir, config, T0).unwrap();
    assert_eq!(recovered.log.log_start_offset(), 5);

    // Retention after recovery, and recovery again.
    let mut log = recovered.log;
    let mut pdir = recovered.dir;
    assert_eq!(log.apply_retention(T0 + 2000, 13), 1);
    pdir.apply_all(&log.take_storage_ops()).unwrap();
    pdir.flush().unwrap();
    assert_disk_matches(&log, &dir);
    let again = recover(&dir, config, T0).unwrap();
    assert_eq!(again.log.log_start_offset(), 10);
    assert_recovered_equals(&log, &again.log);
}

#[test]
fn a_recovered_log_keeps_mirroring() {
    let tmp = TempDir::new("continue");
    let m = mirrored(&tmp);
    let dir = m.dir.path().to_path_buf();
    let mut r = recover(&dir, recovery_config(), T0).unwrap();
    for i in 0..4 {
        r.log.append_as_leader(sized_batch(1000, T0 + 10_000 + i), 7, None, T0).unwrap();
    }
    r.dir.apply_all(&r.log.take_storage_ops()).unwrap();
    r.dir.flush().unwrap();
    assert_disk_matches(&r.log, &dir);
    let again = recover(&dir, recovery_config(), T0).unwrap();
    assert_recovered_equals(&r.log, &again.log);
}

#[test]
fn the_epoch_cache_is_derived_when_its_checkpoint_is_missing() {
    let tmp = TempDir::new("epochs");
    let m = mirrored(&tmp);
    let dir = m.dir.path().to_path_buf();
    std::fs::remove_file(dir.join(LEADER_EPOCH_CHECKPOINT)).unwrap();
    let recovered = recover(&dir, recovery_config(), T0).unwrap();
    assert_eq!(recovered.log.leader_epoch_cache(), m.log.leader_epoch_cache());
    assert_eq!(std::fs::read_to_string(dir.join(LEADER_EPOCH_CHECKPOINT)).unwrap(), "0\n4\n0 0\n1 3\n2 6\n3 9\n");
}

#[test]
fn epochs_past_the_recovered_end_are_dropped() {
    let tmp = TempDir::new("epochs-cut");
    let m = mirrored(&tmp);
    let dir = m.dir.path().to_path_buf();
    // Lose the last two batches (offsets 10 and 11, epoch 3) to a crash.
    let active = dir.join(segment_file_name(10, LOG_SUFFIX));
    std::fs::OpenOptions::new().write(true).open(&active).unwrap().set_len(0).unwrap();
    let recovered = recover(&dir, recovery_config(), T0).unwrap();
    assert_eq!(recovered.log.log_end_offset(), 10);
    assert_eq!(recovered.log.latest_epoch(), Some(3));
    assert_eq!(recovered.log.end_offset_for_epoch(3), (3, 10));
    assert_recovered_equals(&expected_after_cut(&m.log, 10), &recovered.log);

    let active_gone = TempDir::new("epochs-cut2");
    let m = mirrored(&active_gone);
    let dir = m.dir.path().to_path_buf();
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(segment_file_name(5, LOG_SUFFIX)))
        .unwrap()
        .set_len(2500)
        .unwrap();
    let recovered = recover(&dir, recovery_config(), T0).unwrap();
    assert_eq!(recovered.truncated_bytes, 500);
    assert_eq!(recovered.deleted_segments, vec![10]);
    assert_recovered_equals(&expected_after_cut(&m.log, 7), &recovered.log);
    assert_eq!(std::fs::read_to_string(dir.join(LEADER_EPOCH_CHECKPOINT)).unwrap(), "0\n3\n0 0\n1 3\n2 6\n");
}

#[test]
fn a_log_start_past_the_data_restarts_the_log_there() {
    let tmp = TempDir::new("restart");
    let mut m = mirrored(&tmp);
    m.log.delete_records_before(12, 12).unwrap();
    m.sync();
    m.checkpoint_log_start();
    let dir = m.dir.path().to_path_buf();
    // The crash lost the active segment's data, but not the checkpoint.
    std::fs::write(dir.join(segment_file_name(10, LOG_SUFFIX)), b"").unwrap();
    let recovered = recover(&dir, recovery_config(), T0).unwrap();
    let log = &recovered.log;
    assert_eq!((log.log_start_offset(), log.log_end_offset(), log.size_bytes()), (12, 12, 0));
    assert_eq!(recovered.deleted_segments, vec![10]);
    assert!(log.leader_epoch_cache().is_empty());
    assert_disk_matches(log, &dir);
    log.check_invariants();
}

#[test]
fn an_empty_directory_recovers_to_an_empty_log() {
    let tmp = TempDir::new("empty");
    let dir = tmp.path().join("t-3");
    std::fs::create_dir_all(&dir).unwrap();
    let recovered = recover(&dir, config(), T0).unwrap();
    assert_eq!((recovered.log.log_start_offset(), recovered.log.log_end_offset()), (0, 0));
    assert_eq!(recovered.dir.topic_id(), None);
    assert_disk_matches(&recovered.log, &dir);
    let mut log = recovered.log;
    let mut b = BatchBuilder::new(kafka_protocol::Compression::None, None);
    b.append(T0, None, Some(b"v"), &[]);
    log.append_as_follower(b.finish().unwrap(), T0).unwrap();
    let mut pdir = recovered.dir;
    pdir.apply_all(&log.take_storage_ops()).unwrap();
    assert_eq!(read(&dir, 0, LOG_SUFFIX).len() as u64, log.size_bytes());
}

#[test]
fn the_epoch_checkpoint_is_trusted_over_the_batches() {
    // Raising the log start moves epoch 0 to offset 1; truncating to 1 then
    // drops it, although batch 0 (epoch 0) remains. Recovery keeps the
    // checkpoint's verdict rather than re-deriving the entry from batch 0.
    let tmp = TempDir::new("trusted");
    let mut m = Mirrored::new(tmp.path(), "t", config());
    for _ in 0..3 {
        m.log.append_as_leader(batch(&[T0]), 0, None, T0).unwrap();
    }
    m.log.delete_records_before(1, 3).unwrap();
    m.log.truncate_to(1, T0).unwrap();
    assert!(m.log.leader_epoch_cache().is_empty());
    m.sync();
    m.checkpoint_log_start();
    let recovered = recover(m.dir.path(), config(), T0).unwrap();
    assert!(recovered.log.leader_epoch_cache().is_empty());
    assert_eq!(recovered.log.log_start_offset(), 1);
}

#[test]
fn an_epoch_starting_at_the_log_end_does_not_survive_recovery() {
    // Deleting every record moves the latest epoch to the log end; Kafka's
    // loader cuts the cache at the log end, which drops that entry.
    let tmp = TempDir::new("epoch-at-end");
    let mut m = Mirrored::new(tmp.path(), "t", config());
    m.log.append_as_leader(batch(&[T0]), 0, None, T0).unwrap();
    m.log.append_as_leader(batch(&[T0]), 1, None, T0).unwrap();
    m.log.delete_records_before(2, 2).unwrap();
    assert_eq!(m.log.end_offset_for_epoch(1), (1, 2));
    m.sync();
    m.checkpoint_log_start();
    let recovered = recover(m.dir.path(), config(), T0).unwrap();
    assert!(recovered.log.leader_epoch_cache().is_empty());
    assert_eq!((recovered.log.log_start_offset(), recovered.log.log_end_offset()), (2, 2));
}
