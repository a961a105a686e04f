//! Replica migration, as the Redis Cluster specification describes it: when a master that
//! serves slots and used to have replicas has no working replica left (it is orphaned), a
//! replica of the master with the most working replicas moves over to it, so that one more
//! failure does not leave its slots without a copy. Of the replicas of the best-covered masters
//! only the one with the smallest node ID moves, only if its master keeps more than
//! `cluster-migration-barrier` working replicas, and only once the orphan condition has held
//! for a while, which gives a failover in progress time to announce its new replicas.

use std::collections::HashMap;

use super::{bus, flag, Cluster, NodeId};
use crate::cluster::wire::Type;

/// The configuration that governs migration.
pub struct Rules {
    /// `cluster-allow-replica-migration`.
    pub allowed: bool,
    /// `cluster-migration-barrier`.
    pub barrier: usize,
}

/// How long a master must stay orphaned before a replica moves to it (Redis's 5 s).
const MIGRATION_DELAY_MS: i64 = 5000;

/// Every tick: tracks orphaned masters and, on the one replica entitled to, moves it to the
/// longest-orphaned one.
pub fn tick(cl: &mut Cluster, now: i64, rules: &Rules) {
    let working = working_replicas(cl);
    let mut orphans = track_orphans(cl, &working, now);
    let me = cl.me();
    let Some(my_master) = me.master.clone().filter(|_| me.has(flag::SLAVE)) else { return };
    let best = cl
        .nodes
        .values()
        .filter(|n| n.is_master() && !n.has(flag::FAIL))
        .map(|n| working.get(&n.id).copied().unwrap_or(0))
        .max()
        .unwrap_or(0);
    let mine = working.get(&my_master).copied().unwrap_or(0);
    if orphans.is_empty() || best < 2 || mine != best || !rules.allowed || !cl.state_ok {
        return;
    }
    // My master must keep more than `barrier` healthy replicas (not even suspected).
    let healthy = cl.replicas_of(&my_master).filter(|r| !r.failing()).count();
    if healthy <= rules.barrier {
        return;
    }
    // The candidate: the smallest name among the working replicas of the best-covered masters
    // (Redis also counts failed replicas here, which lets a dead one block the migration).
    let best_covered = |m: &NodeId| working.get(m) == Some(&best) && cl.nodes.get(m).is_some_and(|m| m.is_master());
    let candidate = cl
        .nodes
        .values()
        .filter(|r| !r.has(flag::FAIL) && r.master.as_ref().is_some_and(best_covered))
        .map(|r| &r.id)
        .min();
    if candidate != Some(&cl.myself) {
        return;
    }
    orphans.sort();
    let Some((since, target)) = orphans.into_iter().next() else { return };
    if now - since <= MIGRATION_DELAY_MS {
        return;
    }
    let myself = cl.myself.clone();
    cl.set_role(&myself, Some(target.clone()));
    cl.election = super::failover::Election::default();
    // Everybody learns our new master from our next header; tell them now.
    let pong = bus::ping(cl, Type::Pong);
    bus::broadcast(cl, Type::Pong, pong);
    cl.note(format!("Migrating to orphaned master {target}"));
}

/// Updates when each master became orphaned; returns the orphans with that time.
fn track_orphans(cl: &mut Cluster, working: &HashMap<NodeId, usize>, now: i64) -> Vec<(i64, NodeId)> {
    let mut serving: HashMap<NodeId, usize> = HashMap::new();
    for owner in cl.slots.iter().flatten() {
        *serving.entry(owner.clone()).or_default() += 1;
    }
    let mut orphans = Vec::new();
    for n in cl.nodes.values_mut() {
        let usable = n.is_master() && !n.has(flag::MYSELF | flag::NOADDR | flag::HANDSHAKE | flag::FAIL);
        // A master counts as orphaned only if it was meant to have replicas (it had one, or it
        // took over from a master that had them).
        let orphaned = usable
            && serving.contains_key(&n.id)
            && n.has(flag::MIGRATE_TO)
            && working.get(&n.id).is_none_or(|c| *c == 0);
        if !orphaned {
            n.orphaned_time = 0;
            continue;
        }
        if n.orphaned_time == 0 {
            n.orphaned_time = now;
        }
        orphans.push((n.orphaned_time, n.id.clone()));
    }
    orphans
}

/// Working (not FAIL) replicas per master. Every master seen with a replica is also marked as
/// one that is meant to have replicas.
fn working_replicas(cl: &mut Cluster) -> HashMap<NodeId, usize> {
    let mut counts: HashMap<NodeId, usize> = HashMap::new();
    let mut replicated: Vec<NodeId> = Vec::new();
    for n in cl.nodes.values() {
        let Some(m) = n.master.as_ref().filter(|_| n.has(flag::SLAVE)) else { continue };
        replicated.push(m.clone());
        if !n.has(flag::FAIL) {
            *counts.entry(m.clone()).or_default() += 1;
        }
    }
    for m in replicated {
        if let Some(n) = cl.nodes.get_mut(&m) {
            n.flags |= flag::MIGRATE_TO;
        }
    }
    counts
}
