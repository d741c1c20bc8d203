//! What the consumer returns: [`ConsumerRecord`], one record read from a
//! partition, and [`ConsumerRecords`], the records of one `poll` grouped by
//! partition.
//!
//! Keys, values and header values are [`Bytes`] slices of the fetched data
//! (or of the decompressed batch), so reading a record copies nothing; a
//! record kept alive keeps its fetch buffer alive.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::{Header, TimestampType};

use crate::TopicPartition;

/// One record read from a partition: Java's `ConsumerRecord`, with the key
/// and value left as bytes.
///
/// ```
/// use bytes::Bytes;
/// use kafka_client::consumer::record::ConsumerRecord;
///
/// let record = ConsumerRecord::new("orders", 3, 42, Some(Bytes::from_static(b"k")), Some(Bytes::from_static(b"v")));
/// assert_eq!(record.topic_partition().to_string(), "orders-3");
/// assert_eq!((record.offset, record.value.as_deref()), (42, Some(&b"v"[..])));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic the record was read from.
    pub topic: Arc<str>,
    /// The partition the record was read from.
    pub partition: i32,
    /// The record's offset in its partition; the offset to commit after
    /// processing it is `offset + 1`.
    pub offset: i64,
    /// Milliseconds since the epoch: the producer's timestamp for
    /// [`TimestampType::CreateTime`], the broker's append time for
    /// [`TimestampType::LogAppendTime`]. -1 for records written without one
    /// (message format 0).
    pub timestamp: i64,
    /// Who set [`timestamp`](Self::timestamp): the topic's
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// The key, or None for a null key.
    pub key: Option<Bytes>,
    /// The value, or None for a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// The headers, in the order the producer added them; keys may repeat.
    pub headers: Vec<Header>,
    /// The partition leader epoch of the batch the record came in, None when
    /// the batch carries none (old message formats). Committing it with the
    /// offset lets the group detect log truncation (KIP-320).
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    /// A CreateTime record with no timestamp, headers or leader epoch; the
    /// consumer fills every field, so this is for tests and mocks.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use kafka_client::consumer::record::ConsumerRecord;
    ///
    /// let tombstone = ConsumerRecord::new("users", 0, 7, Some(Bytes::from_static(b"alice")), None);
    /// assert!(tombstone.value.is_none());
    /// assert_eq!(tombstone.timestamp, -1);
    /// ```
    pub fn new(
        topic: impl Into<Arc<str>>,
        partition: i32,
        offset: i64,
        key: Option<Bytes>,
        value: Option<Bytes>,
    ) -> Self {
        ConsumerRecord {
            topic: topic.into(),
            partition,
            offset,
            timestamp: -1,
            timestamp_type: TimestampType::CreateTime,
            key,
            value,
            headers: Vec::new(),
            leader_epoch: None,
        }
    }

    /// The record's topic and partition.
    ///
    /// ```
    /// use kafka_client::consumer::record::ConsumerRecord;
    /// use kafka_client::TopicPartition;
    ///
    /// let record = ConsumerRecord::new("orders", 1, 0, None, None);
    /// assert_eq!(record.topic_partition(), TopicPartition::new("orders", 1));
    /// ```
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition { topic: Arc::clone(&self.topic), partition: self.partition }
    }

    /// The last header named `key`, as Java's `Headers.lastHeader` finds it.
    ///
    /// ```
    /// use kafka_client::consumer::record::ConsumerRecord;
    /// use kafka_protocol::records::Header;
    ///
    /// let mut record = ConsumerRecord::new("orders", 0, 0, None, None);
    /// record.headers = vec![Header::new("trace", "a"), Header::new("trace", "b")];
    /// assert_eq!(record.last_header("trace").and_then(|h| h.value.as_deref()), Some(&b"b"[..]));
    /// assert!(record.last_header("missing").is_none());
    /// ```
    pub fn last_header(&self, key: &str) -> Option<&Header> {
        self.headers.iter().rev().find(|h| h.key == key)
    }
}

/// The records one `poll` returned, grouped by partition: Java's
/// `ConsumerRecords`.
///
/// Partitions keep the order in which they were added, and each partition's
/// records are in offset order. Iterating goes through every record,
/// partition by partition.
///
/// ```
/// use bytes::Bytes;
/// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
/// use kafka_client::TopicPartition;
///
/// let mut records = ConsumerRecords::new();
/// let value = |v: &'static [u8]| Some(Bytes::from_static(v));
/// records.push(TopicPartition::new("orders", 0), vec![ConsumerRecord::new("orders", 0, 5, None, value(b"a"))]);
/// records.push(TopicPartition::new("orders", 1), vec![ConsumerRecord::new("orders", 1, 9, None, value(b"b"))]);
/// assert_eq!(records.len(), 2);
/// for record in &records {
///     println!("{}-{}@{}", record.topic, record.partition, record.offset);
/// }
/// assert_eq!(records.records(&TopicPartition::new("orders", 1))[0].offset, 9);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerRecords {
    partitions: Vec<(TopicPartition, Vec<ConsumerRecord>)>,
    len: usize,
}

