//! Lua scripting through redis-rs and raw sockets: Redis's Lua<->RESP conversions (compared
//! with redis-server on the same scripts), errors, the sandbox, cjson and bit, the script cache,
//! read-only scripts, and -BUSY / SCRIPT KILL for a script that runs too long.

use std::io::Read;
use std::time::{Duration, Instant};

use redis::{cmd, Value};
use slotgate_tests::{require_tool, resp, wait_until, Server};

/// Runs a script on a connection; errors become `Err(text)`.
fn eval(c: &mut redis::Connection, script: &str, keys: &[&str], args: &[&str]) -> Result<Value, String> {
    let mut command = cmd("EVAL");
    command.arg(script).arg(keys.len());
    for k in keys {
        command.arg(*k);
    }
    for a in args {
        command.arg(*a);
    }
    command.query(c).map_err(|e| e.to_string())
}

/// Scripts whose replies must match redis-server's exactly.
const SCRIPTS: &[&str] = &[
    "return 1",
    "return 3.99",
    "return -2.5",
    "return 'text'",
    "return true",
    "return false",
    "return nil",
    "return {1, 2, {3, 'x'}, nil, 4}",
    "return {1, 2, false, 4}",
    "return redis.status_reply('FINE')",
    "return redis.error_reply('MY error text')",
    "return {err = 'CUSTOM failure'}",
    "return redis.call('set', KEYS[1], ARGV[1])",
    "return redis.call('get', KEYS[1])",
    "return redis.call('get', 'nokey')",
    "return redis.call('incr', KEYS[1])",
    "return redis.pcall('incr', KEYS[1])",
    "return redis.call('nosuchcommand')",
    "return redis.call('get')",
    "return redis.call('subscribe', 'ch')",
    "return redis.call('blpop', 'emptylist', 0)",
    "redis.call('rpush', 'l', 'a', 'b') return redis.call('lrange', 'l', 0, -1)",
    "return redis.call('hgetall', 'nohash')",
    "return type(redis.call('get', 'nokey'))",
    "return cjson.encode({1, 2, 3})",
    "return cjson.decode('[1,2,{\"a\":5}]')[3].a",
    "return bit.band(0xff, 0x0f)",
    "return bit.tohex(65535)",
    "return redis.sha1hex('')",
    "return undefined_variable",
    "newglobal = 1",
    "return os",
    "return loadfile",
    "return 1 +",
    "return KEYS[1] .. ARGV[1]",
    "return #ARGV",
    "redis.setresp(3) return redis.call('hgetall', 'nohash')",
    "return redis.setresp(4)",
    "return redis.call('set', 'a', {})",
];

#[test]
fn conversions_and_errors_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut a, mut b) = (node.conn(), redis.conn());
    for script in SCRIPTS {
        let ours = eval(&mut a, script, &["k"], &["v"]);
        let theirs = eval(&mut b, script, &["k"], &["v"]);
        assert_eq!(ours, theirs, "script: {script}");
    }
}

#[test]
fn the_guide_rate_limiter() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let script = "local current = tonumber(redis.call('GET', KEYS[1]) or '0')\n\
                  if current + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return current end\n\
                  return redis.call('INCRBY', KEYS[1], ARGV[1])";
    for i in 1..=100 {
        assert_eq!(eval(&mut c, script, &["rate_limit:user:1000"], &["1", "100"]).unwrap(), Value::Int(i));
    }
    assert_eq!(eval(&mut c, script, &["rate_limit:user:1000"], &["1", "100"]).unwrap(), Value::Int(100));
    // Bad arguments are a runtime error, not a crash, and change nothing.
    let e = eval(&mut c, script, &["rate_limit:user:1000"], &["x", "100"]).unwrap_err();
    assert!(e.contains("user_script:2"), "{e}");
    let v: i64 = cmd("GET").arg("rate_limit:user:1000").query(&mut c).unwrap();
    assert_eq!(v, 100);
}

