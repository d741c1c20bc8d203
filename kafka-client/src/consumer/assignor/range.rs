//! Java's `RangeAssignor` (`"range"`).

use std::collections::{BTreeMap, HashSet};

use super::{Assignment, Assignor, ClusterTopics, Member, Subscription, empty_assignments, sort_partitions};

/// Assigns each topic on its own: the topic's partitions, in order, are cut
/// into consecutive ranges, one per subscribed member in Java's member
/// order; with `n` partitions and `m` members each range has `n / m`
/// partitions and the first `n % m` ranges one more.
///
/// Two members `c0` and `c1` subscribed to `t0` and `t1` of 3 partitions each
/// get `c0: t0-0, t0-1, t1-0, t1-1` and `c1: t0-2, t1-2`, which co-locates
/// equal partitions of equally sized topics, and is uneven when many topics
/// have fewer partitions than the group has members.
///
/// Java's `RangeAssignor` hands out ranges through a rack-aware state
/// machine (KIP-881) that, without replica racks, reduces to exactly these
/// ranges.
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_client::consumer::assignor::{Assignor, ClusterTopics, RangeAssignor, Subscription};
///
/// let metadata = ClusterTopics::from([("t0".to_owned(), 3), ("t1".to_owned(), 3)]);
/// let members = BTreeMap::from([
///     ("c0".to_owned(), Subscription::new(["t0", "t1"])),
///     ("c1".to_owned(), Subscription::new(["t0", "t1"])),
/// ]);
/// let result = RangeAssignor.assign(&metadata, &members);
/// let names = |m: &str| result[m].partitions.iter().map(|(t, p)| format!("{t}-{p}")).collect::<Vec<_>>();
/// assert_eq!(names("c0"), ["t0-0", "t0-1", "t1-0", "t1-1"]);
/// assert_eq!(names("c1"), ["t0-2", "t1-2"]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RangeAssignor;

