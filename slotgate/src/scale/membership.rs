//! `slotgate scale add` and `slotgate scale remove`.
//!
//! Adding: each new node must be empty (it knows only itself and holds no key); an existing
//! node sends it CLUSTER MEET, and the command waits until every node knows every new one.
//! New masters then get their share of slots by a rebalance with empty masters included
//! (unless `--no-rebalance`); with `--replica-of` they become replicas (CLUSTER REPLICATE) and
//! the command waits for their replication link.
//!
//! Removing: a master's slots are first moved to the other masters (a rebalance where it
//! weighs 0). Its replicas are kept, not removed: each is re-pointed (CLUSTER REPLICATE) to
//! the remaining master with the fewest replicas, so no copy of the data is thrown away and
//! the operator decides separately whether to remove them. Then every other node is told to
//! CLUSTER FORGET it, repeatedly until none lists it any more: a node that forgot it may learn
//! it again from the gossip of one that did not, once its 60 s ban ends, so every node must
//! forget it within that minute. Finally the removed node is reset (CLUSTER RESET SOFT) so it
//! does not try to rejoin, and with `--shutdown` it is stopped with SHUTDOWN NOSAVE: it holds
//! nothing worth saving after the reset, and a save would overwrite the dump it kept on disk.

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::fix::short;
use super::rebalance::{self, Params};
use super::{my_id, Outcome, Pool, Snapshot};
use crate::client::Error;
use crate::topology;
use crate::{Common, Status};

#[derive(Args)]
pub struct ScaleArgs {
    #[command(subcommand)]
    pub op: ScaleOp,
}

#[derive(Subcommand)]
pub enum ScaleOp {
    /// Add empty nodes to the cluster (masters given slots by a rebalance, or replicas).
    Add(AddArgs),
    /// Remove a node: its slots move to the other masters, then every node forgets it.
    Remove(RemoveArgs),
}

#[derive(Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub common: Common,
    /// The new nodes, empty and started in cluster mode.
    #[arg(required = true, value_name = "HOST:PORT")]
    pub nodes: Vec<String>,
    /// Make the new nodes replicas of this master (node id or host:port).
    #[arg(long, value_name = "NODE")]
    pub replica_of: Option<String>,
    /// Leave new masters without slots.
    #[arg(long)]
    pub no_rebalance: bool,
    /// The rebalance's threshold, percent.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Keys per MIGRATE.
    #[arg(long, default_value_t = 10)]
    pub pipeline: usize,
}

#[derive(Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub common: Common,
    /// The node to remove (node id, unique id prefix, or host:port).
    #[arg(value_name = "NODE")]
    pub node: String,
    /// Stop the removed node afterwards (SHUTDOWN NOSAVE).
    #[arg(long)]
    pub shutdown: bool,
    /// The rebalance's threshold, percent (the removed master always gives every slot).
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Keys per MIGRATE.
    #[arg(long, default_value_t = 10)]
    pub pipeline: usize,
}

/// How long nodes get to learn of each other, and for a replica's link to come up.
const GOSSIP_WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

pub fn run(a: &ScaleArgs) -> Result<Status, String> {
    match &a.op {
        ScaleOp::Add(a) => {
            let mut pool = Pool::new(a.common.conn_opts()?);
            let mut out = Outcome::new();
            let ids = add(&a.common, &mut pool, &a.nodes, a.replica_of.as_deref(), &mut out)?;
            if a.replica_of.is_none() && !a.no_rebalance && !ids.is_empty() {
                let p = Params {
                    weights: Vec::new(),
                    threshold: a.threshold,
                    use_empty: true,
                    dry_run: false,
                    pipeline: a.pipeline,
                };
                rebalance::rebalance(&a.common, &mut pool, &p, &mut out)?;
            }
            let summary =
                format!("Added {} node(s); {} slot(s) moved, {} key(s).", ids.len(), out.slots_moved, out.keys_moved);
            out.finish(a.common.json, &summary)
        }
        ScaleOp::Remove(a) => {
            let mut pool = Pool::new(a.common.conn_opts()?);
            let mut out = Outcome::new();
            let addr = remove(&a.common, &mut pool, &a.node, a.threshold, a.pipeline, a.shutdown, &mut out)?;
            let summary = format!("Removed {addr}; {} slot(s) moved, {} key(s).", out.slots_moved, out.keys_moved);
            out.finish(a.common.json, &summary)
        }
    }
}

/// The ids every node lists (handshakes excluded), node by node; None for a node that did not answer.
pub fn known_ids(pool: &mut Pool, addr: &str) -> Option<Vec<String>> {
    let text = pool.call_text(addr, &["CLUSTER", "NODES"]).ok()?;
    let lines = topology::parse_nodes(&text, topology::host_of(addr)).ok()?;
    Some(lines.into_iter().filter(|l| !l.has_flag("handshake")).map(|l| l.id).collect())
}

