//! The command table's entries: every command slotgate knows, as Redis 7.0 describes it (arity,
//! flags, ACL categories, key specs), with how the proxy routes it, whether a write may be
//! retried, and how its keys are used. The types and what is derived from them are in
//! `command.rs`.

use crate::command::{acl, flags, CommandSpec, Gather, KeySpec, KeyUse, Merge, Pin, Retry, Route};

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
const NO_PROXY: Route = Route::NotServed;
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
    c("client|pause", -3, ADM, CONNECTION | DANGEROUS, NK).r(NO_PROXY),
    c("client|unpause", 2, ADM, CONNECTION | DANGEROUS, NK).r(NO_PROXY),
    // Client-side caching needs the node's push messages: the proxy does not serve it.
    c("client|tracking", -3, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(NO_PROXY),
    c("client|caching", 3, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(NO_PROXY),
    c("client|trackinginfo", 2, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(NO_PROXY),
    c("client|getredir", 2, NOSCRIPT | LOADING | STALE, CONNECTION, NK).r(NO_PROXY),
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

/// Introspection: the slow log and latency monitor answer for the node they run on; the proxy
/// gathers SLOWLOG from every master (as Redis's request_policy:all_nodes asks) and sends the
/// rest to the client's node.
static SLOWLOG_SUBS: &[CommandSpec] = &[
    c("slowlog|get", -2, ADMIN | LOADING | STALE, 0, NK).r(Route::Fanout(Merge::Concat)),
    c("slowlog|len", 2, ADMIN | LOADING | STALE, 0, NK).r(Route::Fanout(Merge::Sum)),
    c("slowlog|reset", 2, ADMIN | LOADING | STALE, 0, NK).r(Route::Fanout(Merge::AllOk)),
    c("slowlog|help", 2, LOADING | STALE, 0, NK).r(SLOT),
];
const LATENCY_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
static LATENCY_SUBS: &[CommandSpec] = &[
    c("latency|doctor", 2, LATENCY_FLAGS, 0, NK).r(SLOT),
    c("latency|graph", 3, LATENCY_FLAGS, 0, NK).r(SLOT),
    c("latency|histogram", -2, LATENCY_FLAGS, 0, NK).r(SLOT),
    c("latency|history", 3, LATENCY_FLAGS, 0, NK).r(SLOT),
    c("latency|latest", 2, LATENCY_FLAGS, 0, NK).r(SLOT),
    c("latency|reset", -2, LATENCY_FLAGS, 0, NK).r(Route::Fanout(Merge::Sum)),
    c("latency|help", 2, LOADING | STALE, 0, NK).r(SLOT),
];
static MEMORY_SUBS: &[CommandSpec] = &[
    c("memory|doctor", 2, 0, 0, NK).r(SLOT),
    c("memory|malloc-stats", 2, 0, 0, NK).r(SLOT),
    c("memory|purge", 2, 0, 0, NK).r(Route::Fanout(Merge::AllOk)),
    c("memory|stats", 2, 0, 0, NK).r(SLOT),
    c("memory|usage", -3, RO, 0, k(2, 2, 1)).r(SLOT).u(KN, KN),
    c("memory|help", 2, LOADING | STALE, 0, NK).r(SLOT),
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
    c("role", 1, NOSCRIPT | LOADING | STALE | FAST, acl::ADMIN | DANGEROUS, NK).r(Route::NotServed),
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
    container("slowlog", -2, 0, 0, SLOWLOG_SUBS).r(SLOT),
    container("latency", -2, 0, 0, LATENCY_SUBS).r(SLOT),
    container("memory", -2, 0, 0, MEMORY_SUBS).r(SLOT),
    // DEBUG acts on one node's internals: the proxy does not send it on.
    c("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, 0, NK).r(Route::NotServed),
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
    // Numbered databases: a cluster node refuses both, so the proxy passes them on.
    c("move", 3, WF, KEYSPACE, K1).r(SLOT).u(KRW, KRW),
    c("swapdb", 3, WF, KEYSPACE | DANGEROUS, NK).r(SLOT),
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
