//! The administrative group APIs: ListGroups, DescribeGroups, DeleteGroups.

use std::collections::BTreeSet;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_groups::{DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse};
use kafka_protocol::messages::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
use kafka_protocol::messages::list_groups::{ListGroupsRequest, ListGroupsResponse, ListedGroup};

use super::model::{Group, GroupState};
use super::persist::GroupEvent;
use super::{GroupCoordinator, Reply, ReplyId};

/// The type every group here has, as ListGroups v5 reports it.
const CLASSIC_GROUP_TYPE: &str = "classic";

/// The operations on a group a caller may perform, as Kafka reports them
/// without an authorizer: READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS and
/// ALTER_CONFIGS (ACL operation codes 3, 6, 8, 10 and 11 as bits).
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

impl GroupCoordinator {
    /// Handles a ListGroups (v0–v5).
    ///
    /// The state filter (v4+) compares Kafka's state names case-insensitively;
    /// the type filter (v5+) matches `"classic"`, case-insensitively, and
    /// nothing else. Groups are listed in group-id order.
    pub fn list_groups(
        &mut self,
        now_ms: i64,
        _version: i16,
        request: &ListGroupsRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let states: BTreeSet<String> = request.states_filter.iter().map(|s| s.trim().to_lowercase()).collect();
        let type_matches = request.types_filter.is_empty()
            || request.types_filter.iter().any(|t| t.eq_ignore_ascii_case(CLASSIC_GROUP_TYPE));
        let groups = self
            .groups
            .values()
            .filter(|g| type_matches && (states.is_empty() || states.contains(&g.state.name().to_lowercase())))
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                group_state: g.state.name().to_owned(),
                group_type: CLASSIC_GROUP_TYPE.to_owned(),
                ..Default::default()
            })
            .collect();
        self.replies.push((reply, Reply::ListGroups(ListGroupsResponse { groups, ..Default::default() })));
        self.take_replies()
    }

    /// Handles a DescribeGroups (v0–v6).
    ///
    /// As in Kafka, the protocol and the members' metadata are only shown
    /// for a Stable group; assignments always are. An unknown group is
    /// reported as Dead, with GROUP_ID_NOT_FOUND from v6 (KIP-1043).
    pub fn describe_groups(
        &mut self,
        now_ms: i64,
        version: i16,
        request: &DescribeGroupsRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let groups = request
            .groups
            .iter()
            .map(|group_id| {
                let mut described = match self.groups.get(group_id) {
                    Some(group) => describe(group),
                    None => DescribedGroup {
                        group_id: group_id.clone(),
                        group_state: GroupState::Dead.name().to_owned(),
                        error_code: if version >= 6 { ErrorCode::GROUP_ID_NOT_FOUND.0 } else { ErrorCode::NONE.0 },
                        error_message: (version >= 6).then(|| format!("Group {group_id} not found.")),
                        ..Default::default()
                    },
                };
                if version >= 3 && request.include_authorized_operations && described.error_code == ErrorCode::NONE.0 {
                    described.authorized_operations = GROUP_AUTHORIZED_OPERATIONS;
                }
                described
            })
            .collect();
        self.replies.push((reply, Reply::DescribeGroups(DescribeGroupsResponse { groups, ..Default::default() })));
        self.take_replies()
    }

    /// Handles a DeleteGroups (v0–v2): deletes each named group and its
    /// offsets if it has no members. Repeated names are answered once.
    pub fn delete_groups(
        &mut self,
        now_ms: i64,
        _version: i16,
        request: &DeleteGroupsRequest,
        reply: ReplyId,
    ) -> Vec<(ReplyId, Reply)> {
        self.fire_due_timers(now_ms);
        let mut seen = BTreeSet::new();
        let mut results = Vec::new();
        for group_id in &request.groups_names {
            if !seen.insert(group_id.as_str()) {
                continue;
            }
            let error = match self.groups.get(group_id).map(|g| g.state) {
                None | Some(GroupState::Dead) => ErrorCode::GROUP_ID_NOT_FOUND,
                Some(GroupState::Empty) => {
                    // Pending members go with the group: their next JoinGroup
                    // finds no group and is told UNKNOWN_MEMBER_ID.
                    self.groups.remove(group_id);
                    self.events.push(GroupEvent::GroupDeleted { group_id: group_id.clone() });
                    ErrorCode::NONE
                }
                Some(_) => ErrorCode::NON_EMPTY_GROUP,
            };
            results.push(DeletableGroupResult {
                group_id: group_id.clone(),
                error_code: error.0,
                ..Default::default()
            });
        }
        self.replies.push((reply, Reply::DeleteGroups(DeleteGroupsResponse { results, ..Default::default() })));
        self.take_replies()
    }
}

fn describe(group: &Group) -> DescribedGroup {
    let stable = group.state == GroupState::Stable;
    let protocol = if stable { group.protocol.clone() } else { None };
    let members = group
        .members
        .iter()
        .map(|m| DescribedGroupMember {
            member_id: m.id.clone(),
            group_instance_id: m.instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            member_metadata: m.metadata(protocol.as_deref()),
            member_assignment: m.assignment.clone(),
            ..Default::default()
        })
        .collect();
    DescribedGroup {
        group_id: group.id.clone(),
        group_state: group.state.name().to_owned(),
        protocol_type: group.protocol_type.clone().unwrap_or_default(),
        protocol_data: protocol.unwrap_or_default(),
        members,
        ..Default::default()
    }
}
