//! The core driven through typed requests, without sockets: replication and
//! the high watermark, ISR shrink and expansion, acks=all and
//! `min.insync.replicas`, elections with log truncation, leader-epoch
//! fencing, the idempotent-producer window, long-polling fetches, offset
//! lookups, DeleteRecords and retention, LogAppendTime, topic
//! administration and group-coordinator routing.
//!
//! Time is plain milliseconds handed to `handle` and `tick`; every reply the
//! core hands out is collected in an inbox keyed by reply id, so a test can
//! tell a parked request (no reply yet) from an answered one, and a reply
//! delivered twice fails the test.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::header::RequestHeader;
use kafka_protocol::messages::create_partitions::{CreatePartitionsAssignment, CreatePartitionsTopic};
use kafka_protocol::messages::create_topics::{CreatableTopic, CreatableTopicConfig, CreatableTopicResult};
use kafka_protocol::messages::delete_records::{
    DeleteRecordsPartition, DeleteRecordsPartitionResult, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics::{DeletableTopicResult, DeleteTopicState};
use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic, PartitionData};
use kafka_protocol::messages::find_coordinator::Coordinator;
use kafka_protocol::messages::list_offsets::{ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopic};
use kafka_protocol::messages::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce::{PartitionProduceData, PartitionProduceResponse, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{
    BatchBuilder, BatchHeader, Record, RecordBatch, RecordSet, RecordSetEntry, TimestampType,
};
use kafka_protocol::{Compression, ErrorCode, Uuid};

use super::topic::{CONSUMER_OFFSETS, offsets_partition_for};
use super::{BrokerInfo, Core, Outcome, ReplyId, RequestCtx};
use crate::config::{BrokerSettings, TopicOverrides, validate_topic_config};

/// The clock at the start of every test: a realistic wall-clock time, so
/// CreateTime timestamps near it pass the broker's timestamp checks.
const T0: i64 = 1_700_000_000_000;

/// `replica.lag.time.max.ms` in the tests that shrink the ISR.
const LAG_MS: i64 = 10_000;

/// The versions the tests speak: recent ones, and Fetch v12 where a test
/// addresses topics by name.
const PRODUCE_V: i16 = 11;
const FETCH_BY_NAME_V: i16 = 12;
const FETCH_BY_ID_V: i16 = 17;
const LIST_OFFSETS_V: i16 = 9;
const OFFSET_FOR_LEADER_EPOCH_V: i16 = 4;

struct Harness {
    core: Core,
    now: i64,
    next_reply: u64,
    inbox: BTreeMap<ReplyId, Outcome>,
}

/// Unwraps a reply into the response body of one API.
macro_rules! expect_body {
    ($outcome:expr, $variant:ident) => {
        match $outcome {
            Some(Outcome::Respond(ResponseBody::$variant(r))) => r,
            other => panic!("expected a {} response, got {other:?}", stringify!($variant)),
        }
    };
}

impl Harness {
    fn new(brokers: i32) -> Self {
        Self::with_settings(brokers, BrokerSettings { replica_lag_time_max_ms: LAG_MS, ..BrokerSettings::default() })
    }

    fn with_settings(brokers: i32, settings: BrokerSettings) -> Self {
        let infos = (1..=brokers)
            .map(|id| BrokerInfo { id, host: "127.0.0.1".into(), port: 19_090 + id as u16, rack: None, online: true })
            .collect();
        Harness {
            core: Core::new("core-tests".into(), infos, settings, None),
            now: T0,
            next_reply: 0,
            inbox: BTreeMap::new(),
        }
    }

    /// Creates a topic with an explicit assignment (the first replica of
    /// each partition leads) and validated config overrides.
    fn topic(&mut self, name: &str, assignment: &[&[i32]], configs: &[(&str, &str)]) -> Uuid {
        let mut overrides = TopicOverrides::default();
        for (k, v) in configs {
            validate_topic_config(k, Some(v)).unwrap();
            overrides.0.insert((*k).to_string(), (*v).to_string());
        }
        let assignment: Vec<Vec<i32>> = assignment.iter().map(|r| r.to_vec()).collect();
        let (partitions, rf) = (assignment.len() as i32, assignment[0].len());
        self.core.create_topic(name, partitions, rf, Some(assignment), overrides, self.now)
    }

    fn deliver(&mut self, replies: Vec<(ReplyId, Outcome)>) {
        for (id, outcome) in replies {
            assert!(id.0 >= 1 && id.0 <= self.next_reply, "reply to a request never sent: {id:?}");
            assert!(self.inbox.insert(id, outcome).is_none(), "{id:?} was answered twice");
        }
    }

    /// Sends a request to `broker` at the current time; returns its reply id.
    /// Every reply that became ready, to it or to a parked request, goes to
    /// the inbox.
    fn send(&mut self, broker: i32, version: i16, body: impl Into<RequestBody>) -> ReplyId {
        let body = body.into();
        self.next_reply += 1;
        let reply = ReplyId(self.next_reply);
        let header = RequestHeader {
            api_key: body.api_key() as i16,
            api_version: version,
            correlation_id: self.next_reply as i32,
            client_id: Some("core-tests".into()),
            ..Default::default()
        };
        let ctx = RequestCtx { now_ms: self.now, broker, version, header, reply, client_host: "/127.0.0.1".into() };
        let out = self.core.handle(ctx, body);
        self.deliver(out);
        reply
    }

    fn answered(&self, id: ReplyId) -> bool {
        self.inbox.contains_key(&id)
    }

    fn take(&mut self, id: ReplyId) -> Option<Outcome> {
        self.inbox.remove(&id)
    }

    /// Moves the clock to `now` and fires the timers.
    fn tick_at(&mut self, now: i64) {
        assert!(now >= self.now, "time goes forward");
        self.now = now;
        let out = self.core.tick(now);
        self.deliver(out);
    }

    /// Delivers replies made ready by control calls (stop_broker, ...),
    /// without moving the clock.
    fn flush(&mut self) {
        self.tick_at(self.now);
    }

    fn stall(&mut self, topic: &str, partition: i32, broker: i32, stalled: bool) {
        self.core.stall_follower(topic, partition, broker, stalled, self.now).unwrap();
        self.flush();
    }

    fn stop(&mut self, broker: i32) {
        self.core.stop_broker(broker, self.now);
        self.flush();
    }

    fn start(&mut self, broker: i32) {
        self.core.start_broker(broker, self.now);
        self.flush();
    }

    // ---- Produce ----

    fn produce(
        &mut self,
        broker: i32,
        acks: i16,
        timeout_ms: i32,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> ReplyId {
        self.send(broker, PRODUCE_V, produce_request(acks, timeout_ms, topic, partition, records))
    }

    /// The single partition response of an answered produce.
    fn produce_answer(&mut self, id: ReplyId) -> PartitionProduceResponse {
        let mut r = expect_body!(self.take(id), Produce);
        assert_eq!(r.responses.len(), 1);
        assert_eq!(r.responses[0].partition_responses.len(), 1);
        r.responses.remove(0).partition_responses.remove(0)
    }

    /// Produces and expects the answer in the same call.
    fn produce_now(
        &mut self,
        broker: i32,
        acks: i16,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> PartitionProduceResponse {
        let id = self.produce(broker, acks, 30_000, topic, partition, records);
        assert!(self.answered(id), "the produce was parked");
        self.produce_answer(id)
    }

    // ---- Fetch ----

    fn fetch(&mut self, broker: i32, version: i16, req: FetchRequest) -> ReplyId {
        self.send(broker, version, req)
    }

    fn fetch_answer(&mut self, id: ReplyId) -> PartitionData {
        let mut r = expect_body!(self.take(id), Fetch);
        assert_eq!(r.error_code, 0);
        assert_eq!(r.responses.len(), 1);
        assert_eq!(r.responses[0].partitions.len(), 1);
        r.responses.remove(0).partitions.remove(0)
    }

    /// A fetch by name (v12) that must be answered at once.
    fn fetch_now(
        &mut self,
        broker: i32,
        topic: &str,
        partition: i32,
        offset: i64,
        current_leader_epoch: i32,
    ) -> PartitionData {
        let req = fetch_by_name(topic, partition, offset, 0, 1, current_leader_epoch);
        let id = self.fetch(broker, FETCH_BY_NAME_V, req);
        self.fetch_answer(id)
    }

    // ---- ListOffsets, OffsetForLeaderEpoch ----

    fn list_offset(
        &mut self,
        broker: i32,
        version: i16,
        topic: &str,
        partition: i32,
        timestamp: i64,
        current_leader_epoch: i32,
    ) -> ListOffsetsPartitionResponse {
        let req = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: partition,
                    current_leader_epoch,
                    timestamp,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let id = self.send(broker, version, req);
        let mut r = expect_body!(self.take(id), ListOffsets);
        r.topics.remove(0).partitions.remove(0)
    }

    fn offset_for_epoch(
        &mut self,
        broker: i32,
        topic: &str,
        partition: i32,
        current_leader_epoch: i32,
        leader_epoch: i32,
    ) -> EpochEndOffset {
        let req = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: topic.into(),
                partitions: vec![OffsetForLeaderPartition {
                    partition,
                    current_leader_epoch,
                    leader_epoch,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let id = self.send(broker, OFFSET_FOR_LEADER_EPOCH_V, req);
        let mut r = expect_body!(self.take(id), OffsetForLeaderEpoch);
        r.topics.remove(0).partitions.remove(0)
    }

    // ---- Admin ----

    fn create_topics(&mut self, validate_only: bool, topics: Vec<CreatableTopic>) -> Vec<CreatableTopicResult> {
        let id =
            self.send(1, 7, CreateTopicsRequest { topics, timeout_ms: 30_000, validate_only, ..Default::default() });
        expect_body!(self.take(id), CreateTopics).topics
    }

    fn delete_topics(&mut self, topics: Vec<DeleteTopicState>) -> Vec<DeletableTopicResult> {
        let id = self.send(1, 6, DeleteTopicsRequest { topics, timeout_ms: 30_000, ..Default::default() });
        expect_body!(self.take(id), DeleteTopics).responses
    }

    fn delete_records(
        &mut self,
        broker: i32,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> DeleteRecordsPartitionResult {
        let req = DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: topic.into(),
                partitions: vec![DeleteRecordsPartition { partition_index: partition, offset, ..Default::default() }],
                ..Default::default()
            }],
            timeout_ms: 30_000,
            ..Default::default()
        };
        let id = self.send(broker, 2, req);
        expect_body!(self.take(id), DeleteRecords).topics.remove(0).partitions.remove(0)
    }

    // ---- State ----

    fn partition(&self, topic: &str, partition: i32) -> &super::partition::Partition {
        self.core.topics.get(topic).and_then(|t| t.partition(partition)).unwrap()
    }

    fn hw(&self, topic: &str, partition: i32) -> i64 {
        self.partition(topic, partition).high_watermark
    }

    /// Each replica's log end offset, by broker.
    fn leos(&self, topic: &str, partition: i32) -> BTreeMap<i32, i64> {
        self.partition(topic, partition).logs.iter().map(|(b, r)| (*b, r.log.log_end_offset())).collect()
    }

    fn isr(&self, topic: &str, partition: i32) -> Vec<i32> {
        let mut isr = self.partition(topic, partition).isr.clone();
        isr.sort_unstable();
        isr
    }

    /// The batches stored by the replica on `broker`, as bytes.
    fn stored(&self, topic: &str, partition: i32, broker: i32) -> Vec<Bytes> {
        let log = &self.partition(topic, partition).logs[&broker].log;
        log.batches_from(log.log_start_offset()).map(|b| b.bytes().clone()).collect()
    }
}

// ---- Request and record helpers ----

fn produce_request(acks: i16, timeout_ms: i32, topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms,
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
    }
}

/// A batch of `n` records (keys `k0..`, values `<tag>-0..`) with timestamps
/// `ts, ts+1, ...`.
fn batch(tag: &str, n: usize, ts: i64) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, None);
    for i in 0..n {
        b.append(ts + i as i64, Some(format!("k{i}").as_bytes()), Some(format!("{tag}-{i}").as_bytes()), &[]);
    }
    b.finish().unwrap()
}

