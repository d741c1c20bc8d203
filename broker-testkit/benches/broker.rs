//! Broker throughput and start-up time.
//!
//! - `core/produce`: Produce requests (acks=1, one 16 KiB batch of 150
//!   100-byte records each) through `Core::handle` into one in-memory
//!   partition, with the full validation a leader does (CRC32C, every
//!   record parsed, timestamps checked), on one broker and replicated to
//!   three; and the same records in lz4 batches, which validation
//!   decompresses. Reported in records per second.
//! - `core/fetch`: 1 MiB Fetch requests through `Core::handle` from a
//!   partition holding 32 MiB, at rotating offsets. Reported in bytes per
//!   second.
//! - `cluster/start`: `Cluster::builder().brokers(3).start()` — binding
//!   three loopback listeners and spawning the core.
//! - `loopback/*`: the same produce and fetch from a client on a loopback
//!   socket to a one-broker `Cluster`, one request in flight at a time.
//!
//! Each group runs a floor in the same run, so the figures read as ratios:
//! `core/produce/floor` does only what the format forces on any broker
//! (parse the batch header, CRC32C, walk every record, copy the bytes into
//! a log buffer); `core/fetch/floor` copies the 1 MiB a fetch returns;
//! `loopback/*-floor` replays the broker's own response bytes from a server
//! that does nothing else, so the difference is the broker's work.
//!
//! `cargo bench -p broker-testkit --bench broker`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use broker_testkit::cluster::{BrokerInfo, Core, Outcome, ReplyId, RequestCtx};
use broker_testkit::config::{BrokerSettings, TopicOverrides};
use broker_testkit::{Cluster, TopicSpec};
use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::frame::{FrameDecoder, encode_typed_request};
use kafka_protocol::header::{RequestHeader, ResponseHeader};
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    FetchRequest, Message, MetadataRequest, ProduceRequest, Request, RequestBody, ResponseBody,
};
use kafka_protocol::records::{BatchBuilder, RecordBatch};
use kafka_protocol::{Compression, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T0: i64 = 1_700_000_000_000;
const RECORDS_PER_BATCH: usize = 150;
const VALUE_BYTES: usize = 100;
const FETCH_BYTES: usize = 1 << 20;
const PREFILL_BYTES: usize = 32 << 20;

/// A 16 KiB batch: 150 records of 100 bytes, no key, CreateTime `ts`.
fn batch(seed: usize, ts: i64) -> Bytes {
    batch_with(Compression::None, seed, ts)
}

fn batch_with(codec: Compression, seed: usize, ts: i64) -> Bytes {
    let mut b = BatchBuilder::with_capacity(codec, None, RECORDS_PER_BATCH * (VALUE_BYTES + 16));
    for i in 0..RECORDS_PER_BATCH {
        let value: Vec<u8> = (0..VALUE_BYTES).map(|j| ((seed * 7 + i * 31 + j) % 251) as u8).collect();
        b.append(ts + i as i64, None, Some(&value), &[]);
    }
    b.finish().expect("a non-empty batch")
}

fn produce_request(topic: &str, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks: 1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData { index: 0, records: Some(records), ..Default::default() }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetch_request(topic_id: Uuid, offset: i64) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: FETCH_BYTES as i32,
        topics: vec![FetchTopic {
            topic_id,
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: FETCH_BYTES as i32,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A core with `brokers` brokers and topic `bench`: one partition led by
/// broker 1, replicated to every broker.
fn core(brokers: i32) -> (Core, Uuid) {
    let infos = (1..=brokers)
        .map(|id| BrokerInfo { id, host: "127.0.0.1".into(), port: 9091, rack: None, online: true })
        .collect();
    let mut core = Core::new("bench".into(), infos, BrokerSettings::default(), None);
    let replicas = (1..=brokers).collect();
    let id = core.create_topic("bench", 1, brokers as usize, Some(vec![replicas]), TopicOverrides::default(), T0);
    (core, id)
}

fn ctx(version: i16, api: &RequestBody, reply: u64) -> RequestCtx {
    RequestCtx {
        now_ms: T0,
        broker: 1,
        version,
        header: RequestHeader {
            api_key: api.api_key() as i16,
            api_version: version,
            correlation_id: reply as i32,
            client_id: Some("bench".into()),
            ..Default::default()
        },
        reply: ReplyId(reply),
        client_host: "/127.0.0.1".into(),
    }
}

fn handle(core: &mut Core, version: i16, body: RequestBody, reply: u64) -> ResponseBody {
    let mut out = core.handle(ctx(version, &body, reply), body);
    match out.pop() {
        Some((_, Outcome::Respond(r))) if out.is_empty() => r,
        other => panic!("expected one response, got {other:?}"),
    }
}

fn check_produce(resp: &ResponseBody) {
    match resp {
        ResponseBody::Produce(r) if r.responses[0].partition_responses[0].error_code == 0 => {}
        other => panic!("produce failed: {other:?}"),
    }
}

fn core_produce(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/produce");
    group.throughput(Throughput::Elements(RECORDS_PER_BATCH as u64));
    for (brokers, codec, name) in [
        (1, Compression::None, "rf1/16KiB-batches"),
        (3, Compression::None, "rf3/16KiB-batches"),
        (1, Compression::Lz4, "rf1/lz4-batches"),
    ] {
        // Validation decompresses a compressed batch to check its records.
        let batches: Vec<Bytes> = (0..16).map(|i| batch_with(codec, i, T0)).collect();
        if brokers == 1 {
            let floor_name = if codec == Compression::None { "floor/16KiB-batches" } else { "floor/lz4-batches" };
            group.bench_function(floor_name, |b| {
                let mut log: Vec<u8> = Vec::with_capacity(64 << 20);
                let mut i = 0usize;
                b.iter(|| {
                    i += 1;
                    if log.len() > 60 << 20 {
                        log.clear();
                    }
                    black_box(validate_and_append(&batches[i % batches.len()], &mut log))
                });
            });
        }
        group.bench_function(name, |b| {
            // A fresh partition per sample, so the log does not grow
            // without bound over the run.
            b.iter_custom(|iters| {
                let (mut core, _) = core(brokers);
                let requests: Vec<RequestBody> =
                    batches.iter().map(|b| RequestBody::Produce(produce_request("bench", b.clone()))).collect();
                let start = Instant::now();
                for i in 0..iters {
                    let resp = handle(&mut core, 11, requests[i as usize % requests.len()].clone(), i + 1);
                    black_box(&resp);
                }
                let elapsed = start.elapsed();
                let p = &core.topics["bench"].partitions[0];
                assert_eq!(p.high_watermark, iters as i64 * RECORDS_PER_BATCH as i64);
                elapsed
            });
        });
    }
    group.finish();
}

/// The least any broker does with a batch it accepts: read the header,
/// check the CRC32C, walk every record (decompressing if needed), and
/// append the bytes to its log.
fn validate_and_append(bytes: &Bytes, log: &mut Vec<u8>) -> usize {
    let batch = RecordBatch::new(bytes.clone()).expect("a batch");
    batch.verify_crc().expect("a valid CRC");
    let mut n = 0;
    for r in batch.records(1 << 24).expect("records") {
        n += r.expect("a record").value.map_or(0, |v| v.len());
    }
    log.extend_from_slice(bytes);
    n
}

/// A one-partition core holding [`PREFILL_BYTES`] of 16 KiB batches.
fn prefilled() -> (Core, Uuid, i64) {
    let (mut core, id) = core(1);
    let mut reply = 0;
    while core.topics["bench"].partitions[0].logs[&1].log.size_bytes() < PREFILL_BYTES as u64 {
        reply += 1;
        let resp =
            handle(&mut core, 11, RequestBody::Produce(produce_request("bench", batch(reply as usize, T0))), reply);
        check_produce(&resp);
    }
    let end = core.topics["bench"].partitions[0].high_watermark;
    (core, id, end)
}

fn core_fetch(c: &mut Criterion) {
    let (mut core, topic_id, end) = prefilled();
    let offsets = fetch_offsets(end);
    let mut group = c.benchmark_group("core/fetch");
    group.throughput(Throughput::Bytes(FETCH_BYTES as u64));
    let mut reply = 1_000_000u64;
    let mut i = 0usize;
    // The floor: a broker that copies the bytes it returns (Kafka's own
    // sendfile avoids even that; the core slices its stored buffers).
    let source = vec![7u8; FETCH_BYTES];
    let mut copy = vec![0u8; FETCH_BYTES];
    group.bench_function("floor/copy-1MiB", |b| {
        b.iter(|| {
            copy.copy_from_slice(black_box(&source));
            black_box(copy[FETCH_BYTES - 1])
        });
    });
    group.bench_function("1MiB", |b| {
        b.iter(|| {
            reply += 1;
            i += 1;
            let req = RequestBody::Fetch(fetch_request(topic_id, offsets[i % offsets.len()]));
            let resp = handle(&mut core, 17, req, reply);
            let ResponseBody::Fetch(f) = &resp else { panic!("not a fetch response") };
            let pd = &f.responses[0].partitions[0];
            assert_eq!((pd.error_code, pd.records.as_ref().map_or(0, Bytes::len)), (0, FETCH_BYTES));
            black_box(resp)
        });
    });
    group.finish();
}

/// The wall clock, which a `Cluster` runs on (retention by time included).
fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    i64::try_from(since_epoch.as_millis()).expect("a sane clock")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

fn cluster_start(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("cluster/start");
    group.bench_function("3-brokers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let cluster = Cluster::builder().brokers(3).start().await.expect("the cluster starts");
                    total += start.elapsed();
                    cluster.shutdown().await;
                }
                total
            })
        });
    });
    group.finish();
}

