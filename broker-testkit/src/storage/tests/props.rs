//! Random operation sequences, mirrored to disk and recovered.

use proptest::prelude::*;

use super::{TOPIC_ID, TempDir, assert_disk_matches, assert_recovered_equals};
use crate::log::Log;
use crate::log::tests::T0;
use crate::log::tests::props::{Driver, log_config, op};
use crate::storage::{PartitionDir, TopicPartition, recover, write_log_start_offsets};

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn mirrored_logs_recover_to_the_same_log(
        config in log_config(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let tmp = TempDir::new("prop");
        let mut dir = PartitionDir::create(tmp.path(), "p", 0, Some(TOPIC_ID)).unwrap();
        let mut driver = Driver::new(Log::new(config, T0, true));
        for op in &ops {
            driver.apply(op);
            dir.apply_all(&driver.log.take_storage_ops()).unwrap();
        }
        dir.flush().unwrap();
        assert_disk_matches(&driver.log, dir.path());

        let tp = TopicPartition::new("p", 0);
        write_log_start_offsets(tmp.path(), &[(tp, driver.log.log_start_offset())].into_iter().collect()).unwrap();
        let recovered = recover(dir.path(), config, driver.now).unwrap();
        prop_assert_eq!(recovered.truncated_bytes, 0);
        prop_assert!(recovered.deleted_segments.is_empty());
        assert_recovered_equals(&driver.log, &recovered.log);
        assert_disk_matches(&recovered.log, dir.path());
    }
}
