//! MULTI/EXEC/DISCARD and WATCH through redis-rs: QUEUED replies, EXECABORT after queueing
//! errors, runtime errors that do not roll back, and optimistic locking invalidated by other
//! clients, by expiry and by FLUSHALL — with Redis 7.0's exact error texts.

use std::time::Duration;

use redis::{RedisResult, Value};
use slotgate_tests::{q, resp, wait_until, Server};

fn v(c: &mut redis::Connection, args: &[&str]) -> Value {
    q::<Value>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn okay() -> Value {
    Value::Okay
}

fn queued() -> Value {
    Value::SimpleString("QUEUED".into())
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn multi_exec_queues_and_runs() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(v(&mut c, &["MULTI"]), okay());
    assert_eq!(v(&mut c, &["SET", "a", "1"]), queued());
    assert_eq!(v(&mut c, &["INCR", "a"]), queued());
    assert_eq!(v(&mut c, &["GET", "a"]), queued());
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![okay(), Value::Int(2), bulk("2")]));
    // Empty transaction.
    assert_eq!(v(&mut c, &["MULTI"]), okay());
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![]));
}

#[test]
fn queueing_errors_abort_exec() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "a", "1"]);
    let e = err_text(q(&mut c, &["NOSUCHCOMMAND", "x"]));
    assert!(e.starts_with("ERR unknown command 'NOSUCHCOMMAND'"), "{e}");
    assert_eq!(err_text(q(&mut c, &["EXEC"])), "EXECABORT Transaction discarded because of previous errors.");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "a"]).unwrap(), None, "nothing ran");

    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "a", "1"]);
    assert_eq!(err_text(q(&mut c, &["GET"])), "ERR wrong number of arguments for 'get' command");
    assert_eq!(err_text(q(&mut c, &["EXEC"])), "EXECABORT Transaction discarded because of previous errors.");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "a"]).unwrap(), None);
    // The connection is out of the transaction afterwards.
    assert_eq!(err_text(q(&mut c, &["EXEC"])), "ERR EXEC without MULTI");
}

#[test]
fn runtime_errors_do_not_roll_back() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    v(&mut c, &["RPUSH", "list", "x"]);
    // A raw socket, since redis-rs turns an error element of EXEC into an error for the whole reply.
    let mut raw = node.raw();
    raw.roundtrip(&resp(&[b"MULTI"]), "+OK\r\n");
    raw.roundtrip(&resp(&[b"SET", b"a", b"1"]), "+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"INCR", b"list"]), "+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"INCR", b"a"]), "+QUEUED\r\n");
    raw.roundtrip(
        &resp(&[b"EXEC"]),
        "*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n",
    );
    assert_eq!(q::<String>(&mut c, &["GET", "a"]).unwrap(), "2", "the other commands applied");
    assert_eq!(q::<Vec<String>>(&mut c, &["LRANGE", "list", "0", "-1"]).unwrap(), vec!["x"]);
}

#[test]
fn discard_nesting_and_exec_without_multi() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(err_text(q(&mut c, &["EXEC"])), "ERR EXEC without MULTI");
    assert_eq!(err_text(q(&mut c, &["DISCARD"])), "ERR DISCARD without MULTI");
    v(&mut c, &["MULTI"]);
    assert_eq!(err_text(q(&mut c, &["MULTI"])), "ERR MULTI calls can not be nested");
    v(&mut c, &["SET", "a", "1"]);
    assert_eq!(v(&mut c, &["DISCARD"]), okay());
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "a"]).unwrap(), None);
    assert_eq!(err_text(q(&mut c, &["EXEC"])), "ERR EXEC without MULTI");
    // A nested MULTI does not abort the transaction.
    v(&mut c, &["MULTI"]);
    let _ = q::<Value>(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "a", "1"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![okay()]));
}

#[test]
fn watch_detects_changes_by_other_clients() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut other = node.conn();
    v(&mut c, &["SET", "k", "1"]);
    assert_eq!(v(&mut c, &["WATCH", "k"]), okay());
    v(&mut other, &["SET", "k", "2"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "k", "3"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Nil, "a touched watched key aborts EXEC");
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).unwrap(), "2");

    // Unchanged: runs. Watching a missing key that stays missing also runs.
    v(&mut c, &["WATCH", "k", "missing"]);
    v(&mut other, &["GET", "k"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "k", "3"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![okay()]));
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).unwrap(), "3");

    // EXEC unwatches: a later change does not affect the next transaction.
    v(&mut other, &["SET", "k", "4"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["GET", "k"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![bulk("4")]));

    // Creating a watched missing key aborts.
    v(&mut c, &["WATCH", "fresh"]);
    v(&mut other, &["LPUSH", "fresh", "x"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["PING"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Nil);
}

#[test]
fn watch_detects_expiry() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut other = node.conn();
    v(&mut c, &["SET", "k", "v", "PX", "100"]);
    v(&mut c, &["WATCH", "k"]);
    assert!(
        wait_until(Duration::from_secs(10), || q::<i64>(&mut other, &["EXISTS", "k"]).unwrap() == 0),
        "key never expired"
    );
    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "x", "1"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Nil, "an expired watched key aborts EXEC");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "x"]).unwrap(), None);
}

#[test]
fn flushall_invalidates_and_unwatch_clears() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    let mut other = node.conn();
    v(&mut c, &["SET", "k", "v"]);
    v(&mut c, &["WATCH", "k"]);
    v(&mut other, &["FLUSHALL"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "x", "1"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Nil, "FLUSHALL touches every watched key");

    v(&mut c, &["SET", "k", "v"]);
    v(&mut c, &["WATCH", "k"]);
    v(&mut other, &["SET", "k", "changed"]);
    assert_eq!(v(&mut c, &["UNWATCH"]), okay());
    v(&mut c, &["MULTI"]);
    v(&mut c, &["SET", "x", "1"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![okay()]), "UNWATCH forgets the watched keys");

    // DISCARD also unwatches.
    v(&mut c, &["WATCH", "k"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["DISCARD"]);
    v(&mut other, &["SET", "k", "again"]);
    v(&mut c, &["MULTI"]);
    v(&mut c, &["GET", "k"]);
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![bulk("again")]));
}

#[test]
fn watch_inside_multi_is_an_error() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    v(&mut c, &["MULTI"]);
    assert_eq!(err_text(q(&mut c, &["WATCH", "k"])), "ERR WATCH inside MULTI is not allowed");
    v(&mut c, &["SET", "k", "1"]);
    // The WATCH error does not abort the transaction (Redis flags it as a no-MULTI command).
    assert_eq!(v(&mut c, &["EXEC"]), Value::Array(vec![okay()]));
    assert_eq!(err_text(q(&mut c, &["WATCH"])), "ERR wrong number of arguments for 'watch' command");
}
