//! twig: a small, fast, single-threaded event-loop TCP server framework,
//! hand-built on [`mio`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod accept;
mod config;
mod connection;
mod core;
mod ctx;
mod drive;
pub mod framing;
mod handle;
mod protocol;
mod server;
mod stats;
mod tick;
mod timer;
mod token;

pub use crate::config::{AtCapacity, Builder, Config};
pub use crate::core::Core;
pub use crate::ctx::Ctx;
pub use crate::handle::Handle;
pub use crate::protocol::{After, CloseReason, Frame, Protocol, Violation};
pub use crate::server::Server;
pub use crate::stats::Stats;
pub use crate::tick::{Tick, WakeReason};
pub use crate::timer::TimerId;
pub use crate::token::ConnId;
