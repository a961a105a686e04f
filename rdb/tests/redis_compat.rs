//! Against a live redis-server 7.0: our DUMP payloads must RESTORE to the same values, legacy
//! encodings we decode must mean what Redis thinks they mean, and files from FileWriter must
//! pass redis-check-rdb and load with every key intact.
//!
//! Skipped (with a message) when redis-server is not installed, unless CI is set.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{normalize, sample_values};
use rdb::{crc64, decode_object, dump, restore, FileWriter, Value, RDB_VERSION};

fn redis_available() -> bool {
    let found = Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "redis-server not on PATH, and CI is set");
        eprintln!("SKIPPED: redis-server not on PATH");
    }
    found
}

/// A scratch directory and a redis-server in it, both gone when this is dropped (also when a
/// test panics half way).
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path, dbfilename: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            // Deep payload sanitization: Redis then fully validates every listpack/intset we send.
            .args(["--daemonize", "no", "--sanitize-dump-payload", "yes", "--dbfilename", dbfilename])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = server.try_connect() {
                // LOADING replies are errors; wait until the dataset is in.
                if let Reply::Simple(s) = c.cmd(&[b"PING"]) {
                    assert_eq!(s, "PONG");
                    return server;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_connect(&self) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Client { r: BufReader::new(s.try_clone()?), w: s })
    }

    fn client(&self) -> Client {
        self.try_connect().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("rdb-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    fn bulk(self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b,
            other => panic!("expected bulk, got {other:?}"),
        }
    }
    fn int(self) -> i64 {
        match self {
            Reply::Int(n) => n,
            other => panic!("expected integer, got {other:?}"),
        }
    }
    fn bulks(self) -> Vec<Vec<u8>> {
        match self {
            Reply::Array(items) => items.into_iter().map(Reply::bulk).collect(),
            other => panic!("expected array, got {other:?}"),
        }
    }
}

/// Just enough RESP2 to drive the server.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
        self.read()
    }

    fn ok(&mut self, args: &[&[u8]]) {
        let r = self.cmd(args);
        assert_eq!(r, Reply::Simple("OK".into()), "{:?}", String::from_utf8_lossy(args[0]));
    }

    fn read(&mut self) -> Reply {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        assert!(line.ends_with(b"\r\n"), "bad reply line {line:?}");
        let text = String::from_utf8(line[1..line.len() - 2].to_vec()).unwrap();
        match line[0] {
            b'+' => Reply::Simple(text),
            b'-' => Reply::Error(text),
            b':' => Reply::Int(text.parse().unwrap()),
            b'$' => {
                let n: i64 = text.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut buf = vec![0; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
            b'*' => Reply::Array((0..text.parse::<i64>().unwrap().max(0)).map(|_| self.read()).collect()),
            other => panic!("unknown reply type {other}"),
        }
    }

    /// The value at `key` as Redis reports it through ordinary read commands.
    fn read_value(&mut self, key: &[u8]) -> Value {
        let kind = match self.cmd(&[b"TYPE", key]) {
            Reply::Simple(s) => s,
            other => panic!("TYPE: {other:?}"),
        };
        match kind.as_str() {
            "string" => Value::String(self.cmd(&[b"GET", key]).bulk()),
            "list" => Value::List(self.cmd(&[b"LRANGE", key, b"0", b"-1"]).bulks()),
            "set" => Value::Set(self.cmd(&[b"SMEMBERS", key]).bulks()),
            "hash" => {
                let flat = self.cmd(&[b"HGETALL", key]).bulks();
                Value::Hash(flat.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect())
            }
            "zset" => {
                let flat = self.cmd(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]).bulks();
                let score = |s: &[u8]| std::str::from_utf8(s).unwrap().parse::<f64>().unwrap();
                Value::ZSet(flat.chunks(2).map(|p| (p[0].clone(), score(&p[1]))).collect())
            }
            other => panic!("unexpected type {other}"),
        }
    }
}

