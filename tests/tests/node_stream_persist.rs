//! Streams across persistence: RDB files written by slotgate-node pass `redis-check-rdb` and load
//! into redis-server, redis-server's files load into slotgate-node, DUMP payloads RESTORE both
//! ways, and the AOF (propagated XCLAIM / XGROUP SETID forms) replays to the same groups.

use std::process::Command;

use redis::Value;
use std::time::Duration;

use slotgate_tests::{q, require_tool, scratch_dir, wait_until, Server};

/// Streams with several nodes, deletions, trimming, groups, pending entries and consumers.
fn populate(c: &mut redis::Connection) {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    for i in 1..=260u64 {
        let f = if i % 9 == 0 { "other" } else { "name" };
        cmds.push(w(&format!("XADD big {i}-{} {f} v{i} n {} x {}", i % 2, i * 7, "y".repeat(1 + (i % 30) as usize))));
    }
    for line in [
        "XDEL big 5-1 6-0 200-0",
        "XTRIM big MAXLEN ~ 200",
        "XGROUP CREATE big g1 0",
        "XGROUP CREATE big g2 $",
        "XGROUP CREATE big g3 100-0 ENTRIESREAD 50",
        "XREADGROUP GROUP g1 alice COUNT 5 STREAMS big >",
        "XREADGROUP GROUP g1 bob COUNT 3 STREAMS big >",
        "XREADGROUP GROUP g1 carol COUNT 2 NOACK STREAMS big >",
        "XACK big g1 101-1",
        "XCLAIM big g1 bob 0 102-0 TIME 1600000000000 RETRYCOUNT 4",
        "XGROUP CREATECONSUMER big g2 idle",
        "XREADGROUP GROUP g3 dave COUNT 2 STREAMS big >",
        "XDEL big 103-1",
        "XADD empty 1-0 f v",
        "XDEL empty 1-0",
        "XGROUP CREATE empty g $",
        "XADD moved 5-0 f v",
        "XSETID moved 99-0 ENTRIESADDED 10 MAXDELETEDID 7-0",
    ] {
        cmds.push(w(line));
    }
    for cmd in cmds {
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let _: Value = q(c, &args).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    }
}

/// Blanks absolute times the servers pick themselves (deliveries by XREADGROUP, seen-times).
fn mask(v: Value) -> Value {
    match v {
        Value::Int(n) if n > 1_650_000_000_000 => Value::Int(0),
        Value::Array(items) => Value::Array(items.into_iter().map(mask).collect()),
        v => v,
    }
}

/// Everything observable about the streams, times masked.
fn snapshot(c: &mut redis::Connection) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["big", "empty", "moved"] {
        for args in [
            vec!["XRANGE", key, "-", "+"],
            vec!["XINFO", "STREAM", key],
            vec!["XINFO", "STREAM", key, "FULL", "COUNT", "0"],
            vec!["XINFO", "GROUPS", key],
        ] {
            let v: Value = q(c, &args).unwrap();
            out.push(format!("{args:?} {:?}", mask(v)));
        }
    }
    for g in ["g1", "g2", "g3"] {
        let v: Value = q(c, &["XPENDING", "big", g]).unwrap();
        out.push(format!("XPENDING {g} {v:?}"));
        let v: Value = q(c, &["XINFO", "CONSUMERS", "big", g]).unwrap();
        // Names and pending counts (idle is the clock's).
        out.push(format!("CONSUMERS {g} {:?}", strip_idle(v)));
    }
    out
}

fn strip_idle(v: Value) -> Value {
    match v {
        Value::Array(items) if items.len() == 6 => Value::Array(items[..4].to_vec()),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_idle).collect()),
        v => v,
    }
}

/// The differing lines of two snapshots, for readable failures.
fn diff(got: &[String], want: &[String]) -> Vec<String> {
    let from = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count().saturating_sub(200);
    got.iter()
        .zip(want)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| {
            let at = from(a, b);
            format!("got:  ...{}\nwant: ...{}", &a[at..], &b[at..])
        })
        .collect()
}

