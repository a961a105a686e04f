//! Redis's partial quicksort (`pqsort.c`: NetBSD's Bentley-McIlroy qsort that skips the
//! partitions lying wholly outside a wanted index range). GEOSEARCH with COUNT orders its
//! points with it, and which of several equally distant points are returned, and in what
//! order, follows from its exact comparisons and swaps; so this follows them step by step.
//! Redis 7.0.15's copy has no "already partitioned, switch to insertion sort" shortcut (it was
//! removed for its quadratic worst case), and neither has this one: redis-server answers
//! `GEOSEARCH ... ASC COUNT 3` over 9 equal points and 2 farther ones with `h a b`.

use std::cmp::Ordering;

/// Sorts `v` enough that indexes `lrange..=rrange` hold what a full sort would put there
/// (ties broken as Redis's pqsort breaks them).
pub fn pqsort<T>(v: &mut [T], cmp: impl Fn(&T, &T) -> Ordering, lrange: usize, rrange: usize) {
    let n = v.len();
    let mut s = Sorter { v, cmp, lrange, rrange };
    s.sort(0, n);
}

struct Sorter<'a, T, F> {
    v: &'a mut [T],
    cmp: F,
    lrange: usize,
    rrange: usize,
}

impl<T, F: Fn(&T, &T) -> Ordering> Sorter<'_, T, F> {
    fn cmp(&self, a: usize, b: usize) -> Ordering {
        (self.cmp)(&self.v[a], &self.v[b])
    }

    fn med3(&self, a: usize, b: usize, c: usize) -> usize {
        if self.cmp(a, b).is_lt() {
            if self.cmp(b, c).is_lt() {
                b
            } else if self.cmp(a, c).is_lt() {
                c
            } else {
                a
            }
        } else if self.cmp(b, c).is_gt() {
            b
        } else if self.cmp(a, c).is_lt() {
            a
        } else {
            c
        }
    }

    fn insertion(&mut self, a: usize, n: usize) {
        for pm in a + 1..a + n {
            let mut pl = pm;
            while pl > a && self.cmp(pl - 1, pl).is_gt() {
                self.v.swap(pl, pl - 1);
                pl -= 1;
            }
        }
    }

    fn vecswap(&mut self, a: usize, b: usize, n: usize) {
        for k in 0..n {
            self.v.swap(a + k, b + k);
        }
    }

    /// Whether the partition `[a, a + n)` overlaps the wanted range.
    fn wanted(&self, a: usize, n: usize) -> bool {
        !(self.rrange < a || self.lrange >= a + n)
    }

    fn sort(&mut self, mut a: usize, mut n: usize) {
        loop {
            if n < 7 {
                self.insertion(a, n);
                return;
            }
            let mut pm = a + n / 2;
            if n > 7 {
                let (mut pl, mut pn) = (a, a + n - 1);
                if n > 40 {
                    let d = n / 8;
                    pl = self.med3(pl, pl + d, pl + 2 * d);
                    pm = self.med3(pm - d, pm, pm + d);
                    pn = self.med3(pn - 2 * d, pn - d, pn);
                }
                pm = self.med3(pl, pm, pn);
            }
            self.v.swap(a, pm);
            let (mut pa, mut pb) = (a + 1, a + 1);
            let (mut pc, mut pd) = (a + n - 1, a + n - 1);
            loop {
                while pb <= pc {
                    let c = self.cmp(pb, a);
                    if c.is_gt() {
                        break;
                    }
                    if c.is_eq() {
                        self.v.swap(pa, pb);
                        pa += 1;
                    }
                    pb += 1;
                }
                while pb <= pc {
                    let c = self.cmp(pc, a);
                    if c.is_lt() {
                        break;
                    }
                    if c.is_eq() {
                        self.v.swap(pc, pd);
                        pd -= 1;
                    }
                    pc -= 1;
                }
                if pb > pc {
                    break;
                }
                self.v.swap(pb, pc);
                pb += 1;
                pc -= 1;
            }
            let pn = a + n;
            let r = (pa - a).min(pb - pa);
            self.vecswap(a, pb - r, r);
            let r = (pd - pc).min(pn - pd - 1);
            self.vecswap(pb, pn - r, r);
            let r = pb - pa;
            if r > 1 && self.wanted(a, r) {
                self.sort(a, r);
            }
            let r = pd - pc;
            if r > 1 {
                a = pn - r;
                n = r;
                if self.wanted(a, n) {
                    continue;
                }
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wanted_prefix_is_sorted() {
        let mut seed = 12345u64;
        for len in [0usize, 1, 5, 7, 8, 41, 100, 1000] {
            for k in [1usize, 3, 10, 50] {
                let mut v: Vec<u32> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (seed >> 33) as u32 % 20
                    })
                    .collect();
                let mut full = v.clone();
                full.sort();
                let k = k.min(len);
                if k == 0 {
                    continue;
                }
                pqsort(&mut v, |a, b| a.cmp(b), 0, k - 1);
                assert_eq!(v[..k], full[..k], "len {len} k {k}");
            }
        }
    }

    #[test]
    fn ties_come_out_as_in_redis() {
        // Distances in scan order as redis-server saw them: k, nine equal points a..i, j.
        let order = |keys: &str, desc: bool, upto: usize| {
            let dist = |c: char| match c {
                'k' => 156.2218,
                'j' => 155.9851,
                _ => 0.0003,
            };
            let mut v: Vec<char> = keys.chars().collect();
            let cmp = |a: &char, b: &char| {
                let o = dist(*a).partial_cmp(&dist(*b)).unwrap_or(Ordering::Equal);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            };
            pqsort(&mut v, cmp, 0, upto);
            v[..=upto].iter().collect::<String>()
        };
        // GEOSEARCH ... ASC COUNT 3 / COUNT 10 and DESC COUNT 3 / COUNT 10 on redis-server.
        assert_eq!(order("kabcdefghij", false, 2), "hab");
        assert_eq!(order("kabcdefghij", false, 9), "habcdefgij");
        assert_eq!(order("kabcdefghij", true, 2), "kja");
        assert_eq!(order("kabcdefghij", true, 9), "kjacdefghi");
        // Nine equal points, COUNT 2: the last one comes first.
        assert_eq!(order("abcdefghi", false, 1), "ib");
        // Seven: the middle one (no median of three below 8).
        assert_eq!(order("abcdefg", false, 5), "dbcaef");
    }
}
