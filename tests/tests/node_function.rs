//! Redis 7.0 functions on slotgate-node, against Debian's `redis-server` 7.0: every FUNCTION
//! subcommand and its errors, FCALL/FCALL_RO and the function flags, replies compared exactly
//! (FUNCTION LIST with libraries and functions put in name order, since Redis lists them in
//! hash order). Then the libraries' journeys: FUNCTION DUMP/RESTORE between the two servers,
//! RDB files both ways, the AOF across a restart, and a replica of slotgate-node.

use std::time::Duration;

use redis::Value;
use slotgate_tests::{require_tool, wait_until, Server};

/// A command line as raw arguments (library code holds newlines and quotes).
fn run(c: &mut redis::Connection, args: &[&[u8]]) -> Result<Value, String> {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap_or("PING"));
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query::<Value>(c).map_err(|e| format!("{:?}: {}", e.code(), e.detail().unwrap_or("")))
}

fn text(v: &Value) -> String {
    format!("{v:?}")
}

/// Puts a FUNCTION LIST reply in name order: libraries, and functions within each.
fn list_in_order(v: Value) -> Value {
    let Value::Array(mut libs) = v else { return v };
    for lib in libs.iter_mut() {
        if let Value::Array(fields) = lib {
            for i in 0..fields.len().saturating_sub(1) {
                if matches!(&fields[i], Value::BulkString(b) if b == b"functions") {
                    if let Value::Array(fs) = &mut fields[i + 1] {
                        fs.sort_by_key(text);
                    }
                }
            }
        }
    }
    libs.sort_by_key(text);
    Value::Array(libs)
}

fn is_list(args: &[&[u8]]) -> bool {
    args.len() >= 2 && args[0].eq_ignore_ascii_case(b"function") && args[1].eq_ignore_ascii_case(b"list")
}

/// Runs every line on both servers and compares the replies.
fn compare(node: &mut redis::Connection, redis: &mut redis::Connection, lines: &[Vec<&[u8]>]) -> usize {
    for line in lines {
        let (mut a, mut b) = (run(node, line), run(redis, line));
        if is_list(line) {
            a = a.map(list_in_order);
            b = b.map(list_in_order);
        }
        if a != b {
            let shown: Vec<String> = line.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            let (x, y) = (format!("{a:?}"), format!("{b:?}"));
            let at = x.bytes().zip(y.bytes()).take_while(|(p, q)| p == q).count().saturating_sub(40);
            let tail = |s: &str| s.get(at..).unwrap_or("").chars().take(300).collect::<String>();
            panic!("reply to {shown:?}\n slotgate:     ...{}\n redis-server: ...{}", tail(&x), tail(&y));
        }
    }
    lines.len()
}

