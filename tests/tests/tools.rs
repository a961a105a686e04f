//! The real Redis tools against slotgate: redis-cli (commands, `--pipe` mass insertion,
//! `--scan`), redis-benchmark (pipelined and not), and maxmemory eviction policies observed
//! through INFO.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult};
use slotgate_tests::{q, require_tool, Server};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits (bounded) for a child and collects its output; kills it on timeout.
fn finish(mut child: Child, timeout: Duration, what: &str) -> Output {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "{what} did not finish within {timeout:?}; stdout: {} stderr: {}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn info_num(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    let text: String = q(c, &["INFO", section]).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no numeric {field}:\n{text}"))
}

#[test]
fn redis_cli_commands_pipe_and_scan() {
    if !require_tool("redis-cli") {
        return;
    }
    let node = Server::node(&[]);
    assert_eq!(stdout(&node.cli(&["SET", "greeting", "hello world"])), "OK\n");
    assert_eq!(stdout(&node.cli(&["GET", "greeting"])), "hello world\n");
    assert_eq!(stdout(&node.cli(&["INCR", "counter"])), "1\n");
    assert_eq!(stdout(&node.cli(&["INCR", "counter"])), "2\n");
    assert_eq!(stdout(&node.cli(&["GET", "nothing"])), "\n");
    let out = node.cli(&["NOSUCH", "x"]);
    assert!(stdout(&out).contains("ERR unknown command 'NOSUCH'"), "{}", stdout(&out));
    assert_eq!(stdout(&node.cli(&["DEL", "greeting", "counter"])), "2\n");

    // Mass insertion, inline commands through --pipe.
    let mut input = String::new();
    for i in 0..10_000 {
        input.push_str(&format!("SET k:{i} value-{i}\r\n"));
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &node.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli --pipe");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = finish(child, Duration::from_secs(60), "redis-cli --pipe");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 10000"), "{text}");
    assert_eq!(stdout(&node.cli(&["DBSIZE"])), "10000\n");
    assert_eq!(stdout(&node.cli(&["GET", "k:1234"])), "value-1234\n");

    let out = node.cli(&["--scan", "--pattern", "k:1*"]);
    assert!(out.status.success());
    let scanned: std::collections::HashSet<String> = stdout(&out).lines().map(str::to_string).collect();
    let mut c = node.conn();
    let keys: Vec<String> = q(&mut c, &["KEYS", "k:1*"]).unwrap();
    assert_eq!(keys.len(), 1111, "k:1, k:1x, k:1xx, k:1xxx");
    assert_eq!(scanned.len(), keys.len());
    assert!(keys.iter().all(|k| scanned.contains(k)));
}

fn benchmark(port: u16, pipeline: &str) {
    let child = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-n",
            "20000",
            "-c",
            "10",
            "-t",
            "set,get,incr,mset",
            "-P",
            pipeline,
            "-q",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-benchmark");
    let out = finish(child, Duration::from_secs(120), "redis-benchmark");
    let text = stdout(&out);
    assert!(out.status.success(), "-P {pipeline}: {text} {}", String::from_utf8_lossy(&out.stderr));
    // -q prints progress with '\r' and one final line per test.
    let lines: Vec<&str> = text.split(['\r', '\n']).filter(|l| l.contains("requests per second")).collect();
    for test in ["SET", "GET", "INCR", "MSET"] {
        assert!(lines.iter().any(|l| l.starts_with(test)), "-P {pipeline}: no result for {test}: {text}");
    }
    assert!(!text.contains("ERR") && !text.contains("rror"), "-P {pipeline}: {text}");
}

#[test]
fn redis_benchmark_runs_clean() {
    if !require_tool("redis-benchmark") {
        return;
    }
    let node = Server::node(&[]);
    benchmark(node.port, "16");
    benchmark(node.port, "1");
    let mut c = node.conn();
    // The benchmark's keys are there: key:__rand_int__ and counter:__rand_int__.
    let keys: Vec<String> = q(&mut c, &["KEYS", "*"]).unwrap();
    assert!(keys.iter().any(|k| k.starts_with("key:")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("counter:")), "{keys:?}");
    let n: i64 = q(&mut c, &["GET", "counter:__rand_int__"]).unwrap();
    // 20000 INCRs per run, twice (redis-benchmark may issue up to a pipeline per client more).
    assert!((40_000..=40_000 + 2 * 10 * 16).contains(&n), "counter {n}");
}

