//! The parser for `schema/*.def` files and `schema/versions.table`.
//!
//! A definition file is line based:
//!
//! ```text
//! api Produce                          # which API of the version table
//! /// Doc text for the next item.
//! request {                            # ProduceRequest
//!     acks: i16
//!     transactional_id: string v3+ nullable v3+ = null
//!     topic_data: [TopicProduceData] {  # an array of an inline struct
//!         name: string
//!     }
//!     note: string v5+ tag 0 ignorable  # tagged in flexible versions
//! }
//! response { ... }                     # ProduceResponse
//! struct Shared { ... }                # a struct several fields refer to
//! data Name versions v0-3 flexible none { ... }   # a standalone versioned blob
//! ```
//!
//! A field is `name: type [vRANGE] [nullable vRANGE] [tag N [vRANGE]]
//! [ignorable] [= default] [{]`, where RANGE is `3+`, `3-5` or `3`, and type is
//! a primitive (`bool i8 i16 i32 i64 u16 u32 f64 string bytes records uuid`),
//! a struct name, or `[T]` for an array of T.

use super::model::*;

pub struct ParseError {
    pub path: String,
    pub line: usize,
    pub msg: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.msg)
    }
}

type PResult<T> = Result<T, ParseError>;

struct Line<'a> {
    no: usize,
    text: &'a str,
}

struct Parser<'a> {
    path: &'a str,
    lines: Vec<Line<'a>>,
    pos: usize,
}

