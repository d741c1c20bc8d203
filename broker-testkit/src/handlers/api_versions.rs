//! ApiVersions: what the pinned Kafka release advertises for the APIs the
//! testkit serves (Produce from v0, as Kafka 4.x lists it), from v3 the
//! `transaction.version` feature (supported 0–2, finalized at the
//! cluster's level, which clients read to choose KIP-890's transaction
//! protocol), and from v5 the check that the client talks to the cluster
//! and node it believes it does (KIP-1242).

use kafka_protocol::messages::api_versions::{ApiVersion, FinalizedFeatureKey, SupportedFeatureKey};
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

/// The name of the transaction protocol feature (KIP-890).
pub const TRANSACTION_VERSION: &str = "transaction.version";

/// The highest `transaction.version` the testkit supports.
pub const MAX_TRANSACTION_VERSION: i16 = 2;

/// The epoch of the finalized features: they never change while a cluster
/// runs.
const FINALIZED_FEATURES_EPOCH: i64 = 1;

/// The first ApiVersions version carrying features.
const FIRST_WITH_FEATURES: i16 = 3;

/// ApiVersions: the advertised version ranges, or REBOOTSTRAP_REQUIRED when
/// the client names another cluster or node. The ids come as a pair: one
/// without the other is INVALID_REQUEST (as Kafka 4.4 answers).
/// `transaction_version` is the finalized level; Kafka lists no finalized
/// entry for a feature at level 0.
pub fn handle(ctx: &RequestCtx, cluster_id: &str, transaction_version: i16, req: &ApiVersionsRequest) -> ResponseBody {
    let error = match (req.cluster_id.as_deref(), req.node_id) {
        (None, -1) => None,
        (None, _) | (Some(_), -1) => Some(ErrorCode::INVALID_REQUEST),
        (Some(c), n) if c != cluster_id || n != ctx.broker => Some(ErrorCode::REBOOTSTRAP_REQUIRED),
        _ => None,
    };
    if let Some(code) = error {
        return ResponseBody::ApiVersions(ApiVersionsResponse { error_code: code.0, ..Default::default() });
    }
    let mut resp = ApiVersionsResponse::default();
    if ctx.version >= FIRST_WITH_FEATURES {
        resp.supported_features = vec![SupportedFeatureKey {
            name: TRANSACTION_VERSION.into(),
            min_version: 0,
            max_version: MAX_TRANSACTION_VERSION,
            ..Default::default()
        }];
        resp.finalized_features_epoch = FINALIZED_FEATURES_EPOCH;
        if transaction_version > 0 {
            resp.finalized_features = vec![FinalizedFeatureKey {
                name: TRANSACTION_VERSION.into(),
                max_version_level: transaction_version,
                min_version_level: transaction_version,
                ..Default::default()
            }];
        }
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
        ..resp
    })
}
