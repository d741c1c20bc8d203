//! The transactional producer's API: Java's five calls on [`Producer`], and
//! [`Transaction`], a value that is committed or aborted — never left open.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::oneshot;

use super::Phase;
use crate::TopicPartition;
use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::error::{Error, Result, TransactionErrorKind};
use crate::producer::engine::Command;
use crate::producer::{DeliveryFuture, Producer, ProducerRecord, SendError, lock};

/// The phase and error the engine publishes for `send`, which must refuse
/// records outside a transaction without asking the engine.
#[derive(Debug, Default)]
pub(crate) struct Published {
    phase: AtomicU8,
    error: Mutex<Option<Error>>,
}

impl Published {
    pub(crate) fn set(&self, phase: Phase, error: Option<&Error>) {
        if matches!(phase, Phase::AbortableError | Phase::FatalError) {
            *lock(&self.error) = error.cloned();
        }
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// Whether a record may be sent now.
    pub(crate) fn check_send(&self) -> Result<()> {
        match Phase::from_u8(self.phase.load(Ordering::SeqCst)) {
            Phase::InTransaction => Ok(()),
            Phase::AbortableError | Phase::FatalError => Err(lock(&self.error)
                .clone()
                .unwrap_or_else(|| Error::IllegalState("the transactional producer has failed".into()))),
            p => Err(Error::IllegalState(format!(
                "a transactional producer sends only inside a transaction (begin_transaction); now {}",
                p.describe()
            ))),
        }
    }
}

impl Producer {
    fn transactional_call(&self, call: &str) -> Result<()> {
        if self.shared.txn.is_none() {
            return Err(Error::IllegalState(format!("{call} needs transactional.id")));
        }
        Ok(())
    }

