//! Client and formatter properties as Kafka's tools collect them: a
//! properties file (`--producer.config`, `--consumer.config`), then
//! `key=value` arguments (`--producer-property`, `--consumer-property`,
//! `--property`, `--producer-props`) overriding it, then the tool's own
//! settings on top.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::Failure;

/// Settings that exist only for Java's client: serializer classes (the
/// tools always use byte arrays, as Kafka's tools force them to) and socket
/// buffer sizes (our client leaves them to the OS). Our client refuses
/// them as unknown, so the tools drop them rather than fail on property
/// files written for Kafka.
pub const JAVA_ONLY: [&str; 6] = [
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "send.buffer.bytes",
    "receive.buffer.bytes",
];

/// A set of string properties; setting a key again replaces its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Props {
    map: BTreeMap<String, String>,
}

impl Props {
    /// No properties.
    pub fn new() -> Props {
        Props::default()
    }

    /// Kafka's `CommandLineUtils.parseKeyValueArgs`: each argument is
    /// `key=value`, split at the first `=`; an argument without `=` is an
    /// error naming all of them.
    pub fn from_key_values<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Props, Failure> {
        let args: Vec<&str> = args.into_iter().collect();
        let mut props = Props::new();
        for a in &args {
            let Some((k, v)) = a.split_once('=') else {
                return Err(Failure::usage(format!("Invalid command line properties: {}", args.join(" "))));
            };
            props.set(k, v);
        }
        Ok(props)
    }

    /// Reads a Java properties file.
    pub fn load(path: &Path) -> Result<Props, Failure> {
        let bytes = std::fs::read(path).map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
        Ok(parse_properties(&String::from_utf8_lossy(&bytes)))
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.map.insert(key.into(), value.into());
    }

    /// Kafka's `CommandLineUtils.maybeMergeOptions`: a value given on the
    /// command line always wins; otherwise the tool's default applies only
    /// when the properties do not set the key already.
    pub fn merge_option(&mut self, key: &str, given: Option<&str>, default: &str) {
        match given {
            Some(v) => self.set(key, v),
            None if !self.contains(key) => self.set(key, default),
            None => {}
        }
    }

    /// Sets `key` unless it is set.
    pub fn set_default(&mut self, key: &str, value: &str) {
        if !self.contains(key) {
            self.set(key, value);
        }
    }

    /// Copies every property of `other` over this set.
    pub fn extend(&mut self, other: Props) {
        self.map.extend(other.map);
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.map.remove(key)
    }

    /// Every property, sorted by key.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The properties for our client builders: every one except those
    /// only Java's client has ([`JAVA_ONLY`]), which Kafka's tools set
    /// (or override) themselves.
    pub fn client_pairs(&self) -> Vec<(&str, &str)> {
        self.pairs().filter(|(k, _)| !JAVA_ONLY.contains(k)).collect()
    }

    /// Whether the boolean property `key` is "true" (Kafka's tools trim
    /// and ignore case; anything else is false).
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
}

/// Parses the text of a Java properties file (`java.util.Properties.load`):
/// `#`/`!` comments, `key=value`, `key: value` or `key value`, backslash
/// line continuations and escapes (`\t`, `\n`, `\uXXXX`, …).
pub fn parse_properties(text: &str) -> Props {
    let mut props = Props::new();
    let mut logical = String::new();
    let mut continuing = false;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = if continuing { line.trim_start_matches([' ', '\t', '\x0c']) } else { line };
        if !continuing {
            let t = line.trim_start_matches([' ', '\t', '\x0c']);
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
        }
        // An odd number of trailing backslashes continues the line.
        let trailing = line.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continuing = true;
            continue;
        }
        logical.push_str(line);
        continuing = false;
        let entry = std::mem::take(&mut logical);
        let (k, v) = split_entry(entry.trim_start_matches([' ', '\t', '\x0c']));
        props.set(unescape(k), unescape(v));
    }
    if continuing && !logical.is_empty() {
        let (k, v) = split_entry(logical.trim_start_matches([' ', '\t', '\x0c']));
        props.set(unescape(k), unescape(v));
    }
    props
}

/// Splits a logical line into its raw key and value.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                key_end = i;
                break;
            }
            _ => {}
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_split_at_the_first_equals() {
        let p = Props::from_key_values(["a=1", "b=x=y", "c="]).unwrap();
        assert_eq!((p.get("a"), p.get("b"), p.get("c")), (Some("1"), Some("x=y"), Some("")));
        let e = Props::from_key_values(["a=1", "oops"]).unwrap_err();
        assert_eq!(e.message(), "Invalid command line properties: a=1 oops");
    }

    #[test]
    fn merge_option_follows_kafka() {
        let mut p = Props::from_key_values(["linger.ms=5"]).unwrap();
        p.merge_option("linger.ms", None, "1000");
        p.merge_option("acks", None, "-1");
        assert_eq!((p.get("linger.ms"), p.get("acks")), (Some("5"), Some("-1")));
        p.merge_option("linger.ms", Some("7"), "1000");
        assert_eq!(p.get("linger.ms"), Some("7"));
    }

    #[test]
    fn properties_files() {
        let text = "# comment\n! also\n\nbootstrap.servers=h:1,\\\n    h:2\nacks : all\nclient.id  tool\nsep=\\t\nu=\\u0041b\n";
        let p = parse_properties(text);
        assert_eq!(p.get("bootstrap.servers"), Some("h:1,h:2"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("client.id"), Some("tool"));
        assert_eq!(p.get("sep"), Some("\t"));
        assert_eq!(p.get("u"), Some("Ab"));
        assert_eq!(p.pairs().count(), 5);
    }
}
