//! A broker's view: any bytes as a request frame (header and body, the size
//! prefix already removed). Parsing must not panic; what parses must
//! re-encode and parse to the same request.
#![no_main]

use bytes::Bytes;
use kafka_protocol::frame::{ParsedRequest, encode_request, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ParsedRequest::Request { header, body }) = parse_request(Bytes::copy_from_slice(data), |_, _| true) {
        let frame = encode_request(&header, &body).expect("a parsed request re-encodes").into_bytes();
        let again = parse_request(frame.slice(4..), |_, _| true).expect("a re-encoded request parses");
        assert_eq!(again, ParsedRequest::Request { header, body });
    }
});
