//! Hash, list, set and sorted-set commands through redis-rs, checked against Redis 7.0's
//! documented replies and error texts: full SCAN iteration, encoding switches, empty
//! collections disappearing, WRONGTYPE for every family, and a 200,000-member sorted set
//! whose ranks must come out right.

use std::collections::{BTreeSet, HashMap, HashSet};

use redis::{RedisResult, Value};
use slotgate_tests::q;
use slotgate_tests::Server;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn err_text(r: RedisResult<Value>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    q::<i64>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn strs(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    q::<Vec<String>>(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn hashes() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["HSET", "h", "a", "1", "b", "2"]), 2);
    assert_eq!(int(&mut c, &["HSET", "h", "a", "10", "c", "3"]), 1, "only new fields count");
    assert_eq!(q::<String>(&mut c, &["HGET", "h", "a"]).unwrap(), "10");
    assert_eq!(q::<Option<String>>(&mut c, &["HGET", "h", "zz"]).unwrap(), None);
    let v: Vec<Option<String>> = q(&mut c, &["HMGET", "h", "a", "zz", "c"]).unwrap();
    assert_eq!(v, vec![Some("10".into()), None, Some("3".into())]);
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all["b"], "2");
    assert_eq!(int(&mut c, &["HEXISTS", "h", "a"]), 1);
    assert_eq!(int(&mut c, &["HEXISTS", "h", "zz"]), 0);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 3);
    assert_eq!(sorted(strs(&mut c, &["HKEYS", "h"])), s(&["a", "b", "c"]));
    assert_eq!(sorted(strs(&mut c, &["HVALS", "h"])), s(&["10", "2", "3"]));
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "a"]), 2);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "zz"]), 0);
    assert_eq!(int(&mut c, &["HINCRBY", "h", "a", "5"]), 15);
    assert_eq!(int(&mut c, &["HINCRBY", "h", "new", "-3"]), -3);
    q::<()>(&mut c, &["HSET", "h", "txt", "abc"]).unwrap();
    assert_eq!(err_text(q(&mut c, &["HINCRBY", "h", "txt", "1"])), "ERR hash value is not an integer");
    assert_eq!(err_text(q(&mut c, &["HINCRBY", "h", "a", "x"])), "ERR value is not an integer or out of range");
    assert_eq!(
        err_text(q(&mut c, &["HINCRBY", "h", "a", "9223372036854775807"])),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(q::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "10.5"]).unwrap(), "10.5");
    assert_eq!(q::<String>(&mut c, &["HINCRBYFLOAT", "h", "f", "0.1"]).unwrap(), "10.6");
    assert_eq!(q::<String>(&mut c, &["HINCRBYFLOAT", "h", "a", "-5"]).unwrap(), "10");
    assert_eq!(err_text(q(&mut c, &["HINCRBYFLOAT", "h", "txt", "1"])), "ERR hash value is not a float");
    assert_eq!(err_text(q(&mut c, &["HINCRBYFLOAT", "h", "f", "x"])), "ERR value is not a valid float");
    assert_eq!(int(&mut c, &["HSETNX", "h", "a", "x"]), 0);
    assert_eq!(int(&mut c, &["HDEL", "h", "a", "zz", "a"]), 1);

    // HRANDFIELD: positive counts are distinct and capped, negative counts may repeat.
    let fields: HashSet<String> = strs(&mut c, &["HKEYS", "h"]).into_iter().collect();
    let n = fields.len();
    let one: String = q(&mut c, &["HRANDFIELD", "h"]).unwrap();
    assert!(fields.contains(&one));
    let pos = strs(&mut c, &["HRANDFIELD", "h", "3"]);
    assert_eq!(pos.len(), 3);
    assert_eq!(pos.iter().collect::<HashSet<_>>().len(), 3, "positive count gives distinct fields");
    assert!(pos.iter().all(|f| fields.contains(f)));
    let capped = strs(&mut c, &["HRANDFIELD", "h", "100"]);
    assert_eq!(capped.into_iter().collect::<HashSet<_>>(), fields);
    let neg = strs(&mut c, &["HRANDFIELD", "h", "-20"]);
    assert_eq!(neg.len(), 20, "negative count returns exactly |count|");
    assert!(neg.iter().all(|f| fields.contains(f)));
    let wv = strs(&mut c, &["HRANDFIELD", "h", "-4", "WITHVALUES"]);
    assert_eq!(wv.len(), 8);
    assert!(strs(&mut c, &["HRANDFIELD", "h", "0"]).is_empty());
    assert_eq!(q::<Option<String>>(&mut c, &["HRANDFIELD", "nokey"]).unwrap(), None);
    assert!(n >= 4);

    // HSCAN over 1000 fields (past the listpack limit) returns every field at least once.
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..1000 {
        args.push(format!("field:{i}"));
        args.push(format!("v{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &refs), 1000);
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    for round in 0.. {
        assert!(round < 10_000, "HSCAN did not finish");
        let (next, items): (String, Vec<String>) = q(&mut c, &["HSCAN", "big", &cursor, "COUNT", "50"]).unwrap();
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen["field:777"], "v777");

    // Removing the last field removes the key.
    q::<()>(&mut c, &["HSET", "tiny", "x", "1"]).unwrap();
    assert_eq!(int(&mut c, &["HDEL", "tiny", "x"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "tiny"]), 0);
}

#[test]
fn lists() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["RPUSH", "l", "a", "b", "c"]), 3);
    assert_eq!(int(&mut c, &["LPUSH", "l", "y", "z"]), 5);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "0", "-1"]), s(&["z", "y", "a", "b", "c"]));
    assert_eq!(strs(&mut c, &["LRANGE", "l", "-2", "-1"]), s(&["b", "c"]));
    assert_eq!(strs(&mut c, &["LRANGE", "l", "-100", "1"]), s(&["z", "y"]));
    assert!(strs(&mut c, &["LRANGE", "l", "3", "1"]).is_empty());
    assert_eq!(int(&mut c, &["LPUSHX", "nolist", "a"]), 0);
    assert_eq!(int(&mut c, &["RPUSHX", "l", "d"]), 6);
    assert_eq!(int(&mut c, &["LLEN", "l"]), 6);
    assert_eq!(q::<String>(&mut c, &["LINDEX", "l", "-1"]).unwrap(), "d");
    assert_eq!(q::<Option<String>>(&mut c, &["LINDEX", "l", "99"]).unwrap(), None);
    assert_eq!(q::<String>(&mut c, &["LSET", "l", "-2", "C"]).unwrap(), "OK");
    assert_eq!(err_text(q(&mut c, &["LSET", "l", "99", "x"])), "ERR index out of range");
    assert_eq!(err_text(q(&mut c, &["LSET", "nolist", "0", "x"])), "ERR no such key");
    assert_eq!(int(&mut c, &["LINSERT", "l", "BEFORE", "a", "A"]), 7);
    assert_eq!(int(&mut c, &["LINSERT", "l", "AFTER", "nope", "x"]), -1);
    assert_eq!(int(&mut c, &["LINSERT", "nolist", "AFTER", "a", "x"]), 0);
    assert_eq!(strs(&mut c, &["LRANGE", "l", "0", "-1"]), s(&["z", "y", "A", "a", "b", "C", "d"]));
    assert_eq!(q::<String>(&mut c, &["LPOP", "l"]).unwrap(), "z");
    assert_eq!(strs(&mut c, &["RPOP", "l", "2"]), s(&["d", "C"]));
    assert_eq!(strs(&mut c, &["LPOP", "l", "2"]), s(&["y", "A"]));
    assert_eq!(q::<Option<Vec<String>>>(&mut c, &["LPOP", "nolist", "2"]).unwrap(), None);

    // LPOS
    q::<()>(&mut c, &["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"]).unwrap();
    assert_eq!(int(&mut c, &["LPOS", "p", "c"]), 2);
    assert_eq!(int(&mut c, &["LPOS", "p", "c", "RANK", "2"]), 6);
    assert_eq!(int(&mut c, &["LPOS", "p", "c", "RANK", "-1"]), 7);
    assert_eq!(q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "COUNT", "2"]).unwrap(), vec![2, 6]);
    assert_eq!(q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "COUNT", "0"]).unwrap(), vec![2, 6, 7]);
    assert_eq!(q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "RANK", "-1", "COUNT", "2"]).unwrap(), vec![7, 6]);
    assert_eq!(q::<Vec<i64>>(&mut c, &["LPOS", "p", "c", "COUNT", "0", "MAXLEN", "3"]).unwrap(), vec![2]);
    assert_eq!(q::<Option<i64>>(&mut c, &["LPOS", "p", "x"]).unwrap(), None);
    assert!(err_text(q(&mut c, &["LPOS", "p", "c", "RANK", "0"])).starts_with("ERR RANK can't be zero"));
    assert_eq!(err_text(q(&mut c, &["LPOS", "p", "c", "COUNT", "-1"])), "ERR COUNT can't be negative");
    assert_eq!(err_text(q(&mut c, &["LPOS", "p", "c", "MAXLEN", "-1"])), "ERR MAXLEN can't be negative");
    assert_eq!(err_text(q(&mut c, &["LPOS", "p", "c", "BOGUS", "1"])), "ERR syntax error");

    // LREM with positive, negative and zero counts; LTRIM.
    q::<()>(&mut c, &["RPUSH", "r", "x", "a", "x", "b", "x", "c", "x"]).unwrap();
    assert_eq!(int(&mut c, &["LREM", "r", "2", "x"]), 2);
    assert_eq!(strs(&mut c, &["LRANGE", "r", "0", "-1"]), s(&["a", "b", "x", "c", "x"]));
    assert_eq!(int(&mut c, &["LREM", "r", "-1", "x"]), 1);
    assert_eq!(strs(&mut c, &["LRANGE", "r", "0", "-1"]), s(&["a", "b", "x", "c"]));
    assert_eq!(int(&mut c, &["LREM", "r", "0", "x"]), 1);
    assert_eq!(q::<String>(&mut c, &["LTRIM", "r", "1", "-1"]).unwrap(), "OK");
    assert_eq!(strs(&mut c, &["LRANGE", "r", "0", "-1"]), s(&["b", "c"]));
    q::<()>(&mut c, &["LTRIM", "r", "5", "1"]).unwrap();
    assert_eq!(int(&mut c, &["EXISTS", "r"]), 0, "LTRIM to nothing deletes the key");

    // LMOVE / RPOPLPUSH / LMPOP
    q::<()>(&mut c, &["RPUSH", "src", "1", "2", "3"]).unwrap();
    assert_eq!(q::<String>(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]).unwrap(), "1");
    assert_eq!(q::<String>(&mut c, &["RPOPLPUSH", "src", "dst"]).unwrap(), "3");
    assert_eq!(strs(&mut c, &["LRANGE", "dst", "0", "-1"]), s(&["3", "1"]));
    assert_eq!(q::<String>(&mut c, &["LMOVE", "dst", "dst", "LEFT", "RIGHT"]).unwrap(), "3");
    assert_eq!(strs(&mut c, &["LRANGE", "dst", "0", "-1"]), s(&["1", "3"]));
    let (k, v): (String, Vec<String>) = q(&mut c, &["LMPOP", "2", "nolist", "dst", "RIGHT", "COUNT", "5"]).unwrap();
    assert_eq!((k.as_str(), v), ("dst", s(&["3", "1"])));
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);
    assert_eq!(q::<Value>(&mut c, &["LMPOP", "1", "dst", "LEFT"]).unwrap(), Value::Nil);
    assert_eq!(err_text(q(&mut c, &["LMPOP", "0", "dst", "LEFT"])), "ERR numkeys should be greater than 0");
    assert_eq!(err_text(q(&mut c, &["LMPOP", "1", "src", "LEFT", "COUNT", "0"])), "ERR count should be greater than 0");
    assert_eq!(q::<String>(&mut c, &["LPOP", "src"]).unwrap(), "2");
    assert_eq!(int(&mut c, &["EXISTS", "src"]), 0, "popping the last element deletes the list");
}

