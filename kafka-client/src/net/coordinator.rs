//! FindCoordinator, for any key type: consumer groups (0) and
//! transactional ids (1). Speaks the batched form (v4+, KIP-699), or the
//! single-key form before it; the clients and the admin share it.

use std::collections::BTreeMap;

use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator::Coordinator;
use kafka_protocol::{ApiKey, ErrorCode};

use super::Connection;
use crate::error::{Error, Result};
use crate::metadata::BrokerAddr;

/// What a coordinator is looked up for (FindCoordinator's `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoordinatorKind {
    /// A consumer group, by group id.
    Group,
    /// A transactional producer, by `transactional.id`.
    Transaction,
}

impl CoordinatorKind {
    fn key_type(self) -> i8 {
        match self {
            CoordinatorKind::Group => 0,
            CoordinatorKind::Transaction => 1,
        }
    }

    pub(crate) fn describe(self, key: &str) -> String {
        match self {
            CoordinatorKind::Group => format!("group {key}"),
            CoordinatorKind::Transaction => format!("transactional id {key}"),
        }
    }
}

/// Asks `conn`'s broker which broker coordinates `key`; returns its address.
/// A coordinator error (COORDINATOR_NOT_AVAILABLE while the internal topic
/// loads, ...) comes back as [`Error::Broker`], to be classified by the caller.
pub(crate) async fn find_coordinator(conn: &Connection, kind: CoordinatorKind, key: &str) -> Result<BrokerAddr> {
    let keys = [key.to_string()];
    let mut answers = find_coordinators(conn, kind, &keys).await?;
    answers.remove(key).unwrap_or_else(|| {
        Err(Error::broker(
            ErrorCode::UNKNOWN_SERVER_ERROR,
            ApiKey::FindCoordinator,
            conn.broker(),
            kind.describe(key),
            Some("the answer does not name the key asked about".into()),
        ))
    })
}

/// Asks `conn`'s broker which brokers coordinate `keys`: one batched
/// request from v4, one request per key (concurrently) before. Each key
/// the broker answered maps to its coordinator's address or to the error
/// the answer carries; a key the answer leaves out is absent, for the
/// caller to name. Err when no request could be made or answered.
pub(crate) async fn find_coordinators(
    conn: &Connection,
    kind: CoordinatorKind,
    keys: &[String],
) -> Result<BTreeMap<String, Result<BrokerAddr>>> {
    let version = conn.version_for(ApiKey::FindCoordinator)?;
    let key_type = kind.key_type();
    let answers: Vec<Result<Coordinator>> = if version >= 4 {
        let req = FindCoordinatorRequest { key_type, coordinator_keys: keys.to_vec(), ..Default::default() };
        conn.request_at(&req, version).await?.coordinators.into_iter().map(Ok).collect()
    } else {
        let one = |key: String| async move {
            let req = FindCoordinatorRequest { key: key.clone(), key_type, ..Default::default() };
            let resp = conn.request_at(&req, version).await?;
            Ok(Coordinator {
                key,
                node_id: resp.node_id,
                host: resp.host,
                port: resp.port,
                error_code: resp.error_code,
                error_message: resp.error_message,
                ..Default::default()
            })
        };
        futures::future::join_all(keys.iter().cloned().map(one)).await
    };
    let mut out = BTreeMap::new();
    for (i, answer) in answers.into_iter().enumerate() {
        let (key, result) = match answer {
            // Before v4 the answers come in the order of `keys`.
            Err(e) => (keys[i].clone(), Err(e)),
            Ok(c) if !keys.contains(&c.key) => continue,
            Ok(c) if c.error_code != 0 => {
                let e = Error::broker(
                    ErrorCode(c.error_code),
                    ApiKey::FindCoordinator,
                    conn.broker(),
                    kind.describe(&c.key),
                    c.error_message,
                );
                (c.key, Err(e))
            }
            Ok(c) => (c.key, Ok(BrokerAddr { id: c.node_id, host: c.host, port: c.port, rack: None })),
        };
        out.entry(key).or_insert(result);
    }
    Ok(out)
}
