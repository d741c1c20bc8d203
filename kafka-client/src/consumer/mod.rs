//! The consumer: reads records from partitions it is assigned by its group
//! (`subscribe`) or chooses itself (`assign`), tracks its position in each,
//! and commits the positions it has processed.
//!
//! ```text
//!  application ── poll()/stream/commit/seek … ──► Consumer (handle)
//!     │  the application's view: assignment, paused set, the stream's
//!     │  buffer, the listener; runs rebalance listeners inside poll
//!     │ Command (mpsc, in order)                  ▲ replies (oneshot)
//!     ▼                                           │
//!   engine task (engine.rs): owns the positions and fetch buffers (State),
//!   the group membership, the coordinator, commits, metadata refreshes;
//!   starts every request as a future in its JoinSet and applies answers
//!     │            │                 │                     │
//!     ▼            ▼                 ▼                     ▼
//!   Fetch per    JoinGroup/Sync/   OffsetCommit,        Metadata
//!   leader       Heartbeat/Leave   OffsetFetch,         (pattern matching,
//!   (fetcher.rs) (group.rs)        ListOffsets          leader's rejoin checks;
//!                                  (offsets.rs)         subscription.rs)
//! ```
//!
//! Records are handed out only by `poll` (and the stream built on it), and a
//! rebalance's revocation and assignment also run inside `poll`: the engine
//! answers a poll with either records or the rebalance step due, and the
//! handle runs the listener and reports the step done. So no record of a
//! revoked partition is handed out after its revocation and no listener
//! runs concurrently with the application's processing. Dropping the
//! consumer closes the command channel, which stops the engine, aborts its
//! requests and closes its connections.
//!
//! Semantics follow the Java client (classic group protocol, eager
//! rebalancing): a committed offset is the next offset to read; a partition
//! newly assigned starts from its committed offset, else from
//! `auto.offset.reset`; auto-commit commits processed positions every
//! `auto.commit.interval.ms`, before a revocation and on close.
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_client::consumer::Consumer;
//!
//! # async fn run() -> kafka_client::Result<()> {
//! let consumer = Consumer::builder().bootstrap_servers("127.0.0.1:9092").group_id("billing").build()?;
//! consumer.subscribe(["invoices"])?;
//! loop {
//!     let records = consumer.poll(Duration::from_secs(1)).await?;
//!     for r in &records {
//!         println!("{}-{}@{}: {:?}", r.topic, r.partition, r.offset, r.value);
//!     }
//! }
//! # }
//! ```

pub mod assignor;
pub mod config;
mod engine;
pub(crate) mod fetched;
mod fetcher;
mod group;
mod listener;
mod membership;
mod offsets;
mod poll;
pub(crate) mod protocol;
pub mod record;
mod state;
mod stream;
mod subscription;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub use config::{AssignorChoice, ConsumerBuilder, ConsumerConfig, IsolationLevel, OffsetReset};
pub use listener::{NoopListener, RebalanceListener};
pub use offsets::{CommitHandle, OffsetAndMetadata, OffsetAndTimestamp};

/// A consumer's place in its group, as a transactional producer's offset
/// commit carries it ([`Consumer::group_metadata`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation the member joined in; -1 before it has.
    pub generation_id: i32,
    /// The member id the coordinator gave; empty before it has.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata naming only the group (no generation or member checks), as
    /// Java's `new ConsumerGroupMetadata(groupId)`.
    ///
    /// ```
    /// let g = kafka_client::consumer::ConsumerGroupMetadata::new("billing");
    /// assert_eq!((g.group_id.as_str(), g.generation_id, g.member_id.as_str()), ("billing", -1, ""));
    /// ```
    pub fn new(group_id: impl Into<String>) -> Self {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
pub use record::{ConsumerRecord, ConsumerRecords};
pub use stream::RecordStream;

use self::assignor::Assignor;
use self::engine::{Command, Engine, Published};
use self::membership::MembershipConfig;
use self::state::SubscriptionKind;
use crate::TopicPartition;
use crate::config::millis;
use crate::error::{Error, Result};
use crate::net::{ConnectionConfig, NetConfig, NetworkClient};

static CLIENT_IDS: AtomicU64 = AtomicU64::new(1);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the leader based its last assignment on: the topics the group
/// subscribes to and their partition counts. When metadata shows a
/// different picture, the leader rejoins so the group is reassigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LeaderSnapshot {
    pub topics: BTreeSet<String>,
    pub partitions: BTreeMap<String, i32>,
}

