//! `examples/ws_chat.rs` with real clients: two headless Chromium pages,
//! and two Python `websockets` clients.

mod support;

#[path = "../examples/ws_chat.rs"]
#[allow(dead_code)]
mod ws_chat;

use std::process::Command;

use support::have;

fn chat() -> support::Running<ws_chat::Room> {
    support::start_with(
        ws_chat::builder(),
        ws_chat::Room::new(),
        ws_chat::app,
        |_| {},
    )
}

/// Whether Python and its `websockets` are here (skips otherwise, never
/// under CI=true).
fn have_websockets() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import websockets.sync.client"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "websockets is required under CI=true"
        );
        eprintln!("skipping: Python websockets is not installed");
    }
    ok
}

#[test]
fn two_python_clients_chat() {
    if !have("python3", "--version") {
        return;
    }
    if Command::new("python3")
        .args(["-c", "import websockets.sync.client"])
        .status()
        .is_ok_and(|s| !s.success())
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "websockets is required under CI=true"
        );
        eprintln!("skipping: Python websockets is not installed");
        return;
    }
    let server = chat();
    let script = r#"
import sys
from websockets.sync.client import connect
url = sys.argv[1]
with connect(url) as ann, connect(url) as bob:
    joined = ann.recv(timeout=10)
    assert joined.startswith("* guest") and joined.endswith(" joined"), joined
    bob.send("hello, ann — ünïcode")
    line = ann.recv(timeout=10)
    assert line.endswith(": hello, ann — ünïcode"), line
    ann.send(["frag", "mented"])
    print(bob.recv(timeout=10).split(": ", 1)[1])
"#;
    let out = Command::new("timeout")
        .args([
            "20",
            "python3",
            "-c",
            script,
            &format!("ws://{}/ws", server.addr),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "fragmented");
    server.stop();
}

/// Two headless Chromium pages, driven through the DevTools protocol by
/// `tests/ws_chat_cdp.py` (Python `websockets` as the CDP client): page a
/// joins, page b joins, a hears the join and says its text, b shows it.
#[test]
fn two_chromium_pages_chat() {
    if !have("chromium", "--version") || !have_websockets() {
        return;
    }
    let server = chat();
    let profile = std::env::temp_dir().join(format!("twig-ws-chat-{}", std::process::id()));
    let out = Command::new("timeout")
        .args([
            "60",
            "python3",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_chat_cdp.py"),
        ])
        .arg(format!("http://{}", server.addr))
        .arg(&profile)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{shown}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains(": hello-from-a"), "page b shows: {shown}");
    server.stop();
}
