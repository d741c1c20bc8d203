//! Golden vectors: request frames recorded from real Kafka clients — kcat
//! (Debian's librdkafka), confluent-kafka (its bundled librdkafka) and the
//! pure-Python kafka-python — by `tests/golden/capture.py`. How they were
//! captured is in `tests/golden/README.md`, what each one is in
//! `tests/golden/fixtures/MANIFEST.md`.
//!
//! Every fixture must parse the way a broker parses it and re-encode to the
//! very same bytes, compressed record batches included (records travel
//! verbatim). The focused tests then check, field by field, what each client
//! put in its requests, decode the record batches and the embedded consumer
//! protocol, and rebuild every record batch with our own writer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kafka_protocol::api::ApiKey;
use kafka_protocol::compression::{self, Compression};
use kafka_protocol::frame::{ParsedRequest, encode_request, parse_request};
use kafka_protocol::header::RequestHeader;
use kafka_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription, Message, RequestBody};
use kafka_protocol::records::batch::HEADER_LEN;
use kafka_protocol::records::{BatchBuilder, RecordBatch, RecordSet, RecordSetEntry, TimestampType};

/// The three peers, as named by the fixture folders.
const KCAT: &str = "kcat";
const CONFLUENT: &str = "confluent-kafka";
const KAFKA_PYTHON: &str = "kafka-python";
const CLIENTS: [&str; 3] = [KCAT, CONFLUENT, KAFKA_PYTHON];

/// What every producing scenario of capture.py writes (see `record_key` and
/// `record_value` there).
const RECORD_COUNT: i32 = 10;

fn record_key(i: i32) -> String {
    format!("key-{i}")
}

fn record_value(i: i32) -> String {
    format!("value-{i} {}", "abcdefgh".repeat(8))
}

/// Far above what any fixture decompresses to.
const DECOMPRESS_LIMIT: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Loading fixtures
// ---------------------------------------------------------------------------

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixtures")
}

/// One recorded request frame, without its size prefix.
struct Fixture {
    /// `<client>/<file>`, for messages.
    name: String,
    client: String,
    /// The file name after its `NNN-` sequence number, e.g. `Produce-v7-lz4`.
    label: String,
    api: ApiKey,
    version: i16,
    /// What the file name says beyond API and version: `lz4-idempotent` for
    /// a Produce, `all-topics` for a Metadata, ...
    variant: Option<String>,
    bytes: Bytes,
}

impl Fixture {
    /// Parses the frame the way a broker does; fails unless it is a request
    /// of the API and version the file name says.
    fn try_parse(&self) -> Result<(RequestHeader, RequestBody), String> {
        match parse_request(self.bytes.clone(), |_, _| true) {
            Ok(ParsedRequest::Request { header, body }) => {
                let found = (body.api_key(), header.api_key, header.api_version);
                if found != (self.api, self.api as i16, self.version) {
                    return Err(format!("{}: holds {found:?}, not what its name says", self.name));
                }
                Ok((header, body))
            }
            other => Err(format!("{}: does not parse as a request: {other:?}", self.name)),
        }
    }

