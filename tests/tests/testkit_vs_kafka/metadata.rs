//! Metadata: named topics, unknown topics with and without auto-creation.

use super::common::{create, metadata};
use crate::harness::Session;

pub async fn known_and_unknown_topics(s: &mut Session) {
    create(s, "md-known", 2, &[]).await;
    for v in [4, 9, 12] {
        s.call(&format!("Metadata v{v}: a known topic"), v, &metadata(&["md-known"], false)).await;
    }
    s.call("Metadata v12: an unknown topic, no auto-creation", 12, &metadata(&["md-nowhere"], false)).await;
    s.call("Metadata v12: an invalid topic name", 12, &metadata(&["bad/name"], true)).await;
}
