//! The output of every encoder.
//!
//! A `Writer` is a growing buffer that can also take large `Bytes` by
//! reference: record batches inside a Produce request (client) or a Fetch
//! response (broker) are not copied into the frame but kept as separate
//! parts, ready for a vectored write. Small values are copied, since a part
//! costs more than copying a few hundred bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// Shared bytes shorter than this are copied instead of referenced.
const SHARE_MIN: usize = 1024;

/// An encoding buffer; see the module docs.
#[derive(Debug, Default)]
pub struct Writer {
    buf: BytesMut,
    parts: Vec<Bytes>,
    parts_len: usize,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty writer with room for `n` bytes before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        Writer { buf: BytesMut::with_capacity(n), parts: Vec::new(), parts_len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.parts_len + self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer being appended to, for callers that write with `BufMut`.
    #[inline]
    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends `b`, by reference when it is large.
    pub fn put_shared(&mut self, b: &Bytes) {
        if b.len() < SHARE_MIN {
            self.buf.extend_from_slice(b);
            return;
        }
        if !self.buf.is_empty() {
            let head = self.buf.split().freeze();
            self.parts_len += head.len();
            self.parts.push(head);
        }
        self.parts_len += b.len();
        self.parts.push(b.clone());
    }

    /// The written bytes as parts, in order, for a vectored write.
    pub fn into_parts(mut self) -> Vec<Bytes> {
        if !self.buf.is_empty() {
            self.parts.push(self.buf.freeze());
        }
        self.parts
    }

    /// The written bytes as one buffer (copies when there are several parts).
    pub fn into_bytes(mut self) -> Bytes {
        if self.parts.is_empty() {
            return self.buf.freeze();
        }
        let mut out = BytesMut::with_capacity(self.len());
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&self.buf);
        self.parts.clear();
        out.freeze()
    }
}

macro_rules! put_fixed {
    ($($name:ident($t:ty) = $put:ident;)*) => {$(
        #[doc = concat!("Appends a big-endian `", stringify!($t), "`.")]
        #[inline]
        pub fn $name(w: &mut Writer, v: $t) {
            w.buf.$put(v);
        }
    )*};
}

put_fixed! {
    put_i8(i8) = put_i8;
    put_u8(u8) = put_u8;
    put_i16(i16) = put_i16;
    put_u16(u16) = put_u16;
    put_i32(i32) = put_i32;
    put_u32(u32) = put_u32;
    put_i64(i64) = put_i64;
    put_f64(f64) = put_f64;
}

/// Appends an unsigned varint.
#[inline]
pub fn put_uvarint(w: &mut Writer, v: u32) {
    crate::codec::varint::put_u32(&mut w.buf, v);
}

/// Appends raw bytes.
#[inline]
pub fn put_slice(w: &mut Writer, b: &[u8]) {
    w.buf.put_slice(b);
}
