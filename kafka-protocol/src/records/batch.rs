//! Record batch v2: reading, verifying, and the in-place edits a broker makes.
//!
//! ```text
//! offset  size  field
//!  0      8     base offset            ┐ outside the CRC: a broker stamps
//!  8      4     batch length           │ these in place without recomputing
//! 12      4     partition leader epoch ┘
//! 16      1     magic (2)
//! 17      4     CRC32C of bytes 21..end
//! 21      2     attributes: compression (bits 0-2), timestamp type (3),
//!               transactional (4), control (5), delete horizon (6)
//! 23      4     last offset delta
//! 27      8     base timestamp
//! 35      8     max timestamp
//! 43      8     producer id
//! 51      2     producer epoch
//! 53      4     base sequence
//! 57      4     record count
//! 61      …     records (compressed as one block when compressed)
//! ```

use bytes::Bytes;

use super::{Header, Record, TimestampType};
use crate::codec::varint;
use crate::compression::{self, Compression};
use crate::error::DecodeError;

/// Size of the batch header; records start here.
pub const HEADER_LEN: usize = 61;
/// Bytes before the batch length field ends (base offset + length).
pub const LOG_OVERHEAD: usize = 12;
/// Where the CRC-covered part starts.
pub const CRC_START: usize = 21;

pub(crate) const OFF_BASE_OFFSET: usize = 0;
pub(crate) const OFF_LENGTH: usize = 8;
pub(crate) const OFF_LEADER_EPOCH: usize = 12;
pub(crate) const OFF_MAGIC: usize = 16;
pub(crate) const OFF_CRC: usize = 17;
pub(crate) const OFF_ATTRIBUTES: usize = 21;
pub(crate) const OFF_LAST_OFFSET_DELTA: usize = 23;
pub(crate) const OFF_BASE_TIMESTAMP: usize = 27;
pub(crate) const OFF_MAX_TIMESTAMP: usize = 35;
pub(crate) const OFF_PRODUCER_ID: usize = 43;
pub(crate) const OFF_PRODUCER_EPOCH: usize = 51;
pub(crate) const OFF_BASE_SEQUENCE: usize = 53;
pub(crate) const OFF_RECORD_COUNT: usize = 57;

const ATTR_COMPRESSION: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;
const ATTR_DELETE_HORIZON: i16 = 0x40;

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

/// The CRC32C a batch should carry, computed over its bytes 21..end.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START.min(batch.len())..])
}

/// The fixed fields of a v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field.
    pub batch_length: i32,
    /// Leader epoch of the partition when the leader appended it.
    pub partition_leader_epoch: i32,
    /// Format version (2).
    pub magic: i8,
    /// The CRC32C the batch carries.
    pub crc: u32,
    /// Attribute bits.
    pub attributes: i16,
    /// Offset of the last record minus the base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (deltas are relative to it).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the append time for LogAppendTime.
    pub max_timestamp: i64,
    /// Producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records.
    pub record_count: i32,
}

impl BatchHeader {
    /// Reads the header from the start of `b`, which must hold at least
    /// [`HEADER_LEN`] bytes of a magic-2 batch.
    pub fn parse(b: &[u8]) -> Result<BatchHeader, DecodeError> {
        if b.len() < HEADER_LEN {
            return Err(DecodeError::invalid(format!(
                "record batch header needs {HEADER_LEN} bytes, found {}",
                b.len()
            )));
        }
        let magic = b[OFF_MAGIC] as i8;
        if magic != 2 {
            return Err(DecodeError::invalid(format!("record batch magic {magic}, expected 2")));
        }
        Ok(BatchHeader {
            base_offset: be_i64(b, OFF_BASE_OFFSET),
            batch_length: be_i32(b, OFF_LENGTH),
            partition_leader_epoch: be_i32(b, OFF_LEADER_EPOCH),
            magic,
            crc: be_i32(b, OFF_CRC) as u32,
            attributes: be_i16(b, OFF_ATTRIBUTES),
            last_offset_delta: be_i32(b, OFF_LAST_OFFSET_DELTA),
            base_timestamp: be_i64(b, OFF_BASE_TIMESTAMP),
            max_timestamp: be_i64(b, OFF_MAX_TIMESTAMP),
            producer_id: be_i64(b, OFF_PRODUCER_ID),
            producer_epoch: be_i16(b, OFF_PRODUCER_EPOCH),
            base_sequence: be_i32(b, OFF_BASE_SEQUENCE),
            record_count: be_i32(b, OFF_RECORD_COUNT),
        })
    }

