//! A Kafka cluster in one process, for integration tests of Kafka code — in
//! Rust through [`Cluster`], or from any client through the `kafka-testkit`
//! binary.
//!
//! It speaks the real protocol (Apache Kafka 4.4.0's versions), keeps record
//! batches byte for byte as clients wrote them, replicates between brokers,
//! elects leaders, runs classic consumer groups and transactions (a
//! transaction coordinator, markers, read_committed fetches), and lets a test break it on
//! purpose: stop, restart or isolate brokers, stall followers, move leaders,
//! and inject errors, delays and dropped connections per request.
//!
//! ```no_run
//! # async fn demo() -> Result<(), broker_testkit::TestkitError> {
//! use broker_testkit::Cluster;
//!
//! let cluster = Cluster::builder().brokers(3).start().await?;
//! cluster.create_topic("orders", 6, 3).await?;
//! let bootstrap = cluster.bootstrap_servers(); // "127.0.0.1:40123,..."
//! // ... run the code under test against `bootstrap` ...
//! cluster.stop_broker(1).await?;               // leadership moves
//! # let _ = bootstrap;
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! SASL is out of scope: its APIs are not advertised. With a data
//! directory, the transaction coordinator's state is written to
//! `__transaction_state` and survives a restart of the cluster.
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cluster;
pub mod config;
pub mod faults;
pub mod group;
pub mod handlers;
pub mod inspect;
pub mod log;
pub mod persist;
mod server;
pub mod storage;
mod testkit;
pub mod txn;

pub use faults::{Fault, FaultAction, FaultHandle};
pub use inspect::{BatchInfo, PartitionState, TransactionView};
pub use server::RequestStats;
pub use testkit::{Cluster, ClusterBuilder, TestkitError, TopicSpec};