#[test]
fn sets() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["SADD", "s", "3", "1", "2", "2"]), 3);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(), "intset");
    assert_eq!(strs(&mut c, &["SMEMBERS", "s"]), s(&["1", "2", "3"]), "intsets are sorted");
    assert_eq!(int(&mut c, &["SADD", "s", "x"]), 1);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "s"]).unwrap(), "hashtable");
    let mut args: Vec<String> = vec!["SADD".into(), "ints".into()];
    args.extend((0..512).map(|i| i.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &refs), 512);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]).unwrap(), "intset");
    assert_eq!(int(&mut c, &["SADD", "ints", "512"]), 1);
    assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", "ints"]).unwrap(), "hashtable", "past 512 entries");

    assert_eq!(int(&mut c, &["SISMEMBER", "s", "x"]), 1);
    assert_eq!(q::<Vec<i64>>(&mut c, &["SMISMEMBER", "s", "1", "nope", "x"]).unwrap(), vec![1, 0, 1]);
    assert_eq!(int(&mut c, &["SCARD", "s"]), 4);
    assert_eq!(int(&mut c, &["SREM", "s", "x", "nope"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "s", "t", "1"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "s", "t", "1"]), 0);
    q::<()>(&mut c, &["SADD", "a", "1", "2", "3", "4"]).unwrap();
    q::<()>(&mut c, &["SADD", "b", "3", "4", "5"]).unwrap();
    assert_eq!(sorted(strs(&mut c, &["SINTER", "a", "b"])), s(&["3", "4"]));
    assert_eq!(sorted(strs(&mut c, &["SUNION", "a", "b"])), s(&["1", "2", "3", "4", "5"]));
    assert_eq!(sorted(strs(&mut c, &["SDIFF", "a", "b"])), s(&["1", "2"]));
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "b"]), 2);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]), 1);
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "b"]), 2);
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "nokey"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0, "an empty SINTERSTORE result deletes the destination");
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "a", "b"]), 5);
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "a", "a"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0, "an empty SDIFFSTORE result deletes the destination");
    q::<()>(&mut c, &["SET", "d", "string"]).unwrap();
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "nokey"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0, "even a destination of another type");

    let popped: String = q(&mut c, &["SPOP", "b"]).unwrap();
    assert!(["3", "4", "5"].contains(&popped.as_str()));
    let rest = strs(&mut c, &["SPOP", "b", "10"]);
    assert_eq!(rest.len(), 2);
    assert_eq!(int(&mut c, &["EXISTS", "b"]), 0, "popping everything deletes the set");
    let r = strs(&mut c, &["SRANDMEMBER", "a", "-10"]);
    assert_eq!(r.len(), 10);
    assert!(r.iter().all(|m| ["1", "2", "3", "4"].contains(&m.as_str())));
    assert_eq!(strs(&mut c, &["SRANDMEMBER", "a", "10"]).len(), 4);

    // SSCAN over a 1000-member set.
    let mut args: Vec<String> = vec!["SADD".into(), "big".into()];
    args.extend((0..1000).map(|i| format!("m{i}")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &refs), 1000);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    for round in 0.. {
        assert!(round < 10_000, "SSCAN did not finish");
        let (next, items): (String, Vec<String>) = q(&mut c, &["SSCAN", "big", &cursor]).unwrap();
        seen.extend(items);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(int(&mut c, &["SREM", "t", "1"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "t"]), 0);
}

