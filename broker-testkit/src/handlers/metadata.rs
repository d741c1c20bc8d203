//! Metadata: brokers (their real listener addresses), cluster id,
//! controller, and the topics asked for — auto-creating missing ones only as
//! Kafka does (the request allows it, `auto.create.topics.enable` is on,
//! the name is valid).

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::metadata::{MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, ResponseBody};

use crate::cluster::partition::NO_LEADER;
use crate::cluster::topic::{self, Topic};
use crate::cluster::{Core, RequestCtx};
use crate::config::TopicOverrides;

/// Kafka's topic operations bitfield when no authorizer is configured: READ,
/// WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
pub const TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations without an authorizer: CREATE, ALTER, DESCRIBE,
/// CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
pub const CLUSTER_OPERATIONS: i32 = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

/// Metadata, auto-creating topics where allowed.
pub fn handle(core: &mut Core, ctx: &RequestCtx, req: MetadataRequest) -> ResponseBody {
    let mut resp = MetadataResponse {
        brokers: core
            .brokers
            .values()
            .filter(|b| b.online)
            .map(|b| MetadataResponseBroker {
                node_id: b.id,
                host: b.host.clone(),
                port: i32::from(b.port),
                rack: b.rack.clone(),
                ..Default::default()
            })
            .collect(),
        cluster_id: Some(core.cluster_id.clone()),
        controller_id: core.controller(),
        cluster_authorized_operations: if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS
        } else {
            i32::MIN
        },
        ..Default::default()
    };
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && ctx.version == 0,
    };
    let ops = if req.include_topic_authorized_operations { TOPIC_OPERATIONS } else { i32::MIN };
    let online = core.online_brokers();
    if all {
        for t in core.topics.values() {
            resp.topics.push(describe(t, &online, ops));
        }
        return ResponseBody::Metadata(resp);
    }
    let may_create = core.settings.auto_create_topics && (ctx.version < 4 || req.allow_auto_topic_creation);
    for rt in req.topics.unwrap_or_default() {
        let name = match (&rt.name, ctx.version >= 12 && !rt.topic_id.is_zero()) {
            (_, true) => match core.topic_by_id(rt.topic_id) {
                Some(t) => t.name.clone(),
                None => {
                    resp.topics.push(MetadataResponseTopic {
                        error_code: ErrorCode::UNKNOWN_TOPIC_ID.0,
                        name: None,
                        topic_id: rt.topic_id,
                        topic_authorized_operations: ops,
                        ..Default::default()
                    });
                    continue;
                }
            },
            (Some(n), false) => n.clone(),
            (None, false) => {
                resp.topics.push(MetadataResponseTopic {
                    error_code: ErrorCode::INVALID_REQUEST.0,
                    topic_authorized_operations: ops,
                    ..Default::default()
                });
                continue;
            }
        };
        if !core.topics.contains_key(&name) {
            let error = if topic::validate_name(&name).is_err() || core.topics.keys().any(|t| topic::collides(t, &name))
            {
                Some(ErrorCode::INVALID_TOPIC_EXCEPTION)
            } else if !may_create {
                Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
            } else if (core.settings.default_replication_factor.max(1) as usize) > online.len() {
                Some(ErrorCode::INVALID_REPLICATION_FACTOR)
            } else {
                let parts = core.settings.num_partitions.max(1);
                let rf = core.settings.default_replication_factor.max(1) as usize;
                core.create_topic(&name, parts, rf, None, TopicOverrides::default(), ctx.now_ms);
                None
            };
            if let Some(code) = error {
                resp.topics.push(MetadataResponseTopic {
                    error_code: code.0,
                    name: Some(name),
                    topic_authorized_operations: ops,
                    ..Default::default()
                });
                continue;
            }
        }
        if let Some(t) = core.topics.get(&name) {
            resp.topics.push(describe(t, &online, ops));
        }
    }
    ResponseBody::Metadata(resp)
}

fn describe(t: &Topic, online: &[i32], ops: i32) -> MetadataResponseTopic {
    let is_online = |b: i32| online.contains(&b);
    MetadataResponseTopic {
        error_code: 0,
        name: Some(t.name.clone()),
        topic_id: t.id,
        is_internal: t.internal,
        partitions: t
            .partitions
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: if p.leader == NO_LEADER { ErrorCode::LEADER_NOT_AVAILABLE.0 } else { 0 },
                partition_index: p.index,
                leader_id: p.leader,
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: p.offline_replicas(&is_online),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: ops,
        ..Default::default()
    }
}
