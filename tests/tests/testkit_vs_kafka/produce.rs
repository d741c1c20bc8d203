//! Produce: acks levels, unknown topics and partitions, bad acks, corrupt
//! batches, oversized batches, idempotence (duplicates, gaps).

use super::common::{batch, create, produce};
use crate::harness::Session;

pub async fn appends_and_errors(s: &mut Session) {
    create(s, "pr-a", 2, &[("max.message.bytes", "1000")]).await;
    s.call("Produce v11 acks=1", 11, &produce(1, "pr-a", 0, batch("a", 3, None))).await;
    s.call("Produce v11 acks=-1", 11, &produce(-1, "pr-a", 0, batch("b", 2, None))).await;
    s.call("Produce v9 acks=1 (first flexible version)", 9, &produce(1, "pr-a", 1, batch("c", 1, None))).await;
    s.call("Produce v3 acks=1 (oldest accepted)", 3, &produce(1, "pr-a", 1, batch("d", 1, None))).await;
    s.call("Produce v11 to a partition that does not exist", 11, &produce(1, "pr-a", 7, batch("e", 1, None))).await;
    s.call("Produce v11 to an unknown topic", 11, &produce(1, "pr-nowhere", 0, batch("f", 1, None))).await;
    s.call("Produce v11 with acks=2", 11, &produce(2, "pr-a", 0, batch("g", 1, None))).await;
    let mut corrupt = batch("h", 2, None).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    s.call("Produce v11 with a corrupt CRC", 11, &produce(1, "pr-a", 0, corrupt.into())).await;
    s.call("Produce v11 above max.message.bytes", 11, &produce(1, "pr-a", 0, batch(&"x".repeat(300), 5, None))).await;
}

pub async fn idempotence(s: &mut Session) {
    create(s, "pr-idem", 1, &[]).await;
    super::common::producer_ids_ready(s).await;
    let init = super::common::init_producer_id();
    let r = s.call("InitProducerId v4", 4, &init).await.expect("InitProducerId answered");
    let (pid, epoch) = (r.producer_id, r.producer_epoch);
    s.call("Produce v11 idempotent, sequence 0", 11, &produce(-1, "pr-idem", 0, batch("i", 3, Some((pid, epoch, 0)))))
        .await;
    s.call(
        "Produce v11 idempotent, the same batch again (duplicate)",
        11,
        &produce(-1, "pr-idem", 0, batch("i", 3, Some((pid, epoch, 0)))),
    )
    .await;
    s.call(
        "Produce v11 idempotent, next sequence",
        11,
        &produce(-1, "pr-idem", 0, batch("j", 2, Some((pid, epoch, 3)))),
    )
    .await;
    s.call(
        "Produce v11 idempotent, a gap in sequences",
        11,
        &produce(-1, "pr-idem", 0, batch("k", 1, Some((pid, epoch, 9)))),
    )
    .await;
    s.call(
        "Produce v11 idempotent, a higher epoch from sequence 0",
        11,
        &produce(-1, "pr-idem", 0, batch("l", 1, Some((pid, epoch + 1, 0)))),
    )
    .await;
    s.call(
        "Produce v11 idempotent, the old epoch again",
        11,
        &produce(-1, "pr-idem", 0, batch("m", 1, Some((pid, epoch, 5)))),
    )
    .await;
}
