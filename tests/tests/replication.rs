//! Replication and failover of slotgate-node: full and partial resync (standalone, and with
//! Debian's redis-server 7.0 on either side), writes during a full sync's forked snapshot, WAIT,
//! a 3x1 cluster losing a master to SIGKILL and to SIGSTOP under a write load, CLUSTER FAILOVER
//! under load, the replica validity factor, replica migration, and bad input.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::slot::key_slot;
use slotgate_tests::{cluster_nodes, q, redis_cli, require_tool, slot_owner, wait_until, Cluster, NodeInfo, Server};

fn info_field(port: u16, section: &str, field: &str) -> Option<String> {
    let text = redis_cli(port, &["info", section])?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

fn link_up(port: u16) -> bool {
    info_field(port, "replication", "master_link_status").as_deref() == Some("up")
}

#[test]
fn full_sync_then_partial_resync_after_a_link_drop() {
    let master = Server::node(&[]);
    let replica = Server::node(&[]);
    let mut m = master.conn();
    for i in 0..500 {
        let () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut m).unwrap();
    }
    let () = redis::cmd("RPUSH").arg("list").arg(&["a", "b", "c"]).query(&mut m).unwrap();
    let () = redis::cmd("HSET").arg("h").arg(&["f", "v"]).query(&mut m).unwrap();
    let () = redis::cmd("ZADD").arg("z").arg(1.5).arg("m").query(&mut m).unwrap();
    let _: i64 = redis::cmd("SADD").arg("s").arg(&["x", "y"]).query(&mut m).unwrap();
    let mut r = replica.conn();
    let ok: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
    assert_eq!(ok, "OK");
    assert!(wait_until(Duration::from_secs(10), || link_up(replica.port)), "the replica never synced");
    // Writes after the sync arrive through the stream; WAIT confirms the replica has them.
    let () = redis::cmd("SET").arg("after").arg("sync").query(&mut m).unwrap();
    let acked: i64 = q(&mut m, &["WAIT", "1", "5000"]).unwrap();
    assert_eq!(acked, 1);
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]).unwrap(), 505);
    assert_eq!(q::<Vec<String>>(&mut r, &["LRANGE", "list", "0", "-1"]).unwrap(), ["a", "b", "c"]);
    assert_eq!(q::<String>(&mut r, &["GET", "after"]).unwrap(), "sync");
    assert_eq!(q::<String>(&mut r, &["ZSCORE", "z", "m"]).unwrap(), "1.5");
    // A replica does not take writes.
    let e = q::<String>(&mut r, &["SET", "x", "1"]).unwrap_err().to_string();
    assert!(e.contains("You can't write against a read only replica"), "{e}");
    assert_eq!(info_field(master.port, "stats", "sync_full").as_deref(), Some("1"));

    // Drop the link: the replica comes back with +CONTINUE, not a second full sync.
    let killed: i64 = q(&mut m, &["CLIENT", "KILL", "TYPE", "replica"]).unwrap();
    assert_eq!(killed, 1);
    let () = redis::cmd("SET").arg("during").arg("gap").query(&mut m).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(master.port, "stats", "sync_partial_ok").as_deref() == Some("1") && link_up(replica.port)
    }));
    assert_eq!(info_field(master.port, "stats", "sync_full").as_deref(), Some("1"));
    assert_eq!(q::<i64>(&mut m, &["WAIT", "1", "5000"]).unwrap(), 1);
    assert_eq!(q::<String>(&mut r, &["GET", "during"]).unwrap(), "gap");
    // (Polled: the master's periodic PING may move both offsets in between.)
    let offsets = |p: u16, f: &str| info_field(p, "replication", f).unwrap();
    assert!(wait_until(Duration::from_secs(5), || offsets(master.port, "master_repl_offset")
        == offsets(replica.port, "slave_repl_offset")));
}

