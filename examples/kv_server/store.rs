//! The keyspace: every key's value (a string, list, set, hash, sorted set
//! or stream) and its expiry. Expired keys vanish lazily, when a command
//! looks at them, and eagerly, when the sweep timer ([`Store::sweep`], run
//! by `twig`'s `Core::every`) finds them in the expiry index. Time is the
//! loop's `Core::now`, so a test harness with a manual clock drives it.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use twig::ConnId;

/// One key's value.
pub enum Value {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Set(Members),
    Hash(HashMap<Vec<u8>, Vec<u8>>),
    ZSet(Sorted),
    Stream(Stream),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// An aggregate with nothing left in it: Redis deletes the key.
    fn is_empty(&self) -> bool {
        match self {
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Str(_) | Value::Stream(_) => false,
        }
    }
}

/// A key's value and when it expires (`None`: never).
pub struct Entry {
    pub value: Value,
    pub expires: Option<Instant>,
}

/// A set whose random member can be popped in O(1): the members in a
/// vector, each one's place in a map.
#[derive(Default)]
pub struct Members {
    list: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
}

impl Members {
    /// Adds `member`; true if it was new.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if self.index.contains_key(member) {
            return false;
        }
        self.index.insert(member.to_vec(), self.list.len());
        self.list.push(member.to_vec());
        true
    }

    /// Removes and returns the member at `pick % len`.
    pub fn pop(&mut self, pick: u64) -> Option<Vec<u8>> {
        if self.list.is_empty() {
            return None;
        }
        let at = (pick % self.list.len() as u64) as usize;
        let member = self.list.swap_remove(at);
        self.index.remove(&member);
        if let Some(moved) = self.list.get(at) {
            self.index.insert(moved.clone(), at);
        }
        Some(member)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A score with a total order (NaN never gets in: ZADD refuses it).
#[derive(Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Score) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Score) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set: each member's score, and the members in (score, member)
/// order, as Redis orders them.
#[derive(Default)]
pub struct Sorted {
    scores: HashMap<Vec<u8>, f64>,
    order: BTreeSet<(Score, Vec<u8>)>,
}

impl Sorted {
    /// Sets `member`'s score; true if it was new.
    pub fn insert(&mut self, score: f64, member: &[u8]) -> bool {
        let score = score + 0.0; // -0 sorts as 0
        match self.scores.insert(member.to_vec(), score) {
            Some(old) => {
                self.order.remove(&(Score(old), member.to_vec()));
                self.order.insert((Score(score), member.to_vec()));
                false
            }
            None => {
                self.order.insert((Score(score), member.to_vec()));
                true
            }
        }
    }

    /// Removes and returns the lowest (score, member).
    pub fn pop_min(&mut self) -> Option<(f64, Vec<u8>)> {
        let (score, member) = self.order.pop_first()?;
        self.scores.remove(&member);
        Some((score.0, member))
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

/// A stream ID: milliseconds and a sequence number.
pub type StreamId = (u64, u64);

/// A minimal stream: entries in ID order (XADD and XLEN only).
#[derive(Default)]
pub struct Stream {
    pub entries: Vec<(StreamId, Vec<Vec<u8>>)>,
    pub last: StreamId,
}

/// One connection as CLIENT and INFO see it.
pub struct Client {
    /// Redis-style client id: 1, 2, 3... never reused.
    pub id: u64,
    /// Who it is: behind a proxy that sent a PROXY header, the client it
    /// named (CLIENT's `addr`).
    pub addr: twig::Peer,
    pub name: Vec<u8>,
    pub since: Instant,
}

/// The server's shared state: the keyspace, its expiry index, and what
/// INFO and CLIENT report.
pub struct Store {
    keys: HashMap<Vec<u8>, Entry>,
    /// Every key with an expiry, soonest first: what the sweep walks.
    /// Exactly the keys whose `Entry::expires` is set, at that time.
    volatile: BTreeSet<(Instant, Vec<u8>)>,
    /// Keys removed because they expired (INFO's `expired_keys`).
    pub expired: u64,
    /// Lookups that found a key, and that did not.
    pub hits: u64,
    pub misses: u64,
    pub started: Instant,
    /// The listening address, for INFO's `tcp_port` and CLIENT's `laddr`.
    pub listening: Option<SocketAddr>,
    pub clients: HashMap<ConnId, Client>,
    pub next_client: u64,
    /// xorshift state for SPOP.
    rng: u64,
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        Store {
            keys: HashMap::new(),
            volatile: BTreeSet::new(),
            expired: 0,
            hits: 0,
            misses: 0,
            started: Instant::now(),
            listening: None,
            clients: HashMap::new(),
            next_client: 1,
            rng: 0x2545_f491_4f6c_dd1d,
        }
    }

    /// The live entry at `key`: one that has expired by `now` is removed
    /// first, as if it were already gone.
    pub fn get(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        if !self.volatile.is_empty() {
            let due = self.keys.get(key)?.expires.is_some_and(|at| now > at);
            if due {
                self.remove(key);
                self.expired += 1;
                self.misses += 1;
                return None;
            }
        }
        let found = self.keys.get_mut(key);
        match found {
            Some(_) => self.hits += 1,
            None => self.misses += 1,
        }
        found
    }

    /// The live entry at `key`, created with `make()` if there is none.
    pub fn get_or_insert(
        &mut self,
        key: &[u8],
        now: Instant,
        make: impl FnOnce() -> Value,
    ) -> &mut Entry {
        if self.get(key, now).is_none() {
            return self
                .keys
                .entry(key.to_vec())
                .or_insert_with(|| Entry::new(make()));
        }
        // Present (`get` just found it): one lookup, no key copied.
        self.keys
            .get_mut(key)
            .unwrap_or_else(|| unreachable!("the key was just found"))
    }

    /// Stores `value` at `key` with no expiry, replacing whatever was there.
    pub fn set_string(&mut self, key: &[u8], value: &[u8]) {
        match self.keys.get_mut(key) {
            Some(entry) => {
                if let Some(at) = entry.expires.take() {
                    self.volatile.remove(&(at, key.to_vec()));
                }
                match &mut entry.value {
                    Value::Str(old) => {
                        old.clear(); // reuse the buffer: no allocation
                        old.extend_from_slice(value);
                    }
                    other => *other = Value::Str(value.to_vec()),
                }
            }
            None => {
                self.keys
                    .insert(key.to_vec(), Entry::new(Value::Str(value.to_vec())));
            }
        }
    }

    /// Removes `key` (expired or not); true if it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.keys.remove(key) {
            Some(Entry {
                expires: Some(at), ..
            }) => {
                self.volatile.remove(&(at, key.to_vec()));
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Deletes `key` if it holds an emptied list, set, hash or sorted set.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.keys.get(key).is_some_and(|e| e.value.is_empty()) {
            self.remove(key);
        }
    }

    /// Sets or clears the expiry of an existing `key`.
    pub fn set_expiry(&mut self, key: &[u8], at: Option<Instant>) {
        let Some(entry) = self.keys.get_mut(key) else {
            return;
        };
        if let Some(old) = std::mem::replace(&mut entry.expires, at) {
            self.volatile.remove(&(old, key.to_vec()));
        }
        if let Some(at) = at {
            self.volatile.insert((at, key.to_vec()));
        }
    }

    /// Removes every key that has expired by `now`; returns how many.
    pub fn sweep(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while let Some((at, _)) = self.volatile.first() {
            if *at >= now {
                break;
            }
            if let Some((_, key)) = self.volatile.pop_first() {
                self.keys.remove(&key);
                removed += 1;
            }
        }
        self.expired += removed as u64;
        removed
    }

    /// Every live key matching the glob `pattern`.
    pub fn keys_matching(&self, pattern: &[u8], now: Instant) -> Vec<&[u8]> {
        self.keys
            .iter()
            .filter(|(_, e)| e.expires.is_none_or(|at| now <= at))
            .map(|(k, _)| k.as_slice())
            .filter(|k| glob(pattern, k))
            .collect()
    }

    /// Keys stored (expired ones not yet swept included, as in Redis).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    pub fn clear(&mut self) {
        self.keys.clear();
        self.volatile.clear();
    }

    /// A pseudo-random number (xorshift64), for SPOP.
    pub fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

impl Entry {
    fn new(value: Value) -> Entry {
        Entry {
            value,
            expires: None,
        }
    }
}

/// Redis's glob: `*` any run, `?` any byte, `[abc]`, `[^a]`, `[a-z]`, and
/// `\x` for a literal `x`. Each token but `*` matches exactly one byte, so
/// backtracking to the last `*` alone is enough: linear in practice,
/// quadratic at worst, never exponential.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None; // (pattern after '*', text there)
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            star = Some((p, t));
            continue;
        }
        if let Some(len) = one(&pattern[p.min(pattern.len())..], text[t]) {
            p += len;
            t += 1;
            continue;
        }
        match star {
            Some((sp, st)) => {
                p = sp;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Whether the token at the front of `pattern` (not `*`) matches `byte`:
/// the token's length if so.
fn one(pattern: &[u8], byte: u8) -> Option<usize> {
    match pattern {
        [] => None,
        [b'?', ..] => Some(1),
        [b'\\', escaped, ..] => (*escaped == byte).then_some(2),
        [b'[', rest @ ..] => {
            let (negate, body) = match rest {
                [b'^', body @ ..] => (true, body),
                body => (false, body),
            };
            let (mut i, mut hit) = (0, false);
            while i < body.len() && body[i] != b']' {
                if body[i] == b'\\' && i + 1 < body.len() {
                    hit |= body[i + 1] == byte;
                    i += 2;
                } else if i + 2 < body.len() && body[i + 1] == b'-' && body[i + 2] != b']' {
                    let (lo, hi) = (body[i].min(body[i + 2]), body[i].max(body[i + 2]));
                    hit |= (lo..=hi).contains(&byte);
                    i += 3;
                } else {
                    hit |= body[i] == byte;
                    i += 1;
                }
            }
            // An unclosed class runs to the end of the pattern, as in Redis.
            let len = 1 + usize::from(negate) + (i + 1).min(body.len());
            (hit != negate).then_some(len)
        }
        [literal, ..] => (*literal == byte).then_some(1),
    }
}
