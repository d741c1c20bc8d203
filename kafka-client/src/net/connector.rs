//! How a client reaches a broker: TCP by default, or any byte stream a
//! [`Connector`] returns — an in-memory pipe to an in-process broker, so a
//! whole cluster and its clients run in one runtime on a paused clock.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a broker.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> ByteStream for S {}

/// Opens byte streams to brokers by address (`host:port`, as bootstrap
/// servers and metadata name them). Any `Fn(String) -> Future<Output =
/// io::Result<S>>` is one.
///
/// ```no_run
/// # async fn demo() -> kafka_client::Result<()> {
/// use kafka_client::producer::Producer;
///
/// // Every connection goes through a tokio TCP stream, as by default.
/// let producer = Producer::builder()
///     .bootstrap_servers("127.0.0.1:9092")
///     .connector(|addr: String| async move { tokio::net::TcpStream::connect(addr).await })
///     .build()?;
/// # let _ = producer; Ok(()) }
/// ```
pub trait Connector: Send + Sync + 'static {
    /// Opens a stream to `addr`.
    fn connect(&self, addr: &str) -> BoxFuture<'static, std::io::Result<Box<dyn ByteStream>>>;
}

impl<F, Fut, S> Connector for F
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<S>> + Send + 'static,
    S: ByteStream,
{
    fn connect(&self, addr: &str) -> BoxFuture<'static, std::io::Result<Box<dyn ByteStream>>> {
        let fut = self(addr.to_string());
        Box::pin(async move { fut.await.map(|s| Box::new(s) as Box<dyn ByteStream>) })
    }
}

/// A shared connector, as the client's settings hold it.
#[derive(Clone)]
pub(crate) struct ConnectorRef(pub(crate) Arc<dyn Connector>);

impl std::fmt::Debug for ConnectorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}
