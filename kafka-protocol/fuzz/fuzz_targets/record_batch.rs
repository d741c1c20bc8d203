//! Any bytes as the `records` of a Produce or Fetch: every batch is checked
//! and its records read (decompressing with a small limit), and legacy
//! message sets are decoded. Nothing may panic, hang or over-allocate.
#![no_main]

use bytes::Bytes;
use kafka_protocol::records::{RecordSet, RecordSetEntry, legacy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    for entry in RecordSet::new(bytes.clone()) {
        match entry {
            Ok(RecordSetEntry::Batch(b)) => {
                let _ = b.verify_crc();
                if let Ok(records) = b.records(1 << 20) {
                    for r in records.take(100_000) {
                        let _ = r;
                    }
                }
            }
            Ok(RecordSetEntry::Legacy(m)) => {
                let _ = legacy::decode_message_set(m, 1 << 20, true);
            }
            Err(_) => break,
        }
    }
});
