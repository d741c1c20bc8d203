use crate::log::{EpochEntry, LeaderEpochCache, UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET};

fn cache(entries: &[(i32, i64)]) -> LeaderEpochCache {
    LeaderEpochCache::from_entries(entries.iter().map(|&(epoch, start_offset)| EpochEntry { epoch, start_offset }))
}

fn pairs(cache: &LeaderEpochCache) -> Vec<(i32, i64)> {
    cache.entries().iter().map(|e| (e.epoch, e.start_offset)).collect()
}

#[test]
fn assign_records_only_new_higher_epochs() {
    let mut c = LeaderEpochCache::new();
    assert!(c.assign(1, 0));
    assert!(!c.assign(1, 5), "same epoch");
    assert!(!c.assign(0, 7), "older epoch");
    assert!(!c.assign(-1, 7), "no epoch");
    assert!(c.assign(4, 10));
    assert_eq!(pairs(&c), vec![(1, 0), (4, 10)]);
    assert_eq!(c.latest_epoch(), Some(4));
    // A higher epoch starting no later than existing entries replaces them,
    // keeping start offsets increasing.
    assert!(c.assign(6, 10));
    assert_eq!(pairs(&c), vec![(1, 0), (6, 10)]);
    assert!(c.assign(7, 0));
    assert_eq!(pairs(&c), vec![(7, 0)]);
}

#[test]
fn end_offset_for_epoch_follows_kafka() {
    let c = cache(&[(1, 0), (3, 10), (5, 20)]);
    let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
    // The latest epoch ends at the log end offset.
    assert_eq!(c.end_offset_for(5, 30), (5, 30));
    // Others end where the next higher epoch starts, and an epoch that was
    // never used answers with the largest one below it.
    assert_eq!(c.end_offset_for(3, 30), (3, 20));
    assert_eq!(c.end_offset_for(4, 30), (3, 20));
    assert_eq!(c.end_offset_for(1, 30), (1, 10));
    assert_eq!(c.end_offset_for(2, 30), (1, 10));
    // Older than everything: the requested epoch and the first start offset.
    assert_eq!(c.end_offset_for(0, 30), (0, 0));
    assert_eq!(c.end_offset_for(6, 30), undefined);
    assert_eq!(c.end_offset_for(UNDEFINED_EPOCH, 30), undefined);
    assert_eq!(LeaderEpochCache::new().end_offset_for(0, 30), undefined);
}

#[test]
fn epoch_for_offset() {
    let c = cache(&[(1, 5), (3, 10), (5, 20)]);
    assert_eq!(c.epoch_for_offset(4), None);
    assert_eq!(c.epoch_for_offset(5), Some(1));
    assert_eq!(c.epoch_for_offset(9), Some(1));
    assert_eq!(c.epoch_for_offset(10), Some(3));
    assert_eq!(c.epoch_for_offset(1000), Some(5));
}

#[test]
fn truncate_from_end() {
    let mut c = cache(&[(1, 0), (3, 10), (5, 20)]);
    assert!(!c.truncate_from_end(21));
    assert!(c.truncate_from_end(20));
    assert_eq!(pairs(&c), vec![(1, 0), (3, 10)]);
    assert!(c.truncate_from_end(5));
    assert_eq!(pairs(&c), vec![(1, 0)]);
    assert!(c.truncate_from_end(0));
    assert!(c.is_empty());
}

#[test]
fn truncate_from_start_moves_the_covering_entry() {
    let mut c = cache(&[(1, 0), (3, 10), (5, 20)]);
    assert!(!c.truncate_from_start(0));
    assert!(c.truncate_from_start(15));
    assert_eq!(pairs(&c), vec![(3, 15), (5, 20)]);
    assert!(c.truncate_from_start(20));
    assert_eq!(pairs(&c), vec![(5, 20)]);
    assert!(!c.truncate_from_start(20));
    assert!(c.truncate_from_start(25));
    assert_eq!(pairs(&c), vec![(5, 25)]);

    let mut c = cache(&[(2, 10)]);
    assert!(!c.truncate_from_start(5), "the start precedes every entry");
    assert_eq!(pairs(&c), vec![(2, 10)]);
}

#[test]
fn from_entries_repairs_disorder() {
    let c = cache(&[(1, 0), (0, 5), (3, 10), (2, 20), (4, 8)]);
    assert_eq!(pairs(&c), vec![(1, 0), (4, 8)]);
}
