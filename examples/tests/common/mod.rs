//! What the tool tests share: running a tool as a subprocess (with input,
//! a time limit, and its output collected), a 3-broker testkit cluster,
//! normalising output that varies between runs, and comparing it with the
//! samples in `tests/expected/` (`UPDATE_EXPECTED=1` rewrites them).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use broker_testkit::{Cluster, TopicSpec};

/// Upper bound for one tool run; a hang fails the test with the output.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The path of one of this package's binaries.
pub fn tool(name: &str) -> &'static str {
    match name {
        "kafka-console-producer" => env!("CARGO_BIN_EXE_kafka-console-producer"),
        "kafka-console-consumer" => env!("CARGO_BIN_EXE_kafka-console-consumer"),
        "kafka-producer-perf-test" => env!("CARGO_BIN_EXE_kafka-producer-perf-test"),
        "kafka-consumer-perf-test" => env!("CARGO_BIN_EXE_kafka-consumer-perf-test"),
        "kafka-dump-log" => env!("CARGO_BIN_EXE_kafka-dump-log"),
        "kafka-topics" => env!("CARGO_BIN_EXE_kafka-topics"),
        "kafka-consumer-groups" => env!("CARGO_BIN_EXE_kafka-consumer-groups"),
        "kafka-transactions" => env!("CARGO_BIN_EXE_kafka-transactions"),
        "quickstart" => env!("CARGO_BIN_EXE_quickstart"),
        "producer" => env!("CARGO_BIN_EXE_producer"),
        "consumer" => env!("CARGO_BIN_EXE_consumer"),
        "admin" => env!("CARGO_BIN_EXE_admin"),
        "transactions" => env!("CARGO_BIN_EXE_transactions"),
        other => panic!("no tool {other}"),
    }
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Panics with the output unless the tool exited with status 0.
    pub fn ok(self) -> Run {
        assert!(self.status.success(), "exit {:?}\nstdout:\n{}\nstderr:\n{}", self.status, self.stdout, self.stderr);
        self
    }

    /// Panics unless the tool failed with status 1 and one line on stderr;
    /// returns that line.
    pub fn failed_with_one_line(&self) -> &str {
        assert_eq!(self.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{}", self.stderr);
        lines[0]
    }
}

/// Runs a program with `stdin` as its input, killing it after `TIMEOUT`.
pub fn run_program(program: &Path, args: &[&str], stdin: &str) -> Run {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
        // Dropping the pipe is the end of input.
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let status = child.wait().unwrap();
            let (o, e) = (out.join().unwrap(), err.join().unwrap());
            panic!("{} {args:?} timed out ({status})\nstdout:\n{o}\nstderr:\n{e}", program.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Run { status, stdout: out.join().unwrap(), stderr: err.join().unwrap(), elapsed: started.elapsed() }
}

/// Runs one of the tools, off the async runtime's threads (the cluster
/// keeps serving meanwhile).
pub async fn run(name: &str, args: &[&str], stdin: &str) -> Run {
    let program = PathBuf::from(tool(name));
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_program(&program, &args, &stdin)
    })
    .await
    .unwrap()
}

/// A 3-broker cluster (with a data directory when given).
pub async fn cluster(data_dir: Option<&Path>) -> Cluster {
    let mut b = Cluster::builder().brokers(3);
    if let Some(d) = data_dir {
        b = b.data_dir(d);
    }
    b.start().await.unwrap()
}

/// Creates a topic replicated on all three brokers.
pub async fn topic(cluster: &Cluster, name: &str, partitions: i32) {
    cluster.create_topic_with(TopicSpec::new(name, partitions, 3)).await.unwrap();
}

/// Applies regex replacements in order.
pub fn normalize(text: &str, rules: &[(&str, &str)]) -> String {
    rules.iter().fold(text.to_string(), |t, (pattern, with)| {
        regex::Regex::new(pattern).unwrap().replace_all(&t, *with).into_owned()
    })
}

/// Compares `actual` with `tests/expected/<name>`; with `UPDATE_EXPECTED`
/// set, writes it there instead.
pub fn check_expected(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected").join(name);
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_EXPECTED=1 to create it)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let p = std::env::temp_dir().join(format!("examples-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
