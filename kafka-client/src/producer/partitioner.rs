//! Choosing the partition a record is sent to, exactly as the Java client
//! (Kafka 4.0) does.
//!
//! - [`murmur2`] and [`to_positive`] are Java's `Utils.murmur2` and
//!   `Utils.toPositive`; [`partition_for_key`] combines them the way every
//!   Kafka client hashes keys, so keyed records land where Java, librdkafka
//!   (`murmur2_random`) and the other clients put them.
//! - [`DefaultPartitioner`] is the producer's default behaviour since KIP-794
//!   ("uniform sticky"): keys are hashed over all partitions, unkeyed records
//!   stick to one partition until `batch.size` bytes went to it, and the next
//!   partition is drawn with a preference for short queues.
//! - [`RoundRobinPartitioner`] is Java's `RoundRobinPartitioner`.
//!
//! A [`Partitioner`] sees a topic through a [`TopicView`]: its partition
//! count, the partitions that can take records now and, optionally, how many
//! batches wait in each partition's queue. It learns what happened to a
//! record through [`Partitioner::on_append`] and
//! [`Partitioner::on_new_batch`].
//!
//! # Differences from the Java client
//!
//! Java's `BuiltInPartitioner` lives inside the record accumulator; here the
//! same algorithm sits behind the [`Partitioner`] trait, which changes when
//! things happen but not what is chosen:
//!
//! - Java picks the next sticky partition inside `updatePartitionInfo`, the
//!   moment a partition has had enough bytes. [`DefaultPartitioner`] only
//!   forgets the old partition at that moment and picks the next one on the
//!   next unkeyed record of the topic, with the [`TopicView`] of that record.
//!   With the same random numbers and the same view the choice is the same.
//! - Java builds its load statistics in `RecordAccumulator.ready()` and keeps
//!   them until the next call; here the caller hands the queue sizes in with
//!   each record ([`TopicView::with_queue_sizes`]) and they are read only
//!   when a new partition is picked.
//! - `partitioner.availability.timeout.ms` is not implemented: Java drops
//!   partitions whose leader has not drained for that long from the adaptive
//!   table only; here the caller's single list of available partitions is
//!   used by both the adaptive and the uniform choice. With Java's default
//!   (0, disabled) and `available` = "partitions with a known leader", the
//!   behaviour is Java's.
//! - Java re-checks under the queue's lock that the sticky partition did not
//!   change between choosing and appending, and retries the append if it
//!   did. Here an [`Appended`] report for a partition that is no longer the
//!   sticky one is ignored: the record stays where it was put and its bytes
//!   are not counted towards the new partition.
//! - A sticky partition beyond the topic's current partition count (the
//!   topic was recreated smaller) is replaced by a new pick; Java would
//!   keep returning it and fail the records.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Java's `Utils.murmur2`: the 32-bit MurmurHash2 variant every Kafka client
/// uses to hash record keys (seed `0x9747b28c`).
///
/// The result is signed, as in Java; use [`to_positive`] before taking a
/// remainder.
///
/// ```
/// use kafka_client::producer::partitioner::murmur2;
///
/// // Known answers from Kafka's `UtilsTest.testMurmur2`.
/// assert_eq!(murmur2(b"21"), -973932308);
/// assert_eq!(murmur2(b"foobar"), -790332482);
/// assert_eq!(murmur2(b""), 0x106e08d9);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java computes in `int`: multiplication wraps and `>>>` is a logical
    // shift, which is exactly `u32` arithmetic. Java's `length` is an `int`;
    // truncating keeps the hash identical for any array Java could hold.
    let mut h: u32 = SEED ^ (data.len() as u32);

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // Java's `switch (length % 4)` falls through from case 3 to case 1; the
    // multiplication belongs to case 1 and so runs for any non-empty tail.
    let tail = blocks.remainder();
    if let Some(&b) = tail.get(2) {
        h ^= u32::from(b) << 16;
    }
    if let Some(&b) = tail.get(1) {
        h ^= u32::from(b) << 8;
    }
    if let Some(&b) = tail.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `Utils.toPositive`: clears the sign bit.
///
/// This is not `abs`: `to_positive(-1)` is `i32::MAX`, and `i32::MIN` maps to
/// 0. Kafka uses it so that hashes and counters index partitions without a
/// negative remainder.
///
/// ```
/// use kafka_client::producer::partitioner::to_positive;
///
/// assert_eq!(to_positive(-1), i32::MAX);
/// assert_eq!(to_positive(i32::MIN), 0);
/// assert_eq!(to_positive(42), 42);
/// ```
pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition Kafka's clients choose for a key among `num_partitions`
/// partitions: `to_positive(murmur2(key)) % num_partitions` (Java's
/// `BuiltInPartitioner.partitionForKey`).
///
/// Returns `None` when `num_partitions` is not positive.
///
/// ```
/// use kafka_client::producer::partitioner::partition_for_key;
///
/// // murmur2("kafka") is 0xd067cf64 (librdkafka's `java_murmur2_results`).
/// assert_eq!(partition_for_key(b"kafka", 10), Some(0x5067cf64 % 10));
/// assert_eq!(partition_for_key(b"kafka", 0), None);
/// ```
pub fn partition_for_key(key: &[u8], num_partitions: i32) -> Option<i32> {
    (num_partitions > 0).then(|| to_positive(murmur2(key)) % num_partitions)
}

/// What the producer knows about a topic's partitions when it places a
/// record.
///
/// - `num_partitions`: the topic's partition count, at least 1.
/// - `available`: the partitions that can take records now, in ascending
///   order, as Java's `Cluster.availablePartitionsForTopic` lists them (the
///   partitions with a known leader). Entries must be below
///   `num_partitions`; partitioners return them as given.
/// - queue sizes (optional): for each partition, indexed by partition
///   number, how many batches wait in its queue.
///
/// ```
/// use kafka_client::producer::partitioner::TopicView;
///
/// let available = [0, 2];
/// let queues = [3, 0, 1];
/// let view = TopicView::new(3, &available).unwrap().with_queue_sizes(&queues);
/// assert_eq!(view.num_partitions(), 3);
/// assert_eq!(view.available(), &[0, 2]);
/// assert_eq!(view.queue_sizes(), Some(&queues[..]));
/// assert!(TopicView::new(0, &[]).is_none());
/// ```
pub struct TopicView<'a> {
    num_partitions: i32,
    available: Source<'a, i32>,
    queue_sizes: Option<Source<'a, u32>>,
}

