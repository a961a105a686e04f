//! ACLs on slotgate-node, against Debian's redis-server 7.0 as the reference: the same ACL file
//! on both, then the same 150 commands as various users (AUTH, HELLO AUTH, allowed and refused
//! commands, keys, channels and selectors, MULTI with a refused command, EXEC after the rules
//! changed, EVAL touching a refused key, the ACL command family, SETUSER then use, DELUSER and
//! LOAD of connected users, ACL LOG) with identical replies required. Also `requirepass` and
//! `user` directives, a bad ACL file at start-up, replication with `masteruser`/`masterauth`
//! against an ACL'd master, and `redis-cli --cluster create` with `--user` and `-a`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use slotgate_tests::{binary, free_port, redis_cli, require_tool, resp, scratch_dir, wait_until, Server};

/// The guide's users, plus selectors, channels and read/write key patterns.
const USERS: &str = "\
user default off
user app_user on >app_password ~app:* +@all -@dangerous
user monitor_user on >monitor_password ~* +info +ping +cluster +client
user admin on >admin_password ~* &* +@all
user chan_user on >chan_password &news:* +subscribe +psubscribe +publish +ping
user reader on >reader_password %R~data:* %W~out:* +@read +@write -@dangerous
user sel_user on >sel_password ~s:* +get (~t:* +set) (&alerts:* +publish)
user script_user on >script_password ~allowed:* +eval +evalsha +get +set +script|load
user tx_user on >tx_password ~tx:* +multi +exec +discard +set +get +incr
";

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Val>>),
    /// The server closed the connection.
    Closed,
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Bulk(Some(b)) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Val::Array(Some(items)) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            other => write!(f, "{other:?}"),
        }
    }
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Simple(s) | Val::Error(s) => s.clone(),
            Val::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }
}

/// A raw RESP2 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        Conn { writer: s.try_clone().expect("clone"), reader: BufReader::new(s) }
    }

    fn call(&mut self, args: &[&str]) -> Val {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        if self.writer.write_all(&resp(&bytes)).is_err() {
            return Val::Closed;
        }
        read_val(&mut self.reader).unwrap_or(Val::Closed)
    }
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    Some(line.trim_end_matches("\r\n").to_string())
}

fn read_val(r: &mut impl BufRead) -> Option<Val> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(1);
    Some(match kind {
        "+" => Val::Simple(rest.into()),
        "-" => Val::Error(rest.into()),
        ":" => Val::Int(rest.parse().ok()?),
        "$" => {
            let n: i64 = rest.parse().ok()?;
            if n < 0 {
                Val::Bulk(None)
            } else {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf).ok()?;
                buf.truncate(n as usize);
                Val::Bulk(Some(buf))
            }
        }
        "*" => {
            let n: i64 = rest.parse().ok()?;
            if n < 0 {
                Val::Array(None)
            } else {
                Val::Array(Some((0..n).map(|_| read_val(r)).collect::<Option<Vec<_>>>()?))
            }
        }
        _ => return None,
    })
}

/// How a step's replies are compared.
#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    /// Byte for byte.
    Exact,
    /// The same kind of reply (INFO, ids, random passwords); errors still compare exactly.
    Shape,
    /// An ACL LOG: ages dropped and client-info reduced to its `cmd=` and `user=`.
    Log,
    /// Rules as ACL LIST and GETUSER describe them: single commands after the categories come
    /// in the order of redis-server's command dictionary, which is seeded at random per
    /// process, so runs of them are compared as sets.
    Rules,
}

/// Sorts each run of single-command rules (`+get -set`, not `+@read`) in a description.
fn canon_rules(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    let single = |t: &str| (t.starts_with('+') || t.starts_with('-')) && !t[1..].starts_with('@');
    for token in text.split(' ') {
        if single(token) {
            run.push(token);
            continue;
        }
        run.sort_unstable();
        out.extend(run.drain(..).map(str::to_string));
        out.push(token.to_string());
    }
    run.sort_unstable();
    out.extend(run.drain(..).map(str::to_string));
    out.join(" ")
}

