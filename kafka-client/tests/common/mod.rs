//! What the client's integration tests share: clients connected to an
//! in-process testkit cluster through in-memory pipes, on a clock that
//! starts at a fixed time, so the tests run on tokio's paused clock.
#![allow(dead_code)]

use broker_testkit::Cluster;
use kafka_client::{Clock, Connector};

/// The wall time every test clock starts at.
pub const T0: i64 = 1_700_000_000_000;

/// Connections to `cluster`'s brokers through in-memory pipes.
pub fn in_memory(cluster: &Cluster) -> impl Connector + use<> {
    let cluster = cluster.clone();
    move |addr: String| {
        let cluster = cluster.clone();
        async move { cluster.connect_in_memory(&addr).await }
    }
}

/// A clock starting at [`T0`], following tokio's (paused) clock.
pub fn clock() -> Clock {
    Clock::starting_at(T0)
}