#[test]
fn replica_read_only_and_priority_follow_the_config() {
    let master = Server::node(&[]);
    let replica = Server::node(&["--replica-priority", "7"]);
    let mut r = replica.conn();
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || link_up(replica.port)), "the replica never synced");
    let e = q::<String>(&mut r, &["SET", "local", "1"]).unwrap_err();
    assert_eq!(e.code(), Some("READONLY"), "{e}");
    assert_eq!(info_field(replica.port, "replication", "slave_read_only").as_deref(), Some("1"));
    assert_eq!(info_field(replica.port, "replication", "slave_priority").as_deref(), Some("7"));
    // A writable replica (Redis's replica-read-only no) keeps a local write.
    let _: String = q(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]).unwrap();
    assert_eq!(q::<String>(&mut r, &["SET", "local", "1"]).unwrap(), "OK");
    assert_eq!(q::<String>(&mut r, &["GET", "local"]).unwrap(), "1");
    assert_eq!(info_field(replica.port, "replication", "slave_read_only").as_deref(), Some("0"));
}

#[test]
fn replicates_to_and_from_redis_server() {
    if !require_tool("redis-server") {
        return;
    }
    let node = Server::node(&[]);
    let redis = Server::redis(&[]);
    let mut n = node.conn();
    for i in 0..100 {
        let () = redis::cmd("HSET").arg(format!("h{i}")).arg("f").arg(i).query(&mut n).unwrap();
    }
    // redis-server replicating slotgate.
    let mut r = redis.conn();
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &node.port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(20), || link_up(redis.port)), "redis-server did not sync from slotgate");
    let () = redis::cmd("SET").arg("live").arg("1").query(&mut n).unwrap();
    assert_eq!(q::<i64>(&mut n, &["WAIT", "1", "5000"]).unwrap(), 1);
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]).unwrap(), 101);
    assert_eq!(q::<String>(&mut r, &["HGET", "h42", "f"]).unwrap(), "42");
    // And slotgate replicating redis-server.
    let _: String = q(&mut r, &["REPLICAOF", "NO", "ONE"]).unwrap();
    let () = redis::cmd("SET").arg("from").arg("redis").query(&mut r).unwrap();
    let other = Server::node(&[]);
    let mut o = other.conn();
    let _: String = q(&mut o, &["REPLICAOF", "127.0.0.1", &redis.port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(20), || link_up(other.port)), "slotgate did not sync from redis-server");
    let () = redis::cmd("SET").arg("streamed").arg("yes").query(&mut r).unwrap();
    assert!(wait_until(Duration::from_secs(5), || q::<Option<String>>(&mut o, &["GET", "streamed"])
        .unwrap()
        .is_some()));
    assert_eq!(q::<i64>(&mut o, &["DBSIZE"]).unwrap(), 103);
    assert_eq!(q::<String>(&mut o, &["GET", "from"]).unwrap(), "redis");
}

#[test]
fn a_corrupt_sync_stream_is_refused_and_retried() {
    // A fake master: answers the handshake, then sends a snapshot that is not an RDB file.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(Mutex::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let fake = {
        let (attempts, stop) = (attempts.clone(), stop.clone());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = [0u8; 4096];
                let mut seen = String::new();
                // PING, REPLCONF x2, PSYNC: answer each line of commands as they come.
                while !seen.contains("PSYNC") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
                            for _ in 0..chunk.matches('*').count() {
                                if !chunk.contains("PSYNC") {
                                    let _ = s.write_all(if chunk.contains("PING") { b"+PONG\r\n" } else { b"+OK\r\n" });
                                }
                            }
                            seen.push_str(&chunk);
                        }
                    }
                }
                *attempts.lock().unwrap() += 1;
                let _ = s.write_all(
                    b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n$20\r\nthis is not rdb data",
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let replica = Server::node(&["--logfile", "node.log"]);
    let mut r = replica.conn();
    let () = redis::cmd("SET").arg("mine").arg("kept").query(&mut r).unwrap();
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(15), || *attempts.lock().unwrap() >= 2), "the replica did not retry");
    stop.store(true, Ordering::Relaxed);
    fake.join().unwrap();
    assert!(!link_up(replica.port));
    // Nothing of the bad snapshot was applied: the old data is still there.
    assert_eq!(q::<String>(&mut r, &["GET", "mine"]).unwrap(), "kept");
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]).unwrap(), 1);
    let log = std::fs::read_to_string(replica.dir.join("node.log")).unwrap_or_default();
    assert!(log.contains("bad snapshot"), "the log should say why: {log}");
}

