//! ListGroups, DescribeGroups and DeleteGroups.

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_groups::{DeleteGroupsRequest, DeleteGroupsResponse};
use kafka_protocol::messages::describe_groups::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::messages::list_groups::{ListGroupsRequest, ListGroupsResponse};

use super::*;
use crate::group::GroupEvent;

fn list(h: &mut Harness, version: i16, states: &[&str], types: &[&str]) -> ListGroupsResponse {
    let request = ListGroupsRequest {
        states_filter: states.iter().map(|s| s.to_string()).collect(),
        types_filter: types.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    match h.call(version, |gc, now, id| gc.list_groups(now, version, &request, id)) {
        Reply::ListGroups(r) => r,
        other => panic!("{other:?}"),
    }
}

fn describe(h: &mut Harness, version: i16, groups: &[&str]) -> DescribeGroupsResponse {
    let request = DescribeGroupsRequest {
        groups: groups.iter().map(|s| s.to_string()).collect(),
        include_authorized_operations: version >= 3,
        ..Default::default()
    };
    match h.call(version, |gc, now, id| gc.describe_groups(now, version, &request, id)) {
        Reply::DescribeGroups(r) => r,
        other => panic!("{other:?}"),
    }
}

fn delete(h: &mut Harness, groups: &[&str]) -> DeleteGroupsResponse {
    let request =
        DeleteGroupsRequest { groups_names: groups.iter().map(|s| s.to_string()).collect(), ..Default::default() };
    match h.call(2, |gc, now, id| gc.delete_groups(now, 2, &request, id)) {
        Reply::DeleteGroups(r) => r,
        other => panic!("{other:?}"),
    }
}

/// "group-a" Stable with one member, "simple" Empty with offsets only.
fn two_groups(h: &mut Harness) -> String {
    let member = h.single_member_group(&["t"]);
    let mut commit = commit_req("", -1, &[0], 3);
    commit.group_id = "simple".into();
    h.commit(8, &commit, &topics());
    member
}

#[test]
fn list_groups_with_filters() {
    let mut h = Harness::new();
    two_groups(&mut h);
    let all = list(&mut h, 5, &[], &[]);
    let got: Vec<_> = all
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.protocol_type.as_str(), g.group_state.as_str(), g.group_type.as_str()))
        .collect();
    assert_eq!(got, vec![(GROUP, "consumer", "Stable", "classic"), ("simple", "", "Empty", "classic")]);

    let stable = list(&mut h, 4, &["  STABLE "], &[]);
    assert_eq!(stable.groups.len(), 1);
    assert_eq!(stable.groups[0].group_id, GROUP);
    assert!(list(&mut h, 4, &["PreparingRebalance"], &[]).groups.is_empty());
    assert_eq!(list(&mut h, 5, &[], &["Classic"]).groups.len(), 2);
    assert!(list(&mut h, 5, &[], &["consumer"]).groups.is_empty());
    assert_eq!(list(&mut h, 0, &[], &[]).groups.len(), 2);
}

#[test]
fn describe_groups_in_each_state() {
    let mut h = Harness::new();
    let member = two_groups(&mut h);

    let response = describe(&mut h, 5, &[GROUP, "simple", "nope"]);
    let stable = &response.groups[0];
    assert_eq!(stable.error_code, 0);
    assert_eq!(stable.group_state, "Stable");
    assert_eq!(stable.protocol_type, "consumer");
    assert_eq!(stable.protocol_data, "range");
    assert_eq!(stable.authorized_operations, 3400);
    let m = &stable.members[0];
    assert_eq!(m.member_id, member);
    assert_eq!(m.client_id, "solo");
    assert_eq!(m.client_host, "/10.0.0.1");
    assert_eq!(m.member_metadata, subscription(&["t"]));
    assert_eq!(m.member_assignment, assignment("t", &[0]));

    let simple = &response.groups[1];
    assert_eq!((simple.group_state.as_str(), simple.protocol_type.as_str()), ("Empty", ""));
    assert!(simple.members.is_empty());

    // Before v6 an unknown group is Dead without an error.
    let unknown = &response.groups[2];
    assert_eq!((unknown.error_code, unknown.group_state.as_str()), (0, "Dead"));
    assert_eq!(unknown.error_message, None);

    // KIP-1043: from v6 it is GROUP_ID_NOT_FOUND.
    let response = describe(&mut h, 6, &["nope"]);
    let unknown = &response.groups[0];
    assert_eq!(code(unknown.error_code), ErrorCode::GROUP_ID_NOT_FOUND);
    assert_eq!(unknown.group_state, "Dead");
    assert_eq!(unknown.error_message.as_deref(), Some("Group nope not found."));
    assert_eq!(unknown.authorized_operations, i32::MIN);

    // Outside Stable, Kafka shows neither the protocol nor the metadata.
    let (_, join) = h.join_new("c2", join_req("", &["range"], &["t"]));
    let response = describe(&mut h, 2, &[GROUP]);
    let rebalancing = &response.groups[0];
    assert_eq!(rebalancing.group_state, "PreparingRebalance");
    assert_eq!(rebalancing.protocol_data, "");
    assert_eq!(rebalancing.members.len(), 2);
    assert!(rebalancing.members.iter().all(|m| m.member_metadata.is_empty()));
    assert_eq!(rebalancing.members[0].member_assignment, assignment("t", &[0]));
    let j1 = h.send_join(9, &join_req(&member, &["range"], &["t"]), "solo");
    h.expect_join(j1);
    h.expect_join(join);
    let response = describe(&mut h, 0, &[GROUP]);
    assert_eq!(response.groups[0].group_state, "CompletingRebalance");
}

#[test]
fn delete_groups() {
    let mut h = Harness::new();
    let member = two_groups(&mut h);
    h.gc.take_events();

    let response = delete(&mut h, &[GROUP, "simple", "nope", "simple"]);
    let got: Vec<_> = response.results.iter().map(|r| (r.group_id.as_str(), code(r.error_code))).collect();
    assert_eq!(
        got,
        vec![(GROUP, ErrorCode::NON_EMPTY_GROUP), ("simple", ErrorCode::NONE), ("nope", ErrorCode::GROUP_ID_NOT_FOUND),]
    );
    assert!(h.gc.describe("simple").is_none());
    assert!(h.gc.committed("simple").is_empty());
    assert_eq!(h.gc.take_events(), vec![GroupEvent::GroupDeleted { group_id: "simple".into() }]);

    // Once its last member leaves, the group can go.
    h.leave_member(&member);
    let response = delete(&mut h, &[GROUP]);
    assert_eq!(code(response.results[0].error_code), ErrorCode::NONE);
    assert_eq!(h.gc.group_ids().count(), 0);
}

#[test]
fn deleting_a_group_forgets_its_pending_members() {
    let mut h = Harness::new();
    let first = h.send_join(9, &join_req("", &["range"], &["t"]), "c1");
    let pending = h.expect_join(first).member_id;
    assert_eq!(code(delete(&mut h, &[GROUP]).results[0].error_code), ErrorCode::NONE);
    let late = h.send_join(9, &join_req(&pending, &["range"], &["t"]), "c1");
    assert_eq!(code(h.expect_join(late).error_code), ErrorCode::UNKNOWN_MEMBER_ID);
}
