//! Streams on slotgate-node against redis-server 7.0: a differential table of every stream
//! command and option (errors included), a seeded random differential, the shape of `*` IDs,
//! blocking XREAD order, and node boundaries seen through approximate trimming.

use std::thread;
use std::time::Duration;

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{q, require_tool, rng::Rng, wait_until, Server};

#[path = "node_stream/lines.rs"]
mod lines;
use lines::{BASIC, EXTRA, GROUPS};

/// Splits a table line on whitespace; a double-quoted part is one argument (`""` is empty).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut quoted: Option<String> = None;
    for w in line.split_whitespace() {
        match quoted.take() {
            Some(mut q) => {
                q.push(' ');
                q.push_str(w.trim_end_matches('"'));
                if w.ends_with('"') {
                    out.push(q);
                } else {
                    quoted = Some(q);
                }
            }
            None if w.starts_with('"') && (w.len() == 1 || !w[1..].ends_with('"')) => quoted = Some(w[1..].to_string()),
            None if w.starts_with('"') => out.push(w[1..w.len() - 1].to_string()),
            None => out.push(w.to_string()),
        }
    }
    out
}

fn run_words(c: &mut redis::Connection, w: &[String]) -> Result<Value, String> {
    let mut command = cmd(&w[0]);
    for a in &w[1..] {
        command.arg(a.as_str());
    }
    let r: RedisResult<Value> = command.query(c);
    r.map_err(|e| format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

fn run(c: &mut redis::Connection, line: &str) -> Result<Value, String> {
    let upper = line.to_ascii_uppercase();
    let r = run_words(c, &words(line));
    if upper.starts_with("XPENDING") || upper.starts_with("XINFO") {
        r.map(|v| mask(v, upper.starts_with("XPENDING")))
    } else {
        r
    }
}

/// Blanks what depends on the clock: absolute times (seen-time, delivery times), the value after
/// an `idle` key, and the idle column of XPENDING's extended rows.
fn mask(v: Value, pending_rows: bool) -> Value {
    match v {
        Value::Int(n) if n > 1_000_000_000_000 => Value::Int(0),
        Value::Array(items) if pending_rows && items.len() == 4 && matches!(items[2], Value::Int(_)) => {
            let mut items = items;
            items[2] = Value::Int(0);
            Value::Array(items.into_iter().map(|v| mask(v, pending_rows)).collect())
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut idle_next = false;
            for item in items {
                let idle = matches!(&item, Value::BulkString(b) if b == b"idle");
                out.push(if idle_next { Value::Int(0) } else { mask(item, pending_rows) });
                idle_next = idle;
            }
            Value::Array(out)
        }
        Value::Map(pairs) => Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    let idle = matches!(&k, Value::BulkString(b) if b == b"idle");
                    let v = if idle { Value::Int(0) } else { mask(v, pending_rows) };
                    (k, v)
                })
                .collect(),
        ),
        v => v,
    }
}

/// Runs every line on a fresh node and a fresh redis-server; returns the mismatches.
fn compare(lines: &[String], resp3: bool) -> Vec<String> {
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut a = node.conn();
    let mut b = redis.conn();
    if resp3 {
        let ha: RedisResult<Value> = cmd("HELLO").arg(3).query(&mut a);
        let hb: RedisResult<Value> = cmd("HELLO").arg(3).query(&mut b);
        assert!(ha.is_ok() && hb.is_ok(), "HELLO 3: node {ha:?}, redis {hb:?}");
    }
    let mut mismatches = Vec::new();
    for line in lines {
        let (got, want) = (run(&mut a, line), run(&mut b, line));
        if got != want {
            mismatches.push(format!("{line}\n    node:  {got:?}\n    redis: {want:?}"));
        }
    }
    mismatches
}

