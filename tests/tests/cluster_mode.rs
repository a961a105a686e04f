//! Cluster mode of slotgate-node through real tools and clients: `redis-cli --cluster`
//! (create, check, reshard, rebalance, add-node, del-node), `redis-benchmark --cluster`,
//! redis-rs cluster-async, redis-py `RedisCluster` and ioredis `Cluster`; restarts from
//! nodes.conf, failure detection, redirections, pub/sub across nodes and bad input.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use protocol::slot::key_slot;
use slotgate_tests::{
    cluster_nodes, ensure_ioredis, js_dir, redis_cli, require_tool, resp, wait_until, Cluster, RawConn,
};

/// `redis-cli --cluster <args>`: success and everything it printed.
fn cli_cluster(args: &[&str]) -> (bool, String) {
    let out = Command::new("redis-cli").arg("--cluster").args(args).output().expect("redis-cli");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `redis-cli --cluster check` passes every check.
fn assert_check_ok(port: u16) {
    let (ok, out) = cli_cluster(&["check", &format!("127.0.0.1:{port}")]);
    assert!(ok, "--cluster check failed:\n{out}");
    assert!(out.contains("[OK] All nodes agree about slots configuration."), "{out}");
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    assert!(!out.contains("[ERR]") && !out.contains("[WARNING]"), "{out}");
}

fn cli(port: u16, args: &[&str]) -> String {
    redis_cli(port, args).unwrap_or_else(|| panic!("redis-cli -p {port} {args:?} failed"))
}

/// The port of the node serving `slot`, from CLUSTER NODES of `via`.
fn owner_port(via: u16, slot: u16) -> u16 {
    slotgate_tests::slot_owner(via, slot).unwrap_or_else(|| panic!("slot {slot} has no owner"))
}

fn node_id(port: u16) -> String {
    cli(port, &["cluster", "myid"])
}

/// Slot owners by node id, as the node on `port` sees them.
fn slot_counts(port: u16) -> HashMap<String, usize> {
    cluster_nodes(port).expect("cluster nodes").into_iter().map(|n| (n.id, n.slots)).collect()
}

#[test]
fn create_and_check_with_3_and_6_masters() {
    if !require_tool("redis-cli") {
        return;
    }
    for masters in [3, 6] {
        let c = Cluster::slotgate(masters, 0, 3000);
        for &p in &c.ports() {
            let nodes = cluster_nodes(p).expect("cluster nodes");
            assert_eq!(nodes.len(), masters, "node {p} knows {nodes:?}");
            assert_eq!(nodes.iter().map(|n| n.slots).sum::<usize>(), 16384);
            let info = cli(p, &["cluster", "info"]);
            assert!(info.contains(&format!("cluster_size:{masters}")), "{info}");
            assert!(cli(p, &["info", "cluster"]).contains("cluster_enabled:1"));
        }
        assert_check_ok(c.ports()[0]);
    }
}

#[test]
fn redirections_have_redis_texts() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 3000);
    let ports = c.ports();
    let slot = key_slot(b"foo");
    assert_eq!(slot, 12182);
    assert_eq!(cli(ports[0], &["cluster", "keyslot", "foo"]), "12182");
    let owner = owner_port(ports[0], slot);
    let other = *ports.iter().find(|p| **p != owner).unwrap();
    assert_eq!(cli(other, &["get", "foo"]), format!("MOVED 12182 127.0.0.1:{owner}"));
    assert_eq!(cli(owner, &["set", "foo", "bar"]), "OK");
    assert_eq!(cli(owner, &["get", "foo"]), "bar");
    assert_eq!(cli(owner, &["mget", "foo", "a"]), "CROSSSLOT Keys in request don't hash to the same slot");
    assert_eq!(cli(owner, &["cluster", "countkeysinslot", "12182"]), "1");
    assert_eq!(cli(owner, &["cluster", "getkeysinslot", "12182", "10"]), "foo");

    // A slot in migration: ASK for keys already gone, TRYAGAIN for partial multi-key requests,
    // and the importing side serves only after ASKING.
    let (src_id, dst_id) = (node_id(owner), node_id(other));
    assert_eq!(cli(other, &["cluster", "setslot", "12182", "importing", &src_id]), "OK");
    assert_eq!(cli(owner, &["cluster", "setslot", "12182", "migrating", &dst_id]), "OK");
    assert!(cli(owner, &["cluster", "nodes"]).contains(&format!("[12182->-{dst_id}]")));
    assert!(cli(other, &["cluster", "nodes"]).contains(&format!("[12182-<-{src_id}]")));
    assert_eq!(cli(owner, &["get", "foo"]), "bar");
    let tagged = ["{foo}x", "{foo}y"];
    assert_eq!(cli(owner, &["get", tagged[0]]), format!("ASK 12182 127.0.0.1:{other}"));
    assert_eq!(cli(owner, &["mget", "foo", tagged[0]]), "TRYAGAIN Multiple keys request during rehashing of slot");
    assert_eq!(cli(other, &["get", tagged[0]]), format!("MOVED 12182 127.0.0.1:{owner}"));
    let mut raw = RawConn(TcpStream::connect(("127.0.0.1", other)).unwrap());
    raw.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.roundtrip(&resp(&[b"ASKING"]), "+OK\r\n");
    raw.roundtrip(&resp(&[b"SET", tagged[0].as_bytes(), b"1"]), "+OK\r\n");
    // ASKING covers one command only.
    raw.roundtrip(&resp(&[b"GET", tagged[0].as_bytes()]), &format!("-MOVED 12182 127.0.0.1:{owner}\r\n"));
    raw.roundtrip(&resp(&[b"ASKING"]), "+OK\r\n");
    raw.roundtrip(
        &resp(&[b"MGET", tagged[0].as_bytes(), tagged[1].as_bytes()]),
        "-TRYAGAIN Multiple keys request during rehashing of slot\r\n",
    );
    for p in [owner, other] {
        assert_eq!(cli(p, &["cluster", "setslot", "12182", "stable"]), "OK");
    }
    assert_check_ok(owner);
}

