//! `kafka-dump-log`: Kafka 4.0's `DumpLogSegments` over segment files in
//! Kafka's on-disk format.
//!
//! - `.log` (and KRaft `.checkpoint` snapshots): one line per batch, and
//!   with `--deep-iteration` or `--print-data-log` one `| offset: …` line
//!   per record; the payloads with `--print-data-log`.
//! - `.index`: `offset: N position: P` per entry, each checked against the
//!   batch found at that position.
//! - `.timeindex`: `timestamp: T offset: O` per entry, each checked against
//!   the largest record timestamp of the batch ending at that offset.
//! - `.txnindex`: one line per aborted transaction.
//! - `.snapshot` (producer state): one line per producer; a snapshot of
//!   another version or with a bad CRC is reported on stderr, as Kafka's
//!   `CorruptSnapshotException` is.
//!
//! Problems found along the way (index entries that do not match the log,
//! offsets that skip) are printed to stderr after all files, as Kafka does.
//! An index file may end in zeros — Kafka preallocates the active
//! segment's indexes — and a zero relative offset after the first entry
//! ends the index (Kafka's rule). The first entry is always an entry, even
//! when it is all zeros: Kafka 4.0 and 4.4 then print it and report it as a
//! mismatch, so an active segment's index dumps as one zero entry and a
//! warning, not as empty (compared with Kafka's own tool on segments a real
//! broker wrote).

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_protocol::Compression;
use kafka_protocol::records::{BatchHeader, RecordBatch};

use crate::cli::Failure;

/// `--max-bytes` default: Kafka's `Integer.MAX_VALUE` (the whole file).
pub const DEFAULT_MAX_BYTES: u64 = i32::MAX as u64;
/// `--max-message-size` default.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 5 * 1024 * 1024;
/// Bound on the decompressed size of one batch.
const DECOMPRESS_LIMIT: usize = 1 << 30;
/// Bytes up to and including the magic byte: offset, length, epoch or crc, magic.
const HEADER_UP_TO_MAGIC: u64 = 17;
/// Offset and length.
const LOG_OVERHEAD: u64 = 12;
/// The smallest legacy message (`LegacyRecord.RECORD_OVERHEAD_V0`).
const MIN_RECORD_SIZE: i64 = 14;

/// How `--key-decoder-class` / `--value-decoder-class` turn bytes into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// `StringDecoder` (the default): UTF-8.
    String,
    /// `IntegerDecoder`: the first 4 bytes as a big-endian integer.
    Integer,
    /// `LongDecoder`: the first 8 bytes as a big-endian integer.
    Long,
    /// `DefaultDecoder`: the bytes as they are.
    Raw,
}

impl Decoder {
    /// The decoder for a class name (the package may be left out).
    pub fn from_class(name: &str) -> Result<Decoder, Failure> {
        Ok(match name.trim().rsplit('.').next().unwrap_or("") {
            "StringDecoder" => Decoder::String,
            "IntegerDecoder" => Decoder::Integer,
            "LongDecoder" => Decoder::Long,
            "DefaultDecoder" => Decoder::Raw,
            _ => {
                return Err(Failure::usage(format!(
                    "unknown decoder class {name}: supported are StringDecoder, IntegerDecoder, LongDecoder and \
                     DefaultDecoder"
                )));
            }
        })
    }

    fn decode(self, b: &[u8], offset: i64) -> Result<Vec<u8>, Failure> {
        let short = |n: usize| {
            Failure::new(format!("record at offset {offset}: {n} bytes needed to decode, found {}", b.len()))
        };
        Ok(match self {
            Decoder::String => String::from_utf8_lossy(b).into_owned().into_bytes(),
            Decoder::Raw => b.to_vec(),
            Decoder::Integer => {
                let a: [u8; 4] = b.get(..4).and_then(|s| s.try_into().ok()).ok_or_else(|| short(4))?;
                i32::from_be_bytes(a).to_string().into_bytes()
            }
            Decoder::Long => {
                let a: [u8; 8] = b.get(..8).and_then(|s| s.try_into().ok()).ok_or_else(|| short(8))?;
                i64::from_be_bytes(a).to_string().into_bytes()
            }
        })
    }
}

/// The tool's settings.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// `--print-data-log`: print keys and payloads (implies deep iteration).
    pub print_data_log: bool,
    /// `--deep-iteration`: one line per record.
    pub deep_iteration: bool,
    /// `--skip-record-metadata`: record lines without offsets, sizes, …
    pub skip_record_metadata: bool,
    /// `--verify-index-only`: check index entries without printing them.
    pub verify_index_only: bool,
    /// `--index-sanity-check`: only Kafka's start-up sanity check of indexes.
    pub index_sanity_only: bool,
    /// `--max-message-size`: bytes read at an index entry's position.
    pub max_message_size: u64,
    /// `--max-bytes`: how much of a log file to read.
    pub max_bytes: u64,
    /// `--key-decoder-class`.
    pub key_decoder: Decoder,
    /// `--value-decoder-class`.
    pub value_decoder: Decoder,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            print_data_log: false,
            deep_iteration: false,
            skip_record_metadata: false,
            verify_index_only: false,
            index_sanity_only: false,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_bytes: DEFAULT_MAX_BYTES,
            key_decoder: Decoder::String,
            value_decoder: Decoder::String,
        }
    }
}

/// What went wrong: the output could not be written (a closed pipe is
/// normal for `| head`), or an input could not be read or is corrupt.
#[derive(Debug)]
pub enum DumpError {
    /// Writing the dump failed.
    Output(io::Error),
    /// A file could not be read, or is not in Kafka's format.
    Input(Failure),
}

impl From<io::Error> for DumpError {
    fn from(e: io::Error) -> Self {
        DumpError::Output(e)
    }
}

