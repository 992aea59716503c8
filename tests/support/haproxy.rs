//! A real HAProxy in front of test backends: a generated config in a fresh
//! temporary folder, `haproxy -f CFG -db` as a child process, and its admin
//! socket (`show stat`, `set server`) to see what it sees.
//!
//! Readiness and state changes are observed, never slept for: the harness
//! polls `show stat` (bounded by [`WAIT`]) until the frontend is open and
//! each server's state is the one asked for. A server counts as UP only
//! once a health check has passed (HAProxy reports a server it has not
//! checked yet as `UP` with check status `INI`).
//!
//! The proxy (frontend `front`, backend `app`) balances round-robin, checks
//! each server every 100 ms (`fall 1 rise 1`, so one check changes its
//! state) and can send each server a PROXY protocol header.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::WAIT;

/// The backend section's name: servers are `app/NAME` on the admin socket.
pub const BACKEND: &str = "app";
/// The frontend section's name.
pub const FRONTEND: &str = "front";

/// Whether HAProxy sends a PROXY protocol header on each connection to a
/// server (`send-proxy`, `send-proxy-v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyHeader {
    #[default]
    None,
    V1,
    V2,
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// One `server` line of the backend.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Its name in the config and on the admin socket (`app/NAME`).
    pub name: String,
    pub target: Target,
    pub proxy: ProxyHeader,
}

impl Backend {
    /// A server on a TCP address, without a PROXY header.
    pub fn tcp(name: &str, addr: SocketAddr) -> Backend {
        Backend {
            name: name.into(),
            target: Target::Tcp(addr),
            proxy: ProxyHeader::None,
        }
    }

    /// A server on a Unix socket, without a PROXY header.
    pub fn unix(name: &str, path: impl Into<PathBuf>) -> Backend {
        Backend {
            name: name.into(),
            target: Target::Unix(path.into()),
            proxy: ProxyHeader::None,
        }
    }

    /// The same server, with a PROXY header of version `proxy`.
    pub fn proxy(mut self, proxy: ProxyHeader) -> Backend {
        self.proxy = proxy;
        self
    }

    fn line(&self) -> String {
        let addr = match &self.target {
            Target::Tcp(addr) => addr.to_string(),
            Target::Unix(path) => format!("unix@{}", path.display()),
        };
        let proxy = match self.proxy {
            ProxyHeader::None => "",
            ProxyHeader::V1 => " send-proxy",
            ProxyHeader::V2 => " send-proxy-v2",
        };
        format!(
            "    server {} {addr} check inter 100ms fall 1 rise 1{proxy}\n",
            self.name
        )
    }
}

/// `mode tcp` (bytes relayed, one session per client connection) or
/// `mode http` (HAProxy parses the requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Tcp,
    Http,
}

/// How the proxy is set up beyond its servers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub mode: Mode,
    /// `option httpchk GET PATH` (a check wants a 2xx or 3xx) instead of
    /// the plain TCP connect check. Only with [`Mode::Http`].
    pub http_check: Option<String>,
}

/// One server's row of `show stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStat {
    pub name: String,
    /// `UP`, `DOWN`, `DRAIN`, `MAINT`, `NOLB`, or a transition such as
    /// `UP 1/2`.
    pub status: String,
    /// `stot`: sessions (client connections, in tcp mode) ever sent to it.
    pub sessions_total: u64,
    /// `scur`: sessions open on it now.
    pub sessions_current: u64,
    /// `check_status` without the `* ` of a check in progress: `L4OK`,
    /// `L4CON`, `INI` (not checked yet), ...
    pub check_status: String,
}

impl ServerStat {
    /// Whether a health check has passed and the server takes traffic.
    pub fn is_checked_up(&self) -> bool {
        self.status == "UP" && self.check_status.ends_with("OK")
    }
}

/// A running HAProxy; killed by its PID and its folder removed on drop.
pub struct Haproxy {
    child: Child,
    /// Set once started: a failed attempt leaves the folder to the retry.
    dir: Option<TempDir>,
    addr: SocketAddr,
    socket: PathBuf,
    output: Arc<Mutex<Vec<String>>>,
    collectors: Vec<JoinHandle<()>>,
}

