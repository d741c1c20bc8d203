//! Encoding and decoding errors.
//!
//! Both carry the path of fields that led to the failure, so a bad byte deep
//! in a response reads as `FetchResponse.responses.partitions.records: …`.
//! The path is only built on the error path; success costs nothing.

use std::fmt;

/// Why a decoder rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the value did.
    #[error("input ends early: {needed} bytes needed, {remaining} left")]
    UnexpectedEof {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length prefix promises more bytes (or elements) than the input holds.
    #[error("length {length} exceeds the {remaining} bytes left")]
    LengthExceedsInput {
        /// The length read.
        length: u64,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length that no encoder writes (for example -2).
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// A variable-length integer that runs past its maximum size.
    #[error("variable-length integer longer than {0} bytes")]
    VarintTooLong(usize),
    /// A string that is not UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A null where the version does not allow one.
    #[error("null value where the version does not allow null")]
    UnexpectedNull,
    /// A known tagged field whose declared size does not match its value.
    #[error("tagged field has {0} bytes left over after its value")]
    TaggedFieldTrailing(usize),
    /// An API key this crate does not speak.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// A version outside what this crate speaks for the message.
    #[error("{name} version {version} is not supported (supported: {min} to {max})")]
    UnsupportedVersion {
        /// The message.
        name: &'static str,
        /// The version asked for.
        version: i16,
        /// Lowest supported version.
        min: i16,
        /// Highest supported version.
        max: i16,
    },
    /// Bytes left over after a message that should fill its frame.
    #[error("{0} bytes left over after the message")]
    TrailingBytes(usize),
    /// A structural rule of records or framing was broken.
    #[error("{0}")]
    Invalid(String),
}

/// A decoding failure and the fields that led to it.
///
/// Boxed: decoders return `Result<_, DecodeError>` from every primitive,
/// and a pointer-sized error keeps those results small on the hot path;
/// errors themselves are rare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    inner: Box<DecodeErrorInner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DecodeErrorInner {
    kind: DecodeErrorKind,
    /// Innermost first; displayed outermost first.
    path: Vec<&'static str>,
}

impl DecodeError {
    /// An error of `kind` with no path yet.
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError { inner: Box::new(DecodeErrorInner { kind, path: Vec::new() }) }
    }

    /// A structural error described by `msg`.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(DecodeErrorKind::Invalid(msg.into()))
    }

    /// Records that the failure happened inside `field`.
    #[must_use]
    pub fn at(mut self, field: &'static str) -> Self {
        self.inner.path.push(field);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.inner.kind
    }

    /// The fields leading to the failure, outermost first.
    pub fn path(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.inner.path.iter().rev().copied()
    }
}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError::new(kind)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for p in self.path() {
            if !first {
                f.write_str(".")?;
            }
            f.write_str(p)?;
            first = false;
        }
        if !first {
            f.write_str(": ")?;
        }
        write!(f, "{}", self.inner.kind)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner.kind)
    }
}

/// Why an encoder refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// A field holds a non-default value but the chosen version lacks it and
    /// Kafka does not mark it ignorable.
    #[error("the field is set but version {version} does not have it")]
    FieldNotInVersion {
        /// The version being encoded.
        version: i16,
    },
    /// A null in a version where the field is not nullable.
    #[error("null is not allowed at version {version}")]
    NullNotAllowed {
        /// The version being encoded.
        version: i16,
    },
    /// A string, byte array or array too long for its length prefix.
    #[error("length {len} exceeds the maximum {max}")]
    TooLong {
        /// The length.
        len: usize,
        /// What the prefix can express.
        max: usize,
    },
    /// A version outside what this crate speaks for the message.
    #[error("{name} version {version} is not supported (supported: {min} to {max})")]
    UnsupportedVersion {
        /// The message.
        name: &'static str,
        /// The version asked for.
        version: i16,
        /// Lowest supported version.
        min: i16,
        /// Highest supported version.
        max: i16,
    },
    /// A structural rule of records was broken by the caller.
    #[error("{0}")]
    Invalid(String),
}

/// An encoding failure and the fields that led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    kind: EncodeErrorKind,
    path: Vec<&'static str>,
}

impl EncodeError {
    /// An error of `kind` with no path yet.
    pub fn new(kind: EncodeErrorKind) -> Self {
        EncodeError { kind, path: Vec::new() }
    }

    pub(crate) fn field_not_in_version(version: i16) -> Self {
        Self::new(EncodeErrorKind::FieldNotInVersion { version })
    }

    pub(crate) fn null_not_allowed(version: i16) -> Self {
        Self::new(EncodeErrorKind::NullNotAllowed { version })
    }

    /// Records that the failure happened inside `field`.
    #[must_use]
    pub fn at(mut self, field: &'static str) -> Self {
        self.path.push(field);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &EncodeErrorKind {
        &self.kind
    }

    /// The fields leading to the failure, outermost first.
    pub fn path(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.path.iter().rev().copied()
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for p in self.path() {
            if !first {
                f.write_str(".")?;
            }
            f.write_str(p)?;
            first = false;
        }
        if !first {
            f.write_str(": ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl From<EncodeErrorKind> for EncodeError {
    fn from(kind: EncodeErrorKind) -> Self {
        EncodeError::new(kind)
    }
}
