//! Groups: list them (ListGroups, asked of every broker, since each lists
//! only the groups it coordinates), describe them (DescribeGroups) and
//! delete them (DeleteGroups), the last two batched per coordinator.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_groups::DescribedGroup;
use kafka_protocol::messages::{DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest};
use kafka_protocol::{ApiKey, ErrorCode};

use super::Admin;
use super::routing::{Attempt, Round, all_failed, fan_out, no_answer};
use crate::TopicPartition;
use crate::consumer::protocol::{PROTOCOL_TYPE, decode_assignment};
use crate::error::{Error, Result};

/// The state of a group, as the coordinator reports it.
///
/// ```
/// use kafka_client::admin::GroupState;
/// assert_eq!(GroupState::parse("Stable"), GroupState::Stable);
/// assert_eq!(GroupState::PreparingRebalance.to_string(), "PreparingRebalance");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupState {
    /// A state this client does not know.
    Unknown,
    /// Members are (re)joining.
    PreparingRebalance,
    /// Waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// The group does not exist (any more).
    Dead,
    /// No members; committed offsets may remain.
    Empty,
    /// A consumer-protocol (KIP-848) group computing an assignment.
    Assigning,
    /// A consumer-protocol (KIP-848) group whose members are moving to
    /// their new assignment.
    Reconciling,
}

impl GroupState {
    /// The state named `name` as Kafka spells it (case-insensitive).
    ///
    /// ```
    /// use kafka_client::admin::GroupState;
    /// assert_eq!(GroupState::parse("empty"), GroupState::Empty);
    /// assert_eq!(GroupState::parse("Sleeping"), GroupState::Unknown);
    /// ```
    pub fn parse(name: &str) -> Self {
        [
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Dead,
            GroupState::Empty,
            GroupState::Assigning,
            GroupState::Reconciling,
        ]
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
        .unwrap_or(GroupState::Unknown)
    }

    /// Kafka's name of the state.
    ///
    /// ```
    /// assert_eq!(kafka_client::admin::GroupState::CompletingRebalance.name(), "CompletingRebalance");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Unknown => "Unknown",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
            GroupState::Empty => "Empty",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A group as ListGroups lists it.
///
/// ```
/// use kafka_client::admin::{GroupListing, GroupState};
/// let g = GroupListing {
///     group_id: "billing".into(), protocol_type: "consumer".into(), state: Some(GroupState::Stable),
///     group_type: Some("classic".into()), coordinator: 1,
/// };
/// assert!(g.is_consumer_group());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type: `consumer` for consumer groups, `connect` for
    /// Connect workers, empty for groups that only store offsets.
    pub protocol_type: String,
    /// State (ListGroups v4+).
    pub state: Option<GroupState>,
    /// Type, `classic` or `consumer` (ListGroups v5+).
    pub group_type: Option<String>,
    /// The broker that coordinates it.
    pub coordinator: i32,
}

impl GroupListing {
    /// Whether Java's `listConsumerGroups` would list it: protocol type
    /// `consumer`, or empty (a group that only has committed offsets).
    ///
    /// ```
    /// use kafka_client::admin::GroupListing;
    /// let g = GroupListing { group_id: "c".into(), protocol_type: "connect".into(), state: None, group_type: None, coordinator: 1 };
    /// assert!(!g.is_consumer_group());
    /// ```
    pub fn is_consumer_group(&self) -> bool {
        self.protocol_type == PROTOCOL_TYPE || self.protocol_type.is_empty()
    }
}

/// Options of [`Admin::list_groups`] and [`Admin::list_consumer_groups`].
///
/// ```
/// use kafka_client::admin::{GroupState, ListGroupsOptions};
/// let o = ListGroupsOptions::new().states([GroupState::Stable, GroupState::Empty]);
/// assert_eq!(o.states.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListGroupsOptions {
    /// Only groups in these states; every state when empty.
    pub states: Vec<GroupState>,
}

impl ListGroupsOptions {
    /// Every group.
    ///
    /// ```
    /// assert!(kafka_client::admin::ListGroupsOptions::new().states.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Only groups in `states`.
    ///
    /// ```
    /// use kafka_client::admin::{GroupState, ListGroupsOptions};
    /// assert_eq!(ListGroupsOptions::new().states([GroupState::Empty]).states, vec![GroupState::Empty]);
    /// ```
    pub fn states(mut self, states: impl IntoIterator<Item = GroupState>) -> Self {
        self.states = states.into_iter().collect();
        self
    }
}

/// One member of a described consumer group.
///
/// ```
/// let m = kafka_client::admin::MemberDescription {
///     member_id: "m-1".into(), group_instance_id: None, client_id: "c".into(), host: "/10.0.0.1".into(), assignment: vec![],
/// };
/// assert!(m.assignment.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// Its `client.id`.
    pub client_id: String,
    /// The host it connects from.
    pub host: String,
    /// The partitions assigned to it, decoded from its assignment.
    pub assignment: Vec<TopicPartition>,
}