/// True when the server on `port` answers PING within 300 ms.
fn answers(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

/// What a writer thread saw.
#[derive(Default)]
struct Writes {
    /// Acknowledged by WAIT 1 (the replica has it).
    safe: Vec<usize>,
    /// Acknowledged with OK but not confirmed by WAIT.
    unconfirmed: Vec<usize>,
    errors: usize,
    last_error: Option<String>,
}

/// Writes `tag:i` to keys of one slot, following the slot to its current owner, each write
/// followed by WAIT 1 100. Bounded by `max` writes and the stop flag.
fn writer(
    via: Vec<u16>,
    slot_key: &'static str,
    max: usize,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Writes>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let slot = key_slot(slot_key.as_bytes());
        let mut con: Option<(u16, redis::Connection)> = None;
        for i in 0..max {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // Look the owner up again only after an error (MOVED, a dead connection).
            if con.is_none() {
                // Skip an owner that does not answer (a frozen master): redis-rs's connection
                // handshake has no read timeout and would wait for it forever.
                let Some(target) = via.iter().find_map(|p| slot_owner(*p, slot)).filter(|p| answers(*p)) else {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                };
                con = redis::Client::open(format!("redis://127.0.0.1:{target}/"))
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
                    .ok()
                    .map(|c| (target, c));
                if let Some((_, c)) = con.as_mut() {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                }
            }
            let Some((_, c)) = con.as_mut() else { continue };
            let key = format!("{slot_key}:{i}");
            let set: redis::RedisResult<String> = redis::cmd("SET").arg(&key).arg(i).query(c);
            let mut l = log.lock().unwrap();
            match set {
                Ok(_) => match redis::cmd("WAIT").arg(1).arg(100).query::<i64>(c) {
                    Ok(n) if n >= 1 => l.safe.push(i),
                    _ => l.unconfirmed.push(i),
                },
                Err(e) => {
                    l.errors += 1;
                    l.last_error = Some(e.to_string());
                    con = None;
                }
            }
            drop(l);
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

/// Every key of `writes` that must exist after the fault, checked on the slot's owner.
fn missing(via: &[u16], slot_key: &str, ids: &[usize]) -> Vec<usize> {
    let slot = key_slot(slot_key.as_bytes());
    let port = via.iter().find_map(|p| slot_owner(*p, slot)).expect("the slot has an owner");
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    let present: HashSet<usize> = ids
        .iter()
        .copied()
        .filter(|i| q::<Option<String>>(&mut c, &["GET", &format!("{slot_key}:{i}")]).unwrap().is_some())
        .collect();
    ids.iter().copied().filter(|i| !present.contains(i)).collect()
}

/// Kills (or freezes) the master of `{w}`'s slot under load; checks the takeover.
fn lose_a_master(freeze: bool) {
    if !require_tool("redis-cli") {
        return;
    }
    let mut c = Cluster::slotgate(3, 1, 2000);
    let ports = c.ports();
    let slot_key = "{w}";
    let victim = slot_owner(ports[0], key_slot(slot_key.as_bytes())).unwrap();
    let nodes = c.nodes();
    let victim_id = nodes.iter().find(|n| n.port == victim).unwrap().id.clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(victim_id.as_str())).unwrap().port;
    let others: Vec<u16> = ports.iter().copied().filter(|p| *p != victim).collect();
    let (stop, log) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Writes::default())));
    let w = writer(others.clone(), slot_key, 100_000, stop.clone(), log.clone());
    assert!(wait_until(Duration::from_secs(20), || log.lock().unwrap().safe.len() >= 200));
    let pid = c.pids()[ports.iter().position(|p| *p == victim).unwrap()];
    let fault = Instant::now();
    if freeze {
        std::process::Command::new("kill").args(["-STOP", &pid.to_string()]).status().unwrap();
    } else {
        c.kill(victim);
    }
    let took_over = wait_until(Duration::from_secs(30), || {
        info_field(replica, "replication", "role").as_deref() == Some("master")
            && others
                .iter()
                .all(|p| redis_cli(*p, &["cluster", "info"]).is_some_and(|i| i.contains("cluster_state:ok")))
    });
    println!("replica took over {:?} after the fault", fault.elapsed());
    assert!(took_over, "the replica did not take over with the cluster back to ok");
    // WAIT confirms nothing while the new master has no replica yet: count every acknowledged write.
    let acked = |l: &Writes| l.safe.len() + l.unconfirmed.len();
    let at = acked(&log.lock().unwrap());
    assert!(
        wait_until(Duration::from_secs(20), || acked(&log.lock().unwrap()) >= at + 100),
        "writes did not resume: {:?}",
        log.lock().unwrap().last_error
    );
    // The old master comes back and follows the new one.
    if freeze {
        std::process::Command::new("kill").args(["-CONT", &pid.to_string()]).status().unwrap();
    } else {
        c.restart(victim);
    }
    let rejoined = wait_until(Duration::from_secs(30), || {
        cluster_nodes(victim).is_some_and(|ns| ns.iter().any(|n| n.port == victim && !n.is_master())) && link_up(victim)
    });
    assert!(rejoined, "the old master did not become a replica of the new one");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let l = log.lock().unwrap();
    let lost_safe = missing(&others, slot_key, &l.safe);
    let lost_unconfirmed = missing(&others, slot_key, &l.unconfirmed);
    println!(
        "{} writes confirmed by WAIT, {} only acknowledged ({} of those lost), {} errors",
        l.safe.len(),
        l.unconfirmed.len(),
        lost_unconfirmed.len(),
        l.errors
    );
    assert!(lost_safe.is_empty(), "writes confirmed by WAIT 1 were lost: {lost_safe:?}");
    // The old master kept no copy of its slots of its own.
    assert_eq!(info_field(victim, "replication", "role").as_deref(), Some("slave"));
}

