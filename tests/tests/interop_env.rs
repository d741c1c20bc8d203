//! Where the interop tests find their third-party tools: the Python of the
//! virtualenv .ci/run creates (override with KAFKA_INTEROP_PYTHON), and the
//! scripts in tests/interop/.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The Python interpreter that has kafka-python and confluent-kafka.
pub fn python() -> Command {
    let exe = std::env::var("KAFKA_INTEROP_PYTHON").unwrap_or_else(|_| {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
        venv.to_string_lossy().into_owned()
    });
    Command::new(exe)
}

/// A script of tests/interop/.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop").join(name)
}
