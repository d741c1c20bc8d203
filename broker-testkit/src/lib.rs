//! broker-testkit
