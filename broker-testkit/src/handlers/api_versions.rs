//! ApiVersions: what the pinned Kafka release advertises for the APIs the
//! testkit serves (Produce from v0, as Kafka 4.x lists it), and from v5 the
//! check that the client talks to the cluster and node it believes it does
//! (KIP-1242).

use kafka_protocol::messages::api_versions::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, ResponseBody};
use kafka_protocol::{ApiKey, ErrorCode};

use crate::cluster::{Core, RequestCtx};

/// The (api, min, max) ranges the testkit advertises.
pub fn advertised() -> Vec<(ApiKey, i16, i16)> {
    ApiKey::ALL
        .iter()
        .filter(|&&k| Core::serves(k))
        .map(|&k| {
            let info = k.info();
            (k, info.advertised_min, info.versions.max)
        })
        .collect()
}

/// ApiVersions: the advertised version ranges, or REBOOTSTRAP_REQUIRED when
/// the client names another cluster or node. The ids come as a pair: one
/// without the other is INVALID_REQUEST (as Kafka 4.4 answers).
pub fn handle(ctx: &RequestCtx, cluster_id: &str, req: &ApiVersionsRequest) -> ResponseBody {
    let error = match (req.cluster_id.as_deref(), req.node_id) {
        (None, -1) => None,
        (None, _) | (Some(_), -1) => Some(ErrorCode::INVALID_REQUEST),
        (Some(c), n) if c != cluster_id || n != ctx.broker => Some(ErrorCode::REBOOTSTRAP_REQUIRED),
        _ => None,
    };
    if let Some(code) = error {
        return ResponseBody::ApiVersions(ApiVersionsResponse { error_code: code.0, ..Default::default() });
    }
    ResponseBody::ApiVersions(ApiVersionsResponse {
        api_keys: advertised()
            .into_iter()
            .map(|(k, min, max)| ApiVersion {
                api_key: k as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}
