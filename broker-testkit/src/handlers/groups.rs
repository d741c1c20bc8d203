//! The group APIs: routed to the group's coordinator broker, then handed to
//! the [`crate::group::GroupCoordinator`], whose replies (for this request
//! and for requests it parked earlier) come back here.
//!
//! A request for a group reaching a broker that does not coordinate it gets
//! NOT_COORDINATOR — per group for APIs that name several — and ListGroups
//! lists only the groups the receiving broker coordinates, as Kafka does
//! (admin clients ask every broker and merge).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_groups::DescribedGroup;
use kafka_protocol::messages::offset_fetch::OffsetFetchResponseGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, OffsetFetchRequest, RequestBody, ResponseBody,
    delete_groups::DeletableGroupResult,
};
use kafka_protocol::{ErrorCode, Uuid};

use super::Handled;
use super::errors::error_response;
use crate::cluster::topic::Topic;
use crate::cluster::{Core, Outcome, ReplyId, RequestCtx};
use crate::group::{self, ClientInfo, Reply, TopicLookup};

/// The first OffsetCommit and OffsetFetch version naming topics by id.
const FIRST_BY_ID: i16 = 10;

/// The name of the topic with id `id`, if it exists.
pub(crate) fn topic_name(topics: &BTreeMap<String, Topic>, id: Uuid) -> Option<String> {
    (!id.is_zero()).then(|| topics.values().find(|t| t.id == id).map(|t| t.name.clone())).flatten()
}

/// Topics as the coordinator needs to see them.
pub(crate) struct Topics<'a>(pub(crate) &'a BTreeMap<String, Topic>);

impl TopicLookup for Topics<'_> {
    fn topic_exists(&self, topic: &str) -> bool {
        self.0.contains_key(topic)
    }
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.0.get(topic).is_some_and(|t| t.partition(partition).is_some())
    }
}

fn to_body(r: Reply) -> ResponseBody {
    match r {
        Reply::JoinGroup(x) => ResponseBody::JoinGroup(x),
        Reply::SyncGroup(x) => ResponseBody::SyncGroup(x),
        Reply::Heartbeat(x) => ResponseBody::Heartbeat(x),
        Reply::LeaveGroup(x) => ResponseBody::LeaveGroup(x),
        Reply::OffsetCommit(x) => ResponseBody::OffsetCommit(x),
        Reply::OffsetFetch(x) => ResponseBody::OffsetFetch(x),
        Reply::ListGroups(x) => ResponseBody::ListGroups(x),
        Reply::DescribeGroups(x) => ResponseBody::DescribeGroups(x),
        Reply::DeleteGroups(x) => ResponseBody::DeleteGroups(x),
        Reply::OffsetDelete(x) => ResponseBody::OffsetDelete(x),
    }
}

fn convert(replies: Vec<(group::ReplyId, Reply)>) -> Vec<(ReplyId, Outcome)> {
    replies.into_iter().map(|(id, r)| (ReplyId(id.0), Outcome::Respond(to_body(r)))).collect()
}

/// Whether this broker coordinates `group`.
fn coordinates(core: &mut Core, group: &str, ctx: &RequestCtx) -> bool {
    core.coordinator_for(group, ctx.now_ms) == Some(ctx.broker)
}

/// Fires the coordinator's timers.
pub fn tick(core: &mut Core, now_ms: i64) -> Vec<(ReplyId, Outcome)> {
    convert(core.groups.tick(now_ms))
}

