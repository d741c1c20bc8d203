//! Rust source for the parsed definitions: one module per definition file
//! with a struct per message and nested struct, each implementing `Wire`
//! (encode, decode, encoded length); the API key table; and the request and
//! response enums that dispatch on an API key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::*;

/// A checked definition file with what the emitters need to know about it.
pub struct Unit<'a> {
    pub file: &'a DefFile,
    pub module: String,
    /// The API's table entry for files with an `api` line.
    pub api: Option<&'a ApiEntry>,
    /// For each struct name, the version range it is used in.
    pub struct_range: BTreeMap<String, Versions>,
}

impl Unit<'_> {
    pub fn message_range(&self, m: &Message) -> Versions {
        match (&m.kind, self.api) {
            (MessageKind::Data { versions, .. }, _) => *versions,
            (_, Some(api)) => api.versions(),
            (_, None) => Versions::ALL,
        }
    }

    pub fn message_flexible(&self, m: &Message) -> Option<i16> {
        match (&m.kind, self.api) {
            (MessageKind::Data { flexible, .. }, _) => *flexible,
            (_, Some(api)) => api.flexible,
            (_, None) => None,
        }
    }

    /// Every struct of the file, roots first, each with its version range.
    pub fn all_structs(&self) -> Vec<(&StructDef, Versions)> {
        let mut out = Vec::new();
        for m in &self.file.messages {
            out.push((&m.root, self.message_range(m)));
        }
        for s in &self.file.structs {
            let range = self.struct_range.get(&s.name).copied().unwrap_or(Versions::ALL);
            out.push((s, range));
        }
        out
    }
}

fn doc_lines(out: &mut String, indent: &str, lines: &[String]) {
    for l in lines {
        if l.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {l}");
        }
    }
}

fn lit_int(l: &Option<Literal>) -> String {
    match l {
        Some(Literal::Int(i)) => i.to_string(),
        _ => "0".to_string(),
    }
}

/// The value of a field when the message leaves it out.
pub fn default_expr(f: &Field) -> String {
    let inner = |ty: &Ty, lit: &Option<Literal>| -> String {
        match ty {
            Ty::Prim(Prim::Bool) => match lit {
                Some(Literal::Bool(true)) => "true".into(),
                _ => "false".into(),
            },
            Ty::Prim(Prim::Float64) => match lit {
                Some(Literal::Float(x)) => format!("{x:?}"),
                Some(Literal::Int(i)) => format!("{}.0", i),
                _ => "0.0".into(),
            },
            Ty::Prim(p) if p.is_numeric() => lit_int(lit),
            Ty::Prim(Prim::String) => match lit {
                Some(Literal::Str(s)) if !s.is_empty() => format!("String::from({s:?})"),
                _ => "String::new()".into(),
            },
            Ty::Prim(Prim::Bytes) | Ty::Prim(Prim::Records) => "Bytes::new()".into(),
            Ty::Prim(Prim::Uuid) => "Uuid::ZERO".into(),
            Ty::Array(_) => "Vec::new()".into(),
            Ty::Struct(_) => "Default::default()".into(),
            Ty::Prim(_) => unreachable!("all primitives handled"),
        }
    };
    if f.is_option() {
        // Records default to null; other nullable fields to null only when
        // declared so, as in Kafka's schemas.
        if f.default == Some(Literal::Null) || (f.ty == Ty::Prim(Prim::Records) && f.default.is_none()) {
            "None".into()
        } else {
            format!("Some({})", inner(&f.ty, &f.default))
        }
    } else {
        inner(&f.ty, &f.default)
    }
}

