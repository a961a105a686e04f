//! Sorted-set values: a member -> score dictionary plus the skip list ordered by (score, member).

use super::hashed::HashedMap;
use super::skiplist::{LexRange, ScoreRange, SkipList, NIL};

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSetVal {
    pub dict: HashedMap<f64>,
    pub list: SkipList,
}

impl PartialEq for ZSetVal {
    fn eq(&self, other: &Self) -> bool {
        self.dict == other.dict
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
        "skiplist"
    }

    /// Score of a member.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.dict.get(m).copied()
    }

    /// Sets a member's score; returns the previous score.
    pub fn insert(&mut self, m: &[u8], score: f64) -> Option<f64> {
        match self.dict.get_mut(m) {
            Some(old) => {
                let prev = *old;
                if prev != score {
                    *old = score;
                    self.list.remove(prev, m);
                    self.list.insert(score, m);
                }
                Some(prev)
            }
            None => {
                self.dict.insert(m, score);
                self.list.insert(score, m);
                None
            }
        }
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.dict.remove(m) {
            Some(score) => {
                self.list.remove(score, m);
                true
            }
            None => false,
        }
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
            let e = e.to_vec();
            self.remove(&e);
            out.push((e, s));
        }
        out
    }
}
