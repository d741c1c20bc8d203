//! What the coordinator tells admin clients about its transactional ids:
//! DescribeTransactions and ListTransactions (KIP-664), as Kafka's
//! `TransactionStateManager.listTransactionStates` filters them.

use kafka_protocol::ErrorCode;

use super::{TransactionCoordinator, TxnMetadata};

/// Every state name Kafka's coordinator knows, including the two the
/// testkit never enters (`Dead`, an id being expired, and
/// `PrepareEpochFence`, a transient step of fencing): a filter naming them
/// is known, and matches nothing here.
pub const KNOWN_STATE_NAMES: [&str; 8] = [
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

/// ListTransactions' filters; empty or negative ones keep everything.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// State names to keep.
    pub states: Vec<String>,
    /// Producer ids to keep.
    pub producer_ids: Vec<i64>,
    /// Keep transactions started more than this many milliseconds ago.
    pub min_duration_ms: i64,
    /// Keep transactional ids this regular expression matches in full.
    pub transactional_id_pattern: Option<String>,
}

/// ListTransactions' answer before it is put on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listed {
    /// State filters Kafka does not know.
    pub unknown_state_filters: Vec<String>,
    /// (transactional id, producer id, state name) of the ids kept.
    pub transactions: Vec<(String, i64, &'static str)>,
}

impl TransactionCoordinator {
    /// The transactional ids `owned` says this broker coordinates, filtered
    /// as Kafka does. The duration filter compares with the transaction's
    /// start time even when none is open (-1), as Kafka does, so an idle id
    /// passes it. An invalid pattern is INVALID_REGULAR_EXPRESSION.
    pub fn list(&self, filter: &ListFilter, now_ms: i64, owned: &dyn Fn(&str) -> bool) -> Result<Listed, ErrorCode> {
        let pattern = match filter.transactional_id_pattern.as_deref() {
            None | Some("") => None,
            Some(p) => {
                Some(regex::Regex::new(&format!("^(?:{p})$")).map_err(|_| ErrorCode::INVALID_REGULAR_EXPRESSION)?)
            }
        };
        let mut out = Listed::default();
        let mut states = Vec::new();
        for s in &filter.states {
            if KNOWN_STATE_NAMES.contains(&s.as_str()) {
                states.push(s.as_str());
            } else {
                out.unknown_state_filters.push(s.clone());
            }
        }
        let keep = |t: &TxnMetadata| {
            (filter.producer_ids.is_empty() || filter.producer_ids.contains(&t.producer_id))
                && (filter.states.is_empty() || states.contains(&t.state.name()))
                && (filter.min_duration_ms < 0 || now_ms.saturating_sub(t.start_ms) > filter.min_duration_ms)
                && pattern.as_ref().is_none_or(|p| p.is_match(&t.transactional_id))
        };
        out.transactions = self
            .txns
            .values()
            .filter(|t| owned(&t.transactional_id) && keep(t))
            .map(|t| (t.transactional_id.clone(), t.producer_id, t.state.name()))
            .collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TxnConfig;

    fn coordinator() -> TransactionCoordinator {
        let mut c = TransactionCoordinator::new(TxnConfig::default());
        let mut next = 100;
        let mut alloc = || {
            next += 1;
            next
        };
        c.init_producer_id("a", 60_000, None, 0, &mut alloc).unwrap();
        c.init_producer_id("b", 60_000, None, 0, &mut alloc).unwrap();
        c.add_partitions("b", 102, 0, &[("t".into(), 0)], 1_000).unwrap();
        c
    }

    #[test]
    fn filters_combine_and_unknown_states_are_reported() {
        let c = coordinator();
        let all = |_: &str| true;
        let ids = |f: &ListFilter| -> Vec<String> {
            c.list(f, 5_000, &all).unwrap().transactions.into_iter().map(|t| t.0).collect()
        };
        assert_eq!(ids(&ListFilter { min_duration_ms: -1, ..Default::default() }), ["a", "b"]);
        let ongoing =
            ListFilter { states: vec!["Ongoing".into(), "Bogus".into()], min_duration_ms: -1, ..Default::default() };
        assert_eq!(ids(&ongoing), ["b"]);
        assert_eq!(c.list(&ongoing, 5_000, &all).unwrap().unknown_state_filters, ["Bogus"]);
        assert_eq!(ids(&ListFilter { producer_ids: vec![101], min_duration_ms: -1, ..Default::default() }), ["a"]);
        // b started at 1000: it has run 4000 ms at 5000; a (-1) passes any duration.
        assert_eq!(ids(&ListFilter { min_duration_ms: 3_999, ..Default::default() }), ["a", "b"]);
        assert_eq!(ids(&ListFilter { min_duration_ms: 4_000, ..Default::default() }), ["a"]);
        let pattern = |p: &str| ListFilter {
            min_duration_ms: -1,
            transactional_id_pattern: Some(p.into()),
            ..Default::default()
        };
        assert_eq!(ids(&pattern("b")), ["b"]);
        assert_eq!(ids(&pattern("")), ["a", "b"]);
        assert_eq!(c.list(&pattern("("), 0, &all).unwrap_err(), ErrorCode::INVALID_REGULAR_EXPRESSION);
        // Only the ids this broker coordinates.
        assert!(c.list(&ListFilter::default(), 0, &|_: &str| false).unwrap().transactions.is_empty());
    }
}
