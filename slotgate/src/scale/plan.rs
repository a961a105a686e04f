//! Which slots go where: target slot counts per master from their weights, whether the
//! cluster is off balance by more than the threshold (redis-cli's test), and the fewest single
//! slot moves that reach the targets. Pure functions, no sockets.

use std::collections::BTreeMap;

use serde::Serialize;

/// A master taking part in a rebalance.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub weight: f64,
    /// Slots it serves, ascending.
    pub slots: Vec<u16>,
}

/// One slot to move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub slot: u16,
    pub from: String,
    pub to: String,
}

/// Slot counts per member proportional to their weights, summing to the slots the members
/// hold: each gets the integer part of its share, and the slots left over go to the largest
/// remainders (ties to the member already holding more, so fewer slots move).
pub fn targets(members: &[Member]) -> Vec<usize> {
    let total: usize = members.iter().map(|m| m.slots.len()).sum();
    let weight: f64 = members.iter().map(|m| m.weight.max(0.0)).sum();
    if members.is_empty() || weight <= 0.0 {
        return members.iter().map(|m| m.slots.len()).collect();
    }
    let shares: Vec<f64> = members.iter().map(|m| total as f64 * m.weight.max(0.0) / weight).collect();
    let mut out: Vec<usize> = shares.iter().map(|s| s.floor() as usize).collect();
    let mut left = total - out.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..members.len()).filter(|&i| members[i].weight > 0.0).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (shares[a] - shares[a].floor(), shares[b] - shares[b].floor());
        rb.total_cmp(&ra).then(members[b].slots.len().cmp(&members[a].slots.len())).then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(order.len() * 2) {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

/// redis-cli's test: a member is off balance when its slot count differs from its target by
/// more than `threshold` percent of its count (or it has none and should have more than one).
pub fn off_balance(members: &[Member], targets: &[usize], threshold: f64) -> Vec<String> {
    members
        .iter()
        .zip(targets)
        .filter(|(m, &t)| {
            let have = m.slots.len();
            if have > 0 {
                (100.0 - 100.0 * t as f64 / have as f64).abs() > threshold
            } else {
                t > 1
            }
        })
        .map(|(m, _)| m.id.clone())
        .collect()
}

/// The moves that bring every member to its target: each member over its target gives its
/// surplus (its lowest slots, as redis-cli takes them), the largest givers paired with the
/// largest takers first. Exactly `sum(max(0, have - target))` slots move, the fewest possible.
pub fn moves(members: &[Member], targets: &[usize]) -> Vec<Move> {
    let mut givers: Vec<(usize, usize)> = Vec::new();
    let mut takers: Vec<(usize, usize)> = Vec::new();
    for (i, (m, &t)) in members.iter().zip(targets).enumerate() {
        let have = m.slots.len();
        if have > t {
            givers.push((i, have - t));
        } else if t > have {
            takers.push((i, t - have));
        }
    }
    givers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    takers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = Vec::new();
    let mut next_slot: BTreeMap<usize, usize> = BTreeMap::new();
    let (mut g, mut t) = (0, 0);
    // Each round finishes a giver or a taker, so this ends within their count.
    while g < givers.len() && t < takers.len() {
        let n = givers[g].1.min(takers[t].1);
        let (gi, ti) = (givers[g].0, takers[t].0);
        let start = next_slot.entry(gi).or_insert(0);
        for &slot in &members[gi].slots[*start..*start + n] {
            out.push(Move { slot, from: members[gi].id.clone(), to: members[ti].id.clone() });
        }
        *start += n;
        givers[g].1 -= n;
        takers[t].1 -= n;
        if givers[g].1 == 0 {
            g += 1;
        }
        if takers[t].1 == 0 {
            t += 1;
        }
    }
    out
}

/// The whole plan: no moves when every member is within the threshold, unless a member of
/// weight 0 still holds slots (it is being emptied and must give them all).
pub fn plan(members: &[Member], threshold: f64) -> Vec<Move> {
    let t = targets(members);
    let emptying = members.iter().any(|m| m.weight <= 0.0 && !m.slots.is_empty());
    if off_balance(members, &t, threshold).is_empty() && !emptying {
        return Vec::new();
    }
    moves(members, &t)
}

/// Expands inclusive ranges into slot numbers.
pub fn expand(ranges: &[(u16, u16)]) -> Vec<u16> {
    let mut v: Vec<u16> = ranges.iter().flat_map(|&(a, b)| a..=b).collect();
    v.sort_unstable();
    v
}

/// Spreads unassigned slots over masters so their counts even out: each slot goes to the
/// master holding the fewest at that point (ties to the earlier one). `counts` are the
/// masters' current slot counts; returns the master index for each slot, in order.
pub fn spread(slots: &[u16], counts: &[usize]) -> Vec<(u16, usize)> {
    let mut counts = counts.to_vec();
    let mut out = Vec::new();
    for &s in slots {
        let Some(i) = (0..counts.len()).min_by_key(|&i| (counts[i], i)) else { break };
        counts[i] += 1;
        out.push((s, i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, weight: f64, ranges: &[(u16, u16)]) -> Member {
        Member { id: id.into(), weight, slots: expand(ranges) }
    }

    fn three() -> Vec<Member> {
        vec![member("a", 1.0, &[(0, 5460)]), member("b", 1.0, &[(5461, 10922)]), member("c", 1.0, &[(10923, 16383)])]
    }

    #[test]
    fn balanced_cluster_needs_nothing() {
        let m = three();
        assert_eq!(targets(&m).iter().sum::<usize>(), 16384);
        assert!(plan(&m, 2.0).is_empty());
    }

    #[test]
    fn two_empty_masters_get_their_share_and_only_that_moves() {
        let mut m = three();
        m.push(member("d", 1.0, &[]));
        m.push(member("e", 1.0, &[]));
        let t = targets(&m);
        assert_eq!(t.iter().sum::<usize>(), 16384);
        assert!(t.iter().all(|&n| n == 3276 || n == 3277), "{t:?}");
        let p = plan(&m, 2.0);
        assert_eq!(p.len(), t[3] + t[4]);
        // Every move leaves a giver and reaches an empty master; no slot moves twice.
        let mut seen = std::collections::HashSet::new();
        for mv in &p {
            assert!(["a", "b", "c"].contains(&mv.from.as_str()) && ["d", "e"].contains(&mv.to.as_str()));
            assert!(seen.insert(mv.slot));
        }
        // Apply: every member ends at its target.
        let mut counts: BTreeMap<&str, isize> = m.iter().map(|x| (x.id.as_str(), x.slots.len() as isize)).collect();
        for mv in &p {
            *counts.get_mut(mv.from.as_str()).unwrap() -= 1;
            *counts.get_mut(mv.to.as_str()).unwrap() += 1;
        }
        for (x, &want) in m.iter().zip(&t) {
            assert_eq!(counts[x.id.as_str()] as usize, want);
        }
    }

    #[test]
    fn weight_zero_empties_a_master_even_within_threshold() {
        let mut m = three();
        m.push(member("d", 0.0, &[(16383, 16383)]));
        m[2].slots.pop();
        let p = plan(&m, 50.0);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0], Move { slot: 16383, from: "d".into(), to: "c".into() });
    }

    #[test]
    fn weights_shape_the_targets() {
        let m = vec![member("a", 3.0, &[(0, 8191)]), member("b", 1.0, &[(8192, 16383)])];
        assert_eq!(targets(&m), vec![12288, 4096]);
        let p = plan(&m, 2.0);
        assert_eq!(p.len(), 4096);
        assert!(p.iter().all(|mv| mv.from == "b" && mv.to == "a"));
        // The giver's lowest slots go first.
        assert_eq!(p[0].slot, 8192);
    }

    #[test]
    fn threshold_as_redis_cli_has_it() {
        // 5400 against 5461: 1.1% off, within 2; 5300: 3% off (and 11084 against 10923: 1.5%).
        let m = vec![member("a", 1.0, &[(0, 5399)]), member("b", 1.0, &[(5400, 16383)])];
        let t = vec![5400 + 61, 16384 - 5461];
        assert!(off_balance(&m, &t, 2.0).is_empty());
        let m = vec![member("a", 1.0, &[(0, 5299)]), member("b", 1.0, &[(5300, 16383)])];
        assert_eq!(off_balance(&m, &[5461, 16384 - 5461], 2.0), vec!["a".to_string()]);
        // An empty member that should hold more than one slot is off balance.
        assert_eq!(off_balance(&[member("e", 1.0, &[])], &[2], 2.0), vec!["e".to_string()]);
    }

    #[test]
    fn spread_evens_counts() {
        let s = spread(&[1, 2, 3, 4], &[2, 0, 1]);
        assert_eq!(s, vec![(1, 1), (2, 1), (3, 2), (4, 0)]);
        assert!(spread(&[1], &[]).is_empty());
    }
}
