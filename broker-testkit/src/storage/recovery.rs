//! Rebuilding a log from its partition directory.
//!
//! Every segment is recovered, as Kafka does after an unclean shutdown
//! (Kafka skips the segments below its recovery point after a clean one;
//! for a test broker the difference is only time). Index files are never
//! trusted: they are rebuilt from the batches and rewritten. The
//! transaction index is rebuilt too; an entry on disk is kept only for an
//! abort whose transaction began in data no longer in the log. Producer
//! snapshots are trusted (they hold what deleted data said): the newest at
//! or below the log end is loaded and the batches after it replayed.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::path::Path;

use bytes::Bytes;
use kafka_protocol::records::RecordBatch;
use kafka_protocol::records::batch::{HEADER_LEN, LOG_OVERHEAD};

use super::StorageError;
use super::checkpoint::{
    TopicPartition, read_leader_epoch_checkpoint, read_log_start_offsets, write_leader_epoch_checkpoint,
};
use super::files::{
    INDEX_SUFFIX, LOG_SUFFIX, SNAPSHOT_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX, parse_segment_file_name,
    remove_if_exists, segment_path,
};
use super::partition_dir::{PartitionDir, list_dir, segment_bases};
use crate::log::{LeaderEpochCache, Log, LogConfig, ProducerSnapshot, Segment, TxnIndexEntry, rebuild_indexes};

/// A log rebuilt by [`recover`], and what recovery had to repair.
#[derive(Debug)]
pub struct Recovered {
    /// The log, recording [`super::StorageOp`]s for `dir`.
    pub log: Log,
    /// The partition directory, ready to apply the log's next ops.
    pub dir: PartitionDir,
    /// Bytes cut from the end of a segment because they did not form valid
    /// batches (a torn write, or corruption).
    pub truncated_bytes: u64,
    /// Segments deleted because they followed the cut, did not continue
    /// the offsets of the segment before them, or lay wholly before a
    /// checkpointed log start offset past the end of the data.
    pub deleted_segments: Vec<i64>,
}

