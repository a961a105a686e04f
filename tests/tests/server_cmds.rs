//! Connection and server commands: HELLO/RESP3, CLIENT, COMMAND, CONFIG (GET/SET/REWRITE/
//! RESETSTAT), INFO, DBSIZE/FLUSH*, TIME, LASTSAVE, SELECT, unknown commands and SHUTDOWN,
//! checked against Redis 7.0's replies.

use std::io::Read;
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{q, resp, scratch_dir, wait_until, RawConn, Server};

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn req(args: &[&str]) -> Vec<u8> {
    let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    resp(&v)
}

/// Reads from a raw connection until `done` holds for what arrived (or 5 s pass).
fn read_until(raw: &mut RawConn, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&out) && Instant::now() < deadline {
        match raw.0.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn config_get(c: &mut redis::Connection, name: &str) -> String {
    let m: Vec<String> = q(c, &["CONFIG", "GET", name]).unwrap();
    assert_eq!(m.len(), 2, "CONFIG GET {name}: {m:?}");
    m[1].clone()
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn hello_resp3_raw() {
    let node = Server::node(&[]);
    let mut raw = node.raw();
    raw.send(&req(&["HELLO", "3"]));
    let reply = read_until(&mut raw, |b| b.ends_with(b"$7\r\nmodules\r\n*0\r\n"));
    let text = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with(b"%7\r\n"), "{text}");
    assert!(contains(&reply, b"$5\r\nproto\r\n:3\r\n"), "{text}");
    assert!(contains(&reply, b"$6\r\nserver\r\n$5\r\nredis\r\n"), "{text}");
    assert!(contains(&reply, b"$7\r\nversion\r\n$6\r\n7.0."), "{text}");
    assert!(contains(&reply, b"$4\r\nrole\r\n$6\r\nmaster\r\n"), "{text}");
    // The connection now speaks RESP3: CONFIG GET is a map.
    raw.roundtrip(&req(&["CONFIG", "GET", "maxmemory"]), "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    raw.roundtrip(&req(&["GET", "missing"]), "_\r\n");
    raw.roundtrip(&req(&["HELLO", "4"]), "-NOPROTO unsupported protocol version\r\n");
    raw.roundtrip(&req(&["PING"]), "+PONG\r\n");
    raw.roundtrip(&req(&["HELLO", "abc"]), "-ERR Protocol version is not an integer or out of range\r\n");
    // HELLO 2 goes back to RESP2.
    raw.send(&req(&["HELLO", "2"]));
    let reply = read_until(&mut raw, |b| b.ends_with(b"$7\r\nmodules\r\n*0\r\n"));
    assert!(reply.starts_with(b"*14\r\n"), "{}", String::from_utf8_lossy(&reply));
    assert!(contains(&reply, b"$5\r\nproto\r\n:2\r\n"));
    raw.roundtrip(&req(&["GET", "missing"]), "$-1\r\n");
}

#[test]
fn hello_setname() {
    let node = Server::node(&[]);
    let mut raw = node.raw();
    raw.send(&req(&["HELLO", "3", "SETNAME", "myname"]));
    let reply = read_until(&mut raw, |b| b.ends_with(b"$7\r\nmodules\r\n*0\r\n"));
    assert!(reply.starts_with(b"%7\r\n"));
    raw.roundtrip(&req(&["CLIENT", "GETNAME"]), "$6\r\nmyname\r\n");
    raw.roundtrip(
        &req(&["HELLO", "3", "SETNAME", "bad name"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    raw.roundtrip(&req(&["CLIENT", "GETNAME"]), "$6\r\nmyname\r\n");
}

#[test]
fn client_family() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let id: i64 = q(&mut c, &["CLIENT", "ID"]).unwrap();
    assert!(id > 0);
    assert_eq!(q::<Option<String>>(&mut c, &["CLIENT", "GETNAME"]).unwrap(), None);
    assert_eq!(q::<String>(&mut c, &["CLIENT", "SETNAME", "worker-1"]).unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["CLIENT", "GETNAME"]).unwrap(), "worker-1");
    for bad in ["has space", "new\nline"] {
        let e = err_text(q(&mut c, &["CLIENT", "SETNAME", bad]));
        assert!(e.contains("Client names cannot contain spaces, newlines or special characters."), "{bad:?}: {e}");
    }
    assert_eq!(q::<String>(&mut c, &["CLIENT", "GETNAME"]).unwrap(), "worker-1");

    let info: String = q(&mut c, &["CLIENT", "INFO"]).unwrap();
    assert!(info.contains(&format!("id={id} ")), "{info}");
    assert!(info.contains("name=worker-1"), "{info}");
    assert!(info.contains("addr=127.0.0.1:"), "{info}");

    let mut other = node.raw();
    other.send(&req(&["CLIENT", "ID"]));
    let reply = read_until(&mut other, |b| b.ends_with(b"\r\n"));
    let other_id: i64 =
        String::from_utf8_lossy(&reply).trim().trim_start_matches(':').parse().expect("CLIENT ID reply");
    assert_ne!(other_id, id);
    let list: String = q(&mut c, &["CLIENT", "LIST"]).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(&format!("id={id} ")), "{list}");
    assert!(list.contains(&format!("id={other_id} ")), "{list}");
    let one: String = q(&mut c, &["CLIENT", "LIST", "ID", &other_id.to_string()]).unwrap();
    assert_eq!(one.lines().count(), 1, "{one}");

    assert_eq!(q::<i64>(&mut c, &["CLIENT", "KILL", "ID", &other_id.to_string()]).unwrap(), 1);
    assert!(other.closed(), "the killed connection sees EOF");
    assert_eq!(q::<i64>(&mut c, &["CLIENT", "KILL", "ID", "999999"]).unwrap(), 0);
    let e = err_text(q(&mut c, &["CLIENT", "KILL", "127.0.0.1:1"]));
    assert!(e.contains("No such client"), "{e}");
    assert!(wait_until(Duration::from_secs(5), || {
        q::<String>(&mut c, &["CLIENT", "LIST"]).unwrap().lines().count() == 1
    }));
    assert_eq!(q::<String>(&mut c, &["PING"]).unwrap(), "PONG", "the killer lives on");
}

#[test]
fn command_introspection() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let n: i64 = q(&mut c, &["COMMAND", "COUNT"]).unwrap();
    assert!(n > 50, "COMMAND COUNT {n}");
    let all: Vec<Value> = q(&mut c, &["COMMAND"]).unwrap();
    assert_eq!(all.len() as i64, n);

    let info: Vec<Value> = q(&mut c, &["COMMAND", "INFO", "get", "nosuchcmd"]).unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else { panic!("{:?}", info[0]) };
    assert_eq!(get.len(), 10, "Redis 7.0 has ten fields: {get:?}");
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    let flags: Vec<String> = redis::from_redis_value(&get[2]).unwrap();
    assert!(flags.contains(&"readonly".to_string()), "{flags:?}");
    assert!(flags.contains(&"fast".to_string()), "{flags:?}");
    assert_eq!(get[3], Value::Int(1), "first key");
    assert_eq!(get[4], Value::Int(1), "last key");
    assert_eq!(get[5], Value::Int(1), "step");
    let cats: Vec<String> = redis::from_redis_value(&get[6]).unwrap();
    assert!(cats.contains(&"@read".to_string()) && cats.contains(&"@string".to_string()));

    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]).unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "SET", "k", "v"]).unwrap();
    assert_eq!(keys, vec!["k"]);
    let e = err_text(q(&mut c, &["COMMAND", "GETKEYS", "ECHO", "x"]));
    assert!(e.contains("The command has no key arguments"), "{e}");
    let e = err_text(q(&mut c, &["COMMAND", "GETKEYS", "nosuchcmd", "x"]));
    assert!(e.contains("Invalid command specified"), "{e}");
    let e = err_text(q(&mut c, &["COMMAND", "GETKEYS", "GET", "a", "b"]));
    assert!(e.contains("Invalid number of arguments specified for command"), "{e}");
}