/// Routes a group request to the coordinator, or answers NOT_COORDINATOR.
pub fn handle(core: &mut Core, ctx: &RequestCtx, body: RequestBody) -> Handled {
    let rid = group::ReplyId(ctx.reply.0);
    let (now, v) = (ctx.now_ms, ctx.version);
    let client = ClientInfo::new(ctx.header.client_id.clone().unwrap_or_default(), ctx.client_host.clone());
    let single_group = match &body {
        RequestBody::JoinGroup(r) => Some(r.group_id.clone()),
        RequestBody::SyncGroup(r) => Some(r.group_id.clone()),
        RequestBody::Heartbeat(r) => Some(r.group_id.clone()),
        RequestBody::LeaveGroup(r) => Some(r.group_id.clone()),
        RequestBody::OffsetCommit(r) => Some(r.group_id.clone()),
        RequestBody::OffsetDelete(r) => Some(r.group_id.clone()),
        RequestBody::OffsetFetch(r) if v < 8 => Some(r.group_id.clone()),
        _ => None,
    };
    if let Some(g) = single_group
        && !coordinates(core, &g, ctx)
    {
        return Handled::Now(error_response(&body, ErrorCode::NOT_COORDINATOR));
    }
    let Core { groups, topics, .. } = core;
    let replies = match body {
        RequestBody::JoinGroup(r) => groups.join_group(now, v, &r, &client, rid),
        RequestBody::SyncGroup(r) => groups.sync_group(now, v, &r, rid),
        RequestBody::Heartbeat(r) => groups.heartbeat(now, v, &r, rid),
        RequestBody::LeaveGroup(r) => groups.leave_group(now, v, &r, rid),
        RequestBody::OffsetCommit(mut r) if v >= FIRST_BY_ID => {
            // v10 names topics by id only: the coordinator keeps offsets by
            // name, so ids are translated here and back in the answer.
            let ids: Vec<Uuid> = r.topics.iter().map(|t| t.topic_id).collect();
            for t in &mut r.topics {
                t.name = topic_name(topics, t.topic_id).unwrap_or_default();
            }
            let mut replies = groups.offset_commit(now, v, &r, &Topics(topics), rid);
            for (id, reply) in &mut replies {
                if let (true, Reply::OffsetCommit(resp)) = (*id == rid, reply) {
                    for (t, &topic_id) in resp.topics.iter_mut().zip(&ids) {
                        t.topic_id = topic_id;
                        if topic_name(topics, topic_id).is_none() {
                            for p in &mut t.partitions {
                                p.error_code = ErrorCode::UNKNOWN_TOPIC_ID.0;
                            }
                        }
                    }
                }
            }
            replies
        }
        RequestBody::OffsetCommit(r) => groups.offset_commit(now, v, &r, &Topics(topics), rid),
        RequestBody::OffsetDelete(r) => groups.offset_delete(now, v, &r, &Topics(topics), rid),
        RequestBody::OffsetFetch(r) if v < 8 => groups.offset_fetch(now, v, &r, rid),
        RequestBody::OffsetFetch(r) => return Handled::Replies(offset_fetch_multi(core, ctx, r)),
        RequestBody::DescribeGroups(r) => return Handled::Replies(describe_multi(core, ctx, r)),
        RequestBody::DeleteGroups(r) => return Handled::Replies(delete_multi(core, ctx, r)),
        RequestBody::ListGroups(r) => return Handled::Replies(list(core, ctx, &r)),
        other => return Handled::Now(error_response(&other, ErrorCode::INVALID_REQUEST)),
    };
    Handled::Replies(convert(replies))
}

/// ListGroups answers with the groups this broker coordinates.
fn list(
    core: &mut Core,
    ctx: &RequestCtx,
    req: &kafka_protocol::messages::ListGroupsRequest,
) -> Vec<(ReplyId, Outcome)> {
    let names: Vec<String> = core.groups.group_ids().map(str::to_string).collect();
    let here: Vec<String> = names.into_iter().filter(|g| coordinates(core, g, ctx)).collect();
    let rid = group::ReplyId(ctx.reply.0);
    let (mine, mut out) = take_reply(core.groups.list_groups(ctx.now_ms, ctx.version, req, rid), rid);
    let mut resp = match mine {
        Some(Reply::ListGroups(r)) => r,
        _ => Default::default(),
    };
    resp.groups.retain(|g| here.contains(&g.group_id));
    out.push((ctx.reply, Outcome::Respond(ResponseBody::ListGroups(resp))));
    out
}

/// Splits a multi-group request into the groups coordinated here (handed
/// to the coordinator) and the rest (NOT_COORDINATOR).
fn split(core: &mut Core, ctx: &RequestCtx, groups: &[String]) -> (Vec<String>, Vec<String>) {
    groups.iter().cloned().partition(|g| coordinates(core, g, ctx))
}

fn take_reply(out: Vec<(group::ReplyId, Reply)>, rid: group::ReplyId) -> (Option<Reply>, Vec<(ReplyId, Outcome)>) {
    let mut mine = None;
    let mut others = Vec::new();
    for (id, r) in out {
        if id == rid {
            mine = Some(r);
        } else {
            others.push((ReplyId(id.0), Outcome::Respond(to_body(r))));
        }
    }
    (mine, others)
}

