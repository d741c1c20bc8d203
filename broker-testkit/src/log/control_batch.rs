//! Reading a control batch's record: the one place the log, its producer
//! snapshots and a leader's transaction state learn what a marker says.
//!
//! A control batch carries one record whose key names the kind (commit,
//! abort, or a kind this broker does not know) and whose value holds the
//! coordinator epoch; the record's timestamp is the time the marker was
//! written, which producer snapshots keep.

use kafka_protocol::records::{ControlRecord, ControlRecordType, RecordBatch};

use super::MAX_DECOMPRESSED_BATCH_BYTES;

/// The record of a control batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlBatchRecord {
    /// The control record: kind and coordinator epoch.
    pub control: ControlRecord,
    /// The record's timestamp.
    pub timestamp: i64,
}

impl ControlBatchRecord {
    /// Reads the first record of a control batch; None for data batches
    /// and for control batches whose record cannot be read.
    pub fn read(batch: &RecordBatch) -> Option<Self> {
        if !batch.header().is_control() {
            return None;
        }
        let mut records = batch.records(MAX_DECOMPRESSED_BATCH_BYTES).ok()?;
        let record = records.next()?.ok()?;
        let control = ControlRecord::parse(record.key.as_deref()?, record.value.as_deref()).ok()?;
        Some(ControlBatchRecord { control, timestamp: record.timestamp })
    }

    /// Whether this is a commit (true) or abort (false) marker; None for
    /// other control kinds.
    pub fn end_marker(&self) -> Option<bool> {
        match self.control.kind {
            ControlRecordType::Commit => Some(true),
            ControlRecordType::Abort => Some(false),
            ControlRecordType::Other(_) => None,
        }
    }
}

/// Whether a batch is a commit (true) or abort (false) marker; None for
/// other control records, unreadable ones, and data batches.
pub fn end_marker_kind(batch: &RecordBatch) -> Option<bool> {
    ControlBatchRecord::read(batch)?.end_marker()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::Compression;
    use kafka_protocol::records::BatchBuilder;

    use super::*;

    fn control(kind: ControlRecordType) -> RecordBatch {
        let mut b = BatchBuilder::new(Compression::None, None);
        b.set_producer(7, 1, -1);
        b.append_control(500, &ControlRecord { kind, coordinator_epoch: 4 });
        RecordBatch::new(b.finish().unwrap()).unwrap()
    }

    #[test]
    fn reads_kind_epoch_and_timestamp() {
        let r = ControlBatchRecord::read(&control(ControlRecordType::Abort)).unwrap();
        assert_eq!(r.control, ControlRecord { kind: ControlRecordType::Abort, coordinator_epoch: 4 });
        assert_eq!(r.timestamp, 500);
        assert_eq!(r.end_marker(), Some(false));
        assert_eq!(end_marker_kind(&control(ControlRecordType::Commit)), Some(true));
        assert_eq!(end_marker_kind(&control(ControlRecordType::Other(5))), None);
        assert!(ControlBatchRecord::read(&control(ControlRecordType::Other(5))).is_some());
    }

    #[test]
    fn data_batches_have_no_control_record() {
        let mut b = BatchBuilder::new(Compression::None, None);
        b.append(1, None, Some(b"v"), &[]);
        let batch = RecordBatch::new(b.finish().unwrap()).unwrap();
        assert_eq!(ControlBatchRecord::read(&batch), None);
        assert_eq!(end_marker_kind(&batch), None);
    }
}
