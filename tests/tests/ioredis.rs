//! The guide's scenarios run from ioredis (Node.js, the guide's own client) against a node:
//! the session pipeline (HSET, EXPIRE, ZADD), the rate-limit script through EVAL/EVALSHA, and
//! MSET/MGET over many keys. The same script runs against redis-server as the reference.

use std::process::Command;

use slotgate_tests::{ensure_ioredis, js_dir, require_tool, Server};

fn run_scenarios(port: u16) {
    let out =
        Command::new("node").arg(js_dir().join("guide_scenarios.js")).arg(port.to_string()).output().expect("node");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "ioredis scenarios failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn guide_scenarios_through_ioredis() {
    if !require_tool("node") || !require_tool("npm") {
        return;
    }
    ensure_ioredis();
    let node = Server::node(&[]);
    run_scenarios(node.port);
    // The script's state is visible to other clients too.
    let mut c = node.conn();
    let counter: String = redis::cmd("GET").arg("rate_limit:user:1000").query(&mut c).unwrap();
    assert_eq!(counter, "100");
}

#[test]
fn same_scenarios_pass_against_redis_server() {
    if !require_tool("node") || !require_tool("npm") || !require_tool("redis-server") {
        return;
    }
    ensure_ioredis();
    let redis = Server::redis(&[]);
    run_scenarios(redis.port);
}
