//! Validation of the records of a produce request, as Kafka's
//! `ProduceRequest.validateRecords` and `LogValidator` do it on the leader.
//!
//! Checks, with the error a client sees:
//! - exactly one record batch, of magic 2 (INVALID_RECORD);
//! - size within `max.message.bytes` (MESSAGE_TOO_LARGE);
//! - CRC32C (CORRUPT_MESSAGE);
//! - zstd only from Produce v7 (UNSUPPORTED_COMPRESSION_TYPE);
//! - no control batches from clients, and a transactional batch must carry
//!   a producer id (INVALID_RECORD); whether its transaction may write
//!   there is the produce handler's check;
//! - record count, last offset delta and every record's offset delta agree
//!   (INVALID_RECORD) — records inside compressed batches are decompressed
//!   and parsed;
//! - CreateTime timestamps within `message.timestamp.before/after.max.ms`
//!   of now (INVALID_TIMESTAMP, with per-record errors from Produce v8).
//!
//! The batch's max timestamp is corrected to the records' real maximum, as
//! Kafka does, recomputing the CRC only when it changed.

use bytes::{Bytes, BytesMut};
use kafka_protocol::ErrorCode;
use kafka_protocol::records::batch::{self, HEADER_LEN};
use kafka_protocol::records::{BatchHeader, RecordBatch, RecordSet, RecordSetEntry, TimestampType};
use kafka_protocol::{Compression, DecodeError};

use crate::config::EffectiveTopicConfig;

/// A batch that passed validation, ready to be stamped and appended.
#[derive(Debug)]
pub struct ValidBatch {
    /// The batch's bytes (a private copy the leader stamps in place).
    pub bytes: BytesMut,
    /// Its header after validation.
    pub header: BatchHeader,
}

/// A refused batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The partition error.
    pub code: ErrorCode,
    /// The partition error message.
    pub message: String,
    /// Per-record errors (index in the batch, message), for Produce v8+.
    pub record_errors: Vec<(i32, String)>,
}

fn invalid(code: ErrorCode, message: impl Into<String>) -> Invalid {
    Invalid { code, message: message.into(), record_errors: Vec::new() }
}

/// Limit on what a compressed batch may decompress to while being checked.
const DECOMPRESS_LIMIT: usize = 256 << 20;

