//! Client-side caching on slotgate-node against Debian's redis-server 7.0: the same scripted
//! sessions (several raw connections, RESP3 with HELLO 3 or RESP2 with REDIRECT to a
//! connection subscribed to `__redis__:invalidate`) run on a fresh node and a fresh
//! redis-server, and every connection must receive the same frames, invalidation messages
//! included: after writes, expiry, FLUSHALL, scripts, MULTI, NOLOOP, OPTIN/OPTOUT with CLIENT
//! CACHING, BCAST prefixes; CLIENT TRACKINGINFO/GETREDIR and the error texts. Eviction and
//! `tracking-table-max-keys` pick keys at random, so there each server is checked against the
//! rule (every key that left got exactly one invalidation) and the counts are compared.
//! Last, redis-py's own client-side cache (`protocol=3`, `cache_config`) must keep returning
//! fresh values while another client writes, expires and evicts the cached keys.

use std::time::Duration;

use slotgate_tests::{ensure_redis_py, py_dir, require_tool, Server};

#[path = "node_tracking/harness.rs"]
mod harness;
use harness::{differential, Conn};

#[test]
fn tracking_commands_replies_and_errors() {
    differential(
        "
        a CLIENT TRACKINGINFO
        a CLIENT GETREDIR
        a CLIENT TRACKING
        a CLIENT TRACKING maybe
        a CLIENT TRACKING on foo
        a CLIENT TRACKING on redirect
        a CLIENT TRACKING on redirect x
        a CLIENT TRACKING on redirect 0
        a CLIENT TRACKING on redirect -1
        a CLIENT TRACKING on redirect 999999
        a CLIENT TRACKING on redirect {b} redirect {b}
        a CLIENT TRACKING on prefix a
        a CLIENT TRACKING on optin optout
        a CLIENT TRACKING on bcast optin
        a CLIENT TRACKING on bcast optout
        a CLIENT TRACKING on bcast prefix a prefix ab
        a CLIENT TRACKING on bcast prefix ab prefix a
        a CLIENT TRACKING off redirect x
        a CLIENT CACHING yes
        a CLIENT CACHING
        a CLIENT CACHING yes no
        a CLIENT TRACKINGINFO x
        a CLIENT GETREDIR x
        a CLIENT TRACKING off
        a CLIENT TRACKINGINFO
        a CLIENT TRACKING on optin
        a CLIENT CACHING no
        a CLIENT CACHING maybe
        a CLIENT TRACKINGINFO
        a CLIENT CACHING yes
        a CLIENT TRACKINGINFO
        a CLIENT TRACKING on optout
        a CLIENT TRACKING on bcast
        a CLIENT TRACKING on noloop
        a CLIENT TRACKINGINFO
        a FLAGS
        a CLIENT TRACKING off
        a CLIENT TRACKING on optout redirect {b}
        a CLIENT CACHING yes
        a CLIENT CACHING no
        a CLIENT TRACKINGINFO
        a CLIENT GETREDIR
        a FLAGS
        a CLIENT TRACKING off
        a CLIENT GETREDIR
        a FLAGS
        a CLIENT TRACKING on bcast prefix p: prefix q noloop
        a CLIENT TRACKING on bcast prefix pq
        a CLIENT TRACKING on bcast prefix p
        a CLIENT TRACKING on bcast prefix r
        a CLIENT TRACKINGINFO
        a FLAGS
        a CLIENT TRACKING on
        a INFO tracking_clients
        a INFO tracking_total_prefixes
        a CLIENT TRACKING off
        a INFO tracking_clients
        a INFO tracking_total_prefixes
        !c HELLO 3
        c CLIENT TRACKINGINFO
        c CLIENT TRACKING on bcast prefix x prefix y
        c CLIENT TRACKINGINFO
        c CLIENT TRACKING off
        c CLIENT TRACKINGINFO
        a CONFIG GET tracking-table-max-keys
        a CONFIG SET tracking-table-max-keys -1
        a CONFIG SET tracking-table-max-keys 1k
        a CONFIG SET tracking-table-max-keys 10
        a CONFIG GET tracking-table-max-keys
        a COMMAND INFO client|tracking client|caching client|trackinginfo client|getredir
        ",
        &[],
    );
}

