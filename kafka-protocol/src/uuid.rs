//! Kafka's 128-bit identifiers (topic ids, directory ids).
//!
//! Kafka prints them as URL-safe base64 without padding (22 characters), not
//! in the dashed hex form; `Display` and `FromStr` follow Kafka.

use std::fmt;
use std::str::FromStr;

/// A 128-bit id such as a topic id. All zeroes means "no id".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid([u8; 16]);

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Uuid {
    /// The zero id, which Kafka uses for "unset".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// An id from its 16 bytes, most significant first.
    pub const fn from_bytes(b: [u8; 16]) -> Self {
        Uuid(b)
    }

    /// An id from a 128-bit number.
    pub const fn from_u128(v: u128) -> Self {
        Uuid(v.to_be_bytes())
    }

    /// The 16 bytes, most significant first.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The id as a 128-bit number.
    pub fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// True for [`Uuid::ZERO`].
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.as_u128();
        // 128 bits = 21 groups of 6 bits + 2 leftover bits, which base64 pads
        // with four zero bits into a 22nd character.
        let mut out = [0u8; 22];
        for (i, c) in out.iter_mut().enumerate() {
            let shift = 128i32 - 6 * (i as i32 + 1);
            let idx = if shift >= 0 { (v >> shift) & 0x3f } else { (v << (-shift)) & 0x3f };
            *c = B64[idx as usize];
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// Parsing a string that is not 22 characters of URL-safe base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Kafka id (22 characters of URL-safe base64): {0:?}")]
pub struct ParseUuidError(pub String);

impl FromStr for Uuid {
    type Err = ParseUuidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseUuidError(s.to_string());
        if s.len() != 22 {
            return Err(err());
        }
        let mut v: u128 = 0;
        for (i, c) in s.bytes().enumerate() {
            let d = B64.iter().position(|&b| b == c).ok_or_else(err)? as u128;
            if i < 21 {
                v = (v << 6) | d;
            } else {
                if d & 0x0f != 0 {
                    return Err(err());
                }
                v = (v << 2) | (d >> 4);
            }
        }
        Ok(Uuid::from_u128(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_text_form() {
        // Kafka prints the all-zero id as 22 'A's and id 1 ends in "AQ".
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(Uuid::from_u128(1).to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");
        for v in [0u128, 1, 12345, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            let id = Uuid::from_u128(v);
            assert_eq!(id.to_string().parse::<Uuid>().unwrap(), id);
        }
        assert!("short".parse::<Uuid>().is_err());
        assert!("AAAAAAAAAAAAAAAAAAAAAB".parse::<Uuid>().is_err());
    }
}
