//! Tagged fields (KIP-482): the section at the end of every struct in a
//! flexible version. Each entry is `tag, size, value`, all unsigned varints
//! but the value; entries are written in ascending tag order. Tags a decoder
//! does not know are kept as raw bytes and written back unchanged.

use bytes::Bytes;

use super::read::*;
use super::varint;
use super::wire::Wire;
use super::writer::*;
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};

/// A tagged field this crate does not know, kept as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The value's bytes, without tag and size.
    pub data: Bytes,
}

impl RawTaggedField {
    /// Appends tag, size and data.
    pub fn write(&self, w: &mut Writer) {
        put_uvarint(w, self.tag);
        put_uvarint(w, self.data.len() as u32);
        put_slice(w, &self.data);
    }

    fn wire_len(&self) -> usize {
        tagged_field_len(self.tag, self.data.len())
    }
}

/// Bytes taken by one tagged field whose value is `len` bytes.
#[inline]
pub fn tagged_field_len(tag: u32, len: usize) -> usize {
    varint::len_u32(tag) + varint::len_u32(len as u32) + len
}

/// Bytes taken by the unknown fields plus the section's count prefix.
pub fn unknown_tagged_len(unknown: &[RawTaggedField], count: usize) -> usize {
    varint::len_u32(count as u32) + unknown.iter().map(RawTaggedField::wire_len).sum::<usize>()
}

/// Appends a known tagged field; its value is always in the compact form.
pub fn write_tagged_field<T: Wire>(w: &mut Writer, tag: u32, value: &T, version: i16) -> Result<(), EncodeError> {
    put_uvarint(w, tag);
    put_uvarint(w, value.wire_len(version, true) as u32);
    value.write_to(w, version, true)
}

/// Reads a tagged-field section, handing each entry's tag and bytes to `f`.
pub fn read_tagged_fields(
    r: &mut Bytes,
    mut f: impl FnMut(u32, Bytes) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let count = get_uvarint(r)?;
    // Each entry takes at least two bytes (tag and size).
    ensure_len(r, u64::from(count) * 2).map_err(|e| e.at("tagged fields"))?;
    for _ in 0..count {
        let tag = get_uvarint(r)?;
        let size = get_uvarint(r)?;
        let size = ensure_len(r, u64::from(size))?;
        let data = r.split_to(size);
        f(tag, data)?;
    }
    Ok(())
}

/// Decodes a known tagged field's value, which must fill its bytes exactly.
pub fn read_tagged_value<T: Wire>(data: &mut Bytes, version: i16) -> Result<T, DecodeError> {
    let v = T::read_from(data, version, true)?;
    if !data.is_empty() {
        return Err(DecodeErrorKind::TaggedFieldTrailing(data.len()).into());
    }
    Ok(v)
}
