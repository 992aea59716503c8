//! A deliberately simple HTTP/1.1 client for the HTTP tests: raw bytes out,
//! responses parsed by hand (not by httparse, which the server uses), every
//! read bounded by a timeout.
#![allow(dead_code)] // each test file uses a different subset

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long any single read or write may block.
pub const WAIT: Duration = Duration::from_secs(10);

/// One parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The head as text, for assertion messages.
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether it says `Connection: close`.
    pub fn closes(&self) -> bool {
        self.header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A client connection: buffered reads, direct writes.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends `bytes` in one write.
    pub fn send(&mut self, bytes: &[u8]) -> &mut Conn {
        self.writer.write_all(bytes).expect("send");
        self
    }

    /// Sends `bytes` in writes of at most `size` bytes each (with
    /// `TCP_NODELAY`, so they tend to arrive as separate segments). Stops
    /// quietly if the server has closed.
    pub fn send_in_pieces(&mut self, bytes: &[u8], size: usize) -> &mut Conn {
        for piece in bytes.chunks(size.max(1)) {
            if self.writer.write_all(piece).is_err() {
                break;
            }
        }
        self
    }

    /// Sends `bytes`; false if the write timed out or failed.
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.writer.write_all(bytes).is_ok()
    }

    pub fn set_write_timeout(&mut self, timeout: Duration) {
        self.writer.set_write_timeout(Some(timeout)).unwrap();
    }

    /// Half-closes: the server reads EOF.
    pub fn finish(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Write);
    }

    /// Reads one complete response (with a body as `Content-Length` says).
    pub fn reply(&mut self) -> Reply {
        self.try_reply(false).expect("a response")
    }

    /// Reads one response to a HEAD request: no body, whatever it declares.
    pub fn head_reply(&mut self) -> Reply {
        self.try_reply(true).expect("a response")
    }

    /// Reads exactly `n` bytes.
    pub fn raw(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("raw bytes");
        buf
    }

    pub fn try_reply(&mut self, head_only: bool) -> io::Result<Reply> {
        let mut head = String::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("closed mid-response after {head:?}"),
                ));
            }
            let line = String::from_utf8(line).expect("ASCII head");
            assert!(line.ends_with("\r\n"), "line not ended by CRLF: {line:?}");
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let (name, value) = l.split_once(": ").expect("a header line");
                (name.to_string(), value.to_string())
            })
            .collect();
        let mut reply = Reply {
            status,
            head,
            headers,
            body: Vec::new(),
        };
        let length = reply
            .header("Content-Length")
            .map(|v| v.parse::<usize>().unwrap());
        if !head_only && status >= 200 {
            reply.body = vec![0; length.unwrap_or(0)];
            self.reader.read_exact(&mut reply.body)?;
        }
        Ok(reply)
    }

    /// Reads until the server closes; returns what arrived (a reset counts
    /// as a close). Panics if the server keeps the connection open.
    pub fn rest_until_close(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rest,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }

    /// Whether the server has closed (EOF or reset) with nothing more sent.
    pub fn is_closed(&mut self) -> bool {
        self.rest_until_close().is_empty()
    }
}
