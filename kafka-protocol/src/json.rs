//! A JSON rendering of every message, for logs, debugging tools and
//! cross-checks against other implementations. Generated structs write their
//! fields by name; byte strings are written as lowercase hex, ids in Kafka's
//! base64 form. Unknown tagged fields appear under `_unknown_tagged_fields`
//! when there are any.

use bytes::Bytes;

use crate::codec::RawTaggedField;
use crate::uuid::Uuid;

/// A value that can be written as JSON.
pub trait ToJson {
    /// Appends the value as JSON to `out`.
    fn write_json(&self, out: &mut String);

    /// The value as a JSON string.
    fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }
}

macro_rules! json_number {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                use std::fmt::Write;
                let _ = write!(out, "{}", self);
            }
        }
    )*};
}
json_number!(i8, i16, i32, i64, u16, u32);

impl ToJson for f64 {
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        if self.is_finite() {
            let _ = write!(out, "{self:?}");
        } else {
            out.push_str("null");
        }
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(self, out);
    }
}

impl ToJson for Bytes {
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        out.push('"');
        for b in self.iter() {
            let _ = write!(out, "{b:02x}");
        }
        out.push('"');
    }
}

impl ToJson for Uuid {
    fn write_json(&self, out: &mut String) {
        write_str(&self.to_string(), out);
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write_json(out);
        }
        out.push(']');
    }
}

impl ToJson for RawTaggedField {
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{{\"tag\":{},\"data\":", self.tag);
        self.data.write_json(out);
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MetadataRequest;
    use crate::messages::metadata::MetadataRequestTopic;

    #[test]
    fn messages_render_with_field_names() {
        let m = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic { name: Some("a\"b".into()), ..Default::default() }]),
            ..Default::default()
        };
        assert_eq!(
            m.to_json(),
            r#"{"topics":[{"topic_id":"AAAAAAAAAAAAAAAAAAAAAA","name":"a\"b"}],"allow_auto_topic_creation":true,"include_cluster_authorized_operations":false,"include_topic_authorized_operations":false}"#
        );
    }
}
