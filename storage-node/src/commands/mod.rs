//! Command dispatch: the node's handlers keyed by the shared command table, with Redis's checks
//! (arity, authentication, memory) applied before a handler runs, and per-command statistics.

mod acl;
mod admit;
mod bitmap;
mod blocking;
mod cluster;
mod connection;
pub mod databases;
mod debug;
mod function;
mod geo;
mod hash;
mod hll;
mod info;
mod keys;
mod latency;
mod list;
mod memory;
mod migrate;
mod multi;
mod persistence;
mod pubsub;
mod replication;
mod scripting;
mod server;
mod set;
mod slowlog;
mod sort;
mod stream;
mod stream_claim;
mod stream_group;
mod stream_info;
mod strings;
mod tracking;
mod zset;
mod zsetops;

use std::collections::HashMap;
use std::time::Instant;

use hashbrown::HashMap as FastMap;

use bytes::Bytes;
use protocol::command::{flags, CommandSpec, KeyUse, COMMANDS};
use protocol::Reply;

use std::collections::VecDeque;

use crate::keyspace::hash::HashVal;
use crate::keyspace::set::SetVal;
use crate::keyspace::stream::Stream;
use crate::keyspace::zset::ZSetVal;
use crate::keyspace::KeyBuf;
use crate::keyspace::{now_ms, Db, Value};
use crate::server::notify::{self, Reads};
use crate::server::{Client, Server};

pub use admit::{admit, prepare_script, Caller, ScriptCall, Verdict};
pub use multi::unwatch_all;
pub use pubsub::{deliver_publish, drop_unserved_shard_channels};
pub use replication::set_master;
pub use stream_group::estimate_read;

/// What a handler needs: the server, the calling client, the arguments and the reply buffer.
pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub client: &'a mut Client,
    pub args: &'a [Bytes],
    pub out: &'a mut Reply,
    /// Wall-clock milliseconds when the command started: one notion of "now" per command.
    pub now: i64,
}

impl Ctx<'_> {
    /// Propagates `cmds` (to the AOF, to replicas) instead of this command's arguments: for
    /// commands whose effect replays differently (SPOP, a served blocking pop, MIGRATE).
    pub fn propagate_as(&mut self, cmds: Vec<Vec<Bytes>>) {
        self.srv.prop.replace(cmds);
    }
}

/// A handler writes its reply into `ctx.out` or returns an error reply.
pub type Handler = fn(&mut Ctx) -> Result<(), Error>;

/// Error replies with Redis's exact texts.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    NoSuchKey,
    /// Any other reply text, including its code (`ERR ...`).
    Msg(String),
    /// A reply already counted in errorstats: a script passing on the error of a command it
    /// called (Redis's ERR_REPLY_FLAG_NO_STATS_UPDATE). The call still counts as failed.
    Counted(String),
}

impl Error {
    /// The reply text (without the leading `-`).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Error::WrongType => "WRONGTYPE Operation against a key holding the wrong kind of value".into(),
            Error::NotInteger => "ERR value is not an integer or out of range".into(),
            Error::NotFloat => "ERR value is not a valid float".into(),
            Error::Syntax => "ERR syntax error".into(),
            Error::Overflow => "ERR increment or decrement would overflow".into(),
            Error::NoSuchKey => "ERR no such key".into(),
            Error::Msg(m) | Error::Counted(m) => m.as_str().into(),
        }
    }
}

/// Shorthand for a custom error reply.
pub fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error::Msg(msg.into()))
}

/// Call counters for INFO commandstats.
#[derive(Debug, Default, Clone)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One executable command: its spec, handler and counters.
pub struct Command {
    pub spec: &'static CommandSpec,
    pub handler: Handler,
    pub stats: CommandStats,
    /// Which keys count as read lookups (keyspace_hits/misses, `keymiss`).
    pub reads: Reads,
    /// A container without a handler of its own: it only dispatches to its subcommands.
    pub container_only: bool,
}

/// The node's command table: every command of the shared table that has a handler here.
pub struct CommandTable {
    by_name: FastMap<&'static [u8], usize>,
    pub commands: Vec<Command>,
}

