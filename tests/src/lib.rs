//! Workspace integration tests.

/// Running third-party clients (kcat, the Python scripts of
/// tests/interop/) as subprocesses for the interop suite: runs bounded by a
/// timeout, pipes drained on threads, librdkafka's protocol errors caught,
/// and line-by-line steered drivers.
#[cfg(feature = "interop")]
pub mod interop {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::{Duration, Instant};

    /// Upper bound for any single client run or reply; a hang fails the
    /// test with the client's output instead of blocking the suite.
    pub const TIMEOUT: Duration = Duration::from_secs(60);

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

    /// Runs a client to completion, feeding it `input`, and fails on
    /// librdkafka protocol errors. Blocking: on a multi-threaded runtime it
    /// goes through `block_in_place`, so the tasks of the test (the
    /// cluster, our clients) keep running on the other workers.
    pub fn run(mut cmd: Command, input: &str) -> Run {
        let what = command_line(&cmd);
        let input = input.to_string();
        tokio::task::block_in_place(move || {
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
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
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
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
}
