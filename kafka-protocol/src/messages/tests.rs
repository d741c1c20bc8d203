//! Properties every generated message must have, at every version.

use proptest::prelude::*;

use crate::testing::{Gen, all_messages};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// encode → decode gives the same value, re-encoding gives the same
    /// bytes, and `encoded_len` predicts the size exactly.
    #[test]
    fn every_message_round_trips_at_every_version(seed in any::<u64>()) {
        for case in all_messages() {
            for v in case.versions.min..=case.versions.max {
                if let Err(e) = case.round_trip(seed, v) {
                    prop_assert!(false, "{} v{v} seed {seed}: {e}", case.name);
                }
            }
        }
    }

    /// Truncated and corrupted encodings are rejected or parsed, never panic.
    #[test]
    fn hostile_bytes_never_panic(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        for case in all_messages() {
            for v in case.versions.min..=case.versions.max {
                let Ok(bytes) = case.encode_random(seed, v) else { continue };
                for cut in 0..bytes.len() {
                    case.decode_bytes(&bytes[..cut], v);
                }
                let mut bad = bytes.to_vec();
                for _ in 0..4 {
                    if bad.is_empty() { break; }
                    let i = g.below(bad.len() as u64) as usize;
                    bad[i] = g.next_u64() as u8;
                    case.decode_bytes(&bad, v);
                }
            }
        }
    }
}

#[test]
fn versions_outside_the_table_are_refused() {
    use crate::messages::{Message, MetadataRequest};
    let err = MetadataRequest::default().to_bytes(14).unwrap_err();
    assert!(err.to_string().contains("version 14 is not supported"), "{err}");
    let err = MetadataRequest::from_bytes(bytes::Bytes::new(), -1).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn a_field_the_version_lacks_is_an_error_unless_ignorable() {
    use crate::messages::metadata::MetadataRequestTopic;
    use crate::messages::{Message, MetadataRequest};
    // allow_auto_topic_creation (v4+) is not ignorable: false cannot be said in v3.
    let req = MetadataRequest { allow_auto_topic_creation: false, ..Default::default() };
    let err = req.to_bytes(3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MetadataRequest.allow_auto_topic_creation: the field is set but version 3 does not have it"
    );
    // Its default (true) is what v3 means anyway, so that encodes.
    MetadataRequest::default().to_bytes(3).unwrap();
    // topic_id (v10+) is ignorable: silently dropped in v9.
    let topic =
        MetadataRequestTopic { topic_id: crate::Uuid::from_u128(7), name: Some("t".into()), ..Default::default() };
    let req = MetadataRequest { topics: Some(vec![topic]), ..Default::default() };
    let back = MetadataRequest::from_bytes(req.to_bytes(9).unwrap(), 9).unwrap();
    assert_eq!(back.topics.unwrap()[0].topic_id, crate::Uuid::ZERO);
}

#[test]
fn null_only_where_the_version_allows_it() {
    use crate::messages::{Message, MetadataRequest};
    // topics is nullable from v1: null means "all topics".
    let all = MetadataRequest { topics: None, ..Default::default() };
    all.to_bytes(1).unwrap();
    let err = all.to_bytes(0).unwrap_err();
    assert!(err.to_string().contains("null is not allowed at version 0"), "{err}");
}

#[test]
fn a_forged_length_does_not_allocate() {
    use crate::messages::{Message, MetadataRequest};
    // v0: topics array length 0x7fffffff on a 6-byte body.
    let bytes = bytes::Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0x00, 0x01]);
    let err = MetadataRequest::from_bytes(bytes, 0).unwrap_err();
    assert!(err.to_string().contains("exceeds the 2 bytes left"), "{err}");
}

#[test]
fn every_api_has_a_request_and_a_response() {
    let names: Vec<&str> = all_messages().iter().map(|c| c.name).collect();
    let missing: Vec<String> = crate::ApiKey::ALL
        .iter()
        .flat_map(|k| [format!("{}Request", k.name()), format!("{}Response", k.name())])
        .filter(|n| !names.contains(&n.as_str()))
        .collect();
    assert!(missing.is_empty(), "no definition for {missing:?}");
    // Request and response ranges are the table's.
    for case in all_messages() {
        if let Some(key) = crate::ApiKey::ALL
            .iter()
            .find(|k| case.name == format!("{}Request", k.name()) || case.name == format!("{}Response", k.name()))
        {
            assert_eq!(case.versions, key.info().versions, "{}", case.name);
        }
    }
}