/// A list given up front, or computed the first time it is asked for: on
/// the producer's path a keyed record never needs the lists, and the sticky
/// partitioner only when it switches partitions.
enum Source<'a, T> {
    Given(&'a [T]),
    Deferred(&'a (dyn Fn() -> Vec<T> + 'a), OnceLock<Vec<T>>),
}

impl<T> Source<'_, T> {
    fn get(&self) -> &[T] {
        match self {
            Source::Given(s) => s,
            Source::Deferred(f, cell) => cell.get_or_init(f),
        }
    }
}

impl std::fmt::Debug for TopicView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicView")
            .field("num_partitions", &self.num_partitions)
            .field("available", &self.available())
            .field("queue_sizes", &self.queue_sizes())
            .finish()
    }
}

impl<'a> TopicView<'a> {
    /// A topic with `num_partitions` partitions of which `available` can take
    /// records; `None` when `num_partitions` is not positive, because no
    /// partition can then be chosen.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::TopicView;
    ///
    /// let view = TopicView::new(4, &[0, 1, 3]).unwrap();
    /// assert_eq!(view.available(), &[0, 1, 3]);
    /// ```
    pub fn new(num_partitions: i32, available: &'a [i32]) -> Option<Self> {
        (num_partitions > 0).then_some(TopicView {
            num_partitions,
            available: Source::Given(available),
            queue_sizes: None,
        })
    }

    /// A view whose available partitions and queue sizes are computed only
    /// if the partitioner asks for them, and then once.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use kafka_client::producer::partitioner::TopicView;
    ///
    /// let calls = Cell::new(0);
    /// let available = || {
    ///     calls.set(calls.get() + 1);
    ///     vec![0, 2]
    /// };
    /// let queues = || vec![1, 0, 3];
    /// let view = TopicView::deferred(3, &available, &queues).unwrap();
    /// assert_eq!(calls.get(), 0);
    /// assert_eq!(view.available(), &[0, 2]);
    /// assert_eq!(view.available(), &[0, 2]);
    /// assert_eq!((calls.get(), view.queue_sizes()), (1, Some(&[1, 0, 3][..])));
    /// ```
    pub fn deferred(
        num_partitions: i32,
        available: &'a (dyn Fn() -> Vec<i32> + 'a),
        queue_sizes: &'a (dyn Fn() -> Vec<u32> + 'a),
    ) -> Option<Self> {
        (num_partitions > 0).then(|| TopicView {
            num_partitions,
            available: Source::Deferred(available, OnceLock::new()),
            queue_sizes: Some(Source::Deferred(queue_sizes, OnceLock::new())),
        })
    }

    /// Adds the number of batches queued for each partition, indexed by
    /// partition number, for adaptive partitioning.
    ///
    /// Java only uses queue sizes once the accumulator has a queue for every
    /// partition of the topic, and goes uniform until then; a slice shorter
    /// than the partition count is treated the same way.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::TopicView;
    ///
    /// let view = TopicView::new(2, &[0, 1]).unwrap().with_queue_sizes(&[4, 0]);
    /// assert_eq!(view.queue_sizes(), Some(&[4, 0][..]));
    /// ```
    #[must_use]
    pub fn with_queue_sizes(mut self, queue_sizes: &'a [u32]) -> Self {
        self.queue_sizes = Some(Source::Given(queue_sizes));
        self
    }

    /// The topic's partition count (at least 1).
    ///
    /// ```
    /// use kafka_client::producer::partitioner::TopicView;
    ///
    /// assert_eq!(TopicView::new(6, &[]).unwrap().num_partitions(), 6);
    /// ```
    pub fn num_partitions(&self) -> i32 {
        self.num_partitions
    }

    /// The partitions that can take records now.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::TopicView;
    ///
    /// assert!(TopicView::new(6, &[]).unwrap().available().is_empty());
    /// ```
    pub fn available(&self) -> &[i32] {
        self.available.get()
    }

    /// The queued batch count of each partition, if the caller gave them.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::TopicView;
    ///
    /// assert_eq!(TopicView::new(1, &[0]).unwrap().queue_sizes(), None);
    /// ```
    pub fn queue_sizes(&self) -> Option<&[u32]> {
        self.queue_sizes.as_ref().map(Source::get)
    }
}

/// A record the accumulator has just appended to a partition the
/// partitioner chose, reported through [`Partitioner::on_append`].
///
/// ```
/// use kafka_client::producer::partitioner::Appended;
///
/// let appended = Appended { topic: "events", partition: 2, key: None, bytes: 120, all_batches_full: false };
/// assert_eq!(appended.partition, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended<'a> {
    /// The record's topic.
    pub topic: &'a str,
    /// The partition the record was appended to.
    pub partition: i32,
    /// The record's serialized key, as given to [`Partitioner::partition`].
    pub key: Option<&'a [u8]>,
    /// How many bytes the append added to the partition's batches (Java's
    /// `RecordAppendResult.appendedBytes`).
    pub bytes: usize,
    /// Whether every batch in the partition's queue is now full, i.e. the
    /// last one is (Java's `RecordAccumulator.allBatchesFull`). While the
    /// last batch still has room, a sticky partitioner delays its switch so
    /// that it does not leave a fractional batch behind.
    pub all_batches_full: bool,
}

/// Chooses the partition of records that do not name one.
///
/// The producer calls [`partition`](Self::partition) for each such record,
/// then reports the append with [`on_append`](Self::on_append). Following
/// Java's protocol for custom partitioners, when the chosen partition would
/// need a new batch the producer may first call
/// [`on_new_batch`](Self::on_new_batch) and then ask again for the same
/// record. Records with an explicit partition never reach the partitioner,
/// and their appends are not reported.
///
/// The trait is object safe; a producer holds a `Box<dyn Partitioner>`.
///
/// ```
/// use kafka_client::producer::partitioner::{Partitioner, TopicView};
///
/// /// Sends everything to the last partition.
/// #[derive(Debug)]
/// struct Last;
///
/// impl Partitioner for Last {
///     fn partition(&self, _topic: &str, _key: Option<&[u8]>, _value: Option<&[u8]>, view: &TopicView<'_>) -> i32 {
///         view.num_partitions() - 1
///     }
/// }
///
/// let partitioner: Box<dyn Partitioner> = Box::new(Last);
/// let view = TopicView::new(3, &[0, 1, 2]).unwrap();
/// assert_eq!(partitioner.partition("events", None, None, &view), 2);
/// ```
pub trait Partitioner: Send + Sync + fmt::Debug {
    /// The partition for a record of `topic` with the given serialized key
    /// and value (`None` is a null key or value; an empty slice is not
    /// null). The result must be in `0..topic.num_partitions()`.
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, view: &TopicView<'_>) -> i32;

