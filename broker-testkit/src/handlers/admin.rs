//! Topic administration and cluster description, answered per item as
//! Kafka does (one failed topic does not hide the others).

use std::collections::BTreeSet;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::create_partitions::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_protocol::messages::delete_records::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult};
use kafka_protocol::messages::delete_topics::DeletableTopicResult;
use kafka_protocol::messages::describe_cluster::DescribeClusterBroker;
use kafka_protocol::messages::*;

use super::metadata::CLUSTER_OPERATIONS;
use crate::cluster::partition::Partition;
use crate::cluster::topic;
use crate::cluster::{Core, RequestCtx};
use crate::config::{self, TopicOverrides};

type ItemError = (ErrorCode, String);

/// Checks an explicit replica assignment: partitions 0..n-1 in order, each
/// with distinct, existing brokers and the same replication factor.
fn check_assignment(core: &Core, assignment: &[(i32, Vec<i32>)], first_partition: i32) -> Result<(), ItemError> {
    let bad = |m: String| Err((ErrorCode::INVALID_REPLICA_ASSIGNMENT, m));
    let rf = assignment.first().map_or(0, |(_, b)| b.len());
    for (i, (p, brokers)) in assignment.iter().enumerate() {
        if *p != first_partition + i as i32 {
            return bad(format!("partitions must be numbered {first_partition}.. without gaps; found {p}"));
        }
        if brokers.is_empty() || brokers.len() != rf {
            return bad(format!(
                "partition {p} has {} replicas; every partition needs the same non-zero number",
                brokers.len()
            ));
        }
        if brokers.iter().collect::<BTreeSet<_>>().len() != brokers.len() {
            return bad(format!("partition {p} names a broker twice"));
        }
        if let Some(b) = brokers.iter().find(|b| !core.brokers.contains_key(b)) {
            return bad(format!("broker {b} does not exist"));
        }
    }
    Ok(())
}

fn overrides_from(configs: &[(String, Option<String>)]) -> Result<TopicOverrides, ItemError> {
    let mut o = TopicOverrides::default();
    for (name, value) in configs {
        config::validate_topic_config(name, value.as_deref()).map_err(|m| (ErrorCode::INVALID_CONFIG, m))?;
        if let Some(v) = value {
            o.0.insert(name.clone(), v.clone());
        }
    }
    Ok(o)
}

/// A validated CreateTopics entry: partitions, replication factor, manual
/// replica assignment if given, and config overrides.
type TopicPlan = (i32, i16, Option<Vec<Vec<i32>>>, TopicOverrides);

/// CreateTopics: validates and creates each topic (or only validates).
pub fn create_topics(core: &mut Core, ctx: &RequestCtx, req: CreateTopicsRequest) -> ResponseBody {
    let mut resp = CreateTopicsResponse::default();
    let mut seen = BTreeSet::new();
    let dup: BTreeSet<String> =
        req.topics.iter().filter(|t| !seen.insert(t.name.clone())).map(|t| t.name.clone()).collect();
    for t in req.topics {
        // As Kafka answers: no message on success, an empty (not null)
        // config list on failure.
        let mut r = CreatableTopicResult {
            name: t.name.clone(),
            num_partitions: -1,
            replication_factor: -1,
            error_message: None,
            configs: Some(Vec::new()),
            ..Default::default()
        };
        let result = (|| -> Result<TopicPlan, ItemError> {
            if dup.contains(&t.name) {
                return Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("topic {} appears more than once in the request", t.name),
                ));
            }
            topic::validate_name(&t.name).map_err(|m| (ErrorCode::INVALID_TOPIC_EXCEPTION, m))?;
            if core.topics.contains_key(&t.name) {
                return Err((ErrorCode::TOPIC_ALREADY_EXISTS, format!("Topic '{}' already exists.", t.name)));
            }
            if let Some(other) = core.topics.keys().find(|o| topic::collides(o, &t.name)) {
                return Err((
                    ErrorCode::INVALID_TOPIC_EXCEPTION,
                    format!("topic {} collides with existing topic {other}", t.name),
                ));
            }
            let overrides =
                overrides_from(&t.configs.iter().map(|c| (c.name.clone(), c.value.clone())).collect::<Vec<_>>())?;
            if !t.assignments.is_empty() {
                if t.num_partitions != -1 || t.replication_factor != -1 {
                    return Err((
                        ErrorCode::INVALID_REQUEST,
                        "with a replica assignment, numPartitions and replicationFactor must be -1".into(),
                    ));
                }
                let a: Vec<(i32, Vec<i32>)> =
                    t.assignments.iter().map(|a| (a.partition_index, a.broker_ids.clone())).collect();
                check_assignment(core, &a, 0)?;
                let rf = a[0].1.len() as i16;
                return Ok((a.len() as i32, rf, Some(a.into_iter().map(|(_, b)| b).collect()), overrides));
            }
            let partitions = if t.num_partitions == -1 { core.settings.num_partitions } else { t.num_partitions };
            if partitions <= 0 {
                return Err((ErrorCode::INVALID_PARTITIONS, "Number of partitions must be larger than 0.".into()));
            }
            let rf = if t.replication_factor == -1 {
                core.settings.default_replication_factor
            } else {
                t.replication_factor
            };
            if rf <= 0 {
                return Err((
                    ErrorCode::INVALID_REPLICATION_FACTOR,
                    "Replication factor must be larger than 0.".into(),
                ));
            }
            let live = core.online_brokers().len();
            if rf as usize > live {
                return Err((
                    ErrorCode::INVALID_REPLICATION_FACTOR,
                    format!(
                        "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {live} broker(s) are registered."
                    ),
                ));
            }
            Ok((partitions, rf, None, overrides))
        })();
        match result {
            Err((code, msg)) => {
                r.error_code = code.0;
                r.error_message = Some(msg);
            }
            Ok((partitions, rf, assignment, overrides)) => {
                r.num_partitions = partitions;
                r.replication_factor = rf;
                r.configs = Some(
                    config::describe_topic(&overrides, &core.topic_defaults)
                        .into_iter()
                        .map(|e| CreatableTopicConfigs {
                            name: e.name,
                            value: e.value,
                            read_only: e.read_only,
                            config_source: e.source.code(),
                            is_sensitive: false,
                            ..Default::default()
                        })
                        .collect(),
                );
                // Kafka names a topic id even when it only validates.
                r.topic_id = if req.validate_only {
                    core.new_topic_id()
                } else {
                    core.create_topic(&t.name, partitions, rf as usize, assignment, overrides, ctx.now_ms)
                };
            }
        }
        resp.topics.push(r);
    }
    ResponseBody::CreateTopics(resp)
}

