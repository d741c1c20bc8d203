//! broker-testkit against third-party clients: kcat (librdkafka 2.0.2),
//! confluent-kafka (a newer librdkafka, driven by
//! tests/interop/testkit_clients.py) and the `kafka-testkit` binary.
//!
//! Each test starts its own cluster on ephemeral ports and runs the client
//! as a subprocess. What the clients report is checked against what the
//! cluster stores ([`Cluster::batches`], [`Cluster::records`], committed
//! offsets, group state), so that neither side vouches for itself.
//!
//! Run by .ci/run (`--features interop`):
//!
//!     cargo test -p tests --features interop --test testkit_interop
#![cfg(feature = "interop")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use broker_testkit::group::GroupView;
use broker_testkit::{BatchInfo, Cluster, TopicSpec};
use kafka_protocol::{ApiKey, Compression};
use tests::interop::{
    CODECS, Drain, Run, Steered, TIMEOUT, assert_no_protocol_errors, kcat_produce, run_ok, spawn_piped, wait_until,
    wait_with_timeout,
};

/// Values are padded with this many 'x' so that every codec shrinks them:
/// librdkafka sends a batch uncompressed when compressing does not help.
const PAD: usize = 100;

// ----------------------------------------------------------------- kcat --

/// A consumed (or stored) record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    partition: i32,
    offset: i64,
    key: Option<String>,
    value: String,
}

/// `kcat -C -e`: every partition from the beginning to its end.
fn kcat_consume(bootstrap: &str, topic: &str) -> Vec<Rec> {
    // kcat prints a null value as an empty one, and records here have
    // values; the order stays (partition, offset).
    tests::interop::kcat_consume(bootstrap, topic)
        .into_iter()
        .map(|r| Rec { partition: r.partition, offset: r.offset, key: r.key, value: r.value.unwrap_or_default() })
        .collect()
}

// --------------------------------------------------------------- python --

fn py(sub: &str, bootstrap: &str, args: &[&str]) -> Command {
    let mut c = tests::interop::python();
    c.arg(tests::interop::script("testkit_clients.py")).args([sub, "--bootstrap", bootstrap]).args(args);
    c
}

/// Parses `record`/`delivered` lines: partition, offset, key, value.
fn parse_recs(lines: &[Vec<String>]) -> Vec<Rec> {
    let mut recs: Vec<Rec> = lines
        .iter()
        .map(|f| Rec {
            partition: f[0].parse().unwrap(),
            offset: f[1].parse().unwrap(),
            key: (f[2] != "-").then(|| f[2].clone()),
            value: f[3].clone(),
        })
        .collect();
    recs.sort();
    recs
}

fn py_consume(bootstrap: &str, topic: &str) -> Vec<Rec> {
    let r = run_ok(py("consume", bootstrap, &["--topic", topic]), "");
    let recs = parse_recs(&r.lines("record"));
    assert_eq!(r.lines("done"), vec![vec![recs.len().to_string()]]);
    recs
}

/// The consumer-group driver of testkit_clients.py (`group` subcommand),
/// steered one command at a time.
struct GroupDriver(Steered);

impl GroupDriver {
    fn start(bootstrap: &str, group: &str, topic: &str) -> GroupDriver {
        GroupDriver(Steered::start(py("group", bootstrap, &["--group", group, "--topic", topic])))
    }

    /// Sends a command and returns the lines of its reply, without the final "ok".
    fn call(&mut self, command: &str) -> Vec<Vec<String>> {
        self.0.call(command)
    }

    /// The partitions of `member` once its rebalance completed.
    fn assignment(&mut self, member: &str) -> BTreeSet<i32> {
        let reply = self.call(&format!("assignment {member}"));
        assert_eq!(reply.len(), 1, "{reply:?}");
        let f = &reply[0];
        assert_eq!((f[0].as_str(), f[1].as_str()), ("assignment", member));
        if f[2] == "-" { BTreeSet::new() } else { f[2].split(',').map(|p| p.parse().unwrap()).collect() }
    }

    /// What `member` consumed since the last call, once every assigned
    /// partition reached `end`: (partition, offset, value), in order.
    fn consume(&mut self, member: &str, end: i64) -> Vec<(i32, i64, String)> {
        self.call(&format!("consume {member} {end}"))
            .into_iter()
            .map(|f| {
                assert_eq!((f[0].as_str(), f[1].as_str()), ("record", member));
                (f[2].parse().unwrap(), f[3].parse().unwrap(), f[4].clone())
            })
            .collect()
    }

    /// Commits what `member` consumed; returns partition → offset.
    fn commit(&mut self, member: &str) -> BTreeMap<i32, i64> {
        self.call(&format!("commit {member}"))
            .into_iter()
            .map(|f| {
                assert_eq!((f[0].as_str(), f[1].as_str()), ("committed", member));
                (f[2].parse().unwrap(), f[3].parse().unwrap())
            })
            .collect()
    }

    /// Ends the driver; it must exit cleanly.
    fn quit(self) {
        self.0.quit();
    }
}

