//! Hash values: a small linear list (Redis's listpack) that turns into a hash-ordered map once
//! it passes 512 fields or a field or value longer than 64 bytes, as Redis 7.0's defaults do
//! (`hash-max-listpack-entries`, `hash-max-listpack-value`).

use super::hashed::HashedMap;
// Fields and values inline up to 22 bytes, like keys: a short one costs no allocation.
use super::keybuf::KeyBuf as Elem;

/// A hash value.
#[derive(Debug, Clone, PartialEq)]
pub enum HashVal {
    Pack(Vec<(Elem, Elem)>),
    Table(HashedMap<Elem>),
}

impl Default for HashVal {
    fn default() -> Self {
        HashVal::Pack(Vec::new())
    }
}

impl HashVal {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashVal::Pack(v) => v.len(),
            HashVal::Table(m) => m.len(),
        }
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashVal::Pack(_) => "listpack",
            HashVal::Table(_) => "hashtable",
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashVal::Pack(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, v)| &**v),
            HashVal::Table(m) => m.get(field).map(|v| &**v),
        }
    }

    /// Sets `field`; true when it is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let HashVal::Pack(v) = self {
            if let Some(slot) = v.iter_mut().find(|(f, _)| &**f == field) {
                slot.1 = value.into();
                self.maybe_convert(field.len().max(value.len()));
                return false;
            }
            v.push((field.into(), value.into()));
            self.maybe_convert(field.len().max(value.len()));
            return true;
        }
        match self {
            HashVal::Table(m) => m.insert(field, value.into()).is_none(),
            HashVal::Pack(_) => unreachable!("handled above"),
        }
    }

    fn maybe_convert(&mut self, longest: usize) {
        if let HashVal::Pack(v) = self {
            if v.len() > super::limits::hash_entries() || longest > super::limits::hash_value() {
                let mut m = HashedMap::default();
                for (f, val) in v.drain(..) {
                    m.insert(&f, val);
                }
                *self = HashVal::Table(m);
            }
        }
    }

    /// Removes `field`; true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashVal::Pack(v) => match v.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            HashVal::Table(m) => m.remove(field).is_some(),
        }
    }

    /// Fields and values, in storage order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            HashVal::Pack(v) => Box::new(v.iter().map(|(f, v)| (&**f, &**v))),
            HashVal::Table(m) => Box::new(m.iter().map(|(f, v)| (f, &**v))),
        }
    }

    /// The field at a random position.
    pub fn random(&self, r: u64) -> Option<(&[u8], &[u8])> {
        match self {
            HashVal::Pack(v) if !v.is_empty() => v.get(r as usize % v.len()).map(|(f, v)| (&**f, &**v)),
            HashVal::Pack(_) => None,
            HashVal::Table(m) => m.random(r).map(|(f, v)| (f, &**v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_past_thresholds() {
        let mut h = HashVal::default();
        assert!(h.insert(b"f", b"v"));
        assert!(!h.insert(b"f", b"w"));
        assert_eq!(h.get(b"f"), Some(&b"w"[..]));
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"long", &[b'x'; 65]);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f"), Some(&b"w"[..]));
        assert!(h.remove(b"f"));
        assert_eq!(h.len(), 1);
        let mut h = HashVal::default();
        for i in 0..513 {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 513);
    }
}
