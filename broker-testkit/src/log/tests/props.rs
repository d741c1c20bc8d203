//! Random operation sequences against a plain model of the log's content.

use bytes::Bytes;
use kafka_protocol::Compression;
use kafka_protocol::records::{RecordSet, RecordSetEntry};
use proptest::prelude::*;

use super::{T0, batch_with};
use crate::log::{Log, LogConfig};

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Append { records: usize, value_len: usize, ts_step: i64, new_epoch: bool, append_time: bool },
    Truncate(f64),
    DeleteRecords(f64),
    Retention { advance: i64 },
    Roll,
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..5, 0usize..600, -20i64..200, proptest::bool::weighted(0.1), proptest::bool::weighted(0.1))
            .prop_map(|(records, value_len, ts_step, new_epoch, append_time)| Op::Append {
                records, value_len, ts_step, new_epoch, append_time
            }),
        1 => (0.0f64..1.0).prop_map(Op::Truncate),
        1 => (0.0f64..1.0).prop_map(Op::DeleteRecords),
        1 => (0i64..500).prop_map(|advance| Op::Retention { advance }),
        1 => Just(Op::Roll),
    ]
}

pub(crate) fn log_config() -> impl Strategy<Value = LogConfig> {
    (3000u64..8000, 0u64..3000, prop_oneof![Just(-1i64), 100i64..2000], prop_oneof![Just(-1i64), 1000i64..20000])
        .prop_map(|(segment_bytes, index_interval_bytes, retention_ms, retention_bytes)| LogConfig {
            segment_bytes,
            index_interval_bytes,
            retention_ms,
            retention_bytes,
            segment_ms: 300,
            ..LogConfig::default()
        })
}

/// Drives a log through `ops`, checking it against a model after each; the
/// clock starts at `T0` and only moves forward.
pub(crate) struct Driver {
    pub(crate) log: Log,
    pub(crate) now: i64,
    timestamp: i64,
    epoch: i32,
    /// Every batch not truncated away, whether or not retention deleted it.
    model: Vec<Bytes>,
}

impl Driver {
    pub(crate) fn new(log: Log) -> Self {
        Driver { log, now: T0, timestamp: T0, epoch: 0, model: Vec::new() }
    }

    pub(crate) fn apply(&mut self, op: &Op) {
        let log_end = self.log.log_end_offset();
        let start = self.log.log_start_offset();
        let pick = |f: f64| start + ((log_end - start) as f64 * f) as i64;
        match *op {
            Op::Append { records, value_len, ts_step, new_epoch, append_time } => {
                self.now += 1;
                self.timestamp += ts_step;
                if new_epoch {
                    self.epoch += 1;
                }
                let ts: Vec<i64> = (0..records as i64).map(|i| self.timestamp + i).collect();
                let b = batch_with(Compression::None, &ts, value_len);
                let time = append_time.then_some(self.now);
                self.log.append_as_leader(b, self.epoch, time, self.now).unwrap();
                let stored = self.log.batches_from(log_end).next().unwrap().bytes().clone();
                self.model.push(stored);
            }
            Op::Truncate(f) => {
                let target = pick(f);
                self.log.truncate_to(target, self.now).unwrap();
                let end = self.log.log_end_offset();
                self.model.retain(|b| base_offset(b) < end);
            }
            Op::DeleteRecords(f) => {
                let target = pick(f);
                assert_eq!(self.log.delete_records_before(target, log_end).unwrap(), target.max(start));
            }
            Op::Retention { advance } => {
                self.now += advance;
                self.log.apply_retention(self.now, log_end);
            }
            Op::Roll => self.log.roll(self.now),
        }
        self.check();
    }

    fn check(&self) {
        self.log.check_invariants();
        let first = self.log.segments().next().unwrap().base_offset();
        let held: Vec<Bytes> = self.log.batches_from(first).map(|b| b.bytes().clone()).collect();
        let expected: Vec<Bytes> = self.model.iter().filter(|b| base_offset(b) >= first).cloned().collect();
        assert_eq!(held, expected);
        assert_eq!(self.log.size_bytes(), held.iter().map(|b| b.len() as u64).sum::<u64>());

        let (start, end) = (self.log.log_start_offset(), self.log.log_end_offset());
        for offset in start..=end {
            let r = self.log.read(offset, 1500, end, true).unwrap();
            let mut set = RecordSet::new(r.records.clone());
            let mut next = None;
            let mut whole = 0;
            for entry in set.by_ref() {
                let RecordSetEntry::Batch(b) = entry.unwrap() else { panic!("legacy entry") };
                let h = b.header();
                match next {
                    None => assert!(h.base_offset <= offset && offset <= h.last_offset()),
                    Some(n) => assert_eq!(h.base_offset, n),
                }
                next = Some(h.last_offset() + 1);
                whole += 1;
            }
            assert_eq!(whole, r.whole_batches);
            assert_eq!(r.next_offset, next.unwrap_or(offset));
            assert!(r.records.len() <= 1500 || r.whole_batches == 1);
            assert_eq!(offset == end, r.records.is_empty());
        }
    }
}

fn base_offset(batch: &Bytes) -> i64 {
    i64::from_be_bytes(batch[..8].try_into().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_log_consistent(
        config in log_config(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut driver = Driver::new(Log::new(config, T0, false));
        for op in &ops {
            driver.apply(op);
        }
    }
}
