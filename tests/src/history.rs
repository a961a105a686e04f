//! What clients saw during a fault run, and the checker that judges it afterwards. Every key is
//! a register written once (nil, then its one value), which makes linearizability decidable
//! per key in linear time: an acknowledged write must be seen by every read that starts after
//! it completed and must survive; no read may see the value before the write was sent, nor go
//! back to nil after a read that finished before it saw the value. A write that failed may or
//! may not have happened (allowed either way, counted when it did).

use std::collections::HashMap;

/// One request as a client saw it; times in seconds from the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub key: String,
    pub invoke: f64,
    pub complete: f64,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A write of `value`: acknowledged (the reply said it was done, with WAIT's count high
    /// enough when the client asked for one) or not (an error, a timeout, a low count).
    Write { value: String, acked: bool, error: Option<String> },
    /// A read and what it returned (`Err` when it failed).
    Read { seen: Result<Option<String>, String> },
}

/// What the checker found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub ops: usize,
    pub writes_acked: usize,
    /// Replies that were errors (failed writes and reads).
    pub client_errors: usize,
    pub acked_lost: usize,
    /// Writes not acknowledged whose value is there in the end (allowed).
    pub unacked_present: usize,
    /// Keys whose history no order of its operations explains.
    pub non_linearizable: usize,
    /// Per shard, the longest time without an acknowledged write (seconds).
    pub longest_unavailable: Vec<f64>,
    /// A few examples of errors, for the log.
    pub sample_errors: Vec<String>,
}

/// Judges `ops`, given each key's value at the end (`finals`), which shard each key belongs to
/// (`shard_of`, `shards` of them) and the run's span in seconds.
pub fn check(
    ops: &[Op],
    finals: &HashMap<String, Option<String>>,
    shard_of: impl Fn(&str) -> usize,
    shards: usize,
    span: f64,
) -> Report {
    let mut r = Report { ops: ops.len(), longest_unavailable: vec![0.0; shards], ..Report::default() };
    let mut by_key: HashMap<&str, Vec<&Op>> = HashMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op);
        let error = match &op.kind {
            Kind::Write { error, .. } => error.clone(),
            Kind::Read { seen } => seen.as_ref().err().cloned(),
        };
        if let Some(e) = error {
            r.client_errors += 1;
            if r.sample_errors.len() < 5 {
                r.sample_errors.push(e);
            }
        }
    }
    for (key, history) in &by_key {
        let last = finals.get(*key).cloned().flatten();
        let write = history.iter().find_map(|op| match &op.kind {
            Kind::Write { value, acked, .. } => Some((op, value, *acked)),
            Kind::Read { .. } => None,
        });
        if let Some((_, value, acked)) = write {
            let present = last.as_ref() == Some(value);
            match (acked, present) {
                (true, false) => r.acked_lost += 1,
                (false, true) => r.unacked_present += 1,
                _ => {}
            }
            r.writes_acked += usize::from(acked);
        }
        if !linearizable(history, last.as_deref()) {
            r.non_linearizable += 1;
        }
    }
    // Unavailability: the gaps between acknowledged writes, per shard, over the whole span.
    let mut times: Vec<Vec<f64>> = vec![vec![0.0, span]; shards];
    for op in ops {
        if let Kind::Write { acked: true, .. } = op.kind {
            times[shard_of(&op.key).min(shards - 1)].push(op.complete);
        }
    }
    for (s, t) in times.iter_mut().enumerate() {
        t.sort_by(f64::total_cmp);
        r.longest_unavailable[s] = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    }
    r
}

