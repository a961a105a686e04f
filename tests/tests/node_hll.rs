//! HyperLogLog on slotgate-node against Debian's redis-server 7.0: the same command lines on a
//! fresh node and a fresh redis-server give the same replies (errors included), and the
//! strings they leave behind are the same bytes: after PFADD (sparse, dense, the promotion
//! between them), after PFCOUNT (which caches the count inside the string), after PFMERGE.
//! HLLs made by redis-server move into the node by GET/SET and DUMP/RESTORE and count the
//! same; corrupt ones get the same errors; PFCOUNT's cache update reaches a replica.

use std::time::{Duration, Instant};

use redis::{cmd, Value};
use slotgate_tests::{q, require_tool, rng::Rng, wait_until, Server};

/// A reply in comparable form: the value, or the error's full text.
fn run(c: &mut redis::Connection, args: &[&[u8]]) -> Result<Value, String> {
    let mut command = cmd(std::str::from_utf8(args[0]).unwrap_or("?"));
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query(c).map_err(|e| format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

/// Connections to slotgate (a node, or the proxy) and to a redis-server, fed the same commands.
struct Pair {
    node: redis::Connection,
    redis: redis::Connection,
    /// Command lines run so far (for the report).
    lines: usize,
}

impl Pair {
    fn of(node: &Server, redis: &Server) -> Pair {
        Pair { node: node.conn(), redis: redis.conn(), lines: 0 }
    }

    /// Runs one command on both; panics with both replies when they differ.
    fn same(&mut self, args: &[&[u8]]) -> Result<Value, String> {
        self.lines += 1;
        let got = run(&mut self.node, args);
        let want = run(&mut self.redis, args);
        if got != want {
            let line: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            panic!("{}\n    node:  {}\n    redis: {}", line.join(" "), short(&got), short(&want));
        }
        got
    }

    /// `same` for a line of words (`""` is an empty argument).
    fn line(&mut self, line: &str) -> Result<Value, String> {
        let words: Vec<&[u8]> =
            line.split_whitespace().map(|w| if w == "\"\"" { &b""[..] } else { w.as_bytes() }).collect();
        self.same(&words)
    }

    /// The string at `key` must be the same bytes on both.
    fn same_bytes(&mut self, key: &str) {
        self.same(&[b"GET", key.as_bytes()]).map(drop).unwrap_or_else(|e| panic!("GET {key}: {e}"));
    }

    /// Sets `key` to `value` on both.
    fn set(&mut self, key: &str, value: &[u8]) {
        assert_eq!(self.same(&[b"SET", key.as_bytes(), value]), Ok(Value::Okay));
    }
}

/// A reply shortened for a failure message.
fn short(r: &Result<Value, String>) -> String {
    let s = format!("{r:?}");
    if s.len() > 400 {
        format!("{}... ({} chars)", &s[..400], s.len())
    } else {
        s
    }
}

fn seed() -> u64 {
    let s = std::env::var("HLL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    println!("seed {s} (HLL_SEED={s} repeats this run)");
    s | 1
}

/// A dense HLL string with the given registers, the cached count marked stale.
fn dense(regs: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut s = b"HYLL\0\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
    let mut packed = vec![0u8; 12288];
    for i in 0..16384 {
        let (byte, bit) = (i * 6 / 8, i * 6 % 8);
        let v = (regs(i) as u16) << bit;
        packed[byte] |= v as u8;
        if byte + 1 < packed.len() {
            packed[byte + 1] |= (v >> 8) as u8;
        }
    }
    s.extend_from_slice(&packed);
    s
}

#[test]
fn command_lines_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let mut p = Pair::of(&node, &redis);
    // COMMAND INFO: name, arity, flags, key range and ACL categories (the node does not list
    // key specs or tips).
    for name in ["pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"] {
        let info = |c: &mut redis::Connection| match run(c, &[b"COMMAND", b"INFO", name.as_bytes()]) {
            Ok(Value::Array(mut v)) => match v.pop() {
                Some(Value::Array(fields)) => fields.into_iter().take(7).collect::<Vec<_>>(),
                other => panic!("COMMAND INFO {name}: {other:?}"),
            },
            other => panic!("COMMAND INFO {name}: {other:?}"),
        };
        assert_eq!(info(&mut p.node), info(&mut p.redis), "COMMAND INFO {name}");
    }
    // The ACL category lists the same commands (Redis lists them in hash order).
    let cat = |c: &mut redis::Connection| {
        let mut names: Vec<String> = q(c, &["ACL", "CAT", "hyperloglog"]).unwrap();
        names.sort();
        names
    };
    assert_eq!(cat(&mut p.node), cat(&mut p.redis));
    let table = r#"
PFADD
PFADD h
PFADD h
PFCOUNT h
GET h
PFADD h a b c
PFADD h a
PFADD h a b c d
GET h
OBJECT ENCODING h
PFCOUNT h
GET h
PFCOUNT h
PFCOUNT
PFCOUNT nokey
PFCOUNT nokey other
PFCOUNT h nokey
PFADD h2 c d e f ""
PFCOUNT h h2
PFCOUNT h2 h h2
GET h2
PFMERGE
PFMERGE h4
EXISTS h4
GET h4
PFCOUNT h4
PFMERGE h3 h h2
GET h3
PFCOUNT h3
PFMERGE h3 nokey
GET h3
PFMERGE h3 h3
GET h3
PFDEBUG
PFDEBUG ENCODING
PFDEBUG ENCODING h extra
PFDEBUG ENCODING nokey
PFDEBUG FOO nokey
PFDEBUG FOO h
PFDEBUG ENCODING h
PFDEBUG DECODE h
PFDEBUG decode h3
PFDEBUG GETREG h3
PFDEBUG ENCODING h3
GET h3
PFDEBUG DECODE h3
PFDEBUG TODENSE h
PFDEBUG TODENSE h
PFDEBUG ENCODING h
GET h
PFCOUNT h
GET h
PFADD h zz
PFCOUNT h
GET h
PFMERGE h5 h h2
PFDEBUG ENCODING h5
GET h5
PFMERGE h2 h
PFDEBUG ENCODING h2
GET h2
SET str hello
PFADD str a
PFCOUNT str
PFCOUNT h str
PFCOUNT nokey str
PFMERGE str h
PFMERGE h str
PFMERGE nokey str
EXISTS nokey
PFDEBUG ENCODING str
PFDEBUG GETREG str
SET int 12345
PFADD int a
PFCOUNT int
PFMERGE int
SET short HYLL
PFCOUNT short
RPUSH list a
PFADD list a
PFCOUNT list
PFCOUNT h list
PFMERGE list h
PFMERGE h list
PFDEBUG GETREG list
HSET hash f v
PFADD hash a
PFCOUNT hash
PFSELFTEST
PFSELFTEST extra
CONFIG GET hll-sparse-max-bytes
CONFIG SET hll-sparse-max-bytes 1kb
CONFIG GET hll-sparse-max-bytes
CONFIG SET hll-sparse-max-bytes -1
CONFIG SET hll-sparse-max-bytes abc
CONFIG SET hll-sparse-max-bytes 0
PFADD tiny a
PFDEBUG ENCODING tiny
PFADD tiny b c d e
PFDEBUG ENCODING tiny
GET tiny
CONFIG SET hll-sparse-max-bytes 3000
CONFIG GET hll-sparse-max-bytes
"#;
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        let _ = p.line(line);
    }
    println!("{} differential lines", p.lines);
}

/// PFADD of `elements` into `key` on both, in batches of random size; the replies and (every
/// few batches) the bytes must match.
fn add_in_batches(p: &mut Pair, rng: &mut Rng, key: &str, elements: &[Vec<u8>], max_batch: u64) {
    let mut i = 0;
    let mut batches = 0;
    while i < elements.len() {
        let n = (1 + rng.below(max_batch) as usize).min(elements.len() - i);
        let mut args: Vec<&[u8]> = vec![b"PFADD", key.as_bytes()];
        args.extend(elements[i..i + n].iter().map(Vec::as_slice));
        p.same(&args).unwrap_or_else(|e| panic!("PFADD {key}: {e}"));
        i += n;
        batches += 1;
        if batches % 4 == 0 || i == elements.len() {
            p.same_bytes(key);
        }
        if batches % 9 == 0 {
            p.same(&[b"PFCOUNT", key.as_bytes()]).unwrap();
            p.same_bytes(key);
        }
    }
}

#[test]
fn random_sets_count_and_encode_like_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let started = Instant::now();
    let mut rng = Rng(seed());
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let mut p = Pair::of(&node, &redis);
    let mut total = 0;
    // Sizes on both sides of the sparse-to-dense promotion (around 1,500 elements at the
    // default 3000 bytes), a run with another threshold, and a set of 100,000.
    let mut keys = Vec::new();
    let mut runs = vec![
        (1, 3000),
        (40, 3000),
        (400, 3000),
        (1200, 3000),
        (1700, 3000),
        (2500, 3000),
        (6000, 3000),
        (900, 600),
        (2500, 5000),
        (100_000, 3000),
    ];
    // Sizes drawn around the promotion, to meet it in every kind of batch.
    runs.extend((0..6).map(|_| (1400 + rng.below(500) as usize, 3000)));
    for (size, max_bytes) in runs {
        let set = format!("{max_bytes}");
        p.same(&[b"CONFIG", b"SET", b"hll-sparse-max-bytes", set.as_bytes()]).unwrap();
        let key = format!("r{}", keys.len());
        // Repeats on purpose: a set is a multiset of draws.
        let elements: Vec<Vec<u8>> = (0..size).map(|_| element(&mut rng)).collect();
        let max_batch = if size > 10_000 { 2000 } else { 60 };
        add_in_batches(&mut p, &mut rng, &key, &elements, max_batch);
        p.same(&[b"PFDEBUG", b"ENCODING", key.as_bytes()]).unwrap();
        p.same(&[b"PFCOUNT", key.as_bytes()]).unwrap();
        p.same_bytes(&key);
        // Adding the same elements again changes nothing.
        let again: Vec<&[u8]> =
            [&b"PFADD"[..], key.as_bytes()].into_iter().chain(elements.iter().take(50).map(Vec::as_slice)).collect();
        assert_eq!(p.same(&again), Ok(Value::Int(0)));
        total += size;
        keys.push(key);
    }
    p.same(&[b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"3000"]).unwrap();
    // Unions: PFCOUNT of several keys leaves them alone; PFMERGE into new and existing keys,
    // from sparse sources only (a sparse result) and with dense ones.
    let groups: [&[usize]; 6] = [&[0, 1], &[1, 2, 3], &[0, 4], &[3, 7, 5], &[2, 9], &[6, 9, 8, 1]];
    for (g, group) in groups.iter().enumerate() {
        let mut count: Vec<&[u8]> = vec![b"PFCOUNT"];
        count.extend(group.iter().map(|&k| keys[k].as_bytes()));
        p.same(&count).unwrap();
        for &k in group.iter() {
            p.same_bytes(&keys[k]);
        }
        let dest = format!("m{g}");
        let mut merge: Vec<&[u8]> = vec![b"PFMERGE", dest.as_bytes()];
        merge.extend(group.iter().map(|&k| keys[k].as_bytes()));
        p.same(&merge).unwrap();
        p.same_bytes(&dest);
        p.same(&[b"PFDEBUG", b"ENCODING", dest.as_bytes()]).unwrap();
        p.same(&[b"PFCOUNT", dest.as_bytes()]).unwrap();
        p.same_bytes(&dest);
        // Into an existing destination, which counts among the sources.
        let into = keys[group[0]].clone();
        let mut merge: Vec<&[u8]> = vec![b"PFMERGE", into.as_bytes()];
        merge.extend(group.iter().skip(1).map(|&k| keys[k].as_bytes()));
        p.same(&merge).unwrap();
        p.same_bytes(&into);
    }
    println!("{total} elements, {} command lines, {:?}", p.lines, started.elapsed());
}

