//! Runs the whole comparison in one go and prints the table.
//!
//! 1. builds the broker in the main workspace (`cargo build --release -p
//!    broker-testkit --bin kafka-testkit`) unless `--skip-broker-build`;
//! 2. starts `kafka-testkit --brokers B --port 0 --partitions 6` and reads
//!    the bootstrap address it prints;
//! 3. for every configuration and round, alternating which client goes
//!    first, creates a fresh topic, runs `ours` or `theirs` (built next to
//!    this binary) as a separate process, and takes from the kernel the
//!    child's CPU time (`wait4` rusage: user + sys) and the broker's CPU
//!    time over the same interval (`/proc/<broker>/stat`), then deletes the
//!    topic (the broker keeps data in memory);
//! 4. prints one line per run, then per configuration the medians and the
//!    ratios ours/librdkafka.
//!
//! ```text
//! driver [--rounds 3] [--brokers 1] [--scale 1.0] [--only produce|consume]
//!        [--filter SUBSTRING] [--skip-broker-build] [--main-dir DIR]
//!        [--ours-args "ARGS"] [--theirs-args "ARGS"] [--csv FILE]
//! ```

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kafka_client::admin::{Admin, CreateTopicsOptions, NewTopic};
use rdkafka_compare::tv;

const PARTITIONS: i32 = 6;

struct Opts {
    rounds: usize,
    brokers: usize,
    scale: f64,
    only: Option<String>,
    filter: Option<String>,
    skip_broker_build: bool,
    main_dir: PathBuf,
    ours_args: Vec<String>,
    theirs_args: Vec<String>,
    csv: Option<PathBuf>,
}

fn opts() -> Opts {
    let mut o = Opts {
        rounds: 3,
        brokers: 1,
        scale: 1.0,
        only: None,
        filter: None,
        skip_broker_build: false,
        main_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
        ours_args: Vec::new(),
        theirs_args: Vec::new(),
        csv: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| die(&format!("{k} needs a value")));
        match k.as_str() {
            "--rounds" => o.rounds = v().parse().unwrap_or_else(|_| die("--rounds: a number")),
            "--brokers" => o.brokers = v().parse().unwrap_or_else(|_| die("--brokers: a number")),
            "--scale" => o.scale = v().parse().unwrap_or_else(|_| die("--scale: a number")),
            "--only" => o.only = Some(v()),
            "--filter" => o.filter = Some(v()),
            "--skip-broker-build" => o.skip_broker_build = true,
            "--main-dir" => o.main_dir = PathBuf::from(v()),
            "--ours-args" => o.ours_args = v().split_whitespace().map(String::from).collect(),
            "--theirs-args" => o.theirs_args = v().split_whitespace().map(String::from).collect(),
            "--csv" => o.csv = Some(PathBuf::from(v())),
            "-h" | "--help" => {
                println!(
                    "driver [--rounds 3] [--brokers 1] [--scale 1.0] [--only produce|consume] [--filter SUBSTRING]\n       [--skip-broker-build] [--main-dir DIR] [--ours-args ARGS] [--theirs-args ARGS] [--csv FILE]"
                );
                std::process::exit(0);
            }
            other => die(&format!("unknown option {other}")),
        }
    }
    o
}

fn die(msg: &str) -> ! {
    eprintln!("driver: {msg}");
    std::process::exit(2);
}

#[derive(Clone)]
struct Config {
    mode: &'static str,
    size: usize,
    compression: &'static str,
    acks: &'static str,
    records: u64,
    /// Consumers: short waits instead of the defaults that stall both
    /// clients (see `client_args`).
    tuned: bool,
}

impl Config {
    fn label(&self) -> String {
        let size = if self.size >= 1024 { format!("{}KiB", self.size / 1024) } else { format!("{}B", self.size) };
        if self.mode == "produce" {
            format!("produce {size} {} acks={}", self.compression, self.acks)
        } else {
            format!("consume {size} {}{}", self.compression, if self.tuned { " tuned" } else { "" })
        }
    }

    fn topic_stem(&self) -> String {
        format!(
            "bench-{}-{}-{}-{}{}",
            self.mode,
            self.size,
            self.compression,
            if self.acks == "all" { "all" } else { "1" },
            if self.tuned { "-tuned" } else { "" }
        )
    }

    fn args(&self, bootstrap: &str, topic: &str) -> Vec<String> {
        let mut a: Vec<String> = vec![
            self.mode.into(),
            "--bootstrap".into(),
            bootstrap.into(),
            "--topic".into(),
            topic.into(),
            "--records".into(),
            self.records.to_string(),
            "--partitions".into(),
            PARTITIONS.to_string(),
            "--size".into(),
            self.size.to_string(),
            "--compression".into(),
            self.compression.into(),
        ];
        if self.mode == "produce" {
            a.extend(["--acks".into(), self.acks.into()]);
        }
        a
    }

