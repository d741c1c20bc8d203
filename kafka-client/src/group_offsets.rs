//! A group's committed offsets on the wire, as both the consumer and the
//! admin client ask for and set them: OffsetFetch requests in either
//! layout (v0–7 name one group; v8+ carry an array of groups), their
//! answers flattened to one row per partition, and OffsetCommit's
//! partitions grouped by topic.
//!
//! Only the shapes live here. What an error means differs between the
//! callers (the consumer fails the call and may look for a new
//! coordinator; the admin client retries the group or reports the
//! partition), so each keeps its own error handling.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::OffsetFetchRequest;
use kafka_protocol::messages::OffsetFetchResponse;
use kafka_protocol::messages::offset_commit::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};

use crate::TopicPartition;
use crate::consumer::OffsetAndMetadata;

/// Partitions grouped by topic, in topic order; each topic's partitions in
/// the order given.
pub(crate) fn by_topic<'a>(parts: impl IntoIterator<Item = &'a TopicPartition>) -> BTreeMap<&'a str, Vec<i32>> {
    let mut out: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in parts {
        out.entry(&tp.topic).or_default().push(tp.partition);
    }
    out
}

/// An OffsetFetch request of `version` for `group`: the committed offsets
/// of `partitions`, or of every partition the group has one for when None
/// (which needs v2+: the caller checks). `require_stable` (wait for
/// pending transactional commits) goes out only where the version has it,
/// v7+.
pub(crate) fn offset_fetch_request(
    group: &str,
    version: i16,
    partitions: Option<&[TopicPartition]>,
    require_stable: bool,
) -> OffsetFetchRequest {
    let wanted = partitions.map(by_topic);
    // The two layouts' topic types differ, their fields do not.
    macro_rules! topics_as {
        ($topic:ident) => {
            wanted.map(|w| {
                w.into_iter()
                    .map(|(t, partition_indexes)| $topic {
                        name: t.to_string(),
                        partition_indexes,
                        ..Default::default()
                    })
                    .collect()
            })
        };
    }
    if version >= 8 {
        let topics = topics_as!(OffsetFetchRequestTopics);
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup { group_id: group.to_string(), topics, ..Default::default() }],
            require_stable,
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group.to_string(),
            topics: topics_as!(OffsetFetchRequestTopic),
            // Encoding a field the version lacks fails.
            require_stable: require_stable && version >= 7,
            ..Default::default()
        }
    }
}

/// One partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchedOffset {
    /// The partition.
    pub(crate) tp: TopicPartition,
    /// Its error; when not NONE, `committed` means nothing.
    pub(crate) error: ErrorCode,
    /// The committed offset; None where nothing is committed (offset -1).
    pub(crate) committed: Option<OffsetAndMetadata>,
}

impl FetchedOffset {
    fn new(topic: &Arc<str>, partition: i32, offset: i64, epoch: i32, metadata: Option<String>, error: i16) -> Self {
        FetchedOffset {
            tp: TopicPartition { topic: topic.clone(), partition },
            error: ErrorCode(error),
            committed: (offset >= 0).then(|| OffsetAndMetadata {
                offset,
                leader_epoch: (epoch >= 0).then_some(epoch),
                metadata: metadata.unwrap_or_default(),
            }),
        }
    }
}

/// `group`'s part of an OffsetFetch answer of `version`, whichever layout:
/// its group-level error and its partitions. None when a v8+ answer leaves
/// the group out.
pub(crate) fn fetched_offsets(
    resp: OffsetFetchResponse,
    version: i16,
    group: &str,
) -> Option<(ErrorCode, Vec<FetchedOffset>)> {
    // The two layouts' topic and partition types differ, their fields do not.
    macro_rules! rows_of {
        ($topics:expr) => {
            $topics
                .into_iter()
                .flat_map(|t| {
                    let topic: Arc<str> = t.name.into();
                    t.partitions.into_iter().map(move |p| {
                        let (offset, epoch) = (p.committed_offset, p.committed_leader_epoch);
                        FetchedOffset::new(&topic, p.partition_index, offset, epoch, p.metadata, p.error_code)
                    })
                })
                .collect()
        };
    }
    if version >= 8 {
        let g = resp.groups.into_iter().find(|g| g.group_id == group)?;
        Some((ErrorCode(g.error_code), rows_of!(g.topics)))
    } else {
        Some((ErrorCode(resp.error_code), rows_of!(resp.topics)))
    }
}

