//! A UTF-8 stream validator for text messages that arrive in fragments: a
//! character may be split between two frames, so each fragment cannot be
//! checked alone, and waiting for the whole message would accept megabytes
//! of garbage before saying so (RFC 6455 §8.1 asks to fail fast).
//!
//! It checks the message's accumulated bytes from where the last check
//! stopped, with [`std::str::from_utf8`]: an error with an
//! [`error_len`](std::str::Utf8Error::error_len) is invalid input; one
//! without is a character cut at the end, re-checked when more arrives. So
//! each byte is checked about once, by the standard library's validator.
//! Self-contained, so `fuzz_targets/ws_frame.rs` includes it by path.

/// How far a growing message is known to be valid UTF-8.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Stream {
    /// The prefix known valid; the rest (at most 3 bytes) is a character
    /// not yet complete.
    valid_up_to: usize,
}

/// The bytes can never become valid UTF-8, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Stream {
    /// A validator for a new message.
    pub fn new() -> Utf8Stream {
        Utf8Stream::default()
    }

    /// Checks what was appended to `message` since the last call.
    ///
    /// # Errors
    /// [`InvalidUtf8`] as soon as a byte makes the message invalid.
    pub fn advance(&mut self, message: &[u8]) -> Result<(), InvalidUtf8> {
        let rest = message.get(self.valid_up_to..).unwrap_or_default();
        match std::str::from_utf8(rest) {
            Ok(_) => self.valid_up_to = message.len(),
            Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
            Err(e) => self.valid_up_to += e.valid_up_to(), // a character cut at the end
        }
        Ok(())
    }

    /// Checks that `message` (all of it passed to [`advance`](Self::advance))
    /// ends on a whole character.
    ///
    /// # Errors
    /// [`InvalidUtf8`] if it ends inside a character.
    pub fn finish(&self, message: &[u8]) -> Result<(), InvalidUtf8> {
        if self.valid_up_to == message.len() {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}
