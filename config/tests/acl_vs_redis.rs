//! The ACL engine against Debian's redis-server 7.0 on the same ACL file: every (user, command)
//! decision must equal `ACL DRYRUN`'s, and `ACL LIST` must print the same rules.
//!
//! Needs `redis-server` on PATH: without it the tests say why and pass, unless `CI` is set.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use config::acl::{Acl, DryRun};

/// The ACL file both sides load: the guide's two users and users exercising read/write key
/// patterns, channels, categories, subcommands, first arguments and selectors.
const ACL_FILE: &str = "\
user default on nopass ~* &* +@all
user admin on >adminpw ~* &* +@all
user app_user on >secure_password ~cached:* ~session:* +get +set +del +exists +expire +ttl
user monitor_user on >monitor_password ~* +info +ping +cluster +client
user rw_user on nopass %R~ro:* %W~wo:* ~rw:* +@all
user chan_user on nopass resetchannels &news.* &alerts allkeys +@pubsub +ping
user cat_user on nopass ~* +@read +@hash -hgetall -@dangerous
user sub_user on nopass ~* &* +@all -config +config|get -client|kill -@scripting
user sel_user on nopass ~a:* +get (~b:* +set +get) (%R~c:* &x +@read +publish)
user script_user on nopass ~s:* +eval +evalsha +eval_ro +@transaction
user off_user off nopass ~* +@all
user ro_user on nopass ~* &* -@all +@read +@connection -keys
user firstarg_user on nopass ~* +select|0 +ping
user write_user on nopass %W~* +@write +@keyspace -@dangerous
user mix_user on nopass ~* &* +@all -@dangerous -@write +set -debug
user keyspace_user on nopass allkeys -@all +@keyspace +@string -del +@pubsub &ch:* +acl|whoami
user reset_user on >a >b <a ~x (+get ~y) clearselectors reset on nopass %R~k* +@hash +@list -lpush
user multi_sel on nopass (~k1:* +get +mget) (~k2:* +mget &c2) (%W~k3:* +@write -@list)
";

/// Commands asked of every user (split on spaces; `^` stands for a space inside an argument).
const COMMANDS: &[&str] = &[
    "get cached:1",
    "get other",
    "set cached:1 v",
    "set session:9 v EX 10",
    "set x v",
    "del cached:1 session:2",
    "del cached:1 other",
    "exists cached:a",
    "expire session:1 10",
    "ttl cached:x",
    "mget cached:1 cached:2",
    "mget cached:1 nope",
    "mset cached:1 a cached:2 b",
    "incr cached:n",
    "info",
    "info server",
    "ping",
    "cluster info",
    "cluster nodes",
    "cluster setslot 1 node x",
    "client id",
    "client kill 1.2.3.4:5",
    "client list",
    "config get maxmemory",
    "config set maxmemory 1",
    "get ro:1",
    "set ro:1 v",
    "set wo:1 v",
    "set wo:1 v GET",
    "get wo:1",
    "get rw:1",
    "set rw:1 v",
    "exists ro:1 wo:1",
    "lmove ro:1 wo:1 left right",
    "lmove rw:1 wo:1 left right",
    "copy ro:1 wo:2",
    "sinterstore wo:d ro:a ro:b",
    "zunionstore wo:d 2 ro:a rw:b",
    "incr wo:1",
    "append wo:1 x",
    "strlen wo:1",
    "type wo:x",
    "subscribe news.1 alerts",
    "subscribe news.1 other",
    "psubscribe news.*",
    "psubscribe news.1",
    "publish alerts hi",
    "publish other hi",
    "publish x hi",
    "spublish news.x m",
    "ssubscribe alerts x",
    "unsubscribe other",
    "hget h f",
    "hgetall h",
    "hset h f v",
    "keys *",
    "flushall",
    "eval return^1 1 s:1",
    "eval return^1 2 s:1 other",
    "eval_ro return^1 1 s:1",
    "evalsha abc 0",
    "select 0",
    "select 1",
    "multi",
    "exec",
    "watch a:1",
    "get a:1",
    "get b:1",
    "set b:1 v",
    "set a:1 v",
    "get c:1",
    "set c:1 v",
    "hget c:h f",
    "mget a:1 b:1",
    "mget a:1 c:1",
    "object encoding ro:1",
    "scan 0",
    "dbsize",
    "command count",
    "auth x y",
    "hello",
    "shutdown",
    "blpop rw:1 wo:1 0",
    "bzpopmin rw:z 0",
    "smove ro:1 rw:2 m",
    "rename rw:1 wo:2",
    "getdel rw:1",
    "lastsave",
    "time",
    "echo hi",
    "script load x",
    "pubsub channels",
    "zadd wo:z 1 m",
    "zrangestore wo:d rw:s 0 -1",
    "mget k1:1 k2:1",
    "mget k2:1 k1:1",
    "get k2:1",
    "set k3:1 v",
    "set k3:1 v get",
    "lpush k3:l v",
    "hset k3:h f v",
    "hget k:h f",
    "rpush k:l v",
    "lrange k:l 0 -1",
    "publish ch:1 m",
    "subscribe c2",
    "psubscribe c2 ch:*",
    "object freq k",
    "config resetstat",
    "client setname x",
    "command docs get",
];