/// A batch whose records carry exactly these timestamps.
fn batch_at(timestamps: &[i64]) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, None);
    for (i, ts) in timestamps.iter().enumerate() {
        b.append(*ts, None, Some(format!("v{i}").as_bytes()), &[]);
    }
    b.finish().unwrap()
}

/// An idempotent batch of `n` records from producer `pid` at `epoch`,
/// starting at sequence `seq`.
fn idempotent(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = BatchBuilder::new(Compression::Lz4, None);
    b.set_producer(pid, epoch, seq);
    for i in 0..n {
        b.append(T0 + i as i64, None, Some(format!("p{pid}-e{epoch}-s{}", seq + i as i32).as_bytes()), &[]);
    }
    b.finish().unwrap()
}

fn fetch_partition(partition: i32, offset: i64, current_leader_epoch: i32) -> FetchPartition {
    FetchPartition {
        partition,
        fetch_offset: offset,
        current_leader_epoch,
        partition_max_bytes: 1 << 20,
        ..Default::default()
    }
}

/// A consumer's fetch by topic name (Fetch v12 and below).
fn fetch_by_name(
    topic: &str,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
    min_bytes: i32,
    epoch: i32,
) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 50 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![fetch_partition(partition, offset, epoch)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A consumer's fetch by topic id (Fetch v13 and above).
fn fetch_by_id(topic_id: Uuid, partition: i32, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 50 << 20,
        topics: vec![FetchTopic {
            topic_id,
            partitions: vec![fetch_partition(partition, offset, -1)],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The whole batches of a `records` field.
fn batches_in(records: Option<&Bytes>) -> Vec<RecordBatch> {
    let Some(records) = records else { return Vec::new() };
    RecordSet::new(records.clone())
        .map(|e| match e.unwrap() {
            RecordSetEntry::Batch(b) => b,
            RecordSetEntry::Legacy(_) => panic!("a legacy message in a fetch"),
        })
        .collect()
}

/// The records of a `records` field, decoded.
fn records_in(records: Option<&Bytes>) -> Vec<Record> {
    batches_in(records)
        .iter()
        .flat_map(|b| b.records(1 << 24).unwrap().map(Result::unwrap).collect::<Vec<_>>())
        .collect()
}

fn offsets_in(records: Option<&Bytes>) -> Vec<i64> {
    records_in(records).iter().map(|r| r.offset).collect()
}

fn value_of(r: &Record) -> String {
    String::from_utf8(r.value.as_ref().unwrap().to_vec()).unwrap()
}

fn code(c: i16) -> ErrorCode {
    ErrorCode::from(c)
}

// ---- Replication and the high watermark ----

#[test]
fn acks_all_replicates_to_every_replica_byte_for_byte_and_the_high_watermark_reaches_the_log_end() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);

    let r = h.produce_now(1, -1, "t", 0, batch("a", 10, T0));
    assert_eq!((code(r.error_code), r.base_offset, r.log_start_offset), (ErrorCode::NONE, 0, 0));
    assert_eq!(r.log_append_time_ms, -1, "CreateTime topics answer -1");
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 10), (2, 10), (3, 10)]));
    assert_eq!(h.hw("t", 0), 10);
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);

    // The leader stamped offset and epoch; followers hold its bytes untouched.
    let leader = h.stored("t", 0, 1);
    assert_eq!(leader.len(), 1);
    let header = BatchHeader::parse(&leader[0]).unwrap();
    assert_eq!((header.base_offset, header.partition_leader_epoch, header.record_count), (0, 0, 10));
    RecordBatch::new(leader[0].clone()).unwrap().verify_crc().unwrap();
    assert_eq!(h.stored("t", 0, 2), leader);
    assert_eq!(h.stored("t", 0, 3), leader);

    // acks=1 is answered at once too, and replication is as immediate.
    let r = h.produce_now(1, 1, "t", 0, batch("b", 5, T0));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 10));
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 15), (2, 15), (3, 15)]));
    assert_eq!(h.hw("t", 0), 15);

    // acks=0 gets no response at all; its records are written all the same.
    let id = h.produce(1, 0, 30_000, "t", 0, batch("c", 1, T0));
    assert_eq!(h.take(id), Some(Outcome::NoResponse));
    assert_eq!(h.hw("t", 0), 16);
    // A failed acks=0 produce closes the connection, as Kafka does.
    let id = h.produce(2, 0, 30_000, "t", 0, batch("d", 1, T0));
    assert_eq!(h.take(id), Some(Outcome::Close));

    let pd = h.fetch_now(1, "t", 0, 0, 0);
    assert_eq!((code(pd.error_code), pd.high_watermark, pd.log_start_offset), (ErrorCode::NONE, 16, 0));
    assert_eq!(offsets_in(pd.records.as_ref()), (0..16).collect::<Vec<_>>());
}