    /// The compression codec; ids 5–7 are an error.
    pub fn compression(&self) -> Result<Compression, DecodeError> {
        let id = (self.attributes & ATTR_COMPRESSION) as u8;
        Compression::from_id(id).ok_or_else(|| DecodeError::invalid(format!("unknown compression codec id {id}")))
    }

    /// How record timestamps were set.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_LOG_APPEND_TIME != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// True for batches written inside a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// True for control batches (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// True when the base timestamp holds a delete horizon (KIP-534).
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & ATTR_DELETE_HORIZON != 0
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        // Saturating: a corrupt header must not overflow (the CRC is checked later, if at all).
        self.base_offset.saturating_add(i64::from(self.last_offset_delta))
    }

    /// The whole batch's size in bytes.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Sequence of the last record (wrapping past `i32::MAX` as Kafka does),
    /// or -1 without a base sequence.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) { (last - i64::from(i32::MAX) - 1) as i32 } else { last as i32 }
    }
}

/// One complete v2 batch, sharing the buffer it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    bytes: Bytes,
    header: BatchHeader,
}

impl RecordBatch {
    /// Wraps `bytes`, which must be exactly one batch: a magic-2 header whose
    /// length field matches. The CRC is not checked here; see [`Self::verify_crc`].
    pub fn new(bytes: Bytes) -> Result<RecordBatch, DecodeError> {
        let header = BatchHeader::parse(&bytes)?;
        if header.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(DecodeError::invalid(format!(
                "record batch length {} is below the minimum",
                header.batch_length
            )));
        }
        if header.size() != bytes.len() {
            return Err(DecodeError::invalid(format!(
                "record batch length field says {} bytes, buffer has {}",
                header.size(),
                bytes.len()
            )));
        }
        Ok(RecordBatch { bytes, header })
    }

    /// The header fields.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The batch's bytes, exactly as stored and shipped.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The batch's bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// True when the CRC matches the content.
    pub fn crc_is_valid(&self) -> bool {
        compute_crc(&self.bytes) == self.header.crc
    }

    /// Fails when the CRC does not match the content.
    pub fn verify_crc(&self) -> Result<(), DecodeError> {
        let actual = compute_crc(&self.bytes);
        if actual != self.header.crc {
            return Err(DecodeError::invalid(format!(
                "record batch at offset {} is corrupt: CRC {:#010x} stored, {actual:#010x} computed",
                self.header.base_offset, self.header.crc
            )));
        }
        Ok(())
    }

    /// The records, decompressing them first if needed (output bounded by
    /// `decompress_limit` bytes). Uncompressed records share this buffer.
    pub fn records(&self, decompress_limit: usize) -> Result<Records, DecodeError> {
        let codec = self.header.compression()?;
        let body = self.bytes.slice(HEADER_LEN..);
        let data = match codec {
            Compression::None => body,
            c => Bytes::from(
                compression::decompress(c, &body, decompress_limit).map_err(|e| DecodeError::invalid(e.to_string()))?,
            ),
        };
        if self.header.record_count < 0 {
            return Err(DecodeError::invalid(format!("negative record count {}", self.header.record_count)));
        }
        // Every record takes at least 7 bytes; a count the data cannot hold is corrupt.
        if (self.header.record_count as u64) * 7 > data.len() as u64 {
            return Err(DecodeError::invalid(format!(
                "record count {} does not fit in {} bytes of records",
                self.header.record_count,
                data.len()
            )));
        }
        let log_append = match self.header.timestamp_type() {
            TimestampType::LogAppendTime => Some(self.header.max_timestamp),
            TimestampType::CreateTime => None,
        };
        Ok(Records {
            data,
            at: 0,
            remaining: self.header.record_count,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            log_append,
        })
    }
}

