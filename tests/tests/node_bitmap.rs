//! Bitmap commands of slotgate-node against Debian's redis-server 7.0: a table of command lines
//! (every option, edge and error case) compared reply by reply; the dirty counter and WATCH
//! after each kind of write; a seeded random mix of SETBIT/BITFIELD/BITOP/BITCOUNT/BITPOS
//! compared reply by reply and then key by key; and writes reaching a replica and the AOF.

use std::time::Duration;

#[path = "node_bitmap/table.rs"]
mod table;

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{
    key_on, q, redis_cli, require_tool, resp, scratch_dir, wait_until, Cluster, Kind, Proxy, RawConn, Server,
};

/// Splits a table line on whitespace; `""` stands for an empty argument.
fn words(line: &str) -> Vec<Vec<u8>> {
    line.split_whitespace().map(|w| if w == "\"\"" { Vec::new() } else { w.as_bytes().to_vec() }).collect()
}

/// A reply in comparable form: the value or the error's full text.
fn run(c: &mut redis::Connection, args: &[Vec<u8>]) -> Result<Value, String> {
    let mut command = cmd(&String::from_utf8_lossy(&args[0]));
    for a in &args[1..] {
        command.arg(&a[..]);
    }
    let r: RedisResult<Value> = command.query(c);
    r.map_err(|e| format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

/// Runs every command on both servers; returns the mismatches as printable text.
fn compare(node: &mut redis::Connection, redis: &mut redis::Connection, cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut mismatches = Vec::new();
    for args in cmds {
        let got = run(node, args);
        let want = run(redis, args);
        if got != want {
            let line: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            mismatches.push(format!("{}\n    node:  {got:?}\n    redis: {want:?}", line.join(" ")));
        }
    }
    mismatches
}

#[test]
fn same_replies_as_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let lines = table::lines();
    assert!(lines.len() >= 450, "table has {} lines", lines.len());
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let cmds: Vec<Vec<Vec<u8>>> = lines.iter().map(|l| words(l)).collect();
    let mismatches = compare(&mut node.conn(), &mut redis.conn(), &cmds);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// COMMAND INFO's name, arity, flags, key positions and ACL categories of each bitmap command.
/// (The node's COMMAND INFO does not list key specs; `ACL CAT bitmap` is compared too.)
#[test]
fn command_info_matches_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let names = ["setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro"];
    let info = |c: &mut redis::Connection| -> Vec<Vec<Value>> {
        let mut args = vec!["COMMAND", "INFO"];
        args.extend(names);
        let all: Vec<Vec<Value>> = q(c, &args).unwrap();
        all.into_iter().map(|entry| entry.into_iter().take(7).collect()).collect()
    };
    assert_eq!(info(&mut node.conn()), info(&mut redis.conn()));
    let cat = |c: &mut redis::Connection| -> Vec<String> {
        let mut v: Vec<String> = q(c, &["ACL", "CAT", "bitmap"]).unwrap();
        v.sort();
        v
    };
    assert_eq!(cat(&mut node.conn()), cat(&mut redis.conn()));
}

/// Key permissions: BITFIELD with only GETs (and OVERFLOWs) reads its key, any other form
/// reads and writes it (Redis's bitfieldGetKeys); BITOP writes its destination only.
#[test]
fn acl_key_permissions_follow_bitfield_subcommands() {
    if !require_tool("redis-server") {
        return;
    }
    let lines = r#"
ACL SETUSER ro on nopass %R~* +@all
ACL SETUSER wo on nopass %W~* +@all
SET k x
AUTH ro x
BITFIELD k GET u8 0
BITFIELD k GET u8 0 OVERFLOW SAT
BITFIELD k OVERFLOW FAIL
BITFIELD k SET u8 0 1
BITFIELD k GET u8 0 INCRBY u8 0 1
BITFIELD k GET u8
BITFIELD k GET u8 0 FOO
BITFIELD k
BITFIELD_RO k GET u8 0
SETBIT k 0 1
GETBIT k 0
BITCOUNT k
BITPOS k 1
BITOP AND d k
AUTH wo x
BITFIELD k GET u8 0
BITFIELD k SET u8 0 1
BITFIELD_RO k GET u8 0
SETBIT k 0 1
BITOP AND d k
BITOP AND d nokey
AUTH default x
ACL DRYRUN ro BITFIELD k GET u8 0
ACL DRYRUN ro BITFIELD k INCRBY u8 0 1
ACL DRYRUN wo BITOP OR d k
GET k
"#;
    let cmds: Vec<Vec<Vec<u8>>> = lines.lines().map(str::trim).filter(|l| !l.is_empty()).map(words).collect();
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let mismatches = compare(&mut node.conn(), &mut redis.conn(), &cmds);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// The dirty counter and the keyspace hit and miss counts, from INFO.
fn counters(c: &mut redis::Connection) -> Vec<String> {
    let info: String = q(c, &["INFO", "all"]).unwrap();
    let field = |name: &str| {
        let prefix = format!("{name}:");
        info.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap_or("?").trim().to_string()
    };
    vec![field("rdb_changes_since_last_save"), field("keyspace_hits"), field("keyspace_misses")]
}

/// The dirty counter after every kind of write (writes that change nothing do not count), and
/// the keyspace hits and misses of the reads (writes look their key up without counting).
#[test]
fn dirty_counter_and_keyspace_hits_move_as_in_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let lines = r#"
SETBIT d1 7 1
SETBIT d1 7 1
SETBIT d1 7 0
SETBIT d1 7 0
SETBIT d1 20 0
SETBIT d1 2 0
SET n 7
SETBIT n 0 0
GETBIT d1 1
BITFIELD d1 GET u8 0
BITFIELD d1 SET u8 0 0
BITFIELD d1 SET u8 0 1 SET u8 8 2 SET u8 8 2
BITFIELD d1 INCRBY u8 0 0
BITFIELD d1 OVERFLOW FAIL INCRBY u8 0 300
BITFIELD d1 OVERFLOW SAT INCRBY u8 0 300 INCRBY u8 0 1
BITFIELD d1 INCRBY u8 64 0
BITFIELD d1 SET u8 0 1 SET u8 0 2 SET u8 0 3
BITFIELD d2 OVERFLOW FAIL INCRBY u8 0 300
BITFIELD d3 SET u8 0 0 SET u8 0 0
BITOP AND d4 nokey
BITOP AND d4 d1
BITOP AND d4 d1
BITOP OR d4 nokey
BITOP OR d4 nokey
BITFIELD_RO d1 GET u8 0
BITFIELD_RO nokey GET u8 0
BITFIELD nokey GET u8 0
BITFIELD d1 GET u8 0 OVERFLOW SAT
BITFIELD nokey OVERFLOW SAT
BITCOUNT d1
BITCOUNT nokey
BITCOUNT d1 0 1 BIT
BITPOS d1 1
BITPOS nokey 1
GETBIT d1 3
GETBIT nokey 3
BITOP OR d5 d1 nokey n
BITOP NOT d5 nokey
RPUSH l x
BITOP AND d6 d1 l nokey
BITCOUNT l
GETBIT l 0
BITFIELD_RO l GET u8 0
SET t x EX 100
SETBIT t 1 1
BITFIELD t SET u8 8 1
"#;
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut a, mut b) = (node.conn(), redis.conn());
    assert_eq!(counters(&mut a), counters(&mut b), "at start");
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let args = words(line);
        assert_eq!(run(&mut a, &args), run(&mut b, &args), "{line}");
        assert_eq!(counters(&mut a), counters(&mut b), "dirty, hits, misses after {line}");
    }
}

