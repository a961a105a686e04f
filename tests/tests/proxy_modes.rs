//! slotgate-proxy's optional modes, against a Redis 7.0 cluster with one replica per master:
//! `read-policy prefer-replica` sends reads to replicas (the guide's `scaleReads: 'slave'`),
//! and `cluster-emulation` lets cluster-aware clients use the proxy as a one-node cluster.

use std::process::Command;

use slotgate_tests::{q, redis_cli, require_tool, Cluster, Proxy};

/// `cmdstat_<cmd>` calls on the node at `port`.
fn calls(port: u16, cmd: &str) -> u64 {
    let info = redis_cli(port, &["info", "commandstats"]).unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with(&format!("cmdstat_{cmd}:")))
        .and_then(|l| l.split("calls=").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn prefer_replica_sends_reads_to_replicas_and_writes_to_masters() {
    if !require_tool("redis-server") {
        return;
    }
    let c = Cluster::redis(3, 1, 5000);
    let nodes = c.nodes();
    let masters: Vec<u16> = nodes.iter().filter(|n| n.is_master()).map(|n| n.port).collect();
    let replicas: Vec<u16> = nodes.iter().filter(|n| !n.is_master()).map(|n| n.port).collect();
    assert_eq!((masters.len(), replicas.len()), (3, 3));
    let proxy = Proxy::start(masters[0], &["--read-policy", "prefer-replica", "--refresh-interval-ms", "200"]);
    let mut con = proxy.conn();
    for i in 0..300 {
        let () = redis::cmd("SET").arg(format!("rp:{i}")).arg(i).query(&mut con).unwrap();
    }
    // Replication is asynchronous: wait until every replica has every key.
    assert!(slotgate_tests::wait_until(std::time::Duration::from_secs(10), || {
        replicas.iter().map(|p| redis_cli(*p, &["dbsize"]).unwrap().parse::<u64>().unwrap()).sum::<u64>() == 300
    }));
    // Redis lists a replica in CLUSTER SLOTS once it has synced; the proxy picks it up on refresh.
    assert!(
        slotgate_tests::wait_until(std::time::Duration::from_secs(10), || {
            redis_cli(proxy.port, &["info"]).unwrap_or_default().contains("replicas:3")
        }),
        "the proxy never saw the replicas: {:?}",
        redis_cli(proxy.port, &["info"])
    );
    let gets_before: u64 = masters.iter().map(|p| calls(*p, "get")).sum();
    for i in 0..300 {
        let v: i64 = redis::cmd("GET").arg(format!("rp:{i}")).query(&mut con).unwrap();
        assert_eq!(v, i);
    }
    let on_replicas: u64 = replicas.iter().map(|p| calls(*p, "get")).sum();
    let on_masters = masters.iter().map(|p| calls(*p, "get")).sum::<u64>() - gets_before;
    assert_eq!(on_replicas, 300, "every GET should be served by a replica");
    assert_eq!(on_masters, 0);
    // Every write went to a master (replicas count the SETs they replay from their master too,
    // so the masters' counters are the ones that tell).
    assert_eq!(masters.iter().map(|p| calls(*p, "set")).sum::<u64>(), 300, "writes go to masters");
    // A multi-key read is split over replicas too, and still merged in key order.
    let got: Vec<i64> = q(&mut con, &["MGET", "rp:1", "rp:2", "rp:3"]).unwrap();
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn cluster_emulation_serves_cluster_clients() {
    if !require_tool("redis-server") {
        return;
    }
    let c = Cluster::redis(3, 0, 5000);
    let plain = Proxy::start(c.ports()[0], &[]);
    assert_eq!(redis_cli(plain.port, &["cluster", "slots"]).unwrap(), "ERR This instance has cluster support disabled");
    let proxy = Proxy::start(c.ports()[0], &["--cluster-emulation"]);
    let port = proxy.port.to_string();
    let nodes = redis_cli(proxy.port, &["cluster", "nodes"]).unwrap();
    assert!(nodes.contains(&format!("127.0.0.1:{port}@0 myself,master - 0 0 1 connected 0-16383")), "{nodes}");
    let info = redis_cli(proxy.port, &["cluster", "info"]).unwrap();
    assert!(info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:1"), "{info}");
    assert_eq!(redis_cli(proxy.port, &["cluster", "keyslot", "foo"]).unwrap(), "12182");
    // redis-cli in cluster mode and redis-rs's cluster client both work through it.
    let out = Command::new("redis-cli").args(["-c", "-p", &port, "set", "emu:a", "1"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    let client = redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{port}/")]).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..100 {
        let () = redis::cmd("SET").arg(format!("emu:{i}")).arg(i).query(&mut con).unwrap();
    }
    for i in 0..100 {
        let v: i64 = redis::cmd("GET").arg(format!("emu:{i}")).query(&mut con).unwrap();
        assert_eq!(v, i);
    }
    // The keys really live in the cluster behind the proxy, spread over its masters.
    let total: u64 = c.ports().iter().map(|p| redis_cli(*p, &["dbsize"]).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 101);
}

#[test]
fn several_threads_serve_the_same_way_and_a_bad_thread_count_is_refused() {
    if !require_tool("redis-server") {
        return;
    }
    let c = Cluster::redis(3, 0, 5000);
    let seed = c.ports()[0];
    let proxy = Proxy::start(seed, &["--threads", "3"]);
    // Clients on several threads at once, each with a pipeline spanning every node.
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let mut con = proxy.conn();
            std::thread::spawn(move || {
                for round in 0..50 {
                    let mut pipe = redis::pipe();
                    for i in 0..20 {
                        pipe.cmd("SET").arg(format!("t{w}:{round}:{i}")).arg(i).ignore();
                    }
                    for i in 0..20 {
                        pipe.cmd("GET").arg(format!("t{w}:{round}:{i}"));
                    }
                    let got: Vec<i64> = pipe.query(&mut con).unwrap();
                    assert_eq!(got, (0..20).collect::<Vec<i64>>());
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(redis_cli(proxy.port, &["dbsize"]).unwrap(), "6000");

    let out = Command::new(slotgate_tests::binary("slotgate-proxy"))
        .args(["--listen", "127.0.0.1:0", "--seed", &format!("127.0.0.1:{seed}"), "--threads", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("threads: must be between 1 and 256"), "{stderr}");
}
