//! Helpers for the TLS tests: a self-signed ECDSA P-256 certificate made
//! with rcgen in a fresh temporary folder, a line-echo protocol, a TLS
//! server on `127.0.0.1:0`, and the external clients (skipped with a
//! message where absent, but never under `CI=true`).

use std::path::PathBuf;

use twig::tls::{ALPN_HTTP1, TlsConfig};
use twig::{After, Builder, Ctx, Frame, Protocol, framing};

use super::{Running, start_on};

/// A certificate for `localhost` and `127.0.0.1`, and its key, as PEM
/// files in a folder of their own.
pub struct Cert {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Cert {
    pub fn new(tag: &str) -> Cert {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let made = rcgen::generate_simple_self_signed(names).expect("rcgen makes a certificate");
        let dir = std::env::temp_dir().join(format!("twig-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).expect("write cert");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
        Cert { dir, cert, key }
    }

    pub fn config(&self) -> TlsConfig {
        TlsConfig::builder()
            .cert_pem_files(&self.cert, &self.key)
            .expect("load PEM")
            .alpn(&[ALPN_HTTP1])
            .build()
            .expect("TLS config")
    }

    pub fn cert_str(&self) -> &str {
        self.cert.to_str().expect("utf-8 temp path")
    }
}

impl Drop for Cert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Echoes each line; `quit` closes.
pub struct Echo;

impl Protocol for Echo {
    fn frame(&mut self, input: &[u8]) -> Frame {
        framing::line(input)
    }

    fn reply(&mut self, line: &[u8], ctx: &mut Ctx) -> After {
        if line.trim_ascii() == b"quit" {
            ctx.write(b"bye\n");
            return After::Close;
        }
        ctx.write(line);
        After::KeepOpen
    }
}

/// Echoes every byte as it comes (no framing): for bulk transfers.
pub struct Bulk;

impl Protocol for Bulk {
    fn frame(&mut self, input: &[u8]) -> Frame {
        Frame::Complete(input.len())
    }

    fn reply(&mut self, bytes: &[u8], ctx: &mut Ctx) -> After {
        ctx.write(bytes);
        After::KeepOpen
    }
}

/// A TLS server with `builder`'s limits serving `factory()`.
pub fn start_tls<P, F>(builder: Builder, tls: TlsConfig, factory: F) -> Running<()>
where
    P: Protocol<()> + 'static,
    F: FnMut() -> P + Send + 'static,
{
    start_on(builder, (), move |server| {
        server.listen_tls("127.0.0.1:0", tls, factory)
    })
}