    /// Gives the engine a call and waits, up to `max.block.ms`, for its
    /// result. When the wait times out the call goes on in the background,
    /// and calling it again waits for the same result (as Java's).
    async fn call_engine(&self, call: &str, make: impl FnOnce(oneshot::Sender<Result<()>>) -> Command) -> Result<()> {
        self.transactional_call(call)?;
        let (reply, answer) = oneshot::channel();
        if !self.tell(make(reply)) {
            return Err(Error::Closed);
        }
        let max_block = self.shared.cfg.max_block;
        match tokio::time::timeout(max_block, answer).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout { what: format!("{call} to complete (max.block.ms)"), after: max_block }),
        }
    }

    /// Java's `initTransactions`: finds the transaction coordinator and
    /// registers the `transactional.id`, which fences any older producer
    /// with the same id and completes (aborts) a transaction it left open.
    /// Call once, before the first transaction. Fails at once without
    /// `transactional.id`; with [`Error::Timeout`] after `max.block.ms`
    /// (calling it again waits for the same registration).
    ///
    /// ```no_run
    /// # async fn demo() -> kafka_client::Result<()> {
    /// use kafka_client::producer::Producer;
    /// let producer = Producer::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .transactional_id("orders-writer-1")
    ///     .build()?;
    /// producer.init_transactions().await?;
    /// # Ok(()) }
    /// ```
    pub async fn init_transactions(&self) -> Result<()> {
        self.call_engine("init_transactions", Command::InitTransactions).await
    }

    /// Java's `beginTransaction`: opens a transaction; records sent until
    /// it commits or aborts belong to it. Fails when one is open or the
    /// producer has failed; waits for a commit or abort still completing.
    /// Prefer [`Producer::transaction`], which cannot be left open.
    pub async fn begin_transaction(&self) -> Result<()> {
        self.call_engine("begin_transaction", Command::BeginTransaction).await
    }

    /// Java's `sendOffsetsToTransaction`: commits a consumer group's
    /// offsets as part of the open transaction, so they count only if it
    /// commits (consume-transform-produce exactly once). `group` is the
    /// consumer's [`crate::consumer::Consumer::group_metadata`]: the
    /// coordinator refuses the commit of a member that has been replaced,
    /// which makes the transaction abortable.
    ///
    /// ```no_run
    /// # async fn demo(producer: kafka_client::producer::Producer, consumer: kafka_client::consumer::Consumer) -> kafka_client::Result<()> {
    /// use kafka_client::TopicPartition;
    /// use kafka_client::consumer::OffsetAndMetadata;
    /// let next = vec![(TopicPartition::new("in", 0), OffsetAndMetadata::new(42))];
    /// producer.send_offsets_to_transaction(next, &consumer.group_metadata().unwrap()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let offsets: Vec<_> = offsets.into_iter().collect();
        let group = group.clone();
        self.call_engine("send_offsets_to_transaction", move |reply| Command::SendOffsets { group, offsets, reply })
            .await
    }

    /// Java's `commitTransaction`: sends what the transaction holds, waits
    /// until every record has its result, then commits. If a record
    /// failed, or the coordinator refuses, it fails with
    /// [`Error::Transaction`]: an [`TransactionErrorKind::Abortable`] error
    /// asks for [`Producer::abort_transaction`], a fenced or fatal one for
    /// closing the producer.
    pub async fn commit_transaction(&self) -> Result<()> {
        self.call_engine("commit_transaction", |reply| Command::EndTransaction { commit: true, reply: Some(reply) })
            .await
    }

    /// Java's `abortTransaction`: records of the transaction not yet sent
    /// fail ([`TransactionErrorKind::Aborted`]), those sent are waited for,
    /// then the coordinator aborts the transaction: `read_committed`
    /// consumers never see its records, and its offsets are not committed.
    pub async fn abort_transaction(&self) -> Result<()> {
        self.call_engine("abort_transaction", |reply| Command::EndTransaction { commit: false, reply: Some(reply) })
            .await
    }

    /// Opens a transaction (after a commit or abort still completing) and
    /// returns it: a value that must be committed or aborted. Dropped
    /// without either — an early `?`, a panic — it is aborted in the
    /// background, and the next transaction begins once that is done.
    ///
    /// A consume-transform-produce loop, exactly once:
    ///
    /// ```no_run
    /// # async fn demo() -> kafka_client::Result<()> {
    /// use std::time::Duration;
    /// use kafka_client::consumer::{Consumer, IsolationLevel, OffsetAndMetadata};
    /// use kafka_client::producer::{Producer, ProducerRecord};
    /// use kafka_client::{TopicPartition, TransactionErrorKind};
    ///
    /// let consumer = Consumer::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .group_id("doubler")
    ///     .enable_auto_commit(false)
    ///     .isolation_level(IsolationLevel::ReadCommitted)
    ///     .build()?;
    /// consumer.subscribe(["numbers"])?;
    /// let producer = Producer::builder()
    ///     .bootstrap_servers("127.0.0.1:9092")
    ///     .transactional_id("doubler-1")
    ///     .build()?;
    /// producer.init_transactions().await?;
    /// loop {
    ///     let records = consumer.poll(Duration::from_millis(500)).await?;
    ///     if records.is_empty() {
    ///         continue;
    ///     }
    ///     let txn = producer.transaction().await?;
    ///     let mut next = std::collections::BTreeMap::new();
    ///     for r in records.iter() {
    ///         let n: i64 = std::str::from_utf8(r.value.as_deref().unwrap_or_default()).unwrap_or("0").parse().unwrap_or(0);
    ///         txn.send(ProducerRecord::new("doubled").value((2 * n).to_string())).await.map_err(|e| e.error)?;
    ///         next.insert(TopicPartition::new(r.topic.as_ref(), r.partition), OffsetAndMetadata::new(r.offset + 1));
    ///     }
    ///     txn.send_offsets(next, &consumer.group_metadata().unwrap()).await?;
    ///     match txn.commit().await {
    ///         Ok(()) => {}
    ///         // Aborted already: read the records again from the
    ///         // committed offsets.
    ///         Err(e) if e.transaction_error_kind() == Some(TransactionErrorKind::Abortable) => {
    ///             let assigned: Vec<TopicPartition> = consumer.assignment().into_iter().collect();
    ///             for (tp, committed) in consumer.committed(&assigned).await? {
    ///                 consumer.seek(&tp, committed.map_or(0, |o| o.offset))?;
    ///             }
    ///         }
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn transaction(&self) -> Result<Transaction> {
        self.begin_transaction().await?;
        Ok(Transaction { producer: self.clone(), open: true })
    }
}

/// An open transaction of a transactional producer ([`Producer::transaction`]).
/// It ends by [`Transaction::commit`] or [`Transaction::abort`]; dropped
/// open, it is aborted in the background.
#[must_use = "a transaction that is neither committed nor aborted is aborted when dropped"]
#[derive(Debug)]
pub struct Transaction {
    producer: Producer,
    open: bool,
}

impl Transaction {
    /// Sends a record as part of the transaction ([`Producer::send`]).
    pub async fn send(&self, record: ProducerRecord) -> std::result::Result<DeliveryFuture, SendError> {
        self.producer.send(record).await
    }

    /// Commits a consumer group's offsets with the transaction
    /// ([`Producer::send_offsets_to_transaction`]).
    pub async fn send_offsets(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        self.producer.send_offsets_to_transaction(offsets, group).await
    }

    /// Commits the transaction ([`Producer::commit_transaction`]). When the
    /// commit fails with an abortable error the transaction is aborted in
    /// the background before this returns the error, so nothing is left
    /// open; the next [`Producer::transaction`] waits for that abort.
    pub async fn commit(mut self) -> Result<()> {
        self.open = false;
        let r = self.producer.commit_transaction().await;
        if let Err(e) = &r
            && e.transaction_error_kind() == Some(TransactionErrorKind::Abortable)
        {
            self.producer.tell(Command::EndTransaction { commit: false, reply: None });
        }
        r
    }

    /// Aborts the transaction ([`Producer::abort_transaction`]).
    pub async fn abort(mut self) -> Result<()> {
        self.open = false;
        self.producer.abort_transaction().await
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.open {
            self.producer.tell(Command::EndTransaction { commit: false, reply: None });
        }
    }
}
