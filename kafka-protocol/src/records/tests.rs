use bytes::Bytes;
use proptest::prelude::*;

use super::batch::{self, HEADER_LEN};
use super::*;
use crate::Compression;

const CODECS: [Compression; 5] =
    [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

#[derive(Debug, Clone)]
struct Input {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn input() -> impl Strategy<Value = Input> {
    (
        -1i64..2_000_000_000_000,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(
            ("[a-z]{0,6}", proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8))),
            0..3,
        ),
    )
        .prop_map(|(timestamp, key, value, headers)| Input { timestamp, key, value, headers })
}

fn build(codec: Compression, inputs: &[Input]) -> Bytes {
    let mut b = BatchBuilder::new(codec, None);
    for i in inputs {
        let headers: Vec<Header> =
            i.headers.iter().map(|(k, v)| Header { key: k.clone(), value: v.clone().map(Bytes::from) }).collect();
        let before = b.size();
        let expected = b.size_of_next(i.timestamp, i.key.as_deref(), i.value.as_deref(), &headers);
        b.append(i.timestamp, i.key.as_deref(), i.value.as_deref(), &headers);
        assert_eq!(b.size() - before, expected);
    }
    b.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn batches_round_trip_with_every_codec(inputs in proptest::collection::vec(input(), 1..20), base in 0i64..1 << 40) {
        for codec in CODECS {
            let bytes = build(codec, &inputs);
            let mut stamped = bytes.to_vec();
            batch::set_base_offset(&mut stamped, base);
            let batch = RecordBatch::new(Bytes::from(stamped)).unwrap();
            batch.verify_crc().unwrap();
            let h = batch.header();
            prop_assert_eq!(h.compression().unwrap(), codec);
            prop_assert_eq!(h.record_count as usize, inputs.len());
            prop_assert_eq!(h.last_offset_delta as usize, inputs.len() - 1);
            prop_assert_eq!(h.max_timestamp, inputs.iter().map(|i| i.timestamp).max().unwrap());
            let records: Vec<Record> = batch.records(1 << 24).unwrap().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(records.len(), inputs.len());
            for (n, (r, i)) in records.iter().zip(&inputs).enumerate() {
                prop_assert_eq!(r.offset, base + n as i64);
                prop_assert_eq!(r.timestamp, i.timestamp);
                prop_assert_eq!(r.key.as_deref(), i.key.as_deref());
                prop_assert_eq!(r.value.as_deref(), i.value.as_deref());
                prop_assert_eq!(r.headers.len(), i.headers.len());
                for (h, (k, v)) in r.headers.iter().zip(&i.headers) {
                    prop_assert_eq!(&h.key, k);
                    prop_assert_eq!(h.value.as_deref(), v.as_deref());
                }
            }
        }
    }

    #[test]
    fn hostile_batches_never_panic(inputs in proptest::collection::vec(input(), 1..6), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6), cut in any::<usize>()) {
        for codec in CODECS {
            let mut bytes = build(codec, &inputs).to_vec();
            for &(at, v) in &flips {
                let i = at % bytes.len();
                bytes[i] = v;
            }
            bytes.truncate(cut % (bytes.len() + 1));
            for entry in RecordSet::new(Bytes::from(bytes.clone())) {
                if let Ok(RecordSetEntry::Batch(b)) = entry {
                    let _ = b.verify_crc();
                    if let Ok(recs) = b.records(1 << 20) {
                        for r in recs { let _ = r; }
                    }
                }
            }
            let _ = legacy::decode_message_set(Bytes::from(bytes), 1 << 20, true);
        }
    }
}

#[test]
fn crc32c_known_answer() {
    // The standard CRC-32C check value.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn header_layout_is_kafkas() {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(1000, 5, 42);
    b.append(1_700_000_000_123, Some(b"k"), Some(b"v"), &[]);
    b.append(1_700_000_000_100, None, Some(b"w"), &[Header::new("h", "x")]);
    let bytes = b.finish().unwrap();
    let h = BatchHeader::parse(&bytes).unwrap();
    assert_eq!(h.base_offset, 0);
    assert_eq!(h.batch_length as usize, bytes.len() - 12);
    assert_eq!(h.partition_leader_epoch, -1);
    assert_eq!(h.magic, 2);
    assert_eq!(h.attributes, 0);
    assert_eq!(h.last_offset_delta, 1);
    assert_eq!(h.base_timestamp, 1_700_000_000_123);
    assert_eq!(h.max_timestamp, 1_700_000_000_123);
    assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (1000, 5, 42));
    assert_eq!(h.last_sequence(), 43);
    assert_eq!(h.record_count, 2);
    assert_eq!(h.crc, crc32c::crc32c(&bytes[21..]));
    // First record: length 8+? bytes; attributes 0, ts delta 0, offset delta 0,
    // key "k", value "v", no headers.
    assert_eq!(&bytes[HEADER_LEN..HEADER_LEN + 9], &[0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00]);
    // The second record's timestamp delta is negative (-23 zigzags to 45).
    assert_eq!(bytes[HEADER_LEN + 11], 45);
}

