//! The RFC 6455 frame codec: parses a frame header off the front of the
//! input (pure, no I/O, no allocation) and encodes the server's frames.
//!
//! Self-contained (it imports nothing from twig), so the fuzz target
//! `fuzz_targets/ws_frame.rs` includes this file by path.

/// A frame's opcode (RFC 6455 §5.2); the reserved ones are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// The next fragment of a message.
    Continuation,
    /// The first (or only) frame of a text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// The close handshake.
    Close,
    /// A ping: answered with a pong carrying the same payload.
    Ping,
    /// A pong: the answer to our ping (or unsolicited: a heartbeat).
    Pong,
}

impl Opcode {
    /// Control frames (close, ping, pong) may come between fragments, must
    /// not be fragmented, and carry at most 125 bytes.
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }

    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }
}

/// A client frame's header, as [`parse`] found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The last frame of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The client's masking key (always present: unmasked frames are refused).
    pub mask: [u8; 4],
    /// Bytes of header (2 to 14); the payload follows.
    pub header_len: usize,
    /// Bytes of payload (at most the `max_frame` given to [`parse`]).
    pub payload_len: usize,
}

impl Header {
    /// Header plus payload: what the frame takes off the input.
    pub fn frame_len(&self) -> usize {
        self.header_len + self.payload_len
    }
}

/// Why a frame is refused: the close code to send, and a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// 1002 (protocol error), 1007 (invalid data) or 1009 (too big).
    pub code: u16,
    /// Said in the close frame and the log.
    pub reason: &'static str,
}

/// Close code: normal closure.
pub const NORMAL: u16 = 1000;
/// Close code: the server is going away (stopping, or a ping timed out).
pub const GOING_AWAY: u16 = 1001;
/// Close code: a protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Close code: the data does not match the message type (bad UTF-8).
pub const INVALID_DATA: u16 = 1007;
/// Close code: a frame or message over the limit.
pub const TOO_BIG: u16 = 1009;

const fn refuse(code: u16, reason: &'static str) -> Refusal {
    Refusal { code, reason }
}

/// What [`parse`] found at the front of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Not a whole header yet.
    Partial,
    /// A valid header (the payload may not have arrived yet).
    Header(Header),
    /// A frame that breaks the protocol or the limit.
    Refused(Refusal),
}

/// Parses the frame header at the front of `input`, a client's: masked, no
/// reserved bits (no extension is negotiated), a known opcode, control
/// frames unfragmented and at most 125 bytes, a payload of at most
/// `max_frame` bytes. The checks come as soon as their bytes have arrived,
/// so a bad frame is refused before its payload is waited for.
pub fn parse(input: &[u8], max_frame: usize) -> Parsed {
    let [b0, b1, ..] = *input else {
        return Parsed::Partial;
    };
    if b0 & 0x70 != 0 {
        return Parsed::Refused(refuse(PROTOCOL_ERROR, "reserved bits set"));
    }
    let Some(opcode) = Opcode::from_bits(b0 & 0x0F) else {
        return Parsed::Refused(refuse(PROTOCOL_ERROR, "reserved opcode"));
    };
    let fin = b0 & 0x80 != 0;
    if opcode.is_control() && !fin {
        return Parsed::Refused(refuse(PROTOCOL_ERROR, "fragmented control frame"));
    }
    if b1 & 0x80 == 0 {
        return Parsed::Refused(refuse(PROTOCOL_ERROR, "unmasked client frame"));
    }
    let (len, at) = match b1 & 0x7F {
        126 => match input.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Parsed::Partial,
        },
        127 => match input.get(2..10) {
            Some(b) => {
                let mut be = [0; 8];
                be.copy_from_slice(b);
                (u64::from_be_bytes(be), 10)
            }
            None => return Parsed::Partial,
        },
        n => (u64::from(n), 2),
    };
    if len >> 63 != 0 {
        return Parsed::Refused(refuse(PROTOCOL_ERROR, "length with the top bit set"));
    }
    if opcode.is_control() && len > 125 {
        return Parsed::Refused(refuse(PROTOCOL_ERROR, "control frame over 125 bytes"));
    }
    let payload_len = match usize::try_from(len) {
        Ok(n) if n <= max_frame => n,
        _ => return Parsed::Refused(refuse(TOO_BIG, "frame over the size limit")),
    };
    let Some(key) = input.get(at..at + 4) else {
        return Parsed::Partial;
    };
    Parsed::Header(Header {
        fin,
        opcode,
        mask: [key[0], key[1], key[2], key[3]],
        header_len: at + 4,
        payload_len,
    })
}

/// Appends `payload` unmasked with `mask` (the XOR is its own inverse).
pub fn unmask_into(payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// Appends one server frame (unmasked, as RFC 6455 §5.1 requires of a
/// server) carrying `payload`.
pub fn encode(opcode: Opcode, fin: bool, payload: &[u8], out: &mut Vec<u8>) {
    let b0 = if fin { 0x80 } else { 0 } | opcode.bits();
    match payload.len() {
        n @ 0..=125 => out.extend_from_slice(&[b0, n as u8]),
        n @ 126..=0xFFFF => {
            out.extend_from_slice(&[b0, 126]);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.extend_from_slice(&[b0, 127]);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Appends a close frame: the code, then the reason (cut to fit 125 bytes
/// at a character boundary, so it stays UTF-8).
pub fn encode_close(code: u16, reason: &str, out: &mut Vec<u8>) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; 125];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    encode(Opcode::Close, true, &payload[..2 + end], out);
}

/// Whether a peer may send `code` in a close frame (RFC 6455 §7.4): the
/// defined codes other than those reserved for "no code" (1005), "no
/// close" (1006) and TLS (1015), and the ranges for libraries and apps.
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}
