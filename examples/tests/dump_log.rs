//! `kafka-dump-log` on segments the testkit wrote in Kafka's on-disk
//! layout: every batch line is checked against the bytes in the file (CRC
//! recomputed here), every index and time index entry against the batches,
//! and the records against what was produced.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use broker_testkit::TopicSpec;
use bytes::Bytes;
use common::{TempDir, check_expected, cluster, normalize, run};
use kafka_protocol::records::RecordBatch;
use kafka_protocol::records::batch::compute_crc;

const D: &str = "kafka-dump-log";
const P: &str = "kafka-console-producer";

/// One batch line of the dump.
#[derive(Debug, Clone, PartialEq)]
struct BatchLine {
    fields: BTreeMap<String, String>,
}

impl BatchLine {
    fn parse(line: &str) -> BatchLine {
        // "name: value" pairs separated by spaces; values have no spaces.
        let mut fields = BTreeMap::new();
        let mut words = line.split(' ');
        while let (Some(k), Some(v)) = (words.next(), words.next()) {
            let k = k.strip_suffix(':').unwrap_or_else(|| panic!("field name {k:?} in {line}"));
            fields.insert(k.to_string(), v.to_string());
        }
        BatchLine { fields }
    }

    fn int(&self, name: &str) -> i64 {
        self.fields.get(name).unwrap_or_else(|| panic!("no {name} in {:?}", self.fields)).parse().unwrap()
    }

    fn get(&self, name: &str) -> &str {
        &self.fields[name]
    }
}

