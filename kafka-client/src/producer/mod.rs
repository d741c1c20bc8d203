//! The producer, shaped like Kafka's own: partitioner → RecordAccumulator →
//! an engine task that sends.
//!
//! [`Producer::send`] picks the partition, encodes the record straight into
//! the partition's open batch, and returns a [`DeliveryFuture`] as soon as
//! the record is accepted; it waits (up to `max.block.ms`) only for the
//! topic's metadata and for buffer space. The engine (`engine.rs`), one
//! task that owns everything else (idempotence, requests in flight,
//! retries, flushes, closing), drains ready batches into one Produce
//! request per broker, pipelines them, retries what can be retried, and
//! completes each record's future.
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
mod engine;
mod idempotence;
mod interceptor;
pub mod partitioner;
mod record;
mod transaction;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::records::BatchBuilder;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};

pub use crate::TopicPartition;
pub use config::{Acks, PartitionerChoice, ProducerBuilder, ProducerConfig};
pub use delivery::{DeliveryFuture, RecordMetadata};
pub use interceptor::ProducerInterceptor;
pub use record::{BytesSerializer, ProducerRecord, SendError, Serializer, StrSerializer, StringSerializer};
pub use transaction::handle::Transaction;

use self::accumulator::{Accumulator, AccumulatorConfig, RecordRef};
use self::engine::{Command, Engine};
use self::partitioner::{Partitioner, TopicView};
use crate::config::millis;
use crate::error::{Error, Result};
use crate::net::{ConnectionConfig, NetConfig, NetworkClient};

static CLIENT_IDS: AtomicU64 = AtomicU64::new(1);