// -------------------------------------------------------------- helpers --

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let p = std::env::temp_dir().join(format!("testkit-interop-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every partition of `topic` fully replicated: the whole replica set in
/// the ISR, every replica's log ending at the high watermark.
async fn wait_in_sync(cluster: &Cluster, topic: &str, partitions: i32) {
    wait_until(&format!("{topic} in sync"), || async {
        for p in 0..partitions {
            let s = cluster.partition_state(topic, p).await.unwrap();
            if s.leader < 0
                || s.isr.len() != s.replicas.len()
                || s.replica_end_offsets.values().any(|&e| e != s.high_watermark)
            {
                return false;
            }
        }
        true
    })
    .await;
}

async fn high_watermarks(cluster: &Cluster, topic: &str, partitions: i32) -> i64 {
    let mut sum = 0;
    for p in 0..partitions {
        sum += cluster.partition_state(topic, p).await.unwrap().high_watermark;
    }
    sum
}

/// The records the leader stores, decoded by the testkit itself.
async fn stored(cluster: &Cluster, topic: &str, partitions: i32) -> Vec<Rec> {
    let mut out = Vec::new();
    for p in 0..partitions {
        for r in cluster.records(topic, p).await.unwrap() {
            let text = |b: &bytes::Bytes| String::from_utf8(b.to_vec()).unwrap();
            out.push(Rec {
                partition: p,
                offset: r.offset,
                key: r.key.as_ref().map(text),
                value: r.value.as_ref().map(text).unwrap_or_default(),
            });
        }
    }
    out
}

/// Each partition's offsets run 0, 1, 2, ... without a gap or a repeat.
fn assert_dense(recs: &[Rec]) {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for r in recs {
        let n = next.entry(r.partition).or_default();
        assert_eq!(r.offset, *n, "partition {} is not dense at {r:?}", r.partition);
        *n += 1;
    }
}

/// Size of a v2 record batch header.
const BATCH_HEADER: usize = 61;

/// Every stored batch of `topic` was written with `codec`, and for a real
/// codec is smaller than its padded values: really compressed.
async fn assert_stored_codec(cluster: &Cluster, topic: &str, partitions: i32, codec: Compression) -> Vec<BatchInfo> {
    let mut all = Vec::new();
    for p in 0..partitions {
        for b in cluster.batches(topic, p, None).await.unwrap() {
            assert_eq!(b.compression, codec, "{topic}-{p}: batch at {} has codec {:?}", b.base_offset, b.compression);
            // A batch holding its values as they are is at least its
            // header plus the padding of every value.
            let raw = BATCH_HEADER + b.record_count as usize * PAD;
            if codec == Compression::None {
                assert!(b.size_bytes > raw, "{topic}-{p}: {b:?} cannot hold its values uncompressed");
            } else {
                assert!(b.size_bytes < raw, "{topic}-{p}: {b:?} is not compressed");
            }
            all.push(b);
        }
    }
    assert!(!all.is_empty(), "{topic}: no batches");
    all
}

/// The batches of one partition as written by idempotent producers: per
/// producer id, one epoch, sequences from 0 without gaps. Returns the
/// producer ids in order of appearance.
fn assert_idempotent(what: &str, batches: &[BatchInfo]) -> Vec<i64> {
    let mut next_seq: BTreeMap<(i64, i16), i32> = BTreeMap::new();
    let mut pids = Vec::new();
    let mut next_offset = batches.first().map_or(0, |b| b.base_offset);
    for b in batches {
        assert_eq!(b.base_offset, next_offset, "{what}: batches not contiguous at {b:?}");
        next_offset = b.last_offset + 1;
        assert!(b.producer_id >= 0 && b.producer_epoch >= 0, "{what}: not idempotent: {b:?}");
        if !pids.contains(&b.producer_id) {
            pids.push(b.producer_id);
        }
        let seq = next_seq.entry((b.producer_id, b.producer_epoch)).or_insert(0);
        assert_eq!(b.base_sequence, *seq, "{what}: sequence gap or repeat at {b:?}");
        *seq += b.record_count;
    }
    let epochs: BTreeSet<_> = next_seq.keys().collect();
    assert_eq!(epochs.len(), pids.len(), "{what}: a producer changed epochs: {epochs:?}");
    pids
}

fn padded(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}{}", "x".repeat(PAD))
}

/// Java's `Utils.murmur2`, which the Java client's default partitioner (and
/// librdkafka's `murmur2_random`) hash keys with.
fn java_murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// `Utils.toPositive(Utils.murmur2(key)) % numPartitions`.
fn java_partition(key: &[u8], partitions: i32) -> i32 {
    (java_murmur2(key) & 0x7fff_ffff) % partitions
}

// ---------------------------------------------------------------- tests --

#[test]
fn java_murmur2_matches_kafka() {
    // Kafka's UtilsTest.testMurmur2.
    for (key, hash) in [
        (&b"21"[..], -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ] {
        assert_eq!(java_murmur2(key), hash, "{}", String::from_utf8_lossy(key));
    }
}

/// kcat produces with every codec; the stored batches carry that codec, and
/// everything reads back through kcat and through the testkit's decoder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_round_trips_every_codec() {
    let cluster = Cluster::builder().start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    const N: usize = 200;
    for (name, codec) in CODECS {
        let topic = format!("kcat-{name}");
        cluster.create_topic(&topic, 1, 1).await.unwrap();
        let lines: Vec<String> = (0..N).map(|i| format!("k{i}:{}", padded(name, i))).collect();
        kcat_produce(&boot, &topic, &["-p", "0", "-K", ":", "-z", name, "-X", "batch.num.messages=50"], &lines);

        let batches = assert_stored_codec(&cluster, &topic, 1, codec).await;
        assert!(batches.len() >= N / 50, "{topic}: {} batches", batches.len());
        assert!(batches.iter().all(|b| b.producer_id == -1 && b.base_sequence == -1), "{batches:?}");

        let expected: Vec<Rec> = (0..N)
            .map(|i| Rec { partition: 0, offset: i as i64, key: Some(format!("k{i}")), value: padded(name, i) })
            .collect();
        assert_eq!(stored(&cluster, &topic, 1).await, expected, "{topic}: stored records");
        assert_eq!(kcat_consume(&boot, &topic), expected, "{topic}: consumed by kcat");
    }
    cluster.shutdown().await;
}

/// kcat with enable.idempotence: every batch carries the producer id and
/// epoch InitProducerId gave, and sequences run on without a gap; a second
/// producer gets another id and starts again at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_idempotent_producer() {
    let cluster = Cluster::builder().start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    cluster.create_topic("kcat-idem", 3, 1).await.unwrap();
    const N: usize = 150;
    for run in 0..2 {
        let lines: Vec<String> = (0..N).map(|i| format!("k{i}:{}", padded(&format!("r{run}-"), i))).collect();
        let args = ["-K", ":", "-z", "lz4", "-X", "enable.idempotence=true", "-X", "batch.num.messages=10"];
        kcat_produce(&boot, "kcat-idem", &args, &lines);
    }
    let mut pids = BTreeSet::new();
    for p in 0..3 {
        let batches = cluster.batches("kcat-idem", p, None).await.unwrap();
        assert!(batches.iter().all(|b| b.compression == Compression::Lz4), "{batches:?}");
        let ids = assert_idempotent(&format!("kcat-idem-{p}"), &batches);
        assert_eq!(ids.len(), 2, "partition {p}: one producer id per kcat run: {batches:?}");
        assert!(batches.len() >= 4, "partition {p}: {} batches", batches.len());
        pids.extend(ids);
    }
    assert_eq!(pids.len(), 2, "producer ids {pids:?}");

    // Each key's records, in production order, exactly once.
    let consumed = kcat_consume(&boot, "kcat-idem");
    assert_dense(&consumed);
    assert_eq!(consumed, stored(&cluster, "kcat-idem", 3).await);
    let mut values: Vec<&str> = consumed.iter().map(|r| r.value.as_str()).collect();
    values.sort();
    let mut expected: Vec<String> =
        (0..2).flat_map(|run| (0..N).map(move |i| padded(&format!("r{run}-"), i))).collect();
    expected.sort();
    assert_eq!(values, expected);
    for p in 0..3 {
        let order: Vec<(usize, usize)> = consumed
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| {
                let v = r.value.trim_end_matches('x').trim_start_matches('r');
                let (run, i) = v.split_once('-').unwrap();
                (run.parse().unwrap(), i.parse().unwrap())
            })
            .collect();
        assert!(order.is_sorted(), "partition {p} out of production order: {order:?}");
    }
    cluster.shutdown().await;
}

