//! The consumer's settings: a typed builder and Java-style properties,
//! validated once in [`ConsumerBuilder::config`].
//!
//! Names, defaults and rules are the Java client's (Kafka 4.0), with these
//! differences:
//!
//! - `partition.assignment.strategy` defaults to `range` alone (Java offers
//!   `range` and `cooperative-sticky`); a group still agrees on `range` with
//!   Java members that keep their default. The sticky assignors and
//!   cooperative rebalancing are not implemented yet and are refused.
//! - Only the classic group protocol (`group.protocol=classic`) is spoken.
//! - `auto.offset.reset=by_duration:…` (KIP-1106) is not supported yet.
//! - `heartbeat.interval.ms` must be below `session.timeout.ms` even for a
//!   consumer without a group, where Java only checks it once it joins.
//! - Deserializers, interceptors and other Java classes are not settings:
//!   keys and values arrive as bytes.
//!
//! As in Java, `group.id` is optional: without one the consumer can only
//! read partitions it is assigned by hand, and committing or subscribing is
//! an error when attempted. `enable.auto.commit` then defaults to false,
//! and setting it to true is an error.

use std::sync::Arc;
use std::time::Duration;

use super::assignor::{Assignor, RangeAssignor, RebalanceProtocol, RoundRobinAssignor};
use crate::config::{parse_bool, parse_int, parse_list, parse_ms, refuse_unsupported};
use crate::error::ConfigError;

/// Java settings of type INT: also what the group and fetch requests carry
/// in 32-bit fields.
const INT_MAX: i64 = i32::MAX as i64;

/// Where to start reading a partition that has no committed offset, or
/// whose position is no longer in the log (`auto.offset.reset`).
///
/// ```
/// use kafka_client::consumer::config::OffsetReset;
///
/// assert_eq!(OffsetReset::default(), OffsetReset::Latest);
/// assert_eq!(OffsetReset::Earliest.name(), "earliest");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OffsetReset {
    /// The first offset still in the log.
    Earliest,
    /// The end of the log: only records produced from now on. The default.
    #[default]
    Latest,
    /// No reset: reading such a partition is an error for the application
    /// to handle (usually by seeking).
    None,
}

impl OffsetReset {
    /// The setting's value: `earliest`, `latest` or `none`.
    ///
    /// ```
    /// assert_eq!(kafka_client::consumer::config::OffsetReset::None.name(), "none");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
            OffsetReset::None => "none",
        }
    }

    /// The timestamp a ListOffsets request asks for to reset: -2 for the
    /// earliest offset, -1 for the latest, None when there is no reset.
    ///
    /// ```
    /// use kafka_client::consumer::config::OffsetReset;
    ///
    /// assert_eq!(OffsetReset::Earliest.list_offsets_timestamp(), Some(-2));
    /// assert_eq!(OffsetReset::None.list_offsets_timestamp(), None);
    /// ```
    pub fn list_offsets_timestamp(self) -> Option<i64> {
        match self {
            OffsetReset::Earliest => Some(-2),
            OffsetReset::Latest => Some(-1),
            OffsetReset::None => None,
        }
    }

    fn parse(key: &str, v: &str) -> Result<OffsetReset, ConfigError> {
        // Exact lower case, as Java's validator compares.
        match v.trim() {
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "none" => Ok(OffsetReset::None),
            d if d.starts_with("by_duration") => Err(ConfigError::new(key, "by_duration is not supported yet")),
            _ => Err(ConfigError::new(key, format!("must be earliest, latest or none, got {v:?}"))),
        }
    }
}

/// Which records a fetch may return (`isolation.level`).
///
/// `read_committed` stops fetches at the last stable offset, so records of
/// open transactions are not returned, and skips the batches of aborted
/// transactions the broker lists in its answer. Against a broker with no
/// transactions the two read the same records.
///
/// ```
/// use kafka_client::consumer::config::IsolationLevel;
///
/// assert_eq!(IsolationLevel::default(), IsolationLevel::ReadUncommitted);
/// assert_eq!(IsolationLevel::ReadCommitted.as_i8(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IsolationLevel {
    /// Everything up to the high watermark. The default.
    #[default]
    ReadUncommitted,
    /// Everything up to the last stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The value Fetch and ListOffsets requests carry.
    ///
    /// ```
    /// assert_eq!(kafka_client::consumer::config::IsolationLevel::ReadUncommitted.as_i8(), 0);
    /// ```
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }

    /// The setting's value: `read_uncommitted` or `read_committed`.
    ///
    /// ```
    /// assert_eq!(kafka_client::consumer::config::IsolationLevel::ReadCommitted.name(), "read_committed");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "read_uncommitted",
            IsolationLevel::ReadCommitted => "read_committed",
        }
    }

    fn parse(key: &str, v: &str) -> Result<IsolationLevel, ConfigError> {
        match v.trim() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            _ => Err(ConfigError::new(key, format!("must be read_uncommitted or read_committed, got {v:?}"))),
        }
    }
}

/// A partition assignment strategy the consumer offers its group.
///
/// ```
/// use std::sync::Arc;
/// use kafka_client::consumer::config::AssignorChoice;
/// use kafka_client::consumer::assignor::RoundRobinAssignor;
///
/// let custom = AssignorChoice::Custom(Arc::new(RoundRobinAssignor));
/// assert_eq!(custom.name(), "roundrobin");
/// assert_eq!(AssignorChoice::Range.name(), "range");
/// ```
#[derive(Debug, Clone)]
pub enum AssignorChoice {
    /// Java's `RangeAssignor` (`range`): the default.
    Range,
    /// Java's `RoundRobinAssignor` (`roundrobin`).
    RoundRobin,
    /// Your own; its [`Assignor::name`] is the protocol name offered.
    Custom(Arc<dyn Assignor>),
}

impl AssignorChoice {
    /// The protocol name offered in JoinGroup.
    ///
    /// ```
    /// assert_eq!(kafka_client::consumer::config::AssignorChoice::RoundRobin.name(), "roundrobin");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            AssignorChoice::Range => RangeAssignor::NAME,
            AssignorChoice::RoundRobin => RoundRobinAssignor::NAME,
            AssignorChoice::Custom(a) => a.name(),
        }
    }

    /// The assignor itself.
    ///
    /// ```
    /// use kafka_client::consumer::config::AssignorChoice;
    ///
    /// assert_eq!(AssignorChoice::Range.assignor().name(), "range");
    /// ```
    pub fn assignor(&self) -> Arc<dyn Assignor> {
        match self {
            AssignorChoice::Range => Arc::new(RangeAssignor),
            AssignorChoice::RoundRobin => Arc::new(RoundRobinAssignor),
            AssignorChoice::Custom(a) => Arc::clone(a),
        }
    }

    /// Reads one entry of `partition.assignment.strategy`: a Java class name
    /// or the assignor's protocol name.
    fn parse(key: &str, v: &str) -> Result<AssignorChoice, ConfigError> {
        let short = v.strip_prefix("org.apache.kafka.clients.consumer.").unwrap_or(v);
        match short {
            "RangeAssignor" | "range" => Ok(AssignorChoice::Range),
            "RoundRobinAssignor" | "roundrobin" => Ok(AssignorChoice::RoundRobin),
            "CooperativeStickyAssignor" | "cooperative-sticky" | "StickyAssignor" | "sticky" => Err(ConfigError::new(
                key,
                format!("{v} is not supported yet; use range or roundrobin (or implement the Assignor trait)"),
            )),
            _ => Err(ConfigError::new(
                key,
                format!(
                    "unknown assignor {v:?}; use range or roundrobin, or implement the Assignor trait for your own"
                ),
            )),
        }
    }
}