impl From<Failure> for DumpError {
    fn from(e: Failure) -> Self {
        DumpError::Input(e)
    }
}

/// Inconsistencies collected over all files, reported at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    /// Per `.index` file: (index offset, offset of the batch found there; -1 for none).
    pub index_mismatches: Vec<(PathBuf, Vec<(i64, i64)>)>,
    /// Per `.timeindex`: (index timestamp, largest record timestamp of its batch).
    pub time_mismatches: Vec<(PathBuf, Vec<(i64, i64)>)>,
    /// Per `.timeindex`: (index timestamp, previous index timestamp) not increasing.
    pub out_of_order: Vec<(PathBuf, Vec<(i64, i64)>)>,
    /// Per `.timeindex`: (index offset, last offset of the batch found instead; -1 for none).
    pub offsets_not_found: Vec<(PathBuf, Vec<(i64, i64)>)>,
    /// Per `.log`: (offset, the offset that followed it) where offsets skip.
    pub non_consecutive: Vec<(PathBuf, Vec<(i64, i64)>)>,
}

impl Problems {
    /// Whether anything was found.
    pub fn is_empty(&self) -> bool {
        self.index_mismatches.is_empty()
            && self.time_mismatches.is_empty()
            && self.out_of_order.is_empty()
            && self.offsets_not_found.is_empty()
            && self.non_consecutive.is_empty()
    }

    fn add(list: &mut Vec<(PathBuf, Vec<(i64, i64)>)>, file: &Path, pair: (i64, i64)) {
        let file = absolute(file);
        match list.iter_mut().find(|(f, _)| *f == file) {
            Some((_, v)) => v.push(pair),
            None => list.push((file, vec![pair])),
        }
    }

    /// Kafka's report, for stderr. Index mismatches and skipped offsets are
    /// listed newest first, as Kafka's prepend-built lists print them.
    pub fn write(&self, w: &mut dyn Write) -> io::Result<()> {
        for (file, pairs) in &self.index_mismatches {
            writeln!(w, "Mismatches in :{}", file.display())?;
            for (index, log) in pairs.iter().rev() {
                writeln!(w, "  Index offset: {index}, log offset: {log}")?;
            }
        }
        for (file, pairs) in &self.time_mismatches {
            writeln!(w, "Found timestamp mismatch in :{}", file.display())?;
            for (index, log) in pairs {
                writeln!(w, "  Index timestamp: {index}, log timestamp: {log}")?;
            }
        }
        for (file, pairs) in &self.out_of_order {
            writeln!(w, "Found out of order timestamp in :{}", file.display())?;
            for (index, prev) in pairs {
                writeln!(w, "  Index timestamp: {index}, Previously indexed timestamp: {prev}")?;
            }
        }
        for (_, pairs) in &self.offsets_not_found {
            writeln!(w, "The following indexed offsets are not found in the log.")?;
            for (index, log) in pairs {
                writeln!(w, "Indexed offset: {index}, found log offset: {log}")?;
            }
        }
        for (file, pairs) in &self.non_consecutive {
            writeln!(w, "Non-consecutive offsets in {}", file.display())?;
            for (first, second) in pairs.iter().rev() {
                writeln!(w, "  {first} is followed by {second}")?;
            }
        }
        Ok(())
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Dumps one file, choosing by its suffix as Kafka does. Files of unknown
/// kinds are skipped with a note on `err`.
pub fn dump_file(
    path: &Path,
    opts: &DumpOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
    problems: &mut Problems,
) -> Result<(), DumpError> {
    writeln!(out, "Dumping {}", path.display())?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let suffix = name.rfind('.').map(|i| &name[i..]).unwrap_or("");
    match suffix {
        ".log" => {
            writeln!(out, "Log starting offset: {}", base_offset(path)?)?;
            dump_log(path, opts, out, problems)
        }
        ".checkpoint" => {
            if name == "bootstrap.checkpoint" {
                writeln!(out, "KRaft bootstrap snapshot")?;
            } else {
                let (offset, epoch) = snapshot_id(&name).ok_or_else(|| {
                    Failure::new(format!("{}: not a snapshot file name (<offset>-<epoch>.checkpoint)", path.display()))
                })?;
                writeln!(out, "Snapshot end offset: {offset}, epoch: {epoch}")?;
            }
            dump_log(path, opts, out, problems)
        }
        ".index" => dump_index(path, opts, out, problems),
        ".timeindex" => dump_time_index(path, opts, out, problems),
        ".txnindex" => dump_txn_index(path, out),
        ".snapshot" => dump_producer_snapshot(path, out, err),
        _ => {
            writeln!(err, "Ignoring unknown file {}", path.display())?;
            Ok(())
        }
    }
}

/// The base offset in a segment file's name (`00000000000000000042.log`).
pub fn base_offset(path: &Path) -> Result<i64, Failure> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let digits = name.split('.').next().unwrap_or("");
    digits.parse::<i64>().map_err(|_| {
        Failure::new(format!("{}: the file name does not start with a segment base offset", path.display()))
    })
}

/// A sibling file of the same segment with another suffix.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.split('.').next().unwrap_or("");
    path.with_file_name(format!("{stem}{suffix}"))
}

fn snapshot_id(name: &str) -> Option<(i64, i32)> {
    let stem = name.strip_suffix(".checkpoint")?;
    let (offset, epoch) = stem.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(offset) || !all_digits(epoch) {
        return None;
    }
    Some((offset.parse().ok()?, epoch.parse().ok()?))
}

fn read_error(path: &Path, e: io::Error) -> Failure {
    Failure::new(format!("cannot read {}: {e}", path.display()))
}

// ------------------------------------------------------------------ log --