#[test]
fn a_stalled_follower_holds_the_high_watermark_and_acks_all_until_it_leaves_the_isr_then_rejoins() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    assert_eq!(h.produce_now(1, -1, "t", 0, batch("a", 2, T0)).base_offset, 0);

    h.stall("t", 0, 3, true);
    let id = h.produce(1, -1, 60_000, "t", 0, batch("b", 3, T0));
    assert!(!h.answered(id), "acks=all waits for the stalled in-sync follower");
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 5), (2, 5), (3, 2)]));
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    assert_eq!(h.hw("t", 0), 2, "the high watermark stays at the stalled follower's log end");

    // Consumers see nothing above the high watermark.
    let pd = h.fetch_now(1, "t", 0, 0, -1);
    assert_eq!(pd.high_watermark, 2);
    assert_eq!(offsets_in(pd.records.as_ref()), vec![0, 1]);
    let pd = h.fetch_now(1, "t", 0, 2, -1);
    assert_eq!(offsets_in(pd.records.as_ref()), Vec::<i64>::new());

    // The follower was last caught up at T0: it leaves the ISR once it has
    // lagged for more than replica.lag.time.max.ms, not a millisecond before.
    assert_eq!(h.core.next_deadline(), Some(T0 + LAG_MS + 1));
    h.tick_at(T0 + LAG_MS);
    assert!(!h.answered(id));
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1, 2]);
    assert_eq!(h.hw("t", 0), 5);
    let r = h.produce_answer(id);
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 2));
    assert_eq!(h.partition("t", 0).leader_epoch, 0, "an ISR change is not a leader change");

    // Un-stalled, the follower catches up and rejoins the ISR.
    h.stall("t", 0, 3, false);
    assert_eq!(h.leos("t", 0)[&3], 5);
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    assert_eq!(h.stored("t", 0, 3), h.stored("t", 0, 1));
    assert_eq!(h.core.next_deadline(), None, "nothing left to time out");
    let r = h.produce_now(1, -1, "t", 0, batch("c", 1, T0));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 5));
    assert_eq!(h.hw("t", 0), 6);
}

/// Kafka's leader refreshes a follower's `lastCaughtUpTimeMs` on every fetch
/// that reaches its log end, so an idle but fetching follower is always
/// recently caught up: after it stops fetching it stays in the ISR for
/// `replica.lag.time.max.ms`, however long the partition was idle before.
#[test]
fn a_follower_leaves_the_isr_lag_time_after_it_stalled_not_after_the_partitions_last_write() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[]);
    h.produce_now(1, -1, "t", 0, batch("a", 1, T0));

    h.tick_at(T0 + 6 * LAG_MS);
    let stalled_at = h.now;
    h.stall("t", 0, 2, true);
    let id = h.produce(1, -1, 60_000, "t", 0, batch("b", 1, h.now));
    assert_eq!(h.core.next_deadline(), Some(stalled_at + LAG_MS + 1));
    h.tick_at(stalled_at + 1);
    assert_eq!(h.isr("t", 0), vec![1, 2], "the follower was caught up when it stalled");
    assert!(!h.answered(id));
    h.tick_at(stalled_at + LAG_MS);
    assert_eq!(h.isr("t", 0), vec![1, 2]);
    h.tick_at(stalled_at + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1]);
    assert_eq!(code(h.produce_answer(id).error_code), ErrorCode::NONE);
}

// ---- min.insync.replicas ----

#[test]
fn acks_all_is_refused_with_not_enough_replicas_while_the_isr_is_below_min_insync_replicas() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[("min.insync.replicas", "2")]);
    h.stall("t", 0, 2, true);
    let r = h.produce_now(1, 1, "t", 0, batch("a", 2, T0));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 0));
    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1]);

    let r = h.produce_now(1, -1, "t", 0, batch("b", 2, h.now));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NOT_ENOUGH_REPLICAS, -1));
    assert_eq!(h.leos("t", 0)[&1], 2, "nothing is written");
    // min.insync.replicas binds acks=all only.
    let r = h.produce_now(1, 1, "t", 0, batch("c", 1, h.now));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 2));

    h.stall("t", 0, 2, false);
    assert_eq!(h.isr("t", 0), vec![1, 2]);
    let r = h.produce_now(1, -1, "t", 0, batch("d", 1, h.now));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 3));
}

/// Kafka's `Partition.checkEnoughReplicasReachOffset`: once the high
/// watermark passes a parked acks=all produce, it is answered NONE if the
/// ISR still has `min.insync.replicas` members and
/// NOT_ENOUGH_REPLICAS_AFTER_APPEND if it shrank below (the records are
/// written and committed either way).
#[test]
fn a_produce_parked_when_the_isr_shrinks_below_min_insync_gets_not_enough_replicas_after_append() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[("min.insync.replicas", "2")]);
    h.stall("t", 0, 2, true);
    let id = h.produce(1, -1, 60_000, "t", 0, batch("a", 3, T0));
    assert!(!h.answered(id), "the ISR had 2 members: the batch is appended and waits");

    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1]);
    assert_eq!(h.hw("t", 0), 3, "the shrunk ISR commits the records");
    let r = h.produce_answer(id);
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND, 0));
    let pd = h.fetch_now(1, "t", 0, 0, -1);
    assert_eq!(offsets_in(pd.records.as_ref()), vec![0, 1, 2], "the records stay written");
}

/// The other half of `checkEnoughReplicasReachOffset`: while the high
/// watermark has not reached a parked produce it keeps waiting, even with
/// the ISR below `min.insync.replicas` for a while; if the ISR is whole
/// again by the time the records are committed, the answer is NONE.
#[test]
fn a_parked_produce_waits_for_the_high_watermark_even_while_the_isr_is_below_min_insync() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[("min.insync.replicas", "3")]);
    h.stall("t", 0, 2, true);
    h.tick_at(T0 + LAG_MS / 2);
    h.stall("t", 0, 3, true);
    let id = h.produce(1, -1, 60_000, "t", 0, batch("a", 2, h.now));
    assert!(!h.answered(id));

    // Broker 2 has lagged long enough; broker 3 not yet.
    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1, 3]);
    assert_eq!(h.hw("t", 0), 0);
    assert!(!h.answered(id), "not committed yet: Kafka keeps the produce waiting");

    h.stall("t", 0, 2, false);
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    assert!(!h.answered(id), "broker 3 still holds the high watermark");
    h.stall("t", 0, 3, false);
    assert_eq!(h.hw("t", 0), 2);
    let r = h.produce_answer(id);
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 0));
}

#[test]
fn acks_all_times_out_with_request_timed_out_and_the_records_stay_written() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    h.stall("t", 0, 3, true);
    let id = h.produce(1, -1, 5_000, "t", 0, batch("a", 3, T0));
    assert_eq!(h.core.next_deadline(), Some(T0 + 5_000), "the request timeout comes before the ISR shrink");
    h.tick_at(T0 + 4_999);
    assert!(!h.answered(id));
    h.tick_at(T0 + 5_000);
    let r = h.produce_answer(id);
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::REQUEST_TIMED_OUT, 0));
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 3), (2, 3), (3, 0)]));

    // Once the follower catches up the records are committed like any other.
    h.stall("t", 0, 3, false);
    assert_eq!(h.hw("t", 0), 3);
    let pd = h.fetch_now(1, "t", 0, 0, -1);
    let values: Vec<String> = records_in(pd.records.as_ref()).iter().map(value_of).collect();
    assert_eq!(values, ["a-0", "a-1", "a-2"]);
}