#[test]
fn bad_cluster_commands_and_bus_garbage_leave_the_state_alone() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 3000);
    let p = c.ports()[0];
    let before = slot_counts(p);
    let unknown = "0123456789012345678901234567890123456789";
    let cases: &[(&[&str], &str)] = &[
        (&["cluster", "addslots", "16384"], "ERR Invalid or out of range slot"),
        (&["cluster", "addslots", "-1"], "ERR Invalid or out of range slot"),
        (&["cluster", "addslots", "abc"], "ERR Invalid or out of range slot"),
        (&["cluster", "addslots", "0"], "ERR Slot 0 is already busy"),
        (&["cluster", "addslotsrange", "10", "5"], "ERR start slot number 10 is greater than end slot number 5"),
        (&["cluster", "delslots", "1", "1"], "ERR Slot 1 specified multiple times"),
        (&["cluster", "setslot", "1", "node", unknown], &format!("ERR I don't know about node {unknown}")),
        (
            &["cluster", "setslot", "1", "sideways", unknown],
            "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
        ),
        (&["cluster", "setslot", "99999", "stable"], "ERR Invalid or out of range slot"),
        (&["cluster", "forget", unknown], &format!("ERR Unknown node {unknown}")),
        (&["cluster", "count-failure-reports", "nobody"], "ERR Unknown node nobody"),
        (&["cluster", "countkeysinslot", "abc"], "ERR Invalid slot"),
        (&["cluster", "getkeysinslot", "1", "-5"], "ERR Invalid slot or number of keys"),
        (&["cluster", "meet", "1.2.3", "7000"], "ERR Invalid node address specified: 1.2.3:7000"),
        (&["cluster", "meet", "127.0.0.1", "notaport"], "ERR Invalid base port specified: notaport"),
        (
            &["cluster", "set-config-epoch", "5"],
            "ERR The user can assign a config epoch only when the node does not know any other node.",
        ),
        (&["cluster", "reset", "sideways"], "ERR syntax error"),
        (&["cluster", "forget", &node_id(p)], "ERR I tried hard but I can't forget myself..."),
        (&["cluster", "frobnicate"], "ERR unknown subcommand 'frobnicate'. Try CLUSTER HELP."),
        (&["cluster"], "ERR wrong number of arguments for 'cluster' command"),
    ];
    for (args, want) in cases {
        assert_eq!(&cli(p, args), want, "{args:?}");
    }
    // Garbage on the bus port: the node drops the link and keeps its state.
    for junk in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"*1\r\n$4\r\nPING\r\n",
        &[0xffu8; 4096][..],
        b"SGbu\x00\x01\x00\x00\xff\xff\xff\xff",
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", p + 10000)).expect("bus port");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(junk);
        let mut buf = [0u8; 64];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)), "the bus answered garbage");
    }
    assert_eq!(cli(p, &["ping"]), "PONG");
    assert_eq!(slot_counts(p), before);
    assert_check_ok(p);
}