fn handlers() -> Vec<(&'static str, Handler)> {
    let mut h = Vec::new();
    connection::register(&mut h);
    databases::register(&mut h);
    tracking::register(&mut h);
    acl::register(&mut h);
    server::register(&mut h);
    info::register(&mut h);
    strings::register(&mut h);
    hash::register(&mut h);
    list::register(&mut h);
    set::register(&mut h);
    zset::register(&mut h);
    zsetops::register(&mut h);
    blocking::register(&mut h);
    multi::register(&mut h);
    pubsub::register(&mut h);
    scripting::register(&mut h);
    keys::register(&mut h);
    cluster::register(&mut h);
    migrate::register(&mut h);
    persistence::register(&mut h);
    replication::register(&mut h);
    bitmap::register(&mut h);
    hll::register(&mut h);
    geo::register(&mut h);
    sort::register(&mut h);
    stream::register(&mut h);
    stream_group::register(&mut h);
    stream_claim::register(&mut h);
    stream_info::register(&mut h);
    function::register(&mut h);
    slowlog::register(&mut h);
    latency::register(&mut h);
    memory::register(&mut h);
    debug::register(&mut h);
    h
}

impl CommandTable {
    /// Builds the table; a handler without a spec (or the reverse) is a programming error caught by tests.
    pub fn new() -> CommandTable {
        let handlers: HashMap<&str, Handler> = handlers().into_iter().collect();
        let mut commands = Vec::new();
        let mut by_name = FastMap::new();
        let specs = COMMANDS.iter().flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()));
        for spec in specs.filter(|s| !s.has(flags::NOT_ON_NODE)) {
            let (handler, container_only) = match handlers.get(spec.name) {
                Some(h) => (*h, false),
                // Containers dispatch to their subcommands.
                None if !spec.subcommands.is_empty() => (container_unknown_sub as Handler, true),
                None => continue,
            };
            by_name.insert(spec.name.as_bytes(), commands.len());
            let reads = notify::reads_of(spec);
            commands.push(Command { spec, handler, stats: CommandStats::default(), reads, container_only });
        }
        CommandTable { by_name, commands }
    }

    /// Finds a command (or `container|sub`) by its lowercase name.
    pub fn find(&self, lowercase: &[u8]) -> Option<usize> {
        self.by_name.get(lowercase).copied()
    }

    /// Finds a top-level command by name in any case.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut lower = [0u8; 40];
        if name.len() > lower.len() {
            return None;
        }
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        self.find(&lower[..name.len()])
    }

    /// Finds `container|sub` for a container index.
    pub fn lookup_sub(&self, container: usize, sub: &[u8]) -> Option<usize> {
        let spec = self.commands[container].spec.subcommand(sub)?;
        self.find(spec.name.as_bytes())
    }
}

impl Default for CommandTable {
    fn default() -> Self {
        Self::new()
    }
}

fn container_unknown_sub(ctx: &mut Ctx) -> Result<(), Error> {
    container_unknown_sub_text(ctx.args)
}

fn container_unknown_sub_text(args: &[Bytes]) -> Result<(), Error> {
    let name = String::from_utf8_lossy(&args[0]).to_uppercase();
    let sub = String::from_utf8_lossy(args.get(1).map_or(&b""[..], |a| &a[..])).into_owned();
    err(format!("ERR unknown subcommand '{}'. Try {} HELP.", protocol::introspect::truncate(&sub, 128), name))
}

use protocol::introspect::unknown_command;

/// The time reference of a batch of commands: wall-clock ms for expiry decisions, and a
/// monotonic mark chained from one command to the next so each costs one clock read.
pub struct Clock {
    pub now_ms: i64,
    pub mark: Instant,
}

impl Clock {
    /// Reads the clocks once for a new batch.
    pub fn start() -> Clock {
        Clock { now_ms: now_ms(), mark: Instant::now() }
    }
}