#[test]
fn a_parked_produce_is_answered_not_leader_when_leadership_moves_away() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    h.stall("t", 0, 3, true);
    let id = h.produce(1, -1, 60_000, "t", 0, batch("a", 1, T0));
    assert!(!h.answered(id));
    h.core.move_leader("t", 0, 2, h.now).unwrap();
    assert!(!h.answered(id), "control calls hand their replies to the next call");
    h.flush();
    let r = h.produce_answer(id);
    assert_eq!(code(r.error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!((h.partition("t", 0).leader, h.partition("t", 0).leader_epoch), (2, 1));
}

// ---- Elections, truncation, OffsetForLeaderEpoch ----

#[test]
fn failover_to_a_lagging_in_sync_replica_truncates_what_the_old_leader_wrote_with_acks_1() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    assert_eq!(h.produce_now(1, -1, "t", 0, batch("committed", 5, T0)).base_offset, 0);

    // Broker 2 stalls but stays in the ISR; the leader writes 3 records that
    // only itself and broker 3 get, which acks=1 acknowledges.
    h.stall("t", 0, 2, true);
    let r = h.produce_now(1, 1, "t", 0, batch("lost", 3, T0));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 5));
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 8), (2, 5), (3, 8)]));
    assert_eq!(h.hw("t", 0), 5);

    // The leader's broker stops: the first in-sync replica in assignment
    // order, broker 2, takes over with the next epoch, and broker 3 drops
    // the records above broker 2's log end. The stopped broker's log stays
    // as it was on its disk.
    h.stop(1);
    let p = h.partition("t", 0);
    assert_eq!((p.leader, p.leader_epoch, p.leader_epoch_start_offset), (2, 1, 5));
    assert_eq!(h.isr("t", 0), vec![2, 3]);
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 8), (2, 5), (3, 5)]));
    assert_eq!(h.hw("t", 0), 5);

    let r = h.produce_now(2, -1, "t", 0, batch("new", 2, T0));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 5));
    assert_eq!(h.hw("t", 0), 7);

    // OffsetForLeaderEpoch answers from the new leader's epoch cache.
    let e = h.offset_for_epoch(2, "t", 0, 1, 0);
    assert_eq!((code(e.error_code), e.leader_epoch, e.end_offset), (ErrorCode::NONE, 0, 5));
    let e = h.offset_for_epoch(2, "t", 0, 1, 1);
    assert_eq!((code(e.error_code), e.leader_epoch, e.end_offset), (ErrorCode::NONE, 1, 7));
    let e = h.offset_for_epoch(2, "t", 0, -1, 7);
    assert_eq!(
        (code(e.error_code), e.leader_epoch, e.end_offset),
        (ErrorCode::NONE, -1, -1),
        "an epoch the leader does not know"
    );
    assert_eq!(code(h.offset_for_epoch(2, "t", 0, 0, 0).error_code), ErrorCode::FENCED_LEADER_EPOCH);
    assert_eq!(code(h.offset_for_epoch(2, "t", 0, 2, 0).error_code), ErrorCode::UNKNOWN_LEADER_EPOCH);
    assert_eq!(code(h.offset_for_epoch(3, "t", 0, 1, 0).error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER);

    // The old leader comes back as a follower: its log is cut where it
    // diverged (the end of epoch 0 on the new leader) and refilled.
    h.start(1);
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 7), (2, 7), (3, 7)]));
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    assert_eq!(h.partition("t", 0).leader_epoch, 1, "a replica rejoining changes no leader");
    let leader = h.stored("t", 0, 2);
    assert_eq!(h.stored("t", 0, 1), leader);
    assert_eq!(h.stored("t", 0, 3), leader);
    let epochs: Vec<(i32, i64)> = h.partition("t", 0).logs[&1]
        .log
        .leader_epoch_cache()
        .entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect();
    assert_eq!(epochs, vec![(0, 0), (1, 5)]);

    let pd = h.fetch_now(2, "t", 0, 0, 1);
    let values: Vec<String> = records_in(pd.records.as_ref()).iter().map(value_of).collect();
    assert_eq!(values, ["committed-0", "committed-1", "committed-2", "committed-3", "committed-4", "new-0", "new-1"]);
}

/// With `unclean.leader.election.enable`, a replica that was down while
/// another led comes back as leader with its own log, records the others
/// never had included; the replica that led meanwhile truncates to it.
#[test]
fn an_unclean_election_of_a_replica_that_was_down_keeps_its_log_as_it_was() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[("unclean.leader.election.enable", "true")]);
    h.produce_now(1, -1, "t", 0, batch("a", 2, T0));
    h.stall("t", 0, 2, true);
    h.produce_now(1, 1, "t", 0, batch("only-on-1", 3, T0));
    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1]);

    // No in-sync replica is left: broker 2 leads, uncleanly.
    h.stop(1);
    assert_eq!((h.partition("t", 0).leader, h.partition("t", 0).leader_epoch, h.isr("t", 0)), (2, 1, vec![2]));
    h.stall("t", 0, 2, false);
    assert_eq!(h.produce_now(2, 1, "t", 0, batch("only-on-2", 1, T0)).base_offset, 2);
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 5), (2, 3)]));

    // Broker 2 stops (the partition goes offline), broker 1 returns and is
    // elected uncleanly with the log it had when it stopped.
    h.stop(2);
    assert_eq!(h.partition("t", 0).leader, -1);
    h.start(1);
    let p = h.partition("t", 0);
    assert_eq!((p.leader, p.leader_epoch, p.high_watermark), (1, 3, 5));
    let pd = h.fetch_now(1, "t", 0, 0, 3);
    let values: Vec<String> = records_in(pd.records.as_ref()).iter().map(value_of).collect();
    assert_eq!(values, ["a-0", "a-1", "only-on-1-0", "only-on-1-1", "only-on-1-2"]);

    // Broker 2 diverged at offset 2 (its epoch 1 started there, which broker
    // 1 never saw): it truncates there and copies broker 1's log.
    h.start(2);
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 5), (2, 5)]));
    assert_eq!(h.stored("t", 0, 2), h.stored("t", 0, 1));
    assert_eq!(h.isr("t", 0), vec![1, 2]);
}

/// Kafka's `Partition.makeLeader` resets every in-sync follower's
/// `lastCaughtUpTimeMs` to the election time.
#[test]
fn a_new_leader_gives_its_lagging_in_sync_followers_a_full_lag_time() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    h.stall("t", 0, 3, true);
    h.produce_now(1, 1, "t", 0, batch("a", 1, T0));
    h.tick_at(T0 + LAG_MS - 1_000);
    h.core.move_leader("t", 0, 2, h.now).unwrap();
    h.flush();
    let elected_at = h.now;
    assert_eq!(h.core.next_deadline(), Some(elected_at + LAG_MS + 1));
    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1, 2, 3]);
    h.tick_at(elected_at + LAG_MS + 1);
    assert_eq!(h.isr("t", 0), vec![1, 2]);
}

#[test]
fn fetch_and_list_offsets_fence_stale_and_unknown_leader_epochs_and_other_brokers_redirect() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2]], &[]);
    h.produce_now(1, -1, "t", 0, batch("a", 3, T0));
    h.core.move_leader("t", 0, 2, h.now).unwrap();
    h.core.move_leader("t", 0, 1, h.now).unwrap();
    h.flush();
    assert_eq!((h.partition("t", 0).leader, h.partition("t", 0).leader_epoch), (1, 2));

    for (epoch, expected) in [
        (1, ErrorCode::FENCED_LEADER_EPOCH),
        (3, ErrorCode::UNKNOWN_LEADER_EPOCH),
        (2, ErrorCode::NONE),
        (-1, ErrorCode::NONE),
    ] {
        let pd = h.fetch_now(1, "t", 0, 0, epoch);
        assert_eq!(code(pd.error_code), expected, "Fetch with current_leader_epoch {epoch}");
        if expected == ErrorCode::NONE {
            assert_eq!(offsets_in(pd.records.as_ref()), vec![0, 1, 2]);
        } else {
            assert_eq!(pd.records.as_ref().map_or(0, Bytes::len), 0);
        }
        let lo = h.list_offset(1, LIST_OFFSETS_V, "t", 0, -1, epoch);
        assert_eq!(code(lo.error_code), expected, "ListOffsets with current_leader_epoch {epoch}");
        if expected == ErrorCode::NONE {
            assert_eq!((lo.offset, lo.leader_epoch), (3, 2));
        }
    }

    // A broker without a replica redirects consumers to the leader (KIP-951:
    // the leader in the partition, its endpoint in the response from v16).
    let id = h.fetch(3, FETCH_BY_ID_V, fetch_by_id(h.core.topics["t"].id, 0, 0, 0, 1));
    let resp = expect_body!(h.take(id), Fetch);
    let pd = &resp.responses[0].partitions[0];
    assert_eq!(code(pd.error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!((pd.current_leader.leader_id, pd.current_leader.leader_epoch), (1, 2));
    let endpoint = resp.node_endpoints.iter().find(|e| e.node_id == 1).unwrap();
    assert_eq!((endpoint.host.as_str(), endpoint.port), ("127.0.0.1", 19_091));
    // ListOffsets and Produce need the leader: a follower refuses them too.
    for broker in [2, 3] {
        let lo = h.list_offset(broker, LIST_OFFSETS_V, "t", 0, -1, -1);
        assert_eq!(code(lo.error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER, "ListOffsets on broker {broker}");
        let r = h.produce_now(broker, 1, "t", 0, batch("b", 1, T0));
        assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1));
        assert_eq!((r.current_leader.leader_id, r.current_leader.leader_epoch), (1, 2));
    }
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 3), (2, 3)]));

    // Unknown topics and partitions.
    assert_eq!(code(h.fetch_now(1, "t", 7, 0, -1).error_code), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(code(h.fetch_now(1, "nope", 0, 0, -1).error_code), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    let id = h.fetch(1, FETCH_BY_ID_V, fetch_by_id(Uuid::from_u128(42), 0, 0, 0, 1));
    assert_eq!(code(h.fetch_answer(id).error_code), ErrorCode::UNKNOWN_TOPIC_ID);
    // Past the log end.
    assert_eq!(code(h.fetch_now(1, "t", 0, 4, -1).error_code), ErrorCode::OFFSET_OUT_OF_RANGE);
}

// ---- Idempotent producers ----

#[test]
fn the_idempotence_window_dedupes_retries_and_fences_gaps_and_stale_epochs() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    let id = h.send(
        2,
        5,
        InitProducerIdRequest { transactional_id: None, transaction_timeout_ms: 60_000, ..Default::default() },
    );
    let init = expect_body!(h.take(id), InitProducerId);
    assert_eq!((code(init.error_code), init.producer_epoch), (ErrorCode::NONE, 0));
    let pid = init.producer_id;
    assert!(pid >= 0);
    let id = h.send(
        3,
        5,
        InitProducerIdRequest { transactional_id: None, transaction_timeout_ms: 60_000, ..Default::default() },
    );
    assert_eq!(expect_body!(h.take(id), InitProducerId).producer_id, pid + 1, "each producer gets a fresh id");

    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 0, 5));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 0));
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 5, 5));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 5));

    // A retry of a written batch answers with its original offset and is
    // not written again.
    for (seq, base) in [(0, 0), (5, 5)] {
        let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, seq, 5));
        assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, base), "retry of sequence {seq}");
    }
    assert_eq!(h.leos("t", 0), BTreeMap::from([(1, 10), (2, 10), (3, 10)]));
    assert_eq!(h.stored("t", 0, 1).len(), 2);

    // A gap in the sequence.
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 11, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1));
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 10, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 10));

    // A bumped epoch must restart at sequence 0; then the old epoch is fenced.
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 1, 3, 1));
    assert_eq!(code(r.error_code), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 1, 0, 2));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 11));
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 11, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::INVALID_PRODUCER_EPOCH, -1));
    assert_eq!(h.leos("t", 0)[&1], 13, "refused batches are not written");

    // Another producer's sequences are its own.
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid + 1, 0, 0, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 13));
}

