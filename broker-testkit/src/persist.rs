//! A cluster's data directory:
//!
//! ```text
//! <data-dir>/
//!   broker-1/                       one Kafka log directory per broker
//!     <topic>-<partition>/          Kafka's layout (see crate::storage)
//!     log-start-offset-checkpoint
//!     replication-offset-checkpoint
//!   broker-2/ …
//!   cluster.meta                    topics, ids, replicas, leaders, configs
//!   groups.snapshot                 group coordinator state (crate::group::persist)
//!   groups.journal                  group events since the snapshot
//! ```
//!
//! Log changes are mirrored to disk as the logs record them; cluster
//! metadata is rewritten when it changes; group events are appended to the
//! journal and folded into the snapshot on clean shutdown. [`open`]
//! recovers everything: each log (torn tails cut, indexes rebuilt), topics
//! and their assignment, groups with their committed offsets, the
//! producer-id counter, and the transaction coordinator's state (from the
//! `__transaction_state` logs, [`crate::txn::log`]); a clean shutdown also
//! saves every log's producer snapshot. After a recovery, every follower
//! is truncated to its leader and catches up before clients connect.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use kafka_protocol::Uuid;

use crate::cluster::partition::{NO_LEADER, Partition, Replica};
use crate::cluster::producer_state::ProducerStates;
use crate::cluster::topic::{self, Topic};
use crate::cluster::{BrokerInfo, Core, group_config};
use crate::config::{BrokerSettings, EffectiveTopicConfig, TopicDefaults, TopicOverrides};
use crate::group::{GroupCoordinator, GroupEvent, GroupSnapshot};
use crate::log::{Log, StorageOp};
use crate::storage::{self, LogDir, TopicPartition};

const META: &str = "cluster.meta";
const GROUPS_SNAPSHOT: &str = "groups.snapshot";
const GROUPS_JOURNAL: &str = "groups.journal";
const META_HEADER: &str = "kafka-testkit-cluster 1";

/// The data directory of a running cluster.
#[derive(Debug)]
pub struct Persistence {
    root: PathBuf,
    dirs: BTreeMap<i32, LogDir>,
    groups: GroupSnapshot,
    journal: Option<std::fs::File>,
    next_producer_id: i64,
}

/// Writes `text` to `path` atomically (temp file, then rename).
fn write_atomic(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Escapes a config value so it is one whitespace-free word.
fn escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '%' => out.push_str("%25"),
            ' ' => out.push_str("%20"),
            '\n' => out.push_str("%0A"),
            '\t' => out.push_str("%09"),
            c => out.push(c),
        }
    }
    if out.is_empty() { "%".into() } else { out }
}

fn unescape(v: &str) -> String {
    if v == "%" {
        return String::new();
    }
    v.replace("%20", " ").replace("%0A", "\n").replace("%09", "\t").replace("%25", "%")
}

fn ids(list: &[i32]) -> String {
    if list.is_empty() { "-".into() } else { list.iter().map(i32::to_string).collect::<Vec<_>>().join(",") }
}

fn parse_ids(s: &str) -> Result<Vec<i32>, String> {
    if s == "-" {
        return Ok(Vec::new());
    }
    s.split(',').map(|x| x.parse::<i32>().map_err(|_| format!("bad broker id {x:?}"))).collect()
}

impl Persistence {
    fn log_dir(&mut self, broker: i32) -> Option<&mut LogDir> {
        if !self.dirs.contains_key(&broker) {
            match LogDir::open(&self.root.join(format!("broker-{broker}"))) {
                Ok(d) => {
                    self.dirs.insert(broker, d);
                }
                Err(e) => {
                    tracing::error!(broker, error = %e, "cannot open log directory");
                    return None;
                }
            }
        }
        self.dirs.get_mut(&broker)
    }

    /// Mirrors a replica log's changes to disk.
    pub fn apply(&mut self, broker: i32, topic: &str, topic_id: Uuid, partition: i32, ops: Vec<StorageOp>) {
        if let Some(dir) = self.log_dir(broker)
            && let Err(e) = dir.apply(topic, partition, Some(topic_id), &ops)
        {
            tracing::error!(broker, topic, partition, error = %e, "cannot write the log");
        }
    }

