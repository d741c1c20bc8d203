//! The connection against a scripted broker over an in-memory pipe, on
//! tokio's paused clock: timeouts, the in-flight limit, correlation checks
//! and ApiVersions negotiation, with exact virtual timings.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::ApiKey;
use kafka_protocol::frame::{
    FrameDecoder, ParsedRequest, encode_response, parse_request, unsupported_api_versions_response,
};
use kafka_protocol::messages::api_versions::ApiVersion;
use kafka_protocol::messages::{ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestBody, ResponseBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use super::{Connection, ConnectionConfig};
use crate::error::Error;

/// What the scripted broker does with the n-th Metadata request (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Reply,
    /// Never answer.
    Ignore,
    /// Answer with a correlation id that was not asked for.
    WrongCorrelation,
}

/// A broker that serves ApiVersions (refusing versions above `max_api_versions`,
/// as KIP-511 says) and answers Metadata as `script` says. Counts the
/// Metadata requests it read.
async fn broker(
    mut io: DuplexStream,
    max_api_versions: i16,
    script: impl Fn(usize) -> Answer + Send + 'static,
    seen: Arc<AtomicUsize>,
) {
    let decoder = FrameDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    let mut parked = Vec::new();
    loop {
        let frame = match decoder.decode(&mut buf) {
            Ok(Some(f)) => f,
            Ok(None) => {
                if io.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                continue;
            }
            Err(_) => return,
        };
        let accepts = move |api: ApiKey, v: i16| api != ApiKey::ApiVersions || v <= max_api_versions;
        let out = match parse_request(frame, accepts) {
            Ok(ParsedRequest::UnsupportedApiVersions { header }) => {
                let body = unsupported_api_versions_response(&[(ApiKey::ApiVersions, 0, max_api_versions)]);
                encode_response(header.correlation_id, 0, &ResponseBody::ApiVersions(body)).unwrap()
            }
            Ok(ParsedRequest::Request { header, body: RequestBody::ApiVersions(_) }) => {
                let api_keys = ApiKey::ALL
                    .iter()
                    .map(|k| {
                        let v = k.info().versions;
                        ApiVersion { api_key: *k as i16, min_version: v.min, max_version: v.max, ..Default::default() }
                    })
                    .collect();
                let body = ApiVersionsResponse { api_keys, ..Default::default() };
                encode_response(header.correlation_id, header.api_version, &ResponseBody::ApiVersions(body)).unwrap()
            }
            Ok(ParsedRequest::Request { header, body: RequestBody::Metadata(_) }) => {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let body = ResponseBody::Metadata(MetadataResponse::default());
                match script(n) {
                    Answer::Reply => encode_response(header.correlation_id, header.api_version, &body).unwrap(),
                    Answer::Ignore => {
                        parked.push(header);
                        continue;
                    }
                    Answer::WrongCorrelation => {
                        encode_response(header.correlation_id + 1000, header.api_version, &body).unwrap()
                    }
                }
            }
            _ => return,
        };
        if io.write_all(&out.into_bytes()).await.is_err() {
            return;
        }
    }
}

fn config() -> ConnectionConfig {
    ConnectionConfig { request_timeout: Duration::from_secs(30), max_in_flight: 2, ..ConnectionConfig::default() }
}

