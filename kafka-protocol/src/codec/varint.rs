//! Variable-length integers: unsigned LEB128 and zigzag, as Kafka uses them
//! in flexible versions and inside record batches. Hot in the record paths,
//! so the one-byte case is tested first and nothing allocates.

use bytes::BufMut;

use crate::error::{DecodeError, DecodeErrorKind};

/// Bytes needed for `v` as an unsigned varint.
#[inline]
pub fn len_u32(v: u32) -> usize {
    // 1 + floor(bits / 7), computed without a loop.
    let bits = 32 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes needed for `v` as an unsigned varlong.
#[inline]
pub fn len_u64(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes needed for `v` as a zigzag varint.
#[inline]
pub fn len_i32(v: i32) -> usize {
    len_u32(zigzag32(v))
}

/// Bytes needed for `v` as a zigzag varlong.
#[inline]
pub fn len_i64(v: i64) -> usize {
    len_u64(zigzag64(v))
}

/// Zigzag-maps a signed value so small magnitudes encode short.
#[inline]
pub fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Zigzag-maps a signed 64-bit value.
#[inline]
pub fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Writes `v` as an unsigned varint.
#[inline]
pub fn put_u32(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes `v` as an unsigned varlong.
#[inline]
pub fn put_u64(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes `v` as a zigzag varint.
#[inline]
pub fn put_i32(buf: &mut impl BufMut, v: i32) {
    put_u32(buf, zigzag32(v));
}

/// Writes `v` as a zigzag varlong.
#[inline]
pub fn put_i64(buf: &mut impl BufMut, v: i64) {
    put_u64(buf, zigzag64(v));
}

/// Decodes an unsigned varint from the front of `b`: the value and the bytes
/// it took. More than 5 bytes, or bits beyond 32, is an error.
#[inline]
pub fn decode_u32(b: &[u8]) -> Result<(u32, usize), DecodeError> {
    if let Some(&first) = b.first()
        && first < 0x80
    {
        return Ok((u32::from(first), 1));
    }
    let mut v: u32 = 0;
    for i in 0..5 {
        let Some(&byte) = b.get(i) else {
            return Err(DecodeErrorKind::UnexpectedEof { needed: i + 1, remaining: b.len() }.into());
        };
        if i == 4 && byte > 0x0f {
            return Err(DecodeErrorKind::VarintTooLong(5).into());
        }
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((v, i + 1));
        }
    }
    Err(DecodeErrorKind::VarintTooLong(5).into())
}

/// Decodes an unsigned varlong (at most 10 bytes) from the front of `b`.
#[inline]
pub fn decode_u64(b: &[u8]) -> Result<(u64, usize), DecodeError> {
    if let Some(&first) = b.first()
        && first < 0x80
    {
        return Ok((u64::from(first), 1));
    }
    let mut v: u64 = 0;
    for i in 0..10 {
        let Some(&byte) = b.get(i) else {
            return Err(DecodeErrorKind::UnexpectedEof { needed: i + 1, remaining: b.len() }.into());
        };
        if i == 9 && byte > 0x01 {
            return Err(DecodeErrorKind::VarintTooLong(10).into());
        }
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((v, i + 1));
        }
    }
    Err(DecodeErrorKind::VarintTooLong(10).into())
}

/// Decodes a zigzag varint from the front of `b`.
#[inline]
pub fn decode_i32(b: &[u8]) -> Result<(i32, usize), DecodeError> {
    let (u, n) = decode_u32(b)?;
    Ok((((u >> 1) as i32) ^ -((u & 1) as i32), n))
}

/// Decodes a zigzag varlong from the front of `b`.
#[inline]
pub fn decode_i64(b: &[u8]) -> Result<(i64, usize), DecodeError> {
    let (u, n) = decode_u64(b)?;
    Ok((((u >> 1) as i64) ^ -((u & 1) as i64), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        // Values and bytes from the protobuf / Kafka varint definition.
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, bytes) in cases {
            let mut out = Vec::new();
            put_i32(&mut out, v);
            assert_eq!(out, bytes, "encoding {v}");
            assert_eq!(len_i32(v), bytes.len());
            assert_eq!(decode_i32(bytes).unwrap(), (v, bytes.len()));
        }
    }

    #[test]
    fn rejects_overlong() {
        assert!(decode_u32(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
        assert!(decode_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f]).is_err());
        assert!(decode_u64(&[0xff; 11]).is_err());
        assert!(decode_u32(&[0x80]).is_err());
        assert!(decode_u32(&[]).is_err());
    }

    #[test]
    fn lengths_match_encoding() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_u64(&mut out, v);
            assert_eq!(out.len(), len_u64(v));
            assert_eq!(decode_u64(&out).unwrap(), (v, out.len()));
        }
    }
}
