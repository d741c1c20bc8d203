//! Checked reads from a `Bytes` cursor.
//!
//! `bytes::Buf` panics when asked for more than is there; every read here
//! checks first and returns a [`DecodeError`] instead. Lengths read from the
//! input are compared with what is left before anything is allocated, as
//! Kafka's own generated readers do, so a forged 2 GiB prefix on a 100-byte
//! buffer fails at once.

use bytes::{Buf, Bytes};

use crate::error::{DecodeError, DecodeErrorKind};

/// Fails unless `n` bytes are left.
#[inline]
pub fn ensure(r: &Bytes, n: usize) -> Result<(), DecodeError> {
    if r.len() < n {
        Err(DecodeError::new(DecodeErrorKind::UnexpectedEof { needed: n, remaining: r.len() }))
    } else {
        Ok(())
    }
}

/// Fails unless a length read from the input fits in what is left.
#[inline]
pub fn ensure_len(r: &Bytes, length: u64) -> Result<usize, DecodeError> {
    if length > r.len() as u64 {
        Err(DecodeError::new(DecodeErrorKind::LengthExceedsInput { length, remaining: r.len() }))
    } else {
        Ok(length as usize)
    }
}

macro_rules! fixed {
    ($($name:ident -> $t:ty = $get:ident;)*) => {$(
        #[doc = concat!("Reads a big-endian `", stringify!($t), "`.")]
        #[inline]
        pub fn $name(r: &mut Bytes) -> Result<$t, DecodeError> {
            ensure(r, std::mem::size_of::<$t>())?;
            Ok(r.$get())
        }
    )*};
}

fixed! {
    get_i8 -> i8 = get_i8;
    get_u8 -> u8 = get_u8;
    get_i16 -> i16 = get_i16;
    get_u16 -> u16 = get_u16;
    get_i32 -> i32 = get_i32;
    get_u32 -> u32 = get_u32;
    get_i64 -> i64 = get_i64;
    get_f64 -> f64 = get_f64;
}

/// Reads a boolean byte; like Kafka, any non-zero byte is true.
#[inline]
pub fn get_bool(r: &mut Bytes) -> Result<bool, DecodeError> {
    Ok(get_u8(r)? != 0)
}

/// Takes the next `n` bytes without copying.
#[inline]
pub fn take(r: &mut Bytes, n: usize) -> Result<Bytes, DecodeError> {
    ensure(r, n)?;
    Ok(r.split_to(n))
}

/// Reads an unsigned LEB128 varint of at most 5 bytes (a `u32`).
#[inline]
pub fn get_uvarint(r: &mut Bytes) -> Result<u32, DecodeError> {
    let (v, n) = crate::codec::varint::decode_u32(r.chunk())?;
    r.advance(n);
    Ok(v)
}

/// Reads an unsigned LEB128 varint of at most 10 bytes (a `u64`).
#[inline]
pub fn get_uvarlong(r: &mut Bytes) -> Result<u64, DecodeError> {
    let (v, n) = crate::codec::varint::decode_u64(r.chunk())?;
    r.advance(n);
    Ok(v)
}

/// Reads a zigzag varint (`i32`).
#[inline]
pub fn get_varint(r: &mut Bytes) -> Result<i32, DecodeError> {
    let u = get_uvarint(r)?;
    Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
}

/// Reads a zigzag varlong (`i64`).
#[inline]
pub fn get_varlong(r: &mut Bytes) -> Result<i64, DecodeError> {
    let u = get_uvarlong(r)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// Reads a string length: `i16` (-1 = null) or, in flexible versions, an
/// unsigned varint holding length + 1 (0 = null). Checked against the input.
#[inline]
pub fn get_string_len(r: &mut Bytes, flexible: bool) -> Result<Option<usize>, DecodeError> {
    let len = if flexible {
        match get_uvarint(r)? {
            0 => return Ok(None),
            n => u64::from(n - 1),
        }
    } else {
        match get_i16(r)? {
            -1 => return Ok(None),
            n if n < 0 => return Err(DecodeErrorKind::InvalidLength(n.into()).into()),
            n => n as u64,
        }
    };
    ensure_len(r, len).map(Some)
}

/// Reads a byte-array or array length: `i32` (-1 = null) or, in flexible
/// versions, an unsigned varint holding length + 1 (0 = null). Checked
/// against the input: every element takes at least one byte in every message
/// we speak, and Kafka's own readers apply the same rule.
#[inline]
pub fn get_bytes_len(r: &mut Bytes, flexible: bool) -> Result<Option<usize>, DecodeError> {
    let len = if flexible {
        match get_uvarint(r)? {
            0 => return Ok(None),
            n => u64::from(n - 1),
        }
    } else {
        match get_i32(r)? {
            -1 => return Ok(None),
            n if n < 0 => return Err(DecodeErrorKind::InvalidLength(n.into()).into()),
            n => n as u64,
        }
    };
    ensure_len(r, len).map(Some)
}

/// Reads `len` bytes as UTF-8.
pub fn get_str(r: &mut Bytes, len: usize) -> Result<String, DecodeError> {
    let raw = take(r, len)?;
    match std::str::from_utf8(&raw) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(DecodeErrorKind::InvalidUtf8.into()),
    }
}
