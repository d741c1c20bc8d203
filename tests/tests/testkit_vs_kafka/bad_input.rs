//! Requests a broker cannot serve: an unknown API key, a version of an API
//! that does not exist, a body cut short, a body with trailing garbage. Each
//! is sent on its own connection; what is compared is whether the broker
//! answered or closed the connection, and that it serves the next
//! connection as before.

use kafka_protocol::codec::Writer;
use kafka_protocol::header::RequestHeader;

use super::common::metadata;
use crate::harness::Session;

/// A request header (v1: client id, not flexible) for `api_key` at
/// `version`, followed by `body`.
fn frame(api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    let header = RequestHeader {
        api_key,
        api_version: version,
        correlation_id: 9,
        client_id: Some("bad".into()),
        ..Default::default()
    };
    let mut w = Writer::new();
    header.encode(&mut w, 1).expect("header");
    let mut out = w.into_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

pub async fn refused_and_still_serving(s: &mut Session) {
    s.raw("an unknown API key (999)", &frame(999, 0, &[])).await;
    s.call("Metadata v12 after the unknown key", 12, &metadata(&[], false)).await;
    s.raw("Metadata v99 (a version that does not exist)", &frame(3, 99, &[0, 0, 0, 0])).await;
    // Metadata v1: an array of topic names; the count says 5, none follow.
    s.raw("Metadata v1 cut short", &frame(3, 1, &[0, 0, 0, 5])).await;
    // Metadata v1 with no topics (count 0), then bytes no field accounts for.
    s.raw("Metadata v1 with trailing bytes", &frame(3, 1, &[0, 0, 0, 0, 1, 2, 3])).await;
    // Produce v7 (not flexible) whose string length points past the end.
    s.raw("Produce v7 with a string longer than the frame", &frame(0, 7, &[0x7f, 0xff])).await;
    s.call("Metadata v12 after the bad requests", 12, &metadata(&[], false)).await;
}
