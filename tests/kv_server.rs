//! The key-value store (`examples/kv_server.rs`) over real TCP on 127.0.0.1:
//! exact RESP2 replies to inline and multibulk commands, pipelining, a
//! command dribbled byte by byte, a table of malformed inputs (each answered
//! with a protocol error and a close, while other clients go on), and the
//! real `redis-cli` and `redis-benchmark` when they are installed.

mod support;

#[path = "../examples/kv_server/main.rs"]
#[allow(dead_code)]
mod kv_server;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kv_server::{
    Kv, MAX_ARGS, MAX_BULK, MAX_INLINE, MAX_REQUEST, Store, frame_command, parse_args,
};
use support::process::{Proc, assert_clean_exit};
use support::{
    Running, WAIT, connect, eventually, read_exact, read_to_close, start_with, stats_of,
};
use twig::{CloseReason, Frame};

fn start_kv() -> Running<Store> {
    start_with(
        kv_server::builder(),
        Store::new(),
        Kv::default,
        kv_server::install,
    )
}

/// One command as a RESP2 multibulk array.
fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        .escape_debug()
        .to_string()
}

/// Sends `request` and asserts the reply is exactly `want` (reading just as
/// many bytes; a later exchange would show any extra byte).
fn expect(stream: &mut TcpStream, request: &[u8], want: &[u8]) {
    stream.write_all(request).expect("write");
    let got = read_exact(stream, want.len());
    assert_eq!(show(&got), show(want), "reply to {}", show(request));
}

/// Asserts nothing arrives for a short while: the one place a test waits on
/// a clock, to show an absence.
fn assert_silent(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected silence, got {other:?} {}", show(&buf)),
    }
    stream.set_read_timeout(Some(WAIT)).unwrap();
}

#[test]
fn inline_commands_get_exact_replies() {
    let server = start_kv();
    let mut c = connect(server.addr);
    let cases: &[(&[u8], &[u8])] = &[
        (b"PING\r\n", b"+PONG\r\n"),
        (b"PING hello\r\n", b"$5\r\nhello\r\n"),
        (b"ECHO  spaced \t\n", b"$6\r\nspaced\r\n"), // bare LF, tabs, extra spaces
        (b"GET k\r\n", b"$-1\r\n"),
        (b"SET k v1\r\n", b"+OK\r\n"),
        (b"GET k\r\n", b"$2\r\nv1\r\n"),
        (b"SET k value2\r\n", b"+OK\r\n"),
        (b"GET k\r\n", b"$6\r\nvalue2\r\n"),
        (b"EXISTS k nope k\r\n", b":2\r\n"), // counted per argument, as in Redis
        (b"INCR n\r\n", b":1\r\n"),
        (b"INCR n\r\n", b":2\r\n"),
        (b"DBSIZE\r\n", b":2\r\n"),
        (b"DEL k nope n k\r\n", b":2\r\n"),
        (b"DBSIZE\r\n", b":0\r\n"),
        (
            b"ECHO\r\n",
            b"-ERR wrong number of arguments for 'echo' command\r\n",
        ),
    ];
    for (request, reply) in cases {
        expect(&mut c, request, reply);
    }
}

#[test]
fn multibulk_commands_get_exact_replies_and_are_binary_safe() {
    let server = start_kv();
    let mut c = connect(server.addr);
    let binary: &[u8] = b"a\r\nb\0c $3\r\n*1";
    let cases: &[(Vec<u8>, &[u8])] = &[
        (cmd(&[b"PING"]), b"+PONG\r\n"),
        (cmd(&[b"PING", b""]), b"$0\r\n\r\n"),
        (cmd(&[b"ECHO", b"two words"]), b"$9\r\ntwo words\r\n"),
        (cmd(&[b"SET", b"bin key", binary]), b"+OK\r\n"),
        (cmd(&[b"GET", b"bin key"]), b"$13\r\na\r\nb\0c $3\r\n*1\r\n"),
        (cmd(&[b"SET", b"", b""]), b"+OK\r\n"),
        (cmd(&[b"GET", b""]), b"$0\r\n\r\n"),
        (cmd(&[b"EXISTS", b"", b"bin key", b"BIN KEY"]), b":2\r\n"),
        (cmd(&[b"INCR", b"n"]), b":1\r\n"),
        (cmd(&[b"DBSIZE"]), b":3\r\n"),
        (cmd(&[b"DEL", b"bin key", b"bin key"]), b":1\r\n"),
        (cmd(&[b"GET", b"bin key"]), b"$-1\r\n"),
        (cmd(&[b"DBSIZE"]), b":2\r\n"),
    ];
    for (request, reply) in cases {
        expect(&mut c, request, reply);
    }
}

