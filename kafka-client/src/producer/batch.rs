//! One producer batch: records for one partition, encoded straight into a
//! record-batch buffer as they are appended, then closed (header, sequence,
//! compression, CRC) when drained for sending, and completed once.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::Compression;
use kafka_protocol::Uuid;
use kafka_protocol::records::{BatchBuilder, Header, RecordBatch, batch as batch_edit};

use super::delivery::{BatchCompletion, BatchResult, SplitPart};
use crate::TopicPartition;
use crate::error::Error;

/// The producer identity a batch was (or will be) sent under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerIdentity {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// A batch in the accumulator or in flight.
#[derive(Debug)]
pub(crate) struct ProducerBatch {
    /// Batches created later have larger ids; parts of a split keep theirs.
    pub id: u64,
    pub tp: TopicPartition,
    /// While open: the records so far.
    builder: Option<BatchBuilder>,
    /// Once closed: the bytes to send.
    payload: Option<Bytes>,
    pub record_count: i32,
    /// Uncompressed size so far (batch.size accounting).
    pub size: usize,
    pub created_ms: i64,
    pub attempts: u32,
    /// Not to be drained before this time (retry backoff).
    pub retry_at_ms: i64,
    pub completion: Arc<BatchCompletion>,
    /// Bytes of `buffer.memory` this batch holds.
    pub reserved: usize,
    /// Sequence state, once assigned at first drain (idempotence).
    pub identity: Option<ProducerIdentity>,
    /// Whether any attempt reached the socket (its outcome may be unknown).
    pub ever_sent: bool,
    /// Whether an attempt ended without a definite answer (a timeout, or
    /// the connection lost after the request was written): the records may
    /// be in the log, so if the batch fails later, for whatever reason, its
    /// outcome is unknown rather than failed.
    pub maybe_written: bool,
    pub compression: Compression,
    pub level: Option<i32>,
    /// Each record's timestamp, kept only when interceptors need them.
    pub timestamps: Option<Vec<i64>>,
    /// The topic id the last attempt named the topic by (Produce v13+), so
    /// the answer, which names topics only by id, is matched to what was
    /// sent even if the topic was recreated meanwhile; zero when sent by name.
    pub sent_topic_id: Uuid,
    /// Part of a transaction: the batch's transactional bit is set.
    pub transactional: bool,
}

impl ProducerBatch {
    pub(crate) fn new(
        id: u64,
        tp: TopicPartition,
        (compression, level): (Compression, Option<i32>),
        capacity: usize,
        reserved: usize,
        now_ms: i64,
        track_timestamps: bool,
    ) -> Self {
        ProducerBatch {
            id,
            tp,
            builder: Some(BatchBuilder::with_capacity(compression, level, capacity)),
            payload: None,
            record_count: 0,
            size: 61,
            created_ms: now_ms,
            attempts: 0,
            retry_at_ms: 0,
            completion: BatchCompletion::new(),
            reserved,
            identity: None,
            ever_sent: false,
            maybe_written: false,
            compression,
            level,
            timestamps: track_timestamps.then(Vec::new),
            sent_topic_id: Uuid::ZERO,
            transactional: false,
        }
    }

    /// Whether the batch still takes records.
    pub(crate) fn is_open(&self) -> bool {
        self.builder.is_some()
    }