#[test]
fn command_docs() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let docs: Value = q(&mut c, &["COMMAND", "DOCS", "get"]).unwrap();
    let docs = pairs(&docs);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0].0, Value::BulkString(b"get".to_vec()));
    let fields = pairs(&docs[0].1);
    let names: Vec<String> = fields.iter().map(|(k, _)| redis::from_redis_value(k).unwrap()).collect();
    let field = |name: &str| {
        fields.iter().find(|(k, _)| *k == Value::BulkString(name.as_bytes().to_vec())).map(|(_, v)| v.clone())
    };
    assert_eq!(field("group"), Some(Value::BulkString(b"string".to_vec())), "{names:?}");
    // Unknown names are left out, as Redis does.
    let none: Value = q(&mut c, &["COMMAND", "DOCS", "nosuchcommand"]).unwrap();
    assert!(pairs(&none).is_empty(), "{none:?}");
}

/// The key/value pairs of a map reply (RESP3 map or RESP2 flat array).
fn pairs(v: &Value) -> Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m.clone(),
        Value::Array(a) => {
            assert!(a.len() % 2 == 0, "odd map: {a:?}");
            a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect()
        }
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn config_get_and_set() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "maxmemory*"]).unwrap();
    let names: Vec<&String> = m.iter().step_by(2).collect();
    for want in ["maxmemory", "maxmemory-policy", "maxmemory-samples"] {
        assert!(names.iter().any(|n| *n == want), "{names:?}");
    }
    assert!(names.iter().all(|n| n.starts_with("maxmemory")), "{names:?}");
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "port", "hz", "port"]).unwrap();
    assert_eq!(m.len(), 4, "two distinct directives: {m:?}");
    assert!(m.contains(&"port".to_string()) && m.contains(&node.port.to_string()));
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "h?"]).unwrap();
    assert_eq!(m, vec!["hz".to_string(), "10".to_string()]);
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "nonexistent*"]).unwrap();
    assert!(m.is_empty());

    assert_eq!(q::<String>(&mut c, &["CONFIG", "SET", "hz", "20", "maxmemory", "10mb"]).unwrap(), "OK");
    assert_eq!(config_get(&mut c, "hz"), "20");
    assert_eq!(config_get(&mut c, "maxmemory"), "10485760");
    // All or nothing: one bad value leaves every directive as it was.
    let e = err_text(q(&mut c, &["CONFIG", "SET", "hz", "30", "maxmemory-policy", "bogus"]));
    assert!(
        e.contains("CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
        "{e}"
    );
    assert_eq!(config_get(&mut c, "hz"), "20");
    assert_eq!(config_get(&mut c, "maxmemory-policy"), "noeviction");
    let e = err_text(q(&mut c, &["CONFIG", "SET", "maxmemory", "1mb", "hz", "abc"]));
    assert!(
        e.contains(
            "CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"
        ),
        "{e}"
    );
    assert_eq!(config_get(&mut c, "maxmemory"), "10485760");
    let e = err_text(q(&mut c, &["CONFIG", "SET", "nonexist", "1"]));
    assert!(e.contains("Unknown option or number of arguments for CONFIG SET - 'nonexist'"), "{e}");
    let e = err_text(q(&mut c, &["CONFIG", "SET", "daemonize", "yes"]));
    assert!(
        e.contains("CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        "{e}"
    );
    let e = err_text(q(&mut c, &["CONFIG", "SET", "hz"]));
    assert!(e.contains("wrong number of arguments"), "{e}");
    // An odd number of names and values is a syntax error (redis-server 7.0.15 answers so).
    let e = err_text(q(&mut c, &["CONFIG", "SET", "hz", "10", "maxmemory"]));
    assert!(e.contains("syntax error"), "{e}");
    let e = err_text(q(&mut c, &["CONFIG", "REWRITE"]));
    assert!(e.contains("The server is running without a config file"), "{e}");
}

#[test]
fn config_get_exact_name_is_echoed() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "MAXMEMORY"]).unwrap();
    // Redis 7.0 looks a glob-free name up directly and echoes it as the client wrote it.
    assert_eq!(m, vec!["MAXMEMORY".to_string(), "0".to_string()]);
    let m: Vec<String> = q(&mut c, &["CONFIG", "GET", "MaxMemory*"]).unwrap();
    assert!(m.contains(&"maxmemory".to_string()), "a glob reports canonical names: {m:?}");
}