impl Haproxy {
    /// Writes the config for `backends`, starts HAProxy on a free port of
    /// 127.0.0.1, and returns once its frontend is open and every server
    /// has passed a health check (at most [`WAIT`]). Panics, with
    /// HAProxy's output, if it exits or never gets there.
    pub fn start(backends: &[Backend], options: &Options) -> Haproxy {
        assert!(
            options.http_check.is_none() || options.mode == Mode::Http,
            "http_check needs Mode::Http"
        );
        let dir = TempDir::new("haproxy");
        // The port is free when probed and taken again by HAProxy a moment
        // later; another process may get it in between, so one retry.
        for attempt in 0..2 {
            let mut proxy = Haproxy::spawn(dir.path(), backends, options);
            match proxy.wait_ready(backends) {
                Ok(()) => {
                    proxy.dir = Some(dir);
                    return proxy;
                }
                Err(output) if attempt == 0 && output.contains("cannot bind") => {
                    eprintln!("haproxy could not bind {}; retrying", proxy.addr);
                }
                Err(output) => panic!("haproxy did not start: {output}"),
            }
        }
        unreachable!("the second attempt returns or panics")
    }

    fn spawn(dir: &Path, backends: &[Backend], options: &Options) -> Haproxy {
        let socket = dir.join("admin.sock");
        let _ = std::fs::remove_file(&socket);
        let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
        let addr = probe.local_addr().expect("probe address");
        let config = config(addr, &socket, backends, options);
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).expect("write haproxy.cfg");
        drop(probe); // just before HAProxy binds it
        let mut child = Command::new("haproxy")
            .arg("-f")
            .arg(&path)
            .arg("-db") // foreground: the child is HAProxy itself
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haproxy");
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let collectors = vec![collect(stdout, &output), collect(stderr, &output)];
        Haproxy {
            child,
            dir: None,
            addr,
            socket,
            output,
            collectors,
        }
    }

    /// Polls `show stat` until the frontend is open and every server is
    /// checked UP. `Err` with HAProxy's output if it exits or time runs out.
    fn wait_ready(&mut self, backends: &[Backend]) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::from("no answer from the stats socket");
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait haproxy") {
                // Its pipes closed at exit: the collectors end once they
                // have every line.
                for collector in self.collectors.drain(..) {
                    let _ = collector.join();
                }
                return Err(format!("exited with {status}; output:\n{}", self.output()));
            }
            if let Ok(csv) = self.try_command("show stat") {
                let rows = parse_csv(&csv);
                let front_open = rows.iter().any(|r| {
                    r.get("pxname").map(String::as_str) == Some(FRONTEND)
                        && r.get("svname").map(String::as_str) == Some("FRONTEND")
                        && r.get("status").map(String::as_str) == Some("OPEN")
                });
                let servers = servers_of(&rows);
                let all_up = backends.iter().all(|b| {
                    servers
                        .iter()
                        .any(|s| s.name == b.name && s.is_checked_up())
                });
                if front_open && all_up {
                    return Ok(());
                }
                last = format!("frontend open: {front_open}; servers: {servers:#?}");
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "not ready after {WAIT:?}: {last}; output:\n{}",
                    self.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(5)); // a poll, bounded above
        }
    }

    /// The frontend's address: clients connect here.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The folder holding the config and the admin socket.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("started").path()
    }

    /// HAProxy's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything HAProxy printed so far (warnings on state changes, ...).
    pub fn output(&self) -> String {
        self.output.lock().expect("output lock").join("\n")
    }

    /// Sends one command to the admin socket and returns its whole answer.
    pub fn command(&self, command: &str) -> String {
        self.try_command(command).unwrap_or_else(|e| {
            panic!("admin socket, {command:?}: {e}; output:\n{}", self.output())
        })
    }

    fn try_command(&self, command: &str) -> std::io::Result<String> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(WAIT))?;
        stream.set_write_timeout(Some(WAIT))?;
        stream.write_all(command.as_bytes())?;
        stream.write_all(b"\n")?;
        // Without `prompt`, HAProxy answers one command and closes.
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    /// Every server of the backend, as `show stat` reports them now.
    pub fn servers(&self) -> Vec<ServerStat> {
        servers_of(&parse_csv(&self.command("show stat")))
    }

    /// Server `name`'s row now.
    pub fn server(&self, name: &str) -> ServerStat {
        let servers = self.servers();
        match servers.iter().find(|s| s.name == name) {
            Some(s) => s.clone(),
            None => panic!("no server {name:?} in {servers:#?}"),
        }
    }

    /// Waits (at most [`WAIT`]) until server `name`'s status is `status`
    /// (`"UP"` also needs a passed check); returns its row.
    pub fn wait_status(&self, name: &str, status: &str) -> ServerStat {
        let deadline = Instant::now() + WAIT;
        loop {
            let server = self.server(name);
            let reached = if status == "UP" {
                server.is_checked_up()
            } else {
                server.status == status
            };
            if reached {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "{name} still {server:?} after {WAIT:?}, not {status}; output:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(5)); // a poll, bounded above
        }
    }

    /// `set server app/NAME state STATE`: `"ready"`, `"drain"` (no new
    /// sessions, established ones go on) or `"maint"`.
    pub fn set_state(&self, name: &str, state: &str) {
        let answer = self.command(&format!("set server {BACKEND}/{name} state {state}"));
        assert!(
            answer.trim().is_empty(),
            "set server {name} state {state}: {answer}"
        );
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        stop(&mut self.child); // then the folder goes, with the fields
    }
}