    /// A record this partitioner placed was appended. Sticky partitioners
    /// count the bytes here to know when to move on. Does nothing by default.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{Appended, Partitioner, RoundRobinPartitioner};
    ///
    /// let partitioner = RoundRobinPartitioner::new();
    /// partitioner.on_append(&Appended { topic: "t", partition: 0, key: None, bytes: 10, all_batches_full: true });
    /// ```
    fn on_append(&self, appended: &Appended<'_>) {
        let _ = appended;
    }

    /// The record just placed on `prev_partition` of `topic` would open a
    /// new batch, and [`partition`](Self::partition) is about to be called
    /// again for it (Java's deprecated `Partitioner.onNewBatch`). Does
    /// nothing by default.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{Partitioner, RoundRobinPartitioner, TopicView};
    ///
    /// let partitioner = RoundRobinPartitioner::new();
    /// let view = TopicView::new(4, &[0, 1, 2, 3]).unwrap();
    /// let first = partitioner.partition("t", None, None, &view);
    /// partitioner.on_new_batch("t", first);
    /// // Asked again for the same record, it answers the same partition.
    /// assert_eq!(partitioner.partition("t", None, None, &view), first);
    /// ```
    fn on_new_batch(&self, topic: &str, prev_partition: i32) {
        let _ = (topic, prev_partition);
    }
}

/// Settings of the [`DefaultPartitioner`], named after the Java producer's.
///
/// ```
/// use kafka_client::producer::partitioner::DefaultPartitionerConfig;
///
/// let config = DefaultPartitionerConfig { batch_size: 64 * 1024, ..Default::default() };
/// assert!(config.adaptive_partitioning);
/// assert!(!config.ignore_keys);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultPartitionerConfig {
    /// `batch.size`: how many bytes go to a sticky partition before the
    /// partitioner moves on (default 16384). 0 is treated as 1, as Java
    /// does, because `batch.size=0` means "no batching".
    pub batch_size: usize,
    /// `partitioner.ignore.keys` (default false): place keyed records like
    /// unkeyed ones instead of hashing their keys.
    pub ignore_keys: bool,
    /// `partitioner.adaptive.partitioning.enable` (default true): prefer
    /// partitions with shorter queues when picking the next sticky
    /// partition.
    pub adaptive_partitioning: bool,
}

impl Default for DefaultPartitionerConfig {
    fn default() -> Self {
        DefaultPartitionerConfig { batch_size: 16 * 1024, ignore_keys: false, adaptive_partitioning: true }
    }
}

/// Where the default partitioner's randomness comes from.
enum RandomSource {
    Rng(fastrand::Rng),
    Custom(Box<dyn FnMut() -> u32 + Send>),
}

impl RandomSource {
    /// Java's `BuiltInPartitioner.randomPartition`: a non-negative `int`.
    fn next_non_negative(&mut self) -> i32 {
        let raw = match self {
            RandomSource::Rng(rng) => rng.u32(..),
            RandomSource::Custom(f) => f(),
        };
        to_positive(raw as i32)
    }
}

/// The partition unkeyed records of one topic currently stick to.
#[derive(Debug, Clone, Copy)]
struct Sticky {
    partition: i32,
    produced_bytes: u64,
}

struct StickyState {
    topics: HashMap<String, Sticky>,
    random: RandomSource,
}

/// The Java producer's default partitioning (Kafka 3.3+, KIP-794).
///
/// - A record with a key goes to `to_positive(murmur2(key)) % partitions`,
///   counting all partitions, available or not, so a key always maps to the
///   same partition. An empty key is a key; only a null key is not.
/// - Records without a key (or all records, with
///   [`ignore_keys`](DefaultPartitionerConfig::ignore_keys)) stick to one
///   partition per topic. Once `batch_size` bytes were appended to it, and
///   the last batch is full, or regardless once `2 * batch_size` bytes were,
///   the next record picks a new partition.
/// - The new partition is drawn at random among the available partitions
///   (all partitions if none is available). With
///   [`adaptive_partitioning`](DefaultPartitionerConfig::adaptive_partitioning)
///   and queue sizes in the [`TopicView`], partition `i` is drawn with weight
///   `max_queue + 1 - queue[i]`, as Java's `BuiltInPartitioner` does.
///
/// The module documentation lists where this differs from Java.
///
/// ```
/// use kafka_client::producer::partitioner::{
///     Appended, DefaultPartitioner, DefaultPartitionerConfig, Partitioner, TopicView,
/// };
///
/// let partitioner = DefaultPartitioner::new(DefaultPartitionerConfig { batch_size: 100, ..Default::default() });
/// let view = TopicView::new(3, &[0, 1, 2]).unwrap();
///
/// // A key always hashes to the same partition.
/// assert_eq!(partitioner.partition("t", Some(b"kafka"), None, &view), 0x5067cf64 % 3);
///
/// // Unkeyed records stick until 100 bytes were appended.
/// let sticky = partitioner.partition("t", None, Some(b"v"), &view);
/// partitioner.on_append(&Appended { topic: "t", partition: sticky, key: None, bytes: 60, all_batches_full: true });
/// assert_eq!(partitioner.partition("t", None, Some(b"v"), &view), sticky);
/// ```
pub struct DefaultPartitioner {
    sticky_batch_size: u64,
    ignore_keys: bool,
    adaptive: bool,
    state: Mutex<StickyState>,
}

impl fmt::Debug for DefaultPartitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultPartitioner")
            .field("sticky_batch_size", &self.sticky_batch_size)
            .field("ignore_keys", &self.ignore_keys)
            .field("adaptive", &self.adaptive)
            .finish_non_exhaustive()
    }
}

impl Default for DefaultPartitioner {
    fn default() -> Self {
        DefaultPartitioner::new(DefaultPartitionerConfig::default())
    }
}

impl DefaultPartitioner {
    /// A partitioner with `config`, drawing partitions from a randomly seeded
    /// generator.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{DefaultPartitioner, DefaultPartitionerConfig};
    ///
    /// let partitioner = DefaultPartitioner::new(DefaultPartitionerConfig::default());
    /// # let _ = partitioner;
    /// ```
    pub fn new(config: DefaultPartitionerConfig) -> Self {
        Self::with_source(config, RandomSource::Rng(fastrand::Rng::new()))
    }