/// A boolean expression that is true when `self.<field>` differs from its
/// default, without building the default value.
pub fn differs_expr(f: &Field, this: &str) -> String {
    let v = format!("{this}.{}", f.name);
    let non_opt = |ty: &Ty, v: &str, lit: &Option<Literal>| -> String {
        match ty {
            Ty::Prim(Prim::Bool) => {
                format!("{v} != {}", matches!(lit, Some(Literal::Bool(true))))
            }
            Ty::Prim(Prim::Float64) => format!("{v} != {}", default_float(lit)),
            Ty::Prim(p) if p.is_numeric() => format!("{v} != {}", lit_int(lit)),
            Ty::Prim(Prim::String) => match lit {
                Some(Literal::Str(s)) if !s.is_empty() => format!("{v} != {s:?}"),
                _ => format!("!{v}.is_empty()"),
            },
            Ty::Prim(Prim::Bytes) | Ty::Prim(Prim::Records) | Ty::Array(_) => {
                format!("!{v}.is_empty()")
            }
            Ty::Prim(Prim::Uuid) => format!("{v} != Uuid::ZERO"),
            Ty::Struct(name) => format!("{v} != {name}::default()"),
            Ty::Prim(_) => unreachable!(),
        }
    };
    if f.is_option() {
        let null_default = f.default == Some(Literal::Null) || (f.ty == Ty::Prim(Prim::Records) && f.default.is_none());
        if null_default {
            format!("{v}.is_some()")
        } else {
            let inner = non_opt(&f.ty, "x", &f.default);
            format!("{v}.as_ref().is_none_or(|x| {inner})")
        }
    } else {
        non_opt(&f.ty, &v, &f.default)
    }
}

fn default_float(lit: &Option<Literal>) -> String {
    match lit {
        Some(Literal::Float(x)) => format!("{x:?}"),
        Some(Literal::Int(i)) => format!("{i}.0"),
        _ => "0.0".into(),
    }
}

fn field_doc(f: &Field) -> Vec<String> {
    let mut d = f.doc.clone();
    let mut note = format!("Versions {}", f.versions);
    if let Some(n) = f.nullable {
        let _ = write!(note, "; nullable in {n}");
    }
    if let Some((tag, tv)) = f.tag {
        let _ = write!(note, "; tagged field {tag} in {tv}");
    }
    if f.ignorable {
        note.push_str("; ignorable (dropped silently where the version lacks it)");
    }
    if !d.is_empty() {
        d.push(String::new());
    }
    d.push(format!("{note}."));
    d
}

fn is_tagged(f: &Field) -> bool {
    f.tag.is_some()
}

