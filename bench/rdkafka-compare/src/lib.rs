//! What the two client binaries (`ours`, `theirs`) share, so that they run
//! the same workload with the same settings: the command line, the record
//! contents, and the one result line they print.
//!
//! Each client is a separate process started by the `driver`; the driver
//! measures the process's CPU time from the kernel's accounting (`wait4`),
//! the client itself measures the wall time of the timed phase (first send
//! to last delivery report, or assign to last record) and prints it.

use std::time::Duration;

/// Which side of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Produce,
    Consume,
}

/// One run's workload and settings, from the command line:
///
/// ```text
/// ours|theirs produce|consume --bootstrap H:P --topic T --records N --size BYTES
///     [--compression none|lz4] [--acks 1|all] [--batch-size B] [--linger-ms L]
///     [--max-in-flight M] [--buffer-bytes B] [--check-crcs true|false]
///     [--ack-mode deque|unordered|task] [--runtime mt|ct] [--set key=value]...
/// ```
#[derive(Debug, Clone)]
pub struct Workload {
    pub mode: Mode,
    pub bootstrap: String,
    pub topic: String,
    pub records: u64,
    /// The topic's partition count (the driver created it).
    pub partitions: i32,
    /// Value size in bytes (every record also has an 8-byte key).
    pub size: usize,
    pub compression: String,
    /// "1" or "all"; idempotence is on exactly for "all".
    pub acks: String,
    pub batch_size: usize,
    pub linger_ms: u64,
    pub max_in_flight: usize,
    /// `buffer.memory` (ours) = `queue.buffering.max.kbytes` * 1024 (theirs).
    pub buffer_bytes: usize,
    pub max_request_size: usize,
    pub fetch_min_bytes: usize,
    pub fetch_max_bytes: usize,
    pub max_partition_fetch_bytes: usize,
    pub fetch_max_wait_ms: u64,
    pub check_crcs: bool,
    /// ours only: how delivery futures are awaited (see `ours.rs`).
    pub ack_mode: String,
    /// ours only: tokio runtime, `mt` (multi-thread, the default) or `ct`.
    pub runtime: String,
    /// ours only: `max.poll.records`.
    pub max_poll_records: usize,
    /// `--set key=value` (repeatable): extra client properties, applied
    /// last, for experiments (e.g. librdkafka's `debug=fetch`).
    pub extra: Vec<(String, String)>,
}

impl Workload {
    pub fn idempotence(&self) -> bool {
        self.acks == "all"
    }

    /// Parses `std::env::args()`: the mode, then `--name value` pairs.
    pub fn from_args() -> Workload {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match Self::parse(&args) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }

