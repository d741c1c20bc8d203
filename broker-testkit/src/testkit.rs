//! The public handle: build a cluster, break it, look inside it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::records::Record;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::cluster::{BrokerInfo, Core, topic};
use crate::config::{self, BrokerSettings, TopicOverrides};
use crate::faults::{Fault, FaultHandle, Faults};
use crate::group::GroupView;
use crate::inspect::{BatchInfo, PartitionState, TransactionView};
use crate::persist;
use crate::server::{self, Clock, Command, RequestStats, RunState, Shared};
use crate::txn::marker_faults::MarkerFault;

/// Why a testkit call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The data directory could not be read or written.
    #[error("data directory {dir}: {message}")]
    Storage {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The cluster has been shut down.
    #[error("the cluster has shut down")]
    ShutDown,
    /// No such broker.
    #[error("no broker {0}")]
    NoBroker(i32),
    /// A control call was refused.
    #[error("{0}")]
    Refused(String),
    /// A wait ran out of time.
    #[error("timed out after {0:?}: {1}")]
    Timeout(Duration, String),
}

/// A topic to create.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    /// Name.
    pub name: String,
    /// Number of partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: usize,
    /// Config overrides (validated like CreateTopics).
    pub configs: BTreeMap<String, String>,
}

impl TopicSpec {
    /// A topic with no config overrides.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: usize) -> Self {
        TopicSpec { name: name.into(), partitions, replication_factor, configs: BTreeMap::new() }
    }

    /// Adds a config override.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }
}

/// Builds a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    brokers: usize,
    host: String,
    first_port: u16,
    data_dir: Option<PathBuf>,
    settings: BrokerSettings,
    topics: Vec<TopicSpec>,
    cluster_id: Option<String>,
    tcp: bool,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            brokers: 1,
            host: "127.0.0.1".into(),
            first_port: 0,
            data_dir: None,
            settings: BrokerSettings::default(),
            topics: Vec::new(),
            cluster_id: None,
            tcp: true,
        }
    }
}

impl ClusterBuilder {
    /// Brokers listen on no TCP port: clients reach them only through
    /// [`Cluster::connect_in_memory`], at addresses in TEST-NET-1
    /// (`192.0.2.1:9092` for broker 1, `:9093` for broker 2, …), which no
    /// socket can reach. For simulations that run many clusters (and stop
    /// and restart brokers) at once: no port is taken, so none can be
    /// taken from under a restarting broker.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let cluster = broker_testkit::Cluster::builder().brokers(2).in_memory_only().start().await.unwrap();
    /// assert_eq!(cluster.bootstrap_servers(), "192.0.2.1:9092,192.0.2.1:9093");
    /// assert!(cluster.connect_in_memory("192.0.2.1:9093").await.is_ok());
    /// # }
    /// ```
    pub fn in_memory_only(mut self) -> Self {
        self.tcp = false;
        self
    }

    /// Number of brokers (default 1), with ids 1..=n.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// First broker's port; the others follow (default 0: ephemeral ports).
    pub fn port(mut self, port: u16) -> Self {
        self.first_port = port;
        self
    }

    /// Loopback address to listen on (default 127.0.0.1).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Keeps logs, topics, groups and offsets in `dir` in Kafka's on-disk
    /// layout (one folder per broker); a cluster started on the same folder
    /// recovers them. In memory when unset.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// `auto.create.topics.enable` (default true).
    pub fn auto_create_topics(mut self, enabled: bool) -> Self {
        self.settings.auto_create_topics = enabled;
        self
    }

    /// `num.partitions` of auto-created topics (default 1).
    pub fn num_partitions(mut self, n: i32) -> Self {
        self.settings.num_partitions = n.max(1);
        self
    }

    /// `default.replication.factor` of auto-created topics (default 1).
    pub fn default_replication_factor(mut self, rf: i16) -> Self {
        self.settings.default_replication_factor = rf.max(1);
        self
    }