/// Runs one command for a client, writing exactly one reply (or none, when the client blocks).
pub fn dispatch(srv: &mut Server, client: &mut Client, args: &[Bytes], out: &mut Reply, clock: &mut Clock) {
    srv.stats.total_commands_processed += 1;
    let Some(mut idx) = srv.commands.lookup(&args[0]) else {
        srv.stats.unknown_commands += 1;
        let msg = unknown_command(args);
        crate::introspect::count_error(srv, &msg);
        client.multi_error |= client.multi.is_some();
        out.error(&msg);
        return;
    };
    let mut spec = srv.commands.commands[idx].spec;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match srv.commands.lookup_sub(idx, &args[1]) {
            Some(sub) => {
                idx = sub;
                spec = srv.commands.commands[idx].spec;
            }
            // An unknown subcommand is refused before any check, and counts as no command's
            // call (processCommand's isContainerCommandBySds).
            None if srv.commands.commands[idx].container_only => {
                let Err(e) = container_unknown_sub_text(args) else { return };
                crate::introspect::count_error(srv, &e.text());
                client.multi_error |= client.multi.is_some();
                out.error(&e.text());
                return;
            }
            None => {}
        }
    }
    // Inside EXEC the connection's current command stays EXEC (CLIENT LIST, ACL LOG).
    if !client.in_exec {
        client.last_cmd = spec.name;
    }
    let cmd_flags = admit::command_flags(srv, client, spec, args);
    let verdict = admit::admit(srv, client, spec, args, cmd_flags, Caller::Client, clock.now_ms);
    // ASKING covers exactly one command.
    client.asking &= spec.name == "asking";
    match verdict {
        Ok(Verdict::Run) => call(srv, client, idx, args, out, clock),
        Ok(Verdict::Queue) => {
            if let Some(queue) = client.multi.as_mut() {
                queue.push(args.to_vec());
            }
            out.simple("QUEUED");
        }
        Ok(Verdict::Pause) => {
            // A manual failover is moving our slots: the write waits, then runs (or is redirected).
            crate::server::blocking::block(srv, client, args, Vec::new(), None, false);
            srv.paused_clients.push(client.id);
        }
        Err(msg) => {
            srv.commands.commands[idx].stats.rejected_calls += 1;
            crate::introspect::count_error(srv, &msg);
            if spec.name == "exec" && client.multi.is_some() {
                multi::abort(srv, client, out, &msg);
            } else {
                // A command refused while queueing dooms the transaction (EXECABORT).
                client.multi_error |= client.multi.is_some();
                out.error(&msg);
            }
        }
    }
}

/// Runs a command EXEC took from its queue: only the ACL rules are checked again.
pub fn run_queued(srv: &mut Server, client: &mut Client, args: &[Bytes], out: &mut Reply, clock: &mut Clock) {
    srv.stats.total_commands_processed += 1;
    let Some(mut idx) = srv.commands.lookup(&args[0]) else { return out.error(&unknown_command(args)) };
    let spec = srv.commands.commands[idx].spec;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        idx = srv.commands.lookup_sub(idx, &args[1]).unwrap_or(idx);
    }
    let spec = srv.commands.commands[idx].spec;
    match admit::admit(srv, client, spec, args, spec.flags, Caller::Queued, clock.now_ms) {
        Ok(_) => call(srv, client, idx, args, out, clock),
        Err(msg) => {
            srv.commands.commands[idx].stats.rejected_calls += 1;
            crate::introspect::count_error(srv, &msg);
            out.error(&msg);
        }
    }
}

/// Runs an admitted command and counts it (Redis's `call`).
fn call(srv: &mut Server, client: &mut Client, idx: usize, args: &[Bytes], out: &mut Reply, clock: &mut Clock) {
    let reads = srv.commands.commands[idx].reads;
    if reads != Reads::None {
        notify::count_reads(srv, srv.commands.commands[idx].spec, reads, args, clock.now_ms);
    }
    let result = execute(srv, client, idx, args, out, clock.now_ms);
    let stats = &mut srv.commands.commands[idx].stats;
    stats.calls += 1;
    let end = Instant::now();
    let usec = end.duration_since(clock.mark).as_micros() as u64;
    stats.usec += usec;
    clock.mark = end;
    stats.failed_calls += u64::from(std::mem::take(&mut srv.reply_errors));
    if let Err(e) = result {
        stats.failed_calls += 1;
        if !matches!(e, Error::Counted(_)) {
            crate::introspect::count_error(srv, &e.text());
        }
        out.error(&e.text());
    }
    crate::introspect::after_command(srv, client, idx, args, usec);
}