/// Polls `f` every 200 ms until it holds or `limit` passes.
pub fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Joins `addrs` to the cluster; returns the ids of the nodes that were new.
pub fn add(
    common: &Common,
    pool: &mut Pool,
    addrs: &[String],
    replica_of: Option<&str>,
    out: &mut Outcome,
) -> Result<Vec<String>, String> {
    let json = common.json;
    let snap = Snapshot::take(&common.seeds, pool)?;
    let master = match replica_of {
        Some(name) => {
            let m = snap.resolve(name)?;
            if !m.is_master() {
                return Err(format!("--replica-of {name}: {} is not a master", m.addr));
            }
            Some(m.id.clone())
        }
        None => None,
    };
    let introducer = snap.masters().next().ok_or("no master of the cluster answered")?.addr.clone();
    let mut new = Vec::new();
    for addr in addrs {
        let id = my_id(pool, addr).map_err(|e| format!("new node {addr}: {e}"))?;
        if snap.by_id(&id).is_some() {
            out.act(json, format!("{addr} ({}) is already in the cluster", short(&id)));
            continue;
        }
        let lines = known_ids(pool, addr).ok_or_else(|| format!("new node {addr}: CLUSTER NODES failed"))?;
        let keys = pool.call_int(addr, &["DBSIZE"]).map_err(|e| format!("new node {addr}: {e}"))?;
        if lines.len() > 1 || keys > 0 {
            return Err(format!(
                "{addr} is not empty: it knows {} other node(s) and holds {keys} key(s) (give it a CLUSTER RESET, or use an empty node)",
                lines.len().saturating_sub(1)
            ));
        }
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| format!("{addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("{addr}: no address"))?;
        pool.call(&introducer, &["CLUSTER", "MEET", &sock.ip().to_string(), &sock.port().to_string()])
            .map_err(|e| format!("CLUSTER MEET {addr} on {introducer}: {e}"))?;
        out.act(json, format!("{introducer} met {addr} ({})", short(&id)));
        new.push((addr.clone(), id));
    }
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let mut everyone: Vec<(String, String)> = snap.nodes.iter().map(|n| (n.addr.clone(), n.id.clone())).collect();
    everyone.extend(new.iter().cloned());
    let all_ids: Vec<String> = everyone.iter().map(|(_, id)| id.clone()).collect();
    let mut missing = String::new();
    let joined = wait(GOSSIP_WAIT, || {
        for (addr, _) in &everyone {
            let known = known_ids(pool, addr).unwrap_or_default();
            if let Some(id) = all_ids.iter().find(|id| !known.contains(id)) {
                missing = format!("{addr} does not know {} yet", short(id));
                return false;
            }
        }
        true
    });
    if !joined {
        return Err(format!("the new node(s) did not join within {} s: {missing}", GOSSIP_WAIT.as_secs()));
    }
    out.act(json, format!("every node knows the {} new node(s)", new.len()));
    // A node that just joined answers CLUSTERDOWN (also to MIGRATE's RESTORE-ASKING) until it
    // has seen every slot served; Redis also holds a fresh master down for a moment.
    let mut down = String::new();
    let ready = wait(GOSSIP_WAIT, || {
        new.iter().all(|(addr, _)| {
            let ok = pool.call_text(addr, &["CLUSTER", "INFO"]).is_ok_and(|t| t.contains("cluster_state:ok"));
            if !ok {
                down = addr.clone();
            }
            ok
        })
    });
    if !ready {
        out.warn(json, format!("{down} did not reach cluster_state:ok within {} s", GOSSIP_WAIT.as_secs()));
    }
    if let Some(master) = master {
        for (addr, _) in &new {
            pool.call(addr, &["CLUSTER", "REPLICATE", &master])
                .map_err(|e| format!("CLUSTER REPLICATE on {addr}: {e}"))?;
        }
        for (addr, _) in &new {
            let up = wait(GOSSIP_WAIT, || {
                pool.call_text(addr, &["INFO", "replication"]).is_ok_and(|t| t.contains("master_link_status:up"))
            });
            if !up {
                return Err(format!(
                    "{addr}: the replication link to {} did not come up within {} s",
                    short(&master),
                    GOSSIP_WAIT.as_secs()
                ));
            }
            out.act(json, format!("{addr} replicates {} (link up)", short(&master)));
        }
    }
    Ok(new.into_iter().map(|(_, id)| id).collect())
}

/// Removes `name` from the cluster; returns its address.
pub fn remove(
    common: &Common,
    pool: &mut Pool,
    name: &str,
    threshold: f64,
    pipeline: usize,
    shutdown: bool,
    out: &mut Outcome,
) -> Result<String, String> {
    let json = common.json;
    let snap = Snapshot::take(&common.seeds, pool)?;
    let victim = match snap.resolve(name) {
        Ok(n) => n.clone(),
        // A dead node can be forgotten as long as it serves no slot.
        Err(e) => match snap.resolve_unreachable(name) {
            Some(n) if n.is_master() && n.slot_count() > 0 => {
                return Err(format!(
                    "{} does not answer and still serves {} slot(s): fail it over (or `slotgate fix` once it is gone) first",
                    n.addr,
                    n.slot_count()
                ))
            }
            Some(n) => n.clone(),
            None => return Err(e),
        },
    };
    let alive = snap.by_id(&victim.id).is_some();
    if common.seeds.len() == 1 && common.seeds[0] == victim.addr {
        return Err(format!("{} is the only seed: give another node with -s", victim.addr));
    }
    if victim.is_master() && victim.slot_count() > 0 {
        let p =
            Params { weights: vec![(victim.id.clone(), 0.0)], threshold, use_empty: false, dry_run: false, pipeline };
        rebalance::rebalance(common, pool, &p, out)?;
        let left = Snapshot::take(&common.seeds, pool)?.by_id(&victim.id).map_or(0, |n| n.slot_count());
        if left > 0 {
            return Err(format!("{} still holds {left} slot(s) after the rebalance", victim.addr));
        }
    }
    let snap = Snapshot::take(&common.seeds, pool)?;
    if victim.is_master() {
        let mut masters: Vec<(String, usize)> = snap
            .masters()
            .filter(|m| m.id != victim.id && m.slot_count() > 0)
            .map(|m| {
                (m.id.clone(), snap.nodes.iter().filter(|r| r.master_id.as_deref() == Some(m.id.as_str())).count())
            })
            .collect();
        for r in snap.nodes.iter().filter(|r| r.master_id.as_deref() == Some(victim.id.as_str())) {
            let Some(target) = masters.iter_mut().min_by_key(|(_, n)| *n) else {
                return Err("no other master with slots to re-point the replicas to".into());
            };
            target.1 += 1;
            let tid = target.0.clone();
            pool.call(&r.addr, &["CLUSTER", "REPLICATE", &tid])
                .map_err(|e| format!("CLUSTER REPLICATE on {}: {e}", r.addr))?;
            out.act(json, format!("replica {} now replicates {}", r.addr, short(&tid)));
        }
    }
    let others: Vec<String> = snap.nodes.iter().filter(|n| n.id != victim.id).map(|n| n.addr.clone()).collect();
    let mut stubborn = String::new();
    let mut clean_rounds = 0;
    let forgotten = wait(GOSSIP_WAIT, || {
        let mut all_forgot = true;
        for addr in &others {
            if !known_ids(pool, addr).is_some_and(|ids| ids.contains(&victim.id)) {
                continue;
            }
            all_forgot = false;
            match pool.call(addr, &["CLUSTER", "FORGET", &victim.id]) {
                Ok(_) => {}
                Err(e) => stubborn = format!("{addr}: {e}"),
            }
        }
        // Once more after a clean round: a lagging node may have gossiped it back meanwhile.
        clean_rounds = if all_forgot { clean_rounds + 1 } else { 0 };
        clean_rounds >= 2
    });
    if !forgotten {
        return Err(format!(
            "not every node forgot {} within {} s (last refusal: {stubborn})",
            victim.addr,
            GOSSIP_WAIT.as_secs()
        ));
    }
    out.act(json, format!("every other node forgot {} ({})", victim.addr, short(&victim.id)));
    if !alive {
        out.act(json, format!("{} does not answer: not reset", victim.addr));
        return Ok(victim.addr);
    }
    match pool.call(&victim.addr, &["CLUSTER", "RESET", "SOFT"]) {
        Ok(_) => out.act(json, format!("{} was reset and knows no cluster any more", victim.addr)),
        Err(e) => out.warn(json, format!("CLUSTER RESET SOFT on {}: {e}", victim.addr)),
    }
    if shutdown {
        match pool.call(&victim.addr, &["SHUTDOWN", "NOSAVE"]) {
            // SHUTDOWN answers by closing the connection.
            Err(Error::Io(_)) => out.act(json, format!("{} was shut down", victim.addr)),
            Ok(f) => out.warn(json, format!("SHUTDOWN on {} answered {f:?}", victim.addr)),
            Err(e) => out.warn(json, format!("SHUTDOWN on {}: {e}", victim.addr)),
        }
        pool.drop_conn(&victim.addr);
    }
    Ok(victim.addr)
}
