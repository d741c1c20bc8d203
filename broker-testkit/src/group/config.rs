//! Broker settings that shape classic group behaviour.

/// Broker settings of the group coordinator.
///
/// The defaults suit tests rather than production: the first rebalance of a
/// group starts at once and short sessions are allowed, so a test does not
/// wait seconds for a consumer to get its partitions. Each field names the
/// Kafka broker config it mirrors and Kafka's own default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an
    /// empty group waits for more members, extended by the same amount each
    /// time one joins, up to the rebalance timeout. Kafka: 3000; here 0.
    pub initial_rebalance_delay_ms: i32,
    /// `group.min.session.timeout.ms`: the shortest session a member may ask
    /// for. Kafka: 6000; here 100.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: the longest session a member may ask
    /// for. Kafka: 1800000.
    pub max_session_timeout_ms: i32,
    /// `group.max.size`: the most members a group admits. Kafka:
    /// `Integer.MAX_VALUE`, i.e. unlimited.
    pub max_size: usize,
    /// `offset.metadata.max.bytes`: the longest metadata string a commit may
    /// carry, counted in UTF-16 units as Java's `String.length()` does.
    /// Kafka: 4096.
    pub offset_metadata_max_bytes: usize,
    /// How long a JoinGroup from a brand-new member may stay parked before
    /// the member is dropped. Not a broker config: Kafka hard-codes five
    /// minutes (`CLASSIC_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS`); it is a field
    /// here so tests can exercise it.
    pub new_member_join_timeout_ms: i32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay_ms: 0,
            min_session_timeout_ms: 100,
            max_session_timeout_ms: 1_800_000,
            max_size: usize::MAX,
            offset_metadata_max_bytes: 4096,
            new_member_join_timeout_ms: 5 * 60 * 1000,
        }
    }
}