/// A record handed out by the stream, counted as processed when the next
/// one is asked for.
#[derive(Debug, Clone)]
pub(crate) struct Yielded {
    pub tp: TopicPartition,
    pub next_offset: i64,
    pub epoch: Option<i32>,
}

/// What every request the engine starts needs, and nothing that changes:
/// the settings, the clock and the connection pools. Shared by the handle
/// and the engine's request futures.
pub(crate) struct Io {
    pub cfg: ConsumerConfig,
    /// What every timer reads.
    pub clock: crate::Clock,
    /// Connections for metadata, fetches and offset lookups.
    pub net: Arc<NetworkClient>,
    /// The coordinator's connection, apart so heartbeats never queue behind
    /// a long-polling Fetch.
    pub group_net: Arc<NetworkClient>,
    pub assignors: Vec<Arc<dyn Assignor>>,
}

impl Io {
    pub(crate) fn group_id(&self) -> Result<&str> {
        self.cfg.group_id.as_deref().ok_or_else(|| {
            Error::Config(crate::ConfigError::new("group.id", "this operation needs a group; set group.id"))
        })
    }

    fn membership_config(&self, group_id: &str) -> MembershipConfig {
        MembershipConfig {
            group_id: group_id.to_string(),
            instance_id: self.cfg.group_instance_id.clone(),
            session_timeout_ms: millis(self.cfg.session_timeout),
            rebalance_timeout_ms: millis(self.cfg.max_poll_interval),
            heartbeat_interval_ms: millis(self.cfg.heartbeat_interval),
            retry_backoff_ms: millis(self.cfg.retry_backoff),
        }
    }
}

/// How the application uses the consumer, as the handle knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Usage {
    #[default]
    None,
    /// `subscribe`/`subscribe_pattern`: partitions come from the group.
    Group,
    /// `assign`.
    Manual,
}

/// The application's side of the consumer: what it asked for and what it
/// holds. Only the handle's methods touch it, so it changes exactly when
/// the application's calls (and the rebalance steps run inside `poll`)
/// change it; the engine keeps its own copy of the assignment, fed by the
/// same calls in the same order.
struct View {
    usage: Usage,
    assignment: BTreeSet<TopicPartition>,
    paused: BTreeSet<TopicPartition>,
    listener: Arc<dyn RebalanceListener>,
    /// Records taken for the stream, or answered to a `poll` that was
    /// cancelled, and not yet handed out.
    stream_buffer: VecDeque<ConsumerRecord>,
    last_yielded: Option<Yielded>,
    /// An error answered to a `poll` that was cancelled, for the next one.
    pending_error: Option<Error>,
}

/// A Kafka consumer; see the module docs.
///
/// Methods take `&self`; `poll` calls are serialized, and the rebalance
/// listener receives the consumer so it can commit or seek.
pub struct Consumer {
    io: Arc<Io>,
    commands: mpsc::UnboundedSender<Command>,
    view: Mutex<View>,
    /// What the engine publishes for the synchronous getters.
    published: Arc<watch::Sender<Published>>,
    closed: AtomicBool,
    /// The last `poll`'s records count as processed; told to the engine
    /// before the next command rather than by a command of its own, which
    /// would wake it once more per poll.
    consumed_pending: AtomicBool,
    /// Serializes `poll` (and everything that hands out records).
    poll_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("client_id", &self.io.cfg.client_id)
            .field("group_id", &self.io.cfg.group_id)
            .finish()
    }
}

