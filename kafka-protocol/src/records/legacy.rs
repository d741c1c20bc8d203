//! Message sets of magic 0 and 1 (Kafka before 0.11), decoded for reading old
//! data. Kafka 4 no longer writes them, and neither does this crate.
//!
//! ```text
//! offset i64 | size i32 | crc u32 (CRC32 IEEE of magic..end) | magic i8 |
//! attributes i8 | timestamp i64 (magic 1 only) | key bytes | value bytes
//! ```
//!
//! A compressed message is a wrapper whose value is a compressed message set.
//! Inner offsets are absolute in magic 0; in magic 1 they are relative and
//! the wrapper carries the absolute offset of the last inner message.

use bytes::{Buf, Bytes};

use super::TimestampType;
use crate::compression::{self, Compression};
use crate::error::DecodeError;

/// A record read from a legacy message set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRecord {
    /// Absolute offset.
    pub offset: i64,
    /// Format version: 0 or 1.
    pub magic: i8,
    /// Timestamp in milliseconds; -1 for magic 0.
    pub timestamp: i64,
    /// How the timestamp was set (always CreateTime for magic 0).
    pub timestamp_type: TimestampType,
    /// The key.
    pub key: Option<Bytes>,
    /// The value.
    pub value: Option<Bytes>,
}

