//! The load client as a process (`src/bin/client.rs`), pinned to the
//! client core, driven through its stdin and stdout; and the builds a run
//! needs.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::{Bins, CLIENT_CPU, die_with_parent, end};

/// The `key=value` fields of a client's summary line.
pub type Fields = BTreeMap<String, f64>;

/// A running load client, pinned to the client core, ended when dropped.
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    pub fn start(bins: &Bins, addr: SocketAddr, args: &[String]) -> io::Result<Client> {
        let mut child = die_with_parent(&mut Command::new("taskset"))
            .args(["-c", CLIENT_CPU])
            .arg(bins.release.join("client"))
            .arg(addr.to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Client {
            child,
            stdin,
            stdout,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the client prints (`ready`, `start`, or the summary).
    pub fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            let status = self.child.wait()?;
            return Err(io::Error::other(format!("client ended early ({status})")));
        }
        Ok(line.trim().to_string())
    }

    /// Reads lines until one equal to `what`.
    pub fn expect(&mut self, what: &str) -> io::Result<()> {
        loop {
            if self.line()? == what {
                return Ok(());
            }
        }
    }

    /// Reads lines until the summary, and parses its `key=value` fields.
    pub fn summary(&mut self) -> io::Result<Fields> {
        loop {
            let line = self.line()?;
            if line.starts_with("requests=") {
                return Ok(parse_fields(&line));
            }
        }
    }

    /// Lets a client waiting on stdin go on.
    pub fn go(&mut self) -> io::Result<()> {
        if let Some(stdin) = self.stdin.as_mut() {
            stdin.write_all(b"go\n")?;
            stdin.flush()?;
        }
        Ok(())
    }

    /// Waits for the client to exit (it should be about to).
    pub fn finish(mut self) -> io::Result<()> {
        self.stdin.take();
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(io::Error::other("client did not exit"))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stdin.take();
        end(&mut self.child, Duration::from_secs(2));
    }
}

pub fn parse_fields(line: &str) -> Fields {
    line.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Runs a command to completion, failing with its output if it fails.
pub fn run(cmd: &mut Command, what: &str) -> io::Result<()> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Builds what the run needs: twig's examples (from the crate in `twig`),
/// the bench binaries, the C server. `target` is the cargo target directory.
pub fn build_all(workspace: &Path, twig: &Path, target: &Path, release: &Path) -> io::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building: twig examples, bench binaries, C server (release)");
    run(
        Command::new(&cargo)
            .current_dir(twig)
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(twig.join("Cargo.toml"))
            .args(["-p", "twig"])
            .args(["--example", "echo_server", "--example", "reply_server"])
            .args(["--example", "kv_server", "--example", "bare_reactor"])
            .args(["--example", "http_server", "--example", "work_server"])
            .arg("--target-dir")
            .arg(target),
        "cargo build (twig examples)",
    )?;
    run(
        Command::new(&cargo)
            .current_dir(workspace)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "twig-bench",
                "--bins",
            ])
            .arg("--target-dir")
            .arg(target),
        "cargo build (bench)",
    )?;
    run(
        Command::new("cc")
            .args(["-O2", "-g", "-o"])
            .arg(release.join("epoll_echo"))
            .arg(workspace.join("bench/c/epoll_echo.c")),
        "cc epoll_echo.c",
    )
}