#[test]
fn redis_restores_our_dumps() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("restore");
    let server = Server::start(&dir.0, "unused.rdb");
    let mut c = server.client();
    for (name, v) in sample_values() {
        let key = name.as_bytes();
        let r = c.cmd(&[b"RESTORE", key, b"0", &dump(&v), b"REPLACE"]);
        assert_eq!(r, Reply::Simple("OK".into()), "{name}");
        let got = c.read_value(key);
        assert_eq!(normalize(&got), normalize(&v), "{name}");
        if let Value::List(_) = v {
            assert_eq!(got, v, "{name}: order");
        }
        // And the other way: Redis's own DUMP of what it loaded decodes to the same value.
        let theirs = c.cmd(&[b"DUMP", key]).bulk();
        assert_eq!(normalize(&restore(&theirs).unwrap()), normalize(&v), "{name} redis dump");
    }
    // Redis and we agree that a corrupted payload is refused.
    let mut bad = dump(&Value::String(b"x".to_vec()));
    bad[1] ^= 1;
    assert!(matches!(c.cmd(&[b"RESTORE", b"bad", b"0", &bad]), Reply::Error(e) if e.contains("checksum")));
    assert!(restore(&bad).unwrap_err().msg.contains("checksum"));
}

/// Builders for encodings Redis 7.0 still reads but no longer writes, so our decoding of them
/// can be checked against Redis's. Built here from the format descriptions.
mod legacy {
    use super::{crc64, RDB_VERSION};

    pub fn payload(type_byte: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![type_byte];
        p.extend_from_slice(body);
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    pub fn rdb_len(n: usize) -> Vec<u8> {
        if n < 64 {
            vec![n as u8]
        } else if n < 16384 {
            vec![0x40 | (n >> 8) as u8, n as u8]
        } else {
            let mut v = vec![0x80];
            v.extend_from_slice(&(n as u32).to_be_bytes());
            v
        }
    }

    pub fn rdb_string(s: &[u8]) -> Vec<u8> {
        let mut v = rdb_len(s.len());
        v.extend_from_slice(s);
        v
    }

    fn ziplist_entry_body(s: &[u8]) -> Vec<u8> {
        let as_int =
            std::str::from_utf8(s).ok().and_then(|t| t.parse::<i64>().ok()).filter(|v| v.to_string().as_bytes() == s);
        match as_int {
            Some(v @ 0..=12) => vec![0xf1 + v as u8],
            Some(v) if i8::try_from(v).is_ok() => vec![0xfe, v as u8],
            Some(v) if i16::try_from(v).is_ok() => [&[0xc0][..], &(v as i16).to_le_bytes()].concat(),
            Some(v) if (-(1 << 23)..1 << 23).contains(&v) => [&[0xf0][..], &(v as i32).to_le_bytes()[..3]].concat(),
            Some(v) if i32::try_from(v).is_ok() => [&[0xd0][..], &(v as i32).to_le_bytes()].concat(),
            Some(v) => [&[0xe0][..], &v.to_le_bytes()].concat(),
            None if s.len() < 64 => [&[s.len() as u8][..], s].concat(),
            None if s.len() < 16384 => [&[0x40 | (s.len() >> 8) as u8, s.len() as u8][..], s].concat(),
            None => [&[0x80][..], &(s.len() as u32).to_be_bytes(), s].concat(),
        }
    }

    pub fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut zl = vec![0u8; 10];
        let (mut prev, mut tail) = (0usize, 10usize);
        for s in items {
            tail = zl.len();
            let start = zl.len();
            if prev < 254 {
                zl.push(prev as u8);
            } else {
                zl.push(0xfe);
                zl.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            zl.extend_from_slice(&ziplist_entry_body(s));
            prev = zl.len() - start;
        }
        zl.push(0xff);
        let total = zl.len() as u32;
        zl[0..4].copy_from_slice(&total.to_le_bytes());
        zl[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&(items.len() as u16).to_le_bytes());
        zl
    }

    pub fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let len = |n: usize| if n < 254 { vec![n as u8] } else { [&[254u8][..], &(n as u32).to_le_bytes()].concat() };
        let mut zm = vec![pairs.len().min(254) as u8];
        for (k, v) in pairs {
            zm.extend(len(k.len()));
            zm.extend_from_slice(k);
            zm.extend(len(v.len()));
            zm.push(2); // two free bytes after the value, to exercise skipping them
            zm.extend_from_slice(v);
            zm.extend_from_slice(b"..");
        }
        zm.push(0xff);
        zm
    }
}