/// A legacy (magic 0 or 1) message, as stored.
#[derive(Debug, Clone)]
struct LegacyMessage {
    offset: i64,
    crc: u32,
    crc_valid: bool,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    size: usize,
}

impl LegacyMessage {
    /// Parses one message with its offset and size prefix from the front of `b`.
    fn parse(b: &[u8]) -> Result<LegacyMessage, String> {
        if b.len() < 12 + MIN_RECORD_SIZE as usize {
            return Err(format!("legacy message of {} bytes is too short", b.len()));
        }
        let offset = i64::from_be_bytes(b[0..8].try_into().map_err(|_| "truncated")?);
        let size = i32::from_be_bytes(b[8..12].try_into().map_err(|_| "truncated")?);
        if size < MIN_RECORD_SIZE as i32 || 12 + size as usize > b.len() {
            return Err(format!("legacy message at offset {offset} has invalid size {size}"));
        }
        let m = &b[12..12 + size as usize];
        let crc = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
        let crc_valid = crc32fast::hash(&m[4..]) == crc;
        let magic = m[4] as i8;
        let attributes = m[5] as i8;
        let mut pos = 6;
        let timestamp = if magic >= 1 {
            let t = m.get(pos..pos + 8).ok_or("legacy message truncated")?;
            pos += 8;
            i64::from_be_bytes(t.try_into().map_err(|_| "truncated")?)
        } else {
            -1
        };
        let field = |pos: &mut usize| -> Result<Option<Bytes>, String> {
            let l = m.get(*pos..*pos + 4).ok_or("legacy message truncated")?;
            *pos += 4;
            let len = i32::from_be_bytes(l.try_into().map_err(|_| "truncated")?);
            if len < 0 {
                return Ok(None);
            }
            let v = m.get(*pos..*pos + len as usize).ok_or("legacy message field overruns the message")?;
            *pos += len as usize;
            Ok(Some(Bytes::copy_from_slice(v)))
        };
        let key = field(&mut pos)?;
        let value = field(&mut pos)?;
        Ok(LegacyMessage { offset, crc, crc_valid, magic, attributes, timestamp, key, value, size: 12 + size as usize })
    }

    fn compression(&self) -> Result<Compression, String> {
        let id = (self.attributes & 0x07) as u8;
        Compression::from_id(id).ok_or_else(|| format!("Unknown compression type id: {id}"))
    }

    fn timestamp_type(&self) -> &'static str {
        match self.magic {
            0 => "NoTimestampType",
            _ if self.attributes & 0x08 != 0 => "LogAppendTime",
            _ => "CreateTime",
        }
    }

    /// The records it holds: itself, or the messages of a compressed wrapper
    /// (with absolute offsets, and the wrapper's time for LogAppendTime).
    fn records(&self) -> Result<Vec<LegacyMessage>, String> {
        let codec = self.compression()?;
        if codec == Compression::None {
            return Ok(vec![self.clone()]);
        }
        let packed = self.value.as_deref().ok_or("compressed legacy message without a value")?;
        let data = if codec == Compression::Lz4 && self.magic == 0 {
            kafka_protocol::compression::decompress_legacy_lz4(packed, DECOMPRESS_LIMIT)
        } else {
            kafka_protocol::compression::decompress(codec, packed, DECOMPRESS_LIMIT)
        }
        .map_err(|e| e.to_string())?;
        let mut inner = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let m = LegacyMessage::parse(rest)?;
            rest = &rest[m.size..];
            inner.push(m);
        }
        let last_relative = inner.last().map_or(0, |m| m.offset);
        for m in &mut inner {
            if self.magic >= 1 {
                // Hostile offsets must not overflow: they are data, not arithmetic we trust.
                m.offset = self
                    .offset
                    .checked_sub(last_relative)
                    .and_then(|base| base.checked_add(m.offset))
                    .ok_or_else(|| format!("inner offset {} out of range", m.offset))?;
                if self.attributes & 0x08 != 0 {
                    m.timestamp = self.timestamp;
                }
            }
        }
        Ok(inner)
    }
}

/// One entry of a log file.
#[derive(Debug, Clone)]
enum Entry {
    V2(RecordBatch),
    Legacy(LegacyMessage),
}

impl Entry {
    fn last_offset(&self) -> i64 {
        match self {
            Entry::V2(b) => b.header().last_offset(),
            Entry::Legacy(m) => m.offset,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Entry::V2(b) => b.as_bytes().len() as u64,
            Entry::Legacy(m) => m.size as u64,
        }
    }
}

/// Reads the entries of a log file in order, as Kafka's
/// `FileLogInputStream` does: an entry cut short by the end of the readable
/// range ends the iteration; a size below the minimum is corruption.
struct LogReader {
    path: PathBuf,
    file: BufReader<File>,
    /// Where the reader is in the file.
    at: u64,
    len: u64,
}

impl LogReader {
    fn open(path: &Path) -> Result<LogReader, Failure> {
        let file = File::open(path).map_err(|e| read_error(path, e))?;
        let len = file.metadata().map_err(|e| read_error(path, e))?.len();
        Ok(LogReader { path: path.to_path_buf(), file: BufReader::with_capacity(1 << 16, file), at: 0, len })
    }

    fn seek(&mut self, pos: u64) -> Result<(), Failure> {
        if pos != self.at {
            self.file.seek(SeekFrom::Start(pos)).map_err(|e| read_error(&self.path, e))?;
            self.at = pos;
        }
        Ok(())
    }

    fn read(&mut self, n: usize) -> Result<Vec<u8>, Failure> {
        let mut buf = vec![0u8; n];
        self.file.read_exact(&mut buf).map_err(|e| read_error(&self.path, e))?;
        self.at += n as u64;
        Ok(buf)
    }