impl ConsumerBuilder {
    /// Validates the settings and starts the consumer's engine (nothing
    /// connects until the consumer subscribes, is assigned partitions or is
    /// asked something). Must be called inside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use kafka_client::consumer::Consumer;
    ///
    /// let err = Consumer::builder().bootstrap_servers("127.0.0.1:9092").set("max.poll.records", "0").build().unwrap_err();
    /// assert!(err.to_string().contains("max.poll.records"));
    /// # }
    /// ```
    pub fn build(self) -> Result<Consumer> {
        let cfg = self.config()?;
        Consumer::start(cfg, self.env)
    }
}

impl Consumer {
    /// A builder with Java's defaults.
    ///
    /// ```
    /// let builder = kafka_client::consumer::Consumer::builder().bootstrap_servers("127.0.0.1:9092").group_id("g");
    /// assert!(builder.config().is_ok());
    /// ```
    pub fn builder() -> ConsumerBuilder {
        ConsumerBuilder::new()
    }

    /// A builder from Java-style properties (`bootstrap.servers`,
    /// `group.id`, `auto.offset.reset`, …).
    ///
    /// ```
    /// let builder = kafka_client::consumer::Consumer::from_properties([
    ///     ("bootstrap.servers", "127.0.0.1:9092"),
    ///     ("group.id", "billing"),
    ///     ("auto.offset.reset", "earliest"),
    /// ]);
    /// assert_eq!(builder.config().unwrap().group_id(), Some("billing"));
    /// ```
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> ConsumerBuilder {
        ConsumerBuilder::from_properties(props)
    }