/// Runs a handler and tells WATCHers about the keys a successful write touched.
fn execute(
    srv: &mut Server,
    client: &mut Client,
    idx: usize,
    args: &[Bytes],
    out: &mut Reply,
    now: i64,
) -> Result<(), Error> {
    let cmd = &srv.commands.commands[idx];
    let (handler, spec) = (cmd.handler, cmd.spec);
    // The client's database goes in place: handlers work on `srv.db` (see server::databases).
    srv.select_db(client.db);
    let dirty_before = srv.dirty;
    let propagating = srv.prop.active();
    if propagating {
        srv.prop.enter();
    }
    let existed = if srv.tracking.used { crate::server::tracking::before_handler(srv, spec, args, now) } else { None };
    let mut ctx = Ctx { srv, client, args, out, now };
    let result = handler(&mut ctx);
    if srv.tracking.used {
        crate::server::tracking::after_handler(srv, client, spec, args, dirty_before, existed);
    }
    // Keyspace events nothing published yet (a miss, an expiry) go out with the command.
    if !srv.db.events.is_empty() {
        notify::flush(srv);
    }
    if propagating {
        crate::server::propagate::after_command(srv, spec, args, dirty_before);
        srv.prop.leave();
        // What the outermost command caused goes to the replicas now, so a WAIT that follows
        // counts it.
        if !srv.prop.repl.is_empty() {
            crate::replication::drain(srv);
        }
    }
    if srv.dirty != dirty_before && !srv.watched.is_empty() && spec.has(flags::WRITE) {
        // Keys the command only reads (BITOP's or ZUNIONSTORE's sources) stay valid for WATCH.
        let (first, rest) = spec.uses.unwrap_or((KeyUse::ReadWrite, KeyUse::ReadWrite));
        let keys = spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).unwrap_or_default();
        // COPY ... DB n writes its destination in another database.
        let copy_db = if spec.name == "copy" { databases::copy_target(args) } else { None };
        for (n, i) in keys.into_iter().enumerate() {
            let usage = if n == 0 { first } else { rest };
            if usage != KeyUse::Read {
                let db = if i == 2 { copy_db.unwrap_or(srv.db_index) } else { srv.db_index };
                srv.touch_key_in(db, &args[i]);
            }
        }
    }
    // A write to a key clients wait on may have deleted or replaced it: they re-check (a
    // blocked XREADGROUP then gets Redis's UNBLOCKED error), as signalDeletedKeyAsReady does.
    if srv.dirty != dirty_before && !srv.blocked.is_empty() && spec.has(flags::WRITE) {
        for i in spec.key_indexes(args.len(), |i| args.get(i).map(|a| &a[..])).unwrap_or_default() {
            srv.key_ready(&args[i]);
        }
    }
    if !srv.blocked.is_empty() && matches!(spec.name, "flushall" | "flushdb") {
        let keys: Vec<crate::server::databases::DbKey> = srv.blocked.keys().cloned().collect();
        for (db, k) in keys {
            srv.key_ready_in(db, &k);
        }
    }
    result
}

/// Runs a command on behalf of a script (`redis.call`): the checks were made by the caller.
pub fn execute_for_script(
    srv: &mut Server,
    client: &mut Client,
    idx: usize,
    args: &[Bytes],
    out: &mut Reply,
    now_ms: i64,
) -> Result<(), Error> {
    srv.stats.total_commands_processed += 1;
    srv.commands.commands[idx].stats.calls += 1;
    // Inside a script a blocking command must not block: it behaves as inside EXEC.
    let in_exec = std::mem::replace(&mut client.in_exec, true);
    let reads = srv.commands.commands[idx].reads;
    if reads != Reads::None {
        notify::count_reads(srv, srv.commands.commands[idx].spec, reads, args, now_ms);
    }
    crate::server::tracking::script_call(srv, true);
    let r = execute(srv, client, idx, args, out, now_ms);
    crate::server::tracking::script_call(srv, false);
    client.in_exec = in_exec;
    // The script's client got an error reply: counted as Redis's call() counts it.
    if let Err(e) = &r {
        srv.commands.commands[idx].stats.failed_calls += 1;
        crate::introspect::count_error(srv, &e.text());
    }
    r
}