/// Iterator over a batch's records. After the declared count it checks that
/// no bytes are left over.
#[derive(Debug, Clone)]
pub struct Records {
    data: Bytes,
    /// Where the next record starts in `data`.
    at: usize,
    remaining: i32,
    base_offset: i64,
    base_timestamp: i64,
    log_append: Option<i64>,
}

/// A record as encoded in a batch, before offsets are made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The key.
    pub key: Option<Bytes>,
    /// The value.
    pub value: Option<Bytes>,
    /// The headers.
    pub headers: Vec<Header>,
}

impl Records {
    /// Records not yet read.
    pub fn remaining(&self) -> i32 {
        self.remaining
    }

    /// Reads the next record as encoded (deltas, not absolute values).
    pub fn next_raw(&mut self) -> Option<Result<RawRecord, DecodeError>> {
        if self.remaining <= 0 {
            if self.at < self.data.len() {
                let n = self.data.len() - self.at;
                self.at = self.data.len();
                return Some(Err(DecodeError::invalid(format!("{n} bytes left after the batch's last record"))));
            }
            return None;
        }
        self.remaining -= 1;
        let r = parse_record(&self.data, &mut self.at);
        if r.is_err() {
            self.remaining = 0;
            self.at = self.data.len();
        }
        Some(r)
    }
}

impl Iterator for Records {
    type Item = Result<Record, DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining <= 0 {
            // Only the leftover-bytes check remains.
            return match self.next_raw() {
                Some(Err(e)) => Some(Err(e)),
                _ => None,
            };
        }
        self.remaining -= 1;
        let (base_offset, base_timestamp, log_append) = (self.base_offset, self.base_timestamp, self.log_append);
        let r =
            parse_record_with(&self.data, &mut self.at, |offset_delta, timestamp_delta, key, value, headers| Record {
                offset: base_offset.saturating_add(i64::from(offset_delta)),
                timestamp: log_append.unwrap_or(base_timestamp.wrapping_add(timestamp_delta)),
                key,
                value,
                headers,
            });
        if r.is_err() {
            self.remaining = 0;
            self.at = self.data.len();
        }
        Some(r)
    }
}

/// Reads a varint-length-prefixed byte string (-1 is null) at `*pos` of
/// `body`, which spans `data[base..]`; the result shares `data`.
#[inline]
fn take_varbytes(data: &Bytes, body: &[u8], base: usize, pos: &mut usize) -> Result<Option<Bytes>, DecodeError> {
    let (len, n) = varint::decode_i32(body.get(*pos..).unwrap_or_default())?;
    *pos += n;
    if len < 0 {
        if len != -1 {
            return Err(DecodeError::invalid(format!("invalid record field length {len}")));
        }
        return Ok(None);
    }
    let len = len as usize;
    let left = body.len() - *pos;
    if len > left {
        return Err(DecodeError::invalid(format!("record field length {len} exceeds the {left} bytes left")));
    }
    let out = data.slice(base + *pos..base + *pos + len);
    *pos += len;
    Ok(Some(out))
}

/// Parses the record at `data[*at..]` and moves `*at` past it. Keys and
/// values are slices of `data`: one reference count each, no copy.
fn parse_record(data: &Bytes, at: &mut usize) -> Result<RawRecord, DecodeError> {
    parse_record_with(data, at, |offset_delta, timestamp_delta, key, value, headers| RawRecord {
        offset_delta,
        timestamp_delta,
        key,
        value,
        headers,
    })
}

