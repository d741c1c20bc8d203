//! Talking to brokers: [`connection`] (one pipelined connection) and
//! [`client`] (connections to every broker, bootstrap, metadata refresh).

pub mod client;
pub mod connection;
pub mod connector;
pub(crate) mod coordinator;

pub use client::{NetConfig, NetworkClient};
pub use connection::{Connection, ConnectionConfig, PendingResponse, Written};
