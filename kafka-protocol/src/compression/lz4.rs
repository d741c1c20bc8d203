//! LZ4 frames, as Kafka has used them since 0.10 (KIP-57).
//!
//! Kafka before 0.10 computed the frame header checksum over the magic
//! number as well as the descriptor. Magic-0 message sets written then still
//! carry that checksum; to read them we recompute the checksum the standard
//! way and patch the header before decoding.

use std::io::{Read, Write};

use super::xxhash::xxh32;
use super::{Compression, CompressionError, read_bounded};

const MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

fn corrupt(reason: impl std::fmt::Display) -> CompressionError {
    CompressionError::corrupt(Compression::Lz4, reason)
}

pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let info = lz4_flex::frame::FrameInfo::new()
        .block_size(lz4_flex::frame::BlockSize::Max64KB)
        .block_mode(lz4_flex::frame::BlockMode::Independent);
    let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
    enc.write_all(input).map_err(corrupt)?;
    enc.finish().map_err(corrupt)?;
    Ok(())
}

/// Length of the frame descriptor (FLG, BD, optional content size and
/// dictionary id) that follows the magic number.
fn descriptor_len(input: &[u8]) -> Result<usize, CompressionError> {
    let flg = *input.get(4).ok_or_else(|| corrupt("truncated frame header"))?;
    let mut len = 2;
    if flg & 0x08 != 0 {
        len += 8; // content size
    }
    if flg & 0x01 != 0 {
        len += 4; // dictionary id
    }
    Ok(len)
}

pub(super) fn decompress(input: &[u8], limit: usize, legacy_checksum: bool) -> Result<Vec<u8>, CompressionError> {
    if input.len() < 7 || input[..4] != MAGIC {
        return Err(corrupt("not an LZ4 frame"));
    }
    let fixed;
    let data = if legacy_checksum {
        let desc = descriptor_len(input)?;
        let hc_at = 4 + desc;
        if input.len() <= hc_at {
            return Err(corrupt("truncated frame header"));
        }
        let mut copy = input.to_vec();
        copy[hc_at] = (xxh32(&input[4..hc_at], 0) >> 8) as u8;
        fixed = copy;
        &fixed[..]
    } else {
        input
    };
    let decoder = lz4_flex::frame::FrameDecoder::new(data);
    read_bounded(LimitedRead(decoder), Compression::Lz4, limit)
}

/// Keeps the decoder's `Read` errors as they are; exists so `read_bounded`
/// owns the reader.
struct LimitedRead<R>(R);

impl<R: Read> Read for LimitedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_header_checksum_is_repaired() {
        let data = b"magic zero lz4 ".repeat(1000);
        let mut frame = Vec::new();
        compress(&data, &mut frame).unwrap();
        // Rewrite the header checksum the way Kafka 0.8/0.9 computed it:
        // over the magic number and the descriptor.
        let desc = descriptor_len(&frame).unwrap();
        frame[4 + desc] = (xxh32(&frame[..4 + desc], 0) >> 8) as u8;
        assert!(decompress(&frame, data.len(), false).is_err());
        assert_eq!(decompress(&frame, data.len(), true).unwrap(), data);
    }
}