#[test]
fn default_mode_invalidations() {
    differential(
        "
        !a HELLO 3
        a CLIENT TRACKING on
        b SET k1 v
        b HSET h f v
        b RPUSH l a b
        b SADD s m
        b ZADD z 1 m
        b XADD x 1-1 f v
        a GET k1
        a MGET k2 k3
        a HGET h f
        a LRANGE l 0 -1
        a SMEMBERS s
        a ZRANGE z 0 -1
        a XRANGE x - +
        a EXISTS n1 n2
        a STRLEN k4
        a INFO tracking_total_keys
        a INFO tracking_total_items
        b SET k1 w
        a READ
        b SET k1 again
        a READ
        b MSET k2 1 k3 2 k9 3
        a READ
        b HSET h f w
        b LPUSH l c
        b SREM s m
        b ZINCRBY z 1 m
        b XADD x 2-1 f v
        b SET n1 1
        b APPEND k4 x
        b INCR untracked
        a READ
        a INFO tracking_total_keys
        a GET k1
        a SET k1 mine
        a GET k1
        b RENAME k1 k5
        a READ
        a GET k6
        b SET k6 v EX 100
        b EXPIRE k6 200
        a READ
        a GET k6
        b PERSIST k6
        a READ
        a GET k6
        b DEL k6
        a READ
        a GET k7
        b SET k7 v NX
        a READ
        a GET k7
        b SET k7 v2 NX
        a READ
        a GETDEL k7
        b SET k7 v3
        a READ
        a FLAGS
        a CLIENT TRACKING off
        a FLAGS
        a GET k8
        b SET k8 1
        a READ
        ",
        &[],
    );
}

#[test]
fn noloop_optin_optout_and_caching() {
    differential(
        "
        !a HELLO 3
        a CLIENT TRACKING on noloop
        a GET k1
        a SET k1 1
        a READ
        b SET k1 2
        a READ
        a CLIENT TRACKING off
        a CLIENT TRACKING on optin
        a GET k2
        b SET k2 1
        a READ
        a CLIENT CACHING yes
        a GET k2
        b SET k2 2
        a READ
        a CLIENT CACHING yes
        a CLIENT ID
        a GET k3
        a GET k4
        b MSET k3 1 k4 1
        a READ
        a CLIENT CACHING yes
        a MULTI
        a GET k5
        a GET k6
        a EXEC
        a GET k7
        b MSET k5 1 k6 1 k7 1
        a READ
        a CLIENT CACHING yes
        a FOO
        a GET k8
        b SET k8 1
        a READ
        a CLIENT TRACKING off
        a CLIENT TRACKING on optout
        a GET o1
        a CLIENT CACHING no
        a GET o2
        a GET o3
        b MSET o1 1 o2 1 o3 1
        a READ
        a CLIENT TRACKINGINFO
        ",
        &[],
    );
}

#[test]
fn transactions_scripts_and_flush() {
    differential(
        "
        !a HELLO 3
        !c HELLO 3
        a CLIENT TRACKING on
        c CLIENT TRACKING on
        a GET m1
        a MULTI
        a SET m1 2
        a GET m2
        a INCR m3
        a EXEC
        a READ
        b SET m2 1
        a READ
        a EVAL return(redis.call('get',KEYS[1])) 1 e1
        a EVAL return(1) 1 e2
        a EVAL return(redis.call('set',KEYS[1],'x')) 1 e3
        a EVAL return(redis.call('get','e4')) 0
        a EVAL_RO return(redis.call('get','e5')) 1 e6
        b MSET e1 1 e2 2 e3 3 e4 4 e5 5 e6 6
        a READ
        a GET e7
        c GET e7
        b EVAL return(redis.call('set',KEYS[1],'x')) 1 e7
        a READ
        c READ
        a GET e8
        a EVAL return(redis.call('set',KEYS[1],'x')) 1 e8
        a READ
        a GET f1
        c GET f2
        a INFO tracking_total_keys
        b FLUSHALL
        a READ
        c READ
        a INFO tracking_total_keys
        a INFO tracking_total_items
        a GET f1
        a FLUSHDB
        c READ
        a MULTI
        a GET f3
        a FLUSHALL
        a EXEC
        c READ
        b SET f3 1
        a READ
        ",
        &[],
    );
}

