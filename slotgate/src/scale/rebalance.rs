//! `slotgate rebalance`: target slot counts per master from their weights, the fewest moves to
//! reach them, then each slot moved live. Open slots an interrupted run left behind are
//! repaired first (the same code as `fix`), so running it again finishes the job.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use clap::Args;

use super::fix::{self, short};
use super::migrate::{self, End};
use super::plan::{self, Member, Move};
use super::{Outcome, Pool, Snapshot};
use crate::output::Table;
use crate::{Common, Status};

#[derive(Args)]
pub struct RebalanceArgs {
    #[command(flatten)]
    pub common: Common,
    /// A master's weight, `NODE_ID_OR_ADDR=W` (repeatable; others weigh 1; 0 empties it).
    #[arg(long = "weight", value_name = "NODE=W")]
    pub weights: Vec<String>,
    /// Rebalance only when a master is further than this percentage from its target.
    #[arg(long, default_value_t = 2.0)]
    pub threshold: f64,
    /// Give slots to masters that hold none (new masters).
    #[arg(long)]
    pub use_empty_masters: bool,
    /// Print the plan, move nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keys per MIGRATE.
    #[arg(long, default_value_t = 10)]
    pub pipeline: usize,
}

/// What a rebalance is asked to do.
#[derive(Debug, Clone)]
pub struct Params {
    pub weights: Vec<(String, f64)>,
    pub threshold: f64,
    pub use_empty: bool,
    pub dry_run: bool,
    pub pipeline: usize,
}

/// `NODE=W` into its parts.
pub fn parse_weight(s: &str) -> Result<(String, f64), String> {
    let (node, w) = s.rsplit_once('=').ok_or_else(|| format!("--weight {s:?}: expected NODE=WEIGHT"))?;
    let w: f64 = w.parse().map_err(|_| format!("--weight {s:?}: {w:?} is not a number"))?;
    if !(w >= 0.0 && w.is_finite()) {
        return Err(format!("--weight {s:?}: the weight must be 0 or more"));
    }
    Ok((node.to_string(), w))
}

pub fn run(a: &RebalanceArgs) -> Result<Status, String> {
    let weights = a.weights.iter().map(|w| parse_weight(w)).collect::<Result<Vec<_>, _>>()?;
    if !(a.threshold >= 0.0 && a.threshold < 100.0) {
        return Err("--threshold must be between 0 and 100".into());
    }
    let p = Params {
        weights,
        threshold: a.threshold,
        use_empty: a.use_empty_masters,
        dry_run: a.dry_run,
        pipeline: a.pipeline,
    };
    let mut pool = Pool::new(a.common.conn_opts()?);
    let mut out = Outcome::new();
    let moves = rebalance(&a.common, &mut pool, &p, &mut out)?;
    let summary = match (moves.is_empty(), a.dry_run) {
        (true, _) => format!("No rebalancing needed: every master is within {}% of its target.", a.threshold),
        (false, true) => format!("Dry run: {} slot(s) would move.", moves.len()),
        (false, false) => format!("Moved {} slot(s), {} key(s).", out.slots_moved, out.keys_moved),
    };
    out.finish(a.common.json, &summary)
}

