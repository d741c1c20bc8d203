//! Real Apache Kafka brokers for tests: KRaft nodes as plain JVM processes
//! on loopback, each both broker and controller, with ephemeral ports.
//!
//! [`install`] resolves a Kafka release from Maven Central into a cache
//! outside the repository (`tests/real-kafka/install.sh`); [`KafkaCluster`]
//! formats and starts 1..n nodes, waits until every broker serves
//! metadata, and can stop, kill, freeze (SIGSTOP) and restart single nodes
//! for failover tests. Every wait has a deadline; a failure names the node
//! and shows the tail of its log. Dropping the cluster kills its processes;
//! its folder (configs, data, logs) is removed unless the thread is
//! panicking, so a failed test leaves its logs behind (the path is printed).

use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The releases CI runs against: the oldest release line we speak to
/// (4.0.x; 4.0.0 itself is not served by Maven Central here) and the newest
/// 4.x served, which the protocol's version table is pinned to.
pub const OLDEST: &str = "4.0.2";
/// See [`OLDEST`].
pub const NEWEST: &str = "4.4.0";

/// How long a node may take to start, per node, on a 2-core machine.
const START_DEADLINE: Duration = Duration::from_secs(90);

/// A launcher error: what failed, and the evidence.
#[derive(Debug)]
pub struct LaunchError(pub String);

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LaunchError {}

fn err(msg: impl Into<String>) -> LaunchError {
    LaunchError(msg.into())
}

/// The jars of Kafka `version` (broker, tools, Java client, log4j), as a
/// folder for a `DIR/*` class path; installs them on first use.
pub fn install(version: &str) -> Result<PathBuf, LaunchError> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("real-kafka/install.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(version)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| err(format!("cannot run {}: {e}", script.display())))?;
    if !out.status.success() {
        return Err(err(format!("installing Apache Kafka {version} failed ({})", out.status)));
    }
    let dir = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().trim().to_string();
    let dir = PathBuf::from(dir);
    if !dir.join(format!("kafka_2.13-{version}.jar")).exists() {
        return Err(err(format!("{} does not hold kafka_2.13-{version}.jar", dir.display())));
    }
    Ok(dir)
}

/// A signal for [`KafkaCluster::signal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Crash: no shutdown, nothing flushed beyond what the OS has.
    Kill,
    /// Orderly shutdown (controlled leadership hand-over).
    Term,
    /// Freeze: the process keeps its sockets but does nothing.
    Stop,
    /// Thaw a frozen process.
    Cont,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Kill => "KILL",
            Signal::Term => "TERM",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
        }
    }
}

struct Node {
    id: i32,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.log()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// A running KRaft cluster; see the module docs.
pub struct KafkaCluster {
    version: String,
    jars: PathBuf,
    root: PathBuf,
    nodes: Vec<Node>,
}

impl std::fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("version", &self.version)
            .field("bootstrap", &self.bootstrap_servers())
            .field("root", &self.root)
            .finish()
    }
}

/// `n` distinct free loopback ports: all held open until every one is
/// chosen, so the OS cannot hand out the same port twice.
fn free_ports(n: usize) -> Result<Vec<u16>, LaunchError> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").map_err(|e| err(format!("no free loopback port: {e}"))))
        .collect::<Result<_, _>>()?;
    held.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(|e| err(e.to_string()))).collect()
}

/// A fresh cluster id: 16 random bytes in URL-safe base64 without padding,
/// Kafka's `Uuid` text form — never starting with '-', which the storage
/// tool's argument parser would take for an option (Kafka's own
/// `Uuid.randomUuid` draws again in that case too).
fn cluster_id() -> String {
    loop {
        let id = random_uuid_text();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_uuid_text() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..));
    let bytes = bits.to_be_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut n = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        n += 8;
        while n >= 6 {
            n -= 6;
            out.push(ALPHABET[((acc >> n) & 63) as usize] as char);
        }
    }
    if n > 0 {
        out.push(ALPHABET[((acc << (6 - n)) & 63) as usize] as char);
    }
    out
}

fn java() -> Command {
    let mut cmd = Command::new(std::env::var("KAFKA_RS_JAVA").unwrap_or_else(|_| "java".into()));
    cmd.stdin(Stdio::null());
    cmd
}

const LOG4J2: &str = "\
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
";

impl KafkaCluster {
    /// Installs Kafka `version` if needed, then formats and starts `nodes`
    /// combined broker+controller nodes (ids 1..=n) and waits until each
    /// serves. Internal topics get replication factor min(3, n).
    pub fn start(version: &str, nodes: usize) -> Result<KafkaCluster, LaunchError> {
        Self::start_with(version, nodes, &[])
    }