/// Sends one command and returns its reply's exact bytes: a PING follows it, and the reply
/// ends where the PONG begins.
fn raw_reply(c: &mut RawConn, args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    let mut req = resp(&refs);
    req.extend_from_slice(&resp(&[b"PING"]));
    c.send(&req);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"+PONG\r\n") {
        match std::io::Read::read(&mut c.0, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got.truncate(got.len().saturating_sub(b"+PONG\r\n".len()));
    got
}

/// The exact bytes on the wire, in RESP2 and in RESP3 (nulls, empty arrays, errors).
#[test]
fn wire_bytes_match_redis_in_resp2_and_resp3() {
    if !require_tool("redis-server") {
        return;
    }
    let lines = r#"
SETBIT k 3 1
BITFIELD k OVERFLOW FAIL INCRBY u2 0 100 GET u8 0 SET i8 8 -3
BITFIELD k OVERFLOW SAT
BITFIELD_RO nokey GET u8 0 GET i64 #3
BITFIELD_RO k SET u8 0 1
BITFIELD k GET u64 0
BITCOUNT k 0 -1 BIT
BITPOS k 0 0 -1
GETBIT k 3
BITOP OR d k nokey
GET d
BITOP AND d nokey
GET d
"#;
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    for proto in ["2", "3"] {
        let (mut a, mut b) = (node.raw(), redis.raw());
        let hello = words(&format!("HELLO {proto}"));
        raw_reply(&mut a, &hello);
        raw_reply(&mut b, &hello);
        for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let args = words(line);
            let (got, want) = (raw_reply(&mut a, &args), raw_reply(&mut b, &args));
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "RESP{proto}: {line}");
        }
    }
}

