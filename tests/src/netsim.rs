//! A simulated network between clients and brokers: every connection is
//! an in-memory pipe to a relay, which carries the bytes on to the broker
//! (over another in-memory pipe to an in-process testkit, so the whole run
//! can use tokio's paused clock, or over TCP to any broker, real Kafka
//! included), and a test can degrade one client's links to one broker.
//!
//! - [`Network::partition`]: silent, like lost packets rather than a reset.
//!   Bytes a partitioned link carries vanish in both directions, new
//!   connections across it are refused, and a broker closing its side is
//!   not seen either, so the client notices only through its own timeouts
//!   (its own close still reaches the broker, so the broker's connection
//!   count stays honest). A link cut once stays dead after the partition
//!   heals (what it lost cannot be replayed); the client reconnects.
//! - [`Network::stall`]: one direction stops delivering, the other keeps
//!   going, like a one-way loss that TCP keeps retransmitting into. Bytes
//!   are held, not lost: requests still reach the broker and are applied
//!   while their answers wait (or the other way round), and everything held
//!   arrives once the stall ends, if the connection is still open by then.
//!   A side that closes while its direction is held closes the other side
//!   at once (the relay gives up on what it held).
//! - [`Network::delay`]: every byte a client's links carry, either way,
//!   arrives a fixed time after it was sent, in order.
//! - [`Network::reset`]: the client's open links to a broker break at
//!   once, both ways, dropping what they held: the client may have read
//!   half an answer; the broker may have a request it will answer into a
//!   closed pipe.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use broker_testkit::Cluster;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Which way bytes travel on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// Requests: client to broker.
    ToBroker,
    /// Answers: broker to client.
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::ToBroker => 0,
            Direction::ToClient => 1,
        }
    }
}

/// What the relay of one connection obeys; changed by the [`Network`].
#[derive(Default)]
struct LinkControl {
    /// Partitioned: everything vanishes, for good.
    dead: AtomicBool,
    /// Reset: the relays stop and both sides see the link close.
    reset: AtomicBool,
    /// The client closed its side.
    client_gone: AtomicBool,
    /// Per direction: hold bytes until released.
    held: [AtomicBool; 2],
    /// Milliseconds each byte takes to cross, either way.
    delay_ms: AtomicU64,
    changed: Notify,
}

impl LinkControl {
    fn update(&self, f: impl FnOnce(&LinkControl)) {
        f(self);
        self.changed.notify_waiters();
    }
}

/// One client's connection to one broker.
struct Link {
    client: String,
    addr: String,
    control: Weak<LinkControl>,
}

#[derive(Default)]
struct State {
    /// (client, broker address) pairs that cannot talk.
    cut: BTreeSet<(String, String)>,
    /// (client, broker address, direction) held.
    stalled: BTreeSet<(String, String, Direction)>,
    /// Per client: how long its bytes take to cross.
    delays: BTreeMap<String, Duration>,
    links: Vec<Link>,
}

/// A byte stream to a broker.
trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> BrokerStream for T {}

type Dialed = Pin<Box<dyn Future<Output = io::Result<Box<dyn BrokerStream>>> + Send>>;

/// Opens the broker's end of a link.
type Dial = Arc<dyn Fn(String) -> Dialed + Send + Sync>;

/// The network; cheap to clone.
#[derive(Clone)]
pub struct Network {
    dial: Dial,
    state: Arc<Mutex<State>>,
}

/// Stands for every broker's address in [`Network::partition`],
/// [`Network::stall`], [`Network::reset`] and [`Network::open_links`]
/// (useful when the addresses a client dials come from a broker's
/// metadata).
pub const EVERY_BROKER: &str = "*";

/// A relay's buffer for one read from a pipe.
const CHUNK: usize = 16 * 1024;

impl Network {
    /// A network to `cluster`'s brokers, in memory, with nothing cut.
    pub fn new(cluster: &Cluster) -> Network {
        let cluster = cluster.clone();
        let dial: Dial = Arc::new(move |addr: String| {
            let cluster = cluster.clone();
            Box::pin(async move {
                let s = cluster.connect_in_memory(&addr).await?;
                Ok(Box::new(s) as Box<dyn BrokerStream>)
            })
        });
        Network { dial, state: Arc::default() }
    }