#[test]
fn restart_from_nodes_conf_keeps_ids_and_slots() {
    if !require_tool("redis-cli") {
        return;
    }
    let mut c = Cluster::slotgate(3, 0, 3000);
    let ports = c.ports();
    let ids: Vec<String> = ports.iter().map(|p| node_id(*p)).collect();
    let before = slot_counts(ports[0]);
    let epoch_before: Vec<String> = ports.iter().map(|p| cli(*p, &["cluster", "info"])).collect();
    for &p in &ports {
        c.stop(p);
    }
    for &p in &ports {
        c.restart(p);
    }
    assert!(wait_until(Duration::from_secs(30), || c.all_ok()), "cluster_state did not return to ok");
    let after: Vec<String> = ports.iter().map(|p| node_id(*p)).collect();
    assert_eq!(ids, after);
    for &p in &ports {
        assert_eq!(slot_counts(p), before);
    }
    let epoch = |s: &str| s.lines().find(|l| l.starts_with("cluster_my_epoch")).map(str::to_string);
    for (i, p) in ports.iter().enumerate() {
        assert_eq!(epoch(&cli(*p, &["cluster", "info"])), epoch(&epoch_before[i]));
    }
    assert_check_ok(ports[0]);
}

#[test]
fn killed_master_is_failed_within_twice_the_node_timeout() {
    if !require_tool("redis-cli") {
        return;
    }
    let timeout = Duration::from_millis(3000);
    let mut c = Cluster::slotgate(3, 0, timeout.as_millis() as u64);
    let ports = c.ports();
    let victim = ports[2];
    let victim_id = node_id(victim);
    c.kill(victim);
    let started = Instant::now();
    let failed = wait_until(timeout * 2, || {
        ports[..2].iter().all(|&p| {
            let marked = cluster_nodes(p).is_some_and(|n| n.iter().any(|n| n.id == victim_id && n.is_failed()));
            marked && cli(p, &["cluster", "info"]).contains("cluster_state:fail")
        })
    });
    println!("marked fail after {} ms (node timeout {} ms)", started.elapsed().as_millis(), timeout.as_millis());
    assert!(failed, "the others did not mark the killed master as failed within twice the node timeout");
    // Without full coverage, reads and writes to the covered slots go on.
    c.restart(victim);
    assert!(wait_until(Duration::from_secs(30), || c.all_ok()), "cluster_state:ok did not come back");
    assert_check_ok(ports[0]);
}

#[test]
fn publish_reaches_every_node_and_shard_channels_follow_slots() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 3000);
    let ports = c.ports();
    let mut sub = RawConn(TcpStream::connect(("127.0.0.1", ports[0])).unwrap());
    sub.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.roundtrip(&resp(&[b"SUBSCRIBE", b"news"]), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
    // Redis counts only the receivers on the publishing node.
    assert_eq!(cli(ports[1], &["publish", "news", "hello"]), "0");
    let want = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    assert_eq!(String::from_utf8_lossy(&sub.read_exact_len(want.len())), want);

    let slot = key_slot(b"orders");
    let owner = owner_port(ports[0], slot);
    let other = *ports.iter().find(|p| **p != owner).unwrap();
    let mut wrong = RawConn(TcpStream::connect(("127.0.0.1", other)).unwrap());
    wrong.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    wrong.roundtrip(&resp(&[b"SSUBSCRIBE", b"orders"]), &format!("-MOVED {slot} 127.0.0.1:{owner}\r\n"));
    let mut ssub = RawConn(TcpStream::connect(("127.0.0.1", owner)).unwrap());
    ssub.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    ssub.roundtrip(&resp(&[b"SSUBSCRIBE", b"orders"]), "*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n");
    assert_eq!(cli(other, &["spublish", "orders", "x"]), format!("MOVED {slot} 127.0.0.1:{owner}"));
    assert_eq!(cli(owner, &["spublish", "orders", "x"]), "1");
    let want = "*3\r\n$8\r\nsmessage\r\n$6\r\norders\r\n$1\r\nx\r\n";
    assert_eq!(String::from_utf8_lossy(&ssub.read_exact_len(want.len())), want);
    // The slot moves away: its shard subscribers are unsubscribed and told so.
    let other_id = node_id(other);
    for p in &ports {
        assert_eq!(cli(*p, &["cluster", "setslot", &slot.to_string(), "node", &other_id]), "OK");
    }
    let want = "*3\r\n$12\r\nsunsubscribe\r\n$6\r\norders\r\n:0\r\n";
    assert_eq!(String::from_utf8_lossy(&ssub.read_exact_len(want.len())), want);
    assert_eq!(cli(other, &["pubsub", "shardnumsub", "orders"]), "orders\n0");
    assert_check_ok(owner);
}

