//! The group's requests, for the engine: finding the coordinator and
//! sending what [`super::membership::Membership`] asks for — JoinGroup,
//! SyncGroup, heartbeats, LeaveGroup — on a connection of its own, so
//! heartbeats never wait behind a long-polling Fetch. As leader, fetching
//! metadata for every topic any member subscribes to and running the
//! assignor. Each function is one request's future: it reads no consumer
//! state and returns what it learned, which the engine applies.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupResponse, SyncGroupResponse};
use kafka_protocol::{ApiKey, ErrorCode};

use super::assignor::{Assignment, Subscription};
use super::membership::{Membership, Send};
use super::{Io, LeaderSnapshot, protocol};
use crate::TopicPartition;
use crate::error::{Error, Result};
use crate::net::Connection;
use crate::net::coordinator::{CoordinatorKind, find_coordinator};

/// What a request learned about the coordinator: which broker it used, and
/// whether that one was newly found or turned out gone.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CoordinatorNews {
    pub used: Option<i32>,
    pub found: bool,
    pub lost: bool,
}

/// A connection to the group's coordinator: `known`, else found with
/// FindCoordinator.
pub(crate) async fn coordinator(io: &Io, known: Option<i32>, news: &mut CoordinatorNews) -> Result<Connection> {
    if let Some(id) = known {
        news.used = Some(id);
        return io.group_net.connection(id).await.inspect_err(|_| news.lost = true);
    }
    let group = io.group_id()?;
    let conn = io.net.any_connection().await?;
    let c = find_coordinator(&conn, CoordinatorKind::Group, group).await.inspect_err(|e| {
        // A lookup that reached a broker and was refused means the group
        // has no coordinator right now.
        news.lost = e.code().is_some();
    })?;
    let id = c.id;
    io.group_net.metadata().add_broker(c);
    news.used = Some(id);
    news.found = true;
    io.group_net.connection(id).await.inspect_err(|_| news.lost = true)
}

/// The answer to one group request (`None`: it failed in transport or the
/// coordinator was unreachable, which the state machine retries).
#[derive(Debug)]
pub(crate) enum GroupAnswer {
    Join(Option<JoinGroupResponse>),
    Sync(Option<(SyncGroupResponse, Vec<TopicPartition>)>),
    Heartbeat(Option<i16>),
    Left,
}

/// Sends one request the state machine asked for.
pub(crate) async fn perform(io: &Io, send: Send, known: Option<i32>) -> (GroupAnswer, CoordinatorNews) {
    let mut news = CoordinatorNews::default();
    let conn = match coordinator(io, known, &mut news).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "group coordinator unavailable");
            news.lost = true;
            // Not again at once: the group's next request waits for this.
            tokio::time::sleep(io.cfg.retry_backoff).await;
            let answer = match send {
                Send::Join(_) => GroupAnswer::Join(None),
                Send::Sync(_) => GroupAnswer::Sync(None),
                Send::Heartbeat(_) => GroupAnswer::Heartbeat(None),
                Send::Leave(_) => GroupAnswer::Left,
            };
            return (answer, news);
        }
    };
    let answer = match send {
        Send::Join(req) => {
            // The coordinator holds JoinGroup until the rebalance completes,
            // up to the rebalance timeout (Java allows it 5 s more).
            let limit = Duration::from_millis(u64::try_from(req.rebalance_timeout_ms.max(0)).unwrap_or(0))
                + Duration::from_secs(5);
            let r = match conn.version_for(ApiKey::JoinGroup) {
                Ok(v) => conn.request_with_timeout(&req, v, limit.max(io.cfg.request_timeout)).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(resp) => {
                    news.lost |= ErrorCode(resp.error_code).needs_coordinator_lookup();
                    GroupAnswer::Join(Some(resp))
                }
                Err(_) => {
                    news.lost = true;
                    GroupAnswer::Join(None)
                }
            }
        }
        Send::Sync(req) => match conn.request(&req).await {
            Ok(resp) => {
                news.lost |= ErrorCode(resp.error_code).needs_coordinator_lookup();
                let parts = if resp.error_code == 0 { decode_assignment(&resp.assignment) } else { Vec::new() };
                GroupAnswer::Sync(Some((resp, parts)))
            }
            Err(_) => {
                news.lost = true;
                GroupAnswer::Sync(None)
            }
        },
        Send::Heartbeat(req) => {
            // A heartbeat unanswered for a session timeout means the
            // coordinator has already dropped this member, or the link to it
            // is dead without a reset: give up on the connection then, not
            // only after request.timeout.ms (Java's heartbeat thread marks
            // the coordinator unknown when its session timer expires).
            let limit = io.cfg.request_timeout.min(io.cfg.session_timeout);
            let r = match conn.version_for(ApiKey::Heartbeat) {
                Ok(v) => conn.request_with_timeout(&req, v, limit).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(resp) if ErrorCode(resp.error_code).needs_coordinator_lookup() => {
                    news.lost = true;
                    GroupAnswer::Heartbeat(None)
                }
                Ok(resp) => GroupAnswer::Heartbeat(Some(resp.error_code)),
                Err(_) => {
                    news.lost = true;
                    GroupAnswer::Heartbeat(None)
                }
            }
        }
        Send::Leave(req) => {
            let sent = match conn.version_for(ApiKey::LeaveGroup) {
                Ok(v) => conn.request_at(&Membership::leave_for_version(req, v), v).await.map(|r| r.error_code),
                Err(e) => Err(e),
            };
            match sent {
                Ok(0) => tracing::info!("left the group"),
                Ok(code) => tracing::info!(code, "LeaveGroup refused"),
                Err(e) => tracing::info!(error = %e, "LeaveGroup failed"),
            }
            GroupAnswer::Left
        }
    };
    (answer, news)
}

