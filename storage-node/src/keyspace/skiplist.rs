//! The ordered half of a sorted set: Redis's skip list with spans (rank in O(log n)), stored in
//! an arena of nodes addressed by index instead of pointers.

use super::evict::rand;
use super::hashed::Elem;

/// "No node".
pub const NIL: u32 = u32::MAX;
const MAX_LEVEL: usize = 32;
const HEAD: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Level {
    forward: u32,
    span: u32,
}

/// A node's forward pointers: the first four inline (a node has at most four levels 99.6% of
/// the time at p = 1/4), so a hop costs one cache miss, not two.
#[derive(Debug, Clone)]
struct Levels {
    inline: [Level; 4],
    extra: Vec<Level>,
}

const EMPTY: Level = Level { forward: NIL, span: 0 };

impl Levels {
    fn new(n: usize) -> Levels {
        Levels { inline: [EMPTY; 4], extra: vec![EMPTY; n.saturating_sub(4)] }
    }
}

impl std::ops::Index<usize> for Levels {
    type Output = Level;
    fn index(&self, i: usize) -> &Level {
        if i < 4 {
            &self.inline[i]
        } else {
            &self.extra[i - 4]
        }
    }
}

impl std::ops::IndexMut<usize> for Levels {
    fn index_mut(&mut self, i: usize) -> &mut Level {
        if i < 4 {
            &mut self.inline[i]
        } else {
            &mut self.extra[i - 4]
        }
    }
}

#[derive(Debug, Clone)]
struct Node {
    score: f64,
    elem: Elem,
    backward: u32,
    levels: Levels,
}

/// A score range: `min`/`max` with exclusivity flags.
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    /// True when `v` is at or above the minimum.
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    /// True when `v` is at or below the maximum.
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
    /// True when the range cannot contain anything.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }
}

/// One end of a lexicographic range (`-`, `+`, `[x`, `(x`).
#[derive(Debug, Clone, PartialEq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A lexicographic range.
#[derive(Debug, Clone)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// True when `e` is at or above the minimum.
    pub fn gte_min(&self, e: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(m) => e >= &m[..],
            LexBound::Excl(m) => e > &m[..],
        }
    }
    /// True when `e` is at or below the maximum.
    pub fn lte_max(&self, e: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(m) => e <= &m[..],
            LexBound::Excl(m) => e < &m[..],
        }
    }
    /// True when the range cannot contain anything.
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a) | Excl(a), Incl(b) | Excl(b)) => a >= b,
        }
    }
}

/// The skip list.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
}

impl Default for SkipList {
    fn default() -> Self {
        let head = Node { score: 0.0, elem: Elem::default(), backward: NIL, levels: Levels::new(MAX_LEVEL) };
        SkipList { nodes: vec![head], free: Vec::new(), level: 1, len: 0, tail: NIL }
    }
}

