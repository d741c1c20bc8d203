//! Random well-formed values of every generated struct at a given version,
//! for the round-trip property tests: fields the version lacks keep their
//! default, nulls appear only where the version allows them, and flexible
//! versions carry some unknown tagged fields.

use std::fmt::Write as _;

use super::emit::{Unit, default_expr};
use super::model::*;

fn gen_expr(ty: &Ty) -> String {
    match ty {
        Ty::Prim(Prim::Bool) => "g.bool()".into(),
        Ty::Prim(Prim::Int8) => "g.i8()".into(),
        Ty::Prim(Prim::Int16) => "g.i16()".into(),
        Ty::Prim(Prim::Int32) => "g.i32()".into(),
        Ty::Prim(Prim::Int64) => "g.i64()".into(),
        Ty::Prim(Prim::Uint16) => "g.u16()".into(),
        Ty::Prim(Prim::Uint32) => "g.u32()".into(),
        Ty::Prim(Prim::Float64) => "g.f64()".into(),
        Ty::Prim(Prim::String) => "g.string()".into(),
        Ty::Prim(Prim::Bytes) | Ty::Prim(Prim::Records) => "g.bytes()".into(),
        Ty::Prim(Prim::Uuid) => "g.uuid()".into(),
        Ty::Array(inner) => format!("g.vec(|g| {})", gen_expr(inner)),
        Ty::Struct(name) => format!("<{name} as Arbitrary>::arbitrary(g, version, flexible)"),
    }
}

pub fn emit_arbitrary(units: &[Unit<'_>]) -> String {
    let mut out = String::new();
    for u in units {
        let m = &u.module;
        let _ = writeln!(out, "#[allow(unused_variables, unused_imports, clippy::all)]");
        let _ = writeln!(out, "mod arb_{m} {{");
        let _ = writeln!(out, "use super::{{Arbitrary, Gen}};");
        let _ = writeln!(out, "use crate::uuid::Uuid;");
        let _ = writeln!(out, "use bytes::Bytes;");
        let _ = writeln!(out, "use crate::messages::{m}::*;\n");
        for (s, range) in u.all_structs() {
            let _ = writeln!(out, "impl Arbitrary for {} {{", s.name);
            let _ = writeln!(out, "    fn arbitrary(g: &mut Gen, version: i16, flexible: bool) -> Self {{");
            let _ = writeln!(out, "        Self {{");
            for f in &s.fields {
                let present = match f.tag {
                    Some((_, tv)) => format!("flexible && ({})", tv.test_expr("version", range)),
                    None => f.versions.test_expr("version", range),
                };
                let value = gen_expr(&f.ty);
                let value = if f.is_option() {
                    let nullable_now = match f.nullable {
                        Some(n) => n.test_expr("version", range),
                        None if f.ty == Ty::Prim(Prim::Records) => "true".into(),
                        None => "false".into(),
                    };
                    format!("if ({nullable_now}) && g.one_in(4) {{ None }} else {{ Some({value}) }}")
                } else {
                    value
                };
                // Tagged fields are sometimes left at their default, which
                // leaves them off the wire.
                let value = if f.tag.is_some() {
                    format!("if g.bool() {{ {value} }} else {{ {} }}", default_expr(f))
                } else {
                    value
                };
                let _ =
                    writeln!(out, "            {}: if {present} {{ {value} }} else {{ {} }},", f.name, default_expr(f));
            }
            let _ = writeln!(
                out,
                "            unknown_tagged_fields: if flexible {{ g.unknown_tagged_fields() }} else {{ Vec::new() }},"
            );
            let _ = writeln!(out, "        }}\n    }}\n}}\n");
        }
        let _ = writeln!(out, "}}\n");
    }

    // One round-trip entry point per message, for the tests to iterate over.
    let _ = writeln!(out, "/// Every message the crate declares, for tests that cover them all.");
    let _ = writeln!(out, "pub fn all_messages() -> Vec<MessageCase> {{");
    let _ = writeln!(out, "    vec![");
    for u in units {
        for msg in &u.file.messages {
            let name = &msg.root.name;
            let _ = writeln!(out, "        MessageCase::of::<crate::messages::{}::{name}>(),", u.module);
        }
    }
    let _ = writeln!(out, "    ]\n}}");
    out
}
