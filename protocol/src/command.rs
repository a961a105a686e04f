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

use acl::{
    BITMAP, CONNECTION, DANGEROUS, GEO, HASH, HYPERLOGLOG, KEYSPACE, LIST, SCRIPTING, SET, SORTEDSET, STREAM, STRING,
    TRANSACTION,
};
use flags::*;

const fn c(name: &'static str, arity: i32, flags: u32, acl: u32, keys: KeySpec) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl,
        keys,
        subcommands: &[],
        route: Route::Unset,
        retry: Retry::Never,
        uses: None,
    }
}

impl CommandSpec {
    const fn r(mut self, route: Route) -> CommandSpec {
        self.route = route;
        self
    }
    const fn u(mut self, first: KeyUse, rest: KeyUse) -> CommandSpec {
        self.uses = Some((first, rest));
        self
    }
    const fn retry(mut self, retry: Retry) -> CommandSpec {
        self.retry = retry;
        self
    }
}

const SLOT: Route = Route::Slot;
const GATHER: Route = Route::CrossSlot(Gather::Colocate);
/// GEORADIUS key lon lat radius unit [... STORE key] [STOREDIST key].
const GEO_STORE: KeySpec = KeySpec::Keyword { first: 1, from: 6, keywords: &["store", "storedist"] };
/// GEORADIUSBYMEMBER key member radius unit [... STORE key] [STOREDIST key].
const GEO_STORE_BY_MEMBER: KeySpec = KeySpec::Keyword { first: 1, from: 5, keywords: &["store", "storedist"] };
const LOCAL: Route = Route::Local;
const SPLIT_SUM: Route = Route::Split { stride: 1, merge: Merge::Sum };
const SPLIT_MGET: Route = Route::Split { stride: 1, merge: Merge::InKeyOrder };
const SPLIT_MSET: Route = Route::Split { stride: 2, merge: Merge::AllOk };
const SET_OPTS: &[&str] = &["nx", "xx", "get", "keepttl"];
const ZADD_OPTS: &[&str] = &["nx", "xx", "gt", "lt", "ch", "incr"];
use KeyUse::{Neither as KN, NotKey as KNK, Read as KR, ReadWrite as KRW, Write as KW};
const fn k(first: i32, last: i32, step: i32) -> KeySpec {
    KeySpec::Range { first, last, step }
}
const K1: KeySpec = KeySpec::Range { first: 1, last: 1, step: 1 };
const K12: KeySpec = KeySpec::Range { first: 1, last: 2, step: 1 };
const KALL: KeySpec = KeySpec::Range { first: 1, last: -1, step: 1 };
/// Keys from 1 up to the one before the last argument (BLPOP's timeout).
const KBUTLAST: KeySpec = KeySpec::Range { first: 1, last: -2, step: 1 };
/// `numkeys` at argument 1, keys after it (LMPOP, SINTERCARD, ZUNION).
const NK1: KeySpec = KeySpec::NumKeys { numkeys: 1, fixed: None };
/// `numkeys` at argument 2, keys after it (BLMPOP, EVAL).
const NK2: KeySpec = KeySpec::NumKeys { numkeys: 2, fixed: None };
/// A destination at 1, `numkeys` at 2 (ZUNIONSTORE).
const NK2D: KeySpec = KeySpec::NumKeys { numkeys: 2, fixed: Some(1) };
const BLK: u32 = WRITE | BLOCKING;
/// EVAL and friends, as Redis 7.0 flags them.
const SCRIPT_FLAGS: u32 = NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE;
const NK: KeySpec = KeySpec::None;
const fn container(name: &'static str, arity: i32, flags: u32, acl: u32, subs: &'static [CommandSpec]) -> CommandSpec {
    CommandSpec { subcommands: subs, ..c(name, arity, flags, acl, KeySpec::None) }
}

const RW: u32 = WRITE | DENYOOM;
const RWF: u32 = WRITE | DENYOOM | FAST;
const RO: u32 = READONLY;
const ROF: u32 = READONLY | FAST;
const WF: u32 = WRITE | FAST;
const CONN: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;
const ADM: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