#[test]
fn producer_state_survives_leader_changes_so_a_retry_to_the_new_leader_is_still_a_duplicate() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    let pid = 4242;
    h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 0, 5));
    h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 5, 5));

    h.core.move_leader("t", 0, 2, h.now).unwrap();
    h.flush();
    assert_eq!(h.partition("t", 0).leader, 2);
    // The producer did not see the answer to its last batch and retries it
    // on the new leader, which rebuilt the producer state from its log.
    let r = h.produce_now(2, -1, "t", 0, idempotent(pid, 0, 5, 5));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 5));
    assert_eq!(h.leos("t", 0)[&2], 10);
    let r = h.produce_now(2, -1, "t", 0, idempotent(pid, 0, 11, 1));
    assert_eq!(code(r.error_code), ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    let r = h.produce_now(2, -1, "t", 0, idempotent(pid, 0, 10, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 10));

    // And again after a failover.
    h.stop(2);
    assert_eq!(h.partition("t", 0).leader, 1);
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 10, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 10));
    assert_eq!(h.leos("t", 0)[&1], 11);
    let r = h.produce_now(1, -1, "t", 0, idempotent(pid, 0, 11, 1));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 11));
}

// ---- Long-polling fetches ----

#[test]
fn a_long_poll_is_answered_by_the_produce_that_brings_data_or_by_the_tick_at_max_wait() {
    let mut h = Harness::new(3);
    let topic_id = h.topic("t", &[&[1, 2, 3]], &[]);

    let fetch = h.fetch(1, FETCH_BY_ID_V, fetch_by_id(topic_id, 0, 0, 500, 1));
    assert!(!h.answered(fetch), "no data yet: parked");
    assert_eq!(h.core.next_deadline(), Some(T0 + 500));
    h.tick_at(T0 + 100);
    let produce = h.produce(1, 1, 30_000, "t", 0, batch("a", 2, T0));
    assert!(h.answered(produce) && h.answered(fetch), "the produce's call answers the parked fetch");
    let pd = h.fetch_answer(fetch);
    assert_eq!((code(pd.error_code), pd.high_watermark), (ErrorCode::NONE, 2));
    assert_eq!(offsets_in(pd.records.as_ref()), vec![0, 1]);

    // Nothing arrives: answered empty by the tick at max_wait_ms.
    let fetch = h.fetch(1, FETCH_BY_ID_V, fetch_by_id(topic_id, 0, 2, 500, 1));
    let parked_at = h.now;
    h.tick_at(parked_at + 499);
    assert!(!h.answered(fetch));
    h.tick_at(parked_at + 500);
    let pd = h.fetch_answer(fetch);
    assert_eq!((code(pd.error_code), pd.high_watermark), (ErrorCode::NONE, 2));
    assert_eq!(pd.records.as_ref().map_or(0, Bytes::len), 0);
}

#[test]
fn a_long_poll_waits_for_min_bytes_of_committed_data() {
    let mut h = Harness::new(3);
    let topic_id = h.topic("t", &[&[1, 2, 3]], &[]);
    let size = batch("x", 4, T0).len();
    let min_bytes = (2 * size + 1) as i32;

    let fetch = h.fetch(1, FETCH_BY_ID_V, fetch_by_id(topic_id, 0, 0, 3 * LAG_MS as i32, min_bytes));
    h.produce_now(1, 1, "t", 0, batch("a", 4, T0));
    h.produce_now(1, 1, "t", 0, batch("b", 4, T0));
    assert!(!h.answered(fetch), "2 batches are {} bytes, less than min_bytes {min_bytes}", 2 * size);

    // Data above the high watermark does not count: a stalled follower
    // holds back the third batch.
    h.stall("t", 0, 3, true);
    h.produce_now(1, 1, "t", 0, batch("c", 4, T0));
    assert_eq!(h.hw("t", 0), 8);
    assert!(!h.answered(fetch), "the third batch is not committed");
    // The ISR shrink commits it, and the tick that shrinks answers the fetch.
    h.tick_at(T0 + LAG_MS + 1);
    assert_eq!(h.hw("t", 0), 12);
    let pd = h.fetch_answer(fetch);
    assert_eq!(batches_in(pd.records.as_ref()).len(), 3);
    assert_eq!(offsets_in(pd.records.as_ref()), (0..12).collect::<Vec<_>>());

    // With too little data the deadline answers with what there is.
    let fetch = h.fetch(1, FETCH_BY_ID_V, fetch_by_id(topic_id, 0, 8, 1_000, 1 << 20));
    h.tick_at(h.now + 1_000);
    let pd = h.fetch_answer(fetch);
    assert_eq!(offsets_in(pd.records.as_ref()), (8..12).collect::<Vec<_>>());
}

// ---- ListOffsets, DeleteRecords, retention ----

#[test]
fn list_offsets_earliest_latest_by_timestamp_and_max_timestamp() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[]);
    // Offsets 0-2 and 3-4, timestamps out of order within and across batches.
    h.produce_now(1, -1, "t", 0, batch_at(&[T0 + 10, T0 + 30, T0 + 20]));
    h.produce_now(1, -1, "t", 0, batch_at(&[T0 + 5, T0 + 25]));

    let lo = |h: &mut Harness, ts: i64| {
        let r = h.list_offset(1, LIST_OFFSETS_V, "t", 0, ts, 0);
        assert_eq!(code(r.error_code), ErrorCode::NONE, "timestamp {ts}");
        (r.offset, r.timestamp, r.leader_epoch)
    };
    assert_eq!(lo(&mut h, -2), (0, -1, 0), "earliest");
    assert_eq!(lo(&mut h, -1), (5, -1, 0), "latest: the high watermark");
    assert_eq!(lo(&mut h, -3), (1, T0 + 30, 0), "max timestamp: the first record carrying it");
    // The first record, in offset order, of the first batch reaching the timestamp.
    assert_eq!(lo(&mut h, T0), (0, T0 + 10, 0));
    assert_eq!(lo(&mut h, T0 + 5), (0, T0 + 10, 0));
    assert_eq!(lo(&mut h, T0 + 21), (1, T0 + 30, 0));
    assert_eq!(lo(&mut h, T0 + 30), (1, T0 + 30, 0));
    assert_eq!(lo(&mut h, T0 + 31), (-1, -1, -1), "no record that late");

    // Lookups only see committed records.
    h.stall("t", 0, 2, true);
    h.produce_now(1, 1, "t", 0, batch_at(&[T0 + 100]));
    assert_eq!(lo(&mut h, -1), (5, -1, 0));
    assert_eq!(lo(&mut h, T0 + 50), (-1, -1, -1));
    assert_eq!(lo(&mut h, -3), (-1, -1, -1), "the newest timestamp is not committed yet");
    h.stall("t", 0, 2, false);
    assert_eq!(lo(&mut h, -3), (5, T0 + 100, 0));
    assert_eq!(lo(&mut h, T0 + 50), (5, T0 + 100, 0));
    assert_eq!(lo(&mut h, -1), (6, -1, 0));
}

