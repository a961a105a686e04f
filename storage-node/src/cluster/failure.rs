//! Failure detection and the cluster's periodic work, as the Redis Cluster specification
//! describes it: a node that does not answer a PING within the node timeout is suspected
//! (PFAIL); when a majority of masters suspect it, it is failed (FAIL) and every node is told.
//! The same tick, 20 times a second, keeps links open, pings nodes and persists nodes.conf.

use std::time::Duration;

use super::{bus, flag, nodes_conf, Cluster, NodeId};
use crate::keyspace::{evict, now_ms};
use crate::server::{Server, Shared};

/// Failure reports older than this many node timeouts no longer count.
const REPORT_VALIDITY_MULT: i64 = 2;
/// A failed master with slots is readmitted this many node timeouts after it failed.
const FAIL_UNDO_TIME_MULT: i64 = 2;
/// The tick. Redis's cluster cron runs every 100 ms; each step of a failover (the next ping,
/// noticing the timeout, scheduling and starting the election) waits for a tick, so a shorter
/// one takes about 100 ms off the failover window at a negligible cost.
const TICK_MS: u64 = 50;

pub fn add_report(cl: &mut Cluster, id: &NodeId, reporter: &NodeId, now: i64) {
    let Some(n) = cl.nodes.get_mut(id) else { return };
    match n.fail_reports.iter_mut().find(|(r, _)| r == reporter) {
        Some(r) => r.1 = now,
        None => n.fail_reports.push((reporter.clone(), now)),
    }
}

pub fn del_report(cl: &mut Cluster, id: &NodeId, reporter: &NodeId) {
    if let Some(n) = cl.nodes.get_mut(id) {
        n.fail_reports.retain(|(r, _)| r != reporter);
    }
}

/// Valid failure reports about a node (recent, from masters).
pub fn report_count(cl: &Cluster, id: &str, now: i64) -> usize {
    let validity = cl.node_timeout * REPORT_VALIDITY_MULT;
    cl.nodes.get(id).map_or(0, |n| {
        n.fail_reports
            .iter()
            .filter(|(r, at)| now - at <= validity && cl.nodes.get(r).is_some_and(|m| m.is_master()))
            .count()
    })
}

/// PFAIL becomes FAIL once a majority of the masters agree; then everybody is told.
pub fn mark_failing_if_needed(cl: &mut Cluster, id: &NodeId, now: i64) {
    let Some(n) = cl.nodes.get(id) else { return };
    if !n.has(flag::PFAIL) || n.has(flag::FAIL) {
        return;
    }
    let needed = cl.size / 2 + 1;
    let mut failures = report_count(cl, id, now);
    if cl.me().is_master() {
        failures += 1;
    }
    if failures < needed {
        return;
    }
    if let Some(n) = cl.nodes.get_mut(id) {
        n.flags = (n.flags & !flag::PFAIL) | flag::FAIL;
        n.fail_time = now;
    }
    cl.todo_save = true;
    cl.note(format!("Marking node {id} as failing (quorum reached)."));
    bus::broadcast_fail(cl, id);
}

/// A FAIL node answers again: replicas and slot-less masters come back at once; a master
/// with slots after a grace period (unless a replica took its slots meanwhile).
pub fn clear_failure_if_needed(cl: &mut Cluster, id: &str, now: i64) {
    let Some(n) = cl.nodes.get(id) else { return };
    let serving = n.is_master() && cl.slot_count(id) > 0;
    if !serving || now - n.fail_time > cl.node_timeout * FAIL_UNDO_TIME_MULT {
        if let Some(n) = cl.nodes.get_mut(id) {
            n.flags &= !flag::FAIL;
        }
        cl.todo_save = true;
    }
}

/// After any change: log what happened, recompute the state and persist nodes.conf if the
/// configuration moved.
pub fn flush(srv: &mut Server) {
    let full = srv.config.cluster_require_full_coverage;
    let Some(cl) = srv.cluster.as_mut() else { return };
    for line in std::mem::take(&mut cl.notes) {
        crate::log(&srv.config, &line);
    }
    if cl.todo_save {
        cl.todo_save = false;
        cl.update_state(full);
        if let Err(e) = nodes_conf::save(cl) {
            let msg = format!("Warning: could not write the cluster config file {}: {e}", cl.conf_path.display());
            crate::log(&srv.config, &msg);
        }
        crate::commands::drop_unserved_shard_channels(srv);
    }
}