/// Emits a struct and its `Wire` implementation.
fn emit_struct(out: &mut String, owner: &str, s: &StructDef, range: Versions) {
    let name = &s.name;
    if s.doc.is_empty() {
        let _ = writeln!(out, "/// Part of `{owner}`.");
    } else {
        doc_lines(out, "", &s.doc);
    }
    let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq)]");
    let _ = writeln!(out, "pub struct {name} {{");
    for f in &s.fields {
        doc_lines(out, "    ", &field_doc(f));
        let _ = writeln!(out, "    pub {}: {},", f.name, f.rust_type());
    }
    let _ = writeln!(out, "    /// Tagged fields this crate does not know; kept and re-encoded as received.");
    let _ = writeln!(out, "    pub unknown_tagged_fields: Vec<RawTaggedField>,");
    let _ = writeln!(out, "}}\n");

    // Default
    let _ = writeln!(out, "impl Default for {name} {{");
    let _ = writeln!(out, "    fn default() -> Self {{");
    let _ = writeln!(out, "        Self {{");
    for f in &s.fields {
        let _ = writeln!(out, "            {}: {},", f.name, default_expr(f));
    }
    let _ = writeln!(out, "            unknown_tagged_fields: Vec::new(),");
    let _ = writeln!(out, "        }}\n    }}\n}}\n");

    let mut tagged: Vec<&Field> = s.fields.iter().filter(|f| is_tagged(f)).collect();
    tagged.sort_by_key(|f| f.tag.map(|t| t.0));

    let _ = writeln!(out, "impl Wire for {name} {{");

    // encode
    let _ = writeln!(
        out,
        "    fn write_to(&self, w: &mut Writer, version: i16, flexible: bool) -> Result<(), EncodeError> {{"
    );
    let _ = writeln!(out, "        let _ = (&w, version, flexible);");
    for f in s.fields.iter().filter(|f| !is_tagged(f)) {
        let present = f.versions.test_expr("version", range);
        let fname = &f.name;
        let _ = writeln!(out, "        if {present} {{");
        if let Some(n) = f.nullable
            && !n.covers(f.versions, range)
        {
            let nullable_now = n.test_expr("version", range);
            let _ = writeln!(
                out,
                "            if self.{fname}.is_none() && !({nullable_now}) {{ return Err(EncodeError::null_not_allowed(version).at(\"{fname}\")); }}"
            );
        }
        if f.ty == Ty::Prim(Prim::Records) {
            let _ = writeln!(out, "            encode_records(&self.{fname}, w, flexible);");
        } else {
            let _ = writeln!(
                out,
                "            self.{fname}.write_to(w, version, flexible).map_err(|e| e.at(\"{fname}\"))?;"
            );
        }
        if f.ignorable {
            let _ = writeln!(out, "        }}");
        } else {
            let differs = differs_expr(f, "self");
            let _ = writeln!(
                out,
                "        }} else if {differs} {{\n            return Err(EncodeError::field_not_in_version(version).at(\"{fname}\"));\n        }}"
            );
        }
    }
    // Tagged fields that the version lacks must still obey the ignorable rule.
    for f in &tagged {
        let (_, tv) = f.tag.unwrap_or((0, Versions::ALL));
        if f.ignorable {
            continue;
        }
        let present = tv.test_expr("version", range);
        let differs = differs_expr(f, "self");
        let fname = &f.name;
        let _ = writeln!(
            out,
            "        if !(flexible && {present}) && {differs} {{\n            return Err(EncodeError::field_not_in_version(version).at(\"{fname}\"));\n        }}"
        );
    }
    let _ = writeln!(out, "        if flexible {{");
    let _ = writeln!(out, "            let unknown = &self.unknown_tagged_fields;");
    let _ = writeln!(out, "            let mut known = 0usize;");
    for f in &tagged {
        let (_, tv) = f.tag.unwrap_or((0, Versions::ALL));
        let present = tv.test_expr("version", range);
        let differs = differs_expr(f, "self");
        let _ = writeln!(out, "            if {present} && {differs} {{ known += 1; }}");
    }
    let _ = writeln!(out, "            put_uvarint(w, (known + unknown.len()) as u32);");
    let _ = writeln!(out, "            let mut u = 0usize;");
    for f in &tagged {
        let (tag, tv) = f.tag.unwrap_or((0, Versions::ALL));
        let present = tv.test_expr("version", range);
        let differs = differs_expr(f, "self");
        let fname = &f.name;
        let _ = writeln!(
            out,
            "            while u < unknown.len() && unknown[u].tag < {tag} {{ unknown[u].write(w); u += 1; }}"
        );
        let _ = writeln!(
            out,
            "            if {present} && {differs} {{ write_tagged_field(w, {tag}, &self.{fname}, version).map_err(|e| e.at(\"{fname}\"))?; }}"
        );
    }
    let _ = writeln!(out, "            for x in &unknown[u..] {{ x.write(w); }}");
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "        Ok(())\n    }}\n");

    // decode
    let _ =
        writeln!(out, "    fn read_from(r: &mut Bytes, version: i16, flexible: bool) -> Result<Self, DecodeError> {{");
    let _ = writeln!(out, "        let _ = (&r, version, flexible);");
    for f in s.fields.iter().filter(|f| !is_tagged(f)) {
        let present = f.versions.test_expr("version", range);
        let fname = &f.name;
        let ty = f.rust_type();
        let _ = writeln!(out, "        let {fname}: {ty} = if {present} {{");
        let _ = writeln!(
            out,
            "            let v = <{ty} as Wire>::read_from(r, version, flexible).map_err(|e| e.at(\"{fname}\"))?;"
        );
        if let Some(n) = f.nullable
            && !n.covers(f.versions, range)
        {
            let nullable_now = n.test_expr("version", range);
            let _ = writeln!(
                out,
                "            if v.is_none() && !({nullable_now}) {{ return Err(DecodeError::new(DecodeErrorKind::UnexpectedNull).at(\"{fname}\")); }}"
            );
        }
        let _ = writeln!(out, "            v\n        }} else {{\n            {}\n        }};", default_expr(f));
    }
    for f in &tagged {
        let _ = writeln!(out, "        let mut {}: {} = {};", f.name, f.rust_type(), default_expr(f));
    }
    let _ = writeln!(out, "        let mut unknown_tagged_fields = Vec::new();");
    let _ = writeln!(out, "        if flexible {{");
    let _ = writeln!(out, "            read_tagged_fields(r, |tag, mut data| {{");
    if !tagged.is_empty() {
        let _ = writeln!(out, "                match tag {{");
        for f in &tagged {
            let (tag, tv) = f.tag.unwrap_or((0, Versions::ALL));
            let present = tv.test_expr("version", range);
            let fname = &f.name;
            let ty = f.rust_type();
            let _ = writeln!(
                out,
                "                    {tag} if {present} => {{ {fname} = read_tagged_value::<{ty}>(&mut data, version).map_err(|e| e.at(\"{fname}\"))?; }}"
            );
        }
        let _ = writeln!(out, "                    _ => unknown_tagged_fields.push(RawTaggedField {{ tag, data }}),");
        let _ = writeln!(out, "                }}");
    } else {
        let _ = writeln!(out, "                unknown_tagged_fields.push(RawTaggedField {{ tag, data }});");
    }
    let _ = writeln!(out, "                Ok(())");
    let _ = writeln!(out, "            }})?;");
    let _ = writeln!(out, "        }}");
    let _ = write!(out, "        Ok(Self {{ ");
    for f in &s.fields {
        let _ = write!(out, "{}, ", f.name);
    }
    let _ = writeln!(out, "unknown_tagged_fields }})\n    }}\n");

    // encoded_len
    let _ = writeln!(out, "    fn wire_len(&self, version: i16, flexible: bool) -> usize {{");
    let _ = writeln!(out, "        let _ = (version, flexible);");
    let _ = writeln!(out, "        let mut n = 0usize;");
    for f in s.fields.iter().filter(|f| !is_tagged(f)) {
        let present = f.versions.test_expr("version", range);
        let _ = writeln!(out, "        if {present} {{ n += self.{}.wire_len(version, flexible); }}", f.name);
    }
    let _ = writeln!(out, "        if flexible {{");
    let _ = writeln!(out, "            let mut count = self.unknown_tagged_fields.len();");
    for f in &tagged {
        let (tag, tv) = f.tag.unwrap_or((0, Versions::ALL));
        let present = tv.test_expr("version", range);
        let differs = differs_expr(f, "self");
        let _ = writeln!(
            out,
            "            if {present} && {differs} {{ count += 1; n += tagged_field_len({tag}, self.{}.wire_len(version, true)); }}",
            f.name
        );
    }
    let _ = writeln!(out, "            n += unknown_tagged_len(&self.unknown_tagged_fields, count);");
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "        n\n    }}\n}}\n");

    // Clearing fields a version lacks (what a server does before answering
    // an older client).
    let _ = writeln!(out, "impl {name} {{");
    let _ = writeln!(out, "    /// Resets every field `version` does not carry (recursively) to its default,");
    let _ = writeln!(out, "    /// so the value encodes at that version. `flexible` is that version's flexibility.");
    let _ = writeln!(out, "    pub fn clear_absent_fields(&mut self, version: i16, flexible: bool) {{");
    let _ = writeln!(out, "        let _ = (version, flexible);");
    for f in &s.fields {
        let present = match f.tag {
            Some((_, tv)) => format!("flexible && ({})", tv.test_expr("version", range)),
            None => f.versions.test_expr("version", range),
        };
        let fname = &f.name;
        let recurse = match (&f.ty, f.is_option()) {
            (Ty::Struct(_), _) => Some(format!("self.{fname}.clear_absent_fields(version, flexible);")),
            (Ty::Array(inner), false) if matches!(inner.as_ref(), Ty::Struct(_)) => {
                Some(format!("for x in &mut self.{fname} {{ x.clear_absent_fields(version, flexible); }}"))
            }
            (Ty::Array(inner), true) if matches!(inner.as_ref(), Ty::Struct(_)) => Some(format!(
                "if let Some(v) = &mut self.{fname} {{ for x in v {{ x.clear_absent_fields(version, flexible); }} }}"
            )),
            _ => None,
        };
        match recurse {
            Some(r) => {
                let _ = writeln!(out, "        if {present} {{ {r} }} else {{ self.{fname} = {}; }}", default_expr(f));
            }
            None => {
                let _ = writeln!(out, "        if !({present}) {{ self.{fname} = {}; }}", default_expr(f));
            }
        }
    }
    let _ = writeln!(out, "        if !flexible {{ self.unknown_tagged_fields.clear(); }}");
    let _ = writeln!(out, "    }}\n}}\n");

    // JSON rendering
    let _ = writeln!(out, "impl crate::json::ToJson for {name} {{");
    let _ = writeln!(out, "    fn write_json(&self, out: &mut String) {{");
    let _ = writeln!(out, "        out.push('{{');");
    for (i, f) in s.fields.iter().enumerate() {
        let comma = if i == 0 { "" } else { "," };
        let _ = writeln!(out, "        out.push_str(\"{comma}\\\"{}\\\":\");", f.name);
        let _ = writeln!(out, "        crate::json::ToJson::write_json(&self.{}, out);", f.name);
    }
    let lead = if s.fields.is_empty() { "" } else { "," };
    let _ = writeln!(out, "        if !self.unknown_tagged_fields.is_empty() {{");
    let _ = writeln!(out, "            out.push_str(\"{lead}\\\"_unknown_tagged_fields\\\":\");");
    let _ = writeln!(out, "            crate::json::ToJson::write_json(&self.unknown_tagged_fields, out);");
    let _ = writeln!(out, "        }}");
    let _ = writeln!(out, "        out.push('}}');");
    let _ = writeln!(out, "    }}\n}}\n");
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn module_name(file: &DefFile) -> String {
    match &file.api {
        Some(api) => snake(api),
        None => std::path::Path::new(&file.path).file_stem().and_then(|s| s.to_str()).unwrap_or("data").to_string(),
    }
}

