//! Why a log operation was refused.

use kafka_protocol::{DecodeError, ErrorCode};

/// Why a log operation was refused. Every variant leaves the log unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A fetch or lookup outside `[log_start_offset, log_end_offset]`.
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        offset: i64,
        /// The log start offset at the time.
        log_start_offset: i64,
        /// The log end offset at the time.
        log_end_offset: i64,
    },
    /// DeleteRecords past the high watermark, or with a negative offset;
    /// Kafka answers OFFSET_OUT_OF_RANGE.
    #[error("cannot move the log start offset to {offset}: the high watermark is {high_watermark}")]
    DeleteBeyondHighWatermark {
        /// The offset asked for.
        offset: i64,
        /// The bound it must not pass.
        high_watermark: i64,
    },
    /// A truncation target below zero.
    #[error("cannot truncate to negative offset {0}")]
    NegativeTruncation(i64),
    /// The bytes are not one well-formed v2 record batch.
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[source] DecodeError),
    /// A replicated batch whose CRC does not match its content.
    #[error("record batch at offset {base_offset} fails its CRC check")]
    CorruptBatch {
        /// The batch's base offset.
        base_offset: i64,
    },
    /// A follower was handed a batch that does not start at its log end
    /// offset (Kafka's UnexpectedAppendOffsetException).
    #[error("batch starts at offset {actual}, the log ends at {expected}")]
    UnexpectedAppendOffset {
        /// The log end offset.
        expected: i64,
        /// The batch's base offset.
        actual: i64,
    },
    /// A batch larger than a whole segment may be.
    #[error("record batch of {size} bytes exceeds the segment size of {max} bytes")]
    BatchTooLarge {
        /// The batch size.
        size: usize,
        /// The largest segment size.
        max: u64,
    },
    /// Offsets would pass `i64::MAX`.
    #[error("offset overflow appending {records} offsets at {log_end_offset}")]
    OffsetOverflow {
        /// The log end offset.
        log_end_offset: i64,
        /// The offsets the batch would take.
        records: i64,
    },
    /// A stored batch whose records cannot be read (timestamp lookups
    /// decompress and decode records).
    #[error("cannot read the records of the batch at offset {base_offset}: {source}")]
    UnreadableRecords {
        /// The batch's base offset.
        base_offset: i64,
        /// What the decoder said.
        #[source]
        source: DecodeError,
    },
}

impl LogError {
    /// The error code Kafka puts in a response for this failure.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::OffsetOutOfRange { .. } | LogError::DeleteBeyondHighWatermark { .. } => {
                ErrorCode::OFFSET_OUT_OF_RANGE
            }
            LogError::InvalidBatch(_) | LogError::CorruptBatch { .. } | LogError::UnreadableRecords { .. } => {
                ErrorCode::CORRUPT_MESSAGE
            }
            LogError::BatchTooLarge { .. } => ErrorCode::RECORD_LIST_TOO_LARGE,
            LogError::NegativeTruncation(_)
            | LogError::UnexpectedAppendOffset { .. }
            | LogError::OffsetOverflow { .. } => ErrorCode::UNKNOWN_SERVER_ERROR,
        }
    }
}
