//! The transaction index on disk: written with abort markers in Kafka's
//! 34-byte layout, in the segment holding the marker, cut with truncation,
//! deleted with its segment, and rebuilt (or kept, where the data is gone)
//! by recovery; and the producer snapshots, written on roll and at
//! shutdown, loaded by recovery.

use bytes::BytesMut;
use kafka_protocol::Compression;
use kafka_protocol::records::{BatchBuilder, ControlRecord, ControlRecordType};

use super::{Mirrored, TempDir, assert_disk_matches, assert_recovered_equals, read};
use crate::log::tests::{T0, config};
use crate::log::{LogConfig, ProducerSnapshot, TxnIndexEntry};
use crate::storage::{SNAPSHOT_SUFFIX, TXN_INDEX_SUFFIX, recover, segment_file_name};

fn txn_config() -> LogConfig {
    LogConfig { segment_bytes: 250, ..config() }
}

fn data(pid: i64, n: usize) -> BytesMut {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(pid, 0, 0);
    b.set_transactional(true);
    for i in 0..n {
        b.append(T0 + i as i64, None, Some(b"value"), &[]);
    }
    BytesMut::from(&b.finish().unwrap()[..])
}

fn marker(pid: i64, commit: bool) -> BytesMut {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(pid, 0, -1);
    let kind = if commit { ControlRecordType::Commit } else { ControlRecordType::Abort };
    b.append_control(T0, &ControlRecord { kind, coordinator_epoch: 3 });
    BytesMut::from(&b.finish().unwrap()[..])
}

fn entry(producer_id: i64, first_offset: i64, last_offset: i64, last_stable_offset: i64) -> TxnIndexEntry {
    TxnIndexEntry { producer_id, first_offset, last_offset, last_stable_offset }
}

#[test]
fn aborts_are_indexed_in_the_segment_of_their_marker() {
    let tmp = TempDir::new("txnindex");
    let mut m = Mirrored::new(tmp.path(), "t", txn_config());
    let append = |m: &mut Mirrored, b: BytesMut| m.log.append_as_leader(b, 0, None, T0).unwrap().base_offset;
    assert_eq!(append(&mut m, data(7, 2)), 0); // 0-1
    assert_eq!(append(&mut m, data(8, 1)), 2); // 2
    assert_eq!(append(&mut m, marker(7, false)), 3); // 7 aborted while 8 is open: LSO 2
    assert_eq!(append(&mut m, marker(8, true)), 4); // a commit is not indexed
    assert_eq!(append(&mut m, marker(9, false)), 5); // nothing of 9 here: not indexed
    assert_eq!(append(&mut m, data(9, 1)), 6);
    assert_eq!(append(&mut m, marker(9, false)), 7); // alone: LSO after the marker
    m.sync();
    let indexed: Vec<(i64, Vec<TxnIndexEntry>)> =
        m.log.segments().map(|s| (s.base_offset(), s.txn_index().to_vec())).collect();
    let all: Vec<TxnIndexEntry> = indexed.iter().flat_map(|(_, e)| e.clone()).collect();
    assert_eq!(all, vec![entry(7, 0, 3, 2), entry(9, 6, 7, 8)]);
    assert!(indexed.len() > 1, "the small segments rolled: {indexed:?}");
    // Each entry lies in the segment holding its marker.
    for (base, entries) in &indexed {
        let end = m.log.segments().find(|s| s.base_offset() == *base).unwrap().next_offset();
        assert!(entries.iter().all(|e| e.last_offset >= *base && e.last_offset < end));
    }
    assert_disk_matches(&m.log, m.dir.path());
    // Kafka's layout: version 0, then four longs.
    let (base, _) = indexed.iter().find(|(_, e)| e.contains(&entry(7, 0, 3, 2))).unwrap();
    let bytes = read(m.dir.path(), *base, TXN_INDEX_SUFFIX);
    assert_eq!(bytes[..2], [0, 0]);
    assert_eq!(bytes[2..10], 7i64.to_be_bytes());
    assert_eq!(bytes[18..26], 3i64.to_be_bytes());
    // Segments without aborts have no file.
    let without = indexed.iter().filter(|(_, e)| e.is_empty()).count();
    let files = std::fs::read_dir(m.dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(TXN_INDEX_SUFFIX))
        .count();
    assert_eq!(files, indexed.len() - without);

    // Recovery rebuilds the same index.
    let dir = m.dir.path().to_path_buf();
    let recovered = recover(&dir, txn_config(), T0).unwrap();
    assert_recovered_equals(&m.log, &recovered.log);
    assert_disk_matches(&recovered.log, &dir);

    // Truncating below the second abort drops its entry and reopens 9's
    // transaction; the next abort is indexed again.
    m.log.truncate_to(7, T0).unwrap();
    m.sync();
    assert_disk_matches(&m.log, m.dir.path());
    let all: Vec<TxnIndexEntry> = m.log.segments().flat_map(|s| s.txn_index().to_vec()).collect();
    assert_eq!(all, vec![entry(7, 0, 3, 2)]);
    assert_eq!(append(&mut m, marker(9, false)), 7);
    m.sync();
    assert_disk_matches(&m.log, m.dir.path());
    let recovered = recover(&dir, txn_config(), T0).unwrap();
    assert_recovered_equals(&m.log, &recovered.log);
}