const LIB: &[u8] = b"#!lua name=mylib
redis.register_function('setter', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='getter', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads one key'}
redis.register_function{function_name='sneaky', callback=function(keys, args) return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}
redis.register_function('boom', function(keys, args) error('boom') end)
redis.register_function('unknown', function(keys, args) return redis.call('nosuch') end)
redis.register_function('notint', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function('custom', function(keys, args) return redis.error_reply('MY custom') end)
redis.register_function('noglobal', function(keys, args) return undefinedvar end)
redis.register_function('caught', function(keys, args) return redis.pcall('nosuch') end)
redis.register_function('counts', function(keys, args) return {#keys, #args, keys[1], args[1]} end)
redis.register_function{function_name='flagged', callback=function() return 1 end, flags={'allow-oom', 'allow-stale', 'allow-cross-slot-keys'}}
";

/// The scripting API as functions see it when called.
const RUNTIME: &[u8] = b"#!lua name=rt
redis.register_function('tableerr', function() error({err='XX table err'}) end)
redis.register_function('status', function() return redis.status_reply('FINE') end)
redis.register_function('reg', function() redis.register_function('x', function() end) end)
redis.register_function('ver', function() return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM} end)
redis.register_function('json', function() return cjson.encode({1, 2, 'a'}) end)
redis.register_function('bits', function() return bit.band(0xff, 0x0f) end)
redis.register_function('sha', function() return redis.sha1hex('a') end)
redis.register_function('pcallerr', function(keys) return redis.pcall('incr', keys[1]) end)
redis.register_function('setglobal', function() myvar = 1 end)
redis.register_function('resp3', function(keys) redis.setresp(3) return redis.call('hgetall', keys[1]) end)
redis.register_function('nums', function() return {1.5, -2, true, false} end)
redis.register_function('two', function(keys) redis.call('set', keys[1], 'a') return redis.call('incr', 'cnt') end)
";

const OTHER: &[u8] = b"#!lua name=other
redis.register_function('SETTER2', function(keys, args) return redis.call('set', keys[1], args[1]) end)";

#[test]
fn function_commands_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut n, mut r) = (node.conn(), redis.conn());
    let l = |words: &[&'static [u8]]| -> Vec<&'static [u8]> { words.to_vec() };
    let lines: Vec<Vec<&[u8]>> = vec![
        l(&[b"FUNCTION", b"LIST"]),
        l(&[b"FUNCTION", b"STATS"]),
        l(&[b"FUNCTION", b"DUMP"]),
        l(&[b"FCALL", b"setter", b"1", b"k", b"v"]),
        l(&[b"FUNCTION", b"LOAD", LIB]),
        l(&[b"FUNCTION", b"LOAD", LIB]),
        l(&[b"FUNCTION", b"LOAD", b"REPLACE", LIB]),
        l(&[b"FUNCTION", b"LOAD", b"FOO", LIB]),
        l(&[b"FUNCTION", b"LOAD", OTHER]),
        l(&[b"FUNCTION", b"LIST"]),
        l(&[b"FUNCTION", b"LIST", b"WITHCODE"]),
        l(&[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"MY*"]),
        l(&[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"nomatch*", b"WITHCODE"]),
        l(&[b"FUNCTION", b"LIST", b"LIBRARYNAME"]),
        l(&[b"FUNCTION", b"LIST", b"WITHCODE", b"WITHCODE"]),
        l(&[b"FUNCTION", b"LIST", b"bogus"]),
        l(&[b"FUNCTION", b"STATS"]),
        l(&[b"FUNCTION", b"STATS", b"x"]),
        l(&[b"FUNCTION", b"KILL"]),
        l(&[b"FUNCTION", b"HELP"]),
        l(&[b"FUNCTION", b"NOPE"]),
        l(&[b"FUNCTION"]),
        // Calls, and the flags enforced.
        l(&[b"FCALL", b"setter", b"1", b"k", b"v"]),
        l(&[b"FCALL", b"SETTER", b"1", b"k", b"v2"]),
        l(&[b"FCALL", b"setter2", b"1", b"k2", b"v"]),
        l(&[b"FCALL", b"getter", b"1", b"k"]),
        l(&[b"FCALL_RO", b"getter", b"1", b"k"]),
        l(&[b"FCALL_RO", b"setter", b"1", b"k", b"v"]),
        l(&[b"FCALL", b"sneaky", b"1", b"k"]),
        l(&[b"FCALL_RO", b"sneaky", b"1", b"k"]),
        l(&[b"FCALL", b"nosuch", b"0"]),
        l(&[b"FCALL", b"setter", b"-1"]),
        l(&[b"FCALL", b"setter", b"3", b"a"]),
        l(&[b"FCALL", b"setter", b"x"]),
        l(&[b"FCALL", b"setter"]),
        l(&[b"FCALL", b"boom", b"0"]),
        l(&[b"FCALL", b"unknown", b"0"]),
        l(&[b"FCALL", b"notint", b"1", b"k"]),
        l(&[b"FCALL", b"custom", b"0"]),
        l(&[b"FCALL", b"noglobal", b"0"]),
        l(&[b"FCALL", b"caught", b"0"]),
        l(&[b"FCALL", b"counts", b"2", b"a", b"b", b"c"]),
        l(&[b"FCALL", b"counts", b"0"]),
        l(&[b"FCALL", b"flagged", b"0"]),
        l(&[b"EVAL", b"return redis.call('fcall', 'counts', 0)", b"0"]),
        l(&[b"FUNCTION", b"LOAD", RUNTIME]),
        l(&[b"SET", b"str", b"notanumber"]),
        l(&[b"HSET", b"h", b"f", b"v"]),
        l(&[b"FCALL", b"tableerr", b"0"]),
        l(&[b"FCALL", b"status", b"0"]),
        l(&[b"FCALL", b"reg", b"0"]),
        l(&[b"FCALL", b"ver", b"0"]),
        l(&[b"FCALL", b"json", b"0"]),
        l(&[b"FCALL", b"bits", b"0"]),
        l(&[b"FCALL", b"sha", b"0"]),
        l(&[b"FCALL", b"pcallerr", b"1", b"str"]),
        l(&[b"FCALL", b"setglobal", b"0"]),
        l(&[b"FCALL", b"resp3", b"1", b"h"]),
        l(&[b"FCALL", b"nums", b"0"]),
        l(&[b"FCALL", b"two", b"1", b"t"]),
        l(&[b"SCRIPT", b"FLUSH"]),
        l(&[b"FLUSHALL"]),
        l(&[b"FCALL", b"two", b"1", b"t"]),
        l(&[b"FUNCTION", b"DELETE", b"rt"]),
        l(&[b"EVAL", b"return redis.call('function', 'list')", b"0"]),
        // Load errors.
        l(&[b"FUNCTION", b"LOAD", b"redis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b""]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua\nredis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=\nredis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=a-b\nredis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x foo=bar\nredis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x name=y\nredis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!python name=x\nredis.register_function('f', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\n"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nlocal a = 1"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.call('ping')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.pcall('ping')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.setresp(3)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nlocal s = string.len('a')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nx = 1"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nlocal k = KEYS"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nsyntax error here"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.log(redis.LOG_WARNING, 'loading')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function('setter', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function('a', function() end)\nredis.register_function('A', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function('a-b', function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function('a')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function(1, 2, 3)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function(function() end, function() end)"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function('a', 'b')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags={'bad'}}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags='no-writes'}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name='a', callback=function() end, other=1}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name='a'}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{callback=function() end}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name='a', callback='b'}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name={}, callback=function() end}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function{function_name='a', callback=function() end, description={}}"]),
        l(&[b"FUNCTION", b"LOAD", b"#!lua name=x\nredis.register_function('a')"]),
        l(&[b"FUNCTION", b"LOAD", b"#!LUA  NAME=Upper  \nredis.register_function{function_name='up', callback=function() return 1 end, flags={'NO-WRITES', 'no-cluster'}}"]),
        l(&[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"upper"]),
        l(&[b"FCALL_RO", b"UP", b"0"]),
        // Delete, flush.
        l(&[b"FUNCTION", b"DELETE", b"nosuch"]),
        l(&[b"FUNCTION", b"DELETE", b"upper"]),
        l(&[b"FUNCTION", b"DELETE", b"Upper"]),
        l(&[b"FUNCTION", b"DELETE"]),
        l(&[b"FUNCTION", b"DELETE", b"a", b"b"]),
        l(&[b"FCALL", b"up", b"0"]),
        l(&[b"FUNCTION", b"STATS"]),
        l(&[b"FUNCTION", b"FLUSH", b"bogus"]),
        l(&[b"FUNCTION", b"FLUSH", b"sync", b"extra"]),
        l(&[b"FUNCTION", b"RESTORE", b"notapayload"]),
        l(&[b"FUNCTION", b"RESTORE", b"x", b"BOGUS"]),
        l(&[b"FUNCTION", b"RESTORE", b"x", b"FLUSH", b"extra"]),
        l(&[b"FUNCTION", b"FLUSH", b"ASYNC"]),
        l(&[b"FUNCTION", b"LIST"]),
        l(&[b"FUNCTION", b"LOAD", OTHER]),
        l(&[b"FUNCTION", b"FLUSH"]),
        l(&[b"FUNCTION", b"STATS"]),
        l(&[b"FUNCTION", b"DUMP"]),
        l(&[b"COMMAND", b"GETKEYS", b"FCALL", b"f", b"2", b"a", b"b", b"c"]),
    ];
    let count = compare(&mut n, &mut r, &lines);
    println!("{count} differential lines");
    // The table entries: name, arity, flags, key positions and ACL categories as Redis has them
    // (the key-spec details past those are the command table's general concern).
    for name in ["fcall", "fcall_ro", "function", "function|load", "function|list", "function|stats", "function|help"] {
        let info = |c: &mut redis::Connection| match run(c, &[b"COMMAND", b"INFO", name.as_bytes()]) {
            Ok(Value::Array(mut v)) => match v.pop() {
                Some(Value::Array(fields)) => fields.into_iter().take(7).collect::<Vec<_>>(),
                other => panic!("COMMAND INFO {name}: {other:?}"),
            },
            other => panic!("COMMAND INFO {name}: {other:?}"),
        };
        assert_eq!(info(&mut n), info(&mut r), "COMMAND INFO {name}");
    }
}

/// A library's FUNCTION DUMP is Redis's byte for byte, and each server restores the other's
/// payload (with every policy and its errors).
#[test]
fn dump_and_restore_across_servers() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut n, mut r) = (node.conn(), redis.conn());
    for c in [&mut n, &mut r] {
        run(c, &[b"FUNCTION", b"LOAD", LIB]).unwrap();
    }
    // The payloads may differ only in how LZF compressed the code; each restores the other's.
    let Value::BulkString(payload) = run(&mut r, &[b"FUNCTION", b"DUMP"]).unwrap() else { panic!() };
    let Value::BulkString(own) = run(&mut n, &[b"FUNCTION", b"DUMP"]).unwrap() else { panic!() };
    assert_eq!((own[0], &own[own.len() - 10..own.len() - 8]), (245, &[10u8, 0][..]), "opcode and RDB version");
    // Two libraries: Redis's payload (in its order) restores into slotgate and back.
    run(&mut r, &[b"FUNCTION", b"LOAD", OTHER]).unwrap();
    let Value::BulkString(two) = run(&mut r, &[b"FUNCTION", b"DUMP"]).unwrap() else { panic!() };
    let (mut n2, mut r2) = (Server::node(&[]), Server::redis(&[]));
    let _ = (&mut n2, &mut r2);
    let (mut c2n, mut c2r) = (n2.conn(), r2.conn());
    let lines: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"RESTORE", &two],
        vec![b"FUNCTION", b"LIST", b"WITHCODE"],
        vec![b"FCALL", b"setter2", b"1", b"k", b"from-redis"],
        vec![b"FCALL_RO", b"getter", b"1", b"k"],
        // (With several clashing libraries Redis names the first in its hash order: one here.)
        vec![b"FUNCTION", b"RESTORE", &payload],
        vec![b"FUNCTION", b"RESTORE", &payload, b"APPEND"],
        vec![b"FUNCTION", b"RESTORE", &payload, b"REPLACE"],
        vec![b"FUNCTION", b"LIST"],
        vec![b"FUNCTION", b"RESTORE", &payload, b"FLUSH"],
        vec![b"FUNCTION", b"LIST"],
        vec![b"FUNCTION", b"DELETE", b"mylib"],
        vec![b"FUNCTION", b"LOAD", b"#!lua name=clash\nredis.register_function('setter', function() end)"],
        vec![b"FUNCTION", b"RESTORE", &payload],
        vec![b"FUNCTION", b"RESTORE", &payload, b"REPLACE"],
        vec![b"FUNCTION", b"LIST"],
    ];
    compare(&mut c2n, &mut c2r, &lines);
    // The reverse: slotgate's two-library payload into a fresh redis-server.
    let n3 = Server::node(&[]);
    let mut c3 = n3.conn();
    run(&mut c3, &[b"FUNCTION", b"LOAD", LIB]).unwrap();
    run(&mut c3, &[b"FUNCTION", b"LOAD", OTHER]).unwrap();
    let Value::BulkString(ours) = run(&mut c3, &[b"FUNCTION", b"DUMP"]).unwrap() else { panic!() };
    let r3 = Server::redis(&[]);
    let mut c3r = r3.conn();
    assert_eq!(run(&mut c3r, &[b"FUNCTION", b"RESTORE", &ours]).unwrap(), Value::Okay);
    assert_eq!(run(&mut c3r, &[b"FCALL", b"setter", b"1", b"k", b"v"]).unwrap(), Value::Okay);
    let (a, b) =
        (run(&mut c3, &[b"FUNCTION", b"LIST", b"WITHCODE"]), run(&mut c3r, &[b"FUNCTION", b"LIST", b"WITHCODE"]));
    assert_eq!(a.map(list_in_order), b.map(list_in_order));
}

/// RESP3 shapes: maps, the null description, the flags set.
#[test]
fn resp3_reply_shapes() {
    if !require_tool("redis-server") {
        return;
    }
    let lib = "#!lua name=one\nredis.register_function{function_name='f', callback=function() return 1 end, flags={'no-writes', 'allow-oom'}}";
    let mut replies = Vec::new();
    for server in [Server::node(&[]), Server::redis(&[])] {
        let mut c = server.conn();
        run(&mut c, &[b"FUNCTION", b"LOAD", lib.as_bytes()]).unwrap();
        let mut raw = server.raw();
        raw.send(&slotgate_tests::resp(&[b"HELLO", b"3"]));
        std::thread::sleep(Duration::from_millis(100));
        let mut sink = [0u8; 4096];
        let _ = std::io::Read::read(&mut raw.0, &mut sink);
        let mut got = Vec::new();
        for cmd in [&[&b"FUNCTION"[..], b"LIST"][..], &[b"FUNCTION", b"STATS"], &[b"FCALL_RO", b"f", b"0"]] {
            raw.send(&slotgate_tests::resp(cmd));
            std::thread::sleep(Duration::from_millis(100));
            let mut buf = [0u8; 4096];
            let k = std::io::Read::read(&mut raw.0, &mut buf).unwrap_or(0);
            got.push(String::from_utf8_lossy(&buf[..k]).into_owned());
        }
        replies.push(got);
    }
    assert_eq!(replies[0], replies[1]);
}

const LIMITER: &[u8] = b"#!lua name=ratelimit
local function hit(keys, args)
  local limit = tonumber(args[1])
  local window = tonumber(args[2])
  local n = redis.call('INCR', keys[1])
  if n == 1 then
    redis.call('EXPIRE', keys[1], window)
  end
  if n > limit then
    return 0
  end
  return 1
end
redis.register_function('hit', hit)
redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
";

/// A rate limiter called many times on random keys answers as Redis does, TTLs included.
#[test]
fn rate_limiter_library() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut n, mut r) = (node.conn(), redis.conn());
    let mut seed: u64 = std::env::var("SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_f00d);
    println!("seed {seed}");
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    compare(&mut n, &mut r, &[vec![b"FUNCTION", b"LOAD", LIMITER]]);
    let ops = 600;
    for _ in 0..ops {
        let user = format!("rl:user{}", next() % 12);
        let line: Vec<Vec<u8>> = match next() % 4 {
            0 => vec![b"FCALL_RO".to_vec(), b"peek".to_vec(), b"1".to_vec(), user.into_bytes()],
            1 => vec![b"TTL".to_vec(), user.into_bytes()],
            _ => vec![
                b"FCALL".to_vec(),
                b"hit".to_vec(),
                b"1".to_vec(),
                user.into_bytes(),
                b"20".to_vec(),
                b"100".to_vec(),
            ],
        };
        let refs: Vec<&[u8]> = line.iter().map(|a| &a[..]).collect();
        compare(&mut n, &mut r, &[refs]);
    }
    println!("{ops} random rate-limiter operations");
}

