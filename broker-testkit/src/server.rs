//! The I/O shell around [`Core`]: one task owns the core and serves
//! commands in arrival order; each broker has a listener; each connection
//! has a task that reads a frame, has the core handle it, writes the answer,
//! and only then reads the next frame — so requests on one connection are
//! handled one at a time and answered in order, and a long-polling Fetch
//! delays what follows it, as in Kafka.
//!
//! Connections close on anything Kafka closes them on: an unknown API key or
//! version (ApiVersions excepted: KIP-511), a malformed request, a frame
//! above `socket.request.max.bytes`, a failed acks=0 produce.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use kafka_protocol::ApiKey;
use kafka_protocol::frame::{
    FrameDecoder, ParsedRequest, encode_response, parse_request, unsupported_api_versions_response,
};
use kafka_protocol::header::RequestHeader;
use kafka_protocol::messages::{RequestBody, ResponseBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::cluster::{Core, Outcome, ReplyId, RequestCtx};
use crate::faults::{FaultAction, Faults};
use crate::handlers;

/// A closure run on the core's task.
pub(crate) type ControlFn = Box<dyn FnOnce(&mut Core, i64) + Send>;

/// What the core's task is asked to do.
// Requests are nearly all of this channel's traffic; boxing them to shrink
// the rare control messages would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    Request {
        broker: i32,
        header: RequestHeader,
        body: RequestBody,
        client_host: String,
        reply: oneshot::Sender<Outcome>,
    },
    Control(ControlFn),
    Shutdown(oneshot::Sender<()>),
}

/// Maps the core's millisecond time to tokio time, so tests with a paused
/// tokio clock drive the cluster's clock too.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
    base_ms: i64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let base_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Clock { base: Instant::now(), base_ms }
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.base_ms + i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
    }

    fn instant_at(&self, ms: i64) -> Instant {
        let delta = u64::try_from(ms - self.base_ms).unwrap_or(0);
        self.base + std::time::Duration::from_millis(delta)
    }
}

/// Runs the core until shutdown.
pub(crate) async fn run_core(mut core: Core, mut rx: mpsc::Receiver<Command>, clock: Clock) {
    let mut waiting: HashMap<ReplyId, oneshot::Sender<Outcome>> = HashMap::new();
    let mut next_reply = 0u64;
    loop {
        let deadline = core.next_deadline().map(|ms| clock.instant_at(ms));
        // Biased, so runs repeat (no random branch order); timers first, so
        // a steady stream of requests cannot starve them.
        let cmd = tokio::select! {
            biased;
            () = sleep_until(deadline) => None,
            c = rx.recv() => match c {
                Some(c) => Some(c),
                None => break,
            },
        };
        let now = clock.now_ms();
        let mut ready = match cmd {
            None => core.tick(now),
            Some(Command::Request { broker, header, body, client_host, reply }) => {
                next_reply += 1;
                let id = ReplyId(next_reply);
                waiting.insert(id, reply);
                let ctx =
                    RequestCtx { now_ms: now, broker, version: header.api_version, header, reply: id, client_host };
                core.handle(ctx, body)
            }
            Some(Command::Control(f)) => {
                f(&mut core, now);
                std::mem::take(&mut core.ready)
            }
            Some(Command::Shutdown(done)) => {
                core.prepare_clean_shutdown(now);
                if let Some(s) = &mut core.storage {
                    s.close(&core.topics);
                }
                let _ = done.send(());
                break;
            }
        };
        // Under a steady stream of requests the timer branch may lose every
        // race; run due timers here too.
        if core.next_deadline().is_some_and(|d| d <= now) {
            ready.extend(core.tick(now));
        }
        for (id, outcome) in ready {
            if let Some(tx) = waiting.remove(&id) {
                // The connection may be gone; the answer then has nowhere to go.
                let _ = tx.send(outcome);
            }
        }
        waiting.retain(|_, tx| !tx.is_closed());
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Whether a broker serves clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Running,
    /// Up and in the cluster, but refusing clients (a test control).
    Isolated,
    Stopped,
}

/// Counts requests per API per broker, for tests that check traffic.
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: std::sync::Mutex<HashMap<(i32, ApiKey), u64>>,
}

