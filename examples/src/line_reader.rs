//! Kafka's `LineMessageReader`: how `kafka-console-producer` turns an input
//! line into a record. With its `--property` settings:
//!
//! ```text
//! parse.key=false      value
//! parse.key=true       key<key.separator>value            (separator: tab)
//! parse.headers=true   h1:v1,h2:v2<headers.delimiter>…    (delimiter: tab)
//! null.marker=X        a key, value or header value equal to X is null
//! ignore.error=true    a line without a separator is taken as a value
//! ```

use crate::cli::Failure;
use crate::props::Props;

/// A record read from a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRecord {
    /// The key (None: null).
    pub key: Option<String>,
    /// The value (None: null).
    pub value: Option<String>,
    /// The headers, in order.
    pub headers: Vec<(String, Option<String>)>,
}

/// The reader's settings and its line counter (for error messages).
#[derive(Debug, Clone)]
pub struct LineReader {
    parse_key: bool,
    key_separator: String,
    parse_headers: bool,
    headers_delimiter: String,
    headers_separator: regex::Regex,
    headers_key_separator: String,
    ignore_error: bool,
    null_marker: Option<String>,
    line_number: u64,
}

impl LineReader {
    /// Kafka's `LineMessageReader.configure`, with its checks that the
    /// separators differ from one another and from the null marker.
    pub fn configure(props: &Props) -> Result<LineReader, Failure> {
        let text = |k: &str, d: &str| props.get(k).unwrap_or(d).to_string();
        let headers_delimiter = text("headers.delimiter", "\t");
        let headers_separator = text("headers.separator", ",");
        let headers_key_separator = text("headers.key.separator", ":");
        let key_separator = text("key.separator", "\t");
        let null_marker = props.get("null.marker").map(str::to_string);
        let differ = |a: &str, an: &str, b: &str, bn: &str| {
            if a == b { Err(Failure::usage(format!("{an} and {bn} may not be equal"))) } else { Ok(()) }
        };
        differ(&headers_delimiter, "headers.delimiter", &headers_separator, "headers.separator")?;
        differ(&headers_delimiter, "headers.delimiter", &headers_key_separator, "headers.key.separator")?;
        differ(&headers_separator, "headers.separator", &headers_key_separator, "headers.key.separator")?;
        if let Some(m) = &null_marker {
            differ(m, "null.marker", &key_separator, "key.separator")?;
            differ(m, "null.marker", &headers_separator, "headers.separator")?;
            differ(m, "null.marker", &headers_delimiter, "headers.delimiter")?;
            differ(m, "null.marker", &headers_key_separator, "headers.key.separator")?;
        }
        // Java splits the header list with headers.separator as a regular expression.
        let headers_separator = regex::Regex::new(&headers_separator)
            .map_err(|e| Failure::usage(format!("invalid headers.separator {headers_separator:?}: {e}")))?;
        Ok(LineReader {
            parse_key: props.is_true("parse.key"),
            key_separator,
            parse_headers: props.is_true("parse.headers"),
            headers_delimiter,
            headers_separator,
            headers_key_separator,
            ignore_error: props.is_true("ignore.error"),
            null_marker,
            line_number: 0,
        })
    }

    /// Parses the next input line (without its line terminator).
    pub fn read(&mut self, line: &str) -> Result<LineRecord, Failure> {
        self.line_number += 1;
        let headers = self.take(self.parse_headers, line, 0, &self.headers_delimiter, "headers delimiter")?;
        let header_end = headers.map_or(0, |h| h.len() + self.headers_delimiter.len());
        let key = self.take(self.parse_key, line, header_end, &self.key_separator, "key separator")?;
        let key_end = key.map_or(0, |k| k.len() + self.key_separator.len());
        let value = &line[header_end + key_end..];
        let nullable = |s: &str| if self.null_marker.as_deref() == Some(s) { None } else { Some(s.to_string()) };
        let headers = match headers {
            Some(h) if self.null_marker.as_deref() != Some(h) => self.split_headers(h)?,
            _ => Vec::new(),
        };
        Ok(LineRecord { key: key.and_then(nullable), value: nullable(value), headers })
    }