fn list_of(c: &mut redis::Connection) -> Value {
    list_in_order(run(c, &[b"FUNCTION", b"LIST", b"WITHCODE"]).unwrap())
}

/// slotgate's RDB with two libraries passes redis-check-rdb and loads into redis-server; a
/// redis-server dump.rdb with libraries loads into slotgate.
#[test]
fn rdb_files_both_ways() {
    if !require_tool("redis-server") || !require_tool("redis-check-rdb") {
        return;
    }
    let dir = slotgate_tests::scratch_dir("fn-rdb");
    let mut node = Server::node_in(&dir, &[]);
    let mut c = node.conn();
    run(&mut c, &[b"FUNCTION", b"LOAD", LIB]).unwrap();
    run(&mut c, &[b"FUNCTION", b"LOAD", LIMITER]).unwrap();
    run(&mut c, &[b"SET", b"plain", b"key"]).unwrap();
    assert_eq!(run(&mut c, &[b"SAVE"]).unwrap(), Value::Okay);
    let ours = list_of(&mut c);
    node.kill();
    let check = std::process::Command::new("redis-check-rdb").arg(dir.join("dump.rdb")).output().unwrap();
    assert!(check.status.success(), "redis-check-rdb: {}", String::from_utf8_lossy(&check.stdout));
    let redis = Server::redis_in(&dir, &[]);
    let mut rc = redis.conn();
    assert_eq!(list_of(&mut rc), ours);
    assert_eq!(run(&mut rc, &[b"FCALL", b"hit", b"1", b"u", b"5", b"10"]).unwrap(), Value::Int(1));
    // Back: redis-server saves (with a third library), slotgate loads.
    run(&mut rc, &[b"FUNCTION", b"LOAD", OTHER]).unwrap();
    assert_eq!(run(&mut rc, &[b"SAVE"]).unwrap(), Value::Okay);
    let theirs = list_of(&mut rc);
    drop(rc);
    drop(redis);
    let node = Server::node_in(&dir, &[]);
    let mut c = node.conn();
    assert_eq!(list_of(&mut c), theirs);
    assert_eq!(run(&mut c, &[b"FCALL", b"setter2", b"1", b"k", b"v"]).unwrap(), Value::Okay);
    assert_eq!(run(&mut c, &[b"GET", b"plain"]).unwrap(), Value::BulkString(b"key".to_vec()));
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With appendonly yes, libraries survive a restart: loaded from the incremental file, and
/// from the base after a rewrite.
#[test]
fn aof_keeps_libraries() {
    let dir = slotgate_tests::scratch_dir("fn-aof");
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    run(&mut c, &[b"FUNCTION", b"LOAD", LIMITER]).unwrap();
    run(&mut c, &[b"FUNCTION", b"LOAD", OTHER]).unwrap();
    run(&mut c, &[b"FUNCTION", b"DELETE", b"other"]).unwrap();
    assert_eq!(run(&mut c, &[b"FCALL", b"hit", b"1", b"u", b"5", b"1000"]).unwrap(), Value::Int(1));
    // The AOF holds FUNCTION LOAD as given and FCALL as its effects, in MULTI/EXEC.
    let aof_dir = dir.join("appendonlydir");
    let incr = std::fs::read_dir(&aof_dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .unwrap();
    let aof = String::from_utf8_lossy(&incr);
    assert!(aof.contains("$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"), "{aof}");
    assert!(aof.contains("MULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nu\r\n*3\r\n$9\r\nPEXPIREAT"), "{aof}");
    assert!(!aof.to_ascii_uppercase().contains("FCALL"), "{aof}");
    node.kill();
    let mut node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    let stats = text(&run(&mut c, &[b"FUNCTION", b"STATS"]).unwrap());
    assert!(stats.contains("libraries_count\"'), int(1)") && stats.contains("functions_count\"'), int(2)"), "{stats}");
    assert_eq!(run(&mut c, &[b"FCALL_RO", b"peek", b"1", b"u"]).unwrap(), Value::BulkString(b"1".to_vec()));
    run(&mut c, &[b"BGREWRITEAOF"]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap_or_default();
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0")
    }));
    node.kill();
    let node = Server::node_in(&dir, &args);
    let mut c = node.conn();
    assert_eq!(run(&mut c, &[b"FCALL", b"hit", b"1", b"u", b"5", b"1000"]).unwrap(), Value::Int(1));
    assert_eq!(run(&mut c, &[b"FCALL_RO", b"peek", b"1", b"u"]).unwrap(), Value::BulkString(b"2".to_vec()));
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A replica gets the libraries in its full sync and as they are loaded later; FCALL_RO runs
/// there and FCALL of a writing function is refused; FCALL's writes reach it as effects.
#[test]
fn replica_gets_libraries() {
    let master = Server::node(&[]);
    let mut m = master.conn();
    run(&mut m, &[b"FUNCTION", b"LOAD", LIMITER]).unwrap();
    let replica = Server::node(&[]);
    let mut rc = replica.conn();
    let port = master.port.to_string();
    run(&mut rc, &[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut rc).unwrap_or_default();
        info.contains("master_link_status:up")
    }));
    run(&mut m, &[b"FUNCTION", b"LOAD", LIB]).unwrap();
    assert_eq!(run(&mut m, &[b"FCALL", b"hit", b"1", b"u", b"5", b"1000"]).unwrap(), Value::Int(1));
    assert_eq!(run(&mut m, &[b"FCALL", b"setter", b"1", b"k", b"v"]).unwrap(), Value::Okay);
    assert!(wait_until(Duration::from_secs(10), || {
        run(&mut rc, &[b"FCALL_RO", b"getter", b"1", b"k"]).ok() == Some(Value::BulkString(b"v".to_vec()))
    }));
    assert_eq!(run(&mut rc, &[b"FCALL_RO", b"peek", b"1", b"u"]).unwrap(), Value::BulkString(b"1".to_vec()));
    // A writing function is a write command there, as in Redis.
    let e = run(&mut rc, &[b"FCALL", b"hit", b"1", b"u", b"5", b"1000"]).unwrap_err();
    assert!(e.contains("You can't write against a read only replica."), "{e}");
    let e = run(&mut rc, &[b"FCALL_RO", b"hit", b"1", b"u", b"5", b"1000"]).unwrap_err();
    assert!(e.contains("You can't write against a read only replica."), "{e}");
    assert_eq!(list_of(&mut rc), list_of(&mut m));
    run(&mut m, &[b"FUNCTION", b"DELETE", b"mylib"]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || list_of(&mut rc) == list_of(&mut m)));
}