fn lines(t: &str) -> Vec<String> {
    t.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

#[test]
fn stream_commands_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let table = lines(BASIC);
    let bad = compare(&table, false);
    assert!(bad.is_empty(), "{} of {} lines differ:\n{}", bad.len(), table.len(), bad.join("\n"));
    let table = lines(EXTRA);
    let bad = compare(&table, false);
    assert!(bad.is_empty(), "{} of {} extra lines differ:\n{}", bad.len(), table.len(), bad.join("\n"));
    let table = lines(GROUPS);
    let bad = compare(&table, false);
    assert!(bad.is_empty(), "{} of {} group lines differ:\n{}", bad.len(), table.len(), bad.join("\n"));
    let resp3 = lines("XGROUP CREATE s g 0 MKSTREAM\nXREADGROUP GROUP g c STREAMS s >\nXINFO STREAM s FULL\nXINFO GROUPS s\nXINFO CONSUMERS s g\nXADD s 1-0 f v\nXADD s 2-0 g w\nXREAD STREAMS s 0\nXRANGE s - +\nXREAD COUNT 1 STREAMS s nokey 0 0\nXREADGROUP GROUP g c STREAMS s >\nXREADGROUP GROUP g c STREAMS s 0\nXINFO STREAM s\nXINFO STREAM s FULL\nXINFO CONSUMERS s g\nXPENDING s g\nXPENDING s g - + 10");
    let bad = compare(&resp3, true);
    assert!(bad.is_empty(), "RESP3:\n{}", bad.join("\n"));
}

/// Node boundaries follow Redis's size rules: `~` trimming removes the same whole nodes, with
/// entries of mixed sizes, field sets and deletions.
#[test]
fn approximate_trimming_removes_what_redis_removes() {
    if !require_tool("redis-server") {
        return;
    }
    let mut t = Vec::new();
    for i in 1..=700u64 {
        let v = "x".repeat((i * 37 % 90) as usize);
        let f = if i % 7 == 0 { "other" } else { "f" };
        t.push(format!("XADD s {i}-{} {f} {v} n {}", i % 3, i * 1000));
        if i % 50 == 0 {
            t.push(format!("XDEL s {}-{}", i - 3, (i - 3) % 3));
            t.push(format!("XTRIM s MAXLEN ~ {}", 700 - i));
            t.push("XLEN s".into());
            t.push("XINFO STREAM s".into());
        }
    }
    for m in [600, 400, 399, 200, 1] {
        t.push(format!("XTRIM s MAXLEN ~ {m}"));
        t.push("XLEN s".into());
        t.push("XRANGE s - + COUNT 3".into());
        t.push("XINFO STREAM s".into());
    }
    t.push("XTRIM s MINID ~ 650".into());
    t.push("XTRIM s MINID ~ 690 LIMIT 10".into());
    t.push("XTRIM s MINID 695".into());
    t.push("XRANGE s - +".into());
    let bad = compare(&t, false);
    assert!(bad.is_empty(), "{} of {} lines differ:\n{}", bad.len(), t.len(), bad.join("\n"));
}

/// Random stream operations with explicit IDs, replies compared one by one.
#[test]
fn random_stream_operations_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let seed = std::env::var("STREAM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_5ea1u64);
    random_operations(seed, 10_000, false);
}

/// The same in RESP3 (maps for XREAD/XREADGROUP and XINFO), shorter.
#[test]
fn random_stream_operations_match_redis_in_resp3() {
    if !require_tool("redis-server") {
        return;
    }
    random_operations(0x0e53, 2_000, true);
}