/// A small xorshift generator: the same seed gives the same operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const KEYS: &[&str] = &["r0", "r1", "r2", "r3", "rlist"];

fn offset(rng: &mut Rng, bits: u32) -> String {
    match rng.below(40) {
        0 => "4294967296".to_string(),
        // Products past the limit, some wrapping in i64 as Redis's do (never back into a
        // small valid offset but by a 2^-32 chance).
        1 => format!("#{}", (rng.next() >> rng.below(24)) | (1 << 40)),
        2..=5 => format!("#{}", rng.below(20)),
        6..=9 => rng.below(2000).to_string(),
        _ => rng.below((160 - bits.min(64)) as u64).to_string(),
    }
}

fn field_value(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => i64::MAX.to_string(),
        1 => i64::MIN.to_string(),
        2 => (rng.next() as i64).to_string(),
        3 => ((rng.next() as i64) >> rng.below(64)).to_string(),
        _ => rng.range(-300, 300).to_string(),
    }
}

fn field_type(rng: &mut Rng) -> String {
    let signed = rng.below(2) == 0;
    let bits = match rng.below(4) {
        0 => rng.range(1, 8),
        1 => [16, 32, 63, 64][rng.below(4) as usize],
        _ => rng.range(1, 64),
    };
    if signed {
        format!("i{bits}")
    } else {
        format!("u{}", bits.min(63))
    }
}

fn range_args(rng: &mut Rng, words: &mut Vec<String>) {
    let span = if rng.below(2) == 0 { 30 } else { 300 };
    for _ in 0..2 {
        words.push(match rng.below(20) {
            0 => i64::MIN.to_string(),
            1 => i64::MAX.to_string(),
            _ => rng.range(-span, span).to_string(),
        });
    }
    match rng.below(3) {
        0 => words.push(rng.pick(&["BIT", "bit"]).to_string()),
        1 => words.push("BYTE".to_string()),
        _ => {}
    }
}

