//! The consumer: reads records from partitions it is assigned by its group
//! (`subscribe`) or chooses itself (`assign`), tracks its position in each,
//! and commits the positions it has processed.
//!
//! ```text
//!  application ── poll()/stream ──► Consumer (handle)
//!                                     │ rebalance steps, positions, commits run here,
//!                                     │ so listeners and commits happen between records
//!        ┌────────────────────────────┼─────────────────────────┬───────────────────┐
//!        ▼                            ▼                         ▼                   ▼
//!   group task (group.rs)      fetcher task (fetcher.rs)  commit task        subscription task
//!   Membership state machine   one Fetch per leader,     (offsets.rs)        (subscription.rs)
//!   on its own coordinator     buffers one response per  OffsetCommits in    metadata refresh,
//!   connection: join, sync,    partition in `State`      order               pattern matching,
//!   heartbeat, leave                                                          rejoin on changes
//! ```
//!
//! Records are handed out only by `poll` (and the stream built on it), and a
//! rebalance's revocation and assignment also run inside `poll`: the
//! background tasks only talk to brokers and move the state machines, so no
//! record of a revoked partition is handed out after its revocation and no
//! listener runs concurrently with the application's processing.
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

use tokio::sync::{Notify, mpsc};

pub use config::{AssignorChoice, ConsumerBuilder, ConsumerConfig, IsolationLevel, OffsetReset};
pub use listener::{NoopListener, RebalanceListener};
pub use offsets::{CommitHandle, OffsetAndMetadata, OffsetAndTimestamp};
pub use record::{ConsumerRecord, ConsumerRecords};
pub use stream::RecordStream;

use self::assignor::Assignor;
use self::membership::{Membership, MembershipConfig, Send};
use self::offsets::CommitJob;
use self::state::{State, SubscriptionKind};
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

/// What the consumer handle and its background tasks share.
pub(crate) struct Inner {
    pub cfg: ConsumerConfig,
    /// What every timer reads.
    pub clock: crate::Clock,
    /// Connections for metadata, fetches and offset lookups.
    pub net: Arc<NetworkClient>,
    /// The coordinator's connection, apart so heartbeats never queue behind
    /// a long-polling Fetch.
    pub group_net: Arc<NetworkClient>,
    pub state: Mutex<State>,
    pub membership: Mutex<Option<Membership>>,
    pub coordinator: Mutex<Option<i32>>,
    pub assignors: Vec<Arc<dyn Assignor>>,
    pub assignment_snapshot: Mutex<Option<LeaderSnapshot>>,
    pub listener: Mutex<Arc<dyn RebalanceListener>>,
    pub closed: AtomicBool,
    /// Whether the group task runs.
    pub group_task: AtomicBool,
    /// Serializes `poll` (and everything that hands out records).
    pub poll_lock: tokio::sync::Mutex<()>,
    /// Records taken for the stream and not yet handed out.
    pub stream_buffer: Mutex<VecDeque<record::ConsumerRecord>>,
    pub last_yielded: Mutex<Option<Yielded>>,
    pub commits: mpsc::UnboundedSender<CommitJob>,
    /// When the next auto-commit is due (ms since the epoch).
    pub next_auto_commit_ms: Mutex<i64>,
    /// No position lookups before this time (after a failed one).
    pub positions_retry_ms: Mutex<i64>,
    /// The fetcher buffered data (or an error) for `poll`.
    pub data_ready: Notify,
    /// The group task moved the state machine.
    pub group_event: Notify,
    pub wake_group: Notify,
    pub wake_fetcher: Notify,
    pub wake_subscription: Notify,
}

impl Inner {
    pub(crate) fn group_id(&self) -> Result<&str> {
        self.cfg.group_id.as_deref().ok_or_else(|| {
            Error::Config(crate::ConfigError::new("group.id", "this operation needs a group; set group.id"))
        })
    }

    /// Asks the subscription task for fresh metadata (a leader moved).
    pub(crate) fn request_metadata_refresh(&self) {
        self.wake_subscription.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
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

/// A Kafka consumer; see the module docs.
///
/// Methods take `&self`; `poll` calls are serialized, and the rebalance
/// listener receives the consumer so it can commit or seek.
pub struct Consumer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("client_id", &self.inner.cfg.client_id)
            .field("group_id", &self.inner.cfg.group_id)
            .finish()
    }
}