/// The generated `messages` modules.
pub fn emit_messages(units: &[Unit<'_>], table: &[ApiEntry]) -> String {
    let mut out = String::new();
    for u in units {
        let file = u.file;
        if file.doc.is_empty() {
            let _ = writeln!(out, "/// Messages declared in `{}`.", file.path);
        } else {
            doc_lines(&mut out, "", &file.doc);
        }
        let _ = writeln!(out, "pub mod {} {{", u.module);
        let _ =
            writeln!(out, "#![allow(clippy::all, unused_comparisons, unused_mut, unused_imports, unused_variables)]");
        let _ = writeln!(out, "use crate::codec::*;");
        let _ = writeln!(out, "use crate::error::{{DecodeError, DecodeErrorKind, EncodeError}};");
        let _ = writeln!(out, "use crate::uuid::Uuid;");
        let _ = writeln!(out, "use bytes::Bytes;\n");
        let owner_of =
            |s: &str| -> String { file.messages.first().map(|m| m.root.name.clone()).unwrap_or_else(|| s.to_string()) };
        for (s, range) in u.all_structs() {
            emit_struct(&mut out, &owner_of(&s.name), s, range);
        }
        for m in &file.messages {
            let range = u.message_range(m);
            let flex = match u.message_flexible(m) {
                Some(v) => format!("Some({v})"),
                None => "None".into(),
            };
            let name = &m.root.name;
            let _ = writeln!(out, "impl crate::messages::Message for {name} {{");
            let _ = writeln!(out, "    const NAME: &'static str = \"{name}\";");
            let _ = writeln!(
                out,
                "    const VERSIONS: crate::api::VersionRange = crate::api::VersionRange {{ min: {}, max: {} }};",
                range.min,
                range.max.unwrap_or(i16::MAX)
            );
            let _ = writeln!(out, "    const FLEXIBLE_FROM: Option<i16> = {flex};");
            let _ = writeln!(out, "}}\n");
            if let Some(api) = &file.api {
                match m.kind {
                    MessageKind::Request => {
                        let _ = writeln!(out, "impl crate::messages::Request for {name} {{");
                        let _ = writeln!(out, "    const API_KEY: crate::api::ApiKey = crate::api::ApiKey::{api};");
                        let _ = writeln!(out, "    type Response = {api}Response;");
                        let _ = writeln!(out, "}}\n");
                    }
                    MessageKind::Response => {
                        let _ = writeln!(out, "impl crate::messages::Response for {name} {{");
                        let _ = writeln!(out, "    const API_KEY: crate::api::ApiKey = crate::api::ApiKey::{api};");
                        let _ = writeln!(out, "}}\n");
                    }
                    MessageKind::Data { .. } => {}
                }
            }
        }
        let _ = writeln!(out, "}}");
        for m in &file.messages {
            let _ = writeln!(out, "pub use self::{}::{};", u.module, m.root.name);
        }
        out.push('\n');
    }
    out.push_str(&emit_dispatch(units, table, "Request"));
    out.push_str(&emit_dispatch(units, table, "Response"));
    out
}

/// `RequestBody` / `ResponseBody`: one variant per API.
fn emit_dispatch(units: &[Unit<'_>], table: &[ApiEntry], side: &str) -> String {
    let mut out = String::new();
    let apis: Vec<&str> = units.iter().filter_map(|u| u.file.api.as_deref()).collect();
    let lower = side.to_lowercase();
    let _ = writeln!(out, "/// Any {lower} body, tagged by API; what a server or a proxy dispatches on.");
    let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq)]");
    let _ = writeln!(out, "#[allow(clippy::large_enum_variant)]");
    let _ = writeln!(out, "pub enum {side}Body {{");
    for a in &apis {
        let _ = writeln!(out, "    /// A `{a}{side}`.");
        let _ = writeln!(out, "    {a}({a}{side}),");
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "impl {side}Body {{");
    let _ = writeln!(out, "    /// The API this body belongs to.");
    let _ = writeln!(out, "    pub fn api_key(&self) -> crate::api::ApiKey {{");
    let _ = writeln!(out, "        match self {{");
    for a in &apis {
        let _ = writeln!(out, "            Self::{a}(_) => crate::api::ApiKey::{a},");
    }
    let _ = writeln!(out, "        }}\n    }}\n");
    let _ =
        writeln!(out, "    /// Decodes the body of `api_key` at `version`; a version outside the table is an error.");
    let _ = writeln!(
        out,
        "    pub fn decode(api_key: crate::api::ApiKey, version: i16, buf: &mut Bytes) -> Result<Self, DecodeError> {{"
    );
    let _ = writeln!(out, "        Ok(match api_key {{");
    for a in &apis {
        let _ = writeln!(
            out,
            "            crate::api::ApiKey::{a} => Self::{a}(<{a}{side} as Message>::decode(buf, version)?),"
        );
    }
    for e in table.iter().filter(|e| !apis.contains(&e.name.as_str())) {
        let _ = writeln!(
            out,
            "            crate::api::ApiKey::{} => return Err(DecodeErrorKind::UnknownApiKey({}).into()),",
            e.name, e.key
        );
    }
    let _ = writeln!(out, "        }})\n    }}\n");
    let _ = writeln!(out, "    /// Encodes the body at `version`.");
    let _ = writeln!(out, "    pub fn encode(&self, w: &mut Writer, version: i16) -> Result<(), EncodeError> {{");
    let _ = writeln!(out, "        match self {{");
    for a in &apis {
        let _ = writeln!(out, "            Self::{a}(m) => Message::encode(m, w, version),");
    }
    let _ = writeln!(out, "        }}\n    }}\n");
    let _ = writeln!(out, "    /// Resets every field `version` does not carry to its default.");
    let _ = writeln!(out, "    pub fn clear_absent_fields(&mut self, version: i16) {{");
    let _ = writeln!(out, "        let flexible = self.api_key().info().is_flexible(version);");
    let _ = writeln!(out, "        match self {{");
    for a in &apis {
        let _ = writeln!(out, "            Self::{a}(m) => m.clear_absent_fields(version, flexible),");
    }
    let _ = writeln!(out, "        }}\n    }}\n");
    let _ = writeln!(out, "    /// The encoded size at `version`.");
    let _ = writeln!(out, "    pub fn encoded_len(&self, version: i16) -> usize {{");
    let _ = writeln!(out, "        match self {{");
    for a in &apis {
        let _ = writeln!(out, "            Self::{a}(m) => Message::encoded_len(m, version),");
    }
    let _ = writeln!(out, "        }}\n    }}\n}}\n");
    for a in &apis {
        let _ = writeln!(
            out,
            "impl From<{a}{side}> for {side}Body {{\n    fn from(m: {a}{side}) -> Self {{\n        Self::{a}(m)\n    }}\n}}\n"
        );
    }
    out
}

