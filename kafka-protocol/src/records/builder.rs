//! Writing a record batch v2.
//!
//! Records are encoded straight into the batch's buffer as they are appended
//! (after room for the header); `finish` fills in the header and the CRC,
//! compressing the record area first when the batch is compressed. This is
//! the producer's per-record path, so `append` does arithmetic and copies
//! and nothing else.

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{self, HEADER_LEN, LOG_OVERHEAD};
use super::control::ControlRecord;
use super::{Header, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
use crate::codec::varint;
use crate::compression::{self, Compression};
use crate::error::{EncodeError, EncodeErrorKind};

/// Builds one record batch; see the module docs.
///
/// ```
/// use kafka_protocol::records::{BatchBuilder, RecordBatch};
/// use kafka_protocol::Compression;
///
/// let mut b = BatchBuilder::new(Compression::None, None);
/// b.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]);
/// let batch = RecordBatch::new(b.finish().unwrap()).unwrap();
/// batch.verify_crc().unwrap();
/// let rec = batch.records(1 << 20).unwrap().next().unwrap().unwrap();
/// assert_eq!(rec.value.as_deref(), Some(&b"value"[..]));
/// ```
#[derive(Debug)]
pub struct BatchBuilder {
    buf: BytesMut,
    compression: Compression,
    level: Option<i32>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
}

impl BatchBuilder {
    /// An empty batch compressed with `compression` at `level` (None: the
    /// codec's default).
    pub fn new(compression: Compression, level: Option<i32>) -> Self {
        Self::with_capacity(compression, level, 1024)
    }

    /// Like [`Self::new`], with room for `capacity` bytes of records.
    pub fn with_capacity(compression: Compression, level: Option<i32>, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(HEADER_LEN + capacity);
        buf.put_bytes(0, HEADER_LEN);
        BatchBuilder {
            buf,
            compression,
            level,
            count: 0,
            base_timestamp: 0,
            max_timestamp: -1,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
        }
    }

    /// Sets the idempotent producer's id, epoch and first sequence number.
    pub fn set_producer(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
    }

    /// Marks the batch transactional.
    pub fn set_transactional(&mut self, transactional: bool) {
        self.transactional = transactional;
    }

    /// Sets the base offset (0 for a producer; the broker assigns offsets).
    pub fn set_base_offset(&mut self, offset: i64) {
        self.base_offset = offset;
    }

    /// Sets the partition leader epoch (-1 for a producer).
    pub fn set_partition_leader_epoch(&mut self, epoch: i32) {
        self.partition_leader_epoch = epoch;
    }

    /// Records appended so far.
    pub fn count(&self) -> i32 {
        self.count
    }

    /// True before the first record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the batch so far, uncompressed, header included: an upper
    /// bound of the finished size for uncompressed batches and the basis of
    /// `batch.size` accounting.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// The encoded size of a record with these fields, length prefix included.
    #[inline]
    pub fn record_size(
        timestamp_delta: i64,
        offset_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        let body = body_len(timestamp_delta, offset_delta, key, value, headers);
        varint::len_i32(body as i32) + body
    }

    /// What the next record would add to [`Self::size`], given its timestamp.
    #[inline]
    pub fn size_of_next(&self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
        let delta = if self.count == 0 { 0 } else { timestamp.wrapping_sub(self.base_timestamp) };
        Self::record_size(delta, self.count, key, value, headers)
    }

    /// Appends a record with timestamp `timestamp` (milliseconds); returns its
    /// offset delta.
    #[inline]
    pub fn append(&mut self, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> i32 {
        if self.count == 0 {
            self.base_timestamp = timestamp;
        }
        let ts_delta = timestamp.wrapping_sub(self.base_timestamp);
        let offset_delta = self.count;
        let body = body_len(ts_delta, offset_delta, key, value, headers);
        let buf = &mut self.buf;
        buf.reserve(body + 5);
        // The small fields go through a stack buffer, so the batch buffer
        // sees a few slice copies per record rather than a call per byte.
        let mut head = Varints::new();
        head.i32(body as i32);
        head.byte(0); // record attributes, unused
        head.i64(ts_delta);
        head.i32(offset_delta);
        head.len_of(key);
        match key {
            Some(k) => {
                buf.put_slice(head.as_slice());
                buf.put_slice(k);
                let mut mid = Varints::new();
                mid.len_of(value);
                buf.put_slice(mid.as_slice());
            }
            // No key bytes in between: the value's length joins the head.
            None => {
                head.len_of(value);
                buf.put_slice(head.as_slice());
            }
        }
        if let Some(v) = value {
            buf.put_slice(v);
        }
        varint::put_i32(buf, headers.len() as i32);
        for h in headers {
            put_varbytes(buf, Some(h.key.as_bytes()));
            put_varbytes(buf, h.value.as_deref());
        }
        self.count += 1;
        if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        offset_delta
    }

    /// Appends a control record (a transaction marker) and marks the batch
    /// as a transactional control batch.
    pub fn append_control(&mut self, timestamp: i64, record: &ControlRecord) -> i32 {
        self.control = true;
        self.transactional = true;
        let key = record.key_bytes();
        let value = record.value_bytes();
        self.append(timestamp, Some(&key), Some(&value), &[])
    }

    /// Fills in the header (compressing the records when asked) and returns
    /// the finished batch. An empty batch is an error.
    pub fn finish(self) -> Result<Bytes, EncodeError> {
        if self.count == 0 {
            return Err(EncodeErrorKind::Invalid("a record batch needs at least one record".into()).into());
        }
        let mut out = if self.compression == Compression::None {
            self.buf
        } else {
            let mut packed = Vec::with_capacity(HEADER_LEN + self.buf.len() / 2);
            packed.resize(HEADER_LEN, 0);
            compression::compress(self.compression, self.level, &self.buf[HEADER_LEN..], &mut packed)
                .map_err(|e| EncodeError::new(EncodeErrorKind::Invalid(e.to_string())))?;
            BytesMut::from(&packed[..])
        };
        let len = out.len();
        if len - LOG_OVERHEAD > i32::MAX as usize {
            return Err(EncodeErrorKind::TooLong { len, max: i32::MAX as usize }.into());
        }
        let mut attributes = i16::from(self.compression.id());
        if self.transactional {
            attributes |= 0x10;
        }
        if self.control {
            attributes |= 0x20;
        }
        let h = &mut out[..HEADER_LEN];
        h[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        h[8..12].copy_from_slice(&((len - LOG_OVERHEAD) as i32).to_be_bytes());
        h[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        h[16] = 2;
        h[21..23].copy_from_slice(&attributes.to_be_bytes());
        h[23..27].copy_from_slice(&(self.count - 1).to_be_bytes());
        h[27..35].copy_from_slice(&self.base_timestamp.to_be_bytes());
        h[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        h[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        h[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        h[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        h[57..61].copy_from_slice(&self.count.to_be_bytes());
        batch::update_crc(&mut out);
        Ok(out.freeze())
    }
}

/// Varints written into a stack buffer (at most 5 + 1 + 10 + 5 + 5 bytes
/// per record head).
struct Varints {
    buf: [u8; 32],
    len: usize,
}

impl Varints {
    #[inline]
    fn new() -> Self {
        Varints { buf: [0; 32], len: 0 }
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    #[inline]
    fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    #[inline]
    fn i32(&mut self, v: i32) {
        self.u64(u64::from(varint::zigzag32(v)));
    }

    #[inline]
    fn i64(&mut self, v: i64) {
        self.u64(varint::zigzag64(v));
    }

    /// The length prefix of a nullable byte string (-1 for null).
    #[inline]
    fn len_of(&mut self, b: Option<&[u8]>) {
        self.i32(b.map_or(-1, |b| b.len() as i32));
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[inline]
fn varbytes_len(b: Option<&[u8]>) -> usize {
    match b {
        None => 1,
        Some(b) => varint::len_i32(b.len() as i32) + b.len(),
    }
}

#[inline]
fn put_varbytes(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        None => varint::put_i32(buf, -1),
        Some(b) => {
            varint::put_i32(buf, b.len() as i32);
            buf.put_slice(b);
        }
    }
}

#[inline]
fn body_len(ts_delta: i64, offset_delta: i32, key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> usize {
    let mut n = 1 + varint::len_i64(ts_delta) + varint::len_i32(offset_delta) + varbytes_len(key) + varbytes_len(value);
    n += varint::len_i32(headers.len() as i32);
    for h in headers {
        n += varbytes_len(Some(h.key.as_bytes())) + varbytes_len(h.value.as_deref());
    }
    n
}
