//! The ordered half of a sorted set: Redis's skip list with spans (rank in O(log n)), stored in
//! an arena of nodes addressed by index instead of pointers.

use super::evict::rand;
use super::keybuf::KeyBuf;

/// "No node".
pub const NIL: u32 = u32::MAX;
const MAX_LEVEL: usize = 32;
const HEAD: u32 = 0;

#[derive(Debug, Clone, Copy)]
struct Level {
    forward: u32,
    span: u32,
}

const EMPTY: Level = Level { forward: NIL, span: 0 };
/// A level the node does not have.
const UNUSED: Level = Level { forward: NIL, span: u32::MAX };
/// Levels kept in the node itself: a node has at most three levels 98.4% of the time at p = 1/4.
const INLINE: usize = 3;
/// Levels above the inline ones, for the few nodes that have them.
type Extra = [Level; MAX_LEVEL - INLINE];

/// One node in exactly one cache line: a hop of a walk reads the score and the forward pointer
/// of the same line, so it costs one cache miss.
#[derive(Debug, Clone)]
#[repr(align(64))]
struct Node {
    score: f64,
    /// Inline up to 22 bytes, so comparing a short member on a walk costs no extra cache miss.
    elem: KeyBuf,
    backward: u32,
    /// Index into `SkipList::extra` when the node has more than `INLINE` levels, else NIL.
    extra: u32,
    levels: [Level; INLINE],
}

const _: () = assert!(std::mem::size_of::<Node>() == 64);

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
    extra: Vec<Extra>,
    free_extra: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
}