/// DeleteTopics: by name (v0-5) or by name or id (v6).
pub fn delete_topics(core: &mut Core, ctx: &RequestCtx, req: DeleteTopicsRequest) -> ResponseBody {
    let mut resp = DeleteTopicsResponse::default();
    let targets: Vec<(Option<String>, kafka_protocol::Uuid)> = if ctx.version >= 6 {
        req.topics.iter().map(|t| (t.name.clone(), t.topic_id)).collect()
    } else {
        req.topic_names.iter().map(|n| (Some(n.clone()), kafka_protocol::Uuid::ZERO)).collect()
    };
    for (name, id) in targets {
        let mut r = DeletableTopicResult { name: name.clone(), topic_id: id, ..Default::default() };
        let found = match (&name, id.is_zero()) {
            (Some(n), _) => core.topics.get(n).map(|t| (t.name.clone(), t.id)),
            (None, false) => core.topic_by_id(id).map(|t| (t.name.clone(), t.id)),
            (None, true) => None,
        };
        match found {
            None if name.is_none() => {
                r.error_code = ErrorCode::UNKNOWN_TOPIC_ID.0;
                r.error_message = Some(format!("no topic with id {id}"));
            }
            None => {
                r.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
                r.error_message = Some("This server does not host this topic-partition.".into());
            }
            Some((n, _)) if topic::is_internal(&n) => {
                r.error_code = ErrorCode::INVALID_REQUEST.0;
                r.error_message = Some(format!("the internal topic {n} cannot be deleted"));
            }
            Some((n, tid)) => {
                core.delete_topic(&n);
                r.name = Some(n);
                r.topic_id = tid;
            }
        }
        resp.responses.push(r);
    }
    ResponseBody::DeleteTopics(resp)
}