/// confluent-kafka's Producer and Consumer (a newer librdkafka than kcat's,
/// newer protocol versions) with every codec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_round_trips_every_codec() {
    let cluster = Cluster::builder().start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    const N: usize = 120;
    for (name, codec) in CODECS {
        let topic = format!("ck-{name}");
        cluster.create_topic(&topic, 2, 1).await.unwrap();
        let args =
            format!("--topic {topic} --codec {name} --count {N} --key-prefix k --value-prefix {name} --pad {PAD}");
        let args: Vec<&str> = args.split_whitespace().chain(["--batch", "20"]).collect();
        let r = run_ok(py("produce", &boot, &args), "");
        let delivered = parse_recs(&r.lines("delivered"));
        assert_eq!(r.lines("done"), vec![vec![N.to_string(), "0".to_string()]]);
        assert_eq!(delivered.len(), N);

        let batches = assert_stored_codec(&cluster, &topic, 2, codec).await;
        assert!(batches.len() >= N / 20, "{topic}: {} batches", batches.len());
        assert!(batches.iter().all(|b| b.producer_id == -1), "{batches:?}");

        // What the producer was told matches what the cluster stores and
        // what the consumer reads.
        let stored = stored(&cluster, &topic, 2).await;
        assert_dense(&stored);
        assert_eq!(stored, delivered, "{topic}: delivery reports vs stored records");
        let keys: BTreeSet<_> = stored.iter().map(|r| r.key.clone().unwrap()).collect();
        assert_eq!(keys, (0..N).map(|i| format!("k{i}")).collect());
        assert_eq!(py_consume(&boot, &topic), stored, "{topic}: consumed by confluent-kafka");
    }
    cluster.shutdown().await;
}

/// confluent-kafka with enable.idempotence, on three brokers with replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_idempotent_producer() {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    cluster.create_topic("ck-idem", 3, 3).await.unwrap();
    let mut pids = BTreeSet::new();
    let mut delivered = Vec::new();
    for run in 0..2 {
        let args =
            format!("--topic ck-idem --codec zstd --idempotent --count 150 --key-prefix k --value-prefix r{run}-");
        let args: Vec<&str> = args.split_whitespace().chain(["--pad", "100", "--batch", "10"]).collect();
        let r = run_ok(py("produce", &boot, &args), "");
        delivered.extend(parse_recs(&r.lines("delivered")));
    }
    delivered.sort();
    assert_eq!(delivered.len(), 300);
    wait_in_sync(&cluster, "ck-idem", 3).await;
    for p in 0..3 {
        let batches = cluster.batches("ck-idem", p, None).await.unwrap();
        assert!(batches.iter().all(|b| b.compression == Compression::Zstd), "{batches:?}");
        let ids = assert_idempotent(&format!("ck-idem-{p}"), &batches);
        assert_eq!(ids.len(), 2, "partition {p}: {batches:?}");
        pids.extend(ids);
        // Followers hold the leader's batches unchanged.
        let s = cluster.partition_state("ck-idem", p).await.unwrap();
        for &b in &s.replicas {
            assert_eq!(cluster.batches("ck-idem", p, Some(b)).await.unwrap(), batches, "replica on broker {b}");
        }
    }
    assert_eq!(pids.len(), 2);
    let stored = stored(&cluster, "ck-idem", 3).await;
    assert_dense(&stored);
    assert_eq!(stored, delivered);
    assert_eq!(py_consume(&boot, "ck-idem"), stored);
    cluster.shutdown().await;
}

