//! Sorted-set values: the skip list ordered by (score, member) holds the members; a hash index
//! finds a member's node in O(1), and a set ordered by member hash gives ZSCAN Redis's
//! guarantee (the cursor is a position in hash space, as for hashes and sets).
//! Redis keeps a small sorted set in a listpack and converts it to a skip list for good once
//! it passes 128 members or holds a member longer than 64 bytes (its defaults,
//! `zset-max-listpack-*`). The structure here is the same at every size; the flag only tracks
//! which encoding Redis would report, and a small set scans in one call as a listpack does.

use std::collections::BTreeSet;

use hashbrown::HashTable;

use super::hashed::elem_hash;
use super::skiplist::{LexRange, ScoreRange, SkipList, NIL};

/// Where `ZSetVal::lookup` found a member: its node and score, or the hash to add it with.
pub enum Lookup {
    Found(u32, f64),
    Absent(u64),
}

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSetVal {
    list: SkipList,
    /// Member -> node, hashed by `elem_hash` of the node's member.
    index: HashTable<u32>,
    /// (member hash, node), for ZSCAN and random picks.
    order: BTreeSet<(u64, u32)>,
    /// Past Redis's listpack limits at some point (never reset, as in Redis).
    skiplist: bool,
}

impl PartialEq for ZSetVal {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(m, s)| other.score(m) == Some(s))
    }
}

impl ZSetVal {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        if self.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Whether Redis would hold this set as a listpack (ZSCAN returns it whole).
    pub fn is_packed(&self) -> bool {
        !self.skiplist
    }

    fn node(&self, m: &[u8], hash: u64) -> Option<u32> {
        self.index.find(hash, |&x| self.list.elem(x) == m).copied()
    }

