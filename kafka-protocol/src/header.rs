//! Request and response headers.
//!
//! | header | fields |
//! |---|---|
//! | request v0 | api key, api version, correlation id |
//! | request v1 | + client id (nullable string) |
//! | request v2 | + tagged fields; the client id stays a classic `i16`-length string |
//! | response v0 | correlation id |
//! | response v1 | + tagged fields |
//!
//! Which version a message uses follows from its API and version
//! ([`crate::ApiInfo::request_header_version`]); ApiVersions responses always
//! use response header v0.

use bytes::Bytes;

use crate::codec::*;
use crate::error::{DecodeError, EncodeError};

/// The header in front of every request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The API's numeric key.
    pub api_key: i16,
    /// The API version of the body.
    pub api_version: i16,
    /// Echoed back in the response so the client can match it.
    pub correlation_id: i32,
    /// The client's id (v1+), or None.
    pub client_id: Option<String>,
    /// Unknown tagged fields (v2).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl RequestHeader {
    /// Appends the header in `header_version` (0–2).
    pub fn encode(&self, w: &mut Writer, header_version: i16) -> Result<(), EncodeError> {
        put_i16(w, self.api_key);
        put_i16(w, self.api_version);
        put_i32(w, self.correlation_id);
        if header_version >= 1 {
            // Never compact, even in v2: brokers must read it before they
            // know whether the request is flexible.
            self.client_id.write_to(w, 0, false).map_err(|e| e.at("client_id"))?;
        }
        if header_version >= 2 {
            put_uvarint(w, self.unknown_tagged_fields.len() as u32);
            for f in &self.unknown_tagged_fields {
                f.write(w);
            }
        }
        Ok(())
    }

    /// Bytes the header takes in `header_version`.
    pub fn encoded_len(&self, header_version: i16) -> usize {
        let mut n = 8;
        if header_version >= 1 {
            n += self.client_id.wire_len(0, false);
        }
        if header_version >= 2 {
            n += unknown_tagged_len(&self.unknown_tagged_fields, self.unknown_tagged_fields.len());
        }
        n
    }

    /// Reads a header of `header_version` from the front of `buf`.
    pub fn decode(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        let api_key = get_i16(buf)?;
        let api_version = get_i16(buf)?;
        let correlation_id = get_i32(buf)?;
        let client_id = if header_version >= 1 {
            Option::<String>::read_from(buf, 0, false).map_err(|e| e.at("client_id"))?
        } else {
            None
        };
        let mut unknown_tagged_fields = Vec::new();
        if header_version >= 2 {
            read_tagged_fields(buf, |tag, data| {
                unknown_tagged_fields.push(RawTaggedField { tag, data });
                Ok(())
            })?;
        }
        Ok(RequestHeader { api_key, api_version, correlation_id, client_id, unknown_tagged_fields })
    }
}

/// The header in front of every response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeader {
    /// The request's correlation id.
    pub correlation_id: i32,
    /// Unknown tagged fields (v1).
    pub unknown_tagged_fields: Vec<RawTaggedField>,
}

impl ResponseHeader {
    /// Appends the header in `header_version` (0–1).
    pub fn encode(&self, w: &mut Writer, header_version: i16) {
        put_i32(w, self.correlation_id);
        if header_version >= 1 {
            put_uvarint(w, self.unknown_tagged_fields.len() as u32);
            for f in &self.unknown_tagged_fields {
                f.write(w);
            }
        }
    }

    /// Bytes the header takes in `header_version`.
    pub fn encoded_len(&self, header_version: i16) -> usize {
        if header_version >= 1 {
            4 + unknown_tagged_len(&self.unknown_tagged_fields, self.unknown_tagged_fields.len())
        } else {
            4
        }
    }

    /// Reads a header of `header_version` from the front of `buf`.
    pub fn decode(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        let correlation_id = get_i32(buf)?;
        let mut unknown_tagged_fields = Vec::new();
        if header_version >= 1 {
            read_tagged_fields(buf, |tag, data| {
                unknown_tagged_fields.push(RawTaggedField { tag, data });
                Ok(())
            })?;
        }
        Ok(ResponseHeader { correlation_id, unknown_tagged_fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_client_id_is_not_compact() {
        let h = RequestHeader {
            api_key: 18,
            api_version: 3,
            correlation_id: 1,
            client_id: Some("ab".into()),
            ..Default::default()
        };
        let mut w = Writer::new();
        h.encode(&mut w, 2).unwrap();
        assert_eq!(&w.into_bytes()[..], &[0, 18, 0, 3, 0, 0, 0, 1, 0, 2, b'a', b'b', 0]);
        let mut w = Writer::new();
        RequestHeader { client_id: None, ..h.clone() }.encode(&mut w, 1).unwrap();
        assert_eq!(&w.into_bytes()[..], &[0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff]);
        for v in 0..=2 {
            let mut w = Writer::new();
            h.encode(&mut w, v).unwrap();
            assert_eq!(w.len(), h.encoded_len(v));
            let mut b = w.into_bytes();
            let back = RequestHeader::decode(&mut b, v).unwrap();
            assert!(b.is_empty());
            assert_eq!(back.correlation_id, 1);
            assert_eq!(back.client_id.as_deref(), if v == 0 { None } else { Some("ab") });
        }
    }
}
