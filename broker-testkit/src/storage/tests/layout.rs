use bytes::Bytes;

use super::{Mirrored, TOPIC_ID, TempDir, assert_disk_matches, read};
use crate::log::tests::{T0, batch, config, sized_batch};
use crate::log::{LogConfig, StorageOp};
use crate::storage::{INDEX_SUFFIX, LOG_SUFFIX, PartitionDir, StorageError, TIME_INDEX_SUFFIX};

fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn files_are_named_and_formatted_like_kafkas() {
    let tmp = TempDir::new("layout");
    let config = LogConfig { segment_bytes: 3000, index_interval_bytes: 1500, ..config() };
    let mut m = Mirrored::new(tmp.path(), "orders", config);
    for (i, epoch) in [0, 0, 3, 3].into_iter().enumerate() {
        m.log.append_as_leader(sized_batch(1000, T0 + 10 * i as i64), epoch, None, T0).unwrap();
    }
    m.sync();
    let dir = tmp.path().join("orders-0");
    assert_eq!(m.dir.path(), dir);
    assert_eq!(
        file_names(&dir),
        vec![
            "00000000000000000000.index",
            "00000000000000000000.log",
            "00000000000000000000.timeindex",
            "00000000000000000003.index",
            "00000000000000000003.log",
            "00000000000000000003.snapshot",
            "00000000000000000003.timeindex",
            "leader-epoch-checkpoint",
            "partition.metadata",
        ]
    );

    // Batches exactly as stored: offsets stamped big-endian at the front.
    let stored: Vec<Bytes> = m.log.batches_from(0).map(|b| b.bytes().clone()).collect();
    assert_eq!(read(&dir, 0, LOG_SUFFIX), [&stored[0][..], &stored[1][..], &stored[2][..]].concat());
    assert_eq!(read(&dir, 0, LOG_SUFFIX)[1000..1008], 1i64.to_be_bytes());
    assert_eq!(read(&dir, 3, LOG_SUFFIX), stored[3]);

    // One entry each for the third batch: relative offset 2 at position
    // 2000, and its timestamp.
    assert_eq!(read(&dir, 0, INDEX_SUFFIX), [0, 0, 0, 2, 0, 0, 0x07, 0xd0]);
    let mut time_entry = (T0 + 20).to_be_bytes().to_vec();
    time_entry.extend_from_slice(&[0, 0, 0, 2]);
    assert_eq!(read(&dir, 0, TIME_INDEX_SUFFIX), time_entry);
    assert!(read(&dir, 3, INDEX_SUFFIX).is_empty());
    assert!(read(&dir, 3, TIME_INDEX_SUFFIX).is_empty());

    assert_eq!(std::fs::read_to_string(dir.join("leader-epoch-checkpoint")).unwrap(), "0\n2\n0 0\n3 2\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("partition.metadata")).unwrap(),
        format!("version: 0\ntopic_id: {TOPIC_ID}")
    );
    assert_eq!(TOPIC_ID.to_string().len(), 22);
    m.dir.flush().unwrap();
    m.dir.flush().unwrap();
    assert_disk_matches(&m.log, &dir);
}

#[test]
fn every_mutation_is_mirrored() {
    let tmp = TempDir::new("mirror");
    let config = LogConfig { segment_bytes: 2500, index_interval_bytes: 900, retention_ms: 60_000, ..config() };
    let mut m = Mirrored::new(tmp.path(), "t", config);
    let dir = m.dir.path().to_path_buf();
    for i in 0..12 {
        m.log.append_as_leader(sized_batch(1000, T0 + 1000 * i), (i / 4) as i32, None, T0).unwrap();
    }
    m.sync();
    assert_disk_matches(&m.log, &dir);

    m.log.truncate_to(9, T0).unwrap();
    m.sync();
    assert_disk_matches(&m.log, &dir);

    m.log.delete_records_before(5, 9).unwrap();
    m.sync();
    assert_disk_matches(&m.log, &dir);
    assert_eq!(m.dir.log_start_offset(), Some(5));

    m.log.append_as_leader(batch(&[T0 + 20_000]), 7, Some(T0 + 30_000), T0).unwrap();
    m.sync();
    assert_disk_matches(&m.log, &dir);

    assert!(m.log.apply_retention(T0 + 100_000, 10) > 0);
    m.sync();
    assert_disk_matches(&m.log, &dir);

    m.log.truncate_fully_and_start_at(50, T0).unwrap();
    m.sync();
    assert_disk_matches(&m.log, &dir);
    assert_eq!(m.dir.log_start_offset(), Some(50));
    m.dir.flush().unwrap();
}

#[test]
fn a_partition_directory_is_created_once() {
    let tmp = TempDir::new("create");
    let _m = Mirrored::new(tmp.path(), "t", config());
    let err = PartitionDir::create(tmp.path(), "t", 0, None).unwrap_err();
    assert!(matches!(err, StorageError::AlreadyExists(_)), "{err}");
    // Without a topic id there is no partition.metadata.
    let dir = PartitionDir::create(tmp.path(), "no-id", 7, None).unwrap();
    assert_eq!((dir.topic(), dir.partition(), dir.topic_id()), ("no-id", 7, None));
    assert!(!dir.path().join("partition.metadata").exists());
    let reopened = PartitionDir::open(&tmp.path().join("t-0")).unwrap();
    assert_eq!(reopened.topic_id(), Some(TOPIC_ID));
    assert!(matches!(PartitionDir::open(&tmp.path().join("nopartition")), Err(StorageError::NotAPartitionDir(_))));
}

#[test]
fn ops_out_of_step_with_the_files_are_refused() {
    let tmp = TempDir::new("step");
    let mut m = Mirrored::new(tmp.path(), "t", config());
    m.log.append_as_leader(batch(&[T0]), 0, None, T0).unwrap();
    m.sync();
    let stray = StorageOp::BatchAppended { segment: 0, position: 0, bytes: Bytes::from_static(b"xx") };
    assert!(matches!(m.dir.apply(&stray), Err(StorageError::OutOfStep { expected: 0, .. })));
    let unknown = StorageOp::BatchAppended { segment: 99, position: 0, bytes: Bytes::from_static(b"xx") };
    assert!(matches!(m.dir.apply(&unknown), Err(StorageError::Io { .. })));
}