#[test]
fn config_set_duplicate_parameter_text() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["CONFIG", "SET", "hz", "20"]).unwrap();
    // Redis names the repeated directive in the error.
    let e = err_text(q(&mut c, &["CONFIG", "SET", "hz", "11", "hz", "12"]));
    assert!(e.contains("CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"), "{e}");
    assert_eq!(config_get(&mut c, "hz"), "20");
}

#[test]
fn config_rewrite_keeps_comments_and_is_read_back() {
    let dir = scratch_dir("conf");
    let path = dir.join("redis.conf");
    std::fs::write(
        &path,
        "# slotgate test configuration\n\n# how often the cron runs\nhz 15\n\n# eviction\nmaxmemory-policy allkeys-lru\n",
    )
    .unwrap();
    {
        let node = Server::node_with_config(&path, &[]);
        let mut c = node.conn();
        assert_eq!(config_get(&mut c, "hz"), "15", "the file was read");
        assert_eq!(config_get(&mut c, "maxmemory-policy"), "allkeys-lru");
        q::<()>(&mut c, &["CONFIG", "SET", "hz", "25", "maxmemory-samples", "7"]).unwrap();
        assert_eq!(q::<String>(&mut c, &["CONFIG", "REWRITE"]).unwrap(), "OK");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# slotgate test configuration"), "{text}");
        assert!(text.contains("# how often the cron runs"), "{text}");
        assert!(text.contains("# eviction"), "{text}");
        assert!(text.lines().any(|l| l.trim() == "hz 25"), "{text}");
        assert!(!text.lines().any(|l| l.trim() == "hz 15"), "{text}");
        assert!(text.lines().any(|l| l.trim() == "maxmemory-samples 7"), "{text}");
        assert!(text.lines().any(|l| l.trim() == "maxmemory-policy allkeys-lru"), "{text}");
        // The comment stays above the directive it documents.
        let comment = text.find("# how often the cron runs").unwrap();
        let hz = text.find("hz 25").unwrap();
        assert!(comment < hz, "{text}");
    }
    let node = Server::node_with_config(&path, &[]);
    let mut c = node.conn();
    assert_eq!(config_get(&mut c, "hz"), "25", "the restarted node reads the rewrite");
    assert_eq!(config_get(&mut c, "maxmemory-samples"), "7");
    assert_eq!(config_get(&mut c, "maxmemory-policy"), "allkeys-lru");
    let _ = std::fs::remove_dir_all(&dir);
}