/// The lines of the dump of one file (after its "Dumping" line).
fn section<'a>(out: &'a str, file: &Path) -> Vec<&'a str> {
    let header = format!("Dumping {}", file.display());
    out.lines().skip_while(|l| *l != header).skip(1).take_while(|l| !l.starts_with("Dumping ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dumps_what_the_testkit_wrote() {
    let dir = TempDir::new("dump");
    let cluster = cluster(Some(dir.path())).await;
    let boot = cluster.bootstrap_servers();
    // Every batch after the first gets index entries.
    cluster.create_topic_with(TopicSpec::new("dumped", 1, 3).config("index.interval.bytes", "0")).await.unwrap();
    // Eight single-record batches (--sync) with keys and headers…
    let input: String = (0..8).map(|i| format!("src:cli,n:{i}\tkey-{i}\tvalue number {i}\n")).collect();
    let sync = [
        "--bootstrap-server",
        &boot,
        "--topic",
        "dumped",
        "--sync",
        "--timeout",
        "0",
        "--property",
        "parse.key=true",
        "--property",
        "parse.headers=true",
    ];
    run(P, &sync, &input).await.ok();
    // …then one batch of five values.
    run(P, &["--bootstrap-server", &boot, "--topic", "dumped"], "a\nb\nc\nd\ne\n").await.ok();
    assert_eq!(cluster.batches("dumped", 0, None).await.unwrap().len(), 9);
    cluster.shutdown().await;

    let seg = dir.path().join("broker-1").join("dumped-0");
    let log = seg.join("00000000000000000000.log");
    let index = seg.join("00000000000000000000.index");
    let time_index = seg.join("00000000000000000000.timeindex");
    let files = format!("{},{},{}", log.display(), index.display(), time_index.display());
    let r = run(D, &["--files", &files, "--print-data-log"], "").await.ok();
    assert_eq!(r.stderr, "", "no mismatches or gaps are reported");

    // The log: batches back to back, each matching the bytes in the file.
    let bytes = std::fs::read(&log).unwrap();
    let lines = section(&r.stdout, &log);
    assert_eq!(lines[0], "Log starting offset: 0");
    let batches: Vec<BatchLine> =
        lines.iter().filter(|l| l.starts_with("baseOffset: ")).map(|l| BatchLine::parse(l)).collect();
    assert_eq!(batches.len(), 9);
    let mut position = 0i64;
    let mut by_last_offset = BTreeMap::new();
    for (i, b) in batches.iter().enumerate() {
        assert_eq!(b.int("position"), position);
        let size = b.int("size");
        let raw = Bytes::copy_from_slice(&bytes[position as usize..(position + size) as usize]);
        let batch = RecordBatch::new(raw.clone()).unwrap();
        let h = batch.header();
        assert_eq!(b.int("crc"), i64::from(compute_crc(&raw)), "batch {i}: the CRC printed is the one computed");
        assert_eq!(b.int("crc"), i64::from(h.crc));
        assert_eq!(b.get("isvalid"), "true");
        assert_eq!(
            (b.int("baseOffset"), b.int("lastOffset"), b.int("count")),
            (h.base_offset, h.last_offset(), i64::from(h.record_count))
        );
        assert_eq!(b.int("CreateTime"), h.max_timestamp);
        assert_eq!((b.get("magic"), b.get("compresscodec"), b.get("isControl")), ("2", "none", "false"));
        assert_eq!(b.get("deleteHorizonMs"), "OptionalLong.empty");
        // The idempotent console producer numbers its records.
        let first_seq = if i < 8 { i as i64 } else { 0 };
        assert_eq!(
            (b.int("baseSequence"), b.int("lastSequence")),
            (first_seq, first_seq + i64::from(h.last_offset_delta))
        );
        by_last_offset.insert(b.int("lastOffset"), (b.int("position"), b.int("CreateTime")));
        position += size;
    }
    assert_eq!(position as usize, bytes.len(), "the batches cover the file");
    assert_eq!(batches[0].get("producerId"), batches[7].get("producerId"));
    assert_ne!(batches[7].get("producerId"), batches[8].get("producerId"), "the second run is another producer");

    // The records, with their keys, headers and payloads.
    let records: Vec<&str> = lines.iter().filter(|l| l.starts_with("| ")).copied().collect();
    assert_eq!(records.len(), 13);
    for (i, r) in records.iter().take(8).enumerate() {
        let expected = format!(
            "| offset: {i} CreateTime: <ts> keySize: 5 valueSize: 14 sequence: {i} headerKeys: [src,n] key: key-{i} \
             payload: value number {i}"
        );
        assert_eq!(normalize(r, &[(r"CreateTime: \d+", "CreateTime: <ts>")]), expected);
    }
    assert!(records[12].ends_with("keySize: -1 valueSize: 1 sequence: 4 headerKeys: [] payload: e"), "{}", records[12]);

    // The offset index: an entry for every batch but the first, pointing at it.
    let entries = section(&r.stdout, &index);
    assert_eq!(entries.len(), 8);
    for e in &entries {
        let (offset, pos) = parse_pair(e, "offset: ", " position: ");
        assert_eq!(by_last_offset.get(&offset).map(|p| p.0), Some(pos), "{e}");
    }

    // The time index: increasing timestamps, each the max timestamp of the
    // batch that ends at its offset.
    let mut last = -1;
    for e in section(&r.stdout, &time_index) {
        let (ts, offset) = parse_pair(e, "timestamp: ", " offset: ");
        assert_eq!(by_last_offset.get(&offset).map(|p| p.1), Some(ts), "{e}");
        assert!(ts > last, "{e}");
        last = ts;
    }

    // A sample of the output; what varies between runs is masked.
    let stable = format!("{},{}", log.display(), index.display());
    let r = run(D, &["--files", &stable, "--print-data-log"], "").await.ok();
    let masked = normalize(
        &r.stdout,
        &[
            (&regex::escape(&seg.display().to_string()), "<dir>"),
            (r"CreateTime: \d+", "CreateTime: <ts>"),
            (r"crc: \d+", "crc: <crc>"),
            (r"producerId: \d+", "producerId: <pid>"),
            // Its records' timestamp deltas may take one varint byte or two.
            (r"(lastOffset: 12 count: 5 .* size: )\d+", "${1}<size>"),
        ],
    );
    check_expected("dump_log_print_data.txt", &masked);

    // Other ways to look: shallow, deep without payloads, payloads without metadata.
    let shallow = run(D, &["--files", &log.display().to_string()], "").await.ok();
    assert!(!shallow.stdout.contains("| offset"), "{}", shallow.stdout);
    assert_eq!(shallow.stdout.lines().filter(|l| l.starts_with("baseOffset")).count(), 9);
    let deep = run(D, &["--files", &log.display().to_string(), "--deep-iteration"], "").await.ok();
    assert!(deep.stdout.contains("| offset: 0 CreateTime: ") && !deep.stdout.contains("payload:"));
    let bare =
        run(D, &["--files", &log.display().to_string(), "--print-data-log", "--skip-record-metadata"], "").await.ok();
    assert!(bare.stdout.lines().any(|l| l == "| key: key-3 payload: value number 3"), "{}", bare.stdout);
    assert!(bare.stdout.lines().any(|l| l == " payload: e"), "{}", bare.stdout);
    let verify =
        run(D, &["--files", &format!("{},{}", index.display(), time_index.display()), "--verify-index-only"], "")
            .await
            .ok();
    assert_eq!(verify.stdout, format!("Dumping {}\nDumping {}\n", index.display(), time_index.display()));
    assert_eq!(verify.stderr, "");
    let sane = run(D, &["--files", &index.display().to_string(), "--index-sanity-check"], "").await.ok();
    assert!(sane.stdout.ends_with("passed sanity check.\n"));

    // A damaged copy: the CRC of the changed batch fails, the others hold.
    let copy = TempDir::new("dump-copy");
    let damaged = copy.path().join("00000000000000000000.log");
    let mut b = bytes.clone();
    let last_batch = batches[8].int("position") as usize;
    let n = b.len();
    b[n - 2] ^= 0x20; // the last value, "e", becomes "E" (the last byte is its header count)
    std::fs::write(&damaged, &b).unwrap();
    let r = run(D, &["--files", &damaged.display().to_string(), "--print-data-log"], "").await.ok();
    let valid: Vec<&str> = r.stdout.lines().filter_map(|l| l.split(" isvalid: ").nth(1)).collect();
    assert_eq!(valid, [&["true"; 8][..], &["false"]].concat(), "batch at {last_batch}");
    assert!(r.stdout.contains("payload: E"), "{}", r.stdout);
    // An index pointing at the wrong batch is reported on stderr.
    std::fs::write(copy.path().join("00000000000000000000.index"), [3i32.to_be_bytes(), 0i32.to_be_bytes()].concat())
        .unwrap();
    let r = run(D, &["--files", &copy.path().join("00000000000000000000.index").display().to_string()], "").await.ok();
    assert!(
        r.stderr.starts_with("Mismatches in :") && r.stderr.contains("  Index offset: 3, log offset: 0"),
        "{}",
        r.stderr
    );

    // A missing file is one line and exit 1.
    let missing = copy.path().join("00000000000000000099.log");
    let r = run(D, &["--files", &missing.display().to_string()], "").await;
    assert!(r.failed_with_one_line().contains("cannot read"), "{}", r.stderr);
}

/// The two numbers of "a: N b: M".
fn parse_pair(line: &str, first: &str, second: &str) -> (i64, i64) {
    let rest = line.strip_prefix(first).unwrap_or_else(|| panic!("{line}"));
    let (a, b) = rest.split_once(second).unwrap_or_else(|| panic!("{line}"));
    (a.parse().unwrap(), b.parse().unwrap())
}