fn less(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> bool {
    a_score < b_score || (a_score == b_score && a < b)
}

fn random_level() -> usize {
    let mut level = 1;
    while level < MAX_LEVEL && (rand() & 0xFFFF) < 0xFFFF / 4 {
        level += 1;
    }
    level
}

impl SkipList {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn fwd(&self, x: u32, i: usize) -> u32 {
        self.nodes[x as usize].levels[i].forward
    }

    /// Score and member of node `x`.
    pub fn get(&self, x: u32) -> (f64, &[u8]) {
        let n = &self.nodes[x as usize];
        (n.score, &n.elem)
    }

    /// The node after `x` (NIL at the end).
    pub fn next(&self, x: u32) -> u32 {
        self.fwd(x, 0)
    }

    /// The node before `x` (NIL at the start).
    pub fn prev(&self, x: u32) -> u32 {
        self.nodes[x as usize].backward
    }

    /// First node (NIL when empty).
    pub fn first(&self) -> u32 {
        self.fwd(HEAD, 0)
    }

    /// Last node (NIL when empty).
    pub fn last(&self) -> u32 {
        self.tail
    }

    /// Inserts a member that is not present yet.
    pub fn insert(&mut self, score: f64, elem: &[u8]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let f = self.fwd(x, i);
                if f == NIL || !less(self.nodes[f as usize].score, &self.nodes[f as usize].elem, score, elem) {
                    break;
                }
                rank[i] += self.nodes[x as usize].levels[i].span;
                x = f;
            }
            update[i] = x;
        }
        let lvl = random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.nodes[HEAD as usize].levels[i].span = self.len as u32;
            }
            self.level = lvl;
        }
        let node = Node { score, elem: elem.into(), backward: NIL, levels: Levels::new(lvl) };
        let new = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..lvl {
            let u = update[i] as usize;
            let ul = self.nodes[u].levels[i];
            self.nodes[new as usize].levels[i] = Level { forward: ul.forward, span: ul.span - (rank[0] - rank[i]) };
            self.nodes[u].levels[i] = Level { forward: new, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.nodes[u as usize].levels[i].span += 1;
        }
        self.nodes[new as usize].backward = if update[0] == HEAD { NIL } else { update[0] };
        let f0 = self.fwd(new, 0);
        if f0 != NIL {
            self.nodes[f0 as usize].backward = new;
        } else {
            self.tail = new;
        }
        self.len += 1;
    }

    /// Removes `(score, elem)`; false when absent.
    pub fn remove(&mut self, score: f64, elem: &[u8]) -> bool {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL || !less(self.nodes[f as usize].score, &self.nodes[f as usize].elem, score, elem) {
                    break;
                }
                x = f;
            }
            update[i] = x;
        }
        let x = self.fwd(x, 0);
        if x == NIL || self.nodes[x as usize].score != score || &*self.nodes[x as usize].elem != elem {
            return false;
        }
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let u = u as usize;
            if self.nodes[u].levels[i].forward == x {
                let xl = self.nodes[x as usize].levels[i];
                self.nodes[u].levels[i].span += xl.span;
                self.nodes[u].levels[i].span -= 1;
                self.nodes[u].levels[i].forward = xl.forward;
            } else {
                self.nodes[u].levels[i].span -= 1;
            }
        }
        let f0 = self.fwd(x, 0);
        let back = self.nodes[x as usize].backward;
        if f0 != NIL {
            self.nodes[f0 as usize].backward = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.fwd(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        let n = &mut self.nodes[x as usize];
        n.elem = Elem::default();
        n.levels = Levels::new(0);
        self.free.push(x);
        self.len -= 1;
        true
    }

    /// 0-based rank of `(score, elem)`.
    pub fn rank(&self, score: f64, elem: &[u8]) -> Option<usize> {
        let mut x = HEAD;
        let mut rank = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL {
                    break;
                }
                let n = &self.nodes[f as usize];
                if n.score < score || (n.score == score && &*n.elem <= elem) {
                    rank += self.nodes[x as usize].levels[i].span;
                    x = f;
                } else {
                    break;
                }
            }
            if x != HEAD && &*self.nodes[x as usize].elem == elem {
                return Some(rank as usize - 1);
            }
        }
        None
    }

    /// The node at 0-based `rank`.
    pub fn by_rank(&self, rank: usize) -> u32 {
        let target = rank as u32 + 1;
        let mut traversed = 0u32;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                let span = self.nodes[x as usize].levels[i].span;
                if f != NIL && traversed + span <= target {
                    traversed += span;
                    x = f;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// First node whose score is in `r`.
    pub fn first_in_score(&self, r: &ScoreRange) -> u32 {
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && !r.gte_min(self.nodes[f as usize].score) {
                    x = f;
                } else {
                    break;
                }
            }
        }
        let x = self.fwd(x, 0);
        if x != NIL && r.lte_max(self.nodes[x as usize].score) {
            x
        } else {
            NIL
        }
    }

    /// Last node whose score is in `r`.
    pub fn last_in_score(&self, r: &ScoreRange) -> u32 {
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && r.lte_max(self.nodes[f as usize].score) {
                    x = f;
                } else {
                    break;
                }
            }
        }
        if x != HEAD && r.gte_min(self.nodes[x as usize].score) {
            x
        } else {
            NIL
        }
    }

    /// First node whose member is in `r` (all scores equal, as Redis requires for lex ranges).
    pub fn first_in_lex(&self, r: &LexRange) -> u32 {
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && !r.gte_min(&self.nodes[f as usize].elem) {
                    x = f;
                } else {
                    break;
                }
            }
        }
        let x = self.fwd(x, 0);
        if x != NIL && r.lte_max(&self.nodes[x as usize].elem) {
            x
        } else {
            NIL
        }
    }

    /// Last node whose member is in `r`.
    pub fn last_in_lex(&self, r: &LexRange) -> u32 {
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f != NIL && r.lte_max(&self.nodes[f as usize].elem) {
                    x = f;
                } else {
                    break;
                }
            }
        }
        if x != HEAD && r.gte_min(&self.nodes[x as usize].elem) {
            x
        } else {
            NIL
        }
    }

    /// 0-based rank of node `x` (O(log n) via its score and member).
    pub fn rank_of(&self, x: u32) -> usize {
        let (s, e) = self.get(x);
        self.rank(s, e).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_rank_against_a_model() {
        let mut sl = SkipList::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for i in 0..2000u64 {
            let r = rand();
            let score = (r % 100) as f64;
            let elem = format!("e{}", r % 500).into_bytes();
            if let Some(pos) = model.iter().position(|(_, e)| *e == elem) {
                let (s, e) = model.remove(pos);
                assert!(sl.remove(s, &e));
            } else {
                sl.insert(score, &elem);
                model.push((score, elem));
            }
            if i % 97 == 0 {
                model.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
                assert_eq!(sl.len(), model.len());
                for (rank, (s, e)) in model.iter().enumerate() {
                    assert_eq!(sl.rank(*s, e), Some(rank));
                    assert_eq!(sl.get(sl.by_rank(rank)), (*s, &e[..]));
                }
                // Walk both directions.
                let mut x = sl.first();
                let mut n = 0;
                while x != NIL {
                    n += 1;
                    x = sl.next(x);
                }
                assert_eq!(n, model.len());
                if let Some((s, e)) = model.last() {
                    assert_eq!(sl.get(sl.last()), (*s, &e[..]));
                }
            }
        }
        let r = ScoreRange { min: 10.0, max: 20.0, minex: true, maxex: false };
        let first = sl.first_in_score(&r);
        if first != NIL {
            assert!(sl.get(first).0 > 10.0);
            assert!(sl.get(sl.last_in_score(&r)).0 <= 20.0);
        }
    }
}