fn normalise_rules(v: &Val) -> Val {
    match v {
        Val::Bulk(Some(b)) => Val::Bulk(Some(canon_rules(&String::from_utf8_lossy(b)).into_bytes())),
        Val::Array(Some(items)) => Val::Array(Some(items.iter().map(normalise_rules).collect())),
        other => other.clone(),
    }
}

fn shape(v: &Val) -> Val {
    match v {
        Val::Simple(_) => Val::Simple(String::new()),
        Val::Int(_) => Val::Int(0),
        Val::Bulk(b) => Val::Bulk(b.as_ref().map(|_| Vec::new())),
        Val::Array(a) => Val::Array(a.as_ref().map(|_| Vec::new())),
        other => other.clone(),
    }
}

fn normalise_log(v: &Val) -> Val {
    let Val::Array(Some(entries)) = v else { return v.clone() };
    let entries = entries
        .iter()
        .map(|e| {
            let Val::Array(Some(fields)) = e else { return e.clone() };
            let mut out = Vec::new();
            for pair in fields.chunks(2) {
                let key = pair[0].text();
                let value = match key.as_str() {
                    "age-seconds" => Val::Bulk(None),
                    "client-info" => {
                        let info = pair[1].text();
                        let keep: Vec<&str> =
                            info.split(' ').filter(|f| f.starts_with("cmd=") || f.starts_with("user=")).collect();
                        Val::Bulk(Some(keep.join(" ").into_bytes()))
                    }
                    _ => pair[1].clone(),
                };
                out.push(pair[0].clone());
                out.push(value);
            }
            Val::Array(Some(out))
        })
        .collect();
    Val::Array(Some(entries))
}

