//! ApiVersions: what the pinned Kafka release advertises for the APIs the
//! testkit serves (Produce from v0, as Kafka 4.0 lists it).

use kafka_protocol::ApiKey;
use kafka_protocol::messages::api_versions::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, ResponseBody};

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

/// ApiVersions: the advertised version ranges.
pub fn handle(_ctx: &RequestCtx, _req: &ApiVersionsRequest) -> ResponseBody {
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