    fn parse(&self) -> (RequestHeader, RequestBody) {
        self.try_parse().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Reads `NNN-<Api>-v<version>[-<variant>].bin`.
fn parse_file_name(file: &str) -> Option<(String, ApiKey, i16, Option<String>)> {
    let stem = file.strip_suffix(".bin")?;
    let (seq, label) = stem.split_once('-')?;
    if seq.len() != 3 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (api_name, rest) = label.split_once("-v")?;
    let (version, variant) = match rest.split_once('-') {
        Some((v, variant)) => (v, Some(variant.to_string())),
        None => (rest, None),
    };
    let api = ApiKey::ALL.iter().copied().find(|a| format!("{a:?}") == api_name)?;
    Some((label.to_string(), api, version.parse().ok()?, variant))
}

/// Every fixture, by client folder and file name.
fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for client in CLIENTS {
        let dir = fixture_dir().join(client);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").file_name().into_string().expect("UTF-8 file name"))
            .collect();
        files.sort();
        for file in files {
            let name = format!("{client}/{file}");
            let (label, api, version, variant) =
                parse_file_name(&file).unwrap_or_else(|| panic!("{name}: not NNN-<Api>-v<version>[-<variant>].bin"));
            let bytes = Bytes::from(std::fs::read(dir.join(&file)).expect("readable fixture"));
            out.push(Fixture { name, client: client.to_string(), label, api, version, variant, bytes });
        }
    }
    out
}

/// The fixture of `client` whose name (after the sequence number) is `label`.
fn fixture(client: &str, label: &str) -> Fixture {
    let mut found: Vec<_> = fixtures().into_iter().filter(|f| f.client == client && f.label == label).collect();
    assert_eq!(found.len(), 1, "expected one {client}/NNN-{label}.bin");
    found.remove(0)
}

/// The body of a fixture as the request type of `$api`.
macro_rules! body {
    ($client:expr, $label:expr, $api:ident) => {{
        let f = fixture($client, $label);
        match f.parse().1 {
            RequestBody::$api(b) => b,
            other => panic!("{}: a {:?} body", f.name, other.api_key()),
        }
    }};
}

// ---------------------------------------------------------------------------
// Every fixture
// ---------------------------------------------------------------------------

/// Every fixture parses as a request of the API and version its name says,
/// holds what the rest of its name says, and re-encodes (header and body,
/// size prefix included) to exactly the recorded bytes. That covers the
/// compressed Produce fixtures too: record batches are carried verbatim, so
/// the strongest property holds for them as well; their content is checked
/// decompressed in `produce_batches_hold_the_records_written` and
/// `our_batch_writer_agrees_with_the_peers`.
#[test]
fn every_fixture_parses_and_reencodes_byte_exact() {
    let all = fixtures();
    assert!(all.len() >= 40, "only {} fixtures", all.len());
    let mut failures = Vec::new();
    for f in &all {
        let (header, body) = match f.try_parse() {
            Ok(parsed) => parsed,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let variant = variant_of(f.version, &body);
        if variant != f.variant {
            failures.push(format!("{}: named {:?}, holds {variant:?}", f.name, f.variant));
        }
        match encode_request(&header, &body) {
            Ok(w) => {
                let frame = w.into_bytes();
                let (prefix, encoded) = frame.split_at(4);
                if prefix != (f.bytes.len() as i32).to_be_bytes() || encoded != &f.bytes[..] {
                    failures.push(format!("{}: re-encodes differently{}", f.name, first_difference(&f.bytes, encoded)));
                }
            }
            Err(e) => failures.push(format!("{}: does not re-encode: {e}", f.name)),
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures:\n{}", failures.len(), all.len(), failures.join("\n"));
}

/// What a fixture's name says beyond API and version, from its content:
/// codec and idempotence of a Produce's first batch, the topics a Metadata
/// request asks for.
fn variant_of(version: i16, body: &RequestBody) -> Option<String> {
    match body {
        RequestBody::Produce(p) => {
            let records = p.topic_data.first()?.partition_data.first()?.records.clone()?;
            let Some(Ok(RecordSetEntry::Batch(batch))) = RecordSet::new(records).next() else { return None };
            let h = batch.header();
            let idempotent = if h.producer_id >= 0 { "-idempotent" } else { "" };
            Some(format!("{}{idempotent}", h.compression().ok()?.name()))
        }
        RequestBody::Metadata(m) => Some(
            match m.topics.as_deref() {
                // v0 has no null: an empty list asks for every topic.
                None => "all-topics",
                Some([]) if version == 0 => "all-topics",
                Some([]) => "no-topics",
                Some(_) => "named-topics",
            }
            .to_string(),
        ),
        _ => None,
    }
}

fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let at = expected.iter().zip(actual).position(|(a, b)| a != b).unwrap_or(expected.len().min(actual.len()));
    let show = |b: &[u8]| format!("{:02x?}", &b[at.min(b.len())..(at + 16).min(b.len())]);
    format!(
        " ({} bytes recorded, {} encoded; first difference at byte {at}: recorded {} encoded {})",
        expected.len(),
        actual.len(),
        show(expected),
        show(actual)
    )
}

#[test]
fn fixtures_cover_what_the_issue_asks_for() {
    let all = fixtures();
    let apis_of =
        |client: &str| -> BTreeSet<ApiKey> { all.iter().filter(|f| f.client == client).map(|f| f.api).collect() };
    use ApiKey::*;
    let everyone = [
        ApiVersions,
        Metadata,
        Produce,
        InitProducerId,
        Fetch,
        ListOffsets,
        FindCoordinator,
        JoinGroup,
        SyncGroup,
        Heartbeat,
        OffsetFetch,
        OffsetCommit,
        LeaveGroup,
    ];
    for client in CLIENTS {
        let have = apis_of(client);
        for api in everyone {
            assert!(have.contains(&api), "{client} has no {api:?} fixture");
        }
    }
    // kcat cannot administer; the Python clients' admin clients can.
    let admin = [
        CreateTopics,
        DescribeConfigs,
        IncrementalAlterConfigs,
        CreatePartitions,
        DeleteRecords,
        ListGroups,
        DescribeGroups,
        DeleteGroups,
        DeleteTopics,
    ];
    for client in [CONFLUENT, KAFKA_PYTHON] {
        let have = apis_of(client);
        for api in admin {
            assert!(have.contains(&api), "{client} has no {api:?} fixture");
        }
    }
    for api in [DescribeCluster, AlterConfigs, OffsetDelete] {
        assert!(apis_of(KAFKA_PYTHON).contains(&api), "kafka-python has no {api:?} fixture");
    }
    let produce_variants = |client: &str| -> BTreeSet<String> {
        all.iter().filter(|f| f.client == client && f.api == Produce).filter_map(|f| f.variant.clone()).collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(produce_variants(KCAT), set(&["gzip", "lz4", "none", "none-idempotent", "snappy", "zstd"]));
    assert_eq!(produce_variants(CONFLUENT), set(&["lz4-idempotent", "zstd"]));
    assert_eq!(produce_variants(KAFKA_PYTHON), set(&["gzip", "none", "none-idempotent"]));
    let total: usize = all.iter().map(|f| f.bytes.len()).sum();
    assert!(total < 64 * 1024, "fixtures take {total} bytes");
}

/// MANIFEST.md lists each fixture once, with its size and SHA-256, and no
/// fixture that is not there.
#[test]
fn manifest_describes_every_fixture() {
    let manifest = std::fs::read_to_string(fixture_dir().join("MANIFEST.md")).expect("MANIFEST.md");
    let mut listed = BTreeMap::new();
    for line in manifest.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<_> = line.split('|').map(str::trim).collect();
        // | `client/file` | scenario | API | version | bytes | sha256 | notes |
        let name = cells[1].trim_matches('`').to_string();
        let size: usize = cells[5].parse().unwrap_or_else(|_| panic!("size of {name}"));
        let digest = cells[6].trim_matches('`').to_string();
        assert!(listed.insert(name.clone(), (size, digest)).is_none(), "{name} listed twice");
    }
    let all = fixtures();
    for f in &all {
        let (size, digest) = listed.remove(&f.name).unwrap_or_else(|| panic!("{} is not in MANIFEST.md", f.name));
        assert_eq!(size, f.bytes.len(), "{}: size in MANIFEST.md", f.name);
        assert_eq!(digest, sha256_hex(&f.bytes), "{}: SHA-256 in MANIFEST.md", f.name);
    }
    assert!(listed.is_empty(), "MANIFEST.md lists missing fixtures: {:?}", listed.keys());
}

/// SHA-256 (FIPS 180-4), enough to check the manifest without a dependency.
fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let t1 = hh
                .wrapping_add(e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25))
                .wrapping_add((e & f) ^ (!e & g))
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let t2 =
                (a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22)).wrapping_add((a & b) ^ (a & c) ^ (b & c));
            (hh, g, f, e, d, c, b, a) = (g, f, e, d.wrapping_add(t1), c, b, a, t1.wrapping_add(t2));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_matches_the_standard_vectors() {
    assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(
        sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}

// ---------------------------------------------------------------------------
// Connection set-up
// ---------------------------------------------------------------------------

#[test]
fn api_versions_name_the_client_software() {
    let cases = [
        (KCAT, "ApiVersions-v3", "rdkafka", "librdkafka", "2.0.2"),
        (CONFLUENT, "ApiVersions-v3", "rdkafka", "confluent-kafka-python", "2.16.1-rdkafka-2.16.0"),
        (KAFKA_PYTHON, "ApiVersions-v4", "kafka-python-producer-1", "kafka-python", "3.0.12"),
    ];
    for (client, label, client_id, name, version) in cases {
        let f = fixture(client, label);
        let (header, body) = f.parse();
        assert_eq!(header.client_id.as_deref(), Some(client_id), "{}", f.name);
        assert!(header.unknown_tagged_fields.is_empty(), "{}", f.name);
        let RequestBody::ApiVersions(body) = body else { unreachable!() };
        assert_eq!(
            (body.client_software_name.as_str(), body.client_software_version.as_str()),
            (name, version),
            "{}",
            f.name
        );
    }
}

#[test]
fn metadata_requests_ask_for_all_no_or_named_topics() {
    // (client, fixture, topics asked for (None: all), allow_auto_topic_creation)
    let cases: [(&str, &str, Option<&[&str]>, bool); 7] = [
        (KCAT, "Metadata-v4-no-topics", Some(&[]), false),
        (KCAT, "Metadata-v4-all-topics", None, true),
        (KCAT, "Metadata-v4-named-topics", Some(&["golden-kcat-none"]), true),
        (CONFLUENT, "Metadata-v13-named-topics", Some(&["golden-ck-lz4-idempotent"]), true),
        (CONFLUENT, "Metadata-v13-no-topics", Some(&[]), false),
        (KAFKA_PYTHON, "Metadata-v13-no-topics", Some(&[]), true),
        (KAFKA_PYTHON, "Metadata-v13-named-topics", Some(&["golden-kp-none"]), true),
    ];
    for (client, label, topics, auto_create) in cases {
        let m = body!(client, label, Metadata);
        let names = m.topics.as_ref().map(|t| t.iter().map(|t| t.name.as_deref().unwrap_or("")).collect::<Vec<_>>());
        assert_eq!(names.as_deref(), topics, "{client}/{label}: topics");
        // Topic ids (v10+) are only for a client that knows them; none does here.
        assert!(m.topics.iter().flatten().all(|t| t.topic_id.is_zero()), "{client}/{label}");
        assert_eq!(m.allow_auto_topic_creation, auto_create, "{client}/{label}: allow_auto_topic_creation");
        assert!(!m.include_cluster_authorized_operations && !m.include_topic_authorized_operations);
    }
}

// ---------------------------------------------------------------------------
// Producing
// ---------------------------------------------------------------------------

struct ProduceCase {
    client: &'static str,
    label: &'static str,
    topic: &'static str,
    codec: Compression,
    idempotent: bool,
}

const fn produce_case(
    client: &'static str,
    label: &'static str,
    topic: &'static str,
    codec: Compression,
    idempotent: bool,
) -> ProduceCase {
    ProduceCase { client, label, topic, codec, idempotent }
}

const PRODUCE_CASES: [ProduceCase; 11] = [
    produce_case(KCAT, "Produce-v7-none", "golden-kcat-none", Compression::None, false),
    produce_case(KCAT, "Produce-v7-gzip", "golden-kcat-gzip", Compression::Gzip, false),
    produce_case(KCAT, "Produce-v7-snappy", "golden-kcat-snappy", Compression::Snappy, false),
    produce_case(KCAT, "Produce-v7-lz4", "golden-kcat-lz4", Compression::Lz4, false),
    produce_case(KCAT, "Produce-v7-zstd", "golden-kcat-zstd", Compression::Zstd, false),
    produce_case(KCAT, "Produce-v7-none-idempotent", "golden-kcat-none-idempotent", Compression::None, true),
    produce_case(CONFLUENT, "Produce-v10-lz4-idempotent", "golden-ck-lz4-idempotent", Compression::Lz4, true),
    produce_case(CONFLUENT, "Produce-v10-zstd", "golden-ck-zstd", Compression::Zstd, false),
    produce_case(KAFKA_PYTHON, "Produce-v9-none", "golden-kp-none", Compression::None, false),
    produce_case(KAFKA_PYTHON, "Produce-v9-gzip", "golden-kp-gzip", Compression::Gzip, false),
    produce_case(KAFKA_PYTHON, "Produce-v9-none-idempotent", "golden-kp-none-idempotent", Compression::None, true),
];

/// The one record batch of a Produce fixture, after checking the request
/// around it.
fn produce_batch(c: &ProduceCase) -> RecordBatch {
    let name = format!("{}/{}", c.client, c.label);
    let p = body!(c.client, c.label, Produce);
    assert_eq!(p.transactional_id, None, "{name}: transactional_id");
    // acks=all and a 30 s request timeout are every one of these clients' defaults.
    assert_eq!((p.acks, p.timeout_ms), (-1, 30_000), "{name}: acks, timeout_ms");
    assert_eq!(p.topic_data.len(), 1, "{name}: topics");
    let topic = &p.topic_data[0];
    assert_eq!(topic.name, c.topic, "{name}: topic");
    assert_eq!(topic.partition_data.len(), 1, "{name}: partitions");
    let partition = &topic.partition_data[0];
    assert_eq!(partition.index, 0, "{name}: partition");
    let records = partition.records.clone().unwrap_or_else(|| panic!("{name}: null records"));
    let mut set = RecordSet::new(records);
    let batch = match set.next() {
        Some(Ok(RecordSetEntry::Batch(b))) => b,
        other => panic!("{name}: expected a v2 record batch, got {other:?}"),
    };
    assert!(set.next().is_none() && !set.ended_in_partial(), "{name}: more than one batch");
    batch
}

#[test]
fn produce_batches_hold_the_records_written() {
    for c in &PRODUCE_CASES {
        let name = format!("{}/{}", c.client, c.label);
        let batch = produce_batch(c);
        batch.verify_crc().unwrap_or_else(|e| panic!("{name}: {e}"));
        let h = *batch.header();
        assert_eq!(h.compression().expect("known codec"), c.codec, "{name}: codec");
        // The broker sets offsets and the leader epoch. Java producers leave
        // the epoch at -1; librdkafka and kafka-python at 0.
        assert_eq!((h.magic, h.base_offset, h.partition_leader_epoch), (2, 0, 0), "{name}: magic, base offset, epoch");
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime, "{name}");
        assert!(!h.is_transactional() && !h.is_control() && !h.has_delete_horizon(), "{name}: attributes");
        assert_eq!((h.record_count, h.last_offset_delta), (RECORD_COUNT, RECORD_COUNT - 1), "{name}: counts");
        if c.idempotent {
            assert!(h.producer_id >= 0, "{name}: producer id {}", h.producer_id);
            assert_eq!((h.producer_epoch, h.base_sequence), (0, 0), "{name}: epoch, base sequence");
            assert_eq!(h.last_sequence(), RECORD_COUNT - 1, "{name}");
        } else {
            assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (-1, -1, -1), "{name}: producer state");
        }

        let records: Vec<_> = batch
            .records(DECOMPRESS_LIMIT)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(records.len(), RECORD_COUNT as usize, "{name}");
        for (i, r) in (1..).zip(&records) {
            assert_eq!(r.offset, i64::from(i - 1), "{name}: offset of record {i}");
            assert_eq!(r.key.as_deref(), Some(record_key(i).as_bytes()), "{name}: key of record {i}");
            assert_eq!(r.value.as_deref(), Some(record_value(i).as_bytes()), "{name}: value of record {i}");
            assert!(r.headers.is_empty(), "{name}: headers of record {i}");
            assert!((h.base_timestamp..=h.max_timestamp).contains(&r.timestamp), "{name}: timestamp of record {i}");
        }
        assert_eq!(h.base_timestamp, records[0].timestamp, "{name}: base timestamp");
        assert_eq!(Some(h.max_timestamp), records.iter().map(|r| r.timestamp).max(), "{name}: max timestamp");
        // Produced within the last few years: a sanity check on the unit (ms).
        assert!((1_700_000_000_000..4_000_000_000_000).contains(&h.base_timestamp), "{name}: {}", h.base_timestamp);
    }
}