#[test]
fn sorted_sets() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    assert_eq!(int(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]), 3);
    assert_eq!(int(&mut c, &["ZADD", "z", "NX", "10", "a", "4", "d"]), 1);
    assert_eq!(int(&mut c, &["ZADD", "z", "XX", "CH", "5", "a", "9", "zz"]), 1);
    assert_eq!(int(&mut c, &["ZADD", "z", "GT", "CH", "4", "a"]), 0, "GT never lowers");
    assert_eq!(int(&mut c, &["ZADD", "z", "LT", "CH", "0", "a"]), 1);
    assert_eq!(q::<String>(&mut c, &["ZADD", "z", "INCR", "1.5", "a"]).unwrap(), "1.5");
    assert_eq!(q::<Option<String>>(&mut c, &["ZADD", "z", "NX", "INCR", "1", "a"]).unwrap(), None);
    assert_eq!(
        err_text(q(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"])),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        err_text(q(&mut c, &["ZADD", "z", "GT", "LT", "1", "a"])),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err_text(q(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"])),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(err_text(q(&mut c, &["ZADD", "z", "x", "a"])), "ERR value is not a valid float");
    // z: a=1.5 b=2 c=3 d=4
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]), s(&["a", "1.5", "b", "2", "c", "3", "d", "4"]));
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "-2", "-1", "REV"]), s(&["b", "a"]));
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "(2", "+inf", "BYSCORE"]), s(&["c", "d"]));
    assert_eq!(strs(&mut c, &["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"]), s(&["c", "b"]));
    assert_eq!(strs(&mut c, &["ZRANGEBYSCORE", "z", "(1.5", "(4"]), s(&["b", "c"]));
    assert_eq!(strs(&mut c, &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "3", "10"]), s(&["d"]));
    assert_eq!(strs(&mut c, &["ZREVRANGEBYSCORE", "z", "3", "(1.5", "WITHSCORES"]), s(&["c", "3", "b", "2"]));
    assert_eq!(int(&mut c, &["ZCOUNT", "z", "(2", "4"]), 2);
    assert_eq!(int(&mut c, &["ZRANK", "z", "c"]), 2);
    assert_eq!(int(&mut c, &["ZREVRANK", "z", "c"]), 1);
    assert_eq!(q::<Option<i64>>(&mut c, &["ZRANK", "z", "nope"]).unwrap(), None);
    let ms: Vec<Option<f64>> = q(&mut c, &["ZMSCORE", "z", "a", "nope", "d"]).unwrap();
    assert_eq!(ms, vec![Some(1.5), None, Some(4.0)]);

    q::<()>(&mut c, &["ZADD", "lx", "0", "a", "0", "b", "0", "c", "0", "d"]).unwrap();
    assert_eq!(strs(&mut c, &["ZRANGE", "lx", "[b", "(d", "BYLEX"]), s(&["b", "c"]));
    assert_eq!(strs(&mut c, &["ZRANGE", "lx", "+", "-", "BYLEX", "REV", "LIMIT", "0", "2"]), s(&["d", "c"]));
    assert_eq!(int(&mut c, &["ZLEXCOUNT", "lx", "(a", "+"]), 3);
    assert_eq!(err_text(q(&mut c, &["ZRANGEBYLEX", "lx", "a", "b"])), "ERR min or max not valid string range item");
    assert_eq!(int(&mut c, &["ZRANGESTORE", "dst", "z", "1", "2"]), 2);
    assert_eq!(strs(&mut c, &["ZRANGE", "dst", "0", "-1"]), s(&["b", "c"]));
    assert_eq!(int(&mut c, &["ZRANGESTORE", "dst", "z", "10", "20"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "dst"]), 0);

    q::<()>(&mut c, &["ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"]).unwrap();
    assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", "r", "(1", "2"]), 1);
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "r", "-1", "-1"]), 1);
    assert_eq!(int(&mut c, &["ZREMRANGEBYLEX", "lx", "[a", "[b"]), 2);
    assert_eq!(strs(&mut c, &["ZRANGE", "r", "0", "-1"]), s(&["a", "c", "d"]));
    assert_eq!(strs(&mut c, &["ZPOPMIN", "r"]), s(&["a", "1"]));
    assert_eq!(strs(&mut c, &["ZPOPMAX", "r", "5"]), s(&["d", "4", "c", "3"]));
    assert_eq!(int(&mut c, &["EXISTS", "r"]), 0, "popping the last member deletes the zset");
    let (k, v): (String, Vec<(String, f64)>) = q(&mut c, &["ZMPOP", "2", "r", "z", "MAX", "COUNT", "2"]).unwrap();
    assert_eq!(k, "z");
    assert_eq!(v, vec![("d".to_string(), 4.0), ("c".to_string(), 3.0)]);

    // ZRANDMEMBER
    let members: HashSet<String> = strs(&mut c, &["ZRANGE", "z", "0", "-1"]).into_iter().collect();
    let r = strs(&mut c, &["ZRANDMEMBER", "z", "-7"]);
    assert_eq!(r.len(), 7);
    assert!(r.iter().all(|m| members.contains(m)));
    assert_eq!(strs(&mut c, &["ZRANDMEMBER", "z", "9"]).into_iter().collect::<HashSet<_>>(), members);
    assert_eq!(strs(&mut c, &["ZRANDMEMBER", "z", "1", "WITHSCORES"]).len(), 2);

    // Set operations with weights and aggregates; a plain set counts with score 1.
    q::<()>(&mut c, &["ZADD", "z1", "1", "a", "2", "b", "3", "c"]).unwrap();
    q::<()>(&mut c, &["ZADD", "z2", "10", "b", "20", "c", "30", "d"]).unwrap();
    q::<()>(&mut c, &["SADD", "plain", "a", "x"]).unwrap();
    assert_eq!(
        strs(&mut c, &["ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "1", "WITHSCORES"]),
        s(&["a", "2", "b", "14", "c", "26", "d", "30"])
    );
    assert_eq!(
        strs(&mut c, &["ZINTER", "2", "z1", "z2", "AGGREGATE", "MAX", "WITHSCORES"]),
        s(&["b", "10", "c", "20"])
    );
    assert_eq!(strs(&mut c, &["ZDIFF", "2", "z1", "z2", "WITHSCORES"]), s(&["a", "1"]));
    assert_eq!(int(&mut c, &["ZUNIONSTORE", "u", "2", "z1", "plain"]), 4);
    assert_eq!(strs(&mut c, &["ZRANGE", "u", "0", "-1", "WITHSCORES"]), s(&["x", "1", "a", "2", "b", "2", "c", "3"]));
    assert_eq!(int(&mut c, &["ZINTERSTORE", "u", "2", "z1", "nokey"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "u"]), 0);
    assert_eq!(int(&mut c, &["ZINTERCARD", "2", "z1", "z2"]), 2);
    assert_eq!(int(&mut c, &["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"]), 1);

    // ZSCAN over 1000 members.
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..1000 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(&mut c, &refs), 1000);
    let mut seen = HashMap::new();
    let mut cursor = "0".to_string();
    for round in 0.. {
        assert!(round < 10_000, "ZSCAN did not finish");
        let (next, items): (String, Vec<String>) = q(&mut c, &["ZSCAN", "big", &cursor, "COUNT", "30"]).unwrap();
        for p in items.chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen["m999"], "999");
    assert_eq!(int(&mut c, &["ZREM", "z1", "a", "b", "c"]), 3);
    assert_eq!(int(&mut c, &["EXISTS", "z1"]), 0);
}