/// [`parse_record`], building the caller's type in place from the fields
/// (offset delta, timestamp delta, key, value, headers).
#[inline(always)]
fn parse_record_with<T>(
    data: &Bytes,
    at: &mut usize,
    build: impl FnOnce(i32, i64, Option<Bytes>, Option<Bytes>, Vec<Header>) -> T,
) -> Result<T, DecodeError> {
    let rest = data.get(*at..).unwrap_or_default();
    let (len, n) = varint::decode_i32(rest)?;
    if len <= 0 || len as usize > rest.len() - n {
        if len == 0 {
            return Err(DecodeError::invalid("empty record"));
        }
        return Err(DecodeError::invalid(format!("record length {len} exceeds the {} bytes left", rest.len() - n)));
    }
    let base = *at + n;
    let body = &rest[n..n + len as usize];
    *at = base + body.len();
    let mut pos = 1usize; // attributes: unused
    let (timestamp_delta, k) = varint::decode_i64(body.get(pos..).unwrap_or_default())?;
    pos += k;
    let (offset_delta, k) = varint::decode_i32(body.get(pos..).unwrap_or_default())?;
    pos += k;
    let key = take_varbytes(data, body, base, &mut pos)?;
    let value = take_varbytes(data, body, base, &mut pos)?;
    let (count, k) = varint::decode_i32(body.get(pos..).unwrap_or_default())?;
    pos += k;
    if count < 0 || count as usize > body.len() - pos {
        return Err(DecodeError::invalid(format!("invalid header count {count}")));
    }
    let mut headers = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let Some(key) = take_varbytes(data, body, base, &mut pos)? else {
            return Err(DecodeError::invalid("null header key"));
        };
        let value = take_varbytes(data, body, base, &mut pos)?;
        headers.push(Header { key: String::from_utf8_lossy(&key).into_owned(), value });
    }
    if pos != body.len() {
        return Err(DecodeError::invalid(format!("record declares {} bytes but its fields take {pos}", body.len())));
    }
    Ok(build(offset_delta, timestamp_delta, key, value, headers))
}

/// Writes `offset` as the batch's base offset.
pub fn set_base_offset(batch: &mut [u8], offset: i64) {
    batch[OFF_BASE_OFFSET..OFF_BASE_OFFSET + 8].copy_from_slice(&offset.to_be_bytes());
}

/// Writes `epoch` as the batch's partition leader epoch.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Recomputes and writes the batch's CRC.
pub fn update_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[OFF_CRC..OFF_CRC + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Marks the batch LogAppendTime with `timestamp` as its max timestamp and
/// recomputes the CRC, as a broker does for topics with
/// `message.timestamp.type=LogAppendTime`.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) {
    let attrs = be_i16(batch, OFF_ATTRIBUTES) | ATTR_LOG_APPEND_TIME;
    batch[OFF_ATTRIBUTES..OFF_ATTRIBUTES + 2].copy_from_slice(&attrs.to_be_bytes());
    batch[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8].copy_from_slice(&timestamp.to_be_bytes());
    update_crc(batch);
}

/// Rewrites the producer id, epoch and base sequence and recomputes the CRC;
/// what an idempotent producer does when it renumbers an unsent batch.
pub fn set_producer_state(batch: &mut [u8], producer_id: i64, producer_epoch: i16, base_sequence: i32) {
    batch[OFF_PRODUCER_ID..OFF_PRODUCER_ID + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[OFF_PRODUCER_EPOCH..OFF_PRODUCER_EPOCH + 2].copy_from_slice(&producer_epoch.to_be_bytes());
    batch[OFF_BASE_SEQUENCE..OFF_BASE_SEQUENCE + 4].copy_from_slice(&base_sequence.to_be_bytes());
    update_crc(batch);
}
