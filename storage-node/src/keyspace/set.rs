//! Set values: a sorted integer array (Redis's intset) while every member is an integer and
//! there are at most 512 of them (`set-max-intset-entries`), else a hash-ordered map.

use super::hashed::HashedMap;
use super::value::canonical_int;

/// A set value.
#[derive(Debug, Clone, PartialEq)]
pub enum SetVal {
    Ints(Vec<i64>),
    Table(HashedMap<()>),
}

impl Default for SetVal {
    fn default() -> Self {
        SetVal::Ints(Vec::new())
    }
}

impl SetVal {
    /// A set holding `members`.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>) -> SetVal {
        let mut s = SetVal::default();
        for m in members {
            s.insert(m);
        }
        s
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            SetVal::Ints(v) => v.len(),
            SetVal::Table(m) => m.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        match self {
            SetVal::Ints(v) => v.is_empty(),
            SetVal::Table(t) => t.is_empty(),
        }
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetVal::Ints(_) => "intset",
            SetVal::Table(_) => "hashtable",
        }
    }

    /// Membership test.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetVal::Ints(v) => canonical_int(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            SetVal::Table(t) => t.get(m).is_some(),
        }
    }

    /// Adds a member; true when new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if let SetVal::Ints(v) = self {
            if let Some(n) = canonical_int(m) {
                match v.binary_search(&n) {
                    Ok(_) => return false,
                    Err(i) if v.len() < super::limits::set_intset_entries() => {
                        v.insert(i, n);
                        return true;
                    }
                    Err(_) => {}
                }
            }
            let mut t = HashedMap::default();
            for n in v.iter() {
                t.insert(n.to_string().as_bytes(), ());
            }
            *self = SetVal::Table(t);
        }
        match self {
            SetVal::Table(t) => t.insert(m, ()).is_none(),
            SetVal::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetVal::Ints(v) => match canonical_int(m).map(|n| v.binary_search(&n)) {
                Some(Ok(i)) => {
                    v.remove(i);
                    true
                }
                _ => false,
            },
            SetVal::Table(t) => t.remove(m).is_some(),
        }
    }

    /// Members as owned bytes.
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            SetVal::Ints(v) => v.iter().map(|n| n.to_string().into_bytes()).collect(),
            SetVal::Table(t) => t.iter().map(|(k, _)| k.to_vec()).collect(),
        }
    }

    /// A member at a random position.
    pub fn random(&self, r: u64) -> Option<Vec<u8>> {
        match self {
            SetVal::Ints(v) if !v.is_empty() => Some(v[r as usize % v.len()].to_string().into_bytes()),
            SetVal::Ints(_) => None,
            SetVal::Table(t) => t.random(r).map(|(k, _)| k.to_vec()),
        }
    }

    /// SSCAN: intsets come back whole (cursor 0), as Redis does for compact encodings.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match self {
            SetVal::Ints(v) => {
                for n in v {
                    f(n.to_string().as_bytes());
                }
                0
            }
            SetVal::Table(t) => t.scan(cursor, count, |k, _| f(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_then_table() {
        let mut s = SetVal::default();
        assert!(s.insert(b"3"));
        assert!(s.insert(b"1"));
        assert!(!s.insert(b"3"));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.members(), vec![b"1".to_vec(), b"3".to_vec()]);
        assert!(s.insert(b"x"));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"x") && !s.contains(b"2"));
        assert!(s.remove(b"1"));
        assert_eq!(s.len(), 2);
        assert!(!s.contains(b"01"), "non-canonical integers are different members");
    }
}
