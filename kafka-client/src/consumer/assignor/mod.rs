//! Partition assignors of the classic consumer group protocol: the group
//! leader runs one to split the subscribed topics' partitions among the
//! members, and sends the result back through SyncGroup.
//!
//! [`RangeAssignor`] (`"range"`) and [`RoundRobinAssignor`]
//! (`"roundrobin"`) reproduce the Java client's assignors (Kafka 4.0)
//! exactly, so a group may mix Java and Rust members and any of them may
//! lead. Both are eager: members give up all their partitions before a
//! rebalance.
//!
//! Members are ordered as Java's `AbstractPartitionAssignor.MemberInfo`
//! orders them: static members (those with a `group.instance.id`) first, by
//! instance id, then dynamic members by member id, all compared as Java
//! compares strings (by UTF-16 code unit). Static members therefore keep
//! their partitions when they rejoin with new member ids.
//!
//! The assignors see topics only as partition counts ([`ClusterTopics`]);
//! without replica racks, Java's rack-aware range assignment (KIP-881) never
//! applies, which is also what Java does when consumers set no
//! `client.rack`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

pub mod range;
pub mod round_robin;

pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;

/// The partition count of each topic in the cluster metadata.
///
/// Topics missing here, or with no partitions, are not assigned, as in Java,
/// which skips subscribed topics it has no metadata for.
///
/// ```
/// use kafka_client::consumer::assignor::ClusterTopics;
///
/// let metadata = ClusterTopics::from([("orders".to_owned(), 6), ("audit".to_owned(), 1)]);
/// assert_eq!(metadata["orders"], 6);
/// ```
pub type ClusterTopics = BTreeMap<String, i32>;

/// What a member sent in its JoinGroup metadata: Java's
/// `ConsumerPartitionAssignor.Subscription`.
///
/// ```
/// use kafka_client::consumer::assignor::Subscription;
///
/// let subscription = Subscription {
///     group_instance_id: Some("instance-1".to_owned()),
///     ..Subscription::new(["orders", "audit"])
/// };
/// assert_eq!(subscription.topics, ["orders", "audit"]);
/// assert_eq!(subscription.generation_id, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// The topics the member wants.
    pub topics: Vec<String>,
    /// Opaque data for the assignor, or null.
    pub user_data: Option<Bytes>,
    /// The partitions the member owns now, as `(topic, partition)`.
    pub owned_partitions: Vec<(String, i32)>,
    /// The member's `group.instance.id`, for static members. It comes from
    /// the JoinGroup response's member list, not from the metadata bytes.
    pub group_instance_id: Option<String>,
    /// The generation the owned partitions were assigned in, if known.
    pub generation_id: Option<i32>,
    /// The member's `client.rack`, if set.
    pub rack_id: Option<String>,
}

impl Subscription {
    /// A subscription to `topics` with nothing else set.
    ///
    /// ```
    /// use kafka_client::consumer::assignor::Subscription;
    ///
    /// let subscription = Subscription::new(["orders"]);
    /// assert_eq!(subscription.topics, ["orders"]);
    /// assert!(subscription.owned_partitions.is_empty());
    /// ```
    pub fn new<I, S>(topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Subscription { topics: topics.into_iter().map(Into::into).collect(), ..Default::default() }
    }
}

/// The partitions given to one member: Java's
/// `ConsumerPartitionAssignor.Assignment`.
///
/// The assignors here list partitions sorted by topic, then partition;
/// an assignment decoded from SyncGroup keeps the order of the bytes.
///
/// ```
/// use kafka_client::consumer::assignor::Assignment;
///
/// let assignment = Assignment { partitions: vec![("orders".to_owned(), 0)], user_data: None };
/// assert_eq!(assignment.partitions.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The assigned partitions, as `(topic, partition)`.
    pub partitions: Vec<(String, i32)>,
    /// Opaque data from the assignor, or null.
    pub user_data: Option<Bytes>,
}

/// How members hand over partitions during a rebalance (Java's
/// `ConsumerPartitionAssignor.RebalanceProtocol`).
///
/// ```
/// use kafka_client::consumer::assignor::RebalanceProtocol;
///
/// assert_ne!(RebalanceProtocol::Eager, RebalanceProtocol::Cooperative);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep what they own and give up only what moves (KIP-429).
    Cooperative,
}

