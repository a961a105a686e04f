//! The new data types as applications use them, and streams through failovers:
//! - the guide's job queue (a stream consumer group: XREADGROUP BLOCK, XACK, XAUTOCLAIM after a
//!   worker dies) and its rate limiter (a FUNCTION called with FCALL), run by redis-py and
//!   ioredis against redis-server, a slotgate-node, and slotgate-proxy over a cluster;
//! - a replica promoted by a failover serves the pending entries of a consumer group;
//! - a client blocked in XREADGROUP through the proxy gets its entry after the master it waited
//!   on was SIGKILLed and its replica took over.

use std::process::Command;
use std::time::{Duration, Instant};

use redis::{cmd, RedisResult, Value};
use slotgate_tests::{
    cluster_nodes, ensure_ioredis, ensure_redis_py, js_dir, key_on, py_dir, require_tool, slot_owner, wait_until,
    Cluster, Kind, NodeInfo, Proxy, Server,
};

slotgate_tests::on_both_clusters!(
    a_promoted_replica_serves_the_pending_entries_of_a_group,
    a_blocked_xreadgroup_through_the_proxy_gets_its_entry_after_a_failover
);

/// Runs a client script with the port; it prints "ok" when every check held.
fn client_script(program: &str, script: std::path::PathBuf, port: u16) {
    let out = Command::new(program).arg(&script).arg(port.to_string()).output().expect(program);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{} on port {port} failed:\nstdout: {}\nstderr: {}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn redis_py_and_ioredis_run_the_job_queue_and_the_rate_limiter() {
    if !require_tool("python3") || !require_tool("node") || !require_tool("redis-server") || !require_tool("redis-cli")
    {
        return;
    }
    ensure_redis_py();
    ensure_ioredis();
    let scripts = [("python3", py_dir().join("job_queue.py")), ("node", js_dir().join("job_queue.js"))];
    // The scripts' expectations hold on redis-server...
    let reference = Server::redis(&[]);
    let node = Server::node(&[]);
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let proxy = Proxy::start(cluster.ports()[0], &[]);
    // ...on one slotgate-node, and through the proxy over three slotgate masters.
    for port in [reference.port, node.port, proxy.port] {
        for (program, script) in &scripts {
            client_script(program, script.clone(), port);
        }
    }
}

/// A key whose master is not the proxy's seed node, with that master and its replica.
fn key_off_seed(cluster: &Cluster, seed: u16, prefix: &str) -> (String, NodeInfo, NodeInfo) {
    let nodes = cluster.nodes();
    for third in 0..3 {
        let key = key_on(third, prefix);
        let owner = slot_owner(seed, protocol::key_slot(key.as_bytes())).expect("slot owner");
        if owner == seed {
            continue;
        }
        let master = nodes.iter().find(|n| n.port == owner).expect("the owner").clone();
        let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(master.id.as_str())).expect("a replica");
        return (key, master.clone(), replica.clone());
    }
    panic!("every key is on the seed")
}

/// Kills `master` and waits until an observer sees `replica` as a master.
fn fail_over(cluster: &mut Cluster, master: &NodeInfo, replica: &NodeInfo) {
    let observer = cluster.ports().into_iter().find(|&p| p != master.port && p != replica.port).unwrap();
    cluster.kill(master.port);
    let promoted = wait_until(Duration::from_secs(30), || {
        cluster_nodes(observer).is_some_and(|ns| ns.iter().any(|n| n.id == replica.id && n.is_master()))
    });
    assert!(promoted, "replica {} did not take over from {}", replica.port, master.port);
}

fn replicated(c: &mut redis::Connection) {
    let acked: i64 = cmd("WAIT").arg(1).arg(5000).query(c).unwrap();
    assert!(acked >= 1, "WAIT 1 answered {acked}");
}

