//! The message code generator run by `build.rs`.
//!
//! It reads `schema/versions.table` and every `schema/*.def`, checks each
//! definition against the table (field versions within the API's range, tags
//! only in flexible versions, nullability only on types that can be null,
//! struct references resolved), and writes three files into `OUT_DIR`:
//! `api_table.rs`, `messages.rs` and `arbitrary.rs`.

mod arbitrary;
mod emit;
mod model;
mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use emit::Unit;
use model::*;

const RELEASE: &str = "4.4.0";

fn fail(msg: impl std::fmt::Display) -> String {
    msg.to_string()
}

pub fn run() -> Result<(), String> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(fail)?);
    let schema = root.join("schema");
    println!("cargo:rerun-if-changed={}", schema.display());
    println!("cargo:rerun-if-changed={}", root.join("codegen").display());

    let table_path = schema.join("versions.table");
    let table_text = std::fs::read_to_string(&table_path).map_err(|e| format!("{}: {e}", table_path.display()))?;
    let table = parse::parse_table("schema/versions.table", &table_text).map_err(fail)?;

    let mut paths: Vec<PathBuf> = std::fs::read_dir(&schema)
        .map_err(fail)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "def"))
        .collect();
    paths.sort();

    let mut files = Vec::new();
    for p in &paths {
        println!("cargo:rerun-if-changed={}", p.display());
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let rel = format!("schema/{}", p.file_name().and_then(|n| n.to_str()).unwrap_or("?"));
        files.push(parse::parse_def(&rel, &text).map_err(fail)?);
    }

    let mut errors = Vec::new();
    let units = check(&files, &table, &mut errors);
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }

    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(fail)?);
    write(&out.join("api_table.rs"), &emit::emit_api_table(&table, RELEASE))?;
    write(&out.join("messages.rs"), &emit::emit_messages(&units, &table))?;
    write(&out.join("arbitrary.rs"), &arbitrary::emit_arbitrary(&units))?;
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn check<'a>(files: &'a [DefFile], table: &'a [ApiEntry], errors: &mut Vec<String>) -> Vec<Unit<'a>> {
    let mut units = Vec::new();
    let mut seen_apis = BTreeSet::new();
    let mut seen_modules = BTreeSet::new();
    for file in files {
        let mut err = |line: usize, msg: String| errors.push(format!("{}:{line}: {msg}", file.path));
        let api = match &file.api {
            Some(name) => match table.iter().find(|e| &e.name == name) {
                Some(e) => {
                    seen_apis.insert(name.clone());
                    let kinds: Vec<_> = file.messages.iter().map(|m| m.kind.clone()).collect();
                    if !kinds.contains(&MessageKind::Request) || !kinds.contains(&MessageKind::Response) {
                        err(1, format!("api {name} needs both a request and a response"));
                    }
                    Some(e)
                }
                None => {
                    err(1, format!("api {name} is not in versions.table"));
                    None
                }
            },
            None => None,
        };
        let module = emit::module_name(file);
        if !seen_modules.insert(module.clone()) {
            err(1, format!("module name {module} is used twice"));
        }

        // Struct names are unique within a file; find each struct's users.
        let mut by_name: BTreeMap<&str, &StructDef> = BTreeMap::new();
        for s in &file.structs {
            if by_name.insert(&s.name, s).is_some() {
                err(s.line, format!("struct {} is declared twice", s.name));
            }
        }
        for m in &file.messages {
            if by_name.contains_key(m.root.name.as_str()) {
                err(m.root.line, format!("{} is also a struct name", m.root.name));
            }
        }

        let mut unit = Unit { file, module, api, struct_range: BTreeMap::new() };
        for m in &file.messages {
            let range = unit.message_range(m);
            let flexible = unit.message_flexible(m);
            let mut stack = vec![(&m.root, range)];
            let mut visited = BTreeSet::new();
            while let Some((s, within)) = stack.pop() {
                check_struct(s, within, flexible, &mut err);
                for f in &s.fields {
                    let mut ty = &f.ty;
                    while let Ty::Array(inner) = ty {
                        ty = inner;
                    }
                    if let Ty::Struct(name) = ty {
                        match by_name.get(name.as_str()) {
                            Some(child) => {
                                // A struct is checked against the versions of
                                // the fields that use it, and emitted for the
                                // hull of them.
                                let Some(used) = f.versions.clamp(within) else {
                                    continue;
                                };
                                let hull = match unit.struct_range.get(name) {
                                    Some(prev) => Versions {
                                        min: prev.min.min(used.min),
                                        max: prev.max.zip(used.max).map(|(a, b)| a.max(b)),
                                    },
                                    None => used,
                                };
                                unit.struct_range.insert(name.clone(), hull);
                                if visited.insert((name.clone(), used.min, used.max)) {
                                    stack.push((child, used));
                                }
                            }
                            None => err(f.line, format!("unknown struct {name}")),
                        }
                    }
                }
            }
        }
        for s in &file.structs {
            if !unit.struct_range.contains_key(&s.name) {
                err(s.line, format!("struct {} is never used", s.name));
            }
        }
        units.push(unit);
    }
    // An API of the table without a definition decodes as unknown; the test
    // `every_api_has_a_request_and_a_response` keeps that from shipping.
    let _ = seen_apis;
    units
}

fn check_struct(s: &StructDef, within: Versions, flexible: Option<i16>, err: &mut impl FnMut(usize, String)) {
    let mut names = BTreeSet::new();
    let mut tags = BTreeSet::new();
    for f in &s.fields {
        if !names.insert(f.name.as_str()) || f.name == "unknown_tagged_fields" {
            err(f.line, format!("field {} is declared twice or uses a reserved name", f.name));
        }
        if f.versions.clamp(within).is_none() {
            err(
                f.line,
                format!("field {} (versions {}) is outside the message's versions {within}", f.name, f.versions),
            );
        }
        if let Some(n) = f.nullable {
            if !f.ty.can_be_null() {
                err(f.line, format!("field {} cannot be nullable: only strings, bytes and arrays can", f.name));
            }
            if f.versions.clamp(within).is_some_and(|v| n.clamp(v).is_none()) {
                err(f.line, format!("field {}: nullable versions {n} outside its versions", f.name));
            }
        }
        if let Some((tag, tv)) = f.tag {
            if !tags.insert(tag) {
                err(f.line, format!("tag {tag} is used twice in {}", s.name));
            }
            if tv != f.versions {
                err(f.line, format!("field {}: a tagged field is tagged in all its versions", f.name));
            }
            let flex_ok = match flexible {
                Some(fv) => tv.min >= fv,
                None => false,
            };
            if !flex_ok {
                err(f.line, format!("field {}: tagged versions {tv} are not all flexible", f.name));
            }
        }
        let default_ok = match (&f.default, &f.ty) {
            (None, _) => true,
            (Some(Literal::Null), _) => f.nullable.is_some(),
            (Some(Literal::Int(_)), Ty::Prim(p)) => p.is_numeric(),
            (Some(Literal::Float(_)), Ty::Prim(Prim::Float64)) => true,
            (Some(Literal::Bool(_)), Ty::Prim(Prim::Bool)) => true,
            (Some(Literal::Str(_)), Ty::Prim(Prim::String)) => true,
            _ => false,
        };
        if !default_ok {
            err(f.line, format!("field {}: default {:?} does not fit its type", f.name, f.default));
        }
    }
}