    /// A partitioner whose random choices repeat for the same `seed`.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{DefaultPartitioner, DefaultPartitionerConfig, Partitioner, TopicView};
    ///
    /// let view = TopicView::new(16, &[]).unwrap();
    /// let a = DefaultPartitioner::with_seed(DefaultPartitionerConfig::default(), 7);
    /// let b = DefaultPartitioner::with_seed(DefaultPartitionerConfig::default(), 7);
    /// assert_eq!(a.partition("t", None, None, &view), b.partition("t", None, None, &view));
    /// ```
    pub fn with_seed(config: DefaultPartitionerConfig, seed: u64) -> Self {
        Self::with_source(config, RandomSource::Rng(fastrand::Rng::with_seed(seed)))
    }

    /// A partitioner that takes its random numbers from `random`, one call
    /// per new sticky partition. The sign bit of each number is cleared, as
    /// Java's `Utils.toPositive(ThreadLocalRandom.nextInt())` does, so a
    /// counter reproduces the sequences of Java's partitioner tests.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{
    ///     Appended, DefaultPartitioner, DefaultPartitionerConfig, Partitioner, TopicView,
    /// };
    ///
    /// let mut next = 0u32;
    /// let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
    /// let partitioner = DefaultPartitioner::with_random_source(config, move || {
    ///     next += 1;
    ///     next - 1
    /// });
    /// let view = TopicView::new(3, &[0, 1, 2]).unwrap();
    /// let mut seen = Vec::new();
    /// for _ in 0..4 {
    ///     let p = partitioner.partition("t", None, None, &view);
    ///     partitioner.on_append(&Appended { topic: "t", partition: p, key: None, bytes: 1, all_batches_full: true });
    ///     seen.push(p);
    /// }
    /// assert_eq!(seen, [0, 1, 2, 0]);
    /// ```
    pub fn with_random_source(config: DefaultPartitionerConfig, random: impl FnMut() -> u32 + Send + 'static) -> Self {
        Self::with_source(config, RandomSource::Custom(Box::new(random)))
    }

    fn with_source(config: DefaultPartitionerConfig, random: RandomSource) -> Self {
        DefaultPartitioner {
            sticky_batch_size: config.batch_size.max(1) as u64,
            ignore_keys: config.ignore_keys,
            adaptive: config.adaptive_partitioning,
            state: Mutex::new(StickyState { topics: HashMap::new(), random }),
        }
    }

    /// The partition unkeyed records of `topic` currently stick to, if one
    /// has been chosen and not yet used up.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{DefaultPartitioner, Partitioner, TopicView};
    ///
    /// let partitioner = DefaultPartitioner::default();
    /// assert_eq!(partitioner.sticky_partition("t"), None);
    /// let p = partitioner.partition("t", None, None, &TopicView::new(5, &[]).unwrap());
    /// assert_eq!(partitioner.sticky_partition("t"), Some(p));
    /// ```
    pub fn sticky_partition(&self, topic: &str) -> Option<i32> {
        self.lock().topics.get(topic).map(|s| s.partition)
    }

    /// The key to hash, if the record is placed by its key rather than by
    /// the sticky logic.
    fn hashed_key<'k>(&self, key: Option<&'k [u8]>) -> Option<&'k [u8]> {
        key.filter(|_| !self.ignore_keys)
    }

    fn lock(&self) -> MutexGuard<'_, StickyState> {
        // Nothing panics while the lock is held, and the state is valid
        // after every statement, so a poisoned lock still guards good data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Java's `BuiltInPartitioner.nextPartition`.
    fn next_partition(&self, view: &TopicView<'_>, random: &mut RandomSource) -> i32 {
        // Java draws before looking at the statistics; keeping that order
        // keeps a given random sequence mapping to the same partitions.
        let random = random.next_non_negative();
        if self.adaptive
            && let Some(table) = LoadTable::build(view)
        {
            return table.pick(random);
        }
        let available = view.available();
        match available.len() {
            0 => random % view.num_partitions(),
            // `random` is non-negative, so the remainder indexes the slice.
            len => available.get(random as usize % len).copied().unwrap_or(0),
        }
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(&self, topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, view: &TopicView<'_>) -> i32 {
        if let Some(key) = self.hashed_key(key) {
            // The hash spans all partitions, available or not, so that a key
            // keeps its partition while a leader is away.
            return to_positive(murmur2(key)) % view.num_partitions();
        }
        let mut state = self.lock();
        // Partitions are never removed from a topic, but a topic deleted and
        // recreated with fewer partitions would leave the sticky partition
        // out of range; Java fails such records, here a new one is picked.
        if let Some(sticky) = state.topics.get(topic)
            && sticky.partition < view.num_partitions()
        {
            return sticky.partition;
        }
        let StickyState { topics, random } = &mut *state;
        let partition = self.next_partition(view, random);
        topics.insert(topic.to_owned(), Sticky { partition, produced_bytes: 0 });
        partition
    }

    /// Java's `BuiltInPartitioner.updatePartitionInfo`.
    fn on_append(&self, appended: &Appended<'_>) {
        // Java counts only the records its sticky logic placed; a hashed
        // record landing on the sticky partition does not bring the switch
        // closer.
        if self.hashed_key(appended.key).is_some() {
            return;
        }
        let mut state = self.lock();
        let Some(sticky) = state.topics.get_mut(appended.topic) else {
            return;
        };
        if sticky.partition != appended.partition {
            return;
        }
        sticky.produced_bytes = sticky.produced_bytes.saturating_add(appended.bytes as u64);
        let produced = sticky.produced_bytes;
        // Switching while the last batch still has room would leave a
        // fractional batch behind (with a high linger.ms, e.g. 12 KB + 4 KB
        // batches instead of 16 KB ones), so the switch waits for a full
        // batch, but never beyond twice the batch size.
        let enough = produced >= self.sticky_batch_size;
        let too_much = produced >= self.sticky_batch_size.saturating_mul(2);
        if (enough && appended.all_batches_full) || too_much {
            state.topics.remove(appended.topic);
        }
    }
}

/// Java's `BuiltInPartitioner.PartitionLoadStats`: a cumulative frequency
/// table over the available partitions, where a partition's weight falls as
/// its queue grows.
struct LoadTable {
    cumulative: Vec<u64>,
    partitions: Vec<i32>,
}

