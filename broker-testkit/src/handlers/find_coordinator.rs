//! FindCoordinator: a group's coordinator is the leader of its
//! `__consumer_offsets` partition, a transactional id's the leader of its
//! `__transaction_state` partition (each topic created on first use, as in
//! Kafka), so they move when that broker stops. v4+ answers several keys
//! at once. Share groups (key type 2) are not offered.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::find_coordinator::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse, ResponseBody};

use crate::cluster::{Core, RequestCtx};

fn lookup(core: &mut Core, key: &str, key_type: i8, now_ms: i64) -> Coordinator {
    let mut c = Coordinator { key: key.to_string(), node_id: -1, host: String::new(), port: -1, ..Default::default() };
    let found = match key_type {
        0 | 1 if key.is_empty() => {
            c.error_code = ErrorCode::INVALID_REQUEST.0;
            c.error_message =
                Some(if key_type == 0 { "the group id is empty" } else { "the transactional id is empty" }.into());
            return c;
        }
        0 => core.coordinator_for(key, now_ms),
        1 => core.txn_coordinator_for(key, now_ms),
        _ => {
            c.error_code = ErrorCode::INVALID_REQUEST.0;
            c.error_message = Some(format!("broker-testkit has no coordinator for key type {key_type}"));
            return c;
        }
    };
    match found.and_then(|id| core.brokers.get(&id).cloned()) {
        Some(b) => {
            c.node_id = b.id;
            c.host = b.host;
            c.port = i32::from(b.port);
        }
        None => {
            c.error_code = ErrorCode::COORDINATOR_NOT_AVAILABLE.0;
            c.error_message = Some(ErrorCode::COORDINATOR_NOT_AVAILABLE.message().to_string());
        }
    }
    c
}

/// FindCoordinator for groups and transactional ids (one key before v4,
/// several from v4).
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: FindCoordinatorRequest) -> ResponseBody {
    let mut resp = FindCoordinatorResponse::default();
    if ctx.version >= 4 {
        for key in &req.coordinator_keys {
            resp.coordinators.push(lookup(core, key, req.key_type, ctx.now_ms));
        }
    } else {
        let c = lookup(core, &req.key, req.key_type, ctx.now_ms);
        resp.error_code = c.error_code;
        resp.error_message = c.error_message;
        resp.node_id = c.node_id;
        resp.host = c.host;
        resp.port = c.port;
    }
    ResponseBody::FindCoordinator(resp)
}