#[test]
fn script_cache_and_readonly_scripts() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let sha: String = cmd("SCRIPT").arg("LOAD").arg("return 'hi'").query(&mut c).unwrap();
    assert_eq!(sha.len(), 40);
    let v: String = cmd("EVALSHA").arg(&sha).arg(0).query(&mut c).unwrap();
    assert_eq!(v, "hi");
    let exists: Vec<i64> =
        cmd("SCRIPT").arg("EXISTS").arg(&sha).arg("0000000000000000000000000000000000000000").query(&mut c).unwrap();
    assert_eq!(exists, vec![1, 0]);
    let _: () = cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let e = cmd("EVALSHA").arg(&sha).arg(0).query::<Value>(&mut c).unwrap_err().to_string();
    assert!(e.contains("No matching script. Please use EVAL."), "{e}");
    let e =
        cmd("EVAL_RO").arg("return redis.call('set', 'a', 'b')").arg(0).query::<Value>(&mut c).unwrap_err().to_string();
    assert!(e.contains("Write commands are not allowed from read-only scripts"), "{e}");
    let v: Option<String> = cmd("EVAL_RO").arg("return redis.call('get', 'a')").arg(0).query(&mut c).unwrap();
    assert_eq!(v, None);
    let e = cmd("EVAL").arg("return 1").arg(-1).query::<Value>(&mut c).unwrap_err().to_string();
    assert!(e.contains("Number of keys can't be negative"), "{e}");
    let e = cmd("EVAL").arg("return 1").arg(3).arg("a").query::<Value>(&mut c).unwrap_err().to_string();
    assert!(e.contains("Number of keys can't be greater than number of args"), "{e}");
    let e = cmd("SCRIPT").arg("KILL").query::<Value>(&mut c).unwrap_err().to_string();
    assert!(e.contains("No scripts in execution right now."), "{e}");
}

#[test]
fn scripts_are_atomic_and_wake_blocked_clients() {
    let node = Server::node(&[]);
    let port = node.port;
    let waiter = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        cmd("BLPOP").arg("jobs").arg(5).query::<Option<(String, String)>>(&mut c).unwrap()
    });
    let mut c = node.conn();
    assert!(wait_until(Duration::from_secs(5), || {
        let info: String = cmd("INFO").arg("clients").query(&mut c).unwrap();
        info.contains("blocked_clients:1")
    }));
    // The script's push wakes the blocked client only after the script finished: it sees the
    // list as the script left it.
    let v = eval(
        &mut c,
        "redis.call('rpush', 'jobs', 'a') redis.call('rpush', 'jobs', 'b') return redis.call('llen', 'jobs')",
        &[],
        &[],
    );
    assert_eq!(v.unwrap(), Value::Int(2));
    assert_eq!(waiter.join().unwrap(), Some(("jobs".to_string(), "a".to_string())));
}

#[test]
fn slow_script_gets_busy_replies_and_script_kill() {
    let node = Server::node(&["--busy-reply-threshold", "100"]);
    let mut runner = node.raw();
    runner.send(&resp(&[b"EVAL", b"while true do end", b"0"]));
    let started = Instant::now();
    // Other clients, old and new, get -BUSY while it runs.
    let mut other = node.raw();
    let mut busy = false;
    while started.elapsed() < Duration::from_secs(10) && !busy {
        other.send(&resp(&[b"GET", b"k"]));
        let got = other.read_exact_len(1);
        let mut rest = vec![0u8; 256];
        let n = other.0.read(&mut rest).unwrap_or(0);
        let text = String::from_utf8_lossy(&[got, rest[..n].to_vec()].concat()).into_owned();
        busy = text.starts_with("-BUSY Redis is busy running a script.");
        if !busy {
            assert!(text.starts_with("$-1"), "before the threshold GET is answered normally: {text}");
        }
    }
    assert!(busy, "no -BUSY reply within 10 s");
    let mut fresh = node.raw();
    fresh.roundtrip(
        &resp(&[b"PING"]),
        "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n",
    );
    fresh.roundtrip(&resp(&[b"SCRIPT", b"KILL"]), "+OK\r\n");
    let reply = runner.read_exact_len(40);
    assert!(
        String::from_utf8_lossy(&reply).starts_with("-ERR Script killed by user with SCRIPT KILL"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    // Everyone is served normally again.
    let mut c = node.conn();
    let pong: String = cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    fresh.roundtrip(&resp(&[b"PING"]), "+PONG\r\n");
}

#[test]
fn a_script_that_wrote_cannot_be_killed() {
    let node = Server::node(&["--busy-reply-threshold", "100"]);
    let mut runner = node.raw();
    runner.send(&resp(&[b"EVAL", b"redis.call('set', 'x', '1') local t = redis.call('time') while true do if tonumber(redis.call('time')[1]) > tonumber(t[1]) + 1 then return 'done' end end", b"0"]));
    let mut other = node.raw();
    assert!(wait_until(Duration::from_secs(5), || {
        other.send(&resp(&[b"SCRIPT", b"KILL"]));
        let mut buf = [0u8; 512];
        let n = other.0.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).starts_with("-UNKILLABLE Sorry the script already executed write commands")
    }));
    // The script finishes on its own and its write stays.
    let reply = runner.read_exact_len(10);
    assert_eq!(String::from_utf8_lossy(&reply), "$4\r\ndone\r\n");
    let mut c = node.conn();
    let x: String = cmd("GET").arg("x").query(&mut c).unwrap();
    assert_eq!(x, "1");
}
