//! `slotgate health`: every node's CLUSTER NODES, CLUSTER INFO and INFO replication, and every
//! problem found in them (the checks of `redis-cli --cluster check`, and more). Gathering talks
//! to the nodes; `assess` is a pure function of what they said.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::client::{Conn, ConnOpts};
use crate::output::{paint, Table, Tone};
use crate::topology::{self, format_ranges, parse_info, NodeLine, OpenSlot, View};
use crate::{Common, Status};

#[derive(Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub common: Common,
    /// A replica further behind its master than this many bytes of replication stream is a problem.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_lag: u64,
    /// Refresh the report every SECONDS until interrupted (or --count reports).
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<f64>,
    /// With --watch, stop after this many reports.
    #[arg(long)]
    pub count: Option<u64>,
}

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
pub struct Observation {
    pub view: View,
    /// INFO replication.
    pub replication: Vec<(String, String)>,
}

/// Asks the seed for the node list, then every node for its own view.
/// Each node's observation, or why it could not be made.
pub type Observations = Vec<Result<Observation, String>>;

pub fn gather(seeds: &[String], opts: &ConnOpts) -> Result<(Vec<NodeLine>, Observations), String> {
    let mut known = topology::discover(seeds, opts)?;
    let mut observations = Vec::new();
    let mut i = 0;
    // Nodes another node knows and the seed does not are added as they are found.
    while i < known.len() {
        let obs = observe(&known[i].addr, opts);
        if let Ok(o) = &obs {
            for n in &o.view.nodes {
                if !known.iter().any(|k| k.id == n.id) {
                    known.push(n.clone());
                }
            }
        }
        observations.push(obs);
        i += 1;
    }
    Ok((known, observations))
}

fn observe(addr: &str, opts: &ConnOpts) -> Result<Observation, String> {
    let view = topology::view_of(addr, opts).map_err(|e| e.to_string())?;
    let mut c = Conn::open(addr, opts).map_err(|e| e.to_string())?;
    let replication = parse_info(&c.call_text(&["INFO", "replication"]).map_err(|e| e.to_string())?);
    Ok(Observation { view, replication })
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
        info(&o.replication, "master_repl_offset")?.parse().ok()
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
            info(&o.replication, key).and_then(|v| v.parse().ok())
        });
        let link = o.and_then(|o| info(&o.replication, "master_link_status")).map(str::to_string);
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
        masters: nodes.iter().filter(|n| n.role == "master").count(),
        replicas: nodes.iter().filter(|n| n.role == "replica").count(),
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

/// The report as tables.
pub fn render(r: &Report) -> String {
    let tone = match r.status {
        Status::Ok => Tone::Good,
        Status::Degraded => Tone::Warn,
        Status::Failed => Tone::Bad,
    };
    let mut out = format!(
        "cluster: {}  nodes {}/{} healthy  masters {}  replicas {}  slots {} assigned, {} unassigned\n\n",
        paint(&format!("{:?}", r.status).to_lowercase(), tone),
        r.nodes_healthy,
        r.nodes_total,
        r.masters,
        r.replicas,
        r.slots_assigned,
        r.slots_unassigned
    );
    let mut t = Table::new(&["node", "id", "role", "health", "slots", "epoch", "offset", "lag"]);
    for n in &r.nodes {
        let h = if n.health == "ok" { Tone::Good } else { Tone::Bad };
        let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        t.row(vec![
            (n.addr.clone(), Tone::Plain),
            (n.id.chars().take(8).collect(), Tone::Plain),
            (n.role.clone(), Tone::Plain),
            (n.health.clone(), h),
            (if n.slots.is_empty() { "-".into() } else { format!("{} ({})", n.slots, n.slot_count) }, Tone::Plain),
            (n.config_epoch.to_string(), Tone::Plain),
            (opt(n.repl_offset), Tone::Plain),
            (opt(n.lag), Tone::Plain),
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    if r.problems.is_empty() {
        out.push_str(&paint("no problems found\n", Tone::Good));
    } else {
        out.push_str(&format!("{} problems:\n", r.problems.len()));
        for p in &r.problems {
            let tone = if p.severity == Severity::Failed { Tone::Bad } else { Tone::Warn };
            let node = p.node.as_deref().map(|n| format!("{n}: ")).unwrap_or_default();
            out.push_str(&format!(
                "  {} {node}{}\n",
                paint(&format!("[{:?}]", p.severity).to_lowercase(), tone),
                p.text
            ));
        }
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// One report of the cluster the seeds lead to.
pub fn report(common: &Common, max_lag: u64) -> Result<Report, String> {
    let opts = common.conn_opts()?;
    let (known, obs) = gather(&common.seeds, &opts)?;
    Ok(assess(&known, &obs, max_lag))
}

pub fn run(a: &HealthArgs) -> Result<Status, String> {
    let mut shown = 0u64;
    loop {
        let r = report(&a.common, a.max_lag)?;
        if a.common.json {
            println!("{}", serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?);
        } else {
            if a.watch.is_some() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                print!("\x1b[2J\x1b[H");
            }
            print!("{}", render(&r));
        }
        shown += 1;
        let Some(every) = a.watch else { return Ok(r.status) };
        if a.count.is_some_and(|c| shown >= c) {
            return Ok(r.status);
        }
        std::thread::sleep(Duration::from_secs_f64(every.clamp(0.1, 3600.0)));
        if !a.common.json {
            println!();
        }
    }
}

#[cfg(test)]
mod tests;
