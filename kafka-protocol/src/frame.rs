//! Size-prefixed frames: every request and response travels as a big-endian
//! `i32` byte count followed by that many bytes (header, then body).
//!
//! [`FrameDecoder`] cuts frames out of a byte stream with a caller-given
//! maximum size; the `encode_*` functions build complete frames; and
//! [`parse_request`] reads a request frame the way a broker must, telling
//! apart the cases Kafka treats differently: a request it can serve, an
//! ApiVersions request at a version it does not know (answered, KIP-511),
//! and anything else it does not know (the connection is closed).

use bytes::{Buf, Bytes, BytesMut};

use crate::api::ApiKey;
use crate::codec::{Writer, put_i32};
use crate::error::{DecodeError, EncodeError};
use crate::header::{RequestHeader, ResponseHeader};
use crate::messages::{ApiVersionsResponse, Message, Request, RequestBody, ResponseBody};

/// Kafka's default `socket.request.max.bytes` (100 MiB).
pub const DEFAULT_MAX_FRAME: usize = 100 * 1024 * 1024;

/// A frame that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A negative size prefix.
    #[error("negative frame size {0}")]
    Negative(i32),
    /// A size above the caller's maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The size announced.
        size: usize,
        /// The maximum.
        max: usize,
    },
}

/// Cuts frames out of a byte stream.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max: usize,
}

impl FrameDecoder {
    /// A decoder refusing frames above `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder { max }
    }

    /// Takes one complete frame (without its prefix) off the front of `buf`,
    /// or None until enough bytes have arrived. Never allocates: the frame
    /// shares `buf`'s memory. Reserves room for a frame in progress so the
    /// caller's next read can fill it.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if size < 0 {
            return Err(FrameError::Negative(size));
        }
        let size = size as usize;
        if size > self.max {
            return Err(FrameError::TooLarge { size, max: self.max });
        }
        if buf.len() < 4 + size {
            buf.reserve(4 + size - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(size).freeze()))
    }
}

/// Builds a request frame (size prefix, header, body) for `header.api_version`.
pub fn encode_request(header: &RequestHeader, body: &RequestBody) -> Result<Writer, EncodeError> {
    let info = body.api_key().info();
    let hv = info.request_header_version(header.api_version);
    let len = header.encoded_len(hv) + body.encoded_len(header.api_version);
    let mut w = Writer::with_capacity(len.min(64 * 1024) + 4);
    put_i32(&mut w, len as i32);
    header.encode(&mut w, hv)?;
    body.encode(&mut w, header.api_version)?;
    debug_assert_eq!(w.len(), len + 4);
    Ok(w)
}

/// Builds a request frame for a typed request.
pub fn encode_typed_request<R: Request>(header: &RequestHeader, body: &R) -> Result<Writer, EncodeError> {
    let hv = R::API_KEY.info().request_header_version(header.api_version);
    let len = header.encoded_len(hv) + body.encoded_len(header.api_version);
    let mut w = Writer::with_capacity(len.min(64 * 1024) + 4);
    put_i32(&mut w, len as i32);
    header.encode(&mut w, hv)?;
    body.encode(&mut w, header.api_version)?;
    Ok(w)
}

/// Builds a response frame for a request of `api_key` at `version`.
pub fn encode_response(correlation_id: i32, version: i16, body: &ResponseBody) -> Result<Writer, EncodeError> {
    let hv = body.api_key().info().response_header_version(version);
    let header = ResponseHeader { correlation_id, unknown_tagged_fields: Vec::new() };
    let len = header.encoded_len(hv) + body.encoded_len(version);
    let mut w = Writer::with_capacity(len.min(64 * 1024) + 4);
    put_i32(&mut w, len as i32);
    header.encode(&mut w, hv);
    body.encode(&mut w, version)?;
    debug_assert_eq!(w.len(), len + 4);
    Ok(w)
}

/// Reads the response header of a frame for a request of `api_key` at
/// `version`, leaving the body in `frame`.
pub fn decode_response_header(frame: &mut Bytes, api_key: ApiKey, version: i16) -> Result<ResponseHeader, DecodeError> {
    ResponseHeader::decode(frame, api_key.info().response_header_version(version))
}

/// What a broker makes of a request frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedRequest {
    /// A request to serve.
    Request {
        /// The header.
        header: RequestHeader,
        /// The body.
        body: RequestBody,
    },
    /// ApiVersions at a version above what we speak. Per KIP-511 the broker
    /// answers with UNSUPPORTED_VERSION and its supported ranges in a v0
    /// body (see [`unsupported_api_versions_response`]) instead of closing.
    UnsupportedApiVersions {
        /// The header as far as it could be read.
        header: RequestHeader,
    },
}

