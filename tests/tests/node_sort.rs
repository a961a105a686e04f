//! SORT and SORT_RO against redis-server 7.0: a table of command lines (every option, numeric
//! and alphabetic, BY/GET patterns over strings and hash fields, STORE, the errors) run on a
//! fresh slotgate-node and a fresh redis-server with replies compared exactly; the ACL and
//! cluster-mode refusals of key patterns; and a seeded random differential of SORT calls over
//! random lists, sets and sorted sets.

use std::time::Duration;

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{require_tool, rng::Rng, wait_until, Server};

/// Splits a table line on whitespace; a double-quoted argument may hold spaces (`""` is empty).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (word, tail) = match rest.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => rest.split_once(char::is_whitespace).unwrap_or((rest, "")),
        };
        out.push(word.to_string());
        rest = tail.trim_start();
    }
    out
}

/// A reply in comparable form: the value or the error's full text.
fn run_words(c: &mut redis::Connection, w: &[String]) -> Result<Value, String> {
    let mut command = cmd(&w[0]);
    for a in &w[1..] {
        command.arg(a.as_str());
    }
    let r: RedisResult<Value> = command.query(c);
    r.map_err(|e| format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

/// Runs every line on both connections; returns the mismatches as printable text.
fn compare_on(a: &mut redis::Connection, b: &mut redis::Connection, lines: &[String]) -> Vec<String> {
    let mut mismatches = Vec::new();
    for line in lines {
        let w = words(line);
        let got = run_words(a, &w);
        let want = run_words(b, &w);
        if got != want {
            mismatches.push(format!("{line}\n    node:  {got:?}\n    redis: {want:?}"));
        }
    }
    mismatches
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

fn table() -> Vec<String> {
    let mut t = lines(
        r#"
RPUSH nums 3 1 2 10 -5 2.5 1e2 0x10
SORT nums
SORT nums DESC
SORT nums ASC
SORT nums LIMIT 0 3
SORT nums LIMIT 2 3
SORT nums LIMIT 6 100
SORT nums LIMIT 100 1
SORT nums LIMIT -5 2
SORT nums LIMIT 1 0
SORT nums LIMIT 1 -1
SORT nums LIMIT 0 -7
SORT nums DESC LIMIT 1 2
SORT nums ALPHA
SORT nums ALPHA DESC
SORT nums ALPHA LIMIT 1 3
SORT_RO nums
SORT_RO nums DESC LIMIT 0 2
SORT nums LIMIT 9223372036854775807 9223372036854775807
SORT nums LIMIT -9223372036854775808 2
SORT nums LIMIT 0 9223372036854775807
SORT nums LIMIT 2 -9223372036854775808
SORT nums BY nosort LIMIT 9223372036854775807 1
SORT nums BY nosort LIMIT 1 9223372036854775807
SORT nums LIMIT 0 1 LIMIT 3 1
RPUSH words banana Apple cherry apple 10 9 ""
SORT words
SORT words ALPHA
SORT words ALPHA DESC
SORT words ALPHA LIMIT 2 2
SORT_RO words ALPHA
RPUSH mixed 1 two 3
SORT mixed
SORT mixed ALPHA
SORT mixed DESC
RPUSH odd2 " 4" "" +3 .5 5. inf -inf
SORT odd2
SORT odd2 DESC
RPUSH odd3 nan 1
SORT odd3
RPUSH odd4 "1 " 1
SORT odd4
RPUSH dup 2 1 2 1 3
SORT dup
SORT dup DESC ALPHA
# BY over string keys, hash fields, a constant, missing keys
MSET w_3 30 w_1 10 w_2 20 w_10 -1 w_-5 5
SORT nums BY w_*
SORT nums BY w_* DESC
SORT nums BY w_* LIMIT 1 3
SORT nums BY w_* ALPHA
SORT nums BY w_* GET #
SORT nums BY w_* GET # GET w_*
SORT nums BY w_* GET w_* GET # GET nokey_*
SORT nums BY nosort
SORT nums BY nosort DESC
SORT nums BY nosort LIMIT 2 3
SORT nums BY nosort DESC LIMIT 2 3
SORT nums BY nosort LIMIT 10 3
SORT nums BY nosort LIMIT 0 0
SORT nums BY nosort GET #
SORT nums BY nosort BY w_*
SORT nums BY w_* BY nosort
SORT nums BY constant ALPHA
HSET h_banana f 3 g x
HSET h_Apple f 1 g y
HSET h_cherry f 2
HSET h_apple f 10
HSET h_10 f -3
SORT words BY h_*->f
SORT words BY h_*->f ALPHA
SORT words BY h_*->g ALPHA
SORT words BY h_*->f GET h_*->g GET # GET h_*->f
SORT words BY h_*->f DESC LIMIT 1 2 GET h_*->g
SORT words BY h_*-> ALPHA
SORT words GET h_*->
SORT words ALPHA GET h_*
SORT words ALPHA GET hh->f_*
SET s_banana notnum
SORT words BY s_*
SORT words BY s_* ALPHA
SORT words BY nokey_*
SORT words BY nokey_* DESC
SORT words GET #
SORT words ALPHA GET #
SORT words ALPHA GET # GET
SORT words ALPHA GET fixed
# GET of keys holding other types
RPUSH l_apple x
SORT words ALPHA GET l_*
SORT words ALPHA GET l_*->f
# sets: integer and string, nosort on an intset keeps its order
SADD iset 5 3 9 -1 100
SORT iset
SORT iset DESC LIMIT 1 2
SORT iset BY nosort
SORT iset BY nosort LIMIT 1 2
SORT iset BY nosort DESC
SORT iset BY w_*
SORT iset ALPHA
SADD sset pear fig kiwi date 7
SORT sset ALPHA
SORT sset ALPHA DESC
SORT sset
SORT words BY h_*->f ALPHA DESC
SORT sset BY nosort STORE sdst
LRANGE sdst 0 -1
SORT sset BY nosort DESC LIMIT 1 2 STORE sdst
LRANGE sdst 0 -1
EVAL "return redis.call('sort', KEYS[1], 'by', 'nosort')" 1 sset
EVAL "return redis.call('sort', KEYS[1], 'by', 'nosort', 'desc', 'limit', '1', '3')" 1 sset
EVAL "return redis.call('sort_ro', KEYS[1], 'by', 'nosort', 'alpha')" 1 sset
# sorted sets: nosort keeps the score order, LIMIT cuts the range
ZADD zs 3 c 1 a 2 b 5 e 4 d 2 bb
SORT zs ALPHA
SORT zs ALPHA DESC
SORT zs BY nosort
SORT zs BY nosort DESC
SORT zs BY nosort LIMIT 1 3
SORT zs BY nosort DESC LIMIT 1 3
SORT zs BY nosort LIMIT 5 10
SORT zs BY nosort LIMIT 10 10
SORT zs BY nosort LIMIT -2 2
SORT zs BY nosort GET h_*->f GET #
SORT zs
OBJECT ENCODING zs
ZADD zn 1 10 2 9 3 8
OBJECT ENCODING zn
SORT zn
OBJECT ENCODING zn
SORT_RO zn BY nosort DESC
# STORE: a list replacing any type, its TTL gone; an empty result deletes it
SORT nums STORE dst
LRANGE dst 0 -1
TYPE dst
SORT words ALPHA DESC STORE dst
LRANGE dst 0 -1
SORT words ALPHA GET h_*->g GET # STORE dst
LRANGE dst 0 -1
SORT nums BY w_* LIMIT 1 2 STORE dst
LRANGE dst 0 -1
SET dst str
EXPIRE dst 100
SORT zs BY nosort LIMIT 1 2 STORE dst
TYPE dst
TTL dst
SORT nums STORE nums
LRANGE nums 0 -1
SORT nokey STORE dst
EXISTS dst
SORT nokey STORE dst
SORT nums LIMIT 0 0 STORE dst2
EXISTS dst2
SORT nums STORE dst STORE dst3
EXISTS dst
LRANGE dst3 0 -1
SORT mixed STORE dst4
EXISTS dst4
SORT words ALPHA STORE dst5
LRANGE dst5 0 -1
# missing keys and wrong types
SORT nokey
SORT nokey DESC LIMIT 0 1
SORT nokey BY nosort
SORT_RO nokey ALPHA
SET str hello
SORT str
SORT_RO str
SORT str STORE dst
HSET hh a 1
SORT hh
# syntax and argument errors
SORT
SORT_RO
SORT nums LIMIT
SORT nums LIMIT 1
SORT nums LIMIT a 1
SORT nums LIMIT 1 b
SORT nums LIMIT 1.5 1
SORT nums BY
SORT nums GET
SORT nums STORE
SORT nums FOO
SORT nums ASC FOO
SORT nums FOO LIMIT a b
SORT nums LIMIT a b FOO
SORT_RO nums STORE dst
SORT_RO nums BY nosort STORE
SORT str FOO
SORT nums desc alpha by W_* get # get w_*
SORT nums desc alpha limit 0 2 by w_* get # get w_*
# Last: an out-of-range score leaves errno at ERANGE in redis-server 7.0, and its later
# SORTs of strings fail on that stale value.
RPUSH odd " 1" "" 1e-400
SORT odd
RPUSH odd5 1e400
SORT odd5
COMMAND GETKEYS SORT nums STORE dst BY w_* GET #
COMMAND GETKEYS SORT_RO nums BY w_*
COMMAND GETKEYS SORT nums
"#,
    );
    // A big sorted set (a skip list in Redis) and a big list.
    let members: Vec<String> = (0..150).map(|i| format!("{} m{:03}", (i * 37) % 50, i)).collect();
    t.push(format!("ZADD bigz {}", members.join(" ")));
    t.extend(lines(
        r#"
OBJECT ENCODING bigz
SORT bigz BY nosort LIMIT 40 5
SORT bigz BY nosort DESC LIMIT 40 5
SORT bigz ALPHA LIMIT 100 3
SORT bigz BY nosort STORE bigdst
LLEN bigdst
LINDEX bigdst 149
"#,
    ));
    let items: Vec<String> = (0..300).map(|i| ((i * 7919) % 1000).to_string()).collect();
    t.push(format!("RPUSH bigl {}", items.join(" ")));
    t.extend(lines(
        r#"
SORT bigl LIMIT 10 5
SORT bigl DESC LIMIT 0 3
SORT bigl ALPHA LIMIT 290 20
SORT bigl BY nosort DESC LIMIT 5 3
"#,
    ));
    t
}

#[test]
fn same_replies_as_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let t = table();
    assert!(t.len() >= 200, "table has {} lines", t.len());
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mismatches = compare_on(&mut node.conn(), &mut redis.conn(), &t);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn same_replies_as_redis_resp3_and_binary() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut a, mut b) = (node.conn(), redis.conn());
    for c in [&mut a, &mut b] {
        let _: Value = cmd("HELLO").arg(3).query(c).unwrap();
    }
    let t = lines(
        r#"
RPUSH l b a c
SET w_a 1
SORT l ALPHA GET w_* GET #
SORT l ALPHA BY w_*
SORT nokey
"#,
    );
    let mismatches = compare_on(&mut a, &mut b, &t);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    // Bytes after a NUL: C's string functions stop there (strtod, strcoll, strchr in patterns).
    let binary: Vec<Vec<&[u8]>> = vec![
        vec![b"RPUSH", b"nul", b"2\0x", b"1\0", b"a\0z", b"a\0b", b"10"],
        vec![b"SORT", b"nul", b"ALPHA"],
        vec![b"SORT", b"nul", b"ALPHA", b"STORE", b"nuldst"],
        vec![b"LRANGE", b"nuldst", b"0", b"-1"],
        vec![b"RPUSH", b"nuln", b"2\0x", b"1\0", b"10"],
        vec![b"SORT", b"nuln"],
        vec![b"SORT", b"nuln", b"BY", b"n\0*"],
        vec![b"SORT", b"nuln", b"GET", b"#\0x"],
        vec![b"SET", b"w_1\0", b"5"],
        vec![b"SORT", b"nuln", b"GET", b"w_*"],
    ];
    for line in &binary {
        let run = |c: &mut redis::Connection| -> Result<Value, String> {
            let mut command = cmd(std::str::from_utf8(line[0]).unwrap());
            for w in &line[1..] {
                command.arg(*w);
            }
            command.query(c).map_err(|e: redis::RedisError| e.to_string())
        };
        let (got, want) = (run(&mut a), run(&mut b));
        assert_eq!(got, want, "{:?}", line.iter().map(|w| String::from_utf8_lossy(w)).collect::<Vec<_>>());
    }
}

#[test]
fn acl_refuses_patterns_without_full_key_access() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let setup = lines(
        r#"
ACL SETUSER narrow on nopass +@all ~x*
ACL SETUSER readall on nopass +@all %R~* %W~x*
ACL SETUSER twosel on nopass +@all ~x* (~* +sort)
ACL SETUSER nosort on nopass +@all -sort ~x* (~* +get)
RPUSH xl 3 1 2
SET w_1 9
"#,
    );
    let m = compare_on(&mut node.conn(), &mut redis.conn(), &setup);
    assert!(m.is_empty(), "{}", m.join("\n"));
    let probes = lines(
        r#"
SORT xl BY w_*
SORT xl GET #
SORT xl GET w_*
SORT xl BY nosort
SORT xl
SORT xl BY w_* STORE xd
SORT_RO xl BY w_* GET #
SORT xl LIMIT a b BY w_*
SORT xl BY w_* LIMIT a b
"#,
    );
    for user in ["narrow", "readall", "twosel", "nosort"] {
        let (mut a, mut b) = (node.conn(), redis.conn());
        for c in [&mut a, &mut b] {
            let r: RedisResult<()> = cmd("AUTH").arg(user).arg("x").query(c);
            assert!(r.is_ok(), "AUTH {user}: {r:?}");
        }
        let m = compare_on(&mut a, &mut b, &probes);
        assert!(m.is_empty(), "user {user}: {} mismatches:\n{}", m.len(), m.join("\n"));
    }
}