/// librdkafka's transactional producer (confluent-kafka) against the
/// testkit, read by our read_committed consumer and by its own; and ours
/// read by librdkafka's read_committed consumer: committed records once
/// each, aborted ones never.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_transactions() {
    use kafka_client::consumer::{Consumer, IsolationLevel, OffsetReset};
    use kafka_client::producer::{Producer, ProducerRecord};

    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    cluster.create_topic("ck-txn", 3, 3).await.unwrap();
    let r =
        run_ok(py("txproduce", &boot, &["--topic", "ck-txn", "--transactional-id", "ck-writer", "--count", "30"]), "");
    let committed: BTreeSet<String> = r.lines("committed").into_iter().map(|f| f[0].clone()).collect();
    assert_eq!((committed.len(), r.lines("aborted").len()), (20, 10));
    let theirs = run_ok(py("txconsume", &boot, &["--topic", "ck-txn", "--expect", "20"]), "");
    let seen: Vec<String> = theirs.lines("record").into_iter().map(|f| f[3].clone()).collect();
    assert_eq!(seen.len(), 20, "librdkafka's read_committed: each committed record once");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), committed);

    let c = Consumer::builder()
        .bootstrap_servers(&boot)
        .auto_offset_reset(OffsetReset::Earliest)
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()
        .unwrap();
    let tps: Vec<kafka_client::TopicPartition> =
        (0..3).map(|p| kafka_client::TopicPartition::new("ck-txn", p)).collect();
    c.assign(tps).unwrap();
    let mut ours = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ours.len() < 20 && std::time::Instant::now() < deadline {
        ours.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    ours.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    c.close().await.unwrap();
    let ours: Vec<String> =
        ours.iter().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()).collect();
    assert_eq!(ours.len(), 20, "our read_committed: each committed librdkafka record once");
    assert_eq!(ours.into_iter().collect::<BTreeSet<_>>(), committed);

    cluster.create_topic("ck-txn-ours", 3, 3).await.unwrap();
    let p = Producer::builder().bootstrap_servers(&boot).transactional_id("rust-writer").build().unwrap();
    p.init_transactions().await.unwrap();
    let mut expected = BTreeSet::new();
    for t in 0..6 {
        let txn = p.transaction().await.unwrap();
        for i in 0..5 {
            let v = format!("r-{}", t * 5 + i);
            txn.send(ProducerRecord::new("ck-txn-ours").key(v.clone()).value(v.clone()))
                .await
                .map_err(|e| e.error)
                .unwrap();
            if t % 3 != 2 {
                expected.insert(v);
            }
        }
        if t % 3 == 2 {
            p.flush().await;
            txn.abort().await.unwrap();
        } else {
            txn.commit().await.unwrap();
        }
    }
    p.close().await.unwrap();
    let theirs = run_ok(py("txconsume", &boot, &["--topic", "ck-txn-ours", "--expect", "20"]), "");
    let seen: Vec<String> = theirs.lines("record").into_iter().map(|f| f[3].clone()).collect();
    assert_eq!(seen.len(), 20, "librdkafka's read_committed reads each of our committed records once");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
    cluster.shutdown().await;
}

/// kcat with librdkafka's `murmur2_random` partitioner puts keys where the
/// Java client's default partitioner does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_murmur2_partitions_keys_like_java() {
    const PARTITIONS: i32 = 12;
    let cluster = Cluster::builder().start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    cluster.create_topic("keyed", PARTITIONS, 1).await.unwrap();
    // Every key length modulo 4 (murmur2's tail), and multi-byte UTF-8.
    let mut keys: Vec<String> = (0..300).map(|i| format!("key-{i}")).collect();
    keys.extend((1..=9).map(|n| "k".repeat(n)));
    keys.extend(["ключ", "キー", "clé-0", "21", "foobar"].map(String::from));
    let lines: Vec<String> = keys.iter().map(|k| format!("{k}:value of {k}")).collect();
    kcat_produce(&boot, "keyed", &["-K", ":", "-X", "partitioner=murmur2_random"], &lines);

    let stored = stored(&cluster, "keyed", PARTITIONS).await;
    assert_eq!(stored.len(), keys.len());
    let mut used = BTreeSet::new();
    for r in &stored {
        let key = r.key.as_deref().unwrap();
        assert_eq!(r.value, format!("value of {key}"));
        assert_eq!(r.partition, java_partition(key.as_bytes(), PARTITIONS), "key {key:?}");
        used.insert(r.partition);
    }
    assert_eq!(used.len(), PARTITIONS as usize, "300 keys should reach every partition");
    cluster.shutdown().await;
}

