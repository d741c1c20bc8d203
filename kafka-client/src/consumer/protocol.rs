//! The consumer protocol: the bytes a member puts in JoinGroup protocol
//! metadata (its [`Subscription`]) and the bytes the leader puts in
//! SyncGroup for each member (its [`Assignment`]), as Java's
//! `ConsumerProtocol` writes and reads them.
//!
//! Both are a big-endian `i16` version followed by
//! `ConsumerProtocolSubscription` or `ConsumerProtocolAssignment` at that
//! version. Versions run 0 to 3 for both; subscriptions gained owned
//! partitions in v1, a generation in v2 and a rack in v3, while assignments
//! look the same at every version.
//!
//! Encoding writes version 3, as Java 4.0 does, with Java's normalisation:
//! topics sorted, owned partitions sorted and grouped by topic, a missing
//! generation written as -1.
//!
//! Decoding follows Kafka's forward-compatibility rule: future versions may
//! only append fields, so a version above 3 is read as version 3 and
//! whatever follows is ignored. Like Java, bytes after the message are
//! ignored at every version. Anything else malformed is a
//! [`ConsumerProtocolError`].

use std::fmt;

use bytes::{Buf, Bytes};
use kafka_protocol::codec::{Writer, put_i16};
use kafka_protocol::messages::consumer_protocol::TopicPartition;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription, Message};
use kafka_protocol::{DecodeError, EncodeError};

use crate::consumer::assignor::{Assignment, Subscription, java_cmp, sort_partitions};

/// The JoinGroup protocol type of consumer groups.
pub const PROTOCOL_TYPE: &str = "consumer";

/// The newest consumer protocol version this crate knows, and the one it
/// writes.
pub const LATEST_VERSION: i16 = ConsumerProtocolSubscription::VERSIONS.max;

const LOWEST_VERSION: i16 = ConsumerProtocolSubscription::VERSIONS.min;

// Java refuses to start if the two schemas ever disagree on their version
// range; so do we, at compile time.
const _: () = {
    assert!(ConsumerProtocolSubscription::VERSIONS.min == ConsumerProtocolAssignment::VERSIONS.min);
    assert!(ConsumerProtocolSubscription::VERSIONS.max == ConsumerProtocolAssignment::VERSIONS.max);
};

/// Which of the two consumer protocol payloads an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payload {
    /// A member's subscription (JoinGroup metadata).
    Subscription,
    /// A member's assignment (SyncGroup assignment).
    Assignment,
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Payload::Subscription => "subscription",
            Payload::Assignment => "assignment",
        })
    }
}

/// Why consumer protocol bytes could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerProtocolError {
    /// Fewer than the 2 bytes of the version prefix.
    #[error("consumer protocol {payload} of {len} bytes has no room for its 2-byte version")]
    MissingVersion {
        /// What was being read.
        payload: Payload,
        /// How many bytes there were.
        len: usize,
    },
    /// A negative version, which no Kafka release writes.
    #[error("unsupported consumer protocol {payload} version {version}")]
    UnsupportedVersion {
        /// What was being read or written.
        payload: Payload,
        /// The version.
        version: i16,
    },
    /// The bytes after the version do not hold the payload.
    #[error("malformed consumer protocol {payload} (read as version {version}): {source}")]
    Malformed {
        /// What was being read.
        payload: Payload,
        /// The version the bytes were read as.
        version: i16,
        /// What the decoder found.
        #[source]
        source: DecodeError,
    },
    /// A value does not fit the wire format (e.g. a topic name longer than
    /// 32767 bytes).
    #[error("cannot encode consumer protocol {payload}: {source}")]
    Encode {
        /// What was being written.
        payload: Payload,
        /// What the encoder refused.
        #[source]
        source: EncodeError,
    },
}

/// Encodes `subscription` as JoinGroup protocol metadata at
/// [`LATEST_VERSION`] (Java's `ConsumerProtocol.serializeSubscription`).
///
/// The group instance id is not part of these bytes; JoinGroup carries it.
///
/// # Errors
///
/// [`ConsumerProtocolError::Encode`] when a value does not fit its wire
/// field, e.g. a topic name longer than 32767 bytes.
pub fn encode_subscription(subscription: &Subscription) -> Result<Bytes, ConsumerProtocolError> {
    encode_subscription_version(subscription, LATEST_VERSION)
}

