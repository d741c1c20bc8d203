//! The leader-epoch cache: for each leader epoch, the first offset written
//! in it (Kafka's `LeaderEpochFileCache`).
//!
//! Followers ask the leader where their epoch ended (OffsetForLeaderEpoch)
//! to find the point where their log diverged, and consumers ask the same
//! to detect truncation. The cache is kept in step with the log: appends
//! add an entry when a new epoch starts, truncations cut entries from the
//! end, and a rising log start offset cuts them from the front.

/// Kafka's `UNDEFINED_EPOCH`.
pub const UNDEFINED_EPOCH: i32 = -1;
/// Kafka's `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One cache entry: `epoch` began at `start_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: i32,
    /// The first offset written in that epoch.
    pub start_offset: i64,
}

/// Leader epochs and their start offsets, both strictly increasing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderEpochCache {
    entries: Vec<EpochEntry>,
}

impl LeaderEpochCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache holding `entries` as [`Self::assign`] would leave them after
    /// assigning each in turn (so a malformed list cannot break the
    /// ordering the lookups rely on).
    pub fn from_entries(entries: impl IntoIterator<Item = EpochEntry>) -> Self {
        let mut cache = Self::new();
        for e in entries {
            cache.assign(e.epoch, e.start_offset);
        }
        cache
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// True when no epoch is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The newest entry.
    pub fn latest_entry(&self) -> Option<EpochEntry> {
        self.entries.last().copied()
    }

    /// The newest epoch.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// The oldest entry.
    pub fn earliest_entry(&self) -> Option<EpochEntry> {
        self.entries.first().copied()
    }

    /// Records that `epoch` starts at `start_offset`; returns whether the
    /// cache changed.
    ///
    /// Only a new, higher epoch is recorded (the log calls this for every
    /// batch it appends, and only a batch opening a new epoch matters);
    /// negative values are ignored. Should the new start offset not be past
    /// the latest entries', those entries are dropped first, as Kafka does,
    /// so that start offsets stay increasing.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return false;
        }
        while self.entries.last().is_some_and(|e| e.start_offset >= start_offset) {
            self.entries.pop();
        }
        self.entries.push(EpochEntry { epoch, start_offset });
        true
    }

    /// Kafka's `endOffsetFor`, the answer to OffsetForLeaderEpoch: the
    /// largest epoch `<= requested` and the offset where it ended — the
    /// start of the next higher epoch, or `log_end_offset` when `requested`
    /// is the latest epoch.
    ///
    /// Returns `(UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)` for an undefined
    /// or unknown-future epoch or an empty cache. For an epoch older than
    /// every entry Kafka answers `(requested, first entry's start offset)`:
    /// the data before it is gone, and the follower should resume there.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        const UNDEFINED: (i32, i64) = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested == UNDEFINED_EPOCH {
            return UNDEFINED;
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let higher = self.entries.partition_point(|e| e.epoch <= requested);
        let Some(next) = self.entries.get(higher) else {
            return UNDEFINED;
        };
        match higher.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(floor) => (floor.epoch, next.start_offset),
            None => (requested, next.start_offset),
        }
    }

    /// The epoch `offset` was written in: that of the last entry starting
    /// at or before it, or None when it precedes every entry.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        let n = self.entries.partition_point(|e| e.start_offset <= offset);
        n.checked_sub(1).and_then(|i| self.entries.get(i)).map(|e| e.epoch)
    }

    /// Drops the entries starting at or after `end_offset` (the log was
    /// truncated to it); returns whether the cache changed.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        if end_offset < 0 {
            return false;
        }
        let keep = self.entries.partition_point(|e| e.start_offset < end_offset);
        let changed = keep < self.entries.len();
        self.entries.truncate(keep);
        changed
    }

    /// Drops the entries wholly before `start_offset` (the log start offset
    /// rose to it). The last entry at or before it survives, moved to start
    /// there, since its epoch still covers the records from there on.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let at_or_before = self.entries.partition_point(|e| e.start_offset <= start_offset);
        let Some(last) = at_or_before.checked_sub(1) else {
            return false;
        };
        let Some(epoch) = self.entries.get(last).map(|e| e.epoch) else {
            return false;
        };
        let unchanged = last == 0 && self.entries.first().is_some_and(|e| e.start_offset == start_offset);
        self.entries.drain(..last);
        if let Some(first) = self.entries.first_mut() {
            *first = EpochEntry { epoch, start_offset };
        }
        !unchanged
    }

    /// Forgets every entry; returns whether there were any.
    pub fn clear(&mut self) -> bool {
        let changed = !self.entries.is_empty();
        self.entries.clear();
        changed
    }
}
