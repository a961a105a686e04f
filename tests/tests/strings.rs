//! String commands through redis-rs, checked against Redis 7.0's documented replies.

use redis::{RedisResult, Value};
use slotgate_tests::q;
use slotgate_tests::Server;

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

#[test]
fn set_get_and_options() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v"]).unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["GET", "k"]).unwrap(), "v");
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "missing"]).unwrap(), None);
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "k", "v2", "NX"]).unwrap(), None);
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "new", "v", "XX"]).unwrap(), None);
    assert_eq!(q::<Option<String>>(&mut c, &["SET", "k", "v3", "GET"]).unwrap(), Some("v".into()));
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v4", "EX", "100"]).unwrap(), "OK");
    let ttl: i64 = q(&mut c, &["TTL", "k"]).unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v5", "KEEPTTL"]).unwrap(), "OK");
    assert!(q::<i64>(&mut c, &["TTL", "k"]).unwrap() > 0, "KEEPTTL keeps the TTL");
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v6"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).unwrap(), -1, "plain SET clears the TTL");
    assert_eq!(q::<String>(&mut c, &["SET", "k", "v", "PXAT", "1"]).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]).unwrap(), 0, "a past PXAT deletes");
    assert!(err_text(q(&mut c, &["SET", "k", "v", "EX", "0"])).contains("invalid expire time in 'set' command"));
    assert!(err_text(q(&mut c, &["SET", "k", "v", "EX", "abc"])).contains("value is not an integer or out of range"));
    assert!(err_text(q(&mut c, &["SET", "k", "v", "NX", "XX"])).contains("syntax error"));
    assert!(err_text(q(&mut c, &["SET", "k", "v", "EX", "10", "PX", "10"])).contains("syntax error"));
    assert!(err_text(q(&mut c, &["SET", "k"])).contains("wrong number of arguments for 'set' command"));
}

#[test]
fn counters() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(q::<i64>(&mut c, &["INCR", "n"]).unwrap(), 1);
    assert_eq!(q::<i64>(&mut c, &["INCRBY", "n", "41"]).unwrap(), 42);
    assert_eq!(q::<i64>(&mut c, &["DECR", "n"]).unwrap(), 41);
    assert_eq!(q::<i64>(&mut c, &["DECRBY", "n", "-9"]).unwrap(), 50);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "n"]).unwrap(), "int");
    q::<String>(&mut c, &["SET", "big", "9223372036854775807"]).unwrap();
    assert!(err_text(q(&mut c, &["INCR", "big"])).contains("increment or decrement would overflow"));
    q::<String>(&mut c, &["SET", "s", "abc"]).unwrap();
    assert!(err_text(q(&mut c, &["INCR", "s"])).contains("value is not an integer or out of range"));
    q::<String>(&mut c, &["SET", "s", " 1"]).unwrap();
    assert!(err_text(q(&mut c, &["INCR", "s"])).contains("not an integer"));
    q::<String>(&mut c, &["SET", "f", "10.50"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "f", "0.1"]).unwrap(), "10.6");
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "f", "-5"]).unwrap(), "5.6");
    q::<String>(&mut c, &["SET", "e", "5.0e3"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["INCRBYFLOAT", "e", "2.0e2"]).unwrap(), "5200");
    assert!(err_text(q(&mut c, &["INCRBYFLOAT", "f", "abc"])).contains("value is not a valid float"));
    assert!(err_text(q(&mut c, &["INCRBYFLOAT", "f", "inf"])).contains("increment would produce NaN or Infinity"));
    assert_eq!(q::<String>(&mut c, &["GET", "f"]).unwrap(), "5.6", "a failed increment changes nothing");
}