    /// A topic was created.
    pub fn topic_created(&mut self, _t: &Topic) {
        // Written with the rest of the metadata by `flush_metadata`.
    }

    /// A topic was deleted: its partition directories go.
    pub fn topic_deleted(&mut self, t: &Topic) {
        for p in &t.partitions {
            for &b in &p.replicas {
                if let Some(dir) = self.log_dir(b)
                    && let Err(e) = dir.delete_partition(&t.name, p.index)
                {
                    tracing::error!(topic = %t.name, partition = p.index, error = %e, "cannot delete partition directory");
                }
            }
        }
    }

    /// A topic gained partitions.
    pub fn topic_changed(&mut self, _t: &Topic) {}

    /// Topic or cluster configs changed.
    pub fn configs_changed(&mut self, _topics: &BTreeMap<String, Topic>, _defaults: &TopicDefaults) {}

    /// InitProducerId handed out an id.
    pub fn producer_id_allocated(&mut self, next: i64) {
        self.next_producer_id = next;
    }

    /// Appends the group coordinator's new events to the journal.
    pub fn groups_changed(&mut self, groups: &mut GroupCoordinator) {
        let events = groups.take_events();
        if events.is_empty() {
            return;
        }
        let mut buf = Vec::new();
        for e in &events {
            self.groups.apply(e);
            let bytes = e.encode();
            buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            buf.extend_from_slice(&bytes);
        }
        if self.journal.is_none() {
            match std::fs::OpenOptions::new().create(true).append(true).open(self.root.join(GROUPS_JOURNAL)) {
                Ok(f) => self.journal = Some(f),
                Err(e) => tracing::error!(error = %e, "cannot open the group journal"),
            }
        }
        if let Some(f) = &mut self.journal
            && let Err(e) = f.write_all(&buf)
        {
            tracing::error!(error = %e, "cannot write the group journal");
        }
    }

    /// Rewrites `cluster.meta` from the core's state.
    pub fn flush_metadata(&mut self, core_meta: &str) {
        if let Err(e) = write_atomic(&self.root.join(META), core_meta.as_bytes()) {
            tracing::error!(error = %e, "cannot write cluster metadata");
        }
    }

    /// Clean shutdown: checkpoints, fsync, group snapshot.
    pub fn close(&mut self, topics: &BTreeMap<String, Topic>) {
        let mut hws: BTreeMap<i32, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
        for t in topics.values() {
            for p in &t.partitions {
                for &b in &p.replicas {
                    hws.entry(b).or_default().insert(TopicPartition::new(t.name.clone(), p.index), p.high_watermark);
                }
            }
        }
        for (b, dir) in &mut self.dirs {
            let empty = BTreeMap::new();
            if let Err(e) = dir.write_checkpoints(hws.get(b).unwrap_or(&empty)) {
                tracing::error!(broker = b, error = %e, "cannot write checkpoints");
            }
            if let Err(e) = dir.flush() {
                tracing::error!(broker = b, error = %e, "cannot flush");
            }
        }
        if write_atomic(&self.root.join(GROUPS_SNAPSHOT), &self.groups.encode()).is_ok() {
            self.journal = None;
            let _ = std::fs::remove_file(self.root.join(GROUPS_JOURNAL));
        }
    }
}

/// Renders the cluster metadata file.
pub fn render_meta(core: &Core) -> String {
    let mut s =
        format!("{META_HEADER}\ncluster.id {}\nnext.producer.id {}\n", escape(&core.cluster_id), core.next_producer_id);
    for (k, v) in &core.topic_defaults.0 {
        if crate::config::topic_config(k).is_some_and(|d| d.default != v) {
            s.push_str(&format!("default {} {}\n", escape(k), escape(v)));
        }
    }
    for t in core.topics.values() {
        s.push_str(&format!("topic {} {} {}\n", escape(&t.name), t.id, u8::from(t.internal)));
        for (k, v) in &t.overrides.0 {
            s.push_str(&format!("config {} {} {}\n", escape(&t.name), escape(k), escape(v)));
        }
        for p in &t.partitions {
            s.push_str(&format!(
                "partition {} {} {} {} {} {}\n",
                escape(&t.name),
                p.index,
                p.leader,
                p.leader_epoch,
                ids(&p.replicas),
                ids(&p.isr)
            ));
        }
    }
    s
}

