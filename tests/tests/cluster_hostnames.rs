//! Redis 7.0's announced hostnames, differential against redis-server: the same cluster of
//! 3 masters and 3 replicas on both servers, `cluster-announce-hostname` set on each node and
//! spread by gossip, then for each `cluster-preferred-endpoint-type` the replies of CLUSTER
//! SLOTS, CLUSTER SHARDS, CLUSTER NODES and the MOVED redirections compared, with ports, bus
//! ports, node ids and replication offsets replaced by the node's index.

use std::time::Duration;

use redis::Value;
use slotgate_tests::{cluster_nodes, key_on, redis_cli, require_tool, wait_until, Cluster};

/// The cluster's names: node i has ports[i], bus port cports[i], id ids[i] and a label that
/// does not depend on how `redis-cli --cluster create` paired replicas with masters: `m<k>` for
/// the master of the k-th third of the slots, `r<k>` for its replica.
struct Names {
    ports: Vec<u16>,
    cports: Vec<u16>,
    ids: Vec<String>,
    labels: Vec<String>,
}

impl Names {
    fn of(c: &Cluster) -> Names {
        let ports = c.ports();
        let nodes = cluster_nodes(ports[0]).expect("CLUSTER NODES");
        let (mut ids, mut cports, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for p in &ports {
            let id = redis_cli(*p, &["CLUSTER", "MYID"]).expect("CLUSTER MYID");
            let line = redis_cli(*p, &["CLUSTER", "NODES"]).expect("nodes");
            let me = line.lines().find(|l| l.contains("myself")).expect("myself line").to_string();
            let cport = me.split_whitespace().nth(1).and_then(|a| a.split(['@', ',']).nth(1)).expect("cport");
            cports.push(cport.parse().expect("cport"));
            ids.push(id);
        }
        for id in &ids {
            let node = nodes.iter().find(|n| n.id == *id).expect("listed");
            let master = node.master_id.as_deref().unwrap_or(id);
            let third = ids.iter().position(|i| i == master).expect("master among the first three");
            assert!(third < 3, "masters are the first three nodes");
            labels.push(format!("{}{third}", if node.master_id.is_some() { "r" } else { "m" }));
        }
        Names { ports, cports, ids, labels }
    }

    /// Text with every port, bus port and id replaced by the node's label.
    fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (i, id) in self.ids.iter().enumerate() {
            out = out.replace(id.as_str(), &format!("ID-{}", self.labels[i]));
        }
        for (i, c) in self.cports.iter().enumerate() {
            out = out.replace(&format!("@{c}"), &format!("@C-{}", self.labels[i]));
        }
        for (i, p) in self.ports.iter().enumerate() {
            out = out.replace(&format!(":{p}"), &format!(":P-{}", self.labels[i]));
        }
        out
    }

    /// A reply as text, normalized; replication offsets (which differ run to run) blanked.
    fn value(&self, v: &Value) -> String {
        match v {
            Value::Nil => "nil".into(),
            Value::Int(n) => match self.ports.iter().position(|p| i64::from(*p) == *n) {
                Some(i) => format!("P-{}", self.labels[i]),
                None => n.to_string(),
            },
            Value::BulkString(b) => self.text(&String::from_utf8_lossy(b)),
            Value::SimpleString(s) => self.text(s),
            Value::Array(items) => {
                let mut parts: Vec<String> = Vec::new();
                let mut blank_next = false;
                for item in items {
                    let t = if blank_next { "OFFSET".to_string() } else { self.value(item) };
                    blank_next = t == "replication-offset";
                    parts.push(t);
                }
                format!("[{}]", parts.join(" "))
            }
            other => format!("{other:?}"),
        }
    }
}

fn query(port: u16, args: &[&str]) -> Value {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
    let mut conn = client.get_connection().expect("connect");
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<Value>(&mut conn) {
        Ok(v) => v,
        Err(e) => {
            Value::SimpleString(format!("ERR {}", e.detail().map_or(e.to_string(), |d| format!("{:?} {d}", e.kind()))))
        }
    }
}

/// What each node says, for one endpoint type: SLOTS and SHARDS (sorted: the order of equal
/// shards is the server's hash order), every node's own CLUSTER NODES address and its reply to
/// GET of a key only one master serves.
fn observe(c: &Cluster, names: &Names, endpoint_type: &str) -> Vec<String> {
    for p in c.ports() {
        assert_eq!(
            redis_cli(p, &["CONFIG", "SET", "cluster-preferred-endpoint-type", endpoint_type]).as_deref(),
            Some("OK")
        );
        assert_eq!(
            redis_cli(p, &["CONFIG", "GET", "cluster-preferred-endpoint-type"]).unwrap(),
            format!("cluster-preferred-endpoint-type\n{endpoint_type}")
        );
    }
    let mut seen = Vec::new();
    let Value::Array(slots) = query(c.ports()[0], &["CLUSTER", "SLOTS"]) else { panic!("CLUSTER SLOTS is no array") };
    let mut slots: Vec<String> = slots.iter().map(|v| names.value(v)).collect();
    slots.sort();
    seen.push(format!("SLOTS {}", slots.join(" ")));
    let Value::Array(shards) = query(c.ports()[0], &["CLUSTER", "SHARDS"]) else {
        panic!("CLUSTER SHARDS is no array")
    };
    let mut shards: Vec<String> = shards.iter().map(|v| names.value(v)).collect();
    shards.sort();
    seen.push(format!("SHARDS {}", shards.join(" ")));
    let mut each: Vec<(String, String)> = Vec::new();
    for (i, p) in c.ports().into_iter().enumerate() {
        let nodes = redis_cli(p, &["CLUSTER", "NODES"]).unwrap();
        let me = nodes.lines().find(|l| l.contains("myself")).unwrap();
        let addr = names.text(me.split_whitespace().nth(1).unwrap());
        let get = names.value(&query(p, &["GET", "foo"]));
        each.push((names.labels[i].clone(), format!("NODES {addr} GET {get}")));
    }
    each.sort();
    seen.extend(each.into_iter().map(|(label, s)| format!("{label} {s}")));
    seen
}