/// confluent-kafka's AdminClient: create, describe, describe configs,
/// delete, and the errors Kafka gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_admin_client() {
    let cluster = Cluster::builder().brokers(3).start().await.unwrap();
    let boot = cluster.bootstrap_servers();

    let r = run_ok(
        py(
            "create",
            &boot,
            &["adm-six:6:3:retention.ms=3600000,min.insync.replicas=2,max.message.bytes=2000000", "adm-one:1:1"],
        ),
        "",
    );
    let mut created = r.lines("created");
    created.sort();
    assert_eq!(created, vec![vec!["adm-one"], vec!["adm-six"]]);
    for p in 0..6 {
        let s = cluster.partition_state("adm-six", p).await.unwrap();
        assert_eq!(s.replicas.len(), 3, "adm-six-{p}: {s:?}");
        assert_eq!(s.leader, s.replicas[0], "adm-six-{p}: the preferred replica leads: {s:?}");
    }
    // Preferred leaders are spread over the brokers.
    let mut leaders = BTreeSet::new();
    for p in 0..6 {
        leaders.insert(cluster.partition_state("adm-six", p).await.unwrap().leader);
    }
    assert_eq!(leaders.len(), 3, "leaders {leaders:?}");

    // describe_topics agrees with the cluster.
    let r = run_ok(py("describe", &boot, &["adm-six", "adm-one"]), "");
    let parts = r.lines("partition");
    assert_eq!(parts.len(), 7, "{}", r.stdout);
    for f in &parts {
        let (topic, p) = (&f[0], f[1].parse::<i32>().unwrap());
        let s = cluster.partition_state(topic, p).await.unwrap();
        let ids = |s: &str| s.split(',').map(|x| x.parse::<i32>().unwrap()).collect::<Vec<_>>();
        assert_eq!(f[2].parse::<i32>().unwrap(), s.leader, "{f:?}");
        assert_eq!(ids(&f[3]), s.replicas, "{f:?}");
        assert_eq!(ids(&f[4]).into_iter().collect::<BTreeSet<_>>(), s.isr.iter().copied().collect(), "{f:?}");
    }

    // describe_configs: overrides come from the topic, the rest are Kafka's
    // defaults.
    let r = run_ok(py("configs", &boot, &["adm-six", "adm-one"]), "");
    let configs: BTreeMap<(String, String), (String, String, String)> = r
        .lines("config")
        .into_iter()
        .map(|f| ((f[0].clone(), f[1].clone()), (f[2].clone(), f[3].clone(), f[4].clone())))
        .collect();
    let get = |t: &str, k: &str| {
        let (v, d, s) = configs.get(&(t.to_string(), k.to_string())).unwrap_or_else(|| panic!("no {k} of {t}"));
        (v.as_str(), d.as_str(), s.as_str())
    };
    for (t, k, v) in [
        ("adm-six", "retention.ms", "3600000"),
        ("adm-six", "min.insync.replicas", "2"),
        ("adm-six", "max.message.bytes", "2000000"),
    ] {
        assert_eq!(get(t, k), (v, "False", "DYNAMIC_TOPIC_CONFIG"), "{t} {k}");
    }
    for (k, v) in [
        ("retention.ms", "604800000"),
        ("min.insync.replicas", "1"),
        ("max.message.bytes", "1048588"),
        ("cleanup.policy", "delete"),
        ("segment.bytes", "1073741824"),
        ("compression.type", "producer"),
        ("retention.bytes", "-1"),
        ("message.timestamp.type", "CreateTime"),
    ] {
        assert_eq!(get("adm-one", k), (v, "True", "DEFAULT_CONFIG"), "adm-one {k}");
    }
    assert_eq!(get("adm-six", "segment.bytes"), ("1073741824", "True", "DEFAULT_CONFIG"));

    // Errors, one per topic of the request.
    let r = run_ok(
        py(
            "create",
            &boot,
            &[
                "--expect-errors",
                "adm-six:3:1",
                "adm-rf:1:4",
                "adm-bad-config:1:1:retention.ms=soon",
                "adm-unknown-config:1:1:no.such.config=1",
                "adm-zero:0:1",
            ],
        ),
        "",
    );
    let mut errors = r.lines("error");
    errors.sort();
    assert_eq!(
        errors,
        vec![
            vec!["adm-bad-config", "INVALID_CONFIG"],
            vec!["adm-rf", "INVALID_REPLICATION_FACTOR"],
            vec!["adm-six", "TOPIC_ALREADY_EXISTS"],
            vec!["adm-unknown-config", "INVALID_CONFIG"],
            vec!["adm-zero", "INVALID_PARTITIONS"],
        ],
        "{}",
        r.stderr
    );
    assert!(r.lines("created").is_empty());
    assert_eq!(cluster.partition_state("adm-six", 5).await.unwrap().replicas.len(), 3, "adm-six unchanged");
    assert!(cluster.partition_state("adm-six", 6).await.is_err());
    for t in ["adm-rf", "adm-bad-config", "adm-unknown-config", "adm-zero"] {
        assert!(cluster.partition_state(t, 0).await.is_err(), "{t} was created");
    }

    // validate_only checks without creating.
    let r = run_ok(py("create", &boot, &["--validate-only", "adm-dry:2:2"]), "");
    assert_eq!(r.lines("created"), vec![vec!["adm-dry"]]);
    assert!(cluster.partition_state("adm-dry", 0).await.is_err(), "validate_only created the topic");

    // Delete; deleting again, or an unknown topic, is UNKNOWN_TOPIC_OR_PART.
    let r = run_ok(py("delete", &boot, &["adm-six"]), "");
    assert_eq!(r.lines("deleted"), vec![vec!["adm-six"]]);
    assert!(cluster.partition_state("adm-six", 0).await.is_err(), "adm-six still exists");
    let r = run_ok(py("delete", &boot, &["--expect-errors", "adm-six", "adm-never"]), "");
    let mut errors = r.lines("error");
    errors.sort();
    assert_eq!(errors, vec![vec!["adm-never", "UNKNOWN_TOPIC_OR_PART"], vec!["adm-six", "UNKNOWN_TOPIC_OR_PART"]]);
    let r = run_ok(py("describe", &boot, &["--expect-errors", "adm-six", "adm-one"]), "");
    assert_eq!(r.lines("error"), vec![vec!["adm-six", "UNKNOWN_TOPIC_OR_PART"]]);
    assert_eq!(r.lines("partition").len(), 1);
    // The name is free again.
    let r = run_ok(py("create", &boot, &["adm-six:2:2"]), "");
    assert_eq!(r.lines("created"), vec![vec!["adm-six"]]);
    assert_eq!(cluster.partition_state("adm-six", 1).await.unwrap().replicas.len(), 2);
    cluster.shutdown().await;
}