#[test]
fn resp2_redirection_and_broken_redirect() {
    differential(
        "
        r SUBSCRIBE __redis__:invalidate
        a CLIENT TRACKING on redirect {r}
        a GET k1
        b SET k1 1
        r READ
        a READ
        a CLIENT GETREDIR
        a CLIENT TRACKINGINFO
        a FLAGS
        a GET k2
        b FLUSHALL
        r READ
        !t HELLO 3
        t CLIENT TRACKING on redirect {r}
        t GET k3
        b SET k3 1
        r READ
        t READ
        b FLUSHALL
        r READ
        !p HELLO 3
        u CLIENT TRACKING on redirect {p}
        u GET k4
        b SET k4 1
        p READ
        n CLIENT TRACKING on
        n GET k5
        b SET k5 1
        n READ
        !d CLIENT ID
        v CLIENT TRACKING on redirect {d}
        !w HELLO 3
        w CLIENT TRACKING on redirect {d}
        v GET k6
        w GET k6
        d QUIT
        b SET k6 1
        v READ
        w READ
        v CLIENT TRACKINGINFO
        w CLIENT TRACKINGINFO
        v FLAGS
        w FLAGS
        w GET k6
        b SET k6 2
        w READ
        w CLIENT TRACKING on redirect {b}
        w CLIENT TRACKINGINFO
        ",
        &[],
    );
}

#[test]
fn broadcast_prefixes() {
    differential(
        "
        !a HELLO 3
        !e HELLO 3
        !f HELLO 3
        a CLIENT TRACKING on bcast prefix p: prefix q
        e CLIENT TRACKING on bcast
        f CLIENT TRACKING on bcast prefix p: noloop
        a INFO tracking_total_prefixes
        b MSET p:1 1 q:2 2 z 3 p:0 0
        a READ
        e READ
        f READ
        f SET p:5 5
        f MSET p:6 6 x 1
        a READ
        e READ
        f READ
        a SET q1 1
        a READ
        a CLIENT TRACKING on bcast prefix r
        b MSET r:x 1 p:3 1 p:2 2
        a READ
        a GET p:3
        a INFO tracking_total_keys
        b DEL p:3 r:x q1
        a READ
        e READ
        b FLUSHALL
        a READ
        e READ
        f READ
        a CLIENT TRACKING off
        a INFO tracking_total_prefixes
        b SET p:9 1
        a READ
        f READ
        ",
        &[],
    );
}

#[test]
fn active_expiry_invalidates() {
    differential(
        "
        !a HELLO 3
        a CLIENT TRACKING on
        b SET k1 v PX 300
        b HSET h f v
        b PEXPIRE h 1200
        a GET k1
        a HGETALL h
        a WAITPUSH 5
        a WAITPUSH 5
        a READ
        a INFO tracking_total_keys
        !e HELLO 3
        e CLIENT TRACKING on bcast prefix t:
        b SET t:1 v PX 200
        e READ
        e WAITPUSH 5
        ",
        &[],
    );
}

#[test]
fn multi_key_writes_invalidate_what_changed() {
    differential(
        "
        !a HELLO 3
        a CLIENT TRACKING on
        b MSET k1 1 s1 x
        b SADD set1 a b
        b SADD set2 b c
        b RPUSH l1 a b
        a MGET k1 k2 s1 s2 d1 d2 c1 c2
        a SCARD set1
        a SCARD set2
        a SCARD set3
        a LRANGE l1 0 -1
        a LRANGE l2 0 -1
        b DEL k1 k2
        a READ
        b SINTERSTORE set3 set1 set2
        a READ
        b SMOVE set1 set2 a
        a READ
        b LMOVE l1 l2 LEFT RIGHT
        a READ
        b COPY s1 c1
        b COPY s1 c1
        a READ
        b RENAMENX s1 c1
        a READ
        b MSETNX d1 1 c2 2
        a READ
        b BITOP OR d2 s1 s2
        a READ
        b SORT l2 ALPHA STORE c2
        a READ
        b EXPIRE nokey 10
        b SREM set3 nomember
        a READ
        a LRANGE q 0 -1
        !w CLIENT ID
        w SEND BLPOP q 5
        b RPUSH q x
        a READ
        w WAITPUSH 5
        b SETRANGE s2 0 x
        b EXPIRE s2 0
        a READ
        ",
        &[],
    );
}

