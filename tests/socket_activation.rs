//! systemd socket activation: `systemd-socket-activate` (the tool from
//! systemd that does what a `.socket` unit does) binds the socket, waits
//! for the first client, then starts the example with the listener as fd 3
//! and `LISTEN_FDS`/`LISTEN_PID` set. The example must serve that first
//! client on the socket it was given, TCP or Unix-domain.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use support::WAIT;
use support::process::example;

/// `systemd-socket-activate -l LISTEN EXAMPLE ARGS...`, its output lines
/// read as they come; killed by its PID at the end.
struct Activated {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Activated {
    fn start(listen: &str, name: &str, args: &[&str]) -> Activated {
        let mut child = Command::new("systemd-socket-activate")
            .args(["-l", listen])
            .arg(example(name))
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn systemd-socket-activate");
        let (tx, lines) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut activated = Activated {
            child,
            lines,
            seen: Vec::new(),
        };
        // The tool says so once the socket is bound (before any client).
        activated.wait_for("Listening on");
        activated
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => {
                    self.seen.push(line.clone());
                    return line;
                }
                Ok(line) => self.seen.push(line),
                Err(e) => panic!("no line with {needle:?} ({e}); output: {:#?}", self.seen),
            }
        }
    }

    /// SIGTERM (by PID): the example stops gracefully and exits 0.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "exit {status}; output: {:#?}", self.seen);
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        let _ = self.child.kill(); // our own child, if a test failed
        let _ = self.child.wait();
    }
}

fn have_tool() -> bool {
    support::have("systemd-socket-activate", "--version")
}

/// A free port on 127.0.0.1 (bound then released: the tool binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn http_server_serves_the_first_client_on_the_tcp_socket_it_is_given() {
    if !have_tool() {
        return;
    }
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // The address argument would bind another port: it must be ignored.
    let mut activated = Activated::start(&listen, "http_server", &["127.0.0.1:1"]);
    let mut client = TcpStream::connect(&listen).expect("the tool accepts");
    client.set_read_timeout(Some(WAIT)).unwrap();
    client
        .write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply:?}");
    assert!(reply.ends_with(&format!(
        "127.0.0.1:{}\n",
        client.local_addr().unwrap().port()
    )));
    let line = activated.wait_for("serving HTTP on ");
    assert!(line.contains(&listen), "{line}");
    activated.stop();
}

#[test]
fn echo_server_serves_the_first_client_on_the_unix_socket_it_is_given() {
    if !have_tool() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("twig-activation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    let listen = path.to_str().unwrap().to_string();
    let mut activated = Activated::start(&listen, "echo_server", &[]);
    let mut client = std::os::unix::net::UnixStream::connect(&path).expect("the tool accepts");
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.write_all(b"first client\n").unwrap();
    let mut echoed = [0u8; 13];
    client.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"first client\n");
    activated.wait_for("echoing on unix:");
    activated.stop();
    // The socket file is systemd's, not the server's: left in place.
    assert!(path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