    /// Bytes a record would add, or None when the batch is closed.
    pub(crate) fn size_of_next(
        &self,
        ts: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Option<usize> {
        self.builder.as_ref().map(|b| b.size_of_next(ts, key, value, headers))
    }

    /// Appends a record; returns its index in the batch.
    pub(crate) fn append(
        &mut self,
        ts: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Option<u32> {
        let b = self.builder.as_mut()?;
        if let Some(t) = &mut self.timestamps {
            t.push(ts);
        }
        b.append(ts, key, value, headers);
        self.record_count += 1;
        self.size = b.size();
        u32::try_from(self.record_count - 1).ok()
    }

    /// Closes the batch: writes the producer identity, compresses, CRCs.
    /// A closed batch (a retry) keeps its bytes, rewriting the identity only
    /// when it changed (an epoch bump renumbers it).
    pub(crate) fn close(&mut self, identity: Option<ProducerIdentity>) -> Result<(), Error> {
        if let Some(mut b) = self.builder.take() {
            if let Some(id) = identity {
                b.set_producer(id.producer_id, id.epoch, id.base_sequence);
            }
            b.set_transactional(self.transactional);
            self.payload = Some(b.finish().map_err(|e| Error::InvalidRecord(e.to_string()))?);
        } else if let (Some(id), Some(old)) = (identity, self.identity)
            && id != old
            && let Some(p) = self.payload.take()
        {
            let mut bytes = p.to_vec();
            batch_edit::set_producer_state(&mut bytes, id.producer_id, id.epoch, id.base_sequence);
            self.payload = Some(Bytes::from(bytes));
        }
        self.identity = identity.or(self.identity);
        Ok(())
    }

    /// The bytes to send; only after [`Self::close`].
    pub(crate) fn payload(&self) -> Option<&Bytes> {
        self.payload.as_ref()
    }

    /// The encoded size to send (closed) or the estimate (open).
    pub(crate) fn wire_size(&self) -> usize {
        self.payload.as_ref().map_or(self.size, Bytes::len)
    }

    /// What the batch's records fail with when `e` ends it: only "outcome
    /// unknown" may describe records that might be in the log, so a batch
    /// one of whose attempts ended without a definite answer fails that
    /// way whatever ended it, as does a timeout after any attempt was sent.
    pub(crate) fn failure(&self, e: Error) -> Error {
        let unknown = !matches!(e, Error::OutcomeUnknown { .. })
            && (self.maybe_written || (self.ever_sent && matches!(e, Error::Timeout { .. })));
        if !unknown {
            return e;
        }
        let reason = if self.maybe_written {
            format!("an earlier attempt may have written it; it then failed with: {e}")
        } else {
            e.to_string()
        };
        Error::OutcomeUnknown { topic: self.tp.topic.to_string(), partition: self.tp.partition, reason }
    }

    pub(crate) fn complete(self, result: Result<BatchResult, Error>) -> usize {
        self.completion.complete(result);
        self.reserved
    }

    /// Splits a closed batch (the broker found it too large) into batches of
    /// at most `max_bytes` uncompressed, in order; the original's records
    /// are handed to them. Records keep their timestamps, keys, values and
    /// headers; sequence numbers are assigned anew when they are drained.
    /// On failure the batch comes back (boxed: it is large) with the reason.
    pub(crate) fn split(
        self,
        max_bytes: usize,
        now_ms: i64,
    ) -> Result<Vec<ProducerBatch>, Box<(ProducerBatch, Error)>> {
        let Some(payload) = self.payload.clone() else {
            return Err(Box::new((self, Error::InvalidRecord("an open batch cannot be split".into()))));
        };
        let records = match RecordBatch::new(payload)
            .and_then(|b| b.records(usize::MAX >> 2).map(|r| r.collect::<Result<Vec<_>, _>>()))
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) | Err(e) => {
                return Err(Box::new((self, Error::InvalidRecord(format!("cannot split batch: {e}")))));
            }
        };
        if records.len() <= 1 {
            return Err(Box::new((
                self,
                Error::InvalidRecord("a single record is larger than the broker accepts".into()),
            )));
        }
        let mut out: Vec<ProducerBatch> = Vec::new();
        let mut parts = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let need_new = match out.last() {
                None => true,
                Some(b) => {
                    let add = b
                        .size_of_next(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers)
                        .unwrap_or(usize::MAX);
                    b.size + add > max_bytes && b.record_count > 0
                }
            };
            if need_new {
                let mut nb = ProducerBatch::new(
                    self.id,
                    self.tp.clone(),
                    (self.compression, self.level),
                    max_bytes,
                    0,
                    now_ms,
                    self.timestamps.is_some(),
                );
                nb.created_ms = self.created_ms;
                nb.attempts = self.attempts;
                nb.transactional = self.transactional;
                parts.push(SplitPart { first: i as u32, count: 0, child: nb.completion.clone() });
                out.push(nb);
            }
            if let (Some(b), Some(p)) = (out.last_mut(), parts.last_mut()) {
                b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
                p.count += 1;
            }
        }
        // The reserved memory moves with the first child.
        if let Some(first) = out.first_mut() {
            first.reserved = self.reserved;
        }
        self.completion.split_into(parts);
        Ok(out)
    }
}
