//! Cross-slot commands through `slotgate-proxy`, against one redis-server as the reference: the
//! same command lines, with keys placed on different masters of a 3-master cluster (Redis's and
//! slotgate's, `on_both_clusters`), must get the same replies as on one Redis. Then the blocking
//! pops over several masters under concurrent pushes (every element received exactly once),
//! `--cross-slot refuse`, WAIT, and a legacy application through redis-py and ioredis. Faults
//! under cross-slot work are in `proxy_crossslot_faults.rs`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{
    ensure_ioredis, ensure_redis_py, js_dir, key_on, py_dir, require_tool, Cluster, Kind, Proxy, Server,
};

slotgate_tests::on_both_clusters!(
    cross_slot_commands_answer_as_one_redis,
    blocking_pops_over_three_masters_take_each_element_once,
    cross_slot_refuse_gives_crossslot,
    wait_counts_the_replicas_of_every_node_written,
    redis_py_and_ioredis_run_a_cross_slot_scenario,
    one_redis_connection_commands,
    hyperloglog_bitmap_and_geo_across_slots,
    functions_reach_every_master
);

/// Placeholders `$A`.. `$Z` in command lines, each a key on master `index % 3`.
fn keys() -> HashMap<String, String> {
    ('A'..='Z').enumerate().map(|(i, c)| (format!("${c}"), key_on(i % 3, &format!("k{c}:")))).collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    Exact,
    /// Compared as a sorted multiset (Redis leaves the order of set replies unspecified).
    Sorted,
}

fn order_of(name: &str) -> Order {
    match name.to_ascii_uppercase().as_str() {
        "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" => Order::Sorted,
        _ => Order::Exact,
    }
}

/// A reply in comparable form: the value (sorted where the order is unspecified) or the error.
fn run(c: &mut redis::Connection, words: &[String]) -> Result<Value, String> {
    let mut command = cmd(&words[0]);
    for a in &words[1..] {
        command.arg(a.as_str());
    }
    let r: RedisResult<Value> = command.query(c);
    match r {
        Ok(Value::Array(mut items)) if order_of(&words[0]) == Order::Sorted => {
            items.sort_by_key(|x| format!("{x:?}"));
            Ok(Value::Array(items))
        }
        Ok(v) => Ok(v),
        Err(e) => Err(format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or(""))),
    }
}

