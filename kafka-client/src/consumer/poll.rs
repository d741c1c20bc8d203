//! `poll`: the one place records are handed out, and so the place where the
//! group's rebalance steps run (listener calls, commits before revocation).
//!
//! The engine answers a poll request with records, with the rebalance step
//! due, or with nothing once the timeout passes; while it waits it keeps
//! looking up positions, auto-committing and telling the group the member
//! still polls.
//!
//! Cancel safety: when a `poll` is dropped while it waits, its request is
//! withdrawn. Records the engine had already given it go to the consumer's
//! buffer (the stream's), where the next `poll` finds them and where seek,
//! pause, revocation and `position` account for them; a rebalance step is
//! given again by the state machine, and an error is returned by the next
//! `poll`. A withdrawn request is never answered later, so nothing stale
//! (records from before a seek, a step from an old generation) reaches a
//! later call, and the engine stops counting the member as polling.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use super::engine::{Command, PollAnswer, StepDone};
use super::membership::Step;
use super::offsets::CommitWhat;
use super::record::{ConsumerRecord, ConsumerRecords};
use super::{Consumer, lock};
use crate::config::millis;
use crate::error::{Error, Result};

type Answer = Result<PollAnswer>;

/// Waits for the engine's answer to a poll request; if dropped first,
/// withdraws the request and keeps what was already answered.
struct Parked<'a> {
    rx: Option<oneshot::Receiver<Answer>>,
    consumer: &'a Consumer,
}

impl Future for Parked<'_> {
    type Output = Answer;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let Some(rx) = self.rx.as_mut() else { return Poll::Ready(Err(Error::Closed)) };
        match Pin::new(rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.rx = None;
                Poll::Ready(r.unwrap_or(Err(Error::Closed)))
            }
        }
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else { return };
        // After close the engine can no longer answer (it moves back over
        // records it could not hand over); an answer sent before is kept.
        rx.close();
        let mut view = lock(&self.consumer.view);
        match rx.try_recv() {
            Ok(Ok(PollAnswer::Records(records))) => view.stream_buffer.extend(records),
            Ok(Err(e)) => view.pending_error = Some(e),
            // The state machine gives the step again.
            Ok(Ok(PollAnswer::Step(_))) | Err(_) => {}
        }
    }
}

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
        let max = self.io.cfg.max_poll_records;
        let records = self.poll_records(timeout, max, false).await?;
        // What poll returns is what the application processes before it
        // polls again: all of it counts as consumed, from the next command
        // the engine gets on (a commit, the next poll, close). That covers
        // a record a stream handed out before, whose own mark would now
        // move the partition back.
        lock(&self.view).last_yielded = None;
        self.consumed_pending.store(true, std::sync::atomic::Ordering::Release);
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
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let _guard = self.poll_lock.lock().await;
        let deadline_ms = self.io.clock.now_ms() + millis(timeout);
        loop {
            if self.is_closed() {
                return Err(Error::Closed);
            }
            {
                let mut view = lock(&self.view);
                if let Some(e) = view.pending_error.take() {
                    return Err(e);
                }
                let n = view.stream_buffer.len().min(max);
                if n > 0 && !for_stream {
                    return Ok(view.stream_buffer.drain(..n).collect());
                }
            }
            let (tx, rx) = oneshot::channel();
            if !self.send(Command::Poll { max, deadline_ms, reply: tx }) {
                return Err(Error::Closed);
            }
            match (Parked { rx: Some(rx), consumer: self }).await? {
                PollAnswer::Step(step) => self.run_step(step).await?,
                PollAnswer::Records(records) if records.is_empty() => return Ok(records),
                PollAnswer::Records(records) => {
                    if for_stream {
                        lock(&self.view).stream_buffer.extend(records);
                        return Ok(Vec::new());
                    }
                    return Ok(records);
                }
            }
        }
    }

    /// Runs one rebalance step the engine gave, then reports it done.
    async fn run_step(&self, step: Step) -> Result<()> {
        let listener = lock(&self.view).listener.clone();
        match step {
            Step::Revoke(parts) => {
                tracing::info!(partitions = parts.len(), "revoking partitions before rejoining");
                self.drop_stream_buffer(|tp| parts.contains(tp));
                if self.io.cfg.enable_auto_commit {
                    let deadline = tokio::time::Instant::now() + self.io.cfg.default_api_timeout;
                    if let Err(e) = self.commit_until(CommitWhat::Consumed(Some(parts.clone())), deadline).await {
                        tracing::warn!(error = %e, "the auto-commit before revocation failed");
                    }
                }
                listener.on_partitions_revoked(self, &parts).await;
                self.forget(&parts);
                self.send(Command::StepDone(StepDone::Revoked(parts)));
            }
            Step::Assign(parts) => {
                tracing::info!(partitions = parts.len(), "partitions assigned");
                // The engine takes the partitions first, so the listener
                // can seek in them.
                self.send(Command::ApplyAssignment(parts.clone()));
                {
                    let mut view = lock(&self.view);
                    view.assignment = parts.iter().cloned().collect();
                    let super::View { assignment, paused, .. } = &mut *view;
                    paused.retain(|tp| assignment.contains(tp));
                }
                listener.on_partitions_assigned(self, &parts).await;
                self.send(Command::StepDone(StepDone::Assigned(parts)));
            }
            Step::Lost(parts) => {
                tracing::warn!(partitions = parts.len(), "partitions lost: the group moved on without this member");
                self.drop_stream_buffer(|tp| parts.contains(tp));
                listener.on_partitions_lost(self, &parts).await;
                self.forget(&parts);
                self.send(Command::StepDone(StepDone::Lost(parts)));
            }
            Step::Fatal(reason) => {
                return Err(Error::Group { group: self.io.cfg.group_id.clone().unwrap_or_default(), reason });
            }
        }
        Ok(())
    }

    /// Drops partitions from the application's view.
    fn forget(&self, parts: &[super::TopicPartition]) {
        let mut view = lock(&self.view);
        view.assignment.retain(|tp| !parts.contains(tp));
        view.paused.retain(|tp| !parts.contains(tp));
    }
}