#[test]
fn wrongtype_for_every_family() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "str", "v"]).unwrap();
    q::<()>(&mut c, &["RPUSH", "list", "v"]).unwrap();
    let cases: &[&[&str]] = &[
        &["HSET", "str", "f", "v"],
        &["HGET", "list", "f"],
        &["HGETALL", "str"],
        &["HINCRBY", "str", "f", "1"],
        &["HSCAN", "str", "0"],
        &["LPUSH", "str", "x"],
        &["LRANGE", "str", "0", "-1"],
        &["LPOS", "str", "x"],
        &["LMOVE", "list", "str", "LEFT", "LEFT"],
        &["SADD", "str", "x"],
        &["SMEMBERS", "list"],
        &["SINTER", "str"],
        &["SINTERCARD", "1", "str"],
        &["ZADD", "str", "1", "x"],
        &["ZRANGE", "list", "0", "-1"],
        &["ZSCORE", "str", "x"],
        &["ZUNIONSTORE", "d", "1", "str"],
        &["GET", "list"],
        &["INCR", "list"],
        &["DECRBY", "list", "2"],
    ];
    for args in cases {
        assert_eq!(err_text(q(&mut c, args)), WRONGTYPE, "{args:?}");
    }
    assert_eq!(q::<String>(&mut c, &["GET", "str"]).unwrap(), "v", "failed writes leave the value alone");
}