#[test]
fn redis_benchmark_cluster_mode_runs() {
    if !require_tool("redis-benchmark") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 5000);
    let port = c.ports()[0].to_string();
    let out = Command::new("redis-benchmark")
        .args(["--cluster", "-p", &port, "-t", "set,get", "-n", "20000", "-c", "20", "-r", "1000", "-q"])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for t in ["SET: ", "GET: "] {
        let line = text.split(['\r', '\n']).rfind(|l| l.starts_with(t)).unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains("requests per second"), "{line}");
    }
    // The keys landed on every master.
    for p in c.ports() {
        assert!(cli(p, &["dbsize"]).parse::<u64>().unwrap() > 0, "node {p} got no keys");
    }
}

#[test]
fn redis_rs_cluster_async_client() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 5000);
    let urls: Vec<String> = c.ports().iter().map(|p| format!("redis://127.0.0.1:{p}/")).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = redis::cluster::ClusterClient::new(urls).unwrap();
        let mut con = client.get_async_connection().await.expect("cluster connection");
        for i in 0..200 {
            let () = redis::cmd("SET").arg(format!("k:{i}")).arg(i).query_async(&mut con).await.unwrap();
        }
        for i in 0..200 {
            let v: i64 = redis::cmd("GET").arg(format!("k:{i}")).query_async(&mut con).await.unwrap();
            assert_eq!(v, i);
        }
        let (fields, expired, added): (i64, bool, i64) = redis::pipe()
            .cmd("HSET")
            .arg("user:{1000}:session")
            .arg(&["lastSeen", "1", "ip", "10.0.0.1", "agent", "test"])
            .cmd("EXPIRE")
            .arg("user:{1000}:session")
            .arg(3600)
            .cmd("ZADD")
            .arg("user:{1000}:activity")
            .arg(1)
            .arg("login")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!((fields, expired, added), (3, true, 1));
        let () = redis::cmd("MSET").arg(&["{1000}a", "1", "{1000}b", "2"]).query_async(&mut con).await.unwrap();
        let got: Vec<Option<String>> =
            redis::cmd("MGET").arg(&["{1000}a", "{1000}b", "{1000}c"]).query_async(&mut con).await.unwrap();
        assert_eq!(got, vec![Some("1".into()), Some("2".into()), None]);
    });
    // The keys really are spread over the masters.
    let total: u64 = c.ports().iter().map(|p| cli(*p, &["dbsize"]).parse::<u64>().unwrap()).sum();
    assert_eq!(total, 200 + 2 + 2);
}

fn run_script(program: &str, script: std::path::PathBuf, ports: &[u16]) {
    let out = Command::new(program)
        .arg(&script)
        .args(ports.iter().map(|p| p.to_string()))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{} failed:\nstdout: {}\nstderr: {}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ioredis_and_redis_py_cluster_clients() {
    if !require_tool("node") || !require_tool("npm") || !require_tool("python3") {
        return;
    }
    ensure_ioredis();
    let c = Cluster::slotgate(3, 0, 5000);
    let ports = c.ports();
    run_script("node", js_dir().join("cluster_scenarios.js"), &ports);
    let py = js_dir().parent().unwrap().join("py").join("cluster_scenarios.py");
    run_script("python3", py, &ports[..1]);
    // Both clients really wrote through the cluster: the session hash is on its owner.
    let owner = owner_port(ports[0], key_slot(b"user:{1000}:session"));
    assert_eq!(cli(owner, &["hget", "user:{1000}:session", "ip"]), "10.0.0.1");
}

/// Keys whose slots are all below `max_slot`, `n` of them.
fn keys_below_slot(n: usize, max_slot: u16) -> Vec<String> {
    (0..).map(|i| format!("item:{i}")).filter(|k| key_slot(k.as_bytes()) < max_slot).take(n).collect()
}

/// Reads every key from the node that owns it now (as seen by `via`) and compares values.
fn assert_all_readable(via: u16, keys: &[String]) {
    let mut owner = vec![0u16; 16384];
    for n in cluster_nodes(via).expect("cluster nodes") {
        for (a, b) in n.ranges {
            owner[a as usize..=b as usize].fill(n.port);
        }
    }
    let mut conns: HashMap<u16, redis::Connection> = HashMap::new();
    let mut by_port: HashMap<u16, Vec<&String>> = HashMap::new();
    for k in keys {
        by_port.entry(owner[key_slot(k.as_bytes()) as usize]).or_default().push(k);
    }
    for (port, ks) in by_port {
        assert_ne!(port, 0, "a key's slot has no owner");
        let con = conns.entry(port).or_insert_with(|| {
            redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
        });
        for chunk in ks.chunks(500) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("GET").arg(*k);
            }
            let got: Vec<Option<String>> = pipe.query(con).unwrap();
            for (k, v) in chunk.iter().zip(got) {
                assert_eq!(v.as_deref(), Some(format!("value-of-{k}").as_str()), "key {k} on {port}");
            }
        }
    }
}

