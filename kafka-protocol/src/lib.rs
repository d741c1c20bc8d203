//! The Apache Kafka wire protocol, byte-exact with Kafka 4.4.0 (and every older 4.x broker it negotiates with), without I/O.
//!
//! - [`codec`]: primitives (integers, varints, strings, bytes, arrays, UUIDs,
//!   tagged fields) and the [`codec::Writer`] every encoder appends to.
//! - [`api`]: the version table of the pinned release ([`api::KAFKA_RELEASE`]).
//! - [`header`] and [`frame`]: request and response headers, size-prefixed frames.
//! - [`messages`]: every request and response we speak, generated from the
//!   declarations in `schema/*.def`.
//! - [`records`]: record batches (v2, CRC32C) and legacy message sets.
//! - [`compression`]: gzip, snappy (raw and xerial), lz4 (frame), zstd.
//! - [`error_code`]: Kafka's error codes and what a client should do about each.
//!
//! Decoders never panic and never allocate more than their input justifies;
//! they return [`DecodeError`] with the path of fields that led to the fault.
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod codec;
pub mod compression;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod header;
pub mod json;
pub mod messages;
pub mod records;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod uuid;

pub use api::{ApiInfo, ApiKey, KAFKA_RELEASE, VersionRange};
pub use compression::Compression;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
pub use error_code::{ErrorClass, ErrorCode};
pub use uuid::Uuid;