fn cluster_ok(server: &Server) -> bool {
    let mut c = server.conn();
    let info: RedisResult<String> = cmd("CLUSTER").arg("INFO").query(&mut c);
    info.is_ok_and(|i| i.contains("cluster_state:ok"))
}

#[test]
fn cluster_mode_refuses_key_patterns_as_redis_7_0() {
    if !require_tool("redis-server") {
        return;
    }
    let args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"];
    let node = Server::node(&args);
    let redis = Server::redis(&args);
    for server in [&node, &redis] {
        let mut c = server.conn();
        let r: RedisResult<()> = cmd("CLUSTER").arg("ADDSLOTSRANGE").arg(0).arg(16383).query(&mut c);
        assert!(r.is_ok(), "ADDSLOTSRANGE: {r:?}");
        assert!(wait_until(Duration::from_secs(20), || cluster_ok(server)), "cluster_state:ok");
    }
    // Redis 7.0 refuses every BY pattern with `*` and every GET (even `#` and patterns with
    // the key's own hash tag); later versions allow same-slot patterns.
    let t = lines(
        r#"
RPUSH {l}x 3 1 2
SET {l}w_1 5
HSET {l}h_1 f 7
SORT {l}x
SORT {l}x DESC LIMIT 0 2
SORT {l}x ALPHA
SORT {l}x BY nosort
SORT {l}x BY nosort DESC LIMIT 1 1
SORT {l}x BY {l}w
SORT {l}x BY w_*
SORT {l}x BY {l}w_*
SORT {l}x BY {l}h_*->f
SORT {l}x GET #
SORT {l}x GET {l}w_*
SORT {l}x GET w_*
SORT {l}x GET {l}h_*->f
SORT {l}x BY nosort GET #
SORT {l}x FOO BY w_*
SORT {l}x BY w_* FOO
SORT {l}x GET # LIMIT a b
SORT_RO {l}x BY {l}w_*
SORT_RO {l}x GET #
SORT_RO {l}x
SORT_RO {l}x STORE {l}d
SORT {l}x STORE {l}d
LRANGE {l}d 0 -1
SORT {l}x STORE other
SORT {l}x STORE {l}d STORE other
SORT {l}x BY nosort STORE {l}d2
LRANGE {l}d2 0 -1
"#,
    );
    let m = compare_on(&mut node.conn(), &mut redis.conn(), &t);
    assert!(m.is_empty(), "{} mismatches:\n{}", m.len(), m.join("\n"));
}

