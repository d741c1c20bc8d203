//! A minimal wire client the integration tests share: typed requests over
//! one TCP connection, each answer awaited within [`DEADLINE`].

use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::frame::{FrameDecoder, encode_typed_request};
use kafka_protocol::header::{RequestHeader, ResponseHeader};
use kafka_protocol::messages::{Message, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::time::timeout;

/// Every wait of these tests ends by then.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Client {
    stream: TcpStream,
    buf: BytesMut,
    corr: i32,
}

impl Client {
    pub async fn connect(addr: impl ToSocketAddrs) -> Client {
        let stream = timeout(DEADLINE, TcpStream::connect(addr)).await.expect("connected in time").unwrap();
        Client { stream, buf: BytesMut::new(), corr: 0 }
    }

    pub async fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        timeout(DEADLINE, self.call_inner(req, version)).await.expect("the broker answers in time")
    }

    async fn call_inner<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.corr += 1;
        let header = RequestHeader {
            api_key: R::API_KEY as i16,
            api_version: version,
            correlation_id: self.corr,
            client_id: Some("testkit-wire-test".into()),
            ..Default::default()
        };
        for part in encode_typed_request(&header, req).unwrap().into_parts() {
            self.stream.write_all(&part).await.unwrap();
        }
        let dec = FrameDecoder::new(1 << 30);
        loop {
            if let Some(mut frame) = dec.decode(&mut self.buf).unwrap() {
                let h = ResponseHeader::decode(&mut frame, R::API_KEY.info().response_header_version(version)).unwrap();
                assert_eq!(h.correlation_id, self.corr);
                return R::Response::from_bytes(frame, version).unwrap();
            }
            let n = self.stream.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "connection closed");
        }
    }
}