/// Two consumers split a six-partition topic, one leaves and the other
/// takes over, and a new consumer resumes from the committed offsets. With
/// `disrupt`, brokers restart and leaders move between the phases.
async fn group_scenario(cluster: &Cluster, topic: &str, group: &str, disrupt: bool) {
    let boot = cluster.bootstrap_servers();
    let all: BTreeSet<i32> = (0..6).collect();
    let mut g = GroupDriver::start(&boot, group, topic);

    // Records of `partitions` with offsets from..to, as the driver produced them.
    let expect = |partitions: &BTreeSet<i32>, from: i64, to: i64| -> Vec<(i32, i64, String)> {
        partitions.iter().flat_map(|&p| (from..to).map(move |o| (p, o, format!("{p}-{o}")))).collect()
    };
    let sorted = |mut v: Vec<(i32, i64, String)>| {
        // Per partition, records arrive in offset order; across partitions
        // in any order.
        let mut last: BTreeMap<i32, i64> = BTreeMap::new();
        for (p, o, _) in &v {
            let prev = last.insert(*p, *o);
            assert!(prev.is_none_or(|x| x < *o), "partition {p}: offset {o} after {prev:?}");
        }
        v.sort();
        v
    };
    let committed =
        |to: i64| -> BTreeMap<(String, i32), i64> { (0..6).map(|p| ((topic.to_string(), p), to)).collect() };

    // Phase 1: two members, three partitions each.
    g.call("open a");
    g.call("open b");
    let view = cluster.wait_for_group_stable(group, Some(2), TIMEOUT).await.unwrap();
    assert_eq!(view.protocol.as_deref(), Some("range"));
    let (pa, pb) = (g.assignment("a"), g.assignment("b"));
    assert_eq!((pa.len(), pb.len()), (3, 3), "a {pa:?}, b {pb:?}");
    assert!(pa.is_disjoint(&pb), "a {pa:?}, b {pb:?}");
    assert_eq!(pa.union(&pb).copied().collect::<BTreeSet<_>>(), all);
    // The coordinator holds the assignments the members act on.
    assert_eq!(assigned(&view, "a", topic), pa);
    assert_eq!(assigned(&view, "b", topic), pb);
    g.call("produce 10 0");
    assert_eq!(sorted(g.consume("a", 10)), expect(&pa, 0, 10));
    assert_eq!(sorted(g.consume("b", 10)), expect(&pb, 0, 10));
    assert_eq!(g.commit("a"), pa.iter().map(|&p| (p, 10)).collect());
    assert_eq!(g.commit("b"), pb.iter().map(|&p| (p, 10)).collect());
    assert_eq!(cluster.committed_offsets(group).await.unwrap(), committed(10));

    let (pa, pb) = if disrupt {
        // The group coordinator restarts, and every partition's leader moves.
        let old = coordinator(cluster, group).await;
        cluster.restart_broker(old).await.unwrap();
        let new = coordinator(cluster, group).await;
        assert_ne!(new, old, "the coordinator should have moved");
        let heartbeats = cluster.request_stats().count(Some(new), ApiKey::Heartbeat);
        wait_in_sync(cluster, topic, 6).await;
        for p in 0..6 {
            let s = cluster.partition_state(topic, p).await.unwrap();
            let to = *s.replicas.iter().find(|&&b| b != s.leader).unwrap();
            cluster.move_leader(topic, p, to).await.unwrap();
        }
        assert_eq!(cluster.committed_offsets(group).await.unwrap(), committed(10), "after the coordinator moved");
        // The members find the new coordinator and go on heartbeating in
        // the same generation: a coordinator failover is no rebalance.
        wait_until("heartbeats at the new coordinator", || async {
            cluster.request_stats().count(Some(new), ApiKey::Heartbeat) >= heartbeats + 10
        })
        .await;
        let after = cluster.group(group).await.unwrap().unwrap();
        assert_eq!((after.state, after.generation), (view.state, view.generation), "{after:?}");
        assert_eq!((g.assignment("a"), g.assignment("b")), (pa.clone(), pb.clone()));
        (pa, pb)
    } else {
        (pa, pb)
    };
    g.call("produce 5 10");
    assert_eq!(sorted(g.consume("a", 15)), expect(&pa, 10, 15), "a re-read or skipped records");
    assert_eq!(sorted(g.consume("b", 15)), expect(&pb, 10, 15), "b re-read or skipped records");
    g.commit("a");
    g.commit("b");
    assert_eq!(cluster.committed_offsets(group).await.unwrap(), committed(15));

    // Phase 2: a leaves; b takes over every partition from a's commits.
    g.call("close a");
    let view = cluster.wait_for_group_stable(group, Some(1), TIMEOUT).await.unwrap();
    assert_eq!(view.members[0].client_id, "b");
    assert_eq!(g.assignment("b"), all);
    assert_eq!(assigned(&view, "b", topic), all);
    g.call("produce 5 15");
    assert_eq!(sorted(g.consume("b", 20)), expect(&all, 15, 20), "b re-read or skipped records");
    assert_eq!(g.commit("b"), (0..6).map(|p| (p, 20)).collect());
    assert_eq!(cluster.committed_offsets(group).await.unwrap(), committed(20));

    if disrupt {
        // Another broker restarts while b is the only member.
        let coordinator = coordinator(cluster, group).await;
        let other = cluster.broker_ids().into_iter().find(|&b| b != coordinator).unwrap();
        cluster.restart_broker(other).await.unwrap();
        wait_in_sync(cluster, topic, 6).await;
    }

    // Phase 3: b leaves, records arrive, a new member resumes exactly from
    // the committed offsets (auto.offset.reset=earliest would re-read all).
    g.call("close b");
    wait_until("the group to empty", || async { cluster.group(group).await.unwrap().unwrap().state == "Empty" }).await;
    g.call("produce 5 20");
    g.call("open c");
    let view = cluster.wait_for_group_stable(group, Some(1), TIMEOUT).await.unwrap();
    assert_eq!(g.assignment("c"), all);
    assert_eq!(assigned(&view, "c", topic), all);
    assert_eq!(sorted(g.consume("c", 25)), expect(&all, 20, 25), "c did not resume from the commits");
    g.commit("c");
    assert_eq!(cluster.committed_offsets(group).await.unwrap(), committed(25));
    g.quit();

    // The log holds each record once.
    let stored = stored(cluster, topic, 6).await;
    assert_dense(&stored);
    let values: Vec<_> = stored.into_iter().map(|r| (r.partition, r.offset, r.value)).collect();
    assert_eq!(values, expect(&all, 0, 25));
}

