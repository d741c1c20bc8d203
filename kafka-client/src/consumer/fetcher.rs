//! Fetching, for the engine: it keeps one Fetch in flight per leader for
//! the assigned, positioned, unpaused partitions it leads, and buffers each
//! partition's answer for `poll` — so the next records are usually already
//! there when the application asks (prefetching, bounded to one response
//! per partition beyond the one being read). This file plans the requests,
//! sends one, and applies an answer to the state.
//!
//! Requests carry each partition's current leader epoch (v9+; a stale or
//! future epoch gets FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH, which
//! refresh metadata) and the epoch of the last record consumed (v12+,
//! KIP-320: a leader whose log diverged answers with where to truncate).
//! Topics are named by id from v13 on when every topic's id is known; the
//! version is capped at 12 otherwise. No fetch sessions: session id 0 and
//! epoch -1 ask for full, sessionless fetches.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use kafka_protocol::messages::fetch::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::{ApiKey, ErrorCode, Uuid};

use super::Io;
use super::config::{IsolationLevel, OffsetReset};
use super::fetched::{CompletedFetch, FetchOptions};
use super::state::State;
use crate::TopicPartition;
use crate::error::Error;
use crate::metadata::Metadata;

/// One partition to fetch, with what the request says about it.
pub(crate) struct ToFetch {
    tp: TopicPartition,
    position: i64,
    /// Epoch of the last record consumed (KIP-320's last fetched epoch).
    last_epoch: Option<i32>,
    /// The leader epoch metadata shows, for fencing.
    leader_epoch: i32,
    topic_id: Uuid,
}

impl ToFetch {
    /// The partition and the offset it is fetched at.
    pub(crate) fn asked(&self) -> (TopicPartition, i64) {
        (self.tp.clone(), self.position)
    }
}

/// The fetches the state calls for, by leader.
pub(crate) struct FetchPlan {
    pub by_leader: BTreeMap<i32, Vec<ToFetch>>,
    /// Some partition's leader is unknown: metadata should be refreshed.
    pub missing_leader: bool,
    /// Leaders of partitions whose buffers are full: a fetch to them must
    /// not long-poll, or those partitions wait the whole fetch.max.wait.ms
    /// once their data is read.
    pub hurried: HashSet<i32>,
}

/// Groups the partitions ready to fetch by their leaders.
pub(crate) fn plan(st: &State, md: &Metadata) -> FetchPlan {
    let mut by_leader: BTreeMap<i32, Vec<ToFetch>> = BTreeMap::new();
    let mut missing_leader = false;
    for (tp, position, last_epoch) in st.fetchable() {
        match md.leader(&tp.topic, tp.partition) {
            Some((leader, leader_epoch)) => {
                let topic_id = md.topic(&tp.topic).map_or(Uuid::ZERO, |t| t.id);
                by_leader.entry(leader).or_default().push(ToFetch { tp, position, last_epoch, leader_epoch, topic_id });
            }
            None => missing_leader = true,
        }
    }
    let hurried = st.held_back().iter().filter_map(|tp| md.leader(&tp.topic, tp.partition).map(|(l, _)| l)).collect();
    FetchPlan { by_leader, missing_leader, hurried }
}

/// How long a fetch may wait at the broker when partitions of that broker
/// wait to be fetched once the application reads their buffered data.
const HURRIED_MAX_WAIT_MS: i32 = 10;

/// One Fetch to `leader`.
pub(crate) async fn fetch(
    io: &Io,
    leader: i32,
    parts: Vec<ToFetch>,
    hurry: bool,
) -> Result<(i16, FetchResponse), Error> {
    let conn = io.net.connection(leader).await?;
    let mut version = conn.version_for(ApiKey::Fetch)?;
    if version >= 13 && parts.iter().any(|f| f.topic_id.is_zero()) {
        version = 12;
    }
    let cfg = &io.cfg;
    let mut topics: Vec<FetchTopic> = Vec::new();
    for ToFetch { tp, position: pos, last_epoch, leader_epoch, topic_id: id } in parts {
        let fp = FetchPartition {
            partition: tp.partition,
            current_leader_epoch: leader_epoch,
            fetch_offset: pos,
            last_fetched_epoch: last_epoch.unwrap_or(-1),
            log_start_offset: -1,
            partition_max_bytes: cfg.max_partition_fetch_bytes,
            ..Default::default()
        };
        match topics.iter_mut().find(|t| *t.topic == *tp.topic) {
            Some(t) => t.partitions.push(fp),
            None => topics.push(FetchTopic {
                topic: tp.topic.to_string(),
                topic_id: id,
                partitions: vec![fp],
                ..Default::default()
            }),
        }
    }
    let req = FetchRequest {
        replica_id: -1,
        max_wait_ms: if hurry { cfg.fetch_max_wait_ms.min(HURRIED_MAX_WAIT_MS) } else { cfg.fetch_max_wait_ms },
        min_bytes: cfg.fetch_min_bytes,
        max_bytes: cfg.fetch_max_bytes,
        isolation_level: cfg.isolation_level.as_i8(),
        session_id: 0,
        session_epoch: -1,
        topics,
        rack_id: cfg.client_rack.clone().unwrap_or_default(),
        ..Default::default()
    };
    let resp = conn.request_at(&req, version).await?;
    Ok((version, resp))
}

