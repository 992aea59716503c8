//! The commands of the aggregate types: lists (LPUSH, RPUSH, LPOP, RPOP,
//! LRANGE, LLEN), sets (SADD, SPOP, SCARD), hashes (HSET, HGET, HLEN),
//! sorted sets (ZADD, ZPOPMIN, ZCARD) and a minimal stream (XADD, XLEN).
//! An aggregate emptied by a pop is deleted, as in Redis.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::commands::{NOT_INTEGER, SYNTAX, WRONGTYPE, wrong_args};
use super::resp::{array, bulk, error, integer, nil, parse_int};
use super::store::{Members, Sorted, Store, Stream, StreamId, Value};

/// Runs `command` (already checked for arity) and writes its reply; an
/// unknown name cannot get here (the table in `commands.rs` refused it).
pub fn execute(command: &[u8], args: &[&[u8]], store: &mut Store, now: Instant, out: &mut Vec<u8>) {
    let key = args[1];
    match command {
        b"lpush" | b"rpush" => {
            let entry = store.get_or_insert(key, now, || Value::List(VecDeque::new()));
            let Value::List(list) = &mut entry.value else {
                return error(out, WRONGTYPE);
            };
            for value in &args[2..] {
                if command == b"lpush" {
                    list.push_front(value.to_vec());
                } else {
                    list.push_back(value.to_vec());
                }
            }
            integer(out, list.len() as i64);
        }
        b"lpop" | b"rpop" => {
            let Some(count) = count(args.get(2), out) else {
                return;
            };
            match store.get(key, now).map(|e| &mut e.value) {
                None if count.is_some() => array(out, -1),
                None => nil(out),
                Some(Value::List(list)) => {
                    let front = command == b"lpop";
                    let mut pop = || {
                        if front {
                            list.pop_front()
                        } else {
                            list.pop_back()
                        }
                    };
                    match count {
                        None => match pop() {
                            Some(value) => bulk(out, &value),
                            None => nil(out),
                        },
                        Some(n) => {
                            let popped: Vec<Vec<u8>> = std::iter::from_fn(pop).take(n).collect();
                            array(out, popped.len() as i64);
                            popped.iter().for_each(|value| bulk(out, value));
                        }
                    }
                    store.remove_if_empty(key);
                }
                Some(_) => error(out, WRONGTYPE),
            }
        }
        b"lrange" => {
            let (Some(start), Some(stop)) = (parse_int(args[2]), parse_int(args[3])) else {
                return error(out, NOT_INTEGER);
            };
            match store.get(key, now).map(|e| &e.value) {
                None => array(out, 0),
                Some(Value::List(list)) => {
                    let len = list.len() as i64;
                    let from = if start < 0 {
                        (len + start).max(0)
                    } else {
                        start
                    };
                    let to = if stop < 0 {
                        len + stop
                    } else {
                        stop.min(len - 1)
                    };
                    if from > to || from >= len {
                        return array(out, 0);
                    }
                    array(out, to - from + 1);
                    for value in list.range(from as usize..=to as usize) {
                        bulk(out, value);
                    }
                }
                Some(_) => error(out, WRONGTYPE),
            }
        }
        b"llen" | b"scard" | b"hlen" | b"zcard" | b"xlen" => {
            let len = match (command, store.get(key, now).map(|e| &e.value)) {
                (_, None) => 0,
                (b"llen", Some(Value::List(l))) => l.len(),
                (b"scard", Some(Value::Set(s))) => s.len(),
                (b"hlen", Some(Value::Hash(h))) => h.len(),
                (b"zcard", Some(Value::ZSet(z))) => z.len(),
                (b"xlen", Some(Value::Stream(s))) => s.entries.len(),
                _ => return error(out, WRONGTYPE),
            };
            integer(out, len as i64);
        }
        b"sadd" => {
            let entry = store.get_or_insert(key, now, || Value::Set(Members::default()));
            let Value::Set(set) = &mut entry.value else {
                return error(out, WRONGTYPE);
            };
            let added = args[2..].iter().filter(|member| set.insert(member)).count();
            integer(out, added as i64);
        }
        b"spop" => {
            let Some(count) = count(args.get(2), out) else {
                return;
            };
            let pick = store.random();
            match store.get(key, now).map(|e| &mut e.value) {
                None if count.is_some() => array(out, 0),
                None => nil(out),
                Some(Value::Set(set)) => {
                    match count {
                        None => match set.pop(pick) {
                            Some(member) => bulk(out, &member),
                            None => nil(out),
                        },
                        Some(n) => {
                            let n = n.min(set.len());
                            array(out, n as i64);
                            let mut pick = pick;
                            for _ in 0..n {
                                pick = pick.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
                                bulk(out, &set.pop(pick).unwrap_or_default());
                            }
                        }
                    }
                    store.remove_if_empty(key);
                }
                Some(_) => error(out, WRONGTYPE),
            }
        }
        b"hset" => {
            if !args.len().is_multiple_of(2) {
                return wrong_args(out, "hset");
            }
            let entry = store.get_or_insert(key, now, || Value::Hash(Default::default()));
            let Value::Hash(hash) = &mut entry.value else {
                return error(out, WRONGTYPE);
            };
            let mut added = 0;
            for pair in args[2..].chunks_exact(2) {
                match hash.get_mut(pair[0]) {
                    Some(value) => {
                        value.clear();
                        value.extend_from_slice(pair[1]);
                    }
                    None => {
                        hash.insert(pair[0].to_vec(), pair[1].to_vec());
                        added += 1;
                    }
                }
            }
            integer(out, added);
        }
        b"hget" => match store.get(key, now).map(|e| &e.value) {
            None => nil(out),
            Some(Value::Hash(hash)) => match hash.get(args[2]) {
                Some(value) => bulk(out, value),
                None => nil(out),
            },
            Some(_) => error(out, WRONGTYPE),
        },
        b"zadd" => zadd(key, &args[2..], store, now, out),
        b"zpopmin" => {
            let Some(count) = count(args.get(2), out) else {
                return;
            };
            match store.get(key, now).map(|e| &mut e.value) {
                None => array(out, 0),
                Some(Value::ZSet(zset)) => {
                    let n = count.unwrap_or(1).min(zset.len());
                    array(out, 2 * n as i64);
                    for _ in 0..n {
                        if let Some((score, member)) = zset.pop_min() {
                            bulk(out, &member);
                            bulk(out, format_score(score).as_bytes());
                        }
                    }
                    store.remove_if_empty(key);
                }
                Some(_) => error(out, WRONGTYPE),
            }
        }
        b"xadd" => xadd(key, &args[2..], store, now, out),
        _ => error(out, "ERR unknown command"),
    }
}

