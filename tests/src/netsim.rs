//! A simulated network between clients and an in-process testkit: every
//! connection is an in-memory pipe (so the whole run can use tokio's paused
//! clock), and a test can partition one client from one broker.
//!
//! A partition is silent, like lost packets rather than a reset: bytes a
//! partitioned link carries vanish in both directions and new connections
//! across it are refused, so the client notices only through its own
//! timeouts. A link cut once stays dead after the partition heals (what it
//! lost cannot be replayed); the client reconnects.

use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use broker_testkit::Cluster;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// One client's connection to one broker.
struct Link {
    client: String,
    addr: String,
    dead: Weak<AtomicBool>,
}

#[derive(Default)]
struct State {
    /// (client, broker address) pairs that cannot talk.
    cut: BTreeSet<(String, String)>,
    links: Vec<Link>,
}

/// The network; cheap to clone.
#[derive(Clone)]
pub struct Network {
    cluster: Cluster,
    state: Arc<Mutex<State>>,
}

impl Network {
    /// A network to `cluster`'s brokers with nothing cut.
    pub fn new(cluster: &Cluster) -> Network {
        Network { cluster: cluster.clone(), state: Arc::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connections for the client named `client`.
    pub fn connector(&self, client: &str) -> impl kafka_client::Connector + use<> {
        let net = self.clone();
        let client = client.to_string();
        move |addr: String| {
            let (net, client) = (net.clone(), client.clone());
            async move { net.connect(&client, &addr).await }
        }
    }

    async fn connect(&self, client: &str, addr: &str) -> io::Result<SimStream> {
        if self.lock().cut.contains(&(client.to_string(), addr.to_string())) {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("{addr}: partitioned from {client}")));
        }
        let inner = self.cluster.connect_in_memory(addr).await?;
        let dead = Arc::new(AtomicBool::new(false));
        let mut s = self.lock();
        s.links.retain(|l| l.dead.strong_count() > 0);
        s.links.push(Link { client: client.to_string(), addr: addr.to_string(), dead: Arc::downgrade(&dead) });
        Ok(SimStream { inner, dead })
    }

    /// Cuts (`true`) or heals (`false`) the links between `client` and the
    /// broker at `addr`.
    pub fn partition(&self, client: &str, addr: &str, cut: bool) {
        let mut s = self.lock();
        let key = (client.to_string(), addr.to_string());
        if !cut {
            s.cut.remove(&key);
            return;
        }
        for l in &s.links {
            if l.client == client
                && l.addr == addr
                && let Some(d) = l.dead.upgrade()
            {
                d.store(true, Ordering::SeqCst);
            }
        }
        s.cut.insert(key);
    }

    /// Heals every partition.
    pub fn heal(&self) {
        self.lock().cut.clear();
    }
}

/// A link that turns into a black hole once cut.
pub struct SimStream {
    inner: DuplexStream,
    dead: Arc<AtomicBool>,
}

impl AsyncRead for SimStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.dead.load(Ordering::SeqCst) {
            // Nothing arrives any more; the reader's own timers wake it.
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.dead.load(Ordering::SeqCst) {
            // Sent into the void.
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.dead.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
