//! One connection to one broker, with pipelined requests.
//!
//! A writer task sends frames in the order requests were made, recording
//! each one that expects an answer; a reader task matches answers to them in
//! order (Kafka answers in order on a connection) and checks each
//! correlation id. At most `max_in_flight` requests are unanswered at once;
//! the next waits for a slot. Writing and reading run in separate tasks so a
//! large request being written can never block the reading of a large
//! response — with one task, each side could wait on the other forever.
//!
//! Anything wrong closes the connection and fails everything in flight: a
//! request without an answer within `request.timeout.ms` (that one gets
//! [`Error::RequestTimeout`]), a correlation id that does not match, a frame
//! too large, the socket closing. Requests that reached the socket fail
//! with `Disconnected { sent: true }` — their outcome is unknown — and those
//! that did not with `sent: false`, so a producer can tell a batch that
//! certainly was not written from one that might have been.
//!
//! ApiVersions is negotiated when connecting (KIP-511: if the broker does
//! not know our ApiVersions version, it answers with its own ranges in a v0
//! body and we retry at its highest version).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::api::VersionRange;
use kafka_protocol::frame::{FrameDecoder, encode_typed_request};
use kafka_protocol::header::{RequestHeader, ResponseHeader};
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, Message, Request};
use kafka_protocol::{ApiKey, ErrorCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// Settings of a connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `client.id` sent in every request header.
    pub client_id: Option<String>,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `socket.connection.setup.timeout.ms`.
    pub connect_timeout: Duration,
    /// Unanswered requests allowed at once.
    pub max_in_flight: usize,
    /// The largest response frame accepted.
    pub max_response_bytes: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            client_id: Some("kafka-rs".into()),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_in_flight: 5,
            max_response_bytes: 512 << 20,
        }
    }
}

/// The client software name and version sent in ApiVersions (KIP-511).
const SOFTWARE_NAME: &str = "kafka-rs";
const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

struct Outgoing {
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    parts: Vec<Bytes>,
    expect_response: bool,
    /// This request's timeout, when it is not `request.timeout.ms`.
    timeout: Option<Duration>,
    reply: oneshot::Sender<Result<Bytes>>,
    _permit: OwnedSemaphorePermit,
}

struct InFlight {
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    deadline: Instant,
    timeout: Duration,
    reply: oneshot::Sender<Result<Bytes>>,
    _permit: OwnedSemaphorePermit,
}

struct Shared {
    broker: i32,
    addr: String,
    in_flight: Mutex<VecDeque<InFlight>>,
    /// Wakes the reader when the first request starts waiting, so it can
    /// arm the timeout.
    new_request: Notify,
    closed: AtomicBool,
    closed_notify: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<InFlight>> {
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the connection: every request in flight fails; `timed_out`
    /// names the one whose deadline passed, if that is why.
    fn close(&self, timed_out: Option<i32>) {
        // `closed` flips under the queue's lock, so a request is either
        // queued before (and failed here) or refused by `register` after:
        // none can slip in once the reader, which times requests out, is
        // gone, and wait forever.
        let pending: Vec<InFlight> = {
            let mut q = self.lock();
            if self.closed.swap(true, Ordering::SeqCst) {
                return;
            }
            q.drain(..).collect()
        };
        for p in pending {
            let err = match timed_out {
                Some(corr) if corr == p.correlation_id => {
                    Error::RequestTimeout { broker: self.broker, api: p.api, timeout: p.timeout }
                }
                _ => Error::Disconnected { broker: self.broker, addr: self.addr.clone(), api: p.api, sent: true },
            };
            let _ = p.reply.send(Err(err));
        }
        self.closed_notify.notify_waiters();
    }

    /// Queues a request that expects an answer; hands it back if the
    /// connection is closed. Returns whether it is the only one queued.
    #[allow(clippy::result_large_err)]
    fn register(&self, entry: InFlight) -> std::result::Result<bool, InFlight> {
        let mut q = self.lock();
        if self.closed.load(Ordering::SeqCst) {
            return Err(entry);
        }
        q.push_back(entry);
        Ok(q.len() == 1)
    }
}

/// A connection to one broker. Cheap to clone; all clones share it.
/// The cluster's finalized feature levels as one broker reported them, and
/// the epoch of that view (-1 when the broker gave none): a higher epoch is
/// a newer view, so the client keeps the newest it has seen (as Java's
/// `ApiVersions` does) and notices a cluster upgraded while it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FinalizedFeatures {
    pub epoch: i64,
    pub levels: Vec<(String, i16)>,
}