    /// [`Self::start`] from async code: the JVMs start on a blocking thread.
    pub async fn launch(version: &str, nodes: usize) -> Result<KafkaCluster, LaunchError> {
        let version = version.to_string();
        tokio::task::spawn_blocking(move || Self::start(&version, nodes))
            .await
            .map_err(|e| err(format!("the launcher thread failed: {e}")))?
    }

    /// [`Self::start`] with extra broker settings for every node.
    pub fn start_with(version: &str, nodes: usize, extra: &[(&str, &str)]) -> Result<KafkaCluster, LaunchError> {
        Self::start_full(version, nodes, extra, &[])
    }

    /// [`Self::launch`] with the storage formatted at the given feature
    /// levels (`kafka-storage format --feature name=level`), e.g.
    /// `transaction.version=1` for the transaction protocol before KIP-890.
    pub async fn launch_formatted(
        version: &str,
        nodes: usize,
        features: &[(&str, &str)],
    ) -> Result<KafkaCluster, LaunchError> {
        let version = version.to_string();
        let features: Vec<(String, String)> =
            features.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
        tokio::task::spawn_blocking(move || {
            let f: Vec<(&str, &str)> = features.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Self::start_full(&version, nodes, &[], &f)
        })
        .await
        .map_err(|e| err(format!("the launcher thread failed: {e}")))?
    }

