//! DUMP, RESTORE and MIGRATE between slotgate-node and Debian's redis-server 7.0: payloads of
//! every type and size class move both ways with identical contents, and MIGRATE honours COPY,
//! REPLACE, KEYS and AUTH like Redis's.

use slotgate_tests::{q, require_tool, Server};

/// Writes one key of every type and encoding class through `c`; returns the keys.
fn populate(c: &mut redis::Connection) -> Vec<String> {
    let cmds = slotgate_tests::every_type_commands();
    slotgate_tests::run_all(c, &cmds);
    let mut keys: Vec<String> = q(c, &["KEYS", "*"]).unwrap();
    keys.sort();
    let _: () = redis::cmd("PEXPIRE").arg("s:short").arg(100_000).query(c).unwrap();
    keys
}

/// A type-aware snapshot of a key, comparable across servers.
fn snapshot(c: &mut redis::Connection, key: &str) -> String {
    let (t, body) = slotgate_tests::value_snapshot(c, key);
    let ttl: i64 = q(c, &["PTTL", key]).unwrap();
    format!("{t} {body:?} ttl={}", if ttl > 0 { "yes" } else { "no" })
}

fn move_all(from: &mut redis::Connection, to: &mut redis::Connection, keys: &[String]) {
    for k in keys {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(k).query(from).unwrap();
        let ttl: i64 = q(from, &["PTTL", k]).unwrap();
        let () = redis::cmd("RESTORE").arg(k).arg(ttl.max(0)).arg(payload).query(to).unwrap();
        assert_eq!(snapshot(from, k), snapshot(to, k), "key {k}");
    }
}

#[test]
fn dump_payloads_move_both_ways_with_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    let (mut n, mut r) = (node.conn(), redis.conn());
    let keys = populate(&mut r);
    move_all(&mut r, &mut n, &keys);
    let _: () = redis::cmd("FLUSHALL").query(&mut r).unwrap();
    move_all(&mut n, &mut r, &keys);
}

#[test]
fn restore_errors_match_redis() {
    if !require_tool("redis-server") {
        return;
    }
    let (node, redis) = (Server::node(&[]), Server::redis(&[]));
    for server in [&node, &redis] {
        let mut c = server.conn();
        let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
        let payload: Vec<u8> = redis::cmd("DUMP").arg("k").query(&mut c).unwrap();
        let err = |r: redis::RedisResult<redis::Value>| r.unwrap_err().to_string();
        let busy = err(redis::cmd("RESTORE").arg("k").arg(0).arg(&payload).query(&mut c));
        assert!(busy.contains("BUSYKEY"), "{busy}");
        let mut bad = payload.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let wrong = err(redis::cmd("RESTORE").arg("k2").arg(0).arg(&bad).query(&mut c));
        assert!(wrong.contains("DUMP payload version or checksum are wrong"), "{wrong}");
        let neg = err(redis::cmd("RESTORE").arg("k2").arg(-1).arg(&payload).query(&mut c));
        assert!(neg.contains("Invalid TTL value"), "{neg}");
        let () = redis::cmd("RESTORE").arg("k").arg(0).arg(&payload).arg("REPLACE").query(&mut c).unwrap();
        let missing: Option<Vec<u8>> = redis::cmd("DUMP").arg("nope").query(&mut c).unwrap();
        assert_eq!(missing, None);
    }
}

#[test]
fn migrate_to_redis_and_back_with_copy_replace_keys_and_auth() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&["--requirepass", "s3cret"]);
    let mut n = node.conn();
    let mut r =
        redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", redis.port)).unwrap().get_connection().unwrap();
    let keys = populate(&mut n);
    let before: Vec<String> = keys.iter().map(|k| snapshot(&mut n, k)).collect();
    let port = redis.port.to_string();
    // Without AUTH the target refuses, and nothing is deleted here.
    let e: redis::RedisResult<String> = q(&mut n, &["MIGRATE", "127.0.0.1", &port, "s:int", "0", "5000"]);
    assert!(e.unwrap_err().to_string().contains("Target instance replied with error: NOAUTH"));
    assert_eq!(q::<i64>(&mut n, &["EXISTS", "s:int"]).unwrap(), 1);
    // COPY keeps the source.
    let ok: String =
        q(&mut n, &["MIGRATE", "127.0.0.1", &port, "s:int", "0", "5000", "COPY", "AUTH", "s3cret"]).unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(q::<i64>(&mut n, &["EXISTS", "s:int"]).unwrap(), 1);
    // The key now exists on the target: without REPLACE that is an error.
    let e: redis::RedisResult<String> =
        q(&mut n, &["MIGRATE", "127.0.0.1", &port, "s:int", "0", "5000", "AUTH", "s3cret"]);
    assert!(e.unwrap_err().to_string().contains("BUSYKEY"));
    let mut args: Vec<&str> =
        vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "REPLACE", "AUTH2", "default", "s3cret", "KEYS"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(q::<String>(&mut n, &args).unwrap(), "OK");
    assert_eq!(q::<i64>(&mut n, &["DBSIZE"]).unwrap(), 0);
    let after: Vec<String> = keys.iter().map(|k| snapshot(&mut r, k)).collect();
    assert_eq!(before, after);
    assert_eq!(q::<String>(&mut n, &["MIGRATE", "127.0.0.1", &port, "nope", "0", "5000"]).unwrap(), "NOKEY");
    // And back from Redis into slotgate.
    let node_port = node.port.to_string();
    let mut args: Vec<&str> = vec!["MIGRATE", "127.0.0.1", &node_port, "", "0", "5000", "KEYS"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(q::<String>(&mut r, &args).unwrap(), "OK");
    let back: Vec<String> = keys.iter().map(|k| snapshot(&mut n, k)).collect();
    assert_eq!(before, back);
    // An unreachable target.
    let closed = slotgate_tests::free_port().to_string();
    let e: redis::RedisResult<String> = q(&mut n, &["MIGRATE", "127.0.0.1", &closed, "s:int", "0", "500"]);
    assert!(e.unwrap_err().to_string().contains("IOERR"));
}