#[test]
fn killed_master_is_replaced_and_rejoins_as_replica() {
    lose_a_master(false);
}

#[test]
fn frozen_master_steps_down_when_it_wakes() {
    lose_a_master(true);
}

#[test]
fn manual_failover_under_load_loses_no_acknowledged_write() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 1, 2000);
    let ports = c.ports();
    let slot_key = "{m}";
    let master = slot_owner(ports[0], key_slot(slot_key.as_bytes())).unwrap();
    let nodes = c.nodes();
    let master_id = nodes.iter().find(|n| n.port == master).unwrap().id.clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(master_id.as_str())).unwrap().port;
    // Acknowledged = OK from the server, confirmed or not: none may be lost.
    let (stop, log) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Writes::default())));
    let w = writer(ports.clone(), slot_key, 100_000, stop.clone(), log.clone());
    assert!(wait_until(Duration::from_secs(20), || log.lock().unwrap().safe.len() >= 200));
    assert_eq!(redis_cli(replica, &["cluster", "failover"]).as_deref(), Some("OK"));
    assert!(
        wait_until(Duration::from_secs(20), || info_field(replica, "replication", "role").as_deref() == Some("master")
            && info_field(master, "replication", "role").as_deref() == Some("slave")),
        "the manual failover did not complete"
    );
    // WAIT confirms nothing while the new master has no replica yet: count every acknowledged write.
    let acked = |l: &Writes| l.safe.len() + l.unconfirmed.len();
    let at = acked(&log.lock().unwrap());
    assert!(wait_until(Duration::from_secs(20), || acked(&log.lock().unwrap()) >= at + 100), "writes did not resume");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let l = log.lock().unwrap();
    let all: Vec<usize> = l.safe.iter().chain(&l.unconfirmed).copied().collect();
    let lost = missing(&ports, slot_key, &all);
    println!("{} acknowledged writes across the manual failover, {} errors", all.len(), l.errors);
    assert!(lost.is_empty(), "acknowledged writes lost by CLUSTER FAILOVER: {lost:?}");
}