fn a_promoted_replica_serves_the_pending_entries_of_a_group(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 1, 2000);
    let seed = cluster.ports()[0];
    let proxy = Proxy::start(seed, &["--retry-deadline-ms", "15000"]);
    let (key, master, replica) = key_off_seed(&cluster, seed, "queue:");
    let mut c = proxy.conn();
    let _: () = cmd("XGROUP").arg("CREATE").arg(&key).arg("workers").arg("$").arg("MKSTREAM").query(&mut c).unwrap();
    let ids: Vec<String> =
        (0..20).map(|i| cmd("XADD").arg(&key).arg("*").arg("job").arg(i).query(&mut c).unwrap()).collect();
    let read: Value = cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg("w1")
        .arg("COUNT")
        .arg(20)
        .arg("STREAMS")
        .arg(&key)
        .arg(">")
        .query(&mut c)
        .unwrap();
    assert!(format!("{read:?}").contains(&ids[19]), "w1 read {read:?}");
    replicated(&mut c);
    fail_over(&mut cluster, &master, &replica);

    // The group and w1's 20 pending entries are on the promoted replica.
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary: Value = loop {
        let got: RedisResult<Value> = cmd("XPENDING").arg(&key).arg("workers").query(&mut c);
        match got {
            Ok(v) => break v,
            Err(e) if Instant::now() < deadline => {
                eprintln!("XPENDING while failing over: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("XPENDING after the failover: {e}"),
        }
    };
    let (count, first, last, consumers): (i64, String, String, Vec<(String, String)>) =
        redis::from_redis_value(&summary).unwrap();
    assert_eq!((count, first.as_str(), last.as_str()), (20, ids[0].as_str(), ids[19].as_str()));
    assert_eq!(consumers, vec![("w1".to_string(), "20".to_string())]);
    // Another worker takes them over and acknowledges them there.
    let claimed: Vec<String> =
        cmd("XCLAIM").arg(&key).arg("workers").arg("w2").arg(0).arg(&ids).arg("JUSTID").query(&mut c).unwrap();
    assert_eq!(claimed, ids);
    let acked: i64 = cmd("XACK").arg(&key).arg("workers").arg(&ids).query(&mut c).unwrap();
    assert_eq!(acked, 20);
    let served: i64 = redis::cmd("XLEN")
        .arg(&key)
        .query(
            &mut redis::Client::open(format!("redis://127.0.0.1:{}", replica.port)).unwrap().get_connection().unwrap(),
        )
        .unwrap();
    assert_eq!(served, 20, "the promoted replica holds the stream");
}

fn a_blocked_xreadgroup_through_the_proxy_gets_its_entry_after_a_failover(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 1, 2000);
    let seed = cluster.ports()[0];
    let proxy = Proxy::start(seed, &["--retry-deadline-ms", "15000"]);
    let (key, master, replica) = key_off_seed(&cluster, seed, "jobs:");
    let mut c = proxy.conn();
    let _: () = cmd("XGROUP").arg("CREATE").arg(&key).arg("workers").arg("$").arg("MKSTREAM").query(&mut c).unwrap();
    replicated(&mut c);

    let mut waiter = proxy.conn();
    let blocked_key = key.clone();
    let started = Instant::now();
    let blocked = std::thread::spawn(move || {
        let got: RedisResult<Value> = cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg("w1")
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(40_000)
            .arg("STREAMS")
            .arg(&blocked_key)
            .arg(">")
            .query(&mut waiter);
        (got, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(!blocked.is_finished(), "XREADGROUP did not block");
    fail_over(&mut cluster, &master, &replica);

    // The job is added once the proxy reaches the new master.
    let deadline = Instant::now() + Duration::from_secs(20);
    let id: String = loop {
        match cmd("XADD").arg(&key).arg("*").arg("job").arg("after-failover").query(&mut c) {
            Ok(id) => break id,
            Err(e) if Instant::now() < deadline => {
                eprintln!("XADD while failing over: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("XADD after the failover: {e}"),
        }
    };
    let (got, waited) = blocked.join().unwrap();
    let got = got.unwrap_or_else(|e| panic!("the blocked client got an error after {waited:?}: {e}"));
    let text = format!("{got:?}");
    assert!(text.contains(&id) && text.contains("after-failover"), "the blocked client got {text}");
    assert!(waited < Duration::from_secs(40), "it waited for its timeout ({waited:?}) instead of the entry");
}
