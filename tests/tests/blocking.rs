//! Blocking pops (BLPOP, BRPOPLPUSH, BLMOVE, BLMPOP, BZPOPMIN/MAX, BZMPOP): woken by pushes from
//! other connections (also from inside MULTI/EXEC), served first-come first-served, timing out
//! with a nil reply, not blocking other clients, answering at once inside MULTI, and surviving
//! a blocked client that disconnects.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redis::{RedisResult, Value};
use slotgate_tests::{q, resp, wait_until, Server};

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(|c| c.get_connection()).expect("connect")
}

fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let text: String = q(c, &["INFO", "clients"]).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO clients has blocked_clients")
}

/// Runs a command on its own connection in a thread; returns the reply when joined.
fn spawn(port: u16, args: &[&str]) -> JoinHandle<RedisResult<Value>> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    std::thread::spawn(move || {
        let mut c = connect(port);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        q::<Value>(&mut c, &refs)
    })
}

/// Waits until `n` clients are blocked (panics after 10 s).
fn wait_blocked(c: &mut redis::Connection, n: i64) {
    assert!(
        wait_until(Duration::from_secs(10), || blocked_clients(c) == n),
        "blocked_clients never reached {n} (now {})",
        blocked_clients(c)
    );
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn blpop_woken_by_push_from_another_connection() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let t = spawn(node.port, &["BLPOP", "nokey", "k", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "k", "v1", "v2"]).unwrap(), 2);
    let got = t.join().unwrap().unwrap();
    assert_eq!(got, Value::Array(vec![bulk("k"), bulk("v1")]));
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "k", "0", "-1"]).unwrap(), vec!["v2"]);
    assert_eq!(blocked_clients(&mut c), 0);
    // Data already there: no blocking at all.
    let mut d = node.conn();
    let got: Value = q(&mut d, &["BRPOP", "k", "0"]).unwrap();
    assert_eq!(got, Value::Array(vec![bulk("k"), bulk("v2")]));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]).unwrap(), 0);
}

#[test]
fn blocked_clients_are_served_in_order() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut threads = Vec::new();
    for i in 0..3 {
        threads.push(spawn(node.port, &["BLPOP", "q", "0"]));
        wait_blocked(&mut c, i + 1);
    }
    for (i, e) in ["e1", "e2", "e3"].iter().enumerate() {
        q::<i64>(&mut c, &["RPUSH", "q", e]).unwrap();
        wait_blocked(&mut c, 2 - i as i64);
    }
    for (t, e) in threads.into_iter().zip(["e1", "e2", "e3"]) {
        assert_eq!(t.join().unwrap().unwrap(), Value::Array(vec![bulk("q"), bulk(e)]), "FIFO order");
    }
}

#[test]
fn fractional_timeout_returns_nil() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let start = Instant::now();
    let got: Value = q(&mut c, &["BLPOP", "k", "0.2"]).unwrap();
    let took = start.elapsed();
    assert_eq!(got, Value::Nil, "a timed-out BLPOP is a nil array");
    assert!(took >= Duration::from_millis(150), "returned after {took:?}");
    assert!(took < Duration::from_secs(5), "returned after {took:?}");
    let got: Value = q(&mut c, &["BLMOVE", "k", "d", "LEFT", "LEFT", "0.1"]).unwrap();
    assert_eq!(got, Value::Nil);
    let got: Value = q(&mut c, &["BZPOPMIN", "z", "0.1"]).unwrap();
    assert_eq!(got, Value::Nil);
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn timeout_errors() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(err_text(q(&mut c, &["BLPOP", "k", "-1"])), "ERR timeout is negative");
    assert_eq!(err_text(q(&mut c, &["BLPOP", "k", "abc"])), "ERR timeout is not a float or out of range");
    assert_eq!(err_text(q(&mut c, &["BZPOPMIN", "k", "nan"])), "ERR timeout is not a float or out of range");
    assert_eq!(err_text(q(&mut c, &["BLMPOP", "-0.5", "1", "k", "LEFT"])), "ERR timeout is negative");
    assert_eq!(
        err_text(q(&mut c, &["BLMOVE", "a", "b", "LEFT", "LEFT", "x"])),
        "ERR timeout is not a float or out of range"
    );
    q::<()>(&mut c, &["SET", "s", "v"]).unwrap();
    assert_eq!(
        err_text(q(&mut c, &["BLPOP", "s", "0"])),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn brpoplpush_and_blmove() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let t = spawn(node.port, &["BRPOPLPUSH", "src", "dst", "0"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["RPUSH", "src", "a", "b"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), bulk("b"));
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "dst", "0", "-1"]).unwrap(), vec!["b"]);

    let t = spawn(node.port, &["BLMOVE", "src2", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["LPUSH", "src2", "x", "y"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), bulk("y"));
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "dst", "0", "-1"]).unwrap(), vec!["b", "y"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "src2", "0", "-1"]).unwrap(), vec!["x"]);
}