/// CreatePartitions: adds partitions to topics (never removes any).
pub fn create_partitions(core: &mut Core, ctx: &RequestCtx, req: CreatePartitionsRequest) -> ResponseBody {
    let mut resp = CreatePartitionsResponse::default();
    for t in req.topics {
        let mut r = CreatePartitionsTopicResult { name: t.name.clone(), ..Default::default() };
        let result = (|| -> Result<Option<Vec<Vec<i32>>>, ItemError> {
            let Some(topic) = core.topics.get(&t.name) else {
                return Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, format!("The topic '{}' does not exist.", t.name)));
            };
            let current = topic.partitions.len() as i32;
            if t.count < current {
                return Err((
                    ErrorCode::INVALID_PARTITIONS,
                    format!(
                        "Topic currently has {current} partitions, which is higher than the requested {}.",
                        t.count
                    ),
                ));
            }
            if t.count == current {
                return Err((ErrorCode::INVALID_PARTITIONS, format!("Topic already has {current} partitions.")));
            }
            let rf = topic.replication_factor();
            match &t.assignments {
                Some(a) => {
                    if a.len() as i32 != t.count - current {
                        return Err((
                            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            format!("{} assignments for {} new partitions", a.len(), t.count - current),
                        ));
                    }
                    let list: Vec<(i32, Vec<i32>)> =
                        a.iter().enumerate().map(|(i, x)| (current + i as i32, x.broker_ids.clone())).collect();
                    check_assignment(core, &list, current)?;
                    if list.first().is_some_and(|(_, b)| b.len() != rf) {
                        return Err((
                            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
                            format!("new partitions need {rf} replicas, like the existing ones"),
                        ));
                    }
                    Ok(Some(list.into_iter().map(|(_, b)| b).collect()))
                }
                None => {
                    if rf > core.online_brokers().len() {
                        return Err((
                            ErrorCode::INVALID_REPLICATION_FACTOR,
                            format!("{rf} replicas needed, {} brokers online", core.online_brokers().len()),
                        ));
                    }
                    Ok(None)
                }
            }
        })();
        match result {
            Err((code, msg)) => {
                r.error_code = code.0;
                // Kafka gives no message for an unknown topic here.
                r.error_message = (code != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION).then_some(msg);
            }
            Ok(assignment) if !req.validate_only => {
                let online = core.online_brokers();
                let record = core.storage.is_some();
                let defaults = core.topic_defaults.clone();
                let brokers = core.brokers.clone();
                let is_online = |b: i32| brokers.get(&b).is_some_and(|x| x.online);
                if let Some(topic) = core.topics.get_mut(&t.name) {
                    let current = topic.partitions.len() as i32;
                    let rf = topic.replication_factor();
                    let assignment = assignment.unwrap_or_else(|| {
                        topic::assign_replicas(
                            &online,
                            t.count - current,
                            rf,
                            fastrand::usize(..online.len().max(1)),
                            current,
                        )
                    });
                    let log_cfg = topic::log_config(&topic.config(&defaults));
                    for (i, replicas) in assignment.into_iter().enumerate() {
                        topic.partitions.push(Partition::new(
                            current + i as i32,
                            replicas,
                            log_cfg,
                            ctx.now_ms,
                            &is_online,
                            record,
                        ));
                    }
                    if let Some(s) = &mut core.storage {
                        s.topic_changed(topic);
                    }
                }
            }
            Ok(_) => {}
        }
        resp.results.push(r);
    }
    ResponseBody::CreatePartitions(resp)
}

/// DeleteRecords: raises the log start offset up to at most the high watermark.
pub fn delete_records(core: &mut Core, ctx: &RequestCtx, req: DeleteRecordsRequest) -> ResponseBody {
    let mut resp = DeleteRecordsResponse::default();
    for t in req.topics {
        let mut tr = DeleteRecordsTopicResult { name: t.name.clone(), ..Default::default() };
        for rp in t.partitions {
            let mut pr = DeleteRecordsPartitionResult {
                partition_index: rp.partition_index,
                low_watermark: -1,
                ..Default::default()
            };
            let part = core.topics.get_mut(&t.name).and_then(|x| x.partition_mut(rp.partition_index));
            pr.error_code = match part {
                None => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
                Some(p) if p.leader != ctx.broker => ErrorCode::NOT_LEADER_OR_FOLLOWER.0,
                Some(p) => {
                    let target = if rp.offset == -1 { p.high_watermark } else { rp.offset };
                    if target < 0 || target > p.high_watermark {
                        ErrorCode::OFFSET_OUT_OF_RANGE.0
                    } else {
                        // The leader moves its log start; followers follow, as
                        // they would on their next fetch.
                        let mut low = -1;
                        let hw = p.high_watermark;
                        for r in p.logs.values_mut() {
                            if r.log.log_end_offset() >= target
                                && let Ok(start) = r.log.delete_records_before(target, hw)
                            {
                                low = low.max(start);
                            }
                        }
                        pr.low_watermark = p.log_start_offset().max(low);
                        0
                    }
                }
            };
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    ResponseBody::DeleteRecords(resp)
}

/// DescribeCluster: the brokers (fenced ones from v2 on request), controller and cluster id.
pub fn describe_cluster(core: &mut Core, _ctx: &RequestCtx, req: DescribeClusterRequest) -> ResponseBody {
    let mut resp = DescribeClusterResponse {
        cluster_id: core.cluster_id.clone(),
        controller_id: core.controller(),
        endpoint_type: 1,
        cluster_authorized_operations: if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS
        } else {
            i32::MIN
        },
        ..Default::default()
    };
    if req.endpoint_type != 1 {
        resp.error_code = ErrorCode::MISMATCHED_ENDPOINT_TYPE.0;
        resp.error_message = Some("this is a broker endpoint; controllers are not exposed".into());
        return ResponseBody::DescribeCluster(resp);
    }
    resp.brokers = core
        .brokers
        .values()
        .filter(|b| b.online || req.include_fenced_brokers)
        .map(|b| DescribeClusterBroker {
            broker_id: b.id,
            host: b.host.clone(),
            port: i32::from(b.port),
            rack: b.rack.clone(),
            is_fenced: !b.online,
            ..Default::default()
        })
        .collect();
    ResponseBody::DescribeCluster(resp)
}
