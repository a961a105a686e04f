//! Key bytes stored inline in the entry when short (most keys are), so a lookup touches one
//! allocation instead of two and short keys cost no allocation of their own. The same type holds
//! list elements and sorted-set members.

use std::ops::Deref;

/// Longest key kept inline.
const INLINE: usize = 22;

/// The bytes of a key: inline up to 22 bytes, boxed beyond.
#[derive(Clone)]
pub enum KeyBuf {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl KeyBuf {
    /// Copies `key` into the smallest representation.
    pub fn new(key: &[u8]) -> KeyBuf {
        if key.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..key.len()].copy_from_slice(key);
            KeyBuf::Inline { len: key.len() as u8, data }
        } else {
            KeyBuf::Heap(key.into())
        }
    }
}

impl Default for KeyBuf {
    fn default() -> Self {
        KeyBuf::new(b"")
    }
}

impl From<&[u8]> for KeyBuf {
    fn from(b: &[u8]) -> Self {
        KeyBuf::new(b)
    }
}

impl PartialEq for KeyBuf {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Deref for KeyBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            KeyBuf::Inline { len, data } => &data[..*len as usize],
            KeyBuf::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for KeyBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap() {
        assert_eq!(std::mem::size_of::<KeyBuf>(), 24);
        assert!(matches!(KeyBuf::new(b"short"), KeyBuf::Inline { .. }));
        assert_eq!(&*KeyBuf::new(b"short"), b"short");
        let long = [b'x'; 40];
        assert!(matches!(KeyBuf::new(&long), KeyBuf::Heap(_)));
        assert_eq!(&*KeyBuf::new(&long), &long[..]);
        assert_eq!(&*KeyBuf::new(b""), b"");
    }
}
