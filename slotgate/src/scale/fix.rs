//! `slotgate fix`: finishes slots left half-moved (an interrupted rebalance or reshard) and
//! assigns slots no master serves, as `redis-cli --cluster fix` does. A half-moved slot is
//! rolled forward: its remaining keys go to the importing side and it is given to that side
//! everywhere. An unassigned slot goes to the master holding keys in it (the most keys, the
//! others' keys moved there), or, when nobody has keys, to the master with fewest slots.
//! `decide` is the pure judgement of one slot; the rest talks to the nodes.

use std::collections::BTreeSet;

use clap::Args;

use super::migrate::{self, End, KeyMover};
use super::{plan, Outcome, Pool, Snapshot};
use crate::{Common, Status};

#[derive(Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub common: Common,
    /// Keys present on both sides of a move are overwritten with the source's value without
    /// comparing them (redis-cli's --cluster-replace).
    #[arg(long)]
    pub replace: bool,
    /// Keys per MIGRATE.
    #[arg(long, default_value_t = 10)]
    pub pipeline: usize,
}

/// One master's state of one slot, as it says it itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotState {
    pub id: String,
    pub owns: bool,
    pub migrating_to: Option<String>,
    pub importing_from: Option<String>,
    pub keys: u64,
}

/// What to do about one slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Repair {
    /// Move the keys of `from` to `to`, then give the slot to `to` everywhere.
    Finish { to: String, from: Vec<String> },
    /// Nobody owns the slot: ADDSLOTS on `to`, then as `Finish`.
    Assign { to: String, from: Vec<String> },
    /// A migration that never reached its target: clear the open state on these nodes.
    Stable { nodes: Vec<String> },
}

/// The repair for one slot from every master's state of it, or None when it is healthy
/// (or unassigned and empty, which `spread` handles in bulk).
pub fn decide(states: &[SlotState]) -> Option<Repair> {
    let others = |to: &str| -> Vec<String> {
        states.iter().filter(|s| s.id != to && (s.owns || s.keys > 0)).map(|s| s.id.clone()).collect()
    };
    let importing: Vec<&SlotState> = states.iter().filter(|s| s.importing_from.is_some()).collect();
    if !importing.is_empty() {
        // The importing node a migrating node points at, else the first one.
        let pointed =
            states.iter().filter_map(|s| s.migrating_to.as_deref()).find(|t| importing.iter().any(|i| i.id == *t));
        let to = pointed.map_or(importing[0].id.clone(), str::to_string);
        return Some(Repair::Finish { from: others(&to), to });
    }
    let migrating: Vec<&SlotState> = states.iter().filter(|s| s.migrating_to.is_some()).collect();
    if let Some(m) = migrating.first() {
        let peer = m.migrating_to.as_deref().and_then(|p| states.iter().find(|s| s.id == p));
        // The target already took the slot (SETSLOT NODE reached it) or holds some keys.
        if let Some(p) = peer.filter(|p| p.owns || p.keys > 0) {
            return Some(Repair::Finish { to: p.id.clone(), from: others(&p.id) });
        }
        return Some(Repair::Stable { nodes: migrating.iter().map(|s| s.id.clone()).collect() });
    }
    let most_keys = |v: Vec<&SlotState>| v.into_iter().rev().max_by_key(|s| s.keys).map(|s| s.id.clone());
    let owners: Vec<&SlotState> = states.iter().filter(|s| s.owns).collect();
    let strays = states.iter().any(|s| !s.owns && s.keys > 0);
    if owners.is_empty() {
        let to = most_keys(states.iter().filter(|s| s.keys > 0).collect())?;
        return Some(Repair::Assign { from: others(&to), to });
    }
    if owners.len() > 1 || strays {
        let to = most_keys(owners)?;
        return Some(Repair::Finish { from: others(&to), to });
    }
    None
}