/// The scenario: (connection, comparison, command). Connections are opened on first use.
fn script() -> Vec<(&'static str, Cmp, Vec<&'static str>)> {
    use Cmp::{Exact as E, Log as L, Rules as R, Shape as S};
    let steps: Vec<(&str, Cmp, &str)> = vec![
        // Nobody is logged in: `default` is off.
        ("anon", E, "PING"),
        ("anon", E, "GET app:1"),
        ("anon", E, "AUTH app_password"),
        ("anon", E, "AUTH app_user wrong"),
        ("anon", E, "AUTH nobody x"),
        ("anon", E, "AUTH a b c d"),
        ("anon", E, "HELLO 2 AUTH app_user wrong"),
        ("anon", E, "HELLO 2"),
        ("anon", E, "NOSUCHCOMMAND x"),
        ("anon", E, "GET"),
        ("anon", S, "HELLO 2 AUTH app_user app_password"),
        ("anon", E, "ACL WHOAMI"),
        // app_user: ~app:* +@all -@dangerous.
        ("app", E, "AUTH app_user app_password"),
        ("app", E, "SET app:1 v"),
        ("app", E, "GET app:1"),
        ("app", E, "GET other:1"),
        ("app", E, "MSET app:a 1 other:b 2"),
        ("app", E, "DEL app:x other:2"),
        ("app", E, "FLUSHALL"),
        ("app", E, "KEYS *"),
        ("app", E, "CONFIG GET maxmemory"),
        ("app", E, "CONFIG NOSUCH"),
        ("app", E, "GET"),
        ("app", E, "ACL WHOAMI"),
        ("app", E, "ACL LIST"),
        ("app", E, "ACL NOSUCH"),
        ("app", E, "PUBLISH news:1 hi"),
        ("app", E, "SUBSCRIBE news:1"),
        ("app", E, "INCR app:n"),
        ("app", E, "HSET app:h f v"),
        ("app", E, "HGET app:h f"),
        ("app", E, "RPUSH app:l a b"),
        ("app", E, "LRANGE app:l 0 -1"),
        ("app", E, "SADD app:s x"),
        ("app", E, "ZADD app:z 1 m"),
        ("app", E, "EXPIRE app:1 100"),
        ("app", E, "TTL app:1"),
        ("app", E, "RENAME app:1 other:1"),
        ("app", E, "COPY app:1 app:2"),
        ("app", E, "RESTORE app:r 0 x"),
        ("app", E, "EVAL \"return redis.call('get', KEYS[1])\" 1 app:1"),
        ("app", E, "EVAL \"return redis.call('get', 'other:1')\" 0"),
        ("app", E, "EVAL \"return redis.call('flushall')\" 0"),
        ("app", E, "EVAL \"return redis.pcall('get', 'other:1')\" 0"),
        ("app", E, "EVAL \"return 1\" 1 other:1"),
        ("app", E, "MULTI"),
        ("app", E, "SET app:t 1"),
        ("app", E, "GET other:t"),
        ("app", E, "FLUSHDB"),
        ("app", E, "EXEC"),
        ("app", E, "GET app:t"),
        ("app", E, "MULTI"),
        ("app", E, "SET app:t 1"),
        ("app", E, "INCR app:t"),
        ("app", E, "EXEC"),
        // monitor_user: every key, a few commands.
        ("mon", E, "AUTH monitor_user monitor_password"),
        ("mon", E, "PING"),
        ("mon", S, "INFO server"),
        ("mon", S, "CLIENT ID"),
        ("mon", E, "GET app:1"),
        ("mon", E, "SET x 1"),
        ("mon", E, "CLUSTER INFO"),
        ("mon", E, "ACL WHOAMI"),
        // chan_user: channels only.
        ("chan", E, "AUTH chan_user chan_password"),
        ("chan", E, "PUBLISH news:a hi"),
        ("chan", E, "PUBLISH gossip hi"),
        ("chan", E, "SUBSCRIBE gossip"),
        ("chan", E, "PSUBSCRIBE gossip*"),
        ("chan", E, "GET news:a"),
        ("sub", E, "AUTH chan_user chan_password"),
        ("sub", E, "SUBSCRIBE news:1"),
        ("sub", E, "PSUBSCRIBE news:x*"),
        ("sub", E, "PSUBSCRIBE news:*"),
        // reader: reads data:*, writes out:*.
        ("reader", E, "AUTH reader reader_password"),
        ("reader", E, "GET data:1"),
        ("reader", E, "SET data:1 x"),
        ("reader", E, "SET out:1 x"),
        ("reader", E, "GET out:1"),
        ("reader", E, "COPY data:1 out:2"),
        ("reader", E, "LMOVE data:l out:l LEFT RIGHT"),
        ("reader", E, "MGET data:1 out:1"),
        ("reader", E, "EXISTS out:1"),
        ("reader", E, "SET out:1 y GET"),
        ("reader", E, "FLUSHALL"),
        // sel_user: a root selector and two more.
        ("sel", E, "AUTH sel_user sel_password"),
        ("sel", E, "GET s:1"),
        ("sel", E, "SET s:1 v"),
        ("sel", E, "SET t:1 v"),
        ("sel", E, "GET t:1"),
        ("sel", E, "PUBLISH alerts:1 hi"),
        ("sel", E, "PUBLISH news:1 hi"),
        ("sel", E, "DEL s:1"),
        // script_user: scripts on allowed:* keys.
        ("script", E, "AUTH script_user script_password"),
        ("script", E, "SCRIPT LOAD \"return redis.call('get', KEYS[1])\""),
        ("script", E, "EVALSHA 4e6d8fc8bb01276962cce5371fa795a7763657ae 1 allowed:1"),
        ("script", E, "EVALSHA 4e6d8fc8bb01276962cce5371fa795a7763657ae 1 other"),
        ("script", E, "EVAL \"return redis.call('set', KEYS[1], 'x')\" 1 allowed:1"),
        ("script", E, "EVAL \"return redis.call('del', KEYS[1])\" 1 allowed:1"),
        ("script", E, "EVAL \"return redis.call('set', 'other', 'x')\" 0"),
        ("script", E, "SCRIPT FLUSH"),
        // tx_user: MULTI, and EXEC after the rules changed.
        ("tx", E, "AUTH tx_user tx_password"),
        ("tx", E, "MULTI"),
        ("tx", E, "SET tx:1 a"),
        ("tx", E, "SET other 1"),
        ("tx", E, "EXEC"),
        ("tx", E, "GET tx:1"),
        ("tx", E, "MULTI"),
        ("tx", E, "INCR tx:n"),
        ("tx", E, "GET tx:n"),
        ("admin", E, "AUTH admin admin_password"),
        ("admin", E, "ACL SETUSER tx_user -get"),
        ("tx", E, "EXEC"),
        // admin: the ACL command family.
        ("admin", E, "ACL WHOAMI"),
        ("admin", E, "ACL USERS"),
        ("admin", R, "ACL LIST"),
        ("admin", R, "ACL GETUSER app_user"),
        ("admin", R, "ACL GETUSER sel_user"),
        ("admin", R, "ACL GETUSER reader"),
        ("admin", E, "ACL GETUSER nobody"),
        ("admin", E, "ACL DRYRUN app_user get app:1"),
        ("admin", E, "ACL DRYRUN app_user get other"),
        ("admin", E, "ACL DRYRUN reader set data:1 x"),
        ("admin", E, "ACL DRYRUN sel_user publish news:1 m"),
        ("admin", E, "ACL DRYRUN monitor_user client list"),
        ("admin", E, "ACL DRYRUN nobody get x"),
        ("admin", E, "ACL DRYRUN app_user nosuch"),
        ("admin", E, "ACL DRYRUN app_user get"),
        ("admin", E, "ACL CAT"),
        ("admin", E, "ACL CAT nosuchcategory"),
        ("admin", E, "ACL HELP"),
        ("admin", S, "ACL GENPASS"),
        ("admin", S, "ACL GENPASS 32"),
        ("admin", E, "ACL GENPASS 0"),
        ("admin", E, "ACL GENPASS x"),
        ("admin", E, "ACL WHOAMI extra"),
        // SETUSER then use; rules change under a logged-in connection.
        ("admin", E, "ACL SETUSER temp on >temp_pw ~temp:* +get +set"),
        ("temp", E, "AUTH temp temp_pw"),
        ("temp", E, "SET temp:1 a"),
        ("temp", E, "GET temp:1"),
        ("temp", E, "GET other"),
        ("admin", E, "ACL SETUSER temp -set"),
        ("temp", E, "SET temp:1 b"),
        ("admin", E, "ACL SETUSER temp off"),
        ("temp", E, "GET temp:1"),
        ("temp2", E, "AUTH temp temp_pw"),
        ("admin", E, "ACL SETUSER temp reset on >temp_pw ~* +@all"),
        ("temp2", E, "AUTH temp temp_pw"),
        ("temp2", E, "GET temp:1"),
        ("admin", E, "ACL SETUSER bad +nosuchcommand"),
        ("admin", E, "ACL SETUSER bad ~x ~*"),
        ("admin", E, "ACL SETUSER bad (~x +get"),
        ("admin", E, "ACL SETUSER bad <nosuchpassword"),
        // DELUSER of connected users closes their connections.
        ("admin", E, "ACL DELUSER temp nobody"),
        ("temp", E, "PING"),
        ("temp2", E, "PING"),
        ("admin", E, "ACL DELUSER default"),
        // Channels taken away: the subscriber goes.
        ("admin", E, "ACL SETUSER chan_user resetchannels &other:*"),
        ("sub", E, "PING"),
        ("chan", E, "PUBLISH news:a hi"),
        ("admin", L, "ACL LOG"),
        ("admin", L, "ACL LOG 3"),
        ("admin", E, "ACL LOG -1"),
        ("admin", E, "ACL LOG x"),
        ("admin", E, "ACL LOG RESET"),
        ("admin", E, "ACL LOG"),
        // ACL LOAD replaces every user and closes their connections.
        ("admin", E, "ACL SAVE"),
        ("admin", E, "ACL LOAD"),
        ("app", E, "PING"),
        ("admin", E, "PING"),
        ("admin2", E, "AUTH admin admin_password"),
        ("admin2", R, "ACL GETUSER temp"),
        ("admin2", R, "ACL GETUSER tx_user"),
        ("admin2", E, "ACL USERS"),
    ];
    steps.into_iter().map(|(c, cmp, line)| (c, cmp, split(line))).collect()
}

