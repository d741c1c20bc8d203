//! Any bytes as a connection's stream: frames cut with a small maximum,
//! then each read as a request header of every header version and as a
//! response header. Must not panic or allocate beyond the input.
#![no_main]

use bytes::BytesMut;
use kafka_protocol::frame::FrameDecoder;
use kafka_protocol::header::{RequestHeader, ResponseHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoder = FrameDecoder::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        for v in 0..=2 {
            let _ = RequestHeader::decode(&mut frame.clone(), v);
        }
        for v in 0..=1 {
            let _ = ResponseHeader::decode(&mut frame.clone(), v);
        }
    }
});
