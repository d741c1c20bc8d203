//! Keeps the consumer's metadata fresh and acts on what changes: a pattern
//! subscription follows the topics that match it, and the group leader
//! rejoins when the partitions it assigned are no longer what the cluster
//! has (partitions added, a subscribed topic created or deleted) — Java's
//! `ConsumerCoordinator` rules. Also refreshes on request, when the fetcher
//! or an offset lookup finds a leader has moved.

use std::collections::BTreeSet;
use std::sync::Weak;
use std::time::Duration;

use tokio::time::Instant;

use super::state::SubscriptionKind;
use super::{Inner, LeaderSnapshot, group, lock};

/// Runs until the consumer closes.
pub(crate) async fn run(weak: Weak<Inner>) {
    let mut last_refresh: Option<Instant> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.is_closed() {
            return;
        }
        let wake = inner.wake_subscription.notified();
        let max_age = inner.cfg.metadata_max_age;
        let backoff = inner.cfg.retry_backoff;
        let due = last_refresh.is_none_or(|t| t.elapsed() >= max_age);
        if (due || last_refresh.is_some_and(|t| t.elapsed() >= backoff))
            && let Some(ok) = refresh(&inner).await
        {
            if ok {
                last_refresh = Some(Instant::now());
            } else {
                // Try again after the backoff, not after max age.
                // (checked: an Instant cannot go below the clock's origin, which
                // on a freshly booted machine is less than max age ago).
                let now = Instant::now();
                last_refresh = last_refresh.map(|_| now.checked_sub(max_age).map_or(now, |t| t + backoff));
            }
        }
        let next = last_refresh.map_or(backoff, |t| (t + max_age).saturating_duration_since(Instant::now()));
        tokio::select! {
            biased;
            () = wake => {
                // Coalesce a burst of requests; never refresh more often than the backoff.
                let since = last_refresh.map_or(backoff, |t| t.elapsed());
                if since < backoff {
                    tokio::time::sleep(backoff - since).await;
                }
                // Forces the refresh on the next turn.
                last_refresh = last_refresh.map(|t| t.checked_sub(max_age).unwrap_or(t));
            }
            () = tokio::time::sleep(next.max(Duration::from_millis(1))) => {}
        }
    }
}

/// One refresh: None when there was nothing to refresh for, else whether
/// the metadata request succeeded.
async fn refresh(inner: &Inner) -> Option<bool> {
    let (pattern, mut topics) = {
        let st = lock(&inner.state);
        let topics: BTreeSet<String> = match &st.subscription {
            SubscriptionKind::None => BTreeSet::new(),
            SubscriptionKind::Topics(t) => t.clone(),
            SubscriptionKind::Pattern(_) => BTreeSet::new(),
            SubscriptionKind::Manual => st.assignment.keys().map(|tp| tp.topic.to_string()).collect(),
        };
        let pattern = match &st.subscription {
            SubscriptionKind::Pattern(re) => Some(re.clone()),
            _ => None,
        };
        (pattern, topics)
    };
    if let Some(s) = lock(&inner.assignment_snapshot).as_ref() {
        topics.extend(s.topics.iter().cloned());
    }
    if pattern.is_none() && topics.is_empty() {
        return None;
    }
    let list: Vec<String> = topics.iter().cloned().collect();
    let result = match &pattern {
        Some(_) => inner.net.refresh_metadata(None, false).await,
        // Subscribing to a topic creates it where the broker allows
        // (allow.auto.create.topics), as Java's consumer does.
        None => inner.net.refresh_metadata(Some(&list), inner.cfg.allow_auto_create_topics).await,
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "consumer metadata refresh failed");
        return Some(false);
    }
    if let Some(re) = pattern {
        let matched: BTreeSet<String> = {
            let md = inner.net.metadata();
            md.topic_names()
                .into_iter()
                .filter(|t| re.is_match(t))
                .filter(|t| !(inner.cfg.exclude_internal_topics && md.topic(t).is_some_and(|i| i.internal)))
                .collect()
        };
        update_pattern_topics(inner, matched);
    }
    check_leader_snapshot(inner);
    Some(true)
}

/// A pattern's matches changed: new protocols, and a rejoin if the member
/// had joined with the old ones.
pub(crate) fn update_pattern_topics(inner: &Inner, matched: BTreeSet<String>) {
    {
        let mut st = lock(&inner.state);
        if !matches!(st.subscription, SubscriptionKind::Pattern(_)) || st.subscribed.as_ref() == Some(&matched) {
            return;
        }
        tracing::info!(topics = ?matched, "the subscription pattern matches a new set of topics");
        st.subscribed = Some(matched.clone());
    }
    let list: Vec<String> = matched.into_iter().collect();
    let protocols = group::protocols(inner, &list);
    if let Some(m) = lock(&inner.membership).as_mut() {
        m.set_protocols(protocols);
        m.request_rejoin("the subscribed topics changed");
    }
    inner.wake_group.notify_one();
    inner.group_event.notify_waiters();
}

/// The leader rejoins when the cluster no longer matches its assignment.
fn check_leader_snapshot(inner: &Inner) {
    let leading = lock(&inner.membership).as_ref().is_some_and(|m| m.is_leader());
    if !leading {
        return;
    }
    let Some(snapshot) = lock(&inner.assignment_snapshot).clone() else { return };
    let now = snapshot_of(inner, &snapshot.topics);
    if now != snapshot {
        tracing::info!(before = ?snapshot.partitions, now = ?now.partitions, "partitions changed; rejoining to reassign");
        *lock(&inner.assignment_snapshot) = Some(now);
        if let Some(m) = lock(&inner.membership).as_mut() {
            m.request_rejoin("the subscribed topics' partitions changed");
        }
        inner.wake_group.notify_one();
        inner.group_event.notify_waiters();
    }
}

/// The partition counts metadata shows for `topics`.
pub(crate) fn snapshot_of(inner: &Inner, topics: &BTreeSet<String>) -> LeaderSnapshot {
    let md = inner.net.metadata();
    let partitions = topics.iter().filter_map(|t| md.partition_count(t).map(|n| (t.clone(), n as i32))).collect();
    LeaderSnapshot { topics: topics.clone(), partitions }
}
