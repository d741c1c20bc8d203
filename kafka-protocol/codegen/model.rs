//! What a message definition says, once parsed: structs, fields, types and
//! version ranges. The parser builds it, `check` validates it against the
//! version table, and the emitters turn it into Rust.

use std::fmt;

/// An inclusive range of versions; `max == None` means "and every later one".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub min: i16,
    pub max: Option<i16>,
}

impl Versions {
    pub const ALL: Versions = Versions { min: 0, max: None };

    pub fn contains(&self, v: i16) -> bool {
        v >= self.min && self.max.is_none_or(|m| v <= m)
    }

    /// A Rust boolean expression testing `var` against this range, simplified
    /// against the range `within` that `var` is already known to lie in.
    pub fn test_expr(&self, var: &str, within: Versions) -> String {
        let low = self.min > within.min;
        let high = match (self.max, within.max) {
            (None, _) => false,
            (Some(m), Some(w)) => m < w,
            (Some(_), None) => true,
        };
        match (low, high) {
            (false, false) => "true".to_string(),
            (true, false) => format!("{var} >= {}", self.min),
            (false, true) => format!("{var} <= {}", self.max.unwrap_or(i16::MAX)),
            (true, true) => {
                let max = self.max.unwrap_or(i16::MAX);
                if self.min == max {
                    format!("{var} == {max}")
                } else {
                    format!("({}..={}).contains(&{var})", self.min, max)
                }
            }
        }
    }

    /// True when every version of `self` that lies in `within` is also in `other`.
    pub fn covers(&self, other: Versions, within: Versions) -> bool {
        let lo = other.min.max(within.min);
        let hi = match (other.max, within.max) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => i16::MAX,
        };
        (lo..=hi).all(|v| self.contains(v))
    }

    /// Clamp to `within`; None when they do not overlap.
    pub fn clamp(&self, within: Versions) -> Option<Versions> {
        let min = self.min.max(within.min);
        let max = match (self.max, within.max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        if max.is_some_and(|m| m < min) { None } else { Some(Versions { min, max }) }
    }
}

impl fmt::Display for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            None => write!(f, "{}+", self.min),
            Some(m) if m == self.min => write!(f, "{m}"),
            Some(m) => write!(f, "{}-{m}", self.min),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prim {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint16,
    Uint32,
    Float64,
    String,
    Bytes,
    /// Record batches: nullable bytes handed over by reference when encoding.
    Records,
    Uuid,
}

impl Prim {
    pub fn parse(s: &str) -> Option<Prim> {
        Some(match s {
            "bool" => Prim::Bool,
            "i8" => Prim::Int8,
            "i16" => Prim::Int16,
            "i32" => Prim::Int32,
            "i64" => Prim::Int64,
            "u16" => Prim::Uint16,
            "u32" => Prim::Uint32,
            "f64" => Prim::Float64,
            "string" => Prim::String,
            "bytes" => Prim::Bytes,
            "records" => Prim::Records,
            "uuid" => Prim::Uuid,
            _ => return None,
        })
    }

    pub fn rust(&self) -> &'static str {
        match self {
            Prim::Bool => "bool",
            Prim::Int8 => "i8",
            Prim::Int16 => "i16",
            Prim::Int32 => "i32",
            Prim::Int64 => "i64",
            Prim::Uint16 => "u16",
            Prim::Uint32 => "u32",
            Prim::Float64 => "f64",
            Prim::String => "String",
            Prim::Bytes => "Bytes",
            Prim::Records => "Bytes",
            Prim::Uuid => "Uuid",
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Prim::Int8 | Prim::Int16 | Prim::Int32 | Prim::Int64 | Prim::Uint16 | Prim::Uint32 | Prim::Float64
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Prim(Prim),
    Array(Box<Ty>),
    Struct(String),
}

impl Ty {
    /// The Rust type, before nullability is applied.
    pub fn rust(&self) -> String {
        match self {
            Ty::Prim(p) => p.rust().to_string(),
            Ty::Array(inner) => format!("Vec<{}>", inner.rust()),
            Ty::Struct(name) => name.clone(),
        }
    }

    pub fn can_be_null(&self) -> bool {
        matches!(self, Ty::Prim(Prim::String) | Ty::Prim(Prim::Bytes) | Ty::Prim(Prim::Records) | Ty::Array(_))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Null,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub versions: Versions,
    pub nullable: Option<Versions>,
    /// Tag number and the versions in which the field travels tagged.
    pub tag: Option<(u32, Versions)>,
    pub ignorable: bool,
    pub default: Option<Literal>,
    pub doc: Vec<String>,
    pub line: usize,
}

impl Field {
    /// Records are always nullable; other types only when declared so.
    pub fn is_option(&self) -> bool {
        self.nullable.is_some() || self.ty == Ty::Prim(Prim::Records)
    }

    pub fn rust_type(&self) -> String {
        if self.is_option() { format!("Option<{}>", self.ty.rust()) } else { self.ty.rust() }
    }
}

#[derive(Clone, Debug)]
pub struct StructDef {
    pub name: String,
    pub doc: Vec<String>,
    pub fields: Vec<Field>,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MessageKind {
    Request,
    Response,
    /// A versioned structure that travels inside another message's bytes
    /// (for example the consumer protocol's subscription).
    Data {
        versions: Versions,
        flexible: Option<i16>,
    },
}

#[derive(Clone, Debug)]
pub struct Message {
    pub kind: MessageKind,
    /// The top-level struct; its name is the message's name.
    pub root: StructDef,
}

/// One `.def` file: an API's request and response, or standalone data
/// messages, plus every struct they use.
#[derive(Clone, Debug)]
pub struct DefFile {
    pub path: String,
    /// `api Name` at the top of the file, if any.
    pub api: Option<String>,
    pub doc: Vec<String>,
    pub messages: Vec<Message>,
    /// Every non-root struct, nested or shared, in declaration order.
    pub structs: Vec<StructDef>,
}

/// A line of the version table.
#[derive(Clone, Debug)]
pub struct ApiEntry {
    pub key: i16,
    pub name: String,
    pub min: i16,
    pub max: i16,
    pub flexible: Option<i16>,
    pub advertised_min: i16,
}

impl ApiEntry {
    pub fn versions(&self) -> Versions {
        Versions { min: self.min, max: Some(self.max) }
    }
}