fn random_operations(seed: u64, total: usize, resp3: bool) {
    println!("seed {seed}");
    let mut rng = Rng(seed | 1);
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut a, mut b) = (node.conn(), redis.conn());
    if resp3 {
        for c in [&mut a, &mut b] {
            let _: Value = q(c, &["HELLO", "3"]).unwrap();
        }
    }
    let keys = ["s1", "s2"];
    let mut last = [0u64; 2];
    for key in keys {
        let line = format!("XGROUP CREATE {key} g 0 MKSTREAM");
        assert_eq!(run(&mut a, &line), run(&mut b, &line));
    }
    let mut ops = 0;
    while ops < total {
        let k = rng.below(2) as usize;
        let key = keys[k];
        let id = |rng: &mut Rng, last: u64| format!("{}-{}", rng.below(last + 3), rng.below(3));
        let consumer = format!("c{}", rng.below(3));
        let line = match rng.below(30) {
            20..=22 => {
                let from = if rng.below(4) == 0 { id(&mut rng, last[k]) } else { ">".into() };
                let noack = if rng.below(6) == 0 { "NOACK " } else { "" };
                format!("XREADGROUP GROUP g {consumer} COUNT {} {noack}STREAMS {key} {from}", 1 + rng.below(6))
            }
            23 => format!("XACK {key} g {} {}", id(&mut rng, last[k]), id(&mut rng, last[k])),
            24 => {
                let opt = match rng.below(5) {
                    0 => format!(" IDLE {}", rng.below(100_000)),
                    1 => format!(" TIME {}", 1000 + rng.below(100_000)),
                    2 => format!(" RETRYCOUNT {}", rng.below(5)),
                    3 => " JUSTID".to_string(),
                    _ => String::new(),
                };
                format!("XCLAIM {key} g {consumer} 0 {} {}{opt}", id(&mut rng, last[k]), id(&mut rng, last[k]))
            }
            25 => format!("XPENDING {key} g"),
            26 => format!("XPENDING {key} g - + {} {consumer}", rng.below(8)),
            27 => format!("XPENDING {key} g {} + {}", id(&mut rng, last[k]), rng.below(8)),
            28 => format!("XINFO GROUPS {key}"),
            29 => format!("XAUTOCLAIM {key} g {consumer} 0 {} COUNT {}", id(&mut rng, last[k]), 1 + rng.below(4)),
            0..=8 => {
                last[k] += 1 + rng.below(3);
                let nf = 1 + rng.below(3);
                let fields: Vec<String> = (0..nf)
                    .map(|i| {
                        let f = if rng.below(5) == 0 { format!("x{i}") } else { format!("f{i}") };
                        format!("{f} {}", "v".repeat(rng.below(40) as usize))
                    })
                    .collect();
                let trim = match rng.below(8) {
                    0 => format!("MAXLEN ~ {} ", rng.below(300)),
                    1 => format!("MAXLEN = {} ", rng.below(300)),
                    2 => format!("MINID ~ {} ", last[k].saturating_sub(rng.below(400))),
                    3 => format!("MINID {} ", last[k].saturating_sub(rng.below(400))),
                    4 => format!("MAXLEN ~ {} LIMIT {} ", rng.below(200), rng.below(300)),
                    _ => String::new(),
                };
                let seq = if rng.below(4) == 0 { "*".to_string() } else { rng.below(3).to_string() };
                format!("XADD {key} {trim}{}-{seq} {}", last[k], fields.join(" "))
            }
            9..=10 => format!("XDEL {key} {} {}", id(&mut rng, last[k]), id(&mut rng, last[k])),
            11 => match rng.below(4) {
                0 => format!("XTRIM {key} MAXLEN ~ {}", rng.below(300)),
                1 => format!("XTRIM {key} MAXLEN {}", rng.below(300)),
                2 => format!("XTRIM {key} MINID ~ {}", last[k].saturating_sub(rng.below(300))),
                _ => format!("XTRIM {key} MINID {}", id(&mut rng, last[k])),
            },
            12..=14 => {
                format!("XRANGE {key} {} + COUNT {}", id(&mut rng, last[k]), rng.below(10))
            }
            15..=16 => format!("XREVRANGE {key} + {} COUNT {}", id(&mut rng, last[k]), rng.below(10)),
            17 if rng.below(2) == 0 => format!("XLEN {key}"),
            17 => format!("XINFO STREAM {key}"),
            18 => format!("XREAD COUNT {} STREAMS {key} {}", 1 + rng.below(5), id(&mut rng, last[k])),
            _ => format!("XRANGE {key} ({} ({}", id(&mut rng, last[k]), id(&mut rng, last[k])),
        };
        let (got, want) = (run(&mut a, &line), run(&mut b, &line));
        assert_eq!(got, want, "op {ops} (seed {seed}): {line}");
        ops += 1;
    }
    for key in keys {
        let line = format!("XRANGE {key} - +");
        assert_eq!(run(&mut a, &line), run(&mut b, &line), "final {key}");
    }
}