    /// A network whose links reach brokers over TCP (any broker, real
    /// Kafka included), with nothing cut. Waits are then real time.
    pub fn tcp() -> Network {
        let dial: Dial = Arc::new(|addr: String| {
            Box::pin(async move {
                let s = tokio::net::TcpStream::connect(&addr).await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s) as Box<dyn BrokerStream>)
            })
        });
        Network { dial, state: Arc::default() }
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

    async fn connect(&self, client: &str, addr: &str) -> io::Result<DuplexStream> {
        let cut = {
            let s = self.lock();
            [addr, EVERY_BROKER].iter().any(|a| s.cut.contains(&(client.to_string(), a.to_string())))
        };
        if cut {
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, format!("{addr}: partitioned from {client}")));
        }
        let broker_side = (self.dial)(addr.to_string()).await?;
        let (client_side, relay_side) = tokio::io::duplex(64 * 1024);
        let control = Arc::new(LinkControl::default());
        {
            let mut s = self.lock();
            // A partition made while dialing covers this link too.
            if [addr, EVERY_BROKER].iter().any(|a| s.cut.contains(&(client.to_string(), a.to_string()))) {
                control.dead.store(true, Ordering::SeqCst);
            }
            for d in [Direction::ToBroker, Direction::ToClient] {
                let held =
                    [addr, EVERY_BROKER].iter().any(|a| s.stalled.contains(&(client.to_string(), a.to_string(), d)));
                control.held[d.index()].store(held, Ordering::SeqCst);
            }
            let delay = s.delays.get(client).copied().unwrap_or_default();
            control.delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
            s.links.retain(|l| l.control.strong_count() > 0);
            s.links.push(Link {
                client: client.to_string(),
                addr: addr.to_string(),
                control: Arc::downgrade(&control),
            });
        }
        let (from_client, to_client) = tokio::io::split(relay_side);
        let (from_broker, to_broker) = tokio::io::split(broker_side);
        tokio::spawn(relay(from_client, to_broker, control.clone(), Direction::ToBroker));
        tokio::spawn(relay(from_broker, to_client, control, Direction::ToClient));
        Ok(client_side)
    }

    /// Applies `f` to the live links between `client` and the broker at
    /// `addr` (any broker when `addr` is None or [`EVERY_BROKER`]).
    fn each_link(&self, client: &str, addr: Option<&str>, f: impl Fn(&LinkControl)) {
        let addr = addr.filter(|a| *a != EVERY_BROKER);
        let s = self.lock();
        for l in &s.links {
            if l.client == client
                && addr.is_none_or(|a| l.addr == a)
                && let Some(c) = l.control.upgrade()
            {
                c.update(&f);
            }
        }
    }

    /// Cuts (`true`) or heals (`false`) the links between `client` and the
    /// broker at `addr`.
    pub fn partition(&self, client: &str, addr: &str, cut: bool) {
        let key = (client.to_string(), addr.to_string());
        if !cut {
            self.lock().cut.remove(&key);
            return;
        }
        // Recorded before the links are cut, under the lock `connect`
        // registers links under: no link escapes.
        self.lock().cut.insert(key);
        self.each_link(client, Some(addr), |c| c.dead.store(true, Ordering::SeqCst));
    }

    /// Holds (`true`) or releases (`false`) the bytes going `direction` on
    /// the links between `client` and the broker at `addr`, present and
    /// future.
    pub fn stall(&self, client: &str, addr: &str, direction: Direction, held: bool) {
        let key = (client.to_string(), addr.to_string(), direction);
        if held {
            self.lock().stalled.insert(key);
        } else {
            self.lock().stalled.remove(&key);
        }
        self.each_link(client, Some(addr), |c| c.held[direction.index()].store(held, Ordering::SeqCst));
    }

    /// Breaks the open links between `client` and the broker at `addr`
    /// (new connections are not affected).
    pub fn reset(&self, client: &str, addr: &str) {
        self.each_link(client, Some(addr), |c| c.reset.store(true, Ordering::SeqCst));
    }

    /// Makes every byte `client`'s links carry take `delay` to cross.
    pub fn delay(&self, client: &str, delay: Duration) {
        self.lock().delays.insert(client.to_string(), delay);
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.each_link(client, None, |c| c.delay_ms.store(ms, Ordering::SeqCst));
    }

    /// How many links between `client` and the broker at `addr` are open:
    /// a link counts until both its directions have closed.
    pub fn open_links(&self, client: &str, addr: &str) -> usize {
        self.lock()
            .links
            .iter()
            .filter(|l| l.client == client && (addr == EVERY_BROKER || l.addr == addr) && l.control.strong_count() > 0)
            .count()
    }

    /// Heals every partition and releases every stall (delays stay).
    pub fn heal(&self) {
        let links: Vec<Arc<LinkControl>> = {
            let mut s = self.lock();
            s.cut.clear();
            s.stalled.clear();
            s.links.iter().filter_map(|l| l.control.upgrade()).collect()
        };
        for c in links {
            c.update(|c| {
                for h in &c.held {
                    h.store(false, Ordering::SeqCst);
                }
            });
        }
    }
}