/// One random command over a few keys.
fn random_command(rng: &mut Rng) -> Vec<String> {
    let key = rng.pick(KEYS).to_string();
    let mut w: Vec<String> = Vec::new();
    match rng.below(100) {
        0..=19 => {
            let off = if rng.below(8) == 0 { rng.below(3000) } else { rng.below(200) };
            w.extend(["SETBIT".into(), key, off.to_string(), rng.below(2).to_string()]);
        }
        20..=26 => w.extend(["GETBIT".into(), key, rng.below(250).to_string()]),
        27..=38 => {
            w.extend(["BITCOUNT".into(), key]);
            if rng.below(4) != 0 {
                range_args(rng, &mut w);
            }
        }
        39..=52 => {
            w.extend(["BITPOS".into(), key, rng.below(2).to_string()]);
            match rng.below(4) {
                0 => {}
                1 => w.push(rng.range(-40, 40).to_string()),
                _ => range_args(rng, &mut w),
            }
        }
        53..=62 => {
            let op = rng.pick(&["AND", "OR", "XOR", "NOT", "and"]);
            let n = if op == "NOT" { 1 } else { rng.range(1, 3) };
            w.extend(["BITOP".into(), op.into(), key]);
            for _ in 0..n {
                w.push(rng.pick(KEYS).into());
            }
        }
        63..=90 => {
            let ro = rng.below(6) == 0;
            w.extend([if ro { "BITFIELD_RO" } else { "BITFIELD" }.into(), key]);
            for _ in 0..rng.range(1, 4) {
                let kind = if ro { 0 } else { rng.below(10) };
                if kind == 9 {
                    w.extend(["OVERFLOW".into(), rng.pick(&["WRAP", "SAT", "FAIL", "sat"]).into()]);
                    continue;
                }
                let ty = field_type(rng);
                let bits: u32 = ty[1..].parse().unwrap_or(8);
                let off = offset(rng, bits);
                match kind {
                    0..=3 => w.extend(["GET".into(), ty, off]),
                    4..=5 => w.extend(["SET".into(), ty, off, field_value(rng)]),
                    _ => w.extend(["INCRBY".into(), ty, off, field_value(rng)]),
                }
            }
        }
        91..=93 => w.extend(["SET".into(), key, rng.range(-100000, 100000).to_string()]),
        94 => w.extend(["SET".into(), key, "".into()]),
        95 => w.extend(["SET".into(), key, format!("text{}", rng.below(1000))]),
        96 => w.extend(["DEL".into(), key]),
        97 => w.extend(["RPUSH".into(), key, "x".into()]),
        _ => w.extend(["GET".into(), key]),
    }
    w
}

