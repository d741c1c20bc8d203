//! The producer's settings: a typed builder and Java-style properties,
//! validated once in [`ProducerBuilder::build`].
//!
//! Defaults and rules are the Java client's (Kafka 4.0): `acks=all`,
//! `linger.ms=5`, idempotence on by default — an explicit
//! `enable.idempotence=true` together with `acks` other than all,
//! `retries=0` or more than 5 requests in flight is an error naming the
//! fields, while the default is quietly turned off by such settings — and
//! `delivery.timeout.ms ≥ linger.ms + request.timeout.ms`.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::Compression;

use super::Producer;
use super::interceptor::ProducerInterceptor;
use super::partitioner::{DefaultPartitioner, DefaultPartitionerConfig, Partitioner, RoundRobinPartitioner};
use crate::config::{millis, parse_bool, parse_int, parse_list, parse_ms, refuse_unsupported};
use crate::error::{ConfigError, Error};

/// How many replicas must have a record before it counts as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: the producer does not wait for the broker at all.
    None,
    /// `acks=1`: the leader has written it.
    Leader,
    /// `acks=all` (or -1): every in-sync replica has it. The default.
    #[default]
    All,
}

impl Acks {
    /// The value sent in Produce requests.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Which partitioner places records without an explicit partition.
#[derive(Debug, Clone)]
pub enum PartitionerChoice {
    /// The Java client's default: murmur2 for keys, uniform sticky otherwise.
    Default,
    /// Round robin over available partitions (keys ignored).
    RoundRobin,
    /// Your own.
    Custom(Arc<dyn Partitioner>),
}

/// Validated producer settings.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) acks: Acks,
    pub(crate) linger: Duration,
    pub(crate) batch_size: usize,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block: Duration,
    pub(crate) compression: Compression,
    pub(crate) compression_level: Option<i32>,
    pub(crate) idempotence: bool,
    pub(crate) max_in_flight: usize,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) delivery_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_request_size: usize,
    pub(crate) metadata_max_age: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) partitioner: PartitionerChoice,
    pub(crate) partitioner_ignore_keys: bool,
    pub(crate) partitioner_adaptive: bool,
    pub(crate) transactional_id: Option<String>,
    pub(crate) transaction_timeout: Duration,
}

impl ProducerConfig {
    /// `transactional.id`, when the producer is transactional.
    pub fn transactional_id(&self) -> Option<&str> {
        self.transactional_id.as_deref()
    }

    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(&self) -> Duration {
        self.transaction_timeout
    }

    /// Whether the producer runs idempotently (after Java's defaulting rules).
    pub fn idempotence(&self) -> bool {
        self.idempotence
    }

    /// The acks setting.
    pub fn acks(&self) -> Acks {
        self.acks
    }

    /// `delivery.timeout.ms` after adjustment.
    pub fn delivery_timeout(&self) -> Duration {
        self.delivery_timeout
    }

    /// `buffer.memory`, in bytes.
    pub fn buffer_memory(&self) -> usize {
        self.buffer_memory
    }
}

/// Builds a [`Producer`]; every setting names its Java config and default.
///
/// ```no_run
/// # async fn demo() -> Result<(), kafka_client::Error> {
/// use std::time::Duration;
/// use kafka_client::producer::{Acks, Producer};
/// use kafka_protocol::Compression;
///
/// let producer = Producer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .acks(Acks::All)
///     .linger(Duration::from_millis(10))
///     .compression(Compression::Lz4)
///     .build()?;
/// # let _ = producer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ProducerBuilder {
    bootstrap: Vec<String>,
    client_id: String,
    acks: Option<Acks>,
    linger: Duration,
    batch_size: i64,
    buffer_memory: i64,
    max_block: Duration,
    compression: Compression,
    gzip_level: Option<i32>,
    lz4_level: Option<i32>,
    zstd_level: Option<i32>,
    idempotence: Option<bool>,
    max_in_flight: Option<i64>,
    retries: Option<i64>,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    delivery_timeout: Option<Duration>,
    request_timeout: Duration,
    max_request_size: i64,
    metadata_max_age: Duration,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    connect_timeout: Duration,
    partitioner: PartitionerChoice,
    partitioner_ignore_keys: bool,
    partitioner_adaptive: bool,
    availability_timeout: Duration,
    transactional_id: Option<String>,
    transaction_timeout: Duration,
    interceptors: Vec<Arc<dyn ProducerInterceptor>>,
    env: crate::config::Environment,
    error: Option<ConfigError>,
}