fn decode_assignment(bytes: &Bytes) -> Vec<TopicPartition> {
    if bytes.is_empty() {
        return Vec::new();
    }
    match protocol::decode_assignment(bytes.clone()) {
        Ok(a) => a.partitions.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "malformed assignment from the group leader");
            Vec::new()
        }
    }
}

/// The leader's job: metadata for every subscribed topic, then the
/// assignor. Returns each member's assignment and what it was based on.
pub(crate) async fn assign(
    io: &Io,
    protocol_name: &str,
    members: &[JoinGroupResponseMember],
) -> Result<(Vec<(String, Bytes)>, LeaderSnapshot)> {
    let assignor = io.assignors.iter().find(|a| a.name() == protocol_name).cloned().ok_or_else(|| Error::Group {
        group: io.group_id().unwrap_or("").into(),
        reason: format!("the group chose unknown assignor {protocol_name}"),
    })?;
    let mut subs: BTreeMap<String, Subscription> = BTreeMap::new();
    for m in members {
        let mut s = match protocol::decode_subscription(m.metadata.clone()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(member = %m.member_id, error = %e, "unreadable subscription; assigning it nothing");
                Subscription::new(Vec::<String>::new())
            }
        };
        s.group_instance_id = m.group_instance_id.clone();
        subs.insert(m.member_id.clone(), s);
    }
    let topics: BTreeSet<String> = subs.values().flat_map(|s| s.topics.iter().cloned()).collect();
    let topic_list: Vec<String> = topics.iter().cloned().collect();
    io.net.refresh_metadata(Some(&topic_list), io.cfg.allow_auto_create_topics).await?;
    let snapshot = super::subscription::snapshot_of(io, &topics);
    let cluster = snapshot.partitions.clone();
    let result: BTreeMap<String, Assignment> = assignor.assign(&cluster, &subs);
    tracing::debug!(members = subs.len(), topics = cluster.len(), "computed the group assignment");
    let assignments = members
        .iter()
        .map(|m| {
            let a = result.get(&m.member_id).cloned().unwrap_or(Assignment { partitions: Vec::new(), user_data: None });
            let bytes = protocol::encode_assignment(&a).unwrap_or_default();
            (m.member_id.clone(), bytes)
        })
        .collect();
    Ok((assignments, snapshot))
}

/// Encodes this member's subscription for each assignor, in preference order.
pub(crate) fn protocols(io: &Io, topics: &[String]) -> Vec<(String, Bytes)> {
    io.assignors
        .iter()
        .map(|a| {
            let mut s = Subscription::new(topics.to_vec());
            s.user_data = a.subscription_user_data(topics);
            s.rack_id = io.cfg.client_rack.clone();
            s.group_instance_id = io.cfg.group_instance_id.clone();
            (a.name().to_string(), protocol::encode_subscription(&s).unwrap_or_default())
        })
        .collect()
}