/// Rebuilds the log stored in `partition_dir` (`<log dir>/<topic>-<partition>`).
///
/// Segments are read in base-offset order, batch by batch. A batch must be
/// complete, of magic 2, pass its CRC and start where the previous one
/// ended; at the first that does not, its segment's `.log` is truncated
/// there and every later segment is deleted. The offset and time indexes
/// are rebuilt from the batches by the append rules and rewritten.
///
/// The epoch cache is `leader-epoch-checkpoint`'s, or, without one, derived
/// from the batches' partition leader epochs; either way it is then cut to
/// the recovered log as Kafka's loader does (which also drops an entry
/// starting exactly at the log end).
/// The log start offset is the log directory's `log-start-offset-checkpoint`
/// entry, or the first segment's base offset; should the data end before a
/// checkpointed log start, the log restarts empty there, as in Kafka.
///
/// Clocks: segments count as created and last written at `now_ms` (Kafka
/// reads file mtimes, which would not mix with an injected clock).
pub fn recover(partition_dir: &Path, config: LogConfig, now_ms: i64) -> Result<Recovered, StorageError> {
    let mut dir = PartitionDir::open(partition_dir)?;
    let path = partition_dir;
    remove_orphan_indexes(path)?;

    let checkpointed_epochs = read_leader_epoch_checkpoint(path)?;
    let mut epochs = LeaderEpochCache::from_entries(checkpointed_epochs.iter().flatten().copied());
    // The log writes the checkpoint before the batch that opens an epoch,
    // so it never lags the data and only its absence calls for deriving
    // the cache from the batches. (Kafka also adds epochs newer than the
    // checkpoint's from the segments it recovers; here that could only
    // resurrect entries a truncation had deliberately dropped.)
    let derive_epochs = checkpointed_epochs.is_none();
    let mut segments: VecDeque<Segment> = VecDeque::new();
    let mut truncated_bytes = 0;
    let mut deleted_segments = Vec::new();
    let mut intact = true;
    for base in segment_bases(path)? {
        let continues = segments.back().is_none_or(|last| last.next_offset() == base);
        if !intact || !continues {
            intact = false;
            delete_segment_files(path, base)?;
            dir.note_deleted(base);
            deleted_segments.push(base);
            continue;
        }
        let log_path = segment_path(path, base, LOG_SUFFIX);
        let data = Bytes::from(fs::read(&log_path).map_err(StorageError::io("read", &log_path))?);
        let (segment, valid_bytes) =
            rebuild_segment(base, &data, &config, derive_epochs.then_some(&mut epochs), now_ms);
        if valid_bytes < data.len() {
            let file =
                fs::OpenOptions::new().write(true).open(&log_path).map_err(StorageError::io("open", &log_path))?;
            file.set_len(valid_bytes as u64).map_err(StorageError::io("truncate", &log_path))?;
            truncated_bytes += (data.len() - valid_bytes) as u64;
            intact = false;
        }
        write_indexes(path, &segment)?;
        dir.note_rewritten(base)?;
        segments.push_back(segment);
    }

    let log_dir = path.parent().unwrap_or_else(|| Path::new(""));
    let tp = TopicPartition::new(dir.topic(), dir.partition());
    let checkpointed_start = read_log_start_offsets(log_dir)?.get(&tp).copied();
    let first_base = segments.front().map(Segment::base_offset);
    let log_start = match (checkpointed_start, first_base) {
        (Some(checkpointed), Some(first)) => checkpointed.max(first),
        (checkpointed, first) => checkpointed.or(first).unwrap_or(0).max(0),
    };
    let log_end = segments.back().map(Segment::next_offset);
    if log_end.is_none_or(|end| end < log_start) {
        for segment in segments.drain(..) {
            delete_segment_files(path, segment.base_offset())?;
            dir.note_deleted(segment.base_offset());
            deleted_segments.push(segment.base_offset());
        }
        epochs.clear();
        let segment = Segment::new(log_start, now_ms);
        write_indexes(path, &segment)?;
        fs::write(segment_path(path, log_start, LOG_SUFFIX), b"")
            .map_err(StorageError::io("create", segment_path(path, log_start, LOG_SUFFIX)))?;
        dir.note_rewritten(log_start)?;
        segments.push_back(segment);
    }

    let on_disk: Vec<TxnIndexEntry> = segments
        .iter()
        .filter_map(|s| fs::read(segment_path(path, s.base_offset(), TXN_INDEX_SUFFIX)).ok())
        .filter_map(|bytes| TxnIndexEntry::parse_file(&bytes))
        .flatten()
        .collect();
    let known = |pid: i64, last_offset: i64| {
        on_disk.iter().find(|e| e.producer_id == pid && e.last_offset == last_offset).copied()
    };
    rebuild_indexes(segments.iter_mut(), &known);
    for segment in &segments {
        write_txn_index(path, segment)?;
        // The directory opened the segment's files before the rewrite.
        dir.note_rewritten(segment.base_offset())?;
    }

    let log_end = segments.back().map_or(log_start, Segment::next_offset);
    epochs.truncate_from_end(log_end);
    epochs.truncate_from_start(log_start);
    if checkpointed_epochs.as_deref() != Some(epochs.entries()) {
        write_leader_epoch_checkpoint(path, epochs.entries())?;
        dir.note_replaced_checkpoint();
    }
    dir.note_log_start_offset(log_start);
    let snapshots = load_snapshots(path, log_end)?;
    let log = Log::from_parts(config, segments, log_start, epochs, snapshots, true, now_ms);
    Ok(Recovered { log, dir, truncated_bytes, deleted_segments })
}

/// The segment rebuilt from its `.log` bytes, and how many leading bytes
/// held valid batches. With `epochs`, each batch opening a newer epoch is
/// recorded in it.
fn rebuild_segment(
    base: i64,
    data: &Bytes,
    config: &LogConfig,
    mut epochs: Option<&mut LeaderEpochCache>,
    now_ms: i64,
) -> (Segment, usize) {
    let mut segment = Segment::new(base, now_ms);
    let mut position = 0;
    while let Some(batch) = next_valid_batch(data, position, &segment) {
        let header = *batch.header();
        if let Some(epochs) = epochs.as_deref_mut() {
            epochs.assign(header.partition_leader_epoch, header.base_offset);
        }
        position += header.size();
        segment.append_recovered(batch, config, now_ms);
    }
    segment.finish_recovery();
    (segment, position)
}