/// Runs a command read from the AOF, without the client checks; false for an unknown command.
/// Time stands still at 0 while loading, as Redis does not expire keys then: the stream holds
/// absolute expiries only, and a key that expired since must behave as it did when logged.
pub fn replay(srv: &mut Server, client: &mut Client, args: &[Bytes], out: &mut Reply) -> bool {
    let Some(mut idx) = srv.commands.lookup(&args[0]) else { return false };
    let spec = srv.commands.commands[idx].spec;
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        if let Some(sub) = srv.commands.lookup_sub(idx, &args[1]) {
            idx = sub;
        }
    }
    if !srv.commands.commands[idx].spec.arity_ok(args.len()) {
        return false;
    }
    // A blocking command must not park the loader: it behaves as inside EXEC.
    client.in_exec = true;
    let _ = execute(srv, client, idx, args, out, 0);
    srv.reply_errors = 0;
    true
}

/// Re-runs the command a blocked client waits on; writes nothing while it must keep waiting.
/// Returns the command's index and the microseconds it took.
pub fn run_blocked(srv: &mut Server, client: &mut Client, args: &[Bytes], out: &mut Reply) -> Option<(usize, u64)> {
    let idx = srv.commands.lookup(&args[0])?;
    let started = Instant::now();
    if let Err(e) = execute(srv, client, idx, args, out, now_ms()) {
        out.error(&e.text());
    }
    Some((idx, started.elapsed().as_micros() as u64))
}

// ---- argument helpers shared by the command families ----

/// Parses an argument as an i64 (`ERR value is not an integer or out of range` otherwise).
pub fn arg_i64(b: &[u8]) -> Result<i64, Error> {
    crate::keyspace::value::canonical_int(b)
        .or_else(|| std::str::from_utf8(b).ok().filter(|s| !s.starts_with('+')).and_then(|s| s.parse().ok()))
        .ok_or(Error::NotInteger)
}

/// Parses an argument as a finite-or-infinite f64 the way Redis's strtold accepts it (a value
/// out of range becomes ±inf or 0, as score ranges and INCRBYFLOAT take it).
pub fn arg_f64(b: &[u8]) -> Result<f64, Error> {
    parse_f64(b, false)
}

/// Parses an argument as Redis's `getDoubleFromObject` (`string2d`) does: as `arg_f64`, but a
/// value out of range (`1e400`, `1e-400`) is not a valid float. (ZADD's scores and weights
/// are parsed this way in Redis too.)
pub fn arg_f64_strict(b: &[u8]) -> Result<f64, Error> {
    parse_f64(b, true)
}

fn parse_f64(b: &[u8], strict: bool) -> Result<f64, Error> {
    let s = std::str::from_utf8(b).map_err(|_| Error::NotFloat)?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(Error::NotFloat);
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        lower => {
            let v = match hex_float(lower) {
                Some(v) => v,
                None => s.parse().map_err(|_| Error::NotFloat)?,
            };
            // strtod's range errors, which Redis refuses: overflow to infinity (`1e400`) and
            // underflow to zero (`1e-400`); a denormal result is fine.
            if strict && (v.is_infinite() || (v == 0.0 && nonzero_mantissa(lower))) {
                return Err(Error::NotFloat);
            }
            v
        }
    };
    if v.is_nan() {
        return Err(Error::NotFloat);
    }
    Ok(v)
}

/// Whether a number's digits before its exponent are not all zero.
fn nonzero_mantissa(lower: &str) -> bool {
    let unsigned = lower.trim_start_matches(['-', '+']);
    let mantissa = match unsigned.strip_prefix("0x") {
        Some(hex) => hex.split('p').next().unwrap_or(""),
        None => unsigned.split('e').next().unwrap_or(""),
    };
    mantissa.chars().any(|c| c.is_ascii_hexdigit() && c != '0')
}