#[test]
fn command_names_are_case_insensitive() {
    let server = start_kv();
    let mut c = connect(server.addr);
    expect(&mut c, b"ping\r\n", b"+PONG\r\n");
    expect(&mut c, b"sEt K v\r\n", b"+OK\r\n");
    expect(&mut c, &cmd(&[b"gEt", b"K"]), b"$1\r\nv\r\n");
    expect(&mut c, &cmd(&[b"get", b"k"]), b"$-1\r\n"); // keys are not
    expect(&mut c, b"Exists K\r\n", b":1\r\n");
}

#[test]
fn unknown_commands_and_wrong_arguments_get_redis_errors() {
    let server = start_kv();
    let mut c = connect(server.addr);
    let cases: &[(Vec<u8>, &[u8])] = &[
        (
            b"xyz\r\n".to_vec(),
            b"-ERR unknown command 'xyz', with args beginning with: \r\n",
        ),
        (
            b"FLUSHALL2 now 'x'\r\n".to_vec(),
            b"-ERR unknown command 'FLUSHALL2', with args beginning with: 'now' ''x'' \r\n",
        ),
        // A name cannot inject reply lines: CR and LF are blanked, as Redis does.
        (
            cmd(&[b"a\r\n+OK", b"b\nc"]),
            b"-ERR unknown command 'a  +OK', with args beginning with: 'b c' \r\n",
        ),
        (
            cmd(&[b""]),
            b"-ERR unknown command '', with args beginning with: \r\n",
        ),
        (
            b"GET\r\n".to_vec(),
            b"-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            b"get a b\r\n".to_vec(),
            b"-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            b"SET k\r\n".to_vec(),
            b"-ERR wrong number of arguments for 'set' command\r\n",
        ),
        (b"SET k v EX 10 PX 5\r\n".to_vec(), b"-ERR syntax error\r\n"),
        (
            b"DEL\r\n".to_vec(),
            b"-ERR wrong number of arguments for 'del' command\r\n",
        ),
        (
            b"PING a b\r\n".to_vec(),
            b"-ERR wrong number of arguments for 'ping' command\r\n",
        ),
        (
            b"DBSIZE x\r\n".to_vec(),
            b"-ERR wrong number of arguments for 'dbsize' command\r\n",
        ),
        (
            b"CONFIG SET save x\r\n".to_vec(),
            b"-ERR CONFIG SET is not supported by this server\r\n",
        ),
        // What redis-cli and redis-benchmark ask on their way in.
        (cmd(&[b"COMMAND", b"DOCS"]), b"*0\r\n"),
        (
            cmd(&[b"CONFIG", b"GET", b"save"]),
            b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n",
        ),
        (
            cmd(&[b"CONFIG", b"GET", b"appendonly"]),
            b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
        ),
        (cmd(&[b"CONFIG", b"GET", b"nosuch"]), b"*0\r\n"),
        (b"GET k\r\n".to_vec(), b"$-1\r\n"), // none of the above stored anything
    ];
    for (request, reply) in cases {
        expect(&mut c, request, reply);
    }
}

#[test]
fn incr_follows_redis_integer_rules() {
    let server = start_kv();
    let mut c = connect(server.addr);
    const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
    expect(&mut c, b"INCR fresh\r\n", b":1\r\n");
    for bad in [
        &b"abc"[..],
        b"",
        b"01",
        b"+1",
        b" 1",
        b"1.5",
        b"-",
        b"-0",
        b"99999999999999999999",
    ] {
        expect(&mut c, &cmd(&[b"SET", b"n", bad]), b"+OK\r\n");
        expect(&mut c, b"INCR n\r\n", NOT_INT);
    }
    expect(&mut c, b"GET n\r\n", b"$20\r\n99999999999999999999\r\n"); // unchanged
    expect(&mut c, b"SET n -5\r\n", b"+OK\r\n");
    expect(&mut c, b"INCR n\r\n", b":-4\r\n");
    expect(&mut c, b"GET n\r\n", b"$2\r\n-4\r\n");
    expect(&mut c, b"SET n 0\r\n", b"+OK\r\n");
    expect(&mut c, b"INCR n\r\n", b":1\r\n");
    expect(&mut c, b"SET max 9223372036854775807\r\n", b"+OK\r\n");
    expect(
        &mut c,
        b"INCR max\r\n",
        b"-ERR increment or decrement would overflow\r\n",
    );
    expect(&mut c, b"SET min -9223372036854775808\r\n", b"+OK\r\n");
    expect(&mut c, b"INCR min\r\n", b":-9223372036854775807\r\n");
}