#[test]
fn hlls_made_by_redis_move_into_the_node() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut n, mut r) = (node.conn(), redis.conn());
    let mut rng = Rng(seed());
    for (key, size) in [("small", 30usize), ("mid", 900), ("big", 20_000)] {
        let elements: Vec<Vec<u8>> = (0..size).map(|_| element(&mut rng)).collect();
        for chunk in elements.chunks(500) {
            let _: i64 = cmd("PFADD").arg(key).arg(chunk).query(&mut r).unwrap();
        }
        let bytes: Vec<u8> = q(&mut r, &["GET", key]).unwrap();
        let want: i64 = q(&mut r, &["PFCOUNT", key]).unwrap();
        let cached: Vec<u8> = q(&mut r, &["GET", key]).unwrap();
        // By value, before and after Redis cached the count.
        for (copy, value) in [(format!("{key}:set"), &bytes), (format!("{key}:cached"), &cached)] {
            let () = cmd("SET").arg(&copy).arg(value).query(&mut n).unwrap();
            assert_eq!(q::<i64>(&mut n, &["PFCOUNT", &copy]).unwrap(), want, "{copy}");
            assert_eq!(q::<Vec<u8>>(&mut n, &["GET", &copy]).unwrap(), cached, "{copy}: the cache as Redis writes it");
        }
        // By DUMP/RESTORE.
        let dump: Vec<u8> = q(&mut r, &["DUMP", key]).unwrap();
        let restored = format!("{key}:restored");
        let () = cmd("RESTORE").arg(&restored).arg(0).arg(&dump).query(&mut n).unwrap();
        assert_eq!(q::<i64>(&mut n, &["PFCOUNT", &restored]).unwrap(), want);
        // More elements on both copies keep them equal.
        let more: Vec<Vec<u8>> = (0..700).map(|_| element(&mut rng)).collect();
        let a: i64 = cmd("PFADD").arg(&restored).arg(&more).query(&mut n).unwrap();
        let b: i64 = cmd("PFADD").arg(key).arg(&more).query(&mut r).unwrap();
        assert_eq!(a, b);
        assert_eq!(q::<i64>(&mut n, &["PFCOUNT", &restored]).unwrap(), q::<i64>(&mut r, &["PFCOUNT", key]).unwrap());
        assert_eq!(q::<Vec<u8>>(&mut n, &["GET", &restored]).unwrap(), q::<Vec<u8>>(&mut r, &["GET", key]).unwrap());
        // And back: the node's DUMP restores on redis-server.
        let dump: Vec<u8> = q(&mut n, &["DUMP", &restored]).unwrap();
        let () = cmd("RESTORE").arg(&restored).arg(0).arg(&dump).query(&mut r).unwrap();
        assert_eq!(q::<i64>(&mut r, &["PFCOUNT", &restored]).unwrap(), q::<i64>(&mut r, &["PFCOUNT", key]).unwrap());
    }
}

