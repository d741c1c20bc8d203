//! Kafka's `DefaultMessageFormatter`: how `kafka-console-consumer` prints
//! a record. Fields come in Kafka's order — timestamp, partition, offset,
//! headers, key, value — each followed by `key.separator` (a tab) except
//! the last, which ends with `line.separator` (`\t` is a tab here):
//!
//! ```text
//! CreateTime:1700000000000\tPartition:0\tOffset:5\th1:v1,h2:v2\tkey\tvalue
//! ```
//!
//! Null keys, values and header values print as `null.literal` ("null").

use kafka_client::consumer::ConsumerRecord;
use kafka_protocol::records::TimestampType;

use crate::cli::Failure;
use crate::props::Props;

/// The class names accepted for `--formatter`.
pub const DEFAULT_FORMATTER_CLASSES: [&str; 2] =
    ["org.apache.kafka.tools.consumer.DefaultMessageFormatter", "kafka.tools.DefaultMessageFormatter"];

/// Turns key, value or header bytes into text, as the Java deserializer
/// classes named in `key.deserializer` / `value.deserializer` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deserializer {
    /// No deserializer (or `ByteArrayDeserializer`): the bytes as they are.
    Raw,
    /// `StringDeserializer`: UTF-8 (invalid bytes become U+FFFD, as in Java).
    String,
    /// `ShortDeserializer`: a 2-byte big-endian integer.
    Short,
    /// `IntegerDeserializer`: a 4-byte big-endian integer.
    Integer,
    /// `LongDeserializer`: an 8-byte big-endian integer.
    Long,
}

impl Deserializer {
    /// The deserializer for a Java class name (the package may be left out).
    pub fn from_class(name: &str) -> Result<Deserializer, Failure> {
        let simple = name.trim().rsplit('.').next().unwrap_or("");
        Ok(match simple {
            "ByteArrayDeserializer" | "BytesDeserializer" | "ByteBufferDeserializer" => Deserializer::Raw,
            "StringDeserializer" => Deserializer::String,
            "ShortDeserializer" => Deserializer::Short,
            "IntegerDeserializer" => Deserializer::Integer,
            "LongDeserializer" => Deserializer::Long,
            _ => {
                return Err(Failure::usage(format!(
                    "Unable to instantiate a deserializer from {name}: supported are ByteArrayDeserializer, \
                     StringDeserializer, ShortDeserializer, IntegerDeserializer and LongDeserializer"
                )));
            }
        })
    }

    /// The printed form of `bytes`.
    pub fn apply(self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let fixed = |n: usize, name: &str| -> Result<(), String> {
            if bytes.len() == n { Ok(()) } else { Err(format!("Size of data received by {name} is not {n}")) }
        };
        match self {
            Deserializer::Raw => out.extend_from_slice(bytes),
            Deserializer::String => out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes()),
            Deserializer::Short => {
                fixed(2, "ShortDeserializer")?;
                out.extend_from_slice(i16::from_be_bytes([bytes[0], bytes[1]]).to_string().as_bytes());
            }
            Deserializer::Integer => {
                fixed(4, "IntegerDeserializer")?;
                let v = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                out.extend_from_slice(v.to_string().as_bytes());
            }
            Deserializer::Long => {
                fixed(8, "LongDeserializer")?;
                let mut b = [0u8; 8];
                b.copy_from_slice(bytes);
                out.extend_from_slice(i64::from_be_bytes(b).to_string().as_bytes());
            }
        }
        Ok(())
    }
}

/// The formatter's settings (`--property` / `--formatter-property`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFormatter {
    print_timestamp: bool,
    print_key: bool,
    print_value: bool,
    print_partition: bool,
    print_offset: bool,
    print_headers: bool,
    key_separator: Vec<u8>,
    line_separator: Vec<u8>,
    headers_separator: Vec<u8>,
    null_literal: Vec<u8>,
    key_deserializer: Deserializer,
    value_deserializer: Deserializer,
    headers_deserializer: Deserializer,
}

impl Default for MessageFormatter {
    fn default() -> Self {
        MessageFormatter {
            print_timestamp: false,
            print_key: false,
            print_value: true,
            print_partition: false,
            print_offset: false,
            print_headers: false,
            key_separator: b"\t".to_vec(),
            line_separator: b"\n".to_vec(),
            headers_separator: b",".to_vec(),
            null_literal: b"null".to_vec(),
            key_deserializer: Deserializer::Raw,
            value_deserializer: Deserializer::Raw,
            headers_deserializer: Deserializer::Raw,
        }
    }
}

impl MessageFormatter {
    /// Kafka's `DefaultMessageFormatter.configure`: `print.*` are true only
    /// when "true" (trimmed, any case); separators are taken literally;
    /// unknown properties are ignored, as Kafka ignores them.
    pub fn configure(props: &Props) -> Result<MessageFormatter, Failure> {
        let mut f = MessageFormatter::default();
        let flag = |key: &str, current: bool| if props.contains(key) { props.is_true(key) } else { current };
        f.print_timestamp = flag("print.timestamp", f.print_timestamp);
        f.print_key = flag("print.key", f.print_key);
        f.print_value = flag("print.value", f.print_value);
        f.print_partition = flag("print.partition", f.print_partition);
        f.print_offset = flag("print.offset", f.print_offset);
        f.print_headers = flag("print.headers", f.print_headers);
        let bytes = |key: &str, current: &mut Vec<u8>| {
            if let Some(v) = props.get(key) {
                *current = v.as_bytes().to_vec();
            }
        };
        bytes("key.separator", &mut f.key_separator);
        bytes("line.separator", &mut f.line_separator);
        bytes("headers.separator", &mut f.headers_separator);
        bytes("null.literal", &mut f.null_literal);
        let deser = |key: &str| props.get(key).map(Deserializer::from_class).transpose();
        f.key_deserializer = deser("key.deserializer")?.unwrap_or(Deserializer::Raw);
        f.value_deserializer = deser("value.deserializer")?.unwrap_or(Deserializer::Raw);
        f.headers_deserializer = deser("headers.deserializer")?.unwrap_or(Deserializer::Raw);
        Ok(f)
    }