struct Message {
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn take_bytes(b: &mut Bytes) -> Result<Option<Bytes>, DecodeError> {
    if b.len() < 4 {
        return Err(DecodeError::invalid("legacy message truncated"));
    }
    let len = b.get_i32();
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > b.len() {
        return Err(DecodeError::invalid(format!(
            "legacy message field length {len} exceeds the {} bytes left",
            b.len()
        )));
    }
    Ok(Some(b.split_to(len as usize)))
}

/// Parses one message (offset and size included) from the front of `b`;
/// None when `b` holds only part of one.
fn next_message(b: &mut Bytes, check_crc: bool) -> Result<Option<Message>, DecodeError> {
    if b.len() < 12 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
    if size < 14 {
        return Err(DecodeError::invalid(format!("legacy message size {size} is below the minimum")));
    }
    if b.len() < 12 + size as usize {
        return Ok(None);
    }
    let offset = b.get_i64();
    let _ = b.get_i32();
    let mut m = b.split_to(size as usize);
    let crc = m.get_u32();
    if check_crc && crc32fast::hash(&m) != crc {
        return Err(DecodeError::invalid(format!("legacy message at offset {offset} fails its CRC32")));
    }
    let magic = m.get_i8();
    let attributes = m.get_i8();
    let timestamp = match magic {
        0 => -1,
        1 if m.len() >= 8 => m.get_i64(),
        1 => return Err(DecodeError::invalid("legacy message truncated")),
        _ => {
            return Err(DecodeError::invalid(format!("message magic {magic} is not a legacy format")));
        }
    };
    let key = take_bytes(&mut m)?;
    let value = take_bytes(&mut m)?;
    if !m.is_empty() {
        return Err(DecodeError::invalid(format!("{} bytes left over in a legacy message", m.len())));
    }
    Ok(Some(Message { offset, magic, attributes, timestamp, key, value }))
}

/// Decodes a legacy message set, expanding compressed wrappers (whose
/// contents may decompress to at most `decompress_limit` bytes each). A
/// trailing partial message is ignored, as a fetch may end in one.
pub fn decode_message_set(
    mut bytes: Bytes,
    decompress_limit: usize,
    check_crc: bool,
) -> Result<Vec<LegacyRecord>, DecodeError> {
    let mut out = Vec::new();
    while let Some(m) = next_message(&mut bytes, check_crc)? {
        let codec_id = (m.attributes & 0x07) as u8;
        let codec = Compression::from_id(codec_id)
            .ok_or_else(|| DecodeError::invalid(format!("unknown compression codec id {codec_id}")))?;
        let ts_type = if m.magic == 1 && m.attributes & 0x08 != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        if codec == Compression::None {
            out.push(LegacyRecord {
                offset: m.offset,
                magic: m.magic,
                timestamp: m.timestamp,
                timestamp_type: ts_type,
                key: m.key,
                value: m.value,
            });
            continue;
        }
        let Some(packed) = m.value else {
            return Err(DecodeError::invalid("compressed legacy message without a value"));
        };
        let inner = if codec == Compression::Lz4 && m.magic == 0 {
            compression::decompress_legacy_lz4(&packed, decompress_limit)
        } else {
            compression::decompress(codec, &packed, decompress_limit)
        }
        .map_err(|e| DecodeError::invalid(e.to_string()))?;
        let mut inner = Bytes::from(inner);
        let mut msgs = Vec::new();
        while let Some(im) = next_message(&mut inner, check_crc)? {
            if im.attributes & 0x07 != 0 {
                return Err(DecodeError::invalid("nested compression in a legacy message set"));
            }
            msgs.push(im);
        }
        if !inner.is_empty() {
            return Err(DecodeError::invalid("truncated message inside a compressed legacy message"));
        }
        let last_relative = msgs.last().map_or(0, |im| im.offset);
        for im in msgs {
            let offset = if m.magic == 0 {
                im.offset
            } else {
                // Hostile inner offsets must not overflow: they are data, not arithmetic we trust.
                m.offset.checked_sub(last_relative).and_then(|o| o.checked_add(im.offset)).ok_or_else(|| {
                    DecodeError::invalid(format!(
                        "legacy wrapper at offset {} has inner offset {} out of range",
                        m.offset, im.offset
                    ))
                })?
            };
            let timestamp = if ts_type == TimestampType::LogAppendTime { m.timestamp } else { im.timestamp };
            out.push(LegacyRecord {
                offset,
                magic: im.magic,
                timestamp,
                timestamp_type: ts_type,
                key: im.key,
                value: im.value,
            });
        }
    }
    Ok(out)
}

/// Encodes one uncompressed legacy message; for tests and fixtures only,
/// since Kafka 4 does not accept these formats.
pub fn encode_message(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = Vec::new();
    body.push(magic as u8);
    body.push(attributes as u8);
    if magic == 1 {
        body.extend_from_slice(&timestamp.to_be_bytes());
    }
    for f in [key, value] {
        match f {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                body.extend_from_slice(&(b.len() as i32).to_be_bytes());
                body.extend_from_slice(b);
            }
        }
    }
    let crc = crc32fast::hash(&body);
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_messages_of_both_magics() {
        let mut set = encode_message(5, 0, 0, -1, Some(b"k0"), Some(b"v0"));
        set.extend(encode_message(6, 1, 0, 1234, None, Some(b"v1")));
        let recs = decode_message_set(Bytes::from(set), 1 << 20, true).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].offset, recs[0].timestamp, recs[0].key.as_deref()), (5, -1, Some(&b"k0"[..])));
        assert_eq!((recs[1].offset, recs[1].timestamp, recs[1].key.as_deref()), (6, 1234, None));
    }

    #[test]
    fn compressed_magic1_wrapper_uses_relative_offsets() {
        let mut inner = Vec::new();
        for i in 0..3 {
            inner.extend(encode_message(i, 1, 0, 100 + i, None, Some(format!("v{i}").as_bytes())));
        }
        let mut packed = Vec::new();
        compression::compress(Compression::Gzip, None, &inner, &mut packed).unwrap();
        // The wrapper's offset is the absolute offset of the last inner message.
        let wrapper = encode_message(42, 1, 1, 102, None, Some(&packed));
        let recs = decode_message_set(Bytes::from(wrapper), 1 << 20, true).unwrap();
        let offsets: Vec<i64> = recs.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [40, 41, 42]);
        assert_eq!(recs[2].value.as_deref(), Some(&b"v2"[..]));
    }

    #[test]
    fn hostile_relative_offsets_are_an_error_not_an_overflow() {
        let mut inner = encode_message(i64::MIN, 1, 0, 1, None, Some(b"a"));
        inner.extend(encode_message(i64::MAX, 1, 0, 1, None, Some(b"b")));
        let mut packed = Vec::new();
        compression::compress(Compression::Gzip, None, &inner, &mut packed).unwrap();
        let wrapper = encode_message(i64::MIN, 1, 1, 1, None, Some(&packed));
        let err = decode_message_set(Bytes::from(wrapper), 1 << 20, true).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn bad_crc_and_partial_tail() {
        let mut set = encode_message(0, 1, 0, 1, None, Some(b"x"));
        let whole = set.len();
        set.extend(encode_message(1, 1, 0, 1, None, Some(b"yy")));
        set.truncate(set.len() - 2);
        assert_eq!(decode_message_set(Bytes::from(set.clone()), 1 << 20, true).unwrap().len(), 1);
        set[whole - 1] ^= 0xff;
        assert!(decode_message_set(Bytes::from(set), 1 << 20, true).is_err());
    }
}
