//! The network side every client shares: one connection per broker,
//! reconnection with exponential backoff, bootstrap, and metadata refresh.
//!
//! Connections are opened on first use and reopened when they close; a
//! broker that refused a connection is not tried again before its backoff
//! (`reconnect.backoff.ms`, doubling up to `reconnect.backoff.max.ms`, with
//! ±20 % jitter as in the Java client) has passed. Concurrent metadata
//! refreshes share one request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::metadata::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use tokio::sync::watch;
use tokio::time::Instant;

use super::connection::{Connection, ConnectionConfig, FinalizedFeatures};
use super::connector::ConnectorRef;
use crate::error::{Error, Result};
use crate::metadata::Metadata;

/// Settings shared by producer, consumer and admin client.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// `bootstrap.servers`: `host:port` addresses to start from.
    pub bootstrap_servers: Vec<String>,
    /// Connection settings (client id, timeouts, in-flight limit).
    pub connection: ConnectionConfig,
    /// `reconnect.backoff.ms` (default 50 ms).
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms` (default 1 s).
    pub reconnect_backoff_max: Duration,
    /// `metadata.max.age.ms` (default 5 min).
    pub metadata_max_age: Duration,
    /// How connections are opened: TCP when None.
    pub(crate) connector: Option<ConnectorRef>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bootstrap_servers: Vec::new(),
            connection: ConnectionConfig::default(),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            connector: None,
        }
    }
}

/// Exponential backoff with ±20 % jitter: `base * 2^(attempt-1)`, capped.
pub fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max.max(base));
    let jitter = 0.8 + fastrand::f64() * 0.4;
    capped.mul_f64(jitter)
}

#[derive(Default)]
struct Slot {
    conn: Option<Connection>,
    failures: u32,
    retry_at: Option<Instant>,
    connecting: Arc<tokio::sync::Mutex<()>>,
}

/// The shared network client; see the module docs.
pub struct NetworkClient {
    config: NetConfig,
    metadata: Mutex<Metadata>,
    metadata_version: watch::Sender<u64>,
    last_refresh: Mutex<Option<Instant>>,
    slots: Mutex<BTreeMap<i32, Slot>>,
    refresh: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    /// The newest view of the cluster's finalized features any connection
    /// brought (by epoch).
    features: Mutex<Arc<FinalizedFeatures>>,
}

impl std::fmt::Debug for NetworkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkClient").field("bootstrap", &self.config.bootstrap_servers).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl NetworkClient {
    /// A client for `config`; nothing is connected yet.
    pub fn new(config: NetConfig) -> Arc<Self> {
        Arc::new(NetworkClient {
            config,
            metadata: Mutex::new(Metadata::new()),
            metadata_version: watch::channel(0).0,
            last_refresh: Mutex::new(None),
            slots: Mutex::new(BTreeMap::new()),
            refresh: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            features: Mutex::new(Arc::new(FinalizedFeatures { epoch: -1, levels: Vec::new() })),
        })
    }

    /// The metadata, locked. Keep the guard short: never across an await.
    pub fn metadata(&self) -> MutexGuard<'_, Metadata> {
        lock(&self.metadata)
    }

    /// Watches the count of applied metadata responses.
    pub fn metadata_updates(&self) -> watch::Receiver<u64> {
        self.metadata_version.subscribe()
    }

    /// Whether metadata is older than `metadata.max.age.ms` (or was never fetched).
    pub fn metadata_is_stale(&self) -> bool {
        lock(&self.last_refresh).is_none_or(|t| t.elapsed() >= self.config.metadata_max_age)
    }

    /// Closes every connection; later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        for s in lock(&self.slots).values() {
            if let Some(c) = &s.conn {
                c.close();
            }
        }
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The connection to broker `id` (negative ids are bootstrap addresses),
    /// opening it if needed; waits out the broker's reconnect backoff first.
    pub async fn connection(&self, id: i32) -> Result<Connection> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let connecting = {
            let mut slots = lock(&self.slots);
            let slot = slots.entry(id).or_default();
            if let Some(c) = slot.conn.as_ref().filter(|c| !c.is_closed()) {
                return Ok(c.clone());
            }
            slot.connecting.clone()
        };
        // One connect per broker at a time; the others wait for its result.
        let _guard = connecting.lock().await;
        let retry_at = {
            let slots = lock(&self.slots);
            let slot = slots.get(&id);
            if let Some(c) = slot.and_then(|s| s.conn.as_ref()).filter(|c| !c.is_closed()) {
                return Ok(c.clone());
            }
            slot.and_then(|s| s.retry_at)
        };
        if let Some(at) = retry_at {
            tokio::time::sleep_until(at).await;
        }
        // A broker metadata no longer lists counts as a failed connect, with
        // its backoff: returning at once would let a caller that retries on
        // failure (the producer's sender) spin without ever waiting.
        let addr = self.address_of(id);
        let result = match (&addr, &self.config.connector) {
            (None, _) => Err(Error::Connect { addr: format!("broker {id}"), reason: "address unknown".into() }),
            (Some(addr), None) => Connection::connect(addr, id, self.config.connection.clone()).await,
            (Some(addr), Some(c)) => Connection::connect_with(&*c.0, addr, id, self.config.connection.clone()).await,
        };
        let addr = addr.unwrap_or_default();
        let mut slots = lock(&self.slots);
        let slot = slots.entry(id).or_default();
        match result {
            Ok(c) => {
                let mut newest = lock(&self.features);
                if c.finalized_features().epoch > newest.epoch {
                    *newest = c.finalized_features().clone();
                }
                drop(newest);
                slot.conn = Some(c.clone());
                slot.failures = 0;
                slot.retry_at = None;
                Ok(c)
            }
            Err(e) => {
                slot.failures += 1;
                slot.retry_at = Some(
                    Instant::now()
                        + backoff(self.config.reconnect_backoff, self.config.reconnect_backoff_max, slot.failures),
                );
                tracing::debug!(broker = id, %addr, error = %e, failures = slot.failures, "connect failed");
                Err(e)
            }
        }
    }

    /// The level of cluster feature `name` in the newest finalized-features
    /// view any connection brought (Java's `ApiVersions` keeps the same):
    /// a cluster upgraded while the client runs shows here once a
    /// connection opens after the upgrade.
    pub(crate) fn finalized_feature(&self, name: &str) -> Option<i16> {
        lock(&self.features).level(name)
    }

    /// The open connection to broker `id`, if there is one (never connects).
    pub fn open_connection(&self, id: i32) -> Option<Connection> {
        lock(&self.slots).get(&id).and_then(|s| s.conn.clone()).filter(|c| !c.is_closed())
    }

    fn address_of(&self, id: i32) -> Option<String> {
        if id < 0 {
            let i = usize::try_from(-(id + 1)).ok()?;
            return self.config.bootstrap_servers.get(i).cloned();
        }
        self.metadata().broker(id).map(|b| b.addr())
    }

    /// Some open connection, preferring brokers already connected, then
    /// known brokers, then the bootstrap addresses.
    pub async fn any_connection(&self) -> Result<Connection> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        {
            let slots = lock(&self.slots);
            let mut open: Vec<&Connection> =
                slots.values().filter_map(|s| s.conn.as_ref()).filter(|c| !c.is_closed() && c.broker() >= 0).collect();
            if !open.is_empty() {
                let i = fastrand::usize(..open.len());
                return Ok(open.swap_remove(i).clone());
            }
        }
        let mut candidates: Vec<i32> = self.metadata().brokers().map(|b| b.id).collect();
        fastrand::shuffle(&mut candidates);
        let mut boot: Vec<i32> = (0..self.config.bootstrap_servers.len() as i32).map(|i| -(i + 1)).collect();
        fastrand::shuffle(&mut boot);
        candidates.extend(boot);
        let mut last =
            Error::Connect { addr: self.config.bootstrap_servers.join(","), reason: "no brokers known".into() };
        for id in candidates {
            match self.connection(id).await {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Fetches metadata for `topics` (every topic when None) and applies it.
    /// `auto_create` lets the broker create missing topics where it allows.
    /// Concurrent callers share one request.
    pub async fn refresh_metadata(&self, topics: Option<&[String]>, auto_create: bool) -> Result<MetadataResponse> {
        let version_before = *self.metadata_version.borrow();
        let _guard = self.refresh.lock().await;
        let conn = self.any_connection().await?;
        let req = MetadataRequest {
            topics: topics.map(|ts| {
                ts.iter().map(|t| MetadataRequestTopic { name: Some(t.clone()), ..Default::default() }).collect()
            }),
            allow_auto_topic_creation: auto_create,
            ..Default::default()
        };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => {
                if e.needs_metadata_refresh() {
                    conn.close();
                }
                return Err(e);
            }
        };
        self.metadata().apply(&resp, topics.is_none());
        *lock(&self.last_refresh) = Some(Instant::now());
        self.metadata_version.send_modify(|v| *v = (*v).max(version_before) + 1);
        Ok(resp)
    }

    /// Drops the connection to a broker (after an error that makes it suspect).
    pub fn disconnect(&self, id: i32) {
        if let Some(c) = lock(&self.slots).get_mut(&id).and_then(|s| s.conn.take()) {
            c.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let base = Duration::from_millis(50);
        let max = Duration::from_secs(1);
        for attempt in 1..10 {
            let d = backoff(base, max, attempt);
            let nominal = (50u64 << (attempt - 1)).min(1000) as f64;
            let ms = d.as_secs_f64() * 1000.0;
            assert!(ms >= nominal * 0.79 && ms <= nominal * 1.21, "attempt {attempt}: {ms}");
        }
    }
}