#[test]
fn legacy_encodings_agree_with_redis() {
    if !redis_available() {
        return;
    }
    use legacy::*;
    let dir = TempDir::new("legacy");
    let server = Server::start(&dir.0, "unused.rdb");
    let mut c = server.client();

    let long = vec![b'L'; 300];
    let items: Vec<&[u8]> =
        vec![b"a", b"", b"0", b"12", b"13", b"-1", b"300", b"-40000", b"8000000", b"-2147483648", b"4294967296", &long];
    let pairs: Vec<(&[u8], &[u8])> =
        vec![(b"f", b"v"), (b"n", b"-5"), (b"long", &long), (b"big", b"9223372036854775807")];
    let flat: Vec<&[u8]> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let zflat: Vec<&[u8]> = vec![b"m1", b"1.5", b"m2", b"-3", b"m3", b"inf", b"m4", b"1e20"];
    // Type-3 scores: a length byte then ASCII, or 254/255 for +inf/-inf.
    let mut old_zset = rdb_len(4);
    for (m, score) in [(&b"x"[..], &b"\x030.3"[..]), (b"y", b"\x02-2"), (b"z", b"\xfe"), (b"w", b"\xff")] {
        old_zset.extend(rdb_string(m));
        old_zset.extend_from_slice(score);
    }
    let mut old_list = rdb_len(items.len());
    for s in &items {
        old_list.extend(rdb_string(s));
    }
    let quicklist = [rdb_len(2), rdb_string(&ziplist(&items[..5])), rdb_string(&ziplist(&items[5..]))].concat();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("list", payload(1, &old_list)),
        ("zset3", payload(3, &old_zset)),
        ("zipmap", payload(9, &rdb_string(&zipmap(&pairs)))),
        ("list-ziplist", payload(10, &rdb_string(&ziplist(&items)))),
        ("zset-ziplist", payload(12, &rdb_string(&ziplist(&zflat)))),
        ("hash-ziplist", payload(13, &rdb_string(&ziplist(&flat)))),
        ("quicklist", payload(14, &quicklist)),
    ];
    for (name, p) in cases {
        let ours = restore(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decode_object(&p[..p.len() - 10]).unwrap(), ours);
        let r = c.cmd(&[b"RESTORE", name.as_bytes(), b"0", &p]);
        assert_eq!(r, Reply::Simple("OK".into()), "{name}");
        assert_eq!(normalize(&c.read_value(name.as_bytes())), normalize(&ours), "{name}");
    }
}

#[test]
fn redis_loads_our_files() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("file");
    let values = sample_values();
    let expire = 4_102_444_800_123i64; // year 2100
    let path = dir.0.join("x.rdb");
    let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = FileWriter::new(
        f,
        &[("redis-ver", b"7.0.15"), ("redis-bits", b"64"), ("ctime", b"1700000000"), ("aof-base", b"0")],
    )
    .unwrap();
    w.select_db(0, values.len() as u64, 1).unwrap();
    for (i, (name, v)) in values.iter().enumerate() {
        w.entry(name.as_bytes(), v, (i == 0).then_some(expire)).unwrap();
    }
    w.select_db(2, 1, 0).unwrap();
    w.entry(b"db2key", &Value::Hash(vec![(b"a".to_vec(), b"b".to_vec())]), None).unwrap();
    w.finish().unwrap().into_inner().unwrap().sync_all().unwrap();

    let check = Command::new("redis-check-rdb").arg(&path).output().expect("run redis-check-rdb");
    assert!(check.status.success(), "redis-check-rdb: {}", String::from_utf8_lossy(&check.stdout));

    let server = Server::start(&dir.0, "x.rdb");
    let mut c = server.client();
    assert_eq!(c.cmd(&[b"DBSIZE"]).int(), values.len() as i64);
    for (name, v) in &values {
        assert_eq!(normalize(&c.read_value(name.as_bytes())), normalize(v), "{name}");
    }
    assert_eq!(c.cmd(&[b"PEXPIRETIME", values[0].0.as_bytes()]).int(), expire);
    assert_eq!(c.cmd(&[b"PEXPIRETIME", values[1].0.as_bytes()]).int(), -1);
    c.ok(&[b"SELECT", b"2"]);
    assert_eq!(c.cmd(&[b"DBSIZE"]).int(), 1);
    assert_eq!(c.read_value(b"db2key"), Value::Hash(vec![(b"a".to_vec(), b"b".to_vec())]));
}
