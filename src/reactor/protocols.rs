//! The protocol table: each connection's protocol value, under the same key
//! as the connection in the core's slab. Kept beside the connections rather
//! than inside them, so a hook is called with `&mut` to its protocol and to
//! the whole [`Core`](crate::Core) at once, and the connection layer never
//! names the `Protocol` trait.

use crate::api::protocol::Protocol;
use crate::conn::id::ConnId;

/// Protocol values by connection key.
pub(crate) struct Protocols<S> {
    /// `None` for a free key, or a protocol dropped after it panicked.
    slots: Vec<Option<Box<dyn Protocol<S>>>>,
}

impl<S> Protocols<S> {
    pub(crate) fn new() -> Protocols<S> {
        Protocols { slots: Vec::new() }
    }

    /// Serves connection `key` with `protocol`.
    pub(crate) fn insert(&mut self, key: usize, protocol: Box<dyn Protocol<S>>) {
        if self.slots.len() <= key {
            self.slots.resize_with(key + 1, || None);
        }
        self.slots[key] = Some(protocol);
    }

    /// Takes in the protocols of connections opened by `Core::connect`.
    pub(crate) fn adopt(&mut self, new: &mut Vec<(ConnId, Box<dyn Protocol<S>>)>) {
        for (id, protocol) in new.drain(..) {
            self.insert(id.key(), protocol);
        }
    }

    /// The protocol serving `key`, if any.
    #[inline]
    pub(crate) fn get(&mut self, key: usize) -> Option<&mut dyn Protocol<S>> {
        match self.slots.get_mut(key) {
            Some(Some(protocol)) => Some(&mut **protocol),
            _ => None,
        }
    }

    /// Removes (and returns) the protocol serving `key`.
    pub(crate) fn remove(&mut self, key: usize) -> Option<Box<dyn Protocol<S>>> {
        self.slots.get_mut(key).and_then(Option::take)
    }
}
