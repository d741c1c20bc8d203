//! The I/O around [`super::membership::Membership`]: a background task
//! that finds the coordinator and sends what the state machine asks for —
//! JoinGroup, SyncGroup, heartbeats, LeaveGroup — on a connection of its
//! own, so heartbeats never wait behind a long-polling Fetch. As leader it
//! fetches metadata for every topic any member subscribes to and runs the
//! assignor.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator::Coordinator;
use kafka_protocol::messages::join_group::JoinGroupResponseMember;
use kafka_protocol::{ApiKey, ErrorCode};

use super::assignor::{Assignment, Subscription};
use super::membership::{Membership, Send};
use super::{Inner, protocol};
use crate::TopicPartition;
use crate::error::{Error, Result};
use crate::metadata::BrokerAddr;
use crate::net::Connection;

/// Finds the group's coordinator; returns a connection to it.
pub(crate) async fn coordinator(inner: &Inner) -> Result<Connection> {
    let known = *super::lock(&inner.coordinator);
    if let Some(id) = known {
        match inner.group_net.connection(id).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                *super::lock(&inner.coordinator) = None;
                return Err(e);
            }
        }
    }
    let group = inner.group_id()?;
    let conn = inner.net.any_connection().await?;
    let version = conn.version_for(ApiKey::FindCoordinator)?;
    let req = if version >= 4 {
        FindCoordinatorRequest { key_type: 0, coordinator_keys: vec![group.to_string()], ..Default::default() }
    } else {
        FindCoordinatorRequest { key: group.to_string(), key_type: 0, ..Default::default() }
    };
    let resp = conn.request_at(&req, version).await?;
    let c = if version >= 4 {
        resp.coordinators.into_iter().next().unwrap_or_default()
    } else {
        Coordinator {
            key: group.to_string(),
            node_id: resp.node_id,
            host: resp.host,
            port: resp.port,
            error_code: resp.error_code,
            error_message: resp.error_message,
            ..Default::default()
        }
    };
    if c.error_code != 0 {
        return Err(Error::broker(
            ErrorCode(c.error_code),
            ApiKey::FindCoordinator,
            conn.broker(),
            format!("group {group}"),
            c.error_message,
        ));
    }
    inner.group_net.metadata().add_broker(BrokerAddr { id: c.node_id, host: c.host, port: c.port, rack: None });
    *super::lock(&inner.coordinator) = Some(c.node_id);
    inner.group_net.connection(c.node_id).await
}

/// Forgets the coordinator after an error that says it moved.
pub(crate) fn coordinator_lost(inner: &Inner) {
    if let Some(id) = super::lock(&inner.coordinator).take() {
        inner.group_net.disconnect(id);
    }
    let now = inner.clock.now_ms();
    if let Some(m) = super::lock(&inner.membership).as_mut() {
        m.on_coordinator_lost(now);
    }
}

/// Whether the group task runs (checked and set under the membership lock).
pub(crate) fn running(inner: &Inner) -> bool {
    inner.group_task.load(Ordering::SeqCst)
}

/// Starts the group task; the caller holds the membership lock and saw
/// [`running`] false.
pub(crate) fn spawn(inner: &Arc<Inner>) {
    inner.group_task.store(true, Ordering::SeqCst);
    tokio::spawn(run(Arc::downgrade(inner)));
}

/// Runs the group's network side until the membership is dropped
/// (unsubscribe, close) or the consumer goes away.
pub(crate) async fn run(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let now = inner.clock.now_ms();
        let (send, to_assign, wake_at) = {
            let mut guard = super::lock(&inner.membership);
            let Some(m) = guard.as_mut().filter(|_| !inner.is_closed()) else {
                inner.group_task.store(false, Ordering::SeqCst);
                return;
            };
            let send = m.check_poll_interval(now).or_else(|| m.next_send(now));
            let to_assign = m.take_to_assign();
            (send, to_assign, m.next_wakeup_ms())
        };
        if let Some((protocol, members)) = to_assign {
            match assign(&inner, &protocol, &members).await {
                Ok(a) => {
                    if let Some(m) = super::lock(&inner.membership).as_mut() {
                        m.on_assignment_computed(a);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot compute the group assignment");
                    if let Some(m) = super::lock(&inner.membership).as_mut() {
                        m.on_assignment_failed(inner.clock.now_ms());
                    }
                }
            }
            continue;
        }
        match send {
            Some(s) => {
                perform(&inner, s).await;
                inner.group_event.notify_waiters();
            }
            None => {
                let wake = inner.wake_group.notified();
                let sleep = match wake_at {
                    Some(t) => Duration::from_millis(u64::try_from((t - now).max(1)).unwrap_or(1)),
                    None => Duration::from_secs(1),
                };
                tokio::select! {
                    biased;
                    () = wake => {}
                    () = tokio::time::sleep(sleep) => {}
                }
            }
        }
    }
}

