//! What the producer sends: [`ProducerRecord`], and [`Serializer`] for
//! turning your types into key and value bytes.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::Header;

use crate::error::Error;

/// Turns a value into bytes for a record's key or value.
///
/// ```
/// use bytes::Bytes;
/// use kafka_client::producer::{Serializer, StringSerializer};
///
/// let b = StringSerializer.serialize("orders", &"hello".to_string()).unwrap();
/// assert_eq!(b, Bytes::from_static(b"hello"));
/// ```
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// The bytes of `data`, for a record of `topic`.
    fn serialize(&self, topic: &str, data: &T) -> Result<Bytes, Error>;
}

/// Passes bytes through unchanged (no copy for `Bytes`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerializer;

impl Serializer<Bytes> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &Bytes) -> Result<Bytes, Error> {
        Ok(data.clone())
    }
}

impl Serializer<[u8]> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &[u8]) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(data))
    }
}

/// UTF-8 bytes of a string slice.
#[derive(Debug, Clone, Copy, Default)]
pub struct StrSerializer;

impl Serializer<str> for StrSerializer {
    fn serialize(&self, _topic: &str, data: &str) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

/// UTF-8 bytes of a `String`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerializer;

impl Serializer<String> for StringSerializer {
    fn serialize(&self, _topic: &str, data: &String) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

/// A record to send.
///
/// ```
/// use kafka_client::producer::ProducerRecord;
///
/// let r = ProducerRecord::new("orders").key("customer-7").value("42 apples").header("source", "shop");
/// assert_eq!(r.partition, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic. Shared, so a record built from a clone of an
    /// `Arc<str>` the application keeps costs no allocation for its topic.
    pub topic: Arc<str>,
    /// The partition, or None to let the partitioner choose.
    pub partition: Option<i32>,
    /// The key, or None (a null key).
    pub key: Option<Bytes>,
    /// The value, or None (a null value, a tombstone).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<Header>,
    /// The timestamp in milliseconds, or None for the time of `send`.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, value or headers. `topic` may be
    /// a `&str` or `String` (copied), or an `Arc<str>` (shared): on a hot
    /// path, keep the topic in an `Arc<str>` and pass clones.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use kafka_client::producer::ProducerRecord;
    ///
    /// let topic: Arc<str> = Arc::from("orders");
    /// let r = ProducerRecord::new(topic.clone()).value("1");
    /// assert!(Arc::ptr_eq(&r.topic, &topic));
    /// ```
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key (no copy for `Bytes`, `Vec<u8>` or `String`).
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value (no copy for `Bytes`, `Vec<u8>` or `String`).
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Sets the key with a serializer.
    pub fn key_with<T: ?Sized, S: Serializer<T>>(mut self, s: &S, key: &T) -> Result<Self, Error> {
        self.key = Some(s.serialize(&self.topic, key)?);
        Ok(self)
    }

    /// Sets the value with a serializer.
    pub fn value_with<T: ?Sized, S: Serializer<T>>(mut self, s: &S, value: &T) -> Result<Self, Error> {
        self.value = Some(s.serialize(&self.topic, value)?);
        Ok(self)
    }

    /// Sends to this partition instead of asking the partitioner.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header { key: key.into(), value: Some(value.into()) });
        self
    }

    /// Sets the timestamp (milliseconds since the epoch).
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.timestamp = Some(ts);
        self
    }
}

/// A record `send` refused, handed back with the reason, so the caller can
/// retry it, park it or log it without having kept a copy.
///
/// `?` turns it into an [`Error`] (dropping the record).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct SendError {
    /// Why the record was refused (shown by `Display`, so not repeated as
    /// a `source`).
    pub error: Error,
    /// The record, as it would have been sent (after interceptors).
    pub record: ProducerRecord,
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        e.error
    }
}