#[test]
fn corrupt_and_odd_values_get_redis_answers() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let mut p = Pair::of(&node, &redis);
    let hdr = |enc: u8, stale: bool| {
        let mut h = b"HYLL".to_vec();
        h.extend_from_slice(&[enc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, if stale { 0x80 } else { 0 }]);
        h
    };
    let sparse = |code: &[u8]| [hdr(1, true), code.to_vec()].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Registers short of 16384, past it, a VAL running over the end, an XZERO cut short.
        ("short", sparse(b"\x7f\xfe")),
        ("long", sparse(b"\x7f\xff\x00")),
        ("overrun", sparse(b"\x7f\xfd\x8f")),
        ("cut", sparse(b"\x7f")),
        ("empty-code", sparse(b"")),
        ("vals", sparse(b"\x7f\xfb\xff\x80\x84")),
        // 9000 registers only: PFADD changes the first ones, then meets the end; 18004
        // registers: PFADD sets registers past 16384 in place.
        ("half", sparse(b"\x63\x27")),
        ("wide", sparse(b"\x63\x27\x8b\x63\x27")),
        // A valid cache is believed whatever it says.
        ("cached", [hdr(1, false)[..8].to_vec(), vec![0x39, 0x30, 0, 0, 0, 0, 0, 0], b"\x7f\xff".to_vec()].concat()),
        ("bad-magic", [b"HYLX".to_vec(), hdr(1, true)[4..].to_vec(), b"\x7f\xff".to_vec()].concat()),
        ("bad-encoding", [hdr(2, true), b"\x7f\xff".to_vec()].concat()),
        ("dense-short", [hdr(0, true), vec![0; 100]].concat()),
        ("header-only", hdr(1, true)),
        // Dense registers no element can produce: 51 everywhere (an infinite estimate), 63.
        ("all51", dense(|_| 51)),
        ("all50", dense(|_| 50)),
        ("all63", dense(|_| 63)),
        ("mixed", dense(|i| (i % 64) as u8)),
    ];
    let ops: &[&[&str]] = &[
        &["PFCOUNT", "K"],
        &["GET", "K"],
        &["PFCOUNT", "K", "nokey"],
        &["PFDEBUG", "DECODE", "K"],
        &["PFMERGE", "dest-K", "K"],
        &["GET", "dest-K"],
        &["PFADD", "K", "a", "b", "c", "d", "e"],
        &["GET", "K"],
        &["PFDEBUG", "ENCODING", "K"],
        &["PFDEBUG", "TODENSE", "K"],
        &["GET", "K"],
        &["PFDEBUG", "GETREG", "K"],
        &["PFCOUNT", "K"],
        &["GET", "K"],
    ];
    for (name, value) in &cases {
        p.set(name, value);
        for op in ops {
            let args: Vec<String> = op.iter().map(|w| w.replace('K', name)).collect();
            let args: Vec<&[u8]> = args.iter().map(String::as_bytes).collect();
            let _ = p.same(&args);
        }
    }
    // A corrupt destination of PFMERGE, a corrupt source among good ones.
    p.set("bad", &sparse(b"\x7f\xfe"));
    let _ = p.line("PFADD good x y z");
    let _ = p.line("PFMERGE bad good");
    let _ = p.line("PFMERGE good bad");
    let _ = p.line("PFCOUNT good bad");
    p.same_bytes("good");
    p.same_bytes("bad");
    println!("{} differential lines", p.lines);
}