impl LoadTable {
    /// Java's `updatePartitionLoadStats` on the queue sizes that
    /// `RecordAccumulator.partitionReady` collects; `None` where Java sets
    /// the statistics to null and falls back to a uniform choice.
    fn build(view: &TopicView<'_>) -> Option<LoadTable> {
        let sizes = view.queue_sizes()?;
        let num_partitions = usize::try_from(view.num_partitions()).ok()?;
        // Java waits until every partition has a queue: a partition missing
        // from the table could never be chosen.
        if sizes.len() < num_partitions {
            return None;
        }
        // Java walks its partition map in ascending partition order, so the
        // table must be in that order for a random number to pick the same
        // partition.
        let mut partitions: Vec<i32> = view
            .available()
            .iter()
            .copied()
            .filter(|&p| usize::try_from(p).is_ok_and(|p| p < num_partitions))
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        if partitions.is_empty() || num_partitions < 2 {
            return None;
        }
        let queue = |p: i32| usize::try_from(p).ok().and_then(|p| sizes.get(p)).map_or(0, |&q| u64::from(q));
        let first = partitions.first().map_or(0, |&p| queue(p));
        let max = partitions.iter().map(|&p| queue(p)).max().unwrap_or(0);
        let all_equal = partitions.iter().all(|&p| queue(p) == first);
        // Equal queues over every partition carry no information; but when
        // some partitions are unavailable the table is still needed, to keep
        // the draw away from them.
        if all_equal && partitions.len() == num_partitions {
            return None;
        }
        let mut running = 0u64;
        let cumulative = partitions
            .iter()
            .map(|&p| {
                running += max + 1 - queue(p);
                running
            })
            .collect();
        Some(LoadTable { cumulative, partitions })
    }

    fn pick(&self, random: i32) -> i32 {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let target = u64::try_from(random).unwrap_or(0) % total;
        // The first entry strictly greater than the target: what Java's
        // `Math.abs(Arrays.binarySearch(...) + 1)` computes, the table being
        // strictly increasing.
        let index = self.cumulative.partition_point(|&c| c <= target);
        self.partitions.get(index).or(self.partitions.last()).copied().unwrap_or(0)
    }
}

/// Java's `RoundRobinPartitioner`: each topic has a counter, and record `n`
/// of a topic goes to the `n`-th available partition (all partitions if none
/// is available), wrapping around. Keys are ignored.
///
/// As in Kafka 4.0 (KAFKA-17632), [`Partitioner::on_new_batch`] rewinds the
/// counter, so that asking again for the same record does not skip a
/// partition.
///
/// ```
/// use kafka_client::producer::partitioner::{Partitioner, RoundRobinPartitioner, TopicView};
///
/// let partitioner = RoundRobinPartitioner::new();
/// let view = TopicView::new(3, &[0, 1, 2]).unwrap();
/// let order: Vec<i32> = (0..5).map(|_| partitioner.partition("t", Some(b"key"), None, &view)).collect();
/// assert_eq!(order, [0, 1, 2, 0, 1]);
/// ```
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    counters: Mutex<HashMap<String, i32>>,
}

impl RoundRobinPartitioner {
    /// A partitioner whose counters all start at 0.
    ///
    /// ```
    /// use kafka_client::producer::partitioner::{Partitioner, RoundRobinPartitioner, TopicView};
    ///
    /// let partitioner = RoundRobinPartitioner::new();
    /// assert_eq!(partitioner.partition("t", None, None, &TopicView::new(2, &[1]).unwrap()), 1);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, i32>> {
        // The map is valid after every statement; poisoning carries no
        // meaning here.
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Java's `counter.getAndIncrement()` on the topic's counter, created at 0.
    fn next_value(&self, topic: &str) -> i32 {
        let mut counters = self.lock();
        let counter = match counters.get_mut(topic) {
            Some(counter) => counter,
            None => counters.entry(topic.to_owned()).or_insert(0),
        };
        let value = *counter;
        *counter = counter.wrapping_add(1);
        value
    }
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(&self, topic: &str, _key: Option<&[u8]>, _value: Option<&[u8]>, view: &TopicView<'_>) -> i32 {
        let next = to_positive(self.next_value(topic));
        let available = view.available();
        match available.len() {
            0 => next % view.num_partitions(),
            len => available.get(next as usize % len).copied().unwrap_or(0),
        }
    }

    fn on_new_batch(&self, topic: &str, _prev_partition: i32) {
        // The producer is about to ask again for the record it just placed;
        // rewinding makes that second answer the same partition instead of
        // the next one, which used to confine the partitioner to every other
        // partition (KAFKA-9965, KAFKA-17632).
        let mut counters = self.lock();
        let counter = counters.entry(topic.to_owned()).or_insert(0);
        *counter = counter.wrapping_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random source yielding 0, 1, 2, ... like the `mockRandom` of Java's
    /// `BuiltInPartitionerTest`.
    fn sequential() -> impl FnMut() -> u32 + Send + 'static {
        let mut next = 0u32;
        move || {
            let value = next;
            next = next.wrapping_add(1);
            value
        }
    }

