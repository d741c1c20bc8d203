//! Control records: the commit and abort markers a transaction coordinator
//! writes into each partition a transaction touched. The key holds a version
//! and the type; the value of a marker holds a version and the coordinator
//! epoch. Consumers skip control batches.

use crate::error::DecodeError;

/// The kind of control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The transaction was aborted.
    Abort,
    /// The transaction was committed.
    Commit,
    /// A type this crate does not interpret (KRaft metadata markers, …).
    Other(i16),
}

impl ControlRecordType {
    fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(t) => t,
        }
    }
}

/// A decoded control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRecord {
    /// The kind.
    pub kind: ControlRecordType,
    /// Epoch of the coordinator that wrote a commit or abort marker.
    pub coordinator_epoch: i32,
}

impl ControlRecord {
    /// Reads a control record from its key and value.
    pub fn parse(key: &[u8], value: Option<&[u8]>) -> Result<ControlRecord, DecodeError> {
        if key.len() < 4 {
            return Err(DecodeError::invalid(format!("control record key of {} bytes, need 4", key.len())));
        }
        let version = i16::from_be_bytes([key[0], key[1]]);
        if version < 0 {
            return Err(DecodeError::invalid(format!("control record key version {version}")));
        }
        let kind = match i16::from_be_bytes([key[2], key[3]]) {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            t => ControlRecordType::Other(t),
        };
        let coordinator_epoch = match (kind, value) {
            (ControlRecordType::Abort | ControlRecordType::Commit, Some(v)) if v.len() >= 6 => {
                i32::from_be_bytes([v[2], v[3], v[4], v[5]])
            }
            (ControlRecordType::Abort | ControlRecordType::Commit, _) => {
                return Err(DecodeError::invalid("transaction marker without a 6-byte value"));
            }
            _ => -1,
        };
        Ok(ControlRecord { kind, coordinator_epoch })
    }

    /// The key: version 0 and the type.
    pub fn key_bytes(&self) -> [u8; 4] {
        let t = self.kind.id().to_be_bytes();
        [0, 0, t[0], t[1]]
    }

    /// The value: version 0 and the coordinator epoch.
    pub fn value_bytes(&self) -> [u8; 6] {
        let e = self.coordinator_epoch.to_be_bytes();
        [0, 0, e[0], e[1], e[2], e[3]]
    }
}
