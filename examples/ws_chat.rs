//! A browser chat on WebSocket: the page at `/` (plain HTML and JS, in
//! this file), the socket at `/ws`; every text message reaches every other
//! client as `guestN: text`, and a join is announced as `* guestN joined`.
//! The room (who is connected) is the server's shared state: a plain
//! `HashSet`, no lock, because one thread owns it.
//!
//! Run: `cargo run --example ws_chat [ADDR]` (default `0.0.0.0:8081`), then
//! open `http://127.0.0.1:8081/` in two tabs. A page opened as `/?say=TEXT`
//! says TEXT whenever someone joins (the browser test drives it so).

use std::collections::HashSet;
use std::time::Duration;

use log::info;
use twig::http::{Request, Router};
use twig::ws::{self, Message, WebSocket, WsCtx};
use twig::{Builder, ConnId, Ctx, Server};

/// Everyone connected to `/ws`.
pub type Room = HashSet<ConnId>;

/// The page: a log, an input, and a socket to `/ws` on the same host.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>twig chat</title></head>
<body><h1>twig chat</h1><ul id="log"></ul>
<form id="form"><input id="text" autocomplete="off" autofocus><button>send</button></form>
<script>
const log = document.getElementById("log");
const say = new URLSearchParams(location.search).get("say");
const ws = new WebSocket(`ws://${location.host}/ws`);
function show(line) {
  const item = document.createElement("li");
  item.textContent = line;
  log.appendChild(item);
}
ws.onmessage = (event) => {
  show(event.data);
  if (say && event.data.startsWith("* ")) ws.send(say);
};
ws.onclose = (event) => show(`(closed: ${event.code})`);
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  const text = document.getElementById("text");
  if (text.value) { ws.send(text.value); show(`me: ${text.value}`); text.value = ""; }
};
</script></body></html>
"#;

/// One chatter's socket.
pub struct Chatter;

/// How others see connection `id` (`#3.0` becomes `guest3.0`).
fn name(id: ConnId) -> String {
    format!("guest{}", id.to_string().trim_start_matches('#'))
}

impl WebSocket<Room> for Chatter {
    fn on_open(&mut self, ws: &mut WsCtx<'_, '_, Room>) {
        let me = ws.id();
        ws.state().insert(me);
        info!("{} joined from {}", name(me), ws.peer());
        relay(ws, &format!("* {} joined", name(me)));
    }

    fn on_message(&mut self, message: Message<'_>, ws: &mut WsCtx<'_, '_, Room>) {
        if let Message::Text(text) = message {
            relay(ws, &format!("{}: {text}", name(ws.id())));
        }
    }

    fn on_close(&mut self, code: Option<u16>, ctx: &mut Ctx<'_, Room>) {
        let me = ctx.id();
        ctx.state().remove(&me);
        info!("{} left (close code {code:?})", name(me));
    }
}

/// Sends `line` to everyone in the room but the sender (a slow reader over
/// `max_output` is dropped: twig's send rule).
fn relay(ws: &mut WsCtx<'_, '_, Room>, line: &str) {
    let me = ws.id();
    let room: Vec<ConnId> = ws.state().iter().copied().filter(|&id| id != me).collect();
    ws.broadcast_text(line, |id| room.contains(&id));
}

/// The protocol of one connection: the page, or a socket at `/ws`.
pub fn app() -> impl twig::Protocol<Room> {
    let router = Router::new().get("/", |_, res, _| res.html(PAGE));
    let accept =
        |req: &Request<'_>, _: &mut Ctx<'_, Room>| (req.path() == "/ws").then_some(Chatter);
    ws::Upgrade::new(router, accept)
}

/// Limits for a chat: frames up to 1 MiB are buffered whole, and quiet
/// sockets are left to the WebSocket ping watch (30 s), not twig's idle
/// timeout.
pub fn builder() -> Builder {
    Server::builder()
        .max_request_size((1 << 20) + 64)
        .idle_timeout(Some(Duration::from_secs(120)))
}

#[allow(dead_code)] // tests include this file for `app` and `builder`
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:8081".into());
    let run = || -> std::io::Result<()> {
        let mut server = builder().timeouts_from_env().build(Room::new())?;
        let bound = server.listen(addr.as_str(), app)?;
        server.stop_on_signals()?;
        info!("chatting on {bound}; open http://{bound}/ in two tabs");
        server.run()?;
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("ws_chat: {e}");
        std::process::exit(1);
    }
}