fn describe_multi(core: &mut Core, ctx: &RequestCtx, mut req: DescribeGroupsRequest) -> Vec<(ReplyId, Outcome)> {
    let (here, elsewhere) = split(core, ctx, &req.groups);
    req.groups = here;
    let rid = group::ReplyId(ctx.reply.0);
    let (mine, mut out) = take_reply(core.groups.describe_groups(ctx.now_ms, ctx.version, &req, rid), rid);
    let mut resp = match mine {
        Some(Reply::DescribeGroups(r)) => r,
        _ => Default::default(),
    };
    for g in elsewhere {
        resp.groups.push(DescribedGroup {
            group_id: g,
            error_code: ErrorCode::NOT_COORDINATOR.0,
            ..Default::default()
        });
    }
    out.push((ctx.reply, Outcome::Respond(ResponseBody::DescribeGroups(resp))));
    out
}

fn delete_multi(core: &mut Core, ctx: &RequestCtx, mut req: DeleteGroupsRequest) -> Vec<(ReplyId, Outcome)> {
    let (here, elsewhere) = split(core, ctx, &req.groups_names);
    req.groups_names = here;
    let rid = group::ReplyId(ctx.reply.0);
    let (mine, mut out) = take_reply(core.groups.delete_groups(ctx.now_ms, ctx.version, &req, rid), rid);
    let mut resp = match mine {
        Some(Reply::DeleteGroups(r)) => r,
        _ => Default::default(),
    };
    for g in elsewhere {
        resp.results.push(DeletableGroupResult {
            group_id: g,
            error_code: ErrorCode::NOT_COORDINATOR.0,
            ..Default::default()
        });
    }
    out.push((ctx.reply, Outcome::Respond(ResponseBody::DeleteGroups(resp))));
    out
}

fn offset_fetch_multi(core: &mut Core, ctx: &RequestCtx, mut req: OffsetFetchRequest) -> Vec<(ReplyId, Outcome)> {
    // v10 names topics by id only; the coordinator keeps offsets by name.
    let by_id = ctx.version >= FIRST_BY_ID;
    if by_id {
        for t in req.groups.iter_mut().flat_map(|g| g.topics.iter_mut().flatten()) {
            t.name = topic_name(&core.topics, t.topic_id).unwrap_or_default();
        }
    }
    let asked: BTreeMap<String, Option<Vec<Uuid>>> = req
        .groups
        .iter()
        .map(|g| (g.group_id.clone(), g.topics.as_ref().map(|ts| ts.iter().map(|t| t.topic_id).collect())))
        .collect();
    let names: Vec<String> = req.groups.iter().map(|g| g.group_id.clone()).collect();
    let (here, elsewhere) = split(core, ctx, &names);
    req.groups.retain(|g| here.contains(&g.group_id));
    let rid = group::ReplyId(ctx.reply.0);
    let (mine, mut out) = take_reply(core.groups.offset_fetch(ctx.now_ms, ctx.version, &req, rid), rid);
    let mut resp = match mine {
        Some(Reply::OffsetFetch(r)) => r,
        _ => Default::default(),
    };
    if by_id {
        for g in &mut resp.groups {
            match asked.get(&g.group_id) {
                // Topics asked for by id: answered in the order asked.
                Some(Some(ids)) => {
                    for (t, &id) in g.topics.iter_mut().zip(ids) {
                        t.topic_id = id;
                        if topic_name(&core.topics, id).is_none() {
                            for p in &mut t.partitions {
                                p.error_code = ErrorCode::UNKNOWN_TOPIC_ID.0;
                            }
                        }
                    }
                }
                // Every committed topic: those that no longer exist have
                // no id to name them by.
                _ => {
                    g.topics.retain(|t| core.topics.contains_key(&t.name));
                    for t in &mut g.topics {
                        t.topic_id = core.topics.get(&t.name).map_or(Uuid::ZERO, |x| x.id);
                    }
                }
            }
        }
    }
    for g in elsewhere {
        resp.groups.push(OffsetFetchResponseGroup {
            group_id: g,
            error_code: ErrorCode::NOT_COORDINATOR.0,
            ..Default::default()
        });
    }
    out.push((ctx.reply, Outcome::Respond(ResponseBody::OffsetFetch(resp))));
    out
}
