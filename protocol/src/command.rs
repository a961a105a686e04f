//! The command table: every command slotgate implements, described once (name, arity, flags, key
//! positions, ACL categories). The node dispatches through it; the proxy routes and checks ACLs
//! with it.

use std::collections::HashMap;
use std::sync::OnceLock;

pub use crate::route::{block_option, Gather, KeyUse, Merge, Pin, Retry, Route};

/// Command flags, as Redis's `COMMAND INFO` reports them.
pub mod flags {
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const ALLOW_BUSY: u32 = 1 << 12;
    pub const SKIP_SLOWLOG: u32 = 1 << 13;
    pub const MAY_REPLICATE: u32 = 1 << 14;
    /// Served on an importing slot without a preceding ASKING (RESTORE-ASKING).
    pub const ASKING: u32 = 1 << 15;
    pub const SKIP_MONITOR: u32 = 1 << 16;
    /// Keys are optional (EVAL with numkeys 0).
    pub const NO_MANDATORY_KEYS: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;
    /// Not one of Redis's flags: slotgate-node does not serve the command yet (the node's table
    /// leaves it out), while the proxy routes it to Redis nodes. COMMAND never prints it.
    pub const NOT_ON_NODE: u32 = 1 << 19;

    /// Flag names in Redis's spelling, in the order Redis 7.0 prints them (it hides
    /// `may_replicate`, and adds `movablekeys` for keys found by a key count).
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories. Some are implied by flags (write, read, admin, fast/slow, ...), see
/// [`CommandSpec::categories`].
pub mod acl {
    pub const KEYSPACE: u32 = 1;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    /// Category names as `ACL CAT` lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Where a command's keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// No keys.
    None,
    /// Keys at `first..=last` (negative `last` counts from the end) every `step` arguments.
    Range { first: i32, last: i32, step: i32 },
    /// A key count at `numkeys`, keys following it (EVAL, ZUNIONSTORE's sources, LMPOP), plus
    /// optionally a fixed key at `fixed` (ZUNIONSTORE's destination).
    NumKeys { numkeys: usize, fixed: Option<usize> },
    /// A key at `first`, and the argument after each of `keywords` from `from` on (GEORADIUS
    /// ... STORE key): a keyword search, as Redis 7.0's key specs have it.
    Keyword { first: usize, from: usize, keywords: &'static [&'static str] },
    /// Keys after a `STREAMS` keyword searched from `from`, the first half of what follows it
    /// (XREAD, XREADGROUP).
    Streams { from: usize },
}

/// One command (or `container|subcommand`).
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Lowercase name; subcommands are `container|sub`.
    pub name: &'static str,
    /// Redis arity: exact when positive, minimum when negative (the name counts).
    pub arity: i32,
    pub flags: u32,
    /// Categories beyond those implied by flags.
    pub acl: u32,
    pub keys: KeySpec,
    pub subcommands: &'static [CommandSpec],
    /// How the proxy serves it across a cluster.
    pub route: Route,
    /// Whether a write may be sent twice (the proxy's retry rule).
    pub retry: Retry,
    /// How the first key and the other keys are used (ACL key checks); `None` without keys.
    pub uses: Option<(KeyUse, KeyUse)>,
}

pub use crate::table::COMMANDS;