#[test]
fn delete_records_moves_the_log_start_on_every_replica_up_to_the_high_watermark() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[]);
    for tag in ["a", "b", "c"] {
        h.produce_now(1, -1, "t", 0, batch(tag, 2, T0));
    }

    let r = h.delete_records(1, "t", 0, 3);
    assert_eq!((code(r.error_code), r.low_watermark), (ErrorCode::NONE, 3));
    for b in [1, 2] {
        assert_eq!(h.partition("t", 0).logs[&b].log.log_start_offset(), 3, "broker {b}");
    }
    assert_eq!(h.list_offset(1, LIST_OFFSETS_V, "t", 0, -2, -1).offset, 3);
    assert_eq!(code(h.fetch_now(1, "t", 0, 2, -1).error_code), ErrorCode::OFFSET_OUT_OF_RANGE);
    // Offset 3 sits in the batch of offsets 2-3, which comes whole.
    let pd = h.fetch_now(1, "t", 0, 3, -1);
    assert_eq!(pd.log_start_offset, 3);
    assert_eq!(offsets_in(pd.records.as_ref()), vec![2, 3, 4, 5]);

    // Not past the high watermark; -1 means up to it.
    assert_eq!(code(h.delete_records(1, "t", 0, 7).error_code), ErrorCode::OFFSET_OUT_OF_RANGE);
    assert_eq!(code(h.delete_records(2, "t", 0, 4).error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let r = h.delete_records(1, "t", 0, -1);
    assert_eq!((code(r.error_code), r.low_watermark), (ErrorCode::NONE, 6));
    assert_eq!(h.list_offset(1, LIST_OFFSETS_V, "t", 0, -2, -1).offset, 6);
    assert_eq!(h.list_offset(1, LIST_OFFSETS_V, "t", 0, -1, -1).offset, 6);
    // A lower offset changes nothing.
    let r = h.delete_records(1, "t", 0, 1);
    assert_eq!((code(r.error_code), r.low_watermark), (ErrorCode::NONE, 6));
}

#[test]
fn retention_by_bytes_deletes_the_oldest_segments_on_every_replica() {
    let mut h = Harness::new(2);
    // The smallest segment Kafka 4.0 allows (KIP-1030).
    h.topic("t", &[&[1, 2]], &[("segment.bytes", "1048576"), ("retention.bytes", "2097152")]);
    let value = vec![b'x'; 1000];
    let mut end = 0;
    while end < 3_600 {
        let mut b = BatchBuilder::new(Compression::None, None);
        for i in 0..60 {
            b.append(T0 + i, None, Some(&value), &[]);
        }
        let r = h.produce_now(1, -1, "t", 0, b.finish().unwrap());
        assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, end));
        end += 60;
    }
    let before = h.partition("t", 0).logs[&1].log.segment_count();
    assert!(before >= 4, "about 3.6 MB in 1 MiB segments: {before} segments");

    h.core.apply_retention(h.now);
    let log = &h.partition("t", 0).logs[&1].log;
    let size = log.size_bytes() as i64;
    let first = log.segments().next().unwrap();
    assert!(log.segment_count() < before);
    // Kafka deletes the oldest segments while what is left stays at or above
    // retention.bytes.
    assert!(size >= 2_097_152, "{size} bytes left");
    assert!(size - (first.size() as i64) < 2_097_152, "one more segment could have gone");
    let start = log.log_start_offset();
    assert_eq!(start, first.base_offset());
    assert!(start > 0);
    assert_eq!(log.log_end_offset(), end);
    let follower = &h.partition("t", 0).logs[&2].log;
    assert_eq!((follower.log_start_offset(), follower.size_bytes() as i64), (start, size));

    assert_eq!(h.list_offset(1, LIST_OFFSETS_V, "t", 0, -2, -1).offset, start);
    assert_eq!(code(h.fetch_now(1, "t", 0, 0, -1).error_code), ErrorCode::OFFSET_OUT_OF_RANGE);
    let pd = h.fetch_now(1, "t", 0, start, -1);
    assert_eq!((code(pd.error_code), pd.log_start_offset), (ErrorCode::NONE, start));
    assert_eq!(batches_in(pd.records.as_ref())[0].header().base_offset, start);
}

#[test]
fn retention_by_time_empties_an_expired_log_but_keeps_its_offsets() {
    let mut h = Harness::new(1);
    h.topic("t", &[&[1]], &[("retention.ms", "60000")]);
    // The newest record is from T0 + 2.
    h.produce_now(1, -1, "t", 0, batch("a", 3, T0));
    h.tick_at(T0 + 2 + 60_000);
    h.core.apply_retention(h.now);
    assert_eq!(h.partition("t", 0).log_start_offset(), 0, "not older than retention.ms yet");
    h.tick_at(T0 + 2 + 60_001);
    h.core.apply_retention(h.now);
    assert_eq!(h.partition("t", 0).log_start_offset(), 3);
    assert_eq!(h.list_offset(1, LIST_OFFSETS_V, "t", 0, -2, -1).offset, 3);
    assert_eq!(h.list_offset(1, LIST_OFFSETS_V, "t", 0, -1, -1).offset, 3);
    let r = h.produce_now(1, -1, "t", 0, batch("b", 1, h.now));
    assert_eq!(r.base_offset, 3);
}

// ---- LogAppendTime ----

#[test]
fn log_append_time_topics_store_the_append_time_in_every_replica() {
    let mut h = Harness::new(2);
    h.topic("t", &[&[1, 2]], &[("message.timestamp.type", "LogAppendTime")]);
    h.tick_at(T0 + 7);
    // A CreateTime far outside message.timestamp.*.max.ms does not matter
    // here: the broker replaces it.
    let r = h.produce_now(1, -1, "t", 0, batch("a", 3, T0 - 30 * 86_400_000));
    assert_eq!((code(r.error_code), r.base_offset, r.log_append_time_ms), (ErrorCode::NONE, 0, T0 + 7));

    for b in [1, 2] {
        let stored = h.stored("t", 0, b);
        let batch = RecordBatch::new(stored[0].clone()).unwrap();
        batch.verify_crc().unwrap();
        assert_eq!(batch.header().timestamp_type(), TimestampType::LogAppendTime, "broker {b}");
        assert_eq!(batch.header().max_timestamp, T0 + 7);
    }
    let pd = h.fetch_now(1, "t", 0, 0, -1);
    let ts: Vec<i64> = records_in(pd.records.as_ref()).iter().map(|r| r.timestamp).collect();
    assert_eq!(ts, vec![T0 + 7; 3]);
    let lo = h.list_offset(1, LIST_OFFSETS_V, "t", 0, T0, -1);
    assert_eq!((lo.offset, lo.timestamp), (0, T0 + 7));

    // A duplicate of an idempotent batch answers with the original append time.
    h.tick_at(T0 + 20);
    let r = h.produce_now(1, -1, "t", 0, idempotent(77, 0, 0, 2));
    assert_eq!((r.base_offset, r.log_append_time_ms), (3, T0 + 20));
    h.tick_at(T0 + 30);
    let r = h.produce_now(1, -1, "t", 0, idempotent(77, 0, 0, 2));
    assert_eq!((r.base_offset, r.log_append_time_ms), (3, T0 + 20));
}

// ---- Topic administration ----