/// Our batch writer, fed the records a peer wrote, writes the same batch:
/// byte for byte when uncompressed; with the same header and, once
/// decompressed, the same records when compressed (compressors differ in
/// their output, not in what it decompresses to).
#[test]
fn our_batch_writer_agrees_with_the_peers() {
    for c in &PRODUCE_CASES {
        let name = format!("{}/{}", c.client, c.label);
        let theirs = produce_batch(c);
        let h = *theirs.header();
        let build = |codec: Compression| {
            let mut b = BatchBuilder::new(codec, None);
            b.set_producer(h.producer_id, h.producer_epoch, h.base_sequence);
            b.set_partition_leader_epoch(h.partition_leader_epoch);
            for r in theirs.records(DECOMPRESS_LIMIT).expect("records") {
                let r = r.expect("record");
                b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
            }
            RecordBatch::new(b.finish().expect("batch")).expect("well-formed batch")
        };

        let their_records = compression::decompress(c.codec, &theirs.as_bytes()[HEADER_LEN..], DECOMPRESS_LIMIT)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let plain = build(Compression::None);
        assert_eq!(&plain.as_bytes()[HEADER_LEN..], &their_records[..], "{name}: records, uncompressed");

        let ours = build(c.codec);
        ours.verify_crc().expect("our CRC");
        if c.codec == Compression::None {
            assert_eq!(ours.as_bytes(), theirs.as_bytes(), "{name}: the whole batch");
            continue;
        }
        let our_records = compression::decompress(c.codec, &ours.as_bytes()[HEADER_LEN..], DECOMPRESS_LIMIT)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(our_records, their_records, "{name}: records, decompressed");
        let o = *ours.header();
        assert_eq!(
            (o.attributes, o.last_offset_delta, o.base_timestamp, o.max_timestamp, o.record_count),
            (h.attributes, h.last_offset_delta, h.base_timestamp, h.max_timestamp, h.record_count),
            "{name}: batch header"
        );
        assert_eq!(
            (o.base_offset, o.partition_leader_epoch, o.producer_id, o.producer_epoch, o.base_sequence),
            (h.base_offset, h.partition_leader_epoch, h.producer_id, h.producer_epoch, h.base_sequence),
            "{name}: batch header"
        );
    }
}