impl CommandSpec {
    /// ACL categories including those Redis derives from the flags.
    pub fn categories(&self) -> u32 {
        let mut cats = self.acl;
        if self.flags & flags::WRITE != 0 {
            cats |= acl::WRITE;
        }
        if self.flags & flags::READONLY != 0 && self.acl & acl::SCRIPTING == 0 {
            cats |= acl::READ;
        }
        if self.flags & flags::ADMIN != 0 {
            cats |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.flags & flags::PUBSUB != 0 {
            cats |= acl::PUBSUB;
        }
        if self.flags & flags::BLOCKING != 0 {
            cats |= acl::BLOCKING;
        }
        cats |= if self.flags & flags::FAST != 0 { acl::FAST } else { acl::SLOW };
        cats
    }

    /// True when the argument count fits the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Whether the flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// `(first, last, step)` as COMMAND INFO reports (0,0,0 for movable keys).
    pub fn key_range(&self) -> (i32, i32, i32) {
        match self.keys {
            KeySpec::Range { first, last, step } => (first, last, step),
            KeySpec::Keyword { first, .. } => (first as i32, first as i32, 1),
            _ => (0, 0, 0),
        }
    }

    /// Indexes of the key arguments of a concrete invocation (`args[0]` is the name); `arg`
    /// reads an argument (a key count, or a keyword before a key).
    pub fn key_indexes<'a>(
        &self,
        argc: usize,
        arg: impl Fn(usize) -> Option<&'a [u8]>,
    ) -> Result<Vec<usize>, &'static str> {
        let mut idx = Vec::new();
        self.for_each_key(argc, arg, |i| idx.push(i))?;
        Ok(idx)
    }

    /// Calls `f` with the index of each key argument of a concrete invocation, in order,
    /// without collecting them (the proxy's per-request routing).
    pub fn for_each_key<'a>(
        &self,
        argc: usize,
        arg: impl Fn(usize) -> Option<&'a [u8]>,
        mut f: impl FnMut(usize),
    ) -> Result<(), &'static str> {
        match self.keys {
            KeySpec::None => {}
            KeySpec::Range { first, last, step } => {
                let first = first as usize;
                let last = if last < 0 { argc as i32 + last } else { last };
                if last < 0 || first >= argc {
                    return Ok(());
                }
                let last = (last as usize).min(argc - 1);
                (first..=last).step_by(step as usize).for_each(f);
            }
            KeySpec::NumKeys { numkeys, fixed } => {
                let n = arg(numkeys)
                    .and_then(|a| std::str::from_utf8(a).ok()?.parse::<i64>().ok())
                    .ok_or("ERR value is not an integer or out of range")?;
                if n < 0 {
                    return Err("ERR Number of keys can't be negative");
                }
                let n = n as usize;
                if numkeys + n >= argc {
                    return Err("ERR Number of keys can't be greater than number of args");
                }
                fixed.into_iter().for_each(&mut f);
                (numkeys + 1..=numkeys + n).for_each(f);
            }
            KeySpec::Keyword { first, from, keywords } => {
                if first < argc {
                    f(first);
                }
                for i in from..argc.saturating_sub(1) {
                    let named = arg(i).is_some_and(|a| keywords.iter().any(|k| a.eq_ignore_ascii_case(k.as_bytes())));
                    if named {
                        f(i + 1);
                    }
                }
            }
            KeySpec::Streams { from } => {
                let at = (from..argc).find(|&i| arg(i).is_some_and(|a| a.eq_ignore_ascii_case(b"streams")));
                if let Some(at) = at {
                    (at + 1..at + 1 + (argc - at - 1) / 2).for_each(f);
                }
            }
        }
        Ok(())
    }

    /// The subcommand spec named by `sub` (case-insensitive), if this is a container.
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        let prefix = self.name.len() + 1;
        self.subcommands.iter().find(|s| s.name.as_bytes()[prefix..].eq_ignore_ascii_case(sub))
    }
}

/// FNV-1a: command names are short and not attacker-chosen keys of a growing map, so the
/// per-command lookup needs no SipHash (it showed in the proxy's profile).
#[derive(Default, Clone, Copy)]
pub struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A map keyed by command names.
pub type NameMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<NameHasher>>;

fn index() -> &'static NameMap<&'static [u8], &'static CommandSpec> {
    static INDEX: OnceLock<NameMap<&'static [u8], &'static CommandSpec>> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name.as_bytes(), c)).collect())
}

/// Where a top-level command sits in [`COMMANDS`] (for per-command arrays such as metrics).
pub fn position(spec: &CommandSpec) -> Option<usize> {
    let offset = (spec as *const CommandSpec as usize).wrapping_sub(COMMANDS.as_ptr() as usize);
    let i = offset / std::mem::size_of::<CommandSpec>();
    COMMANDS.get(i).filter(|c| std::ptr::eq(*c, spec)).map(|_| i)
}

