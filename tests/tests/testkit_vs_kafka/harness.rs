//! Sessions that send typed requests over one plain connection and keep
//! every answer as normalised JSON, so the same scenario run against real
//! Kafka and against the testkit can be compared field by field.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{decode_response_header, encode_typed_request};
use kafka_protocol::header::RequestHeader;
use kafka_protocol::json::ToJson;
use kafka_protocol::messages::{Message, Request};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A scenario: a sequence of requests, the same code for every target.
pub type Scenario = for<'a> fn(&'a mut Session) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// One request and what came back.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub label: String,
    pub answer: Value,
}

/// A connection to one broker and the answers it gave.
pub struct Session {
    addr: String,
    conn: Option<TcpStream>,
    correlation: i32,
    pub exchanges: Vec<Exchange>,
    /// Values that legitimately differ (member ids, producer ids), replaced
    /// by placeholders numbered per namespace in order of first appearance.
    aliases: BTreeMap<String, String>,
    counts: BTreeMap<&'static str, usize>,
}

/// Keys whose values differ by nature between two clusters.
const MASKED: &[(&str, &str)] = &[
    ("throttle_time_ms", "0"),
    ("error_message", "\"<message>\""),
    ("cluster_id", "\"<cluster>\""),
    ("host", "\"<host>\""),
    ("port", "0"),
];

/// Keys holding times; a value read from the broker's clock (later than
/// any fixed record timestamp the scenarios write) differs by nature and
/// is masked, -1 and the scenarios' own timestamps are compared.
const TIMES: &[&str] = &["transaction_start_time_ms", "last_timestamp"];
const CLOCK_FROM: i64 = 1_760_000_000_000;

/// Keys whose values are per-cluster identities, with the namespace they
/// are aliased in: equal values get equal aliases, different ones
/// different (a JoinGroup's `leader` is a member id).
const ALIASED: &[(&str, &str)] =
    &[("topic_id", "topic"), ("member_id", "member"), ("leader", "member"), ("producer_id", "producer")];