#[test]
fn pfcount_cache_update_reaches_a_replica() {
    if !require_tool("redis-server") {
        return;
    }
    let master = Server::node(&[]);
    let replica = Server::node(&[]);
    let (mut m, mut r) = (master.conn(), replica.conn());
    let ok: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
    assert_eq!(ok, "OK");
    let synced = wait_until(Duration::from_secs(10), || {
        q::<String>(&mut r, &["INFO", "replication"]).is_ok_and(|s| s.contains("master_link_status:up"))
    });
    assert!(synced, "the replica never synced");
    let _: i64 = q(&mut m, &["PFADD", "h", "a", "b", "c"]).unwrap();
    let _: () = q(&mut m, &["PFMERGE", "m", "h"]).unwrap();
    let _: i64 = q(&mut m, &["PFCOUNT", "h"]).unwrap();
    // Counting several keys changes none of them, so it is not propagated.
    let _: i64 = q(&mut m, &["PFCOUNT", "h", "m"]).unwrap();
    let _: i64 = q(&mut m, &["PFDEBUG", "TODENSE", "m"]).unwrap();
    let acked: i64 = q(&mut m, &["WAIT", "1", "5000"]).unwrap();
    assert_eq!(acked, 1);
    for key in ["h", "m"] {
        let on_master: Vec<u8> = q(&mut m, &["GET", key]).unwrap();
        let on_replica: Vec<u8> = q(&mut r, &["GET", key]).unwrap();
        assert_eq!(on_master, on_replica, "{key}");
    }
    let h: Vec<u8> = q(&mut r, &["GET", "h"]).unwrap();
    assert_eq!(h[15] & 0x80, 0, "the replica holds the cached count");
    let refused = q::<String>(&mut r, &["PFDEBUG", "TODENSE", "h"]).unwrap_err();
    assert_eq!(refused.code(), Some("READONLY"));
}

