//! Delivery results: one [`BatchCompletion`] per batch, shared by the
//! [`DeliveryFuture`]s of its records (an `Arc` clone and an index per
//! record — no allocation per record).
//!
//! A batch the broker refused as too large is split; its completion then
//! points to the completions of the smaller batches, and each record's
//! future follows the pointer to the batch that actually carried it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use crate::error::Error;

/// Where a record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 with acks=0 (the broker does not say).
    pub offset: i64,
    /// The record's timestamp: the one it was sent with, or the broker's
    /// append time for LogAppendTime topics.
    pub timestamp: i64,
}

/// A batch's result as the broker reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchResult {
    pub base_offset: i64,
    /// -1 unless the topic uses LogAppendTime.
    pub log_append_time: i64,
}

/// A part of a split batch: records `first..first + count` of the parent
/// are records `0..count` of `child`.
#[derive(Debug)]
pub(crate) struct SplitPart {
    pub first: u32,
    pub count: u32,
    pub child: Arc<BatchCompletion>,
}

#[derive(Debug)]
enum Resolution {
    Done(Result<BatchResult, Error>),
    Split(Vec<SplitPart>),
}

/// The shared completion of one batch.
#[derive(Debug, Default)]
pub(crate) struct BatchCompletion {
    resolution: OnceLock<Resolution>,
    wakers: Mutex<Vec<Waker>>,
}

impl BatchCompletion {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn resolve(&self, r: Resolution) {
        if self.resolution.set(r).is_ok() {
            let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            for w in wakers {
                w.wake();
            }
        }
    }

    /// Completes the batch; later calls are ignored (a batch ends once).
    pub(crate) fn complete(&self, result: Result<BatchResult, Error>) {
        self.resolve(Resolution::Done(result));
    }

    /// Hands the batch's records over to the batches it was split into.
    pub(crate) fn split_into(&self, parts: Vec<SplitPart>) {
        self.resolve(Resolution::Split(parts));
    }
}

/// The outcome of one record's delivery; returned by `Producer::send`.
///
/// Awaiting it yields where the record was written, or why it was not.
/// Dropping it does not cancel the delivery.
#[derive(Debug)]
pub struct DeliveryFuture {
    completion: Arc<BatchCompletion>,
    index: u32,
    partition: i32,
    timestamp: i64,
    /// Set for acks=0 batches: the broker reports no offset.
    no_offsets: bool,
    /// Where this future's waker sits in the batch's list, once registered:
    /// re-polls replace it in place instead of searching the list, which
    /// made awaiting a batch's futures one by one quadratic.
    waker_slot: Option<usize>,
}

impl DeliveryFuture {
    pub(crate) fn new(
        completion: Arc<BatchCompletion>,
        index: u32,
        partition: i32,
        timestamp: i64,
        no_offsets: bool,
    ) -> Self {
        DeliveryFuture { completion, index, partition, timestamp, no_offsets, waker_slot: None }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.completion.resolution.get() {
                Some(Resolution::Done(Ok(r))) => {
                    let offset =
                        if self.no_offsets || r.base_offset < 0 { -1 } else { r.base_offset + i64::from(self.index) };
                    let timestamp = if r.log_append_time >= 0 { r.log_append_time } else { self.timestamp };
                    return Poll::Ready(Ok(RecordMetadata { partition: self.partition, offset, timestamp }));
                }
                Some(Resolution::Done(Err(e))) => return Poll::Ready(Err(e.clone())),
                Some(Resolution::Split(parts)) => {
                    let idx = self.index;
                    let Some(part) = parts.iter().find(|p| idx >= p.first && idx < p.first + p.count) else {
                        return Poll::Ready(Err(Error::InvalidRecord("record lost while splitting its batch".into())));
                    };
                    let child = part.child.clone();
                    let first = part.first;
                    self.index -= first;
                    self.completion = child;
                    self.waker_slot = None;
                }
                None => {
                    let completion = self.completion.clone();
                    let mut wakers = completion.wakers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    // Re-check under the lock: completion takes it to wake.
                    if completion.resolution.get().is_some() {
                        continue;
                    }
                    let owned = match self.waker_slot {
                        Some(i) if i < wakers.len() => {
                            if !wakers[i].will_wake(cx.waker()) {
                                wakers[i] = cx.waker().clone();
                            }
                            Some(i)
                        }
                        // One task awaiting the batch's futures in turn
                        // registers the same waker each time: share it, but
                        // never replace a shared one later.
                        _ if wakers.last().is_some_and(|w| w.will_wake(cx.waker())) => None,
                        _ => {
                            wakers.push(cx.waker().clone());
                            Some(wakers.len() - 1)
                        }
                    };
                    drop(wakers);
                    self.waker_slot = owned;
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn futures_follow_splits() {
        let parent = BatchCompletion::new();
        let f0 = DeliveryFuture::new(parent.clone(), 0, 3, 100, false);
        let f3 = DeliveryFuture::new(parent.clone(), 3, 3, 103, false);
        let a = BatchCompletion::new();
        let b = BatchCompletion::new();
        parent.split_into(vec![
            SplitPart { first: 0, count: 2, child: a.clone() },
            SplitPart { first: 2, count: 2, child: b.clone() },
        ]);
        a.complete(Ok(BatchResult { base_offset: 50, log_append_time: -1 }));
        b.complete(Ok(BatchResult { base_offset: 70, log_append_time: 999 }));
        assert_eq!(f0.await.unwrap(), RecordMetadata { partition: 3, offset: 50, timestamp: 100 });
        assert_eq!(f3.await.unwrap(), RecordMetadata { partition: 3, offset: 71, timestamp: 999 });
    }

    #[tokio::test]
    async fn waiting_futures_are_woken() {
        let c = BatchCompletion::new();
        let f = tokio::spawn(DeliveryFuture::new(c.clone(), 1, 0, 5, false));
        tokio::task::yield_now().await;
        c.complete(Err(Error::Closed));
        assert!(matches!(f.await.unwrap(), Err(Error::Closed)));
    }

    #[tokio::test]
    async fn every_future_of_a_batch_wakes_however_it_is_awaited() {
        use futures::StreamExt;
        use futures::stream::FuturesUnordered;
        let c = BatchCompletion::new();
        let mut set: FuturesUnordered<DeliveryFuture> =
            (0..1000).map(|i| DeliveryFuture::new(c.clone(), i, 0, 0, false)).collect();
        assert!(futures::poll!(set.next()).is_pending());
        // Each future in the set has a waker of its own: one slot each.
        assert_eq!(c.wakers.lock().unwrap().len(), 1000);
        // One task awaiting several futures of the batch in turn shares a slot.
        let other = tokio::spawn({
            let c = c.clone();
            async move {
                let mut offsets = Vec::new();
                for i in [5, 6, 7] {
                    offsets.push(DeliveryFuture::new(c.clone(), i, 0, 0, false).await.unwrap().offset);
                }
                offsets
            }
        });
        tokio::task::yield_now().await;
        c.complete(Ok(BatchResult { base_offset: 10, log_append_time: -1 }));
        let mut n = 0;
        while let Some(r) = set.next().await {
            r.unwrap();
            n += 1;
        }
        assert_eq!(n, 1000);
        assert_eq!(other.await.unwrap(), [15, 16, 17]);
        assert!(c.wakers.lock().unwrap().is_empty());
    }
}
