//! Java's `RoundRobinAssignor` (`"roundrobin"`).

use std::collections::{BTreeMap, HashSet};

use super::{Assignment, Assignor, ClusterTopics, Member, Subscription, empty_assignments, java_cmp, sort_partitions};

/// Lays out every partition of every subscribed topic, sorted by topic then
/// partition, and deals them to the members in Java's member order like
/// cards, skipping a member when it is not subscribed to the partition's
/// topic.
///
/// With identical subscriptions the counts differ by at most one. Two
/// members `c0` and `c1` subscribed to `t0` and `t1` of 3 partitions each get
/// `c0: t0-0, t0-2, t1-1` and `c1: t0-1, t1-0, t1-2`.
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_client::consumer::assignor::{Assignor, ClusterTopics, RoundRobinAssignor, Subscription};
///
/// let metadata = ClusterTopics::from([("t0".to_owned(), 3), ("t1".to_owned(), 3)]);
/// let members = BTreeMap::from([
///     ("c0".to_owned(), Subscription::new(["t0", "t1"])),
///     ("c1".to_owned(), Subscription::new(["t0", "t1"])),
/// ]);
/// let result = RoundRobinAssignor.assign(&metadata, &members);
/// let names = |m: &str| result[m].partitions.iter().map(|(t, p)| format!("{t}-{p}")).collect::<Vec<_>>();
/// assert_eq!(names("c0"), ["t0-0", "t0-2", "t1-1"]);
/// assert_eq!(names("c1"), ["t0-1", "t1-0", "t1-2"]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundRobinAssignor;