/// `ApiKey` and the version table.
pub fn emit_api_table(table: &[ApiEntry], release: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "/// The Apache Kafka release whose API versions this crate speaks.");
    let _ = writeln!(out, "pub const KAFKA_RELEASE: &str = {release:?};\n");
    let _ = writeln!(out, "/// The APIs this crate speaks, by Kafka's numeric key.");
    let _ = writeln!(out, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]");
    let _ = writeln!(out, "#[repr(i16)]");
    let _ = writeln!(out, "pub enum ApiKey {{");
    for e in table {
        let _ = writeln!(out, "    /// Key {}.", e.key);
        let _ = writeln!(out, "    {} = {},", e.name, e.key);
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "impl ApiKey {{");
    let _ = writeln!(out, "    /// Every API in the table, in key order.");
    let _ = writeln!(out, "    pub const ALL: [ApiKey; {}] = [", table.len());
    for e in table {
        let _ = writeln!(out, "        ApiKey::{},", e.name);
    }
    let _ = writeln!(out, "    ];\n");
    let _ = writeln!(out, "    /// The API with numeric key `key`, if we speak it.");
    let _ = writeln!(out, "    pub fn from_i16(key: i16) -> Option<ApiKey> {{");
    let _ = writeln!(out, "        Some(match key {{");
    for e in table {
        let _ = writeln!(out, "            {} => ApiKey::{},", e.key, e.name);
    }
    let _ = writeln!(out, "            _ => return None,\n        }})\n    }}\n");
    let _ = writeln!(out, "    /// Kafka's name for the API, e.g. `\"Produce\"`.");
    let _ = writeln!(out, "    pub fn name(self) -> &'static str {{");
    let _ = writeln!(out, "        match self {{");
    for e in table {
        let _ = writeln!(out, "            ApiKey::{} => \"{}\",", e.name, e.name);
    }
    let _ = writeln!(out, "        }}\n    }}\n");
    let _ = writeln!(out, "    /// This API's line of the version table.");
    let _ = writeln!(out, "    pub fn info(self) -> &'static ApiInfo {{");
    let _ = writeln!(out, "        match self {{");
    for (i, e) in table.iter().enumerate() {
        let _ = writeln!(out, "            ApiKey::{} => &API_TABLE[{i}],", e.name);
    }
    let _ = writeln!(out, "        }}\n    }}\n}}\n");
    let _ = writeln!(out, "/// The version table of [`KAFKA_RELEASE`], one entry per API in key order.");
    let _ = writeln!(out, "pub static API_TABLE: [ApiInfo; {}] = [", table.len());
    for e in table {
        let flex = match e.flexible {
            Some(v) => format!("Some({v})"),
            None => "None".into(),
        };
        let _ = writeln!(
            out,
            "    ApiInfo {{ key: ApiKey::{}, versions: VersionRange {{ min: {}, max: {} }}, flexible_from: {flex}, advertised_min: {} }},",
            e.name, e.min, e.max, e.advertised_min
        );
    }
    let _ = writeln!(out, "];");
    out
}