impl FinalizedFeatures {
    /// The level of feature `name`, if finalized.
    pub fn level(&self, name: &str) -> Option<i16> {
        self.levels.iter().find(|(n, _)| n == name).map(|&(_, level)| level)
    }
}

#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Outgoing>,
    permits: Arc<Semaphore>,
    next_correlation: Arc<AtomicI32>,
    versions: Arc<HashMap<i16, VersionRange>>,
    /// The cluster-wide feature levels the broker reported (ApiVersions v3+
    /// `finalized_features`, max level): `transaction.version` decides the
    /// transaction protocol (KIP-890).
    features: Arc<FinalizedFeatures>,
    config: Arc<ConnectionConfig>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("broker", &self.shared.broker).field("addr", &self.shared.addr).finish()
    }
}

/// Awaits a stream being opened to `addr`, at most `timeout`
/// (`socket.connection.setup.timeout.ms`).
async fn open<S>(
    opening: impl std::future::Future<Output = std::io::Result<S>>,
    addr: &str,
    timeout: Duration,
) -> Result<S> {
    tokio::time::timeout(timeout, opening)
        .await
        .map_err(|_| Error::Connect { addr: addr.to_string(), reason: format!("timed out after {timeout:?}") })?
        .map_err(|e| Error::Connect { addr: addr.to_string(), reason: e.to_string() })
}

impl Connection {
    /// Connects to `addr` (broker `broker`, negative for a bootstrap
    /// address) and negotiates API versions.
    pub async fn connect(addr: &str, broker: i32, config: ConnectionConfig) -> Result<Connection> {
        let stream = open(TcpStream::connect(addr), addr, config.connect_timeout).await?;
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        Self::start(rd, wr, addr, broker, config).await
    }

    /// Connects to `addr` through `connector` and negotiates API versions.
    pub(crate) async fn connect_with(
        connector: &dyn super::connector::Connector,
        addr: &str,
        broker: i32,
        config: ConnectionConfig,
    ) -> Result<Connection> {
        let stream = open(connector.connect(addr), addr, config.connect_timeout).await?;
        Self::over(stream, addr, broker, config).await
    }

