//! `slotgate health` and `slotgate metrics` against real clusters of both kinds: a clean
//! cluster, a slot left migrating, a SIGKILLed master before and after its failover, INFO figures
//! summed over the masters, the proxy's counters, and bad input (no seed answers, a wrong
//! password, a peer that speaks no RESP).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use slotgate_tests::{binary, cluster_nodes, free_port, redis_cli, require_tool, wait_until, Cluster, Kind, Proxy};

slotgate_tests::on_both_clusters!(
    health_is_clean_then_reports_an_open_slot_and_a_dead_master,
    metrics_sum_the_masters_and_read_the_proxy
);

fn slotgate(args: &[&str]) -> Output {
    Command::new(binary("slotgate")).args(args).env("NO_COLOR", "1").output().expect("cannot run slotgate")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `slotgate health --json` via `port`: (exit status, report).
fn health(port: u16) -> (i32, Value) {
    let o = slotgate(&["health", "-s", &format!("127.0.0.1:{port}"), "--json"]);
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    (o.status.code().unwrap_or(-1), report)
}

/// GET `path` from an HTTP server on loopback: (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    try_get(port, path).unwrap_or_else(|e| panic!("GET {path} from port {port}: {e}"))
}

fn try_get(port: u16, path: &str) -> std::io::Result<(String, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.lines().next().unwrap_or("").to_string(), body.to_string()))
}

fn problems(r: &Value) -> Vec<String> {
    r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["node"].as_str().unwrap_or("-"), p["text"].as_str().unwrap()))
        .collect()
}

fn health_is_clean_then_reports_an_open_slot_and_a_dead_master(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let mut cluster = Cluster::create(kind, 3, 1, 2000);
    let seed = cluster.ports()[0];
    let admin = free_port();
    let proxy = Proxy::start(seed, &["--admin-listen", &format!("127.0.0.1:{admin}"), "--retry-deadline-ms", "15000"]);

    let (code, r) = health(seed);
    assert_eq!(problems(&r), Vec::<String>::new());
    assert_eq!(code, 0);
    assert_eq!(r["status"], "ok");
    assert_eq!((r["nodes_total"].as_u64(), r["nodes_healthy"].as_u64()), (Some(6), Some(6)));
    assert_eq!((r["masters"].as_u64(), r["replicas"].as_u64()), (Some(3), Some(3)));
    assert_eq!((r["slots_assigned"].as_u64(), r["slots_unassigned"].as_u64()), (Some(16384), Some(0)));
    let human = slotgate(&["health", "-s", &format!("127.0.0.1:{seed}")]);
    assert!(text(&human).contains("no problems found"), "{}", text(&human));

    // A slot left migrating, as an interrupted reshard leaves it.
    let nodes = cluster.nodes();
    let owner = nodes.iter().find(|n| n.is_master() && n.slots > 0).unwrap().clone();
    let other = nodes.iter().find(|n| n.is_master() && n.id != owner.id).unwrap().clone();
    let slot = first_slot(owner.port).expect("the owner serves a slot");
    redis_cli(owner.port, &["cluster", "setslot", &slot.to_string(), "migrating", &other.id]).unwrap();
    let (code, r) = health(seed);
    let want = format!("127.0.0.1:{} slot {slot} left migrating to 127.0.0.1:{}", owner.port, other.port);
    assert!(problems(&r).contains(&want), "{:?} lacks {want}", problems(&r));
    assert_eq!(code, 1);
    redis_cli(owner.port, &["cluster", "setslot", &slot.to_string(), "stable"]).unwrap();
    assert_eq!(health(seed).0, 0);

    // A master SIGKILLed: once its replica took over, the dead node and the master left
    // without a replica are reported, and the cluster serves every slot (degraded, exit 1).
    let victim = nodes.iter().find(|n| n.is_master() && n.port != seed && n.slots > 0).unwrap().clone();
    let replica = nodes.iter().find(|n| n.master_id.as_deref() == Some(victim.id.as_str())).unwrap().clone();
    let observer = cluster.ports().into_iter().find(|&p| p != victim.port && p != replica.port).unwrap();
    // The proxy knows the replicas before the master dies (Redis lists them in CLUSTER SLOTS
    // once they synced; the proxy refreshes every 5 s).
    let knows = wait_until(Duration::from_secs(15), || {
        try_get(admin, "/metrics").is_ok_and(|(_, b)| b.lines().any(|l| l == "slotgate_topology_replicas 3"))
    });
    assert!(knows, "{}", http_get(admin, "/metrics").1);
    cluster.kill(victim.port);
    let promoted = wait_until(Duration::from_secs(30), || {
        cluster_nodes(observer).is_some_and(|ns| ns.iter().any(|n| n.id == replica.id && n.is_master()))
            && cluster
                .ports()
                .iter()
                .filter(|&&p| p != victim.port)
                .all(|&p| redis_cli(p, &["cluster", "info"]).is_some_and(|i| i.contains("cluster_state:ok")))
    });
    assert!(promoted, "the replica did not take over");
    // The proxy saw the failover (its topology refresh finds the replica serving the slots).
    let mut c = proxy.conn();
    let _: Option<String> = redis::cmd("GET").arg("after-failover").query(&mut c).unwrap();
    let mut errors = Vec::new();
    let saw = wait_until(Duration::from_secs(20), || match try_get(admin, "/metrics") {
        Ok((_, body)) => body.lines().any(|l| l == "slotgate_topology_failovers_total 1"),
        Err(e) => {
            errors.push(e.to_string());
            false
        }
    });
    assert!(saw, "{errors:?}\n{}\n{}", try_get(admin, "/metrics").map(|r| r.1).unwrap_or_default(), proxy.log());
    let (code, r) = health(observer);
    let found = problems(&r);
    let dead = format!("127.0.0.1:{}", victim.port);
    assert!(found.iter().any(|p| p.starts_with(&dead) && p.contains("unreachable")), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with(&dead) && p.contains("flagged fail")), "{found:?}");
    let lone = format!("127.0.0.1:{} master has no working replica", replica.port);
    assert!(found.contains(&lone), "{found:?} lacks {lone}");
    assert_eq!(code, 1, "{found:?}");
    assert_eq!(r["status"], "degraded");
    assert_eq!(r["slots_unassigned"].as_u64(), Some(0));
    // The dead master is listed, but counted among neither the working masters nor replicas.
    assert_eq!((r["nodes_total"].as_u64(), r["masters"].as_u64(), r["replicas"].as_u64()), (Some(6), Some(3), Some(2)));
    let node = r["nodes"].as_array().unwrap().iter().find(|n| n["addr"] == dead.as_str()).unwrap().clone();
    assert_eq!(node["health"], "unreachable");

    // --watch prints a report per refresh, up to --count.
    let o = slotgate(&["health", "-s", &format!("127.0.0.1:{observer}"), "--watch", "0.2", "--count", "2"]);
    assert_eq!(text(&o).matches("cluster: degraded").count(), 2, "{}", text(&o));
    assert_eq!(o.status.code(), Some(1));
}