/// `*` IDs: the current time in ms, sequence 0 or the next sequence, always increasing.
#[test]
fn generated_ids_are_increasing() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let now: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut prev = (0u64, 0u64);
    for _ in 0..200 {
        let id: String = q(&mut c, &["XADD", "s", "*", "f", "v"]).unwrap();
        let (ms, seq) = id.split_once('-').unwrap();
        let cur = (ms.parse().unwrap(), seq.parse().unwrap());
        assert!(cur > prev, "{cur:?} after {prev:?}");
        assert!(cur.0 >= now && cur.0 < now + 60_000);
        prev = cur;
    }
    // A later explicit time makes `*` continue after it.
    let _: String = q(&mut c, &["XADD", "s", "99999999999999-5", "f", "v"]).unwrap();
    let id: String = q(&mut c, &["XADD", "s", "*", "f", "v"]).unwrap();
    assert_eq!(id, "99999999999999-6");
    // SCAN's TYPE filter and TYPE know streams.
    let _: () = q(&mut c, &["SET", "str", "x"]).unwrap();
    let (_, keys): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "TYPE", "stream", "COUNT", "100"]).unwrap();
    assert_eq!(keys, vec!["s".to_string()]);
}

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let info: String = q(c, &["INFO", "clients"]).unwrap();
    info.lines().find_map(|l| l.strip_prefix("blocked_clients:")).and_then(|v| v.trim().parse().ok()).unwrap_or(-1)
}

/// XREAD BLOCK: clients are woken in the order they blocked, `$` means "after what was there
/// when I blocked", and a timeout answers a null array.
#[test]
fn blocking_xread() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let _: String = q(&mut c, &["XADD", "s", "1-0", "f", "old"]).unwrap();
    let port = node.port;
    let mut handles = Vec::new();
    for i in 0..3 {
        let h = thread::spawn(move || {
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().unwrap();
            let v: Value = q(&mut c, &["XREAD", "BLOCK", "0", "STREAMS", "other", "s", "0", "$"]).unwrap();
            (i, v)
        });
        handles.push(h);
        assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == i + 1));
    }
    let _: String = q(&mut c, &["XADD", "s", "2-0", "f", "new"]).unwrap();
    for h in handles {
        let (_, v) = h.join().unwrap();
        let text = format!("{v:?}");
        assert!(text.contains("2-0") && text.contains("new") && !text.contains("old"), "{text}");
    }
    let v: Value = q(&mut c, &["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]).unwrap();
    assert_eq!(v, Value::Nil);
    // Inside MULTI it does not block.
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("XREAD").arg("BLOCK").arg(0).arg("STREAMS").arg("s").arg("$");
    let v: Vec<Value> = pipe.query(&mut c).unwrap();
    assert_eq!(v, vec![Value::Nil]);
}

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().unwrap()
}