/// The topics of an OffsetCommit request for `offsets`: one entry per
/// topic (the map is in topic order), with each partition's offset, leader
/// epoch (-1 when unknown) and metadata.
pub(crate) fn offset_commit_topics(
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Vec<OffsetCommitRequestTopic> {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, o) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: tp.partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
            committed_metadata: Some(o.metadata.clone()),
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if *t.name == *tp.topic => t.partitions.push(p),
            _ => topics.push(OffsetCommitRequestTopic {
                name: tp.topic.to_string(),
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    topics
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::offset_fetch::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
        OffsetFetchResponseTopic, OffsetFetchResponseTopics,
    };

    use super::*;

    fn tps() -> Vec<TopicPartition> {
        vec![TopicPartition::new("b", 1), TopicPartition::new("a", 2), TopicPartition::new("b", 0)]
    }

    #[test]
    fn fetch_request_layouts() {
        let parts = tps();
        let old = offset_fetch_request("g", 7, Some(&parts), true);
        assert_eq!(old.group_id, "g");
        assert!(old.groups.is_empty() && old.require_stable);
        let topics = old.topics.unwrap();
        let names: Vec<(&str, &[i32])> = topics.iter().map(|t| (t.name.as_str(), &t.partition_indexes[..])).collect();
        assert_eq!(names, [("a", &[2][..]), ("b", &[1, 0][..])]);
        // Before v7 the request cannot carry require_stable.
        assert!(!offset_fetch_request("g", 6, Some(&parts), true).require_stable);
        assert!(offset_fetch_request("g", 3, None, false).topics.is_none());

        let new = offset_fetch_request("g", 8, Some(&parts), true);
        assert!(new.group_id.is_empty() && new.require_stable);
        assert_eq!(new.groups.len(), 1);
        assert_eq!(new.groups[0].group_id, "g");
        let topics = new.groups[0].topics.as_ref().unwrap();
        let names: Vec<(&str, &[i32])> = topics.iter().map(|t| (t.name.as_str(), &t.partition_indexes[..])).collect();
        assert_eq!(names, [("a", &[2][..]), ("b", &[1, 0][..])]);
        assert!(offset_fetch_request("g", 9, None, false).groups[0].topics.is_none());
    }

    /// The partitions of the answers below, by topic: partition, offset,
    /// leader epoch, metadata, error.
    type Rows = [(&'static str, &'static [(i32, i64, i32, Option<&'static str>, ErrorCode)])];
    const ROWS: &Rows = &[
        ("t", &[(0, 5, 2, Some("m"), ErrorCode::NONE), (1, -1, -1, None, ErrorCode::NONE)]),
        ("u", &[(0, 7, -1, None, ErrorCode::UNSTABLE_OFFSET_COMMIT)]),
    ];

    /// ROWS as the topics of an answer, in either layout: the types differ
    /// by version, their fields do not.
    macro_rules! answer_topics {
        ($topic:ident, $partition:ident) => {
            ROWS.iter()
                .map(|&(name, rows)| $topic {
                    name: name.into(),
                    partitions: rows
                        .iter()
                        .map(|&(partition_index, committed_offset, committed_leader_epoch, metadata, error)| {
                            $partition {
                                partition_index,
                                committed_offset,
                                committed_leader_epoch,
                                metadata: metadata.map(String::from),
                                error_code: error.0,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
    }

    #[test]
    fn fetched_rows_of_both_layouts() {
        let want = vec![
            FetchedOffset {
                tp: TopicPartition::new("t", 0),
                error: ErrorCode::NONE,
                committed: Some(OffsetAndMetadata::new(5).with_leader_epoch(2).with_metadata("m")),
            },
            FetchedOffset { tp: TopicPartition::new("t", 1), error: ErrorCode::NONE, committed: None },
            FetchedOffset {
                tp: TopicPartition::new("u", 0),
                error: ErrorCode::UNSTABLE_OFFSET_COMMIT,
                committed: Some(OffsetAndMetadata::new(7)),
            },
        ];

        let topics = answer_topics!(OffsetFetchResponseTopic, OffsetFetchResponsePartition);
        let old = OffsetFetchResponse { error_code: ErrorCode::NOT_COORDINATOR.0, topics, ..Default::default() };
        assert_eq!(fetched_offsets(old, 7, "g"), Some((ErrorCode::NOT_COORDINATOR, want.clone())));

        let topics = answer_topics!(OffsetFetchResponseTopics, OffsetFetchResponsePartitions);
        let group = OffsetFetchResponseGroup {
            group_id: "g".into(),
            error_code: ErrorCode::NOT_COORDINATOR.0,
            topics,
            ..Default::default()
        };
        let other = OffsetFetchResponseGroup { group_id: "other".into(), ..Default::default() };
        let new = OffsetFetchResponse { groups: vec![other, group], ..Default::default() };
        assert_eq!(fetched_offsets(new.clone(), 8, "g"), Some((ErrorCode::NOT_COORDINATOR, want)));
        assert_eq!(fetched_offsets(new, 8, "missing"), None);
    }

    #[test]
    fn commit_topics_group_partitions() {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = [
            (TopicPartition::new("b", 3), OffsetAndMetadata::new(30).with_leader_epoch(1)),
            (TopicPartition::new("a", 0), OffsetAndMetadata::new(1).with_metadata("x")),
            (TopicPartition::new("b", 1), OffsetAndMetadata::new(10)),
        ]
        .into();
        let topics = offset_commit_topics(&offsets);
        let got: Vec<_> = topics
            .iter()
            .map(|t| {
                let ps: Vec<_> = t
                    .partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.committed_metadata.as_deref(),
                        )
                    })
                    .collect();
                (t.name.as_str(), ps)
            })
            .collect();
        assert_eq!(
            got,
            vec![("a", vec![(0, 1, -1, Some("x"))]), ("b", vec![(1, 10, -1, Some("")), (3, 30, 1, Some(""))])]
        );
    }
}