/// Validated consumer settings, from [`ConsumerBuilder::config`].
///
/// ```
/// use std::time::Duration;
/// use kafka_client::consumer::config::{ConsumerBuilder, OffsetReset};
///
/// let cfg = ConsumerBuilder::new().bootstrap_servers("127.0.0.1:9092").group_id("billing").config().unwrap();
/// assert_eq!(cfg.group_id(), Some("billing"));
/// assert!(cfg.enable_auto_commit());
/// assert_eq!(cfg.auto_offset_reset(), OffsetReset::Latest);
/// assert_eq!(cfg.session_timeout(), Duration::from_secs(45));
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) group_id: Option<String>,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_rack: Option<String>,
    pub(crate) auto_offset_reset: OffsetReset,
    pub(crate) enable_auto_commit: bool,
    pub(crate) auto_commit_interval: Duration,
    pub(crate) max_poll_records: usize,
    pub(crate) max_poll_interval: Duration,
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    // What the Fetch request carries, in its types; validated to fit.
    pub(crate) fetch_min_bytes: i32,
    pub(crate) fetch_max_wait_ms: i32,
    pub(crate) fetch_max_bytes: i32,
    pub(crate) max_partition_fetch_bytes: i32,
    pub(crate) isolation_level: IsolationLevel,
    pub(crate) assignors: Vec<AssignorChoice>,
    pub(crate) check_crcs: bool,
    pub(crate) request_timeout: Duration,
    pub(crate) default_api_timeout: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) metadata_max_age: Duration,
    pub(crate) exclude_internal_topics: bool,
    pub(crate) allow_auto_create_topics: bool,
}

impl ConsumerConfig {
    /// `bootstrap.servers`, as `host:port` entries.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("a:9092, b:9092").config().unwrap();
    /// assert_eq!(cfg.bootstrap_servers(), ["a:9092", "b:9092"]);
    /// ```
    pub fn bootstrap_servers(&self) -> &[String] {
        &self.bootstrap_servers
    }

    /// `group.id`, or None for a consumer outside any group.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.group_id(), None);
    /// ```
    pub fn group_id(&self) -> Option<&str> {
        self.group_id.as_deref()
    }

    /// `group.instance.id`, making the consumer a static member (KIP-345).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.group_id("g").group_instance_id("host-1").config().unwrap();
    /// assert_eq!(cfg.group_instance_id(), Some("host-1"));
    /// ```
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group_instance_id.as_deref()
    }

    /// `client.id`; empty when the consumer is to name itself.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").client_id("reporting").config().unwrap();
    /// assert_eq!(cfg.client_id(), "reporting");
    /// ```
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `client.rack`, sent in fetches so a broker can direct the consumer
    /// to a replica in its rack (KIP-392).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").client_rack("eu-west-1a").config().unwrap();
    /// assert_eq!(cfg.client_rack(), Some("eu-west-1a"));
    /// ```
    pub fn client_rack(&self) -> Option<&str> {
        self.client_rack.as_deref()
    }

    /// `auto.offset.reset` (default latest).
    ///
    /// ```
    /// # use kafka_client::consumer::config::*;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.auto_offset_reset(), OffsetReset::Latest);
    /// ```
    pub fn auto_offset_reset(&self) -> OffsetReset {
        self.auto_offset_reset
    }

    /// `enable.auto.commit` after Java's defaulting: true with a group
    /// unless turned off, always false without one.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert!(!cfg.enable_auto_commit(), "no group, nothing to commit to");
    /// ```
    pub fn enable_auto_commit(&self) -> bool {
        self.enable_auto_commit
    }

    /// `auto.commit.interval.ms` (default 5 s).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.auto_commit_interval(), std::time::Duration::from_secs(5));
    /// ```
    pub fn auto_commit_interval(&self) -> Duration {
        self.auto_commit_interval
    }

    /// `max.poll.records` (default 500).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.max_poll_records(), 500);
    /// ```
    pub fn max_poll_records(&self) -> usize {
        self.max_poll_records
    }

    /// `max.poll.interval.ms` (default 5 min); also the rebalance timeout
    /// sent in JoinGroup.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.max_poll_interval(), std::time::Duration::from_secs(300));
    /// ```
    pub fn max_poll_interval(&self) -> Duration {
        self.max_poll_interval
    }

    /// `session.timeout.ms` (default 45 s).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.session_timeout(), std::time::Duration::from_secs(45));
    /// ```
    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    /// `heartbeat.interval.ms` (default 3 s).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.heartbeat_interval(), std::time::Duration::from_secs(3));
    /// ```
    pub fn heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }

    /// `fetch.min.bytes` (default 1); at most `i32::MAX`.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.fetch_min_bytes(), 1);
    /// ```
    pub fn fetch_min_bytes(&self) -> usize {
        usize::try_from(self.fetch_min_bytes).unwrap_or(0)
    }

    /// `fetch.max.wait.ms` (default 500 ms).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.fetch_max_wait(), std::time::Duration::from_millis(500));
    /// ```
    pub fn fetch_max_wait(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.fetch_max_wait_ms).unwrap_or(0))
    }

    /// `fetch.max.bytes` (default 50 MiB); at most `i32::MAX`.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.fetch_max_bytes(), 52_428_800);
    /// ```
    pub fn fetch_max_bytes(&self) -> usize {
        usize::try_from(self.fetch_max_bytes).unwrap_or(0)
    }

    /// `max.partition.fetch.bytes` (default 1 MiB); at most `i32::MAX`.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.max_partition_fetch_bytes(), 1_048_576);
    /// ```
    pub fn max_partition_fetch_bytes(&self) -> usize {
        usize::try_from(self.max_partition_fetch_bytes).unwrap_or(0)
    }

    /// `isolation.level` (default read_uncommitted).
    ///
    /// ```
    /// # use kafka_client::consumer::config::*;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.isolation_level(), IsolationLevel::ReadUncommitted);
    /// ```
    pub fn isolation_level(&self) -> IsolationLevel {
        self.isolation_level
    }

    /// `partition.assignment.strategy`, in order of preference (default
    /// range).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// let names: Vec<&str> = cfg.assignors().iter().map(|a| a.name()).collect();
    /// assert_eq!(names, ["range"]);
    /// ```
    pub fn assignors(&self) -> &[AssignorChoice] {
        &self.assignors
    }

    /// `check.crcs` (default true).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert!(cfg.check_crcs());
    /// ```
    pub fn check_crcs(&self) -> bool {
        self.check_crcs
    }

    /// `request.timeout.ms` (default 30 s).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.request_timeout(), std::time::Duration::from_secs(30));
    /// ```
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// `default.api.timeout.ms` (default 60 s): how long blocking calls
    /// without a timeout of their own wait.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.default_api_timeout(), std::time::Duration::from_secs(60));
    /// ```
    pub fn default_api_timeout(&self) -> Duration {
        self.default_api_timeout
    }

    /// `retry.backoff.ms` and `retry.backoff.max.ms` (default 100 ms, 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.retry_backoff(), (Duration::from_millis(100), Duration::from_secs(1)));
    /// ```
    pub fn retry_backoff(&self) -> (Duration, Duration) {
        (self.retry_backoff, self.retry_backoff_max)
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` (default 50 ms,
    /// 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.reconnect_backoff(), (Duration::from_millis(50), Duration::from_secs(1)));
    /// ```
    pub fn reconnect_backoff(&self) -> (Duration, Duration) {
        (self.reconnect_backoff, self.reconnect_backoff_max)
    }

    /// `socket.connection.setup.timeout.ms` (default 10 s).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.connect_timeout(), std::time::Duration::from_secs(10));
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// `metadata.max.age.ms` (default 5 min).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert_eq!(cfg.metadata_max_age(), std::time::Duration::from_secs(300));
    /// ```
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }

    /// `exclude.internal.topics` (default true): pattern subscriptions do
    /// not match internal topics such as `__consumer_offsets`.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert!(cfg.exclude_internal_topics());
    /// ```
    pub fn exclude_internal_topics(&self) -> bool {
        self.exclude_internal_topics
    }

    /// `allow.auto.create.topics` (default true): subscribing to a missing
    /// topic may create it, where the broker allows that.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").config().unwrap();
    /// assert!(cfg.allow_auto_create_topics());
    /// ```
    pub fn allow_auto_create_topics(&self) -> bool {
        self.allow_auto_create_topics
    }
}

