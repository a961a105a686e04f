//! Replica promotion as the Redis Cluster specification describes it. When its master is
//! FAIL, a replica waits a delay that grows with its rank (replicas with more data go first),
//! takes a new epoch and asks the masters for votes; a master votes once per epoch, only for a
//! replica of a failed master whose slot claims are not stale. With a majority the replica
//! takes its master's slots under the new config epoch, which wins everywhere ("last failover
//! wins"); the old master, when it comes back, finds its slots taken and follows the winner.

use super::wire::{self, Body, Header, Message, Type};
use super::{bus, flag, Cluster, NodeId, SLOTS};
use crate::keyspace::evict;

/// A replica's election in progress.
#[derive(Debug, Default)]
pub struct Election {
    /// When the replica may ask for votes (0: no election scheduled).
    pub start_at: i64,
    pub asked: bool,
    pub epoch: u64,
    pub voters: Vec<NodeId>,
    /// A manual failover: masters vote although the master is not failed.
    pub forced: bool,
    /// CLUSTER FAILOVER (default): start once our offset reached the master's.
    pub wait_for_offset: Option<u64>,
    /// Give up a manual failover at this time.
    pub manual_deadline: i64,
}

/// What the configuration and the replication link say about an automatic failover.
pub struct Rules {
    /// `cluster-replica-no-failover`.
    pub no_failover: bool,
    /// `cluster-replica-validity-factor` (0: any data age will do).
    pub validity_factor: i64,
    /// `repl-ping-replica-period`, in ms.
    pub ping_period_ms: i64,
    /// How old our copy of the master's data may be (`Replication::data_age_ms`).
    pub data_age_ms: i64,
}

/// Why a replica of a failed master is not failing over, logged as Redis does: once per
/// reason, again after `CANT_FAILOVER_RELOG_MS`, and not in the first moments of a failure.
#[derive(Debug, Default)]
pub struct CantFailover {
    reason: Option<&'static str>,
    logged_at: i64,
}

const CANT_FAILOVER_RELOG_MS: i64 = 5 * 60 * 1000;
const DATA_AGE: &str = "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.";

/// How long a replica waits for votes before trying again with a new epoch.
fn auth_timeout(cl: &Cluster) -> i64 {
    (cl.node_timeout * 2).max(2000)
}

/// Whether our data is too old to take over (Redis's rule): the time we have been without our
/// master, less the node timeout it takes to notice a failure, may not exceed the ping period
/// plus the node timeout times the validity factor.
fn data_too_old(cl: &Cluster, rules: &Rules) -> bool {
    let mut age = rules.data_age_ms;
    if age > cl.node_timeout {
        age -= cl.node_timeout;
    }
    rules.validity_factor > 0
        && age > rules.ping_period_ms.saturating_add(cl.node_timeout.saturating_mul(rules.validity_factor))
}

/// Logs (when it is due) that this replica cannot fail over for `reason`.
fn cant_failover(cl: &mut Cluster, reason: &'static str, master_fail_time: i64, now: i64) {
    let log = &mut cl.cant_failover;
    if log.reason == Some(reason) && now - log.logged_at < CANT_FAILOVER_RELOG_MS {
        return;
    }
    log.reason = Some(reason);
    // Say nothing while a failover could still start in a normal time.
    if now - master_fail_time < cl.node_timeout + 5000 {
        return;
    }
    cl.cant_failover.logged_at = now;
    cl.note(format!("Currently unable to failover: {reason}"));
}

