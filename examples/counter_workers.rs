//! A hit counter across N loops, kept with messages, not locks. Each loop's
//! state is its own (nothing is shared between loop threads), so the total
//! lives on loop 0, and every loop asks loop 0 through its `Handle`: "count
//! this hit, then tell my client the total". Every line a client sends is a
//! hit; the answer is the total over every loop, and which loop served it.
//!
//! Run: `cargo run --example counter_workers [ADDR] [--workers N]` (default
//! `0.0.0.0:7004`, 2 loops), then `nc 127.0.0.1 7004` and press Enter a few
//! times, from several terminals.

use log::info;
use twig::{After, Ctx, Frame, Handle, Protocol, Server, framing};

/// One loop's state.
struct Loop {
    /// This loop's index.
    index: usize,
    /// The total: counted on loop 0 only.
    total: u64,
    /// Every loop's handle, by index (filled in before `run`).
    loops: Vec<Handle<Loop>>,
}

/// Each line is a hit.
struct Hits;

impl Protocol<Loop> for Hits {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, _line: &[u8], ctx: &mut Ctx<Loop>) -> After {
        let (client, here) = (ctx.id(), ctx.state().index);
        let back = ctx.state().loops[here].clone();
        // A message to loop 0, which owns the total; the answer comes back
        // to this loop as a message too, and goes out to the client.
        ctx.state().loops[0].post(move |core| {
            let total = &mut core.state().total;
            *total += 1;
            let answer = format!("hit {total} (served by loop {here})\n");
            back.send(client, answer.into_bytes());
        });
        After::KeepOpen // the answer is sent when it arrives
    }
}

fn main() {
    simple_logger::SimpleLogger::new()
        .with_level(log::LevelFilter::Info)
        .env()
        .init()
        .expect("the first logger");
    if let Err(e) = serve() {
        eprintln!("counter_workers: {e}");
        std::process::exit(1);
    }
}

fn serve() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "0.0.0.0:7004".into());
    let workers = match (args.next().as_deref(), args.next()) {
        (Some("--workers"), Some(n)) => n.parse().map_err(std::io::Error::other)?,
        _ => 2,
    };
    let mut server = Server::builder()
        .workers(workers)
        .build_workers(|index| Loop {
            index,
            total: 0,
            loops: Vec::new(),
        })?;
    // Each loop learns every loop's handle (a handle is `Send`; the state
    // itself never leaves its loop).
    let handles = server.handles();
    server.each(move |_, loop_| loop_.core().state().loops = handles.clone())?;
    let bound = server.listen_at(twig::Listen::parse(&addr)?, || Hits)?;
    server.stop_on_signals()?;
    let try_it = match &bound {
        twig::Endpoint::Tcp(a) => format!("nc {} {}", a.ip(), a.port()),
        twig::Endpoint::Unix(path) => format!("nc -U {}", path.display()),
    };
    info!("counting on {bound}; try: {try_it}");
    let stats = server.run()?;
    for (index, stats) in stats.per_loop.iter().enumerate() {
        info!("loop {index}: {stats}");
    }
    Ok(())
}
