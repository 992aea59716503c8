//! Writing your own protocol: the API shown through the examples, from a
//! one-line reply to a proxy.
//!
//! Every recipe below is a real example in `examples/`, runnable with
//! `cargo run --example NAME`; the snippets here are trimmed to the part that
//! teaches something.
//!
//! # 1. Framing: what is one request?
//! [`Protocol::frame`](crate::Protocol::frame) looks at the buffered bytes and
//! answers [`Frame::Complete(n)`](crate::Frame::Complete) (the first `n` bytes
//! are one request), [`Frame::Partial`](crate::Frame::Partial) (wait for more)
//! or [`Frame::Invalid`](crate::Frame::Invalid) (they can never be valid). It
//! must not consume anything: twig calls it again with the same bytes plus
//! more. Ready-made framers live in [`framing`](crate::framing):
//!
//! ```
//! use twig::{Frame, framing};
//! // Lines (chat_server.rs): up to and including '\n'.
//! assert_eq!(framing::line(b"hi\nthere"), Frame::Complete(3));
//! // Length-prefixed binary messages.
//! assert_eq!(framing::length_prefixed(b"\0\0\0\x01!", 1024), Frame::Complete(5));
//! // A stream with no messages at all (echo_server.rs, proxy.rs): whatever
//! // arrived is a "request".
//! # let input = b"abc";
//! let frame = Frame::Complete(input.len());
//! # assert_eq!(frame, Frame::Complete(3));
//! ```
//!
//! The last one is right only where nothing depends on where TCP split the
//! bytes: an echo sends back the same bytes however they were cut, and a
//! proxy forwards them. For anything with messages it is the partial-read
//! bug: one read may hold half a request (which `reply` would then answer)
//! or two (which it would answer as one), and
//! [`Config::max_request_size`](crate::Config::max_request_size) never
//! applies. The [`guide`](crate::guide)'s chapter 1 keeps it for the lesson's
//! server on purpose, and says so.
//!
//! A framer for a real protocol (`kv_server.rs`: Redis's RESP) walks the
//! bytes without allocating and says `Partial` as long as every byte so far
//! fits the grammar, `Invalid` as soon as one does not. Over
//! [`Config::max_request_size`](crate::Config::max_request_size) the request
//! is refused whatever the framer says, so a framer never needs its own limit
//! on buffering.
//!
//! # 2. Replying, and when to close
//! [`Protocol::reply`](crate::Protocol::reply) gets exactly one request's
//! bytes, writes the answer with [`Ctx::write`](crate::Ctx::write) (or
//! `write!` — `Ctx` is an [`std::io::Write`]), and returns
//! [`After::KeepOpen`](crate::After::KeepOpen) or
//! [`After::Close`](crate::After::Close). Replies to pipelined requests are
//! batched into one `write` syscall. Broken input gets
//! [`Protocol::on_violation`](crate::Protocol::on_violation): write your
//! protocol's error reply there (RESP's `-ERR Protocol error`, HTTP's 400);
//! twig then flushes it and closes.
//!
//! # 3. State: per connection, and shared
//! `self` is per connection: the factory given to
//! [`Server::listen`](crate::Server::listen) makes one value per client.
//! State shared by all connections is the `S` of `Server<S>`, reached as
//! `&mut S` by [`Core::state`](crate::Core::state) — no `Mutex`, because only
//! the loop thread ever runs callbacks. `kv_server.rs` keeps its whole store
//! there:
//!
//! ```
//! use std::collections::HashMap;
//! use twig::{After, Ctx, Frame, Protocol, framing};
//!
//! type Store = HashMap<Vec<u8>, Vec<u8>>;
//!
//! /// `key=value` sets, `key` gets.
//! struct Kv;
//!
//! impl Protocol<Store> for Kv {
//!     fn frame(&mut self, input: &[u8]) -> Frame {
//!         framing::line(input)
//!     }
//!     fn reply(&mut self, line: &[u8], ctx: &mut Ctx<'_, Store>) -> After {
//!         let line = line.trim_ascii();
//!         match line.iter().position(|&b| b == b'=') {
//!             Some(eq) => {
//!                 ctx.state().insert(line[..eq].to_vec(), line[eq + 1..].to_vec());
//!                 ctx.write(b"OK\n");
//!             }
//!             None => {
//!                 // Borrow the state and the reply buffer together: no copy.
//!                 let (store, out) = ctx.state_and_output();
//!                 out.extend_from_slice(store.get(line).map_or(&b"(nil)"[..], |v| v));
//!                 out.push(b'\n');
//!             }
//!         }
//!         After::KeepOpen
//!     }
//! }
//! # let _ = twig::Server::new(Store::new()).map(|mut s| s.listen("127.0.0.1:0", || Kv));
//! ```
//!
//! # 4. Talking to other connections
//! Every connection has a [`ConnId`](crate::ConnId) ([`Ctx::id`](crate::Ctx::id));
//! ids carry a generation, so an id kept after its connection closed never
//! reaches a newcomer that reused the slot. `chat_server.rs` keeps
//! `ConnId → name` in its shared state and uses:
//! - [`Core::broadcast`](crate::Core::broadcast) — to everyone a filter
//!   picks;
//! - [`Core::send`](crate::Core::send) — to one connection; bytes are written
//!   at once if its socket takes them, else queued;
//! - [`Core::close`](crate::Core::close) — flush, then close another.
//!
//! A callback's [`Ctx`](crate::Ctx) dereferences to the [`Core`](crate::Core),
//! so these are `ctx.broadcast(..)`, `ctx.send(..)`, `ctx.close(..)`. One
//! send rule holds whichever is used: bytes for one connection go out in the
//! order of the calls. Sent to the connection whose callback is running (the
//! sender's own copy of a broadcast, say), they join its reply, between what
//! it wrote before and after the call.
//!
//! A reader slower than the writers is the classic trap. Its queue is capped
//! by [`Config::max_output`](crate::Config::max_output): over it,
//! [`send`](crate::Core::send) drops the slow consumer (its `on_close` sees
//! [`CloseReason::OutputLimit`](crate::CloseReason::OutputLimit)), while
//! [`try_send`](crate::Core::try_send) leaves it connected and tells you
//! [`SendError::Full`](crate::SendError::Full), so you can drop the message
//! instead. The server never stalls on one client.
//!
//! # 5. Time: timers from callbacks
//! [`Core::call_later`](crate::Core::call_later) and [`Core::every`](crate::Core::every)
//! run a closure on the loop thread with the whole [`Core`](crate::Core):
//!
//! ```
//! # use std::time::Duration;
//! # let mut server = twig::Server::new(()).unwrap();
//! // Every second, tell every client the time (Twisted's LoopingCall).
//! server.core().every(Duration::from_secs(1), |core| {
//!     let now = format!("{:?}\n", std::time::SystemTime::now());
//!     core.broadcast(now.as_bytes(), |_| true);
//! });
//! ```
//!
//! Work that must block (a database, a file, a CPU-heavy job) goes to another
//! thread, which posts the result back with [`Handle::post`](crate::Handle::post)
//! or [`Handle::send`](crate::Handle::send) (Twisted's `callFromThread`).
//!
//! # 6. Outbound connections, both directions in one loop
//! [`Core::connect`](crate::Core::connect) opens a client connection served
//! by the same trait (Twisted's `connectTCP`): its
//! [`on_open`](crate::Protocol::on_open) runs once connected — the place for a
//! client to speak first — or
//! [`on_connect_failed`](crate::Protocol::on_connect_failed) says why not
//! (refused, timed out after [`Config::connect_timeout`](crate::Config::connect_timeout)).
//! Bytes sent to it before it is established are queued, and go out before
//! what `on_open` writes.
//! `loadgen.rs` is a load generator made only of outbound connections;
//! `proxy.rs` pairs each accepted connection with an outbound one.
//!
//! A proxy shows the last two tools. **Backpressure across connections**:
//! when the side it forwards to owes too much
//! ([`Core::owed`](crate::Core::owed)), a side pauses its own reading
//! ([`Core::pause_reading`](crate::Core::pause_reading)); the slow side's
//! [`on_drained`](crate::Protocol::on_drained) resumes it
//! ([`Core::resume_reading`](crate::Core::resume_reading)). TCP then slows
//! the fast peer down; nothing piles up in memory. **Half-close**: when one
//! peer finishes sending, [`on_eof`](crate::Protocol::on_eof) returns
//! [`After::KeepOpen`](crate::After::KeepOpen) and passes the EOF on with
//! [`Core::shutdown_write`](crate::Core::shutdown_write), so the answer
//! still flows back the other way.
//!
//! # 7. More cores: state per loop, shared through messages
//! [`Workers`](crate::Workers) runs several loops on one port, each on its
//! own thread (`echo_server` and `http_server` take `--workers N`). The
//! protocol code does not change, but the meaning of `S` does: each loop
//! owns its own, made by `make_state(index)`. `http_server.rs` counts
//! visitors per loop. A value that must span the loops lives on one of
//! them, and the others send it messages: `counter_workers.rs` keeps its
//! total on loop 0, and each hit is a closure posted there through loop 0's
//! [`Handle`](crate::Handle), which answers through the client's own loop:
//!
//! ```
//! # use twig::{After, Ctx, Frame, Handle, Protocol, framing};
//! # struct Hits;
//! struct Loop {
//!     index: usize,
//!     total: u64,               // counted on loop 0 only
//!     loops: Vec<Handle<Loop>>, // every loop's handle (from `Workers::handles`)
//! }
//! # impl Protocol<Loop> for Hits {
//! #     fn frame(&mut self, input: &[u8]) -> Frame { framing::line(input) }
//! fn reply(&mut self, _line: &[u8], ctx: &mut Ctx<Loop>) -> After {
//!     let (client, here) = (ctx.id(), ctx.state().index);
//!     let back = ctx.state().loops[here].clone();
//!     ctx.state().loops[0].post(move |core| {
//!         core.state().total += 1;
//!         let answer = format!("hit {}\n", core.state().total);
//!         back.send(client, answer.into_bytes()); // back to the client's loop
//!     });
//!     After::KeepOpen
//! }
//! # }
//! ```
//!
//! No lock is taken on any loop, and the total is one sequence. (A channel
//! to a thread of your own works as well; a `Mutex` in `S` works too, but
//! then every loop waits on it.)
//!
//! # 8. The same protocol over TLS
//! With the `tls` feature, serve any protocol over TLS by listening with
//! [`Server::listen_tls`](crate::Server) instead of `listen`: nothing in the
//! protocol changes. `on_open` runs once the handshake is complete, the
//! bytes `frame` and `reply` see are plaintext, and the idle and request
//! timeouts start after the handshake (which has its own,
//! [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout)).
//!
//! ```text
//! let tls = twig::tls::TlsConfig::builder()
//!     .cert_pem_files("cert.pem", "key.pem")?
//!     .alpn(&[twig::tls::ALPN_HTTP1]) // for twig::http, so browsers agree on HTTP/1.1
//!     .build()?;
//! server.listen_tls("0.0.0.0:8443", tls, move || Http::new(app.clone()))?;
//! ```
//!
//! Handshake failures close with [`CloseReason::Tls`](crate::CloseReason::Tls)
//! (count them in [`Stats`](crate::Stats)); a client that never finishes
//! the handshake with [`CloseReason::HandshakeTimeout`](crate::CloseReason::HandshakeTimeout).
//! Output limits count the ciphertext not yet sent with the plaintext owed.
//!
//! # 9. HTTP bodies that are not ready yet: streams and Server-Sent Events
//! A handler that cannot answer in one piece starts a stream: the head goes
//! out now, the body in parts later (chunked). Pull when the body can be
//! made on demand (a generated download, a file): the layer calls the
//! producer again only when the socket has taken the last part, so memory
//! stays bounded however slow the client. Push from timers or other
//! connections' events with the `Copy` handle, here as Server-Sent Events:
//!
//! ```
//! use std::time::Duration;
//! use twig::http::{Body, Produce, Router};
//! let app: Router = Router::new()
//!     .get("/big", |_, res, ctx| {
//!         let mut left = 1u64 << 30; // 1 GiB, never more than `HIGH_WATER` (64 KiB) held
//!         res.produce(ctx, None, move |body: &mut Body| {
//!             left -= body.push(&[b'x'; 8192][..left.min(8192) as usize]) as u64;
//!             if left == 0 { Produce::Done } else { Produce::More }
//!         });
//!     })
//!     .get("/clock", |_, res, ctx| {
//!         let events = res.events(ctx); // text/event-stream
//!         ctx.every(Duration::from_secs(1), move |core| {
//!             // false once the client has gone: a real app cancels the timer
//!             events.send(core, None, Some("tick"), "one more second");
//!         });
//!     });
//! ```
//!
//! Pipelined requests behind a stream wait until it ends
//! ([`Stream::end`](crate::http::Stream::end)); an HTTP/1.0 client gets the
//! raw bytes and a close. A push stream's writes are
//! [`Core::send`](crate::Core::send)s: check
//! [`Stream::owed`](crate::http::Stream::owed) before writing to a slow
//! reader, or it is closed past `max_output`.
//!
//! # 10. Checklist
//! - Never block in a callback: it stalls every client (twig warns past
//!   [`Config::slow_callback`](crate::Config::slow_callback)).
//! - `frame` must accept any split of the bytes: test it by feeding one byte
//!   at a time.
//! - A panic closes only its own connection — but it is still a bug.
//! - Put limits on whatever a peer controls: counts, lengths, nesting.