async fn perform(inner: &Arc<Inner>, send: Send) {
    let conn = match coordinator(inner).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "group coordinator unavailable");
            coordinator_lost(inner);
            let now = inner.clock.now_ms();
            {
                let mut guard = super::lock(&inner.membership);
                if let Some(m) = guard.as_mut() {
                    match send {
                        Send::Join(_) => m.on_join(None, now),
                        Send::Sync(_) => m.on_sync(None, now),
                        Send::Heartbeat(_) => m.on_heartbeat(None, now),
                        Send::Leave(_) => {}
                    }
                }
            }
            tokio::time::sleep(inner.cfg.retry_backoff).await;
            return;
        }
    };
    match send {
        Send::Join(req) => {
            // The coordinator holds JoinGroup until the rebalance completes,
            // up to the rebalance timeout (Java allows it 5 s more).
            let limit = Duration::from_millis(u64::try_from(req.rebalance_timeout_ms.max(0)).unwrap_or(0))
                + Duration::from_secs(5);
            let r = match conn.version_for(ApiKey::JoinGroup) {
                Ok(v) => conn.request_with_timeout(&req, v, limit.max(inner.cfg.request_timeout)).await,
                Err(e) => Err(e),
            };
            let resp = match r {
                Ok(resp) => {
                    if ErrorCode(resp.error_code).needs_coordinator_lookup() {
                        coordinator_lost(inner);
                    }
                    Some(resp)
                }
                _ => {
                    coordinator_lost(inner);
                    None
                }
            };
            if let Some(m) = super::lock(&inner.membership).as_mut() {
                m.on_join(resp, inner.clock.now_ms());
            }
        }
        Send::Sync(req) => {
            let r = conn.request(&req).await;
            let resp = match r {
                Ok(resp) => {
                    if ErrorCode(resp.error_code).needs_coordinator_lookup() {
                        coordinator_lost(inner);
                    }
                    let parts = if resp.error_code == 0 { decode_assignment(&resp.assignment) } else { Vec::new() };
                    Some((resp, parts))
                }
                Err(_) => {
                    coordinator_lost(inner);
                    None
                }
            };
            if let Some(m) = super::lock(&inner.membership).as_mut() {
                m.on_sync(resp, inner.clock.now_ms());
            }
        }
        Send::Heartbeat(req) => {
            // A heartbeat unanswered for a session timeout means the
            // coordinator has already dropped this member, or the link to it
            // is dead without a reset: give up on the connection then, not
            // only after request.timeout.ms (Java's heartbeat thread marks
            // the coordinator unknown when its session timer expires).
            let limit = inner.cfg.request_timeout.min(inner.cfg.session_timeout);
            let r = match conn.version_for(ApiKey::Heartbeat) {
                Ok(v) => conn.request_with_timeout(&req, v, limit).await,
                Err(e) => Err(e),
            };
            let code = match &r {
                Ok(resp) => {
                    if ErrorCode(resp.error_code).needs_coordinator_lookup() {
                        coordinator_lost(inner);
                        None
                    } else {
                        Some(resp.error_code)
                    }
                }
                Err(_) => {
                    coordinator_lost(inner);
                    None
                }
            };
            if let Some(m) = super::lock(&inner.membership).as_mut() {
                m.on_heartbeat(code, inner.clock.now_ms());
            }
        }
        Send::Leave(req) => {
            let sent = match conn.version_for(ApiKey::LeaveGroup) {
                Ok(v) => conn.request_at(&Membership::leave_for_version(req, v), v).await.map(|r| r.error_code),
                Err(e) => Err(e),
            };
            match sent {
                Ok(0) => tracing::info!("left the group: poll was not called within max.poll.interval.ms"),
                Ok(code) => tracing::info!(code, "LeaveGroup refused"),
                Err(e) => tracing::info!(error = %e, "LeaveGroup failed"),
            }
        }
    }
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

/// The leader's job: metadata for every subscribed topic, then the assignor.
async fn assign(
    inner: &Arc<Inner>,
    protocol_name: &str,
    members: &[JoinGroupResponseMember],
) -> Result<Vec<(String, Bytes)>> {
    let assignor = inner.assignors.iter().find(|a| a.name() == protocol_name).cloned().ok_or_else(|| Error::Group {
        group: inner.group_id().unwrap_or("").into(),
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
    inner.net.refresh_metadata(Some(&topic_list), inner.cfg.allow_auto_create_topics).await?;
    let cluster: BTreeMap<String, i32> = {
        let md = inner.net.metadata();
        topics.iter().filter_map(|t| md.partition_count(t).map(|n| (t.clone(), n as i32))).collect()
    };
    *super::lock(&inner.assignment_snapshot) = Some(super::subscription::snapshot_of(inner, &topics));
    let result: BTreeMap<String, Assignment> = assignor.assign(&cluster, &subs);
    tracing::debug!(members = subs.len(), topics = cluster.len(), "computed the group assignment");
    Ok(members
        .iter()
        .map(|m| {
            let a = result.get(&m.member_id).cloned().unwrap_or(Assignment { partitions: Vec::new(), user_data: None });
            let bytes = protocol::encode_assignment(&a).unwrap_or_default();
            (m.member_id.clone(), bytes)
        })
        .collect())
}

/// Encodes this member's subscription for each assignor, in preference order.
pub(crate) fn protocols(inner: &Inner, topics: &[String]) -> Vec<(String, Bytes)> {
    inner
        .assignors
        .iter()
        .map(|a| {
            let mut s = Subscription::new(topics.to_vec());
            s.user_data = a.subscription_user_data(topics);
            s.rack_id = inner.cfg.client_rack.clone();
            s.group_instance_id = inner.cfg.group_instance_id.clone();
            (a.name().to_string(), protocol::encode_subscription(&s).unwrap_or_default())
        })
        .collect()
}