    /// The entry at `pos` if it lies wholly before `end`.
    fn entry_at(&mut self, pos: u64, end: u64) -> Result<Option<Entry>, Failure> {
        let end = end.min(self.len);
        if pos.saturating_add(HEADER_UP_TO_MAGIC) >= end {
            return Ok(None);
        }
        self.seek(pos)?;
        let head = self.read(HEADER_UP_TO_MAGIC as usize)?;
        let offset = i64::from_be_bytes(head[0..8].try_into().unwrap_or([0; 8]));
        let size = i64::from(i32::from_be_bytes([head[8], head[9], head[10], head[11]]));
        if size < MIN_RECORD_SIZE {
            return Err(Failure::new(format!(
                "Found record size {size} smaller than minimum record overhead ({MIN_RECORD_SIZE}) in file {}.",
                self.path.display()
            )));
        }
        if pos.saturating_add(LOG_OVERHEAD + size as u64) > end {
            return Ok(None);
        }
        let mut bytes = head;
        bytes.extend(self.read(size as usize + LOG_OVERHEAD as usize - HEADER_UP_TO_MAGIC as usize)?);
        let magic = bytes[16] as i8;
        let bad = |e: String| {
            Failure::new(format!("{}: corrupt batch at position {pos} (offset {offset}): {e}", self.path.display()))
        };
        match magic {
            2 => RecordBatch::new(Bytes::from(bytes)).map(Entry::V2).map_err(|e| bad(e.to_string())).map(Some),
            0 | 1 => LegacyMessage::parse(&bytes).map(Entry::Legacy).map_err(bad).map(Some),
            m => Err(bad(format!("unknown record format magic {m}"))),
        }
    }
}

/// The text of a control record for the record line.
fn control_text(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<String, String> {
    let key = key.unwrap_or(&[]);
    if key.len() < 4 {
        return Err(format!(
            "Invalid value size found for end control record key. Must have at least 4 bytes, but found only {}",
            key.len()
        ));
    }
    let version = i16::from_be_bytes([key[0], key[1]]);
    if version < 0 {
        return Err(format!("Invalid version found for control record: {version}. May indicate data corruption"));
    }
    let type_id = i16::from_be_bytes([key[2], key[3]]);
    let name = match type_id {
        0 => "ABORT",
        1 => "COMMIT",
        2 => "LEADER_CHANGE",
        3 => "SNAPSHOT_HEADER",
        4 => "SNAPSHOT_FOOTER",
        5 => "KRAFT_VERSION",
        6 => "KRAFT_VOTERS",
        _ => "UNKNOWN",
    };
    if type_id == 0 || type_id == 1 {
        let v = value.unwrap_or(&[]);
        if v.len() < 6 {
            return Err(format!("Invalid value size found for end transaction marker: {} bytes", v.len()));
        }
        let epoch = i32::from_be_bytes([v[2], v[3], v[4], v[5]]);
        return Ok(format!(" endTxnMarker: {name} coordinatorEpoch: {epoch}"));
    }
    Ok(format!(" controlType: {name}({type_id})"))
}

/// The batch line's fields after the batch-specific start.
fn batch_line(e: &Entry, position: u64) -> Result<String, String> {
    Ok(match e {
        Entry::V2(b) => {
            let h: &BatchHeader = b.header();
            let ts_type = match h.timestamp_type() {
                kafka_protocol::records::TimestampType::CreateTime => "CreateTime",
                kafka_protocol::records::TimestampType::LogAppendTime => "LogAppendTime",
            };
            let horizon = if h.has_delete_horizon() {
                format!("OptionalLong[{}]", h.base_timestamp)
            } else {
                "OptionalLong.empty".to_string()
            };
            let codec = h.compression().map_err(|_| format!("Unknown compression type id: {}", h.attributes & 0x07))?;
            format!(
                "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} \
                 producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {} \
                 position: {position} {ts_type}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}",
                h.base_offset,
                h.last_offset(),
                h.record_count,
                h.base_sequence,
                h.last_sequence(),
                h.producer_id,
                h.producer_epoch,
                h.partition_leader_epoch,
                h.is_transactional(),
                h.is_control(),
                horizon,
                h.max_timestamp,
                b.as_bytes().len(),
                h.magic,
                codec.name(),
                h.crc,
                b.crc_is_valid(),
            )
        }
        Entry::Legacy(m) => format!(
            "offset: {} position: {position} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}",
            m.offset,
            m.timestamp_type(),
            m.timestamp,
            m.size,
            m.magic,
            m.compression()?.name(),
            m.crc,
            m.crc_valid,
        ),
    })
}

/// One record's line (without the newline).
struct RecordLine<'a> {
    offset: i64,
    ts_type: &'a str,
    timestamp: i64,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    /// v2: sequence and header keys.
    v2: Option<(i32, Vec<&'a str>)>,
    /// legacy: valid and crc.
    legacy: Option<(bool, u32)>,
    control: bool,
}

fn write_record(line: &RecordLine<'_>, opts: &DumpOptions, out: &mut dyn Write) -> Result<(), DumpError> {
    let mut s: Vec<u8> = Vec::new();
    let mut prefix = "| ";
    if !opts.skip_record_metadata {
        let size = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64);
        s.extend_from_slice(
            format!(
                "{prefix}offset: {} {}: {} keySize: {} valueSize: {}",
                line.offset,
                line.ts_type,
                line.timestamp,
                size(line.key),
                size(line.value)
            )
            .as_bytes(),
        );
        prefix = " ";
        if let Some((seq, keys)) = &line.v2 {
            s.extend_from_slice(format!(" sequence: {seq} headerKeys: [{}]", keys.join(",")).as_bytes());
        }
        if let Some((valid, crc)) = line.legacy {
            // Kafka's format string has a stray closing brace here.
            s.extend_from_slice(format!(" isValid: {valid} crc: {crc}}}").as_bytes());
        }
        if line.control {
            let text = control_text(line.key, line.value)
                .map_err(|e| Failure::new(format!("control record at offset {}: {e}", line.offset)))?;
            s.extend_from_slice(text.as_bytes());
        }
    }
    if opts.print_data_log && !line.control {
        if let Some(k) = line.key {
            s.extend_from_slice(prefix.as_bytes());
            s.extend_from_slice(b"key: ");
            s.extend(opts.key_decoder.decode(k, line.offset)?);
        }
        if let Some(v) = line.value {
            s.extend_from_slice(b" payload: ");
            s.extend(opts.value_decoder.decode(v, line.offset)?);
        }
    }
    s.push(b'\n');
    out.write_all(&s)?;
    Ok(())
}