#[test]
fn init_producer_id_asks_for_a_new_idempotent_producer() {
    // librdkafka sends -1 as the transaction timeout of a non-transactional
    // producer, kafka-python 0.
    for (client, timeout) in [(KCAT, -1), (CONFLUENT, -1), (KAFKA_PYTHON, 0)] {
        let r = body!(client, "InitProducerId-v4", InitProducerId);
        assert_eq!(r.transactional_id, None, "{client}");
        assert_eq!(r.transaction_timeout_ms, timeout, "{client}");
        assert_eq!((r.producer_id, r.producer_epoch), (-1, -1), "{client}");
    }
}

// ---------------------------------------------------------------------------
// Consuming
// ---------------------------------------------------------------------------

#[test]
fn list_offsets_asks_for_the_earliest_offset() {
    // (client, fixture, topic, isolation level, current leader epoch)
    let cases = [
        (KCAT, "ListOffsets-v2", "golden-kcat-none", 1, -1),
        (CONFLUENT, "ListOffsets-v7", "golden-ck-lz4-idempotent", 1, 0),
        (KAFKA_PYTHON, "ListOffsets-v10", "golden-kp-none", 0, -1),
    ];
    for (client, label, topic, isolation, leader_epoch) in cases {
        let r = body!(client, label, ListOffsets);
        assert_eq!((r.replica_id, r.isolation_level), (-1, isolation), "{client}/{label}");
        assert_eq!(r.topics.len(), 1, "{client}/{label}");
        assert_eq!(r.topics[0].name, topic, "{client}/{label}");
        let p = &r.topics[0].partitions;
        assert_eq!(p.len(), 1, "{client}/{label}");
        // -2: the earliest offset (auto.offset.reset / -o beginning).
        assert_eq!((p[0].partition_index, p[0].timestamp, p[0].current_leader_epoch), (0, -2, leader_epoch));
    }
}