/// The replica side, every tick: schedule, ask, and count votes.
pub fn replica_tick(cl: &mut Cluster, now: i64, rules: &Rules) {
    let me = cl.me();
    let Some(master_id) = me.master.clone().filter(|_| me.has(flag::SLAVE)) else {
        cl.election = Election::default();
        cl.cant_failover.reason = None;
        return;
    };
    let Some(master) = cl.nodes.get(&master_id) else { return };
    let manual = cl.election.forced || cl.election.wait_for_offset.is_some();
    if manual && now > cl.election.manual_deadline {
        cl.election = Election::default();
        return;
    }
    if let Some(target) = cl.election.wait_for_offset {
        // CLUSTER FAILOVER: go once we have everything the paused master acknowledged.
        if cl.me().repl_offset < target {
            return;
        }
        cl.election.wait_for_offset = None;
        cl.election.forced = true;
        cl.election.start_at = now;
        cl.election.asked = false;
    }
    let manual = cl.election.forced;
    if !manual && (!master.has(flag::FAIL) || rules.no_failover || cl.slot_count(&master_id) == 0) {
        cl.election.start_at = 0;
        cl.cant_failover.reason = None;
        return;
    }
    // A manual failover is the operator's call; an automatic one needs recent enough data.
    if !manual && data_too_old(cl, rules) {
        let fail_time = master.fail_time;
        cant_failover(cl, DATA_AGE, fail_time, now);
        return;
    }
    let timeout = auth_timeout(cl);
    if cl.election.start_at == 0 || (cl.election.asked && now - cl.election.start_at > timeout * 2) {
        // Replicas that have seen more of the master's writes go first.
        let my_offset = cl.me().repl_offset;
        let rank = cl.replicas_of(&master_id).filter(|r| r.repl_offset > my_offset).count() as i64;
        // FAIL is broadcast the moment a majority agrees, so a shorter wait than Redis's 500 ms
        // suffices for it to arrive; the random part still spreads rival replicas apart.
        let delay = if manual { 0 } else { 250 + (evict::rand() % 250) as i64 + rank * 1000 };
        cl.election.start_at = now + delay;
        cl.election.asked = false;
        cl.election.voters.clear();
        if !manual {
            cl.note(format!("Start of election delayed for {delay} milliseconds (rank #{rank}, offset {my_offset})."));
        }
        return;
    }
    if now < cl.election.start_at {
        return;
    }
    if !cl.election.asked {
        cl.current_epoch += 1;
        cl.election.epoch = cl.current_epoch;
        cl.election.asked = true;
        cl.election.voters.clear();
        cl.todo_save = true;
        cl.note(format!("Starting a failover election for epoch {}.", cl.election.epoch));
        let body = Body::AuthRequest { force: manual };
        let bytes = wire::encode(&Message { kind: Type::AuthRequest, hdr: bus::header(cl), body });
        let masters: Vec<NodeId> = cl
            .nodes
            .values()
            .filter(|n| n.is_master() && !n.has(flag::MYSELF) && n.id != master_id)
            .map(|n| n.id.clone())
            .collect();
        for m in masters {
            bus::send_to(cl, &m, Type::AuthRequest, bytes.clone());
        }
        // A forced election also asks the old master, which is alive and may vote.
        if manual {
            bus::send_to(cl, &master_id, Type::AuthRequest, bytes);
        }
        return;
    }
    if cl.election.voters.len() > cl.size / 2 {
        promote(cl, cl.election.epoch);
    }
}

/// Makes this replica the master of its master's slots under `epoch`.
pub fn promote(cl: &mut Cluster, epoch: u64) {
    let me = cl.myself.clone();
    let Some(old) = cl.me().master.clone() else { return };
    cl.set_role(&me, None);
    let epoch = epoch.max(cl.current_epoch);
    cl.current_epoch = epoch;
    cl.me_mut().config_epoch = epoch;
    for slot in 0..SLOTS as u16 {
        if cl.slots[slot as usize].as_ref() == Some(&old) {
            cl.assign(slot, Some(me.clone()));
        }
    }
    cl.election = Election::default();
    cl.todo_save = true;
    cl.note(format!("Failover election won: I'm the new master (configEpoch set to {epoch})."));
    // Everybody learns the new owner from the next header; tell them now.
    let pong = bus::ping(cl, Type::Pong);
    bus::broadcast(cl, Type::Pong, pong);
}

/// The master side: a replica asks for our vote.
pub fn vote(cl: &mut Cluster, sender: &NodeId, h: &Header, force: bool, now: i64) {
    let me = cl.me();
    if !me.is_master() || cl.slot_count(&cl.myself) == 0 {
        return;
    }
    if h.current_epoch < cl.current_epoch || cl.last_vote_epoch == cl.current_epoch {
        return;
    }
    let Some(master_id) = h.master.as_deref().and_then(|m| cl.nodes.get_key_value(m)).map(|(k, _)| k.clone()) else {
        return;
    };
    let master = &cl.nodes[&master_id];
    if !force && !master.has(flag::FAIL) {
        return;
    }
    if now - cl.voted_for.get(&master_id).copied().unwrap_or(0) < cl.node_timeout * 2 {
        return;
    }
    // The replica's view of its master's slots must not be older than ours.
    for slot in 0..SLOTS {
        if h.slots[slot / 8] & (1 << (slot % 8)) == 0 {
            continue;
        }
        let owner_epoch = cl.slots[slot].as_ref().and_then(|o| cl.nodes.get(o)).map_or(0, |n| n.config_epoch);
        if owner_epoch > h.config_epoch {
            return;
        }
    }
    cl.last_vote_epoch = cl.current_epoch;
    cl.voted_for.insert(master_id, now);
    cl.todo_save = true;
    let bytes = wire::encode(&Message { kind: Type::AuthAck, hdr: bus::header(cl), body: Body::AuthAck });
    bus::send_to(cl, sender, Type::AuthAck, bytes);
}