/// A consumer group as [`Admin::describe_consumer_groups`] describes it.
///
/// ```
/// use kafka_client::admin::{ConsumerGroupDescription, GroupState};
/// let g = ConsumerGroupDescription {
///     group_id: "billing".into(), state: GroupState::Empty, protocol_type: "consumer".into(), assignor: String::new(),
///     members: vec![], coordinator: 2,
/// };
/// assert!(!g.is_simple_consumer_group());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    /// Group id.
    pub group_id: String,
    /// State.
    pub state: GroupState,
    /// Protocol type (`consumer`, or empty for a group that only stores
    /// offsets).
    pub protocol_type: String,
    /// The assignor chosen for the current generation (`range`, …); empty
    /// unless the group is Stable.
    pub assignor: String,
    /// Members.
    pub members: Vec<MemberDescription>,
    /// The broker that coordinates it.
    pub coordinator: i32,
}

impl ConsumerGroupDescription {
    /// Whether the group only stores offsets (no member ever joined with
    /// the consumer protocol).
    ///
    /// ```
    /// use kafka_client::admin::{ConsumerGroupDescription, GroupState};
    /// let g = ConsumerGroupDescription {
    ///     group_id: "g".into(), state: GroupState::Empty, protocol_type: String::new(), assignor: String::new(),
    ///     members: vec![], coordinator: 1,
    /// };
    /// assert!(g.is_simple_consumer_group());
    /// ```
    pub fn is_simple_consumer_group(&self) -> bool {
        self.protocol_type.is_empty()
    }
}

fn describe_group(g: DescribedGroup, coordinator: i32) -> Result<ConsumerGroupDescription> {
    if !g.protocol_type.is_empty() && g.protocol_type != PROTOCOL_TYPE {
        return Err(Error::InvalidArgument(format!(
            "group {} is not a consumer group (protocol type {})",
            g.group_id, g.protocol_type
        )));
    }
    let mut members = Vec::with_capacity(g.members.len());
    for m in g.members {
        let assignment = if m.member_assignment.is_empty() {
            Vec::new()
        } else {
            decode_assignment(m.member_assignment)
                .map_err(|e| Error::Decode {
                    broker: coordinator,
                    api: ApiKey::DescribeGroups,
                    reason: format!("assignment of member {} of group {}: {e}", m.member_id, g.group_id),
                })?
                .partitions
                .into_iter()
                .map(|(t, p)| TopicPartition::new(t, p))
                .collect()
        };
        members.push(MemberDescription {
            member_id: m.member_id,
            group_instance_id: m.group_instance_id,
            client_id: m.client_id,
            host: m.client_host,
            assignment,
        });
    }
    Ok(ConsumerGroupDescription {
        group_id: g.group_id,
        state: GroupState::parse(&g.group_state),
        protocol_type: g.protocol_type,
        assignor: g.protocol_data,
        members,
        coordinator,
    })
}