#[test]
fn fetch_requests_start_at_offset_zero() {
    // (client, fixture, topic name on the wire, isolation, session epoch, leader epoch)
    let cases = [
        (KCAT, "Fetch-v11", "golden-kcat-none", 1, -1, -1),
        // v13+ name topics by id only.
        (CONFLUENT, "Fetch-v16", "", 1, -1, 0),
        (KAFKA_PYTHON, "Fetch-v12", "golden-kp-none", 0, 0, 0),
    ];
    for (client, label, topic, isolation, session_epoch, leader_epoch) in cases {
        let name = format!("{client}/{label}");
        let r = body!(client, label, Fetch);
        assert_eq!((r.replica_id, r.cluster_id.as_deref()), (-1, None), "{name}");
        assert_eq!((r.replica_state.replica_id, r.replica_state.replica_epoch), (-1, -1), "{name}");
        assert_eq!((r.max_wait_ms, r.min_bytes, r.max_bytes), (500, 1, 52_428_800), "{name}: waits and sizes");
        assert_eq!(r.isolation_level, isolation, "{name}: isolation level");
        // librdkafka does not use fetch sessions (epoch -1); kafka-python asks for a new one (0).
        assert_eq!((r.session_id, r.session_epoch), (0, session_epoch), "{name}: session");
        assert!(r.forgotten_topics_data.is_empty() && r.rack_id.is_empty(), "{name}");
        assert_eq!(r.topics.len(), 1, "{name}");
        let t = &r.topics[0];
        assert_eq!(t.topic, topic, "{name}: topic");
        assert_eq!(t.topic_id.is_zero(), label != "Fetch-v16", "{name}: topic id {}", t.topic_id);
        assert_eq!(t.partitions.len(), 1, "{name}");
        let p = &t.partitions[0];
        assert_eq!((p.partition, p.fetch_offset, p.current_leader_epoch), (0, 0, leader_epoch), "{name}");
        assert_eq!((p.last_fetched_epoch, p.log_start_offset, p.partition_max_bytes), (-1, -1, 1_048_576), "{name}");
        assert!(p.replica_directory_id.is_zero(), "{name}");
    }
}

// ---------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------

struct GroupCase {
    client: &'static str,
    group: &'static str,
    topic: &'static str,
    /// Fixture labels.
    join: &'static str,
    sync: &'static str,
    commit: &'static str,
    /// The consumer protocol version of the JoinGroup subscription.
    subscription_version: i16,
    /// committed_leader_epoch of the OffsetCommit.
    leader_epoch: i32,
}