const SPIN: &[u8] = b"#!lua name=busy
redis.register_function('spin', function(keys, args) local i = 0 while true do i = i + 1 end end)
redis.register_function('wspin', function(keys, args) redis.call('set', 'x', '1') local i = 0 while true do i = i + 1 end end)";

/// Reads what arrived within a moment; FUNCTION STATS' duration is masked.
fn settle(raw: &mut slotgate_tests::RawConn) -> String {
    std::thread::sleep(Duration::from_millis(300));
    raw.0.set_nonblocking(true).ok();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(k) = std::io::Read::read(&mut raw.0, &mut buf) {
        if k == 0 {
            break;
        }
        got.extend_from_slice(&buf[..k]);
    }
    raw.0.set_nonblocking(false).ok();
    let text = String::from_utf8_lossy(&got).into_owned();
    match text.find("duration_ms\r\n:") {
        Some(at) => {
            let end = text[at + 14..].find("\r\n").map_or(text.len(), |e| at + 14 + e);
            format!("{}<ms>{}", &text[..at + 14], &text[end..])
        }
        None => text,
    }
}

/// A busy function: others get FUNCTION KILL's -BUSY, SCRIPT KILL is refused, FUNCTION STATS
/// shows it, FUNCTION KILL stops it unless it wrote; a library looping at load times out.
#[test]
fn busy_function_and_kill() {
    if !require_tool("redis-server") {
        return;
    }
    let mut transcripts = Vec::new();
    for server in [Server::node(&["--busy-reply-threshold", "100"]), Server::redis(&["--busy-reply-threshold", "100"])]
    {
        let mut c = server.conn();
        let mut t = vec![format!("{:?}", run(&mut c, &[b"FUNCTION", b"LOAD", b"#!lua name=loop\nwhile true do end"]))];
        run(&mut c, &[b"FUNCTION", b"LOAD", SPIN]).unwrap();
        let (mut runner, mut other, mut other3) = (server.raw(), server.raw(), server.raw());
        other3.send(&slotgate_tests::resp(&[b"HELLO", b"3"]));
        settle(&mut other3);
        runner.send(&slotgate_tests::resp(&[b"FCALL", b"spin", b"1", b"k", b"arg"]));
        std::thread::sleep(Duration::from_millis(300));
        other3.send(&slotgate_tests::resp(&[b"FUNCTION", b"STATS"]));
        t.push(settle(&mut other3));
        for cmd in [&[&b"PING"[..]][..], &[b"SCRIPT", b"KILL"], &[b"FUNCTION", b"STATS"], &[b"FUNCTION", b"KILL"]] {
            other.send(&slotgate_tests::resp(cmd));
            t.push(settle(&mut other));
        }
        t.push(settle(&mut runner));
        runner.send(&slotgate_tests::resp(&[b"FCALL", b"wspin", b"0"]));
        std::thread::sleep(Duration::from_millis(300));
        for cmd in [&[&b"FUNCTION"[..], b"KILL"][..], &[b"FUNCTION", b"LIST"]] {
            other.send(&slotgate_tests::resp(cmd));
            t.push(settle(&mut other));
        }
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
}

/// In cluster mode: `no-cluster` functions are refused, declared keys must share a slot, keys
/// a function reaches must stay in its slot unless `allow-cross-slot-keys`.
#[test]
fn cluster_mode_flags() {
    if !require_tool("redis-server") {
        return;
    }
    let lib: &[u8] = b"#!lua name=cl
redis.register_function{function_name='nc', callback=function() return 1 end, flags={'no-cluster'}}
redis.register_function('cross', function(keys) redis.call('set', keys[1], 1) return redis.call('set', 'other', 2) end)
redis.register_function{function_name='crossok', callback=function(keys) redis.call('set', keys[1], 1) return redis.call('set', 'other', 2) end, flags={'allow-cross-slot-keys'}}
redis.register_function('same', function(keys) redis.call('set', keys[1], 1) return redis.call('get', '{a}b') end)
redis.register_function('undeclared', function() return redis.call('set', 'foo', 'bar') end)";
    let start = |node: bool| {
        let bus = slotgate_tests::free_port().to_string();
        let args = ["--cluster-enabled", "yes", "--cluster-port", &bus];
        let s = if node { Server::node(&args) } else { Server::redis(&args) };
        let mut c = s.conn();
        run(&mut c, &[b"CLUSTER", b"ADDSLOTSRANGE", b"0", b"16383"]).unwrap();
        assert!(wait_until(Duration::from_secs(10), || {
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut c).unwrap_or_default();
            info.contains("cluster_state:ok")
        }));
        s
    };
    let (node, redis) = (start(true), start(false));
    let (mut n, mut r) = (node.conn(), redis.conn());
    let lines: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"LOAD", lib],
        vec![b"FCALL", b"nc", b"0"],
        vec![b"FCALL", b"cross", b"1", b"{a}x"],
        vec![b"FCALL", b"crossok", b"1", b"{a}x"],
        vec![b"FCALL", b"same", b"1", b"{a}x"],
        vec![b"FCALL", b"same", b"2", b"{a}x", b"zzz"],
        vec![b"FCALL", b"undeclared", b"0"],
        vec![b"GET", b"other"],
    ];
    compare(&mut n, &mut r, &lines);
}