impl RequestStats {
    fn record(&self, broker: i32, api: ApiKey) {
        let mut c = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *c.entry((broker, api)).or_default() += 1;
    }

    /// Requests of `api` received by `broker` (any broker when None).
    pub fn count(&self, broker: Option<i32>, api: ApiKey) -> u64 {
        let c = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        c.iter().filter(|((b, a), _)| *a == api && broker.is_none_or(|x| x == *b)).map(|(_, n)| n).sum()
    }
}

/// What every connection of the cluster shares.
pub(crate) struct Shared {
    pub commands: mpsc::Sender<Command>,
    pub faults: Arc<Faults>,
    pub stats: Arc<RequestStats>,
    pub max_request_bytes: usize,
    /// Client connections open now (TCP and in-memory).
    pub open_connections: AtomicU64,
}

/// Accepts connections for broker `id` until it stops.
pub(crate) async fn run_listener(
    id: i32,
    listener: TcpListener,
    shared: Arc<Shared>,
    state: watch::Receiver<RunState>,
) {
    let mut stop = state.clone();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = wait_for(&mut stop, RunState::Stopped) => return,
            a = listener.accept() => a,
        };
        let Ok((stream, peer)) = accepted else { continue };
        if *state.borrow() != RunState::Running {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(id, stream, peer, shared.clone(), state.clone()));
    }
}