    /// The arguments of one client for this configuration. Untuned, both
    /// consumers run with fetch.max.wait.ms=500 (both clients' default)
    /// and librdkafka's own queue settings at their defaults. Tuned: both
    /// wait at most 10 ms in a Fetch, and librdkafka backs off 10 ms instead
    /// of fetch.queue.backoff.ms=1000 when its prefetch queue is full.
    fn client_args(&self, client: &str, bootstrap: &str, topic: &str) -> Vec<String> {
        let mut a = self.args(bootstrap, topic);
        if self.tuned {
            a.extend(["--fetch-max-wait-ms".into(), "10".into()]);
            if client == "theirs" {
                a.extend(["--set".into(), "fetch.queue.backoff.ms=10".into()]);
            }
        }
        a
    }
}

struct Run {
    label: String,
    client: &'static str,
    round: usize,
    records: u64,
    value_bytes: u64,
    secs: f64,
    /// user + sys of the client process, from wait4.
    cpu: f64,
    user: f64,
    sys: f64,
    phase_cpu: f64,
    broker_cpu: f64,
    /// Whole process lifetime (start to exit).
    proc_secs: f64,
    maxrss_mb: f64,
    errors: u64,
    /// Consumers: seconds from assign to the first record.
    first: f64,
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// utime + stime of a process, in seconds, from /proc/<pid>/stat.
fn proc_cpu(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else { return f64::NAN };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(14) + ticks(15)) / clk_tck()
}

/// Waits for the child and returns its exit status and rusage (wait4).
fn wait_rusage(child: &Child) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: wait4 writes the status and the rusage we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            panic!("wait4: {}", std::io::Error::last_os_error());
        }
    }
    (status, ru)
}

