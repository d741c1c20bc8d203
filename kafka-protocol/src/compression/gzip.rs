//! gzip: what Kafka's Java client writes with `GZIPOutputStream`.

use std::io::Write;

use flate2::write::GzEncoder;

use super::{Compression, CompressionError, read_bounded};

pub(super) fn compress(input: &[u8], level: i32, out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let mut enc = GzEncoder::new(out, flate2::Compression::new(level.clamp(0, 9) as u32));
    enc.write_all(input).map_err(|e| CompressionError::corrupt(Compression::Gzip, e))?;
    enc.finish().map_err(|e| CompressionError::corrupt(Compression::Gzip, e))?;
    Ok(())
}

pub(super) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    // Several concatenated members are legal gzip and Java reads them all.
    read_bounded(flate2::read::MultiGzDecoder::new(input), Compression::Gzip, limit)
}
