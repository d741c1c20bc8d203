//! Command-line tools with Apache Kafka's names, flags and output layouts
//! (Kafka 4.0), built on `kafka-client` and `kafka-protocol`:
//!
//! | binary                     | Kafka's tool                        |
//! |----------------------------|-------------------------------------|
//! | `kafka-console-producer`   | `ConsoleProducer`                   |
//! | `kafka-console-consumer`   | `ConsoleConsumer`                   |
//! | `kafka-producer-perf-test` | `ProducerPerformance`               |
//! | `kafka-consumer-perf-test` | `ConsumerPerformance`               |
//! | `kafka-dump-log`           | `DumpLogSegments`                   |
//! | `kafka-topics`             | `TopicCommand`                      |
//! | `kafka-consumer-groups`    | `ConsumerGroupCommand`              |
//! | `kafka-transactions`       | `TransactionsCommand`               |
//!
//! Next to them, runnable demos: `quickstart` (a cluster, a topic, a
//! producer and a consumer group in one run, no Kafka to install) and the
//! focused examples `producer`, `consumer` and `admin`.
//!
//! The binaries are thin; what they share lives here, a module per
//! responsibility.

pub mod cli;
pub mod dump_log;
pub mod embedded;
pub mod formatter;
pub mod groups;
pub mod javafmt;
pub mod jvm;
pub mod line_reader;
pub mod perf;
pub mod props;
pub mod signals;
pub mod topics;
pub mod transactions;