/// C's strtod also reads hexadecimal floats (`0x10`, `-0x1.8p3`); Redis inherits that.
fn hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = rest.strip_prefix("0x")?;
    let (mantissa, exp) = match body.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Looks up a string value: `Ok(None)` when missing, WRONGTYPE for other types. (Read
/// lookups were counted before the handler, by `server::notify::count_reads`.)
pub fn get_string<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Value>, Error> {
    let now = ctx.now;
    match ctx.srv.db.get(key, now) {
        None => Ok(None),
        Some(e) if e.value.is_string() => Ok(Some(&mut e.value)),
        Some(_) => Err(Error::WrongType),
    }
}

macro_rules! typed_access {
    ($get:ident, $get_or_create:ident, $variant:ident, $ty:ty) => {
        /// Looks up a value of this type: `Ok(None)` when missing, WRONGTYPE for another type.
        pub fn $get<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut $ty>, Error> {
            match db.get(key, now) {
                None => Ok(None),
                Some(e) => match &mut e.value {
                    Value::$variant(v) => Ok(Some(&mut **v)),
                    _ => Err(Error::WrongType),
                },
            }
        }

        /// Looks up a value of this type, creating an empty one when the key is missing.
        pub fn $get_or_create<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<&'a mut $ty, Error> {
            if db.get(key, now).is_none() {
                db.set(key, Value::$variant(Default::default()), Some(0));
            }
            $get(db, key, now)?.ok_or(Error::WrongType)
        }
    };
}

typed_access!(get_hash, hash_or_create, Hash, HashVal);
typed_access!(get_list, list_or_create, List, VecDeque<KeyBuf>);
typed_access!(get_set, set_or_create, Set, SetVal);
typed_access!(get_zset, zset_or_create, ZSet, ZSetVal);
typed_access!(get_stream, stream_or_create, Stream, Stream);

/// Deletes `key` if it holds an empty collection: Redis never keeps empty hashes, lists, sets
/// or sorted sets. True when it did (the caller notifies `del` after its own event).
pub fn delete_if_empty(db: &mut Db, key: &[u8]) -> bool {
    let empty = match db.peek(key).map(|e| &e.value) {
        Some(Value::Hash(h)) => h.is_empty(),
        Some(Value::List(l)) => l.is_empty(),
        Some(Value::Set(s)) => s.is_empty(),
        Some(Value::ZSet(z)) => z.is_empty(),
        _ => false,
    };
    if empty {
        db.remove(key);
    }
    empty
}

/// Parses a SCAN-family cursor.
pub fn arg_cursor(b: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or_else(|| Error::Msg("ERR invalid cursor".into()))
}

/// Options of HSCAN/SSCAN/ZSCAN: MATCH pattern and COUNT, starting at `args[3]`.
pub fn scan_options(args: &[Bytes]) -> Result<(Option<&[u8]>, usize), Error> {
    let (pattern, count, _) = scan_options_from(args, 3, false)?;
    Ok((pattern, count))
}

/// Parsed SCAN-family options: MATCH pattern, COUNT, TYPE.
pub type ScanOptions<'a> = (Option<&'a [u8]>, usize, Option<String>);

/// MATCH, COUNT and (for SCAN) TYPE options starting at `args[from]`.
pub fn scan_options_from(args: &[Bytes], from: usize, allow_type: bool) -> Result<ScanOptions<'_>, Error> {
    let (mut pattern, mut count, mut type_filter) = (None, 10usize, None);
    let mut i = from;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(Error::Syntax);
        }
        if is(&args[i], "match") {
            pattern = Some(&args[i + 1][..]);
        } else if is(&args[i], "count") {
            let n = arg_i64(&args[i + 1])?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            count = n as usize;
        } else if allow_type && is(&args[i], "type") {
            type_filter = Some(String::from_utf8_lossy(&args[i + 1]).to_lowercase());
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    Ok((pattern, count, type_filter))
}

/// The shape LMPOP/ZMPOP and their blocking forms share: `numkeys key... WHERE [COUNT n]`
/// from `args[at]`; returns the keys, the WHERE argument and the count (default 1).
pub fn mpop_shape(args: &[Bytes], at: usize) -> Result<(Vec<Bytes>, &Bytes, usize), Error> {
    let n = arg_i64(&args[at]).map_err(|_| Error::Msg("ERR numkeys should be greater than 0".into()))?;
    if n <= 0 {
        return err("ERR numkeys should be greater than 0");
    }
    let n = n as usize;
    if at + 1 + n >= args.len() {
        return Err(Error::Syntax);
    }
    let keys = args[at + 1..at + 1 + n].to_vec();
    let rest = &args[at + 2 + n..];
    let count = match rest.len() {
        0 => 1,
        2 if is(&rest[0], "count") => {
            arg_i64(&rest[1]).ok().filter(|c| *c > 0).ok_or(Error::Msg("ERR count should be greater than 0".into()))?
                as usize
        }
        _ => return Err(Error::Syntax),
    };
    Ok((keys, &args[at + 1 + n], count))
}