const GROUP_CASES: [GroupCase; 3] = [
    GroupCase {
        client: KCAT,
        group: "golden-kcat-group",
        topic: "golden-kcat-gzip",
        join: "JoinGroup-v5",
        sync: "SyncGroup-v3",
        commit: "OffsetCommit-v7",
        subscription_version: 1,
        leader_epoch: -1,
    },
    GroupCase {
        client: CONFLUENT,
        group: "golden-ck-group",
        topic: "golden-ck-lz4-idempotent",
        join: "JoinGroup-v5",
        sync: "SyncGroup-v3",
        commit: "OffsetCommit-v9",
        subscription_version: 3,
        leader_epoch: 0,
    },
    GroupCase {
        client: KAFKA_PYTHON,
        group: "golden-kp-group",
        topic: "golden-kp-none",
        join: "JoinGroup-v7",
        sync: "SyncGroup-v5",
        commit: "OffsetCommit-v8",
        subscription_version: 0,
        leader_epoch: 0,
    },
];

/// Splits the i16 version off embedded consumer protocol bytes.
fn versioned(bytes: &Bytes) -> (i16, Bytes) {
    assert!(bytes.len() >= 2, "consumer protocol data of {} bytes", bytes.len());
    (i16::from_be_bytes([bytes[0], bytes[1]]), bytes.slice(2..))
}

#[test]
fn join_group_subscribes_to_the_topic() {
    for c in &GROUP_CASES {
        let name = format!("{}/{}", c.client, c.join);
        let j = body!(c.client, c.join, JoinGroup);
        assert_eq!(j.group_id, c.group, "{name}");
        assert_eq!((j.session_timeout_ms, j.rebalance_timeout_ms), (45_000, 300_000), "{name}: timeouts");
        // A new member joins without an id and is sent one (KIP-394).
        assert_eq!((j.member_id.as_str(), j.group_instance_id.as_deref()), ("", None), "{name}");
        assert_eq!(j.protocol_type, "consumer", "{name}");
        assert_eq!(j.reason, None, "{name}");
        let names: Vec<_> = j.protocols.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["range", "roundrobin"], "{name}: assignors");
        for p in &j.protocols {
            let (version, data) = versioned(&p.metadata);
            assert_eq!(version, c.subscription_version, "{name}: {} subscription version", p.name);
            let s = ConsumerProtocolSubscription::from_bytes(data.clone(), version)
                .unwrap_or_else(|e| panic!("{name}: {} subscription: {e}", p.name));
            assert_eq!(s.topics, [c.topic], "{name}: subscribed topics");
            assert_eq!(s.user_data.as_deref(), Some(&[][..]), "{name}: user data");
            assert!(s.owned_partitions.is_empty(), "{name}: owned partitions");
            assert_eq!(s.generation_id, -1, "{name}");
            // Rack ids are v3+; librdkafka sends an empty one, not null.
            assert_eq!(s.rack_id.as_deref(), (version >= 3).then_some(""), "{name}: rack id");
            assert_eq!(s.to_bytes(version).expect("encodes"), data, "{name}: {} subscription re-encoded", p.name);
        }
    }
}

#[test]
fn sync_group_leader_assigns_the_partition_to_itself() {
    for c in &GROUP_CASES {
        let name = format!("{}/{}", c.client, c.sync);
        let s = body!(c.client, c.sync, SyncGroup);
        assert_eq!(s.group_id, c.group, "{name}");
        assert!(s.generation_id >= 1, "{name}: generation {}", s.generation_id);
        assert!(!s.member_id.is_empty() && s.group_instance_id.is_none(), "{name}");
        // protocol_type and protocol_name are v5+ (KIP-559).
        let expected = (c.sync == "SyncGroup-v5").then_some(("consumer", "range"));
        assert_eq!(s.protocol_type.as_deref().zip(s.protocol_name.as_deref()), expected, "{name}: protocol");
        assert_eq!(s.assignments.len(), 1, "{name}: the only member is the leader");
        assert_eq!(s.assignments[0].member_id, s.member_id, "{name}");
        let (version, data) = versioned(&s.assignments[0].assignment);
        assert_eq!(version, 0, "{name}: assignment version");
        let a = ConsumerProtocolAssignment::from_bytes(data.clone(), version)
            .unwrap_or_else(|e| panic!("{name}: assignment: {e}"));
        assert_eq!(a.assigned_partitions.len(), 1, "{name}");
        assert_eq!(
            (a.assigned_partitions[0].topic.as_str(), &a.assigned_partitions[0].partitions[..]),
            (c.topic, &[0][..]),
            "{name}: assignment"
        );
        assert_eq!(a.user_data.as_deref(), Some(&[][..]), "{name}: user data");
        assert_eq!(a.to_bytes(version).expect("encodes"), data, "{name}: assignment re-encoded");
    }
}

#[test]
fn offset_commit_commits_past_the_last_record() {
    for c in &GROUP_CASES {
        let name = format!("{}/{}", c.client, c.commit);
        let o = body!(c.client, c.commit, OffsetCommit);
        assert_eq!(o.group_id, c.group, "{name}");
        assert!(o.generation_id_or_member_epoch >= 1, "{name}");
        assert!(!o.member_id.is_empty() && o.group_instance_id.is_none(), "{name}");
        assert_eq!(o.retention_time_ms, -1, "{name}");
        assert_eq!(o.topics.len(), 1, "{name}");
        assert_eq!(o.topics[0].name, c.topic, "{name}");
        let p = &o.topics[0].partitions;
        assert_eq!(p.len(), 1, "{name}");
        assert_eq!((p[0].partition_index, p[0].committed_offset), (0, i64::from(RECORD_COUNT)), "{name}");
        assert_eq!(p[0].committed_leader_epoch, c.leader_epoch, "{name}: leader epoch");
        assert_eq!(p[0].committed_metadata.as_deref(), Some(""), "{name}: metadata");
    }
}