/// One partition line of `cluster.meta`: index, leader, leader epoch, replicas, ISR.
type MetaPartition = (i32, i32, i32, Vec<i32>, Vec<i32>);

struct MetaTopic {
    id: Uuid,
    internal: bool,
    overrides: TopicOverrides,
    /// (index, leader, leader epoch, replicas, ISR) per partition.
    partitions: Vec<MetaPartition>,
}

struct Meta {
    cluster_id: String,
    next_producer_id: i64,
    defaults: TopicDefaults,
    topics: BTreeMap<String, MetaTopic>,
}

fn parse_meta(text: &str) -> Result<Meta, String> {
    let mut lines = text.lines();
    if lines.next() != Some(META_HEADER) {
        return Err(format!("{META} has an unknown format"));
    }
    let mut m = Meta {
        cluster_id: String::new(),
        next_producer_id: 1000,
        defaults: TopicDefaults::default(),
        topics: BTreeMap::new(),
    };
    for (n, line) in lines.enumerate() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("{META} line {}: {line:?}", n + 2);
        match w.as_slice() {
            [] => {}
            ["cluster.id", id] => m.cluster_id = unescape(id),
            ["next.producer.id", v] => m.next_producer_id = v.parse().map_err(|_| bad())?,
            ["default", k, v] => {
                m.defaults.0.insert(unescape(k), unescape(v));
            }
            ["topic", name, id, internal] => {
                let id: Uuid = id.parse().map_err(|_| bad())?;
                m.topics.insert(
                    unescape(name),
                    MetaTopic {
                        id,
                        internal: *internal == "1",
                        overrides: TopicOverrides::default(),
                        partitions: Vec::new(),
                    },
                );
            }
            ["config", name, k, v] => {
                m.topics.get_mut(&unescape(name)).ok_or_else(bad)?.overrides.0.insert(unescape(k), unescape(v));
            }
            ["partition", name, index, leader, epoch, replicas, isr] => {
                let t = m.topics.get_mut(&unescape(name)).ok_or_else(bad)?;
                t.partitions.push((
                    index.parse().map_err(|_| bad())?,
                    leader.parse().map_err(|_| bad())?,
                    epoch.parse().map_err(|_| bad())?,
                    parse_ids(replicas)?,
                    parse_ids(isr)?,
                ));
            }
            _ => return Err(bad()),
        }
    }
    Ok(m)
}