fn dump_log(path: &Path, opts: &DumpOptions, out: &mut dyn Write, problems: &mut Problems) -> Result<(), DumpError> {
    let mut reader = LogReader::open(path)?;
    let end = reader.len.min(opts.max_bytes);
    let deep = opts.deep_iteration || opts.print_data_log;
    let mut position = 0u64;
    let mut last_offset: Option<i64> = None;
    let mut check = |offset: i64, problems: &mut Problems| {
        if let Some(last) = last_offset
            && offset != last + 1
        {
            Problems::add(&mut problems.non_consecutive, path, (last, offset));
        }
        last_offset = Some(offset);
    };
    let corrupt = |e: String| Failure::new(format!("{}: {e}", path.display()));
    while let Some(entry) = reader.entry_at(position, end)? {
        writeln!(out, "{}", batch_line(&entry, position).map_err(corrupt)?)?;
        if deep {
            match &entry {
                Entry::V2(batch) => {
                    let h = batch.header();
                    let ts_type = match h.timestamp_type() {
                        kafka_protocol::records::TimestampType::CreateTime => "CreateTime",
                        kafka_protocol::records::TimestampType::LogAppendTime => "LogAppendTime",
                    };
                    let records = batch.records(DECOMPRESS_LIMIT).map_err(|e| corrupt(e.to_string()))?;
                    for r in records {
                        let r = r.map_err(|e| corrupt(format!("batch at offset {}: {e}", h.base_offset)))?;
                        check(r.offset, problems);
                        let delta = r.offset - h.base_offset;
                        let sequence = if h.base_sequence < 0 {
                            -1
                        } else {
                            // Sequences wrap at i32::MAX, as in Kafka.
                            let s = i64::from(h.base_sequence) + delta;
                            if s > i64::from(i32::MAX) { (s - i64::from(i32::MAX) - 1) as i32 } else { s as i32 }
                        };
                        let keys = r.headers.iter().map(|h| h.key.as_str()).collect();
                        let line = RecordLine {
                            offset: r.offset,
                            ts_type,
                            timestamp: r.timestamp,
                            key: r.key.as_deref(),
                            value: r.value.as_deref(),
                            v2: Some((sequence, keys)),
                            legacy: None,
                            control: h.is_control(),
                        };
                        write_record(&line, opts, out)?;
                    }
                }
                Entry::Legacy(m) => {
                    for r in m.records().map_err(|e| corrupt(format!("message at offset {}: {e}", m.offset)))? {
                        check(r.offset, problems);
                        let line = RecordLine {
                            offset: r.offset,
                            ts_type: m.timestamp_type(),
                            timestamp: r.timestamp,
                            key: r.key.as_deref(),
                            value: r.value.as_deref(),
                            v2: None,
                            legacy: Some((r.crc_valid, r.crc)),
                            control: false,
                        };
                        write_record(&line, opts, out)?;
                    }
                }
            }
        }
        position += entry.size();
    }
    let trailing = end - position;
    if trailing > 0 && opts.max_bytes == DEFAULT_MAX_BYTES {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        writeln!(out, "Found {trailing} invalid bytes at the end of {name}")?;
    }
    Ok(())
}

// -------------------------------------------------------------- indexes --

/// The entries of an index file that are entries, not preallocated zeros:
/// (relative offset or timestamp, …) pairs decoded by `decode`.
fn read_entries<T>(
    path: &Path,
    entry_size: usize,
    decode: impl Fn(&[u8]) -> T,
    is_zero_tail: impl Fn(usize, &T) -> bool,
) -> Result<(Vec<T>, u64), Failure> {
    let bytes = std::fs::read(path).map_err(|e| read_error(path, e))?;
    let mut entries = Vec::new();
    for (i, chunk) in bytes.chunks_exact(entry_size).enumerate() {
        let e = decode(chunk);
        if is_zero_tail(i, &e) {
            break;
        }
        entries.push(e);
    }
    Ok((entries, bytes.len() as u64))
}

/// `(relative offset, position)` entries of an offset index.
fn offset_index(path: &Path) -> Result<(Vec<(i32, i32)>, u64), Failure> {
    read_entries(
        path,
        8,
        |c| (i32::from_be_bytes([c[0], c[1], c[2], c[3]]), i32::from_be_bytes([c[4], c[5], c[6], c[7]])),
        |i, &(rel, _)| rel == 0 && i > 0,
    )
}

/// `(timestamp, relative offset)` entries of a time index.
fn time_index(path: &Path) -> Result<(Vec<(i64, i32)>, u64), Failure> {
    read_entries(
        path,
        12,
        |c| {
            let mut t = [0u8; 8];
            t.copy_from_slice(&c[..8]);
            (i64::from_be_bytes(t), i32::from_be_bytes([c[8], c[9], c[10], c[11]]))
        },
        |i, &(_, rel)| rel == 0 && i > 0,
    )
}