/// FindCoordinator, OffsetFetch, Heartbeat and LeaveGroup name the group, and
/// every request after the join carries the member id the broker assigned.
#[test]
fn group_requests_name_the_group_and_member() {
    for c in &GROUP_CASES {
        let client = c.client;
        let member = body!(client, c.sync, SyncGroup).member_id;
        assert_eq!(body!(client, c.commit, OffsetCommit).member_id, member, "{client}: OffsetCommit member");

        let heartbeat_label = if client == KAFKA_PYTHON { "Heartbeat-v4" } else { "Heartbeat-v3" };
        let h = body!(client, heartbeat_label, Heartbeat);
        assert_eq!((h.group_id.as_str(), h.member_id.as_str()), (c.group, member.as_str()), "{client}: Heartbeat");
        assert!(h.generation_id >= 1 && h.group_instance_id.is_none(), "{client}: Heartbeat");

        match client {
            KAFKA_PYTHON => {
                // v4+ batch coordinator lookups (KIP-699) and v3+ name leaving members (KIP-345).
                let f = body!(client, "FindCoordinator-v6", FindCoordinator);
                assert_eq!((f.key.as_str(), f.key_type, &f.coordinator_keys[..]), ("", 0, &[c.group.to_string()][..]));
                let l = body!(client, "LeaveGroup-v5", LeaveGroup);
                assert_eq!((l.group_id.as_str(), l.member_id.as_str()), (c.group, ""), "{client}: LeaveGroup");
                let members: Vec<_> = l.members.iter().map(|m| (m.member_id.as_str(), m.reason.as_deref())).collect();
                assert_eq!(members, [(member.as_str(), None)], "{client}: LeaveGroup members");
            }
            _ => {
                let f = body!(client, "FindCoordinator-v2", FindCoordinator);
                assert_eq!((f.key.as_str(), f.key_type), (c.group, 0), "{client}: FindCoordinator");
                assert!(f.coordinator_keys.is_empty(), "{client}: FindCoordinator");
                let l = body!(client, "LeaveGroup-v1", LeaveGroup);
                assert_eq!((l.group_id.as_str(), l.member_id.as_str()), (c.group, member.as_str()), "{client}");
                assert!(l.members.is_empty(), "{client}: LeaveGroup");
            }
        }
    }

    // OffsetFetch: v7 names one group; v8+ a list of groups (KIP-709).
    let kcat = body!(KCAT, "OffsetFetch-v7", OffsetFetch);
    assert_eq!(kcat.group_id, "golden-kcat-group");
    let topics: Vec<_> = kcat.topics.iter().flatten().map(|t| (t.name.as_str(), t.partition_indexes.clone())).collect();
    assert_eq!(topics, [("golden-kcat-gzip", vec![0])]);
    assert!(kcat.groups.is_empty() && kcat.require_stable);
    for (client, label, group, topic, require_stable) in [
        (CONFLUENT, "OffsetFetch-v9", "golden-ck-group", "golden-ck-lz4-idempotent", true),
        (KAFKA_PYTHON, "OffsetFetch-v8", "golden-kp-group", "golden-kp-none", false),
    ] {
        let o = body!(client, label, OffsetFetch);
        assert_eq!((o.group_id.as_str(), o.topics.as_deref().map(<[_]>::len)), ("", Some(0)), "{client}/{label}");
        assert_eq!(o.require_stable, require_stable, "{client}/{label}");
        assert_eq!(o.groups.len(), 1, "{client}/{label}");
        let g = &o.groups[0];
        assert_eq!((g.group_id.as_str(), g.member_id.as_deref(), g.member_epoch), (group, None, -1));
        let topics: Vec<_> =
            g.topics.iter().flatten().map(|t| (t.name.as_str(), t.partition_indexes.clone())).collect();
        assert_eq!(topics, [(topic, vec![0])], "{client}/{label}");
    }
}

// ---------------------------------------------------------------------------
// Administration
// ---------------------------------------------------------------------------

#[test]
fn create_topics_requests() {
    let ck = body!(CONFLUENT, "CreateTopics-v4", CreateTopics);
    assert_eq!((ck.timeout_ms, ck.validate_only), (10_000, false));
    assert_eq!(ck.topics.len(), 1);
    let t = &ck.topics[0];
    assert_eq!((t.name.as_str(), t.num_partitions, t.replication_factor), ("golden-ck-admin", 3, 1));
    assert!(t.assignments.is_empty());
    let configs: Vec<_> = t.configs.iter().map(|c| (c.name.as_str(), c.value.as_deref())).collect();
    assert_eq!(configs, [("retention.ms", Some("3600000"))]);

    let kp = body!(KAFKA_PYTHON, "CreateTopics-v7", CreateTopics);
    assert_eq!((kp.timeout_ms, kp.validate_only), (30_000, false));
    assert_eq!(kp.topics.len(), 1);
    let t = &kp.topics[0];
    assert_eq!((t.name.as_str(), t.num_partitions, t.replication_factor), ("golden-kp-admin", 2, 1));
    assert!(t.assignments.is_empty() && t.configs.is_empty());
}

