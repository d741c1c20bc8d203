//! The producer, shaped like Kafka's own: partitioner → RecordAccumulator →
//! a background sender.
//!
//! [`Producer::send`] picks the partition, encodes the record straight into
//! the partition's open batch, and returns a [`DeliveryFuture`] as soon as
//! the record is accepted; it waits (up to `max.block.ms`) only for the
//! topic's metadata and for buffer space. A background task drains ready
//! batches into one Produce request per broker, pipelines them, retries what
//! can be retried, and completes each record's future.
//!
//! Ordering: records of one partition are written in the order they were
//! sent as long as idempotence is on (the default) or at most one request
//! is in flight per connection. Without idempotence and with several
//! requests in flight, a retried batch may land after a later one, as in
//! Kafka's Java client.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_client::Error> {
//! use kafka_client::producer::{Producer, ProducerRecord};
//!
//! let producer = Producer::builder().bootstrap_servers("127.0.0.1:9092").build()?;
//! let delivery = producer.send(ProducerRecord::new("orders").key("c-7").value("42")).await?;
//! let written = delivery.await?;
//! println!("partition {} offset {}", written.partition, written.offset);
//! producer.close_timeout(std::time::Duration::from_secs(5)).await.ok();
//! # Ok(()) }
//! ```

mod accumulator;
mod batch;
mod config;
mod delivery;
mod idempotence;
mod interceptor;
pub mod partitioner;
mod record;
mod sender;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::records::BatchBuilder;
use tokio::sync::{Notify, Semaphore};

pub use crate::TopicPartition;
pub use config::{Acks, PartitionerChoice, ProducerBuilder, ProducerConfig};
pub use delivery::{DeliveryFuture, RecordMetadata};
pub use interceptor::ProducerInterceptor;
pub use record::{BytesSerializer, ProducerRecord, Serializer, StrSerializer, StringSerializer};

use self::accumulator::{Accumulator, AccumulatorConfig, RecordRef};
use self::partitioner::{Partitioner, TopicView};
use crate::config::millis;
use crate::error::{Error, Result};
use crate::net::{ConnectionConfig, NetConfig, NetworkClient};

static CLIENT_IDS: AtomicU64 = AtomicU64::new(1);

/// What the producer handle and its sender share.
pub(crate) struct Shared {
    pub cfg: ProducerConfig,
    /// What every timer and default record timestamp reads.
    pub clock: crate::Clock,
    pub net: Arc<NetworkClient>,
    pub acc: Mutex<Accumulator>,
    pub partitioner: Arc<dyn Partitioner>,
    pub interceptors: Vec<Arc<dyn ProducerInterceptor>>,
    /// `buffer.memory`, in bytes.
    pub memory: Arc<Semaphore>,
    pub memory_waiters: AtomicUsize,
    /// Wakes the sender: new batch, flush, close, connection ready.
    pub wake: Notify,
    /// Incomplete batches by id (split parts share their parent's id).
    pub incomplete: Mutex<BTreeMap<u64, usize>>,
    pub completed: Notify,
    pub next_batch_id: AtomicU64,
    /// No new records are accepted.
    pub closing: AtomicBool,
    /// Fail everything still pending (close's timeout passed).
    pub abort: AtomicBool,
    /// Topics whose metadata the sender keeps fresh.
    pub topics: Mutex<std::collections::BTreeSet<String>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Records that a batch with `id` completed.
    pub(crate) fn batch_done(&self, id: u64, reserved: usize) {
        if reserved > 0 {
            self.memory.add_permits(reserved);
        }
        let mut inc = lock(&self.incomplete);
        if let Some(n) = inc.get_mut(&id) {
            *n -= 1;
            if *n == 0 {
                inc.remove(&id);
            }
        }
        drop(inc);
        self.completed.notify_waiters();
    }

    /// Records that a batch with `id` exists (split parts add theirs).
    pub(crate) fn batch_started(&self, id: u64, parts: usize) {
        *lock(&self.incomplete).entry(id).or_default() += parts;
    }
}

/// A Kafka producer; see the module docs. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct Producer {
    shared: Arc<Shared>,
    sender: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Dropped with the last clone: the producer then closes in the
    /// background (see [`Handles`]).
    _handles: Arc<Handles>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("client_id", &self.shared.cfg.client_id).finish_non_exhaustive()
    }
}

