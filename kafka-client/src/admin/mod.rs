//! The admin client, shaped like Kafka's `AdminClient`: topics, configs,
//! the cluster, partition offsets, consumer groups with their offsets and
//! lag, and transactions (describe, list, the producers of a partition, and
//! aborting a hanging transaction).
//!
//! Every call is an `async fn` with typed arguments and results. Where
//! Kafka answers per item (per topic, config resource, partition or group),
//! the result is a map with one `Result` per item, so one failed item never
//! hides the others; the outer `Result` is for failures of the whole call
//! (the client is closed, an argument is invalid, a group-level error).
//!
//! Requests go where Kafka's Java client sends them: topic creation and
//! deletion to the controller, partition requests (ListOffsets,
//! DeleteRecords) to each partition's leader, group requests to the group's
//! coordinator (found with one batched FindCoordinator and cached),
//! DescribeTransactions to each transactional id's coordinator (likewise),
//! broker config requests to that broker, ListGroups and ListTransactions
//! to every broker, DescribeProducers and WriteTxnMarkers to partition
//! leaders. Retriable
//! errors are retried with exponential backoff (`retry.backoff.ms` up to
//! `retry.backoff.max.ms`) until `default.api.timeout.ms` has passed; the
//! leader or coordinator is looked up again when the error says it moved.
//!
//! ```no_run
//! # async fn demo() -> kafka_client::Result<()> {
//! use kafka_client::admin::{Admin, CreateTopicsOptions, NewTopic};
//!
//! let admin = Admin::builder().bootstrap_servers("127.0.0.1:9092").build()?;
//! let created = admin
//!     .create_topics([NewTopic::new("orders", 6, 3).config("retention.ms", "86400000")], CreateTopicsOptions::new())
//!     .await?;
//! for (topic, result) in created {
//!     match result {
//!         Ok(_) => println!("created {topic}"),
//!         Err(e) => println!("{topic}: {e}"),
//!     }
//! }
//! for row in admin.consumer_group_lag("billing").await?.partitions {
//!     println!("{} lag {:?}", row.partition, row.lag);
//! }
//! admin.close().await?;
//! # Ok(()) }
//! ```

mod cluster;
mod config;
mod configs;
mod coordinator;
mod group_offsets;
mod groups;
mod offsets;
mod routing;
mod topics;
mod transactions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use cluster::ClusterDescription;
pub use config::{AdminBuilder, AdminConfig};
pub use configs::{
    AlterConfigOp, AlterConfigsOptions, ConfigEntry, ConfigResource, ConfigResourceType, ConfigSource, ConfigSynonym,
    ConfigType, DescribeConfigsOptions, ResourceConfig,
};
pub use group_offsets::{ConsumerGroupLag, PartitionLag, PartitionOwner};
pub use groups::{ConsumerGroupDescription, GroupListing, GroupState, ListGroupsOptions, MemberDescription};
pub use offsets::{ListOffsetsOptions, ListedOffset, OffsetSpec};
pub use topics::{
    CreatePartitionsOptions, CreateTopicsOptions, CreatedTopic, NewPartitions, NewTopic, PartitionDescription,
    TopicDescription, TopicListing,
};
pub use transactions::{
    AbortTransactionSpec, DescribeProducersOptions, ListTransactionsOptions, ProducerState, TransactionDescription,
    TransactionListing, TransactionState,
};

use crate::error::{ConfigError, Error, Result};
use crate::net::{ConnectionConfig, NetConfig, NetworkClient};

/// A Kafka admin client; see the module docs. Cheap to clone: clones share
/// connections, metadata and the coordinator cache.
///
/// ```no_run
/// # async fn demo() -> kafka_client::Result<()> {
/// let admin = kafka_client::admin::Admin::builder().bootstrap_servers("127.0.0.1:9092").build()?;
/// let cluster = admin.describe_cluster().await?;
/// println!("cluster {:?} with {} brokers", cluster.cluster_id, cluster.brokers.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Admin {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: AdminConfig,
    net: Arc<NetworkClient>,
    /// Group id → coordinator broker, as FindCoordinator last said.
    coordinators: Mutex<HashMap<String, i32>>,
    /// Transactional id → transaction coordinator broker.
    txn_coordinators: Mutex<HashMap<String, i32>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").field("client_id", &self.inner.cfg.client_id).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Admin {
    /// A builder with the Java client's defaults.
    ///
    /// ```
    /// let b = kafka_client::admin::Admin::builder().bootstrap_servers("h:9092");
    /// assert!(b.config().is_ok());
    /// ```
    pub fn builder() -> AdminBuilder {
        AdminBuilder::default()
    }

    /// A builder from Java-style properties (`bootstrap.servers`,
    /// `request.timeout.ms`, …); unknown keys are refused at `build`.
    ///
    /// ```
    /// let b = kafka_client::admin::Admin::from_properties([("bootstrap.servers", "h:9092"), ("client.id", "ops")]);
    /// assert_eq!(b.config().unwrap().client_id(), "ops");
    /// ```
    pub fn from_properties<'a>(props: impl IntoIterator<Item = (&'a str, &'a str)>) -> AdminBuilder {
        AdminBuilder::from_properties(props)
    }

    pub(crate) fn start(cfg: AdminConfig, env: crate::config::Environment) -> Result<Admin> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(ConfigError::new(
                "runtime",
                "an admin client must be built inside a tokio runtime",
            )));
        }
        let net = NetworkClient::new(NetConfig {
            bootstrap_servers: cfg.bootstrap_servers.clone(),
            connection: ConnectionConfig {
                client_id: Some(cfg.client_id.clone()),
                request_timeout: cfg.request_timeout,
                connect_timeout: cfg.connect_timeout,
                ..ConnectionConfig::default()
            },
            reconnect_backoff: cfg.reconnect_backoff,
            reconnect_backoff_max: cfg.reconnect_backoff_max,
            metadata_max_age: cfg.metadata_max_age,
            connector: env.connector.clone(),
        });
        Ok(Admin {
            inner: Arc::new(Inner {
                cfg,
                net,
                coordinators: Mutex::new(HashMap::new()),
                txn_coordinators: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The settings in effect.
    ///
    /// ```no_run
    /// # async fn demo() -> kafka_client::Result<()> {
    /// let admin = kafka_client::admin::Admin::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// assert_eq!(admin.config().request_timeout(), std::time::Duration::from_secs(30));
    /// # Ok(()) }
    /// ```
    pub fn config(&self) -> &AdminConfig {
        &self.inner.cfg
    }

    /// Closes the client: every connection closes, calls in progress fail,
    /// and later calls fail at once, with [`Error::Closed`]. Clones share
    /// the closing. (Java's `close()` first lets calls in progress finish;
    /// here nothing is waited for, so it never fails.)
    ///
    /// ```no_run
    /// # async fn demo() -> kafka_client::Result<()> {
    /// let admin = kafka_client::admin::Admin::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// admin.close().await?;
    /// assert!(matches!(admin.describe_cluster().await, Err(kafka_client::Error::Closed)));
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) -> Result<()> {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.net.close();
        Ok(())
    }

    /// Whether [`Self::close`] was called (on this handle or a clone).
    ///
    /// ```no_run
    /// # async fn demo() -> kafka_client::Result<()> {
    /// let admin = kafka_client::admin::Admin::builder().bootstrap_servers("127.0.0.1:9092").build()?;
    /// assert!(!admin.is_closed());
    /// # Ok(()) }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() { Err(Error::Closed) } else { Ok(()) }
    }
}