/// Builds the consumer's settings; every setting names its Java config and
/// default. Mistakes are kept and reported by [`config`](Self::config).
///
/// ```
/// use std::time::Duration;
/// use kafka_client::consumer::config::{AssignorChoice, ConsumerBuilder, OffsetReset};
///
/// let cfg = ConsumerBuilder::new()
///     .bootstrap_servers("127.0.0.1:9092")
///     .group_id("billing")
///     .auto_offset_reset(OffsetReset::Earliest)
///     .enable_auto_commit(false)
///     .max_poll_records(100)
///     .assignors([AssignorChoice::RoundRobin, AssignorChoice::Range])
///     .session_timeout(Duration::from_secs(30))
///     .config()?;
/// assert_eq!(cfg.max_poll_records(), 100);
/// # Ok::<(), kafka_client::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerBuilder {
    bootstrap: Vec<String>,
    group_id: Option<String>,
    group_instance_id: Option<String>,
    client_id: String,
    client_rack: String,
    auto_offset_reset: OffsetReset,
    enable_auto_commit: Option<bool>,
    auto_commit_interval: Duration,
    max_poll_records: i64,
    max_poll_interval: Duration,
    session_timeout: Duration,
    heartbeat_interval: Duration,
    fetch_min_bytes: i64,
    fetch_max_wait: Duration,
    fetch_max_bytes: i64,
    max_partition_fetch_bytes: i64,
    isolation_level: IsolationLevel,
    assignors: Vec<AssignorChoice>,
    check_crcs: bool,
    request_timeout: Duration,
    default_api_timeout: Duration,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    reconnect_backoff: Option<Duration>,
    reconnect_backoff_max: Option<Duration>,
    connect_timeout: Duration,
    metadata_max_age: Duration,
    exclude_internal_topics: bool,
    allow_auto_create_topics: bool,
    pub(crate) env: crate::config::Environment,
    error: Option<ConfigError>,
}

impl Default for ConsumerBuilder {
    fn default() -> Self {
        ConsumerBuilder {
            bootstrap: Vec::new(),
            group_id: None,
            group_instance_id: None,
            client_id: String::new(),
            client_rack: String::new(),
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: None,
            auto_commit_interval: Duration::from_secs(5),
            max_poll_records: 500,
            max_poll_interval: Duration::from_secs(300),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            isolation_level: IsolationLevel::ReadUncommitted,
            assignors: vec![AssignorChoice::Range],
            check_crcs: true,
            request_timeout: Duration::from_secs(30),
            default_api_timeout: Duration::from_secs(60),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            reconnect_backoff: None,
            reconnect_backoff_max: None,
            connect_timeout: Duration::from_secs(10),
            metadata_max_age: Duration::from_secs(300),
            exclude_internal_topics: true,
            allow_auto_create_topics: true,
            env: crate::config::Environment::default(),
            error: None,
        }
    }
}

impl ConsumerBuilder {
    /// Java's defaults; only `bootstrap.servers` must be set.
    ///
    /// ```
    /// let err = kafka_client::consumer::config::ConsumerBuilder::new().config().unwrap_err();
    /// assert_eq!(err.field, "bootstrap.servers");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    crate::config::environment_setters!();

    /// `bootstrap.servers`: comma-separated `host:port` list (required).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("a:9092,b:9093").config().unwrap();
    /// assert_eq!(cfg.bootstrap_servers().len(), 2);
    /// ```
    pub fn bootstrap_servers(mut self, servers: impl AsRef<str>) -> Self {
        self.bootstrap = parse_list(servers.as_ref());
        self
    }

