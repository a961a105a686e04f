//! DEBUG (debug.c's debugCommand), for the subcommands that make sense on this node: SLEEP,
//! RELOAD, OBJECT, SET-ACTIVE-EXPIRE, DIGEST, DIGEST-VALUE, PROTOCOL, CHANGE-REPL-ID, POPULATE,
//! ERROR and HELP. Refused unless `enable-debug-command` allows the connection, as in Redis 7.0.

use super::{err, help_reply, is, Ctx, Error, Handler};
use crate::introspect::digest::{dataset_digest, hex, value_digest};
use crate::keyspace::{evict, Db, Value};

pub fn register(h: &mut Vec<(&'static str, Handler)>) {
    h.push(("debug", debug as Handler));
}

pub const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// `enable-debug-command yes`, or `local` for a client on a loopback address (checked by the
/// precondition chain, as processCommand checks protected commands).
pub fn allowed(srv: &crate::server::Server, client: &crate::server::Client) -> bool {
    match srv.config.compat.enable_debug_command.as_str() {
        "yes" => true,
        "local" => client.addr.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().to_canonical().is_loopback()),
        _ => false,
    }
}

fn debug(ctx: &mut Ctx) -> Result<(), Error> {
    let sub = &ctx.args[1];
    let argc = ctx.args.len();
    if is(sub, "help") && argc == 2 {
        help(ctx);
    } else if is(sub, "sleep") && argc == 3 {
        // strtod: what does not parse sleeps 0 seconds.
        let secs = std::str::from_utf8(&ctx.args[2]).ok().and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(0.0);
        if secs > 0.0 && secs.is_finite() {
            std::thread::sleep(std::time::Duration::from_micros((secs * 1e6) as u64));
        }
        ctx.out.ok();
    } else if is(sub, "reload") {
        reload(ctx)?;
    } else if is(sub, "object") && argc == 3 {
        object(ctx)?;
    } else if is(sub, "set-active-expire") && argc == 3 {
        let v = std::str::from_utf8(&ctx.args[2]).ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        ctx.srv.introspect.active_expire = v != 0;
        ctx.out.ok();
    } else if is(sub, "digest") && argc == 2 {
        let dbs = ctx.srv.all_dbs();
        let d = dataset_digest(dbs.iter().enumerate().map(|(i, db)| (i as u32, db.entries().collect())));
        ctx.out.simple(&hex(&d));
    } else if is(sub, "digest-value") && argc >= 2 {
        ctx.out.array(argc - 2);
        for key in &ctx.args[2..] {
            // Logically expired keys count too: no lookup that would expire them.
            let d = value_digest(ctx.srv.db.peek(key));
            ctx.out.simple(&hex(&d));
        }
    } else if is(sub, "protocol") && argc == 3 {
        protocol_reply(ctx)?;
    } else if is(sub, "change-repl-id") && argc == 2 {
        let r = &mut ctx.srv.repl;
        r.replid = crate::replication::new_replid();
        r.replid2 = "0".repeat(40);
        r.second_offset = -1;
        ctx.out.ok();
    } else if is(sub, "populate") && (3..=5).contains(&argc) {
        populate(ctx)?;
    } else if is(sub, "error") && argc == 3 {
        let msg = String::from_utf8_lossy(&ctx.args[2]).into_owned();
        // addReplyErrorSds: the text is sent as given, with ERR added when it has no code.
        return err(match msg.strip_prefix('-') {
            Some(coded) => coded.to_string(),
            None => format!("ERR {msg}"),
        });
    } else {
        return err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            protocol::introspect::truncate(&String::from_utf8_lossy(sub), 128)
        ));
    }
    Ok(())
}

/// A positive integer argument, as getPositiveLongFromObjectOrReply reads it (one message for
/// text and negatives alike).
fn positive(arg: &[u8]) -> Result<i64, Error> {
    match super::arg_i64(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => err("ERR value is out of range, must be positive"),
    }
}