/// The keys named by the invalidation pushes among `frames` (`None` for a flush).
fn invalidated(frames: &[String]) -> Vec<Option<String>> {
    let mut keys = Vec::new();
    for f in frames.iter().filter(|f| f.starts_with(">2\r\n$10\r\ninvalidate\r\n")) {
        let body = &f[">2\r\n$10\r\ninvalidate\r\n".len()..];
        if body == "_\r\n" {
            keys.push(None);
            continue;
        }
        // *n then $len key pairs.
        let mut lines = body.split("\r\n").skip(1);
        while let (Some(_len), Some(key)) = (lines.next(), lines.next()) {
            keys.push(Some(key.to_string()));
        }
    }
    keys
}

/// Sends a command on a RESP3 connection and reads up to its reply, keeping the pushes.
fn call(c: &mut Conn, args: &[&[u8]], pushes: &mut Vec<String>) -> String {
    c.send(args);
    for _ in 0..100_000 {
        let f = c.frame(Duration::from_secs(10)).expect("a reply");
        if f.starts_with('>') {
            pushes.push(f);
        } else {
            return f;
        }
    }
    panic!("no reply among the pushes");
}

fn info_field(c: &mut Conn, field: &str) -> i64 {
    let info = call(c, &[b"INFO", b"everything"], &mut Vec::new());
    let prefix = format!("{field}:");
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {field}"))
}

