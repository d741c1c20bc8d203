//! A fast hasher for the client's hot maps (partition queues, topic
//! metadata), keyed by names the application chose, not by untrusted input:
//! std's SipHash guards against hash flooding, which nothing here needs,
//! and costs several times more per short key. The mixing is FxHash's
//! (rotate, xor, multiply by a large odd constant), word at a time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TopicPartition;

    #[test]
    fn distinct_partitions_hash_apart() {
        let mut m: FastMap<TopicPartition, i32> = FastMap::default();
        for t in ["a", "b", "orders", "orders-eu"] {
            for p in 0..64 {
                m.insert(TopicPartition::new(t, p), p);
            }
        }
        assert_eq!(m.len(), 256);
        assert_eq!(m[&TopicPartition::new("orders", 17)], 17);
    }
}