#[test]
fn stream_rdb_files_load_both_ways() {
    if !require_tool("redis-server") || !require_tool("redis-check-rdb") {
        return;
    }
    // The same commands on both servers give the same observable streams.
    let node_dir = scratch_dir("stream-node");
    let node = Server::node_in(&node_dir, &[]);
    let mut nc = node.conn();
    populate(&mut nc);
    let expected = snapshot(&mut nc);
    let redis_dir = scratch_dir("stream-redis");
    let redis = Server::redis_in(&redis_dir, &[]);
    let mut rc = redis.conn();
    populate(&mut rc);
    assert_eq!(snapshot(&mut rc), expected, "the same commands on redis-server");

    // slotgate-node's file: redis-check-rdb accepts it, redis-server loads it.
    let _: String = q(&mut nc, &["SAVE"]).unwrap();
    slotgate_tests::run_tool("redis-check-rdb", &node_dir.join("dump.rdb"));
    let dir = scratch_dir("stream-node-to-redis");
    std::fs::copy(node_dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    let loaded = Server::redis_in(&dir, &[]);
    assert_eq!(snapshot(&mut loaded.conn()), expected, "redis-server loading slotgate-node's dump.rdb");
    // Appending after the load continues the same nodes on both.
    for c in [&mut nc, &mut loaded.conn()] {
        let _: String = q(c, &["XADD", "big", "1000-0", "name", "late"]).unwrap();
    }
    let a: Value = q(&mut nc, &["XINFO", "STREAM", "big"]).unwrap();
    let b: Value = q(&mut loaded.conn(), &["XINFO", "STREAM", "big"]).unwrap();
    assert_eq!(a, b);
    drop(loaded);

    // redis-server's file into slotgate-node.
    let _: String = q(&mut rc, &["SAVE"]).unwrap();
    let dir = scratch_dir("stream-redis-to-node");
    std::fs::copy(redis_dir.join("dump.rdb"), dir.join("dump.rdb")).unwrap();
    let loaded = Server::node_in(&dir, &[]);
    assert_eq!(snapshot(&mut loaded.conn()), expected, "slotgate-node loading redis-server's dump.rdb");
}

#[test]
fn stream_dump_restores_both_ways() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut nc, mut rc) = (node.conn(), redis.conn());
    populate(&mut nc);
    populate(&mut rc);
    let expected = snapshot(&mut nc);
    for key in ["big", "empty", "moved"] {
        let from_node: Vec<u8> = q(&mut nc, &["DUMP", key]).unwrap();
        let from_redis: Vec<u8> = q(&mut rc, &["DUMP", key]).unwrap();
        let restore = |c: &mut redis::Connection, payload: &[u8]| {
            let r: redis::RedisResult<String> =
                redis::cmd("RESTORE").arg(key).arg(0).arg(payload).arg("REPLACE").query(c);
            r.unwrap_or_else(|e| panic!("RESTORE {key}: {e}"))
        };
        restore(&mut rc, &from_node);
        restore(&mut nc, &from_redis);
    }
    assert_eq!(snapshot(&mut rc), expected, "redis-server restoring slotgate-node's DUMP");
    assert_eq!(snapshot(&mut nc), expected, "slotgate-node restoring redis-server's DUMP");
    // A corrupt payload is refused, not loaded.
    let mut bad: Vec<u8> = q(&mut nc, &["DUMP", "big"]).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 0x55;
    let r: redis::RedisResult<String> = redis::cmd("RESTORE").arg("x").arg(0).arg(bad).query(&mut nc);
    assert!(r.is_err());
    let t: String = q(&mut nc, &["TYPE", "big"]).unwrap();
    assert_eq!(t, "stream");
}

/// The AOF holds what the stream commands propagate (XCLAIM and XGROUP SETID forms for group
/// reads, exact trims); a restart replays it to the same streams, and so does a rewrite.
#[test]
fn stream_aof_replays_to_the_same_state() {
    let dir = scratch_dir("stream-aof");
    let node = Server::node_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.conn();
    populate(&mut c);
    let _: String = q(&mut c, &["XADD", "auto", "MAXLEN", "~", "5", "*", "f", "v"]).unwrap();
    let _: Value = q(&mut c, &["XAUTOCLAIM", "big", "g1", "zed", "0", "0", "COUNT", "3"]).unwrap();
    // As in Redis 7.0, acknowledged group reads log XCLAIMs without the read counter, so
    // entries-read and lag are compared blanked.
    let counters = |v: Vec<String>| v.iter().map(|l| without_read_counters(l)).collect::<Vec<_>>();
    let expected = counters(snapshot(&mut c));
    drop(c);
    drop(node);
    let node = Server::node_in(&dir, &["--appendonly", "yes"]);
    let mut c = node.conn();
    let got = counters(snapshot(&mut c));
    assert!(got == expected, "after replaying the AOF:\n{}", diff(&got, &expected).join("\n"));
    let _: String = q(&mut c, &["BGREWRITEAOF"]).unwrap();
    let done = wait_until(Duration::from_secs(10), || {
        let info: String = q(&mut c, &["INFO", "persistence"]).unwrap();
        info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1\r")
    });
    assert!(done, "the rewrite finished");
    drop(c);
    drop(node);
    let node = Server::node_in(&dir, &["--appendonly", "yes"]);
    let got = counters(snapshot(&mut node.conn()));
    assert!(got == expected, "after a rewrite:\n{}", diff(&got, &expected).join("\n"));
}

/// Blanks the value after `entries-read` and `lag` in a printed reply.
fn without_read_counters(line: &str) -> String {
    let mut out = line.to_string();
    for key in ["\"entries-read\"'), ", "\"lag\"'), "] {
        let mut from = 0;
        while let Some(at) = out[from..].find(key) {
            let start = from + at + key.len();
            let end = out[start..].find([',', ']']).map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "_");
            from = start;
        }
    }
    out
}