fn creatable(name: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        configs: configs
            .iter()
            .map(|(k, v)| CreatableTopicConfig { name: (*k).into(), value: Some((*v).into()), ..Default::default() })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn create_topics_validates_each_topic_and_validate_only_creates_nothing() {
    let mut h = Harness::new(3);
    h.topic("existing", &[&[1]], &[]);
    h.topic("with.dot", &[&[1]], &[]);
    let results = h.create_topics(
        false,
        vec![
            creatable("existing", 1, 1, &[]),
            creatable("bad name", 1, 1, &[]),
            creatable("..", 1, 1, &[]),
            creatable("with_dot", 1, 1, &[]),
            creatable("too-many-replicas", 1, 4, &[]),
            creatable("no-partitions", 0, 1, &[]),
            creatable("small-segments", 1, 1, &[("segment.bytes", "1000")]),
            creatable("compacted", 1, 1, &[("cleanup.policy", "compact")]),
            creatable("unknown-config", 1, 1, &[("flush.messages", "1")]),
            creatable("twice", 1, 1, &[]),
            creatable("twice", 2, 1, &[]),
            creatable("good", 4, 3, &[("retention.ms", "1000")]),
            creatable("defaults", -1, -1, &[]),
        ],
    );
    let by_name: Vec<(&str, ErrorCode)> = results.iter().map(|r| (r.name.as_str(), code(r.error_code))).collect();
    assert_eq!(
        by_name,
        vec![
            ("existing", ErrorCode::TOPIC_ALREADY_EXISTS),
            ("bad name", ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("..", ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("with_dot", ErrorCode::INVALID_TOPIC_EXCEPTION),
            ("too-many-replicas", ErrorCode::INVALID_REPLICATION_FACTOR),
            ("no-partitions", ErrorCode::INVALID_PARTITIONS),
            ("small-segments", ErrorCode::INVALID_CONFIG),
            ("compacted", ErrorCode::INVALID_CONFIG),
            ("unknown-config", ErrorCode::INVALID_CONFIG),
            ("twice", ErrorCode::INVALID_REQUEST),
            ("twice", ErrorCode::INVALID_REQUEST),
            ("good", ErrorCode::NONE),
            ("defaults", ErrorCode::NONE),
        ]
    );
    for r in results.iter().filter(|r| r.error_code != 0) {
        assert!(r.error_message.is_some(), "{} has no message", r.name);
        assert!(!h.core.topics.contains_key(&r.name) || r.name == "existing", "{} was created", r.name);
    }
    let good = results.iter().find(|r| r.name == "good").unwrap();
    assert_eq!((good.num_partitions, good.replication_factor), (4, 3));
    assert_eq!(good.topic_id, h.core.topics["good"].id);
    assert!(!good.topic_id.is_zero());
    let retention = good.configs.as_ref().unwrap().iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("1000"));
    let t = &h.core.topics["good"];
    assert_eq!(t.partitions.len(), 4);
    for p in &t.partitions {
        assert_eq!(p.replicas.len(), 3);
        assert_eq!((p.leader, p.leader_epoch), (p.replicas[0], 0));
    }
    // -1 takes num.partitions and default.replication.factor.
    let d = results.iter().find(|r| r.name == "defaults").unwrap();
    assert_eq!((d.num_partitions, d.replication_factor), (1, 1));

    let topics_before = h.core.topics.len();
    let results = h.create_topics(true, vec![creatable("dry-run", 6, 2, &[]), creatable("existing", 1, 1, &[])]);
    assert_eq!(code(results[0].error_code), ErrorCode::NONE);
    assert_eq!((results[0].num_partitions, results[0].replication_factor), (6, 2));
    assert_eq!(code(results[1].error_code), ErrorCode::TOPIC_ALREADY_EXISTS);
    assert!(!h.core.topics.contains_key("dry-run"));
    assert_eq!(h.core.topics.len(), topics_before);
}

#[test]
fn create_partitions_adds_partitions_and_validates_the_count_and_assignment() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2], &[2, 3]], &[]);
    let create = |h: &mut Harness, count: i32, assignments: Option<Vec<Vec<i32>>>, validate_only: bool| {
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "t".into(),
                count,
                assignments: assignments.map(|a| {
                    a.into_iter()
                        .map(|broker_ids| CreatePartitionsAssignment { broker_ids, ..Default::default() })
                        .collect()
                }),
                ..Default::default()
            }],
            timeout_ms: 30_000,
            validate_only,
            ..Default::default()
        };
        let id = h.send(1, 3, req);
        code(expect_body!(h.take(id), CreatePartitions).results.remove(0).error_code)
    };
    assert_eq!(create(&mut h, 1, None, false), ErrorCode::INVALID_PARTITIONS);
    assert_eq!(create(&mut h, 2, None, false), ErrorCode::INVALID_PARTITIONS);
    assert_eq!(create(&mut h, 4, Some(vec![vec![3, 1]]), false), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
    assert_eq!(create(&mut h, 3, Some(vec![vec![3]]), false), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
    assert_eq!(create(&mut h, 3, Some(vec![vec![3, 9]]), false), ErrorCode::INVALID_REPLICA_ASSIGNMENT);
    assert_eq!(create(&mut h, 6, None, true), ErrorCode::NONE);
    assert_eq!(h.core.topics["t"].partitions.len(), 2, "validate_only adds nothing");

    assert_eq!(create(&mut h, 3, Some(vec![vec![3, 1]]), false), ErrorCode::NONE);
    assert_eq!(create(&mut h, 5, None, false), ErrorCode::NONE);
    let t = &h.core.topics["t"];
    assert_eq!(t.partitions.len(), 5);
    assert_eq!((t.partitions[2].replicas.clone(), t.partitions[2].leader), (vec![3, 1], 3));
    for p in &t.partitions[3..] {
        assert_eq!(p.replicas.len(), 2);
        assert!(p.replicas.contains(&p.leader));
    }
    let leader = h.partition("t", 4).leader;
    let r = h.produce_now(leader, -1, "t", 4, batch("a", 1, T0));
    assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 0));

    let id = h.send(
        1,
        3,
        CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic { name: "nope".into(), count: 2, ..Default::default() }],
            ..Default::default()
        },
    );
    assert_eq!(
        code(expect_body!(h.take(id), CreatePartitions).results[0].error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
}

#[test]
fn a_deleted_and_recreated_topic_has_a_new_id_and_fetches_by_the_old_id_fail() {
    let mut h = Harness::new(3);
    let results = h.create_topics(false, vec![creatable("t", 1, 3, &[])]);
    let old_id = results[0].topic_id;
    let leader = h.partition("t", 0).leader;
    h.produce_now(leader, -1, "t", 0, batch("old", 3, T0));

    // A long poll on the topic is answered when it goes.
    let fetch = h.fetch(leader, FETCH_BY_ID_V, fetch_by_id(old_id, 0, 3, 30_000, 1));
    assert!(!h.answered(fetch));
    let deleted = h.delete_topics(vec![DeleteTopicState { name: Some("t".into()), ..Default::default() }]);
    assert_eq!((code(deleted[0].error_code), deleted[0].topic_id), (ErrorCode::NONE, old_id));
    assert!(h.answered(fetch), "the deletion's call answers the parked fetch");
    assert_eq!(code(h.fetch_answer(fetch).error_code), ErrorCode::UNKNOWN_TOPIC_ID);

    let results = h.create_topics(false, vec![creatable("t", 1, 3, &[])]);
    let new_id = results[0].topic_id;
    assert_eq!(code(results[0].error_code), ErrorCode::NONE);
    assert_ne!(new_id, old_id);
    let leader = h.partition("t", 0).leader;
    let id = h.fetch(leader, FETCH_BY_ID_V, fetch_by_id(old_id, 0, 0, 0, 1));
    assert_eq!(code(h.fetch_answer(id).error_code), ErrorCode::UNKNOWN_TOPIC_ID);
    let id = h.fetch(leader, FETCH_BY_ID_V, fetch_by_id(new_id, 0, 0, 0, 1));
    let pd = h.fetch_answer(id);
    assert_eq!((code(pd.error_code), pd.high_watermark), (ErrorCode::NONE, 0), "the old records are gone");
    assert_eq!(pd.records.as_ref().map_or(0, Bytes::len), 0);

    // DeleteTopics v6 by id; unknown ids and names.
    let deleted = h.delete_topics(vec![
        DeleteTopicState { name: None, topic_id: new_id, ..Default::default() },
        DeleteTopicState { name: None, topic_id: old_id, ..Default::default() },
        DeleteTopicState { name: Some("nope".into()), ..Default::default() },
    ]);
    let codes: Vec<(Option<&str>, ErrorCode)> =
        deleted.iter().map(|r| (r.name.as_deref(), code(r.error_code))).collect();
    assert_eq!(
        codes,
        vec![
            (Some("t"), ErrorCode::NONE),
            (None, ErrorCode::UNKNOWN_TOPIC_ID),
            (Some("nope"), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        ]
    );
    assert!(!h.core.topics.contains_key("t"));
}

// ---- Group coordinator routing ----

fn find_coordinator(h: &mut Harness, broker: i32, group: &str) -> Coordinator {
    let id = h.send(
        broker,
        4,
        FindCoordinatorRequest { key_type: 0, coordinator_keys: vec![group.into()], ..Default::default() },
    );
    expect_body!(h.take(id), FindCoordinator).coordinators.remove(0)
}

fn offset_commit(group: &str, topic: &str, partition: i32, offset: i64) -> OffsetCommitRequest {
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: -1,
        member_id: String::new(),
        topics: vec![OffsetCommitRequestTopic {
            name: topic.into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: partition,
                committed_offset: offset,
                committed_leader_epoch: 0,
                committed_metadata: Some("meta".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn offset_fetch_v7(group: &str, topic: &str, partition: i32) -> OffsetFetchRequest {
    OffsetFetchRequest {
        group_id: group.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: topic.into(),
            partition_indexes: vec![partition],
            ..Default::default()
        }]),
        ..Default::default()
    }
}

#[test]
fn deleting_a_topic_forgets_the_offsets_groups_committed_for_it() {
    let mut h = Harness::new(1);
    h.topic("t", &[&[1]], &[]);
    h.topic("u", &[&[1]], &[]);
    for (group, topic) in [("g1", "t"), ("g1", "u"), ("g2", "t")] {
        let id = h.send(1, 8, offset_commit(group, topic, 0, 7));
        assert_eq!(code(expect_body!(h.take(id), OffsetCommit).topics[0].partitions[0].error_code), ErrorCode::NONE);
    }
    let deleted = h.delete_topics(vec![DeleteTopicState { name: Some("t".into()), ..Default::default() }]);
    assert_eq!(code(deleted[0].error_code), ErrorCode::NONE);
    h.topic("t", &[&[1]], &[]);

    let id = h.send(1, 7, offset_fetch_v7("g1", "t", 0));
    assert_eq!(expect_body!(h.take(id), OffsetFetch).topics[0].partitions[0].committed_offset, -1);
    let id = h.send(1, 7, offset_fetch_v7("g1", "u", 0));
    assert_eq!(
        expect_body!(h.take(id), OffsetFetch).topics[0].partitions[0].committed_offset,
        7,
        "other topics keep theirs"
    );
    assert!(h.core.groups.describe("g1").is_some());
    assert!(h.core.groups.describe("g2").is_none(), "an empty group with no offsets left is gone");
}

#[test]
fn groups_are_coordinated_by_the_leader_of_their_offsets_partition_which_moves_with_it() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    let group = "payments";

    let c = find_coordinator(&mut h, 1, group);
    assert_eq!(code(c.error_code), ErrorCode::NONE);
    let offsets = &h.core.topics[CONSUMER_OFFSETS];
    assert!(offsets.internal);
    assert_eq!((offsets.partitions.len(), offsets.replication_factor()), (50, 3));
    let p = offsets_partition_for(group, 50);
    let coordinator = offsets.partitions[p as usize].leader;
    assert_eq!(c.node_id, coordinator);
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 19_090 + coordinator));
    for b in [1, 2, 3] {
        assert_eq!(find_coordinator(&mut h, b, group).node_id, coordinator, "asked broker {b}");
    }

    let id = h.send(coordinator, 8, offset_commit(group, "t", 0, 42));
    let r = expect_body!(h.take(id), OffsetCommit);
    assert_eq!(code(r.topics[0].partitions[0].error_code), ErrorCode::NONE);

    let other = [1, 2, 3].into_iter().find(|&b| b != coordinator).unwrap();
    let id = h.send(other, 8, offset_commit(group, "t", 0, 99));
    let r = expect_body!(h.take(id), OffsetCommit);
    assert_eq!(code(r.topics[0].partitions[0].error_code), ErrorCode::NOT_COORDINATOR);
    let id = h.send(other, 7, offset_fetch_v7(group, "t", 0));
    assert_eq!(code(expect_body!(h.take(id), OffsetFetch).error_code), ErrorCode::NOT_COORDINATOR);
    let id = h.send(
        other,
        8,
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup { group_id: group.into(), topics: None, ..Default::default() }],
            ..Default::default()
        },
    );
    assert_eq!(code(expect_body!(h.take(id), OffsetFetch).groups[0].error_code), ErrorCode::NOT_COORDINATOR);

    // The coordinator's broker stops: the partition's new leader coordinates,
    // with the group's committed offsets intact.
    h.stop(coordinator);
    let moved = offsets_partition_for(group, 50);
    let new_coordinator = h.core.topics[CONSUMER_OFFSETS].partitions[moved as usize].leader;
    assert_ne!(new_coordinator, coordinator);
    let asked = [1, 2, 3].into_iter().find(|&b| b != coordinator).unwrap();
    assert_eq!(find_coordinator(&mut h, asked, group).node_id, new_coordinator);
    let id = h.send(new_coordinator, 7, offset_fetch_v7(group, "t", 0));
    let r = expect_body!(h.take(id), OffsetFetch);
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    let part = &r.topics[0].partitions[0];
    assert_eq!((part.committed_offset, part.committed_leader_epoch), (42, 0));
    assert_eq!(part.metadata.as_deref(), Some("meta"));
    let survivor = [1, 2, 3].into_iter().find(|&b| b != coordinator && b != new_coordinator).unwrap();
    let id = h.send(survivor, 8, offset_commit(group, "t", 0, 43));
    assert_eq!(
        code(expect_body!(h.take(id), OffsetCommit).topics[0].partitions[0].error_code),
        ErrorCode::NOT_COORDINATOR
    );
}