    fn start(mut cfg: ConsumerConfig, env: crate::config::Environment) -> Result<Consumer> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(crate::ConfigError::new(
                "runtime",
                "a consumer must be built inside a tokio runtime",
            )));
        }
        if cfg.client_id.is_empty() {
            // Java's naming: consumer-<group>-<instance id or a sequence number>.
            let group = cfg.group_id.as_deref().unwrap_or("null");
            cfg.client_id = match &cfg.group_instance_id {
                Some(instance) => format!("consumer-{group}-{instance}"),
                None => format!("consumer-{group}-{}", CLIENT_IDS.fetch_add(1, Ordering::Relaxed)),
            };
        }
        let net_config = |max_in_flight| NetConfig {
            bootstrap_servers: cfg.bootstrap_servers.clone(),
            connection: ConnectionConfig {
                client_id: Some(cfg.client_id.clone()),
                request_timeout: cfg.request_timeout,
                connect_timeout: cfg.connect_timeout,
                max_in_flight,
                ..ConnectionConfig::default()
            },
            reconnect_backoff: cfg.reconnect_backoff,
            reconnect_backoff_max: cfg.reconnect_backoff_max,
            metadata_max_age: cfg.metadata_max_age,
            connector: env.connector.clone(),
        };
        let net = NetworkClient::new(net_config(5));
        let group_net = NetworkClient::new(net_config(5));
        let assignors = cfg.assignors.iter().map(AssignorChoice::assignor).collect();
        let io = Arc::new(Io { cfg, clock: env.clock(), net, group_net, assignors });
        let (commands, rx) = mpsc::unbounded_channel();
        let published = Arc::new(watch::Sender::new(Published::default()));
        tokio::spawn(Engine::new(io.clone(), rx, published.clone()).run());
        Ok(Consumer {
            io,
            commands,
            view: Mutex::new(View {
                usage: Usage::None,
                assignment: BTreeSet::new(),
                paused: BTreeSet::new(),
                listener: Arc::new(NoopListener),
                stream_buffer: VecDeque::new(),
                last_yielded: None,
                pending_error: None,
            }),
            published,
            closed: AtomicBool::new(false),
            consumed_pending: AtomicBool::new(false),
            poll_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The settings in effect.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let consumer = kafka_client::consumer::Consumer::builder().bootstrap_servers("127.0.0.1:9092").build().unwrap();
    /// assert!(consumer.config().client_id().starts_with("consumer-null-"));
    /// # }
    /// ```
    pub fn config(&self) -> &ConsumerConfig {
        &self.io.cfg
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Hands a command to the engine; false once the engine is gone.
    fn send(&self, c: Command) -> bool {
        if self.consumed_pending.swap(false, Ordering::AcqRel) {
            let _ = self.commands.send(Command::MarkAllConsumed);
        }
        self.commands.send(c).is_ok()
    }

    /// Sends a command that answers, and waits for the answer (or the
    /// engine's end).
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        if !self.send(make(tx)) {
            return Err(Error::Closed);
        }
        rx.await.map_err(|_| Error::Closed)
    }

    /// Subscribes to `topics` through the group (`group.id` is required),
    /// replacing any earlier subscription; the assignment follows on a later
    /// `poll`. Topics that do not exist yet are picked up when they appear.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.subscribe(["orders", "refunds"])?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe<I, S>(&self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subscribe_with(topics, NoopListener)
    }

    /// [`Self::subscribe`] with a listener called, inside `poll`, when
    /// partitions are revoked, assigned or lost.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// use kafka_client::consumer::NoopListener;
    /// consumer.subscribe_with(["orders"], NoopListener)?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_with<I, S>(&self, topics: I, listener: impl RebalanceListener + 'static) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if let Some(bad) = topics.iter().find(|t| t.trim().is_empty()) {
            return Err(Error::InvalidArgument(format!("topic name {bad:?} is empty")));
        }
        if topics.is_empty() {
            // Java: subscribing to nothing is unsubscribing.
            return Err(Error::InvalidArgument("subscribe needs at least one topic; call unsubscribe instead".into()));
        }
        self.set_group_subscription(SubscriptionKind::Topics(topics.clone()), Some(topics), Arc::new(listener))
    }

    /// Subscribes to every topic whose whole name matches `pattern` (a
    /// regular expression), now or later. Matching is checked on each
    /// metadata refresh (`metadata.max.age.ms`).
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.subscribe_pattern("orders-.*")?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        self.subscribe_pattern_with(pattern, NoopListener)
    }

    /// [`Self::subscribe_pattern`] with a rebalance listener.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.subscribe_pattern_with("orders-.*", kafka_client::consumer::NoopListener)?;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_pattern_with(&self, pattern: &str, listener: impl RebalanceListener + 'static) -> Result<()> {
        // Java's Pattern.matcher(topic).matches(): the whole name.
        let anchored = format!("^(?:{pattern})$");
        let re = regex::Regex::new(&anchored)
            .map_err(|e| Error::InvalidArgument(format!("invalid subscription pattern {pattern:?}: {e}")))?;
        self.set_group_subscription(SubscriptionKind::Pattern(re), None, Arc::new(listener))
    }

    fn set_group_subscription(
        &self,
        kind: SubscriptionKind,
        topics: Option<BTreeSet<String>>,
        listener: Arc<dyn RebalanceListener>,
    ) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.io.group_id()?;
        let mut view = lock(&self.view);
        if view.usage == Usage::Manual {
            return Err(Error::IllegalState(
                "subscribe is not allowed while partitions are assigned with assign(); call unsubscribe first".into(),
            ));
        }
        view.usage = Usage::Group;
        view.listener = listener;
        // Published here, in the caller's order; the engine fills in what
        // a pattern matches for this subscription only.
        let mut generation = 0;
        self.published.send_modify(|p| {
            p.subscription_generation += 1;
            generation = p.subscription_generation;
            p.subscribed = topics.clone();
        });
        if !self.send(Command::Subscribe { kind, topics, generation }) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Takes `partitions` without a group: no rebalancing, no listener.
    /// Positions start from the committed offsets if `group.id` is set,
    /// else from `auto.offset.reset`. Replaces an earlier `assign`.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    /// consumer.assign([TopicPartition::new("orders", 0), TopicPartition::new("orders", 1)])?;
    /// # Ok(()) }
    /// ```
    pub fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let parts: Vec<TopicPartition> = partitions.into_iter().collect();
        if let Some(bad) = parts.iter().find(|tp| tp.topic.trim().is_empty() || tp.partition < 0) {
            return Err(Error::InvalidArgument(format!("cannot assign {bad}")));
        }
        if lock(&self.view).usage == Usage::Group {
            return Err(Error::IllegalState(
                "assign is not allowed while subscribed to topics; call unsubscribe first".into(),
            ));
        }
        self.drop_stream_buffer(|tp| !parts.contains(tp));
        let mut view = lock(&self.view);
        view.usage = if parts.is_empty() { Usage::None } else { Usage::Manual };
        view.assignment = parts.iter().cloned().collect();
        let View { assignment, paused, .. } = &mut *view;
        paused.retain(|tp| assignment.contains(tp));
        if !self.send(Command::Assign(parts)) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Gives up the subscription or the assignment. A group member calls
    /// `on_partitions_revoked` and leaves the group (a static member does
    /// not send LeaveGroup).
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.unsubscribe().await?;
    /// assert!(consumer.assignment().is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn unsubscribe(&self) -> Result<()> {
        let _poll = self.poll_lock.lock().await;
        self.drop_stream_buffer(|_| true);
        let deadline = tokio::time::Instant::now() + self.io.cfg.default_api_timeout;
        self.leave_group(deadline).await;
        let mut view = lock(&self.view);
        view.usage = Usage::None;
        view.assignment.clear();
        view.paused.clear();
        view.listener = Arc::new(NoopListener);
        drop(view);
        self.published.send_modify(|p| {
            p.subscription_generation += 1;
            p.subscribed = None;
        });
        self.send(Command::Unsubscribe);
        Ok(())
    }

    /// The partitions assigned to this consumer now.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// for tp in consumer.assignment() {
    ///     println!("{tp}");
    /// }
    /// # }
    /// ```
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        lock(&self.view).assignment.clone()
    }

    /// Bytes of fetched record data held for `poll`, as of the engine's
    /// last step. The consumer keeps at most two responses per assigned
    /// partition (the one being read and the next), each at most
    /// `max.partition.fetch.bytes` unless a single record batch is larger,
    /// as a Kafka broker answers.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// let limit = 2 * consumer.assignment().len() * consumer.config().max_partition_fetch_bytes();
    /// println!("{} of at most about {limit} bytes prefetched", consumer.buffered_bytes());
    /// # }
    /// ```
    pub fn buffered_bytes(&self) -> usize {
        self.published.borrow().buffered_bytes
    }

    /// The topics subscribed to: the named ones, or those the pattern
    /// matches (empty before the first metadata refresh, and for `assign`).
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// println!("{:?}", consumer.subscription());
    /// # }
    /// ```
    pub fn subscription(&self) -> BTreeSet<String> {
        self.published.borrow().subscribed.clone().unwrap_or_default()
    }

    /// The member's id and generation in its group, once it has joined.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// if let Some((member_id, generation)) = consumer.group_member() {
    ///     println!("{member_id} in generation {generation}");
    /// }
    /// # }
    /// ```
    pub fn group_member(&self) -> Option<(String, i32)> {
        self.published.borrow().member.clone()
    }

    /// What a transactional producer needs to commit this consumer's
    /// offsets in its transaction ([`crate::producer::Producer::send_offsets_to_transaction`]):
    /// the group, and the member's id, generation and instance id, so the
    /// coordinator refuses the commit of a member that has been replaced
    /// (Java's `groupMetadata()`). These are the member id and generation
    /// the current assignment came with — still after the membership is
    /// lost, so a transaction holding records read under it is refused
    /// (and aborts) rather than committing outside any generation. Before
    /// the first assignment, the generation is -1 and the member id empty.
    /// None without `group.id`.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// let group = consumer.group_metadata().expect("a group member");
    /// println!("{} generation {}", group.group_id, group.generation_id);
    /// # }
    /// ```
    pub fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        let group_id = self.io.cfg.group_id.clone()?;
        let published = self.published.borrow();
        let (member_id, generation_id) =
            published.assigned_as.clone().or_else(|| published.member.clone()).unwrap_or((String::new(), -1));
        drop(published);
        Some(ConsumerGroupMetadata {
            group_id,
            generation_id,
            member_id,
            group_instance_id: self.io.cfg.group_instance_id.clone(),
        })
    }

    /// Moves the position of an assigned partition: the next `poll` returns
    /// records from `offset`. Records already fetched for elsewhere are
    /// dropped.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.seek(&kafka_client::TopicPartition::new("orders", 0), 42)?;
    /// # Ok(()) }
    /// ```
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::InvalidArgument(format!("cannot seek {tp} to negative offset {offset}")));
        }
        self.check_assigned(std::slice::from_ref(tp))?;
        self.drop_stream_buffer(|t| t == tp);
        self.forget_last_yielded(|t| t == tp);
        self.send(Command::Seek { tp: tp.clone(), offset });
        Ok(())
    }

    /// Moves the given partitions (every assigned one when empty) to their
    /// first offset, looked up on the next `poll` or `position`.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.seek_to_beginning(&[])?;
    /// # Ok(()) }
    /// ```
    pub fn seek_to_beginning(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to(partitions, OffsetReset::Earliest)
    }

    /// Moves the given partitions (every assigned one when empty) to their
    /// end (the high watermark, or the last stable offset with
    /// `read_committed`), looked up on the next `poll` or `position`.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.seek_to_end(&[kafka_client::TopicPartition::new("orders", 0)])?;
    /// # Ok(()) }
    /// ```
    pub fn seek_to_end(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to(partitions, OffsetReset::Latest)
    }

    fn seek_to(&self, partitions: &[TopicPartition], policy: OffsetReset) -> Result<()> {
        let parts: Vec<TopicPartition> =
            if partitions.is_empty() { self.assignment().into_iter().collect() } else { partitions.to_vec() };
        self.check_assigned(&parts)?;
        self.drop_stream_buffer(|t| parts.contains(t));
        self.forget_last_yielded(|t| parts.contains(t));
        self.send(Command::Reset { parts, policy });
        Ok(())
    }

    /// Stops fetching the given partitions; `poll` returns none of their
    /// records until [`Self::resume`]. Their positions and assignment stay.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let tp = kafka_client::TopicPartition::new("orders", 0);
    /// consumer.pause(&[tp.clone()])?;
    /// consumer.resume(&[tp])?;
    /// # Ok(()) }
    /// ```
    pub fn pause(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.check_assigned(partitions)?;
        self.drop_stream_buffer(|t| partitions.contains(t));
        lock(&self.view).paused.extend(partitions.iter().cloned());
        self.send(Command::Pause { parts: partitions.to_vec(), paused: true });
        Ok(())
    }

    /// Fetches the given paused partitions again.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.resume(&[kafka_client::TopicPartition::new("orders", 0)])?;
    /// # Ok(()) }
    /// ```
    pub fn resume(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.check_assigned(partitions)?;
        lock(&self.view).paused.retain(|tp| !partitions.contains(tp));
        self.send(Command::Pause { parts: partitions.to_vec(), paused: false });
        Ok(())
    }

    /// The paused partitions.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// assert!(consumer.paused().is_empty());
    /// # }
    /// ```
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        lock(&self.view).paused.clone()
    }

    fn check_assigned(&self, parts: &[TopicPartition]) -> Result<()> {
        let view = lock(&self.view);
        match parts.iter().find(|tp| !view.assignment.contains(*tp)) {
            Some(tp) => Err(not_assigned(tp)),
            None => Ok(()),
        }
    }

    /// Closes the consumer within 30 seconds; see [`Self::close_timeout`].
    ///
    /// ```no_run
    /// # async fn f(consumer: kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) -> Result<()> {
        self.close_timeout(Duration::from_secs(30)).await
    }

    /// Closes the consumer, taking at most `timeout`: with auto-commit on,
    /// commits the processed positions; a group member calls
    /// `on_partitions_revoked` and leaves the group (a static member does
    /// not send LeaveGroup: its partitions wait for it until its session
    /// times out). Then the engine stops and its connections close. Later
    /// calls fail with [`Error::Closed`].
    ///
    /// ```no_run
    /// # async fn f(consumer: kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.close_timeout(std::time::Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn close_timeout(&self, timeout: Duration) -> Result<()> {
        if self.is_closed() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let guard = tokio::time::timeout_at(deadline, self.poll_lock.lock()).await.ok();
        // The record a stream handed out last counts as processed once the
        // application closes, as the records of the last `poll` do.
        self.mark_last_yielded();
        if self.io.cfg.enable_auto_commit
            && let Err(e) = self.commit_until(offsets::CommitWhat::Consumed(None), deadline).await
        {
            tracing::warn!(error = %e, "the auto-commit on close failed");
        }
        self.leave_group(deadline).await;
        self.closed.store(true, Ordering::SeqCst);
        drop(guard);
        let (tx, rx) = oneshot::channel();
        if self.send(Command::Close(tx)) && tokio::time::timeout_at(deadline, rx).await.is_err() {
            tracing::warn!("the consumer's engine did not stop before the close timeout");
        }
        Ok(())
    }

    /// Revokes the owned partitions (listener) and leaves the group, within
    /// `deadline`.
    async fn leave_group(&self, deadline: tokio::time::Instant) {
        let owned = tokio::time::timeout_at(deadline, self.ask(Command::Owned)).await;
        if let Ok(Ok(owned)) = owned
            && !owned.is_empty()
        {
            let listener = lock(&self.view).listener.clone();
            if tokio::time::timeout_at(deadline, listener.on_partitions_revoked(self, &owned)).await.is_err() {
                tracing::warn!("on_partitions_revoked did not finish before the close timeout");
            }
        }
        if tokio::time::timeout_at(deadline, self.ask(Command::Leave)).await.is_err() {
            tracing::info!("LeaveGroup did not finish before the timeout");
        }
    }

    /// Marks the record the stream handed out last as processed.
    fn mark_last_yielded(&self) {
        if let Some(y) = lock(&self.view).last_yielded.take() {
            self.send(Command::MarkConsumed { tp: y.tp, offset: y.next_offset, epoch: y.epoch });
        }
    }

    /// A seek decides where the partition stands: a record the stream
    /// handed out before it no longer counts later.
    fn forget_last_yielded(&self, which: impl Fn(&TopicPartition) -> bool) {
        let mut view = lock(&self.view);
        if view.last_yielded.as_ref().is_some_and(|y| which(&y.tp)) {
            view.last_yielded = None;
        }
    }

    /// Drops records the stream took but did not hand out, for partitions
    /// matching `which`, and moves those partitions back to the first of
    /// them, so nothing is skipped.
    fn drop_stream_buffer(&self, which: impl Fn(&TopicPartition) -> bool) {
        let mut view = lock(&self.view);
        if view.stream_buffer.is_empty() {
            return;
        }
        let mut first: BTreeMap<TopicPartition, (i64, Option<i32>)> = BTreeMap::new();
        view.stream_buffer.retain(|r| {
            let tp = r.topic_partition();
            if which(&tp) {
                first.entry(tp).or_insert((r.offset, None));
                false
            } else {
                true
            }
        });
        drop(view);
        if !first.is_empty() {
            self.send(Command::Rewind(first));
        }
    }
}

fn not_assigned(tp: &TopicPartition) -> Error {
    Error::IllegalState(format!("{tp} is not assigned to this consumer"))
}
