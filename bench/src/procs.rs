//! The processes a run starts: servers pinned to core 0, clients to core 1.
//! Every one is owned by a guard that ends it by PID when dropped, so an
//! error (or a panic) anywhere leaves nothing running.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The core servers run on; clients run on the other one.
pub const SERVER_CPU: &str = "0";
pub const CLIENT_CPU: &str = "1";

/// The servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Twig,
    C,
    /// twig's teaching mirror, `examples/bare_reactor.rs`: the same echo
    /// server on bare mio and slab.
    Mio,
    Tokio,
    Asyncio,
    Python,
    Redis,
    /// nginx as one process, answering `return 200` (HTTP only).
    Nginx,
}

impl Peer {
    pub const ALL: [Peer; 8] = [
        Peer::Twig,
        Peer::C,
        Peer::Mio,
        Peer::Tokio,
        Peer::Asyncio,
        Peer::Python,
        Peer::Redis,
        Peer::Nginx,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Twig => "twig",
            Peer::C => "C epoll",
            Peer::Tokio => "tokio",
            Peer::Asyncio => "asyncio",
            Peer::Python => "python blocking",
            Peer::Redis => "redis-server",
            Peer::Mio => "bare mio",
            Peer::Nginx => "nginx",
        }
    }
}

/// What a server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Echo,
    /// The lesson: read a request, answer `Yes`, close.
    Reply,
    /// A key-value store speaking RESP2 (twig's `kv_server`, Redis).
    Kv,
    /// HTTP/1.1 keep-alive: `GET /` answers a 17-byte plain-text hello.
    Http,
}

/// Where the programs are.
pub struct Bins {
    /// `target/release`.
    pub release: PathBuf,
    /// The bench package's sources (for `py/`).
    pub bench_dir: PathBuf,
    /// Where server logs and tool outputs go.
    pub work: PathBuf,
    /// The twig checkout measured (its examples were built from here).
    pub twig: PathBuf,
    /// The cargo target directory.
    pub target: PathBuf,
}