/// A write-once register's history, with its final value, has a linear order (see the module).
fn linearizable(history: &[&Op], last: Option<&str>) -> bool {
    let write = history.iter().find_map(|op| match &op.kind {
        Kind::Write { value, acked, .. } => Some((op.invoke, op.complete, value.as_str(), *acked)),
        Kind::Read { .. } => None,
    });
    let reads = history.iter().filter_map(|op| match &op.kind {
        Kind::Read { seen: Ok(v) } => Some((op.invoke, op.complete, v.as_deref())),
        _ => None,
    });
    // The value takes effect at some instant `at`: after the write was sent, before it was
    // acknowledged (if it was), and — the final state being the last read — never undone.
    let (mut lo, mut hi) = match write {
        None => return reads.clone().all(|(_, _, v)| v.is_none()) && last.is_none(),
        Some((invoke, complete, _, acked)) => (invoke, if acked { complete } else { f64::INFINITY }),
    };
    let value = write.map(|w| w.2);
    for (invoke, complete, seen) in reads {
        match seen {
            // Saw it: it took effect before this read ended.
            Some(v) if Some(v) == value => hi = hi.min(complete),
            Some(_) => return false,
            // Saw nil: it took effect after this read began.
            None => lo = lo.max(invoke),
        }
    }
    if last == value && value.is_some() {
        lo <= hi
    } else {
        // Never took effect (or was lost): only possible for a write never acknowledged and
        // never seen.
        hi == f64::INFINITY && last.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, t: (f64, f64), acked: bool) -> Op {
        let error = (!acked).then(|| "ERR x".to_string());
        Op { key: key.into(), invoke: t.0, complete: t.1, kind: Kind::Write { value: format!("v{key}"), acked, error } }
    }

    fn rd(key: &str, t: (f64, f64), seen: Option<&str>) -> Op {
        Op { key: key.into(), invoke: t.0, complete: t.1, kind: Kind::Read { seen: Ok(seen.map(str::to_string)) } }
    }

    fn finals(pairs: &[(&str, Option<&str>)]) -> HashMap<String, Option<String>> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn acknowledged_and_kept_is_linearizable() {
        let ops = [w("a", (0.0, 1.0), true), rd("a", (0.5, 0.6), None), rd("a", (2.0, 2.1), Some("va"))];
        let r = check(&ops, &finals(&[("a", Some("va"))]), |_| 0, 1, 3.0);
        assert_eq!((r.acked_lost, r.non_linearizable, r.client_errors), (0, 0, 0));
        assert_eq!(r.longest_unavailable, vec![2.0]);
    }

    #[test]
    fn lost_and_stale_reads_are_caught() {
        // Acknowledged, then gone: lost and not linearizable.
        let lost = [w("a", (0.0, 1.0), true)];
        let r = check(&lost, &finals(&[("a", None)]), |_| 0, 1, 2.0);
        assert_eq!((r.acked_lost, r.non_linearizable), (1, 1));
        // A read after the acknowledgement sees nil: stale.
        let stale = [w("b", (0.0, 1.0), true), rd("b", (1.5, 1.6), None)];
        assert_eq!(check(&stale, &finals(&[("b", Some("vb"))]), |_| 0, 1, 2.0).non_linearizable, 1);
        // Seen, then nil again for a read that began after: goes back.
        let back = [w("c", (0.0, 5.0), false), rd("c", (1.0, 1.1), Some("vc")), rd("c", (2.0, 2.1), None)];
        assert_eq!(check(&back, &finals(&[("c", Some("vc"))]), |_| 0, 1, 6.0).non_linearizable, 1);
        // A value nobody wrote.
        let alien = [rd("d", (0.0, 0.1), Some("x"))];
        assert_eq!(check(&alien, &finals(&[("d", None)]), |_| 0, 1, 1.0).non_linearizable, 1);
    }

    #[test]
    fn failed_writes_may_land_or_not() {
        let ops = [w("a", (0.0, 1.0), false), w("b", (0.0, 1.0), false)];
        let r = check(&ops, &finals(&[("a", Some("va")), ("b", None)]), |k| usize::from(k == "b"), 2, 4.0);
        assert_eq!((r.acked_lost, r.unacked_present, r.non_linearizable, r.client_errors), (0, 1, 0, 2));
        assert_eq!(r.longest_unavailable, vec![4.0, 4.0]);
    }
}
