//! The lesson's client, with plain blocking std sockets: connect, send
//! `can you hear me?`, print the reply. Compare with the reactor's server.
//!
//! Run: `cargo run --example reply_client [ADDR] [MESSAGE]`
//! (default `127.0.0.1:8000`, `can you hear me?`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8000".into());
    let message = args.next().unwrap_or_else(|| "can you hear me?".into());
    match ask(&addr, &message) {
        Ok(reply) => {
            println!("reply is: {reply}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("reply_client: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// socket + connect, sendall, recv until the server closes, close.
fn ask(addr: &str, message: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(message.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