/// Repairs, plans and (unless a dry run) moves; returns the plan.
pub fn rebalance(common: &Common, pool: &mut Pool, p: &Params, out: &mut Outcome) -> Result<Vec<Move>, String> {
    let json = common.json;
    let mover = fix::mover(common, pool.opts.pass.clone(), p.pipeline, false);
    if p.dry_run {
        let snap = Snapshot::take(&common.seeds, pool)?;
        let open: usize = snap.masters().map(|m| m.open_slots.len()).sum();
        if open > 0 {
            out.act(json, format!("{open} open slot(s) would be repaired first"));
        }
    } else {
        let fixed = fix::repair(&common.seeds, pool, &mover, out, json)?;
        if fixed > 0 {
            out.act(json, format!("repaired {fixed} slot(s) left open or unassigned before planning"));
        }
    }
    let snap = Snapshot::take(&common.seeds, pool)?;
    snap.require_all_masters()?;
    let mut members = Vec::new();
    let mut weight_of = std::collections::HashMap::new();
    for (name, w) in &p.weights {
        let n = snap.resolve(name)?;
        if !n.is_master() {
            return Err(format!("--weight {name}: {} is not a master", n.addr));
        }
        weight_of.insert(n.id.clone(), *w);
    }
    for m in snap.masters() {
        if m.slots.is_empty() && !p.use_empty {
            continue;
        }
        let weight = weight_of.get(&m.id).copied().unwrap_or(1.0);
        members.push(Member { id: m.id.clone(), weight, slots: plan::expand(&m.slots) });
    }
    if members.iter().all(|m| m.weight <= 0.0) {
        return Err("every master taking part weighs 0: there is nowhere to put the slots".into());
    }
    let targets = plan::targets(&members);
    let moves = plan::plan(&members, p.threshold);
    let addr_of = |id: &str| snap.by_id(id).map_or(id.to_string(), |n| n.addr.clone());
    if !json {
        let mut t = Table::new(&["node", "id", "weight", "slots", "target"]);
        let mut rows: Vec<_> = members.iter().zip(&targets).collect();
        rows.sort_by_key(|(m, _)| addr_of(&m.id));
        for (m, tg) in rows {
            t.plain(vec![
                addr_of(&m.id),
                short(&m.id).to_string(),
                m.weight.to_string(),
                m.slots.len().to_string(),
                tg.to_string(),
            ]);
        }
        print!("{}", t.render());
    }
    for (from, to, n) in pairs(&moves) {
        out.act(
            json,
            format!(
                "{} {n} slot(s) from {} to {}",
                if p.dry_run { "would move" } else { "moving" },
                addr_of(from),
                addr_of(to)
            ),
        );
    }
    if p.dry_run || moves.is_empty() {
        return Ok(moves);
    }
    let masters: Vec<(String, String)> = snap.masters().map(|m| (m.id.clone(), m.addr.clone())).collect();
    let all: Vec<End> = masters.iter().map(|(id, addr)| End { id, addr }).collect();
    let progress = Mutex::new(Progress::new(moves.len(), !json && std::io::stderr().is_terminal()));
    let stop = AtomicBool::new(false);
    let opts = pool.opts.clone();
    // Each pair of masters moves its slots in its own thread: a node handles one SETSLOT at a
    // time, so different pairs keep different nodes busy at once.
    let work = by_pair(chunks(&moves, BATCH));
    let results: Vec<Result<Moved, String>> = std::thread::scope(|scope| {
        let threads: Vec<_> = work
            .iter()
            .map(|batches| {
                let (opts, all, mover, progress, stop) = (opts.clone(), &all, &mover, &progress, &stop);
                scope.spawn(move || -> Result<Moved, String> {
                    let mut pool = Pool::new(opts);
                    let mut done = Moved::default();
                    let end = |id: &str| {
                        all.iter().find(|e| e.id == id).cloned().ok_or_else(|| format!("{id} is not a master"))
                    };
                    for chunk in batches {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let (from, to) = (end(&chunk[0].from)?, end(&chunk[0].to)?);
                        let slots: Vec<u16> = chunk.iter().map(|m| m.slot).collect();
                        let (keys, warnings, notes) = migrate::move_batch(&mut pool, mover, &slots, &from, &to, all)
                            .inspect_err(|_| {
                                stop.store(true, Ordering::Relaxed);
                            })?;
                        done.slots += slots.len();
                        done.keys += keys;
                        done.warnings.extend(warnings);
                        done.notes.extend(notes);
                        if let Ok(mut p) = progress.lock() {
                            p.step(slots.len(), keys);
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("a mover thread panicked".into()))).collect()
    });
    if let Ok(mut p) = progress.lock() {
        p.clear();
    }
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(m) => {
                out.slots_moved += m.slots;
                out.keys_moved += m.keys;
                for w in m.warnings {
                    out.warn(json, w);
                }
                for n in m.notes {
                    out.act(json, n);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(format!(
            "{}\n(run `slotgate rebalance` or `slotgate fix` again to finish the open slots)",
            errors.join("\n")
        ));
    }
    Ok(moves)
}

/// Slots moved together between the same two masters (open at the same time).
const BATCH: usize = 64;

/// Runs of moves between the same two masters, at most `max` long.
pub fn chunks(moves: &[Move], max: usize) -> Vec<&[Move]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=moves.len() {
        let cut = i == moves.len()
            || i - start >= max
            || moves[i].from != moves[start].from
            || moves[i].to != moves[start].to;
        if cut {
            out.push(&moves[start..i]);
            start = i;
        }
    }
    out
}

/// What one mover thread did.
#[derive(Default)]
struct Moved {
    slots: usize,
    keys: u64,
    warnings: Vec<String>,
    notes: Vec<String>,
}

/// Batches grouped by their pair of masters, in the order the pairs first appear.
fn by_pair(batches: Vec<&[Move]>) -> Vec<Vec<&[Move]>> {
    let mut out: Vec<Vec<&[Move]>> = Vec::new();
    for b in batches {
        match out.iter_mut().find(|g| g[0][0].from == b[0].from && g[0][0].to == b[0].to) {
            Some(g) => g.push(b),
            None => out.push(vec![b]),
        }
    }
    out
}

/// Consecutive moves grouped by (from, to) with their count, for the plan's summary.
pub fn pairs(moves: &[Move]) -> Vec<(&str, &str, usize)> {
    let mut out: Vec<(&str, &str, usize)> = Vec::new();
    for m in moves {
        match out.last_mut() {
            Some((f, t, n)) if *f == m.from && *t == m.to => *n += 1,
            _ => out.push((&m.from, &m.to, 1)),
        }
    }
    out
}

/// A progress line on standard error, redrawn at most ten times a second, when it is a terminal.
struct Progress {
    total: usize,
    done: usize,
    keys: u64,
    on: bool,
    last: Option<Instant>,
    started: Instant,
}

impl Progress {
    fn new(total: usize, on: bool) -> Progress {
        Progress { total, done: 0, keys: 0, on, last: None, started: Instant::now() }
    }

    fn step(&mut self, n: usize, keys: u64) {
        self.done += n;
        self.keys += keys;
        let keys = self.keys;
        if !self.on || self.last.is_some_and(|t| t.elapsed().as_millis() < 100 && self.done < self.total) {
            return;
        }
        self.last = Some(Instant::now());
        let width = 30;
        let filled = width * self.done / self.total.max(1);
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r[{}{}] {}/{} slots, {keys} keys, {rate:.0} slots/s ",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.done,
            self.total
        );
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.on && self.last.is_some() {
            eprintln!();
            self.last = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse() {
        assert_eq!(parse_weight("127.0.0.1:7000=2.5"), Ok(("127.0.0.1:7000".into(), 2.5)));
        assert_eq!(parse_weight("abcdef12=0"), Ok(("abcdef12".into(), 0.0)));
        assert!(parse_weight("x").is_err());
        assert!(parse_weight("x=-1").is_err());
        assert!(parse_weight("x=heavy").is_err());
    }

    #[test]
    fn pairs_group_runs() {
        let mv = |s, f: &str, t: &str| Move { slot: s, from: f.into(), to: t.into() };
        let m = vec![mv(1, "a", "b"), mv(2, "a", "b"), mv(3, "a", "c")];
        assert_eq!(pairs(&m), vec![("a", "b", 2), ("a", "c", 1)]);
        let c = chunks(&m, 1);
        assert_eq!(c.len(), 3);
        let c = chunks(&m, 64);
        assert_eq!(c.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![2, 1]);
        assert!(chunks(&[], 64).is_empty());
    }
}
