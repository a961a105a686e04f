//! A cluster's health judged from what its nodes said: every check of `slotgate health`
//! (the checks of `redis-cli --cluster check`, and more), as a pure function, so the operator's
//! command and the proxy's status page report the same problems the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::nodes::{format_ranges, NodeLine, OpenSlot, View};
use crate::Status;

/// How bad a problem is: a degraded cluster still serves every slot; a failed one does not.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Degraded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// The node it concerns (`host:port`), if one.
    pub node: Option<String>,
    pub text: String,
}

/// One node as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub id: String,
    pub addr: String,
    pub role: String,
    pub master_id: Option<String>,
    /// `ok`, `pfail`, `fail` (flagged by a reachable node) or `unreachable`.
    pub health: String,
    pub slots: String,
    pub slot_count: usize,
    pub config_epoch: u64,
    pub cluster_state: Option<String>,
    pub repl_offset: Option<i64>,
    /// Bytes behind its master (replicas).
    pub lag: Option<i64>,
    pub link: Option<String>,
    pub used_memory: Option<u64>,
    pub maxmemory: Option<u64>,
    pub ops_per_sec: Option<u64>,
    pub connected_clients: Option<u64>,
    pub commands_processed: Option<u64>,
    pub keyspace_hits: Option<u64>,
    pub keyspace_misses: Option<u64>,
    pub evicted_keys: Option<u64>,
    pub expired_keys: Option<u64>,
    /// Slots this node has open: `N>id` migrating to a node, `N<id` importing from one.
    pub open_slots: Vec<String>,
    pub error: Option<String>,
}

/// The whole report (`slotgate health --json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: Status,
    pub nodes_total: usize,
    pub nodes_healthy: usize,
    pub masters: usize,
    pub replicas: usize,
    pub slots_assigned: usize,
    pub slots_unassigned: usize,
    pub nodes: Vec<NodeReport>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

/// What one node answered, or why it did not.
#[derive(Debug, Clone)]
pub struct Observation {
    pub view: View,
    /// INFO's fields: at least its replication section; with memory and stats, the report
    /// shows those figures too.
    pub info: Vec<(String, String)>,
}

/// Each node's observation, or why it could not be made.
pub type Observations = Vec<Result<Observation, String>>;

/// Reachable and not flagged `fail` (a `pfail` flag is one node's suspicion only).
fn working(n: &NodeReport) -> bool {
    n.health == "ok" || n.health == "pfail"
}