/// Validates the `records` of one partition of a produce request.
pub fn validate(
    records: Option<&Bytes>,
    produce_version: i16,
    cfg: &EffectiveTopicConfig,
    now_ms: i64,
) -> Result<ValidBatch, Invalid> {
    let Some(records) = records.filter(|r| !r.is_empty()) else {
        return Err(invalid(ErrorCode::INVALID_RECORD, "produce requests must have one record batch per partition"));
    };
    let mut entries = RecordSet::new(records.clone());
    let batch = match entries.next() {
        Some(Ok(RecordSetEntry::Batch(b))) => b,
        Some(Ok(RecordSetEntry::Legacy(_))) => {
            return Err(invalid(
                ErrorCode::INVALID_RECORD,
                format!("produce v{produce_version} requests may only carry record batches with magic 2"),
            ));
        }
        Some(Err(e)) => return Err(invalid(ErrorCode::CORRUPT_MESSAGE, e.to_string())),
        None => return Err(invalid(ErrorCode::CORRUPT_MESSAGE, "truncated record batch")),
    };
    if entries.next().is_some() || entries.ended_in_partial() {
        return Err(invalid(
            ErrorCode::INVALID_RECORD,
            "produce requests may carry exactly one record batch per partition",
        ));
    }
    if batch.as_bytes().len() > cfg.max_message_bytes {
        return Err(invalid(
            ErrorCode::MESSAGE_TOO_LARGE,
            format!(
                "the batch is {} bytes, larger than max.message.bytes {}",
                batch.as_bytes().len(),
                cfg.max_message_bytes
            ),
        ));
    }
    batch.verify_crc().map_err(|e| invalid(ErrorCode::CORRUPT_MESSAGE, e.to_string()))?;
    let header = *batch.header();
    let codec = header.compression().map_err(|e| invalid(ErrorCode::CORRUPT_MESSAGE, e.to_string()))?;
    if codec == Compression::Zstd && produce_version < 7 {
        return Err(invalid(ErrorCode::UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7 or later"));
    }
    if header.is_control() {
        return Err(invalid(ErrorCode::INVALID_RECORD, "clients may not write control records"));
    }
    if header.is_transactional() && header.producer_id < 0 {
        return Err(invalid(ErrorCode::INVALID_RECORD, "a transactional batch needs a producer id"));
    }
    if header.producer_id >= 0 && (header.producer_epoch < 0 || header.base_sequence < 0) {
        return Err(invalid(
            ErrorCode::INVALID_RECORD,
            "an idempotent batch needs a producer epoch and a base sequence",
        ));
    }
    if header.record_count <= 0 || i64::from(header.last_offset_delta) + 1 != i64::from(header.record_count) {
        return Err(invalid(
            ErrorCode::INVALID_RECORD,
            format!(
                "inconsistent batch: {} records but last offset delta {}",
                header.record_count, header.last_offset_delta
            ),
        ));
    }
    let max_timestamp = check_records(&batch, &header, cfg, now_ms)?;
    let mut bytes = BytesMut::from(&batch.as_bytes()[..]);
    if header.timestamp_type() == TimestampType::CreateTime && header.max_timestamp != max_timestamp {
        bytes[35..43].copy_from_slice(&max_timestamp.to_be_bytes());
        batch::update_crc(&mut bytes);
    }
    let header = BatchHeader::parse(&bytes).map_err(|e| invalid(ErrorCode::CORRUPT_MESSAGE, e.to_string()))?;
    Ok(ValidBatch { bytes, header })
}

/// Parses every record; returns the largest record timestamp.
fn check_records(
    batch: &RecordBatch,
    header: &BatchHeader,
    cfg: &EffectiveTopicConfig,
    now_ms: i64,
) -> Result<i64, Invalid> {
    let corrupt = |e: DecodeError| invalid(ErrorCode::CORRUPT_MESSAGE, e.to_string());
    let mut records = batch.records(DECOMPRESS_LIMIT).map_err(corrupt)?;
    let mut expected_delta = 0i32;
    let mut max_ts = i64::MIN;
    let mut bad_ts = Vec::new();
    let check_ts = header.timestamp_type() == TimestampType::CreateTime && !cfg.log_append_time;
    while let Some(raw) = records.next_raw() {
        let raw = raw.map_err(|e| invalid(ErrorCode::INVALID_RECORD, e.to_string()))?;
        if raw.offset_delta != expected_delta {
            return Err(invalid(
                ErrorCode::INVALID_RECORD,
                format!("record {expected_delta} has offset delta {}; deltas must run 0, 1, 2, …", raw.offset_delta),
            ));
        }
        let ts = header.base_timestamp.wrapping_add(raw.timestamp_delta);
        if check_ts && ts >= 0 {
            let too_old = now_ms.saturating_sub(ts) > cfg.timestamp_before_max_ms;
            let too_new = ts.saturating_sub(now_ms) > cfg.timestamp_after_max_ms;
            if too_old || too_new {
                bad_ts.push((expected_delta, format!("timestamp {ts} of record {expected_delta} is out of range")));
            }
        }
        max_ts = max_ts.max(ts);
        expected_delta = expected_delta.wrapping_add(1);
    }
    if expected_delta != header.record_count {
        return Err(invalid(
            ErrorCode::INVALID_RECORD,
            format!("the batch declares {} records but holds {expected_delta}", header.record_count),
        ));
    }
    if !bad_ts.is_empty() {
        return Err(Invalid {
            code: ErrorCode::INVALID_TIMESTAMP,
            message: format!(
                "timestamps must lie within message.timestamp.before.max.ms={} and message.timestamp.after.max.ms={} of the broker's clock",
                cfg.timestamp_before_max_ms, cfg.timestamp_after_max_ms
            ),
            record_errors: bad_ts,
        });
    }
    // A batch always has a header's worth of bytes before its records.
    debug_assert!(batch.as_bytes().len() >= HEADER_LEN);
    Ok(max_ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TopicDefaults, TopicOverrides};
    use kafka_protocol::records::BatchBuilder;

    fn cfg() -> EffectiveTopicConfig {
        EffectiveTopicConfig::resolve(&TopicOverrides::default(), &TopicDefaults::default())
    }

    fn batch(codec: Compression, n: usize, ts: i64) -> Bytes {
        let mut b = BatchBuilder::new(codec, None);
        for i in 0..n {
            b.append(ts + i as i64, None, Some(b"value"), &[]);
        }
        b.finish().unwrap()
    }

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn good_batches_pass_with_every_codec() {
        for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let v = validate(Some(&batch(codec, 10, NOW)), 9, &cfg(), NOW).unwrap();
            assert_eq!(v.header.record_count, 10);
            assert_eq!(v.header.max_timestamp, NOW + 9);
        }
    }

    #[test]
    fn rules_and_their_errors() {
        let c = cfg();
        let err = |b: &Bytes, v: i16| validate(Some(b), v, &c, NOW).unwrap_err().code;
        assert_eq!(validate(None, 9, &c, NOW).unwrap_err().code, ErrorCode::INVALID_RECORD);
        let one = batch(Compression::None, 3, NOW);
        let mut two = one.to_vec();
        two.extend_from_slice(&one);
        assert_eq!(err(&Bytes::from(two), 9), ErrorCode::INVALID_RECORD);
        let mut bad_crc = one.to_vec();
        let n = bad_crc.len();
        bad_crc[n - 1] ^= 1;
        assert_eq!(err(&Bytes::from(bad_crc), 9), ErrorCode::CORRUPT_MESSAGE);
        assert_eq!(err(&batch(Compression::Zstd, 1, NOW), 6), ErrorCode::UNSUPPORTED_COMPRESSION_TYPE);
        let mut small = cfg();
        small.max_message_bytes = 50;
        assert_eq!(validate(Some(&one), 9, &small, NOW).unwrap_err().code, ErrorCode::MESSAGE_TOO_LARGE);
        // A future timestamp beyond the 1 hour default.
        let e = validate(Some(&batch(Compression::Lz4, 2, NOW + 7_200_000)), 9, &c, NOW).unwrap_err();
        assert_eq!(e.code, ErrorCode::INVALID_TIMESTAMP);
        assert_eq!(e.record_errors.len(), 2);
        // Last offset delta that disagrees with the count.
        let mut lying = one.to_vec();
        lying[23..27].copy_from_slice(&5i32.to_be_bytes());
        batch::update_crc(&mut lying);
        assert_eq!(err(&Bytes::from(lying), 9), ErrorCode::INVALID_RECORD);
    }

    #[test]
    fn wrong_max_timestamp_is_corrected() {
        let mut b = batch(Compression::None, 3, NOW).to_vec();
        b[35..43].copy_from_slice(&(NOW - 5).to_be_bytes());
        batch::update_crc(&mut b);
        let v = validate(Some(&Bytes::from(b)), 9, &cfg(), NOW).unwrap();
        assert_eq!(v.header.max_timestamp, NOW + 2);
        RecordBatch::new(v.bytes.freeze()).unwrap().verify_crc().unwrap();
    }
}
