//! `/metrics`: the Prometheus text exposition format (version 0.0.4),
//! written by hand — `# HELP`, `# TYPE`, then the samples, with label
//! values and help text escaped as the format says.
//!
//! Every series has a `loop="i"` label, the loop's index (`0` for a single
//! [`Server`](crate::Server)); the sum over loops is left to PromQL
//! (`sum without (loop) (rate(twig_requests_total[1m]))`). Publishing the
//! sum as well, as a series without the label, would make every `sum()`
//! count each request twice.

use std::fmt::Write as _;

use crate::admin::figures::{Board, LIVES, LoopFigures};
use crate::admin::observer::Histogram;
use crate::api::stats::Stats;
use crate::conn::close::CloseReason;
use crate::http::{Request, Response};
use crate::{Core, Ctx};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A route for `/metrics` on any [`Router`](crate::http::Router): the
/// figures of the loop serving the request, taken now. Add it to your own
/// router with `.get("/metrics", twig::admin::metrics())`; it checks
/// nothing about who asks (the admin listener,
/// [`Server::listen_admin`](crate::Server::listen_admin), does).
pub fn metrics<S>() -> impl Fn(&Request<'_>, &mut Response<'_>, &mut Ctx<'_, S>) + Send + Sync {
    |_, res, ctx| serve(res, ctx, None)
}

/// Answers a scrape: this loop's figures taken now, the others' from
/// `board` (as they last published them).
pub(crate) fn serve<S>(res: &mut Response<'_>, core: &Core<S>, board: Option<&Board>) {
    let mut loops = vec![(0, LoopFigures::of(core))];
    if let Some(board) = board {
        let posted = board.lock().unwrap_or_else(|e| e.into_inner());
        // Slot 0 is this loop, taken live above.
        for (index, figures) in posted.iter().enumerate().skip(1) {
            if let Some(figures) = figures {
                loops.push((index, figures.clone()));
            }
        }
    }
    res.content_type(CONTENT_TYPE);
    res.send(render(&loops).as_bytes());
}

/// A counter taken from [`Stats`]: its name (before `_total`), its help, and
/// how to read it.
type Counter = (&'static str, &'static str, fn(&Stats) -> u64);

/// Every counter of [`Stats`] but `active` (a gauge: `twig_connections`,
/// by state) and `closed_by`
/// (one counter with a `reason` label).
const COUNTERS: [Counter; 16] = [
    ("accepted", "Connections accepted.", |s| s.accepted),
    ("connected", "Outbound connections started.", |s| {
        s.connected
    }),
    ("refused", "Connections refused at capacity.", |s| s.refused),
    (
        "capacity_reached",
        "Times accepting stopped at max_connections.",
        |s| s.capacity_reached,
    ),
    (
        "accept_errors",
        "Accept errors (per-connection and exhaustion).",
        |s| s.accept_errors,
    ),
    ("requests", "Complete requests answered.", |s| s.requests),
    ("bytes_in", "Bytes read from peers.", |s| s.bytes_in),
    ("bytes_out", "Bytes written to peers.", |s| s.bytes_out),
    ("turns", "Loop turns (times poll returned).", |s| s.turns),
    ("events", "Readiness events from poll.", |s| s.events),
    (
        "stale_events",
        "Events for connections already gone.",
        |s| s.stale_events,
    ),
    ("timers_fired", "Timer callbacks run.", |s| s.timers_fired),
    (
        "dropped_commands",
        "Commands for connections already gone.",
        |s| s.dropped_commands,
    ),
    ("offloaded", "Jobs handed to the offload pool.", |s| {
        s.offloaded
    }),
    (
        "offload_refused",
        "Offload calls refused (pool full).",
        |s| s.offload_refused,
    ),
    (
        "results_dropped",
        "Offloaded results for connections gone.",
        |s| s.results_dropped,
    ),
];