#[test]
fn blmpop_woken_by_push() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let t = spawn(node.port, &["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["RPUSH", "b", "x", "y", "z"]).unwrap();
    let got = t.join().unwrap().unwrap();
    assert_eq!(got, Value::Array(vec![bulk("b"), Value::Array(vec![bulk("z"), bulk("y")])]));
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "b", "0", "-1"]).unwrap(), vec!["x"]);
}

#[test]
fn sorted_set_blocking_pops_woken_by_zadd() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let t = spawn(node.port, &["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["ZADD", "z", "2", "b", "1", "a"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), Value::Array(vec![bulk("z"), bulk("a"), bulk("1")]));

    let t = spawn(node.port, &["BZPOPMAX", "other", "z2", "0"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["ZADD", "z2", "5", "x", "7.5", "y"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), Value::Array(vec![bulk("z2"), bulk("y"), bulk("7.5")]));

    let t = spawn(node.port, &["BZMPOP", "0", "1", "z3", "MIN", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["ZADD", "z3", "3", "c", "1", "a", "2", "b"]).unwrap();
    let got = t.join().unwrap().unwrap();
    let expected = Value::Array(vec![
        bulk("z3"),
        Value::Array(vec![Value::Array(vec![bulk("a"), bulk("1")]), Value::Array(vec![bulk("b"), bulk("2")])]),
    ]);
    assert_eq!(got, expected);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZRANGE", "z3", "0", "-1"]).unwrap(), vec!["c"]);
}

#[test]
fn woken_by_multi_exec_push() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let t = spawn(node.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    let replies: Vec<i64> =
        redis::pipe().atomic().cmd("RPUSH").arg("k").arg("a").cmd("RPUSH").arg("k").arg("b").query(&mut c).unwrap();
    assert_eq!(replies, vec![1, 2]);
    assert_eq!(t.join().unwrap().unwrap(), Value::Array(vec![bulk("k"), bulk("a")]));
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "k", "0", "-1"]).unwrap(), vec!["b"]);
}

#[test]
fn blocked_client_does_not_block_others() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let t = spawn(node.port, &["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    let mut other = node.conn();
    for i in 0..20 {
        assert_eq!(q::<String>(&mut other, &["PING"]).unwrap(), "PONG");
        q::<()>(&mut other, &["SET", "x", &i.to_string()]).unwrap();
    }
    assert_eq!(q::<String>(&mut other, &["GET", "x"]).unwrap(), "19");
    q::<i64>(&mut c, &["LPUSH", "k", "done"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), Value::Array(vec![bulk("k"), bulk("done")]));
}

#[test]
fn blpop_inside_multi_returns_nil_at_once() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let start = Instant::now();
    let got: Value = redis::pipe()
        .atomic()
        .cmd("BLPOP")
        .arg("nokey")
        .arg(0)
        .cmd("BZPOPMIN")
        .arg("nozset")
        .arg(0)
        .cmd("BLMOVE")
        .arg("nokey")
        .arg("d")
        .arg("LEFT")
        .arg("LEFT")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn disconnect_while_blocked_does_not_lose_later_pushes() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut raw = node.raw();
    raw.send(&resp(&[b"BLPOP", b"k", b"0"]));
    wait_blocked(&mut c, 1);
    drop(raw);
    assert!(
        wait_until(Duration::from_secs(10), || blocked_clients(&mut c) == 0),
        "the disconnected client stays counted as blocked"
    );
    assert_eq!(q::<i64>(&mut c, &["RPUSH", "k", "v"]).unwrap(), 1);
    assert_eq!(
        q::<Vec<String>>(&mut c, &["LRANGE", "k", "0", "-1"]).unwrap(),
        vec!["v"],
        "nothing went to the dead client"
    );
    // A new blocked client is still served normally.
    let t = spawn(node.port, &["BLPOP", "k2", "0"]);
    wait_blocked(&mut c, 1);
    q::<i64>(&mut c, &["RPUSH", "k2", "w"]).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), Value::Array(vec![bulk("k2"), bulk("w")]));
}