    /// `group.id`: the consumer group to join for `subscribe` and to commit
    /// offsets to (default: none). It may not be empty.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").group_id("billing").config().unwrap();
    /// assert_eq!(cfg.group_id(), Some("billing"));
    /// ```
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.group_id = Some(id.into());
        self
    }

    /// `group.instance.id`: a stable identity for static membership
    /// (KIP-345), so a restarted consumer gets its partitions back without a
    /// rebalance. Ignored without a `group.id`, as in Java.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let e = ConsumerBuilder::new().bootstrap_servers("h:9092").group_instance_id("a b").config().unwrap_err();
    /// assert_eq!(e.field, "group.instance.id");
    /// ```
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// `client.id` (default: chosen by the consumer, `consumer-<group>-<n>`
    /// as in Java).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").client_id("audit").config().unwrap();
    /// assert_eq!(cfg.client_id(), "audit");
    /// ```
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// `client.rack`: the consumer's rack, sent in fetches so that brokers
    /// configured with a replica selector can serve it from a nearby
    /// replica (default: none).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").client_rack("rack-2").config().unwrap();
    /// assert_eq!(cfg.client_rack(), Some("rack-2"));
    /// ```
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.client_rack = rack.into();
        self
    }

    /// `auto.offset.reset` (default latest).
    ///
    /// ```
    /// # use kafka_client::consumer::config::*;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.auto_offset_reset(OffsetReset::Earliest).config().unwrap();
    /// assert_eq!(cfg.auto_offset_reset(), OffsetReset::Earliest);
    /// ```
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// `enable.auto.commit`: commit the positions of returned records in
    /// the background every `auto.commit.interval.ms` (default true with a
    /// `group.id`; true without one is an error).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let e = ConsumerBuilder::new().bootstrap_servers("h:9092").enable_auto_commit(true).config().unwrap_err();
    /// assert_eq!(e.field, "enable.auto.commit");
    /// ```
    pub fn enable_auto_commit(mut self, enabled: bool) -> Self {
        self.enable_auto_commit = Some(enabled);
        self
    }

    /// `auto.commit.interval.ms` (default 5 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.auto_commit_interval(Duration::from_secs(1)).config().unwrap();
    /// assert_eq!(cfg.auto_commit_interval(), Duration::from_secs(1));
    /// ```
    pub fn auto_commit_interval(mut self, d: Duration) -> Self {
        self.auto_commit_interval = d;
        self
    }

    /// `max.poll.records`: the most records one `poll` returns (default
    /// 500, at least 1). Fetching is not affected: records fetched beyond
    /// it wait for the next `poll`.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// assert!(ConsumerBuilder::new().bootstrap_servers("h:9092").max_poll_records(0).config().is_err());
    /// ```
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.max_poll_records = i64::try_from(n).unwrap_or(i64::MAX);
        self
    }

    /// `max.poll.interval.ms`: the longest the application may go between
    /// polls before the consumer leaves its group (default 5 min).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.max_poll_interval(Duration::from_secs(600)).config().unwrap();
    /// assert_eq!(cfg.max_poll_interval(), Duration::from_secs(600));
    /// ```
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }

    /// `session.timeout.ms`: how long the coordinator waits for a heartbeat
    /// before removing the consumer from its group (default 45 s; the
    /// broker bounds it by `group.min/max.session.timeout.ms`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.session_timeout(Duration::from_secs(10)).config().unwrap();
    /// assert_eq!(cfg.session_timeout(), Duration::from_secs(10));
    /// ```
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.session_timeout = d;
        self
    }

    /// `heartbeat.interval.ms` (default 3 s); must be below
    /// `session.timeout.ms`, and is best kept to a third of it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let e = ConsumerBuilder::new()
    ///     .bootstrap_servers("h:9092")
    ///     .session_timeout(Duration::from_secs(6))
    ///     .heartbeat_interval(Duration::from_secs(6))
    ///     .config()
    ///     .unwrap_err();
    /// assert_eq!(e.field, "heartbeat.interval.ms");
    /// ```
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }

    /// `fetch.min.bytes`: the broker holds a fetch until this much data is
    /// there or `fetch.max.wait.ms` passes (default 1).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").fetch_min_bytes(65_536).config().unwrap();
    /// assert_eq!(cfg.fetch_min_bytes(), 65_536);
    /// ```
    pub fn fetch_min_bytes(mut self, bytes: usize) -> Self {
        self.fetch_min_bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// `fetch.max.wait.ms` (default 500 ms). Keep it well below
    /// `request.timeout.ms`, which a held fetch counts against.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.fetch_max_wait(Duration::from_millis(100)).config().unwrap();
    /// assert_eq!(cfg.fetch_max_wait(), Duration::from_millis(100));
    /// ```
    pub fn fetch_max_wait(mut self, d: Duration) -> Self {
        self.fetch_max_wait = d;
        self
    }

    /// `fetch.max.bytes`: the most data one fetch returns (default 50 MiB);
    /// not a hard limit, since the first batch is returned whole.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").fetch_max_bytes(8 << 20).config().unwrap();
    /// assert_eq!(cfg.fetch_max_bytes(), 8 << 20);
    /// ```
    pub fn fetch_max_bytes(mut self, bytes: usize) -> Self {
        self.fetch_max_bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// `max.partition.fetch.bytes`: the most data one fetch returns per
    /// partition (default 1 MiB); not a hard limit either.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.max_partition_fetch_bytes(4 << 20).config().unwrap();
    /// assert_eq!(cfg.max_partition_fetch_bytes(), 4 << 20);
    /// ```
    pub fn max_partition_fetch_bytes(mut self, bytes: usize) -> Self {
        self.max_partition_fetch_bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// `isolation.level` (default read_uncommitted; see [`IsolationLevel`]).
    ///
    /// ```
    /// # use kafka_client::consumer::config::*;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.isolation_level(IsolationLevel::ReadCommitted).config().unwrap();
    /// assert_eq!(cfg.isolation_level(), IsolationLevel::ReadCommitted);
    /// ```
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = level;
        self
    }

    /// `partition.assignment.strategy`: the assignors offered to the group,
    /// most preferred first (default: range). The group uses the first one
    /// every member offers.
    ///
    /// ```
    /// # use kafka_client::consumer::config::*;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.assignors([AssignorChoice::RoundRobin]).config().unwrap();
    /// assert_eq!(cfg.assignors()[0].name(), "roundrobin");
    /// ```
    pub fn assignors(mut self, assignors: impl IntoIterator<Item = AssignorChoice>) -> Self {
        self.assignors = assignors.into_iter().collect();
        self
    }

    /// `check.crcs`: verify the CRC of every fetched batch (default true).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").check_crcs(false).config().unwrap();
    /// assert!(!cfg.check_crcs());
    /// ```
    pub fn check_crcs(mut self, check: bool) -> Self {
        self.check_crcs = check;
        self
    }

    /// `request.timeout.ms` (default 30 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.request_timeout(Duration::from_secs(5)).config().unwrap();
    /// assert_eq!(cfg.request_timeout(), Duration::from_secs(5));
    /// ```
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// `default.api.timeout.ms` (default 60 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.default_api_timeout(Duration::from_secs(20)).config().unwrap();
    /// assert_eq!(cfg.default_api_timeout(), Duration::from_secs(20));
    /// ```
    pub fn default_api_timeout(mut self, d: Duration) -> Self {
        self.default_api_timeout = d;
        self
    }

    /// `retry.backoff.ms` (default 100 ms), doubling per attempt up to
    /// `retry.backoff.max.ms` (default 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.retry_backoff(Duration::from_millis(50), Duration::from_secs(2)).config().unwrap();
    /// assert_eq!(cfg.retry_backoff(), (Duration::from_millis(50), Duration::from_secs(2)));
    /// ```
    pub fn retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.retry_backoff = base;
        self.retry_backoff_max = max;
        self
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` (50 ms, 1 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.reconnect_backoff(Duration::from_millis(20), Duration::from_secs(5)).config().unwrap();
    /// assert_eq!(cfg.reconnect_backoff(), (Duration::from_millis(20), Duration::from_secs(5)));
    /// ```
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.reconnect_backoff = Some(base);
        self.reconnect_backoff_max = Some(max);
        self
    }

    /// `socket.connection.setup.timeout.ms` (default 10 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.connect_timeout(Duration::from_secs(3)).config().unwrap();
    /// assert_eq!(cfg.connect_timeout(), Duration::from_secs(3));
    /// ```
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// `metadata.max.age.ms` (default 5 min).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let b = ConsumerBuilder::new().bootstrap_servers("h:9092");
    /// let cfg = b.metadata_max_age(Duration::from_secs(30)).config().unwrap();
    /// assert_eq!(cfg.metadata_max_age(), Duration::from_secs(30));
    /// ```
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.metadata_max_age = d;
        self
    }

    /// `exclude.internal.topics` (default true).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").exclude_internal_topics(false).config().unwrap();
    /// assert!(!cfg.exclude_internal_topics());
    /// ```
    pub fn exclude_internal_topics(mut self, exclude: bool) -> Self {
        self.exclude_internal_topics = exclude;
        self
    }

    /// `allow.auto.create.topics` (default true).
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let cfg = ConsumerBuilder::new().bootstrap_servers("h:9092").allow_auto_create_topics(false).config().unwrap();
    /// assert!(!cfg.allow_auto_create_topics());
    /// ```
    pub fn allow_auto_create_topics(mut self, allow: bool) -> Self {
        self.allow_auto_create_topics = allow;
        self
    }

    /// Sets one setting by its Java name. Unknown names are an error at
    /// [`config`](Self::config), as are settings this client does not
    /// support yet (`security.protocol` other than PLAINTEXT, `sasl.*`,
    /// `ssl.*`, `group.protocol=consumer`, the sticky assignors) and Java
    /// classes (`key.deserializer`, `value.deserializer`). The first error
    /// is the one reported.
    ///
    /// ```
    /// # use kafka_client::consumer::config::ConsumerBuilder;
    /// let e = ConsumerBuilder::new()
    ///     .bootstrap_servers("h:9092")
    ///     .set("partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor")
    ///     .config()
    ///     .unwrap_err();
    /// assert_eq!(e.field, "partition.assignment.strategy");
    /// assert!(e.reason.contains("not supported yet"));
    /// ```
    pub fn set(mut self, key: &str, value: &str) -> Self {
        if self.error.is_none()
            && let Err(e) = self.apply(key, value)
        {
            self.error = Some(e);
        }
        self
    }

    /// Builds from Java-style properties.
    ///
    /// ```
    /// use kafka_client::consumer::config::{ConsumerBuilder, OffsetReset};
    ///
    /// let cfg = ConsumerBuilder::from_properties([
    ///     ("bootstrap.servers", "h:9092"),
    ///     ("group.id", "billing"),
    ///     ("auto.offset.reset", "earliest"),
    ///     ("enable.auto.commit", "false"),
    /// ])
    /// .config()
    /// .unwrap();
    /// assert_eq!(cfg.auto_offset_reset(), OffsetReset::Earliest);
    /// assert!(!cfg.enable_auto_commit());
    /// ```
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        props.into_iter().fold(ConsumerBuilder::default(), |b, (k, v)| b.set(k, v))
    }

    fn apply(&mut self, key: &str, v: &str) -> Result<(), ConfigError> {
        refuse_unsupported(key, v)?;
        // Java trims every string value.
        let text = v.trim();
        match key {
            "bootstrap.servers" => self.bootstrap = parse_list(v),
            "group.id" => self.group_id = Some(text.to_string()),
            "group.instance.id" => self.group_instance_id = Some(text.to_string()),
            "client.id" => self.client_id = text.to_string(),
            "client.rack" => self.client_rack = text.to_string(),
            "auto.offset.reset" => self.auto_offset_reset = OffsetReset::parse(key, v)?,
            "enable.auto.commit" => self.enable_auto_commit = Some(parse_bool(key, v)?),
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_int_ms(key, v, 0)?,
            "max.poll.records" => self.max_poll_records = parse_int(key, v, 1, INT_MAX)?,
            "max.poll.interval.ms" => self.max_poll_interval = parse_int_ms(key, v, 1)?,
            "session.timeout.ms" => self.session_timeout = parse_int_ms(key, v, 0)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_int_ms(key, v, 0)?,
            "fetch.min.bytes" => self.fetch_min_bytes = parse_int(key, v, 0, INT_MAX)?,
            "fetch.max.wait.ms" => self.fetch_max_wait = parse_int_ms(key, v, 0)?,
            "fetch.max.bytes" => self.fetch_max_bytes = parse_int(key, v, 0, INT_MAX)?,
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = parse_int(key, v, 0, INT_MAX)?,
            "isolation.level" => self.isolation_level = IsolationLevel::parse(key, v)?,
            "partition.assignment.strategy" => {
                self.assignors =
                    parse_list(v).iter().map(|a| AssignorChoice::parse(key, a)).collect::<Result<_, _>>()?
            }
            "check.crcs" => self.check_crcs = parse_bool(key, v)?,
            "request.timeout.ms" => self.request_timeout = parse_int_ms(key, v, 0)?,
            "default.api.timeout.ms" => self.default_api_timeout = parse_int_ms(key, v, 0)?,
            "retry.backoff.ms" => self.retry_backoff = parse_ms(key, v)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(key, v)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = Some(parse_ms(key, v)?),
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = Some(parse_ms(key, v)?),
            "socket.connection.setup.timeout.ms" => self.connect_timeout = parse_ms(key, v)?,
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(key, v)?,
            "exclude.internal.topics" => self.exclude_internal_topics = parse_bool(key, v)?,
            "allow.auto.create.topics" => self.allow_auto_create_topics = parse_bool(key, v)?,
            "group.protocol" => match text.to_ascii_lowercase().as_str() {
                "classic" => {}
                "consumer" => {
                    return Err(ConfigError::new(key, "the consumer group protocol (KIP-848) is not supported yet"));
                }
                _ => return Err(ConfigError::new(key, format!("must be classic or consumer, got {v:?}"))),
            },
            "group.remote.assignor" => {
                return Err(ConfigError::new(key, "applies to group.protocol=consumer, which is not supported yet"));
            }
            "key.deserializer" | "value.deserializer" => {
                return Err(ConfigError::new(
                    key,
                    "deserializers are Rust types here: records carry key and value bytes to decode as you wish",
                ));
            }
            "security.protocol" => {}
            other => return Err(ConfigError::new(other, "unknown consumer setting")),
        }
        Ok(())
    }

    /// Validates the settings and returns them: what `build` uses.
    ///
    /// ```
    /// use kafka_client::consumer::config::ConsumerBuilder;
    ///
    /// let b = ConsumerBuilder::from_properties([("bootstrap.servers", "h:9092"), ("group.id", " ")]);
    /// assert_eq!(b.config().unwrap_err().field, "group.id");
    /// ```
    pub fn config(&self) -> Result<ConsumerConfig, ConfigError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.bootstrap.is_empty() {
            return Err(ConfigError::new("bootstrap.servers", "at least one host:port is required"));
        }
        if let Some(bad) = self
            .bootstrap
            .iter()
            .find(|s| s.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err()))
        {
            return Err(ConfigError::new("bootstrap.servers", format!("{bad:?} is not host:port")));
        }
        // Java refuses an empty group id when the consumer is created; no
        // group at all is a different, valid, setting.
        if self.group_id.as_deref().is_some_and(|g| g.trim().is_empty()) {
            return Err(ConfigError::new("group.id", "should not be an empty string or whitespace"));
        }
        if let Some(id) = &self.group_instance_id {
            validate_group_instance_id(id)?;
        }
        let enable_auto_commit = match (&self.group_id, self.enable_auto_commit) {
            (None, Some(true)) => {
                return Err(ConfigError::new(
                    "enable.auto.commit",
                    "cannot be set to true when default group id (null) is used",
                ));
            }
            (None, _) => false,
            (Some(_), explicit) => explicit.unwrap_or(true),
        };
        for (field, d, min_ms) in [
            ("auto.commit.interval.ms", self.auto_commit_interval, 0),
            ("max.poll.interval.ms", self.max_poll_interval, 1),
            ("session.timeout.ms", self.session_timeout, 0),
            ("heartbeat.interval.ms", self.heartbeat_interval, 0),
            ("fetch.max.wait.ms", self.fetch_max_wait, 0),
            ("request.timeout.ms", self.request_timeout, 0),
            ("default.api.timeout.ms", self.default_api_timeout, 0),
        ] {
            check_int_ms(field, d, min_ms)?;
        }
        // Java's Heartbeat refuses this; a session could expire between two
        // heartbeats.
        if self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::new(
                "heartbeat.interval.ms",
                format!(
                    "must be lower than session.timeout.ms ({} ms), ideally a third of it",
                    self.session_timeout.as_millis()
                ),
            ));
        }
        let max_poll_records = usize::try_from(check_int("max.poll.records", self.max_poll_records, 1)?).unwrap_or(1);
        let fetch_min_bytes = check_int("fetch.min.bytes", self.fetch_min_bytes, 0)?;
        let fetch_max_bytes = check_int("fetch.max.bytes", self.fetch_max_bytes, 0)?;
        let max_partition_fetch_bytes = check_int("max.partition.fetch.bytes", self.max_partition_fetch_bytes, 0)?;
        self.check_assignors()?;
        let reconnect_backoff = self.reconnect_backoff.unwrap_or(Duration::from_millis(50));
        // Java: a base set without a maximum turns exponential backoff off.
        let reconnect_backoff_max = match (self.reconnect_backoff_max, self.reconnect_backoff) {
            (Some(max), _) => max,
            (None, Some(base)) => base,
            (None, None) => Duration::from_secs(1),
        };
        Ok(ConsumerConfig {
            bootstrap_servers: self.bootstrap.clone(),
            group_id: self.group_id.clone(),
            group_instance_id: self.group_instance_id.clone(),
            client_id: self.client_id.clone(),
            client_rack: Some(self.client_rack.clone()).filter(|r| !r.is_empty()),
            auto_offset_reset: self.auto_offset_reset,
            enable_auto_commit,
            auto_commit_interval: self.auto_commit_interval,
            max_poll_records,
            max_poll_interval: self.max_poll_interval,
            session_timeout: self.session_timeout,
            heartbeat_interval: self.heartbeat_interval,
            fetch_min_bytes,
            fetch_max_wait_ms: millis_i32(self.fetch_max_wait),
            fetch_max_bytes,
            max_partition_fetch_bytes,
            isolation_level: self.isolation_level,
            assignors: self.assignors.clone(),
            check_crcs: self.check_crcs,
            request_timeout: self.request_timeout,
            default_api_timeout: self.default_api_timeout,
            retry_backoff: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max.max(self.retry_backoff),
            reconnect_backoff,
            reconnect_backoff_max: reconnect_backoff_max.max(reconnect_backoff),
            connect_timeout: self.connect_timeout,
            metadata_max_age: self.metadata_max_age,
            exclude_internal_topics: self.exclude_internal_topics,
            allow_auto_create_topics: self.allow_auto_create_topics,
        })
    }

    fn check_assignors(&self) -> Result<(), ConfigError> {
        const KEY: &str = "partition.assignment.strategy";
        if self.assignors.is_empty() {
            return Err(ConfigError::new(KEY, "must configure at least one partition assignor"));
        }
        for (i, a) in self.assignors.iter().enumerate() {
            let name = a.name();
            if name.is_empty() {
                return Err(ConfigError::new(KEY, "an assignor has an empty name"));
            }
            // The group picks a protocol by name; two with one name would be
            // indistinguishable.
            if self.assignors[..i].iter().any(|b| b.name() == name) {
                return Err(ConfigError::new(KEY, format!("the assignor name {name:?} is used more than once")));
            }
            if !a.assignor().supported_protocols().contains(&RebalanceProtocol::Eager) {
                return Err(ConfigError::new(
                    KEY,
                    format!("assignor {name:?} needs cooperative rebalancing, which is not supported yet"),
                ));
            }
        }
        Ok(())
    }
}

