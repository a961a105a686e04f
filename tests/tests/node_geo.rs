//! Geo commands against redis-server 7.0: a differential table of command lines (every
//! command and option, error texts, poles, the antimeridian, the latitude limits, empty keys,
//! wrong types) compared byte for byte in RESP2 and RESP3, and a seeded random test that adds
//! a few thousand points to both servers, compares every position, hash and hundreds of
//! distances, then a thousand random radius and box searches reply by reply. Replies are read
//! raw, so number formats are compared exactly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use slotgate_tests::{require_tool, rng::Rng, Server};

/// One RESP reply, kept in its wire form (a tag plus the text or the children).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reply {
    Line(u8, String),
    Bulk(Option<Vec<u8>>),
    Agg(u8, Option<Vec<Reply>>),
}

/// A connection that sends command words and reads whole replies.
struct Conn(BufReader<TcpStream>);

impl Conn {
    fn open(server: &Server) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        Conn(BufReader::new(s))
    }

    fn call(&mut self, words: &[String]) -> Reply {
        let mut req = format!("*{}\r\n", words.len()).into_bytes();
        for w in words {
            req.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
            req.extend_from_slice(w.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        self.0.get_mut().write_all(&req).expect("send");
        self.read()
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.0.read_line(&mut l).expect("read");
        assert!(l.ends_with("\r\n"), "truncated reply line {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    fn read(&mut self) -> Reply {
        let l = self.line();
        let (tag, rest) = (l.as_bytes()[0], l[1..].to_string());
        match tag {
            b'$' | b'=' => {
                let n: i64 = rest.parse().expect("bulk length");
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.0.read_exact(&mut buf).expect("bulk");
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
            b'*' | b'~' | b'>' | b'%' => {
                let n: i64 = rest.parse().expect("aggregate length");
                if n < 0 {
                    return Reply::Agg(tag, None);
                }
                let n = if tag == b'%' { n * 2 } else { n };
                Reply::Agg(tag, Some((0..n).map(|_| self.read()).collect()))
            }
            _ => Reply::Line(tag, rest),
        }
    }
}

/// A reply as readable text for failure messages.
fn show(r: &Reply) -> String {
    match r {
        Reply::Line(t, s) => format!("{}{s}", *t as char),
        Reply::Bulk(None) => "nil".into(),
        Reply::Bulk(Some(b)) => format!("{:?}", String::from_utf8_lossy(b)),
        Reply::Agg(t, None) => format!("{}nil", *t as char),
        Reply::Agg(t, Some(v)) => format!("{}[{}]", *t as char, v.iter().map(show).collect::<Vec<_>>().join(", ")),
    }
}

/// COMMAND INFO entries cut to their first eight fields (name ... tips): the node does not
/// describe key specs in detail, which is not this suite's concern.
fn command_info_head(r: Reply) -> Reply {
    match r {
        Reply::Agg(t, Some(v)) => Reply::Agg(
            t,
            Some(
                v.into_iter()
                    .map(|e| match e {
                        Reply::Agg(t, Some(mut f)) => {
                            f.truncate(8);
                            Reply::Agg(t, Some(f))
                        }
                        e => e,
                    })
                    .collect(),
            ),
        ),
        r => r,
    }
}

/// Splits a table line on whitespace; `""` stands for an empty argument.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(|w| if w == "\"\"" { String::new() } else { w.to_string() }).collect()
}

/// Whether a search line leaves the order to Redis (no ASC/DESC, no COUNT forcing ASC).
fn unordered(w: &[String]) -> bool {
    let name = w[0].to_ascii_uppercase();
    let has = |k: &str| w.iter().any(|x| x.eq_ignore_ascii_case(k));
    let search = name.starts_with("GEORADIUS") || name.starts_with("GEOSEARCH");
    search && !has("ASC") && !has("DESC") && (!has("COUNT") || has("ANY"))
}

/// A reply with its top-level elements sorted (for replies in Redis's unspecified order).
fn sorted(r: Reply) -> Reply {
    match r {
        Reply::Agg(t, Some(mut v)) => {
            v.sort();
            Reply::Agg(t, Some(v))
        }
        r => r,
    }
}

/// Runs every line on both servers (after `HELLO 3` when `resp3`); returns the mismatches.
fn compare(lines: &[String], resp3: bool) -> Vec<String> {
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut a, mut b) = (Conn::open(&node), Conn::open(&redis));
    if resp3 {
        let hello = words("HELLO 3");
        a.call(&hello);
        b.call(&hello);
    }
    let mut mismatches = Vec::new();
    for line in lines {
        let w = words(line);
        let (mut got, mut want) = (a.call(&w), b.call(&w));
        if line.to_ascii_uppercase().starts_with("COMMAND INFO") {
            (got, want) = (command_info_head(got), command_info_head(want));
        }
        if got != want {
            mismatches.push(format!("{line}\n    node:  {}\n    redis: {}", show(&got), show(&want)));
        }
    }
    mismatches
}

fn table() -> Vec<String> {
    r#"
GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD Sicily 13.361389 38.115556 Palermo
GEOADD Sicily CH 13.361389 38.115556 Palermo 13.5 38.1 Palermo2
GEOADD Sicily NX 13.0 38.0 Palermo 12.0 37.0 Marsala
GEOADD Sicily XX 12.5 37.8 Marsala 12.0 37.0 Nowhere
GEOADD Sicily XX CH 12.5 37.9 Marsala
GEOADD Sicily CH XX 12.5 37.9 Marsala
GEOADD Sicily NX XX 1 1 a
GEOADD Sicily GT 1 1 a
GEOADD Sicily INCR 1 1 a
GEOADD Sicily 1 1 a 2
GEOADD Sicily 1 1
GEOADD Sicily NX CH
GEOADD Sicily nx ch 1 1
GEOADD Sicily 181 0 bad
GEOADD Sicily -180.000001 0 bad
GEOADD Sicily 0 85.05112879 bad
GEOADD Sicily 0 -85.05112879 bad
GEOADD Sicily 0 90 bad
GEOADD Sicily abc 0 bad
GEOADD Sicily 0 abc bad
GEOADD Sicily inf 0 bad
GEOADD Sicily 0 -inf bad
GEOADD Sicily nan 0 bad
GEOADD Sicily 1e400 0 bad
GEOADD Sicily 1 1 good 200 0 bad
GEOADD Sicily -0 90 bad
GEOADD Sicily -0.0000001 -86 bad
GEOADD Sicily 1e300 0 bad
GEOADD Sicily 0 123456789.123456789 bad
ZCARD Sicily
GEOADD poles 0 85.05112878 north -0 -85.05112878 south 180 85.05112878 ne -180 -85.05112878 sw 180 -85.05112878 se -180 85.05112878 nw
GEOADD poles 179.9999 0 am1 -179.9999 0 am2 180 0 am3 -180 0 am4 0 0 origin 0.0000001 -0.0000001 tiny
GEOADD poles 0x10 0 hex 1.5e1 2E1 sci
ZRANGE poles 0 -1 WITHSCORES
ZRANGE Sicily 0 -1 WITHSCORES
ZSCORE Sicily Palermo
TYPE Sicily
OBJECT ENCODING Sicily
GEOPOS Sicily Palermo Catania nosuch Marsala
GEOPOS poles north south ne sw se nw am1 am2 am3 am4 origin tiny hex sci
GEOPOS nokey a b
GEOPOS Sicily
GEOHASH Sicily Palermo Catania nosuch Marsala
GEOHASH poles north south ne sw se nw am1 am2 am3 am4 origin tiny hex sci
GEOHASH nokey a
GEOHASH Sicily
GEODIST Sicily Palermo Catania
GEODIST Sicily Palermo Catania m
GEODIST Sicily Palermo Catania km
GEODIST Sicily Palermo Catania KM
GEODIST Sicily Palermo Catania mi
GEODIST Sicily Palermo Catania ft
GEODIST Sicily Palermo Catania Mi
GEODIST Sicily Palermo Catania yd
GEODIST Sicily Palermo Catania km extra
GEODIST Sicily Palermo nosuch
GEODIST Sicily Palermo Palermo
GEODIST nokey a b
GEODIST nokey a b yd
GEODIST poles north south
GEODIST poles am1 am2 km
GEODIST poles am3 am4
GEODIST poles ne sw mi
GEODIST poles origin tiny
GEORADIUS Sicily 15 37 200 km
GEORADIUS Sicily 15 37 200 km ASC
GEORADIUS Sicily 15 37 200 km DESC
GEORADIUS Sicily 15 37 200 km WITHDIST ASC
GEORADIUS Sicily 15 37 200 km WITHCOORD WITHDIST WITHHASH ASC
GEORADIUS Sicily 15 37 200 km withhash withcoord desc
GEORADIUS Sicily 15 37 200 km COUNT 1
GEORADIUS Sicily 15 37 200 km COUNT 1 DESC
GEORADIUS Sicily 15 37 200 km COUNT 2 ANY
GEORADIUS Sicily 15 37 200 km COUNT 1 ANY DESC WITHDIST
GEORADIUS Sicily 15 37 200 km ANY
GEORADIUS Sicily 15 37 200 km COUNT 0
GEORADIUS Sicily 15 37 200 km COUNT -1
GEORADIUS Sicily 15 37 200 km COUNT x
GEORADIUS Sicily 15 37 200 km COUNT
GEORADIUS Sicily 15 37 200 km BOGUS
GEORADIUS Sicily 15 37 200 furlong
GEORADIUS Sicily 15 37 -1 km
GEORADIUS Sicily 15 37 abc km
GEORADIUS Sicily 15 37 0 km
GEORADIUS Sicily 13.361389 38.115556 0 m WITHDIST
GEORADIUS Sicily 200 37 200 km
GEORADIUS Sicily 15 x 200 km
GEORADIUS Sicily 15 37 200 mi WITHDIST ASC
GEORADIUS Sicily 15 37 200000 ft WITHDIST ASC
GEORADIUS Sicily 15 37 200 km FROMMEMBER Palermo
GEORADIUS nokey 15 37 200 km
GEORADIUS nokey 15 37 200 km WITHDIST
GEORADIUS nokey 200 37 200 km
GEORADIUS Sicily 15 37 200 km STORE dst
ZRANGE dst 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STOREDIST dst2
ZRANGE dst2 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STOREDIST dst2 COUNT 1 DESC
ZRANGE dst2 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STORE dst STOREDIST dst3
ZRANGE dst 0 -1 WITHSCORES
ZRANGE dst3 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STORE dst WITHDIST
GEORADIUS Sicily 15 37 200 km WITHHASH STOREDIST dst
GEORADIUS Sicily 15 37 200 km STORE
GEORADIUS Sicily 0 0 1 km STORE dst
EXISTS dst
GEORADIUS nokey 15 37 200 km STORE dst2
EXISTS dst2
SET str v
GEORADIUS Sicily 15 37 200 km STORE str
TYPE str
GEORADIUS_RO Sicily 15 37 200 km WITHDIST ASC
GEORADIUS_RO Sicily 15 37 200 km STORE dst
GEORADIUS_RO Sicily 15 37 200 km STOREDIST dst
GEORADIUS_RO Sicily 15 37 200 km COUNT 1 ANY
GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST ASC
GEORADIUSBYMEMBER Sicily Palermo 200 km WITHCOORD DESC COUNT 2
GEORADIUSBYMEMBER Sicily nosuch 200 km
GEORADIUSBYMEMBER Sicily Palermo -5 km
GEORADIUSBYMEMBER Sicily Palermo 5 parsec
GEORADIUSBYMEMBER nokey Palermo 200 km
GEORADIUSBYMEMBER nokey Palermo abc parsec
GEORADIUSBYMEMBER nokey Palermo 200 km STORE dst4
GEORADIUSBYMEMBER nokey Palermo 200 km BOGUS
GEORADIUSBYMEMBER nokey Palermo 200 km ANY
GEORADIUSBYMEMBER Sicily Palermo 200 km STORE dst4
ZRANGE dst4 0 -1 WITHSCORES
GEORADIUSBYMEMBER_RO Sicily Palermo 200 km WITHHASH ASC
GEORADIUSBYMEMBER_RO Sicily Palermo 200 km STORE dst
GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km ASC
GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km WITHDIST WITHCOORD WITHHASH ASC
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km DESC WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 100 km ASC WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 100 400 km ASC WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 mi COUNT 1
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km COUNT 2 ANY
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 0 0 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 5 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 5 -1 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 5 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 5 x km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 5 5 yd
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 5 5
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 5
GEOSEARCH Sicily FROMLONLAT 15 BYRADIUS 5 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 5 km BYBOX 1 1 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 5 km
GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 5 km
GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 5 km
GEOSEARCH Sicily FROMMEMBER Palermo FROMMEMBER Catania BYRADIUS 500 km WITHDIST ASC
GEOSEARCH Sicily FROMLONLAT 1 1 FROMLONLAT 15 37 BYRADIUS 500 km WITHDIST ASC
GEOSEARCH Sicily BYRADIUS 5 km BYRADIUS 200 km FROMLONLAT 15 37 ASC
GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS 5 km
GEOSEARCH Sicily FROMLONLAT 15 37 ASC WITHDIST
geosearch Sicily FROMLONLAT 15 37 ASC WITHDIST
GeoSearch Sicily BYRADIUS 5 km ASC WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 5 km ANY
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 5 km COUNT 0
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 5 km STORE dst
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 5 km STOREDIST
GEOSEARCH Sicily FROMLONLAT 200 37 BYRADIUS 5 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS -5 km
GEOSEARCH nokey FROMMEMBER Palermo BYRADIUS 5 km
GEOSEARCH nokey FROMMEMBER Palermo BYRADIUS abc km
GEOSEARCH nokey FROMMEMBER Palermo
GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 5 km ANY
GEOSEARCH str FROMLONLAT 15 37 BYRADIUS 5 km
GEOSEARCHSTORE dst Sicily FROMMEMBER Palermo BYRADIUS 200 km
ZRANGE dst 0 -1 WITHSCORES
GEOSEARCHSTORE dst Sicily FROMMEMBER Palermo BYRADIUS 200 km STOREDIST DESC COUNT 2
ZRANGE dst 0 -1 WITHSCORES
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST ASC COUNT 1 ANY
ZRANGE dst 0 -1 WITHSCORES
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STORE x
GEOSEARCHSTORE dst Sicily FROMLONLAT 0 0 BYRADIUS 1 m
EXISTS dst
GEOSEARCHSTORE dst nokey FROMLONLAT 0 0 BYRADIUS 1 m
GEOSEARCHSTORE dst str FROMLONLAT 0 0 BYRADIUS 1 m
GEOSEARCHSTORE str Sicily FROMMEMBER Palermo BYRADIUS 200 km
TYPE str
GEOSEARCHSTORE dst Sicily FROMMEMBER Palermo
GEOSEARCH poles FROMLONLAT 0 85 BYRADIUS 500 km WITHDIST ASC
GEOSEARCH poles FROMLONLAT 0 -85 BYRADIUS 500 km WITHDIST ASC
GEOSEARCH poles FROMLONLAT 180 0 BYRADIUS 100 km WITHDIST ASC
GEOSEARCH poles FROMLONLAT -180 0 BYRADIUS 100 km WITHDIST WITHCOORD ASC
GEOSEARCH poles FROMLONLAT 179.99 0 BYBOX 100 100 km WITHDIST ASC
GEOSEARCH poles FROMLONLAT 0 85.05112878 BYBOX 40000 1000 km WITHDIST ASC
GEOSEARCH poles FROMLONLAT 0 0 BYRADIUS 20000 km WITHDIST ASC
GEOSEARCH poles FROMLONLAT 0 0 BYRADIUS 30000 km WITHDIST DESC
GEOSEARCH poles FROMLONLAT 0 0 BYRADIUS 1 m WITHDIST WITHHASH ASC
GEOSEARCH poles FROMMEMBER ne BYRADIUS 50 km WITHDIST WITHCOORD ASC
GEOSEARCH poles FROMMEMBER sw BYBOX 50 50 km WITHDIST WITHCOORD ASC
GEORADIUS poles 0 0 inf km WITHDIST ASC
GEOSEARCH poles FROMLONLAT 0 0 BYBOX inf 1 km ASC
GEOADD dups 10 10 a 10 10 b 10 10 c 10 10 d 10 10 e 10 10 f 10 10 g 10 10 h 10 10 i 11 11 j 9 9 k
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km WITHDIST ASC
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km WITHDIST DESC
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km WITHDIST ASC COUNT 3
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km WITHDIST DESC COUNT 4
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 5 ANY
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 5 ANY ASC
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 5 ANY DESC
GEOSEARCH dups FROMLONLAT 10.5 10.5 BYRADIUS 500 km COUNT 8 WITHDIST
GEOSEARCH dups FROMLONLAT 10.5 10.5 BYRADIUS 500 km COUNT 8 DESC WITHDIST
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km
GEORADIUS poles 0 0 30000 km
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 5 COUNT 2 WITHDIST
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km ASC DESC COUNT 2
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km DESC ASC COUNT 2 WITHDIST WITHDIST
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 9223372036854775807
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 99999999999999999999
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 100 ANY
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km ANY COUNT 1
GEOSEARCH dups FROMLONLAT 10 10 BYRADIUS 500 km COUNT 1 ANY ANY
GEORADIUS dups 10 10 500 km STORE a STORE b
EXISTS a b
GEORADIUS dups 10 10 500 km STOREDIST a STORE c
ZRANGE c 0 -1 WITHSCORES
EXISTS a
GEORADIUSBYMEMBER dups a 0 m WITHDIST
GEORADIUSBYMEMBER dups a 100 km STORE dups
ZRANGE dups 0 -1 WITHSCORES
GEOSEARCHSTORE dups dups FROMMEMBER a BYRADIUS 1 m STOREDIST
ZRANGE dups 0 -1 WITHSCORES
SET withttl x
GEOADD ttlsrc 1 1 a
EXPIRE ttlsrc 100
GEOSEARCHSTORE withttl ttlsrc FROMLONLAT 1 1 BYRADIUS 1 km
TTL withttl
TYPE withttl
GEOADD ttlsrc 1 1 b
TTL ttlsrc
ZADD w -5 neg 1e20 big inf pinf -inf ninf 4503599627370496 two52 9007199254740992 two53 0.5 half 1e19 e19
GEOPOS w neg big pinf ninf two52 two53 half e19
GEOHASH w neg big pinf ninf two52 two53 half e19
GEODIST w neg big
GEODIST w ninf e19 km
GEOSEARCH w FROMMEMBER neg BYRADIUS 10 km WITHHASH WITHCOORD ASC
GEOSEARCH w FROMMEMBER big BYRADIUS 10 km WITHHASH WITHCOORD ASC
GEOSEARCH w FROMMEMBER ninf BYBOX 10 10 km WITHHASH WITHCOORD WITHDIST ASC
GEOADD w XX 1 1 half
ZSCORE w half
GEOADD str 1 1 a
GEOPOS str a
GEOHASH str a
GEODIST str a b
GEODIST str a b yd
GEORADIUS str 15 37 200 km
GEORADIUS str 200 37 200 km
GEORADIUSBYMEMBER str a 200 km
GEORADIUSBYMEMBER_RO str a 200 km
GEORADIUS_RO str 15 37 200 km
GEOSEARCH str FROMMEMBER a BYRADIUS 5 km
GEOADD
GEOADD k 1 1
GEODIST k a
GEOHASH
GEOPOS
GEORADIUS k 1 1 1
GEORADIUSBYMEMBER k a 1
GEOSEARCH k FROMLONLAT 1 1
GEOSEARCHSTORE d k FROMLONLAT 1 1
COMMAND INFO geoadd geodist geohash geopos geosearch geosearchstore
COMMAND INFO georadius georadiusbymember georadius_ro georadiusbymember_ro
COMMAND GETKEYS GEORADIUS k 1 1 1 km STORE a STOREDIST b
COMMAND GETKEYS GEOSEARCHSTORE d k FROMLONLAT 1 1 BYRADIUS 1 km
"#
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .map(String::from)
    .collect()
}

#[test]
fn same_replies_as_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let lines = table();
    assert!(lines.len() >= 200, "table has {} lines", lines.len());
    let mismatches = compare(&lines, false);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn same_replies_as_redis_resp3() {
    if !require_tool("redis-server") {
        return;
    }
    let lines: Vec<String> = r#"
GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOPOS Sicily Palermo nosuch Catania
GEOHASH Sicily Palermo nosuch
GEODIST Sicily Palermo Catania km
GEODIST Sicily Palermo nosuch
GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC
GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km WITHCOORD DESC
GEOSEARCH nokey FROMMEMBER Palermo BYBOX 400 400 km WITHCOORD DESC
GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 200 km STOREDIST
ZRANGE d 0 -1 WITHSCORES
"#
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .map(String::from)
    .collect();
    let mismatches = compare(&lines, true);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// A random point: uniform, clustered around a few centres, near the poles or the antimeridian.
fn random_point(rng: &mut Rng) -> (f64, f64) {
    const CENTRES: [(f64, f64); 4] = [(13.4, 38.1), (-0.1, 51.5), (179.9, -16.5), (0.0, 0.0)];
    match rng.below(10) {
        0..=3 => (rng.range(-180.0, 180.0), rng.range(-85.05112878, 85.05112878)),
        4..=6 => {
            let (lon, lat) = CENTRES[rng.below(4) as usize];
            let s = [0.01, 0.3, 3.0][rng.below(3) as usize];
            ((lon + rng.range(-s, s)).clamp(-180.0, 180.0), (lat + rng.range(-s, s)).clamp(-85.0, 85.0))
        }
        7 => (rng.range(-180.0, 180.0), rng.range(80.0, 85.05112878) * if rng.chance(50) { 1.0 } else { -1.0 }),
        _ => {
            let lon = if rng.chance(50) { rng.range(178.0, 180.0) } else { rng.range(-180.0, -178.0) };
            (lon, rng.range(-60.0, 60.0))
        }
    }
}

/// A random search line over key `geo` (and the point list for FROMMEMBER); the returned flag
/// says the line may leave the order to Redis.
fn random_query(rng: &mut Rng, members: usize, points: &[(f64, f64)]) -> (Vec<String>, Option<String>) {
    let unit = ["m", "km", "mi", "ft", "KM"][rng.below(5) as usize];
    let to_m = match unit {
        "m" => 1.0,
        "km" | "KM" => 1000.0,
        "mi" => 1609.34,
        _ => 0.3048,
    };
    // Log-uniform from 10 m to 5000 km, in the unit; now and then up to 25000 km.
    let metres = 10f64.powf(if rng.chance(5) { rng.range(6.7, 7.4) } else { rng.range(1.0, 6.7) });
    let dist = format!("{:.3}", metres / to_m);
    const EXTREMES: [(f64, f64); 6] =
        [(0.0, 85.05112878), (0.0, -85.05112878), (180.0, 0.0), (-180.0, 10.0), (179.99, -84.9), (-179.999, 84.99)];
    let (lon, lat) = if rng.chance(8) {
        EXTREMES[rng.below(EXTREMES.len() as u64) as usize]
    } else if rng.chance(70) {
        let (lon, lat) = points[rng.below(points.len() as u64) as usize];
        ((lon + rng.range(-0.05, 0.05)).clamp(-180.0, 180.0), (lat + rng.range(-0.05, 0.05)).clamp(-85.05, 85.05))
    } else {
        (rng.range(-180.0, 180.0), rng.range(-85.05, 85.05))
    };
    let (lon, lat) = (format!("{lon:.6}"), format!("{lat:.6}"));
    let member = format!("p{}", rng.below(members as u64));
    let mut w: Vec<String> = Vec::new();
    let mut store = None;
    let kind = rng.below(8);
    let s = |x: &str| x.to_string();
    match kind {
        0 | 1 => w.extend([s("GEORADIUS"), s("geo"), lon, lat, dist, s(unit)]),
        2 => w.extend([s("GEORADIUS_RO"), s("geo"), lon, lat, dist, s(unit)]),
        3 => w.extend([
            s(["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"][rng.below(2) as usize]),
            s("geo"),
            member,
            dist,
            s(unit),
        ]),
        _ => {
            let storing = kind == 7;
            if storing {
                w.extend([s("GEOSEARCHSTORE"), s("dst"), s("geo")]);
                store = Some(s("dst"));
            } else {
                w.extend([s("GEOSEARCH"), s("geo")]);
            }
            if rng.chance(50) {
                w.extend([s("FROMMEMBER"), member]);
            } else {
                w.extend([s("FROMLONLAT"), lon, lat]);
            }
            if rng.chance(50) {
                w.extend([s("BYRADIUS"), dist, s(unit)]);
            } else {
                let h = format!("{:.3}", metres * rng.range(0.2, 2.0) / to_m);
                w.extend([s("BYBOX"), dist, h, s(unit)]);
            }
            if storing && rng.chance(50) {
                w.push(s("STOREDIST"));
            }
        }
    }
    let mut opts: Vec<Vec<String>> = Vec::new();
    match rng.below(3) {
        0 => opts.push(vec![s("ASC")]),
        1 => opts.push(vec![s("DESC")]),
        _ => {}
    }
    if rng.chance(50) {
        let most = if rng.chance(50) { 5 } else { 60 };
        let mut c = vec![s("COUNT"), (1 + rng.below(most)).to_string()];
        if rng.chance(40) {
            c.push(s("ANY"));
        }
        opts.push(c);
    }
    if store.is_none() {
        for o in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if rng.chance(40) {
                opts.push(vec![s(o)]);
            }
        }
        if kind <= 1 && rng.chance(25) {
            let d = if rng.chance(50) { "STORE" } else { "STOREDIST" };
            opts.retain(|o| !o[0].starts_with("WITH"));
            opts.push(vec![s(d), s("rdst")]);
            store = Some(s("rdst"));
        }
    }
    // Options in a random order.
    while !opts.is_empty() {
        let o = opts.remove(rng.below(opts.len() as u64) as usize);
        w.extend(o);
    }
    (w, store)
}

#[test]
fn random_searches_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let seed: u64 = std::env::var("GEO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    eprintln!("random_searches_match_redis: GEO_SEED={seed}");
    let mut rng = Rng(seed);
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut a, mut b) = (Conn::open(&node), Conn::open(&redis));
    let started = Instant::now();
    const POINTS: usize = 3000;
    let mut points = Vec::with_capacity(POINTS);
    for batch in 0..POINTS / 100 {
        let mut w = vec!["GEOADD".to_string(), "geo".to_string()];
        for i in 0..100 {
            // Some points repeat an earlier position exactly: equal distances, ties to order.
            let (lon, lat) = match points.len() {
                n if n > 0 && rng.chance(8) => points[rng.below(n as u64) as usize],
                _ => random_point(&mut rng),
            };
            points.push((lon, lat));
            w.extend([format!("{lon:.7}"), format!("{lat:.7}"), format!("p{}", batch * 100 + i)]);
        }
        assert_eq!(a.call(&w), b.call(&w), "GEOADD batch {batch}");
    }
    let all = words("ZRANGE geo 0 -1 WITHSCORES");
    assert_eq!(a.call(&all), b.call(&all), "the scores of {POINTS} points");
    let encoding = words("OBJECT ENCODING geo");
    assert_eq!(a.call(&encoding), b.call(&encoding));
    // Every position and hash, and distances between random pairs in every unit.
    for batch in 0..POINTS / 100 {
        for cmd in ["GEOPOS", "GEOHASH"] {
            let mut w = vec![cmd.to_string(), "geo".to_string()];
            w.extend((0..100).map(|i| format!("p{}", batch * 100 + i)));
            assert_eq!(a.call(&w), b.call(&w), "{cmd} batch {batch}");
        }
    }
    for n in 0..500 {
        let (x, y) = (rng.below(POINTS as u64), rng.below(POINTS as u64));
        let mut w = vec!["GEODIST".to_string(), "geo".to_string(), format!("p{x}"), format!("p{y}")];
        if n % 5 != 0 {
            w.push(["m", "km", "mi", "ft"][n % 4].to_string());
        }
        let (got, want) = (a.call(&w), b.call(&w));
        assert_eq!(got, want, "seed {seed}: {}", w.join(" "));
    }
    let (mut mismatches, mut exact_order_diffs, mut nonempty) = (Vec::new(), 0, 0);
    const QUERIES: usize = 1000;
    for n in 0..QUERIES {
        if n == QUERIES / 2 {
            // The second half in RESP3 (coordinates become doubles).
            let hello = words("HELLO 3");
            a.call(&hello);
            b.call(&hello);
        }
        let (w, store) = random_query(&mut rng, POINTS, &points);
        let (got, want) = (a.call(&w), b.call(&w));
        if matches!(&want, Reply::Agg(_, Some(v)) if !v.is_empty()) || matches!(&want, Reply::Line(b':', x) if x != "0")
        {
            nonempty += 1;
        }
        let line = w.join(" ");
        if got != want {
            if unordered(&w) && sorted(got.clone()) == sorted(want.clone()) {
                exact_order_diffs += 1;
            } else {
                mismatches.push(format!("#{n} {line}\n    node:  {}\n    redis: {}", show(&got), show(&want)));
            }
        }
        if let Some(dst) = store {
            let z = vec!["ZRANGE".to_string(), dst, "0".into(), "-1".into(), "WITHSCORES".into()];
            let (got, want) = (a.call(&z), b.call(&z));
            if got != want {
                mismatches.push(format!(
                    "#{n} {line} then ZRANGE\n    node:  {}\n    redis: {}",
                    show(&got),
                    show(&want)
                ));
            }
        }
        if mismatches.len() >= 10 {
            break;
        }
    }
    eprintln!(
        "{QUERIES} queries in {:?}: {nonempty} non-empty, {exact_order_diffs} in another unspecified order",
        started.elapsed()
    );
    assert!(mismatches.is_empty(), "seed {seed}, {} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    // Redis's unspecified order is its cell scan order, which the node follows too.
    assert_eq!(exact_order_diffs, 0, "seed {seed}: replies in a different (unspecified) order");
    assert!(nonempty >= QUERIES / 4, "seed {seed}: only {nonempty} queries found anything");
}

/// The commands in a multi-part AOF's increment file, without SELECT.
fn aof_commands(dir: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap_or_default();
    let mut conn = BufReader::new(&text[..]);
    let mut out = Vec::new();
    loop {
        let mut header = String::new();
        if conn.read_line(&mut header).unwrap_or(0) == 0 {
            break;
        }
        let n: usize = header.trim_start_matches('*').trim().parse().unwrap_or(0);
        let mut cmd = Vec::new();
        for _ in 0..n {
            let mut len = String::new();
            conn.read_line(&mut len).unwrap_or(0);
            let len: usize = len.trim_start_matches('$').trim().parse().unwrap_or(0);
            let mut buf = vec![0u8; len + 2];
            if conn.read_exact(&mut buf).is_err() {
                return out;
            }
            buf.truncate(len);
            cmd.push(String::from_utf8_lossy(&buf).into_owned());
        }
        if !cmd.first().is_some_and(|c| c.eq_ignore_ascii_case("select")) {
            out.push(cmd);
        }
    }
    out
}

#[test]
fn propagated_as_redis_does() {
    if !require_tool("redis-server") {
        return;
    }
    // GEOADD goes to the AOF as the ZADD it ran; the storing searches as themselves; reads and
    // writes that change nothing not at all.
    let lines = [
        "GEOADD k 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD k XX CH 13.4 38.1 Palermo 1 1 nobody",
        "GEOADD k NX 1 1 Palermo",
        "GEORADIUS k 15 37 200 km STORE d2",
        "GEORADIUS k 15 37 200 km WITHDIST",
        "GEORADIUS k 0 0 1 km STORE nothing",
        "GEORADIUSBYMEMBER k Palermo 300 km STOREDIST d4 COUNT 1",
        "GEOSEARCHSTORE d3 k FROMMEMBER Palermo BYRADIUS 300 km STOREDIST",
        "GEOSEARCHSTORE d3 k FROMLONLAT 0 0 BYRADIUS 1 km",
        "GEOSEARCH k FROMLONLAT 15 37 BYRADIUS 200 km",
        "MULTI",
        "GEOADD k 2 2 m2",
        "GEOSEARCHSTORE d5 k FROMLONLAT 2 2 BYRADIUS 1 km",
        "EXEC",
        "SET done 1",
    ];
    let node = Server::node(&["--appendonly", "yes"]);
    let redis = Server::redis(&["--appendonly", "yes"]);
    for server in [&node, &redis] {
        let mut c = Conn::open(server);
        for l in lines {
            c.call(&words(l));
        }
    }
    let done = |dir: &std::path::Path| aof_commands(dir).last().is_some_and(|c| c[0].eq_ignore_ascii_case("set"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(done(&node.dir) && done(&redis.dir)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (got, want) = (aof_commands(&node.dir), aof_commands(&redis.dir));
    assert!(want.len() >= 6, "redis's AOF: {want:?}");
    assert_eq!(got, want);
}
