//! Workspace integration tests.

pub mod eos;
pub mod netsim;
#[cfg(feature = "real-kafka")]
pub mod real_kafka;
pub mod txn;

/// `kafka-testkit`, built (or found up to date) once per test binary by
/// `cargo build -p broker-testkit --bin kafka-testkit`: cargo builds no
/// binaries of other packages for a package's tests, and a stale one would
/// test old code. Used by the interop suite and by the tool tests of
/// `examples`.
pub fn testkit_binary() -> std::path::PathBuf {
    workspace_binary("broker-testkit", "kafka-testkit")
}

/// Binary `bin` of workspace package `package`, built (or found up to date)
/// once per test binary with `cargo build`; see [`testkit_binary`].
pub fn workspace_binary(package: &str, bin: &str) -> std::path::PathBuf {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::{Mutex, OnceLock};

    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(exe) = built.get(bin) {
        return exe.clone();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.args(["build", "-p", package, "--bin", bin, "--message-format=json"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.stderr(Stdio::inherit()).output().expect("run cargo build");
    assert!(out.status.success(), "cargo build -p {package} --bin {bin} failed");
    // The artifact message of the binary names its path.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let name = format!(r#""name":"{bin}""#);
    let exe = stdout
        .lines()
        .filter(|l| l.contains(&name))
        .find_map(|l| l.split_once(r#""executable":""#).and_then(|(_, rest)| rest.split_once('"')))
        .map(|(path, _)| PathBuf::from(path))
        .unwrap_or_else(|| panic!("cargo reported no {bin} executable"));
    assert!(exe.exists(), "{} is missing", exe.display());
    built.insert(bin.to_string(), exe.clone());
    exe
}

/// Running third-party clients (kcat, the Python scripts of
/// tests/interop/) as subprocesses for the interop suite: runs bounded by a
/// timeout, pipes drained on threads, librdkafka's protocol errors caught,
/// and line-by-line steered drivers; plus what both interop test files
/// check the cluster with (kcat's view of a topic, group assignments).
#[cfg(feature = "interop")]
pub mod interop {
    use std::collections::BTreeSet;
    use std::future::Future;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::path::PathBuf;
    use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::{Duration, Instant};

    use broker_testkit::group::{GroupView, MemberView};
    use kafka_protocol::Compression;
    use kafka_protocol::messages::Message;
    use kafka_protocol::messages::consumer_protocol::ConsumerProtocolAssignment;

    /// The Python interpreter that has kafka-python and confluent-kafka:
    /// the virtualenv .ci/run creates, or `KAFKA_INTEROP_PYTHON`.
    pub fn python() -> Command {
        let exe = std::env::var("KAFKA_INTEROP_PYTHON").unwrap_or_else(|_| {
            let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
            venv.to_string_lossy().into_owned()
        });
        Command::new(exe)
    }

    /// A script of tests/interop/.
    pub fn script(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop").join(name)
    }

    /// Upper bound for any single client run or reply; a hang fails the
    /// test with the client's output instead of blocking the suite.
    pub const TIMEOUT: Duration = Duration::from_secs(60);

    /// Every codec, by the name kcat, librdkafka and the Python drivers
    /// take it under.
    pub const CODECS: [(&str, Compression); 5] = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];

    /// A finished client run.
    #[derive(Debug)]
    pub struct Run {
        /// How it exited.
        pub status: ExitStatus,
        /// Everything it printed on stdout.
        pub stdout: String,
        /// Everything it printed on stderr.
        pub stderr: String,
    }

    impl Run {
        /// The tab-separated fields of the stdout lines whose first field is
        /// `tag`, without it.
        pub fn lines(&self, tag: &str) -> Vec<Vec<String>> {
            self.stdout
                .lines()
                .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
                .filter(|f| f[0] == tag)
                .map(|mut f| {
                    f.remove(0);
                    f
                })
                .collect()
        }
    }

    /// The command line, for messages.
    pub fn command_line(cmd: &Command) -> String {
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        format!("{} {}", cmd.get_program().to_string_lossy(), args.join(" "))
    }

    /// A pipe collected on a thread, so a chatty child never blocks on it.
    /// Bytes are kept as read and decoded as a whole: a multi-byte UTF-8
    /// character may straddle two reads.
    pub struct Drain {
        buf: Arc<Mutex<Vec<u8>>>,
        reader: std::thread::JoinHandle<()>,
    }

    impl Drain {
        /// Starts reading `r`.
        pub fn new(mut r: impl Read + Send + 'static) -> Drain {
            let buf = Arc::new(Mutex::new(Vec::new()));
            let b = buf.clone();
            let reader = std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    b.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            });
            Drain { buf, reader }
        }

        /// What was read so far (lossy UTF-8).
        pub fn snapshot(&self) -> String {
            String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
        }

        /// Everything, once the pipe closed (the child exited).
        pub fn finish(self) -> String {
            let _ = self.reader.join();
            String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
        }
    }

    /// Waits for `child` up to `timeout`, killing it when it overruns.
    pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for child") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// librdkafka logs a response it cannot parse (and drops the
    /// connection) as PROTOERR; it often recovers, so the run alone would
    /// not show it.
    pub fn assert_no_protocol_errors(what: &str, stderr: &str) {
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("PROTOERR")).collect();
        assert!(errors.is_empty(), "{what}: librdkafka could not parse responses:\n{}", errors.join("\n"));
    }

    /// Starts `cmd` with stdin, stdout and stderr piped to the test.
    pub fn spawn_piped(cmd: &mut Command) -> Child {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", command_line(cmd)))
    }

    /// Runs a client to completion, feeding it `input`, and fails on
    /// librdkafka protocol errors. Blocking: on a multi-threaded runtime it
    /// goes through `block_in_place`, so the tasks of the test (the
    /// cluster, our clients) keep running on the other workers.
    pub fn run(mut cmd: Command, input: &str) -> Run {
        let what = command_line(&cmd);
        let input = input.to_string();
        tokio::task::block_in_place(move || {
            let mut child = spawn_piped(&mut cmd);
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
            });
            let stdout = Drain::new(child.stdout.take().unwrap());
            let stderr = Drain::new(child.stderr.take().unwrap());
            let status = wait_with_timeout(&mut child, TIMEOUT);
            let (stdout, stderr) = (stdout.finish(), stderr.finish());
            let Some(status) = status else {
                panic!("{what} did not finish within {TIMEOUT:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
            };
            assert_no_protocol_errors(&what, &stderr);
            Run { status, stdout, stderr }
        })
    }

    /// [`run`], requiring exit status 0.
    pub fn run_ok(cmd: Command, input: &str) -> Run {
        let what = command_line(&cmd);
        let r = run(cmd, input);
        assert!(r.status.success(), "{what} failed ({})\nstdout:\n{}\nstderr:\n{}", r.status, r.stdout, r.stderr);
        r
    }

    /// A client steered one command line at a time: each reply is a run of
    /// tab-separated lines ending with a line "ok ..." (or "error ...",
    /// which fails the test), the protocol of the drivers in
    /// tests/interop/. "quit" ends it.
    pub struct Steered {
        what: String,
        child: Child,
        stdin: ChildStdin,
        lines: mpsc::Receiver<String>,
        stderr: Drain,
    }

    impl Steered {
        /// Starts `cmd`.
        pub fn start(mut cmd: Command) -> Steered {
            let what = command_line(&cmd);
            let mut child = spawn_piped(&mut cmd);
            let stdin = child.stdin.take().unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let stderr = Drain::new(child.stderr.take().unwrap());
            Steered { what, child, stdin, lines, stderr }
        }

        /// Sends a command and returns the fields of the lines of its reply,
        /// without the final "ok".
        pub fn call(&mut self, command: &str) -> Vec<Vec<String>> {
            tokio::task::block_in_place(|| {
                writeln!(self.stdin, "{command}").unwrap();
                self.stdin.flush().unwrap();
                let mut reply = Vec::new();
                let deadline = Instant::now() + TIMEOUT;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let line = match self.lines.recv_timeout(left) {
                        Ok(line) => line,
                        Err(e) => panic!(
                            "{}: no reply to {command:?} ({e})\nso far: {reply:?}\nstderr:\n{}",
                            self.what,
                            self.stderr.snapshot()
                        ),
                    };
                    let fields: Vec<String> = line.split('\t').map(str::to_string).collect();
                    match fields[0].as_str() {
                        "ok" => return reply,
                        "error" => {
                            panic!("{}: {command:?} failed: {line}\nstderr:\n{}", self.what, self.stderr.snapshot())
                        }
                        _ => reply.push(fields),
                    }
                }
            })
        }

        /// Sends "quit", requires exit status 0 and no librdkafka protocol
        /// errors; returns stderr.
        pub fn quit(mut self) -> String {
            tokio::task::block_in_place(|| {
                let _ = writeln!(self.stdin, "quit");
                let _ = self.stdin.flush();
                let status = wait_with_timeout(&mut self.child, TIMEOUT);
                let stderr = self.stderr.snapshot();
                assert!(status.is_some_and(|s| s.success()), "{} exited with {status:?}\nstderr:\n{stderr}", self.what);
                assert_no_protocol_errors(&self.what, &stderr);
                stderr
            })
        }

        /// Fails on librdkafka protocol errors logged so far.
        pub fn assert_no_protocol_errors(&self) {
            assert_no_protocol_errors(&self.what, &self.stderr.snapshot());
        }
    }

    impl Drop for Steered {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Polls `cond` every 10 ms until it holds; fails after [`TIMEOUT`].
    pub async fn wait_until<F, Fut>(what: &str, mut cond: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !cond().await {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The partitions of `topic` the coordinator holds as `member`'s
    /// assignment in `view`: its ConsumerProtocolAssignment, after the
    /// version.
    pub fn assigned(view: &GroupView, member: &MemberView, topic: &str) -> BTreeSet<i32> {
        let mut bytes = member.assignment.clone();
        assert!(bytes.len() >= 2, "{} has no assignment: {view:?}", member.member_id);
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        let _ = bytes.split_to(2);
        let a = ConsumerProtocolAssignment::decode(&mut bytes, version.clamp(0, 3)).unwrap();
        a.assigned_partitions
            .iter()
            .filter(|tp| tp.topic == topic)
            .flat_map(|tp| tp.partitions.iter().copied())
            .collect()
    }

    /// `kcat -b bootstrap`.
    pub fn kcat(bootstrap: &str) -> Command {
        let mut c = Command::new("kcat");
        c.args(["-b", bootstrap]);
        c
    }

    /// `kcat -P`: one record per line of `lines`, `key:value` when `args`
    /// has `-K :`. Fails on a delivery kcat reports failed.
    pub fn kcat_produce(bootstrap: &str, topic: &str, args: &[&str], lines: &[String]) -> Run {
        let mut c = kcat(bootstrap);
        c.args(["-P", "-t", topic]).args(args);
        let r = run_ok(c, &(lines.join("\n") + "\n"));
        // kcat exits 0 after failed deliveries; it reports them on stderr.
        assert!(!r.stderr.contains("Delivery failed"), "kcat could not deliver:\n{}", r.stderr);
        r
    }

    /// A record as kcat prints it with [`KCAT_FORMAT`].
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    pub struct KcatRecord {
        /// Its partition.
        pub partition: i32,
        /// Its offset.
        pub offset: i64,
        /// The key, None for null.
        pub key: Option<String>,
        /// The value, None for null.
        pub value: Option<String>,
        /// The timestamp (ms).
        pub timestamp: i64,
        /// The headers, `k=v,...` (`k=NULL` for a null value).
        pub headers: String,
    }

    /// Partition, offset, key and value lengths (-1 for null: they tell
    /// null from empty) and contents, timestamp, headers.
    pub const KCAT_FORMAT: &str = "%p\t%o\t%K\t%k\t%S\t%s\t%T\t%h\n";

    /// `kcat -C -e`: every partition of `topic` from the beginning to its
    /// end, in (partition, offset) order.
    pub fn kcat_consume(bootstrap: &str, topic: &str) -> Vec<KcatRecord> {
        let mut c = kcat(bootstrap);
        c.args(["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", KCAT_FORMAT]);
        let r = run_ok(c, "");
        let mut recs: Vec<KcatRecord> = r
            .stdout
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(8, '\t').collect();
                assert_eq!(f.len(), 8, "unexpected kcat line {l:?}");
                KcatRecord {
                    partition: f[0].parse().unwrap(),
                    offset: f[1].parse().unwrap(),
                    key: (f[2] != "-1").then(|| f[3].to_string()),
                    value: (f[4] != "-1").then(|| f[5].to_string()),
                    timestamp: f[6].parse().unwrap(),
                    headers: f[7].to_string(),
                }
            })
            .collect();
        recs.sort();
        recs
    }
}

