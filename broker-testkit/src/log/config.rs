//! The topic configs that shape a partition log.

/// The topic-level configs the log obeys, named after Kafka's.
///
/// `Default` gives Kafka 4.0's defaults. Values outside Kafka's ranges are
/// tolerated rather than rejected: the log clamps them where an unclamped
/// value would break the on-disk format (see [`LogConfig::max_segment_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: the active segment is rolled before an append would
    /// take it past this size.
    pub segment_bytes: u64,
    /// `segment.ms`: the active segment is rolled once the batch being
    /// appended is this much newer than the segment's first batch (by record
    /// timestamps; by the clock when the first batch has none).
    pub segment_ms: i64,
    /// `segment.index.bytes`: the size an index may reach before the segment
    /// is rolled.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`: roughly how many log bytes lie between two
    /// entries of the sparse offset and time indexes.
    pub index_interval_bytes: u64,
    /// `retention.ms`: segments whose newest record is older than this are
    /// deleted; -1 keeps them forever.
    pub retention_ms: i64,
    /// `retention.bytes`: the oldest segments are deleted while the log is
    /// larger than this; -1 means no limit.
    pub retention_bytes: i64,
}

/// Seven days, Kafka's default for `segment.ms` and `retention.ms`.
pub const SEVEN_DAYS_MS: i64 = 7 * 24 * 60 * 60 * 1000;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: SEVEN_DAYS_MS,
            segment_index_bytes: 10 << 20,
            index_interval_bytes: 4096,
            retention_ms: SEVEN_DAYS_MS,
            retention_bytes: -1,
        }
    }
}

impl LogConfig {
    /// The segment size actually enforced. Index entries store file
    /// positions as `i32` (and Kafka's `segment.bytes` is an `int`), so a
    /// segment can never grow past `i32::MAX` bytes whatever is configured.
    pub fn max_segment_bytes(&self) -> u64 {
        self.segment_bytes.min(i32::MAX as u64)
    }

    /// Entries the offset index holds before it is full: Kafka rounds
    /// `segment.index.bytes` down to a multiple of the entry size.
    pub(crate) fn max_offset_index_entries(&self) -> usize {
        usize::try_from(self.segment_index_bytes / 8).unwrap_or(usize::MAX)
    }

    /// Entries the time index holds before it is full.
    pub(crate) fn max_time_index_entries(&self) -> usize {
        usize::try_from(self.segment_index_bytes / 12).unwrap_or(usize::MAX)
    }
}