/// A request frame a broker cannot serve; Kafka closes the connection.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// The frame is too short to hold a header.
    #[error("request frame too short for a header: {0}")]
    NoHeader(DecodeError),
    /// An API key this broker does not serve.
    #[error("unknown API key {api_key} (correlation id {correlation_id})")]
    UnknownApi {
        /// The key.
        api_key: i16,
        /// The request's correlation id.
        correlation_id: i32,
    },
    /// A version outside what this broker serves for the API.
    #[error("{api:?} version {version} is not supported (correlation id {correlation_id})")]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The request's correlation id.
        correlation_id: i32,
    },
    /// The header or body does not parse.
    #[error("malformed {api:?} v{version} request (correlation id {correlation_id}): {source}")]
    Malformed {
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The request's correlation id.
        correlation_id: i32,
        /// Why it does not parse.
        source: DecodeError,
    },
}

/// Parses a request frame (without its size prefix). `accepts(api, version)`
/// says whether this server serves that version: the version table by
/// default, narrower for a server that serves fewer APIs (the testkit, for
/// one). Bytes after the body are ignored, as Kafka does.
pub fn parse_request(mut frame: Bytes, accepts: impl Fn(ApiKey, i16) -> bool) -> Result<ParsedRequest, RequestError> {
    if frame.len() < 8 {
        return Err(RequestError::NoHeader(DecodeError::invalid(format!("{} bytes", frame.len()))));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let Some(api) = ApiKey::from_i16(key).filter(|&a| accepts(a, api_min(a))) else {
        return Err(RequestError::UnknownApi { api_key: key, correlation_id });
    };
    let info = api.info();
    if api == ApiKey::ApiVersions && (version > info.versions.max || !accepts(api, version)) {
        // A newer client than this server: its header is at least v2
        // (ApiVersions is flexible from v3), which is what we read. Kafka
        // answers any ApiVersions version it does not serve this way.
        let header = RequestHeader::decode(&mut frame, 2)
            .or_else(|_| RequestHeader::decode(&mut frame.clone(), 1))
            .map_err(|source| RequestError::Malformed { api, version, correlation_id, source })?;
        return Ok(ParsedRequest::UnsupportedApiVersions { header });
    }
    if !info.versions.contains(version) || !accepts(api, version) {
        return Err(RequestError::UnsupportedVersion { api, version, correlation_id });
    }
    let header = RequestHeader::decode(&mut frame, info.request_header_version(version))
        .map_err(|source| RequestError::Malformed { api, version, correlation_id, source })?;
    let body = RequestBody::decode(api, version, &mut frame).map_err(|source| RequestError::Malformed {
        api,
        version,
        correlation_id,
        source,
    })?;
    Ok(ParsedRequest::Request { header, body })
}

fn api_min(api: ApiKey) -> i16 {
    api.info().versions.min
}

/// The KIP-511 answer to an ApiVersions request at an unknown version:
/// UNSUPPORTED_VERSION and the supported ranges, to be encoded at v0.
pub fn unsupported_api_versions_response(supported: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    use crate::messages::api_versions::ApiVersion;
    ApiVersionsResponse {
        error_code: crate::ErrorCode::UNSUPPORTED_VERSION.0,
        api_keys: supported
            .iter()
            .map(|&(k, min, max)| ApiVersion {
                api_key: k as i16,
                min_version: min,
                max_version: max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Encodes a complete response frame whose body is `body` at `version`.
pub fn encode_typed_response<M: Message>(
    correlation_id: i32,
    header_version: i16,
    version: i16,
    body: &M,
) -> Result<Writer, EncodeError> {
    let header = ResponseHeader { correlation_id, unknown_tagged_fields: Vec::new() };
    let len = header.encoded_len(header_version) + body.encoded_len(version);
    let mut w = Writer::with_capacity(len.min(64 * 1024) + 4);
    put_i32(&mut w, len as i32);
    header.encode(&mut w, header_version);
    body.encode(&mut w, version)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{ApiVersionsRequest, MetadataRequest};

    fn frame_of(w: Writer) -> Bytes {
        let mut b = BytesMut::from(&w.into_bytes()[..]);
        FrameDecoder::new(DEFAULT_MAX_FRAME).decode(&mut b).unwrap().unwrap()
    }

    #[test]
    fn frames_are_cut_and_limited() {
        let d = FrameDecoder::new(10);
        let mut b = BytesMut::from(&[0u8, 0, 0, 3, 1, 2][..]);
        assert_eq!(d.decode(&mut b), Ok(None));
        b.extend_from_slice(&[3, 0, 0]);
        assert_eq!(d.decode(&mut b).unwrap().unwrap(), Bytes::from_static(&[1, 2, 3]));
        assert_eq!(&b[..], &[0, 0]);
        let mut big = BytesMut::from(&[0u8, 0, 0, 11][..]);
        assert_eq!(d.decode(&mut big), Err(FrameError::TooLarge { size: 11, max: 10 }));
        let mut neg = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert_eq!(d.decode(&mut neg), Err(FrameError::Negative(-1)));
        // A 2 GiB announcement does not allocate 2 GiB.
        let mut huge = BytesMut::from(&[0x7fu8, 0xff, 0xff, 0xff][..]);
        assert!(FrameDecoder::new(DEFAULT_MAX_FRAME).decode(&mut huge).is_err());
    }

    #[test]
    fn request_frames_round_trip() {
        for version in 0..=13 {
            let header = RequestHeader {
                api_key: 3,
                api_version: version,
                correlation_id: 9,
                client_id: Some("c".into()),
                ..Default::default()
            };
            let body = RequestBody::Metadata(MetadataRequest { topics: Some(vec![]), ..Default::default() });
            let frame = frame_of(encode_request(&header, &body).unwrap());
            match parse_request(frame, |_, _| true).unwrap() {
                ParsedRequest::Request { header: h, body: b } => {
                    assert_eq!(h, header);
                    assert_eq!(b, body);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unknown_apis_and_versions_are_told_apart() {
        let mut bytes = vec![0, 99, 0, 0, 0, 0, 0, 5, 0xff, 0xff];
        assert_eq!(
            parse_request(Bytes::from(bytes.clone()), |_, _| true),
            Err(RequestError::UnknownApi { api_key: 99, correlation_id: 5 })
        );
        // Metadata v14 does not exist in 4.4.0.
        bytes[1] = 3;
        bytes[3] = 14;
        assert!(matches!(
            parse_request(Bytes::from(bytes.clone()), |_, _| true),
            Err(RequestError::UnsupportedVersion { api: ApiKey::Metadata, version: 14, .. })
        ));
        // Produce v2 is listed by Kafka 4.0 but not served.
        bytes[1] = 0;
        bytes[3] = 2;
        assert!(matches!(
            parse_request(Bytes::from(bytes), |_, _| true),
            Err(RequestError::UnsupportedVersion { api: ApiKey::Produce, version: 2, .. })
        ));
        // An API the server chooses not to serve reads as unknown.
        let header = RequestHeader { api_key: 3, api_version: 12, correlation_id: 1, ..Default::default() };
        let frame = frame_of(encode_request(&header, &RequestBody::Metadata(MetadataRequest::default())).unwrap());
        assert!(matches!(
            parse_request(frame, |a, _| a != ApiKey::Metadata),
            Err(RequestError::UnknownApi { api_key: 3, .. })
        ));
    }

    #[test]
    fn api_versions_from_the_future_is_answered_kip_511() {
        // A client that speaks ApiVersions v9 sends a v2 header and a body we
        // cannot parse.
        let header = RequestHeader {
            api_key: 18,
            api_version: 9,
            correlation_id: 77,
            client_id: Some("future".into()),
            ..Default::default()
        };
        let mut w = Writer::new();
        header.encode(&mut w, 2).unwrap();
        crate::codec::put_slice(&mut w, &[0xde, 0xad, 0xbe, 0xef]);
        let parsed = parse_request(w.into_bytes(), |_, _| true).unwrap();
        let ParsedRequest::UnsupportedApiVersions { header: h } = parsed else { panic!("{parsed:?}") };
        assert_eq!((h.correlation_id, h.client_id.as_deref()), (77, Some("future")));
        let supported: Vec<_> =
            crate::api::API_TABLE.iter().map(|i| (i.key, i.advertised_min, i.versions.max)).collect();
        let resp = unsupported_api_versions_response(&supported);
        // Encoded at v0 with response header v0, as the client expects.
        let mut frame = frame_of(encode_response(77, 0, &ResponseBody::ApiVersions(resp.clone())).unwrap());
        assert_eq!(crate::header::ResponseHeader::decode(&mut frame, 0).unwrap().correlation_id, 77);
        let back = ApiVersionsResponse::from_bytes(frame, 0).unwrap();
        assert_eq!(back.error_code, 35);
        assert_eq!(back.api_keys.len(), crate::api::API_TABLE.len());
        assert!(back.api_keys.iter().any(|k| k.api_key == 18 && k.min_version == 0 && k.max_version == 5));
        // ApiVersions v3 itself parses normally.
        let header = RequestHeader { api_key: 18, api_version: 3, correlation_id: 1, ..Default::default() };
        let frame =
            frame_of(encode_request(&header, &RequestBody::ApiVersions(ApiVersionsRequest::default())).unwrap());
        assert!(matches!(parse_request(frame, |_, _| true), Ok(ParsedRequest::Request { .. })));
    }
}