#[test]
fn watch_scripts_and_the_config_file_behave_like_redis() {
    if !require_tool("redis-server") {
        return;
    }
    // hll-sparse-max-bytes from redis.conf decides when a sparse HLL turns dense.
    let conf = slotgate_tests::scratch_dir("hllconf").join("redis.conf");
    std::fs::write(&conf, "hll-sparse-max-bytes 200\n").unwrap();
    let node = Server::node_with_config(&conf, &[]);
    let redis = Server::redis_with_config(&conf, &[]);
    let mut p = Pair::of(&node, &redis);
    assert_eq!(
        p.line("CONFIG GET hll-sparse-max-bytes"),
        Ok(Value::Array(vec![Value::BulkString(b"hll-sparse-max-bytes".to_vec()), Value::BulkString(b"200".to_vec())]))
    );
    let words: Vec<String> = (0..120).map(|i| format!("w{i}")).collect();
    let mut add: Vec<&[u8]> = vec![b"PFADD", b"c"];
    for (i, w) in words.iter().enumerate() {
        add.push(w.as_bytes());
        if i % 10 == 9 {
            let _ = p.same(&add);
            let _ = p.line("PFDEBUG ENCODING c");
            p.same_bytes("c");
            add.truncate(2);
        }
    }
    // Scripts call the commands like clients do.
    for script in [
        "return redis.call('pfadd', KEYS[1], 'x', 'y')",
        "return redis.call('pfcount', KEYS[1])",
        "return redis.call('pfmerge', KEYS[1], KEYS[1])",
        "return redis.call('pfdebug', 'encoding', KEYS[1])",
        "return redis.pcall('pfadd', KEYS[1], 'x')",
    ] {
        let _ = p.same(&[b"EVAL", script.as_bytes(), b"1", b"s"]);
        let _ = p.same(&[b"EVAL", script.as_bytes(), b"1", b"c"]);
        p.same_bytes("s");
    }
    let _ = p.same(&[b"SET", b"plain", b"text"]);
    let _ = p.same(&[b"EVAL", b"return redis.pcall('pfcount', KEYS[1])", b"1", b"plain"]);
    let _ = p.same(&[b"EVAL_RO", b"return redis.call('pfcount', KEYS[1])", b"1", b"c"]);
    let _ = p.same(&[b"EVAL_RO", b"return redis.call('pfadd', KEYS[1], 'z')", b"1", b"c"]);
    // PFCOUNT that refreshes the cached count is a change WATCH sees; one that reads the
    // cache, or counts several keys, is not.
    let (node_port, redis_port) = (node.port, redis.port);
    for (watch, other, touch) in [("c", "c", true), ("c", "c", false), ("c", "c s", false)] {
        let _ = p.line(&format!("PFADD {watch} fresh-{touch}-{other}"));
        if !touch {
            let _ = p.line(&format!("PFCOUNT {watch}"));
        }
        let _ = p.line(&format!("WATCH {watch}"));
        for port in [node_port, redis_port] {
            let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
            let args: Vec<&str> = ["PFCOUNT"].into_iter().chain(other.split(' ')).collect();
            let _: i64 = q(&mut c, &args).unwrap();
        }
        let _ = p.line("MULTI");
        let _ = p.line("PING");
        let _ = p.line("EXEC");
    }
    println!("{} differential lines", p.lines);
}