/// The partitions of `topic` the coordinator assigned to the member with
/// client id `client`.
fn assigned(view: &GroupView, client: &str, topic: &str) -> BTreeSet<i32> {
    let member = view.members.iter().find(|m| m.client_id == client).unwrap_or_else(|| panic!("no {client}: {view:?}"));
    tests::interop::assigned(view, member, topic)
}

/// The broker coordinating `group`: the leader of its `__consumer_offsets`
/// partition.
async fn coordinator(cluster: &Cluster, group: &str) -> i32 {
    let p = broker_testkit::cluster::topic::offsets_partition_for(group, 50);
    cluster.partition_state("__consumer_offsets", p).await.unwrap().leader
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_consumer_group() {
    let cluster = Cluster::builder().topic(TopicSpec::new("grp", 6, 1)).start().await.unwrap();
    group_scenario(&cluster, "grp", "interop-group", false).await;
    cluster.shutdown().await;
}

/// The group scenario on three brokers keeping their data on disk, with the
/// coordinator restarting and every leader moving mid-way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_consumer_group_across_broker_restarts() {
    let dir = TempDir::new("group");
    let cluster = Cluster::builder()
        .brokers(3)
        .data_dir(dir.path())
        .topic(TopicSpec::new("grp", 6, 3).config("min.insync.replicas", "2"))
        .start()
        .await
        .unwrap();
    group_scenario(&cluster, "grp", "interop-group-3", true).await;
    cluster.shutdown().await;
}

/// A producer streams idempotently to three brokers with data on disk while
/// a leader's broker restarts and a leader moves: every acknowledged record
/// is stored exactly once, on every replica, consumable by kcat and
/// confluent-kafka, and still there after the cluster restarts from disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_brokers_on_disk_survive_restart_and_leader_move() {
    const TOPIC: &str = "durable";
    const PARTITIONS: i32 = 6;
    let dir = TempDir::new("durable");
    let spec = TopicSpec::new(TOPIC, PARTITIONS, 3).config("min.insync.replicas", "2");
    let cluster = Cluster::builder().brokers(3).data_dir(dir.path()).topic(spec.clone()).start().await.unwrap();
    let boot = cluster.bootstrap_servers();

    let mut cmd = py(
        "stream",
        &boot,
        &["--topic", TOPIC, "--codec", "lz4", "--idempotent", "--interval-ms", "2", "--pad", "100"],
    );
    let mut producer = spawn_piped(&mut cmd);
    let stdout = Drain::new(producer.stdout.take().unwrap());
    let stderr = Drain::new(producer.stderr.take().unwrap());

    let progress = |n: i64| {
        let cluster = cluster.clone();
        async move {
            let start = high_watermarks(&cluster, TOPIC, PARTITIONS).await;
            wait_until(&format!("{n} more records"), || async {
                high_watermarks(&cluster, TOPIC, PARTITIONS).await >= start + n
            })
            .await;
        }
    };
    progress(300).await;
    // The broker leading partition 0 restarts mid-stream.
    let victim = cluster.partition_state(TOPIC, 0).await.unwrap().leader;
    cluster.restart_broker(victim).await.unwrap();
    progress(300).await;
    wait_in_sync(&cluster, TOPIC, PARTITIONS).await;
    // Partition 1's leadership moves to the restarted broker (or, if it
    // already leads, to another replica).
    let s = cluster.partition_state(TOPIC, 1).await.unwrap();
    let to = if s.leader == victim { *s.replicas.iter().find(|&&b| b != victim).unwrap() } else { victim };
    cluster.move_leader(TOPIC, 1, to).await.unwrap();
    assert_eq!(cluster.partition_state(TOPIC, 1).await.unwrap().leader, to);
    progress(300).await;

    let stdin = producer.stdin.as_mut().unwrap();
    stdin.write_all(b"stop\n").unwrap();
    stdin.flush().unwrap();
    let status = tokio::task::block_in_place(|| wait_with_timeout(&mut producer, TIMEOUT));
    let out = Run { status: status.expect("the producer hangs"), stdout: stdout.finish(), stderr: stderr.finish() };
    assert_no_protocol_errors("producer", &out.stderr);
    assert!(out.status.success(), "producer failed\n{}\n{}", out.stdout, out.stderr);
    assert!(out.lines("error").is_empty(), "failed deliveries: {:?}", out.lines("error"));
    let done = &out.lines("done")[0];
    let produced: usize = done[0].parse().unwrap();
    assert_eq!((done[1].as_str(), done[2].as_str()), (done[0].as_str(), "0"), "produced, delivered, failed: {done:?}");
    let delivered = parse_recs(&out.lines("delivered"));
    assert_eq!(delivered.len(), produced);

    wait_in_sync(&cluster, TOPIC, PARTITIONS).await;
    let records = stored(&cluster, TOPIC, PARTITIONS).await;
    assert_dense(&records);
    // Every acknowledged record at the offset it was acknowledged with, and
    // nothing else: no loss, no duplicate.
    assert_eq!(records, delivered);
    let mut keys = BTreeSet::new();
    for r in &records {
        let key: usize = r.key.as_ref().unwrap().parse().unwrap();
        assert_eq!(r.value, padded("v", key), "{r:?}");
        assert!(keys.insert(key), "key {key} stored twice");
    }
    assert_eq!(keys, (0..produced).collect(), "keys 0..{produced}");
    assert_stored_codec(&cluster, TOPIC, PARTITIONS, Compression::Lz4).await;
    for p in 0..PARTITIONS {
        let batches = cluster.batches(TOPIC, p, None).await.unwrap();
        assert_eq!(assert_idempotent(&format!("{TOPIC}-{p}"), &batches).len(), 1, "{batches:?}");
        if p == 0 || p == 1 {
            // The stream went on through the disruption: the partition
            // holds batches written under its old and its new leader.
            let epochs: BTreeSet<i32> = batches.iter().map(|b| b.partition_leader_epoch).collect();
            assert!(epochs.len() >= 2, "{TOPIC}-{p}: written under leader epochs {epochs:?} only");
        }
        for b in cluster.partition_state(TOPIC, p).await.unwrap().replicas {
            assert_eq!(cluster.batches(TOPIC, p, Some(b)).await.unwrap(), batches, "{TOPIC}-{p} on broker {b}");
        }
    }
    assert_eq!(kcat_consume(&boot, TOPIC), records, "kcat");
    assert_eq!(py_consume(&boot, TOPIC), records, "confluent-kafka");
    cluster.shutdown().await;

    // A new cluster on the same directory recovers everything.
    let cluster = Cluster::builder().brokers(3).data_dir(dir.path()).topic(spec).start().await.unwrap();
    let boot = cluster.bootstrap_servers();
    assert_eq!(stored(&cluster, TOPIC, PARTITIONS).await, records, "after recovery");
    assert_eq!(kcat_consume(&boot, TOPIC), records, "kcat after recovery");
    cluster.shutdown().await;
}

