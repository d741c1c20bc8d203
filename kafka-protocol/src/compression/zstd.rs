//! Zstandard frames (KIP-110).

use super::{Compression, CompressionError, read_bounded};

pub(super) fn compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let packed = ::zstd::bulk::compress(input, level).map_err(|e| CompressionError::corrupt(Compression::Zstd, e))?;
    out.extend_from_slice(&packed);
    Ok(())
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    // Streaming, so the output grows with what the data really holds rather
    // than with the frame's declared size.
    let decoder = ::zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| CompressionError::corrupt(Compression::Zstd, e))?;
    read_bounded(decoder, Compression::Zstd, limit)
}
