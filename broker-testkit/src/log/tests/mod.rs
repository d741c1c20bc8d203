//! Unit tests of the partition log, and the helpers the storage tests share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod append;
mod epoch_cache;
mod index;
pub(crate) mod props;
mod read;
mod retention;
mod timestamps;
mod truncate;

use bytes::BytesMut;
use kafka_protocol::Compression;
use kafka_protocol::records::BatchBuilder;

use super::{Log, LogConfig};

/// A clock value far from zero, so that "now - created" arithmetic is real.
pub(crate) const T0: i64 = 1_700_000_000_000;

/// A producer batch with one record per timestamp.
pub(crate) fn batch(timestamps: &[i64]) -> BytesMut {
    batch_with(Compression::None, timestamps, 10)
}

/// A producer batch with one record per timestamp, values of `value_len`
/// bytes, compressed with `compression`.
pub(crate) fn batch_with(compression: Compression, timestamps: &[i64], value_len: usize) -> BytesMut {
    let mut b = BatchBuilder::new(compression, None);
    for (i, ts) in timestamps.iter().enumerate() {
        let value = vec![b'a' + (i % 26) as u8; value_len];
        b.append(*ts, None, Some(&value), &[]);
    }
    BytesMut::from(&b.finish().unwrap()[..])
}

/// A one-record uncompressed batch of exactly `size` bytes.
pub(crate) fn sized_batch(size: usize, timestamp: i64) -> BytesMut {
    for value_len in 0..size {
        let value = vec![b'x'; value_len];
        if 61 + BatchBuilder::record_size(0, 0, None, Some(&value), &[]) == size {
            let mut b = BatchBuilder::new(Compression::None, None);
            b.append(timestamp, None, Some(&value), &[]);
            let out = BytesMut::from(&b.finish().unwrap()[..]);
            assert_eq!(out.len(), size);
            return out;
        }
    }
    panic!("no one-record batch is exactly {size} bytes");
}

/// Kafka's defaults with retention off, so tests opt into what they test.
pub(crate) fn config() -> LogConfig {
    LogConfig { retention_ms: -1, retention_bytes: -1, ..LogConfig::default() }
}

/// An in-memory log.
pub(crate) fn log(config: LogConfig) -> Log {
    Log::new(config, T0, false)
}

/// Appends `count` batches of `size` bytes as leader in epoch 0, the i-th
/// with timestamp `first_ts + i`.
pub(crate) fn append_sized(log: &mut Log, count: usize, size: usize, first_ts: i64) {
    for i in 0..count {
        log.append_as_leader(sized_batch(size, first_ts + i as i64), 0, None, T0).unwrap();
        log.check_invariants();
    }
}

/// The base offsets of the log's segments.
pub(crate) fn segment_bases(log: &Log) -> Vec<i64> {
    log.segments().map(|s| s.base_offset()).collect()
}