static CLIENT_SUBS: &[CommandSpec] = &[
    c("client|id", 2, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("client|setname", 3, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("client|getname", 2, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("client|list", -2, ADM, CONNECTION | DANGEROUS, NK).r(LOCAL),
    c("client|info", 2, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("client|kill", -3, ADM, CONNECTION | DANGEROUS, NK).r(LOCAL),
    c("client|help", 2, LOADING | STALE, CONNECTION, NK).r(LOCAL),
];
static COMMAND_SUBS: &[CommandSpec] = &[
    c("command|count", 2, LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("command|info", -2, LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("command|list", -2, LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("command|docs", -2, LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("command|getkeys", -4, LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("command|help", 2, LOADING | STALE, CONNECTION, NK).r(LOCAL),
];
static CONFIG_SUBS: &[CommandSpec] = &[
    c("config|get", -3, ADM, DANGEROUS, NK).r(SLOT),
    c("config|set", -4, ADM | MAY_REPLICATE, DANGEROUS, NK).r(SLOT),
    c("config|rewrite", 2, ADM, DANGEROUS, NK).r(SLOT),
    c("config|resetstat", 2, ADM, DANGEROUS, NK).r(SLOT),
    c("config|help", 2, LOADING | STALE, 0, NK).r(SLOT),
];
static PUBSUB_SUBS: &[CommandSpec] = &[
    c("pubsub|channels", -2, PUBSUB | LOADING | STALE, 0, NK).r(SLOT),
    c("pubsub|numsub", -2, PUBSUB | LOADING | STALE, 0, NK).r(SLOT),
    c("pubsub|numpat", 2, PUBSUB | LOADING | STALE, 0, NK).r(SLOT),
    c("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE, 0, NK).r(SLOT),
    c("pubsub|shardnumsub", -2, PUBSUB | LOADING | STALE, 0, NK).r(SLOT),
    c("pubsub|help", 2, LOADING | STALE, 0, NK).r(SLOT),
];
/// Functions: libraries change on every master; reads answer from the client's master.
const FN_WRITE: u32 = WRITE | NOSCRIPT;
static FUNCTION_SUBS: &[CommandSpec] = &[
    c("function|load", -3, FN_WRITE | DENYOOM, SCRIPTING, NK).r(Route::Fanout(Merge::FirstReply)),
    c("function|delete", 3, FN_WRITE, SCRIPTING, NK).r(Route::Fanout(Merge::AllOk)),
    c("function|flush", -2, FN_WRITE, SCRIPTING, NK).r(Route::Fanout(Merge::AllOk)),
    c("function|restore", -3, FN_WRITE | DENYOOM, SCRIPTING, NK).r(Route::Fanout(Merge::AllOk)),
    c("function|list", -2, NOSCRIPT, SCRIPTING, NK).r(SLOT),
    c("function|dump", 2, NOSCRIPT, SCRIPTING, NK).r(SLOT),
    c("function|stats", 2, NOSCRIPT | ALLOW_BUSY, SCRIPTING, NK).r(SLOT),
    c("function|kill", 2, NOSCRIPT | ALLOW_BUSY, SCRIPTING, NK).r(SLOT),
    c("function|help", 2, LOADING | STALE, SCRIPTING, NK).r(SLOT),
];
static SCRIPT_SUBS: &[CommandSpec] = &[
    c("script|load", 3, NOSCRIPT | STALE, SCRIPTING, NK).r(Route::Fanout(Merge::FirstReply)),
    c("script|exists", -3, NOSCRIPT, SCRIPTING, NK).r(Route::Fanout(Merge::AllTrue)),
    c("script|flush", -2, NOSCRIPT, SCRIPTING, NK).r(Route::Fanout(Merge::AllOk)),
    c("script|kill", 2, NOSCRIPT | ALLOW_BUSY, SCRIPTING, NK).r(SLOT),
    c("script|help", 2, LOADING | STALE, SCRIPTING, NK).r(SLOT),
];
static OBJECT_SUBS: &[CommandSpec] = &[
    c("object|encoding", 3, RO, KEYSPACE, k(2, 2, 1)).r(SLOT).u(KN, KN),
    c("object|freq", 3, RO, KEYSPACE, k(2, 2, 1)).r(SLOT).u(KN, KN),
    c("object|idletime", 3, RO, KEYSPACE, k(2, 2, 1)).r(SLOT).u(KN, KN),
    c("object|refcount", 3, RO, KEYSPACE, k(2, 2, 1)).r(SLOT).u(KN, KN),
    c("object|help", 2, LOADING | STALE, KEYSPACE, NK).r(SLOT),
];

static XGROUP_SUBS: &[CommandSpec] = &[
    c("xgroup|create", -5, RW, STREAM, k(2, 2, 1)).r(SLOT).u(KW, KW),
    c("xgroup|setid", -5, WRITE, STREAM, k(2, 2, 1)).r(SLOT).u(KW, KW),
    c("xgroup|destroy", 4, WRITE, STREAM, k(2, 2, 1)).r(SLOT).u(KW, KW),
    c("xgroup|createconsumer", 5, RW, STREAM, k(2, 2, 1)).r(SLOT).u(KW, KW),
    c("xgroup|delconsumer", 5, WRITE, STREAM, k(2, 2, 1)).r(SLOT).u(KW, KW),
    c("xgroup|help", 2, LOADING | STALE, STREAM, NK).r(SLOT),
];
static XINFO_SUBS: &[CommandSpec] = &[
    c("xinfo|stream", -3, RO, STREAM, k(2, 2, 1)).r(SLOT).u(KR, KR),
    c("xinfo|groups", 3, RO, STREAM, k(2, 2, 1)).r(SLOT).u(KR, KR),
    c("xinfo|consumers", 4, RO, STREAM, k(2, 2, 1)).r(SLOT).u(KR, KR),
    c("xinfo|help", 2, LOADING | STALE, STREAM, NK).r(SLOT),
];

static ACL_SUBS: &[CommandSpec] = &[
    c("acl|cat", -2, NOSCRIPT | LOADING | STALE, 0, NK).r(LOCAL),
    c("acl|deluser", -3, ADM, 0, NK).r(LOCAL),
    c("acl|dryrun", -4, ADM, 0, NK).r(LOCAL),
    c("acl|genpass", -2, NOSCRIPT | LOADING | STALE, 0, NK).r(LOCAL),
    c("acl|getuser", 3, ADM, 0, NK).r(LOCAL),
    c("acl|help", 2, LOADING | STALE, 0, NK).r(LOCAL),
    c("acl|list", 2, ADM, 0, NK).r(LOCAL),
    c("acl|load", 2, ADM, 0, NK).r(LOCAL),
    c("acl|log", -2, ADM, 0, NK).r(LOCAL),
    c("acl|save", 2, ADM, 0, NK).r(LOCAL),
    c("acl|setuser", -3, ADM, 0, NK).r(LOCAL),
    c("acl|users", 2, ADM, 0, NK).r(LOCAL),
    c("acl|whoami", 2, NOSCRIPT | LOADING | STALE, 0, NK).r(LOCAL),
];

static CLUSTER_SUBS: &[CommandSpec] = &[
    c("cluster|addslots", -3, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|addslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|bumpepoch", 2, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|count-failure-reports", 3, ADMIN | STALE, 0, NK).r(LOCAL),
    c("cluster|countkeysinslot", 3, STALE, 0, NK).r(LOCAL),
    c("cluster|delslots", -3, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|delslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|flushslots", 2, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|forget", 3, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|getkeysinslot", 4, STALE, 0, NK).r(LOCAL),
    c("cluster|help", 2, LOADING | STALE, 0, NK).r(LOCAL),
    c("cluster|info", 2, STALE, 0, NK).r(LOCAL),
    c("cluster|keyslot", 3, STALE, 0, NK).r(LOCAL),
    c("cluster|links", 2, STALE, 0, NK).r(LOCAL),
    c("cluster|meet", -4, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|myid", 2, STALE, 0, NK).r(LOCAL),
    c("cluster|myshardid", 2, STALE, 0, NK).r(LOCAL),
    c("cluster|nodes", 2, STALE, 0, NK).r(LOCAL),
    c("cluster|failover", -2, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|replicas", 3, ADMIN | STALE, 0, NK).r(LOCAL),
    c("cluster|replicate", 3, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|reset", -2, ADMIN | STALE | NOSCRIPT, 0, NK).r(LOCAL),
    c("cluster|saveconfig", 2, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|set-config-epoch", 3, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|setslot", -4, ADMIN | STALE | NO_ASYNC_LOADING, 0, NK).r(LOCAL),
    c("cluster|shards", 2, STALE, 0, NK).r(LOCAL),
    c("cluster|slaves", 3, ADMIN | STALE, 0, NK).r(LOCAL),
    c("cluster|slots", 2, STALE, 0, NK).r(LOCAL),
];

/// Every command slotgate knows, in no particular order.
pub static COMMANDS: &[CommandSpec] = &[
    // Connection and server.
    c("ping", -1, FAST, CONNECTION, NK).r(LOCAL),
    c("echo", 2, FAST | LOADING | STALE, CONNECTION, NK).r(LOCAL),
    c("hello", -1, CONN, CONNECTION, NK).r(LOCAL),
    c("auth", -2, CONN, CONNECTION, NK).r(LOCAL),
    c("select", 2, LOADING | STALE | FAST, CONNECTION, NK).r(LOCAL),
    c("quit", -1, CONN, CONNECTION, NK).r(LOCAL),
    c("reset", 1, CONN, CONNECTION, NK).r(LOCAL),
    container("client", -2, 0, 0, CLIENT_SUBS).r(LOCAL),
    container("command", -1, LOADING | STALE, CONNECTION, COMMAND_SUBS).r(LOCAL),
    container("config", -2, 0, 0, CONFIG_SUBS).r(SLOT),
    // Access control (the proxy answers these; the node gets them with the security work).
    container("acl", -2, 0, 0, ACL_SUBS).r(LOCAL),
    // Replication.
    c("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, 0, NK).r(Route::NotServed),
    c("slaveof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, 0, NK).r(Route::NotServed),
    c("psync", -3, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, 0, NK).r(Route::NotServed),
    c("sync", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, 0, NK).r(Route::NotServed),
    c("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, 0, NK).r(Route::NotServed),
    c("wait", 3, NOSCRIPT, CONNECTION, NK).r(Route::Wait),
    // Cluster mode.
    container("cluster", -2, 0, 0, CLUSTER_SUBS).r(LOCAL),
    c("asking", 1, FAST, CONNECTION, NK).r(LOCAL),
    c("readonly", 1, LOADING | STALE | FAST, CONNECTION, NK).r(LOCAL),
    c("readwrite", 1, LOADING | STALE | FAST, CONNECTION, NK).r(LOCAL),
    c("dump", 2, RO, KEYSPACE, K1).r(SLOT).u(KR, KR),
    c("restore", -4, RW, KEYSPACE | DANGEROUS, K1).r(SLOT).u(KW, KW),
    c("restore-asking", -4, RW | ASKING, KEYSPACE | DANGEROUS, K1).r(Route::NotServed).u(KW, KW),
    // The key is at 3 or, when that is empty, after KEYS: the node resolves it itself.
    c("migrate", -6, WRITE, KEYSPACE | DANGEROUS, NK).r(SLOT),
    c("info", -1, LOADING | STALE, DANGEROUS, NK).r(Route::Fanout(Merge::Info)),
    c("dbsize", 1, ROF, KEYSPACE, NK).r(Route::Fanout(Merge::Sum)),
    c("flushall", -1, WRITE, KEYSPACE | DANGEROUS, NK).r(Route::Fanout(Merge::AllOk)),
    c("flushdb", -1, WRITE, KEYSPACE | DANGEROUS, NK).r(Route::Fanout(Merge::AllOk)),
    c("time", 1, LOADING | STALE | FAST, 0, NK).r(SLOT),
    c("lastsave", 1, LOADING | STALE | FAST, acl::ADMIN | DANGEROUS, NK).r(SLOT),
    c("save", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, DANGEROUS, NK).r(SLOT),
    c("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, DANGEROUS, NK).r(SLOT),
    c("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, DANGEROUS, NK).r(SLOT),
    c("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, DANGEROUS, NK).r(Route::NotServed),
    // Strings.
    c("get", 2, ROF, STRING, K1).r(SLOT).u(KR, KR),
    // Reads its key too with the GET option (the ACL check's one special case).
    c("set", -3, RW, STRING, K1).r(SLOT).u(KW, KW).retry(Retry::Unless(SET_OPTS)),
    c("setnx", 3, RWF, STRING, K1).r(SLOT).u(KW, KW),
    c("setex", 4, RW, STRING, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("psetex", 4, RW, STRING, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("getset", 3, RWF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("getdel", 2, WF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("getex", -2, WF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("mget", -2, ROF, STRING, KALL).r(SPLIT_MGET).u(KR, KR),
    c("mset", -3, RW, STRING, k(1, -1, 2)).r(SPLIT_MSET).u(KW, KW).retry(Retry::Always),
    c("msetnx", -3, RW, STRING, k(1, -1, 2)).r(Route::CrossSlot(Gather::Msetnx)).u(KW, KW),
    c("incr", 2, RWF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("decr", 2, RWF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("incrby", 3, RWF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("decrby", 3, RWF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("incrbyfloat", 3, RWF, STRING, K1).r(SLOT).u(KRW, KRW),
    c("append", 3, RWF, STRING, K1).r(SLOT).u(KW, KW),
    c("strlen", 2, ROF, STRING, K1).r(SLOT).u(KN, KN),
    c("getrange", 4, RO, STRING, K1).r(SLOT).u(KR, KR),
    c("substr", 4, RO, STRING, K1).r(SLOT).u(KR, KR),
    c("setrange", 4, RW, STRING, K1).r(SLOT).u(KW, KW),
    c("lcs", -3, RO, STRING, K12).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    // Generic keyspace.
    c("del", -2, WRITE, KEYSPACE, KALL).r(SPLIT_SUM).u(KW, KW).retry(Retry::Always),
    c("unlink", -2, WF, KEYSPACE, KALL).r(SPLIT_SUM).u(KW, KW).retry(Retry::Always),
    c("exists", -2, ROF, KEYSPACE, KALL).r(SPLIT_SUM).u(KN, KN),
    c("touch", -2, ROF, KEYSPACE, KALL).r(SPLIT_SUM).u(KN, KN),
    c("type", 2, ROF, KEYSPACE, K1).r(SLOT).u(KN, KN),
    c("expire", -3, WF, KEYSPACE, K1).r(SLOT).u(KW, KW),
    c("pexpire", -3, WF, KEYSPACE, K1).r(SLOT).u(KW, KW),
    c("expireat", -3, WF, KEYSPACE, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("pexpireat", -3, WF, KEYSPACE, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("ttl", 2, ROF, KEYSPACE, K1).r(SLOT).u(KR, KR),
    c("pttl", 2, ROF, KEYSPACE, K1).r(SLOT).u(KR, KR),
    c("expiretime", 2, ROF, KEYSPACE, K1).r(SLOT).u(KR, KR),
    c("pexpiretime", 2, ROF, KEYSPACE, K1).r(SLOT).u(KR, KR),
    c("persist", 2, WF, KEYSPACE, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("rename", 3, WRITE, KEYSPACE, K12).r(Route::CrossSlot(Gather::Rename)).u(KRW, KW),
    c("renamenx", 3, WF, KEYSPACE, K12).r(Route::CrossSlot(Gather::RenameNx)).u(KRW, KW),
    c("copy", -3, RW, KEYSPACE, K12).r(Route::CrossSlot(Gather::Copy)).u(KR, KW),
    c("keys", 2, RO, KEYSPACE | DANGEROUS, NK).r(Route::Fanout(Merge::Concat)),
    c("scan", -2, RO, KEYSPACE, NK).r(Route::Scan),
    c("randomkey", 1, RO, KEYSPACE, NK).r(Route::Fanout(Merge::RandomKey)),
    container("object", -2, 0, 0, OBJECT_SUBS).r(SLOT),
    // Transactions.
    c("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, TRANSACTION, NK).r(Route::Pinned(Pin::Transaction)),
    c("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, TRANSACTION, NK).r(Route::Pinned(Pin::Transaction)),
    c("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, TRANSACTION, NK).r(Route::Pinned(Pin::Transaction)),
    c("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, TRANSACTION, KALL)
        .r(Route::Pinned(Pin::Watch))
        .u(KN, KN),
    c("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, TRANSACTION, NK).r(LOCAL),
    // Pub/Sub. Shard channels sit in key positions so cluster routing finds their slot.
    c("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, 0, NK).r(Route::Subscribe),
    c("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, 0, NK).r(LOCAL),
    c("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, 0, NK).r(Route::Subscribe),
    c("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, 0, NK).r(LOCAL),
    c("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, 0, NK).r(SLOT),
    c("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, 0, KALL).r(Route::Subscribe).u(KNK, KNK),
    c("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, 0, KALL).r(LOCAL).u(KNK, KNK),
    c("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, 0, K1).r(SLOT).u(KNK, KNK),
    container("pubsub", -2, 0, 0, PUBSUB_SUBS).r(SLOT),
    // Scripting.
    c("eval", -3, SCRIPT_FLAGS | MAY_REPLICATE, SCRIPTING, NK2).r(SLOT).u(KRW, KRW),
    c("evalsha", -3, SCRIPT_FLAGS | MAY_REPLICATE, SCRIPTING, NK2).r(SLOT).u(KRW, KRW),
    c("eval_ro", -3, SCRIPT_FLAGS | READONLY, SCRIPTING, NK2).r(SLOT).u(KR, KR),
    c("evalsha_ro", -3, SCRIPT_FLAGS | READONLY, SCRIPTING, NK2).r(SLOT).u(KR, KR),
    container("script", -2, 0, 0, SCRIPT_SUBS).r(SLOT),
    // Hashes.
    c("hset", -4, RWF, HASH, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("hsetnx", 4, RWF, HASH, K1).r(SLOT).u(KW, KW),
    c("hmset", -4, RWF, HASH, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("hget", 3, ROF, HASH, K1).r(SLOT).u(KR, KR),
    c("hmget", -3, ROF, HASH, K1).r(SLOT).u(KR, KR),
    c("hgetall", 2, RO, HASH, K1).r(SLOT).u(KR, KR),
    c("hdel", -3, WF, HASH, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("hexists", 3, ROF, HASH, K1).r(SLOT).u(KN, KN),
    c("hincrby", 4, RWF, HASH, K1).r(SLOT).u(KRW, KRW),
    c("hincrbyfloat", 4, RWF, HASH, K1).r(SLOT).u(KRW, KRW),
    c("hlen", 2, ROF, HASH, K1).r(SLOT).u(KN, KN),
    c("hkeys", 2, RO, HASH, K1).r(SLOT).u(KR, KR),
    c("hvals", 2, RO, HASH, K1).r(SLOT).u(KR, KR),
    c("hstrlen", 3, ROF, HASH, K1).r(SLOT).u(KN, KN),
    c("hrandfield", -2, RO, HASH, K1).r(SLOT).u(KR, KR),
    c("hscan", -3, RO, HASH, K1).r(SLOT).u(KR, KR),
    // Lists.
    c("lpush", -3, RWF, LIST, K1).r(SLOT).u(KW, KW),
    c("rpush", -3, RWF, LIST, K1).r(SLOT).u(KW, KW),
    c("lpushx", -3, RWF, LIST, K1).r(SLOT).u(KW, KW),
    c("rpushx", -3, RWF, LIST, K1).r(SLOT).u(KW, KW),
    c("lpop", -2, WF, LIST, K1).r(SLOT).u(KRW, KRW),
    c("rpop", -2, WF, LIST, K1).r(SLOT).u(KRW, KRW),
    c("lrange", 4, RO, LIST, K1).r(SLOT).u(KR, KR),
    c("llen", 2, ROF, LIST, K1).r(SLOT).u(KN, KN),
    c("lindex", 3, RO, LIST, K1).r(SLOT).u(KR, KR),
    c("lset", 4, RW, LIST, K1).r(SLOT).u(KW, KW),
    c("linsert", 5, RW, LIST, K1).r(SLOT).u(KW, KW),
    c("lrem", 4, WRITE, LIST, K1).r(SLOT).u(KW, KW),
    c("ltrim", 4, WRITE, LIST, K1).r(SLOT).u(KW, KW),
    c("lpos", -3, RO, LIST, K1).r(SLOT).u(KR, KR),
    c("lmove", 5, RW, LIST, K12).r(Route::CrossSlot(Gather::Lmove)).u(KRW, KW),
    c("rpoplpush", 3, RW, LIST, K12).r(Route::CrossSlot(Gather::Lmove)).u(KRW, KW),
    c("lmpop", -4, WRITE, LIST, NK1).r(Route::CrossSlot(Gather::FirstNonEmpty)).u(KRW, KRW),
    // SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dst]: the destination
    // follows STORE (a keyword search, as Redis's key spec has it); keys the patterns form are
    // not key arguments. SORT_RO's spec is movable too (Redis prints movablekeys for it).
    c("sort", -2, RW, SET | SORTEDSET | LIST | DANGEROUS, KeySpec::Keyword { first: 1, from: 2, keywords: &["store"] })
        .r(GATHER)
        .u(KR, KW),
    c("sort_ro", -2, RO, SET | SORTEDSET | LIST | DANGEROUS, KeySpec::Keyword { first: 1, from: 2, keywords: &[] })
        .r(SLOT)
        .u(KR, KR),
    c("blpop", -3, BLK | NOSCRIPT, LIST, KBUTLAST).r(Route::Pinned(Pin::Blocking)).u(KRW, KRW),
    c("brpop", -3, BLK | NOSCRIPT, LIST, KBUTLAST).r(Route::Pinned(Pin::Blocking)).u(KRW, KRW),
    c("blmove", 6, BLK | DENYOOM | NOSCRIPT, LIST, K12).r(Route::Pinned(Pin::Blocking)).u(KRW, KW),
    c("brpoplpush", 4, BLK | DENYOOM | NOSCRIPT, LIST, K12).r(Route::Pinned(Pin::Blocking)).u(KRW, KW),
    c("blmpop", -5, BLK | NOSCRIPT, LIST, NK2).r(Route::Pinned(Pin::Blocking)).u(KRW, KRW),
    // Sets.
    c("sadd", -3, RWF, SET, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("srem", -3, WF, SET, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("smembers", 2, RO, SET, K1).r(SLOT).u(KR, KR),
    c("sismember", 3, ROF, SET, K1).r(SLOT).u(KN, KN),
    c("smismember", -3, ROF, SET, K1).r(SLOT).u(KR, KR),
    c("scard", 2, ROF, SET, K1).r(SLOT).u(KN, KN),
    c("spop", -2, WF, SET, K1).r(SLOT).u(KRW, KRW),
    c("srandmember", -2, RO, SET, K1).r(SLOT).u(KR, KR),
    c("smove", 4, WF, SET, K12).r(Route::CrossSlot(Gather::Smove)).u(KRW, KW),
    c("sinter", -2, RO, SET, KALL).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("sintercard", -3, RO, SET, NK1).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("sunion", -2, RO, SET, KALL).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("sdiff", -2, RO, SET, KALL).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("sinterstore", -3, RW, SET, KALL).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("sunionstore", -3, RW, SET, KALL).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("sdiffstore", -3, RW, SET, KALL).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("sscan", -3, RO, SET, K1).r(SLOT).u(KR, KR),
    // Sorted sets.
    c("zadd", -4, RWF, SORTEDSET, K1).r(SLOT).u(KW, KW).retry(Retry::Unless(ZADD_OPTS)),
    c("zincrby", 4, RWF, SORTEDSET, K1).r(SLOT).u(KRW, KRW),
    c("zscore", 3, ROF, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zmscore", -3, ROF, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zcard", 2, ROF, SORTEDSET, K1).r(SLOT).u(KN, KN),
    c("zcount", 4, ROF, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zlexcount", 4, ROF, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrange", -4, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrangestore", -5, RW, SORTEDSET, K12).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("zrangebyscore", -4, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrevrangebyscore", -4, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrangebylex", -4, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrevrangebylex", -4, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrevrange", -4, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrank", 3, ROF, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrevrank", 3, ROF, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zrem", -3, WF, SORTEDSET, K1).r(SLOT).u(KW, KW).retry(Retry::Always),
    c("zremrangebyscore", 4, WRITE, SORTEDSET, K1).r(SLOT).u(KW, KW),
    c("zremrangebyrank", 4, WRITE, SORTEDSET, K1).r(SLOT).u(KW, KW),
    c("zremrangebylex", 4, WRITE, SORTEDSET, K1).r(SLOT).u(KW, KW),
    c("zpopmin", -2, WF, SORTEDSET, K1).r(SLOT).u(KRW, KRW),
    c("zpopmax", -2, WF, SORTEDSET, K1).r(SLOT).u(KRW, KRW),
    c("zmpop", -4, WRITE, SORTEDSET, NK1).r(Route::CrossSlot(Gather::FirstNonEmpty)).u(KRW, KRW),
    c("bzpopmin", -3, BLK | FAST | NOSCRIPT, SORTEDSET, KBUTLAST).r(Route::Pinned(Pin::Blocking)).u(KRW, KRW),
    c("bzpopmax", -3, BLK | FAST | NOSCRIPT, SORTEDSET, KBUTLAST).r(Route::Pinned(Pin::Blocking)).u(KRW, KRW),
    c("bzmpop", -5, BLK | NOSCRIPT, SORTEDSET, NK2).r(Route::Pinned(Pin::Blocking)).u(KRW, KRW),
    c("zrandmember", -2, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    c("zunion", -3, RO, SORTEDSET, NK1).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("zinter", -3, RO, SORTEDSET, NK1).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("zdiff", -3, RO, SORTEDSET, NK1).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("zunionstore", -4, RW, SORTEDSET, NK2D).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("zinterstore", -4, RW, SORTEDSET, NK2D).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("zdiffstore", -4, RW, SORTEDSET, NK2D).r(Route::CrossSlot(Gather::Colocate)).u(KW, KR),
    c("zintercard", -3, RO, SORTEDSET, NK1).r(Route::CrossSlot(Gather::Colocate)).u(KR, KR),
    c("zscan", -3, RO, SORTEDSET, K1).r(SLOT).u(KR, KR),
    // Streams.
    c("xadd", -5, RWF, STREAM, K1).r(SLOT).u(KW, KW),
    c("xlen", 2, ROF, STREAM, K1).r(SLOT).u(KN, KN),
    c("xrange", -4, RO, STREAM, K1).r(SLOT).u(KR, KR),
    c("xrevrange", -4, RO, STREAM, K1).r(SLOT).u(KR, KR),
    c("xdel", -3, WF, STREAM, K1).r(SLOT).u(KW, KW),
    c("xtrim", -4, WRITE, STREAM, K1).r(SLOT).u(KW, KW),
    c("xsetid", -3, RWF, STREAM, K1).r(SLOT).u(KW, KW),
    // Blocking only with BLOCK: the proxy gives those a connection of their own.
    c("xread", -4, RO | BLOCKING, STREAM, KeySpec::Streams { from: 1 }).r(Route::Pinned(Pin::BlockOption)).u(KR, KR),
    c("xreadgroup", -7, WRITE | BLOCKING, STREAM, KeySpec::Streams { from: 4 })
        .r(Route::Pinned(Pin::BlockOption))
        .u(KR, KR),
    c("xack", -4, WF, STREAM, K1).r(SLOT).u(KW, KW),
    c("xpending", -3, RO, STREAM, K1).r(SLOT).u(KR, KR),
    c("xclaim", -6, WF, STREAM, K1).r(SLOT).u(KW, KW),
    c("xautoclaim", -6, WF, STREAM, K1).r(SLOT).u(KW, KW),
    container("xgroup", -2, 0, 0, XGROUP_SUBS).r(SLOT),
    container("xinfo", -2, 0, 0, XINFO_SUBS).r(SLOT),
    // HyperLogLog, bitmaps, geo and functions: key specs and ACL categories as Redis 7.0 has
    // them, so the proxy routes them (and computes them across slots) in front of Redis nodes.
    c("pfadd", -2, RWF, HYPERLOGLOG, K1).r(SLOT).u(KW, KW),
    // PFCOUNT rewrites the cached count inside the string and propagates itself then.
    c("pfcount", -2, RO | MAY_REPLICATE, HYPERLOGLOG, KALL).r(GATHER).u(KR, KR),
    c("pfmerge", -2, RW, HYPERLOGLOG, KALL).r(GATHER).u(KRW, KR),
    c("pfdebug", 3, RW | ADMIN, HYPERLOGLOG, k(2, 2, 1)).r(SLOT).u(KR, KR),
    c("pfselftest", 1, ADMIN, HYPERLOGLOG, NK).r(SLOT),
    c("setbit", 4, RW, BITMAP, K1).r(SLOT).u(KRW, KRW),
    c("getbit", 3, ROF, BITMAP, K1).r(SLOT).u(KR, KR),
    c("bitcount", -2, RO, BITMAP, K1).r(SLOT).u(KR, KR),
    c("bitpos", -3, RO, BITMAP, K1).r(SLOT).u(KR, KR),
    c("bitop", -4, RW, BITMAP, k(2, -1, 1)).r(GATHER).u(KW, KR),
    c("bitfield", -2, RW, BITMAP, K1).r(SLOT).u(KRW, KRW),
    c("bitfield_ro", -2, ROF, BITMAP, K1).r(SLOT).u(KR, KR),
    c("geoadd", -5, RW, GEO, K1).r(SLOT).u(KW, KW),
    c("geodist", -4, RO, GEO, K1).r(SLOT).u(KR, KR),
    c("geohash", -2, RO, GEO, K1).r(SLOT).u(KR, KR),
    c("geopos", -2, RO, GEO, K1).r(SLOT).u(KR, KR),
    c("geosearch", -7, RO, GEO, K1).r(SLOT).u(KR, KR),
    c("geosearchstore", -8, RW, GEO, K12).r(GATHER).u(KW, KR),
    c("georadius", -6, RW, GEO, GEO_STORE).r(GATHER).u(KR, KW),
    c("georadiusbymember", -5, RW, GEO, GEO_STORE_BY_MEMBER).r(GATHER).u(KR, KW),
    c("georadius_ro", -6, RO, GEO, K1).r(SLOT).u(KR, KR),
    c("georadiusbymember_ro", -5, RO, GEO, K1).r(SLOT).u(KR, KR),
    container("function", -2, 0, 0, FUNCTION_SUBS).r(SLOT),
    c("fcall", -3, SCRIPT_FLAGS | MAY_REPLICATE, SCRIPTING, NK2).r(SLOT).u(KRW, KRW),
    c("fcall_ro", -3, SCRIPT_FLAGS | READONLY, SCRIPTING, NK2).r(SLOT).u(KR, KR),
];

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
        let eval = CommandSpec { keys: KeySpec::NumKeys { numkeys: 2, fixed: None }, ..c("eval", -3, 0, 0, NK) };
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