/// The batch at `position` if it is whole, valid and continues `segment`.
fn next_valid_batch(data: &Bytes, position: usize, segment: &Segment) -> Option<RecordBatch> {
    let rest = data.get(position..)?;
    let length = i32::from_be_bytes(rest.get(8..LOG_OVERHEAD)?.try_into().ok()?);
    if length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
        return None;
    }
    let size = LOG_OVERHEAD.checked_add(usize::try_from(length).ok()?)?;
    let end = position.checked_add(size)?;
    // Positions in the index are i32: a longer segment was never ours.
    if end > data.len() || end > i32::MAX as usize {
        return None;
    }
    let batch = RecordBatch::new(data.slice(position..end)).ok()?;
    let header = batch.header();
    if header.base_offset != segment.next_offset() || header.last_offset_delta < 0 || !batch.crc_is_valid() {
        return None;
    }
    let last_offset = header.base_offset.checked_add(i64::from(header.last_offset_delta))?;
    // The offset after the batch becomes the log end offset.
    last_offset.checked_add(1)?;
    segment.relative_offset(last_offset)?;
    Some(batch)
}

/// Replaces the segment's `.index` and `.timeindex` with its entries.
fn write_indexes(dir: &Path, segment: &Segment) -> Result<(), StorageError> {
    let index: Vec<u8> = segment.offset_index().iter().flat_map(|e| e.to_bytes()).collect();
    let time_index: Vec<u8> = segment.time_index().iter().flat_map(|e| e.to_bytes()).collect();
    for (suffix, bytes) in [(INDEX_SUFFIX, index), (TIME_INDEX_SUFFIX, time_index)] {
        let path = segment_path(dir, segment.base_offset(), suffix);
        fs::write(&path, bytes).map_err(StorageError::io("write", &path))?;
    }
    Ok(())
}

/// The producer snapshots of the directory at or below `log_end`, by
/// offset. Unreadable ones (another version, a bad CRC) and those past the
/// log end are deleted, as Kafka's loader does.
fn load_snapshots(dir: &Path, log_end: i64) -> Result<BTreeMap<i64, ProducerSnapshot>, StorageError> {
    let mut snapshots = BTreeMap::new();
    for name in list_dir(dir)? {
        let Some(offset) = parse_segment_file_name(&name, SNAPSHOT_SUFFIX) else { continue };
        let path = dir.join(&name);
        let bytes = fs::read(&path).map_err(StorageError::io("read", &path))?;
        match ProducerSnapshot::decode(&bytes) {
            Ok(snapshot) if offset <= log_end => {
                snapshots.insert(offset, snapshot);
            }
            Ok(_) => remove_if_exists(&path)?,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "corrupt producer snapshot deleted");
                remove_if_exists(&path)?;
            }
        }
    }
    Ok(snapshots)
}

/// Replaces the segment's `.txnindex` with its entries; a segment without
/// aborts has none, as in Kafka.
fn write_txn_index(dir: &Path, segment: &Segment) -> Result<(), StorageError> {
    let path = segment_path(dir, segment.base_offset(), TXN_INDEX_SUFFIX);
    if segment.txn_index().is_empty() {
        return remove_if_exists(&path);
    }
    let bytes: Vec<u8> = segment.txn_index().iter().flat_map(|e| e.to_bytes()).collect();
    if fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
        return Ok(());
    }
    fs::write(&path, bytes).map_err(StorageError::io("write", &path))
}

fn delete_segment_files(dir: &Path, base: i64) -> Result<(), StorageError> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX] {
        remove_if_exists(&segment_path(dir, base, suffix))?;
    }
    Ok(())
}

/// Index files without their `.log` belong to no segment (Kafka deletes
/// them too).
fn remove_orphan_indexes(dir: &Path) -> Result<(), StorageError> {
    let bases = segment_bases(dir)?;
    for name in list_dir(dir)? {
        let base = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX]
            .into_iter()
            .find_map(|suffix| parse_segment_file_name(&name, suffix));
        if base.is_some_and(|b| !bases.contains(&b)) {
            remove_if_exists(&dir.join(&name))?;
        }
    }
    Ok(())
}
