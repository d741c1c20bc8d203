//! Read-only views of a group, for tests and inspection.

use bytes::Bytes;

use super::model::{Group, GroupState, MemberProtocol};

/// A group as the coordinator holds it right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Group id.
    pub group_id: String,
    /// State.
    pub state: GroupState,
    /// Generation: 0 for a group that never completed a rebalance.
    pub generation: i32,
    /// Protocol type, e.g. `"consumer"`.
    pub protocol_type: Option<String>,
    /// The protocol chosen for the current generation.
    pub protocol: Option<String>,
    /// The leader's member id.
    pub leader: Option<String>,
    /// Members, in join order.
    pub members: Vec<MemberView>,
    /// Member ids handed out with MEMBER_ID_REQUIRED and not used yet.
    pub pending_member_ids: Vec<String>,
}

impl GroupView {
    /// The member with this id.
    pub fn member(&self, member_id: &str) -> Option<&MemberView> {
        self.members.iter().find(|m| m.member_id == member_id)
    }

    /// The member ids, in join order.
    pub fn member_ids(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.member_id.as_str()).collect()
    }
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Member id.
    pub member_id: String,
    /// Static membership instance id.
    pub group_instance_id: Option<String>,
    /// Client id of the member's first JoinGroup.
    pub client_id: String,
    /// Client host of the member's first JoinGroup.
    pub client_host: String,
    /// Session timeout, in milliseconds.
    pub session_timeout_ms: i32,
    /// Rebalance timeout, in milliseconds.
    pub rebalance_timeout_ms: i32,
    /// Protocols the member supports, most preferred first.
    pub protocols: Vec<MemberProtocol>,
    /// The assignment the leader gave the member; empty before the first.
    pub assignment: Bytes,
    /// A JoinGroup of the member is parked.
    pub awaiting_join: bool,
    /// A SyncGroup of the member is parked.
    pub awaiting_sync: bool,
    /// When the member's session ends unless it is heard from; `None` while
    /// it waits in a rebalance that will restart the session.
    pub session_deadline_ms: Option<i64>,
}

impl From<&Group> for GroupView {
    fn from(group: &Group) -> Self {
        GroupView {
            group_id: group.id.clone(),
            state: group.state,
            generation: group.generation,
            protocol_type: group.protocol_type.clone(),
            protocol: group.protocol.clone(),
            leader: group.leader.clone(),
            members: group
                .members
                .iter()
                .map(|m| MemberView {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: m.protocols.clone(),
                    assignment: m.assignment.clone(),
                    awaiting_join: m.awaiting_join.is_some(),
                    awaiting_sync: m.awaiting_sync.is_some(),
                    session_deadline_ms: m.heartbeat_deadline,
                })
                .collect(),
            pending_member_ids: group.pending.keys().cloned().collect(),
        }
    }
}
