//! The `slotgate-node` command line and config file handling, run as a plain process:
//! `-v`, fatal config errors naming file and line, `--port` overriding the file, `include`,
//! and quoted values with escapes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use slotgate_tests::{binary, free_port, resp, scratch_dir, wait_until, RawConn};

/// A node process killed (and its scratch dir removed) on drop.
struct Node {
    child: Child,
    dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| n > 0)
}

/// Starts the node with `args` (plus a scratch `--dir`) and waits until `port` answers.
fn start(args: &[&str], port: u16) -> Node {
    let dir = scratch_dir("cli");
    let child = Command::new(binary("slotgate-node"))
        .args(args)
        .args(["--save", "", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start slotgate-node");
    let mut node = Node { child, dir };
    let up = wait_until(Duration::from_secs(10), || answers_ping(port) || matches!(node.child.try_wait(), Ok(Some(_))));
    assert!(up && matches!(node.child.try_wait(), Ok(None)), "node did not start on port {port} with {args:?}");
    node
}

/// Runs the node expecting it to exit by itself (bounded), returning its output.
fn run_to_exit(args: &[&str]) -> Output {
    let mut child = Command::new(binary("slotgate-node"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start slotgate-node");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!("slotgate-node {args:?} did not exit; stderr: {}", String::from_utf8_lossy(&out.stderr));
}

fn write_conf(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

fn raw(port: u16) -> RawConn {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    RawConn(s)
}

fn req(args: &[&str]) -> Vec<u8> {
    let v: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    resp(&v)
}

/// `CONFIG GET name` in RESP2 as the exact reply bytes.
fn config_reply(name: &str, value: &str) -> String {
    format!("*2\r\n${}\r\n{name}\r\n${}\r\n{value}\r\n", name.len(), value.len())
}

#[test]
fn version_flag() {
    for flag in ["-v", "--version"] {
        let out = run_to_exit(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().next().unwrap_or_default();
        assert!(line.contains("Redis server"), "{flag}: {text}");
        assert!(line.contains("v=7.0"), "{flag}: {text}");
    }
}

#[test]
fn unknown_directive_is_fatal_with_file_and_line() {
    let dir = scratch_dir("conf");
    let path = write_conf(&dir, "bad.conf", "# a comment\nhz 10\nno-such-directive yes\nport 6399\n");
    let out = run_to_exit(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", path.display())), "stderr: {err}");
    assert!(err.contains("Bad directive or wrong number of arguments"), "stderr: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_value_is_fatal_with_its_line() {
    let dir = scratch_dir("conf");
    let path = write_conf(&dir, "bad.conf", "# header\n\nport abc\n");
    let out = run_to_exit(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", path.display())), "stderr: {err}");
    // The same check applies on the command line.
    let out = run_to_exit(&["--port", "abc"]);
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_line_port_overrides_the_file() {
    let dir = scratch_dir("conf");
    let file_port = free_port();
    let port = free_port();
    let path = write_conf(&dir, "redis.conf", &format!("port {file_port}\nbind 127.0.0.1\nhz 12\n"));
    let _node = start(&[path.to_str().unwrap(), "--port", &port.to_string()], port);
    let mut c = raw(port);
    c.roundtrip(&req(&["CONFIG", "GET", "port"]), &config_reply("port", &port.to_string()));
    c.roundtrip(&req(&["CONFIG", "GET", "hz"]), &config_reply("hz", "12"));
    assert!(TcpStream::connect(("127.0.0.1", file_port)).is_err(), "the file's port is not served");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_reads_another_file() {
    let dir = scratch_dir("conf");
    let port = free_port();
    let extra = write_conf(&dir, "extra.conf", "# included\nhz 17\nmaxmemory-samples 9\n");
    let path = write_conf(
        &dir,
        "redis.conf",
        &format!("port {port}\nbind 127.0.0.1\ninclude {}\nmaxmemory-samples 4\n", extra.display()),
    );
    let _node = start(&[path.to_str().unwrap()], port);
    let mut c = raw(port);
    c.roundtrip(&req(&["CONFIG", "GET", "hz"]), &config_reply("hz", "17"));
    c.roundtrip(&req(&["CONFIG", "GET", "maxmemory-samples"]), &config_reply("maxmemory-samples", "4"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quoted_values_with_escapes() {
    let dir = scratch_dir("conf");
    let port = free_port();
    let path = write_conf(&dir, "redis.conf", &format!("port {port}\nbind 127.0.0.1\nrequirepass \"p a\\x41ss\"\n"));
    let _node = start(&[path.to_str().unwrap()], port);
    let mut c = raw(port);
    c.roundtrip(&req(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    c.roundtrip(&req(&["AUTH", "p a\\x41ss"]), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    c.roundtrip(&req(&["AUTH", "p aAss"]), "+OK\r\n");
    c.roundtrip(&req(&["SET", "k", "v"]), "+OK\r\n");
    c.roundtrip(&req(&["GET", "k"]), "$1\r\nv\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every directive slotgate added for Debian's stock redis.conf, as CONFIG GET names them.
const STOCK_DIRECTIVES: &[&str] = &[
    "always-show-logo",
    "set-proc-title",
    "proc-title-template",
    "stop-writes-on-bgsave-error",
    "rdbcompression",
    "rdbchecksum",
    "rdb-del-sync-files",
    "replica-serve-stale-data",
    "replica-read-only",
    "repl-diskless-sync",
    "repl-diskless-sync-delay",
    "repl-diskless-sync-max-replicas",
    "repl-diskless-load",
    "repl-disable-tcp-nodelay",
    "replica-priority",
    "lazyfree-lazy-eviction",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "replica-lazy-flush",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "oom-score-adj",
    "oom-score-adj-values",
    "disable-thp",
    "no-appendfsync-on-rewrite",
    "aof-use-rdb-preamble",
    "aof-timestamp-enabled",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "notify-keyspace-events",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "list-max-listpack-size",
    "list-compress-depth",
    "set-max-intset-entries",
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "hll-sparse-max-bytes",
    "stream-node-max-bytes",
    "stream-node-max-entries",
    "activerehashing",
    "dynamic-hz",
    "aof-rewrite-incremental-fsync",
    "rdb-save-incremental-fsync",
    "jemalloc-bg-thread",
];

#[test]
fn debians_stock_redis_conf_starts_a_node_that_reports_it_as_redis_does() {
    if !slotgate_tests::require_tool("redis-server") {
        return;
    }
    let stock = Path::new("/etc/redis/redis.conf");
    assert!(stock.exists(), "the redis-server package installs {}", stock.display());
    // The file's service settings (log file, pid file, daemonizing) are the package's own.
    let local = ["--logfile", "", "--pidfile", "", "--daemonize", "no"];
    let node = slotgate_tests::Server::node_with_config(stock, &local);
    let redis = slotgate_tests::Server::redis_with_config(stock, &local);
    let (mut a, mut b) = (node.conn(), redis.conn());
    for name in STOCK_DIRECTIVES.iter().chain(&["hz", "maxmemory-policy", "appendfsync", "save"]) {
        let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(&mut a).unwrap();
        let want: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(&mut b).unwrap();
        assert_eq!(got, want, "CONFIG GET {name}");
    }
    // Defaults too, without any file.
    let node = slotgate_tests::Server::node(&[]);
    let redis = slotgate_tests::Server::redis(&[]);
    let (mut a, mut b) = (node.conn(), redis.conn());
    for name in STOCK_DIRECTIVES {
        let got: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(&mut a).unwrap();
        let want: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(&mut b).unwrap();
        assert_eq!(got, want, "default of {name}");
    }
}

#[test]
fn directives_asking_for_missing_features_are_refused_with_the_line() {
    let dir = scratch_dir("cfg-missing");
    for (line, why) in [
        ("notify-keyspace-events KEAZ", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("aof-timestamp-enabled yes", "slotgate writes no timestamp annotations into the AOF"),
    ] {
        let conf = write_conf(&dir, "missing.conf", &format!("port 0\n{line}\n"));
        let out = run_to_exit(&[conf.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{line}: {text}");
        assert!(text.contains("missing.conf:2") && text.contains(why), "{line}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn disable_thp_turns_transparent_huge_pages_off_for_the_node() {
    let thp = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status.lines().find_map(|l| l.strip_prefix("THP_enabled:").map(|v| v.trim().to_string()))
    };
    if thp(std::process::id()).is_none() {
        slotgate_tests::skip("this kernel does not report THP_enabled in /proc/PID/status");
        return;
    }
    let on = slotgate_tests::Server::node(&[]);
    assert_eq!(thp(on.pid()).as_deref(), Some("0"), "disable-thp defaults to yes");
    let off = slotgate_tests::Server::node(&["--disable-thp", "no"]);
    assert_eq!(thp(off.pid()).as_deref(), Some("1"));
}