#[test]
fn recovery_keeps_an_entry_whose_transaction_began_in_deleted_data() {
    let tmp = TempDir::new("txnindex-retained");
    let mut m = Mirrored::new(tmp.path(), "t", txn_config());
    let append = |m: &mut Mirrored, b: BytesMut| m.log.append_as_leader(b, 0, None, T0).unwrap().base_offset;
    append(&mut m, data(7, 2));
    for _ in 0..8 {
        append(&mut m, data(-1, 1));
    }
    let abort = append(&mut m, marker(7, false));
    m.sync();
    let expected = entry(7, 0, abort, abort + 1);
    let segment = m.log.segments().find(|s| s.txn_index().contains(&expected)).unwrap().base_offset();
    assert_ne!(segment, 0, "the abort is in a later segment than the data");
    // The data goes; the abort's entry stays.
    m.log.delete_records_before(segment, abort + 1).unwrap();
    m.sync();
    m.checkpoint_log_start();
    assert!(m.log.segments().all(|s| s.base_offset() >= segment));
    let dir = m.dir.path().to_path_buf();
    let recovered = recover(&dir, txn_config(), T0).unwrap();
    let all: Vec<TxnIndexEntry> = recovered.log.segments().flat_map(|s| s.txn_index().to_vec()).collect();
    assert_eq!(all, vec![expected]);
    assert_disk_matches(&recovered.log, &dir);
    // A file lost with it is not invented.
    std::fs::remove_file(dir.join(segment_file_name(segment, TXN_INDEX_SUFFIX))).unwrap();
    let recovered = recover(&dir, txn_config(), T0).unwrap();
    assert!(recovered.log.segments().all(|s| s.txn_index().is_empty()));
}

// ---- Producer snapshots ----

fn idempotent(pid: i64, epoch: i16, seq: i32, n: usize) -> BytesMut {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(pid, epoch, seq);
    for i in 0..n {
        b.append(T0 + i as i64, None, Some(b"value"), &[]);
    }
    BytesMut::from(&b.finish().unwrap()[..])
}

fn snapshot_files(dir: &std::path::Path) -> Vec<i64> {
    let mut v: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(SNAPSHOT_SUFFIX).map(|d| d.parse().unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn producer_snapshots_are_written_on_roll_and_survive_deleted_data() {
    let tmp = TempDir::new("snapshots");
    let config = txn_config();
    let mut m = Mirrored::new(tmp.path(), "t", config);
    let append = |m: &mut Mirrored, b: BytesMut| m.log.append_as_leader(b, 0, None, T0).unwrap().base_offset;
    append(&mut m, idempotent(7, 0, 0, 2)); // 0-1: producer 7's only batch
    append(&mut m, data(9, 1)); // 2: a transaction left open
    for i in 0..6 {
        append(&mut m, idempotent(8, 1, i * 2, 2));
    }
    m.sync();
    let bases: Vec<i64> = m.log.segments().map(|s| s.base_offset()).collect();
    assert!(bases.len() >= 3, "{bases:?}");
    // A snapshot at every rolled segment's base, in Kafka's format.
    assert_eq!(snapshot_files(m.dir.path()), bases[1..].to_vec());
    assert_eq!(m.log.snapshot_offsets().collect::<Vec<_>>(), bases[1..].to_vec());
    let first = read(m.dir.path(), bases[1], SNAPSHOT_SUFFIX);
    let snap = ProducerSnapshot::decode(&first).unwrap();
    let seven = *snap.get(7).unwrap();
    assert_eq!((seven.epoch, seven.last_sequence, seven.last_offset, seven.offset_delta), (0, 1, 1, 1));
    assert_eq!(snap.get(9).map(|e| e.current_txn_first_offset), Some(2).filter(|_| bases[1] > 2));

    // Producer 7's batch goes with the first segment (and its snapshot
    // with it); recovery still knows producer 7 from the next snapshot.
    m.log.delete_records_before(bases[1], m.log.log_end_offset()).unwrap();
    m.sync();
    m.checkpoint_log_start();
    assert!(!snapshot_files(m.dir.path()).contains(&0));
    let dir = m.dir.path().to_path_buf();
    let recovered = recover(&dir, config, T0).unwrap();
    assert_recovered_equals(&m.log, &recovered.log);
    assert_eq!(recovered.log.producer_state().get(7), Some(&seven));
    assert_eq!(recovered.log.producer_state().get(9).unwrap().current_txn_first_offset, 2);

    // Truncation drops the snapshots past the cut and reloads from the one left.
    let mut log = recovered.log;
    let mut pdir = recovered.dir;
    let cut = bases[bases.len() - 1];
    log.truncate_to(cut - 1, T0).unwrap();
    pdir.apply_all(&log.take_storage_ops()).unwrap();
    assert!(snapshot_files(&dir).iter().all(|o| *o <= log.log_end_offset()), "{:?}", snapshot_files(&dir));
    assert_eq!(log.producer_state().get(7), Some(&seven));
    let eight = log.producer_state().get(8).unwrap();
    assert_eq!(eight.last_offset, log.log_end_offset() - 1);
    // A clean shutdown's snapshot at the log end; a corrupt one is ignored.
    log.take_producer_snapshot();
    pdir.apply_all(&log.take_storage_ops()).unwrap();
    assert!(snapshot_files(&dir).contains(&log.log_end_offset()));
    let again = recover(&dir, config, T0).unwrap();
    assert_eq!(again.log.producer_state(), log.producer_state());
    let end = dir.join(segment_file_name(log.log_end_offset(), SNAPSHOT_SUFFIX));
    let mut bytes = std::fs::read(&end).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&end, bytes).unwrap();
    let again = recover(&dir, config, T0).unwrap();
    assert!(!end.exists(), "a corrupt snapshot is deleted");
    assert_eq!(again.log.producer_state(), log.producer_state());
}