/// Parks an XREADGROUP (or any command) on a thread; returns its reply.
fn park(port: u16, args: &'static [&'static str]) -> thread::JoinHandle<Result<Value, String>> {
    thread::spawn(move || {
        let mut c = connect(port);
        let r: RedisResult<Value> = q(&mut c, args);
        r.map_err(|e| format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")))
    })
}

/// Blocked XREADGROUP scenario, run on both servers: the first parked consumer gets the new
/// entry, the next one keeps waiting for the next; destroying the group or deleting the key
/// answers the parked consumers with Redis's errors.
fn blocking_group_scenario(server: &Server) -> Vec<String> {
    let port = server.port;
    let mut c = server.conn();
    let mut log = Vec::new();
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).unwrap();
    const READ1: &[&str] = &["XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">"];
    const READ2: &[&str] = &["XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "STREAMS", "s", ">"];
    let first = park(port, READ1);
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 1));
    let second = park(port, READ2);
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 2));
    let _: String = q(&mut c, &["XADD", "s", "1-0", "f", "one"]).unwrap();
    log.push(format!("{:?}", first.join().unwrap()));
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 1));
    let _: String = q(&mut c, &["XADD", "s", "2-0", "f", "two"]).unwrap();
    log.push(format!("{:?}", second.join().unwrap()));
    let pending: Value = q(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]).unwrap();
    log.push(format!("{:?}", mask(pending, true)));
    // The group goes away under a parked consumer.
    let third = park(port, READ1);
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 1));
    let _: i64 = q(&mut c, &["XGROUP", "DESTROY", "s", "g"]).unwrap();
    log.push(format!("{:?}", third.join().unwrap()));
    // The key goes away under a parked consumer.
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]).unwrap();
    let fourth = park(port, READ1);
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 1));
    let _: i64 = q(&mut c, &["DEL", "s"]).unwrap();
    log.push(format!("{:?}", fourth.join().unwrap()));
    // FLUSHALL answers a parked XREADGROUP; a parked XREAD keeps waiting until its timeout.
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).unwrap();
    let fifth = park(port, READ1);
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 1));
    const XREAD: &[&str] = &["XREAD", "BLOCK", "300", "STREAMS", "s", "$"];
    let sixth = park(port, XREAD);
    assert!(wait_until(Duration::from_secs(5), || blocked_clients(&mut c) == 2));
    let _: String = q(&mut c, &["FLUSHALL"]).unwrap();
    log.push(format!("{:?}", fifth.join().unwrap()));
    log.push(format!("{:?}", sixth.join().unwrap()));
    // NOACK and COUNT while parked; a timeout answers nil.
    let _: String = q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]).unwrap();
    let v: Value = q(&mut c, &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "30", "STREAMS", "s", ">"]).unwrap();
    log.push(format!("{v:?}"));
    log
}

#[test]
fn blocking_xreadgroup_matches_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let got = blocking_group_scenario(&node);
    let want = blocking_group_scenario(&redis);
    assert_eq!(got, want);
    assert!(got[0].contains("one") && !got[0].contains("two"), "{got:?}");
    assert!(got[1].contains("two") && !got[1].contains("one"), "{got:?}");
}

fn used_memory(c: &mut redis::Connection) -> i64 {
    let info: String = q(c, &["INFO", "memory"]).unwrap();
    info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).unwrap_or(-1)
}

/// A million entries of three short fields cost at most 1.25 times what redis-server uses, and
/// the node tree has the same shape (XINFO's radix-tree counts).
#[test]
fn a_million_entries_stay_compact() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut grown = Vec::new();
    let mut shapes = Vec::new();
    for server in [&node, &redis] {
        let mut c = server.conn();
        let before = used_memory(&mut c);
        for batch in 0..100u64 {
            let mut pipe = redis::pipe();
            for i in batch * 10_000 + 1..=(batch + 1) * 10_000 {
                pipe.cmd("XADD").arg("s").arg(format!("{i}-0")).arg("name").arg(format!("user{}", i % 1000));
                pipe.arg("age").arg(i % 90).arg("city").arg(format!("c{}", i % 37)).ignore();
            }
            let _: () = pipe.query(&mut c).unwrap();
        }
        grown.push(used_memory(&mut c) - before);
        let info: Value = q(&mut c, &["XINFO", "STREAM", "s"]).unwrap();
        shapes.push(format!("{info:?}"));
    }
    println!("used_memory growth: node {} bytes, redis-server {} bytes", grown[0], grown[1]);
    assert!(grown[0] * 4 <= grown[1] * 5, "node {} vs redis {}", grown[0], grown[1]);
    assert_eq!(shapes[0], shapes[1]);
}
