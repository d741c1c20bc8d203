//! InitProducerId: a fresh producer id at epoch 0 for an idempotent
//! producer; for a transactional id, the transaction coordinator's answer
//! (a new id, or the existing one with its epoch bumped, fencing earlier
//! instances), served only by the id's coordinator.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ResponseBody};

use crate::cluster::{Core, RequestCtx};
use crate::txn::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID};

/// The first InitProducerId version that reports PRODUCER_FENCED (KIP-588);
/// older ones get INVALID_PRODUCER_EPOCH.
const FIRST_PRODUCER_FENCED: i16 = 4;

fn answer(result: Result<(i64, i16), ErrorCode>) -> ResponseBody {
    let (error, (producer_id, producer_epoch)) = match result {
        Ok(p) => (ErrorCode::NONE, p),
        Err(e) => (e, (NO_PRODUCER_ID, NO_PRODUCER_EPOCH)),
    };
    ResponseBody::InitProducerId(InitProducerIdResponse {
        error_code: error.0,
        producer_id,
        producer_epoch,
        ..Default::default()
    })
}

/// InitProducerId for idempotent and transactional producers.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: InitProducerIdRequest) -> ResponseBody {
    let Some(tid) = req.transactional_id.clone() else {
        return answer(Ok((core.allocate_producer_id(), 0)));
    };
    answer(transactional(core, ctx, &tid, &req).map_err(|e| {
        if e == ErrorCode::PRODUCER_FENCED && ctx.version < FIRST_PRODUCER_FENCED {
            ErrorCode::INVALID_PRODUCER_EPOCH
        } else {
            e
        }
    }))
}

fn transactional(
    core: &mut Core,
    ctx: &RequestCtx,
    tid: &str,
    req: &InitProducerIdRequest,
) -> Result<(i64, i16), ErrorCode> {
    // The id and epoch of the caller come as a pair (KIP-360).
    let expected = match (req.producer_id, req.producer_epoch) {
        (NO_PRODUCER_ID, NO_PRODUCER_EPOCH) => None,
        (NO_PRODUCER_ID, _) | (_, NO_PRODUCER_EPOCH) => return Err(ErrorCode::INVALID_REQUEST),
        (pid, epoch) => Some((pid, epoch)),
    };
    if !tid.is_empty() {
        match core.txn_coordinator_for(tid, ctx.now_ms) {
            None => return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            Some(b) if b != ctx.broker => return Err(ErrorCode::NOT_COORDINATOR),
            Some(_) => {}
        }
    }
    let (txns, mut alloc) = core.txns_with_ids();
    txns.init_producer_id(tid, req.transaction_timeout_ms, expected, ctx.now_ms, &mut alloc)
}