#[test]
fn reshard_rebalance_add_node_and_del_node_keep_every_key() {
    if !require_tool("redis-cli") {
        return;
    }
    let mut c = Cluster::slotgate(3, 0, 5000);
    let ports = c.ports();
    // 10,000 keys, all in slots 0..1000, which the first master owns after create.
    let keys = keys_below_slot(10_000, 1000);
    let first = owner_port(ports[0], 0);
    let mut con = redis::Client::open(format!("redis://127.0.0.1:{first}/")).unwrap().get_connection().unwrap();
    for chunk in keys.chunks(1000) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("SET").arg(k).arg(format!("value-of-{k}")).ignore();
        }
        let () = pipe.query(&mut con).unwrap();
    }
    let (from, to) = (node_id(first), node_id(*ports.iter().find(|p| **p != first).unwrap()));
    let (ok, out) = cli_cluster(&[
        "reshard",
        &format!("127.0.0.1:{first}"),
        "--cluster-from",
        &from,
        "--cluster-to",
        &to,
        "--cluster-slots",
        "1000",
        "--cluster-yes",
    ]);
    assert!(ok, "reshard failed:\n{out}");
    assert_eq!(cli(first, &["dbsize"]), "0", "the moved slots' keys left the source");
    assert_all_readable(first, &keys);
    assert_check_ok(first);

    let (ok, out) = cli_cluster(&["rebalance", &format!("127.0.0.1:{first}")]);
    assert!(ok, "rebalance failed:\n{out}");
    assert_all_readable(first, &keys);
    assert_check_ok(first);

    let new = c.add_node();
    let (ok, out) = cli_cluster(&["add-node", &format!("127.0.0.1:{new}"), &format!("127.0.0.1:{first}")]);
    assert!(ok, "add-node failed:\n{out}");
    assert!(
        wait_until(Duration::from_secs(20), || c
            .ports()
            .iter()
            .all(|p| cluster_nodes(*p).is_some_and(|n| n.len() == 4))),
        "the new node did not become known to every node"
    );
    let (ok, out) = cli_cluster(&["rebalance", &format!("127.0.0.1:{first}"), "--cluster-use-empty-masters"]);
    assert!(ok, "rebalance --cluster-use-empty-masters failed:\n{out}");
    let new_id = node_id(new);
    let new_slots = slot_counts(first)[&new_id];
    assert!(new_slots > 3000, "the empty master got only {new_slots} slots");
    assert_all_readable(first, &keys);
    assert_check_ok(first);

    // Empty the new node, then remove it.
    let (ok, out) = cli_cluster(&[
        "reshard",
        &format!("127.0.0.1:{first}"),
        "--cluster-from",
        &new_id,
        "--cluster-to",
        &from,
        "--cluster-slots",
        &new_slots.to_string(),
        "--cluster-yes",
    ]);
    assert!(ok, "reshard off the new node failed:\n{out}");
    let (ok, out) = cli_cluster(&["del-node", &format!("127.0.0.1:{first}"), &new_id]);
    assert!(ok, "del-node failed:\n{out}");
    c.forget_process(new);
    for p in c.ports() {
        assert!(cluster_nodes(p).is_some_and(|n| n.len() == 3 && n.iter().all(|n| n.id != new_id)));
    }
    assert_all_readable(first, &keys);
    assert_check_ok(first);
}

