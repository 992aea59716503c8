//! The server's own commands: INFO (from twig's `Stats`), CONFIG GET (what
//! `redis-benchmark` asks at start), and CLIENT (names, ids, addresses).

use std::fmt::Write as _;

use twig::{Ctx, Stats};

use super::commands::{fits, wrong_args};
use super::resp::{array, bulk, error, nil, quoted, simple};
use super::store::Store;

/// The version INFO reports: Redis 7's protocol, as far as it goes here.
const REDIS_VERSION: &str = "7.0.0";

/// `INFO [section ...]`: `server`, `clients`, `stats` and `keyspace`; no
/// section, `default`, `all` or `everything` give all four.
pub fn info(sections: &[&[u8]], ctx: &mut Ctx<'_, Store>) {
    let stats: Stats = ctx.stats().clone();
    let max_clients = ctx.config().max_connections;
    let now = ctx.now();
    let (store, out) = ctx.state_and_output();
    let wants = |name: &str| {
        sections.is_empty()
            || sections.iter().any(|s| {
                [name, "default", "all", "everything"]
                    .iter()
                    .any(|n| s.eq_ignore_ascii_case(n.as_bytes()))
            })
    };
    let mut text = String::new();
    let mut section = |title: &str, body: String| {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {title}\r\n{body}");
    };
    if wants("server") {
        let uptime = now.saturating_duration_since(store.started).as_secs();
        let port = store.listening.map_or(0, |a| a.port());
        section(
            "Server",
            format!(
                "redis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\n\
                 twig_kv_server:{}\r\nmultiplexing_api:epoll\r\narch_bits:64\r\n\
                 process_id:{}\r\ntcp_port:{port}\r\nuptime_in_seconds:{uptime}\r\n\
                 uptime_in_days:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::process::id(),
                uptime / 86_400,
            ),
        );
    }
    if wants("clients") {
        section(
            "Clients",
            format!(
                "connected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
                stats.active, max_clients,
            ),
        );
    }
    if wants("stats") {
        section(
            "Stats",
            format!(
                "total_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 rejected_connections:{}\r\nexpired_keys:{}\r\nkeyspace_hits:{}\r\n\
                 keyspace_misses:{}\r\ntotal_timers_fired:{}\r\nevent_loop_turns:{}\r\n",
                stats.accepted,
                stats.requests,
                stats.bytes_in,
                stats.bytes_out,
                stats.refused,
                store.expired,
                store.hits,
                store.misses,
                stats.timers_fired,
                stats.turns,
            ),
        );
    }
    if wants("keyspace") && !store.is_empty() {
        let body = format!(
            "db0:keys={},expires={},avg_ttl=0\r\n",
            store.len(),
            store.volatile_len()
        );
        section("Keyspace", body);
    }
    bulk(out, text.as_bytes());
}

/// The parameters CONFIG GET knows, with their (fixed) values.
const PARAMETERS: &[(&str, &str)] = &[
    ("save", ""),
    ("appendonly", "no"),
    ("databases", "1"),
    ("maxmemory", "0"),
];

/// `CONFIG GET pattern [pattern ...]`: the matching [`PARAMETERS`] as
/// name, value pairs. Nothing can be set.
pub fn config(args: &[&[u8]], out: &mut Vec<u8>) {
    let (sub, rest) = match args.split_first() {
        Some((sub, rest)) => (*sub, rest),
        None => return wrong_args(out, "config"),
    };
    if sub.eq_ignore_ascii_case(b"set") {
        return error(out, "ERR CONFIG SET is not supported by this server");
    }
    if !sub.eq_ignore_ascii_case(b"get") {
        return unknown_subcommand(out, sub, "CONFIG");
    }
    if rest.is_empty() {
        return wrong_args(out, "config|get");
    }
    // A plain name comes back as it was asked (`SAVE`), a pattern's matches
    // under their own names, as Redis does.
    let mut found: Vec<(&[u8], &str)> = Vec::new();
    for pattern in rest {
        let lower = pattern.to_ascii_lowercase();
        let is_glob = lower.iter().any(|b| b"*?[".contains(b));
        for (name, value) in PARAMETERS {
            let seen = found
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()));
            if !seen && super::store::glob(&lower, name.as_bytes()) {
                found.push((if is_glob { name.as_bytes() } else { pattern }, value));
            }
        }
    }
    array(out, 2 * found.len() as i64);
    for (name, value) in found {
        bulk(out, name);
        bulk(out, value.as_bytes());
    }
}

/// `-ERR unknown subcommand 'x'. Try CONFIG HELP.`
fn unknown_subcommand(out: &mut Vec<u8>, sub: &[u8], command: &str) {
    out.extend_from_slice(b"-ERR unknown subcommand '");
    quoted(out, sub, 128);
    out.extend_from_slice(format!("'. Try {command} HELP.\r\n").as_bytes());
}

/// `CLIENT SETNAME name`, `GETNAME`, `ID`, `INFO` and `LIST`.
pub fn client(args: &[&[u8]], ctx: &mut Ctx<'_, Store>) {
    let Some((sub, _)) = args.split_first() else {
        return wrong_args(ctx.output(), "client");
    };
    let lower = sub.to_ascii_lowercase();
    let arity = match lower.as_slice() {
        b"setname" => 3,
        b"getname" | b"id" | b"info" => 2,
        b"list" => -2,
        _ => return unknown_subcommand(ctx.output(), sub, "CLIENT"),
    };
    if !fits(arity, args.len() + 1) {
        let name = format!("client|{}", String::from_utf8_lossy(&lower));
        return wrong_args(ctx.output(), &name);
    }
    let (id, now) = (ctx.id(), ctx.now());
    let (store, out) = ctx.state_and_output();
    let listening = store.listening;
    let Some(me) = store.clients.get_mut(&id) else {
        return error(out, "ERR this connection is not registered");
    };
    match lower.as_slice() {
        b"setname" => {
            let name = args[1];
            if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
                return error(
                    out,
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            me.name = name.to_vec();
            simple(out, "OK");
        }
        b"getname" if me.name.is_empty() => nil(out),
        b"getname" => bulk(out, &me.name),
        b"id" => super::resp::integer(out, me.id as i64),
        b"info" => {
            let line = describe(me, listening, now, "client|info");
            bulk(out, line.as_bytes());
        }
        _ => {
            let mut clients: Vec<_> = store.clients.values().collect();
            clients.sort_by_key(|c| c.id);
            let text: String = clients
                .iter()
                .map(|c| describe(c, listening, now, "client|list"))
                .collect();
            bulk(out, text.as_bytes());
        }
    }
}

/// One client as CLIENT INFO and CLIENT LIST show it: Redis's fields, in
/// Redis's order, those the store does not track given neutral values.
fn describe(
    client: &super::store::Client,
    listening: Option<std::net::SocketAddr>,
    now: std::time::Instant,
    cmd: &str,
) -> String {
    let laddr = listening.map_or_else(String::new, |a| a.to_string());
    format!(
        "id={} addr={} laddr={laddr} fd=-1 name={} age={} idle=0 flags=N db=0 sub=0 psub=0 \
         ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
         omem=0 tot-mem=0 events=r cmd={cmd} user=default redir=-1 resp=2\n",
        client.id,
        client.addr,
        String::from_utf8_lossy(&client.name),
        now.saturating_duration_since(client.since).as_secs(),
    )
}