#[test]
fn broker_edits_keep_the_crc_right() {
    let mut b = BatchBuilder::new(Compression::Lz4, None);
    for i in 0..10 {
        b.append(1000 + i, None, Some(b"payload"), &[]);
    }
    let mut bytes = b.finish().unwrap().to_vec();
    let crc_before = BatchHeader::parse(&bytes).unwrap().crc;
    // Offsets and leader epoch lie outside the CRC.
    batch::set_base_offset(&mut bytes, 777);
    batch::set_partition_leader_epoch(&mut bytes, 3);
    let batch = RecordBatch::new(Bytes::from(bytes.clone())).unwrap();
    assert_eq!(batch.header().crc, crc_before);
    batch.verify_crc().unwrap();
    assert_eq!(batch.header().last_offset(), 786);
    // LogAppendTime rewrites attributes and max timestamp, and the CRC.
    batch::set_log_append_time(&mut bytes, 5555);
    let batch = RecordBatch::new(Bytes::from(bytes.clone())).unwrap();
    batch.verify_crc().unwrap();
    assert_eq!(batch.header().timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.records(1 << 20).unwrap().all(|r| r.unwrap().timestamp == 5555));
    // Producer state can be rewritten for a renumbered retry.
    batch::set_producer_state(&mut bytes, 9, 1, 0);
    let batch = RecordBatch::new(Bytes::from(bytes.clone())).unwrap();
    batch.verify_crc().unwrap();
    assert_eq!((batch.header().producer_id, batch.header().producer_epoch, batch.header().base_sequence), (9, 1, 0));
    // A flipped payload byte is caught.
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(RecordBatch::new(Bytes::from(bytes)).unwrap().verify_crc().is_err());
}

#[test]
fn control_batches() {
    let mut b = BatchBuilder::new(Compression::None, None);
    b.set_producer(7, 0, -1);
    b.append_control(99, &ControlRecord { kind: ControlRecordType::Commit, coordinator_epoch: 4 });
    let batch = RecordBatch::new(b.finish().unwrap()).unwrap();
    assert!(batch.header().is_control() && batch.header().is_transactional());
    let r = batch.records(1024).unwrap().next().unwrap().unwrap();
    let c = ControlRecord::parse(&r.key.unwrap(), r.value.as_deref()).unwrap();
    assert_eq!(c, ControlRecord { kind: ControlRecordType::Commit, coordinator_epoch: 4 });
}

#[test]
fn record_sets_stop_at_a_partial_batch() {
    let one = build(Compression::None, &[Input { timestamp: 1, key: None, value: Some(vec![1; 50]), headers: vec![] }]);
    let mut two = one.to_vec();
    two.extend_from_slice(&one[..one.len() - 10]);
    let mut set = RecordSet::new(Bytes::from(two));
    assert!(matches!(set.next(), Some(Ok(RecordSetEntry::Batch(_)))));
    assert!(set.next().is_none());
    assert!(set.ended_in_partial());
}

#[test]
fn wrong_counts_are_caught() {
    let bytes =
        build(Compression::None, &[Input { timestamp: 1, key: None, value: Some(vec![1; 5]), headers: vec![] }]);
    // Claim two records where there is one.
    let mut b = bytes.to_vec();
    b[57..61].copy_from_slice(&2i32.to_be_bytes());
    let batch = RecordBatch::new(Bytes::from(b)).unwrap();
    assert!(batch.records(1024).map(|r| r.collect::<Result<Vec<_>, _>>().is_err()).unwrap_or(true));
    // Claim zero records with one present: the leftover bytes are an error.
    let mut b = bytes.to_vec();
    b[57..61].copy_from_slice(&0i32.to_be_bytes());
    let batch = RecordBatch::new(Bytes::from(b)).unwrap();
    assert!(batch.records(1024).unwrap().any(|r| r.is_err()));
}

#[test]
fn entries_too_short_to_hold_a_magic_byte_are_corrupt() {
    for len in 0..14i32 {
        let mut b = vec![0u8; 12 + 20];
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let mut set = RecordSet::new(Bytes::from(b));
        assert!(matches!(set.next(), Some(Err(_))), "length {len}");
        assert!(set.next().is_none());
    }
}

#[test]
fn offsets_near_the_limit_saturate_instead_of_overflowing() {
    let bytes = build(Compression::None, &[Input { timestamp: 1, key: None, value: Some(vec![1]), headers: vec![] }]);
    let mut b = bytes.to_vec();
    b[0..8].copy_from_slice(&i64::MAX.to_be_bytes());
    b[23..27].copy_from_slice(&i32::MAX.to_be_bytes());
    let batch = RecordBatch::new(Bytes::from(b)).unwrap();
    assert_eq!(batch.header().last_offset(), i64::MAX);
    let records: Vec<_> = batch.records(1024).unwrap().collect();
    assert_eq!(records.len(), 1);
}