#[test]
fn multi_key_and_ranges() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(q::<String>(&mut c, &["MSET", "a", "1", "b", "2"]).unwrap(), "OK");
    let v: Vec<Option<String>> = q(&mut c, &["MGET", "a", "nope", "b"]).unwrap();
    assert_eq!(v, vec![Some("1".into()), None, Some("2".into())]);
    assert_eq!(q::<i64>(&mut c, &["MSETNX", "a", "x", "c", "3"]).unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "c"]).unwrap(), 0, "MSETNX is all or nothing");
    assert_eq!(q::<i64>(&mut c, &["MSETNX", "c", "3", "d", "4"]).unwrap(), 1);
    assert!(err_text(q(&mut c, &["MSET", "a", "1", "b"])).contains("wrong number of arguments for 'mset' command"));
    q::<String>(&mut c, &["SET", "s", "Hello World"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "s", "0", "4"]).unwrap(), "Hello");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "s", "-5", "-1"]).unwrap(), "World");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "s", "5", "2"]).unwrap(), "");
    assert_eq!(q::<String>(&mut c, &["GETRANGE", "s", "-1", "-5"]).unwrap(), "");
    assert_eq!(q::<String>(&mut c, &["SUBSTR", "s", "0", "100"]).unwrap(), "Hello World");
    assert_eq!(q::<i64>(&mut c, &["SETRANGE", "s", "6", "Redis"]).unwrap(), 11);
    assert_eq!(q::<String>(&mut c, &["GET", "s"]).unwrap(), "Hello Redis");
    assert_eq!(q::<i64>(&mut c, &["SETRANGE", "pad", "3", "x"]).unwrap(), 4);
    assert_eq!(q::<Vec<u8>>(&mut c, &["GET", "pad"]).unwrap(), b"\0\0\0x");
    assert_eq!(q::<i64>(&mut c, &["SETRANGE", "nokey", "5", ""]).unwrap(), 0);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "nokey"]).unwrap(), 0);
    assert!(err_text(q(&mut c, &["SETRANGE", "s", "-1", "x"])).contains("offset is out of range"));
    assert_eq!(q::<i64>(&mut c, &["APPEND", "ap", "Hello"]).unwrap(), 5);
    assert_eq!(q::<i64>(&mut c, &["APPEND", "ap", " World"]).unwrap(), 11);
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "ap"]).unwrap(), 11);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "ap"]).unwrap(), "raw");
    assert_eq!(q::<i64>(&mut c, &["STRLEN", "missing"]).unwrap(), 0);
}

#[test]
fn getset_getdel_getex_and_lcs() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(q::<Option<String>>(&mut c, &["GETSET", "k", "1"]).unwrap(), None);
    assert_eq!(q::<Option<String>>(&mut c, &["GETSET", "k", "2"]).unwrap(), Some("1".into()));
    assert_eq!(q::<Option<String>>(&mut c, &["GETDEL", "k"]).unwrap(), Some("2".into()));
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "k"]).unwrap(), 0);
    q::<String>(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["GETEX", "k", "PX", "50000"]).unwrap(), "v");
    assert!(q::<i64>(&mut c, &["PTTL", "k"]).unwrap() > 40000);
    assert_eq!(q::<String>(&mut c, &["GETEX", "k", "PERSIST"]).unwrap(), "v");
    assert_eq!(q::<i64>(&mut c, &["TTL", "k"]).unwrap(), -1);
    assert_eq!(q::<i64>(&mut c, &["SETNX", "k", "x"]).unwrap(), 0);
    assert_eq!(q::<String>(&mut c, &["SETEX", "t", "100", "x"]).unwrap(), "OK");
    assert!(err_text(q(&mut c, &["SETEX", "t", "-1", "x"])).contains("invalid expire time in 'setex' command"));
    assert_eq!(q::<String>(&mut c, &["PSETEX", "t", "100000", "x"]).unwrap(), "OK");
    q::<String>(&mut c, &["MSET", "key1", "ohmytext", "key2", "mynewtext"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["LCS", "key1", "key2"]).unwrap(), "mytext");
    assert_eq!(q::<i64>(&mut c, &["LCS", "key1", "key2", "LEN"]).unwrap(), 6);
    let idx: Value = q(&mut c, &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]).unwrap();
    let expected = Value::Array(vec![
        Value::BulkString(b"matches".to_vec()),
        Value::Array(vec![Value::Array(vec![
            Value::Array(vec![Value::Int(4), Value::Int(7)]),
            Value::Array(vec![Value::Int(5), Value::Int(8)]),
            Value::Int(4),
        ])]),
        Value::BulkString(b"len".to_vec()),
        Value::Int(6),
    ]);
    assert_eq!(idx, expected);
}

#[test]
fn integer_strings_behave_as_strings() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    // Integers are stored compactly but must read back and append like any string.
    q::<String>(&mut c, &["SET", "n", "12"]).unwrap();
    assert_eq!(q::<i64>(&mut c, &["APPEND", "n", "3"]).unwrap(), 3);
    assert_eq!(q::<i64>(&mut c, &["INCR", "n"]).unwrap(), 124);
}