/// An INT setting in milliseconds, at least `min_ms`.
fn parse_int_ms(key: &str, v: &str, min_ms: i64) -> Result<Duration, ConfigError> {
    parse_int(key, v, min_ms, INT_MAX).map(|n| Duration::from_millis(n as u64))
}

fn check_int_ms(key: &str, d: Duration, min_ms: u128) -> Result<(), ConfigError> {
    let ms = d.as_millis();
    if ms < min_ms || ms > INT_MAX as u128 {
        return Err(ConfigError::new(key, format!("{ms} ms is outside [{min_ms}, {INT_MAX}]")));
    }
    Ok(())
}

fn check_int(key: &str, n: i64, min: i64) -> Result<i32, ConfigError> {
    i32::try_from(n)
        .ok()
        .filter(|&n| i64::from(n) >= min)
        .ok_or_else(|| ConfigError::new(key, format!("{n} is outside [{min}, {INT_MAX}]")))
}

/// Milliseconds of a duration already checked by [`check_int_ms`].
fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Java's `JoinGroupRequest.validateGroupInstanceId`: the rules for topic
/// names, since brokers use the id in internal keys.
fn validate_group_instance_id(id: &str) -> Result<(), ConfigError> {
    const KEY: &str = "group.instance.id";
    if id.is_empty() {
        return Err(ConfigError::new(KEY, "can't be empty"));
    }
    if id == "." || id == ".." {
        return Err(ConfigError::new(KEY, "cannot be \".\" or \"..\""));
    }
    if id.len() > 249 {
        return Err(ConfigError::new(KEY, format!("can't be longer than 249 characters, got {}", id.len())));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err(ConfigError::new(
            KEY,
            format!("{id:?} contains a character other than ASCII alphanumerics, '.', '_' and '-'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::assignor::{Assignment, ClusterTopics, Subscription};
    use std::collections::BTreeMap;

    fn base() -> ConsumerBuilder {
        ConsumerBuilder::default().bootstrap_servers("127.0.0.1:9092")
    }

    fn props(extra: &[(&str, &str)]) -> Result<ConsumerConfig, ConfigError> {
        let mut all = vec![("bootstrap.servers", "h:1")];
        all.extend_from_slice(extra);
        ConsumerBuilder::from_properties(all).config()
    }

    #[test]
    fn java_defaults() {
        let c = base().group_id("g").config().unwrap();
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert!(c.enable_auto_commit);
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert_eq!((c.max_poll_records, c.fetch_min_bytes), (500, 1));
        assert_eq!((c.fetch_max_bytes, c.max_partition_fetch_bytes), (52_428_800, 1_048_576));
        assert_eq!(c.auto_commit_interval, Duration::from_secs(5));
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert_eq!((c.session_timeout, c.heartbeat_interval), (Duration::from_secs(45), Duration::from_secs(3)));
        assert_eq!((c.fetch_max_wait_ms, c.fetch_max_wait()), (500, Duration::from_millis(500)));
        assert_eq!((c.request_timeout, c.default_api_timeout), (Duration::from_secs(30), Duration::from_secs(60)));
        assert_eq!((c.retry_backoff, c.retry_backoff_max), (Duration::from_millis(100), Duration::from_secs(1)));
        assert_eq!((c.reconnect_backoff, c.reconnect_backoff_max), (Duration::from_millis(50), Duration::from_secs(1)));
        assert_eq!(c.metadata_max_age, Duration::from_secs(300));
        assert!(c.check_crcs && c.exclude_internal_topics && c.allow_auto_create_topics);
        assert_eq!(c.client_rack, None);
        assert_eq!(c.assignors.iter().map(AssignorChoice::name).collect::<Vec<_>>(), ["range"]);
    }

    #[test]
    fn auto_commit_follows_the_group() {
        // Without a group the default quietly turns off; asking for it is an error.
        assert!(!base().config().unwrap().enable_auto_commit);
        let e = props(&[("enable.auto.commit", "true")]).unwrap_err();
        assert_eq!(e.field, "enable.auto.commit");
        assert!(!props(&[("enable.auto.commit", "false")]).unwrap().enable_auto_commit);
        assert!(!props(&[("group.id", "g"), ("enable.auto.commit", "FALSE")]).unwrap().enable_auto_commit);
    }

    #[test]
    fn group_ids_are_checked() {
        assert_eq!(props(&[("group.id", "")]).unwrap_err().field, "group.id");
        assert_eq!(base().group_id("  ").config().unwrap_err().field, "group.id");
        // Java trims property values.
        assert_eq!(props(&[("group.id", " g ")]).unwrap().group_id.as_deref(), Some("g"));
        for bad in ["", ".", "..", "a b", "é", &"x".repeat(250)] {
            let e = base().group_id("g").group_instance_id(bad).config().unwrap_err();
            assert_eq!(e.field, "group.instance.id", "{bad:?}");
        }
        let ok = base().group_id("g").group_instance_id("host-1.a_b").config().unwrap();
        assert_eq!(ok.group_instance_id.as_deref(), Some("host-1.a_b"));
    }

    #[test]
    fn heartbeat_must_be_below_the_session_timeout() {
        let e = base()
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(10))
            .config()
            .unwrap_err();
        assert_eq!(e.field, "heartbeat.interval.ms");
        assert!(e.reason.contains("session.timeout.ms"), "{e}");
        let e = props(&[("session.timeout.ms", "2000")]).unwrap_err();
        assert_eq!(e.field, "heartbeat.interval.ms", "the default heartbeat no longer fits");
        assert!(props(&[("session.timeout.ms", "2000"), ("heartbeat.interval.ms", "500")]).is_ok());
    }

    #[test]
    fn int_settings_fit_their_wire_fields() {
        let e = base().max_poll_interval(Duration::from_millis(1 << 31)).config().unwrap_err();
        assert_eq!(e.field, "max.poll.interval.ms");
        assert_eq!(base().max_poll_interval(Duration::ZERO).config().unwrap_err().field, "max.poll.interval.ms");
        assert_eq!(base().fetch_max_bytes(1 << 31).config().unwrap_err().field, "fetch.max.bytes");
        assert_eq!(props(&[("session.timeout.ms", "2147483648")]).unwrap_err().field, "session.timeout.ms");
        assert_eq!(props(&[("max.poll.records", "0")]).unwrap_err().field, "max.poll.records");
        assert_eq!(props(&[("fetch.min.bytes", "-1")]).unwrap_err().field, "fetch.min.bytes");
        let c = base().fetch_max_bytes(i32::MAX as usize).config().unwrap();
        assert_eq!((c.fetch_max_bytes, c.fetch_max_bytes()), (i32::MAX, i32::MAX as usize));
    }

    #[test]
    fn enums_read_like_java() {
        let c = props(&[("auto.offset.reset", "earliest"), ("isolation.level", "read_committed")]).unwrap();
        assert_eq!((c.auto_offset_reset, c.isolation_level), (OffsetReset::Earliest, IsolationLevel::ReadCommitted));
        assert_eq!(props(&[("auto.offset.reset", "none")]).unwrap().auto_offset_reset, OffsetReset::None);
        // Java's validators compare exactly.
        assert_eq!(props(&[("auto.offset.reset", "EARLIEST")]).unwrap_err().field, "auto.offset.reset");
        assert_eq!(props(&[("auto.offset.reset", "smallest")]).unwrap_err().field, "auto.offset.reset");
        let e = props(&[("auto.offset.reset", "by_duration:PT1H")]).unwrap_err();
        assert!(e.reason.contains("not supported yet"), "{e}");
        assert_eq!(props(&[("isolation.level", "READ_COMMITTED")]).unwrap_err().field, "isolation.level");
        // group.protocol is case-insensitive in Java.
        assert!(props(&[("group.protocol", "CLASSIC")]).is_ok());
        let e = props(&[("group.protocol", "consumer")]).unwrap_err();
        assert!(e.field == "group.protocol" && e.reason.contains("not supported yet"), "{e}");
        assert_eq!(props(&[("group.protocol", "share")]).unwrap_err().field, "group.protocol");
        assert_eq!(props(&[("group.remote.assignor", "uniform")]).unwrap_err().field, "group.remote.assignor");
    }

    #[test]
    fn assignors_are_a_preference_list() {
        let c = props(&[(
            "partition.assignment.strategy",
            "org.apache.kafka.clients.consumer.RoundRobinAssignor, org.apache.kafka.clients.consumer.RangeAssignor",
        )])
        .unwrap();
        assert_eq!(c.assignors.iter().map(AssignorChoice::name).collect::<Vec<_>>(), ["roundrobin", "range"]);
        let c = props(&[("partition.assignment.strategy", "range,roundrobin")]).unwrap();
        assert_eq!(c.assignors.len(), 2);
        for sticky in ["org.apache.kafka.clients.consumer.CooperativeStickyAssignor", "sticky", "cooperative-sticky"] {
            let e = props(&[("partition.assignment.strategy", sticky)]).unwrap_err();
            assert!(e.reason.contains("not supported yet"), "{e}");
        }
        let e = props(&[("partition.assignment.strategy", "com.example.MyAssignor")]).unwrap_err();
        assert!(e.reason.contains("Assignor trait"), "{e}");
        assert_eq!(props(&[("partition.assignment.strategy", "")]).unwrap_err().field, "partition.assignment.strategy");
        assert_eq!(
            props(&[("partition.assignment.strategy", "range,range")]).unwrap_err().field,
            "partition.assignment.strategy"
        );
    }

    #[derive(Debug)]
    struct Custom(&'static str, &'static [RebalanceProtocol]);

    impl Assignor for Custom {
        fn name(&self) -> &str {
            self.0
        }
        fn supported_protocols(&self) -> &[RebalanceProtocol] {
            self.1
        }
        fn assign(&self, _: &ClusterTopics, subs: &BTreeMap<String, Subscription>) -> BTreeMap<String, Assignment> {
            subs.keys().map(|m| (m.clone(), Assignment::default())).collect()
        }
    }

    #[test]
    fn custom_assignors_must_be_eager_and_distinct() {
        let eager = AssignorChoice::Custom(Arc::new(Custom("mine", &[RebalanceProtocol::Eager])));
        let c = base().assignors([eager.clone(), AssignorChoice::Range]).config().unwrap();
        assert_eq!(c.assignors[0].assignor().name(), "mine");
        let both = AssignorChoice::Custom(Arc::new(Custom(
            "both",
            &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative],
        )));
        assert!(base().assignors([both]).config().is_ok());
        let coop = AssignorChoice::Custom(Arc::new(Custom("coop", &[RebalanceProtocol::Cooperative])));
        let e = base().assignors([coop]).config().unwrap_err();
        assert!(e.reason.contains("cooperative"), "{e}");
        let clash = AssignorChoice::Custom(Arc::new(Custom("range", &[RebalanceProtocol::Eager])));
        assert!(base().assignors([AssignorChoice::Range, clash]).config().is_err());
        assert!(base().assignors([]).config().is_err());
    }

    #[test]
    fn reconnect_backoff_follows_java() {
        // A base without a maximum disables exponential backoff.
        let c = props(&[("reconnect.backoff.ms", "200")]).unwrap();
        assert_eq!(
            (c.reconnect_backoff, c.reconnect_backoff_max),
            (Duration::from_millis(200), Duration::from_millis(200))
        );
        let c = props(&[("reconnect.backoff.ms", "200"), ("reconnect.backoff.max.ms", "5000")]).unwrap();
        assert_eq!(c.reconnect_backoff_max, Duration::from_secs(5));
        let c = props(&[("retry.backoff.ms", "2000")]).unwrap();
        assert_eq!((c.retry_backoff, c.retry_backoff_max), (Duration::from_secs(2), Duration::from_secs(2)));
    }

    #[test]
    fn properties_are_checked() {
        let bad = |k: &str, v: &str| props(&[(k, v)]).unwrap_err();
        assert_eq!(bad("no.such.thing", "1").field, "no.such.thing");
        assert_eq!(bad("max.poll.interval.ms", "abc").field, "max.poll.interval.ms");
        assert_eq!(bad("check.crcs", "yes").field, "check.crcs");
        assert_eq!(bad("security.protocol", "SSL").field, "security.protocol");
        assert_eq!(bad("ssl.truststore.location", "/x").field, "ssl.truststore.location");
        assert_eq!(bad("sasl.mechanism", "PLAIN").field, "sasl.mechanism");
        let e = bad("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        assert!(e.field == "key.deserializer" && e.reason.contains("Rust types"), "{e}");
        assert_eq!(bad("value.deserializer", "x").field, "value.deserializer");
        assert_eq!(ConsumerBuilder::default().config().unwrap_err().field, "bootstrap.servers");
        assert_eq!(bad("bootstrap.servers", "nohost").field, "bootstrap.servers");
        // The first error is kept even when later settings are fine.
        let e = ConsumerBuilder::from_properties([("acks", "all"), ("bootstrap.servers", "h:1")]).config().unwrap_err();
        assert_eq!(e.field, "acks");

        let ok = props(&[
            ("bootstrap.servers", "a:1,b:2"),
            ("group.id", "g"),
            ("group.instance.id", "i-1"),
            ("client.id", "c"),
            ("client.rack", "r1"),
            ("security.protocol", "plaintext"),
            ("max.poll.records", "10"),
            ("fetch.max.wait.ms", "100"),
            ("check.crcs", "false"),
            ("exclude.internal.topics", "false"),
            ("allow.auto.create.topics", "false"),
            ("socket.connection.setup.timeout.ms", "2500"),
            ("metadata.max.age.ms", "1000"),
            ("default.api.timeout.ms", "1000"),
            ("request.timeout.ms", "1000"),
            ("auto.commit.interval.ms", "100"),
            ("fetch.min.bytes", "10"),
            ("fetch.max.bytes", "100"),
            ("max.partition.fetch.bytes", "50"),
        ])
        .unwrap();
        assert_eq!(ok.bootstrap_servers, ["a:1", "b:2"]);
        assert_eq!((ok.client_id.as_str(), ok.client_rack.as_deref()), ("c", Some("r1")));
        assert_eq!(
            (ok.max_poll_records, ok.fetch_min_bytes, ok.fetch_max_bytes, ok.max_partition_fetch_bytes),
            (10, 10, 100, 50)
        );
        assert!(!ok.check_crcs && !ok.exclude_internal_topics && !ok.allow_auto_create_topics);
        assert_eq!(ok.connect_timeout, Duration::from_millis(2500));
    }
}