/// A numeric INFO field of a node that answered.
fn figure(o: Option<&Observation>, key: &str) -> Option<u64> {
    info(&o?.info, key)?.parse().ok()
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

fn info<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Judges the cluster from the seed's node list and each node's observation (same order).
pub fn assess(known: &[NodeLine], obs: &[Result<Observation, String>], max_lag: u64) -> Report {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let degraded = |node: Option<&str>, text: String| Problem {
        severity: Severity::Degraded,
        node: node.map(str::to_string),
        text,
    };
    let reachable: Vec<&Observation> = obs.iter().filter_map(|o| o.as_ref().ok()).collect();
    // The reference view: the first reachable node's, else the seed's list.
    let reference: Vec<NodeLine> = reachable.first().map_or_else(|| known.to_vec(), |o| o.view.nodes.clone());
    let by_id: BTreeMap<&str, &NodeLine> = reference.iter().map(|n| (n.id.as_str(), n)).collect();

    // Who flags whom as failing.
    let mut flagged: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for o in &reachable {
        for n in &o.view.nodes {
            if let Some(f) = n.failing() {
                flagged.entry(n.id.clone()).or_default().insert(f);
            }
        }
    }

    let mut nodes = Vec::new();
    let master_offset = |id: &str| -> Option<i64> {
        let i = known.iter().position(|k| k.id == id)?;
        let o = obs.get(i)?.as_ref().ok()?;
        info(&o.info, "master_repl_offset")?.parse().ok()
    };
    for (i, line) in known.iter().enumerate() {
        let current = by_id.get(line.id.as_str()).copied().unwrap_or(line);
        let o = obs.get(i).and_then(|o| o.as_ref().ok());
        let err = obs.get(i).and_then(|o| o.as_ref().err()).cloned();
        let flags = flagged.get(&line.id);
        let health = if err.is_some() {
            "unreachable"
        } else if flags.is_some_and(|f| f.contains("fail")) {
            "fail"
        } else if flags.is_some_and(|f| f.contains("pfail")) {
            "pfail"
        } else {
            "ok"
        };
        let me = o.and_then(|o| o.view.myself());
        let role_line = me.unwrap_or(current);
        let role = if role_line.is_master() { "master" } else { "replica" };
        let cluster_state = o.and_then(|o| o.view.info("cluster_state")).map(str::to_string);
        let repl_offset: Option<i64> = o.and_then(|o| {
            let key = if role == "master" { "master_repl_offset" } else { "slave_repl_offset" };
            info(&o.info, key).and_then(|v| v.parse().ok())
        });
        let link = o.and_then(|o| info(&o.info, "master_link_status")).map(str::to_string);
        let lag = match (role, &role_line.master_id, repl_offset) {
            ("replica", Some(m), Some(off)) => master_offset(m).map(|mo| (mo - off).max(0)),
            _ => None,
        };
        if let Some(e) = &err {
            problems.push(degraded(Some(&line.addr), format!("unreachable: {e}")));
        }
        if let Some(f) = flags {
            let what = if f.contains("fail") { "fail" } else { "pfail" };
            problems.push(degraded(Some(&line.addr), format!("flagged {what} by the cluster")));
        }
        if let Some(state) = &cluster_state {
            if state != "ok" {
                problems.push(Problem {
                    severity: Severity::Failed,
                    node: Some(line.addr.clone()),
                    text: format!("cluster_state is {state}"),
                });
            }
        }
        if role == "replica" && err.is_none() {
            if link.as_deref().is_some_and(|l| l != "up") {
                problems.push(degraded(Some(&line.addr), "replication link to its master is down".into()));
            }
            if let Some(l) = lag.filter(|&l| l as u64 > max_lag) {
                problems.push(degraded(Some(&line.addr), format!("replica lags {l} bytes behind its master")));
            }
        }
        if let Some(me) = me {
            for OpenSlot { slot, peer, importing } in &me.open_slots {
                let peer = by_id.get(peer.as_str()).map_or(peer.as_str(), |p| p.addr.as_str());
                let how = if *importing { "importing from" } else { "migrating to" };
                problems.push(degraded(Some(&line.addr), format!("slot {slot} left {how} {peer}")));
            }
        }
        nodes.push(NodeReport {
            id: line.id.clone(),
            addr: line.addr.clone(),
            role: role.into(),
            master_id: role_line.master_id.clone(),
            health: health.into(),
            slots: format_ranges(&current.slots),
            slot_count: current.slot_count(),
            config_epoch: current.config_epoch,
            cluster_state,
            repl_offset,
            lag,
            link,
            used_memory: figure(o, "used_memory"),
            maxmemory: figure(o, "maxmemory"),
            ops_per_sec: figure(o, "instantaneous_ops_per_sec"),
            connected_clients: figure(o, "connected_clients"),
            commands_processed: figure(o, "total_commands_processed"),
            keyspace_hits: figure(o, "keyspace_hits"),
            keyspace_misses: figure(o, "keyspace_misses"),
            evicted_keys: figure(o, "evicted_keys"),
            expired_keys: figure(o, "expired_keys"),
            open_slots: me.map_or_else(Vec::new, |m| {
                m.open_slots
                    .iter()
                    .map(|o| format!("{}{}{}", o.slot, if o.importing { '<' } else { '>' }, o.peer))
                    .collect()
            }),
            error: err,
        });
    }

    // Slot coverage and ownership, from the reference view.
    let owners = owner_map(&reference);
    let unassigned = owners.iter().filter(|o| o.is_none()).count();
    if unassigned > 0 {
        problems.push(Problem {
            severity: Severity::Failed,
            node: None,
            text: format!("{unassigned} slots are not served by any master"),
        });
    }
    for o in &reachable {
        let Some(me) = o.view.myself() else { continue };
        let theirs = owner_map(&o.view.nodes);
        let differ = owners.iter().zip(&theirs).filter(|(a, b)| a != b).count();
        if differ > 0 {
            problems.push(degraded(Some(&me.addr), format!("disagrees about the owner of {differ} slots")));
        }
        for n in &o.view.nodes {
            if let Some(r) = by_id.get(n.id.as_str()) {
                if r.config_epoch != n.config_epoch && n.is_master() {
                    problems.push(degraded(
                        Some(&me.addr),
                        format!("sees config epoch {} for {}, others {}", n.config_epoch, r.addr, r.config_epoch),
                    ));
                }
            }
        }
    }

    // Shards: masters serving slots, their live replicas, and where they run.
    let mut all_loopback = true;
    for m in reference.iter().filter(|n| n.is_master() && n.slot_count() > 0 && n.failing() != Some("fail")) {
        let replicas: Vec<&NodeLine> = reference
            .iter()
            .filter(|r| r.master_id.as_deref() == Some(m.id.as_str()) && r.failing().is_none())
            .collect();
        if replicas.is_empty() {
            problems.push(degraded(Some(&m.addr), "master has no working replica".into()));
        }
        all_loopback &= loopback(m.host());
        for r in replicas {
            all_loopback &= loopback(r.host());
            if r.host() == m.host() && !loopback(r.host()) {
                problems
                    .push(degraded(Some(&r.addr), format!("replica runs on the same host as its master {}", m.addr)));
            }
        }
    }
    if all_loopback {
        notes.push("every node is on loopback: placement of shards on hosts not checked".into());
    }
    problems.dedup_by(|a, b| a.node == b.node && a.text == b.text);

    let status = if problems.iter().any(|p| p.severity == Severity::Failed) || reachable.is_empty() {
        Status::Failed
    } else if problems.is_empty() {
        Status::Ok
    } else {
        Status::Degraded
    };
    Report {
        status,
        nodes_total: nodes.len(),
        nodes_healthy: nodes.iter().filter(|n| n.health == "ok").count(),
        // Working ones: a dead master stays listed as one, but serves nothing.
        masters: nodes.iter().filter(|n| n.role == "master" && working(n)).count(),
        replicas: nodes.iter().filter(|n| n.role == "replica" && working(n)).count(),
        slots_assigned: owners.len() - unassigned,
        slots_unassigned: unassigned,
        nodes,
        problems,
        notes,
    }
}

/// The id of each slot's master in a view (`None` when no master serves it).
fn owner_map(nodes: &[NodeLine]) -> Vec<Option<String>> {
    let mut owners = vec![None; protocol::SLOT_COUNT];
    for n in nodes.iter().filter(|n| n.is_master()) {
        for &(a, b) in &n.slots {
            for s in a..=b {
                owners[usize::from(s)] = Some(n.id.clone());
            }
        }
    }
    owners
}

#[cfg(test)]
mod tests;
