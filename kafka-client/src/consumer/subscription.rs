//! Keeping the consumer's metadata fresh, and what the engine does with
//! it: a pattern subscription follows the topics that match it, and the
//! group leader rejoins when the partitions it assigned are no longer what
//! the cluster has (partitions added, a subscribed topic created or
//! deleted) — Java's `ConsumerCoordinator` rules. The engine refreshes
//! every `metadata.max.age.ms`, and sooner (at most once per
//! `retry.backoff.ms`) when a fetch or an offset lookup finds a leader
//! has moved.

use std::collections::BTreeSet;

use super::state::{State, SubscriptionKind};
use super::{Io, LeaderSnapshot};

/// What one refresh asks for.
pub(crate) struct RefreshPlan {
    /// Every topic, matched against this.
    pattern: Option<regex::Regex>,
    topics: Vec<String>,
    /// The subscription it was made for.
    generation: u64,
}

impl RefreshPlan {
    /// The refresh the subscription, the assignment and the leader's
    /// snapshot call for; None when there is nothing to refresh for.
    pub(crate) fn for_state(st: &State, snapshot: Option<&LeaderSnapshot>, generation: u64) -> Option<RefreshPlan> {
        let mut topics: BTreeSet<String> = match &st.subscription {
            SubscriptionKind::None | SubscriptionKind::Pattern(_) => BTreeSet::new(),
            SubscriptionKind::Topics(t) => t.clone(),
            SubscriptionKind::Manual => st.assignment.keys().map(|tp| tp.topic.to_string()).collect(),
        };
        let pattern = match &st.subscription {
            SubscriptionKind::Pattern(re) => Some(re.clone()),
            _ => None,
        };
        if let Some(s) = snapshot {
            topics.extend(s.topics.iter().cloned());
        }
        if pattern.is_none() && topics.is_empty() {
            return None;
        }
        Some(RefreshPlan { pattern, topics: topics.into_iter().collect(), generation })
    }
}

/// What a refresh found: whether it succeeded, and the topics a pattern
/// matches now (for the subscription numbered `generation`).
pub(crate) struct Refreshed {
    pub ok: bool,
    pub matched: Option<BTreeSet<String>>,
    pub generation: u64,
}

/// One metadata refresh.
pub(crate) async fn refresh(io: &Io, plan: RefreshPlan) -> Refreshed {
    let result = match &plan.pattern {
        Some(_) => io.net.refresh_metadata(None, false).await,
        // Subscribing to a topic creates it where the broker allows
        // (allow.auto.create.topics), as Java's consumer does.
        None => io.net.refresh_metadata(Some(&plan.topics), io.cfg.allow_auto_create_topics).await,
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "consumer metadata refresh failed");
        return Refreshed { ok: false, matched: None, generation: plan.generation };
    }
    let matched = plan.pattern.map(|re| {
        let md = io.net.metadata();
        md.topic_names()
            .into_iter()
            .filter(|t| re.is_match(t))
            .filter(|t| !(io.cfg.exclude_internal_topics && md.topic(t).is_some_and(|i| i.internal)))
            .collect()
    });
    Refreshed { ok: true, matched, generation: plan.generation }
}

/// The partition counts metadata shows for `topics`.
pub(crate) fn snapshot_of(io: &Io, topics: &BTreeSet<String>) -> LeaderSnapshot {
    let md = io.net.metadata();
    let partitions = topics.iter().filter_map(|t| md.partition_count(t).map(|n| (t.clone(), n as i32))).collect();
    LeaderSnapshot { topics: topics.clone(), partitions }
}
