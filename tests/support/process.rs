//! Example binaries as child processes: build them, spawn them, read their
//! log lines, signal them by PID, and wait for a clean exit.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use super::WAIT;

/// Path of an example binary, built fresh into this test's target dir (a
/// `cargo test --test NAME` does not build examples, and a stale binary
/// would test old code).
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(|p| p.parent()).unwrap().to_path_buf();
    let built = BUILT.get_or_init(|| {
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--examples", "--target-dir"])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        // Cargo sets these for the test process (the package's name,
        // version, folder), and ring's build script reruns when they change:
        // inherited, each test run would rebuild ring, rcgen and the
        // examples (seconds), and the next plain `cargo build` all again.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                ]
                .contains(&name.as_ref())
            {
                cmd.env_remove(name.as_ref());
            }
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(e) = built {
        panic!("building the examples failed: {e}");
    }
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "no example binary at {}", path.display());
    path
}

/// A running example process; killed (by its own PID) if the test fails.
pub struct Proc {
    child: Child,
    /// Every line of its stdout and stderr, as they come; closed at exit.
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(name: &str, envs: &[(&str, &str)]) -> Proc {
        Proc::spawn_args(name, &["127.0.0.1:0"], envs)
    }

    /// Spawns example `name` with command-line `args` (the address first).
    pub fn spawn_args(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(example(name));
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env_remove("IDLE_TIMEOUT_SECS")
            .env_remove("REQUEST_TIMEOUT_SECS")
            .env_remove("WRITE_TIMEOUT_SECS")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .envs(envs.iter().copied()); // after the removals, so these win
        let mut child = cmd.spawn().expect("spawn the example");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(line);
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads output lines until one contains `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!("no line with {needle:?} ({e}); output: {:#?}", self.seen),
            }
        }
    }

    /// The address from the "... on ADDR; try ..." startup line.
    pub fn bound_addr(&mut self, needle: &str) -> SocketAddr {
        let line = self.wait_for(needle);
        let rest = &line[line.find(needle).unwrap() + needle.len()..];
        let addr = rest.split(';').next().unwrap().trim();
        addr.parse()
            .unwrap_or_else(|e| panic!("bad address {addr:?} in {line:?}: {e}"))
    }

    /// The child's exit status, if it has exited (without waiting).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("waitpid")
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM") to the child, by its PID.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Asserts the child has not exited (its output stays open) for `period`.
    pub fn assert_running_for(&mut self, period: Duration) {
        let deadline = Instant::now() + period;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("exited early; output: {:#?}", self.seen)
                }
            }
        }
    }

    /// Waits (bounded) for the child to exit: its output pipes close first.
    /// Returns the exit status and all output lines.
    pub fn wait_exit(mut self, limit: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("still running after {limit:?}; output: {:#?}", self.seen)
                }
            }
        }
        let status = self.child.wait().expect("wait");
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Only if still running (a failed test): kill it by its own PID.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asserts a clean exit with the summary line; returns the summary.
pub fn assert_clean_exit(proc: Proc) -> String {
    let (status, lines) = proc.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}; output: {lines:#?}");
    lines
        .iter()
        .find(|l| l.contains("twig stopped"))
        .unwrap_or_else(|| panic!("no summary line: {lines:#?}"))
        .clone()
}