/// On one server: a tracking client reads every key a writer sets while `maxmemory` evicts at
/// random; each evicted key must be invalidated exactly once and no other key at all.
/// Returns (keys evicted, keys invalidated).
fn eviction_rule(server: &Server) -> (i64, usize) {
    let (mut a, mut b) = (Conn::open(server.port), Conn::open(server.port));
    let mut pushes = Vec::new();
    call(&mut a, &[b"HELLO", b"3"], &mut pushes);
    assert_eq!(call(&mut a, &[b"CLIENT", b"TRACKING", b"on"], &mut pushes), "+OK\r\n");
    call(&mut b, &[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-random"], &mut pushes);
    let used = info_field(&mut b, "used_memory");
    let limit = (used + 2 * 1024 * 1024).to_string();
    call(&mut b, &[b"CONFIG", b"SET", b"maxmemory", limit.as_bytes()], &mut pushes);
    let value = vec![b'x'; 1000];
    let keys: Vec<String> = (0..6000).map(|i| format!("ev:{i}")).collect();
    // Evictions run before every command, reads included (performEvictions): a key evicted
    // before the tracking client's read was never tracked, and its read finds nothing.
    let mut never_tracked = Vec::new();
    for k in &keys {
        call(&mut b, &[b"SET", k.as_bytes(), &value], &mut pushes);
        if call(&mut a, &[b"GET", k.as_bytes()], &mut pushes) == "_\r\n" {
            never_tracked.push(k.clone());
        }
    }
    call(&mut b, &[b"CONFIG", b"SET", b"maxmemory", b"0"], &mut pushes);
    pushes.extend(a.until_sentinel());
    let evicted = info_field(&mut b, "evicted_keys");
    let mut got: Vec<String> = invalidated(&pushes).into_iter().map(|k| k.expect("no flush here")).collect();
    got.sort();
    let mut gone: Vec<String> = Vec::new();
    for k in &keys {
        if call(&mut b, &[b"EXISTS", k.as_bytes()], &mut Vec::new()) == ":0\r\n" {
            gone.push(k.clone());
        }
    }
    gone.sort();
    let tracked_gone: Vec<String> = gone.iter().filter(|k| !never_tracked.contains(k)).cloned().collect();
    assert_eq!(got, tracked_gone, "the invalidated keys are exactly the evicted tracked ones (port {})", server.port);
    assert_eq!(gone.len() as i64, evicted, "every eviction was of one of the keys");
    (evicted, got.len())
}

#[test]
fn eviction_invalidates_each_evicted_key() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (n_evicted, _) = eviction_rule(&node);
    let (r_evicted, _) = eviction_rule(&redis);
    assert!(n_evicted > 0 && r_evicted > 0, "both evicted (node {n_evicted}, redis {r_evicted})");
}

/// On one server: with `tracking-table-max-keys 10` a client reads 30 keys, then pings;
/// returns the invalidated keys (in order of arrival) and `tracking_total_keys` after each phase.
fn table_limit(server: &Server) -> (usize, i64, usize, i64, bool) {
    let mut a = Conn::open(server.port);
    let mut pushes = Vec::new();
    call(&mut a, &[b"HELLO", b"3"], &mut pushes);
    call(&mut a, &[b"CONFIG", b"SET", b"tracking-table-max-keys", b"10"], &mut pushes);
    call(&mut a, &[b"CLIENT", b"TRACKING", b"on"], &mut pushes);
    let keys: Vec<String> = (0..30).map(|i| format!("lim:{i}")).collect();
    for k in &keys {
        call(&mut a, &[b"GET", k.as_bytes()], &mut pushes);
    }
    pushes.extend(a.until_sentinel());
    let first = invalidated(&pushes).len();
    let after_reads = info_field(&mut a, "tracking_total_keys");
    pushes.extend(a.until_sentinel());
    let all = invalidated(&pushes);
    let total = info_field(&mut a, "tracking_total_keys");
    let mut distinct: Vec<&Option<String>> = all.iter().collect();
    distinct.sort();
    distinct.dedup();
    let all_read = all.iter().all(|k| k.as_ref().is_some_and(|k| keys.contains(k)));
    (first, after_reads, all.len(), total, distinct.len() == all.len() && all_read)
}

#[test]
fn tracking_table_max_keys_invalidates_the_excess() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let got = table_limit(&node);
    let want = table_limit(&redis);
    assert_eq!(
        got, want,
        "(invalidated after the reads, keys left, invalidated in all, keys left, distinct read keys)"
    );
    assert!(want.4 && want.2 > 0);
}

/// redis-py's client-side cache against `server`.
fn redis_py_cache(server: &Server, mode: &str) {
    let out = std::process::Command::new("python3")
        .arg(py_dir().join("client_cache.py"))
        .arg(server.port.to_string())
        .arg(mode)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with(&format!("OK {mode}")),
        "redis-py cache ({mode}, port {}) failed:\nstdout: {stdout}\nstderr: {}",
        server.port,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{mode} port {}: {}", server.port, stdout.trim());
}

#[test]
fn redis_py_client_side_cache_stays_fresh() {
    if !require_tool("python3") {
        return;
    }
    ensure_redis_py();
    let node = Server::node(&[]);
    redis_py_cache(&node, "basic");
    redis_py_cache(&node, "evict");
    // The same script passes on redis-server 7.0 (the control).
    if require_tool("redis-server") {
        let redis = Server::redis(&[]);
        redis_py_cache(&redis, "basic");
        redis_py_cache(&redis, "evict");
    }
}

#[test]
fn functions_track_like_scripts() {
    differential(
        r"
        !a HELLO 3
        =b FUNCTION LOAD #!lua\sname=lib\nredis.register_function{function_name='rd',callback=function(k,a)\sreturn\sredis.call('get',k[1])\send,flags={'no-writes'}}\nredis.register_function('wr',function(k,a)\sreturn\sredis.call('set',k[1],a[1])\send)\nredis.register_function('other',function(k,a)\sreturn\sredis.call('get','f9')\send)
        a CLIENT TRACKING on
        a FCALL rd 1 f1
        a FCALL_RO rd 1 f2
        a FCALL other 1 f3
        a FCALL rd 0
        a GET f4
        a FCALL wr 1 f4 x
        b MSET f1 1 f2 2 f3 3 f9 9
        a READ
        ",
        &[],
    );
}