impl std::fmt::Debug for ProducerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder").field("bootstrap", &self.bootstrap).finish_non_exhaustive()
    }
}

impl Default for ProducerBuilder {
    fn default() -> Self {
        ProducerBuilder {
            bootstrap: Vec::new(),
            client_id: String::new(),
            acks: None,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 33_554_432,
            max_block: Duration::from_secs(60),
            compression: Compression::None,
            gzip_level: None,
            lz4_level: None,
            zstd_level: None,
            idempotence: None,
            max_in_flight: None,
            retries: None,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            delivery_timeout: None,
            request_timeout: Duration::from_secs(30),
            max_request_size: 1_048_576,
            metadata_max_age: Duration::from_secs(300),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            partitioner: PartitionerChoice::Default,
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            availability_timeout: Duration::ZERO,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
            interceptors: Vec::new(),
            env: crate::config::Environment::default(),
            error: None,
        }
    }
}

impl ProducerBuilder {
    crate::config::environment_setters!();

    /// `bootstrap.servers`: comma-separated `host:port` list (required).
    pub fn bootstrap_servers(mut self, servers: impl AsRef<str>) -> Self {
        self.bootstrap = parse_list(servers.as_ref());
        self
    }

    /// `client.id` (default: `producer-N`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// `acks` (default `all`).
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = Some(acks);
        self
    }

    /// `linger.ms`: how long a batch waits for more records (default 5 ms).
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// `batch.size` in bytes (default 16384).
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// `buffer.memory`: bytes of records buffered before `send` waits
    /// (default 32 MiB).
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// `max.block.ms`: how long `send` waits for metadata or buffer space
    /// (default 60 s).
    pub fn max_block(mut self, d: Duration) -> Self {
        self.max_block = d;
        self
    }

    /// `compression.type` (default none).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// `compression.gzip.level` / `compression.zstd.level` for the chosen
    /// codec (defaults 6 and 3). lz4 has no levels here (its fast
    /// compressor only); setting one is an error at `build`.
    pub fn compression_level(mut self, level: i32) -> Self {
        match self.compression {
            Compression::Gzip => self.gzip_level = Some(level),
            Compression::Zstd => self.zstd_level = Some(level),
            Compression::Lz4 => self.lz4_level = Some(level),
            _ => {
                self.error.get_or_insert(ConfigError::new(
                    "compression.type",
                    "set a codec with levels (gzip, zstd) before a level",
                ));
            }
        }
        self
    }

    /// `transactional.id` (default none): makes the producer transactional.
    /// Records are then sent only inside a transaction (see
    /// [`Producer::init_transactions`] and [`Producer::transaction`]), and a
    /// new producer with the same id fences this one. Needs idempotence:
    /// with `enable.idempotence=false`, or settings idempotence yields to
    /// (`acks` other than all, `retries=0`, more than 5 requests in
    /// flight), `build` fails.
    ///
    /// ```
    /// use kafka_client::producer::Producer;
    /// let cfg = Producer::builder().bootstrap_servers("h:9092").transactional_id("orders-1").config().unwrap();
    /// assert_eq!(cfg.transactional_id(), Some("orders-1"));
    /// ```
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        // An empty id is no id, as in Java.
        self.transactional_id = Some(id.into()).filter(|id| !id.is_empty());
        self
    }

    /// `transaction.timeout.ms` (default 60 s): how long the transaction
    /// coordinator lets a transaction stay open before aborting it (and
    /// fencing this producer). The broker caps it at
    /// `transaction.max.timeout.ms`.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// `enable.idempotence` (default true; see the module docs for the rules).
    pub fn idempotence(mut self, enabled: bool) -> Self {
        self.idempotence = Some(enabled);
        self
    }

    /// `max.in.flight.requests.per.connection` (default 5). With
    /// idempotence, up to 5 keep each partition's order across retries
    /// (sequence numbers); without it, a retried request can land after a
    /// later one, so order under retries holds only with 1.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = Some(i64::try_from(n).unwrap_or(i64::MAX));
        self
    }

    /// `retries` (default `i32::MAX`: retry until `delivery.timeout.ms`).
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = Some(i64::from(n));
        self
    }

    /// `retry.backoff.ms` (default 100 ms), doubling per attempt up to
    /// `retry.backoff.max.ms` (default 1 s).
    pub fn retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.retry_backoff = base;
        self.retry_backoff_max = max;
        self
    }

    /// `delivery.timeout.ms`: a record's whole life from `send` to its
    /// result (default 120 s).
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.delivery_timeout = Some(d);
        self
    }

    /// `request.timeout.ms` (default 30 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// `max.request.size` in bytes (default 1 MiB).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = i64::try_from(bytes).unwrap_or(i64::MAX);
        self
    }

    /// `metadata.max.age.ms` (default 5 min).
    pub fn metadata_max_age(mut self, d: Duration) -> Self {
        self.metadata_max_age = d;
        self
    }

    /// `reconnect.backoff.ms` and `reconnect.backoff.max.ms` (50 ms, 1 s).
    pub fn reconnect_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.reconnect_backoff = base;
        self.reconnect_backoff_max = max;
        self
    }

    /// The partitioner (default: Java's — murmur2 for keys, uniform sticky).
    pub fn partitioner(mut self, p: PartitionerChoice) -> Self {
        self.partitioner = p;
        self
    }

    /// Adds an interceptor; interceptors run in the order added.
    pub fn interceptor(mut self, i: Arc<dyn ProducerInterceptor>) -> Self {
        self.interceptors.push(i);
        self
    }

    /// Sets one setting by its Java name. Unknown names are an error at
    /// `build`, as are settings this client does not support yet
    /// (`security.protocol` other than PLAINTEXT, `sasl.*`, `ssl.*`).
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
    /// use kafka_client::producer::Producer;
    /// let b = Producer::from_properties([("bootstrap.servers", "h:9092"), ("acks", "1"), ("retries", "0")]);
    /// let cfg = b.config().unwrap();
    /// assert!(!cfg.idempotence(), "defaulted idempotence yields to acks=1");
    /// ```
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        props.into_iter().fold(ProducerBuilder::default(), |b, (k, v)| b.set(k, v))
    }

    fn apply(&mut self, key: &str, v: &str) -> Result<(), ConfigError> {
        refuse_unsupported(key, v)?;
        match key {
            "bootstrap.servers" => self.bootstrap = parse_list(v),
            "client.id" => self.client_id = v.to_string(),
            "acks" => {
                self.acks = Some(match v.trim() {
                    "all" | "-1" => Acks::All,
                    "1" => Acks::Leader,
                    "0" => Acks::None,
                    _ => return Err(ConfigError::new(key, format!("must be all, -1, 0 or 1, got {v:?}"))),
                })
            }
            "linger.ms" => self.linger = parse_ms(key, v)?,
            "batch.size" => self.batch_size = parse_int(key, v, 0, i64::from(i32::MAX))?,
            "buffer.memory" => self.buffer_memory = parse_int(key, v, 0, i64::MAX)?,
            "max.block.ms" => self.max_block = parse_ms(key, v)?,
            "compression.type" => {
                self.compression = Compression::from_name(v.trim()).ok_or_else(|| {
                    ConfigError::new(key, format!("must be none, gzip, snappy, lz4 or zstd, got {v:?}"))
                })?
            }
            "compression.gzip.level" => self.gzip_level = Some(parse_int(key, v, 1, 9)? as i32),
            "compression.lz4.level" => self.lz4_level = Some(parse_int(key, v, 1, 17)? as i32),
            "compression.zstd.level" => self.zstd_level = Some(parse_int(key, v, -131_072, 22)? as i32),
            "enable.idempotence" => self.idempotence = Some(parse_bool(key, v)?),
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight = Some(parse_int(key, v, 1, i64::from(i32::MAX))?)
            }
            "retries" => self.retries = Some(parse_int(key, v, 0, i64::from(i32::MAX))?),
            "retry.backoff.ms" => self.retry_backoff = parse_ms(key, v)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = parse_ms(key, v)?,
            "delivery.timeout.ms" => self.delivery_timeout = Some(parse_ms(key, v)?),
            "request.timeout.ms" => self.request_timeout = parse_ms(key, v)?,
            "max.request.size" => self.max_request_size = parse_int(key, v, 0, i64::from(i32::MAX))?,
            "metadata.max.age.ms" => self.metadata_max_age = parse_ms(key, v)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = parse_ms(key, v)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = parse_ms(key, v)?,
            "socket.connection.setup.timeout.ms" => self.connect_timeout = parse_ms(key, v)?,
            "partitioner.ignore.keys" => self.partitioner_ignore_keys = parse_bool(key, v)?,
            "partitioner.adaptive.partitioning.enable" => self.partitioner_adaptive = parse_bool(key, v)?,
            "partitioner.availability.timeout.ms" => self.availability_timeout = parse_ms(key, v)?,
            "partitioner.class" => {
                self.partitioner = match v.trim() {
                    "org.apache.kafka.clients.producer.RoundRobinPartitioner" | "round_robin" | "roundrobin" => {
                        PartitionerChoice::RoundRobin
                    }
                    "" | "default" => PartitionerChoice::Default,
                    other => {
                        return Err(ConfigError::new(
                            key,
                            format!("unknown partitioner {other:?}; implement the Partitioner trait for your own"),
                        ));
                    }
                }
            }
            "transactional.id" => {
                self.transactional_id = Some(v.to_string()).filter(|v| !v.is_empty());
            }
            "transaction.timeout.ms" => self.transaction_timeout = parse_ms(key, v)?,
            "key.serializer" | "value.serializer" => {
                return Err(ConfigError::new(
                    key,
                    "serializers are Rust types here: see ProducerRecord::key_with and the Serializer trait",
                ));
            }
            "security.protocol" => {}
            other => return Err(ConfigError::new(other, "unknown producer setting")),
        }
        Ok(())
    }

    /// Validates the settings and returns them (what `build` uses).
    pub fn config(&self) -> Result<ProducerConfig, ConfigError> {
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
        let acks = self.acks.unwrap_or(Acks::All);
        let max_in_flight = self.max_in_flight.unwrap_or(5);
        let retries = self.retries.unwrap_or(i64::from(i32::MAX));
        // Java's rule: explicit idempotence with conflicting settings is an
        // error naming them; the default yields to them quietly.
        let conflicts: Vec<&str> = [
            (acks != Acks::All).then_some("acks"),
            (retries == 0).then_some("retries"),
            (max_in_flight > 5).then_some("max.in.flight.requests.per.connection"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let idempotence = match self.idempotence {
            Some(true) if !conflicts.is_empty() => {
                return Err(ConfigError::new(
                    "enable.idempotence",
                    format!(
                        "the idempotent producer needs acks=all, retries > 0 and at most 5 requests in flight; conflicts with {}",
                        conflicts.join(", ")
                    ),
                ));
            }
            Some(explicit) => explicit,
            None => conflicts.is_empty(),
        };
        if self.transactional_id.is_some() && !idempotence {
            let why = if self.idempotence == Some(false) {
                "enable.idempotence=false".to_string()
            } else {
                conflicts.join(", ")
            };
            return Err(ConfigError::new(
                "transactional.id",
                format!("a transactional producer needs idempotence, which {why} turns off"),
            ));
        }
        let transaction_timeout_ms = millis(self.transaction_timeout);
        if self.transactional_id.is_some() && !(1..=i64::from(i32::MAX)).contains(&transaction_timeout_ms) {
            return Err(ConfigError::new("transaction.timeout.ms", "must be between 1 ms and i32::MAX ms"));
        }
        if self.lz4_level.is_some() {
            return Err(ConfigError::new(
                "compression.lz4.level",
                "lz4 levels are not supported: this client uses lz4's fast compressor",
            ));
        }
        if !self.availability_timeout.is_zero() {
            return Err(ConfigError::new(
                "partitioner.availability.timeout.ms",
                "only 0 is supported (unavailable means without a leader)",
            ));
        }
        let compression_level = match self.compression {
            Compression::Gzip => self.gzip_level,
            Compression::Zstd => self.zstd_level,
            _ => None,
        };
        let min_delivery = self.linger + self.request_timeout;
        let delivery_timeout = match self.delivery_timeout {
            Some(d) if d < min_delivery => {
                return Err(ConfigError::new(
                    "delivery.timeout.ms",
                    format!("must be at least linger.ms + request.timeout.ms = {} ms", min_delivery.as_millis()),
                ));
            }
            Some(d) => d,
            None => Duration::from_secs(120).max(min_delivery),
        };
        let partitioner = self.partitioner.clone();
        Ok(ProducerConfig {
            bootstrap_servers: self.bootstrap.clone(),
            client_id: self.client_id.clone(),
            acks,
            linger: self.linger,
            batch_size: self.batch_size.max(1) as usize,
            buffer_memory: self.buffer_memory.max(0) as usize,
            max_block: self.max_block,
            compression: self.compression,
            compression_level,
            idempotence,
            max_in_flight: max_in_flight.clamp(1, 1 << 20) as usize,
            retries: u32::try_from(retries).unwrap_or(u32::MAX),
            retry_backoff: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max.max(self.retry_backoff),
            delivery_timeout,
            request_timeout: self.request_timeout,
            max_request_size: self.max_request_size.max(0) as usize,
            metadata_max_age: self.metadata_max_age,
            reconnect_backoff: self.reconnect_backoff,
            reconnect_backoff_max: self.reconnect_backoff_max,
            connect_timeout: self.connect_timeout,
            partitioner,
            partitioner_ignore_keys: self.partitioner_ignore_keys,
            partitioner_adaptive: self.partitioner_adaptive,
            transactional_id: self.transactional_id.clone(),
            transaction_timeout: self.transaction_timeout,
        })
    }

    /// Validates the settings and starts the producer (its sender task runs
    /// on the current tokio runtime).
    pub fn build(self) -> Result<Producer, Error> {
        let cfg = self.config()?;
        let partitioner: Arc<dyn Partitioner> = match &cfg.partitioner {
            PartitionerChoice::Default => Arc::new(DefaultPartitioner::new(DefaultPartitionerConfig {
                batch_size: cfg.batch_size,
                ignore_keys: cfg.partitioner_ignore_keys,
                adaptive_partitioning: cfg.partitioner_adaptive,
            })),
            PartitionerChoice::RoundRobin => Arc::new(RoundRobinPartitioner::new()),
            PartitionerChoice::Custom(p) => p.clone(),
        };
        Producer::start(cfg, partitioner, self.interceptors, self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ProducerBuilder {
        ProducerBuilder::default().bootstrap_servers("127.0.0.1:9092")
    }

    #[test]
    fn java_defaults() {
        let c = base().config().unwrap();
        assert_eq!(c.acks, Acks::All);
        assert!(c.idempotence);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!((c.batch_size, c.buffer_memory, c.max_in_flight), (16_384, 33_554_432, 5));
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.max_request_size, 1_048_576);
    }

    #[test]
    fn explicit_idempotence_conflicts_name_the_fields() {
        let e = base().idempotence(true).acks(Acks::Leader).max_in_flight(6).config().unwrap_err();
        assert_eq!(e.field, "enable.idempotence");
        assert!(e.reason.contains("acks") && e.reason.contains("max.in.flight.requests.per.connection"), "{e}");
        let e = ProducerBuilder::from_properties([
            ("bootstrap.servers", "h:1"),
            ("enable.idempotence", "true"),
            ("retries", "0"),
        ])
        .config()
        .unwrap_err();
        assert!(e.reason.contains("retries"));
        // Left at its default, idempotence yields.
        assert!(!base().acks(Acks::None).config().unwrap().idempotence);
        assert!(!base().max_in_flight(10).config().unwrap().idempotence);
    }

    #[test]
    fn delivery_timeout_bounds() {
        let e = base().linger(Duration::from_secs(10)).delivery_timeout(Duration::from_secs(30)).config().unwrap_err();
        assert_eq!(e.field, "delivery.timeout.ms");
        // Defaulted, it grows to fit instead.
        let c = base().linger(Duration::from_secs(100)).config().unwrap();
        assert_eq!(c.delivery_timeout, Duration::from_secs(130));
    }

    #[test]
    fn properties_are_checked() {
        let bad = |k: &str, v: &str| {
            ProducerBuilder::from_properties([("bootstrap.servers", "h:1"), (k, v)]).config().unwrap_err()
        };
        assert_eq!(bad("acks", "2").field, "acks");
        assert_eq!(bad("linger.ms", "-5").field, "linger.ms");
        assert_eq!(bad("no.such.thing", "1").field, "no.such.thing");
        assert_eq!(bad("security.protocol", "SASL_SSL").field, "security.protocol");
        assert_eq!(bad("sasl.mechanism", "PLAIN").field, "sasl.mechanism");
        assert_eq!(bad("transaction.timeout.ms", "x").field, "transaction.timeout.ms");
        assert_eq!(bad("compression.type", "brotli").field, "compression.type");
        assert_eq!(bad("compression.lz4.level", "9").field, "compression.lz4.level");
        assert_eq!(ProducerBuilder::default().config().unwrap_err().field, "bootstrap.servers");
        assert_eq!(bad("bootstrap.servers", "nohost").field, "bootstrap.servers");
        let ok = ProducerBuilder::from_properties([
            ("bootstrap.servers", "a:1,b:2"),
            ("compression.type", "zstd"),
            ("compression.zstd.level", "7"),
            ("security.protocol", "PLAINTEXT"),
            ("partitioner.class", "org.apache.kafka.clients.producer.RoundRobinPartitioner"),
        ])
        .config()
        .unwrap();
        assert_eq!((ok.compression, ok.compression_level), (Compression::Zstd, Some(7)));
    }

    #[test]
    fn a_transactional_producer_needs_idempotence() {
        let txn = |props: &[(&str, &str)]| {
            let mut all = vec![("bootstrap.servers", "h:1"), ("transactional.id", "t-1")];
            all.extend_from_slice(props);
            ProducerBuilder::from_properties(all).config()
        };
        let c = txn(&[]).unwrap();
        assert_eq!((c.transactional_id(), c.transaction_timeout()), (Some("t-1"), Duration::from_secs(60)));
        assert!(c.idempotence());
        let e = txn(&[("enable.idempotence", "false")]).unwrap_err();
        assert_eq!(e.field, "transactional.id");
        assert!(e.reason.contains("enable.idempotence=false"), "{e}");
        // Defaulted idempotence yields to acks=1, which then refuses the id.
        let e = txn(&[("acks", "1")]).unwrap_err();
        assert_eq!(e.field, "transactional.id");
        assert!(e.reason.contains("acks"), "{e}");
        assert_eq!(txn(&[("transaction.timeout.ms", "0")]).unwrap_err().field, "transaction.timeout.ms");
        // An empty id is no id, as in Java.
        assert_eq!(txn(&[("transactional.id", "")]).unwrap().transactional_id(), None);
    }
}
