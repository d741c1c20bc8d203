//! Tests of the on-disk layout, the op replay and recovery.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod checkpoints;
mod layout;
mod log_dir;
mod props;
mod recovery;
mod txn_index;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kafka_protocol::Uuid;

use crate::log::tests::T0;
use crate::log::{Log, LogConfig, Segment, TimeIndexEntry};
use crate::storage::{
    INDEX_SUFFIX, LOG_SUFFIX, PartitionDir, TIME_INDEX_SUFFIX, TopicPartition, segment_file_name,
    write_log_start_offsets,
};

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "testkit-log-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) const TOPIC_ID: Uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);

/// A mirrored log: the log recording ops and its partition directory.
pub(crate) struct Mirrored {
    pub(crate) log: Log,
    pub(crate) dir: PartitionDir,
}

impl Mirrored {
    pub(crate) fn new(log_dir: &Path, topic: &str, config: LogConfig) -> Self {
        let dir = PartitionDir::create(log_dir, topic, 0, Some(TOPIC_ID)).unwrap();
        let mut m = Mirrored { log: Log::new(config, T0, true), dir };
        m.sync();
        m
    }

    /// Applies the log's pending ops to the directory.
    pub(crate) fn sync(&mut self) {
        let ops = self.log.take_storage_ops();
        self.dir.apply_all(&ops).unwrap();
    }

    /// Writes the log start offset to the log directory's checkpoint, as
    /// the broker's periodic checkpointing would.
    pub(crate) fn checkpoint_log_start(&self) {
        let log_dir = self.dir.path().parent().unwrap();
        let tp = TopicPartition::new(self.dir.topic(), self.dir.partition());
        write_log_start_offsets(log_dir, &[(tp, self.log.log_start_offset())].into_iter().collect()).unwrap();
    }
}

pub(crate) fn read(dir: &Path, base: i64, suffix: &str) -> Vec<u8> {
    std::fs::read(dir.join(segment_file_name(base, suffix))).unwrap()
}

/// Asserts that the segment files in `dir` are exactly the log's.
pub(crate) fn assert_disk_matches(log: &Log, dir: &Path) {
    let mut expected_files = vec![];
    for segment in log.segments() {
        let base = segment.base_offset();
        let data: Vec<u8> = segment.batches().iter().flat_map(|b| b.bytes().to_vec()).collect();
        assert_eq!(read(dir, base, LOG_SUFFIX), data, "{base}.log");
        let index: Vec<u8> = segment.offset_index().iter().flat_map(|e| e.to_bytes()).collect();
        assert_eq!(read(dir, base, INDEX_SUFFIX), index, "{base}.index");
        let time_index: Vec<u8> = segment.time_index().iter().flat_map(|e| e.to_bytes()).collect();
        assert_eq!(read(dir, base, TIME_INDEX_SUFFIX), time_index, "{base}.timeindex");
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            expected_files.push(segment_file_name(base, suffix));
        }
        // The transaction index exists once an abort was indexed (a
        // truncation may leave it empty).
        let txn_index: Vec<u8> = segment.txn_index().iter().flat_map(|e| e.to_bytes()).collect();
        let txn_path = dir.join(segment_file_name(base, crate::storage::TXN_INDEX_SUFFIX));
        match std::fs::read(&txn_path) {
            Ok(bytes) => assert_eq!(bytes, txn_index, "{base}.txnindex"),
            Err(_) => assert!(txn_index.is_empty(), "{base}.txnindex missing"),
        }
    }
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(LOG_SUFFIX) || n.ends_with(INDEX_SUFFIX) || n.ends_with(TIME_INDEX_SUFFIX))
        .collect();
    files.sort();
    expected_files.sort();
    assert_eq!(files, expected_files);
    let epochs = crate::storage::read_leader_epoch_checkpoint(dir).unwrap().unwrap_or_default();
    assert_eq!(epochs, log.leader_epoch_cache().entries());
}

/// The time index a segment has once closed: recovery, like Kafka's, ends
/// every segment's time index with its largest timestamp, which a live
/// active segment does not have yet.
pub(crate) fn closed_time_index(segment: &Segment) -> Vec<TimeIndexEntry> {
    let mut entries = segment.time_index().to_vec();
    let max = segment.max_timestamp_so_far();
    if max.timestamp > entries.last().map_or(-1, |e| e.timestamp) {
        entries.push(TimeIndexEntry {
            timestamp: max.timestamp,
            relative_offset: (max.offset - segment.base_offset()) as i32,
        });
    }
    entries
}

/// Kafka's index rule replayed over a segment's batches from scratch: what
/// recovery must rebuild.
pub(crate) fn rebuilt_indexes(
    segment: &Segment,
    interval: u64,
) -> (Vec<crate::log::OffsetIndexEntry>, Vec<TimeIndexEntry>) {
    let base = segment.base_offset();
    let (mut offsets, mut times) = (vec![], vec![]);
    let (mut since, mut max_ts, mut max_off) = (0u64, -1i64, -1i64);
    for b in segment.batches() {
        if b.max_timestamp() > max_ts {
            (max_ts, max_off) = (b.max_timestamp(), b.last_offset());
        }
        if since > interval {
            offsets.push(crate::log::OffsetIndexEntry {
                relative_offset: (b.last_offset() - base) as i32,
                position: b.position() as i32,
            });
            if max_ts > times.last().map_or(-1, |e: &TimeIndexEntry| e.timestamp) {
                times.push(TimeIndexEntry { timestamp: max_ts, relative_offset: (max_off - base) as i32 });
            }
            since = 0;
        }
        since += b.size();
    }
    if max_ts > times.last().map_or(-1, |e| e.timestamp) {
        times.push(TimeIndexEntry { timestamp: max_ts, relative_offset: (max_off - base) as i32 });
    }
    (offsets, times)
}

/// Asserts that `recovered` holds the same data, offsets and epochs as
/// `original`, with the indexes a rebuild produces.
pub(crate) fn assert_recovered_equals(original: &Log, recovered: &Log) {
    assert_eq!(recovered.log_start_offset(), original.log_start_offset());
    assert_eq!(recovered.log_end_offset(), original.log_end_offset());
    // Kafka's loader cuts the cache at the log end, which drops an entry
    // that a rising log start moved to an empty log's end.
    let mut epochs = original.leader_epoch_cache().clone();
    epochs.truncate_from_end(original.log_end_offset());
    assert_eq!(recovered.leader_epoch_cache(), &epochs);
    let (a, b): (Vec<&Segment>, Vec<&Segment>) = (original.segments().collect(), recovered.segments().collect());
    assert_eq!(a.len(), b.len(), "segment count");
    let interval = original.config().index_interval_bytes;
    for (o, r) in a.iter().zip(&b) {
        assert_eq!(o.base_offset(), r.base_offset());
        assert_eq!(o.batches(), r.batches(), "batches of segment {}", o.base_offset());
        let (offsets, times) = rebuilt_indexes(o, interval);
        assert_eq!(r.offset_index(), offsets, "offset index of segment {}", o.base_offset());
        assert_eq!(r.time_index(), times, "time index of segment {}", o.base_offset());
        assert_eq!(r.txn_index(), o.txn_index(), "transaction index of segment {}", o.base_offset());
    }
    assert_eq!(recovered.producer_state(), original.producer_state(), "producer state");
    recovered.check_invariants();
}