impl Session {
    pub fn new(addr: String) -> Session {
        Session {
            addr,
            conn: None,
            correlation: 0,
            exchanges: Vec::new(),
            aliases: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Sends `req` at `version` and records the normalised answer under
    /// `label`; None (recorded as "connection closed") when the broker
    /// closed the connection instead of answering.
    pub async fn call<R: Request>(&mut self, label: &str, version: i16, req: &R) -> Option<R::Response> {
        let answer = self.exchange(version, req).await;
        let recorded = match &answer {
            Ok(resp) => self.normalise(serde_json::from_str(&resp.to_json()).expect("our JSON parses")),
            Err(e) => Value::String(format!("<{e}>")),
        };
        self.exchanges.push(Exchange { label: label.to_string(), answer: recorded });
        answer.ok()
    }

    /// Records `value` under `label`, for answers only part of which is
    /// comparable.
    pub fn note(&mut self, label: &str, value: Option<i16>) {
        let answer = value.map_or(Value::Null, Value::from);
        self.exchanges.push(Exchange { label: label.to_string(), answer });
    }

    /// Sends `body` (a request header and body, unframed) as one frame and
    /// records whether the broker answered it or closed the connection.
    pub async fn raw(&mut self, label: &str, body: &[u8]) {
        let outcome = async {
            if self.conn.is_none() {
                self.conn = Some(TcpStream::connect(&self.addr).await.map_err(|e| format!("connect: {e}"))?);
            }
            let conn = self.conn.as_mut().ok_or("no connection")?;
            let len = i32::try_from(body.len()).map_err(|e| e.to_string())?;
            conn.write_all(&len.to_be_bytes()).await.map_err(|e| e.to_string())?;
            conn.write_all(body).await.map_err(|e| e.to_string())?;
            let mut len = [0u8; 4];
            match tokio::time::timeout(Duration::from_secs(10), conn.read_exact(&mut len)).await {
                Err(_) => Ok("no answer within 10 s".to_string()),
                Ok(Err(_)) => Ok("connection closed".to_string()),
                Ok(Ok(_)) => {
                    let mut rest = BytesMut::zeroed(i32::from_be_bytes(len).max(0) as usize);
                    conn.read_exact(&mut rest).await.map_err(|e| e.to_string())?;
                    Ok::<String, String>("answered".to_string())
                }
            }
        }
        .await;
        // Whatever happened, the next request starts on a new connection.
        self.conn = None;
        let answer = Value::String(outcome.unwrap_or_else(|e| format!("<{e}>")));
        self.exchanges.push(Exchange { label: label.to_string(), answer });
    }

    /// Like [`Self::call`], but nothing is recorded (set-up and waits).
    pub async fn quiet<R: Request>(&mut self, version: i16, req: &R) -> Option<R::Response> {
        self.exchange(version, req).await.ok()
    }

    async fn exchange<R: Request>(&mut self, version: i16, req: &R) -> Result<R::Response, String> {
        if self.conn.is_none() {
            let c = TcpStream::connect(&self.addr).await.map_err(|e| format!("connect: {e}"))?;
            self.conn = Some(c);
        }
        self.correlation += 1;
        let header = RequestHeader {
            api_key: R::API_KEY as i16,
            api_version: version,
            correlation_id: self.correlation,
            client_id: Some("conformance".into()),
            ..Default::default()
        };
        let frame = encode_typed_request(&header, req).map_err(|e| format!("encode: {e}"))?;
        let result = tokio::time::timeout(Duration::from_secs(30), async {
            let conn = self.conn.as_mut().ok_or("no connection")?;
            for part in frame.into_parts() {
                conn.write_all(&part).await.map_err(|_| "connection closed")?;
            }
            let mut len = [0u8; 4];
            conn.read_exact(&mut len).await.map_err(|_| "connection closed")?;
            let mut buf = BytesMut::zeroed(i32::from_be_bytes(len).max(0) as usize);
            conn.read_exact(&mut buf).await.map_err(|_| "connection closed")?;
            Ok::<Bytes, &str>(buf.freeze())
        })
        .await;
        let mut body = match result {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                self.conn = None;
                return Err(e.to_string());
            }
            Err(_) => {
                self.conn = None;
                return Err("no answer within 30 s".into());
            }
        };
        let h = decode_response_header(&mut body, R::API_KEY, version).map_err(|e| format!("header: {e}"))?;
        if h.correlation_id != self.correlation {
            return Err(format!("correlation {} for {}", h.correlation_id, self.correlation));
        }
        R::Response::decode(&mut body, version).map_err(|e| format!("decode: {e}"))
    }

    fn normalise(&mut self, mut v: Value) -> Value {
        self.walk(&mut v);
        v
    }

    fn walk(&mut self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    if let Some((_, masked)) = MASKED.iter().find(|(m, _)| m == k) {
                        if !val.is_null() {
                            *val = serde_json::from_str(masked).expect("mask");
                        }
                        continue;
                    }
                    if TIMES.contains(&k.as_str()) && val.as_i64().is_some_and(|t| t >= CLOCK_FROM) {
                        *val = Value::String("<broker clock>".into());
                        continue;
                    }
                    if let Some((_, space)) = ALIASED.iter().find(|(a, _)| a == k)
                        && is_identity(val)
                    {
                        let key = format!("{space}={val}");
                        let alias = match self.aliases.get(&key) {
                            Some(a) => a.clone(),
                            None => {
                                let n = self.counts.entry(space).or_default();
                                let a = format!("<{space}-{n}>");
                                *n += 1;
                                self.aliases.insert(key, a.clone());
                                a
                            }
                        };
                        *val = Value::String(alias);
                        continue;
                    }
                    self.walk(val);
                }
            }
            Value::Array(items) => {
                for i in items.iter_mut() {
                    self.walk(i);
                }
                // Kafka answers from hash maps: the order of topics,
                // partitions, groups and configs carries no meaning.
                if items.iter().all(Value::is_object) {
                    items.sort_by_cached_key(Value::to_string);
                }
            }
            _ => {}
        }
    }
}

/// Whether a value names something (not empty, zero, or "none").
fn is_identity(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty() && s != "AAAAAAAAAAAAAAAAAAAAAA",
        Value::Number(n) => n.as_i64().is_some_and(|n| n >= 0),
        _ => false,
    }
}

/// Paths (`a.b[2].c`) at which two answers differ, with both values.
pub fn differences(a: &Value, b: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    diff_into("", a, b, &mut out);
    out
}

fn diff_into(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, String, String)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => diff_into(&p, l, r, out),
                    (l, r) => out.push((p, fmt(l), fmt(r))),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff_into(&format!("{path}[{i}]"), l, r, out);
            }
        }
        _ if a == b => {}
        _ => out.push((path.to_string(), a.to_string(), b.to_string())),
    }
}

fn fmt(v: Option<&Value>) -> String {
    v.map_or("(absent)".to_string(), Value::to_string)
}