/// A time no test reaches (an absurd delay saturates to it).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// Carries one direction of a link: reads what `src` sends, keeps it for
/// the link's delay (or while the direction is held) and writes it to
/// `dst` in order. Ends when `src` closes and everything is delivered, or
/// at once when the link is held or dead then, when `dst` is gone, or when
/// the link is reset.
async fn relay(
    mut src: impl AsyncRead + Unpin,
    mut dst: impl AsyncWrite + Unpin,
    control: Arc<LinkControl>,
    direction: Direction,
) {
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; CHUNK];
    let mut open = true;
    let mut last_due = Instant::now();
    loop {
        // Registered before the state is read, so no change is missed.
        let mut changed = pin!(control.changed.notified());
        changed.as_mut().enable();
        if control.reset.load(Ordering::SeqCst) {
            // Dropping both halves closes both pipes.
            return;
        }
        let dead = control.dead.load(Ordering::SeqCst);
        if dead {
            queue.clear();
        }
        let held = dead || control.held[direction.index()].load(Ordering::SeqCst);
        if !open && (queue.is_empty() || held) {
            if dead && direction == Direction::ToClient && !control.client_gone.load(Ordering::SeqCst) {
                // A partition hides the broker's close too: the client finds
                // out by its own timeouts, then closes, which ends this.
                changed.await;
                continue;
            }
            let _ = dst.shutdown().await;
            return;
        }
        let due = if held { None } else { queue.front().map(|(t, _)| *t) };
        tokio::select! {
            biased;
            () = async {
                match due {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {
                // Looked at again: a stall, partition or reset made since the
                // top of the loop holds this chunk back.
                let blocked = control.reset.load(Ordering::SeqCst)
                    || control.dead.load(Ordering::SeqCst)
                    || control.held[direction.index()].load(Ordering::SeqCst);
                if !blocked
                    && let Some((_, chunk)) = queue.pop_front()
                    && dst.write_all(&chunk).await.is_err()
                {
                    return;
                }
            }
            r = src.read(&mut buf), if open => match r {
                Ok(0) | Err(_) => {
                    open = false;
                    if direction == Direction::ToBroker {
                        control.update(|c| c.client_gone.store(true, Ordering::SeqCst));
                    }
                }
                Ok(n) => {
                    if !control.dead.load(Ordering::SeqCst) {
                        let delay = Duration::from_millis(control.delay_ms.load(Ordering::SeqCst));
                        // In order: never before what was sent earlier.
                        let due = Instant::now().checked_add(delay).unwrap_or_else(far_future);
                        last_due = last_due.max(due);
                        queue.push_back((last_due, buf[..n].to_vec()));
                    }
                }
            },
            () = changed => {}
        }
    }
}