    /// A connection over any byte stream (a [`super::connector::Connector`]'s,
    /// or in unit tests an in-memory pipe to a scripted broker).
    pub(crate) async fn over<S>(stream: S, addr: &str, broker: i32, config: ConnectionConfig) -> Result<Connection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, wr) = tokio::io::split(stream);
        Self::start(rd, wr, addr, broker, config).await
    }

    async fn start<R, W>(rd: R, wr: W, addr: &str, broker: i32, config: ConnectionConfig) -> Result<Connection>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            broker,
            addr: addr.to_string(),
            in_flight: Mutex::new(VecDeque::new()),
            new_request: Notify::new(),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(wr, rx, shared.clone(), config.request_timeout));
        tokio::spawn(read_loop(rd, shared.clone(), config.max_response_bytes));
        tracing::debug!(broker, addr, "connected");
        let mut conn = Connection {
            shared,
            tx,
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            next_correlation: Arc::new(AtomicI32::new(0)),
            versions: Arc::new(HashMap::new()),
            features: Arc::new(FinalizedFeatures::default()),
            config: Arc::new(config),
        };
        let (versions, features) = conn.negotiate().await?;
        conn.versions = Arc::new(versions);
        conn.features = Arc::new(features);
        Ok(conn)
    }

    async fn negotiate(&self) -> Result<(HashMap<i16, VersionRange>, FinalizedFeatures)> {
        let ours = ApiKey::ApiVersions.info().versions.max;
        let req = ApiVersionsRequest {
            client_software_name: SOFTWARE_NAME.into(),
            client_software_version: SOFTWARE_VERSION.into(),
            ..Default::default()
        };
        let mut version = ours;
        for _ in 0..2 {
            // The software name and version exist from v3 on only.
            let body = if version >= 3 {
                self.send_raw(&req, version, true).await?
            } else {
                self.send_raw(&ApiVersionsRequest::default(), version, true).await?
            };
            // An UNSUPPORTED_VERSION answer always comes as a v0 body.
            let resp = match ApiVersionsResponse::from_bytes(body.clone(), version) {
                Ok(r) if r.error_code != ErrorCode::UNSUPPORTED_VERSION.0 => r,
                _ => ApiVersionsResponse::decode(&mut body.clone(), 0).map_err(|e| Error::Decode {
                    broker: self.broker(),
                    api: ApiKey::ApiVersions,
                    reason: e.to_string(),
                })?,
            };
            if resp.error_code == ErrorCode::UNSUPPORTED_VERSION.0 {
                let theirs =
                    resp.api_keys.iter().find(|k| k.api_key == ApiKey::ApiVersions as i16).map_or(0, |k| k.max_version);
                if theirs >= version {
                    break;
                }
                version = theirs.clamp(0, ours);
                continue;
            }
            if resp.error_code != 0 {
                return Err(Error::broker(
                    ErrorCode(resp.error_code),
                    ApiKey::ApiVersions,
                    self.broker(),
                    "connection setup",
                    None,
                ));
            }
            let versions = resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, VersionRange { min: k.min_version, max: k.max_version }))
                .collect();
            let features = FinalizedFeatures {
                epoch: resp.finalized_features_epoch,
                levels: resp.finalized_features.iter().map(|f| (f.name.clone(), f.max_version_level)).collect(),
            };
            return Ok((versions, features));
        }
        Err(Error::UnsupportedVersion {
            broker: self.broker(),
            api: ApiKey::ApiVersions,
            min: 0,
            max: ours,
            broker_min: -1,
            broker_max: -1,
        })
    }

    /// The broker this connects to.
    pub fn broker(&self) -> i32 {
        self.shared.broker
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Resolves when the connection closes.
    pub async fn closed(&self) {
        while !self.is_closed() {
            let n = self.shared.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            n.await;
        }
    }

    /// Closes the connection, failing what is in flight.
    pub fn close(&self) {
        self.shared.close(None);
    }

    /// The version to use for `api`: the highest both sides support, within
    /// what the client uses (`client_versions`).
    pub fn version_for(&self, api: ApiKey) -> Result<i16> {
        let ours = client_versions(api);
        let theirs = self.versions.get(&(api as i16)).copied();
        match theirs.and_then(|t| t.intersect(ours)) {
            Some(r) => Ok(r.max),
            None => Err(Error::UnsupportedVersion {
                broker: self.broker(),
                api,
                min: ours.min,
                max: ours.max,
                broker_min: theirs.map_or(-1, |t| t.min),
                broker_max: theirs.map_or(-1, |t| t.max),
            }),
        }
    }

    /// Everything this broker reported of the cluster's finalized features.
    pub(crate) fn finalized_features(&self) -> &Arc<FinalizedFeatures> {
        &self.features
    }

    /// Whether another request can be sent without waiting for an answer.
    pub fn has_capacity(&self) -> bool {
        !self.is_closed() && self.permits.available_permits() > 0
    }

    /// Sends `req` at the negotiated version and awaits the response.
    pub async fn request<R: Request>(&self, req: &R) -> Result<R::Response> {
        let version = self.version_for(R::API_KEY)?;
        self.request_at(req, version).await
    }

    /// Sends `req` at `version` and awaits the response.
    pub async fn request_at<R: Request>(&self, req: &R, version: i16) -> Result<R::Response> {
        let mut body = self.send_raw(req, version, true).await?;
        // Bytes after the body are ignored, as Kafka's own clients do.
        <R::Response as Message>::decode(&mut body, version).map_err(|e| Error::Decode {
            broker: self.broker(),
            api: R::API_KEY,
            reason: e.to_string(),
        })
    }

    /// Like [`Self::request_at`] with a timeout of its own instead of
    /// `request.timeout.ms`: for a JoinGroup, which the coordinator holds
    /// for up to the rebalance timeout.
    pub async fn request_with_timeout<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let rx = self.enqueue(req, version, true, Some(timeout)).await?;
        let mut body = rx.await.map_err(|_| self.disconnected(R::API_KEY, true))??;
        <R::Response as Message>::decode(&mut body, version).map_err(|e| Error::Decode {
            broker: self.broker(),
            api: R::API_KEY,
            reason: e.to_string(),
        })
    }

    /// Queues `req` at `version` and returns once it is queued (a slot among
    /// the `max_in_flight` was free); the returned future yields the
    /// response. For pipelining: queue several, then await them.
    #[cfg(test)]
    pub async fn start_request<R: Request>(&self, req: &R, version: i16) -> Result<PendingResponse<R::Response>> {
        let rx = self.enqueue(req, version, true, None).await?;
        Ok(PendingResponse { rx, version, broker: self.broker(), api: R::API_KEY, _t: std::marker::PhantomData })
    }

    /// Like [`Self::start_request`], but never waits for a slot: `None` when
    /// all `max_in_flight` are taken. For a task that must not block on one
    /// connection while others have answers for it.
    pub fn try_start_request<R: Request>(&self, req: &R, version: i16) -> Result<Option<PendingResponse<R::Response>>> {
        Ok(self.try_enqueue(req, version, true)?.map(|rx| PendingResponse {
            rx,
            version,
            broker: self.broker(),
            api: R::API_KEY,
            _t: std::marker::PhantomData,
        }))
    }

    /// Queues a request that gets no response (a Produce with acks=0)
    /// without waiting for a slot (`None` when none is free); the returned
    /// [`Written`] resolves once it has been written.
    pub fn try_send_no_response<R: Request>(&self, req: &R, version: i16) -> Result<Option<Written>> {
        Ok(self.try_enqueue(req, version, false)?.map(|rx| Written { rx, error: self.disconnected(R::API_KEY, true) }))
    }

    async fn send_raw<R: Request>(&self, req: &R, version: i16, expect_response: bool) -> Result<Bytes> {
        let rx = self.enqueue(req, version, expect_response, None).await?;
        rx.await.map_err(|_| self.disconnected(R::API_KEY, true))?
    }

    fn disconnected(&self, api: ApiKey, sent: bool) -> Error {
        Error::Disconnected { broker: self.broker(), addr: self.shared.addr.clone(), api, sent }
    }

    fn try_enqueue<R: Request>(
        &self,
        req: &R,
        version: i16,
        expect_response: bool,
    ) -> Result<Option<oneshot::Receiver<Result<Bytes>>>> {
        if self.is_closed() {
            return Err(self.disconnected(R::API_KEY, false));
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => self.enqueue_with(permit, req, version, expect_response, None).map(Some),
            Err(tokio::sync::TryAcquireError::NoPermits) => Ok(None),
            Err(tokio::sync::TryAcquireError::Closed) => Err(self.disconnected(R::API_KEY, false)),
        }
    }

    async fn enqueue<R: Request>(
        &self,
        req: &R,
        version: i16,
        expect_response: bool,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<Result<Bytes>>> {
        if self.is_closed() {
            return Err(self.disconnected(R::API_KEY, false));
        }
        let permit = tokio::select! {
            biased;
            p = self.permits.clone().acquire_owned() => p.map_err(|_| self.disconnected(R::API_KEY, false))?,
            () = self.closed() => return Err(self.disconnected(R::API_KEY, false)),
        };
        self.enqueue_with(permit, req, version, expect_response, timeout)
    }

    /// Queues `req` in the slot `permit` holds.
    fn enqueue_with<R: Request>(
        &self,
        permit: OwnedSemaphorePermit,
        req: &R,
        version: i16,
        expect_response: bool,
        timeout: Option<Duration>,
    ) -> Result<oneshot::Receiver<Result<Bytes>>> {
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let header = RequestHeader {
            api_key: R::API_KEY as i16,
            api_version: version,
            correlation_id,
            client_id: self.config.client_id.clone(),
            unknown_tagged_fields: Vec::new(),
        };
        let parts = encode_typed_request(&header, req)
            .map_err(|e| Error::Encode { api: R::API_KEY, reason: e.to_string() })?
            .into_parts();
        let (reply, rx) = oneshot::channel();
        let out = Outgoing {
            correlation_id,
            api: R::API_KEY,
            version,
            parts,
            expect_response,
            timeout,
            reply,
            _permit: permit,
        };
        self.tx.send(out).map_err(|_| self.disconnected(R::API_KEY, false))?;
        Ok(rx)
    }
}