#[test]
fn the_store_is_shared_by_all_connections() {
    let server = start_kv();
    let mut a = connect(server.addr);
    let mut b = connect(server.addr);
    expect(&mut a, b"SET shared from-a\r\n", b"+OK\r\n");
    expect(&mut b, b"GET shared\r\n", b"$6\r\nfrom-a\r\n");
    expect(&mut b, b"INCR hits\r\n", b":1\r\n");
    expect(&mut a, b"INCR hits\r\n", b":2\r\n");
}

#[test]
fn pipelined_commands_in_one_write_are_answered_in_order() {
    let server = start_kv();
    let mut c = connect(server.addr);
    let (mut requests, mut replies) = (Vec::new(), Vec::new());
    for i in 1..=300 {
        if i % 2 == 0 {
            requests.extend_from_slice(b"INCR counter\r\n");
        } else {
            requests.extend_from_slice(&cmd(&[b"INCR", b"counter"]));
        }
        replies.extend_from_slice(format!(":{i}\r\n").as_bytes());
        let key = format!("key{i}");
        requests.extend_from_slice(&cmd(&[b"SET", key.as_bytes(), key.as_bytes()]));
        requests.extend_from_slice(format!("GET {key}\n").as_bytes());
        replies.extend_from_slice(format!("+OK\r\n${}\r\n{key}\r\n", key.len()).as_bytes());
    }
    requests.extend_from_slice(b"DBSIZE\r\n");
    replies.extend_from_slice(b":301\r\n");
    expect(&mut c, &requests, &replies);
}

#[test]
fn a_command_dribbled_byte_by_byte_is_answered_once_complete() {
    let server = start_kv();
    let mut c = connect(server.addr);
    c.set_nodelay(true).unwrap();
    let commands: [(Vec<u8>, &[u8]); 4] = [
        (cmd(&[b"SET", b"k", b"a\r\nvalue"]), b"+OK\r\n"),
        (b"GET k\r\n".to_vec(), b"$8\r\na\r\nvalue\r\n"),
        (cmd(&[b"EXISTS", b"k", b"k"]), b":2\r\n"),
        (b"PING\n".to_vec(), b"+PONG\r\n"),
    ];
    for (request, reply) in &commands {
        let (last, head) = request.split_last().unwrap();
        for byte in head {
            c.write_all(&[*byte]).unwrap();
        }
        assert_silent(&mut c); // incomplete: no reply yet
        expect(&mut c, &[*last], reply);
    }
}

#[test]
fn empty_commands_get_no_reply() {
    let server = start_kv();
    let mut c = connect(server.addr);
    // `*0`, the null array `*-1`, a blank line and a line of spaces carry no
    // command: Redis skips them silently, and so does the store.
    expect(
        &mut c,
        b"*0\r\n*-1\r\n\r\n  \t \r\n\nPING\r\n",
        b"+PONG\r\n",
    );
    assert_silent(&mut c);
}

#[test]
fn quit_says_ok_and_closes() {
    let server = start_kv();
    let mut c = connect(server.addr);
    c.write_all(b"SET k v\r\nQUIT\r\nGET k\r\n").unwrap();
    assert_eq!(show(&read_to_close(&mut c)), show(b"+OK\r\n+OK\r\n"));
}