    /// `replica.lag.time.max.ms` (default 30 s).
    pub fn replica_lag_time_max(mut self, d: Duration) -> Self {
        self.settings.replica_lag_time_max_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// `offsets.topic.num.partitions` (default 50).
    pub fn offsets_topic_partitions(mut self, n: i32) -> Self {
        self.settings.offsets_topic_partitions = n.max(1);
        self
    }

    /// `group.initial.rebalance.delay.ms` (default 0 here; 3000 in Kafka).
    pub fn group_initial_rebalance_delay(mut self, d: Duration) -> Self {
        self.settings.group_initial_rebalance_delay_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// `group.min.session.timeout.ms` (default 100 here; 6000 in Kafka).
    pub fn group_min_session_timeout(mut self, d: Duration) -> Self {
        self.settings.group_min_session_timeout_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// `group.max.session.timeout.ms` (default 30 minutes).
    pub fn group_max_session_timeout(mut self, d: Duration) -> Self {
        self.settings.group_max_session_timeout_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// The finalized `transaction.version` feature level, 0–2 (default 2,
    /// as a new Kafka 4.x cluster; values above 2 count as 2). At 2 the
    /// cluster speaks KIP-890's transaction protocol to clients that use
    /// it (implicit partition adds from Produce v12, epoch bump on EndTxn
    /// v5); at 1 or 0 clients are told to use the classic one.
    pub fn transaction_version(mut self, level: i16) -> Self {
        self.settings.transaction_version = level.clamp(0, crate::handlers::api_versions::MAX_TRANSACTION_VERSION);
        self
    }

    /// `transaction.state.log.num.partitions` (default 50).
    pub fn transaction_state_partitions(mut self, n: i32) -> Self {
        self.settings.transaction_state_partitions = n.max(1);
        self
    }

    /// `transaction.max.timeout.ms` (default 15 minutes): InitProducerId
    /// with a longer transaction timeout gets INVALID_TRANSACTION_TIMEOUT.
    pub fn transaction_max_timeout(mut self, d: Duration) -> Self {
        self.settings.transaction_max_timeout_ms = i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        self
    }

    /// A topic to create at start (skipped if it already exists on disk).
    pub fn topic(mut self, spec: TopicSpec) -> Self {
        self.topics.push(spec);
        self
    }

    /// The cluster id (default: random, or the one on disk).
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.cluster_id = Some(id.into());
        self
    }

    /// Starts the brokers and returns once every listener accepts connections.
    pub async fn start(self) -> Result<Cluster, TestkitError> {
        Cluster::start(self).await
    }
}

struct BrokerRuntime {
    id: i32,
    addr: SocketAddr,
    state: watch::Sender<RunState>,
    /// Whether it listens on TCP (see `ClusterBuilder::in_memory_only`).
    tcp: bool,
    listener: Mutex<Option<JoinHandle<()>>>,
}

/// The port of broker 1 in a cluster that listens on no TCP port.
const IN_MEMORY_FIRST_PORT: u16 = 9092;

struct Inner {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    brokers: Vec<BrokerRuntime>,
    faults: Arc<Faults>,
    stats: Arc<RequestStats>,
    core_task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing every listener and connection releases the last command
        // senders, which ends the core task.
        for b in &self.brokers {
            b.state.send_replace(RunState::Stopped);
        }
    }
}

/// A running cluster. Cloning shares it; it is `Send + Sync`.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("bootstrap", &self.bootstrap_servers()).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Cluster {
    /// A builder with one broker, in memory, on an ephemeral port.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    async fn start(b: ClusterBuilder) -> Result<Cluster, TestkitError> {
        // Per broker: its address, and its listener unless in memory only.
        let mut bound: Vec<(SocketAddr, Option<TcpListener>)> = Vec::new();
        for i in 0..b.brokers {
            if !b.tcp {
                let port = IN_MEMORY_FIRST_PORT.saturating_add(u16::try_from(i).unwrap_or(u16::MAX));
                bound.push((SocketAddr::from(([192, 0, 2, 1], port)), None));
                continue;
            }
            let port = if b.first_port == 0 { 0 } else { b.first_port + i as u16 };
            let addr = format!("{}:{}", b.host, port);
            let l =
                TcpListener::bind(&addr).await.map_err(|source| TestkitError::Bind { addr: addr.clone(), source })?;
            let local = l.local_addr().map_err(|source| TestkitError::Bind { addr: addr.clone(), source })?;
            bound.push((local, Some(l)));
        }
        let infos: Vec<BrokerInfo> = bound
            .iter()
            .enumerate()
            .map(|(i, (addr, l))| {
                let host = if l.is_some() { b.host.clone() } else { addr.ip().to_string() };
                BrokerInfo { id: i as i32 + 1, host, port: addr.port(), rack: None, online: true }
            })
            .collect();
        let clock = Clock::new();
        let now = clock.now_ms();
        let mut core = match &b.data_dir {
            Some(dir) => persist::open(dir, b.cluster_id.clone(), infos.clone(), b.settings.clone(), now)
                .map_err(|message| TestkitError::Storage { dir: dir.clone(), message })?,
            None => {
                let id = b.cluster_id.clone().unwrap_or_else(random_cluster_id);
                Core::new(id, infos.clone(), b.settings.clone(), None)
            }
        };
        for spec in &b.topics {
            if core.topics.contains_key(&spec.name) {
                continue;
            }
            create_topic_on(&mut core, spec, now).map_err(TestkitError::Refused)?;
        }
        core.flush_storage();
        let (tx, rx) = mpsc::channel(1024);
        let core_task = tokio::spawn(server::run_core(core, rx, clock));
        let faults = Arc::new(Faults::default());
        let stats = Arc::new(RequestStats::default());
        let shared = Arc::new(Shared {
            commands: tx.clone(),
            faults: faults.clone(),
            stats: stats.clone(),
            max_request_bytes: b.settings.max_request_bytes,
            open_connections: AtomicU64::new(0),
        });
        let mut brokers = Vec::new();
        for ((addr, l), info) in bound.into_iter().zip(&infos) {
            let (state, state_rx) = watch::channel(RunState::Running);
            let task = l.map(|l| tokio::spawn(server::run_listener(info.id, l, shared.clone(), state_rx)));
            brokers.push(BrokerRuntime { id: info.id, addr, state, tcp: b.tcp, listener: Mutex::new(task) });
        }
        Ok(Cluster {
            inner: Arc::new(Inner {
                commands: tx,
                shared,
                brokers,
                faults,
                stats,
                core_task: Mutex::new(Some(core_task)),
            }),
        })
    }

