//! InitProducerId: a fresh producer id at epoch 0 for an idempotent
//! producer. Transactional ids are refused: the testkit does not implement
//! transactions (and does not advertise their APIs).

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ResponseBody};

use crate::cluster::{Core, RequestCtx};

/// InitProducerId for idempotent producers.
pub fn handle(core: &mut Core, _ctx: &RequestCtx, req: InitProducerIdRequest) -> ResponseBody {
    if req.transactional_id.is_some() {
        return ResponseBody::InitProducerId(InitProducerIdResponse {
            error_code: ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED.0,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        });
    }
    let id = core.next_producer_id;
    core.next_producer_id += 1;
    if let Some(s) = &mut core.storage {
        s.producer_id_allocated(core.next_producer_id);
    }
    ResponseBody::InitProducerId(InitProducerIdResponse { producer_id: id, producer_epoch: 0, ..Default::default() })
}
