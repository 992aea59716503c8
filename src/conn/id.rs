//! Connection ids and the mapping between them, slab keys and `mio::Token`s.
//!
//! A slab reuses the key of a closed connection for the next one accepted. An
//! event (or a user's id) that still names the old connection must never reach
//! the new one, so every id carries a *generation*, unique per connection:
//!
//! ```text
//!   mio::Token = generation << 32 | slab key        (generation >= 1)
//! ```
//!
//! Tokens whose generation is 0 never belong to a connection: they are the
//! reserved tokens of the listeners, the waker and the signal source.

use std::fmt;

use mio::Token;

/// Identifies one connection for its whole life, and never another one.
///
/// Handed to user code by [`Ctx::id`](crate::Ctx::id). Using an id after its
/// connection closed is harmless: the operation finds nothing and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub(crate) key: u32,
    pub(crate) generation: u32,
}

impl ConnId {
    /// The `mio::Token` this connection is registered with.
    pub(crate) fn token(self) -> Token {
        Token(((self.generation as usize) << 32) | self.key as usize)
    }

    /// The connection a token names, or `None` for a reserved token.
    pub(crate) fn from_token(token: Token) -> Option<ConnId> {
        let generation = (token.0 >> 32) as u32;
        (generation != 0).then_some(ConnId {
            key: token.0 as u32,
            generation,
        })
    }

    /// The slab key (reused after the connection closes).
    pub(crate) fn key(self) -> usize {
        self.key as usize
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.key, self.generation)
    }
}

/// Reserved token of the cross-thread waker.
pub(crate) const WAKER: Token = Token(u32::MAX as usize);
/// Reserved token of the signal source.
pub(crate) const SIGNALS: Token = Token(u32::MAX as usize - 1);
/// Listeners use reserved tokens `0..MAX_LISTENERS`.
pub(crate) const MAX_LISTENERS: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_reserved_tokens_are_not_connections() {
        let id = ConnId {
            key: 7,
            generation: 3,
        };
        assert_eq!(ConnId::from_token(id.token()), Some(id));
        assert_eq!(ConnId::from_token(WAKER), None);
        assert_eq!(ConnId::from_token(SIGNALS), None);
        assert_eq!(ConnId::from_token(Token(0)), None);
    }

    #[test]
    fn same_key_different_generation_differs() {
        let old = ConnId {
            key: 0,
            generation: 1,
        };
        let new = ConnId {
            key: 0,
            generation: 2,
        };
        assert_ne!(old.token(), new.token());
    }
}