fn read_groups(root: &Path) -> Result<GroupSnapshot, String> {
    let mut snap = match std::fs::read(root.join(GROUPS_SNAPSHOT)) {
        Ok(b) => GroupSnapshot::decode(&b).map_err(|e| format!("{GROUPS_SNAPSHOT}: {e}"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => GroupSnapshot::default(),
        Err(e) => return Err(format!("{GROUPS_SNAPSHOT}: {e}")),
    };
    if let Ok(journal) = std::fs::read(root.join(GROUPS_JOURNAL)) {
        let mut rest = &journal[..];
        // A torn last entry (a crash mid-write) is dropped.
        while rest.len() >= 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let Some(body) = rest.get(4..4 + len) else { break };
            match GroupEvent::decode(body) {
                Ok(e) => snap.apply(&e),
                Err(_) => break,
            }
            rest = &rest[4 + len..];
        }
    }
    Ok(snap)
}

/// Opens (creating or recovering) a cluster in `root`.
pub fn open(
    root: &Path,
    cluster_id: Option<String>,
    brokers: Vec<BrokerInfo>,
    settings: BrokerSettings,
    now_ms: i64,
) -> Result<Core, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let meta = match std::fs::read_to_string(root.join(META)) {
        Ok(text) => Some(parse_meta(&text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{META}: {e}")),
    };
    let groups = read_groups(root)?;
    let mut persistence =
        Persistence { root: root.to_path_buf(), dirs: BTreeMap::new(), groups, journal: None, next_producer_id: 1000 };
    let cluster_id =
        meta.as_ref().map(|m| m.cluster_id.clone()).filter(|c| !c.is_empty()).or(cluster_id).unwrap_or_else(|| {
            Uuid::from_u128((u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..))).to_string()
        });
    let defaults = meta.as_ref().map(|m| m.defaults.clone()).unwrap_or_default();
    // Recover every broker's log directory.
    let config_for = |topic: &str| -> crate::log::LogConfig {
        let overrides =
            meta.as_ref().and_then(|m| m.topics.get(topic)).map(|t| t.overrides.clone()).unwrap_or_default();
        topic::log_config(&EffectiveTopicConfig::resolve(&overrides, &defaults))
    };
    let mut recovered: HashMap<(i32, String, i32), Log> = HashMap::new();
    let mut hw_checkpoints: HashMap<(i32, String, i32), i64> = HashMap::new();
    for b in &brokers {
        let path = root.join(format!("broker-{}", b.id));
        let (dir, logs) =
            LogDir::recover(&path, |tp| config_for(&tp.topic), now_ms).map_err(|e| format!("broker {}: {e}", b.id))?;
        for r in logs {
            if r.truncated_bytes > 0 || !r.deleted_segments.is_empty() {
                tracing::info!(broker = b.id, partition = ?r.topic_partition, truncated = r.truncated_bytes, "recovered a torn log tail");
            }
            recovered.insert((b.id, r.topic_partition.topic.clone(), r.topic_partition.partition), r.log);
        }
        if let Ok(hws) = storage::read_high_watermarks(&path) {
            for (tp, hw) in hws {
                hw_checkpoints.insert((b.id, tp.topic, tp.partition), hw);
            }
        }
        persistence.dirs.insert(b.id, dir);
    }
    let group_cfg = group_config(&settings);
    let mut core = Core::new(cluster_id, brokers.clone(), settings, None);
    core.topic_defaults = defaults.clone();
    if let Some(m) = &meta {
        core.next_producer_id = m.next_producer_id;
        persistence.next_producer_id = m.next_producer_id;
    }
    core.groups = GroupCoordinator::restore(group_cfg, &persistence.groups, now_ms);
    let online = |id: i32| brokers.iter().any(|b| b.id == id && b.online);
    for (name, mt) in meta.map(|m| m.topics).unwrap_or_default() {
        let cfg = EffectiveTopicConfig::resolve(&mt.overrides, &defaults);
        let log_cfg = topic::log_config(&cfg);
        let mut partitions = Vec::new();
        for (index, leader, epoch, replicas, isr) in mt.partitions {
            let logs = replicas
                .iter()
                .map(|&b| {
                    let log =
                        recovered.remove(&(b, name.clone(), index)).unwrap_or_else(|| Log::new(log_cfg, now_ms, true));
                    (b, Replica { log, last_caught_up_ms: now_ms, stalled: false })
                })
                .collect();
            let hw = hw_checkpoints.get(&(leader, name.clone(), index)).copied().unwrap_or(0);
            let mut p = Partition {
                index,
                replicas: replicas.clone(),
                leader,
                leader_epoch: epoch,
                isr: if isr.is_empty() { replicas.clone() } else { isr },
                logs,
                high_watermark: 0,
                leader_epoch_start_offset: 0,
                producers: ProducerStates::new(),
                txns: crate::cluster::partition_txns::PartitionTxns::new(),
            };
            if p.leader == NO_LEADER || !online(p.leader) {
                p.elect(now_ms, &online, cfg.unclean_leader_election, None);
            }
            p.high_watermark = hw.min(p.log_end_offset());
            p.rebuild_leader_state();
            for b in replicas {
                if b != p.leader {
                    p.truncate_follower(b, now_ms);
                }
            }
            p.replicate(now_ms, &online);
            partitions.push(p);
        }
        partitions.sort_by_key(|p| p.index);
        core.topics.insert(
            name.clone(),
            Topic {
                internal: mt.internal || topic::is_internal(&name),
                name,
                id: mt.id,
                partitions,
                overrides: mt.overrides,
            },
        );
    }
    core.storage = Some(persistence);
    let loaded = core.load_txn_log();
    if loaded > 0 {
        tracing::info!(loaded, "transactional ids loaded from __transaction_state");
        // Kafka's coordinator sends the markers of a loaded Prepare state
        // at once.
        core.drive_txn_markers(now_ms);
        core.write_txn_log(now_ms);
    }
    let orphaned = core.abort_orphaned_transactions(now_ms);
    if orphaned > 0 {
        tracing::info!(orphaned, "aborted transactions left open before the restart");
    }
    core.flush_storage();
    Ok(core)
}
