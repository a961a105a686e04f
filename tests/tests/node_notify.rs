//! Keyspace notifications on slotgate-node against Debian's redis-server 7.0: a subscriber
//! (PSUBSCRIBE `__key*__:*`) on each server records the notification stream while the same
//! workload runs on both; the two streams must be equal (same events, same order), and so must
//! the replies and INFO's keyspace_hits/keyspace_misses afterwards. The workload touches every
//! type and every event class: strings, lists (with blocking pops and LMOVE), hashes, sets,
//! sorted sets, streams, geo, HyperLogLog, bitmaps, the generic commands (expire, persist,
//! rename, copy, del, restore, sort store), lazy and active expiry, eviction, `new`, `keymiss`.

use std::time::{Duration, Instant};

use redis::Value;
use slotgate_tests::{q, require_tool, wait_until, Server};

/// Splits a workload line into arguments: words, or "double quoted" text with spaces.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            out.push(chars.by_ref().take_while(|&c| c != '"').collect());
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                w.push(c);
                chars.next();
            }
            out.push(w);
        }
    }
    out
}

fn run(c: &mut redis::Connection, args: &[String]) -> Result<Value, String> {
    let mut command = redis::cmd(&args[0]);
    for a in &args[1..] {
        command.arg(a.as_bytes());
    }
    command.query(c).map_err(|e| format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")))
}

/// One server under test: a command connection and a subscriber on `__key*__:*`.
struct Side {
    conn: redis::Connection,
    sub: redis::Connection,
}

impl Side {
    fn of(server: &Server) -> Side {
        let mut sub = server.conn();
        redis::cmd("PSUBSCRIBE").arg("__key*__:*").exec(&mut sub).expect("psubscribe");
        sub.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        Side { conn: server.conn(), sub }
    }

    /// Every notification received until the end marker, as `channel payload` lines.
    fn events(&mut self) -> Vec<String> {
        let _: i64 = q(&mut self.conn, &["PUBLISH", "__keyevent@0__:zz-end", "end"]).expect("publish");
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Ok(msg) = self.sub.recv_response() else { continue };
            let Value::Array(parts) = msg else { continue };
            let text: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            // pmessage pattern channel payload
            if text.len() != 4 {
                continue;
            }
            if text[2] == "__keyevent@0__:zz-end" {
                return got;
            }
            got.push(format!("{} {}", text[2], text[3]));
        }
        panic!("no end marker; got {got:?}");
    }

    fn stat(&mut self, field: &str) -> i64 {
        let info: String = q(&mut self.conn, &["INFO", "stats"]).expect("info");
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in INFO"))
    }

    fn blocked(&mut self) -> i64 {
        let info: String = q(&mut self.conn, &["INFO", "clients"]).expect("info");
        info.lines().find_map(|l| l.strip_prefix("blocked_clients:")).and_then(|v| v.trim().parse().ok()).unwrap_or(-1)
    }
}

