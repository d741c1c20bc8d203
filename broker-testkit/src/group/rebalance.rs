//! The rebalance protocol of one group: JoinGroup, SyncGroup, Heartbeat and
//! LeaveGroup, and the timers that drive a rebalance forward. The logic
//! follows Kafka 4.0's `GroupMetadataManager` for classic groups step by
//! step, so that a client sees the same answers in the same situations.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group::JoinGroupRequest;
use kafka_protocol::messages::leave_group::{MemberIdentity, MemberResponse};
use kafka_protocol::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};

use super::ClientInfo;
use super::model::{
    Ctx, Group, GroupState, JoinTimer, Member, MemberProtocol, Parked, TimerKey, join_error, sync_error,
};

/// A JoinGroup as the group sees it.
pub(crate) struct JoinArgs<'a> {
    pub to: Parked,
    pub request: &'a JoinGroupRequest,
    pub client: &'a ClientInfo,
    /// A fresh random suffix, used if the request needs a new member id.
    pub fresh_suffix: &'a str,
}

impl Group {
    // ---- JoinGroup ------------------------------------------------------

    /// Handles a JoinGroup for this (existing or just created) group. The
    /// group-id and session-timeout checks have been done by the caller.
    pub fn join(&mut self, args: JoinArgs<'_>, cx: &mut Ctx<'_>) {
        let member_id = args.request.member_id.as_str();
        if !self.accept_joining_member(member_id, cx.config.max_size) {
            // Kafka drops the member too, so that a group shrunk below its
            // size by a config change sheds the members that rejoin last.
            self.remove_member(member_id, cx);
            cx.reply_join(args.to, join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, String::new()));
        } else if member_id.is_empty() {
            self.join_new_member(args, cx);
        } else {
            self.join_existing_member(args, cx);
        }
    }

    /// Kafka's `acceptJoiningMember`. While rebalancing, the count is of
    /// members that have rejoined, so the last to rejoin are the ones turned
    /// away when the group is over its size.
    fn accept_joining_member(&self, member_id: &str, max_size: usize) -> bool {
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.member(member_id).is_some_and(|m| m.awaiting_join.is_some())
                    || self.members.iter().filter(|m| m.awaiting_join.is_some()).count() < max_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.member(member_id).is_some() || self.members.len() < max_size
            }
        }
    }

    fn join_new_member(&mut self, args: JoinArgs<'_>, cx: &mut Ctx<'_>) {
        let request = args.request;
        if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            cx.reply_join(args.to, join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, String::new()));
            return;
        }
        let prefix = request.group_instance_id.as_deref().unwrap_or(&args.client.client_id);
        let new_id = format!("{prefix}-{}", args.fresh_suffix);
        match request.group_instance_id.as_deref() {
            Some(instance_id) => match self.static_member_id(instance_id) {
                Some(old_id) => {
                    let old_id = old_id.to_owned();
                    self.update_static_member_and_rebalance(&old_id, new_id, args, cx);
                }
                None => self.add_member_and_rebalance(new_id, args, cx),
            },
            // KIP-394: from v4 a dynamic member must come back with the id it
            // is given, so that a client whose JoinGroup times out does not
            // leave a ghost member behind.
            None if args.to.version >= 4 => {
                self.pending.insert(new_id.clone(), cx.deadline(request.session_timeout_ms));
                cx.reply_join(args.to, join_error(ErrorCode::MEMBER_ID_REQUIRED, new_id));
            }
            None => self.add_member_and_rebalance(new_id, args, cx),
        }
    }

    fn join_existing_member(&mut self, args: JoinArgs<'_>, cx: &mut Ctx<'_>) {
        let request = args.request;
        let member_id = request.member_id.as_str();
        if !self.supports_protocols(&request.protocol_type, &request.protocols) {
            cx.reply_join(args.to, join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, member_id.to_owned()));
            return;
        }
        if self.pending.contains_key(member_id) {
            if request.group_instance_id.is_some() {
                // Kafka throws IllegalStateException here (a pending id is
                // only ever handed to dynamic members), which reaches the
                // client as UNKNOWN_SERVER_ERROR.
                cx.reply_join(args.to, join_error(ErrorCode::UNKNOWN_SERVER_ERROR, member_id.to_owned()));
            } else {
                self.add_member_and_rebalance(member_id.to_owned(), args, cx);
            }
            return;
        }
        if let Err(error) = self.validate_member(member_id, request.group_instance_id.as_deref()) {
            cx.reply_join(args.to, join_error(error, member_id.to_owned()));
            return;
        }
        let Some(index) = self.member_index(member_id) else {
            cx.reply_join(args.to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, member_id.to_owned()));
            return;
        };
        let unchanged = self.members.get(index).is_some_and(|m| m.matches(&request.protocols));
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(index, args, cx),
            GroupState::CompletingRebalance if unchanged => {
                // The member most likely lost the JoinGroup response; give
                // it the current generation again.
                let members = if self.is_leader(member_id) { self.members_for_leader() } else { Vec::new() };
                cx.reply_join(args.to, self.join_response(member_id.to_owned(), members));
            }
            // The leader's rejoin always rebalances: that is how it asks for
            // a new assignment when topic metadata changes.
            GroupState::Stable if unchanged && !self.is_leader(member_id) => {
                cx.reply_join(args.to, self.join_response(member_id.to_owned(), Vec::new()));
            }
            GroupState::CompletingRebalance | GroupState::Stable => self.update_member_and_rebalance(index, args, cx),
            GroupState::Empty | GroupState::Dead => {
                cx.reply_join(args.to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, member_id.to_owned()));
            }
        }
    }

    fn add_member_and_rebalance(&mut self, member_id: String, args: JoinArgs<'_>, cx: &mut Ctx<'_>) {
        let request = args.request;
        let member = Member {
            id: member_id,
            instance_id: request.group_instance_id.clone(),
            client_id: args.client.client_id.clone(),
            client_host: args.client.client_host.clone(),
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            session_timeout_ms: request.session_timeout_ms,
            protocol_type: request.protocol_type.clone(),
            protocols: MemberProtocol::from_request(&request.protocols),
            assignment: Bytes::new(),
            awaiting_join: Some(args.to),
            awaiting_sync: None,
            is_new: true,
            // A parked new member cannot heartbeat, and a client that gave up
            // on its JoinGroup would otherwise leave a member that blocks the
            // rebalance; so its parked join times out on its own.
            heartbeat_deadline: Some(cx.deadline(cx.config.new_member_join_timeout_ms)),
        };
        if self.state == GroupState::PreparingRebalance && self.previous_state == GroupState::Empty {
            self.new_member_added = true;
        }
        self.add_member(member);
        self.maybe_prepare_rebalance_or_complete_join(cx);
    }

    fn update_member_and_rebalance(&mut self, index: usize, args: JoinArgs<'_>, cx: &mut Ctx<'_>) {
        self.update_member(index, args, cx);
        self.maybe_prepare_rebalance_or_complete_join(cx);
    }

    /// Takes the rejoining member's new protocols and timeouts and parks its
    /// JoinGroup.
    fn update_member(&mut self, index: usize, args: JoinArgs<'_>, cx: &mut Ctx<'_>) {
        let Some(member) = self.members.get_mut(index) else {
            cx.reply_join(args.to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, args.request.member_id.clone()));
            return;
        };
        member.protocols = MemberProtocol::from_request(&args.request.protocols);
        member.rebalance_timeout_ms = args.request.rebalance_timeout_ms;
        member.session_timeout_ms = args.request.session_timeout_ms;
        if let Some(previous) = member.awaiting_join.replace(args.to) {
            // Kafka silently drops the earlier future; its client has given
            // up on it. It still gets an answer here, one that only makes a
            // client rejoin.
            let response = join_error(ErrorCode::REBALANCE_IN_PROGRESS, member.id.clone());
            cx.reply_join(previous, response);
        }
    }

    /// Kafka's `updateStaticMemberThenRebalanceOrCompleteJoin`: a static
    /// member came back under a new member id.
    fn update_static_member_and_rebalance(
        &mut self,
        old_id: &str,
        new_id: String,
        args: JoinArgs<'_>,
        cx: &mut Ctx<'_>,
    ) {
        let current_leader = self.leader.clone();
        let Some(index) = self.replace_static_member(old_id, new_id.clone(), cx) else {
            cx.reply_join(args.to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, String::new()));
            return;
        };
        // The session restarts with the timeout the instance had before.
        self.reschedule_heartbeat(index, cx);
        let version = args.to.version;
        self.update_member(index, args, cx);

        match self.state {
            GroupState::Stable => {
                // Only a change of the group's protocol rebalances; like
                // Kafka, a new subscription under the same protocol does not.
                let next_protocol = self.select_protocol();
                if next_protocol.is_none() || next_protocol != self.protocol {
                    self.maybe_prepare_rebalance_or_complete_join(cx);
                    return;
                }
                // The protocol stays, so the instance can carry on with its
                // old assignment without disturbing the group.
                self.persist(cx);
                let response = if version >= 9 {
                    // KIP-814: the returning leader gets the members but is
                    // told not to compute a new assignment.
                    let is_leader = self.is_leader(&new_id);
                    let members = if is_leader { self.members_for_leader() } else { Vec::new() };
                    let mut response = self.join_response(new_id, members);
                    response.skip_assignment = is_leader;
                    response
                } else {
                    // Older clients are told the old id leads, so that even a
                    // returning leader acts as a follower and just syncs.
                    let mut response = self.join_response(new_id, Vec::new());
                    response.leader = current_leader.unwrap_or_default();
                    response
                };
                if let Some(to) = self.members.get_mut(index).and_then(|m| m.awaiting_join.take()) {
                    cx.reply_join(to, response);
                }
            }
            // The leader may already have been sent the old member id, and
            // its assignment would not reach the new one: start over.
            GroupState::CompletingRebalance => self.prepare_rebalance(cx),
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => self.maybe_complete_join_phase(cx),
        }
    }

    // ---- Rebalance machinery --------------------------------------------

    pub fn maybe_prepare_rebalance_or_complete_join(&mut self, cx: &mut Ctx<'_>) {
        if self.can_rebalance() {
            self.prepare_rebalance(cx);
        } else {
            self.maybe_complete_join_phase(cx);
        }
    }

    /// Moves the group to PreparingRebalance. Parked syncs are told to
    /// rejoin. From Empty, the join phase waits for the initial delay;
    /// otherwise for every member, up to the rebalance timeout.
    pub fn prepare_rebalance(&mut self, cx: &mut Ctx<'_>) {
        if self.state == GroupState::CompletingRebalance {
            for member in &mut self.members {
                member.assignment = Bytes::new();
            }
            self.propagate_assignment(ErrorCode::REBALANCE_IN_PROGRESS, cx);
        }
        self.pending_sync.clear();
        self.sync_timer = None;

        let initial = self.state == GroupState::Empty;
        if initial {
            let delay_ms = cx.config.initial_rebalance_delay_ms;
            let remaining_ms = self.rebalance_timeout_ms().saturating_sub(delay_ms).max(0);
            self.join_timer = Some((cx.deadline(delay_ms), JoinTimer::InitialDelay { delay_ms, remaining_ms }));
        }
        self.transition(GroupState::PreparingRebalance);
        if !initial {
            if self.has_all_members_joined() {
                self.complete_join_phase(cx);
            } else {
                self.join_timer = Some((cx.deadline(self.rebalance_timeout_ms()), JoinTimer::Rebalance));
            }
        }
    }

    /// Completes the join phase if everyone is in, except during the initial
    /// delay, which only its timer ends.
    pub fn maybe_complete_join_phase(&mut self, cx: &mut Ctx<'_>) {
        if self.state == GroupState::PreparingRebalance
            && self.previous_state != GroupState::Empty
            && self.has_all_members_joined()
        {
            self.complete_join_phase(cx);
        }
    }

    /// Kafka's `completeClassicGroupJoin`: dynamic members that did not
    /// rejoin are dropped (static ones keep their place until their session
    /// ends), the next generation starts, and every parked JoinGroup is
    /// answered; the leader gets the members' metadata.
    pub fn complete_join_phase(&mut self, cx: &mut Ctx<'_>) {
        self.join_timer = None;
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let missing: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.awaiting_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for member_id in &missing {
            self.remove_member(member_id, cx);
        }

        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Only static members that did not rejoin are left: wait another
            // rebalance timeout for them to come back or for their sessions
            // to end. Kafka would re-arm a zero timeout at once; a
            // millisecond keeps a tick loop from spinning on it.
            let wait = self.rebalance_timeout_ms().max(1);
            self.join_timer = Some((cx.deadline(wait), JoinTimer::Rebalance));
            return;
        }

        self.init_next_generation();
        if self.state == GroupState::Empty {
            self.persist(cx);
            return;
        }
        let leader_members = self.members_for_leader();
        for index in 0..self.members.len() {
            let Some(member) = self.members.get_mut(index) else { continue };
            member.is_new = false;
            let member_id = member.id.clone();
            let parked = member.awaiting_join.take();
            self.pending_sync.insert(member_id.clone());
            self.reschedule_heartbeat(index, cx);
            if let Some(to) = parked {
                let members = if self.is_leader(&member_id) { leader_members.clone() } else { Vec::new() };
                cx.reply_join(to, self.join_response(member_id, members));
            }
        }
        self.sync_timer = Some((cx.deadline(self.rebalance_timeout_ms()), self.generation));
    }

    fn init_next_generation(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.members.is_empty() {
            self.protocol = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(GroupState::Empty);
        } else {
            self.protocol = self.select_protocol();
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(GroupState::CompletingRebalance);
        }
        self.pending_sync.clear();
    }

    /// Answers every parked SyncGroup with `error`, or with the member's
    /// assignment, and restarts the sessions of the members answered.
    fn propagate_assignment(&mut self, error: ErrorCode, cx: &mut Ctx<'_>) {
        let (protocol_type, protocol_name) =
            if error == ErrorCode::NONE { (self.protocol_type.clone(), self.protocol.clone()) } else { (None, None) };
        for index in 0..self.members.len() {
            let Some(member) = self.members.get_mut(index) else { continue };
            let Some(to) = member.awaiting_sync.take() else { continue };
            let response = SyncGroupResponse {
                error_code: error.0,
                protocol_type: protocol_type.clone(),
                protocol_name: protocol_name.clone(),
                assignment: member.assignment.clone(),
                ..Default::default()
            };
            cx.reply_sync(to, response);
            // A member whose session ran out while it waited for the leader
            // would otherwise have no timer left.
            self.reschedule_heartbeat(index, cx);
        }
    }

    pub fn reschedule_heartbeat(&mut self, index: usize, cx: &Ctx<'_>) {
        if let Some(member) = self.members.get_mut(index) {
            member.heartbeat_deadline = Some(cx.deadline(member.session_timeout_ms));
        }
    }

    fn remove_pending_sync(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        let all_synced = self.pending_sync.is_empty();
        if all_synced || !matches!(self.state, GroupState::CompletingRebalance | GroupState::Stable) {
            self.sync_timer = None;
        }
    }

    // ---- SyncGroup ------------------------------------------------------

    /// Handles a SyncGroup for this group, which is not Empty.
    pub fn sync(&mut self, to: Parked, request: &SyncGroupRequest, cx: &mut Ctx<'_>) {
        let member_id = request.member_id.as_str();
        let error = if let Err(error) = self.validate_member(member_id, request.group_instance_id.as_deref()) {
            Some(error)
        } else if request.generation_id != self.generation {
            Some(ErrorCode::ILLEGAL_GENERATION)
        } else if inconsistent(&request.protocol_type, &self.protocol_type)
            || inconsistent(&request.protocol_name, &self.protocol)
        {
            Some(ErrorCode::INCONSISTENT_GROUP_PROTOCOL)
        } else {
            None
        };
        if let Some(error) = error {
            cx.reply_sync(to, sync_error(error));
            return;
        }
        let Some(index) = self.member_index(member_id) else {
            cx.reply_sync(to, sync_error(ErrorCode::UNKNOWN_MEMBER_ID));
            return;
        };

        match self.state {
            GroupState::PreparingRebalance => cx.reply_sync(to, sync_error(ErrorCode::REBALANCE_IN_PROGRESS)),
            GroupState::CompletingRebalance => {
                if let Some(member) = self.members.get_mut(index)
                    && let Some(previous) = member.awaiting_sync.replace(to)
                {
                    // As with JoinGroup, Kafka drops the superseded request.
                    cx.reply_sync(previous, sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
                }
                self.remove_pending_sync(member_id);
                if self.is_leader(member_id) {
                    // Later entries win, as in the HashMap Kafka builds; members
                    // the leader left out get an empty assignment.
                    let assignments: HashMap<&str, &Bytes> =
                        request.assignments.iter().map(|a| (a.member_id.as_str(), &a.assignment)).collect();
                    for member in &mut self.members {
                        member.assignment =
                            assignments.get(member.id.as_str()).map(|a| (*a).clone()).unwrap_or_default();
                    }
                    self.persist(cx);
                    self.propagate_assignment(ErrorCode::NONE, cx);
                    self.transition(GroupState::Stable);
                }
            }
            GroupState::Stable => {
                self.remove_pending_sync(member_id);
                let assignment = self.members.get(index).map(|m| m.assignment.clone()).unwrap_or_default();
                let response = SyncGroupResponse {
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    assignment,
                    ..Default::default()
                };
                cx.reply_sync(to, response);
            }
            GroupState::Empty | GroupState::Dead => cx.reply_sync(to, sync_error(ErrorCode::UNKNOWN_MEMBER_ID)),
        }
    }

    // ---- Heartbeat ------------------------------------------------------

    /// Handles a Heartbeat for this group; returns its error code.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation_id: i32,
        cx: &mut Ctx<'_>,
    ) -> ErrorCode {
        if let Err(error) = self.validate_member(member_id, instance_id) {
            return error;
        }
        if generation_id != self.generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        let Some(index) = self.member_index(member_id) else { return ErrorCode::UNKNOWN_MEMBER_ID };
        match self.state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => {
                self.reschedule_heartbeat(index, cx);
                ErrorCode::REBALANCE_IN_PROGRESS
            }
            // Consumers heartbeat from the moment JoinGroup returns, before
            // the group is Stable.
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.reschedule_heartbeat(index, cx);
                ErrorCode::NONE
            }
        }
    }

    // ---- LeaveGroup -----------------------------------------------------

    /// Removes the members a LeaveGroup names and rebalances if any left.
    pub fn leave(&mut self, leaving: &[MemberIdentity], cx: &mut Ctx<'_>) -> Vec<MemberResponse> {
        let mut responses = Vec::with_capacity(leaving.len());
        let mut anyone_left = false;
        for identity in leaving {
            let member_id = identity.member_id.as_str();
            let instance_id = identity.group_instance_id.as_deref();
            let result = if member_id.is_empty() {
                // An admin removes static members by instance id alone.
                match instance_id.and_then(|id| self.static_member_id(id)).map(str::to_owned) {
                    Some(static_id) => {
                        self.remove_leaving_member(&static_id, cx);
                        Ok(())
                    }
                    None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
                }
            } else if self.pending.contains_key(member_id) {
                self.pending.remove(member_id);
                Ok(())
            } else {
                self.validate_member(member_id, instance_id).map(|()| self.remove_leaving_member(member_id, cx))
            };
            anyone_left |= result.is_ok();
            responses.push(MemberResponse {
                member_id: identity.member_id.clone(),
                group_instance_id: identity.group_instance_id.clone(),
                error_code: result.err().unwrap_or(ErrorCode::NONE).0,
                ..Default::default()
            });
        }
        if anyone_left {
            match self.state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    self.maybe_prepare_rebalance_or_complete_join(cx);
                }
                GroupState::PreparingRebalance => self.maybe_complete_join_phase(cx),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        responses
    }

    /// A leaving member's parked JoinGroup is answered UNKNOWN_MEMBER_ID so
    /// that, if the client is in fact still running, it joins afresh.
    fn remove_leaving_member(&mut self, member_id: &str, cx: &mut Ctx<'_>) {
        if let Some(to) = self.members.iter_mut().find(|m| m.id == member_id).and_then(|m| m.awaiting_join.take()) {
            cx.reply_join(to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, String::new()));
        }
        self.remove_member(member_id, cx);
    }

    // ---- Timers ---------------------------------------------------------

    /// Fires one timer at `cx.now`, its deadline.
    pub fn fire(&mut self, timer: TimerKey, cx: &mut Ctx<'_>) {
        match timer {
            TimerKey::Join => self.fire_join_timer(cx),
            TimerKey::Sync => self.expire_pending_sync(cx),
            TimerKey::Heartbeat(member_id) => self.expire_member(&member_id, cx),
            TimerKey::Pending(member_id) => {
                self.pending.remove(&member_id);
                if self.state == GroupState::PreparingRebalance && self.has_all_members_joined() {
                    self.complete_join_phase(cx);
                }
            }
        }
    }

    fn fire_join_timer(&mut self, cx: &mut Ctx<'_>) {
        match self.join_timer.take() {
            Some((_, JoinTimer::InitialDelay { delay_ms, remaining_ms }))
                if self.new_member_added && remaining_ms != 0 =>
            {
                // Someone joined during the delay: wait once more, as long
                // as the rebalance timeout allows.
                self.new_member_added = false;
                let next_delay_ms = cx.config.initial_rebalance_delay_ms.min(remaining_ms);
                let next_remaining_ms = remaining_ms.saturating_sub(delay_ms).max(0);
                let timer = JoinTimer::InitialDelay { delay_ms: next_delay_ms, remaining_ms: next_remaining_ms };
                self.join_timer = Some((cx.deadline(next_delay_ms), timer));
            }
            Some(_) => self.complete_join_phase(cx),
            None => {}
        }
    }

    /// Kafka's `expirePendingSync`: members of the generation that never sent
    /// SyncGroup are dropped, even once the group is Stable.
    fn expire_pending_sync(&mut self, cx: &mut Ctx<'_>) {
        let Some((_, generation)) = self.sync_timer.take() else { return };
        if generation != self.generation
            || !matches!(self.state, GroupState::CompletingRebalance | GroupState::Stable)
            || self.pending_sync.is_empty()
        {
            return;
        }
        let unsynced: Vec<String> = std::mem::take(&mut self.pending_sync).into_iter().collect();
        for member_id in &unsynced {
            self.remove_member(member_id, cx);
        }
        self.prepare_rebalance(cx);
    }

    /// A member's session (or a new member's parked join) ran out.
    fn expire_member(&mut self, member_id: &str, cx: &mut Ctx<'_>) {
        let Some(member) = self.members.iter_mut().find(|m| m.id == member_id) else { return };
        if member.has_satisfied_heartbeat() {
            // Parked in a rebalance: the rebalance restarts the session when
            // it answers the member.
            member.heartbeat_deadline = None;
            return;
        }
        if let Some(to) = member.awaiting_join.take() {
            // The client retries JoinGroup on UNKNOWN_MEMBER_ID if it is in
            // fact still alive.
            cx.reply_join(to, join_error(ErrorCode::UNKNOWN_MEMBER_ID, String::new()));
        }
        self.remove_member(member_id, cx);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.maybe_prepare_rebalance_or_complete_join(cx),
            GroupState::PreparingRebalance if self.has_all_members_joined() => self.complete_join_phase(cx),
            _ => {}
        }
    }
}

/// Kafka's `isProtocolInconsistent`: only a value given on both sides can
/// disagree.
fn inconsistent(requested: &Option<String>, actual: &Option<String>) -> bool {
    matches!((requested, actual), (Some(requested), Some(actual)) if requested != actual)
}