/// The first slot a master serves.
fn first_slot(port: u16) -> Option<u16> {
    let nodes = redis_cli(port, &["cluster", "nodes"])?;
    let me = nodes.lines().find(|l| l.contains("myself"))?;
    let range = me.split_whitespace().nth(8)?;
    range.split('-').next()?.parse().ok()
}

fn metrics_sum_the_masters_and_read_the_proxy(kind: Kind) {
    if (kind == Kind::Redis && !require_tool("redis-server")) || !require_tool("redis-cli") {
        return;
    }
    let cluster = Cluster::create(kind, 3, 1, 5000);
    let seed = cluster.ports()[0];
    let admin = free_port();
    let proxy = Proxy::start(seed, &["--admin-listen", &format!("127.0.0.1:{admin}")]);
    let mut c = proxy.conn();
    for i in 0..300 {
        redis::cmd("SET").arg(format!("k{i}")).arg(i).query::<()>(&mut c).unwrap();
    }
    for i in 0..400 {
        // 300 hits, 100 misses.
        redis::cmd("GET").arg(format!("k{i}")).query::<Option<String>>(&mut c).unwrap();
    }
    let o = slotgate(&["metrics", "-s", &format!("127.0.0.1:{seed}"), "--json", "--interval", "0.3"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &m["totals"];
    assert_eq!(t["masters"].as_u64(), Some(3));
    assert_eq!(t["keys"].as_u64(), Some(300));
    assert_eq!(m["nodes"].as_array().unwrap().len(), 3, "masters only without --all");
    assert!(t["keyspace_hits"].as_u64().unwrap() >= 300 && t["keyspace_misses"].as_u64().unwrap() >= 100);
    assert!(t["total_commands_processed"].as_u64().unwrap() >= 700);
    assert!(t["used_memory"].as_u64().unwrap() > 0);

    // ops/s over the interval, while a client works through the proxy.
    let port = proxy.port;
    let busy = std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        let mut n = 0;
        while std::time::Instant::now() < deadline && n < 200_000 {
            let _: () = redis::cmd("SET").arg(format!("busy{}", n % 1000)).arg(n).query(&mut c).unwrap();
            n += 1;
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let all = slotgate(&[
        "metrics",
        "-s",
        &format!("127.0.0.1:{seed}"),
        "--all",
        "--json",
        "--interval",
        "1",
        "--proxy",
        &format!("127.0.0.1:{admin}"),
    ]);
    busy.join().unwrap();
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    let m: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(m["nodes"].as_array().unwrap().len(), 6);
    assert!(m["totals"]["ops_per_sec"].as_f64().unwrap() > 50.0, "{}", m["totals"]);
    let replicas: Vec<&Value> = m["nodes"].as_array().unwrap().iter().filter(|n| n["role"] == "replica").collect();
    assert_eq!(replicas.len(), 3);
    assert!(m["proxy"]["commands"].as_f64().unwrap() >= 700.0, "{}", m["proxy"]);
    assert!(m["proxy"]["latency_p50_ms"].as_f64().is_some());

    // The proxy's own scrape: counters named as Prometheus wants, commands seen only, every
    // master it used with its role, and the topology (replicas once a refresh lists them).
    let replicas_listed = wait_until(Duration::from_secs(15), || {
        http_get(admin, "/metrics").1.lines().any(|l| l == "slotgate_topology_replicas 3")
    });
    assert!(replicas_listed, "{}", http_get(admin, "/metrics").1);
    let (status, scrape) = http_get(admin, "/metrics");
    assert!(status.contains("200"), "{status}");
    for want in [
        "# TYPE slotgate_proxy_redirects_total counter",
        "# TYPE slotgate_proxy_commands_total counter",
        "slotgate_topology_slots_covered 16384",
        "slotgate_topology_masters 3",
        "slotgate_topology_replicas 3",
        "slotgate_topology_failovers_total 0",
    ] {
        assert!(scrape.lines().any(|l| l == want), "{want} missing:\n{scrape}");
    }
    assert!(scrape.contains("slotgate_proxy_commands_total{command=\"set\"}"), "{scrape}");
    assert!(!scrape.contains("command=\"zadd\""), "a command never sent is listed:\n{scrape}");
    let up: Vec<&str> =
        scrape.lines().filter(|l| l.starts_with("slotgate_backend_up{") && l.contains("role=\"master\"")).collect();
    assert_eq!(up.len(), 3, "{scrape}");
    assert!(up.iter().all(|l| l.ends_with(" 1")), "{up:?}");
    assert!(scrape.contains("slotgate_backend_reply_latency_seconds_count{node="), "{scrape}");

    let prom = slotgate(&["metrics", "-s", &format!("127.0.0.1:{seed}"), "--prometheus", "--interval", "0.1"]);
    let p = text(&prom);
    assert!(p.contains("# TYPE slotgate_node_commands_processed_total counter"), "{p}");
    assert_eq!(p.lines().filter(|l| l.starts_with("slotgate_node_up{")).count(), 3, "{p}");
    assert!(p.contains("slotgate_cluster_masters 3"), "{p}");
}

#[test]
fn bad_input_gets_a_clear_message_and_exit_2() {
    if !require_tool("redis-cli") {
        return;
    }
    // Nothing listens.
    let dead = free_port();
    let o = slotgate(&["health", "-s", &format!("127.0.0.1:{dead}")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no seed answered") && text(&o).contains("refused"), "{}", text(&o));

    // A peer that answers garbage.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let o = slotgate(&["metrics", "-s", &format!("127.0.0.1:{garbage}"), "--timeout", "2"]);
    server.join().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a RESP reply"), "{}", text(&o));

    // A wrong password.
    let cluster = Cluster::create(Kind::Slotgate, 3, 0, 5000);
    let seed = format!("127.0.0.1:{}", cluster.ports()[0]);
    let o = slotgate(&["health", "-s", &seed, "--pass", "wrong"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("AUTH failed"), "{}", text(&o));
    // The second seed answers when the first does not.
    let o = slotgate(&["health", "-s", &format!("127.0.0.1:{dead}"), "-s", &seed, "--json"]);
    assert_eq!(o.status.code(), Some(1), "a master without replicas is degraded: {}", text(&o));
}
