//! Time: user timers and per-connection deadlines, both binary heaps on the
//! monotonic clock with lazy removal (a cancelled or moved entry is skipped
//! when it reaches the top), so no operation on the per-request path
//! touches a heap.

pub(crate) mod deadlines;
pub(crate) mod timers;
