//! Differential test: the same table of hash/list/set/zset command lines (edge cases and
//! error cases included) is run one by one against a fresh `slotgate-node` and a fresh Debian
//! `redis-server` 7.0, and every reply must be identical. Replies whose order Redis leaves
//! unspecified (SMEMBERS, HGETALL, ...) are compared as sorted collections. A RESP3 subset
//! checks reply shapes (maps, doubles, nulls) after `HELLO 3`.

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{require_tool, Server};

#[path = "differential/table.rs"]
mod table;
use table::table;

/// How a reply is normalised before comparison.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Order {
    /// Compared as is.
    Exact,
    /// A flat array compared as a sorted multiset of elements.
    Sorted,
    /// A flat array of (field, value) pairs (or a RESP3 map) compared as a sorted set of pairs.
    Pairs,
    /// A SCAN reply: the cursor as is, the elements sorted.
    ScanSorted,
    /// A SCAN reply whose elements are (field, value) pairs.
    ScanPairs,
}

fn order_of(line: &str) -> Order {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("").to_ascii_uppercase();
    let rest: Vec<String> = words.map(|w| w.to_ascii_uppercase()).collect();
    match name.as_str() {
        "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" | "HKEYS" | "HVALS" => Order::Sorted,
        "HGETALL" => Order::Pairs,
        "HRANDFIELD" if rest.iter().any(|w| w == "WITHVALUES") => Order::Pairs,
        "HRANDFIELD" | "SRANDMEMBER" | "SPOP" => Order::Sorted,
        "SSCAN" => Order::ScanSorted,
        "HSCAN" | "ZSCAN" => Order::ScanPairs,
        _ => Order::Exact,
    }
}

fn sort_values(v: &mut [Value]) {
    v.sort_by_key(|x| format!("{x:?}"));
}

fn normalise(v: Value, order: Order) -> Value {
    match (order, v) {
        (Order::Exact, v) => v,
        (Order::Sorted, Value::Array(mut items)) => {
            sort_values(&mut items);
            Value::Array(items)
        }
        (Order::Sorted, Value::Set(mut items)) => {
            sort_values(&mut items);
            Value::Set(items)
        }
        (Order::Pairs, Value::Array(items)) => {
            let mut pairs: Vec<Value> = items.chunks(2).map(|p| Value::Array(p.to_vec())).collect();
            sort_values(&mut pairs);
            Value::Array(pairs)
        }
        (Order::Pairs, Value::Map(items)) => {
            let mut pairs: Vec<Value> = items.into_iter().map(|(k, v)| Value::Array(vec![k, v])).collect();
            sort_values(&mut pairs);
            Value::Map(pairs.into_iter().map(|p| (p, Value::Nil)).collect())
        }
        (Order::ScanSorted, Value::Array(mut items)) if items.len() == 2 => {
            let inner = items.pop().unwrap();
            let cursor = items.pop().unwrap();
            Value::Array(vec![cursor, normalise(inner, Order::Sorted)])
        }
        (Order::ScanPairs, Value::Array(mut items)) if items.len() == 2 => {
            let inner = items.pop().unwrap();
            let cursor = items.pop().unwrap();
            Value::Array(vec![cursor, normalise(inner, Order::Pairs)])
        }
        (_, v) => v,
    }
}

/// Splits a table line on whitespace; `""` stands for an empty argument.
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(|w| if w == "\"\"" { String::new() } else { w.to_string() }).collect()
}

/// A reply in comparable form: the normalised value or the error's full text.
fn run(c: &mut redis::Connection, line: &str) -> Result<Value, String> {
    let w = words(line);
    let mut command = cmd(&w[0]);
    for a in &w[1..] {
        command.arg(a.as_str());
    }
    let r: RedisResult<Value> = command.query(c);
    match r {
        Ok(v) => Ok(normalise(v, order_of(line))),
        Err(e) => Err(format!("{:?} {} {}", e.kind(), e.code().unwrap_or(""), e.detail().unwrap_or(""))),
    }
}

/// Runs every line on both servers; returns the mismatches as printable text.
fn compare(lines: &[String], resp3: bool) -> Vec<String> {
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut a = node.conn();
    let mut b = redis.conn();
    if resp3 {
        let ha: RedisResult<Value> = cmd("HELLO").arg(3).query(&mut a);
        let hb: RedisResult<Value> = cmd("HELLO").arg(3).query(&mut b);
        assert!(ha.is_ok() && hb.is_ok(), "HELLO 3: node {ha:?}, redis {hb:?}");
    }
    let mut mismatches = Vec::new();
    for line in lines {
        let got = run(&mut a, line);
        let want = run(&mut b, line);
        if got != want {
            mismatches.push(format!("{line}\n    node:  {got:?}\n    redis: {want:?}"));
        }
    }
    mismatches
}

#[test]
fn same_replies_as_redis_resp2() {
    if !require_tool("redis-server") {
        return;
    }
    let lines = table();
    assert!(lines.len() >= 250, "table has {} lines", lines.len());
    let mismatches = compare(&lines, false);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn same_reply_shapes_as_redis_resp3() {
    if !require_tool("redis-server") {
        return;
    }
    let lines: Vec<String> = r#"
ZADD z 1 a 2.5 b 3 c inf d
ZRANGE z 0 -1 WITHSCORES
ZRANGE z 0 -1
ZRANGEBYSCORE z -inf +inf WITHSCORES
ZREVRANGE z 0 1 WITHSCORES
ZSCORE z b
ZSCORE z d
ZSCORE z nope
ZMSCORE z a nope
ZINCRBY z 1 a
ZADD z INCR 1 a
ZADD z NX INCR 1 a
ZUNION 1 z WITHSCORES
ZPOPMIN z 2
ZPOPMIN z
ZPOPMIN nokey
ZPOPMAX z 5
ZADD m 1 a 2 b 3 c
ZMPOP 1 m MIN COUNT 2
ZMPOP 1 nokey MIN
ZRANK z nope
HSET h f1 v1 f2 v2 n 5
HGETALL h
HGETALL nokey
HRANDFIELD h 0
HRANDFIELD h 0 WITHVALUES
HRANDFIELD nokey
HMGET h f1 nope
HINCRBYFLOAT h n 0.5
HGET h nope
LPUSH l a b
LPOP nokey
LPOP nokey 2
LMPOP 1 nokey LEFT
LPOS l zz
SADD s 1 2 3
SMEMBERS s
SMISMEMBER s 1 9
SPOP nokey
SRANDMEMBER nokey
ZRANDMEMBER nokey
"#
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .map(String::from)
    .collect();
    let mismatches = compare(&lines, true);
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