impl ConsumerBuilder {
    /// Validates the settings and starts the consumer's background tasks
    /// (nothing connects until the consumer subscribes, is assigned
    /// partitions or is asked something). Must be called inside a tokio
    /// runtime.
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
        let (commits, commit_rx) = mpsc::unbounded_channel();
        let clock = env.clock();
        let next_auto_commit = clock.now_ms() + millis(cfg.auto_commit_interval);
        let inner = Arc::new(Inner {
            cfg,
            clock,
            net,
            group_net,
            state: Mutex::new(State::default()),
            membership: Mutex::new(None),
            coordinator: Mutex::new(None),
            assignors,
            assignment_snapshot: Mutex::new(None),
            listener: Mutex::new(Arc::new(NoopListener)),
            closed: AtomicBool::new(false),
            group_task: AtomicBool::new(false),
            poll_lock: tokio::sync::Mutex::new(()),
            stream_buffer: Mutex::new(VecDeque::new()),
            last_yielded: Mutex::new(None),
            commits,
            next_auto_commit_ms: Mutex::new(next_auto_commit),
            positions_retry_ms: Mutex::new(0),
            data_ready: Notify::new(),
            group_event: Notify::new(),
            wake_group: Notify::new(),
            wake_fetcher: Notify::new(),
            wake_subscription: Notify::new(),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(fetcher::run(weak.clone()));
        tokio::spawn(offsets::commit_worker(weak.clone(), commit_rx));
        tokio::spawn(subscription::run(weak));
        Ok(Consumer { inner })
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
        &self.inner.cfg
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
        let inner = &self.inner;
        if inner.is_closed() {
            return Err(Error::Closed);
        }
        let group_id = inner.group_id()?.to_string();
        {
            let mut st = lock(&inner.state);
            if matches!(st.subscription, SubscriptionKind::Manual) {
                return Err(Error::IllegalState(
                    "subscribe is not allowed while partitions are assigned with assign(); call unsubscribe first"
                        .into(),
                ));
            }
            st.subscription = kind;
            st.subscribed = topics.clone();
        }
        *lock(&inner.listener) = listener;
        let mut guard = lock(&inner.membership);
        let m = guard.get_or_insert_with(|| Membership::new(inner.membership_config(&group_id)));
        let fresh = m.generation < 0 && m.member_id.is_empty() && m.owned.is_empty();
        if let Some(topics) = topics {
            let list: Vec<String> = topics.into_iter().collect();
            m.set_protocols(group::protocols(inner, &list));
        }
        if !fresh {
            m.request_rejoin("the subscription changed");
        }
        let spawn = !group::running(inner);
        drop(guard);
        if spawn {
            group::spawn(inner);
        }
        inner.wake_subscription.notify_one();
        inner.wake_group.notify_one();
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
        let inner = &self.inner;
        if inner.is_closed() {
            return Err(Error::Closed);
        }
        let parts: Vec<TopicPartition> = partitions.into_iter().collect();
        if let Some(bad) = parts.iter().find(|tp| tp.topic.trim().is_empty() || tp.partition < 0) {
            return Err(Error::InvalidArgument(format!("cannot assign {bad}")));
        }
        self.drop_stream_buffer(|tp| !parts.contains(tp));
        let mut st = lock(&inner.state);
        if st.subscription.uses_group() {
            return Err(Error::IllegalState(
                "assign is not allowed while subscribed to topics; call unsubscribe first".into(),
            ));
        }
        st.subscription = if parts.is_empty() { SubscriptionKind::None } else { SubscriptionKind::Manual };
        st.set_assignment(&parts);
        drop(st);
        inner.wake_fetcher.notify_one();
        inner.wake_subscription.notify_one();
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
        let inner = &self.inner;
        let _poll = inner.poll_lock.lock().await;
        self.drop_stream_buffer(|_| true);
        let deadline = tokio::time::Instant::now() + inner.cfg.default_api_timeout;
        self.leave_group(deadline, false).await;
        let mut st = lock(&inner.state);
        st.subscription = SubscriptionKind::None;
        st.subscribed = None;
        st.set_assignment(&[]);
        drop(st);
        *lock(&inner.listener) = Arc::new(NoopListener);
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
        lock(&self.inner.state).assignment.keys().cloned().collect()
    }

    /// Bytes of fetched record data held for `poll`. The consumer keeps at
    /// most two responses per assigned partition (the one being read and
    /// the next), each at most `max.partition.fetch.bytes` unless a single
    /// record batch is larger, as a Kafka broker answers.
    ///
    /// ```no_run
    /// # fn f(consumer: &kafka_client::consumer::Consumer) {
    /// let limit = 2 * consumer.assignment().len() * consumer.config().max_partition_fetch_bytes();
    /// println!("{} of at most about {limit} bytes prefetched", consumer.buffered_bytes());
    /// # }
    /// ```
    pub fn buffered_bytes(&self) -> usize {
        lock(&self.inner.state).buffered_bytes()
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
        lock(&self.inner.state).subscribed.clone().unwrap_or_default()
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
        lock(&self.inner.membership).as_ref().filter(|m| m.in_generation()).map(|m| (m.member_id.clone(), m.generation))
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
        self.drop_stream_buffer(|t| t == tp);
        if !lock(&self.inner.state).seek(tp, offset, None) {
            return Err(not_assigned(tp));
        }
        self.inner.wake_fetcher.notify_one();
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
        self.drop_stream_buffer(|t| parts.contains(t));
        let mut st = lock(&self.inner.state);
        if let Some(tp) = parts.iter().find(|tp| !st.assignment.contains_key(*tp)) {
            return Err(not_assigned(tp));
        }
        for tp in &parts {
            st.request_reset(tp, policy);
        }
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
        self.drop_stream_buffer(|t| partitions.contains(t));
        let mut st = lock(&self.inner.state);
        if let Some(tp) = partitions.iter().find(|tp| !st.assignment.contains_key(*tp)) {
            return Err(not_assigned(tp));
        }
        for tp in partitions {
            if let Some(p) = st.assignment.get_mut(tp) {
                p.paused = true;
            }
        }
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
        let mut st = lock(&self.inner.state);
        if let Some(tp) = partitions.iter().find(|tp| !st.assignment.contains_key(*tp)) {
            return Err(not_assigned(tp));
        }
        for tp in partitions {
            if let Some(p) = st.assignment.get_mut(tp) {
                p.paused = false;
            }
        }
        drop(st);
        self.inner.wake_fetcher.notify_one();
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
        lock(&self.inner.state).assignment.iter().filter(|(_, p)| p.paused).map(|(tp, _)| tp.clone()).collect()
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
    /// times out). Later calls fail with [`Error::Closed`].
    ///
    /// ```no_run
    /// # async fn f(consumer: kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// consumer.close_timeout(std::time::Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn close_timeout(&self, timeout: Duration) -> Result<()> {
        let inner = &self.inner;
        if inner.is_closed() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let guard = tokio::time::timeout_at(deadline, inner.poll_lock.lock()).await.ok();
        // The record a stream handed out last counts as processed once the
        // application closes, as the records of the last `poll` do.
        if let Some(y) = lock(&inner.last_yielded).take() {
            lock(&inner.state).mark_consumed(&y.tp, y.next_offset, y.epoch);
        }
        if inner.cfg.enable_auto_commit {
            let offsets = self.consumed_offsets(None);
            if let Err(e) = self.commit_until(offsets, deadline).await {
                tracing::warn!(error = %e, "the auto-commit on close failed");
            }
        }
        self.leave_group(deadline, true).await;
        inner.closed.store(true, Ordering::SeqCst);
        drop(guard);
        self.shutdown();
        Ok(())
    }

    /// Revokes the owned partitions (listener) and leaves the group, within
    /// `deadline`.
    async fn leave_group(&self, deadline: tokio::time::Instant, closing: bool) {
        let inner = &self.inner;
        let owned = lock(&inner.membership).as_ref().filter(|m| m.in_generation()).map(|m| m.owned.clone());
        if let Some(owned) = owned.filter(|o| !o.is_empty()) {
            let listener = lock(&inner.listener).clone();
            if tokio::time::timeout_at(deadline, listener.on_partitions_revoked(self, &owned)).await.is_err() {
                tracing::warn!("on_partitions_revoked did not finish before the close timeout");
            }
        }
        let leave = {
            let mut guard = lock(&inner.membership);
            let leave = guard.as_mut().and_then(Membership::leave);
            *guard = None;
            leave
        };
        if let Some(Send::Leave(req)) = leave {
            let sent = tokio::time::timeout_at(deadline, async {
                let conn = group::coordinator(inner).await?;
                let version = conn.version_for(kafka_protocol::ApiKey::LeaveGroup)?;
                conn.request_at(&Membership::leave_for_version(req, version), version).await
            })
            .await;
            match sent {
                Ok(Ok(r)) if r.error_code == 0 => tracing::debug!(closing, "left the group"),
                Ok(Ok(r)) => tracing::info!(code = r.error_code, "LeaveGroup refused"),
                Ok(Err(e)) => tracing::info!(error = %e, "LeaveGroup failed"),
                Err(_) => tracing::info!("LeaveGroup timed out"),
            }
        }
        *lock(&inner.assignment_snapshot) = None;
        inner.wake_group.notify_one();
    }

    fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        *lock(&inner.membership) = None;
        inner.net.close();
        inner.group_net.close();
        inner.wake_group.notify_one();
        inner.wake_fetcher.notify_one();
        inner.wake_subscription.notify_one();
        inner.data_ready.notify_waiters();
        inner.group_event.notify_waiters();
    }

    /// Drops records the stream took but did not hand out, for partitions
    /// matching `which`, and moves those partitions back to the first of
    /// them, so nothing is skipped.
    fn drop_stream_buffer(&self, which: impl Fn(&TopicPartition) -> bool) {
        let mut buf = lock(&self.inner.stream_buffer);
        if buf.is_empty() {
            return;
        }
        let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        buf.retain(|r| {
            let tp = r.topic_partition();
            if which(&tp) {
                first.entry(tp).or_insert(r.offset);
                false
            } else {
                true
            }
        });
        drop(buf);
        let mut st = lock(&self.inner.state);
        for (tp, offset) in first {
            st.rewind(&tp, offset, None);
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // Without close(): no commit and no LeaveGroup; the group notices
        // when the session times out.
        self.shutdown();
    }
}

fn not_assigned(tp: &TopicPartition) -> Error {
    Error::IllegalState(format!("{tp} is not assigned to this consumer"))
}