/// A throwaway redis-server, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts redis-server on a free port with `acl` as its ACL file; None when not installed.
    fn start(acl: &str) -> Option<RedisServer> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "redis-server is not on PATH (required in CI)");
            eprintln!("skipping: redis-server is not on PATH");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let dir = std::env::temp_dir().join(format!("slotgate-acl-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("users.acl");
        std::fs::write(&file, acl).expect("write acl file");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--aclfile"])
            .arg(&file)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let server = RedisServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn connect(&self) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut conn = Conn { reader: BufReader::new(stream.try_clone().expect("clone")), writer: stream };
        assert_eq!(conn.call(&["AUTH", "admin", "adminpw"]), Resp::Simple("OK".into()));
        conn
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<String>),
    Array(Vec<Resp>),
}

/// A minimal RESP client.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn call(&mut self, args: &[&str]) -> Resp {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.writer.write_all(&out).expect("write");
        self.read()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        line.trim_end_matches("\r\n").to_string()
    }

    fn read(&mut self) -> Resp {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Resp::Simple(rest.into()),
            "-" => Resp::Error(rest.into()),
            ":" => Resp::Int(rest.parse().expect("int")),
            "$" => {
                let n: i64 = rest.parse().expect("len");
                if n < 0 {
                    return Resp::Bulk(None);
                }
                let mut buf = vec![0; n as usize + 2];
                std::io::Read::read_exact(&mut self.reader, &mut buf).expect("bulk");
                buf.truncate(n as usize);
                Resp::Bulk(Some(String::from_utf8(buf).expect("utf8")))
            }
            "*" => {
                let n: i64 = rest.parse().expect("len");
                Resp::Array((0..n.max(0)).map(|_| self.read()).collect())
            }
            other => panic!("unexpected reply type {other:?}"),
        }
    }
}

fn words(cmd: &str) -> Vec<String> {
    cmd.split(' ').map(|w| w.replace('^', " ")).collect()
}

/// Our DRYRUN reply in the shape redis-server sends it.
fn our_dryrun(acl: &Acl, user: &str, args: &[String]) -> Resp {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    match acl.dryrun(user, &args) {
        Ok(DryRun::Allowed) => Resp::Simple("OK".into()),
        Ok(DryRun::Denied(d)) => Resp::Bulk(Some(d.dryrun_text())),
        Err(e) => Resp::Error(format!("ERR {e}")),
    }
}

fn users_of(file: &str) -> Vec<&str> {
    file.lines().filter_map(|l| l.split(' ').nth(1)).collect()
}