/// Encodes `subscription` at `version`, leaving out the fields the version
/// lacks. A version above [`LATEST_VERSION`] writes the latest version, as
/// Java does; a negative one is refused.
///
/// # Errors
///
/// [`ConsumerProtocolError::UnsupportedVersion`] for a negative version,
/// [`ConsumerProtocolError::Encode`] when a value does not fit its wire
/// field.
pub fn encode_subscription_version(subscription: &Subscription, version: i16) -> Result<Bytes, ConsumerProtocolError> {
    let version = writable_version(Payload::Subscription, version)?;
    encode_prefixed(&ConsumerProtocolSubscription::from(subscription), version)
        .map_err(|source| ConsumerProtocolError::Encode { payload: Payload::Subscription, source })
}

/// Decodes JoinGroup protocol metadata into a [`Subscription`] (Java's
/// `ConsumerProtocol.deserializeSubscription`).
///
/// An empty rack and a negative generation read as absent, as in Java; the
/// group instance id is left empty for the caller to fill in from the
/// JoinGroup member list.
///
/// # Errors
///
/// [`ConsumerProtocolError::MissingVersion`] for fewer than 2 bytes,
/// [`ConsumerProtocolError::UnsupportedVersion`] for a negative version and
/// [`ConsumerProtocolError::Malformed`] when the rest does not hold a
/// subscription of that version.
pub fn decode_subscription(bytes: Bytes) -> Result<Subscription, ConsumerProtocolError> {
    decode_prefixed::<ConsumerProtocolSubscription>(Payload::Subscription, bytes).map(Subscription::from)
}

/// Encodes `assignment` as SyncGroup assignment bytes at [`LATEST_VERSION`]
/// (Java's `ConsumerProtocol.serializeAssignment`).
///
/// # Errors
///
/// [`ConsumerProtocolError::Encode`] when a value does not fit its wire
/// field, e.g. a topic name longer than 32767 bytes.
pub fn encode_assignment(assignment: &Assignment) -> Result<Bytes, ConsumerProtocolError> {
    encode_assignment_version(assignment, LATEST_VERSION)
}

/// Encodes `assignment` at `version`; all versions share one layout. A
/// version above [`LATEST_VERSION`] writes the latest version; a negative one
/// is refused.
///
/// # Errors
///
/// [`ConsumerProtocolError::UnsupportedVersion`] for a negative version,
/// [`ConsumerProtocolError::Encode`] when a value does not fit its wire
/// field.
pub fn encode_assignment_version(assignment: &Assignment, version: i16) -> Result<Bytes, ConsumerProtocolError> {
    let version = writable_version(Payload::Assignment, version)?;
    encode_prefixed(&ConsumerProtocolAssignment::from(assignment), version)
        .map_err(|source| ConsumerProtocolError::Encode { payload: Payload::Assignment, source })
}

/// Decodes SyncGroup assignment bytes into an [`Assignment`] (Java's
/// `ConsumerProtocol.deserializeAssignment`), keeping the partitions in the
/// order of the bytes.
///
/// # Errors
///
/// [`ConsumerProtocolError::MissingVersion`] for fewer than 2 bytes,
/// [`ConsumerProtocolError::UnsupportedVersion`] for a negative version and
/// [`ConsumerProtocolError::Malformed`] when the rest does not hold an
/// assignment.
pub fn decode_assignment(bytes: Bytes) -> Result<Assignment, ConsumerProtocolError> {
    decode_prefixed::<ConsumerProtocolAssignment>(Payload::Assignment, bytes).map(Assignment::from)
}

/// Java's `checkSubscriptionVersion`/`checkAssignmentVersion` for writing.
fn writable_version(payload: Payload, version: i16) -> Result<i16, ConsumerProtocolError> {
    if version < LOWEST_VERSION {
        return Err(ConsumerProtocolError::UnsupportedVersion { payload, version });
    }
    Ok(version.min(LATEST_VERSION))
}