// ---- acks=all answers only what the ISR holds (issue 10) ----

#[test]
fn a_duplicate_of_an_unreplicated_batch_waits_for_the_isr_like_the_original() {
    // The lost-acknowledgement bug: a retried batch recognised as a
    // duplicate was answered at once, before the high watermark covered
    // it; the in-sync follower that never had it then became leader and
    // the "acknowledged" records were truncated.
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[("min.insync.replicas", "2")]);
    let pid = 77;
    h.stall("t", 0, 2, true);
    let first = h.produce(1, -1, 30_000, "t", 0, idempotent(pid, 0, 0, 3));
    assert!(!h.answered(first), "follower 2 is in the ISR without the batch: parked");
    let retry = h.produce(1, -1, 30_000, "t", 0, idempotent(pid, 0, 0, 3));
    assert!(!h.answered(retry), "the duplicate waits for the ISR as the original does");

    // Broker 1 fails; 2 (in the ISR, without the batch) leads and 3 truncates.
    h.stop(1);
    assert_eq!(h.partition("t", 0).leader, 2);
    assert_eq!(h.leos("t", 0)[&3], 0, "the unreplicated batch is gone");
    for id in [first, retry] {
        let r = h.produce_answer(id);
        assert_eq!(code(r.error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER, "never acknowledged");
    }
}

#[test]
fn a_duplicate_is_acknowledged_once_the_high_watermark_covers_it() {
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    let pid = 78;
    h.stall("t", 0, 2, true);
    let first = h.produce(1, -1, 30_000, "t", 0, idempotent(pid, 0, 0, 2));
    let retry = h.produce(1, -1, 30_000, "t", 0, idempotent(pid, 0, 0, 2));
    assert!(!h.answered(first) && !h.answered(retry));
    h.stall("t", 0, 2, false);
    for id in [first, retry] {
        let r = h.produce_answer(id);
        assert_eq!((code(r.error_code), r.base_offset), (ErrorCode::NONE, 0));
    }
    assert_eq!(h.leos("t", 0)[&1], 2, "written once");
}

#[test]
fn a_parked_produce_fails_when_leadership_leaves_and_comes_back() {
    // Leadership moved to 2 and back to 1 while the request waited: the
    // offsets it waited for may now hold other records, so it must not be
    // answered with success when the high watermark passes them.
    let mut h = Harness::new(3);
    h.topic("t", &[&[1, 2, 3]], &[]);
    h.stall("t", 0, 2, true);
    h.stall("t", 0, 3, true);
    let parked = h.produce(1, -1, 30_000, "t", 0, idempotent(90, 0, 0, 2));
    assert!(!h.answered(parked));
    h.core.move_leader("t", 0, 2, h.now).unwrap();
    h.flush();
    h.stall("t", 0, 3, false);
    let other = h.produce_now(2, -1, "t", 0, idempotent(91, 0, 0, 2));
    assert_eq!(code(other.error_code), ErrorCode::NONE);
    h.core.move_leader("t", 0, 1, h.now).unwrap();
    h.flush();
    h.stall("t", 0, 2, false);
    let r = h.produce_answer(parked);
    assert_eq!(code(r.error_code), ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

mod txn;
mod txn_admin;