fn info(c: &mut redis::Connection, section: &[&str]) -> String {
    let mut command = cmd("INFO");
    for s in section {
        command.arg(*s);
    }
    command.query(c).unwrap()
}

#[test]
fn info_sections_and_resetstat() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "a", "1"]).unwrap();
    q::<()>(&mut c, &["SET", "b", "2", "EX", "1000"]).unwrap();
    let text = info(&mut c, &[]);
    for want in [
        "redis_version:".to_string(),
        format!("tcp_port:{}\r\n", node.port),
        "connected_clients:".to_string(),
        "used_memory:".to_string(),
        "db0:keys=2,expires=1,avg_ttl=".to_string(),
        "cluster_enabled:0\r\n".to_string(),
        "role:master\r\n".to_string(),
        "# Keyspace\r\n".to_string(),
    ] {
        assert!(text.contains(&want), "INFO lacks {want:?}:\n{text}");
    }
    assert!(!text.contains("cmdstat_"), "commandstats is not a default section");
    let avg: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("db0:keys=2,expires=1,avg_ttl="))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
        .expect("avg_ttl");
    // Redis estimates avg_ttl in its expiry cycle (0 until it ran); never above the real TTL.
    assert!((0..=1_000_000).contains(&avg), "avg_ttl {avg}");
    let stats = info(&mut c, &["commandstats"]);
    assert!(stats.contains("cmdstat_set:calls=2,"), "{stats}");
    assert!(!stats.contains("# Server"), "only the asked section");
    let two = info(&mut c, &["server", "clients"]);
    assert!(two.contains("# Server") && two.contains("# Clients") && !two.contains("# Memory"));

    assert_eq!(q::<String>(&mut c, &["CONFIG", "RESETSTAT"]).unwrap(), "OK");
    let stats = info(&mut c, &["commandstats"]);
    assert!(!stats.contains("cmdstat_set:"), "{stats}");
    let s = info(&mut c, &["stats"]);
    let processed: i64 = s
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(processed <= 3, "reset counters: {processed}");
}