#[test]
fn bad_replication_commands_get_clear_errors() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 1, 3000);
    // Each node's own word on who it is, rather than one node's view of the others.
    let nodes: Vec<slotgate_tests::NodeInfo> = c
        .ports()
        .iter()
        .map(|p| cluster_nodes(*p).unwrap().into_iter().find(|n| n.flags.iter().any(|f| f == "myself")).unwrap())
        .collect();
    let master = nodes.iter().find(|n| n.is_master()).unwrap();
    let replica = nodes.iter().find(|n| !n.is_master()).unwrap();
    let other_master = nodes.iter().find(|n| n.is_master() && n.id != master.id).unwrap();
    let unknown = "0123456789012345678901234567890123456789";
    let cases: Vec<(u16, Vec<&str>, String)> = vec![
        (master.port, vec!["cluster", "replicate", unknown], format!("ERR Unknown node {unknown}")),
        (master.port, vec!["cluster", "replicate", &master.id], "ERR Can't replicate myself".into()),
        (replica.port, vec!["cluster", "replicate", &replica.id], "ERR Can't replicate myself".into()),
        (
            master.port,
            vec!["cluster", "replicate", &other_master.id],
            "ERR To set a master the node must be empty and without assigned slots.".into(),
        ),
        (master.port, vec!["cluster", "failover"], "ERR You should send CLUSTER FAILOVER to a replica".into()),
        (replica.port, vec!["cluster", "failover", "sideways"], "ERR syntax error".into()),
        (replica.port, vec!["replicaof", "127.0.0.1", "1"], "ERR REPLICAOF not allowed in cluster mode.".into()),
    ];
    for (port, args, want) in cases {
        assert_eq!(redis_cli(port, &args).unwrap(), want, "{args:?}");
    }
    // A replica redirects writes to its master; with READONLY it serves reads of its slots.
    let key = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| slot_owner(master.port, key_slot(k.as_bytes())) == Some(master.port))
        .unwrap();
    assert_eq!(redis_cli(master.port, &["set", &key, "v"]).as_deref(), Some("OK"));
    let its_replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(master.id.as_str())).unwrap().port;
    let moved = redis_cli(its_replica, &["set", &key, "w"]).unwrap();
    assert!(moved.starts_with("MOVED "), "{moved}");
    assert_eq!(redis_cli(master.port, &["wait", "1", "2000"]).as_deref(), Some("1"));
    let mut r = redis::Client::open(format!("redis://127.0.0.1:{its_replica}/")).unwrap().get_connection().unwrap();
    let _: String = q(&mut r, &["READONLY"]).unwrap();
    assert_eq!(q::<String>(&mut r, &["GET", &key]).unwrap(), "v");
}

#[test]
fn min_replicas_to_write_refuses_writes_without_good_replicas() {
    let master = Server::node(&["--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"]);
    let mut m = master.conn();
    let e = q::<String>(&mut m, &["SET", "k", "v"]).unwrap_err().to_string();
    assert!(e.contains("Not enough good replicas to write"), "{e}");
    // Reads are fine.
    assert_eq!(q::<Option<String>>(&mut m, &["GET", "k"]).unwrap(), None);
    let replica = Server::node(&[]);
    let _: String = q(&mut replica.conn(), &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(10), || link_up(replica.port)));
    assert_eq!(q::<String>(&mut m, &["SET", "k", "v"]).unwrap(), "OK");
}

