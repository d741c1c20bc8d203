//! Group and transaction coordinators: found with one batched
//! FindCoordinator (v4+, one request per key before that), cached per key
//! (a cache per kind), and forgotten when a response says the key moved
//! (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) or its broker cannot be
//! reached.

use std::collections::BTreeMap;

use kafka_protocol::ApiKey;

use super::routing::{Attempt, Round, all_failed, no_answer};
use super::{Admin, lock};
use crate::error::{Error, Result};
use crate::net::Connection;
pub(super) use crate::net::coordinator::CoordinatorKind;
use crate::net::coordinator::find_coordinators;

/// The coordinators `admin` has found for keys of `kind`: key → broker.
fn cache(admin: &Admin, kind: CoordinatorKind) -> &std::sync::Mutex<std::collections::HashMap<String, i32>> {
    match kind {
        CoordinatorKind::Group => &admin.inner.coordinators,
        CoordinatorKind::Transaction => &admin.inner.txn_coordinators,
    }
}

/// Where the groups of a round go.
pub(super) struct Coordinators<T> {
    /// Groups by coordinator broker.
    pub by_broker: BTreeMap<i32, Vec<String>>,
    /// Groups whose coordinator could not be found.
    pub failed: Round<String, T>,
}

impl Admin {
    /// The coordinators of `groups`: cached ones as they are, the rest
    /// looked up together.
    pub(super) async fn coordinators<T>(&self, groups: &[String]) -> Coordinators<T> {
        self.coordinators_of(CoordinatorKind::Group, groups).await
    }

    /// The coordinators of `keys` of `kind`: cached ones as they are, the
    /// rest looked up together.
    pub(super) async fn coordinators_of<T>(&self, kind: CoordinatorKind, groups: &[String]) -> Coordinators<T> {
        let mut out = Coordinators { by_broker: BTreeMap::new(), failed: BTreeMap::new() };
        let mut unknown = Vec::new();
        {
            let cache = lock(cache(self, kind));
            for g in groups {
                match cache.get(g) {
                    Some(&id) => out.by_broker.entry(id).or_default().push(g.clone()),
                    None => unknown.push(g.clone()),
                }
            }
        }
        if unknown.is_empty() {
            return out;
        }
        for (group, found) in self.find_coordinators(kind, &unknown).await {
            match found {
                Ok(id) => out.by_broker.entry(id).or_default().push(group),
                Err(e) => {
                    out.failed.insert(group, Attempt::failed(e));
                }
            }
        }
        out
    }

    /// Asks FindCoordinator about `groups`, batched when the broker speaks
    /// v4+, and caches what it learns.
    async fn find_coordinators(&self, kind: CoordinatorKind, groups: &[String]) -> BTreeMap<String, Result<i32>> {
        let conn = match self.any_broker().await {
            Ok(c) => c,
            Err(e) => return groups.iter().map(|g| (g.clone(), Err(e.clone()))).collect(),
        };
        let answers = match find_coordinators(&conn, kind, groups).await {
            Ok(answers) => answers,
            Err(e) => return groups.iter().map(|g| (g.clone(), Err(e.clone()))).collect(),
        };
        let mut out = BTreeMap::new();
        for group in groups {
            let answer = answers
                .get(group)
                .cloned()
                .unwrap_or_else(|| Err(no_answer(ApiKey::FindCoordinator, conn.broker(), kind.describe(group))));
            let result = answer.map(|c| {
                let id = c.id;
                self.inner.net.metadata().add_broker(c);
                lock(cache(self, kind)).insert(group.clone(), id);
                id
            });
            out.insert(group.clone(), result);
        }
        out
    }

    /// Forgets the coordinator of `group` (it moved, or is unreachable).
    pub(super) fn forget_coordinator(&self, group: &str) {
        self.forget_coordinator_of(CoordinatorKind::Group, group);
    }

    /// Forgets the coordinator of `key` of `kind`.
    pub(super) fn forget_coordinator_of(&self, kind: CoordinatorKind, key: &str) {
        lock(cache(self, kind)).remove(key);
    }

    /// The connection to coordinator `broker` for `groups`; when it cannot
    /// be opened, the groups' coordinators are forgotten and the error is
    /// returned as their outcome.
    pub(super) async fn coordinator_connection<T>(
        &self,
        broker: i32,
        groups: &[String],
    ) -> std::result::Result<Connection, Round<String, T>> {
        let conn = match self.check_open() {
            Ok(()) => self.inner.net.connection(broker).await,
            Err(e) => Err(e),
        };
        conn.map_err(|e| {
            for g in groups {
                self.forget_coordinator(g);
            }
            all_failed(groups, &e)
        })
    }

    /// The coordinator of one group and a connection to it; or what the
    /// round should say about the group when either cannot be had.
    pub(super) async fn group_coordinator<T>(&self, group: &str) -> std::result::Result<(i32, Connection), Attempt<T>> {
        let key = [group.to_string()];
        let mut found = self.coordinators::<T>(&key).await;
        if let Some(failed) = found.failed.remove(group) {
            return Err(failed);
        }
        let Some(broker) = found.by_broker.keys().next().copied() else {
            return Err(Attempt::Retry(no_answer(ApiKey::FindCoordinator, -1, format!("group {group}"))));
        };
        match self.coordinator_connection::<T>(broker, &key).await {
            Ok(conn) => Ok((broker, conn)),
            Err(mut failed) => Err(failed.remove(group).unwrap_or_else(|| {
                Attempt::Retry(no_answer(ApiKey::FindCoordinator, broker, format!("group {group}")))
            })),
        }
    }

    /// The outcome of a group-level error in a coordinator's answer: the
    /// coordinator is looked up again when the code says it moved, loading
    /// is waited out, anything else is final.
    pub(super) fn group_error<T>(&self, group: &str, e: Error) -> Attempt<T> {
        if e.needs_coordinator_lookup() {
            self.forget_coordinator(group);
        }
        Attempt::failed(e)
    }
}
