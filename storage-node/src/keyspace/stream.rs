//! Streams, stored as Redis 7.0 stores them (t_stream.c): entries packed into listpack nodes
//! under an ordered map keyed by each node's master ID. A node holds a master entry (live and
//! deleted counts, the first entry's field names) and entries whose IDs are deltas against the
//! master ID and whose field names are omitted when they equal the master's. Deleting marks an
//! entry; a node goes when its last live entry does. Node boundaries follow Redis's
//! `stream-node-max-bytes`/`-entries` rules, so `~` trimming removes what Redis removes.

use std::collections::BTreeMap;

use super::stream_cg::Group;
use super::stream_lp::{Lp, LpVal};

/// Entry flags inside a node.
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// Largest listpack a node may grow to (STREAM_LISTPACK_MAX_SIZE).
const LP_MAX_SIZE: usize = 1 << 30;
/// Redis preallocates a new node up to this size.
const LP_PREALLOC: usize = 4096;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID (streamIncrID); `None` past the maximum.
    pub fn incr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID (streamDecrID); `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// `ms-seq`, as replies spell it.
    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }

    /// The 128-bit big-endian form Redis keys its node tree (and RDB) with.
    pub fn encode(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

/// Where an entry sits inside its node.
#[derive(Debug, Clone, Copy)]
struct EntryPos {
    /// Position of the flags element.
    at: usize,
    id: StreamId,
    flags: i64,
    /// Position of the first field (or value, with same fields) element.
    body: usize,
    /// Number of fields.
    nfields: usize,
}

/// A node's master fields and entries, decoded once per visit.
struct NodeView<'a> {
    lp: &'a Lp,
    master_fields: Vec<usize>,
    entries: Vec<EntryPos>,
}

impl<'a> NodeView<'a> {
    /// Walks a whole node; stops quietly at anything malformed (loads are validated beforehand).
    fn new(lp: &'a Lp, master: StreamId) -> NodeView<'a> {
        let mut walk = NodeWalk::new(lp, master);
        let mut entries = Vec::new();
        while let Some(e) = walk.next_entry() {
            entries.push(e);
        }
        NodeView { lp, master_fields: walk.view.master_fields, entries }
    }

    /// The field/value pairs of an entry.
    fn pairs(&self, e: &EntryPos) -> Vec<(Vec<u8>, Vec<u8>)> {
        let lp = self.lp;
        let mut out = Vec::with_capacity(e.nfields);
        let mut p = Some(e.body);
        for i in 0..e.nfields {
            let Some(at) = p else { break };
            if e.flags & FLAG_SAMEFIELDS != 0 {
                let field = self.master_fields.get(i).map_or(Vec::new(), |f| lp.get(*f).to_vec());
                out.push((field, lp.get(at).to_vec()));
                p = lp.next(at);
            } else {
                let Some(v) = lp.next(at) else { break };
                out.push((lp.get(at).to_vec(), lp.get(v).to_vec()));
                p = lp.next(v);
            }
        }
        out
    }
}

/// A forward walk over a node's entries, decoding each only when asked for: a read of a few
/// entries costs those entries, not the node's hundred (Redis's stream iterator does the same).
struct NodeWalk<'a> {
    view: NodeView<'a>,
    master: StreamId,
    mf: usize,
    next: Option<usize>,
}

impl<'a> NodeWalk<'a> {
    fn new(lp: &'a Lp, master: StreamId) -> NodeWalk<'a> {
        let mut view = NodeView { lp, master_fields: Vec::new(), entries: Vec::new() };
        let mut p = lp.first().and_then(|p| lp.next(p)).and_then(|p| lp.next(p));
        let mut mf = 0;
        if let Some(nf_at) = p {
            mf = lp.get(nf_at).int().max(0) as usize;
            p = lp.next(nf_at);
            for _ in 0..mf {
                let Some(at) = p else { break };
                view.master_fields.push(at);
                p = lp.next(at);
            }
            // Skip the master terminator.
            p = p.and_then(|at| lp.next(at));
        }
        NodeWalk { view, master, mf, next: p }
    }

    fn next_entry(&mut self) -> Option<EntryPos> {
        let lp = self.view.lp;
        let at = self.next.take()?;
        let flags = lp.get(at).int();
        let ms_at = lp.next(at)?;
        let seq_at = lp.next(ms_at)?;
        let id = StreamId::new(
            self.master.ms.wrapping_add(lp.get(ms_at).int() as u64),
            self.master.seq.wrapping_add(lp.get(seq_at).int() as u64),
        );
        let mut q = lp.next(seq_at)?;
        let (nfields, skip) = if flags & FLAG_SAMEFIELDS != 0 {
            (self.mf, self.mf)
        } else {
            let n = lp.get(q).int().max(0) as usize;
            q = lp.next(q)?;
            (n, n.saturating_mul(2))
        };
        let body = q;
        let mut cur = Some(q);
        // Past the fields, then past lp-count.
        for _ in 0..skip {
            cur = cur.and_then(|c| lp.next(c));
        }
        self.next = cur.and_then(|c| lp.next(c));
        Some(EntryPos { at, id, flags, body, nfields })
    }
}

/// A stream entry as read out.
pub type Entry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// Node-size limits (the `stream-node-max-*` settings).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

/// Why an append was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AppendError {
    /// The ID is not greater than the top item.
    NotGreater,
    /// Fields and values too large for a node.
    TooLarge,
}

/// How to trim.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// A stream value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Lp>,
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    /// Consumer groups by name (Redis keeps them in a rax, so in byte order).
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    /// Number of nodes (XINFO STREAM FULL's radix-tree keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Nodes in order: master ID and listpack (for RDB).
    pub fn nodes(&self) -> impl Iterator<Item = (&StreamId, &Lp)> {
        self.nodes.iter()
    }

    /// Adds a node read from RDB after checking its structure; false when malformed.
    pub fn load_node(&mut self, master: StreamId, lp: Lp) -> bool {
        if !valid_node(&lp, master) || self.nodes.contains_key(&master) {
            return false;
        }
        // Nodes must not overlap: the previous node ends before this master ID, and this one
        // ends before the next node's.
        let ends_before = |(m, l): (&StreamId, &Lp), limit: StreamId| {
            NodeView::new(l, *m).entries.last().is_none_or(|e| e.id < limit)
        };
        if self.nodes.range(..master).next_back().is_some_and(|prev| !ends_before(prev, master)) {
            return false;
        }
        if let Some((next, _)) = self.nodes.range(master..).next() {
            if !ends_before((&master, &lp), *next) {
                return false;
            }
        }
        self.nodes.insert(master, lp);
        true
    }

    /// Appends an entry (streamAppendItem). `id` is the explicit ID, with `seq_given` false
    /// for `ms-*`; `None` generates one from `now_ms`.
    pub fn append(
        &mut self,
        fields: &[(&[u8], &[u8])],
        id: Option<(StreamId, bool)>,
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AppendError> {
        let id = match id {
            Some((id, true)) => id,
            Some((id, false)) if id.ms == self.last_id.ms => {
                if self.last_id.seq == u64::MAX {
                    return Err(AppendError::NotGreater);
                }
                StreamId::new(id.ms, self.last_id.seq + 1)
            }
            Some((id, false)) => id,
            None if now_ms > self.last_id.ms => StreamId::new(now_ms, 0),
            None => self.last_id.incr().ok_or(AppendError::NotGreater)?,
        };
        if id <= self.last_id {
            return Err(AppendError::NotGreater);
        }
        let total: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
        if total > LP_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let max_bytes =
            if limits.max_bytes == 0 || limits.max_bytes > LP_MAX_SIZE { LP_MAX_SIZE } else { limits.max_bytes };
        let mut tail = self.nodes.iter_mut().next_back();
        if let Some((_, lp)) = &mut tail {
            let full = lp.bytes() + total >= max_bytes || {
                let p = lp.first();
                let live = p.map_or(0, |p| lp.get(p).int());
                let dead = p.and_then(|p| lp.next(p)).map_or(0, |p| lp.get(p).int());
                limits.max_entries > 0 && live + dead >= limits.max_entries as i64
            };
            if full {
                lp.shrink();
                tail = None;
            }
        }
        let mut flags = 0;
        let (master, lp) = match tail {
            Some((master, lp)) => {
                let Some(first) = lp.first() else { return Err(AppendError::TooLarge) };
                let count = lp.get(first).int();
                lp.replace_int(first, count + 1);
                let nf_at = lp.first().and_then(|p| lp.next(p)).and_then(|p| lp.next(p));
                if let Some(nf_at) = nf_at {
                    if lp.get(nf_at).int() == fields.len() as i64 {
                        let mut p = lp.next(nf_at);
                        let same = fields.iter().all(|(f, _)| {
                            let ok = p.is_some_and(|at| lp.get(at).eq_bytes(f));
                            p = p.and_then(|at| lp.next(at));
                            ok
                        });
                        if same {
                            flags |= FLAG_SAMEFIELDS;
                        }
                    }
                }
                (*master, lp)
            }
            None => {
                let prealloc = if limits.max_entries > 0 && limits.max_bytes < LP_PREALLOC {
                    limits.max_bytes
                } else {
                    LP_PREALLOC
                };
                let mut lp = Lp::with_capacity(prealloc);
                lp.push_int(1);
                lp.push_int(0);
                lp.push_int(fields.len() as i64);
                for (f, _) in fields {
                    lp.push_str(f);
                }
                lp.push_int(0);
                flags |= FLAG_SAMEFIELDS;
                (id, self.nodes.entry(id).or_insert(lp))
            }
        };
        lp.push_int(flags);
        lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
        lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
        let same = flags & FLAG_SAMEFIELDS != 0;
        if !same {
            lp.push_int(fields.len() as i64);
        }
        for (f, v) in fields {
            if !same {
                lp.push_str(f);
            }
            lp.push_str(v);
        }
        let n = fields.len() as i64;
        lp.push_int(if same { n + 3 } else { 2 * n + 4 });
        self.length += 1;
        self.entries_added = self.entries_added.wrapping_add(1);
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Visits live entries with IDs in `start..=end`, ascending or descending, until `f`
    /// returns false.
    pub fn visit(&self, start: StreamId, end: StreamId, rev: bool, mut f: impl FnMut(Entry) -> bool) {
        if start > end {
            return;
        }
        if rev {
            for (master, lp) in self.nodes.range(..=end).rev() {
                let view = NodeView::new(lp, *master);
                for e in view.entries.iter().rev() {
                    if e.flags & FLAG_DELETED != 0 || e.id > end {
                        continue;
                    }
                    if e.id < start || !f((e.id, view.pairs(e))) {
                        return;
                    }
                }
                if *master <= start {
                    return;
                }
            }
        } else {
            let from = self.nodes.range(..=start).next_back().map_or(start, |(k, _)| *k);
            for (master, lp) in self.nodes.range(from..=end) {
                let mut walk = NodeWalk::new(lp, *master);
                while let Some(e) = walk.next_entry() {
                    if e.flags & FLAG_DELETED != 0 || e.id < start {
                        continue;
                    }
                    if e.id > end || !f((e.id, walk.view.pairs(&e))) {
                        return;
                    }
                }
            }
        }
    }

    /// Up to `count` live entries (0 = all) in `start..=end`.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        self.visit(start, end, rev, |e| {
            out.push(e);
            count == 0 || out.len() < count
        });
        out
    }

    /// The entry with this ID, if live.
    pub fn get(&self, id: StreamId) -> Option<Entry> {
        self.range(id, id, false, 1).pop()
    }

    /// The first (or last) live entry's ID (streamGetEdgeID skipping tombstones).
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        if !first {
            return self.last_live_id();
        }
        let mut found = None;
        self.visit(StreamId::MIN, StreamId::MAX, !first, |(id, _)| {
            found = Some(id);
            false
        });
        found
    }

    /// The last live entry's ID, found walking back from the end of the last nodes: each entry
    /// ends with its element count, so an entry is skipped without decoding the node (XREADGROUP
    /// asks this on every read).
    fn last_live_id(&self) -> Option<StreamId> {
        for (master, lp) in self.nodes.iter().rev() {
            let head = lp.first()?;
            let entries = lp.get(head).int().max(0) + lp.next(head).map_or(0, |d| lp.get(d).int().max(0));
            let mut p = lp.last();
            for _ in 0..entries {
                let Some(count_at) = p else { break };
                let mut flags_at = Some(count_at);
                for _ in 0..lp.get(count_at).int().max(0) {
                    flags_at = flags_at.and_then(|at| lp.prev(at));
                }
                let Some(flags_at) = flags_at else { break };
                let flags = lp.get(flags_at).int();
                if flags & FLAG_DELETED == 0 {
                    let ms_at = lp.next(flags_at)?;
                    let seq_at = lp.next(ms_at)?;
                    return Some(StreamId::new(
                        master.ms.wrapping_add(lp.get(ms_at).int() as u64),
                        master.seq.wrapping_add(lp.get(seq_at).int() as u64),
                    ));
                }
                p = lp.prev(flags_at);
            }
        }
        None
    }

    /// The last live entry's ID, or 0-0 when empty (streamLastValidID).
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false).unwrap_or_default()
    }

    /// Deletes one entry (streamDeleteItem); false when no live entry has this ID.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((master, lp)) = self.nodes.range_mut(..=id).next_back() else { return false };
        let master = *master;
        let view = NodeView::new(lp, master);
        let Some(e) = view.entries.iter().find(|e| e.id == id && e.flags & FLAG_DELETED == 0).copied() else {
            return false;
        };
        lp.replace_int(e.at, e.flags | FLAG_DELETED);
        let Some(first) = lp.first() else { return false };
        let live = lp.get(first).int();
        if live <= 1 {
            self.nodes.remove(&master);
        } else {
            lp.replace_int(first, live - 1);
            if let Some(d) = lp.first().and_then(|p| lp.next(p)) {
                let dead = lp.get(d).int();
                lp.replace_int(d, dead + 1);
            }
        }
        self.length -= 1;
        true
    }

    /// XDEL: deletes the IDs, keeping first_id and max_deleted_id as Redis does.
    pub fn delete_ids(&mut self, ids: &[StreamId]) -> u64 {
        let (mut deleted, mut first) = (0, false);
        for &id in ids {
            if self.delete(id) {
                first |= id == self.first_id;
                self.max_deleted_id = self.max_deleted_id.max(id);
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first {
                self.first_id = self.edge_id(true).unwrap_or_default();
            }
        }
        deleted
    }

    /// streamTrim: removes entries by length or minimum ID; `approx` only removes whole nodes;
    /// `limit` (0 = none) bounds how many entries go. Returns how many went.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let Some((&master, lp)) = self.nodes.iter_mut().next() else { break };
            let Some(first) = lp.first() else { break };
            let live = lp.get(first).int().max(0) as u64;
            if limit > 0 && deleted + live > limit {
                break;
            }
            let view = NodeView::new(lp, master);
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - live >= max,
                // Removable when even its last entry (deleted or not) is below the minimum.
                Trim::MinId(min) => view.entries.last().is_some_and(|e| e.id < min),
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= live;
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            let mut marked = Vec::new();
            for e in &view.entries {
                let stop = match how {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if e.flags & FLAG_DELETED == 0 {
                    marked.push(*e);
                    self.length -= 1;
                }
            }
            // Replace from the back so earlier positions stay valid.
            for e in marked.iter().rev() {
                lp.replace_int(e.at, e.flags | FLAG_DELETED);
            }
            let n = marked.len() as i64;
            if let Some(first) = lp.first() {
                lp.replace_int(first, live as i64 - n);
                if let Some(d) = lp.first().and_then(|p| lp.next(p)) {
                    let dead = lp.get(d).int();
                    lp.replace_int(d, dead + n);
                }
            }
            deleted += n as u64;
            break;
        }
        self.first_id = if self.length > 0 { self.edge_id(true).unwrap_or_default() } else { StreamId::MIN };
        deleted
    }

    /// Whether a deleted entry may sit in `start..=end` (streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id == StreamId::MIN || self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// Nodes of the radix tree Redis would keep for these node keys (XINFO's
    /// `radix-tree-nodes`): a rax compresses chains of single-child positions into one node.
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.encode()).collect();
        rax_count(&keys, 0, true)
    }
}

/// Nodes of the radix tree Redis keeps for these 16-byte keys (stream IDs).
pub fn rax_nodes_of(keys: &[[u8; 16]]) -> usize {
    rax_count(keys, 0, true)
}

/// Nodes under the trie position shared by `keys` at `depth`; `own` when the position is a
/// node because its parent branches (or it is the root).
fn rax_count(keys: &[[u8; 16]], depth: usize, own: bool) -> usize {
    if keys.is_empty() {
        return usize::from(own);
    }
    if depth == 16 {
        return 1;
    }
    let mut groups = Vec::new();
    let mut from = 0;
    for i in 1..=keys.len() {
        if i == keys.len() || keys[i][depth] != keys[from][depth] {
            groups.push(&keys[from..i]);
            from = i;
        }
    }
    let branches = groups.len() > 1;
    let here = usize::from(own || branches);
    here + groups.into_iter().map(|g| rax_count(g, depth + 1, branches)).sum::<usize>()
}

/// Checks a node from an untrusted source: the master entry, every entry's shape, the counts,
/// and IDs increasing from the master ID.
fn valid_node(lp: &Lp, master: StreamId) -> bool {
    let Some(c) = lp.first() else { return false };
    let Some(d) = lp.next(c) else { return false };
    let Some(nf) = lp.next(d) else { return false };
    let (live, dead) = (lp.get(c), lp.get(d));
    let (LpVal::Int(live), LpVal::Int(dead), LpVal::Int(mf)) = (live, dead, lp.get(nf)) else { return false };
    if live < 1 || dead < 0 || mf < 0 {
        return false;
    }
    let mut p = lp.next(nf);
    for _ in 0..mf {
        let Some(at) = p else { return false };
        p = lp.next(at);
    }
    let Some(term) = p else { return false };
    if lp.get(term) != LpVal::Int(0) {
        return false;
    }
    p = lp.next(term);
    let (mut seen_live, mut seen_dead, mut prev) = (0, 0, None);
    while let Some(at) = p {
        let LpVal::Int(flags) = lp.get(at) else { return false };
        let mut elems = 1;
        let Some(ms) = lp.next(at) else { return false };
        let Some(seq) = lp.next(ms) else { return false };
        let (LpVal::Int(dms), LpVal::Int(dseq)) = (lp.get(ms), lp.get(seq)) else { return false };
        let id = StreamId::new(master.ms.wrapping_add(dms as u64), master.seq.wrapping_add(dseq as u64));
        if id < master || prev.is_some_and(|p| id <= p) {
            return false;
        }
        prev = Some(id);
        elems += 2;
        let mut q = lp.next(seq);
        let skip = if flags & FLAG_SAMEFIELDS != 0 {
            mf
        } else {
            let Some(at) = q else { return false };
            let LpVal::Int(n) = lp.get(at) else { return false };
            if n < 0 {
                return false;
            }
            q = lp.next(at);
            elems += 1;
            let Some(both) = n.checked_mul(2) else { return false };
            both
        };
        for _ in 0..skip {
            let Some(at) = q else { return false };
            q = lp.next(at);
        }
        elems += skip;
        let Some(cnt) = q else { return false };
        if lp.get(cnt) != LpVal::Int(elems) {
            return false;
        }
        if flags & FLAG_DELETED != 0 {
            seen_dead += 1;
        } else {
            seen_live += 1;
        }
        p = lp.next(cnt);
    }
    seen_live == live && seen_dead == dead
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

/// Reads a stream ID argument (streamGenericParseIDOrReply): `ms-seq`, `ms` (the sequence is
/// `missing_seq`), `-`/`+` unless `strict`, and `ms-*` when `seq_star`. The flag says whether
/// the sequence was given (false for `ms-*`).
pub fn parse_id(b: &[u8], missing_seq: u64, strict: bool, seq_star: bool) -> Option<(StreamId, bool)> {
    if b.len() > 127 {
        return None;
    }
    match b {
        b"-" | b"+" if strict => return None,
        b"-" => return Some((StreamId::MIN, true)),
        b"+" => return Some((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match b.iter().position(|&c| c == b'-') {
        Some(dash) => (&b[..dash], Some(&b[dash + 1..])),
        None => (b, None),
    };
    let ms = parse_u64(ms)?;
    match seq {
        Some(b"*") if seq_star => Some((StreamId::new(ms, 0), false)),
        Some(s) => Some((StreamId::new(ms, parse_u64(s)?), true)),
        None => Some((StreamId::new(ms, missing_seq), true)),
    }
}

/// Redis's string2ull: a canonical integer that is not negative, else what C's strtoull takes
/// (leading spaces, a sign, leading zeros; a negative value wraps).
fn parse_u64(s: &[u8]) -> Option<u64> {
    if let Some(v) = super::value::canonical_int(s) {
        return u64::try_from(v).ok();
    }
    let mut i = s.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn id_forms() {
        assert_eq!(parse_id(b"5", 0, true, false), Some((StreamId::new(5, 0), true)));
        assert_eq!(parse_id(b"5", u64::MAX, false, false), Some((StreamId::new(5, u64::MAX), true)));
        assert_eq!(parse_id(b"5-3", 0, true, false), Some((StreamId::new(5, 3), true)));
        assert_eq!(parse_id(b"5-*", 0, true, true), Some((StreamId::new(5, 0), false)));
        assert_eq!(parse_id(b"5-*", 0, true, false), None);
        assert_eq!(parse_id(b"-", 0, true, false), None);
        assert_eq!(parse_id(b"+", 0, false, false), Some((StreamId::MAX, true)));
        assert_eq!(parse_id(b"-1", 0, false, false), None);
        assert_eq!(parse_id(b"1--1", 0, false, false), None);
        assert_eq!(parse_id(b"01-02", 0, false, false), Some((StreamId::new(1, 2), true)));
        assert_eq!(parse_id(b"18446744073709551616", 0, false, false), None);
        assert_eq!(parse_id(b"abc", 0, false, false), None);
    }
}