/// A producer sending numbered records until told to stop, and what it was
/// told about each: the fault schedules and the real-Kafka failover run
/// check the brokers' logs against it.
pub mod delivery {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use kafka_client::Error;
    use kafka_client::producer::{Producer, ProducerRecord};

    /// The producer's verdict on each record, by index.
    #[derive(Debug, Default)]
    pub struct Outcomes {
        /// Delivered: (partition, offset).
        pub acked: BTreeMap<usize, (i32, i64)>,
        /// Failed with "outcome unknown": may or may not be stored.
        pub unknown: BTreeSet<usize>,
        /// Failed for good: must not be stored.
        pub failed: BTreeMap<usize, String>,
    }

    /// A running [`produce_until_stopped`].
    pub struct Producing {
        stop: Arc<AtomicBool>,
        sent: Arc<AtomicUsize>,
        outcomes: Arc<Mutex<Outcomes>>,
        task: tokio::task::JoinHandle<()>,
    }

    /// Sends `{prefix}-{i}` with key `k{i % keys}` for i = 0, 1, … until
    /// stopped, pausing `pause` after every `burst` records.
    pub fn produce_until_stopped(
        producer: Producer,
        topic: &str,
        prefix: &str,
        keys: usize,
        (burst, pause): (usize, Duration),
    ) -> Producing {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let (topic, prefix) = (Arc::<str>::from(topic), prefix.to_string());
        let task = {
            let (stop, sent, outcomes) = (stop.clone(), sent.clone(), outcomes.clone());
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let r =
                        ProducerRecord::new(topic.clone()).key(format!("k{}", i % keys)).value(format!("{prefix}-{i}"));
                    match producer.send(r).await {
                        Ok(f) => pending.push((i, f)),
                        Err(e) => {
                            lock(&outcomes).failed.insert(i, e.to_string());
                        }
                    }
                    i += 1;
                    sent.store(i, Ordering::SeqCst);
                    if i.is_multiple_of(burst.max(1)) {
                        tokio::time::sleep(pause).await;
                    }
                }
                for (i, f) in pending {
                    let r = f.await;
                    let mut o = lock(&outcomes);
                    match r {
                        Ok(m) => {
                            o.acked.insert(i, (m.partition, m.offset));
                        }
                        Err(Error::OutcomeUnknown { .. }) => {
                            o.unknown.insert(i);
                        }
                        Err(e) => {
                            o.failed.insert(i, e.to_string());
                        }
                    }
                }
            })
        };
        Producing { stop, sent, outcomes, task }
    }

    fn lock(m: &Mutex<Outcomes>) -> std::sync::MutexGuard<'_, Outcomes> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl Producing {
        /// Stops sending, waits (at most `within`) until every delivery
        /// ended, and returns how many records were sent and the verdicts.
        pub async fn finish(self, within: Duration) -> Result<(usize, Outcomes), String> {
            self.stop.store(true, Ordering::SeqCst);
            match tokio::time::timeout(within, self.task).await {
                Err(_) => Err(format!("deliveries did not all end within {within:?}")),
                Ok(Err(e)) => Err(format!("the producing task failed: {e}")),
                Ok(Ok(())) => Ok((self.sent.load(Ordering::SeqCst), std::mem::take(&mut *lock(&self.outcomes)))),
            }
        }
    }
}