/// One connection, one request in flight.
struct Client {
    stream: TcpStream,
    buf: BytesMut,
    corr: i32,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client { stream, buf: BytesMut::with_capacity(2 << 20), corr: 0 }
    }

    async fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.corr += 1;
        let header = RequestHeader {
            api_key: R::API_KEY as i16,
            api_version: version,
            correlation_id: self.corr,
            client_id: Some("bench".into()),
            ..Default::default()
        };
        for part in encode_typed_request(&header, req).expect("encode").into_parts() {
            self.stream.write_all(&part).await.expect("write");
        }
        let dec = FrameDecoder::new(1 << 30);
        loop {
            if let Some(mut frame) = dec.decode(&mut self.buf).expect("frame") {
                let h = ResponseHeader::decode(&mut frame, R::API_KEY.info().response_header_version(version))
                    .expect("header");
                assert_eq!(h.correlation_id, self.corr);
                return R::Response::from_bytes(frame, version).expect("response");
            }
            let n = self.stream.read_buf(&mut self.buf).await.expect("read");
            assert!(n > 0, "connection closed");
        }
    }
}

impl Client {
    /// Sends a request and returns the whole response frame, size prefix
    /// included, as the broker wrote it.
    async fn call_raw<R: Request>(&mut self, req: &R, version: i16) -> Bytes {
        self.corr += 1;
        let header = RequestHeader {
            api_key: R::API_KEY as i16,
            api_version: version,
            correlation_id: self.corr,
            client_id: Some("bench".into()),
            ..Default::default()
        };
        for part in encode_typed_request(&header, req).expect("encode").into_parts() {
            self.stream.write_all(&part).await.expect("write");
        }
        let dec = FrameDecoder::new(1 << 30);
        loop {
            if let Some(frame) = dec.decode(&mut self.buf).expect("frame") {
                let mut out = BytesMut::with_capacity(frame.len() + 4);
                out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
                out.extend_from_slice(&frame);
                return out.freeze();
            }
            let n = self.stream.read_buf(&mut self.buf).await.expect("read");
            assert!(n > 0, "connection closed");
        }
    }
}