    /// [`Self::start_with`], formatting the storage at feature levels.
    pub fn start_full(
        version: &str,
        nodes: usize,
        extra: &[(&str, &str)],
        features: &[(&str, &str)],
    ) -> Result<KafkaCluster, LaunchError> {
        if nodes == 0 {
            return Err(err("a cluster needs at least one node"));
        }
        let jars = install(version)?;
        let base = std::env::var_os("KAFKA_RS_RUN_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let root = base.join(format!("kafka-rs-{version}-{}-{}", std::process::id(), fastrand::u32(..)));
        fs::create_dir_all(&root).map_err(|e| err(format!("cannot create {}: {e}", root.display())))?;
        fs::write(root.join("log4j2.properties"), LOG4J2).map_err(|e| err(e.to_string()))?;
        let ports: Vec<(u16, u16)> = free_ports(2 * nodes)?.chunks(2).map(|c| (c[0], c[1])).collect();
        let voters = ports
            .iter()
            .enumerate()
            .map(|(i, (_, c))| format!("{}@127.0.0.1:{c}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let rf = nodes.min(3);
        let id = cluster_id();
        let mut cluster = KafkaCluster { version: version.to_string(), jars, root: root.clone(), nodes: Vec::new() };
        for (i, (port, cport)) in ports.iter().enumerate() {
            let node_id = i as i32 + 1;
            let dir = root.join(format!("node-{node_id}"));
            fs::create_dir_all(dir.join("data")).map_err(|e| err(e.to_string()))?;
            let mut props = String::new();
            let settings: Vec<(String, String)> = vec![
                ("process.roles".into(), "broker,controller".into()),
                ("node.id".into(), node_id.to_string()),
                ("controller.quorum.voters".into(), voters.clone()),
                ("listeners".into(), format!("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}")),
                ("advertised.listeners".into(), format!("PLAINTEXT://127.0.0.1:{port}")),
                ("controller.listener.names".into(), "CONTROLLER".into()),
                ("inter.broker.listener.name".into(), "PLAINTEXT".into()),
                ("listener.security.protocol.map".into(), "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into()),
                ("log.dirs".into(), dir.join("data").display().to_string()),
                ("num.partitions".into(), "1".into()),
                ("offsets.topic.replication.factor".into(), rf.to_string()),
                ("offsets.topic.num.partitions".into(), "3".into()),
                ("transaction.state.log.replication.factor".into(), rf.to_string()),
                ("transaction.state.log.min.isr".into(), "1".into()),
                ("transaction.state.log.num.partitions".into(), "3".into()),
                ("share.coordinator.state.topic.replication.factor".into(), rf.to_string()),
                ("share.coordinator.state.topic.min.isr".into(), "1".into()),
                ("group.initial.rebalance.delay.ms".into(), "0".into()),
                ("auto.create.topics.enable".into(), "true".into()),
            ];
            let mut settings = settings;
            for (k, v) in extra {
                settings.retain(|(key, _)| key != k);
                settings.push(((*k).to_string(), (*v).to_string()));
            }
            for (k, v) in &settings {
                let _ = writeln!(props, "{k}={v}");
            }
            let props_path = dir.join("server.properties");
            fs::write(&props_path, props).map_err(|e| err(e.to_string()))?;
            let out = java()
                .arg("-Xmx256m")
                .arg("-XX:+UseSerialGC")
                .arg("-XX:TieredStopAtLevel=1")
                .arg(format!("-Dlog4j2.configurationFile={}", root.join("log4j2.properties").display()))
                .arg("-cp")
                .arg(cluster.classpath())
                .args(["kafka.tools.StorageTool", "format", "-t", &id, "-c"])
                .arg(&props_path)
                .args(features.iter().flat_map(|(k, v)| ["--feature".to_string(), format!("{k}={v}")]))
                .output()
                .map_err(|e| err(format!("cannot run java: {e}")))?;
            if !out.status.success() {
                return Err(err(format!(
                    "formatting node {node_id} failed: {}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            cluster.nodes.push(Node { id: node_id, port: *port, dir, child: None });
        }
        for i in 0..nodes {
            cluster.spawn(i)?;
        }
        cluster.wait_all_ready()?;
        Ok(cluster)
    }

    fn classpath(&self) -> String {
        format!("{}/*", self.jars.display())
    }

    /// The Kafka release this cluster runs.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The folder of Kafka's jars (for running Kafka's tools and the Java
    /// client on the same class path).
    pub fn jars(&self) -> &Path {
        &self.jars
    }

    /// A `java` command for Kafka's tools and client on this release's
    /// class path: small heap, logging off (tools print their answers on
    /// stdout and stderr, and a log line there would spoil a comparison).
    pub fn java(&self) -> Command {
        tool_java(&self.jars)
    }

    /// Node `id`'s log directory (`log.dirs`).
    pub fn data_dir(&self, id: i32) -> Option<PathBuf> {
        self.node(id).ok().map(|i| self.nodes[i].dir.join("data"))
    }

    /// `host:port` of every node, comma-separated.
    pub fn bootstrap_servers(&self) -> String {
        self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect::<Vec<_>>().join(",")
    }

    /// The node ids (1..=n).
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The port node `id` serves clients on.
    pub fn port(&self, id: i32) -> Option<u16> {
        self.node(id).ok().map(|i| self.nodes[i].port)
    }

    fn node(&self, id: i32) -> Result<usize, LaunchError> {
        self.nodes.iter().position(|n| n.id == id).ok_or_else(|| err(format!("no node {id}")))
    }

    fn spawn(&mut self, i: usize) -> Result<(), LaunchError> {
        let classpath = self.classpath();
        let log4j = self.root.join("log4j2.properties");
        let node = &mut self.nodes[i];
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log())
            .map_err(|e| err(format!("cannot open {}: {e}", node.log().display())))?;
        let log2 = log.try_clone().map_err(|e| err(e.to_string()))?;
        let child = java()
            .arg("-Xmx512m")
            .arg("-Xms128m")
            .arg("-XX:+UseSerialGC")
            .arg(format!("-Dlog4j2.configurationFile={}", log4j.display()))
            .arg(format!("-Dkafka.logs.dir={}", node.dir.display()))
            .arg("-cp")
            .arg(classpath)
            .arg("kafka.Kafka")
            .arg(node.dir.join("server.properties"))
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| err(format!("cannot start node {}: {e}", node.id)))?;
        node.child = Some(child);
        Ok(())
    }

    /// Waits until every running node accepts clients and answers metadata
    /// naming every running node.
    fn wait_all_ready(&mut self) -> Result<(), LaunchError> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_some() {
                self.wait_ready(i)?;
            }
        }
        Ok(())
    }

    fn wait_ready(&mut self, i: usize) -> Result<(), LaunchError> {
        let deadline = Instant::now() + START_DEADLINE;
        let marker = "Kafka Server started";
        loop {
            let node = &mut self.nodes[i];
            if let Some(child) = &mut node.child
                && let Ok(Some(status)) = child.try_wait()
            {
                node.child = None;
                return Err(err(format!(
                    "Kafka node {} exited while starting ({status}); log tail:\n{}",
                    node.id,
                    node.log_tail(40)
                )));
            }
            let started = fs::read_to_string(node.log()).is_ok_and(|t| t.matches(marker).count() > 0);
            if started && std::net::TcpStream::connect(("127.0.0.1", node.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(err(format!(
                    "Kafka node {} did not start within {:?}; log tail:\n{}",
                    node.id,
                    START_DEADLINE,
                    node.log_tail(40)
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends `signal` to node `id`. After `Kill` or `Term` the node is down
    /// until [`Self::restart`]; `Term` waits (bounded) for its exit.
    pub fn signal(&mut self, id: i32, signal: Signal) -> Result<(), LaunchError> {
        let i = self.node(id)?;
        let node = &mut self.nodes[i];
        let Some(child) = &mut node.child else { return Err(err(format!("node {id} is not running"))) };
        let pid = child.id().to_string();
        let status = Command::new("kill")
            .args([format!("-{}", signal.name()), pid])
            .status()
            .map_err(|e| err(format!("kill: {e}")))?;
        if !status.success() {
            return Err(err(format!("kill -{} on node {id} failed", signal.name())));
        }
        if matches!(signal, Signal::Kill | Signal::Term) {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            node.child = None;
        }
        Ok(())
    }

    /// Starts node `id` again on its data (after `Kill` or `Term`) and
    /// waits until it serves.
    pub fn restart(&mut self, id: i32) -> Result<(), LaunchError> {
        let i = self.node(id)?;
        if self.nodes[i].child.is_some() {
            return Err(err(format!("node {id} is running")));
        }
        // Readiness is judged by a new start line in the log.
        let log = self.nodes[i].log();
        let _ = fs::rename(&log, self.nodes[i].dir.join(format!("server.log.{}", fastrand::u32(..))));
        self.spawn(i)?;
        self.wait_ready(i)
    }

    /// The last `lines` lines of node `id`'s log.
    pub fn log_tail(&self, id: i32, lines: usize) -> String {
        self.node(id).map(|i| self.nodes[i].log_tail(lines)).unwrap_or_default()
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                // A frozen node ignores everything but KILL.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("real Kafka {} left its configs and logs in {}", self.version, self.root.display());
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// A `java` command for Kafka `version`'s tools (installed if needed); see
/// [`KafkaCluster::java`].
pub fn kafka_java(version: &str) -> Result<Command, LaunchError> {
    Ok(tool_java(&install(version)?))
}

fn tool_java(jars: &Path) -> Command {
    let quiet = std::env::temp_dir().join("kafka-rs-log4j2-off.properties");
    if !quiet.exists() {
        let _ = fs::write(&quiet, "rootLogger.level = OFF\n");
    }
    let mut cmd = java();
    cmd.arg("-Xmx256m")
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg(format!("-Dlog4j2.configurationFile={}", quiet.display()))
        .arg("-cp")
        .arg(format!("{}/*", jars.display()));
    cmd
}

/// Compiles `tests/real-kafka/JavaPeer.java` against Kafka `version`'s
/// client (once per process) and returns a command that runs it: `java
/// -cp <jars>:<classes> JavaPeer`.
pub fn java_peer(version: &str) -> Result<Command, LaunchError> {
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<std::collections::HashMap<String, PathBuf>>> = OnceLock::new();
    let jars = install(version)?;
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let classes = match built.get(version) {
        Some(c) => c.clone(),
        None => {
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("real-kafka/JavaPeer.java");
            let out = std::env::temp_dir().join(format!("kafka-rs-java-peer-{version}-{}", std::process::id()));
            fs::create_dir_all(&out).map_err(|e| err(e.to_string()))?;
            let javac = std::env::var("KAFKA_RS_JAVAC").unwrap_or_else(|_| "javac".into());
            let r = Command::new(javac)
                .arg("-cp")
                .arg(format!("{}/*", jars.display()))
                .arg("-d")
                .arg(&out)
                .arg(&src)
                .output()
                .map_err(|e| err(format!("cannot run javac: {e}")))?;
            if !r.status.success() {
                return Err(err(format!("javac failed: {}", String::from_utf8_lossy(&r.stderr))));
            }
            built.insert(version.to_string(), out.clone());
            out
        }
    };
    let mut cmd = java();
    cmd.arg("-Xmx256m")
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
        .arg("-Dlog4j2.level=WARN")
        .arg("-cp")
        .arg(format!("{}/*:{}", jars.display(), classes.display()))
        .arg("JavaPeer");
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_are_kafka_uuid_text() {
        // One id in 64 would start with '-' if drawn once: 2000 draws
        // would all but surely meet one.
        for _ in 0..2000 {
            let id = super::cluster_id();
            assert_eq!(id.len(), 22);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert!(!id.starts_with('-'), "{id} would read as an option to kafka-storage");
        }
    }
}
