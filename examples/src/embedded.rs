//! Where the focused examples (`producer`, `consumer`, `admin`) run: the
//! cluster `--bootstrap-server` names, or, without it, a 3-broker
//! broker-testkit cluster started inside the process, so that
//! `cargo run -p examples --bin producer` works with no Kafka installed.

use broker_testkit::Cluster;
use kafka_client::admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_protocol::ErrorCode;

use crate::cli::{self, Args, Failure};

/// The `--bootstrap-server` option of the focused examples.
pub const BOOTSTRAP_OPT: cli::Opt = cli::Opt::value(
    "bootstrap-server",
    "host:port",
    "The Kafka cluster to use. Without it, a 3-broker cluster is started in this process for the run.",
);

/// The cluster an example talks to.
pub struct Target {
    /// What clients bootstrap from.
    pub bootstrap: String,
    embedded: Option<Cluster>,
}

impl Target {
    /// The cluster `--bootstrap-server` names, else a fresh embedded one.
    pub async fn from_args(args: &Args) -> Result<Target, Failure> {
        if let Some(servers) = args.value("bootstrap-server") {
            cli::validate_bootstrap(servers)?;
            return Ok(Target { bootstrap: servers.to_string(), embedded: None });
        }
        let cluster = Cluster::builder()
            .brokers(3)
            .start()
            .await
            .map_err(|e| Failure::new(format!("cannot start the embedded cluster: {e}")))?;
        println!("(no --bootstrap-server: started an embedded 3-broker cluster at {})", cluster.bootstrap_servers());
        Ok(Target { bootstrap: cluster.bootstrap_servers(), embedded: Some(cluster) })
    }

    /// Whether the cluster lives in this process.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Creates `topic` unless it exists, replicated on up to three brokers
    /// (fewer when the cluster is smaller).
    pub async fn ensure_topic(&self, admin: &Admin, topic: &str, partitions: i32) -> Result<(), Failure> {
        let brokers = admin.describe_cluster().await?.brokers.len();
        let rf = i16::try_from(brokers.clamp(1, 3)).unwrap_or(1);
        let mut created =
            admin.create_topics([NewTopic::new(topic, partitions, rf)], CreateTopicsOptions::new()).await?;
        match created.remove(topic) {
            Some(Err(e)) if e.code() != Some(ErrorCode::TOPIC_ALREADY_EXISTS) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Stops the embedded cluster, if there is one.
    pub async fn shutdown(self) {
        if let Some(c) = self.embedded {
            c.shutdown().await;
        }
    }
}