/// A count argument that must be positive (LPOP, SPOP, ZPOPMIN ...).
pub fn arg_positive(b: &[u8]) -> Result<usize, Error> {
    let n = arg_i64(b).map_err(|_| Error::Msg("ERR value is out of range, must be positive".into()))?;
    if n < 0 {
        return err("ERR value is out of range, must be positive");
    }
    Ok(n as usize)
}

/// Picks `count` distinct indexes out of `len` (or `|count|` with repeats when negative), as
/// HRANDFIELD/SRANDMEMBER/ZRANDMEMBER do.
pub fn random_indexes(len: usize, count: i64) -> Vec<usize> {
    use crate::keyspace::evict::rand;
    if count < 0 {
        return (0..count.unsigned_abs()).map(|_| rand() as usize % len).collect();
    }
    let count = (count as usize).min(len);
    let mut idx: Vec<usize> = (0..len).collect();
    for i in 0..count {
        let j = i + rand() as usize % (len - i);
        idx.swap(i, j);
    }
    idx.truncate(count);
    idx
}

/// Lines of a HELP reply (status strings, as Redis sends them).
pub fn help_reply(out: &mut Reply, container: &str, lines: &[&str]) {
    out.help(container, lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_has_a_spec_and_every_spec_a_handler() {
        let table = CommandTable::new();
        let names: std::collections::HashSet<&str> = table.commands.iter().map(|c| c.spec.name).collect();
        for (name, _) in handlers() {
            assert!(names.contains(name), "handler {name} has no spec in protocol::command");
        }
        for spec in COMMANDS.iter().flat_map(|c| std::iter::once(c).chain(c.subcommands.iter())) {
            // Commands the table marks as not served by the node yet have no handler, and the
            // node's table (and so COMMAND and dispatch) leaves them out.
            let lacking = spec.has(flags::NOT_ON_NODE);
            assert_eq!(names.contains(spec.name), !lacking, "spec {}: a handler exactly when served", spec.name);
        }
    }

    #[test]
    fn unknown_command_text() {
        let args = [Bytes::from_static(b"foo"), Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        assert_eq!(unknown_command(&args), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
    }

    #[test]
    fn number_parsing() {
        assert_eq!(arg_i64(b"-5").unwrap(), -5);
        assert!(arg_i64(b"5.0").is_err());
        assert!(arg_i64(b"").is_err());
        assert_eq!(arg_f64(b"1.5").unwrap(), 1.5);
        assert_eq!(arg_f64(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert!(arg_f64(b"nan").is_err());
        assert!(arg_f64(b" 1").is_err());
        assert_eq!(arg_f64(b"0x10").unwrap(), 16.0);
        assert_eq!(arg_f64(b"-0x1.8p1").unwrap(), -3.0);
        assert!(arg_f64(b"0x").is_err());
        // Range errors of strtod are refused by the strict form, as Redis's string2d does.
        assert!(arg_f64_strict(b"1e400").is_err());
        assert!(arg_f64_strict(b"-1e400").is_err());
        assert!(arg_f64_strict(b"1e-400").is_err());
        assert!(arg_f64_strict(b"0x1p2000").is_err());
        assert!(arg_f64_strict(b"0x1p-1080").is_err());
        assert_eq!(arg_f64_strict(b"0e500").unwrap(), 0.0);
        assert_eq!(arg_f64_strict(b"-0.000e-999").unwrap(), 0.0);
        assert_eq!(arg_f64_strict(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert!(arg_f64_strict(b"1e-310").is_ok_and(|v| v > 0.0));
        assert_eq!(arg_f64(b"1e400").unwrap(), f64::INFINITY);
        assert_eq!(arg_f64(b"-1e-400").unwrap(), 0.0);
    }
}
