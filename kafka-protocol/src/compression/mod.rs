//! Record-batch compression: gzip, snappy, lz4 and zstd, with Kafka's
//! framings, and decompression bounded by a caller-given limit so that a
//! small malicious batch cannot expand into gigabytes.
//!
//! | codec  | compress                          | decompress                               |
//! |--------|-----------------------------------|------------------------------------------|
//! | gzip   | RFC 1952, level 1–9 (default 6)   | one or more concatenated gzip members    |
//! | snappy | Java's xerial framing, 32 KiB blocks | xerial framing or a raw snappy block  |
//! | lz4    | LZ4 frame, 64 KiB independent blocks | LZ4 frame; Kafka's broken pre-0.10 header checksum for magic 0 |
//! | zstd   | zstd frame, level −131072–22 (default 3) | zstd frames                          |
//!
//! lz4 has no levels here: `lz4_flex` implements LZ4's fast compressor only
//! (the block format is the same whatever the level, so every reader reads
//! it), and we do not pretend otherwise.

mod gzip;
mod lz4;
mod snappy;
mod xxhash;
mod zstd;

/// The compression codec of a record batch (attribute bits 0–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Records stored as they are.
    #[default]
    None,
    /// gzip (DEFLATE).
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// The codec for attribute bits `id` (0–4).
    pub fn from_id(id: u8) -> Option<Compression> {
        Some(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }

    /// The attribute bits for this codec.
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// Kafka's name (`compression.type`): none, gzip, snappy, lz4, zstd.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// The codec for a `compression.type` name.
    pub fn from_name(name: &str) -> Option<Compression> {
        Some(match name {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            _ => return None,
        })
    }

    /// The levels this codec accepts, or None when it has no levels.
    pub fn level_range(self) -> Option<(i32, i32)> {
        match self {
            Compression::Gzip => Some((1, 9)),
            Compression::Zstd => Some((-131072, 22)),
            _ => None,
        }
    }

    /// The level used when none is given (Kafka's defaults).
    pub fn default_level(self) -> Option<i32> {
        match self {
            Compression::Gzip => Some(6),
            Compression::Zstd => Some(3),
            _ => None,
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A compression or decompression failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The data would decompress to more than the caller allows.
    #[error("{codec} data decompresses to more than the limit of {limit} bytes")]
    TooLarge {
        /// The codec.
        codec: Compression,
        /// The limit.
        limit: usize,
    },
    /// The data is not valid for the codec.
    #[error("invalid {codec} data: {reason}")]
    Corrupt {
        /// The codec.
        codec: Compression,
        /// What is wrong.
        reason: String,
    },
    /// A level outside the codec's range, or a level for a codec without levels.
    #[error("compression level {level} is not valid for {codec}")]
    InvalidLevel {
        /// The codec.
        codec: Compression,
        /// The level.
        level: i32,
    },
}

impl CompressionError {
    fn corrupt(codec: Compression, reason: impl std::fmt::Display) -> Self {
        CompressionError::Corrupt { codec, reason: reason.to_string() }
    }
}

/// Appends `input` compressed with `codec` to `out`. `level` None means the
/// codec's default.
pub fn compress(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    if let Some(l) = level {
        match codec.level_range() {
            Some((lo, hi)) if (lo..=hi).contains(&l) => {}
            _ => return Err(CompressionError::InvalidLevel { codec, level: l }),
        }
    }
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress(input, level.unwrap_or(6), out),
        Compression::Snappy => snappy::compress_xerial(input, out),
        Compression::Lz4 => lz4::compress(input, out),
        Compression::Zstd => zstd::compress(input, level.unwrap_or(3), out),
    }
}

/// Decompresses `input`, failing once the output would exceed `limit` bytes.
pub fn decompress(codec: Compression, input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(CompressionError::TooLarge { codec, limit });
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => gzip::decompress(input, limit),
        Compression::Snappy => snappy::decompress(input, limit),
        Compression::Lz4 => lz4::decompress(input, limit, false),
        Compression::Zstd => zstd::decompress(input, limit),
    }
}

/// Like [`decompress`] for lz4 data written by Kafka before 0.10 (magic 0
/// message sets), whose frame header checksum was computed wrongly.
pub fn decompress_legacy_lz4(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    lz4::decompress(input, limit, true)
}

/// Reads all of `reader` into a vector, failing past `limit` bytes.
fn read_bounded(mut reader: impl std::io::Read, codec: Compression, limit: usize) -> Result<Vec<u8>, CompressionError> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut limited = (&mut reader).take(limit as u64 + 1);
    limited.read_to_end(&mut out).map_err(|e| CompressionError::corrupt(codec, e))?;
    if out.len() > limit {
        return Err(CompressionError::TooLarge { codec, limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..200_000u32).flat_map(|i| format!("record {i} value {}\n", i % 97).into_bytes()).collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for codec in [Compression::None, Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut packed = Vec::new();
            compress(codec, None, &data, &mut packed).unwrap();
            if codec != Compression::None {
                assert!(packed.len() < data.len() / 3, "{codec} did not compress");
            }
            assert_eq!(decompress(codec, &packed, data.len()).unwrap(), data, "{codec}");
            assert_eq!(
                decompress(codec, &packed, data.len() - 1),
                Err(CompressionError::TooLarge { codec, limit: data.len() - 1 }),
                "{codec}"
            );
            // Empty input round-trips too.
            let mut empty = Vec::new();
            compress(codec, None, &[], &mut empty).unwrap();
            assert_eq!(decompress(codec, &empty, 0).unwrap(), Vec::<u8>::new(), "{codec}");
        }
    }

    #[test]
    fn levels_are_checked() {
        let mut out = Vec::new();
        assert!(compress(Compression::Gzip, Some(10), b"x", &mut out).is_err());
        assert!(compress(Compression::Lz4, Some(9), b"x", &mut out).is_err());
        assert!(compress(Compression::Zstd, Some(19), b"abc", &mut out).is_ok());
        assert!(compress(Compression::Gzip, Some(1), b"abc", &mut out).is_ok());
    }

    #[test]
    fn a_bomb_is_stopped_at_the_limit() {
        let zeros = vec![0u8; 50 << 20];
        for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut packed = Vec::new();
            compress(codec, None, &zeros, &mut packed).unwrap();
            assert!(packed.len() < 3 << 20, "{codec}: {}", packed.len());
            assert!(matches!(decompress(codec, &packed, 1 << 20), Err(CompressionError::TooLarge { .. })), "{codec}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut g = 0x1234_5678u32;
        for len in [0usize, 1, 7, 8, 16, 100, 1000] {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    g ^= g << 13;
                    g ^= g >> 17;
                    g ^= g << 5;
                    g as u8
                })
                .collect();
            for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
                let _ = decompress(codec, &junk, 1 << 20);
            }
        }
    }
}
