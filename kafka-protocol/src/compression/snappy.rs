//! Snappy, raw and in the framing of xerial's `SnappyOutputStream`, which the
//! Java client writes: an 8-byte magic, two 4-byte versions, then blocks each
//! prefixed by its compressed length (big-endian `i32`).

use super::{Compression, CompressionError};

const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;
/// xerial's default block size.
const BLOCK: usize = 32 * 1024;

fn corrupt(reason: impl std::fmt::Display) -> CompressionError {
    CompressionError::corrupt(Compression::Snappy, reason)
}

pub(super) fn compress_xerial(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    out.extend_from_slice(XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes()); // version
    out.extend_from_slice(&1i32.to_be_bytes()); // minimum compatible version
    let mut enc = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(BLOCK)];
    for chunk in input.chunks(BLOCK) {
        let n = enc.compress(chunk, &mut block).map_err(corrupt)?;
        out.extend_from_slice(&(n as i32).to_be_bytes());
        out.extend_from_slice(&block[..n]);
    }
    Ok(())
}

/// Decompresses one raw block, appending to `out` within `limit` in total.
fn raw_block(block: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), CompressionError> {
    let len = snap::raw::decompress_len(block).map_err(corrupt)?;
    if out.len() + len > limit {
        return Err(CompressionError::TooLarge { codec: Compression::Snappy, limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let n = snap::raw::Decoder::new().decompress(block, &mut out[start..]).map_err(corrupt)?;
    out.truncate(start + n);
    Ok(())
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    if input.len() >= XERIAL_HEADER_LEN && &input[..8] == XERIAL_MAGIC {
        let mut rest = &input[XERIAL_HEADER_LEN..];
        while !rest.is_empty() {
            let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                return Err(corrupt("truncated xerial block length"));
            };
            let len = i32::from_be_bytes(*len);
            if len < 0 || len as usize > tail.len() {
                return Err(corrupt(format!("xerial block length {len} exceeds the {} bytes left", tail.len())));
            }
            let (block, next) = tail.split_at(len as usize);
            raw_block(block, &mut out, limit)?;
            rest = next;
        }
    } else {
        raw_block(input, &mut out, limit)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_snappy_as_librdkafka_may_send_it() {
        let data = b"hello hello hello hello hello kafka".repeat(50);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(&raw, data.len()).unwrap(), data);
    }

    #[test]
    fn xerial_header_is_javas() {
        let mut out = Vec::new();
        compress_xerial(b"abc", &mut out).unwrap();
        assert_eq!(&out[..16], b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01");
    }

    #[test]
    fn xerial_blocks_are_bounded() {
        let mut out = Vec::new();
        compress_xerial(&[7u8; 100_000], &mut out).unwrap();
        assert!(decompress(&out, 99_999).is_err());
        let mut cut = out.clone();
        cut.truncate(out.len() - 3);
        assert!(decompress(&cut, 1 << 20).is_err());
    }
}