/// The whole exposition for these loops' figures.
pub fn render(loops: &[(usize, LoopFigures)]) -> String {
    let mut out = Exposition::default();
    let indices: Vec<String> = loops.iter().map(|(i, _)| i.to_string()).collect();
    let each = || {
        loops
            .iter()
            .zip(&indices)
            .map(|((_, f), i)| (i.as_str(), f))
    };
    for (name, help, read) in COUNTERS {
        let name = format!("twig_{name}_total");
        out.family(&name, "counter", help);
        for (i, f) in each() {
            out.sample(&name, &[("loop", i)], read(&f.stats));
        }
    }
    out.family(
        "twig_closed_total",
        "counter",
        "Connections closed, by reason.",
    );
    for (i, f) in each() {
        for reason in CloseReason::ALL {
            let why = reason.to_string();
            let labels = [("loop", i), ("reason", why.as_str())];
            out.sample("twig_closed_total", &labels, f.stats.closed(reason));
        }
    }
    let gauge = "twig_connections";
    out.family(gauge, "gauge", "Open connections, by machine state (life).");
    for (i, f) in each() {
        for (state, n) in LIVES.iter().zip(f.by_life) {
            out.sample(gauge, &[("loop", i), ("state", state)], n);
        }
    }
    type Gauge = (&'static str, &'static str, fn(&LoopFigures) -> u64);
    let gauges: [Gauge; 3] = [
        ("twig_timers", "Timers scheduled.", |f| f.timers),
        (
            "twig_buffered_in_bytes",
            "Bytes of partial requests buffered.",
            |f| f.buffered_in,
        ),
        (
            "twig_buffered_out_bytes",
            "Bytes owed to peers, not yet written.",
            |f| f.owed_out,
        ),
    ];
    for (name, help, read) in gauges {
        out.family(name, "gauge", help);
        for (i, f) in each() {
            out.sample(name, &[("loop", i)], read(f));
        }
    }
    let name = "twig_turn_seconds";
    out.family(
        name,
        "histogram",
        "Busy time per loop turn, poll's return to the turn's end.",
    );
    for (i, f) in each() {
        out.histogram(name, i, &f.turn_time);
    }
    let name = "twig_callback_seconds";
    out.family(
        name,
        "histogram",
        "Time per callback (protocol hook, timer, posted job).",
    );
    for (i, f) in each() {
        out.histogram(name, i, &f.callback_time);
    }
    out.text
}

/// A text exposition being written.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// `# HELP` and `# TYPE` lines: they open a metric family.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample line: `name{label="value",...} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        let mut sep = '{';
        for (label, value) in labels {
            let _ = write!(self.text, "{sep}{label}=\"{}\"", escape_label(value));
            sep = ',';
        }
        if !labels.is_empty() {
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A histogram's `_bucket` (cumulative, `le`), `_sum` and `_count`.
    fn histogram(&mut self, name: &str, loop_index: &str, h: &Histogram) {
        let bucket = format!("{name}_bucket");
        for (le, n) in h.buckets() {
            let le = if le.is_infinite() {
                "+Inf".to_string()
            } else {
                le.to_string()
            };
            self.sample(&bucket, &[("loop", loop_index), ("le", &le)], n);
        }
        let seconds = h.sum().as_secs_f64();
        self.sample(&format!("{name}_sum"), &[("loop", loop_index)], seconds);
        self.sample(&format!("{name}_count"), &[("loop", loop_index)], h.count());
    }
}

/// A label value, escaped: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Help text, escaped: backslash and newline.
fn escape_help(help: &str) -> String {
    help.replace('\\', r"\\").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values_and_help() {
        assert_eq!(escape_label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(escape_help("x\\y\nz \"q\""), r#"x\\y\nz "q""#);
    }

    #[test]
    fn every_family_has_help_and_type_and_each_loop_a_label() {
        let mut figures = LoopFigures::default();
        figures.stats.requests = 7;
        let text = render(&[(0, figures.clone()), (1, figures)]);
        assert!(text.contains("twig_requests_total{loop=\"0\"} 7\n"));
        assert!(text.contains("twig_requests_total{loop=\"1\"} 7\n"));
        assert!(text.contains("# TYPE twig_turn_seconds histogram\n"));
        assert!(text.contains("twig_turn_seconds_bucket{loop=\"1\",le=\"+Inf\"} 0\n"));
        assert!(text.contains("twig_closed_total{loop=\"0\",reason=\"idle-timeout\"} 0\n"));
        assert!(
            text.lines()
                .all(|l| l.starts_with('#') || l.contains("{loop=\""))
        );
    }
}
