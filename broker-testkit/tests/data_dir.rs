//! A cluster with a data directory, restarted over real sockets: what a
//! client wrote (records in several partitions, compressed batches, an
//! idempotent producer's batches, a group's committed offsets) is all back
//! after a restart, the files follow Kafka's on-disk layout, and a torn tail
//! left in a segment by a crash is cut on recovery.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use broker_testkit::{Cluster, PartitionState, TopicSpec};
use bytes::Bytes;
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_commit::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce::{PartitionProduceData, PartitionProduceResponse, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{BatchBuilder, Record, RecordBatch, RecordSet, RecordSetEntry};
use kafka_protocol::{Compression, ErrorCode, Uuid};

mod common;
use common::Client;

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!("broker-testkit-{name}-{}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Connections to every broker of a cluster, opened on first use.
struct Session {
    cluster: Cluster,
    clients: HashMap<i32, Client>,
}

impl Session {
    fn new(cluster: &Cluster) -> Session {
        Session { cluster: cluster.clone(), clients: HashMap::new() }
    }

    async fn call<R: Request>(&mut self, broker: i32, req: &R, version: i16) -> R::Response {
        if !self.clients.contains_key(&broker) {
            let client = Client::connect(self.cluster.broker_addr(broker).unwrap()).await;
            self.clients.insert(broker, client);
        }
        self.clients.get_mut(&broker).unwrap().call(req, version).await
    }

    async fn leader(&self, topic: &str, partition: i32) -> i32 {
        self.cluster.partition_state(topic, partition).await.unwrap().leader
    }

    /// Topic name → (id, partition count), from Metadata v12.
    async fn topics(&mut self) -> BTreeMap<String, (Uuid, usize)> {
        let md = self.call(1, &MetadataRequest { topics: None, ..Default::default() }, 12).await;
        md.topics
            .iter()
            .map(|t| {
                assert_eq!(t.error_code, 0);
                (t.name.clone().unwrap(), (t.topic_id, t.partitions.len()))
            })
            .collect()
    }

    async fn produce(&mut self, topic: &str, partition: i32, records: Bytes) -> PartitionProduceResponse {
        let leader = self.leader(topic, partition).await;
        let req = ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(records),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut resp = self.call(leader, &req, 11).await;
        resp.responses.remove(0).partition_responses.remove(0)
    }

    /// Every record of a partition, fetched from its leader by topic id.
    async fn fetch_all(&mut self, topic: &str, topic_id: Uuid, partition: i32) -> Vec<Record> {
        let leader = self.leader(topic, partition).await;
        let mut out: Vec<Record> = Vec::new();
        let mut offset = self.cluster.partition_state(topic, partition).await.unwrap().log_start_offset;
        loop {
            let req = FetchRequest {
                max_wait_ms: 0,
                min_bytes: 1,
                max_bytes: 1 << 20,
                topics: vec![FetchTopic {
                    topic_id,
                    partitions: vec![FetchPartition {
                        partition,
                        fetch_offset: offset,
                        partition_max_bytes: 1 << 20,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let resp = self.call(leader, &req, 17).await;
            let pd = &resp.responses[0].partitions[0];
            assert_eq!(ErrorCode::from(pd.error_code), ErrorCode::NONE, "fetch {topic}-{partition} at {offset}");
            for r in records_of(pd.records.clone().unwrap_or_default()) {
                if r.offset >= offset {
                    out.push(r);
                }
            }
            offset = out.last().map_or(offset, |r| r.offset + 1);
            if offset >= pd.high_watermark {
                return out;
            }
        }
    }

    async fn coordinator(&mut self, group: &str) -> i32 {
        let req = FindCoordinatorRequest { coordinator_keys: vec![group.into()], ..Default::default() };
        let c = self.call(1, &req, 4).await.coordinators.remove(0);
        assert_eq!(ErrorCode::from(c.error_code), ErrorCode::NONE);
        c.node_id
    }

    async fn commit(&mut self, group: &str, topic: &str, offsets: &[(i32, i64)]) {
        let coordinator = self.coordinator(group).await;
        let req = OffsetCommitRequest {
            group_id: group.into(),
            generation_id_or_member_epoch: -1,
            topics: vec![OffsetCommitRequestTopic {
                name: topic.into(),
                partitions: offsets
                    .iter()
                    .map(|&(p, o)| OffsetCommitRequestPartition {
                        partition_index: p,
                        committed_offset: o,
                        committed_metadata: Some(format!("at {o}")),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let resp = self.call(coordinator, &req, 8).await;
        for p in &resp.topics[0].partitions {
            assert_eq!(ErrorCode::from(p.error_code), ErrorCode::NONE);
        }
    }

    /// A group's committed offsets of `topic`'s partitions, from OffsetFetch v7.
    async fn committed(&mut self, group: &str, topic: &str, partitions: i32) -> Vec<(i32, i64, Option<String>)> {
        let coordinator = self.coordinator(group).await;
        let req = OffsetFetchRequest {
            group_id: group.into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: topic.into(),
                partition_indexes: (0..partitions).collect(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let resp = self.call(coordinator, &req, 7).await;
        assert_eq!(ErrorCode::from(resp.error_code), ErrorCode::NONE);
        resp.topics[0].partitions.iter().map(|p| (p.partition_index, p.committed_offset, p.metadata.clone())).collect()
    }

    async fn init_producer_id(&mut self) -> (i64, i16) {
        let req =
            InitProducerIdRequest { transactional_id: None, transaction_timeout_ms: 60_000, ..Default::default() };
        let resp = self.call(1, &req, 5).await;
        assert_eq!(ErrorCode::from(resp.error_code), ErrorCode::NONE);
        (resp.producer_id, resp.producer_epoch)
    }
}

fn records_of(bytes: Bytes) -> Vec<Record> {
    let mut out = Vec::new();
    for entry in RecordSet::new(bytes) {
        let RecordSetEntry::Batch(b) = entry.unwrap() else { panic!("legacy message") };
        out.extend(b.records(1 << 24).unwrap().map(Result::unwrap));
    }
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn batch(codec: Compression, tag: &str, n: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
    let mut b = BatchBuilder::new(codec, None);
    if let Some((pid, epoch, seq)) = producer {
        b.set_producer(pid, epoch, seq);
    }
    let ts = now_ms();
    for i in 0..n {
        let value = format!("{tag}-{i}-{}", "payload ".repeat(i % 7));
        b.append(ts, Some(format!("key-{i}").as_bytes()), Some(value.as_bytes()), &[]);
    }
    b.finish().unwrap()
}

/// What a test compares before and after a restart.
#[derive(Debug, PartialEq)]
struct Snapshot {
    states: BTreeMap<(String, i32), PartitionState>,
    records: BTreeMap<(String, i32), Vec<Record>>,
}

async fn snapshot(s: &mut Session, topics: &BTreeMap<String, (Uuid, usize)>) -> Snapshot {
    let mut states = BTreeMap::new();
    let mut records = BTreeMap::new();
    for (name, (id, partitions)) in topics {
        for p in 0..*partitions as i32 {
            states.insert((name.clone(), p), s.cluster.partition_state(name, p).await.unwrap());
            records.insert((name.clone(), p), s.fetch_all(name, *id, p).await);
        }
    }
    Snapshot { states, records }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The batches of a segment file, checked to be whole, valid and contiguous.
fn segment_batches(path: &Path) -> Vec<RecordBatch> {
    let data = Bytes::from(std::fs::read(path).unwrap());
    let mut set = RecordSet::new(data);
    let batches: Vec<RecordBatch> = set
        .by_ref()
        .map(|e| match e.unwrap() {
            RecordSetEntry::Batch(b) => b,
            RecordSetEntry::Legacy(_) => panic!("legacy message in {}", path.display()),
        })
        .collect();
    assert!(!set.ended_in_partial(), "{} ends in a partial batch", path.display());
    for w in batches.windows(2) {
        assert_eq!(w[0].header().last_offset() + 1, w[1].header().base_offset, "{}", path.display());
    }
    for b in &batches {
        b.verify_crc().unwrap();
    }
    batches
}

#[tokio::test]
async fn topics_records_offsets_and_producer_ids_survive_a_restart_in_kafkas_layout() {
    let dir = TempDir::new("restart");
    let start = || Cluster::builder().brokers(3).data_dir(&dir.0).offsets_topic_partitions(5).start();

    // ---- First life ----
    let cluster = start().await.unwrap();
    cluster.create_topic("orders", 3, 3).await.unwrap();
    cluster.create_topic_with(TopicSpec::new("zipped", 2, 2)).await.unwrap();
    // Small segments, so that the partition has several segment files.
    cluster.create_topic_with(TopicSpec::new("big", 1, 2).config("segment.bytes", "1048576")).await.unwrap();
    let mut s = Session::new(&cluster);

    for p in 0..3 {
        for round in 0..3 {
            let r = s.produce("orders", p, batch(Compression::None, &format!("o{p}r{round}"), 5, None)).await;
            assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, round * 5));
        }
    }
    let codecs = [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];
    for (i, codec) in codecs.into_iter().enumerate() {
        let r = s.produce("zipped", (i % 2) as i32, batch(codec, &format!("{codec:?}"), 20, None)).await;
        assert_eq!(ErrorCode::from(r.error_code), ErrorCode::NONE);
    }
    let value = vec![b'v'; 1_000];
    for i in 0..40 {
        let mut b = BatchBuilder::new(Compression::None, None);
        for _ in 0..64 {
            b.append(now_ms(), Some(format!("big-{i}").as_bytes()), Some(&value), &[]);
        }
        assert_eq!(s.produce("big", 0, b.finish().unwrap()).await.base_offset, i * 64);
    }
    let (pid, epoch) = s.init_producer_id().await;
    let r = s.produce("orders", 0, batch(Compression::Lz4, "idem-0", 4, Some((pid, epoch, 0)))).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 15));
    let r = s.produce("orders", 0, batch(Compression::Lz4, "idem-1", 4, Some((pid, epoch, 4)))).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 19));
    s.commit("billing", "orders", &[(0, 23), (1, 7), (2, 15)]).await;

    let topics = s.topics().await;
    assert_eq!(topics.len(), 4, "orders, zipped, big and __consumer_offsets: {topics:?}");
    let before = snapshot(&mut s, &topics).await;
    let committed_before = cluster.committed_offsets("billing").await.unwrap();
    assert_eq!(committed_before.len(), 3);
    assert_eq!(before.states[&("orders".to_string(), 0)].high_watermark, 23);
    drop(s);
    cluster.shutdown().await;

    // ---- Kafka's layout on disk ----
    let root = &dir.0;
    assert!(root.join("cluster.meta").is_file());
    for ((topic, p), state) in &before.states {
        let (id, _) = topics[topic];
        for broker in 1..=3 {
            let log_dir = root.join(format!("broker-{broker}"));
            let pdir = log_dir.join(format!("{topic}-{p}"));
            if !state.replicas.contains(&broker) {
                assert!(!pdir.exists(), "{} holds no replica", pdir.display());
                continue;
            }
            assert_eq!(read(&pdir.join("partition.metadata")), format!("version: 0\ntopic_id: {id}"));
            // Every leader, and every replica holding records, knows that
            // epoch 0 started at offset 0.
            if broker == state.leader || state.log_end_offset > 0 {
                assert_eq!(read(&pdir.join("leader-epoch-checkpoint")), "0\n1\n0 0\n", "{}", pdir.display());
            }
            // Segments named after their base offsets, each with its indexes.
            let mut bases: Vec<i64> = std::fs::read_dir(&pdir)
                .unwrap()
                .filter_map(|e| {
                    e.unwrap().file_name().to_str().and_then(|n| n.strip_suffix(".log")).map(str::to_string)
                })
                .map(|n| {
                    assert_eq!(n.len(), 20, "{n}");
                    n.parse().unwrap()
                })
                .collect();
            bases.sort_unstable();
            assert_eq!(bases[0], 0);
            let mut next = 0;
            for base in &bases {
                let name = format!("{base:020}");
                let index = std::fs::metadata(pdir.join(format!("{name}.index"))).unwrap().len();
                let time_index = std::fs::metadata(pdir.join(format!("{name}.timeindex"))).unwrap().len();
                assert_eq!((index % 8, time_index % 12), (0, 0), "{name}");
                assert_eq!(*base, next, "segments are contiguous");
                let batches = segment_batches(&pdir.join(format!("{name}.log")));
                if let (Some(first), Some(last)) = (batches.first(), batches.last()) {
                    assert_eq!(first.header().base_offset, *base);
                    next = last.header().last_offset() + 1;
                }
            }
            assert_eq!(next, state.replica_end_offsets[&broker], "{}", pdir.display());
            let hws = read(&log_dir.join("replication-offset-checkpoint"));
            assert!(hws.lines().any(|l| l == format!("{topic} {p} {}", state.high_watermark)), "{hws}");
            assert!(log_dir.join("log-start-offset-checkpoint").is_file());
        }
    }
    let big = root.join(format!("broker-{}", before.states[&("big".to_string(), 0)].leader)).join("big-0");
    let segments =
        std::fs::read_dir(&big).unwrap().filter(|e| e.as_ref().unwrap().path().extension() == Some("log".as_ref()));
    assert!(segments.count() >= 3, "40 batches of 64 KB in 1 MiB segments");

    // ---- Second life ----
    let cluster = start().await.unwrap();
    let mut s = Session::new(&cluster);
    assert_eq!(s.topics().await, topics, "topic ids and partition counts");
    let after = snapshot(&mut s, &topics).await;
    // Leaders, epochs, replicas, ISRs, high watermarks, log start and end
    // offsets of every replica; then every record.
    assert_eq!(after.states, before.states);
    assert_eq!(after.records, before.records);
    assert_eq!(cluster.committed_offsets("billing").await.unwrap(), committed_before);
    assert_eq!(
        s.committed("billing", "orders", 3).await,
        vec![(0, 23, Some("at 23".into())), (1, 7, Some("at 7".into())), (2, 15, Some("at 15".into()))]
    );

    // The producer-id counter continues, and the idempotent producer's
    // state was rebuilt from the log: a retry of its last batch is a
    // duplicate, and its next sequence follows.
    let (next_pid, _) = s.init_producer_id().await;
    assert_eq!(next_pid, pid + 1);
    let r = s.produce("orders", 0, batch(Compression::Lz4, "idem-1", 4, Some((pid, epoch, 4)))).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 19));
    let r = s.produce("orders", 0, batch(Compression::Lz4, "idem-2", 1, Some((pid, epoch, 9)))).await;
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    let r = s.produce("orders", 0, batch(Compression::Lz4, "idem-2", 1, Some((pid, epoch, 8)))).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 23));
    drop(s);
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_torn_tail_is_cut_on_recovery_and_the_intact_records_are_served() {
    let dir = TempDir::new("torn");
    let start = || Cluster::builder().brokers(3).data_dir(&dir.0).start();

    let cluster = start().await.unwrap();
    cluster.create_topic("events", 1, 3).await.unwrap();
    let mut s = Session::new(&cluster);
    let topics = s.topics().await;
    let (topic_id, _) = topics["events"];
    let mut last = Bytes::new();
    for i in 0..4 {
        last = batch(Compression::Zstd, &format!("e{i}"), 10, None);
        assert_eq!(s.produce("events", 0, last.clone()).await.base_offset, i * 10);
    }
    let before = s.fetch_all("events", topic_id, 0).await;
    assert_eq!(before.len(), 40);
    drop(s);
    cluster.shutdown().await;

    // A crash in the middle of appends leaves a different torn tail on each
    // broker: the start of a batch, a whole batch with a bad CRC, noise.
    let log = |broker: i32| dir.0.join(format!("broker-{broker}/events-0/00000000000000000000.log"));
    let sizes: Vec<u64> = (1..=3).map(|b| std::fs::metadata(log(b)).unwrap().len()).collect();
    let mut bad_crc = last.to_vec();
    bad_crc[..8].copy_from_slice(&40i64.to_be_bytes());
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 0xff;
    let tails: [Vec<u8>; 3] = [last[..30].to_vec(), bad_crc, vec![0xab; 97]];
    for (b, tail) in (1..=3).zip(&tails) {
        let mut f = std::fs::OpenOptions::new().append(true).open(log(b)).unwrap();
        std::io::Write::write_all(&mut f, tail).unwrap();
    }

    let cluster = start().await.unwrap();
    for b in 1..=3 {
        assert_eq!(std::fs::metadata(log(b)).unwrap().len(), sizes[(b - 1) as usize], "broker {b}'s tail is cut");
    }
    let state = cluster.partition_state("events", 0).await.unwrap();
    assert_eq!((state.log_end_offset, state.high_watermark), (40, 40));
    assert_eq!(state.replica_end_offsets, BTreeMap::from([(1, 40), (2, 40), (3, 40)]));
    let mut s = Session::new(&cluster);
    assert_eq!(s.topics().await["events"].0, topic_id);
    assert_eq!(s.fetch_all("events", topic_id, 0).await, before);

    // The log goes on from where the intact data ended.
    let r = s.produce("events", 0, batch(Compression::None, "after", 3, None)).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 40));
    let all = s.fetch_all("events", topic_id, 0).await;
    assert_eq!(all.iter().map(|r| r.offset).collect::<Vec<_>>(), (0..43).collect::<Vec<_>>());
    for b in 1..=3 {
        let batches = segment_batches(&log(b));
        assert_eq!(batches.last().unwrap().header().last_offset(), 42, "broker {b}");
    }
    drop(s);
    cluster.shutdown().await;
}

/// An idempotent producer whose only batch DeleteRecords removed is still
/// known after a restart, from the producer snapshot the roll wrote: the
/// same batch sent again is answered as the duplicate it is, at its
/// original offset, instead of being written a second time.
#[tokio::test]
async fn a_producer_snapshot_keeps_idempotence_across_deleted_data_and_a_restart() {
    use kafka_protocol::messages::delete_records::{DeleteRecordsPartition, DeleteRecordsTopic};
    let dir = TempDir::new("producer-snapshot");
    let start = || Cluster::builder().data_dir(&dir.0).start();
    let cluster = start().await.unwrap();
    // Every batch a millisecond newer than the segment's first rolls it.
    cluster.create_topic_with(TopicSpec::new("ids", 1, 1).config("segment.ms", "1")).await.unwrap();
    let mut s = Session::new(&cluster);
    let (pid, epoch) = s.init_producer_id().await;
    let first = batch(Compression::None, "first", 3, Some((pid, epoch, 0)));
    let r = s.produce("ids", 0, first.clone()).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 0));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = s.produce("ids", 0, batch(Compression::None, "plain", 1, None)).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 3));
    let delete = DeleteRecordsRequest {
        topics: vec![DeleteRecordsTopic {
            name: "ids".into(),
            partitions: vec![DeleteRecordsPartition { partition_index: 0, offset: 3, ..Default::default() }],
            ..Default::default()
        }],
        timeout_ms: 5000,
        ..Default::default()
    };
    let r = s.call(1, &delete, 2).await;
    assert_eq!(ErrorCode::from(r.topics[0].partitions[0].error_code), ErrorCode::NONE);
    let part = dir.0.join("broker-1/ids-0");
    assert!(!part.join("00000000000000000000.log").exists(), "the producer's segment is gone");
    assert!(part.join("00000000000000000003.snapshot").exists(), "the roll's snapshot");
    drop(s);
    cluster.shutdown().await;
    assert!(part.join("00000000000000000004.snapshot").exists(), "the clean shutdown's snapshot");

    let cluster = start().await.unwrap();
    let mut s = Session::new(&cluster);
    let r = s.produce("ids", 0, first).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 0), "answered as a duplicate");
    assert_eq!(cluster.partition_state("ids", 0).await.unwrap().log_end_offset, 4, "not written again");
    // The producer's next sequence follows on.
    let r = s.produce("ids", 0, batch(Compression::None, "next", 1, Some((pid, epoch, 3)))).await;
    assert_eq!((ErrorCode::from(r.error_code), r.base_offset), (ErrorCode::NONE, 4));
    drop(s);
    cluster.shutdown().await;
}