    fn field(&self, bytes: Option<&[u8]>, d: Deserializer, out: &mut Vec<u8>) -> Result<(), String> {
        match bytes {
            // Kafka hands the null literal to the deserializer; printing it
            // as it is gives the same text for every text deserializer and
            // does not fail the numeric ones on "null".
            None => {
                out.extend_from_slice(&self.null_literal);
                Ok(())
            }
            Some(b) => d.apply(b, out),
        }
    }

    /// Appends the printed form of `r` to `out`. On failure (a numeric
    /// deserializer got the wrong number of bytes) `out` is unchanged.
    pub fn write(&self, r: &ConsumerRecord, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let result = self.write_fields(r, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn write_fields(&self, r: &ConsumerRecord, out: &mut Vec<u8>) -> Result<(), String> {
        // Each field is followed by the key separator when another field
        // follows, else by the line separator.
        let sep = |out: &mut Vec<u8>, more: bool| {
            out.extend_from_slice(if more { &self.key_separator } else { &self.line_separator })
        };
        if self.print_timestamp {
            let kind = match r.timestamp_type {
                TimestampType::CreateTime => "CreateTime",
                TimestampType::LogAppendTime => "LogAppendTime",
            };
            out.extend_from_slice(format!("{kind}:{}", r.timestamp).as_bytes());
            sep(
                out,
                self.print_partition || self.print_offset || self.print_headers || self.print_key || self.print_value,
            );
        }
        if self.print_partition {
            out.extend_from_slice(format!("Partition:{}", r.partition).as_bytes());
            sep(out, self.print_offset || self.print_headers || self.print_key || self.print_value);
        }
        if self.print_offset {
            out.extend_from_slice(format!("Offset:{}", r.offset).as_bytes());
            sep(out, self.print_headers || self.print_key || self.print_value);
        }
        if self.print_headers {
            if r.headers.is_empty() {
                out.extend_from_slice(b"NO_HEADERS");
            }
            for (i, h) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(&self.headers_separator);
                }
                out.extend_from_slice(h.key.as_bytes());
                out.push(b':');
                self.field(h.value.as_deref(), self.headers_deserializer, out)?;
            }
            sep(out, self.print_key || self.print_value);
        }
        if self.print_key {
            self.field(r.key.as_deref(), self.key_deserializer, out)?;
            sep(out, self.print_value);
        }
        if self.print_value {
            self.field(r.value.as_deref(), self.value_deserializer, out)?;
            out.extend_from_slice(&self.line_separator);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::records::Header;

    use super::*;

    fn record() -> ConsumerRecord {
        let mut r = ConsumerRecord::new("t", 2, 41, Some(Bytes::from_static(b"k1")), Some(Bytes::from_static(b"v1")));
        r.timestamp = 1_700_000_000_000;
        r
    }

    fn show(props: &[&str], r: &ConsumerRecord) -> String {
        let f = MessageFormatter::configure(&Props::from_key_values(props.iter().copied()).unwrap()).unwrap();
        let mut out = Vec::new();
        f.write(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn value_only_by_default() {
        assert_eq!(show(&[], &record()), "v1\n");
    }

    #[test]
    fn every_field_in_kafkas_order() {
        let all = ["print.timestamp=true", "print.partition=true", "print.offset=true", "print.key=TRUE"];
        assert_eq!(show(&all, &record()), "CreateTime:1700000000000\tPartition:2\tOffset:41\tk1\tv1\n");
    }

    #[test]
    fn nulls_headers_and_separators() {
        let mut r = ConsumerRecord::new("t", 0, 0, None, None);
        r.headers = vec![Header::new("h1", "x"), Header { key: "h2".into(), value: None }];
        let props = ["print.key=true", "print.headers=true", "key.separator=|", "null.literal=<nil>"];
        assert_eq!(show(&props, &r), "h1:x,h2:<nil>|<nil>|<nil>\n");
        r.headers.clear();
        assert_eq!(show(&["print.headers=true", "print.value=false"], &r), "NO_HEADERS\n");
    }

    #[test]
    fn deserializers() {
        let r = ConsumerRecord::new("t", 0, 0, Some(Bytes::from_static(&[0, 0, 1, 0])), None);
        let props = ["print.key=true", "key.deserializer=org.apache.kafka.common.serialization.IntegerDeserializer"];
        assert_eq!(show(&props, &r), "256\tnull\n");
        let f = MessageFormatter::configure(
            &Props::from_key_values(["print.key=true", "key.deserializer=LongDeserializer"]).unwrap(),
        )
        .unwrap();
        let mut out = b"kept".to_vec();
        assert!(f.write(&r, &mut out).unwrap_err().contains("LongDeserializer is not 8"));
        assert_eq!(out, b"kept");
        assert!(Deserializer::from_class("com.example.Avro").is_err());
    }
}