/// A partition assignment strategy for the classic consumer group protocol.
///
/// The group leader calls [`assign`](Self::assign) with every member's
/// subscription; the strategy's [`name`](Self::name) is the protocol name
/// members offer in JoinGroup.
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_client::consumer::assignor::{Assignment, Assignor, ClusterTopics, Subscription};
///
/// /// Gives everything to the first member by member id.
/// #[derive(Debug)]
/// struct Greedy;
///
/// impl Assignor for Greedy {
///     fn name(&self) -> &str {
///         "greedy"
///     }
///
///     fn assign(
///         &self,
///         metadata: &ClusterTopics,
///         subscriptions: &BTreeMap<String, Subscription>,
///     ) -> BTreeMap<String, Assignment> {
///         let mut out: BTreeMap<String, Assignment> =
///             subscriptions.keys().map(|m| (m.clone(), Assignment::default())).collect();
///         if let Some((_, first)) = out.iter_mut().next() {
///             for (topic, &count) in metadata {
///                 first.partitions.extend((0..count).map(|p| (topic.clone(), p)));
///             }
///         }
///         out
///     }
/// }
///
/// let assignor: Box<dyn Assignor> = Box::new(Greedy);
/// let metadata = ClusterTopics::from([("t".to_owned(), 2)]);
/// let members = BTreeMap::from([("m1".to_owned(), Subscription::new(["t"]))]);
/// assert_eq!(assignor.assign(&metadata, &members)["m1"].partitions.len(), 2);
/// ```
pub trait Assignor: Send + Sync + fmt::Debug {
    /// The protocol name offered in JoinGroup, e.g. `"range"`.
    fn name(&self) -> &str;

    /// The rebalance protocols the strategy supports; eager only by default.
    ///
    /// ```
    /// use kafka_client::consumer::assignor::{Assignor, RangeAssignor, RebalanceProtocol};
    ///
    /// assert_eq!(RangeAssignor.supported_protocols(), [RebalanceProtocol::Eager]);
    /// ```
    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// User data for this member's subscription to `topics`; none by default.
    ///
    /// ```
    /// use kafka_client::consumer::assignor::{Assignor, RoundRobinAssignor};
    ///
    /// assert_eq!(RoundRobinAssignor.subscription_user_data(&["t".to_owned()]), None);
    /// ```
    fn subscription_user_data(&self, topics: &[String]) -> Option<Bytes> {
        let _ = topics;
        None
    }

    /// Splits the partitions of the subscribed topics among the members.
    ///
    /// `subscriptions` maps member ids to what they sent; the result has an
    /// entry for every member, empty if it gets nothing.
    fn assign(
        &self,
        metadata: &ClusterTopics,
        subscriptions: &BTreeMap<String, Subscription>,
    ) -> BTreeMap<String, Assignment>;
}

/// Java's `String.compareTo`: lexicographic by UTF-16 code unit. It differs
/// from Rust's `str` order (by code point) when a character above U+FFFF
/// meets one in U+E000..=U+FFFF, and member ids are free-form.
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// A member as the assignors order it: Java's `MemberInfo`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pub(crate) id: &'a str,
    pub(crate) instance_id: Option<&'a str>,
}

impl<'a> Member<'a> {
    pub(crate) fn new(id: &'a str, subscription: &'a Subscription) -> Self {
        Member { id, instance_id: subscription.group_instance_id.as_deref() }
    }

    /// Java's `MemberInfo.compareTo`: static members first, by instance id;
    /// then dynamic members by member id. Two members with the same instance
    /// id (which the coordinator does not allow) are left in input order by
    /// Java's stable sort over a `HashMap`, i.e. unpredictably; here they are
    /// ordered by member id.
    pub(crate) fn java_order(&self, other: &Self) -> Ordering {
        let by_instance = match (self.instance_id, other.instance_id) {
            (Some(a), Some(b)) => java_cmp(a, b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_instance.then_with(|| java_cmp(self.id, other.id))
    }
}

/// Sorts partitions by topic (as Java compares strings), then partition.
pub(crate) fn sort_partitions(partitions: &mut [(String, i32)]) {
    partitions.sort_by(|(t1, p1), (t2, p2)| java_cmp(t1, t2).then(p1.cmp(p2)));
}

/// An empty assignment for every member.
pub(crate) fn empty_assignments(subscriptions: &BTreeMap<String, Subscription>) -> BTreeMap<String, Assignment> {
    subscriptions.keys().map(|member| (member.clone(), Assignment::default())).collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub(crate) fn metadata(topics: &[(&str, i32)]) -> ClusterTopics {
        topics.iter().map(|&(t, n)| (t.to_owned(), n)).collect()
    }

    pub(crate) fn dynamic(topics: &[&str]) -> Subscription {
        Subscription::new(topics.iter().copied())
    }

    pub(crate) fn static_member(topics: &[&str], instance: &str) -> Subscription {
        Subscription { group_instance_id: Some(instance.to_owned()), ..dynamic(topics) }
    }

    pub(crate) fn members(entries: Vec<(&str, Subscription)>) -> BTreeMap<String, Subscription> {
        entries.into_iter().map(|(m, s)| (m.to_owned(), s)).collect()
    }

    pub(crate) fn tps(list: &[(&str, i32)]) -> Vec<(String, i32)> {
        list.iter().map(|&(t, p)| (t.to_owned(), p)).collect()
    }

    /// Parses Java's `toSortedString` form, e.g. "t1-0, t1-1, t2-0".
    pub(crate) fn parse(list: &str) -> Vec<(String, i32)> {
        let mut out: Vec<(String, i32)> = list
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(|tp| {
                let (topic, partition) = tp.rsplit_once('-').unwrap();
                (topic.to_owned(), partition.parse().unwrap())
            })
            .collect();
        sort_partitions(&mut out);
        out
    }

    pub(crate) fn partitions_of(result: &BTreeMap<String, Assignment>, member: &str) -> Vec<(String, i32)> {
        result[member].partitions.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted<'a>(members: &[Member<'a>]) -> Vec<&'a str> {
        let mut members = members.to_vec();
        members.sort_by(Member::java_order);
        members.iter().map(|m| m.id).collect()
    }