#[test]
fn describe_requests() {
    // resource type 2: a topic; null keys: every config.
    for (client, label, topic, synonyms) in [
        (CONFLUENT, "DescribeConfigs-v1", "golden-ck-admin", true),
        (KAFKA_PYTHON, "DescribeConfigs-v4", "golden-kp-admin", false),
    ] {
        let d = body!(client, label, DescribeConfigs);
        let resources: Vec<_> = d
            .resources
            .iter()
            .map(|r| (r.resource_type, r.resource_name.as_str(), r.configuration_keys.clone()))
            .collect();
        assert_eq!(resources, [(2, topic, None)], "{client}/{label}");
        assert_eq!((d.include_synonyms, d.include_documentation), (synonyms, false), "{client}/{label}");
    }

    let d = body!(KAFKA_PYTHON, "DescribeCluster-v2", DescribeCluster);
    // endpoint_type 1: brokers.
    assert_eq!((d.include_cluster_authorized_operations, d.endpoint_type, d.include_fenced_brokers), (true, 1, true));
}

#[test]
fn alter_configs_requests_set_retention() {
    // config_operation 0: SET.
    for (client, topic) in [(CONFLUENT, "golden-ck-admin"), (KAFKA_PYTHON, "golden-kp-admin")] {
        let r = body!(client, "IncrementalAlterConfigs-v1", IncrementalAlterConfigs);
        assert!(!r.validate_only, "{client}");
        assert_eq!(r.resources.len(), 1, "{client}");
        assert_eq!((r.resources[0].resource_type, r.resources[0].resource_name.as_str()), (2, topic), "{client}");
        let configs: Vec<_> =
            r.resources[0].configs.iter().map(|c| (c.name.as_str(), c.config_operation, c.value.as_deref())).collect();
        assert_eq!(configs, [("retention.ms", 0, Some("7200000"))], "{client}");
    }
    let r = body!(KAFKA_PYTHON, "AlterConfigs-v2", AlterConfigs);
    assert!(!r.validate_only);
    assert_eq!(r.resources.len(), 1);
    assert_eq!((r.resources[0].resource_type, r.resources[0].resource_name.as_str()), (2, "golden-kp-admin"));
    let configs: Vec<_> = r.resources[0].configs.iter().map(|c| (c.name.as_str(), c.value.as_deref())).collect();
    assert_eq!(configs, [("retention.ms", Some("7200000"))]);
}

#[test]
fn partition_and_record_administration() {
    for (client, label, topic, count, timeout) in [
        (CONFLUENT, "CreatePartitions-v2", "golden-ck-admin", 4, 10_000),
        (KAFKA_PYTHON, "CreatePartitions-v3", "golden-kp-admin", 3, 30_000),
    ] {
        let r = body!(client, label, CreatePartitions);
        assert_eq!((r.timeout_ms, r.validate_only), (timeout, false), "{client}/{label}");
        let topics: Vec<_> = r.topics.iter().map(|t| (t.name.as_str(), t.count, t.assignments.is_none())).collect();
        assert_eq!(topics, [(topic, count, true)], "{client}/{label}");
    }

    for (client, topic) in [(CONFLUENT, "golden-ck-zstd"), (KAFKA_PYTHON, "golden-kp-gzip")] {
        let r = body!(client, "DeleteRecords-v2", DeleteRecords);
        // kafka-python sends what is left of its 30 s budget.
        assert!((1..=60_000).contains(&r.timeout_ms), "{client}: timeout {}", r.timeout_ms);
        assert_eq!(r.topics.len(), 1, "{client}");
        assert_eq!(r.topics[0].name, topic, "{client}");
        let partitions: Vec<_> = r.topics[0].partitions.iter().map(|p| (p.partition_index, p.offset)).collect();
        assert_eq!(partitions, [(0, 5)], "{client}: delete before offset 5");
    }

    // DeleteTopics v6 names topics in `topics` (name or id); v4 in `topic_names`.
    let ck = body!(CONFLUENT, "DeleteTopics-v4", DeleteTopics);
    assert_eq!(
        (&ck.topic_names[..], ck.topics.len(), ck.timeout_ms),
        (&["golden-ck-admin".to_string()][..], 0, 10_000)
    );
    let kp = body!(KAFKA_PYTHON, "DeleteTopics-v6", DeleteTopics);
    assert_eq!((kp.topic_names.len(), kp.timeout_ms), (0, 30_000));
    let topics: Vec<_> = kp.topics.iter().map(|t| (t.name.as_deref(), t.topic_id.is_zero())).collect();
    assert_eq!(topics, [(Some("golden-kp-admin"), true)]);
}

#[test]
fn group_administration() {
    for (client, describe, group, authorized_operations) in [
        (CONFLUENT, "DescribeGroups-v5", "golden-ck-group", false),
        (KAFKA_PYTHON, "DescribeGroups-v6", "golden-kp-group", true),
    ] {
        let l = body!(client, "ListGroups-v5", ListGroups);
        assert!(l.states_filter.is_empty() && l.types_filter.is_empty(), "{client}: no filters");
        let d = body!(client, describe, DescribeGroups);
        assert_eq!((&d.groups[..], d.include_authorized_operations), (&[group.to_string()][..], authorized_operations));
        let g = body!(client, "DeleteGroups-v2", DeleteGroups);
        assert_eq!(g.groups_names, [group], "{client}");
    }

    let o = body!(KAFKA_PYTHON, "OffsetDelete-v0", OffsetDelete);
    assert_eq!(o.group_id, "golden-kp-group");
    let topics: Vec<_> = o
        .topics
        .iter()
        .map(|t| (t.name.as_str(), t.partitions.iter().map(|p| p.partition_index).collect::<Vec<_>>()))
        .collect();
    assert_eq!(topics, [("golden-kp-none", vec![0])]);
}
