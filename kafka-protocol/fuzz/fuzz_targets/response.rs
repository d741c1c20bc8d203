//! A client's view: any bytes as the body of any response at any version.
//! The first two bytes choose the message and version. Decoding must not
//! panic; what decodes must re-encode to a value that decodes the same.
#![no_main]

use bytes::Bytes;
use kafka_protocol::api::ApiKey;
use kafka_protocol::messages::ResponseBody;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let api = ApiKey::ALL[data[0] as usize % ApiKey::ALL.len()];
    let range = api.info().versions;
    let version = range.min + (data[1] as i16 % (range.max - range.min + 1));
    let mut body = Bytes::copy_from_slice(&data[2..]);
    if let Ok(resp) = ResponseBody::decode(api, version, &mut body) {
        let mut w = kafka_protocol::codec::Writer::new();
        resp.encode(&mut w, version).expect("a decoded response re-encodes");
        let mut again = w.into_bytes();
        let back = ResponseBody::decode(api, version, &mut again).expect("a re-encoded response decodes");
        assert_eq!(back, resp);
        assert!(again.is_empty());
    }
});