impl RangeAssignor {
    /// The protocol name, `"range"`.
    ///
    /// ```
    /// use kafka_client::consumer::assignor::{Assignor, RangeAssignor};
    ///
    /// assert_eq!(RangeAssignor.name(), RangeAssignor::NAME);
    /// ```
    pub const NAME: &'static str = "range";
}

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn assign(
        &self,
        metadata: &ClusterTopics,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        // Java's `consumersPerTopic`; a topic listed twice by one member
        // counts that member once, as Java's per-topic member map does.
        let mut members_per_topic: BTreeMap<&str, Vec<Member<'_>>> = BTreeMap::new();
        for (member_id, subscription) in subscriptions {
            let mut seen = HashSet::new();
            for topic in &subscription.topics {
                if seen.insert(topic.as_str()) {
                    members_per_topic.entry(topic).or_default().push(Member::new(member_id, subscription));
                }
            }
        }

        let mut result = empty_assignments(subscriptions);
        for (topic, mut members) in members_per_topic {
            let num_partitions = match metadata.get(topic) {
                Some(&n) if n > 0 => i64::from(n),
                _ => continue,
            };
            members.sort_by(Member::java_order);
            let num_members = members.len() as i64;
            let per_member = num_partitions / num_members;
            let with_extra = num_partitions % num_members;
            for (i, member) in (0i64..).zip(&members) {
                let start = per_member * i + i.min(with_extra);
                let length = per_member + i64::from(i < with_extra);
                let Some(assignment) = result.get_mut(member.id) else { continue };
                // Partition numbers stay below `num_partitions`, an `i32`.
                assignment.partitions.extend((start..start + length).map(|p| (topic.to_owned(), p as i32)));
            }
        }
        for assignment in result.values_mut() {
            sort_partitions(&mut assignment.partitions);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn assign(
        metadata: &ClusterTopics,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        let result = RangeAssignor.assign(metadata, subscriptions);
        assert_eq!(result.keys().collect::<Vec<_>>(), subscriptions.keys().collect::<Vec<_>>());
        result
    }

    // The cases below are Java's RangeAssignorTest (Kafka 4.0), without racks.

    #[test]
    fn one_consumer_no_topic() {
        let result = assign(&metadata(&[]), &members(vec![("consumer1", dynamic(&[]))]));
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[]));
    }

    #[test]
    fn one_consumer_nonexistent_topic() {
        let result = assign(&metadata(&[]), &members(vec![("consumer1", dynamic(&["topic1"]))]));
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[]));
    }

    #[test]
    fn one_consumer_one_topic() {
        let result = assign(&metadata(&[("topic1", 3)]), &members(vec![("consumer1", dynamic(&["topic1"]))]));
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0), ("topic1", 1), ("topic1", 2)]));
    }

    #[test]
    fn only_assigns_partitions_from_subscribed_topics() {
        let result =
            assign(&metadata(&[("topic1", 3), ("other", 3)]), &members(vec![("consumer1", dynamic(&["topic1"]))]));
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0), ("topic1", 1), ("topic1", 2)]));
    }

    #[test]
    fn one_consumer_multiple_topics() {
        let result = assign(
            &metadata(&[("topic1", 1), ("topic2", 2)]),
            &members(vec![("consumer1", dynamic(&["topic1", "topic2"]))]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0), ("topic2", 0), ("topic2", 1)]));
    }

    #[test]
    fn two_consumers_one_topic_one_partition() {
        let result = assign(
            &metadata(&[("topic1", 1)]),
            &members(vec![("consumer1", dynamic(&["topic1"])), ("consumer2", dynamic(&["topic1"]))]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0)]));
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[]));
    }

    #[test]
    fn two_consumers_one_topic_two_partitions() {
        let result = assign(
            &metadata(&[("topic1", 2)]),
            &members(vec![("consumer1", dynamic(&["topic1"])), ("consumer2", dynamic(&["topic1"]))]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0)]));
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[("topic1", 1)]));
    }

    #[test]
    fn two_consumers_one_topic_three_partitions() {
        // The first n % m members get one partition more.
        let result = assign(&metadata(&[("t", 3)]), &members(vec![("C0", dynamic(&["t"])), ("C1", dynamic(&["t"]))]));
        assert_eq!(partitions_of(&result, "C0"), tps(&[("t", 0), ("t", 1)]));
        assert_eq!(partitions_of(&result, "C1"), tps(&[("t", 2)]));
    }

    #[test]
    fn multiple_consumers_mixed_topics() {
        let result = assign(
            &metadata(&[("topic1", 3), ("topic2", 2)]),
            &members(vec![
                ("consumer1", dynamic(&["topic1"])),
                ("consumer2", dynamic(&["topic1", "topic2"])),
                ("consumer3", dynamic(&["topic1"])),
            ]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0)]));
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[("topic1", 1), ("topic2", 0), ("topic2", 1)]));
        assert_eq!(partitions_of(&result, "consumer3"), tps(&[("topic1", 2)]));
    }

    #[test]
    fn two_consumers_two_topics_six_partitions() {
        let result = assign(
            &metadata(&[("topic1", 3), ("topic2", 3)]),
            &members(vec![
                ("consumer1", dynamic(&["topic1", "topic2"])),
                ("consumer2", dynamic(&["topic1", "topic2"])),
            ]),
        );
        assert_eq!(
            partitions_of(&result, "consumer1"),
            tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)])
        );
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[("topic1", 2), ("topic2", 2)]));
    }

    #[test]
    fn two_static_consumers_order_by_instance_id() {
        // "consumer-b" sorts after "consumer-a", but its instance id sorts first.
        let result = assign(
            &metadata(&[("topic1", 3), ("topic2", 3)]),
            &members(vec![
                ("consumer-b", static_member(&["topic1", "topic2"], "instance1")),
                ("consumer-a", static_member(&["topic1", "topic2"], "instance2")),
            ]),
        );
        assert_eq!(
            partitions_of(&result, "consumer-b"),
            tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)])
        );
        assert_eq!(partitions_of(&result, "consumer-a"), tps(&[("topic1", 2), ("topic2", 2)]));
    }

    #[test]
    fn static_consumer_precedes_dynamic_consumer() {
        let result = assign(
            &metadata(&[("topic1", 3), ("topic2", 3)]),
            &members(vec![
                ("consumer-b", static_member(&["topic1", "topic2"], "instance1")),
                ("consumer-a", dynamic(&["topic1", "topic2"])),
            ]),
        );
        assert_eq!(
            partitions_of(&result, "consumer-b"),
            tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)])
        );
        assert_eq!(partitions_of(&result, "consumer-a"), tps(&[("topic1", 2), ("topic2", 2)]));
    }

    #[test]
    fn static_member_range_assignment_persistent() {
        let metadata = metadata(&[("topic1", 5), ("topic2", 4)]);
        let both = ["topic1", "topic2"];
        let mut subscriptions = members(vec![
            ("consumer1", static_member(&both, "instance1")),
            ("consumer2", static_member(&both, "instance2")),
            ("consumer3", static_member(&both, "instance3")),
            ("consumer4", dynamic(&both)),
        ]);
        let mut expected = BTreeMap::from([
            ("consumer1", tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0)])),
            ("consumer2", tps(&[("topic1", 2), ("topic2", 1)])),
            ("consumer3", tps(&[("topic1", 3), ("topic2", 2)])),
            ("consumer4", tps(&[("topic1", 4), ("topic2", 3)])),
        ]);
        let result = assign(&metadata, &subscriptions);
        for (member, partitions) in &expected {
            assert_eq!(&partitions_of(&result, member), partitions, "{member}");
        }

        // Replace dynamic member 4 with a new dynamic member 5.
        subscriptions.remove("consumer4");
        subscriptions.insert("consumer5".to_owned(), dynamic(&both));
        let moved = expected.remove("consumer4").unwrap();
        expected.insert("consumer5", moved);
        let result = assign(&metadata, &subscriptions);
        for (member, partitions) in &expected {
            assert_eq!(&partitions_of(&result, member), partitions, "{member}");
        }
    }

    #[test]
    fn static_member_range_assignment_persistent_after_member_id_changes() {
        let metadata = metadata(&[("topic1", 5), ("topic2", 5)]);
        let both = ["topic1", "topic2"];
        let by_instance = |subscriptions: &BTreeMap<String, Subscription>| {
            let result = assign(&metadata, subscriptions);
            subscriptions
                .iter()
                .map(|(member, s)| (s.group_instance_id.clone().unwrap(), partitions_of(&result, member)))
                .collect::<BTreeMap<_, _>>()
        };
        let expected = BTreeMap::from([
            ("instance1".to_owned(), tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)])),
            ("instance2".to_owned(), tps(&[("topic1", 2), ("topic1", 3), ("topic2", 2), ("topic2", 3)])),
            ("instance3".to_owned(), tps(&[("topic1", 4), ("topic2", 4)])),
        ]);
        let before = members(vec![
            ("consumer1", static_member(&both, "instance1")),
            ("consumer2", static_member(&both, "instance2")),
            ("consumer3", static_member(&both, "instance3")),
        ]);
        assert_eq!(by_instance(&before), expected);

        // instance3 rejoins as consumer4 and instance2 as consumer5.
        let after = members(vec![
            ("consumer1", static_member(&both, "instance1")),
            ("consumer5", static_member(&both, "instance2")),
            ("consumer4", static_member(&both, "instance3")),
        ]);
        assert_eq!(by_instance(&after), expected);
    }

    /// Java's `verifyNonRackAwareAssignment` expectations from
    /// RangeAssignorTest's rack tests; consumers are "consumer0".."consumerN".
    fn check_java_expectations(topics: &[(&str, i32)], consumer_topics: &[&[&str]], expected: &[&str]) {
        let subscriptions: BTreeMap<String, Subscription> =
            consumer_topics.iter().enumerate().map(|(i, t)| (format!("consumer{i}"), dynamic(t))).collect();
        let result = assign(&metadata(topics), &subscriptions);
        for (i, want) in expected.iter().enumerate() {
            assert_eq!(partitions_of(&result, &format!("consumer{i}")), parse(want), "consumer{i}");
        }
    }

    #[test]
    fn java_expectations_uniform_subscription() {
        let all: &[&str] = &["t1", "t2", "t3"];
        check_java_expectations(
            &[("t1", 6), ("t2", 7), ("t3", 2)],
            &[all, all, all],
            &["t1-0, t1-1, t2-0, t2-1, t2-2, t3-0", "t1-2, t1-3, t2-3, t2-4, t3-1", "t1-4, t1-5, t2-5, t2-6"],
        );
    }

    #[test]
    fn java_expectations_non_equal_subscription() {
        let all: &[&str] = &["t1", "t2", "t3"];
        check_java_expectations(
            &[("t1", 6), ("t2", 7), ("t3", 2)],
            &[all, all, &["t1", "t3"]],
            &["t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0", "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1", "t1-4, t1-5"],
        );
    }

    #[test]
    fn java_expectations_uniform_partitions() {
        let all: &[&str] = &["t1", "t2", "t3"];
        check_java_expectations(
            &[("t1", 5), ("t2", 5), ("t3", 5)],
            &[all, all, all],
            &["t1-0, t1-1, t2-0, t2-1, t3-0, t3-1", "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3", "t1-4, t2-4, t3-4"],
        );
        check_java_expectations(
            &[("t1", 5), ("t2", 5), ("t3", 5)],
            &[all, all, &["t1", "t3"]],
            &["t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1", "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3", "t1-4, t3-4"],
        );
    }

    #[test]
    fn java_expectations_co_partitioning() {
        let t12: &[&str] = &["t1", "t2"];
        let t34: &[&str] = &["t3", "t4"];
        let topics = [("t1", 6), ("t2", 6), ("t3", 2), ("t4", 2)];
        check_java_expectations(
            &topics,
            &[t12, t12, t34, t34],
            &["t1-0, t1-1, t1-2, t2-0, t2-1, t2-2", "t1-3, t1-4, t1-5, t2-3, t2-4, t2-5", "t3-0, t4-0", "t3-1, t4-1"],
        );
        let all: &[&str] = &["t1", "t2", "t3", "t4"];
        check_java_expectations(
            &topics,
            &[all, all, all, all],
            &["t1-0, t1-1, t2-0, t2-1, t3-0, t4-0", "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1", "t1-4, t2-4", "t1-5, t2-5"],
        );
        // Subscribed topics without metadata (t7..t9) are skipped.
        let many: &[&str] = &["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"];
        check_java_expectations(
            &[("t1", 6), ("t2", 6), ("t3", 2), ("t4", 2), ("t5", 4), ("t6", 4)],
            &[many, many, many],
            &[
                "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0, t5-0, t5-1, t6-0, t6-1",
                "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1, t5-2, t6-2",
                "t1-4, t1-5, t2-4, t2-5, t5-3, t6-3",
            ],
        );
    }

    #[test]
    fn members_with_different_subscriptions() {
        // Each topic is split only among its own subscribers.
        let result = assign(
            &metadata(&[("a", 4), ("b", 3), ("c", 1)]),
            &members(vec![
                ("m1", dynamic(&["a", "b"])),
                ("m2", dynamic(&["b", "c"])),
                ("m3", dynamic(&["a"])),
                ("m4", dynamic(&[])),
            ]),
        );
        assert_eq!(partitions_of(&result, "m1"), tps(&[("a", 0), ("a", 1), ("b", 0), ("b", 1)]));
        assert_eq!(partitions_of(&result, "m2"), tps(&[("b", 2), ("c", 0)]));
        assert_eq!(partitions_of(&result, "m3"), tps(&[("a", 2), ("a", 3)]));
        assert_eq!(partitions_of(&result, "m4"), tps(&[]));
    }

    #[test]
    fn more_members_than_partitions() {
        let subscriptions: BTreeMap<String, Subscription> =
            (0..5).map(|i| (format!("m{i}"), dynamic(&["t"]))).collect();
        let result = assign(&metadata(&[("t", 2)]), &subscriptions);
        assert_eq!(partitions_of(&result, "m0"), tps(&[("t", 0)]));
        assert_eq!(partitions_of(&result, "m1"), tps(&[("t", 1)]));
        for m in ["m2", "m3", "m4"] {
            assert_eq!(partitions_of(&result, m), tps(&[]));
        }
    }

    #[test]
    fn duplicate_topics_and_empty_metadata_are_tolerated() {
        let result = assign(
            &metadata(&[("t", 3), ("empty", 0), ("negative", -1)]),
            &members(vec![("m1", dynamic(&["t", "t", "empty", "negative"])), ("m2", dynamic(&["t"]))]),
        );
        assert_eq!(partitions_of(&result, "m1"), tps(&[("t", 0), ("t", 1)]));
        assert_eq!(partitions_of(&result, "m2"), tps(&[("t", 2)]));
    }

    #[test]
    fn no_members() {
        assert!(assign(&metadata(&[("t", 3)]), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn every_partition_assigned_exactly_once() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..200 {
            let topics: Vec<(String, i32)> = (0..rng.usize(1..5)).map(|i| (format!("t{i}"), rng.i32(0..9))).collect();
            let metadata: ClusterTopics = topics.iter().cloned().collect();
            let subscriptions: BTreeMap<String, Subscription> = (0..rng.usize(1..6))
                .map(|m| {
                    let subscribed: Vec<String> =
                        topics.iter().filter(|_| rng.bool()).map(|(t, _)| t.clone()).collect();
                    let mut s = Subscription::new(subscribed);
                    s.group_instance_id = rng.bool().then(|| format!("i{}", rng.u8(..)));
                    (format!("m{m}"), s)
                })
                .collect();
            let result = assign(&metadata, &subscriptions);
            for (topic, &n) in &metadata {
                let subscribers: Vec<&String> =
                    subscriptions.iter().filter(|(_, s)| s.topics.contains(topic)).map(|(m, _)| m).collect();
                let mut owners = Vec::new();
                for (member, assignment) in &result {
                    for (t, p) in &assignment.partitions {
                        if t == topic {
                            assert!(subscribers.contains(&member));
                            owners.push(*p);
                        }
                    }
                }
                owners.sort_unstable();
                let expected: Vec<i32> = if subscribers.is_empty() { vec![] } else { (0..n).collect() };
                assert_eq!(owners, expected, "topic {topic}");
            }
        }
    }
}
