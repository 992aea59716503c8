//! The turn's later phases: user timers, closures posted from other
//! threads, signals, the graceful stop, and reaping closed connections.

use std::sync::atomic::Ordering;
use std::time::Duration;

use log::{debug, error, info, trace, warn};

use crate::api::ctx::Ctx;
use crate::conn::close::CloseReason;
use crate::conn::id::ConnId;
use crate::conn::machine::{Command, Event, Life};
use crate::conn::peer::Who;
use crate::reactor::core::{Callback, Core};
use crate::reactor::hooks::guarded;
use crate::reactor::server::Server;

/// How long the old copy of a restart goes on serving its connections as
/// usual before it drains them (at most `Config::drain_timeout`).
const HANDOFF_GRACE: Duration = Duration::from_secs(1);

/// Tells every connection the server stops: each answers what has arrived,
/// then closes.
fn stop_connections<S>(core: &mut Core<S>) {
    let ids: Vec<ConnId> = core.connections().collect();
    for id in ids {
        core.command(id, Event::Command(Command::Stop));
    }
}

impl<S: 'static> Server<S> {
    /// Runs the timers due now, in (deadline, scheduling order). Timers
    /// scheduled by these callbacks wait for the next turn. Returns whether
    /// any ran.
    pub(super) fn fire_timers(&mut self) -> bool {
        let core = &mut self.core;
        let before = core.stats.timers_fired;
        let watermark = core.timers.watermark();
        while let Some((id, at, callback)) = core.timers.pop_due(core.now, watermark) {
            core.stats.timers_fired += 1;
            trace!("firing {id}");
            #[cfg(debug_assertions)]
            crate::reactor::contracts::timer_fires(core, id);
            let again = match callback {
                Callback::Once(f) => {
                    guarded(core, |_| id, "timer", f);
                    None
                }
                // A repeating timer that panicked is cancelled.
                Callback::Every(mut f, interval) => {
                    guarded(core, |_| id, "timer", |core| f(core)).map(|()| {
                        // Keep the cadence (no drift), but never schedule into
                        // the past after a long stall: skip missed ticks.
                        let mut next = at + interval;
                        if next <= core.now {
                            next = core.now + interval;
                        }
                        (next, Callback::Every(f, interval))
                    })
                }
            };
            core.timers.finish(id, again);
        }
        #[cfg(debug_assertions)]
        crate::reactor::contracts::timers_done(core);
        core.stats.timers_fired > before
    }

    /// Runs the closures posted through handles, and notices a handle's stop.
    #[inline(never)]
    pub(super) fn run_posted(&mut self) {
        let mut jobs = std::mem::take(&mut self.jobs);
        self.shared.swap_jobs(&mut jobs);
        for job in jobs.drain(..) {
            guarded(&mut self.core, |_| "handle", "posted closure", job);
        }
        self.jobs = jobs; // empty, keeping its capacity for the next swap
        if self.shared.stop.load(Ordering::Acquire) {
            self.core.stop_requested = true;
        }
        self.start_upgrade(); // if a handle asked for one
    }

    /// Begins shutdown when asked; force-closes what is left at the drain
    /// deadline.
    #[inline(never)]
    pub(super) fn stop_if_asked(&mut self) {
        let core = &mut self.core;
        if core.stop_requested && !core.stopping {
            core.stopping = true;
            if let Some(member) = &self.group {
                member.stop_others(); // one loop stopping stops the server
            }
            self.drain_deadline = Some(core.now + core.config.drain_timeout);
            self.listener_ready = false;
            // Handed over, or about to be (a stop while a restart is under
            // way): a Unix socket's file is the new copy's, not ours to unlink.
            let handoff = &self.shared.handoff;
            let handed_over = handoff.is_handed_over() || handoff.is_under_way();
            for mut listener in self.listeners.drain(..) {
                if handed_over {
                    listener.socket.disown(); // the new copy serves its file now
                }
                let deregistered = self.poll.registry().deregister(&mut listener.socket);
                trace!("{} epoll_ctl(DEL) -> {deregistered:?}", listener.addr);
                debug!("stopped listening on {} (close)", listener.addr);
            }
            info!("stopping: draining {} connections", core.conns.len());
            if handed_over {
                // A client may have sent a request that has not arrived yet
                // (a connection accepted a moment ago, a keep-alive one):
                // closing its connection now would drop it. The new copy
                // takes every new client, so serve these a little longer.
                let grace = HANDOFF_GRACE.min(core.config.drain_timeout);
                core.call_later(grace, stop_connections);
            } else {
                stop_connections(core);
            }
        }
        if core.stopping && self.drain_deadline.is_some_and(|t| t <= core.now) {
            let ids: Vec<ConnId> = core.connections().collect();
            if !ids.is_empty() {
                warn!("drain deadline passed: closing {} connections", ids.len());
            }
            for id in ids {
                core.abort(id.key(), CloseReason::Shutdown);
            }
        }
    }

    /// Turns pending SIGINT/SIGTERM into a graceful stop (or, the second
    /// time, an immediate one), and SIGUSR2 into a restart.
    #[inline(never)]
    pub(super) fn on_signals(&mut self) {
        #[cfg(feature = "signals")]
        if let Some(signals) = &mut self.signals {
            let core = &mut self.core;
            for signal in signals.pending() {
                if signal == signal_hook::consts::SIGUSR2 {
                    // Every loop of a group sees the signal: loop 0 restarts.
                    if self.group.as_ref().is_none_or(|m| m.index() == 0) {
                        info!("SIGUSR2: restarting (listener handoff)");
                        self.shared.handoff.request(None);
                    }
                    continue;
                }
                let name = if signal == signal_hook::consts::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                if core.stop_requested || core.stopping {
                    info!("{name} again: closing every connection now");
                    self.drain_deadline = Some(core.now);
                } else {
                    info!("{name}: stopping gracefully");
                    core.stop_requested = true;
                }
            }
        }
        self.start_upgrade();
    }

    /// Removes the connections closed this turn from the slab: the one place
    /// this happens, after every event of the batch was handled, so no event
    /// can reach a new connection that reused a key. Calls `on_close`.
    #[inline(never)]
    pub(super) fn reap(&mut self) {
        let core = &mut self.core;
        if core.closed.is_empty() {
            return;
        }
        if !core.new_protocols.is_empty() {
            self.protocols.adopt(&mut core.new_protocols);
        }
        while let Some(key) = core.closed.pop() {
            let conn = core.conns.remove(key);
            let Life::Closed(reason) = conn.state.life else {
                error!("twig bug: {} reaped while {:?}", conn.id, conn.state);
                continue;
            };
            core.stats.closed_by[reason.index()] += 1;
            core.stats.active -= 1;
            if let Some(reaped) = &mut core.reaped {
                reaped.push((conn.id, reason));
            }
            let (id, peer) = (conn.id, conn.peer);
            match reason {
                CloseReason::Error | CloseReason::OutputLimit => {
                    warn!(
                        "{id} {peer}: closed ({reason}); last events: {}",
                        conn.recorder
                    )
                }
                _ if !reason.is_normal() => {
                    debug!(
                        "{id} {peer}: closed ({reason}); last events: {}",
                        conn.recorder
                    )
                }
                _ => debug!("{id} {peer}: closed ({reason})"),
            }
            // Dropping the socket closes it, which also removes it from the
            // epoll set: no deregister syscall needed.
            drop(conn);
            trace!("{id} close() -> dropped");
            if let Some(mut protocol) = self.protocols.remove(key) {
                guarded(
                    core,
                    |_| Who(id, Some(peer)),
                    "on_close",
                    |core| {
                        let peer = Some(peer);
                        protocol.on_close(reason, &mut Ctx { core, id, peer })
                    },
                );
                core.reply.clear(); // what on_close writes goes nowhere
            }
            self.quiet.full = false;
            self.accept_paused_until = None; // a descriptor is free again
        }
        if let Some(member) = &mut self.group {
            member.sync(core.conns.len()); // the slots are free for every loop
        }
        let conns = &core.conns;
        core.deadlines
            .compact_if_mostly_stale(conns.len(), |id, at| {
                conns
                    .get(id.key())
                    .is_some_and(|c| c.id == id && c.armed == Some(at))
            });
    }
}