/// What the handles and the engine share: settings, the connection layer,
/// the `buffer.memory` gate and the accumulator. Everything else the
/// producer keeps is the engine's alone.
pub(crate) struct Shared {
    pub cfg: ProducerConfig,
    /// What every timer and default record timestamp reads.
    pub clock: crate::Clock,
    pub net: Arc<NetworkClient>,
    /// The one lock of the producer, as in Java's RecordAccumulator:
    /// `send` appends here on the caller's thread (the record's bytes are
    /// encoded once, while the caller has them in cache), the engine
    /// drains. Handing each record to the engine instead cost about half
    /// the throughput (DESIGN.md).
    pub acc: Mutex<Accumulator>,
    pub partitioner: Arc<dyn Partitioner>,
    pub interceptors: Vec<Arc<dyn ProducerInterceptor>>,
    /// `buffer.memory`, in bytes; a batch holds `batch.size` (or its one
    /// record's size) from creation until it completes.
    pub memory: Semaphore,
    /// Sends waiting for memory: the engine then sends every batch at once.
    pub memory_waiters: AtomicUsize,
    /// Wakes the engine: a batch opened or filled, a sender waits for memory.
    pub wake: Notify,
    /// `close` was called on some clone: `send` refuses at once.
    pub closing: AtomicBool,
    /// A transactional producer's phase and error, as the engine publishes
    /// them for `send` (None without `transactional.id`).
    pub txn: Option<transaction::handle::Published>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A Kafka producer; see the module docs. Cheap to clone; clones share one
/// engine, which stops when the last clone is dropped (after delivering
/// what was accepted, within `delivery.timeout.ms`) or on `close`.
#[derive(Clone)]
pub struct Producer {
    shared: Arc<Shared>,
    /// To the engine; closed when the last clone drops, which the engine
    /// reads as `close`.
    commands: mpsc::UnboundedSender<Command>,
    /// Turns true once the engine has stopped.
    stopped: watch::Receiver<bool>,
    engine: tokio::task::AbortHandle,
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
            transactional: cfg.transactional_id.is_some(),
        });
        let memory = Semaphore::new(cfg.buffer_memory.min(Semaphore::MAX_PERMITS));
        let cfg_txn = cfg.transactional_id.is_some();
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
            closing: AtomicBool::new(false),
            txn: cfg_txn.then(transaction::handle::Published::default),
        });
        let (commands, rx) = mpsc::unbounded_channel();
        let (done, stopped) = watch::channel(false);
        let engine = tokio::spawn(Engine::new(shared.clone(), rx, done).run()).abort_handle();
        Ok(Producer { shared, commands, stopped, engine })
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
    /// is refused at once. A refused record comes back in the
    /// [`SendError`]. Dropping this call before it returns sends nothing;
    /// dropping the returned future does not cancel delivery.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafka_client::producer::Producer) {
    /// use kafka_client::producer::ProducerRecord;
    /// match producer.send(ProducerRecord::new("orders").value("42")).await {
    ///     Ok(delivery) => drop(delivery),
    ///     Err(refused) => eprintln!("{}; keeping {:?}", refused.error, refused.record.value),
    /// }
    /// # }
    /// ```
    pub async fn send(&self, record: ProducerRecord) -> std::result::Result<DeliveryFuture, SendError> {
        let mut record = record;
        for i in &self.shared.interceptors {
            record = i.on_send(record);
        }
        match self.append(&record).await {
            Ok(f) => Ok(f),
            Err(error) => Err(SendError { error, record }),
        }
    }

    async fn append(&self, record: &ProducerRecord) -> Result<DeliveryFuture> {
        if self.shared.closing.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        if let Some(txn) = &self.shared.txn {
            txn.check_send()?;
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
        // Checked again after the waits: the transaction may have ended
        // meanwhile, and the record must not join the next one.
        if let Some(txn) = &self.shared.txn {
            txn.check_send()?;
        }
        let rec = RecordRef { timestamp: ts, key, value, headers: &record.headers };
        // Fast path: the open batch has room.
        let appended = lock(&self.shared.acc).try_append(&tp, rec);
        let appended = match appended {
            Some(a) => a,
            None => {
                if self.shared.closing.load(Ordering::Relaxed) {
                    return Err(Error::Closed);
                }
                let need = lock(&self.shared.acc).new_batch_size(size);
                self.reserve_memory(need, &mut deadline).await?;
                if let Some(txn) = &self.shared.txn
                    && let Err(e) = txn.check_send()
                {
                    self.shared.memory.add_permits(need);
                    return Err(e);
                }
                // Refused once closed, so nothing lands in a batch that the
                // engine, which may have stopped meanwhile, would never send.
                let appended = lock(&self.shared.acc).append_new(&tp, rec, need, self.shared.clock.now_ms());
                let (a, unused) = match appended {
                    Ok(a) => a,
                    Err(reserved) => {
                        self.shared.memory.add_permits(reserved);
                        return Err(Error::Closed);
                    }
                };
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

    fn choose_partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partitions: usize) -> i32 {
        // Computed only if the partitioner asks (a keyed record never does),
        // each under its own lock, never both at once: the engine locks the
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

    /// Bytes of `buffer.memory` not held by records waiting to be sent or
    /// answered (Java's `buffer-available-bytes` metric): `buffer.memory`
    /// itself once every accepted record has its result.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafka_client::producer::Producer) {
    /// producer.flush().await;
    /// assert_eq!(producer.buffer_available_bytes(), producer.config().buffer_memory());
    /// # }
    /// ```
    pub fn buffer_available_bytes(&self) -> usize {
        self.shared.memory.available_permits()
    }

    /// Gives the engine a command; false if it has stopped.
    fn tell(&self, c: Command) -> bool {
        self.commands.send(c).is_ok()
    }

    /// Sends a record and waits for its delivery.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.send(record).await?.await
    }

    /// Takes `bytes` of `buffer.memory` for a new batch (given back by the
    /// engine when the batch completes), waiting up to the call's deadline.
    async fn reserve_memory(&self, bytes: usize, deadline: &mut BlockDeadline) -> Result<()> {
        let n = u32::try_from(bytes).unwrap_or(u32::MAX);
        if let Ok(p) = self.shared.memory.try_acquire_many(n) {
            p.forget();
            return Ok(());
        }
        let deadline = deadline.get();
        // Senders waiting for memory make every batch ready, so memory frees
        // up. Counted by a guard: a send dropped while it waits must not
        // leave the count raised (linger.ms would be ignored for good).
        let _waiting = MemoryWaiter::new(&self.shared);
        self.shared.wake.notify_one();
        let r = tokio::time::timeout_at(deadline, self.shared.memory.acquire_many(n)).await;
        match r {
            Ok(Ok(p)) => {
                p.forget();
                Ok(())
            }
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
        // The engine keeps it fresh from now on.
        let _ = self.tell(Command::Topic(topic.to_string()));
        let topics = [topic.to_string()];
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
        let (reply, done) = oneshot::channel();
        let mark = lock(&self.shared.acc).begin_flush();
        if self.tell(Command::Flush { mark, reply }) {
            // An error means the engine stopped, and with it every record
            // has its result.
            let _ = done.await;
        }
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
    /// pending then fail — with [`Error::Closed`] if they were never sent,
    /// with [`Error::OutcomeUnknown`] if a request carrying them may have
    /// been written — and the call returns [`Error::Timeout`]. Never hangs
    /// longer.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafka_client::producer::Producer) -> kafka_client::Result<()> {
    /// producer.close_timeout(std::time::Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn close_timeout(&self, timeout: Duration) -> Result<()> {
        self.shared.closing.store(true, Ordering::SeqCst);
        let _ = self.tell(Command::Close);
        let mut stopped = self.stopped.clone();
        match tokio::time::timeout(timeout, stopped.wait_for(|s| *s)).await {
            Ok(Ok(_)) => return Ok(()),
            // The engine ended without finishing (it panicked).
            Ok(Err(_)) => {
                self.fail_what_is_left();
                return Err(Error::Closed);
            }
            Err(_) => {}
        }
        let _ = self.tell(Command::Abort);
        // The engine fails what is left and stops at once; bound the wait
        // anyway, then stop it outright and fail what it left.
        if !matches!(tokio::time::timeout(Duration::from_secs(5), stopped.wait_for(|s| *s)).await, Ok(Ok(_))) {
            self.engine.abort();
            self.fail_what_is_left();
            self.shared.net.close();
        }
        Err(Error::Timeout { what: "records still pending at close".into(), after: timeout })
    }

    /// With the engine gone, fails the batches it left in the accumulator
    /// (and takes no more), so no delivery future waits forever.
    fn fail_what_is_left(&self) {
        let left = {
            let mut acc = lock(&self.shared.acc);
            acc.close();
            acc.abort_all()
        };
        for b in left {
            let e = b.failure(Error::Closed);
            let reserved = b.complete(Err(e));
            self.shared.memory.add_permits(reserved);
        }
    }
}

/// Counts a `send` waiting for memory for as long as it lives.
struct MemoryWaiter<'a>(&'a Shared);

impl<'a> MemoryWaiter<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.memory_waiters.fetch_add(1, Ordering::SeqCst);
        MemoryWaiter(shared)
    }
}

impl Drop for MemoryWaiter<'_> {
    fn drop(&mut self) {
        self.0.memory_waiters.fetch_sub(1, Ordering::SeqCst);
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
