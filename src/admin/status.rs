//! `/status` and `/status.json`: the loop that serves the request,
//! described by itself — every open connection, the timers, the counters,
//! the last turns. The page refreshes itself every 2 s (`<meta
//! http-equiv="refresh">`: no script needed).

use std::fmt::Write as _;
use std::time::Duration;

use crate::Core;
use crate::admin::figures::life_name;
use crate::admin::html::{escape_html as h, escape_json as j};
use crate::conn::id::ConnId;
use crate::reactor::snapshot::ConnSnapshot;

/// Milliseconds, with microseconds, for display.
fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// The counters as `(name, value)`, closes by reason included (non-zero
/// ones).
fn counters<S>(core: &Core<S>) -> Vec<(String, u64)> {
    let s = core.stats();
    let mut all: Vec<(String, u64)> = [
        ("accepted", s.accepted),
        ("connected", s.connected),
        ("active", s.active),
        ("refused", s.refused),
        ("capacity_reached", s.capacity_reached),
        ("accept_errors", s.accept_errors),
        ("requests", s.requests),
        ("bytes_in", s.bytes_in),
        ("bytes_out", s.bytes_out),
        ("turns", s.turns),
        ("events", s.events),
        ("stale_events", s.stale_events),
        ("timers_fired", s.timers_fired),
        ("dropped_commands", s.dropped_commands),
        ("offloaded", s.offloaded),
        ("offload_refused", s.offload_refused),
        ("results_dropped", s.results_dropped),
    ]
    .into_iter()
    .map(|(name, n)| (name.to_string(), n))
    .collect();
    for reason in crate::CloseReason::ALL {
        all.push((format!("closed:{reason}"), s.closed(reason)));
    }
    all
}

/// Most connections a page lists (the count of all is on it too).
pub const MAX_ROWS: usize = 500;

/// The status as JSON. `me` is the connection asking (marked `"self"`).
pub fn json<S>(core: &Core<S>, me: ConnId) -> String {
    let mut out = String::from("{");
    let conns = core.connection_snapshots(MAX_ROWS);
    let _ = write!(
        out,
        "\"max_connections\":{},\"open\":{},\"connections\":[",
        core.config().max_connections,
        core.connections().count(),
    );
    for (n, c) in conns.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        conn_json(&mut out, c, c.id == me);
    }
    out.push_str("],\"timers\":{");
    let next = core.next_timer_in().map(ms);
    let next = next.map_or("null".to_string(), |t| t.to_string());
    let _ = write!(
        out,
        "\"count\":{},\"next_due_ms\":{next}}},\"counters\":{{",
        core.timers_pending()
    );
    for (n, (name, value)) in counters(core).iter().enumerate() {
        let sep = if n > 0 { "," } else { "" };
        let _ = write!(out, "{sep}{}:{value}", j(name));
    }
    out.push_str("},\"turns\":[");
    if let Some(observer) = core.observer() {
        for (n, t) in observer.turns().rev().enumerate() {
            let sep = if n > 0 { "," } else { "" };
            let _ = write!(
                out,
                "{sep}{{\"woke_by\":{},\"events\":{},\"accepted\":{},\"closed\":{},\
                 \"requests\":{},\"bytes_in\":{},\"bytes_out\":{},\"timers_fired\":{},\
                 \"busy_us\":{}}}",
                j(&format!("{:?}", t.woke_by)),
                t.events,
                t.accepted,
                t.closed,
                t.requests,
                t.bytes_in,
                t.bytes_out,
                t.timers_fired,
                t.busy.as_micros()
            );
        }
    }
    out.push_str("]}");
    out
}

fn conn_json(out: &mut String, c: &ConnSnapshot, me: bool) {
    let _ = write!(
        out,
        "{{\"id\":{},\"peer\":{},\"life\":{},\"state\":{},\"self\":{me},\"age_ms\":{},\
         \"idle_ms\":{},\"buffered_in\":{},\"owed_out\":{},\"bytes_in\":{},\
         \"bytes_out\":{},\"events\":[",
        j(&c.id.to_string()),
        j(&c.peer.to_string()),
        j(life_name(c.state.life)),
        j(&c.state.to_string()),
        ms(c.age),
        ms(c.idle),
        c.buffered_in,
        c.owed_out,
        c.bytes_in,
        c.bytes_out,
    );
    for (n, e) in c.recent_events.iter().enumerate() {
        let sep = if n > 0 { "," } else { "" };
        let _ = write!(out, "{sep}{}", j(e));
    }
    out.push_str("]}");
}

/// The status as an HTML page that reloads itself every 2 s.
pub fn html<S>(core: &Core<S>, me: ConnId) -> String {
    let conns = core.connection_snapshots(MAX_ROWS);
    let mut out = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"2\"><title>twig status</title>\
         <style>body{font:14px sans-serif;margin:1em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\
         .ev{font:11px monospace;color:#555}.me{background:#eef}</style></head><body>\n",
    );
    let _ = write!(
        out,
        "<h1>twig status</h1>\n<p>{} connections open (of at most {}; the first {} are listed); \
         {} timers, next due {}; <a href=\"/status.json\">JSON</a>, <a href=\"/metrics\">metrics</a></p>\n",
        core.connections().count(),
        core.config().max_connections,
        MAX_ROWS,
        core.timers_pending(),
        core.next_timer_in()
            .map_or("never".to_string(), |t| format!("in {:.1} ms", ms(t))),
    );
    out.push_str(
        "<h2>Connections</h2>\n<table id=\"connections\"><tr><th>id</th><th>peer</th>\
         <th>state</th><th>age</th><th>idle</th><th>buffered in / owed out</th>\
         <th>bytes in / out</th><th>last events</th></tr>\n",
    );
    for c in &conns {
        let class = if c.id == me { " class=\"me\"" } else { "" };
        let _ = writeln!(
            out,
            "<tr{class}><td>{}</td><td class=\"peer\">{}</td><td>{}</td><td>{:.0} ms</td>\
             <td>{:.0} ms</td><td>{} / {} B</td><td>{} / {} B</td><td class=\"ev\">{}</td></tr>",
            h(&c.id.to_string()),
            h(&c.peer.to_string()),
            h(&c.state.to_string()),
            ms(c.age),
            ms(c.idle),
            c.buffered_in,
            c.owed_out,
            c.bytes_in,
            c.bytes_out,
            h(&c.recent_events.join("; ")),
        );
    }
    out.push_str("</table>\n<h2>Last turns</h2>\n");
    match core.observer() {
        Some(observer) => {
            out.push_str(
                "<table><tr><th>woke by</th><th>events</th><th>accepted</th><th>closed</th>\
                 <th>requests</th><th>in / out</th><th>busy</th></tr>\n",
            );
            for t in observer.turns().rev() {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{} / {} B</td><td>{} µs</td></tr>",
                    h(&format!("{:?}", t.woke_by)),
                    t.events,
                    t.accepted,
                    t.closed,
                    t.requests,
                    t.bytes_in,
                    t.bytes_out,
                    t.busy.as_micros()
                );
            }
            out.push_str("</table>\n");
        }
        None => out.push_str("<p>(observation is off on this loop)</p>\n"),
    }
    out.push_str("<h2>Counters</h2>\n<table>");
    for (name, value) in counters(core) {
        let _ = write!(out, "<tr><td>{}</td><td>{value}</td></tr>", h(&name));
    }
    out.push_str("</table>\n</body></html>\n");
    out
}
