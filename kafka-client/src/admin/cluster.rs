//! The cluster: its id, controller and brokers, from DescribeCluster (or
//! from Metadata when a broker predates DescribeCluster, as Java falls back).

use kafka_protocol::messages::{DescribeClusterRequest, MetadataRequest};
use kafka_protocol::{ApiKey, ErrorCode};

use super::Admin;
use super::routing::Attempt;
use crate::error::{Error, Result};
use crate::metadata::BrokerAddr;
use crate::net::Connection;

/// What [`Admin::describe_cluster`] found.
///
/// ```
/// let c = kafka_client::admin::ClusterDescription { cluster_id: Some("abc".into()), controller: None, brokers: vec![] };
/// assert!(c.brokers.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id (None from brokers too old to send one).
    pub cluster_id: Option<String>,
    /// The controller as the answering broker reports it. KRaft brokers
    /// name a live broker here, since the real controllers are not exposed
    /// to clients.
    pub controller: Option<BrokerAddr>,
    /// The live brokers, by id.
    pub brokers: Vec<BrokerAddr>,
}

impl Admin {
    /// Describes the cluster: id, controller and brokers.
    ///
    /// ```no_run
    /// # async fn demo(admin: &kafka_client::admin::Admin) -> kafka_client::Result<()> {
    /// let c = admin.describe_cluster().await?;
    /// for b in &c.brokers {
    ///     println!("broker {} at {}", b.id, b.addr());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        self.run_one(ApiKey::DescribeCluster, (), move |_| async move {
            let attempt = match self.any_broker().await {
                Ok(conn) => describe_on(&conn).await,
                Err(e) => Attempt::failed(e),
            };
            [((), attempt)].into()
        })
        .await
    }
}

async fn describe_on(conn: &Connection) -> Attempt<ClusterDescription> {
    let addr = |id: i32, host: String, port: i32, rack: Option<String>| BrokerAddr { id, host, port, rack };
    if conn.version_for(ApiKey::DescribeCluster).is_err() {
        let req = MetadataRequest { topics: Some(Vec::new()), allow_auto_topic_creation: false, ..Default::default() };
        return match conn.request(&req).await {
            Ok(resp) => {
                let mut brokers: Vec<BrokerAddr> =
                    resp.brokers.into_iter().map(|b| addr(b.node_id, b.host, b.port, b.rack)).collect();
                brokers.sort_by_key(|b| b.id);
                let controller = brokers.iter().find(|b| b.id == resp.controller_id).cloned();
                Attempt::Done(Ok(ClusterDescription { cluster_id: resp.cluster_id, controller, brokers }))
            }
            Err(e) => Attempt::failed(e),
        };
    }
    let req = DescribeClusterRequest::default();
    match conn.request(&req).await {
        Ok(resp) if resp.error_code != 0 => Attempt::failed(Error::broker(
            ErrorCode(resp.error_code),
            ApiKey::DescribeCluster,
            conn.broker(),
            "cluster",
            resp.error_message,
        )),
        Ok(resp) => {
            let mut brokers: Vec<BrokerAddr> =
                resp.brokers.into_iter().map(|b| addr(b.broker_id, b.host, b.port, b.rack)).collect();
            brokers.sort_by_key(|b| b.id);
            let controller = brokers.iter().find(|b| b.id == resp.controller_id).cloned();
            Attempt::Done(Ok(ClusterDescription { cluster_id: Some(resp.cluster_id), controller, brokers }))
        }
        Err(e) => Attempt::failed(e),
    }
}