/// DEBUG POPULATE count [prefix] [size]: `prefix:N` keys (`key:N` by default) holding
/// `value:N`, or with a size, that text cut or zero-padded to `size` bytes; keys that exist are
/// left alone. Not propagated, as in Redis.
fn populate(ctx: &mut Ctx) -> Result<(), Error> {
    let count = positive(&ctx.args[2])?;
    let size = match ctx.args.get(4) {
        Some(a) => positive(a)? as usize,
        None => 0,
    };
    let prefix = ctx.args.get(3).map_or(&b"key"[..], |p| &p[..]).to_vec();
    for j in 0..count {
        let mut key = prefix.clone();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.srv.db.peek(&key).is_some_and(|e| e.expire_at == 0 || e.expire_at > ctx.now) {
            continue;
        }
        let text = format!("value:{j}");
        let value = if size == 0 {
            Value::string(text.as_bytes())
        } else {
            let mut v = vec![0u8; size];
            let n = size.min(text.len());
            v[..n].copy_from_slice(&text.as_bytes()[..n]);
            Value::string(&v)
        };
        ctx.srv.db.set(&key, value, Some(0));
        if !ctx.srv.watched.is_empty() {
            let db = ctx.srv.db_index;
            ctx.srv.touch_key_in(db, &key);
        }
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the RDB and loads it back.
fn reload(ctx: &mut Ctx) -> Result<(), Error> {
    let (mut save, mut flush, mut merge) = (true, true, false);
    for a in &ctx.args[2..] {
        if is(a, "merge") {
            merge = true;
        } else if is(a, "noflush") {
            flush = false;
        } else if is(a, "nosave") {
            save = false;
        } else {
            return err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
        }
    }
    if save && crate::persist::save(ctx.srv).is_err() {
        return err("ERR");
    }
    let data = std::fs::read(&ctx.srv.config.dbfilename)
        .map_err(|_| Error::Msg("ERR Error trying to load the RDB dump, check server logs.".into()))?;
    let count = ctx.srv.db_count();
    let lfu = ctx.srv.db.lfu;
    let mut loaded: Vec<Db> = crate::server::databases::initial(count as u32, lfu);
    let mut functions = Vec::new();
    let put = |db: usize, key: &[u8], value: Value, at: i64| loaded[db].set(key, value, Some(at));
    if crate::persist::rdbfile::load_into(&data, count, put, &mut functions).is_err() {
        return err("ERR Error trying to load the RDB dump, check server logs.");
    }
    for (i, mut fresh) in loaded.into_iter().enumerate() {
        let target = ctx.srv.db_at(i);
        if flush {
            // Emptied in place: counters, LFU mode and propagation tracking stay.
            target.take_all();
        }
        let keys: Vec<Vec<u8>> = fresh.entries().map(|e| e.key.to_vec()).collect();
        for k in keys {
            let Some(e) = fresh.remove(&k) else { continue };
            if target.peek(&k).is_some() && !merge {
                return err("ERR Error trying to load the RDB dump, check server logs.");
            }
            target.set(&k, e.value, Some(e.expire_at));
        }
        // Loading raises no keyspace events.
        target.events.clear();
    }
    if ctx.srv.scripting.functions.replace_all(&functions).is_err() {
        return err("ERR Error trying to load the RDB dump, check server logs.");
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG OBJECT: Redis's one-line description of the value.
fn object(ctx: &mut Ctx) -> Result<(), Error> {
    let Some(e) = ctx.srv.db.peek(&ctx.args[2]) else {
        return Err(Error::NoSuchKey);
    };
    let v = &e.value;
    let refcount = if matches!(v, Value::Int(n) if (0..10000).contains(n)) { i32::MAX as i64 } else { 1 };
    let serialized = rdb::dump(&crate::keyspace::rdbconv::to_rdb(v)).len().saturating_sub(11);
    let clock = ctx.srv.db.access_clock;
    let (lru, idle) = if ctx.srv.db.lfu {
        (e.access as i64, 0)
    } else {
        let idle = evict::idle_seconds(e, clock) as i64;
        (((ctx.now / 1000) - idle) & 0xFF_FFFF, idle)
    };
    let mut extra = String::new();
    if let Value::List(l) = v {
        let fill = ctx.srv.config.compat.list_max_listpack_size as i64;
        let nodes = crate::introspect::memsize::quicklist_nodes(l.iter().map(|e| &e[..]), fill);
        let avg = l.len() as f64 / nodes.len().max(1) as f64;
        let compressed = u8::from(ctx.srv.config.compat.list_compress_depth != 0);
        extra = format!(
            " ql_nodes:{} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{compressed} ql_uncompressed_size:{}",
            nodes.len(),
            nodes.iter().sum::<usize>()
        );
    }
    // The address is where the value lives in this process, as Redis prints its robj's.
    let line = format!(
        "Value at:{:p} refcount:{refcount} encoding:{} serializedlength:{serialized} lru:{lru} lru_seconds_idle:{idle}{extra}",
        v as *const Value,
        v.encoding()
    );
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG PROTOCOL <type>: one test value of each RESP type.
fn protocol_reply(ctx: &mut Ctx) -> Result<(), Error> {
    let name = &ctx.args[2];
    let resp3 = ctx.out.proto == protocol::Proto::Resp3;
    let out = &mut *ctx.out;
    if is(name, "string") {
        out.bulk(b"Hello World");
    } else if is(name, "integer") {
        out.int(12345);
    } else if is(name, "double") {
        // Redis's test value, not π.
        #[allow(clippy::approx_constant)]
        out.double(3.141);
    } else if is(name, "bignum") {
        let n = b"1234567999999999999999999999999999999";
        if resp3 {
            out.raw(b"(");
            out.raw(n);
            out.raw(b"\r\n");
        } else {
            out.bulk(n);
        }
    } else if is(name, "null") {
        out.null();
    } else if is(name, "array") || is(name, "set") {
        if is(name, "array") {
            out.array(3);
        } else {
            out.set(3);
        }
        (0..3).for_each(|j| out.int(j));
    } else if is(name, "map") {
        out.map(3);
        for j in 0..3 {
            out.int(j);
            out.boolean(j == 1);
        }
    } else if is(name, "attrib") {
        if resp3 {
            out.raw(b"|1\r\n");
            out.bulk(b"key-popularity");
            out.array(2);
            out.bulk(b"key:123");
            out.int(90);
        }
        out.bulk(b"Some real reply following the attribute");
    } else if is(name, "push") {
        if !resp3 {
            return err("ERR RESP2 is not supported by this command");
        }
        out.push(2);
        out.bulk(b"server-cpu-usage");
        out.int(42);
        out.bulk(b"Some real reply following the push reply");
    } else if is(name, "true") {
        out.boolean(true);
    } else if is(name, "false") {
        out.boolean(false);
    } else if is(name, "verbatim") {
        out.verbatim(b"This is a verbatim\nstring");
    } else {
        return err("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
    }
    Ok(())
}

fn help(ctx: &mut Ctx) {
    help_reply(
        ctx.out,
        "DEBUG",
        &[
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: conflicting keys will be loaded from RDB.",
            "    * NOFLUSH: the existing database will not be removed before load, but",
            "      conflicting keys will generate an exception and kill the server.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
}
