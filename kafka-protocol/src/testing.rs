//! Random well-formed messages for property tests and cross-checks.
//!
//! [`Arbitrary`] is implemented for every generated struct: values respect
//! the version (fields it lacks stay at their default, nulls only where
//! allowed) and flexible versions carry a few unknown tagged fields. The
//! generator is a small deterministic PRNG so a failing seed reproduces.

use bytes::Bytes;

use crate::api::VersionRange;
use crate::codec::RawTaggedField;
use crate::messages::Message;
use crate::uuid::Uuid;

/// A deterministic source of random values (xorshift64*).
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
    unknown_tags: bool,
}

impl Gen {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Gen { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, unknown_tags: true }
    }

    /// Never generates unknown tagged fields: for comparing with
    /// implementations that drop them.
    pub fn without_unknown_tags(mut self) -> Self {
        self.unknown_tags = false;
        self
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A random boolean.
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// An integer biased toward small and boundary values.
    fn int(&mut self) -> i64 {
        match self.below(6) {
            0 => 0,
            1 => -1,
            2 => self.below(100) as i64,
            3 => i64::MAX,
            4 => i64::MIN,
            _ => self.next_u64() as i64,
        }
    }

    /// A random `i8`.
    pub fn i8(&mut self) -> i8 {
        self.int() as i8
    }
    /// A random `i16`.
    pub fn i16(&mut self) -> i16 {
        self.int() as i16
    }
    /// A random `i32`.
    pub fn i32(&mut self) -> i32 {
        self.int() as i32
    }
    /// A random `i64`.
    pub fn i64(&mut self) -> i64 {
        self.int()
    }
    /// A random `u16`.
    pub fn u16(&mut self) -> u16 {
        self.int() as u16
    }
    /// A random `u32`.
    pub fn u32(&mut self) -> u32 {
        self.int() as u32
    }
    /// A random finite `f64` (NaN would not compare equal to itself).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / 1024.0 - 1e12
    }

    /// A short string, sometimes empty, sometimes not ASCII.
    pub fn string(&mut self) -> String {
        let len = self.below(9) as usize;
        let mut s: String = (0..len).map(|_| (b'a' + self.below(26) as u8) as char).collect();
        if self.one_in(8) {
            s.push('é');
        }
        s
    }

    /// A short byte string.
    pub fn bytes(&mut self) -> Bytes {
        let len = self.below(24) as usize;
        (0..len).map(|_| self.next_u64() as u8).collect::<Vec<u8>>().into()
    }

    /// A random id.
    pub fn uuid(&mut self) -> Uuid {
        Uuid::from_u128((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64()))
    }

    /// Zero to three elements.
    pub fn vec<T>(&mut self, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        let n = self.below(4) as usize;
        (0..n).map(|_| f(self)).collect()
    }

    /// A few tagged fields with tags no message declares, in ascending order.
    pub fn unknown_tagged_fields(&mut self) -> Vec<RawTaggedField> {
        if !self.unknown_tags || !self.one_in(3) {
            return Vec::new();
        }
        let mut tag = 1000 + self.below(100) as u32;
        let mut out = Vec::new();
        for _ in 0..1 + self.below(2) {
            out.push(RawTaggedField { tag, data: self.bytes() });
            tag += 1 + self.below(300) as u32;
        }
        out
    }
}

/// Builds a random value valid at a version.
pub trait Arbitrary: Sized {
    /// A random value for `version`; `flexible` is that version's flexibility.
    fn arbitrary(g: &mut Gen, version: i16, flexible: bool) -> Self;
}

/// A message type, erased, for tests that iterate over every message.
#[derive(Clone, Copy)]
pub struct MessageCase {
    /// The message's name.
    pub name: &'static str,
    /// Its versions.
    pub versions: VersionRange,
    round_trip: fn(u64, i16) -> Result<usize, String>,
    decode_bytes: fn(&[u8], i16) -> bool,
    encode_random: fn(u64, i16) -> Result<Bytes, String>,
    sample: fn(u64, i16) -> Result<(Bytes, String), String>,
}

impl std::fmt::Debug for MessageCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} v{}-{}", self.name, self.versions.min, self.versions.max)
    }
}

impl MessageCase {
    /// The case for message type `M`.
    pub fn of<M: Message + Arbitrary>() -> Self {
        MessageCase {
            name: M::NAME,
            versions: M::VERSIONS,
            round_trip: round_trip::<M>,
            decode_bytes: |b, v| {
                let mut bytes = Bytes::copy_from_slice(b);
                M::decode(&mut bytes, v).is_ok()
            },
            encode_random: |seed, v| {
                let mut g = Gen::new(seed);
                let m = M::arbitrary(&mut g, v, M::is_flexible(v));
                m.to_bytes(v).map_err(|e| e.to_string())
            },
            sample: |seed, v| {
                let mut g = Gen::new(seed).without_unknown_tags();
                let m = M::arbitrary(&mut g, v, M::is_flexible(v));
                let bytes = m.to_bytes(v).map_err(|e| e.to_string())?;
                Ok((bytes, crate::json::ToJson::to_json(&m)))
            },
        }
    }

    /// Encodes a random value from `seed` at `version`, decodes it, and checks
    /// that the value and the re-encoded bytes are unchanged and that the
    /// predicted size is right. Returns the encoded size.
    pub fn round_trip(&self, seed: u64, version: i16) -> Result<usize, String> {
        (self.round_trip)(seed, version)
    }

    /// Decodes arbitrary bytes; true when they parse. Must never panic.
    pub fn decode_bytes(&self, bytes: &[u8], version: i16) -> bool {
        (self.decode_bytes)(bytes, version)
    }

    /// A random value without unknown tagged fields: its encoding and its
    /// JSON rendering, for cross-checks with other implementations.
    pub fn sample(&self, seed: u64, version: i16) -> Result<(Bytes, String), String> {
        (self.sample)(seed, version)
    }

    /// The encoding of a random value from `seed` at `version`.
    pub fn encode_random(&self, seed: u64, version: i16) -> Result<Bytes, String> {
        (self.encode_random)(seed, version)
    }
}

fn round_trip<M: Message + Arbitrary>(seed: u64, version: i16) -> Result<usize, String> {
    let mut g = Gen::new(seed);
    let original = M::arbitrary(&mut g, version, M::is_flexible(version));
    let bytes = original.to_bytes(version).map_err(|e| format!("encode: {e}"))?;
    if bytes.len() != original.encoded_len(version) {
        return Err(format!("encoded_len {} but wrote {}", original.encoded_len(version), bytes.len()));
    }
    let decoded = M::from_bytes(bytes.clone(), version).map_err(|e| format!("decode: {e}"))?;
    if decoded != original {
        return Err(format!("value changed:\n  before {original:?}\n  after  {decoded:?}"));
    }
    let again = decoded.to_bytes(version).map_err(|e| format!("re-encode: {e}"))?;
    if again != bytes {
        return Err("re-encoded bytes differ".to_string());
    }
    Ok(bytes.len())
}

include!(concat!(env!("OUT_DIR"), "/arbitrary.rs"));
