//! `slotgate create`: forms a cluster from empty nodes, as `redis-cli --cluster create` does.
//! The first N / (1 + replicas) nodes become masters with even slot ranges and distinct
//! config epochs, every node meets the first, the others replicate the masters in turn, and
//! the command waits until every node says `cluster_state:ok`. Run again on the cluster it
//! made, it changes nothing (a compose or Kubernetes job may run twice).

use std::net::ToSocketAddrs;
use std::time::Duration;

use clap::Args;

use super::membership::{known_ids, wait};
use super::{my_id, Outcome, Pool};
use crate::{Common, Status};

#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub common: Common,
    /// The nodes, `host:port` (names are resolved: CLUSTER MEET takes addresses).
    #[arg(required = true, value_name = "HOST:PORT")]
    pub nodes: Vec<String>,
    /// Replicas per master.
    #[arg(long, default_value_t = 0)]
    pub replicas: usize,
    /// Seconds to wait for the nodes to agree.
    #[arg(long, default_value_t = 60.0)]
    pub wait: f64,
}

/// Even slot ranges for `masters` masters (inclusive).
pub fn ranges(masters: usize) -> Vec<(u16, u16)> {
    let n = protocol::SLOT_COUNT;
    (0..masters).map(|i| ((i * n / masters) as u16, ((i + 1) * n / masters - 1) as u16)).collect()
}

pub fn run(a: &CreateArgs) -> Result<Status, String> {
    let json = a.common.json;
    let mut pool = Pool::new(a.common.conn_opts()?);
    let mut out = Outcome::new();
    let limit = Duration::from_secs_f64(a.wait.clamp(1.0, 3600.0));
    let masters = a.nodes.len() / (1 + a.replicas);
    if masters < 3 {
        return Err(format!(
            "{} nodes with {} replicas each make {masters} masters; a cluster needs at least 3",
            a.nodes.len(),
            a.replicas
        ));
    }
    // Addresses as the nodes will gossip them, and each node's id.
    let mut nodes = Vec::new();
    for name in &a.nodes {
        let sock = name
            .to_socket_addrs()
            .map_err(|e| format!("{name}: {e}"))?
            .next()
            .ok_or_else(|| format!("{name}: no address"))?;
        let id = my_id(&mut pool, name).map_err(|e| format!("{name}: {e}"))?;
        nodes.push((name.clone(), sock, id));
    }
    let all_ids: Vec<String> = nodes.iter().map(|n| n.2.clone()).collect();
    let formed = |pool: &mut Pool| {
        nodes.iter().all(|(name, _, _)| {
            known_ids(pool, name).is_some_and(|k| all_ids.iter().all(|id| k.contains(id)))
                && pool.call_text(name, &["CLUSTER", "INFO"]).is_ok_and(|i| i.contains("cluster_state:ok"))
        })
    };
    if formed(&mut pool) {
        out.act(json, format!("the {} nodes already form a cluster", nodes.len()));
        return out.finish(json, "nothing to do");
    }
    for (name, _, _) in &nodes {
        let known = known_ids(&mut pool, name).ok_or_else(|| format!("{name}: CLUSTER NODES failed"))?;
        let keys = pool.call_int(name, &["DBSIZE"]).map_err(|e| format!("{name}: {e}"))?;
        let info = pool.call_text(name, &["CLUSTER", "INFO"]).map_err(|e| format!("{name}: {e}"))?;
        if known.len() > 1 || keys > 0 || !info.contains("cluster_slots_assigned:0") {
            return Err(format!("{name} is not empty (it knows other nodes, holds keys or serves slots)"));
        }
    }
    for ((name, _, _), (from, to)) in nodes.iter().zip(ranges(masters)) {
        pool.call(name, &["CLUSTER", "ADDSLOTSRANGE", &from.to_string(), &to.to_string()])
            .map_err(|e| format!("{name}: CLUSTER ADDSLOTSRANGE: {e}"))?;
        out.act(json, format!("{name}: master of slots {from}-{to}"));
    }
    for (i, (name, _, _)) in nodes.iter().enumerate() {
        // Distinct epochs, so no collision has to be resolved after the meeting.
        pool.call(name, &["CLUSTER", "SET-CONFIG-EPOCH", &(i + 1).to_string()])
            .map_err(|e| format!("{name}: CLUSTER SET-CONFIG-EPOCH: {e}"))?;
    }
    let first = nodes[0].0.clone();
    for (name, sock, _) in &nodes[1..] {
        pool.call(&first, &["CLUSTER", "MEET", &sock.ip().to_string(), &sock.port().to_string()])
            .map_err(|e| format!("CLUSTER MEET {name} on {first}: {e}"))?;
    }
    let met = wait(limit, || {
        nodes
            .iter()
            .all(|(name, _, _)| known_ids(&mut pool, name).is_some_and(|k| all_ids.iter().all(|id| k.contains(id))))
    });
    if !met {
        return Err(format!("the nodes did not all meet within {} s", limit.as_secs()));
    }
    out.act(json, format!("{} nodes met", nodes.len()));
    for (j, (name, _, _)) in nodes[masters..].iter().enumerate() {
        let (master, _, master_id) = &nodes[j % masters];
        pool.call(name, &["CLUSTER", "REPLICATE", master_id])
            .map_err(|e| format!("{name}: CLUSTER REPLICATE {master}: {e}"))?;
        out.act(json, format!("{name}: replica of {master}"));
    }
    if !wait(limit, || formed(&mut pool)) {
        return Err(format!("the cluster did not reach cluster_state:ok within {} s", limit.as_secs()));
    }
    out.finish(json, &format!("cluster created: {masters} masters, {} replicas", nodes.len() - masters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_slot_once() {
        assert_eq!(ranges(3), vec![(0, 5460), (5461, 10921), (10922, 16383)]);
        for m in 3..=10 {
            let r = ranges(m);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[m - 1].1, 16383);
            assert!(r.windows(2).all(|w| w[1].0 == w[0].1 + 1));
        }
    }
}