    /// `host:port` of every broker, comma-separated: what clients bootstrap from.
    pub fn bootstrap_servers(&self) -> String {
        self.inner.brokers.iter().map(|b| b.addr.to_string()).collect::<Vec<_>>().join(",")
    }

    /// The ids of the brokers (1..=n).
    pub fn broker_ids(&self) -> Vec<i32> {
        self.inner.brokers.iter().map(|b| b.id).collect()
    }

    /// The address of broker `id`.
    pub fn broker_addr(&self, id: i32) -> Option<SocketAddr> {
        self.broker(id).ok().map(|b| b.addr)
    }

    /// Opens an in-memory connection to the broker at `addr` (as
    /// [`Self::bootstrap_servers`] and metadata name it): the broker serves
    /// it like a TCP connection (faults, isolation and stops apply), but no
    /// socket is involved, so a client connected this way runs with the
    /// cluster on a paused clock. Refused like a TCP connect when the
    /// broker is stopped or isolated.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let cluster = broker_testkit::Cluster::builder().start().await.unwrap();
    /// let mut conn = cluster.connect_in_memory(&cluster.bootstrap_servers()).await.unwrap();
    /// // An ApiVersions v0 request: size, key 18, version 0, correlation 7, no client id.
    /// conn.write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff]).await.unwrap();
    /// let mut size = [0u8; 4];
    /// conn.read_exact(&mut size).await.unwrap();
    /// assert!(u32::from_be_bytes(size) > 8);
    /// # }
    /// ```
    pub async fn connect_in_memory(&self, addr: &str) -> std::io::Result<tokio::io::DuplexStream> {
        let refused =
            || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, format!("{addr}: connection refused"));
        let b = self.inner.brokers.iter().find(|b| b.addr.to_string() == addr).ok_or_else(refused)?;
        if *b.state.borrow() != RunState::Running {
            return Err(refused());
        }
        let (client, server) = tokio::io::duplex(256 * 1024);
        let peer = SocketAddr::from(([127, 0, 0, 1], 0));
        tokio::spawn(server::serve_connection(b.id, server, peer, self.inner.shared.clone(), b.state.subscribe()));
        Ok(client)
    }

    /// Client connections open now, over TCP and in memory: a test checks
    /// that a client it dropped or closed left none behind.
    pub fn open_connections(&self) -> u64 {
        self.inner.shared.open_connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn broker(&self, id: i32) -> Result<&BrokerRuntime, TestkitError> {
        self.inner.brokers.iter().find(|b| b.id == id).ok_or(TestkitError::NoBroker(id))
    }

    /// Runs `f` on the core's task and returns its result.
    async fn with_core<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core, i64) -> R + Send + 'static,
    ) -> Result<R, TestkitError> {
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Control(Box::new(move |core, now| {
            let _ = tx.send(f(core, now));
        }));
        self.inner.commands.send(cmd).await.map_err(|_| TestkitError::ShutDown)?;
        rx.await.map_err(|_| TestkitError::ShutDown)
    }

    /// Creates a topic with `partitions` partitions of `replication_factor` replicas.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: usize,
    ) -> Result<(), TestkitError> {
        self.create_topic_with(TopicSpec::new(name, partitions, replication_factor)).await
    }

    /// Creates a topic from a spec.
    pub async fn create_topic_with(&self, spec: TopicSpec) -> Result<(), TestkitError> {
        self.with_core(move |core, now| {
            let r = create_topic_on(core, &spec, now);
            core.flush_storage();
            r
        })
        .await?
        .map_err(TestkitError::Refused)
    }

    /// Stops broker `id`: its connections close, its port refuses
    /// connections, and leadership and group coordination move elsewhere.
    pub async fn stop_broker(&self, id: i32) -> Result<(), TestkitError> {
        let b = self.broker(id)?;
        b.state.send_replace(RunState::Stopped);
        let task = lock(&b.listener).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.with_core(move |core, now| core.stop_broker(id, now)).await
    }

    /// Starts a stopped broker on the same port: its replicas truncate where
    /// they diverge, catch up and rejoin the ISR.
    pub async fn start_broker(&self, id: i32) -> Result<(), TestkitError> {
        let b = self.broker(id)?;
        if *b.state.borrow() != RunState::Stopped {
            return Ok(());
        }
        let l = if b.tcp {
            let l = TcpListener::bind(b.addr)
                .await
                .map_err(|source| TestkitError::Bind { addr: b.addr.to_string(), source })?;
            Some(l)
        } else {
            None
        };
        self.with_core(move |core, now| core.start_broker(id, now)).await?;
        // `send_replace`, not `send`: the stopped broker's listener and
        // connections dropped every receiver, and `send` on a channel
        // without receivers leaves the value at Stopped, which would end the
        // new listener at once.
        b.state.send_replace(RunState::Running);
        if let Some(l) = l {
            let task = tokio::spawn(server::run_listener(id, l, self.inner.shared.clone(), b.state.subscribe()));
            *lock(&b.listener) = Some(task);
        }
        Ok(())
    }

    /// Stops then starts broker `id`.
    pub async fn restart_broker(&self, id: i32) -> Result<(), TestkitError> {
        self.stop_broker(id).await?;
        self.start_broker(id).await
    }

    /// Cuts broker `id` off from clients (connections close, new ones are
    /// refused) while it stays in the cluster: it keeps leading its
    /// partitions and replicating. `false` lets clients in again.
    pub fn isolate_broker(&self, id: i32, isolated: bool) -> Result<(), TestkitError> {
        let b = self.broker(id)?;
        if *b.state.borrow() == RunState::Stopped {
            return Err(TestkitError::Refused(format!("broker {id} is stopped")));
        }
        // `send_replace`: with no listener (in memory only) and no
        // connection there is no receiver, and `send` would change nothing.
        b.state.send_replace(if isolated { RunState::Isolated } else { RunState::Running });
        Ok(())
    }

    /// Stalls (or resumes) the follower on `broker`: it stops copying from
    /// the leader, and leaves the ISR after `replica.lag.time.max.ms`.
    pub async fn stall_follower(
        &self,
        topic: &str,
        partition: i32,
        broker: i32,
        stalled: bool,
    ) -> Result<(), TestkitError> {
        let topic = topic.to_string();
        self.with_core(move |core, now| core.stall_follower(&topic, partition, broker, stalled, now))
            .await?
            .map_err(TestkitError::Refused)
    }

    /// Moves a partition's leadership to `broker`, an online in-sync replica.
    pub async fn move_leader(&self, topic: &str, partition: i32, broker: i32) -> Result<(), TestkitError> {
        let topic = topic.to_string();
        self.with_core(move |core, now| core.move_leader(&topic, partition, broker, now))
            .await?
            .map_err(TestkitError::Refused)
    }

    /// Applies retention (time and size) to every log now.
    pub async fn apply_retention(&self) -> Result<(), TestkitError> {
        self.with_core(|core, now| core.apply_retention(now)).await
    }

    /// Adds a fault rule; see [`crate::faults`].
    pub fn add_fault(&self, fault: Fault) -> FaultHandle {
        self.inner.faults.add(fault)
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.inner.faults.clear();
    }

    /// Requests received, per API and broker.
    pub fn request_stats(&self) -> &RequestStats {
        &self.inner.stats
    }

    /// A partition's leader, epoch, replicas, ISR and offsets.
    pub async fn partition_state(&self, topic: &str, partition: i32) -> Result<PartitionState, TestkitError> {
        let topic = topic.to_string();
        self.with_core(move |core, _| {
            let p = core.topics.get(&topic).and_then(|t| t.partition(partition))?;
            Some(PartitionState {
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                high_watermark: p.high_watermark,
                log_start_offset: p.log_start_offset(),
                log_end_offset: p.log_end_offset(),
                replica_end_offsets: p.logs.iter().map(|(b, r)| (*b, r.log.log_end_offset())).collect(),
            })
        })
        .await?
        .ok_or_else(|| TestkitError::Refused(format!("no partition {partition}")))
    }

    /// The batches of a partition as the leader stores them (or the replica
    /// on `broker` when given).
    pub async fn batches(
        &self,
        topic: &str,
        partition: i32,
        broker: Option<i32>,
    ) -> Result<Vec<BatchInfo>, TestkitError> {
        let topic = topic.to_string();
        self.with_core(move |core, _| {
            let p = core.topics.get(&topic).and_then(|t| t.partition(partition))?;
            let r = p.logs.get(&broker.unwrap_or(p.leader))?;
            Some(r.log.batches_from(r.log.log_start_offset()).map(|b| BatchInfo::from_header(b.header())).collect())
        })
        .await?
        .ok_or_else(|| TestkitError::Refused(format!("no replica of {partition}")))
    }

    /// Every record of a partition up to its high watermark, decoded.
    pub async fn records(&self, topic: &str, partition: i32) -> Result<Vec<Record>, TestkitError> {
        let topic = topic.to_string();
        self.with_core(move |core, _| -> Result<Vec<Record>, String> {
            let p = core.topics.get(&topic).and_then(|t| t.partition(partition)).ok_or("no such partition")?;
            let log = p.leader_log().ok_or("no leader")?;
            let mut out = Vec::new();
            for b in log.batches_from(log.log_start_offset()) {
                if b.header().is_control() {
                    continue;
                }
                let batch = kafka_protocol::records::RecordBatch::new(b.bytes().clone()).map_err(|e| e.to_string())?;
                for r in batch.records(256 << 20).map_err(|e| e.to_string())? {
                    let r = r.map_err(|e| e.to_string())?;
                    if r.offset >= log.log_start_offset() && r.offset < p.high_watermark {
                        out.push(r);
                    }
                }
            }
            Ok(out)
        })
        .await?
        .map_err(TestkitError::Refused)
    }

    /// A group's committed offsets: (topic, partition) → offset.
    pub async fn committed_offsets(&self, group: &str) -> Result<BTreeMap<(String, i32), i64>, TestkitError> {
        let group = group.to_string();
        self.with_core(move |core, _| core.groups.committed(&group).into_iter().map(|(tp, o)| (tp, o.offset)).collect())
            .await
    }

    /// A group's offsets held pending by open transactions: (topic,
    /// partition) → (producer id, offset). They become committed offsets
    /// when their transaction commits.
    pub async fn pending_transactional_offsets(
        &self,
        group: &str,
    ) -> Result<BTreeMap<(String, i32), (i64, i64)>, TestkitError> {
        let group = group.to_string();
        self.with_core(move |core, _| core.groups.pending_txn_offsets(&group)).await
    }

    /// A transactional id's state as its coordinator holds it, if the id
    /// is known.
    pub async fn transaction(&self, transactional_id: &str) -> Result<Option<TransactionView>, TestkitError> {
        let tid = transactional_id.to_string();
        self.with_core(move |core, now| {
            let coordinator = core.txn_coordinator_for(&tid, now).unwrap_or(-1);
            core.txns.get(&tid).map(|m| TransactionView::from_metadata(m, coordinator))
        })
        .await
    }

    /// The broker coordinating `transactional_id` (creating
    /// `__transaction_state` if needed), or None while its partition has no
    /// leader.
    pub async fn transaction_coordinator(&self, transactional_id: &str) -> Result<Option<i32>, TestkitError> {
        let tid = transactional_id.to_string();
        self.with_core(move |core, now| core.txn_coordinator_for(&tid, now)).await
    }

    /// Moves the coordination of `transactional_id` to `broker` (an online
    /// in-sync replica of its `__transaction_state` partition) by moving
    /// that partition's leadership. The new coordinator serves the same
    /// state; clients on the old one get NOT_COORDINATOR.
    pub async fn move_transaction_coordinator(&self, transactional_id: &str, broker: i32) -> Result<(), TestkitError> {
        let tid = transactional_id.to_string();
        self.with_core(move |core, now| {
            core.txn_coordinator_for(&tid, now);
            let parts = core.topics.get(topic::TRANSACTION_STATE).map_or(1, |t| t.partitions.len() as i32);
            core.move_leader(topic::TRANSACTION_STATE, topic::txn_partition_for(&tid, parts), broker, now)
        })
        .await?
        .map_err(TestkitError::Refused)
    }

    /// Holds back (or, with `false`, lets through) transaction markers:
    /// while held, a transaction that ends stays in PrepareCommit or
    /// PrepareAbort, its partitions' last stable offset stays where it was,
    /// and requests for its transactional id get CONCURRENT_TRANSACTIONS.
    pub async fn hold_transaction_markers(&self, held: bool) -> Result<(), TestkitError> {
        self.with_core(move |core, now| {
            core.txn_markers_held = held;
            core.drive_txn_markers(now);
            core.write_txn_log(now);
            let mut ready = core.wake_parked(now);
            core.ready.append(&mut ready);
        })
        .await
    }

    /// Makes transaction-marker writes fail, as a WriteTxnMarkers answer
    /// with a retriable error would (NOT_LEADER_OR_FOLLOWER,
    /// KAFKA_STORAGE_ERROR, ...): the marker stays pending and the
    /// coordinator retries it, so the transaction stays in PrepareCommit or
    /// PrepareAbort, its partitions' last stable offset stays put, and its
    /// producer's requests get CONCURRENT_TRANSACTIONS, until the rule runs
    /// out or [`Self::clear_transaction_marker_faults`] removes it. Returns
    /// the rule's id; errors Kafka does not retry after are refused.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use broker_testkit::txn::marker_faults::MarkerFault;
    /// use kafka_protocol::ErrorCode;
    ///
    /// let cluster = broker_testkit::Cluster::builder().start().await.unwrap();
    /// cluster.create_topic("orders", 1, 1).await.unwrap();
    /// let rule = MarkerFault::partition("orders", 0).error(ErrorCode::KAFKA_STORAGE_ERROR);
    /// cluster.fail_transaction_markers(rule).await.unwrap();
    /// // ... a transaction on orders-0 commits, but stays PrepareCommit ...
    /// cluster.clear_transaction_marker_faults().await.unwrap();
    /// # }
    /// ```
    pub async fn fail_transaction_markers(&self, fault: MarkerFault) -> Result<u64, TestkitError> {
        self.with_core(move |core, _| core.txn_marker_faults.add(fault)).await?.map_err(TestkitError::Refused)
    }

    /// Removes every marker-fault rule and writes the markers they held
    /// back. Returns how often the rules still in force had fired.
    pub async fn clear_transaction_marker_faults(&self) -> Result<u64, TestkitError> {
        self.with_core(move |core, now| {
            let fired = core.txn_marker_faults.clear();
            core.drive_txn_markers(now);
            core.write_txn_log(now);
            core.flush_storage();
            let mut ready = core.wake_parked(now);
            core.ready.append(&mut ready);
            fired
        })
        .await
    }

    /// A partition's last stable offset (what read_committed consumers
    /// read up to) and its open transactions: producer id → first offset.
    pub async fn last_stable_offset(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<(i64, BTreeMap<i64, i64>), TestkitError> {
        let topic = topic.to_string();
        self.with_core(move |core, _| {
            let p = core.topics.get(&topic).and_then(|t| t.partition(partition))?;
            Some((p.last_stable_offset(), p.txns.open().clone()))
        })
        .await?
        .ok_or_else(|| TestkitError::Refused(format!("no partition {partition}")))
    }

    /// A group's state and members, if it exists.
    pub async fn group(&self, group: &str) -> Result<Option<GroupView>, TestkitError> {
        let group = group.to_string();
        self.with_core(move |core, _| core.groups.describe(&group)).await
    }

    /// Waits until a group is Stable with `members` members (any count when
    /// None), checking every 10 ms.
    pub async fn wait_for_group_stable(
        &self,
        group: &str,
        members: Option<usize>,
        timeout: Duration,
    ) -> Result<GroupView, TestkitError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(view) = self.group(group).await?
                && view.state == "Stable"
                && members.is_none_or(|n| view.members.len() == n)
            {
                return Ok(view);
            }
            if tokio::time::Instant::now() >= deadline {
                let last = self.group(group).await?;
                return Err(TestkitError::Timeout(timeout, format!("group {group} not stable: {last:?}")));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops every broker, flushes the data directory, and ends the cluster.
    pub async fn shutdown(self) {
        for b in &self.inner.brokers {
            b.state.send_replace(RunState::Stopped);
            let task = lock(&b.listener).take();
            if let Some(task) = task {
                let _ = task.await;
            }
        }
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let task = lock(&self.inner.core_task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn random_cluster_id() -> String {
    kafka_protocol::Uuid::from_u128((u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..))).to_string()
}

fn create_topic_on(core: &mut Core, spec: &TopicSpec, now: i64) -> Result<(), String> {
    topic::validate_name(&spec.name)?;
    if core.topics.contains_key(&spec.name) {
        return Err(format!("Topic '{}' already exists.", spec.name));
    }
    if spec.partitions <= 0 {
        return Err("a topic needs at least one partition".into());
    }
    let live = core.online_brokers().len();
    if spec.replication_factor == 0 || spec.replication_factor > live {
        return Err(format!("replication factor {} with {live} brokers online", spec.replication_factor));
    }
    let mut overrides = TopicOverrides::default();
    for (k, v) in &spec.configs {
        config::validate_topic_config(k, Some(v))?;
        overrides.0.insert(k.clone(), v.clone());
    }
    core.create_topic(&spec.name, spec.partitions, spec.replication_factor, None, overrides, now);
    Ok(())
}
