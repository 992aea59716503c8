//! Running one command: the command table (name and arity, checked first,
//! with Redis's own error texts), then the string and keyspace commands.
//! Lists, sets, hashes, sorted sets and streams are in `types.rs`; INFO,
//! CONFIG and CLIENT in `admin.rs`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use twig::{After, Ctx};

use super::resp::{array, bulk, error, integer, nil, parse_int, quoted, simple};
use super::store::{Store, Value};
use super::{admin, types};

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const SYNTAX: &str = "ERR syntax error";

/// Redis's arity of each command this server knows: `n` means exactly `n`
/// arguments (the name included), `-n` at least `n`.
fn arity(command: &[u8]) -> Option<i32> {
    Some(match command {
        b"get" | b"incr" | b"decr" | b"ttl" | b"pttl" | b"persist" | b"keys" | b"type"
        | b"llen" | b"scard" | b"hlen" | b"zcard" | b"xlen" | b"select" | b"echo" => 2,
        b"lrange" => 4,
        b"hget" => 3,
        b"dbsize" => 1,
        b"ping" | b"info" | b"command" | b"flushall" | b"flushdb" | b"quit" => -1,
        b"del" | b"exists" | b"lpop" | b"rpop" | b"spop" | b"zpopmin" | b"mget" | b"config"
        | b"client" => -2,
        b"set" | b"lpush" | b"rpush" | b"sadd" | b"mset" | b"expire" | b"pexpire" => -3,
        b"hset" | b"zadd" => -4,
        b"xadd" => -5,
        _ => return None,
    })
}

/// Whether `argc` arguments fit `arity`.
pub fn fits(arity: i32, argc: usize) -> bool {
    let argc = argc as i64;
    if arity >= 0 {
        argc == i64::from(arity)
    } else {
        argc >= -i64::from(arity)
    }
}

