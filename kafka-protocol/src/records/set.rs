//! The `records` bytes of a Produce request or Fetch response: entries back
//! to back, each a v2 batch or a legacy message. Both formats put the magic
//! byte at position 16, after a 12-byte offset-and-length prefix. A fetch
//! may end in a partial entry; iteration stops there and says so.

use bytes::Bytes;

use super::batch::{LOG_OVERHEAD, RecordBatch};
use crate::error::DecodeError;

/// The `length` of the smallest valid entry (a magic-0 message with null key and value).
const MIN_ENTRY_LEN: i32 = 14;

/// One entry of a record set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordSetEntry {
    /// A v2 record batch.
    Batch(RecordBatch),
    /// One magic-0/1 message (offset and size prefix included); decode it
    /// with [`super::legacy::decode_message_set`].
    Legacy(Bytes),
}

/// Iterator over the entries of a `records` field.
#[derive(Debug, Clone)]
pub struct RecordSet {
    rest: Bytes,
    partial: bool,
}

impl RecordSet {
    /// Iterates over `records`.
    pub fn new(records: Bytes) -> Self {
        RecordSet { rest: records, partial: false }
    }

    /// True once iteration stopped at an entry cut short by the end of the
    /// data (normal at the end of a fetch).
    pub fn ended_in_partial(&self) -> bool {
        self.partial
    }

    /// Bytes not yet iterated over (0 once iteration ended).
    pub fn remaining_bytes(&self) -> usize {
        self.rest.len()
    }
}

impl Iterator for RecordSet {
    type Item = Result<RecordSetEntry, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < LOG_OVERHEAD + 5 {
            self.partial = true;
            self.rest.clear();
            return None;
        }
        let len = i32::from_be_bytes([self.rest[8], self.rest[9], self.rest[10], self.rest[11]]);
        // The smallest entry is a magic-0 message (crc, magic, attributes and
        // two null lengths: 14 bytes); anything shorter cannot even hold the
        // magic byte, so it is corrupt, not partial.
        if len < MIN_ENTRY_LEN {
            self.rest.clear();
            return Some(Err(DecodeError::invalid(format!("record set entry with invalid length {len}"))));
        }
        let size = LOG_OVERHEAD + len as usize;
        if self.rest.len() < size {
            self.partial = true;
            self.rest.clear();
            return None;
        }
        let entry = self.rest.split_to(size);
        match entry[16] as i8 {
            2 => Some(RecordBatch::new(entry).map(RecordSetEntry::Batch)),
            0 | 1 => Some(Ok(RecordSetEntry::Legacy(entry))),
            m => {
                self.rest.clear();
                Some(Err(DecodeError::invalid(format!("unknown record format magic {m}"))))
            }
        }
    }
}