#[test]
fn dbsize_and_flushes() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 0);
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 1000);
    assert_eq!(q::<String>(&mut c, &["FLUSHALL", "ASYNC"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "k1"]).unwrap(), None);
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["FLUSHDB"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 0);
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["FLUSHALL"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 0);
    q::<()>(&mut c, &["SET", "a", "1"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["FLUSHALL", "SYNC"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]).unwrap(), 0);
    let e = err_text(q(&mut c, &["FLUSHALL", "BOGUS"]));
    assert!(e.contains("syntax error"), "{e}");
}

#[test]
fn time_lastsave_select() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let before = unix_secs();
    let t: Vec<String> = q(&mut c, &["TIME"]).unwrap();
    let after = unix_secs();
    assert_eq!(t.len(), 2);
    let secs: i64 = t[0].parse().unwrap();
    let micros: i64 = t[1].parse().unwrap();
    assert!(before <= secs && secs <= after, "{secs} not in {before}..={after}");
    assert!((0..1_000_000).contains(&micros));
    let last: i64 = q(&mut c, &["LASTSAVE"]).unwrap();
    assert!(last <= after && last > after - 120, "lastsave {last}");
    assert_eq!(q::<String>(&mut c, &["SELECT", "0"]).unwrap(), "OK");
    // 16 databases by default (node_databases.rs compares the rest with redis-server).
    assert_eq!(q::<String>(&mut c, &["SELECT", "15"]).unwrap(), "OK");
    let e = err_text(q(&mut c, &["SELECT", "16"]));
    assert!(e.contains("DB index is out of range"), "{e}");
    let e = err_text(q(&mut c, &["SELECT", "x"]));
    assert!(e.contains("value is not an integer or out of range"), "{e}");
}

#[test]
fn unknown_command_text() {
    let node = Server::node(&[]);
    let mut raw = node.raw();
    raw.roundtrip(&req(&["foo", "a", "b"]), "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    raw.roundtrip(b"foo\r\n", "-ERR unknown command 'foo', with args beginning with: \r\n");
    raw.roundtrip(&req(&["CONFIG", "NOPE"]), "-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n");
    raw.roundtrip(&req(&["PING"]), "+PONG\r\n");
}

#[test]
fn shutdown_nosave_exits() {
    let mut node = Server::node(&[]);
    let mut raw = node.raw();
    raw.send(&req(&["SHUTDOWN", "NOSAVE"]));
    assert!(raw.closed(), "the connection closes");
    assert_eq!(node.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!node.alive());
}