/// A server that answers every request with a recorded response frame
/// (chosen by API key, correlation id patched): the socket work of serving
/// these requests without any broker logic.
async fn replay_server(produce_response: Bytes, fetch_response: Bytes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else { return };
        let _ = stream.set_nodelay(true);
        let dec = FrameDecoder::new(1 << 30);
        let mut buf = BytesMut::with_capacity(1 << 20);
        loop {
            let frame = match dec.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => match stream.read_buf(&mut buf).await {
                    Ok(n) if n > 0 => continue,
                    _ => return,
                },
                Err(_) => return,
            };
            let api = i16::from_be_bytes([frame[0], frame[1]]);
            let resp = if api == 0 { &produce_response } else { &fetch_response };
            // The recorded frame as it is, but for its correlation id: one
            // write for a small answer, as the broker makes, and no copy of
            // a large one.
            let written = if resp.len() <= 4096 {
                let mut small = resp.to_vec();
                small[4..8].copy_from_slice(&frame[4..8]);
                stream.write_all(&small).await
            } else {
                let mut head = [0u8; 8];
                head[..4].copy_from_slice(&resp[..4]);
                head[4..].copy_from_slice(&frame[4..8]);
                match stream.write_all(&head).await {
                    Ok(()) => stream.write_all(&resp[8..]).await,
                    Err(e) => Err(e),
                }
            };
            if written.is_err() {
                return;
            }
        }
    });
    addr
}