/// The commands of an AOF's incremental part, SELECT left out (Redis writes it first).
fn aof_commands(dir: &std::path::Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir.join("appendonlydir")) else { return String::new() };
    let mut text = String::new();
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().ends_with(".incr.aof") {
            text += &String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default());
        }
    }
    text.replace("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", "")
}

#[test]
fn propagated_commands_match_redis_aof() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&["--appendonly", "yes"]);
    let redis = Server::redis(&["--appendonly", "yes"]);
    let mut p = Pair::of(&node, &redis);
    // PFADD only when a register changed; PFCOUNT only when it refreshed the cached count;
    // PFMERGE always; PFDEBUG when it changed the encoding.
    for line in [
        "PFADD a x y",
        "PFADD a x",
        "PFADD b",
        "PFCOUNT a",
        "PFCOUNT a",
        "PFCOUNT a b",
        "PFMERGE d a",
        "PFDEBUG ENCODING d",
        "PFDEBUG GETREG d",
        "PFDEBUG TODENSE d",
        "PFDEBUG TODENSE a",
        "PFCOUNT d",
        "PFCOUNT nokey",
        "SET s x",
        "PFCOUNT s",
    ] {
        let _ = p.line(line);
    }
    let (nd, rd) = (node.dir.clone(), redis.dir.clone());
    let same = wait_until(Duration::from_secs(5), || {
        let want = aof_commands(&rd);
        want.contains("SET") && aof_commands(&nd) == want
    });
    assert!(same, "node AOF:\n{:?}\nredis AOF:\n{:?}", aof_commands(&nd), aof_commands(&rd));
}