impl Bins {
    /// The command line of `peer` serving `service` on `addr`, and its
    /// environment. nginx's needs a config file, written here.
    fn command(
        &self,
        peer: Peer,
        service: Service,
        addr: SocketAddr,
    ) -> io::Result<(Vec<String>, Env)> {
        let a = addr.to_string();
        let bin = |name: &str| self.release.join(name).display().to_string();
        let py = |name: &str| self.bench_dir.join("py").join(name).display().to_string();
        // twig: no idle timeout (the memory test holds connections); the
        // reply server logs two lines per client at info, so only warnings.
        let twig_env = |level: &str| {
            vec![
                ("RUST_LOG", level.to_string()),
                ("IDLE_TIMEOUT_SECS", "0".to_string()),
            ]
        };
        Ok(match (peer, service) {
            (Peer::Twig, Service::Kv) => (vec![bin("examples/kv_server"), a], twig_env("warn")),
            (Peer::Redis, _) => (
                [
                    "redis-server",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &addr.port().to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                vec![],
            ),
            (Peer::Twig, Service::Echo) => (vec![bin("examples/echo_server"), a], twig_env("info")),
            (Peer::Mio, _) => (vec![bin("examples/bare_reactor"), a], twig_env("info")),
            (Peer::Twig, Service::Reply) => {
                (vec![bin("examples/reply_server"), a], twig_env("warn"))
            }
            (Peer::C, _) => (
                vec![
                    bin("epoll_echo"),
                    addr.ip().to_string(),
                    addr.port().to_string(),
                ],
                vec![],
            ),
            (Peer::Twig, Service::Http) => (vec![bin("examples/http_server"), a], twig_env("warn")),
            (Peer::Nginx, _) => (crate::http::nginx_command(&self.work, addr)?, vec![]),
            (Peer::Tokio, Service::Echo) => (vec![bin("tokio_echo"), a], vec![]),
            (Peer::Tokio, Service::Http) => (vec![bin("tokio_http"), a], vec![]),
            // (No tokio key-value store: nothing asks for one.)
            (Peer::Tokio, _) => (vec![bin("tokio_reply"), a], vec![]),
            (Peer::Asyncio, _) => (vec!["python3".into(), py("asyncio_echo.py"), a], vec![]),
            (Peer::Python, _) => (vec!["python3".into(), py("blocking_reply.py"), a], vec![]),
        })
    }
}

type Env = Vec<(&'static str, String)>;

/// A running server, ended (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub peer: Peer,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `peer` on a free loopback port, pinned to the server core,
    /// optionally under a wrapper (valgrind), and waits until it accepts.
    pub fn start(
        bins: &Bins,
        peer: Peer,
        service: Service,
        wrapper: &[String],
    ) -> io::Result<Server> {
        let addr = free_port()?;
        let (argv, env) = bins.command(peer, service, addr)?;
        let tag = format!("{}-{}", peer.name().replace(' ', "_"), addr.port());
        let log = bins.work.join(format!("{tag}.log"));
        let out = File::create(&log)?;
        let child = die_with_parent(&mut Command::new("taskset"))
            .args(["-c", SERVER_CPU])
            .args(wrapper)
            .args(&argv)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| io::Error::other(format!("cannot start {}: {e}", argv[0])))?;
        let mut server = Server {
            child,
            peer,
            addr,
            log,
        };
        let patience = if wrapper.is_empty() { 10 } else { 60 };
        server.wait_until_accepting(Duration::from_secs(patience))?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until_accepting(&mut self, patience: Duration) -> io::Result<()> {
        let until = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited at start ({status}); see {}",
                    self.peer.name(),
                    self.log.display()
                )));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > until {
                return Err(io::Error::other(format!(
                    "{} did not accept within {patience:?}",
                    self.peer.name()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// CPU time the server has used so far, all threads (ns).
    pub fn cpu_ns(&self) -> u64 {
        cpu_ns(self.pid())
    }

    /// Resident memory (KiB), from `/proc/PID/status`.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()));
        status
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Stops the server (SIGTERM), waiting up to `patience` for it to exit
    /// on its own (valgrind writes its output then) before killing it.
    pub fn stop(mut self, patience: Duration) {
        end(&mut self.child, patience);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        end(&mut self.child, Duration::from_secs(3));
    }
}

/// Makes a child get SIGTERM if the driver dies (killed, or a panic that
/// aborts), so no server outlives a run even when the guards cannot run.
pub fn die_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        })
    }
}

/// Any other child we started (a tracer), ended by PID when dropped.
pub struct Owned(pub Child);

impl Owned {
    /// Sends `sig` and gives the child `patience` to exit on its own.
    pub fn stop(mut self, sig: i32, patience: Duration) {
        signal(self.0.id(), sig);
        let until = Instant::now() + patience;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        end(&mut self.0, Duration::from_secs(2));
    }
}

/// Ends a child we started, by its PID: SIGTERM, then SIGKILL after
/// `patience`. A child that already exited is only reaped.
pub fn end(child: &mut Child, patience: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    signal(child.id(), libc::SIGTERM);
    let until = Instant::now() + patience;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on the PID of a child this process started.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// CPU time of every thread of `pid`, from `schedstat` (ns precision).
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time of every child that has exited and been waited for, in all
/// (ns, µs precision): what a client that runs to completion (`wrk`) used,
/// as the difference around its run; `/proc` forgets it once it is reaped.
pub fn reaped_children_cpu_ns() -> u64 {
    // SAFETY: getrusage fills a struct we own; an all-zero rusage is valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// CPU time used on the whole machine so far, every process (ns), from
/// `/proc/stat` (10 ms resolution): the rest of the machine's work is this
/// minus what the server and the client used.
pub fn machine_busy_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: u64 = v.iter().take(8).sum::<u64>() - v.get(3).unwrap_or(&0) - v.get(4).unwrap_or(&0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    busy * 1_000_000_000 / hz
}

/// A loopback address with a port free right now.
fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}