impl Producer {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::default()
    }

    /// A builder from Java-style properties (`bootstrap.servers`, `acks`, …).
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> ProducerBuilder {
        ProducerBuilder::from_properties(props)
    }

    pub(crate) fn start(
        mut cfg: ProducerConfig,
        partitioner: Arc<dyn Partitioner>,
        interceptors: Vec<Arc<dyn ProducerInterceptor>>,
        env: crate::config::Environment,
    ) -> Result<Producer> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(crate::ConfigError::new(
                "runtime",
                "a producer must be built inside a tokio runtime",
            )));
        }
        if cfg.client_id.is_empty() {
            cfg.client_id = format!("producer-{}", CLIENT_IDS.fetch_add(1, Ordering::Relaxed));
        }
        let net = NetworkClient::new(NetConfig {
            bootstrap_servers: cfg.bootstrap_servers.clone(),
            connection: ConnectionConfig {
                client_id: Some(cfg.client_id.clone()),
                request_timeout: cfg.request_timeout,
                connect_timeout: cfg.connect_timeout,
                max_in_flight: cfg.max_in_flight,
                ..ConnectionConfig::default()
            },
            reconnect_backoff: cfg.reconnect_backoff,
            reconnect_backoff_max: cfg.reconnect_backoff_max,
            metadata_max_age: cfg.metadata_max_age,
            connector: env.connector.clone(),
        });
        let acc = Accumulator::new(AccumulatorConfig {
            batch_size: cfg.batch_size,
            linger_ms: millis(cfg.linger),
            compression: cfg.compression,
            level: cfg.compression_level,
            delivery_timeout_ms: millis(cfg.delivery_timeout),
            retry_backoff_ms: millis(cfg.retry_backoff),
            retry_backoff_max_ms: millis(cfg.retry_backoff_max),
            track_timestamps: !interceptors.is_empty(),
        });
        let memory = Arc::new(Semaphore::new(cfg.buffer_memory.min(Semaphore::MAX_PERMITS)));
        let shared = Arc::new(Shared {
            cfg,
            clock: env.clock(),
            net,
            acc: Mutex::new(acc),
            partitioner,
            interceptors,
            memory,
            memory_waiters: AtomicUsize::new(0),
            wake: Notify::new(),
            incomplete: Mutex::new(BTreeMap::new()),
            completed: Notify::new(),
            next_batch_id: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            topics: Mutex::new(Default::default()),
        });
        let task = tokio::spawn(sender::run(shared.clone()));
        let handles = Arc::new(Handles(shared.clone()));
        Ok(Producer { shared, sender: Arc::new(Mutex::new(Some(task))), _handles: handles })
    }

    /// The settings in effect.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared.cfg
    }

    /// Accepts a record for sending and returns its delivery future.
    ///
    /// Returns once the record is in a batch: after waiting, at most
    /// `max.block.ms` in total, for the topic's metadata and for buffer
    /// space. A record larger than `max.request.size` or `buffer.memory`
    /// is refused at once. Dropping this call before it returns sends
    /// nothing; dropping the returned future does not cancel delivery.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        let mut record = record;
        for i in &self.shared.interceptors {
            record = i.on_send(record);
        }
        let mut deadline = BlockDeadline::new(self.shared.cfg.max_block);
        let partitions = self.wait_for_topic(&record.topic, &mut deadline).await?;
        let ts = record.timestamp.unwrap_or_else(|| self.shared.clock.wall_ms());
        let (key, value) = (record.key.as_deref(), record.value.as_deref());
        let size = BatchBuilder::record_size(0, 0, key, value, &record.headers) + 61;
        let cfg = &self.shared.cfg;
        if size > cfg.max_request_size {
            return Err(Error::InvalidRecord(format!(
                "the record is {size} bytes when serialized, larger than max.request.size ({})",
                cfg.max_request_size
            )));
        }
        if size > cfg.buffer_memory {
            return Err(Error::InvalidRecord(format!(
                "the record is {size} bytes, larger than buffer.memory ({})",
                cfg.buffer_memory
            )));
        }
        let (partition, chosen) = match record.partition {
            Some(p) if p < 0 || p as usize >= partitions => {
                return Err(Error::InvalidRecord(format!(
                    "partition {p} of {} does not exist ({partitions} partitions)",
                    record.topic
                )));
            }
            Some(p) => (p, false),
            None => (self.choose_partition(&record.topic, key, value, partitions), true),
        };
        let tp = TopicPartition { topic: record.topic.clone(), partition };
        let no_offsets = cfg.acks == Acks::None;
        // Fast path: the open batch has room.
        let appended =
            lock(&self.shared.acc).try_append(&tp, RecordRef { timestamp: ts, key, value, headers: &record.headers });
        let appended = match appended {
            Some(a) => a,
            None => {
                let need = lock(&self.shared.acc).new_batch_size(size);
                let permit = self.reserve_memory(need, &mut deadline).await?;
                let mut acc = lock(&self.shared.acc);
                let id = self.shared.next_batch_id.fetch_add(1, Ordering::SeqCst);
                let (a, unused) = acc.append_new(
                    &tp,
                    RecordRef { timestamp: ts, key, value, headers: &record.headers },
                    need,
                    id,
                    self.shared.clock.now_ms(),
                );
                // A new batch counts as incomplete before the sender can see
                // it: registered under the accumulator's lock, which the
                // sender needs to drain it. Registered later, a batch the
                // sender completed first would stay "incomplete" forever and
                // hang `flush`.
                if unused == 0 {
                    self.shared.batch_started(id, 1);
                }
                drop(acc);
                permit.forget();
                if unused > 0 {
                    self.shared.memory.add_permits(unused);
                }
                if a.new_batch {
                    self.shared.wake.notify_one();
                }
                a
            }
        };
        if chosen {
            self.shared.partitioner.on_append(&partitioner::Appended {
                topic: &record.topic,
                partition,
                key,
                bytes: size,
                all_batches_full: appended.batch_full,
            });
        }
        if appended.batch_full {
            self.shared.wake.notify_one();
        }
        Ok(DeliveryFuture::new(appended.completion, appended.index, partition, ts, no_offsets))
    }

    /// Sends a record and waits for its delivery.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.send(record).await?.await
    }

    fn choose_partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partitions: usize) -> i32 {
        // Computed only if the partitioner asks (a keyed record never does),
        // each under its own lock, never both at once: the sender locks the
        // accumulator, then metadata.
        let shared = &self.shared;
        let available = || -> Vec<i32> {
            shared
                .net
                .metadata()
                .topic(topic)
                .map(|t| t.partitions.iter().filter(|p| p.leader >= 0).map(|p| p.partition).collect())
                .unwrap_or_default()
        };
        let queues = || lock(&shared.acc).queue_sizes(topic, partitions);
        let n = i32::try_from(partitions).unwrap_or(i32::MAX);
        match TopicView::deferred(n, &available, &queues) {
            Some(view) => shared.partitioner.partition(topic, key, value, &view).clamp(0, n - 1),
            None => 0,
        }
    }

    async fn reserve_memory(
        &self,
        bytes: usize,
        deadline: &mut BlockDeadline,
    ) -> Result<tokio::sync::SemaphorePermit<'_>> {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        if let Ok(p) = self.shared.memory.try_acquire_many(n) {
            return Ok(p);
        }
        let deadline = deadline.get();
        // Senders waiting for memory make every batch ready, so memory frees up.
        self.shared.memory_waiters.fetch_add(1, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let r = tokio::time::timeout_at(deadline, self.shared.memory.acquire_many(n)).await;
        self.shared.memory_waiters.fetch_sub(1, Ordering::SeqCst);
        match r {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout {
                what: format!("{bytes} bytes of buffer.memory"),
                after: self.shared.cfg.max_block,
            }),
        }
    }

    /// The partition count of `topic` when metadata has it.
    fn known_partitions(&self, topic: &str) -> Option<usize> {
        self.shared.net.metadata().partition_count(topic).filter(|&n| n > 0)
    }

    /// Waits until the topic's partitions are known; returns their number.
    async fn wait_for_topic(&self, topic: &str, deadline: &mut BlockDeadline) -> Result<usize> {
        if let Some(n) = self.known_partitions(topic) {
            return Ok(n);
        }
        let deadline = deadline.get();
        lock(&self.shared.topics).insert(topic.to_string());
        let topics: Vec<String> = lock(&self.shared.topics).iter().cloned().collect();
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return Err(Error::Timeout {
                    what: format!("topic {topic} to appear in metadata"),
                    after: self.shared.cfg.max_block,
                });
            }
            match tokio::time::timeout(remaining, self.shared.net.refresh_metadata(Some(&topics), true)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if !e.is_retriable() => return Err(e),
                Ok(Err(_)) | Err(_) => {}
            }
            if let Some(n) = self.known_partitions(topic) {
                return Ok(n);
            }
            if self.shared.closing.load(Ordering::SeqCst) {
                return Err(Error::Closed);
            }
            let pause =
                self.shared.cfg.retry_backoff.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            tokio::time::sleep(pause).await;
        }
    }

    /// The partitions of `topic` (fetching its metadata if needed).
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<crate::PartitionInfo>> {
        self.wait_for_topic(topic, &mut BlockDeadline::new(self.shared.cfg.max_block)).await?;
        Ok(self.shared.net.metadata().topic(topic).map(|t| t.partitions.clone()).unwrap_or_default())
    }

    /// Sends everything accepted so far at once (ignoring `linger.ms`) and
    /// waits until each of those records has its result.
    pub async fn flush(&self) {
        let upto = self.shared.next_batch_id.load(Ordering::SeqCst);
        lock(&self.shared.acc).begin_flush();
        self.shared.wake.notify_one();
        loop {
            let waiter = self.shared.completed.notified();
            let pending = lock(&self.shared.incomplete).range(..upto).next().is_some();
            if !pending {
                break;
            }
            waiter.await;
        }
        lock(&self.shared.acc).end_flush();
    }

    /// Closes the producer: stops accepting records, sends what was
    /// accepted and returns once every record has its result, which
    /// `delivery.timeout.ms` bounds (Java's `close()`). Later sends fail
    /// with [`Error::Closed`]; clones share the closing.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafka_client::producer::Producer) -> kafka_client::Result<()> {
    /// producer.close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) -> Result<()> {
        let cfg = &self.shared.cfg;
        self.close_timeout(cfg.delivery_timeout.saturating_add(cfg.request_timeout)).await
    }

    /// Like [`Self::close`], but gives up after `timeout`: the records still
    /// pending then fail with [`Error::Closed`] and the call returns
    /// [`Error::Timeout`]. Never hangs longer.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafka_client::producer::Producer) -> kafka_client::Result<()> {
    /// producer.close_timeout(std::time::Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn close_timeout(&self, timeout: Duration) -> Result<()> {
        self.shared.closing.store(true, Ordering::SeqCst);
        lock(&self.shared.acc).close();
        self.shared.wake.notify_one();
        let task = lock(&self.sender).take();
        let Some(mut task) = task else { return Ok(()) };
        let mut result = Ok(());
        if tokio::time::timeout(timeout, &mut task).await.is_err() {
            self.shared.abort.store(true, Ordering::SeqCst);
            self.shared.wake.notify_one();
            // The sender fails what is left and exits promptly; bound the
            // wait anyway in case a connection attempt is in progress.
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
            result = Err(Error::Timeout { what: "records still pending at close".into(), after: timeout });
        }
        self.shared.net.close();
        result
    }
}

/// Held by every clone of a [`Producer`]. When the last one goes, no record
/// can be sent any more: the sender stops taking records and ends once
/// what was accepted is delivered or has failed (within
/// `delivery.timeout.ms`), and its connections close with it. (Without
/// this the sender, which holds the shared state, would run forever.)
struct Handles(Arc<Shared>);

impl Drop for Handles {
    fn drop(&mut self) {
        self.0.closing.store(true, Ordering::SeqCst);
        self.0.wake.notify_one();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.net.close();
    }
}

/// The `max.block.ms` deadline of one call, shared by all its waits. The
/// clock is read when the call first has to wait (all before that is
/// non-blocking, so this is the call's start to within microseconds): a
/// send whose topic is known and whose batch has room never reads it.
struct BlockDeadline {
    max_block: Duration,
    at: Option<tokio::time::Instant>,
}

impl BlockDeadline {
    fn new(max_block: Duration) -> Self {
        BlockDeadline { max_block, at: None }
    }

    /// The deadline; every wait of the call shares it.
    fn get(&mut self) -> tokio::time::Instant {
        *self.at.get_or_insert_with(|| tokio::time::Instant::now() + self.max_block)
    }
}