/// Through the proxy, unions of HLLs on different masters of a slotgate cluster count and
/// merge as on one redis-server.
#[test]
fn unions_across_masters_through_the_proxy() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    use slotgate_tests::{key_on, Cluster, Kind, Proxy};
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let reference = Server::redis(&[]);
    let mut p = Pair { node: proxy.conn(), redis: reference.conn(), lines: 0 };
    let k: Vec<String> = (0..6).map(|i| key_on(i % 3, &format!("hll{i}-"))).collect();
    let mut rng = Rng(seed());
    for (i, size) in [(0, 5), (1, 300), (2, 2500), (3, 40)] {
        let elements: Vec<Vec<u8>> = (0..size).map(|_| element(&mut rng)).collect();
        let mut add: Vec<&[u8]> = vec![b"PFADD", k[i].as_bytes()];
        add.extend(elements.iter().map(Vec::as_slice));
        p.same(&add).unwrap();
    }
    p.same(&[b"SET", k[4].as_bytes(), b"notahll"]).unwrap();
    let lines = [
        "PFCOUNT $0 $1",
        "PFCOUNT $0 $1 $2 $3",
        "PFCOUNT $0 $5",
        "PFCOUNT $0 $4",
        "PFMERGE $5 $0 $1",
        "GET $5",
        "PFCOUNT $5",
        "GET $5",
        "PFMERGE $5 $2 $3",
        "GET $5",
        "PFMERGE $3 $0 $1",
        "GET $3",
        "PFMERGE $4 $0",
        "PFMERGE $5 $0 $4",
        "GET $0",
        "GET $1",
    ];
    for line in lines {
        let words: Vec<String> = line
            .split_whitespace()
            .map(|w| match w.strip_prefix('$') {
                Some(n) => k[n.parse::<usize>().unwrap()].clone(),
                None => w.to_string(),
            })
            .collect();
        let args: Vec<&[u8]> = words.iter().map(String::as_bytes).collect();
        let _ = p.same(&args);
    }
}

/// An element: mostly short text, sometimes binary or empty, sometimes longer than a word.
fn element(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 0,
        1..=6 => 1 + rng.below(12),
        7 | 8 => 8 + rng.below(40),
        _ => 1 + rng.below(200),
    } as usize;
    let binary = rng.below(4) == 0;
    (0..len).map(|_| if binary { rng.next_u64() as u8 } else { b'a' + rng.below(26) as u8 }).collect()
}
