//! ListOffsets: earliest, latest, by time, max timestamp; errors.

use super::common::{T0, batch, create, list_offsets, produce};
use crate::harness::Session;

pub async fn every_kind(s: &mut Session) {
    create(s, "lo-a", 1, &[]).await;
    s.call("ListOffsets v9 latest of an empty partition", 9, &list_offsets("lo-a", 0, -1)).await;
    s.quiet(11, &produce(1, "lo-a", 0, batch("a", 5, None))).await;
    s.quiet(11, &produce(1, "lo-a", 0, batch("b", 5, None))).await;
    for (v, what) in [(1, "v1"), (4, "v4"), (7, "v7"), (9, "v9"), (10, "v10")] {
        s.call(&format!("ListOffsets {what} earliest"), v, &list_offsets("lo-a", 0, -2)).await;
        s.call(&format!("ListOffsets {what} latest"), v, &list_offsets("lo-a", 0, -1)).await;
        s.call(&format!("ListOffsets {what} by time"), v, &list_offsets("lo-a", 0, T0 + 3)).await;
    }
    s.call("ListOffsets v9 a time after every record", 9, &list_offsets("lo-a", 0, T0 + 999_999)).await;
    s.call("ListOffsets v9 max timestamp", 9, &list_offsets("lo-a", 0, -3)).await;
    s.call("ListOffsets v9 a partition that does not exist", 9, &list_offsets("lo-a", 4, -1)).await;
    s.call("ListOffsets v9 an unknown topic", 9, &list_offsets("lo-nowhere", 0, -1)).await;
}