/// The optional count of LPOP, RPOP, SPOP and ZPOPMIN: `Some(None)` if
/// absent; `None` (with the error written) if it is not a count.
fn count(arg: Option<&&[u8]>, out: &mut Vec<u8>) -> Option<Option<usize>> {
    let Some(arg) = arg else {
        return Some(None);
    };
    match parse_int(arg) {
        None => {
            error(out, NOT_INTEGER);
            None
        }
        Some(n) if n < 0 => {
            error(out, "ERR value is out of range, must be positive");
            None
        }
        Some(n) => Some(Some(usize::try_from(n).unwrap_or(usize::MAX))),
    }
}

/// A score as Redis reads one: a float, `inf`, `+inf` or `-inf`; never NaN.
fn parse_score(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let score: f64 = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        other if other.contains("inf") || other.contains("nan") => return None,
        _ => text.parse().ok()?,
    };
    (!score.is_nan()).then_some(score)
}

/// A score as a reply shows it: `1`, `1.5`, `inf`, `-inf` (Rust's shortest
/// round-trip form; Redis 7.0 prints 17 significant digits, so values such
/// as 0.1 differ in their last digits).
fn format_score(score: f64) -> String {
    score.to_string()
}

/// `ZADD key score member [score member ...]` (no NX/XX/GT/LT/CH/INCR).
fn zadd(key: &[u8], pairs: &[&[u8]], store: &mut Store, now: Instant, out: &mut Vec<u8>) {
    if !pairs.len().is_multiple_of(2) {
        return error(out, SYNTAX);
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks_exact(2) {
        match parse_score(pair[0]) {
            Some(score) => scores.push((score, pair[1])),
            None => return error(out, "ERR value is not a valid float"),
        }
    }
    let entry = store.get_or_insert(key, now, || Value::ZSet(Sorted::default()));
    let Value::ZSet(zset) = &mut entry.value else {
        return error(out, WRONGTYPE);
    };
    let added = scores
        .iter()
        .filter(|(score, member)| zset.insert(*score, member))
        .count();
    integer(out, added as i64);
}

/// A stream ID argument: `*` (`None`: generate), `ms`, `ms-seq` or `ms-*`
/// (the sequence left to the stream).
enum IdArg {
    Auto,
    Ms(u64),
    Exact(StreamId),
}

fn parse_id(bytes: &[u8]) -> Option<IdArg> {
    let number = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<u64>().ok();
    if bytes == b"*" {
        return Some(IdArg::Auto);
    }
    match bytes.iter().position(|&b| b == b'-') {
        None => Some(IdArg::Exact((number(bytes)?, 0))),
        Some(dash) if &bytes[dash + 1..] == b"*" => Some(IdArg::Ms(number(&bytes[..dash])?)),
        Some(dash) => Some(IdArg::Exact((
            number(&bytes[..dash])?,
            number(&bytes[dash + 1..])?,
        ))),
    }
}

/// `XADD key id field value [field value ...]`: appends one entry and
/// replies with its ID.
fn xadd(key: &[u8], rest: &[&[u8]], store: &mut Store, now: Instant, out: &mut Vec<u8>) {
    let [id, fields @ ..] = rest else {
        return wrong_args(out, "xadd");
    };
    if !fields.len().is_multiple_of(2) {
        return wrong_args(out, "xadd");
    }
    let Some(id) = parse_id(id) else {
        return error(
            out,
            "ERR Invalid stream ID specified as stream command argument",
        );
    };
    if matches!(id, IdArg::Exact((0, 0))) {
        return error(out, "ERR The ID specified in XADD must be greater than 0-0");
    }
    // Check the type before creating anything.
    if store
        .get(key, now)
        .is_some_and(|e| !matches!(e.value, Value::Stream(_)))
    {
        return error(out, WRONGTYPE);
    }
    let entry = store.get_or_insert(key, now, || Value::Stream(Stream::default()));
    let Value::Stream(stream) = &mut entry.value else {
        return error(out, WRONGTYPE);
    };
    let last = stream.last;
    if last == (u64::MAX, u64::MAX) && matches!(id, IdArg::Auto) {
        return error(
            out,
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        );
    }
    let next = |ms: u64| -> Option<StreamId> {
        if ms > last.0 {
            Some((ms, 0))
        } else if ms == last.0 {
            Some((ms, last.1.checked_add(1)?))
        } else {
            None
        }
    };
    let new = match id {
        IdArg::Auto => {
            let clock = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            next(clock.max(last.0))
        }
        IdArg::Ms(ms) => next(ms),
        IdArg::Exact(id) => (id > last).then_some(id),
    };
    // (A stream just created has last 0-0, so it always takes the ID: no
    // empty stream is left behind by this error.)
    let Some(new) = new else {
        return error(
            out,
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    };
    stream.last = new;
    stream
        .entries
        .push((new, fields.iter().map(|f| f.to_vec()).collect()));
    bulk(out, format!("{}-{}", new.0, new.1).as_bytes());
}
