use std::collections::BTreeMap;
use std::path::Path;

use super::{TOPIC_ID, TempDir};
use crate::log::EpochEntry;
use crate::storage::{
    StorageError, TopicPartition, parse_leader_epoch_checkpoint, parse_offset_checkpoint, parse_partition_metadata,
    read_high_watermarks, read_log_start_offsets, render_leader_epoch_checkpoint, render_partition_metadata,
    write_high_watermarks, write_log_start_offsets,
};

fn offsets(entries: &[(&str, i32, i64)]) -> BTreeMap<TopicPartition, i64> {
    entries.iter().map(|&(t, p, o)| (TopicPartition::new(t, p), o)).collect()
}

#[test]
fn offset_checkpoints_in_kafkas_format() {
    let tmp = TempDir::new("ckpt");
    let hw = offsets(&[("foo", 0, 5), ("bar", 1, 7), ("bar", 0, 3)]);
    write_high_watermarks(tmp.path(), &hw).unwrap();
    let text = std::fs::read_to_string(tmp.path().join("replication-offset-checkpoint")).unwrap();
    assert_eq!(text, "0\n3\nbar 0 3\nbar 1 7\nfoo 0 5\n");
    assert_eq!(read_high_watermarks(tmp.path()).unwrap(), hw);

    let starts = offsets(&[("my-topic", 12, 100)]);
    write_log_start_offsets(tmp.path(), &starts).unwrap();
    let text = std::fs::read_to_string(tmp.path().join("log-start-offset-checkpoint")).unwrap();
    assert_eq!(text, "0\n1\nmy-topic 12 100\n");
    assert_eq!(read_log_start_offsets(tmp.path()).unwrap(), starts);
    assert!(!tmp.path().join("log-start-offset-checkpoint.tmp").exists());

    write_log_start_offsets(tmp.path(), &BTreeMap::new()).unwrap();
    assert_eq!(std::fs::read_to_string(tmp.path().join("log-start-offset-checkpoint")).unwrap(), "0\n0\n");
    let empty = TempDir::new("ckpt-empty");
    assert!(read_high_watermarks(empty.path()).unwrap().is_empty());
}

#[test]
fn checkpoint_parsing_is_lenient_where_kafkas_is() {
    let path = Path::new("replication-offset-checkpoint");
    assert!(parse_offset_checkpoint("", path).unwrap().is_empty());
    assert!(parse_offset_checkpoint("0\n", path).unwrap().is_empty());
    assert_eq!(parse_offset_checkpoint("0\n1\nt  3\t9", path).unwrap(), offsets(&[("t", 3, 9)]));
}

#[test]
fn malformed_checkpoints_are_errors() {
    let path = Path::new("replication-offset-checkpoint");
    for (text, line) in [
        ("1\n0\n", 1),
        ("x\n", 1),
        ("0\nmany\n", 2),
        ("0\n2\nt 0 1\n", 2),
        ("0\n1\nt 0 1\nt 1 2\n", 2),
        ("0\n1\nt zero 1\n", 3),
        ("0\n1\nt 0\n", 3),
    ] {
        match parse_offset_checkpoint(text, path) {
            Err(StorageError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(parse_leader_epoch_checkpoint("0\n1\n1 2 3\n", path).is_err());
}

#[test]
fn leader_epoch_checkpoint_text() {
    let entries = [EpochEntry { epoch: 0, start_offset: 0 }, EpochEntry { epoch: 4, start_offset: 120 }];
    let text = render_leader_epoch_checkpoint(&entries);
    assert_eq!(text, "0\n2\n0 0\n4 120\n");
    assert_eq!(parse_leader_epoch_checkpoint(&text, Path::new("x")).unwrap(), entries);
    assert_eq!(render_leader_epoch_checkpoint(&[]), "0\n0\n");
}

#[test]
fn partition_metadata_text() {
    let text = render_partition_metadata(TOPIC_ID);
    assert_eq!(text, "version: 0\ntopic_id: ASNFZ4mrze_-3LqYdlQyEA");
    let path = Path::new("partition.metadata");
    assert_eq!(parse_partition_metadata(&text, path).unwrap(), TOPIC_ID);
    assert_eq!(parse_partition_metadata(&format!("{text}\n"), path).unwrap(), TOPIC_ID);
    assert!(parse_partition_metadata("version: 1\ntopic_id: ASNFZ4mrze_-3LqYdlQyEA", path).is_err());
    assert!(parse_partition_metadata("version: 0\n", path).is_err());
    assert!(parse_partition_metadata("version: 0\ntopic_id: nope", path).is_err());
}
