//! `slotgate-proxy --write-ack replicas=N[,TIMEOUT_MS]`: a client that knows nothing of WAIT
//! is told OK only for writes N replicas hold. Writers that never WAIT lose no acknowledged
//! write when a master is SIGKILLed under them (on Redis 7.0 and slotgate clusters); with a
//! shard's replica frozen (SIGSTOP) its writes get NOREPLICAS errors — plain writes, pipelines
//! and transactions alike — never a false OK, while the other shards and reads go on.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult};
use slotgate_tests::{cluster_nodes, key_in, require_tool, wait_until, Cluster, Kind, NodeInfo, Proxy};

slotgate_tests::on_both_clusters!(no_acknowledged_write_is_lost_when_a_master_dies);

/// A master with slots (not the seed) and its replica.
fn victim_pair(cluster: &Cluster, seed: u16) -> (NodeInfo, NodeInfo) {
    let nodes = cluster.nodes();
    let victim = nodes.iter().find(|n| n.is_master() && n.slots > 0 && n.port != seed).expect("a master").clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(victim.id.as_str())).expect("a replica").clone();
    (victim, replica)
}

/// 8 writers through a `--write-ack replicas=1` proxy SET unique keys (no WAIT of their own)
/// while a master is SIGKILLed and its replica takes over: every OK they got is there after.
/// The same run through a plain proxy is reported for comparison, not asserted.
fn no_acknowledged_write_is_lost_when_a_master_dies(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 1, 2000);
    let seed = cluster.ports()[0];
    let proxy = Arc::new(Proxy::start(seed, &["--retry-deadline-ms", "8000", "--write-ack", "replicas=1,1000"]));
    let (victim, replica) = victim_pair(&cluster, seed);
    let observer = cluster.ports().into_iter().find(|&p| p != victim.port && p != replica.port).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (proxy, stop, acked, errors) = (proxy.clone(), stop.clone(), acked.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut c = proxy.conn();
                for i in 0..5000 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let key = format!("ack:{w}:{i}");
                    let set: RedisResult<String> = cmd("SET").arg(&key).arg(i).query(&mut c);
                    match set {
                        Ok(ok) if ok == "OK" => acked.lock().unwrap().push((key, i)),
                        Ok(other) => errors.lock().unwrap().push(other),
                        Err(e) => errors.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(30), || acked.lock().unwrap().len() >= 300), "writes do not get going");
    cluster.kill(victim.port);
    let failed_over = wait_until(Duration::from_secs(30), || {
        cluster_nodes(observer).is_some_and(|ns| ns.iter().any(|n| n.id == replica.id && n.is_master()))
    });
    assert!(failed_over, "replica {} did not take over from {}", replica.port, victim.port);
    // Until the old master is back as its replica, the shard's writes cannot be confirmed:
    // they get errors, not OKs. It comes back, as an orchestrator would restart it.
    cluster.restart(victim.port);
    let at_failover = acked.lock().unwrap().len();
    let continued = wait_until(Duration::from_secs(45), || acked.lock().unwrap().len() >= at_failover + 300);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert!(continued, "acknowledged writes did not continue after the failover");
    let acked = acked.lock().unwrap();
    let mut c = proxy.conn();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|(key, i)| cmd("GET").arg(key).query::<Option<String>>(&mut c).ok().flatten() != Some(i.to_string()))
        .map(|(key, _)| key)
        .collect();
    let errors = errors.lock().unwrap();
    println!(
        "{kind:?}: {} writes acknowledged under --write-ack replicas=1, {} error replies ({:?}), {} lost",
        acked.len(),
        errors.len(),
        errors.iter().take(3).collect::<Vec<_>>(),
        lost.len()
    );
    assert!(lost.is_empty(), "{} acknowledged writes are lost: {:?}", lost.len(), &lost[..lost.len().min(10)]);
}

/// Sends SIGCONT on drop, so a failed test never leaves a node frozen.
struct Frozen(u32);

impl Frozen {
    fn new(pid: u32) -> Frozen {
        assert!(Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap().success());
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0.to_string()]).status();
    }
}