/// Runs `slotgate fix`.
pub fn run(a: &FixArgs) -> Result<Status, String> {
    let opts = a.common.conn_opts()?;
    let mover = mover(&a.common, opts.pass.clone(), a.pipeline, a.replace);
    let mut pool = Pool::new(opts);
    let mut out = Outcome::new();
    let n = repair(&a.common.seeds, &mut pool, &mover, &mut out, a.common.json)?;
    let summary = if n == 0 {
        "Nothing to fix: no open slots, every slot assigned.".to_string()
    } else {
        format!("Fixed {n} slot(s).")
    };
    out.finish(a.common.json, &summary)
}

/// How keys move, from the common options.
pub fn mover(common: &Common, pass: Option<String>, batch: usize, replace: bool) -> KeyMover {
    KeyMover {
        batch: batch.clamp(1, 1000),
        timeout_ms: (common.timeout * 1000.0) as u64,
        replace,
        user: common.user.clone(),
        pass,
    }
}

/// Repairs every open and every unassigned slot; returns how many slots it touched.
pub fn repair(
    seeds: &[String],
    pool: &mut Pool,
    mover: &KeyMover,
    out: &mut Outcome,
    json: bool,
) -> Result<usize, String> {
    let snap = Snapshot::take(seeds, pool)?;
    snap.require_all_masters()?;
    let masters: Vec<(String, String)> = snap.masters().map(|m| (m.id.clone(), m.addr.clone())).collect();
    let mut owners = vec![0u8; protocol::SLOT_COUNT];
    let mut suspect = BTreeSet::new();
    for m in snap.masters() {
        for s in plan::expand(&m.slots) {
            owners[usize::from(s)] = owners[usize::from(s)].saturating_add(1);
        }
        suspect.extend(m.open_slots.iter().map(|o| o.slot));
    }
    suspect.extend((0..protocol::SLOT_COUNT as u16).filter(|&s| owners[usize::from(s)] > 1));
    let uncovered: Vec<u16> = (0..protocol::SLOT_COUNT as u16).filter(|&s| owners[usize::from(s)] == 0).collect();
    let mut touched = 0;
    let mut empty_uncovered = Vec::new();
    // What was done, grouped: (description, slots, keys).
    let mut done: Vec<(String, Vec<u16>, u64)> = Vec::new();
    for &slot in suspect.iter().chain(&uncovered) {
        let mut states = Vec::new();
        for m in snap.masters() {
            let keys = pool
                .call_int(&m.addr, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
                .map_err(|e| format!("COUNTKEYSINSLOT {slot} on {}: {e}", m.addr))?;
            let open = m.open_slots.iter().find(|o| o.slot == slot);
            states.push(SlotState {
                id: m.id.clone(),
                owns: m.slots.iter().any(|&(a, b)| (a..=b).contains(&slot)),
                migrating_to: open.filter(|o| !o.importing).map(|o| o.peer.clone()),
                importing_from: open.filter(|o| o.importing).map(|o| o.peer.clone()),
                keys: keys.max(0) as u64,
            });
        }
        match decide(&states) {
            None if owners[usize::from(slot)] == 0 => empty_uncovered.push(slot),
            None => {}
            Some(r) => {
                let what = execute(pool, mover, slot, &r, &states, &masters)?;
                out.keys_moved += what.1;
                for w in what.2 {
                    out.warn(json, w);
                }
                match done.iter_mut().find(|d| d.0 == what.0) {
                    Some(d) => {
                        d.1.push(slot);
                        d.2 += what.1;
                    }
                    None => done.push((what.0, vec![slot], what.1)),
                }
                touched += 1;
            }
        }
    }
    for (what, slots, keys) in done {
        out.act(json, format!("{what}: {} slot(s) ({}), {keys} key(s) moved", slots.len(), ranges(&slots)));
    }
    if !empty_uncovered.is_empty() {
        let counts: Vec<usize> = snap.masters().map(|m| m.slot_count()).collect();
        let given = plan::spread(&empty_uncovered, &counts);
        for (i, (id, addr)) in masters.iter().enumerate() {
            let mine: Vec<String> = given.iter().filter(|(_, m)| *m == i).map(|(s, _)| s.to_string()).collect();
            if mine.is_empty() {
                continue;
            }
            let mut args = vec!["CLUSTER".to_string(), "ADDSLOTS".to_string()];
            args.extend(mine.iter().cloned());
            pool.call(addr, &args).map_err(|e| format!("ADDSLOTS on {addr}: {e}"))?;
            out.act(json, format!("assigned {} unassigned empty slot(s) to {addr} ({})", mine.len(), short(id)));
            touched += mine.len();
        }
    }
    Ok(touched)
}

/// Ascending slots as Redis prints ranges: `0-63 6827-6890`.
pub fn ranges(slots: &[u16]) -> String {
    let mut r: Vec<(u16, u16)> = Vec::new();
    for &s in slots {
        match r.last_mut() {
            Some((_, b)) if u32::from(*b) + 1 == u32::from(s) => *b = s,
            _ => r.push((s, s)),
        }
    }
    crate::topology::format_ranges(&r)
}

/// The first 8 characters of a node id, as people quote them.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[allow(clippy::too_many_arguments)]
fn execute(
    pool: &mut Pool,
    mover: &KeyMover,
    slot: u16,
    repair: &Repair,
    states: &[SlotState],
    masters: &[(String, String)],
) -> Result<(String, u64, Vec<String>), String> {
    let end = |id: &str| -> Result<End<'_>, String> {
        masters
            .iter()
            .find(|(i, _)| i == id)
            .map(|(id, addr)| End { id, addr })
            .ok_or_else(|| format!("slot {slot}: node {id} is not a master that answered"))
    };
    let state = |id: &str| states.iter().find(|s| s.id == id);
    let (to, from, assigning) = match repair {
        Repair::Stable { nodes } => {
            let mut addrs = Vec::new();
            for n in nodes {
                migrate::stable(pool, end(n)?.addr, slot)?;
                addrs.push(end(n)?.addr);
            }
            let what = format!("cleared migrations that never reached their target on {}", addrs.join(", "));
            return Ok((what, 0, Vec::new()));
        }
        Repair::Finish { to, from } => (to, from, false),
        Repair::Assign { to, from } => (to, from, true),
    };
    let dst = end(to)?;
    if assigning {
        pool.call(dst.addr, &["CLUSTER", "ADDSLOTS", &slot.to_string()])
            .map_err(|e| format!("ADDSLOTS {slot} on {}: {e}", dst.addr))?;
    }
    let to_owns = assigning || state(to).is_some_and(|s| s.owns);
    if !to_owns {
        if let Some(src) = from.iter().find(|f| state(f).is_some_and(|s| s.owns)).or(from.first()) {
            let src = end(src)?;
            let slot_s = slot.to_string();
            pool.call(dst.addr, &["CLUSTER", "SETSLOT", &slot_s, "IMPORTING", src.id])
                .map_err(|e| format!("SETSLOT {slot} IMPORTING on {}: {e}", dst.addr))?;
        }
    }
    let mut keys = 0;
    for f in from {
        let src = end(f)?;
        let Some(st) = state(f) else { continue };
        let slot_s = slot.to_string();
        if st.owns && st.migrating_to.as_deref() != Some(to.as_str()) {
            pool.call(src.addr, &["CLUSTER", "SETSLOT", &slot_s, "MIGRATING", dst.id])
                .map_err(|e| format!("SETSLOT {slot} MIGRATING on {}: {e}", src.addr))?;
        } else if !st.owns && st.importing_from.is_none() && st.keys > 0 {
            // Keys in a slot the node does not serve: opened as importing so MIGRATE, sent
            // after ASKING, may read them.
            pool.call(src.addr, &["CLUSTER", "SETSLOT", &slot_s, "IMPORTING", dst.id])
                .map_err(|e| format!("SETSLOT {slot} IMPORTING on {}: {e}", src.addr))?;
        }
        keys += migrate::move_keys(pool, mover, slot, &src, &dst, !st.owns)?;
    }
    let all: Vec<End> = masters.iter().map(|(id, addr)| End { id, addr }).collect();
    let mut warnings = migrate::assign(pool, slot, &dst, None, &all)?;
    for s in states.iter().filter(|s| s.id != *to && (s.importing_from.is_some() || s.migrating_to.is_some())) {
        if let Err(e) = migrate::stable(pool, end(&s.id)?.addr, slot) {
            warnings.push(e);
        }
    }
    let verb = if assigning { "assigned" } else { "finished moving" };
    Ok((format!("{verb} to {} ({})", dst.addr, short(dst.id)), keys, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(id: &str, owns: bool, mig: Option<&str>, imp: Option<&str>, keys: u64) -> SlotState {
        SlotState { id: id.into(), owns, migrating_to: mig.map(Into::into), importing_from: imp.map(Into::into), keys }
    }

    #[test]
    fn healthy_slot_needs_nothing() {
        assert_eq!(decide(&[st("a", true, None, None, 5), st("b", false, None, None, 0)]), None);
        // Unassigned and empty: left to the bulk assignment.
        assert_eq!(decide(&[st("a", false, None, None, 0), st("b", false, None, None, 0)]), None);
    }

    #[test]
    fn interrupted_move_rolls_forward_to_the_importing_side() {
        let r = decide(&[
            st("a", true, Some("b"), None, 7),
            st("b", false, None, Some("a"), 3),
            st("c", false, None, None, 0),
        ]);
        assert_eq!(r, Some(Repair::Finish { to: "b".into(), from: vec!["a".into()] }));
        // Interrupted after IMPORTING, before MIGRATING: forward too.
        let r = decide(&[st("a", true, None, None, 7), st("b", false, None, Some("a"), 0)]);
        assert_eq!(r, Some(Repair::Finish { to: "b".into(), from: vec!["a".into()] }));
    }

    #[test]
    fn migrating_whose_target_already_took_the_slot_is_finished() {
        // SETSLOT NODE reached b (its importing state is gone) but not a.
        let r = decide(&[st("a", true, Some("b"), None, 0), st("b", true, None, None, 9)]);
        assert_eq!(r, Some(Repair::Finish { to: "b".into(), from: vec!["a".into()] }));
    }

    #[test]
    fn migrating_towards_nobody_is_cleared() {
        let r = decide(&[st("a", true, Some("b"), None, 4), st("b", false, None, None, 0)]);
        assert_eq!(r, Some(Repair::Stable { nodes: vec!["a".into()] }));
    }

    #[test]
    fn unassigned_slot_goes_to_the_node_with_most_keys() {
        let r = decide(&[st("a", false, None, None, 1), st("b", false, None, None, 4), st("c", false, None, None, 0)]);
        assert_eq!(r, Some(Repair::Assign { to: "b".into(), from: vec!["a".into()] }));
    }

    #[test]
    fn two_owners_keep_the_one_with_most_keys() {
        let r = decide(&[st("a", true, None, None, 1), st("b", true, None, None, 4)]);
        assert_eq!(r, Some(Repair::Finish { to: "b".into(), from: vec!["a".into()] }));
        // Keys where the slot is not served are moved to its owner.
        let r = decide(&[st("a", true, None, None, 0), st("b", false, None, None, 2)]);
        assert_eq!(r, Some(Repair::Finish { to: "a".into(), from: vec!["b".into()] }));
    }

    #[test]
    fn slot_lists_print_as_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), "0-2 5 7-8");
        assert_eq!(ranges(&[]), "");
    }
}