const NUMBERS: &[&str] = &["-5", "0", "1", "2", "3", "7", "10", "11", "20", "100", "1.5", "-0.25", "1e3", "2.50", "-7"];
const WORDS: &[&str] = &["apple", "Banana", "cherry", "a", "b10", "b9", "Zed", "zed", "kiwi", "fig"];

/// Random keys: numeric and mixed lists, integer and string sets, sorted sets (ties in score
/// included), with weights for every element: `w_*` numeric (some missing), `u_*` unique
/// strings (ALPHA BY compares them, so no ties), `h_*` hashes, `bad_*` one non-number.
fn random_setup(rng: &mut Rng) -> Vec<Vec<String>> {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let all: Vec<&str> = NUMBERS.iter().chain(WORDS).copied().collect();
    let mut order: Vec<usize> = (0..all.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.index(i + 1));
    }
    for (n, e) in all.iter().enumerate() {
        if rng.chance(80) {
            cmds.push(vec!["SET".into(), format!("w_{e}"), format!("{}", rng.index(40) as i64 - 10)]);
        }
        cmds.push(vec!["SET".into(), format!("u_{e}"), format!("k{:03}", order[n])]);
        if rng.chance(70) {
            let f = format!("{}.{}", rng.index(30), rng.index(10));
            cmds.push(vec!["HSET".into(), format!("h_{e}"), "f".into(), f, "g".into(), format!("g{}", rng.index(5))]);
        }
        cmds.push(vec!["SET".into(), format!("bad_{e}"), if n == 3 { "x".into() } else { n.to_string() }]);
    }
    for k in 0..6 {
        let numeric = k % 2 == 0;
        let pool: Vec<&str> = if numeric { NUMBERS.to_vec() } else { all.clone() };
        let len = rng.index(25);
        let mut list = vec!["RPUSH".to_string(), format!("list{k}")];
        let mut set = vec!["SADD".to_string(), format!("set{k}")];
        let mut zset = vec!["ZADD".to_string(), format!("zset{k}")];
        for _ in 0..len {
            let e = rng.pick(&pool).to_string();
            list.push(e.clone());
            set.push(e.clone());
            zset.push(rng.index(6).to_string());
            zset.push(e);
        }
        if len > 0 {
            cmds.extend([list, set, zset]);
        }
    }
    // An integer set (an intset keeps its order for BY nosort).
    let int_pool: Vec<&str> = NUMBERS.iter().copied().filter(|n| n.parse::<i64>().is_ok()).collect();
    let ints: Vec<String> = (0..rng.index(12) + 1).map(|_| rng.pick(&int_pool).to_string()).collect();
    cmds.push([vec!["SADD".to_string(), "iset".into()], ints].concat());
    cmds
}