/// ZRANK and ZRANGE by rank on 200,000 members must be right (and, through the skip list,
/// fast enough that 2,000 calls finish at all in a debug build).
#[test]
fn zset_rank_scales() {
    let node = Server::node(&[]);
    let mut c = node.conn();
    const N: u64 = 200_000;
    for chunk in 0..(N / 10_000) {
        let mut pipe = redis::pipe();
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            // Scores are a permutation of 0..N so the expected rank is known: score(i) = (i * 7919) % N.
            pipe.cmd("ZADD").arg("big").arg((i * 7919) % N).arg(format!("m{i}")).ignore();
        }
        pipe.query::<()>(&mut c).unwrap();
    }
    assert_eq!(int(&mut c, &["ZCARD", "big"]), N as i64);
    let mut pipe = redis::pipe();
    let probes: Vec<u64> = (0..2000u64).map(|k| (k * 104_729) % N).collect();
    for i in &probes {
        pipe.cmd("ZRANK").arg("big").arg(format!("m{i}"));
    }
    let ranks: Vec<i64> = pipe.query(&mut c).unwrap();
    for (i, r) in probes.iter().zip(&ranks) {
        assert_eq!(*r as u64, (i * 7919) % N, "rank of m{i}");
    }
    for rank in [0u64, 1, 99_999, 150_001, N - 1] {
        let got: Vec<(String, f64)> =
            q(&mut c, &["ZRANGE", "big", &rank.to_string(), &rank.to_string(), "WITHSCORES"]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1 as u64, rank);
        // The member with score `rank` is i = rank * inverse(7919) mod N; check it maps back.
        let i: u64 = got[0].0[1..].parse().unwrap();
        assert_eq!((i * 7919) % N, rank);
    }
    let top: Vec<String> = strs(&mut c, &["ZREVRANGE", "big", "0", "2"]);
    let top_ranks: BTreeSet<i64> = top.iter().map(|m| int(&mut c, &["ZREVRANK", "big", m])).collect();
    assert_eq!(top_ranks, BTreeSet::from([0, 1, 2]));
}