impl ConsumerRecords {
    /// No records.
    ///
    /// ```
    /// let records = kafka_client::consumer::record::ConsumerRecords::new();
    /// assert!(records.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `records`, which are records of `tp` in offset order, after any
    /// already held for it. Empty lists are ignored, so
    /// [`partitions`](Self::partitions) lists only partitions with records,
    /// as in Java.
    ///
    /// ```
    /// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
    /// use kafka_client::TopicPartition;
    ///
    /// let tp = TopicPartition::new("orders", 0);
    /// let mut records = ConsumerRecords::new();
    /// records.push(tp.clone(), vec![ConsumerRecord::new("orders", 0, 1, None, None)]);
    /// records.push(tp.clone(), vec![ConsumerRecord::new("orders", 0, 2, None, None)]);
    /// records.push(TopicPartition::new("orders", 1), Vec::new());
    /// assert_eq!(records.partitions(), [tp]);
    /// assert_eq!(records.len(), 2);
    /// ```
    pub fn push(&mut self, tp: TopicPartition, records: Vec<ConsumerRecord>) {
        if records.is_empty() {
            return;
        }
        self.len += records.len();
        // A poll covers few partitions, so a scan beats keeping an index.
        match self.partitions.iter_mut().find(|(held, _)| *held == tp) {
            Some((_, held)) => held.extend(records),
            None => self.partitions.push((tp, records)),
        }
    }

    /// How many records there are in all: Java's `count()`.
    ///
    /// ```
    /// assert_eq!(kafka_client::consumer::record::ConsumerRecords::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the poll returned nothing.
    ///
    /// ```
    /// assert!(kafka_client::consumer::record::ConsumerRecords::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The partitions that have records, in the order they were added.
    ///
    /// ```
    /// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
    /// use kafka_client::TopicPartition;
    ///
    /// let (b0, a2) = (ConsumerRecord::new("b", 0, 0, None, None), ConsumerRecord::new("a", 2, 0, None, None));
    /// let records: ConsumerRecords = [b0, a2].into_iter().collect();
    /// assert_eq!(records.partitions(), [TopicPartition::new("b", 0), TopicPartition::new("a", 2)]);
    /// ```
    pub fn partitions(&self) -> Vec<TopicPartition> {
        self.partitions.iter().map(|(tp, _)| tp.clone()).collect()
    }

    /// The records of `tp`, in offset order; empty when it has none.
    ///
    /// ```
    /// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
    /// use kafka_client::TopicPartition;
    ///
    /// let records: ConsumerRecords = [ConsumerRecord::new("t", 0, 4, None, None)].into_iter().collect();
    /// assert_eq!(records.records(&TopicPartition::new("t", 0)).len(), 1);
    /// assert!(records.records(&TopicPartition::new("t", 1)).is_empty());
    /// ```
    pub fn records(&self, tp: &TopicPartition) -> &[ConsumerRecord] {
        self.partitions.iter().find(|(held, _)| held == tp).map_or(&[], |(_, records)| records.as_slice())
    }

    /// Each partition with its records, in the order they were added.
    ///
    /// ```
    /// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
    ///
    /// let records: ConsumerRecords =
    ///     (4..6).map(|offset| ConsumerRecord::new("t", 0, offset, None, None)).collect();
    /// for (tp, batch) in records.by_partition() {
    ///     // Commit after the last record of each partition.
    ///     let next = batch.last().map(|r| r.offset + 1);
    ///     assert_eq!((tp.to_string(), next), ("t-0".to_string(), Some(6)));
    /// }
    /// ```
    pub fn by_partition(&self) -> impl ExactSizeIterator<Item = (&TopicPartition, &[ConsumerRecord])> + '_ {
        self.partitions.iter().map(|(tp, records)| (tp, records.as_slice()))
    }

    /// Every record, partition by partition.
    ///
    /// ```
    /// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
    ///
    /// let records: ConsumerRecords =
    ///     [ConsumerRecord::new("t", 0, 4, None, None), ConsumerRecord::new("t", 1, 8, None, None)]
    ///         .into_iter()
    ///         .collect();
    /// let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    /// assert_eq!(offsets, [4, 8]);
    /// ```
    pub fn iter(&self) -> Iter<'_> {
        Iter { partitions: self.partitions.iter(), current: [].iter(), remaining: self.len }
    }
}