/// One random SORT call (and, after a STORE, an LRANGE of the destination).
fn random_sort(rng: &mut Rng) -> Vec<Vec<String>> {
    let keys = [
        "list0", "list1", "list2", "list3", "list4", "list5", "set0", "set1", "set2", "set3", "zset0", "zset1",
        "zset2", "zset3", "zset4", "iset", "nokey", "w_1",
    ];
    let key = rng.pick(&keys).to_string();
    let readonly = rng.chance(20);
    let mut c = vec![if readonly { "SORT_RO" } else { "SORT" }.to_string(), key.clone()];
    let mut opts: Vec<Vec<String>> = Vec::new();
    let alpha = rng.chance(40);
    let by = match rng.index(10) {
        0..=3 => None,
        4 => Some("nosort"),
        5 => Some(if alpha { "u_*" } else { "w_*" }),
        6 => Some("u_*"),
        7 => Some(if alpha { "u_*" } else { "h_*->f" }),
        8 => Some("bad_*"),
        _ => Some(if alpha { "u_*" } else { "nokey_*" }),
    };
    // ALPHA BY a pattern with ties (missing or equal values) leaves the order to the sort
    // algorithm; only `u_*` (unique, all present) is used then.
    let by = if alpha && by.is_some_and(|p| p != "nosort") { Some("u_*") } else { by };
    let store = !readonly && rng.chance(25);
    // A hash table set has no order Redis and the node share: BY nosort on one is compared
    // only where Redis sorts it anyway (STORE).
    let unordered = key.starts_with("set");
    let by = if by == Some("nosort") && unordered && !store { None } else { by };
    if let Some(p) = by {
        opts.push(vec!["BY".into(), p.into()]);
    }
    if alpha {
        opts.push(vec!["ALPHA".into()]);
    }
    match rng.index(3) {
        0 => opts.push(vec!["DESC".into()]),
        1 => opts.push(vec!["ASC".into()]),
        _ => {}
    }
    if rng.chance(40) {
        let off = rng.index(12) as i64 - 2;
        let cnt = rng.index(10) as i64 - 1;
        opts.push(vec!["LIMIT".into(), off.to_string(), cnt.to_string()]);
    }
    for _ in 0..rng.index(3) {
        let p = *rng.pick(&["#", "w_*", "h_*->f", "h_*->g", "h_*->nofield", "nokey_*", "u_*"]);
        opts.push(vec!["GET".into(), p.into()]);
    }
    if store {
        opts.push(vec!["STORE".into(), "dst".into()]);
    }
    for i in (1..opts.len()).rev() {
        let j = rng.index(i + 1);
        opts.swap(i, j);
    }
    c.extend(opts.into_iter().flatten());
    let mut out = vec![c];
    if store {
        out.push(vec!["LRANGE".into(), "dst".into(), "0".into(), "-1".into()]);
        out.push(vec!["EXISTS".into(), "dst".into()]);
    }
    out
}