#[test]
fn dryrun_decisions_match_redis() {
    let Some(redis) = RedisServer::start(ACL_FILE) else { return };
    let mut conn = redis.connect();
    let acl = Acl::parse("users.acl", ACL_FILE).expect("our parse");
    let (mut cases, mut allowed, mut mismatches) = (0, 0, Vec::new());
    for user in users_of(ACL_FILE) {
        for cmd in COMMANDS {
            let args = words(cmd);
            let mut call = vec!["ACL", "DRYRUN", user];
            call.extend(args.iter().map(String::as_str));
            let theirs = conn.call(&call);
            let ours = our_dryrun(&acl, user, &args);
            cases += 1;
            allowed += usize::from(theirs == Resp::Simple("OK".into()));
            if theirs != ours {
                mismatches.push(format!("{user} `{cmd}`: redis {theirs:?}, ours {ours:?}"));
            }
        }
    }
    println!("{cases} cases, {allowed} allowed by redis-server");
    assert!(cases >= 200);
    assert!(allowed > 50 && allowed < cases - 50, "the table should exercise both outcomes");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Sorts the single-command rules of each selector: Redis prints them in its command dict's
/// hash order, which changes from run to run.
fn normalize(line: &str) -> String {
    let spaced = line.replace('(', "( ").replace(')', " )");
    let mut groups: Vec<Vec<&str>> = vec![Vec::new()];
    for tok in spaced.split(' ') {
        if tok == "(" {
            groups.push(Vec::new());
        }
        groups.last_mut().expect("group").push(tok);
    }
    let single = |t: &&str| (t.starts_with('+') || t.starts_with('-')) && !t[1..].starts_with('@');
    let mut out = Vec::new();
    for g in groups {
        let (mut singles, rest): (Vec<&str>, Vec<&str>) = g.into_iter().partition(single);
        singles.sort_unstable();
        out.extend(rest);
        out.extend(singles);
    }
    out.join(" ")
}

#[test]
fn acl_list_matches_redis() {
    let Some(redis) = RedisServer::start(ACL_FILE) else { return };
    let mut conn = redis.connect();
    let acl = Acl::parse("users.acl", ACL_FILE).expect("our parse");
    let Resp::Array(lines) = conn.call(&["ACL", "LIST"]) else { panic!("ACL LIST") };
    let theirs: Vec<String> = lines
        .into_iter()
        .map(|l| match l {
            Resp::Bulk(Some(s)) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    let ours = acl.list();
    assert_eq!(ours.len(), theirs.len());
    let mismatches: Vec<String> = ours
        .iter()
        .zip(&theirs)
        .filter(|(o, t)| normalize(o) != normalize(t))
        .map(|(o, t)| format!("ours:  {o}\nredis: {t}"))
        .collect();
    assert!(mismatches.is_empty(), "ACL LIST differs:\n{}", mismatches.join("\n"));
}

#[test]
fn categories_match_redis() {
    let Some(redis) = RedisServer::start(ACL_FILE) else { return };
    let mut conn = redis.connect();
    let mut diffs = Vec::new();
    for cat in config::acl::category_names() {
        let Resp::Array(theirs) = conn.call(&["ACL", "CAT", cat]) else { panic!("ACL CAT") };
        let theirs: std::collections::BTreeSet<String> = theirs
            .into_iter()
            .filter_map(|r| match r {
                Resp::Bulk(Some(s)) => Some(s),
                _ => None,
            })
            .collect();
        let ours: std::collections::BTreeSet<String> =
            config::acl::category_commands(cat).expect("category").into_iter().map(String::from).collect();
        for name in &ours {
            if !theirs.contains(name) && name != "cluster|myshardid" {
                diffs.push(format!("@{cat}: {name} is ours only"));
            }
        }
        for name in &theirs {
            if !ours.contains(name) && our_command_names().contains(name) {
                diffs.push(format!("@{cat}: {name} is redis's only"));
            }
        }
    }
    assert!(diffs.is_empty(), "category differences:\n{}", diffs.join("\n"));
}

fn our_command_names() -> std::collections::BTreeSet<String> {
    let mut all = std::collections::BTreeSet::new();
    for cat in config::acl::category_names() {
        all.extend(config::acl::category_commands(cat).expect("category").into_iter().map(String::from));
    }
    all
}

/// Our `ACL GETUSER` reply in RESP2's shape, command rules normalized.
fn our_getuser(info: &config::acl::UserInfo) -> Resp {
    let bulk = |s: &str| Resp::Bulk(Some(s.to_string()));
    let sel = |s: &config::acl::SelectorInfo| {
        vec![
            bulk("commands"),
            bulk(&normalize(&s.commands)),
            bulk("keys"),
            bulk(&s.keys),
            bulk("channels"),
            bulk(&s.channels),
        ]
    };
    let mut out = vec![
        bulk("flags"),
        Resp::Array(info.flags.iter().map(|f| bulk(f)).collect()),
        bulk("passwords"),
        Resp::Array(info.passwords.iter().map(|p| bulk(p)).collect()),
    ];
    out.extend(sel(&info.root));
    out.push(bulk("selectors"));
    out.push(Resp::Array(info.selectors.iter().map(|s| Resp::Array(sel(s))).collect()));
    Resp::Array(out)
}

/// Normalizes the command rules inside a redis-server GETUSER reply.
fn normalize_getuser(reply: Resp) -> Resp {
    let Resp::Array(mut items) = reply else { return reply };
    for i in 0..items.len() {
        if items[i] == Resp::Bulk(Some("commands".into())) {
            if let Some(Resp::Bulk(Some(c))) = items.get(i + 1) {
                items[i + 1] = Resp::Bulk(Some(normalize(c)));
            }
        }
        if let Resp::Array(_) = items[i] {
            items[i] = normalize_getuser(items[i].clone());
        }
    }
    Resp::Array(items)
}

#[test]
fn getuser_matches_redis() {
    let Some(redis) = RedisServer::start(ACL_FILE) else { return };
    let mut conn = redis.connect();
    let acl = Acl::parse("users.acl", ACL_FILE).expect("our parse");
    for user in users_of(ACL_FILE) {
        let theirs = normalize_getuser(conn.call(&["ACL", "GETUSER", user]));
        let ours = our_getuser(&acl.getuser(user).expect("user"));
        assert_eq!(ours, theirs, "ACL GETUSER {user}");
    }
}
