//! A map ordered by the hash of its keys, for large hashes, sets and sorted-set dictionaries.
//! Lookups are O(log n) without allocating, and the order gives the collection SCANs Redis's
//! guarantee: the cursor is a position in hash space, so an element present for the whole
//! iteration is returned whatever is inserted or removed meanwhile.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// Member bytes.
pub type Elem = Box<[u8]>;

fn hasher() -> &'static foldhash::fast::FixedState {
    static H: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    // Seeded once per process, so hash order (and thus cursors) cannot be predicted from outside.
    H.get_or_init(|| foldhash::fast::FixedState::with_seed(crate::keyspace::evict::rand()))
}

/// The position of `e` in hash space.
pub fn elem_hash(e: &[u8]) -> u64 {
    hasher().hash_one(e)
}

/// Map from member to `V`, ordered by member hash.
#[derive(Debug, Clone, PartialEq)]
pub struct HashedMap<V> {
    map: BTreeMap<(u64, Elem), V>,
}

impl<V> Default for HashedMap<V> {
    fn default() -> Self {
        HashedMap { map: BTreeMap::new() }
    }
}

impl<V> HashedMap<V> {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn find(&self, e: &[u8]) -> Option<(&(u64, Elem), &V)> {
        let h = elem_hash(e);
        self.map.range((h, Elem::default())..).take_while(|((hh, _), _)| *hh == h).find(|((_, k), _)| &**k == e)
    }

    /// The value of member `e`.
    pub fn get(&self, e: &[u8]) -> Option<&V> {
        self.find(e).map(|(_, v)| v)
    }

    /// Inserts or replaces; returns the previous value. One tree search (the key is built up
    /// front, which costs less than searching twice).
    pub fn insert(&mut self, e: &[u8], v: V) -> Option<V> {
        match self.map.entry((elem_hash(e), e.into())) {
            std::collections::btree_map::Entry::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), v)),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(v);
                None
            }
        }
    }

    /// Removes member `e`, returning its value.
    pub fn remove(&mut self, e: &[u8]) -> Option<V> {
        let key = self.find(e).map(|(k, _)| k.clone())?;
        self.map.remove(&key)
    }

    /// Members and values in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.map.iter().map(|((_, k), v)| (&**k, v))
    }

    /// Members with hash >= `cursor`, at least `count` of them (whole hash groups); returns the
    /// next cursor, 0 when the end was reached.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &V)) -> u64 {
        let mut last = None;
        for (seen, ((h, k), v)) in self.map.range((cursor, Elem::default())..).enumerate() {
            if seen >= count && last != Some(*h) {
                return *h;
            }
            f(k, v);
            last = Some(*h);
        }
        0
    }

    /// A member picked at a random point of hash space.
    pub fn random(&self, r: u64) -> Option<(&[u8], &V)> {
        self.map.range((r, Elem::default())..).next().or_else(|| self.map.iter().next()).map(|((_, k), v)| (&**k, v))
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
        assert!(m.random(12345).is_some());
    }
}