impl Admin {
    /// Lists the groups of the cluster, of every protocol type: ListGroups
    /// is sent to every broker, each listing the groups it coordinates, and
    /// the answers are merged (sorted by group id). Fails if a broker
    /// cannot be asked within `default.api.timeout.ms`.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::ListGroupsOptions;
    /// for g in admin.list_groups(ListGroupsOptions::new()).await? {
    ///     println!("{} ({}) on broker {}", g.group_id, g.protocol_type, g.coordinator);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_groups(&self, options: ListGroupsOptions) -> Result<Vec<GroupListing>> {
        let options = &options;
        let per_broker = self.on_every_broker(ApiKey::ListGroups, |b| self.list_groups_at(b, options)).await?;
        let mut out: BTreeMap<String, GroupListing> = BTreeMap::new();
        for (_, listed) in per_broker {
            for g in listed? {
                out.entry(g.group_id.clone()).or_insert(g);
            }
        }
        Ok(out.into_values().collect())
    }

    async fn list_groups_at(&self, broker: i32, options: &ListGroupsOptions) -> Result<Vec<GroupListing>> {
        let conn = self.broker(broker).await?;
        let version = conn.version_for(ApiKey::ListGroups)?;
        let req = ListGroupsRequest {
            states_filter: if version >= 4 {
                options.states.iter().map(|s| s.name().to_string()).collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let resp = conn.request_at(&req, version).await?;
        if resp.error_code != 0 {
            return Err(Error::broker(
                ErrorCode(resp.error_code),
                ApiKey::ListGroups,
                broker,
                format!("broker {broker}"),
                None,
            ));
        }
        Ok(resp
            .groups
            .into_iter()
            .map(|g| GroupListing {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                state: (version >= 4).then(|| GroupState::parse(&g.group_state)),
                group_type: (version >= 5).then_some(g.group_type),
                coordinator: broker,
            })
            // Older brokers cannot filter by state; newer ones already did.
            .filter(|g| options.states.is_empty() || g.state.is_some_and(|s| options.states.contains(&s)))
            .collect())
    }

    /// [`Self::list_groups`] keeping consumer groups only, as Java's
    /// `listConsumerGroups`: protocol type `consumer`, or empty for groups
    /// that only store offsets.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// use kafka_client::admin::{GroupState, ListGroupsOptions};
    /// let idle = admin.list_consumer_groups(ListGroupsOptions::new().states([GroupState::Empty])).await?;
    /// println!("{} idle consumer groups", idle.len());
    /// # Ok(()) }
    /// ```
    pub async fn list_consumer_groups(&self, options: ListGroupsOptions) -> Result<Vec<GroupListing>> {
        let mut groups = self.list_groups(options).await?;
        groups.retain(GroupListing::is_consumer_group);
        Ok(groups)
    }

    /// Describes consumer groups (DescribeGroups, batched per coordinator):
    /// state, protocol type, assignor, and each member's ids, host and
    /// decoded assignment. Each group gets its own result; an unknown group
    /// is GROUP_ID_NOT_FOUND (DescribeGroups v6+; older brokers describe it
    /// as Dead), a group of another protocol type an
    /// [`Error::InvalidArgument`].
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// let described = admin.describe_consumer_groups(["billing"]).await?;
    /// let g = described["billing"].as_ref().map_err(Clone::clone)?;
    /// for m in &g.members {
    ///     println!("{} {} {:?}", m.member_id, m.host, m.assignment);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn describe_consumer_groups<S: Into<String>>(
        &self,
        group_ids: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<ConsumerGroupDescription>>> {
        let ids = group_ids.into_iter().map(Into::into).collect::<Vec<String>>();
        self.run(ApiKey::DescribeGroups, ids, move |ids| async move {
            let found = self.coordinators(&ids).await;
            let mut out = found.failed;
            out.extend(fan_out(found.by_broker, |broker, ids| self.describe_groups_at(broker, ids)).await);
            out
        })
        .await
    }

    async fn describe_groups_at(&self, broker: i32, ids: Vec<String>) -> Round<String, ConsumerGroupDescription> {
        let conn = match self.coordinator_connection(broker, &ids).await {
            Ok(c) => c,
            Err(failed) => return failed,
        };
        let req = DescribeGroupsRequest { groups: ids.clone(), ..Default::default() };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => {
                for g in &ids {
                    self.forget_coordinator(g);
                }
                return all_failed(&ids, &e);
            }
        };
        let mut described = resp.groups;
        ids.into_iter()
            .map(|id| {
                let attempt = match described.iter().position(|g| g.group_id == id) {
                    None => Attempt::Done(Err(no_answer(ApiKey::DescribeGroups, broker, format!("group {id}")))),
                    Some(i) => {
                        let g = described.swap_remove(i);
                        if g.error_code != 0 {
                            let e = Error::broker(
                                ErrorCode(g.error_code),
                                ApiKey::DescribeGroups,
                                broker,
                                format!("group {id}"),
                                g.error_message,
                            );
                            self.group_error(&id, e)
                        } else {
                            Attempt::Done(describe_group(g, broker))
                        }
                    }
                };
                (id, attempt)
            })
            .collect()
    }

    /// Deletes consumer groups and their committed offsets (DeleteGroups,
    /// batched per coordinator). Each group gets its own result:
    /// NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND when it does
    /// not exist.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// for (group, r) in admin.delete_consumer_groups(["old-billing", "scratch"]).await? {
    ///     if let Err(e) = r {
    ///         eprintln!("{group}: {e}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn delete_consumer_groups<S: Into<String>>(
        &self,
        group_ids: impl IntoIterator<Item = S>,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let ids = group_ids.into_iter().map(Into::into).collect::<Vec<String>>();
        self.run(ApiKey::DeleteGroups, ids, move |ids| async move {
            let found = self.coordinators(&ids).await;
            let mut out = found.failed;
            out.extend(fan_out(found.by_broker, |broker, ids| self.delete_groups_at(broker, ids)).await);
            out
        })
        .await
    }

    async fn delete_groups_at(&self, broker: i32, ids: Vec<String>) -> Round<String, ()> {
        let conn = match self.coordinator_connection(broker, &ids).await {
            Ok(c) => c,
            Err(failed) => return failed,
        };
        let req = DeleteGroupsRequest { groups_names: ids.clone(), ..Default::default() };
        let resp = match conn.request(&req).await {
            Ok(r) => r,
            Err(e) => {
                for g in &ids {
                    self.forget_coordinator(g);
                }
                return all_failed(&ids, &e);
            }
        };
        ids.into_iter()
            .map(|id| {
                let attempt = match resp.results.iter().find(|r| r.group_id == id) {
                    None => Attempt::Done(Err(no_answer(ApiKey::DeleteGroups, broker, format!("group {id}")))),
                    Some(r) if r.error_code != 0 => {
                        let e = Error::broker(
                            ErrorCode(r.error_code),
                            ApiKey::DeleteGroups,
                            broker,
                            format!("group {id}"),
                            r.error_message.clone(),
                        );
                        self.group_error(&id, e)
                    }
                    Some(_) => Attempt::Done(Ok(())),
                };
                (id, attempt)
            })
            .collect()
    }
}