/// Java's `MessageUtil.toVersionPrefixedByteBuffer`.
fn encode_prefixed<M: Message>(message: &M, version: i16) -> Result<Bytes, EncodeError> {
    let mut w = Writer::with_capacity(2 + message.encoded_len(version));
    put_i16(&mut w, version);
    message.encode(&mut w, version)?;
    Ok(w.into_bytes())
}

fn decode_prefixed<M: Message>(payload: Payload, mut bytes: Bytes) -> Result<M, ConsumerProtocolError> {
    if bytes.remaining() < 2 {
        return Err(ConsumerProtocolError::MissingVersion { payload, len: bytes.remaining() });
    }
    let version = bytes.get_i16();
    if version < LOWEST_VERSION {
        return Err(ConsumerProtocolError::UnsupportedVersion { payload, version });
    }
    // Newer versions only append fields, so their prefix is the latest
    // version we know; the rest is left unread, as Java leaves it.
    let version = version.min(LATEST_VERSION);
    M::decode(&mut bytes, version).map_err(|source| ConsumerProtocolError::Malformed { payload, version, source })
}

/// Groups `(topic, partition)` pairs that are already sorted by topic into
/// one entry per run of equal topics.
fn group_sorted(partitions: &[(String, i32)]) -> Vec<TopicPartition> {
    let mut grouped: Vec<TopicPartition> = Vec::new();
    for (topic, partition) in partitions {
        match grouped.last_mut() {
            Some(last) if last.topic == *topic => last.partitions.push(*partition),
            _ => grouped.push(TopicPartition {
                topic: topic.clone(),
                partitions: vec![*partition],
                ..Default::default()
            }),
        }
    }
    grouped
}

fn flatten(grouped: Vec<TopicPartition>) -> Vec<(String, i32)> {
    let mut flat = Vec::with_capacity(grouped.iter().map(|tp| tp.partitions.len()).sum());
    for tp in grouped {
        flat.extend(tp.partitions.into_iter().map(|p| (tp.topic.clone(), p)));
    }
    flat
}

/// The wire form of a subscription, normalised as Java's
/// `serializeSubscription` does it: topics sorted, owned partitions sorted by
/// topic then partition and grouped by topic, a missing generation as -1.
impl From<&Subscription> for ConsumerProtocolSubscription {
    fn from(subscription: &Subscription) -> Self {
        let mut topics = subscription.topics.clone();
        topics.sort_by(|a, b| java_cmp(a, b));
        let mut owned = subscription.owned_partitions.clone();
        sort_partitions(&mut owned);
        ConsumerProtocolSubscription {
            topics,
            user_data: subscription.user_data.clone(),
            owned_partitions: group_sorted(&owned),
            generation_id: subscription.generation_id.filter(|g| *g >= 0).unwrap_or(-1),
            rack_id: subscription.rack_id.clone(),
            ..Default::default()
        }
    }
}

/// A subscription read from the wire, as Java's `deserializeSubscription`
/// builds it: owned partitions flattened in wire order, a negative
/// generation and an empty rack as absent, no group instance id.
impl From<ConsumerProtocolSubscription> for Subscription {
    fn from(wire: ConsumerProtocolSubscription) -> Self {
        Subscription {
            topics: wire.topics,
            user_data: wire.user_data,
            owned_partitions: flatten(wire.owned_partitions),
            group_instance_id: None,
            generation_id: (wire.generation_id >= 0).then_some(wire.generation_id),
            rack_id: wire.rack_id.filter(|rack| !rack.is_empty()),
        }
    }
}

/// The wire form of an assignment, grouped by topic in the order topics
/// first appear, as Java's `serializeAssignment` groups them.
impl From<&Assignment> for ConsumerProtocolAssignment {
    fn from(assignment: &Assignment) -> Self {
        let mut grouped: Vec<TopicPartition> = Vec::new();
        for (topic, partition) in &assignment.partitions {
            match grouped.iter_mut().find(|tp| tp.topic == *topic) {
                Some(tp) => tp.partitions.push(*partition),
                None => grouped.push(TopicPartition {
                    topic: topic.clone(),
                    partitions: vec![*partition],
                    ..Default::default()
                }),
            }
        }
        ConsumerProtocolAssignment {
            assigned_partitions: grouped,
            user_data: assignment.user_data.clone(),
            ..Default::default()
        }
    }
}

