//! Primitive encodings shared by every message: fixed-width integers,
//! varints, strings, byte arrays, arrays, UUIDs and tagged fields, plus the
//! [`Writer`] encoders append to. Messages are built from these by the
//! generated code; record batches use the varint functions directly.

mod read;
mod tagged;
pub mod varint;
mod wire;
mod writer;

pub use read::*;
pub use tagged::*;
pub use wire::*;
pub use writer::*;