    fn view(num_partitions: i32, available: &[i32]) -> TopicView<'_> {
        TopicView::new(num_partitions, available).unwrap()
    }

    fn append(p: &dyn Partitioner, topic: &str, partition: i32, bytes: usize) {
        p.on_append(&Appended { topic, partition, key: None, bytes, all_batches_full: true });
    }

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        // Kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "key {:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn murmur2_matches_librdkafka_java_vectors() {
        // librdkafka src/rdmurmur2.c, unittest_murmur2: `java_murmur2_results`,
        // produced by the Java client. The suffixes exercise every tail length.
        let cases: [(&[u8], u32); 11] = [
            (b"kafka", 0xd067cf64),
            (b"giberish123456789", 0x8f552b0c),
            (b"1234", 0x9fc97b14),
            (b"234", 0xe7c009ca),
            (b"34", 0x873930da),
            (b"4", 0x5a4b5ca1),
            (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c),
            (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377),
            (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e),
            (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f),
            (b"", 0x106e08d9),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected as i32, "key {:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(1), 1);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(i32::MAX), i32::MAX);
        assert_eq!(to_positive(-973932308), 1173551340);
    }

    /// Expected partitions for keys whose Java murmur2 is published (Kafka's
    /// `UtilsTest`, librdkafka's `java_murmur2_results` and its 0048
    /// partitioner test, whose hashes came from Java's `Murmur2Cli`), computed
    /// as `(hash & 0x7fffffff) % n` from those published hashes.
    const KEYED_TABLE: [(&[u8], [i32; 6]); 17] = [
        // partitions:                                       1  2  3  7  17  100
        (b"21", [0, 0, 0, 3, 13, 40]),
        (b"foobar", [0, 0, 0, 0, 9, 66]),
        (b"a-little-bit-long-string", [0, 0, 2, 1, 11, 12]),
        (b"a-little-bit-longer-string", [0, 1, 2, 0, 12, 19]),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", [0, 1, 2, 3, 0, 77]),
        (b"abc", [0, 1, 0, 4, 16, 7]),
        (b"kafka", [0, 0, 1, 3, 14, 80]),
        (b"giberish123456789", [0, 0, 2, 5, 2, 20]),
        (b"1234", [0, 0, 0, 0, 1, 40]),
        (b"234", [0, 0, 2, 4, 13, 66]),
        (b"34", [0, 0, 0, 6, 7, 70]),
        (b"4", [0, 1, 1, 6, 10, 53]),
        (b"PreAmbleWillBeRemoved,ThePrePartThatIs", [0, 0, 2, 1, 4, 48]),
        (b"", [0, 1, 0, 2, 11, 81]),
        (b"23456", [0, 1, 2, 5, 9, 91]),
        (b"this is another string with more length to it perhaps", [0, 0, 2, 1, 11, 34]),
        (b"hejsan", [0, 1, 1, 6, 5, 33]),
    ];
    const COUNTS: [i32; 6] = [1, 2, 3, 7, 17, 100];

    #[test]
    fn keyed_records_land_where_java_puts_them() {
        let partitioner = DefaultPartitioner::default();
        for (key, expected) in KEYED_TABLE {
            for (n, want) in COUNTS.into_iter().zip(expected) {
                assert_eq!(
                    partition_for_key(key, n),
                    Some(want),
                    "key {:?}, {n} partitions",
                    String::from_utf8_lossy(key)
                );
                let got = partitioner.partition("t", Some(key), Some(b"value"), &view(n, &[]));
                assert_eq!(got, want, "key {:?}, {n} partitions", String::from_utf8_lossy(key));
            }
        }
    }

    #[test]
    fn librdkafka_murmur2_partitioner_expectations() {
        // librdkafka tests/0048-partitioner.c, "murmur2" with 17 and 7 partitions.
        let keys: [&[u8]; 4] = [b"", b"23456", b"this is another string with more length to it perhaps", b"hejsan"];
        let hashes: [u32; 4] = [0x106e08d9, 0x058d780f, 0x4f7703da, 0x5ec19395];
        for n in [17u32, 7] {
            for (key, hash) in keys.iter().zip(hashes) {
                assert_eq!(partition_for_key(key, n as i32), Some((hash % n) as i32));
            }
        }
    }

    #[test]
    fn partition_for_key_rejects_empty_topics() {
        assert_eq!(partition_for_key(b"k", 0), None);
        assert_eq!(partition_for_key(b"k", -3), None);
        assert!(TopicView::new(0, &[]).is_none());
        assert!(TopicView::new(-1, &[0]).is_none());
    }

    #[test]
    fn keys_hash_over_all_partitions_even_unavailable_ones() {
        let partitioner = DefaultPartitioner::with_random_source(DefaultPartitionerConfig::default(), sequential());
        // "21" hashes to partition 3 of 7; only partition 0 has a leader.
        assert_eq!(partitioner.partition("t", Some(b"21"), None, &view(7, &[0])), 3);
        // Keyed records neither pick nor disturb the sticky partition.
        assert_eq!(partitioner.sticky_partition("t"), None);
    }

    #[test]
    fn empty_key_is_hashed_and_null_key_is_sticky() {
        let partitioner = DefaultPartitioner::with_random_source(DefaultPartitionerConfig::default(), || 5);
        assert_eq!(partitioner.partition("t", Some(b""), None, &view(100, &[])), 81);
        assert_eq!(partitioner.partition("t", None, None, &view(100, &[])), 5);
    }

    #[test]
    fn ignore_keys_makes_keyed_records_sticky() {
        let config = DefaultPartitionerConfig { ignore_keys: true, batch_size: 10, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(7, &[0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(partitioner.partition("t", Some(b"21"), None, &v), 0);
        assert_eq!(partitioner.partition("t", Some(b"foobar"), None, &v), 0);
        // Their bytes count towards the switch.
        partitioner.on_append(&Appended {
            topic: "t",
            partition: 0,
            key: Some(b"21"),
            bytes: 10,
            all_batches_full: true,
        });
        assert_eq!(partitioner.partition("t", Some(b"21"), None, &v), 1);
    }

    #[test]
    fn sticky_partition_switches_after_batch_size_bytes() {
        // Java BuiltInPartitionerTest.testStickyPartitioning: a sticky batch
        // size of 3, records of 1 byte, sequential random numbers.
        let config = DefaultPartitionerConfig { batch_size: 3, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(3, &[0, 1, 2]);
        let first = partitioner.partition("topicA", None, None, &v);
        assert_eq!(first, 0);
        for _ in 0..3 {
            assert_eq!(partitioner.partition("topicA", None, None, &v), first);
            append(&partitioner, "topicA", first, 1);
        }
        assert_eq!(partitioner.partition("topicA", None, None, &v), 1);

        // Switching works, and keeps choosing it, with a single partition.
        let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
        let single = DefaultPartitioner::with_random_source(config, sequential());
        for _ in 0..10 {
            let p = single.partition("topicB", None, None, &view(1, &[0]));
            assert_eq!(p, 0);
            append(&single, "topicB", p, 1);
        }
    }

    #[test]
    fn switch_waits_for_a_full_batch_up_to_twice_the_batch_size() {
        let config = DefaultPartitionerConfig { batch_size: 100, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(4, &[0, 1, 2, 3]);
        let p = partitioner.partition("t", None, None, &v);
        let not_full = |bytes| Appended { topic: "t", partition: p, key: None, bytes, all_batches_full: false };
        partitioner.on_append(&not_full(150));
        assert_eq!(partitioner.sticky_partition("t"), Some(p), "the last batch still has room");
        partitioner.on_append(&not_full(49));
        assert_eq!(partitioner.sticky_partition("t"), Some(p), "199 bytes, below twice the batch size");
        partitioner.on_append(&not_full(1));
        assert_eq!(partitioner.sticky_partition("t"), None, "200 bytes switch regardless");
        assert_eq!(partitioner.partition("t", None, None, &v), 1);
    }

    #[test]
    fn batch_size_zero_means_one() {
        let config = DefaultPartitionerConfig { batch_size: 0, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(2, &[0, 1]);
        assert_eq!(partitioner.partition("t", None, None, &v), 0);
        append(&partitioner, "t", 0, 0);
        assert_eq!(partitioner.sticky_partition("t"), Some(0), "no bytes yet");
        append(&partitioner, "t", 0, 1);
        assert_eq!(partitioner.partition("t", None, None, &v), 1);
    }

    #[test]
    fn appends_elsewhere_do_not_count() {
        let config = DefaultPartitionerConfig { batch_size: 10, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(3, &[0, 1, 2]);
        assert_eq!(partitioner.partition("t", None, None, &v), 0);
        // A keyed record on the sticky partition is not the sticky logic's.
        partitioner.on_append(&Appended {
            topic: "t",
            partition: 0,
            key: Some(b"k"),
            bytes: 100,
            all_batches_full: true,
        });
        // An append reported for another partition (a record placed before
        // the last switch) is ignored.
        append(&partitioner, "t", 2, 100);
        // So is one for a topic without a sticky partition.
        append(&partitioner, "u", 0, 100);
        assert_eq!(partitioner.sticky_partition("t"), Some(0));
        assert_eq!(partitioner.sticky_partition("u"), None);
    }

    #[test]
    fn sticky_partition_out_of_range_is_replaced() {
        let partitioner = DefaultPartitioner::with_random_source(DefaultPartitionerConfig::default(), || 7);
        assert_eq!(partitioner.partition("t", None, None, &view(10, &[])), 7);
        // The topic was recreated with 4 partitions.
        assert_eq!(partitioner.partition("t", None, None, &view(4, &[])), 3);
        assert_eq!(partitioner.sticky_partition("t"), Some(3));
    }

    #[test]
    fn topics_stick_independently() {
        let config = DefaultPartitionerConfig { batch_size: 5, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(10, &[]);
        assert_eq!(partitioner.partition("a", None, None, &v), 0);
        assert_eq!(partitioner.partition("b", None, None, &v), 1);
        append(&partitioner, "a", 0, 5);
        assert_eq!(partitioner.partition("b", None, None, &v), 1);
        assert_eq!(partitioner.partition("a", None, None, &v), 2);
    }

    #[test]
    fn adaptive_partitioning_prefers_short_queues() {
        // Java BuiltInPartitionerTest.adaptivePartitionsTest: over two full
        // cycles of the random range, partition i is chosen exactly
        // 2 * (max + 1 - queue[i]) times.
        let queues = [5, 0, 3, 0, 1];
        let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(5, &[0, 1, 2, 3, 4]).with_queue_sizes(&queues);
        let range_end = 1 + 6 + 3 + 6 + 5;
        let mut frequencies = [0; 5];
        for _ in 0..range_end * 2 {
            let p = partitioner.partition("topicA", None, None, &v);
            frequencies[p as usize] += 1;
            append(&partitioner, "topicA", p, 1);
        }
        assert_eq!(frequencies, [2, 12, 6, 12, 10]);
    }

    #[test]
    fn adaptive_table_maps_random_numbers_like_java() {
        // BuiltInPartitioner's own example: queues 0 3 1 give the table 4 5 8,
        // so 0..=3 pick the first partition, 4 the second, 5..=7 the third.
        let queues = [0, 3, 1];
        let v = view(3, &[0, 1, 2]).with_queue_sizes(&queues);
        let table = LoadTable::build(&v).unwrap();
        assert_eq!(table.cumulative, [4, 5, 8]);
        let picks: Vec<i32> = (0..9).map(|r| table.pick(r)).collect();
        assert_eq!(picks, [0, 0, 0, 0, 1, 2, 2, 2, 0]);
    }

    #[test]
    fn adaptive_skips_unavailable_partitions_even_with_equal_queues() {
        // Partition 1 has no leader. Java leaves it out of the table, and with
        // fewer entries than partitions it keeps the table although all
        // queues are equal.
        let queues = [2, 2, 2, 2];
        let v = view(4, &[0, 2, 3]).with_queue_sizes(&queues);
        let table = LoadTable::build(&v).unwrap();
        assert_eq!(table.cumulative, [1, 2, 3]);
        assert_eq!(table.partitions, [0, 2, 3]);

        let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let mut seen = Vec::new();
        for _ in 0..6 {
            let p = partitioner.partition("t", None, None, &v);
            seen.push(p);
            append(&partitioner, "t", p, 1);
        }
        assert_eq!(seen, [0, 2, 3, 0, 2, 3]);
    }

    #[test]
    fn adaptive_falls_back_to_uniform_where_java_does() {
        // All queues equal and all partitions available: uniform.
        assert!(LoadTable::build(&view(3, &[0, 1, 2]).with_queue_sizes(&[4, 4, 4])).is_none());
        // Not every partition has a queue yet: uniform.
        assert!(LoadTable::build(&view(3, &[0, 1, 2]).with_queue_sizes(&[4, 0])).is_none());
        // A single partition: nothing to balance.
        assert!(LoadTable::build(&view(1, &[0]).with_queue_sizes(&[9])).is_none());
        // Nothing available: uniform over all partitions.
        assert!(LoadTable::build(&view(3, &[]).with_queue_sizes(&[1, 2, 3])).is_none());
        // No queue sizes at all.
        assert!(LoadTable::build(&view(3, &[0, 1, 2])).is_none());
        // Unsorted or out-of-range availability is normalised, not trusted;
        // the maximum is taken over the available partitions only, as in Java.
        let table = LoadTable::build(&view(3, &[2, 0, 7, -1, 2]).with_queue_sizes(&[1, 5, 0])).unwrap();
        assert_eq!(table.partitions, [0, 2]);
        assert_eq!(table.cumulative, [1, 3]);
    }

    #[test]
    fn adaptive_disabled_ignores_queue_sizes() {
        let config = DefaultPartitionerConfig { batch_size: 1, adaptive_partitioning: false, ..Default::default() };
        let partitioner = DefaultPartitioner::with_random_source(config, sequential());
        let v = view(3, &[0, 1, 2]).with_queue_sizes(&[100, 100, 0]);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let p = partitioner.partition("t", None, None, &v);
            seen.push(p);
            append(&partitioner, "t", p, 1);
        }
        assert_eq!(seen, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn unavailable_partitions_are_skipped() {
        // Java BuiltInPartitionerTest.unavailablePartitionsTest.
        let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
        let a = DefaultPartitioner::with_seed(config, 42);
        let mut others = false;
        let mut first = None;
        for _ in 0..100 {
            let p = a.partition("topicA", None, None, &view(3, &[0, 2]));
            assert_ne!(p, 1);
            others |= first.is_some_and(|f| f != p);
            first.get_or_insert(p);
            append(&a, "topicA", p, 1);
        }
        assert!(others, "expected both available partitions to be used");

        let b = DefaultPartitioner::with_seed(config, 42);
        for _ in 0..100 {
            let p = b.partition("topicB", None, None, &view(2, &[1]));
            assert_eq!(p, 1);
            append(&b, "topicB", p, 1);
        }

        // With nothing available, a partition is still chosen among all.
        let c = DefaultPartitioner::with_seed(config, 42);
        for _ in 0..2 {
            let p = c.partition("topicC", None, None, &view(1, &[]));
            assert_eq!(p, 0);
            append(&c, "topicC", p, 1);
        }
    }

    #[test]
    fn uniform_choice_uses_the_random_number_like_java() {
        let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
        // Java clears the sign bit of the random int before the remainder.
        let partitioner = DefaultPartitioner::with_random_source(config, || 0xffff_ffff);
        assert_eq!(partitioner.partition("t", None, None, &view(10, &[])), (i32::MAX % 10));
        let partitioner = DefaultPartitioner::with_random_source(config, || 0xffff_ffff);
        assert_eq!(partitioner.partition("t", None, None, &view(10, &[1, 4, 6])), [1, 4, 6][(i32::MAX % 3) as usize]);
    }

    #[test]
    fn seeded_partitioners_repeat() {
        let config = DefaultPartitionerConfig { batch_size: 1, ..Default::default() };
        let run = |seed| {
            let p = DefaultPartitioner::with_seed(config, seed);
            (0..50)
                .map(|_| {
                    let chosen = p.partition("t", None, None, &view(12, &[]));
                    append(&p, "t", chosen, 1);
                    chosen
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert!(run(3).iter().all(|&p| (0..12).contains(&p)));
    }

    #[test]
    fn round_robin_cycles_through_available_partitions() {
        let partitioner = RoundRobinPartitioner::new();
        let all = view(4, &[0, 1, 2, 3]);
        let order: Vec<i32> = (0..9).map(|_| partitioner.partition("t", Some(b"same key"), None, &all)).collect();
        assert_eq!(order, [0, 1, 2, 3, 0, 1, 2, 3, 0]);

        // Only available partitions are used, in turn.
        let partitioner = RoundRobinPartitioner::new();
        let some = view(3, &[0, 2]);
        let order: Vec<i32> = (0..6).map(|_| partitioner.partition("t", None, None, &some)).collect();
        assert_eq!(order, [0, 2, 0, 2, 0, 2]);

        // Nothing available: all partitions.
        let partitioner = RoundRobinPartitioner::new();
        let none = view(3, &[]);
        let order: Vec<i32> = (0..4).map(|_| partitioner.partition("t", None, None, &none)).collect();
        assert_eq!(order, [0, 1, 2, 0]);
    }

    #[test]
    fn round_robin_counts_per_topic() {
        // Interleaved topics: each has its own counter.
        let partitioner = RoundRobinPartitioner::new();
        let a = view(3, &[0, 1, 2]);
        let b = view(2, &[0, 1]);
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(partitioner.partition("a", None, None, &a));
            seen.push(partitioner.partition("b", None, None, &b));
        }
        assert_eq!(seen, [0, 0, 1, 1, 2, 0]);
    }

    #[test]
    fn round_robin_new_batch_does_not_skip_partitions() {
        // KAFKA-17632: when every record opens a new batch, the producer asks
        // twice per record. Without the rewind, 4 partitions would get
        // records only on 1 and 3.
        let partitioner = RoundRobinPartitioner::new();
        let v = view(4, &[0, 1, 2, 3]);
        let mut placed = Vec::new();
        for _ in 0..8 {
            let first = partitioner.partition("t", None, None, &v);
            partitioner.on_new_batch("t", first);
            let second = partitioner.partition("t", None, None, &v);
            assert_eq!(first, second);
            placed.push(second);
        }
        assert_eq!(placed, [0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn round_robin_counter_wraps_like_java() {
        let partitioner = RoundRobinPartitioner::new();
        partitioner.lock().insert("t".to_owned(), i32::MAX);
        let v = view(10, &[]);
        // i32::MAX, then i32::MIN, whose sign bit Java clears to 0.
        assert_eq!(partitioner.partition("t", None, None, &v), i32::MAX % 10);
        assert_eq!(partitioner.partition("t", None, None, &v), 0);
        assert_eq!(partitioner.partition("t", None, None, &v), 1);
        // A rewind before any record leaves the counter at -1, as Java's would.
        partitioner.on_new_batch("fresh", 0);
        assert_eq!(partitioner.partition("fresh", None, None, &v), i32::MAX % 10);
    }

    #[test]
    fn partitioners_are_object_safe_and_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DefaultPartitioner>();
        assert_send_sync::<RoundRobinPartitioner>();
        assert_send_sync::<Box<dyn Partitioner>>();
        let partitioners: Vec<Box<dyn Partitioner>> =
            vec![Box::new(DefaultPartitioner::default()), Box::new(RoundRobinPartitioner::new())];
        for p in &partitioners {
            let chosen = p.partition("t", None, None, &view(3, &[0, 1, 2]));
            assert!((0..3).contains(&chosen));
            p.on_new_batch("t", chosen);
            append(p.as_ref(), "t", chosen, 1);
        }
        assert!(format!("{:?}", partitioners[0]).contains("DefaultPartitioner"));
    }

    #[test]
    fn concurrent_use_keeps_partitions_in_range() {
        let config = DefaultPartitionerConfig { batch_size: 3, ..Default::default() };
        let partitioner = std::sync::Arc::new(DefaultPartitioner::new(config));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let partitioner = partitioner.clone();
                std::thread::spawn(move || {
                    let queues = [3, 1, 0, 2, 5];
                    let v = TopicView::new(5, &[0, 1, 3, 4]).unwrap().with_queue_sizes(&queues);
                    for _ in 0..1000 {
                        let p = partitioner.partition("t", None, None, &v);
                        assert!([0, 1, 3, 4].contains(&p));
                        partitioner.on_append(&Appended {
                            topic: "t",
                            partition: p,
                            key: None,
                            bytes: 1,
                            all_batches_full: true,
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