/// An assignment read from the wire, partitions flattened in wire order.
impl From<ConsumerProtocolAssignment> for Assignment {
    fn from(wire: ConsumerProtocolAssignment) -> Self {
        Assignment { partitions: flatten(wire.assigned_partitions), user_data: wire.user_data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::DecodeErrorKind;

    fn tps(list: &[(&str, i32)]) -> Vec<(String, i32)> {
        list.iter().map(|&(t, p)| (t.to_owned(), p)).collect()
    }

    /// Hand-written encoders for the wire primitives, independent of the
    /// protocol crate, to state byte layouts.
    fn i16b(v: i16) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    fn i32b(v: i32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    fn string(s: &str) -> Vec<u8> {
        [i16b(s.len() as i16), s.as_bytes().to_vec()].concat()
    }
    fn array<T>(items: &[T], f: impl Fn(&T) -> Vec<u8>) -> Vec<u8> {
        let mut out = i32b(items.len() as i32);
        for item in items {
            out.extend(f(item));
        }
        out
    }
    fn nullable_bytes(b: Option<&[u8]>) -> Vec<u8> {
        match b {
            None => i32b(-1),
            Some(b) => [i32b(b.len() as i32), b.to_vec()].concat(),
        }
    }
    fn topic_partitions(groups: &[(&str, &[i32])]) -> Vec<u8> {
        array(groups, |(topic, partitions)| [string(topic), array(partitions, |p| i32b(*p))].concat())
    }

    fn full_subscription() -> Subscription {
        Subscription {
            topics: vec!["foo".into(), "bar".into()],
            user_data: Some(Bytes::from_static(b"\x01\x02")),
            owned_partitions: tps(&[("foo", 1), ("bar", 2), ("foo", 0)]),
            group_instance_id: None,
            generation_id: Some(7),
            rack_id: Some("rack-a".into()),
        }
    }

    #[test]
    fn subscription_round_trip_at_latest_version() {
        let subscription = full_subscription();
        let decoded = decode_subscription(encode_subscription(&subscription).unwrap()).unwrap();
        // Topics and owned partitions come back in Java's normalised order.
        assert_eq!(decoded.topics, ["bar", "foo"]);
        assert_eq!(decoded.owned_partitions, tps(&[("bar", 2), ("foo", 0), ("foo", 1)]));
        assert_eq!(decoded.user_data, subscription.user_data);
        assert_eq!(decoded.generation_id, Some(7));
        assert_eq!(decoded.rack_id.as_deref(), Some("rack-a"));
        assert_eq!(decoded.group_instance_id, None);
    }

    #[test]
    fn subscription_fields_follow_the_version() {
        let subscription = full_subscription();
        let at = |v| decode_subscription(encode_subscription_version(&subscription, v).unwrap()).unwrap();
        let v0 = at(0);
        assert_eq!(v0.topics, ["bar", "foo"]);
        assert_eq!(v0.user_data, subscription.user_data);
        assert!(v0.owned_partitions.is_empty());
        assert_eq!((v0.generation_id, v0.rack_id), (None, None));
        let v1 = at(1);
        assert_eq!(v1.owned_partitions, tps(&[("bar", 2), ("foo", 0), ("foo", 1)]));
        assert_eq!((v1.generation_id, v1.rack_id), (None, None));
        let v2 = at(2);
        assert_eq!((v2.generation_id, v2.rack_id), (Some(7), None));
        let v3 = at(3);
        assert_eq!((v3.generation_id, v3.rack_id.as_deref()), (Some(7), Some("rack-a")));
    }

    #[test]
    fn subscription_v0_byte_layout() {
        let bytes = encode_subscription_version(&Subscription::new(["foo", "bar"]), 0).unwrap();
        let expected = [i16b(0), array(&["bar", "foo"], |t| string(t)), nullable_bytes(None)].concat();
        assert_eq!(&bytes[..], &expected[..]);
        assert_eq!(
            &bytes[..],
            &[0, 0, 0, 0, 0, 2, 0, 3, b'b', b'a', b'r', 0, 3, b'f', b'o', b'o', 0xff, 0xff, 0xff, 0xff][..]
        );
    }

    #[test]
    fn subscription_v1_byte_layout() {
        let subscription = Subscription {
            user_data: Some(Bytes::from_static(&[9, 8])),
            owned_partitions: tps(&[("foo", 3), ("bar", 2), ("foo", 1)]),
            ..Subscription::new(["foo"])
        };
        let bytes = encode_subscription_version(&subscription, 1).unwrap();
        let expected = [
            i16b(1),
            array(&["foo"], |t| string(t)),
            nullable_bytes(Some(&[9, 8])),
            topic_partitions(&[("bar", &[2]), ("foo", &[1, 3])]),
        ]
        .concat();
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn subscription_v3_byte_layout() {
        let bytes = encode_subscription(&full_subscription()).unwrap();
        let expected = [
            i16b(3),
            array(&["bar", "foo"], |t| string(t)),
            nullable_bytes(Some(&[1, 2])),
            topic_partitions(&[("bar", &[2]), ("foo", &[0, 1])]),
            i32b(7),
            string("rack-a"),
        ]
        .concat();
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn absent_generation_and_rack() {
        let bytes = encode_subscription(&Subscription::new(["t"])).unwrap();
        let tail = [i32b(-1), i16b(-1)].concat();
        assert!(bytes.ends_with(&tail));
        // A negative generation is never written as itself.
        let negative = Subscription { generation_id: Some(-5), ..Subscription::new(["t"]) };
        assert!(encode_subscription(&negative).unwrap().ends_with(&tail));
        // An empty rack is written, and read back as absent, as in Java.
        let empty_rack = Subscription { rack_id: Some(String::new()), ..Subscription::new(["t"]) };
        let bytes = encode_subscription(&empty_rack).unwrap();
        assert!(bytes.ends_with(&[i32b(-1), i16b(0)].concat()));
        assert_eq!(decode_subscription(bytes).unwrap().rack_id, None);
    }

    #[test]
    fn user_data_null_and_empty_are_distinct() {
        for user_data in [None, Some(Bytes::new()), Some(Bytes::from_static(b"x"))] {
            let subscription = Subscription { user_data: user_data.clone(), ..Subscription::new(["t"]) };
            assert_eq!(decode_subscription(encode_subscription(&subscription).unwrap()).unwrap().user_data, user_data);
            let assignment = Assignment { partitions: vec![], user_data: user_data.clone() };
            assert_eq!(decode_assignment(encode_assignment(&assignment).unwrap()).unwrap().user_data, user_data);
        }
    }

    #[test]
    fn assignment_round_trip_at_every_version() {
        let assignment = Assignment {
            partitions: tps(&[("foo", 1), ("bar", 2), ("foo", 0)]),
            user_data: Some(Bytes::from_static(b"data")),
        };
        for version in 0..=LATEST_VERSION {
            let bytes = encode_assignment_version(&assignment, version).unwrap();
            assert_eq!(&bytes[..2], &i16b(version)[..]);
            let decoded = decode_assignment(bytes).unwrap();
            // Grouped by first appearance, then flattened: foo's partitions together.
            assert_eq!(decoded.partitions, tps(&[("foo", 1), ("foo", 0), ("bar", 2)]));
            assert_eq!(decoded.user_data, assignment.user_data);
        }
    }

    #[test]
    fn assignment_byte_layout() {
        let assignment = Assignment { partitions: tps(&[("foo", 1), ("bar", 2), ("foo", 0)]), user_data: None };
        let bytes = encode_assignment_version(&assignment, 0).unwrap();
        let expected = [i16b(0), topic_partitions(&[("foo", &[1, 0]), ("bar", &[2])]), nullable_bytes(None)].concat();
        assert_eq!(&bytes[..], &expected[..]);
        // Every version has the same body.
        let v3 = encode_assignment(&assignment).unwrap();
        assert_eq!(&v3[2..], &bytes[2..]);
    }

    #[test]
    fn future_subscription_version_reads_as_latest() {
        // A v9 written by a future client: the v3 fields, then fields we do
        // not know (a string and an int32).
        let mut bytes = [
            i16b(9),
            array(&["topic"], |t| string(t)),
            nullable_bytes(Some(&[])),
            topic_partitions(&[("bar", &[2])]),
            i32b(12),
            string("rack-z"),
        ]
        .concat();
        bytes.extend(string("a future field"));
        bytes.extend(i32b(42));
        let decoded = decode_subscription(Bytes::from(bytes)).unwrap();
        assert_eq!(decoded.topics, ["topic"]);
        assert_eq!(decoded.user_data, Some(Bytes::new()));
        assert_eq!(decoded.owned_partitions, tps(&[("bar", 2)]));
        assert_eq!(decoded.generation_id, Some(12));
        assert_eq!(decoded.rack_id.as_deref(), Some("rack-z"));
    }

    #[test]
    fn future_assignment_version_reads_as_latest() {
        // Java's deserializeFutureAssignmentVersion: a future version with an
        // error code and a string after the known fields.
        let mut bytes = [i16b(100), topic_partitions(&[("foo", &[1])]), nullable_bytes(Some(&[]))].concat();
        bytes.extend(i16b(27));
        bytes.extend(string("bar"));
        let decoded = decode_assignment(Bytes::from(bytes)).unwrap();
        assert_eq!(decoded.partitions, tps(&[("foo", 1)]));
        assert_eq!(decoded.user_data, Some(Bytes::new()));
    }

    #[test]
    fn future_version_must_still_hold_the_known_fields() {
        // v9 claims to extend v3 but stops after v0's fields.
        let bytes = [i16b(9), array(&["t"], |t| string(t)), nullable_bytes(None)].concat();
        let err = decode_subscription(Bytes::from(bytes)).unwrap_err();
        assert!(matches!(err, ConsumerProtocolError::Malformed { payload: Payload::Subscription, version: 3, .. }));
    }

    #[test]
    fn trailing_bytes_are_ignored_at_known_versions_too() {
        // Java reads the struct and never looks at what is left.
        let mut bytes = encode_subscription_version(&Subscription::new(["t"]), 0).unwrap().to_vec();
        bytes.extend([1, 2, 3]);
        assert_eq!(decode_subscription(Bytes::from(bytes)).unwrap().topics, ["t"]);
    }

    #[test]
    fn old_subscription_read_by_version() {
        // Java's deserializeOldSubscriptionVersion: a v0 subscription has no
        // owned partitions, generation or rack.
        let bytes = [i16b(0), array(&["foo", "bar"], |t| string(t)), nullable_bytes(None)].concat();
        let decoded = decode_subscription(Bytes::from(bytes)).unwrap();
        assert_eq!(decoded, Subscription::new(["foo", "bar"]));
    }

    #[test]
    fn encoding_above_latest_writes_latest() {
        let bytes = encode_subscription_version(&Subscription::new(["t"]), 7).unwrap();
        assert_eq!(bytes, encode_subscription(&Subscription::new(["t"])).unwrap());
        let bytes = encode_assignment_version(&Assignment::default(), i16::MAX).unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
    }

    #[test]
    fn negative_versions_are_refused() {
        let err = encode_subscription_version(&Subscription::default(), -1).unwrap_err();
        assert_eq!(err, ConsumerProtocolError::UnsupportedVersion { payload: Payload::Subscription, version: -1 });
        let err = encode_assignment_version(&Assignment::default(), -3).unwrap_err();
        assert_eq!(err, ConsumerProtocolError::UnsupportedVersion { payload: Payload::Assignment, version: -3 });
        let bytes = [i16b(-2), array(&["t"], |t| string(t)), nullable_bytes(None)].concat();
        let err = decode_subscription(Bytes::from(bytes)).unwrap_err();
        assert_eq!(err, ConsumerProtocolError::UnsupportedVersion { payload: Payload::Subscription, version: -2 });
    }

    #[test]
    fn missing_version_is_an_error() {
        for len in 0..2 {
            let err = decode_subscription(Bytes::from(vec![0; len])).unwrap_err();
            assert_eq!(err, ConsumerProtocolError::MissingVersion { payload: Payload::Subscription, len });
            let err = decode_assignment(Bytes::from(vec![0; len])).unwrap_err();
            assert_eq!(err, ConsumerProtocolError::MissingVersion { payload: Payload::Assignment, len });
        }
    }

    #[test]
    fn truncated_payloads_are_malformed() {
        let subscription = encode_subscription(&full_subscription()).unwrap();
        for len in 2..subscription.len() {
            let err = decode_subscription(subscription.slice(..len)).unwrap_err();
            assert!(matches!(err, ConsumerProtocolError::Malformed { payload: Payload::Subscription, version: 3, .. }));
        }
        let assignment =
            encode_assignment(&Assignment { partitions: tps(&[("t", 1)]), user_data: Some(Bytes::from_static(b"u")) })
                .unwrap();
        for len in 2..assignment.len() {
            let err = decode_assignment(assignment.slice(..len)).unwrap_err();
            assert!(matches!(err, ConsumerProtocolError::Malformed { payload: Payload::Assignment, .. }));
        }
    }

    #[test]
    fn null_topic_array_is_malformed() {
        let bytes = [i16b(0), i32b(-1), nullable_bytes(None)].concat();
        let err = decode_subscription(Bytes::from(bytes)).unwrap_err();
        let ConsumerProtocolError::Malformed { source, .. } = &err else { panic!("{err:?}") };
        assert_eq!(source.kind(), &DecodeErrorKind::UnexpectedNull);
        assert!(err.to_string().starts_with("malformed consumer protocol subscription (read as version 0): "));
    }

    #[test]
    fn huge_lengths_do_not_allocate_or_panic() {
        let bytes = [i16b(1), i32b(i32::MAX), string("t")].concat();
        assert!(decode_subscription(Bytes::from(bytes)).is_err());
        let bytes = [i16b(0), i32b(1), i16b(i16::MAX), b"t".to_vec()].concat();
        assert!(decode_assignment(Bytes::from(bytes)).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(17);
        let seed = encode_subscription(&full_subscription()).unwrap().to_vec();
        for _ in 0..5000 {
            let mut bytes = seed.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..bytes.len());
                bytes[i] = rng.u8(..);
            }
            bytes.truncate(rng.usize(..=bytes.len()));
            let bytes = Bytes::from(bytes);
            let _ = decode_subscription(bytes.clone());
            let _ = decode_assignment(bytes);
        }
    }

    #[test]
    fn oversized_topic_names_fail_to_encode() {
        let long = "x".repeat(usize::from(u16::MAX));
        let err = encode_subscription(&Subscription::new([long.clone()])).unwrap_err();
        assert!(matches!(err, ConsumerProtocolError::Encode { payload: Payload::Subscription, .. }));
        let err = encode_assignment(&Assignment { partitions: vec![(long, 0)], user_data: None }).unwrap_err();
        assert!(matches!(err, ConsumerProtocolError::Encode { payload: Payload::Assignment, .. }));
    }

    #[test]
    fn assignor_output_round_trips() {
        use crate::consumer::assignor::{Assignor, ClusterTopics, RangeAssignor};
        use std::collections::BTreeMap;

        let metadata = ClusterTopics::from([("a".to_owned(), 3), ("b".to_owned(), 2)]);
        let members = BTreeMap::from([
            ("m1".to_owned(), Subscription::new(["a", "b"])),
            ("m2".to_owned(), Subscription::new(["a"])),
        ]);
        for (member, assignment) in RangeAssignor.assign(&metadata, &members) {
            let decoded = decode_assignment(encode_assignment(&assignment).unwrap()).unwrap();
            assert_eq!(decoded, assignment, "{member}");
        }
    }
}
