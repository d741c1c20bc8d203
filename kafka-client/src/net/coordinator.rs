//! One FindCoordinator lookup, for any key type: consumer groups (0) and
//! transactional ids (1). Speaks the batched form (v4+, KIP-699) with one
//! key, or the single-key form before it.

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

    fn describe(self, key: &str) -> String {
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
    let version = conn.version_for(ApiKey::FindCoordinator)?;
    let key_type = kind.key_type();
    let req = if version >= 4 {
        FindCoordinatorRequest { key_type, coordinator_keys: vec![key.to_string()], ..Default::default() }
    } else {
        FindCoordinatorRequest { key: key.to_string(), key_type, ..Default::default() }
    };
    let resp = conn.request_at(&req, version).await?;
    let c = if version >= 4 {
        resp.coordinators.into_iter().find(|c| c.key == key).ok_or_else(|| {
            Error::broker(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                ApiKey::FindCoordinator,
                conn.broker(),
                kind.describe(key),
                Some("the answer does not name the key asked about".into()),
            )
        })?
    } else {
        Coordinator {
            key: key.to_string(),
            node_id: resp.node_id,
            host: resp.host,
            port: resp.port,
            error_code: resp.error_code,
            error_message: resp.error_message,
            ..Default::default()
        }
    };
    if c.error_code != 0 {
        return Err(Error::broker(
            ErrorCode(c.error_code),
            ApiKey::FindCoordinator,
            conn.broker(),
            kind.describe(key),
            c.error_message,
        ));
    }
    Ok(BrokerAddr { id: c.node_id, host: c.host, port: c.port, rack: None })
}