/// Every family of section 2 of the proxy's cross-slot work, with errors and edge cases.
const LINES: &str = r#"
SADD $A x y z
SADD $B y z w
SADD $C z q
SINTER $A $B
SINTER $A $B $C
SUNION $A $B $C
SDIFF $A $B $C
SDIFF $A $Z
SINTERCARD 2 $A $B
SINTERCARD 3 $A $B $C LIMIT 1
SINTERCARD 2 $A $B LIMIT -1
SINTERSTORE $D $A $B
SMEMBERS $D
SUNIONSTORE $D $A $B $C
SCARD $D
SDIFFSTORE $D $C $A $B
SMEMBERS $D
SDIFFSTORE $D $A $A
EXISTS $D
SET $E str
PEXPIRE $E 100000
SINTER $A $E
SUNIONSTORE $E $A $B
TTL $E
TYPE $E
SADD $G1 a b y
PEXPIRE $G1 100000
SINTERSTORE $G1 $G1 $B
TTL $G1
SMEMBERS $G1
SMOVE $A $B x
SMOVE $A $B nope
SMEMBERS $A
SMEMBERS $B
SMOVE $A $F y
SMEMBERS $F
SET $G str
SMOVE $A $G z
SMOVE $G $A z
SMEMBERS $A
ZADD $H 1 a 2 b 3 c
ZADD $I 10 b 20 c 30 d
ZUNION 2 $H $I WITHSCORES
ZUNION 2 $H $I WEIGHTS 2 0.5 AGGREGATE MAX WITHSCORES
ZINTER 2 $H $I WEIGHTS 2 3 AGGREGATE MIN WITHSCORES
ZINTER 2 $H $I
ZDIFF 2 $H $I WITHSCORES
ZINTERCARD 2 $H $I
ZINTERCARD 2 $H $I LIMIT 1
ZUNIONSTORE $J 2 $H $I AGGREGATE SUM
ZRANGE $J 0 -1 WITHSCORES
ZINTERSTORE $J 2 $H $I WEIGHTS 1 1
ZRANGE $J 0 -1 WITHSCORES
ZDIFFSTORE $J 2 $H $I
ZRANGE $J 0 -1 WITHSCORES
ZRANGESTORE $J $I 0 1
ZRANGE $J 0 -1 WITHSCORES
ZRANGESTORE $J $I (15 +inf BYSCORE
ZRANGE $J 0 -1 WITHSCORES
ZUNIONSTORE $J 2 $H $G
ZINTER 2 $H $A
ZUNION 2 $H $A WITHSCORES
SET $K ohmytext
SET $L mynewtext
LCS $K $L
LCS $K $L LEN
LCS $K $L IDX
LCS $K $L IDX MINMATCHLEN 4 WITHMATCHLEN
LCS $K $Z
LCS $K $H
SET $M v1
RENAME $M $N
GET $N
EXISTS $M
RENAME $M $N
SADD $O member
PEXPIRE $O 500000
RENAME $O $N
TYPE $N
SMEMBERS $N
EXISTS $O
SET $P x
RENAMENX $N $P
RENAMENX $N $Q
SMEMBERS $Q
RENAMENX $Z $R
COPY $Q $R
COPY $Q $R
SET $S other
COPY $Q $S
COPY $Q $S REPLACE
TYPE $S
COPY $Z $T
COPY $Q $T DB 0
COPY $Q $T BADOPTION
RPUSH $U a b c d
LMOVE $U $V LEFT RIGHT
LMOVE $U $V RIGHT LEFT
RPOPLPUSH $U $V
LRANGE $U 0 -1
LRANGE $V 0 -1
LMOVE $Z $V LEFT LEFT
LMOVE $U $P LEFT LEFT
LRANGE $U 0 -1
LMOVE $U $V UP DOWN
MSETNX $W 1 $X 2
MSETNX $X 3 $Y 4
MGET $W $X $Y
MSETNX $W 1 $X
LMPOP 2 $Z $V LEFT COUNT 2
LMPOP 2 $Z $Y LEFT
LMPOP 3 $Z $U $V RIGHT
ZMPOP 2 $Z $I MIN
ZMPOP 2 $Z $I MAX COUNT 5
ZMPOP 2 $Z $Y MIN
ZMPOP 2 $Z $H SIDEWAYS
RPUSH $A1 one two
BLPOP $Z $A1 1
BRPOP $Z $A1 1
BLPOP $Z $Y 0.05
ZADD $B1 5 m 6 n
BZPOPMIN $Z $B1 1
BZPOPMAX $Z $B1 1
BZPOPMAX $Z $B1 0.05
RPUSH $C1 p q r
BLMPOP 1 2 $Z $C1 LEFT COUNT 2
BLMPOP 0.05 2 $Z $Y LEFT
BLMOVE $C1 $D1 LEFT LEFT 1
BRPOPLPUSH $Z $D1 0.05
BRPOPLPUSH $D1 $E1 1
LRANGE $E1 0 -1
BLPOP $Z $Y -1
BLPOP $Z $Y notanumber
"#;

/// HyperLogLog, bitmap and geo commands across slots.
const LINES_REDIS_TYPES: &str = r#"
PFADD $A2 a b c d
PFADD $B2 c d e f g
PFCOUNT $A2 $B2
PFCOUNT $A2 $Z
PFCOUNT $A2 $B2 $Z
PFMERGE $C2 $A2 $B2
PFCOUNT $C2
PFMERGE $C2 $A2 $Z
PFCOUNT $C2
SET $D2 notahll
PFCOUNT $A2 $D2
PFMERGE $E2 $A2 $D2
SETBIT $F2 1 1
SETBIT $G2 2 1
BITOP OR $H2 $F2 $G2
GET $H2
BITOP AND $H2 $F2 $G2
BITCOUNT $H2
GET $H2
BITOP XOR $H2 $F2 $G2 $Z
GET $H2
BITOP NOT $H2 $F2
GET $H2
BITOP NOT $H2 $F2 $G2
BITOP AND $H2 $Z $Y
EXISTS $H2
GEOADD $I2 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOSEARCHSTORE $J2 $I2 FROMLONLAT 15 37 BYRADIUS 200 km ASC
ZRANGE $J2 0 -1 WITHSCORES
GEOSEARCHSTORE $J2 $I2 FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 1 STOREDIST
ZRANGE $J2 0 -1 WITHSCORES
GEOSEARCHSTORE $J2 $I2 FROMMEMBER Palermo BYBOX 400 400 km DESC
ZRANGE $J2 0 -1
GEOSEARCHSTORE $J2 $I2 FROMLONLAT 0 0 BYRADIUS 1 m
EXISTS $J2
GEORADIUS $I2 15 37 200 km ASC STORE $K2
ZRANGE $K2 0 -1 WITHSCORES
GEORADIUSBYMEMBER $I2 Palermo 200 km DESC STOREDIST $K2
ZRANGE $K2 0 -1 WITHSCORES
GEORADIUS $I2 15 37 200 km STORE $K2 STOREDIST $L2
EXISTS $K2
ZRANGE $L2 0 -1 WITHSCORES
GEORADIUS $I2 15 37 200 km WITHDIST STORE $K2
GEORADIUS $I2 0 0 1 m STORE $K2
EXISTS $K2
GEORADIUS_RO $I2 15 37 200 km ASC
RPUSH $M3 3 1 2 10
SORT $M3 STORE $N3
LRANGE $N3 0 -1
SORT $M3 DESC LIMIT 1 2 ALPHA STORE $N3
LRANGE $N3 0 -1
SORT $M3 BY nosort DESC STORE $N3
LRANGE $N3 0 -1
SADD $O3 b c a
SORT $O3 BY nosort STORE $N3
LRANGE $N3 0 -1
SORT $Z3 STORE $N3
EXISTS $N3
SORT $M3 LIMIT 0 0 STORE $N3
SORT_RO $M3 DESC
"#;

/// `$A1`.. style placeholders too: a second key per master, named after the first.
fn expand(line: &str, keys: &HashMap<String, String>) -> Vec<String> {
    line.split_whitespace()
        .map(|w| {
            if let Some(rest) = w.strip_prefix('$') {
                let (letter, suffix) = rest.split_at(1);
                let base = &keys[&format!("${letter}")];
                if suffix.is_empty() {
                    base.clone()
                } else {
                    key_on(letter.as_bytes()[0] as usize % 3, &format!("{base}:{suffix}:"))
                }
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// Runs `lines` through the proxy and on one redis-server; the mismatches, and how many lines
/// had keys on more than one slot.
fn differ(through: &mut redis::Connection, one: &mut redis::Connection, lines: &str) -> (Vec<String>, usize) {
    let keys = keys();
    let mut mismatches = Vec::new();
    let mut crossing = 0;
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words = expand(line, &keys);
        let slots: Vec<u16> =
            words.iter().filter(|w| w.starts_with('k')).map(|w| protocol::key_slot(w.as_bytes())).collect();
        crossing += usize::from(slots.windows(2).any(|p| p[0] != p[1]));
        let got = run(through, &words);
        let want = run(one, &words);
        if got != want {
            mismatches.push(format!("{line}\n    proxy: {got:?}\n    redis: {want:?}"));
        }
    }
    (mismatches, crossing)
}

fn cross_slot_commands_answer_as_one_redis(kind: Kind) {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let reference = Server::redis(&[]);
    let mut through = proxy.conn();
    let mut one = reference.conn();
    let keys = keys();
    let (mismatches, crossing) = differ(&mut through, &mut one, LINES);
    println!("{crossing} lines span slots");
    assert!(crossing > 80, "only {crossing} lines span slots");
    assert!(mismatches.is_empty(), "{} of the lines differ:\n{}", mismatches.len(), mismatches.join("\n"));
    // RENAME, RENAMENX and COPY keep the expiry ($O's, now in $Q, copied to $S).
    for key in ["$Q", "$S"] {
        let ttl: i64 = cmd("TTL").arg(&keys[key]).query(&mut through).unwrap();
        assert!((490..=500).contains(&ttl), "{key} has a TTL of {ttl}");
    }
    // No temporary key is left behind on any master.
    let all: Vec<String> = cmd("KEYS").arg("*slotgate*").query(&mut through).unwrap();
    assert!(all.is_empty(), "temporary keys left: {all:?}");
}

fn blocking_pops_over_three_masters_take_each_element_once(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Arc::new(Proxy::start(cluster.ports()[0], &[]));
    // Six lists, two per master.
    let lists: Vec<String> = (0..6).map(|i| key_on(i % 3, &format!("queue{i}:"))).collect();
    const ELEMENTS: usize = 10_000;
    const POPPERS: usize = 4;
    let received = Arc::new(Mutex::new(Vec::with_capacity(ELEMENTS)));
    let done = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(120);
    let poppers: Vec<_> = (0..POPPERS)
        .map(|p| {
            let (proxy, lists, received, done) = (proxy.clone(), lists.clone(), received.clone(), done.clone());
            std::thread::spawn(move || {
                let mut c = proxy.conn();
                // Each popper lists the keys in its own order.
                let mut order = lists.clone();
                order.rotate_left(p);
                while !done.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let mut command = cmd(if p % 2 == 0 { "BLPOP" } else { "BRPOP" });
                    command.arg(&order).arg(0.2);
                    let got: Option<(String, String)> = command.query(&mut c).expect("blocking pop");
                    if let Some((key, value)) = got {
                        assert!(lists.contains(&key), "popped from {key}");
                        received.lock().unwrap().push(value);
                    }
                }
            })
        })
        .collect();
    let pushers: Vec<_> = (0..2)
        .map(|t| {
            let (proxy, lists) = (proxy.clone(), lists.clone());
            std::thread::spawn(move || {
                let mut c = proxy.conn();
                let mut x: u64 = 0x9e37_79b9 + t;
                for i in (t as usize..ELEMENTS).step_by(2) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = &lists[(x % lists.len() as u64) as usize];
                    let _: i64 = cmd("RPUSH").arg(key).arg(format!("e{i}")).query(&mut c).expect("push");
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let all_in = slotgate_tests::wait_until(Duration::from_secs(90), || received.lock().unwrap().len() >= ELEMENTS);
    done.store(true, Ordering::Relaxed);
    for p in poppers {
        p.join().unwrap();
    }
    let mut got = received.lock().unwrap().clone();
    assert!(all_in, "only {} of {ELEMENTS} elements were popped", got.len());
    got.sort();
    let before = got.len();
    got.dedup();
    assert_eq!(before, got.len(), "an element was popped twice");
    assert_eq!(got.len(), ELEMENTS);
    let mut c = proxy.conn();
    for key in &lists {
        let left: i64 = cmd("LLEN").arg(key).query(&mut c).unwrap();
        assert_eq!(left, 0, "{key} still holds elements");
    }
}

fn cross_slot_refuse_gives_crossslot(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &["--cross-slot", "refuse"]);
    let mut c = proxy.conn();
    let (a, b) = (key_on(0, "ra:"), key_on(1, "rb:"));
    for args in [vec!["SINTER", &a, &b], vec!["RENAME", &a, &b], vec!["BLPOP", &a, &b, "0.1"]] {
        let mut command = cmd(args[0]);
        command.arg(&args[1..]);
        let r: RedisResult<Value> = command.query(&mut c);
        let e = r.expect_err("refused");
        assert_eq!(e.code(), Some("CROSSSLOT"), "{args:?}: {e}");
    }
    // Same-slot commands are unaffected.
    let _: i64 = cmd("SADD").arg("{t}1").arg("x").query(&mut c).unwrap();
    let got: Vec<String> = cmd("SUNION").arg("{t}1").arg("{t}2").query(&mut c).unwrap();
    assert_eq!(got, vec!["x"]);
}

fn wait_counts_the_replicas_of_every_node_written(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 1, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let mut c = proxy.conn();
    // Writes on all three masters, each with one replica.
    for third in 0..3 {
        let _: () = cmd("SET").arg(key_on(third, "w:")).arg("v").query(&mut c).unwrap();
    }
    let n: i64 = cmd("WAIT").arg(1).arg(2000).query(&mut c).unwrap();
    assert_eq!(n, 1, "every master has its one replica");
    // Two replicas are asked for, one exists: the timeout passes and the count is 1.
    let _: () = cmd("SET").arg(key_on(1, "w2:")).arg("v").query(&mut c).unwrap();
    let started = Instant::now();
    let n: i64 = cmd("WAIT").arg(2).arg(300).query(&mut c).unwrap();
    assert_eq!(n, 1);
    assert!(started.elapsed() >= Duration::from_millis(290), "WAIT returned early: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(3), "WAIT overran its timeout: {:?}", started.elapsed());
    // Redis's own argument errors.
    let e = cmd("WAIT").arg(1).arg(-1).query::<i64>(&mut c).unwrap_err();
    assert_eq!(e.detail(), Some("timeout is negative"), "{e}");
    let e = cmd("WAIT").arg("x").arg(1).query::<i64>(&mut c).unwrap_err();
    assert_eq!(e.detail(), Some("value is not an integer or out of range"), "{e}");
    // The replica of a master written through the proxy holds the value once WAIT said so.
    let key = key_on(2, "w3:");
    let _: () = cmd("SET").arg(&key).arg("acked").query(&mut c).unwrap();
    let n: i64 = cmd("WAIT").arg(1).arg(2000).query(&mut c).unwrap();
    assert_eq!(n, 1);
    // Exactly one replica holds it: the one of the key's master (the others answer MOVED).
    let mut holders = 0;
    for node in cluster.nodes().into_iter().filter(|n| !n.is_master()) {
        let mut r = redis::Client::open(format!("redis://127.0.0.1:{}/", node.port)).unwrap().get_connection().unwrap();
        let _: () = cmd("READONLY").query(&mut r).unwrap();
        let v: RedisResult<Option<String>> = cmd("GET").arg(&key).query(&mut r);
        if let Ok(v) = v {
            assert_eq!(v.as_deref(), Some("acked"), "replica {} of the key's master", node.port);
            holders += 1;
        }
    }
    assert_eq!(holders, 1);
}

/// Runs a client script with the port; it prints "ok" when every check held.
fn client_script(program: &str, script: std::path::PathBuf, port: u16) {
    let out = std::process::Command::new(program).arg(&script).arg(port.to_string()).output().expect(program);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{} on port {port} failed:\nstdout: {}\nstderr: {}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn redis_py_and_ioredis_run_a_cross_slot_scenario(kind: Kind) {
    if !require_tool("python3") || !require_tool("node") || !require_tool("redis-server") || !require_tool("redis-cli")
    {
        return;
    }
    ensure_redis_py();
    ensure_ioredis();
    // The scripts' expectations hold on one Redis...
    let reference = Server::redis(&[]);
    client_script("python3", py_dir().join("cross_slot.py"), reference.port);
    client_script("node", js_dir().join("cross_slot.js"), reference.port);
    // ...and through the proxy, where their keys sit on different slots.
    for (a, b) in [("tags:a", "tags:all"), ("cart:old", "cart:new"), ("jobs:high", "jobs:low")] {
        assert_ne!(protocol::key_slot(a.as_bytes()), protocol::key_slot(b.as_bytes()), "{a} and {b} share a slot");
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    client_script("python3", py_dir().join("cross_slot.py"), proxy.port);
    client_script("node", js_dir().join("cross_slot.js"), proxy.port);
}

fn one_redis_connection_commands(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let mut c = proxy.conn();
    // A small keyspace over three masters is scanned in one call, as on one Redis.
    let names: Vec<String> = (0..6).map(|i| key_on(i % 3, &format!("scan{i}:"))).collect();
    for k in &names {
        let _: () = cmd("SET").arg(k).arg(1).query(&mut c).unwrap();
    }
    let (cursor, mut got): (String, Vec<String>) = cmd("SCAN").arg(0).query(&mut c).unwrap();
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!((cursor.as_str(), got), ("0", want.clone()));
    // With COUNT 2 it takes several calls and still returns every key once.
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    for _ in 0..100 {
        let (next, keys): (String, Vec<String>) = cmd("SCAN").arg(&cursor).arg("COUNT").arg(2).query(&mut c).unwrap();
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), names.len());
    // RANDOMKEY draws from the whole keyspace: every key turns up (each is 1 in 6 per draw).
    let mut drawn = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let k: Option<String> = cmd("RANDOMKEY").query(&mut c).unwrap();
        drawn.insert(k.expect("a key"));
    }
    assert_eq!(drawn.into_iter().collect::<Vec<_>>(), want);
    let _: () = cmd("FLUSHALL").query(&mut c).unwrap();
    let none: Option<String> = cmd("RANDOMKEY").query(&mut c).unwrap();
    assert_eq!(none, None);
    // Replies the proxy builds itself take the client's protocol.
    let mut raw = proxy.raw();
    raw.send(b"HELLO 3\r\n");
    // The map's last entry is `modules`, an empty array.
    let mut hello = Vec::new();
    while !hello.ends_with(b"$7\r\nmodules\r\n*0\r\n") && hello.len() < 4096 {
        let mut buf = [0u8; 512];
        let n = std::io::Read::read(&mut raw.0, &mut buf).expect("HELLO reply");
        assert!(n > 0, "closed after HELLO");
        hello.extend_from_slice(&buf[..n]);
    }
    assert!(hello.starts_with(b"%7\r\n"), "HELLO 3 answers with a map: {}", String::from_utf8_lossy(&hello));
    raw.roundtrip(b"CLIENT GETNAME\r\n", "_\r\n");
    raw.roundtrip(b"PING\r\n", "+PONG\r\n");
    raw.roundtrip(b"SELECT 1\r\n", "-ERR DB index is out of range\r\n");
    raw.roundtrip(b"READONLY\r\n", "-ERR This instance has cluster support disabled\r\n");
    // Transactions keep one Redis's rules.
    raw.roundtrip(b"MULTI\r\n", "+OK\r\n");
    raw.roundtrip(b"WATCH k\r\n", "-ERR WATCH inside MULTI is not allowed\r\n");
    raw.roundtrip(b"MULTI\r\n", "-ERR MULTI calls can not be nested\r\n");
    raw.roundtrip(b"UNWATCH\r\n", "+QUEUED\r\n");
    raw.roundtrip(b"DISCARD\r\n", "+OK\r\n");
    raw.roundtrip(b"EXEC\r\n", "-ERR EXEC without MULTI\r\n");
}

/// The HyperLogLog, bitmap and geo lines (see [`LINES_REDIS_TYPES`]), and PFMERGE keeping its
/// destination's TTL as Redis does.
fn hyperloglog_bitmap_and_geo_across_slots(kind: Kind) {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let reference = Server::redis(&[]);
    let (mut through, mut one) = (proxy.conn(), reference.conn());
    let (mismatches, crossing) = differ(&mut through, &mut one, LINES_REDIS_TYPES);
    assert!(crossing >= 15, "only {crossing} lines span slots");
    assert!(mismatches.is_empty(), "{} of the lines differ:\n{}", mismatches.len(), mismatches.join("\n"));
    let keys = keys();
    let dest = expand("$C2", &keys).remove(0);
    let _: () = cmd("PEXPIRE").arg(&dest).arg(100_000).query(&mut through).unwrap();
    let _: () = cmd("PFMERGE").arg(&dest).arg(expand("$B2", &keys).remove(0)).query(&mut through).unwrap();
    let ttl: i64 = cmd("TTL").arg(&dest).query(&mut through).unwrap();
    assert!((95..=100).contains(&ttl), "PFMERGE kept a TTL of {ttl}");
}

/// FUNCTION LOAD/DELETE/FLUSH reach every master through the proxy; LIST
/// answers from one; FCALL routes by its key.
fn functions_reach_every_master(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let mut c = proxy.conn();
    let code = "#!lua name=mylib\nredis.register_function{function_name='myget', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    let name: String = cmd("FUNCTION").arg("LOAD").arg(code).query(&mut c).unwrap();
    assert_eq!(name, "mylib");
    let e = cmd("FUNCTION").arg("LOAD").arg(code).query::<String>(&mut c).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    for third in 0..3 {
        let key = key_on(third, "fn:");
        let _: () = cmd("SET").arg(&key).arg(third).query(&mut c).unwrap();
        let got: String = cmd("FCALL").arg("myget").arg(1).arg(&key).query(&mut c).unwrap();
        assert_eq!(got, third.to_string(), "FCALL on master {third}");
        let got: String = cmd("FCALL_RO").arg("myget").arg(1).arg(&key).query(&mut c).unwrap();
        assert_eq!(got, third.to_string(), "FCALL_RO on master {third}");
    }
    for port in cluster.master_ports() {
        let listed = slotgate_tests::redis_cli(port, &["FUNCTION", "LIST"]).unwrap_or_default();
        assert!(listed.contains("mylib"), "master {port} lacks the library: {listed}");
    }
    let listed: Value = cmd("FUNCTION").arg("LIST").query(&mut c).unwrap();
    assert!(format!("{listed:?}").contains("mylib"));
    let _: () = cmd("FUNCTION").arg("DELETE").arg("mylib").query(&mut c).unwrap();
    for port in cluster.master_ports() {
        let listed = slotgate_tests::redis_cli(port, &["FUNCTION", "LIST"]).unwrap_or_default();
        assert!(!listed.contains("mylib"), "master {port} still has the library");
    }
    let e = cmd("FCALL").arg("myget").arg(1).arg("x").query::<String>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Function not found"), "{e}");
    let _: () = cmd("FUNCTION").arg("FLUSH").query(&mut c).unwrap();
}

/// Keyspace notifications through the proxy come from every master, as one Redis gives them for
/// every key: PSUBSCRIBE `__keyevent@0__:*` and SUBSCRIBE to one key's `__keyspace@0__` channel,
/// with confirmations counted once. On a Redis cluster, and on a slotgate-node cluster (each
/// node publishes its own keys' events).
#[test]
fn keyspace_notifications_come_from_every_master_of_a_redis_cluster() {
    keyspace_notifications_from_every_master(Kind::Redis);
}

#[test]
fn keyspace_notifications_come_from_every_master_of_a_node_cluster() {
    keyspace_notifications_from_every_master(Kind::Slotgate);
}

fn keyspace_notifications_from_every_master(kind: Kind) {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 0, 5000);
    for port in cluster.master_ports() {
        assert_eq!(
            slotgate_tests::redis_cli(port, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]).as_deref(),
            Some("OK")
        );
    }
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let keys: Vec<String> = (0..3).map(|third| key_on(third, "ev:")).collect();
    let mut sub = proxy.raw();
    sub.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let keyspace = format!("__keyspace@0__:{}", keys[2]);
    sub.send(&slotgate_tests::resp(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]));
    sub.send(&slotgate_tests::resp(&[b"SUBSCRIBE", keyspace.as_bytes()]));
    let mut got = Vec::new();
    let mut read_until = |got: &mut Vec<u8>, want: &[u8]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !got.windows(want.len()).any(|w| w == want) && Instant::now() < deadline {
            let mut buf = [0u8; 4096];
            match std::io::Read::read(&mut sub.0, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got.windows(want.len()).any(|w| w == want)
    };
    let confirmed = format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{keyspace}\r\n:2\r\n", keyspace.len());
    assert!(read_until(&mut got, confirmed.as_bytes()), "confirmations: {}", String::from_utf8_lossy(&got));
    // The mirrors subscribe on the other masters in the background of the first command.
    std::thread::sleep(Duration::from_millis(300));
    let mut c = proxy.conn();
    for k in &keys {
        let _: () = cmd("SET").arg(k).arg("v").query(&mut c).unwrap();
    }
    for k in &keys {
        let event = format!("$18\r\n__keyevent@0__:set\r\n${}\r\n{k}\r\n", k.len());
        assert!(read_until(&mut got, event.as_bytes()), "no set event for {k}: {}", String::from_utf8_lossy(&got));
    }
    let on_key = format!("${}\r\n{keyspace}\r\n$3\r\nset\r\n", keyspace.len());
    assert!(read_until(&mut got, on_key.as_bytes()), "no keyspace event: {}", String::from_utf8_lossy(&got));
    // Each event once, and the confirmations only from the client's own subscriptions.
    let text = String::from_utf8_lossy(&got);
    for k in &keys {
        assert_eq!(text.matches(&format!("__keyevent@0__:set\r\n${}\r\n{k}\r\n", k.len())).count(), 1, "{k}: {text}");
    }
    assert_eq!(text.matches("psubscribe").count(), 1, "{text}");
    assert_eq!(text.matches("$9\r\nsubscribe").count(), 1, "{text}");
}
