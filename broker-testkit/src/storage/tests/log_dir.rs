use std::collections::BTreeMap;

use super::{TOPIC_ID, TempDir, assert_disk_matches, assert_recovered_equals};
use crate::log::tests::{T0, config, sized_batch};
use crate::log::{Log, LogConfig};
use crate::storage::{LogDir, TopicPartition, read_high_watermarks};

#[test]
fn a_log_dir_mirrors_checkpoints_and_recovers_its_partitions() {
    let tmp = TempDir::new("logdir");
    let config = LogConfig { segment_bytes: 2000, ..config() };
    let mut log_dir = LogDir::open(tmp.path()).unwrap();
    let mut a = Log::new(config, T0, true);
    let mut b = Log::new(config, T0, true);
    for i in 0..5 {
        a.append_as_leader(sized_batch(1000, T0 + i), 0, None, T0).unwrap();
        b.append_as_leader(sized_batch(1000, T0 + i), 2, None, T0).unwrap();
    }
    // Log start 3 lies inside segment 2; b's stays at its first segment.
    a.delete_records_before(3, 5).unwrap();
    log_dir.apply("a", 0, Some(TOPIC_ID), &a.take_storage_ops()).unwrap();
    log_dir.apply("my-topic", 11, None, &b.take_storage_ops()).unwrap();
    let hw: BTreeMap<_, _> = [(TopicPartition::new("a", 0), 5), (TopicPartition::new("my-topic", 11), 4)].into();
    log_dir.write_checkpoints(&hw).unwrap();
    log_dir.flush().unwrap();

    let text = |name| std::fs::read_to_string(tmp.path().join(name)).unwrap();
    assert_eq!(text("log-start-offset-checkpoint"), "0\n1\na 0 3\n");
    assert_eq!(text("replication-offset-checkpoint"), "0\n2\na 0 5\nmy-topic 11 4\n");
    assert_disk_matches(&a, &tmp.path().join("a-0"));
    assert_disk_matches(&b, &tmp.path().join("my-topic-11"));
    assert_eq!(log_dir.partitions().count(), 2);

    // Things in the log directory that are not partitions stay untouched.
    std::fs::write(tmp.path().join("meta.properties"), "version=1\n").unwrap();
    std::fs::create_dir(tmp.path().join("no-partition-here")).unwrap();
    drop(log_dir);
    let (mut log_dir, logs) = LogDir::recover(tmp.path(), |_| config, T0).unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].topic_partition, TopicPartition::new("a", 0));
    assert_eq!(logs[0].topic_id, Some(TOPIC_ID));
    assert_eq!(logs[0].log.log_start_offset(), 3);
    assert_recovered_equals(&a, &logs[0].log);
    assert_eq!(logs[1].topic_partition, TopicPartition::new("my-topic", 11));
    assert_eq!(logs[1].topic_id, None);
    assert_recovered_equals(&b, &logs[1].log);
    assert_eq!(read_high_watermarks(tmp.path()).unwrap(), hw);
    assert_eq!(log_dir.partition("a", 0).unwrap().log_start_offset_to_checkpoint(), Some(3));

    // Recovered logs keep mirroring through the log directory.
    let mut a = logs.into_iter().next().unwrap().log;
    a.append_as_leader(sized_batch(1000, T0), 1, None, T0).unwrap();
    log_dir.apply("a", 0, None, &a.take_storage_ops()).unwrap();
    assert_disk_matches(&a, &tmp.path().join("a-0"));

    assert!(log_dir.delete_partition("my-topic", 11).unwrap());
    assert!(!log_dir.delete_partition("my-topic", 11).unwrap());
    assert!(!tmp.path().join("my-topic-11").exists());
    assert!(tmp.path().join("no-partition-here").exists());
}