/// A vote arrived.
pub fn count_vote(cl: &mut Cluster, sender: &NodeId, h: &Header) {
    let voter_serves = cl.nodes.get(sender).is_some_and(|n| n.is_master()) && cl.slot_count(sender) > 0;
    if !cl.election.asked || h.current_epoch < cl.election.epoch || !voter_serves {
        return;
    }
    if !cl.election.voters.contains(sender) {
        cl.election.voters.push(sender.clone());
    }
    if cl.election.voters.len() > cl.size / 2 {
        promote(cl, cl.election.epoch);
    }
}

/// CLUSTER FAILOVER on a replica: `TAKEOVER` promotes at once without votes, `FORCE` starts
/// an election now, the default waits until this replica has the master's offset first.
pub fn manual(cl: &mut Cluster, mode: &str, now: i64) -> Result<(), String> {
    let me = cl.me();
    let Some(master_id) = me.master.clone().filter(|_| me.has(flag::SLAVE)) else {
        return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
    };
    let master = cl.nodes.get(&master_id).ok_or("ERR I'm a replica but my master is unknown to me")?;
    if mode.is_empty() && master.has(flag::FAIL) {
        return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
    }
    match mode {
        "takeover" => {
            cl.current_epoch += 1;
            let epoch = cl.current_epoch;
            promote(cl, epoch);
        }
        "force" => {
            cl.election = Election { forced: true, manual_deadline: now + 5000, ..Election::default() };
            cl.election.start_at = now;
        }
        _ => {
            // The master pauses its writes and says so with its final offset; we start the
            // election once we have applied everything up to it.
            cl.election = Election { manual_deadline: now + 5000, ..Election::default() };
            cl.election.wait_for_offset = Some(u64::MAX);
            let bytes = wire::encode(&Message { kind: Type::MfStart, hdr: bus::header(cl), body: Body::MfStart });
            bus::send_to(cl, &master_id, Type::MfStart, bytes);
        }
    }
    Ok(())
}

/// A master that lost every slot to `winner` becomes its replica (the old master of a failover
/// coming back, or a frozen master waking up): no split-brain copy of the slots survives.
pub fn follow_if_emptied(cl: &mut Cluster, had_slots: bool, winner: &NodeId) {
    let me = cl.myself.clone();
    if had_slots && cl.me().is_master() && cl.slot_count(&me) == 0 && cl.slot_count(winner) > 0 {
        cl.set_role(&me, Some(winner.clone()));
    }
}

/// A header from our master: while it pauses for our manual failover, its offset is final.
pub fn master_offset_seen(cl: &mut Cluster, sender: &NodeId, offset: u64, paused: bool) {
    if paused && cl.me().master.as_ref() == Some(sender) && cl.election.wait_for_offset.is_some() {
        cl.election.wait_for_offset = Some(offset);
    }
}

/// Our replica starts a manual failover: pause writes (at most 5 s) and tell it our offset.
pub fn pause_for(cl: &mut Cluster, replica: &NodeId, now: i64) {
    let ours = cl.nodes.get(replica).is_some_and(|r| r.master.as_ref() == Some(&cl.myself));
    if !ours || !cl.me().is_master() {
        return;
    }
    cl.mf_pause = Some((now + 5000, replica.clone()));
    bus::send_ping(cl, replica);
}

/// Whether writes wait (a manual failover is taking over from this master).
pub fn writes_paused(cl: &Cluster, now: i64) -> bool {
    cl.mf_pause.as_ref().is_some_and(|(until, _)| now < *until) && cl.me().is_master()
}