/// A fresh folder under the system's temporary folder, removed on drop:
/// for the config, the admin socket, and the Unix sockets of servers.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("twig-{tag}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path); // left by a killed run with our PID
        std::fs::create_dir_all(&path).expect("create a temporary folder");
        TempDir(path)
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

/// SIGTERM by PID, then SIGKILL if it has not exited within 5 s.
fn stop(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return; // exited already (and reaped, so the PID is not reused)
    }
    let pid = libc::pid_t::try_from(child.id()).expect("PID fits pid_t");
    // SAFETY: kill(2) on the PID of our own child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5)); // a poll, bounded above
    }
    let _ = child.kill(); // SIGKILL, by the child's PID
    let _ = child.wait();
}

/// Moves each line `from` prints into `into`, on a thread of its own.
fn collect(from: impl Read + Send + 'static, into: &Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    let into = Arc::clone(into);
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            into.lock().expect("output lock").push(line);
        }
    })
}

/// The haproxy.cfg for `backends` behind a frontend on `addr`.
pub fn config(addr: SocketAddr, socket: &Path, backends: &[Backend], options: &Options) -> String {
    let mode = match options.mode {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
    };
    let mut cfg = format!(
        "global\n\
         \x20   stats socket {socket} level admin\n\
         \n\
         defaults\n\
         \x20   mode {mode}\n\
         \x20   timeout connect 1s\n\
         \x20   timeout client 10s\n\
         \x20   timeout server 10s\n\
         \n\
         frontend {FRONTEND}\n\
         \x20   bind {addr}\n\
         \x20   default_backend {BACKEND}\n\
         \n\
         backend {BACKEND}\n\
         \x20   balance roundrobin\n",
        socket = socket.display(),
    );
    if let Some(path) = &options.http_check {
        cfg.push_str(&format!("    option httpchk GET {path}\n"));
    }
    for backend in backends {
        cfg.push_str(&backend.line());
    }
    cfg
}

/// `show stat` CSV: a `# pxname,svname,...` header, then one row per
/// frontend, server and backend. Each row as column name → value.
pub fn parse_csv(csv: &str) -> Vec<HashMap<String, String>> {
    let mut lines = csv.lines();
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            columns
                .iter()
                .zip(line.split(','))
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The backend's server rows of parsed `show stat` output.
pub fn servers_of(rows: &[HashMap<String, String>]) -> Vec<ServerStat> {
    let field =
        |row: &HashMap<String, String>, name: &str| row.get(name).cloned().unwrap_or_default();
    let number = |row: &HashMap<String, String>, name: &str| field(row, name).parse().unwrap_or(0);
    rows.iter()
        .filter(|r| r.get("pxname").map(String::as_str) == Some(BACKEND))
        .filter(|r| {
            !matches!(
                r.get("svname").map(String::as_str),
                Some("BACKEND" | "FRONTEND")
            )
        })
        .map(|r| ServerStat {
            name: field(r, "svname"),
            status: field(r, "status"),
            sessions_total: number(r, "stot"),
            sessions_current: number(r, "scur"),
            check_status: field(r, "check_status").trim_start_matches("* ").into(),
        })
        .collect()
}