impl Default for SkipList {
    fn default() -> Self {
        let head = Node { score: 0.0, elem: KeyBuf::default(), backward: NIL, extra: 0, levels: [EMPTY; INLINE] };
        SkipList {
            nodes: vec![head],
            free: Vec::new(),
            extra: vec![[EMPTY; MAX_LEVEL - INLINE]],
            free_extra: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
        }
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

    fn lv(&self, x: u32, i: usize) -> Level {
        let n = &self.nodes[x as usize];
        if i < INLINE {
            n.levels[i]
        } else {
            self.extra[n.extra as usize][i - INLINE]
        }
    }

    fn lv_mut(&mut self, x: u32, i: usize) -> &mut Level {
        let n = &mut self.nodes[x as usize];
        if i < INLINE {
            &mut n.levels[i]
        } else {
            &mut self.extra[n.extra as usize][i - INLINE]
        }
    }

    /// Hints the CPU to load node `x` into the cache.
    #[inline(always)]
    fn prefetch(&self, x: u32) {
        if let Some(n) = self.nodes.get(x as usize) {
            super::prefetch(n);
        }
    }

    fn fwd(&self, x: u32, i: usize) -> u32 {
        self.lv(x, i).forward
    }

    /// Nodes before `(score, elem)` at every level, and their ranks when `ranks` is given.
    fn path(&self, score: f64, elem: &[u8], mut ranks: Option<&mut [u32; MAX_LEVEL]>) -> [u32; MAX_LEVEL] {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = 0u32;
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                let f = l.forward;
                if f == NIL {
                    break;
                }
                // The walk is bound by cache misses, one per hop. Where it goes next if it
                // stops here is already known: fetch it while `f` is being read.
                if i > 0 {
                    self.prefetch(self.lv(x, i - 1).forward);
                }
                let n = &self.nodes[f as usize];
                if !less(n.score, &n.elem, score, elem) {
                    break;
                }
                rank += l.span;
                x = f;
            }
            update[i] = x;
            if let Some(r) = ranks.as_deref_mut() {
                r[i] = rank;
            }
        }
        update
    }

    /// Links node `new` (its levels empty) after the nodes on `update`.
    fn link(&mut self, new: u32, lvl: usize, mut update: [u32; MAX_LEVEL], mut rank: [u32; MAX_LEVEL]) {
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.lv_mut(HEAD, i).span = self.len as u32;
            }
            self.level = lvl;
        }
        for i in 0..lvl {
            let ul = self.lv(update[i], i);
            *self.lv_mut(new, i) = Level { forward: ul.forward, span: ul.span - (rank[0] - rank[i]) };
            *self.lv_mut(update[i], i) = Level { forward: new, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.lv_mut(u, i).span += 1;
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

    /// Unlinks node `x`, whose predecessors are on `update`; the node keeps its storage.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.lv(u, i);
            if ul.forward == x {
                let xl = self.lv(x, i);
                *self.lv_mut(u, i) = Level { forward: xl.forward, span: ul.span + xl.span - 1 };
            } else {
                self.lv_mut(u, i).span -= 1;
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
        self.len -= 1;
    }

    /// The number of levels node `x` was created with (levels beyond it are UNUSED).
    fn node_level(&self, x: u32) -> usize {
        let top = if self.nodes[x as usize].extra == NIL { INLINE } else { MAX_LEVEL };
        (0..top).find(|&i| self.lv(x, i).span == UNUSED.span).unwrap_or(top)
    }

    /// Member of node `x`.
    pub fn elem(&self, x: u32) -> &[u8] {
        &self.nodes[x as usize].elem
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

    /// Inserts a member that is not present yet; returns its node.
    pub fn insert(&mut self, score: f64, elem: &[u8]) -> u32 {
        let mut rank = [0u32; MAX_LEVEL];
        let update = self.path(score, elem, Some(&mut rank));
        let lvl = random_level();
        let extra = if lvl > INLINE {
            let mut row = [UNUSED; MAX_LEVEL - INLINE];
            row[..lvl - INLINE].fill(EMPTY);
            match self.free_extra.pop() {
                Some(i) => {
                    self.extra[i as usize] = row;
                    i
                }
                None => {
                    self.extra.push(row);
                    (self.extra.len() - 1) as u32
                }
            }
        } else {
            NIL
        };
        let mut levels = [UNUSED; INLINE];
        levels[..lvl.min(INLINE)].fill(EMPTY);
        let node = Node { score, elem: elem.into(), backward: NIL, extra, levels };
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
        self.link(new, lvl, update, rank);
        new
    }

    /// The predecessors of node `x` at every level.
    fn path_to(&self, x: u32) -> [u32; MAX_LEVEL] {
        let n = &self.nodes[x as usize];
        self.path(n.score, &n.elem, None)
    }

    /// Removes node `x`; its index may be reused by a later insert.
    pub fn remove_node(&mut self, x: u32) {
        let update = self.path_to(x);
        self.unlink(x, &update);
        let n = &mut self.nodes[x as usize];
        n.elem = KeyBuf::default();
        if n.extra != NIL {
            self.free_extra.push(n.extra);
            n.extra = NIL;
        }
        self.free.push(x);
    }

    /// Gives node `x` score `new` (Redis's zslUpdateScore): in place when the order does not
    /// change, else unlinked and linked again, reusing the node.
    pub fn update_score(&mut self, x: u32, new: f64) {
        let in_place = {
            let n = &self.nodes[x as usize];
            let after_back = n.backward == NIL || {
                let b = &self.nodes[n.backward as usize];
                less(b.score, &b.elem, new, &n.elem)
            };
            let next = n.levels[0].forward;
            after_back
                && (next == NIL || {
                    let f = &self.nodes[next as usize];
                    less(new, &n.elem, f.score, &f.elem)
                })
        };
        if in_place {
            self.nodes[x as usize].score = new;
            return;
        }
        let lvl = self.node_level(x);
        let update = self.path_to(x);
        self.unlink(x, &update);
        self.nodes[x as usize].score = new;
        let mut rank = [0u32; MAX_LEVEL];
        let update = {
            let n = &self.nodes[x as usize];
            self.path(new, &n.elem, Some(&mut rank))
        };
        self.link(x, lvl, update, rank);
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
                    rank += self.lv(x, i).span;
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
                let span = self.lv(x, i).span;
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
        // Enough members that some nodes have levels beyond the inline ones.
        for i in 0..20000u64 {
            let r = rand();
            let score = (r % 100) as f64;
            let elem = format!("e{}", r % 2000).into_bytes();
            if let Some(pos) = model.iter().position(|(_, e)| *e == elem) {
                if r.is_multiple_of(3) {
                    // A new score: in place or relinked.
                    let new = ((r >> 8) % 100) as f64;
                    let x = sl.by_rank(sl.rank(model[pos].0, &elem).unwrap());
                    sl.update_score(x, new);
                    model[pos].0 = new;
                } else {
                    let (s, e) = model.remove(pos);
                    sl.remove_node(sl.by_rank(sl.rank(s, &e).unwrap()));
                }
            } else {
                sl.insert(score, &elem);
                model.push((score, elem));
            }
            if i % 997 == 0 {
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
                let mut x = sl.last();
                let mut n = 0;
                while x != NIL {
                    n += 1;
                    x = sl.prev(x);
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
