//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and
//! brokers. Topic configs are the ones [`crate::config::TOPIC_CONFIGS`]
//! lists; on brokers, the `log.*` defaults of those configs can be changed
//! cluster-wide (resource name "" or any broker id), the rest are read-only.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::alter_configs::AlterConfigsResourceResponse;
use kafka_protocol::messages::describe_configs::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::incremental_alter_configs::AlterConfigsResourceResponse as IncrementalResult;
use kafka_protocol::messages::*;

use crate::cluster::topic;
use crate::cluster::{Core, RequestCtx};
use crate::config::{self, ConfigEntry, ConfigSource, TopicOverrides};

/// Kafka's resource type codes.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;

type ItemError = (ErrorCode, String);

fn entries(core: &Core, resource_type: i8, name: &str) -> Result<Vec<ConfigEntry>, ItemError> {
    match resource_type {
        TOPIC => match core.topics.get(name) {
            Some(t) => Ok(config::describe_topic(&t.overrides, &core.topic_defaults)),
            None => Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, format!("Topic '{name}' does not exist."))),
        },
        BROKER => {
            let id = if name.is_empty() {
                core.controller()
            } else {
                name.parse::<i32>().map_err(|_| (ErrorCode::INVALID_REQUEST, format!("{name:?} is not a broker id")))?
            };
            if !core.brokers.contains_key(&id) {
                return Err((ErrorCode::INVALID_REQUEST, format!("broker {id} does not exist")));
            }
            Ok(config::describe_broker(id, &core.settings, &core.topic_defaults))
        }
        other => Err((ErrorCode::INVALID_REQUEST, format!("resource type {other} is not supported by broker-testkit"))),
    }
}

/// DescribeConfigs for topics and brokers.
pub fn describe(core: &mut Core, ctx: &RequestCtx, req: DescribeConfigsRequest) -> ResponseBody {
    let mut resp = DescribeConfigsResponse::default();
    for r in req.resources {
        let mut out = DescribeConfigsResult {
            resource_type: r.resource_type,
            resource_name: r.resource_name.clone(),
            ..Default::default()
        };
        match entries(core, r.resource_type, &r.resource_name) {
            Err((code, msg)) => {
                out.error_code = code.0;
                out.error_message = Some(msg);
            }
            Ok(list) => {
                for e in list {
                    if r.configuration_keys.as_ref().is_some_and(|keys| !keys.contains(&e.name)) {
                        continue;
                    }
                    let mut synonyms = Vec::new();
                    if req.include_synonyms {
                        if e.source == ConfigSource::Topic {
                            synonyms.push(DescribeConfigsSynonym {
                                name: e.name.clone(),
                                value: e.value.clone(),
                                source: e.source.code(),
                                ..Default::default()
                            });
                        }
                        if let Some((name, value)) = &e.synonym {
                            synonyms.push(DescribeConfigsSynonym {
                                name: name.clone(),
                                value: Some(value.clone()),
                                source: ConfigSource::Default.code(),
                                ..Default::default()
                            });
                        }
                    }
                    out.configs.push(DescribeConfigsResourceResult {
                        name: e.name,
                        value: e.value,
                        read_only: e.read_only,
                        config_source: e.source.code(),
                        is_sensitive: false,
                        synonyms,
                        config_type: e.kind.code(),
                        documentation: (req.include_documentation && ctx.version >= 3).then(|| e.doc.to_string()),
                        ..Default::default()
                    });
                }
            }
        }
        resp.results.push(out);
    }
    ResponseBody::DescribeConfigs(resp)
}

/// An operation on one config: set, delete (back to default), or for lists
/// append / subtract elements.
enum Op {
    Set(String),
    Delete,
    Append(String),
    Subtract(String),
}

