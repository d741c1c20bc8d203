//! `poll`: the one place records are handed out, and so the place where the
//! group's rebalance steps run (listener calls, commits before revocation),
//! positions are looked up, and auto-commits are sent.
//!
//! Cancel safety: every await in here either changes nothing until it
//! completes (offset lookups apply their answers only if the partition
//! still waits for them) or is a rebalance step the state machine repeats
//! until `poll` reports it done. Records are taken from the buffers and
//! returned with no await in between, so a cancelled `poll` loses none.

use std::pin::pin;
use std::time::Duration;

use tokio::time::Instant;

use super::membership::Step;
use super::record::{ConsumerRecord, ConsumerRecords};
use super::{Consumer, lock};
use crate::config::millis;
use crate::error::{Error, Result};

impl Consumer {
    /// Waits up to `timeout` for records and returns at most
    /// `max.poll.records` of them (none if the time runs out), after running
    /// any rebalance step due: revocation (auto-commit first, then
    /// `on_partitions_revoked`), loss (`on_partitions_lost`) and assignment
    /// (`on_partitions_assigned`). Everything returned counts as processed
    /// for the next commit (`commit()` or auto-commit).
    ///
    /// Cancel-safe: dropping the future (for example in `tokio::select!`)
    /// loses no record; an interrupted listener call is made again by the
    /// next `poll`.
    ///
    /// ```no_run
    /// # async fn f(consumer: &kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// let records = consumer.poll(std::time::Duration::from_millis(500)).await?;
    /// for tp in records.partitions() {
    ///     for r in records.records(&tp) {
    ///         println!("{tp}@{}", r.offset);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn poll(&self, timeout: Duration) -> Result<ConsumerRecords> {
        let max = self.inner.cfg.max_poll_records;
        let records = self.poll_records(timeout, max, false).await?;
        // What poll returns is what the application processes before it
        // polls again: all of it counts as consumed.
        lock(&self.inner.state).mark_all_consumed();
        Ok(records.into_iter().collect())
    }

    /// The loop behind `poll` and the stream: up to `max` records, without
    /// marking them consumed. With `for_stream` they go to the stream's
    /// buffer before the poll lock is released (so a concurrent seek or
    /// pause finds them there) and none are returned.
    pub(crate) async fn poll_records(
        &self,
        timeout: Duration,
        max: usize,
        for_stream: bool,
    ) -> Result<Vec<ConsumerRecord>> {
        let inner = &self.inner;
        if inner.is_closed() {
            return Err(Error::Closed);
        }
        let _guard = inner.poll_lock.lock().await;
        let deadline = Instant::now() + timeout;
        // Long waits inside poll still count as polling for
        // max.poll.interval.ms; wake up well within it to say so.
        let heartbeat_of_poll = (inner.cfg.max_poll_interval / 2).max(Duration::from_millis(1));
        loop {
            if inner.is_closed() {
                return Err(Error::Closed);
            }
            // Registered before looking, so no wake-up is missed.
            let mut data = pin!(inner.data_ready.notified());
            data.as_mut().enable();
            let mut group = pin!(inner.group_event.notified());
            group.as_mut().enable();

            self.run_group_steps().await?;
            self.maybe_auto_commit();
            self.update_positions().await?;
            let records = {
                let mut buffered = lock(&inner.stream_buffer);
                if buffered.is_empty() || for_stream {
                    drop(buffered);
                    lock(&inner.state).take_records(max)?
                } else {
                    let n = buffered.len().min(max);
                    buffered.drain(..n).collect()
                }
            };
            // Room freed in the buffers: fetch ahead while the application works.
            inner.wake_fetcher.notify_one();
            if !records.is_empty() {
                if for_stream {
                    lock(&inner.stream_buffer).extend(records);
                    return Ok(Vec::new());
                }
                return Ok(records);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut wake_at = deadline.min(now + heartbeat_of_poll);
            if let Some(t) = self.next_timer() {
                wake_at = wake_at.min(t);
            }
            tokio::select! {
                biased;
                () = data => {}
                () = group => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// Runs the rebalance steps the state machine has for `poll`, in order,
    /// until none is left.
    async fn run_group_steps(&self) -> Result<()> {
        let inner = &self.inner;
        loop {
            let step = match lock(&inner.membership).as_mut() {
                Some(m) => m.poll(inner.clock.now_ms()),
                None => return Ok(()),
            };
            // The state machine may now be ready to join.
            inner.wake_group.notify_one();
            let Some(step) = step else { return Ok(()) };
            let listener = lock(&inner.listener).clone();
            match step {
                Step::Revoke(parts) => {
                    tracing::info!(partitions = parts.len(), "revoking partitions before rejoining");
                    self.drop_stream_buffer(|tp| parts.contains(tp));
                    if inner.cfg.enable_auto_commit {
                        let offsets = self.consumed_offsets(Some(&parts));
                        let deadline = Instant::now() + inner.cfg.default_api_timeout;
                        if let Err(e) = self.commit_until(offsets, deadline).await {
                            tracing::warn!(error = %e, "the auto-commit before revocation failed");
                        }
                    }
                    listener.on_partitions_revoked(self, &parts).await;
                    lock(&inner.state).remove(&parts);
                    if let Some(m) = lock(&inner.membership).as_mut() {
                        m.revoked();
                    }
                }
                Step::Assign(parts) => {
                    tracing::info!(partitions = parts.len(), "partitions assigned");
                    lock(&inner.state).set_assignment(&parts);
                    listener.on_partitions_assigned(self, &parts).await;
                    if let Some(m) = lock(&inner.membership).as_mut() {
                        m.assigned();
                    }
                    inner.wake_fetcher.notify_one();
                    inner.wake_subscription.notify_one();
                }
                Step::Lost(parts) => {
                    tracing::warn!(partitions = parts.len(), "partitions lost: the group moved on without this member");
                    self.drop_stream_buffer(|tp| parts.contains(tp));
                    listener.on_partitions_lost(self, &parts).await;
                    lock(&inner.state).remove(&parts);
                    if let Some(m) = lock(&inner.membership).as_mut() {
                        m.lost_reported();
                    }
                }
                Step::Fatal(reason) => {
                    return Err(Error::Group { group: inner.cfg.group_id.clone().unwrap_or_default(), reason });
                }
            }
        }
    }

    /// Queues an auto-commit of the processed positions when one is due.
    fn maybe_auto_commit(&self) {
        let inner = &self.inner;
        if !inner.cfg.enable_auto_commit {
            return;
        }
        let now = inner.clock.now_ms();
        {
            let mut next = lock(&inner.next_auto_commit_ms);
            if now < *next {
                return;
            }
            *next = now + millis(inner.cfg.auto_commit_interval);
        }
        // Only while the member holds its partitions in a generation: a
        // member that is rejoining has nothing it may commit.
        let stable = lock(&inner.membership).as_ref().is_none_or(|m| m.in_generation() && !m.has_step());
        if !stable {
            return;
        }
        let offsets = self.consumed_offsets(None);
        if !offsets.is_empty() {
            self.queue_commit(offsets, None);
        }
    }

    /// The earliest time `poll` has something to do without being woken.
    fn next_timer(&self) -> Option<Instant> {
        let inner = &self.inner;
        let now = inner.clock.now_ms();
        let mut at: Option<i64> = None;
        if inner.cfg.enable_auto_commit {
            at = Some(*lock(&inner.next_auto_commit_ms));
        }
        let retry = *lock(&inner.positions_retry_ms);
        if retry > now {
            at = Some(at.map_or(retry, |a| a.min(retry)));
        }
        at.map(|t| Instant::now() + Duration::from_millis(u64::try_from((t - now).max(1)).unwrap_or(1)))
    }
}
