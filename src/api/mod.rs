//! What users name: the protocol contract ([`Protocol`](crate::Protocol),
//! [`Frame`](crate::Frame), [`After`](crate::After)), the callback context
//! ([`Ctx`](crate::Ctx)), where to listen ([`Listen`](crate::Listen),
//! [`Endpoint`](crate::Endpoint), systemd's sockets), configuration ([`Config`](crate::Config),
//! [`Builder`](crate::Builder)), the cross-thread [`Handle`](crate::Handle),
//! and the counters ([`Stats`](crate::Stats), [`Turn`](crate::Turn)). The
//! [`Server`](crate::Server) and [`Core`](crate::Core) are the loop itself
//! and live in [`reactor`](crate::reactor). All are re-exported at the crate
//! root: `twig::Protocol`, `twig::Server`, ...

pub(crate) mod activation;
pub(crate) mod config;
pub(crate) mod ctx;
pub(crate) mod endpoint;
pub(crate) mod handle;
pub(crate) mod listen;
pub(crate) mod protocol;
pub(crate) mod stats;
pub(crate) mod turn;