/// The workload, one command per line. `~` before a line: replies not compared (random
/// picks, clock-dependent values). `!sleep N`: wait N ms. `!block CMD`: run CMD on a second
/// connection and wait until it is blocked; `!unblocked` waits for its reply.
const WORKLOAD: &str = r#"
SET s1 v
SET s1 v2 EX 1000
SET s1 v3 KEEPTTL
SET s1 v4 NX
SET s1 v5 XX GET
SET s1 v6 GET
SET s2 v PX 100000
SETNX s3 x
SETNX s3 y
SETEX s4 1000 v
PSETEX s5 100000 v
GETSET s3 z
GETSET nokey1 z
GETDEL s3
GETDEL nokey2
GETEX s4 PERSIST
GETEX s4 PERSIST
GETEX s4 EX 1000
GETEX s4
GETEX nokey PX 10
GETEX s4 PXAT 1
MSET m1 a m2 b
MSETNX m3 a m4 b
MSETNX m3 a m5 b
INCR c1
INCRBY c1 5
DECR c1
DECRBY c1 2
INCRBYFLOAT c2 1.5
APPEND ap x
APPEND ap y
SETRANGE sr 2 abc
SETRANGE sr 0 ""
SETRANGE nosr 0 ""
STRLEN ap
STRLEN nokey
GETRANGE ap 0 -1
SUBSTR nokey 0 1
GET nokey3
GET ap
GET l1
MGET ap nokey4 sr
LCS ap sr
EXISTS ap nokey5 ap
TYPE ap
TYPE nokey
~TTL s2
~PTTL nokey
~EXPIRETIME s2
OBJECT ENCODING ap
OBJECT ENCODING nokey
TOUCH ap nokey
LPUSH l1 a b c
RPUSH l1 d
LPUSHX l1 e
RPUSHX nol x
LPOP l1
RPOP l1 2
LPOP l1 0
LPOP nol
LINSERT l1 BEFORE b z
LINSERT l1 BEFORE nope z
LSET l1 0 q
LREM l1 0 z
LREM l1 0 absent
LTRIM l1 0 0
LRANGE l1 0 -1
LRANGE nol 0 -1
LPOP l1
RPUSH l2 a b c
LMOVE l2 l3 LEFT RIGHT
RPOPLPUSH l2 l3
LMOVE l2 l3 LEFT LEFT
LMOVE l3 l3 LEFT RIGHT
RPUSH l4 x
LMOVE l4 l4 RIGHT LEFT
LMOVE nol l4 RIGHT LEFT
LMPOP 2 nol l3 LEFT COUNT 5
BLPOP l4 1
LINDEX nol 0
LLEN l4
LPOS nol x
HSET h1 f1 v1 f2 v2
HSET h1 f1 v3
HSETNX h1 f1 x
HSETNX h1 f9 x
HMSET h1 f3 v3
HINCRBY h1 n 5
HINCRBYFLOAT h1 fl 1.5
HDEL h1 nofield
HGET h1 f1
HMGET h1 f1 f2
HGETALL nokey
HLEN h1
HEXISTS h1 f1
HSTRLEN h1 f1
HKEYS h1
HVALS nokey
~HRANDFIELD h1
HSCAN h1 0 COUNT 100
HDEL h1 f1 f2 f3 f9 n fl
SADD set1 a b c
SADD set1 a
SREM set1 a zz
SMOVE set1 set2 b
SMOVE set1 set2 nothere
SMOVE set1 set2 c
SADD set3 x y
~SPOP set3
~SPOP set3 5
SPOP nokey
SADD sa 1 2 3
SADD sb 2 3 4
SINTERSTORE sdst sa sb
SUNIONSTORE sdst sa sb
SDIFFSTORE sdst sa sb
SINTERSTORE sdst sa nokey
SINTERSTORE sdst sa nokey
SINTER sa sb
SUNION sa nokey
SDIFF sa sb
SINTERCARD 2 sa sb
SISMEMBER sa 1
SMISMEMBER sa 1 9
SMEMBERS nokey
SCARD sa
~SRANDMEMBER sa
SSCAN sa 0
ZADD z1 1 a 2 b 3 c
ZADD z1 1 a
ZADD z1 XX 5 a
ZADD z1 NX 6 a
ZADD z1 INCR 1 a
ZADD znx XX 1 a
ZINCRBY z1 0 b
ZINCRBY z1 2 b
ZREM z1 nope
ZREM z1 c
ZADD z2 1 a 2 b 3 c 4 d 5 e
ZREMRANGEBYSCORE z2 1 1
ZREMRANGEBYSCORE z2 100 200
ZREMRANGEBYRANK z2 0 0
ZADD zl 0 a 0 b 0 c
ZREMRANGEBYLEX zl [a [b
ZREMRANGEBYLEX zl - +
ZPOPMIN z2
ZPOPMAX z2 10
ZPOPMIN nokey
ZADD z3 1 x 2 y
ZUNIONSTORE zd 2 z1 z3
ZINTERSTORE zd 2 z1 z3
ZDIFFSTORE zd 1 z1
ZRANGESTORE zd2 z1 0 0
ZRANGESTORE zd2 nokey 0 -1
ZMPOP 1 z3 MIN COUNT 10
BZPOPMIN z1 1
ZSCORE nokey a
ZMSCORE z1 a b
ZRANGE z1 0 -1 WITHSCORES
ZRANGEBYSCORE z1 -inf +inf
ZREVRANGE z1 0 -1
ZCARD z1
ZCOUNT z1 -inf +inf
ZLEXCOUNT z1 - +
ZRANK z1 b
ZUNION 2 z1 nokey
ZINTER 2 z1 nokey
ZDIFF 2 z1 nokey
ZINTERCARD 2 z1 nokey
~ZRANDMEMBER z1
ZSCAN z1 0
XADD x1 1-1 f v
XADD x1 2-1 f v
XADD x1 MAXLEN 1 3-1 f v
XADD nox NOMKSTREAM * f v
XDEL x1 3-1
XDEL x1 9-9
XADD x1 4-1 f v
XADD x1 5-1 f v
XTRIM x1 MAXLEN 1
XTRIM x1 MAXLEN 10
XSETID x1 10-1
XGROUP CREATE x1 g1 0
XGROUP CREATE x1 g1 0
XGROUP CREATE x2 g1 $ MKSTREAM
XGROUP CREATECONSUMER x1 g1 c1
XGROUP CREATECONSUMER x1 g1 c1
XADD x1 11-1 f v
XADD x1 12-1 f v
XREADGROUP GROUP g1 c2 COUNT 1 STREAMS x1 >
XREADGROUP GROUP g1 c2 STREAMS x1 0
XREADGROUP GROUP g1 c5 STREAMS x2 >
XREADGROUP GROUP nogroup c5 STREAMS x1 >
XREADGROUP GROUP g1 c5 STREAMS x1 x2 nostream > > >
XREADGROUP GROUP g1 c5 STREAMS x1 x3 > >
~XCLAIM x1 g1 c3 0 11-1
~XAUTOCLAIM x1 g1 c4 0 0
XACK x1 g1 11-1
XGROUP SETID x1 g1 0
XGROUP DELCONSUMER x1 g1 c1
XGROUP DELCONSUMER x1 g1 nobody
XGROUP DESTROY x1 g1
XGROUP DESTROY x1 g1
XLEN x1
XLEN nokey
XRANGE x1 - +
XREVRANGE nokey + -
XREAD STREAMS x1 nokey 0 0
XINFO STREAM nokey
SINTER sa ap nokey
ZUNION 3 z1 ap nokey
PFCOUNT hl ap nokey
XREAD STREAMS x1 ap nokey 0 0 0
BITOP AND bx b1 sa nokey
GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD geo 13.361389 38.115556 Palermo
GEOSEARCHSTORE gd geo FROMLONLAT 15 37 BYRADIUS 200 km
GEOSEARCHSTORE gd geo FROMLONLAT 0 0 BYRADIUS 1 km
GEOSEARCHSTORE gd geo FROMLONLAT 0 0 BYRADIUS 1 km
GEORADIUS geo 15 37 200 km STORE gd2
GEORADIUS geo 15 37 200 km STOREDIST gd3
GEORADIUSBYMEMBER geo Palermo 10 km STORE gd2
GEORADIUS nogeo 15 37 200 km STORE gd2
GEOPOS geo Palermo
GEODIST geo Palermo Catania
GEOHASH nokey Palermo
GEOSEARCH geo FROMMEMBER Palermo BYRADIUS 100 km
GEORADIUS_RO geo 15 37 200 km
PFADD hl a b c
PFADD hl a
PFADD hl2 x
PFADD hl4
PFMERGE hl3 hl hl2
PFMERGE hl3 hl
PFCOUNT hl
PFCOUNT hl hl2 nokey
SETBIT b1 7 1
SETBIT b1 7 1
SETBIT b1 100 0
BITFIELD b2 SET u8 0 255
BITFIELD b2 GET u8 0
BITFIELD_RO b2 GET u8 0
BITFIELD b2 INCRBY u8 0 1
BITOP AND bd b1 b2
BITOP AND bd nokey nokey2
BITOP OR bd nokey nokey2
BITCOUNT b1
BITPOS b1 1
GETBIT nokey 7
SET k1 v
EXPIRE k1 1000
EXPIRE k1 1000 NX
PEXPIRE k1 100000 XX
EXPIRE nokey 10
PERSIST k1
PERSIST k1
EXPIREAT k1 1
SET k2 v
RENAME k2 k3
SET k4 v
RENAME k3 k4
RENAMENX k4 k5
RENAMENX k5 k5
RENAME nokey k9
COPY k5 k6
COPY k5 k6
COPY k5 k6 REPLACE
COPY nokey k6
SET mv v
MOVE mv 3
SET mv w
MOVE mv 3
COPY k5 k6 DB 2
COPY k5 k6 DB 2 REPLACE
SELECT 2
SET e2 v PX 1
SELECT 3
DEL mv
SWAPDB 2 3
FLUSHDB
SELECT 0
DEL k5 k6 nokey
UNLINK k4 nokey
SET k7 v EX 1000
!restore k7 k8
RPUSH sl 3 1 2
SORT sl STORE sd
SORT sl STORE sd
SORT sl
SET w_1 3
HSET h_2 f x
SORT sl BY w_*
SORT sl BY w_* GET w_* GET # GET h_*->f
SORT sl BY nosort GET h_*->f STORE sg
SORT_RO sl
SORT nokey STORE sd
SORT nokey STORE sd
EVAL "redis.call('set', KEYS[1], 'v'); redis.call('lpush', KEYS[2], 'x'); return redis.call('get', KEYS[3])" 3 ev1 ev2 nokey
MULTI
INCR c9
LPUSH l9 x
GET nokey
EXEC
SET ex1 v PX 50
!sleep 400
GET ex1
SET ex2 v PX 50
!sleep 400
SET ex2 w
HSET hx f v
PEXPIRE hx 50
!sleep 400
HSET hx f v
RPUSH lx a
PEXPIRE lx 50
!sleep 400
LLEN lx
!block BLPOP bl 5
LPUSH bl a
!unblocked
!block BLMOVE bsrc bdst LEFT RIGHT 5
RPUSH bsrc x y
!unblocked
!block BZPOPMIN bz 5
ZADD bz 1 m
!unblocked
!block BLMPOP 5 2 nol bl2 RIGHT COUNT 3
RPUSH bl2 1 2
!unblocked
PERSIST s2
PERSIST s5
PERSIST k7
SET ev v EX 100000
CONFIG SET maxmemory-policy volatile-ttl
CONFIG SET maxmemory 1
!sleep 300
SET oom v
CONFIG SET maxmemory 0
GET ev
"#;

/// Runs the workload on both servers, comparing every reply.
fn workload(node: &Server, redis: &Server, n: &mut Side, r: &mut Side) {
    for line in WORKLOAD.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (compare, line) = match line.strip_prefix('~') {
            Some(rest) => (false, rest),
            None => (true, line),
        };
        let args = words(line);
        match args[0].as_str() {
            "!sleep" => std::thread::sleep(Duration::from_millis(args[1].parse().unwrap_or(100))),
            "!restore" => {
                // Each server restores its own DUMP of the key, twice: once new, once REPLACE.
                for side in [&mut *n, &mut *r] {
                    let payload: Vec<u8> = q(&mut side.conn, &["DUMP", &args[1]]).expect("dump");
                    for extra in [&[][..], &["REPLACE"][..], &[][..]] {
                        let mut c = redis::cmd("RESTORE");
                        c.arg(&args[2]).arg(0).arg(payload.clone()).arg(extra);
                        let _ = c.query::<Value>(&mut side.conn);
                    }
                }
            }
            "!block" => {
                for (server, side) in [(node, &mut *n), (redis, &mut *r)] {
                    let mut other = server.conn();
                    let cmd_args = args[1..].to_vec();
                    BLOCKED.with(|b| {
                        b.borrow_mut().push(std::thread::spawn(move || run(&mut other, &cmd_args)));
                    });
                    assert!(wait_until(Duration::from_secs(5), || side.blocked() == 1), "{line}: not blocked");
                }
            }
            "!unblocked" => {
                let handles: Vec<_> = BLOCKED.with(|b| b.borrow_mut().drain(..).collect());
                let replies: Vec<_> = handles.into_iter().map(|h| h.join().expect("blocked thread")).collect();
                assert_eq!(replies[0], replies[1], "served blocked command");
            }
            _ => {
                let got = run(&mut n.conn, &args);
                let want = run(&mut r.conn, &args);
                if compare {
                    assert_eq!(got, want, "{line}");
                }
            }
        }
    }
}

thread_local! {
    static BLOCKED: std::cell::RefCell<Vec<std::thread::JoinHandle<Result<Value, String>>>> = Default::default();
}

/// Starts both servers with `args`, optionally sets the classes by CONFIG SET, runs the
/// workload and compares the notification streams and the hit/miss counters.
fn differential(args: &[&str], config_set: Option<&str>) {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(args);
    let redis = Server::redis(args);
    let mut n = Side::of(&node);
    let mut r = Side::of(&redis);
    if let Some(classes) = config_set {
        for side in [&mut n, &mut r] {
            let ok: String =
                q(&mut side.conn, &["CONFIG", "SET", "notify-keyspace-events", classes]).expect("config set");
            assert_eq!(ok, "OK");
        }
    }
    let get = |side: &mut Side| -> Vec<String> {
        q(&mut side.conn, &["CONFIG", "GET", "notify-keyspace-events"]).expect("config get")
    };
    assert_eq!(get(&mut n), get(&mut r), "CONFIG GET notify-keyspace-events");
    workload(&node, &redis, &mut n, &mut r);
    let (got, want) = (n.events(), r.events());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g,
            w,
            "event {i} differs\n  node:  {:?}\n  redis: {:?}",
            &got[i.saturating_sub(5)..(i + 5).min(got.len())],
            &want[i.saturating_sub(5)..(i + 5).min(want.len())]
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "event counts\n  node:  {:?}\n  redis: {:?}",
        &got[want.len().min(got.len())..],
        &want[want.len().min(got.len())..]
    );
    println!("{} events equal", got.len());
    if std::env::var_os("NOTIFY_DUMP").is_some() {
        println!("{got:#?}");
    }
    for field in ["keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys"] {
        assert_eq!(n.stat(field), r.stat(field), "INFO {field}");
    }
}