fn run(c: &Cluster) -> Vec<String> {
    let names = Names::of(c);
    // A write on each master, so every replica holds data: both servers list only replicas
    // with a replication offset in CLUSTER SLOTS.
    for third in 0..3 {
        let key = key_on(third, "warm");
        assert_eq!(redis_cli(c.ports()[third], &["SET", &key, "1"]).as_deref(), Some("OK"));
    }
    let listed = wait_until(Duration::from_secs(20), || match query(c.ports()[0], &["CLUSTER", "SLOTS"]) {
        Value::Array(ranges) => ranges.iter().all(|r| matches!(r, Value::Array(parts) if parts.len() == 4)),
        _ => false,
    });
    assert!(listed, "replicas missing from CLUSTER SLOTS: {:?}", query(c.ports()[0], &["CLUSTER", "SLOTS"]));
    for (i, p) in c.ports().iter().enumerate() {
        let host = format!("host-{}.example.test", names.labels[i]);
        assert_eq!(redis_cli(*p, &["CONFIG", "SET", "cluster-announce-hostname", &host]).as_deref(), Some("OK"));
    }
    // Gossip spreads the names: every node lists every other's.
    let spread = wait_until(Duration::from_secs(20), || {
        c.ports().iter().all(|p| {
            let nodes = redis_cli(*p, &["CLUSTER", "NODES"]).unwrap_or_default();
            names.labels.iter().all(|l| nodes.contains(&format!(",host-{l}.example.test ")))
        })
    });
    assert!(spread, "hostnames did not spread: {}", redis_cli(c.ports()[0], &["CLUSTER", "NODES"]).unwrap_or_default());
    let mut seen = vec![format!(
        "bad name: {}",
        redis_cli(c.ports()[0], &["CONFIG", "SET", "cluster-announce-hostname", "under_score"]).unwrap_or_default()
    )];
    for t in ["ip", "hostname", "unknown-endpoint"] {
        seen.extend(observe(c, &names, t).into_iter().map(|s| format!("{t}: {s}")));
    }
    // A node that drops its name is `?` where a hostname is preferred, once the others hear.
    assert_eq!(names.labels[0], "m0");
    assert_eq!(redis_cli(c.ports()[0], &["CONFIG", "SET", "cluster-announce-hostname", ""]).as_deref(), Some("OK"));
    let cleared = wait_until(Duration::from_secs(20), || {
        c.ports().iter().all(|p| !redis_cli(*p, &["CLUSTER", "NODES"]).unwrap_or_default().contains(",host-m0."))
    });
    assert!(cleared, "the dropped hostname is still listed");
    seen.extend(observe(c, &names, "hostname").into_iter().map(|s| format!("dropped: {s}")));
    seen
}

#[test]
fn announced_hostnames_match_redis() {
    if !require_tool("redis-server") || !require_tool("redis-cli") {
        return;
    }
    let redis = run(&Cluster::redis(3, 1, 3000));
    let ours = run(&Cluster::slotgate(3, 1, 3000));
    for (r, o) in redis.iter().zip(&ours) {
        assert_eq!(o, r, "slotgate (left) and redis-server (right) differ");
    }
    assert_eq!(ours.len(), redis.len());
    // The comparison covered what it should: hostnames as endpoints and as metadata, `?`, null.
    let all = ours.join("\n");
    for expected in [
        "ip: m0 NODES 127.0.0.1:P-m0@C-m0,host-m0.example.test GET",
        "ip: SLOTS [0 5460 [127.0.0.1 P-m0 ID-m0 [hostname host-m0.example.test]] [127.0.0.1 P-r0",
        "hostname: m0 NODES 127.0.0.1:P-m0@C-m0,host-m0.example.test GET ERR Moved 12182 host-m2.example.test:P-m2",
        "hostname: SLOTS [0 5460 [host-m0.example.test P-m0 ID-m0 [ip 127.0.0.1]]",
        "unknown-endpoint: SLOTS [0 5460 [nil P-m0 ID-m0 [ip 127.0.0.1 hostname host-m0.example.test]]",
        "unknown-endpoint: m0 NODES 127.0.0.1:P-m0@C-m0,host-m0.example.test GET ERR Moved 12182 :P-m2",
        "dropped: SLOTS [0 5460 [? P-m0 ID-m0 [ip 127.0.0.1]]",
        "dropped: m1 NODES 127.0.0.1:P-m1@C-m1,host-m1.example.test GET ERR Moved 12182 host-m2.example.test:P-m2",
        "dropped: m2 NODES 127.0.0.1:P-m2@C-m2,host-m2.example.test GET nil",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}
