//! Every data type, streams with consumer groups and the string-based HyperLogLogs and bitmaps
//! included, reaches a replica both ways: in the full sync's snapshot and in the command stream
//! (where XREADGROUP travels as the XCLAIMs of its effects, which leave a group's entries-read
//! and lag behind on Redis's replicas too). Pairs: slotgate to slotgate,
//! slotgate to Debian's redis-server 7.0, and redis-server to slotgate.

use std::collections::BTreeMap;
use std::time::Duration;

use slotgate_tests::{
    every_type_commands, propagated_only, q, redis_cli, require_tool, run_all, value_snapshot, wait_until, Server,
};

fn link_up(port: u16) -> bool {
    redis_cli(port, &["info", "replication"]).is_some_and(|t| t.contains("master_link_status:up"))
}

/// Every key's value, as far as replication carries it.
fn snapshot(c: &mut redis::Connection) -> BTreeMap<String, (String, Vec<String>)> {
    let keys: Vec<String> = q(c, &["KEYS", "*"]).unwrap();
    keys.into_iter().map(|k| (k.clone(), propagated_only(value_snapshot(c, &k)))).collect()
}

/// Fills the master, attaches the replica (snapshot), compares; then flushes and fills again
/// (command stream) and compares once the replica has acknowledged it.
fn both_ways(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.conn(), replica.conn());
    let cmds = every_type_commands();
    run_all(&mut m, &cmds);
    let _: String = q(&mut r, &["REPLICAOF", "127.0.0.1", &master.port.to_string()]).unwrap();
    assert!(wait_until(Duration::from_secs(20), || link_up(replica.port)), "the replica did not sync");
    let expected = snapshot(&mut m);
    assert_eq!(expected.len(), 19, "keys: {:?}", expected.keys());
    assert_eq!(snapshot(&mut r), expected, "after the full sync");

    let _: () = q(&mut m, &["FLUSHALL"]).unwrap();
    run_all(&mut m, &cmds);
    assert_eq!(q::<i64>(&mut m, &["WAIT", "1", "5000"]).unwrap(), 1);
    assert_eq!(snapshot(&mut r), expected, "after the command stream");
}

#[test]
fn slotgate_to_slotgate() {
    both_ways(&Server::node(&[]), &Server::node(&[]));
}

#[test]
fn slotgate_to_redis_server() {
    if !require_tool("redis-server") {
        return;
    }
    both_ways(&Server::node(&[]), &Server::redis(&[]));
}

#[test]
fn redis_server_to_slotgate() {
    if !require_tool("redis-server") {
        return;
    }
    both_ways(&Server::redis(&[]), &Server::node(&[]));
}