/// Inputs that can never become a command, and the reason each is refused.
fn malformed() -> Vec<(Vec<u8>, &'static str)> {
    let huge_inline = vec![b'a'; MAX_INLINE];
    let too_many_args = format!("*{}\r\n", MAX_ARGS + 1).into_bytes();
    let too_long_bulk = format!("*1\r\n${}\r\n", MAX_BULK + 1).into_bytes();
    vec![
        (b"*abc\r\n".to_vec(), "invalid multibulk length"),
        (b"*-5\r\n".to_vec(), "invalid multibulk length"),
        (b"*\r\n".to_vec(), "invalid multibulk length"),
        (b"*1\n".to_vec(), "invalid multibulk length"),
        (b"*+1\r\n".to_vec(), "invalid multibulk length"),
        (
            b"*12345678901234567890\r\n".to_vec(),
            "invalid multibulk length",
        ),
        (too_many_args, "invalid multibulk length"),
        (b"*1\r\n$-2\r\n".to_vec(), "invalid bulk length"),
        (b"*1\r\n$-1\r\n".to_vec(), "invalid bulk length"), // no null arguments
        (b"*1\r\n$x\r\n".to_vec(), "invalid bulk length"),
        (b"*1\r\n$999999999999\r\n".to_vec(), "invalid bulk length"),
        (too_long_bulk, "invalid bulk length"),
        (b"*2\r\n$4\r\nPING\r\n:1\r\n".to_vec(), "expected '$'"),
        (b"*1\r\nPING\r\n".to_vec(), "expected '$'"),
        (
            b"*1\r\n$4\r\nPINGPONG\r\n".to_vec(),
            "bulk string not followed by CRLF",
        ),
        (
            b"*1\r\n$4\r\nPIN\r\n".to_vec(),
            "bulk string not followed by CRLF",
        ),
        (
            b"*1\r\n$4\r\nPING\n".to_vec(),
            "bulk string not followed by CRLF",
        ),
        (
            b"\x16\x03\x01\x00\xa5\x01".to_vec(),
            "binary data in inline command",
        ),
        (
            b"\0\xff\xfe garbage".to_vec(),
            "binary data in inline command",
        ),
        (
            b"GET k\x1b[2J\r\n".to_vec(),
            "binary data in inline command",
        ),
        (b"PING\rX".to_vec(), "'\\r' without '\\n' in inline command"),
        (huge_inline, "too big inline request"),
    ]
}

#[test]
fn malformed_inputs_get_a_protocol_error_and_a_close_while_others_are_served() {
    let server = start_kv();
    let mut bystander = connect(server.addr);
    expect(&mut bystander, b"SET k v\r\n", b"+OK\r\n");
    let cases = malformed();
    for (input, reason) in &cases {
        let mut c = connect(server.addr);
        // A good command first, in the same write: it is answered before the error.
        let mut bytes = b"PING\r\n".to_vec();
        bytes.extend_from_slice(input);
        c.write_all(&bytes).unwrap();
        let want = format!("+PONG\r\n-ERR Protocol error: {reason}\r\n");
        assert_eq!(
            show(&read_to_close(&mut c)),
            show(want.as_bytes()),
            "input {}",
            show(input)
        );
        expect(&mut bystander, b"GET k\r\n", b"$1\r\nv\r\n");
    }
    // Each counts as a violation once its client has gone (the server lingers till then).
    let violations = || stats_of(&server.handle).closed(CloseReason::Violation);
    assert!(
        eventually(|| violations() == cases.len() as u64),
        "{} violations counted, {} expected",
        violations(),
        cases.len()
    );
    assert_eq!(stats_of(&server.handle).closed(CloseReason::Panic), 0);
}

#[test]
fn requests_up_to_the_limits_work_and_larger_ones_are_refused() {
    let server = start_kv();
    let mut c = connect(server.addr);
    let big: Vec<u8> = (0..MAX_BULK).map(|i| (i % 251) as u8).collect();
    expect(&mut c, &cmd(&[b"SET", b"big", &big]), b"+OK\r\n");
    let mut want = format!("${MAX_BULK}\r\n").into_bytes();
    want.extend_from_slice(&big);
    want.extend_from_slice(b"\r\n");
    expect(&mut c, b"GET big\r\n", &want);

    // Each bulk is allowed, but together they pass the request limit.
    let mut over = connect(server.addr);
    over.write_all(&cmd(&[b"SET", &big, &big, &big])).unwrap();
    let want = format!("-ERR Protocol error: request larger than {MAX_REQUEST} bytes\r\n");
    assert_eq!(show(&read_to_close(&mut over)), show(want.as_bytes()));
    expect(&mut c, b"DBSIZE\r\n", b":1\r\n");
}

