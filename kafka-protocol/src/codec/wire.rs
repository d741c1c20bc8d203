//! `Wire`: how one value of a message is laid out, for every type a message
//! field can have. The generated structs implement it for themselves; this
//! file implements it for primitives, strings, bytes, UUIDs and arrays.
//!
//! `flexible` selects the compact forms of KIP-482 (unsigned-varint lengths
//! holding length + 1, so that 0 means null) used by flexible versions.

use bytes::Bytes;

use super::read::*;
use super::varint;
use super::writer::*;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
use crate::uuid::Uuid;

/// A value with a wire layout that may depend on the message version.
pub trait Wire: Sized {
    /// Appends the value.
    fn write_to(&self, w: &mut Writer, version: i16, flexible: bool) -> Result<(), EncodeError>;
    /// Reads a value from the front of `r`.
    fn read_from(r: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError>;
    /// The number of bytes `write_to` appends (assuming it succeeds).
    fn wire_len(&self, version: i16, flexible: bool) -> usize;
}

macro_rules! fixed_wire {
    ($($t:ty => $put:ident, $get:ident;)*) => {$(
        impl Wire for $t {
            #[inline]
            fn write_to(&self, w: &mut Writer, _: i16, _: bool) -> Result<(), EncodeError> {
                $put(w, *self);
                Ok(())
            }
            #[inline]
            fn read_from(r: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
                $get(r)
            }
            #[inline]
            fn wire_len(&self, _: i16, _: bool) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}

fixed_wire! {
    i8 => put_i8, get_i8;
    i16 => put_i16, get_i16;
    i32 => put_i32, get_i32;
    i64 => put_i64, get_i64;
    u16 => put_u16, get_u16;
    u32 => put_u32, get_u32;
    f64 => put_f64, get_f64;
}

impl Wire for bool {
    #[inline]
    fn write_to(&self, w: &mut Writer, _: i16, _: bool) -> Result<(), EncodeError> {
        put_u8(w, u8::from(*self));
        Ok(())
    }
    #[inline]
    fn read_from(r: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
        get_bool(r)
    }
    #[inline]
    fn wire_len(&self, _: i16, _: bool) -> usize {
        1
    }
}

impl Wire for Uuid {
    fn write_to(&self, w: &mut Writer, _: i16, _: bool) -> Result<(), EncodeError> {
        put_slice(w, self.as_bytes());
        Ok(())
    }
    fn read_from(r: &mut Bytes, _: i16, _: bool) -> Result<Self, DecodeError> {
        let raw = take(r, 16)?;
        let mut b = [0u8; 16];
        b.copy_from_slice(&raw);
        Ok(Uuid::from_bytes(b))
    }
    fn wire_len(&self, _: i16, _: bool) -> usize {
        16
    }
}

/// Writes the length prefix of a string, bytes or array; `None` is null.
fn put_len(w: &mut Writer, len: Option<usize>, flexible: bool, short: bool) -> Result<(), EncodeError> {
    match (len, flexible) {
        (None, true) => put_uvarint(w, 0),
        (None, false) if short => put_i16(w, -1),
        (None, false) => put_i32(w, -1),
        (Some(n), true) => {
            if n >= u32::MAX as usize {
                return Err(EncodeErrorKind::TooLong { len: n, max: u32::MAX as usize - 1 }.into());
            }
            put_uvarint(w, n as u32 + 1);
        }
        (Some(n), false) if short => {
            if n > i16::MAX as usize {
                return Err(EncodeErrorKind::TooLong { len: n, max: i16::MAX as usize }.into());
            }
            put_i16(w, n as i16);
        }
        (Some(n), false) => {
            if n > i32::MAX as usize {
                return Err(EncodeErrorKind::TooLong { len: n, max: i32::MAX as usize }.into());
            }
            put_i32(w, n as i32);
        }
    }
    Ok(())
}

#[inline]
fn len_len(len: Option<usize>, flexible: bool, short: bool) -> usize {
    match (len, flexible) {
        (None, true) => 1,
        (Some(n), true) => varint::len_u32((n as u32).wrapping_add(1)),
        (_, false) if short => 2,
        (_, false) => 4,
    }
}

impl Wire for String {
    fn write_to(&self, w: &mut Writer, _: i16, flexible: bool) -> Result<(), EncodeError> {
        put_len(w, Some(self.len()), flexible, true)?;
        put_slice(w, self.as_bytes());
        Ok(())
    }
    fn read_from(r: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        match get_string_len(r, flexible)? {
            Some(n) => get_str(r, n),
            None => Err(DecodeErrorKind::UnexpectedNull.into()),
        }
    }
    fn wire_len(&self, _: i16, flexible: bool) -> usize {
        len_len(Some(self.len()), flexible, true) + self.len()
    }
}

impl Wire for Option<String> {
    fn write_to(&self, w: &mut Writer, v: i16, flexible: bool) -> Result<(), EncodeError> {
        match self {
            Some(s) => s.write_to(w, v, flexible),
            None => put_len(w, None, flexible, true),
        }
    }
    fn read_from(r: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        match get_string_len(r, flexible)? {
            Some(n) => get_str(r, n).map(Some),
            None => Ok(None),
        }
    }
    fn wire_len(&self, v: i16, flexible: bool) -> usize {
        match self {
            Some(s) => s.wire_len(v, flexible),
            None => len_len(None, flexible, true),
        }
    }
}

impl Wire for Bytes {
    fn write_to(&self, w: &mut Writer, _: i16, flexible: bool) -> Result<(), EncodeError> {
        put_len(w, Some(self.len()), flexible, false)?;
        put_slice(w, self);
        Ok(())
    }
    fn read_from(r: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        match get_bytes_len(r, flexible)? {
            Some(n) => take(r, n),
            None => Err(DecodeErrorKind::UnexpectedNull.into()),
        }
    }
    fn wire_len(&self, _: i16, flexible: bool) -> usize {
        len_len(Some(self.len()), flexible, false) + self.len()
    }
}

impl Wire for Option<Bytes> {
    fn write_to(&self, w: &mut Writer, v: i16, flexible: bool) -> Result<(), EncodeError> {
        match self {
            Some(b) => b.write_to(w, v, flexible),
            None => put_len(w, None, flexible, false),
        }
    }
    fn read_from(r: &mut Bytes, _: i16, flexible: bool) -> Result<Self, DecodeError> {
        match get_bytes_len(r, flexible)? {
            Some(n) => take(r, n).map(Some),
            None => Ok(None),
        }
    }
    fn wire_len(&self, v: i16, flexible: bool) -> usize {
        match self {
            Some(b) => b.wire_len(v, flexible),
            None => len_len(None, flexible, false),
        }
    }
}

/// Writes a `records` field: nullable bytes, handed to the writer by
/// reference so large batches are not copied into the frame.
pub fn encode_records(records: &Option<Bytes>, w: &mut Writer, flexible: bool) {
    match records {
        Some(b) => {
            // Record sets never approach 2 GiB; the frame limit stops them first.
            let _ = put_len(w, Some(b.len()), flexible, false);
            w.put_shared(b);
        }
        None => {
            let _ = put_len(w, None, flexible, false);
        }
    }
}

fn read_elements<T: Wire>(r: &mut Bytes, n: usize, version: i16, flexible: bool) -> Result<Vec<T>, DecodeError> {
    // `n` is already bounded by the bytes left; start small anyway, since an
    // element may be far larger in memory than on the wire.
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        out.push(T::read_from(r, version, flexible)?);
    }
    Ok(out)
}

impl<T: Wire> Wire for Vec<T> {
    fn write_to(&self, w: &mut Writer, version: i16, flexible: bool) -> Result<(), EncodeError> {
        put_len(w, Some(self.len()), flexible, false)?;
        for e in self {
            e.write_to(w, version, flexible)?;
        }
        Ok(())
    }
    fn read_from(r: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError> {
        match get_bytes_len(r, flexible)? {
            Some(n) => read_elements(r, n, version, flexible),
            None => Err(DecodeErrorKind::UnexpectedNull.into()),
        }
    }
    fn wire_len(&self, version: i16, flexible: bool) -> usize {
        len_len(Some(self.len()), flexible, false) + self.iter().map(|e| e.wire_len(version, flexible)).sum::<usize>()
    }
}

impl<T: Wire> Wire for Option<Vec<T>> {
    fn write_to(&self, w: &mut Writer, version: i16, flexible: bool) -> Result<(), EncodeError> {
        match self {
            Some(v) => v.write_to(w, version, flexible),
            None => put_len(w, None, flexible, false),
        }
    }
    fn read_from(r: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError> {
        match get_bytes_len(r, flexible)? {
            Some(n) => read_elements(r, n, version, flexible).map(Some),
            None => Ok(None),
        }
    }
    fn wire_len(&self, version: i16, flexible: bool) -> usize {
        match self {
            Some(v) => v.wire_len(version, flexible),
            None => len_len(None, flexible, false),
        }
    }
}
