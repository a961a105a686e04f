//! The proxy's front door under abuse, when login is required: a client trickling one byte at
//! a time, 1 GB and 100 MB AUTH arguments and 10,000 connections that never authenticate are each cut
//! off by a timeout or a limit, the proxy's memory stays bounded, and a logged-in client keeps
//! being served throughout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use slotgate_tests::{require_tool, scratch_dir, wait_until, Cluster, Proxy, RawConn};

const USERS: &str = "\
user default off
user app on >app_password ~* +@all
";

fn setup() -> Option<(Cluster, Proxy)> {
    if !require_tool("redis-server") {
        return None;
    }
    let cluster = Cluster::redis(3, 0, 5000);
    let dir = scratch_dir("limits");
    let path = dir.join("users.acl");
    std::fs::write(&path, USERS).unwrap();
    let proxy = Proxy::start(
        cluster.ports()[0],
        &["--aclfile", path.to_str().unwrap(), "--auth-timeout-ms", "2000", "--max-unauthenticated", "100"],
    );
    Some((cluster, proxy))
}

/// A client that logged in.
fn logged_in(proxy: &Proxy) -> RawConn {
    let mut raw = proxy.raw();
    raw.roundtrip(b"AUTH app app_password\r\n", "+OK\r\n");
    raw
}

/// A logged-in client gets answers.
fn served(raw: &mut RawConn) {
    raw.roundtrip(b"SET limits:probe 1\r\n", "+OK\r\n");
    raw.roundtrip(b"GET limits:probe\r\n", "$1\r\n1\r\n");
}

/// The process's resident memory; a test that compares it must not read 0 for "unknown".
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"));
    assert!(kb > 0.0, "VmRSS of {pid} reads 0");
    kb / 1024.0
}

#[test]
fn a_client_trickling_bytes_without_logging_in_is_cut_off() {
    let Some((_cluster, proxy)) = setup() else { return };
    let mut slow = proxy.raw();
    slow.0.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut writer = slow.0.try_clone().unwrap();
    let started = Instant::now();
    // One byte every 300 ms of an AUTH that would take 10 s to arrive; at most 40 bytes.
    let trickle = std::thread::spawn(move || {
        for b in b"*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$12\r\napp_password\r\n".iter().take(40) {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    served(&mut logged_in(&proxy));
    assert!(slow.closed(), "the trickling client was not disconnected");
    let after = started.elapsed();
    trickle.join().unwrap();
    println!("trickling client disconnected after {after:?} (auth timeout 2 s)");
    assert!(after < Duration::from_secs(10), "cut off only after {after:?}, before its AUTH could complete");
    assert!(proxy.log().contains("did not authenticate in time"), "no log line: {}", proxy.log());
    served(&mut logged_in(&proxy));
}

#[test]
fn huge_auth_arguments_are_refused_before_they_are_read() {
    let Some((_cluster, proxy)) = setup() else { return };
    let before = rss_mb(proxy.pid());
    // Past proto-max-bulk-len (512 MB) the length is invalid for anyone, as in Redis.
    proxy.raw().roundtrip(b"*2\r\n$4\r\nAUTH\r\n$1073741824\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    let mut big = proxy.raw();
    // Before login, anything past 16 KB is refused on its length, before any of it is read.
    big.roundtrip(b"*2\r\n$4\r\nAUTH\r\n$104857600\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n");
    // The connection is gone: sending the 100 MB argument fails long before 64 MB went out.
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    while sent < 64 << 20 && big.0.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    assert!(sent < 64 << 20, "the proxy kept reading the 1 GB argument ({sent} bytes sent)");
    let after = rss_mb(proxy.pid());
    println!("proxy RSS {before:.1} MB before, {after:.1} MB after; {} MB sent before the proxy closed", sent >> 20);
    assert!(after < before + 32.0, "RSS grew from {before:.1} MB to {after:.1} MB");
    served(&mut logged_in(&proxy));
}

#[test]
fn ten_thousand_connections_that_never_log_in_are_capped() {
    let Some((_cluster, proxy)) = setup() else { return };
    let mut app = logged_in(&proxy);
    let mut held = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        match TcpStream::connect(("127.0.0.1", proxy.port)) {
            Ok(s) => {
                s.set_nonblocking(true).unwrap();
                held.push(s);
            }
            Err(e) => panic!("connection {i} failed: {e}"),
        }
    }
    let rss = rss_mb(proxy.pid());
    served(&mut app);
    // Over the cap (100) a connection is told why and closed; the 100 admitted are closed at
    // the auth timeout (2 s), making room for the next 100, and so on.
    let refusal = b"-ERR max number of unauthenticated clients reached\r\n";
    let (mut refused, mut closed) = (vec![false; held.len()], vec![false; held.len()]);
    let mut buf = [0u8; 128];
    let all_closed = wait_until(Duration::from_secs(240), || {
        for (i, s) in held.iter_mut().enumerate() {
            while !closed[i] {
                match s.read(&mut buf) {
                    Ok(0) => closed[i] = true,
                    Ok(n) => refused[i] |= buf[..n].starts_with(refusal),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => closed[i] = true,
                }
            }
        }
        closed.iter().all(|c| *c)
    });
    let (refused, closed) = (refused.iter().filter(|r| **r).count(), closed.iter().filter(|c| **c).count());
    println!("of 10000 unauthenticated connections: {refused} refused at the cap, {} dropped at the auth timeout, {} still open; proxy RSS {rss:.1} MB", closed - refused, 10_000 - closed);
    assert!(all_closed, "{} of 10000 unauthenticated connections are still open", 10_000 - closed);
    assert!(refused >= 5000, "only {refused} connections were refused at the cap");
    assert!(rss < 64.0, "proxy RSS {rss:.1} MB with 10000 unauthenticated connections");
    served(&mut app);
    // Once they are gone, new clients are admitted again.
    drop(held);
    let mut raw = RawConn(TcpStream::connect(("127.0.0.1", proxy.port)).unwrap());
    raw.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.roundtrip(b"PING\r\n", "-NOAUTH Authentication required.\r\n");
}