/// Removes a trailing `// comment` that is not inside a string literal.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'/' if !in_str && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// Splits a line into words, keeping a quoted string as one word.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut w = String::from("\"");
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) => w.push(e),
                        None => return Err("dangling escape in string".into()),
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => w.push(c),
                }
            }
            if !closed {
                return Err("unterminated string".into());
            }
            out.push(w);
        } else if c == '{' || c == '}' || c == '=' {
            chars.next();
            out.push(c.to_string());
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '{' || c == '}' || c == '=' || c == '"' {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

pub fn parse_versions(w: &str) -> Option<Versions> {
    let rest = w.strip_prefix('v')?;
    if let Some(min) = rest.strip_suffix('+') {
        return Some(Versions { min: min.parse().ok()?, max: None });
    }
    if let Some((a, b)) = rest.split_once('-') {
        let (min, max) = (a.parse().ok()?, b.parse().ok()?);
        return (min <= max).then_some(Versions { min, max: Some(max) });
    }
    let v = rest.parse().ok()?;
    Some(Versions { min: v, max: Some(v) })
}

fn parse_literal(w: &str) -> Option<Literal> {
    if let Some(s) = w.strip_prefix('"') {
        return Some(Literal::Str(s.to_string()));
    }
    match w {
        "null" => return Some(Literal::Null),
        "true" => return Some(Literal::Bool(true)),
        "false" => return Some(Literal::Bool(false)),
        _ => {}
    }
    let (neg, digits) = match w.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, w),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    if let Some(m) = magnitude {
        return Some(Literal::Int(if neg { -m } else { m }));
    }
    w.parse::<f64>().ok().map(Literal::Float)
}

fn is_ident(w: &str) -> bool {
    let mut c = w.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl<'a> Parser<'a> {
    fn err<T>(&self, line: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError { path: self.path.to_string(), line, msg: msg.into() })
    }

    /// Doc comments before the next item: the block directly above it, and
    /// any earlier blocks that a blank line separates from it (`detached`).
    fn take_docs(&mut self, detached: &mut Vec<String>) -> Vec<String> {
        let mut docs: Vec<String> = Vec::new();
        while let Some(l) = self.lines.get(self.pos) {
            let t = l.text.trim();
            if let Some(d) = t.strip_prefix("///") {
                docs.push(d.strip_prefix(' ').unwrap_or(d).to_string());
                self.pos += 1;
            } else if t.is_empty() {
                if !docs.is_empty() {
                    if !detached.is_empty() {
                        detached.push(String::new());
                    }
                    detached.append(&mut docs);
                }
                self.pos += 1;
            } else if t.starts_with("//") {
                self.pos += 1;
            } else {
                break;
            }
        }
        docs
    }

    fn next_words(&mut self) -> PResult<Option<(usize, Vec<String>)>> {
        let Some(l) = self.lines.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        let no = l.no;
        match words(strip_comment(l.text)) {
            Ok(w) => Ok(Some((no, w))),
            Err(e) => self.err(no, e),
        }
    }

    fn parse_file(mut self, path: &str) -> PResult<DefFile> {
        let mut file =
            DefFile { path: path.to_string(), api: None, doc: Vec::new(), messages: Vec::new(), structs: Vec::new() };
        loop {
            let doc = self.take_docs(&mut file.doc);
            let Some((no, w)) = self.next_words()? else {
                break;
            };
            let w: Vec<&str> = w.iter().map(String::as_str).collect();
            match w.as_slice() {
                ["api", name] => {
                    if file.api.is_some() || !file.messages.is_empty() {
                        return self.err(no, "`api` must come first, once");
                    }
                    file.api = Some(name.to_string());
                    file.doc.extend(doc);
                }
                ["request", "{"] | ["response", "{"] => {
                    let Some(api) = file.api.clone() else {
                        return self.err(no, "request/response need an `api` line first");
                    };
                    let (kind, suffix) = if w[0] == "request" {
                        (MessageKind::Request, "Request")
                    } else {
                        (MessageKind::Response, "Response")
                    };
                    let name = format!("{api}{suffix}");
                    let fields = self.parse_fields(&mut file.structs)?;
                    file.messages.push(Message { kind, root: StructDef { name, doc, fields, line: no } });
                }
                ["data", name, "versions", range, rest @ ..] => {
                    let Some(versions) = parse_versions(range) else {
                        return self.err(no, format!("bad version range `{range}`"));
                    };
                    let flexible = match rest {
                        ["flexible", "none", "{"] | ["{"] => None,
                        ["flexible", f, "{"] => match parse_versions(f) {
                            Some(v) if v.max.is_none() => Some(v.min),
                            _ => return self.err(no, format!("bad flexible range `{f}`")),
                        },
                        _ => return self.err(no, "expected `[flexible vN+|none] {`"),
                    };
                    let fields = self.parse_fields(&mut file.structs)?;
                    file.messages.push(Message {
                        kind: MessageKind::Data { versions, flexible },
                        root: StructDef { name: name.to_string(), doc, fields, line: no },
                    });
                }
                ["struct", name, "{"] => {
                    let fields = self.parse_fields(&mut file.structs)?;
                    file.structs.push(StructDef { name: name.to_string(), doc, fields, line: no });
                }
                _ => return self.err(no, format!("expected an item, found `{}`", w.join(" "))),
            }
        }
        Ok(file)
    }

    /// Fields up to the closing `}`; inline structs are appended to `structs`.
    fn parse_fields(&mut self, structs: &mut Vec<StructDef>) -> PResult<Vec<Field>> {
        let mut fields = Vec::new();
        loop {
            // Inside a struct every doc block belongs to the next field.
            let mut detached = Vec::new();
            let mut doc = self.take_docs(&mut detached);
            if !detached.is_empty() {
                detached.append(&mut doc);
                doc = detached;
            }
            let Some((no, w)) = self.next_words()? else {
                return self.err(self.lines.last().map_or(0, |l| l.no), "missing `}`");
            };
            if w.len() == 1 && w[0] == "}" {
                return Ok(fields);
            }
            let (field, opens) = self.parse_field(no, &w, doc)?;
            if opens {
                let name = match &field.ty {
                    Ty::Struct(n) => n.clone(),
                    Ty::Array(inner) => match inner.as_ref() {
                        Ty::Struct(n) => n.clone(),
                        _ => {
                            return self.err(no, "only a struct or an array of structs can have a body");
                        }
                    },
                    _ => {
                        return self.err(no, "only a struct or an array of structs can have a body");
                    }
                };
                let inner = self.parse_fields(structs)?;
                structs.push(StructDef { name, doc: field.doc.clone(), fields: inner, line: no });
            }
            fields.push(field);
        }
    }

    fn parse_field(&self, no: usize, w: &[String], doc: Vec<String>) -> PResult<(Field, bool)> {
        let Some(name) = w.first().and_then(|n| n.strip_suffix(':')) else {
            return self.err(no, format!("expected `name: type`, found `{}`", w.join(" ")));
        };
        if !is_ident(name) {
            return self.err(no, format!("bad field name `{name}`"));
        }
        let Some(ty_word) = w.get(1) else {
            return self.err(no, "missing type");
        };
        let ty = self.parse_type(no, ty_word)?;
        let mut field = Field {
            name: name.to_string(),
            ty,
            versions: Versions::ALL,
            nullable: None,
            tag: None,
            ignorable: false,
            default: None,
            doc,
            line: no,
        };
        let mut opens = false;
        let mut i = 2;
        let mut seen_versions = false;
        while i < w.len() {
            let word = w[i].as_str();
            match word {
                "{" if i == w.len() - 1 => opens = true,
                "nullable" => {
                    i += 1;
                    match w.get(i).and_then(|v| parse_versions(v)) {
                        Some(v) => field.nullable = Some(v),
                        None => return self.err(no, "`nullable` needs a version range"),
                    }
                }
                "tag" => {
                    i += 1;
                    let Some(tag) = w.get(i).and_then(|t| t.parse::<u32>().ok()) else {
                        return self.err(no, "`tag` needs a number");
                    };
                    let tagged = match w.get(i + 1).and_then(|v| parse_versions(v)) {
                        Some(v) => {
                            i += 1;
                            Some(v)
                        }
                        None => None,
                    };
                    // Resolved against the field's versions after the loop.
                    field.tag = Some((tag, tagged.unwrap_or(Versions { min: -1, max: None })));
                }
                "ignorable" => field.ignorable = true,
                "=" => {
                    i += 1;
                    match w.get(i).and_then(|l| parse_literal(l)) {
                        Some(l) => field.default = Some(l),
                        None => return self.err(no, "`=` needs a literal"),
                    }
                }
                v if v.starts_with('v') && !seen_versions => match parse_versions(v) {
                    Some(r) => {
                        field.versions = r;
                        seen_versions = true;
                    }
                    None => return self.err(no, format!("bad version range `{v}`")),
                },
                other => return self.err(no, format!("unexpected `{other}`")),
            }
            i += 1;
        }
        if let Some((tag, tv)) = field.tag
            && tv.min == -1
        {
            field.tag = Some((tag, field.versions));
        }
        Ok((field, opens))
    }

    fn parse_type(&self, no: usize, w: &str) -> PResult<Ty> {
        if let Some(inner) = w.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            return Ok(Ty::Array(Box::new(self.parse_type(no, inner)?)));
        }
        if let Some(p) = Prim::parse(w) {
            return Ok(Ty::Prim(p));
        }
        if is_ident(w) && w.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Ok(Ty::Struct(w.to_string()));
        }
        self.err(no, format!("unknown type `{w}`"))
    }
}

pub fn parse_def(path: &str, text: &str) -> Result<DefFile, ParseError> {
    let lines = text.lines().enumerate().map(|(i, t)| Line { no: i + 1, text: t }).collect();
    Parser { path, lines, pos: 0 }.parse_file(path)
}

pub fn parse_table(path: &str, text: &str) -> Result<Vec<ApiEntry>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        let err = |msg: &str| ParseError { path: path.into(), line: i + 1, msg: msg.into() };
        let cols: Vec<&str> = t.split_whitespace().collect();
        let [key, name, min, max, flexible, adv] = cols.as_slice() else {
            return Err(err("expected: key name min max flexible advertised_min"));
        };
        let num = |s: &str| s.parse::<i16>().map_err(|_| err("expected a number"));
        let opt = |s: &str| if s == "-" { Ok(None) } else { num(s).map(Some) };
        let entry = ApiEntry {
            key: num(key)?,
            name: name.to_string(),
            min: num(min)?,
            max: num(max)?,
            flexible: opt(flexible)?,
            advertised_min: opt(adv)?.unwrap_or(num(min)?),
        };
        if entry.min > entry.max {
            return Err(err("min above max"));
        }
        out.push(entry);
    }
    Ok(out)
}