/// A request without a response, not yet written; see
/// [`Connection::try_send_no_response`].
pub struct Written {
    rx: oneshot::Receiver<Result<Bytes>>,
    error: Error,
}

impl Written {
    /// Waits until the request has been written.
    pub async fn written(self) -> Result<()> {
        self.rx.await.map_err(|_| self.error)?.map(|_| ())
    }
}

/// A response not yet received; see [`Connection::start_request`].
pub struct PendingResponse<T> {
    rx: oneshot::Receiver<Result<Bytes>>,
    version: i16,
    broker: i32,
    api: ApiKey,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Message> PendingResponse<T> {
    /// Waits for the response and decodes it.
    pub async fn response(self) -> Result<T> {
        let body = self.rx.await.map_err(|_| Error::Disconnected {
            broker: self.broker,
            addr: String::new(),
            api: self.api,
            sent: true,
        })??;
        T::from_bytes(body, self.version).map_err(|e| Error::Decode {
            broker: self.broker,
            api: self.api,
            reason: e.to_string(),
        })
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
    timeout: Duration,
) {
    while let Some(out) = rx.recv().await {
        let Outgoing { correlation_id, api, version, parts, expect_response, timeout: own_timeout, reply, _permit } =
            out;
        if shared.closed.load(Ordering::SeqCst) {
            let _ = reply.send(Err(Error::Disconnected {
                broker: shared.broker,
                addr: shared.addr.clone(),
                api,
                sent: false,
            }));
            continue;
        }
        // A request that expects an answer is recorded before it is written,
        // so the answer always finds it; the reply then goes through the
        // reader. One that expects none is answered here once written.
        let after_write = if expect_response {
            let timeout = own_timeout.unwrap_or(timeout);
            let entry =
                InFlight { correlation_id, api, version, deadline: Instant::now() + timeout, timeout, reply, _permit };
            match shared.register(entry) {
                Ok(first) => {
                    if first {
                        shared.new_request.notify_one();
                    }
                }
                Err(entry) => {
                    // Closed since the check above (the reader saw the end
                    // of the stream): fail it now, nothing will answer it.
                    let _ = entry.reply.send(Err(Error::Disconnected {
                        broker: shared.broker,
                        addr: shared.addr.clone(),
                        api,
                        sent: false,
                    }));
                    continue;
                }
            }
            None
        } else {
            Some((reply, _permit))
        };
        let mut ok = true;
        for p in &parts {
            if wr.write_all(p).await.is_err() {
                ok = false;
                break;
            }
        }
        if let Some((reply, _permit)) = after_write {
            let result = if ok {
                Ok(Bytes::new())
            } else {
                Err(Error::Disconnected { broker: shared.broker, addr: shared.addr.clone(), api, sent: true })
            };
            let _ = reply.send(result);
        }
        if !ok {
            shared.close(None);
        }
    }
    let _ = wr.shutdown().await;
}

async fn read_loop<R: AsyncRead + Unpin>(mut rd: R, shared: Arc<Shared>, max_frame: usize) {
    let decoder = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let frame = match decoder.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                // The earliest deadline of any request in flight, not the
                // oldest request's: timeouts differ per request (a JoinGroup
                // may wait minutes, a heartbeat a session), and a short one
                // queued behind a long one must still fire on time.
                let deadline = shared.lock().iter().map(|p| p.deadline).min();
                tokio::select! {
                    biased;
                    r = rd.read_buf(&mut buf) => match r {
                        Ok(0) | Err(_) => {
                            shared.close(None);
                            return;
                        }
                        Ok(_) => continue,
                    },
                    () = async {
                        match deadline {
                            Some(d) => tokio::time::sleep_until(d).await,
                            None => shared.new_request.notified().await,
                        }
                    } => {
                        if deadline.is_some() {
                            let now = Instant::now();
                            let expired = shared.lock().iter().find(|p| p.deadline <= now).map(|p| p.correlation_id);
                            if let Some(corr) = expired {
                                tracing::debug!(broker = shared.broker, "request timed out; closing the connection");
                                shared.close(Some(corr));
                                return;
                            }
                        }
                        if shared.closed.load(Ordering::SeqCst) {
                            return;
                        }
                        continue;
                    }
                    () = shared.closed_notify.notified() => return,
                }
            }
            Err(e) => {
                tracing::debug!(broker = shared.broker, error = %e, "bad response frame; closing the connection");
                shared.close(None);
                return;
            }
        };
        let Some(p) = shared.lock().pop_front() else {
            tracing::debug!(broker = shared.broker, "response without a request; closing the connection");
            shared.close(None);
            return;
        };
        let mut frame = frame;
        let hv = p.api.info().response_header_version(p.version);
        match ResponseHeader::decode(&mut frame, hv) {
            Ok(h) if h.correlation_id == p.correlation_id => {
                let _ = p.reply.send(Ok(frame));
            }
            other => {
                tracing::debug!(broker = shared.broker, expected = p.correlation_id, got = ?other.map(|h| h.correlation_id), "correlation id mismatch; closing the connection");
                let _ = p.reply.send(Err(Error::Decode {
                    broker: shared.broker,
                    api: p.api,
                    reason: "response correlation id does not match the request".into(),
                }));
                shared.close(None);
                return;
            }
        }
    }
}

/// The versions of `api` the client sends: the codec's range, except where
/// a newer version needs what the client does not do yet. OffsetCommit v10
/// and OffsetFetch v10 name topics only by id, which Java uses only in
/// consumer-protocol groups (its classic consumer and its admin stay at v9);
/// TxnOffsetCommit v6 likewise (transactions are not implemented yet).
fn client_versions(api: ApiKey) -> kafka_protocol::VersionRange {
    let mut r = api.info().versions;
    let by_name_only = match api {
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => Some(9),
        ApiKey::TxnOffsetCommit => Some(5),
        // v4+ is the brokers' batched form (KIP-890), not a client's.
        ApiKey::AddPartitionsToTxn => Some(3),
        _ => None,
    };
    if let Some(max) = by_name_only {
        r.max = r.max.min(max);
    }
    r
}

#[cfg(test)]
mod tests;