/// Offsets on batch boundaries, 1 MiB apart, each with a full 1 MiB of
/// log after it.
fn fetch_offsets(end: i64) -> Vec<i64> {
    let step = (FETCH_BYTES / (RECORDS_PER_BATCH * (VALUE_BYTES + 8)) * RECORDS_PER_BATCH) as i64;
    (0..end - 2 * step).step_by(step as usize).collect()
}

fn loopback(c: &mut Criterion) {
    let rt = runtime();
    let (cluster, mut client, fetch_topic_id) = rt.block_on(async {
        let cluster = Cluster::builder().brokers(1).start().await.expect("the cluster starts");
        // Produce into small segments under a size limit that each sample
        // enforces afterwards, so memory stays bounded over the run.
        let produce_topic =
            TopicSpec::new("produce", 1, 1).config("segment.bytes", "16777216").config("retention.bytes", "67108864");
        cluster.create_topic_with(produce_topic).await.expect("topic");
        cluster.create_topic("fetch", 1, 1).await.expect("topic");
        let mut client = Client::connect(cluster.broker_addr(1).expect("broker 1")).await;
        let now = now_ms();
        let mut written = 0;
        let mut seed = 0;
        while written < PREFILL_BYTES {
            let records = batch(seed, now);
            seed += 1;
            written += records.len();
            let resp = client.call(&produce_request("fetch", records), 11).await;
            assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
        }
        let md = client.call(&MetadataRequest { topics: None, ..Default::default() }, 12).await;
        let topic_id = md.topics.iter().find(|t| t.name.as_deref() == Some("fetch")).expect("fetch").topic_id;
        (cluster, client, topic_id)
    });
    let end = rt.block_on(cluster.partition_state("fetch", 0)).expect("state").high_watermark;
    let offsets = fetch_offsets(end);
    let now = now_ms();
    let requests: Vec<ProduceRequest> = (0..16).map(|i| produce_request("produce", batch(i, now))).collect();

    // The broker's real answers, replayed by a server that does nothing else.
    let mut replay = rt.block_on(async {
        let produce = client.call_raw(&requests[0], 11).await;
        let fetch = client.call_raw(&fetch_request(fetch_topic_id, offsets[0]), 17).await;
        Client::connect(replay_server(produce, fetch).await).await
    });

    let mut group = c.benchmark_group("loopback");
    group.throughput(Throughput::Elements(RECORDS_PER_BATCH as u64));
    let mut i = 0usize;
    group.bench_function("produce/16KiB-batches-floor", |b| {
        // Timed as the broker's produce below: one runtime entry per sample.
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    i += 1;
                    let resp = replay.call(&requests[i % requests.len()], 11).await;
                    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("produce/16KiB-batches", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    i += 1;
                    let resp = client.call(&requests[i % requests.len()], 11).await;
                    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
                }
                let elapsed = start.elapsed();
                cluster.apply_retention().await.expect("retention");
                elapsed
            })
        });
    });
    group.throughput(Throughput::Bytes(FETCH_BYTES as u64));
    group.bench_function("fetch/1MiB-floor", |b| {
        b.iter(|| {
            i += 1;
            let resp = rt.block_on(replay.call(&fetch_request(fetch_topic_id, offsets[i % offsets.len()]), 17));
            assert_eq!(resp.responses[0].partitions[0].error_code, 0);
            black_box(resp)
        });
    });
    group.bench_function("fetch/1MiB", |b| {
        b.iter(|| {
            i += 1;
            let resp = rt.block_on(client.call(&fetch_request(fetch_topic_id, offsets[i % offsets.len()]), 17));
            let pd = &resp.responses[0].partitions[0];
            assert_eq!((pd.error_code, pd.records.as_ref().map_or(0, Bytes::len)), (0, FETCH_BYTES));
            black_box(resp)
        });
    });
    group.finish();
    drop(client);
    rt.block_on(cluster.shutdown());
}

criterion_group!(benches, core_produce, core_fetch, cluster_start, loopback);
criterion_main!(benches);