// --------------------------------------------------------------- binary --

/// A running `kafka-testkit`.
struct Binary {
    child: Child,
    bootstrap: String,
    stderr: Option<Drain>,
}

impl Binary {
    fn start(args: &[&str]) -> Binary {
        let mut child = Command::new(tests::testkit_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Drain::new(child.stderr.take().unwrap());
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so the binary never blocks on a full pipe.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("no bootstrap line: {}", stderr.snapshot()));
        Binary { child, bootstrap: line.trim().to_string(), stderr: Some(stderr) }
    }

    /// Sends SIGTERM; returns the exit status.
    fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = wait_with_timeout(&mut self.child, Duration::from_secs(20)).expect("exits on SIGTERM");
        let stderr = self.stderr.take().unwrap().finish();
        (status, stderr)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The standalone binary serves kcat, shuts down cleanly on SIGTERM (exit
/// 0, data flushed), and recovers its data directory on the next start.
#[cfg(unix)]
#[test]
fn kafka_testkit_binary_serves_kcat() {
    let dir = TempDir::new("binary");
    let data_dir = dir.path().to_str().unwrap();
    let args =
        ["--port", "0", "--brokers", "3", "--partitions", "3", "--replication-factor", "3", "--data-dir", data_dir];
    let bin = Binary::start(&args);
    let addrs: Vec<&str> = bin.bootstrap.split(',').collect();
    assert_eq!(addrs.len(), 3, "bootstrap line {:?}", bin.bootstrap);
    assert!(addrs.iter().all(|a| a.starts_with("127.0.0.1:") && !a.ends_with(":0")), "{addrs:?}");

    // The topic is auto-created with the binary's defaults.
    let lines: Vec<String> = (0..90).map(|i| format!("k{i}:{}", padded("bin-", i))).collect();
    kcat_produce(&bin.bootstrap, "bin-topic", &["-K", ":", "-z", "snappy", "-X", "enable.idempotence=true"], &lines);
    let consumed = kcat_consume(&bin.bootstrap, "bin-topic");
    assert_dense(&consumed);
    assert_eq!(consumed.iter().map(|r| r.partition).collect::<BTreeSet<_>>(), (0..3).collect());
    let mut values: Vec<_> = consumed.iter().map(|r| (r.key.clone().unwrap(), r.value.clone())).collect();
    values.sort();
    let mut expected: Vec<_> = (0..90).map(|i| (format!("k{i}"), padded("bin-", i))).collect();
    expected.sort();
    assert_eq!(values, expected);

    let (status, stderr) = bin.terminate();
    assert!(status.success(), "kafka-testkit exited with {status} on SIGTERM\n{stderr}");

    // Restarted on the same directory, it serves the same records.
    let bin = Binary::start(&args);
    assert_eq!(kcat_consume(&bin.bootstrap, "bin-topic"), consumed, "after a restart");
    let (status, stderr) = bin.terminate();
    assert!(status.success(), "kafka-testkit exited with {status} on SIGTERM\n{stderr}");
}

/// A supervisor may stop the binary as soon as it announced its bootstrap
/// servers: that must already be a clean shutdown.
#[cfg(unix)]
#[test]
fn kafka_testkit_binary_handles_sigterm_right_after_start() {
    for _ in 0..10 {
        let bin = Binary::start(&["--port", "0", "--brokers", "3"]);
        let (status, stderr) = bin.terminate();
        assert!(status.success(), "kafka-testkit exited with {status} on an early SIGTERM\n{stderr}");
    }
}