    pub fn parse(args: &[String]) -> Result<Workload, String> {
        let mode = match args.first().map(String::as_str) {
            Some("produce") => Mode::Produce,
            Some("consume") => Mode::Consume,
            other => return Err(format!("first argument must be produce or consume, got {other:?}")),
        };
        let mut w = Workload {
            mode,
            bootstrap: String::new(),
            topic: String::new(),
            records: 0,
            partitions: 6,
            size: 100,
            compression: "none".into(),
            acks: "1".into(),
            batch_size: 131_072,
            linger_ms: 5,
            max_in_flight: 5,
            buffer_bytes: 32 << 20,
            max_request_size: 1_048_576,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            fetch_max_wait_ms: 500,
            check_crcs: false,
            ack_mode: "deque".into(),
            runtime: "mt".into(),
            max_poll_records: 500,
            extra: Vec::new(),
        };
        let mut it = args[1..].iter();
        while let Some(k) = it.next() {
            let v = it.next().ok_or_else(|| format!("{k} needs a value"))?;
            let num = |v: &str| v.parse::<u64>().map_err(|_| format!("{k} needs a number, got {v:?}"));
            match k.as_str() {
                "--bootstrap" => w.bootstrap = v.clone(),
                "--topic" => w.topic = v.clone(),
                "--records" => w.records = num(v)?,
                "--partitions" => w.partitions = num(v)? as i32,
                "--size" => w.size = num(v)? as usize,
                "--compression" => w.compression = v.clone(),
                "--acks" => w.acks = v.clone(),
                "--batch-size" => w.batch_size = num(v)? as usize,
                "--linger-ms" => w.linger_ms = num(v)?,
                "--max-in-flight" => w.max_in_flight = num(v)? as usize,
                "--buffer-bytes" => w.buffer_bytes = num(v)? as usize,
                "--max-request-size" => w.max_request_size = num(v)? as usize,
                "--fetch-min-bytes" => w.fetch_min_bytes = num(v)? as usize,
                "--fetch-max-bytes" => w.fetch_max_bytes = num(v)? as usize,
                "--max-partition-fetch-bytes" => w.max_partition_fetch_bytes = num(v)? as usize,
                "--fetch-max-wait-ms" => w.fetch_max_wait_ms = num(v)?,
                "--check-crcs" => w.check_crcs = v == "true",
                "--ack-mode" => w.ack_mode = v.clone(),
                "--runtime" => w.runtime = v.clone(),
                "--max-poll-records" => w.max_poll_records = num(v)? as usize,
                "--set" => {
                    let (a, b) = v.split_once('=').ok_or_else(|| format!("--set needs key=value, got {v:?}"))?;
                    w.extra.push((a.to_string(), b.to_string()));
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        if w.bootstrap.is_empty() || w.topic.is_empty() || w.records == 0 {
            return Err("--bootstrap, --topic and --records are required".into());
        }
        if !matches!(w.compression.as_str(), "none" | "lz4") {
            return Err("--compression must be none or lz4".into());
        }
        if !matches!(w.acks.as_str(), "1" | "all") {
            return Err("--acks must be 1 or all".into());
        }
        Ok(w)
    }
}

/// How many distinct keys and values the records cycle through.
pub const POOL: usize = 4096;

/// The record contents, identical for both clients: record `i` has key
/// `keys[i % POOL]` (8 ASCII bytes, so keyed partitioning spreads records
/// over every partition) and value `values[i % POOL]` (`size` bytes of
/// word-like text, compressible about 2x by lz4, like typical JSON-ish
/// payloads — neither all zeros nor random noise).
pub struct Payloads {
    pub keys: Vec<Vec<u8>>,
    pub values: Vec<Vec<u8>>,
}

impl Payloads {
    pub fn new(size: usize) -> Payloads {
        const WORDS: &[&str] = &[
            "order",
            "customer",
            "id",
            "amount",
            "currency",
            "EUR",
            "USD",
            "status",
            "shipped",
            "pending",
            "timestamp",
            "region",
            "eu-west",
            "us-east",
            "sku",
            "quantity",
            "price",
            "discount",
            "user",
            "session",
            "click",
            "view",
            "cart",
            "checkout",
            "true",
            "false",
            "null",
            "event",
            "type",
            "version",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // xorshift64*: deterministic, the same in both binaries.
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let keys = (0..POOL).map(|i| format!("k{:07}", i * 7919 % 10_000_000).into_bytes()).collect();
        let values = (0..POOL)
            .map(|_| {
                let mut v = Vec::with_capacity(size + 16);
                while v.len() < size {
                    let r = next();
                    if r % 4 == 0 {
                        // A number: the part that does not repeat.
                        v.extend_from_slice(format!("{}", (r >> 8) % 1_000_000).as_bytes());
                    } else {
                        v.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()].as_bytes());
                    }
                    v.push(if r % 3 == 0 { b',' } else { b' ' });
                }
                v.truncate(size);
                v
            })
            .collect();
        Payloads { keys, values }
    }
}

/// CPU seconds (user, system) this process has used so far.
pub fn self_cpu() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

pub fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// The one line a client prints on success; the driver parses it.
/// `phase_cpu` is the process's own CPU during the timed phase (a
/// cross-check of the driver's whole-process figure).
/// `first` (consumers): from the start of the timed phase to the first
/// record.
pub fn print_result(
    records: u64,
    value_bytes: u64,
    elapsed: Duration,
    phase_cpu: f64,
    errors: u64,
    first: Option<Duration>,
) {
    println!(
        "RESULT records={records} value_bytes={value_bytes} secs={:.6} phase_cpu={phase_cpu:.6} errors={errors} first={:.6}",
        elapsed.as_secs_f64(),
        first.unwrap_or_default().as_secs_f64()
    );
}
