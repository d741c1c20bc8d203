//! The consumer as a [`Stream`] of records.
//!
//! The stream takes records in `poll`-sized batches into a buffer the
//! consumer owns, and hands them out one at a time. A record counts as
//! processed once the next one is asked for, so auto-commit (and
//! `commit()`) never commit a record the application has not finished.
//! Records still in the buffer when the consumer seeks, pauses or loses the
//! partition are dropped and the position moved back to them, so none is
//! skipped.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;

use super::record::ConsumerRecord;
use super::{Consumer, Yielded, lock};
use crate::error::{Error, Result};

/// How long one internal poll waits before it looks again.
const POLL_SLICE: Duration = Duration::from_secs(1);

/// A stream of records from [`Consumer::stream`]. `next()` is cancel-safe:
/// dropping it mid-wait loses nothing, because the wait lives in the
/// stream, not in the `next()` future.
///
/// ```no_run
/// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
/// use futures::StreamExt;
///
/// let mut records = consumer.stream();
/// while let Some(record) = records.next().await {
///     let record = record?;
///     println!("{}-{}@{}", record.topic, record.partition, record.offset);
/// }
/// # Ok(()) }
/// ```
pub struct RecordStream<'a> {
    consumer: &'a Consumer,
    filling: Option<BoxFuture<'a, Result<Vec<ConsumerRecord>>>>,
}

impl std::fmt::Debug for RecordStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream").field("filling", &self.filling.is_some()).finish()
    }
}

impl Consumer {
    /// The consumer's records as a [`Stream`]; rebalances, position lookups
    /// and auto-commits happen inside `next()` as they do inside `poll`.
    /// The stream ends once the consumer is closed; errors are yielded as
    /// items and the stream goes on.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) {
    /// use futures::StreamExt;
    /// let first_ten: Vec<_> = consumer.stream().take(10).collect().await;
    /// # }
    /// ```
    pub fn stream(&self) -> RecordStream<'_> {
        RecordStream { consumer: self, filling: None }
    }
}

impl RecordStream<'_> {
    fn pop(&self) -> Option<ConsumerRecord> {
        let mut view = lock(&self.consumer.view);
        let r = view.stream_buffer.pop_front()?;
        view.last_yielded = Some(Yielded { tp: r.topic_partition(), next_offset: r.offset + 1, epoch: r.leader_epoch });
        Some(r)
    }
}

impl Stream for RecordStream<'_> {
    type Item = Result<ConsumerRecord>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.filling.is_none() {
                // The record handed out last is now processed.
                self.consumer.mark_last_yielded();
                if let Some(r) = self.pop() {
                    return Poll::Ready(Some(Ok(r)));
                }
                if self.consumer.is_closed() {
                    return Poll::Ready(None);
                }
                let consumer = self.consumer;
                let max = consumer.io.cfg.max_poll_records;
                self.filling = Some(Box::pin(consumer.poll_records(POLL_SLICE, max, true)));
            }
            let Some(fut) = self.filling.as_mut() else { continue };
            let result = match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            self.filling = None;
            match result {
                // The records are in the buffer already.
                Ok(_) => {}
                Err(Error::Closed) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}