    /// Score of a member.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.node(m, elem_hash(m)).map(|x| self.list.get(x).0)
    }

    /// Finds a member once, for a caller that reads and then sets its score.
    pub fn lookup(&self, m: &[u8]) -> Lookup {
        let hash = elem_hash(m);
        match self.node(m, hash) {
            Some(x) => Lookup::Found(x, self.list.get(x).0),
            None => Lookup::Absent(hash),
        }
    }

    /// Gives the member found at `x` a new score.
    pub fn set_score(&mut self, x: u32, score: f64) {
        if self.list.get(x).0 != score {
            self.list.update_score(x, score);
        }
    }

    /// Adds member `m` (absent, its hash from `lookup`).
    pub fn add(&mut self, hash: u64, m: &[u8], score: f64) {
        let x = self.list.insert(score, m);
        let list = &self.list;
        self.index.insert_unique(hash, x, |&y| elem_hash(list.elem(y)));
        self.order.insert((hash, x));
        self.skiplist |= m.len() > super::limits::zset_value() || self.list.len() > super::limits::zset_entries();
    }

    /// Takes the skip-list encoding for good (SORT converts the sorted sets it reads).
    pub fn convert_to_skiplist(&mut self) {
        self.skiplist = true;
    }

    /// Sets a member's score; returns the previous score.
    pub fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        match self.lookup(m) {
            Lookup::Found(x, prev) => {
                self.set_score(x, score);
                Some(prev)
            }
            Lookup::Absent(hash) => {
                self.add(hash, m, score);
                None
            }
        }
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let hash = elem_hash(m);
        let list = &self.list;
        let Ok(entry) = self.index.find_entry(hash, |&x| list.elem(x) == m) else {
            return false;
        };
        let (x, _) = entry.remove();
        self.order.remove(&(hash, x));
        self.list.remove_node(x);
        true
    }

    /// Removes the member at node `x`.
    fn remove_at(&mut self, x: u32) {
        let hash = elem_hash(self.list.elem(x));
        if let Ok(entry) = self.index.find_entry(hash, |&y| y == x) {
            entry.remove();
        }
        self.order.remove(&(hash, x));
        self.list.remove_node(x);
    }

    /// Members and scores, in score order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> {
        let mut x = self.list.first();
        std::iter::from_fn(move || {
            if x == NIL {
                return None;
            }
            let (s, e) = self.list.get(x);
            x = self.list.next(x);
            Some((e, s))
        })
    }

    /// Members with hash >= `cursor`, at least `count` of them (whole hash groups); returns the
    /// next cursor, 0 when the end was reached.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let mut last = None;
        for (seen, &(h, x)) in self.order.range((cursor, 0)..).enumerate() {
            if seen >= count && last != Some(h) {
                return h;
            }
            let (s, e) = self.list.get(x);
            f(e, s);
            last = Some(h);
        }
        0
    }

    /// A member picked at a random point of hash space.
    pub fn random(&self, r: u64) -> Option<&[u8]> {
        let &(_, x) = self.order.range((r, 0)..).next().or_else(|| self.order.iter().next())?;
        Some(self.list.elem(x))
    }

    /// 0-based rank, from the highest score when `rev`.
    pub fn rank(&self, m: &[u8], rev: bool) -> Option<usize> {
        let score = self.score(m)?;
        let r = self.list.rank(score, m)?;
        Some(if rev { self.len() - 1 - r } else { r })
    }

    /// Members with scores by rank range `start..=stop` (already normalised, inclusive).
    pub fn range_by_rank(&self, start: usize, stop: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(stop + 1 - start);
        let len = self.len();
        let mut x = if rev { self.list.by_rank(len - 1 - start) } else { self.list.by_rank(start) };
        for _ in start..=stop {
            if x == NIL {
                break;
            }
            let (s, e) = self.list.get(x);
            out.push((e.to_vec(), s));
            x = if rev { self.list.prev(x) } else { self.list.next(x) };
        }
        out
    }

    /// Members in a score range, skipping `offset` and returning at most `limit` (negative = all).
    pub fn range_by_score(&self, r: &ScoreRange, rev: bool, offset: usize, limit: i64) -> Vec<(Vec<u8>, f64)> {
        if r.is_empty() {
            return Vec::new();
        }
        let mut x = if rev { self.list.last_in_score(r) } else { self.list.first_in_score(r) };
        self.walk(&mut x, rev, offset, limit, |s, _| if rev { r.gte_min(s) } else { r.lte_max(s) })
    }

    /// Visits the members in a score range, in order, while `f` returns true (GEOSEARCH scans
    /// cells this way and stops as soon as it has enough).
    pub fn visit_score_range(&self, r: &ScoreRange, mut f: impl FnMut(&[u8], f64) -> bool) {
        if r.is_empty() {
            return;
        }
        let mut x = self.list.first_in_score(r);
        while x != NIL {
            let (s, e) = self.list.get(x);
            if !r.lte_max(s) || !f(e, s) {
                return;
            }
            x = self.list.next(x);
        }
    }

    /// Members in a lexicographic range.
    pub fn range_by_lex(&self, r: &LexRange, rev: bool, offset: usize, limit: i64) -> Vec<(Vec<u8>, f64)> {
        if r.is_empty() {
            return Vec::new();
        }
        let mut x = if rev { self.list.last_in_lex(r) } else { self.list.first_in_lex(r) };
        self.walk(&mut x, rev, offset, limit, |_, e| if rev { r.gte_min(e) } else { r.lte_max(e) })
    }

    fn walk(
        &self,
        x: &mut u32,
        rev: bool,
        offset: usize,
        limit: i64,
        inside: impl Fn(f64, &[u8]) -> bool,
    ) -> Vec<(Vec<u8>, f64)> {
        let step = |x: u32| if rev { self.list.prev(x) } else { self.list.next(x) };
        for _ in 0..offset {
            if *x == NIL {
                break;
            }
            *x = step(*x);
        }
        let mut out = Vec::new();
        while *x != NIL && (limit < 0 || (out.len() as i64) < limit) {
            let (s, e) = self.list.get(*x);
            if !inside(s, e) {
                break;
            }
            out.push((e.to_vec(), s));
            *x = step(*x);
        }
        out
    }

    /// Number of members in a score range, in O(log n).
    pub fn count_in_score(&self, r: &ScoreRange) -> usize {
        if r.is_empty() {
            return 0;
        }
        let first = self.list.first_in_score(r);
        if first == NIL {
            return 0;
        }
        let last = self.list.last_in_score(r);
        self.list.rank_of(last) - self.list.rank_of(first) + 1
    }

    /// Number of members in a lexicographic range, in O(log n).
    pub fn count_in_lex(&self, r: &LexRange) -> usize {
        if r.is_empty() {
            return 0;
        }
        let first = self.list.first_in_lex(r);
        if first == NIL {
            return 0;
        }
        let last = self.list.last_in_lex(r);
        self.list.rank_of(last) - self.list.rank_of(first) + 1
    }

    /// Removes and returns up to `count` members from the low (or high) end.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        while out.len() < count {
            let x = if max { self.list.last() } else { self.list.first() };
            if x == NIL {
                break;
            }
            let (s, e) = self.list.get(x);
            out.push((e.to_vec(), s));
            self.remove_at(x);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn encoding_follows_redis_listpack_limits_one_way() {
        let mut z = ZSetVal::default();
        for i in 0..128 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"one-more", 0.0);
        assert_eq!(z.encoding(), "skiplist");
        // Shrinking does not convert back.
        while z.len() > 1 {
            z.pop(1, false);
        }
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSetVal::default();
        z.insert(&[b'x'; 64], 1.0);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'x'; 65], 1.0);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn index_order_and_list_agree_with_a_model() {
        let mut z = ZSetVal::default();
        let mut model: HashMap<Vec<u8>, f64> = HashMap::new();
        for i in 0..30000u64 {
            let r = crate::keyspace::evict::rand();
            let m = format!("m{}", r % 3000).into_bytes();
            if r.is_multiple_of(5) {
                assert_eq!(z.remove(&m), model.remove(&m).is_some());
            } else if r % 7 == 1 {
                // The lowest (or highest) by (score, member) leaves.
                let max = r.is_multiple_of(2);
                let want = model.iter().map(|(m, s)| (*s, m.clone())).reduce(|a, b| {
                    if ((a.0, &a.1) < (b.0, &b.1)) != max {
                        a
                    } else {
                        b
                    }
                });
                let got = z.pop(1, max);
                assert_eq!(got.first().map(|(m, s)| (*s, m.clone())), want);
                if let Some((_, m)) = want {
                    model.remove(&m);
                }
            } else {
                let score = ((r >> 16) % 500) as f64;
                assert_eq!(z.insert(&m, score), model.insert(m.clone(), score));
            }
            if i.is_multiple_of(2999) {
                assert_eq!(z.len(), model.len());
                for (m, s) in &model {
                    assert_eq!(z.score(m), Some(*s));
                }
                // Score order, and a full scan that returns every member once.
                let listed: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
                assert!(listed.windows(2).all(|w| (w[0].1, &w[0].0) < (w[1].1, &w[1].0)));
                let mut scanned = Vec::new();
                let mut cursor = 0;
                loop {
                    cursor = z.scan(cursor, 10, |m, s| scanned.push((m.to_vec(), s)));
                    if cursor == 0 {
                        break;
                    }
                }
                scanned.sort_by(|a, b| a.0.cmp(&b.0));
                let mut expected: Vec<_> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
                expected.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(scanned, expected);
            }
        }
    }
}