/// The cluster's tick: links, pings, timeouts, state.
pub async fn run(shared: Shared) {
    let mut tick: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(TICK_MS)).await;
        tick += 1;
        let mut srv = shared.borrow_mut();
        let timeout = srv.config.cluster_node_timeout.max(1) as i64;
        let full = srv.config.cluster_require_full_coverage;
        let rules = super::failover::Rules {
            no_failover: srv.config.cluster_replica_no_failover,
            validity_factor: srv.config.cluster_replica_validity_factor as i64,
            ping_period_ms: srv.config.repl_ping_replica_period as i64 * 1000,
            data_age_ms: srv.repl.data_age_ms(),
        };
        let migration = super::migration::Rules {
            allowed: srv.config.cluster_allow_replica_migration,
            barrier: srv.config.cluster_migration_barrier as usize,
        };
        let offset = srv.repl.offset;
        let Some(cl) = srv.cluster.as_mut() else { return };
        cl.node_timeout = timeout;
        cl.me_mut().repl_offset = offset;
        let now = now_ms();
        set_my_flag(cl, flag::NOFAILOVER, rules.no_failover);
        super::failover::replica_tick(cl, now, &rules);
        super::migration::tick(cl, now, &migration);
        let handshake_timeout = timeout.max(1000);
        let stale: Vec<NodeId> = cl
            .nodes
            .values()
            .filter(|n| n.has(flag::HANDSHAKE) && now - n.ctime > handshake_timeout)
            .map(|n| n.id.clone())
            .collect();
        for id in stale {
            cl.del_node(&id);
        }
        let ids: Vec<NodeId> =
            cl.nodes.values().filter(|n| !n.has(flag::MYSELF | flag::NOADDR)).map(|n| n.id.clone()).collect();
        for id in &ids {
            if cl.nodes[id].link.is_none() {
                bus::connect(&shared, cl, id);
            }
        }
        // Once a second, ping the node we heard from least recently among a few random ones.
        if tick.is_multiple_of(1000 / TICK_MS) && !ids.is_empty() {
            let oldest = (0..5)
                .map(|_| &ids[evict::rand() as usize % ids.len()])
                .filter(|id| {
                    let n = &cl.nodes[*id];
                    n.ping_sent == 0 && n.link.as_ref().is_some_and(|l| l.connected) && !n.has(flag::HANDSHAKE)
                })
                .min_by_key(|id| cl.nodes[*id].pong_received)
                .cloned();
            if let Some(id) = oldest {
                bus::send_ping(cl, &id);
            }
        }
        let mut suspected = false;
        for id in &ids {
            let Some(n) = cl.nodes.get_mut(id) else { continue };
            if n.has(flag::HANDSHAKE) {
                continue;
            }
            let connected = n.link.as_ref().is_some_and(|l| l.connected);
            // A connected link that stopped answering: reconnect, the peer may be fine.
            if connected
                && n.ping_sent != 0
                && now - n.ping_sent > timeout / 2
                && n.link.as_ref().is_some_and(|l| now - l.ctime > timeout)
            {
                n.link = None;
            }
            // Every node is pinged at least twice a second (Redis waits up to half the node
            // timeout): a dead node is then suspected within the timeout plus half a second.
            if connected && n.ping_sent == 0 && now - n.pong_received > (timeout / 2).min(500) {
                bus::send_ping(cl, id);
            }
            let Some(n) = cl.nodes.get_mut(id) else { continue };
            if n.ping_sent != 0 && now - n.ping_sent > timeout && !n.failing() {
                n.flags |= flag::PFAIL;
                suspected = true;
                cl.todo_save = true;
            }
        }
        if suspected {
            // Tell the other masters right away so a FAIL quorum forms quickly.
            let masters: Vec<NodeId> = cl
                .nodes
                .values()
                .filter(|n| n.is_master() && !n.has(flag::MYSELF) && !n.failing())
                .map(|n| n.id.clone())
                .collect();
            for id in masters {
                bus::send_ping(cl, &id);
            }
        }
        cl.update_state(full);
        let pfail: Vec<NodeId> = cl.nodes.values().filter(|n| n.has(flag::PFAIL)).map(|n| n.id.clone()).collect();
        for id in pfail {
            mark_failing_if_needed(cl, &id, now);
        }
        if let Some((until, replica)) = cl.mf_pause.clone() {
            if now >= until || !cl.me().is_master() {
                cl.mf_pause = None;
            } else {
                // Keep the replica informed of our (final) offset until it takes over.
                bus::send_ping(cl, &replica);
            }
        }
        flush(&mut srv);
        follow_master(&mut srv);
        crate::server::pause::resume(&mut srv, now);
    }
}

/// Keeps one of this node's own flags in line with its configuration (others see it in our
/// headers and in CLUSTER NODES).
fn set_my_flag(cl: &mut Cluster, f: u16, on: bool) {
    let me = cl.me_mut();
    if me.has(f) != on {
        me.flags ^= f;
        cl.todo_save = true;
    }
}

/// Keeps replication in line with the cluster role: a replica replicates the master the
/// cluster says it has (after CLUSTER REPLICATE, a restart from nodes.conf, or losing its
/// slots to a failover), a master replicates nobody.
pub fn follow_master(srv: &mut Server) {
    let Some(cl) = srv.cluster.as_deref() else { return };
    let me = cl.me();
    let wanted = me
        .master
        .as_ref()
        .filter(|_| me.has(flag::SLAVE))
        .and_then(|m| cl.nodes.get(m))
        .filter(|m| !m.ip.is_empty())
        .map(|m| crate::replication::MasterAddr { host: m.ip.clone(), port: m.port });
    let current = srv.repl.master.as_ref().map(|m| (m.host.as_str(), m.port));
    if wanted.as_ref().map(|m| (m.host.as_str(), m.port)) != current {
        crate::commands::set_master(srv, wanted);
    }
}
