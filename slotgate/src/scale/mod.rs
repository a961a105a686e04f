//! Scaling: moving slots live (`migrate`), planning and running a rebalance (`plan`,
//! `rebalance`), repairing half-moved and unassigned slots (`fix`), adding and removing nodes
//! (`membership`) and deciding when to do so from the cluster's figures (`autoscale`).
//! Every command here reads the cluster as each master describes itself, because during a
//! migration the masters disagree and only their own lines say what they hold.

pub mod autoscale;
pub mod create;
pub mod fix;
pub mod membership;
pub mod migrate;
pub mod plan;
pub mod rebalance;

use std::collections::HashMap;

use serde::Serialize;

use crate::client::{Conn, ConnOpts, Error};
use crate::topology::{self, NodeLine};
use crate::Status;

/// Connections kept open for the whole run, one per node address.
pub struct Pool {
    pub opts: ConnOpts,
    conns: HashMap<String, Conn>,
}

impl Pool {
    pub fn new(opts: ConnOpts) -> Pool {
        Pool { opts, conns: HashMap::new() }
    }

    /// The connection to `addr`, opened on first use; a broken one is dropped so the next
    /// call reconnects.
    pub fn with<T>(&mut self, addr: &str, f: impl FnOnce(&mut Conn) -> Result<T, Error>) -> Result<T, Error> {
        if !self.conns.contains_key(addr) {
            let c = Conn::open(addr, &self.opts)?;
            self.conns.insert(addr.to_string(), c);
        }
        let Some(conn) = self.conns.get_mut(addr) else { return Err(Error::Io(format!("{addr}: no connection"))) };
        let r = f(conn);
        if matches!(r, Err(Error::Io(_))) {
            self.conns.remove(addr);
        }
        r
    }

    pub fn call<A: AsRef<[u8]>>(&mut self, addr: &str, args: &[A]) -> Result<protocol::Frame, Error> {
        self.with(addr, |c| c.call(args))
    }

    pub fn call_int<A: AsRef<[u8]>>(&mut self, addr: &str, args: &[A]) -> Result<i64, Error> {
        self.with(addr, |c| c.call_int(args))
    }

    pub fn call_text<A: AsRef<[u8]>>(&mut self, addr: &str, args: &[A]) -> Result<String, Error> {
        self.with(addr, |c| c.call_text(args))
    }

    /// Forgets the connection to `addr` (after SHUTDOWN).
    pub fn drop_conn(&mut self, addr: &str) {
        self.conns.remove(addr);
    }
}

/// The cluster as every node describes itself: each entry is the `myself` line of that
/// node's own CLUSTER NODES (its slots, its open slots, its role).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub nodes: Vec<NodeLine>,
    /// Nodes the seed lists that did not answer, as the seed describes them, and the error.
    pub unreachable: Vec<(NodeLine, String)>,
}

impl Snapshot {
    /// Asks the seeds for the node list, then every node for its own line.
    pub fn take(seeds: &[String], pool: &mut Pool) -> Result<Snapshot, String> {
        let known = topology::discover(seeds, &pool.opts)?;
        let mut nodes = Vec::new();
        let mut unreachable = Vec::new();
        for n in &known {
            if n.has_flag("handshake") || n.has_flag("noaddr") {
                continue;
            }
            let text = pool.call_text(&n.addr, &["CLUSTER", "NODES"]);
            let own = text.map_err(|e| e.to_string()).and_then(|t| {
                let lines = topology::parse_nodes(&t, topology::host_of(&n.addr))?;
                lines.into_iter().find(|l| l.is_myself()).ok_or_else(|| format!("{}: no myself line", n.addr))
            });
            match own {
                // The address the seed knows it by is the one that worked.
                Ok(mut line) => {
                    line.addr = n.addr.clone();
                    nodes.push(line)
                }
                Err(e) => unreachable.push((n.clone(), e)),
            }
        }
        Ok(Snapshot { nodes, unreachable })
    }

    /// Masters that answered, in the seed's order.
    pub fn masters(&self) -> impl Iterator<Item = &NodeLine> {
        self.nodes.iter().filter(|n| n.is_master())
    }

    pub fn by_id(&self, id: &str) -> Option<&NodeLine> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// A node named by its id, a unique prefix of it (8 characters or more), or its address.
    pub fn resolve(&self, name: &str) -> Result<&NodeLine, String> {
        if let Some(n) = self.nodes.iter().find(|n| n.id == name || n.addr == name) {
            return Ok(n);
        }
        let by_prefix: Vec<&NodeLine> =
            self.nodes.iter().filter(|n| name.len() >= 8 && n.id.starts_with(name)).collect();
        match by_prefix.as_slice() {
            [one] => Ok(one),
            [] => Err(format!("no node {name:?} in the cluster (give a node id or host:port)")),
            _ => Err(format!("{name:?} names more than one node")),
        }
    }

    /// Fails when a master serving slots did not answer: moving slots with one missing could
    /// leave slots half-moved that nobody can finish. Silent replicas and empty masters do not
    /// take part.
    pub fn require_all_masters(&self) -> Result<(), String> {
        let missing: Vec<String> = self
            .unreachable
            .iter()
            .filter(|(n, _)| n.is_master() && n.slot_count() > 0)
            .map(|(n, e)| format!("{}: {e}", n.addr))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "every master serving slots must answer before slots move; not answering: {}",
                missing.join("; ")
            ))
        }
    }

    /// A node the seed lists that did not answer, named as `resolve` takes names.
    pub fn resolve_unreachable(&self, name: &str) -> Option<&NodeLine> {
        self.unreachable
            .iter()
            .map(|(n, _)| n)
            .find(|n| n.id == name || n.addr == name || (name.len() >= 8 && n.id.starts_with(name)))
    }
}

/// What a scaling command did, printed as lines or as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub status: Status,
    pub actions: Vec<String>,
    pub slots_moved: usize,
    pub keys_moved: u64,
    /// Anything that went wrong and was not fatal.
    pub warnings: Vec<String>,
}

impl Outcome {
    pub fn new() -> Outcome {
        Outcome { status: Status::Ok, actions: Vec::new(), slots_moved: 0, keys_moved: 0, warnings: Vec::new() }
    }

    /// Records and prints (to stderr unless JSON is wanted, so stdout stays the report) an action.
    pub fn act(&mut self, json: bool, s: String) {
        if !json {
            eprintln!("{s}");
        }
        self.actions.push(s);
    }

    pub fn warn(&mut self, json: bool, s: String) {
        if !json {
            eprintln!("warning: {s}");
        }
        self.warnings.push(s);
        self.status = self.status.max(Status::Degraded);
    }

    /// Prints the summary; the exit status follows.
    pub fn finish(self, json: bool, summary: &str) -> Result<Status, String> {
        if json {
            println!("{}", serde_json::to_string_pretty(&self).map_err(|e| e.to_string())?);
        } else {
            println!("{summary}");
        }
        Ok(self.status)
    }
}

/// The id a node gives itself.
pub fn my_id(pool: &mut Pool, addr: &str) -> Result<String, String> {
    pool.call_text(addr, &["CLUSTER", "MYID"]).map(|s| s.trim().to_string()).map_err(|e| e.to_string())
}