#[test]
fn transactions_must_stay_in_one_slot() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 5000);
    let ports = c.ports();
    // Two keys on the same node but in different slots.
    let owner = owner_port(ports[0], key_slot(b"{a}1"));
    let other_key = (0..)
        .map(|i| format!("k{i}"))
        .find(|k| key_slot(k.as_bytes()) != key_slot(b"{a}1") && owner_port(ports[0], key_slot(k.as_bytes())) == owner)
        .unwrap();
    let mut raw = RawConn(TcpStream::connect(("127.0.0.1", owner)).unwrap());
    raw.0.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.roundtrip(&resp(&[b"MULTI"]), "+OK\r\n");
    raw.roundtrip(&resp(&[b"SET", b"{a}1", b"x"]), "+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"SET", other_key.as_bytes(), b"y"]), "+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"EXEC"]), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
    for k in ["{a}1", &other_key] {
        assert_eq!(cli(owner, &["exists", k]), "0", "nothing of the transaction ran");
    }
    raw.roundtrip(&resp(&[b"MULTI"]), "+OK\r\n");
    raw.roundtrip(&resp(&[b"SET", b"{a}1", b"x"]), "+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"INCR", b"{a}2"]), "+QUEUED\r\n");
    raw.roundtrip(&resp(&[b"EXEC"]), "*2\r\n+OK\r\n:1\r\n");
}

/// CONFIG SET cluster-announce-port is announced at once, as in Redis: the node shows the new
/// port for itself, and the other nodes learn it from its next ping.
#[test]
fn config_set_announce_port_is_announced_at_once() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 3000);
    let ports = c.ports();
    let myself_line = |port: u16, of: u16| {
        let id = redis_cli(of, &["CLUSTER", "MYID"]).unwrap();
        redis_cli(port, &["CLUSTER", "NODES"]).unwrap().lines().find(|l| l.starts_with(&id)).unwrap().to_string()
    };
    assert!(myself_line(ports[0], ports[0]).contains(&format!(":{}@", ports[0])));
    assert_eq!(redis_cli(ports[0], &["CONFIG", "SET", "cluster-announce-port", "6999"]).as_deref(), Some("OK"));
    assert!(myself_line(ports[0], ports[0]).contains(":6999@"), "{}", myself_line(ports[0], ports[0]));
    assert!(
        wait_until(Duration::from_secs(10), || myself_line(ports[1], ports[0]).contains(":6999@")),
        "the others did not learn the new port: {}",
        myself_line(ports[1], ports[0])
    );
    // Back to the bound port: announced again.
    assert_eq!(redis_cli(ports[0], &["CONFIG", "SET", "cluster-announce-port", "0"]).as_deref(), Some("OK"));
    assert!(
        wait_until(Duration::from_secs(10), || myself_line(ports[2], ports[0]).contains(&format!(":{}@", ports[0])))
    );
}

/// A TCP relay on a loopback port to `target`, counting the connections it took; it stops
/// accepting when dropped (relayed connections end with their peers).
struct Relay {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    fn to(target: u16) -> Relay {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, done) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                count.fetch_add(1, Ordering::Relaxed);
                client.set_nonblocking(false).unwrap();
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), upstream.try_clone().unwrap()), (upstream, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, accepted, stop }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn config_set_announce_bus_port_moves_the_peers_links() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 3000);
    let ports = c.ports();
    // The new bus port only leads to node 0 through the relay: peers that use it connect there.
    let relay = Relay::to(ports[0] + 10000);
    let id = redis_cli(ports[0], &["CLUSTER", "MYID"]).unwrap();
    let line_of = |port: u16| {
        redis_cli(port, &["CLUSTER", "NODES"]).unwrap().lines().find(|l| l.starts_with(&id)).unwrap().to_string()
    };
    let announced = format!("@{}", relay.port);
    let bus_port = relay.port.to_string();
    assert_eq!(redis_cli(ports[0], &["CONFIG", "SET", "cluster-announce-bus-port", &bus_port]).as_deref(), Some("OK"));
    assert!(line_of(ports[0]).contains(&announced), "{}", line_of(ports[0]));
    for &p in &ports[1..] {
        assert!(
            wait_until(Duration::from_secs(10), || line_of(p).contains(&announced)),
            "node :{p} did not learn the new bus port: {}",
            line_of(p)
        );
    }
    // Both peers relinked to the announced port, and the cluster stays healthy over it.
    assert!(
        wait_until(Duration::from_secs(10), || relay.accepted() >= 2),
        "the peers did not reconnect to the announced bus port ({} links through the relay)",
        relay.accepted()
    );
    std::thread::sleep(Duration::from_secs(2));
    for &p in &ports {
        let info = redis_cli(p, &["CLUSTER", "INFO"]).unwrap();
        assert!(info.contains("cluster_state:ok"), ":{p}\n{info}");
        assert!(!line_of(p).contains("fail"), ":{p} {}", line_of(p));
    }
}