/// What `frame_command` says for each prefix of `input`: some `Partial`s,
/// then either one `Complete(n)` (with `n` inside the input) or one
/// `Invalid(reason)`, never changing as bytes arrive. So a command split
/// anywhere frames like the whole, and a valid command is never refused
/// early. Returns the verdict on the whole input.
fn check_prefixes(input: &[u8]) -> Frame {
    let mut settled: Option<Frame> = None;
    for end in 0..=input.len() {
        let verdict = frame_command(&input[..end]);
        match (settled, verdict) {
            (None, Frame::Partial) => {}
            (None, Frame::Complete(n)) => {
                assert!(
                    n > 0 && n <= end,
                    "Complete({n}) of {}",
                    show(&input[..end])
                );
                assert_eq!(n, end, "complete before its last byte: {}", show(input));
                let _ = parse_args(&input[..n]);
                settled = Some(verdict);
            }
            (None, Frame::Invalid(_)) => settled = Some(verdict),
            (Some(before), now) => assert_eq!(before, now, "{}", show(&input[..end])),
        }
    }
    settled.unwrap_or(Frame::Partial)
}

#[test]
fn framing_is_consistent_for_every_prefix_and_never_panics() {
    let valid = [
        cmd(&[b"SET", b"k", b"a\r\n$1\r\n*2"]),
        cmd(&[b"GET", b""]),
        b"SET k v\r\n".to_vec(),
        b"  PING \t\n".to_vec(),
        b"*0\r\n".to_vec(),
        b"*-1\r\n".to_vec(),
    ];
    for command in &valid {
        assert_eq!(check_prefixes(command), Frame::Complete(command.len()));
    }
    // Mutations of valid commands (a byte changed, dropped or repeated), and
    // short strings over RESP's own alphabet: no panic, consistent verdicts.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut random = move |below: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as usize
    };
    const ALPHABET: &[u8] = b"*$-+:0123456789\r\n\r\n\r\n PINGabc\0\xff";
    let (mut complete, mut invalid) = (0, 0);
    for round in 0..20_000 {
        let mut input = if round % 2 == 0 {
            valid[random(valid.len())].clone()
        } else {
            (0..random(24))
                .map(|_| ALPHABET[random(ALPHABET.len())])
                .collect()
        };
        for _ in 0..=random(3) {
            let at = random(input.len() + 1);
            match random(3) {
                0 if at < input.len() => input[at] = ALPHABET[random(ALPHABET.len())],
                1 if at < input.len() => drop(input.remove(at)),
                _ => input.insert(at, ALPHABET[random(ALPHABET.len())]),
            }
        }
        match check_prefixes(&input) {
            Frame::Complete(_) => complete += 1,
            Frame::Invalid(_) => invalid += 1,
            Frame::Partial => {}
        }
    }
    // The generator reaches every verdict, so the checks above ran on each.
    assert!(
        complete > 1000 && invalid > 1000,
        "{complete} complete, {invalid} invalid"
    );
}

// ---- the real Redis tools -------------------------------------------------

/// Whether `program` can be run; if not, says the test is skipped (and
/// fails it under `CI=true`: CI installs redis-tools, so a skip there would
/// hide a broken install).
fn installed(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "{program} is not installed, and CI=true");
        eprintln!("skipping: {program} not installed (apt-get install redis-tools)");
    }
    found
}

/// Runs a tool with `input` on stdin; killed (by its PID) and failed if it
/// takes longer than [`WAIT`].
fn run(program: &str, args: &[&str], input: &[u8]) -> Output {
    run_for(program, args, input, WAIT)
}

/// [`run`] with its own time limit.
fn run_for(program: &str, args: &[&str], input: &[u8], limit: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        drop(stdin);
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("wait for the tool"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("{program} {args:?} still running after {limit:?}");
        }
    }
}

