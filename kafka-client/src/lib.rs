//! An async Kafka client on tokio: [`producer`], [`consumer`] and admin,
//! speaking the Apache Kafka 4.4 protocol (negotiated down to 4.0 brokers) through `kafka-protocol`.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod config;
pub mod error;
mod group_offsets;
mod hash;
pub(crate) mod metadata;
pub(crate) mod net;
pub mod producer;
mod topic_partition;

pub mod consumer;

mod time;

pub use error::{ConfigError, Error, Result, TransactionErrorKind};
pub use metadata::PartitionInfo;
pub use net::connector::{ByteStream, Connector};
pub use time::Clock;
pub use topic_partition::TopicPartition;

// The README's examples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