/// Over maxmemory a writing function needs `allow-oom`; `no-writes` ones run.
#[test]
fn allow_oom_over_maxmemory() {
    if !require_tool("redis-server") {
        return;
    }
    let lib: &[u8] = b"#!lua name=oom
redis.register_function('w', function(keys) return redis.call('set', keys[1], 'v') end)
redis.register_function{function_name='r', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}
redis.register_function{function_name='ok', callback=function(keys) return redis.call('set', keys[1], 'v') end, flags={'allow-oom'}}";
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut n, mut r) = (node.conn(), redis.conn());
    let lines: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"LOAD", lib],
        vec![b"CONFIG", b"SET", b"maxmemory", b"1"],
        vec![b"FCALL", b"w", b"1", b"k"],
        vec![b"FCALL", b"r", b"1", b"k"],
        vec![b"FCALL", b"ok", b"1", b"k"],
        vec![b"MULTI"],
        vec![b"FCALL", b"w", b"1", b"k2"],
        vec![b"EXEC"],
        vec![b"CONFIG", b"SET", b"maxmemory", b"0"],
        vec![b"FCALL", b"w", b"1", b"k"],
    ];
    compare(&mut n, &mut r, &lines);
}

/// slotgate-node replicating a redis-server master: the libraries of its full sync, then
/// FUNCTION LOAD/DELETE and FCALL's effects from its stream.
#[test]
fn replica_of_redis_gets_libraries() {
    if !require_tool("redis-server") {
        return;
    }
    let master = Server::redis(&[]);
    let mut m = master.conn();
    run(&mut m, &[b"FUNCTION", b"LOAD", LIB]).unwrap();
    let replica = Server::node(&[]);
    let mut rc = replica.conn();
    let port = master.port.to_string();
    run(&mut rc, &[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut rc).unwrap_or_default();
        info.contains("master_link_status:up")
    }));
    run(&mut m, &[b"FUNCTION", b"LOAD", LIMITER]).unwrap();
    assert_eq!(run(&mut m, &[b"FCALL", b"hit", b"1", b"u", b"5", b"1000"]).unwrap(), Value::Int(1));
    assert_eq!(run(&mut m, &[b"FCALL", b"setter", b"1", b"k", b"v"]).unwrap(), Value::Okay);
    assert!(wait_until(Duration::from_secs(10), || {
        run(&mut rc, &[b"FCALL_RO", b"getter", b"1", b"k"]).ok() == Some(Value::BulkString(b"v".to_vec()))
    }));
    assert_eq!(run(&mut rc, &[b"FCALL_RO", b"peek", b"1", b"u"]).unwrap(), Value::BulkString(b"1".to_vec()));
    assert_eq!(list_of(&mut rc), list_of(&mut m));
    run(&mut m, &[b"FUNCTION", b"DELETE", b"mylib"]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || list_of(&mut rc) == list_of(&mut m)));
}