/// Splits a command line on spaces, keeping double-quoted arguments whole.
fn split(line: &'static str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').expect("closing quote");
            out.push(&q[..end]);
            rest = q[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
    }
    out
}

fn write_acl(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("users.acl");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the scenario on one server; the replies in order.
fn run(port: u16) -> Vec<Val> {
    let mut conns: std::collections::HashMap<&str, Conn> = Default::default();
    script()
        .into_iter()
        .map(|(name, _, args)| conns.entry(name).or_insert_with(|| Conn::open(port)).call(&args))
        .collect()
}

#[test]
fn same_replies_as_redis_with_the_same_acl_file() {
    if !require_tool("redis-server") {
        return;
    }
    // The same file, one copy each: ACL SAVE writes it.
    let (rdir, ndir) = (scratch_dir("acl-redis"), scratch_dir("acl-node"));
    let redis = Server::redis(&["--aclfile", write_acl(&rdir, USERS).to_str().unwrap()]);
    let node = Server::node(&["--aclfile", write_acl(&ndir, USERS).to_str().unwrap()]);
    let steps = script();
    assert!(steps.len() >= 100, "{} steps", steps.len());
    let (theirs, ours) = (run(redis.port), run(node.port));
    let mut diffs = Vec::new();
    for (((conn, cmp, args), t), o) in steps.iter().zip(&theirs).zip(&ours) {
        let (t, o) = match cmp {
            Cmp::Exact => (t.clone(), o.clone()),
            Cmp::Shape => (shape(t), shape(o)),
            Cmp::Log => (normalise_log(t), normalise_log(o)),
            Cmp::Rules => (normalise_rules(t), normalise_rules(o)),
        };
        if t != o {
            diffs.push(format!("{conn}: {args:?}\n  redis: {t}\n  node:  {o}"));
        }
    }
    assert!(diffs.is_empty(), "{} of {} replies differ:\n{}", diffs.len(), steps.len(), diffs.join("\n"));
    // ACL SAVE wrote the same users.
    let saved = |d: &Path| {
        let text = std::fs::read_to_string(d.join("users.acl")).unwrap();
        text.lines().map(canon_rules).collect::<Vec<_>>()
    };
    assert_eq!(saved(&ndir), saved(&rdir));
}

/// Output of a node that must refuse to start: (exit code, stderr and stdout).
fn refused_start(args: &[&str]) -> (Option<i32>, String) {
    let dir = scratch_dir("acl-refused");
    let mut child = Command::new(binary("slotgate-node"))
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1", "--save", "", "--dir"])
        .arg(&dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let ok = wait_until(Duration::from_secs(10), || matches!(child.try_wait(), Ok(Some(_))));
    if !ok {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    (out.status.code(), text)
}

#[test]
fn bad_acl_setups_stop_start_up() {
    let dir = scratch_dir("acl-bad");
    let bad = dir.join("bad.acl");
    std::fs::write(&bad, "user default on nopass ~* +@all\nuser x on >p +@all bogus\nuser y on +nosuchcmd\n").unwrap();
    let (code, text) = refused_start(&["--aclfile", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("bad.acl:2: Syntax error"), "{text}");
    assert!(text.contains("bad.acl:3: Error in applying operation '+nosuchcmd'"), "{text}");

    let (code, text) = refused_start(&["--aclfile", "/nonexistent/users.acl"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Error loading ACLs, opening file '/nonexistent/users.acl'"), "{text}");

    // aclfile and user directives are exclusive, as in Redis.
    let good = write_acl(&dir, "user default on nopass ~* +@all\n");
    let (code, text) = refused_start(&["--aclfile", good.to_str().unwrap(), "--user", "bob", "on", ">pw", "+@all"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("please define either an ACL file or declare users directly"), "{text}");

    // A bad `user` directive is a config error naming the file and line.
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, "user bob on >pw +@all\nuser bob off\n").unwrap();
    let out = Command::new(binary("slotgate-node")).arg(&conf).args(["--port", "0"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("redis.conf:2") && text.contains("Duplicate user found"), "{text}");
    let out = Command::new(binary("slotgate-node"))
        .args(["--port", "0", "--user", "bob", "on", "+nosuchcmd"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Error in user declaration '+nosuchcmd'"), "{text}");
}

fn error_text(r: redis::RedisResult<redis::Value>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or_default(), e.detail().unwrap_or_default()),
        Ok(v) => format!("ok: {v:?}"),
    }
}

#[test]
fn requirepass_and_user_directives() {
    // requirepass is the default user's password.
    let node = Server::node(&["--requirepass", "foo"]);
    let mut c = Conn::open(node.port);
    assert_eq!(c.call(&["GET", "x"]), Val::Error("NOAUTH Authentication required.".into()));
    assert_eq!(c.call(&["AUTH", "bar"]), Val::Error(config::acl::WRONGPASS.into()));
    assert_eq!(c.call(&["AUTH", "foo"]), Val::Simple("OK".into()));
    assert_eq!(c.call(&["AUTH", "default", "foo"]), Val::Simple("OK".into()));
    let list = c.call(&["ACL", "LIST"]);
    assert_eq!(
        list,
        Val::Array(Some(vec![Val::Bulk(Some(
            format!("user default on #{} ~* &* +@all", config::acl::hash_password(b"foo")).into_bytes()
        ))]))
    );
    // CONFIG SET requirepass "" makes it nopass again; new connections need no AUTH.
    assert_eq!(c.call(&["CONFIG", "SET", "requirepass", ""]), Val::Simple("OK".into()));
    let mut fresh = Conn::open(node.port);
    assert_eq!(fresh.call(&["PING"]), Val::Simple("PONG".into()));
    assert!(fresh.call(&["AUTH", "foo"]).text().starts_with("ERR AUTH <password> called without any password"));
    assert_eq!(c.call(&["CONFIG", "SET", "requirepass", "new"]), Val::Simple("OK".into()));
    let mut third = Conn::open(node.port);
    assert_eq!(third.call(&["PING"]), Val::Error("NOAUTH Authentication required.".into()));
    assert_eq!(third.call(&["AUTH", "new"]), Val::Simple("OK".into()));

    // `user` directives on the command line, the guide's way.
    let node = Server::node(&["--user", "alice", "on", ">pw", "~cache:*", "+get", "--user", "default", "off"]);
    let mut anon = node.conn();
    assert_eq!(error_text(slotgate_tests::q(&mut anon, &["GET", "cache:1"])), "NOAUTH Authentication required.");
    let mut alice =
        redis::Client::open(format!("redis://alice:pw@127.0.0.1:{}/", node.port)).unwrap().get_connection().unwrap();
    let v: Option<String> = slotgate_tests::q(&mut alice, &["GET", "cache:1"]).unwrap();
    assert_eq!(v, None);
    assert_eq!(
        error_text(slotgate_tests::q(&mut alice, &["SET", "cache:1", "x"])),
        "NOPERM this user has no permissions to run the 'set' command"
    );
    // No ACL file: LOAD and SAVE say so.
    let node2 = Server::node(&["--user", "root", "on", ">r", "~*", "+@all"]);
    let mut root = Conn::open(node2.port);
    assert_eq!(root.call(&["AUTH", "root", "r"]), Val::Simple("OK".into()));
    assert!(root
        .call(&["ACL", "LOAD"])
        .text()
        .starts_with("ERR This Redis instance is not configured to use an ACL file"));
    assert!(root
        .call(&["ACL", "SAVE"])
        .text()
        .starts_with("ERR This Redis instance is not configured to use an ACL file"));
    // Config users other than default start empty (not from `reset`), as in Redis.
    assert_eq!(
        root.call(&["ACL", "LIST"]),
        Val::Array(Some(vec![
            Val::Bulk(Some(b"user default on nopass ~* &* +@all".to_vec())),
            Val::Bulk(Some(
                format!("user root on #{} ~* resetchannels +@all", config::acl::hash_password(b"r")).into_bytes()
            )),
        ]))
    );
}

/// The master's users: nobody without a password, and a replication user with only what a
/// replica needs.
const MASTER_USERS: &str = "\
user default off
user admin on >admin_pw ~* &* +@all
user repl on >repl_pw +psync +replconf +ping
";

fn info_field(port: u16, auth: &[&str], section: &str, field: &str) -> Option<String> {
    let mut args = auth.to_vec();
    args.extend(["info", section]);
    let text = redis_cli(port, &args)?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

#[test]
fn replicas_authenticate_with_masteruser_against_an_acl_master() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let dir = scratch_dir("acl-repl");
    let master = Server::node(&["--aclfile", write_acl(&dir, MASTER_USERS).to_str().unwrap()]);
    let admin = ["--user", "admin", "--pass", "admin_pw", "--no-auth-warning"];
    assert_eq!(redis_cli(master.port, &[&admin[..], &["SET", "before", "sync"]].concat()).as_deref(), Some("OK"));
    let mport = master.port.to_string();
    let repl = ["--masteruser", "repl", "--masterauth", "repl_pw"];
    // A slotgate replica and a redis-server replica, both as `repl`.
    let ours = Server::node(&repl);
    let theirs = Server::redis(&repl);
    for (name, r) in [("slotgate", &ours), ("redis", &theirs)] {
        assert_eq!(redis_cli(r.port, &["REPLICAOF", "127.0.0.1", &mport]).as_deref(), Some("OK"));
        let up = wait_until(Duration::from_secs(15), || {
            info_field(r.port, &[], "replication", "master_link_status").as_deref() == Some("up")
        });
        assert!(up, "the {name} replica did not sync as repl");
    }
    assert_eq!(redis_cli(master.port, &[&admin[..], &["SET", "after", "sync"]].concat()).as_deref(), Some("OK"));
    let synced = wait_until(Duration::from_secs(10), || {
        [&ours, &theirs].iter().all(|r| redis_cli(r.port, &["GET", "after"]).as_deref() == Some("sync"))
    });
    assert!(synced, "writes reach both replicas");
    assert_eq!(redis_cli(ours.port, &["GET", "before"]).as_deref(), Some("sync"));
    assert_eq!(info_field(master.port, &admin, "replication", "connected_slaves").as_deref(), Some("2"));
    // Nothing the replicas did was refused.
    assert_eq!(redis_cli(master.port, &[&admin[..], &["ACL", "LOG"]].concat()).as_deref(), Some(""));
    // The replication user can do nothing else.
    let mut c = Conn::open(master.port);
    assert_eq!(c.call(&["AUTH", "repl", "repl_pw"]), Val::Simple("OK".into()));
    assert_eq!(
        c.call(&["GET", "after"]),
        Val::Error("NOPERM this user has no permissions to run the 'get' command".into())
    );

    // A wrong password keeps the link down, and the master logs the failed login.
    let wrong = Server::node(&["--masteruser", "repl", "--masterauth", "nope"]);
    assert_eq!(redis_cli(wrong.port, &["REPLICAOF", "127.0.0.1", &mport]).as_deref(), Some("OK"));
    let logged = wait_until(Duration::from_secs(10), || {
        redis_cli(master.port, &[&admin[..], &["ACL", "LOG"]].concat()).is_some_and(|l| l.contains("auth"))
    });
    assert!(logged, "the failed replica login is in the ACL LOG");
    assert_ne!(info_field(wrong.port, &[], "replication", "master_link_status").as_deref(), Some("up"));
}

/// `count` cluster-enabled nodes with extra arguments, in no cluster yet.
fn cluster_nodes(count: usize, extra: &[&str]) -> Vec<Server> {
    (0..count)
        .map(|_| {
            let bus = free_port().to_string();
            let mut args = vec!["--cluster-enabled", "yes", "--cluster-node-timeout", "3000", "--cluster-port", &bus];
            args.extend(extra);
            Server::node(&args)
        })
        .collect()
}

fn cluster_ok(ports: &[u16], auth: &[&str], replicas: usize) -> bool {
    ports.iter().all(|&p| {
        let info = redis_cli(p, &[auth, &["cluster", "info"]].concat()).unwrap_or_default();
        let nodes = redis_cli(p, &[auth, &["cluster", "nodes"]].concat()).unwrap_or_default();
        let repl = redis_cli(p, &[auth, &["info", "replication"]].concat()).unwrap_or_default();
        info.contains("cluster_state:ok")
            && nodes.lines().filter(|l| l.contains("slave")).count() == replicas
            && (repl.contains("role:master") || repl.contains("master_link_status:up"))
    })
}

#[test]
fn redis_cli_cluster_create_with_auth() {
    if !require_tool("redis-cli") {
        return;
    }
    // Every node requires a user; replicas reach their masters as that user.
    let dir = scratch_dir("acl-cluster");
    let file = write_acl(&dir, "user default off\nuser admin on >admin_pw ~* &* +@all\n");
    let nodes =
        cluster_nodes(6, &["--aclfile", file.to_str().unwrap(), "--masteruser", "admin", "--masterauth", "admin_pw"]);
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let auth = ["--user", "admin", "--pass", "admin_pw", "--no-auth-warning"];
    let out = Command::new("redis-cli")
        .args(auth)
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(wait_until(Duration::from_secs(60), || cluster_ok(&ports, &auth, 3)), "the cluster did not form");
    // A cluster client logged in as admin follows redirects; without login, NOAUTH.
    for i in 0..20 {
        let key = format!("k{i}");
        assert_eq!(redis_cli(ports[0], &[&auth[..], &["-c", "SET", &key, "v"]].concat()).as_deref(), Some("OK"));
    }
    assert_eq!(redis_cli(ports[1], &["-c", "GET", "k1"]).as_deref(), Some("NOAUTH Authentication required."));

    // The same with requirepass and redis-cli -a.
    let nodes = cluster_nodes(3, &["--requirepass", "pw"]);
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let auth = ["-a", "pw", "--no-auth-warning"];
    let out = Command::new("redis-cli")
        .args(auth)
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-yes"])
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(wait_until(Duration::from_secs(60), || cluster_ok(&ports, &auth, 0)), "the cluster did not form");
    let check =
        Command::new("redis-cli").args(auth).args(["--cluster", "check", &addrs[0]]).output().expect("redis-cli");
    assert!(String::from_utf8_lossy(&check.stdout).contains("[OK] All 16384 slots covered."));
}

/// `acllog-max-len` bounds ACL LOG from the command line and after CONFIG SET, on both servers.
#[test]
fn acllog_max_len_bounds_the_log_as_redis_does() {
    if !require_tool("redis-server") {
        return;
    }
    for server in [Server::redis(&["--acllog-max-len", "2"]), Server::node(&["--acllog-max-len", "2"])] {
        let mut c = server.conn();
        let log_len = |c: &mut redis::Connection| -> usize {
            match redis::cmd("ACL").arg("LOG").query::<redis::Value>(c).unwrap() {
                redis::Value::Array(entries) => entries.len(),
                other => panic!("ACL LOG gave {other:?}"),
            }
        };
        let _: () = redis::cmd("ACL").arg(&["SETUSER", "limited", "on", ">pw", "~*", "+get"]).query(&mut c).unwrap();
        let mut limited = server.conn();
        let _: () = redis::cmd("AUTH").arg(&["limited", "pw"]).query(&mut limited).unwrap();
        // Each refused command is an entry of its own (repeats of one would be counted in it).
        for (name, args) in [("SET", &["a", "1"][..]), ("DEL", &["a"]), ("INCR", &["a"])] {
            assert!(redis::cmd(name).arg(args).query::<redis::Value>(&mut limited).is_err(), "{name} is refused");
        }
        assert_eq!(log_len(&mut c), 2, "port {}", server.port);
        // A lower bound trims the log at its next entry.
        let _: () = redis::cmd("CONFIG").arg(&["SET", "acllog-max-len", "1"]).query(&mut c).unwrap();
        assert_eq!(log_len(&mut c), 2, "port {}", server.port);
        assert!(redis::cmd("LPUSH").arg(&["a", "x"]).query::<redis::Value>(&mut limited).is_err());
        assert_eq!(log_len(&mut c), 1, "port {}", server.port);
        let got: Vec<String> = redis::cmd("CONFIG").arg(&["GET", "acllog-max-len"]).query(&mut c).unwrap();
        assert_eq!(got, ["acllog-max-len", "1"]);
    }
}
