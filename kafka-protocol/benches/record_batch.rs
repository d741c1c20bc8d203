//! Record batch encode and decode throughput.
//!
//! Workloads: 100-byte records into 16 KiB and 1 MiB batches, and 1 KiB
//! records (reported in bytes per second), CRC32C included both ways. Each
//! group also runs a baseline in the same run — a tight loop that writes a
//! varint length and the value bytes and CRC32Cs the result, or reads them
//! back — so our figures can be read as a ratio against the floor of what
//! the format costs on this machine.
//!
//! `cargo bench -p kafka-protocol --bench record_batch`

use std::hint::black_box;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::Compression;
use kafka_protocol::codec::varint;
use kafka_protocol::records::{BatchBuilder, RecordBatch};

const TS: i64 = 1_700_000_000_000;

fn values(size: usize, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| (0..size).map(|j| ((i * 31 + j) % 251) as u8).collect()).collect()
}

fn build(values: &[Vec<u8>], compression: Compression) -> Bytes {
    let total: usize = values.iter().map(|v| v.len() + 16).sum();
    let mut b = BatchBuilder::with_capacity(compression, None, total);
    for (i, v) in values.iter().enumerate() {
        b.append(TS + i as i64, None, Some(v), &[]);
    }
    b.finish().expect("non-empty batch")
}

/// The floor: varint length + value copy per record, one CRC32C at the end.
fn baseline_encode(values: &[Vec<u8>], out: &mut BytesMut) -> u32 {
    out.clear();
    for v in values {
        varint::put_i32(out, v.len() as i32);
        out.put_slice(v);
    }
    crc32c::crc32c(out)
}

/// The floor of decoding: CRC32C, then walk varint lengths, slicing values.
fn baseline_decode(buf: &Bytes, n: usize) -> usize {
    let crc = crc32c::crc32c(buf);
    let mut pos = 0;
    let mut total = crc as usize & 1;
    for _ in 0..n {
        let (len, k) = varint::decode_i32(&buf[pos..]).expect("valid");
        pos += k;
        let v = buf.slice(pos..pos + len as usize);
        total += v.len();
        pos += len as usize;
    }
    total
}

fn decode(batch: &Bytes) -> usize {
    let b = RecordBatch::new(batch.clone()).expect("batch");
    b.verify_crc().expect("crc");
    let mut total = 0;
    for r in b.records(64 << 20).expect("records") {
        total += r.expect("record").value.map_or(0, |v| v.len());
    }
    total
}

fn group(c: &mut Criterion, name: &str, record_size: usize, batch_bytes: usize, bytes_throughput: bool) {
    let n = batch_bytes / (record_size + 8);
    let vals = values(record_size, n);
    let mut g = c.benchmark_group(name);
    if bytes_throughput {
        g.throughput(Throughput::Bytes((n * record_size) as u64));
    } else {
        g.throughput(Throughput::Elements(n as u64));
    }
    let mut scratch = BytesMut::with_capacity(batch_bytes * 2);
    g.bench_function("baseline_encode", |b| b.iter(|| black_box(baseline_encode(black_box(&vals), &mut scratch))));
    g.bench_function("encode", |b| b.iter(|| black_box(build(black_box(&vals), Compression::None))));
    baseline_encode(&vals, &mut scratch);
    let flat = scratch.clone().freeze();
    g.bench_function("baseline_decode", |b| b.iter(|| black_box(baseline_decode(black_box(&flat), n))));
    let batch = build(&vals, Compression::None);
    g.bench_function("decode", |b| b.iter(|| black_box(decode(black_box(&batch)))));
    g.finish();
}

fn batches(c: &mut Criterion) {
    group(c, "100B_records_16KiB_batch", 100, 16 * 1024, false);
    group(c, "100B_records_1MiB_batch", 100, 1024 * 1024, false);
    group(c, "1KiB_records_1MiB_batch", 1024, 1024 * 1024, true);
}

fn compressed(c: &mut Criterion) {
    let vals: Vec<Vec<u8>> = (0..150)
        .map(|i| {
            format!("{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"click\",\"page\":\"/products/{}\"}}", i % 17, i % 5)
                .into_bytes()
        })
        .collect();
    let mut g = c.benchmark_group("compressed_16KiB_batch");
    g.throughput(Throughput::Elements(vals.len() as u64));
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
        g.bench_function(format!("encode_{codec}"), |b| b.iter(|| black_box(build(black_box(&vals), codec))));
        let batch = build(&vals, codec);
        g.bench_function(format!("decode_{codec}"), |b| b.iter(|| black_box(decode(black_box(&batch)))));
    }
    g.finish();
}

criterion_group!(benches, batches, compressed);
criterion_main!(benches);