#[test]
fn random_operations_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let seed = std::env::var("BITMAP_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    println!("random bitmap differential, seed {seed} (BITMAP_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut a, mut b) = (node.conn(), redis.conn());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut mismatches = Vec::new();
    let count = 2500;
    for i in 0..count {
        assert!(std::time::Instant::now() < deadline, "out of time after {i} operations (seed {seed})");
        let words = random_command(&mut rng);
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        mismatches.extend(compare(&mut a, &mut b, &[args]).into_iter().map(|m| format!("#{i} {m}")));
        if mismatches.len() > 20 {
            break;
        }
    }
    for key in KEYS {
        let args = vec![b"GET".to_vec(), key.as_bytes().to_vec()];
        mismatches.extend(compare(&mut a, &mut b, &[args]));
        let args = vec![b"TYPE".to_vec(), key.as_bytes().to_vec()];
        mismatches.extend(compare(&mut a, &mut b, &[args]));
    }
    assert!(mismatches.is_empty(), "seed {seed}: {} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// The writes a replica and the AOF receive rebuild the same strings, and BITFIELD with only
/// GETs (or writes that all fail) is not propagated.
#[test]
fn writes_reach_the_replica_and_the_aof() {
    let dir = scratch_dir("bitmap-aof");
    let args = ["--appendonly", "yes", "--appendfsync", "always"];
    let master = Server::node_in(&dir, &args);
    let replica = Server::node(&[]);
    let mut m = master.conn();
    let mut r = replica.conn();
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
    let link_up =
        || redis_cli(replica.port, &["info", "replication"]).is_some_and(|t| t.contains("master_link_status:up"));
    assert!(wait_until(Duration::from_secs(10), link_up), "the replica never synced");
    let writes: &[&[&str]] = &[
        &["SETBIT", "a", "9", "1"],
        &["SETBIT", "a", "9", "1"],
        &["SET", "n", "300"],
        &["SETBIT", "n", "0", "1"],
        &["BITFIELD", "bf", "SET", "u8", "#2", "200", "INCRBY", "i5", "3", "-7"],
        &["BITFIELD", "bf", "GET", "u8", "0"],
        &["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u8", "#2", "100"],
        &["BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u8", "#2", "100"],
        &["BITOP", "XOR", "x", "a", "bf", "n"],
        &["BITOP", "NOT", "y", "x"],
        &["BITOP", "AND", "gone", "x"],
        &["BITOP", "AND", "gone", "nokey"],
    ];
    for w in writes {
        let _: Value = q(&mut m, w).unwrap();
    }
    let acked: i64 = q(&mut m, &["WAIT", "1", "5000"]).unwrap();
    assert_eq!(acked, 1);
    let keys = ["a", "n", "bf", "x", "y", "gone"];
    let snapshot =
        |c: &mut redis::Connection| -> Vec<Value> { keys.iter().map(|k| q(c, &["GET", k]).unwrap()).collect() };
    let on_master = snapshot(&mut m);
    assert_eq!(snapshot(&mut r), on_master, "replica");
    assert_eq!(on_master[5], Value::Nil, "BITOP with empty sources deletes its destination");
    // The AOF holds each write that changed something, and no read-only BITFIELD.
    let aof = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let text = String::from_utf8_lossy(&aof).to_ascii_lowercase();
    assert_eq!(text.matches("\r\nsetbit\r\n").count(), 2, "{text}");
    assert_eq!(text.matches("\r\nbitfield\r\n").count(), 2, "{text}");
    assert_eq!(text.matches("\r\nbitop\r\n").count(), 4, "{text}");
    drop(master);
    let master = Server::node_in(&dir, &args);
    assert_eq!(snapshot(&mut master.conn()), on_master, "after loading the AOF");
    drop(master);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Through slotgate-proxy on a cluster of slotgate-nodes, with keys on all three masters: the
/// bitmap commands, BITOP across slots included, answer as one redis-server does.
#[test]
fn bitmaps_across_slots_through_the_proxy() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let lines = r#"
SETBIT $0 1 1
SETBIT $1 2 1
BITFIELD $2 SET u8 0 255 SET u8 8 15
RPUSH $L x
BITOP OR $D $0 $1 $2
GET $D
BITOP AND $D $0 $1
GET $D
BITOP XOR $D $0 $1 $2 $N
GET $D
BITOP NOT $D $2
GET $D
BITOP OR $D $0 $L
BITOP AND $D $N $M
EXISTS $D
BITOP OR $0 $0 $2
GET $0
BITCOUNT $0
BITCOUNT $0 0 9 BIT
BITPOS $2 0
BITPOS $2 0 0 -1
GETBIT $1 2
BITFIELD_RO $2 GET u16 0
BITFIELD $1 INCRBY i8 0 -100 OVERFLOW FAIL INCRBY i8 0 -100
"#;
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    let reference = Server::redis(&[]);
    let names = [("$0", 0, "bm:a"), ("$1", 1, "bm:b"), ("$2", 2, "bm:c"), ("$D", 1, "bm:d"), ("$L", 2, "bm:l")];
    let mut keys: Vec<(&str, String)> = names.iter().map(|(p, third, prefix)| (*p, key_on(*third, prefix))).collect();
    keys.push(("$N", key_on(0, "bm:n")));
    keys.push(("$M", key_on(2, "bm:m")));
    let cmds: Vec<Vec<Vec<u8>>> = lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| keys.iter().fold(l.to_string(), |l, (p, k)| l.replace(p, k)))
        .map(|l| words(&l))
        .collect();
    let mismatches = compare(&mut proxy.conn(), &mut reference.conn(), &cmds);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    let temporary: Vec<String> = q(&mut proxy.conn(), &["KEYS", "*slotgate*"]).unwrap();
    assert!(temporary.is_empty(), "temporary keys left: {temporary:?}");
}