/// Groups records by partition in first-seen order; for tests and mocks.
///
/// ```
/// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
///
/// let records: ConsumerRecords = (0..3).map(|o| ConsumerRecord::new("t", o as i32 % 2, o, None, None)).collect();
/// assert_eq!(records.partitions().len(), 2);
/// assert_eq!(records.len(), 3);
/// ```
impl FromIterator<ConsumerRecord> for ConsumerRecords {
    fn from_iter<I: IntoIterator<Item = ConsumerRecord>>(iter: I) -> Self {
        let mut out = ConsumerRecords::new();
        for record in iter {
            let tp = record.topic_partition();
            out.push(tp, vec![record]);
        }
        out
    }
}

/// Borrowing iterator over every record of a [`ConsumerRecords`].
///
/// ```
/// let records = kafka_client::consumer::record::ConsumerRecords::new();
/// let mut iter = records.iter();
/// assert_eq!(iter.len(), 0);
/// assert!(iter.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    partitions: std::slice::Iter<'a, (TopicPartition, Vec<ConsumerRecord>)>,
    current: std::slice::Iter<'a, ConsumerRecord>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a ConsumerRecord;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.current.next() {
                self.remaining -= 1;
                return Some(record);
            }
            self.current = self.partitions.next()?.1.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl std::iter::FusedIterator for Iter<'_> {}

/// Owning iterator over every record of a [`ConsumerRecords`].
///
/// ```
/// use bytes::Bytes;
/// use kafka_client::consumer::record::{ConsumerRecord, ConsumerRecords};
///
/// let record = ConsumerRecord::new("t", 0, 4, None, Some(Bytes::from_static(b"v")));
/// let records: ConsumerRecords = [record].into_iter().collect();
/// let values: Vec<Bytes> = records.into_iter().filter_map(|r| r.value).collect();
/// assert_eq!(values, [Bytes::from_static(b"v")]);
/// ```
#[derive(Debug)]
pub struct IntoIter {
    partitions: std::vec::IntoIter<(TopicPartition, Vec<ConsumerRecord>)>,
    current: std::vec::IntoIter<ConsumerRecord>,
    remaining: usize,
}

impl Iterator for IntoIter {
    type Item = ConsumerRecord;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.current.next() {
                self.remaining -= 1;
                return Some(record);
            }
            self.current = self.partitions.next()?.1.into_iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for IntoIter {}
impl std::iter::FusedIterator for IntoIter {}

impl IntoIterator for ConsumerRecords {
    type Item = ConsumerRecord;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter { partitions: self.partitions.into_iter(), current: Vec::new().into_iter(), remaining: self.len }
    }
}

impl<'a> IntoIterator for &'a ConsumerRecords {
    type Item = &'a ConsumerRecord;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(topic: &str, partition: i32, offset: i64) -> ConsumerRecord {
        ConsumerRecord::new(topic, partition, offset, None, None)
    }

    #[test]
    fn grouping_keeps_partition_and_offset_order() {
        let mut records = ConsumerRecords::new();
        let (a0, b1) = (TopicPartition::new("a", 0), TopicPartition::new("b", 1));
        records.push(b1.clone(), vec![rec("b", 1, 10), rec("b", 1, 11)]);
        records.push(a0.clone(), vec![rec("a", 0, 3)]);
        records.push(b1.clone(), vec![rec("b", 1, 12)]);
        assert_eq!(records.partitions(), [b1.clone(), a0.clone()]);
        let b_offsets: Vec<i64> = records.records(&b1).iter().map(|r| r.offset).collect();
        assert_eq!(b_offsets, [10, 11, 12]);
        let all: Vec<(i32, i64)> = records.iter().map(|r| (r.partition, r.offset)).collect();
        assert_eq!(all, [(1, 10), (1, 11), (1, 12), (0, 3)]);
        assert_eq!(records.iter().len(), 4);
        let mut owned = records.clone().into_iter();
        assert_eq!(owned.len(), 4);
        owned.next();
        assert_eq!(owned.len(), 3);
        assert_eq!(owned.map(|r| r.offset).collect::<Vec<_>>(), [11, 12, 3]);
        assert_eq!(records.by_partition().map(|(_, rs)| rs.len()).collect::<Vec<_>>(), [3, 1]);
    }

    #[test]
    fn empty_partitions_are_not_listed() {
        let mut records = ConsumerRecords::new();
        records.push(TopicPartition::new("a", 0), Vec::new());
        assert!(records.is_empty() && records.partitions().is_empty());
        assert_eq!(records.iter().next(), None);
        assert_eq!(records.into_iter().next(), None);
    }
}