/// Writes `count` values of 1 KB (keys `prefix:i`), `batch` per pipeline, with an optional EX.
fn write_values(
    c: &mut redis::Connection,
    prefix: &str,
    count: usize,
    batch: usize,
    ex: Option<u64>,
) -> RedisResult<()> {
    let value = vec![b'v'; 1024];
    let mut i = 0;
    while i < count {
        let mut pipe = redis::pipe();
        for j in i..(i + batch).min(count) {
            let p = pipe.cmd("SET").arg(format!("{prefix}:{j}")).arg(&value[..]);
            if let Some(ex) = ex {
                p.arg("EX").arg(ex + j as u64);
            }
            p.ignore();
        }
        pipe.query::<()>(c)?;
        i += batch;
    }
    Ok(())
}

#[test]
fn maxmemory_allkeys_lru_evicts() {
    let node = Server::node(&["--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = node.conn();
    write_values(&mut c, "k", 60 * 1024, 256, None).expect("no error under allkeys-lru");
    let evicted = info_num(&mut c, "stats", "evicted_keys");
    assert!(evicted > 0, "evicted_keys {evicted}");
    let used = info_num(&mut c, "memory", "used_memory");
    assert!(used <= 25 * 1024 * 1024, "used_memory {used}");
    let size: i64 = q(&mut c, &["DBSIZE"]).unwrap();
    assert!(size < 60 * 1024 && size > 1000, "DBSIZE {size}");
    assert_eq!(info_num(&mut c, "memory", "maxmemory"), 20 * 1024 * 1024);
    // The most recent writes survive LRU eviction.
    let last: Option<Vec<u8>> = q(&mut c, &["GET", &format!("k:{}", 60 * 1024 - 1)]).unwrap();
    assert_eq!(last.map(|v| v.len()), Some(1024));
}

#[test]
fn maxmemory_noeviction_refuses_writes() {
    let node = Server::node(&["--maxmemory", "10mb", "--maxmemory-policy", "noeviction"]);
    let mut c = node.conn();
    q::<()>(&mut c, &["SET", "early", "still here"]).unwrap();
    let mut refused = None;
    for round in 0..400 {
        // At most 400 * 64 KB = 25 MB: well past the limit.
        if let Err(e) = write_values(&mut c, &format!("r{round}"), 64, 64, None) {
            refused = Some(e.to_string());
            break;
        }
    }
    let refused = refused.expect("writes were never refused");
    assert!(refused.contains("command not allowed when used memory"), "{refused}");
    let mut raw = node.raw();
    raw.roundtrip(
        &slotgate_tests::resp(&[b"SET", b"another", b"value"]),
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    raw.roundtrip(&slotgate_tests::resp(&[b"GET", b"early"]), "$10\r\nstill here\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "early"]).unwrap(), "still here", "reads still work");
    assert_eq!(info_num(&mut c, "stats", "evicted_keys"), 0);
    // Deleting makes room again.
    assert_eq!(q::<String>(&mut c, &["FLUSHALL"]).unwrap(), "OK");
    assert_eq!(q::<String>(&mut c, &["SET", "another", "value"]).unwrap(), "OK");
}

#[test]
fn maxmemory_volatile_ttl_keeps_persistent_keys() {
    let node = Server::node(&["--maxmemory", "20mb", "--maxmemory-policy", "volatile-ttl"]);
    let mut c = node.conn();
    write_values(&mut c, "persist", 2000, 250, None).unwrap();
    write_values(&mut c, "vol", 50 * 1024, 256, Some(1000)).expect("volatile keys are evictable");
    let evicted = info_num(&mut c, "stats", "evicted_keys");
    assert!(evicted > 0, "evicted_keys {evicted}");
    let mut present = 0;
    for chunk in (0..2000).collect::<Vec<_>>().chunks(500) {
        let mut command = cmd("EXISTS");
        for i in chunk {
            command.arg(format!("persist:{i}"));
        }
        present += command.query::<i64>(&mut c).unwrap();
    }
    assert_eq!(present, 2000, "volatile-ttl never evicts persistent keys");
    // The soonest-expiring keys go first: early volatile keys (shortest TTL) are gone.
    let first: i64 = q(&mut c, &["EXISTS", "vol:0", "vol:1", "vol:2"]).unwrap();
    assert!(first < 3, "shortest-TTL keys were evicted first");
    let used = info_num(&mut c, "memory", "used_memory");
    assert!(used <= 25 * 1024 * 1024, "used_memory {used}");
}
