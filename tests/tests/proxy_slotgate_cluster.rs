//! slotgate-proxy in front of a slotgate-node cluster (the proxy's suite against a Redis
//! cluster is `proxy_redis_cluster.rs`): a plain client sees one Redis, multi-key commands are
//! split and merged, and a reshard running underneath stays invisible to it.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use slotgate_tests::{q, redis_cli, require_tool, Cluster, Proxy};

#[test]
fn plain_client_through_the_proxy_sees_one_redis() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 5000);
    let proxy = Proxy::start(c.ports()[0], &[]);
    let mut con = proxy.conn();
    let keys: Vec<String> = (0..300).map(|i| format!("pk:{i}")).collect();
    let mut mset: Vec<&str> = vec!["MSET"];
    let values: Vec<String> = keys.iter().map(|k| format!("v-{k}")).collect();
    for (k, v) in keys.iter().zip(&values) {
        mset.push(k);
        mset.push(v);
    }
    assert_eq!(q::<String>(&mut con, &mset).unwrap(), "OK");
    let mut mget: Vec<&str> = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    mget.push("pk:missing");
    let got: Vec<Option<String>> = q(&mut con, &mget).unwrap();
    let want: Vec<Option<String>> = values.iter().cloned().map(Some).chain([None]).collect();
    assert_eq!(got, want);
    // The keys really are spread over the three nodes.
    for p in c.ports() {
        let n: u64 = redis_cli(p, &["dbsize"]).unwrap().parse().unwrap();
        assert!(n > 50, "node {p} holds only {n} keys");
    }
    let mut exists: Vec<&str> = vec!["EXISTS"];
    exists.extend(keys.iter().map(String::as_str));
    assert_eq!(q::<i64>(&mut con, &exists).unwrap(), 300);
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]).unwrap(), 300);
    let mut del: Vec<&str> = vec!["DEL"];
    del.extend(keys[..100].iter().map(String::as_str));
    assert_eq!(q::<i64>(&mut con, &del).unwrap(), 100);
    let e = q::<String>(&mut con, &["RENAME", "pk:200", "pk:201"]).unwrap_err().to_string();
    assert!(e.contains("hash to the same slot"), "{e}");
}

#[test]
fn reshard_under_the_proxy_is_invisible_to_clients() {
    if !require_tool("redis-cli") {
        return;
    }
    let c = Cluster::slotgate(3, 0, 5000);
    let ports = c.ports();
    let proxy = Proxy::start(ports[0], &[]);
    let mut con = proxy.conn();
    let keys: Vec<String> = (0..2000).map(|i| format!("rk:{i}")).collect();
    for k in &keys {
        let () = redis::cmd("SET").arg(k).arg(format!("v-{k}")).query(&mut con).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, keys) = (stop.clone(), keys.clone());
        let mut con = proxy.conn();
        std::thread::spawn(move || {
            let mut rounds = 0;
            // Bounded: at most 200 passes, and it stops once the reshard is over.
            while !stop.load(Ordering::Relaxed) && rounds < 200 {
                for k in keys.iter().step_by(7) {
                    let v: Option<String> = redis::cmd("GET").arg(k).query(&mut con).expect("GET through the proxy");
                    assert_eq!(v.as_deref(), Some(format!("v-{k}").as_str()), "key {k}");
                }
                rounds += 1;
            }
            rounds
        })
    };
    let id = |p: u16| redis_cli(p, &["cluster", "myid"]).unwrap();
    let out = Command::new("redis-cli")
        .args(["--cluster", "reshard", &format!("127.0.0.1:{}", ports[0])])
        .args([
            "--cluster-from",
            &id(ports[0]),
            "--cluster-to",
            &id(ports[1]),
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    stop.store(true, Ordering::Relaxed);
    let rounds = reader.join().expect("the reader saw an error or a wrong value");
    assert!(rounds > 0);
    for k in &keys {
        let v: String = redis::cmd("GET").arg(k).query(&mut con).unwrap();
        assert_eq!(v, format!("v-{k}"));
    }
}