    /// The text from `start` to the next `sep`, when `enabled`.
    fn take<'l>(
        &self,
        enabled: bool,
        line: &'l str,
        start: usize,
        sep: &str,
        what: &str,
    ) -> Result<Option<&'l str>, Failure> {
        if !enabled {
            return Ok(None);
        }
        match line[start..].find(sep) {
            Some(i) => Ok(Some(&line[start..start + i])),
            None if self.ignore_error => Ok(None),
            None => Err(Failure::new(format!("No {what} found on line number {}: '{line}'", self.line_number))),
        }
    }

    fn split_headers(&self, headers: &str) -> Result<Vec<(String, Option<String>)>, Failure> {
        // Java's String.split: no match gives the whole string; otherwise
        // trailing empty pieces are dropped.
        let mut pairs: Vec<&str> = self.headers_separator.split(headers).collect();
        if self.headers_separator.is_match(headers) {
            while pairs.last().is_some_and(|p| p.is_empty()) {
                pairs.pop();
            }
        }
        let mut out = Vec::with_capacity(pairs.len());
        for pair in pairs {
            let Some(i) = pair.find(&self.headers_key_separator) else {
                if self.ignore_error {
                    out.push((pair.to_string(), None));
                    continue;
                }
                return Err(Failure::new(format!(
                    "No header key separator found in pair '{pair}' on line number {}",
                    self.line_number
                )));
            };
            let key = &pair[..i];
            if self.null_marker.as_deref() == Some(key) {
                return Err(Failure::new(format!(
                    "Header keys should not be equal to the null marker '{key}' as they can't be null"
                )));
            }
            let value = &pair[i + self.headers_key_separator.len()..];
            let value = if self.null_marker.as_deref() == Some(value) { None } else { Some(value.to_string()) };
            out.push((key.to_string(), value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(props: &[&str]) -> LineReader {
        LineReader::configure(&Props::from_key_values(props.iter().copied()).unwrap()).unwrap()
    }

    fn rec(key: Option<&str>, value: Option<&str>, headers: &[(&str, Option<&str>)]) -> LineRecord {
        LineRecord {
            key: key.map(str::to_string),
            value: value.map(str::to_string),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect(),
        }
    }

    #[test]
    fn plain_lines_are_values() {
        assert_eq!(reader(&[]).read("a\tb").unwrap(), rec(None, Some("a\tb"), &[]));
    }

    #[test]
    fn keys_split_at_the_first_separator() {
        let mut r = reader(&["parse.key=true"]);
        assert_eq!(r.read("k\tv\tw").unwrap(), rec(Some("k"), Some("v\tw"), &[]));
        assert_eq!(r.read("\tv").unwrap(), rec(Some(""), Some("v"), &[]));
        let e = r.read("nokey").unwrap_err();
        assert_eq!(e.message(), "No key separator found on line number 3: 'nokey'");
        let mut r = reader(&["parse.key=true", "key.separator=::"]);
        assert_eq!(r.read("a::b").unwrap(), rec(Some("a"), Some("b"), &[]));
        let mut r = reader(&["parse.key=true", "ignore.error=true"]);
        assert_eq!(r.read("nokey").unwrap(), rec(None, Some("nokey"), &[]));
    }

    #[test]
    fn headers_and_null_marker() {
        let mut r = reader(&["parse.key=true", "parse.headers=true", "null.marker=NULL"]);
        assert_eq!(
            r.read("h1:v1,h2:NULL\tNULL\tval").unwrap(),
            rec(None, Some("val"), &[("h1", Some("v1")), ("h2", None)])
        );
        assert_eq!(r.read("NULL\tk\tNULL").unwrap(), rec(Some("k"), None, &[]));
        assert!(r.read("bad\tk\tv").unwrap_err().message().contains("No header key separator found in pair 'bad'"));
        assert!(LineReader::configure(&Props::from_key_values(["null.marker=\t"]).unwrap()).is_err());
    }
}