#[test]
fn random_sorts_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let seed = std::env::var("SORT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    println!("SORT_SEED={seed}");
    let mut rng = Rng(seed);
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut a, mut b) = (node.conn(), redis.conn());
    let (mut sorts, mut errors, mut nonempty) = (0, 0, 0);
    let mut mismatches = Vec::new();
    let started = std::time::Instant::now();
    for round in 0..10 {
        for c in [&mut a, &mut b] {
            let _: Value = cmd("FLUSHALL").query(c).unwrap();
        }
        for line in random_setup(&mut rng) {
            let (x, y) = (run_words(&mut a, &line), run_words(&mut b, &line));
            assert_eq!(x, y, "setup {line:?}");
        }
        for _ in 0..60 {
            for line in random_sort(&mut rng) {
                sorts += usize::from(line[0].starts_with("SORT"));
                let (got, want) = (run_words(&mut a, &line), run_words(&mut b, &line));
                errors += usize::from(want.is_err());
                nonempty += usize::from(matches!(&want, Ok(Value::Array(v)) if v.len() > 1));
                if got != want {
                    mismatches
                        .push(format!("round {round}: {}\n    node:  {got:?}\n    redis: {want:?}", line.join(" ")));
                }
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "bounded in time");
    }
    println!("{sorts} sorts: {errors} errors, {nonempty} replies of several elements");
    assert!(sorts >= 500, "{sorts} sorts");
    assert!(mismatches.is_empty(), "seed {seed}: {} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