async fn connect(
    max_api_versions: i16,
    script: impl Fn(usize) -> Answer + Send + 'static,
) -> (Connection, Arc<AtomicUsize>) {
    let (client, server) = tokio::io::duplex(1 << 16);
    let seen = Arc::new(AtomicUsize::new(0));
    tokio::spawn(broker(server, max_api_versions, script, seen.clone()));
    let conn = Connection::over(client, "pipe", 1, config()).await.unwrap();
    (conn, seen)
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_request_times_out_after_request_timeout_and_closes_the_connection() {
    // Kafka answers in order, so the one behind the unanswered one waits too.
    let (conn, _) = connect(4, |_| Answer::Ignore).await;
    let start = Instant::now();
    let req = MetadataRequest::default();
    let first = conn.request(&req);
    let second = conn.request(&req);
    let (first, second) = tokio::join!(first, second);
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert!(matches!(first, Err(Error::RequestTimeout { api: ApiKey::Metadata, .. })), "{first:?}");
    // Answered in order or not at all: the one behind it fails with the
    // connection, its outcome unknown.
    assert!(matches!(second, Err(Error::Disconnected { sent: true, .. })), "{second:?}");
    assert!(conn.is_closed());
    let later = conn.request(&MetadataRequest::default()).await;
    assert!(matches!(later, Err(Error::Disconnected { sent: false, .. })), "{later:?}");
}

#[tokio::test(start_paused = true)]
async fn a_short_timeout_behind_a_long_one_fires_on_time() {
    // A heartbeat's session-bound timeout queued behind a request allowed
    // far longer (a JoinGroup's rebalance timeout): the short one decides.
    let (conn, _) = connect(4, |_| Answer::Ignore).await;
    let start = Instant::now();
    let req = MetadataRequest::default();
    let version = conn.version_for(ApiKey::Metadata).unwrap();
    let long = conn.request_with_timeout(&req, version, Duration::from_secs(300));
    let short = conn.request_with_timeout(&req, version, Duration::from_secs(3));
    let (long, short) = tokio::join!(long, short);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(matches!(short, Err(Error::RequestTimeout { .. })), "{short:?}");
    assert!(matches!(long, Err(Error::Disconnected { sent: true, .. })), "{long:?}");
}

#[tokio::test(start_paused = true)]
async fn requests_beyond_the_in_flight_limit_wait_for_a_slot() {
    // The first two are never answered: the third cannot even be written
    // until the connection gives up on them.
    let (conn, seen) = connect(4, |n| if n < 2 { Answer::Ignore } else { Answer::Reply }).await;
    let a = conn.start_request(&MetadataRequest::default(), 12).await.unwrap();
    let b = conn.start_request(&MetadataRequest::default(), 12).await.unwrap();
    let third = tokio::time::timeout(Duration::from_secs(5), conn.start_request(&MetadataRequest::default(), 12)).await;
    assert!(third.is_err(), "no slot while two requests are unanswered");
    // The non-waiting form says so at once.
    assert!(conn.try_start_request(&MetadataRequest::default(), 12).unwrap().is_none());
    tokio::task::yield_now().await;
    assert_eq!(seen.load(Ordering::SeqCst), 2, "the broker saw only two");
    assert!(!conn.has_capacity());
    let start = Instant::now();
    assert!(matches!(a.response().await, Err(Error::RequestTimeout { .. })));
    assert!(matches!(b.response().await, Err(Error::Disconnected { sent: true, .. })));
    assert_eq!(start.elapsed(), Duration::from_secs(25), "30 s after it was sent");
}

#[tokio::test(start_paused = true)]
async fn an_unexpected_correlation_id_closes_the_connection() {
    let (conn, _) = connect(4, |_| Answer::WrongCorrelation).await;
    let start = Instant::now();
    let r = conn.request(&MetadataRequest::default()).await;
    assert!(matches!(r, Err(Error::Decode { api: ApiKey::Metadata, .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(1), "at once, not at the timeout");
    assert!(conn.is_closed());
}

#[tokio::test(start_paused = true)]
async fn api_versions_falls_back_to_the_brokers_highest_version() {
    // A broker that speaks ApiVersions only up to v2 answers our v4 with
    // UNSUPPORTED_VERSION and its range; we retry at v2 and succeed.
    let (conn, _) = connect(2, |_| Answer::Reply).await;
    assert_eq!(conn.version_for(ApiKey::Metadata).unwrap(), ApiKey::Metadata.info().versions.max);
    conn.request(&MetadataRequest::default()).await.unwrap();
}

/// Found by the seeded fault schedules: the writer checked `closed`, the
/// reader then saw the end of the stream and failed everything queued, and
/// only then did the writer queue the request — which nothing would answer
/// or time out (the reader keeps the deadlines), so its caller waited
/// forever (a consumer's fetches to that broker, and every later connect,
/// stalled). A request can no longer be queued once the connection closed.
#[tokio::test]
async fn a_request_queued_after_the_close_fails_instead_of_waiting_forever() {
    let shared = super::Shared {
        broker: 7,
        addr: "test".into(),
        in_flight: std::sync::Mutex::new(std::collections::VecDeque::new()),
        new_request: tokio::sync::Notify::new(),
        closed: std::sync::atomic::AtomicBool::new(false),
        closed_notify: tokio::sync::Notify::new(),
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(2));
    let entry = |permit| {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let e = super::InFlight {
            correlation_id: 1,
            api: ApiKey::Fetch,
            version: 12,
            deadline: Instant::now() + Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            reply,
            _permit: permit,
        };
        (e, rx)
    };
    let (before, rx_before) = entry(permits.clone().try_acquire_owned().unwrap());
    assert_eq!(shared.register(before).ok(), Some(true));
    shared.close(None);
    assert!(
        matches!(rx_before.await, Ok(Err(Error::Disconnected { sent: true, .. }))),
        "queued before: failed by the close"
    );
    let (after, _rx_after) = entry(permits.clone().try_acquire_owned().unwrap());
    assert!(shared.register(after).is_err(), "queued after the close: refused, so the writer fails it");
    assert!(shared.lock().is_empty());
}