fn run_client(
    exe: &Path,
    client: &'static str,
    args: &[String],
    extra: &[String],
    broker_pid: u32,
) -> Result<(Run, String), String> {
    let b0 = proc_cpu(broker_pid);
    let t0 = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    // The client prints one short line at the very end, so reading after
    // the exit cannot block it on a full pipe.
    let (status, ru) = wait_rusage(&child);
    let proc_secs = t0.elapsed().as_secs_f64();
    let broker_cpu = proc_cpu(broker_pid) - b0;
    let mut out = String::new();
    if let Some(mut so) = child.stdout {
        use std::io::Read;
        let _ = so.read_to_string(&mut out);
    }
    if status != 0 {
        return Err(format!("{client} exited with status {status:#x}: {out}"));
    }
    let line = out.lines().find(|l| l.starts_with("RESULT ")).ok_or_else(|| format!("{client}: no RESULT: {out}"))?;
    let field = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (user, sys) = (tv(ru.ru_utime), tv(ru.ru_stime));
    Ok((
        Run {
            label: String::new(),
            client,
            round: 0,
            records: field("records") as u64,
            value_bytes: field("value_bytes") as u64,
            secs: field("secs"),
            cpu: user + sys,
            user,
            sys,
            phase_cpu: field("phase_cpu"),
            broker_cpu,
            proc_secs,
            maxrss_mb: ru.ru_maxrss as f64 / 1024.0,
            errors: field("errors") as u64,
            first: field("first"),
        },
        line.to_string(),
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let o = opts();
    let bin_dir = std::env::current_exe().expect("current_exe").parent().expect("bin dir").to_path_buf();
    let ours = bin_dir.join("ours");
    let theirs = bin_dir.join("theirs");
    for exe in [&ours, &theirs] {
        if !exe.exists() {
            die(&format!("{} is missing: run `cargo build --release` in bench/rdkafka-compare first", exe.display()));
        }
    }
    let main_dir = o.main_dir.canonicalize().unwrap_or_else(|e| die(&format!("{}: {e}", o.main_dir.display())));
    if !o.skip_broker_build {
        eprintln!("driver: building kafka-testkit (release) in {}", main_dir.display());
        let st = Command::new("cargo")
            .args(["build", "--release", "-p", "broker-testkit", "--bin", "kafka-testkit"])
            .current_dir(&main_dir)
            .status()
            .unwrap_or_else(|e| die(&format!("cargo: {e}")));
        if !st.success() {
            die("building kafka-testkit failed");
        }
    }
    let version = Command::new(&theirs)
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    // The broker.
    let broker_exe = main_dir.join("target/release/kafka-testkit");
    let mut broker = Command::new(&broker_exe)
        .args(["--brokers", &o.brokers.to_string(), "--port", "0", "--partitions", &PARTITIONS.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("cannot start {}: {e}", broker_exe.display())));
    let broker_pid = broker.id();
    let mut bootstrap = String::new();
    BufReader::new(broker.stdout.take().expect("broker stdout"))
        .read_line(&mut bootstrap)
        .unwrap_or_else(|e| die(&format!("broker: {e}")));
    let bootstrap = bootstrap.trim().to_string();
    if bootstrap.is_empty() {
        die("the broker printed no bootstrap address");
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let admin = rt.block_on(async {
        Admin::from_properties([("bootstrap.servers", bootstrap.as_str())]).build().expect("admin client")
    });
    let rf = o.brokers.min(3) as i16;
    let create = |topic: &str| {
        rt.block_on(async {
            let r = admin.create_topics([NewTopic::new(topic, PARTITIONS, rf)], CreateTopicsOptions::new()).await;
            match r.map(|m| m.into_values().next()) {
                Ok(Some(Ok(_))) => {}
                other => die(&format!("creating {topic}: {other:?}")),
            }
        })
    };
    let delete = |topic: &str| {
        rt.block_on(async {
            let _ = admin.delete_topics([topic]).await;
        })
    };

    let host = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!("# kafka-client vs rust-rdkafka ({version})");
    println!(
        "# broker: kafka-testkit --brokers {} ({} partitions, RF {rf}) at {bootstrap}; {} cores ({host}); load before: {}",
        o.brokers,
        PARTITIONS,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        loadavg()
    );
    if !o.ours_args.is_empty() || !o.theirs_args.is_empty() {
        println!("# extra args: ours {:?}, theirs {:?}", o.ours_args, o.theirs_args);
    }

    let n = |base: f64| ((base * o.scale).round() as u64).max(1000);
    let mut configs = Vec::new();
    for &(size, records) in &[(100usize, n(2_000_000.0)), (1024, n(500_000.0))] {
        for compression in ["none", "lz4"] {
            for acks in ["1", "all"] {
                configs.push(Config { mode: "produce", size, compression, acks, records, tuned: false });
            }
        }
    }
    for tuned in [false, true] {
        for &(size, records) in &[(100usize, n(6_000_000.0)), (1024, n(1_500_000.0))] {
            for compression in ["none", "lz4"] {
                configs.push(Config { mode: "consume", size, compression, acks: "1", records, tuned });
            }
        }
    }
    configs.retain(|c| o.only.as_deref().is_none_or(|m| m == c.mode));
    configs.retain(|c| o.filter.as_deref().is_none_or(|f| c.label().contains(f)));

    let mut runs: Vec<Run> = Vec::new();
    let mut csv = String::from(
        "config,client,round,records,value_bytes,secs,cpu,user,sys,phase_cpu,broker_cpu,proc_secs,maxrss_mb,errors,first\n",
    );
    println!(
        "# {:<28} {:<6} {:>2} {:>9} {:>12} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "config", "client", "r", "records", "rec/s", "secs", "cpu_s", "user", "sys", "brk_cpu", "rss_MB", "first"
    );
    for (ci, cfg) in configs.iter().enumerate() {
        let label = cfg.label();
        // Consumers read a topic written once, before their rounds.
        let consume_topic = (cfg.mode == "consume").then(|| {
            let topic = format!("{}-{}", cfg.topic_stem(), std::process::id());
            create(&topic);
            let args = Config { mode: "produce", tuned: false, ..cfg.clone() }.args(&bootstrap, &topic);
            match run_client(&ours, "ours", &args, &[], broker_pid) {
                Ok((r, _)) if r.records == cfg.records && r.errors == 0 => {}
                Ok((_, line)) => die(&format!("prefill of {topic} incomplete: {line}")),
                Err(e) => die(&format!("prefill of {topic}: {e}")),
            }
            topic
        });
        for round in 0..o.rounds {
            // Alternate who goes first (and across configurations too).
            let order: [&'static str; 2] = if (round + ci) % 2 == 0 { ["ours", "theirs"] } else { ["theirs", "ours"] };
            for client in order {
                let (exe, extra) = if client == "ours" { (&ours, &o.ours_args) } else { (&theirs, &o.theirs_args) };
                let topic = match &consume_topic {
                    Some(t) => t.clone(),
                    None => {
                        let t = format!("{}-{client}-{round}-{}", cfg.topic_stem(), std::process::id());
                        create(&t);
                        t
                    }
                };
                let r = run_client(exe, client, &cfg.client_args(client, &bootstrap, &topic), extra, broker_pid);
                if consume_topic.is_none() {
                    delete(&topic);
                }
                let mut run = match r {
                    Ok((run, _)) => run,
                    Err(e) => die(&e),
                };
                run.label = label.clone();
                run.round = round;
                println!(
                    "  {:<28} {:<6} {:>2} {:>9} {:>12.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.1} {:>7.3}{}",
                    label,
                    client,
                    round,
                    run.records,
                    run.records as f64 / run.secs,
                    run.secs,
                    run.cpu,
                    run.user,
                    run.sys,
                    run.broker_cpu,
                    run.maxrss_mb,
                    run.first,
                    if run.errors > 0 { format!("  ERRORS {}", run.errors) } else { String::new() }
                );
                let _ = writeln!(
                    csv,
                    "{label},{client},{round},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.1},{},{:.6}",
                    run.records,
                    run.value_bytes,
                    run.secs,
                    run.cpu,
                    run.user,
                    run.sys,
                    run.phase_cpu,
                    run.broker_cpu,
                    run.proc_secs,
                    run.maxrss_mb,
                    run.errors,
                    run.first
                );
                runs.push(run);
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        if let Some(t) = consume_topic {
            delete(&t);
        }
    }
    let _ = broker.kill();
    let _ = broker.wait();

    if let Some(p) = &o.csv {
        std::fs::write(p, &csv).unwrap_or_else(|e| die(&format!("{}: {e}", p.display())));
    }

    // The summary: medians over rounds.
    println!();
    println!(
        "Medians of {} rounds. rec/s and MB/s (10^6 bytes of record values) over the client's timed phase;",
        o.rounds
    );
    println!(
        "CPU = user+sys of the whole client process (wait4), in seconds per million records; broker CPU likewise."
    );
    println!("Ratios are ours/librdkafka: throughput >1 = we are faster, CPU <1 = we use less.");
    println!();
    println!(
        "| configuration | ours rec/s | librdkafka rec/s | ours MB/s | librdkafka MB/s | ours CPU s/M | librdkafka CPU s/M | throughput ratio | CPU ratio | broker CPU s/M (ours / rdk) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut seen = Vec::new();
    for r in &runs {
        if seen.contains(&r.label) {
            continue;
        }
        seen.push(r.label.clone());
        let stat = |client: &str, f: &dyn Fn(&Run) -> f64| {
            median(runs.iter().filter(|x| x.label == r.label && x.client == client).map(f).collect())
        };
        let rps = |c| stat(c, &|x| x.records as f64 / x.secs);
        let mbps = |c| stat(c, &|x| x.value_bytes as f64 / x.secs / 1e6);
        let cpu = |c| stat(c, &|x| x.cpu / x.records as f64 * 1e6);
        let bcpu = |c| stat(c, &|x| x.broker_cpu / x.records as f64 * 1e6);
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.3} | {:.3} | {:.2} | {:.2} | {:.3} / {:.3} |",
            r.label,
            rps("ours"),
            rps("theirs"),
            mbps("ours"),
            mbps("theirs"),
            cpu("ours"),
            cpu("theirs"),
            rps("ours") / rps("theirs"),
            cpu("ours") / cpu("theirs"),
            bcpu("ours"),
            bcpu("theirs"),
        );
    }
    if seen.iter().any(|l| l.starts_with("consume")) {
        println!();
        println!("Consumers: seconds from assign to the first record, and rec/s from the first record to the last:");
        println!();
        println!(
            "| configuration | ours first s | librdkafka first s | ours steady rec/s | librdkafka steady rec/s | steady ratio |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for l in seen.iter().filter(|l| l.starts_with("consume")) {
            let stat = |client: &str, f: &dyn Fn(&Run) -> f64| {
                median(runs.iter().filter(|x| &x.label == l && x.client == client).map(f).collect())
            };
            let first = |c| stat(c, &|x| x.first);
            let steady = |c| stat(c, &|x| x.records as f64 / (x.secs - x.first));
            println!(
                "| {l} | {:.3} | {:.3} | {:.0} | {:.0} | {:.2} |",
                first("ours"),
                first("theirs"),
                steady("ours"),
                steady("theirs"),
                steady("ours") / steady("theirs")
            );
        }
    }
    println!();
    println!("Machine load during runs (median of (client CPU + broker CPU) / client process lifetime, in cores):");
    for l in &seen {
        let busy = |client: &str| {
            median(
                runs.iter()
                    .filter(|x| &x.label == l && x.client == client)
                    .map(|x| (x.cpu + x.broker_cpu) / x.proc_secs)
                    .collect(),
            )
        };
        let brk = |client: &str| {
            median(
                runs.iter()
                    .filter(|x| &x.label == l && x.client == client)
                    .map(|x| x.broker_cpu / x.proc_secs)
                    .collect(),
            )
        };
        println!(
            "  {:<28} ours {:.2} cores (broker {:.2}), librdkafka {:.2} cores (broker {:.2})",
            l,
            busy("ours"),
            brk("ours"),
            busy("theirs"),
            brk("theirs")
        );
    }
    println!("load after: {}", loadavg());
}