fn link_up(c: &mut redis::Connection) -> bool {
    let info: String = q(c, &["INFO", "replication"]).unwrap();
    info.contains("master_link_status:up")
}

/// What slotgate-node propagates for stream commands (XCLAIM and XGROUP SETID/CREATECONSUMER
/// forms for group reads and claims, explicit IDs and exact trims for XADD) applied by a
/// redis-server replica gives the master's streams.
#[test]
fn redis_server_replica_applies_stream_propagation() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let (mut m, mut r) = (node.conn(), redis.conn());
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &node.port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(20), || link_up(&mut r)), "redis-server did not sync");
    populate(&mut m);
    let _: String = q(&mut m, &["XADD", "auto", "MAXLEN", "~", "5", "*", "f", "v"]).unwrap();
    let _: Value = q(&mut m, &["XAUTOCLAIM", "big", "g1", "zed", "0", "0", "COUNT", "3"]).unwrap();
    // (A history read, XREADGROUP ... 0, is not propagated by Redis either: left out.)
    let _: Value =
        q(&mut m, &["XREADGROUP", "GROUP", "g3", "frank", "NOACK", "COUNT", "2", "STREAMS", "big", ">"]).unwrap();
    let _: Value = q(&mut m, &["XCLAIM", "big", "g1", "erin", "0", "103-1", "104-0", "LASTID", "150-0"]).unwrap();
    assert_eq!(q::<i64>(&mut m, &["WAIT", "1", "5000"]).unwrap(), 1);
    // Redis 7.0 does not propagate the read counter of acknowledged group reads (the XCLAIMs
    // carry only LASTID), so a replica's entries-read and lag may differ: compare without them.
    let want: Vec<String> = snapshot(&mut m).iter().map(|l| without_read_counters(l)).collect();
    let got: Vec<String> = snapshot(&mut r).iter().map(|l| without_read_counters(l)).collect();
    assert!(got == want, "replica differs:\n{}", diff(&got, &want).join("\n"));
}

/// The replication stream a server sends for `cmds`, read with `redis-cli --replica`, with the
/// delivery times (TIME arguments) blanked and pings left out.
fn replication_stream(server: &Server, cmds: &[&str]) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    // Line-buffered, so lines arrive as the stream does.
    let mut child = Command::new("stdbuf")
        .args(["-oL", "redis-cli", "-p", &server.port.to_string(), "--replica"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Progress messages come on stderr, the stream on stdout: both feed one channel.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx2.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
        if line.contains("Logging commands") {
            break;
        }
    }
    let mut c = server.conn();
    for cmd in cmds {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        let _: Value = q(&mut c, &args).unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }
    // A marker write ends the part of the stream we compare.
    let _: () = q(&mut c, &["SET", "end", "1"]).unwrap();
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        if line.contains("\"end\"") {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if line.starts_with('"') && !lower.starts_with("\"ping\"") && !lower.starts_with("\"select\"") {
            let mut parts: Vec<String> = line.split(',').map(String::from).collect();
            for i in 1..parts.len() {
                if parts[i - 1] == "\"TIME\"" {
                    parts[i] = "\"<time>\"".into();
                }
            }
            lines.push(parts.join(","));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

/// What slotgate-node propagates for stream commands is, command for command, what redis-server
/// 7.0 propagates (times aside).
#[test]
fn propagation_matches_redis_server() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let cmds = [
        "XGROUP CREATE s g 0 MKSTREAM",
        "XADD s 1-0 a 1",
        "XADD s 2-* a 2",
        "XADD s MAXLEN ~ 1 3-0 a 3",
        "XREADGROUP GROUP g n1 NOACK COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g n1 NOACK COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g n2 COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g n2 STREAMS s 0",
        "XADD s 4-0 a 4",
        "XDEL s 4-0",
        "XREADGROUP GROUP g n3 STREAMS s 0",
        "XGROUP SETID s g 0",
        "XREADGROUP GROUP g n4 COUNT 5 STREAMS s >",
        "XCLAIM s g n5 0 1-0 2-0 RETRYCOUNT 9",
        "XCLAIM s g n5 0 9-0 LASTID 9-0",
        "XCLAIM s g n6 0 3-0 TIME 1000 JUSTID",
        "XDEL s 2-0",
        "XAUTOCLAIM s g n7 0 0 COUNT 10",
        "XACK s g 3-0",
        "XGROUP CREATECONSUMER s g n8",
        "XGROUP DELCONSUMER s g n8",
        "XTRIM s MAXLEN 0",
        "XSETID s 20-0 ENTRIESADDED 30 MAXDELETEDID 10-0",
        "XGROUP DESTROY s g",
    ];
    let node = Server::node(&[]);
    let redis = Server::redis(&["--repl-diskless-sync-delay", "0"]);
    let got = replication_stream(&node, &cmds);
    let want = replication_stream(&redis, &cmds);
    assert!(!want.is_empty());
    assert_eq!(got, want);
}