impl RoundRobinAssignor {
    /// The protocol name, `"roundrobin"`.
    ///
    /// ```
    /// use kafka_client::consumer::assignor::{Assignor, RoundRobinAssignor};
    ///
    /// assert_eq!(RoundRobinAssignor.name(), RoundRobinAssignor::NAME);
    /// ```
    pub const NAME: &'static str = "roundrobin";
}

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn assign(
        &self,
        metadata: &ClusterTopics,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment> {
        let mut result = empty_assignments(subscriptions);

        let mut members: Vec<(Member<'_>, HashSet<&str>)> = subscriptions
            .iter()
            .map(|(id, s)| (Member::new(id, s), s.topics.iter().map(String::as_str).collect()))
            .collect();
        members.sort_by(|(a, _), (b, _)| a.java_order(b));

        // Java's `allPartitionsSorted`: a `TreeSet` of the subscribed topics.
        let mut topics: Vec<&str> = members.iter().flat_map(|(_, topics)| topics.iter().copied()).collect();
        topics.sort_by(|a, b| java_cmp(a, b));
        topics.dedup();

        // Java's `CircularIterator` over the sorted members: `next` is the
        // member the next partition is offered to.
        let mut next = 0usize;
        for topic in topics {
            let num_partitions = match metadata.get(topic) {
                Some(&n) if n > 0 => n,
                _ => continue,
            };
            for partition in 0..num_partitions {
                // Some member lists the topic (that is how it got here), so
                // one lap always finds a taker.
                let taker = (0..members.len())
                    .map(|step| (next + step) % members.len())
                    .find(|&i| members.get(i).is_some_and(|(_, topics)| topics.contains(topic)));
                let Some(taker) = taker else { break };
                next = (taker + 1) % members.len();
                if let Some(assignment) = members.get(taker).and_then(|(m, _)| result.get_mut(m.id)) {
                    assignment.partitions.push((topic.to_owned(), partition));
                }
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
        let result = RoundRobinAssignor.assign(metadata, subscriptions);
        assert_eq!(result.keys().collect::<Vec<_>>(), subscriptions.keys().collect::<Vec<_>>());
        result
    }

    // The cases below are Java's RoundRobinAssignorTest.

    #[test]
    fn one_consumer_no_topic() {
        let result = assign(&metadata(&[]), &members(vec![("consumer", dynamic(&[]))]));
        assert_eq!(partitions_of(&result, "consumer"), tps(&[]));
    }

    #[test]
    fn one_consumer_nonexistent_topic() {
        let result = assign(&metadata(&[]), &members(vec![("consumer", dynamic(&["topic"]))]));
        assert_eq!(partitions_of(&result, "consumer"), tps(&[]));
    }

    #[test]
    fn one_consumer_one_topic() {
        let result = assign(&metadata(&[("topic", 3)]), &members(vec![("consumer", dynamic(&["topic"]))]));
        assert_eq!(partitions_of(&result, "consumer"), tps(&[("topic", 0), ("topic", 1), ("topic", 2)]));
    }

    #[test]
    fn only_assigns_partitions_from_subscribed_topics() {
        let result =
            assign(&metadata(&[("topic", 3), ("other", 3)]), &members(vec![("consumer", dynamic(&["topic"]))]));
        assert_eq!(partitions_of(&result, "consumer"), tps(&[("topic", 0), ("topic", 1), ("topic", 2)]));
    }

    #[test]
    fn one_consumer_multiple_topics() {
        let result = assign(
            &metadata(&[("topic1", 1), ("topic2", 2)]),
            &members(vec![("consumer", dynamic(&["topic1", "topic2"]))]),
        );
        assert_eq!(partitions_of(&result, "consumer"), tps(&[("topic1", 0), ("topic2", 0), ("topic2", 1)]));
    }

    #[test]
    fn two_consumers_one_topic_one_partition() {
        let result = assign(
            &metadata(&[("topic", 1)]),
            &members(vec![("consumer1", dynamic(&["topic"])), ("consumer2", dynamic(&["topic"]))]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic", 0)]));
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[]));
    }

    #[test]
    fn two_consumers_one_topic_two_partitions() {
        let result = assign(
            &metadata(&[("topic", 2)]),
            &members(vec![("consumer1", dynamic(&["topic"])), ("consumer2", dynamic(&["topic"]))]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic", 0)]));
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[("topic", 1)]));
    }

    #[test]
    fn two_consumers_one_topic_three_partitions() {
        let result = assign(&metadata(&[("t", 3)]), &members(vec![("C0", dynamic(&["t"])), ("C1", dynamic(&["t"]))]));
        assert_eq!(partitions_of(&result, "C0"), tps(&[("t", 0), ("t", 2)]));
        assert_eq!(partitions_of(&result, "C1"), tps(&[("t", 1)]));
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
    fn two_dynamic_consumers_two_topics_six_partitions() {
        let result = assign(
            &metadata(&[("topic1", 3), ("topic2", 3)]),
            &members(vec![
                ("consumer1", dynamic(&["topic1", "topic2"])),
                ("consumer2", dynamic(&["topic1", "topic2"])),
            ]),
        );
        assert_eq!(partitions_of(&result, "consumer1"), tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)]));
        assert_eq!(partitions_of(&result, "consumer2"), tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)]));
    }

    #[test]
    fn two_static_consumers_order_by_instance_id() {
        let result = assign(
            &metadata(&[("topic1", 3), ("topic2", 3)]),
            &members(vec![
                ("consumer-b", static_member(&["topic1", "topic2"], "instance1")),
                ("consumer-a", static_member(&["topic1", "topic2"], "instance2")),
            ]),
        );
        assert_eq!(partitions_of(&result, "consumer-b"), tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)]));
        assert_eq!(partitions_of(&result, "consumer-a"), tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)]));
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
        assert_eq!(partitions_of(&result, "consumer-b"), tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)]));
        assert_eq!(partitions_of(&result, "consumer-a"), tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)]));
    }

    #[test]
    fn static_member_assignment_persistent() {
        let metadata = metadata(&[("topic1", 3), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let mut subscriptions = members(vec![
            ("consumer1", static_member(&both, "instance1")),
            ("consumer2", static_member(&both, "instance2")),
            ("consumer3", static_member(&both, "instance3")),
            ("consumer4", dynamic(&both)),
        ]);
        let mut expected = BTreeMap::from([
            ("consumer1", tps(&[("topic1", 0), ("topic2", 1)])),
            ("consumer2", tps(&[("topic1", 1), ("topic2", 2)])),
            ("consumer3", tps(&[("topic1", 2)])),
            ("consumer4", tps(&[("topic2", 0)])),
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
    fn static_member_assignment_persistent_after_member_id_changes() {
        let metadata = metadata(&[("topic1", 3), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let by_instance = |subscriptions: &BTreeMap<String, Subscription>| {
            let result = assign(&metadata, subscriptions);
            subscriptions
                .iter()
                .map(|(member, s)| (s.group_instance_id.clone().unwrap(), partitions_of(&result, member)))
                .collect::<BTreeMap<_, _>>()
        };
        // Instance i gets partition i of both topics.
        let expected = BTreeMap::from([
            ("instance1".to_owned(), tps(&[("topic1", 0), ("topic2", 0)])),
            ("instance2".to_owned(), tps(&[("topic1", 1), ("topic2", 1)])),
            ("instance3".to_owned(), tps(&[("topic1", 2), ("topic2", 2)])),
        ]);
        let before = members(vec![
            ("consumer1", static_member(&both, "instance1")),
            ("consumer2", static_member(&both, "instance2")),
            ("consumer3", static_member(&both, "instance3")),
        ]);
        assert_eq!(by_instance(&before), expected);
        let after = members(vec![
            ("consumer4", static_member(&both, "instance1")),
            ("consumer5", static_member(&both, "instance2")),
            ("consumer1", static_member(&both, "instance3")),
        ]);
        assert_eq!(by_instance(&after), expected);
    }

    #[test]
    fn members_with_different_subscriptions() {
        // The example of Java's RoundRobinAssignor documentation: C0 wants t0,
        // C1 t0 and t1, C2 all three; t0, t1, t2 have 1, 2, 3 partitions.
        let result = assign(
            &metadata(&[("t0", 1), ("t1", 2), ("t2", 3)]),
            &members(vec![
                ("C0", dynamic(&["t0"])),
                ("C1", dynamic(&["t0", "t1"])),
                ("C2", dynamic(&["t0", "t1", "t2"])),
            ]),
        );
        assert_eq!(partitions_of(&result, "C0"), tps(&[("t0", 0)]));
        assert_eq!(partitions_of(&result, "C1"), tps(&[("t1", 0)]));
        assert_eq!(partitions_of(&result, "C2"), tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    #[test]
    fn topics_are_dealt_in_sorted_order() {
        // Subscription order does not matter; "a" comes before "b".
        let result = assign(
            &metadata(&[("b", 2), ("a", 3)]),
            &members(vec![("m1", dynamic(&["b", "a"])), ("m2", dynamic(&["b", "a", "a"]))]),
        );
        assert_eq!(partitions_of(&result, "m1"), tps(&[("a", 0), ("a", 2), ("b", 1)]));
        assert_eq!(partitions_of(&result, "m2"), tps(&[("a", 1), ("b", 0)]));
    }

    #[test]
    fn no_members() {
        assert!(assign(&metadata(&[("t", 3)]), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn identical_subscriptions_are_balanced() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..100 {
            let topics: Vec<(String, i32)> = (0..rng.usize(1..5)).map(|i| (format!("t{i}"), rng.i32(0..12))).collect();
            let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
            let subscriptions: BTreeMap<String, Subscription> =
                (0..rng.usize(1..7)).map(|m| (format!("m{m}"), dynamic(&names))).collect();
            let metadata: ClusterTopics = topics.iter().cloned().collect();
            let result = assign(&metadata, &subscriptions);
            let counts: Vec<usize> = result.values().map(|a| a.partitions.len()).collect();
            let total: i32 = topics.iter().map(|(_, n)| n).sum();
            assert_eq!(counts.iter().sum::<usize>(), total as usize);
            assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{counts:?}");
        }
    }
}