    #[test]
    fn member_order_without_instance_ids() {
        // Java AbstractPartitionAssignorTest.testMemberInfoSortingWithoutGroupInstanceId.
        let m = |id| Member { id, instance_id: None };
        assert_eq!(sorted(&[m("c"), m("a"), m("b")]), ["a", "b", "c"]);
    }

    #[test]
    fn member_order_with_all_instance_ids() {
        // testMemberInfoSortingWithAllGroupInstanceId: m1(a,y) m2(b,z) m3(c,x) -> m3 m1 m2.
        let m = |id, instance| Member { id, instance_id: Some(instance) };
        assert_eq!(sorted(&[m("a", "y"), m("b", "z"), m("c", "x")]), ["c", "a", "b"]);
    }

    #[test]
    fn member_order_with_some_instance_ids() {
        // testMemberInfoSortingSomeGroupInstanceId: m1(a) m2(b,y) m3(c,x) -> m3 m2 m1.
        let members = [
            Member { id: "a", instance_id: None },
            Member { id: "b", instance_id: Some("y") },
            Member { id: "c", instance_id: Some("x") },
        ];
        assert_eq!(sorted(&members), ["c", "b", "a"]);
    }

    #[test]
    fn member_order_many_members() {
        // testMergeSortManyMemberInfo: static members (by instance id) come
        // before dynamic ones (by member id), whatever the input order.
        let ids: Vec<String> = (100..200).map(|i| i.to_string()).collect();
        let members: Vec<Member<'_>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Member { id, instance_id: (i % 3 == 0).then_some(id.as_str()) })
            .collect();
        let mut shuffled = members.clone();
        fastrand::Rng::with_seed(9).shuffle(&mut shuffled);
        let expected: Vec<&str> = members
            .iter()
            .filter(|m| m.instance_id.is_some())
            .chain(members.iter().filter(|m| m.instance_id.is_none()))
            .map(|m| m.id)
            .collect();
        assert_eq!(sorted(&shuffled), expected);
    }

    #[test]
    fn duplicate_instance_ids_fall_back_to_member_id() {
        let members = [Member { id: "b", instance_id: Some("i") }, Member { id: "a", instance_id: Some("i") }];
        assert_eq!(sorted(&members), ["a", "b"]);
    }

    #[test]
    fn strings_compare_like_java() {
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_cmp("consumer-10", "consumer-9"), Ordering::Less);
        assert_eq!(java_cmp("Z", "a"), Ordering::Less);
        assert_eq!(java_cmp("ab", "a"), Ordering::Greater);
        // U+1F600 is the surrogate pair D83D DE00 in UTF-16, which sorts
        // before U+FF21 (FF21) in Java although its code point is higher.
        assert_eq!(java_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF21}"), Ordering::Greater);
    }

    #[test]
    fn assignors_are_object_safe() {
        let assignors: Vec<Box<dyn Assignor>> = vec![Box::new(RangeAssignor), Box::new(RoundRobinAssignor)];
        let names: Vec<&str> = assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["range", "roundrobin"]);
        for a in &assignors {
            assert_eq!(a.supported_protocols(), [RebalanceProtocol::Eager]);
            assert_eq!(a.subscription_user_data(&[]), None);
        }
    }
}