/// Buffers a fetch response in `st`; returns whether metadata should be
/// refreshed.
pub(crate) fn process(
    io: &Io,
    st: &mut State,
    epoch: u64,
    asked: Vec<(TopicPartition, i64)>,
    result: Result<(i16, FetchResponse), Error>,
) -> bool {
    let current = st.epoch == epoch;
    let (version, resp) = match result {
        Ok(r) => r,
        Err(_) => {
            for (tp, _) in &asked {
                if let Some(p) = st.assignment.get_mut(tp) {
                    p.in_flight = false;
                }
            }
            return false;
        }
    };
    let mut refresh = false;
    let id_to_name: HashMap<Uuid, String> = if version >= 13 {
        let md = io.net.metadata();
        asked.iter().filter_map(|(tp, _)| md.topic(&tp.topic).map(|t| (t.id, tp.topic.to_string()))).collect()
    } else {
        HashMap::new()
    };
    let mut answered: HashSet<TopicPartition> = HashSet::new();
    for t in resp.responses {
        let name: Arc<str> = if version >= 13 {
            match id_to_name.get(&t.topic_id) {
                Some(n) => Arc::from(n.as_str()),
                None => continue,
            }
        } else {
            Arc::from(t.topic.as_str())
        };
        for pd in t.partitions {
            let tp = TopicPartition { topic: name.clone(), partition: pd.partition_index };
            let Some(&(_, fetched_at)) = asked.iter().find(|(a, _)| *a == tp) else { continue };
            answered.insert(tp.clone());
            let expected = st.expected_fetch_offset(&tp);
            let Some(p) = st.assignment.get_mut(&tp) else { continue };
            p.in_flight = false;
            // Stale: the assignment or position changed while fetching.
            if !current || expected != Some(fetched_at) {
                tracing::trace!(%tp, fetched_at, ?expected, current, "stale fetch answer dropped");
                continue;
            }
            // Fetched ahead, from where the buffered answer ends.
            let ahead = p.position != Some(fetched_at);
            let code = ErrorCode(pd.error_code);
            if code != ErrorCode::NONE {
                tracing::debug!(%tp, offset = fetched_at, ?code, ahead, "fetch error for a partition");
            }
            match code {
                ErrorCode::NONE => {
                    p.high_watermark = pd.high_watermark;
                    p.log_start_offset = pd.log_start_offset;
                    if !ahead && pd.diverging_epoch.epoch >= 0 && pd.diverging_epoch.end_offset >= 0 {
                        // KIP-320: our log and the leader's diverged; go back
                        // to where they agree.
                        let end = pd.diverging_epoch.end_offset;
                        tracing::warn!(%tp, from = fetched_at, to = end, "log truncation detected; moving back");
                        p.position = Some(end.min(fetched_at));
                        p.epoch = Some(pd.diverging_epoch.epoch);
                        continue;
                    }
                    if let Some(records) = pd.records.filter(|r| !r.is_empty()) {
                        let options = FetchOptions { check_crcs: io.cfg.check_crcs, ..FetchOptions::default() };
                        let mut fetch = CompletedFetch::new(tp.clone(), fetched_at, records, options);
                        if io.cfg.isolation_level == IsolationLevel::ReadCommitted {
                            let aborted = pd.aborted_transactions.iter().flatten();
                            fetch = fetch.read_committed(aborted.map(|a| (a.producer_id, a.first_offset)));
                        }
                        st.store(&tp, fetch);
                    }
                }
                // Ahead of the position, the answer is only dropped: the
                // position's own fetch, once its data is read, meets the
                // error where it applies.
                ErrorCode::OFFSET_OUT_OF_RANGE if ahead => {}
                ErrorCode::OFFSET_OUT_OF_RANGE => match io.cfg.auto_offset_reset {
                    OffsetReset::None => {
                        p.error = Some(Error::broker(
                            code,
                            ApiKey::Fetch,
                            -1,
                            format!("{tp} at offset {fetched_at}"),
                            Some("no auto.offset.reset policy".into()),
                        ));
                    }
                    policy => {
                        tracing::info!(%tp, offset = fetched_at, ?policy, "offset out of range; resetting");
                        p.reset = Some(policy);
                        p.position = None;
                    }
                },
                c if c.needs_metadata_refresh() || c == ErrorCode::NOT_LEADER_OR_FOLLOWER => {
                    refresh = true;
                }
                c if c.is_retriable() => {}
                c => {
                    p.error = Some(Error::broker(c, ApiKey::Fetch, -1, tp.to_string(), None));
                }
            }
        }
    }
    for (tp, _) in &asked {
        if !answered.contains(tp)
            && let Some(p) = st.assignment.get_mut(tp)
        {
            p.in_flight = false;
        }
    }
    refresh
}