/// `redis-cli -h 127.0.0.1 -p PORT args...`: its stdout, after asserting it
/// exited cleanly.
fn redis_cli(addr: SocketAddr, args: &[&str], input: &[u8]) -> String {
    let port = addr.port().to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    let out = run("redis-cli", &all, input);
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_drives_the_store() {
    if !installed("redis-cli") {
        return;
    }
    let server = start_kv();
    let cli = |args: &[&str]| redis_cli(server.addr, args, b"");
    assert_eq!(cli(&["ping"]), "PONG\n");
    assert_eq!(cli(&["ping", "hi there"]), "hi there\n");
    assert_eq!(cli(&["set", "k", "v"]), "OK\n");
    assert_eq!(cli(&["get", "k"]), "v\n");
    assert_eq!(cli(&["get", "missing"]), "\n"); // nil, printed raw
    assert_eq!(cli(&["incr", "n"]), "1\n");
    assert_eq!(cli(&["INCR", "n"]), "2\n");
    assert_eq!(cli(&["exists", "k", "n", "missing"]), "2\n");
    assert_eq!(cli(&["dbsize"]), "2\n");
    assert_eq!(cli(&["echo", "hello world"]), "hello world\n");
    assert!(cli(&["incr", "k"]).contains("ERR value is not an integer or out of range"));
    assert!(cli(&["xyz"]).contains("ERR unknown command 'xyz'"));
    assert_eq!(cli(&["del", "k", "n"]), "2\n");
    assert_eq!(cli(&["dbsize"]), "0\n");

    // `-x` sends stdin as the last argument: binary data with CR and LF.
    let value = b"line one\r\nline two\n\0end";
    assert_eq!(
        redis_cli(server.addr, &["-x", "set", "blob"], value),
        "OK\n"
    );
    let mut c = connect(server.addr);
    let mut want = format!("${}\r\n", value.len()).into_bytes();
    want.extend_from_slice(value);
    want.extend_from_slice(b"\r\n");
    expect(&mut c, b"GET blob\r\n", &want);
}

#[test]
fn redis_cli_pipe_mode_streams_a_thousand_commands() {
    if !installed("redis-cli") {
        return;
    }
    let server = start_kv();
    let mut input = Vec::new();
    for i in 0..1000 {
        if i % 2 == 0 {
            input.extend_from_slice(&cmd(&[b"SET", format!("key{i}").as_bytes(), b"x"]));
        } else {
            input.extend_from_slice(b"INCR hits\r\n");
        }
    }
    // --pipe ends with an ECHO of 20 random bytes and waits for it back.
    let out = redis_cli(server.addr, &["--pipe"], &input);
    assert!(out.contains("errors: 0, replies: 1000"), "{out}");
    let mut c = connect(server.addr);
    expect(&mut c, b"GET hits\r\n", b"$3\r\n500\r\n");
    expect(&mut c, b"DBSIZE\r\n", b":501\r\n");
}

#[test]
fn redis_benchmark_runs_pipelined_against_the_store() {
    if !installed("redis-benchmark") {
        return;
    }
    let server = start_kv();
    let port = server.addr.port().to_string();
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "set,get,ping",
        "-n",
        "2000",
        "-P",
        "16",
        "-q",
    ];
    let out = run("redis-benchmark", &args, b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !stdout.contains("WARNING") && !stderr.contains("WARNING"),
        "CONFIG GET answered badly: {stdout}{stderr}"
    );
    // -q prints progress after carriage returns; the results end each line.
    let results: Vec<&str> = stdout
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|line| line.contains("requests per second,"))
        .collect();
    for test in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
        assert!(
            results
                .iter()
                .any(|line| line.starts_with(&format!("{test}: "))),
            "no result for {test} in {stdout:?}"
        );
    }
    for line in &results {
        println!("{line}");
    }
    // Without -r every SET writes the same key, with a 3-byte value (-d 3).
    let mut c = connect(server.addr);
    c.write_all(b"GET key:__rand_int__\r\n").unwrap();
    let reply = read_exact(&mut c, 9);
    assert!(
        reply.starts_with(b"$3\r\n") && reply.ends_with(b"\r\n"),
        "{}",
        show(&reply)
    );
    expect(&mut c, b"DBSIZE\r\n", b":1\r\n");
    let stats = stats_of(&server.handle);
    assert!(stats.requests >= 8000, "{} requests", stats.requests);
    assert_eq!(stats.closed(CloseReason::Violation), 0);
}

#[test]
fn the_example_binary_serves_and_stops_on_sigterm() {
    let mut proc = Proc::spawn("kv_server", &[]);
    let addr = proc.bound_addr("serving keys on ");
    let mut c = connect(addr);
    expect(&mut c, b"SET k v\r\nGET k\r\n", b"+OK\r\n$1\r\nv\r\n");
    drop(c);
    proc.signal("TERM");
    let summary = assert_clean_exit(proc);
    assert!(summary.contains("twig stopped"), "{summary}");
}

