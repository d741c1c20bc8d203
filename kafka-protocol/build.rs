//! Generates the message codecs from `schema/` (see `codegen/mod.rs`).

#[path = "codegen/mod.rs"]
mod codegen;

fn main() {
    if let Err(e) = codegen::run() {
        eprintln!("message definitions are invalid:\n{e}");
        std::process::exit(1);
    }
}