async fn wait_for(rx: &mut watch::Receiver<RunState>, target: RunState) {
    while *rx.borrow_and_update() != target {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn wait_not_running(rx: &mut watch::Receiver<RunState>) {
    while *rx.borrow_and_update() == RunState::Running {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Serves one client connection (TCP or in-memory) until it closes or the
/// broker stops.
pub(crate) async fn serve_connection<S>(
    broker: i32,
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut state: watch::Receiver<RunState>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    /// Counts the connection as open for as long as it is served.
    struct Open(Arc<Shared>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
    shared.open_connections.fetch_add(1, Ordering::Relaxed);
    let _open = Open(shared.clone());
    let (mut rd, mut wr) = tokio::io::split(stream);
    let decoder = FrameDecoder::new(shared.max_request_bytes);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let client_host = format!("/{}", peer.ip());
    loop {
        let frame = loop {
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => break f,
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(broker, %peer, error = %e, "closing connection: bad frame");
                    return;
                }
            }
            tokio::select! {
                biased;
                r = rd.read_buf(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                () = wait_not_running(&mut state) => return,
            }
        };
        let (header, body) = match parse_request(frame, |api, _| Core::serves(api)) {
            Ok(ParsedRequest::Request { header, body }) => (header, body),
            Ok(ParsedRequest::UnsupportedApiVersions { header }) => {
                let resp =
                    ResponseBody::ApiVersions(unsupported_api_versions_response(&handlers::api_versions::advertised()));
                if write(&mut wr, header.correlation_id, 0, resp).await.is_err() {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(broker, %peer, error = %e, "closing connection");
                return;
            }
        };
        let api = body.api_key();
        let version = header.api_version;
        let correlation_id = header.correlation_id;
        shared.stats.record(broker, api);
        // Fetch v13+ names topics by id: a rule scoped to a topic needs
        // their names, which only the core knows. Other requests skip the
        // rule lookup here (the check below locks the rules once).
        let mut topic_names = HashMap::new();
        if shared.faults.has_topic_rules() && names_topics_by_id(api, version) {
            let ids = crate::faults::topic_ids(&body);
            if !ids.is_empty() {
                topic_names = resolve_topic_ids(&shared, ids).await;
            }
        }
        let fault = shared.faults.check(api, broker, &body, &topic_names);
        let mut after: Option<FaultAction> = None;
        match fault {
            Some(FaultAction::Error(code)) => {
                let resp = handlers::errors::error_response(&body, code);
                if write(&mut wr, correlation_id, version, resp).await.is_err() {
                    return;
                }
                continue;
            }
            Some(FaultAction::Drop) => return,
            Some(FaultAction::Delay(d)) => tokio::time::sleep(d).await,
            Some(a) => after = Some(a),
            None => {}
        }
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Request { broker, header, body, client_host: client_host.clone(), reply: tx };
        if shared.commands.send(cmd).await.is_err() {
            return;
        }
        let outcome = tokio::select! {
            biased;
            o = rx => match o {
                Ok(o) => o,
                Err(_) => return,
            },
            () = wait_not_running(&mut state) => return,
        };
        let mut resp = match outcome {
            Outcome::Respond(r) => r,
            Outcome::NoResponse => continue,
            Outcome::Close => return,
        };
        match after {
            Some(FaultAction::ApplyThenDrop) => return,
            Some(FaultAction::ApplyThenCut) => {
                write_half(&mut wr, correlation_id, version, resp).await;
                return;
            }
            Some(FaultAction::ApplyThenDelay(d)) => {
                tokio::select! {
                    biased;
                    () = tokio::time::sleep(d) => {}
                    () = wait_not_running(&mut state) => return,
                }
            }
            Some(FaultAction::Throttle(ms)) => handlers::errors::set_throttle(&mut resp, ms),
            _ => {}
        }
        if write(&mut wr, correlation_id, version, resp).await.is_err() {
            return;
        }
    }
}

/// Whether requests of `api` at `version` name topics by id only.
fn names_topics_by_id(api: ApiKey, version: i16) -> bool {
    match api {
        ApiKey::Fetch => version >= 13,
        ApiKey::Produce => version >= 13,
        ApiKey::OffsetCommit => version >= 10,
        _ => false,
    }
}

/// The names of topics `ids`, asked of the core's task.
async fn resolve_topic_ids(shared: &Shared, ids: Vec<kafka_protocol::Uuid>) -> HashMap<kafka_protocol::Uuid, String> {
    let (tx, rx) = oneshot::channel();
    let ask: ControlFn = Box::new(move |core: &mut Core, _now| {
        let names = ids.into_iter().filter_map(|id| core.topic_by_id(id).map(|t| (id, t.name.clone()))).collect();
        let _ = tx.send(names);
    });
    if shared.commands.send(Command::Control(ask)).await.is_err() {
        return HashMap::new();
    }
    rx.await.unwrap_or_default()
}

/// The answer's bytes, in parts. Handlers fill responses for the newest
/// version; an older client gets only the fields its version carries, as
/// Kafka's handlers arrange.
fn encode(correlation_id: i32, version: i16, mut resp: ResponseBody) -> std::io::Result<Vec<bytes::Bytes>> {
    resp.clear_absent_fields(version);
    let w = encode_response(correlation_id, version, &resp).map_err(|e| {
        tracing::error!(error = %e, "cannot encode a response");
        std::io::Error::other(e.to_string())
    })?;
    Ok(w.into_parts())
}

/// Writes the first half of the answer's bytes (a reset mid-response).
async fn write_half(
    wr: &mut (impl tokio::io::AsyncWrite + Unpin),
    correlation_id: i32,
    version: i16,
    resp: ResponseBody,
) {
    let Ok(parts) = encode(correlation_id, version, resp) else { return };
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let _ = wr.write_all(&bytes[..bytes.len() / 2]).await;
    let _ = wr.flush().await;
}

async fn write(
    wr: &mut (impl tokio::io::AsyncWrite + Unpin),
    correlation_id: i32,
    version: i16,
    resp: ResponseBody,
) -> std::io::Result<()> {
    for part in encode(correlation_id, version, resp)? {
        wr.write_all(&part).await?;
    }
    Ok(())
}