/// Finds a command by name, case-insensitively, without allocating for short names.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    index().get(&lower[..name.len()]).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(c.name, c.name.to_lowercase());
            for s in c.subcommands {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
            }
        }
    }

    /// Every command and subcommand says how the proxy serves it, how its keys are used and,
    /// when it writes, whether it may be retried (checked by the retry rule's own test).
    #[test]
    fn every_command_has_a_route_and_key_uses() {
        let all = COMMANDS.iter().chain(COMMANDS.iter().flat_map(|c| c.subcommands.iter()));
        for spec in all {
            assert_ne!(spec.route, Route::Unset, "{} has no route", spec.name);
            let keyed = !matches!(spec.keys, KeySpec::None);
            assert_eq!(spec.uses.is_some(), keyed, "{}: key uses must be given exactly when it has keys", spec.name);
            if matches!(spec.route, Route::CrossSlot(_) | Route::Split { .. }) {
                assert!(keyed, "{} is split or gathered by key but has no keys", spec.name);
            }
        }
    }

    #[test]
    fn retry_rule_follows_options() {
        let set = lookup(b"set").unwrap();
        assert!(set.retry.allows(&["SET", "k", "v", "EX", "10"]));
        assert!(!set.retry.allows(&["SET", "k", "v", "nx"]));
        assert!(!set.retry.allows(&["set", "k", "v", "GET"]));
        // The key or value spelled like an option is not an option.
        assert!(set.retry.allows(&["SET", "nx", "v"]));
        assert!(lookup(b"hset").unwrap().retry.allows(&["HSET", "h", "f", "v"]));
        assert!(!lookup(b"incr").unwrap().retry.allows(&["INCR", "n"]));
        assert!(!lookup(b"zadd").unwrap().retry.allows(&["ZADD", "z", "INCR", "1", "m"]));
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
        assert_eq!(lookup(b"config").and_then(|c| c.subcommand(b"GET")).map(|c| c.name), Some("config|get"));
    }

    #[test]
    fn key_positions() {
        let none = |_| None;
        assert_eq!(lookup(b"mset").unwrap().key_indexes(5, none).unwrap(), vec![1, 3]);
        assert_eq!(lookup(b"mget").unwrap().key_indexes(4, none).unwrap(), vec![1, 2, 3]);
        assert_eq!(lookup(b"get").unwrap().key_indexes(2, none).unwrap(), vec![1]);
        let geo: Vec<&[u8]> = vec![b"GEORADIUS", b"k", b"1", b"2", b"3", b"km", b"store", b"d", b"STOREDIST", b"e"];
        let at = |i: usize| geo.get(i).copied();
        assert_eq!(lookup(b"georadius").unwrap().key_indexes(geo.len(), at).unwrap(), vec![1, 7, 9]);
        assert_eq!(lookup(b"georadius").unwrap().key_indexes(6, at).unwrap(), vec![1]);
        let eval =
            CommandSpec { keys: KeySpec::NumKeys { numkeys: 2, fixed: None }, ..lookup(b"eval").unwrap().clone() };
        let two = |_| Some(&b"2"[..]);
        assert_eq!(eval.key_indexes(6, two).unwrap(), vec![3, 4]);
        assert!(eval.key_indexes(4, two).is_err());
        let xread: Vec<&[u8]> = vec![b"XREAD", b"COUNT", b"2", b"streams", b"a", b"b", b"0", b"0"];
        let at = |i: usize| xread.get(i).copied();
        assert_eq!(lookup(b"xread").unwrap().key_indexes(xread.len(), at).unwrap(), vec![4, 5]);
    }

    #[test]
    fn derived_categories() {
        let get = lookup(b"get").unwrap();
        assert_ne!(get.categories() & acl::READ, 0);
        assert_ne!(get.categories() & acl::FAST, 0);
        let set = lookup(b"set").unwrap();
        assert_ne!(set.categories() & acl::WRITE, 0);
        assert_ne!(set.categories() & acl::SLOW, 0);
    }
}
