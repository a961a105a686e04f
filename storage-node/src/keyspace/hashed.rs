//! A map for large hashes and sets: a hash index finds a member in O(1), and a set ordered by
//! member hash gives the collection SCANs Redis's guarantee: the cursor is a position in hash
//! space, so an element present for the whole iteration is returned whatever is inserted or
//! removed meanwhile.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::HashTable;

use super::keybuf::KeyBuf;

fn hasher() -> &'static foldhash::fast::FixedState {
    static H: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    // Seeded once per process, so hash order (and thus cursors) cannot be predicted from outside.
    H.get_or_init(|| foldhash::fast::FixedState::with_seed(crate::keyspace::evict::rand()))
}

/// The position of `e` in hash space.
pub fn elem_hash(e: &[u8]) -> u64 {
    hasher().hash_one(e)
}

/// Map from member to `V`, iterated and scanned in member-hash order.
#[derive(Debug, Clone)]
pub struct HashedMap<V> {
    /// Members (inline up to 22 bytes) and values; `None` marks a free place.
    entries: Vec<Option<(KeyBuf, V)>>,
    free: Vec<u32>,
    /// Member -> place in `entries`.
    index: HashTable<u32>,
    /// (member hash, place), for iteration, SCAN and random picks.
    order: BTreeSet<(u64, u32)>,
}

impl<V> Default for HashedMap<V> {
    fn default() -> Self {
        HashedMap { entries: Vec::new(), free: Vec::new(), index: HashTable::new(), order: BTreeSet::new() }
    }
}

impl<V: PartialEq> PartialEq for HashedMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V> HashedMap<V> {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn entry(&self, i: u32) -> &(KeyBuf, V) {
        self.entries[i as usize].as_ref().expect("indexed places are occupied")
    }

    fn place(&self, e: &[u8], hash: u64) -> Option<u32> {
        self.index.find(hash, |&i| &*self.entry(i).0 == e).copied()
    }

    /// The value of member `e`.
    pub fn get(&self, e: &[u8]) -> Option<&V> {
        self.place(e, elem_hash(e)).map(|i| &self.entry(i).1)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, e: &[u8], v: V) -> Option<V> {
        let hash = elem_hash(e);
        if let Some(i) = self.place(e, hash) {
            let slot = self.entries[i as usize].as_mut().expect("indexed places are occupied");
            return Some(std::mem::replace(&mut slot.1, v));
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = Some((KeyBuf::new(e), v));
                i
            }
            None => {
                self.entries.push(Some((KeyBuf::new(e), v)));
                (self.entries.len() - 1) as u32
            }
        };
        let entries = &self.entries;
        self.index.insert_unique(hash, i, |&j| elem_hash(&entries[j as usize].as_ref().expect("occupied").0));
        self.order.insert((hash, i));
        None
    }

    /// Removes member `e`, returning its value.
    pub fn remove(&mut self, e: &[u8]) -> Option<V> {
        let hash = elem_hash(e);
        let entries = &self.entries;
        let found = self.index.find_entry(hash, |&i| entries[i as usize].as_ref().is_some_and(|(k, _)| &**k == e));
        let (i, _) = found.ok()?.remove();
        self.order.remove(&(hash, i));
        self.free.push(i);
        let (_, v) = self.entries[i as usize].take().expect("indexed places are occupied");
        // Give the memory back once most places are free.
        if self.free.len() > 64 && self.free.len() * 2 > self.entries.len() {
            self.compact();
        }
        Some(v)
    }

    /// Moves every member to the front of `entries` and rebuilds the index and order.
    fn compact(&mut self) {
        let live: Vec<(KeyBuf, V)> = self.entries.drain(..).flatten().collect();
        self.free.clear();
        self.index.clear();
        self.order.clear();
        for (i, (k, v)) in live.into_iter().enumerate() {
            let hash = elem_hash(&k);
            self.entries.push(Some((k, v)));
            let entries = &self.entries;
            self.index
                .insert_unique(hash, i as u32, |&j| elem_hash(&entries[j as usize].as_ref().expect("occupied").0));
            self.order.insert((hash, i as u32));
        }
        self.entries.shrink_to_fit();
        self.index.shrink_to_fit(|&j| elem_hash(&self.entries[j as usize].as_ref().expect("occupied").0));
    }

    /// Members and values in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.order.iter().map(|&(_, i)| {
            let (k, v) = self.entry(i);
            (&**k, v)
        })
    }

    /// Members with hash >= `cursor`, at least `count` of them (whole hash groups); returns the
    /// next cursor, 0 when the end was reached.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &V)) -> u64 {
        let mut last = None;
        for (seen, &(h, i)) in self.order.range((cursor, 0)..).enumerate() {
            if seen >= count && last != Some(h) {
                return h;
            }
            let (k, v) = self.entry(i);
            f(k, v);
            last = Some(h);
        }
        0
    }

    /// A member picked at a random point of hash space.
    pub fn random(&self, r: u64) -> Option<(&[u8], &V)> {
        let &(_, i) = self.order.range((r, 0)..).next().or_else(|| self.order.iter().next())?;
        let (k, v) = self.entry(i);
        Some((&**k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_ops_and_scan_guarantee() {
        let mut m = HashedMap::default();
        for i in 0..1000 {
            assert!(m.insert(format!("m{i}").as_bytes(), i).is_none());
        }
        assert_eq!(m.insert(b"m5", 55), Some(5));
        assert_eq!(m.get(b"m5"), Some(&55));
        assert_eq!(m.remove(b"m5"), Some(55));
        assert_eq!(m.get(b"m5"), None);
        // Scan while inserting and removing other members: every stable member comes back.
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut extra = 0;
        loop {
            cursor = m.scan(cursor, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            m.insert(format!("new{extra}").as_bytes(), 0);
            m.remove(format!("new{}", extra / 2).as_bytes());
            extra += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in (0..1000).filter(|i| *i != 5) {
            assert!(seen.contains(format!("m{i}").as_bytes()), "m{i} missed");
        }
        // Removing most members compacts the places; everything left is still found.
        for i in 0..900 {
            m.remove(format!("m{i}").as_bytes());
        }
        for i in 900..1000 {
            assert_eq!(m.get(format!("m{i}").as_bytes()), Some(&i));
        }
        assert_eq!(m.iter().count(), m.len());
        assert!(m.random(12345).is_some());
    }
}
