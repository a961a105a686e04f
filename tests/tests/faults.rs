//! Faults on hosts of their own (a network namespace per node and for the proxy, see
//! `slotgate_tests::faultrun`), one run of each, with the bounds the README's "Guarantees"
//! section states checked on what the clients were told:
//! - through the proxy, a SIGKILL, a SIGSTOP or a cut between a master and the proxy costs no
//!   client an error reply (the failover or the heal comes within the retry deadline);
//! - with the proxy's `--write-ack replicas=1`, or `WAIT 1` after each write, no acknowledged
//!   write is lost under any single fault, and every key's history is linearizable;
//! - with `appendfsync always`, SIGKILLing the whole cluster loses no acknowledged write.
//!
//! `bench/faults.sh` runs the longer form side by side with Redis 7.0 and prints the table.
//! Env: FAULTS_SERVERS=slotgate,redis (default slotgate), FAULTS_SECONDS=fault length (6).

use std::time::Duration;

use slotgate_tests::faultrun::{run, table_line, Ack, Fault, Outcome, Scenario, TABLE_HEADER};
use slotgate_tests::netns::require_netns;
use slotgate_tests::{require_tool, Kind};

/// What a scenario must show, checked on its report.
#[derive(Clone, Copy)]
enum Bound {
    NoErrors,
    NoLoss,
    /// Measured only (Redis Cluster's asynchronous replication loses writes here by design).
    Reported,
}

fn scenarios() -> Vec<(Fault, Ack, bool, Bound)> {
    use Ack::*;
    use Fault::*;
    vec![
        (KillMaster, Plain, false, Bound::NoErrors),
        (StopMaster, Plain, false, Bound::NoErrors),
        // No failover happens (the nodes see the master): requests wait, then time out.
        (PartitionFromProxy, Plain, false, Bound::Reported),
        // Errors: none. Writes: lost, as Redis Cluster documents (reported).
        (PartitionMaster, Plain, false, Bound::NoErrors),
        (PartitionMaster, Wait, false, Bound::NoLoss),
        (PartitionMaster, ProxyWriteAck, false, Bound::NoLoss),
        (KillMaster, ProxyWriteAck, false, Bound::NoLoss),
        (MinorityWithProxy, ProxyWriteAck, false, Bound::NoLoss),
        (FlapMaster, ProxyWriteAck, false, Bound::NoLoss),
        (KillProxy, Plain, false, Bound::NoLoss),
        (RestartCluster, Plain, true, Bound::NoLoss),
    ]
}

fn judge(o: &Outcome, bound: Bound) -> Option<String> {
    let r = &o.report;
    let what = format!("{:?}/{:?}/{:?}", o.scenario.server, o.scenario.fault, o.scenario.ack);
    if r.writes_acked < 100 {
        return Some(format!("{what}: only {} writes acknowledged", r.writes_acked));
    }
    match bound {
        Bound::NoErrors if r.client_errors > 0 => {
            Some(format!("{what}: {} client errors, e.g. {:?}", r.client_errors, r.sample_errors))
        }
        Bound::NoLoss if r.acked_lost > 0 || r.non_linearizable > 0 => Some(format!(
            "{what}: {} acknowledged writes lost, {} keys not linearizable",
            r.acked_lost, r.non_linearizable
        )),
        _ => None,
    }
}

#[test]
fn every_fault_once_within_its_bounds() {
    if !require_netns() || !require_tool("redis-cli") {
        return;
    }
    let servers: Vec<Kind> = std::env::var("FAULTS_SERVERS")
        .unwrap_or_else(|_| "slotgate".into())
        .split(',')
        .map(|s| if s.trim() == "redis" { Kind::Redis } else { Kind::Slotgate })
        .collect();
    if servers.contains(&Kind::Redis) && !require_tool("redis-server") {
        return;
    }
    let seconds: u64 = std::env::var("FAULTS_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    println!("{TABLE_HEADER}");
    let mut failures = Vec::new();
    for (fault, ack, fsync, bound) in scenarios() {
        for &server in &servers {
            let mut sc = Scenario::new(server, fault, ack);
            sc.fsync_always = fsync;
            sc.length = Duration::from_secs(seconds);
            sc.after = Duration::from_secs(seconds / 2 + 1);
            let outcome = run(&sc);
            println!("{}", table_line(&outcome));
            // Redis runs are the reference, reported side by side; the bounds are ours.
            if server == Kind::Slotgate {
                failures.extend(judge(&outcome, bound));
            }
        }
    }
    assert!(failures.is_empty(), "bounds not met:\n{}", failures.join("\n"));
}