/// `-ERR wrong number of arguments for 'name' command` (`name` as Redis
/// spells it: lower case, `config|get` for a subcommand).
pub fn wrong_args(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// Redis 7's reply to an unknown command: the name (128 bytes at most) and
/// the first arguments, each quoted and followed by a space, up to 128
/// bytes in all.
fn unknown(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(b"-ERR unknown command '");
    quoted(out, args[0], 128);
    out.extend_from_slice(b"', with args beginning with: ");
    let mut shown = 0;
    for arg in &args[1..] {
        if shown >= 128 {
            break;
        }
        let before = out.len();
        out.push(b'\'');
        quoted(out, arg, 128 - shown);
        out.extend_from_slice(b"' ");
        shown += out.len() - before;
    }
    out.extend_from_slice(b"\r\n");
}

/// Runs one command (`args[0]` is its name, in any case) and writes its
/// reply to the connection.
pub fn execute(args: &[&[u8]], ctx: &mut Ctx<'_, Store>) -> After {
    let Some(&name) = args.first() else {
        return After::KeepOpen; // an empty command: no reply, as in Redis
    };
    // Lower-case the name on the stack: no command we know is longer than 8.
    let mut lower = [0u8; 8];
    let command = match lower.get_mut(..name.len()) {
        Some(slot) => {
            slot.copy_from_slice(name);
            slot.make_ascii_lowercase();
            &*slot
        }
        None => b"",
    };
    let Some(arity) = arity(command) else {
        unknown(ctx.output(), args);
        return After::KeepOpen;
    };
    if !fits(arity, args.len()) {
        // Every known name is ASCII.
        wrong_args(ctx.output(), std::str::from_utf8(command).unwrap_or("?"));
        return After::KeepOpen;
    }
    match command {
        b"quit" => {
            simple(ctx.output(), "OK");
            return After::Close;
        }
        b"info" => admin::info(&args[1..], ctx),
        b"client" => admin::client(&args[1..], ctx),
        b"config" => admin::config(&args[1..], ctx.output()),
        _ => {
            let now = ctx.now();
            let (store, out) = ctx.state_and_output();
            if !keyspace(command, args, store, now, out) {
                types::execute(command, args, store, now, out);
            }
        }
    }
    After::KeepOpen
}

/// The string and keyspace commands; false if `command` is not one.
fn keyspace(
    command: &[u8],
    args: &[&[u8]],
    store: &mut Store,
    now: Instant,
    out: &mut Vec<u8>,
) -> bool {
    match (command, args) {
        (b"ping", [_]) => simple(out, "PONG"),
        (b"ping", [_, message]) | (b"echo", [_, message]) => bulk(out, message),
        (b"ping", _) => wrong_args(out, "ping"),
        (b"get", [_, key]) => match store.get(key, now).map(|e| &e.value) {
            Some(Value::Str(value)) => bulk(out, value),
            Some(_) => error(out, WRONGTYPE),
            None => nil(out),
        },
        (b"mget", [_, keys @ ..]) => {
            array(out, keys.len() as i64);
            for key in keys {
                match store.get(key, now).map(|e| &e.value) {
                    Some(Value::Str(value)) => bulk(out, value),
                    _ => nil(out),
                }
            }
        }
        (b"set", [_, key, value, options @ ..]) => set(store, key, value, options, now, out),
        (b"mset", [_, pairs @ ..]) => {
            if !pairs.len().is_multiple_of(2) {
                wrong_args(out, "mset");
            } else {
                for pair in pairs.chunks_exact(2) {
                    store.set_string(pair[0], pair[1]);
                }
                simple(out, "OK");
            }
        }
        (b"incr", [_, key]) => add(store, key, 1, now, out),
        (b"decr", [_, key]) => add(store, key, -1, now, out),
        (b"del", [_, keys @ ..]) => {
            let deleted = keys
                .iter()
                .filter(|key| store.get(key, now).is_some() && store.remove(key));
            integer(out, deleted.count() as i64);
        }
        (b"exists", [_, keys @ ..]) => {
            let found = keys.iter().filter(|key| store.get(key, now).is_some());
            integer(out, found.count() as i64);
        }
        (b"type", [_, key]) => simple(out, store.get(key, now).map_or("none", |e| e.value.kind())),
        (b"keys", [_, pattern]) => {
            let keys = store.keys_matching(pattern, now);
            array(out, keys.len() as i64);
            keys.iter().for_each(|key| bulk(out, key));
        }
        (b"dbsize", _) => integer(out, store.len() as i64),
        (b"flushall" | b"flushdb", _) => {
            store.clear();
            simple(out, "OK");
        }
        (b"select", [_, db]) => match parse_int(db) {
            Some(0) => simple(out, "OK"),
            Some(_) => error(out, "ERR DB index is out of range"),
            None => error(out, NOT_INTEGER),
        },
        (b"expire", [_, key, amount, options @ ..]) => {
            expire(store, key, amount, 1000, options, now, out)
        }
        (b"pexpire", [_, key, amount, options @ ..]) => {
            expire(store, key, amount, 1, options, now, out)
        }
        (b"ttl" | b"pttl", [_, key]) => {
            let reply = match store.get(key, now) {
                None => -2,
                Some(entry) => match entry.expires {
                    None => -1,
                    Some(at) => {
                        // Whole milliseconds left, rounded up: a key set for 100 s
                        // shows 100000 until a full millisecond has passed.
                        let ns = at.saturating_duration_since(now).as_nanos();
                        let ms = ns.div_ceil(1_000_000) as i64;
                        if command == b"ttl" {
                            (ms + 500) / 1000
                        } else {
                            ms
                        }
                    }
                },
            };
            integer(out, reply);
        }
        (b"persist", [_, key]) => {
            let had = store.get(key, now).is_some_and(|e| e.expires.is_some());
            if had {
                store.set_expiry(key, None);
            }
            integer(out, i64::from(had));
        }
        // `redis-cli` asks for COMMAND DOCS to drive its hints: it copes with none.
        (b"command", _) => array(out, 0),
        _ => return false,
    }
    true
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL]`.
fn set(
    store: &mut Store,
    key: &[u8],
    value: &[u8],
    options: &[&[u8]],
    now: Instant,
    out: &mut Vec<u8>,
) {
    let (mut nx, mut xx, mut get, mut keep) = (false, false, false, false);
    let mut ttl: Option<(&[u8], i64)> = None; // (amount, ms per unit)
    let mut at = 0;
    while let Some(option) = options.get(at) {
        let upper = option.to_ascii_uppercase();
        match upper.as_slice() {
            b"NX" if !xx => nx = true,
            b"XX" if !nx => xx = true,
            b"GET" => get = true,
            b"KEEPTTL" if ttl.is_none() => keep = true,
            b"EX" | b"PX" if ttl.is_none() && !keep && at + 1 < options.len() => {
                at += 1;
                ttl = Some((options[at], if upper == b"EX" { 1000 } else { 1 }));
            }
            _ => return error(out, SYNTAX),
        }
        at += 1;
    }
    let expires = match ttl {
        None => None,
        Some((amount, unit)) => match parse_int(amount) {
            None => return error(out, NOT_INTEGER),
            Some(n) if n <= 0 => return error(out, "ERR invalid expire time in 'set' command"),
            Some(n) => match deadline(n, unit, now) {
                Some(at) => Some(at),
                None => return error(out, "ERR invalid expire time in 'set' command"),
            },
        },
    };
    let (exists, old_expiry) = match store.get(key, now) {
        Some(entry) => {
            if get {
                match &entry.value {
                    Value::Str(old) => bulk(out, old),
                    _ => return error(out, WRONGTYPE),
                }
            }
            (true, entry.expires)
        }
        None => {
            if get {
                nil(out);
            }
            (false, None)
        }
    };
    if (nx && exists) || (xx && !exists) {
        if !get {
            nil(out);
        }
        return;
    }
    store.set_string(key, value);
    let expiry = if keep { old_expiry } else { expires };
    if expiry.is_some() {
        store.set_expiry(key, expiry);
    }
    if !get {
        simple(out, "OK");
    }
}

/// INCR and DECR: the string at `key` read as an integer, plus `by`.
fn add(store: &mut Store, key: &[u8], by: i64, now: Instant, out: &mut Vec<u8>) {
    let entry = store.get_or_insert(key, now, || Value::Str(b"0".to_vec()));
    let Value::Str(text) = &mut entry.value else {
        return error(out, WRONGTYPE);
    };
    match parse_int(text).map(|n| n.checked_add(by)) {
        None => error(out, NOT_INTEGER),
        Some(None) => error(out, "ERR increment or decrement would overflow"),
        Some(Some(n)) => {
            text.clear();
            text.extend_from_slice(n.to_string().as_bytes());
            integer(out, n);
        }
    }
}

/// When an expiry of `amount` units of `unit` ms from `now` falls, if it
/// can be represented (Redis refuses what overflows its Unix-ms clock).
fn deadline(amount: i64, unit: i64, now: Instant) -> Option<Instant> {
    let ms = amount.checked_mul(unit)?;
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    ms.checked_add(unix_ms)?;
    now.checked_add(Duration::from_millis(ms.max(0) as u64))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]` (and PEXPIRE, `unit` 1 ms).
fn expire(
    store: &mut Store,
    key: &[u8],
    amount: &[u8],
    unit: i64,
    options: &[&[u8]],
    now: Instant,
    out: &mut Vec<u8>,
) {
    let command = if unit == 1 { "pexpire" } else { "expire" };
    let Some(amount) = parse_int(amount) else {
        return error(out, NOT_INTEGER);
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        match option.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                out.extend_from_slice(b"-ERR Unsupported option ");
                quoted(out, option, 128);
                return out.extend_from_slice(b"\r\n");
            }
        }
    }
    if nx && (xx || gt || lt) {
        return error(
            out,
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        );
    }
    if gt && lt {
        return error(
            out,
            "ERR GT and LT options at the same time are not compatible",
        );
    }
    let Some(when) = (if amount <= 0 {
        Some(now)
    } else {
        deadline(amount, unit, now)
    }) else {
        out.extend_from_slice(
            format!("-ERR invalid expire time in '{command}' command\r\n").as_bytes(),
        );
        return;
    };
    let Some(entry) = store.get(key, now) else {
        return integer(out, 0);
    };
    // A key without an expiry counts as expiring never: GT never passes, LT always.
    let allowed = match entry.expires {
        None => !xx && !gt,
        Some(current) => !nx && (!gt || when > current) && (!lt || when < current),
    };
    if !allowed {
        return integer(out, 0);
    }
    if amount <= 0 {
        store.remove(key); // an expiry in the past deletes at once
    } else {
        store.set_expiry(key, Some(when));
    }
    integer(out, 1);
}