/// What the connection receives until an error reply has arrived whole.
fn read_until_error(raw: &mut slotgate_tests::RawConn) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("\r\n-") && !got.starts_with(b"-") || !got.ends_with(b"\r\n") {
        let n = std::io::Read::read(&mut raw.0, &mut buf).expect("the replies");
        assert!(n > 0, "closed");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The metric line's value in the proxy's /metrics, by raw HTTP (the request in one write).
fn metric(admin: u16, name: &str) -> u64 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", admin)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} not exported"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn writes_the_replicas_do_not_confirm_get_an_error_never_ok() {
    if !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(Kind::Slotgate, 3, 1, 5000);
    let seed = cluster.ports()[0];
    let admin = slotgate_tests::free_port();
    let admin_arg = format!("127.0.0.1:{admin}");
    let proxy = Proxy::start(seed, &["--write-ack", "replicas=1,300", "--admin-listen", &admin_arg]);
    let plain = Proxy::start(seed, &[]);
    let (victim, replica) = victim_pair(&cluster, seed);
    let (start, end) = victim.ranges[0];
    let stalled = key_in(start..end + 1, "stalled:");
    let other = cluster.nodes().into_iter().find(|n| n.is_master() && n.slots > 0 && n.id != victim.id).unwrap();
    let healthy = key_in(other.ranges[0].0..other.ranges[0].1 + 1, "healthy:");

    let mut c = proxy.conn();
    let ok: String = cmd("SET").arg(&stalled).arg("v1").query(&mut c).unwrap();
    assert_eq!(ok, "OK", "a write both replicas confirm");
    let exec: Vec<String> = redis::pipe().atomic().cmd("SET").arg(&stalled).arg("v2").query(&mut c).unwrap();
    assert_eq!(exec, ["OK"], "a transaction both replicas confirm");
    assert_eq!(metric(admin, "slotgate_proxy_write_ack_failures_total"), 0);

    let pid = cluster.pids()[cluster.ports().iter().position(|&p| p == replica.port).unwrap()];
    {
        let _frozen = Frozen::new(pid);
        let set: RedisResult<String> = cmd("SET").arg(&stalled).arg("v3").query(&mut c);
        let err = set.expect_err("a write its replica cannot confirm must fail");
        assert_eq!(err.code(), Some("NOREPLICAS"), "{err}");
        assert!(err.to_string().contains("0 of 1 confirmed within 300 ms"), "{err}");
        // In one pipelined batch, the read keeps its reply and the write gets the error.
        let mut raw = proxy.raw();
        raw.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut both = slotgate_tests::resp(&[b"GET", stalled.as_bytes()]);
        both.extend(slotgate_tests::resp(&[b"SET", stalled.as_bytes(), b"v4"]));
        raw.send(&both);
        let text = read_until_error(&mut raw);
        // (The unconfirmed v3 may well be on the master: an error means "not confirmed".)
        assert!(
            text.starts_with("$2\r\nv") && text.contains("\r\n-NOREPLICAS Not enough good replicas to write"),
            "{text}"
        );
        // A transaction: EXEC's reply becomes the error (redis-rs cannot surface an EXEC error,
        // hence the raw connection).
        let mut tx = slotgate_tests::resp(&[b"MULTI"]);
        tx.extend(slotgate_tests::resp(&[b"SET", stalled.as_bytes(), b"v5"]));
        tx.extend(slotgate_tests::resp(&[b"EXEC"]));
        raw.send(&tx);
        let text = read_until_error(&mut raw);
        assert!(text.starts_with("+OK\r\n+QUEUED\r\n-NOREPLICAS Not enough good replicas to write"), "{text}");
        // Writes to other shards, and reads, go on.
        let ok: String = cmd("SET").arg(&healthy).arg("h").query(&mut c).unwrap();
        assert_eq!(ok, "OK");
        let got: String = cmd("GET").arg(&stalled).query(&mut c).unwrap();
        assert!(got.starts_with('v'), "{got}");
        // A plain proxy says OK to the same write: what --write-ack is for.
        let plain_ok: String = cmd("SET").arg(&stalled).arg("plain").query(&mut plain.conn()).unwrap();
        assert_eq!(plain_ok, "OK");
        assert!(metric(admin, "slotgate_proxy_write_ack_failures_total") >= 2);
    }
    // The replica is back: its writes are confirmed again.
    let back = wait_until(Duration::from_secs(10), || {
        cmd("SET").arg(&stalled).arg("v6").query::<String>(&mut c).is_ok_and(|ok| ok == "OK")
    });
    assert!(back, "writes are not confirmed after the replica came back");
}