#[test]
fn every_class_from_the_command_line() {
    differential(&["--notify-keyspace-events", "KEA"], None);
}

#[test]
fn a_subset_of_classes() {
    differential(&["--notify-keyspace-events", "Elg$"], None);
}

#[test]
fn every_class_with_new_and_keymiss_by_config_set() {
    differential(&[], Some("KEAnm"));
}

#[test]
fn no_classes_no_events_but_the_same_counters() {
    differential(&[], None);
}

#[test]
fn class_strings_as_redis_shows_and_refuses_them() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    for value in ["KEA", "AKE", "Elg$", "nmKEgx", "AAd", "g$lshzxetd", "tdnmzhsl$gexEK", "", "KEAZ", "a", " K"] {
        let mut replies = Vec::new();
        for server in [&node, &redis] {
            let mut c = server.conn();
            let set: Result<String, String> = q(&mut c, &["CONFIG", "SET", "notify-keyspace-events", value])
                .map_err(|e| format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")));
            let get: Vec<String> = q(&mut c, &["CONFIG", "GET", "notify-keyspace-events"]).expect("get");
            replies.push((set, get));
        }
        assert_eq!(replies[0], replies[1], "{value:?}");
    }
    // The directive in a config file: canonical when accepted, Redis's error when not.
    let node = Server::node(&["--notify-keyspace-events", "xKE"]);
    let got: Vec<String> = q(&mut node.conn(), &["CONFIG", "GET", "notify-keyspace-events"]).expect("get");
    assert_eq!(got, ["notify-keyspace-events", "xKE"]);
}