/// Applies `ops` to a resource; nothing changes unless all succeed, and
/// nothing at all with `validate_only`.
fn apply(
    core: &mut Core,
    resource_type: i8,
    name: &str,
    ops: Vec<(String, Op)>,
    replace_all: bool,
    validate_only: bool,
) -> Result<(), ItemError> {
    let current: std::collections::BTreeMap<String, String> = match resource_type {
        TOPIC => core
            .topics
            .get(name)
            .map(|t| t.overrides.0.clone())
            .ok_or_else(|| (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, format!("Topic '{name}' does not exist.")))?,
        BROKER => {
            if !name.is_empty() && name.parse::<i32>().ok().is_none_or(|id| !core.brokers.contains_key(&id)) {
                return Err((ErrorCode::INVALID_REQUEST, format!("broker {name:?} does not exist")));
            }
            core.topic_defaults.0.clone()
        }
        other => {
            return Err((
                ErrorCode::INVALID_REQUEST,
                format!("resource type {other} is not supported by broker-testkit"),
            ));
        }
    };
    let mut next = if replace_all && resource_type == TOPIC { Default::default() } else { current.clone() };
    for (cfg_name, op) in ops {
        let key = if resource_type == BROKER {
            match config::topic_config_for_broker_synonym(&cfg_name) {
                Some(d) => d.name.to_string(),
                None => {
                    return Err((
                        ErrorCode::INVALID_CONFIG,
                        format!("broker config {cfg_name} cannot be changed on broker-testkit"),
                    ));
                }
            }
        } else {
            cfg_name.clone()
        };
        let default = config::topic_config(&key).map(|d| d.default.to_string());
        match op {
            Op::Set(v) => {
                config::validate_topic_config(&key, Some(&v)).map_err(|m| (ErrorCode::INVALID_CONFIG, m))?;
                next.insert(key, v);
            }
            Op::Delete => {
                config::topic_config(&key)
                    .ok_or_else(|| (ErrorCode::INVALID_CONFIG, format!("unknown config {cfg_name}")))?;
                if resource_type == BROKER {
                    next.insert(key.clone(), default.unwrap_or_default());
                } else {
                    next.remove(&key);
                }
            }
            Op::Append(v) | Op::Subtract(v)
                if config::topic_config(&key).is_none_or(|d| d.kind != config::ConfigType::List) =>
            {
                return Err((
                    ErrorCode::INVALID_CONFIG,
                    format!("{cfg_name} is not a list config; cannot append or subtract {v:?}"),
                ));
            }
            Op::Append(v) => {
                let mut items: Vec<String> = next
                    .get(&key)
                    .cloned()
                    .or(default)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for x in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !items.iter().any(|i| i == x) {
                        items.push(x.to_string());
                    }
                }
                let joined = items.join(",");
                config::validate_topic_config(&key, Some(&joined)).map_err(|m| (ErrorCode::INVALID_CONFIG, m))?;
                next.insert(key, joined);
            }
            Op::Subtract(v) => {
                let drop: Vec<&str> = v.split(',').map(str::trim).collect();
                let items: Vec<String> = next
                    .get(&key)
                    .cloned()
                    .or(default)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty() && !drop.contains(s))
                    .map(str::to_string)
                    .collect();
                let joined = items.join(",");
                config::validate_topic_config(&key, Some(&joined)).map_err(|m| (ErrorCode::INVALID_CONFIG, m))?;
                next.insert(key, joined);
            }
        }
    }
    if validate_only {
        return Ok(());
    }
    match resource_type {
        TOPIC => {
            if let Some(t) = core.topics.get_mut(name) {
                t.overrides = TopicOverrides(next);
            }
        }
        _ => core.topic_defaults.0 = next,
    }
    reconfigure_logs(core, if resource_type == TOPIC { Some(name) } else { None });
    Ok(())
}

/// Pushes changed segment and retention settings into the affected logs.
fn reconfigure_logs(core: &mut Core, only: Option<&str>) {
    let defaults = core.topic_defaults.clone();
    for t in core.topics.values_mut() {
        if only.is_some_and(|n| n != t.name) {
            continue;
        }
        let cfg = topic::log_config(&t.config(&defaults));
        for p in &mut t.partitions {
            for r in p.logs.values_mut() {
                r.log.set_config(cfg);
            }
        }
    }
    if let Some(s) = &mut core.storage {
        s.configs_changed(&core.topics, &core.topic_defaults);
    }
}

/// AlterConfigs: replaces a resource's dynamic configs.
pub fn alter(core: &mut Core, _ctx: &RequestCtx, req: AlterConfigsRequest) -> ResponseBody {
    let mut resp = AlterConfigsResponse::default();
    for r in req.resources {
        let mut ops = Vec::new();
        let mut missing = None;
        for c in r.configs {
            match c.value {
                Some(v) => ops.push((c.name, Op::Set(v))),
                None => missing = Some(c.name),
            }
        }
        let result = match missing {
            Some(n) => Err((ErrorCode::INVALID_CONFIG, format!("config {n} needs a value"))),
            None => apply(core, r.resource_type, &r.resource_name, ops, true, req.validate_only),
        };
        let (code, msg) = match result {
            Ok(()) => (0, None),
            Err((c, m)) => (c.0, Some(m)),
        };
        resp.responses.push(AlterConfigsResourceResponse {
            error_code: code,
            error_message: msg,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            ..Default::default()
        });
    }
    ResponseBody::AlterConfigs(resp)
}

/// IncrementalAlterConfigs: set, delete, append and subtract per config.
pub fn incremental_alter(core: &mut Core, _ctx: &RequestCtx, req: IncrementalAlterConfigsRequest) -> ResponseBody {
    let mut resp = IncrementalAlterConfigsResponse::default();
    for r in req.resources {
        let mut ops = Vec::new();
        let mut bad = None;
        for c in r.configs {
            let v = c.value.clone().unwrap_or_default();
            let op = match c.config_operation {
                0 => Op::Set(v),
                1 => Op::Delete,
                2 => Op::Append(v),
                3 => Op::Subtract(v),
                other => {
                    bad = Some(format!("unknown config operation {other}"));
                    continue;
                }
            };
            if matches!(op, Op::Set(_) | Op::Append(_) | Op::Subtract(_)) && c.value.is_none() {
                bad = Some(format!("config {} needs a value", c.name));
            }
            ops.push((c.name, op));
        }
        let result = match bad {
            Some(m) => Err((ErrorCode::INVALID_REQUEST, m)),
            None => apply(core, r.resource_type, &r.resource_name, ops, false, req.validate_only),
        };
        let (code, msg) = match result {
            Ok(()) => (0, None),
            Err((c, m)) => (c.0, Some(m)),
        };
        resp.responses.push(IncrementalResult {
            error_code: code,
            error_message: msg,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            ..Default::default()
        });
    }
    ResponseBody::IncrementalAlterConfigs(resp)
}