fn dump_index(path: &Path, opts: &DumpOptions, out: &mut dyn Write, problems: &mut Problems) -> Result<(), DumpError> {
    let base = base_offset(path)?;
    let mut log = LogReader::open(&sibling(path, ".log"))?;
    let (entries, len) = offset_index(path)?;
    if entries.is_empty() {
        writeln!(out, "{} is empty.", path.display())?;
        return Ok(());
    }
    if opts.index_sanity_only {
        let abs = absolute(path);
        if let Some(&(rel, _)) = entries.last()
            && rel < 0
        {
            return Err(Failure::new(format!(
                "Corrupt index found, index file ({}) has non-zero size but the last offset is {} which is less \
                 than the base offset {base}",
                abs.display(),
                base + i64::from(rel)
            ))
            .into());
        }
        if len % 8 != 0 {
            return Err(Failure::new(format!(
                "Index file {} is corrupt, found {len} bytes which is neither positive nor a multiple of 8",
                abs.display()
            ))
            .into());
        }
        writeln!(out, "{} passed sanity check.", path.display())?;
        return Ok(());
    }
    for (rel, pos) in entries {
        let offset = base + i64::from(rel);
        let pos_u = u64::try_from(pos).unwrap_or(u64::MAX);
        let found = match log.entry_at(pos_u, pos_u.saturating_add(opts.max_message_size)) {
            Ok(Some(e)) => e.last_offset(),
            Ok(None) | Err(_) => -1,
        };
        if found != offset {
            Problems::add(&mut problems.index_mismatches, path, (offset, found));
        }
        if !opts.verify_index_only {
            writeln!(out, "offset: {offset} position: {pos}")?;
        }
    }
    Ok(())
}

/// The largest record timestamp of an entry (deep: compressed batches are
/// opened), as Kafka checks time index entries.
fn max_record_timestamp(e: &Entry) -> Result<i64, String> {
    let mut max = -1i64;
    match e {
        Entry::V2(b) => {
            for r in b.records(DECOMPRESS_LIMIT).map_err(|e| e.to_string())? {
                max = max.max(r.map_err(|e| e.to_string())?.timestamp);
            }
        }
        Entry::Legacy(m) => {
            for r in m.records()? {
                max = max.max(r.timestamp);
            }
        }
    }
    Ok(max)
}

fn dump_time_index(
    path: &Path,
    opts: &DumpOptions,
    out: &mut dyn Write,
    problems: &mut Problems,
) -> Result<(), DumpError> {
    let base = base_offset(path)?;
    let mut log = LogReader::open(&sibling(path, ".log"))?;
    let (index, _) = offset_index(&sibling(path, ".index"))?;
    let (entries, len) = time_index(path)?;
    if opts.index_sanity_only {
        let abs = absolute(path);
        if let (Some(&(first_ts, _)), Some(&(last_ts, last_rel))) = (entries.first(), entries.last()) {
            if last_ts < first_ts {
                return Err(Failure::new(format!(
                    "Corrupt time index found, time index file ({}) has non-zero size but the last timestamp is \
                     {last_ts} which is less than the first timestamp {first_ts}",
                    abs.display()
                ))
                .into());
            }
            if last_rel < 0 {
                return Err(Failure::new(format!(
                    "Corrupt time index found, time index file ({}) has non-zero size but the last offset is {} \
                     which is less than the first offset {base}",
                    abs.display(),
                    base + i64::from(last_rel)
                ))
                .into());
            }
        }
        if len % 12 != 0 {
            return Err(Failure::new(format!(
                "Time index file {} is corrupt, found {len} bytes which is neither positive nor a multiple of 12",
                abs.display()
            ))
            .into());
        }
        writeln!(out, "{} passed sanity check.", path.display())?;
        return Ok(());
    }
    let mut prev_ts = -1i64;
    for (ts, rel) in entries {
        let offset = base + i64::from(rel);
        // Where to start looking: the offset index's entry at or below the offset.
        let start = index.iter().rev().find(|(r, _)| base + i64::from(*r) <= offset).map_or(0, |&(_, p)| p.max(0));
        let mut pos = start as u64;
        let mut found = None;
        while let Some(e) = log.entry_at(pos, u64::MAX)? {
            pos += e.size();
            if e.last_offset() >= offset {
                found = Some(e);
                break;
            }
        }
        match found {
            None => Problems::add(&mut problems.offsets_not_found, path, (offset, -1)),
            Some(e) if e.last_offset() != offset => {
                Problems::add(&mut problems.offsets_not_found, path, (offset, e.last_offset()))
            }
            Some(e) => {
                let max = max_record_timestamp(&e).map_err(|m| Failure::new(format!("{}: {m}", log.path.display())))?;
                if max != ts {
                    Problems::add(&mut problems.time_mismatches, path, (ts, max));
                }
                if prev_ts >= ts {
                    Problems::add(&mut problems.out_of_order, path, (ts, prev_ts));
                }
            }
        }
        if !opts.verify_index_only {
            writeln!(out, "timestamp: {ts} offset: {offset}")?;
        }
        prev_ts = ts;
    }
    Ok(())
}

fn dump_txn_index(path: &Path, out: &mut dyn Write) -> Result<(), DumpError> {
    const ENTRY: usize = 34;
    let bytes = std::fs::read(path).map_err(|e| read_error(path, e))?;
    if bytes.len() % ENTRY != 0 {
        return Err(Failure::new(format!(
            "{}: {} bytes is not a whole number of {ENTRY}-byte aborted transaction entries",
            path.display(),
            bytes.len()
        ))
        .into());
    }
    let long = |c: &[u8], at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&c[at..at + 8]);
        i64::from_be_bytes(b)
    };
    for c in bytes.chunks_exact(ENTRY) {
        writeln!(
            out,
            "version: {} producerId: {} firstOffset: {} lastOffset: {} lastStableOffset: {}",
            i16::from_be_bytes([c[0], c[1]]),
            long(c, 2),
            long(c, 10),
            long(c, 18),
            long(c, 26)
        )?;
    }
    Ok(())
}

