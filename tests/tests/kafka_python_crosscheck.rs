//! Cross-check of every message against kafka-python's protocol classes, an
//! independent implementation: random messages we encode are decoded there
//! and compared field by field, and kafka-python encodes the same values to
//! the same bytes. Run by .ci/run (`--features interop`).
#![cfg(feature = "interop")]

use std::fmt::Write as _;

use kafka_protocol::testing::all_messages;

const SEEDS: u64 = 12;

#[test]
fn kafka_python_agrees_with_our_codecs() {
    let mut lines = String::new();
    for case in all_messages() {
        for version in case.versions.min..=case.versions.max {
            for seed in 0..SEEDS {
                let (bytes, json) =
                    case.sample(seed * 7919 + u64::from(version as u16), version).expect("sample encodes");
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                let _ =
                    writeln!(lines, r#"{{"name":"{}","version":{version},"hex":"{hex}","value":{json}}}"#, case.name);
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("kp-crosscheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let samples = dir.join("samples.jsonl");
    std::fs::write(&samples, lines).expect("write samples");
    let out = tests::interop::python()
        .arg(tests::interop::script("kafka_python_crosscheck.py"))
        .arg(&samples)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "kafka-python cross-check failed:\n{stdout}\n{stderr}");
}