#[test]
fn redis_benchmark_runs_every_default_test_to_the_end() {
    if !installed("redis-benchmark") {
        return;
    }
    let server = start_kv();
    let port = server.addr.port().to_string();
    // Every default test (no -t), 20,000 requests each. -P 16 keeps the
    // debug build of the test near ten seconds (without it, about thirty);
    // the limit leaves room for a loaded machine.
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-q",
        "-n",
        "20000",
        "-P",
        "16",
    ];
    let out = run_for("redis-benchmark", &args, b"", Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    for bad in ["WARNING", "ERR", "rror"] {
        assert!(
            !stdout.contains(bad) && !stderr.contains(bad),
            "{bad:?} in: {stdout}{stderr}"
        );
    }
    let results: Vec<&str> = stdout
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|line| line.contains("requests per second,"))
        .collect();
    // redis-benchmark 7.0's default list, in its order (7.2 adds XADD).
    let tests = [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LPUSH (needed to benchmark LRANGE)",
        "LRANGE_100 (first 100 elements)",
        "LRANGE_300 (first 300 elements)",
        "LRANGE_500 (first 500 elements)",
        "LRANGE_600 (first 600 elements)",
        "MSET (10 keys)",
    ];
    for test in tests {
        assert!(
            results
                .iter()
                .any(|line| line.starts_with(&format!("{test}: "))),
            "no result for {test} in {stdout:?}"
        );
    }
    for line in &results {
        println!("{line}");
    }
    let mut c = connect(server.addr);
    // Without -r every test uses one key: 20,000 INCRs of one counter.
    expect(&mut c, b"GET counter:__rand_int__\r\n", b"$5\r\n20000\r\n");
    // LPUSH and RPUSH add 40,000, LPOP and RPOP take them, the LRANGE
    // test's own LPUSH adds 20,000.
    expect(&mut c, b"LLEN mylist\r\n", b":20000\r\n");
    let stats = stats_of(&server.handle);
    assert_eq!(stats.closed(CloseReason::Violation), 0);
    assert_eq!(stats.closed(CloseReason::Panic), 0);
}

#[test]
fn redis_cli_habits_info_ttl_keys_and_client() {
    if !installed("redis-cli") {
        return;
    }
    let server = start_kv();
    let cli = |args: &[&str]| redis_cli(server.addr, args, b"");
    let info = cli(&["info"]);
    assert!(
        info.contains("# Server") && info.contains("redis_version:7."),
        "{info}"
    );
    assert!(info.contains("connected_clients:1"), "{info}");
    assert!(cli(&["info", "stats"]).contains("total_connections_received:2"));
    assert_eq!(cli(&["set", "session:1", "x", "ex", "100"]), "OK\n");
    assert_eq!(cli(&["set", "session:2", "y"]), "OK\n");
    assert_eq!(cli(&["rpush", "queue", "a", "b", "c"]), "3\n");
    assert_eq!(cli(&["ttl", "session:1"]), "100\n");
    assert_eq!(cli(&["ttl", "session:2"]), "-1\n");
    assert_eq!(cli(&["ttl", "nothing"]), "-2\n");
    assert_eq!(cli(&["expire", "session:2", "30"]), "1\n");
    assert_eq!(cli(&["ttl", "session:2"]), "30\n");
    let mut keys: Vec<String> = cli(&["keys", "*"]).lines().map(String::from).collect();
    keys.sort();
    assert_eq!(keys, ["queue", "session:1", "session:2"]);
    assert_eq!(cli(&["keys", "session:*"]).lines().count(), 2);
    assert_eq!(cli(&["lrange", "queue", "0", "-1"]), "a\nb\nc\n");
    assert_eq!(cli(&["type", "queue"]), "list\n");
    assert!(cli(&["get", "queue"]).contains("WRONGTYPE Operation against a key"));
    assert!(
        cli(&["foo", "bar"]).contains("ERR unknown command 'foo', with args beginning with: 'bar'")
    );
    // One redis-cli connection, several commands on stdin: the client's name
    // and address as CLIENT INFO shows them.
    let out = redis_cli(server.addr, &[], b"client setname tool\nclient info\n");
    assert!(out.starts_with("OK\nid="), "{out}");
    assert!(
        out.contains(" addr=127.0.0.1:") && out.contains(" name=tool "),
        "{out}"
    );
    assert!(out.contains(&format!(" laddr={} ", server.addr)), "{out}");
    assert_eq!(cli(&["config", "get", "save"]), "save\n\n");
}