/// Kafka's producer snapshot (`ProducerStateManager`, version 1):
/// `version:i16 crc:u32 count:i32`, then per producer `producer_id:i64
/// epoch:i16 last_sequence:i32 last_offset:i64 offset_delta:i32
/// timestamp:i64 coordinator_epoch:i32 current_txn_first_offset:i64`; the
/// CRC32C covers everything after the CRC.
fn dump_producer_snapshot(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), DumpError> {
    const ENTRY: usize = 46;
    let bytes = std::fs::read(path).map_err(|e| read_error(path, e))?;
    let be = |at: usize, n: usize| -> Option<i64> {
        let b = bytes.get(at..at + n)?;
        Some(b.iter().fold(0i64, |acc, x| (acc << 8) | i64::from(*x)))
    };
    let (Some(version), Some(crc), Some(count)) = (be(0, 2), be(2, 4), be(6, 4)) else {
        writeln!(err, "Snapshot failed schema validation: {} bytes is too short", bytes.len())?;
        return Ok(());
    };
    let version = version as i16;
    if version != 1 {
        writeln!(err, "Snapshot contained an unknown file version {version}")?;
        return Ok(());
    }
    let computed = crc32c::crc32c(&bytes[6..]);
    if crc != i64::from(computed) {
        writeln!(err, "Snapshot is corrupt (CRC is no longer valid). Stored crc: {crc}. Computed crc: {computed}")?;
        return Ok(());
    }
    let count = count as i32;
    let entries = &bytes[10..];
    if count < 0 || entries.len() < count as usize * ENTRY {
        writeln!(err, "Snapshot failed schema validation: {count} entries do not fit in {} bytes", entries.len())?;
        return Ok(());
    }
    for i in 0..count as usize {
        let at = 10 + i * ENTRY;
        let field = |off: usize, n: usize| be(at + off, n).unwrap_or_default();
        let sign = |v: i64, bits: u32| (v << (64 - bits)) >> (64 - bits);
        let producer_id = field(0, 8);
        let epoch = sign(field(8, 2), 16);
        let last_seq = sign(field(10, 4), 32);
        let last_offset = field(14, 8);
        let offset_delta = sign(field(22, 4), 32);
        let timestamp = field(26, 8);
        let coordinator_epoch = sign(field(34, 4), 32);
        let txn_first = field(38, 8);
        let txn_first = if txn_first >= 0 { format!("OptionalLong[{txn_first}]") } else { "OptionalLong.empty".into() };
        write!(
            out,
            "producerId: {producer_id} producerEpoch: {epoch} coordinatorEpoch: {coordinator_epoch} \
             currentTxnFirstOffset: {txn_first} lastTimestamp: {timestamp}"
        )?;
        if last_offset >= 0 {
            // Kafka's `decrementSequence`: sequences wrap below 0 to i32::MAX.
            let first_seq = if last_seq < offset_delta {
                i64::from(i32::MAX) - (offset_delta - last_seq) + 1
            } else {
                last_seq - offset_delta
            };
            write!(
                out,
                " firstSequence: {first_seq} lastSequence: {last_seq} lastOffset: {last_offset} \
                 offsetDelta: {offset_delta} timestamp: {timestamp}"
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::{BatchBuilder, Header, batch};

    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
            let p = std::env::temp_dir().join(format!("dump-log-{name}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn batch(base: i64, ts: i64, values: &[&str], producer: Option<(i64, i16, i32)>) -> Vec<u8> {
        let mut b = BatchBuilder::new(Compression::None, None);
        if let Some((id, epoch, seq)) = producer {
            b.set_producer(id, epoch, seq);
        }
        for (i, v) in values.iter().enumerate() {
            let headers = if i == 0 { vec![Header::new("h", "x")] } else { vec![] };
            b.append(ts + i as i64, Some(format!("k{i}").as_bytes()), Some(v.as_bytes()), &headers);
        }
        let mut bytes = b.finish().unwrap().to_vec();
        batch::set_base_offset(&mut bytes, base);
        bytes
    }

    fn run(files: &[&Path], opts: &DumpOptions) -> (String, String) {
        let (mut out, mut err, mut problems) = (Vec::new(), Vec::new(), Problems::default());
        for f in files {
            if let Err(e) = dump_file(f, opts, &mut out, &mut err, &mut problems) {
                panic!("{e:?}");
            }
        }
        problems.write(&mut err).unwrap();
        (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    }

    #[test]
    fn producer_snapshots_print_like_kafkas_and_corrupt_ones_are_reported() {
        let dir = Dir::new("snapshot");
        // Two producers: one with a batch (sequences 8-9 at offsets 4-5)
        // and an open transaction, one known only from a marker.
        let mut entries = Vec::new();
        for (pid, epoch, seq, offset, delta, ts, coord, txn) in
            [(7i64, 1i16, 9i32, 5i64, 1i32, 1000i64, -1i32, 4i64), (8, 2, -1, -1, 0, 2000, 3, -1)]
        {
            entries.extend(pid.to_be_bytes());
            entries.extend(epoch.to_be_bytes());
            entries.extend(seq.to_be_bytes());
            entries.extend(offset.to_be_bytes());
            entries.extend(delta.to_be_bytes());
            entries.extend(ts.to_be_bytes());
            entries.extend(coord.to_be_bytes());
            entries.extend(txn.to_be_bytes());
        }
        let mut body = 2i32.to_be_bytes().to_vec();
        body.extend(entries);
        let mut bytes = 1i16.to_be_bytes().to_vec();
        bytes.extend(crc32c::crc32c(&body).to_be_bytes());
        bytes.extend(&body);
        let path = dir.0.join("00000000000000000006.snapshot");
        std::fs::write(&path, &bytes).unwrap();
        let (out, err) = run(&[&path], &DumpOptions::default());
        assert_eq!(err, "");
        assert_eq!(
            out,
            format!(
                "Dumping {}\n\
                 producerId: 7 producerEpoch: 1 coordinatorEpoch: -1 currentTxnFirstOffset: OptionalLong[4] \
                 lastTimestamp: 1000 firstSequence: 8 lastSequence: 9 lastOffset: 5 offsetDelta: 1 timestamp: 1000\n\
                 producerId: 8 producerEpoch: 2 coordinatorEpoch: 3 currentTxnFirstOffset: OptionalLong.empty \
                 lastTimestamp: 2000\n",
                path.display()
            )
        );
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (out, err) = run(&[&path], &DumpOptions::default());
        assert_eq!(out, format!("Dumping {}\n", path.display()));
        assert!(err.starts_with("Snapshot is corrupt (CRC is no longer valid). Stored crc: "), "{err}");
    }

    #[test]
    fn log_index_and_time_index() {
        let dir = Dir::new("all");
        let b0 = batch(0, 1000, &["a", "b"], Some((7, 0, 0)));
        let b1 = batch(2, 2000, &["c"], Some((7, 0, 2)));
        let log = dir.0.join("00000000000000000000.log");
        std::fs::write(&log, [b0.clone(), b1.clone()].concat()).unwrap();
        let idx = dir.0.join("00000000000000000000.index");
        // One real entry and a preallocated zero tail.
        let mut index = [2i32.to_be_bytes(), (b0.len() as i32).to_be_bytes()].concat();
        index.extend([0u8; 16]);
        std::fs::write(&idx, index).unwrap();
        let tidx = dir.0.join("00000000000000000000.timeindex");
        let mut t = [2000i64.to_be_bytes().to_vec(), 2i32.to_be_bytes().to_vec()].concat();
        t.extend([0u8; 24]);
        std::fs::write(&tidx, t).unwrap();

        let opts = DumpOptions { print_data_log: true, ..DumpOptions::default() };
        let (out, err) = run(&[&log, &idx, &tidx], &opts);
        let crc0 = u32::from_be_bytes(b0[17..21].try_into().unwrap());
        let expected = format!(
            "Dumping {log}\nLog starting offset: 0\n\
             baseOffset: 0 lastOffset: 1 count: 2 baseSequence: 0 lastSequence: 1 producerId: 7 producerEpoch: 0 \
             partitionLeaderEpoch: -1 isTransactional: false isControl: false deleteHorizonMs: OptionalLong.empty \
             position: 0 CreateTime: 1001 size: {s0} magic: 2 compresscodec: none crc: {crc0} isvalid: true\n\
             | offset: 0 CreateTime: 1000 keySize: 2 valueSize: 1 sequence: 0 headerKeys: [h] key: k0 payload: a\n\
             | offset: 1 CreateTime: 1001 keySize: 2 valueSize: 1 sequence: 1 headerKeys: [] key: k1 payload: b\n",
            log = log.display(),
            s0 = b0.len(),
        );
        assert!(out.starts_with(&expected), "{out}");
        assert!(
            out.contains(&format!("Dumping {}\noffset: 2 position: {}\nDumping", idx.display(), b0.len())),
            "{out}"
        );
        assert!(out.ends_with(&format!("Dumping {}\ntimestamp: 2000 offset: 2\n", tidx.display())), "{out}");
        assert_eq!(err, "");
    }

    #[test]
    fn problems_are_reported() {
        let dir = Dir::new("bad");
        let b0 = batch(0, 1000, &["a"], None);
        let mut b1 = batch(5, 2000, &["b"], None);
        let last = b1.len() - 1;
        b1[last] ^= 1; // a header value byte changes: the CRC no longer matches
        let log = dir.0.join("00000000000000000000.log");
        std::fs::write(&log, [b0.clone(), b1, vec![0u8; 5]].concat()).unwrap();
        let idx = dir.0.join("00000000000000000000.index");
        std::fs::write(&idx, [4i32.to_be_bytes(), (b0.len() as i32).to_be_bytes()].concat()).unwrap();
        let opts = DumpOptions { deep_iteration: true, ..DumpOptions::default() };
        let (out, err) = run(&[&log, &idx], &opts);
        assert!(out.contains("isvalid: false"), "{out}");
        assert!(out.contains("Found 5 invalid bytes at the end of 00000000000000000000.log"), "{out}");
        assert!(err.contains("  Index offset: 4, log offset: 5\n"), "{err}");
        assert!(err.contains("  0 is followed by 5\n"), "{err}");
    }

    #[test]
    fn legacy_messages() {
        let dir = Dir::new("legacy");
        let mut m = kafka_protocol::records::legacy::encode_message(3, 1, 0, 1234, Some(b"k"), Some(b"v"));
        m.extend(kafka_protocol::records::legacy::encode_message(4, 0, 0, -1, None, Some(b"w")));
        let log = dir.0.join("00000000000000000003.log");
        std::fs::write(&log, m).unwrap();
        let (out, _) = run(&[&log], &DumpOptions { print_data_log: true, ..DumpOptions::default() });
        assert!(
            out.contains("offset: 3 position: 0 CreateTime: 1234 size: 36 magic: 1 compresscodec: none crc: "),
            "{out}"
        );
        assert!(out.contains("| offset: 3 CreateTime: 1234 keySize: 1 valueSize: 1 isValid: true crc: "), "{out}");
        assert!(out.contains("} key: k payload: v\n"), "{out}");
        assert!(out.contains("| offset: 4 NoTimestampType: -1 keySize: -1 valueSize: 1 isValid: true crc: "), "{out}");
    }
}