/// The snapshot children the process `pid` has right now.
fn children(pid: u32) -> Vec<u32> {
    let parse = |s: &str| s.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>();
    let listed: Option<Vec<u32>> = std::fs::read_dir(format!("/proc/{pid}/task")).ok().map(|tasks| {
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
            .flat_map(|s| parse(&s))
            .collect()
    });
    if let Some(list) = listed.filter(|_| std::path::Path::new(&format!("/proc/{pid}/task/{pid}/children")).exists()) {
        return list;
    }
    // Kernels without /proc/.../children: look for processes whose parent is `pid`.
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .flatten()
        .filter_map(|p| {
            let stat = std::fs::read_to_string(p.path().join("stat")).ok()?;
            let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then(|| p.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

fn signal(pid: u32, sig: &str) {
    std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap();
}

#[test]
fn writes_are_acknowledged_while_a_full_sync_snapshot_is_taken() {
    let master = Server::node(&[]);
    let replica = Server::node(&[]);
    let mut m = master.conn();
    const KEYS: usize = 500_000;
    for batch in 0..KEYS / 1000 {
        let mut mset = redis::cmd("MSET");
        for i in batch * 1000..(batch + 1) * 1000 {
            mset.arg(format!("key:{i}")).arg(format!("{i:0>64}"));
        }
        let () = mset.query(&mut m).unwrap();
    }
    // Start a full sync and freeze the child that writes its snapshot. It lives a fraction of a
    // second, so a sync whose child we missed is started again (a replica promoted and pointed
    // back at the master asks for a full sync).
    let mut r = replica.conn();
    let mut child = None;
    for attempt in 0..3 {
        if attempt > 0 {
            let _: String = q(&mut r, &["REPLICAOF", "NO", "ONE"]).unwrap();
        }
        let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let synced = |r: &mut redis::Connection| {
            q::<String>(r, &["INFO", "replication"]).unwrap().contains("master_link_status:up")
        };
        for poll in 0.. {
            child = children(master.pid()).first().copied();
            if child.is_some() || Instant::now() > deadline || (poll % 50 == 49 && synced(&mut r)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(pid) = child {
            signal(pid, "-STOP");
            println!("froze the snapshot child at attempt {}", attempt + 1);
            break;
        }
    }
    let child = child.expect("the master took no snapshot in a child process");
    let syncing = || info_field(master.port, "replication", "slave0").is_some_and(|s| s.contains("state=wait_bgsave"));
    assert!(
        syncing(),
        "the replica should wait for the snapshot: {:?}",
        info_field(master.port, "replication", "slave0")
    );
    // While the snapshot is being taken, the master acknowledges writes.
    m.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for i in 0..1000 {
        let ok: String = q(&mut m, &["SET", &format!("w:{i}"), &i.to_string()]).unwrap();
        assert_eq!(ok, "OK");
    }
    assert!(syncing(), "the snapshot was still in progress");
    assert_eq!(info_field(master.port, "persistence", "rdb_bgsave_in_progress").as_deref(), Some("1"));
    signal(child, "-CONT");
    // The replica gets the snapshot, then every write acknowledged meanwhile.
    assert!(wait_until(Duration::from_secs(60), || link_up(replica.port)), "the replica never synced");
    assert_eq!(q::<i64>(&mut m, &["WAIT", "1", "10000"]).unwrap(), 1);
    assert_eq!(q::<usize>(&mut r, &["DBSIZE"]).unwrap(), KEYS + 1000);
    let names: Vec<String> = (0..1000).map(|i| format!("w:{i}")).collect();
    let mut mget = redis::cmd("MGET");
    mget.arg(&names);
    let got: Vec<Option<String>> = mget.query(&mut r).unwrap();
    let lost: Vec<usize> = (0..1000).filter(|i| got[*i].as_deref() != Some(i.to_string().as_str())).collect();
    assert!(lost.is_empty(), "writes acknowledged during the snapshot are missing on the replica: {lost:?}");
    assert_eq!(q::<String>(&mut r, &["GET", "key:123456"]).unwrap(), format!("{:0>64}", 123456));
    // The snapshot file is gone once sent.
    assert!(wait_until(Duration::from_secs(5), || std::fs::read_dir(&master.dir)
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().starts_with("temp-"))));
}

fn config_set(port: u16, name: &str, value: &str) {
    assert_eq!(redis_cli(port, &["config", "set", name, value]).as_deref(), Some("OK"), "CONFIG SET {name} {value}");
}

/// The node's own line of CLUSTER NODES.
fn myself(port: u16) -> Option<NodeInfo> {
    cluster_nodes(port)?.into_iter().find(|n| n.flags.iter().any(|f| f == "myself"))
}

#[test]
fn a_replica_cut_off_too_long_does_not_fail_over() {
    if !require_tool("redis-cli") {
        return;
    }
    let mut c = Cluster::slotgate(3, 1, 2000);
    let nodes = c.nodes();
    let master = nodes.iter().find(|n| n.is_master() && n.slots > 0).unwrap().clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(master.id.as_str())).unwrap().port;
    let others: Vec<u16> = c.ports().into_iter().filter(|p| *p != master.port && *p != replica).collect();
    // Its data may be 2000 (node timeout) + 1000 (ping period) + 2000 x 1 (factor) ms old at most.
    config_set(replica, "cluster-replica-no-failover", "yes");
    config_set(replica, "repl-ping-replica-period", "1");
    config_set(replica, "cluster-replica-validity-factor", "1");
    let nofailover = |p: u16| {
        cluster_nodes(p)
            .is_some_and(|ns| ns.iter().any(|n| n.port == replica && n.flags.iter().any(|f| f == "nofailover")))
    };
    assert!(
        wait_until(Duration::from_secs(10), || others.iter().all(|p| nofailover(*p))),
        "peers should see nofailover"
    );
    c.kill(master.port);
    let down_for =
        || info_field(replica, "replication", "master_link_down_since_seconds").and_then(|s| s.parse::<i64>().ok());
    let master_failed =
        || cluster_nodes(replica).is_some_and(|ns| ns.iter().any(|n| n.id == master.id && n.is_failed()));
    assert!(
        wait_until(Duration::from_secs(30), || master_failed() && down_for().is_some_and(|s| s >= 6)),
        "the replica should see its master failed and its link down for 6 s"
    );
    // Now allowed to fail over, but its data is too old: it says so and stays a replica.
    config_set(replica, "cluster-replica-no-failover", "no");
    let refused = "Currently unable to failover: Disconnected from master for longer than allowed";
    assert!(wait_until(Duration::from_secs(30), || c.log(replica).contains(refused)), "no refusal in the log");
    assert_eq!(info_field(replica, "replication", "role").as_deref(), Some("slave"));
    assert!(myself(replica).is_some_and(|n| !n.is_master()));
    // Factor 0: any data will do.
    config_set(replica, "cluster-replica-validity-factor", "0");
    assert!(
        wait_until(Duration::from_secs(20), || info_field(replica, "replication", "role").as_deref() == Some("master")
            && others
                .iter()
                .all(|p| redis_cli(*p, &["cluster", "info"]).is_some_and(|i| i.contains("cluster_state:ok")))),
        "the replica did not take over with validity factor 0"
    );
}

/// True when `f` holds at every poll for `duration`.
fn holds_for(duration: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if !f() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

#[test]
fn a_replica_migrates_to_an_orphaned_master() {
    if !require_tool("redis-cli") {
        return;
    }
    let mut c = Cluster::slotgate(3, 1, 2000);
    let nodes = c.nodes();
    let masters: Vec<NodeInfo> = nodes.iter().filter(|n| n.is_master() && n.slots > 0).cloned().collect();
    let (rich, poor) = (&masters[0], &masters[1]);
    let replica_of = |m: &NodeInfo| nodes.iter().find(|n| n.master_id.as_deref() == Some(m.id.as_str())).unwrap().port;
    let poor_replica = replica_of(poor);
    // `rich` gets a second replica.
    let extra = c.add_node();
    let out = std::process::Command::new("redis-cli")
        .args(["--cluster", "add-node", &format!("127.0.0.1:{extra}"), &format!("127.0.0.1:{}", rich.port)])
        .args(["--cluster-slave", "--cluster-master-id", &rich.id])
        .output()
        .unwrap();
    assert!(out.status.success(), "add-node failed: {}", String::from_utf8_lossy(&out.stdout));
    let rich_replicas = [replica_of(rich), extra];
    let master_of = |p: u16| myself(p).and_then(|n| n.master_id);
    assert!(
        wait_until(Duration::from_secs(30), || link_up(extra)
            && c.ports().iter().all(|p| cluster_nodes(*p).is_some_and(|ns| ns
                .iter()
                .filter(|n| n.master_id.as_deref() == Some(rich.id.as_str()))
                .count()
                == 2))),
        "every node should see two replicas of the same master"
    );
    // `poor` loses its only replica. First, migration is off; then it is on but the barrier
    // says `rich` must keep 2 replicas. Neither moves, although `poor` stays orphaned longer
    // than the 5 s a migration waits.
    for p in rich_replicas {
        config_set(p, "cluster-allow-replica-migration", "no");
    }
    c.kill(poor_replica);
    let sees_failed =
        |p: u16| cluster_nodes(p).is_some_and(|ns| ns.iter().any(|n| n.port == poor_replica && n.is_failed()));
    assert!(wait_until(Duration::from_secs(20), || rich_replicas.iter().all(|p| sees_failed(*p))));
    let stay = || rich_replicas.iter().all(|p| master_of(*p).as_deref() == Some(rich.id.as_str()));
    assert!(holds_for(Duration::from_secs(7), stay), "a replica migrated with cluster-allow-replica-migration no");
    // The barrier first: allowing migration while the barrier is still 1 would let a replica
    // move at once, the orphan having waited long enough already.
    for p in rich_replicas {
        config_set(p, "cluster-migration-barrier", "2");
    }
    for p in rich_replicas {
        config_set(p, "cluster-allow-replica-migration", "yes");
    }
    assert!(holds_for(Duration::from_secs(7), stay), "a replica migrated although the barrier is 2");
    // With the default barrier of 1, exactly one of them moves to the orphan and replicates it.
    for p in rich_replicas {
        config_set(p, "cluster-migration-barrier", "1");
    }
    let moved = || {
        rich_replicas
            .iter()
            .copied()
            .filter(|p| master_of(*p).as_deref() == Some(poor.id.as_str()))
            .collect::<Vec<u16>>()
    };
    assert!(wait_until(Duration::from_secs(20), || moved().len() == 1), "no replica migrated to the orphaned master");
    let mover = moved()[0];
    let stayer = rich_replicas.into_iter().find(|p| *p != mover).unwrap();
    assert_eq!(master_of(stayer).as_deref(), Some(rich.id.as_str()));
    // The mover has the smaller name of the two.
    assert!(myself(mover).unwrap().id < myself(stayer).unwrap().id);
    assert!(
        wait_until(Duration::from_secs(20), || link_up(mover)
            && info_field(mover, "replication", "master_port") == Some(poor.port.to_string())
            && cluster_nodes(rich.port).is_some_and(|ns| ns
                .iter()
                .any(|n| n.port == mover && n.master_id.as_deref() == Some(poor.id.as_str())))),
        "the migrated replica should replicate the orphan, and the cluster should know"
    );
}
