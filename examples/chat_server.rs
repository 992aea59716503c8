//! A chat room for `nc` and `telnet`: pick a name, then every line you type
//! reaches everyone else as `name: line`. `/who` lists who is here, `/quit`
//! leaves. The room (who is called what) is the server's shared state: a
//! plain `HashMap`, no lock, because one thread owns it.
//!
//! Run: `cargo run --example chat_server [ADDR]` (default `0.0.0.0:7002`),
//! then `nc 127.0.0.1 7002` in two or more terminals.
//!
//! Two limits show how a server protects everyone from one client:
//! - a line longer than [`MAX_LINE`] is refused with a message, and the
//!   connection closes (after a protocol violation twig always closes: the
//!   rest of the stream cannot be trusted to start at a line boundary);
//! - a client that stops reading is dropped once it owes more than
//!   [`MAX_OUTPUT`] (twig's `Core::send` policy), so a stuck client cannot
//!   pin memory or slow the room down.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use log::info;
use twig::{After, Builder, CloseReason, ConnId, Ctx, Frame, Protocol, Server, Violation, framing};

/// The room: the name of every client who has joined. Clients still picking
/// a name are not in it, and hear nothing.
pub type Room = HashMap<ConnId, String>;

/// Longest line, newline included (twig's `max_request_size`).
pub const MAX_LINE: usize = 1024;
/// Most bytes a client may owe before it is dropped as a slow consumer.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// The chat server's limits. Idle chatters are normal: they get ten minutes.
pub fn builder() -> Builder {
    Server::builder()
        .max_request_size(MAX_LINE)
        .max_output(MAX_OUTPUT)
        .idle_timeout(Some(Duration::from_secs(600)))
}

/// One client: nameless until its first acceptable line.
#[derive(Default)]
pub struct Chat {
    name: Option<String>,
}

impl Protocol<Room> for Chat {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn on_open(&mut self, ctx: &mut Ctx<'_, Room>) {
        ctx.write(b"welcome to twig chat\nname? ");
    }

    fn reply(&mut self, request: &[u8], ctx: &mut Ctx<'_, Room>) -> After {
        let line = String::from_utf8_lossy(request);
        let line = line.trim_end_matches(['\r', '\n']); // telnet sends \r\n
        let Some(name) = &self.name else {
            self.pick_name(line.trim(), ctx);
            return After::KeepOpen;
        };
        match line {
            "/who" => {
                let mut names: Vec<&str> = ctx.state().values().map(String::as_str).collect();
                names.sort_unstable();
                let list = names.join(", ");
                writeln!(ctx, "* here: {list}").unwrap();
            }
            "/quit" => {
                ctx.write(b"* bye\n");
                self.leave("quit", ctx);
                return After::Close;
            }
            "" => {}
            text => tell_others(ctx, format!("{name}: {text}\n").as_bytes()),
        }
        After::KeepOpen
    }

    fn on_violation(&mut self, violation: &Violation, ctx: &mut Ctx<'_, Room>) {
        if let Violation::TooLarge { limit } = violation {
            writeln!(ctx, "* line too long (max {limit} bytes)").unwrap();
        }
        self.leave(violation, ctx);
    }

    fn on_close(&mut self, reason: CloseReason, ctx: &mut Ctx<'_, Room>) {
        self.leave(reason, ctx);
    }
}

impl Chat {
    /// Takes `name` if it is free; otherwise says why and asks again.
    fn pick_name(&mut self, name: &str, ctx: &mut Ctx<'_, Room>) {
        if name.is_empty() {
            ctx.write(b"* a name needs at least one character\nname? ");
        } else if ctx.state().values().any(|taken| taken == name) {
            write!(ctx, "* {name} is taken\nname? ").unwrap();
        } else {
            let id = ctx.id();
            ctx.state().insert(id, name.to_string());
            writeln!(
                ctx,
                "* welcome, {name} (/who lists who is here, /quit leaves)"
            )
            .unwrap();
            info!("{name} joined from {}", ctx.peer());
            tell_others(ctx, format!("* {name} joined\n").as_bytes());
            self.name = Some(name.to_string());
        }
    }

    /// Leaves the room, if in it, and tells the others. Called as soon as
    /// the client is done (`/quit`, a violation), not only from `on_close`:
    /// a closing connection lingers until its peer closes too, and the room
    /// should not wait for that.
    fn leave(&mut self, why: impl std::fmt::Display, ctx: &mut Ctx<'_, Room>) {
        if let Some(name) = self.name.take() {
            let id = ctx.id();
            ctx.state().remove(&id);
            info!("{name} left ({why})");
            tell_others(ctx, format!("* {name} left\n").as_bytes());
        }
    }
}

/// Sends `bytes` to everyone in the room but the caller. A member that owes
/// more than [`MAX_OUTPUT`] is closed by `send` (its `on_close` announces it);
/// the others are not held up.
fn tell_others(ctx: &mut Ctx<'_, Room>, bytes: &[u8]) {
    let me = ctx.id();
    let others: Vec<ConnId> = ctx.state().keys().copied().filter(|&id| id != me).collect();
    for id in others {
        ctx.send(id, bytes);
    }
}

#[allow(dead_code)] // tests include this file for `Chat` and `builder`
fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:7002".into());
    if let Err(e) = serve(&addr) {
        eprintln!("chat_server: {e}");
        std::process::exit(1);
    }
}

fn serve(addr: &str) -> std::io::Result<()> {
    let mut server = builder().timeouts_from_env().build(Room::new())?;
    let bound = server.listen_at(twig::Listen::parse(addr)?, Chat::default)?;
    server.stop_on_signals()?;
    let try_it = match &bound {
        twig::Endpoint::Tcp(a) => format!("nc {} {}", a.ip(), a.port()),
        twig::Endpoint::Unix(path) => format!("nc -U {}", path.display()),
    };
    info!("chatting on {bound}; try: {try_it}");
    server.run()?;
    Ok(())
}
